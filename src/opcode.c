/* SPDX-License-Identifier: MIT */
/* opcode.c - the opcode table: see opcode.h. */
#include "internal.h"
#include <poll.h>

_Static_assert(IOCB_CMD_PWRITEV + 1 == OP_MAX, "OP_MAX covers every opcode");
_Static_assert(OP_MAX <= 32, "faults.c keeps opcodes as bits of an unsigned");

const struct opcode op_table[OP_MAX] = {
	[IOCB_CMD_PREAD] = { .name = "pread", .group = "read", .rw = true,
			     .wait = POLLIN, .prep = aio_prep_rw },
	[IOCB_CMD_PWRITE] = { .name = "pwrite", .group = "write", .write = true, .rw = true,
			      .wait = POLLOUT, .prep = aio_prep_rw },
	[IOCB_CMD_FSYNC] = { .name = "fsync", .group = "sync", .prep = aio_prep_sync },
	[IOCB_CMD_FDSYNC] = { .name = "fdsync", .group = "sync", .prep = aio_prep_sync },
	/* 4 was IOCB_CMD_PREADX; 6, IOCB_CMD_NOOP, the kernel refuses. */
	[IOCB_CMD_POLL] = { .name = "poll", .prep = aio_prep_poll },
	[IOCB_CMD_PREADV] = { .name = "preadv", .group = "read", .rw = true, .vectored = true,
			      .wait = POLLIN, .prep = aio_prep_rw },
	[IOCB_CMD_PWRITEV] = { .name = "pwritev", .group = "write", .write = true, .rw = true,
			       .vectored = true, .wait = POLLOUT, .prep = aio_prep_rw },
};
