#!/usr/bin/env bash
# A Python virtualenv with the Pulumi Python SDK at the CLI's version, for the Python consumer of the
# component package (rig/toolchain.sh --languages has the Python language host). Cached outside the
# repo, keyed by this script and the interpreter's version. Prints the venv's bin directory on stdout
# and how long it took on stderr.
#
#   RIG_PYTHON_BIN=$(bash rig/python.sh)    # $RIG_PYTHON_BIN/python, $RIG_PYTHON_BIN/pip
#
# Environment: RIG_CACHE (default /var/cache/swarm-platform-rig), RIG_PYTHON (default /usr/bin/python3,
# Debian's, with python3-venv).
set -euo pipefail
RIG_TAG=python
# shellcheck source=rig/sh/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/sh/common.sh"

# The SDK matches the CLI that rig/toolchain.sh builds (../shared/pulumi-toolchain).
PULUMI_SDK=pulumi==3.259.0
RIG_CACHE=${RIG_CACHE:-/var/cache/swarm-platform-rig}
python=${RIG_PYTHON:-/usr/bin/python3}
[[ -x $python ]] || die "$python not found (set RIG_PYTHON, or apt-get install python3 python3-venv)"

key=$({ sha256sum <"${BASH_SOURCE[0]}"; "$python" --version; } | sha256sum | cut -c1-16)
venv=$RIG_CACHE/python-$key
t0=$(now)
mkdir -p "$RIG_CACHE"
# One build at a time; a venv cannot be built elsewhere and moved (its scripts name their own path),
# so it is built in place and marked complete last.
exec 9>"$RIG_CACHE/.python.lock"
flock -w 900 9 || die "another python.sh holds $RIG_CACHE/.python.lock"
if [[ -f $venv/.done ]]; then
  log "cached: $venv ($(since "$t0") s)" >&2
else
  if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
    timeout 600 apt-get update -qq
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  rm -rf "$venv"
  "$python" -m venv "$venv"
  timeout 900 "$venv/bin/pip" install -q --disable-pip-version-check --no-cache-dir "$PULUMI_SDK" >&2
  touch "$venv/.done"
  # Older keys are dead weight once a new venv is complete.
  for old in "$RIG_CACHE"/python-*; do
    if [[ $old != "$venv" ]]; then rm -rf "$old"; fi
  done
  log "built: $venv ($(since "$t0") s)" >&2
fi
"$venv/bin/python" -c 'import pulumi, importlib.metadata as m; print("pulumi", m.version("pulumi"))' >&2
echo "$venv/bin"
