/* executors - prints the executors this machine offers, one line:
 * "threads", plus "kaio" and "uring" where a context can be set up on
 * them.  tests/run.sh runs the suite once per executor it names. */
#include "uaio.h"
#include <stdio.h>
#include <string.h>

static int works(const char *name)
{
	struct uaio_params p;
	aio_context_t ctx = 0;

	memset(&p, 0, sizeof(p));
	p.executor = name;
	if (uaio_setup_params(1, &p, &ctx) != 0)
		return 0;
	uaio_destroy(ctx);
	return 1;
}

int main(void)
{
	fputs("threads", stdout);
	if (works("kaio"))
		fputs(" kaio", stdout);
	if (works("uring"))
		fputs(" uring", stdout);
	putchar('\n');
	return 0;
}
