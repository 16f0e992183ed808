#!/usr/bin/env bash
# UAIO_CHECK for unmodified programs: a libaio program
# (tests/compat/check_prog.c, linked -laio) that submits an iocb again
# while it is in flight, twice from one site, gets one finding line with a
# backtrace and a summary counting both, under `uaio-run --check` (uaio's
# libaio.so.1) and `uaio-run --syscalls --check` (the system libaio's
# system calls trapped); the same program without the bug gets none;
# UAIO_CHECK=halt (kept by --check) aborts it at the first finding.
# Environment: UAIO_BUILD, CC, UAIO_TEST_CFLAGS (as libaio_compare.sh).
# Exit: 0 pass, 77 skip, 1 fail.
set -u
build=${UAIO_BUILD:-build}
src=tests/compat/check_prog.c
bin="$build/compat/check_prog"
fail=0
[ -f /usr/include/libaio.h ] || { echo "skipped: libaio.h not installed (Debian package libaio-dev)"; exit 77; }
[ -f "$src" ] || { echo "FAIL: run from the repository root"; exit 1; }
[ -x "$build/uaio-run" ] && [ -f "$build/lib/uaio/libaio.so.1" ] || { echo "FAIL: make lib tools first"; exit 1; }

san=
case $(readelf -d "$build/lib/uaio/libaio.so.1" 2>/dev/null) in
*libasan*) san=asan;;
*libtsan*) san=tsan;;
esac
cflags=${UAIO_TEST_CFLAGS-}
if [ -z "${UAIO_TEST_CFLAGS+x}" ]; then
	case $san in
	asan) cflags=-fsanitize=address;;
	tsan) cflags=-fsanitize=thread;;
	esac
fi
mkdir -p "$build/compat"
# shellcheck disable=SC2086
${CC:-cc} -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE $cflags -o "$bin" "$src" -laio ||
	{ echo "FAIL: could not compile $src"; exit 1; }
export TSAN_OPTIONS="die_after_fork=0:${TSAN_OPTIONS:-}"
export ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}"
err=$(mktemp "${TMPDIR:-/tmp}/uaio-check-run.XXXXXX")
trap 'rm -f "$err"' EXIT

# route NAME: runs the program ($@) on route NAME, stderr in $err.
route() {
	local name=$1; shift
	case $name in
	libaio) "$build/uaio-run" --check "$bin" "$@" 2>"$err" >/dev/null;;
	syscalls)
		if [ -z "$san" ]; then
			"$build/uaio-run" --syscalls --check "$bin" "$@" 2>"$err" >/dev/null
		else	# as uaio-run --syscalls does, the sanitizer's runtime first
			LD_PRELOAD="$(${CC:-cc} -print-file-name="lib$san.so"):$build/lib/uaio/libuaio-preload.so" \
				UAIO_SYSCALLS=1 UAIO_CHECK=${UAIO_CHECK:-1} "$bin" "$@" 2>"$err" >/dev/null
		fi;;
	esac
}

bad() { echo "FAIL $*"; sed 's/^/    /' "$err"; fail=1; }

routes=libaio
# TSan's runtime and the preloaded SIGSYS/sigaction interposers do not mix
# (see syscalls_compare.sh).
[ "$san" = tsan ] || routes="libaio syscalls"
for r in $routes; do
	route $r dup || { bad "$r dup: exit $?"; continue; }
	n=$(grep -c '^uaio-check: iocb-in-flight: ' "$err")
	[ "$n" = 1 ] || { bad "$r dup: $n finding lines, want 1"; continue; }
	grep -q '^uaio-check: 2 findings (1 distinct sites): iocb-in-flight 2$' "$err" ||
		{ bad "$r dup: no summary of 2 findings at 1 site"; continue; }
	grep -q 'check_prog' "$err" || { bad "$r dup: the backtrace does not reach the program"; continue; }
	echo "ok   $r: one finding line, backtrace, summary"

	route $r || { bad "$r clean: exit $?"; continue; }
	if grep -q '^uaio-check: [a-z-]*: ' "$err" || ! grep -q '^uaio-check: 0 findings' "$err"; then
		bad "$r clean: finding lines, or no summary"; continue
	fi
	echo "ok   $r: the correct program gets no finding"

	UAIO_CHECK=halt route $r dup
	rc=$?
	[ $rc = 134 ] || { bad "$r halt: exit $rc, want 134 (SIGABRT)"; continue; }
	n=$(grep -c '^uaio-check: iocb-in-flight: ' "$err")
	[ "$n" = 1 ] || { bad "$r halt: $n finding lines, want 1"; continue; }
	echo "ok   $r: UAIO_CHECK=halt aborts at the first finding"
done
[ $fail = 0 ]
