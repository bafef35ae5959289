/* prom.c - Prometheus text format writer and lock-free collectors (prom.h). */
#include "prom.h"

#include <inttypes.h>
#include <stdbool.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

const int64_t prom_hist_bounds_us[PROM_HIST_BUCKETS] = {
	100, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
};

/* ---- Text format ------------------------------------------------------------- */

static void put_value(struct buf *b, double v)
{
	if (isnan(v))
		buf_puts(b, "NaN");
	else if (isinf(v))
		buf_puts(b, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0) /* 2^53: exact */
		buf_printf(b, "%.0f", v);
	else
		buf_printf(b, "%.15g", v);
}

void prom_escape_label(struct buf *b, const char *value)
{
	const char *p = value ? value : "";
	while (*p) {
		size_t run = strcspn(p, "\\\"\n");
		buf_append(b, p, run);
		p += run;
		if (!*p)
			break;
		buf_puts(b, *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : "\\n");
		p++;
	}
}

void prom_family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s ", name);
	/* HELP text escapes only backslash and newline. */
	for (const char *p = help ? help : ""; *p; p++) {
		if (*p == '\\')
			buf_puts(b, "\\\\");
		else if (*p == '\n')
			buf_puts(b, "\\n");
		else
			buf_append(b, p, 1);
	}
	buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

static void sample_v(struct buf *b, const char *name, double value, va_list ap)
{
	buf_puts(b, name);
	const char *k = va_arg(ap, const char *);
	if (k) {
		buf_puts(b, "{");
		for (bool first = true; k; k = va_arg(ap, const char *), first = false) {
			const char *v = va_arg(ap, const char *);
			buf_printf(b, "%s%s=\"", first ? "" : ",", k);
			prom_escape_label(b, v);
			buf_puts(b, "\"");
		}
		buf_puts(b, "}");
	}
	buf_puts(b, " ");
	put_value(b, value);
	buf_puts(b, "\n");
}

void prom_sample(struct buf *b, const char *name, double value, ...)
{
	va_list ap;
	va_start(ap, value);
	sample_v(b, name, value, ap);
	va_end(ap);
}

void prom_metric(struct buf *b, const char *name, const char *type, const char *help, double value)
{
	prom_family(b, name, type, help);
	prom_sample(b, name, value, (const char *)NULL);
}

/* ---- Histogram ----------------------------------------------------------------- */

void prom_hist_init(struct prom_hist *h)
{
	for (size_t i = 0; i <= PROM_HIST_BUCKETS; i++)
		atomic_init(&h->counts[i], 0);
	atomic_init(&h->sum_us, 0);
}

void prom_hist_observe(struct prom_hist *h, int64_t us)
{
	if (us < 0)
		us = 0;
	size_t i = 0;
	while (i < PROM_HIST_BUCKETS && us > prom_hist_bounds_us[i])
		i++;
	atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, (uint64_t)us, memory_order_relaxed);
}

uint64_t prom_hist_count(const struct prom_hist *h)
{
	uint64_t n = 0;
	for (size_t i = 0; i <= PROM_HIST_BUCKETS; i++)
		n += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
	return n;
}

uint64_t prom_hist_sum_us(const struct prom_hist *h)
{
	return atomic_load_explicit(&h->sum_us, memory_order_relaxed);
}

void prom_hist_write(const struct prom_hist *h, struct buf *b, const char *name, const char *lname,
		     const char *lvalue)
{
	uint64_t cum = 0;
	char le[32];

	for (size_t i = 0; i <= PROM_HIST_BUCKETS; i++) {
		cum += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
		if (i < PROM_HIST_BUCKETS)
			snprintf(le, sizeof le, "%g", (double)prom_hist_bounds_us[i] / 1e6);
		else
			snprintf(le, sizeof le, "+Inf");
		buf_printf(b, "%s_bucket{", name);
		if (lname) {
			buf_printf(b, "%s=\"", lname);
			prom_escape_label(b, lvalue);
			buf_puts(b, "\",");
		}
		buf_printf(b, "le=\"%s\"} %" PRIu64 "\n", le, cum);
	}
	/* _count is the +Inf bucket, so the two always agree. */
	char sum_name[160], count_name[160];
	snprintf(sum_name, sizeof sum_name, "%s_sum", name);
	snprintf(count_name, sizeof count_name, "%s_count", name);
	double sum = (double)prom_hist_sum_us(h) / 1e6;
	if (lname) {
		prom_sample(b, sum_name, sum, lname, lvalue, (const char *)NULL);
		prom_sample(b, count_name, (double)cum, lname, lvalue, (const char *)NULL);
	} else {
		prom_sample(b, sum_name, sum, (const char *)NULL);
		prom_sample(b, count_name, (double)cum, (const char *)NULL);
	}
}

/* ---- Operations ------------------------------------------------------------------ */

struct prom_ops {
	const char *const *names;
	size_t nnames;
	const char *const *outcomes;
	size_t noutcomes;
	atomic_uint_fast64_t *counts; /* nnames x noutcomes */
	struct prom_hist *hists;      /* one per name */
};

struct prom_ops *prom_ops_new(const char *const *names, size_t nnames, const char *const *outcomes,
			      size_t noutcomes)
{
	struct prom_ops *o = xcalloc(1, sizeof *o);
	o->names = names;
	o->nnames = nnames;
	o->outcomes = outcomes;
	o->noutcomes = noutcomes;
	o->counts = xcalloc(nnames * noutcomes + 1, sizeof *o->counts);
	for (size_t i = 0; i < nnames * noutcomes; i++)
		atomic_init(&o->counts[i], 0);
	o->hists = xcalloc(nnames + 1, sizeof *o->hists);
	for (size_t i = 0; i < nnames; i++)
		prom_hist_init(&o->hists[i]);
	return o;
}

void prom_ops_free(struct prom_ops *o)
{
	if (!o)
		return;
	free(o->counts);
	free(o->hists);
	free(o);
}

void prom_ops_observe(struct prom_ops *o, size_t name, size_t outcome, int64_t duration_us)
{
	if (!o || name >= o->nnames || outcome >= o->noutcomes)
		return;
	atomic_fetch_add_explicit(&o->counts[name * o->noutcomes + outcome], 1,
				  memory_order_relaxed);
	prom_hist_observe(&o->hists[name], duration_us);
}

uint64_t prom_ops_count(const struct prom_ops *o, size_t name, size_t outcome)
{
	if (!o || name >= o->nnames || outcome >= o->noutcomes)
		return 0;
	return atomic_load_explicit(&o->counts[name * o->noutcomes + outcome],
				    memory_order_relaxed);
}

void prom_ops_write(const struct prom_ops *o, struct buf *b, const struct prom_ops_names *n)
{
	prom_family(b, n->counter, "counter", n->counter_help);
	for (size_t i = 0; i < o->nnames; i++)
		for (size_t j = 0; j < o->noutcomes; j++) {
			uint64_t c = prom_ops_count(o, i, j);
			if (c)
				prom_sample(b, n->counter, (double)c, n->name_label, o->names[i],
					    n->outcome_label, o->outcomes[j], (const char *)NULL);
		}
	prom_family(b, n->hist, "histogram", n->hist_help);
	for (size_t i = 0; i < o->nnames; i++)
		if (prom_hist_count(&o->hists[i]))
			prom_hist_write(&o->hists[i], b, n->hist, n->name_label, o->names[i]);
}
