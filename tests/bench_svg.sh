#!/usr/bin/env bash
# Issue 6: uaio-bench --svg writes a chart a browser can show.  Checks the
# SVG's structure (an <svg> root, well-formed XML when python3 is here, an
# IOPS bar per engine per table, three latency bars per engine, a section
# per mode of the default run) and, when
# chromium is installed, renders it headless and checks that the PNG is not
# blank (several colours, a real share of non-white pixels) and differs
# from an empty SVG's rendering.  Never looks at the numbers themselves.
# UAIO_BENCH_PNG=FILE keeps a copy of the rendering.
set -u
build=${UAIO_BUILD:-build}
bench="$build/uaio-bench"
[ -x "$bench" ] || { echo "no $bench (make $bench)"; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/uaio-bench-svg.XXXXXX")
trap 'rm -rf "$dir"' EXIT
export TMPDIR="$dir"
fail=0
bad() { echo "FAIL: $*"; fail=1; }

svg="$dir/chart.svg"
"$bench" --size 8M --runtime 0.15 --ramp 0.05 --svg "$svg" >"$dir/out" 2>"$dir/err"
rc=$?
[ $rc -eq 0 ] || { bad "uaio-bench --svg exited $rc"; cat "$dir/out" "$dir/err"; exit 1; }
[ -s "$svg" ] || { bad "no SVG written"; exit 1; }
[ "$(head -c 4 "$svg")" = "<svg" ] || bad "the file does not start with <svg"
tail -n 1 "$svg" | grep -q '^</svg>$' || bad "the file does not end with </svg>"
grep -q 'xmlns="http://www.w3.org/2000/svg"' "$svg" || bad "no SVG namespace"
if command -v python3 >/dev/null; then
	python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$svg" || bad "not well-formed XML"
fi

# One IOPS bar per (table, engine row), three latency bars per row.
rows=0
for e in $(awk '/^engine /{t=1; next} /^$/{t=0} t && $2 != "unavailable:" {print $1}' "$dir/out"); do
	rows=$((rows + 1))
	grep -q "class=\"iops\" data-engine=\"$e\"" "$svg" || bad "no IOPS bar for $e"
done
[ $rows -ge 2 ] || bad "no engine rows in the table"
n=$(grep -c 'class="iops"' "$svg")
[ "$n" = "$rows" ] || bad "$n IOPS bars for $rows table rows"
n=$(grep -c 'class="lat ' "$svg")
[ "$n" = $((rows * 3)) ] || bad "$n latency bars for $rows rows (want 3 each)"
# The default run's three modes, each a titled section.
for m in 'buffered, warm page cache' 'O_DIRECT' 'buffered, cold page cache'; do
	grep -q ", $m</text>" "$svg" || bad "no section for $m"
done

# --cost draws too.
"$bench" --cost --runtime 0.03 --svg "$dir/cost.svg" >/dev/null 2>&1 || bad "--cost --svg failed"
grep -q 'class="cost"' "$dir/cost.svg" 2>/dev/null || bad "--cost SVG has no bars"

if [ $fail -ne 0 ]; then
	exit 1
fi
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
	echo "SVG structure ok; chromium is not installed (apt-get install -y chromium): rendering not checked"
	exit 77
fi
render() { # SVG PNG
	timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
		--user-data-dir="$dir/chrome" --screenshot="$2" --window-size=900,600 "file://$1" \
		>"$dir/chromium.log" 2>&1
}
printf '<svg xmlns="http://www.w3.org/2000/svg" width="900" height="600"></svg>\n' >"$dir/empty.svg"
render "$svg" "$dir/chart.png"
render "$dir/empty.svg" "$dir/empty.png"
if [ ! -s "$dir/chart.png" ]; then
	echo "chromium wrote no screenshot:"; tail -5 "$dir/chromium.log"
	echo "chromium could not render here (see above)"
	exit 77
fi
[ -n "${UAIO_BENCH_PNG:-}" ] && cp "$dir/chart.png" "$UAIO_BENCH_PNG"
cmp -s "$dir/chart.png" "$dir/empty.png" && bad "the chart renders exactly like an empty SVG"
if command -v python3 >/dev/null; then
	# Decode the PNG (8-bit RGB/RGBA, no interlace: what chromium writes).
	python3 - "$dir/chart.png" <<'EOF' || bad "the rendered PNG looks blank"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, hdr = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        hdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
w, h, depth, ctype, _, _, interlace = hdr
assert depth == 8 and ctype in (2, 6) and not interlace, hdr
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(idat), w * bpp
prev, colours, ink = bytearray(stride), set(), 0
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        px = bytes(line[x:x + 3])
        colours.add(px)
        if px != b"\xff\xff\xff":
            ink += 1
    prev = line
share = ink / (w * h)
print("png %dx%d: %d colours, %.1f%% non-white" % (w, h, len(colours), share * 100))
assert len(colours) >= 8 and share > 0.02, (len(colours), share)
EOF
else
	s1=$(stat -c %s "$dir/chart.png") s0=$(stat -c %s "$dir/empty.png")
	[ "$s1" -gt $((s0 + 2000)) ] || bad "the chart's PNG ($s1 bytes) is barely larger than an empty one ($s0)"
fi
[ $fail -eq 0 ] && echo "bench_svg: SVG well-formed, one bar per engine, rendering not blank"
exit $fail
