/*
 * ratelimit.c - sliding windows of call times per key (see ratelimit.h).
 *
 * An open-addressing table would be faster; a chained hash with FNV-1a is
 * plenty for the call rates of tools and keeps removal simple.
 */
#include "ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

#define BUCKETS 1024
#define SWEEP_AT 4096 /* entries before idle keys are dropped */

struct entry {
	struct entry *next;
	char *key;
	int64_t *times; /* ring of call times, oldest at head */
	int cap, head, n;
	int64_t last_us;
};

struct ratelimit {
	pthread_mutex_t mu;
	int64_t window_us;
	size_t count;
	struct entry *b[BUCKETS];
};

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

struct ratelimit *ratelimit_new(int64_t window_us)
{
	struct ratelimit *r = xcalloc(1, sizeof *r);
	pthread_mutex_init(&r->mu, NULL);
	r->window_us = window_us > 0 ? window_us : 1;
	return r;
}

static void entry_free(struct entry *en)
{
	free(en->key);
	free(en->times);
	free(en);
}

void ratelimit_free(struct ratelimit *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < BUCKETS; i++)
		while (r->b[i]) {
			struct entry *next = r->b[i]->next;
			entry_free(r->b[i]);
			r->b[i] = next;
		}
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* Drop the times that left the window. */
static void expire(struct ratelimit *r, struct entry *en, int64_t now_us)
{
	while (en->n && en->times[en->head] <= now_us - r->window_us) {
		en->head = (en->head + 1) % en->cap;
		en->n--;
	}
}

static void sweep(struct ratelimit *r, int64_t now_us)
{
	for (size_t i = 0; i < BUCKETS; i++) {
		struct entry **pp = &r->b[i];
		while (*pp) {
			if ((*pp)->last_us <= now_us - r->window_us) {
				struct entry *dead = *pp;
				*pp = dead->next;
				entry_free(dead);
				r->count--;
			} else {
				pp = &(*pp)->next;
			}
		}
	}
}

static struct entry *find(struct ratelimit *r, const char *key, bool create)
{
	struct entry **pp = &r->b[fnv1a(key) % BUCKETS];
	for (struct entry *en = *pp; en; en = en->next)
		if (strcmp(en->key, key) == 0)
			return en;
	if (!create)
		return NULL;
	struct entry *en = xcalloc(1, sizeof *en);
	en->key = xstrdup(key);
	en->next = *pp;
	*pp = en;
	r->count++;
	return en;
}

bool ratelimit_take(struct ratelimit *r, const char *key, int limit, int64_t now_us,
		    int64_t *retry_after_us)
{
	bool ok;

	if (retry_after_us)
		*retry_after_us = 0;
	if (limit <= 0)
		return true;
	pthread_mutex_lock(&r->mu);
	if (r->count >= SWEEP_AT)
		sweep(r, now_us);
	struct entry *en = find(r, key, true);
	expire(r, en, now_us);
	if (en->cap < limit) { /* (re)size the ring, keeping order */
		int64_t *t = xcalloc((size_t)limit, sizeof *t);
		for (int i = 0; i < en->n; i++)
			t[i] = en->times[(en->head + i) % en->cap];
		free(en->times);
		en->times = t;
		en->cap = limit;
		en->head = 0;
	}
	/* a limit lowered since: only the newest `limit` calls count */
	while (en->n > limit) {
		en->head = (en->head + 1) % en->cap;
		en->n--;
	}
	ok = en->n < limit;
	if (ok) {
		en->times[(en->head + en->n) % en->cap] = now_us;
		en->n++;
		en->last_us = now_us;
	} else if (retry_after_us) {
		*retry_after_us = en->times[en->head] + r->window_us - now_us;
	}
	pthread_mutex_unlock(&r->mu);
	return ok;
}

int ratelimit_count(struct ratelimit *r, const char *key, int64_t now_us)
{
	int n = 0;
	pthread_mutex_lock(&r->mu);
	struct entry *en = find(r, key, false);
	if (en) {
		expire(r, en, now_us);
		n = en->n;
	}
	pthread_mutex_unlock(&r->mu);
	return n;
}
