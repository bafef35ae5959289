/* test_clock.c - fake clocks, ISO-8601 formatting and parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/clock.h"

#define US 1000000LL

/* 2025-06-20T21:03:24Z */
#define T0 1750453404LL

static void test_fake_clock_advances_without_sleeping(void **state)
{
	(void)state;
	struct clock c;
	struct timespec a, b;

	clock_fake_init(&c, T0 * US);
	assert_int_equal(clock_wall_us(&c), T0 * US);
	assert_int_equal(clock_mono_us(&c), 0);

	clock_gettime(CLOCK_MONOTONIC, &a);
	clock_fake_advance(&c, 3LL * 24 * 3600 * US); /* three days */
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(clock_wall_us(&c), (T0 + 3 * 24 * 3600) * US);
	assert_int_equal(clock_mono_us(&c), 3LL * 24 * 3600 * US);
	/* Real time spent: well under a second. */
	assert_true((b.tv_sec - a.tv_sec) < 1);

	clock_fake_advance(&c, 1);
	assert_int_equal(clock_mono_us(&c), 3LL * 24 * 3600 * US + 1);
	/* The fake clock does not move by itself. */
	assert_int_equal(clock_wall_us(&c), clock_wall_us(&c));
	assert_int_equal(clock_mono_us(&c), 3LL * 24 * 3600 * US + 1);
}

static void test_set_wall_does_not_move_monotonic(void **state)
{
	(void)state;
	struct clock c;
	clock_fake_init(&c, T0 * US);
	clock_fake_advance(&c, 5 * US);
	clock_fake_set_wall(&c, (T0 - 3600) * US); /* step back an hour */
	assert_int_equal(clock_wall_us(&c), (T0 - 3600) * US);
	assert_int_equal(clock_mono_us(&c), 5 * US);
	clock_fake_set_wall(&c, (T0 + 86400) * US); /* step forward a day */
	assert_int_equal(clock_mono_us(&c), 5 * US);
	clock_fake_advance(&c, 2 * US);
	assert_int_equal(clock_wall_us(&c), (T0 + 86400 + 2) * US);
	assert_int_equal(clock_mono_us(&c), 7 * US);
}

static void test_system_clock_is_real(void **state)
{
	(void)state;
	struct clock *s = clock_system();
	assert_non_null(s);
	assert_false(s->fake);
	int64_t now = clock_wall_us(s);
	assert_true(now > 1700000000LL * US); /* after 2023 */
	int64_t m1 = clock_mono_us(s), m2 = clock_mono_us(s);
	assert_true(m2 >= m1);
	/* NULL means the real clock too. */
	int64_t w = clock_wall_us(NULL);
	assert_true(w >= now);
	assert_true(w - now < 60 * US);
}

static void check_utc(int64_t us, const char *want)
{
	char out[CLOCK_ISO_MAX];
	clock_format_utc(us, out);
	assert_string_equal(out, want);
}

static void test_format_utc_known_instants(void **state)
{
	(void)state;
	check_utc(0, "1970-01-01T00:00:00.000000Z");
	check_utc(1, "1970-01-01T00:00:00.000001Z");
	check_utc(-1, "1969-12-31T23:59:59.999999Z");
	check_utc(-US, "1969-12-31T23:59:59.000000Z");
	check_utc(-US - 1, "1969-12-31T23:59:58.999999Z");
	check_utc(-500000, "1969-12-31T23:59:59.500000Z");
	check_utc(T0 * US + 283615, "2025-06-20T21:03:24.283615Z");
	check_utc(951782400LL * US, "2000-02-29T00:00:00.000000Z"); /* leap day */
	check_utc(4102444799LL * US + 999999, "2099-12-31T23:59:59.999999Z");
}

static void set_tz(const char *tz)
{
	if (tz)
		setenv("TZ", tz, 1);
	else
		unsetenv("TZ");
	tzset();
}

static void test_format_local(void **state)
{
	(void)state;
	char out[CLOCK_ISO_MAX];
	set_tz("America/New_York");
	/* Summer: EDT, UTC-4. */
	clock_format_local(T0 * US + 283615, out);
	assert_string_equal(out, "2025-06-20T17:03:24.283615");
	/* Winter: EST, UTC-5. */
	clock_format_local(1736942400LL * US, out); /* 2025-01-15T12:00:00Z */
	assert_string_equal(out, "2025-01-15T07:00:00.000000");
	set_tz("UTC");
	clock_format_local(-1, out);
	assert_string_equal(out, "1969-12-31T23:59:59.999999");
	set_tz(NULL);
}

static void check_parse(const char *s, int64_t want)
{
	int64_t got = 12345;
	int rc = clock_parse_iso(s, &got);
	if (rc != 0)
		fail_msg("clock_parse_iso(\"%s\") failed", s);
	if (got != want)
		fail_msg("clock_parse_iso(\"%s\") = %lld, want %lld", s, (long long)got, (long long)want);
}

static void check_reject(const char *s)
{
	int64_t got = 777;
	if (clock_parse_iso(s, &got) != -1)
		fail_msg("clock_parse_iso(\"%s\") accepted (-> %lld), want rejection", s, (long long)got);
	assert_int_equal(got, 777); /* output untouched on failure */
}

static void test_parse_utc_and_offsets(void **state)
{
	(void)state;
	check_parse("1970-01-01T00:00:00Z", 0);
	check_parse("1970-01-01T00:00:00.000000Z", 0);
	check_parse("2025-06-20T21:03:24Z", T0 * US);
	check_parse("2025-06-20t21:03:24z", T0 * US);
	check_parse("2025-06-20 21:03:24Z", T0 * US);
	check_parse("2025-06-20T21:03Z", (T0 - 24) * US);
	check_parse("2025-06-20Z", (T0 - 21 * 3600 - 3 * 60 - 24) * US);
	check_parse("2025-06-20T23:03:24+02:00", T0 * US);
	check_parse("2025-06-20T15:33:24-05:30", T0 * US);
	check_parse("2025-06-20T21:03:24+00:00", T0 * US);
	check_parse("2025-06-20T21:03:24-00:00", T0 * US);
	/* Offsets crossing a date line. */
	check_parse("2025-06-21T06:03:24+09:00", T0 * US);
	check_parse("1969-12-31T19:00:00-05:00", 0);
	check_parse("1969-12-31T23:59:59Z", -US);
	check_parse("1969-12-31T23:59:59.5Z", -500000);
	check_parse("2000-02-29T00:00:00Z", 951782400LL * US);
}

static void test_parse_fraction_digits(void **state)
{
	(void)state;
	const int64_t base = T0 * US;
	check_parse("2025-06-20T21:03:24.2Z", base + 200000);
	check_parse("2025-06-20T21:03:24.28Z", base + 280000);
	check_parse("2025-06-20T21:03:24.283Z", base + 283000);
	check_parse("2025-06-20T21:03:24.2836Z", base + 283600);
	check_parse("2025-06-20T21:03:24.28361Z", base + 283610);
	check_parse("2025-06-20T21:03:24.283615Z", base + 283615);
	/* Beyond microseconds: truncated, not rounded, not overflowing. */
	check_parse("2025-06-20T21:03:24.2836159Z", base + 283615);
	check_parse("2025-06-20T21:03:24.28361599Z", base + 283615);
	check_parse("2025-06-20T21:03:24.283615999Z", base + 283615);
	check_parse("2025-06-20T21:03:24.999999999Z", base + 999999);
	check_parse("2025-06-20T21:03:24,5Z", base + 500000);
	check_parse("2025-06-20T23:03:24.000001+02:00", base + 1);
}

static void test_format_parse_round_trip(void **state)
{
	(void)state;
	const int64_t samples[] = {0,
				   1,
				   -1,
				   -US,
				   -123456789,
				   T0 * US + 283615,
				   951782400LL * US + 999999,
				   4102444799LL * US + 999999,
				   -2208988800LL * US + 42}; /* 1900 */
	for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
		char out[CLOCK_ISO_MAX];
		clock_format_utc(samples[i], out);
		check_parse(out, samples[i]);
	}
	/* A fake clock's instants survive the trip too. */
	struct clock c;
	clock_fake_init(&c, T0 * US);
	for (int i = 0; i < 1000; i++) {
		char out[CLOCK_ISO_MAX];
		clock_fake_advance(&c, 7777777);
		clock_format_utc(clock_wall_us(&c), out);
		check_parse(out, clock_wall_us(&c));
	}
}

static void test_parse_local_new_york(void **state)
{
	(void)state;
	set_tz("America/New_York");
	/* Summer (EDT, -04:00). */
	check_parse("2025-06-20T17:03:24", T0 * US);
	check_parse("2025-06-20T17:03:24.283615", T0 * US + 283615);
	/* Winter (EST, -05:00). */
	check_parse("2025-01-15T07:00:00", 1736942400LL * US);
	/* Date only: local midnight. */
	check_parse("2025-01-15", (1736942400LL - 7 * 3600) * US);
	/* Round trip through the local formatter. */
	char out[CLOCK_ISO_MAX];
	clock_format_local(T0 * US + 42, out);
	check_parse(out, T0 * US + 42);
	set_tz("UTC");
	check_parse("2025-06-20T21:03:24", T0 * US);
	set_tz(NULL);
}

static void test_parse_rejects_garbage(void **state)
{
	(void)state;
	set_tz("UTC");
	check_reject("");
	check_reject("yesterday");
	check_reject("now");
	check_reject("2025");
	check_reject("2025-06");
	check_reject("2025-13-01");
	check_reject("2025-00-10");
	check_reject("2025-06-32");
	check_reject("2025-06-00");
	check_reject("2025-06-20T25:00");
	check_reject("2025-06-20T24:30:00Z");
	check_reject("2025-06-20T12:60:00Z");
	check_reject("2025-06-20T12");
	check_reject("2025-06-20T");
	check_reject("2025-06-20T12:00:00.Z");
	check_reject("2025-06-20T12:00:00Zjunk");
	check_reject("2025-06-20T12:00:00Z ");
	check_reject("2025-06-20T12:00:00 junk");
	check_reject("2025-06-20T12:00:00x");
	check_reject("2025-06-20junk");
	check_reject("2025-06-20T12:00:00+02:00junk");
	check_reject("2025-06-20T12:00:00+02");
	check_reject("2025-06-20T12:00:00+24:00");
	check_reject("2025-06-20T12:00:00+02:60");
	check_reject("2025-06-20T12:00:00+ab:cd");
	check_reject("2025-06-20T12:00:00+");
	set_tz(NULL);
}

static void test_parse_rejects_impossible_dates(void **state)
{
	(void)state;
	/* Days that do not exist in their month must not be silently rolled
	 * over into the next month. */
	check_reject("2025-02-30T00:00:00Z");
	check_reject("2025-02-29T00:00:00Z"); /* 2025 is not a leap year */
	check_reject("2025-04-31T00:00:00Z");
	check_parse("2024-02-29T00:00:00Z", 1709164800LL * US);
}

static void test_parse_rejects_signed_offset_parts(void **state)
{
	(void)state;
	/* The offset must be two digits, colon, two digits. */
	check_reject("2025-06-20T12:00:00+-1:00");
	check_reject("2025-06-20T12:00:00+02:-5");
	check_reject("2025-06-20T12:00:00+ 2:00");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fake_clock_advances_without_sleeping),
		cmocka_unit_test(test_set_wall_does_not_move_monotonic),
		cmocka_unit_test(test_system_clock_is_real),
		cmocka_unit_test(test_format_utc_known_instants),
		cmocka_unit_test(test_format_local),
		cmocka_unit_test(test_parse_utc_and_offsets),
		cmocka_unit_test(test_parse_fraction_digits),
		cmocka_unit_test(test_format_parse_round_trip),
		cmocka_unit_test(test_parse_local_new_york),
		cmocka_unit_test(test_parse_rejects_garbage),
		cmocka_unit_test(test_parse_rejects_impossible_dates),
		cmocka_unit_test(test_parse_rejects_signed_offset_parts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
