#!/usr/bin/env bash
# Issue 3: `make install` into a temporary DESTDIR puts everything in
# place; a C program built with `pkg-config --cflags --libs uaio` (shared
# and static) and a C++ program built against the installed header run;
# the installed uaio-run serves a libaio program from lib/uaio; `make
# uninstall` removes every file install created.
set -u
build=${UAIO_BUILD:-build}
command -v pkg-config >/dev/null || { echo "pkg-config is missing (apt-get install -y pkg-config)"; exit 77; }
command -v ${CXX:-g++} >/dev/null || { echo "g++ is missing (apt-get install -y g++)"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uaio-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=/opt/uaio-test
root="$tmp/root"
fail() { echo "FAIL: $*"; exit 1; }

make -s install BUILD="$build" SAN="${UAIO_SAN:-}" PREFIX=$prefix DESTDIR="$root" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "make install"; }
for f in lib/libuaio.so lib/libuaio.so.0 lib/libuaio.a lib/uaio/libaio.so.1 lib/pkgconfig/uaio.pc \
	 include/uaio.h bin/uaio-run bin/uaio-bench share/man/man3/uaio_submit.3 share/man/man7/uaio.7 \
	 share/man/man1/uaio-run.1; do
	[ -e "$root$prefix/$f" ] || fail "make install did not create $prefix/$f"
done
[ -e "$root$prefix/lib/libaio.so.1" ] && fail "libaio.so.1 installed next to the system libraries"

export PKG_CONFIG_PATH="$root$prefix/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root"
flags=$(pkg-config --cflags --libs uaio) || fail "pkg-config uaio"
[ "$(pkg-config --modversion uaio)" = "$(sed -n 's/^VERSION *:= *//p' Makefile)" ] || fail "uaio.pc version"

cat >"$tmp/hello.c" <<'C'
#include <uaio.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(void)
{
	char path[] = "/tmp/uaio-hello.XXXXXX", buf[512] = "hello", back[512];
	aio_context_t ctx = 0;
	struct iocb cb, *v[1] = { &cb };
	struct io_event ev;
	int fd = mkstemp(path);

	if (fd < 0 || uaio_setup(4, &ctx) < 0)
		return 1;
	unlink(path);
	uaio_prep_pwrite(&cb, fd, buf, sizeof(buf), 0);
	if (uaio_submit(ctx, 1, v) != 1 || uaio_getevents(ctx, 1, 1, &ev, NULL) != 1 || ev.res != 512)
		return 2;
	uaio_prep_pread(&cb, fd, back, sizeof(back), 0);
	if (uaio_submit(ctx, 1, v) != 1 || uaio_getevents(ctx, 1, 1, &ev, NULL) != 1 || ev.res != 512)
		return 3;
	printf("%s on %s\n", back, uaio_executor_name(ctx));
	return uaio_destroy(ctx) != 0 || close(fd) != 0;
}
C
# shellcheck disable=SC2086
${CC:-cc} -Wall -Wextra -Werror ${UAIO_TEST_CFLAGS:-} -o "$tmp/hello" "$tmp/hello.c" $flags || fail "C build with pkg-config"
out=$(LD_LIBRARY_PATH="$root$prefix/lib" "$tmp/hello") || fail "C program (shared) exit $?"
case $out in hello\ on\ *) ;; *) fail "C program printed '$out'";; esac
ldd "$tmp/hello" | grep -q "$root$prefix/lib/libuaio.so.0" || LD_LIBRARY_PATH="$root$prefix/lib" ldd "$tmp/hello" | grep -q "$root$prefix/lib/libuaio.so.0" ||
	fail "the C program is not linked to the installed libuaio.so.0"

# shellcheck disable=SC2086
${CC:-cc} -Wall -Wextra -Werror ${UAIO_TEST_CFLAGS:-} -o "$tmp/hello-static" "$tmp/hello.c" \
	$(pkg-config --cflags uaio) "$root$prefix/lib/libuaio.a" $(pkg-config --static --libs-only-l uaio | sed 's/-luaio//') ||
	fail "static build"
"$tmp/hello-static" >/dev/null || fail "static C program"

cat >"$tmp/hello.cc" <<'CXX'
#include <uaio.h>
#include <cstdio>
#include <vector>
int main()
{
	aio_context_t ctx = 0;
	std::vector<io_event> ev(4);
	struct uaio_stats st {};
	struct iocb cb;

	if (uaio_setup(8, &ctx) != 0)
		return 1;
	uaio_prep_poll(&cb, 0, 1);
	uaio_set_data(&cb, &ctx);
	timespec zero{};
	int r = uaio_getevents(ctx, 0, 4, ev.data(), &zero);
	if (r != 0 || uaio_stats(ctx, &st) != 0)
		return 2;
	std::printf("c++ ok %d %s\n", r, uaio_executor_name(ctx));
	return uaio_destroy(ctx);
}
CXX
# shellcheck disable=SC2086
${CXX:-g++} -std=c++17 -Wall -Wextra -Werror -pedantic ${UAIO_TEST_CFLAGS:-} -o "$tmp/hello-cxx" "$tmp/hello.cc" $flags ||
	fail "C++ build against the installed header"
LD_LIBRARY_PATH="$root$prefix/lib" "$tmp/hello-cxx" | grep -q '^c++ ok 0 ' || fail "C++ program"

# The installed uaio-run finds the installed libaio.so.1 by its own path.
# shellcheck disable=SC2086
${CC:-cc} -O1 ${UAIO_TEST_CFLAGS:-} -o "$tmp/old_abi" tests/compat/old_abi.c -laio 2>/dev/null &&
{
	"$root$prefix/bin/uaio-run" -v "$tmp/old_abi" >/dev/null 2>"$tmp/run.err" || { cat "$tmp/run.err"; fail "installed uaio-run"; }
	grep -q "io_submit from $root$prefix/lib/uaio/libaio.so.1" "$tmp/run.err" || { cat "$tmp/run.err"; fail "installed uaio-run did not use lib/uaio/libaio.so.1"; }
	grep -q "served by uaio" "$tmp/run.err" || { cat "$tmp/run.err"; fail "uaio-run -v report"; }
}

make -s uninstall BUILD="$build" SAN="${UAIO_SAN:-}" PREFIX=$prefix DESTDIR="$root" >"$tmp/uninstall.log" 2>&1 ||
	{ cat "$tmp/uninstall.log"; fail "make uninstall"; }
left=$(find "$root" -type f -o -type l)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "install: shared, static and C++ builds ran from DESTDIR; uninstall removed every file"
exit 0
