/* SPDX-License-Identifier: MIT */
/*
 * harness.h - the fuzzing op interpreter, shared by the libFuzzer target
 * (tests/fuzz/fuzz_uaio.c) and the replay test (tests/fuzz_replay.c).
 *
 * hz_run() reads its input as a sequence of operations (setup, submit,
 * getevents, cancel, destroy, stream I/O, direct ring reaping) on up to four
 * live contexts, checks uaio's invariants after each step and abort()s with
 * a message on a violation.  It always ends with every context destroyed and
 * every file descriptor it opened closed.  The executor is the library's
 * choice from $UAIO_EXECUTOR.
 */
#ifndef UAIO_FUZZ_HARNESS_H
#define UAIO_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

/* safe: never hand uaio a deliberately bad pointer nor a length that runs
 * past a buffer (valgrind reports the kernel's EFAULT paths themselves).
 * Called once before the first hz_run(); returns 0 or -errno. */
int hz_init(int safe);
/* Runs one input; returns 0 (a violation does not return). */
int hz_run(const uint8_t *data, size_t size);
/* Operations and requests accepted so far, for the replay test's report. */
void hz_counts(unsigned long long *ops, unsigned long long *accepted);

#endif
