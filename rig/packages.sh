#!/usr/bin/env bash
# Installs the host tools the rig needs (Debian packages), once; idempotent.
#
#   bash rig/packages.sh
set -euo pipefail
RIG_TAG=packages
# shellcheck source=rig/sh/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/sh/common.sh"

# Installs the host tools the rig needs, once. A temporary policy-rc.d keeps the
# docker.io, openssh-server and prometheus packages from starting system daemons,
# which would rewrite iptables and listen on :22 and :9090 in the root namespace;
# the rig starts the Prometheus it needs itself and stops it by pid.
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
wrk wrk
haproxy haproxy
prometheus prometheus
testssl testssl.sh
tcpdump tcpdump
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

ensure_packages
