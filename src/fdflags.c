/* SPDX-License-Identifier: MIT */
/* fdflags.c - a per-descriptor cache of F_GETFL, so that a warm read
 * costs one system call (its preadv2), as with the kernel's io_submit,
 * and not two.
 *
 * The cache is a hint, never the answer.  An open file description's
 * access mode never changes; what can change is what a descriptor
 * number names (close, dup2, open again) and the status flags (F_SETFL
 * O_DIRECT, O_NONBLOCK, O_APPEND), and no system call tells us.  So
 * submit (submit.c) lets cached flags decide one thing only: that a read
 * or write may be tried inline, with RWF_NOWAIT.  That attempt runs on
 * whatever the descriptor names at that moment, as the kernel's does;
 * any answer but data or -EAGAIN, any decision that would fail the
 * request, and any decision made without a system call (straight to the
 * executor) is taken again with flags fresh from fcntl.  A stale entry
 * therefore costs a slower request at worst (an O_DIRECT read done
 * inside submit), and lives at most FDFL_TTL_MS. */
#include "internal.h"
#include <fcntl.h>

#define FDFL_MAX	65536	/* descriptors cached; higher ones always ask */
#define FDFL_TTL_MS	10	/* an entry is asked again after this long */
#define FDFL_VALID	(1ULL << 63)
#define FDFL_MS_MASK	0x7fffffffULL

/* Per descriptor: 0, or FDFL_VALID | (ms & FDFL_MS_MASK) << 32 | flags,
 * where ms is CLOCK_MONOTONIC_COARSE when fcntl answered.  Relaxed
 * everywhere: a hint, read and written whole; any value is safe. */
static _Atomic uint64_t slots[FDFL_MAX];

static uint64_t now_ms(void)
{
	return (uint64_t)mono_coarse_ms() & FDFL_MS_MASK;	/* vDSO: no system call */
}

int fdfl_refresh(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	uint64_t v = fl < 0 ? 0 : FDFL_VALID | now_ms() << 32 | (uint32_t)fl;

	if ((unsigned)fd < FDFL_MAX)	/* relaxed: a hint */
		atomic_store_explicit(&slots[fd], v, memory_order_relaxed);
	return fl;
}

int fdfl_get(int fd, bool *cached)
{
	uint64_t v;

	*cached = false;
	if ((unsigned)fd >= FDFL_MAX)
		return fdfl_refresh(fd);
	v = atomic_load_explicit(&slots[fd], memory_order_relaxed);	/* relaxed: a hint */
	if (!(v & FDFL_VALID) || ((now_ms() - (v >> 32 & FDFL_MS_MASK)) & FDFL_MS_MASK) >= FDFL_TTL_MS)
		return fdfl_refresh(fd);
	*cached = true;
	return (int)(uint32_t)v;
}
