#!/usr/bin/env bash
# Issue 12: intercept_pgetevents (libaio's io_setup/io_submit/io_destroy,
# raw io_pgetevents) run unmodified under `uaio-run --syscalls`, where the
# preload library, not the program, starts interception: the same answers
# on every executor.  (intercept_pgetevents itself compares them with the
# kernel's.)
set -u
build=${UAIO_BUILD:-build}
bin="$build/tests/intercept_pgetevents"
fail() { echo "FAIL: $*"; exit 1; }
if [ "${UAIO_SAN:-}" = tsan ]; then
	# As in syscalls_compare.sh: the preload cannot run under TSan's runtime;
	# intercept_pgetevents covers interception under TSan.
	echo "skipped: the preload library cannot run under TSan's runtime"
	exit 77
fi
[ -x "$bin" ] || fail "no $bin"
[ -f "$build/lib/uaio/libuaio-preload.so" ] || fail "no $build/lib/uaio/libuaio-preload.so"
case "${UAIO_SAN:-}" in
'')	"$build/uaio-run" --syscalls "$bin";;
*)	# What uaio-run --syscalls does, with the sanitizer's runtime first.
	rt=$(${CC:-cc} -print-file-name="lib${UAIO_SAN}.so")
	LD_PRELOAD="$rt:$build/lib/uaio/libuaio-preload.so" UAIO_SYSCALLS=1 "$bin";;
esac
rc=$?
[ $rc -eq 0 ] || [ $rc -eq 77 ] || fail "intercept_pgetevents under uaio-run --syscalls exited $rc"
exit $rc
