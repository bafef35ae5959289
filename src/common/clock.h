/*
 * clock.h - wall and monotonic time behind an injectable clock.
 *
 * Code that needs "now" takes a `struct clock *`; production passes
 * clock_system(), tests pass a fake clock they move by hand, so tests of days,
 * intervals and DST run in microseconds without sleeping.
 */
#ifndef AMBIENT_CLOCK_H
#define AMBIENT_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct clock {
	bool fake;
	int64_t fake_wall_us; /* used when fake */
	int64_t fake_mono_us;
};

/* The process-wide real clock. */
struct clock *clock_system(void);

/* A fake clock starting at wall time `wall_us` (monotonic starts at 0). */
void clock_fake_init(struct clock *c, int64_t wall_us);
/* Move a fake clock forward (both wall and monotonic). */
void clock_fake_advance(struct clock *c, int64_t us);
/* Set a fake clock's wall time only (like an NTP step); monotonic unchanged. */
void clock_fake_set_wall(struct clock *c, int64_t wall_us);

int64_t clock_wall_us(struct clock *c); /* microseconds since the Unix epoch */
int64_t clock_mono_us(struct clock *c); /* microseconds, never goes back */

#define CLOCK_ISO_MAX 64

/* "2025-06-20T21:03:24.283615Z" (UTC) into out[CLOCK_ISO_MAX]. */
void clock_format_utc(int64_t wall_us, char *out);
/* "2025-06-20T21:03:24.283615" in local time, the original's naive form. */
void clock_format_local(int64_t wall_us, char *out);
/* Parse an ISO-8601 date-time ("...Z", "+hh:mm" or naive local time) to
 * microseconds since the epoch.  Returns 0 on success, -1 on bad text. */
int clock_parse_iso(const char *s, int64_t *wall_us);

#endif
