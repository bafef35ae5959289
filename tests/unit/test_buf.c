/* test_buf.c - capped growable buffer (and the xalloc string helpers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/xalloc.h"

static void test_empty_is_empty_string(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 100);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_str(&b), "");
	buf_cleanup(&b);
}

static void test_appends_grow_and_stay_terminated(void **state)
{
	(void)state;
	struct buf b;
	char expect[10001];
	buf_init(&b, 1 << 20);
	for (int i = 0; i < 10000; i++) {
		char c = (char)('a' + i % 26);
		assert_int_equal(buf_append(&b, &c, 1), ERR_OK);
		expect[i] = c;
		assert_int_equal(b.len, (size_t)i + 1);
		assert_true(b.cap > b.len);
		assert_int_equal(b.data[b.len], '\0');
	}
	expect[10000] = '\0';
	assert_string_equal(buf_str(&b), expect);
	assert_int_equal(strlen(buf_str(&b)), 10000);
	buf_cleanup(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 1 << 20);
}

static void test_append_binary_with_nul(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 64);
	assert_int_equal(buf_append(&b, "a\0b", 3), ERR_OK);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b", 4);
	assert_int_equal(buf_append(&b, "", 0), ERR_OK);
	assert_int_equal(b.len, 3);
	buf_cleanup(&b);
}

static void test_zero_length_append_gives_string(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 10);
	assert_int_equal(buf_append(&b, "", 0), ERR_OK);
	assert_string_equal(buf_str(&b), "");
	buf_cleanup(&b);
}

static void test_cap_exact_fits(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 10);
	assert_int_equal(buf_puts(&b, "0123456789"), ERR_OK);
	assert_int_equal(b.len, 10);
	assert_string_equal(buf_str(&b), "0123456789");
	/* Even one more byte is refused. */
	assert_int_equal(buf_puts(&b, "x"), ERR_TOO_BIG);
	assert_int_equal(b.len, 10);
	assert_string_equal(buf_str(&b), "0123456789");
	/* An empty append still succeeds at the cap. */
	assert_int_equal(buf_puts(&b, ""), ERR_OK);
	buf_cleanup(&b);
}

static void test_cap_refusal_leaves_content_unchanged(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 8);
	assert_int_equal(buf_puts(&b, "abcde"), ERR_OK);
	assert_int_equal(buf_puts(&b, "fghi"), ERR_TOO_BIG);
	assert_int_equal(b.len, 5);
	assert_string_equal(buf_str(&b), "abcde");
	assert_int_equal(buf_printf(&b, "%d", 1234), ERR_TOO_BIG);
	assert_string_equal(buf_str(&b), "abcde");
	assert_int_equal(buf_printf(&b, "%d", 123), ERR_OK);
	assert_string_equal(buf_str(&b), "abcde123");
	buf_cleanup(&b);
}

static void test_cap_zero(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(buf_puts(&b, "a"), ERR_TOO_BIG);
	assert_string_equal(buf_str(&b), "");
	assert_int_equal(buf_puts(&b, ""), ERR_OK);
	assert_string_equal(buf_str(&b), "");
	buf_cleanup(&b);
}

static void test_huge_append_refused_without_overflow(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 16);
	assert_int_equal(buf_puts(&b, "abc"), ERR_OK);
	/* n larger than anything sane must not wrap the size check. */
	assert_int_equal(buf_append(&b, "x", SIZE_MAX), ERR_TOO_BIG);
	assert_int_equal(buf_append(&b, "x", SIZE_MAX - 1), ERR_TOO_BIG);
	assert_string_equal(buf_str(&b), "abc");
	buf_cleanup(&b);
}

static void test_printf_short_and_long(void **state)
{
	(void)state;
	struct buf b;
	char *big = xmalloc(5001);
	memset(big, 'q', 5000);
	big[5000] = '\0';

	buf_init(&b, 1 << 16);
	assert_int_equal(buf_printf(&b, "%s=%d;", "n", 42), ERR_OK);
	assert_string_equal(buf_str(&b), "n=42;");
	assert_int_equal(buf_printf(&b, "[%s]", big), ERR_OK);
	assert_int_equal(b.len, 5 + 5002);
	assert_memory_equal(b.data, "n=42;[qqq", 9);
	assert_int_equal(b.data[b.len - 1], ']');
	assert_int_equal(b.data[b.len], '\0');
	assert_int_equal(b.data[5 + 1 + 4999], 'q');
	buf_cleanup(&b);

	/* Exactly around the 256-byte internal boundary. */
	for (int n = 250; n < 262; n++) {
		buf_init(&b, 1000);
		assert_int_equal(buf_printf(&b, "%.*s", n, big), ERR_OK);
		assert_int_equal(b.len, (size_t)n);
		assert_int_equal(strlen(buf_str(&b)), (size_t)n);
		buf_cleanup(&b);
	}

	/* A long printf past the cap is refused whole. */
	buf_init(&b, 1000);
	assert_int_equal(buf_puts(&b, "keep"), ERR_OK);
	assert_int_equal(buf_printf(&b, "%s", big), ERR_TOO_BIG);
	assert_string_equal(buf_str(&b), "keep");
	buf_cleanup(&b);
	free(big);
}

static void test_reset_keeps_memory(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 1000);
	assert_int_equal(buf_puts(&b, "hello world"), ERR_OK);
	char *mem = b.data;
	size_t cap = b.cap;
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_ptr_equal(b.data, mem);
	assert_int_equal(b.cap, cap);
	assert_string_equal(buf_str(&b), "");
	assert_int_equal(buf_puts(&b, "hi"), ERR_OK);
	assert_string_equal(buf_str(&b), "hi");
	buf_cleanup(&b);

	/* Reset of a never-used buffer is harmless. */
	buf_init(&b, 10);
	buf_reset(&b);
	assert_string_equal(buf_str(&b), "");
	buf_cleanup(&b);
}

static void test_steal(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 100);
	assert_int_equal(buf_puts(&b, "abc"), ERR_OK);
	char *s = buf_steal(&b);
	assert_string_equal(s, "abc");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 100);
	assert_string_equal(buf_str(&b), "");
	/* The buffer is usable again and independent of the stolen memory. */
	assert_int_equal(buf_puts(&b, "xyz"), ERR_OK);
	assert_string_equal(s, "abc");
	assert_string_equal(buf_str(&b), "xyz");
	free(s);
	buf_cleanup(&b);

	/* Stealing an empty buffer gives a fresh "" the caller can free. */
	buf_init(&b, 100);
	s = buf_steal(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	buf_cleanup(&b);
}

static void test_cleanup_twice(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 100);
	assert_int_equal(buf_puts(&b, "abc"), ERR_OK);
	buf_cleanup(&b);
	buf_cleanup(&b);
	assert_null(b.data);
}

static void test_cap_growth_near_max(void **state)
{
	(void)state;
	/* Growth clamps the allocation to max + 1; appending to exactly max
	 * after several small appends must still work. */
	struct buf b;
	buf_init(&b, 100);
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf_puts(&b, "z"), ERR_OK);
	assert_int_equal(b.len, 100);
	assert_true(b.cap >= 101);
	assert_int_equal(b.data[100], '\0');
	assert_int_equal(buf_puts(&b, "z"), ERR_TOO_BIG);
	buf_cleanup(&b);
}

static void test_unbounded_max(void **state)
{
	(void)state;
	/* SIZE_MAX as "no practical cap" must work like any other cap.  Run in
	 * a child: a wrong allocation size here is a heap overflow, which must
	 * fail this test and not corrupt the rest of the run. */
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct buf b;
		buf_init(&b, SIZE_MAX);
		if (buf_puts(&b, "hello") != ERR_OK)
			_exit(2);
		if (b.cap < 6) /* room for "hello" and its NUL */
			_exit(3);
		if (strcmp(buf_str(&b), "hello") != 0)
			_exit(4);
		buf_cleanup(&b);
		_exit(0);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("buf with max SIZE_MAX: child %s %d (status 3: cap smaller than the content; "
			 "other: crashed or sanitizer report above)",
			 WIFEXITED(status) ? "exited" : "killed by signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

static void test_xalloc_strings(void **state)
{
	(void)state;
	char *s = xasprintf("%s-%05d", "id", 42);
	assert_string_equal(s, "id-00042");
	free(s);
	s = xstrndup("abcdef", 3);
	assert_string_equal(s, "abc");
	free(s);
	s = xstrndup("ab", 10);
	assert_string_equal(s, "ab");
	free(s);
	s = xstrdup("");
	assert_string_equal(s, "");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_is_empty_string),
		cmocka_unit_test(test_appends_grow_and_stay_terminated),
		cmocka_unit_test(test_append_binary_with_nul),
		cmocka_unit_test(test_zero_length_append_gives_string),
		cmocka_unit_test(test_cap_exact_fits),
		cmocka_unit_test(test_cap_refusal_leaves_content_unchanged),
		cmocka_unit_test(test_cap_zero),
		cmocka_unit_test(test_huge_append_refused_without_overflow),
		cmocka_unit_test(test_printf_short_and_long),
		cmocka_unit_test(test_reset_keeps_memory),
		cmocka_unit_test(test_steal),
		cmocka_unit_test(test_cleanup_twice),
		cmocka_unit_test(test_cap_growth_near_max),
		cmocka_unit_test(test_unbounded_max),
		cmocka_unit_test(test_xalloc_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
