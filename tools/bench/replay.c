/* SPDX-License-Identifier: MIT */
/* replay.c - --replay=FILE: the requests of a fio iolog (version 2 or 3,
 * as UAIO_TRACE writes them) are the workload: the same reads, writes and
 * fsyncs, offsets and lengths, in the log's order, on every engine, once
 * per row.  Timestamps are not honoured: each engine goes as fast as
 * its queue depth allows.
 *
 * Safe by default, and only: the requests go to a temporary file of the
 * bench's own, where each traced file gets a region as large as the
 * highest offset the trace reaches in it.  The traced files themselves are
 * never opened, so a trace with writes cannot damage them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct replay replay;

static int file_index(const char *name, bool add)
{
	for (unsigned i = 0; i < replay.nnames; i++)
		if (!strcmp(replay.names[i], name))
			return (int)i;
	if (!add)
		return -1;
	if (replay.nnames == MAX_FILES)
		bad_usage("--replay: more than %d files in the trace", MAX_FILES);
	replay.names[replay.nnames] = strdup(name);
	if (!replay.names[replay.nnames])
		fatal("out of memory");
	return (int)replay.nnames++;
}

static void add_op(int file, enum op op, uint64_t off, uint64_t len)
{
	static uint64_t cap;
	struct replay_op *p;

	if (len > MAX_BS)
		bad_usage("--replay: a request of %llu bytes (the most is 64M)", (unsigned long long)len);
	if (replay.nops == cap) {
		cap = cap ? 2 * cap : 4096;
		replay.ops = realloc(replay.ops, cap * sizeof(*replay.ops));
		if (!replay.ops)
			fatal("out of memory");
	}
	p = &replay.ops[replay.nops++];
	*p = (struct replay_op){ off, (uint32_t)len, (uint16_t)file, (uint8_t)op };
	if (op == OP_FSYNC) {
		replay.syncs++;
		return;
	}
	op == OP_READ ? replay.reads++ : replay.writes++;
	if (off + len > replay.extent[file])
		replay.extent[file] = off + len;
	if (len > replay.maxlen)
		replay.maxlen = (uint32_t)len;
	if (off % 4096 || len % 4096)
		replay.aligned = false;
}

/* One line after the header; v3 lines start with a timestamp. */
static void parse_line(char *line, int version, unsigned long lineno, const char *path)
{
	char name[4097], act[32];
	unsigned long long ts, off = 0, len = 0;
	int n, file;

	if (version == 3)
		n = sscanf(line, "%llu %4096s %31s %llu %llu", &ts, name, act, &off, &len) - 1;
	else
		n = sscanf(line, "%4096s %31s %llu %llu", name, act, &off, &len);
	if (n < 2)
		bad_usage("%s:%lu: not an iolog line", path, lineno);
	if (!strcmp(act, "add")) {
		file_index(name, true);
		return;
	}
	if (!strcmp(act, "open") || !strcmp(act, "close"))
		return;
	if ((file = file_index(name, false)) < 0)
		bad_usage("%s:%lu: %s was never added", path, lineno, name);
	if (!strcmp(act, "read") && n == 4)
		add_op(file, OP_READ, off, len);
	else if (!strcmp(act, "write") && n == 4)
		add_op(file, OP_WRITE, off, len);
	else if (!strcmp(act, "sync") || !strcmp(act, "datasync"))
		add_op(file, OP_FSYNC, 0, 0);
	else if (!strcmp(act, "wait") || !strcmp(act, "trim"))
		replay.skipped++;
	else
		bad_usage("%s:%lu: unknown iolog action '%s'", path, lineno, act);
}

static void replay_parse(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	unsigned long lineno = 1;
	int version;

	if (!f)
		bad_usage("--replay: %s: %s", path, strerror(errno));
	if (getline(&line, &cap, f) < 0)
		bad_usage("--replay: %s is empty", path);
	if (!strncmp(line, "fio version 3 iolog", 19))
		version = 3;
	else if (!strncmp(line, "fio version 2 iolog", 19))
		version = 2;
	else
		bad_usage("--replay: %s is not a fio iolog (version 2 or 3)", path);
	replay.aligned = true;
	while (getline(&line, &cap, f) >= 0)
		if (line[strspn(line, " \t\r\n")])
			parse_line(line, version, ++lineno, path);
	free(line);
	fclose(f);
	if (!replay.reads && !replay.writes)
		bad_usage("--replay: %s has no read or write to replay", path);
}

/* Parses --replay's file and sets the options it implies: --bs (the
 * buffers: the largest request, rounded up to 4 KiB), --size (the
 * temporary file: every traced file's region), --io-size (each row runs
 * the trace once), no O_DIRECT row unless every request is 4 KiB-aligned. */
void replay_load(struct opts *o)
{
	uint64_t base = 0;

	if (o->nfiles || o->size || o->io_size || o->verify || o->fsync_every || o->numjobs > 1)
		bad_usage("--replay sets the files, sizes and requests: no --filename, --size, "
			  "--io-size, --verify, --fsync or --numjobs");
	replay_parse(o->replay);
	o->bs = ((uint64_t)replay.maxlen + 4095) / 4096 * 4096;
	if (!o->bs)
		o->bs = 4096;
	for (unsigned i = 0; i < replay.nnames; i++) {
		replay.base[i] = base;
		base += (replay.extent[i] + o->bs - 1) / o->bs * o->bs;
	}
	o->size = base ? base : o->bs;
	o->io_size = replay.nops * o->bs;	/* one o->bs of budget per request */
	o->rw = !replay.writes ? RW_RANDREAD : !replay.reads ? RW_RANDWRITE : RW_RANDRW;
	if (!replay.aligned) {
		if (o->modes_set && (o->modes & (1u << MODE_DIRECT)))
			bad_usage("--replay: %s has requests not aligned to 4 KiB: no O_DIRECT row",
				  o->replay);
		o->modes &= ~(1u << MODE_DIRECT);
	}
}

/* The trace's next request, for r (the group's sequence is the index). */
void replay_next(struct job *j, struct req *r)
{
	/* relaxed: the jobs of one group (the sync engine's threads) only
	 * share out the indices. */
	uint64_t i = __atomic_fetch_add(&j->g->seq, 1, __ATOMIC_RELAXED) % replay.nops;
	const struct replay_op *p = &replay.ops[i];

	r->op = (enum op)p->op;
	r->file = 0;
	r->off = replay.base[p->file] + p->off;
	r->len = p->len;
}
