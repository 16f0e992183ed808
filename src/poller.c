/* SPDX-License-Identifier: MIT */
/* poller.c - one epoll-based waiter thread per process.  POLL requests and
 * reads/writes on pipes, sockets and eventfds that would block wait here
 * for readiness instead of each holding a blocked thread, so 10,000 of
 * them cost no thread, and cancel and destroy can always withdraw them.
 * Requests on one fd form a group, registered once with epoll under the
 * union of what its requests wait for. */
#include "internal.h"
#include "trace.h"
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

struct group {
	int fd;
	dev_t dev;
	ino_t ino;		/* the file the fd named when the group formed */
	unsigned mask;		/* registered with epoll; 0: not registered */
	struct uaio_req *reqs;
};

/* Lock order: ctx->active_lock may be held when P.lock is taken, never
 * the reverse. */
static struct {
	pthread_mutex_t lock;	/* protects everything below */
	int epfd;
	struct fd_id epid;	/* what epfd named when we made it */
	bool ep_lost;		/* epfd is no longer ours: the thread makes a new one */
	bool started;
	struct group **byfd;	/* indexed by fd */
	size_t nfd;
} P = { .lock = PTHREAD_MUTEX_INITIALIZER, .epfd = -1 };

/* An epoll descriptor of ours, placed high; -errno. */
static int ep_new(void)
{
	int fd = fd_move_high(epoll_create1(EPOLL_CLOEXEC));

	if (fd < 0)
		return -errno;
	if (!fd_id_take(fd, &P.epid)) {
		close(fd);
		return -EMFILE;
	}
	P.epfd = fd;
	P.ep_lost = false;
	return 0;
}

static unsigned req_wants(const struct uaio_req *req)
{
	if (req->kind == KIND_POLL)
		return req->poll_events;
	return op_wait(req->cb.aio_lio_opcode);	/* a stream: POLLOUT for a write, else POLLIN */
}

/* Re-registers g with the union of its requests' interests; frees g when
 * it has none left.  Returns -errno if epoll refused the fd. */
static int group_update(struct group *g)
{
	struct epoll_event ev = { 0 };
	unsigned mask = 0;
	int op, r = 0;

	for (struct uaio_req *q = g->reqs; q; q = q->grp_next)
		mask |= req_wants(q);
	if (!mask) {
		if (g->mask && !P.ep_lost)
			epoll_ctl(P.epfd, EPOLL_CTL_DEL, g->fd, NULL);
		P.byfd[g->fd] = NULL;
		free(g);
		return 0;
	}
	if (mask == g->mask)
		return 0;
	ev.events = mask;
	ev.data.fd = g->fd;
	op = g->mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (!P.ep_lost && epoll_ctl(P.epfd, op, g->fd, &ev) < 0) {
		/* The fd was closed and reopened behind our back: start over. */
		op = op == EPOLL_CTL_MOD ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
		if (epoll_ctl(P.epfd, op, g->fd, &ev) < 0)
			r = -errno;
		/* Or the epoll descriptor is not ours any more: the poller
		 * thread registers every group with a new one. */
		if (r && !fd_id_same(P.epfd, &P.epid)) {
			P.ep_lost = true;
			r = 0;
		}
	}
	if (!r)
		g->mask = mask;
	return r;
}

static void *poller_main(void *arg);

static int poller_start(void)
{
	pthread_attr_t attr;
	pthread_t t;

	/* No descriptor to spare: the thread waits with poll(2) until it can
	 * make its epoll (see poll_round). */
	if (ep_new() < 0) {
		P.epfd = -1;
		P.ep_lost = true;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 << 10);
	thread_block_signals_attr(&attr);
	if (pthread_create(&t, &attr, poller_main, NULL) != 0) {
		pthread_attr_destroy(&attr);
		if (!P.ep_lost)
			close(P.epfd);
		P.epfd = -1;
		return -EAGAIN;
	}
	pthread_attr_destroy(&attr);
	P.started = true;
	return 0;
}

/* The group for fd, created if needed.  A group whose file is no longer
 * the one fd names (closed and reused) is detached into *stale. */
static struct group *group_get(int fd, struct uaio_req **stale, int *err)
{
	struct group *g;
	struct stat st;

	*err = -EBADF;
	if (fstat(fd, &st) < 0)
		return NULL;
	*err = -ENOMEM;
	if ((size_t)fd >= P.nfd) {
		size_t n = (size_t)fd + 64;
		struct group **t = realloc(P.byfd, n * sizeof(*t));

		if (!t)
			return NULL;
		memset(t + P.nfd, 0, (n - P.nfd) * sizeof(*t));
		P.byfd = t;
		P.nfd = n;
	}
	g = P.byfd[fd];
	if (g && (g->dev != st.st_dev || g->ino != st.st_ino)) {
		*stale = g->reqs;
		g->reqs = NULL;
		if (!P.ep_lost)
			epoll_ctl(P.epfd, EPOLL_CTL_DEL, fd, NULL);
		g->mask = 0;
	}
	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g)
			return NULL;
		g->fd = fd;
		P.byfd[fd] = g;
	}
	g->dev = st.st_dev;
	g->ino = st.st_ino;
	return g;
}

static void fail_list(struct uaio_req *list, int64_t res)
{
	struct uaio_req *next;

	for (; list; list = next) {
		next = list->grp_next;
		req_complete(list, res);
	}
}

/* Submit asks before it accepts a request that must wait here: 0 when
 * the poller runs or could be started now, -EAGAIN when its thread
 * cannot be created, else epoll_create1's -errno (no descriptor). */
int poller_reserve(void)
{
	int err = 0;

	pthread_mutex_lock(&P.lock);
	if (!P.started)
		err = poller_start();
	pthread_mutex_unlock(&P.lock);
	return err;
}

/* Takes ownership of a RUNNING request: it waits here until ready. */
void poller_arm(struct uaio_req *req)
{
	struct uaio_req *stale = NULL;
	struct group *g = NULL;
	int err = 0;

	pthread_mutex_lock(&P.lock);
	if (!P.started)
		err = poller_start();
	if (!err && atomic_load(&req->ctx->dead))	/* seq_cst: pairs with destroy */
		err = -ECANCELED;
	if (!err)
		g = group_get(req->fd, &stale, &err);
	if (g)
		err = 0;
	if (!err) {
		req->grp_next = g->reqs;
		g->reqs = req;
		req_park_waiting(req);
		err = group_update(g);
		if (err) {	/* epoll refused: take it back */
			g->reqs = req->grp_next;
			req_unpark(req);
			group_update(g);
		}
	}
	pthread_mutex_unlock(&P.lock);
	fail_list(stale, -EBADF);
	if (err)
		req_complete(req, err == -ECANCELED ? req_cancelled_res(req) : err);
}

static bool unlink_req(struct group *g, struct uaio_req *req)
{
	for (struct uaio_req **pp = &g->reqs; *pp; pp = &(*pp)->grp_next)
		if (*pp == req) {
			*pp = req->grp_next;
			return true;
		}
	return false;
}

bool poller_cancel(struct uaio_req *req)
{
	int s = REQ_WAITING, fd = req->fd;
	bool ok;

	pthread_mutex_lock(&P.lock);
	ok = req_claim_for_cancel(req, &s);	/* decides between us and the poller thread */
	if (ok && (size_t)fd < P.nfd && P.byfd[fd] && unlink_req(P.byfd[fd], req))
		group_update(P.byfd[fd]);
	pthread_mutex_unlock(&P.lock);
	return ok;
}

/* The result of a POLL that became ready after submit.  The kernel
 * reports the key its waker passed, not the mask asked for: a pipe write
 * wakes readers with IN|RDNORM, a pipe read wakes writers with
 * OUT|WRNORM, a socket wakes with IN|PRI|RDNORM|RDBAND or
 * OUT|WRNORM|WRBAND.  Other files, and hang-ups and errors (woken without
 * a key, so masked like poll(2)), report the ready events asked for. */
unsigned poll_wake_result(const struct uaio_req *req, unsigned revents)
{
	unsigned r = revents & req->poll_events;
	struct stat st;

	if (!r || (r & (POLLERR | POLLHUP)) || fstat(req->fd, &st) < 0)
		return r;
	if (S_ISFIFO(st.st_mode))
		return r & POLLIN ? POLLIN | POLLRDNORM : POLLOUT | POLLWRNORM;
	if (S_ISSOCK(st.st_mode))
		return r & POLLIN ? POLLIN | POLLPRI | POLLRDNORM | POLLRDBAND
				  : POLLOUT | POLLWRNORM | POLLWRBAND;
	return r;
}

/* A ready request, now RUNNING and ours: finish it or wait again. */
static void step(struct uaio_req *req, unsigned revents)
{
	int64_t n;

	if (unlikely(g_trace))
		trace_start(req, TR_POLLER);
	if (req->kind == KIND_POLL) {
		req_complete(req, poll_wake_result(req, revents));
		return;
	}
	n = req_try_nowait(req);
	if (n == -EAGAIN) {
		poller_arm(req);
		return;
	}
	if (n > 0 && req_wants(req) == POLLOUT) {
		req->done += (size_t)n;
		if (req->done < req->total) {
			poller_arm(req);
			return;
		}
	}
	if (req_wants(req) == POLLOUT)
		n = req->done ? (int64_t)req->done : n;
	req_complete(req, n);
}

static void handle(int fd, unsigned revents)
{
	struct uaio_req *ready = NULL, **pp, *q;
	struct group *g;

	pthread_mutex_lock(&P.lock);
	g = (size_t)fd < P.nfd ? P.byfd[fd] : NULL;
	for (pp = g ? &g->reqs : NULL; pp && (q = *pp);) {
		if ((revents & (req_wants(q) | POLLERR | POLLHUP)) &&
		    req_claim_for_run(q, REQ_WAITING)) {
			*pp = q->grp_next;	/* we own it now */
			q->grp_next = ready;
			ready = q;
			continue;
		}
		pp = &q->grp_next;
	}
	if (g)
		group_update(g);
	pthread_mutex_unlock(&P.lock);
	while ((q = ready)) {
		ready = q->grp_next;
		step(q, revents);
	}
}

/* P.lock held: a group epoll refuses; its waiting requests are taken
 * out onto *failed. */
static void group_fail(struct group *g, struct uaio_req **failed)
{
	struct uaio_req *q, *next;

	for (q = g->reqs, g->reqs = NULL; q; q = next) {
		next = q->grp_next;
		if (req_claim_for_run(q, REQ_WAITING)) {	/* else a canceller has it */
			q->grp_next = *failed;
			*failed = q;
		}
	}
	g->mask = 0;
	group_update(g);	/* frees it */
}

/* The poller thread, P.lock held: epfd is no longer ours (closed, or
 * another file in its place).  The old number is left to the program; a
 * new epoll gets every group.  A group whose descriptor (our private
 * reference) was taken too cannot be waited for: its requests end with
 * -EIO on *failed.  False if no epoll can be made now. */
static bool ep_rebuild(struct uaio_req **failed)
{
	if (ep_new() < 0)
		return false;
	for (size_t fd = 0; fd < P.nfd; fd++) {
		struct group *g = P.byfd[fd];

		if (!g)
			continue;
		g->mask = 0;
		if (group_update(g) < 0 || P.ep_lost)
			group_fail(g, failed);
	}
	return true;
}

/* Is epfd still ours?  Rebuilds it if not; returns the one to wait on. */
static int ep_check(int epfd, bool odd)
{
	struct uaio_req *failed = NULL, *q;

	pthread_mutex_lock(&P.lock);
	if ((odd || P.ep_lost || P.epfd != epfd) && !fd_id_same(P.epfd, &P.epid))
		P.ep_lost = true;
	if (P.ep_lost && !ep_rebuild(&failed))
		epfd = -1;
	else
		epfd = P.epfd;
	pthread_mutex_unlock(&P.lock);
	while ((q = failed)) {
		failed = q->grp_next;
		req_complete(q, -EIO);
	}
	return epfd;
}

/* Without an epoll descriptor (the table is full): one poll(2) round of
 * at most 10 ms over every group, then look for a descriptor again. */
static void poll_round(void)
{
	struct pollfd *p;
	nfds_t n = 0;

	pthread_mutex_lock(&P.lock);
	p = calloc(P.nfd ? P.nfd : 1, sizeof(*p));
	for (size_t fd = 0; p && fd < P.nfd; fd++)
		if (P.byfd[fd] && P.byfd[fd]->mask)
			p[n++] = (struct pollfd){ .fd = (int)fd, .events = (short)P.byfd[fd]->mask };
	pthread_mutex_unlock(&P.lock);
	if (poll(p, p ? n : 0, 10) > 0)
		for (nfds_t i = 0; i < n; i++)
			if (p[i].revents)
				handle(p[i].fd, (unsigned)p[i].revents);
	free(p);
}

static void *poller_main(void *arg)
{
	struct epoll_event evs[64];
	int epfd, n;

	(void)arg;
	pthread_setname_np(pthread_self(), "uaio-poller");
	pthread_mutex_lock(&P.lock);
	epfd = P.epfd;
	pthread_mutex_unlock(&P.lock);
	for (;;) {
		if (epfd < 0) {	/* no descriptor to spare: poll(2), try again */
			poll_round();
			epfd = ep_check(-1, true);
			continue;
		}
		/* At most FD_SLEEP_MAX_MS: an epoll closed under the wait is
		 * never woken again.  EBADF, EINVAL: not our epoll any more. */
		n = epoll_wait(epfd, evs, 64, FD_SLEEP_MAX_MS);
		if (n <= 0) {
			epfd = ep_check(epfd, n < 0 && errno != EINTR);
			continue;
		}
		for (int i = 0; i < n; i++)
			handle(evs[i].data.fd, evs[i].events);
	}
	return NULL;
}

void poller_atfork_prepare(void)
{
	pthread_mutex_lock(&P.lock);
}

void poller_atfork_parent(void)
{
	pthread_mutex_unlock(&P.lock);
}

/* The child has no poller thread; its waiting requests belonged to the
 * parent's contexts, which the child has forgotten. */
static struct group **volatile orphaned_groups;	/* volatile: stays reachable */

void poller_atfork_child(void)
{
	if (P.epfd >= 0 && !P.ep_lost && fd_id_same(P.epfd, &P.epid))
		close(P.epfd);
	P.epfd = -1;
	P.ep_lost = false;
	P.started = false;
	orphaned_groups = P.byfd;	/* left allocated: it names the parent's requests */
	P.byfd = NULL;
	P.nfd = 0;
	/* the forking thread took it in prepare: unlocked, not overwritten,
	 * so that ThreadSanitizer's view of it stays right */
	pthread_mutex_unlock(&P.lock);
}
