# seaway's image: the bundled agent (npm run bundle: build/app) on a base with Node and the tools it
# runs (image/base.Dockerfile, or the same base made by scripts/image.sh with debootstrap). No RUN
# step, so buildah builds it here without a container runtime: `npm run image`.
ARG BASE
FROM ${BASE}

# Set by scripts/image.sh from package.json and git.
ARG VERSION
ARG REVISION=unknown
LABEL org.opencontainers.image.title="seaway" \
      org.opencontainers.image.description="Per-node agent for multi-cluster Kubernetes networking, compatible with Submariner's API" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

# Two malloc arenas instead of one per thread: measured with seaway run from this image against
# 1,000 Nodes patched 10 times a second (5 runs each), median VmRSS 130 MiB instead of 138; no
# difference at idle.
ENV MALLOC_ARENA_MAX=2
# A fixed mmap threshold (glibc's default, 128 KiB): glibc otherwise raises it to the size of each
# large block freed (up to 32 MiB), and the trim threshold with it, so later large blocks come
# from the main heap and stay resident in its holes once freed. Under Endpoint churn (npm run bench
# -- churn --minutes 12 --rate 3, one run each) the agent's memory outside V8's heap was 15-17 MiB
# without it (its main heap 12.1 MiB, of which malloc_trim returned 4.8 when called from gdb) and
# 8-15 MiB with it.
ENV GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072
WORKDIR /app
COPY build/app /app

# V8 flags in argv, not NODE_OPTIONS: Node refuses --optimize-for-size there. A 1 MiB semi-space and
# --optimize-for-size keep the young generation and code small: 97 MiB RSS instead of 124 for the
# bundle under a 50-Node workload (research/deploy-and-footprint.md section 5); seaway run from this
# image at idle, 85 MiB instead of 92. --v8-pool-size=1: one V8 platform worker thread instead of Node's default four.
# --max-opt=2: Maglev is the highest tier, TurboFan never runs: its code in the node binary is never paged in
# (npm run bench -- footprint, 5,000 Nodes and 10k routes: file-backed resident pages 48.7 MiB instead of
# 53.8, CPU 8.8% of a core instead of 9.4; one run each).
# No --max-old-space-size: a cluster's Node objects (status.images, conditions: tens of KB each)
# live in the old space, so a cap sized for the lab would crash the agent on a large real cluster
# with out-of-memory; the pod's memory limit bounds it instead, and the kubelet reports it.
ENTRYPOINT ["/usr/local/bin/node", "--max-semi-space-size=1", "--optimize-for-size", "--v8-pool-size=1", "--max-opt=2", "/app/seaway.mjs"]
