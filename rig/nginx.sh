#!/usr/bin/env bash
# The nginx that `npm test` checks the edge's configs with: Debian sid's (1.30), because the edge's
# upstreams re-resolve Consul's SRV records (`server ... service=... resolve`), which nginx has only
# since 1.27.3 and bookworm's 1.22 rejects. A patchelf'd copy (sh/sid.sh), cached under $RIG_CACHE
# keyed by this file and sh/sid.sh; prints the path of the nginx binary.
#
#   export NGINX_BIN=$(bash rig/nginx.sh)
set -euo pipefail

RIG_CACHE=${RIG_CACHE:-/var/cache/swarm-platform-rig}
RIG_DEBIAN_MIRROR=${RIG_DEBIAN_MIRROR:-http://deb.debian.org/debian}
RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf '[nginx] %s\n' "$*" >&2; }
# shellcheck source=rig/sh/sid.sh
source "$RIG_DIR/sh/sid.sh"

build() {
  mkdir -p "$1/bin"
  sid_root "$1" nginx
  sid_exec "$1/rootfs" usr/sbin/nginx "$1/bin"
}
sid_cached nginx build
# Even `nginx -t` creates the temporary directories compiled into it, below this one, which the
# package would have made.
mkdir -p /var/lib/nginx
log "$("$out/bin/nginx" -v 2>&1)"
echo "$out/bin/nginx"
