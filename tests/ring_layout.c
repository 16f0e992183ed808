/* SPEC §1 types and layout: struct iocb is 64 bytes, struct io_event 32, the ring header is the kernel's 32-byte header and after setup holds the kernel's values (nr, magic, compat/incompat features, header_length, head, tail). */
#include "t.h"
#include <stddef.h>

/* struct iocb: the kernel ABI, little-endian 64-bit. */
_Static_assert(sizeof(struct iocb) == 64, "sizeof(struct iocb)");
_Static_assert(offsetof(struct iocb, aio_data) == 0, "aio_data");
_Static_assert(offsetof(struct iocb, aio_key) == 8, "aio_key");
_Static_assert(offsetof(struct iocb, aio_rw_flags) == 12, "aio_rw_flags");
_Static_assert(offsetof(struct iocb, aio_lio_opcode) == 16, "aio_lio_opcode");
_Static_assert(offsetof(struct iocb, aio_reqprio) == 18, "aio_reqprio");
_Static_assert(offsetof(struct iocb, aio_fildes) == 20, "aio_fildes");
_Static_assert(offsetof(struct iocb, aio_buf) == 24, "aio_buf");
_Static_assert(offsetof(struct iocb, aio_nbytes) == 32, "aio_nbytes");
_Static_assert(offsetof(struct iocb, aio_offset) == 40, "aio_offset");
_Static_assert(offsetof(struct iocb, aio_reserved2) == 48, "aio_reserved2");
_Static_assert(offsetof(struct iocb, aio_flags) == 56, "aio_flags");
_Static_assert(offsetof(struct iocb, aio_resfd) == 60, "aio_resfd");
_Static_assert(sizeof(((struct iocb *)0)->aio_lio_opcode) == 2, "opcode size");
_Static_assert(sizeof(((struct iocb *)0)->aio_reqprio) == 2, "reqprio size");

/* struct io_event */
_Static_assert(sizeof(struct io_event) == 32, "sizeof(struct io_event)");
_Static_assert(offsetof(struct io_event, data) == 0, "data");
_Static_assert(offsetof(struct io_event, obj) == 8, "obj");
_Static_assert(offsetof(struct io_event, res) == 16, "res");
_Static_assert(offsetof(struct io_event, res2) == 24, "res2");

/* The ring header. */
_Static_assert(sizeof(struct uaio_ring) == 32, "sizeof(struct uaio_ring)");
_Static_assert(offsetof(struct uaio_ring, id) == 0, "id");
_Static_assert(offsetof(struct uaio_ring, nr) == 4, "nr");
_Static_assert(offsetof(struct uaio_ring, head) == 8, "head");
_Static_assert(offsetof(struct uaio_ring, tail) == 12, "tail");
_Static_assert(offsetof(struct uaio_ring, magic) == 16, "magic");
_Static_assert(offsetof(struct uaio_ring, compat_features) == 20, "compat_features");
_Static_assert(offsetof(struct uaio_ring, incompat_features) == 24, "incompat_features");
_Static_assert(offsetof(struct uaio_ring, header_length) == 28, "header_length");
_Static_assert(offsetof(struct uaio_ring, io_events) == 32, "io_events");
_Static_assert(UAIO_RING_MAGIC == 0xa10a10a1u, "magic value");

static void check_ring(unsigned nr)
{
	aio_context_t kc = 0, uc = 0;
	long page = sysconf(_SC_PAGESIZE);

	REQUIRE(k_setup(nr, &kc) == 0);
	REQUIRE(t_setup(nr, &uc) == 0);
	REQUIRE(kc != 0 && uc != 0);

	const struct uaio_ring *k = (const struct uaio_ring *)kc;
	const struct uaio_ring *u = (const struct uaio_ring *)uc;

	/* The kernel's own values, as measured. */
	CHECK_EQ(k->magic, 0xa10a10a1u);
	CHECK_EQ(k->header_length, 32);

	/* uaio's header equals the kernel's (id is informational). */
	CHECK_EQ(u->nr, k->nr);
	CHECK_EQ(u->head, k->head);
	CHECK_EQ(u->tail, k->tail);
	CHECK_EQ(u->magic, k->magic);
	CHECK_EQ(u->compat_features, k->compat_features);
	CHECK_EQ(u->incompat_features, k->incompat_features);
	CHECK_EQ(u->header_length, k->header_length);
	CHECK_EQ(u->magic, UAIO_RING_MAGIC);
	CHECK_EQ(u->compat_features, 1);
	CHECK_EQ(u->incompat_features, 0);
	CHECK_EQ(u->header_length, 32);
	CHECK_EQ(u->head, 0);
	CHECK_EQ(u->tail, 0);

	/* The ring occupies whole pages and nr is as many events as fit. */
	CHECK_EQ(uc % (unsigned long)page, 0);
	size_t bytes = 32 + (size_t)u->nr * 32;
	size_t pages = (bytes + (size_t)page - 1) / (size_t)page;
	CHECK(pages * (size_t)page - bytes < 32);
	CHECK(u->nr >= 2 * nr);
	/* Every byte of those pages is readable and writable. */
	volatile unsigned char *last = (volatile unsigned char *)uc + pages * (size_t)page - 1;
	unsigned char old = *last;
	*last = old;

	if (u->nr != k->nr)
		fprintf(stderr, "nr_events %u: kernel ring nr %u, uaio ring nr %u\n", nr, k->nr, u->nr);

	CHECK_EQ(k_destroy(kc), 0);
	CHECK_EQ(uaio_destroy(uc), 0);
}

/* After one completed request: tail 1; after reaping it: head 1, on both. */
static void check_head_tail(const struct t_api *a)
{
	aio_context_t ctx = 0;
	int fd = t_tmpfile(4096, 0);
	unsigned char buf[16];
	struct iocb cb, *v[1] = { &cb };
	struct io_event ev;

	REQUIRE(a->setup(4, &ctx) == 0);
	const volatile struct uaio_ring *r = (const volatile struct uaio_ring *)ctx;
	uaio_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	cb.aio_data = 77;
	CHECK_EQ(a->submit(ctx, 1, v), 1);
	CHECK_EQ(t_wait1(a, ctx, &ev), 1);
	CHECK_EQ(ev.res, 16);
	CHECK_EQ(ev.data, 77);
	CHECK_EQ(r->tail, 1);
	CHECK_EQ(r->head, 1);
	/* The event was written into slot 0 of the ring itself. */
	CHECK_EQ(r->io_events[0].data, 77);
	CHECK_EQ(r->io_events[0].obj, (uint64_t)(uintptr_t)&cb);
	CHECK_EQ(r->io_events[0].res, 16);
	CHECK_EQ(a->destroy(ctx), 0);
	close(fd);
}

int main(void)
{
	static const unsigned nrs[] = { 1, 2, 100, 1000, 4096 };

	if (!k_available())
		t_skip("kernel AIO unavailable");
	for (size_t i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++)
		check_ring(nrs[i]);
	check_head_tail(&t_kernel);
	check_head_tail(&t_uaio);
	return t_done();
}
