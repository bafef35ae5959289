/*
 * test_feedback.c - the feedback server's core (src/app/feedback.c) in
 * process: Standard Webhooks signatures (the published test vector, tampered
 * bodies, wrong secrets, stale and future timestamps, several signatures),
 * payload validation, storage with deduplication (also across a restart),
 * queries with filters and cursor pagination, /events/recent's shape, live
 * reading and the decide seam.  A temp SQLite store per test; a fake clock
 * for the signature times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "../test_util.h"
#include "app/feedback.h"
#include "common/json.h"
#include "common/xalloc.h"

/* The example of the Standard Webhooks specification. */
#define VEC_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define VEC_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define VEC_TS "1614265330"
#define VEC_BODY "{\"test\": 2432232314}"
#define VEC_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
#define VEC_NOW 1614265330LL

/* ---- signatures ---------------------------------------------------------------- */

static void test_key_parse(void **state)
{
	(void)state;
	struct feedback_key k;
	struct err e = {0};
	assert_int_equal(feedback_key_parse(VEC_SECRET, &k, &e), ERR_OK);
	assert_int_equal(k.len, 24);
	struct feedback_key k2;
	assert_int_equal(feedback_key_parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &k2, &e), ERR_OK);
	assert_memory_equal(k.bytes, k2.bytes, 24);
	assert_int_equal(feedback_key_parse("", &k, &e), ERR_INVALID);
	assert_int_equal(feedback_key_parse(NULL, &k, &e), ERR_INVALID);
	assert_int_equal(feedback_key_parse("whsec_", &k, &e), ERR_INVALID);
	assert_int_equal(feedback_key_parse("whsec_not base64!", &k, &e), ERR_INVALID);
	assert_non_null(strstr(err_msg(&e), "base64"));
	assert_int_equal(feedback_key_parse("whsec_a=b=", &k, &e), ERR_INVALID);
}

static void test_sign_vector(void **state)
{
	(void)state;
	struct feedback_key k;
	assert_int_equal(feedback_key_parse(VEC_SECRET, &k, NULL), ERR_OK);
	char sig[FEEDBACK_SIGNATURE_MAX];
	feedback_sign(&k, VEC_ID, VEC_TS, VEC_BODY, strlen(VEC_BODY), sig);
	assert_string_equal(sig, VEC_SIG);
}

static enum feedback_reject verify(const struct feedback_key *k, const char *id, const char *ts,
				   const char *sig, const char *body, int64_t now)
{
	struct err e = {0};
	enum feedback_reject r =
		feedback_verify(k, id, ts, sig, body, body ? strlen(body) : 0, now, 300, &e);
	if (r)
		assert_int_equal(e.code, ERR_PERM);
	return r;
}

static void test_verify(void **state)
{
	(void)state;
	struct feedback_key k, other;
	assert_int_equal(feedback_key_parse(VEC_SECRET, &k, NULL), ERR_OK);
	assert_int_equal(
		feedback_key_parse("whsec_c2VjcmV0LXRoYXQtaXMtbm90LXRoZS1zYW1l", &other, NULL),
		ERR_OK);

	/* good */
	assert_int_equal(verify(&k, VEC_ID, VEC_TS, VEC_SIG, VEC_BODY, VEC_NOW), FEEDBACK_OK);
	/* tampered body, id, timestamp */
	assert_int_equal(verify(&k, VEC_ID, VEC_TS, VEC_SIG, "{\"test\": 2432232315}", VEC_NOW),
			 FEEDBACK_REJECT_INVALID_SIGNATURE);
	assert_int_equal(verify(&k, "msg_other", VEC_TS, VEC_SIG, VEC_BODY, VEC_NOW),
			 FEEDBACK_REJECT_INVALID_SIGNATURE);
	assert_int_equal(verify(&k, VEC_ID, "1614265331", VEC_SIG, VEC_BODY, VEC_NOW),
			 FEEDBACK_REJECT_INVALID_SIGNATURE);
	/* wrong secret */
	assert_int_equal(verify(&other, VEC_ID, VEC_TS, VEC_SIG, VEC_BODY, VEC_NOW),
			 FEEDBACK_REJECT_INVALID_SIGNATURE);
	/* stale and future timestamps; the edges of the tolerance pass */
	assert_int_equal(verify(&k, VEC_ID, VEC_TS, VEC_SIG, VEC_BODY, VEC_NOW + 301),
			 FEEDBACK_REJECT_STALE_TIMESTAMP);
	assert_int_equal(verify(&k, VEC_ID, VEC_TS, VEC_SIG, VEC_BODY, VEC_NOW - 301),
			 FEEDBACK_REJECT_STALE_TIMESTAMP);
	assert_int_equal(verify(&k, VEC_ID, VEC_TS, VEC_SIG, VEC_BODY, VEC_NOW + 300), FEEDBACK_OK);
	assert_int_equal(verify(&k, VEC_ID, VEC_TS, VEC_SIG, VEC_BODY, VEC_NOW - 300), FEEDBACK_OK);
	assert_int_equal(verify(&k, VEC_ID, "16142653x0", VEC_SIG, VEC_BODY, VEC_NOW),
			 FEEDBACK_REJECT_STALE_TIMESTAMP);
	assert_int_equal(verify(&k, VEC_ID, "", VEC_SIG, VEC_BODY, VEC_NOW),
			 FEEDBACK_REJECT_STALE_TIMESTAMP);
	/* several signatures: any v1 that matches is enough; others ignored */
	const char *multi = "v1,Ym9ndXM= v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= "
			    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
	assert_int_equal(verify(&k, VEC_ID, VEC_TS, multi, VEC_BODY, VEC_NOW), FEEDBACK_OK);
	assert_int_equal(verify(&k, VEC_ID, VEC_TS,
				"v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,!!!! v1,",
				VEC_BODY, VEC_NOW),
			 FEEDBACK_REJECT_INVALID_SIGNATURE);
	/* a signature without padding decodes too (some senders strip it) */
	assert_int_equal(verify(&k, VEC_ID, VEC_TS,
				"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE", VEC_BODY,
				VEC_NOW),
			 FEEDBACK_OK);
	/* missing headers */
	assert_int_equal(verify(&k, NULL, VEC_TS, VEC_SIG, VEC_BODY, VEC_NOW),
			 FEEDBACK_REJECT_MISSING_SIGNATURE);
	assert_int_equal(verify(&k, VEC_ID, NULL, VEC_SIG, VEC_BODY, VEC_NOW),
			 FEEDBACK_REJECT_MISSING_SIGNATURE);
	assert_int_equal(verify(&k, VEC_ID, VEC_TS, NULL, VEC_BODY, VEC_NOW),
			 FEEDBACK_REJECT_MISSING_SIGNATURE);
	assert_int_equal(verify(&k, VEC_ID, VEC_TS, "", VEC_BODY, VEC_NOW),
			 FEEDBACK_REJECT_INVALID_SIGNATURE);
}

/* ---- payloads -------------------------------------------------------------------- */

static enum feedback_reject validate_text(const char *text, json_t **out)
{
	json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
	assert_non_null(j);
	struct err e = {0};
	enum feedback_reject r = feedback_validate(j, out, &e);
	if (r) {
		assert_int_equal(e.code, ERR_INVALID);
		assert_true(strlen(err_msg(&e)) > 10);
	}
	json_decref(j);
	return r;
}

static void test_validate(void **state)
{
	(void)state;
	json_t *o = NULL;
	/* the original's minimal payload */
	assert_int_equal(
		validate_text("{\"task_id\":\"demo-task-1\",\"event_type\":"
			      "\"web_content_change\",\"data\":{\"url\":\"x\"},"
			      "\"timestamp\":\"2025-06-20T21:03:24.283615\",\"priority\":3}",
			      &o),
		FEEDBACK_OK);
	assert_int_equal(json_get_int(o, "priority", 0), 3);
	json_decref(o);
	/* defaults: priority from the catalogue, data {} */
	assert_int_equal(
		validate_text("{\"task_id\":\"t1\",\"event_type\":\"threshold_breach\"}", &o),
		FEEDBACK_OK);
	assert_int_equal(json_get_int(o, "priority", 0), 4);
	assert_true(json_is_object(json_object_get(o, "data")));
	json_decref(o);
	assert_int_equal(validate_text("{\"task_id\":\"t1\",\"event_type\":\"something_new\"}", &o),
			 FEEDBACK_OK);
	assert_int_equal(json_get_int(o, "priority", 0), 1);
	json_decref(o);
	/* the delivery's full payload; nulls of optional fields are dropped */
	assert_int_equal(
		validate_text(
			"{\"task_id\":\"0b0c8a52-3f7e-4f57-9a37-5b7a1f1f0d11\",\"event_type\":"
			"\"scheduled_trigger\",\"data\":{},\"timestamp\":\"2025-06-20T19:03:"
			"24Z\",\"priority\":2,\"event_id\":\"0190d7a2-1111-7000-8000-"
			"000000000001\",\"task_type\":\"schedule\",\"user_id\":\"default\","
			"\"description\":\"d\",\"position\":17,\"notification\":null,"
			"\"extra\":[1]}",
			&o),
		FEEDBACK_OK);
	assert_null(json_object_get(o, "notification"));
	assert_non_null(json_object_get(o, "extra"));
	json_decref(o);

	/* bad ones */
	const char *bad[] = {
		"[1,2]",
		"\"text\"",
		"{}",
		"{\"event_type\":\"x\"}",
		"{\"task_id\":\"t1\"}",
		"{\"task_id\":\"\",\"event_type\":\"x\"}",
		"{\"task_id\":\"a b\",\"event_type\":\"x\"}",
		"{\"task_id\":\"a/b\",\"event_type\":\"x\"}",
		"{\"task_id\":7,\"event_type\":\"x\"}",
		"{\"task_id\":\"t\",\"event_type\":\"x y\"}",
		"{\"task_id\":\"t\",\"event_type\":null}",
		"{\"task_id\":\"t\",\"event_type\":\"x\",\"data\":[1]}",
		"{\"task_id\":\"t\",\"event_type\":\"x\",\"data\":\"s\"}",
		"{\"task_id\":\"t\",\"event_type\":\"x\",\"priority\":0}",
		"{\"task_id\":\"t\",\"event_type\":\"x\",\"priority\":6}",
		"{\"task_id\":\"t\",\"event_type\":\"x\",\"priority\":\"3\"}",
		"{\"task_id\":\"t\",\"event_type\":\"x\",\"priority\":2.5}",
		"{\"task_id\":\"t\",\"event_type\":\"x\",\"timestamp\":\"yesterday\"}",
		"{\"task_id\":\"t\",\"event_type\":\"x\",\"timestamp\":1718900000}",
		"{\"task_id\":\"t\",\"event_type\":\"x\",\"event_id\":\"abc\"}",
		"{\"task_id\":\"t\",\"event_type\":\"x\",\"position\":-1}",
		"{\"task_id\":\"t\",\"event_type\":\"x\",\"notification\":5}",
		"{\"task_id\":\"t\",\"event_type\":\"x\",\"user_id\":5}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = (json_t *)1;
		if (validate_text(bad[i], &o) != FEEDBACK_REJECT_INVALID_PAYLOAD)
			fail_msg("accepted: %s", bad[i]);
		assert_null(o);
	}
	char longid[200];
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = 0;
	assert_false(feedback_task_id_valid(longid));
	assert_true(feedback_task_id_valid("demo-task-1"));
	assert_true(feedback_event_type_valid("web_content_change"));
	assert_false(feedback_event_type_valid("a%20b"));
}

/* ---- with a store ---------------------------------------------------------------- */

struct fx {
	char *dir;
	char *url;
	struct store *s;
	struct feedback *fb;
	struct clock clk;
};

static void fx_open(struct fx *f, const char *secret, const struct feedback_decider *dec)
{
	struct err e = {0};
	assert_int_equal(store_open(f->url, NULL, &f->s, &e), ERR_OK);
	struct feedback_options o = {
		.store = f->s, .secret = secret, .clock = &f->clk, .decider = dec};
	if (feedback_new(&o, &f->fb, &e) != ERR_OK)
		fail_msg("feedback_new: %s", err_msg(&e));
}

static void fx_close(struct fx *f)
{
	feedback_free(f->fb);
	store_close(f->s);
	f->fb = NULL;
	f->s = NULL;
}

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	f->dir = test_tmpdir("feedback");
	f->url = xasprintf("sqlite:%s/feedback.db", f->dir);
	clock_fake_init(&f->clk, VEC_NOW * 1000000);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	fx_close(f);
	test_rmdir(f->dir);
	free(f->dir);
	free(f->url);
	free(f);
	return 0;
}

/* Receive body with optional headers; returns the code, fills *r. */
static int post(struct fx *f, const char *body, const char *wid, const char *wts, const char *wsig,
		struct feedback_receipt *r)
{
	struct feedback_delivery d = {.body = body,
				      .len = body ? strlen(body) : 0,
				      .webhook_id = wid,
				      .webhook_timestamp = wts,
				      .webhook_signature = wsig};
	struct err e = {0};
	int rc = feedback_receive(f->fb, &d, r, &e);
	if (rc)
		assert_true(strlen(err_msg(&e)) > 10);
	json_decref(r->event);
	r->event = NULL;
	return rc;
}

#define MINIMAL(task, type) "{\"task_id\":\"" task "\",\"event_type\":\"" type "\",\"data\":{}}"

static void test_receive_dedupe(void **state)
{
	struct fx *f = *state;
	fx_open(f, NULL, NULL);
	struct feedback_receipt r;

	/* no ids: every post is stored */
	assert_int_equal(post(f, MINIMAL("t1", "web_content_change"), NULL, NULL, NULL, &r),
			 ERR_OK);
	assert_false(r.duplicate);
	assert_int_equal(r.seq, 1);
	assert_int_equal(post(f, MINIMAL("t1", "web_content_change"), NULL, NULL, NULL, &r),
			 ERR_OK);
	assert_false(r.duplicate);
	assert_int_equal(r.seq, 2);

	/* a UUID webhook-id is the event id; a retry is a duplicate */
	const char *uid = "0190D7A2-1111-7000-8000-0000000000AA";
	assert_int_equal(post(f, MINIMAL("t2", "threshold_breach"), uid, NULL, NULL, &r), ERR_OK);
	assert_false(r.duplicate);
	assert_string_equal(r.id, "0190d7a2-1111-7000-8000-0000000000aa");
	int64_t seq = r.seq;
	assert_int_equal(post(f, MINIMAL("t2", "threshold_breach"), uid, NULL, NULL, &r), ERR_OK);
	assert_true(r.duplicate);
	assert_int_equal(r.seq, seq);
	/* the same id for another task: still the same message */
	assert_int_equal(post(f, MINIMAL("t3", "threshold_breach"), uid, NULL, NULL, &r), ERR_OK);
	assert_true(r.duplicate);

	/* any other webhook-id gets a derived id */
	assert_int_equal(post(f, MINIMAL("t2", "x"), "msg_abc", NULL, NULL, &r), ERR_OK);
	assert_false(r.duplicate);
	assert_true(uuid_valid(r.id));
	assert_int_equal(post(f, MINIMAL("t2", "x"), "msg_abc", NULL, NULL, &r), ERR_OK);
	assert_true(r.duplicate);

	/* without webhook-id, the payload's event_id */
	const char *withid = "{\"task_id\":\"t4\",\"event_type\":\"x\",\"event_id\":"
			     "\"0190d7a2-2222-7000-8000-000000000001\"}";
	assert_int_equal(post(f, withid, NULL, NULL, NULL, &r), ERR_OK);
	assert_false(r.duplicate);
	assert_int_equal(post(f, withid, NULL, NULL, NULL, &r), ERR_OK);
	assert_true(r.duplicate);

	/* bad input is refused, counted, and changes nothing */
	assert_int_equal(post(f, "{not json", NULL, NULL, NULL, &r), ERR_INVALID);
	assert_int_equal(r.reject, FEEDBACK_REJECT_INVALID_JSON);
	assert_int_equal(post(f, "", NULL, NULL, NULL, &r), ERR_INVALID);
	assert_int_equal(r.reject, FEEDBACK_REJECT_INVALID_JSON);
	assert_int_equal(post(f, "{\"task_id\":\"t\"}", NULL, NULL, NULL, &r), ERR_INVALID);
	assert_int_equal(r.reject, FEEDBACK_REJECT_INVALID_PAYLOAD);
	assert_int_equal(post(f, MINIMAL("t", "x"), "bad id", NULL, NULL, &r), ERR_INVALID);
	assert_int_equal(r.reject, FEEDBACK_REJECT_INVALID_HEADER);

	struct feedback_stats st;
	assert_int_equal(feedback_stats(f->fb, &st, NULL), ERR_OK);
	assert_int_equal(st.received, 5);
	assert_int_equal(st.duplicates, 4);
	assert_int_equal(st.stored, 5);
	assert_int_equal(st.rejected[FEEDBACK_REJECT_INVALID_JSON], 2);
	assert_int_equal(st.rejected[FEEDBACK_REJECT_INVALID_PAYLOAD], 1);
	assert_int_equal(st.rejected[FEEDBACK_REJECT_INVALID_HEADER], 1);
	assert_false(st.signatures);

	/* a restart keeps the events and the dedupe */
	fx_close(f);
	fx_open(f, NULL, NULL);
	assert_int_equal(post(f, MINIMAL("t2", "threshold_breach"), uid, NULL, NULL, &r), ERR_OK);
	assert_true(r.duplicate);
	assert_int_equal(post(f, MINIMAL("t2", "x"), "msg_abc", NULL, NULL, &r), ERR_OK);
	assert_true(r.duplicate);
	assert_int_equal(feedback_stats(f->fb, &st, NULL), ERR_OK);
	assert_int_equal(st.stored, 5);
	assert_int_equal(st.received, 0);
	assert_int_equal(st.duplicates, 2);
}

static void test_receive_stored_shape(void **state)
{
	struct fx *f = *state;
	fx_open(f, NULL, NULL);
	struct feedback_delivery d = {.body = MINIMAL("t1", "web_content_change"),
				      .len = strlen(MINIMAL("t1", "web_content_change")),
				      .webhook_id = "0190d7a2-1111-7000-8000-0000000000bb"};
	struct feedback_receipt r;
	assert_int_equal(feedback_receive(f->fb, &d, &r, NULL), ERR_OK);
	assert_non_null(r.event);
	assert_string_equal(json_get_str(r.event, "task_id"), "t1");
	assert_int_equal(json_get_int(r.event, "priority", 0), 3);
	assert_int_equal(json_get_int(r.event, "seq", 0), r.seq);
	assert_string_equal(json_get_str(r.event, "webhook_id"), d.webhook_id);
	assert_non_null(json_get_str(r.event, "received_at"));
	json_decref(r.event);

	/* in the store: stream feedback-t1, type feedback_received */
	struct store_event_list l = {0};
	assert_int_equal(store_read_stream(f->s, "feedback-t1", 1, false, 0, &l, NULL), ERR_OK);
	assert_int_equal(l.count, 1);
	assert_string_equal(l.items[0].type, FEEDBACK_EVENT_RECEIVED);
	assert_string_equal(l.items[0].event_id, d.webhook_id);
	assert_string_equal(json_get_str(l.items[0].data, "received_at"),
			    json_get_str(l.items[0].data, "received_at"));
	assert_string_equal(json_get_str(l.items[0].metadata, "dedupe"), "webhook-id");
	store_event_list_cleanup(&l);
}

static void test_receive_signed(void **state)
{
	struct fx *f = *state;
	fx_open(f, VEC_SECRET, NULL);
	struct feedback_key k;
	assert_int_equal(feedback_key_parse(VEC_SECRET, &k, NULL), ERR_OK);
	const char *body = MINIMAL("t1", "web_content_change");
	char sig[FEEDBACK_SIGNATURE_MAX], ts[32];
	snprintf(ts, sizeof(ts), "%lld", VEC_NOW);
	feedback_sign(&k, "msg_1", ts, body, strlen(body), sig);
	struct feedback_receipt r;

	assert_int_equal(post(f, body, "msg_1", ts, sig, &r), ERR_OK);
	assert_false(r.duplicate);
	assert_int_equal(post(f, body, "msg_1", ts, sig, &r), ERR_OK);
	assert_true(r.duplicate);
	/* tampered body */
	assert_int_equal(post(f, MINIMAL("t1", "web_content_changf"), "msg_1", ts, sig, &r),
			 ERR_PERM);
	assert_int_equal(r.reject, FEEDBACK_REJECT_INVALID_SIGNATURE);
	/* no headers */
	assert_int_equal(post(f, body, NULL, NULL, NULL, &r), ERR_PERM);
	assert_int_equal(r.reject, FEEDBACK_REJECT_MISSING_SIGNATURE);
	/* bad JSON is judged after the signature: unsigned garbage is a 401 */
	assert_int_equal(post(f, "{", "msg_2", ts, sig, &r), ERR_PERM);
	assert_int_equal(r.reject, FEEDBACK_REJECT_INVALID_SIGNATURE);
	/* six minutes later the same delivery is stale */
	clock_fake_advance(&f->clk, 360LL * 1000000);
	assert_int_equal(post(f, body, "msg_1", ts, sig, &r), ERR_PERM);
	assert_int_equal(r.reject, FEEDBACK_REJECT_STALE_TIMESTAMP);

	struct feedback_stats st;
	assert_int_equal(feedback_stats(f->fb, &st, NULL), ERR_OK);
	assert_true(st.signatures);
	assert_int_equal(st.stored, 1);
	assert_int_equal(st.rejected[FEEDBACK_REJECT_INVALID_SIGNATURE], 2);
	assert_int_equal(st.rejected[FEEDBACK_REJECT_MISSING_SIGNATURE], 1);
	assert_int_equal(st.rejected[FEEDBACK_REJECT_STALE_TIMESTAMP], 1);

	/* a bad secret is refused at start */
	struct feedback *fb2 = NULL;
	struct feedback_options o = {.store = f->s, .secret = "whsec_***"};
	struct err e = {0};
	assert_int_equal(feedback_new(&o, &fb2, &e), ERR_INVALID);
	assert_null(fb2);
}

/* Store 30 events (data.i = 0..29): tasks a/b/c in turn; types x
 * (priority 1), y (priority 3), z (priority 5) in runs of three, so x has
 * 12 events, y and z 9 each. */
static void fill(struct fx *f)
{
	static const char *const tasks[] = {"a", "b", "c"};
	static const char *const types[] = {"x", "y", "z"};
	for (int i = 0; i < 30; i++) {
		char *body = xasprintf("{\"task_id\":\"%s\",\"event_type\":\"%s\",\"priority\":%d,"
				       "\"data\":{\"i\":%d}}",
				       tasks[i % 3], types[(i / 3) % 3], 1 + 2 * ((i / 3) % 3), i);
		struct feedback_receipt r;
		assert_int_equal(post(f, body, NULL, NULL, NULL, &r), ERR_OK);
		free(body);
	}
}

static json_t *list(struct fx *f, const struct feedback_query *q)
{
	json_t *page = NULL;
	struct err e = {0};
	if (feedback_list(f->fb, q, &page, &e) != ERR_OK)
		fail_msg("feedback_list: %s", err_msg(&e));
	return page;
}

/* Walk every page; return the data.i values in order as a string. */
static char *walk(struct fx *f, struct feedback_query q, int *pages)
{
	char *out = xstrdup("");
	*pages = 0;
	for (;;) {
		json_t *page = list(f, &q);
		(*pages)++;
		size_t i;
		json_t *ev;
		json_array_foreach(json_object_get(page, "events"), i, ev) {
			char *n = xasprintf("%s%lld,", out,
					    json_get_int(json_object_get(ev, "data"), "i", -1));
			free(out);
			out = n;
		}
		const char *next = json_get_str(page, "next_cursor");
		if (!next) {
			json_decref(page);
			break;
		}
		q.cursor = strtoll(next, NULL, 10);
		json_decref(page);
		assert_true(*pages < 100);
	}
	return out;
}

static void test_query(void **state)
{
	struct fx *f = *state;
	fx_open(f, NULL, NULL);
	fill(f);

	struct feedback_query q = {0};
	json_t *page = list(f, &q);
	assert_int_equal(json_get_int(page, "count", 0), 30);
	assert_true(json_is_null(json_object_get(page, "next_cursor")));
	assert_string_equal(json_get_str(page, "order"), "desc");
	json_t *first = json_array_get(json_object_get(page, "events"), 0);
	assert_int_equal(json_get_int(json_object_get(first, "data"), "i", -1), 29);
	assert_int_equal(json_get_int(first, "seq", 0), 30);
	json_decref(page);

	/* filters */
	q = (struct feedback_query){.task_id = "b"};
	page = list(f, &q);
	assert_int_equal(json_get_int(page, "count", 0), 10);
	json_decref(page);
	q = (struct feedback_query){.event_type = "y"};
	page = list(f, &q);
	assert_int_equal(json_get_int(page, "count", 0), 9);
	json_decref(page);
	q = (struct feedback_query){.event_type = "y", .task_id = "a"};
	page = list(f, &q);
	assert_true(json_get_int(page, "count", 0) > 0);
	size_t i;
	json_t *ev;
	json_array_foreach(json_object_get(page, "events"), i, ev) {
		assert_string_equal(json_get_str(ev, "task_id"), "a");
		assert_string_equal(json_get_str(ev, "event_type"), "y");
	}
	json_decref(page);
	q = (struct feedback_query){.priority = 5};
	page = list(f, &q);
	assert_int_equal(json_get_int(page, "count", 0), 9);
	json_decref(page);
	q = (struct feedback_query){.min_priority = 3};
	page = list(f, &q);
	assert_int_equal(json_get_int(page, "count", 0), 18);
	json_decref(page);
	q = (struct feedback_query){.task_id = "nobody"};
	page = list(f, &q);
	assert_int_equal(json_get_int(page, "count", 0), 0);
	json_decref(page);
	q = (struct feedback_query){.since_us = clock_wall_us(NULL) + 3600LL * 1000000};
	page = list(f, &q);
	assert_int_equal(json_get_int(page, "count", 0), 0);
	assert_true(json_is_null(json_object_get(page, "next_cursor")));
	json_decref(page);
	q = (struct feedback_query){.since_us = clock_wall_us(NULL) - 3600LL * 1000000,
				    .until_us = clock_wall_us(NULL) + 3600LL * 1000000};
	page = list(f, &q);
	assert_int_equal(json_get_int(page, "count", 0), 30);
	json_decref(page);

	/* pagination visits every event once, in order, both ways */
	int pages;
	char *s = walk(f, (struct feedback_query){.limit = 7}, &pages);
	assert_string_equal(s, "29,28,27,26,25,24,23,22,21,20,19,18,17,16,15,14,13,12,11,10,9,8,"
			       "7,6,5,4,3,2,1,0,");
	assert_int_equal(pages, 5);
	free(s);
	s = walk(f, (struct feedback_query){.limit = 4, .ascending = true, .task_id = "c"}, &pages);
	assert_string_equal(s, "2,5,8,11,14,17,20,23,26,29,");
	free(s);
	s = walk(f, (struct feedback_query){.limit = 10}, &pages);
	assert_int_equal(pages, 3); /* the third page knows it reached the start */
	free(s);
	s = walk(f, (struct feedback_query){.limit = 3, .priority = 3}, &pages);
	assert_string_equal(s, "23,22,21,14,13,12,5,4,3,");
	free(s);
	s = walk(f, (struct feedback_query){.limit = 3, .event_type = "z", .ascending = true},
		 &pages);
	assert_string_equal(s, "6,7,8,15,16,17,24,25,26,");
	free(s);
}

static const char *args_get(void *ud, const char *name)
{
	const char *const *kv = ud;
	for (; kv[0]; kv += 2)
		if (strcmp(kv[0], name) == 0)
			return kv[1];
	return NULL;
}

static int parse(const char *const *kv, struct feedback_query *q)
{
	struct err e = {0};
	int rc = feedback_query_parse(q, args_get, (void *)kv, &e);
	if (rc)
		assert_true(strlen(err_msg(&e)) > 10);
	return rc;
}

static void test_query_parse(void **state)
{
	(void)state;
	struct feedback_query q;
	const char *good[] = {"event_type",
			      "web_content_change",
			      "task_id",
			      "t-1",
			      "priority",
			      "3",
			      "min_priority",
			      "2",
			      "since",
			      "2025-06-20T21:03:24Z",
			      "until",
			      "1750450000",
			      "cursor",
			      "17",
			      "order",
			      "asc",
			      "limit",
			      "1000",
			      NULL};
	assert_int_equal(parse(good, &q), ERR_OK);
	assert_string_equal(q.event_type, "web_content_change");
	assert_string_equal(q.task_id, "t-1");
	assert_int_equal(q.priority, 3);
	assert_int_equal(q.min_priority, 2);
	assert_int_equal(q.since_us, 1750453404LL * 1000000);
	assert_int_equal(q.until_us, 1750450000LL * 1000000);
	assert_int_equal(q.cursor, 17);
	assert_true(q.ascending);
	assert_int_equal(q.limit, 1000);
	const char *empty[] = {"event_type", "", "limit", "", NULL};
	assert_int_equal(parse(empty, &q), ERR_OK);
	assert_null(q.event_type);
	assert_int_equal(q.limit, 0);

	const char *bad[][3] = {
		{"limit", "0", NULL},        {"limit", "1001", NULL},     {"limit", "ten", NULL},
		{"priority", "6", NULL},     {"min_priority", "0", NULL}, {"order", "up", NULL},
		{"cursor", "-1", NULL},      {"since", "June", NULL},     {"until", "x", NULL},
		{"event_type", "a b", NULL}, {"task_id", "a/b", NULL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &q) != ERR_INVALID)
			fail_msg("accepted %s=%s", bad[i][0], bad[i][1]);
}

static void test_recent_and_live(void **state)
{
	struct fx *f = *state;
	fx_open(f, NULL, NULL);
	json_t *out = NULL;
	assert_int_equal(feedback_recent(f->fb, 10, &out, NULL), ERR_OK);
	assert_int_equal(json_get_int(out, "total_events", -1), 0);
	assert_int_equal(json_array_size(json_object_get(out, "recent_events")), 0);
	json_decref(out);

	fill(f);
	assert_int_equal(feedback_recent(f->fb, 10, &out, NULL), ERR_OK);
	assert_int_equal(json_get_int(out, "total_events", -1), 30);
	json_t *recent = json_object_get(out, "recent_events");
	assert_int_equal(json_array_size(recent), 10);
	/* oldest first, like the original's events_received[-10:] */
	assert_int_equal(json_get_int(json_object_get(json_array_get(recent, 0), "data"), "i", -1),
			 20);
	assert_int_equal(json_get_int(json_object_get(json_array_get(recent, 9), "data"), "i", -1),
			 29);
	json_t *types = json_object_get(out, "event_types");
	assert_int_equal(json_array_size(types), 3);
	assert_string_equal(json_string_value(json_array_get(types, 0)), "x");
	assert_string_equal(json_string_value(json_array_get(types, 2)), "z");
	json_decref(out);

	/* live reading: all after 0, then only what is new */
	struct feedback_query q = {.task_id = "a"};
	json_t *evs = json_array();
	int64_t covered = 0;
	assert_int_equal(feedback_read_after(f->fb, &q, 0, 100, evs, &covered, NULL), ERR_OK);
	assert_int_equal(json_array_size(evs), 10);
	assert_int_equal(covered, 30);
	struct err e = {0};
	assert_int_equal(feedback_wait(f->fb, covered, 0, &e), ERR_TIMEOUT);
	struct feedback_receipt r;
	assert_int_equal(post(f, MINIMAL("b", "x"), NULL, NULL, NULL, &r), ERR_OK);
	assert_int_equal(feedback_wait(f->fb, covered, 1000, &e), ERR_OK);
	json_array_clear(evs);
	assert_int_equal(feedback_read_after(f->fb, &q, covered, 100, evs, &covered, NULL), ERR_OK);
	assert_int_equal(json_array_size(evs), 0); /* task b: filtered out */
	assert_int_equal(covered, 31);
	assert_int_equal(post(f, MINIMAL("a", "x"), NULL, NULL, NULL, &r), ERR_OK);
	assert_int_equal(feedback_read_after(f->fb, &q, covered, 100, evs, &covered, NULL), ERR_OK);
	assert_int_equal(json_array_size(evs), 1);
	assert_int_equal(covered, 32);
	/* in small batches */
	json_array_clear(evs);
	covered = 0;
	for (int i = 0; i < 20 && covered < 32; i++)
		assert_int_equal(feedback_read_after(f->fb, &q, covered, 7, evs, &covered, NULL),
				 ERR_OK);
	assert_int_equal(covered, 32);
	assert_int_equal(json_array_size(evs), 11);
	json_decref(evs);
}

/* ---- the decide seam ------------------------------------------------------------- */

static json_t *decide_by_priority(void *ud, const json_t *event, struct err *e)
{
	(void)ud;
	if (strcmp(json_get_str(event, "event_type"), "boom") == 0) {
		err_set(e, ERR_INVALID, "cannot decide a boom");
		return NULL;
	}
	return json_pack("{s:b}", "notify", json_get_int(event, "priority", 0) >= 3);
}

struct decided_wait {
	struct store *s;
	int64_t want;
};

static bool checkpoint_reached(void *ud)
{
	struct decided_wait *w = ud;
	int64_t pos = 0;
	return store_checkpoint_get(w->s, FEEDBACK_DECIDE_CHECKPOINT, &pos, NULL) == ERR_OK &&
	       pos >= w->want;
}

static void test_decider(void **state)
{
	struct fx *f = *state;
	struct feedback_decider dec = {.decide = decide_by_priority};
	fx_open(f, NULL, &dec);
	struct feedback_receipt r;
	assert_int_equal(post(f, MINIMAL("a", "threshold_breach"), NULL, NULL, NULL, &r), ERR_OK);
	assert_int_equal(post(f, MINIMAL("a", "boom"), NULL, NULL, NULL, &r), ERR_OK);
	assert_int_equal(post(f, MINIMAL("b", "x"), NULL, NULL, NULL, &r), ERR_OK);
	struct decided_wait w = {.s = f->s, .want = r.seq};
	assert_true(test_wait_until(checkpoint_reached, &w, 10));

	struct store_event_list l = {0};
	struct store_filter flt = {.type = FEEDBACK_EVENT_DECIDED};
	assert_int_equal(store_read_all(f->s, 0, false, 0, &flt, &l, NULL), ERR_OK);
	assert_int_equal(l.count, 2); /* "boom" decided nothing */
	assert_string_equal(l.items[0].stream, "feedback-a");
	assert_true(json_is_true(
		json_object_get(json_object_get(l.items[0].data, "decision"), "notify")));
	assert_false(json_is_true(
		json_object_get(json_object_get(l.items[1].data, "decision"), "notify")));
	store_event_list_cleanup(&l);

	/* decisions are not feedback: lists and counts ignore them */
	struct feedback_query q = {0};
	json_t *page = list(f, &q);
	assert_int_equal(json_get_int(page, "count", 0), 3);
	json_decref(page);
	struct feedback_stats st;
	assert_int_equal(feedback_stats(f->fb, &st, NULL), ERR_OK);
	assert_int_equal(st.stored, 3);
	assert_int_equal(st.decided, 3);

	/* after a restart nothing is decided twice */
	fx_close(f);
	fx_open(f, NULL, &dec);
	assert_int_equal(post(f, MINIMAL("c", "y"), NULL, NULL, NULL, &r), ERR_OK);
	w.s = f->s;
	w.want = r.seq;
	assert_true(test_wait_until(checkpoint_reached, &w, 10));
	assert_int_equal(feedback_stats(f->fb, &st, NULL), ERR_OK);
	assert_int_equal(st.decided, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_parse),
		cmocka_unit_test(test_sign_vector),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_query_parse),
		cmocka_unit_test_setup_teardown(test_receive_dedupe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_stored_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_signed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recent_and_live, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decider, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
