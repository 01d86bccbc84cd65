# Debian sid programs on this bookworm machine, sourced by engine.sh and nginx.sh and part of their cache
# keys. sid's binaries need a newer glibc than the machine's, so they run as copies whose ELF interpreter
# and library path point into a debootstrapped sid root (patchelf); the machine's own libraries stay bookworm's.
# Needs RIG_CACHE, RIG_DEBIAN_MIRROR and a log function that writes to stderr.

# sid_cached NAME BUILD: sets `out` to $RIG_CACHE/NAME-sid-KEY, KEY a hash of the calling script and this
# file; unless `out` is complete, removes older NAME-sid-* builds and runs `BUILD $out`.
sid_cached() {
  local name=$1 build=$2 key t0
  key=$(cat "${BASH_SOURCE[1]}" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)
  out=$RIG_CACHE/$name-sid-$key
  [[ -f $out/.done ]] && return
  t0=$SECONDS
  rm -rf "$RIG_CACHE/$name"-sid-*
  mkdir -p "$out"
  "$build" "$out"
  touch "$out/.done"
  log "built in $((SECONDS - t0)) s"
}

# sid_root OUT PACKAGES: OUT/rootfs, debootstrap's minbase of sid plus PACKAGES (comma-separated).
sid_root() {
  local out=$1 packages=$2 tool
  for tool in debootstrap patchelf; do
    command -v "$tool" >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null
  done
  log "debootstrap sid with $packages into $out/rootfs"
  timeout 1200 debootstrap --variant=minbase --include="$packages" sid "$out/rootfs" "$RIG_DEBIAN_MIRROR" >"$out/debootstrap.log" 2>&1 ||
    { tail -n 20 "$out/debootstrap.log" >&2; exit 1; }
  rm -rf "$out"/rootfs/var/cache/apt/archives/*.deb "$out"/rootfs/var/lib/apt/lists/*
}

# sid_exec ROOT FILE BINDIR: a copy of ROOT/FILE in BINDIR that runs here. An RPATH, unlike a RUNPATH,
# also finds the libraries' own dependencies (libcrypto's libzstd) in sid rather than on the machine.
sid_exec() {
  local root=$1 file=$2 bin=$3
  cp "$root/$file" "$bin/"
  patchelf --set-interpreter "$root/usr/lib64/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$root/usr/lib/x86_64-linux-gnu" "$bin/${file##*/}"
}
