/* SPDX-License-Identifier: MIT */
/* opcode.h - the IOCB_CMD_* opcodes as data: one row per opcode says what
 * it is (a write? has it buffers?), how submit prepares it, what the fault
 * spec calls it and what a stream request waits for.  A new opcode is one
 * row in opcode.c (plus a row in any executor with a per-opcode table of
 * its own, as io_uring's). */
#ifndef UAIO_OPCODE_H
#define UAIO_OPCODE_H

#include <stdbool.h>
#include <stddef.h>

struct uaio_req;

struct opcode {
	const char *name;	/* "pread": how people, and the fault spec's op=, name it */
	const char *group;	/* op='s name for a set of opcodes ("read"), or NULL */
	bool write;		/* moves data from memory to the file */
	bool rw;		/* moves data: aio_buf and aio_nbytes are buffers */
	bool vectored;		/* aio_buf is an array of aio_nbytes iovecs */
	unsigned wait;		/* poll mask a stream request waits for; 0: none */
	/* Submit's checks for this opcode, in the kernel's order (prep.c):
	 * 0 with req->kind set, or -errno. */
	int (*prep)(struct uaio_req *req, const struct opcode *op, bool checked);
};

/* Indexed by opcode; a row without prep is no opcode (the kernel: -EINVAL). */
#define OP_MAX 9	/* IOCB_CMD_PWRITEV + 1 */
extern const struct opcode op_table[OP_MAX];

/* The row of opcode c, or NULL when c is no opcode. */
static inline const struct opcode *op_get(unsigned c)
{
	return c < OP_MAX && op_table[c].prep ? &op_table[c] : NULL;
}

static inline bool op_is_write(unsigned c)
{
	return c < OP_MAX && op_table[c].write;
}

/* What a stream request of opcode c waits for: POLLIN or POLLOUT. */
static inline unsigned op_wait(unsigned c)
{
	return c < OP_MAX ? op_table[c].wait : 0;
}

#endif
