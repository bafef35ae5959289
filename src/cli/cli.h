/*
 * cli.h - the command table of the `ambient` binary.
 *
 * Each subcommand is a row (name, usage, summary, options, handler), like
 * tmux's cmd_entry; `ambient --help` and `ambient <cmd> --help` are printed
 * from the rows.  Handlers return a process exit status.
 */
#ifndef AMBIENT_CLI_H
#define AMBIENT_CLI_H

#include <stddef.h>

#include "common/config.h"
#include "store/store.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

struct cli_ctx {
	struct config cfg; /* global + command options, merged */
	char **args;       /* positional arguments after the command words */
	size_t nargs;
	const char *command; /* full command name, e.g. "task create" */
};

struct cli_command {
	const char *name;
	const char *usage; /* arguments after the name */
	const char *summary;
	const char *description; /* longer text for --help, or NULL */
	const struct config_option *options;
	int (*run)(struct cli_ctx *ctx);
	const struct cli_command *subcommands; /* NULL-name terminated, or NULL */
};

/* The options every command accepts (--db, --log-level, ...). */
extern const struct config_option cli_global_options[];

/* Top-level commands. */
extern const struct cli_command cli_commands[];

/* Run the binary: parse argv, dispatch, return the exit status. */
int cli_main(int argc, char **argv);

/* Open the store named by --db / AMBIENT_DB / the data directory. */
int cli_open_store(struct cli_ctx *ctx, bool read_only, struct store **out);

/* Whether the store --db names (or the data directory's) exists already
 * (a server URL counts as existing). */
bool cli_store_exists(struct cli_ctx *ctx);

/* Whether a listen address only accepts connections from this machine
 * (127.0.0.0/8, ::1, localhost). */
bool cli_loopback_host(const char *host);

/* The data directory: --data-dir, else $XDG_DATA_HOME/ambient, else
 * ~/.local/share/ambient (heap string). */
char *cli_data_dir(struct cli_ctx *ctx);

/* Split "a, b,c" into a NULL-terminated array of its non-empty entries;
 * *storage holds the strings (caller frees both). */
char **cli_split_list(const char *s, char **storage);

/* Parse --listen HOST:PORT ("[::1]:8001" too) into a heap *host and *port;
 * CLI_OK, or a usage error already printed. */
int cli_parse_listen(struct cli_ctx *ctx, const char *listen, char **host, int *port);

/* The text of an argument that may name a file: "@PATH" reads the file,
 * "-" reads stdin, anything else is the text itself.  A new string, or NULL
 * with *e saying why (`what` names the argument in the message; more than
 * max bytes is ERR_TOO_BIG). */
char *cli_read_arg(const char *arg, const char *what, size_t max, struct err *e);

/* Write this process's id to path; CLI_OK, or the error printed (CLI_FAIL). */
int cli_write_pid_file(const char *path);

/* Print an error as "ambient: <message>" on stderr; returns CLI_FAIL. */
int cli_fail(const struct err *e);
int cli_usage_error(struct cli_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Commands, one file each. */
extern const struct cli_command cli_task_commands[];
extern const struct cli_command cli_keys_commands[];
int cli_events_run(struct cli_ctx *ctx);
extern const struct config_option cli_events_options[];
int cli_replay_run(struct cli_ctx *ctx);
extern const struct config_option cli_replay_options[];
/* The MCP `instructions` both `serve` and `mcp` give clients. */
extern const char cli_mcp_instructions[];
int cli_serve_run(struct cli_ctx *ctx);
extern const struct config_option cli_serve_options[];
int cli_mcp_run(struct cli_ctx *ctx);
int cli_feedback_run(struct cli_ctx *ctx);
extern const struct config_option cli_feedback_options[];
extern const struct config_option cli_mcp_options[];
int cli_demo_run(struct cli_ctx *ctx);
extern const struct config_option cli_demo_options[];
int cli_chat_run(struct cli_ctx *ctx);
extern const struct config_option cli_chat_options[];
/* Turn `ambient chat`'s -c into --command in argv (before cli_main). */
void cli_chat_short_options(int argc, char **argv);

#endif
