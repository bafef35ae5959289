/* test_diff.c - line diff (exact and fallback), joins, SHA-256. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain/diff.h"

static bool line_is(const struct diff_line *l, const char *s)
{
	return l->len == strlen(s) && memcmp(l->text, s, l->len) == 0;
}

static void test_simple(void **state)
{
	const char *a = "title\nline one\nline two\nline three\nfooter\n";
	const char *b = "title\nline one\nline 2\nline three\nnew line\nfooter";
	struct diff_result r;

	(void)state;
	diff_lines(a, strlen(a), b, strlen(b), NULL, &r);
	assert_false(r.approximate);
	assert_false(r.truncated);
	assert_int_equal(r.n_added, 2);
	assert_true(line_is(&r.added[0], "line 2"));
	assert_int_equal(r.added[0].line, 2);
	assert_true(line_is(&r.added[1], "new line"));
	assert_int_equal(r.n_removed, 1);
	assert_true(line_is(&r.removed[0], "line two"));
	assert_int_equal(r.removed[0].line, 2);
	diff_result_cleanup(&r);
}

static void test_edges(void **state)
{
	struct diff_result r;

	(void)state;
	diff_lines(NULL, 0, NULL, 0, NULL, &r);
	assert_int_equal(r.n_added + r.n_removed, 0);
	diff_result_cleanup(&r);
	diff_lines("", 0, "a\nb", 3, NULL, &r);
	assert_int_equal(r.n_added, 2);
	assert_int_equal(r.n_removed, 0);
	diff_result_cleanup(&r);
	diff_lines("a\nb", 3, NULL, 0, NULL, &r);
	assert_int_equal(r.n_removed, 2);
	diff_result_cleanup(&r);
	/* same text; CRLF and blank lines do not count */
	diff_lines("a\r\nb\r\n\r\n", 8, "a\n\n  \nb", 7, NULL, &r);
	assert_int_equal(r.n_added + r.n_removed, 0);
	diff_result_cleanup(&r);
	/* moved line: one removal and one addition */
	diff_lines("a\nb\nc", 5, "b\nc\na", 5, NULL, &r);
	assert_int_equal(r.n_added, 1);
	assert_int_equal(r.n_removed, 1);
	assert_true(line_is(&r.added[0], "a"));
	assert_true(line_is(&r.removed[0], "a"));
	diff_result_cleanup(&r);
	/* duplicates */
	diff_lines("x\nx\nx", 5, "x\nx\nx\nx", 7, NULL, &r);
	assert_int_equal(r.n_added, 1);
	assert_int_equal(r.n_removed, 0);
	diff_result_cleanup(&r);
	/* embedded NUL bytes in lines are compared as bytes */
	diff_lines("a\0b\nc", 5, "a\0c\nc", 5, NULL, &r);
	assert_int_equal(r.n_added, 1);
	assert_int_equal(r.added[0].len, 3);
	diff_result_cleanup(&r);
}

/* Random texts over a small alphabet of lines; check the script is valid
 * (old minus removed == new minus added) and minimal (LCS by DP). */
static size_t lcs(const int *a, size_t n, const int *b, size_t m)
{
	size_t *row = calloc(m + 1, sizeof(size_t)), *prev = calloc(m + 1, sizeof(size_t)), r;

	for (size_t i = 1; i <= n; i++) {
		for (size_t j = 1; j <= m; j++)
			row[j] = a[i - 1] == b[j - 1]
					 ? prev[j - 1] + 1
					 : (prev[j] > row[j - 1] ? prev[j] : row[j - 1]);
		memcpy(prev, row, (m + 1) * sizeof(size_t));
	}
	r = prev[m];
	free(row);
	free(prev);
	return r;
}

static size_t make_text(const int *v, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++)
		o += (size_t)sprintf(out + o, "line %d\n", v[i]);
	return o;
}

/* Remaining line numbers of a side after dropping the listed lines. */
static size_t keep(const int *v, size_t n, const struct diff_line *drop, size_t nd, int *out)
{
	size_t k = 0, j = 0;

	for (size_t i = 0; i < n; i++) {
		if (j < nd && drop[j].line == i) {
			j++;
			continue;
		}
		out[k++] = v[i];
	}
	return k;
}

static void test_random_minimal(void **state)
{
	unsigned seed = 12345;

	(void)state;
	for (int iter = 0; iter < 400; iter++) {
		int a[60], b[60], ka[60], kb[60];
		size_t n, m, nk, mk;
		char ta[1200], tb[1200];
		struct diff_result r;

		seed = seed * 1103515245 + 12345;
		n = (seed >> 16) % 60;
		seed = seed * 1103515245 + 12345;
		m = (seed >> 16) % 60;
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			a[i] = (int)((seed >> 16) % 6);
		}
		for (size_t i = 0; i < m; i++) {
			seed = seed * 1103515245 + 12345;
			b[i] = (int)((seed >> 16) % 6);
		}
		diff_lines(ta, make_text(a, n, ta), tb, make_text(b, m, tb), NULL, &r);
		assert_false(r.approximate);
		nk = keep(a, n, r.removed, r.n_removed, ka);
		mk = keep(b, m, r.added, r.n_added, kb);
		assert_int_equal(nk, mk);
		assert_memory_equal(ka, kb, nk * sizeof(int));
		assert_int_equal(nk, lcs(a, n, b, m));
		diff_result_cleanup(&r);
	}
}

/* 10,000 lines, a few changes: exact.  Everything changed: fallback. */
static void test_large_and_fallback(void **state)
{
	size_t n = 10000, cap = n * 32;
	char *a = malloc(cap), *b = malloc(cap);
	size_t la = 0, lb = 0;
	struct diff_result r;
	struct diff_opts o = {.max_out = 5};

	(void)state;
	for (size_t i = 0; i < n; i++) {
		la += (size_t)sprintf(a + la, "row %zu of the page\n", i);
		if (i % 1000 == 500)
			lb += (size_t)sprintf(b + lb, "row %zu changed\n", i);
		else
			lb += (size_t)sprintf(b + lb, "row %zu of the page\n", i);
	}
	diff_lines(a, la, b, lb, NULL, &r);
	assert_false(r.approximate);
	assert_int_equal(r.n_added, 10);
	assert_int_equal(r.n_removed, 10);
	assert_true(line_is(&r.added[0], "row 500 changed"));
	diff_result_cleanup(&r);

	/* every line differs: D = 20000 > max_edits, multiset fallback */
	lb = 0;
	for (size_t i = 0; i < n; i++)
		lb += (size_t)sprintf(b + lb, "other %zu\n", i);
	diff_lines(a, la, b, lb, &o, &r);
	assert_true(r.approximate);
	assert_true(r.truncated);
	assert_int_equal(r.total_added, n);
	assert_int_equal(r.total_removed, n);
	assert_int_equal(r.n_added, 5);
	assert_true(line_is(&r.added[0], "other 0"));
	diff_result_cleanup(&r);

	/* a cost cap forces the fallback even for small D */
	o.max_cost = 10;
	diff_lines("a\nb\nc\nd", 7, "a\nx\nc\ny", 7, &o, &r);
	assert_true(r.approximate);
	assert_int_equal(r.total_added, 2);
	assert_true(line_is(&r.added[0], "x"));
	assert_true(line_is(&r.added[1], "y"));
	diff_result_cleanup(&r);

	/* line cap */
	o = (struct diff_opts){.max_lines = 3};
	diff_lines("a\nb\nc\nd\ne", 9, "a\nb\nc\nd\nf", 9, &o, &r);
	assert_true(r.truncated);
	assert_int_equal(r.total_added + r.total_removed, 0);
	diff_result_cleanup(&r);
	free(a);
	free(b);
}

static void test_join(void **state)
{
	const char *t = "alpha\nbeta\ngamma";
	struct diff_result r;
	char *s;

	(void)state;
	diff_lines("", 0, t, strlen(t), NULL, &r);
	s = diff_join(r.added, r.n_added, 1000);
	assert_string_equal(s, "alpha\nbeta\ngamma");
	free(s);
	s = diff_join(r.added, r.n_added, 10);
	assert_string_equal(s, "alpha\nbeta");
	free(s);
	s = diff_join(r.added, r.n_added, 3);
	assert_string_equal(s, "alp");
	free(s);
	diff_result_cleanup(&r);
	diff_lines("", 0, "\xc3\xa9\xc3\xa9", 4, NULL, &r);
	s = diff_join(r.added, r.n_added, 3);
	assert_string_equal(s, "\xc3\xa9");
	free(s);
	s = diff_join(NULL, 0, 3);
	assert_string_equal(s, "");
	free(s);
	diff_result_cleanup(&r);
}

static void test_hash(void **state)
{
	char h[DIFF_HASH_HEX_LEN + 1];

	(void)state;
	diff_hash("", 0, h);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	diff_hash("abc", 3, h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),         cmocka_unit_test(test_edges),
		cmocka_unit_test(test_random_minimal), cmocka_unit_test(test_large_and_fallback),
		cmocka_unit_test(test_join),           cmocka_unit_test(test_hash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
