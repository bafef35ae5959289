/*
 * prom.h - the Prometheus text exposition format (version 0.0.4): writing
 * metric families and samples into a buffer, and two collectors cheap
 * enough for a request path.
 *
 *   prom_family(b, "x_total", "counter", "Things done.");
 *   prom_sample(b, "x_total", 3, "kind", "a", NULL);     x_total{kind="a"} 3
 *   prom_metric(b, "x_up", "gauge", "1 when up.", 1);    header and one sample
 *
 * Label values are escaped (\\, \", \n); names are the caller's constants.
 * Values print as integers when they are whole, "+Inf"/"-Inf"/"NaN" else
 * %.15g.
 *
 * struct prom_hist is a fixed-bucket latency histogram in microseconds,
 * written in seconds; struct prom_ops counts operations by name and
 * outcome, with one histogram per name.  Both use relaxed atomics only: an
 * observation costs a few atomic adds, no lock and no allocation.  Names and
 * outcomes are fixed when a prom_ops is made, so label cardinality is
 * bounded by construction: callers map anything unknown to a catch-all
 * name such as "other".
 */
#ifndef AMBIENT_PROM_H
#define AMBIENT_PROM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* "# HELP name help\n# TYPE name type\n" (help escaped). */
void prom_family(struct buf *b, const char *name, const char *type, const char *help);

/* One sample line: name{k1="v1",...} value.  The variable arguments are
 * label name and value pairs (const char *), ended by NULL. */
void prom_sample(struct buf *b, const char *name, double value, ...) __attribute__((sentinel));

/* A family with one unlabelled sample. */
void prom_metric(struct buf *b, const char *name, const char *type, const char *help, double value);

/* Append a label value escaped for the format. */
void prom_escape_label(struct buf *b, const char *value);

/* ---- Latency histogram ------------------------------------------------------ */

/* Upper bounds in microseconds: 0.1, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250,
 * 500, 1000, 2500 ms; a last bucket takes the rest (+Inf). */
#define PROM_HIST_BUCKETS 13
extern const int64_t prom_hist_bounds_us[PROM_HIST_BUCKETS];

struct prom_hist {
	atomic_uint_fast64_t counts[PROM_HIST_BUCKETS + 1]; /* per bucket, not cumulative */
	atomic_uint_fast64_t sum_us;
};

/* Zeroed memory is an empty histogram; so is this. */
void prom_hist_init(struct prom_hist *h);
void prom_hist_observe(struct prom_hist *h, int64_t us);
/* Totals as observed: count (the +Inf bucket) and sum in microseconds. */
uint64_t prom_hist_count(const struct prom_hist *h);
uint64_t prom_hist_sum_us(const struct prom_hist *h);
/* The _bucket, _sum and _count samples of `name` (without the family
 * header), with an optional label pair (lname NULL: none).  le is in seconds. */
void prom_hist_write(const struct prom_hist *h, struct buf *b, const char *name, const char *lname,
		     const char *lvalue);

/* ---- Operations by name and outcome ------------------------------------------ */

struct prom_ops;

/* CONSTRUCTOR.  The name and outcome arrays and their strings are borrowed
 * (static tables) and must outlive the collector. */
struct prom_ops *prom_ops_new(const char *const *names, size_t nnames, const char *const *outcomes,
			      size_t noutcomes);
/* DESTRUCTOR.  NULL is fine. */
void prom_ops_free(struct prom_ops *o);

/* Count one operation; indexes out of range are ignored. */
void prom_ops_observe(struct prom_ops *o, size_t name, size_t outcome, int64_t duration_us);
uint64_t prom_ops_count(const struct prom_ops *o, size_t name, size_t outcome);

/* Two families: `counter` (a counter labelled name_label and outcome_label;
 * pairs never seen are left out) and `hist` (a histogram in seconds labelled
 * name_label; names never seen are left out). */
struct prom_ops_names {
	const char *counter, *counter_help;
	const char *hist, *hist_help;
	const char *name_label, *outcome_label;
};
void prom_ops_write(const struct prom_ops *o, struct buf *b, const struct prom_ops_names *n);

#endif
