/* test_json.c - jansson helpers, and the error type they report through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/json.h"

static void test_parse_any_type(void **state)
{
	(void)state;
	struct err e;
	json_t *j;

	err_clear(&e);
	j = json_parse("{\"a\": 1, \"b\": [true, null, \"x\"]}", (size_t)-1, &e);
	assert_non_null(j);
	assert_true(json_is_object(j));
	assert_int_equal(json_get_int(j, "a", -1), 1);
	json_decref(j);

	j = json_parse("42", (size_t)-1, &e);
	assert_non_null(j);
	assert_true(json_is_integer(j));
	json_decref(j);

	j = json_parse("\"str\"", (size_t)-1, &e);
	assert_non_null(j);
	assert_string_equal(json_string_value(j), "str");
	json_decref(j);

	j = json_parse("  null \n", (size_t)-1, &e);
	assert_non_null(j);
	assert_true(json_is_null(j));
	json_decref(j);
	assert_int_equal(e.code, ERR_OK);
}

static void test_parse_respects_len(void **state)
{
	(void)state;
	struct err e;
	const char *text = "[1,2]garbage";
	json_t *j = json_parse(text, 5, &e);
	assert_non_null(j);
	assert_int_equal(json_array_size(j), 2);
	json_decref(j);

	/* Without the length the garbage is seen. */
	err_clear(&e);
	assert_null(json_parse(text, (size_t)-1, &e));
	assert_int_equal(e.code, ERR_INVALID);

	/* A length that cuts a value short is an error. */
	assert_null(json_parse("{\"a\":12}", 6, &e));
	assert_int_equal(e.code, ERR_INVALID);
}

static void test_parse_error_names_line_and_column(void **state)
{
	(void)state;
	struct err e;
	err_clear(&e);
	/* The stray 'x' is on line 3, column 8. */
	assert_null(json_parse("{\n  \"a\": 1,\n  \"b\": x\n}", (size_t)-1, &e));
	assert_int_equal(e.code, ERR_INVALID);
	assert_non_null(strstr(e.msg, "line 3"));
	assert_non_null(strstr(e.msg, "column 8"));
	assert_memory_equal(e.msg, "invalid JSON at line 3, column 8: ", 34);
	assert_true(strlen(e.msg) > 34); /* the parser's own words follow */

	err_clear(&e);
	assert_null(json_parse("[1, 2,", (size_t)-1, &e));
	assert_int_equal(e.code, ERR_INVALID);
	assert_non_null(strstr(e.msg, "line 1"));

	err_clear(&e);
	assert_null(json_parse("", (size_t)-1, &e));
	assert_int_equal(e.code, ERR_INVALID);
	assert_non_null(strstr(e.msg, "invalid JSON"));

	err_clear(&e);
	assert_null(json_parse(NULL, (size_t)-1, &e));
	assert_int_equal(e.code, ERR_INVALID);

	/* A NULL err is allowed. */
	assert_null(json_parse("{", (size_t)-1, NULL));
}

static void test_duplicate_keys_rejected(void **state)
{
	(void)state;
	struct err e;
	err_clear(&e);
	assert_null(json_parse("{\"a\": 1, \"a\": 2}", (size_t)-1, &e));
	assert_int_equal(e.code, ERR_INVALID);
	assert_non_null(strstr(e.msg, "line 1"));
	assert_non_null(strstr(e.msg, "duplicate"));

	/* Nested, and the same key in different objects is fine. */
	assert_null(json_parse("{\"o\": {\"k\": 1, \"k\": 1}}", (size_t)-1, &e));
	json_t *j = json_parse("{\"o\": {\"k\": 1}, \"p\": {\"k\": 2}}", (size_t)-1, &e);
	assert_non_null(j);
	json_decref(j);
}

static void test_to_text_compact_in_order(void **state)
{
	(void)state;
	json_t *j = json_pack("{s:i, s:[i,b,n], s:s, s:{}}", "zeta", 1, "alpha", 2, 1, "mid", "a \"q\"",
			      "empty");
	assert_non_null(j);
	char *s = json_to_text(j);
	assert_string_equal(s, "{\"zeta\":1,\"alpha\":[2,true,null],\"mid\":\"a \\\"q\\\"\",\"empty\":{}}");
	free(s);

	char *p = json_to_pretty(j);
	/* Sorted keys, two-space indent. */
	assert_non_null(strstr(p, "\n  \"alpha\": ["));
	assert_true(strstr(p, "\"alpha\"") < strstr(p, "\"empty\""));
	assert_true(strstr(p, "\"mid\"") < strstr(p, "\"zeta\""));
	free(p);
	json_decref(j);

	/* Non-container values encode too. */
	json_t *str = json_string("hi");
	s = json_to_text(str);
	assert_string_equal(s, "\"hi\"");
	free(s);
	json_decref(str);
	json_t *n = json_integer(-5);
	s = json_to_text(n);
	assert_string_equal(s, "-5");
	free(s);
	json_decref(n);
}

static void test_round_trip_utf8(void **state)
{
	(void)state;
	struct err e;
	const char *text = "{\"name\":\"caf\xc3\xa9 \xe2\x98\x95\",\"n\":[1,2,3]}";
	json_t *j = json_parse(text, (size_t)-1, &e);
	assert_non_null(j);
	char *s = json_to_text(j);
	assert_string_equal(s, text);
	free(s);
	json_decref(j);

	/* Invalid UTF-8 is rejected. */
	assert_null(json_parse("\"\xff\"", (size_t)-1, &e));
	assert_int_equal(e.code, ERR_INVALID);
}

static void test_get_str_and_int(void **state)
{
	(void)state;
	struct err e;
	json_t *j = json_parse("{\"s\":\"v\",\"i\":-7,\"big\":9007199254740993,\"r\":1.5,\"ns\":3,"
			       "\"null\":null,\"t\":true}",
			       (size_t)-1, &e);
	assert_non_null(j);
	assert_string_equal(json_get_str(j, "s"), "v");
	assert_null(json_get_str(j, "missing"));
	assert_null(json_get_str(j, "ns"));
	assert_null(json_get_str(j, "null"));

	assert_int_equal(json_get_int(j, "i", 0), -7);
	assert_true(json_get_int(j, "big", 0) == 9007199254740993LL);
	assert_int_equal(json_get_int(j, "r", 99), 99);   /* real: not an integer */
	assert_int_equal(json_get_int(j, "s", 99), 99);   /* string */
	assert_int_equal(json_get_int(j, "t", 99), 99);   /* bool */
	assert_int_equal(json_get_int(j, "null", 99), 99);
	assert_int_equal(json_get_int(j, "missing", -3), -3);

	/* Getters on non-objects and NULL return the fallback. */
	json_t *arr = json_array();
	assert_null(json_get_str(arr, "s"));
	assert_int_equal(json_get_int(arr, "i", 5), 5);
	assert_null(json_get_str(NULL, "s"));
	assert_int_equal(json_get_int(NULL, "i", 6), 6);
	json_decref(arr);
	json_decref(j);
}

static void test_type_names(void **state)
{
	(void)state;
	struct {
		const char *text, *name;
	} cases[] = {
		{"{}", "object"},     {"[]", "array"},     {"\"\"", "string"}, {"0", "integer"},
		{"-0.5", "number"},   {"1e3", "number"},   {"true", "boolean"}, {"false", "boolean"},
		{"null", "null"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *j = json_parse(cases[i].text, (size_t)-1, NULL);
		assert_non_null(j);
		assert_string_equal(json_type_name(j), cases[i].name);
		json_decref(j);
	}
}

/* ---- err ---- */

static void test_err_set_and_msg(void **state)
{
	(void)state;
	struct err e;
	err_clear(&e);
	assert_int_equal(e.code, ERR_OK);
	assert_string_equal(err_msg(&e), "ok");
	assert_int_equal(err_set(&e, ERR_NOT_FOUND, "no task %s (%d)", "abc", 7), ERR_NOT_FOUND);
	assert_int_equal(e.code, ERR_NOT_FOUND);
	assert_string_equal(err_msg(&e), "no task abc (7)");
	err_clear(&e);
	assert_int_equal(e.code, ERR_OK);
	assert_string_equal(e.msg, "");

	/* Code without a message: the code's name. */
	e.code = ERR_CONFLICT;
	assert_string_equal(err_msg(&e), "conflict");

	/* NULL err: the code still comes back. */
	assert_int_equal(err_set(NULL, ERR_IO, "x"), ERR_IO);
	assert_string_equal(err_msg(NULL), "");
	err_clear(NULL);
	err_prefix(NULL, "ctx");
}

static void test_err_str_all_codes(void **state)
{
	(void)state;
	for (int c = 0; c < ERR__COUNT; c++) {
		const char *s = err_str(c);
		assert_non_null(s);
		assert_true(strlen(s) > 0);
		assert_string_not_equal(s, "unknown error");
		for (int d = 0; d < c; d++)
			assert_string_not_equal(s, err_str(d));
	}
	assert_string_equal(err_str(ERR_TOO_BIG), "too big");
	assert_string_equal(err_str(-1), "unknown error");
	assert_string_equal(err_str(ERR__COUNT), "unknown error");
	assert_string_equal(err_str(100000), "unknown error");
}

static void test_err_truncates_long_messages(void **state)
{
	(void)state;
	struct err e;
	char big[2000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	err_set(&e, ERR_INVALID, "%s", big);
	assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);

	/* Prefixing a full message stays within bounds and keeps the head. */
	err_prefix(&e, "opening %s", "file.db");
	assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
	assert_memory_equal(e.msg, "opening file.db: xxx", 20);
	assert_int_equal(e.code, ERR_INVALID);

	/* A huge prefix too. */
	err_set(&e, ERR_IO, "short");
	err_prefix(&e, "%s", big);
	assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
}

static void test_err_prefix(void **state)
{
	(void)state;
	struct err e;
	err_set(&e, ERR_CORRUPT, "bad header");
	err_prefix(&e, "opening %s", "/x/y.db");
	assert_string_equal(e.msg, "opening /x/y.db: bad header");
	err_prefix(&e, "starting");
	assert_string_equal(err_msg(&e), "starting: opening /x/y.db: bad header");
	assert_int_equal(e.code, ERR_CORRUPT);

	/* Prefixing an error with no message uses the code's name. */
	err_clear(&e);
	e.code = ERR_BUSY;
	err_prefix(&e, "locking");
	assert_string_equal(err_msg(&e), "locking: busy");
}

static int __attribute__((format(printf, 3, 4))) wrap(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = err_setv(e, code, fmt, ap);
	va_end(ap);
	return rc;
}

static void test_err_setv(void **state)
{
	(void)state;
	struct err e;
	err_clear(&e);
	assert_int_equal(wrap(&e, ERR_TIMEOUT, "after %d ms", 250), ERR_TIMEOUT);
	assert_int_equal(e.code, ERR_TIMEOUT);
	assert_string_equal(err_msg(&e), "after 250 ms");
	assert_int_equal(wrap(NULL, ERR_PERM, "x%s", "y"), ERR_PERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_any_type),
		cmocka_unit_test(test_parse_respects_len),
		cmocka_unit_test(test_parse_error_names_line_and_column),
		cmocka_unit_test(test_duplicate_keys_rejected),
		cmocka_unit_test(test_to_text_compact_in_order),
		cmocka_unit_test(test_round_trip_utf8),
		cmocka_unit_test(test_get_str_and_int),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_err_set_and_msg),
		cmocka_unit_test(test_err_str_all_codes),
		cmocka_unit_test(test_err_truncates_long_messages),
		cmocka_unit_test(test_err_prefix),
		cmocka_unit_test(test_err_setv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
