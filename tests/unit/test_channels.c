/*
 * test_channels.c - the senders of engine/channels against the in-process
 * notification sinks (tests/fixture_sinks): Twilio's REST API, SMTP with
 * AUTH, signed webhooks, ntfy, and the SSRF guard.  127.0.0.1 only.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/json.h"
#include "engine/channels.h"
#include "engine/delivery.h"
#include "engine/netguard.h"
#include "sinks.h"

#define SID "AC0123456789abcdef0123456789abcdef"
#define TOKEN "twilio-token-secret"
#define SECRET "whsec_dGVzdHNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm"

static struct sinks *S;
static char base[64], smtp_url[64];

static int setup(void **state)
{
	(void)state;
	struct sinks_options o = {0};
	o.twilio_sid = SID;
	o.twilio_token = TOKEN;
	o.smtp_user = "mailer";
	o.smtp_pass = "mail-pass";
	struct err e = {0};
	if (sinks_start(&o, &S, &e)) {
		fprintf(stderr, "sinks: %s\n", e.msg);
		return -1;
	}
	snprintf(base, sizeof base, "http://127.0.0.1:%d", sinks_http_port(S));
	snprintf(smtp_url, sizeof smtp_url, "smtp://127.0.0.1:%d", sinks_smtp_port(S));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sinks_stop(S);
	return 0;
}

static int reset(void **state)
{
	(void)state;
	return sinks_control(S, "reset", NULL, NULL);
}

static void control(const char *what, const char *json)
{
	json_t *j = json_loads(json, 0, NULL);
	assert_non_null(j);
	struct err e = {0};
	assert_int_equal(sinks_control(S, what, j, &e), 0);
	json_decref(j);
}

/* The n-th record of a list (borrowed from *holder, which the caller frees). */
static json_t *nth(const char *what, const char *key, size_t i, json_t **holder)
{
	*holder = sinks_list(S, what);
	return json_array_get(json_object_get(*holder, key), i);
}

static size_t count(const char *what)
{
	json_t *l = sinks_list(S, what);
	size_t n = (size_t)json_integer_value(json_object_get(l, "count"));
	json_decref(l);
	return n;
}

static struct notify_message msg(const char *text)
{
	struct notify_message m = {0};
	m.title = strdup("Price alert: bitcoin");
	m.sms = strdup(text);
	m.subject = strdup("bitcoin crossed 70000");
	m.body = strdup(text);
	m.link = strdup("https://example.com/btc");
	m.priority = 4;
	return m;
}

static void msg_free(struct notify_message *m)
{
	free(m->title);
	free(m->sms);
	free(m->subject);
	free(m->body);
	free(m->link);
}

static struct notify_target target(enum notify_channel ch, const char *to, const char *url)
{
	struct notify_target t;
	memset(&t, 0, sizeof t);
	t.channel = ch;
	snprintf(t.to, sizeof t.to, "%s", to ? to : "");
	snprintf(t.url, sizeof t.url, "%s", url ? url : "");
	return t;
}

static struct channel_config twilio_cfg(void)
{
	struct channel_config c = {0};
	c.twilio_sid = SID;
	c.twilio_token = TOKEN;
	c.twilio_from = "+15550001111";
	c.twilio_base_url = base;
	c.timeout_ms = 10000;
	return c;
}

/* ---- SMS ---------------------------------------------------------------- */

static void test_sms_sent(void **state)
{
	(void)state;
	struct channel_config c = twilio_cfg();
	struct notify_target t = target(NOTIFY_CHANNEL_SMS, "+1 (555) 123-4567", NULL);
	struct notify_message m = msg("BTC 70,123 USD — up 5% & rising");
	struct channel_result r;
	channel_send(&c, &t, &m, "evt-1", &r);
	assert_int_equal(r.outcome, CHANNEL_SENT);
	assert_int_equal(r.status, 201);
	assert_int_equal(strlen(r.provider_id), 34);
	assert_memory_equal(r.provider_id, "SM", 2);

	json_t *h;
	json_t *rec = nth("sms", "messages", 0, &h);
	assert_string_equal(json_get_str(rec, "sid"), r.provider_id);
	assert_string_equal(json_get_str(rec, "to"), "+15551234567");
	assert_string_equal(json_get_str(rec, "from"), "+15550001111");
	assert_string_equal(json_get_str(rec, "body"), m.sms);
	json_decref(h);
	msg_free(&m);
}

static void test_sms_target_credentials(void **state)
{
	(void)state;
	struct channel_config c = {0}; /* nothing configured: the target brings it */
	c.twilio_base_url = base;
	struct notify_target t = target(NOTIFY_CHANNEL_SMS, "+15551234567", NULL);
	snprintf(t.user, sizeof t.user, "%s", SID);
	snprintf(t.password, sizeof t.password, "%s", TOKEN);
	snprintf(t.from, sizeof t.from, "+15550002222");
	struct notify_message m = msg("hello");
	struct channel_result r;
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_SENT);
	json_t *h;
	assert_string_equal(json_get_str(nth("sms", "messages", 0, &h), "from"), "+15550002222");
	json_decref(h);
	msg_free(&m);
}

static void test_sms_bad_credentials(void **state)
{
	(void)state;
	struct channel_config c = twilio_cfg();
	c.twilio_token = "wrong-token";
	struct notify_target t = target(NOTIFY_CHANNEL_SMS, "+15551234567", NULL);
	struct notify_message m = msg("hello");
	struct channel_result r;
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_FAILED);
	assert_false(r.retryable);
	assert_int_equal(r.status, 401);
	assert_non_null(strstr(r.detail, "20003"));
	assert_non_null(strstr(r.detail, "TWILIO_AUTH_TOKEN"));
	assert_null(strstr(r.detail, "wrong-token")); /* never the secret */
	assert_int_equal(count("sms"), 0);
	msg_free(&m);
}

static void test_sms_bad_number(void **state)
{
	(void)state;
	struct channel_config c = twilio_cfg();
	struct notify_message m = msg("hello");
	struct channel_result r;

	/* refused by Twilio: no such country code */
	struct notify_target t = target(NOTIFY_CHANNEL_SMS, "+99912345678", NULL);
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_FAILED);
	assert_false(r.retryable);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.detail, "21211"));
	assert_non_null(strstr(r.detail, "not a valid phone number"));

	/* refused before sending: not E.164 */
	t = target(NOTIFY_CHANNEL_SMS, "555-1234", NULL);
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_FAILED);
	assert_false(r.retryable);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.detail, "E.164"));

	/* a bad configured sender */
	c.twilio_from = "+0123";
	t = target(NOTIFY_CHANNEL_SMS, "+15551234567", NULL);
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_FAILED);
	assert_non_null(strstr(r.detail, "TWILIO_PHONE_NUMBER"));
	assert_int_equal(count("sms"), 0);
	msg_free(&m);
}

static void test_sms_retryable(void **state)
{
	(void)state;
	struct channel_config c = twilio_cfg();
	struct notify_target t = target(NOTIFY_CHANNEL_SMS, "+15551234567", NULL);
	struct notify_message m = msg("hello");
	struct channel_result r;

	control("twilio", "{\"fail\": 1, \"status\": 429}");
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_FAILED);
	assert_true(r.retryable);
	assert_int_equal(r.status, 429);
	assert_int_equal(r.retry_after_s, 1);
	assert_non_null(strstr(r.detail, "20429"));

	control("twilio", "{\"fail\": 1, \"status\": 500}");
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_FAILED);
	assert_true(r.retryable);
	assert_int_equal(r.status, 500);

	channel_send(&c, &t, &m, NULL, &r); /* the script is used up */
	assert_int_equal(r.outcome, CHANNEL_SENT);
	msg_free(&m);
}

static void test_sms_skipped(void **state)
{
	(void)state;
	struct channel_config c = {0};
	c.twilio_base_url = base;
	c.twilio_sid = SID;
	struct notify_target t = target(NOTIFY_CHANNEL_SMS, "+15551234567", NULL);
	struct notify_message m = msg("hello");
	struct channel_result r;
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_SKIPPED);
	assert_false(r.retryable);
	assert_memory_equal(r.detail, "no Twilio credentials", 21);
	assert_non_null(strstr(r.detail, "TWILIO_AUTH_TOKEN, TWILIO_PHONE_NUMBER not set"));
	assert_non_null(strstr(r.detail, "TWILIO_ACCOUNT_SID"));
	assert_string_equal(channel_outcome_name(r.outcome), "skipped");
	assert_int_equal(count("sms"), 0);
	msg_free(&m);
}

/* ---- e-mail ------------------------------------------------------------- */

static struct channel_config smtp_cfg(void)
{
	struct channel_config c = {0};
	c.smtp_url = smtp_url;
	c.smtp_user = "mailer";
	c.smtp_password = "mail-pass";
	c.smtp_from = "Ambient <ambient@example.org>";
	c.timeout_ms = 10000;
	return c;
}

/* text with every LF as CR LF */
static char *crlf_of(const char *text)
{
	char *out = malloc(strlen(text) * 2 + 1), *o = out;
	for (; *text; text++) {
		if (*text == '\n')
			*o++ = '\r';
		*o++ = *text;
	}
	*o = '\0';
	return out;
}

static void test_email_sent(void **state)
{
	(void)state;
	struct channel_config c = smtp_cfg();
	struct notify_target t = target(NOTIFY_CHANNEL_EMAIL, "me@example.com", NULL);
	struct notify_message m =
		msg("Le prix a baissé: 3,20 € le café.\n"
		    ".a line that starts with a dot\n"
		    "and a long line " /* > 76 characters: soft breaks */
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx end\n");
	free(m.subject);
	m.subject = strdup("Prix en baisse — café ☕ déjà vu, encore une fois, très long sujet");
	struct channel_result r;
	channel_send(&c, &t, &m, "evt-42:email", &r);
	assert_int_equal(r.outcome, CHANNEL_SENT);
	assert_int_equal(r.status, 250);
	assert_string_equal(r.provider_id, "<evt-42_email@example.org>");

	json_t *h;
	json_t *mail = nth("emails", "emails", 0, &h);
	assert_non_null(mail);
	assert_string_equal(json_get_str(mail, "from"), "ambient@example.org");
	assert_string_equal(json_string_value(json_array_get(json_object_get(mail, "to"), 0)),
			    "me@example.com");
	assert_string_equal(json_get_str(mail, "auth_user"), "mailer");
	assert_string_equal(json_get_str(mail, "subject"), m.subject);
	const char *data = json_get_str(mail, "data");
	assert_non_null(strstr(data, "Subject: =?UTF-8?B?"));
	assert_non_null(strstr(data, "\r\nMessage-ID: <evt-42_email@example.org>\r\n"));
	assert_non_null(strstr(data, "Content-Type: text/plain; charset=utf-8"));
	assert_non_null(strstr(data, "Content-Transfer-Encoding: quoted-printable"));
	assert_non_null(strstr(data, "\r\nDate: "));
	/* every line within the limits of RFC 5322 and 2045 */
	for (const char *p = data; *p;) {
		const char *eol = strstr(p, "\r\n");
		assert_non_null(eol);
		assert_true(eol - p <= 78);
		p = eol + 2;
	}
	char *crlf = crlf_of(m.body);
	assert_string_equal(json_get_str(mail, "text"), crlf);
	free(crlf);
	json_decref(h);
	msg_free(&m);
}

static void test_email_ascii_7bit(void **state)
{
	(void)state;
	struct channel_config c = smtp_cfg();
	c.smtp_from = NULL; /* the login is not an address: ambient@<host> */
	struct notify_target t = target(NOTIFY_CHANNEL_EMAIL, "me@example.com", NULL);
	struct notify_message m = msg("plain text\n.\nafter a lone dot\n");
	free(m.subject);
	m.subject = strdup("bitcoin\r\nBcc: evil@example.net"); /* no header injection */
	struct channel_result r;
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_SENT);
	json_t *h;
	json_t *mail = nth("emails", "emails", 0, &h);
	assert_string_equal(json_get_str(mail, "from"), "ambient@127.0.0.1");
	assert_string_equal(json_get_str(mail, "subject"), "bitcoin  Bcc: evil@example.net");
	assert_null(strstr(json_get_str(mail, "data"), "\r\nBcc:"));
	assert_non_null(strstr(json_get_str(mail, "data"), "Content-Transfer-Encoding: 7bit"));
	assert_string_equal(json_get_str(mail, "text"), "plain text\r\n.\r\nafter a lone dot\r\n");
	json_decref(h);
	msg_free(&m);
}

static void test_email_failures(void **state)
{
	(void)state;
	struct notify_target t = target(NOTIFY_CHANNEL_EMAIL, "me@example.com", NULL);
	struct notify_message m = msg("hello");
	struct channel_result r;

	struct channel_config c = smtp_cfg();
	c.smtp_password = "wrong-pass";
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_FAILED);
	assert_false(r.retryable);
	assert_int_equal(r.status, 535);
	assert_non_null(strstr(r.detail, "refused the login"));
	assert_null(strstr(r.detail, "wrong-pass"));

	c = smtp_cfg();
	control("smtp", "{\"fail\": 1, \"code\": 451}");
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_FAILED);
	assert_true(r.retryable);
	assert_int_equal(r.status, 451);

	control("smtp", "{\"fail\": 1, \"code\": 550}");
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_FAILED);
	assert_false(r.retryable);
	assert_int_equal(r.status, 550);

	t = target(NOTIFY_CHANNEL_EMAIL, "not an address", NULL);
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_FAILED);
	assert_non_null(strstr(r.detail, "not an e-mail address"));

	c.smtp_url = NULL;
	t = target(NOTIFY_CHANNEL_EMAIL, "me@example.com", NULL);
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_SKIPPED);
	const char *want = "no SMTP server configured (set --smtp-url / AMBIENT_SMTP_URL";
	assert_memory_equal(r.detail, want, strlen(want));
	assert_int_equal(count("emails"), 0);
	msg_free(&m);
}

/* A mailto:// target brings its own server: that address is guarded. */
static void test_email_target_server_guarded(void **state)
{
	(void)state;
	struct netguard *g = NULL;
	assert_int_equal(netguard_new(NULL, &g, NULL), 0);
	struct channel_config c = {0};
	c.guard = g;
	struct notify_target t = target(NOTIFY_CHANNEL_EMAIL, "me@example.com", smtp_url);
	snprintf(t.user, sizeof t.user, "mailer");
	snprintf(t.password, sizeof t.password, "mail-pass");
	struct notify_message m = msg("hello");
	struct channel_result r;
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_FAILED);
	assert_false(r.retryable);
	assert_non_null(strstr(r.detail, "127.0.0.1"));
	assert_non_null(strstr(r.detail, "--allow-net"));
	netguard_free(g);

	assert_int_equal(netguard_new("127.0.0.1", &g, NULL), 0);
	c.guard = g;
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_SENT);
	netguard_free(g);
	assert_int_equal(count("emails"), 1);
	msg_free(&m);
}

/* ---- webhook ------------------------------------------------------------ */

static void test_webhook_signed(void **state)
{
	(void)state;
	struct channel_config c = {0};
	c.webhook_secret = SECRET;
	char url[128];
	snprintf(url, sizeof url, "%s/hook/w1?token=abc", base);
	struct notify_target t = target(NOTIFY_CHANNEL_WEBHOOK, "", url);
	struct notify_message m = msg("BTC up");
	struct channel_result r;
	channel_send(&c, &t, &m, "evt-7:webhook", &r);
	assert_int_equal(r.outcome, CHANNEL_SENT);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.provider_id, "evt-7_webhook");
	assert_null(strstr(r.detail, "token=abc")); /* URLs may hold secrets */

	json_t *h;
	json_t *rec = nth("captured", "captured", 0, &h);
	json_t *hd = json_object_get(rec, "headers");
	const char *id = json_get_str(hd, "webhook-id");
	const char *ts = json_get_str(hd, "webhook-timestamp");
	const char *sig = json_get_str(hd, "webhook-signature");
	const char *body = json_get_str(rec, "body");
	assert_string_equal(id, "evt-7_webhook");
	assert_non_null(ts);
	assert_non_null(sig);
	assert_string_equal(json_get_str(hd, "content-type"), "application/json");
	char want[DELIVERY_SIG_MAX];
	assert_int_equal(
		delivery_sign(SECRET, id, strtoll(ts, NULL, 10), body, strlen(body), want, NULL),
		0);
	assert_string_equal(sig, want);
	json_t *j = json_loads(body, 0, NULL);
	assert_string_equal(json_get_str(j, "title"), "Price alert: bitcoin");
	assert_string_equal(json_get_str(j, "text"), "BTC up");
	assert_string_equal(json_get_str(j, "link"), "https://example.com/btc");
	assert_int_equal(json_get_int(j, "priority", 0), 4);
	json_decref(j);
	json_decref(h);
	msg_free(&m);
}

static void test_webhook_failures(void **state)
{
	(void)state;
	struct channel_config c = {0};
	char url[128];
	snprintf(url, sizeof url, "%s/hook/w2", base);
	struct notify_target t = target(NOTIFY_CHANNEL_WEBHOOK, "", url);
	struct notify_message m = msg("x");
	struct channel_result r;

	control("hook", "{\"fail\": 1, \"status\": 410}");
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_FAILED);
	assert_false(r.retryable);
	assert_int_equal(r.status, 410);
	assert_non_null(strstr(r.detail, "410 Gone"));

	control("hook", "{\"fail\": 1, \"status\": 503}");
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_FAILED);
	assert_true(r.retryable);

	control("hook", "{\"fail\": 1, \"status\": 400}");
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_FAILED);
	assert_false(r.retryable);

	c.webhook_secret = "whsec_***not base64***";
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_FAILED);
	assert_non_null(strstr(r.detail, "secret"));

	/* nothing listens there */
	c.webhook_secret = NULL;
	struct channel_config c2 = c;
	t = target(NOTIFY_CHANNEL_WEBHOOK, "", "http://127.0.0.1:1/hook");
	channel_send(&c2, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_FAILED);
	assert_true(r.retryable);
	assert_non_null(strstr(r.detail, "cannot connect"));
	msg_free(&m);
}

/* ---- ntfy --------------------------------------------------------------- */

static void test_ntfy(void **state)
{
	(void)state;
	struct netguard *g = NULL;
	assert_int_equal(netguard_new("127.0.0.1", &g, NULL), 0);
	struct channel_config c = {0};
	c.guard = g;
	char server[128];
	snprintf(server, sizeof server, "%s/ntfy/", base);
	struct notify_target t = target(NOTIFY_CHANNEL_NTFY, "alerts", server);
	struct notify_message m = msg("BTC crossed 70000");
	free(m.title);
	m.title = strdup("Prix ☕");
	struct channel_result r;
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_SENT);
	assert_memory_equal(r.provider_id, "nt", 2);

	json_t *h;
	json_t *rec = nth("captured", "captured", 0, &h);
	json_t *hd = json_object_get(rec, "headers");
	assert_string_equal(json_get_str(rec, "topic"), "alerts");
	assert_string_equal(json_get_str(rec, "body"), "BTC crossed 70000");
	assert_string_equal(json_get_str(hd, "title"), "=?UTF-8?B?UHJpeCDimJU=?=");
	assert_string_equal(json_get_str(hd, "priority"), "4");
	assert_string_equal(json_get_str(hd, "tags"), "warning");
	assert_string_equal(json_get_str(hd, "click"), "https://example.com/btc");
	json_decref(h);
	netguard_free(g);
	msg_free(&m);
}

/* ---- the SSRF guard ------------------------------------------------------ */

static void test_guard_refuses_private(void **state)
{
	(void)state;
	struct netguard *g = NULL;
	assert_int_equal(netguard_new(NULL, &g, NULL), 0);
	struct channel_config c = {0};
	c.guard = g;
	struct notify_message m = msg("x");
	struct channel_result r;
	char url[128];

	snprintf(url, sizeof url, "%s/hook/w3", base);
	struct notify_target t = target(NOTIFY_CHANNEL_WEBHOOK, "", url);
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_FAILED);
	assert_false(r.retryable);
	assert_non_null(strstr(r.detail, "loopback"));

	snprintf(url, sizeof url, "http://localhost:%d/hook/w3", sinks_http_port(S));
	t = target(NOTIFY_CHANNEL_WEBHOOK, "", url);
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_FAILED);
	assert_false(r.retryable);

	t = target(NOTIFY_CHANNEL_WEBHOOK, "", "http://10.1.2.3/hook");
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_FAILED);
	assert_non_null(strstr(r.detail, "private"));

	snprintf(url, sizeof url, "%s/ntfy", base);
	t = target(NOTIFY_CHANNEL_NTFY, "alerts", url);
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_FAILED);

	/* the operator's own ntfy server is trusted */
	c.ntfy_base_url = url;
	t = target(NOTIFY_CHANNEL_NTFY, "alerts", NULL);
	channel_send(&c, &t, &m, NULL, &r);
	assert_int_equal(r.outcome, CHANNEL_SENT);

	assert_int_equal(count("captured"), 1);
	netguard_free(g);
	msg_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_sms_sent, reset),
		cmocka_unit_test_setup(test_sms_target_credentials, reset),
		cmocka_unit_test_setup(test_sms_bad_credentials, reset),
		cmocka_unit_test_setup(test_sms_bad_number, reset),
		cmocka_unit_test_setup(test_sms_retryable, reset),
		cmocka_unit_test_setup(test_sms_skipped, reset),
		cmocka_unit_test_setup(test_email_sent, reset),
		cmocka_unit_test_setup(test_email_ascii_7bit, reset),
		cmocka_unit_test_setup(test_email_failures, reset),
		cmocka_unit_test_setup(test_email_target_server_guarded, reset),
		cmocka_unit_test_setup(test_webhook_signed, reset),
		cmocka_unit_test_setup(test_webhook_failures, reset),
		cmocka_unit_test_setup(test_ntfy, reset),
		cmocka_unit_test_setup(test_guard_refuses_private, reset),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
