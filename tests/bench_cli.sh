#!/usr/bin/env bash
# Issue 6: uaio-bench's command line, on tiny sizes and run times.  Checks
# structure and correctness only, never timing: every engine has a row in
# every table, --json parses and holds IOPS > 0 for each engine, --verify
# on writes finds 0 mismatches, bad input exits 2 with one line on stderr,
# no progress line when stderr is not a terminal, the temporary file is
# removed, --cost prints its rows, --flat its table, and an engine whose
# executor this build may lack (uaio-kaio) either runs or is reported as
# left out with the reason.
set -u
build=${UAIO_BUILD:-build}
bench="$build/uaio-bench"
[ -x "$bench" ] || { echo "no $bench (make $bench)"; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/uaio-bench-cli.XXXXXX")
rfs=""
cleanup() {
	[ -n "$rfs" ] && umount "$rfs" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
# The bench's temporary files go here, so we can see that none is left.
export TMPDIR="$dir/tmp"
mkdir -p "$TMPDIR"
fail=0
bad() { echo "FAIL: $*"; fail=1; }
have_py=0
command -v python3 >/dev/null && python3 -c 'import json' 2>/dev/null && have_py=1
[ $have_py -eq 1 ] || echo "note: no python3: JSON checked with grep only"

tiny=(--size 8M --runtime 0.15 --ramp 0.05)

# Engines expected in the tables: the default set, minus what the bench
# itself reports as left out on this machine.
expected_engines() { # OUT
	local e
	for e in kaio uaio uaio-nocheck uaio-uring uaio-kaio io_uring posix-aio sync; do
		grep -q "^# $e left out:" "$1" || echo "$e"
	done
}

# json_check FILE WANT_VERIFY: parses, every engine of every workload that
# ran has iops > 0 (and 0 verify mismatches when WANT_VERIFY is 1).
json_check() {
	local f=$1 verify=$2
	if [ $have_py -eq 1 ]; then
		python3 - "$f" "$verify" <<'EOF' || bad "$f: JSON check failed"
import json, sys
d = json.load(open(sys.argv[1]))
want_verify = sys.argv[2] == "1"
n = 0
for w in d["workloads"]:
    if not w["ran"]:
        continue
    for e in w["engines"]:
        assert e["available"], e
        assert e["iops"] > 0, (w["name"], e["engine"], e["iops"])
        assert e["ops"] > 0 and e["lat_ns"]["p50"] > 0, e
        assert e["lat_ns"]["p50"] <= e["lat_ns"]["p99"] <= e["lat_ns"]["p99.9"] <= e["lat_ns"]["max"], e
        if want_verify:
            assert e["verify"]["checked"] > 0 and e["verify"]["mismatches"] == 0, e
        n += 1
assert n > 0
print("json ok: %d engine rows" % n)
EOF
	else
		grep -q '"workloads":\[' "$f" || bad "$f: no workloads"
		grep -q '"iops":0[,}]' "$f" && bad "$f: an engine has 0 IOPS"
		[ "$verify" = 1 ] && grep -q '"mismatches":[1-9]' "$f" && bad "$f: verify mismatches"
	fi
}

# 1. The default comparison, shrunk: the three tables (buffered, O_DIRECT,
# cold), every engine, piped.
out="$dir/default.out" err="$dir/default.err"
"$bench" "${tiny[@]}" --json "$dir/default.json" >"$out" 2>"$err"
rc=$?
[ $rc -eq 0 ] || { bad "default run exited $rc"; cat "$out" "$err"; }
[ -s "$err" ] && { bad "stderr not empty when piped (progress line?)"; cat -A "$err" | head -5; }
grep -q $'\r' "$out" && bad "a carriage return in piped stdout"
tables=$(grep -c '^engine ' "$out")
[ "$tables" = 3 ] || bad "expected 3 tables (buffered, O_DIRECT, cold), got $tables"
grep -q ': buffered, cold page cache$' "$out" || bad "no cold page cache table"
for e in $(expected_engines "$out"); do
	n=$(grep -c "^$e " "$out")
	[ "$n" = 3 ] || bad "engine $e: $n rows, expected one per table"
done
grep -q '^uaio-kaio-nocheck ' "$out" && bad "uaio-kaio-nocheck is not in the default set"
grep -q "^kaio .* 1.00 " "$out" || bad "kaio (the baseline) has no 1.00 ratio"
grep -q '^# uaio-uring left out' "$out" && echo "note: $(grep '^# uaio-uring left out' "$out" | head -1)"
grep -q '^# uaio-kaio left out' "$out" && echo "note: $(grep '^# uaio-kaio left out' "$out" | head -1)"
json_check "$dir/default.json" 0
left=$(ls -A "$TMPDIR")
[ -z "$left" ] || bad "temporary file left behind: $left"

# 2. Writes with --verify, on several files, mixed, fsync, two jobs.
# Under TSan, glibc's POSIX AIO threads (uninstrumented) crash TSan's race
# reporter on writes; the other engines are still verified there.
wr_engines=() pa=,posix-aio
if [ "${UAIO_SAN:-}" = tsan ]; then
	wr_engines=(--engines kaio,uaio,uaio-nocheck,uaio-uring,uaio-kaio,io_uring,sync) pa=
	echo "note: TSan build: write/verify runs leave posix-aio out"
fi
out="$dir/verify.out"
"$bench" "${tiny[@]}" "${wr_engines[@]}" --rw randwrite --verify --filename "$dir/f1:$dir/f2" --numjobs 2 \
	--fsync 8 --batch-submit 4 --batch-complete 2 --json "$dir/verify.json" >"$out" 2>"$dir/verify.err"
rc=$?
[ $rc -eq 0 ] || { bad "randwrite --verify exited $rc"; cat "$out" "$dir/verify.err"; }
grep -q ' [1-9][0-9]*/[0-9]* bad$' "$out" && bad "verify mismatches: $(grep ' bad$' "$out" | grep -v ' 0/')"
n=$(grep -c ' 0/[1-9][0-9]* bad$' "$out")
[ "$n" -ge 2 ] || bad "expected verify columns with 0 mismatches, got $n rows"
json_check "$dir/verify.json" 1
[ -f "$dir/f1" ] && [ -f "$dir/f2" ] || bad "--filename files not kept"
"$bench" --size 4M --io-size 2M --rw rw --rwmix 70 --verify --direct=1 --filename "$dir/f3" \
	--engines "kaio,uaio,io_uring$pa,sync" >"$dir/rw.out" 2>&1
rc=$?
[ $rc -eq 0 ] || { bad "rw --io-size --verify --direct exited $rc"; cat "$dir/rw.out"; }
grep -q ' [1-9][0-9]*/[0-9]* bad$' "$dir/rw.out" && bad "rw verify mismatches"
"$bench" --size 4M --runtime 0.5 --ramp 0.05 --rw read --iodepth 4 --numjobs 3 --mode cold \
	--engines sync,kaio --baseline sync >"$dir/seq.out" 2>&1 || { bad "seq read cold exited $?"; cat "$dir/seq.out"; }
grep -q '^sync .* 1.00 ' "$dir/seq.out" || { bad "--baseline sync: no 1.00 ratio on the sync row"; cat "$dir/seq.out"; }

# 2b. uaio-kaio (the kaio executor, which this build may lack): accepted,
# and either it runs (a row per table) or it is left out, with the setup
# call and the executor named.  Exactly one of the two.
kaio_outcome() { # OUT: "ran", "left out", "unavailable" or what went wrong
	local out=$1 rows left unav
	rows=$(grep -Ec '^uaio-kaio +[0-9]' "$out")
	left=$(grep -c '^# uaio-kaio left out: uaio_setup_params(executor "kaio"): ' "$out")
	unav=$(grep -Ec '^uaio-kaio +unavailable: ' "$out")
	if [ "$rows" -gt 0 ] && [ "$left" = 0 ] && [ "$unav" = 0 ]; then echo ran
	elif [ "$rows" = 0 ] && [ "$left" = 1 ] && [ "$unav" = 0 ]; then echo "left out"
	elif [ "$rows" = 0 ] && [ "$left" = 0 ] && [ "$unav" -gt 0 ]; then echo unavailable
	else echo "$rows rows, $left left-out lines, $unav unavailable rows"
	fi
}
out="$dir/kaio.out"
"$bench" "${tiny[@]}" --mode all --engines kaio,uaio-kaio >"$out" 2>"$dir/kaio.err"
rc=$?
[ $rc -eq 0 ] || { bad "--engines kaio,uaio-kaio exited $rc"; cat "$out" "$dir/kaio.err"; }
k=$(kaio_outcome "$out")
case $k in
ran) n=$(grep -Ec '^uaio-kaio +[0-9]' "$out")
     [ "$n" = 3 ] || bad "uaio-kaio ran in $n of 3 tables"
     echo "ok   uaio-kaio runs";;
"left out") echo "ok   uaio-kaio left out:$(grep '^# uaio-kaio left out' "$out" | cut -d: -f2-)";;
*) bad "uaio-kaio neither ran nor was left out ($k)"; cat "$out";;	# unavailable: a row failed
esac
# Alone: it runs, or the usage error names it and says why.
"$bench" "${tiny[@]}" --mode direct --engines uaio-kaio-nocheck >"$out" 2>"$dir/kaio.err"
rc=$?
if [ $rc -eq 0 ]; then
	grep -Eq '^uaio-kaio-nocheck +[0-9]' "$out" || { bad "uaio-kaio-nocheck alone: no row"; cat "$out"; }
elif [ $rc -eq 2 ]; then
	{ grep -q '^uaio-bench: none of the chosen engines can be set up on this machine (uaio-kaio-nocheck: uaio_setup_params(executor "kaio"): ' \
		"$dir/kaio.err" && [ "$(wc -l <"$dir/kaio.err")" = 1 ]; } ||
		{ bad "uaio-kaio-nocheck alone: exit 2 without the reason"; cat "$dir/kaio.err"; }
else
	bad "uaio-kaio-nocheck alone exited $rc"; cat "$out" "$dir/kaio.err"
fi
left=$(ls -A "$TMPDIR")
[ -z "$left" ] || bad "temporary file left behind after the uaio-kaio runs: $left"

# 3. Bad input: exit 2, exactly one line on stderr, nothing left behind.
badcase() { # DESCRIPTION ARGS...
	local what=$1; shift
	"$bench" --runtime 0.05 "$@" >"$dir/bad.out" 2>"$dir/bad.err"
	local rc=$? lines
	lines=$(wc -l <"$dir/bad.err")
	if [ $rc -ne 2 ] || [ "$lines" -ne 1 ] || ! grep -q '^uaio-bench: ' "$dir/bad.err"; then
		bad "$what: exit $rc, $lines stderr lines: $(head -3 "$dir/bad.err")"
	else
		echo "ok   $what: $(cat "$dir/bad.err")"
	fi
}
badcase "unknown option" --no-such-option
badcase "unknown short option" -Z
badcase "missing argument" --bs
badcase "unknown rw" --rw sideways
badcase "unknown engine" --engines kaio,nosuch
badcase "zero size" --size 0
badcase "zero bs" --bs 0
badcase "odd bs" --bs 1000
badcase "absurd bs" --bs 1G
badcase "absurd size" --size 5000T
badcase "zero iodepth" --iodepth 0
badcase "absurd iodepth" --iodepth 1000000
badcase "batch above depth" --iodepth 4 --batch-submit 8
badcase "zero runtime" --runtime 0
badcase "rwmix over 100" --rw randrw --rwmix 101
badcase "verify on reads" --verify
badcase "unopenable path" --filename "$dir/no/such/dir/file"
badcase "directory" --filename "$dir"
badcase "too little space" --filename "$dir/huge" --size 1000T
[ -e "$dir/huge" ] && bad "the file of a failed --size was left behind"
badcase "stray argument" stray
# O_DIRECT refused: ramfs has no O_DIRECT.  Needs mount (root, not always
# allowed in a container); tmpfs accepts O_DIRECT since Linux 6.6.
if [ "$(id -u)" = 0 ] && mkdir -p "$dir/ramfs" && mount -t ramfs ramfs "$dir/ramfs" 2>/dev/null; then
	rfs="$dir/ramfs"
	badcase "O_DIRECT refused" --direct --filename "$rfs/x" --size 1M
	grep -q -- 'drop --direct' "$dir/bad.err" || bad "O_DIRECT refusal does not suggest dropping --direct"
	umount "$rfs" && rfs=""
else
	echo "note: O_DIRECT refusal not checked (cannot mount a ramfs here)"
fi
left=$(ls -A "$TMPDIR")
[ -z "$left" ] || bad "temporary file left behind after bad input: $left"

# 4. --cost: its rows, and its JSON.
"$bench" --cost --runtime 0.05 --json "$dir/cost.json" >"$dir/cost.out" 2>"$dir/cost.err"
rc=$?
[ $rc -eq 0 ] || { bad "--cost exited $rc"; cat "$dir/cost.out" "$dir/cost.err"; }
for r in io_uring-nop kaio-read0 uaio uaio-nocheck; do
	grep -Eq "^$r +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ " "$dir/cost.out" || bad "--cost: no $r row"
done
# uaio-kaio: figures, left out (no kaio executor here), or unavailable
# (its O_DIRECT descriptor refused); exactly one.
k=$(kaio_outcome "$dir/cost.out")
case $k in
ran|"left out"|unavailable) echo "ok   --cost: uaio-kaio $k";;
*) bad "--cost: uaio-kaio $k"; cat "$dir/cost.out";;
esac
if [ $have_py -eq 1 ]; then
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
rows = [r for r in d["cost"]["rows"] if r["available"]]
assert len(rows) >= 4 and all(r["batch1"]["ns_per_req"] > 0 and r["batch64"]["ns_per_req"] > 0 for r in rows), rows
' "$dir/cost.json" || bad "--cost JSON"
fi

# 4b. --flat: every cell of the uaio row has a figure.
"$bench" --flat -e uaio --runtime 0.02 >"$dir/flat.out" 2>"$dir/flat.err"
rc=$?
[ $rc -eq 0 ] || { bad "--flat exited $rc"; cat "$dir/flat.out" "$dir/flat.err"; }
grep -Eq "^uaio( +[0-9]+){5} +[0-9]+% \|( +[0-9]+){5} +[0-9]+%$" "$dir/flat.out" ||
	{ bad "--flat: no complete uaio row"; cat "$dir/flat.out"; }
"$bench" --flat --json "$dir/x.json" >/dev/null 2>&1
[ $? -eq 2 ] || bad "--flat --json not refused"

# 5. --help.
"$bench" --help >"$dir/help.out" || bad "--help exited $?"
grep -q -- '--iodepth' "$dir/help.out" || bad "--help"
grep -q 'uaio-kaio uaio-kaio-nocheck' "$dir/help.out" || bad "--help does not list uaio-kaio"
grep -q 'default: buffered, direct, cold' "$dir/help.out" || bad "--help: --mode's default not stated"

left=$(ls -A "$TMPDIR")
[ -z "$left" ] || bad "temporary file left behind: $left"
[ $fail -eq 0 ] && echo "bench_cli: all checks passed"
exit $fail
