/* SPEC §2 getevents: a signal that interrupts a wait with nothing copied gives -EINTR, even when its handler has SA_RESTART (the kernel never restarts this call). */
#include "t.h"
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <time.h>

static volatile sig_atomic_t handled;

static void on_usr1(int sig)
{
	(void)sig;
	handled++;
}

struct waiter {
	const struct t_api *a;
	aio_context_t ctx;
	struct timespec *ts;
	struct io_event ev[4];
	int ret;
	_Atomic int done;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;

	w->ret = w->a->getevents(w->ctx, 1, 4, w->ev, w->ts);
	atomic_store(&w->done, 1);
	return NULL;
}

static void msleep(long ms)
{
	struct timespec s = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&s, NULL);
}

/* One case: returns the waiter's result; *late is the event that
 * arrives afterwards (the pending request is not lost). */
static int one(const struct t_api *a, int restart, int with_timeout, int *late_res)
{
	struct sigaction sa;
	struct waiter w;
	struct timespec ts = { 10, 0 };
	aio_context_t ctx = 0;
	struct iocb cb, *v = &cb;
	pthread_t th;
	int p[2], sent = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = restart ? SA_RESTART : 0;
	REQUIRE(sigaction(SIGUSR1, &sa, NULL) == 0);
	REQUIRE(pipe(p) == 0);
	REQUIRE(a->setup(4, &ctx) == 0);
	/* a pending POLL keeps the context busy (the kernel blocks on pipe reads) */
	uaio_prep_poll(&cb, p[0], POLLIN);
	cb.aio_data = 7;
	REQUIRE(a->submit(ctx, 1, &v) == 1);

	memset(&w, 0, sizeof(w));
	memset(w.ev, 0xab, sizeof(w.ev));
	w.a = a;
	w.ctx = ctx;
	w.ts = with_timeout ? &ts : NULL;
	handled = 0;
	REQUIRE(pthread_create(&th, NULL, wait_thread, &w) == 0);
	/* keep signalling until the wait ends: a signal that lands before the
	 * thread sleeps just runs the handler, the next one interrupts */
	for (int i = 0; i < 500 && !atomic_load(&w.done); i++) {
		msleep(i < 5 ? 20 : 10);
		if (!atomic_load(&w.done)) {
			pthread_kill(th, SIGUSR1);
			sent++;
		}
	}
	if (!atomic_load(&w.done)) {
		t_fail("%s: getevents not interrupted by %d signals (SA_RESTART %d)", a->name, sent, restart);
		REQUIRE(write(p[1], "x", 1) == 1);	/* let it finish */
	}
	pthread_join(th, NULL);
	CHECK(handled >= 1);
	if (w.ret == -EINTR) {
		/* nothing copied */
		unsigned char *b = (unsigned char *)w.ev;
		int clean = 1;

		for (size_t i = 0; i < sizeof(w.ev); i++)
			clean &= b[i] == 0xab;
		CHECK(clean);
		/* the request is still there and completes */
		REQUIRE(write(p[1], "x", 1) == 1);
		{
			struct io_event ev;

			CHECK_EQ(t_wait1(a, ctx, &ev), 1);
			CHECK_EQ(ev.data, 7);
			*late_res = (int)ev.res;
		}
	}
	CHECK_EQ(a->destroy(ctx), 0);
	close(p[0]);
	close(p[1]);
	signal(SIGUSR1, SIG_DFL);
	return w.ret;
}

int main(void)
{
	int kok = k_available();

	t_want_eintr = 1;	/* -EINTR is what this test checks */

	for (int restart = 0; restart < 2; restart++)
		for (int tmo = 0; tmo < 2; tmo++) {
			int ul = 0, kl = 0, u, k;

			u = one(&t_uaio, restart, tmo, &ul);
			if (u != -EINTR)
				t_fail("uaio: SA_RESTART %d timeout %s: got %d, want -EINTR", restart,
				       tmo ? "10s" : "NULL", u);
			CHECK(ul & POLLIN);
			if (kok) {
				k = one(&t_kernel, restart, tmo, &kl);
				CHECK_EQ(k, -EINTR);
				CHECK_EQ(u, k);
				CHECK(kl & POLLIN);
			}
		}
	return t_done();
}
