#!/usr/bin/env bash
# Builds the live rig's images and caches them as `docker save` tarballs outside
# the repo, keyed by a hash of each image's recipe, so that only a changed
# recipe (or a fresh machine) pays for a build.
#
#   bash rig/images.sh               build whatever the cache lacks
#   bash rig/images.sh load URI...   load the cached images into engines, e.g.
#                                    unix:///run/swarm-platform-rig/h1.sock
#   bash rig/images.sh list          print "name key tarball" per image
#
# Environment: RIG_CACHE (default /var/cache/swarm-platform-rig),
#              RIG_DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

RIG_CACHE=${RIG_CACHE:-/var/cache/swarm-platform-rig}
RIG_DEBIAN_MIRROR=${RIG_DEBIAN_MIRROR:-http://deb.debian.org/debian}
IMG_DIR=$RIG_CACHE/images
WORK=$RIG_CACHE/work
GO_DIR=$RIG_CACHE/go
# The build engine's socket and pid live under /run so that a reboot cannot
# leave a stale pid behind that now names somebody else's process.
ENGINE_RUN=/run/swarm-platform-rig-build
ENGINE_SOCK=$ENGINE_RUN/docker.sock
ENGINE_DATA=$RIG_CACHE/engine
ENGINE_PID=

# Image names are a contract with the project's live tests: keep them exact.
IMAGES=(rig/base:bookworm rig/base:sid rig/consul:1.20.1 rig/consul-template:0.41.1 rig/registrator:v9.0.2 rig/whoami:v1.10.3)

# Each image's recipe is the folder rig/recipes/<name> (rig/base:<suite>: base-<suite>):
# - base-<suite>/packages: debootstrap's minbase of that Debian suite plus these packages. bookworm is
#   the parent of the single-binary images; sid (nginx 1.30, keepalived 2.3) is the rig's edge base,
#   newer than the production default nginx:1.27.5-bookworm, which no registry here serves.
# - <name>/Dockerfile: rig/base:bookworm plus one Go binary, made from
#   - go.mod (+ go.sum, package, ldflags): a main module built as is (Consul, whose own go.mod replaces
#     its sub-modules with local paths, so it cannot be installed directly);
#   - module: `go install` of that module@version;
#   - candidates: modules tried in order, the first that the Go module proxy serves wins; when it
#     refuses them all (on this workplace it refused every registrator and whoami version with 403),
#     main.go beside it, the rig's own stand-in. The winner is kept in the image label rig.source.
RECIPES=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/recipes

log() { printf '[images] %s\n' "$*"; }
die() { printf '[images] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# docker CLI 28 against dockerd 20.10: only the legacy builder works.
export DOCKER_BUILDKIT=0

# A zombie still answers kill -0, and nobody may reap our children promptly.
alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n $st && $st != Z ]]
}

# --- host packages ------------------------------------------------------------

# Installs the host tools the rig needs, once. A temporary policy-rc.d keeps the
# docker.io and openssh-server packages from starting system daemons, which
# would rewrite iptables and listen on :22 in the root namespace.
ensure_packages() {
  local -a need=()
  local cmd pkg
  while read -r cmd pkg; do
    command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
  done <<'LIST'
dockerd docker.io
debootstrap debootstrap
sshd openssh-server
ssh openssh-client
ssh-keygen openssh-client
iptables iptables
dnsmasq dnsmasq-base
ip iproute2
jq jq
curl curl
ping iputils-ping
nsenter util-linux
flock util-linux
LIST
  [[ ${#need[@]} -eq 0 ]] && return 0
  log "installing: ${need[*]}"
  local added_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    added_policy=1
  fi
  timeout 600 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 900 \
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  if [[ $added_policy -eq 1 ]]; then rm -f /usr/sbin/policy-rc.d; fi
}

find_go() {
  if command -v go >/dev/null 2>&1; then command -v go; return; fi
  if [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go; return; fi
  die "no Go toolchain (go >= 1.23 on PATH or in /usr/local/go) to build the Go images"
}


# --- recipes and cache keys ---------------------------------------------------

parent_of() { [[ $1 == rig/base:* ]] || echo rig/base:bookworm; }

# Everything that decides an image's content: the functions that build it, the
# versions they use and the parent's key, so editing a recipe rebuilds that
# image and its children only.
recipe_of() {
  local img=$1 parent dir
  parent=$(parent_of "$img")
  dir=$(recipe_dir "$img")
  printf 'image %s\n' "$img"
  if [[ -n $parent ]]; then printf 'parent %s\n' "$(key_of "$parent")"; fi
  (cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
  declare -f save_image
  case $img in
    rig/base:*) declare -f build_base ;;
    *)
      go_version
      declare -f build_go_binary build_go_image go_install go_build_standin go_build_main docker_build_copy ;;
  esac
}

recipe_dir() {
  local name=${1#rig/} dir
  name=${name%%:*}
  if [[ $1 == rig/base:* ]]; then name=base-${1#rig/base:}; fi
  dir=$RECIPES/$name
  [[ -d $dir ]] || die "no recipe folder $dir for $1"
  echo "$dir"
}

go_version() { "$(find_go)" env GOVERSION; }
key_of() { recipe_of "$1" | sha256sum | cut -c1-16; }
tar_prefix() { local n=${1//\//_}; echo "$IMG_DIR/${n//:/_}"; }
tar_of() { echo "$(tar_prefix "$1")-$(key_of "$1").tar"; }
# The image ID recorded inside a `docker save` tarball (its config digest).
tar_image_id() { echo "sha256:$(tar -xOf "$1" manifest.json | jq -r '.[0].Config' | sed 's/\.json$//; s/^blobs\/sha256\///')"; }

# --- the build engine -----------------------------------------------------------

de() { docker -H "unix://$ENGINE_SOCK" "$@"; }

# A private dockerd in the root network namespace with no bridge, no iptables
# and no IP forwarding: the recipes only COPY files, so it needs no network, and
# the machine's firewall stays as it was. In its own mount namespace /run is a
# fresh tmpfs (with $ENGINE_RUN bound back), so the paths dockerd and containerd
# hard-code (/var/run/docker, /run/containerd/s) neither collide with another
# dockerd nor stay behind on the machine.
engine_start() {
  [[ -n $ENGINE_PID ]] && return 0
  mkdir -p "$ENGINE_RUN"
  if [[ -s $ENGINE_RUN/dockerd.launch ]] && alive "$(<"$ENGINE_RUN/dockerd.launch")"; then
    die "a build engine already runs (pid $(<"$ENGINE_RUN/dockerd.launch")); is another images.sh running?"
  fi
  rm -rf "$ENGINE_DATA" "${ENGINE_RUN:?}/exec"
  mkdir -p "$ENGINE_DATA"
  # Keeps dockerd from writing its trust key into /etc/docker.
  printf '{"deprecated-key-path": "%s"}\n' "$ENGINE_RUN/key.json" >"$ENGINE_RUN/daemon.json"
  log "engine: starting dockerd on unix://$ENGINE_SOCK"
  # shellcheck disable=SC2016 # expanded by the inner sh
  unshare -m /bin/sh -c '
      set -e
      mount --make-rprivate /
      mount --bind "$0" /mnt
      mount -t tmpfs -o mode=0755 tmpfs /run
      mkdir -p "$0" /run/docker
      mount --bind /mnt "$0"
      umount /mnt
      exec dockerd "$@"' "$ENGINE_RUN" \
    --config-file "$ENGINE_RUN/daemon.json" --data-root "$ENGINE_DATA" \
    --exec-root "$ENGINE_RUN/exec" --pidfile "$ENGINE_RUN/dockerd.pid" \
    -H "unix://$ENGINE_SOCK" --storage-driver overlay2 --bridge none \
    --iptables=false --ip-forward=false --ip-masq=false --cgroup-parent swarm-platform-rig-build \
    >"$ENGINE_RUN/dockerd.log" 2>&1 &
  ENGINE_PID=$!
  echo "$ENGINE_PID" >"$ENGINE_RUN/dockerd.launch"
  trap engine_stop EXIT
  local i
  for ((i = 0; i < 120; i++)); do
    if de version >/dev/null 2>&1; then return 0; fi
    alive "$ENGINE_PID" || { tail -n 20 "$ENGINE_RUN/dockerd.log" >&2; die "engine: dockerd exited"; }
    sleep 0.5
  done
  tail -n 20 "$ENGINE_RUN/dockerd.log" >&2
  die "engine: dockerd did not answer within 60s"
}

engine_stop() {
  [[ -n $ENGINE_PID ]] || return 0
  local pid=$ENGINE_PID i cpid=
  ENGINE_PID=
  if [[ -s $ENGINE_RUN/exec/containerd/containerd.pid ]]; then
    cpid=$(<"$ENGINE_RUN/exec/containerd/containerd.pid")
  fi
  log "engine: stopping dockerd (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 60; i++)); do alive "$pid" || break; sleep 0.5; done
  if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
  # dockerd normally stops its own containerd; after a SIGKILL it cannot.
  if [[ -n $cpid ]] && alive "$cpid" && grep -qF "$ENGINE_RUN" "/proc/$cpid/cmdline" 2>/dev/null; then
    kill -KILL "$cpid" 2>/dev/null || true
  fi
  rm -rf "$ENGINE_DATA" "${ENGINE_RUN:?}"
  local d
  for d in /sys/fs/cgroup/*/swarm-platform-rig-build; do
    if [[ -d $d ]]; then rmdir "$d" 2>/dev/null || true; fi
  done
}

# --- recipes ----------------------------------------------------------------------

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
  de run --rm --network none "$img" \
    sh -c 'nginx -v && keepalived --version 2>&1 | head -n 1 && curl --version | head -n 1 && ip -V' 2>&1 |
    sed "s/^/[images] $suite: /"
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
  case $name in
    consul)
      local v
      v=$(de run --rm --network none "$img" version | head -n 1)
      log "consul: check: $v"
      [[ $v == "Consul v${img##*:}" ]] || die "$img says '$v'" ;;
    consul-template)
      log "consul-template: check: $(de run --rm --network none "$img" -v 2>&1 | head -n 1)" ;;
    registrator)
      local usage
      usage=$(de run --rm --network none "$img" -h 2>&1 || true)
      grep -q '^Usage of' <<<"$usage" || die "$img -h printed no usage: $usage"
      log "registrator: check: $(head -n 1 <<<"$usage")" ;;
    whoami)
      de run --rm --network none "$img" -h 2>&1 | grep -q -- '-port' || die "$img -h printed no usage"
      log "whoami: check: -h lists -port" ;;
  esac
  log "$name: built from $src"
  rm -f "$WORK/bin/$name" "$WORK/bin/$name.source"
}

save_image() {
  local img=$1 tar=$2
  de save -o "$tar.tmp" "$img"
  mv "$tar.tmp" "$tar"
  # Older keys of the same image are dead weight once a new one is saved.
  local old
  for old in "$(tar_prefix "$img")"-*.tar; do
    if [[ -e $old && $old != "$tar" ]]; then rm -f "$old"; fi
  done
}

# Makes a cached image available to the build engine (for FROM).
engine_has() {
  local img=$1 tar want have
  tar=$(tar_of "$img")
  want=$(tar_image_id "$tar")
  have=$(de image inspect -f '{{.Id}}' "$img" 2>/dev/null || true)
  [[ $want == "$have" ]] || de load -q -i "$tar" >/dev/null
}




# --- commands ----------------------------------------------------------------------

cmd_build() {
  ensure_packages
  mkdir -p "$IMG_DIR"
  local -a todo=() go_todo=()
  local img tar t0 total0 gopid="" status=()
  total0=$(now)
  for img in "${IMAGES[@]}"; do
    tar=$(tar_of "$img")
    if [[ -s $tar ]]; then
      status+=("$img cached $(basename "$tar")")
    else
      todo+=("$img")
      case $img in rig/consul:* | rig/consul-template:* | rig/registrator:* | rig/whoami:*)
        go_todo+=("$(sed 's|^rig/||; s|:.*||' <<<"$img")") ;;
      esac
    fi
  done
  if [[ ${#todo[@]} -eq 0 ]]; then
    printf '[images] %s\n' "${status[@]}"
    log "all ${#IMAGES[@]} images cached in $IMG_DIR ($(since "$total0")s)"
    return 0
  fi
  mkdir -p "$WORK"
  if [[ ${#go_todo[@]} -gt 0 ]]; then
    log "go: compiling ${go_todo[*]} in the background (log: $WORK/go.log)"
    (
      set -e
      for n in "${go_todo[@]}"; do build_go_binary "$n"; done
    ) >"$WORK/go.log" 2>&1 &
    gopid=$!
  fi
  engine_start
  for img in "${todo[@]}"; do
    t0=$(now)
    local parent
    parent=$(parent_of "$img")
    if [[ -n $parent ]]; then engine_has "$parent"; fi
    case $img in
      rig/base:*) build_base "$img" ;;
      *)
        if [[ -n $gopid ]]; then
          local w0 rc=0
          w0=$(now)
          wait "$gopid" || rc=$?
          gopid=
          grep '^\[images\]' "$WORK/go.log" || true
          [[ $rc -eq 0 ]] || { tail -n 30 "$WORK/go.log" >&2; die "Go builds failed (log: $WORK/go.log)"; }
          log "go: waited $(since "$w0")s for the background compiles"
        fi
        build_go_image "$img" ;;
    esac
    tar=$(tar_of "$img")
    save_image "$img" "$tar"
    log "$img: built and saved in $(since "$t0")s -> $tar ($(du -h "$tar" | cut -f1))"
    status+=("$img built in $(since "$t0")s")
  done
  engine_stop
  trap - EXIT
  rm -rf "$WORK"
  printf '[images] %s\n' "${status[@]}"
  log "done in $(since "$total0")s"
}

# Loads every cached image into each engine given, skipping an image whose ID
# the engine already has under that name. Engines load in parallel.
cmd_load() {
  [[ $# -gt 0 ]] || die "usage: images.sh load <docker-host-uri>..."
  local img tar uri
  for img in "${IMAGES[@]}"; do
    tar=$(tar_of "$img")
    [[ -s $tar ]] || die "no cached tarball for $img ($tar): run bash rig/images.sh first"
  done
  local -a pids=()
  for uri in "$@"; do
    (
      for img in "${IMAGES[@]}"; do
        tar=$(tar_of "$img")
        t0=$(now)
        want=$(tar_image_id "$tar")
        have=$(docker -H "$uri" image inspect -f '{{.Id}}' "$img" 2>/dev/null || true)
        if [[ $want == "$have" ]]; then
          log "$uri: $img already present"
        else
          timeout 600 docker -H "$uri" load -q -i "$tar" >/dev/null
          log "$uri: loaded $img in $(since "$t0")s"
        fi
      done
    ) &
    pids+=($!)
  done
  local p rc=0
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  [[ $rc -eq 0 ]] || die "loading failed for at least one engine"
}

cmd_list() {
  local img
  for img in "${IMAGES[@]}"; do printf '%s %s %s\n' "$img" "$(key_of "$img")" "$(tar_of "$img")"; done
}

main() {
  [[ $(id -u) -eq 0 ]] || die "run as root"
  local cmd=${1:-build}
  [[ $# -gt 0 ]] && shift
  mkdir -p "$RIG_CACHE"
  case $cmd in
    build)
      # One build at a time: they share the engine paths and the work dir.
      exec 9>"$RIG_CACHE/.lock"
      flock -w 1800 9 || die "another images.sh build holds $RIG_CACHE/.lock"
      cmd_build ;;
    load) cmd_load "$@" ;;
    list) cmd_list ;;
    *) die "usage: images.sh [build | load <docker-host-uri>... | list]" ;;
  esac
}

main "$@"
