/* SPDX-License-Identifier: MIT */
/* engine-kaio.c - kaio: the kernel's AIO through raw system calls. */
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

static int kaio_init(struct job *j)
{
	j->ctx = 0;
	return sys_ret(syscall(SYS_io_setup, j->depth, &j->ctx));
}

static int kaio_submit(struct job *j, struct req **rs, unsigned n)
{
	struct iocb **cbs = (struct iocb **)j->scratch;

	for (unsigned i = 0; i < n; i++) {
		prep_iocb(j, rs[i]);
		cbs[i] = &rs[i]->cb;
	}
	return sys_ret(syscall(SYS_io_submit, j->ctx, (long)n, cbs));
}

static int kaio_reap(struct job *j, unsigned min, unsigned max)
{
	return events_done(j, sys_ret(syscall(SYS_io_getevents, j->ctx, (long)min, (long)max,
					       j->events, NULL)));
}

static void kaio_fini(struct job *j)
{
	syscall(SYS_io_destroy, j->ctx);
}

const struct engine engine_kaio = {
	"kaio", "kernel AIO, raw io_setup/io_submit/io_getevents", "io_setup",
	kaio_init, kaio_submit, kaio_reap, kaio_fini, NULL, 0, false, true
};
