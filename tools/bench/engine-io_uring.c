/* SPDX-License-Identifier: MIT */
/* engine-io_uring.c - io_uring through liburing: plain SQEs, no registered
 * files or buffers. */
#include <errno.h>

#include "bench.h"

static int uring_init(struct job *j)
{
	return io_uring_queue_init(j->depth, &j->ring, 0);
}

static int uring_submit(struct job *j, struct req **rs, unsigned n)
{
	unsigned prepared = 0;
	int r;

	for (; prepared < n; prepared++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&j->ring);
		struct req *q = rs[prepared];
		int fd = j->b->fds[q->file];

		if (!sqe)
			break;
		switch (q->op) {
		case OP_READ: io_uring_prep_read(sqe, fd, q->buf, q->len, q->off); break;
		case OP_WRITE: io_uring_prep_write(sqe, fd, q->buf, q->len, q->off); break;
		case OP_FSYNC: io_uring_prep_fsync(sqe, fd, 0); break;
		}
		io_uring_sqe_set_data(sqe, q);
	}
	if (!prepared)
		return -EAGAIN;
	for (unsigned sent = 0; sent < prepared; sent += (unsigned)r) {
		r = io_uring_submit(&j->ring);
		if (r == -EINTR || r == 0) {
			r = 0;
			continue;
		}
		if (r < 0)
			return sent ? (int)sent : r;
	}
	return (int)prepared;
}

static int uring_reap(struct job *j, unsigned min, unsigned max)
{
	struct io_uring_cqe **cqes = (struct io_uring_cqe **)j->scratch, *cqe;
	unsigned got;
	int r = io_uring_wait_cqe_nr(&j->ring, &cqe, min);

	if (r < 0)
		return r;
	got = io_uring_peek_batch_cqe(&j->ring, cqes, max);
	for (unsigned i = 0; i < got; i++) {
		struct req *q = io_uring_cqe_get_data(cqes[i]);

		q->res = cqes[i]->res;
		j->done[i] = q;
	}
	io_uring_cq_advance(&j->ring, got);
	return (int)got;
}

static void uring_fini(struct job *j)
{
	io_uring_queue_exit(&j->ring);
}

const struct engine engine_io_uring = {
	"io_uring", "io_uring via liburing, plain SQEs", "io_uring_queue_init",
	uring_init, uring_submit, uring_reap, uring_fini, NULL, 0, false, true
};
