/*
 * cli.c - dispatch of `ambient <command> [<subcommand>] [options] [args]`,
 * global options, help generated from the command table.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/tasks.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "engine/netguard.h"

const struct config_option cli_global_options[] = {
	{"db", CONFIG_STRING, "AMBIENT_DB", NULL, "URL",
	 "event store: sqlite:PATH (default: sqlite:DATA_DIR/ambient.db)"},
	{"data-dir", CONFIG_STRING, "AMBIENT_DATA_DIR", NULL, "DIR",
	 "data directory (default: $XDG_DATA_HOME/ambient, i.e. ~/.local/share/ambient)"},
	{"config-file", CONFIG_STRING, "AMBIENT_CONFIG", NULL, "PATH",
	 "config file of 'name = value' lines (default: $XDG_CONFIG_HOME/ambient/ambient.conf if "
	 "present)"},
	{"log-level", CONFIG_STRING, "AMBIENT_LOG_LEVEL", "warn", "LEVEL",
	 "error, warn, info, debug or trace"},
	{"log-file", CONFIG_STRING, "AMBIENT_LOG_FILE", NULL, "PATH",
	 "write logs here instead of stderr"},
	{"log-dir", CONFIG_STRING, "AMBIENT_LOG_DIR", NULL, "DIR",
	 "write logs to DIR/mcp_server.log, DIR/event_sourcing.log (engine, store) and "
	 "DIR/event_feedback.log (feedback server) instead of stderr"},
	{"log-format", CONFIG_STRING, "AMBIENT_LOG_FORMAT", "text", "FORMAT",
	 "text, or json (one JSON object per line)"},
	{"allow-net", CONFIG_STRING, "AMBIENT_ALLOW_NET", NULL, "LIST",
	 "addresses task URLs may reach besides public ones: comma-separated CIDRs and host "
	 "names (e.g. 127.0.0.1,10.0.0.0/8,intranet.example), or '*' for any"},
	{NULL},
};

static int run_version(struct cli_ctx *ctx)
{
	(void)ctx;
	printf("ambient %s\n", AMBIENT_VERSION);
	return CLI_OK;
}

static int run_help(struct cli_ctx *ctx);

static const struct config_option no_options[] = {{NULL}};

const struct cli_command cli_commands[] = {
	{"serve", "",
	 "serve MCP over Streamable HTTP (default http://127.0.0.1:8001/mcp) and /health",
	 "The daemon: MCP tools, resources and prompts over Streamable HTTP at --endpoint, with\n"
	 "sessions (or --stateless), SSE streams and resumption, Host/Origin checks and optional\n"
	 "API keys.  Prints 'listening URL' on stdout once bound; stops on SIGINT/SIGTERM.",
	 cli_serve_options, cli_serve_run, NULL},
	{"mcp", "", "serve MCP over stdio, for desktop clients (Claude Desktop, Claude Code, ...)",
	 "Reads one JSON-RPC message per line on stdin and answers on stdout; logs go to stderr\n"
	 "or --log-file.  Shares the event store with `ambient serve`.",
	 cli_mcp_options, cli_mcp_run, NULL},
	{"feedback", "",
	 "the Event Feedback Server: receive, verify and store task events (default "
	 "http://127.0.0.1:8000)",
	 "Receives event deliveries at POST /process_background_feedback (Standard Webhooks\n"
	 "signatures with --webhook-secret), stores them deduplicated in its own event store and\n"
	 "serves them: GET /events (filters, cursors), /events/{event_type}, /events/recent,\n"
	 "/events/stream (SSE), /metrics, /openapi.json.  Prints 'listening URL' once bound.",
	 cli_feedback_options, cli_feedback_run, NULL},
	{"chat", "",
	 "the event-driven client: an LLM agent with the MCP tools, and task events live",
	 "A REPL connected to an MCP server (--url, --stdio; by default http://localhost/mcp,\n"
	 "then http://127.0.0.1:8001/mcp, then `ambient mcp` over stdio).  Commands: help, tasks,\n"
	 "events, demo, simulate, wait, status, quit; anything else goes to the agent when an\n"
	 "OpenAI-compatible LLM is configured (OPENAI_API_KEY, OPENAI_API_BASE, OPENAI_MODEL).\n"
	 "Events from the feedback server (--feedback) are shown as they arrive, and the agent\n"
	 "decides whether to tell you.  -c TEXT runs one line; lines are read from a pipe too.\n"
	 "See docs/chat.md.",
	 cli_chat_options, cli_chat_run, NULL},
	{"task", "<subcommand>",
	 "create, list, show, pause, resume, update and delete background tasks", NULL, no_options,
	 NULL, cli_task_commands},
	{"keys", "<subcommand>", "create, list and revoke API keys", NULL, no_options, NULL,
	 cli_keys_commands},
	{"events", "", "print events from the log, one JSON object per line",
	 "Reads the whole log (or one stream) in order; --follow keeps printing new events as "
	 "they\n"
	 "are appended, also by other processes.",
	 cli_events_options, cli_events_run, NULL},
	{"replay", "", "rebuild every projection from the log and report whether it matched",
	 "Folds every event again and compares the result with the stored projections.\n"
	 "Exits 0 when they matched, 3 when the rebuilt state differed (it is then written, unless "
	 "--check).",
	 cli_replay_options, cli_replay_run, NULL},
	{"demo", "", "the whole system end to end on this machine, offline, in one command",
	 "Starts a local news site, a Twilio stand-in, `ambient feedback` and `ambient serve` in a\n"
	 "fresh data directory, creates the seed's example tasks through MCP, moves the site and\n"
	 "a demo clock forward, and prints the events, deliveries, decisions and SMS as they\n"
	 "happen.  Stops on Ctrl-C or after --duration.  See docs/demo.md.",
	 cli_demo_options, cli_demo_run, NULL},
	{"version", "", "print the version", NULL, no_options, run_version, NULL},
	{"help", "[command]", "show help for a command", NULL, no_options, run_help, NULL},
	{NULL},
};

static void print_command_list(FILE *out, const struct cli_command *cmds, const char *prefix)
{
	for (const struct cli_command *c = cmds; c->name; c++) {
		char head[64];
		snprintf(head, sizeof head, "%s%s", prefix, c->name);
		fprintf(out, "  %-18s %s\n", head, c->summary);
	}
}

static void print_help(FILE *out, const struct cli_command *cmd, const char *full)
{
	if (!cmd) {
		fprintf(out,
			"ambient %s - background tasks for AI agents, recorded in an event "
			"store\n\n"
			"Usage: ambient [global options] <command> [options] [args]\n\nCommands:\n",
			AMBIENT_VERSION);
		print_command_list(out, cli_commands, "");
		fprintf(out, "\nGlobal options:\n");
		config_print_help(out, cli_global_options);
		fprintf(out, "\nRun 'ambient <command> --help' for the options of a command.\n");
		return;
	}
	fprintf(out, "Usage: ambient %s%s%s\n\n%s\n", full, *cmd->usage ? " " : "", cmd->usage,
		cmd->summary);
	if (cmd->description)
		fprintf(out, "\n%s\n", cmd->description);
	if (cmd->subcommands) {
		char prefix[64];
		snprintf(prefix, sizeof prefix, "%s ", full);
		fprintf(out, "\nCommands:\n");
		print_command_list(out, cmd->subcommands, prefix);
	}
	if (cmd->options && cmd->options->name) {
		fprintf(out, "\nOptions:\n");
		config_print_help(out, cmd->options);
	}
	fprintf(out, "\nGlobal options:\n");
	config_print_help(out, cli_global_options);
}

static const struct cli_command *find_command(const struct cli_command *cmds, const char *name)
{
	for (const struct cli_command *c = cmds; c && c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static int run_help(struct cli_ctx *ctx)
{
	const struct cli_command *cmd = NULL;
	char full[128] = "";

	if (ctx->nargs > 0) {
		cmd = find_command(cli_commands, ctx->args[0]);
		if (!cmd)
			return cli_usage_error(ctx, "unknown command '%s'", ctx->args[0]);
		snprintf(full, sizeof full, "%s", cmd->name);
		if (ctx->nargs > 1 && cmd->subcommands) {
			const struct cli_command *sub =
				find_command(cmd->subcommands, ctx->args[1]);
			if (!sub)
				return cli_usage_error(ctx, "unknown command '%s %s'", ctx->args[0],
						       ctx->args[1]);
			snprintf(full, sizeof full, "%s %s", cmd->name, sub->name);
			cmd = sub;
		}
	}
	print_help(stdout, cmd, full);
	return CLI_OK;
}

int cli_fail(const struct err *e)
{
	fprintf(stderr, "ambient: %s\n", err_msg(e));
	return CLI_FAIL;
}

int cli_usage_error(struct cli_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "ambient: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	const char *cmd = ctx && ctx->command ? ctx->command : "";
	fprintf(stderr, "\nRun 'ambient %s%s--help' for usage.\n", cmd, *cmd ? " " : "");
	return CLI_USAGE;
}

char *cli_data_dir(struct cli_ctx *ctx)
{
	const char *dir = config_get(&ctx->cfg, "data-dir");
	if (dir)
		return xstrdup(dir);
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	if (xdg && *xdg == '/')
		return xasprintf("%s/ambient", xdg);
	return xasprintf("%s/.local/share/ambient", home && *home ? home : ".");
}

char **cli_split_list(const char *s, char **storage)
{
	*storage = xstrdup(s ? s : "");
	size_t n = 0;
	char **out = xcalloc(strlen(*storage) / 2 + 2, sizeof(*out));
	char *save = NULL;
	for (char *tok = strtok_r(*storage, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (*tok)
			out[n++] = tok;
	}
	out[n] = NULL;
	return out;
}

int cli_parse_listen(struct cli_ctx *ctx, const char *listen, char **host, int *port)
{
	const char *colon = listen ? strrchr(listen, ':') : NULL;
	*host = NULL;
	if (!colon || colon == listen)
		return cli_usage_error(ctx, "--listen wants HOST:PORT, e.g. 127.0.0.1:8001");
	char *end = NULL;
	long p = strtol(colon + 1, &end, 10);
	if (!end || *end || colon[1] == 0 || p < 0 || p > 65535)
		return cli_usage_error(ctx, "--listen: port must be 0-65535");
	char *h = xstrndup(listen, (size_t)(colon - listen));
	size_t n = strlen(h);
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		memmove(h, h + 1, n - 2);
		h[n - 2] = 0;
	}
	*host = h;
	*port = (int)p;
	return CLI_OK;
}

char *cli_read_arg(const char *arg, const char *what, size_t max, struct err *e)
{
	if (arg[0] != '@' && strcmp(arg, "-") != 0)
		return xstrdup(arg);
	FILE *f = strcmp(arg, "-") == 0 ? stdin : fopen(arg + 1, "r");
	if (!f) {
		err_set(e, ERR_INVALID, "cannot read %s from %s: %s", what, arg + 1,
			strerror(errno));
		return NULL;
	}
	struct buf b;
	buf_init(&b, max);
	char chunk[4096], *text = NULL;
	size_t n;
	bool big = false;
	while (!big && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
		big = buf_append(&b, chunk, n) != 0;
	if (big)
		err_set(e, ERR_TOO_BIG, "%s is larger than %zu bytes", what, max);
	else
		text = xstrdup(buf_str(&b));
	if (f != stdin)
		fclose(f);
	buf_cleanup(&b);
	return text;
}

int cli_write_pid_file(const char *path)
{
	FILE *pf = fopen(path, "w");
	bool ok = pf && fprintf(pf, "%d\n", (int)getpid()) > 0;
	if (pf && fclose(pf) != 0)
		ok = false;
	if (ok)
		return CLI_OK;
	struct err e = {0};
	err_set(&e, ERR_IO, "cannot write the pid file %s: %s", path, strerror(errno));
	return cli_fail(&e);
}

int cli_open_store(struct cli_ctx *ctx, bool read_only, struct store **out)
{
	const char *db = config_get(&ctx->cfg, "db");
	struct err e = {0};
	char *url = NULL;
	int rc;

	if (!db) {
		char *dir = cli_data_dir(ctx);
		url = xasprintf("sqlite:%s/ambient.db", dir);
		free(dir);
		db = url;
	}
	rc = app_store_open(db, read_only, out, &e);
	free(url);
	if (rc)
		return cli_fail(&e);
	return CLI_OK;
}

bool cli_store_exists(struct cli_ctx *ctx)
{
	const char *db = config_get(&ctx->cfg, "db");
	bool exists;

	if (db && strncmp(db, "sqlite:", 7) != 0)
		return true; /* a server: ask it */
	if (db) {
		exists = access(db + 7, F_OK) == 0;
	} else {
		char *dir = cli_data_dir(ctx), *path = xasprintf("%s/ambient.db", dir);
		exists = access(path, F_OK) == 0;
		free(path);
		free(dir);
	}
	return exists;
}

bool cli_loopback_host(const char *host)
{
	return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
	       strncmp(host, "127.", 4) == 0;
}

static int setup_logging(struct config *cfg, const char *tag, struct err *e)
{
	int level, format;
	int rc = log_parse_level(config_get(cfg, "log-level"), &level, e);
	if (rc || (rc = log_parse_format(config_get(cfg, "log-format"), &format, e)))
		return rc;
	log_level_current = level;
	log_set_format(format);
	/* --log-file and --log-dir: the one from the stronger source (a flag
	 * beats the environment, which beats the config file) wins. */
	const char *file = config_get(cfg, "log-file"), *dir = config_get(cfg, "log-dir");
	int fs = config_source_of(cfg, "log-file"), ds = config_source_of(cfg, "log-dir");
	if (file && dir && fs == ds)
		return err_set(e, ERR_INVALID,
			       "both --log-file and --log-dir are set; use one (--log-dir writes "
			       "mcp_server.log, event_sourcing.log and event_feedback.log there)");
	if (dir && (!file || ds > fs))
		return log_open_dir(dir, tag, strcmp(tag, "feedback") == 0 ? LOG_DIR_FEEDBACK : 0,
				    e);
	return log_open(file, tag, e);
}

static int load_config_file(struct config *cfg, struct err *e)
{
	const char *path = config_get(cfg, "config-file");
	if (path)
		return config_load_file(cfg, path, true, e);
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char *def = xdg && *xdg == '/'
			    ? xasprintf("%s/ambient/ambient.conf", xdg)
			    : xasprintf("%s/.config/ambient/ambient.conf", home ? home : ".");
	int rc = config_load_file(cfg, def, false, e);
	free(def);
	return rc;
}

int cli_main(int argc, char **argv)
{
	struct cli_ctx ctx = {0};
	const struct cli_command *cmd = NULL;
	struct err e = {0};
	char full[128] = "";
	struct netguard *guard = NULL;
	int next = 1, rc;

	config_init(&ctx.cfg);
	config_add_table(&ctx.cfg, cli_global_options);
	/* Global options, then the command word(s), then the command's options. */
	if ((rc = config_parse_argv(&ctx.cfg, argc, argv, 1, true, &next, &e)))
		goto usage;
	if (ctx.cfg.nargs == 0) {
		print_help(ctx.cfg.help ? stdout : stderr, NULL, "");
		rc = ctx.cfg.help ? CLI_OK : CLI_USAGE;
		goto out;
	}
	cmd = find_command(cli_commands, ctx.cfg.args[0]);
	if (!cmd) {
		rc = cli_usage_error(&ctx, "unknown command '%s'", ctx.cfg.args[0]);
		goto out;
	}
	snprintf(full, sizeof full, "%s", cmd->name);
	if (cmd->subcommands) {
		if ((rc = config_parse_argv(&ctx.cfg, argc, argv, next, true, &next, &e)))
			goto usage;
		if (ctx.cfg.nargs < 2) {
			print_help(ctx.cfg.help ? stdout : stderr, cmd, full);
			rc = ctx.cfg.help ? CLI_OK : CLI_USAGE;
			goto out;
		}
		const struct cli_command *sub = find_command(cmd->subcommands, ctx.cfg.args[1]);
		if (!sub) {
			ctx.command = "";
			rc = cli_usage_error(&ctx, "unknown command '%s %s'", cmd->name,
					     ctx.cfg.args[1]);
			goto out;
		}
		snprintf(full, sizeof full, "%s %s", cmd->name, sub->name);
		cmd = sub;
	}
	ctx.command = full;
	config_add_table(&ctx.cfg, cmd->options);
	if ((rc = config_parse_argv(&ctx.cfg, argc, argv, next, false, NULL, &e)))
		goto usage;
	if (ctx.cfg.help) {
		print_help(stdout, cmd, full);
		rc = CLI_OK;
		goto out;
	}
	if ((rc = config_load_env(&ctx.cfg, &e)) || (rc = load_config_file(&ctx.cfg, &e)) ||
	    (rc = setup_logging(&ctx.cfg, full, &e))) {
		rc = cli_fail(&e);
		goto out;
	}
	/* Task URLs are judged by one policy in every command (create, serve, mcp). */
	if ((rc = netguard_new(config_get(&ctx.cfg, "allow-net"), &guard, &e))) {
		rc = cli_fail(&e);
		goto out;
	}
	app_tasks_set_net_guard(guard);
	size_t words = cmd == find_command(cli_commands, ctx.cfg.args[0]) ? 1 : 2;
	ctx.args = ctx.cfg.args + words;
	ctx.nargs = ctx.cfg.nargs - words;
	rc = cmd->run(&ctx);
	goto out;
usage:
	ctx.command = full;
	rc = cli_usage_error(&ctx, "%s", err_msg(&e));
out:
	app_tasks_set_net_guard(NULL);
	netguard_free(guard);
	config_cleanup(&ctx.cfg);
	log_close();
	return rc;
}
