/*
 * test_notify_policy.c - "should I tell the person now?": the rules parser
 * (every bad form), min priority, dedupe windows, quiet hours across
 * midnight and DST (Europe/Paris, America/New_York), batching, sliding rate
 * limits, the order of the rules, and the state: rebuild, pruning, caps.
 * Every time is an argument: nothing sleeps.  Needs tzdata.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/json.h"
#include "common/tz.h"
#include "domain/notify_policy.h"

#define S INT64_C(1000000)
#define MIN (60 * S)
#define HOUR (60 * MIN)

static int64_t utc(int y, int mo, int d, int h, int mi)
{
	return (tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60) * S;
}

static json_t *J(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &je);

	if (!j)
		fail_msg("bad test JSON (%s): %s", je.text, text);
	return j;
}

static void has(const char *s, const char *want)
{
	if (!strstr(s, want))
		fail_msg("\"%s\" lacks \"%s\"", s, want);
}

static struct notify_rules rules_of(const char *text)
{
	struct notify_rules r;
	json_t *j = J(text);
	struct err e;

	err_clear(&e);
	if (notify_rules_parse(j, &r, &e) != ERR_OK)
		fail_msg("rules %s refused: %s", text, e.msg);
	json_decref(j);
	return r;
}

static void rules_bad(const char *text, const char *want1, const char *want2)
{
	struct notify_rules r, before;
	json_t *j = J(text);
	struct err e;

	memset(&r, 0x5a, sizeof r);
	before = r;
	err_clear(&e);
	if (notify_rules_parse(j, &r, &e) != ERR_INVALID)
		fail_msg("rules %s accepted", text);
	assert_memory_equal(&r, &before, sizeof r); /* unchanged */
	has(e.msg, want1);
	if (want2)
		has(e.msg, want2);
	json_decref(j);
}

static struct notify_target target(enum notify_channel c, const char *to)
{
	struct notify_target t;

	memset(&t, 0, sizeof t);
	t.channel = c;
	snprintf(t.to, sizeof t.to, "%s", to);
	return t;
}

/* An event of task `task` with priority p and data {"n": n}, identity id. */
static json_t *event(const char *task, int p, int n, const char *id)
{
	return json_pack("{s:s, s:s, s:i, s:s, s:{s:i, s:s}}", "task_id", task, "event_type",
			 "web_content_change", "priority", p, "event_id", id, "data", "n", n, "url",
			 "https://a.example/");
}

static struct notify_verdict decide(const struct notify_rules *r, const struct notify_state *s,
				    const json_t *ev, const struct notify_target *t, int64_t now)
{
	struct notify_verdict v;

	notify_decide(r, s, ev, t, NULL, now, &v);
	return v;
}

/* ---- rules -------------------------------------------------------------- */

static void test_defaults(void **state)
{
	struct notify_rules r;
	json_t *j;
	char *t;

	(void)state;
	notify_rules_defaults(&r);
	assert_int_equal(r.min_priority[NOTIFY_CHANNEL_SMS], 2);
	assert_int_equal(r.min_priority[NOTIFY_CHANNEL_EMAIL], 1);
	assert_int_equal(r.dedupe_window_us, 10 * MIN);
	assert_false(r.quiet.on);
	assert_int_equal(r.quiet.bypass_priority, 5);
	assert_int_equal(r.rate_count, 10);
	assert_int_equal(r.rate_window_us, HOUR);
	assert_int_equal(r.batch_below_priority, 2);
	assert_int_equal(r.batch_window_us, HOUR);
	j = notify_rules_to_json(&r);
	t = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(t, "{\"batch\":{\"below_priority\":2,\"every\":\"1h\"},"
			       "\"dedupe_window\":\"10m\",\"min_priority\":{\"email\":1,\"ntfy\":1,"
			       "\"sms\":2,\"webhook\":1},\"quiet_hours\":null,"
			       "\"rate_limit\":{\"count\":10,\"per\":\"1h\"}}");
	free(t);
	json_decref(j);
	assert_string_equal(notify_action_name(NOTIFY_SEND), "send");
	assert_string_equal(notify_action_name(NOTIFY_SUPPRESS), "suppress");
	assert_string_equal(notify_action_name(NOTIFY_HOLD), "hold");
	assert_string_equal(notify_action_name(NOTIFY_BATCH), "batch");
}

static void test_durations(void **state)
{
	static const struct {
		const char *json;
		int64_t us;
	} good[] = {
		{"\"30s\"", 30 * S},
		{"\"10m\"", 10 * MIN},
		{"\"1h\"", HOUR},
		{"\"1d\"", 24 * HOUR},
		{"\"1h30m\"", 90 * MIN},
		{"\"90\"", 90 * S},
		{"90", 90 * S},
		{"1.5", 1500000},
		{"0", 0},
		{"\"0s\"", 0},
		{"\" 2H 5M \"", 125 * MIN},
		{"\"366d\"", NOTIFY_WINDOW_MAX_US},
	};
	static const char *const bad[] = {"\"\"",    "\"10x\"",  "\"h\"",    "-1",
					  "\"-5m\"", "\"1h30\"", "\"367d\"", "1e12",
					  "true",    "null",     "[]",       "\"1.5h\""};
	char out[32];

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		json_t *j = J(good[i].json);
		int64_t us = -1;

		if (notify_duration_parse(j, &us, NULL) != ERR_OK || us != good[i].us)
			fail_msg("%s: got %lld", good[i].json, (long long)us);
		json_decref(j);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *j = J(bad[i]);
		int64_t us;
		struct err e;

		err_clear(&e);
		if (notify_duration_parse(j, &us, &e) != ERR_INVALID)
			fail_msg("%s accepted", bad[i]);
		has(e.msg, "\"30s\", \"10m\", \"1h\", \"1d\"");
		json_decref(j);
	}
	notify_duration_format(90 * MIN, out, sizeof out);
	assert_string_equal(out, "1h30m");
	notify_duration_format(2 * 24 * HOUR + 5 * S, out, sizeof out);
	assert_string_equal(out, "2d5s");
	notify_duration_format(0, out, sizeof out);
	assert_string_equal(out, "0s");
	notify_duration_format(10, out, sizeof out);
	assert_string_equal(out, "<1s");
}

static void test_rules_parse(void **state)
{
	struct notify_rules r, again;
	json_t *j;
	struct err e;

	(void)state;
	r = rules_of("{\"min_priority\": {\"sms\": 4, \"email\": 2}, \"dedupe_window\": \"5m\","
		     " \"quiet_hours\": {\"start\": \"22:00\", \"end\": \"07:00\", \"tz\": "
		     "\"Europe/Paris\", \"bypass_priority\": 4},"
		     " \"rate_limit\": {\"count\": 3, \"per\": \"30m\"},"
		     " \"batch\": {\"below_priority\": 3, \"every\": \"2h\"}}");
	assert_int_equal(r.min_priority[NOTIFY_CHANNEL_SMS], 4);
	assert_int_equal(r.min_priority[NOTIFY_CHANNEL_EMAIL], 2);
	assert_int_equal(r.min_priority[NOTIFY_CHANNEL_NTFY], 1); /* default kept */
	assert_int_equal(r.dedupe_window_us, 5 * MIN);
	assert_true(r.quiet.on);
	assert_int_equal(r.quiet.start_min, 22 * 60);
	assert_int_equal(r.quiet.end_min, 7 * 60);
	assert_string_equal(r.quiet.tz, "Europe/Paris");
	assert_int_equal(r.quiet.bypass_priority, 4);
	assert_int_equal(r.rate_count, 3);
	assert_int_equal(r.rate_window_us, 30 * MIN);
	assert_int_equal(r.batch_below_priority, 3);
	assert_int_equal(r.batch_window_us, 2 * HOUR);
	/* round trip through JSON */
	j = notify_rules_to_json(&r);
	err_clear(&e);
	assert_int_equal(notify_rules_parse(j, &again, &e), ERR_OK);
	assert_memory_equal(&r, &again, sizeof r);
	json_decref(j);

	r = rules_of("null");
	notify_rules_defaults(&again);
	assert_memory_equal(&r, &again, sizeof r);
	r = rules_of("{}");
	assert_memory_equal(&r, &again, sizeof r);
	r = rules_of("{\"min_priority\": 3, \"dedupe_window\": 0, \"quiet_hours\": null,"
		     " \"rate_limit\": false, \"batch\": null}");
	for (int c = 0; c < NOTIFY_CHANNEL__COUNT; c++)
		assert_int_equal(r.min_priority[c], 3);
	assert_int_equal(r.dedupe_window_us, 0);
	assert_int_equal(r.rate_count, 0);
	assert_int_equal(r.batch_below_priority, 0);
	r = rules_of("{\"quiet_hours\": {\"start\": \"01:00\", \"end\": \"05:30\"},"
		     " \"rate_limit\": {\"count\": 0}, \"batch\": {\"below_priority\": 0}}");
	assert_string_equal(r.quiet.tz, "UTC");
	assert_int_equal(r.quiet.end_min, 5 * 60 + 30);
	assert_int_equal(r.rate_count, 0);
	assert_int_equal(r.batch_below_priority, 0);
}

static void test_rules_errors(void **state)
{
	(void)state;
	rules_bad("[]", "notify rules: the rules must be a JSON object", NULL);
	rules_bad("{\"min_prio\": 3}", "unknown key \"min_prio\"",
		  "known keys: min_priority, "
		  "dedupe_window, quiet_hours");
	rules_bad("{\"min_priority\": {\"pager\": 3}}", "unknown channel \"pager\"",
		  "sms, email, webhook, ntfy");
	rules_bad("{\"min_priority\": {\"sms\": 0}}",
		  "min_priority.sms must be an integer priority "
		  "from 1 to 5",
		  "(got 0)");
	rules_bad("{\"min_priority\": {\"sms\": \"4\"}}", "min_priority.sms", "(got \"4\")");
	rules_bad("{\"min_priority\": 6}", "min_priority must be an integer priority", NULL);
	rules_bad("{\"min_priority\": \"high\"}", "min_priority must be an object", NULL);
	rules_bad("{\"dedupe_window\": \"10 minutes\"}", "dedupe_window must be a duration",
		  "(got \"10 minutes\")");
	rules_bad("{\"dedupe_window\": -5}", "dedupe_window must be a duration", NULL);
	rules_bad("{\"quiet_hours\": \"22-07\"}", "quiet_hours must be an object", NULL);
	rules_bad("{\"quiet_hours\": {\"start\": \"22:00\"}}",
		  "quiet_hours.end must be a local "
		  "time \"HH:MM\"",
		  "(got nothing)");
	rules_bad("{\"quiet_hours\": {\"start\": \"24:00\", \"end\": \"07:00\"}}",
		  "quiet_hours.start", "(got \"24:00\")");
	rules_bad("{\"quiet_hours\": {\"start\": \"7:00\", \"end\": \"08:00\"}}",
		  "quiet_hours.start", NULL);
	rules_bad("{\"quiet_hours\": {\"start\": \"22:00\", \"end\": \"22:60\"}}",
		  "quiet_hours.end", NULL);
	rules_bad("{\"quiet_hours\": {\"start\": \"22:00\", \"end\": \"22:00\"}}",
		  "are the same time", NULL);
	rules_bad("{\"quiet_hours\": {\"start\": \"22:00\", \"end\": \"07:00\", \"tz\": "
		  "\"Europe/Pariss\"}}",
		  "quiet_hours.tz", "Europe/Pariss");
	rules_bad("{\"quiet_hours\": {\"start\": \"22:00\", \"end\": \"07:00\", \"tz\": 1}}",
		  "quiet_hours.tz must be an IANA time zone name", NULL);
	rules_bad("{\"quiet_hours\": {\"start\": \"22:00\", \"end\": \"07:00\", "
		  "\"bypass_priority\": 7}}",
		  "quiet_hours.bypass_priority must be an integer priority from 1 to 6", NULL);
	rules_bad("{\"quiet_hours\": {\"start\": \"22:00\", \"end\": \"07:00\", \"from\": 1}}",
		  "unknown key \"from\" in quiet_hours", "start, end, tz, bypass_priority");
	rules_bad("{\"rate_limit\": 10}", "rate_limit must be an object", NULL);
	rules_bad("{\"rate_limit\": {\"count\": -1}}", "rate_limit.count must be an integer", NULL);
	rules_bad("{\"rate_limit\": {\"per\": \"1h\"}}", "rate_limit.count", "(got nothing)");
	rules_bad("{\"rate_limit\": {\"count\": 5, \"per\": 0}}",
		  "rate_limit.per must be a "
		  "duration above 0",
		  NULL);
	rules_bad("{\"rate_limit\": {\"count\": 5, \"every\": \"1h\"}}", "unknown key \"every\"",
		  "count, per");
	rules_bad("{\"batch\": {\"below_priority\": 9}}", "batch.below_priority", "(got 9)");
	rules_bad("{\"batch\": {\"every\": \"0s\"}}", "batch.every must be a duration above 0",
		  NULL);
	rules_bad("{\"batch\": true}", "batch must be an object", NULL);
}

/* ---- events ------------------------------------------------------------- */

static void test_fingerprint_identity(void **state)
{
	json_t *a = J("{\"event_type\": \"x\", \"data\": {\"a\": 1, \"b\": [1, {\"c\": 2, "
		      "\"d\": 3}]}}");
	json_t *b = J("{\"event_type\": \"x\", \"priority\": 4, \"data\": {\"b\": [1, {\"d\": 3, "
		      "\"c\": 2}], \"a\": 1}}");
	json_t *c = J("{\"event_type\": \"y\", \"data\": {\"a\": 1, \"b\": [1, {\"c\": 2, "
		      "\"d\": 3}]}}");
	json_t *d = J("{\"event_type\": \"x\", \"data\": {\"a\": 2, \"b\": [1, {\"c\": 2, "
		      "\"d\": 3}]}}");
	json_t *i1 = J("{\"event_id\": \"e1\", \"seq\": 1}"), *i2 = J("{\"event_id\": \"e2\"}");
	json_t *i3 = J("{\"feedback_id\": \"e1\"}"), *i4 = J("{\"seq\": 7}"),
	       *i5 = J("{\"seq\": 8}");

	(void)state;
	assert_true(notify_event_fingerprint(a) == notify_event_fingerprint(b));
	assert_true(notify_event_fingerprint(a) != notify_event_fingerprint(c));
	assert_true(notify_event_fingerprint(a) != notify_event_fingerprint(d));
	assert_true(notify_event_fingerprint(NULL) == notify_event_fingerprint(NULL));
	assert_true(notify_event_identity(i1) != notify_event_identity(i2));
	assert_true(notify_event_identity(i1) != notify_event_identity(i3));
	assert_true(notify_event_identity(i4) != notify_event_identity(i5));
	assert_true(notify_event_identity(a) != notify_event_identity(b));
	assert_true(notify_event_identity(a) == notify_event_identity(a));
	assert_int_equal(notify_event_priority(a), 1); /* unknown type */
	assert_int_equal(notify_event_priority(b), 4);
	{
		json_t *p = J("{\"event_type\": \"threshold_breach\", \"priority\": \"x\"}");
		json_t *q = J("{\"event_type\": \"x\", \"priority\": 99}");
		json_t *z = J("{\"priority\": -3}");

		assert_int_equal(notify_event_priority(p), 4);
		assert_int_equal(notify_event_priority(q), 5);
		assert_int_equal(notify_event_priority(z), 1);
		assert_int_equal(notify_event_priority(NULL), 1);
		json_decref(p);
		json_decref(q);
		json_decref(z);
	}
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(d);
	json_decref(i1);
	json_decref(i2);
	json_decref(i3);
	json_decref(i4);
	json_decref(i5);
}

/* ---- decisions ---------------------------------------------------------- */

static void test_min_priority(void **state)
{
	struct notify_rules r = rules_of("{\"min_priority\": {\"sms\": 4}, \"batch\": null}");
	struct notify_target sms = target(NOTIFY_CHANNEL_SMS, "+15551234567");
	struct notify_target mail = target(NOTIFY_CHANNEL_EMAIL, "me@example.com");
	struct notify_state *s = notify_state_new(0, 0);
	json_t *e2 = event("t", 2, 1, "a"), *e4 = event("t", 4, 1, "b");
	struct notify_verdict v;
	int64_t now = utc(2026, 1, 15, 12, 0);

	(void)state;
	v = decide(&r, s, e2, &sms, now);
	assert_int_equal(v.action, NOTIFY_SUPPRESS);
	assert_string_equal(v.rule, "min_priority");
	assert_string_equal(v.reason, "priority 2 is below the minimum 4 for sms");
	assert_int_equal(v.priority, 2);
	assert_int_equal(v.until_us, 0);
	v = decide(&r, s, e4, &sms, now);
	assert_int_equal(v.action, NOTIFY_SEND);
	assert_string_equal(v.rule, "");
	has(v.reason, "passes every rule for sms +15551234567");
	v = decide(&r, s, e2, &mail, now);
	assert_int_equal(v.action, NOTIFY_SEND);
	/* the target's own minimum wins over the channel's */
	mail.min_priority = 3;
	v = decide(&r, s, e2, &mail, now);
	assert_int_equal(v.action, NOTIFY_SUPPRESS);
	assert_string_equal(v.reason,
			    "priority 2 is below the minimum 3 set for email me@example.com");
	sms.min_priority = 2;
	v = decide(&r, s, e2, &sms, now);
	assert_int_equal(v.action, NOTIFY_SEND);
	/* no state at all is fine */
	v = decide(&r, NULL, e4, &sms, now);
	assert_int_equal(v.action, NOTIFY_SEND);
	json_decref(e2);
	json_decref(e4);
	notify_state_free(s);
}

static void test_dedupe(void **state)
{
	struct notify_rules r = rules_of("{\"batch\": null}");
	struct notify_target mail = target(NOTIFY_CHANNEL_EMAIL, "me@example.com");
	struct notify_target sms = target(NOTIFY_CHANNEL_SMS, "+15551234567");
	struct notify_state *s = notify_state_new(0, 0);
	json_t *a = event("t1", 3, 1, "a"), *b = event("t1", 3, 1, "b");
	json_t *other_task = event("t2", 3, 1, "c"), *other_data = event("t1", 3, 2, "d");
	struct notify_verdict v;
	int64_t t0 = utc(2026, 1, 15, 12, 0);

	(void)state;
	v = decide(&r, s, a, &mail, t0);
	assert_int_equal(v.action, NOTIFY_SEND);
	notify_state_note_event_json(s, a, t0);
	/* the same event to a second target, or decided again: not a duplicate */
	assert_int_equal(decide(&r, s, a, &sms, t0).action, NOTIFY_SEND);
	assert_int_equal(decide(&r, s, a, &mail, t0 + 5 * MIN).action, NOTIFY_SEND);
	/* the same thing again, as another event */
	v = decide(&r, s, b, &mail, t0 + 5 * MIN);
	assert_int_equal(v.action, NOTIFY_SUPPRESS);
	assert_string_equal(v.rule, "dedupe");
	assert_int_equal(v.until_us, t0 + 10 * MIN);
	has(v.reason, "the same web_content_change from this task was already handled 5m ago "
		      "(dedupe window 10m)");
	assert_int_equal(decide(&r, s, b, &sms, t0 + 10 * MIN - 1).action, NOTIFY_SUPPRESS);
	/* the window ends */
	assert_int_equal(decide(&r, s, b, &mail, t0 + 10 * MIN).action, NOTIFY_SEND);
	/* another task, other data */
	assert_int_equal(decide(&r, s, other_task, &mail, t0 + MIN).action, NOTIFY_SEND);
	assert_int_equal(decide(&r, s, other_data, &mail, t0 + MIN).action, NOTIFY_SEND);
	/* an entry in the future (clock steps while rebuilding) does not suppress */
	assert_int_equal(decide(&r, s, b, &mail, t0 - MIN).action, NOTIFY_SEND);
	/* dedupe off */
	r.dedupe_window_us = 0;
	assert_int_equal(decide(&r, s, b, &mail, t0 + MIN).action, NOTIFY_SEND);
	/* a longer window */
	r = rules_of("{\"dedupe_window\": \"1d\", \"batch\": null}");
	assert_int_equal(decide(&r, s, b, &mail, t0 + 23 * HOUR).action, NOTIFY_SUPPRESS);
	json_decref(a);
	json_decref(b);
	json_decref(other_task);
	json_decref(other_data);
	notify_state_free(s);
}

static struct notify_rules quiet_rules(const char *start, const char *end, const char *tz)
{
	char text[300];

	snprintf(text, sizeof text,
		 "{\"quiet_hours\": {\"start\": \"%s\", \"end\": \"%s\", \"tz\": \"%s\"},"
		 " \"batch\": null}",
		 start, end, tz);
	return rules_of(text);
}

static void test_quiet_hours(void **state)
{
	struct notify_rules r = quiet_rules("22:00", "07:00", "Europe/Paris");
	struct notify_target mail = target(NOTIFY_CHANNEL_EMAIL, "me@example.com");
	json_t *ev = event("t", 3, 1, "a"), *urgent = event("t", 5, 2, "b");
	struct notify_verdict v;
	int64_t until;

	(void)state;
	/* winter, CET = UTC+1: 23:30 local */
	v = decide(&r, NULL, ev, &mail, utc(2026, 1, 15, 22, 30));
	assert_int_equal(v.action, NOTIFY_HOLD);
	assert_string_equal(v.rule, "quiet_hours");
	assert_int_equal(v.until_us, utc(2026, 1, 16, 6, 0));
	has(v.reason, "quiet hours 22:00-07:00 (Europe/Paris): held until 07:00 local time "
		      "(2026-01-16T06:00:00Z)");
	/* after midnight: the same morning */
	v = decide(&r, NULL, ev, &mail, utc(2026, 1, 16, 2, 0));
	assert_int_equal(v.action, NOTIFY_HOLD);
	assert_int_equal(v.until_us, utc(2026, 1, 16, 6, 0));
	/* boundaries: 22:00 is in, 07:00 and 21:59 are out */
	assert_int_equal(decide(&r, NULL, ev, &mail, utc(2026, 1, 15, 21, 0)).action, NOTIFY_HOLD);
	assert_int_equal(decide(&r, NULL, ev, &mail, utc(2026, 1, 16, 6, 0)).action, NOTIFY_SEND);
	assert_int_equal(decide(&r, NULL, ev, &mail, utc(2026, 1, 16, 5, 59)).action, NOTIFY_HOLD);
	assert_int_equal(decide(&r, NULL, ev, &mail, utc(2026, 1, 15, 20, 59)).action, NOTIFY_SEND);
	assert_int_equal(decide(&r, NULL, ev, &mail, utc(2026, 1, 15, 12, 0)).action, NOTIFY_SEND);
	/* urgent events pass */
	assert_int_equal(decide(&r, NULL, urgent, &mail, utc(2026, 1, 15, 22, 30)).action,
			 NOTIFY_SEND);
	r.quiet.bypass_priority = 6;
	assert_int_equal(decide(&r, NULL, urgent, &mail, utc(2026, 1, 15, 22, 30)).action,
			 NOTIFY_HOLD);

	/* the helper */
	assert_true(notify_quiet_until(&r, utc(2026, 1, 16, 2, 0), &until));
	assert_int_equal(until, utc(2026, 1, 16, 6, 0));
	assert_false(notify_quiet_until(&r, utc(2026, 1, 16, 12, 0), &until));
	assert_int_equal(until, utc(2026, 1, 16, 12, 0));
	r.quiet.on = false;
	assert_false(notify_quiet_until(&r, utc(2026, 1, 16, 2, 0), &until));
	assert_int_equal(decide(&r, NULL, ev, &mail, utc(2026, 1, 16, 2, 0)).action, NOTIFY_SEND);

	/* a period within one day, in UTC */
	r = quiet_rules("01:00", "05:30", "UTC");
	assert_int_equal(decide(&r, NULL, ev, &mail, utc(2026, 1, 15, 0, 59)).action, NOTIFY_SEND);
	v = decide(&r, NULL, ev, &mail, utc(2026, 1, 15, 1, 0));
	assert_int_equal(v.action, NOTIFY_HOLD);
	assert_int_equal(v.until_us, utc(2026, 1, 15, 5, 30));
	assert_int_equal(decide(&r, NULL, ev, &mail, utc(2026, 1, 15, 5, 30)).action, NOTIFY_SEND);
	json_decref(ev);
	json_decref(urgent);
}

static void test_quiet_hours_dst(void **state)
{
	struct notify_rules r = quiet_rules("22:00", "07:00", "Europe/Paris");
	struct notify_target mail = target(NOTIFY_CHANNEL_EMAIL, "me@example.com");
	json_t *ev = event("t", 3, 1, "a");
	struct notify_verdict v;
	int64_t until;

	(void)state;
	/* spring forward in Paris, 2026-03-29 02:00 CET -> 03:00 CEST: a 7 h night */
	v = decide(&r, NULL, ev, &mail, utc(2026, 3, 28, 22, 0)); /* 23:00 CET */
	assert_int_equal(v.action, NOTIFY_HOLD);
	assert_int_equal(v.until_us, utc(2026, 3, 29, 5, 0)); /* 07:00 CEST */
	has(v.reason, "held until 07:00 local time (2026-03-29T05:00:00Z)");
	/* after the change, 06:30 CEST */
	assert_true(notify_quiet_until(&r, utc(2026, 3, 29, 4, 30), &until));
	assert_int_equal(until, utc(2026, 3, 29, 5, 0));
	assert_false(notify_quiet_until(&r, utc(2026, 3, 29, 5, 0), &until));
	/* fall back, 2026-10-25 03:00 CEST -> 02:00 CET: a 9 h night */
	v = decide(&r, NULL, ev, &mail, utc(2026, 10, 24, 20, 0)); /* 22:00 CEST */
	assert_int_equal(v.action, NOTIFY_HOLD);
	assert_int_equal(v.until_us, utc(2026, 10, 25, 6, 0));                 /* 07:00 CET */
	assert_true(notify_quiet_until(&r, utc(2026, 10, 25, 0, 30), &until)); /* 02:30 CEST */
	assert_int_equal(until, utc(2026, 10, 25, 6, 0));

	/* New York: the end falls in the spring gap (02:30 does not exist on
	 * 2026-03-08): released at the jump, 03:00 EDT */
	r = quiet_rules("22:00", "02:30", "America/New_York");
	v = decide(&r, NULL, ev, &mail, utc(2026, 3, 8, 4, 0)); /* 23:00 EST on the 7th */
	assert_int_equal(v.action, NOTIFY_HOLD);
	assert_int_equal(v.until_us, utc(2026, 3, 8, 7, 0));
	/* the end falls in the autumn fold (01:30 happens twice on 2026-11-01) */
	r = quiet_rules("22:00", "01:30", "America/New_York");
	v = decide(&r, NULL, ev, &mail, utc(2026, 11, 1, 4, 0)); /* 00:00 EDT */
	assert_int_equal(v.action, NOTIFY_HOLD);
	assert_int_equal(v.until_us, utc(2026, 11, 1, 5, 30)); /* the first 01:30 (EDT) */
	/* 01:10 EST, in the repeated hour after the first 01:30 went by */
	v = decide(&r, NULL, ev, &mail, utc(2026, 11, 1, 6, 10));
	assert_int_equal(v.action, NOTIFY_HOLD);
	assert_int_equal(v.until_us, utc(2026, 11, 1, 6, 30)); /* the second 01:30 (EST) */
	assert_true(v.until_us > utc(2026, 11, 1, 6, 10));
	json_decref(ev);
}

static void test_batch(void **state)
{
	struct notify_rules r;
	struct notify_target mail = target(NOTIFY_CHANNEL_EMAIL, "me@example.com");
	json_t *low = event("t", 1, 1, "a"), *mid = event("t", 2, 2, "b");
	struct notify_verdict v;
	int64_t now = utc(2026, 1, 15, 12, 17);

	(void)state;
	notify_rules_defaults(&r);
	v = decide(&r, NULL, low, &mail, now);
	assert_int_equal(v.action, NOTIFY_BATCH);
	assert_string_equal(v.rule, "batch");
	assert_int_equal(v.until_us, utc(2026, 1, 15, 13, 0));
	has(v.reason, "priority 1 is below 2: batched into the digest sent every 1h (next at "
		      "2026-01-15T13:00:00Z)");
	assert_int_equal(decide(&r, NULL, mid, &mail, now).action, NOTIFY_SEND);
	/* at a flush instant, the next one */
	assert_int_equal(notify_batch_flush_at(&r, utc(2026, 1, 15, 13, 0)),
			 utc(2026, 1, 15, 14, 0));
	r = rules_of("{\"batch\": {\"below_priority\": 3, \"every\": \"15m\"}}");
	v = decide(&r, NULL, mid, &mail, now);
	assert_int_equal(v.action, NOTIFY_BATCH);
	assert_int_equal(v.until_us, utc(2026, 1, 15, 12, 30));
	r.batch_below_priority = 0;
	assert_int_equal(notify_batch_flush_at(&r, now), now);
	assert_int_equal(decide(&r, NULL, low, &mail, now).action, NOTIFY_SEND);
	json_decref(low);
	json_decref(mid);
}

static void test_rate_limit(void **state)
{
	struct notify_rules r = rules_of("{\"rate_limit\": {\"count\": 3, \"per\": \"1h\"}}");
	struct notify_target sms = target(NOTIFY_CHANNEL_SMS, "+15551234567");
	struct notify_target sms2 = target(NOTIFY_CHANNEL_SMS, "+15557654321");
	struct notify_state *s = notify_state_new(0, 0);
	json_t *ev = event("t", 3, 1, "a");
	struct notify_verdict v;
	int64_t t0 = utc(2026, 1, 15, 12, 0);

	(void)state;
	notify_state_note_send(s, "sms +15551234567", t0);
	notify_state_note_send(s, "sms +15551234567", t0 + 10 * MIN);
	assert_int_equal(decide(&r, s, ev, &sms, t0 + 20 * MIN).action, NOTIFY_SEND);
	notify_state_note_send(s, "sms +15551234567", t0 + 20 * MIN);
	v = decide(&r, s, ev, &sms, t0 + 30 * MIN);
	assert_int_equal(v.action, NOTIFY_SUPPRESS);
	assert_string_equal(v.rule, "rate_limit");
	assert_int_equal(v.until_us, t0 + HOUR);
	has(v.reason, "3 messages went to sms +15551234567 in the last 1h (limit 3 per 1h); the "
		      "next is allowed at 2026-01-15T13:00:00Z");
	/* another recipient has its own budget */
	assert_int_equal(decide(&r, s, ev, &sms2, t0 + 30 * MIN).action, NOTIFY_SEND);
	/* the window slides: the first send leaves it at t0 + 1h */
	assert_int_equal(decide(&r, s, ev, &sms, t0 + HOUR - 1).action, NOTIFY_SUPPRESS);
	assert_int_equal(decide(&r, s, ev, &sms, t0 + HOUR).action, NOTIFY_SEND);
	notify_state_note_send(s, "sms +15551234567", t0 + HOUR);
	v = decide(&r, s, ev, &sms, t0 + HOUR + MIN);
	assert_int_equal(v.action, NOTIFY_SUPPRESS);
	assert_int_equal(v.until_us, t0 + 10 * MIN + HOUR);
	/* a label given by the caller is used as is */
	notify_decide(&r, s, ev, &sms, "someone else", t0 + 30 * MIN, &v);
	assert_int_equal(v.action, NOTIFY_SEND);
	/* no limit */
	r.rate_count = 0;
	assert_int_equal(decide(&r, s, ev, &sms, t0 + 30 * MIN).action, NOTIFY_SEND);
	json_decref(ev);
	notify_state_free(s);
}

/* min_priority -> dedupe -> quiet hours -> batch -> rate limit */
static void test_order(void **state)
{
	struct notify_rules r = rules_of(
		"{\"min_priority\": {\"sms\": 2}, \"quiet_hours\": {\"start\": \"22:00\", \"end\": "
		"\"07:00\", \"tz\": \"UTC\"}, \"rate_limit\": {\"count\": 1, \"per\": \"1h\"}}");
	struct notify_target sms = target(NOTIFY_CHANNEL_SMS, "+15551234567");
	struct notify_target mail = target(NOTIFY_CHANNEL_EMAIL, "me@example.com");
	struct notify_state *s = notify_state_new(0, 0);
	json_t *low = event("t", 1, 1, "a"), *a = event("t", 3, 2, "b"),
	       *dup = event("t", 3, 2, "c");
	int64_t night = utc(2026, 1, 15, 23, 0), day = utc(2026, 1, 15, 12, 0);

	(void)state;
	notify_state_note_event_json(s, a, night - MIN);
	notify_state_note_send(s, "sms +15551234567", night - MIN);
	notify_state_note_send(s, "email me@example.com", day - MIN);
	/* below the minimum beats everything */
	assert_string_equal(decide(&r, s, low, &sms, night).rule, "min_priority");
	/* a duplicate is dropped, not held */
	assert_string_equal(decide(&r, s, dup, &sms, night).rule, "dedupe");
	/* held at night, though the rate limit would refuse now */
	assert_string_equal(decide(&r, s, a, &sms, night).rule, "quiet_hours");
	/* low priority at night: held, not batched */
	assert_string_equal(decide(&r, s, low, &mail, night).rule, "quiet_hours");
	/* by day: batched before the rate limit counts */
	assert_string_equal(decide(&r, s, low, &mail, day).rule, "batch");
	assert_string_equal(decide(&r, s, a, &mail, day).rule, "rate_limit");
	json_decref(low);
	json_decref(a);
	json_decref(dup);
	notify_state_free(s);
}

/* ---- state -------------------------------------------------------------- */

static void test_state_rebuild(void **state)
{
	struct notify_rules r = rules_of("{\"rate_limit\": {\"count\": 2, \"per\": \"1h\"}, "
					 "\"batch\": null}");
	struct notify_target sms = target(NOTIFY_CHANNEL_SMS, "+15551234567");
	struct notify_state *live = notify_state_new(0, 0), *rebuilt = notify_state_new(0, 0);
	json_t *ev[3] = {event("t", 3, 1, "e0"), event("t", 3, 2, "e1"), event("t", 3, 1, "e2")};
	int64_t t0 = utc(2026, 1, 15, 12, 0), at[2] = {t0, t0 + 5 * MIN};

	(void)state;
	/* live: two events sent */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(decide(&r, live, ev[i], &sms, at[i]).action, NOTIFY_SEND);
		notify_state_note_event_json(live, ev[i], at[i]);
		notify_state_note_send(live, "sms +15551234567", at[i]);
	}
	/* rebuilt from the record, newest first, ids and hashes as stored */
	for (int i = 1; i >= 0; i--) {
		notify_state_note_event(rebuilt, "t", notify_event_fingerprint(ev[i]),
					notify_event_identity(ev[i]), at[i]);
		notify_state_note_send(rebuilt, "sms +15551234567", at[i]);
	}
	/* the same note twice (replayed) counts once for dedupe */
	notify_state_note_event_json(rebuilt, ev[0], at[0]);
	assert_int_equal(notify_state_events(rebuilt), 2);
	assert_int_equal(notify_state_sends(rebuilt), 2);
	for (int64_t now = t0 + 6 * MIN; now < t0 + 2 * HOUR; now += 7 * MIN) {
		struct notify_verdict a = decide(&r, live, ev[2], &sms, now);
		struct notify_verdict b = decide(&r, rebuilt, ev[2], &sms, now);

		assert_int_equal(a.action, b.action);
		assert_string_equal(a.rule, b.rule);
		assert_int_equal(a.until_us, b.until_us);
	}
	/* what they say: a duplicate of e0 first, then rate limited, then free */
	assert_string_equal(decide(&r, rebuilt, ev[2], &sms, t0 + 6 * MIN).rule, "dedupe");
	assert_string_equal(decide(&r, rebuilt, ev[2], &sms, t0 + 11 * MIN).rule, "rate_limit");
	assert_int_equal(decide(&r, rebuilt, ev[2], &sms, t0 + 65 * MIN).action, NOTIFY_SEND);
	for (int i = 0; i < 3; i++)
		json_decref(ev[i]);
	notify_state_free(live);
	notify_state_free(rebuilt);
	notify_state_free(NULL);
}

static void test_state_prune_and_caps(void **state)
{
	struct notify_rules r = rules_of("{\"batch\": null}");
	struct notify_target mail = target(NOTIFY_CHANNEL_EMAIL, "me@example.com");
	struct notify_state *s = notify_state_new(3, 4);
	json_t *ev[5];
	int64_t t0 = utc(2026, 1, 15, 12, 0);
	char id[8];

	(void)state;
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof id, "e%d", i);
		ev[i] = event("t", 3, i, id);
	}
	/* caps: the oldest entries go */
	for (int i = 0; i < 5; i++) {
		notify_state_note_event_json(s, ev[i], t0 + i * S);
		notify_state_note_send(s, "email me@example.com", t0 + i * S);
	}
	assert_int_equal(notify_state_events(s), 3);
	assert_int_equal(notify_state_sends(s), 4);
	{
		/* e0 and e1 are forgotten, e2..e4 remembered */
		json_t *again0 = event("t", 3, 0, "x0"), *again4 = event("t", 3, 4, "x4");

		assert_int_equal(decide(&r, s, again0, &mail, t0 + MIN).action, NOTIFY_SEND);
		assert_string_equal(decide(&r, s, again4, &mail, t0 + MIN).rule, "dedupe");
		json_decref(again0);
		json_decref(again4);
	}
	/* prune: nothing expired yet */
	notify_state_prune(s, &r, t0 + 5 * MIN);
	assert_int_equal(notify_state_events(s), 3);
	assert_int_equal(notify_state_sends(s), 4);
	/* past the dedupe window (10 min) but inside the rate window (1 h) */
	notify_state_prune(s, &r, t0 + 10 * MIN + 3 * S);
	assert_int_equal(notify_state_events(s), 1); /* only e4 (t0 + 4 s) */
	assert_int_equal(notify_state_sends(s), 4);
	notify_state_prune(s, &r, t0 + HOUR + 2 * S);
	assert_int_equal(notify_state_events(s), 0);
	assert_int_equal(notify_state_sends(s), 2);
	notify_state_prune(s, &r, t0 + 2 * HOUR);
	assert_int_equal(notify_state_sends(s), 0);
	/* refilled after pruning */
	notify_state_note_send(s, "email me@example.com", t0);
	assert_int_equal(notify_state_sends(s), 1);
	/* with no rate limit, sends are not kept */
	r.rate_count = 0;
	notify_state_prune(s, &r, t0 + 1);
	assert_int_equal(notify_state_sends(s), 0);
	for (int i = 0; i < 5; i++)
		json_decref(ev[i]);
	notify_state_free(s);
	assert_int_equal(notify_state_events(NULL), 0);
}

/* A big state stays bounded and answers. */
static void test_state_many(void **state)
{
	struct notify_rules r;
	struct notify_state *s = notify_state_new(0, 0);
	struct notify_target mail = target(NOTIFY_CHANNEL_EMAIL, "me@example.com");
	json_t *ev = event("t", 3, 1, "e");
	int64_t t0 = utc(2026, 1, 15, 12, 0);
	char label[64];

	(void)state;
	notify_rules_defaults(&r);
	for (int i = 0; i < 20000; i++) {
		snprintf(label, sizeof label, "email u%d@example.com", i % 50);
		notify_state_note_send(s, label, t0 + i * S);
		notify_state_note_event(s, "t", (uint64_t)i, (uint64_t)i, t0 + i * S);
	}
	assert_int_equal(notify_state_events(s), NOTIFY_STATE_EVENTS_MAX);
	assert_int_equal(notify_state_sends(s), NOTIFY_STATE_SENDS_MAX);
	assert_int_equal(decide(&r, s, ev, &mail, t0 + 20000 * S).action, NOTIFY_SEND);
	json_decref(ev);
	notify_state_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_rules_parse),
		cmocka_unit_test(test_rules_errors),
		cmocka_unit_test(test_fingerprint_identity),
		cmocka_unit_test(test_min_priority),
		cmocka_unit_test(test_dedupe),
		cmocka_unit_test(test_quiet_hours),
		cmocka_unit_test(test_quiet_hours_dst),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_state_rebuild),
		cmocka_unit_test(test_state_prune_and_caps),
		cmocka_unit_test(test_state_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
