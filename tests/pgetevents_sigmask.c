/* SPEC §2 getevents: pgetevents applies its signal mask atomically for the wait: a signal it unblocks interrupts with -EINTR (handler run), the caller's mask is restored afterwards, and a signal it blocks does not interrupt. */
#include "t.h"
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

static volatile sig_atomic_t h1, h2;

static void on_usr1(int sig) { (void)sig; h1++; }
static void on_usr2(int sig) { (void)sig; h2++; }

static void msleep(long ms)
{
	struct timespec s = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&s, NULL);
}

struct later {
	pthread_t target;
	int sig;	/* 0: none */
	int wfd;	/* -1: none */
	long ms;
};

static void *later_thread(void *arg)
{
	struct later *l = arg;

	msleep(l->ms);
	if (l->sig)
		pthread_kill(l->target, l->sig);
	if (l->wfd >= 0)
		REQUIRE(write(l->wfd, "x", 1) == 1);
	return NULL;
}

static int blocked(int sig)
{
	sigset_t cur;

	REQUIRE(pthread_sigmask(SIG_SETMASK, NULL, &cur) == 0);
	return sigismember(&cur, sig);
}

struct out {
	int a_ret, a_h, a_blocked;		/* pending signal, unblocked by the mask */
	int b_ret, b_h, b_blocked;		/* signal arriving during the wait */
	int c_ret, c_h, c_data, c_res;		/* signal blocked by the mask, event arrives */
	int d_ret, d_h;				/* signal blocked by the mask, timeout */
	int d_h_after;
};

static void run(const struct t_api *a, struct out *o)
{
	aio_context_t ctx = 0;
	struct iocb cb, *v = &cb;
	struct io_event ev[2];
	sigset_t base, wait_unblock, wait_block;
	int p[2];
	pthread_t th;
	struct later l;

	memset(o, 0, sizeof(*o));
	REQUIRE(pipe(p) == 0);
	REQUIRE(a->setup(4, &ctx) == 0);
	uaio_prep_poll(&cb, p[0], POLLIN);
	cb.aio_data = 42;
	REQUIRE(a->submit(ctx, 1, &v) == 1);

	/* the thread blocks USR1 and USR2 */
	sigemptyset(&base);
	sigaddset(&base, SIGUSR1);
	sigaddset(&base, SIGUSR2);
	REQUIRE(pthread_sigmask(SIG_SETMASK, &base, NULL) == 0);
	/* the wait unblocks USR1 only */
	sigemptyset(&wait_unblock);
	sigaddset(&wait_unblock, SIGUSR2);
	/* the wait blocks both */
	wait_block = base;

	/* A: USR1 already pending when the wait starts */
	{
		struct timespec ts = { 10, 0 };

		h1 = 0;
		pthread_kill(pthread_self(), SIGUSR1);
		CHECK_EQ(h1, 0);	/* blocked: pending */
		o->a_ret = a->pgetevents(ctx, 1, 2, ev, &ts, &wait_unblock);
		o->a_blocked = blocked(SIGUSR1);	/* (first: TSan runs deferred handlers here) */
		o->a_h = h1;
	}
	/* B: USR1 arrives during the wait (sent while blocked, so it cannot be
	 * missed: it stays pending until the wait's mask lets it in) */
	{
		struct timespec ts = { 10, 0 };

		h1 = 0;
		l = (struct later){ pthread_self(), SIGUSR1, -1, 50 };
		REQUIRE(pthread_create(&th, NULL, later_thread, &l) == 0);
		o->b_ret = a->pgetevents(ctx, 1, 2, ev, &ts, &wait_unblock);
		o->b_blocked = blocked(SIGUSR1);
		o->b_h = h1;
		pthread_join(th, NULL);
	}
	/* C: USR2 pending but blocked by the wait's mask; the event comes */
	{
		struct timespec ts = { 10, 0 };

		h2 = 0;
		pthread_kill(pthread_self(), SIGUSR2);
		l = (struct later){ pthread_self(), 0, p[1], 50 };
		REQUIRE(pthread_create(&th, NULL, later_thread, &l) == 0);
		o->c_ret = a->pgetevents(ctx, 1, 2, ev, &ts, &wait_block);
		o->c_h = h2;
		o->c_data = (int)ev[0].data;
		o->c_res = (int)ev[0].res;
		pthread_join(th, NULL);
	}
	/* D: USR2 still pending and blocked; a short wait times out */
	{
		struct timespec ts = { 0, 100000000 };

		o->d_ret = a->pgetevents(ctx, 1, 2, ev, &ts, &wait_block);
		o->d_h = h2;
	}
	sigemptyset(&base);
	REQUIRE(pthread_sigmask(SIG_SETMASK, &base, NULL) == 0); /* USR2 delivered now */
	o->d_h_after = h2;
	CHECK_EQ(a->destroy(ctx), 0);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	struct sigaction sa;
	struct out u, k;

	t_want_eintr = 1;	/* -EINTR is what this test checks */

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	REQUIRE(sigaction(SIGUSR1, &sa, NULL) == 0);
	sa.sa_handler = on_usr2;
	REQUIRE(sigaction(SIGUSR2, &sa, NULL) == 0);

	run(&t_uaio, &u);
	CHECK_EQ(u.a_ret, -EINTR);
	CHECK_EQ(u.a_h, 1);
	CHECK_EQ(u.a_blocked, 1);	/* the caller's mask is back */
	CHECK_EQ(u.b_ret, -EINTR);
	CHECK_EQ(u.b_h, 1);
	CHECK_EQ(u.b_blocked, 1);
	CHECK_EQ(u.c_ret, 1);
	CHECK_EQ(u.c_h, 0);
	CHECK_EQ(u.c_data, 42);
	CHECK(u.c_res & POLLIN);
	CHECK_EQ(u.d_ret, 0);
	CHECK_EQ(u.d_h, 0);
	CHECK_EQ(u.d_h_after, 1);
	if (k_available()) {
		run(&t_kernel, &k);
		CHECK_EQ(k.a_ret, u.a_ret);
		CHECK_EQ(k.a_h, u.a_h);
		CHECK_EQ(k.a_blocked, u.a_blocked);
		CHECK_EQ(k.b_ret, u.b_ret);
		CHECK_EQ(k.b_h, u.b_h);
		CHECK_EQ(k.b_blocked, u.b_blocked);
		CHECK_EQ(k.c_ret, u.c_ret);
		CHECK_EQ(k.c_h, u.c_h);
		CHECK_EQ(k.c_data, u.c_data);
		CHECK_EQ(k.d_ret, u.d_ret);
		CHECK_EQ(k.d_h, u.d_h);
		CHECK_EQ(k.d_h_after, u.d_h_after);
	}
	return t_done();
}
