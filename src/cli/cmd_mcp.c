/*
 * cmd_mcp.c - `ambient mcp`: MCP over stdio for desktop clients (Claude
 * Desktop, Claude Code, Cursor, ...).  stdout carries only protocol
 * messages; logs go to stderr or --log-file.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "app/mcp_app.h"
#include "cli.h"
#include "common/log.h"
#include "mcp/server.h"
#include "transport/stdio_server.h"

const char cli_mcp_instructions[] =
	"ambient runs background tasks that keep working after this conversation ends: "
	"web_monitor (watch pages for keywords), schedule (daily/interval/cron reminders), "
	"news_digest (a daily digest of news sites) and threshold_watch (a metric against a "
	"threshold). Create one with create_background_task; read event://config/examples for "
	"a working config of each type. What the tasks find is recorded as events "
	"(get_task_events, get_recent_events) and delivered to the task's callback_url.";

const struct config_option cli_mcp_options[] = {
	{NULL},
};

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

int cli_mcp_run(struct cli_ctx *ctx)
{
	if (ctx->nargs)
		return cli_usage_error(ctx, "mcp takes no arguments");
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct store *s = NULL;
	int rc = cli_open_store(ctx, false, &s);
	if (rc)
		return rc;
	struct err e = {0};
	struct mcp_server_options so = {
		.name = "ambient",
		.title = "ambient - background tasks for AI agents",
		.version = AMBIENT_VERSION,
		.instructions = cli_mcp_instructions,
	};
	struct mcp_server *srv = mcp_server_new(&so);
	struct app_mcp *app = app_mcp_new(s, NULL);
	rc = CLI_FAIL;
	if (app_mcp_register(app, srv, &e) || app_mcp_watch_start(app, srv, &e)) {
		cli_fail(&e);
		goto out;
	}
	struct stdio_server_options io = {.stop = &stop_requested};
	if (stdio_server_run(srv, &io, &e)) {
		cli_fail(&e);
		goto out;
	}
	rc = CLI_OK;
out:
	app_mcp_free(app);
	mcp_server_free(srv);
	store_close(s);
	return rc;
}
