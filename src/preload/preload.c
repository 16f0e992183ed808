/* SPDX-License-Identifier: MIT */
/* preload.c - libuaio-preload.so, loaded by `uaio-run --syscalls`: with
 * UAIO_SYSCALLS=1 it starts intercepting the AIO system calls before the
 * program's main(), and keeps SIGSYS for uaio while the program runs:
 *  - sigaction()/signal() on SIGSYS record the program's handler as the one
 *    uaio passes foreign SIGSYS signals to, instead of replacing uaio's;
 *  - sigprocmask()/pthread_sigmask() and handlers' sa_mask never block
 *    SIGSYS: a trapped call with SIGSYS blocked would kill the process.
 * Calls that go straight to the kernel (raw rt_sigaction) are not seen. */
#include "internal.h"
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (!f) {
		fprintf(stderr, "uaio-preload: no %s after us\n", name);
		abort();
	}
	return f;
}

__attribute__((constructor)) static void preload_init(void)
{
	const char *s = getenv("UAIO_SYSCALLS");
	int r;

	if (!s || strcmp(s, "1"))
		return;
	r = uaio_intercept_syscalls(0);
	if (r < 0) {
		fprintf(stderr, "uaio: cannot intercept the AIO system calls: %s\n", strerror(-r));
		_exit(126);
	}
}

UAIO_API int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	static int (*real)(int, const struct sigaction *, struct sigaction *);
	struct sigaction copy;

	if (!real)
		real = (int (*)(int, const struct sigaction *, struct sigaction *))next("sigaction");
	if (!intercept_is_active())
		return real(sig, act, old);
	if (sig == SIGSYS) {
		intercept_swap_chained(act, old);
		return 0;
	}
	if (act && sigismember(&act->sa_mask, SIGSYS)) {
		copy = *act;
		sigdelset(&copy.sa_mask, SIGSYS);
		act = &copy;
	}
	return real(sig, act, old);
}

UAIO_API sighandler_t signal(int sig, sighandler_t handler)
{
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

static const sigset_t *without_sigsys(int how, const sigset_t *set, sigset_t *copy)
{
	if (!set || how == SIG_UNBLOCK || !intercept_is_active() || !sigismember(set, SIGSYS))
		return set;
	*copy = *set;
	sigdelset(copy, SIGSYS);
	return copy;
}

UAIO_API int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	static int (*real)(int, const sigset_t *, sigset_t *);
	sigset_t copy;

	if (!real)
		real = (int (*)(int, const sigset_t *, sigset_t *))next("pthread_sigmask");
	return real(how, without_sigsys(how, set, &copy), old);
}

UAIO_API int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	static int (*real)(int, const sigset_t *, sigset_t *);
	sigset_t copy;

	if (!real)
		real = (int (*)(int, const sigset_t *, sigset_t *))next("sigprocmask");
	return real(how, without_sigsys(how, set, &copy), old);
}
