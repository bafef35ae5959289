/*
 * feedback.c - the Event Feedback Server's core (see feedback.h): Standard
 * Webhooks verification with OpenSSL's EVP_MAC, payload validation, storage
 * in the feedback event store, counters, queries and the decider thread.
 */
#define _GNU_SOURCE
/* <openssl/types.h> declares a type ERR_STATE, which is also one of our
 * error codes (common/err.h): OpenSSL comes first, under another name. */
#define ERR_STATE OPENSSL_ERR_STATE
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#undef ERR_STATE

#include "app/feedback.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "domain/redact.h"
#include "domain/event_types.h"

#define SECRET_PREFIX "whsec_"
#define READ_BATCH 500
#define COUNT_BATCH 1000
/* Events are filtered by their recorded_at, but pages are read in position
 * order; a wall clock step could make the two disagree a little, so the
 * scan for a time window stops only this far past it. */
#define TIME_SLACK_US (300LL * 1000000)

static const char *const reject_names[FEEDBACK_REJECT__COUNT] = {
	[FEEDBACK_OK] = "ok",
	[FEEDBACK_REJECT_INVALID_JSON] = "invalid_json",
	[FEEDBACK_REJECT_INVALID_PAYLOAD] = "invalid_payload",
	[FEEDBACK_REJECT_INVALID_HEADER] = "invalid_header",
	[FEEDBACK_REJECT_TOO_LARGE] = "payload_too_large",
	[FEEDBACK_REJECT_MISSING_SIGNATURE] = "missing_signature",
	[FEEDBACK_REJECT_INVALID_SIGNATURE] = "invalid_signature",
	[FEEDBACK_REJECT_STALE_TIMESTAMP] = "stale_timestamp",
	[FEEDBACK_REJECT_STORE] = "store_unavailable",
};

const char *feedback_reject_name(enum feedback_reject r)
{
	if ((int)r < 0 || r >= FEEDBACK_REJECT__COUNT)
		return "unknown";
	return reject_names[r];
}

/* ---- base64, HMAC, derived ids ------------------------------------------------- */

/* Decode standard base64 (padding optional) into out; false when it is not
 * base64 or does not fit. */
static bool b64_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *outlen)
{
	if (n == 0 || n > 4 * ((cap + 2) / 3) + 4 || n % 4 == 1)
		return false;
	size_t padded = (n + 3) / 4 * 4;
	char *tmp = xmalloc(padded + 1);
	memcpy(tmp, in, n);
	for (size_t i = n; i < padded; i++)
		tmp[i] = '=';
	tmp[padded] = 0;
	size_t pad = 0;
	for (size_t i = padded; i > 0 && tmp[i - 1] == '=' && pad < 3; i--)
		pad++;
	bool ok = pad <= 2;
	for (size_t i = 0; ok && i < padded - pad; i++) {
		char c = tmp[i];
		ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		     c == '+' || c == '/';
	}
	unsigned char *buf = xmalloc(padded / 4 * 3 + 1);
	int got = ok ? EVP_DecodeBlock(buf, (const unsigned char *)tmp, (int)padded) : -1;
	free(tmp);
	if (got < 0 || (size_t)got < pad || (size_t)got - pad > cap) {
		free(buf);
		return false;
	}
	*outlen = (size_t)got - pad;
	memcpy(out, buf, *outlen);
	OPENSSL_cleanse(buf, (size_t)got);
	free(buf);
	return true;
}

/* HMAC-SHA256 of id.timestamp.body; false if OpenSSL fails (no HMAC). */
static bool hmac_sign(const struct feedback_key *key, const char *id, const char *ts,
		      const char *body, size_t len, unsigned char mac[32])
{
	bool ok = false;
	size_t outl = 0;
	EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	if (c && EVP_MAC_init(c, key->bytes, key->len, params) &&
	    EVP_MAC_update(c, (const unsigned char *)id, strlen(id)) &&
	    EVP_MAC_update(c, (const unsigned char *)".", 1) &&
	    EVP_MAC_update(c, (const unsigned char *)ts, strlen(ts)) &&
	    EVP_MAC_update(c, (const unsigned char *)".", 1) &&
	    EVP_MAC_update(c, (const unsigned char *)body, len) &&
	    EVP_MAC_final(c, mac, &outl, 32) && outl == 32)
		ok = true;
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(m);
	if (!ok)
		memset(mac, 0, 32);
	return ok;
}

/* A UUID (version 8) derived from kind and text: the same input always
 * gives the same id (kind: "decided", "webhook-id"). */
static void derive_uuid(const char *kind, const char *text, char out[UUID_STR_LEN + 1])
{
	char *s = xasprintf("ambient-feedback:%s:%s", kind, text);
	uuid_from_name(s, out);
	free(s);
}

static void lower_uuid(const char *in, char out[UUID_STR_LEN + 1])
{
	for (size_t i = 0; i < UUID_STR_LEN; i++)
		out[i] = (char)(in[i] >= 'A' && in[i] <= 'F' ? in[i] - 'A' + 'a' : in[i]);
	out[UUID_STR_LEN] = 0;
}

/* ---- signatures ---------------------------------------------------------------- */

int feedback_key_parse(const char *secret, struct feedback_key *key, struct err *e)
{
	memset(key, 0, sizeof(*key));
	if (!secret || !*secret)
		return err_set(e, ERR_INVALID,
			       "the webhook secret is empty: give 'whsec_' followed by the base64 "
			       "key, the same the sender signs with");
	const char *b64 = secret;
	if (strncmp(b64, SECRET_PREFIX, strlen(SECRET_PREFIX)) == 0)
		b64 += strlen(SECRET_PREFIX);
	if (!b64_decode(b64, strlen(b64), key->bytes, sizeof(key->bytes), &key->len) ||
	    key->len == 0) {
		memset(key, 0, sizeof(*key));
		return err_set(
			e, ERR_INVALID,
			"the webhook secret is not 'whsec_' followed by base64 (standard "
			"alphabet, at most %d bytes once decoded); e.g. whsec_$(openssl rand "
			"-base64 32)",
			FEEDBACK_KEY_MAX);
	}
	return ERR_OK;
}

void feedback_sign(const struct feedback_key *key, const char *id, const char *timestamp,
		   const char *body, size_t len, char out[FEEDBACK_SIGNATURE_MAX])
{
	unsigned char mac[32];
	hmac_sign(key, id, timestamp, body, len, mac);
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, 32); /* 44 characters + NUL */
}

static bool parse_int64(const char *s, int64_t *out)
{
	if (!s || !*s || strlen(s) > 18)
		return false;
	int64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	*out = v;
	return true;
}

enum feedback_reject feedback_verify(const struct feedback_key *key, const char *id,
				     const char *timestamp, const char *signatures,
				     const char *body, size_t len, int64_t now_s, int tolerance_s,
				     struct err *e)
{
	if (!id || !timestamp || !signatures) {
		err_set(e, ERR_PERM,
			"missing %s%s%s: this server checks signatures (Standard Webhooks); send "
			"webhook-id, webhook-timestamp and webhook-signature: v1,<base64 "
			"HMAC-SHA256 of id.timestamp.body>",
			!id ? "webhook-id " : "", !timestamp ? "webhook-timestamp " : "",
			!signatures ? "webhook-signature " : "");
		return FEEDBACK_REJECT_MISSING_SIGNATURE;
	}
	int64_t ts;
	if (!parse_int64(timestamp, &ts)) {
		err_set(e, ERR_PERM, "webhook-timestamp '%.40s' is not Unix time in seconds",
			timestamp);
		return FEEDBACK_REJECT_STALE_TIMESTAMP;
	}
	int64_t skew = now_s - ts;
	if (skew > tolerance_s || skew < -(int64_t)tolerance_s) {
		err_set(e, ERR_PERM,
			"webhook-timestamp %" PRId64 " is %" PRId64
			" s %s the server's clock (tolerance %d s): a replay, or the sender's "
			"clock is wrong; sign again with the current time",
			ts, skew < 0 ? -skew : skew, skew < 0 ? "ahead of" : "behind", tolerance_s);
		return FEEDBACK_REJECT_STALE_TIMESTAMP;
	}
	unsigned char mac[32];
	bool have_mac = hmac_sign(key, id, timestamp, body, len, mac);
	bool match = false;
	const char *p = signatures;
	while (*p && have_mac) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (n > 3 && strncmp(p, "v1,", 3) == 0) {
			unsigned char got[48];
			size_t gl = 0;
			if (b64_decode(p + 3, n - 3, got, sizeof(got), &gl) && gl == 32 &&
			    CRYPTO_memcmp(got, mac, 32) == 0)
				match = true;
		}
		p += n;
	}
	OPENSSL_cleanse(mac, sizeof(mac));
	if (!match) {
		err_set(e, ERR_PERM,
			"no v1 signature in webhook-signature matches: the sender must sign "
			"webhook-id.webhook-timestamp.body (the exact bytes sent) with HMAC-SHA256 "
			"and the same secret as this server's --webhook-secret");
		return FEEDBACK_REJECT_INVALID_SIGNATURE;
	}
	return FEEDBACK_OK;
}

/* ---- payloads -------------------------------------------------------------------- */

static bool chars_ok(const char *s, size_t max, const char *extra)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > max)
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c && strchr(extra, c))))
			return false;
	}
	return true;
}

bool feedback_task_id_valid(const char *s)
{
	return chars_ok(s, FEEDBACK_TASK_ID_MAX, "._:@+-");
}

bool feedback_event_type_valid(const char *s)
{
	return chars_ok(s, FEEDBACK_EVENT_TYPE_MAX, "._:-");
}

/* Optional string fields and their longest length. */
static const struct {
	const char *name;
	size_t max;
} opt_strings[] = {
	{"task_type", 100},
	{"user_id", 256},
	{"description", 10000},
};

enum feedback_reject feedback_validate(const json_t *payload, json_t **out, struct err *e)
{
	if (out)
		*out = NULL;
	if (!json_is_object(payload)) {
		err_set(e, ERR_INVALID,
			"the body must be a JSON object {task_id, event_type, data, timestamp, "
			"priority, ...}, not %s",
			json_type_name(payload));
		return FEEDBACK_REJECT_INVALID_PAYLOAD;
	}
	/* Only top-level keys change below: a shallow copy shares the rest. */
	json_t *o = json_copy((json_t *)payload);
	static const char *const optional[] = {"data",        "timestamp", "priority",
					       "event_id",    "task_type", "user_id",
					       "description", "position",  "notification"};
	for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
		if (json_is_null(json_object_get(o, optional[i])))
			json_object_del(o, optional[i]);

	const json_t *v = json_object_get(o, "task_id");
	if (!json_is_string(v) || !feedback_task_id_valid(json_string_value(v))) {
		err_set(e, ERR_INVALID,
			"task_id is %s: it must be a string of 1-%d letters, digits and . _ : @ + "
			"-",
			!v                  ? "missing"
			: json_is_string(v) ? "not valid"
					    : json_type_name(v),
			FEEDBACK_TASK_ID_MAX);
		goto bad;
	}
	v = json_object_get(o, "event_type");
	if (!json_is_string(v) || !feedback_event_type_valid(json_string_value(v))) {
		err_set(e, ERR_INVALID,
			"event_type is %s: it must be a string of 1-%d letters, digits and . _ : - "
			"(e.g. web_content_change)",
			!v                  ? "missing"
			: json_is_string(v) ? "not valid"
					    : json_type_name(v),
			FEEDBACK_EVENT_TYPE_MAX);
		goto bad;
	}
	const char *event_type = json_string_value(v);
	v = json_object_get(o, "data");
	if (v && !json_is_object(v)) {
		err_set(e, ERR_INVALID, "data must be a JSON object (what the task found), not %s",
			json_type_name(v));
		goto bad;
	}
	if (!v)
		json_object_set_new(o, "data", json_object());
	v = json_object_get(o, "timestamp");
	if (v) {
		int64_t us;
		if (!json_is_string(v) || json_string_length(v) > 64 ||
		    clock_parse_iso(json_string_value(v), &us) != 0) {
			err_set(e, ERR_INVALID,
				"timestamp must be an ISO-8601 date-time string such as "
				"2025-06-20T21:03:24.283615 or 2025-06-20T19:03:24Z");
			goto bad;
		}
	}
	v = json_object_get(o, "priority");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 5) {
			err_set(e, ERR_INVALID,
				"priority must be an integer from 1 (routine) to 5 (critical)");
			goto bad;
		}
	} else {
		json_object_set_new(o, "priority", json_integer(event_type_priority(event_type)));
	}
	v = json_object_get(o, "event_id");
	if (v && (!json_is_string(v) || !uuid_valid(json_string_value(v)))) {
		err_set(e, ERR_INVALID, "event_id must be a UUID string (the sender's event id)");
		goto bad;
	}
	v = json_object_get(o, "position");
	if (v && (!json_is_integer(v) || json_integer_value(v) < 0)) {
		err_set(e, ERR_INVALID,
			"position must be a non-negative integer (the event's position in the "
			"sender's log)");
		goto bad;
	}
	v = json_object_get(o, "notification");
	if (v && !json_is_object(v) && !json_is_array(v) && !json_is_string(v)) {
		err_set(e, ERR_INVALID,
			"notification must be a JSON object such as {\"method\": \"send_sms\", "
			"\"phone_number\": \"+15551234567\"}, an Apprise-style URL string "
			"(\"mailto:me@example.com\") or an array of them");
		goto bad;
	}
	for (size_t i = 0; i < sizeof(opt_strings) / sizeof(opt_strings[0]); i++) {
		v = json_object_get(o, opt_strings[i].name);
		if (v && (!json_is_string(v) || json_string_length(v) > opt_strings[i].max)) {
			err_set(e, ERR_INVALID, "%s must be a string of at most %zu bytes",
				opt_strings[i].name, opt_strings[i].max);
			goto bad;
		}
	}
	if (out)
		*out = o;
	else
		json_decref(o);
	return FEEDBACK_OK;
bad:
	json_decref(o);
	return FEEDBACK_REJECT_INVALID_PAYLOAD;
}

/* ---- the receiver ------------------------------------------------------------------ */

struct feedback {
	struct store *s;
	struct clock *clk;
	struct feedback_key key;
	bool has_key;
	int tolerance_s;
	atomic_uint_fast64_t received, duplicates, decided;
	atomic_uint_fast64_t rejected[FEEDBACK_REJECT__COUNT];

	pthread_mutex_t lock; /* the totals below */
	int64_t counted;      /* log examined up to here */
	uint64_t stored;
	json_t *types; /* event_type -> count */

	struct feedback_decider dec;
	bool dec_running;
	pthread_t dec_thread;
	atomic_bool stop;
};

static const struct store_filter received_filter = {
	.stream_prefix = FEEDBACK_STREAM_PREFIX,
	.type = FEEDBACK_EVENT_RECEIVED,
};

/* Bring stored and types up to date with the log (lock held). */
static int catch_up(struct feedback *fb, struct err *e)
{
	for (;;) {
		int64_t head = 0;
		int rc = store_head(fb->s, &head, e);
		if (rc)
			return rc;
		if (head <= fb->counted)
			return ERR_OK;
		struct store_event_list l = {0};
		rc = store_read_all(fb->s, fb->counted, false, COUNT_BATCH, &received_filter, &l,
				    e);
		if (rc) {
			store_event_list_cleanup(&l);
			return rc;
		}
		for (size_t i = 0; i < l.count; i++) {
			const char *t = json_get_str(l.items[i].data, "event_type");
			fb->stored++;
			if (t) {
				json_t *n = json_object_get(fb->types, t);
				json_object_set_new(
					fb->types, t,
					json_integer((n ? json_integer_value(n) : 0) + 1));
			}
			fb->counted = l.items[i].position;
		}
		bool more = l.count == COUNT_BATCH;
		store_event_list_cleanup(&l);
		if (!more) {
			/* Everything up to head was looked at (head was read first). */
			if (head > fb->counted)
				fb->counted = head;
			return ERR_OK;
		}
	}
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Decide one event and record the decision; ERR_OK also when there was
 * nothing to record. */
static int decide_one(struct feedback *fb, const struct store_event *ev, struct err *e)
{
	json_t *evj = feedback_event_json(ev);
	struct err de = {0};
	json_t *decision = fb->dec.decide(fb->dec.ud, evj, &de);
	json_decref(evj);
	atomic_fetch_add(&fb->decided, 1);
	if (!decision) {
		if (de.code)
			log_warn("feedback: deciding event %s failed: %s", ev->event_id,
				 err_msg(&de));
		return ERR_OK;
	}
	json_t *data = json_pack("{s:I,s:s,s:o}", "event", (json_int_t)ev->position, "feedback_id",
				 ev->event_id, "decision", decision);
	json_t *meta = json_pack("{s:s}", "principal", "feedback-decide");
	struct store_new_event ne = {
		.type = FEEDBACK_EVENT_DECIDED, .data = data, .metadata = meta};
	derive_uuid("decided", ev->event_id, ne.event_id);
	int rc = store_append(fb->s, ev->stream, STORE_EXPECT_ANY, &ne, 1, NULL, e);
	json_decref(data);
	json_decref(meta);
	return rc;
}

static void *decide_main(void *arg)
{
	struct feedback *fb = arg;
	struct store_sub *sub = NULL;
	while (!atomic_load(&fb->stop)) {
		if (!sub)
			sub = store_subscribe(fb->s, FEEDBACK_DECIDE_CHECKPOINT, 0,
					      &received_filter);
		struct store_event_list l = {0};
		struct err e = {0};
		int rc = store_sub_next(sub, 50, 250, &l, &e);
		if (rc == ERR_OK) {
			int64_t done = 0;
			for (size_t i = 0; i < l.count && rc == ERR_OK && !atomic_load(&fb->stop);
			     i++) {
				rc = decide_one(fb, &l.items[i], &e);
				if (rc == ERR_OK)
					done = l.items[i].position;
			}
			if (done)
				store_sub_ack(sub, done, NULL);
		}
		store_event_list_cleanup(&l);
		if (rc != ERR_OK && rc != ERR_TIMEOUT) {
			/* Start over from the checkpoint after a pause. */
			log_warn("feedback: the decide step stopped at an error, retrying: %s",
				 err_msg(&e));
			store_sub_free(sub);
			sub = NULL;
			for (int i = 0; i < 10 && !atomic_load(&fb->stop); i++)
				sleep_ms(100);
		}
	}
	store_sub_free(sub);
	return NULL;
}

int feedback_new(const struct feedback_options *opt, struct feedback **out, struct err *e)
{
	*out = NULL;
	struct feedback *fb = xcalloc(1, sizeof(*fb));
	fb->s = opt->store;
	fb->clk = opt->clock ? opt->clock : clock_system();
	fb->tolerance_s = opt->tolerance_s > 0 ? opt->tolerance_s : FEEDBACK_TOLERANCE_S;
	if (opt->secret && *opt->secret) {
		int rc = feedback_key_parse(opt->secret, &fb->key, e);
		if (rc) {
			free(fb);
			return rc;
		}
		fb->has_key = true;
	}
	pthread_mutex_init(&fb->lock, NULL);
	fb->types = json_object();
	pthread_mutex_lock(&fb->lock);
	int rc = catch_up(fb, e);
	pthread_mutex_unlock(&fb->lock);
	if (rc) {
		feedback_free(fb);
		return rc;
	}
	if (opt->decider && opt->decider->decide) {
		fb->dec = *opt->decider;
		if (pthread_create(&fb->dec_thread, NULL, decide_main, fb) != 0) {
			feedback_free(fb);
			return err_set(e, ERR_INTERNAL, "cannot start the decide thread");
		}
		fb->dec_running = true;
	}
	*out = fb;
	return ERR_OK;
}

void feedback_free(struct feedback *fb)
{
	if (!fb)
		return;
	atomic_store(&fb->stop, true);
	if (fb->dec_running)
		pthread_join(fb->dec_thread, NULL);
	OPENSSL_cleanse(&fb->key, sizeof(fb->key));
	json_decref(fb->types);
	pthread_mutex_destroy(&fb->lock);
	free(fb);
}

void feedback_count_reject(struct feedback *fb, enum feedback_reject r)
{
	if (r > FEEDBACK_OK && r < FEEDBACK_REJECT__COUNT)
		atomic_fetch_add(&fb->rejected[r], 1);
}

static int refuse(struct feedback *fb, struct feedback_receipt *r, enum feedback_reject why,
		  const struct err *le, struct err *e)
{
	feedback_count_reject(fb, why);
	r->reject = why;
	if (e)
		*e = *le;
	return le->code ? le->code : ERR_INVALID;
}

int feedback_receive(struct feedback *fb, const struct feedback_delivery *d,
		     struct feedback_receipt *r, struct err *e)
{
	struct err le = {0};
	memset(r, 0, sizeof(*r));
	int64_t now = clock_wall_us(fb->clk);

	if (fb->has_key) {
		enum feedback_reject why = feedback_verify(
			&fb->key, d->webhook_id, d->webhook_timestamp, d->webhook_signature,
			d->body ? d->body : "", d->len, now / 1000000, fb->tolerance_s, &le);
		if (why)
			return refuse(fb, r, why, &le, e);
	}
	if (d->webhook_id) {
		size_t n = strlen(d->webhook_id);
		bool ok = n > 0 && n <= FEEDBACK_WEBHOOK_ID_MAX;
		for (size_t i = 0; ok && i < n; i++)
			ok = (unsigned char)d->webhook_id[i] > ' ' && d->webhook_id[i] != 0x7f;
		if (!ok) {
			err_set(&le, ERR_INVALID,
				"webhook-id must be 1-%d visible ASCII characters (a unique "
				"message "
				"id, the same for every retry)",
				FEEDBACK_WEBHOOK_ID_MAX);
			return refuse(fb, r, FEEDBACK_REJECT_INVALID_HEADER, &le, e);
		}
	}
	if (!d->body || d->len == 0) {
		err_set(&le, ERR_INVALID,
			"the body is empty: POST the event as a JSON object {task_id, event_type, "
			"data, timestamp, priority}");
		return refuse(fb, r, FEEDBACK_REJECT_INVALID_JSON, &le, e);
	}
	struct err pe = {0};
	json_t *payload = json_parse(d->body, d->len, &pe);
	if (!payload) {
		err_set(&le, ERR_INVALID, "the body is not valid JSON: %s", err_msg(&pe));
		return refuse(fb, r, FEEDBACK_REJECT_INVALID_JSON, &le, e);
	}
	json_t *data = NULL;
	enum feedback_reject why = feedback_validate(payload, &data, &le);
	json_decref(payload);
	if (why)
		return refuse(fb, r, why, &le, e);

	/* The idempotency key. */
	struct store_new_event ne = {.type = FEEDBACK_EVENT_RECEIVED};
	const char *dedupe = "none";
	const char *payload_id = json_get_str(data, "event_id");
	if (d->webhook_id) {
		dedupe = "webhook-id";
		if (uuid_valid(d->webhook_id) && strlen(d->webhook_id) == UUID_STR_LEN)
			lower_uuid(d->webhook_id, ne.event_id);
		else
			derive_uuid("webhook-id", d->webhook_id, ne.event_id);
	} else if (payload_id) {
		dedupe = "event_id";
		lower_uuid(payload_id, ne.event_id);
	} else {
		uuid_v7(fb->clk, ne.event_id);
	}
	char received_at[CLOCK_ISO_MAX];
	clock_format_local(now, received_at);
	json_object_set_new(data, "received_at", json_string(received_at));
	json_t *meta = json_pack("{s:s,s:b,s:s}", "principal", "feedback", "signature_verified",
				 fb->has_key, "dedupe", dedupe);
	if (d->webhook_id)
		json_object_set_new(meta, "webhook_id", json_string_lossy(d->webhook_id));
	ne.data = data;
	ne.metadata = meta;
	char stream[STORE_STREAM_MAX + 1];
	snprintf(stream, sizeof(stream), FEEDBACK_STREAM_PREFIX "%s",
		 json_get_str(data, "task_id"));

	struct store_append_result res = {0};
	int rc = store_append(fb->s, stream, STORE_EXPECT_ANY, &ne, 1, &res, &le);
	memcpy(r->id, ne.event_id, sizeof(r->id));
	if (rc == ERR_CONFLICT) {
		/* The id is stored already, in another task's stream: the same
		 * delivery id means the same message (Standard Webhooks). */
		rc = ERR_OK;
		res.duplicate = true;
		res.last_position = 0;
	}
	if (rc == ERR_OK && res.duplicate) {
		r->duplicate = true;
		r->seq = res.last_position;
		atomic_fetch_add(&fb->duplicates, 1);
	} else if (rc == ERR_OK) {
		r->seq = res.last_position;
		atomic_fetch_add(&fb->received, 1);
		struct store_event ev = {
			.position = res.last_position,
			.version = res.version,
			.recorded_at_us = res.recorded_at_us,
			.stream = stream,
			.type = (char *)FEEDBACK_EVENT_RECEIVED,
			.data = data,
			.metadata = meta,
		};
		memcpy(ev.event_id, ne.event_id, sizeof(ev.event_id));
		r->event = feedback_event_json(&ev);
	}
	json_decref(data);
	json_decref(meta);
	if (rc == ERR_TOO_BIG)
		return refuse(fb, r, FEEDBACK_REJECT_TOO_LARGE, &le, e);
	if (rc)
		return refuse(fb, r, FEEDBACK_REJECT_STORE, &le, e);
	return ERR_OK;
}

int feedback_stats(struct feedback *fb, struct feedback_stats *st, struct err *e)
{
	memset(st, 0, sizeof(*st));
	st->received = atomic_load(&fb->received);
	st->duplicates = atomic_load(&fb->duplicates);
	st->decided = atomic_load(&fb->decided);
	for (int i = 0; i < FEEDBACK_REJECT__COUNT; i++)
		st->rejected[i] = atomic_load(&fb->rejected[i]);
	st->signatures = fb->has_key;
	pthread_mutex_lock(&fb->lock);
	int rc = catch_up(fb, e);
	st->stored = fb->stored;
	pthread_mutex_unlock(&fb->lock);
	if (rc == ERR_OK)
		rc = store_head(fb->s, &st->head, e);
	return rc;
}

/* ---- queries ----------------------------------------------------------------------- */

json_t *feedback_event_json(const struct store_event *ev)
{
	json_t *o = json_is_object(ev->data) ? json_deep_copy(ev->data) : json_object();
	json_object_set_new(o, "seq", json_integer(ev->position));
	json_object_set_new(o, "feedback_id", json_string(ev->event_id));
	const char *wid = json_get_str(ev->metadata, "webhook_id");
	if (wid)
		json_object_set_new(o, "webhook_id", json_string(wid));
	json_object_set_new(
		o, "signature_verified",
		json_boolean(json_is_true(json_object_get(ev->metadata, "signature_verified"))));
	return o;
}

static bool parse_bounded(const char *s, long long lo, long long hi, long long *out)
{
	int64_t v;
	if (!parse_int64(s, &v) || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool parse_time(const char *s, int64_t *us)
{
	int64_t secs;
	if (parse_int64(s, &secs)) {
		*us = secs * 1000000;
		return true;
	}
	return strlen(s) <= 64 && clock_parse_iso(s, us) == 0;
}

int feedback_query_parse(struct feedback_query *q, const char *(*get)(void *ud, const char *name),
			 void *ud, struct err *e)
{
	memset(q, 0, sizeof(*q));
	const char *v;
	long long n;
#define ARG(name) ((v = get(ud, name)) && *v)
	if (ARG("event_type")) {
		if (!feedback_event_type_valid(v))
			return err_set(e, ERR_INVALID,
				       "event_type must be 1-%d letters, digits and . _ : - (e.g. "
				       "web_content_change)",
				       FEEDBACK_EVENT_TYPE_MAX);
		q->event_type = v;
	}
	if (ARG("task_id")) {
		if (!feedback_task_id_valid(v))
			return err_set(e, ERR_INVALID,
				       "task_id must be 1-%d letters, digits and . _ : @ + -",
				       FEEDBACK_TASK_ID_MAX);
		q->task_id = v;
	}
	if (ARG("priority")) {
		if (!parse_bounded(v, 1, 5, &n))
			return err_set(e, ERR_INVALID, "priority must be an integer from 1 to 5");
		q->priority = (int)n;
	}
	if (ARG("min_priority")) {
		if (!parse_bounded(v, 1, 5, &n))
			return err_set(e, ERR_INVALID,
				       "min_priority must be an integer from 1 to 5");
		q->min_priority = (int)n;
	}
	if (ARG("since") && !parse_time(v, &q->since_us))
		return err_set(
			e, ERR_INVALID,
			"since must be an ISO-8601 date-time (2025-06-20T21:03:24Z, or local "
			"2025-06-20T21:03:24) or Unix seconds");
	if (ARG("until") && !parse_time(v, &q->until_us))
		return err_set(
			e, ERR_INVALID,
			"until must be an ISO-8601 date-time (2025-06-20T21:03:24Z, or local "
			"2025-06-20T21:03:24) or Unix seconds");
	if (ARG("cursor")) {
		if (!parse_int64(v, &q->cursor))
			return err_set(
				e, ERR_INVALID,
				"cursor must be the next_cursor of a previous page (a number)");
	}
	if (ARG("order")) {
		if (strcmp(v, "asc") == 0)
			q->ascending = true;
		else if (strcmp(v, "desc") != 0)
			return err_set(e, ERR_INVALID,
				       "order must be 'desc' (newest first, the default) or 'asc'");
	}
	if (ARG("limit")) {
		if (!parse_bounded(v, 1, FEEDBACK_LIMIT_MAX, &n))
			return err_set(e, ERR_INVALID, "limit must be an integer from 1 to %d",
				       FEEDBACK_LIMIT_MAX);
		q->limit = (size_t)n;
	}
#undef ARG
	return ERR_OK;
}

/* Whether an event (received or notification) belongs to user (NULL: any). */
static bool owned_by(const char *user, const struct store_event *ev)
{
	const char *u = json_get_str(ev->data, "user_id");
	return !user || (u && strcmp(u, user) == 0);
}

static bool matches(const struct feedback_query *q, const struct store_event *ev)
{
	if (!owned_by(q->user_id, ev))
		return false;
	if (q->event_type) {
		const char *t = json_get_str(ev->data, "event_type");
		if (!t || strcmp(t, q->event_type) != 0)
			return false;
	}
	long long prio = json_get_int(ev->data, "priority", 0);
	if (q->priority && prio != q->priority)
		return false;
	if (q->min_priority && prio < q->min_priority)
		return false;
	if (q->since_us && ev->recorded_at_us < q->since_us)
		return false;
	if (q->until_us && ev->recorded_at_us >= q->until_us)
		return false;
	return true;
}

/* The store filter for a query; stream is its buffer. */
static struct store_filter query_filter(const struct feedback_query *q,
					char stream[STORE_STREAM_MAX + 1])
{
	struct store_filter f = received_filter;
	if (q->task_id) {
		snprintf(stream, STORE_STREAM_MAX + 1, FEEDBACK_STREAM_PREFIX "%s", q->task_id);
		f.stream = stream;
		f.stream_prefix = NULL;
	}
	return f;
}

/* What a page scan does with one stored event. */
enum scan_verdict { SCAN_SKIP, SCAN_KEEP, SCAN_STOP };

/* One page of a listing: read the log from `*pos` (0: from the end when
 * backward) through filter f, judge each event with pick(q, ev), show the
 * kept ones with show(ev) into items, until limit are kept, the log ends, a
 * pick says stop, or FEEDBACK_SCAN_MAX events were looked at.  *pos gets
 * the position to continue from, *end whether there is nothing more. */
static int scan_page(struct feedback *fb, const struct store_filter *f, bool backward, size_t limit,
		     enum scan_verdict (*pick)(const void *q, const struct store_event *ev),
		     const void *q, json_t *(*show)(const struct store_event *ev), json_t *items,
		     int64_t *pos, bool *end, struct err *e)
{
	size_t scanned = 0;
	*end = false;
	while (!*end && json_array_size(items) < limit && scanned < FEEDBACK_SCAN_MAX) {
		size_t want = FEEDBACK_SCAN_MAX - scanned;
		if (want > READ_BATCH)
			want = READ_BATCH;
		struct store_event_list l = {0};
		int rc = store_read_all(fb->s, *pos, backward, want, f, &l, e);
		if (rc) {
			store_event_list_cleanup(&l);
			return rc;
		}
		size_t i = 0;
		for (; i < l.count; i++) {
			const struct store_event *ev = &l.items[i];
			scanned++;
			*pos = ev->position;
			enum scan_verdict v = pick(q, ev);
			if (v == SCAN_STOP) {
				*end = true;
				break;
			}
			if (v == SCAN_KEEP) {
				json_array_append_new(items, show(ev));
				if (json_array_size(items) >= limit) {
					i++;
					break;
				}
			}
		}
		if (i == l.count && l.count < want)
			*end = true; /* the log has nothing more in this direction */
		store_event_list_cleanup(&l);
	}
	return ERR_OK;
}

static enum scan_verdict pick_event(const void *query, const struct store_event *ev)
{
	const struct feedback_query *q = query;
	/* Past the time window (pages are in position order): stop. */
	if (!q->ascending && q->since_us && ev->recorded_at_us < q->since_us - TIME_SLACK_US)
		return SCAN_STOP;
	if (q->ascending && q->until_us && ev->recorded_at_us > q->until_us + TIME_SLACK_US)
		return SCAN_STOP;
	return matches(q, ev) ? SCAN_KEEP : SCAN_SKIP;
}

static json_t *cursor_json(bool end, int64_t pos)
{
	char cursor[32];
	snprintf(cursor, sizeof(cursor), "%" PRId64, pos);
	return end ? json_null() : json_string(cursor);
}

int feedback_list(struct feedback *fb, const struct feedback_query *q, json_t **page, struct err *e)
{
	*page = NULL;
	char stream[STORE_STREAM_MAX + 1];
	struct store_filter f = query_filter(q, stream);
	json_t *events = json_array();
	int64_t pos = q->cursor;
	bool end;
	int rc = scan_page(fb, &f, !q->ascending, q->limit ? q->limit : FEEDBACK_LIMIT_DEFAULT,
			   pick_event, q, feedback_event_json, events, &pos, &end, e);
	if (rc) {
		json_decref(events);
		return rc;
	}
	*page = json_pack("{s:o,s:i,s:o,s:s}", "events", events, "count",
			  (int)json_array_size(events), "next_cursor", cursor_json(end, pos),
			  "order", q->ascending ? "asc" : "desc");
	return ERR_OK;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int feedback_recent(struct feedback *fb, size_t n_recent, json_t **out, struct err *e)
{
	*out = NULL;
	pthread_mutex_lock(&fb->lock);
	int rc = catch_up(fb, e);
	uint64_t total = fb->stored;
	size_t ntypes = json_object_size(fb->types);
	const char **names = xcalloc(ntypes + 1, sizeof(*names));
	char **copies = xcalloc(ntypes + 1, sizeof(*copies));
	size_t k = 0;
	const char *key;
	json_t *val;
	json_object_foreach(fb->types, key, val) {
		copies[k] = xstrdup(key);
		names[k] = copies[k];
		k++;
	}
	pthread_mutex_unlock(&fb->lock);
	struct store_event_list l = {0};
	if (rc == ERR_OK && n_recent)
		rc = store_read_all(fb->s, 0, true, n_recent, &received_filter, &l, e);
	if (rc == ERR_OK) {
		qsort(names, k, sizeof(*names), cmp_str);
		json_t *types = json_array();
		for (size_t i = 0; i < k; i++)
			json_array_append_new(types, json_string(names[i]));
		json_t *recent = json_array();
		for (size_t i = l.count; i > 0; i--)
			json_array_append_new(recent, feedback_event_json(&l.items[i - 1]));
		*out = json_pack("{s:I,s:o,s:o}", "total_events", (json_int_t)total,
				 "recent_events", recent, "event_types", types);
	}
	store_event_list_cleanup(&l);
	for (size_t i = 0; i < k; i++)
		free(copies[i]);
	free(copies);
	free(names);
	return rc;
}

int feedback_read_after(struct feedback *fb, const struct feedback_query *q, int64_t after,
			size_t max, json_t *events, int64_t *covered, struct err *e)
{
	*covered = after;
	char stream[STORE_STREAM_MAX + 1];
	struct store_filter f = query_filter(q, stream);
	if (q->with_notifications)
		f.type = NULL; /* every type of the streams; filtered below */
	int64_t head = 0;
	int rc = store_head(fb->s, &head, e);
	if (rc)
		return rc;
	if (head <= after)
		return ERR_OK;
	struct store_event_list l = {0};
	rc = store_read_all(fb->s, after, false, max, &f, &l, e);
	if (rc == ERR_OK) {
		for (size_t i = 0; i < l.count; i++) {
			const struct store_event *ev = &l.items[i];
			*covered = ev->position;
			if (feedback_is_notification(ev->type)) {
				const char *t = json_get_str(ev->data, "event_type");
				if ((!q->event_type || (t && strcmp(t, q->event_type) == 0)) &&
				    owned_by(q->user_id, ev))
					json_array_append_new(events,
							      feedback_notification_json(ev));
			} else if (strcmp(ev->type, FEEDBACK_EVENT_RECEIVED) == 0 &&
				   matches(q, ev)) {
				json_array_append_new(events, feedback_event_json(ev));
			}
		}
		if (l.count < max && head > *covered)
			*covered = head; /* head was read first: all up to it was seen */
	}
	store_event_list_cleanup(&l);
	return rc;
}

int feedback_wait(struct feedback *fb, int64_t after, int timeout_ms, struct err *e)
{
	return store_wait(fb->s, after, timeout_ms, e);
}

/* ---- notification outcomes ------------------------------------------------------------ */

static const char *const outcome_names[] = {"sent", "failed", "skipped", "suppressed"};

bool feedback_is_notification(const char *type)
{
	size_t n = strlen(FEEDBACK_NOTIFICATION_PREFIX);
	return type && strncmp(type, FEEDBACK_NOTIFICATION_PREFIX, n) == 0;
}

json_t *feedback_notification_json(const struct store_event *ev)
{
	/* a listing: phone numbers and e-mail addresses masked */
	json_t *o = json_is_object(ev->data) ? redact_mask_contacts(ev->data) : json_object();
	char at[CLOCK_ISO_MAX];
	clock_format_utc(ev->recorded_at_us, at);
	json_object_set_new(o, "seq", json_integer(ev->position));
	json_object_set_new(o, "type", json_string(ev->type));
	json_object_set_new(o, "outcome",
			    json_string(ev->type + strlen(FEEDBACK_NOTIFICATION_PREFIX)));
	json_object_set_new(o, "recorded_at", json_string(at));
	json_object_set_new(o, "kind", json_string("notification"));
	return o;
}

int feedback_notify_query_parse(struct feedback_notify_query *q,
				const char *(*get)(void *ud, const char *name), void *ud,
				struct err *e)
{
	memset(q, 0, sizeof(*q));
	const char *v;
	long long n;
#define ARG(name) ((v = get(ud, name)) && *v)
	if (ARG("task_id")) {
		if (!feedback_task_id_valid(v))
			return err_set(e, ERR_INVALID,
				       "task_id must be 1-%d letters, digits and . _ : @ + -",
				       FEEDBACK_TASK_ID_MAX);
		q->task_id = v;
	}
	if (ARG("channel")) {
		if (strcmp(v, "sms") && strcmp(v, "email") && strcmp(v, "webhook") &&
		    strcmp(v, "ntfy"))
			return err_set(e, ERR_INVALID,
				       "channel must be one of sms, email, webhook, ntfy");
		q->channel = v;
	}
	if (ARG("outcome")) {
		bool ok = false;
		for (size_t i = 0; i < sizeof(outcome_names) / sizeof(*outcome_names); i++)
			ok |= strcmp(v, outcome_names[i]) == 0;
		if (!ok)
			return err_set(e, ERR_INVALID,
				       "outcome must be one of sent, failed, skipped, suppressed");
		q->outcome = v;
	}
	if (ARG("feedback_id")) {
		if (!uuid_valid(v))
			return err_set(e, ERR_INVALID,
				       "feedback_id must be the feedback_id (a UUID) of an event");
		q->feedback_id = v;
	}
	if (ARG("event")) {
		if (!parse_bounded(v, 1, INT64_MAX, &n))
			return err_set(e, ERR_INVALID, "event must be the seq of an event");
		q->event = n;
	}
	if (ARG("cursor") && !parse_int64(v, &q->cursor))
		return err_set(e, ERR_INVALID,
			       "cursor must be the next_cursor of a previous page (a number)");
	if (ARG("limit")) {
		if (!parse_bounded(v, 1, FEEDBACK_LIMIT_MAX, &n))
			return err_set(e, ERR_INVALID, "limit must be an integer from 1 to %d",
				       FEEDBACK_LIMIT_MAX);
		q->limit = (size_t)n;
	}
#undef ARG
	return ERR_OK;
}

static enum scan_verdict pick_notification(const void *query, const struct store_event *ev)
{
	const struct feedback_notify_query *q = query;
	if (!feedback_is_notification(ev->type) || !owned_by(q->user_id, ev))
		return SCAN_SKIP;
	const char *outcome = ev->type + strlen(FEEDBACK_NOTIFICATION_PREFIX);
	if (q->outcome && strcmp(outcome, q->outcome) != 0)
		return SCAN_SKIP;
	const char *ch = json_get_str(ev->data, "channel");
	if (q->channel && (!ch || strcmp(ch, q->channel) != 0))
		return SCAN_SKIP;
	const char *fid = json_get_str(ev->data, "feedback_id");
	if (q->feedback_id && (!fid || strcasecmp(fid, q->feedback_id) != 0))
		return SCAN_SKIP;
	if (q->event && json_get_int(ev->data, "event", 0) != q->event)
		return SCAN_SKIP;
	return SCAN_KEEP;
}

int feedback_notifications(struct feedback *fb, const struct feedback_notify_query *q,
			   json_t **page, struct err *e)
{
	*page = NULL;
	char stream[STORE_STREAM_MAX + 1];
	struct store_filter f = {.stream_prefix = FEEDBACK_STREAM_PREFIX};
	if (q->task_id) {
		snprintf(stream, sizeof(stream), FEEDBACK_STREAM_PREFIX "%s", q->task_id);
		f.stream = stream;
		f.stream_prefix = NULL;
	}
	json_t *items = json_array();
	int64_t pos = q->cursor;
	bool end;
	int rc = scan_page(fb, &f, true, q->limit ? q->limit : FEEDBACK_LIMIT_DEFAULT,
			   pick_notification, q, feedback_notification_json, items, &pos, &end, e);
	if (rc) {
		json_decref(items);
		return rc;
	}
	*page = json_pack("{s:o,s:i,s:o}", "notifications", items, "count",
			  (int)json_array_size(items), "next_cursor", cursor_json(end, pos));
	return ERR_OK;
}
