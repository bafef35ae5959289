/* test_log.c - levels, log files, and lazy argument evaluation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"

struct fixture {
	char dir[64];
	char path[128];
	int saved_level;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/ambient-test-log-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof f->path, "%s/ambient.log", f->dir);
	f->saved_level = log_level_current;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	log_close();
	log_level_current = f->saved_level;
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Whole file as a string (caller frees); "" when missing. */
static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *s = calloc(1, 1);
	size_t len = 0;
	if (!fp)
		return s;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) {
		s = realloc(s, len + n + 1);
		memcpy(s + len, chunk, n);
		len += n;
		s[len] = '\0';
	}
	fclose(fp);
	return s;
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_parse_level_names(void **state)
{
	(void)state;
	struct {
		const char *name;
		int level;
	} ok[] = {
		{"error", LOG_LEVEL_ERROR}, {"ERROR", LOG_LEVEL_ERROR}, {"warn", LOG_LEVEL_WARN},
		{"Warn", LOG_LEVEL_WARN},   {"warning", LOG_LEVEL_WARN}, {"WARNING", LOG_LEVEL_WARN},
		{"info", LOG_LEVEL_INFO},   {"InFo", LOG_LEVEL_INFO},    {"debug", LOG_LEVEL_DEBUG},
		{"DEBUG", LOG_LEVEL_DEBUG}, {"trace", LOG_LEVEL_TRACE},  {"tRaCe", LOG_LEVEL_TRACE},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct err e;
		int level = -1;
		err_clear(&e);
		assert_int_equal(log_parse_level(ok[i].name, &level, &e), ERR_OK);
		assert_int_equal(level, ok[i].level);
		assert_int_equal(e.code, ERR_OK);
	}
}

static void test_parse_level_rejects(void **state)
{
	(void)state;
	const char *bad[] = {"", "verbose", "err", "inf", "debug ", " info", "5", "fatal", "warnings"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct err e;
		int level = 123;
		err_clear(&e);
		assert_int_equal(log_parse_level(bad[i], &level, &e), ERR_INVALID);
		assert_int_equal(level, 123);
		assert_int_equal(e.code, ERR_INVALID);
		char quoted[64];
		snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
		assert_non_null(strstr(e.msg, quoted));
		const char *choices[] = {"error", "warn", "info", "debug", "trace"};
		for (size_t k = 0; k < 5; k++)
			assert_non_null(strstr(e.msg, choices[k]));
	}
	int level = 0;
	assert_int_equal(log_parse_level("nope", &level, NULL), ERR_INVALID);
}

static void test_level_names(void **state)
{
	(void)state;
	assert_string_equal(log_level_name(LOG_LEVEL_ERROR), "error");
	assert_string_equal(log_level_name(LOG_LEVEL_WARN), "warn");
	assert_string_equal(log_level_name(LOG_LEVEL_INFO), "info");
	assert_string_equal(log_level_name(LOG_LEVEL_DEBUG), "debug");
	assert_string_equal(log_level_name(LOG_LEVEL_TRACE), "trace");
	assert_string_equal(log_level_name(-1), "?");
	assert_string_equal(log_level_name(LOG_LEVEL_TRACE + 1), "?");
	/* Names round-trip through the parser. */
	for (int l = LOG_LEVEL_ERROR; l <= LOG_LEVEL_TRACE; l++) {
		int got = -1;
		assert_int_equal(log_parse_level(log_level_name(l), &got, NULL), ERR_OK);
		assert_int_equal(got, l);
	}
}

static void test_default_level_is_warn(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(f->saved_level, LOG_LEVEL_WARN);
}

static void test_file_gets_level_and_message(void **state)
{
	struct fixture *f = *state;
	struct err e;
	err_clear(&e);
	assert_int_equal(log_open(f->path, "unittest", &e), ERR_OK);
	log_level_current = LOG_LEVEL_INFO;
	log_error("disk %s is %d%% full", "/var", 97);
	log_warn("slow query took %d ms", 1500);
	log_info("started with %d workers", 4);
	log_debug("this debug line must not appear");
	log_trace("nor this trace line");
	log_close();

	char *text = slurp(f->path);
	assert_int_equal(count_lines(text), 3);
	char *l1 = text, *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
	assert_non_null(strstr(l1, "error"));
	assert_non_null(strstr(l1, "disk /var is 97% full"));
	assert_true(strstr(l1, "disk") < l2);
	assert_non_null(strstr(l2, "warn"));
	assert_non_null(strstr(l2, "slow query took 1500 ms"));
	assert_true(strstr(l2, "slow") < l3);
	assert_non_null(strstr(l3, "info"));
	assert_non_null(strstr(l3, "started with 4 workers"));
	assert_null(strstr(text, "debug line"));
	assert_null(strstr(text, "trace line"));

	/* The tag and pid name the process. */
	char tagpid[64];
	snprintf(tagpid, sizeof tagpid, "unittest[%d]", (int)getpid());
	assert_non_null(strstr(l1, tagpid));
	assert_true(strstr(l1, tagpid) < l2);

	/* Each line starts with a UTC timestamp that parses. */
	char ts[CLOCK_ISO_MAX] = "";
	const char *sp = strchr(l1, ' ');
	assert_non_null(sp);
	assert_true((size_t)(sp - l1) < sizeof ts);
	memcpy(ts, l1, (size_t)(sp - l1));
	ts[sp - l1] = '\0';
	int64_t when = 0;
	assert_int_equal(clock_parse_iso(ts, &when), 0);
	int64_t now = clock_wall_us(clock_system());
	assert_true(when <= now && now - when < 60LL * 1000000);
	free(text);
}

static void test_debug_lines_carry_source_location(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(log_open(f->path, "t", NULL), ERR_OK);
	log_level_current = LOG_LEVEL_TRACE;
	int line = __LINE__ + 1;
	log_debug("where am I");
	log_trace("trace %s", "too");
	log_close();
	char *text = slurp(f->path);
	char loc[64];
	snprintf(loc, sizeof loc, "test_log.c:%d)", line);
	assert_non_null(strstr(text, "where am I"));
	assert_non_null(strstr(text, loc));
	assert_non_null(strstr(text, "debug"));
	assert_non_null(strstr(text, "trace too"));
	assert_int_equal(count_lines(text), 2);
	free(text);
}

static int evaluated;

static int bump(void)
{
	return ++evaluated;
}

static void test_suppressed_arguments_not_evaluated(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(log_open(f->path, "t", NULL), ERR_OK);

	evaluated = 0;
	log_level_current = LOG_LEVEL_WARN;
	log_info("info %d", bump());
	log_debug("debug %d", bump());
	log_trace("trace %d %d", bump(), bump());
	assert_int_equal(evaluated, 0);

	log_level_current = LOG_LEVEL_ERROR;
	log_warn("warn %d", bump());
	assert_int_equal(evaluated, 0);

	/* At or below the level they are evaluated exactly once. */
	log_error("error %d", bump());
	assert_int_equal(evaluated, 1);
	log_level_current = LOG_LEVEL_DEBUG;
	log_debug("debug %d", bump());
	assert_int_equal(evaluated, 2);
	log_trace("trace %d", bump());
	assert_int_equal(evaluated, 2);
	log_close();

	char *text = slurp(f->path);
	assert_int_equal(count_lines(text), 2);
	assert_non_null(strstr(text, "error 1"));
	assert_non_null(strstr(text, "debug 2"));
	assert_null(strstr(text, "info "));
	assert_null(strstr(text, "warn "));
	free(text);
}

static void test_level_change_takes_effect(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(log_open(f->path, "t", NULL), ERR_OK);
	log_level_current = LOG_LEVEL_ERROR;
	log_info("first-info");
	log_level_current = LOG_LEVEL_INFO;
	log_info("second-info");
	log_level_current = LOG_LEVEL_ERROR;
	log_info("third-info");
	log_close();
	char *text = slurp(f->path);
	assert_null(strstr(text, "first-info"));
	assert_non_null(strstr(text, "second-info"));
	assert_null(strstr(text, "third-info"));
	free(text);
}

static void test_open_appends(void **state)
{
	struct fixture *f = *state;
	log_level_current = LOG_LEVEL_WARN;
	assert_int_equal(log_open(f->path, "one", NULL), ERR_OK);
	log_warn("from run one");
	log_close();
	assert_int_equal(log_open(f->path, "two", NULL), ERR_OK);
	log_warn("from run two");
	/* Line-buffered: visible before close. */
	char *mid = slurp(f->path);
	assert_non_null(strstr(mid, "from run two"));
	free(mid);
	log_close();
	char *text = slurp(f->path);
	assert_int_equal(count_lines(text), 2);
	assert_non_null(strstr(text, "one["));
	assert_non_null(strstr(text, "from run one"));
	assert_non_null(strstr(text, "two["));
	assert_true(strstr(text, "from run one") < strstr(text, "from run two"));
	free(text);
}

static void test_switching_files(void **state)
{
	struct fixture *f = *state;
	char other[160];
	snprintf(other, sizeof other, "%s/other.log", f->dir);
	log_level_current = LOG_LEVEL_WARN;
	assert_int_equal(log_open(f->path, "t", NULL), ERR_OK);
	log_warn("to first");
	assert_int_equal(log_open(other, "t", NULL), ERR_OK);
	log_warn("to second");
	log_close();
	/* After close, logs go to stderr, not to either file. */
	log_warn("to stderr (expected in test output)");
	char *a = slurp(f->path), *b = slurp(other);
	assert_non_null(strstr(a, "to first"));
	assert_null(strstr(a, "to second"));
	assert_non_null(strstr(b, "to second"));
	assert_null(strstr(b, "to first"));
	assert_null(strstr(a, "to stderr"));
	assert_null(strstr(b, "to stderr"));
	free(a);
	free(b);
	unlink(other);
}

static void test_open_failure(void **state)
{
	struct fixture *f = *state;
	char bad[200];
	struct err e;
	snprintf(bad, sizeof bad, "%s/no/such/dir/x.log", f->dir);
	err_clear(&e);
	assert_int_equal(log_open(bad, "t", &e), ERR_IO);
	assert_int_equal(e.code, ERR_IO);
	assert_non_null(strstr(e.msg, bad));

	/* A failed open leaves the current destination in place. */
	assert_int_equal(log_open(f->path, "t", NULL), ERR_OK);
	assert_int_equal(log_open(bad, "t", NULL), ERR_IO);
	log_level_current = LOG_LEVEL_WARN;
	log_warn("still here");
	log_close();
	char *text = slurp(f->path);
	assert_non_null(strstr(text, "still here"));
	free(text);
}

static void test_long_tag_truncated(void **state)
{
	struct fixture *f = *state;
	char tag[100];
	memset(tag, 'T', sizeof tag - 1);
	tag[sizeof tag - 1] = '\0';
	assert_int_equal(log_open(f->path, tag, NULL), ERR_OK);
	log_level_current = LOG_LEVEL_WARN;
	log_warn("long tag");
	log_close();
	char *text = slurp(f->path);
	assert_non_null(strstr(text, "long tag"));
	assert_null(strstr(text, tag));
	assert_non_null(strstr(text, "TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT["));
	free(text);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_default_level_is_warn),
		cmocka_unit_test(test_parse_level_names),
		cmocka_unit_test(test_parse_level_rejects),
		cmocka_unit_test(test_level_names),
		T(test_file_gets_level_and_message),
		T(test_debug_lines_carry_source_location),
		T(test_suppressed_arguments_not_evaluated),
		T(test_level_change_takes_effect),
		T(test_open_appends),
		T(test_switching_files),
		T(test_open_failure),
		T(test_long_tag_truncated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
