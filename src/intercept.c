/* SPDX-License-Identifier: MIT */
/* intercept.c - serve the six AIO system calls (io_setup, io_destroy,
 * io_getevents, io_submit, io_cancel, io_pgetevents) of programs that issue
 * them directly, without libaio.
 *
 * Mechanism: a seccomp filter returns SECCOMP_RET_TRAP for those six
 * numbers, and uaio's SIGSYS handler reads the arguments from the signal
 * context, runs the uaio call and stores its result in the saved register
 * the program reads it from (the registers are arch/'s: rax on x86-64), so
 * the program resumes after its `syscall` instruction with the answer the
 * kernel would have given.  Why seccomp and not syscall user dispatch:
 * dispatch is per thread and dropped by clone(), so threads created later
 * would escape, and it traps every system call outside one allowed range,
 * including the libc syscall() wrapper such programs use.  A seccomp
 * filter is inherited by every thread (TSYNC covers those that exist) and
 * costs a few BPF instructions on other system calls.
 *
 * A filter can never be removed and survives execve().  So that a program
 * exec'd afterwards (which has no handler) is left alone, the filter traps
 * only calls whose instruction pointer lies in the executable mappings that
 * exist when interception starts (the program, libc, every loaded
 * library); a new image is mapped elsewhere (ASLR), and its AIO calls reach
 * the kernel.  Libraries loaded later are covered by calling
 * uaio_intercept_syscalls() again (uaio-run's preload does it after each
 * dlopen), which stacks a filter for the new ranges.
 *
 * Other SIGSYS signals (another seccomp filter's traps, kill()) go to the
 * handler that was installed before uaio's, or that the program installs
 * later through the preload's sigaction(); errno and the signal mask are
 * the same after an intercepted call as before it. */
#include "internal.h"
#include <dlfcn.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif

#define MAX_RANGES 256

struct range { uint64_t lo, hi; };	/* [lo, hi) */

/* All of it under lock: the installed state and the ranges covered. */
static pthread_mutex_t icpt_lock = PTHREAD_MUTEX_INITIALIZER;
static struct range covered[MAX_RANGES];
static int ncovered;
static bool handler_in;			/* uaio's SIGSYS handler is installed */
static _Atomic int active;		/* 1 once the handler is in; acquire/release */

/* The SIGSYS action uaio's handler passes other SIGSYS signals to.  The
 * handler cannot lock, so each new action is written to the next of
 * CHAINED_SLOTS slots (under icpt_lock) and then published by index; a
 * reader copying one slot would have to be overtaken by that many more
 * sigaction(SIGSYS) calls to see it change. */
#define CHAINED_SLOTS 16
static struct sigaction chained[CHAINED_SLOTS];
static _Atomic unsigned chained_cur;	/* slot in use; release/acquire */

static int (*real_sigaction_fn)(int, const struct sigaction *, struct sigaction *);

static int real_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (!real_sigaction_fn) {
		void *f = dlsym(RTLD_NEXT, "sigaction");

		real_sigaction_fn = f ? (int (*)(int, const struct sigaction *, struct sigaction *))f
				      : sigaction;
	}
	return real_sigaction_fn(sig, act, old);
}

static void chained_load(struct sigaction *out)
{
	/* acquire: the slot's contents were written before its index. */
	unsigned i = atomic_load_explicit(&chained_cur, memory_order_acquire);

	memcpy(out, &chained[i % CHAINED_SLOTS], sizeof(*out));
}

/* Under icpt_lock (the only writer). */
static void chained_store(const struct sigaction *in)
{
	/* relaxed: only this (locked) writer changes the index. */
	unsigned next = atomic_load_explicit(&chained_cur, memory_order_relaxed) + 1;

	memcpy(&chained[next % CHAINED_SLOTS], in, sizeof(*in));
	/* release: publish the slot after writing it. */
	atomic_store_explicit(&chained_cur, next, memory_order_release);
}

bool intercept_is_active(void)
{
	/* acquire: pairs with the release in install(). */
	return atomic_load_explicit(&active, memory_order_acquire);
}

/* The preload's sigaction(SIGSYS, ...) while interception is on: the
 * program's handler becomes the chained one; uaio's stays installed. */
void intercept_swap_chained(const struct sigaction *act, struct sigaction *old)
{
	pthread_mutex_lock(&icpt_lock);
	if (old)
		chained_load(old);
	if (act)
		chained_store(act);
	pthread_mutex_unlock(&icpt_lock);
}

/* A SIGSYS that is not one of ours: behave as the chained action says. */
static void pass_on(int sig, siginfo_t *si, void *uc)
{
	struct sigaction a;

	chained_load(&a);
	if (a.sa_flags & SA_SIGINFO) {
		if (a.sa_sigaction)
			a.sa_sigaction(sig, si, uc);
		return;
	}
	if (a.sa_handler == SIG_IGN)
		return;
	if (a.sa_handler != SIG_DFL) {
		a.sa_handler(sig);
		return;
	}
	/* SIG_DFL: the default action of SIGSYS, terminate with a core. */
	memset(&a, 0, sizeof(a));
	a.sa_handler = SIG_DFL;
	real_sigaction(SIGSYS, &a, NULL);
	raise(SIGSYS);
}

/* io_pgetevents' sixth argument, as the kernel reads it. */
struct kaio_sigset {
	uint64_t sigmask;
	uint64_t sigsetsize;
};

static long do_pgetevents(long ctx, long min_nr, long nr, uint64_t events, uint64_t timeout,
			  uint64_t usig)
{
	struct kaio_sigset ks = { 0, 0 };
	struct timespec ts;
	sigset_t mask;
	uint64_t word;

	/* The kernel's order: timeout, the sigset descriptor, its size, the
	 * mask, and only then the context. */
	if (timeout && ua_read(true, &ts, timeout, sizeof(ts)) < 0)
		return -EFAULT;
	if (usig && ua_read(true, &ks, usig, sizeof(ks)) < 0)
		return -EFAULT;
	if (!ks.sigmask)
		return uaio_pgetevents((aio_context_t)ctx, min_nr, nr,
				       (struct io_event *)(uintptr_t)events,
				       (struct timespec *)(uintptr_t)timeout, NULL);
	if (ks.sigsetsize != sizeof(word))
		return -EINVAL;
	if (ua_read(true, &word, ks.sigmask, sizeof(word)) < 0)
		return -EFAULT;
	sigemptyset(&mask);
	memcpy(&mask, &word, sizeof(word));	/* glibc's sigset_t starts with the kernel's */
	return uaio_pgetevents((aio_context_t)ctx, min_nr, nr, (struct io_event *)(uintptr_t)events,
			       (struct timespec *)(uintptr_t)timeout, &mask);
}

/* Runs the AIO system call nr with the trapped arguments a into *ret;
 * false if nr is not one of the six. */
static bool aio_call(int nr, const uint64_t *a, long *ret)
{
	switch (nr) {
	case __NR_io_setup:
		*ret = uaio_setup((unsigned)a[0], (aio_context_t *)(uintptr_t)a[1]);
		return true;
	case __NR_io_destroy:
		*ret = uaio_destroy((aio_context_t)a[0]);
		return true;
	case __NR_io_submit:
		*ret = uaio_submit((aio_context_t)a[0], (long)a[1], (struct iocb **)(uintptr_t)a[2]);
		return true;
	case __NR_io_cancel:
		*ret = uaio_cancel((aio_context_t)a[0], (struct iocb *)(uintptr_t)a[1],
				   (struct io_event *)(uintptr_t)a[2]);
		return true;
	case __NR_io_getevents:
		*ret = uaio_getevents((aio_context_t)a[0], (long)a[1], (long)a[2],
				      (struct io_event *)(uintptr_t)a[3],
				      (struct timespec *)(uintptr_t)a[4]);
		return true;
	case __NR_io_pgetevents:
		*ret = do_pgetevents((long)a[0], (long)a[1], (long)a[2], a[3], a[4], a[5]);
		return true;
	default:
		return false;
	}
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	int saved_errno = errno;
	uint64_t a[6];
	long ret;

	if (si->si_code != SYS_SECCOMP || si->si_arch != ARCH_TRAP_AUDIT) {
		pass_on(sig, si, uc);
		return;
	}
	arch_trap_args(uc, a);
	if (!aio_call(si->si_syscall, a, &ret)) {
		pass_on(sig, si, uc);	/* another filter's trap */
		return;
	}
	arch_trap_set_ret(uc, ret);
	errno = saved_errno;
}

/* Executable mappings of the process now, merged; [vdso]/[vsyscall] are
 * left out (the vDSO makes no AIO call; vsyscall is emulated). */
static int read_exec_ranges(struct range *out, int max)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512], perms[8];
	unsigned long lo, hi;
	int n = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[2] != 'x')
			continue;
		if (strstr(line, "[vdso]") || strstr(line, "[vsyscall]"))
			continue;
		if (n && out[n - 1].hi == lo) {
			out[n - 1].hi = hi;
			continue;
		}
		if (n == max) {
			fclose(f);
			return -E2BIG;
		}
		out[n].lo = lo;
		out[n].hi = hi;
		n++;
	}
	fclose(f);
	return n;
}

static bool is_covered(const struct range *r)
{
	for (int i = 0; i < ncovered; i++)
		if (r->lo >= covered[i].lo && r->hi <= covered[i].hi)
			return true;
	return false;
}

#define STMT(c, k)		((struct sock_filter)BPF_STMT((c), (k)))
#define JUMP(c, k, t, f)	((struct sock_filter)BPF_JUMP((c), (k), (t), (f)))
#define OFF_NR		offsetof(struct seccomp_data, nr)
#define OFF_ARCH	offsetof(struct seccomp_data, arch)
#define OFF_IP_LO	offsetof(struct seccomp_data, instruction_pointer)
#define OFF_IP_HI	(offsetof(struct seccomp_data, instruction_pointer) + 4)

/* Builds the filter: AIO calls from inside one of the ranges trap, all
 * else is allowed.  Ranges are split at 4 GiB boundaries so that each
 * test compares one high word and one low-word interval (6 insns). */
static int build_filter(const struct range *rs, int n, struct sock_filter **out)
{
	int cap = 8 + 6 * (2 * n + 2), k = 0;
	struct sock_filter *p = malloc((size_t)cap * sizeof(*p));

	if (!p)
		return -ENOMEM;
	p[k++] = STMT(BPF_LD | BPF_W | BPF_ABS, OFF_ARCH);
	p[k++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH_TRAP_AUDIT, 1, 0);
	p[k++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	p[k++] = STMT(BPF_LD | BPF_W | BPF_ABS, OFF_NR);
	p[k++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_pgetevents, 3, 0);
	p[k++] = JUMP(BPF_JMP | BPF_JGE | BPF_K, ARCH_TRAP_NR_FIRST, 0, 1);
	p[k++] = JUMP(BPF_JMP | BPF_JGT | BPF_K, ARCH_TRAP_NR_LAST, 0, 1);
	p[k++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	for (int i = 0; i < n; i++) {
		uint64_t lo = rs[i].lo;

		while (lo < rs[i].hi) {
			uint64_t top = (lo | 0xffffffffULL) + 1;
			uint64_t end = rs[i].hi < top ? rs[i].hi : top;	/* [lo, end) within one 4 GiB */

			if (k + 6 > cap - 1) {
				free(p);
				return -E2BIG;
			}
			p[k++] = STMT(BPF_LD | BPF_W | BPF_ABS, OFF_IP_HI);
			p[k++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(lo >> 32), 0, 4);
			p[k++] = STMT(BPF_LD | BPF_W | BPF_ABS, OFF_IP_LO);
			p[k++] = JUMP(BPF_JMP | BPF_JGE | BPF_K, (uint32_t)lo, 0, 2);
			p[k++] = JUMP(BPF_JMP | BPF_JGT | BPF_K, (uint32_t)(end - 1), 1, 0);
			p[k++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP);
			lo = end;
		}
	}
	p[k++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	*out = p;
	return k;
}

static int install_locked(void)
{
	struct range now[MAX_RANGES], fresh[MAX_RANGES];
	struct sock_filter *insns;
	struct sock_fprog prog;
	int n, nf = 0, len;
	long r;

	n = read_exec_ranges(now, MAX_RANGES);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++)
		if (!is_covered(&now[i]))
			fresh[nf++] = now[i];
	if (!nf)
		return 0;
	if (ncovered + nf > MAX_RANGES)
		return -E2BIG;
	if (!handler_in) {
		struct sigaction sa, prev;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_sigsys;
		/* NODEFER: a program's signal handler that runs while uaio
		 * waits in getevents may itself make an AIO call. */
		sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART;
		sigemptyset(&sa.sa_mask);
		if (real_sigaction(SIGSYS, &sa, &prev) < 0)
			return -errno;
		chained_store(&prev);
		handler_in = true;
	}
	len = build_filter(fresh, nf, &insns);
	if (len < 0)
		return len;
	prog.len = (unsigned short)len;
	prog.filter = insns;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		free(insns);
		return -errno;
	}
	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
	free(insns);
	if (r != 0)	/* > 0: a thread could not be synchronised */
		return r < 0 ? -errno : -EAGAIN;
	memcpy(covered + ncovered, fresh, (size_t)nf * sizeof(*fresh));
	ncovered += nf;
	/* release: the handler and chained action are in place before anyone
	 * acts on `active`. */
	atomic_store_explicit(&active, 1, memory_order_release);
	return 0;
}

/* Errors: -EINVAL flags not 0; -ENOSYS/-EACCES/-EPERM seccomp refused
 * (-ENOSYS also: no trap on this machine, arch/generic); -E2BIG too many
 * mappings; -EAGAIN a thread could not take the filter. */
UAIO_API int uaio_intercept_syscalls(unsigned flags)
{
	int saved = errno, ret;

	if (flags)
		return -EINVAL;
	if (!ARCH_SYSCALL_TRAP)
		return -ENOSYS;
	pthread_mutex_lock(&icpt_lock);
	ret = install_locked();
	pthread_mutex_unlock(&icpt_lock);
	errno = saved;
	return ret;
}
