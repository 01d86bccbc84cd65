# How an image is made from its recipe folder (rig/recipes/<name>), sourced by images.sh. This file is
# part of every image's cache key: editing it rebuilds them all.

find_go() {
  if command -v go >/dev/null 2>&1; then command -v go; return; fi
  if [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go; return; fi
  die "no Go toolchain (go >= 1.23 on PATH or in /usr/local/go) to build the Go images"
}

build_base() { # rig/base:<suite>
  local img=$1 suite=${1#rig/base:} root=$WORK/rootfs packages
  packages=$(<"$(recipe_dir "$img")/packages")
  rm -rf "$root"
  mkdir -p "$RIG_CACHE/debs"
  log "base: debootstrap $suite (minbase + $packages)"
  if ! timeout 1200 debootstrap --variant=minbase --include="$packages" \
      --cache-dir="$RIG_CACHE/debs" "$suite" "$root" "$RIG_DEBIAN_MIRROR" \
      >"$WORK/debootstrap.log" 2>&1; then
    tail -n 30 "$WORK/debootstrap.log" >&2
    die "debootstrap failed (log: $WORK/debootstrap.log)"
  fi
  # Package caches only make the image (and every tarball built on it) bigger.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/*.log
  tar -C "$root" --numeric-owner -c . | de import - "$img" >/dev/null
  rm -rf "$root"
  # shellcheck disable=SC2016 # expanded by the image's sh
  de run --rm --network none "$img" sh -c '
      for tool in "nginx -v" "keepalived --version" "haproxy -v" "curl --version" "ip -V"; do
        set -- $tool
        if command -v "$1" >/dev/null; then $tool 2>&1 | head -n 1; fi
      done' 2>&1 | sed "s/^/[images] $suite: /"
}

# The recipe's Dockerfile with the binary as `bin` beside it: COPY only, so the build needs no network.
docker_build_copy() {
  local tag=$1 bin=$2 dir=$3 source=$4 ctx
  ctx=$(mktemp -d "$WORK/ctx.XXXXXX")
  cp "$bin" "$ctx/bin"
  cp "$dir/Dockerfile" "$ctx/Dockerfile"
  # The CLI's "legacy builder is deprecated" banner goes to stderr: keep it
  # out of the log unless the build fails.
  if ! de build -q --label "rig.source=$source" -t "$tag" "$ctx" >/dev/null 2>"$ctx.err"; then
    cat "$ctx.err" >&2
    die "docker build of $tag failed"
  fi
  rm -f "$ctx.err"
  rm -rf "$ctx"
}

go_env() {
  env GOPATH="$GO_DIR" GOMODCACHE="$GO_DIR/mod" GOCACHE="$GO_DIR/cache" \
    CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false "$@"
}

go_install() { # module@version bindir
  GOBIN=$2 go_env timeout 900 "$(find_go)" install -trimpath -ldflags='-s -w' "$1"
}

go_build_standin() { # recipe-dir out
  local src=$WORK/src-standin
  rm -rf "$src"
  mkdir -p "$src"
  printf 'module rig.local/standin\n\ngo 1.21\n' >"$src/go.mod"
  cp "$1/main.go" "$src/main.go"
  (cd "$src" && go_env timeout 900 "$(find_go)" build -trimpath -ldflags='-s -w' -o "$2" .)
  rm -rf "$src"
}

go_build_main() { # recipe-dir out
  local src=$WORK/src-main
  rm -rf "$src"
  cp -r "$1" "$src"
  (cd "$src" && go_env timeout 1500 "$(find_go)" build -mod=mod -trimpath -ldflags "$(<"$1/ldflags")" -o "$2" "$(<"$1/package")")
  rm -rf "$src"
}

# Compiles one Go image's binary into $WORK/bin/<name> and writes the source
# that won into $WORK/bin/<name>.source. Runs in the background, beside
# debootstrap: one is CPU-bound, the other mostly waits on the network.
build_go_binary() {
  local name=$1 t0 m dir bindir=$WORK/bin
  t0=$(now)
  dir=$RECIPES/$name
  mkdir -p "$bindir"
  rm -f "$bindir/$name" "$bindir/$name.source"
  if [[ -f $dir/go.mod ]]; then
    go_build_main "$dir" "$bindir/$name"
    grep -m1 -oE "$(<"$dir/package") v[^ ]+" "$dir/go.mod" | tr ' ' '@' >"$bindir/$name.source"
  elif [[ -f $dir/module ]]; then
    go_install "$(<"$dir/module")" "$bindir"
    echo "$(<"$dir/module")" >"$bindir/$name.source"
  else
    while read -r m; do
      if go_install "$m" "$bindir" 2>"$bindir/$name.err"; then
        echo "$m" >"$bindir/$name.source"
        break
      fi
      log "go: $m refused: $(grep -m1 -E 'Forbidden|not available|error|invalid' "$bindir/$name.err" || tail -n 1 "$bindir/$name.err")"
    done <"$dir/candidates"
    if [[ ! -s $bindir/$name.source ]]; then
      go_build_standin "$dir" "$bindir/$name"
      echo "rig-standin:$name" >"$bindir/$name.source"
    fi
    rm -f "$bindir/$name.err"
  fi
  log "go: $name from $(<"$bindir/$name.source") compiled in $(since "$t0")s"
}

# The image from its recipe's Dockerfile, then a check that the binary in it runs and is what it claims.
build_go_image() {
  local img=$1 name src
  name=${img#rig/}
  name=${name%%:*}
  [[ -x $WORK/bin/$name ]] || die "go binary for $img missing (see $WORK/go.log)"
  src=$(<"$WORK/bin/$name.source")
  docker_build_copy "$img" "$WORK/bin/$name" "$RECIPES/$name" "$src"
  local out
  out=$(DOCKER_HOST="unix://$ENGINE_SOCK" bash "$RECIPES/$name/check" "$img" 2>&1) || die "$img failed its recipe's check: $out"
  log "$name: check: $(head -n 1 <<<"$out")"
  log "$name: built from $src"
  rm -f "$WORK/bin/$name" "$WORK/bin/$name.source"
}
