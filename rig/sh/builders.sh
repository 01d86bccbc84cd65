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

# The recipe's Dockerfile with the files it copies beside it (`bin/<binary>`, `files/...`, `root/...`):
# COPY only, so the build needs no network.
docker_build_copy() {
  local tag=$1 from=$2 dir=$3 source=$4 ctx
  ctx=$(mktemp -d "$WORK/ctx.XXXXXX")
  cp -r "$from"/. "$ctx/"
  cp "$dir/Dockerfile" "$ctx/Dockerfile"
  # The CLI's "legacy builder is deprecated" banner goes to stderr: keep it
  # out of the log unless the build fails.
  if ! de build -q --label "rig.source=$source" -t "$tag" "$ctx" >/dev/null 2>"$ctx.err"; then
    cat "$ctx.err" >&2
    die "docker build of $tag failed"
  fi
  rm -f "$ctx.err"
  chmod -R u+w "$ctx"
  rm -rf "$ctx"
}

# The built image must pass its recipe's check: it runs and is what its tag claims.
check_image() {
  local img=$1 dir=$2 out
  out=$(DOCKER_HOST="unix://$ENGINE_SOCK" PATH="$(dirname "$(find_go)"):$PATH" bash "$dir/check" "$img" 2>&1) ||
    die "$img failed its recipe's check: $out"
  log "${img#rig/}: check: $(head -n 1 <<<"$out")"
}

go_env() {
  env GOPATH="$GO_DIR" GOMODCACHE="$GO_DIR/mod" GOCACHE="$GO_DIR/cache" \
    CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false "$@"
}

# A recipe file's content, or the default when the recipe has none.
recipe_file_or() { if [[ -f $1 ]]; then cat "$1"; else echo "$2"; fi; }

go_install() { # recipe-dir module@version bindir
  GOBIN=$3 go_env timeout 900 "$(find_go)" install -trimpath -ldflags "$(recipe_file_or "$1/ldflags" '-s -w')" "$2"
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

# A main module of the recipe's own (go.mod, go.sum): `package` built with `ldflags` and `tags`; the
# binary is named after the package, as `go build` names it.
go_build_main() { # recipe-dir bindir
  local src=$WORK/src-main
  rm -rf "$src"
  cp -r "$1" "$src"
  (cd "$src" && go_env timeout 1500 "$(find_go)" build -mod=mod -trimpath -tags "$(recipe_file_or "$1/tags" '')" \
    -ldflags "$(<"$1/ldflags")" -o "$2/" "$(<"$1/package")")
  rm -rf "$src"
}

# Files the image takes from a module's source (`module-files`: "module@version path" per line), e.g.
# Pebble's test configuration and certificates, copied to files/<path>.
copy_module_files() { # recipe-dir out
  local mod path mdir
  [[ -f $1/module-files ]] || return 0
  while read -r mod path; do
    mdir=$(go_env timeout 300 "$(find_go)" mod download -json "$mod" | jq -r .Dir)
    mkdir -p "$2/files/$(dirname "$path")"
    cp -r "$mdir/$path" "$2/files/$path"
  done <"$1/module-files"
}

# Compiles one Go image's binaries into $WORK/go/<name>/bin/ (plus files/ from module-files) and writes
# the source that won into $WORK/go/<name>.source; a `candidates` recipe that the proxy refuses
# entirely writes $WORK/go/<name>.refused instead. Runs in the background, beside debootstrap: one is
# CPU-bound, the other mostly waits on the network.
build_go_binary() {
  local name=$1 t0 m dir out=$WORK/go/$1
  t0=$(now)
  dir=$RECIPES/$name
  rm -rf "$out" "$out.source" "$out.refused" "$out.err"
  mkdir -p "$out/bin"
  if [[ -f $dir/go.mod ]]; then
    go_build_main "$dir" "$out/bin"
    grep -m1 -oE "$(<"$dir/package") v[^ ]+" "$dir/go.mod" | tr ' ' '@' >"$out.source"
  elif [[ -f $dir/module ]]; then
    while read -r m; do go_install "$dir" "$m" "$out/bin"; done <"$dir/module"
    paste -sd' ' "$dir/module" >"$out.source"
  elif [[ -f $dir/candidates ]]; then
    while read -r m; do
      if go_install "$dir" "$m" "$out/bin" 2>"$out.err"; then
        echo "$m" >"$out.source"
        break
      fi
      echo "$m: $(grep -m1 -E 'Forbidden|not available|error|invalid' "$out.err" || tail -n 1 "$out.err")" >>"$out.refused"
    done <"$dir/candidates"
    rm -f "$out.err"
    if [[ -s $out.source ]]; then
      rm -f "$out.refused"
    else
      log "go: $name: the proxy serves none of its candidates: $(paste -sd';' "$out.refused")"
      return 0
    fi
  else
    go_build_standin "$dir" "$out/bin/${name%-stand-in}"
    echo "rig-standin:${name%-stand-in}" >"$out.source"
  fi
  copy_module_files "$dir" "$out"
  log "go: $name from $(<"$out.source") compiled in $(since "$t0")s"
}

# The image from its recipe's Dockerfile and the compiled binaries, then its check.
build_go_image() {
  local img=$1 name src
  name=${img#rig/}
  name=${name%%:*}
  [[ -s $WORK/go/$name.source ]] || die "go binaries for $img missing (see $WORK/go.log)"
  src=$(<"$WORK/go/$name.source")
  docker_build_copy "$img" "$WORK/go/$name" "$RECIPES/$name" "$src"
  check_image "$img" "$RECIPES/$name"
  log "$name: built from $src"
  rm -rf "$WORK/go/$name" "$WORK/go/$name.source"
}

# An image of Debian packages' files on its parent (`deb`: "package=version" per line, from the
# machine's own suite): `apt-get download`, `dpkg -x` into root/, and the recipe's Dockerfile copies
# what it needs. No maintainer script runs and no daemon starts.
build_deb_image() {
  local img=$1 dir from spec
  dir=$(recipe_dir "$img")
  from=$(mktemp -d "$WORK/deb.XXXXXX")
  mkdir -p "$from/debs" "$from/root"
  if ! (cd "$from/debs" && xargs -a "$dir/deb" timeout 300 apt-get download -qq) 2>"$from/err"; then
    timeout 600 apt-get update -qq
    (cd "$from/debs" && xargs -a "$dir/deb" timeout 300 apt-get download -qq) 2>"$from/err" ||
      { cat "$from/err" >&2; die "apt-get download $(paste -sd' ' "$dir/deb") failed"; }
  fi
  for spec in "$from"/debs/*.deb; do dpkg -x "$spec" "$from/root"; done
  rm -rf "$from/debs" "$from/err"
  docker_build_copy "$img" "$from" "$dir" "debian:$(paste -sd' ' "$dir/deb")"
  rm -rf "$from"
  check_image "$img" "$dir"
}
