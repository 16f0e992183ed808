/* SPDX-License-Identifier: MIT */
/* uaccess.c - copies to and from caller memory that answer -EFAULT, as the
 * kernel's copy_{from,to}_user do, instead of crashing.  The check is
 * process_vm_{readv,writev} on our own pid: one system call per batch of
 * pieces that is both the check and the copy.  Unchecked contexts use
 * plain memcpy. */
#include "internal.h"
#include <errno.h>
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

/* How the checks are done: process_vm_{readv,writev} on our own pid copy
 * between a "local" and a "remote" iovec list.  The local side is copied
 * with copy_{from,to}_user (cheap, and a fault shortens the copy), the
 * remote side page by page through get_user_pages (about 0.3 us per iovec
 * element).  So the caller's memory is always the local side and our own
 * buffer the remote side: one remote element per call whatever the batch.
 * A short copy is reported at the byte; a local element the kernel's
 * access_ok refuses fails the whole call, so a short batch is finished
 * piece by piece to find the exact prefix. */

/* 1: the caller's memory on the local side; 0: on the remote side, under
 * valgrind, which checks local addresses itself and would report every
 * bad pointer we are asked to check; -1: not known yet.  Relaxed: every
 * thread computes the same. */
static _Atomic int user_local = -1;

bool ua_user_local(void)
{
	int v = atomic_load_explicit(&user_local, memory_order_relaxed);

	if (v < 0) {
		v = !UNDER_VALGRIND();
		atomic_store_explicit(&user_local, v, memory_order_relaxed);
	}
	return v;
}

/* The caller's bytes into dst. */
static ssize_t pull(const struct iovec *user, unsigned long n, void *dst, size_t len)
{
	struct iovec our = { dst, len };

	if (ua_user_local())
		return process_vm_writev(self_pid(), user, n, &our, 1, 0);
	return process_vm_readv(self_pid(), &our, 1, user, n, 0);
}

/* src into the caller's memory. */
static ssize_t push(const struct iovec *user, unsigned long n, const struct iovec *src,
		    unsigned long nsrc)
{
	if (ua_user_local())
		return process_vm_readv(self_pid(), user, n, src, nsrc, 0);
	return process_vm_writev(self_pid(), src, nsrc, user, n, 0);
}

int ua_read(bool checked, void *dst, uint64_t src, size_t len)
{
	struct iovec l = { (void *)(uintptr_t)src, len };

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
	if (checked)
		n = pieces_checked(false, dst, src, n, len);
	for (int i = 0; i < n; i++)	/* again, for memory checkers; or the copy itself */
		memcpy((char *)dst + i * len, (const void *)(uintptr_t)src[i], len);
	return n;
}

int ua_write_pieces(bool checked, const uint64_t *dst, const void *src, int n, size_t len)
{
	if (checked)
		n = pieces_checked(true, (char *)src, dst, n, len);
	for (int i = 0; i < n; i++)
		memcpy((void *)(uintptr_t)dst[i], (const char *)src + i * len, len);
	return n;
}
