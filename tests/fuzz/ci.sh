#!/usr/bin/env bash
# CI's bounded fuzzing run (make fuzz-ci): FUZZ_SECONDS (default 60) on each
# executor this machine offers (threads, and uring where io_uring works),
# starting from the seed corpus and the regression inputs; new inputs go to
# a scratch directory, never into the repository.  Prints libFuzzer's final
# "#N DONE cov: ... ft: ..." line per executor; fails on any crash, leak,
# timeout or invariant violation, whose input is kept in FUZZ_BUILD/crashes-EX/.
set -u
fbuild=${1:-build-fuzz}
build=${2:-build}
secs=${FUZZ_SECONDS:-60}
executors=${UAIO_EXECUTORS:-$("$build/executors" 2>/dev/null || echo threads)}
rc=0
for ex in $executors; do
	scratch=$(mktemp -d)
	log="$fbuild/fuzz-ci.$ex.log"
	mkdir -p "$fbuild/crashes-$ex"
	echo "fuzz [$ex]: $secs s: $fbuild/fuzz_uaio -max_total_time=$secs -timeout=10 -rss_limit_mb=2048 SCRATCH tests/fuzz/corpus tests/fuzz/regress"
	UAIO_EXECUTOR=$ex nice -n 10 "$fbuild/fuzz_uaio" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$fbuild/crashes-$ex/" \
		"$scratch" tests/fuzz/corpus tests/fuzz/regress >"$log" 2>&1
	r=$?
	grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 | sed "s/^/fuzz [$ex]: /"
	grep -E '^stat::number_of_executed_units' "$log" | sed "s/^/fuzz [$ex]: /"
	if [ $r -ne 0 ]; then
		echo "fuzz [$ex]: FAILED (exit $r); log $log, inputs in $fbuild/crashes-$ex/:"
		grep -E 'invariant violated|ERROR: |SUMMARY: |^artifact_prefix|Test unit written' "$log" | head -n 20 | sed 's/^/      /'
		rc=1
	fi
	rm -rf "$scratch"
done
exit $rc
