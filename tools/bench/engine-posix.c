/* SPDX-License-Identifier: MIT */
/* engine-posix.c - posix-aio: glibc's aio_read/aio_write (lio_listio for
 * batches), aio_suspend. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>

#include "bench.h"

static int posix_init(struct job *j)
{
	memset(j->scratch, 0, 2 * j->depth * sizeof(*j->scratch));
	return 0;
}

static void prep_aiocb(struct job *j, struct req *r)
{
	memset(&r->acb, 0, sizeof(r->acb));
	r->acb.aio_fildes = j->b->fds[r->file];
	r->acb.aio_buf = r->buf;
	r->acb.aio_nbytes = r->len;
	r->acb.aio_offset = (off_t)r->off;
	r->acb.aio_sigevent.sigev_notify = SIGEV_NONE;
	r->acb.aio_lio_opcode = r->op == OP_WRITE ? LIO_WRITE : LIO_READ;
}

static int posix_submit(struct job *j, struct req **rs, unsigned n)
{
	const struct aiocb **inflight = (const struct aiocb **)j->scratch;
	struct aiocb **list = (struct aiocb **)(j->scratch + j->depth);
	int r;

	if (n > 1 && rs[0]->op != OP_FSYNC) {
		unsigned k = 0;

		while (k < n && rs[k]->op != OP_FSYNC) {
			prep_aiocb(j, rs[k]);
			list[k] = &rs[k]->acb;
			k++;
		}
		if (lio_listio(LIO_NOWAIT, list, (int)k, NULL) < 0) {
			/* Some may be queued: those that are not report their error. */
			int e = errno;
			for (unsigned i = 0; i < k; i++)
				if (aio_error(list[i]) != EINPROGRESS && aio_error(list[i]) != 0)
					fatal("posix-aio: lio_listio: %s", strerror(e));
		}
		for (unsigned i = 0; i < k; i++)
			inflight[rs[i]->idx] = &rs[i]->acb;
		return (int)k;
	}
	prep_aiocb(j, rs[0]);
	switch (rs[0]->op) {
	case OP_READ: r = aio_read(&rs[0]->acb); break;
	case OP_WRITE: r = aio_write(&rs[0]->acb); break;
	default: r = aio_fsync(O_SYNC, &rs[0]->acb); break;
	}
	if (r < 0)
		return -errno;
	inflight[rs[0]->idx] = &rs[0]->acb;
	return 1;
}

static int posix_reap(struct job *j, unsigned min, unsigned max)
{
	const struct aiocb **inflight = (const struct aiocb **)j->scratch;
	unsigned got = 0;

	for (;;) {
		for (unsigned i = 0; i < j->depth && got < max; i++) {
			struct req *q;
			ssize_t rv;
			int e;

			if (!inflight[i] || (e = aio_error(inflight[i])) == EINPROGRESS)
				continue;
			q = &j->reqs[i];
			rv = aio_return(&q->acb);
			q->res = e ? -e : rv;
			j->done[got++] = q;
			inflight[i] = NULL;
		}
		if (got >= min)
			return (int)got;
		if (aio_suspend(inflight, (int)j->depth, NULL) < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
	}
}

static void posix_fini(struct job *j)
{
	(void)j;
}

const struct engine engine_posix = {
	"posix-aio", "glibc POSIX AIO: aio_read/aio_write/lio_listio, aio_suspend", "aio_read",
	posix_init, posix_submit, posix_reap, posix_fini, NULL, 0, false, true
};
