/*
 * test_memory.c - the memory aggregate (domain/memory.c): validation,
 * deciding, folding, the search query parser (including text that tries to
 * be search syntax) and the ranking of hits.
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
#include "domain/memory.h"

#define T0 "2026-01-01T10:00:00.000000Z"
#define T1 "2026-01-01T11:00:00.000000Z"
#define T2 "2026-01-01T12:00:00.000000Z"

/* A string of n copies of the UTF-8 text s; caller frees. */
static char *repeat(const char *s, size_t n)
{
	size_t len = strlen(s);
	char *out = malloc(len * n + 1);

	for (size_t i = 0; i < n; i++)
		memcpy(out + i * len, s, len);
	out[len * n] = '\0';
	return out;
}

/* Fold one event into *state (replacing it); fails the test on error. */
static void fold(json_t **state, const char *type, json_t *data, int64_t version, const char *at)
{
	struct err e = {0};
	json_t *next = memory_fold(*state, "alice", type, data, version, at, &e);

	if (!next)
		fail_msg("fold %s: %s", type, err_msg(&e));
	json_decref(*state);
	json_decref(data);
	*state = next;
}

static json_t *remembered(const char *key, const char *value, const char *cat, int imp)
{
	return json_pack("{s:s, s:s, s:s, s:i, s:s}", "key", key, "value", value, "category", cat,
			 "importance", imp, "user_id", "alice");
}

/* ---- validation ---------------------------------------------------------------- */

static void test_keys(void **state)
{
	char k[MEMORY_KEY_BYTES];
	struct err e = {0};
	char *s;

	(void)state;
	assert_int_equal(memory_key_normalize("  favorite_color \n", k, sizeof k, &e), ERR_OK);
	assert_string_equal(k, "favorite_color");
	assert_int_equal(memory_key_normalize("", k, sizeof k, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "must not be empty"));
	assert_int_equal(memory_key_normalize(" \t ", k, sizeof k, &e), ERR_INVALID);
	assert_int_equal(memory_key_normalize(NULL, k, sizeof k, &e), ERR_INVALID);
	assert_int_equal(memory_key_normalize("a\nb", k, sizeof k, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "control characters"));
	/* 200 characters are fine, also when each takes 4 bytes; 201 are not */
	s = repeat("x", 200);
	assert_int_equal(memory_key_normalize(s, k, sizeof k, &e), ERR_OK);
	free(s);
	s = repeat("\xF0\x9F\x98\x80", 200); /* U+1F600 */
	assert_int_equal(memory_key_normalize(s, k, sizeof k, &e), ERR_OK);
	free(s);
	s = repeat("x", 201);
	assert_int_equal(memory_key_normalize(s, k, sizeof k, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "201 characters"));
	free(s);
	s = repeat("\xC3\xA9", 201);
	assert_int_equal(memory_key_normalize(s, k, sizeof k, &e), ERR_INVALID);
	free(s);
}

static void test_values_categories_importance(void **state)
{
	char c[MEMORY_CATEGORY_MAX + 1];
	struct err e = {0};
	char *s;

	(void)state;
	assert_int_equal(memory_check_value("blue", &e), ERR_OK);
	assert_int_equal(memory_check_value("line 1\nline 2\ttab", &e), ERR_OK);
	assert_int_equal(memory_check_value("", &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "forget"));
	s = repeat("v", MEMORY_VALUE_MAX);
	assert_int_equal(memory_check_value(s, &e), ERR_OK);
	free(s);
	s = repeat("v", MEMORY_VALUE_MAX + 1);
	assert_int_equal(memory_check_value(s, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "10001 characters"));
	free(s);

	assert_int_equal(memory_category_normalize(" Work ", c, sizeof c, &e), ERR_OK);
	assert_string_equal(c, "work");
	assert_int_equal(memory_category_normalize("to-do_2", c, sizeof c, &e), ERR_OK);
	assert_string_equal(c, "to-do_2");
	assert_int_equal(memory_category_normalize("Work Stuff!", c, sizeof c, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "\"work_stuff\"")); /* a spelling that works */
	assert_int_equal(memory_category_normalize("", c, sizeof c, &e), ERR_INVALID);
	assert_int_equal(memory_category_normalize("caf\xC3\xA9", c, sizeof c, &e), ERR_INVALID);
	s = repeat("c", 51);
	assert_int_equal(memory_category_normalize(s, c, sizeof c, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "at most 50"));
	free(s);

	for (int i = 1; i <= 5; i++)
		assert_int_equal(memory_check_importance(i, &e), ERR_OK);
	assert_int_equal(memory_check_importance(0, &e), ERR_INVALID);
	assert_int_equal(memory_check_importance(6, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "from 1"));
}

static void test_stream_names(void **state)
{
	char s[MEMORY_STREAM_BYTES];
	struct err e = {0};
	char *u;

	(void)state;
	assert_int_equal(memory_stream_name("alice", s, sizeof s, &e), ERR_OK);
	assert_string_equal(s, "memory-alice");
	assert_string_equal(memory_user_of_stream(s), "alice");
	assert_null(memory_user_of_stream("task-1"));
	assert_null(memory_user_of_stream("memory-"));
	assert_int_equal(memory_stream_name("", s, sizeof s, &e), ERR_INVALID);
	assert_int_equal(memory_stream_name("a\tb", s, sizeof s, &e), ERR_INVALID);
	u = repeat("u", MEMORY_USER_MAX);
	assert_int_equal(memory_stream_name(u, s, sizeof s, &e), ERR_OK);
	assert_int_equal(strlen(s), 200);
	free(u);
	u = repeat("u", MEMORY_USER_MAX + 1);
	assert_int_equal(memory_stream_name(u, s, sizeof s, &e), ERR_INVALID);
	free(u);
}

/* ---- deciding ------------------------------------------------------------------------ */

static void test_decide_remember(void **state)
{
	struct memory_fields f = {.value = "blue"};
	json_t *st = NULL, *data = NULL;
	struct err e = {0};
	int d;

	(void)state;
	/* new: defaults */
	assert_int_equal(memory_decide_remember(NULL, "alice", " color ", &f, &d, &data, &e),
			 ERR_OK);
	assert_int_equal(d, MEMORY_DECIDE_APPEND);
	assert_string_equal(json_get_str(data, "key"), "color");
	assert_string_equal(json_get_str(data, "category"), "general");
	assert_int_equal(json_get_int(data, "importance", 0), 1);
	assert_string_equal(json_get_str(data, "user_id"), "alice");
	fold(&st, MEMORY_EV_REMEMBERED, data, 1, T0);

	/* upsert: category and importance given, then only the value (they stay) */
	f = (struct memory_fields){.value = "blue", .category = "Personal", .importance = 4};
	assert_int_equal(memory_decide_remember(st, "alice", "color", &f, &d, &data, &e), ERR_OK);
	assert_int_equal(d, MEMORY_DECIDE_APPEND);
	assert_string_equal(json_get_str(data, "category"), "personal");
	fold(&st, MEMORY_EV_REMEMBERED, data, 2, T1);
	f = (struct memory_fields){.value = "green"};
	assert_int_equal(memory_decide_remember(st, "alice", "color", &f, &d, &data, &e), ERR_OK);
	assert_string_equal(json_get_str(data, "category"), "personal");
	assert_int_equal(json_get_int(data, "importance", 0), 4);
	json_decref(data);

	/* the same again: nothing to record */
	f = (struct memory_fields){.value = "blue", .importance = 4};
	assert_int_equal(memory_decide_remember(st, "alice", "color", &f, &d, &data, &e), ERR_OK);
	assert_int_equal(d, MEMORY_DECIDE_NOOP);
	assert_null(data);

	/* bad input */
	f = (struct memory_fields){0};
	assert_int_equal(memory_decide_remember(st, "alice", "k", &f, &d, &data, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "value is required"));
	f = (struct memory_fields){.value = "v", .importance = 9};
	assert_int_equal(memory_decide_remember(st, "alice", "k", &f, &d, &data, &e), ERR_INVALID);
	f = (struct memory_fields){.value = "v", .category = "a b c"};
	assert_int_equal(memory_decide_remember(st, "alice", "k", &f, &d, &data, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "a_b_c"));
	json_decref(st);
}

static void test_decide_remember_full(void **state)
{
	struct memory_fields f = {.value = "v"};
	json_t *st = json_pack("{s:s, s:i, s:{}}", "user_id", "alice", "version", 1, "memories");
	json_t *mems = json_object_get(st, "memories"), *data = NULL;
	struct err e = {0};
	char key[32];
	int d;

	(void)state;
	for (int i = 0; i < MEMORY_COUNT_MAX; i++) {
		snprintf(key, sizeof key, "k%d", i);
		json_object_set_new(mems, key,
				    json_pack("{s:s, s:s, s:s, s:i}", "key", key, "value", "v",
					      "category", "general", "importance", 1));
	}
	assert_int_equal(memory_decide_remember(st, "alice", "one_more", &f, &d, &data, &e),
			 ERR_FULL);
	assert_non_null(strstr(e.msg, "forget some"));
	/* replacing an existing one is still fine */
	f.value = "w";
	assert_int_equal(memory_decide_remember(st, "alice", "k7", &f, &d, &data, &e), ERR_OK);
	assert_int_equal(d, MEMORY_DECIDE_APPEND);
	json_decref(data);
	json_decref(st);
}

static void test_decide_update_forget(void **state)
{
	struct memory_fields f = {.importance = 5};
	json_t *st = NULL, *data = NULL;
	struct err e = {0};
	int d;

	(void)state;
	assert_int_equal(memory_decide_update(NULL, "color", &f, &d, &data, &e), ERR_NOT_FOUND);
	assert_non_null(strstr(e.msg, "search_memories"));
	assert_int_equal(memory_decide_forget(NULL, "color", &data, &e), ERR_NOT_FOUND);
	fold(&st, MEMORY_EV_REMEMBERED, remembered("color", "blue", "general", 1), 1, T0);

	f = (struct memory_fields){0};
	assert_int_equal(memory_decide_update(st, "color", &f, &d, &data, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "at least one of"));
	/* only what changes is in the event */
	f = (struct memory_fields){.value = "blue", .category = "Colors", .importance = 5};
	assert_int_equal(memory_decide_update(st, "color", &f, &d, &data, &e), ERR_OK);
	assert_int_equal(d, MEMORY_DECIDE_APPEND);
	assert_null(json_object_get(data, "value"));
	assert_string_equal(json_get_str(data, "category"), "colors");
	assert_int_equal(json_get_int(data, "importance", 0), 5);
	fold(&st, MEMORY_EV_UPDATED, data, 2, T1);
	assert_int_equal(memory_decide_update(st, "color", &f, &d, &data, &e), ERR_OK);
	assert_int_equal(d, MEMORY_DECIDE_NOOP);

	assert_int_equal(memory_decide_forget(st, " color ", &data, &e), ERR_OK);
	assert_string_equal(json_get_str(data, "key"), "color");
	fold(&st, MEMORY_EV_FORGOTTEN, data, 3, T2);
	assert_int_equal(memory_count(st), 0);
	assert_int_equal(memory_decide_forget(st, "color", &data, &e), ERR_NOT_FOUND);
	json_decref(st);
}

/* ---- folding ----------------------------------------------------------------------------- */

static void test_fold(void **state)
{
	json_t *st = NULL, *m, *idx;
	struct err e = {0};

	(void)state;
	fold(&st, MEMORY_EV_REMEMBERED, remembered("color", "blue", "general", 2), 1, T0);
	assert_string_equal(json_get_str(st, "user_id"), "alice");
	assert_int_equal(json_get_int(st, "version", 0), 1);
	m = (json_t *)memory_get(st, "color");
	assert_string_equal(json_get_str(m, "value"), "blue");
	assert_string_equal(json_get_str(m, "created_by"), "alice");
	assert_string_equal(json_get_str(m, "created_at"), T0);
	assert_string_equal(json_get_str(m, "updated_at"), T0);

	/* replacing keeps when and by whom it was created */
	fold(&st, MEMORY_EV_REMEMBERED, remembered("color", "green", "general", 3), 2, T1);
	m = (json_t *)memory_get(st, "color");
	assert_string_equal(json_get_str(m, "value"), "green");
	assert_string_equal(json_get_str(m, "created_at"), T0);
	assert_string_equal(json_get_str(m, "updated_at"), T1);

	fold(&st, MEMORY_EV_UPDATED, json_pack("{s:s, s:i}", "key", "color", "importance", 5), 3,
	     T2);
	m = (json_t *)memory_get(st, "color");
	assert_int_equal(json_get_int(m, "importance", 0), 5);
	assert_string_equal(json_get_str(m, "value"), "green");
	assert_string_equal(json_get_str(m, "updated_at"), T2);

	/* other types and stale keys change nothing but the version */
	fold(&st, "tool_called", json_object(), 4, T2);
	fold(&st, MEMORY_EV_UPDATED, json_pack("{s:s, s:s}", "key", "gone", "value", "x"), 5, T2);
	fold(&st, MEMORY_EV_FORGOTTEN, json_pack("{s:s}", "key", "gone"), 6, T2);
	assert_int_equal(memory_count(st), 1);
	assert_int_equal(json_get_int(st, "version", 0), 6);

	/* the index: one text per memory, key and value */
	fold(&st, MEMORY_EV_REMEMBERED, remembered("food", "pizza", "general", 1), 7, T2);
	idx = memory_index(st, NULL);
	assert_int_equal(json_object_size(idx), 2);
	assert_string_equal(json_get_str(idx, "color"), "color\ngreen");
	assert_string_equal(json_get_str(idx, "food"), "food\npizza");
	json_decref(idx);

	/* corrupt events and versions are refused */
	json_t *bad = json_pack("{s:s}", "key", "x");
	assert_null(memory_fold(st, "alice", MEMORY_EV_REMEMBERED, bad, 8, T2, &e));
	assert_int_equal(e.code, ERR_CORRUPT);
	json_decref(bad);
	bad = remembered("x", "y", "general", 1);
	assert_null(memory_fold(st, "alice", MEMORY_EV_REMEMBERED, bad, 7, T2, &e));
	assert_non_null(strstr(e.msg, "version"));
	json_decref(bad);
	bad = json_object();
	assert_null(memory_fold(st, "alice", MEMORY_EV_FORGOTTEN, bad, 8, T2, &e));
	json_decref(bad);
	json_decref(st);
}

/* ---- the query ----------------------------------------------------------------------------- */

/* Parse and check the terms: want is "text|flags;..." with flags p (prefix)
 * and q (phrase). */
static void expect_terms(const char *query, const char *want)
{
	struct memory_query q;
	struct err e = {0};
	char got[2000] = "";

	if (memory_query_parse(query, &q, &e))
		fail_msg("parse %s: %s", query, err_msg(&e));
	assert_int_equal(q.kind, MEMORY_QUERY_TERMS);
	for (size_t i = 0; i < q.nterms; i++)
		snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s|%s%s", i ? ";" : "",
			 q.terms[i].text, q.terms[i].prefix ? "p" : "",
			 q.terms[i].phrase ? "q" : "");
	if (strcmp(got, want) != 0)
		fail_msg("query [%s]: got [%s], want [%s]", query, got, want);
	memory_query_cleanup(&q);
}

static void expect_kind(const char *query, enum memory_query_kind kind, const char *text)
{
	struct memory_query q;
	struct err e = {0};

	assert_int_equal(memory_query_parse(query, &q, &e), ERR_OK);
	assert_int_equal(q.kind, kind);
	assert_string_equal(q.text, text);
	assert_int_equal(q.nterms, 0);
	memory_query_cleanup(&q);
}

static void test_query_parse(void **state)
{
	(void)state;
	expect_kind("", MEMORY_QUERY_ALL, "");
	expect_kind("   ", MEMORY_QUERY_ALL, "");
	expect_kind(NULL, MEMORY_QUERY_ALL, "");
	expect_kind(" a ", MEMORY_QUERY_SUBSTRING, "a");
	expect_kind("\xC3\xA9", MEMORY_QUERY_SUBSTRING, "\xC3\xA9"); /* one character, two bytes */
	expect_kind("*", MEMORY_QUERY_SUBSTRING, "*");
	expect_kind("** ??", MEMORY_QUERY_SUBSTRING, "** ??"); /* no word at all */
	expect_kind("\"\"", MEMORY_QUERY_SUBSTRING, "\"\"");

	expect_terms("coffee", "coffee|");
	expect_terms("  coffee   order ", "coffee|;order|");
	expect_terms("coff*", "coff|p");
	expect_terms("coff**", "coff|p");
	expect_terms("\"project deadline\"", "project deadline|q");
	expect_terms("\"project dead\"* x", "project dead|pq;x|");
	expect_terms("ab", "ab|");
	expect_terms("caf\xC3\xA9 cr\xC3\xA8me", "caf\xC3\xA9|;cr\xC3\xA8me|");
	/* unbalanced quotes run to the end */
	expect_terms("\"open phrase", "open phrase|q");
	expect_terms("a\"b\"c", "a|;b|q;c|");
}

/* What users type that FTS5 would obey: here they are plain words. */
static void test_query_injection(void **state)
{
	(void)state;
	expect_terms("foo\" OR key:*", "foo|;OR key:*|q");
	expect_terms("foo OR bar", "foo|;OR|;bar|");
	expect_terms("NEAR(a b, 2)", "NEAR(a|;b,|;2)|");
	expect_terms("key:secret", "key:secret|");
	expect_terms("-foo +bar ^baz", "-foo|;+bar|;^baz|");
	expect_terms("body : \"x\"\"y\"", "body|;x|q;y|q");
	expect_terms("(a AND b) NOT c", "(a|;AND|;b)|;NOT|;c|");
	expect_terms("a*b*", "a*b|p");
	expect_terms("{key body}: x", "{key|;body}:|;x|");
}

static void test_query_limits(void **state)
{
	struct memory_query q;
	struct err e = {0};
	char buf[4000] = "";
	char *s;

	(void)state;
	for (int i = 0; i < MEMORY_QUERY_TERMS_MAX; i++)
		strcat(buf, "w ");
	assert_int_equal(memory_query_parse(buf, &q, &e), ERR_OK);
	assert_int_equal(q.nterms, MEMORY_QUERY_TERMS_MAX);
	memory_query_cleanup(&q);
	strcat(buf, "one_more");
	assert_int_equal(memory_query_parse(buf, &q, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "more than 32"));
	memory_query_cleanup(&q);
	s = repeat("q", MEMORY_QUERY_MAX + 1);
	assert_int_equal(memory_query_parse(s, &q, &e), ERR_INVALID);
	memory_query_cleanup(&q);
	free(s);
}

/* ---- ranking ------------------------------------------------------------------------------ */

static json_t *ranking_state(void)
{
	json_t *st = NULL;

	fold(&st, MEMORY_EV_REMEMBERED, remembered("a", "coffee black", "food", 1), 1, T0);
	fold(&st, MEMORY_EV_REMEMBERED, remembered("b", "coffee sweet", "food", 5), 2, T0);
	fold(&st, MEMORY_EV_REMEMBERED, remembered("c", "Coffee with milk", "drinks", 3), 3, T1);
	fold(&st, MEMORY_EV_REMEMBERED, remembered("d", "tea", "drinks", 3), 4, T2);
	fold(&st, MEMORY_EV_REMEMBERED, remembered("COFFEE_SHOP", "corner", "places", 2), 5, T2);
	return st;
}

static void expect_keys(json_t *results, const char *want)
{
	char got[500] = "";
	size_t i;
	json_t *r;

	json_array_foreach(results, i, r)
		snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? "," : "",
			 json_get_str(r, "key"));
	if (strcmp(got, want) != 0)
		fail_msg("got %s, want %s", got, want);
	json_decref(results);
}

static void test_ranking(void **state)
{
	json_t *st = ranking_state();
	struct memory_filter f = {0};
	json_t *hits, *r;

	(void)state;
	/* relevance first; equal relevance: importance; equal importance: recency */
	hits = json_pack("[{s:s, s:f}, {s:s, s:f}, {s:s, s:f}, {s:s, s:f}, {s:s, s:f}, {s:s}]",
			 "item", "a", "score", 2.0, "item", "b", "score", 2.0, "item", "d", "score",
			 2.0000000001, "item", "c", "score", 3.5, "item", "gone", "score", 9.0,
			 "item", "a");
	r = memory_results(st, hits, &f);
	assert_int_equal(json_array_size(r), 4); /* "gone" and the duplicate skipped */
	assert_true(json_is_real(json_object_get(json_array_get(r, 0), "score")));
	assert_string_equal(json_get_str(json_array_get(r, 0), "created_by"), "alice");
	/* d's score equals a's and b's to 6 digits; d (3) is between b (5) and a (1) */
	expect_keys(r, "c,b,d,a");

	/* filters and the limit */
	f.category = "food";
	expect_keys(memory_results(st, hits, &f), "b,a");
	f = (struct memory_filter){.min_importance = 3};
	expect_keys(memory_results(st, hits, &f), "c,b,d");
	f = (struct memory_filter){.limit = 2};
	expect_keys(memory_results(st, hits, &f), "c,b");
	json_decref(hits);

	/* scores are relative to the best hit */
	hits = json_pack("[{s:s, s:f}, {s:s, s:f}]", "item", "a", "score", 4e-6, "item", "b",
			 "score", 1e-6);
	r = memory_results(st, hits, &f);
	assert_true(json_real_value(json_object_get(json_array_get(r, 0), "score")) == 1.0);
	assert_true(json_real_value(json_object_get(json_array_get(r, 1), "score")) == 0.25);
	json_decref(r);
	json_decref(hits);

	/* no hits given: everything, by importance then recency */
	f = (struct memory_filter){0};
	expect_keys(memory_results(st, NULL, &f), "b,d,c,COFFEE_SHOP,a");
	expect_keys(memory_results(NULL, NULL, &f), "");

	/* substring, ignoring case, in key or value */
	hits = memory_substring_hits(st, "coffee");
	expect_keys(memory_results(st, hits, &f), "b,c,COFFEE_SHOP,a");
	json_decref(hits);
	hits = memory_substring_hits(st, "T");
	expect_keys(memory_results(st, hits, &f), "b,d,c");
	json_decref(hits);
	json_decref(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_values_categories_importance),
		cmocka_unit_test(test_stream_names),
		cmocka_unit_test(test_decide_remember),
		cmocka_unit_test(test_decide_remember_full),
		cmocka_unit_test(test_decide_update_forget),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_query_parse),
		cmocka_unit_test(test_query_injection),
		cmocka_unit_test(test_query_limits),
		cmocka_unit_test(test_ranking),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
