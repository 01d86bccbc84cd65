#!/usr/bin/env bash
# The real Pulumi engine for the live rig: builds (or finds cached) the CLI, the Node.js language host
# and the provider plugins with ../shared/pulumi-toolchain/build.sh, cached outside the repo by that
# recipe's content. Prints the bin directory on stdout and how long it took on stderr.
#
#   RIG_PULUMI_BIN=$(bash rig/toolchain.sh)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${PULUMI_TOOLCHAIN_BUILD:-$root/../shared/pulumi-toolchain/build.sh}
[[ -f $build ]] || { echo "[toolchain] ERROR: $build not found (set PULUMI_TOOLCHAIN_BUILD)" >&2; exit 1; }
command -v patch >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq patch >/dev/null; }
[[ -x /usr/local/go/bin/go ]] && export PATH="/usr/local/go/bin:$PATH"

t0=$SECONDS
if bin=$(bash "$build" --if-cached); then
  echo "[toolchain] cached: $bin ($((SECONDS - t0)) s)" >&2
else
  bin=$(bash "$build")
  echo "[toolchain] built: $bin ($((SECONDS - t0)) s)" >&2
fi
"$bin/pulumi" version >&2
echo "$bin"
