/* SPDX-License-Identifier: MIT */
/* uaccess.c - copies to and from caller memory that answer -EFAULT, as the
 * kernel's copy_{from,to}_user do, instead of crashing.
 *
 * Two ways.  Where arch/ has a fault-catching copy (x86-64: one `rep
 * movsb`), its fault (SIGSEGV, or SIGBUS past the end of a mapped file)
 * our handler turns into a short copy, as the kernel's exception table
 * does: no system call at all.  The handler is installed on first use and
 * hands every other fault to the handler that was there before.  Elsewhere
 * (arch/generic), under valgrind (which would report each bad pointer we
 * are asked to check), under ThreadSanitizer, when a sanitizer refuses the
 * handler, or with UAIO_UACCESS=vm: process_vm_{readv,writev} on our own
 * pid, one system call per batch of pieces that is both the check and the
 * copy.  Unchecked contexts use plain memcpy. */
#include "internal.h"
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/uio.h>
#include <stdlib.h>
#include <unistd.h>
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#else	/* no header: valgrind's preload library gives it away */
#define UNDER_VALGRIND() (getenv("LD_PRELOAD") && strstr(getenv("LD_PRELOAD"), "vgpreload"))
#endif
#if defined(__SANITIZE_ADDRESS__)
#define UA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UA_ASAN 1
#endif
#endif
#ifndef UA_ASAN
#define UA_ASAN 0
#endif
#if defined(__SANITIZE_THREAD__)
#define UA_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UA_TSAN 1
#endif
#endif
#ifndef UA_TSAN
#define UA_TSAN 0
#endif

/* Our pid, cached: glibc's getpid() is a system call.  Reset in a forked
 * child by ua_atfork_child(); relaxed: any thread may fill it, same value. */
static _Atomic pid_t cached_pid;

static pid_t self_pid(void)
{
	pid_t p = atomic_load_explicit(&cached_pid, memory_order_relaxed);

	if (!p) {
		p = getpid();
		atomic_store_explicit(&cached_pid, p, memory_order_relaxed);
	}
	return p;
}

void ua_atfork_child(void)
{
	atomic_store_explicit(&cached_pid, 0, memory_order_relaxed);
}

pid_t ua_pid(void)
{
	return self_pid();
}

/* How the process_vm checks are done: process_vm_{readv,writev} on our
 * own pid copy between a "local" and a "remote" iovec list.  The local side
 * is copied with copy_{from,to}_user (cheap, and a fault shortens the
 * copy), the remote side page by page through get_user_pages (about 0.3 us
 * per iovec element).  So the caller's memory is always the local side and
 * our own buffer the remote side: one remote element per call whatever the
 * batch.  A short copy is reported at the byte; a local element the
 * kernel's access_ok refuses fails the whole call, so a short batch is
 * finished piece by piece to find the exact prefix. */

/* The dispositions we replaced; written once, before our handler is in
 * place (pthread_once), read by the handler. */
static struct sigaction prev_segv, prev_bus;

/* Hands a fault that is not ours to what was there before us. */
static void chain(int sig, siginfo_t *si, void *uc)
{
	const struct sigaction *p = sig == SIGBUS ? &prev_bus : &prev_segv;
	struct sigaction dfl;

	if (p->sa_flags & SA_SIGINFO) {
		p->sa_sigaction(sig, si, uc);
		return;
	}
	if (p->sa_handler != SIG_DFL && p->sa_handler != SIG_IGN) {
		p->sa_handler(sig);
		return;
	}
	if (p->sa_handler == SIG_IGN && si->si_code <= 0)
		return;		/* sent by kill(): ignored, as before us */
	/* The default action (a fault is never ignored): back to SIG_DFL; a
	 * fault happens again on return, a sent signal is raised again (it
	 * is blocked until we return). */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, NULL);
	if (si->si_code <= 0)
		raise(sig);
}

static void on_fault(int sig, siginfo_t *si, void *uc_)
{
	if (!arch_fault_fixup(uc_))
		chain(sig, si, uc_);
}

/* Installs on_fault for SIGSEGV and SIGBUS; false (nothing changed) if
 * either cannot be had, as when ASan is told to keep its own handler, or
 * when this machine has no fault-catching copy (arch/arch.h). */
static bool install_handler(void)
{
	struct sigaction sa, cur;

	if (!ARCH_FAULT_COPY)
		return false;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	/* SA_ONSTACK: a stack-overflow fault we pass on still reaches the
	 * program's handler on its alternate stack.  SA_RESTART: as any
	 * handler should, system calls interrupted elsewhere go on. */
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	static const int sigs[2] = { SIGSEGV, SIGBUS };
	struct sigaction *prev[2] = { &prev_segv, &prev_bus };

	for (int i = 0; i < 2; i++) {
		bool set = sigaction(sigs[i], &sa, prev[i]) == 0;

		/* read back: a sanitizer may keep its own and say nothing */
		if (set && sigaction(sigs[i], NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
		    cur.sa_sigaction == on_fault)
			continue;
		if (set)
			i++;	/* put this one back too */
		while (i-- > 0)
			sigaction(sigs[i], prev[i], NULL);
		return false;
	}
	return true;
}

enum { UA_UNKNOWN, UA_FAULT, UA_VM_LOCAL, UA_VM_REMOTE };

/* The way checked copies go, decided once (pthread_once): UA_FAULT, or
 * process_vm with the caller's memory on the local side, or on the remote
 * side under valgrind (which checks local addresses itself). */
static int mode = UA_UNKNOWN;
static pthread_once_t mode_once = PTHREAD_ONCE_INIT;

static void mode_init(void)
{
	const char *e = config_uaccess();

	if (UNDER_VALGRIND())
		mode = UA_VM_REMOTE;
	else if ((e && strcmp(e, "vm") == 0) || UA_TSAN)
		/* TSan delivers a fault raised inside another signal handler
		 * (our copies in the SIGSYS handler of intercept.c) without
		 * the context our handler needs: process_vm under TSan. */
		mode = UA_VM_LOCAL;
	else
		mode = install_handler() ? UA_FAULT : UA_VM_LOCAL;
}

static int ua_mode(void)
{
	pthread_once(&mode_once, mode_init);
	return mode;
}

bool ua_user_local(void)
{
	return ua_mode() == UA_VM_LOCAL;
}

bool ua_under_valgrind(void)
{
	return ua_mode() == UA_VM_REMOTE;
}

const char *ua_mode_name(void)
{
	static const char *const names[] = { "?", "fault", "vm", "vm-remote" };

	return names[ua_mode()];
}

/* n bytes, all or none: 0, or -EFAULT.  Under ASan the plain copy
 * follows, so that it sees the accesses (and an overflow of the caller's
 * array) that the assembly copy hides from it.  (Under TSan checks go by
 * process_vm: see mode_init.) */
static int fault_copy(void *dst, const void *src, size_t n)
{
	if (arch_copy(dst, src, n))
		return -EFAULT;
	if (UA_ASAN)
		memmove(dst, src, n);
	return 0;
}

/* The caller's bytes into dst. */
static ssize_t pull(const struct iovec *user, unsigned long n, void *dst, size_t len)
{
	struct iovec our = { dst, len };

	if (ua_mode() == UA_VM_LOCAL)
		return process_vm_writev(self_pid(), user, n, &our, 1, 0);
	return process_vm_readv(self_pid(), &our, 1, user, n, 0);
}

/* src into the caller's memory. */
static ssize_t push(const struct iovec *user, unsigned long n, const struct iovec *src,
		    unsigned long nsrc)
{
	if (ua_mode() == UA_VM_LOCAL)
		return process_vm_readv(self_pid(), user, n, src, nsrc, 0);
	return process_vm_writev(self_pid(), src, nsrc, user, n, 0);
}

int ua_read(bool checked, void *dst, uint64_t src, size_t len)
{
	struct iovec l = { (void *)(uintptr_t)src, len };

	if (checked && ua_mode() == UA_FAULT)
		return fault_copy(dst, (const void *)(uintptr_t)src, len);
	if (checked && (src == 0 || pull(&l, 1, dst, len) != (ssize_t)len))
		return -EFAULT;
	/* Again by plain copy, now known readable: memory checkers (valgrind)
	 * do not see a write to the "remote" side. */
	memcpy(dst, (const void *)(uintptr_t)src, len);
	return 0;
}

int ua_writev(bool checked, uint64_t dst, const struct iovec *src, int nsrc)
{
	size_t len = 0;
	char *p = (char *)(uintptr_t)dst;
	struct iovec l;

	if (checked && ua_mode() == UA_FAULT) {
		for (int i = 0; i < nsrc; p += src[i].iov_len, i++)
			if (fault_copy(p, src[i].iov_base, src[i].iov_len) < 0)
				return -EFAULT;
		return 0;
	}
	for (int i = 0; i < nsrc; i++)
		len += src[i].iov_len;
	l = (struct iovec){ p, len };
	if (checked && (dst == 0 || push(&l, 1, src, (unsigned long)nsrc) != (ssize_t)len))
		return -EFAULT;
	for (int i = 0; i < nsrc; p += src[i].iov_len, i++)	/* seen by memory checkers */
		memcpy(p, src[i].iov_base, src[i].iov_len);
	return 0;
}

int ua_write(bool checked, uint64_t dst, const void *src, size_t len)
{
	struct iovec s = { (void *)src, len };

	return ua_writev(checked, dst, &s, 1);
}

/* Fills iov[0..k) with the pieces addr[i]+0..len, stopping before a NULL
 * (never ask for page 0); returns how many. */
static int fill_pieces(struct iovec *iov, const uint64_t *addr, int k, size_t len)
{
	for (int i = 0; i < k; i++) {
		if (addr[i] == 0)
			return i;
		iov[i] = (struct iovec){ (void *)(uintptr_t)addr[i], len };
	}
	return k;
}

/* One system call for pieces [0,k), then (after a short copy) one per
 * piece to find the exact prefix; returns how many leading pieces. */
static int pieces(bool wr, struct iovec *user, int k, char *buf, size_t len)
{
	struct iovec s = { buf, len * (size_t)k };
	ssize_t got = wr ? push(user, (unsigned long)k, &s, 1) : pull(user, (unsigned long)k, buf, s.iov_len);
	int done = got < 0 ? 0 : (int)(got / (ssize_t)len);

	if (done == k)
		return k;
	for (; done < k; done++) {
		s = (struct iovec){ buf + done * len, len };
		got = wr ? push(&user[done], 1, &s, 1) : pull(&user[done], 1, s.iov_base, len);
		if (got != (ssize_t)len)
			break;
	}
	return done;
}

/* Checked pieces in chunks of 64 (the callers' batch). */
static int pieces_checked(bool wr, char *buf, const uint64_t *addr, int n, size_t len)
{
	struct iovec user[64];
	int done = 0;

	while (done < n) {
		int k = fill_pieces(user, addr + done, n - done > 64 ? 64 : n - done, len), got;

		got = k ? pieces(wr, user, k, buf + done * len, len) : 0;
		done += got;
		if (got < 64)
			break;
	}
	return done;
}

int ua_read_pieces(bool checked, void *dst, const uint64_t *src, int n, size_t len)
{
	if (checked && ua_mode() == UA_FAULT) {
		for (int i = 0; i < n; i++)
			if (fault_copy((char *)dst + i * len, (const void *)(uintptr_t)src[i], len) < 0)
				return i;
		return n;
	}
	if (checked)
		n = pieces_checked(false, dst, src, n, len);
	for (int i = 0; i < n; i++)	/* again, for memory checkers; or the copy itself */
		memcpy((char *)dst + i * len, (const void *)(uintptr_t)src[i], len);
	return n;
}

int ua_write_pieces(bool checked, const uint64_t *dst, const void *src, int n, size_t len)
{
	if (checked && ua_mode() == UA_FAULT) {
		for (int i = 0; i < n; i++)
			if (fault_copy((void *)(uintptr_t)dst[i], (const char *)src + i * len, len) < 0)
				return i;
		return n;
	}
	if (checked)
		n = pieces_checked(true, (char *)src, dst, n, len);
	for (int i = 0; i < n; i++)
		memcpy((void *)(uintptr_t)dst[i], (const char *)src + i * len, len);
	return n;
}

/* ---- io_submit's copy-in: iocb pointers, iocbs and their aio_key ---- */

/* Copies up to n iocb pointers; returns how many leading ones were readable. */
static int iocb_ptrs_read(bool checked, uint64_t *ptrs, uint64_t src, int n)
{
	if (ua_read(checked, ptrs, src, (size_t)n * sizeof(*ptrs)) == 0)
		return n;
	for (int i = 0; i < n; i++)
		if (ua_read(true, &ptrs[i], src + (uint64_t)i * sizeof(*ptrs), sizeof(*ptrs)) < 0)
			return i;
	return n;
}

/* Writes 0 to aio_key of iocbs[0..n) as the kernel does; returns how many
 * leading ones could be written. */
static int iocb_keys_zero(bool checked, const uint64_t *ptrs, int n)
{
	static const uint32_t zero[UA_IOCB_BATCH];
	uint64_t keys[UA_IOCB_BATCH];

	for (int i = 0; i < n; i++)
		keys[i] = ptrs[i] + offsetof(struct iocb, aio_key);
	return ua_write_pieces(checked, keys, zero, n, sizeof(uint32_t));
}

/* Batches of up to SMALL iocbs: one process_vm_readv copies the iocbs
 * (remote side: one page walk each) and then zeroes their aio_key (local
 * side), one system call instead of two; from about three iocbs on, two
 * calls with one page walk each cost less.  Returns false (nothing
 * decided) unless every iocb was read; *keys = leading keys zeroed. */
#define SMALL 2

static bool iocbs_read_small(const uint64_t *ptrs, struct iocb *cbs, int n, int *keys)
{
	static const uint32_t zero[SMALL];
	struct iovec l[1 + SMALL], r[SMALL + 1];
	size_t all = sizeof(struct iocb) * (size_t)n;
	ssize_t got;

	l[0] = (struct iovec){ cbs, all };
	for (int i = 0; i < n; i++) {
		if (ptrs[i] == 0)
			return false;
		r[i] = (struct iovec){ (void *)(uintptr_t)ptrs[i], sizeof(struct iocb) };
		l[1 + i] = (struct iovec){ (char *)(uintptr_t)ptrs[i] + offsetof(struct iocb, aio_key),
					   sizeof(uint32_t) };
	}
	r[n] = (struct iovec){ (void *)zero, sizeof(uint32_t) * (size_t)n };
	got = process_vm_readv(ua_pid(), l, (unsigned long)n + 1, r, (unsigned long)n + 1, 0);
	if (got < (ssize_t)all)
		return false;
	*keys = (int)((size_t)got - all) / (int)sizeof(uint32_t);
	for (int i = 0; i < *keys; i++)	/* seen by memory checkers too */
		((struct iocb *)(uintptr_t)ptrs[i])->aio_key = 0;
	return true;
}

int ua_iocbs_read(bool checked, uint64_t src, int n, uint64_t *ptrs, struct iocb *cbs, int *keys)
{
	int m = iocb_ptrs_read(checked, ptrs, src, n);

	if (!checked || m > SMALL || !ua_user_local() || !iocbs_read_small(ptrs, cbs, m, keys)) {
		m = ua_read_pieces(checked, cbs, ptrs, m, sizeof(struct iocb));
		*keys = iocb_keys_zero(checked, ptrs, m);
	}
	return m;
}

/* ua_iocbs_read() zeroed aio_key of a whole chunk in one call; the kernel
 * stores it only for iocbs that pass the fd checks and stops at the first
 * failure.  Puts back the caller's value where it was not 0 (rare: the
 * kernel itself requires 0 for cancel). */
void ua_iocb_keys_restore(bool checked, const uint64_t *ptrs, const struct iocb *cbs, int from, int to)
{
	for (int j = from; j < to; j++)
		if (cbs[j].aio_key)
			ua_write(checked, ptrs[j] + offsetof(struct iocb, aio_key),
				 &cbs[j].aio_key, sizeof(cbs[j].aio_key));
}
