/*
 * cron.h - five-field cron expressions (Vixie/cronie dialect), pure.
 *
 * An expression is parsed once into bitsets; matching a local time is then a
 * handful of bit tests.  The dialect is the one of crontab(5):
 *
 *   minute hour day-of-month month day-of-week
 *   0-59   0-23 1-31         1-12  0-7 (0 and 7 are Sunday)
 *
 * Each field is a list of items separated by ',': `*`, a value, a range
 * `a-b`, each optionally followed by a step `/n`; `a/n` means `a-<max>/n`.
 * Months and weekdays also take three-letter names (JAN..DEC, SUN..SAT, any
 * case), also in ranges (MON-FRI).  Macros: @yearly @annually @monthly
 * @weekly @daily @midnight @hourly.  Not supported, with an error that says
 * so: @reboot, seconds or year fields, Quartz's ? L W #, CRON_TZ= prefixes
 * (the task config has its own "timezone").
 *
 * Days follow Vixie's rule: when both day-of-month and day-of-week are
 * restricted (their field does not start with '*'), a day matches when
 * EITHER matches; otherwise both must match.  So "0 0 1,15 * MON" runs on
 * the 1st, the 15th and every Monday, while "0 0 * * MON" runs on Mondays.
 */
#ifndef AMBIENT_DOMAIN_CRON_H
#define AMBIENT_DOMAIN_CRON_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"

/* Longest expression accepted, in bytes. */
#define CRON_EXPR_MAX 256

struct cron_expr {
	uint64_t minute;     /* bit m: minute m, 0-59 */
	uint32_t hour;       /* bit h: hour h, 0-23 */
	uint32_t dom;        /* bit d: day of month d, 1-31 */
	uint16_t month;      /* bit m: month m, 1-12 (January = 1) */
	uint8_t dow;         /* bit w: weekday w, 0-6 (Sunday = 0; 7 folded into 0) */
	bool dom_restricted; /* day-of-month field did not start with '*' */
	bool dow_restricted; /* day-of-week field did not start with '*' */
};

/* Parse `expr` into *out.  Returns ERR_OK, or ERR_INVALID with a message
 * naming the field and its allowed range, e.g. "cron field 2 (hour) value 24
 * is out of range 0-23".  Expressions that can never fire ("0 0 30 2 *")
 * are rejected too.  *out is only written on success. */
int cron_parse(const char *expr, struct cron_expr *out, struct err *e);

/* Whether the minute described by the tm fields (tm_min, tm_hour, tm_mday,
 * tm_mon, tm_wday; seconds and the rest are ignored) matches.  The caller
 * converts to the task's time zone first. */
bool cron_matches(const struct cron_expr *c, const struct tm *local_tm);

/* Whether a whole day may match (day-of-month 1-31, month 1-12, weekday
 * 0-6), for schedulers that skip days without a match. */
bool cron_day_matches(const struct cron_expr *c, int mday, int month, int wday);

#endif
