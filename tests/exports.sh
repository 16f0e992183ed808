#!/usr/bin/env bash
# STYLE/issue 2: the shared library exports exactly what src/libuaio.map
# lists (uaio_* only, under UAIO_0.1); every internal symbol is hidden.
set -u
build=${UAIO_BUILD:-build}
lib="$build/libuaio.so"
[ -e "$lib" ] || { echo "no $lib"; exit 1; }
want=$(grep -oE '^\s+uaio_[a-z_]+;' src/libuaio.map | tr -d ' \t;' | sort)
got=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRW]$/ {print $3}' | grep -v '^UAIO_' | sed 's/@.*//' | sort)
if [ "$want" != "$got" ]; then
	echo "exported symbols differ from src/libuaio.map:"
	diff <(echo "$want") <(echo "$got")
	exit 1
fi
nm -D --defined-only "$lib" | grep -q ' uaio_submit@@UAIO_0.1$' || { echo "uaio_submit not versioned UAIO_0.1"; exit 1; }
echo "exports: $(echo "$got" | wc -l) symbols, as listed"
exit 0
