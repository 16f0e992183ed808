/* SPDX-License-Identifier: MIT */
/* arch/x86_64.c - the machine-level pieces of uaio on x86-64 (see
 * arch.h): the copy that catches its own faults, used by uaccess.c, and
 * the registers of a system call trapped by intercept.c. */
#include "internal.h"

#ifdef UAIO_ARCH_X86_64
#include <signal.h>
#include <ucontext.h>

/* arch_copy(dst, src, n): returns the bytes not copied, 0 when all were.
 * A fault can only happen at arch_copy_insn; arch_fault_fixup() resumes
 * at arch_copy_fixup with %rcx = bytes left, as `rep movsb` leaves it. */
__asm__(".text\n"
	".p2align 4\n"
	".globl arch_copy\n"
	".hidden arch_copy\n"
	".type arch_copy, @function\n"
	"arch_copy:\n"
	"	endbr64\n"
	"	movq %rdx, %rcx\n"
	".globl arch_copy_insn\n"
	".hidden arch_copy_insn\n"
	"arch_copy_insn:\n"
	"	rep movsb\n"
	"	xorl %eax, %eax\n"
	"	ret\n"
	".globl arch_copy_fixup\n"
	".hidden arch_copy_fixup\n"
	"arch_copy_fixup:\n"
	"	movq %rcx, %rax\n"
	"	ret\n"
	".size arch_copy, .-arch_copy\n");
extern const char arch_copy_insn[], arch_copy_fixup[];

bool arch_fault_fixup(void *uc_)
{
	ucontext_t *uc = uc_;
	greg_t *ip = &uc->uc_mcontext.gregs[REG_RIP];

	if (*ip != (greg_t)(uintptr_t)arch_copy_insn)
		return false;
	*ip = (greg_t)(uintptr_t)arch_copy_fixup;
	return true;
}

/* The kernel's system call convention: arguments in rdi, rsi, rdx, r10,
 * r8, r9; the result in rax. */
static const int arg_regs[6] = { REG_RDI, REG_RSI, REG_RDX, REG_R10, REG_R8, REG_R9 };

void arch_trap_args(const void *uc_, uint64_t args[6])
{
	const ucontext_t *uc = uc_;

	for (int i = 0; i < 6; i++)
		args[i] = (uint64_t)uc->uc_mcontext.gregs[arg_regs[i]];
}

void arch_trap_set_ret(void *uc_, long ret)
{
	ucontext_t *uc = uc_;

	uc->uc_mcontext.gregs[REG_RAX] = ret;
}
#endif
