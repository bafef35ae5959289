/*
 * test_schedule.c - due times of every schedule form and task type: next-due
 * sequences across DST in New York, Berlin and Lord Howe (a 30-minute
 * shift), Kolkata (+05:30), cron's Vixie day rule, names, steps and macros,
 * once schedules, missed runs after a simulated 3-day downtime, and jitter.
 *
 * Zones are always named (or "local" is set with tz_set_local), so the
 * machine's own zone does not matter.  Expected instants are written in UTC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/tz.h"
#include "domain/schedule.h"
#include "domain/task.h"

#define US INT64_C(1000000)
#define MIN (60 * US)
#define HOUR (3600 * US)
#define DAYS (86400 * US)

/* Microseconds since the epoch of a UTC date-time. */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
	return (tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60) * US;
}

static const struct tz *zone(const char *name)
{
	const struct tz *z = NULL;
	struct err e;

	if (tz_load(name, &z, &e) != ERR_OK)
		fail_msg("tz_load(%s): %s (is the tzdata package installed?)", name, e.msg);
	return z;
}

/* A schedule from a config written as JSON; its "timezone" is loaded. */
static struct schedule make(int type, const char *json)
{
	json_error_t je;
	json_t *cfg = json_loads(json, 0, &je);
	struct schedule s;
	struct err e;

	if (!cfg)
		fail_msg("bad test JSON %s: %s", json, je.text);
	err_clear(&e);
	if (schedule_from_config(type, cfg, zone(schedule_zone_name(cfg)), &s, &e) != ERR_OK)
		fail_msg("%s refused: %s", json, e.msg);
	json_decref(cfg);
	return s;
}

static int make_err(int type, const char *json, struct err *e)
{
	json_t *cfg = json_loads(json, 0, NULL);
	struct schedule s;
	int rc;

	assert_non_null(cfg);
	err_clear(e);
	rc = schedule_from_config(type, cfg, tz_utc(), &s, e);
	json_decref(cfg);
	return rc;
}

static void fmt(int64_t us, char out[40])
{
	int64_t s = us / US, days = s / 86400, y;
	int m, d;

	if (s % 86400 < 0)
		days--;
	tz_civil_from_days(days, &y, &m, &d);
	snprintf(out, 40, "%04lld-%02d-%02dT%02d:%02dZ", (long long)y, m, d,
		 (int)((s - days * 86400) / 3600), (int)((s - days * 86400) % 3600 / 60));
}

/* The n due times after `after` must be `want` (UTC instants). */
static void expect_seq(const struct schedule *s, int64_t after, const int64_t *want, int n)
{
	char a[40], b[40];
	struct err e;
	int64_t due;

	for (int i = 0; i < n; i++) {
		err_clear(&e);
		if (schedule_next(s, after, &due, &e) != ERR_OK)
			fail_msg("due %d: %s", i, e.msg);
		if (due != want[i]) {
			fmt(due, a);
			fmt(want[i], b);
			fail_msg("due %d is %s, expected %s", i, a, b);
		}
		after = due;
	}
}

#define SEQ(s, after, ...)                                                                         \
	do {                                                                                       \
		const int64_t want_[] = {__VA_ARGS__};                                             \
		expect_seq((s), (after), want_, (int)(sizeof want_ / sizeof want_[0]));            \
	} while (0)

/* ---- daily across DST ---------------------------------------------------- */

static void test_daily_new_york(void **state)
{
	struct schedule s = make(
		TASK_SCHEDULE,
		"{\"type\":\"daily\",\"hour\":2,\"minute\":30,\"timezone\":\"America/New_York\"}");

	(void)state;
	/* spring forward, 9 March 2025: 02:30 does not exist -> 03:00 EDT */
	SEQ(&s, utc(2025, 3, 7, 12, 0), utc(2025, 3, 8, 7, 30), utc(2025, 3, 9, 7, 0),
	    utc(2025, 3, 10, 6, 30), utc(2025, 3, 11, 6, 30));
	/* fall back, 2 November 2025: 02:30 happens once (EST) */
	SEQ(&s, utc(2025, 10, 31, 12, 0), utc(2025, 11, 1, 6, 30), utc(2025, 11, 2, 7, 30),
	    utc(2025, 11, 3, 7, 30));
	/* 01:30 happens twice on 2 November: it runs once, at the first (EDT) */
	s = make(TASK_SCHEDULE,
		 "{\"type\":\"daily\",\"hour\":1,\"minute\":30,\"timezone\":\"America/New_York\"}");
	SEQ(&s, utc(2025, 10, 31, 12, 0), utc(2025, 11, 1, 5, 30), utc(2025, 11, 2, 5, 30),
	    utc(2025, 11, 3, 6, 30));
	/* starting between the two occurrences does not run the second one */
	SEQ(&s, utc(2025, 11, 2, 6, 0), utc(2025, 11, 3, 6, 30));
	SEQ(&s, utc(2025, 11, 2, 5, 29), utc(2025, 11, 2, 5, 30));
	/* 02:00 sharp on the spring day is the jump itself */
	s = make(TASK_SCHEDULE,
		 "{\"type\":\"daily\",\"hour\":2,\"minute\":0,\"timezone\":\"America/New_York\"}");
	SEQ(&s, utc(2025, 3, 8, 12, 0), utc(2025, 3, 9, 7, 0), utc(2025, 3, 10, 6, 0));
	/* 03:00 on the spring day is the same instant as the jump: once */
	s = make(TASK_SCHEDULE,
		 "{\"type\":\"daily\",\"hour\":3,\"minute\":0,\"timezone\":\"America/New_York\"}");
	SEQ(&s, utc(2025, 3, 8, 12, 0), utc(2025, 3, 9, 7, 0), utc(2025, 3, 10, 7, 0));
}

static void test_daily_berlin(void **state)
{
	struct schedule s = make(
		TASK_SCHEDULE,
		"{\"type\":\"daily\",\"hour\":2,\"minute\":30,\"timezone\":\"Europe/Berlin\"}");

	(void)state;
	/* 30 March 2025: 02:00 CET -> 03:00 CEST at 01:00Z */
	SEQ(&s, utc(2025, 3, 28, 12, 0), utc(2025, 3, 29, 1, 30), utc(2025, 3, 30, 1, 0),
	    utc(2025, 3, 31, 0, 30));
	/* 26 October 2025: 03:00 CEST -> 02:00 CET at 01:00Z; 02:30 twice -> once */
	SEQ(&s, utc(2025, 10, 24, 12, 0), utc(2025, 10, 25, 0, 30), utc(2025, 10, 26, 0, 30),
	    utc(2025, 10, 27, 1, 30));
	/* the same every year, also far beyond the table (footer rule): 2090 */
	SEQ(&s, utc(2090, 3, 25, 12, 0), utc(2090, 3, 26, 1, 0), utc(2090, 3, 27, 0, 30));
}

static void test_daily_lord_howe_kolkata(void **state)
{
	struct schedule s = make(TASK_SCHEDULE, "{\"type\":\"daily\",\"hour\":2,\"minute\":15,"
						"\"timezone\":\"Australia/Lord_Howe\"}");

	(void)state;
	/* 5 October 2025: 02:00 -> 02:30 (+10:30 -> +11); 02:15 runs at 02:30 */
	SEQ(&s, utc(2025, 10, 3, 0, 0), utc(2025, 10, 3, 15, 45), utc(2025, 10, 4, 15, 30),
	    utc(2025, 10, 5, 15, 15));
	/* 6 April 2025: 02:00 -> 01:30; 01:45 happens twice -> once */
	s = make(TASK_SCHEDULE, "{\"type\":\"daily\",\"hour\":1,\"minute\":45,\"timezone\":"
				"\"Australia/Lord_Howe\"}");
	SEQ(&s, utc(2025, 4, 4, 0, 0), utc(2025, 4, 4, 14, 45), utc(2025, 4, 5, 14, 45),
	    utc(2025, 4, 6, 15, 15));
	s = make(TASK_SCHEDULE,
		 "{\"type\":\"daily\",\"hour\":9,\"minute\":0,\"timezone\":\"Asia/Kolkata\"}");
	SEQ(&s, utc(2025, 3, 8, 12, 0), utc(2025, 3, 9, 3, 30), utc(2025, 3, 10, 3, 30),
	    utc(2025, 3, 11, 3, 30));
	/* UTC: due strictly after; an instant right at a due time moves on */
	s = make(TASK_SCHEDULE,
		 "{\"type\":\"daily\",\"hour\":8,\"minute\":0,\"timezone\":\"UTC\"}");
	SEQ(&s, utc(2025, 1, 1, 8, 0) - 1, utc(2025, 1, 1, 8, 0), utc(2025, 1, 2, 8, 0));
	SEQ(&s, utc(2025, 1, 1, 8, 0), utc(2025, 1, 2, 8, 0));
}

/* ---- other forms --------------------------------------------------------- */

static void test_weekly(void **state)
{
	struct schedule s = make(TASK_SCHEDULE, "{\"type\":\"weekly\",\"days\":[\"mon\",\"wed\","
						"\"fri\"],\"hour\":9,\"minute\":15,"
						"\"timezone\":\"Europe/Berlin\"}");

	(void)state;
	/* from Sunday 23 March 2025; DST starts on the 30th */
	SEQ(&s, utc(2025, 3, 23, 12, 0), utc(2025, 3, 24, 8, 15), utc(2025, 3, 26, 8, 15),
	    utc(2025, 3, 28, 8, 15), utc(2025, 3, 31, 7, 15), utc(2025, 4, 2, 7, 15));
	/* Sunday 02:30 in New York: the spring-forward Sunday runs at the jump */
	s = make(TASK_SCHEDULE, "{\"type\":\"weekly\",\"days\":[\"sun\"],\"hour\":2,\"minute\":30,"
				"\"timezone\":\"America/New_York\"}");
	SEQ(&s, utc(2025, 3, 1, 0, 0), utc(2025, 3, 2, 7, 30), utc(2025, 3, 9, 7, 0),
	    utc(2025, 3, 16, 6, 30));
}

static void test_interval(void **state)
{
	struct schedule s = make(TASK_SCHEDULE, "{\"type\":\"interval\",\"minutes\":90,"
						"\"timezone\":\"America/New_York\"}");
	struct schedule_plan p;
	struct err e;
	int64_t created = utc(2025, 3, 9, 5, 0) + 123456;

	(void)state;
	/* elapsed time: the DST jump at 07:00Z changes nothing */
	SEQ(&s, created, created + 90 * MIN, created + 180 * MIN, created + 270 * MIN);
	/* the first run comes right after creation, as in the original (an engine
	 * that takes the task up a little later runs it at once) */
	assert_int_equal(schedule_first_due(&s, created, 0, created + 5 * US, &p, &e), ERR_OK);
	assert_int_equal(p.due_us, created);
	assert_false(p.catch_up);
	assert_int_equal(p.missed, 0);
	/* intervals of a day or more refire (the original's did not) */
	s = make(TASK_SCHEDULE, "{\"type\":\"interval\",\"minutes\":2880}");
	SEQ(&s, created, created + 2 * DAYS, created + 4 * DAYS);
	/* defaults of the seed */
	s = make(TASK_SCHEDULE, "{\"type\":\"interval\"}");
	assert_int_equal(s.interval_us, 60 * MIN);
	s = make(TASK_WEB_MONITOR, "{\"urls\":[\"https://example.com\"]}");
	assert_int_equal(s.form, SCHEDULE_INTERVAL);
	assert_int_equal(s.interval_us, 30 * MIN);
	SEQ(&s, created, created + 30 * MIN);
	s = make(TASK_WEB_MONITOR, "{\"urls\":[\"https://example.com\"],"
				   "\"check_interval_minutes\":5}");
	assert_int_equal(s.interval_us, 5 * MIN);
	s = make(TASK_THRESHOLD_WATCH, "{\"metric\":\"bitcoin_price\",\"threshold\":50000}");
	assert_int_equal(s.interval_us, 15 * MIN);
	assert_int_equal(schedule_first_due(&s, created, 0, created, &p, &e), ERR_OK);
	assert_int_equal(p.due_us, created);
}

static void test_news_digest(void **state)
{
	struct schedule s = make(TASK_NEWS_DIGEST, "{\"timezone\":\"Europe/Berlin\"}");

	(void)state;
	assert_int_equal(s.form, SCHEDULE_DAILY);
	/* default 08:00 */
	SEQ(&s, utc(2025, 3, 29, 12, 0), utc(2025, 3, 30, 6, 0), utc(2025, 3, 31, 6, 0));
	s = make(TASK_NEWS_DIGEST,
		 "{\"hour\":18,\"minute\":45,\"timezone\":\"Australia/Lord_Howe\"}");
	SEQ(&s, utc(2025, 7, 1, 0, 0), utc(2025, 7, 1, 8, 15), utc(2025, 7, 2, 8, 15));
}

static void test_once(void **state)
{
	struct schedule s =
		make(TASK_SCHEDULE, "{\"type\":\"once\",\"at\":\"2025-07-01T09:30:00+02:00\","
				    "\"timezone\":\"America/New_York\"}");
	struct schedule_plan p;
	struct err e;
	int64_t due;

	(void)state;
	assert_int_equal(s.at_us, utc(2025, 7, 1, 7, 30));
	SEQ(&s, utc(2025, 6, 1, 0, 0), utc(2025, 7, 1, 7, 30));
	err_clear(&e);
	assert_int_equal(schedule_next(&s, utc(2025, 7, 1, 7, 30), &due, &e), ERR_NOT_FOUND);
	assert_non_null(strstr(e.msg, "2025-07-01T07:30:00Z"));
	/* no offset: wall time in the zone */
	s = make(TASK_SCHEDULE, "{\"type\":\"once\",\"at\":\"2025-07-01T09:30\","
				"\"timezone\":\"America/New_York\"}");
	assert_int_equal(s.at_us, utc(2025, 7, 1, 13, 30));
	s = make(TASK_SCHEDULE, "{\"type\":\"once\",\"at\":\"2025-07-01 09:30:15.25Z\"}");
	assert_int_equal(s.at_us, utc(2025, 7, 1, 9, 30) + 15 * US + 250000);
	s = make(TASK_SCHEDULE, "{\"type\":\"once\",\"at\":\"2025-07-01T09:30-0330\"}");
	assert_int_equal(s.at_us, utc(2025, 7, 1, 13, 0));
	/* in the spring-forward gap: at the jump; in the fall-back fold: the first */
	s = make(TASK_SCHEDULE, "{\"type\":\"once\",\"at\":\"2025-03-09T02:30:00\","
				"\"timezone\":\"America/New_York\"}");
	assert_int_equal(s.at_us, utc(2025, 3, 9, 7, 0));
	s = make(TASK_SCHEDULE, "{\"type\":\"once\",\"at\":\"2025-11-02T01:30:00\","
				"\"timezone\":\"America/New_York\"}");
	assert_int_equal(s.at_us, utc(2025, 11, 2, 5, 30));

	/* durable: due before it ran, never again after */
	s = make(TASK_SCHEDULE, "{\"type\":\"once\",\"at\":\"2025-07-01T09:30:00Z\"}");
	assert_int_equal(
		schedule_first_due(&s, utc(2025, 6, 1, 0, 0), 0, utc(2025, 6, 2, 0, 0), &p, &e),
		ERR_OK);
	assert_int_equal(p.due_us, utc(2025, 7, 1, 9, 30));
	err_clear(&e);
	assert_int_equal(schedule_first_due(&s, utc(2025, 6, 1, 0, 0), utc(2025, 7, 1, 9, 30),
					    utc(2025, 7, 5, 0, 0), &p, &e),
			 ERR_NOT_FOUND);
	assert_non_null(strstr(e.msg, "has run"));
	/* a run_task_now before the time does not use it up */
	assert_int_equal(schedule_first_due(&s, utc(2025, 6, 1, 0, 0), utc(2025, 6, 15, 0, 0),
					    utc(2025, 6, 16, 0, 0), &p, &e),
			 ERR_OK);
	assert_int_equal(p.due_us, utc(2025, 7, 1, 9, 30));
	/* the time passed while the engine was down: once -> catch up; skip -> never */
	assert_int_equal(
		schedule_first_due(&s, utc(2025, 6, 1, 0, 0), 0, utc(2025, 7, 2, 0, 0), &p, &e),
		ERR_OK);
	assert_true(p.catch_up);
	assert_int_equal(p.due_us, utc(2025, 7, 2, 0, 0));
	assert_int_equal(p.missed, 1);
	assert_int_equal(p.first_missed_us, utc(2025, 7, 1, 9, 30));
	/* created a little after its time (a slow agent): runs at once */
	assert_int_equal(
		schedule_first_due(&s, utc(2025, 7, 1, 9, 31), 0, utc(2025, 7, 1, 9, 31), &p, &e),
		ERR_OK);
	assert_false(p.catch_up);
	assert_int_equal(p.due_us, utc(2025, 7, 1, 9, 30));
	/* created long after its time: missed */
	assert_int_equal(
		schedule_first_due(&s, utc(2025, 7, 1, 10, 0), 0, utc(2025, 7, 1, 10, 0), &p, &e),
		ERR_OK);
	assert_true(p.catch_up);
	s = make(TASK_SCHEDULE, "{\"type\":\"once\",\"at\":\"2025-07-01T09:30:00Z\","
				"\"missed_run_policy\":\"skip\"}");
	err_clear(&e);
	assert_int_equal(
		schedule_first_due(&s, utc(2025, 6, 1, 0, 0), 0, utc(2025, 7, 2, 0, 0), &p, &e),
		ERR_NOT_FOUND);
	assert_non_null(strstr(e.msg, "skip"));
}

/* ---- cron ------------------------------------------------------------------ */

static struct schedule cron(const char *expr, const char *zone_name)
{
	char json[400];

	snprintf(json, sizeof json, "{\"type\":\"cron\",\"expression\":\"%s\",\"timezone\":\"%s\"}",
		 expr, zone_name);
	return make(TASK_SCHEDULE, json);
}

static void test_cron_basics(void **state)
{
	struct schedule s = cron("*/15 9-17 * * MON-FRI", "UTC");

	(void)state;
	/* Friday 17:45 -> Monday 09:00 */
	SEQ(&s, utc(2025, 6, 20, 17, 30), utc(2025, 6, 20, 17, 45), utc(2025, 6, 23, 9, 0),
	    utc(2025, 6, 23, 9, 15));
	/* Vixie OR: 1st, 15th and every Monday (June 2025: Sun 1, Mon 2) */
	s = cron("0 0 1,15 * MON", "UTC");
	SEQ(&s, utc(2025, 5, 31, 12, 0), utc(2025, 6, 1, 0, 0), utc(2025, 6, 2, 0, 0),
	    utc(2025, 6, 9, 0, 0), utc(2025, 6, 15, 0, 0), utc(2025, 6, 16, 0, 0),
	    utc(2025, 6, 23, 0, 0), utc(2025, 6, 30, 0, 0), utc(2025, 7, 1, 0, 0));
	/* day field starting with '*': AND (Mondays on odd days) */
	s = cron("0 0 */2 * MON", "UTC");
	SEQ(&s, utc(2025, 6, 1, 0, 0), utc(2025, 6, 9, 0, 0), utc(2025, 6, 23, 0, 0),
	    utc(2025, 7, 7, 0, 0));
	/* "* * * * MON": Mondays only */
	s = cron("30 6 * * 1", "UTC");
	SEQ(&s, utc(2025, 6, 1, 0, 0), utc(2025, 6, 2, 6, 30), utc(2025, 6, 9, 6, 30));
	/* names, any case; 7 is Sunday */
	s = cron("0 12 * jan,Jul sun", "UTC");
	SEQ(&s, utc(2025, 6, 1, 0, 0), utc(2025, 7, 6, 12, 0), utc(2025, 7, 13, 12, 0));
	s = cron("0 12 1 * 7", "UTC");
	SEQ(&s, utc(2025, 6, 1, 13, 0), utc(2025, 6, 8, 12, 0), utc(2025, 6, 15, 12, 0));
	/* steps: 5/20 = 5-59/20 */
	s = cron("5/20 * * * *", "UTC");
	SEQ(&s, utc(2025, 6, 1, 0, 0), utc(2025, 6, 1, 0, 5), utc(2025, 6, 1, 0, 25),
	    utc(2025, 6, 1, 0, 45), utc(2025, 6, 1, 1, 5));
	s = cron("0 0-23/6 * * *", "UTC");
	SEQ(&s, utc(2025, 6, 1, 1, 0), utc(2025, 6, 1, 6, 0), utc(2025, 6, 1, 12, 0));
	/* macros */
	s = cron("@hourly", "UTC");
	SEQ(&s, utc(2025, 6, 1, 0, 30), utc(2025, 6, 1, 1, 0), utc(2025, 6, 1, 2, 0));
	s = cron("@daily", "UTC");
	SEQ(&s, utc(2025, 6, 1, 0, 30), utc(2025, 6, 2, 0, 0));
	s = cron("@weekly", "UTC");
	SEQ(&s, utc(2025, 6, 1, 0, 30), utc(2025, 6, 8, 0, 0));
	s = cron("@monthly", "UTC");
	SEQ(&s, utc(2025, 6, 1, 0, 30), utc(2025, 7, 1, 0, 0), utc(2025, 8, 1, 0, 0));
	s = cron("@yearly", "UTC");
	SEQ(&s, utc(2025, 6, 1, 0, 30), utc(2026, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0));
	/* rare days: 31st, 29 February (none in 2100) */
	s = cron("0 0 31 * *", "UTC");
	SEQ(&s, utc(2025, 5, 31, 0, 0), utc(2025, 7, 31, 0, 0), utc(2025, 8, 31, 0, 0),
	    utc(2025, 10, 31, 0, 0));
	s = cron("0 0 29 2 *", "UTC");
	SEQ(&s, utc(2097, 3, 1, 0, 0), utc(2104, 2, 29, 0, 0));
	/* the "cron" alias of "expression" */
	s = make(TASK_SCHEDULE, "{\"type\":\"cron\",\"cron\":\"0 8 * * *\",\"timezone\":\"UTC\"}");
	SEQ(&s, utc(2025, 6, 1, 0, 0), utc(2025, 6, 1, 8, 0));
	/* in a zone: 09:00 Kolkata = 03:30Z */
	s = cron("0 9 * * *", "Asia/Kolkata");
	SEQ(&s, utc(2025, 6, 1, 4, 0), utc(2025, 6, 2, 3, 30));
	/* a day boundary in the zone, not in UTC: Monday 00:10 in Berlin */
	s = cron("10 0 * * MON", "Europe/Berlin");
	SEQ(&s, utc(2025, 6, 1, 0, 0), utc(2025, 6, 1, 22, 10), utc(2025, 6, 8, 22, 10));
}

static void test_cron_dst(void **state)
{
	struct schedule s = cron("30 2 * * *", "America/New_York");

	(void)state;
	assert_false(s.cron_wild);
	SEQ(&s, utc(2025, 3, 8, 12, 0), utc(2025, 3, 9, 7, 0), utc(2025, 3, 10, 6, 30));
	s = cron("30 1 * * *", "America/New_York");
	SEQ(&s, utc(2025, 11, 1, 12, 0), utc(2025, 11, 2, 5, 30), utc(2025, 11, 3, 6, 30));
	/* fixed times in the repeated hour: once each */
	s = cron("0,30 1 * * *", "America/New_York");
	SEQ(&s, utc(2025, 11, 1, 12, 0), utc(2025, 11, 2, 5, 0), utc(2025, 11, 2, 5, 30),
	    utc(2025, 11, 3, 6, 0));
	/* wildcard minutes keep their rhythm through the repeated hour (Vixie) */
	s = cron("*/30 * * * *", "America/New_York");
	assert_true(s.cron_wild);
	SEQ(&s, utc(2025, 11, 2, 4, 45), utc(2025, 11, 2, 5, 0), utc(2025, 11, 2, 5, 30),
	    utc(2025, 11, 2, 6, 0), utc(2025, 11, 2, 6, 30), utc(2025, 11, 2, 7, 0));
	/* ... and the skipped hour collapses into the jump */
	SEQ(&s, utc(2025, 3, 9, 5, 45), utc(2025, 3, 9, 6, 0), utc(2025, 3, 9, 6, 30),
	    utc(2025, 3, 9, 7, 0), utc(2025, 3, 9, 7, 30));
	s = cron("@hourly", "America/New_York");
	SEQ(&s, utc(2025, 11, 2, 3, 30), utc(2025, 11, 2, 4, 0), utc(2025, 11, 2, 5, 0),
	    utc(2025, 11, 2, 6, 0), utc(2025, 11, 2, 7, 0));
	SEQ(&s, utc(2025, 3, 9, 5, 30), utc(2025, 3, 9, 6, 0), utc(2025, 3, 9, 7, 0),
	    utc(2025, 3, 9, 8, 0));
	/* hour wildcard, fixed minute: "15 * * * *" runs in both 01:15s */
	s = cron("15 * * * *", "America/New_York");
	SEQ(&s, utc(2025, 11, 2, 5, 0), utc(2025, 11, 2, 5, 15), utc(2025, 11, 2, 6, 15));
	/* Berlin: 02:xx skipped on 30 March, repeated on 26 October */
	s = cron("0,30 2 * * *", "Europe/Berlin");
	SEQ(&s, utc(2025, 3, 29, 12, 0), utc(2025, 3, 30, 1, 0), utc(2025, 3, 31, 0, 0));
	SEQ(&s, utc(2025, 10, 25, 12, 0), utc(2025, 10, 26, 0, 0), utc(2025, 10, 26, 0, 30),
	    utc(2025, 10, 27, 1, 0));
	/* Lord Howe: 02:00-02:29 skipped on 5 October 2025 */
	s = cron("0 2 * * *", "Australia/Lord_Howe");
	SEQ(&s, utc(2025, 10, 3, 12, 0), utc(2025, 10, 3, 15, 30), utc(2025, 10, 4, 15, 30),
	    utc(2025, 10, 5, 15, 0));
	s = cron("*/10 * * * *", "Australia/Lord_Howe");
	SEQ(&s, utc(2025, 10, 4, 15, 15), utc(2025, 10, 4, 15, 20), utc(2025, 10, 4, 15, 30),
	    utc(2025, 10, 4, 15, 40));
	/* 01:30-01:59 repeated on 6 April 2025: wildcard runs in both */
	SEQ(&s, utc(2025, 4, 5, 14, 45), utc(2025, 4, 5, 14, 50), utc(2025, 4, 5, 15, 0),
	    utc(2025, 4, 5, 15, 10));
}

/* The walk over offset periods against a reference that looks at every UTC
 * minute and states the rules directly: a minute runs when its local time
 * matches and is the first occurrence of that local time (or the
 * expression is a wildcard one); a forward jump runs when a skipped local
 * minute matches. */
static int64_t reference_next(const struct schedule *s, int64_t after_s)
{
	const struct tz *z = s->tz;

	for (int64_t u = (after_s / 60 + 1) * 60;; u += 60) {
		struct tm l;
		int32_t off = tz_utc_offset(z, u), before = tz_utc_offset(z, u - 1);

		if (before < off) { /* u is a forward jump: any skipped minute? */
			for (int64_t m = u + before; m < u + off; m += 60) {
				tz_to_local(tz_utc(), m, &l);
				if (cron_matches(&s->cron, &l))
					return u;
			}
		}
		tz_to_local(z, u, &l);
		if (!cron_matches(&s->cron, &l))
			continue;
		if (s->cron_wild || tz_from_local(z, &l, TZ_FOLD_FIRST) == u)
			return u;
	}
}

static void test_cron_reference(void **state)
{
	static const char *const exprs[] = {
		"*/7 * * * *",   "30 2 * * *",   "0,30 1 * * *", "45 * * * *", "*/20 1-3 * * *",
		"5 2 * * SUN",   "15 0-4 * * *", "0 */2 * * *",  "59 1 * * *", "0 3 * * *",
		"10,40 2 * * 0", "*/15 2 * * *", "1 1 * * *",    "0 0 * * *",  "20 1,2 * * *",
	};
	/* each zone from 4 hours before one of its 2025 transitions to a day after */
	static const struct {
		const char *zone;
		int month, day, hour, minute;
	} starts[] = {
		{"America/New_York", 3, 9, 7, 0},     {"America/New_York", 11, 2, 6, 0},
		{"Europe/Berlin", 3, 30, 1, 0},       {"Europe/Berlin", 10, 26, 1, 0},
		{"Australia/Lord_Howe", 4, 5, 15, 0}, {"Australia/Lord_Howe", 10, 4, 15, 30},
		{"Asia/Kolkata", 3, 9, 0, 0},
	};

	(void)state;
	for (size_t si = 0; si < sizeof starts / sizeof starts[0]; si++)
		for (size_t ei = 0; ei < sizeof exprs / sizeof exprs[0]; ei++) {
			struct schedule s = cron(exprs[ei], starts[si].zone);
			int64_t t = utc(2025, starts[si].month, starts[si].day, starts[si].hour,
					starts[si].minute) /
				    US;
			int64_t after = t - 4 * 3600, due;

			while (after < t + 26 * 3600) {
				int64_t want = reference_next(&s, after);

				assert_int_equal(schedule_next(&s, after * US, &due, NULL), ERR_OK);
				if (due != want * US) {
					char a[40], b[40];

					fmt(due, a);
					fmt(want * US, b);
					fail_msg("%s in %s after %lld: got %s, want %s", exprs[ei],
						 starts[si].zone, (long long)after, a, b);
				}
				after = want;
			}
		}
}

static void test_cron_never(void **state)
{
	struct schedule s = cron("0 0 * * *", "UTC");
	struct err e;
	int64_t due;

	(void)state;
	/* a hand-made expression that matches nothing stops at the search cap */
	s.cron.minute = 0;
	err_clear(&e);
	assert_int_equal(schedule_next(&s, utc(2025, 1, 1, 0, 0), &due, &e), ERR_NOT_FOUND);
	assert_non_null(strstr(e.msg, "never fires"));
	assert_non_null(strstr(e.msg, "10 years"));
	/* times out of range are refused, not overflowed */
	s = cron("0 0 * * *", "UTC");
	assert_int_equal(schedule_next(&s, INT64_MAX - 5, &due, NULL), ERR_NOT_FOUND);
	assert_int_equal(schedule_next(&s, INT64_MIN + 5, &due, NULL), ERR_NOT_FOUND);
	s = make(TASK_SCHEDULE, "{\"type\":\"interval\",\"minutes\":1}");
	assert_int_equal(schedule_next(&s, INT64_MAX - 5, &due, NULL), ERR_NOT_FOUND);
}

/* ---- missed runs after a 3-day downtime -------------------------------------- */

static void test_missed_runs(void **state)
{
	struct schedule s = make(TASK_SCHEDULE, "{\"type\":\"daily\",\"hour\":8,\"minute\":0,"
						"\"timezone\":\"Europe/Berlin\"}");
	int64_t created = utc(2025, 5, 1, 0, 0), last = utc(2025, 6, 1, 6, 0);
	int64_t now = utc(2025, 6, 4, 10, 0); /* down since just after the last run */
	struct schedule_plan p;
	struct err e;

	(void)state;
	assert_int_equal(s.missed_policy, SCHEDULE_MISSED_ONCE); /* the default */
	assert_int_equal(schedule_first_due(&s, created, last, now, &p, &e), ERR_OK);
	assert_true(p.catch_up);
	assert_int_equal(p.due_us, now);
	assert_int_equal(p.missed, 3); /* 2, 3 and 4 June at 08:00 */
	assert_int_equal(p.first_missed_us, utc(2025, 6, 2, 6, 0));
	s.missed_policy = SCHEDULE_MISSED_SKIP;
	assert_int_equal(schedule_first_due(&s, created, last, now, &p, &e), ERR_OK);
	assert_false(p.catch_up);
	assert_int_equal(p.due_us, utc(2025, 6, 5, 6, 0));
	assert_int_equal(p.missed, 3);
	/* no downtime worth the name: the next due time, nothing missed */
	assert_int_equal(schedule_first_due(&s, created, last, utc(2025, 6, 1, 7, 0), &p, &e),
			 ERR_OK);
	assert_int_equal(p.due_us, utc(2025, 6, 2, 6, 0));
	assert_int_equal(p.missed, 0);
	assert_false(p.catch_up);
	/* a due time exactly now is not missed */
	assert_int_equal(schedule_first_due(&s, created, last, utc(2025, 6, 2, 6, 0), &p, &e),
			 ERR_OK);
	assert_int_equal(p.due_us, utc(2025, 6, 2, 6, 0));
	assert_int_equal(p.missed, 0);
	/* a quick restart just after a due time: late, not missed, even for skip */
	assert_int_equal(
		schedule_first_due(&s, created, last, utc(2025, 6, 2, 6, 0) + 59 * US, &p, &e),
		ERR_OK);
	assert_int_equal(p.due_us, utc(2025, 6, 2, 6, 0));
	assert_int_equal(p.missed, 0);
	assert_false(p.catch_up);
	assert_int_equal(schedule_first_due(&s, created, last, utc(2025, 6, 2, 6, 1) + 1, &p, &e),
			 ERR_OK);
	assert_int_equal(p.due_us, utc(2025, 6, 3, 6, 0));
	assert_int_equal(p.missed, 1);
	/* never ran: counted from creation */
	s = make(TASK_SCHEDULE, "{\"type\":\"daily\",\"hour\":8,\"minute\":0,"
				"\"timezone\":\"UTC\",\"missed_run_policy\":\"skip\"}");
	assert_int_equal(s.missed_policy, SCHEDULE_MISSED_SKIP);
	assert_int_equal(
		schedule_first_due(&s, utc(2025, 6, 1, 9, 0), 0, utc(2025, 6, 4, 10, 0), &p, &e),
		ERR_OK);
	assert_int_equal(p.missed, 3);
	assert_int_equal(p.due_us, utc(2025, 6, 5, 8, 0));
	assert_int_equal(
		schedule_first_due(&s, utc(2025, 6, 1, 7, 0), 0, utc(2025, 6, 1, 7, 30), &p, &e),
		ERR_OK);
	assert_int_equal(p.due_us, utc(2025, 6, 1, 8, 0));

	/* intervals: counted in elapsed time; skip keeps the phase */
	s = make(TASK_SCHEDULE, "{\"type\":\"interval\",\"minutes\":60}");
	last = utc(2025, 6, 1, 6, 0) + 17 * US;
	now = last + 3 * DAYS + 10 * MIN;
	assert_int_equal(schedule_first_due(&s, created, last, now, &p, &e), ERR_OK);
	assert_true(p.catch_up);
	assert_int_equal(p.due_us, now);
	assert_int_equal(p.missed, 72);
	assert_int_equal(p.first_missed_us, last + HOUR);
	s.missed_policy = SCHEDULE_MISSED_SKIP;
	assert_int_equal(schedule_first_due(&s, created, last, now, &p, &e), ERR_OK);
	assert_int_equal(p.due_us, last + 73 * HOUR);
	assert_false(p.catch_up);
	/* web monitors catch up once */
	s = make(TASK_WEB_MONITOR, "{\"urls\":[\"https://example.com\"]}");
	assert_int_equal(schedule_first_due(&s, created, last, now, &p, &e), ERR_OK);
	assert_true(p.catch_up);
	assert_int_equal(p.missed, 3 * 48);
	/* frequent crons: the count stops at the cap */
	s = cron("* * * * *", "UTC");
	assert_int_equal(schedule_first_due(&s, created, last, now, &p, &e), ERR_OK);
	assert_int_equal(p.missed, SCHEDULE_MISSED_COUNT_MAX);
	assert_true(p.catch_up);
	s.missed_policy = SCHEDULE_MISSED_SKIP;
	assert_int_equal(schedule_first_due(&s, created, last, now, &p, &e), ERR_OK);
	assert_int_equal(p.due_us, now / MIN * MIN); /* 17 s late: within the grace */
	/* across a DST change during the downtime (New York, 9 March) */
	s = make(TASK_SCHEDULE,
		 "{\"type\":\"daily\",\"hour\":2,\"minute\":30,"
		 "\"timezone\":\"America/New_York\",\"missed_run_policy\":\"skip\"}");
	assert_int_equal(schedule_first_due(&s, created, utc(2025, 3, 7, 7, 30),
					    utc(2025, 3, 10, 1, 0), &p, &e),
			 ERR_OK);
	assert_int_equal(p.missed, 2);
	assert_int_equal(p.first_missed_us, utc(2025, 3, 8, 7, 30));
	assert_int_equal(p.due_us, utc(2025, 3, 10, 6, 30));
}

/* ---- jitter -------------------------------------------------------------------- */

static void test_jitter(void **state)
{
	struct schedule s = make(TASK_SCHEDULE, "{\"type\":\"daily\",\"jitter_seconds\":600}");
	char id[64];
	int64_t sum = 0, lo = INT64_MAX, hi = 0;

	(void)state;
	assert_int_equal(s.jitter_seconds, 600);
	int64_t a = schedule_jitter_us(&s, "6f1c7a52-3c1e-4f7e-9a0b-2d4c8e9f1a3b");
	assert_int_equal(a, schedule_jitter_us(&s, "6f1c7a52-3c1e-4f7e-9a0b-2d4c8e9f1a3b"));
	/* a fixed value: the same on every machine and release */
	assert_true(a >= 0 && a <= 600 * US);
	assert_int_not_equal(a, schedule_jitter_us(&s, "6f1c7a52-3c1e-4f7e-9a0b-2d4c8e9f1a3c"));
	for (int i = 0; i < 2000; i++) {
		int64_t j;

		snprintf(id, sizeof id, "task-%d", i);
		j = schedule_jitter_us(&s, id);
		assert_true(j >= 0 && j <= 600 * US);
		sum += j;
		lo = j < lo ? j : lo;
		hi = j > hi ? j : hi;
	}
	/* spread over the range: mean near the middle, ends nearly reached */
	assert_true(sum / 2000 > 250 * US && sum / 2000 < 350 * US);
	assert_true(lo < 5 * US && hi > 595 * US);
	/* none configured, or another task type: no jitter */
	s = make(TASK_SCHEDULE, "{\"type\":\"daily\"}");
	assert_int_equal(schedule_jitter_us(&s, "x"), 0);
	s = make(TASK_WEB_MONITOR, "{\"urls\":[\"https://example.com\"],\"jitter_seconds\":60}");
	assert_int_equal(schedule_jitter_us(&s, "x"), 0);
}

/* ---- configs ------------------------------------------------------------------- */

static void test_config_errors(void **state)
{
	struct err e;
	struct schedule s;

	(void)state;
	assert_int_equal(make_err(TASK_SCHEDULE, "{}", &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "config.type"));
	assert_int_equal(make_err(TASK_SCHEDULE, "{\"type\":\"hourly\"}", &e), ERR_INVALID);
	assert_int_equal(make_err(TASK_SCHEDULE, "{\"type\":\"daily\",\"hour\":24}", &e),
			 ERR_INVALID);
	assert_non_null(strstr(e.msg, "config.hour"));
	assert_int_equal(make_err(TASK_SCHEDULE, "{\"type\":\"daily\",\"minute\":\"5\"}", &e),
			 ERR_INVALID);
	assert_int_equal(make_err(TASK_SCHEDULE, "{\"type\":\"daily\",\"hour\":7.0}", &e), ERR_OK);
	assert_int_equal(make_err(TASK_SCHEDULE, "{\"type\":\"weekly\",\"days\":[]}", &e),
			 ERR_INVALID);
	assert_int_equal(make_err(TASK_SCHEDULE, "{\"type\":\"cron\"}", &e), ERR_INVALID);
	assert_int_equal(
		make_err(TASK_SCHEDULE, "{\"type\":\"cron\",\"expression\":\"0 24 * * *\"}", &e),
		ERR_INVALID);
	assert_non_null(strstr(e.msg, "hour"));
	assert_int_equal(make_err(TASK_SCHEDULE, "{\"type\":\"once\"}", &e), ERR_INVALID);
	assert_int_equal(
		make_err(TASK_SCHEDULE, "{\"type\":\"once\",\"at\":\"2025-02-29T10:00\"}", &e),
		ERR_INVALID);
	assert_non_null(strstr(e.msg, "config.at"));
	assert_int_equal(
		make_err(TASK_SCHEDULE, "{\"type\":\"once\",\"at\":\"2025-01-01T10:00+\"}", &e),
		ERR_INVALID);
	assert_int_equal(
		make_err(TASK_SCHEDULE, "{\"type\":\"daily\",\"missed_run_policy\":\"twice\"}", &e),
		ERR_INVALID);
	assert_int_equal(
		make_err(TASK_SCHEDULE, "{\"type\":\"daily\",\"jitter_seconds\":3601}", &e),
		ERR_INVALID);
	assert_int_equal(make_err(TASK_WEB_MONITOR, "{\"check_interval_minutes\":0}", &e),
			 ERR_INVALID);
	assert_int_equal(make_err(99, "{}", &e), ERR_INVALID);
	err_clear(&e);
	assert_int_equal(schedule_from_config(TASK_SCHEDULE, NULL, NULL, &s, &e), ERR_INVALID);
	/* no zone given: UTC */
	json_t *cfg = json_pack("{s:s, s:i}", "type", "daily", "hour", 8);
	assert_int_equal(schedule_from_config(TASK_SCHEDULE, cfg, NULL, &s, &e), ERR_OK);
	assert_ptr_equal(s.tz, tz_utc());
	assert_null(schedule_zone_name(cfg));
	json_decref(cfg);
}

/* "local" is whatever tz_set_local says, never the machine's TZ here. */
static void test_local_zone(void **state)
{
	struct err e;
	struct schedule s;

	(void)state;
	assert_int_equal(tz_set_local("America/New_York", &e), ERR_OK);
	s = make(TASK_SCHEDULE, "{\"type\":\"daily\",\"hour\":2,\"minute\":30}");
	assert_ptr_equal(s.tz, zone("America/New_York"));
	SEQ(&s, utc(2025, 3, 8, 12, 0), utc(2025, 3, 9, 7, 0), utc(2025, 3, 10, 6, 30));
	s = make(TASK_NEWS_DIGEST, "{}");
	SEQ(&s, utc(2025, 7, 1, 0, 0), utc(2025, 7, 1, 12, 0));
	assert_int_equal(tz_set_local(NULL, &e), ERR_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daily_new_york),
		cmocka_unit_test(test_daily_berlin),
		cmocka_unit_test(test_daily_lord_howe_kolkata),
		cmocka_unit_test(test_weekly),
		cmocka_unit_test(test_interval),
		cmocka_unit_test(test_news_digest),
		cmocka_unit_test(test_once),
		cmocka_unit_test(test_cron_basics),
		cmocka_unit_test(test_cron_dst),
		cmocka_unit_test(test_cron_reference),
		cmocka_unit_test(test_cron_never),
		cmocka_unit_test(test_missed_runs),
		cmocka_unit_test(test_jitter),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_local_zone),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	tz_cache_free();
	return rc;
}
