/* SPDX-License-Identifier: MIT */
/* faults.c - fault injection: UAIO_FAULTS or uaio_params.faults make chosen
 * requests fail, come back short or start late; see uaio_faults(7).
 *
 * The spec is parsed at setup into rules owned by the context.  Every
 * decision depends only on the seed, the rule's index and how many
 * requests the rule has matched so far on this context, never on timing,
 * so the same program with the same seed sees the same faults.
 *
 * err=: submit completes the request at once with -errno (no I/O).
 * short: submit cuts the request's buffers once they are imported (its
 * route_file); the executor moves the rest.
 * delay=: the request is held here, QUEUED and on the active list (cancel
 * withdraws it as any queued request), by one timer thread for the whole
 * process, which hands it to the executor when its time comes. */
#include "internal.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* uaio_params.faults took two of the reserved words: nothing else moved. */
_Static_assert(offsetof(struct uaio_params, faults) == 16, "uaio_params.faults offset");
_Static_assert(offsetof(struct uaio_params, reserved) == 24, "uaio_params.reserved offset");
_Static_assert(sizeof(struct uaio_params) == 72, "uaio_params size");

#define MAX_RULES	64
#define MAX_DELAY_NS	(3600ULL * 1000000000ULL)	/* one hour */
#define SHORT_HALF	UINT64_MAX			/* "short" without =N */

#define OP(c)		(1u << (c))	/* opcodes as bits: OP_MAX <= 32 (opcode.c) */

struct rule {
	unsigned ops;		/* OP() bits the rule matches */
	int fd;			/* -1: any */
	char *path;		/* prefix of the fd's /proc/self/fd link, or NULL */
	uint64_t every;		/* fire on every every-th match; 0: by probability */
	uint64_t thr;		/* probability as a threshold on the 64-bit hash */
	uint64_t after, count;	/* skip the first `after` matches; fire at most count (0: no cap) */
	int action;		/* FAULT_* */
	uint64_t arg;		/* errno, bytes kept (SHORT_HALF: half) or delay in ns */
	_Atomic uint64_t matched;	/* requests matched: relaxed, see fires() */
	_Atomic uint64_t fired;		/* times fired: relaxed, see fires() */
};

struct faults {
	uint64_t seed;
	unsigned ops;		/* union of the rules' ops: the quick no */
	unsigned n;
	_Atomic unsigned long long injected;	/* statistic: relaxed */
	struct rule r[];
};

/* ---- parsing ---- */

struct parse {
	struct faults *f;
	unsigned item;		/* 1-based, for messages */
	char why[160];
};

static int bad(struct parse *ps, const char *fmt, const char *what)
{
	snprintf(ps->why, sizeof(ps->why), fmt, what);
	return -EINVAL;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/* A decimal number in [0, max]; false if s is not one. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || v > (max - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

/* "0.01", "1", ".5": a probability, without strtod (its decimal point
 * follows the program's locale).  Sets every=1 for 1. */
static bool parse_p(const char *s, struct rule *r)
{
	uint64_t num = 0, den = 1;
	int ip = 0, digits = 0;

	if (isdigit((unsigned char)*s))
		ip = *s++ - '0';
	if (*s == '.')
		for (s++; isdigit((unsigned char)*s); s++, digits++)
			if (den < 10000000000000000000ULL) {
				num = num * 10 + (uint64_t)(*s - '0');
				den *= 10;
			}
	if (*s || ip > 1 || (ip == 1 && num))
		return false;
	if (ip == 1) {
		r->every = 1;
		return true;
	}
	r->every = 0;
	r->thr = (uint64_t)(((unsigned __int128)num << 64) / den);
	return true;
}

/* "250us", "5ms", "2s", "100ns". */
static bool parse_delay(const char *s, uint64_t *ns)
{
	static const struct { const char *unit; uint64_t mul; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000 },
	};
	char num[24];
	size_t n = strspn(s, "0123456789");
	uint64_t v;

	if (!n || n >= sizeof(num))
		return false;
	memcpy(num, s, n);
	num[n] = 0;
	if (!parse_u64(num, MAX_DELAY_NS, &v))
		return false;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(s + n, units[i].unit) && v <= MAX_DELAY_NS / units[i].mul) {
			*ns = v * units[i].mul;
			return true;
		}
	return false;
}

/* "EIO", "enospc" or "5". */
static bool parse_errno(const char *s, uint64_t *err)
{
	if (parse_u64(s, 4095, err))
		return *err > 0;
	for (int e = 1; e < 4096; e++) {
		const char *name = strerrorname_np(e);

		if (name && !strcasecmp(name, s)) {
			*err = (uint64_t)e;
			return true;
		}
	}
	return false;
}

/* The opcodes op= means by name: one opcode's name ("pread"), a group's
 * ("read"), or "all", as the opcode table (opcode.c) spells them. */
static unsigned ops_named(const char *name)
{
	unsigned ops = 0;

	for (unsigned c = 0; c < OP_MAX; c++) {
		const struct opcode *o = op_get(c);

		if (o && (!strcmp(name, "all") || !strcmp(name, o->name) ||
			  (o->group && !strcmp(name, o->group))))
			ops |= OP(c);
	}
	return ops;
}

/* The opcodes that move data: the only ones "short" applies to. */
static unsigned ops_rw(void)
{
	unsigned ops = 0;

	for (unsigned c = 0; c < OP_MAX; c++)
		if (op_get(c) && op_get(c)->rw)
			ops |= OP(c);
	return ops;
}

static bool parse_ops(char *s, unsigned *ops)
{
	char *save, *tok;

	*ops = 0;
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned named = ops_named(trim(tok));

		if (!named)
			return false;
		*ops |= named;
	}
	return *ops != 0;
}

enum { HAVE_OP = 1, HAVE_FD = 2, HAVE_PATH = 4, HAVE_TRIGGER = 8, HAVE_AFTER = 16,
       HAVE_COUNT = 32 };

/* One key[=value] of a rule. */
static int parse_field(struct parse *ps, struct rule *r, char *key, unsigned *have)
{
	char *val = strchr(key, '=');
	unsigned bit = 0;
	uint64_t v = 0;
	bool ok = true;

	if (val)
		*val++ = 0;
	key = trim(key);
	val = val ? trim(val) : NULL;
	if (!strcmp(key, "short") && !val) {
		r->arg = SHORT_HALF;
		r->action = r->action ? -1 : FAULT_SHORT;
	} else if (!val) {
		return bad(ps, "'%s' needs a value", key);
	} else if (!strcmp(key, "op")) {
		bit = HAVE_OP;
		ok = parse_ops(val, &r->ops);
	} else if (!strcmp(key, "fd")) {
		bit = HAVE_FD;
		ok = parse_u64(val, INT_MAX, &v);
		r->fd = (int)v;
	} else if (!strcmp(key, "path")) {
		bit = HAVE_PATH;
		ok = *val && (r->path = strdup(val)) != NULL;
	} else if (!strcmp(key, "p")) {
		bit = HAVE_TRIGGER;
		ok = parse_p(val, r);
	} else if (!strcmp(key, "every")) {
		bit = HAVE_TRIGGER;
		ok = parse_u64(val, UINT64_MAX, &r->every) && r->every > 0;
	} else if (!strcmp(key, "after")) {
		bit = HAVE_AFTER;
		ok = parse_u64(val, UINT64_MAX, &r->after);
	} else if (!strcmp(key, "count")) {
		bit = HAVE_COUNT;
		ok = parse_u64(val, UINT64_MAX, &r->count) && r->count > 0;
	} else if (!strcmp(key, "err")) {
		ok = parse_errno(val, &r->arg);
		r->action = r->action ? -1 : FAULT_ERR;
	} else if (!strcmp(key, "short")) {
		ok = parse_u64(val, MAX_RW_COUNT, &r->arg);
		r->action = r->action ? -1 : FAULT_SHORT;
	} else if (!strcmp(key, "delay")) {
		ok = parse_delay(val, &r->arg);
		r->action = r->action ? -1 : FAULT_DELAY;
	} else {
		return bad(ps, "unknown key '%s'", key);
	}
	if (!ok)
		return bad(ps, "bad value for '%s'", key);
	if (r->action < 0)
		return bad(ps, "more than one action (err=, short, delay=)%s", "");
	if (*have & bit)
		return bit == HAVE_TRIGGER ? bad(ps, "more than one of p= and every=%s", "") :
		       bad(ps, "'%s' given twice", key);
	*have |= bit;
	return 0;
}

static int parse_rule(struct parse *ps, char *s)
{
	struct faults *f = ps->f;
	struct rule *r = &f->r[f->n];
	unsigned have = 0;
	char *save, *tok;
	int ret;

	r->fd = -1;
	r->every = 1;
	r->ops = ops_named("all");
	for (tok = strtok_r(s, ":", &save); tok; tok = strtok_r(NULL, ":", &save))
		if ((ret = parse_field(ps, r, tok, &have)) < 0) {
			free(r->path);
			return ret;
		}
	f->n++;		/* owns r->path from here */
	if (!r->action)
		return bad(ps, "no action (err=, short or delay=)%s", "");
	if (r->action == FAULT_SHORT) {
		if ((have & HAVE_OP) && (r->ops & ~ops_rw()))
			return bad(ps, "'short' applies only to pread, pwrite, preadv and pwritev%s", "");
		r->ops &= ops_rw();
	}
	f->ops |= r->ops;
	return 0;
}

static int parse_item(struct parse *ps, char *s, bool *seeded)
{
	char *eq;
	size_t k;

	s = trim(s);
	if (!*s)
		return 0;
	eq = strchr(s, '=');
	k = eq ? (size_t)(eq - s) : 0;
	while (k && isspace((unsigned char)s[k - 1]))
		k--;
	if (k == 4 && !strncmp(s, "seed", 4) && !strchr(s, ':')) {
		if (*seeded)
			return bad(ps, "seed given twice%s", "");
		*seeded = true;
		return parse_u64(trim(eq + 1), UINT64_MAX, &ps->f->seed) ? 0 :
		       bad(ps, "bad seed '%s'", eq + 1);
	}
	if (ps->f->n == MAX_RULES)
		return bad(ps, "more than 64 rules%s", "");
	return parse_rule(ps, s);
}

/* NULL or "" (after trimming): no faults, *out NULL.  -EINVAL on a bad
 * spec, with one line on stderr when UAIO_FAULTS_VERBOSE is set. */
int faults_parse(const char *spec, struct faults **out)
{
	struct parse ps = { .item = 0 };
	char *copy, *save, *tok;
	bool seeded = false;
	int ret = 0;

	*out = NULL;
	if (!spec)
		return 0;
	ps.f = calloc(1, sizeof(struct faults) + MAX_RULES * sizeof(struct rule));
	copy = strdup(spec);
	if (!ps.f || !copy) {
		free(ps.f);
		free(copy);
		return -ENOMEM;
	}
	for (tok = strtok_r(copy, ";", &save); tok && !ret; tok = strtok_r(NULL, ";", &save)) {
		ps.item++;
		ret = parse_item(&ps, tok, &seeded);
	}
	free(copy);
	if (ret == 0 && ps.f->n) {	/* keep only the rules used: one copy per context */
		*out = realloc(ps.f, sizeof(struct faults) + ps.f->n * sizeof(struct rule));
		*out = *out ? *out : ps.f;
		return 0;
	}
	if (ret < 0 && config_faults_verbose())
		fprintf(stderr, "uaio: fault spec, item %u: %s\n", ps.item, ps.why);
	faults_free(ps.f);
	return ret;
}

void faults_free(struct faults *f)
{
	if (!f)
		return;
	for (unsigned i = 0; i < f->n; i++)
		free(f->r[i].path);
	free(f);
}

unsigned long long faults_injected(const struct faults *f)
{
	/* relaxed: a statistic */
	return f ? atomic_load_explicit(&f->injected, memory_order_relaxed) : 0;
}

/* ---- deciding, at submit ---- */

static uint64_t mix(uint64_t x)	/* splitmix64's finaliser */
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The rule's n-th match on this context: does it fire?  The match number
 * is the only input besides the spec, so the answer is reproducible when
 * one thread submits to the context (several threads: their order). */
static bool fires(const struct faults *f, struct rule *r, unsigned idx)
{
	/* relaxed: a counter; nothing else is published through it. */
	uint64_t n = atomic_fetch_add_explicit(&r->matched, 1, memory_order_relaxed) + 1;

	if (n <= r->after)
		return false;
	n -= r->after;
	if (r->every ? n % r->every != 0 :
	    mix(mix(f->seed + 0x9e3779b97f4a7c15ULL * (idx + 1)) ^ n) >= r->thr)
		return false;
	/* relaxed: a counter, as above. */
	return !r->count || atomic_fetch_add_explicit(&r->fired, 1, memory_order_relaxed) < r->count;
}

static bool path_matches(int fd, const char *prefix, char *link, size_t size, bool *looked)
{
	char proc[40];
	ssize_t n;

	if (!*looked) {
		*looked = true;
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		n = readlink(proc, link, size - 1);
		link[n < 0 ? 0 : n] = 0;
	}
	return *link && !strncmp(link, prefix, strlen(prefix));
}

/* Submit's question once the iocb passed the fd checks.  True: an
 * injected error, completed at once with *res.  Else req->fault says
 * what prep and dispatch do (FAULT_SHORT, FAULT_DELAY or FAULT_NONE). */
bool faults_submit(struct uaio_req *req, int64_t *res)
{
	struct faults *f = req->ctx->faults;
	unsigned op = req->cb.aio_lio_opcode;
	int fd = (int)req->cb.aio_fildes;
	char link[PATH_MAX];
	bool looked = false;

	if (op >= OP_MAX || !(f->ops & OP(op)))
		return false;
	for (unsigned i = 0; i < f->n; i++) {
		struct rule *r = &f->r[i];

		if (!(r->ops & OP(op)) || (r->fd >= 0 && r->fd != fd) ||
		    (r->path && !path_matches(fd, r->path, link, sizeof(link), &looked)) ||
		    !fires(f, r, i))
			continue;
		atomic_fetch_add_explicit(&f->injected, 1, memory_order_relaxed); /* statistic */
		if (r->action == FAULT_ERR) {
			*res = -(int64_t)r->arg;
			return true;
		}
		req->fault = (unsigned char)r->action;
		req->fault_arg = r->arg;
		return false;
	}
	return false;
}

/* Routing a read or write, buffers imported: cut a short request; true
 * for a delayed one (it skips the attempt at submit and starts in the
 * executor). */
bool faults_prep_rw(struct uaio_req *req)
{
	size_t keep = req->fault_arg == SHORT_HALF ? req->total / 2 : req->fault_arg, left;
	off_t pos;

	if (req->fault == FAULT_DELAY) {
		pos = lseek(req->fd, 0, SEEK_CUR);
		req->kind = pos < 0 && errno == ESPIPE ? KIND_STREAM : KIND_FILE;
		return true;
	}
	if (req->fault_arg == SHORT_HALF && (req->fl & O_DIRECT))
		keep &= ~(size_t)511;	/* a cut O_DIRECT must stay aligned */
	if (keep >= req->total)
		return false;
	req->total = left = keep;
	for (int i = 0; i < req->niov; i++) {
		if (req->iov[i].iov_len > left)
			req->iov[i].iov_len = left;
		left -= req->iov[i].iov_len;
	}
	return false;
}

/* ---- delayed requests: the timer thread ---- */

/* Lock order: H.lock is a leaf; requests are released with it dropped. */
static struct {
	pthread_mutex_t lock;	/* protects list and running */
	pthread_cond_t cond;	/* CLOCK_MONOTONIC; a new earliest request */
	struct uaio_req *list;	/* held requests by due time, linked by ->next */
	bool running;		/* the timer thread exists */
} H = { .lock = PTHREAD_MUTEX_INITIALIZER };
static pthread_once_t h_once = PTHREAD_ONCE_INIT;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Its time has come (or its context is going): the executor takes it.  A
 * request cancelled meanwhile is freed on the way, as the executors do. */
static void release(struct uaio_req *req)
{
	if (req->fault_route)
		req->ctx->exec->submit(&req, 1);
	else if (req_claim(req, REQ_QUEUED))
		poller_arm(req);
}

static void *timer_main(void *arg)
{
	struct uaio_req *due, **tail, *req;
	struct timespec ts;
	uint64_t now;

	(void)arg;
	pthread_setname_np(pthread_self(), "uaio-faults");
	pthread_mutex_lock(&H.lock);
	for (;;) {
		if (!H.list) {
			pthread_cond_wait(&H.cond, &H.lock);
			continue;
		}
		now = now_ns();
		if (H.list->fault_arg > now) {
			ts.tv_sec = (time_t)(H.list->fault_arg / 1000000000ULL);
			ts.tv_nsec = (long)(H.list->fault_arg % 1000000000ULL);
			pthread_cond_timedwait(&H.cond, &H.lock, &ts);
			continue;
		}
		due = H.list;
		for (tail = &H.list; *tail && (*tail)->fault_arg <= now; tail = &(*tail)->next)
			;
		H.list = *tail;
		*tail = NULL;
		pthread_mutex_unlock(&H.lock);
		while ((req = due)) {
			due = req->next;
			release(req);
		}
		pthread_mutex_lock(&H.lock);
	}
	return NULL;
}

static void h_init_cond(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&H.cond, &a);
	pthread_condattr_destroy(&a);
}

static void h_prepare(void)
{
	pthread_mutex_lock(&H.lock);
}

static void h_parent(void)
{
	pthread_mutex_unlock(&H.lock);
}

/* The child has no timer thread; held requests belong to the parent's
 * contexts, which the child has forgotten. */
static void h_child(void)
{
	H.list = NULL;
	H.running = false;
	/* the forking thread took it in prepare: unlocked, not overwritten,
	 * so that ThreadSanitizer's view of it stays right */
	pthread_mutex_unlock(&H.lock);
	h_init_cond();	/* the old one may name a waiter of the parent's */
}

static void h_init(void)
{
	h_init_cond();
	pthread_atfork(h_prepare, h_parent, h_child);
}

/* H.lock held: starts the timer thread; false if it cannot. */
static bool timer_start_locked(void)
{
	pthread_attr_t attr;
	pthread_t t;
	int r;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 128 << 10);
	thread_block_signals_attr(&attr);
	r = pthread_create(&t, &attr, timer_main, NULL);
	pthread_attr_destroy(&attr);
	H.running = r == 0;
	return H.running;
}

/* dispatch: req is QUEUED and on its context's active list; route_pool
 * says where it goes when due (the executor, else the poller).  If no
 * timer thread can be had, it goes there now, undelayed. */
void faults_hold(struct uaio_req *req, bool route_pool)
{
	struct uaio_req **pp;
	uint64_t due = now_ns() + req->fault_arg;

	pthread_once(&h_once, h_init);
	req->fault_route = route_pool;
	req->fault_arg = due;
	pthread_mutex_lock(&H.lock);
	if (!H.running && !timer_start_locked()) {
		pthread_mutex_unlock(&H.lock);
		release(req);
		return;
	}
	for (pp = &H.list; *pp && (*pp)->fault_arg <= due; pp = &(*pp)->next)
		;
	req->next = *pp;
	*pp = req;
	if (pp == &H.list)
		pthread_cond_signal(&H.cond);
	pthread_mutex_unlock(&H.lock);
}

/* destroy, nothing in flight any more: every held request of ctx has been
 * cancelled; release frees them now rather than at their due time. */
void faults_forget(struct uaio_ctx *ctx)
{
	struct uaio_req *mine = NULL, **pp, *req;

	pthread_mutex_lock(&H.lock);
	for (pp = &H.list; (req = *pp);) {
		if (req->ctx != ctx) {
			pp = &req->next;
			continue;
		}
		*pp = req->next;
		req->next = mine;
		mine = req;
	}
	pthread_mutex_unlock(&H.lock);
	while ((req = mine)) {
		mine = req->next;
		release(req);
	}
}
