/*
 * ratelimit.h - sliding-window rate limits keyed by strings ("principal
 * tool"), in memory.
 *
 * Each key keeps the times of its calls in the window (a ring of at most
 * `limit` entries), so "N per hour" means exactly that over any hour, not
 * per calendar hour.  When a key is over its limit, the answer says when
 * the oldest call leaves the window: the retry time.
 *
 * Threads: all calls may come from any thread (one mutex).  Keys idle for a
 * whole window are dropped when the table grows.
 */
#ifndef AMBIENT_COMMON_RATELIMIT_H
#define AMBIENT_COMMON_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit;

/* CONSTRUCTOR: window_us is the length of the window (an hour: 3.6e9). */
struct ratelimit *ratelimit_new(int64_t window_us);
void ratelimit_free(struct ratelimit *r); /* NULL is fine */

/* Count one call of `key` at now_us if it is within `limit` calls per
 * window and return true; else return false and set *retry_after_us (may be
 * NULL) to how long until a call is allowed again.  limit <= 0: unlimited. */
bool ratelimit_take(struct ratelimit *r, const char *key, int limit, int64_t now_us,
		    int64_t *retry_after_us);

/* Calls of key in the window ending at now_us (for status reports). */
int ratelimit_count(struct ratelimit *r, const char *key, int64_t now_us);

#endif
