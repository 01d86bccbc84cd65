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
IMAGES=(rig/base:bookworm rig/base:sid rig/base:trixie rig/consul:1.20.1 rig/consul-template:0.41.1
  rig/registrator-stand-in:v9.0.2 rig/whoami-stand-in:v1.10.3 rig/pebble:v2.10.3 rig/lego:v5.6.0
  rig/nginx-exporter:0.11.0)
# The real modules the stand-ins stand in for: built only when the Go module proxy serves one of their
# candidates, under the real name. A refusal is cached like an image (<tarball prefix>-<key>.refused),
# so a run asks the proxy again only when the recipe or the Go version changes.
PROBED=(rig/registrator:v9.0.2 rig/whoami:v1.10.3)

# Each image's recipe is the folder rig/recipes/<name> (rig/base:<suite>: base-<suite>):
# - base-<suite>/packages: debootstrap's minbase of that Debian suite plus these packages. bookworm is
#   the parent of every other image; sid (nginx 1.30, keepalived 2.3) is the rig's edge base,
#   newer than the production default nginx:1.27.5-bookworm, which no registry here serves; trixie
#   (HAProxy 3.0) stands in for haproxy:3.0.5-bookworm, the Docker API proxy in front of registrator.
# - <name>/deb: Debian packages ("package=version") whose files the recipe's Dockerfile copies onto
#   rig/base:bookworm (the nginx exporter).
# - <name>/Dockerfile: rig/base:bookworm plus Go binaries (COPY bin/<binary>), made from
#   - go.mod (+ go.sum, package, ldflags, tags): a main module built as is (Consul, whose own go.mod
#     replaces its sub-modules with local paths, so it cannot be installed directly; lego, one of whose
#     dependencies the proxy serves only at an older version);
#   - module (+ ldflags, module-files): `go install` of each line's package@version (Pebble's two);
#   - candidates: the real module, tried in order; the first that the Go module proxy serves wins
#     (on this workplace it refused every registrator and whoami version with 403);
#   - main.go alone: the rig's own stand-in (<name>-stand-in), standard library only.
#   The source that won is kept in the image label rig.source.
RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RECIPES=$RIG_DIR/recipes
RIG_TAG=images
# shellcheck source=rig/sh/common.sh
source "$RIG_DIR/sh/common.sh"
# shellcheck source=rig/sh/build-engine.sh
source "$RIG_DIR/sh/build-engine.sh"
# shellcheck source=rig/sh/builders.sh
source "$RIG_DIR/sh/builders.sh"


# --- recipes and cache keys ---------------------------------------------------

parent_of() { [[ $1 == rig/base:* ]] || echo rig/base:bookworm; }
is_go_recipe() { local d; d=$(recipe_dir "$1"); [[ -f $d/go.mod || -f $d/module || -f $d/candidates || -f $d/main.go ]]; }
is_deb_recipe() { [[ -f $(recipe_dir "$1")/deb ]]; }
recipe_name() { local n=${1#rig/}; echo "${n%%:*}"; }

# Everything that decides an image's content: its recipe folder, the builders, the
# Go version and the parent's key, so editing a recipe rebuilds that image and its
# children only.
recipe_of() {
  local img=$1 parent dir
  parent=$(parent_of "$img")
  dir=$(recipe_dir "$img")
  printf 'image %s\n' "$img"
  if [[ -n $parent ]]; then printf 'parent %s\n' "$(key_of "$parent")"; fi
  (cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
  sha256sum <"$RIG_DIR/sh/builders.sh"
  if is_go_recipe "$img"; then go_version; fi
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
refused_of() { echo "$(tar_prefix "$1")-$(key_of "$1").refused"; }
# The image ID recorded inside a `docker save` tarball (its config digest).
tar_image_id() { echo "sha256:$(tar -xOf "$1" manifest.json | jq -r '.[0].Config' | sed 's/\.json$//; s/^blobs\/sha256\///')"; }

save_image() {
  local img=$1 tar=$2
  de save -o "$tar.tmp" "$img"
  mv "$tar.tmp" "$tar"
  forget_older "$img" "$tar"
}

# Other keys of the same image (tarballs, cached refusals) go once a new outcome is saved, unless a
# build or load used them within KEEP_OTHER_KEYS_DAYS: checkouts of other branches share this cache,
# and deleting the tarballs one of them is about to load would make its run rebuild them, or fail.
KEEP_OTHER_KEYS_DAYS=7
forget_older() {
  local old
  for old in "$(tar_prefix "$1")"-*.tar "$(tar_prefix "$1")"-*.refused; do
    if [[ -e $old && $old != "$2" ]] && [[ -n $(find "$old" -mtime +"$KEEP_OTHER_KEYS_DAYS") ]]; then rm -f "$old"; fi
  done
}
# A tarball's mtime says when a build or load last used it.
mark_used() { touch -c "$1"; }

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
  bash "$RIG_DIR/packages.sh"
  mkdir -p "$IMG_DIR"
  local -a todo=() go_todo=()
  local img tar t0 total0 gopid="" status=()
  total0=$(now)
  for img in "${IMAGES[@]}" "${PROBED[@]}"; do
    tar=$(tar_of "$img")
    if [[ -s $tar ]]; then
      mark_used "$tar"
      status+=("$img cached $(basename "$tar")")
    elif [[ -f $(refused_of "$img") ]]; then
      status+=("$img not built: the proxy refused its candidates ($(basename "$(refused_of "$img")"))")
    else
      todo+=("$img")
      if is_go_recipe "$img"; then go_todo+=("$(recipe_name "$img")"); fi
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
    if [[ $img == rig/base:* ]]; then
      build_base "$img"
    elif is_deb_recipe "$img"; then
      build_deb_image "$img"
    else
      if [[ -n $gopid ]]; then
        local w0 rc=0
        w0=$(now)
        wait "$gopid" || rc=$?
        gopid=
        grep '^\[images\]' "$WORK/go.log" || true
        [[ $rc -eq 0 ]] || { tail -n 30 "$WORK/go.log" >&2; die "Go builds failed (log: $WORK/go.log)"; }
        log "go: waited $(since "$w0")s for the background compiles"
      fi
      local refused
      refused=$WORK/go/$(recipe_name "$img").refused
      if [[ -f $refused ]]; then
        cp "$refused" "$(refused_of "$img")"
        forget_older "$img" "$(refused_of "$img")"
        status+=("$img not built: the proxy refused its candidates (cached as $(basename "$(refused_of "$img")"))")
        continue
      fi
      build_go_image "$img"
    fi
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

# The images a build left: every one of IMAGES, and those of PROBED whose real module was served.
built_images() {
  local img
  printf '%s\n' "${IMAGES[@]}"
  for img in "${PROBED[@]}"; do if [[ -s $(tar_of "$img") ]]; then echo "$img"; fi; done
}

# Loads every cached image into each engine given, skipping an image whose ID
# the engine already has under that name. Engines load in parallel.
cmd_load() {
  [[ $# -gt 0 ]] || die "usage: images.sh load <docker-host-uri>..."
  local img tar uri
  local -a images
  mapfile -t images < <(built_images)
  for img in "${images[@]}"; do
    tar=$(tar_of "$img")
    [[ -s $tar ]] || die "no cached tarball for $img ($tar): run bash rig/images.sh first"
  done
  local -a pids=()
  for uri in "$@"; do
    (
      for img in "${images[@]}"; do
        tar=$(tar_of "$img")
        t0=$(now)
        mark_used "$tar"
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
  for img in "${PROBED[@]}"; do
    if [[ -f $(refused_of "$img") ]]; then
      printf '%s %s refused: %s\n' "$img" "$(key_of "$img")" \
        "$(sed -E 's/^([^ ]+): .*: ([^:]+)$/\1: \2/' "$(refused_of "$img")" | paste -sd';')"
    else
      printf '%s %s %s\n' "$img" "$(key_of "$img")" "$(tar_of "$img")"
    fi
  done
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
