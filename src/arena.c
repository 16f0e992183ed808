/* SPDX-License-Identifier: MIT */
/* arena.c - ring memory.  Each 512 MiB chunk of the arena is one piece of
 * shared memory that the library maps once for itself (and always writes
 * through that view); a matching range is reserved for the user, where each
 * context's slice of the chunk is mapped at its own offset.  Neighbouring
 * slices merge into one mapping, so 65,536 contexts cost neither a
 * descriptor nor a mapping each, and a user's mremap of a ring moves
 * nothing the library uses.
 *
 * The chunks are shared anonymous memory (shmem sized by mmap itself) and a
 * slice's user view is a duplicate of the library's made by mremap with an
 * old length of 0.  A memfd grown with ftruncate would be a file the
 * program writes: RLIMIT_FSIZE (ulimit -f) governs it, and over the limit
 * the kernel raises SIGXFSZ, which kills a program that never asked for a
 * file, where the kernel's io_setup just works.  Shared anonymous memory
 * has no file size to limit and needs no descriptor.  Only where mremap
 * will not duplicate (valgrind refuses it) or the first chunk cannot be
 * mapped does the arena fall back to a memfd, grown with SIGXFSZ held off
 * (over the limit: -ENOMEM).
 * Callers hold the context table's write lock. */
#include "arena.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct extent { size_t off, len; struct extent *next; };

enum backing { UNDECIDED, SHMEM_ANON, MEMFD };

static struct {
	enum backing backing;
	int fd;				/* the memfd (MEMFD only), else -1 */
	unsigned nchunks;
	char *lib[ARENA_MAXCHUNK];
	char *user[ARENA_MAXCHUNK];
	size_t bump;			/* next never-used offset */
	struct extent *free;		/* released slices, oldest first */
	struct extent *free_tail;	/* last of them, for O(1) appends */
} A = { .fd = -1 };

/* ftruncate of the fallback memfd.  Over RLIMIT_FSIZE the kernel sends
 * SIGXFSZ to this thread: held blocked meanwhile and taken back unless one
 * was already pending, so the program never sees it. */
static int memfd_resize(off_t len)
{
	struct timespec zero = { 0, 0 };
	sigset_t xfsz, old, pending;
	bool was_pending;
	int ret;

	sigemptyset(&xfsz);
	sigaddset(&xfsz, SIGXFSZ);
	pthread_sigmask(SIG_BLOCK, &xfsz, &old);
	was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGXFSZ);
	ret = ftruncate(A.fd, len);
	if (ret < 0 && errno == EFBIG && !was_pending)
		sigtimedwait(&xfsz, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

/* The library's view of chunk k (arena offset off). */
static void *chunk_map(size_t off)
{
	if (A.backing == SHMEM_ANON)
		return mmap(NULL, ARENA_CHUNK, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (A.fd < 0 && (A.fd = memfd_create("uaio-rings", MFD_CLOEXEC)) < 0)
		return MAP_FAILED;
	if (memfd_resize((off_t)(off + ARENA_CHUNK)) < 0)
		return MAP_FAILED;
	return mmap(NULL, ARENA_CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		    A.fd, (off_t)off);
}

/* A user view of len bytes of chunk memory at lib, placed at user. */
static void *view_map(char *lib, char *user, size_t off, size_t len)
{
	if (A.backing == SHMEM_ANON)
		return mremap(lib, 0, len, MREMAP_MAYMOVE | MREMAP_FIXED, user);
	return mmap(user, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, A.fd, (off_t)off);
}

/* Gives [p, p + len) back to the user reservation. */
static void reserve_again(char *p, size_t len)
{
	mmap(p, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	madvise(p, len, MADV_DONTFORK);
}

/* First chunk of the process: shared anonymous memory if mremap duplicates
 * it here (tried on one page), else (EINVAL) a memfd.  Also a memfd if the
 * chunk cannot be had (ENOMEM): strict overcommit charges all of shared
 * anonymous memory at mmap, but a memfd's page by page, as it is used. */
static int choose_backing(void **lib, void *user)
{
	int err;

	A.backing = SHMEM_ANON;
	*lib = chunk_map(0);
	if (*lib == MAP_FAILED) {
		if (errno != ENOMEM)
			goto undecided;
	} else if (view_map(*lib, user, 0, PAGE_SZ) != MAP_FAILED) {
		reserve_again(user, PAGE_SZ);
		return 0;
	} else {
		err = errno;
		munmap(*lib, ARENA_CHUNK);
		if (err != EINVAL)
			goto undecided;
	}
	A.backing = MEMFD;
	*lib = chunk_map(0);
	if (*lib != MAP_FAILED)
		return 0;
undecided:
	if (A.fd >= 0)
		close(A.fd);
	A.fd = -1;
	A.backing = UNDECIDED;
	return -ENOMEM;
}

static int arena_grow(void)
{
	size_t off = (size_t)A.nchunks * ARENA_CHUNK;
	void *lib, *user;

	if (A.nchunks == ARENA_MAXCHUNK)
		return -ENOMEM;
	user = mmap(NULL, ARENA_CHUNK, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (user == MAP_FAILED)
		return -ENOMEM;
	if (A.backing == UNDECIDED ? choose_backing(&lib, user) < 0 :
	    (lib = chunk_map(off)) == MAP_FAILED) {
		munmap(user, ARENA_CHUNK);
		return -ENOMEM;
	}
	/* A forked child must not share (and scribble on) the parent's rings. */
	madvise(lib, ARENA_CHUNK, MADV_DONTFORK);
	madvise(user, ARENA_CHUNK, MADV_DONTFORK);
	A.lib[A.nchunks] = lib;
	A.user[A.nchunks] = user;
	A.nchunks++;
	return 0;
}

static int take_extent(size_t len, size_t *off)
{
	struct extent **pp, *e;

	for (pp = &A.free; (e = *pp); pp = &e->next) {
		if (e->len < len)
			continue;
		*off = e->off;
		if (e->len == len) {
			*pp = e->next;
			if (A.free_tail == e)
				A.free_tail = pp == &A.free ? NULL : (struct extent *)((char *)pp - offsetof(struct extent, next));
			free(e);
		} else {
			e->off += len;
			e->len -= len;
		}
		return 0;
	}
	if (A.bump / ARENA_CHUNK != (A.bump + len - 1) / ARENA_CHUNK)
		A.bump = (A.bump / ARENA_CHUNK + 1) * ARENA_CHUNK;	/* no straddling */
	while (A.bump + len > (size_t)A.nchunks * ARENA_CHUNK)
		if (arena_grow() < 0)
			return -ENOMEM;
	*off = A.bump;
	A.bump += len;
	return 0;
}

static void give_extent(size_t off, size_t len)
{
	struct extent *e = malloc(sizeof(*e));

	if (!e)
		return;		/* the slice is lost, not corrupted */
	e->off = off;
	e->len = len;
	e->next = NULL;
	if (A.free_tail)
		A.free_tail->next = e;
	else
		A.free = e;
	A.free_tail = e;
}

int arena_alloc(size_t len, struct arena_slice *s)
{
	size_t off, rel;
	unsigned k;
	void *u;

	if (take_extent(len, &off) < 0)
		return -ENOMEM;
	k = (unsigned)(off / ARENA_CHUNK);
	rel = off % ARENA_CHUNK;
	u = view_map(A.lib[k] + rel, A.user[k] + rel, off, len);
	if (u == MAP_FAILED) {
		give_extent(off, len);
		return -ENOMEM;
	}
	madvise(u, len, MADV_DONTFORK);
	s->off = off;
	s->len = len;
	s->lib = A.lib[k] + rel;
	s->user = (char *)u;
	return 0;
}

void arena_free(const struct arena_slice *s, uint64_t moved_to)
{
	unsigned k = (unsigned)(s->off / ARENA_CHUNK);
	char *home = A.user[k] + s->off % ARENA_CHUNK;

	if (moved_to && moved_to != (uint64_t)(uintptr_t)home)
		munmap((void *)(uintptr_t)moved_to, s->len);
	/* Give the address range back to the reservation, then the memory
	 * (a hole punched in the chunk, through the library's view). */
	reserve_again(home, s->len);
	madvise(A.lib[k] + s->off % ARENA_CHUNK, s->len, MADV_REMOVE);
	give_extent(s->off, s->len);
}

/* Which chunk slot does a user address fall in?  -1 if none. */
long arena_user_page(uint64_t addr)
{
	for (unsigned k = 0; k < A.nchunks; k++) {
		uint64_t b = (uint64_t)(uintptr_t)A.user[k];

		if (addr >= b && addr < b + ARENA_CHUNK)
			return (long)((k * ARENA_CHUNK + (addr - b)) / PAGE_SZ);
	}
	return -1;
}

/* A place in shared memory as /proc/self/maps shows it: the object's
 * device and inode, and the byte offset in it. */
struct shm_pos { unsigned long dev, ino, pos; bool found; };

/* Fills *at for addr and base[k] for each chunk's library view from one
 * maps line (its offset column is in bytes). */
static void maps_line(const char *line, uint64_t addr, struct shm_pos *at, struct shm_pos *base)
{
	unsigned long lo, hi, pgoff, ino;
	unsigned maj, min;
	struct shm_pos p;

	if (sscanf(line, "%lx-%lx %*s %lx %x:%x %lu", &lo, &hi, &pgoff, &maj, &min, &ino) != 6)
		return;
	p.dev = (unsigned long)maj << 20 | min;
	p.ino = ino;
	p.found = true;
	if (addr >= lo && addr < hi) {
		*at = p;
		at->pos = pgoff + (addr - lo);
	}
	for (unsigned k = 0; k < A.nchunks; k++) {
		uint64_t b = (uint64_t)(uintptr_t)A.lib[k];

		if (b >= lo && b < hi) {
			base[k] = p;
			base[k].pos = pgoff + (b - lo);
		}
	}
}

/* A mapping the user moved with mremap: find which chunk's memory it shows,
 * and where, through /proc/self/maps (device, inode and offset of the
 * mapping at addr against those of each chunk's library view; the chunks
 * are anonymous, so no name tells).  Returns the page index or -1. */
long arena_resolve_moved(uint64_t addr)
{
	struct shm_pos at = { 0 }, base[ARENA_MAXCHUNK] = { { 0 } };
	char *line = NULL;
	size_t cap = 0;
	long page = -1;
	FILE *f;

	if (!A.nchunks || (addr & (PAGE_SZ - 1)))
		return -1;
	for (unsigned k = 0; k < A.nchunks; k++)	/* the library's own view is no handle */
		if (addr - (uint64_t)(uintptr_t)A.lib[k] < ARENA_CHUNK)
			return -1;
	f = fopen("/proc/self/maps", "re");
	if (!f)
		return -1;
	while (getline(&line, &cap, f) > 0)
		maps_line(line, addr, &at, base);
	free(line);
	fclose(f);
	for (unsigned k = 0; at.found && k < A.nchunks; k++) {
		if (!base[k].found || base[k].dev != at.dev || base[k].ino != at.ino ||
		    at.pos < base[k].pos || at.pos - base[k].pos >= ARENA_CHUNK)
			continue;
		page = (long)((k * ARENA_CHUNK + (at.pos - base[k].pos)) / PAGE_SZ);
		break;
	}
	return page;
}

size_t arena_pages(void)
{
	return (size_t)A.nchunks * (ARENA_CHUNK / PAGE_SZ);
}

/* In a forked child: the views were not inherited (MADV_DONTFORK); forget
 * them (and the memfd, if any), so that a new context starts a fresh arena. */
static struct extent *volatile orphaned_free;	/* volatile: kept reachable for leak checkers */

void arena_atfork_child(void)
{
	if (A.fd >= 0)
		close(A.fd);
	/* The free list is left allocated, unread: another thread of the
	 * parent may have been changing it (the table lock is not held
	 * across fork). */
	orphaned_free = A.free;
	memset(&A, 0, sizeof(A));
	A.fd = -1;
}
