#!/usr/bin/env bash
# Issue 3: Debian's own fio binary, unmodified, with --ioengine=libaio, runs
# on uaio through uaio-run: random and sequential reads and writes,
# buffered and O_DIRECT, crc32c write-then-verify, userspace_reap (fio
# reads our ring directly), submit/complete batching, fsync=N, several
# job processes and threads.  Every job must finish with error 0 (fio
# fails a job whose verify finds a bad block), and uaio's counters must
# show that uaio, not the kernel, served every request.
set -u
build=${UAIO_BUILD:-build}
run="$build/uaio-run"
command -v fio >/dev/null || { echo "fio is not installed (apt-get install -y fio)"; exit 77; }
[ -x "$run" ] && [ -f "$build/lib/uaio/libaio.so.1" ] || { echo "no $run or $build/lib/uaio/libaio.so.1"; exit 1; }
case "${UAIO_SAN:-}" in
asan)	# fio is not instrumented: load the sanitizer runtime first.
	export LD_PRELOAD=$(${CC:-cc} -print-file-name=libasan.so)
	export ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}";;
tsan)	echo "fio cannot load a TSan-instrumented library (TSan must be linked into the executable)"; exit 77;;
esac

dir=$(mktemp -d "${TMPDIR:-/tmp}/uaio-fio.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail=0

# job NAME FIO-ARGS...: runs fio on uaio, checks every job's error field
# and that uaio counted at least as many requests as fio issued.
job() {
	local name=$1; shift
	local out="$dir/$name.out" err="$dir/$name.err"
	"$run" -v ${runargs:-} fio --name="$name" --ioengine=libaio --directory="$dir" --size=8M \
		--output-format=terse --terse-version=3 --verify_state_save=0 "$@" >"$out" 2>"$err"
	local rc=$? line ios
	line=$(grep '^uaio-run:' "$err")
	if [ $rc -ne 0 ]; then
		echo "FAIL $name: fio exited $rc"; tail -n 15 "$out" "$err"; fail=1; return
	fi
	# terse v3: field 5 is the job's error.
	if awk -F';' '$1 == 3 && $5 != 0 { bad = 1 } END { exit !bad }' "$out"; then
		echo "FAIL $name: a job reported an error"; cat "$out"; fail=1; return
	fi
	case $line in
	*"served by uaio"*) ;;
	*) echo "FAIL $name: uaio did not serve the run: ${line:-no report}"; fail=1; return;;
	esac
	ios=$(sed -E 's/.* ([0-9]+) requests submitted, ([0-9]+) completed.*/\1 \2/' <<<"$line")
	set -- $ios
	if [ "$1" -lt "${min_ios:-1000}" ] || [ "$1" != "$2" ]; then
		echo "FAIL $name: submitted $1, completed $2 (want >= ${min_ios:-1000}, equal)"; fail=1; return
	fi
	echo "ok   $name: $line"
}

direct=1
if ! dd if=/dev/zero of="$dir/probe" bs=4096 count=1 oflag=direct 2>/dev/null; then
	echo "note: $dir refuses O_DIRECT; O_DIRECT jobs run buffered"
	direct=0
fi
rm -f "$dir/probe"

# 8 MiB of 4 KiB blocks = 2048 writes, then 2048 verify reads.
min_ios=4000 job randwrite_verify_buffered --rw=randwrite --bs=4k --iodepth=16 --verify=crc32c --do_verify=1
min_ios=4000 job randwrite_verify_direct --rw=randwrite --bs=4k --iodepth=32 --direct=$direct --verify=crc32c --do_verify=1
min_ios=200 job seqwrite_verify_direct --rw=write --bs=64k --iodepth=8 --direct=$direct --verify=crc32c --do_verify=1
min_ios=2048 job randrw_verify --rw=randrw --bs=4k --iodepth=16 --verify=crc32c --do_verify=1 --verify_backlog=256
min_ios=2000 job randread_userspace_reap --rw=randread --bs=4k --iodepth=32 --direct=$direct \
	--userspace_reap=1 --iodepth_batch_complete_min=0
min_ios=2000 job randread_batched --rw=randread --bs=4k --iodepth=64 --iodepth_batch_submit=16 \
	--iodepth_batch_complete_min=8 --iodepth_batch_complete_max=32
min_ios=64 job seqread_buffered --rw=read --bs=128k --iodepth=8
# fio's libaio engine issues the fsync itself, synchronously, between batches.
min_ios=2048 job randwrite_fsync --rw=randwrite --bs=4k --iodepth=8 --fsync=16
runargs=--preload min_ios=2048 job randread_preloaded --rw=randread --bs=4k --iodepth=16
min_ios=6000 job three_processes --rw=randwrite --bs=4k --iodepth=16 --numjobs=3 --verify=crc32c --do_verify=1
min_ios=6000 job three_threads --thread --rw=randwrite --bs=4k --iodepth=16 --numjobs=3 --direct=$direct \
	--verify=crc32c --do_verify=1

[ $fail -eq 0 ] || exit 1
echo "fio: every job passed on uaio, every verify clean"
