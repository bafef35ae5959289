/*
 * uuid.h - RFC 9562 UUIDs as 36-character lowercase strings.
 *
 * v4 for random identifiers (task ids), v7 for event ids: its 48-bit
 * millisecond prefix makes ids sort by creation time, which keeps the store's
 * unique index append-friendly.  v7 ids from one process are strictly
 * increasing, also within one millisecond (RFC 9562 method 1, a counter in
 * rand_a).
 */
#ifndef AMBIENT_UUID_H
#define AMBIENT_UUID_H

#include <stdbool.h>

#include "clock.h"

#define UUID_STR_LEN 36

void uuid_v4(char out[UUID_STR_LEN + 1]);
void uuid_v7(struct clock *clk, char out[UUID_STR_LEN + 1]);

/* A version 8 UUID that is a function of name (its SHA-256): the id of an
 * event derived from others ("outcome of X"), so that recording it again
 * after a restart stores it once. */
void uuid_from_name(const char *name, char out[UUID_STR_LEN + 1]);

/* Any version, canonical 8-4-4-4-12 hex form (either case). */
bool uuid_valid(const char *s);

/* Fill buf with cryptographically secure random bytes (getrandom). */
void random_bytes(void *buf, unsigned long n);

#endif
