/* SPDX-License-Identifier: MIT */
/* engine-sync.c - sync: pread/pwrite/fsync on the job's own thread, one
 * request in flight; row.c runs a thread per request in flight. */
#include <errno.h>
#include <unistd.h>

#include "bench.h"

static int sync_init(struct job *j)
{
	j->sync_done = 0;
	return 0;
}

static int sync_submit(struct job *j, struct req **rs, unsigned n)
{
	struct req *q = rs[0];
	int fd = j->b->fds[q->file];
	ssize_t r;

	(void)n;
	do {
		switch (q->op) {
		case OP_READ: r = pread(fd, q->buf, q->len, (off_t)q->off); break;
		case OP_WRITE: r = pwrite(fd, q->buf, q->len, (off_t)q->off); break;
		default: r = fsync(fd); break;
		}
	} while (r < 0 && errno == EINTR);
	q->res = r < 0 ? -errno : r;
	j->done[0] = q;
	j->sync_done = 1;
	return 1;
}

static int sync_reap(struct job *j, unsigned min, unsigned max)
{
	int n = (int)j->sync_done;

	(void)min;
	(void)max;
	j->sync_done = 0;
	return n;
}

static void sync_fini(struct job *j)
{
	(void)j;
}

const struct engine engine_sync = {
	"sync", "pread/pwrite, one thread per request in flight", "pthread_create",
	sync_init, sync_submit, sync_reap, sync_fini, NULL, 0, true, false
};
