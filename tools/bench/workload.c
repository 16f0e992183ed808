/* SPDX-License-Identifier: MIT */
/* workload.c - what every engine's row does alike: the files (opened,
 * created, filled, probed for O_DIRECT, pre-read) and the requests'
 * operations and offsets, with --verify's data. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/magic.h>

#include "bench.h"

/* --verify's data: every 8 bytes a function of (file, byte offset, generation). */
static void fill_verify(void *buf, size_t len, unsigned file, uint64_t off, uint64_t gen)
{
	uint64_t *w = buf, base = mix64(((uint64_t)file << 56) ^ (gen << 40) ^ SEED);

	for (size_t i = 0; i < len / 8; i++)
		w[i] = mix64(base ^ (off + i * 8));
}

bool check_verify(const void *buf, size_t len, unsigned file, uint64_t off, uint64_t gen)
{
	const uint64_t *w = buf;
	uint64_t base = mix64(((uint64_t)file << 56) ^ (gen << 40) ^ SEED);

	for (size_t i = 0; i < len / 8; i++)
		if (w[i] != mix64(base ^ (off + i * 8)))
			return false;
	return true;
}

const char *fs_name(long type)
{
	switch (type) {
	case EXT4_SUPER_MAGIC: return "ext2/3/4";
	case XFS_SUPER_MAGIC: return "xfs";
	case BTRFS_SUPER_MAGIC: return "btrfs";
	case TMPFS_MAGIC: return "tmpfs";
	case RAMFS_MAGIC: return "ramfs";
	case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
	case NFS_SUPER_MAGIC: return "nfs";
	default: return "other fs";
	}
}

static void fill_file(struct file *f, uint64_t from, uint64_t size)
{
	char *buf = xmalloc(CHUNK);

	fill_random(buf, CHUNK, SEED);
	for (uint64_t off = from; off < size;) {
		size_t len = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		ssize_t n = pwrite(f->fd, buf, len, (off_t)off);
		if (n <= 0) {
			if (n < 0 && (errno == ENOSPC || errno == EDQUOT))
				bad_usage("%s: no space left while writing %llu bytes for --size",
					  f->path, (unsigned long long)size);
			fatal("%s: writing the file: %s", f->path, n < 0 ? strerror(errno) : "no progress");
		}
		off += (uint64_t)n;
	}
	free(buf);
	/* On disk now, so O_DIRECT rows do not start by flushing dirty pages. */
	if (fdatasync(f->fd) < 0)
		fatal("%s: fdatasync: %s", f->path, strerror(errno));
}


/* A new temporary file in $TMPDIR or /tmp, its name in path: the caller
 * unlinks it once it has the descriptors it needs. */
int temp_file(char *path, size_t n)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	if ((size_t)snprintf(path, n, "%s/" PROG ".XXXXXX", dir) >= n)
		bad_usage("$TMPDIR is too long");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		bad_usage("cannot create a temporary file in %s: %s", dir, strerror(errno));
	return fd;
}

/* A user's file: created (and removed again on an error exit) or opened. */
static void open_named(const struct opts *o, const char *path, struct file *f)
{
	if ((size_t)snprintf(f->path, sizeof(f->path), "%s", path) >= sizeof(f->path))
		bad_usage("%s: path too long", path);
	f->fd = open(f->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (f->fd >= 0)
		remember_created(f->path);
	else if (errno == EEXIST)
		f->fd = open(f->path, O_RDWR | O_CLOEXEC);
	if (f->fd < 0 && (errno == EACCES || errno == EROFS || errno == EISDIR) && !rw_writes(o->rw))
		f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		bad_usage("cannot open '%s': %s", f->path, strerror(errno));
}

/* A block device: its size bounds the span, and writes need consent. */
static void size_blockdev(const struct opts *o, struct file *f, uint64_t *span)
{
	uint64_t dev = 0;

	f->blockdev = true;
	if (ioctl(f->fd, BLKGETSIZE64, &dev) < 0)
		bad_usage("%s: cannot read the device size: %s", f->path, strerror(errno));
	if (rw_writes(o->rw) && !o->allow_dev_write)
		bad_usage("%s is a block device and --rw %s would overwrite it; add "
			  "--allow-device-write if that is what you want", f->path, rw_names[o->rw]);
	if (o->size > dev)
		bad_usage("%s: --size (%llu) is larger than the device (%llu bytes)", f->path,
			  (unsigned long long)o->size, (unsigned long long)dev);
	if (!*span || (!o->size && dev < *span))
		*span = o->size ? o->size : dev;
}

/* What f is (file system, regular file or device), and the span it sets. */
static void stat_file(const struct opts *o, struct file *f, uint64_t *span)
{
	struct statfs sfs;
	struct stat st;

	if (fstat(f->fd, &st) < 0 || fstatfs(f->fd, &sfs) < 0)
		bad_usage("%s: %s", f->path, strerror(errno));
	f->fstype = (long)sfs.f_type;
	if (S_ISBLK(st.st_mode)) {
		size_blockdev(o, f, span);
	} else if (!S_ISREG(st.st_mode)) {
		bad_usage("%s: %s", f->path, S_ISDIR(st.st_mode) ? "is a directory, not a file"
				     : "not a regular file or block device");
	} else if (!*span) {
		*span = o->size ? o->size : GiB;
	}
}

/* Opens path (or a temporary file when path is NULL) and its O_DIRECT twin. */
static void open_file(const struct opts *o, const char *path, struct file *f, uint64_t *span,
		      bool direct_explicit)
{
	memset(f, 0, sizeof(*f));
	f->dfd = -1;
	if (path) {
		open_named(o, path, f);
	} else {
		f->temporary = true;
		f->fd = temp_file(f->path, sizeof(f->path));
	}
	stat_file(o, f, span);
	if (o->modes & (1u << MODE_DIRECT)) {
		f->dfd = open(f->path, (rw_writes(o->rw) || f->temporary ? O_RDWR : O_RDONLY) |
				       O_DIRECT | O_CLOEXEC);
		f->direct_err = f->dfd < 0 ? errno : 0;
		if (f->dfd < 0 && direct_explicit)
			bad_usage("%s: the file system (%s) refuses O_DIRECT (%s); drop --direct",
				  f->path, fs_name(f->fstype), strerror(f->direct_err));
	}
	/* Its fds are open: unlink now so no exit path, even a signal, leaves it behind. */
	if (f->temporary && unlink(f->path) < 0)
		fatal("%s: %s", f->path, strerror(errno));
}

static void size_file(const struct opts *o, struct file *f, uint64_t span)
{
	struct statvfs vfs;
	struct stat st;
	uint64_t t0;

	if (f->blockdev)
		return;
	if (fstat(f->fd, &st) < 0)
		fatal("%s: %s", f->path, strerror(errno));
	if ((uint64_t)st.st_size >= span)
		return;
	/* ramfs and the like report no blocks at all: nothing to check. */
	if (fstatvfs(f->fd, &vfs) == 0 && vfs.f_blocks > 0) {
		uint64_t need = span - (uint64_t)st.st_size;
		uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;

		if (avail < need + need / 64)
			bad_usage("%s: not enough space for --size: %.1f GiB more needed, %.1f GiB free",
				  f->path, (double)need / GiB, (double)avail / GiB);
	}
	if ((fcntl(f->fd, F_GETFL) & O_ACCMODE) == O_RDONLY)
		bad_usage("%s: read-only and smaller than --size", f->path);
	t0 = now_ns();
	fill_file(f, (uint64_t)st.st_size, span);
	f->fill_s = (double)(now_ns() - t0) / 1e9;
	(void)o;
}

/* One O_DIRECT read of bs: catches file systems that open but fail the I/O. */
static void probe_direct(const struct opts *o, struct file *f, bool direct_explicit)
{
	void *buf;
	ssize_t n;

	if (f->dfd < 0)
		return;
	buf = xmemalign(o->bs);
	n = pread(f->dfd, buf, o->bs, 0);
	if (n < 0) {
		f->direct_err = errno;
		close(f->dfd);
		f->dfd = -1;
		if (direct_explicit)
			bad_usage("%s: O_DIRECT reads of %llu bytes fail on this file system (%s): %s; "
				  "drop --direct or change --bs", f->path, (unsigned long long)o->bs,
				  fs_name(f->fstype), strerror(f->direct_err));
	}
	free(buf);
}

void open_target(const struct opts *o, struct target *t, bool direct_explicit)
{
	memset(t, 0, sizeof(*t));
	t->n = o->nfiles ? o->nfiles : 1;
	for (unsigned i = 0; i < t->n; i++)
		open_file(o, o->nfiles ? o->files[i] : NULL, &t->f[i], &t->span, direct_explicit);
	if (t->span < o->bs)
		bad_usage("%s: smaller than --bs", t->f[0].path);
	t->span -= t->span % o->bs;
	t->nblocks = t->span / o->bs;
	for (unsigned i = 0; i < t->n; i++) {
		size_file(o, &t->f[i], t->span);
		probe_direct(o, &t->f[i], direct_explicit);
		if (o->verify)
			t->f[i].written = xmalloc((t->nblocks + 63) / 64 * 8);
	}
	/* Complete now: a user's new files stay, even if a row fails later. */
	forget_created();
}

void close_target(struct target *t)
{
	for (unsigned i = 0; i < t->n; i++) {
		close(t->f[i].fd);
		if (t->f[i].dfd >= 0)
			close(t->f[i].dfd);
		free(t->f[i].written);
	}
}

/* Warm cache for the buffered rows: read it all once, and say how long it took. */
double preread(const struct target *t)
{
	char *buf = xmalloc(CHUNK);
	uint64_t t0 = now_ns();

	for (unsigned i = 0; i < t->n; i++)
		for (uint64_t off = 0; off < t->span;) {
			size_t len = t->span - off < CHUNK ? (size_t)(t->span - off) : CHUNK;
			ssize_t n = pread(t->f[i].fd, buf, len, (off_t)off);
			if (n <= 0)
				fatal("%s: pre-reading: %s", t->f[i].path,
				      n < 0 ? strerror(errno) : "unexpected end of file");
			off += (uint64_t)n;
		}
	free(buf);
	return (double)(now_ns() - t0) / 1e9;
}

struct req *next_req(struct job *j)
{
	struct bench *b = j->b;
	const struct opts *o = b->o;
	uint64_t total = b->t->nblocks * b->t->n, g;
	struct req *r = j->freel[--j->nfree];

	if (o->replay) {
		replay_next(j, r);
		return r;
	}
	r->len = (uint32_t)o->bs;
	if (!rw_writes(o->rw))
		r->op = OP_READ;
	else if (!rw_reads(o->rw))
		r->op = OP_WRITE;
	else
		r->op = xorshift(&j->rng) % 100 < o->rwmix ? OP_READ : OP_WRITE;
	if (rw_random(o->rw))
		g = xorshift(&j->rng) % total;
	else	/* relaxed: the group's threads only share the counter */
		g = __atomic_fetch_add(&j->g->seq, 1, __ATOMIC_RELAXED) % total;
	/* Block g: files take turns, each read through in order. */
	r->file = (unsigned)(g % b->t->n);
	r->off = g / b->t->n * o->bs;
	if (r->op == OP_WRITE && o->verify) {
		uint64_t blk = r->off / o->bs;

		fill_verify(r->buf, o->bs, r->file, r->off, b->gen);
		/* relaxed: read by verify_row after the threads are joined */
		__atomic_fetch_or(&b->t->f[r->file].written[blk / 64], 1ull << (blk % 64), __ATOMIC_RELAXED);
	}
	return r;
}
