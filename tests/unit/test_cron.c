/* test_cron.c - the cron dialect: what parses, what is refused, what matches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "domain/cron.h"

#define ALL_MINUTES ((UINT64_C(1) << 60) - 1)

/* Bits lo..hi, every step. */
static uint64_t bits(int lo, int hi, int step)
{
	uint64_t b = 0;

	for (int v = lo; v <= hi; v += step)
		b |= UINT64_C(1) << v;
	return b;
}

static struct cron_expr parse_ok(const char *expr)
{
	struct cron_expr c;
	struct err e;

	err_clear(&e);
	if (cron_parse(expr, &c, &e) != ERR_OK)
		fail_msg("\"%s\" was refused: %s", expr, e.msg);
	return c;
}

static void test_star_fields(void **state)
{
	struct cron_expr c = parse_ok("* * * * *");

	(void)state;
	assert_true(c.minute == ALL_MINUTES);
	assert_true(c.hour == bits(0, 23, 1));
	assert_true(c.dom == bits(1, 31, 1));
	assert_true(c.month == bits(1, 12, 1));
	assert_true(c.dow == bits(0, 6, 1));
	assert_false(c.dom_restricted);
	assert_false(c.dow_restricted);
}

static void test_accept_table(void **state)
{
	struct cron_expr c;

	(void)state;
	c = parse_ok("*/15 * * * *");
	assert_true(c.minute == ((UINT64_C(1) << 0) | (UINT64_C(1) << 15) | (UINT64_C(1) << 30) |
				 (UINT64_C(1) << 45)));
	c = parse_ok("1-30/5 * * * *");
	assert_true(c.minute == bits(1, 30, 5));
	c = parse_ok("5/20 * * * *");
	assert_true(c.minute == bits(5, 59, 20));
	c = parse_ok("0,30 * * * *");
	assert_true(c.minute == ((UINT64_C(1) << 0) | (UINT64_C(1) << 30)));
	c = parse_ok("0 9-17 * * *");
	assert_true(c.hour == bits(9, 17, 1));
	c = parse_ok("0 */6 * * *");
	assert_true(c.hour == bits(0, 23, 6));
	c = parse_ok("0 0 1,15 * *");
	assert_true(c.dom == ((1u << 1) | (1u << 15)));
	assert_true(c.dom_restricted);
	assert_false(c.dow_restricted);
	c = parse_ok("0 0 * jan,Jul *");
	assert_true(c.month == ((1u << 1) | (1u << 7)));
	c = parse_ok("0 0 * FEB-apr *");
	assert_true(c.month == bits(2, 4, 1));
	c = parse_ok("0 9 * * MON-FRI");
	assert_true(c.dow == bits(1, 5, 1));
	assert_true(c.dow_restricted);
	assert_false(c.dom_restricted);
	c = parse_ok("0 0 * * 7");
	assert_true(c.dow == 1); /* 7 is Sunday */
	c = parse_ok("0 0 * * 5-7");
	assert_true(c.dow == ((1u << 5) | (1u << 6) | 1u));
	c = parse_ok("0 0 * * sun,Sat");
	assert_true(c.dow == ((1u << 0) | (1u << 6)));
	c = parse_ok("0 0 * * 0-7");
	assert_true(c.dow == bits(0, 6, 1));
	c = parse_ok("0 0 * * */2");
	assert_true(c.dow == ((1u << 0) | (1u << 2) | (1u << 4) | (1u << 6)));
	assert_false(c.dow_restricted);    /* starts with '*': Vixie's rule */
	c = parse_ok("  0\t0   29 2 *  "); /* 29 February exists in leap years */
	assert_true(c.dom == (1u << 29) && c.month == (1u << 2));
	c = parse_ok("0 0 31 * *");
	assert_true(c.dom == (1u << 31));
	c = parse_ok("07 007 * * *"); /* leading zeros are fine */
	assert_true(c.minute == (UINT64_C(1) << 7) && c.hour == (1u << 7));
	c = parse_ok("*/60 * * * *");
	assert_true(c.minute == 1);
	c = parse_ok("59 23 31 12 6");
	assert_true(c.minute == (UINT64_C(1) << 59) && c.hour == (1u << 23));
}

static void test_macros(void **state)
{
	static const struct {
		const char *macro, *same_as;
	} cases[] = {
		{"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
		{"@weekly", "0 0 * * 0"},   {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
		{"@annually", "0 0 1 1 *"}, {"@DAILY", "0 0 * * *"},   {" @hourly ", "0 * * * *"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cron_expr a = parse_ok(cases[i].macro), b = parse_ok(cases[i].same_as);

		if (memcmp(&a, &b, sizeof a) != 0)
			fail_msg("%s differs from %s", cases[i].macro, cases[i].same_as);
	}
}

static const struct {
	const char *expr;
	const char *want; /* substring of the message */
} reject_cases[] = {
	{"", "cron expression is empty"},
	{"   ", "cron expression is empty"},
	{"* * * *", "has 4 fields; it needs exactly 5"},
	{"0 * * * * *", "has 6 fields"},
	{"0 0 1 1 * 2025", "has 6 fields"},
	{"60 * * * *", "cron field 1 (minute) value 60 is out of range 0-59"},
	{"0 24 * * *", "cron field 2 (hour) value 24 is out of range 0-23"},
	{"0 0 0 * *", "cron field 3 (day-of-month) value 0 is out of range 1-31"},
	{"0 0 32 * *", "cron field 3 (day-of-month) value 32 is out of range 1-31"},
	{"0 0 * 0 *", "cron field 4 (month) value 0 is out of range 1-12"},
	{"0 0 * 13 *", "cron field 4 (month) value 13 is out of range 1-12"},
	{"0 0 * * 8", "cron field 5 (day-of-week) value 8 is out of range 0-7"},
	{"0 99999999999 * * *", "cron field 2 (hour) value 99999999999 is out of range 0-23"},
	{"0 024 * * *", "cron field 2 (hour) value 024 is out of range 0-23"},
	{"0 0 * FOO *", "cron field 4 (month) name \"FOO\" is not one of JAN..DEC"},
	{"0 0 * * MONDAY", "cron field 5 (day-of-week) name \"MONDAY\" is not one of SUN..SAT"},
	{"0 0 * JANUARY *", "is not one of JAN..DEC"},
	{"abc * * * *", "cron field 1 (minute) value \"abc\" is not a number; allowed: 0-59"},
	{"0 0 L * *", "cron field 3 (day-of-month) value \"L\" is not a number"},
	{"*/0 * * * *", "cron field 1 (minute) step 0 in \"*/0\" must be from 1 to 60"},
	{"*/61 * * * *", "step 61 in \"*/61\" must be from 1 to 60"},
	{"0 0 * * */8", "cron field 5 (day-of-week) step 8"},
	{"*/ * * * *", "cron field 1 (minute) step in \"*/\" must be a number"},
	{"30-10 * * * *", "cron field 1 (minute) range \"30-10\" is backwards"},
	{"0 0 * * FRI-MON", "cron field 5 (day-of-week) range \"FRI-MON\" is backwards"},
	{"1,,2 * * * *", "cron field 1 (minute) has an empty item"},
	{"1, * * * *", "has an empty item"},
	{"1-2-3 * * * *", "cron field 1 (minute) item \"1-2-3\" is not valid"},
	{"0 0 * * 1#2", "cron field 5 (day-of-week) item \"1#2\" is not valid"},
	{"? * * * *", "item \"?\" is not valid"},
	{"0 0 * * MON-", "item \"MON-\" is not valid"},
	{"-5 * * * *", "item \"-5\" is not valid"},
	{"0 0 15W * *", "item \"15W\" is not valid"},
	{"@reboot", "cron macro \"@reboot\" is not supported; use one of @hourly"},
	{"@every 5m", "is not supported"},
	{"0 0 30 2 *", "never fires"},
	{"0 0 31 4,6,9,11 *", "never fires"},
	{"CRON_TZ=UTC 0 0 * * *", "\"timezone\" field"},
	{"TZ=Europe/Berlin 0 0 * * *", "time zone prefix"},
};

static void test_reject_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof reject_cases / sizeof reject_cases[0]; i++) {
		struct cron_expr c;
		struct err e;

		memset(&c, 0xab, sizeof c);
		err_clear(&e);
		if (cron_parse(reject_cases[i].expr, &c, &e) != ERR_INVALID)
			fail_msg("\"%s\" was accepted", reject_cases[i].expr);
		if (!strstr(e.msg, reject_cases[i].want))
			fail_msg("\"%s\": message \"%s\" lacks \"%s\"", reject_cases[i].expr, e.msg,
				 reject_cases[i].want);
		/* *out is left alone on failure */
		for (size_t b = 0; b < sizeof c; b++)
			if (((unsigned char *)&c)[b] != 0xab)
				fail_msg("\"%s\": output written on failure", reject_cases[i].expr);
	}
}

static void test_null_and_long(void **state)
{
	char longexpr[CRON_EXPR_MAX + 20];
	struct cron_expr c;
	struct err e;

	(void)state;
	assert_int_equal(cron_parse(NULL, &c, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "empty"));
	memset(longexpr, '1', sizeof longexpr - 1);
	longexpr[sizeof longexpr - 1] = '\0';
	assert_int_equal(cron_parse(longexpr, &c, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "at most 256"));
	assert_int_equal(cron_parse("0 0 1 1 *", &c, NULL), ERR_OK); /* e may be NULL */
	assert_int_equal(cron_parse("61 0 1 1 *", &c, NULL), ERR_INVALID);
}

/* A UTC calendar time with its weekday filled in. */
static struct tm at(int y, int mo, int d, int h, int mi)
{
	struct tm t = {0};
	time_t s;

	t.tm_year = y - 1900;
	t.tm_mon = mo - 1;
	t.tm_mday = d;
	t.tm_hour = h;
	t.tm_min = mi;
	s = timegm(&t);
	gmtime_r(&s, &t);
	return t;
}

static void test_matches_basic(void **state)
{
	struct cron_expr c = parse_ok("*/15 9-17 * * MON-FRI");
	struct tm t;

	(void)state;
	t = at(2024, 1, 3, 9, 30); /* a Wednesday */
	assert_true(cron_matches(&c, &t));
	t = at(2024, 1, 3, 9, 31);
	assert_false(cron_matches(&c, &t));
	t = at(2024, 1, 3, 18, 0);
	assert_false(cron_matches(&c, &t));
	t = at(2024, 1, 6, 9, 30); /* Saturday */
	assert_false(cron_matches(&c, &t));
	t.tm_sec = 42; /* seconds are ignored */
	t = at(2024, 1, 5, 17, 45);
	t.tm_sec = 42;
	assert_true(cron_matches(&c, &t));

	c = parse_ok("0 0 * * 7");
	t = at(2024, 1, 7, 0, 0); /* Sunday */
	assert_true(cron_matches(&c, &t));
	c = parse_ok("0 12 * jun *");
	t = at(2024, 6, 10, 12, 0);
	assert_true(cron_matches(&c, &t));
	t = at(2024, 7, 10, 12, 0);
	assert_false(cron_matches(&c, &t));

	/* nonsense tm fields never match */
	c = parse_ok("* * * * *");
	t = at(2024, 1, 1, 0, 0);
	t.tm_min = 60;
	assert_false(cron_matches(&c, &t));
	t.tm_min = 0;
	t.tm_hour = -1;
	assert_false(cron_matches(&c, &t));
}

static void test_vixie_day_rule(void **state)
{
	struct cron_expr c = parse_ok("0 0 1,15 * MON");
	struct tm t;

	(void)state;
	/* both restricted: the 1st, the 15th, or any Monday */
	t = at(2024, 1, 1, 0, 0); /* Monday the 1st */
	assert_true(cron_matches(&c, &t));
	t = at(2024, 1, 8, 0, 0); /* a Monday */
	assert_true(cron_matches(&c, &t));
	t = at(2024, 2, 15, 0, 0); /* a Thursday, the 15th */
	assert_true(cron_matches(&c, &t));
	t = at(2024, 2, 14, 0, 0); /* a Wednesday, the 14th */
	assert_false(cron_matches(&c, &t));

	/* day-of-month '*': only the weekday counts */
	c = parse_ok("0 0 * * MON");
	t = at(2024, 1, 8, 0, 0);
	assert_true(cron_matches(&c, &t));
	t = at(2024, 1, 9, 0, 0);
	assert_false(cron_matches(&c, &t));

	/* "*" + step still counts as unrestricted: both must match (Vixie, cronie) */
	c = parse_ok("0 0 */2 * MON");
	assert_false(c.dom_restricted);
	t = at(2024, 1, 1, 0, 0); /* Monday, odd day */
	assert_true(cron_matches(&c, &t));
	t = at(2024, 1, 8, 0, 0); /* Monday, even day */
	assert_false(cron_matches(&c, &t));
	t = at(2024, 1, 3, 0, 0); /* odd day, Wednesday */
	assert_false(cron_matches(&c, &t));

	assert_true(cron_day_matches(&c, 1, 1, 1));
	assert_false(cron_day_matches(&c, 1, 1, 2));
	assert_false(cron_day_matches(&c, 0, 1, 1));
	assert_false(cron_day_matches(&c, 1, 13, 1));
	assert_true(cron_day_matches(&c, 1, 1, 8 - 7)); /* weekday 1 */
}

/* Brute force over a year of minutes against predicates written by hand. */
static void test_year_of_minutes(void **state)
{
	struct cron_expr work = parse_ok("*/15 9-17 * * MON-FRI");
	struct cron_expr either = parse_ok("30 6 13 * FRI");
	struct cron_expr quarterly = parse_ok("0 0 1 1,4,7,10 *");
	time_t s = 1704067200; /* 2024-01-01T00:00:00Z */
	int n_work = 0, n_either = 0, n_quarterly = 0;

	(void)state;
	for (int i = 0; i < 366 * 24 * 60; i++, s += 60) {
		struct tm t;
		bool want;

		gmtime_r(&s, &t);
		want = t.tm_min % 15 == 0 && t.tm_hour >= 9 && t.tm_hour <= 17 && t.tm_wday >= 1 &&
		       t.tm_wday <= 5;
		assert_int_equal(cron_matches(&work, &t), want);
		n_work += want;
		want = t.tm_min == 30 && t.tm_hour == 6 && (t.tm_mday == 13 || t.tm_wday == 5);
		assert_int_equal(cron_matches(&either, &t), want);
		n_either += want;
		want = t.tm_min == 0 && t.tm_hour == 0 && t.tm_mday == 1 && t.tm_mon % 3 == 0;
		assert_int_equal(cron_matches(&quarterly, &t), want);
		n_quarterly += want;
	}
	assert_int_equal(n_work, 262 * 36); /* 2024 has 262 weekdays */
	assert_int_equal(n_quarterly, 4);
	assert_int_equal(n_either, 52 + 12 - 2); /* Fridays + 13ths - Fridays the 13th */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_star_fields),    cmocka_unit_test(test_accept_table),
		cmocka_unit_test(test_macros),         cmocka_unit_test(test_reject_table),
		cmocka_unit_test(test_null_and_long),  cmocka_unit_test(test_matches_basic),
		cmocka_unit_test(test_vixie_day_rule), cmocka_unit_test(test_year_of_minutes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
