/* test_match.c - keyword matching: boundaries, case folding, Unicode, snippets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain/match.h"

/* Whether `kw` is found in `text` (word boundaries on). */
static bool found(const char *kw, const char *text)
{
	const char *kws[] = {kw};
	struct match_set *set = match_set_new(kws, 1, 0);
	struct match_result r;
	bool ok;

	match_find(set, text, strlen(text), MATCH_ANY, 0, &r);
	ok = r.matched;
	match_result_cleanup(&r);
	match_set_free(set);
	return ok;
}

#define FOUND(kw, text) assert_true(found(kw, text))
#define NOT_FOUND(kw, text) assert_false(found(kw, text))

static void test_ai_boundaries(void **state)
{
	(void)state;
	FOUND("AI", "AI");
	FOUND("AI", "New AI model");
	FOUND("AI", "about AI, again");
	FOUND("AI", "(AI)");
	FOUND("AI", "AI-powered search");
	FOUND("AI", "OpenAI's rival: AI's future");
	FOUND("AI", "ai");
	FOUND("ai", "GENERATIVE AI.");
	FOUND("AI", "\"AI\"");
	FOUND("AI", "AI\n");
	NOT_FOUND("AI", "email");
	NOT_FOUND("AI", "MAIN STREET");
	NOT_FOUND("AI", "OpenAI");
	NOT_FOUND("AI", "AI2");
	NOT_FOUND("AI", "A.I.");
	NOT_FOUND("AI", "");
	/* dotted acronyms are their own keyword; the trailing '.' needs no
	 * boundary */
	FOUND("A.I.", "the A.I. boom");
	FOUND("A.I.", "A.I.s");
	NOT_FOUND("A.I.", "AI");
	/* keywords with symbols at the edge */
	FOUND("C++", "I like C++.");
	FOUND("C++", "C++17");
	NOT_FOUND("C++", "ObjC++");
	FOUND(".NET", "ASP.NET");
	FOUND("GPT-4", "GPT-4 is out");
	NOT_FOUND("GPT-4", "GPT-4o is out");
	NOT_FOUND("GPT", "GPT4");
	FOUND("GPT", "GPT-4");
	FOUND("5G", "5G networks");
	NOT_FOUND("5G", "15G");
}

static void test_case_folding(void **state)
{
	(void)state;
	FOUND("Künstliche Intelligenz", "Die KÜNSTLICHE INTELLIGENZ wächst");
	FOUND("künstliche intelligenz", "Künstliche Intelligenz");
	NOT_FOUND("Künstliche", "Kunstliche");
	FOUND("ИИ", "Новости про ии и роботов");
	FOUND("ии", "ИИ-ассистент");
	NOT_FOUND("ИИ", "ИИСУС");
	FOUND("Ελλάδα", "ΕΛΛΆΔΑ");
	FOUND("σοφία", "ΣΟΦΊΑ");
	FOUND("λόγος", "ΛΌΓΟΣ"); /* final sigma folds to sigma */
	FOUND("STRASSE", "Die Straße ist lang");
	FOUND("straße", "IN DER STRASSE");
	NOT_FOUND("STRASSE", "Hauptstraße"); /* a word boundary is needed */
	FOUND("Hauptstraße", "HAUPTSTRASSE");
	FOUND("ẞ", "ss");
	FOUND("İstanbul", "istanbul");
	FOUND("Ｆｕｌｌｗｉｄｔｈ", "ｆｕｌｌｗｉｄｔｈ");
	FOUND("café", "CAFÉ au lait");
	FOUND("Ærø", "ærø");
	FOUND("Łódź", "ŁÓDŹ");
	/* accented letters are word characters */
	NOT_FOUND("caf", "café");
	NOT_FOUND("AI", "AIé");
	NOT_FOUND("AI", "éAI");
}

static void test_cjk_and_whitespace(void **state)
{
	(void)state;
	FOUND("人工智能", "中国的人工智能发展很快");
	FOUND("AI", "AI技术");
	FOUND("ロボット", "新しいロボットが");
	FOUND("machine learning", "Machine\n   Learning");
	FOUND("machine learning", "machine\xc2\xa0learning");     /* NBSP */
	FOUND("machine learning", "machine\xe2\x80\x89learning"); /* thin space */
	FOUND("  machine   learning ", "about machine learning.");
	NOT_FOUND("machine learning", "machinelearning");
	NOT_FOUND("machine learning", "machine-learning");
	FOUND("Intelligenz", "Intel\xc2\xadligenz"); /* soft hyphen */
	FOUND("AI", "\xe2\x80\x8b"
		    "AI\xe2\x80\x8b"); /* zero-width space */
}

static void test_invalid_utf8(void **state)
{
	(void)state;
	FOUND("AI", "\xff"
		    "AI\xfe");
	FOUND("AI", "\xc3"
		    "AI");         /* truncated sequence before */
	FOUND("AI", "AI\xe2\x82"); /* truncated sequence at the end */
	NOT_FOUND("AI", "\xc3\xa9"
			"AI");
	FOUND("é", "\xed\xa0\x80 é"); /* a surrogate is invalid */
	/* embedded NUL bytes are just bytes; snippets show them as spaces */
	{
		const char t[] = "x\0AI y";
		const char *kws[] = {"AI"};
		struct match_set *set = match_set_new(kws, 1, 0);
		struct match_result r;

		match_find(set, t, sizeof(t) - 1, MATCH_ANY, 1, &r);
		assert_true(r.matched);
		assert_int_equal(r.n_snippets, 1);
		assert_string_equal(r.snippets[0].text, "x AI y");
		match_result_cleanup(&r);
		match_set_free(set);
	}
}

static void test_modes_and_found(void **state)
{
	const char *kws[] = {"artificial intelligence", "AI", "machine learning", ""};
	const char *text = "Machine learning and AI: the artificial-intelligence hype.";
	struct match_set *set = match_set_new(kws, 4, 0);
	struct match_result r;
	const char *names[4];

	(void)state;
	assert_int_equal(match_set_count(set), 4);
	assert_string_equal(match_set_keyword(set, 0), "artificial intelligence");
	match_find(set, text, strlen(text), MATCH_ANY, 5, &r);
	assert_true(r.matched);
	assert_int_equal(r.n_found, 2);
	assert_int_equal(r.found[0], 1);
	assert_int_equal(r.found[1], 2);
	assert_int_equal(match_result_keywords(set, &r, names, 4), 2);
	assert_string_equal(names[0], "AI");
	assert_string_equal(names[1], "machine learning");
	assert_int_equal(r.hits, 2);
	match_result_cleanup(&r);
	match_find(set, text, strlen(text), MATCH_ALL, 5, &r);
	assert_false(r.matched);
	match_result_cleanup(&r);
	match_set_free(set);

	/* all of two that occur */
	{
		const char *two[] = {"ai", "learning"};

		set = match_set_new(two, 2, 0);
		match_find(set, text, strlen(text), MATCH_ALL, 0, &r);
		assert_true(r.matched);
		assert_int_equal(r.n_snippets, 0);
		match_result_cleanup(&r);
		match_set_free(set);
	}
	/* an empty set always matches (any change counts) */
	set = match_set_new(NULL, 0, 0);
	match_find(set, text, strlen(text), MATCH_ALL, 5, &r);
	assert_true(r.matched);
	match_result_cleanup(&r);
	match_set_free(set);
}

static void test_substring_flag(void **state)
{
	const char *kws[] = {"updated at"};
	struct match_set *set = match_set_new(kws, 1, MATCH_SUBSTRING);
	struct match_result r;
	const char *t = "LastUpdated At: 10:32";

	(void)state;
	match_find(set, t, strlen(t), MATCH_ANY, 1, &r);
	assert_true(r.matched);
	assert_int_equal(r.snippets[0].start, 4);
	assert_int_equal(r.snippets[0].end, 14);
	match_result_cleanup(&r);
	match_set_free(set);
}

static void test_offsets_map_to_source(void **state)
{
	const char *kws[] = {"straße", "ai"};
	/* "STRASSE" is 7 bytes; "Straße" 7 bytes; K (Kelvin) is 3 bytes */
	const char *t = "x  STRAẞE   \xe2\x84\xaa AI";
	struct match_set *set = match_set_new(kws, 2, 0);
	struct match_result r;

	(void)state;
	match_find(set, t, strlen(t), MATCH_ANY, 5, &r);
	assert_int_equal(r.n_found, 2);
	assert_int_equal(r.n_snippets, 1); /* both in one line: one snippet */
	assert_int_equal(r.snippets[0].start, 3);
	assert_int_equal(r.snippets[0].end, 3 + 8);
	assert_string_equal(r.snippets[0].text, "x STRAẞE \xe2\x84\xaa AI");
	match_result_cleanup(&r);
	match_set_free(set);
}

static void test_snippets(void **state)
{
	const char *kws[] = {"AI", "robots"};
	struct match_set *set = match_set_new(kws, 2, 0);
	struct match_result r;
	char *long_line = malloc(4000);
	size_t n = 0;

	(void)state;
	{
		const char *t = "Headline one\nMarkets fell. New AI chips ship today! Other news.\n"
				"Robots are here.\nAnd AI again.";

		match_find(set, t, strlen(t), MATCH_ANY, 10, &r);
		assert_int_equal(r.n_snippets, 3);
		assert_string_equal(r.snippets[0].text, "New AI chips ship today!");
		assert_string_equal(r.snippets[1].text, "Robots are here.");
		assert_string_equal(r.snippets[2].text, "And AI again.");
		match_result_cleanup(&r);
		/* limited: one per keyword first */
		match_find(set, t, strlen(t), MATCH_ANY, 2, &r);
		assert_int_equal(r.n_snippets, 2);
		assert_string_equal(r.snippets[0].text, "New AI chips ship today!");
		assert_string_equal(r.snippets[1].text, "Robots are here.");
		assert_int_equal(r.hits, 3);
		match_result_cleanup(&r);
	}
	/* a long line without full stops is cut around the match, on words */
	for (int i = 0; i < 300; i++)
		n += (size_t)sprintf(long_line + n, "w%03d ", i);
	memcpy(long_line + 700, "éé AI éé", strlen("éé AI éé"));
	match_find(set, long_line, n, MATCH_ANY, 3, &r);
	assert_int_equal(r.n_snippets, 1);
	{
		const char *s = r.snippets[0].text;
		size_t sl = strlen(s);

		assert_true(sl <= MATCH_SNIPPET_MAX + 10);
		assert_true(sl > 100);
		assert_memory_equal(s, "\xe2\x80\xa6", 3);
		assert_memory_equal(s + sl - 3, "\xe2\x80\xa6", 3);
		assert_non_null(strstr(s, "éé AI éé"));
		/* whole words: starts right after "…" with 'w' */
		assert_int_equal(s[3], 'w');
		assert_true(s[sl - 4] != ' ');
	}
	match_result_cleanup(&r);
	free(long_line);
	match_set_free(set);
}

static bool count_three(void *ctx, size_t kw, size_t s, size_t e)
{
	(void)kw, (void)s, (void)e;
	return ++*(size_t *)ctx < 3;
}

static void test_scan_callback(void **state)
{
	const char *kws[] = {"a", "b"};
	struct match_set *set = match_set_new(kws, 2, 0);
	size_t count = 0;

	(void)state;
	match_scan(set, "a b a b a b", 11, count_three, &count);
	assert_int_equal(count, 3);
	match_set_free(set);
}

static void test_helpers(void **state)
{
	char *f;
	uint32_t cp;

	(void)state;
	f = match_fold("Hello  WORLD\t Straße", strlen("Hello  WORLD\t Straße"));
	assert_string_equal(f, "hello world strasse");
	free(f);
	assert_int_equal(match_utf8_cut("aé", 3, 2), 1);
	assert_int_equal(match_utf8_cut("aé", 3, 3), 3);
	assert_int_equal(match_utf8_chars("aé€😀", strlen("aé€😀")), 4);
	assert_int_equal(match_utf8_decode("\xc0\x80", 2, &cp), 1); /* overlong */
	assert_int_equal(cp, 0xFFFD);
	assert_int_equal(match_utf8_decode("\xf4\x90\x80\x80", 4, &cp), 1);
	assert_int_equal(match_fold_cp('A'), 'a');
	assert_int_equal(match_fold_cp(0x3A3), 0x3C3);
	assert_int_equal(match_fold_cp(0x3C2), 0x3C3);
	assert_int_equal(match_fold_cp(0x410), 0x430);
	assert_int_equal(match_fold_cp(0x1E9E), 0xDF);
	assert_int_equal(match_fold_cp(0x212A), 'k');
	assert_true(match_is_word_cp(0x4E2D));
	assert_false(match_is_word_cp(0x3002));
	assert_false(match_is_word_cp(0x2014));
	assert_true(match_is_space_cp(0x3000));
}

static void test_long_text_capped(void **state)
{
	size_t n = MATCH_TEXT_MAX + 100;
	char *t = malloc(n);
	const char *kws[] = {"needle"};
	struct match_set *set = match_set_new(kws, 1, 0);
	struct match_result r;

	(void)state;
	memset(t, ' ', n);
	memcpy(t + 10, "needle", 6);
	memcpy(t + n - 20, "needle", 6);
	match_find(set, t, n, MATCH_ANY, 5, &r);
	assert_int_equal(r.hits, 1);
	match_result_cleanup(&r);
	free(t);
	match_set_free(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ai_boundaries),         cmocka_unit_test(test_case_folding),
		cmocka_unit_test(test_cjk_and_whitespace),    cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_modes_and_found),       cmocka_unit_test(test_substring_flag),
		cmocka_unit_test(test_offsets_map_to_source), cmocka_unit_test(test_snippets),
		cmocka_unit_test(test_scan_callback),         cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_long_text_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
