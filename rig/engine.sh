#!/usr/bin/env bash
# The rig hosts' Docker Engine: Debian sid's docker.io (28.x) with its containerd, runc, tini and
# iptables, the engine users run today, where the machine itself has bookworm's 20.10. sid's binaries
# need a newer glibc than the machine's, so they run as copies whose ELF interpreter and library path
# point into a sid root filesystem (patchelf); everything they start is one of those copies too.
# Cached under $RIG_CACHE keyed by this file; prints the directory holding dockerd and friends.
#
#   ENGINE_BIN=$(bash rig/engine.sh)   # then: PATH=$ENGINE_BIN/nft:$ENGINE_BIN:... XTABLES_LIBDIR=$(<$ENGINE_BIN/xtables-libdir)
set -euo pipefail

RIG_CACHE=${RIG_CACHE:-/var/cache/swarm-platform-rig}
RIG_DEBIAN_MIRROR=${RIG_DEBIAN_MIRROR:-http://deb.debian.org/debian}
key=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)
out=$RIG_CACHE/engine-sid-$key
root=$out/rootfs bin=$out/bin
log() { printf '[engine] %s\n' "$*" >&2; }

if [[ ! -f $out/.done ]]; then
  t0=$SECONDS
  for tool in debootstrap patchelf; do
    command -v "$tool" >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null
  done
  rm -rf "$RIG_CACHE"/engine-sid-*
  mkdir -p "$out"
  log "debootstrap sid with docker.io into $root"
  timeout 1200 debootstrap --variant=minbase --include=docker.io,iptables,ca-certificates sid "$root" "$RIG_DEBIAN_MIRROR" >"$out/debootstrap.log" 2>&1 ||
    { tail -n 20 "$out/debootstrap.log" >&2; exit 1; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  mkdir -p "$bin"
  for f in usr/sbin/dockerd usr/sbin/docker-proxy usr/bin/containerd usr/bin/containerd-shim-runc-v2 \
           usr/sbin/runc usr/sbin/xtables-nft-multi; do
    cp "$root/$f" "$bin/"
    patchelf --set-interpreter "$root/usr/lib64/ld-linux-x86-64.so.2" --set-rpath "$root/usr/lib/x86_64-linux-gnu" "$bin/${f##*/}"
  done
  ln -s "$root/usr/bin/tini-static" "$bin/docker-init"
  # The nft backend, sid's default and the one the machine's own iptables uses, so both read the same rules.
  mkdir "$bin/nft"
  for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do ln -s ../xtables-nft-multi "$bin/nft/$t"; done
  echo "$root/usr/lib/x86_64-linux-gnu/xtables" >"$bin/xtables-libdir"
  touch "$out/.done"
  log "built in $((SECONDS - t0)) s"
fi
log "$("$bin/dockerd" --version)"
echo "$bin"
