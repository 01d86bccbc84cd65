# Phase times for rig/run and .ci/run, sourced by both: each phase's seconds and result appended to
# $TIMES_FILE as "phase<TAB>seconds<TAB>result" lines, and printed as one table at the end of a run,
# also when a phase failed. The sourcing script sets TIMES_FILE.

times_begin() { # phase
  TIMES_PHASE=$1
  TIMES_T0=$(date +%s)
}

# Closes the open phase, if any, with its result (ok, failed, ...).
times_end() { # result
  [[ -n ${TIMES_PHASE:-} ]] || return 0
  times_row "$TIMES_PHASE" "$(($(date +%s) - TIMES_T0))" "$1"
  TIMES_PHASE=
}

times_row() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$TIMES_FILE"; }

times_table() { # file...
  local phase seconds result
  printf '%-30s %8s  %s\n' phase seconds result
  cat "$@" | while IFS=$'\t' read -r phase seconds result; do
    printf '%-30s %8s  %s\n' "$phase" "$seconds" "$result"
  done
}

# Reads the live checks' output on stdin, passes it on unchanged, and writes one row per scenario to
# $1: from the line that starts it (`[checks] === NAME: ...`) to the next one or the end of the output,
# with the FAIL lines counted between. Rows from `scenario-time NAME SECONDS` lines, when the checks
# print them, go to $1.reported instead, and the table prefers those.
times_scenarios() { # rows-file
  local rows=$1 line name="" t0=0 failed=0
  close_scenario() {
    [[ -n $name ]] || return 0
    printf '  %s\t%s\t%s\n' "$name" "$(($(date +%s) - t0))" "$([[ $failed -eq 0 ]] && echo ok || echo "$failed failed")" >>"$rows"
  }
  while IFS= read -r line; do
    printf '%s\n' "$line"
    case $line in
      '[checks] === '*:*)
        close_scenario
        name=${line#'[checks] === '}
        name=${name%%:*}
        t0=$(date +%s) failed=0 ;;
      'FAIL '*) failed=$((failed + 1)) ;;
      'scenario-time '*)
        local _ reported seconds
        read -r _ reported seconds _ <<<"$line"
        printf '  %s\t%s\t%s\n' "$reported" "$seconds" reported >>"$rows.reported" ;;
    esac
  done
  close_scenario
}

# The scenario rows of a run: those the checks reported, else those derived from their output.
times_scenario_rows() { # rows-file
  if [[ -s $1.reported ]]; then cat "$1.reported"; elif [[ -s $1 ]]; then cat "$1"; fi
}
