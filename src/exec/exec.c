/* SPDX-License-Identifier: MIT */
/* exec/exec.c - which executor runs a context's requests, what happens to
 * a request its executor hands back, and the executors' fork hooks.
 */
#include "exec/exec.h"
#include "poller.h"
#include <stdlib.h>
#include <string.h>

/* Preference order: "auto" takes the first that works here.  Each one's
 * fallback is further down; the last takes everything. */
static const struct exec_ops *const executors[] = {
	&exec_uring,
	&exec_kaio,
	&exec_threads,
};
#define NEXEC (sizeof(executors) / sizeof(executors[0]))

static const struct exec_ops *exec_auto(bool *fallback)
{
	for (size_t i = 0; i < NEXEC; i++) {
		const struct exec_ops *ex = executors[i];

		if (!ex->probe || ex->probe() >= 0) {
			*fallback = ex->fallback != NULL;
			return ex;
		}
	}
	return NULL;
}

const struct exec_ops *exec_choose(const char *name, bool *fallback)
{
	*fallback = false;
	if (!name)
		name = config_executor();
	if (!name || !*name || !strcmp(name, "auto"))
		return exec_auto(fallback);
	for (size_t i = 0; i < NEXEC; i++)
		if (!strcmp(name, executors[i]->name))
			return executors[i];
	return NULL;
}

/* Makes sure something runs req after submit on ex: ex itself, one of its
 * fallbacks or, for a POLL none of them waits for, the readiness service.
 * Executors with a fallback are asked every time (they may route per
 * request); the last resort's answer is kept in *have_last for the rest
 * of the submit call.  0, or reserve's -errno. */
int exec_reserve(const struct exec_ops *ex, const struct uaio_req *req, bool *have_last)
{
	int r;

	for (; ex->fallback; ex = ex->fallback) {
		if ((r = ex->reserve(req)) != EXEC_FALLBACK)
			return r;
		if (req->kind == KIND_POLL)
			return poller_reserve();	/* where a POLL goes when ex cannot wait */
	}
	if (*have_last)
		return 0;
	if (ex->reserve && (r = ex->reserve(req)) < 0)
		return r;
	*have_last = true;
	return 0;
}

/* Requests of one context, QUEUED, that its executor hands back (never
 * started): its fallback runs them. */
void exec_fallback(struct uaio_req **reqs, int n)
{
	reqs[0]->ctx->exec->fallback->submit(reqs, n);
}

void exec_set_limits(const struct exec_limits *lim)
{
	for (size_t i = 0; i < NEXEC; i++)
		if (executors[i]->set_limits)
			executors[i]->set_limits(lim);
}

/* Fork: every executor's locks, then the readiness service's (the order
 * the library has always taken them in); released in reverse.  The child
 * only resets, in any order: it is single-threaded. */
void exec_atfork_prepare(void)
{
	for (size_t i = 0; i < NEXEC; i++)
		if (executors[i]->atfork_prepare)
			executors[i]->atfork_prepare();
	poller_atfork_prepare();
}

void exec_atfork_parent(void)
{
	poller_atfork_parent();
	for (size_t i = NEXEC; i-- > 0;)
		if (executors[i]->atfork_parent)
			executors[i]->atfork_parent();
}

void exec_atfork_child(void)
{
	poller_atfork_child();
	for (size_t i = NEXEC; i-- > 0;)
		if (executors[i]->atfork_child)
			executors[i]->atfork_child();
}
