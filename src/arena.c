/* SPDX-License-Identifier: MIT */
/* arena.c - ring memory.  Every ring lives in one memfd.  The library maps
 * each 512 MiB chunk of it once for itself (and always writes through that
 * view) and reserves a matching range for the user, where each context's
 * slice is mapped at its own offset.  Neighbouring slices merge into one
 * mapping, so 65,536 contexts cost neither a descriptor nor a mapping
 * each, and a user's mremap of a ring moves nothing the library uses.
 * Callers hold the context table's write lock. */
#include "arena.h"
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct extent { size_t off, len; struct extent *next; };

static struct {
	int fd;
	unsigned nchunks;
	char *lib[ARENA_MAXCHUNK];
	char *user[ARENA_MAXCHUNK];
	size_t bump;			/* next never-used offset */
	struct extent *free;		/* released slices, oldest first */
	struct extent *free_tail;	/* last of them, for O(1) appends */
} A = { .fd = -1 };

static int arena_grow(void)
{
	size_t off = (size_t)A.nchunks * ARENA_CHUNK;
	void *lib, *user;

	if (A.nchunks == ARENA_MAXCHUNK)
		return -ENOMEM;
	if (A.fd < 0) {
		A.fd = memfd_create("uaio-rings", MFD_CLOEXEC);
		if (A.fd < 0)
			return -ENOMEM;
	}
	if (ftruncate(A.fd, (off_t)(off + ARENA_CHUNK)) < 0)
		return -ENOMEM;
	lib = mmap(NULL, ARENA_CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		   A.fd, (off_t)off);
	if (lib == MAP_FAILED)
		return -ENOMEM;
	user = mmap(NULL, ARENA_CHUNK, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (user == MAP_FAILED) {
		munmap(lib, ARENA_CHUNK);
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
	u = mmap(A.user[k] + rel, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 A.fd, (off_t)off);
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
	/* Give the address range back to the reservation, then the memory. */
	mmap(home, s->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	madvise(home, s->len, MADV_DONTFORK);
	fallocate(A.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)s->off, (off_t)s->len);
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

/* A mapping the user moved with mremap: find its arena offset through
 * /proc/self/maps, which names our memfd.  Returns the page index or -1. */
long arena_resolve_moved(uint64_t addr)
{
	char line[512], path[256];
	unsigned long lo, hi, pgoff;
	long page = -1;
	FILE *f;

	if (A.fd < 0 || (addr & (PAGE_SZ - 1)))
		return -1;
	f = fopen("/proc/self/maps", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		path[0] = 0;
		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %255s", &lo, &hi, &pgoff, path) < 3)
			continue;
		if (addr < lo || addr >= hi)
			continue;
		if (strncmp(path, "/memfd:uaio-rings", 17) == 0)
			page = (long)((pgoff + (addr - lo)) / PAGE_SZ);
		break;
	}
	fclose(f);
	return page;
}

size_t arena_pages(void)
{
	return (size_t)A.nchunks * (ARENA_CHUNK / PAGE_SZ);
}

/* In a forked child: the views were not inherited (MADV_DONTFORK); forget
 * them and the memfd, so that a new context starts a fresh arena. */
void arena_atfork_child(void)
{
	struct extent *e;

	if (A.fd >= 0)
		close(A.fd);
	while ((e = A.free)) {
		A.free = e->next;
		free(e);
	}
	memset(&A, 0, sizeof(A));
	A.fd = -1;
}
