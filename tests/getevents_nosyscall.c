/* SPEC §2 getevents: with events already in the ring it makes no system call, with pointer checks off (UAIO_F_NOCHECK) and with them on (x86-64: the checked copy catches its own faults); with UAIO_UACCESS=vm checks, exactly one (the checked copy-out). */
#include "t.h"
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <ucontext.h>

#if defined(__x86_64__)
#define MY_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define MY_ARCH AUDIT_ARCH_AARCH64
#endif

#define N 16

#if defined(__x86_64__)
/* The SIGSYS handler re-issues the trapped call from here; the filter lets
 * calls from this one instruction through, so results stay correct and
 * only the count tells. */
long raw_syscall6(long nr, long a, long b, long c, long d, long e, long f);
extern const char raw_syscall6_ret[];
__asm__(".text\n"
	".globl raw_syscall6\n"
	".type raw_syscall6,@function\n"
	"raw_syscall6:\n"
	"\tmov %rdi, %rax\n"
	"\tmov %rsi, %rdi\n"
	"\tmov %rdx, %rsi\n"
	"\tmov %rcx, %rdx\n"
	"\tmov %r8, %r10\n"
	"\tmov %r9, %r8\n"
	"\tmov 8(%rsp), %r9\n"
	"\tsyscall\n"
	".globl raw_syscall6_ret\n"
	"raw_syscall6_ret:\n"
	"\tret\n"
	".size raw_syscall6, .-raw_syscall6\n");
#endif

static volatile sig_atomic_t traps, first_nr = -1;

static void on_sigsys(int sig, siginfo_t *si, void *uc_)
{
	(void)sig;
	if (traps == 0)
		first_nr = si->si_syscall;
	traps++;
#if defined(__x86_64__)
	{
		greg_t *g = ((ucontext_t *)uc_)->uc_mcontext.gregs;

		g[REG_RAX] = raw_syscall6(si->si_syscall, g[REG_RDI], g[REG_RSI], g[REG_RDX],
					  g[REG_R10], g[REG_R8], g[REG_R9]);
	}
#else
	(void)uc_;
#endif
}

struct job {
	aio_context_t ctx;
	struct io_event ev[N];
	int min_nr, nr;
	struct timespec *ts;
	int ret, traps, nr0;
};

static void *trapped(void *arg)
{
#ifdef MY_ARCH
	struct job *j = arg;
#if defined(__x86_64__)
	uint64_t ip = (uint64_t)(uintptr_t)raw_syscall6_ret;
#else
	uint64_t ip = 0;
#endif
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MY_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		/* the handler's own re-issue (little endian: low word first) */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)ip, 0, 2),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(ip >> 32), 5, 0),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_rt_sigreturn, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit_group, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
		j->ret = -1000;
		return NULL;
	}
	/* from here on every system call of this thread traps */
	j->ret = uaio_getevents(j->ctx, j->min_nr, j->nr, j->ev, j->ts);
	j->traps = traps;
	j->nr0 = first_nr;
#else
	(void)arg;
#endif
	return NULL;
}

/* Fill the ring with n cached reads (they complete inside submit). */
static void fill(aio_context_t ctx, int fd, struct iocb *cbs, char (*bufs)[32], int n)
{
	struct iocb *v[N];
	struct uaio_ring *ring = (struct uaio_ring *)(uintptr_t)ctx;

	for (int i = 0; i < n; i++) {
		uaio_prep_pread(&cbs[i], fd, bufs[i], 32, i * 32);
		cbs[i].aio_data = 1000 + (uint64_t)i;
		v[i] = &cbs[i];
	}
	REQUIRE(uaio_submit(ctx, n, v) == n);
	/* wait until all are visible (they should be already) */
	for (int k = 0; k < 10000; k++) {
		if ((__atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE) + ring->nr - ring->head) % ring->nr == (unsigned)n)
			break;
		struct timespec s = { 0, 1000000 };
		nanosleep(&s, NULL);
	}
	REQUIRE((ring->tail + ring->nr - ring->head) % ring->nr == (unsigned)n);
}

static void run(unsigned flags, int min_nr, int nr, struct timespec *ts, int n_ready,
		int expect_traps)
{
	aio_context_t ctx = 0;
	struct iocb cbs[N];
	char bufs[N][32];
	struct job j;
	pthread_t th;
	int fd = t_tmpfile(N * 32, 0);

	REQUIRE(t_setup_flags(N, &ctx, flags) == 0);
	fill(ctx, fd, cbs, bufs, n_ready);
	memset(&j, 0, sizeof(j));
	j.ctx = ctx;
	j.min_nr = min_nr;
	j.nr = nr;
	j.ts = ts;
	traps = 0;
	first_nr = -1;
	REQUIRE(pthread_create(&th, NULL, trapped, &j) == 0);
	REQUIRE(pthread_join(th, NULL) == 0);
	REQUIRE(j.ret != -1000);
	if (j.traps != expect_traps)
		t_fail("flags %u min %d nr %d ts %s: %d system call(s) (first: %d), expected %d",
		       flags, min_nr, nr, ts ? "set" : "NULL", j.traps, j.nr0, expect_traps);
	{
		int want = nr < n_ready ? nr : n_ready;

		CHECK_EQ(j.ret, want);
		for (int i = 0; i < want && i < j.ret; i++) {
			CHECK_EQ(j.ev[i].data, 1000 + (uint64_t)i);
			CHECK_EQ(j.ev[i].obj, (uint64_t)(uintptr_t)&cbs[i]);
			CHECK_EQ(j.ev[i].res, 32);
			CHECK_EQ((unsigned char)bufs[i][5], t_pattern(i * 32 + 5));
		}
	}
	CHECK_EQ(uaio_destroy(ctx), 0);
	close(fd);
}

int main(void)
{
#ifdef T_UNDER_SAN
	t_skip("sanitizer runtimes make system calls of their own");
#endif
#ifndef MY_ARCH
	t_skip("no seccomp arch constant for this target");
#endif
	{
		const char *pre = getenv("LD_PRELOAD");

		if (pre && (strstr(pre, "valgrind") || strstr(pre, "vgpreload")))
			t_skip("valgrind makes system calls for the program");
	}
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	REQUIRE(sigaction(SIGSYS, &sa, NULL) == 0);

	struct timespec zero = { 0, 0 }, ten = { 10, 0 };

	/* checks off: no system call, whatever the timeout argument */
	run(UAIO_F_NOCHECK, 1, N, NULL, 8, 0);
	run(UAIO_F_NOCHECK, 8, 8, NULL, 8, 0);
	run(UAIO_F_NOCHECK, 4, 4, NULL, 8, 0);
	run(UAIO_F_NOCHECK, 0, N, &zero, 8, 0);
	run(UAIO_F_NOCHECK, 1, N, &ten, 8, 0);
	{
		const char *ua = getenv("UAIO_UACCESS");
		bool vm = ua && strcmp(ua, "vm") == 0;
#if defined(__x86_64__)
		int checked = vm ? 1 : 0;	/* vm: the process_vm copy-out */
#else
		int checked = 1;		/* no fault-catching copy here */
#endif
		run(0, 1, N, NULL, 8, checked);
		run(0, 4, 4, NULL, 8, checked);
		run(0, 0, N, &zero, 8, checked * 2);	/* vm: and the timeout's copy-in */
		run(0, 1, N, &ten, 8, checked * 2);
		if (vm)
			return t_done();
		t_rerun_with("UAIO_UACCESS", "vm");	/* again, checks by process_vm */
	}
	return t_done();
}
