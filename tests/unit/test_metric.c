/* test_metric.c - numbers, JSON paths, regexes and the breach logic on
 * sequences of readings. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain/metric.h"

static void num_is(const char *s, double want)
{
	double v = NAN;

	if (!metric_parse_number(s, strlen(s), &v))
		fail_msg("\"%s\" was not read as a number", s);
	if (fabs(v - want) > 1e-9 * fmax(1, fabs(want)))
		fail_msg("\"%s\" gave %.10g, want %.10g", s, v, want);
}

static void not_num(const char *s)
{
	double v;

	if (metric_parse_number(s, strlen(s), &v))
		fail_msg("\"%s\" was read as %.10g", s, v);
}

static void test_numbers(void **state)
{
	(void)state;
	num_is("67123.45", 67123.45);
	num_is("67,123.45", 67123.45);
	num_is("$67,123.45", 67123.45);
	num_is("  67 123,45 € ", 67123.45);
	num_is("1.234.567,89", 1234567.89);
	num_is("1,234,567", 1234567);
	num_is("1,234", 1234);
	num_is("12,5", 12.5);
	num_is("0,123", 0.123);
	num_is("1.234", 1.234);
	num_is("1'234'567.5", 1234567.5);
	num_is("1\xc2\xa0"
	       "234",
	       1234);
	num_is("-3.5", -3.5);
	num_is("+7", 7);
	num_is("\xe2\x88\x92"
	       "2",
	       -2);
	num_is("-3e2", -300);
	num_is("1.5E-3", 0.0015);
	num_is(".5", 0.5);
	num_is("12.5%", 12.5);
	num_is("67123 USD", 67123);
	num_is("USD 67123", 67123);
	num_is("0", 0);
	not_num("");
	not_num("N/A");
	not_num("abc");
	not_num("1-2");
	not_num("12 34 56");
	not_num("1.2.3x4");
	not_num("3 - 4");
	not_num("1e999");
	{
		double v;
		size_t a, b;
		const char *t = "Price: BTC-USD 67,123.45 (+2.1%) at 10:32";

		assert_true(metric_find_number(t, strlen(t), &v, &a, &b));
		assert_true(v == 67123.45);
		assert_int_equal(a, 15);
		assert_int_equal(b, 24);
		t = "Temperature: -5.2°C";
		assert_true(metric_find_number(t, strlen(t), &v, NULL, NULL));
		assert_true(v == -5.2);
		t = "no digits at all";
		assert_false(metric_find_number(t, strlen(t), &v, NULL, NULL));
		assert_false(metric_find_number(NULL, 0, &v, NULL, NULL));
		t = "2025-06-20";
		assert_true(metric_find_number(t, strlen(t), &v, NULL, NULL));
		assert_true(v == 2025);
	}
}

static double json_ok(const char *body, const char *path)
{
	double v = NAN;
	struct err e = {0};

	if (metric_from_json(body, strlen(body), path, &v, &e) != ERR_OK)
		fail_msg("%s on %s: %s", path, body, e.msg);
	return v;
}

static const char *json_err(const char *body, const char *path)
{
	static struct err e;
	double v;

	err_clear(&e);
	if (metric_from_json(body, strlen(body), path, &v, &e) == ERR_OK)
		fail_msg("%s on %s gave %g", path, body, v);
	return e.msg;
}

static void test_json_paths(void **state)
{
	const char *cg = "{\"bitcoin\":{\"usd\":67123.45,\"usd_24h_change\":-1.5}}";
	const char *api = "{\"data\":[{\"price\":\"1,234.50\",\"name\":\"a\"},{\"price\":7}],"
			  "\"a/b\":{\"m~n\":3},\"odd key\":[10,20],\"big\":123456789012345678901,"
			  "\"n\":null,\"t\":true,\"s\":\"N/A\"}";

	(void)state;
	assert_true(json_ok(cg, "/bitcoin/usd") == 67123.45);
	assert_true(json_ok(cg, "bitcoin.usd") == 67123.45);
	assert_true(json_ok(cg, "$.bitcoin.usd") == 67123.45);
	assert_true(json_ok(cg, "$['bitcoin'][\"usd_24h_change\"]") == -1.5);
	assert_true(json_ok(api, "data[0].price") == 1234.5);
	assert_true(json_ok(api, "data.1.price") == 7);
	assert_true(json_ok(api, "/data/1/price") == 7);
	assert_true(json_ok(api, "$.data[1].price") == 7);
	assert_true(json_ok(api, "/a~1b/m~0n") == 3);
	assert_true(json_ok(api, "$['odd key'][1]") == 20);
	assert_true(json_ok(api, "big") == 123456789012345678901.0);
	assert_true(json_ok("42", "") == 42);
	assert_true(json_ok("42", "$") == 42);
	assert_true(json_ok("\"$5\"", "") == 5);

	assert_string_equal(json_err(cg, "/bitcoin/eur"),
			    "json_path \"/bitcoin/eur\": no member \"eur\" in the object at "
			    "/bitcoin (it has: usd, usd_24h_change)");
	assert_string_equal(json_err(cg, "bitcoin"),
			    "json_path \"bitcoin\": /bitcoin is an object, not a number (it has: "
			    "usd, usd_24h_change); extend the path to one of its members");
	assert_string_equal(json_err(api, "data[5].price"),
			    "json_path \"data[5].price\": index 5 is past the end of the array at "
			    "/data (it has 2 items)");
	assert_string_equal(json_err(api, "data.price"),
			    "json_path \"data.price\": /data is an array of 2, so the next step "
			    "must be an index such as 0, not \"price\"");
	assert_string_equal(json_err(api, "/data/01"),
			    "json_path \"/data/01\": /data is an array of 2, so the next step "
			    "must be an index such as 0, not \"01\"");
	assert_string_equal(json_err(api, "n"), "json_path \"n\": /n is null, not a number");
	assert_string_equal(json_err(api, "t"), "json_path \"t\": /t is a boolean, not a number");
	assert_string_equal(json_err(api, "s"),
			    "json_path \"s\": the string at /s is not a number (got \"N/A\")");
	assert_string_equal(json_err(api, "t.x"), "json_path \"t.x\": /t is a boolean, so it "
						  "has no \"x\"");
	assert_non_null(strstr(json_err("<html>", "a"), "the response is not JSON"));
	assert_non_null(strstr(json_err("", "a"), "the response is not JSON"));

	/* syntax */
	{
		const char *bad[] = {"a..b", "a.", ".",    "a[",   "a[x]", "a[*]",
				     "*",    "$x", "a['b", "/a~2", "a]b",  "a[-1]"};
		struct err e;

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			err_clear(&e);
			if (metric_path_check(bad[i], &e) == ERR_OK)
				fail_msg("\"%s\" was accepted", bad[i]);
			assert_true(strncmp(e.msg, "json_path", 9) == 0);
		}
		assert_int_equal(metric_path_check("data[0].price", NULL), ERR_OK);
		assert_int_equal(metric_path_check("/a/b", NULL), ERR_OK);
		assert_int_equal(metric_path_check(NULL, NULL), ERR_INVALID);
	}
}

static void test_regex(void **state)
{
	struct err e = {0};
	double v = 0;
	const char *page = "Bitcoin\nPrice: $67,123.45 USD\nChange: -1.2%\n";

	(void)state;
	assert_int_equal(metric_from_text(page, strlen(page), "Price: \\$?([0-9.,]+)", &v, &e),
			 ERR_OK);
	assert_true(v == 67123.45);
	assert_int_equal(metric_from_text(page, strlen(page), "^Change: .*$", &v, &e), ERR_OK);
	assert_true(v == -1.2);
	/* no group: the first number of the whole match */
	assert_int_equal(metric_from_text(page, strlen(page), "Price: [^\n]*", &v, &e), ERR_OK);
	assert_true(v == 67123.45);
	/* an optional group that did not take part: the whole match */
	assert_int_equal(metric_from_text("x 5", 3, "(y)?[0-9]", &v, &e), ERR_OK);
	assert_true(v == 5);
	assert_int_equal(metric_from_text(page, strlen(page), "Volume: ([0-9]+)", &v, &e),
			 ERR_INVALID);
	assert_string_equal(e.msg, "regex \"Volume: ([0-9]+)\" did not match the response (it "
				   "starts: Bitcoin Price: $67,123.45 USD Change: -1.2% )");
	assert_int_equal(metric_from_text(page, strlen(page), "(Bitcoin)", &v, &e), ERR_INVALID);
	assert_string_equal(e.msg, "regex \"(Bitcoin)\" matched \"Bitcoin\", which holds no "
				   "number");
	assert_int_equal(metric_from_text(page, strlen(page), "([0-9]+", &v, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "is not a POSIX extended regular expression"));
	assert_int_equal(metric_regex_check("(a)\\1", &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "back-references"));
	assert_int_equal(metric_regex_check("a\\.b", &e), ERR_OK);
	assert_int_equal(metric_regex_check("", &e), ERR_INVALID);
	/* NUL bytes do not end the text */
	assert_int_equal(metric_from_text("a\0b 42", 6, "b ([0-9]+)", &v, &e), ERR_OK);
	assert_true(v == 42);
}

/* Run a sequence; return a string of verdicts: '.' quiet, 'F' fire,
 * 'C' cooldown, 'I' invalid. */
static void run(const struct metric_rule *r, const double *vals, size_t n, const char *want)
{
	struct metric_state s;
	char got[64];

	metric_state_init(&s);
	for (size_t i = 0; i < n; i++) {
		enum metric_verdict v = metric_check(r, &s, vals[i], (int64_t)i * 60000000, NULL);

		got[i] = v == METRIC_FIRE       ? 'F'
			 : v == METRIC_COOLDOWN ? 'C'
			 : v == METRIC_INVALID  ? 'I'
						: '.';
	}
	got[n] = '\0';
	if (strcmp(got, want) != 0)
		fail_msg("%s threshold %g hysteresis %g: got %s, want %s", metric_cmp_name(r->cmp),
			 r->threshold, r->hysteresis, got, want);
}

#define RUN(rule, want, ...)                                                                       \
	do {                                                                                       \
		const double v_[] = {__VA_ARGS__};                                                 \
		run(rule, v_, sizeof(v_) / sizeof(v_[0]), want);                                   \
	} while (0)

static void test_breach_sequences(void **state)
{
	struct metric_rule above = {METRIC_ABOVE, 100, 0, 0};
	struct metric_rule below = {METRIC_BELOW, 100, 0, 0};
	struct metric_rule xa = {METRIC_CROSSES_ABOVE, 100, 0, 0};
	struct metric_rule xb = {METRIC_CROSSES_BELOW, 100, 0, 0};

	(void)state;
	/* above: the first reading may fire; once per excursion */
	RUN(&above, "F..F.", 101, 105, 99, 101, 100);
	RUN(&above, ".F.F", 90, 101, 100, 100.5);
	RUN(&above, "....", 100, 100, 50, 100); /* equal is not above */
	/* with hysteresis 5: re-arm only at 95 or lower */
	above.hysteresis = 5;
	RUN(&above, "F....F", 101, 98, 102, 95.5, 94, 101);
	RUN(&above, "F..F", 101, 96, 95, 101);
	/* below mirrors it */
	RUN(&below, "F.F", 99, 100, 99);
	below.hysteresis = 2;
	RUN(&below, "F..F", 99, 101, 102, 98);
	/* crosses_above: needs to see the other side first */
	RUN(&xa, "....F.F", 101, 105, 100, 100, 101, 100, 101);
	RUN(&xa, ".F", 99, 101);
	xa.hysteresis = 10;
	RUN(&xa, ".F...F", 99, 101, 95, 101, 90, 100.01);
	/* crosses_below */
	RUN(&xb, "..F..F", 99, 101, 99, 99, 100, 50);
	/* NaN and infinities are ignored and change nothing */
	RUN(&above, "IFI.", NAN, 101, INFINITY, 102);
}

static void test_cooldown(void **state)
{
	struct metric_rule r = {METRIC_ABOVE, 100, 0, 10 * 60000000LL}; /* 10 minutes */
	struct metric_state s;
	struct metric_eval ev;
	int64_t min = 60000000;

	(void)state;
	metric_state_init(&s);
	assert_int_equal(metric_check(&r, &s, 101, 0, &ev), METRIC_FIRE);
	assert_false(ev.has_prev);
	assert_int_equal(metric_check(&r, &s, 90, 1 * min, &ev), METRIC_QUIET);
	assert_true(ev.has_prev);
	assert_true(ev.prev == 101);
	assert_true(ev.rearmed);
	/* breach again 2 minutes later: suppressed, stays armed */
	assert_int_equal(metric_check(&r, &s, 105, 2 * min, &ev), METRIC_COOLDOWN);
	assert_int_equal(metric_check(&r, &s, 106, 9 * min, &ev), METRIC_COOLDOWN);
	/* after the cooldown, still above: fires */
	assert_int_equal(metric_check(&r, &s, 107, 10 * min, &ev), METRIC_FIRE);
	assert_true(ev.prev == 106);
	assert_int_equal(metric_check(&r, &s, 108, 30 * min, &ev), METRIC_QUIET);

	/* crosses with a cooldown */
	r.cmp = METRIC_CROSSES_ABOVE;
	metric_state_init(&s);
	assert_int_equal(metric_check(&r, &s, 90, 0, NULL), METRIC_QUIET);
	assert_int_equal(metric_check(&r, &s, 110, 1 * min, NULL), METRIC_FIRE);
	assert_int_equal(metric_check(&r, &s, 90, 2 * min, NULL), METRIC_QUIET);
	assert_int_equal(metric_check(&r, &s, 110, 3 * min, NULL), METRIC_COOLDOWN);
	assert_int_equal(metric_check(&r, &s, 90, 4 * min, NULL), METRIC_QUIET);
	assert_int_equal(metric_check(&r, &s, 110, 11 * min, NULL), METRIC_FIRE);
}

static void test_names_and_state_json(void **state)
{
	enum metric_cmp c;
	struct metric_rule r = {METRIC_CROSSES_BELOW, 50, 1, 0};
	struct metric_state s, t;
	struct err e = {0};
	json_t *j;

	(void)state;
	assert_int_equal(metric_cmp_parse("above", &c), ERR_OK);
	assert_int_equal(c, METRIC_ABOVE);
	assert_int_equal(metric_cmp_parse("Crosses_Below", &c), ERR_OK);
	assert_int_equal(c, METRIC_CROSSES_BELOW);
	assert_int_equal(metric_cmp_parse("sideways", &c), ERR_INVALID);
	assert_int_equal(metric_cmp_parse(NULL, &c), ERR_INVALID);
	assert_string_equal(metric_cmp_name(METRIC_CROSSES_ABOVE), "crosses_above");

	metric_state_init(&s);
	metric_check(&r, &s, 60, 5, NULL);
	metric_check(&r, &s, 40, 7, NULL);
	j = metric_state_to_json(&s);
	{
		char *text = json_dumps(j, JSON_COMPACT);

		assert_string_equal(text, "{\"arm\":\"fired\",\"prev\":40.0,\"last_fire_us\":7}");
		free(text);
	}
	assert_int_equal(metric_state_from_json(j, &t, &e), ERR_OK);
	assert_int_equal(t.arm, METRIC_ARM_FIRED);
	assert_true(t.prev == 40 && t.has_prev && t.has_fired && t.last_fire_us == 7);
	/* the restored state continues the sequence */
	assert_int_equal(metric_check(&r, &t, 50.5, 9, NULL), METRIC_QUIET);
	assert_int_equal(metric_check(&r, &t, 51, 10, NULL), METRIC_QUIET);
	assert_int_equal(metric_check(&r, &t, 49, 11, NULL), METRIC_FIRE);
	json_decref(j);

	j = json_pack("{s:s}", "arm", "bogus");
	assert_int_equal(metric_state_from_json(j, &t, &e), ERR_INVALID);
	json_decref(j);
	j = json_pack("{s:s}", "prev", "1");
	assert_int_equal(metric_state_from_json(j, &t, &e), ERR_INVALID);
	json_decref(j);
	assert_int_equal(metric_state_from_json(NULL, &t, &e), ERR_INVALID);
	j = json_object();
	assert_int_equal(metric_state_from_json(j, &t, &e), ERR_OK);
	assert_int_equal(t.arm, METRIC_ARM_NEW);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),  cmocka_unit_test(test_json_paths),
		cmocka_unit_test(test_regex),    cmocka_unit_test(test_breach_sequences),
		cmocka_unit_test(test_cooldown), cmocka_unit_test(test_names_and_state_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
