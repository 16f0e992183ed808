/* SPDX-License-Identifier: MIT */
/* arch/arch.h - what uaio needs from the machine, and which file gives it:
 * arch/x86_64.[ch] on x86-64, arch/generic.[ch] elsewhere.  Building with
 * -DUAIO_ARCH_GENERIC takes the generic one on x86-64 too (to test it).
 *
 * Each arch header defines:
 *  USER_TOP           the end of user addresses (the kernel's TASK_SIZE):
 *                     access_ok's limit, checked at submit;
 *  ARCH_FAULT_COPY    1 when arch_copy() catches its own faults; 0: checked
 *                     copies go by process_vm (uaccess.c);
 *  ARCH_SYSCALL_TRAP  1 when intercept.c can trap the AIO system calls; 0:
 *                     uaio_intercept_syscalls() answers -ENOSYS;
 *  ARCH_TRAP_AUDIT    the seccomp_data.arch of this machine's system calls;
 *  ARCH_TRAP_NR_FIRST, ARCH_TRAP_NR_LAST: the numbers of io_setup,
 *                     io_destroy, io_getevents, io_submit and io_cancel
 *                     lie in [FIRST, LAST] and no other call's does (the
 *                     filter tests io_pgetevents on its own);
 * and its .c file the functions below. */
#ifndef UAIO_ARCH_H
#define UAIO_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) && !defined(UAIO_ARCH_GENERIC)
#define UAIO_ARCH_X86_64 1
#include "x86_64.h"
#else
#include "generic.h"
#endif

/* Copies n bytes; returns how many were not copied because of a fault (0
 * when all were).  Only with ARCH_FAULT_COPY, and only once the fault
 * handler of uaccess.c is installed. */
size_t arch_copy(void *dst, const void *src, size_t n);
/* In a SIGSEGV or SIGBUS handler, uc its ucontext_t: if the fault is
 * arch_copy's, makes it return the bytes left on sigreturn; true then. */
bool arch_fault_fixup(void *uc);

/* In the SIGSYS handler of a seccomp trap, uc its ucontext_t: the six
 * arguments of the trapped system call (its number is si_syscall). */
void arch_trap_args(const void *uc, uint64_t args[6]);
/* Stores the system call's result where the program reads it on return. */
void arch_trap_set_ret(void *uc, long ret);

#endif
