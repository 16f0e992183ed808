/* SPDX-License-Identifier: MIT */
/* arch/x86_64.h - x86-64's constants (see arch.h); arch/x86_64.c has its
 * fault-catching copy and its system call registers. */
#ifndef UAIO_ARCH_X86_64_H
#define UAIO_ARCH_X86_64_H

#include <sys/syscall.h>

#define USER_TOP		0x7ffffffff000ULL	/* TASK_SIZE (4-level paging) */
#define ARCH_FAULT_COPY		1
#define ARCH_SYSCALL_TRAP	1
#define ARCH_TRAP_AUDIT		AUDIT_ARCH_X86_64	/* <linux/audit.h> where used */
#define ARCH_TRAP_NR_FIRST	__NR_io_setup	/* 206 ... */
#define ARCH_TRAP_NR_LAST	__NR_io_cancel	/* ... 210 */

#ifndef __NR_io_pgetevents
#define __NR_io_pgetevents	333
#endif

#endif
