# The build engine, sourced by images.sh: a private dockerd only for building and saving images.
# Needs ENGINE_RUN, ENGINE_SOCK and ENGINE_DATA; engine_start sets ENGINE_PID and stops it on exit.

# docker CLI 28 against dockerd 20.10: only the legacy builder works.
export DOCKER_BUILDKIT=0

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
