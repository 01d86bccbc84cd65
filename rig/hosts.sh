#!/usr/bin/env bash
# Starts (and tears down) the live rig: N Docker hosts on this machine, each a
# network namespace with its own dockerd and sshd, on one bridge.
#
#   bash rig/hosts.sh up [N]   N hosts (1..9, default 3): rig-h1 = 10.77.0.11, ...
#   bash rig/hosts.sh down     stop and remove everything `up` made; idempotent
#   bash rig/hosts.sh status   one line per host
#
# Reach host i as unix://$RIG_STATE/h$i.sock from this machine, or over ssh as
# root@10.77.0.1$i (plain `ssh`, so also `docker -H ssh://root@10.77.0.1$i`).
#
# Environment: RIG_STATE (default /run/swarm-platform-rig), RIG_CACHE (images).
set -euo pipefail

RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RIG_STATE=${RIG_STATE:-/run/swarm-platform-rig}
DATA_ROOT=/var/lib/swarm-platform-rig
BRIDGE=rigbr0
BRIDGE_ADDR=10.77.0.1
# A name only the rig's own DNS (start_dns) answers.
UPSTREAM_NAME=upstream.rig
MAX_HOSTS=9
SSH_CONFIG=$RIG_STATE/ssh_config
INCLUDE_MARK='# swarm-platform-rig'
INCLUDE_LINE="Include $SSH_CONFIG $INCLUDE_MARK"
USER_SSH_DIR="$(getent passwd "$(id -un)" | cut -d: -f6)/.ssh"
# iptables rules in the root namespace, added once and removed on down. Bridged
# frames between the veths cross the FORWARD chain (bridge-nf-call-iptables),
# whose policy is DROP once any dockerd ran here. The second rule keeps the
# rig closed: the hosts' default route points at this namespace, which must not
# pass their packets on to any other network.
FORWARD_RULES=(
  "-i $BRIDGE -o $BRIDGE -j ACCEPT"
  "-i $BRIDGE ! -o $BRIDGE -j DROP"
)
RIG_TAG=hosts
# shellcheck source=rig/sh/common.sh
source "$RIG_DIR/sh/common.sh"

host_ip() { echo "10.77.0.1$1"; }
netns() { echo "rig-h$1"; }
sock() { echo "$RIG_STATE/h$1.sock"; }

cmdline() { { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null || true; }

# Ends processes the rig started, given by pid, after checking that each pid
# still runs our command line (pids get reused): TERM to all of them at once, a
# bounded wait for all, then KILL for whatever is left.
stop_pids() { # seconds "label|pid|cmdline-substring"...
  local secs=$1 spec label pid match i k left
  shift
  local -a pids=() labels=()
  for spec in "$@"; do
    IFS='|' read -r label pid match <<<"$spec"
    if [[ -z $pid ]] || ! alive "$pid"; then continue; fi
    cmdline "$pid" | grep -qF -- "$match" || continue
    log "stop $label (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid")
    labels+=("$label")
  done
  [[ ${#pids[@]} -gt 0 ]] || return 0
  for ((i = 0; i < secs * 5; i++)); do
    left=0
    for pid in "${pids[@]}"; do if alive "$pid"; then left=1; fi; done
    [[ $left -eq 1 ]] || return 0
    sleep 0.2
  done
  for k in "${!pids[@]}"; do
    if alive "${pids[$k]}"; then
      log "kill ${labels[$k]} (pid ${pids[$k]}): still running after ${secs}s"
      kill -KILL "${pids[$k]}" 2>/dev/null || true
    fi
  done
  for ((i = 0; i < 25; i++)); do
    left=0
    for pid in "${pids[@]}"; do if alive "$pid"; then left=1; fi; done
    [[ $left -eq 1 ]] || return 0
    sleep 0.2
  done
}

pid_in() { cat "$1" 2>/dev/null || true; }

# Removes this rig's (empty) cgroups; runc removed the containers' own.
remove_cgroups() {
  local d
  for d in /sys/fs/cgroup/*/"$1"; do
    if [[ -d $d ]]; then rmdir "$d" 2>/dev/null || log "warning: cgroup $d not empty"; fi
  done
}

# --- up ---------------------------------------------------------------------------

setup_files() {
  local n=$1 i
  mkdir -p "$RIG_STATE"
  chmod 700 "$RIG_STATE"
  if [[ ! -s $RIG_STATE/id_ed25519 ]]; then
    log "ssh: generate client key $RIG_STATE/id_ed25519"
    ssh-keygen -q -t ed25519 -N '' -C swarm-platform-rig -f "$RIG_STATE/id_ed25519"
  fi
  if [[ ! -s $RIG_STATE/ssh_host_ed25519_key ]]; then
    log "ssh: generate host key"
    ssh-keygen -q -t ed25519 -N '' -C rig-host -f "$RIG_STATE/ssh_host_ed25519_key"
  fi
  cp "$RIG_STATE/id_ed25519.pub" "$RIG_STATE/authorized_keys"
  chmod 600 "$RIG_STATE/authorized_keys"
  # MaxStartups: Pulumi and the docker CLI open many ssh connections at once,
  # and the default (10 unauthenticated) drops some of them at random.
  # SetEnv: remote docker commands must use that host's socket even if root's
  # ~/.docker (shared by all hosts and by this machine) names another context.
  cat >"$RIG_STATE/sshd_config" <<EOF
HostKey $RIG_STATE/ssh_host_ed25519_key
AuthorizedKeysFile $RIG_STATE/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PidFile none
PrintMotd no
PrintLastLog no
MaxStartups 200
MaxSessions 100
SetEnv DOCKER_HOST=unix:///var/run/docker.sock
Subsystem sftp internal-sftp
EOF
  # Every host sees these as /etc/hosts and /etc/resolv.conf (bind mounts in
  # its private mount namespaces, so also in its --network host containers):
  # the rig's names resolve, and any other lookup fails at once (nothing
  # answers on 10.77.0.1:53) instead of timing out against the machine's
  # resolver, which the rig must not reach anyway. keepalived, for one, looks
  # its hostname up at start and stalled 10s without this.
  {
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
    for ((i = 1; i <= n; i++)); do printf '%s\trig-h%s\n' "$(host_ip "$i")" "$i"; done
  } >"$RIG_STATE/etc-hosts"
  printf 'nameserver %s\noptions timeout:1 attempts:1\n' "$BRIDGE_ADDR" >"$RIG_STATE/etc-resolv.conf"
  cat >"$SSH_CONFIG" <<EOF
# Written by rig/hosts.sh up, removed by hosts.sh down.
Host 10.77.0.*
    User root
    IdentityFile $RIG_STATE/id_ed25519
    IdentitiesOnly yes
    StrictHostKeyChecking no
    UserKnownHostsFile /dev/null
    LogLevel ERROR
    ConnectTimeout 10
    ServerAliveInterval 15
EOF
  log "ssh: client config $SSH_CONFIG"
  # The docker CLI's ssh helper (and so @pulumi/docker's ssh:// hosts) runs
  # plain `ssh`, which reads only ~/.ssh/config: include ours at its top (an
  # Include below a Host line would apply to that Host only).
  local cfg=$USER_SSH_DIR/config
  if ! grep -qxF "$INCLUDE_LINE" "$cfg" 2>/dev/null; then
    if [[ ! -d $USER_SSH_DIR ]]; then
      mkdir -m 700 "$USER_SSH_DIR"
      touch "$RIG_STATE/created-ssh-dir"
    fi
    if [[ -e $cfg ]]; then
      { echo "$INCLUDE_LINE"; cat "$cfg"; } >"$cfg.rig-tmp"
      cat "$cfg.rig-tmp" >"$cfg"
      rm -f "$cfg.rig-tmp"
    else
      echo "$INCLUDE_LINE" >"$cfg"
      chmod 600 "$cfg"
      touch "$RIG_STATE/created-ssh-config"
    fi
    log "ssh: add '$INCLUDE_LINE' to $cfg"
  fi
}

setup_bridge() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    log "net: create bridge $BRIDGE $BRIDGE_ADDR/24"
    # No snooping: keepalived's VRRP adverts are multicast and must flood.
    ip link add "$BRIDGE" type bridge mcast_snooping 0
    ip addr add "$BRIDGE_ADDR/24" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
  local rule
  for rule in "${FORWARD_RULES[@]}"; do
    # shellcheck disable=SC2086 # the rule is a word list on purpose
    if ! iptables -C FORWARD $rule 2>/dev/null; then
      log "net: iptables -I FORWARD $rule"
      # shellcheck disable=SC2086
      iptables -I FORWARD 1 $rule
    fi
  done
}

setup_netns() {
  local i=$1 ns ip
  ns=$(netns "$i")
  ip=$(host_ip "$i")
  if ! ip netns list | grep -qw "^$ns"; then
    log "net: netns $ns"
    ip netns add "$ns"
  fi
  if ! ip link show "rigv$i" >/dev/null 2>&1; then
    log "net: veth rigv$i <-> $ns:eth0 $ip/24"
    ip link add "rigv$i" type veth peer name eth0 netns "$ns"
  fi
  ip link set "rigv$i" master "$BRIDGE" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr replace "$ip/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route replace default via "$BRIDGE_ADDR"
}

# dockerd must not be started with `ip netns exec`, which remounts /sys (dockerd
# then fails with "Devices cgroup isn't mounted"): nsenter into the network
# namespace and unshare a mount and a UTS namespace instead (hostname rig-hI).
# In that mount namespace /run is a fresh tmpfs, with the state dir bound back
# at its own path. That gives each host, without touching the machine's /run:
#  - its own /var/run/docker (libnetwork hard-codes it) and /run/containerd/s
#    (containerd's shim sockets), which would collide between hosts;
#  - /var/run/docker.sock = this host's engine (dockerd listens there too), so
#    `-v /var/run/docker.sock:...` in a container (registrator) and plain
#    `docker` in an ssh session reach this host's engine. Bind-mount sources
#    are resolved by dockerd in this namespace; on the machine's /run such a
#    bind makes docker create an empty /run/docker.sock directory instead;
#  - /etc/hosts and /etc/resolv.conf of the rig (see setup_files).
# sshd joins these namespaces later (start_sshd).
start_dockerd() {
  local i=$1 ns launch
  ns=$(netns "$i")
  launch=$RIG_STATE/h$i-dockerd.launch
  if [[ -s $launch ]] && alive "$(<"$launch")"; then
    log "docker: rig-h$i dockerd already running (pid $(<"$launch"))"
    return 0
  fi
  mkdir -p "$DATA_ROOT/h$i"
  # Keeps the trust key (and so the engine ID) per host and out of /etc/docker.
  printf '{"deprecated-key-path": "%s"}\n' "$DATA_ROOT/h$i/key.json" >"$RIG_STATE/h$i-daemon.json"
  # shellcheck disable=SC2016 # expanded by the inner sh, from its arguments
  nsenter --net="/run/netns/$ns" -- unshare -m -u -- /bin/sh -c '
      set -e
      hostname "$1"
      state=$2
      shift 2
      mount --make-rprivate /
      mount --bind "$state/etc-hosts" /etc/hosts
      mount --bind "$state/etc-resolv.conf" /etc/resolv.conf
      case $state in
        /run/*)
          mount --bind "$state" /mnt
          mount -t tmpfs -o mode=0755 tmpfs /run
          mkdir -p "$state"
          mount --bind /mnt "$state"
          umount /mnt ;;
        *) mount -t tmpfs -o mode=0755 tmpfs /run ;;
      esac
      mkdir -p /run/docker /run/sshd /run/lock
      exec "$@"' sh "rig-h$i" "$RIG_STATE" \
    env PATH="$ENGINE_BIN/nft:$ENGINE_BIN:/usr/sbin:/usr/bin:/sbin:/bin" XTABLES_LIBDIR="$(<"$ENGINE_BIN/xtables-libdir")" \
    "$ENGINE_BIN/dockerd" --init-path "$ENGINE_BIN/docker-init" --userland-proxy-path "$ENGINE_BIN/docker-proxy" \
    --config-file "$RIG_STATE/h$i-daemon.json" \
    --data-root "$DATA_ROOT/h$i" --exec-root "$RIG_STATE/h$i-exec" \
    -H "unix://$(sock "$i")" -H unix:///var/run/docker.sock \
    --pidfile "$RIG_STATE/h$i-dockerd.pid" \
    --storage-driver overlay2 --cgroup-parent "swarm-platform-rig-h$i" \
    >"$RIG_STATE/h$i-dockerd.log" 2>&1 &
  echo $! >"$launch"
  log "docker: rig-h$i dockerd started (pid $!) on unix://$(sock "$i"), log $RIG_STATE/h$i-dockerd.log"
}

wait_dockerd() {
  local i=$1 k name
  for ((k = 0; k < 120; k++)); do
    name=$(docker -H "unix://$(sock "$i")" info --format '{{.Name}}' 2>/dev/null || true)
    if [[ $name == "rig-h$i" ]]; then
      log "docker: rig-h$i answers (name $name)"
      return 0
    fi
    alive "$(<"$RIG_STATE/h$i-dockerd.launch")" || break
    sleep 0.5
  done
  tail -n 20 "$RIG_STATE/h$i-dockerd.log" >&2
  die "dockerd of rig-h$i did not come up within 60s"
}

# sshd runs in all of its host's namespaces (network, UTS, and dockerd's mount
# namespace), so an ssh session has that host's hostname, /etc/hosts and
# /var/run/docker.sock: `ssh root@10.77.0.1I docker ...` and the docker CLI's
# ssh helper (`docker -H ssh://root@10.77.0.1I`) reach that host's engine.
start_sshd() {
  local i=$1 ip launch dpid
  ip=$(host_ip "$i")
  launch=$RIG_STATE/h$i-sshd.launch
  if [[ -s $launch ]] && alive "$(<"$launch")"; then
    log "ssh: rig-h$i sshd already running (pid $(<"$launch"))"
    return 0
  fi
  dpid=$(<"$RIG_STATE/h$i-dockerd.launch")
  nsenter --target "$dpid" --mount --uts --net -- \
    /usr/sbin/sshd -D -e -f "$RIG_STATE/sshd_config" -o "ListenAddress=$ip:22" \
    >"$RIG_STATE/h$i-sshd.log" 2>&1 &
  echo $! >"$launch"
  log "ssh: rig-h$i sshd started (pid $!) on $ip:22"
}

wait_sshd() {
  local i=$1 k ip out
  ip=$(host_ip "$i")
  for ((k = 0; k < 40; k++)); do
    out=$(timeout 10 ssh -F "$SSH_CONFIG" -o BatchMode=yes -o ConnectTimeout=2 "root@$ip" hostname 2>/dev/null || true)
    if [[ $out == "rig-h$i" ]]; then
      log "ssh: root@$ip accepts (hostname $out)"
      return 0
    fi
    alive "$(<"$RIG_STATE/h$i-sshd.launch")" || break
    sleep 0.5
  done
  tail -n 20 "$RIG_STATE/h$i-sshd.log" >&2
  die "sshd of rig-h$i did not accept within 20s"
}

cmd_up() {
  local n=${1:-3} i t0
  t0=$(now)
  [[ $n =~ ^[1-9]$ ]] || die "N must be 1..$MAX_HOSTS (the address scheme is 10.77.0.1N)"
  if [[ -s $RIG_STATE/hosts ]] && [[ $(<"$RIG_STATE/hosts") != "$n" ]]; then
    die "a rig of $(<"$RIG_STATE/hosts") hosts is up: run hosts.sh down first"
  fi
  # Builds what the image cache lacks (and installs the host packages).
  bash "$RIG_DIR/images.sh"
  setup_files "$n"
  echo "$n" >"$RIG_STATE/hosts"
  ENGINE_BIN=$(bash "$RIG_DIR/engine.sh")
  echo "$ENGINE_BIN" >"$RIG_STATE/engine-bin"
  setup_bridge
  start_dns
  start_agent
  for ((i = 1; i <= n; i++)); do setup_netns "$i"; done
  for ((i = 1; i <= n; i++)); do start_dockerd "$i"; done
  for ((i = 1; i <= n; i++)); do wait_dockerd "$i"; done
  for ((i = 1; i <= n; i++)); do start_sshd "$i"; done
  for ((i = 1; i <= n; i++)); do wait_sshd "$i"; done
  local -a uris=()
  for ((i = 1; i <= n; i++)); do uris+=("unix://$(sock "$i")"); done
  bash "$RIG_DIR/images.sh" load "${uris[@]}"
  cmd_status
  log "up: $n hosts in $(since "$t0")s"
}

# --- down -------------------------------------------------------------------------

# Containers are stopped by dockerd itself on TERM; this is for a dockerd that
# had to be killed, whose containerd, shims and containers would survive it.
reap_leftovers() {
  local i=$1 exec_root runc_root id pid
  local -a specs=()
  exec_root=$RIG_STATE/h$i-exec
  runc_root=$exec_root/runtime-runc/moby
  # The engine's own runc: the machine's may not read what a newer one wrote.
  local runc=runc
  if [[ -s $RIG_STATE/engine-bin ]]; then runc=$(<"$RIG_STATE/engine-bin")/runc; fi
  if [[ -d $runc_root ]]; then
    for id in $("$runc" --root "$runc_root" list -q 2>/dev/null); do
      log "rig-h$i: remove leftover container $id"
      "$runc" --root "$runc_root" delete --force "$id" 2>/dev/null || true
    done
  fi
  # containerd and its shims name this host's exec-root on their command line.
  for pid in /proc/[0-9]*; do
    pid=${pid#/proc/}
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    if cmdline "$pid" | grep -qF -- "$exec_root"; then
      specs+=("rig-h$i leftover $(cmdline "$pid" | cut -c1-50)|$pid|$exec_root")
    fi
  done
  # Whatever still runs in the host's network namespace was started there by
  # the rig (ssh sessions, --network host containers).
  if ip netns list | grep -qw "^$(netns "$i")"; then
    for pid in $(ip netns pids "$(netns "$i")" 2>/dev/null); do
      specs+=("rig-h$i leftover in netns: $(cmdline "$pid" | cut -c1-50)|$pid|")
    done
  fi
  if [[ ${#specs[@]} -gt 0 ]]; then stop_pids 5 "${specs[@]}"; fi
}

# The rig's upstream DNS on the bridge address, the nameserver in every host's resolv.conf: it answers
# upstream.rig (10.77.0.1) and refuses everything else at once, so no query leaves the machine and a
# name outside Consul can still be shown to resolve through Consul's recursors.
start_dns() {
  local launch=$RIG_STATE/dnsmasq.launch
  if [[ -s $launch ]] && alive "$(<"$launch")"; then return 0; fi
  dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --bind-interfaces --listen-address="$BRIDGE_ADDR" \
    --except-interface=lo --address="/$UPSTREAM_NAME/$BRIDGE_ADDR" --pid-file="$RIG_STATE/dnsmasq.pid" --log-facility=- \
    >"$RIG_STATE/dnsmasq.log" 2>&1 &
  echo $! >"$launch"
  log "dns: dnsmasq (pid $!) on $BRIDGE_ADDR:53 answers $UPSTREAM_NAME"
}

# An ssh-agent holding the rig's key: the Docker CLI's ssh authenticates through it for hosts whose
# stack config names no key file (those get the key as the secret sshPrivateKey, which the program
# never writes to disk).
start_agent() {
  local launch=$RIG_STATE/agent.launch sock=$RIG_STATE/agent.sock i
  if [[ -s $launch ]] && alive "$(<"$launch")"; then return 0; fi
  rm -f "$sock"
  ssh-agent -D -a "$sock" >/dev/null 2>&1 &
  echo $! >"$launch"
  for ((i = 0; i < 50; i++)); do
    [[ -S $sock ]] && break
    sleep 0.1
  done
  SSH_AUTH_SOCK=$sock ssh-add -q "$RIG_STATE/id_ed25519" || die "ssh-add to the rig's agent failed"
  log "ssh: agent (pid $!) at $sock holds the rig's key"
}

cmd_down() {
  local i t0 rule ns
  local -a hosts=() specs=()
  t0=$(now)
  if [[ -s $RIG_STATE/dnsmasq.launch ]]; then stop_pids 5 "dnsmasq|$(pid_in "$RIG_STATE/dnsmasq.launch")|--listen-address=$BRIDGE_ADDR"; fi
  if [[ -s $RIG_STATE/agent.launch ]]; then stop_pids 5 "ssh-agent|$(pid_in "$RIG_STATE/agent.launch")|$RIG_STATE/agent.sock"; fi
  for ((i = 1; i <= MAX_HOSTS; i++)); do
    ns=$(netns "$i")
    if [[ -e $RIG_STATE/h$i-dockerd.launch || -e $RIG_STATE/h$i-sshd.launch || -d $DATA_ROOT/h$i ]] ||
      ip netns list | grep -qw "^$ns" || ip link show "rigv$i" >/dev/null 2>&1; then
      hosts+=("$i")
    fi
  done
  for i in "${hosts[@]}"; do
    specs+=("rig-h$i sshd|$(pid_in "$RIG_STATE/h$i-sshd.launch")|ListenAddress=$(host_ip "$i"):")
  done
  if [[ ${#specs[@]} -gt 0 ]]; then stop_pids 10 "${specs[@]}"; fi
  # All dockerds at once: each first stops its containers (10s at most each,
  # in parallel), so one host after another would add up.
  specs=()
  for i in "${hosts[@]}"; do
    specs+=("rig-h$i dockerd|$(pid_in "$RIG_STATE/h$i-dockerd.launch")|$(sock "$i")")
  done
  if [[ ${#specs[@]} -gt 0 ]]; then stop_pids 40 "${specs[@]}"; fi
  for i in "${hosts[@]}"; do
    ns=$(netns "$i")
    reap_leftovers "$i"
    remove_cgroups "swarm-platform-rig-h$i"
    if ip netns list | grep -qw "^$ns"; then
      log "net: delete netns $ns"
      ip netns del "$ns"
    fi
    if ip link show "rigv$i" >/dev/null 2>&1; then
      log "net: delete veth rigv$i"
      ip link del "rigv$i"
    fi
    if [[ -d $DATA_ROOT/h$i ]]; then
      # Overlay mounts lived in dockerd's private mount namespace, gone with it.
      log "docker: remove data root $DATA_ROOT/h$i"
      rm -rf "${DATA_ROOT:?}/h$i"
    fi
  done
  rmdir "$DATA_ROOT" 2>/dev/null || true
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    log "net: delete bridge $BRIDGE"
    ip link del "$BRIDGE"
  fi
  for rule in "${FORWARD_RULES[@]}"; do
    # shellcheck disable=SC2086 # the rule is a word list on purpose
    while iptables -C FORWARD $rule 2>/dev/null; do
      log "net: iptables -D FORWARD $rule"
      # shellcheck disable=SC2086
      iptables -D FORWARD $rule
    done
  done
  local cfg=$USER_SSH_DIR/config
  if grep -qxF "$INCLUDE_LINE" "$cfg" 2>/dev/null; then
    log "ssh: remove the Include from $cfg"
    grep -vxF "$INCLUDE_LINE" "$cfg" >"$cfg.rig-tmp" || true
    cat "$cfg.rig-tmp" >"$cfg"
    rm -f "$cfg.rig-tmp"
    if [[ -e $RIG_STATE/created-ssh-config && ! -s $cfg ]]; then rm -f "$cfg"; fi
    if [[ -e $RIG_STATE/created-ssh-dir ]]; then rmdir "$USER_SSH_DIR" 2>/dev/null || true; fi
  fi
  if [[ -d $RIG_STATE ]]; then
    log "state: remove $RIG_STATE"
    rm -rf "${RIG_STATE:?}"
  fi
  log "down: done in $(since "$t0")s"
}

# --- restart-engine ---------------------------------------------------------------

# What a host goes through when its Docker engine restarts (an upgrade, a crash): dockerd stops its
# containers and starts again, in a fresh mount namespace, where sshd follows it. The network
# namespace, and so the host's firewall rules, stay.
cmd_restart_engine() {
  local i=${1:-}
  [[ $i =~ ^[1-9]$ && -s $RIG_STATE/h$i-dockerd.launch ]] || die "restart-engine I: rig-h$i is not up"
  ENGINE_BIN=$(<"$RIG_STATE/engine-bin")
  stop_pids 10 "rig-h$i sshd|$(pid_in "$RIG_STATE/h$i-sshd.launch")|ListenAddress=$(host_ip "$i"):"
  stop_pids 40 "rig-h$i dockerd|$(pid_in "$RIG_STATE/h$i-dockerd.launch")|$(sock "$i")"
  reap_leftovers "$i"
  start_dockerd "$i"
  wait_dockerd "$i"
  start_sshd "$i"
  wait_sshd "$i"
}

cmd_status() {
  local n i
  n=$(cat "$RIG_STATE/hosts" 2>/dev/null || echo 0)
  if [[ $n -eq 0 ]]; then log "no rig is up"; return 0; fi
  for ((i = 1; i <= n; i++)); do
    local d="down" s="down"
    if [[ -s $RIG_STATE/h$i-dockerd.launch ]] && alive "$(<"$RIG_STATE/h$i-dockerd.launch")"; then
      d="pid $(<"$RIG_STATE/h$i-dockerd.launch")"
    fi
    if [[ -s $RIG_STATE/h$i-sshd.launch ]] && alive "$(<"$RIG_STATE/h$i-sshd.launch")"; then
      s="pid $(<"$RIG_STATE/h$i-sshd.launch")"
    fi
    log "rig-h$i $(host_ip "$i") dockerd=$d unix://$(sock "$i") sshd=$s ssh://root@$(host_ip "$i")"
  done
}

main() {
  [[ $(id -u) -eq 0 ]] || die "run as root"
  case ${1:-} in
    up) shift; cmd_up "$@" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    restart-engine) shift; cmd_restart_engine "$@" ;;
    *) die "usage: hosts.sh up [N] | down | status | restart-engine I" ;;
  esac
}

main "$@"
