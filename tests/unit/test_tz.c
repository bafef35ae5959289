/*
 * test_tz.c - time zones read from the tz database: offsets, DST
 * transitions, far-future years through the POSIX footer rule, gaps and
 * folds, the POSIX TZ string parser, damaged files and the zone cache.
 *
 * Every test names its zones; none depends on the machine's zone ("local"
 * is set through tz_set_local, never through TZ).  Needs tzdata installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#include <cmocka.h>

#include "common/tz.h"

/* Seconds since the epoch of a UTC date-time. */
static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	return tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

static const struct tz *zone(const char *name)
{
	const struct tz *z = NULL;
	struct err e;

	err_clear(&e);
	if (tz_load(name, &z, &e) != ERR_OK)
		fail_msg("tz_load(%s): %s (is the tzdata package installed?)", name, e.msg);
	return z;
}

static struct tm wall(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return tm;
}

static int64_t from_local(const struct tz *z, int y, int mo, int d, int h, int mi, int policy)
{
	struct tm tm = wall(y, mo, d, h, mi, 0);

	return tz_from_local(z, &tm, policy);
}

/* Local time of t in z as "YYYY-MM-DD HH:MM:SS ABBR +off wday yday dst". */
static void local_text(const struct tz *z, int64_t t, char *out, size_t size)
{
	struct tm tm;

	tz_to_local(z, t, &tm);
	snprintf(out, size, "%04d-%02d-%02d %02d:%02d:%02d %s %+ld w%d y%d d%d", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_zone,
		 tm.tm_gmtoff, tm.tm_wday, tm.tm_yday, tm.tm_isdst);
}

#define assert_local(z, t, text)                                                                   \
	do {                                                                                       \
		char got_[128];                                                                    \
		local_text((z), (t), got_, sizeof got_);                                           \
		assert_string_equal(got_, (text));                                                 \
	} while (0)

/* ---- calendar ------------------------------------------------------------ */

static void test_calendar(void **state)
{
	int64_t y;
	int m, d;

	(void)state;
	assert_int_equal(tz_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(tz_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(tz_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(tz_days_from_civil(2025, 13, 1), tz_days_from_civil(2026, 1, 1));
	assert_int_equal(tz_days_from_civil(2025, 0, 1), tz_days_from_civil(2024, 12, 1));
	assert_int_equal(tz_days_from_civil(2025, 1, 32), tz_days_from_civil(2025, 2, 1));
	assert_int_equal(tz_weekday(0), 4); /* Thursday */
	assert_int_equal(tz_weekday(-1), 3);
	assert_int_equal(tz_weekday(tz_days_from_civil(2025, 3, 9)), 0); /* Sunday */
	assert_true(tz_is_leap_year(2000));
	assert_false(tz_is_leap_year(1900));
	assert_false(tz_is_leap_year(2100));
	assert_true(tz_is_leap_year(2024));
	assert_int_equal(tz_days_in_month(2024, 2), 29);
	assert_int_equal(tz_days_in_month(2025, 2), 28);
	assert_int_equal(tz_days_in_month(2025, 13), 0);
	for (int64_t days = -800000; days <= 800000; days += 997) {
		tz_civil_from_days(days, &y, &m, &d);
		assert_int_equal(tz_days_from_civil(y, m, d), days);
		assert_true(m >= 1 && m <= 12 && d >= 1 && d <= tz_days_in_month(y, m));
	}
}

/* ---- offsets ------------------------------------------------------------- */

static void test_utc(void **state)
{
	const struct tz *z = zone("UTC"), *etc = zone("Etc/UTC");

	(void)state;
	assert_ptr_equal(z, tz_utc());
	assert_string_equal(tz_name(z), "UTC");
	assert_string_equal(tz_name(etc), "Etc/UTC");
	assert_int_equal(tz_utc_offset(z, utc(2025, 7, 1, 0, 0, 0)), 0);
	assert_local(z, utc(2025, 6, 20, 21, 3, 24), "2025-06-20 21:03:24 UTC +0 w5 y170 d0");
	assert_local(etc, utc(2025, 6, 20, 21, 3, 24), "2025-06-20 21:03:24 UTC +0 w5 y170 d0");
	assert_local(z, -1, "1969-12-31 23:59:59 UTC +0 w3 y364 d0");
	assert_false(tz_is_dst(z, 0));
	int64_t w;
	assert_false(tz_next_transition(z, 0, &w));
	assert_int_equal(from_local(z, 2025, 3, 9, 2, 30, 0), utc(2025, 3, 9, 2, 30, 0));
}

static void test_new_york(void **state)
{
	const struct tz *z = zone("America/New_York");
	int64_t spring = utc(2025, 3, 9, 7, 0, 0), fall = utc(2025, 11, 2, 6, 0, 0), w;

	(void)state;
	assert_string_equal(tz_name(z), "America/New_York");
	assert_int_equal(tz_utc_offset(z, utc(2025, 1, 15, 12, 0, 0)), -18000);
	assert_int_equal(tz_utc_offset(z, utc(2025, 7, 1, 12, 0, 0)), -14400);
	assert_int_equal(tz_utc_offset(z, spring - 1), -18000);
	assert_int_equal(tz_utc_offset(z, spring), -14400);
	assert_int_equal(tz_utc_offset(z, fall - 1), -14400);
	assert_int_equal(tz_utc_offset(z, fall), -18000);
	assert_local(z, spring - 1, "2025-03-09 01:59:59 EST -18000 w0 y67 d0");
	assert_local(z, spring, "2025-03-09 03:00:00 EDT -14400 w0 y67 d1");
	assert_local(z, fall - 1, "2025-11-02 01:59:59 EDT -14400 w0 y305 d1");
	assert_local(z, fall, "2025-11-02 01:00:00 EST -18000 w0 y305 d0");
	assert_true(tz_next_transition(z, utc(2025, 1, 1, 0, 0, 0), &w));
	assert_int_equal(w, spring);
	assert_true(tz_next_transition(z, spring, &w));
	assert_int_equal(w, fall);
	assert_true(tz_prev_transition(z, fall, &w));
	assert_int_equal(w, fall);
	assert_true(tz_prev_transition(z, fall - 1, &w));
	assert_int_equal(w, spring);
	/* 1883: before the first transition, local mean time (LMT -4:56:02) */
	assert_int_equal(tz_utc_offset(z, utc(1850, 1, 1, 0, 0, 0)), -17762);
}

static void test_berlin(void **state)
{
	const struct tz *z = zone("Europe/Berlin");

	(void)state;
	assert_int_equal(tz_utc_offset(z, utc(2025, 3, 30, 0, 59, 59)), 3600);
	assert_int_equal(tz_utc_offset(z, utc(2025, 3, 30, 1, 0, 0)), 7200);
	assert_int_equal(tz_utc_offset(z, utc(2025, 10, 26, 0, 59, 59)), 7200);
	assert_int_equal(tz_utc_offset(z, utc(2025, 10, 26, 1, 0, 0)), 3600);
	assert_local(z, utc(2025, 3, 30, 1, 0, 0), "2025-03-30 03:00:00 CEST +7200 w0 y88 d1");
	assert_local(z, utc(2025, 10, 26, 1, 0, 0), "2025-10-26 02:00:00 CET +3600 w0 y298 d0");
	assert_local(z, utc(2024, 12, 31, 23, 30, 0), "2025-01-01 00:30:00 CET +3600 w3 y0 d0");
}

/* Lord Howe Island moves its clocks by 30 minutes: +10:30 / +11. */
static void test_lord_howe(void **state)
{
	const struct tz *z = zone("Australia/Lord_Howe");
	int64_t end = utc(2025, 4, 5, 15, 0, 0), start = utc(2025, 10, 4, 15, 30, 0);

	(void)state;
	assert_int_equal(tz_utc_offset(z, end - 1), 39600);
	assert_int_equal(tz_utc_offset(z, end), 37800);
	assert_int_equal(tz_utc_offset(z, start - 1), 37800);
	assert_int_equal(tz_utc_offset(z, start), 39600);
	assert_local(z, end - 1, "2025-04-06 01:59:59 +11 +39600 w0 y95 d1");
	assert_local(z, end, "2025-04-06 01:30:00 +1030 +37800 w0 y95 d0");
	assert_local(z, start, "2025-10-05 02:30:00 +11 +39600 w0 y277 d1");
}

static void test_kolkata(void **state)
{
	const struct tz *z = zone("Asia/Kolkata");
	int64_t w;

	(void)state;
	assert_int_equal(tz_utc_offset(z, utc(2025, 1, 1, 0, 0, 0)), 19800);
	assert_int_equal(tz_utc_offset(z, utc(2025, 7, 1, 0, 0, 0)), 19800);
	assert_local(z, utc(2025, 6, 30, 20, 0, 0), "2025-07-01 01:30:00 IST +19800 w2 y181 d0");
	assert_false(tz_next_transition(z, utc(2025, 1, 1, 0, 0, 0), &w));
	assert_int_equal(from_local(z, 2025, 3, 9, 9, 0, 0), utc(2025, 3, 9, 3, 30, 0));
	/* 1942-1945: war time, +06:30 */
	assert_int_equal(tz_utc_offset(z, utc(1943, 6, 1, 0, 0, 0)), 23400);
}

/* Far-future instants come from the footer's POSIX rule. */
static void test_far_future(void **state)
{
	const struct tz *ny = zone("America/New_York"), *ber = zone("Europe/Berlin");
	const struct tz *lhi = zone("Australia/Lord_Howe");
	int64_t w;

	(void)state;
	/* 2100: 14 March and 7 November are the second / first Sundays */
	assert_int_equal(tz_utc_offset(ny, utc(2100, 3, 14, 6, 59, 59)), -18000);
	assert_int_equal(tz_utc_offset(ny, utc(2100, 3, 14, 7, 0, 0)), -14400);
	assert_int_equal(tz_utc_offset(ny, utc(2100, 11, 7, 5, 59, 59)), -14400);
	assert_int_equal(tz_utc_offset(ny, utc(2100, 11, 7, 6, 0, 0)), -18000);
	assert_local(ny, utc(2100, 3, 14, 7, 0, 0), "2100-03-14 03:00:00 EDT -14400 w0 y72 d1");
	assert_true(tz_next_transition(ny, utc(2100, 1, 1, 0, 0, 0), &w));
	assert_int_equal(w, utc(2100, 3, 14, 7, 0, 0));
	assert_true(tz_prev_transition(ny, utc(2100, 6, 1, 0, 0, 0), &w));
	assert_int_equal(w, utc(2100, 3, 14, 7, 0, 0));
	/* 2400-03-26 is the last Sunday of March 2400 */
	assert_int_equal(tz_utc_offset(ber, utc(2400, 3, 26, 0, 59, 59)), 3600);
	assert_int_equal(tz_utc_offset(ber, utc(2400, 3, 26, 1, 0, 0)), 7200);
	assert_local(ber, utc(2400, 10, 29, 1, 0, 0), "2400-10-29 02:00:00 CET +3600 w0 y302 d0");
	/* Lord Howe, 2150: first Sunday of April is the 5th, of October the 4th */
	assert_int_equal(tz_utc_offset(lhi, utc(2150, 4, 4, 15, 0, 0)), 37800);
	assert_int_equal(tz_utc_offset(lhi, utc(2150, 4, 4, 14, 59, 59)), 39600);
	assert_int_equal(tz_utc_offset(lhi, utc(2150, 10, 3, 15, 30, 0)), 39600);
	/* 11 March 2300 is the second Sunday */
	assert_int_equal(from_local(ny, 2300, 3, 11, 2, 30, 0), utc(2300, 3, 11, 7, 0, 0));
	assert_int_equal(from_local(ny, 2300, 3, 4, 2, 30, 0), utc(2300, 3, 4, 7, 30, 0));
}

/* Since 2007 New York's table and footer must agree with the rule alone. */
static void test_table_matches_rule(void **state)
{
	const struct tz *ny = zone("America/New_York");
	struct tz *rule = NULL;
	struct err e;
	uint64_t x = 42;

	(void)state;
	assert_int_equal(tz_parse_posix("EST5EDT,M3.2.0,M11.1.0", &rule, &e), ERR_OK);
	for (int i = 0; i < 20000; i++) {
		int64_t t;

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		t = utc(2008, 1, 1, 0, 0, 0) + (int64_t)(x >> 33) % (int64_t)(392 * 365.25 * 86400);
		if (tz_utc_offset(ny, t) != tz_utc_offset(rule, t))
			fail_msg("offsets differ at %lld", (long long)t);
	}
	tz_free(rule);
}

/* ---- gaps and folds ------------------------------------------------------- */

static void test_gap_fold_new_york(void **state)
{
	const struct tz *z = zone("America/New_York");

	(void)state;
	/* 02:30 on 9 March 2025 does not exist */
	assert_int_equal(from_local(z, 2025, 3, 9, 2, 30, TZ_GAP_JUMP), utc(2025, 3, 9, 7, 0, 0));
	assert_int_equal(from_local(z, 2025, 3, 9, 2, 30, TZ_GAP_SHIFT), utc(2025, 3, 9, 7, 30, 0));
	assert_int_equal(from_local(z, 2025, 3, 9, 2, 0, TZ_GAP_JUMP), utc(2025, 3, 9, 7, 0, 0));
	assert_int_equal(from_local(z, 2025, 3, 9, 1, 59, TZ_GAP_JUMP), utc(2025, 3, 9, 6, 59, 0));
	assert_int_equal(from_local(z, 2025, 3, 9, 3, 0, TZ_GAP_JUMP), utc(2025, 3, 9, 7, 0, 0));
	/* 01:30 on 2 November 2025 happens twice */
	assert_int_equal(from_local(z, 2025, 11, 2, 1, 30, TZ_FOLD_FIRST),
			 utc(2025, 11, 2, 5, 30, 0));
	assert_int_equal(from_local(z, 2025, 11, 2, 1, 30, TZ_FOLD_SECOND),
			 utc(2025, 11, 2, 6, 30, 0));
	assert_int_equal(from_local(z, 2025, 11, 2, 1, 0, TZ_FOLD_SECOND),
			 utc(2025, 11, 2, 6, 0, 0));
	assert_int_equal(from_local(z, 2025, 11, 2, 2, 0, TZ_FOLD_FIRST),
			 utc(2025, 11, 2, 7, 0, 0));
	assert_int_equal(from_local(z, 2025, 11, 2, 0, 59, TZ_FOLD_SECOND),
			 utc(2025, 11, 2, 4, 59, 0));
	/* ordinary times: both policies agree */
	assert_int_equal(from_local(z, 2025, 7, 1, 12, 0, TZ_FOLD_FIRST),
			 utc(2025, 7, 1, 16, 0, 0));
	assert_int_equal(from_local(z, 2025, 7, 1, 12, 0, TZ_FOLD_SECOND | TZ_GAP_SHIFT),
			 utc(2025, 7, 1, 16, 0, 0));
}

static void test_gap_fold_berlin_lord_howe(void **state)
{
	const struct tz *ber = zone("Europe/Berlin"), *lhi = zone("Australia/Lord_Howe");

	(void)state;
	assert_int_equal(from_local(ber, 2025, 3, 30, 2, 30, 0), utc(2025, 3, 30, 1, 0, 0));
	assert_int_equal(from_local(ber, 2025, 3, 30, 2, 30, TZ_GAP_SHIFT),
			 utc(2025, 3, 30, 1, 30, 0));
	assert_int_equal(from_local(ber, 2025, 10, 26, 2, 30, TZ_FOLD_FIRST),
			 utc(2025, 10, 26, 0, 30, 0));
	assert_int_equal(from_local(ber, 2025, 10, 26, 2, 30, TZ_FOLD_SECOND),
			 utc(2025, 10, 26, 1, 30, 0));
	/* Lord Howe: 02:00-02:30 skipped on 5 October, 01:30-02:00 repeated on 6 April */
	assert_int_equal(from_local(lhi, 2025, 10, 5, 2, 15, 0), utc(2025, 10, 4, 15, 30, 0));
	assert_int_equal(from_local(lhi, 2025, 10, 5, 2, 15, TZ_GAP_SHIFT),
			 utc(2025, 10, 4, 15, 45, 0));
	assert_int_equal(from_local(lhi, 2025, 10, 5, 2, 30, 0), utc(2025, 10, 4, 15, 30, 0));
	assert_int_equal(from_local(lhi, 2025, 4, 6, 1, 45, TZ_FOLD_FIRST),
			 utc(2025, 4, 5, 14, 45, 0));
	assert_int_equal(from_local(lhi, 2025, 4, 6, 1, 45, TZ_FOLD_SECOND),
			 utc(2025, 4, 5, 15, 15, 0));
	assert_int_equal(from_local(lhi, 2025, 4, 6, 1, 29, TZ_FOLD_SECOND),
			 utc(2025, 4, 5, 14, 29, 0));
}

static void test_from_local_normalises(void **state)
{
	const struct tz *z = zone("Europe/Berlin");
	struct tm tm = wall(2025, 1, 32, 10, 0, 0); /* 32 January = 1 February */

	(void)state;
	assert_int_equal(tz_from_local(z, &tm, 0), utc(2025, 2, 1, 9, 0, 0));
	tm = wall(2025, 13, 1, 0, 0, 0); /* month 13 = January next year */
	assert_int_equal(tz_from_local(z, &tm, 0), utc(2025, 12, 31, 23, 0, 0));
	tm = wall(2025, 6, 1, 25, 61, 0);
	assert_int_equal(tz_from_local(z, &tm, 0), utc(2025, 6, 2, 0, 1, 0));
	/* round trip over a year of quarter hours in three zones */
	const char *names[] = {"America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"};
	for (int n = 0; n < 3; n++) {
		const struct tz *zz = zone(names[n]);

		for (int64_t t = utc(2025, 1, 1, 0, 0, 0); t < utc(2026, 1, 1, 0, 0, 0); t += 900) {
			struct tm l;

			tz_to_local(zz, t, &l);
			if (tz_from_local(zz, &l, TZ_FOLD_FIRST) != t &&
			    tz_from_local(zz, &l, TZ_FOLD_SECOND) != t)
				fail_msg("%s: %lld does not round-trip", names[n], (long long)t);
		}
	}
}

/* ---- POSIX TZ strings ------------------------------------------------------ */

static struct tz *posix(const char *s)
{
	struct tz *z = NULL;
	struct err e;

	err_clear(&e);
	if (tz_parse_posix(s, &z, &e) != ERR_OK)
		fail_msg("\"%s\" refused: %s", s, e.msg);
	return z;
}

static void test_posix_rules(void **state)
{
	struct tz *z;

	(void)state;
	/* Mm.w.d with a time after 24:00 (Israel: Thursday 26:00 = Friday 02:00) */
	z = posix("IST-2IDT,M3.4.4/26,M10.5.0");
	assert_int_equal(tz_utc_offset(z, utc(2025, 3, 27, 23, 59, 59)), 7200);
	assert_int_equal(tz_utc_offset(z, utc(2025, 3, 28, 0, 0, 0)), 10800);
	assert_local(z, utc(2025, 3, 28, 0, 0, 0), "2025-03-28 03:00:00 IDT +10800 w5 y86 d1");
	tz_free(z);
	/* negative rule times and quoted names (Greenland) */
	z = posix("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
	assert_int_equal(tz_utc_offset(z, utc(2025, 3, 30, 0, 59, 59)), -7200);
	assert_int_equal(tz_utc_offset(z, utc(2025, 3, 30, 1, 0, 0)), -3600);
	assert_local(z, utc(2025, 7, 1, 0, 0, 0), "2025-06-30 23:00:00 -01 -3600 w1 y180 d1");
	tz_free(z);
	/* Jn never counts 29 February: J60 is 1 March, leap year or not */
	z = posix("AAA3BBB,J60/2,J300");
	assert_int_equal(tz_utc_offset(z, utc(2024, 3, 1, 4, 59, 59)), -10800);
	assert_int_equal(tz_utc_offset(z, utc(2024, 3, 1, 5, 0, 0)), -7200);
	assert_int_equal(tz_utc_offset(z, utc(2025, 3, 1, 5, 0, 0)), -7200);
	tz_free(z);
	/* n counts from 0 and counts 29 February: day 59 is 29 Feb in 2024 */
	z = posix("XXX-5YYY,59,300/1:30");
	assert_int_equal(tz_utc_offset(z, utc(2024, 2, 28, 20, 59, 59)), 18000);
	assert_int_equal(tz_utc_offset(z, utc(2024, 2, 28, 21, 0, 0)), 21600);
	assert_int_equal(tz_utc_offset(z, utc(2025, 2, 28, 21, 0, 0)), 21600);
	assert_int_equal(tz_utc_offset(z, utc(2025, 2, 27, 21, 0, 0)), 18000);
	tz_free(z);
	/* RFC 8536's all-year DST */
	z = posix("EST5EDT,0/0,J365/25");
	for (int64_t t = utc(2024, 12, 31, 0, 0, 0); t < utc(2025, 1, 2, 0, 0, 0); t += 1800)
		assert_int_equal(tz_utc_offset(z, t), -14400);
	int64_t w;
	assert_false(tz_next_transition(z, utc(2025, 1, 1, 0, 0, 0), &w));
	tz_free(z);
	/* no rule: the US rules; no DST at all; a fixed half-hour zone */
	z = posix("EST5EDT");
	assert_int_equal(tz_utc_offset(z, utc(2025, 3, 9, 7, 0, 0)), -14400);
	assert_int_equal(tz_utc_offset(z, utc(2025, 3, 9, 6, 59, 59)), -18000);
	tz_free(z);
	z = posix("<+0530>-5:30");
	assert_int_equal(tz_utc_offset(z, 0), 19800);
	assert_local(z, 0, "1970-01-01 05:30:00 +0530 +19800 w4 y0 d0");
	assert_false(tz_next_transition(z, 0, &w));
	tz_free(z);
	/* southern hemisphere: DST across the new year */
	z = posix("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0");
	assert_int_equal(tz_utc_offset(z, utc(2025, 1, 1, 0, 0, 0)), 39600);
	assert_int_equal(tz_utc_offset(z, utc(2025, 6, 1, 0, 0, 0)), 37800);
	assert_int_equal(tz_utc_offset(z, utc(2025, 4, 5, 15, 0, 0)), 37800);
	assert_int_equal(tz_utc_offset(z, utc(2025, 10, 4, 15, 30, 0)), 39600);
	tz_free(z);
}

static void test_posix_errors(void **state)
{
	static const char *const bad[] = {
		"",
		"EST",
		"5EST",
		"ES5",
		"EST25",
		"EST5EDT,M13.1.0,M11.1.0",
		"EST5EDT,M3.6.0,M11.1.0",
		"EST5EDT,M3.2.7,M11.1.0",
		"EST5EDT,M3.2.0",
		"EST5EDT,M3.2.0,",
		"EST5EDT,J0,J100",
		"EST5EDT,366,J100",
		"EST5EDT,M3.2.0/168,M11.1.0",
		"EST5EDT,M3.2.0,M11.1.0x",
		"EST5:60",
		"<AB>5",
		"<ABC5",
		"EST5EDT;M3.2.0,M11.1.0",
	};
	struct tz *z;
	struct err e;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		z = NULL;
		err_clear(&e);
		if (tz_parse_posix(bad[i], &z, &e) != ERR_INVALID)
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_null(z);
		assert_non_null(strstr(e.msg, "POSIX TZ string"));
	}
	err_clear(&e);
	assert_int_equal(tz_parse_posix("EST5EDT,M3.2.0,M13.1.0", &z, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "at byte 16"));
	assert_non_null(strstr(e.msg, "month 1-12"));
}

/* ---- loading --------------------------------------------------------------- */

static void test_load_errors(void **state)
{
	const struct tz *z = NULL;
	struct err e;

	(void)state;
	err_clear(&e);
	assert_int_equal(tz_load("Europe/Berln", &z, &e), ERR_NOT_FOUND);
	assert_non_null(strstr(e.msg, "\"Europe/Berln\""));
	assert_non_null(strstr(e.msg, "\"Europe/Berlin\""));
	assert_null(z);
	static const char *const invalid[] = {
		"../etc/passwd", "/etc/passwd",    "Europe/../../etc", "Europe//Berlin", "Europe/",
		"./UTC",         "Europe/.hidden", "Europe/Ber lin",   "Asia/$(id)"};
	for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
		err_clear(&e);
		if (tz_load(invalid[i], &z, &e) != ERR_INVALID)
			fail_msg("\"%s\" was not refused as invalid", invalid[i]);
		assert_non_null(strstr(e.msg, "not a valid time zone name"));
	}
	char longname[400];
	memset(longname, 'A', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	assert_int_equal(tz_load(longname, &z, &e), ERR_INVALID);
	/* a directory and a text file of the database are not zones */
	err_clear(&e);
	assert_int_equal(tz_load("America", &z, &e), ERR_NOT_FOUND);
	assert_non_null(strstr(e.msg, "not a time zone"));
	err_clear(&e);
	assert_int_equal(tz_load("zone.tab", &z, &e), ERR_NOT_FOUND);
	assert_non_null(strstr(e.msg, "not a time zone"));
	/* leap-second zones are refused with a way out */
	err_clear(&e);
	if (tz_load("right/UTC", &z, &e) != ERR_NOT_FOUND) { /* Debian ships them */
		assert_int_equal(e.code, ERR_INVALID);
		assert_non_null(strstr(e.msg, "right/"));
	}
}

static void test_cache(void **state)
{
	const struct tz *a = zone("Europe/Berlin"), *b = zone("Europe/Berlin");

	(void)state;
	assert_ptr_equal(a, b);
	assert_ptr_not_equal(a, zone("Europe/Paris"));
	/* GMT and Etc/GMT are zones too */
	assert_int_equal(tz_utc_offset(zone("Etc/GMT+5"), 0), -18000); /* POSIX sign */
	assert_int_equal(tz_utc_offset(zone("GMT"), 0), 0);
}

struct loader {
	const struct tz *got[3];
};

static void *load_many(void *arg)
{
	struct loader *l = arg;
	static const char *const names[] = {"Asia/Tokyo", "America/Chicago", "Europe/Madrid"};

	for (int i = 0; i < 200; i++)
		for (int n = 0; n < 3; n++) {
			const struct tz *z = NULL;

			if (tz_load(names[n], &z, NULL) != ERR_OK)
				return NULL;
			if (l->got[n] && l->got[n] != z)
				return NULL;
			l->got[n] = z;
		}
	return l;
}

static void test_cache_threads(void **state)
{
	pthread_t th[4];
	struct loader l[4];
	void *res;

	(void)state;
	memset(l, 0, sizeof l);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, load_many, &l[i]), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &res), 0);
		assert_ptr_equal(res, &l[i]);
	}
	for (int i = 1; i < 4; i++)
		for (int n = 0; n < 3; n++)
			assert_ptr_equal(l[i].got[n], l[0].got[n]);
	assert_int_equal(tz_utc_offset(l[0].got[0], 0), 32400);
}

static void test_local(void **state)
{
	const struct tz *z = NULL, *named;
	struct err e;

	(void)state;
	assert_int_equal(tz_set_local("Asia/Kolkata", &e), ERR_OK);
	assert_int_equal(tz_load(NULL, &z, &e), ERR_OK);
	named = zone("Asia/Kolkata");
	assert_ptr_equal(z, named);
	assert_int_equal(tz_load("", &z, &e), ERR_OK);
	assert_ptr_equal(z, named);
	assert_int_equal(tz_load("local", &z, &e), ERR_OK);
	assert_ptr_equal(z, named);
	assert_string_equal(tz_name(z), "Asia/Kolkata");
	/* ":name" and POSIX strings, as TZ takes them */
	assert_int_equal(tz_set_local(":Europe/Berlin", &e), ERR_OK);
	assert_int_equal(tz_load(NULL, &z, &e), ERR_OK);
	assert_ptr_equal(z, zone("Europe/Berlin"));
	assert_int_equal(tz_set_local("CET-1CEST,M3.5.0,M10.5.0/3", &e), ERR_OK);
	assert_int_equal(tz_load(NULL, &z, &e), ERR_OK);
	assert_int_equal(tz_utc_offset(z, utc(2025, 7, 1, 0, 0, 0)), 7200);
	assert_int_equal(tz_set_local("/usr/share/zoneinfo/America/New_York", &e), ERR_OK);
	assert_int_equal(tz_load(NULL, &z, &e), ERR_OK);
	assert_int_equal(tz_utc_offset(z, utc(2025, 7, 1, 0, 0, 0)), -14400);
	assert_string_equal(tz_name(z), "America/New_York");
	/* a failure keeps the previous local zone */
	err_clear(&e);
	assert_int_equal(tz_set_local("Nowhere/Atlantis", &e), ERR_NOT_FOUND);
	assert_int_equal(tz_load(NULL, &z, &e), ERR_OK);
	assert_int_equal(tz_utc_offset(z, utc(2025, 7, 1, 0, 0, 0)), -14400);
	/* back to the machine's zone, whatever it is */
	assert_int_equal(tz_set_local(NULL, &e), ERR_OK);
	assert_int_equal(tz_load(NULL, &z, &e), ERR_OK);
	assert_non_null(z);
}

/* ---- TZif parsing ------------------------------------------------------------ */

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;

	if (!f)
		fail_msg("cannot open %s", path);
	buf = malloc(1 << 16);
	*len = fread(buf, 1, 1 << 16, f);
	fclose(f);
	return buf;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = v;
}

/* A version 1 file: two transitions, two types. */
static size_t make_v1(uint8_t *b)
{
	size_t n = 44;

	memset(b, 0, 44);
	memcpy(b, "TZif", 4);
	put32(b + 32, 2); /* timecnt */
	put32(b + 36, 2); /* typecnt */
	put32(b + 40, 8); /* charcnt */
	put32(b + n, 1000000), n += 4;
	put32(b + n, 2000000), n += 4;
	b[n++] = 1, b[n++] = 0;
	put32(b + n, (uint32_t)-18000), n += 4; /* type 0: AAA, -5 */
	b[n++] = 0, b[n++] = 0;
	put32(b + n, (uint32_t)-14400), n += 4; /* type 1: BBB, -4, DST */
	b[n++] = 1, b[n++] = 4;
	memcpy(b + n, "AAA\0BBB\0", 8), n += 8;
	return n;
}

static void test_tzif(void **state)
{
	uint8_t b[200], *file;
	size_t n = make_v1(b), len;
	struct tz *z = NULL;
	struct err e;

	(void)state;
	assert_int_equal(tz_parse_tzif(b, n, "v1", &z, &e), ERR_OK);
	assert_string_equal(tz_name(z), "v1");
	assert_int_equal(tz_utc_offset(z, 0), -18000); /* before the first: type 0 */
	assert_int_equal(tz_utc_offset(z, 1000000), -14400);
	assert_true(tz_is_dst(z, 1500000));
	assert_int_equal(tz_utc_offset(z, 2000000), -18000);
	assert_int_equal(tz_utc_offset(z, 90000000), -18000); /* no footer: the last type */
	tz_free(z);

	/* damage: type index out of range, transitions out of order, truncation */
	b[52] = 2;
	assert_int_equal(tz_parse_tzif(b, n, "bad", &z, &e), ERR_CORRUPT);
	assert_non_null(strstr(e.msg, "damaged"));
	b[52] = 1;
	put32(b + 48, 999999);
	assert_int_equal(tz_parse_tzif(b, n, "bad", &z, &e), ERR_CORRUPT);
	put32(b + 48, 2000000);
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(tz_parse_tzif(b, cut, "cut", &z, &e), ERR_CORRUPT);
	b[4] = '1'; /* no such version */
	assert_int_equal(tz_parse_tzif(b, n, "bad", &z, &e), ERR_CORRUPT);

	/* a real v2+ file: every prefix fails cleanly, the whole works */
	file = slurp("/usr/share/zoneinfo/America/New_York", &len);
	for (size_t cut = 0; cut < len; cut += (cut < 100 || len - cut < 100) ? 1 : 37) {
		z = NULL;
		if (tz_parse_tzif(file, cut, "cut", &z, &e) == ERR_OK)
			fail_msg("a file cut at %zu of %zu bytes parsed", cut, len);
	}
	assert_int_equal(tz_parse_tzif(file, len, "ny", &z, &e), ERR_OK);
	assert_int_equal(tz_utc_offset(z, utc(2025, 7, 1, 0, 0, 0)), -14400);
	tz_free(z);
	/* a damaged footer */
	assert_int_equal(file[len - 1], '\n');
	file[len - 3] = '!';
	assert_int_equal(tz_parse_tzif(file, len, "ny", &z, &e), ERR_CORRUPT);
	assert_non_null(strstr(e.msg, "POSIX TZ string"));
	free(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_calendar),
		cmocka_unit_test(test_utc),
		cmocka_unit_test(test_new_york),
		cmocka_unit_test(test_berlin),
		cmocka_unit_test(test_lord_howe),
		cmocka_unit_test(test_kolkata),
		cmocka_unit_test(test_far_future),
		cmocka_unit_test(test_table_matches_rule),
		cmocka_unit_test(test_gap_fold_new_york),
		cmocka_unit_test(test_gap_fold_berlin_lord_howe),
		cmocka_unit_test(test_from_local_normalises),
		cmocka_unit_test(test_posix_rules),
		cmocka_unit_test(test_posix_errors),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_cache_threads),
		cmocka_unit_test(test_local),
		cmocka_unit_test(test_tzif),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	tz_cache_free();
	return rc;
}
