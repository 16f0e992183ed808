#!/usr/bin/env bash
# Runs every test program in BUILD/tests once per executor, each under a
# timeout.  Exit codes: 0 pass, 77 skip, anything else (or a timeout) fail.
# Environment: UAIO_TEST_TIMEOUT (seconds, default 120), UAIO_TEST_ONLY
# (space-separated names), UAIO_TEST_WRAPPER (e.g. valgrind ...),
# UAIO_EXECUTORS (default: every executor this machine offers).
set -u
build=${1:-build}
dir="$build/tests"
timeout_s=${UAIO_TEST_TIMEOUT:-120}
executors=${UAIO_EXECUTORS:-$("$build/executors" 2>/dev/null || echo threads)}
logdir="$build/test-logs"
export UAIO_BUILD="$build"
mkdir -p "$logdir"
pass=0 fail=0 skip=0 failed=()

tests=()
if [ -n "${UAIO_TEST_ONLY:-}" ]; then
	for t in $UAIO_TEST_ONLY; do tests+=("$dir/$t"); done
else
	for t in "$dir"/*; do [ -x "$t" ] && [ -f "$t" ] && tests+=("$t"); done
fi

for ex in $executors; do
	for t in "${tests[@]}"; do
		name=$(basename "$t")
		log="$logdir/$name.$ex.log"
		start=$(date +%s.%N)
		# shellcheck disable=SC2086
		UAIO_EXECUTOR=$ex timeout -k 5 "$timeout_s" ${UAIO_TEST_WRAPPER:-} "$t" >"$log" 2>&1
		rc=$?
		secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}')
		case $rc in
		0) pass=$((pass+1)); echo "PASS  $name [$ex] (${secs}s)";;
		77) skip=$((skip+1)); echo "SKIP  $name [$ex]: $(tail -n 1 "$log")";;
		124|137) fail=$((fail+1)); failed+=("$name[$ex]"); echo "FAIL  $name [$ex]: timeout after ${timeout_s}s"; tail -n 20 "$log" | sed 's/^/      /';;
		*) fail=$((fail+1)); failed+=("$name[$ex]"); echo "FAIL  $name [$ex]: exit $rc"; tail -n 20 "$log" | sed 's/^/      /';;
		esac
	done
done
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
if [ $skip -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ $fail -eq 0 ]
