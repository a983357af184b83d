# seaway's base image as a CI with a container runtime builds it (RUN needs one), from the repository
# root after `npm ci` (the Node binary comes from node_modules):
#   docker build -f image/base.Dockerfile -t <registry>/seaway-base:<tag> .
#   docker build --build-arg BASE=<registry>/seaway-base:<tag> --build-arg VERSION=<version> -t <registry>/seaway:<version> .
# Without a container runtime, scripts/image.sh makes the same base with debootstrap from the same
# package list (image/base-packages.txt) and the same Debian release (this FROM line: it reads the
# suite from here), then builds the same Dockerfile on it.
FROM debian:bookworm-slim

# The one package list both builds read; comments and blank lines are dropped here as
# scripts/image-spec.ts parsePackageList drops them.
COPY image/base-packages.txt /tmp/base-packages.txt
RUN set -eux; \
    export DEBIAN_FRONTEND=noninteractive; \
    apt-get update; \
    sed -e 's/#.*//' /tmp/base-packages.txt | xargs apt-get install -y --no-install-recommends; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/* /tmp/base-packages.txt /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/locale/*

# The Node binary the tests run: the pinned npm `node` package's (package.json devDependencies).
# The addons in /app are built against its headers (scripts/build-native.sh, scripts/patch-netlink.sh).
COPY node_modules/node/bin/node /usr/local/bin/node
