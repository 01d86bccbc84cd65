# Helpers every rig script sources: tagged log lines, timings, process liveness.
# The sourcing script sets RIG_TAG (e.g. images) before sourcing.

log() { printf '[%s] %s\n' "$RIG_TAG" "$*"; }
die() { printf '[%s] ERROR: %s\n' "$RIG_TAG" "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# A zombie still answers kill -0, and nobody may reap our children promptly.
alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n $st && $st != Z ]]
}
