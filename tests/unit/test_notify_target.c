/*
 * test_notify_target.c - a task's "notification" value parsed into targets:
 * the seed's objects, Apprise URL strings, arrays and {"urls": [...]}, E.164
 * phone numbers, bounds, every refused form, and labels without secrets.
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
#include "domain/notify_target.h"

static struct notify_target T[NOTIFY_TARGETS_MAX];

/* Parse JSON text; fail the test on a refusal. */
static size_t ok(const char *text)
{
	json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
	struct err e;
	size_t n = 99;

	if (!j)
		fail_msg("bad test JSON: %s", text);
	err_clear(&e);
	if (notify_targets_parse(j, T, NOTIFY_TARGETS_MAX, &n, &e) != ERR_OK)
		fail_msg("%s refused: %s", text, e.msg);
	json_decref(j);
	return n;
}

/* Parse a JSON text that must be refused, with want1/want2 in the message. */
static void no(const char *text, const char *want1, const char *want2)
{
	json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
	struct err e;
	size_t n = 99;

	if (!j)
		fail_msg("bad test JSON: %s", text);
	err_clear(&e);
	if (notify_targets_parse(j, T, NOTIFY_TARGETS_MAX, &n, &e) != ERR_INVALID)
		fail_msg("%s accepted", text);
	assert_int_equal(n, 0);
	if (want1 && !strstr(e.msg, want1))
		fail_msg("%s: message \"%s\" lacks \"%s\"", text, e.msg, want1);
	if (want2 && !strstr(e.msg, want2))
		fail_msg("%s: message \"%s\" lacks \"%s\"", text, e.msg, want2);
	json_decref(j);
}

static const char *label(size_t i)
{
	static char buf[NOTIFY_LABEL_MAX];

	notify_target_label(&T[i], buf, sizeof buf);
	return buf;
}

static void test_channels(void **state)
{
	enum notify_channel c;

	(void)state;
	assert_string_equal(notify_channel_name(NOTIFY_CHANNEL_SMS), "sms");
	assert_string_equal(notify_channel_name(NOTIFY_CHANNEL_NTFY), "ntfy");
	assert_string_equal(notify_channel_name(NOTIFY_CHANNEL__COUNT), "unknown");
	assert_int_equal(notify_channel_parse("email", &c, NULL), ERR_OK);
	assert_int_equal(c, NOTIFY_CHANNEL_EMAIL);
	assert_int_equal(notify_channel_parse("webhook", &c, NULL), ERR_OK);
	assert_int_equal(c, NOTIFY_CHANNEL_WEBHOOK);
	{
		struct err e;

		err_clear(&e);
		assert_int_equal(notify_channel_parse("pager", &c, &e), ERR_INVALID);
		assert_non_null(strstr(e.msg, "sms, email, webhook, ntfy"));
		assert_int_equal(notify_channel_parse(NULL, &c, NULL), ERR_INVALID);
	}
}

static void test_e164(void **state)
{
	char out[NOTIFY_E164_MAX + 1];

	(void)state;
	assert_true(notify_e164("+1234567890", out));
	assert_string_equal(out, "+1234567890");
	assert_true(notify_e164("+1 (555) 010-9999", out));
	assert_string_equal(out, "+15550109999");
	assert_true(notify_e164("+44.20.7946.0958", out));
	assert_string_equal(out, "+442079460958");
	assert_true(notify_e164("+12345678", out));        /* 8 digits */
	assert_true(notify_e164("+123456789012345", out)); /* 15 digits */
	assert_string_equal(out, "+123456789012345");
	assert_false(notify_e164("+1234567", out));          /* 7 */
	assert_false(notify_e164("+1234567890123456", out)); /* 16 */
	assert_false(notify_e164("1234567890", out));        /* no + */
	assert_false(notify_e164("+0123456789", out));       /* leading 0 */
	assert_false(notify_e164("+1 555 CALL NOW", out));
	assert_false(notify_e164("++15551234567", out));
	assert_false(notify_e164("+1555+1234567", out));
	assert_false(notify_e164("1+5551234567", out));
	assert_false(notify_e164("", out));
	assert_false(notify_e164("+", out));
	assert_false(notify_e164(NULL, out));
}

static void test_seed_objects(void **state)
{
	(void)state;
	assert_int_equal(ok("null"), 0);
	assert_int_equal(ok("{\"method\": \"send_sms\", \"phone_number\": \"+1 (555) 010-9999\"}"),
			 1);
	assert_int_equal(T[0].channel, NOTIFY_CHANNEL_SMS);
	assert_string_equal(T[0].to, "+15550109999");
	assert_string_equal(T[0].url, "");
	assert_string_equal(T[0].user, "");
	assert_int_equal(T[0].min_priority, 0);
	assert_string_equal(label(0), "sms +15550109999");

	assert_int_equal(ok("{\"method\": \"send_email\", \"email\": \"me@example.com\", "
			    "\"min_priority\": 3, \"other\": 1}"),
			 1);
	assert_int_equal(T[0].channel, NOTIFY_CHANNEL_EMAIL);
	assert_string_equal(T[0].to, "me@example.com");
	assert_int_equal(T[0].min_priority, 3);
	assert_string_equal(label(0), "email me@example.com");

	assert_int_equal(ok("{\"method\": \"webhook\", \"url\": \"https://hooks.example/x?a=1\"}"),
			 1);
	assert_int_equal(T[0].channel, NOTIFY_CHANNEL_WEBHOOK);
	assert_string_equal(T[0].url, "https://hooks.example/x?a=1");
	assert_string_equal(label(0), "webhook https://hooks.example/x");

	assert_int_equal(ok("{\"method\": \"ntfy\", \"topic\": \"my-alerts_1\"}"), 1);
	assert_int_equal(T[0].channel, NOTIFY_CHANNEL_NTFY);
	assert_string_equal(T[0].to, "my-alerts_1");
	assert_string_equal(T[0].url, "https://ntfy.sh");
	assert_string_equal(label(0), "ntfy my-alerts_1");

	assert_int_equal(ok("{\"method\": \"ntfy\", \"topic\": \"t\", \"server\": "
			    "\"http://127.0.0.1:8080/\"}"),
			 1);
	assert_string_equal(T[0].url, "http://127.0.0.1:8080");
	assert_string_equal(label(0), "ntfy 127.0.0.1:8080/t");
}

static void test_seed_object_errors(void **state)
{
	(void)state;
	no("{}", "notification.method is required: one of send_sms, send_email, webhook, ntfy",
	   "urls");
	no("{\"method\": \"pigeon\"}",
	   "notification.method must be one of send_sms, send_email, webhook, ntfy",
	   "(got \"pigeon\")");
	no("{\"method\": 3}", "notification.method must be one of", "(got 3)");
	no("{\"method\": \"send_sms\"}", "notification.phone_number is required for send_sms",
	   "+1234567890");
	no("{\"method\": \"send_sms\", \"phone_number\": \"call me\"}",
	   "notification.phone_number must be a phone number", "(got \"call me\")");
	no("{\"method\": \"send_sms\", \"phone_number\": \"5551234567\"}",
	   "notification.phone_number must be a phone number in international form", NULL);
	no("{\"method\": \"send_sms\", \"phone_number\": 1234567890}",
	   "notification.phone_number must be", "(got 1234567890)");
	no("{\"method\": \"send_email\", \"email\": \"nobody\"}",
	   "notification.email must be an e-mail address", "(got \"nobody\")");
	no("{\"method\": \"send_email\", \"email\": \"a@b@c\"}", "notification.email", NULL);
	no("{\"method\": \"send_email\", \"email\": \"a b@c\"}", "notification.email", NULL);
	no("{\"method\": \"webhook\"}", "notification.url is required for webhook", NULL);
	no("{\"method\": \"webhook\", \"url\": \"file:///etc/passwd\"}",
	   "notification.url must be an http:// or https:// URL", NULL);
	no("{\"method\": \"webhook\", \"url\": \"http://\"}", "notification.url", NULL);
	no("{\"method\": \"ntfy\"}", "notification.topic is required for ntfy", NULL);
	no("{\"method\": \"ntfy\", \"topic\": \"a b\"}", "notification.topic must be an ntfy topic",
	   NULL);
	no("{\"method\": \"ntfy\", \"topic\": \"t\", \"server\": \"ftp://x\"}",
	   "notification.server must be", NULL);
	no("{\"method\": \"send_email\", \"email\": \"me@example.com\", \"min_priority\": 6}",
	   "notification.min_priority must be an integer from 1 to 5", "(got 6)");
	no("{\"method\": \"send_email\", \"email\": \"me@example.com\", \"min_priority\": \"3\"}",
	   "notification.min_priority", NULL);
	no("42", "notification must be an object", "(got 42)");
	no("true", "notification must be an object", NULL);
	no("[]", "notification is an empty array", NULL);
	no("[[\"mailto:a@b.c\"]]", "notification[0] must be an object", NULL);
	no("\"\"", "notification is an empty string", NULL);
}

static void test_twilio(void **state)
{
	(void)state;
	assert_int_equal(ok("\"twilio://AC0123456789abcdef:s3cr%2Ft@+15551230000/+15557654321/"
			    "15557654322\""),
			 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(T[i].channel, NOTIFY_CHANNEL_SMS);
		assert_string_equal(T[i].user, "AC0123456789abcdef");
		assert_string_equal(T[i].password, "s3cr/t");
		assert_string_equal(T[i].from, "+15551230000");
	}
	assert_string_equal(T[0].to, "+15557654321");
	assert_string_equal(T[1].to, "+15557654322");
	assert_string_equal(label(0), "sms +15557654321");
	assert_null(strstr(label(0), "s3cr"));
	assert_null(strstr(label(0), "AC01"));
	/* Apprise's own spelling without '+' */
	assert_int_equal(ok("\"twilio://ACx:tok@15551230000/15557654321?min_priority=4\""), 1);
	assert_string_equal(T[0].from, "+15551230000");
	assert_int_equal(T[0].min_priority, 4);

	no("\"twilio://+15551230000/+15557654321\"", "needs the account SID and auth token", NULL);
	no("\"twilio://AC1@+15551230000/+15557654321\"", "needs the account SID", NULL);
	no("\"twilio://AC1:tok@+15551230000\"", "names no recipient", NULL);
	no("\"twilio://AC1:tok@+15551230000/\"", "names no recipient", NULL);
	no("\"twilio://AC1:tok@call-me/+15557654321\"", "sender number", "call-me");
	no("\"twilio://AC1:tok@+15551230000/+1555\"", "each recipient", "+1555");
	no("\"twilio://AC-1:tok@+15551230000/+15557654321\"", "account SID must be letters", NULL);
	no("\"twilio://AC1:tok%zz@+15551230000/+15557654321\"", "auth token", NULL);
	no("\"twilio://AC1:tok@+15551230000/+15557654321?min_priority=9\"",
	   "min_priority in the URL must be a number from 1 to 5", NULL);
}

static void test_mailto(void **state)
{
	(void)state;
	assert_int_equal(ok("\"mailto://bob:p%40ss%20w@smtp.example.com/?to=me@example.com\""), 1);
	assert_int_equal(T[0].channel, NOTIFY_CHANNEL_EMAIL);
	assert_string_equal(T[0].url, "smtp://smtp.example.com:587");
	assert_string_equal(T[0].user, "bob");
	assert_string_equal(T[0].password, "p@ss w");
	assert_string_equal(T[0].to, "me@example.com");
	assert_string_equal(T[0].from, "bob@smtp.example.com");
	assert_string_equal(label(0), "email me@example.com");

	assert_int_equal(ok("\"mailtos://me%40gmail.com:pw@smtp.gmail.com:2465\""), 1);
	assert_string_equal(T[0].url, "smtps://smtp.gmail.com:2465");
	assert_string_equal(T[0].user, "me@gmail.com");
	assert_string_equal(T[0].from, "me@gmail.com");
	assert_string_equal(T[0].to, "me@gmail.com"); /* no to=: the sender */

	assert_int_equal(ok("\"mailtos://u:p@mail.example/?to=a@x.org,b@y.org&from=al@ex.org\""),
			 2);
	assert_string_equal(T[0].url, "smtps://mail.example:465");
	assert_string_equal(T[0].to, "a@x.org");
	assert_string_equal(T[1].to, "b@y.org");
	assert_string_equal(T[1].from, "al@ex.org");
	assert_string_equal(T[1].password, "p");

	assert_int_equal(ok("\"mailto://127.0.0.1:2525/?to=x@y.z\""), 1);
	assert_string_equal(T[0].url, "smtp://127.0.0.1:2525");
	assert_string_equal(T[0].user, "");
	assert_string_equal(T[0].from, "");

	assert_int_equal(ok("\"mailto:me@example.com\""), 1);
	assert_string_equal(T[0].to, "me@example.com");
	assert_string_equal(T[0].url, "");
	assert_string_equal(T[0].password, "");
	assert_int_equal(ok("\"MAILTO:a@b.c,d@e.f?subject=x\""), 2);
	assert_string_equal(T[1].to, "d@e.f");

	no("\"mailto:\"", "no e-mail address", NULL);
	no("\"mailto:nobody\"", "\"nobody\" is not an e-mail address", NULL);
	no("\"mailto://smtp.example.com\"", "no recipient", "?to=");
	no("\"mailto://u:p@smtp.example.com/me@example.com\"", "put the recipient in ?to=", NULL);
	no("\"mailto://u:p@smtp.example.com:0/?to=a@b.c\"", "mail server", NULL);
	no("\"mailto://u:p@smtp.example.com:99999/?to=a@b.c\"", "mail server", NULL);
	no("\"mailto://u:p@/?to=a@b.c\"", "mail server", NULL);
	no("\"mailto://u:p@h/?to=a@b.c&from=bad\"", "from=", NULL);
	no("\"mailto://u:p%0a@h/?to=a@b.c\"", "SMTP password", NULL);
}

static void test_ntfy_and_json(void **state)
{
	(void)state;
	assert_int_equal(ok("\"ntfy://my-alerts\""), 1);
	assert_string_equal(T[0].to, "my-alerts");
	assert_string_equal(T[0].url, "https://ntfy.sh");
	assert_int_equal(ok("\"ntfys://my-alerts/\""), 1);
	assert_string_equal(T[0].url, "https://ntfy.sh");
	assert_int_equal(ok("\"ntfy://127.0.0.1:8080/a/b\""), 2);
	assert_string_equal(T[0].url, "http://127.0.0.1:8080");
	assert_string_equal(T[0].to, "a");
	assert_string_equal(T[1].to, "b");
	assert_string_equal(label(1), "ntfy 127.0.0.1:8080/b");
	assert_int_equal(ok("\"ntfys://bob:pw@ntfy.example.com/alerts\""), 1);
	assert_string_equal(T[0].url, "https://ntfy.example.com");
	assert_string_equal(T[0].user, "bob");
	assert_string_equal(T[0].password, "pw");
	assert_null(strstr(label(0), "pw"));

	assert_int_equal(ok("\"json://hooks.example:8080/in/x?k=v#frag\""), 1);
	assert_int_equal(T[0].channel, NOTIFY_CHANNEL_WEBHOOK);
	assert_string_equal(T[0].url, "http://hooks.example:8080/in/x?k=v");
	assert_string_equal(label(0), "webhook http://hooks.example:8080/in/x");
	assert_int_equal(ok("\"jsons://user:secret@hooks.example/in\""), 1);
	assert_string_equal(T[0].url, "https://hooks.example/in");
	assert_string_equal(T[0].user, "user");
	assert_string_equal(T[0].password, "secret");
	assert_null(strstr(label(0), "secret"));

	no("\"ntfy://\"", "ntfy", NULL);
	no("\"ntfy://bad topic\"", "spaces", NULL);
	no("\"ntfy://host/bad.topic\"", "\"bad.topic\" is not an ntfy topic", NULL);
	no("\"ntfy://host:8080/\"", "names no topic", NULL);
	no("\"json:///path\"", "host of the json:// URL", NULL);
	no("\"https://hooks.example/x\"", "plain https:// URL is not a notification target",
	   "jsons://");
	no("\"slack://T000/B000/XXX\"", "unsupported notification URL scheme \"slack://\"",
	   "twilio://");
	no("\"sms\"", "must be a notification URL or an object", "mailto:addr");
	no("\"mailto:me@example.com \"", "spaces", NULL);
}

static void test_arrays_and_urls_object(void **state)
{
	(void)state;
	assert_int_equal(ok("[{\"method\": \"send_sms\", \"phone_number\": \"+15551234567\"},"
			    " \"mailto:me@example.com\", \"ntfy://t1\"]"),
			 3);
	assert_int_equal(T[0].channel, NOTIFY_CHANNEL_SMS);
	assert_int_equal(T[1].channel, NOTIFY_CHANNEL_EMAIL);
	assert_int_equal(T[2].channel, NOTIFY_CHANNEL_NTFY);

	assert_int_equal(ok("{\"urls\": [\"mailto:a@b.c\", \"json://h/p\"], \"min_priority\": 4}"),
			 2);
	assert_int_equal(T[0].min_priority, 4);
	assert_int_equal(T[1].min_priority, 4);
	assert_int_equal(T[1].channel, NOTIFY_CHANNEL_WEBHOOK);
	/* a URL's own min_priority wins over the object's */
	assert_int_equal(ok("{\"urls\": [\"ntfy://t?min_priority=2\"], \"min_priority\": 4}"), 1);
	assert_int_equal(T[0].min_priority, 2);
	assert_int_equal(ok("[{\"urls\": [\"mailto:a@b.c\"]}, \"ntfy://x\"]"), 2);

	no("{\"urls\": []}", "notification.urls must be a non-empty array", NULL);
	no("{\"urls\": \"mailto:a@b.c\"}", "notification.urls must be a non-empty array", NULL);
	no("{\"urls\": [\"mailto:a@b.c\", 5]}", "notification.urls[1] must be a notification URL",
	   "(got 5)");
	no("{\"urls\": [\"mailto:a@b.c\", \"ftp://x\"]}", "notification.urls[1]: unsupported",
	   NULL);
	no("[\"mailto:a@b.c\", {\"method\": \"send_email\", \"email\": \"x\"}]",
	   "notification[1].email must be an e-mail address", NULL);
	no("[\"mailto:a@b.c\", \"ntfy://a b\"]", "notification[1]", NULL);
	no("[{\"urls\": [\"mailto:a@b.c\", \"mailto:x\"]}]", "notification[0].urls[1]", NULL);
}

static void test_bounds(void **state)
{
	char text[NOTIFY_URL_MAX + 200], big[600];
	json_t *arr;
	struct notify_target few[2];
	size_t n;
	struct err e;

	(void)state;
	/* 16 targets fit, 17 do not */
	arr = json_array();
	for (int i = 0; i < NOTIFY_TARGETS_MAX; i++) {
		snprintf(text, sizeof text, "ntfy://t%d", i);
		json_array_append_new(arr, json_string(text));
	}
	err_clear(&e);
	assert_int_equal(notify_targets_parse(arr, T, NOTIFY_TARGETS_MAX, &n, &e), ERR_OK);
	assert_int_equal(n, NOTIFY_TARGETS_MAX);
	json_array_append_new(arr, json_string("ntfy://one-more"));
	assert_int_equal(notify_targets_parse(arr, T, NOTIFY_TARGETS_MAX, &n, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "too many notification targets (at most 16)"));
	assert_non_null(strstr(e.msg, "notification[16]"));
	assert_int_equal(n, 0);
	/* a smaller caller array is respected; no credentials left in it */
	assert_int_equal(notify_targets_parse(arr, few, 2, &n, &e), ERR_INVALID);
	assert_string_equal(few[0].to, "");
	json_decref(arr);
	{
		json_t *j = json_string("twilio://AC1:tok@+15551230000/+15557654321/+15557654322/"
					"+15557654323");

		assert_int_equal(notify_targets_parse(j, few, 2, &n, &e), ERR_INVALID);
		assert_string_equal(few[0].password, "");
		assert_string_equal(few[1].password, "");
		json_decref(j);
	}

	/* a URL over NOTIFY_URL_MAX */
	memset(text, 'a', sizeof text);
	memcpy(text, "json://h/", 9);
	text[NOTIFY_URL_MAX + 1] = '\0';
	arr = json_string(text);
	assert_int_equal(notify_targets_parse(arr, T, NOTIFY_TARGETS_MAX, &n, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "too long"));
	json_decref(arr);
	/* exactly NOTIFY_URL_MAX bytes fit */
	text[NOTIFY_URL_MAX] = '\0';
	arr = json_string(text);
	assert_int_equal(notify_targets_parse(arr, T, NOTIFY_TARGETS_MAX, &n, &e), ERR_OK);
	assert_int_equal(strlen(T[0].url), NOTIFY_URL_MAX);
	json_decref(arr);
	/* a secret over NOTIFY_SECRET_MAX */
	memset(big, 'x', sizeof big);
	big[300] = '\0';
	snprintf(text, sizeof text, "twilio://AC1:%s@+15551230000/+15557654321", big);
	arr = json_string(text);
	assert_int_equal(notify_targets_parse(arr, T, NOTIFY_TARGETS_MAX, &n, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "auth token"));
	json_decref(arr);
	/* an e-mail address over NOTIFY_ADDR_MAX */
	big[330] = '\0';
	memcpy(big + 300, "@example.com", 12);
	snprintf(text, sizeof text, "{\"method\": \"send_email\", \"email\": \"%s\"}", big);
	no(text, "notification.email must be an e-mail address", NULL);
	snprintf(text, sizeof text, "\"mailto:%s\"", big);
	no(text, "not an e-mail address", NULL);
	/* a secret of exactly NOTIFY_SECRET_MAX bytes fits */
	big[NOTIFY_SECRET_MAX] = '\0';
	memset(big, 'y', NOTIFY_SECRET_MAX);
	snprintf(text, sizeof text, "\"twilio://AC1:%s@+15551230000/+15557654321\"", big);
	assert_int_equal(ok(text), 1);
	assert_int_equal(strlen(T[0].password), NOTIFY_SECRET_MAX);
}

static void test_label_small_buffer(void **state)
{
	char small[8];

	(void)state;
	assert_int_equal(ok("\"mailto:someone@example.com\""), 1);
	notify_target_label(&T[0], small, sizeof small);
	assert_string_equal(small, "email s");
	notify_target_label(&T[0], small, 0); /* writes nothing */
}

/* Mutated URLs (a small deterministic fuzz): never a crash; what is
 * accepted fits its fields and never shows the password in its label. */
static void test_mutations(void **state)
{
	static const char *const seeds[] = {
		"twilio://AC1:tok@+15551230000/+15557654321",
		"mailto://u:p%40x@smtp.example.com:587/?to=a@b.c&from=d@e.f",
		"mailtos://u@h/?to=a@b.c,d@e.f",
		"mailto:a@b.c,d@e.f",
		"ntfys://u:pw@host:8080/t1/t2",
		"json://u:pw@[::1]:80/p?q=1#f",
	};
	static const char alphabet[] = "%:/@?&=,#+[]. aZ09\\\"\x01\xc3\xa9";
	uint64_t x = 88172645463325252u;
	size_t n;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		char buf[200], lbl[NOTIFY_LABEL_MAX];
		const char *seed = seeds[round % 6];
		size_t len = strlen(seed);
		json_t *j;

		memcpy(buf, seed, len + 1);
		for (int k = 0; k < 1 + round % 4; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[x % len] = alphabet[(x >> 20) % (sizeof alphabet - 1)];
		}
		j = json_string_nocheck(buf);
		if (notify_targets_parse(j, T, NOTIFY_TARGETS_MAX, &n, NULL) == ERR_OK) {
			for (size_t i = 0; i < n; i++) {
				assert_true(strlen(T[i].to) <= NOTIFY_ADDR_MAX);
				assert_true(strlen(T[i].url) <= NOTIFY_URL_MAX);
				notify_target_label(&T[i], lbl, sizeof lbl);
				if (strlen(T[i].password) >= 3 && strstr(lbl, T[i].password))
					fail_msg("%s: label \"%s\" shows the password", buf, lbl);
			}
		}
		json_decref(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_channels),      cmocka_unit_test(test_e164),
		cmocka_unit_test(test_seed_objects),  cmocka_unit_test(test_seed_object_errors),
		cmocka_unit_test(test_twilio),        cmocka_unit_test(test_mailto),
		cmocka_unit_test(test_ntfy_and_json), cmocka_unit_test(test_arrays_and_urls_object),
		cmocka_unit_test(test_bounds),        cmocka_unit_test(test_label_small_buffer),
		cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
