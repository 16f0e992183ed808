/* SPDX-License-Identifier: MIT */
/* json.c - --json: every figure of a run, and the helpers --cost uses too. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/utsname.h>

#include "bench.h"

void jstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void jnum(FILE *f, double v)
{
	if (!isfinite(v))
		v = 0;
	if (v == floor(v) && fabs(v) < 1e15)
		fprintf(f, "%.0f", v);
	else
		fprintf(f, "%.6g", v);
}

FILE *open_out(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		fatal("%s: %s", path, strerror(errno));
	return f;
}

void close_out(FILE *f, const char *path)
{
	if (ferror(f) | fclose(f))
		fatal("%s: write error", path);
}

void json_host(FILE *f)
{
	struct utsname u;

	if (uname(&u) < 0)
		memset(&u, 0, sizeof(u));
	fprintf(f, "\"tool\":\"" PROG "\",\"version\":\"%d.%d.%d\",\"host\":{\"name\":",
		UAIO_VERSION_MAJOR, UAIO_VERSION_MINOR, UAIO_VERSION_PATCH);
	jstr(f, u.nodename);
	fprintf(f, ",\"cpus\":%u,\"kernel\":", online_cpus());
	jstr(f, u.release);
	fprintf(f, ",\"machine\":");
	jstr(f, u.machine);
	fprintf(f, "}");
}

/* "name":value for each of n figures, each after a comma. */
static void jfields(FILE *f, const char *const *names, const double *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		fprintf(f, "%s\"%s\":", i ? "," : "", names[i]);
		jnum(f, v[i]);
	}
}

static void json_options(FILE *f, const struct run *R)
{
	const struct opts *o = R->o;

	fprintf(f, ",\n\"options\":{\"rw\":\"%s\",\"rwmix_read\":%u,\"bs\":%llu,\"iodepth\":%u,"
		"\"batch_submit\":%u,\"batch_complete\":%u,\"numjobs\":%u,\"size\":%llu,"
		"\"runtime_s\":", rw_names[o->rw], o->rwmix, (unsigned long long)o->bs, o->depth,
		o->batch_submit, o->batch_complete, o->numjobs, (unsigned long long)R->t->span);
	jnum(f, o->io_size ? 0 : o->runtime);
	fprintf(f, ",\"ramp_s\":");
	jnum(f, o->ramp);
	fprintf(f, ",\"io_size\":%llu,\"fsync\":%u,\"verify\":%s,\"sync_threads_per_job\":%u,"
		"\"baseline\":\"%s\",\"files\":[", (unsigned long long)o->io_size, o->fsync_every,
		o->verify ? "true" : "false", R->nsync, engine_names[o->baseline]);
	for (unsigned i = 0; i < R->t->n; i++) {
		const struct file *fl = &R->t->f[i];

		fprintf(f, "%s{\"path\":", i ? "," : "");
		jstr(f, fl->path);
		fprintf(f, ",\"temporary\":%s,\"block_device\":%s,\"fs\":\"%s\"}",
			fl->temporary ? "true" : "false", fl->blockdev ? "true" : "false",
			fl->blockdev ? "raw" : fs_name(fl->fstype));
	}
	fprintf(f, "]}");
}

static void json_left_out(FILE *f, const struct run *R)
{
	fprintf(f, ",\n\"left_out\":[");
	for (unsigned i = 0; i < R->nleft; i++) {
		fprintf(f, "%s{\"engine\":\"%s\",\"reason\":", i ? "," : "", engine_names[R->left[i].engine]);
		jstr(f, R->left[i].why);
		fprintf(f, "}");
	}
	fprintf(f, "]");
}

/* The figures of one engine that ran, after its "available". */
static void json_figures(FILE *f, const struct result *r, const struct result *base)
{
	static const char *const lat[] = { "min", "mean", "p50", "p90", "p99", "p99.9", "max" };
	static const char *const cpu[] = { "usr_s", "sys_s", "usr_pct", "sys_pct",
					   "usr_ns_per_io", "sys_ns_per_io", "ns_per_io" };
	double lv[] = { r->lat_min, round(r->lat_mean), round(r->p50), round(r->p90),
			round(r->p99), round(r->p999), r->lat_max };
	double cv[] = { r->usr_s, r->sys_s, r->secs > 0 ? r->usr_s * 100 / r->secs : 0,
			r->secs > 0 ? r->sys_s * 100 / r->secs : 0,
			r->ops ? round(r->usr_s * 1e9 / (double)r->ops) : 0,
			r->ops ? round(r->sys_s * 1e9 / (double)r->ops) : 0,
			round(cpu_per_io_us(r) * 1000) };

	fprintf(f, ",\"available\":true,\"threads\":%u,\"seconds\":", r->threads);
	jnum(f, r->secs);
	fprintf(f, ",\"ops\":%llu,\"reads\":%llu,\"writes\":%llu,\"fsyncs\":%llu,\"bytes\":%llu,"
		"\"iops\":", (unsigned long long)r->ops, (unsigned long long)r->reads,
		(unsigned long long)r->writes, (unsigned long long)r->fsyncs,
		(unsigned long long)r->bytes);
	jnum(f, r->iops);
	fprintf(f, ",\"mib_s\":");
	jnum(f, r->mibs);
	fprintf(f, ",\"lat_ns\":{");
	jfields(f, lat, lv, 7);
	fprintf(f, "},\"cpu\":{");
	jfields(f, cpu, cv, 7);
	fprintf(f, "},\"ratio_to_baseline\":{\"iops\":");
	jnum(f, base->ran && base->iops > 0 ? r->iops / base->iops : 0);
	fprintf(f, ",\"cpu_per_io\":");
	jnum(f, base->ran && cpu_per_io_us(base) > 0 ? cpu_per_io_us(r) / cpu_per_io_us(base) : 0);
	fprintf(f, "}");
}

static void json_engine(FILE *f, const struct run *R, int m, int e, bool first)
{
	const struct result *r = &R->res[m][e];

	fprintf(f, "%s\n {\"engine\":\"%s\",\"description\":", first ? "" : ",", engine_names[e]);
	jstr(f, engines[e]->desc);
	if (!r->ran) {
		fprintf(f, ",\"available\":false,\"reason\":");
		jstr(f, r->why);
		fprintf(f, "}");
		return;
	}
	json_figures(f, r, &R->res[m][R->o->baseline]);
	if (R->o->verify)
		fprintf(f, ",\"verify\":{\"checked\":%llu,\"mismatches\":%llu}",
			(unsigned long long)r->verify_checked, (unsigned long long)r->verify_bad);
	fprintf(f, "}");
}

static void json_workload(FILE *f, const struct run *R, int m, bool first_w)
{
	const struct opts *o = R->o;
	bool first = true;

	fprintf(f, "%s\n{\"name\":\"%s-%s\",\"rw\":\"%s\",\"mode\":\"%s\",\"ran\":%s,",
		first_w ? "" : ",", rw_names[o->rw], mode_names[m], rw_names[o->rw], mode_names[m],
		R->mode_ran[m] ? "true" : "false");
	if (!R->mode_ran[m]) {
		fprintf(f, "\"reason\":");
		jstr(f, R->mode_why[m]);
		fprintf(f, ",");
	}
	fprintf(f, "\"engines\":[");
	for (int e = 0; e < ENG_COUNT && R->mode_ran[m]; e++) {
		if (!(R->mask & (1ull << e)))
			continue;
		json_engine(f, R, m, e, first);
		first = false;
	}
	fprintf(f, "]}");
}

void write_json(const struct run *R)
{
	const struct opts *o = R->o;
	FILE *f = open_out(o->json);
	bool first_w = true;

	fprintf(f, "{");
	json_host(f);
	json_options(f, R);
	json_left_out(f, R);
	fprintf(f, ",\n\"workloads\":[");
	for (int m = 0; m < MODE_COUNT; m++) {
		if (!(o->modes & (1u << m)))
			continue;
		json_workload(f, R, m, first_w);
		first_w = false;
	}
	fprintf(f, "]}\n");
	close_out(f, o->json);
}
