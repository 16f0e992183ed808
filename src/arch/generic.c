/* SPDX-License-Identifier: MIT */
/* arch/generic.c - the fallback's functions (see arch.h).  None is called:
 * ARCH_FAULT_COPY and ARCH_SYSCALL_TRAP are 0, so uaccess.c never installs
 * its fault handler and intercept.c never installs its trap. */
#include "internal.h"

#ifndef UAIO_ARCH_X86_64
#include <string.h>

size_t arch_copy(void *dst, const void *src, size_t n)
{
	memcpy(dst, src, n);
	return 0;
}

bool arch_fault_fixup(void *uc UNUSED)
{
	return false;
}

void arch_trap_args(const void *uc UNUSED, uint64_t args[6])
{
	memset(args, 0, 6 * sizeof(*args));
}

void arch_trap_set_ret(void *uc UNUSED, long ret UNUSED)
{
}
#endif
