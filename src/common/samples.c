/* samples.c - a ring of measurements and its percentiles. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "samples.h"
#include "xalloc.h"

void samples_add(struct samples *s, int64_t value)
{
	s->v[s->added % SAMPLES_MAX] = value < 0 ? 0 : value;
	s->added++;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

bool samples_percentiles(const struct samples *s, int64_t *p50, int64_t *p99)
{
	size_t n = s->added < SAMPLES_MAX ? s->added : SAMPLES_MAX;
	if (!n)
		return false;
	int64_t *copy = xmalloc(n * sizeof(*copy));
	memcpy(copy, s->v, n * sizeof(*copy));
	qsort(copy, n, sizeof(*copy), cmp_i64);
	*p50 = copy[n / 2];
	*p99 = copy[(n * 99) / 100];
	free(copy);
	return true;
}
