/* SPDX-License-Identifier: MIT */
/*
 * fuzz_replay.c - runs the fuzzing harness (tests/fuzz/harness.c) over every
 * input in tests/fuzz/corpus and tests/fuzz/regress, so that the seed
 * corpus and every input that once crashed uaio are replayed by `make
 * check` on each executor and under ASan, TSan and valgrind.  The harness
 * abort()s on a violated invariant.  Run from the source tree's root (as
 * tests/run.sh does); $UAIO_FUZZ_DIR overrides the directory.
 */
#include "t.h"
#include "fuzz/harness.h"
#include <dirent.h>

static int replay_dir(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort), done = 0;

	if (n < 0) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		exit(T_FAIL);
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		static uint8_t buf[1 << 16];
		struct stat st;
		size_t len;
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		free(names[i]);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || strstr(path, "README"))
			continue;
		REQUIRE((f = fopen(path, "rb")) != NULL);
		len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		printf("%s (%zu bytes)\n", path, len);
		fflush(stdout);
		hz_run(buf, len);
		done++;
	}
	free(names);
	return done;
}

int main(void)
{
	const char *d = getenv("UAIO_FUZZ_DIR");
	char corpus[4096], regress[4096];
	unsigned long long ops, acc;
	int n;

	if (!d || !*d)
		d = "tests/fuzz";
	snprintf(corpus, sizeof(corpus), "%s/corpus", d);
	snprintf(regress, sizeof(regress), "%s/regress", d);
	/* The drain deadline is a safety net, generous under valgrind and TSan. */
	setenv("UAIO_FUZZ_DRAIN_MS", "30000", 0);
	REQUIRE(hz_init(t_under_valgrind()) == 0);
	n = replay_dir(corpus);
	n += replay_dir(regress);
	hz_counts(&ops, &acc);
	printf("%d inputs, %llu operations, %llu requests accepted\n", n, ops, acc);
	CHECK(n > 0);
	CHECK(acc > 0);
	return t_done();
}
