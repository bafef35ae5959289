/* test_log.c - levels, log files, lazy argument evaluation, JSON lines, and
 * the log directory's routing of lines to the seed's three files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"

struct fixture {
	char dir[64];
	char path[128];
	char logs[128]; /* a log directory inside dir */
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
	snprintf(f->logs, sizeof f->logs, "%s/logs", f->dir);
	f->saved_level = log_level_current;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	log_close();
	log_set_format(LOG_FORMAT_TEXT);
	log_level_current = f->saved_level;
	unlink(f->path);
	const char *files[] = {LOG_FILE_MCP, LOG_FILE_EVENTS, LOG_FILE_FEEDBACK};
	for (size_t i = 0; i < 3; i++) {
		char p[256];
		snprintf(p, sizeof p, "%s/%s", f->logs, files[i]);
		unlink(p);
	}
	rmdir(f->logs);
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
		{"error", LOG_LEVEL_ERROR},  {"ERROR", LOG_LEVEL_ERROR},
		{"warn", LOG_LEVEL_WARN},    {"Warn", LOG_LEVEL_WARN},
		{"warning", LOG_LEVEL_WARN}, {"WARNING", LOG_LEVEL_WARN},
		{"info", LOG_LEVEL_INFO},    {"InFo", LOG_LEVEL_INFO},
		{"debug", LOG_LEVEL_DEBUG},  {"DEBUG", LOG_LEVEL_DEBUG},
		{"trace", LOG_LEVEL_TRACE},  {"tRaCe", LOG_LEVEL_TRACE},
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
	const char *bad[] = {"",      "verbose", "err",   "inf",     "debug ",
			     " info", "5",       "fatal", "warnings"};
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

/* ---- formats ------------------------------------------------------------------ */

static void test_parse_format(void **state)
{
	(void)state;
	int fmt = -1;
	assert_int_equal(log_parse_format("text", &fmt, NULL), ERR_OK);
	assert_int_equal(fmt, LOG_FORMAT_TEXT);
	assert_int_equal(log_parse_format("JSON", &fmt, NULL), ERR_OK);
	assert_int_equal(fmt, LOG_FORMAT_JSON);
	struct err e;
	err_clear(&e);
	fmt = 7;
	assert_int_equal(log_parse_format("xml", &fmt, &e), ERR_INVALID);
	assert_int_equal(fmt, 7);
	assert_non_null(strstr(e.msg, "'xml'"));
	assert_non_null(strstr(e.msg, "text"));
	assert_non_null(strstr(e.msg, "json"));
	assert_int_equal(log_parse_format(NULL, &fmt, NULL), ERR_INVALID);
	assert_int_equal(log_format_current(), LOG_FORMAT_TEXT);
}

/* Each line of text parsed as JSON into an array (fails the test if one
 * does not parse). */
static json_t *parse_lines(const char *text)
{
	json_t *arr = json_array();
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		assert_non_null(nl);
		json_error_t je;
		json_t *j = json_loadb(p, (size_t)(nl - p), 0, &je);
		if (!j)
			fail_msg("not JSON (%s): %.*s", je.text, (int)(nl - p), p);
		assert_true(json_is_object(j));
		json_array_append_new(arr, j);
		p = nl + 1;
	}
	return arr;
}

static void test_json_lines_are_json(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(log_open(f->path, "serve", NULL), ERR_OK);
	log_set_format(LOG_FORMAT_JSON);
	assert_int_equal(log_format_current(), LOG_FORMAT_JSON);
	log_level_current = LOG_LEVEL_INFO;
	int line = __LINE__ + 1;
	log_warn("quote \" backslash \\ newline \n tab \t bell \a del \x7f end");
	log_info("utf-8 caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 ok");
	log_error("bad utf-8 \xff\xfe, cut \xc3, overlong \xc0\xaf, surrogate \xed\xa0\x80.");
	log_info("percent %d%%", 5);
	log_debug("not shown");
	log_close();

	char *text = slurp(f->path);
	assert_int_equal(count_lines(text), 4);
	json_t *arr = parse_lines(text);
	assert_int_equal(json_array_size(arr), 4);

	json_t *a = json_array_get(arr, 0);
	assert_string_equal(json_string_value(json_object_get(a, "msg")),
			    "quote \" backslash \\ newline \n tab \t bell \a del \x7f end");
	assert_string_equal(json_string_value(json_object_get(a, "level")), "warn");
	assert_string_equal(json_string_value(json_object_get(a, "process")), "serve");
	assert_int_equal(json_integer_value(json_object_get(a, "pid")), getpid());
	char src[64];
	snprintf(src, sizeof src, "test_log.c:%d", line);
	assert_string_equal(json_string_value(json_object_get(a, "source")), src);
	int64_t when = 0;
	assert_int_equal(clock_parse_iso(json_string_value(json_object_get(a, "time")), &when), 0);
	int64_t now = clock_wall_us(clock_system());
	assert_true(when <= now && now - when < 60LL * 1000000);
	/* exactly these keys, in this order */
	const char *keys[] = {"time", "level", "process", "pid", "msg", "source"};
	const char *prev = text;
	for (size_t i = 0; i < 6; i++) {
		char k[32];
		snprintf(k, sizeof k, "\"%s\":", keys[i]);
		const char *at = strstr(prev, k);
		assert_non_null(at);
		prev = at;
	}
	assert_int_equal(json_object_size(a), 6);

	assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 1), "msg")),
			    "utf-8 caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 ok");
	/* invalid UTF-8 bytes become U+FFFD, one each */
	assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 2), "msg")),
			    "bad utf-8 \xef\xbf\xbd\xef\xbf\xbd, cut \xef\xbf\xbd, overlong "
			    "\xef\xbf\xbd\xef\xbf\xbd, surrogate "
			    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd.");
	assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 2), "level")),
			    "error");
	assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 3), "msg")),
			    "percent 5%");
	json_decref(arr);
	free(text);
}

static void test_json_long_message(void **state)
{
	struct fixture *f = *state;
	size_t n = 200000;
	char *big = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	big[n] = '\0';
	big[5000] = '"';
	assert_int_equal(log_open(f->path, "t", NULL), ERR_OK);
	log_set_format(LOG_FORMAT_JSON);
	log_level_current = LOG_LEVEL_WARN;
	log_warn("%s", big);
	log_warn("%.3000s", big); /* longer than the stack buffer, shorter than the cap */
	log_close();
	char *text = slurp(f->path);
	json_t *arr = parse_lines(text);
	assert_int_equal(json_array_size(arr), 2);
	const char *m0 = json_string_value(json_object_get(json_array_get(arr, 0), "msg"));
	assert_true(strlen(m0) > 60000 && strlen(m0) < n);
	assert_non_null(strstr(m0, "(truncated)"));
	assert_int_equal(m0[5000], '"');
	const char *m1 = json_string_value(json_object_get(json_array_get(arr, 1), "msg"));
	assert_int_equal(strlen(m1), 3000);
	assert_memory_equal(m1, big, 3000);
	json_decref(arr);
	free(text);
	free(big);
}

static void test_text_escapes_control_characters(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(log_open(f->path, "t", NULL), ERR_OK);
	log_level_current = LOG_LEVEL_WARN;
	log_warn("two\nlines\r and \x1b[31mcolour\t\"quoted\" caf\xc3\xa9");
	log_close();
	char *text = slurp(f->path);
	assert_int_equal(count_lines(text), 1);
	assert_non_null(
		strstr(text, "two\\nlines\\r and \\x1b[31mcolour\t\"quoted\" caf\xc3\xa9\n"));
	free(text);
}

/* ---- log directory ----------------------------------------------------------------- */

static char *slurp_in(const char *dir, const char *name)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return slurp(p);
}

static bool exists_in(const char *dir, const char *name)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

static void test_route_by_source(void **state)
{
	(void)state;
	struct {
		const char *file, *want;
	} cases[] = {
		{"/work/main/src/engine/engine.c", LOG_FILE_EVENTS},
		{"src/engine/delivery.c", LOG_FILE_EVENTS},
		{"/x/src/store/store_sqlite.c", LOG_FILE_EVENTS},
		{"/x/src/app/feedback.c", LOG_FILE_FEEDBACK},
		{"src/app/notifier.c", LOG_FILE_FEEDBACK},
		{"/x/src/cli/cmd_feedback.c", LOG_FILE_FEEDBACK},
		{"/x/src/mcp/server.c", LOG_FILE_MCP},
		{"/x/src/transport/http_server.c", LOG_FILE_MCP},
		{"/x/src/cli/cmd_serve.c", LOG_FILE_MCP},
		{"/x/src/app/mcp_tools.c", LOG_FILE_MCP},
		{"/x/src/app/xfeedback.c", LOG_FILE_MCP},
		{"/x/src/app/feedback.c.orig", LOG_FILE_MCP},
		{"/x/mysrc/engine/engine.c", LOG_FILE_MCP},
		{"/x/src/engineering/x.c", LOG_FILE_MCP},
		{"test_log.c", LOG_FILE_MCP},
		{NULL, LOG_FILE_MCP},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_string_equal(log_route(cases[i].file, 0), cases[i].want);
		assert_string_equal(log_route(cases[i].file, LOG_DIR_FEEDBACK), LOG_FILE_FEEDBACK);
	}
}

static void test_dir_routes_lines_to_the_seed_files(void **state)
{
	struct fixture *f = *state;
	struct err e;
	err_clear(&e);
	assert_int_equal(log_open_dir(f->logs, "serve", 0, &e), ERR_OK);
	struct stat st;
	assert_int_equal(stat(f->logs, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	/* the fallback file is opened at once, the others on first use */
	assert_true(exists_in(f->logs, LOG_FILE_MCP));
	assert_false(exists_in(f->logs, LOG_FILE_EVENTS));
	assert_false(exists_in(f->logs, LOG_FILE_FEEDBACK));

	log_set_format(LOG_FORMAT_JSON);
	log_level_current = LOG_LEVEL_INFO;
	log_write(LOG_LEVEL_WARN, "/w/src/engine/engine.c", 10, "engine %s", "line");
	log_write(LOG_LEVEL_INFO, "/w/src/store/store_sqlite.c", 11, "store line");
	log_write(LOG_LEVEL_WARN, "/w/src/app/notifier.c", 12, "notifier line");
	log_write(LOG_LEVEL_WARN, "/w/src/app/feedback.c", 13, "feedback line");
	log_write(LOG_LEVEL_WARN, "/w/src/mcp/server.c", 14, "mcp line");
	log_warn("test line");
	log_close();

	char *ev = slurp_in(f->logs, LOG_FILE_EVENTS), *fb = slurp_in(f->logs, LOG_FILE_FEEDBACK),
	     *mcp = slurp_in(f->logs, LOG_FILE_MCP);
	assert_int_equal(count_lines(ev), 2);
	assert_int_equal(count_lines(fb), 2);
	assert_int_equal(count_lines(mcp), 2);
	assert_non_null(strstr(ev, "engine line"));
	assert_non_null(strstr(ev, "\"source\":\"engine/engine.c:10\""));
	assert_non_null(strstr(ev, "store line"));
	assert_non_null(strstr(fb, "notifier line"));
	assert_non_null(strstr(fb, "feedback line"));
	assert_non_null(strstr(mcp, "mcp line"));
	assert_non_null(strstr(mcp, "\"source\":\"mcp/server.c:14\""));
	assert_non_null(strstr(mcp, "test line"));
	json_decref(parse_lines(ev));
	json_decref(parse_lines(fb));
	json_decref(parse_lines(mcp));
	/* files are private */
	char p[256];
	snprintf(p, sizeof p, "%s/%s", f->logs, LOG_FILE_EVENTS);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(ev);
	free(fb);
	free(mcp);

	/* Again, appending, in text. */
	log_set_format(LOG_FORMAT_TEXT);
	assert_int_equal(log_open_dir(f->logs, "serve", 0, NULL), ERR_OK);
	log_write(LOG_LEVEL_WARN, "/w/src/engine/engine.c", 10, "second run");
	log_close();
	ev = slurp_in(f->logs, LOG_FILE_EVENTS);
	assert_int_equal(count_lines(ev), 3);
	assert_non_null(strstr(ev, "serve["));
	assert_non_null(strstr(ev, "second run"));
	free(ev);
}

static void test_dir_feedback_process_uses_one_file(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(log_open_dir(f->logs, "feedback", LOG_DIR_FEEDBACK, NULL), ERR_OK);
	log_level_current = LOG_LEVEL_WARN;
	log_write(LOG_LEVEL_WARN, "/w/src/store/store_sqlite.c", 1, "its store");
	log_write(LOG_LEVEL_WARN, "/w/src/transport/http_server.c", 2, "its http");
	log_write(LOG_LEVEL_WARN, "/w/src/cli/cmd_feedback.c", 3, "itself");
	log_close();
	assert_false(exists_in(f->logs, LOG_FILE_EVENTS));
	assert_false(exists_in(f->logs, LOG_FILE_MCP));
	char *fb = slurp_in(f->logs, LOG_FILE_FEEDBACK);
	assert_int_equal(count_lines(fb), 3);
	assert_non_null(strstr(fb, "feedback["));
	assert_non_null(strstr(fb, "its store"));
	assert_non_null(strstr(fb, "its http"));
	assert_non_null(strstr(fb, "itself"));
	free(fb);
}

static void test_dir_errors_keep_the_destination(void **state)
{
	struct fixture *f = *state;
	struct err e;
	char bad[256];

	assert_int_equal(log_open(f->path, "t", NULL), ERR_OK);
	snprintf(bad, sizeof bad, "%s/no/such/parent", f->dir);
	err_clear(&e);
	assert_int_equal(log_open_dir(bad, "t", 0, &e), ERR_IO);
	assert_non_null(strstr(e.msg, bad));
	/* a file where the directory should be */
	err_clear(&e);
	assert_int_equal(log_open_dir(f->path, "t", 0, &e), ERR_IO);
	assert_non_null(strstr(e.msg, "not a directory"));
	assert_int_equal(log_open_dir("", "t", 0, NULL), ERR_INVALID);
	assert_int_equal(log_open_dir(NULL, "t", 0, NULL), ERR_INVALID);
	log_level_current = LOG_LEVEL_WARN;
	log_warn("still in the file");
	log_close();
	char *text = slurp(f->path);
	assert_non_null(strstr(text, "still in the file"));
	free(text);

	/* a directory replaces a single file and vice versa */
	assert_int_equal(log_open(f->path, "t", NULL), ERR_OK);
	assert_int_equal(log_open_dir(f->logs, "t", 0, NULL), ERR_OK);
	log_warn("into the directory");
	assert_int_equal(log_open(f->path, "t", NULL), ERR_OK);
	log_write(LOG_LEVEL_WARN, "/w/src/engine/engine.c", 1, "back in the file");
	log_close();
	char *mcp = slurp_in(f->logs, LOG_FILE_MCP);
	text = slurp(f->path);
	assert_non_null(strstr(mcp, "into the directory"));
	assert_null(strstr(text, "into the directory"));
	assert_non_null(strstr(text, "back in the file"));
	assert_false(exists_in(f->logs, LOG_FILE_EVENTS));
	free(mcp);
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
		cmocka_unit_test(test_parse_format),
		T(test_json_lines_are_json),
		T(test_json_long_message),
		T(test_text_escapes_control_characters),
		cmocka_unit_test(test_route_by_source),
		T(test_dir_routes_lines_to_the_seed_files),
		T(test_dir_feedback_process_uses_one_file),
		T(test_dir_errors_keep_the_destination),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
