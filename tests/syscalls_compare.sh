#!/usr/bin/env bash
# Issue 7: the SPEC section 2 cases of tests/compat/libaio_cases.c, built as a
# raw-syscall program (tests/compat/raw_aio.c instead of libaio), give the
# kernel's answers under `uaio-run --syscalls`: one run on the kernel, one
# intercepted, diffed in the same test; the intended differences of
# tests/compat/differences.txt must show uaio's line.  uaio's report must
# show that uaio, not the kernel, served the intercepted run.
set -u
build=${UAIO_BUILD:-build}
out="$build/compat"
bin="$out/raw_cases"
difffile=tests/compat/differences.txt
fail() { echo "FAIL: $*"; exit 1; }
[ -f /usr/include/libaio.h ] || { echo "skipped: libaio.h (libaio-dev) is needed for the case program's types"; exit 77; }
if [ "${UAIO_SAN:-}" = tsan ]; then
	# TSan's runtime and the preloaded SIGSYS/sigaction interposers crash at
	# start-up; intercept_syscalls covers interception under TSan.
	echo "skipped: the preload library cannot run under TSan's runtime"
	exit 77
fi
[ -f "$build/lib/uaio/libuaio-preload.so" ] || fail "no $build/lib/uaio/libuaio-preload.so"
mkdir -p "$out"
# shellcheck disable=SC2086
${CC:-cc} -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE ${UAIO_TEST_CFLAGS:-} -o "$bin" \
	tests/compat/libaio_cases.c tests/compat/raw_aio.c || fail "could not compile the raw-syscall case program"
nm -D "$bin" | grep -q ' U io_submit' && fail "$bin still imports io_submit"

"$bin" >"$bin.kernel" 2>"$bin.kernel.err"
rc=$?
[ $rc -eq 0 ] || { tail "$bin.kernel.err"; fail "kernel run exited $rc"; }
case "${UAIO_SAN:-}" in
'')	"$build/uaio-run" -v --syscalls "$bin" >"$bin.uaio" 2>"$bin.uaio.err"
	rc=$?;;
*)	# What uaio-run --syscalls does, without running bash itself under the
	# sanitizer runtime, which must come first in the preload list.
	rt=$(${CC:-cc} -print-file-name="lib${UAIO_SAN}.so")
	: >"$bin.report"	# uaio appends to an existing report file only
	LD_PRELOAD="$rt:$build/lib/uaio/libuaio-preload.so" UAIO_SYSCALLS=1 UAIO_REPORT="$bin.report" \
		"$bin" >"$bin.uaio" 2>"$bin.uaio.err"
	rc=$?
	awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
	     END { if (v["setups"] > 0 && v["submitted"] > 0 && v["submitted"] == v["completed"])
			printf "uaio-run: served by uaio, executor %s: %d contexts, %d requests submitted, %d completed\n",
				v["executors"], v["setups"], v["submitted"], v["completed"] }' "$bin.report" >>"$bin.uaio.err";;
esac
[ $rc -eq 0 ] || { tail "$bin.uaio.err"; fail "intercepted run exited $rc"; }
grep -q 'served by uaio' "$bin.uaio.err" || { tail -n 3 "$bin.uaio.err"; fail "uaio did not serve the intercepted run"; }

names=$(grep -v '^#' "$difffile" | cut -f1 | grep .)
filter() { awk -v names="$names" 'BEGIN { n = split(names, a, "\n"); for (i = 1; i <= n; i++) skip[a[i]] = 1 }
	{ split($0, f, ":"); if (!(f[1] in skip)) print }' "$1"; }
if ! diff -u <(filter "$bin.kernel") <(filter "$bin.uaio"); then
	fail "intercepted answers differ from the kernel's (- kernel, + uaio)"
fi
while IFS=$'\t' read -r name line _; do
	case $name in ''|'#'*) continue;; esac
	grep -qxF "$line" "$bin.uaio" || fail "intended difference $name: want '$line', got '$(grep "^$name:" "$bin.uaio")'"
done <"$difffile"
echo "raw syscalls: $(filter "$bin.uaio" | wc -l) cases identical to the kernel, $(echo "$names" | wc -l) intended differences"
grep 'served by uaio' "$bin.uaio.err"
exit 0
