#!/usr/bin/env bash
# The real Pulumi engine for the live rig: builds (or finds cached) the CLI, the Node.js language host
# and the provider plugins with ../shared/pulumi-toolchain/build.sh, cached outside the repo by that
# recipe's content. With --languages, the same bin directory plus the YAML and Python language hosts
# from ../shared/pulumi-languages/build.sh (for the component package's consumers in those languages;
# the CLI finds a bundled host only beside its own executable, hence one directory for all).
# Prints the bin directory on stdout and how long it took on stderr.
#
#   RIG_PULUMI_BIN=$(bash rig/toolchain.sh)                # pulumi, nodejs host, providers
#   RIG_PULUMI_LANGUAGES_BIN=$(bash rig/toolchain.sh --languages)   # ... and the yaml and python hosts
#
# Environment: PULUMI_TOOLCHAIN_BUILD, PULUMI_LANGUAGES_BUILD (the build scripts, default under
# ../shared).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case ${1:-} in
  "") what=toolchain build=${PULUMI_TOOLCHAIN_BUILD:-$root/../shared/pulumi-toolchain/build.sh}
      hosts=(pulumi-language-nodejs) ;;
  --languages) what=languages build=${PULUMI_LANGUAGES_BUILD:-$root/../shared/pulumi-languages/build.sh}
      hosts=(pulumi-language-nodejs pulumi-language-yaml pulumi-language-python pulumi-language-python-exec) ;;
  *) echo "usage: toolchain.sh [--languages]" >&2; exit 2 ;;
esac
[[ -f $build ]] || { echo "[$what] ERROR: $build not found (set PULUMI_TOOLCHAIN_BUILD / PULUMI_LANGUAGES_BUILD)" >&2; exit 1; }
command -v patch >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq patch >/dev/null; }
[[ -x /usr/local/go/bin/go ]] && export PATH="/usr/local/go/bin:$PATH"

t0=$SECONDS
if bin=$(bash "$build" --if-cached); then
  echo "[$what] cached: $bin ($((SECONDS - t0)) s)" >&2
else
  bin=$(bash "$build")
  echo "[$what] built: $bin ($((SECONDS - t0)) s)" >&2
fi
for h in "${hosts[@]}"; do
  [[ -x $bin/$h ]] || { echo "[$what] ERROR: $bin has no $h" >&2; exit 1; }
done
"$bin/pulumi" version >&2
echo "$bin"
