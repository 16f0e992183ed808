/* executors - prints the executors this machine offers, one line:
 * "threads", plus "uring" where a context can be set up on io_uring.
 * tests/run.sh runs the suite once per executor it names. */
#include "uaio.h"
#include <stdio.h>
#include <string.h>

int main(void)
{
	struct uaio_params p;
	aio_context_t ctx = 0;

	memset(&p, 0, sizeof(p));
	p.executor = "uring";
	if (uaio_setup_params(1, &p, &ctx) == 0) {
		uaio_destroy(ctx);
		puts("threads uring");
	} else {
		puts("threads");
	}
	return 0;
}
