/* SPDX-License-Identifier: MIT */
/* uaccess.c - copies to and from caller memory that answer -EFAULT, as the
 * kernel's copy_{from,to}_user do, instead of crashing.  The check is
 * process_vm_{readv,writev} on our own pid: one system call that is both
 * the check and the copy.  Unchecked contexts use plain memcpy. */
#include "internal.h"
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

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

int ua_read(bool checked, void *dst, uint64_t src, size_t len)
{
	struct iovec l = { dst, len }, r = { (void *)(uintptr_t)src, len };

	if (!checked) {
		memcpy(dst, (const void *)(uintptr_t)src, len);
		return 0;
	}
	if (src == 0)
		return -EFAULT;
	return process_vm_readv(self_pid(), &l, 1, &r, 1, 0) == (ssize_t)len ? 0 : -EFAULT;
}

int ua_write(bool checked, uint64_t dst, const void *src, size_t len)
{
	struct iovec l = { (void *)src, len }, r = { (void *)(uintptr_t)dst, len };

	if (!checked) {
		memcpy((void *)(uintptr_t)dst, src, len);
		return 0;
	}
	if (dst == 0)
		return -EFAULT;
	if (process_vm_writev(self_pid(), &l, 1, &r, 1, 0) != (ssize_t)len)
		return -EFAULT;
	/* The same bytes again, now known to be writable: tools that track
	 * memory (valgrind) do not see a write through process_vm_writev. */
	memcpy((void *)(uintptr_t)dst, src, len);
	return 0;
}

int ua_read_pieces(bool checked, void *dst, const uint64_t *src, int n, size_t len)
{
	struct iovec l = { dst, len * (size_t)n }, r[64];
	int i, done = 0;
	ssize_t got;

	if (!checked) {
		for (i = 0; i < n; i++)
			memcpy((char *)dst + i * len, (const void *)(uintptr_t)src[i], len);
		return n;
	}
	while (done < n) {
		int k = n - done > 64 ? 64 : n - done;

		for (i = 0; i < k; i++) {
			r[i].iov_base = (void *)(uintptr_t)src[done + i];
			r[i].iov_len = len;
			if (src[done + i] == 0)
				k = i;	/* stop before a NULL: never ask for page 0 */
		}
		if (k == 0)
			break;
		l.iov_base = (char *)dst + done * len;
		l.iov_len = len * (size_t)k;
		got = process_vm_readv(self_pid(), &l, 1, r, (unsigned long)k, 0);
		if (got < 0)
			break;
		done += (int)(got / (ssize_t)len);
		if (got < (ssize_t)(len * (size_t)k))
			break;
	}
	return done;
}
