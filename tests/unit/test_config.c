/* test_config.c - layered options: flags > environment > file > defaults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/config.h"
#include "common/err.h"

#define ENV_NAME "AMBIENT_TEST_CONFIG_NAME_7F3A"
#define ENV_PORT "AMBIENT_TEST_CONFIG_PORT_7F3A"
#define ENV_VERBOSE "AMBIENT_TEST_CONFIG_VERBOSE_7F3A"

static const struct config_option rows[] = {
	{"name", CONFIG_STRING, ENV_NAME, "dflt", "NAME", "a name", 0, 0},
	{"port", CONFIG_INT, ENV_PORT, "8080", "PORT", "port to listen on", 1, 65535},
	{"count", CONFIG_INT, NULL, NULL, "N", "an unbounded integer", 0, 0},
	{"verbose", CONFIG_BOOL, ENV_VERBOSE, "false", NULL, "say more", 0, 0},
	{"color", CONFIG_BOOL, NULL, "true", NULL, "use colour", 0, 0},
	{"path", CONFIG_STRING, NULL, NULL, "PATH", "a path", 0, 0},
	{NULL, 0, NULL, NULL, NULL, NULL, 0, 0},
};

struct fixture {
	struct config c;
	struct err e;
	char dir[64];
	char file[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	config_init(&f->c);
	config_add_table(&f->c, rows);
	err_clear(&f->e);
	snprintf(f->dir, sizeof f->dir, "/tmp/ambient-test-config-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->file, sizeof f->file, "%s/ambient.conf", f->dir);
	unsetenv(ENV_NAME);
	unsetenv(ENV_PORT);
	unsetenv(ENV_VERBOSE);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	config_cleanup(&f->c);
	unlink(f->file);
	rmdir(f->dir);
	unsetenv(ENV_NAME);
	unsetenv(ENV_PORT);
	unsetenv(ENV_VERBOSE);
	free(f);
	return 0;
}

static void write_file(const struct fixture *f, const char *text)
{
	FILE *fp = fopen(f->file, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* Declare an argv array of literals, NULL-terminated (config never writes
 * argv); ARGC gives its argc. */
#define ARGS(name, ...) char *name[] = {__VA_ARGS__, NULL}
#define ARGC(v) ((int)(sizeof(v) / sizeof((v)[0])) - 1)

static int parse(struct fixture *f, char **argv, int argc, bool stop, int *next)
{
	err_clear(&f->e);
	return config_parse_argv(&f->c, argc, argv, 1, stop, next, &f->e);
}

static void test_defaults(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(config_get(&f->c, "name"), "dflt");
	assert_int_equal(config_get_int(&f->c, "port"), 8080);
	assert_false(config_get_bool(&f->c, "verbose"));
	assert_true(config_get_bool(&f->c, "color"));
	assert_null(config_get(&f->c, "path"));
	assert_null(config_get(&f->c, "no-such-option"));
	assert_int_equal(config_source_of(&f->c, "name"), CONFIG_FROM_DEFAULT);
	assert_int_equal(config_source_of(&f->c, "path"), CONFIG_FROM_NONE);
	assert_int_equal(config_get_int(&f->c, "count"), 0);
	assert_int_equal(f->c.nargs, 0);
	assert_false(f->c.help);
}

static void test_precedence_flag_env_file_default(void **state)
{
	struct fixture *f = *state;
	ARGS(argv, "prog", "--name=flag");

	/* Loaded in the "wrong" order on purpose: the source decides, not
	 * the order of calls. */
	assert_int_equal(parse(f, argv, ARGC(argv), false, NULL), ERR_OK);
	setenv(ENV_NAME, "env", 1);
	setenv(ENV_PORT, "9000", 1);
	assert_int_equal(config_load_env(&f->c, &f->e), ERR_OK);
	write_file(f, "name = file\nport = 7000\npath = /from/file\n");
	assert_int_equal(config_load_file(&f->c, f->file, true, &f->e), ERR_OK);

	assert_string_equal(config_get(&f->c, "name"), "flag");
	assert_int_equal(config_source_of(&f->c, "name"), CONFIG_FROM_FLAG);
	assert_int_equal(config_get_int(&f->c, "port"), 9000);
	assert_int_equal(config_source_of(&f->c, "port"), CONFIG_FROM_ENV);
	assert_string_equal(config_get(&f->c, "path"), "/from/file");
	assert_int_equal(config_source_of(&f->c, "path"), CONFIG_FROM_FILE);
	assert_false(config_get_bool(&f->c, "verbose"));
	assert_int_equal(config_source_of(&f->c, "verbose"), CONFIG_FROM_DEFAULT);
}

static void test_precedence_usual_order(void **state)
{
	struct fixture *f = *state;
	ARGS(argv, "prog", "--port", "1234");

	write_file(f, "port = 7000\nname = file\n");
	assert_int_equal(config_load_file(&f->c, f->file, true, &f->e), ERR_OK);
	assert_int_equal(config_get_int(&f->c, "port"), 7000);
	setenv(ENV_PORT, "9000", 1);
	setenv(ENV_NAME, "", 1); /* empty: treated as unset */
	assert_int_equal(config_load_env(&f->c, &f->e), ERR_OK);
	assert_int_equal(config_get_int(&f->c, "port"), 9000);
	assert_string_equal(config_get(&f->c, "name"), "file");
	assert_int_equal(parse(f, argv, ARGC(argv), false, NULL), ERR_OK);
	assert_int_equal(config_get_int(&f->c, "port"), 1234);
	assert_int_equal(config_source_of(&f->c, "port"), CONFIG_FROM_FLAG);
}

static void test_env_bool_and_bad_env(void **state)
{
	struct fixture *f = *state;
	setenv(ENV_VERBOSE, "YES", 1);
	assert_int_equal(config_load_env(&f->c, &f->e), ERR_OK);
	assert_true(config_get_bool(&f->c, "verbose"));
	assert_string_equal(config_get(&f->c, "verbose"), "true");

	setenv(ENV_PORT, "eighty", 1);
	assert_int_equal(config_load_env(&f->c, &f->e), ERR_INVALID);
	assert_non_null(strstr(f->e.msg, ENV_PORT));
	assert_non_null(strstr(f->e.msg, "eighty"));
	assert_int_equal(config_get_int(&f->c, "port"), 8080);
}

static void test_flag_forms(void **state)
{
	struct fixture *f = *state;
	ARGS(argv, "prog", "--name=a=b", "--port", "443", "--verbose", "--no-color",
			   "--path=", "--count=-17");
	assert_int_equal(parse(f, argv, ARGC(argv), false, NULL), ERR_OK);
	assert_string_equal(config_get(&f->c, "name"), "a=b");
	assert_int_equal(config_get_int(&f->c, "port"), 443);
	assert_true(config_get_bool(&f->c, "verbose"));
	assert_false(config_get_bool(&f->c, "color"));
	assert_string_equal(config_get(&f->c, "path"), "");
	assert_int_equal(config_get_int(&f->c, "count"), -17);
	assert_int_equal(f->c.nargs, 0);
}

static void test_bool_explicit_values_and_last_wins(void **state)
{
	struct fixture *f = *state;
	ARGS(argv, "prog", "--verbose=off", "--color=0", "--color", "--no-verbose",
			   "--verbose");
	assert_int_equal(parse(f, argv, ARGC(argv), false, NULL), ERR_OK);
	assert_true(config_get_bool(&f->c, "verbose"));
	assert_true(config_get_bool(&f->c, "color"));

	ARGS(bad, "prog", "--verbose=maybe");
	assert_int_equal(parse(f, bad, ARGC(bad), false, NULL), ERR_INVALID);
	assert_non_null(strstr(f->e.msg, "--verbose"));
	assert_non_null(strstr(f->e.msg, "maybe"));
}

static void test_bool_flag_does_not_eat_next_arg(void **state)
{
	struct fixture *f = *state;
	ARGS(argv, "prog", "--verbose", "file.txt");
	assert_int_equal(parse(f, argv, ARGC(argv), false, NULL), ERR_OK);
	assert_true(config_get_bool(&f->c, "verbose"));
	assert_int_equal(f->c.nargs, 1);
	assert_string_equal(f->c.args[0], "file.txt");
}

static void test_no_prefix_only_for_bools(void **state)
{
	struct fixture *f = *state;
	ARGS(argv, "prog", "--no-name");
	assert_int_equal(parse(f, argv, ARGC(argv), false, NULL), ERR_INVALID);
	assert_non_null(strstr(f->e.msg, "--no-name"));
	assert_string_equal(config_get(&f->c, "name"), "dflt");
}

static void test_unknown_flag_message(void **state)
{
	struct fixture *f = *state;
	ARGS(argv, "prog", "--bogus=1");
	assert_int_equal(parse(f, argv, ARGC(argv), false, NULL), ERR_INVALID);
	assert_int_equal(f->e.code, ERR_INVALID);
	assert_string_equal(f->e.msg, "unknown option '--bogus'; see --help");

	ARGS(argv2, "prog", "-x");
	assert_int_equal(parse(f, argv2, ARGC(argv2), false, NULL), ERR_INVALID);
	assert_non_null(strstr(f->e.msg, "'-x'"));

	/* A prefix of a known name is not that name. */
	ARGS(argv3, "prog", "--nam=x");
	assert_int_equal(parse(f, argv3, ARGC(argv3), false, NULL), ERR_INVALID);
	assert_non_null(strstr(f->e.msg, "--nam'"));
	ARGS(argv4, "prog", "--names=x");
	assert_int_equal(parse(f, argv4, ARGC(argv4), false, NULL), ERR_INVALID);
	assert_string_equal(config_get(&f->c, "name"), "dflt");
}

static void test_missing_value(void **state)
{
	struct fixture *f = *state;
	ARGS(argv, "prog", "--port");
	assert_int_equal(parse(f, argv, ARGC(argv), false, NULL), ERR_INVALID);
	assert_non_null(strstr(f->e.msg, "--port"));
	assert_non_null(strstr(f->e.msg, "PORT"));
	assert_int_equal(config_get_int(&f->c, "port"), 8080);
}

static void test_int_bounds_and_syntax(void **state)
{
	struct fixture *f = *state;
	ARGS(hi, "prog", "--port=70000");
	assert_int_equal(parse(f, hi, ARGC(hi), false, NULL), ERR_INVALID);
	assert_string_equal(f->e.msg, "command line: --port must be from 1 to 65535, got 70000");
	assert_int_equal(config_get_int(&f->c, "port"), 8080);

	ARGS(lo, "prog", "--port", "0");
	assert_int_equal(parse(f, lo, ARGC(lo), false, NULL), ERR_INVALID);
	assert_non_null(strstr(f->e.msg, "from 1 to 65535"));
	assert_non_null(strstr(f->e.msg, "got 0"));

	ARGS(edge, "prog", "--port=1", "--port=65535");
	assert_int_equal(parse(f, edge, ARGC(edge), false, NULL), ERR_OK);
	assert_int_equal(config_get_int(&f->c, "port"), 65535);

	const char *bad[] = {"12abc", "", "abc", "1.5", "99999999999999999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char arg[64];
		snprintf(arg, sizeof arg, "--count=%s", bad[i]);
		char *argv[] = {"prog", arg, NULL};
		assert_int_equal(parse(f, argv, 2, false, NULL), ERR_INVALID);
		assert_non_null(strstr(f->e.msg, "wants an integer"));
	}
	assert_null(config_get(&f->c, "count"));

	/* Unbounded integers take anything that fits a long long. */
	ARGS(big, "prog", "--count=-9223372036854775808");
	assert_int_equal(parse(f, big, ARGC(big), false, NULL), ERR_OK);
	assert_true(config_get_int(&f->c, "count") == INT64_MIN);
}

static void test_positional_and_double_dash(void **state)
{
	struct fixture *f = *state;
	int next = -1;
	ARGS(argv, "prog", "a", "--verbose", "-", "b", "--", "--port=1", "-h", "c");
	assert_int_equal(parse(f, argv, ARGC(argv), false, &next), ERR_OK);
	assert_int_equal(next, ARGC(argv));
	assert_int_equal(f->c.nargs, 6);
	assert_string_equal(f->c.args[0], "a");
	assert_string_equal(f->c.args[1], "-");
	assert_string_equal(f->c.args[2], "b");
	assert_string_equal(f->c.args[3], "--port=1");
	assert_string_equal(f->c.args[4], "-h");
	assert_string_equal(f->c.args[5], "c");
	assert_true(config_get_bool(&f->c, "verbose"));
	assert_int_equal(config_get_int(&f->c, "port"), 8080);
	assert_false(f->c.help);
}

static void test_stop_at_arg(void **state)
{
	struct fixture *f = *state;
	int next = -1;
	/* "prog --verbose task add --name x": global flags, then a command. */
	ARGS(argv, "prog", "--verbose", "task", "--name=x", "add");
	assert_int_equal(parse(f, argv, ARGC(argv), true, &next), ERR_OK);
	assert_int_equal(next, 3);
	assert_int_equal(f->c.nargs, 1);
	assert_string_equal(f->c.args[0], "task");
	assert_true(config_get_bool(&f->c, "verbose"));
	assert_string_equal(config_get(&f->c, "name"), "dflt"); /* not parsed yet */

	/* Continue from where it stopped. */
	assert_int_equal(config_parse_argv(&f->c, ARGC(argv), argv, next, true, &next, &f->e), ERR_OK);
	assert_int_equal(next, 5);
	assert_string_equal(config_get(&f->c, "name"), "x");
	assert_int_equal(f->c.nargs, 2);
	assert_string_equal(f->c.args[1], "add");
}

static void test_stop_at_arg_without_positional(void **state)
{
	struct fixture *f = *state;
	int next = -1;
	ARGS(argv, "prog", "--port", "99");
	assert_int_equal(parse(f, argv, ARGC(argv), true, &next), ERR_OK);
	assert_int_equal(next, 3);
	assert_int_equal(f->c.nargs, 0);
	assert_int_equal(config_get_int(&f->c, "port"), 99);

	/* A value taken by "--name value" is not the stopping argument. */
	ARGS(argv2, "prog", "--name", "cmd", "real");
	assert_int_equal(parse(f, argv2, ARGC(argv2), true, &next), ERR_OK);
	assert_int_equal(next, 4);
	assert_string_equal(config_get(&f->c, "name"), "cmd");
	assert_string_equal(f->c.args[0], "real");

	/* "--" then the stopping argument. */
	config_cleanup(&f->c);
	config_add_table(&f->c, rows);
	ARGS(argv3, "prog", "--", "--verbose", "x");
	assert_int_equal(parse(f, argv3, ARGC(argv3), true, &next), ERR_OK);
	assert_int_equal(next, 3);
	assert_int_equal(f->c.nargs, 1);
	assert_string_equal(f->c.args[0], "--verbose");
	assert_false(config_get_bool(&f->c, "verbose"));
}

static void test_help(void **state)
{
	struct fixture *f = *state;
	ARGS(a, "prog", "-h");
	assert_int_equal(parse(f, a, ARGC(a), false, NULL), ERR_OK);
	assert_true(f->c.help);
	config_cleanup(&f->c);
	config_add_table(&f->c, rows);
	assert_false(f->c.help);
	ARGS(b, "prog", "--port=5", "--help", "x");
	assert_int_equal(parse(f, b, ARGC(b), false, NULL), ERR_OK);
	assert_true(f->c.help);
	assert_int_equal(f->c.nargs, 1);
}

static void test_file_comments_blanks_and_spacing(void **state)
{
	struct fixture *f = *state;
	write_file(f, "# ambient config\n"
		      "\n"
		      "   \n"
		      "name=plain   # trailing comment\n"
		      "\tport   =   4242\t\n"
		      "verbose = on\n"
		      "  # indented comment\n"
		      "path = /a b/c\n"
		      "count = 5"); /* no final newline */
	assert_int_equal(config_load_file(&f->c, f->file, true, &f->e), ERR_OK);
	assert_string_equal(config_get(&f->c, "name"), "plain");
	assert_int_equal(config_get_int(&f->c, "port"), 4242);
	assert_true(config_get_bool(&f->c, "verbose"));
	assert_string_equal(config_get(&f->c, "path"), "/a b/c");
	assert_int_equal(config_get_int(&f->c, "count"), 5);
	assert_int_equal(config_source_of(&f->c, "port"), CONFIG_FROM_FILE);
}

static void test_file_unknown_key_names_file_and_line(void **state)
{
	struct fixture *f = *state;
	char want[256];
	write_file(f, "# comment\n\nname = x\nbogus = 1\nport = 1\n");
	assert_int_equal(config_load_file(&f->c, f->file, true, &f->e), ERR_INVALID);
	snprintf(want, sizeof want, "%s:4: unknown option 'bogus'", f->file);
	assert_string_equal(f->e.msg, want);
	/* Lines after the error are not applied. */
	assert_int_equal(config_get_int(&f->c, "port"), 8080);
}

static void test_file_bad_values_name_file_and_line(void **state)
{
	struct fixture *f = *state;
	char want[256];

	write_file(f, "port = 99999\n");
	assert_int_equal(config_load_file(&f->c, f->file, true, &f->e), ERR_INVALID);
	snprintf(want, sizeof want, "%s:1: --port must be from 1 to 65535, got 99999", f->file);
	assert_string_equal(f->e.msg, want);

	write_file(f, "\n\nverbose = perhaps\n");
	assert_int_equal(config_load_file(&f->c, f->file, true, &f->e), ERR_INVALID);
	snprintf(want, sizeof want, "%s:3:", f->file);
	assert_memory_equal(f->e.msg, want, strlen(want));
	assert_non_null(strstr(f->e.msg, "perhaps"));

	write_file(f, "name\n");
	assert_int_equal(config_load_file(&f->c, f->file, true, &f->e), ERR_INVALID);
	snprintf(want, sizeof want, "%s:1:", f->file);
	assert_memory_equal(f->e.msg, want, strlen(want));
	assert_non_null(strstr(f->e.msg, "name = value"));
}

static void test_file_missing(void **state)
{
	struct fixture *f = *state;
	char path[200];
	snprintf(path, sizeof path, "%s/does-not-exist.conf", f->dir);
	assert_int_equal(config_load_file(&f->c, path, false, &f->e), ERR_OK);
	assert_string_equal(config_get(&f->c, "name"), "dflt");
	assert_int_equal(config_load_file(&f->c, path, true, &f->e), ERR_INVALID);
	assert_non_null(strstr(f->e.msg, path));
	/* A directory is not "missing" and not a config file: an error either
	 * way, not a silently empty configuration. */
	assert_int_equal(config_load_file(&f->c, f->dir, true, &f->e), ERR_INVALID);
	assert_non_null(strstr(f->e.msg, f->dir));
	assert_int_equal(config_load_file(&f->c, f->dir, false, &f->e), ERR_INVALID);
}

static void test_later_table_does_not_replace(void **state)
{
	struct fixture *f = *state;
	static const struct config_option more[] = {
		{"name", CONFIG_STRING, NULL, "other", NULL, "dup", 0, 0},
		{"extra", CONFIG_INT, NULL, "3", "N", "extra", 0, 0},
		{NULL, 0, NULL, NULL, NULL, NULL, 0, 0},
	};
	config_add_table(&f->c, more);
	assert_string_equal(config_get(&f->c, "name"), "dflt");
	assert_int_equal(config_get_int(&f->c, "extra"), 3);
	ARGS(argv, "prog", "--extra=4");
	assert_int_equal(parse(f, argv, ARGC(argv), false, NULL), ERR_OK);
	assert_int_equal(config_get_int(&f->c, "extra"), 4);
}

static void test_print_help(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	config_print_help(out, rows);
	fclose(out);
	assert_non_null(strstr(text, "--port PORT"));
	assert_non_null(strstr(text, "port to listen on (default: 8080) [env " ENV_PORT "]"));
	assert_non_null(strstr(text, "--verbose "));
	assert_null(strstr(text, "--verbose VALUE"));
	assert_non_null(strstr(text, "--count N"));
	free(text);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_defaults),
		T(test_precedence_flag_env_file_default),
		T(test_precedence_usual_order),
		T(test_env_bool_and_bad_env),
		T(test_flag_forms),
		T(test_bool_explicit_values_and_last_wins),
		T(test_bool_flag_does_not_eat_next_arg),
		T(test_no_prefix_only_for_bools),
		T(test_unknown_flag_message),
		T(test_missing_value),
		T(test_int_bounds_and_syntax),
		T(test_positional_and_double_dash),
		T(test_stop_at_arg),
		T(test_stop_at_arg_without_positional),
		T(test_help),
		T(test_file_comments_blanks_and_spacing),
		T(test_file_unknown_key_names_file_and_line),
		T(test_file_bad_values_name_file_and_line),
		T(test_file_missing),
		T(test_later_table_does_not_replace),
		T(test_print_help),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
