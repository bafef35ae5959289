/* test_task.c - task configs, commands and the fold of task events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../test_util.h"
#include "app/tasks.h"
#include "common/json.h"
#include "domain/task.h"
#include "domain/task_config.h"
#include "engine/netguard.h"

#define ID "6f1c7a52-3c1e-4f7e-9a0b-2d4c8e9f1a3b"

/* The four config examples of the seed, byte for byte. */
static const char seed_web_monitor[] =
	"{\n"
	"  \"urls\": [\"https://techcrunch.com\", \"https://news.ycombinator.com\"],\n"
	"  \"keywords\": [\"artificial intelligence\", \"AI\", \"machine learning\"],\n"
	"  \"check_interval_minutes\": 30,\n"
	"  \"notification\": {\n"
	"    \"method\": \"send_sms\",\n"
	"    \"phone_number\": \"+1234567890\"\n"
	"  }\n"
	"}";
static const char seed_schedule[] = "{\n"
				    "  \"type\": \"daily\",\n"
				    "  \"hour\": 8,\n"
				    "  \"minute\": 0,\n"
				    "  \"action\": \"news_digest\",\n"
				    "  \"notification\": {\n"
				    "    \"method\": \"send_sms\",\n"
				    "    \"phone_number\": \"+1234567890\"\n"
				    "  }\n"
				    "}";
static const char seed_news_digest[] =
	"{\n"
	"  \"news_urls\": [\"https://techcrunch.com\", \"https://bbc.com/news\"],\n"
	"  \"hour\": 8,\n"
	"  \"categories\": [\"technology\", \"business\"],\n"
	"  \"notification\": {\n"
	"    \"method\": \"send_sms\",\n"
	"    \"phone_number\": \"+1234567890\"\n"
	"  }\n"
	"}";
static const char seed_threshold[] = "{\n"
				     "  \"metric\": \"bitcoin_price\",\n"
				     "  \"threshold\": 50000,\n"
				     "  \"check_interval_minutes\": 15,\n"
				     "  \"notification\": {\n"
				     "    \"method\": \"send_sms\",\n"
				     "    \"phone_number\": \"+1234567890\"\n"
				     "  }\n"
				     "}";

/* ---- helpers --------------------------------------------------------------- */

static json_t *J(const char *text)
{
	struct err e;
	json_t *j = json_parse(text, (size_t)-1, &e);

	if (!j)
		fail_msg("bad test JSON %s: %s", text, e.msg);
	return j;
}

static json_t *valid(int type, const char *text)
{
	json_t *in = J(text), *out;
	struct err e;

	err_clear(&e);
	out = task_config_validate(type, in, &e);
	if (!out)
		fail_msg("%s config %s was refused: %s", task_type_name(type), text, e.msg);
	json_decref(in);
	return out;
}

/* json_equal that releases its second argument (a fresh J()). */
static bool eq(const json_t *a, json_t *b)
{
	bool same = json_equal(a, b);

	json_decref(b);
	return same;
}

/* Assert the normalised form of `text` equals `want` exactly. */
static void normalises_to(int type, const char *text, const char *want)
{
	json_t *out = valid(type, text), *w = J(want);

	if (!json_equal(out, w)) {
		char *got = json_to_text(out);

		fail_msg("%s normalised to %s, want %s", text, got, want);
	}
	json_decref(out);
	json_decref(w);
}

static void msg_has(const char *what, const char *msg, const char *want)
{
	if (want && !strstr(msg, want))
		fail_msg("%s: message \"%s\" lacks \"%s\"", what, msg, want);
}

struct reject {
	int type;
	const char *config;
	const char *want1, *want2; /* substrings of the message; NULL: none */
};

static void check_rejects(const struct reject *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_t *in = J(r[i].config), *out;
		struct err e;

		err_clear(&e);
		out = task_config_validate(r[i].type, in, &e);
		if (out)
			fail_msg("%s config %s was accepted", task_type_name(r[i].type),
				 r[i].config);
		assert_int_equal(e.code, ERR_INVALID);
		msg_has(r[i].config, e.msg, r[i].want1);
		msg_has(r[i].config, e.msg, r[i].want2);
		json_decref(in);
	}
}

static const char *msg_of(int type, const char *config)
{
	static struct err e;
	json_t *in = J(config), *out;

	err_clear(&e);
	out = task_config_validate(type, in, &e);
	json_decref(in);
	if (out)
		fail_msg("%s was accepted", config);
	return e.msg;
}

/* ---- the seed's examples --------------------------------------------------- */

static void test_seed_web_monitor(void **state)
{
	json_t *in = J(seed_web_monitor), *out = valid(TASK_WEB_MONITOR, seed_web_monitor);

	(void)state;
	assert_true(json_equal(json_object_get(out, "urls"), json_object_get(in, "urls")));
	assert_true(json_equal(json_object_get(out, "keywords"), json_object_get(in, "keywords")));
	assert_int_equal(json_get_int(out, "check_interval_minutes", -1), 30);
	assert_true(json_equal(json_object_get(out, "notification"),
			       json_object_get(in, "notification")));
	assert_string_equal(json_get_str(out, "keywords_mode"), "any");
	assert_true(json_is_false(json_object_get(out, "notify_on_first_check")));
	/* every key given comes back unchanged */
	{
		const char *k;
		json_t *v;

		json_object_foreach(in, k, v)
			assert_true(json_equal(v, json_object_get(out, k)));
	}
	json_decref(in);
	json_decref(out);
}

static void test_seed_schedule(void **state)
{
	(void)state;
	normalises_to(
		TASK_SCHEDULE, seed_schedule,
		"{\"type\": \"daily\", \"hour\": 8, \"minute\": 0, \"action\": \"news_digest\","
		" \"notification\": {\"method\": \"send_sms\", \"phone_number\": "
		"\"+1234567890\"}, \"missed_run_policy\": \"once\"}");
}

static void test_seed_news_digest(void **state)
{
	(void)state;
	normalises_to(TASK_NEWS_DIGEST, seed_news_digest,
		      "{\"news_urls\": [\"https://techcrunch.com\", \"https://bbc.com/news\"],"
		      " \"hour\": 8, \"minute\": 0, \"max_items\": 10,"
		      " \"categories\": [\"technology\", \"business\"],"
		      " \"notification\": {\"method\": \"send_sms\", \"phone_number\": "
		      "\"+1234567890\"}}");
}

static void test_seed_threshold(void **state)
{
	(void)state;
	normalises_to(TASK_THRESHOLD_WATCH, seed_threshold,
		      "{\"metric\": \"bitcoin_price\", \"threshold\": 50000,"
		      " \"check_interval_minutes\": 15, \"comparison\": \"above\","
		      " \"hysteresis\": 0, \"cooldown_minutes\": 0, \"currency\": \"usd\","
		      " \"notification\": {\"method\": \"send_sms\", \"phone_number\": "
		      "\"+1234567890\"}}");
}

/* Given as a string holding the seed's text, as the MCP tool receives it. */
static void test_seed_as_strings_through_create(void **state)
{
	static const struct {
		const char *type, *text;
	} seeds[] = {{"web_monitor", seed_web_monitor},
		     {"schedule", seed_schedule},
		     {"news_digest", seed_news_digest},
		     {"threshold_watch", seed_threshold}};

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		json_t *cfg = json_string(seeds[i].text), *data = NULL;
		struct err e;

		err_clear(&e);
		if (task_decide_create(ID, seeds[i].type, "seed example", cfg,
				       "http://localhost:8000/process_background_feedback", NULL,
				       &data, &e) != ERR_OK)
			fail_msg("seed %s refused: %s", seeds[i].type, e.msg);
		assert_string_equal(json_get_str(data, "task_type"), seeds[i].type);
		assert_string_equal(json_get_str(data, "user_id"), "default");
		assert_string_equal(json_get_str(json_object_get(json_object_get(data, "config"),
								 "notification"),
						 "phone_number"),
				    "+1234567890");
		json_decref(cfg);
		json_decref(data);
	}
}

/* ---- defaults and normalisation ---------------------------------------------- */

static void test_defaults(void **state)
{
	(void)state;
	normalises_to(TASK_WEB_MONITOR, "{\"urls\": [\"http://example.com/a?b=1#c\"]}",
		      "{\"urls\": [\"http://example.com/a?b=1#c\"], \"keywords\": [],"
		      " \"keywords_mode\": \"any\", \"check_interval_minutes\": 30,"
		      " \"notify_on_first_check\": false}");
	normalises_to(TASK_NEWS_DIGEST, "{}",
		      "{\"news_urls\": [\"https://techcrunch.com\", "
		      "\"https://news.ycombinator.com\"], \"hour\": 8, \"minute\": 0,"
		      " \"max_items\": 10}");
	normalises_to(TASK_SCHEDULE, "{\"type\": \"interval\"}",
		      "{\"type\": \"interval\", \"minutes\": 60, \"missed_run_policy\": \"once\"}");
	normalises_to(TASK_SCHEDULE, "{\"type\": \"daily\"}",
		      "{\"type\": \"daily\", \"hour\": 8, \"minute\": 0, "
		      "\"missed_run_policy\": \"once\"}");
	normalises_to(TASK_SCHEDULE, "{\"type\": \"weekly\", \"days\": [\"mon\"]}",
		      "{\"type\": \"weekly\", \"days\": [\"mon\"], \"hour\": 8, \"minute\": 0,"
		      " \"missed_run_policy\": \"once\"}");
	/* the original's config/examples resource: metric_url + threshold_value */
	normalises_to(
		TASK_THRESHOLD_WATCH,
		"{\"metric_url\": \"https://api.example.com/btc\", \"threshold_value\": 100.5}",
		"{\"metric_url\": \"https://api.example.com/btc\", \"threshold\": 100.5,"
		" \"comparison\": \"above\", \"check_interval_minutes\": 15,"
		" \"hysteresis\": 0, \"cooldown_minutes\": 0}");
}

static void test_normalisation(void **state)
{
	json_t *out;

	(void)state;
	/* an integral real is an integer; null means "not given" */
	out = valid(TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], "
				      "\"check_interval_minutes\": 30.0, \"selector\": null}");
	assert_true(json_is_integer(json_object_get(out, "check_interval_minutes")));
	assert_int_equal(json_get_int(out, "check_interval_minutes", 0), 30);
	assert_null(json_object_get(out, "selector"));
	json_decref(out);

	/* weekdays: names, prefixes, numbers, 7 = Sunday; week order, no repeats */
	normalises_to(
		TASK_SCHEDULE,
		"{\"type\": \"weekly\", \"days\": [\"Friday\", \"wed\", 1, \"MONDAY\", 7, "
		"\"tues\", \"Thurs\"], \"hour\": 9}",
		"{\"type\": \"weekly\", \"days\": [\"sun\", \"mon\", \"tue\", \"wed\", \"thu\","
		" \"fri\"], \"hour\": 9, \"minute\": 0, \"missed_run_policy\": \"once\"}");
	out = valid(TASK_SCHEDULE, "{\"type\": \"weekly\", \"days\": [0, \"sat\"]}");
	assert_int_equal(task_config_days_mask(out), (1u << 0) | (1u << 6));
	json_decref(out);

	/* "cron" is another name for "expression" */
	normalises_to(TASK_SCHEDULE, "{\"type\": \"cron\", \"cron\": \"*/15 9-17 * * MON-FRI\"}",
		      "{\"type\": \"cron\", \"expression\": \"*/15 9-17 * * MON-FRI\","
		      " \"missed_run_policy\": \"once\"}");
	normalises_to(TASK_SCHEDULE,
		      "{\"type\": \"cron\", \"expression\": \"@daily\", \"cron\": \"@daily\","
		      " \"timezone\": \"Europe/Berlin\", \"jitter_seconds\": 30,"
		      " \"missed_run_policy\": \"skip\"}",
		      "{\"type\": \"cron\", \"expression\": \"@daily\","
		      " \"timezone\": \"Europe/Berlin\", \"jitter_seconds\": 30,"
		      " \"missed_run_policy\": \"skip\"}");
	/* both threshold names, same value: fine */
	out = valid(TASK_THRESHOLD_WATCH,
		    "{\"metric\": \"cpu_usage\", \"metric_url\": \"https://m.example/cpu\","
		    " \"threshold\": 90, \"threshold_value\": 90,"
		    " \"comparison\": \"crosses_below\", \"hysteresis\": 2.5,"
		    " \"cooldown_minutes\": 60, \"json_path\": \"$.cpu\"}");
	assert_null(json_object_get(out, "threshold_value"));
	assert_int_equal(json_get_int(out, "threshold", 0), 90);
	json_decref(out);

	/* unknown keys are kept verbatim, whatever they hold */
	out = valid(TASK_NEWS_DIGEST, "{\"extra\": {\"deep\": [1, 2, null]}, \"note\": \"x\"}");
	assert_true(eq(json_object_get(out, "extra"), J("{\"deep\": [1, 2, null]}")));
	json_decref(out);

	/* the input is not modified */
	{
		json_t *in = J("{\"type\": \"weekly\", \"days\": [1], \"x\": 1.0}"), *copy;

		copy = json_deep_copy(in);
		out = task_config_validate(TASK_SCHEDULE, in, NULL);
		assert_non_null(out);
		assert_true(json_equal(in, copy));
		json_decref(in);
		json_decref(copy);
		json_decref(out);
	}
}

static void test_accepted_forms(void **state)
{
	static const struct {
		int type;
		const char *config;
	} ok[] = {
		{TASK_SCHEDULE, "{\"type\": \"once\", \"at\": \"2025-07-01T09:30\"}"},
		{TASK_SCHEDULE, "{\"type\": \"once\", \"at\": \"2025-07-01T09:30:15\"}"},
		{TASK_SCHEDULE, "{\"type\": \"once\", \"at\": \"2025-07-01T09:30:15.283615\"}"},
		{TASK_SCHEDULE, "{\"type\": \"once\", \"at\": \"2025-07-01T09:30:00Z\"}"},
		{TASK_SCHEDULE, "{\"type\": \"once\", \"at\": \"2025-07-01 09:30:00+02:00\"}"},
		{TASK_SCHEDULE, "{\"type\": \"once\", \"at\": \"2024-02-29T00:00-0530\"}"},
		{TASK_SCHEDULE, "{\"type\": \"daily\", \"timezone\": \"UTC\"}"},
		{TASK_SCHEDULE, "{\"type\": \"daily\", \"timezone\": \"Etc/GMT+5\"}"},
		{TASK_SCHEDULE,
		 "{\"type\": \"daily\", \"timezone\": \"America/Argentina/Buenos_Aires\"}"},
		{TASK_SCHEDULE, "{\"type\": \"daily\", \"hour\": 23, \"minute\": 59}"},
		{TASK_SCHEDULE, "{\"type\": \"interval\", \"minutes\": 525600}"},
		{TASK_WEB_MONITOR,
		 "{\"urls\": [\"HTTPS://Example.COM:8443/x\"], "
		 "\"check_interval_minutes\": 10080, \"keywords_mode\": \"all\","
		 " \"ignore_text\": [\"Updated\"], \"notify_on_first_check\": true}"},
		{TASK_WEB_MONITOR, "{\"urls\": [\"http://user:pw@[::1]:8080/\"]}"},
		{TASK_WEB_MONITOR, "{\"urls\": [\"https://x.example\"], \"notification\": "
				   "{\"method\": \"send_email\", \"email\": \"me@example.com\"}}"},
		{TASK_WEB_MONITOR,
		 "{\"urls\": [\"https://x.example\"], \"notification\": "
		 "{\"method\": \"webhook\", \"url\": \"https://hooks.example/x\"}}"},
		{TASK_WEB_MONITOR,
		 "{\"urls\": [\"https://x.example\"], \"notification\": "
		 "{\"method\": \"send_sms\", \"phone_number\": \"+1 (555) 010-9999\"}}"},
		{TASK_NEWS_DIGEST, "{\"max_items\": 1, \"hour\": 0, \"timezone\": \"Asia/Tokyo\"}"},
		{TASK_THRESHOLD_WATCH,
		 "{\"metric\": \"bitcoin_price\", \"threshold\": -3.5, \"hysteresis\": 0}"},
		{TASK_THRESHOLD_WATCH,
		 "{\"metric\": \"cpu\", \"metric_url\": \"https://m.example/x\", \"threshold\": 1,"
		 " \"regex\": \"cpu=([0-9]+)%\"}"},
		/* neither json_path nor regex: the whole response is the number */
		{TASK_THRESHOLD_WATCH,
		 "{\"metric_url\": \"https://m.example/x\", \"threshold\": 1}"},
		{TASK_THRESHOLD_WATCH,
		 "{\"metric_url\": \"https://m.example/x\", \"threshold\": 1,"
		 " \"json_path\": \"/data/0/price\", \"max_failures\": 1000}"},
		{TASK_WEB_MONITOR, "{\"urls\": [\"https://x.example\"], \"selector\": \"div.news > "
				   "a[href^=http], #top\","
				   " \"ignore_text\": [\"/updated [0-9]+ (min|hours?) ago/\", "
				   "\"/\", \"//\", \"a/b/\"],"
				   " \"max_failures\": 1}"},
		{TASK_WEB_MONITOR,
		 "{\"urls\": [\"https://x.example\"], \"selector\": \"//main//h2[@class='t']\"}"},
		{TASK_WEB_MONITOR,
		 "{\"urls\": [\"https://x.example\"], \"selector\": \"(//li)[1]\"}"},
		{TASK_SCHEDULE,
		 "{\"type\": \"daily\", \"max_failures\": 5, \"action\": \"news_digest\","
		 " \"news_urls\": [\"https://techcrunch.com\"]}"},
		{TASK_NEWS_DIGEST, "{\"max_failures\": 3.0}"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		json_decref(valid(ok[i].type, ok[i].config));
}

/* ---- rejections: each names the field and what is allowed -------------------- */

static void test_exact_messages(void **state)
{
	(void)state;
	assert_string_equal(msg_of(TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], "
						     "\"check_interval_minutes\": \"30m\"}"),
			    "config.check_interval_minutes must be an integer from 1 to 10080 "
			    "(got \"30m\")");
	assert_string_equal(msg_of(TASK_SCHEDULE, "{\"type\": \"hourly\"}"),
			    "config.type must be one of daily, interval, weekly, once, cron "
			    "(got \"hourly\")");
	assert_string_equal(msg_of(TASK_WEB_MONITOR, "{\"keywords\": [\"AI\"]}"),
			    "config.urls is required: a non-empty array of http(s) URLs (at most "
			    "50), e.g. [\"https://techcrunch.com\"]");
	assert_string_equal(msg_of(TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\", "
						     "\"ftp://b.example\"]}"),
			    "config.urls[1] must be an http:// or https:// URL (got "
			    "\"ftp://b.example\")");
	assert_string_equal(msg_of(TASK_SCHEDULE, "{}"),
			    "config.type is required: one of daily, interval, weekly, once, cron");
}

static const struct reject web_rejects[] = {
	{TASK_WEB_MONITOR, "{\"urls\": []}", "config.urls must be a non-empty array", "(got [])"},
	{TASK_WEB_MONITOR, "{\"urls\": \"https://a.example\"}", "config.urls must be",
	 "(got \"https://a.example\")"},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://\"]}", "config.urls[0] must be an http", NULL},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a b.example\"]}", "config.urls[0]", NULL},
	{TASK_WEB_MONITOR, "{\"urls\": [\"example.com\"]}", "config.urls[0]", NULL},
	{TASK_WEB_MONITOR, "{\"urls\": [42]}", "config.urls[0]", "(got 42)"},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\", \"https://a.example\"]}",
	 "config.urls[1] repeats config.urls[0]", NULL},
	{TASK_WEB_MONITOR, "{\"urls\": null}", "config.urls is required", NULL},
	{TASK_WEB_MONITOR,
	 "{\"urls\": [\"https://a.example\"], \"check_interval_minutes\": \"30\"}",
	 "config.check_interval_minutes must be an integer from 1 to 10080", "(got \"30\")"},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"check_interval_minutes\": 0}",
	 "from 1 to 10080", "(got 0)"},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"check_interval_minutes\": -1}",
	 "from 1 to 10080", "(got -1)"},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"check_interval_minutes\": 1.5}",
	 "from 1 to 10080", "(got 1.5)"},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"check_interval_minutes\": 10081}",
	 "from 1 to 10080", "(got 10081)"},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"check_interval_minutes\": 1e300}",
	 "from 1 to 10080", NULL},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"check_interval_minutes\": true}",
	 "from 1 to 10080", "(got true)"},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"keywords\": \"AI\"}",
	 "config.keywords must be an array of non-empty strings", "(got \"AI\")"},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"keywords\": [\"AI\", \"\"]}",
	 "config.keywords[1] must be a non-empty string", "(got \"\")"},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"keywords\": [\"AI\", \"  \"]}",
	 "config.keywords[1]", NULL},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"keywords_mode\": \"some\"}",
	 "config.keywords_mode must be one of any, all", "(got \"some\")"},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"selector\": \"\"}",
	 "config.selector must be a non-empty string", NULL},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"ignore_text\": [null]}",
	 "config.ignore_text[0]", "(got null)"},
	{TASK_WEB_MONITOR,
	 "{\"urls\": [\"https://a.example\"], \"notify_on_first_check\": \"yes\"}",
	 "config.notify_on_first_check must be true or false", "(got \"yes\")"},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"notification\": \"sms\"}",
	 "config.notification must be an object such as {\"method\": \"send_sms\"",
	 "(got \"sms\")"},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"notification\": {}}",
	 "config.notification.method is required: one of send_sms, send_email, webhook", NULL},
	{TASK_WEB_MONITOR,
	 "{\"urls\": [\"https://a.example\"], \"notification\": {\"method\": \"pigeon\"}}",
	 "config.notification.method must be one of send_sms, send_email, webhook",
	 "(got \"pigeon\")"},
	{TASK_WEB_MONITOR,
	 "{\"urls\": [\"https://a.example\"], \"notification\": {\"method\": \"send_sms\"}}",
	 "config.notification.phone_number is required for send_sms", "+1234567890"},
	{TASK_WEB_MONITOR,
	 "{\"urls\": [\"https://a.example\"], \"notification\": {\"method\": \"send_sms\", "
	 "\"phone_number\": \"call me\"}}",
	 "config.notification.phone_number must be a phone number", "(got \"call me\")"},
	{TASK_WEB_MONITOR,
	 "{\"urls\": [\"https://a.example\"], \"notification\": {\"method\": \"send_sms\", "
	 "\"phone_number\": 1234567890}}",
	 "config.notification.phone_number must be", "(got 1234567890)"},
	{TASK_WEB_MONITOR,
	 "{\"urls\": [\"https://a.example\"], \"notification\": {\"method\": \"send_email\", "
	 "\"email\": \"nobody\"}}",
	 "config.notification.email must be an e-mail address", NULL},
	{TASK_WEB_MONITOR,
	 "{\"urls\": [\"https://a.example\"], \"notification\": {\"method\": \"webhook\"}}",
	 "config.notification.url is required for webhook", NULL},
	{TASK_WEB_MONITOR,
	 "{\"urls\": [\"https://a.example\"], \"notification\": {\"method\": \"webhook\", "
	 "\"url\": \"file:///etc/passwd\"}}",
	 "config.notification.url must be an http:// or https:// URL", NULL},
};

static const struct reject schedule_rejects[] = {
	{TASK_SCHEDULE, "{\"type\": 1}", "config.type must be one of", "(got 1)"},
	{TASK_SCHEDULE, "{\"type\": \"Daily\"}", "config.type must be one of", NULL},
	{TASK_SCHEDULE, "{\"type\": \"daily\", \"hour\": 24}",
	 "config.hour must be an integer from 0 to 23", "(got 24)"},
	{TASK_SCHEDULE, "{\"type\": \"daily\", \"hour\": \"8\"}", "config.hour", "(got \"8\")"},
	{TASK_SCHEDULE, "{\"type\": \"daily\", \"minute\": 60}",
	 "config.minute must be an integer from 0 to 59", "(got 60)"},
	{TASK_SCHEDULE, "{\"type\": \"daily\", \"minutes\": 30}",
	 "config.minutes is not used by a \"daily\" schedule, which takes hour, minute",
	 "belongs to type \"interval\""},
	{TASK_SCHEDULE, "{\"type\": \"interval\", \"minute\": 5}",
	 "config.minute is not used by an \"interval\" schedule, which takes minutes",
	 "\"daily\" or \"weekly\""},
	{TASK_SCHEDULE, "{\"type\": \"daily\", \"days\": [\"mon\"]}",
	 "config.days is not used by a \"daily\" schedule", "\"weekly\""},
	{TASK_SCHEDULE, "{\"type\": \"daily\", \"cron\": \"0 8 * * *\"}",
	 "config.cron is not used by a \"daily\" schedule", "\"cron\""},
	{TASK_SCHEDULE, "{\"type\": \"interval\", \"minutes\": 0}",
	 "config.minutes must be an integer from 1 to 525600", "(got 0)"},
	{TASK_SCHEDULE, "{\"type\": \"weekly\"}",
	 "config.days is required: a non-empty array of weekdays", "0 = Sunday"},
	{TASK_SCHEDULE, "{\"type\": \"weekly\", \"days\": []}",
	 "config.days must be a non-empty array of weekdays", "(got [])"},
	{TASK_SCHEDULE, "{\"type\": \"weekly\", \"days\": \"mon\"}", "config.days must be", NULL},
	{TASK_SCHEDULE, "{\"type\": \"weekly\", \"days\": [\"mon\", \"funday\"]}",
	 "config.days[1] must be a weekday", "(got \"funday\")"},
	{TASK_SCHEDULE, "{\"type\": \"weekly\", \"days\": [\"mo\"]}", "config.days[0]", NULL},
	{TASK_SCHEDULE, "{\"type\": \"weekly\", \"days\": [8]}", "config.days[0]", "(got 8)"},
	{TASK_SCHEDULE, "{\"type\": \"weekly\", \"days\": [-1]}", "config.days[0]", NULL},
	{TASK_SCHEDULE, "{\"type\": \"once\"}", "config.at is required: an ISO-8601 date-time",
	 NULL},
	{TASK_SCHEDULE, "{\"type\": \"once\", \"at\": \"tomorrow\"}",
	 "config.at must be an ISO-8601 date-time", "(got \"tomorrow\")"},
	{TASK_SCHEDULE, "{\"type\": \"once\", \"at\": \"2025-02-30T10:00\"}", "config.at", NULL},
	{TASK_SCHEDULE, "{\"type\": \"once\", \"at\": \"2025-02-29T10:00\"}", "config.at", NULL},
	{TASK_SCHEDULE, "{\"type\": \"once\", \"at\": \"2025-07-01\"}", "config.at", NULL},
	{TASK_SCHEDULE, "{\"type\": \"once\", \"at\": \"2025-07-01T24:00\"}", "config.at", NULL},
	{TASK_SCHEDULE, "{\"type\": \"once\", \"at\": \"2025-07-01T10:00+25:00\"}", "config.at",
	 NULL},
	{TASK_SCHEDULE, "{\"type\": \"once\", \"at\": \"2025-07-01T10:00:00.\"}", "config.at",
	 NULL},
	{TASK_SCHEDULE, "{\"type\": \"once\", \"at\": \"2025-07-01T10:00Z junk\"}", "config.at",
	 NULL},
	{TASK_SCHEDULE, "{\"type\": \"once\", \"at\": 1751362200}", "config.at", NULL},
	{TASK_SCHEDULE, "{\"type\": \"cron\"}",
	 "config.expression is required: a 5-field cron expression", "e.g."},
	{TASK_SCHEDULE, "{\"type\": \"cron\", \"expression\": \"0 24 * * *\"}",
	 "config.expression must be a valid cron expression: cron field 2 (hour) value 24 is out "
	 "of range 0-23",
	 "(got \"0 24 * * *\")"},
	{TASK_SCHEDULE, "{\"type\": \"cron\", \"cron\": \"every day\"}",
	 "config.expression must be a valid cron expression", NULL},
	{TASK_SCHEDULE, "{\"type\": \"cron\", \"expression\": \"@daily\", \"cron\": \"@hourly\"}",
	 "config.expression and config.cron (another name for it) differ", NULL},
	{TASK_SCHEDULE, "{\"type\": \"cron\", \"expression\": \"@daily\", \"hour\": 3}",
	 "config.hour is not used by a \"cron\" schedule, which takes expression", NULL},
	{TASK_SCHEDULE, "{\"type\": \"daily\", \"timezone\": \"../etc/passwd\"}",
	 "config.timezone must be an IANA time zone name", "(got \"../etc/passwd\")"},
	{TASK_SCHEDULE, "{\"type\": \"daily\", \"timezone\": \"/UTC\"}", "config.timezone", NULL},
	{TASK_SCHEDULE, "{\"type\": \"daily\", \"timezone\": \"Europe//Berlin\"}",
	 "config.timezone", NULL},
	{TASK_SCHEDULE, "{\"type\": \"daily\", \"timezone\": \"Europe/\"}", "config.timezone",
	 NULL},
	{TASK_SCHEDULE, "{\"type\": \"daily\", \"timezone\": \"\"}", "config.timezone", NULL},
	{TASK_SCHEDULE, "{\"type\": \"daily\", \"timezone\": \"UTC+05:00\"}", "config.timezone",
	 NULL},
	{TASK_SCHEDULE,
	 "{\"type\": \"daily\", \"timezone\": "
	 "\"Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	 "config.timezone", NULL},
	{TASK_SCHEDULE, "{\"type\": \"daily\", \"missed_run_policy\": \"always\"}",
	 "config.missed_run_policy must be one of skip, once", "(got \"always\")"},
	{TASK_SCHEDULE, "{\"type\": \"daily\", \"jitter_seconds\": 3601}",
	 "config.jitter_seconds must be an integer from 0 to 3600", "(got 3601)"},
	{TASK_SCHEDULE, "{\"type\": \"daily\", \"notification\": []}",
	 "config.notification must be an object", NULL},
};

static const struct reject digest_threshold_rejects[] = {
	{TASK_NEWS_DIGEST, "{\"news_urls\": []}", "config.news_urls must be a non-empty array",
	 NULL},
	{TASK_NEWS_DIGEST, "{\"news_urls\": [\"techcrunch.com\"]}",
	 "config.news_urls[0] must be an http:// or https:// URL", NULL},
	{TASK_NEWS_DIGEST, "{\"hour\": -1}", "config.hour must be an integer from 0 to 23",
	 "(got -1)"},
	{TASK_NEWS_DIGEST, "{\"minute\": 75}", "config.minute", NULL},
	{TASK_NEWS_DIGEST, "{\"max_items\": 0}",
	 "config.max_items must be an integer from 1 to 100", NULL},
	{TASK_NEWS_DIGEST, "{\"max_items\": 101}", "config.max_items", "(got 101)"},
	{TASK_NEWS_DIGEST, "{\"categories\": [1]}", "config.categories[0]", NULL},
	{TASK_NEWS_DIGEST, "{\"timezone\": \"Not a zone\"}", "config.timezone", NULL},
	{TASK_THRESHOLD_WATCH, "{\"metric\": \"bitcoin_price\"}",
	 "config.threshold is required: a number", "e.g. 50000"},
	{TASK_THRESHOLD_WATCH, "{\"threshold\": 5}",
	 "config.metric or config.metric_url is required", "bitcoin_price"},
	{TASK_THRESHOLD_WATCH, "{\"metric\": \"bitcoin_price\", \"threshold\": \"50000\"}",
	 "config.threshold must be a number", "(got \"50000\")"},
	{TASK_THRESHOLD_WATCH, "{\"metric\": \"bitcoin_price\", \"threshold_value\": \"50,000\"}",
	 "config.threshold must be a number", NULL},
	{TASK_THRESHOLD_WATCH,
	 "{\"metric\": \"bitcoin_price\", \"threshold\": 1, \"threshold_value\": 2}",
	 "config.threshold and config.threshold_value (another name for it) differ",
	 "give only config.threshold"},
	{TASK_THRESHOLD_WATCH, "{\"metric\": \"\", \"threshold\": 1}",
	 "config.metric must be a non-empty string", NULL},
	{TASK_THRESHOLD_WATCH, "{\"metric_url\": \"not a url\", \"threshold\": 1}",
	 "config.metric_url must be an http:// or https:// URL", NULL},
	{TASK_THRESHOLD_WATCH,
	 "{\"metric\": \"bitcoin_price\", \"threshold\": 1, \"comparison\": \">\"}",
	 "config.comparison must be one of above, below, crosses_above, crosses_below",
	 "(got \">\")"},
	{TASK_THRESHOLD_WATCH,
	 "{\"metric\": \"bitcoin_price\", \"threshold\": 1, \"check_interval_minutes\": 0}",
	 "config.check_interval_minutes must be an integer from 1 to 10080", NULL},
	{TASK_THRESHOLD_WATCH,
	 "{\"metric\": \"bitcoin_price\", \"threshold\": 1, \"hysteresis\": -1}",
	 "config.hysteresis must be a number >= 0", "(got -1)"},
	{TASK_THRESHOLD_WATCH,
	 "{\"metric\": \"bitcoin_price\", \"threshold\": 1, \"cooldown_minutes\": 1.5}",
	 "config.cooldown_minutes must be an integer from 0 to 525600", NULL},
	{TASK_THRESHOLD_WATCH,
	 "{\"metric\": \"bitcoin_price\", \"threshold\": 1, \"regex\": \"(\"}",
	 "config.regex must be a POSIX extended regular expression", "(got \"(\")"},
	{TASK_THRESHOLD_WATCH,
	 "{\"metric\": \"bitcoin_price\", \"threshold\": 1, \"json_path\": 7}",
	 "config.json_path must be a non-empty string", NULL},
};

static void test_reject_web_monitor(void **state)
{
	(void)state;
	check_rejects(web_rejects, sizeof web_rejects / sizeof web_rejects[0]);
}

static void test_reject_schedule(void **state)
{
	(void)state;
	check_rejects(schedule_rejects, sizeof schedule_rejects / sizeof schedule_rejects[0]);
}

static void test_reject_digest_threshold(void **state)
{
	(void)state;
	check_rejects(digest_threshold_rejects,
		      sizeof digest_threshold_rejects / sizeof digest_threshold_rejects[0]);
}

static void test_reject_limits(void **state)
{
	char text[8192];
	size_t len;

	(void)state;
	len = (size_t)snprintf(text, sizeof text, "{\"urls\": [");
	for (int i = 0; i < 51; i++)
		len += (size_t)snprintf(text + len, sizeof text - len, "%s\"https://h%d.example\"",
					i ? ", " : "", i);
	snprintf(text + len, sizeof text - len, "]}");
	assert_non_null(strstr(msg_of(TASK_WEB_MONITOR, text),
			       "config.urls must have at most 50 items (got 51)"));

	len = (size_t)snprintf(text, sizeof text,
			       "{\"urls\": [\"https://a.example\"], \"keywords\": [");
	for (int i = 0; i < 101; i++)
		len += (size_t)snprintf(text + len, sizeof text - len, "%s\"k%d\"", i ? ", " : "",
					i);
	snprintf(text + len, sizeof text - len, "]}");
	assert_non_null(strstr(msg_of(TASK_WEB_MONITOR, text),
			       "config.keywords must have at most 100 items (got 101)"));

	/* a long value is cut in the message, which stays readable */
	len = (size_t)snprintf(text, sizeof text,
			       "{\"urls\": [\"https://a.example\"], \"keywords_mode\": \"");
	memset(text + len, 'x', 3000);
	snprintf(text + len + 3000, sizeof text - len - 3000, "\"}");
	{
		const char *m = msg_of(TASK_WEB_MONITOR, text);

		assert_non_null(
			strstr(m, "config.keywords_mode must be one of any, all (got \"xxx"));
		assert_non_null(strstr(m, "...)"));
		assert_true(strlen(m) < 200);
	}
}

static void test_config_parse(void **state)
{
	struct err e;
	json_t *in, *out;

	(void)state;
	in = J("{\"a\": 1}");
	out = task_config_parse(in, &e);
	assert_ptr_equal(out, in); /* an object is taken as it is */
	json_decref(out);
	json_decref(in);

	in = json_string("{\"urls\": [\"https://a.example\"]}");
	out = task_config_parse(in, &e);
	assert_true(eq(out, J("{\"urls\": [\"https://a.example\"]}")));
	json_decref(out);
	json_decref(in);

	/* encoded twice, as agents sometimes do */
	in = json_string("\"{\\\"hour\\\": 9}\"");
	out = task_config_parse(in, &e);
	assert_int_equal(json_get_int(out, "hour", 0), 9);
	json_decref(out);
	json_decref(in);

	in = json_string("{\"urls\": [");
	assert_null(task_config_parse(in, &e));
	assert_int_equal(e.code, ERR_INVALID);
	msg_has("bad JSON", e.msg, "Invalid JSON in config: ");
	json_decref(in);

	in = json_string("{\"a\": 1, \"a\": 2}");
	assert_null(task_config_parse(in, &e));
	msg_has("duplicate keys", e.msg, "Invalid JSON in config: ");
	json_decref(in);

	in = json_string("[1, 2]");
	assert_null(task_config_parse(in, &e));
	msg_has("array text", e.msg, "config must hold a JSON object");
	msg_has("array text", e.msg, "not array");
	json_decref(in);

	in = json_integer(3);
	assert_null(task_config_parse(in, &e));
	msg_has("number", e.msg,
		"config must be a JSON object (or a string holding one), not integer");
	json_decref(in);

	assert_null(task_config_parse(NULL, &e));
	msg_has("missing", e.msg, "config is required");
	in = json_null();
	assert_null(task_config_parse(in, &e));
	msg_has("null", e.msg, "config is required");

	assert_null(task_config_validate(TASK_WEB_MONITOR, in, &e));
	msg_has("validate null", e.msg, "config must be a JSON object");
	json_decref(in);
	in = J("{}");
	assert_null(task_config_validate(99, in, &e));
	assert_null(task_config_validate(-1, in, &e));
	json_decref(in);
}

static void test_shape_helpers(void **state)
{
	(void)state;
	assert_true(task_config_is_http_url("http://a"));
	assert_true(task_config_is_http_url("https://a.example/path?q=1"));
	assert_false(task_config_is_http_url(NULL));
	assert_false(task_config_is_http_url("http://"));
	assert_false(task_config_is_http_url("http://:80/"));
	assert_false(task_config_is_http_url("http://user@/"));
	assert_false(task_config_is_http_url("https://a.example/\n"));
	assert_false(task_config_is_http_url("javascript:alert(1)"));
	assert_false(task_config_is_http_url("//a.example"));
	assert_int_equal(task_config_weekday("sun"), 0);
	assert_int_equal(task_config_weekday("Saturday"), 6);
	assert_int_equal(task_config_weekday("THURS"), 4);
	assert_int_equal(task_config_weekday("su"), -1);
	assert_int_equal(task_config_weekday("sundays"), -1);
	assert_int_equal(task_config_weekday(NULL), -1);
	assert_true(task_config_is_timezone("UTC"));
	assert_false(task_config_is_timezone("Europe/Berlin/"));
	assert_false(task_config_is_timezone("1Zone"));
	assert_true(task_config_is_datetime("2000-02-29T12:00"));
	assert_false(task_config_is_datetime("1900-02-29T12:00"));
	assert_false(task_config_is_datetime("2025-13-01T12:00"));
	assert_false(task_config_is_datetime(NULL));
}

/* ---- task types, streams ----------------------------------------------------- */

static void test_types_and_streams(void **state)
{
	static const char *const names[] = {"web_monitor", "schedule", "news_digest",
					    "threshold_watch"};
	char stream[64];
	struct err e;
	int t = -1;

	(void)state;
	for (int i = 0; i < TASK_TYPE__COUNT; i++) {
		assert_string_equal(task_type_name(i), names[i]);
		assert_int_equal(task_type_parse(names[i], &t, &e), ERR_OK);
		assert_int_equal(t, i);
	}
	assert_null(task_type_name(-1));
	assert_null(task_type_name(TASK_TYPE__COUNT));
	assert_int_equal(task_type_parse("Web_Monitor", &t, &e), ERR_INVALID);
	assert_string_equal(e.msg, "Invalid task type. Must be one of: ['web_monitor', "
				   "'schedule', 'news_digest', 'threshold_watch']");
	assert_int_equal(task_type_parse(NULL, &t, &e), ERR_INVALID);

	task_stream_name(ID, stream, sizeof stream);
	assert_string_equal(stream, "task-" ID);
	assert_string_equal(task_id_of_stream(stream), ID);
	assert_null(task_id_of_stream("task-"));
	assert_null(task_id_of_stream("memory-bob"));
	assert_null(task_id_of_stream(NULL));
}

/* ---- commands ------------------------------------------------------------------ */

static json_t *created_data(void)
{
	json_t *data = NULL, *cfg = J("{\"urls\": [\"https://a.example\"]}");
	struct err e;

	if (task_decide_create(ID, "web_monitor", "watch a", cfg, "http://localhost:8000/cb", "bob",
			       &data, &e))
		fail_msg("create refused: %s", e.msg);
	json_decref(cfg);
	return data;
}

static json_t *fold1(json_t *st, const char *type, json_t *data, int64_t v, const char *at)
{
	struct err e;
	json_t *next;

	err_clear(&e);
	next = task_fold(st, type, data, v, at, &e);
	if (!next)
		fail_msg("fold of %s refused: %s", type, e.msg);
	json_decref(st);
	json_decref(data);
	return next;
}

static void test_decide_create(void **state)
{
	json_t *data = created_data(), *cfg;
	struct err e;
	char big[1200];

	(void)state;
	assert_true(eq(
		data,
		J("{\"task_id\": \"" ID "\", \"task_type\": \"web_monitor\","
		  " \"description\": \"watch a\", \"config\": {\"urls\": [\"https://a.example\"],"
		  " \"keywords\": [], \"keywords_mode\": \"any\", \"check_interval_minutes\": 30,"
		  " \"notify_on_first_check\": false}, \"callback_url\": "
		  "\"http://localhost:8000/cb\", \"user_id\": \"bob\"}")));
	json_decref(data);

	cfg = J("{\"metric\": \"bitcoin_price\", \"threshold\": 50000}");
	assert_int_equal(
		task_decide_create(ID, "threshold_watch", "btc", cfg, NULL, NULL, &data, &e),
		ERR_OK);
	assert_true(json_is_null(json_object_get(data, "callback_url")));
	assert_string_equal(json_get_str(data, "user_id"), "default");
	json_decref(data);

	assert_int_equal(task_decide_create(ID, "stock_watch", "x", cfg, NULL, NULL, &data, &e),
			 ERR_INVALID);
	assert_null(data);
	msg_has("type", e.msg, "Invalid task type. Must be one of: ['web_monitor'");
	assert_int_equal(task_decide_create(ID, "threshold_watch", "", cfg, NULL, NULL, &data, &e),
			 ERR_INVALID);
	msg_has("empty description", e.msg, "description must be a non-empty string");
	assert_int_equal(
		task_decide_create(ID, "threshold_watch", " \t", cfg, NULL, NULL, &data, &e),
		ERR_INVALID);
	assert_int_equal(
		task_decide_create(ID, "threshold_watch", NULL, cfg, NULL, NULL, &data, &e),
		ERR_INVALID);
	memset(big, 'd', 1001);
	big[1001] = '\0';
	assert_int_equal(task_decide_create(ID, "threshold_watch", big, cfg, NULL, NULL, &data, &e),
			 ERR_INVALID);
	msg_has("long description", e.msg, "at most 1000 bytes (got 1001 bytes)");
	big[1000] = '\0';
	assert_int_equal(task_decide_create(ID, "threshold_watch", big, cfg, NULL, NULL, &data, &e),
			 ERR_OK);
	json_decref(data);
	assert_int_equal(task_decide_create(ID, "threshold_watch", "bad \xff utf8", cfg, NULL, NULL,
					    &data, &e),
			 ERR_INVALID);
	msg_has("utf8", e.msg, "description must be valid UTF-8");
	assert_int_equal(
		task_decide_create(ID, "threshold_watch", "x", cfg, "ftp://a/cb", NULL, &data, &e),
		ERR_INVALID);
	msg_has("callback", e.msg, "callback_url must be an http:// or https:// URL");
	assert_int_equal(task_decide_create(ID, "threshold_watch", "x", cfg, NULL, "", &data, &e),
			 ERR_INVALID);
	msg_has("user", e.msg, "user_id must be a non-empty string");
	assert_int_equal(task_decide_create("", "threshold_watch", "x", cfg, NULL, NULL, &data, &e),
			 ERR_INVALID);
	msg_has("id", e.msg, "task_id must be");
	assert_int_equal(
		task_decide_create("a/b", "threshold_watch", "x", cfg, NULL, NULL, &data, &e),
		ERR_INVALID);
	json_decref(cfg);

	/* a config error comes back as the config's own message */
	cfg = J("{\"metric\": \"bitcoin_price\", \"threshold\": 1, \"comparison\": "
		"\"greater_than\"}");
	assert_int_equal(task_decide_create(ID, "threshold_watch", "x", cfg, NULL, NULL, &data, &e),
			 ERR_INVALID);
	msg_has("config", e.msg, "config.comparison must be one of above, below");
	json_decref(cfg);
	cfg = json_string("not json");
	assert_int_equal(task_decide_create(ID, "threshold_watch", "x", cfg, NULL, NULL, &data, &e),
			 ERR_INVALID);
	msg_has("config text", e.msg, "Invalid JSON in config: ");
	json_decref(cfg);
}

/* The state after task_created at version 1. */
static json_t *new_state(void)
{
	return fold1(NULL, TASK_EV_CREATED, created_data(), 1, "2025-06-20T21:03:24.283615Z");
}

static void expect_not_found(int rc, const struct err *e, const char *want)
{
	assert_int_equal(rc, ERR_NOT_FOUND);
	assert_string_equal(e->msg, want);
}

static void test_lifecycle_missing_and_deleted(void **state)
{
	json_t *st, *data = (json_t *)1, *ch = J("{\"description\": \"x\"}");
	struct err e;
	int d;

	(void)state;
	/* never created */
	expect_not_found(task_decide_pause(NULL, ID, NULL, &d, &data, &e), &e,
			 "Task " ID " not found");
	assert_null(data);
	expect_not_found(task_decide_resume(NULL, ID, &d, &data, &e), &e, "Task " ID " not found");
	expect_not_found(task_decide_delete(NULL, ID, &data, &e), &e, "Task " ID " not found");
	expect_not_found(task_decide_update(NULL, ID, ch, &d, &data, &e), &e,
			 "Task " ID " not found");

	/* deleted */
	st = new_state();
	assert_int_equal(task_decide_delete(st, ID, &data, &e), ERR_OK);
	st = fold1(st, TASK_EV_DELETED, data, 2, "2025-06-21T00:00:00Z");
	assert_true(task_state_is_deleted(st));
	assert_string_equal(task_state_status(st), "deleted");
	expect_not_found(task_decide_pause(st, ID, NULL, &d, &data, &e), &e,
			 "Task " ID " was deleted");
	expect_not_found(task_decide_resume(st, ID, &d, &data, &e), &e, "Task " ID " was deleted");
	expect_not_found(task_decide_delete(st, ID, &data, &e), &e, "Task " ID " was deleted");
	expect_not_found(task_decide_update(st, ID, ch, &d, &data, &e), &e,
			 "Task " ID " was deleted");
	assert_null(data);

	/* a state that belongs to another task is a caller bug, not "not found" */
	json_decref(st);
	st = new_state();
	assert_int_equal(task_decide_delete(st, "other-task", &data, &e), ERR_INTERNAL);
	json_decref(st);
	json_decref(ch);
}

static void test_lifecycle_pause_resume(void **state)
{
	json_t *st = new_state(), *data;
	struct err e;
	int d = -1;

	(void)state;
	/* resume an active task: nothing to do */
	assert_int_equal(task_decide_resume(st, ID, &d, &data, &e), ERR_OK);
	assert_int_equal(d, TASK_DECIDE_NOOP);
	assert_null(data);
	assert_int_equal(e.code, ERR_OK);
	assert_string_equal(e.msg, "Task " ID " is already active");

	/* pause an active task */
	assert_int_equal(task_decide_pause(st, ID, "too noisy", &d, &data, &e), ERR_OK);
	assert_int_equal(d, TASK_DECIDE_APPEND);
	assert_true(eq(data, J("{\"task_id\": \"" ID "\", \"reason\": \"too noisy\"}")));
	st = fold1(st, TASK_EV_PAUSED, data, 2, "2025-06-21T00:00:00Z");
	assert_string_equal(task_state_status(st), "paused");
	assert_string_equal(json_get_str(st, "paused_reason"), "too noisy");

	/* pause a paused task: nothing to do */
	assert_int_equal(task_decide_pause(st, ID, NULL, &d, &data, &e), ERR_OK);
	assert_int_equal(d, TASK_DECIDE_NOOP);
	assert_null(data);
	assert_string_equal(e.msg, "Task " ID " is already paused");

	/* resume a paused task */
	assert_int_equal(task_decide_resume(st, ID, &d, &data, &e), ERR_OK);
	assert_int_equal(d, TASK_DECIDE_APPEND);
	assert_true(eq(data, J("{\"task_id\": \"" ID "\"}")));
	st = fold1(st, TASK_EV_RESUMED, data, 3, "2025-06-22T00:00:00Z");
	assert_string_equal(task_state_status(st), "active");
	assert_null(json_object_get(st, "paused_reason"));

	/* pause without a reason (an empty one counts as none) */
	assert_int_equal(task_decide_pause(st, ID, "", &d, &data, &e), ERR_OK);
	assert_true(eq(data, J("{\"task_id\": \"" ID "\"}")));
	json_decref(data);

	/* delete works from paused and from active */
	assert_int_equal(task_decide_delete(st, ID, &data, &e), ERR_OK);
	assert_true(eq(data, J("{\"task_id\": \"" ID "\"}")));
	json_decref(data);
	json_decref(st);
}

static void test_lifecycle_update(void **state)
{
	json_t *st = new_state(), *data, *ch;
	struct err e;
	int d;

	(void)state;
	/* empty and identical changes */
	ch = J("{}");
	assert_int_equal(task_decide_update(st, ID, ch, &d, &data, &e), ERR_OK);
	assert_int_equal(d, TASK_DECIDE_NOOP);
	assert_null(data);
	msg_has("noop", e.msg, "nothing to update");
	json_decref(ch);
	assert_int_equal(task_decide_update(st, ID, NULL, &d, &data, &e), ERR_OK);
	assert_int_equal(d, TASK_DECIDE_NOOP);
	/* the same config once defaults are filled in is no change */
	ch = J("{\"description\": \"watch a\", \"config\": {\"urls\": [\"https://a.example\"]},"
	       " \"callback_url\": \"http://localhost:8000/cb\"}");
	assert_int_equal(task_decide_update(st, ID, ch, &d, &data, &e), ERR_OK);
	assert_int_equal(d, TASK_DECIDE_NOOP);
	json_decref(ch);

	/* only what changed goes into the event; config arrives normalised */
	ch = J("{\"description\": \"watch a\", \"config\": \"{\\\"urls\\\": "
	       "[\\\"https://a.example\\\"], \\\"check_interval_minutes\\\": 5}\"}");
	assert_int_equal(task_decide_update(st, ID, ch, &d, &data, &e), ERR_OK);
	assert_int_equal(d, TASK_DECIDE_APPEND);
	assert_true(eq(data,
		       J("{\"task_id\": \"" ID "\", \"changes\": {\"config\": {\"urls\": "
			 "[\"https://a.example\"], \"check_interval_minutes\": 5, \"keywords\": [],"
			 " \"keywords_mode\": \"any\", \"notify_on_first_check\": false}}}")));
	st = fold1(st, TASK_EV_UPDATED, data, 2, "2025-06-21T00:00:00Z");
	assert_int_equal(json_get_int(json_object_get(st, "config"), "check_interval_minutes", 0),
			 5);
	json_decref(ch);

	/* an update is allowed while paused, and keeps it paused */
	assert_int_equal(task_decide_pause(st, ID, NULL, &d, &data, &e), ERR_OK);
	st = fold1(st, TASK_EV_PAUSED, data, 3, "2025-06-21T01:00:00Z");
	ch = J("{\"description\": \"watch a, quietly\", \"callback_url\": null}");
	assert_int_equal(task_decide_update(st, ID, ch, &d, &data, &e), ERR_OK);
	assert_int_equal(d, TASK_DECIDE_APPEND);
	st = fold1(st, TASK_EV_UPDATED, data, 4, "2025-06-21T02:00:00Z");
	assert_string_equal(task_state_status(st), "paused");
	assert_string_equal(json_get_str(st, "description"), "watch a, quietly");
	assert_true(json_is_null(json_object_get(st, "callback_url")));
	json_decref(ch);

	/* refused changes */
	{
		static const struct {
			const char *changes, *want;
		} bad[] = {
			{"{\"task_type\": \"schedule\"}", "task_type cannot be changed"},
			{"{\"status\": \"active\"}", "pause or resume the task instead"},
			{"{\"user_id\": \"eve\"}", "user_id cannot be updated"},
			{"{\"description\": \"\"}", "description must be a non-empty string"},
			{"{\"description\": 5}", "description must be a non-empty string"},
			{"{\"config\": {\"urls\": []}}", "config.urls must be a non-empty array"},
			{"{\"config\": {\"type\": \"daily\"}}", "config.urls is required"},
			{"{\"config\": 5}", "config must be a JSON object"},
			{"{\"callback_url\": \"mailto:x@y\"}", "callback_url must be an http://"},
			{"{\"callback_url\": 3}",
			 "callback_url must be an http:// or https:// URL, or null"},
			{"[1]", "changes must be an object"},
		};

		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			ch = J(bad[i].changes);
			d = -1;
			assert_int_equal(task_decide_update(st, ID, ch, &d, &data, &e),
					 ERR_INVALID);
			assert_null(data);
			msg_has(bad[i].changes, e.msg, bad[i].want);
			json_decref(ch);
		}
	}
	json_decref(st);
}

/* ---- folding ------------------------------------------------------------------- */

struct ev {
	const char *type, *data, *at;
};

static const struct ev history[] = {
	{"task_created",
	 "{\"task_id\": \"" ID "\", \"task_type\": \"schedule\", \"description\": \"standup\","
	 " \"config\": {\"type\": \"daily\", \"hour\": 9, \"minute\": 0}, \"callback_url\":"
	 " \"http://localhost:8000/process_background_feedback\", \"user_id\": \"alice\"}",
	 "2025-06-20T08:00:00.000000Z"},
	{"scheduled_trigger", "{\"trigger_time\": \"2025-06-21T09:00:00\"}",
	 "2025-06-21T09:00:00.100000Z"},
	{"task_paused", "{\"task_id\": \"" ID "\", \"reason\": \"holiday\"}",
	 "2025-06-22T10:00:00.000000Z"},
	{"task_updated",
	 "{\"task_id\": \"" ID "\", \"changes\": {\"config\": {\"type\": \"daily\", \"hour\": 10,"
	 " \"minute\": 30}}}",
	 "2025-06-23T10:00:00.000000Z"},
	{"task_resumed", "{\"task_id\": \"" ID "\"}", "2025-06-30T07:00:00.000000Z"},
	{"feedback_delivered", "{\"event_id\": \"e\", \"position\": 9}", "2025-06-30T10:30:01Z"},
	{"task_paused", "{\"task_id\": \"" ID "\"}", "2025-07-01T07:00:00.000000Z"},
	{"task_deleted", "{\"task_id\": \"" ID "\"}", "2025-07-02T07:00:00.000000Z"},
	{"web_content_change", "{\"url\": \"https://late.example\"}", "2025-07-02T07:00:01Z"},
};

static json_t *fold_history(size_t n)
{
	json_t *st = NULL;

	for (size_t i = 0; i < n; i++)
		st = fold1(st, history[i].type, J(history[i].data), (int64_t)i + 1, history[i].at);
	return st;
}

static void test_fold_sequence(void **state)
{
	json_t *st, *want;

	(void)state;
	st = fold_history(1);
	want = J("{\"task_id\": \"" ID "\", \"task_type\": \"schedule\", \"description\": "
		 "\"standup\", \"config\": {\"type\": \"daily\", \"hour\": 9, \"minute\": 0},"
		 " \"callback_url\": \"http://localhost:8000/process_background_feedback\","
		 " \"user_id\": \"alice\", \"status\": \"active\","
		 " \"created_at\": \"2025-06-20T08:00:00.000000Z\","
		 " \"updated_at\": \"2025-06-20T08:00:00.000000Z\", \"version\": 1}");
	assert_true(json_equal(st, want));
	json_decref(want);
	json_decref(st);

	/* monitor output only moves the version */
	st = fold_history(2);
	assert_int_equal(json_get_int(st, "version", 0), 2);
	assert_string_equal(json_get_str(st, "updated_at"), "2025-06-20T08:00:00.000000Z");
	json_decref(st);

	st = fold_history(4);
	assert_string_equal(task_state_status(st), "paused");
	assert_string_equal(json_get_str(st, "paused_reason"), "holiday");
	assert_int_equal(json_get_int(json_object_get(st, "config"), "hour", 0), 10);
	assert_string_equal(json_get_str(st, "updated_at"), "2025-06-23T10:00:00.000000Z");
	json_decref(st);

	st = fold_history(6);
	assert_string_equal(task_state_status(st), "active");
	assert_null(json_object_get(st, "paused_reason"));
	assert_int_equal(json_get_int(st, "version", 0), 6);
	json_decref(st);

	st = fold_history(sizeof history / sizeof history[0]);
	want = J("{\"task_id\": \"" ID "\", \"task_type\": \"schedule\", \"description\": "
		 "\"standup\", \"config\": {\"type\": \"daily\", \"hour\": 10, \"minute\": 30},"
		 " \"callback_url\": \"http://localhost:8000/process_background_feedback\","
		 " \"user_id\": \"alice\", \"status\": \"deleted\","
		 " \"created_at\": \"2025-06-20T08:00:00.000000Z\","
		 " \"updated_at\": \"2025-07-02T07:00:00.000000Z\", \"version\": 9}");
	if (!json_equal(st, want))
		fail_msg("final state %s", json_to_text(st));
	json_decref(want);
	json_decref(st);
}

static void test_fold_deterministic(void **state)
{
	size_t n = sizeof history / sizeof history[0];

	(void)state;
	for (size_t k = 1; k <= n; k++) {
		json_t *a = fold_history(k), *b = fold_history(k);
		char *ta = json_dumps(a, 0), *tb = json_dumps(b, 0);

		assert_true(json_equal(a, b));
		assert_string_equal(ta, tb); /* byte-identical, key order included */
		free(ta);
		free(tb);
		json_decref(a);
		json_decref(b);
	}
}

static void test_fold_does_not_touch_input(void **state)
{
	json_t *st = fold_history(3), *copy = json_deep_copy(st), *next, *data;

	(void)state;
	data = J("{\"task_id\": \"" ID "\"}");
	next = task_fold(st, TASK_EV_RESUMED, data, 4, "2025-07-01T00:00:00Z", NULL);
	assert_non_null(next);
	assert_true(json_equal(st, copy));
	assert_string_equal(task_state_status(next), "active");
	json_decref(next);
	json_decref(data);
	json_decref(copy);
	json_decref(st);
}

static void expect_corrupt(const json_t *st, const char *type, const char *data, int64_t v,
			   const char *want)
{
	json_t *d = J(data), *next;
	struct err e;

	err_clear(&e);
	next = task_fold(st, type, d, v, "2025-08-01T00:00:00Z", &e);
	if (next)
		fail_msg("%s at version %lld was folded", type, (long long)v);
	assert_int_equal(e.code, ERR_CORRUPT);
	msg_has(type, e.msg, want);
	json_decref(d);
}

static void test_fold_refuses(void **state)
{
	json_t *live = fold_history(1), *gone = fold_history(8), *again, *data;

	(void)state;
	expect_corrupt(NULL, TASK_EV_PAUSED, "{\"task_id\": \"" ID "\"}", 1,
		       "task_paused event before task_created");
	expect_corrupt(NULL, "web_content_change", "{}", 1, "before task_created");
	expect_corrupt(live, TASK_EV_CREATED, history[0].data, 2, "already exists");
	expect_corrupt(NULL, TASK_EV_CREATED,
		       "{\"task_id\": \"x\", \"task_type\": \"nope\","
		       " \"config\": {}}",
		       1, "lacks a task_id, a known task_type or a config object");
	expect_corrupt(NULL, TASK_EV_CREATED, "{\"task_type\": \"schedule\", \"config\": {}}", 1,
		       "lacks");
	expect_corrupt(live, TASK_EV_PAUSED, "{\"task_id\": \"" ID "\"}", 1,
		       "event version 1 does not follow the task's version 1");
	expect_corrupt(live, TASK_EV_PAUSED, "{\"task_id\": \"other\"}", 2,
		       "event of task other folded into task " ID);
	expect_corrupt(live, TASK_EV_UPDATED, "{\"task_id\": \"" ID "\"}", 2, "no changes object");
	expect_corrupt(gone, TASK_EV_RESUMED, "{\"task_id\": \"" ID "\"}", 9,
		       "task_resumed after task_deleted");
	expect_corrupt(gone, TASK_EV_UPDATED, "{\"task_id\": \"" ID "\", \"changes\": {}}", 9,
		       "after task_deleted");
	expect_corrupt(live, NULL, "{}", 2, "");

	/* deleting twice is harmless; the task stays deleted */
	data = J("{\"task_id\": \"" ID "\"}");
	again = task_fold(gone, TASK_EV_DELETED, data, 9, "2025-08-01T00:00:00Z", NULL);
	json_decref(data);
	assert_non_null(again);
	assert_true(task_state_is_deleted(again));
	json_decref(again);
	json_decref(live);
	json_decref(gone);
}

/* Decisions made on folded states, folded again: the loop the app runs. */
static void test_decide_fold_loop(void **state)
{
	json_t *st = NULL, *data;
	struct err e;
	int64_t v = 0;
	int d;

	(void)state;
	data = created_data();
	st = fold1(st, TASK_EV_CREATED, data, ++v, "2025-01-01T00:00:00Z");
	for (int round = 0; round < 3; round++) {
		assert_int_equal(task_decide_pause(st, ID, "r", &d, &data, &e), ERR_OK);
		assert_int_equal(d, TASK_DECIDE_APPEND);
		st = fold1(st, TASK_EV_PAUSED, data, ++v, "2025-01-02T00:00:00Z");
		assert_int_equal(task_decide_pause(st, ID, "r", &d, &data, &e), ERR_OK);
		assert_int_equal(d, TASK_DECIDE_NOOP);
		assert_int_equal(task_decide_resume(st, ID, &d, &data, &e), ERR_OK);
		assert_int_equal(d, TASK_DECIDE_APPEND);
		st = fold1(st, TASK_EV_RESUMED, data, ++v, "2025-01-03T00:00:00Z");
	}
	assert_int_equal(json_get_int(st, "version", 0), 7);
	assert_int_equal(task_decide_delete(st, ID, &data, &e), ERR_OK);
	st = fold1(st, TASK_EV_DELETED, data, ++v, "2025-01-04T00:00:00Z");
	assert_int_equal(task_decide_resume(st, ID, &d, &data, &e), ERR_NOT_FOUND);
	json_decref(st);
}

/* ---- what the engine must be able to run ------------------------------------ */

static const struct reject engine_rejects[] = {
	/* selectors compile as the engine compiles them */
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"selector\": \"div:hover\"}",
	 "config.selector \"div:hover\" cannot be used: ':hover' is not supported",
	 "pseudo-classes"},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"selector\": \"//div[\"}",
	 "config.selector \"//div[\" cannot be used: the XPath", "does not compile"},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"selector\": \"div >\"}",
	 "config.selector \"div >\" cannot be used: ", NULL},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"selector\": \"a[href\"}",
	 "config.selector \"a[href\" cannot be used: ", NULL},
	/* ignore_text /regex/ entries */
	{TASK_WEB_MONITOR,
	 "{\"urls\": [\"https://a.example\"], \"ignore_text\": [\"ok\", \"/(unclosed/\"]}",
	 "config.ignore_text[1] is written /.../, so it must be a POSIX extended regular "
	 "expression: ",
	 "(got \"/(unclosed/\"); write it without the slashes"},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"ignore_text\": [\"/a{2,1}/\"]}",
	 "config.ignore_text[0] is written /.../", NULL},
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"ignore_text\": [\"/(a)\\\\1/\"]}",
	 "config.ignore_text[0] is written /.../, and back-references (\\1) are not allowed", NULL},
	/* max_failures, any type */
	{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"max_failures\": 0}",
	 "config.max_failures must be an integer from 1 to 1000", "(got 0)"},
	{TASK_NEWS_DIGEST, "{\"max_failures\": 1001}", "config.max_failures must be an integer",
	 "(got 1001)"},
	{TASK_SCHEDULE, "{\"type\": \"daily\", \"max_failures\": 1.5}", "config.max_failures",
	 "(got 1.5)"},
	{TASK_THRESHOLD_WATCH,
	 "{\"metric\": \"bitcoin_price\", \"threshold\": 1, \"max_failures\": \"3\"}",
	 "config.max_failures must be an integer from 1 to 1000", "(got \"3\")"},
	/* a schedule's digest sources */
	{TASK_SCHEDULE, "{\"type\": \"daily\", \"news_urls\": [\"ftp://x.example\"]}",
	 "config.news_urls[0] must be an http:// or https:// URL", NULL},
	/* threshold_watch: where the number is read */
	{TASK_THRESHOLD_WATCH,
	 "{\"metric_url\": \"https://m.example\", \"threshold\": 1, \"json_path\": \"$..price\"}",
	 "config.json_path \"$..price\": '..' (recursive descent) is not supported", NULL},
	{TASK_THRESHOLD_WATCH,
	 "{\"metric_url\": \"https://m.example\", \"threshold\": 1, \"json_path\": \"$.a[*]\"}",
	 "config.json_path \"$.a[*]\"", "is not an array index"},
	{TASK_THRESHOLD_WATCH,
	 "{\"metric_url\": \"https://m.example\", \"threshold\": 1, \"regex\": \"(a)\\\\1\"}",
	 "config.regex \"(a)\\1\": back-references (\\1) are not allowed", NULL},
	{TASK_THRESHOLD_WATCH,
	 "{\"metric_url\": \"https://m.example\", \"threshold\": 1, \"json_path\": \"$.p\","
	 " \"regex\": \"p=([0-9]+)\"}",
	 "config.json_path and config.regex are both given; give one", NULL},
	{TASK_THRESHOLD_WATCH, "{\"metric\": \"Bitcoin_Price\", \"threshold\": 1}",
	 "config.metric \"Bitcoin_Price\" is not a built-in metric (built-in: bitcoin_price)",
	 NULL},
	{TASK_THRESHOLD_WATCH,
	 "{\"metric\": \"bitcoin_price\", \"threshold\": 1, \"json_path\": \"$.bitcoin.usd\"}",
	 "config.json_path is only used with config.metric_url",
	 "the built-in metric bitcoin_price needs neither"},
	{TASK_THRESHOLD_WATCH,
	 "{\"metric\": \"bitcoin_price\", \"threshold\": 1, \"regex\": \"([0-9]+)\"}",
	 "config.regex is only used with config.metric_url", "remove regex or add metric_url"},
	/* currency */
	{TASK_THRESHOLD_WATCH,
	 "{\"metric\": \"bitcoin_price\", \"threshold\": 1, \"currency\": \"us\"}",
	 "config.currency must be a currency code of 3-10 letters such as \"usd\" or \"eur\"",
	 "(got \"us\")"},
	{TASK_THRESHOLD_WATCH,
	 "{\"metric\": \"bitcoin_price\", \"threshold\": 1, \"currency\": 840}",
	 "config.currency must be a currency code", "(got 840)"},
	{TASK_THRESHOLD_WATCH,
	 "{\"metric\": \"bitcoin_price\", \"threshold\": 1, \"currency\": \"u$d\"}",
	 "config.currency must be a currency code", NULL},
	{TASK_THRESHOLD_WATCH,
	 "{\"metric\": \"bitcoin_price\", \"threshold\": 1, \"currency\": \"abcdefghijk\"}",
	 "config.currency must be a currency code", NULL},
	{TASK_THRESHOLD_WATCH,
	 "{\"metric_url\": \"https://m.example\", \"threshold\": 1, \"currency\": \"eur\"}",
	 "config.currency only applies to a built-in metric (bitcoin_price) read without "
	 "config.metric_url",
	 "remove currency"},
};

static void test_reject_engine_rules(void **state)
{
	(void)state;
	check_rejects(engine_rejects, sizeof engine_rejects / sizeof engine_rejects[0]);
	assert_string_equal(
		msg_of(TASK_THRESHOLD_WATCH, "{\"metric\": \"cpu_usage\", \"threshold\": 90}"),
		"config.metric \"cpu_usage\" is not a built-in metric (built-in: "
		"bitcoin_price); give metric_url with json_path or regex to read any "
		"other number");
	assert_string_equal(msg_of(TASK_THRESHOLD_WATCH, "{\"threshold\": 5}"),
			    "config.metric or config.metric_url is required: a built-in metric "
			    "(bitcoin_price), or an http(s) URL that returns the value");
}

static void test_metric_builtins_and_currency(void **state)
{
	const struct task_metric_builtin *b = task_config_builtin_metric("bitcoin_price");

	(void)state;
	assert_non_null(b);
	assert_string_equal(b->coin, "bitcoin");
	assert_null(task_config_builtin_metric("btc"));
	assert_null(task_config_builtin_metric(NULL));
	/* a built-in metric gets a currency, stored lower case; null = not given */
	normalises_to(TASK_THRESHOLD_WATCH,
		      "{\"metric\": \"bitcoin_price\", \"threshold\": 1, \"currency\": \"EUR\"}",
		      "{\"metric\": \"bitcoin_price\", \"threshold\": 1, \"currency\": \"eur\","
		      " \"comparison\": \"above\", \"check_interval_minutes\": 15,"
		      " \"hysteresis\": 0, \"cooldown_minutes\": 0}");
	normalises_to(TASK_THRESHOLD_WATCH,
		      "{\"metric\": \"bitcoin_price\", \"threshold\": 1, \"currency\": null}",
		      "{\"metric\": \"bitcoin_price\", \"threshold\": 1, \"currency\": \"usd\","
		      " \"comparison\": \"above\", \"check_interval_minutes\": 15,"
		      " \"hysteresis\": 0, \"cooldown_minutes\": 0}");
	/* with metric_url, metric is a label and no currency is added */
	normalises_to(
		TASK_THRESHOLD_WATCH,
		"{\"metric\": \"anything\", \"metric_url\": \"https://m.example/v\","
		" \"threshold\": 1, \"regex\": \"v=([0-9.]+)\"}",
		"{\"metric\": \"anything\", \"metric_url\": \"https://m.example/v\","
		" \"threshold\": 1, \"regex\": \"v=([0-9.]+)\", \"comparison\": \"above\","
		" \"check_interval_minutes\": 15, \"hysteresis\": 0, \"cooldown_minutes\": 0}");
}

struct url_seen {
	char fields[8][64];
	char urls[8][128];
	int n, stop_at;
};

static int collect_url(const char *field, const char *url, void *ud)
{
	struct url_seen *u = ud;

	if (u->n == u->stop_at)
		return ERR_PERM;
	snprintf(u->fields[u->n], sizeof u->fields[0], "%s", field);
	snprintf(u->urls[u->n], sizeof u->urls[0], "%s", url);
	u->n++;
	return ERR_OK;
}

static void each_url(int type, const char *config, struct url_seen *u, int stop_at, int want_rc)
{
	json_t *cfg = valid(type, config);

	memset(u, 0, sizeof *u);
	u->stop_at = stop_at;
	assert_int_equal(task_config_each_url(type, cfg, collect_url, u), want_rc);
	json_decref(cfg);
}

static void test_each_url(void **state)
{
	struct url_seen u;

	(void)state;
	each_url(TASK_WEB_MONITOR,
		 "{\"urls\": [\"https://a.example\", \"http://b.example/x\"], \"notification\": "
		 "{\"method\": \"webhook\", \"url\": \"http://127.0.0.1/hook\"}}",
		 &u, -1, ERR_OK);
	assert_int_equal(u.n, 2);
	assert_string_equal(u.fields[0], "config.urls[0]");
	assert_string_equal(u.fields[1], "config.urls[1]");
	assert_string_equal(u.urls[1], "http://b.example/x");
	/* the default sources of a digest are fetched too */
	each_url(TASK_NEWS_DIGEST, "{}", &u, -1, ERR_OK);
	assert_int_equal(u.n, 2);
	assert_string_equal(u.fields[1], "config.news_urls[1]");
	assert_string_equal(u.urls[1], "https://news.ycombinator.com");
	each_url(TASK_SCHEDULE,
		 "{\"type\": \"daily\", \"action\": \"news_digest\", \"news_urls\": "
		 "[\"https://a.example\"]}",
		 &u, -1, ERR_OK);
	assert_int_equal(u.n, 1);
	assert_string_equal(u.fields[0], "config.news_urls[0]");
	each_url(TASK_SCHEDULE, "{\"type\": \"daily\"}", &u, -1, ERR_OK);
	assert_int_equal(u.n, 0);
	each_url(TASK_THRESHOLD_WATCH,
		 "{\"metric_url\": \"https://m.example/p\", \"threshold\": 1}", &u, -1, ERR_OK);
	assert_int_equal(u.n, 1);
	assert_string_equal(u.fields[0], "config.metric_url");
	each_url(TASK_THRESHOLD_WATCH, "{\"metric\": \"bitcoin_price\", \"threshold\": 1}", &u, -1,
		 ERR_OK);
	assert_int_equal(u.n, 0);
	/* the first refusal stops the walk */
	each_url(TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\", \"https://b.example\"]}", &u,
		 1, ERR_PERM);
	assert_int_equal(u.n, 1);
}

/* ---- the app: checks against this machine, run now ------------------------- */

struct app_fx {
	char *dir;
	struct store *s;
	struct netguard *guard;
};

static const struct app_actor tester = {.principal = "test"};

static int app_setup(void **state)
{
	struct app_fx *f = calloc(1, sizeof *f);
	char url[4200];
	struct err e = {0};

	f->dir = test_tmpdir("task");
	snprintf(url, sizeof url, "sqlite:%s/events.db", f->dir);
	if (app_store_open(url, false, &f->s, &e)) {
		fprintf(stderr, "open: %s\n", err_msg(&e));
		return -1;
	}
	if (netguard_new(NULL, &f->guard, &e)) {
		fprintf(stderr, "netguard: %s\n", err_msg(&e));
		return -1;
	}
	app_tasks_set_net_guard(f->guard);
	*state = f;
	return 0;
}

static int app_teardown(void **state)
{
	struct app_fx *f = *state;

	app_tasks_set_net_guard(NULL);
	netguard_free(f->guard);
	store_close(f->s);
	test_rmdir(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* Create a task from config text; the error (if any) in *e. */
static int create_task(struct app_fx *f, const char *type, const char *config, char *id_out,
		       struct err *e)
{
	json_t *cfg = J(config), *task = NULL;
	int rc;

	err_clear(e);
	rc = app_task_create(f->s, &tester, NULL, type, "test task", cfg, NULL, NULL, &task, e);
	if (rc == ERR_OK) {
		/* what create returns is what a read of the task gives */
		json_t *got = NULL;
		struct err ge = {0};
		assert_int_equal(app_task_get(f->s, json_get_str(task, "task_id"), &got, &ge),
				 ERR_OK);
		if (!json_equal(task, got))
			fail_msg("create returned %s, a read gives %s", json_dumps(task, 0),
				 json_dumps(got, 0));
		json_decref(got);
	}
	if (rc == ERR_OK && id_out)
		snprintf(id_out, 64, "%s", json_get_str(task, "task_id"));
	json_decref(cfg);
	json_decref(task);
	return rc;
}

static void must_create(struct app_fx *f, const char *type, const char *config, char *id_out)
{
	struct err e;

	if (create_task(f, type, config, id_out, &e) != ERR_OK)
		fail_msg("%s %s was refused: %s", type, config, e.msg);
}

static void must_refuse(struct app_fx *f, const char *type, const char *config, int code,
			const char *want1, const char *want2)
{
	struct err e;
	int rc = create_task(f, type, config, NULL, &e);

	if (rc == ERR_OK)
		fail_msg("%s %s was accepted", type, config);
	assert_int_equal(rc, code);
	msg_has(config, e.msg, want1);
	msg_has(config, e.msg, want2);
}

static int64_t head_of(struct app_fx *f)
{
	int64_t pos = -1;

	assert_int_equal(store_head(f->s, &pos, NULL), ERR_OK);
	return pos;
}

static void test_app_timezone(void **state)
{
	struct app_fx *f = *state;
	char id[64];
	json_t *changes;
	struct err e;
	bool changed;
	int64_t head;

	must_create(f, "schedule", "{\"type\": \"daily\", \"timezone\": \"Europe/Berlin\"}", NULL);
	must_create(f, "schedule", "{\"type\": \"daily\", \"timezone\": \"UTC\"}", id);
	must_create(f, "news_digest", "{\"timezone\": \"America/New_York\"}", NULL);
	head = head_of(f);
	{
		struct err le;

		assert_int_equal(create_task(f, "schedule",
					     "{\"type\": \"daily\", \"timezone\": \"Mars/Base\"}",
					     NULL, &le),
				 ERR_INVALID);
		assert_string_equal(le.msg,
				    "config.timezone \"Mars/Base\" is not a time zone in "
				    "the tz database (/usr/share/zoneinfo); use a name like "
				    "Europe/Berlin");
	}
	must_refuse(f, "news_digest", "{\"timezone\": \"Europe/Berln\"}", ERR_INVALID,
		    "config.timezone \"Europe/Berln\" is not a time zone", NULL);
	must_refuse(f, "schedule",
		    "{\"type\": \"cron\", \"cron\": \"@daily\", \"timezone\": "
		    "\"right/UTC\"}",
		    ERR_INVALID, "config.timezone \"right/UTC\": ", NULL);
	assert_int_equal(head_of(f), head); /* nothing was recorded */

	/* an update is checked the same way and records nothing */
	changes = J("{\"config\": {\"type\": \"daily\", \"timezone\": \"Atlantis/Capital\"}}");
	err_clear(&e);
	assert_int_equal(app_task_update(f->s, &tester, id, changes, &changed, NULL, &e),
			 ERR_INVALID);
	msg_has("update", e.msg, "config.timezone \"Atlantis/Capital\" is not a time zone");
	json_decref(changes);
	assert_int_equal(head_of(f), head);
	changes = J("{\"config\": {\"type\": \"daily\", \"timezone\": \"Asia/Tokyo\"}}");
	assert_int_equal(app_task_update(f->s, &tester, id, changes, &changed, NULL, &e), ERR_OK);
	assert_true(changed);
	json_decref(changes);
}

static void test_app_net_guard(void **state)
{
	static const char *const blocked[] = {
		"http://127.0.0.1:8080/",
		"http://localhost/",
		"http://LOCALHOST./x",
		"http://api.localhost/",
		"http://[::1]:9/",
		"http://user:pw@127.0.0.1/",
		"http://2130706433/",    /* 127.0.0.1 as curl reads it */
		"http://127.1/",         /* likewise */
		"http://0x7f.0.0.1/",    /* likewise */
		"http://%6c%6fcalhost/", /* localhost, percent-encoded */
		"http://[::ffff:127.0.0.1]/",
		"http://10.1.2.3/",
		"http://192.168.0.1/",
		"http://169.254.169.254/latest/meta-data/",
		"http://[fe80::1%25eth0]/",
	};
	struct app_fx *f = *state;
	char cfg[600], id[64];
	struct netguard *open_lo = NULL;
	json_t *changes;
	struct err e;
	bool changed;
	int64_t head = head_of(f);

	for (size_t i = 0; i < sizeof blocked / sizeof blocked[0]; i++) {
		snprintf(cfg, sizeof cfg, "{\"urls\": [\"https://example.com\", \"%s\"]}",
			 blocked[i]);
		must_refuse(f, "web_monitor", cfg, ERR_PERM, "config.urls[1]: ", "--allow-net");
	}
	must_refuse(f, "web_monitor", "{\"urls\": [\"http://127.0.0.1:8080/\"]}", ERR_PERM,
		    "config.urls[0]: refusing to connect to 127.0.0.1 (loopback)",
		    "allow them with --allow-net 127.0.0.1");
	must_refuse(f, "news_digest", "{\"news_urls\": [\"http://127.0.0.1/feed\"]}", ERR_PERM,
		    "config.news_urls[0]: ", "--allow-net");
	must_refuse(f, "schedule",
		    "{\"type\": \"daily\", \"news_urls\": [\"https://a.example\", "
		    "\"http://[::1]/rss\"]}",
		    ERR_PERM, "config.news_urls[1]: ", NULL);
	must_refuse(f, "threshold_watch",
		    "{\"metric_url\": \"http://127.0.0.1:9/price\", \"threshold\": 1}", ERR_PERM,
		    "config.metric_url: ", "--allow-net");
	/* a URL the fetcher could not parse is refused too */
	must_refuse(f, "web_monitor", "{\"urls\": [\"http://a.example:99999/\"]}", ERR_INVALID,
		    "config.urls[0] \"http://a.example:99999/\" is not a URL that can be fetched",
		    NULL);
	assert_int_equal(head_of(f), head);

	/* public names and the userinfo trick's real host pass; callback and
	 * notification endpoints are not judged */
	must_create(
		f, "web_monitor",
		"{\"urls\": [\"http://127.0.0.1:80@example.com/\", \"https://[2606:4700::1]/\"],"
		" \"notification\": {\"method\": \"webhook\", \"url\": \"http://127.0.0.1/h\"}}",
		id);
	{
		json_t *c = J("{\"urls\": [\"https://a.example\"]}"), *task = NULL;

		assert_int_equal(
			app_task_create(f->s, &tester, NULL, "web_monitor", "cb", c,
					"http://127.0.0.1:8000/process_background_feedback", NULL,
					&task, &e),
			ERR_OK);
		json_decref(task);
		json_decref(c);
	}

	/* an update to a blocked URL is refused and records nothing */
	head = head_of(f);
	changes = J("{\"config\": {\"urls\": [\"http://10.0.0.1/\"]}}");
	err_clear(&e);
	assert_int_equal(app_task_update(f->s, &tester, id, changes, &changed, NULL, &e), ERR_PERM);
	msg_has("update", e.msg, "config.urls[0]: refusing to connect to 10.0.0.1 (private)");
	assert_int_equal(head_of(f), head);

	/* allowed by the policy: accepted */
	assert_int_equal(netguard_new("127.0.0.1, 10.0.0.0/8", &open_lo, &e), ERR_OK);
	app_tasks_set_net_guard(open_lo);
	assert_int_equal(app_task_update(f->s, &tester, id, changes, &changed, NULL, &e), ERR_OK);
	assert_true(changed);
	must_create(f, "threshold_watch",
		    "{\"metric_url\": \"http://127.0.0.1:9/price\", \"threshold\": 1}", NULL);
	must_refuse(f, "web_monitor", "{\"urls\": [\"http://192.168.1.1/\"]}", ERR_PERM,
		    "config.urls[0]: ", NULL);
	/* no guard: nothing judged */
	app_tasks_set_net_guard(NULL);
	must_create(f, "web_monitor", "{\"urls\": [\"http://192.168.1.1/\"]}", NULL);
	app_tasks_set_net_guard(f->guard);
	netguard_free(open_lo);
	json_decref(changes);
}

static void test_app_run_now(void **state)
{
	struct app_fx *f = *state;
	char id[64], stream[80], big[1100];
	struct store_event_list evs = {0};
	json_t *r = NULL;
	struct err e;

	must_create(f, "web_monitor", "{\"urls\": [\"https://a.example\"]}", id);
	err_clear(&e);
	assert_int_equal(app_task_run_now(f->s, &tester, id, "testing", &r, &e), ERR_OK);
	assert_string_equal(json_get_str(r, "task_id"), id);
	assert_true(json_is_true(json_object_get(r, "requested")));
	assert_string_equal(json_get_str(r, "event_type"), TASK_EV_RUN_REQUESTED);
	assert_int_equal(json_get_int(r, "version", 0), 2);
	assert_int_equal(json_get_int(r, "position", 0), head_of(f));
	assert_int_equal(strlen(json_get_str(r, "event_id")), 36);
	assert_string_equal(json_get_str(r, "task_status"), "active");
	json_decref(r);
	/* an empty reason is none */
	assert_int_equal(app_task_run_now(f->s, &tester, id, "", &r, &e), ERR_OK);
	json_decref(r);

	task_stream_name(id, stream, sizeof stream);
	assert_int_equal(store_read_stream(f->s, stream, 1, false, 0, &evs, &e), ERR_OK);
	assert_int_equal(evs.count, 3);
	assert_string_equal(evs.items[1].type, TASK_EV_RUN_REQUESTED);
	assert_string_equal(json_get_str(evs.items[1].data, "reason"), "testing");
	assert_string_equal(json_get_str(evs.items[1].data, "task_id"), id);
	assert_string_equal(json_get_str(evs.items[1].metadata, "principal"), "test");
	assert_null(json_object_get(evs.items[2].data, "reason"));
	store_event_list_cleanup(&evs);

	/* bad reasons */
	memset(big, 'x', 1001);
	big[1001] = '\0';
	assert_int_equal(app_task_run_now(f->s, &tester, id, big, &r, &e), ERR_INVALID);
	assert_string_equal(e.msg, "reason must be at most 1000 bytes");
	assert_null(r);
	assert_int_equal(app_task_run_now(f->s, &tester, id, "\xff\xfe", &r, &e), ERR_INVALID);
	msg_has("utf-8", e.msg, "valid UTF-8");

	/* paused: refused, nothing recorded; resumed: fine again */
	assert_int_equal(app_task_pause(f->s, &tester, id, NULL, NULL, NULL, &e), ERR_OK);
	{
		int64_t head = head_of(f);
		char want[200];

		assert_int_equal(app_task_run_now(f->s, &tester, id, NULL, &r, &e), ERR_STATE);
		snprintf(want, sizeof want, "Task %s is paused; resume it first", id);
		assert_string_equal(e.msg, want);
		assert_null(r);
		assert_int_equal(head_of(f), head);
	}
	assert_int_equal(app_task_resume(f->s, &tester, id, NULL, NULL, &e), ERR_OK);
	assert_int_equal(app_task_run_now(f->s, &tester, id, NULL, &r, &e), ERR_OK);
	assert_int_equal(json_get_int(r, "version", 0), 6);
	json_decref(r);

	/* deleted, unknown, not an id */
	assert_int_equal(app_task_delete(f->s, &tester, id, NULL, &e), ERR_OK);
	assert_int_equal(app_task_run_now(f->s, &tester, id, NULL, &r, &e), ERR_NOT_FOUND);
	msg_has("deleted", e.msg, "was deleted");
	assert_int_equal(app_task_run_now(f->s, &tester, "00000000-0000-4000-8000-000000000000",
					  NULL, &r, &e),
			 ERR_NOT_FOUND);
	msg_has("unknown", e.msg, "not found");
	assert_int_equal(app_task_run_now(f->s, &tester, "nonsense", NULL, &r, &e), ERR_NOT_FOUND);
	assert_int_equal(app_task_run_now(f->s, &tester, NULL, NULL, &r, &e), ERR_NOT_FOUND);
	assert_null(r);
}

/* "notification" takes every form notify_targets_parse takes: the seed's
 * objects (and ntfy), Apprise URL strings, arrays and {"urls": [...]}; it is
 * kept as given. */
static void test_notification_forms(void **state)
{
	static const char *const ok[] = {
		"\"mailto:me@example.com\"",
		"\"twilio://AC123:token@+15551230000/+15557654321\"",
		"\"mailtos://me%40gmail.com:pw@smtp.gmail.com/?to=me@example.com\"",
		"\"ntfy://my-alerts\"",
		"\"jsons://hooks.example/in\"",
		"{\"method\": \"ntfy\", \"topic\": \"alerts\", \"server\": \"https://ntfy.sh\"}",
		"{\"method\": \"send_email\", \"email\": \"me@example.com\", \"min_priority\": 3}",
		"[{\"method\": \"send_sms\", \"phone_number\": \"+1234567890\"}, "
		"\"mailto:me@example.com\"]",
		"{\"urls\": [\"ntfy://a\", \"mailto:b@c.d\"], \"min_priority\": 2}",
	};
	static const struct reject bad[] = {
		{TASK_WEB_MONITOR,
		 "{\"urls\": [\"https://a.example\"], \"notification\": \"slack://T0/B0/x\"}",
		 "config.notification: unsupported notification URL scheme \"slack://\"",
		 "mailto:addr"},
		{TASK_WEB_MONITOR, "{\"urls\": [\"https://a.example\"], \"notification\": 5}",
		 "config.notification must be an object such as", "a notification URL"},
		{TASK_WEB_MONITOR,
		 "{\"urls\": [\"https://a.example\"], \"notification\": [\"mailto:a@b.c\", 5]}",
		 "config.notification[1] must be an object", "(got 5)"},
		{TASK_WEB_MONITOR,
		 "{\"urls\": [\"https://a.example\"], \"notification\": {\"urls\": "
		 "[\"mailto:nobody\"]}}",
		 "config.notification.urls[0]: \"nobody\" is not an e-mail address", NULL},
		{TASK_WEB_MONITOR,
		 "{\"urls\": [\"https://a.example\"], \"notification\": {\"method\": \"ntfy\"}}",
		 "config.notification.topic is required for ntfy", NULL},
		{TASK_WEB_MONITOR,
		 "{\"urls\": [\"https://a.example\"], \"notification\": "
		 "\"twilio://AC1:tok@+15551230000\"}",
		 "config.notification: the twilio:// URL names no recipient", NULL},
		{TASK_SCHEDULE,
		 "{\"type\": \"daily\", \"notification\": {\"method\": \"send_sms\", "
		 "\"phone_number\": \"5551234\"}}",
		 "config.notification.phone_number must be a phone number in international form",
		 "(got \"5551234\")"},
		{TASK_NEWS_DIGEST, "{\"notification\": \"https://hooks.example/x\"}",
		 "config.notification: a plain https:// URL is not a notification target", NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		char text[600];
		json_t *out, *in;

		snprintf(text, sizeof text,
			 "{\"urls\": [\"https://x.example\"], \"notification\": %s}", ok[i]);
		out = valid(TASK_WEB_MONITOR, text);
		in = J(ok[i]);
		assert_true(json_equal(json_object_get(out, "notification"), in));
		json_decref(in);
		json_decref(out);
	}
	check_rejects(bad, sizeof bad / sizeof bad[0]);
	{
		/* null means "not given" */
		json_t *out = valid(TASK_WEB_MONITOR, "{\"urls\": [\"https://x.example\"], "
						      "\"notification\": null}");

		assert_null(json_object_get(out, "notification"));
		json_decref(out);
	}
}

int main(void)
{
	unsetenv("TZDIR"); /* the messages name the default directory */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_web_monitor),
		cmocka_unit_test(test_seed_schedule),
		cmocka_unit_test(test_seed_news_digest),
		cmocka_unit_test(test_seed_threshold),
		cmocka_unit_test(test_seed_as_strings_through_create),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_normalisation),
		cmocka_unit_test(test_accepted_forms),
		cmocka_unit_test(test_exact_messages),
		cmocka_unit_test(test_reject_web_monitor),
		cmocka_unit_test(test_reject_schedule),
		cmocka_unit_test(test_reject_digest_threshold),
		cmocka_unit_test(test_reject_limits),
		cmocka_unit_test(test_notification_forms),
		cmocka_unit_test(test_config_parse),
		cmocka_unit_test(test_shape_helpers),
		cmocka_unit_test(test_types_and_streams),
		cmocka_unit_test(test_decide_create),
		cmocka_unit_test(test_lifecycle_missing_and_deleted),
		cmocka_unit_test(test_lifecycle_pause_resume),
		cmocka_unit_test(test_lifecycle_update),
		cmocka_unit_test(test_fold_sequence),
		cmocka_unit_test(test_fold_deterministic),
		cmocka_unit_test(test_fold_does_not_touch_input),
		cmocka_unit_test(test_fold_refuses),
		cmocka_unit_test(test_decide_fold_loop),
		cmocka_unit_test(test_reject_engine_rules),
		cmocka_unit_test(test_metric_builtins_and_currency),
		cmocka_unit_test(test_each_url),
		cmocka_unit_test_setup_teardown(test_app_timezone, app_setup, app_teardown),
		cmocka_unit_test_setup_teardown(test_app_net_guard, app_setup, app_teardown),
		cmocka_unit_test_setup_teardown(test_app_run_now, app_setup, app_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
