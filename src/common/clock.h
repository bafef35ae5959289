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

#include "err.h"

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

/*
 * The demo clock (`ambient demo` only).  The demo makes it "tomorrow, 07:59:50"
 * for every process of the demo so that the seed's 8 AM digest and 9 AM
 * reminder fire within a minute, without changing their schedules.  The
 * offset lives in a small shared file: the demo creates it
 * (clock_demo_create) and moves time forward in jumps (clock_demo_jump_to);
 * its children (`ambient serve`, `ambient feedback`) find the file in the
 * environment variable CLOCK_DEMO_ENV and follow every jump.
 *
 * It changes the wall time of the system clock (clock_system() and NULL)
 * only: wall = real time + offset.  Between jumps time runs at its normal
 * speed; monotonic time and fake clocks are never touched, so timeouts and
 * the tests are unaffected.  Without the variable nothing changes.  A
 * variable naming a missing or foreign file is reported once on stderr and
 * ignored.
 */
#define CLOCK_DEMO_ENV "AMBIENT_DEMO_CLOCK"

/* Create (or truncate) the offset file at path with offset 0 and make this
 * process follow it.  ERR_IO with the reason when it cannot be written. */
int clock_demo_create(const char *path, struct err *e);
/* Move the demo clock forward so that clock_wall_us(NULL) reads wall_us now
 * (jumps backward are ignored: time never goes back).  Only after
 * clock_demo_create; every process following the file sees it at once. */
void clock_demo_jump_to(int64_t wall_us);
/* The current offset of the wall clock from real time (0 without a demo
 * clock). */
int64_t clock_demo_offset(void);

#define CLOCK_ISO_MAX 64

/* "2025-06-20T21:03:24.283615Z" (UTC) into out[CLOCK_ISO_MAX]. */
void clock_format_utc(int64_t wall_us, char *out);
/* "2025-06-20T21:03:24.283615" in local time, the original's naive form. */
void clock_format_local(int64_t wall_us, char *out);
/* Parse an ISO-8601 date-time ("...Z", "+hh:mm" or naive local time) to
 * microseconds since the epoch.  Returns 0 on success, -1 on bad text. */
int clock_parse_iso(const char *s, int64_t *wall_us);

#endif
