/* test_uuid.c - UUID v4 / v7 generation and validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/uuid.h"

#define N_FAST 100000

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* uppercase or junk: generators must emit lowercase */
}

/* Canonical lowercase 8-4-4-4-12 with the given version and RFC variant. */
static void check_shape(const char *u, int version)
{
	assert_int_equal(strlen(u), UUID_STR_LEN);
	for (int i = 0; i < UUID_STR_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			assert_int_equal(u[i], '-');
		} else if (hexval(u[i]) < 0) {
			fail_msg("bad character '%c' at %d in %s", u[i], i, u);
		}
	}
	assert_int_equal(hexval(u[14]), version);
	int variant = hexval(u[19]);
	assert_true(variant >= 8 && variant <= 11); /* 10xx */
	assert_true(uuid_valid(u));
}

/* The 48-bit millisecond timestamp of a v7 UUID. */
static uint64_t v7_ms(const char *u)
{
	uint64_t ms = 0;
	for (int i = 0; i < 13; i++)
		if (i != 8)
			ms = ms << 4 | (uint64_t)hexval(u[i]);
	return ms;
}

static void test_v4_format(void **state)
{
	(void)state;
	char u[UUID_STR_LEN + 1], prev[UUID_STR_LEN + 1] = "";
	for (int i = 0; i < 1000; i++) {
		memset(u, 'X', sizeof u);
		uuid_v4(u);
		check_shape(u, 4);
		assert_string_not_equal(u, prev);
		memcpy(prev, u, sizeof u);
	}
}

static void test_v4_bits_vary(void **state)
{
	(void)state;
	/* Every random nibble position takes more than one value over many ids:
	 * catches a generator that leaves bytes zero or fixed. */
	unsigned seen[UUID_STR_LEN] = {0};
	char u[UUID_STR_LEN + 1];
	for (int i = 0; i < 2000; i++) {
		uuid_v4(u);
		for (int j = 0; j < UUID_STR_LEN; j++)
			if (hexval(u[j]) >= 0)
				seen[j] |= 1u << hexval(u[j]);
	}
	for (int j = 0; j < UUID_STR_LEN; j++) {
		if (j == 8 || j == 13 || j == 18 || j == 23)
			continue;
		if (j == 14) {
			assert_int_equal(seen[j], 1u << 4);
		} else if (j == 19) {
			assert_int_equal(seen[j], 0xf00u); /* 8, 9, a, b */
		} else {
			assert_int_equal(seen[j], 0xffffu);
		}
	}
}

static void test_v7_format_and_time(void **state)
{
	(void)state;
	struct clock c;
	char u[UUID_STR_LEN + 1];
	/* Far in the future so earlier tests' ids cannot hold it back. */
	const int64_t wall = 4000000000123LL * 1000; /* ms 4000000000123 */
	clock_fake_init(&c, wall);
	uuid_v7(&c, u);
	check_shape(u, 7);
	assert_int_equal(v7_ms(u), 4000000000123ULL);
}

static void test_v7_real_clock_prefix_is_now(void **state)
{
	(void)state;
	/* Runs first: the generator has seen no future fake times yet. */
	char u[UUID_STR_LEN + 1];
	uint64_t before = (uint64_t)(clock_wall_us(clock_system()) / 1000);
	uuid_v7(clock_system(), u);
	uint64_t after = (uint64_t)(clock_wall_us(clock_system()) / 1000);
	check_shape(u, 7);
	assert_in_range(v7_ms(u), before, after + 1);
}

static void check_increasing(struct clock *clk, int n)
{
	char(*ids)[UUID_STR_LEN + 1] = malloc((size_t)n * sizeof *ids);
	assert_non_null(ids);
	for (int i = 0; i < n; i++)
		uuid_v7(clk, ids[i]);
	for (int i = 0; i < n; i++) {
		check_shape(ids[i], 7);
		if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0)
			fail_msg("v7 id %d not greater than its predecessor: %s then %s", i, ids[i - 1],
				 ids[i]);
	}
	free(ids);
}

static void test_v7_increasing_real_clock(void **state)
{
	(void)state;
	check_increasing(clock_system(), N_FAST);
}

static void test_v7_increasing_stuck_clock(void **state)
{
	(void)state;
	struct clock c;
	char first[UUID_STR_LEN + 1];
	clock_fake_init(&c, 5000000000000LL * 1000); /* beyond anything before */
	uuid_v7(&c, first);
	assert_int_equal(v7_ms(first), 5000000000000ULL);
	check_increasing(&c, N_FAST);
	/* Same millisecond again after the burst: still after everything. */
	char later[UUID_STR_LEN + 1];
	uuid_v7(&c, later);
	assert_true(strcmp(later, first) > 0);
	/* Borrowed milliseconds stay close: at least 4096-1-0x1ff ids fit in
	 * one millisecond, so 100k ids borrow at most ~30. */
	assert_true(v7_ms(later) - 5000000000000ULL <= 40);
}

static void test_v7_increasing_clock_going_backwards(void **state)
{
	(void)state;
	struct clock c;
	char prev[UUID_STR_LEN + 1], u[UUID_STR_LEN + 1];
	const int64_t start = 6000000000000LL * 1000;
	clock_fake_init(&c, start);
	uuid_v7(&c, prev);
	for (int i = 1; i < N_FAST; i++) {
		/* Saw-tooth: mostly backwards, with steps of 1 ms to 1 s. */
		if (i % 3 == 0)
			clock_fake_set_wall(&c, start - (int64_t)(i % 1000) * 1000 * 1000);
		else
			clock_fake_advance(&c, -(int64_t)(i % 7) * 1000);
		uuid_v7(&c, u);
		check_shape(u, 7);
		if (strcmp(prev, u) >= 0)
			fail_msg("v7 id %d not greater after clock step back: %s then %s", i, prev, u);
		memcpy(prev, u, sizeof u);
	}
	/* A clock step forward is followed. */
	clock_fake_set_wall(&c, start + 3600LL * 1000 * 1000);
	uuid_v7(&c, u);
	assert_true(strcmp(prev, u) < 0);
	assert_int_equal(v7_ms(u), 6000000000000ULL + 3600 * 1000);
}

static void test_valid(void **state)
{
	(void)state;
	assert_true(uuid_valid("123e4567-e89b-12d3-a456-426614174000"));
	assert_true(uuid_valid("123E4567-E89B-12D3-A456-426614174000"));
	assert_true(uuid_valid("00000000-0000-0000-0000-000000000000"));
	assert_true(uuid_valid("ffffffff-ffff-ffff-ffff-ffffffffffff"));
	assert_true(uuid_valid("0197f1c2-3b4a-7c5d-8e6f-0123456789ab"));

	assert_false(uuid_valid(NULL));
	assert_false(uuid_valid(""));
	assert_false(uuid_valid("123e4567-e89b-12d3-a456-42661417400"));    /* short */
	assert_false(uuid_valid("123e4567-e89b-12d3-a456-4266141740000"));  /* long */
	assert_false(uuid_valid("123e4567e89b12d3a456426614174000"));       /* no dashes */
	assert_false(uuid_valid("123e4567-e89b-12d3-a456_426614174000"));   /* wrong sep */
	assert_false(uuid_valid("123e456-7e89b-12d3-a456-426614174000"));   /* dash moved */
	assert_false(uuid_valid("g23e4567-e89b-12d3-a456-426614174000"));   /* non-hex */
	assert_false(uuid_valid("123e4567-e89b-12d3-a456-42661417400z"));
	assert_false(uuid_valid("{23e4567-e89b-12d3-a456-426614174000"));
	assert_false(uuid_valid(" 123e4567-e89b-12d3-a456-42661417400"));
	assert_false(uuid_valid("123e4567-e89b-12d3-a456-426614174000\n"));
	assert_false(uuid_valid("------------------------------------"));
}

static void test_random_bytes(void **state)
{
	(void)state;
	unsigned char a[64], b[64], zero[64] = {0};
	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	random_bytes(a, sizeof a);
	random_bytes(b, sizeof b);
	assert_memory_not_equal(a, b, sizeof a);
	assert_memory_not_equal(a, zero, sizeof a);
	random_bytes(a, 0); /* no-op */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v7_real_clock_prefix_is_now),
		cmocka_unit_test(test_v4_format),
		cmocka_unit_test(test_v4_bits_vary),
		cmocka_unit_test(test_v7_increasing_real_clock),
		cmocka_unit_test(test_v7_format_and_time),
		cmocka_unit_test(test_v7_increasing_stuck_clock),
		cmocka_unit_test(test_v7_increasing_clock_going_backwards),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_random_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
