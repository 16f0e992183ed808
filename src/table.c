/* SPDX-License-Identifier: MIT */
/* table.c - the handle table: which context a handle names.  The table
 * maps arena pages to contexts; a handle is trusted only after it is found
 * here, and no ring memory is read before that.  Every uaio call starts
 * with ctx_get and ends with ctx_put; the last ctx_put frees the context,
 * so this file sits at the bottom and calls only lower modules. */
#include "arena.h"
#include "internal.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct moved { uint64_t handle; struct uaio_ctx *ctx; struct moved *next; };

/* Table lock: protects table, moved, nlive, the arena, every ctx->handle
 * and context.c's quota and statistics of destroyed contexts.  Readers
 * are the lookups of every call. */
static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct uaio_ctx **table;		/* indexed by arena page */
static size_t table_len;
static struct moved *moved;		/* handles of rings the user moved */
static unsigned long nlive;		/* contexts in the table */

void table_rdlock(void) { pthread_rwlock_rdlock(&table_lock); }
void table_wrlock(void) { pthread_rwlock_wrlock(&table_lock); }
void table_unlock(void) { pthread_rwlock_unlock(&table_lock); }

static struct uaio_ctx *table_find(uint64_t h)
{
	long page = arena_user_page(h);
	struct uaio_ctx *ctx;

	if (page >= 0 && (size_t)page < table_len) {
		ctx = table[page];
		if (ctx && ctx->handle == h)
			return ctx;
	}
	for (struct moved *m = moved; m; m = m->next)
		if (m->handle == h)
			return m->ctx;
	return NULL;
}

static void moved_forget(struct uaio_ctx *ctx)
{
	struct moved *m, **pp;

	for (pp = &moved; (m = *pp); pp = &m->next)
		if (m->ctx == ctx) {
			*pp = m->next;
			free(m);
			break;
		}
}

/* The ring was moved by mremap: adopt the new address as the handle. */
static struct uaio_ctx *adopt_moved(uint64_t h)
{
	long page = arena_resolve_moved(h);
	struct uaio_ctx *ctx;
	struct moved *m;

	if (page < 0 || (size_t)page >= table_len || !(ctx = table[page]))
		return NULL;
	if (ctx->ring_off / PAGE_SZ != (size_t)page || atomic_load(&ctx->dead))
		return NULL;
	moved_forget(ctx);
	if (h != ctx->home) {
		m = malloc(sizeof(*m));
		if (!m)
			return NULL;
		m->handle = h;
		m->ctx = ctx;
		m->next = moved;
		moved = m;
	}
	ctx->handle = h;
	return ctx;
}

struct uaio_ctx *ctx_get(aio_context_t h)
{
	struct uaio_ctx *ctx;

	if (!h)
		return NULL;
	pthread_rwlock_rdlock(&table_lock);
	ctx = table_find(h);
	if (ctx && !atomic_load(&ctx->dead))
		atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed); /* table holds one */
	else
		ctx = NULL;
	pthread_rwlock_unlock(&table_lock);
	if (ctx || !table)
		return ctx;
	pthread_rwlock_wrlock(&table_lock);	/* slow path: a moved ring? */
	ctx = adopt_moved(h);
	if (ctx)
		atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed);
	pthread_rwlock_unlock(&table_lock);
	return ctx;
}

/* The last reference frees the context and what it owns: its statistics
 * and its fault rules. */
void ctx_put(struct uaio_ctx *ctx)
{
	/* acq_rel: the last owner must see every other owner's writes. */
	if (atomic_fetch_sub_explicit(&ctx->refs, 1, memory_order_acq_rel) != 1)
		return;
	pthread_mutex_destroy(&ctx->post_lock);
	pthread_mutex_destroy(&ctx->reap_lock);
	pthread_mutex_destroy(&ctx->active_lock);
	/* relaxed: the last reference; nobody else can see ctx any more. */
	free(atomic_load_explicit(&ctx->xs, memory_order_relaxed));
	faults_free(ctx->faults);
	free(ctx);
}

/* Room for every page of the arena as it is now.  Table lock held. */
int table_reserve(void)
{
	size_t want = arena_pages();
	struct uaio_ctx **t;

	if (want <= table_len)
		return 0;
	t = realloc(table, want * sizeof(*t));
	if (!t)
		return -ENOMEM;
	memset(t + table_len, 0, (want - table_len) * sizeof(*t));
	table = t;
	table_len = want;
	return 0;
}

/* Enters ctx under the first page of its ring (table_reserve made room).
 * Table lock held. */
void table_enter(struct uaio_ctx *ctx)
{
	table[ctx->ring_off / PAGE_SZ] = ctx;
	nlive++;
}

/* Table lock held. */
void table_remove(struct uaio_ctx *ctx)
{
	moved_forget(ctx);
	table[ctx->ring_off / PAGE_SZ] = NULL;
	nlive--;
}

unsigned long table_live(void)
{
	return nlive;
}

/* Calls fn for every context in the table.  Table lock held. */
void table_each_locked(void (*fn)(struct uaio_ctx *ctx, void *arg), void *arg)
{
	for (size_t i = 0; i < table_len; i++)
		if (table[i])
			fn(table[i], arg);
}

/* A reference to every context in the table (each for ctx_put), in a
 * malloc'd array of *n; NULL when there is none or no memory. */
struct uaio_ctx **table_hold_all(size_t *n)
{
	struct uaio_ctx **all = NULL;

	*n = 0;
	pthread_rwlock_rdlock(&table_lock);
	if (nlive)
		all = malloc(nlive * sizeof(*all));
	for (size_t i = 0; all && i < table_len; i++)
		if (table[i]) {
			/* relaxed: as ctx_get's; the table holds one */
			atomic_fetch_add_explicit(&table[i]->refs, 1, memory_order_relaxed);
			all[(*n)++] = table[i];
		}
	pthread_rwlock_unlock(&table_lock);
	return all;
}

/* In a forked child: forget every context, so their handles answer
 * -EINVAL.  The table is not read (another thread of the parent may have
 * been changing it: the lock is not held across fork), only kept
 * allocated; the lock is written afresh, as a rwlock cannot be unlocked
 * by the child (glibc ties a writer to its thread id, which fork changes). */
static struct uaio_ctx **volatile orphaned_table;	/* volatile: kept, so leak checkers see it reachable */

void table_atfork_child(void)
{
	pthread_rwlock_t fresh = PTHREAD_RWLOCK_INITIALIZER;

	orphaned_table = table;
	table = NULL;
	table_len = 0;
	moved = NULL;
	nlive = 0;
	memcpy(&table_lock, &fresh, sizeof(fresh));	/* another thread may have held it */
}
