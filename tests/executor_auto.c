/* SPEC §3 executors: where io_uring works, "auto" (named, from UAIO_EXECUTOR, or by default) uses it and uaio_executor_name says "uring"; "threads" and "uring" can still be forced; an unknown name is -EINVAL. */
#include "t.h"
#include <liburing.h>

static const char *name_of(const char *executor, int *ret)
{
	struct uaio_params p;
	aio_context_t ctx = 0;
	static char name[32];

	memset(&p, 0, sizeof(p));
	p.executor = executor;
	name[0] = 0;
	*ret = uaio_setup_params(4, &p, &ctx);
	if (*ret == 0) {
		snprintf(name, sizeof(name), "%s", uaio_executor_name(ctx));
		CHECK_EQ(uaio_destroy(ctx), 0);
	}
	return name;
}

int main(void)
{
	struct io_uring ring;
	int r;

	if (io_uring_queue_init(4, &ring, 0) < 0)
		t_skip("io_uring unavailable here");
	io_uring_queue_exit(&ring);

	CHECK(strcmp(name_of("auto", &r), "uring") == 0);
	CHECK_EQ(r, 0);
	CHECK(strcmp(name_of("", &r), "uring") == 0);	/* empty: auto */
	CHECK(strcmp(name_of("uring", &r), "uring") == 0);
	CHECK(strcmp(name_of("threads", &r), "threads") == 0);
	name_of("no-such-executor", &r);
	CHECK_EQ(r, -EINVAL);

	setenv("UAIO_EXECUTOR", "auto", 1);
	CHECK(strcmp(name_of(NULL, &r), "uring") == 0);
	unsetenv("UAIO_EXECUTOR");
	CHECK(strcmp(name_of(NULL, &r), "uring") == 0);	/* the default is auto */
	setenv("UAIO_EXECUTOR", "threads", 1);
	CHECK(strcmp(name_of(NULL, &r), "threads") == 0);
	return t_done();
}
