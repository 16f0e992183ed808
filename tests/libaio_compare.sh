#!/usr/bin/env bash
# SPEC §4: a program compiled against Debian's <libaio.h> and linked -laio
# gets the same answers from uaio's drop-in libaio.so.1 as from Debian's
# libaio (the kernel's AIO).  tests/compat/libaio_cases.c prints one line
# per case; it is run once on each library and the outputs are compared,
# except for the intended differences listed (with uaio's expected line)
# in tests/compat/differences.txt.
# Environment: UAIO_BUILD (build dir, default build), CC, UAIO_TEST_CFLAGS
# (extra compiler flags, e.g. sanitizers; when unset and the library was
# built with ASan or TSan, the matching -fsanitize flag is added).
# Exit: 0 pass, 77 skip (last line says why), 1 fail.
set -u
build=${UAIO_BUILD:-build}
cc=${CC:-cc}
src=tests/compat/libaio_cases.c
difffile=tests/compat/differences.txt
header=/usr/include/libaio.h
compat_dir="$build/lib/uaio"
compat="$compat_dir/libaio.so.1"
out="$build/compat"
bin="$out/libaio_cases"

fail() { echo "FAIL: $*"; exit 1; }

[ -f "$header" ] || { echo "skipped: $header not installed (Debian package libaio-dev)"; exit 77; }
sys_lib=$($cc -print-file-name=libaio.so.1)
sys_dev=$($cc -print-file-name=libaio.so)
if [ "$sys_lib" = libaio.so.1 ] || [ ! -e "$sys_lib" ] || [ "$sys_dev" = libaio.so ]; then
	echo "skipped: Debian's libaio.so.1 / libaio.so not found (packages libaio1, libaio-dev)"
	exit 77
fi
[ -f "$src" ] && [ -f "$difffile" ] || fail "run from the repository root ($src, $difffile)"
[ -e "$compat" ] || fail "$compat not built (make lib)"
sys_real=$(readlink -f "$sys_lib")
compat_real=$(readlink -f "$compat")

cflags=${UAIO_TEST_CFLAGS-}
if [ -z "${UAIO_TEST_CFLAGS+x}" ]; then
	needed=$(readelf -d "$compat" 2>/dev/null)
	case $needed in
	*libasan*) cflags="-fsanitize=address";;
	*libtsan*) cflags="-fsanitize=thread";;
	esac
fi

mkdir -p "$out" || fail "mkdir $out"
# shellcheck disable=SC2086
$cc -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE $cflags -o "$bin" "$src" -laio ||
	fail "could not compile $src"

# Run 1: Debian's libaio, i.e. the kernel.  Run 2: uaio's libaio.so.1.
env -u LD_LIBRARY_PATH "$bin" >"$out/libaio_cases.kernel.out" 2>"$out/libaio_cases.kernel.err"
rc=$?
[ $rc -eq 0 ] || { tail -n 20 "$out/libaio_cases.kernel.err"; fail "run on Debian's libaio exited $rc"; }
LD_LIBRARY_PATH="$compat_dir" "$bin" >"$out/libaio_cases.uaio.out" 2>"$out/libaio_cases.uaio.err"
rc=$?
[ $rc -eq 0 ] || { tail -n 20 "$out/libaio_cases.uaio.err"; fail "run on uaio's libaio.so.1 exited $rc"; }

# Which object served io_submit in each run (the program reports it).
prov_k=$(sed -n 's/^provider: //p' "$out/libaio_cases.kernel.err")
prov_u=$(sed -n 's/^provider: //p' "$out/libaio_cases.uaio.err")
[ "$prov_k" = "$sys_real" ] || fail "first run's io_submit came from '$prov_k', not Debian's $sys_real"
[ "$prov_u" = "$compat_real" ] || fail "second run's io_submit came from '$prov_u', not $compat_real"

nk=$(wc -l <"$out/libaio_cases.kernel.out")
[ "$nk" -gt 0 ] || fail "no output from the cases"

# Intended differences: check uaio's line, leave the case out of the diff.
declare -A listed=()
errors=0
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
	lineno=$((lineno + 1))
	case $line in '' | '#'*) continue;; esac
	IFS=$'\t' read -r name expect reason extra <<<"$line"
	if [ -z "${name:-}" ] || [ -z "${expect:-}" ] || [ -z "${reason:-}" ] || [ -n "${extra:-}" ]; then
		echo "$difffile:$lineno: want name<TAB>uaio line<TAB>reason"
		errors=$((errors + 1))
		continue
	fi
	case $expect in "$name: "*) ;; *)
		echo "$difffile:$lineno: the expected line must start with '$name: '"
		errors=$((errors + 1))
		continue;;
	esac
	listed[$name]=1
	got_u=$(awk -v n="$name: " 'index($0, n) == 1 { print; exit }' "$out/libaio_cases.uaio.out")
	got_k=$(awk -v n="$name: " 'index($0, n) == 1 { print; exit }' "$out/libaio_cases.kernel.out")
	if [ "$got_u" != "$expect" ]; then
		echo "intended difference $name: uaio printed"
		echo "    ${got_u:-<nothing>}"
		echo "  but differences.txt expects"
		echo "    $expect"
		errors=$((errors + 1))
	elif [ -z "$got_k" ]; then
		echo "intended difference $name: no such case in the kernel's run"
		errors=$((errors + 1))
	elif [ "$got_k" = "$got_u" ]; then
		echo "intended difference $name: both runs print '$got_k'; take it out of $difffile"
		errors=$((errors + 1))
	fi
done <"$difffile"

# TSan delivers signals itself, deferred to its interceptors' exits, so a
# signal that the kernel leaves pending under a restored mask may be handled
# inside the wait: that case compares the sanitizer, not uaio, under TSan.
tsan_only=
if [ "${UAIO_SAN:-}" = tsan ]; then
	tsan_only=pgetevents_sigmask_eintr
	echo "note: under TSan, $tsan_only is not compared (TSan's deferred signal delivery)"
fi

filter() {
	awk -v names="${!listed[*]} $tsan_only" '
		BEGIN { n = split(names, a, " "); for (i = 1; i <= n; i++) skip[a[i] ": "] = 1 }
		{ p = index($0, ": "); if (!((p ? substr($0, 1, p + 1) : "") in skip)) print }' "$1"
}
filter "$out/libaio_cases.kernel.out" >"$out/libaio_cases.kernel.cmp"
filter "$out/libaio_cases.uaio.out" >"$out/libaio_cases.uaio.cmp"
if ! diff -u --label "Debian libaio (kernel)" --label "uaio libaio.so.1" \
	"$out/libaio_cases.kernel.cmp" "$out/libaio_cases.uaio.cmp" >"$out/libaio_cases.diff"; then
	echo "uaio differs from the kernel (- kernel, + uaio):"
	cat "$out/libaio_cases.diff"
	errors=$((errors + 1))
fi

total=$(wc -l <"$out/libaio_cases.kernel.cmp")
differ=$(grep -c '^-[^-]' "$out/libaio_cases.diff")
skipped=$(grep -c ': skipped$' "$out/libaio_cases.kernel.cmp")
summary="$((total - differ)) cases identical ($skipped skipped on both), ${#listed[@]} intended differences"
if [ "$errors" -ne 0 ]; then
	echo "$summary, $differ cases differ"
	echo "FAIL: $errors problem(s); outputs in $out/"
	exit 1
fi
echo "$summary"
exit 0
