/* SPDX-License-Identifier: MIT */
/* arch/generic.h - the fallback for machines without an arch/ file of
 * their own (see arch.h): no fault-catching copy (checked copies go by
 * process_vm), no system call trap. */
#ifndef UAIO_ARCH_GENERIC_H
#define UAIO_ARCH_GENERIC_H

#include <sys/syscall.h>

/* x86-64's TASK_SIZE, as uaio has always used: a port with a larger user
 * address space sets its own. */
#define USER_TOP		0x7ffffffff000ULL
#define ARCH_FAULT_COPY		0
#define ARCH_SYSCALL_TRAP	0
#define ARCH_TRAP_AUDIT		0	/* never trapped: no filter is installed */
#define ARCH_TRAP_NR_FIRST	0
#define ARCH_TRAP_NR_LAST	0

#ifndef __NR_io_pgetevents
#define __NR_io_pgetevents	(-1)	/* old headers: never trapped here */
#endif

#endif
