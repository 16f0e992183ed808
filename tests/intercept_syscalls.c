/* Issue 7: uaio_intercept_syscalls() serves the AIO system calls a program
 * issues itself - through libc's syscall() and through its own `syscall`
 * instruction - in every thread, including threads and children created
 * later, with errno and the signal mask untouched; other system calls and
 * the program's own SIGSYS handling still work; after execve the new
 * program gets the kernel's AIO. */
#include "t.h"
#include <pthread.h>
#include <stddef.h>
#include <signal.h>
#include <sys/wait.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <ucontext.h>

/* uaio's SIGSYS handler runs uaio's calls (malloc, locks) in the signal
 * frame.  That is safe because a seccomp trap is synchronous: it happens
 * at the program's own io_* system call, never in the middle of malloc.
 * TSan cannot know that and reports every such call. */
const char *__tsan_default_options(void) __attribute__((visibility("default")));
const char *__tsan_default_options(void)
{
	return "report_signal_unsafe=0";
}

/* The program's own `syscall` instruction, not libc's. */
static long asm_syscall3(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

static long asm_syscall5(long nr, long a, long b, long c, long d, long e)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

/* A context is the kernel's when its address is an [aio] mapping. */
static int is_kernel_ring(aio_context_t ctx)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long lo, hi;
	int found = 0;

	REQUIRE(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && ctx >= lo && ctx < hi && strstr(line, "[aio]"))
			found = 1;
	fclose(f);
	return found;
}

static volatile sig_atomic_t own_sigsys, own_trapped_nr;

static void own_handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)sig;
	own_sigsys++;
	if (si->si_code == 1 /* SYS_SECCOMP */) {
		own_trapped_nr = si->si_syscall;
		uc->uc_mcontext.gregs[REG_RAX] = 777;
	}
}

/* The program's own seccomp filter: afs_syscall (never used: ENOSYS) traps (RET_TRAP). */
static void own_filter(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_afs_syscall, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog p = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	REQUIRE(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	REQUIRE(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p) == 0);
}

static int rw_roundtrip(aio_context_t ctx, int fd, int use_asm)
{
	char buf[4096], back[4096];
	struct iocb cb, *v[1] = { &cb };
	struct io_event ev;
	struct timespec ts = { 10, 0 };
	long r;

	memset(buf, 'q', sizeof(buf));
	uaio_prep_pwrite(&cb, fd, buf, sizeof(buf), 0);
	cb.aio_data = 42;
	r = use_asm ? asm_syscall3(SYS_io_submit, (long)ctx, 1, (long)v)
		    : syscall(SYS_io_submit, ctx, 1, v);
	if (r != 1)
		return 0;
	r = use_asm ? asm_syscall5(SYS_io_getevents, (long)ctx, 1, 1, (long)&ev, (long)&ts)
		    : syscall(SYS_io_getevents, ctx, 1, 1, &ev, &ts);
	if (r != 1 || ev.res != 4096 || ev.data != 42 || ev.obj != (uint64_t)(uintptr_t)&cb)
		return 0;
	uaio_prep_pread(&cb, fd, back, sizeof(back), 0);
	if (syscall(SYS_io_submit, ctx, 1, v) != 1 ||
	    syscall(SYS_io_getevents, ctx, 1, 1, &ev, &ts) != 1 || ev.res != 4096)
		return 0;
	return !memcmp(buf, back, sizeof(buf));
}

struct thr { aio_context_t ctx; int fd; int ok; };

static void *thread_main(void *arg)
{
	struct thr *t = arg;
	aio_context_t mine = 0;

	t->ok = rw_roundtrip(t->ctx, t->fd, 1);
	/* a context of its own, served by uaio too */
	if (syscall(SYS_io_setup, 4, &mine) != 0 || is_kernel_ring(mine) || !uaio_executor_name(mine))
		t->ok = 0;
	if (syscall(SYS_io_destroy, mine) != 0)
		t->ok = 0;
	return NULL;
}

static int exec_child(void)
{
	aio_context_t ctx = 0;

	/* A new program image, started without uaio: the kernel's AIO. */
	if (syscall(SYS_io_setup, 4, &ctx) != 0)
		return 3;
	if (!is_kernel_ring(ctx))
		return 4;
	return syscall(SYS_io_destroy, ctx) == 0 ? 0 : 5;
}

int main(int argc, char **argv)
{
	struct sigaction sa, cur;
	sigset_t before, after;
	aio_context_t ctx = 0, bogus = 0;
	struct thr t;
	pthread_t th;
	pid_t pid;
	int fd, st;

	if (argc > 1 && !strcmp(argv[1], "--exec-child"))
		return exec_child();
	if (t_under_valgrind())
		t_skip("valgrind runs system calls from its own code: seccomp traps do not reach it");

	/* The program's SIGSYS handler and seccomp filter, installed first. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = own_handler;
	sa.sa_flags = SA_SIGINFO;
	REQUIRE(sigaction(SIGSYS, &sa, NULL) == 0);
	own_filter();

	CHECK_EQ(uaio_intercept_syscalls(1), -EINVAL);
	st = uaio_intercept_syscalls(0);
	if (st == -ENOSYS || st == -EACCES)
		t_skip("seccomp filters are not available here");
	REQUIRE(st == 0);
	CHECK_EQ(uaio_intercept_syscalls(0), 0);	/* again: nothing new to cover */

	/* io_setup through libc's syscall(): a uaio ring, not the kernel's. */
	REQUIRE(syscall(SYS_io_setup, 16, &ctx) == 0);
	CHECK(!is_kernel_ring(ctx));
	CHECK(uaio_executor_name(ctx) != NULL);
	CHECK_EQ(((struct uaio_ring *)ctx)->magic, UAIO_RING_MAGIC);

	/* kernel answers and errno conventions through libc's wrapper */
	errno = 0;
	CHECK_EQ(syscall(SYS_io_setup, 0, &bogus), -1);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK_EQ(syscall(SYS_io_destroy, 12345), -1);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK_EQ(syscall(SYS_io_setup, 4, NULL), -1);
	CHECK_EQ(errno, EFAULT);

	/* errno and the signal mask are untouched by an intercepted call */
	fd = t_tmpfile(0, 0);
	sigemptyset(&before);	/* the kernel fills only its 8 bytes */
	sigemptyset(&after);
	REQUIRE(sigprocmask(SIG_BLOCK, NULL, &before) == 0);
	errno = 4321;
	CHECK(rw_roundtrip(ctx, fd, 1));
	CHECK_EQ(errno, 4321);
	CHECK_EQ(asm_syscall3(SYS_io_submit, (long)ctx, -1, 0), -EINVAL);
	CHECK_EQ(asm_syscall3(SYS_io_destroy, 99, 0, 0), -EINVAL);
	CHECK_EQ(errno, 4321);
	REQUIRE(sigprocmask(SIG_BLOCK, NULL, &after) == 0);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&before, sig) != sigismember(&after, sig))
			t_fail("signal %d: blocked %d before, %d after", sig, sigismember(&before, sig),
			       sigismember(&after, sig));
	CHECK(rw_roundtrip(ctx, fd, 0));

	/* io_pgetevents: the kernel's sigset descriptor, checked in its order */
	{
		struct { const void *mask; size_t size; } usig;
		uint64_t kmask = 0;
		struct timespec zero = { 0, 0 };
		struct io_event ev;

		usig.mask = &kmask;
		usig.size = 8;
		CHECK_EQ(syscall(SYS_io_pgetevents, ctx, 0, 1, &ev, &zero, &usig), 0);
		usig.size = 7;
		errno = 0;
		CHECK_EQ(syscall(SYS_io_pgetevents, ctx, 0, 1, &ev, &zero, &usig), -1);
		CHECK_EQ(errno, EINVAL);
		errno = 0;
		CHECK_EQ(syscall(SYS_io_pgetevents, ctx, 0, 1, &ev, &zero, (void *)8), -1);
		CHECK_EQ(errno, EFAULT);
		usig.mask = NULL;
		CHECK_EQ(syscall(SYS_io_pgetevents, ctx, 0, 1, &ev, &zero, &usig), 0);
	}

	/* a thread created after interception started */
	t.ctx = ctx;
	t.fd = fd;
	t.ok = 0;
	REQUIRE(pthread_create(&th, NULL, thread_main, &t) == 0);
	pthread_join(th, NULL);
	CHECK(t.ok);

	/* the program's own SIGSYS: its filter's trap and kill() reach it */
	CHECK_EQ(syscall(SYS_afs_syscall), 777);
	CHECK_EQ(own_trapped_nr, SYS_afs_syscall);
	st = own_sigsys;
	kill(getpid(), SIGSYS);
	CHECK_EQ(own_sigsys, st + 1);
	REQUIRE(sigaction(SIGSYS, NULL, &cur) == 0);
	CHECK(cur.sa_flags & SA_SIGINFO);

	/* other system calls run untouched */
	CHECK_EQ(syscall(SYS_getpid), getpid());

	/* fork: the child's AIO calls are served by uaio; the parent's
	 * contexts are unknown there, as with the kernel */
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		aio_context_t c2 = 0;
		struct iocb cb, *v[1] = { &cb };

		uaio_prep_pread(&cb, fd, &st, 1, 0);
		if (syscall(SYS_io_submit, ctx, 1, v) != -1 || errno != EINVAL)
			_exit(2);
		if (syscall(SYS_io_setup, 4, &c2) != 0 || is_kernel_ring(c2) || !uaio_executor_name(c2))
			_exit(3);
		_exit(syscall(SYS_io_destroy, c2) == 0 ? 0 : 4);
	}
	REQUIRE(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* execve: the new image is not served, and not killed by the trap */
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		char *args[] = { argv[0], (char *)"--exec-child", NULL };
		char *env[] = { NULL };

		execve("/proc/self/exe", args, env);
		_exit(6);
	}
	REQUIRE(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st));
	if (WIFEXITED(st))
		CHECK_EQ(WEXITSTATUS(st), 0);
	else
		fprintf(stderr, "exec'd child killed by signal %d\n", WTERMSIG(st));

	CHECK_EQ(syscall(SYS_io_destroy, ctx), 0);
	errno = 0;
	CHECK_EQ(syscall(SYS_io_destroy, ctx), -1);
	CHECK_EQ(errno, EINVAL);
	close(fd);
	return t_done();
}
