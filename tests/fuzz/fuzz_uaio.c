/* SPDX-License-Identifier: MIT */
/*
 * fuzz_uaio.c - the libFuzzer target: every input is a program for the op
 * interpreter in harness.c, run against uaio compiled in (every src/ .c) with
 * ASan and UBSan.  `make fuzz` builds it; README "Fuzzing" says how to run.
 * The executor comes from $UAIO_EXECUTOR.
 */
#include "harness.h"
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (hz_init(0) < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return hz_run(data, size);
}
