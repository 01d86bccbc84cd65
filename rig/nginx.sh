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
key=$(cat "${BASH_SOURCE[0]}" "$RIG_DIR/sh/sid.sh" | sha256sum | cut -c1-16)
out=$RIG_CACHE/nginx-sid-$key
log() { printf '[nginx] %s\n' "$*" >&2; }
# shellcheck source=rig/sh/sid.sh
source "$RIG_DIR/sh/sid.sh"

if [[ ! -f $out/.done ]]; then
  t0=$SECONDS
  rm -rf "$RIG_CACHE"/nginx-sid-*
  mkdir -p "$out/bin"
  sid_root "$out" nginx
  sid_exec "$out/rootfs" usr/sbin/nginx "$out/bin"
  touch "$out/.done"
  log "built in $((SECONDS - t0)) s"
fi
# Even `nginx -t` creates the temporary directories compiled into it, below this one, which the
# package would have made.
mkdir -p /var/lib/nginx
log "$("$out/bin/nginx" -v 2>&1)"
echo "$out/bin/nginx"
