/* test_ratelimit.c - sliding windows per key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>

#include "common/ratelimit.h"

#define HOUR 3600000000LL

static void test_window_slides(void **state)
{
	struct ratelimit *r = ratelimit_new(HOUR);
	int64_t retry = 0;
	(void)state;
	assert_true(ratelimit_take(r, "a", 2, 0, &retry));
	assert_true(ratelimit_take(r, "a", 2, 10, &retry));
	assert_false(ratelimit_take(r, "a", 2, 20, &retry));
	assert_int_equal(retry, HOUR - 20); /* the first call leaves the window then */
	assert_true(ratelimit_take(r, "b", 2, 20, &retry)); /* keys are separate */
	assert_false(ratelimit_take(r, "a", 2, HOUR - 1, NULL));
	assert_true(ratelimit_take(r, "a", 2, HOUR, NULL));
	assert_int_equal(ratelimit_count(r, "a", HOUR), 2);
	assert_true(ratelimit_take(r, "a", 0, HOUR, NULL));  /* 0: unlimited */
	assert_true(ratelimit_take(r, "a", 5, HOUR, NULL));  /* a higher limit grows the ring */
	assert_false(ratelimit_take(r, "a", 1, HOUR, NULL)); /* a lower one counts the newest */
	ratelimit_free(r);
}

static void test_many_keys(void **state)
{
	struct ratelimit *r = ratelimit_new(HOUR);
	char key[32];
	(void)state;
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		assert_true(ratelimit_take(r, key, 1, (int64_t)i * HOUR / 100, NULL));
	}
	assert_int_equal(ratelimit_count(r, "k9999", 9999LL * HOUR / 100), 1);
	ratelimit_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_slides),
		cmocka_unit_test(test_many_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
