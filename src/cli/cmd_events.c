/*
 * cmd_events.c - `ambient events`: the log, one JSON object per line.
 *
 * With --follow it is a live subscription: it prints what is there, then
 * every new event as it is appended (by this or another process), until
 * interrupted.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/json.h"

const struct config_option cli_events_options[] = {
	{"stream", CONFIG_STRING, NULL, NULL, "STREAM", "only this stream, e.g. task-<id>"},
	{"type", CONFIG_STRING, NULL, NULL, "TYPE", "only events of this type, e.g. task_created"},
	{"after", CONFIG_INT, NULL, "0", "POS", "only events after this global position", 0, INT64_MAX},
	{"limit", CONFIG_INT, NULL, "0", "N", "print at most N events (0: no limit)", 0, INT64_MAX},
	{"follow", CONFIG_BOOL, NULL, NULL, NULL, "keep printing new events as they are appended"},
	{NULL},
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void print_event(const struct store_event *ev)
{
	json_t *j = store_event_to_json(ev);
	char *text = json_to_text(j);
	puts(text);
	free(text);
	json_decref(j);
}

int cli_events_run(struct cli_ctx *ctx)
{
	struct store_filter f = {
		.stream = config_get(&ctx->cfg, "stream"),
		.type = config_get(&ctx->cfg, "type"),
	};
	long long limit = config_get_int(&ctx->cfg, "limit");
	bool follow = config_get_bool(&ctx->cfg, "follow");
	struct store *s = NULL;
	struct store_sub *sub;
	struct err e = {0};
	long long printed = 0;
	int rc;

	if (ctx->nargs)
		return cli_usage_error(ctx, "events takes no arguments (use --stream, --type)");
	if ((rc = cli_open_store(ctx, false, &s)))
		return rc;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	sub = store_subscribe(s, NULL, config_get_int(&ctx->cfg, "after"), &f);
	while (!stop && (!limit || printed < limit)) {
		struct store_event_list evs = {0};
		size_t want = limit ? (size_t)(limit - printed) : 0;
		if (!want || want > 500)
			want = 500;
		rc = store_sub_next(sub, want, follow ? 200 : 0, &evs, &e);
		for (size_t i = 0; i < evs.count; i++)
			print_event(&evs.items[i]);
		printed += (long long)evs.count;
		store_event_list_cleanup(&evs);
		if (fflush(stdout) != 0 || ferror(stdout))
			break; /* the reader went away */
		if (rc == ERR_TIMEOUT) {
			rc = ERR_OK;
			if (!follow)
				break;
		} else if (rc) {
			rc = cli_fail(&e);
			break;
		}
	}
	store_sub_free(sub);
	store_close(s);
	return rc;
}
