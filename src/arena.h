/* SPDX-License-Identifier: MIT */
#ifndef UAIO_ARENA_H
#define UAIO_ARENA_H
#include "internal.h"
#include <stdio.h>

#define ARENA_CHUNK	(512UL << 20)
#define ARENA_MAXCHUNK	64

struct arena_slice {
	size_t off, len;	/* in the arena (chunk k at k * ARENA_CHUNK) */
	char *lib;		/* library view */
	char *user;		/* the user's mapping (the handle) */
};

int arena_alloc(size_t len, struct arena_slice *s);
void arena_free(const struct arena_slice *s, uint64_t moved_to);
long arena_user_page(uint64_t addr);
long arena_resolve_moved(uint64_t addr);
size_t arena_pages(void);
void arena_atfork_child(void);
#endif
