/* SPDX-License-Identifier: MIT */
/* prep.c - io_submit's checks: what the kernel refuses an iocb for, in
 * the kernel's order, and each opcode's prep (its row in opcode.c): the
 * opcode's own checks and its buffers, before submit routes the request.
 * Nothing here starts I/O; every check only looks. */
#include "internal.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static bool has_cap_nice(void)
{
	static _Atomic int cached = -1;	/* relaxed: every thread computes the same */
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	int v = atomic_load_explicit(&cached, memory_order_relaxed);

	if (v < 0) {
		memset(d, 0, sizeof(d));
		v = syscall(SYS_capget, &h, d) == 0 &&
		    (d[0].effective & ((1u << CAP_SYS_NICE) | (1u << CAP_SYS_ADMIN)));
		atomic_store_explicit(&cached, v, memory_order_relaxed);
	}
	return v;
}

/* The kernel's ioprio_check_cap: class in the top 3 bits, level below. */
static int ioprio_check(int16_t prio)
{
	unsigned v = (uint16_t)prio, cls = v >> 13, level = v & 7;

	switch (cls) {
	case 1:	/* real time */
		return has_cap_nice() ? 0 : -EPERM;
	case 2:	/* best effort */
	case 3:	/* idle */
		return 0;
	case 0:	/* none */
		return level ? -EINVAL : 0;
	default:
		return -EINVAL;
	}
}

/* -EBADF if fd is not open, -EINVAL if it is not an eventfd. */
static int eventfd_check(int fd)
{
	char path[64], link[64];
	ssize_t n;

	if (fcntl(fd, F_GETFD) < 0)
		return -EBADF;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return 0;	/* no /proc: trust the caller */
	link[n] = 0;
	return strcmp(link, "anon_inode:[eventfd]") ? -EINVAL : 0;
}

/* The kernel's lookups before it stores aio_key: the fd (req->fl, its
 * F_GETFL, < 0 when it is not open), then the IOCB_FLAG_RESFD eventfd. */
int aio_check_fds(const struct uaio_req *req)
{
	if (req->fl < 0 || (req->fl & O_PATH))
		return -EBADF;
	if (req->cb.aio_flags & IOCB_FLAG_RESFD)
		return eventfd_check((int)req->cb.aio_resfd);
	return 0;
}

static bool range_ok(uint64_t buf, uint64_t len)
{
	return buf + len >= buf && buf + len <= USER_TOP;	/* the kernel's access_ok */
}

/* Fills req's iovec array (the kernel's import_ubuf / import_iovec). */
static int import_buffers(struct uaio_req *req, const struct opcode *op, bool checked)
{
	const struct iocb *cb = &req->cb;
	size_t total = 0;
	uint64_t n;

	if (!op->vectored) {
		size_t len = cb->aio_nbytes > MAX_RW_COUNT ? MAX_RW_COUNT : cb->aio_nbytes;

		if (!range_ok(cb->aio_buf, len))
			return -EFAULT;
		req->iov = req->iov_inline;
		req->iov[0].iov_base = (void *)(uintptr_t)cb->aio_buf;
		req->iov[0].iov_len = len;
		req->niov = 1;
		req->total = len;
		return 0;
	}
	n = cb->aio_nbytes;
	if (n > IOV_MAX)
		return -EINVAL;
	req->iov = n <= 4 ? req->iov_inline : malloc(n * sizeof(struct iovec));
	if (!req->iov)
		return -ENOMEM;
	req->niov = (int)n;
	if (n && ua_read(checked, req->iov, cb->aio_buf, n * sizeof(struct iovec)) < 0)
		return -EFAULT;
	for (uint64_t i = 0; i < n; i++) {
		size_t len = req->iov[i].iov_len;

		if ((ssize_t)len < 0)
			return -EINVAL;
		if (len > MAX_RW_COUNT - total)
			req->iov[i].iov_len = len = MAX_RW_COUNT - total;
		if (!range_ok((uint64_t)(uintptr_t)req->iov[i].iov_base, len))
			return -EFAULT;
		total += len;
	}
	req->total = total;
	return 0;
}

bool fd_is_dir(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_reg(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* Kernel AIO refuses, at submit with -EINVAL, a read or write on a file
 * without read_iter/write_iter.  Among unseekable files those are
 * anonymous-inode files of a few kinds, told apart by their link name. */
int anon_rw_check(int fd, bool wr)
{
	static const struct { const char *name; bool rd, wr; } kinds[] = {
		{ "anon_inode:[eventfd]", true, false },
		{ "anon_inode:[signalfd]", true, false },
		{ "anon_inode:[timerfd]", true, false },
		{ "anon_inode:inotify", false, false },
		{ "anon_inode:[eventpoll]", false, false },
		{ "anon_inode:[pidfd]", false, false },
	};
	char path[40], name[64];
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0 || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode))
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, name, sizeof(name) - 1);
	if (n < 0)
		return 0;
	name[n] = 0;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(name, kinds[i].name))
			return (wr ? kinds[i].wr : kinds[i].rd) ? 0 : -EINVAL;
	return 0;
}

/* A directory has no read method: the kernel says -EINVAL, before it
 * looks at the buffers, for a read of one.  Asked only when something
 * failed (err < 0), to keep the hot path at one system call. */
int aio_prep_rw_error(const struct uaio_req *req, int err)
{
	if (!op_is_write(req->cb.aio_lio_opcode) && fd_is_dir((int)req->cb.aio_fildes))
		return -EINVAL;
	return err;
}

int aio_prep_rw(struct uaio_req *req, const struct opcode *op, bool checked)
{
	const struct iocb *cb = &req->cb;
	int acc = req->fl & O_ACCMODE, ret;

	if ((cb->aio_flags & IOCB_FLAG_IOPRIO) && (ret = ioprio_check(cb->aio_reqprio)) < 0)
		return ret;
	if (cb->aio_rw_flags & ~UAIO_RWF_OK)
		return -EOPNOTSUPP;
	if ((cb->aio_rw_flags & RWF_DONTCACHE) && !is_reg((int)cb->aio_fildes))
		return -EOPNOTSUPP;	/* only file systems' page cache has it */
	if ((cb->aio_rw_flags & RWF_APPEND) && (cb->aio_rw_flags & RWF_NOAPPEND))
		return -EINVAL;
	if (op->write ? acc == O_RDONLY : acc == O_WRONLY)
		return -EBADF;
	req->kind = KIND_FILE;	/* until routing finds a stream */
	ret = import_buffers(req, op, checked);
	if (!ret && (cb->aio_offset < 0 ||
		     (long long)((unsigned long long)cb->aio_offset + req->total) < 0))
		ret = -EINVAL;
	return ret < 0 ? aio_prep_rw_error(req, ret) : 0;
}

int aio_prep_sync(struct uaio_req *req, UNUSED const struct opcode *op, UNUSED bool checked)
{
	const struct iocb *cb = &req->cb;
	struct stat st;

	if (cb->aio_buf || cb->aio_offset || cb->aio_nbytes || cb->aio_rw_flags)
		return -EINVAL;
	if (fstat((int)cb->aio_fildes, &st) < 0)
		return -EBADF;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISBLK(st.st_mode))
		return -EINVAL;	/* no fsync: pipes, sockets, character devices */
	req->kind = KIND_SYNC;
	return 0;
}

int aio_prep_poll(struct uaio_req *req, UNUSED const struct opcode *op, UNUSED bool checked)
{
	const struct iocb *cb = &req->cb;

	if ((uint16_t)cb->aio_buf != cb->aio_buf)
		return -EINVAL;
	if (cb->aio_offset || cb->aio_nbytes || cb->aio_rw_flags)
		return -EINVAL;
	req->kind = KIND_POLL;
	req->poll_events = (unsigned)cb->aio_buf | POLLERR | POLLHUP;
	return 0;
}
