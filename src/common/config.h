/*
 * config.h - options from flags, then environment, then a config file, then
 * defaults, described once in tables of rows (name, type, env, default,
 * help) from which --help text is generated.
 *
 * Config file: one `name = value` per line, '#' starts a comment; names are
 * the long flag names.  Unknown names and bad values are errors naming the
 * file and line.
 */
#ifndef AMBIENT_CONFIG_H
#define AMBIENT_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "err.h"

enum config_type { CONFIG_STRING, CONFIG_INT, CONFIG_BOOL };

/* Where a value came from; a later source never overrides an earlier one. */
enum config_source { CONFIG_FROM_NONE, CONFIG_FROM_DEFAULT, CONFIG_FROM_FILE, CONFIG_FROM_ENV,
		     CONFIG_FROM_FLAG };

struct config_option {
	const char *name;    /* long flag without "--"; NULL ends a table */
	int type;            /* enum config_type */
	const char *env;     /* environment variable, or NULL */
	const char *def;     /* default as text, or NULL */
	const char *metavar; /* e.g. "PATH" in the help text */
	const char *help;
	long long min, max;  /* bounds for CONFIG_INT (both 0: unbounded) */
};

struct config_value {
	const struct config_option *opt;
	char *value;
	int source;
};

struct config {
	struct config_value *values;
	size_t nvalues;
	char **args; /* positional arguments, in order */
	size_t nargs;
	bool help;   /* -h / --help was given */
};

void config_init(struct config *c);
void config_cleanup(struct config *c);

/* Make the options of a table known (and apply their defaults). */
void config_add_table(struct config *c, const struct config_option *rows);

/* Parse flags from argv[from..argc).  "--name=value", "--name value", bool
 * "--name" / "--no-name", "-h"/"--help", "--" ends flags.  Positional
 * arguments go to c->args; with stop_at_arg, parsing stops after the first
 * one and *next is the index after it.  Unknown flags are ERR_INVALID. */
int config_parse_argv(struct config *c, int argc, char **argv, int from, bool stop_at_arg,
		      int *next, struct err *e);
/* Read the environment variables of the known options. */
int config_load_env(struct config *c, struct err *e);
/* Read a config file; a missing file is an error only when must_exist. */
int config_load_file(struct config *c, const char *path, bool must_exist, struct err *e);

const char *config_get(const struct config *c, const char *name); /* NULL when unset */
long long config_get_int(const struct config *c, const char *name);
bool config_get_bool(const struct config *c, const char *name);
int config_source_of(const struct config *c, const char *name);

/* Print the rows of a table as help text. */
void config_print_help(FILE *out, const struct config_option *rows);

#endif
