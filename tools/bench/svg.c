/* SPDX-License-Identifier: MIT */
/* svg.c - --svg: horizontal bar charts of IOPS and latency percentiles
 * (and --cost's ns per request), no library needed. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "bench.h"

static const char *const eng_colors[ENG_COUNT] = {
	"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#ff9da7", "#bab0ac", "#edc948",
	"#b07aa1", "#9c755f",
};
static const char *const pct_colors[3] = { "#9ecae1", "#3182bd", "#08519c" };
static const char *const pct_names[3] = { "p50", "p99", "p99.9" };

static void svg_text(FILE *f, double x, double y, const char *anchor, const char *style, const char *s)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s%s%s>", x, y, anchor,
		style ? " style=\"" : "", style ? style : "", style ? "\"" : "");
	for (; *s; s++) {
		if (*s == '<') fputs("&lt;", f);
		else if (*s == '>') fputs("&gt;", f);
		else if (*s == '&') fputs("&amp;", f);
		else fputc(*s, f);
	}
	fputs("</text>\n", f);
}

/* A panel's axis: from lo to hi, grid lines every lstep (linear scale). */
struct scale {
	double lo, hi, lstep;
};

static struct scale svg_scale(const struct bars *p)
{
	double vmax = 0, vmin = 1e300;
	struct scale s = { .lstep = 1 };

	for (unsigned i = 0; i < p->n; i++)
		for (unsigned k = 0; k < p->k; k++) {
			if (p->v[i][k] > vmax)
				vmax = p->v[i][k];
			if (p->v[i][k] > 0 && p->v[i][k] < vmin)
				vmin = p->v[i][k];
		}
	if (vmax <= 0)
		vmax = 1;
	if (vmin > vmax)
		vmin = vmax;
	s.lo = p->logscale ? pow(10, floor(log10(vmin))) : 0;
	s.hi = p->logscale ? pow(10, ceil(log10(vmax * 1.0001))) : vmax;
	if (!p->logscale) {
		/* A round step (1, 2 or 5 times a power of ten), about five of them. */
		double step = pow(10, floor(log10(vmax / 5)));

		if (vmax / step > 25)
			step *= 5;
		else if (vmax / step > 10)
			step *= 2;
		s.lstep = step;
		s.hi = step * ceil(vmax / step);
	}
	if (p->logscale && s.hi <= s.lo)
		s.hi = s.lo * 10;
	return s;
}

/* Grid: decades on a log scale, fifths on a linear one. */
static void svg_grid(FILE *f, double y, double rowh, const struct bars *p, const struct scale *s)
{
	char buf[64];

	for (int g = 0;; g++) {
		double v = p->logscale ? s->lo * pow(10, g) : s->lstep * g, x;

		if (v > s->hi * 1.0001 || g > 30)
			break;
		x = SVG_X0 + (p->logscale ? log10(v / s->lo) / log10(s->hi / s->lo) : v / s->hi) * SVG_BARW;
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", x, y,
			x, y + rowh * p->n);
		if (v >= 1e6)
			snprintf(buf, sizeof(buf), "%gM", v / 1e6);
		else if (v >= 1e4)
			snprintf(buf, sizeof(buf), "%gk", v / 1e3);
		else
			snprintf(buf, sizeof(buf), "%g", v);
		svg_text(f, x, y + rowh * p->n + 12, "middle", "font-size:10px;fill:#666", buf);
	}
}

/* Bar k of row i, at height by. */
static void svg_bar(FILE *f, const struct bars *p, const struct scale *s, unsigned i, unsigned k,
		    double by, double bh)
{
	double v = p->v[i][k], frac;
	const char *col = p->color[i] >= 0 ? eng_colors[p->color[i] % ENG_COUNT] : pct_colors[k];

	if (p->logscale)
		frac = v > s->lo ? log10(v / s->lo) / log10(s->hi / s->lo) : 0.002;
	else
		frac = v / s->hi;
	if (frac < 0.002)
		frac = 0.002;
	fprintf(f, "<rect class=\"%s%s%s\" data-engine=\"%s\" x=\"%d\" y=\"%.1f\" width=\"%.1f\" "
		"height=\"%.1f\" fill=\"%s\"><title>%s %s%s%.1f %s</title></rect>\n",
		p->cls, p->k > 1 ? " " : "", p->k > 1 ? pct_names[k] : "", p->labels[i], SVG_X0,
		by, frac * SVG_BARW, bh, col, p->labels[i], p->k > 1 ? pct_names[k] : "",
		p->k > 1 ? " " : "", v, p->unit);
}

/* Row i: its label, its bars and its figures. */
static void svg_row(FILE *f, const struct bars *p, const struct scale *s, unsigned i, double ry,
		    double rowh)
{
	char buf[64];

	svg_text(f, SVG_LABEL, ry + rowh / 2 + 4, "end", NULL, p->labels[i]);
	for (unsigned k = 0; k < p->k; k++) {
		double bh = p->k > 1 ? 7 : 16;

		svg_bar(f, p, s, i, k, ry + 3 + k * (bh + 1), bh);
	}
	if (p->k > 1) {
		snprintf(buf, sizeof(buf), "%.1f / %.1f / %.1f", p->v[i][0], p->v[i][1], p->v[i][2]);
		svg_text(f, SVG_X0 + SVG_BARW + 6, ry + rowh / 2 + 4, "start", "font-size:10px", buf);
	} else {
		snprintf(buf, sizeof(buf), p->v[i][0] >= 100 ? "%.0f" : "%.1f", p->v[i][0]);
		svg_text(f, SVG_X0 + (p->logscale ? SVG_BARW : SVG_BARW * p->v[i][0] / s->hi) + 4,
			 ry + rowh / 2 + 4, "start", "font-size:10px", buf);
	}
}

/* One panel from y down; returns the y below it. */
double svg_bars(FILE *f, double y, const struct bars *p)
{
	double rowh = p->k > 1 ? 8.0 * p->k + 6 : 22;
	struct scale s = svg_scale(p);

	svg_text(f, SVG_X0, y + 14, "start", "font-weight:bold", p->title);
	y += 24;
	svg_grid(f, y, rowh, p, &s);
	for (unsigned i = 0; i < p->n; i++)
		svg_row(f, p, &s, i, y + rowh * i, rowh);
	y += rowh * p->n + 18;
	if (p->k > 1) {
		for (unsigned k = 0; k < p->k; k++) {
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"10\" fill=\"%s\"/>\n",
				SVG_X0 + 90.0 * k, y, pct_colors[k]);
			svg_text(f, SVG_X0 + 90.0 * k + 16, y + 9, "start", "font-size:11px", pct_names[k]);
		}
		y += 18;
	}
	return y + 10;
}

void svg_begin(FILE *f, double h, const char *title)
{
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" "
		"viewBox=\"0 0 %d %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n", SVG_W, h, SVG_W, h);
	fprintf(f, "<rect class=\"background\" x=\"0\" y=\"0\" width=\"%d\" height=\"%.0f\" fill=\"#fff\"/>\n",
		SVG_W, h);
	svg_text(f, 10, 22, "start", "font-size:16px;font-weight:bold", title);
}

/* Two passes: the first (to /dev/null) measures the height. */
static double svg_body(FILE *f, const struct run *R)
{
	const struct opts *o = R->o;
	double y = 34;
	char t[160], bs[32], rw[48];

	for (int m = 0; m < MODE_COUNT; m++) {
		struct bars iops = { .cls = "iops", .k = 1, .unit = "IOPS" };
		struct bars lat = { .cls = "lat", .k = 3, .unit = "us", .logscale = true };

		if (!(o->modes & (1u << m)) || !R->mode_ran[m])
			continue;
		for (int e = 0; e < ENG_COUNT; e++) {
			const struct result *r = &R->res[m][e];

			if (!(R->mask & (1ull << e)) || !r->ran)
				continue;
			iops.labels[iops.n] = lat.labels[lat.n] = engine_names[e];
			iops.color[iops.n] = e;
			lat.color[lat.n] = -1;
			iops.v[iops.n++][0] = r->iops;
			lat.v[lat.n][0] = r->p50 / 1000;
			lat.v[lat.n][1] = r->p99 / 1000;
			lat.v[lat.n++][2] = r->p999 / 1000;
		}
		snprintf(t, sizeof(t), "%s, bs %s, iodepth %u, %s", rw_label(o, rw, sizeof(rw)),
			 fmt_size(bs, sizeof(bs), o->bs), o->depth, mode_titles[m]);
		svg_text(f, 10, y + 16, "start", "font-size:14px;font-weight:bold", t);
		y += 22;
		iops.title = "IOPS (higher is better)";
		y = svg_bars(f, y, &iops);
		lat.title = "latency in microseconds, log scale (lower is better)";
		y = svg_bars(f, y, &lat);
	}
	return y;
}

void write_svg(const struct run *R)
{
	FILE *null = fopen("/dev/null", "w"), *f;
	double h;
	char title[200];

	if (!null)
		fatal("/dev/null: %s", strerror(errno));
	h = svg_body(null, R);
	fclose(null);
	f = open_out(R->o->svg);
	snprintf(title, sizeof(title), PROG ": %s engines compared", rw_names[R->o->rw]);
	svg_begin(f, h, title);
	svg_body(f, R);
	fprintf(f, "</svg>\n");
	close_out(f, R->o->svg);
}
