/*
 * test_notify_message.c - the text people read: one message per event type
 * (SMS within 160 code points, one-line subject within 200 bytes, plain text
 * body with every detail and the link), digests, LLM-written text, cuts on
 * UTF-8 boundaries, and odd events that must not crash anything.
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
#include "common/xalloc.h"
#include "domain/notify_message.h"

#define ELL "\xe2\x80\xa6"

static json_t *J(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &je);

	if (!j)
		fail_msg("bad test JSON (%s): %s", je.text, text);
	return j;
}

static size_t cps(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static bool valid_utf8(const char *s)
{
	json_t *j = json_string(s);
	bool ok = j != NULL;

	json_decref(j);
	return ok;
}

static void has(const char *what, const char *s, const char *want)
{
	if (!s || !strstr(s, want))
		fail_msg("%s \"%s\" lacks \"%s\"", what, s ? s : "(null)", want);
}

static void lacks(const char *what, const char *s, const char *bad)
{
	if (s && strstr(s, bad))
		fail_msg("%s \"%s\" holds \"%s\"", what, s, bad);
}

/* The invariants of every message. */
static void check_shape(const struct notify_message *m)
{
	assert_non_null(m->title);
	assert_non_null(m->sms);
	assert_non_null(m->subject);
	assert_non_null(m->body);
	assert_true(cps(m->sms) <= NOTIFY_SMS_MAX);
	assert_true(strlen(m->subject) <= NOTIFY_SUBJECT_MAX);
	assert_true(strlen(m->body) < NOTIFY_BODY_MAX);
	assert_null(strchr(m->subject, '\n'));
	assert_null(strchr(m->title, '\n'));
	assert_null(strchr(m->sms, '\n'));
	assert_true(valid_utf8(m->title));
	assert_true(valid_utf8(m->sms));
	assert_true(valid_utf8(m->subject));
	assert_true(valid_utf8(m->body));
	assert_true(m->priority >= 1 && m->priority <= 5);
	if (m->link)
		has("body", m->body, m->link);
}

static void render(const char *text, struct notify_message *m)
{
	json_t *ev = J(text);
	struct err e;

	err_clear(&e);
	if (notify_message_render(ev, m, &e) != ERR_OK)
		fail_msg("render refused %s: %s", text, e.msg);
	check_shape(m);
	json_decref(ev);
}

static const char web_event[] =
	"{\"task_id\": \"t-1\", \"event_type\": \"web_content_change\", \"priority\": 3,"
	" \"description\": \"Watch TechCrunch for AI\", \"timestamp\": \"2026-11-25T10:00:00Z\","
	" \"data\": {\"url\": \"https://www.techcrunch.com/ai\", \"final_url\": "
	"\"https://techcrunch.com/ai\","
	" \"keywords_found\": [\"AI\", \"machine learning\"],"
	" \"snippets\": [\"OpenAI released a new AI model today.\"],"
	" \"added_lines\": [\"OpenAI released a new AI model today.\", \"More soon.\"],"
	" \"added_count\": 7, \"removed_lines\": 2, \"first_check\": false,"
	" \"title\": \"TechCrunch AI\"}}";

static void test_web_change(void **state)
{
	struct notify_message m;

	(void)state;
	render(web_event, &m);
	assert_string_equal(m.link, "https://www.techcrunch.com/ai");
	assert_int_equal(m.priority, 3);
	has("title", m.title, "AI, machine learning on techcrunch.com");
	has("sms", m.sms, "techcrunch.com changed, mentions AI, machine learning");
	has("sms", m.sms, "OpenAI released");
	assert_true(cps(m.sms) <= NOTIFY_SMS_SOFT);
	/* the link ends the SMS */
	assert_string_equal(m.sms + strlen(m.sms) - strlen(m.link), m.link);
	has("subject", m.subject, "techcrunch.com changed");
	has("body", m.body, "Keywords found: AI, machine learning");
	has("body", m.body, "- OpenAI released a new AI model today.");
	has("body", m.body, "+ More soon.");
	has("body", m.body, "(7 added lines in all)");
	has("body", m.body, "2 lines were removed");
	has("body", m.body, "Link: https://www.techcrunch.com/ai");
	has("body", m.body, "Task: Watch TechCrunch for AI");
	has("body", m.body, "Event: web_content_change, priority 3");
	notify_message_cleanup(&m);
	assert_null(m.sms);
	notify_message_cleanup(&m); /* twice is fine */
	notify_message_cleanup(NULL);
}

static void test_web_change_long_multibyte(void **state)
{
	struct notify_message m;
	char *ev = xmalloc(20000), *snip = xmalloc(10000);

	(void)state;
	snip[0] = '\0';
	for (int i = 0; i < 300; i++)
		strcat(snip, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 "); /* é€😀 */
	snprintf(ev, 20000,
		 "{\"event_type\": \"web_content_change\", \"data\": {\"url\": "
		 "\"https://example.org/p\", \"snippets\": [\"%s\"]}}",
		 snip);
	render(ev, &m);
	assert_true(cps(m.sms) <= NOTIFY_SMS_SOFT);
	assert_true(cps(m.sms) >= NOTIFY_SMS_SOFT - 4);
	has("sms", m.sms, ELL " https://example.org/p");
	has("sms", m.sms, "example.org changed: ");
	assert_int_equal(m.priority, 3); /* the type's priority */
	notify_message_cleanup(&m);
	free(ev);
	free(snip);
}

static void test_text_cut(void **state)
{
	char s160[1000] = "", s161[1100];
	char *c;

	(void)state;
	/* 160 code points of 1-4 bytes each */
	for (int i = 0; i < 40; i++)
		strcat(s160, "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	assert_int_equal(cps(s160), 160);
	c = notify_text_cut(s160, 160);
	assert_string_equal(c, s160);
	free(c);
	snprintf(s161, sizeof s161, "%sz", s160);
	c = notify_text_cut(s161, 160);
	assert_int_equal(cps(c), 160);
	assert_true(valid_utf8(c));
	assert_int_equal(strncmp(c, s160, strlen(s160) - 4), 0); /* the 😀 went */
	assert_string_equal(c + strlen(c) - 3, ELL);
	free(c);
	/* a cut inside a multibyte run never splits it */
	for (size_t max = 1; max < 20; max++) {
		c = notify_text_cut(s160, max);
		assert_int_equal(cps(c), max);
		assert_true(valid_utf8(c));
		free(c);
	}
	c = notify_text_cut("hello", 0);
	assert_string_equal(c, "");
	free(c);
	c = notify_text_cut("hello", 1);
	assert_string_equal(c, ELL);
	free(c);
	c = notify_text_cut("hello world", 7); /* no space before the ellipsis */
	assert_string_equal(c, "hello" ELL);
	free(c);
	c = notify_text_cut("ab\xff\xfe", 10); /* bad UTF-8 repaired */
	assert_true(valid_utf8(c));
	free(c);
	c = notify_text_cut(NULL, 10);
	assert_string_equal(c, "");
	free(c);
}

static void test_threshold(void **state)
{
	struct notify_message m;

	(void)state;
	render("{\"event_type\": \"threshold_breach\", \"priority\": 4, \"description\": \"BTC\","
	       " \"data\": {\"metric\": \"bitcoin_price\", \"current_value\": 61234,"
	       " \"previous_value\": 59000.5, \"threshold\": 60000, \"comparison\": \"above\","
	       " \"source_url\": \"https://api.example.com/price\"}}",
	       &m);
	has("sms", m.sms, "Bitcoin price is $61,234, above your 60,000 threshold");
	has("sms", m.sms, "https://api.example.com/price");
	assert_string_equal(m.title, "Bitcoin price: $61,234");
	has("body", m.body, "Previous value: 59,000.50");
	has("body", m.body, "Comparison: above");
	assert_int_equal(m.priority, 4);
	notify_message_cleanup(&m);

	render("{\"event_type\": \"threshold_breach\", \"data\": {\"metric\": \"temperature\","
	       " \"current_value\": -3.25, \"threshold\": 0, \"comparison\": \"crosses_below\"}}",
	       &m);
	has("sms", m.sms, "Temperature is -3.25, below your 0 threshold");
	assert_null(m.link);
	notify_message_cleanup(&m);

	/* no comparison: inferred; tiny values */
	render("{\"event_type\": \"threshold_breach\", \"data\": {\"metric\": \"error_rate\","
	       " \"current_value\": 0.00042, \"threshold\": 0.0001}}",
	       &m);
	has("sms", m.sms, "Error rate is 0.00042, above your 0.0001 threshold");
	notify_message_cleanup(&m);

	/* odd types */
	render("{\"event_type\": \"threshold_breach\", \"data\": {\"metric\": 5,"
	       " \"current_value\": \"high\", \"threshold\": [1]}}",
	       &m);
	has("sms", m.sms, "The watched value is high");
	notify_message_cleanup(&m);
	render("{\"event_type\": \"threshold_breach\"}", &m);
	has("sms", m.sms, "crossed its threshold");
	notify_message_cleanup(&m);
}

static void test_digest_event(void **state)
{
	struct notify_message m;

	(void)state;
	render("{\"event_type\": \"daily_news_digest\", \"priority\": 2, \"data\": {"
	       " \"digest_date\": \"2026-11-25\", \"total_items\": 12,"
	       " \"news_summaries\": [{\"source\": \"https://techcrunch.com\", \"title\": "
	       "\"TechCrunch\", \"kind\": \"rss\", \"feed_url\": \"https://techcrunch.com/feed\","
	       " \"headlines\": [\"A\", \"B\"], \"items\": [{\"title\": \"Chips get faster\", "
	       "\"link\": \"https://techcrunch.com/1\"}, {\"title\": \"Robots\", \"link\": "
	       "\"https://techcrunch.com/2\"}]},"
	       " {\"source\": \"https://bbc.com\", \"headlines\": [\"Rain\", \"Sun\"]},"
	       " {\"source\": \"https://down.example\", \"error\": \"timed out\"}]}}",
	       &m);
	assert_string_equal(m.title, "News digest: 12 new items");
	has("sms", m.sms, "News digest: 12 new items (2026-11-25): Chips get faster; Robots; Rain");
	assert_string_equal(m.link, "https://techcrunch.com/1");
	has("body", m.body, "TechCrunch\n- Chips get faster\n  https://techcrunch.com/1\n");
	has("body", m.body, "- Sun\n");
	has("body", m.body, "Error: timed out");
	notify_message_cleanup(&m);

	/* headlines only, no link but the source */
	render("{\"event_type\": \"daily_news_digest\", \"data\": {\"news_summaries\": "
	       "[{\"source\": \"https://bbc.com/news\", \"headlines\": [\"Only one\"]}]}}",
	       &m);
	assert_string_equal(m.title, "News digest: 1 new item");
	assert_string_equal(m.link, "https://bbc.com/news");
	notify_message_cleanup(&m);
	render("{\"event_type\": \"daily_news_digest\", \"data\": {\"news_summaries\": 7}}", &m);
	assert_string_equal(m.title, "News digest");
	notify_message_cleanup(&m);
}

static void test_trigger_failed_paused(void **state)
{
	struct notify_message m;

	(void)state;
	render("{\"event_type\": \"scheduled_trigger\", \"description\": \"Morning reminder\","
	       " \"data\": {\"trigger_time\": \"2026-11-25T08:00:00+01:00\", \"schedule_config\":"
	       " {\"type\": \"daily\", \"message\": \"Take your vitamins\", \"action\": "
	       "\"send_reminder\"}, \"catch_up\": true, \"missed\": 2}}",
	       &m);
	assert_string_equal(m.title, "Take your vitamins");
	assert_string_equal(m.sms, "Reminder: Take your vitamins: action Send reminder");
	has("body", m.body, "Due at: 2026-11-25T08:00:00+01:00");
	has("body", m.body, "Schedule: Morning reminder");
	has("body", m.body, "catches up on 2 missed run(s)");
	assert_null(m.link);
	assert_int_equal(m.priority, 2);
	notify_message_cleanup(&m);
	render("{\"event_type\": \"scheduled_trigger\", \"data\": {\"message\": \"Stand up\"}}",
	       &m);
	assert_string_equal(m.sms, "Reminder: Stand up");
	notify_message_cleanup(&m);
	render("{\"event_type\": \"scheduled_trigger\"}", &m);
	has("sms", m.sms, "Reminder: a scheduled task came due");
	notify_message_cleanup(&m);

	render("{\"event_type\": \"task_check_failed\", \"task_id\": \"t9\", \"description\": "
	       "\"Watch prices\", \"data\": {\"error\": \"example.org did not answer in 30 s; "
	       "check the URL\", \"failure\": \"timeout\", \"url\": \"https://example.org/\","
	       " \"consecutive_failures\": 2, \"max_failures\": 5, \"status_code\": 504}}",
	       &m);
	has("sms", m.sms, "Check of \"Watch prices\" failed (2 of 5 before it pauses)");
	has("sms", m.sms, "did not answer");
	has("body", m.body, "Failure: timeout");
	has("body", m.body, "HTTP status: 504");
	assert_string_equal(m.link, "https://example.org/");
	notify_message_cleanup(&m);

	render("{\"event_type\": \"task_paused\", \"task_id\": \"t9\", \"data\": {\"reason\": "
	       "\"5 failed checks in a row\", \"automatic\": true}}",
	       &m);
	has("sms", m.sms, "Task \"t9\" was paused after repeated failed checks: 5 failed");
	has("body", m.body, "resume");
	notify_message_cleanup(&m);
	render("{\"event_type\": \"task_paused\", \"description\": \"x\"}", &m);
	assert_string_equal(m.sms, "Task \"x\" was paused");
	notify_message_cleanup(&m);
}

static void test_generic_and_odd(void **state)
{
	struct notify_message m;
	json_t *ev;
	struct err e;

	(void)state;
	render("{\"event_type\": \"stock_alert\", \"priority\": 9, \"description\": \"Stocks\","
	       " \"data\": {\"message\": \"ACME up 5%\", \"url\": \"https://acme.example\","
	       " \"n\": 1}}",
	       &m);
	assert_string_equal(m.title, "Stock alert");
	has("sms", m.sms, "Stock alert: Stocks: ACME up 5% https://acme.example");
	has("body", m.body, "\"n\": 1");
	assert_int_equal(m.priority, 5); /* clamped */
	notify_message_cleanup(&m);

	/* data of the wrong type, fields of the wrong types, control characters */
	render("{\"event_type\": \"web_content_change\", \"data\": [1, 2]}", &m);
	has("sms", m.sms, "a watched page changed");
	notify_message_cleanup(&m);
	render("{\"event_type\": \"web_content_change\", \"priority\": \"high\", \"data\": {"
	       "\"url\": 5, \"keywords_found\": \"AI\", \"snippets\": [1, null, \"x\\ny\"],"
	       " \"added_lines\": {}, \"added_count\": \"many\"}}",
	       &m);
	has("sms", m.sms, "x y");
	assert_int_equal(m.priority, 3);
	notify_message_cleanup(&m);
	render("{\"event_type\": \"web_content_change\", \"data\": {\"url\": \"https://a.b/\\r\\n"
	       "Bcc: x\", \"keywords_found\": [\"a\\u0001b\"]}}",
	       &m);
	assert_null(strchr(m.subject, '\r'));
	assert_null(m.link); /* not a single token: no link */
	notify_message_cleanup(&m);
	render("{\"event_type\": \"\\u00e9v\\u00e9nement\", \"priority\": 2.7, \"data\": null}",
	       &m);
	assert_int_equal(m.priority, 2);
	notify_message_cleanup(&m);

	/* not an event */
	const char *bad[] = {"[]", "\"x\"", "{}", "{\"event_type\": 5}", "{\"event_type\": \"\"}"};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ev = J(bad[i]);
		err_clear(&e);
		assert_int_equal(notify_message_render(ev, &m, &e), ERR_INVALID);
		has("error", e.msg, "event_type");
		assert_null(m.sms);
		json_decref(ev);
	}
	assert_int_equal(notify_message_render(NULL, &m, NULL), ERR_INVALID);
}

static void test_lengths(void **state)
{
	struct notify_message m;
	char *ev = xmalloc(300000), *big = xmalloc(150000), *url = xmalloc(2000);
	size_t o = 0;

	(void)state;
	/* a huge page change: the body is capped, the SMS stays short */
	o += (size_t)sprintf(big + o, "[");
	for (int i = 0; i < 50; i++)
		o += (size_t)sprintf(big + o, "%s\"%0*d\"", i ? "," : "", 2000, i);
	sprintf(big + o, "]");
	snprintf(ev, 300000,
		 "{\"event_type\": \"web_content_change\", \"description\": \"%0*d\", \"data\": "
		 "{\"url\": \"https://x.example/\", \"added_lines\": %s, \"snippets\": %s}}",
		 500, 7, big, big);
	render(ev, &m);
	assert_true(cps(m.sms) <= NOTIFY_SMS_SOFT);
	notify_message_cleanup(&m);

	/* a subject cut in the middle of multibyte text stays valid and ≤ 200 bytes */
	{
		char kw[2000] = "";

		for (int i = 0; i < 100; i++)
			strcat(kw, "\xe2\x82\xac\xe2\x82\xac");
		snprintf(ev, 300000,
			 "{\"event_type\": \"web_content_change\", \"data\": {\"url\": "
			 "\"https://x.example/\", \"keywords_found\": [\"%s\"]}}",
			 kw);
		render(ev, &m);
		assert_true(strlen(m.subject) <= NOTIFY_SUBJECT_MAX);
		assert_true(strlen(m.subject) >= NOTIFY_SUBJECT_MAX - 5);
		assert_string_equal(m.subject + strlen(m.subject) - 3, ELL);
		assert_true(cps(m.title) <= 80);
		notify_message_cleanup(&m);
	}

	/* a long link (over 120 code points) is kept: the SMS goes past 160 */
	memset(url, 'p', 1999);
	memcpy(url, "https://x.example/", 18);
	url[300] = '\0';
	snprintf(ev, 300000,
		 "{\"event_type\": \"web_content_change\", \"data\": {\"url\": \"%s\", "
		 "\"snippets\": "
		 "[\"something new\"]}}",
		 url);
	render(ev, &m);
	has("sms", m.sms, url);
	assert_true(cps(m.sms) > NOTIFY_SMS_SOFT);
	notify_message_cleanup(&m);
	/* a link over half the SMS maximum is left out of the SMS, kept in the body */
	url[1500] = '\0';
	memset(url + 300, 'q', 1200);
	snprintf(ev, 300000,
		 "{\"event_type\": \"web_content_change\", \"data\": {\"url\": \"%s\"}}", url);
	render(ev, &m);
	lacks("sms", m.sms, "qqqq");
	has("body", m.body, url);
	assert_true(cps(m.sms) <= NOTIFY_SMS_SOFT);
	notify_message_cleanup(&m);
	free(ev);
	free(big);
	free(url);
}

static void test_digest(void **state)
{
	json_t *ev[4];
	struct notify_message m;
	struct err e;

	(void)state;
	ev[0] = J(web_event);
	ev[1] = J("{\"event_type\": \"daily_news_digest\", \"priority\": 2, \"timestamp\": "
		  "\"2026-11-25T08:00:00Z\", \"data\": {\"total_items\": 3}}");
	ev[2] = J("{\"event_type\": \"web_content_change\", \"priority\": 1, \"data\": {\"url\": "
		  "\"https://b.example/\"}}");
	ev[3] = J("{\"event_type\": \"odd\", \"priority\": 1}");
	err_clear(&e);
	assert_int_equal(notify_message_digest((const json_t *const *)ev, 3, &m, &e), ERR_OK);
	check_shape(&m);
	assert_string_equal(m.title, "3 updates: 2 web changes, 1 digest");
	assert_string_equal(m.subject, "3 updates: 2 web changes, 1 digest");
	has("sms", m.sms, "3 updates: 2 web changes, 1 digest: techcrunch.com changed");
	assert_true(cps(m.sms) <= NOTIFY_SMS_SOFT);
	has("body", m.body,
	    "- techcrunch.com changed, mentions AI, machine learning (2026-11-25T10");
	has("body", m.body, "  https://www.techcrunch.com/ai\n");
	has("body", m.body, "- News digest: 3 new items (2026-11-25T08:00:00Z)\n");
	has("body", m.body, "- b.example changed\n  https://b.example/\n");
	assert_int_equal(m.priority, 3);
	assert_null(m.link); /* two different links */
	notify_message_cleanup(&m);

	assert_int_equal(notify_message_digest((const json_t *const *)ev + 2, 2, &m, &e), ERR_OK);
	assert_string_equal(m.title, "2 updates: 1 web change, 1 other event");
	assert_string_equal(m.link, "https://b.example/");
	notify_message_cleanup(&m);
	assert_int_equal(notify_message_digest((const json_t *const *)ev + 1, 1, &m, &e), ERR_OK);
	assert_string_equal(m.title, "1 update: 1 digest");
	notify_message_cleanup(&m);

	assert_int_equal(notify_message_digest((const json_t *const *)ev, 0, &m, &e), ERR_INVALID);
	{
		json_t *bad[2] = {ev[0], J("[]")};

		assert_int_equal(notify_message_digest((const json_t *const *)bad, 2, &m, &e),
				 ERR_INVALID);
		has("error", e.msg, "event 1");
		json_decref(bad[1]);
	}
	for (int i = 0; i < 4; i++)
		json_decref(ev[i]);
}

static void test_from_text(void **state)
{
	json_t *ev = J(web_event);
	struct notify_message m;
	struct err e;
	char longtext[1200] = "";

	(void)state;
	err_clear(&e);
	assert_int_equal(
		notify_message_from_text("Heads up: TechCrunch has\nnew AI news.", ev, &m, &e),
		ERR_OK);
	check_shape(&m);
	assert_string_equal(m.sms, "Heads up: TechCrunch has new AI news.");
	has("body", m.body, "Heads up: TechCrunch has\nnew AI news.\n");
	has("body", m.body, "Link: https://www.techcrunch.com/ai");
	has("title", m.title, "AI, machine learning on techcrunch.com");
	assert_string_equal(m.link, "https://www.techcrunch.com/ai");
	assert_int_equal(m.priority, 3);
	notify_message_cleanup(&m);

	for (int i = 0; i < 100; i++)
		strcat(longtext, "\xc3\xa9t\xc3\xa9 ");
	assert_int_equal(notify_message_from_text(longtext, NULL, &m, &e), ERR_OK);
	check_shape(&m);
	assert_int_equal(cps(m.sms), NOTIFY_SMS_SOFT);
	assert_null(m.link);
	assert_int_equal(m.priority, 1);
	notify_message_cleanup(&m);

	assert_int_equal(notify_message_from_text("", ev, &m, &e), ERR_INVALID);
	assert_int_equal(notify_message_from_text(NULL, ev, &m, &e), ERR_INVALID);
	json_decref(ev);
}

/* Events with fields of every type (a small deterministic fuzz): always a
 * well-formed message, never a crash. */
static void test_odd_fields(void **state)
{
	static const char *const types[] = {"web_content_change",
					    "daily_news_digest",
					    "scheduled_trigger",
					    "threshold_breach",
					    "task_check_failed",
					    "task_paused",
					    "other"};
	static const char *const keys[] = {
		"url",
		"final_url",
		"keywords_found",
		"snippets",
		"added_lines",
		"added_count",
		"removed_lines",
		"title",
		"news_summaries",
		"total_items",
		"digest_date",
		"message",
		"action",
		"schedule_config",
		"metric",
		"current_value",
		"threshold",
		"comparison",
		"previous_value",
		"source_url",
		"error",
		"automatic",
		"reason",
		"consecutive_failures",
	};
	static const char *const values[] = {
		"null",
		"true",
		"0",
		"-1",
		"1e300",
		"\"\"",
		"\"x\\ny\"",
		"[]",
		"{}",
		"[null, 1, \"a\", [], {}]",
		"[{\"title\": 5, \"link\": []}]",
		"[{\"items\": [{\"title\": \"t\"}], \"headlines\": 3}]",
		"\"https://x.example/\\u00e9\"",
		"{\"message\": [], \"action\": 1}",
	};
	uint64_t x = 2463534242u;

	(void)state;
	for (int round = 0; round < 3000; round++) {
		json_t *data = json_object(), *ev;
		struct notify_message m;

		for (int k = 0; k < 6; k++) {
			json_t *v;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			v = J(values[(x >> 8) % (sizeof values / sizeof values[0])]);
			json_object_set_new(data, keys[x % (sizeof keys / sizeof keys[0])], v);
		}
		ev = json_pack("{s:s, s:o, s:i}", "event_type", types[round % 7], "data", data,
			       "priority", (int)(x % 9) - 2);
		assert_int_equal(notify_message_render(ev, &m, NULL), ERR_OK);
		check_shape(&m);
		notify_message_cleanup(&m);
		json_decref(ev);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_web_change),
		cmocka_unit_test(test_web_change_long_multibyte),
		cmocka_unit_test(test_text_cut),
		cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_digest_event),
		cmocka_unit_test(test_trigger_failed_paused),
		cmocka_unit_test(test_generic_and_odd),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_from_text),
		cmocka_unit_test(test_odd_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
