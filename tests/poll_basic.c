/* SPEC §2 submit: IOCB_CMD_POLL is one-shot, pending until the fd is ready, res = the ready mask (with POLLHUP/POLLERR as poll(2) reports them); a pending POLL is always cancellable (-EINPROGRESS, event res 0). */
#include "t.h"
#include <poll.h>
#include <sys/socket.h>

#define NCASES 10
#define WAKE_MASK(req) ((req) | POLLERR | POLLHUP)

struct outcome {
	int pending;	/* events found with a zero timeout right after submit */
	int nev;	/* events after the trigger */
	long long res;
	long long res2;
	int data_ok;
	int c1, c2;	/* cancel results (cancel cases) */
};

static int zero_look(const struct t_api *a, aio_context_t ctx, struct io_event *ev)
{
	struct timespec ts = { 0, 0 };

	return a->getevents(ctx, 0, 1, ev, &ts);
}

static void one(const struct t_api *a, int which, struct outcome *o)
{
	aio_context_t ctx = 0;
	struct iocb cb, *v = &cb;
	struct io_event ev;
	int f[2], fd = -1, trig = -1;
	unsigned mask = POLLIN;
	char c = 'x';

	memset(o, 0, sizeof(*o));
	REQUIRE(a->setup(4, &ctx) == 0);
	if (which <= 3 || which == 7 || which == 8)
		REQUIRE(pipe(f) == 0);
	else
		REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, f) == 0);
	switch (which) {
	case 0: fd = f[0]; mask = POLLIN; trig = 0; break;			/* pipe: write */
	case 1: fd = f[1]; mask = POLLOUT; break;				/* pipe: at once */
	case 2: fd = f[0]; mask = POLLIN; trig = 1; break;			/* pipe: writer closes */
	case 3: fd = f[0]; mask = POLLIN; close(f[1]); f[1] = -1; break;	/* pipe: no writer */
	case 4: fd = f[0]; mask = POLLIN; trig = 0; break;			/* socket: send */
	case 5: fd = f[0]; mask = POLLOUT; break;				/* socket: at once */
	case 6: fd = f[0]; mask = POLLIN | POLLRDHUP; trig = 1; break;		/* socket: peer closes */
	case 7: fd = f[0]; mask = POLLIN; trig = 2; break;			/* cancel */
	case 8: fd = f[0]; mask = POLLPRI; trig = 2; break;			/* cancel, nothing comes */
	case 9: fd = t_tmpfile(100, 0); mask = POLLIN | POLLOUT | POLLPRI; break; /* regular file */
	}
	uaio_prep_poll(&cb, fd, mask);
	cb.aio_data = 0x1234 + (uint64_t)which;
	REQUIRE(a->submit(ctx, 1, &v) == 1);
	o->pending = zero_look(a, ctx, &ev);
	if (o->pending == 0) {
		if (trig == 0)
			REQUIRE(write(f[1], &c, 1) == 1);
		else if (trig == 1) {
			close(f[1]);
			f[1] = -1;
		} else if (trig == 2) {
			o->c1 = a->cancel(ctx, &cb, &ev);
			o->c2 = a->cancel(ctx, &cb, &ev);
		}
		o->nev = t_wait1(a, ctx, &ev);
	} else {
		o->nev = o->pending;
	}
	if (o->nev == 1) {
		o->res = ev.res;
		o->res2 = ev.res2;
		o->data_ok = ev.data == 0x1234 + (uint64_t)which && ev.obj == (uint64_t)(uintptr_t)&cb;
	}
	/* one-shot: nothing more */
	CHECK_EQ(zero_look(a, ctx, &ev), 0);
	CHECK_EQ(a->destroy(ctx), 0);
	if (which == 9)
		close(fd);
	close(f[0]);
	if (f[1] >= 0)
		close(f[1]);
}

int main(void)
{
	static const char *names[NCASES] = {
		"pipe POLLIN then write", "pipe POLLOUT empty", "pipe POLLIN writer closes",
		"pipe POLLIN no writer", "socket POLLIN then send", "socket POLLOUT",
		"socket POLLIN|RDHUP peer closes", "pipe POLLIN cancelled", "pipe POLLPRI cancelled",
		"regular file POLLIN|POLLOUT|POLLPRI",
	};
	/* what is pending, and the bits the answer must have */
	static const int want_pending[NCASES] = { 0, 1, 0, 1, 0, 1, 0, 0, 0, 1 };
	static const long long want_bits[NCASES] = {
		POLLIN, POLLOUT, POLLHUP, POLLHUP, POLLIN, POLLOUT, POLLIN | POLLRDHUP, 0, 0,
		POLLIN | POLLOUT,
	};
	static const unsigned asked[NCASES] = {
		POLLIN, POLLOUT, POLLIN, POLLIN, POLLIN, POLLOUT, POLLIN | POLLRDHUP, POLLIN, POLLPRI,
		POLLIN | POLLOUT | POLLPRI,
	};
	int kok = k_available();

	for (int i = 0; i < NCASES; i++) {
		struct outcome u, k;

		fprintf(stderr, "-- %s\n", names[i]);
		one(&t_uaio, i, &u);
		CHECK_EQ(u.pending, want_pending[i]);
		CHECK_EQ(u.nev, 1);
		CHECK_EQ(u.res2, 0);
		CHECK(u.data_ok);
		if (i == 7 || i == 8) {
			CHECK_EQ(u.c1, -EINPROGRESS);
			CHECK_EQ(u.c2, -EINVAL);
			CHECK_EQ(u.res, 0);
		} else {
			CHECK_EQ(u.res & want_bits[i], want_bits[i]);
			/* nothing outside what was asked, POLLERR, POLLHUP and the
			 * companions the kernel's wakers report with them (a
			 * socket wakes readers with IN|PRI|RDNORM|RDBAND) */
			CHECK_EQ(u.res & ~(long long)(WAKE_MASK(asked[i]) | POLLRDNORM | POLLWRNORM |
						      POLLRDBAND | POLLWRBAND | POLLPRI), 0);
		}
		if (!kok)
			continue;
		one(&t_kernel, i, &k);
		CHECK_EQ(k.pending, u.pending);
		CHECK_EQ(k.nev, u.nev);
		CHECK_EQ(k.res2, u.res2);
		CHECK_EQ(k.c1, u.c1);
		CHECK_EQ(k.c2, u.c2);
		if (u.pending)
			CHECK_EQ(k.res, u.res);		/* at once: the same mask */
		else	/* woken: the kernel may add *NORM bits from the wake key */
			CHECK_EQ(k.res, u.res);	/* the kernel reports its waker's key */
	}
	return t_done();
}
