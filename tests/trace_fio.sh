#!/usr/bin/env bash
# Issue 15, part 2: UAIO_TRACE on an unmodified program.  Debian's fio
# (--ioengine=libaio) runs through uaio-run, by the library route and by
# the --syscalls route, with UAIO_TRACE set.  The trace (fio's iolog v3)
# must hold exactly the requests fio says it issued (its own
# --write_iolog), in the same order; then Debian's fio replays the trace
# (--read_iolog, psync engine) and the requests the replay issued (its
# per-I/O latency log, --log_offset=1: direction, length, offset) must be
# the trace's, in order.  (fio refuses --write_iolog together with
# --read_iolog, hence the latency log.)
set -u
build=${UAIO_BUILD:-build}
run="$build/uaio-run"
command -v fio >/dev/null || { echo "fio is not installed (apt-get install -y fio)"; exit 77; }
[ -x "$run" ] && [ -f "$build/lib/uaio/libaio.so.1" ] || { echo "no $run or $build/lib/uaio/libaio.so.1"; exit 1; }
preload_rt=
case "${UAIO_SAN:-}" in
asan)	# fio is not instrumented: load the sanitizer runtime first.
	preload_rt=$(${CC:-cc} -print-file-name=libasan.so)
	export ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}";;
tsan)	echo "fio cannot load a TSan-instrumented library (TSan must be linked into the executable)"; exit 77;;
esac

dir=$(mktemp -d "${TMPDIR:-/tmp}/uaio-trace-fio.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail=0

# ops FILE: "read OFFSET LENGTH" / "write ..." lines of an iolog (v2 or v3).
ops() {
	awk 'NR > 1 { n = NF; if ($(n-2) == "read" || $(n-2) == "write") print $(n-2), $(n-1), $n }' "$1"
}

# record NAME ROUTE: fio through uaio-run (ROUTE: lib or syscalls) with
# UAIO_TRACE=$dir/NAME.trace; sets $trace to the one trace file with I/O.
record() {
	local name=$1 route=$2 f n=0
	local args=(--name="$name" --ioengine=libaio --directory="$dir" --size=4M --bsrange=512-16k
		--rw=randrw --iodepth=8 --iodepth_batch_submit=4 --norandommap --output-format=terse
		--write_iolog="$dir/$name.fio")
	if [ "$route" = syscalls ]; then
		if [ -n "$preload_rt" ]; then
			LD_PRELOAD="$preload_rt:$build/lib/uaio/libuaio-preload.so" UAIO_SYSCALLS=1 \
				UAIO_TRACE="$dir/$name.trace" fio "${args[@]}" >"$dir/$name.out" 2>&1
		else
			UAIO_TRACE="$dir/$name.trace" "$run" --syscalls fio "${args[@]}" >"$dir/$name.out" 2>&1
		fi
	else
		LD_PRELOAD=$preload_rt UAIO_TRACE="$dir/$name.trace" "$run" fio "${args[@]}" >"$dir/$name.out" 2>&1
	fi || { echo "FAIL $name: fio exited $?"; tail "$dir/$name.out"; fail=1; return 1; }
	trace=
	for f in "$dir/$name.trace".*; do	# one per process that did I/O (fio forks its job)
		[ -f "$f" ] || continue
		n=$((n + 1))
		trace=$f
	done
	[ "$n" = 1 ] || { echo "FAIL $name: want one trace file, found $n"; ls "$dir"; fail=1; return 1; }
	head -n 1 "$trace" | grep -qx 'fio version 3 iolog' || { echo "FAIL $name: no v3 header"; fail=1; return 1; }
	# timestamps never go back
	awk 'NR > 1 && $1 < last { bad = 1 } NR > 1 { last = $1 } END { exit bad }' "$trace" ||
		{ echo "FAIL $name: timestamps go back"; fail=1; return 1; }
	return 0
}

# same NAME WHAT A B: the op sequences A and B (files) must be equal.
same() {
	if ! cmp -s "$3" "$4"; then
		echo "FAIL $1: $2 differ ($(wc -l <"$3") vs $(wc -l <"$4") requests)"
		diff "$3" "$4" | head -n 10
		fail=1
		return 1
	fi
	echo "ok   $1: $2: $(wc -l <"$3") requests"
}

check_route() {
	local name=$1 route=$2
	record "$name" "$route" || return
	ops "$trace" >"$dir/$name.trace.ops"
	ops "$dir/$name.fio" >"$dir/$name.fio.ops"
	[ "$(wc -l <"$dir/$name.trace.ops")" -ge 200 ] || { echo "FAIL $name: too few requests traced"; fail=1; return; }
	same "$name" "trace vs fio's own log" "$dir/$name.fio.ops" "$dir/$name.trace.ops" || return
	# replay the trace with Debian's fio, on its own engine
	LD_PRELOAD= fio --name=replay --ioengine=psync --read_iolog="$trace" --replay_no_stall=1 \
		--write_lat_log="$dir/$name.rep" --log_offset=1 --output-format=terse >"$dir/$name.rep.out" 2>&1 ||
		{ echo "FAIL $name: the replay exited $?"; tail "$dir/$name.rep.out"; fail=1; return; }
	awk -F', *' '{ print ($3 == 0 ? "read" : "write"), $5, $4 }' "$dir/$name.rep_lat.1.log" >"$dir/$name.rep.ops"
	same "$name" "replay vs trace" "$dir/$name.trace.ops" "$dir/$name.rep.ops"
}

check_route record_lib lib
if [ "${UAIO_SAN:-}" = tsan ]; then
	echo "note: --syscalls route skipped under TSan"
else
	check_route record_syscalls syscalls
fi
[ $fail -eq 0 ] || exit 1
echo "trace: fio's requests traced and replayed exactly"
