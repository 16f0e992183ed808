#!/usr/bin/env bash
# SPEC §4 statistics, as `uaio-run -v` prints them: the counters, errors by
# errno name, peak in flight and percentiles of a known workload
# (tests/stats_counts), and two processes' UAIO_REPORT lines merged
# (tests/stats_process twice: counters and errors summed).
set -u
build=${UAIO_BUILD:-build}
run="$build/uaio-run"
[ -x "$run" ] && [ -x "$build/tests/stats_counts" ] || { echo "no $run or $build/tests/stats_counts"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uaio-stats.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0
want() {	# want FILE TEXT: FILE has a line containing TEXT
	grep -qF -- "$2" "$1" || { echo "FAIL: no '$2' in:"; cat "$1"; fail=1; }
}

"$run" -v "$build/tests/stats_counts" >/dev/null 2>"$tmp/one" || { cat "$tmp/one"; echo "FAIL: stats_counts"; exit 1; }
want "$tmp/one" "1 process, 1 context, 20 requests submitted, 20 completed"
want "$tmp/one" "2 cancelled)"
for e in "ENOSPC 3" "EPIPE 2" "ECANCELED 2"; do want "$tmp/one" "$e"; done
want "$tmp/one" "  errors:     7 ("
want "$tmp/one" "  in flight:  0 at exit, peak 5"
want "$tmp/one" "over 20 requests"
# Five requests were held >= 50 ms: p99.9 (the 20th of 20) is at least that.
p999=$(sed -nE '/^  latency:/s/.*p99\.9 ([0-9.]+) (ns|us|ms|s),.*/\1 \2/p' "$tmp/one")
awk -v v="$p999" 'BEGIN { split(v, a, " "); m = a[2] == "s" ? 1000 : a[2] == "ms" ? 1 : 0; exit !(a[1] * m >= 50) }' ||
	{ echo "FAIL: p99.9 '$p999' below 50 ms"; fail=1; }

"$run" -v sh -c "'$build/tests/stats_process' && '$build/tests/stats_process'" >/dev/null 2>"$tmp/two" ||
	{ cat "$tmp/two"; echo "FAIL: stats_process twice"; exit 1; }
want "$tmp/two" "2 processes, 4 contexts, 24 requests submitted, 24 completed"
want "$tmp/two" "  errors:     6 (EPIPE 6)"
want "$tmp/two" "  in flight:  0 at exit, peak "
want "$tmp/two" "over 24 requests"

[ $fail = 0 ] && cat "$tmp/one" "$tmp/two"
exit $fail
