#!/usr/bin/env bash
# The rig hosts' Docker Engine: Debian sid's docker.io (28.x) with its containerd, runc, tini and
# iptables, the engine users run today, where the machine itself has bookworm's 20.10. They run as
# patchelf'd copies (sh/sid.sh), and everything they start is one of those copies too.
# Cached under $RIG_CACHE keyed by this file and sh/sid.sh; prints the directory holding dockerd and friends.
#
#   ENGINE_BIN=$(bash rig/engine.sh)   # then: PATH=$ENGINE_BIN/nft:$ENGINE_BIN:... XTABLES_LIBDIR=$(<$ENGINE_BIN/xtables-libdir)
set -euo pipefail

RIG_CACHE=${RIG_CACHE:-/var/cache/swarm-platform-rig}
RIG_DEBIAN_MIRROR=${RIG_DEBIAN_MIRROR:-http://deb.debian.org/debian}
RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf '[engine] %s\n' "$*" >&2; }
# shellcheck source=rig/sh/sid.sh
source "$RIG_DIR/sh/sid.sh"

build() {
  local root=$1/rootfs bin=$1/bin f t
  sid_root "$1" docker.io,iptables,ca-certificates
  mkdir -p "$bin"
  for f in usr/sbin/dockerd usr/sbin/docker-proxy usr/bin/containerd usr/bin/containerd-shim-runc-v2 \
           usr/sbin/runc usr/sbin/xtables-nft-multi; do
    sid_exec "$root" "$f" "$bin"
  done
  ln -s "$root/usr/bin/tini-static" "$bin/docker-init"
  # The nft backend, sid's default and the one the machine's own iptables uses, so both read the same rules.
  mkdir "$bin/nft"
  for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do ln -s ../xtables-nft-multi "$bin/nft/$t"; done
  echo "$root/usr/lib/x86_64-linux-gnu/xtables" >"$bin/xtables-libdir"
}
sid_cached engine build
bin=$out/bin
log "$("$bin/dockerd" --version)"
echo "$bin"
