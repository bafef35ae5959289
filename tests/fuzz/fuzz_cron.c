/*
 * fuzz_cron.c - libFuzzer target for the cron parser and the schedule search:
 * every input is one cron expression.  When it parses, it is matched against
 * a few times and its next due times are computed in UTC and in a zone with
 * DST (built from a POSIX TZ string, so no tz database is needed), around
 * DST transitions and at the ends of the time range.  It must never crash,
 * leak or hang, and every due time must be after the time asked about and
 * either match the expression in local time or be a DST jump (a skipped
 * local time runs at the jump).
 *
 * Built two ways: with clang -fsanitize=fuzzer to fuzz, and with a small
 * main() (replay.c) that runs the corpus under CTest.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/tz.h"
#include "domain/cron.h"
#include "domain/schedule.h"
#include "domain/task.h"

#define US INT64_C(1000000)

static const struct tz *dst_zone(void)
{
	static struct tz *z;

	if (!z && tz_parse_posix("EST5EDT,M3.2.0,M11.1.0", &z, NULL) != ERR_OK)
		abort();
	return z;
}

/* The invariant of schedule_next. */
static void check_due(const struct schedule *s, int64_t after_us, int64_t due_us)
{
	struct tm local;
	int64_t t = due_us / US, jump;

	if (due_us <= after_us || due_us % US != 0)
		abort();
	tz_to_local(s->tz, t, &local);
	if (cron_matches(&s->cron, &local))
		return;
	if (tz_prev_transition(s->tz, t, &jump) && jump == t)
		return;
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* 2025-03-09T06:30Z (just before New York's spring jump), 2025-11-02T05:30Z
	 * (before the fall back), 2100-02-28, 1969-12-31, and the ends of time. */
	static const int64_t starts[] = {
		INT64_C(1741501800) * US,
		INT64_C(1762061400) * US,
		INT64_C(4107456000) * US,
		-86400 * US,
		INT64_MAX - 1,
		INT64_MIN + 1,
	};
	char text[CRON_EXPR_MAX * 2 + 1];
	struct cron_expr c;
	struct schedule s;
	struct schedule_plan plan;
	struct tm tm;
	int64_t due;

	if (size > sizeof text - 1)
		size = sizeof text - 1;
	memcpy(text, data, size);
	text[size] = '\0';
	if (cron_parse(text, &c, NULL) != ERR_OK)
		return 0;

	memset(&tm, 0, sizeof tm);
	for (int i = 0; i < 4; i++) {
		tm.tm_min = i * 17 % 60;
		tm.tm_hour = i * 7 % 24;
		tm.tm_mday = 1 + i * 9 % 31;
		tm.tm_mon = i * 5 % 12;
		tm.tm_wday = i * 3 % 7;
		(void)cron_matches(&c, &tm);
	}

	memset(&s, 0, sizeof s);
	s.task_type = TASK_SCHEDULE;
	s.form = SCHEDULE_CRON;
	s.cron = c;
	for (int wild = 0; wild < 2; wild++) {
		s.cron_wild = wild;
		for (int zone = 0; zone < 2; zone++) {
			s.tz = zone ? dst_zone() : tz_utc();
			for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
				int64_t after = starts[i];

				for (int k = 0; k < 3; k++) {
					if (schedule_next(&s, after, &due, NULL) != ERR_OK)
						break;
					check_due(&s, after, due);
					after = due;
				}
			}
		}
	}
	s.missed_policy = SCHEDULE_MISSED_SKIP;
	(void)schedule_first_due(&s, starts[0], starts[0], starts[0] + 3 * 86400 * US, &plan, NULL);
	return 0;
}
