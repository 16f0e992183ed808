/* SPDX-License-Identifier: MIT */
/* engine.c - the engine table, and what the kaio and uaio engines share:
 * iocb preparation and turning io_events into done requests. */
#include <stdlib.h>

#include "bench.h"

const struct engine *const engines[ENG_COUNT] = {
	[ENG_KAIO] = &engine_kaio,
	[ENG_UAIO] = &engine_uaio,
	[ENG_UAIO_NOCHECK] = &engine_uaio_nocheck,
	[ENG_UAIO_URING] = &engine_uaio_uring,
	[ENG_UAIO_URING_NOCHECK] = &engine_uaio_uring_nocheck,
	[ENG_UAIO_KAIO] = &engine_uaio_kaio,
	[ENG_UAIO_KAIO_NOCHECK] = &engine_uaio_kaio_nocheck,
	[ENG_IO_URING] = &engine_io_uring,
	[ENG_POSIX] = &engine_posix,
	[ENG_SYNC] = &engine_sync,
};

void prep_iocb(struct job *j, struct req *r)
{
	int fd = j->b->fds[r->file];

	switch (r->op) {
	case OP_READ: uaio_prep_pread(&r->cb, fd, r->buf, r->len, (long long)r->off); break;
	case OP_WRITE: uaio_prep_pwrite(&r->cb, fd, r->buf, r->len, (long long)r->off); break;
	case OP_FSYNC: uaio_prep_fsync(&r->cb, fd); break;
	}
	r->cb.aio_data = (uint64_t)(uintptr_t)r;
}

int events_done(struct job *j, int r)
{
	for (int i = 0; i < r; i++) {
		struct req *q = (struct req *)(uintptr_t)j->events[i].data;

		q->res = j->events[i].res;
		j->done[i] = q;
	}
	return r;
}

/* Can this engine be set up here at all?  0 or -errno, and the call that failed. */
int probe_engine(int e)
{
	struct job *j;
	int r;

	if (e == ENG_POSIX || e == ENG_SYNC)
		return 0;
	j = xmalloc(sizeof(*j));
	j->e = engines[e];
	j->depth = 1;
	r = engines[e]->init(j);
	if (r >= 0)
		engines[e]->fini(j);
	free(j);
	return r < 0 ? r : 0;
}
