#!/usr/bin/env bash
# Issue 3: uaio's libaio.so.1 exports exactly what Debian's libaio1
# exports: the same names, under the same symbol versions, with the same
# default (@@) and compatibility-only (@) versions; nothing of uaio's own.
set -u
build=${UAIO_BUILD:-build}
ours="$build/lib/uaio/libaio.so.1"
theirs=$(ls /lib/x86_64-linux-gnu/libaio.so.1 /usr/lib/x86_64-linux-gnu/libaio.so.1 2>/dev/null | head -n 1)
[ -f "$ours" ] || { echo "no $ours"; exit 1; }
[ -n "$theirs" ] || { echo "Debian's libaio1 is not installed (apt-get install -y libaio1)"; exit 77; }
command -v objdump >/dev/null || { echo "objdump (binutils) is missing"; exit 77; }

# "VERSION NAME" per defined dynamic symbol; a hidden (non-default)
# version prints in parentheses.
syms() { objdump -T "$1" | awk '$0 ~ /^[0-9a-f]+ / && $0 !~ /\*UND\*/ { print $(NF-1), $NF }' | sort; }
want=$(syms "$theirs")
got=$(syms "$ours")
if [ "$want" != "$got" ]; then
	echo "libaio.so.1 symbols differ from $theirs (< Debian, > uaio):"
	diff <(echo "$want") <(echo "$got")
	exit 1
fi
soname=$(objdump -p "$ours" | awk '$1 == "SONAME" { print $2 }')
[ "$soname" = libaio.so.1 ] || { echo "SONAME is '$soname', want libaio.so.1"; exit 1; }
echo "libaio.so.1: $(echo "$got" | wc -l) versioned symbols, identical to $theirs"
echo "$got" | sed 's/^/  /'
exit 0
