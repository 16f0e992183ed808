/* SPDX-License-Identifier: MIT */
/* An unmodified libaio program for tests/check_run.sh: reads of an empty
 * pipe, each iocb reaped before it is used again; with "dup", each is
 * also submitted a second time while in flight (a UAIO_CHECK finding,
 * from one call site, twice). */
#include <libaio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int dup = argc > 1 && !strcmp(argv[1], "dup"), p[2];
	io_context_t ctx = 0;
	struct iocb cb, *v[1] = { &cb };
	struct io_event ev[2];
	char buf[16], data[32] = { 0 };

	if (io_setup(8, &ctx) || pipe(p))
		return 1;
	io_prep_pread(&cb, p[0], buf, sizeof(buf), 0);
	for (int i = 0; i < 2; i++) {
		int want = dup ? 2 : 1, got = 0;

		if (io_submit(ctx, 1, v) != 1)
			return 1;
		if (dup && io_submit(ctx, 1, v) != 1)
			return 1;
		if (write(p[1], data, sizeof(buf) * (size_t)want) < 0)
			return 1;
		while (got < want) {
			int r = io_getevents(ctx, 1, want - got, ev, NULL);

			if (r <= 0)
				return 1;
			got += r;
		}
	}
	if (io_destroy(ctx))
		return 1;
	puts("done");
	return 0;
}
