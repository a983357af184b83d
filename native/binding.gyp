# seaway's native addon (the ICMP probe, glibc's malloc_trim, and posix_spawn for the kernel tools): plain C against Node-API (node_api.h) and libuv (uv.h), both from the
# headers of the Node the project pins (scripts/build-native.sh passes --nodedir). No
# node-addon-api, no prebuilds, nothing downloaded.
{
  "targets": [
    {
      "target_name": "seaway_icmp",
      "sources": ["icmp_probe.c", "malloc_trim.c", "posix_spawn.c"],
      # Node-API 8: BigInt (6), type tags (8), env cleanup hooks (3). Node 24 offers 10.
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wshadow", "-Wformat=2"]
    }
  ]
}
