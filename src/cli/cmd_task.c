/*
 * cmd_task.c - `ambient task create|list|show|pause|resume|update|delete|run`.
 *
 * `create` takes the seed's JSON config as it is: inline, from a file
 * (@PATH) or from standard input (-).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/tasks.h"
#include "cli.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "domain/task.h"

#define CONFIG_TEXT_MAX (1 << 20)

static const struct app_actor cli_actor = {.principal = "cli"};

/* Print a JSON value pretty, followed by a newline. */
static void print_json(const json_t *j)
{
	char *text = json_to_pretty(j);
	puts(text);
	free(text);
}

/* Read "JSON", "@PATH" or "-" (stdin) into a JSON string value (parsed by
 * the domain, with its messages). */
static json_t *read_json_arg(const char *arg, const char *what, struct err *e)
{
	char *text = cli_read_arg(arg, what, CONFIG_TEXT_MAX, e);
	json_t *j = text ? json_string(text) : NULL;
	free(text);
	return j;
}

static const struct config_option create_options[] = {
	{"type", CONFIG_STRING, NULL, NULL, "TYPE",
	 "web_monitor, schedule, news_digest or threshold_watch"},
	{"description", CONFIG_STRING, NULL, NULL, "TEXT", "what the task is for"},
	{"config", CONFIG_STRING, NULL, NULL, "JSON",
	 "the task's config: JSON text, @FILE, or - for stdin"},
	{"callback-url", CONFIG_STRING, "EVENT_FEEDBACK_URL", APP_DEFAULT_CALLBACK_URL, "URL",
	 "where the task's events are delivered"},
	{"user", CONFIG_STRING, NULL, "default", "USER", "the user the task belongs to"},
	{"id", CONFIG_STRING, NULL, NULL, "UUID", "use this task id (default: a new UUID)"},
	{NULL},
};

static int run_create(struct cli_ctx *ctx)
{
	const char *type = config_get(&ctx->cfg, "type");
	const char *desc = config_get(&ctx->cfg, "description");
	const char *config_arg = config_get(&ctx->cfg, "config");
	struct store *s = NULL;
	struct err e = {0};
	json_t *config = NULL, *task = NULL;
	int rc;

	/* Also accept: ambient task create TYPE DESCRIPTION CONFIG */
	if (ctx->nargs > 3)
		return cli_usage_error(ctx, "too many arguments");
	if (ctx->nargs > 0 && !type)
		type = ctx->args[0];
	if (ctx->nargs > 1 && !desc)
		desc = ctx->args[1];
	if (ctx->nargs > 2 && !config_arg)
		config_arg = ctx->args[2];
	if (!type || !desc || !config_arg)
		return cli_usage_error(ctx, "create needs --type, --description and --config");
	if (!(config = read_json_arg(config_arg, "the config", &e)))
		return cli_fail(&e);
	if ((rc = cli_open_store(ctx, false, &s)))
		goto out;
	if (app_task_create(s, &cli_actor, config_get(&ctx->cfg, "id"), type, desc, config,
			    config_get(&ctx->cfg, "callback-url"), config_get(&ctx->cfg, "user"),
			    &task, &e)) {
		rc = cli_fail(&e);
		goto out;
	}
	print_json(task);
out:
	json_decref(config);
	json_decref(task);
	store_close(s);
	return rc;
}

static const struct config_option list_options[] = {
	{"user", CONFIG_STRING, NULL, NULL, "USER", "only this user's tasks (admin: all)"},
	{"status", CONFIG_STRING, NULL, NULL, "STATUS",
	 "only tasks in this status: active or paused"},
	{"json", CONFIG_BOOL, NULL, NULL, NULL, "print a JSON array instead of a table"},
	{NULL},
};

static int run_list(struct cli_ctx *ctx)
{
	const char *status = config_get(&ctx->cfg, "status");
	struct store *s = NULL;
	struct err e = {0};
	json_t *tasks = NULL, *t;
	size_t i;
	int rc;

	if (ctx->nargs)
		return cli_usage_error(ctx, "list takes no arguments");
	if (status && strcmp(status, "active") != 0 && strcmp(status, "paused") != 0)
		return cli_usage_error(ctx, "--status must be active or paused, not '%s'", status);
	if ((rc = cli_open_store(ctx, false, &s)))
		return rc;
	if (app_task_list(s, config_get(&ctx->cfg, "user"), status, &tasks, &e)) {
		rc = cli_fail(&e);
		goto out;
	}
	if (config_get_bool(&ctx->cfg, "json")) {
		print_json(tasks);
		goto out;
	}
	printf("%-36s  %-15s  %-7s  %-10s  %s\n", "TASK ID", "TYPE", "STATUS", "USER",
	       "DESCRIPTION");
	json_array_foreach(tasks, i, t) {
		printf("%-36s  %-15s  %-7s  %-10s  %s\n", json_get_str(t, "task_id"),
		       json_get_str(t, "task_type"), json_get_str(t, "status"),
		       json_get_str(t, "user_id"), json_get_str(t, "description"));
	}
	printf("(%zu task%s)\n", json_array_size(tasks), json_array_size(tasks) == 1 ? "" : "s");
out:
	json_decref(tasks);
	store_close(s);
	return rc;
}

/* show, pause, resume and delete take exactly one task id. */
static int one_id(struct cli_ctx *ctx, const char **id)
{
	if (ctx->nargs != 1)
		return cli_usage_error(ctx, "give exactly one task id");
	*id = ctx->args[0];
	return CLI_OK;
}

static int run_show(struct cli_ctx *ctx)
{
	struct store *s = NULL;
	struct err e = {0};
	json_t *task = NULL;
	const char *id = NULL;
	int rc;

	if ((rc = one_id(ctx, &id)) || (rc = cli_open_store(ctx, false, &s)))
		return rc;
	if (app_task_get(s, id, &task, &e))
		rc = cli_fail(&e);
	else
		print_json(task);
	json_decref(task);
	store_close(s);
	return rc;
}

static const struct config_option pause_options[] = {
	{"reason", CONFIG_STRING, NULL, NULL, "TEXT",
	 "why the task is paused (recorded in the event)"},
	{NULL},
};

/* Shared tail of pause/resume/delete: report and print the result. */
static int lifecycle_done(int rc, const struct err *e, const char *id, const char *verb,
			  bool changed, json_t *task)
{
	if (rc)
		return cli_fail(e);
	if (changed)
		printf("Task %s %s\n", id, verb);
	else
		printf("Task %s is already %s; nothing changed\n", id, verb);
	print_json(task);
	return CLI_OK;
}

static int run_pause(struct cli_ctx *ctx)
{
	struct store *s = NULL;
	struct err e = {0};
	json_t *task = NULL;
	bool changed;
	const char *id = NULL;
	int rc;

	if ((rc = one_id(ctx, &id)) || (rc = cli_open_store(ctx, false, &s)))
		return rc;
	rc = app_task_pause(s, &cli_actor, id, config_get(&ctx->cfg, "reason"), &changed, &task,
			    &e);
	rc = lifecycle_done(rc, &e, id, "paused", changed, task);
	json_decref(task);
	store_close(s);
	return rc;
}

static int run_resume(struct cli_ctx *ctx)
{
	struct store *s = NULL;
	struct err e = {0};
	json_t *task = NULL;
	bool changed;
	const char *id = NULL;
	int rc;

	if ((rc = one_id(ctx, &id)) || (rc = cli_open_store(ctx, false, &s)))
		return rc;
	rc = app_task_resume(s, &cli_actor, id, &changed, &task, &e);
	rc = lifecycle_done(rc, &e, id, changed ? "resumed" : "active", changed, task);
	json_decref(task);
	store_close(s);
	return rc;
}

static const struct config_option update_options[] = {
	{"description", CONFIG_STRING, NULL, NULL, "TEXT", "new description"},
	{"config", CONFIG_STRING, NULL, NULL, "JSON",
	 "new config: JSON text, @FILE, or - for stdin"},
	{"callback-url", CONFIG_STRING, NULL, NULL, "URL", "new callback URL"},
	{NULL},
};

static int run_update(struct cli_ctx *ctx)
{
	const char *config_arg = config_get(&ctx->cfg, "config");
	struct store *s = NULL;
	struct err e = {0};
	json_t *changes = json_object(), *task = NULL;
	bool changed;
	const char *id = NULL;
	int rc;

	if ((rc = one_id(ctx, &id)))
		goto out;
	if (config_get(&ctx->cfg, "description"))
		json_object_set_new(changes, "description",
				    json_string(config_get(&ctx->cfg, "description")));
	if (config_get(&ctx->cfg, "callback-url"))
		json_object_set_new(changes, "callback_url",
				    json_string(config_get(&ctx->cfg, "callback-url")));
	if (config_arg) {
		json_t *c = read_json_arg(config_arg, "the config", &e);
		if (!c) {
			rc = cli_fail(&e);
			goto out;
		}
		json_object_set_new(changes, "config", c);
	}
	if (json_object_size(changes) == 0) {
		rc = cli_usage_error(
			ctx, "give at least one of --description, --config, --callback-url");
		goto out;
	}
	if ((rc = cli_open_store(ctx, false, &s)))
		goto out;
	rc = app_task_update(s, &cli_actor, id, changes, &changed, &task, &e);
	if (rc) {
		rc = cli_fail(&e);
		goto out;
	}
	printf(changed ? "Task %s updated\n"
		       : "Task %s already had these settings; nothing changed\n",
	       id);
	print_json(task);
out:
	json_decref(changes);
	json_decref(task);
	store_close(s);
	return rc;
}

static int run_delete(struct cli_ctx *ctx)
{
	struct store *s = NULL;
	struct err e = {0};
	const char *id = NULL;
	int rc;

	if ((rc = one_id(ctx, &id)) || (rc = cli_open_store(ctx, false, &s)))
		return rc;
	if (app_task_delete(s, &cli_actor, id, NULL, &e))
		rc = cli_fail(&e);
	else
		printf("Task %s deleted\n", id);
	store_close(s);
	return rc;
}

static const struct config_option run_options[] = {
	{"reason", CONFIG_STRING, NULL, NULL, "TEXT",
	 "why the check is wanted (recorded in the event)"},
	{NULL},
};

/* Records task_run_requested; the engine (ambient serve) runs the check. */
static int run_run(struct cli_ctx *ctx)
{
	struct store *s = NULL;
	struct err e = {0};
	json_t *result = NULL;
	const char *id = NULL;
	int rc;

	if ((rc = one_id(ctx, &id)) || (rc = cli_open_store(ctx, false, &s)))
		return rc;
	if (app_task_run_now(s, &cli_actor, id, config_get(&ctx->cfg, "reason"), &result, &e)) {
		rc = cli_fail(&e);
	} else {
		printf("Run of task %s requested (event %s at version %lld); the task engine "
		       "(ambient serve) runs one check when it picks the request up\n",
		       id, TASK_EV_RUN_REQUESTED, (long long)json_get_int(result, "version", 0));
		print_json(result);
	}
	json_decref(result);
	store_close(s);
	return rc;
}

static const struct config_option no_options[] = {{NULL}};

const struct cli_command cli_task_commands[] = {
	{"create", "[TYPE DESCRIPTION CONFIG]", "create a background task",
	 "CONFIG is the task's JSON config, e.g. the seed's\n"
	 "  "
	 "'{\"urls\":[\"https://"
	 "techcrunch.com\"],\"keywords\":[\"AI\"],\"check_interval_minutes\":30}'\n"
	 "Types: web_monitor, schedule, news_digest, threshold_watch (see docs/tasks.md).",
	 create_options, run_create, NULL},
	{"list", "", "list current tasks", NULL, list_options, run_list, NULL},
	{"show", "TASK_ID", "show one task's state, folded from its events", NULL, no_options,
	 run_show, NULL},
	{"pause", "TASK_ID", "pause a task (a paused task stays paused)", NULL, pause_options,
	 run_pause, NULL},
	{"resume", "TASK_ID", "resume a paused task", NULL, no_options, run_resume, NULL},
	{"update", "TASK_ID", "change a task's description, config or callback URL", NULL,
	 update_options, run_update, NULL},
	{"delete", "TASK_ID", "delete a task (its events stay in the log)", NULL, no_options,
	 run_delete, NULL},
	{"run", "TASK_ID", "ask the engine to check a task once now, outside its schedule",
	 "Records task_run_requested; a running engine (ambient serve) runs one check when it\n"
	 "picks the request up, and the check's events follow in the task's stream.\n"
	 "A paused task is refused: resume it first.",
	 run_options, run_run, NULL},
	{NULL},
};
