/*
 * samples.h - the last SAMPLES_MAX measurements (latencies, lags) and
 * their percentiles, for status reports.  Adding is O(1); percentiles sort
 * a copy, so call them only when publishing.  One thread at a time.
 */
#ifndef AMBIENT_SAMPLES_H
#define AMBIENT_SAMPLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SAMPLES_MAX 8192

struct samples {
	int64_t v[SAMPLES_MAX];
	size_t added; /* ever; the ring holds the last SAMPLES_MAX */
};

/* Record one value (negative values count as 0). */
void samples_add(struct samples *s, int64_t value);
/* The median and the 99th percentile of what the ring holds; false (and
 * the outputs untouched) when it is empty. */
bool samples_percentiles(const struct samples *s, int64_t *p50, int64_t *p99);

#endif
