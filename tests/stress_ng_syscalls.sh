#!/usr/bin/env bash
# Issue 7: a real raw-syscall AIO user from Debian runs on uaio.  stress-ng's
# aiol stressor issues io_setup/io_submit/io_getevents/io_pgetevents/
# io_destroy as system calls (it does not link libaio; see `ldd`).  Run
# with --verify under `uaio-run -v --syscalls`: stress-ng must pass and
# uaio's counters must show that uaio served its requests.
set -u
build=${UAIO_BUILD:-build}
command -v stress-ng >/dev/null || { echo "stress-ng is not installed (apt-get install -y stress-ng)"; exit 77; }
ldd "$(command -v stress-ng)" | grep -q libaio && { echo "this stress-ng links libaio: not a raw-syscall user"; exit 77; }
case "${UAIO_SAN:-}" in
asan)	export LD_PRELOAD=$(${CC:-cc} -print-file-name=libasan.so)
	export ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}";;
tsan)	echo "stress-ng cannot load a TSan-instrumented library (TSan must be linked into the executable)"; exit 77;;
esac
case $build in
/*)	run=$build/uaio-run;;
*)	run=$PWD/$build/uaio-run;;
esac
dir=$(mktemp -d "${TMPDIR:-/tmp}/uaio-stress.XXXXXX")
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
"$run" -v --syscalls stress-ng --aiol 1 --aiol-ops 1500 --verify -t 60 \
	--temp-path "$dir" >out 2>&1
rc=$?
cat out
[ $rc -eq 0 ] || { echo "FAIL: stress-ng exited $rc"; exit 1; }
grep -q 'successful run completed' out || { echo "FAIL: stress-ng did not report success"; exit 1; }
# stress-ng's own lines only: uaio-run's block has an "errors:" line.
grep '^stress-ng' out | grep -qiE 'fail|error' && { echo "FAIL: stress-ng reported a failure"; exit 1; }
line=$(grep 'served by uaio' out) || { echo "FAIL: uaio did not serve stress-ng"; exit 1; }
n=$(sed -E 's/.* ([0-9]+) requests submitted, ([0-9]+) completed.*/\1 \2/' <<<"$line")
set -- $n
[ "$1" -ge 1500 ] && [ "$1" = "$2" ] || { echo "FAIL: submitted $1, completed $2"; exit 1; }
echo "stress-ng aiol on uaio: $1 requests, all completed, verify clean"
