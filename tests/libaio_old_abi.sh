#!/usr/bin/env bash
# Issue 3: libaio's LIBAIO_0.1 compatibility entry points and the
# io_queue_* calls answer the same from uaio's libaio.so.1 as from
# Debian's libaio (on the kernel).  See tests/compat/old_abi.c.
set -u
build=${UAIO_BUILD:-build}
src=tests/compat/old_abi.c
bin="$build/compat/old_abi"
[ -f /usr/include/libaio.h ] || { echo "libaio-dev is not installed (apt-get install -y libaio-dev)"; exit 77; }
mkdir -p "$build/compat"
# shellcheck disable=SC2086
${CC:-cc} -O1 -g -Wall -Wextra -Werror ${UAIO_TEST_CFLAGS:-} -o "$bin" "$src" -laio || exit 1
"$bin" >"$bin.kernel" 2>"$bin.kernel.err" || { echo "run on Debian libaio failed"; cat "$bin.kernel.err"; exit 1; }
LD_LIBRARY_PATH="$build/lib/uaio" "$bin" >"$bin.uaio" 2>"$bin.uaio.err" || { echo "run on uaio failed"; cat "$bin.uaio.err"; exit 1; }
grep -q "from $build/lib/uaio/libaio.so.1" "$bin.uaio.err" || { echo "uaio's library did not serve the run:"; cat "$bin.uaio.err"; exit 1; }
grep -q "from $build/lib/uaio/" "$bin.kernel.err" && { echo "the kernel run used uaio's library"; exit 1; }
if ! diff -u "$bin.kernel" "$bin.uaio"; then
	echo "uaio's libaio.so.1 answers differently (- Debian libaio, + uaio)"
	exit 1
fi
echo "old ABI and io_queue_*: $(wc -l <"$bin.uaio") answers identical"
exit 0
