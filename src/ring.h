/* SPDX-License-Identifier: MIT */
/* ring.h - the completion ring, laid out as the kernel's struct aio_ring:
 * its header, its size, the events posted into it, reaping, and the slot
 * accounting that keeps it from overflowing.  The slots that submit takes
 * (slot_get, slot_put) are declared in internal.h. */
#ifndef UAIO_RING_H
#define UAIO_RING_H
#include "internal.h"

/* Bytes of the ring of a context asked for nr_events (whole pages), or 0
 * when that is more than the kernel allows (setup answers -EINVAL). */
size_t ring_len(unsigned nr_events);
/* How many io_event entries a ring of len bytes holds (its nr). */
unsigned ring_entries(size_t len);
void ring_init(struct uaio_ring *r, unsigned id, unsigned nr);

/* Writes ev at the tail; post_lock held.  Readers see it only once
 * ring_publish_locked has published the new tail. */
void ring_put_locked(struct uaio_ctx *ctx, const struct io_event *ev);
void ring_publish_locked(struct uaio_ctx *ctx);

int ring_reap(struct uaio_ctx *ctx, struct io_event *out, long nr);
bool ring_ready(struct uaio_ctx *ctx);
#endif
