#!/usr/bin/env bash
# Issue 15, part 2: uaio-bench --replay FILE.  A trace recorded with
# UAIO_TRACE (trace_native's kind of workload: here uaio-bench itself,
# traced, as the program) is replayed on every engine: every engine has a
# row, each row ran exactly the trace's requests (--json: reads and writes
# equal the trace's), the traced file is never touched (its contents and
# mtime stay), an unaligned trace has no O_DIRECT row, and bad traces exit
# 2 with one line on stderr.  Structure only, never timing.
set -u
build=${UAIO_BUILD:-build}
bench="$build/uaio-bench"
[ -x "$bench" ] || { echo "no $bench"; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/uaio-trace-replay.XXXXXX")
trap 'rm -rf "$dir"' EXIT
export TMPDIR="$dir/tmp"
mkdir -p "$TMPDIR"
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# A hand-written v3 trace on a file of ours: unaligned requests, a sync.
data="$dir/data"
head -c 65536 /dev/urandom >"$data"
touch -d '2001-01-01' "$data"
sum0=$(md5sum <"$data")
{
	echo "fio version 3 iolog"
	echo "0 $data add"
	echo "0 $data open"
	for i in $(seq 0 99); do
		echo "$i $data write $((i * 512 % 60000)) 700"
		echo "$i $data read $((i * 4096 % 61440)) 4096"
	done
	echo "100 $data sync 0 0"
	echo "101 $data close"
} >"$dir/unaligned.iolog"

"$bench" -q --replay="$dir/unaligned.iolog" --iodepth 8 --json="$dir/u.json" >"$dir/u.out" 2>"$dir/u.err" ||
	bad "replay exited $?: $(cat "$dir/u.err")"
grep -q "^# replay: .*100 reads, 100 writes, 1 fsyncs on 1 file" "$dir/u.out" || bad "no replay line"
grep -q "O_DIRECT" "$dir/u.out" && bad "an O_DIRECT row for an unaligned trace"
for e in kaio uaio uaio-nocheck uaio-uring io_uring posix-aio sync; do
	grep -q "^# $e left out:" "$dir/u.out" && continue
	n=$(grep -c "^$e " "$dir/u.out")
	[ "$n" = 2 ] || bad "$e: $n rows, want 2 (buffered, cold)"
done
if command -v python3 >/dev/null; then
	python3 - "$dir/u.json" <<'EOF' || bad "json: rows did not run the trace's requests"
import json, sys
d = json.load(open(sys.argv[1]))
def rows(o):
    if isinstance(o, dict):
        if "engine" in o and "reads" in o:
            yield o
        for v in o.values():
            yield from rows(v)
    elif isinstance(o, list):
        for v in o:
            yield from rows(v)
n = 0
for r in rows(d):
    if r.get("ran", True) is False:
        continue
    n += 1
    if r["reads"] != 100 or r["writes"] != 100:
        print("row", r["engine"], r["reads"], r["writes"]); sys.exit(1)
sys.exit(0 if n else 1)
EOF
fi
[ "$(md5sum <"$data")" = "$sum0" ] || bad "the traced file was written"
[ "$(stat -c %Y "$data")" = "$(date -d 2001-01-01 +%s)" ] || bad "the traced file's mtime changed"
[ -z "$(ls -A "$TMPDIR")" ] || bad "temporary files left: $(ls "$TMPDIR")"

# A real trace: uaio-bench's own randread traced (it is a uaio program),
# aligned: replayed with an O_DIRECT row too.
UAIO_TRACE="$dir/self" "$bench" -q -e uaio -f "$dir/f1" --size 4M --io-size 1M --mode buffered >/dev/null 2>&1 ||
	bad "traced bench run failed"
t=$(ls "$dir"/self.* 2>/dev/null | head -n 1)
if [ -n "$t" ]; then
	n=$(grep -c ' read ' "$t")
	[ "$n" -ge 256 ] || bad "trace of the bench has $n reads, want >= 256"
	"$bench" -q --replay="$t" -e uaio,uaio-uring --mode both >"$dir/a.out" 2>"$dir/a.err" ||
		bad "aligned replay exited $?: $(cat "$dir/a.err")"
	grep -q "O_DIRECT" "$dir/a.out" || bad "no O_DIRECT table for an aligned trace"
else
	bad "uaio-bench under UAIO_TRACE left no trace"
fi

# Bad input: exit 2, one line.
expect2() {
	local what=$1; shift
	"$bench" -q "$@" >/dev/null 2>"$dir/e.err"
	local rc=$?
	[ $rc -eq 2 ] || bad "$what: exit $rc, want 2"
	[ "$(wc -l <"$dir/e.err")" = 1 ] || bad "$what: stderr not one line: $(cat "$dir/e.err")"
}
echo "not a log" >"$dir/junk"
expect2 "no such trace" --replay="$dir/none"
expect2 "not an iolog" --replay="$dir/junk"
printf 'fio version 2 iolog\n/x add\n/x read 0 4096\n/y read 0 4096\n' >"$dir/v2bad"
expect2 "file never added" --replay="$dir/v2bad"
expect2 "with --size" --replay="$dir/unaligned.iolog" --size 8M
expect2 "unaligned with --direct" --replay="$dir/unaligned.iolog" --direct
[ $fail -eq 0 ] || exit 1
echo "uaio-bench --replay: every engine replayed the trace"
