/*
 * test_notifier.c - the decide-and-notify step of the feedback server
 * (src/app/notifier.c) in process, against the local stand-ins of
 * tests/fixture_sinks (Twilio's API, SMTP, an OpenAI-compatible API, webhook
 * and ntfy capture) on 127.0.0.1, with a fake clock in manual mode: sends
 * happen in notifier_step, so quiet hours, batching and retries are tested
 * without sleeping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "../test_util.h"
#include "app/feedback.h"
#include "app/notifier.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "sinks.h"

#define SID "AC0123456789abcdef0123456789abcdef"
#define TOKEN "secret-token"
#define FROM "+15550001111"
#define TO "+15551234567"
/* 2026-01-15T23:00:00Z, a Thursday night. */
#define T0 (INT64_C(1768518000) * 1000000)
#define SEC INT64_C(1000000)

struct fx {
	char *dir;
	struct store *s;
	struct sinks *sinks;
	struct clock clk;
	struct channel_config ch;
	struct llm_config llm;
	struct notify_rules rules;
	char twilio_base[64], smtp_url[64], llm_base[64];
	struct notifier *n;
	int seq;
};

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	struct err e = {0};
	f->dir = test_tmpdir("notifier");
	char url[4200];
	snprintf(url, sizeof(url), "sqlite:%s/feedback.db?synchronous=normal", f->dir);
	assert_int_equal(store_open(url, NULL, &f->s, &e), ERR_OK);
	struct sinks_options so = {.twilio_sid = SID, .twilio_token = TOKEN};
	assert_int_equal(sinks_start(&so, &f->sinks, &e), ERR_OK);
	snprintf(f->twilio_base, sizeof(f->twilio_base), "http://127.0.0.1:%d",
		 sinks_http_port(f->sinks));
	snprintf(f->smtp_url, sizeof(f->smtp_url), "smtp://127.0.0.1:%d",
		 sinks_smtp_port(f->sinks));
	snprintf(f->llm_base, sizeof(f->llm_base), "http://127.0.0.1:%d/v1",
		 sinks_http_port(f->sinks));
	clock_fake_init(&f->clk, T0);
	f->ch = (struct channel_config){
		.twilio_sid = SID,
		.twilio_token = TOKEN,
		.twilio_from = FROM,
		.twilio_base_url = f->twilio_base,
		.smtp_url = f->smtp_url,
		.smtp_from = "ambient@example.com",
		.timeout_ms = 5000,
	};
	notify_rules_defaults(&f->rules);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	notifier_free(f->n);
	sinks_stop(f->sinks);
	store_close(f->s);
	test_rmdir(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void start(struct fx *f, bool with_llm)
{
	notifier_free(f->n);
	f->n = NULL;
	if (with_llm)
		f->llm = (struct llm_config){
			.api_key = "sk-test", .base_url = f->llm_base, .timeout_ms = 5000};
	struct notifier_options o = {
		.store = f->s,
		.clock = &f->clk,
		.rules = &f->rules,
		.channels = &f->ch,
		.llm = with_llm ? &f->llm : NULL,
		.manual = true,
	};
	struct err e = {0};
	assert_int_equal(notifier_new(&o, &f->n, &e), ERR_OK);
}

/* A feedback event as the feedback server shows it to the decider. */
static json_t *event(struct fx *f, const char *task, const char *type, int priority,
		     json_t *data, json_t *notification)
{
	char fid[UUID_STR_LEN + 1];
	uuid_v4(fid);
	json_t *ev = json_pack("{s:s,s:s,s:i,s:o,s:i,s:s,s:s}", "task_id", task, "event_type",
			       type, "priority", priority, "data", data, "seq", ++f->seq,
			       "feedback_id", fid, "description", "test task");
	if (notification)
		json_object_set_new(ev, "notification", notification);
	return ev;
}

static json_t *sms_to(const char *to)
{
	return json_pack("{s:s,s:s}", "method", "send_sms", "phone_number", to);
}

static json_t *decide(struct fx *f, json_t *ev)
{
	const struct feedback_decider *d = notifier_decider(f->n);
	struct err e = {0};
	json_t *decision = d->decide(d->ud, ev, &e);
	assert_non_null(decision);
	return decision;
}

static size_t step(struct fx *f)
{
	size_t ran = 0;
	assert_int_equal(notifier_step(f->n, &ran, NULL), ERR_OK);
	return ran;
}

/* The notification outcomes in the store, newest first. */
static json_t *outcomes(struct fx *f)
{
	struct feedback *fb = NULL;
	struct feedback_options o = {.store = f->s};
	struct err e = {0};
	assert_int_equal(feedback_new(&o, &fb, &e), ERR_OK);
	struct feedback_notify_query q = {.limit = 100};
	json_t *page = NULL;
	assert_int_equal(feedback_notifications(fb, &q, &page, &e), ERR_OK);
	feedback_free(fb);
	json_t *items = json_incref(json_object_get(page, "notifications"));
	json_decref(page);
	return items;
}

/* What a sink received (sinks_list's array), new reference. */
static json_t *received(struct fx *f, const char *what)
{
	static const char *const keys[][2] = {
		{"sms", "messages"}, {"emails", "emails"}, {"captured", "captured"},
		{"llm/requests", "requests"}};
	json_t *page = sinks_list(f->sinks, what);
	json_t *items = NULL;
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
		if (strcmp(keys[i][0], what) == 0)
			items = json_incref(json_object_get(page, keys[i][1]));
	json_decref(page);
	assert_non_null(items);
	return items;
}

static size_t count_list(struct fx *f, const char *what)
{
	json_t *l = received(f, what);
	size_t n = json_array_size(l);
	json_decref(l);
	return n;
}

static const char *action_of(const json_t *decision, size_t i)
{
	return json_get_str(json_array_get(json_object_get(decision, "targets"), i), "action");
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_sms_sent_through_twilio(void **state)
{
	struct fx *f = *state;
	start(f, false);
	json_t *ev = event(f, "t1", "threshold_breach", 4,
			   json_pack("{s:s,s:f,s:f,s:s}", "metric", "bitcoin_price", "value",
				     61234.5, "threshold", 60000.0, "direction", "above"),
			   sms_to(TO));
	json_t *d = decide(f, ev);
	assert_string_equal(json_get_str(d, "action"), "notify");
	assert_string_equal(json_get_str(d, "decided_by"), "rules");
	assert_int_equal(step(f), 1);
	json_t *sms = received(f, "sms");
	assert_int_equal(json_array_size(sms), 1);
	json_t *m = json_array_get(sms, 0);
	assert_string_equal(json_get_str(m, "to"), TO);
	assert_string_equal(json_get_str(m, "from"), FROM);
	const char *body = json_get_str(m, "body");
	assert_non_null(body);
	assert_true(strlen(body) > 10);
	json_t *out = outcomes(f);
	assert_int_equal(json_array_size(out), 1);
	json_t *o = json_array_get(out, 0);
	assert_string_equal(json_get_str(o, "type"), "notification_sent");
	assert_string_equal(json_get_str(o, "channel"), "sms");
	assert_string_equal(json_get_str(o, "task_id"), "t1");
	assert_true(strncmp(json_get_str(o, "provider_id"), "SM", 2) == 0);
	assert_string_equal(json_get_str(o, "feedback_id"), json_get_str(ev, "feedback_id"));
	/* Deciding the same event again (a redelivery to the decider after a
	 * crash) sends nothing more. */
	json_decref(decide(f, ev));
	step(f);
	assert_int_equal(count_list(f, "sms"), 1);
	json_decref(out);
	json_decref(sms);
	json_decref(d);
	json_decref(ev);
}

static void test_no_credentials_is_skipped_not_sent(void **state)
{
	struct fx *f = *state;
	f->ch.twilio_sid = f->ch.twilio_token = f->ch.twilio_from = NULL;
	start(f, false);
	json_t *ev = event(f, "t2", "web_content_change", 3,
			   json_pack("{s:s}", "url", "http://example.com/"), sms_to(TO));
	json_decref(decide(f, ev));
	step(f);
	assert_int_equal(count_list(f, "sms"), 0);
	json_t *out = outcomes(f);
	assert_int_equal(json_array_size(out), 1);
	assert_string_equal(json_get_str(json_array_get(out, 0), "type"),
			    "notification_skipped");
	assert_non_null(strstr(json_get_str(json_array_get(out, 0), "reason"),
			       "no Twilio credentials"));
	struct notifier_stats st;
	notifier_stats(f->n, &st);
	assert_int_equal(st.skipped, 1);
	assert_int_equal(st.sent, 0);
	json_decref(out);
	json_decref(ev);
}

static void test_min_priority_suppresses(void **state)
{
	struct fx *f = *state;
	f->rules.min_priority[NOTIFY_CHANNEL_SMS] = 4;
	start(f, false);
	json_t *ev = event(f, "t3", "web_content_change", 3, json_object(), sms_to(TO));
	json_t *d = decide(f, ev);
	assert_string_equal(json_get_str(d, "action"), "suppress");
	assert_string_equal(action_of(d, 0), "suppress");
	step(f);
	assert_int_equal(count_list(f, "sms"), 0);
	json_t *out = outcomes(f);
	json_t *o = json_array_get(out, 0);
	assert_string_equal(json_get_str(o, "type"), "notification_suppressed");
	assert_string_equal(json_get_str(o, "rule"), "min_priority");
	json_decref(out);
	json_decref(d);
	json_decref(ev);
}

static void test_no_targets_decides_none(void **state)
{
	struct fx *f = *state;
	start(f, false);
	json_t *ev = event(f, "t4", "web_content_change", 3, json_object(), NULL);
	json_t *d = decide(f, ev);
	assert_string_equal(json_get_str(d, "action"), "none");
	assert_non_null(strstr(json_get_str(d, "reason"), "no notification configured"));
	json_decref(d);
	json_decref(ev);
	ev = event(f, "t4", "web_content_change", 3, json_object(),
		   json_string("gopher://nope"));
	d = decide(f, ev);
	assert_string_equal(json_get_str(d, "action"), "none");
	assert_non_null(strstr(json_get_str(d, "reason"), "invalid"));
	json_decref(d);
	json_decref(ev);
}

static void test_quiet_hours_hold_then_send(void **state)
{
	struct fx *f = *state;
	struct err e = {0};
	json_t *cfg = json_pack("{s:{s:s,s:s,s:s}}", "quiet_hours", "start", "22:00", "end",
				"07:00", "tz", "UTC");
	assert_int_equal(notify_rules_parse(cfg, &f->rules, &e), ERR_OK);
	json_decref(cfg);
	start(f, false);
	json_t *ev = event(f, "t5", "web_content_change", 3, json_object(), sms_to(TO));
	json_t *d = decide(f, ev);
	assert_string_equal(json_get_str(d, "action"), "hold");
	assert_string_equal(json_get_str(json_array_get(json_object_get(d, "targets"), 0),
					 "until"),
			    "2026-01-16T07:00:00.000000Z");
	assert_int_equal(step(f), 0); /* 23:00: nothing goes out */
	assert_int_equal(count_list(f, "sms"), 0);
	struct notifier_stats st;
	notifier_stats(f->n, &st);
	assert_int_equal(st.pending, 1);
	clock_fake_advance(&f->clk, 7 * 3600 * SEC); /* 06:00 */
	assert_int_equal(step(f), 0);
	clock_fake_advance(&f->clk, 3600 * SEC); /* 07:00 */
	assert_int_equal(step(f), 1);
	assert_int_equal(count_list(f, "sms"), 1);
	json_decref(d);
	json_decref(ev);
}

static void test_rate_limit_and_dedupe(void **state)
{
	struct fx *f = *state;
	f->rules.rate_count = 2;
	f->rules.rate_window_us = 3600 * SEC;
	start(f, false);
	json_t *evs[4];
	for (int i = 0; i < 3; i++) {
		evs[i] = event(f, "t6", "web_content_change", 3, json_pack("{s:i}", "n", i),
			       sms_to(TO));
		json_t *d = decide(f, evs[i]);
		step(f);
		if (i < 2)
			assert_string_equal(action_of(d, 0), "notify");
		else
			assert_string_equal(action_of(d, 0), "suppress");
		json_decref(d);
	}
	assert_int_equal(count_list(f, "sms"), 2);
	json_t *out = outcomes(f);
	assert_string_equal(json_get_str(json_array_get(out, 0), "rule"), "rate_limit");
	json_decref(out);
	/* An hour later the window has room again, but the same content from
	 * the same task within the dedupe window is still told once. */
	clock_fake_advance(&f->clk, 3601 * SEC);
	evs[3] = event(f, "t7", "web_content_change", 3, json_pack("{s:s}", "same", "x"),
		       sms_to(TO));
	json_t *d = decide(f, evs[3]);
	assert_string_equal(action_of(d, 0), "notify");
	json_decref(d);
	json_t *again = event(f, "t7", "web_content_change", 3, json_pack("{s:s}", "same", "x"),
			      sms_to(TO));
	d = decide(f, again);
	assert_string_equal(action_of(d, 0), "suppress");
	assert_string_equal(
		json_get_str(json_array_get(json_object_get(d, "targets"), 0), "rule"), "dedupe");
	json_decref(d);
	json_decref(again);
	for (int i = 0; i < 4; i++)
		json_decref(evs[i]);
}

static void test_low_priority_batched_into_one_email(void **state)
{
	struct fx *f = *state;
	start(f, false);
	json_t *mail = json_string("mailto:me@example.com");
	json_t *a = event(f, "t8", "scheduled_trigger", 1, json_pack("{s:s}", "message", "one"),
			  json_incref(mail));
	json_t *b = event(f, "t9", "scheduled_trigger", 1, json_pack("{s:s}", "message", "two"),
			  json_incref(mail));
	json_t *d1 = decide(f, a), *d2 = decide(f, b);
	assert_string_equal(json_get_str(d1, "action"), "batch");
	assert_string_equal(json_get_str(d2, "action"), "batch");
	assert_int_equal(step(f), 0);
	clock_fake_advance(&f->clk, 3600 * SEC); /* past the hourly flush */
	assert_int_equal(step(f), 1);
	json_t *emails = received(f, "emails");
	assert_int_equal(json_array_size(emails), 1);
	json_t *to = json_object_get(json_array_get(emails, 0), "to");
	assert_string_equal(json_string_value(json_array_get(to, 0)), "me@example.com");
	json_t *out = outcomes(f);
	assert_int_equal(json_array_size(out), 2); /* one outcome per event */
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(json_get_str(json_array_get(out, i), "type"),
				    "notification_sent");
		assert_int_equal(json_get_int(json_array_get(out, i), "digest", 0), 2);
	}
	json_decref(out);
	json_decref(emails);
	json_decref(d1);
	json_decref(d2);
	json_decref(a);
	json_decref(b);
	json_decref(mail);
}

static void test_retry_after_a_provider_error(void **state)
{
	struct fx *f = *state;
	struct err e = {0};
	start(f, false);
	json_t *ctl = json_pack("{s:i,s:i}", "fail", 1, "status", 500);
	assert_int_equal(sinks_control(f->sinks, "twilio", ctl, &e), ERR_OK);
	json_decref(ctl);
	json_t *ev = event(f, "t10", "threshold_breach", 4, json_object(), sms_to(TO));
	json_decref(decide(f, ev));
	assert_int_equal(step(f), 1); /* the failed attempt */
	assert_int_equal(count_list(f, "sms"), 0);
	json_t *out = outcomes(f);
	assert_int_equal(json_array_size(out), 0); /* not final yet */
	json_decref(out);
	clock_fake_advance(&f->clk, 30 * SEC);
	assert_int_equal(step(f), 1);
	assert_int_equal(count_list(f, "sms"), 1);
	out = outcomes(f);
	assert_string_equal(json_get_str(json_array_get(out, 0), "type"), "notification_sent");
	assert_int_equal(json_get_int(json_array_get(out, 0), "attempts", 0), 2);
	json_decref(out);
	json_decref(ev);
}

static void test_llm_decides_and_writes(void **state)
{
	struct fx *f = *state;
	struct err e = {0};
	start(f, true);
	json_t *ctl = json_pack("{s:[s,s]}", "replies", "NO_NOTIFICATION_NEEDED",
				"Bitcoin is at $61,234, above your 60,000 line.");
	assert_int_equal(sinks_control(f->sinks, "llm", ctl, &e), ERR_OK);
	json_decref(ctl);
	json_t *a = event(f, "t11", "threshold_breach", 4, json_object(), sms_to(TO));
	json_t *d = decide(f, a);
	assert_string_equal(json_get_str(d, "decided_by"), "llm");
	assert_string_equal(json_get_str(d, "action"), "suppress");
	json_decref(d);
	json_t *b = event(f, "t11", "threshold_breach", 4, json_pack("{s:i}", "v", 2),
			  sms_to(TO));
	d = decide(f, b);
	assert_string_equal(json_get_str(d, "action"), "notify");
	assert_string_equal(json_get_str(d, "message"),
			    "Bitcoin is at $61,234, above your 60,000 line.");
	json_decref(d);
	step(f);
	json_t *sms = received(f, "sms");
	assert_int_equal(json_array_size(sms), 1);
	assert_non_null(strstr(json_get_str(json_array_get(sms, 0), "body"), "61,234"));
	json_decref(sms);
	/* The LLM fails: the rules decide, and the decision says so. */
	ctl = json_pack("{s:i}", "fail", 1);
	assert_int_equal(sinks_control(f->sinks, "llm", ctl, &e), ERR_OK);
	json_decref(ctl);
	json_t *c = event(f, "t11", "threshold_breach", 4, json_pack("{s:i}", "v", 3),
			  sms_to(TO));
	d = decide(f, c);
	assert_string_equal(json_get_str(d, "decided_by"), "rules");
	assert_non_null(json_get_str(d, "llm_error"));
	assert_string_equal(json_get_str(d, "action"), "notify");
	json_decref(d);
	json_t *reqs = received(f, "llm/requests");
	assert_true(json_array_size(reqs) >= 2);
	json_decref(reqs);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

struct wait_decided {
	struct store *s;
};

static bool decided_recorded(void *ud)
{
	struct wait_decided *w = ud;
	struct store_event_list l = {0};
	struct store_filter flt = {.type = FEEDBACK_EVENT_DECIDED};
	bool ok = store_read_all(w->s, 0, false, 10, &flt, &l, NULL) == ERR_OK && l.count == 1;
	store_event_list_cleanup(&l);
	return ok;
}

/* Through the real feedback server core: received -> decided (held) ->
 * restart -> the held send is queued again and goes out when due. */
static void test_held_send_survives_a_restart(void **state)
{
	struct fx *f = *state;
	struct err e = {0};
	json_t *cfg = json_pack("{s:{s:s,s:s,s:s}}", "quiet_hours", "start", "22:00", "end",
				"07:00", "tz", "UTC");
	assert_int_equal(notify_rules_parse(cfg, &f->rules, &e), ERR_OK);
	json_decref(cfg);
	start(f, false);
	struct feedback *fb = NULL;
	struct feedback_options fo = {
		.store = f->s, .clock = &f->clk, .decider = notifier_decider(f->n)};
	assert_int_equal(feedback_new(&fo, &fb, &e), ERR_OK);
	const char *body = "{\"task_id\":\"t12\",\"event_type\":\"web_content_change\","
			   "\"priority\":3,\"data\":{\"url\":\"http://example.com/\"},"
			   "\"notification\":{\"method\":\"send_sms\",\"phone_number\":\"" TO
			   "\"}}";
	struct feedback_delivery dl = {.body = body, .len = strlen(body)};
	struct feedback_receipt r;
	assert_int_equal(feedback_receive(fb, &dl, &r, &e), ERR_OK);
	json_decref(r.event);
	struct wait_decided w = {.s = f->s};
	assert_true(test_wait_until(decided_recorded, &w, 10));
	feedback_free(fb);
	/* A new process: the hold comes back from the store. */
	start(f, false);
	struct notifier_stats st;
	notifier_stats(f->n, &st);
	assert_int_equal(st.pending, 1);
	assert_int_equal(step(f), 0);
	clock_fake_advance(&f->clk, 8 * 3600 * SEC);
	assert_int_equal(step(f), 1);
	assert_int_equal(count_list(f, "sms"), 1);
	/* And after one more restart nothing is sent twice. */
	start(f, false);
	notifier_stats(f->n, &st);
	assert_int_equal(st.pending, 0);
}

static void test_webhook_and_ntfy_targets(void **state)
{
	struct fx *f = *state;
	start(f, false);
	char hook[128], ntfy[128];
	snprintf(hook, sizeof(hook), "json://127.0.0.1:%d/hook/mine", sinks_http_port(f->sinks));
	snprintf(ntfy, sizeof(ntfy), "http://127.0.0.1:%d/ntfy", sinks_http_port(f->sinks));
	json_t *ev = event(f, "t13", "web_content_change", 3,
			   json_pack("{s:s}", "url", "http://example.com/a"),
			   json_pack("[s,{s:s,s:s,s:s}]", hook, "method", "ntfy", "topic", "alerts",
				     "server", ntfy));
	json_t *d = decide(f, ev);
	assert_int_equal(json_array_size(json_object_get(d, "targets")), 2);
	assert_int_equal(step(f), 2);
	json_t *cap = received(f, "captured");
	assert_int_equal(json_array_size(cap), 2);
	json_decref(cap);
	json_t *out = outcomes(f);
	assert_int_equal(json_array_size(out), 2);
	for (size_t i = 0; i < 2; i++)
		assert_string_equal(json_get_str(json_array_get(out, i), "type"),
				    "notification_sent");
	json_decref(out);
	json_decref(d);
	json_decref(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sms_sent_through_twilio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_credentials_is_skipped_not_sent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_min_priority_suppresses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_targets_decides_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quiet_hours_hold_then_send, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit_and_dedupe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_low_priority_batched_into_one_email, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_retry_after_a_provider_error, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_llm_decides_and_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_send_survives_a_restart, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_webhook_and_ntfy_targets, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
