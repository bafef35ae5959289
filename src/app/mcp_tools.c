/*
 * mcp_tools.c - ambient's MCP tools as rows: name, description, input and
 * output schema, annotations, handler.
 *
 * The first six are the original system's tools with its parameter names,
 * defaults and result shapes (ORIGIN.md section 1); the rest are new.  A
 * successful result is the original's JSON text {status: "success", action,
 * data, message, timestamp} (Python json.dumps style, see app_mcp_dumps)
 * plus the same object as structuredContent, which the outputSchema
 * describes.  A failure is an isError result whose text is the original's
 * error shape {status: "error", action, error, timestamp}; the error says
 * what was wrong and what to call instead, for the model to correct itself.
 *
 * Arguments reach the handlers checked against the inputSchema, so types
 * and enumerations need no second check here; values (configs, URLs) are
 * judged by the domain, whose messages name the field.
 */
#include "mcp_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "common/uuid.h"
#include "common/xalloc.h"
#include "domain/event_types.h"
#include "domain/task.h"

#define EVENTS_LIMIT_DEFAULT 50
#define EVENTS_LIMIT_MAX 500
#define RECENT_LIMIT_DEFAULT 20
#define RECENT_LIMIT_MAX 200
#define RECENT_SCAN_MAX 20000 /* events looked at for one get_recent_events call */
#define RECENT_BATCH 200
#define APPEND_RETRIES 5

/* ---- schema pieces ---------------------------------------------------------
 * JSON text.  Descriptions inside schemas quote values with '...' so that
 * they need no escaping. */

#define S_TASK_TYPES "[\"web_monitor\", \"schedule\", \"news_digest\", \"threshold_watch\"]"

#define P_TASK_ID                                                                                  \
	"\"task_id\": {\"type\": \"string\", \"description\": \"The task's id (a UUID), as "       \
	"returned by create_background_task or list_background_tasks.\"}"

#define P_USER_ID                                                                                  \
	"\"user_id\": {\"type\": \"string\", \"default\": \"default\", \"description\": "          \
	"\"Who the task belongs to; default 'default'. Users only see and change their own "       \
	"tasks; 'admin' sees and changes everyone's.\"}"

#define S_NULLABLE_STRING "{\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"null\"}]}"

#define S_TASK_SUMMARY                                                                             \
	"{\"type\": \"object\", \"properties\": {"                                                 \
	"\"task_id\": {\"type\": \"string\"}, "                                                    \
	"\"task_type\": {\"type\": \"string\", \"enum\": " S_TASK_TYPES "}, "                      \
	"\"description\": {\"type\": \"string\"}, "                                                \
	"\"status\": {\"type\": \"string\", \"enum\": [\"active\", \"paused\"]}, "                 \
	"\"created_at\": {\"type\": \"string\"}, "                                                 \
	"\"last_check\": " S_NULLABLE_STRING ", "                                                  \
	"\"config\": {\"type\": \"object\"}, "                                                     \
	"\"user_id\": {\"type\": \"string\"}, "                                                    \
	"\"callback_url\": {\"type\": \"string\"}, "                                               \
	"\"paused_reason\": {\"type\": \"string\"}}, "                                             \
	"\"required\": [\"task_id\", \"task_type\", \"description\", \"status\", \"config\"]}"

#define S_TASK_STATE                                                                               \
	"{\"type\": \"object\", \"properties\": {"                                                 \
	"\"task_id\": {\"type\": \"string\"}, "                                                    \
	"\"task_type\": {\"type\": \"string\", \"enum\": " S_TASK_TYPES "}, "                      \
	"\"description\": {\"type\": \"string\"}, "                                                \
	"\"config\": {\"type\": \"object\"}, "                                                     \
	"\"callback_url\": " S_NULLABLE_STRING ", "                                                \
	"\"user_id\": {\"type\": \"string\"}, "                                                    \
	"\"status\": {\"type\": \"string\", \"enum\": [\"active\", \"paused\", \"deleted\"]}, "    \
	"\"created_at\": {\"type\": \"string\"}, "                                                 \
	"\"updated_at\": {\"type\": \"string\"}, "                                                 \
	"\"paused_reason\": {\"type\": \"string\"}, "                                              \
	"\"version\": {\"type\": \"integer\"}}, "                                                  \
	"\"required\": [\"task_id\", \"task_type\", \"description\", \"config\", \"user_id\", "    \
	"\"status\", \"version\"]}"

#define S_EVENT                                                                                    \
	"{\"type\": \"object\", \"properties\": {"                                                 \
	"\"position\": {\"type\": \"integer\"}, "                                                  \
	"\"event_id\": {\"type\": \"string\"}, "                                                   \
	"\"stream\": {\"type\": \"string\"}, "                                                     \
	"\"version\": {\"type\": \"integer\"}, "                                                   \
	"\"type\": {\"type\": \"string\"}, "                                                       \
	"\"data\": {\"type\": \"object\"}, "                                                       \
	"\"metadata\": {\"type\": \"object\"}, "                                                   \
	"\"recorded_at\": {\"type\": \"string\"}, "                                                \
	"\"task_id\": " S_NULLABLE_STRING ", "                                                     \
	"\"priority\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 4}}, "                 \
	"\"required\": [\"position\", \"event_id\", \"stream\", \"version\", \"type\", "           \
	"\"data\", \"recorded_at\"]}"

/* The original's result object around a tool's data schema. */
#define OUT(action, data_schema)                                                                   \
	"{\"type\": \"object\", \"properties\": {"                                                 \
	"\"status\": {\"type\": \"string\", \"enum\": [\"success\"]}, "                            \
	"\"action\": {\"type\": \"string\", \"enum\": [\"" action "\"]}, "                         \
	"\"data\": " data_schema ", "                                                              \
	"\"message\": {\"type\": \"string\"}, "                                                    \
	"\"timestamp\": {\"type\": \"string\", \"description\": \"Server local time, ISO-8601 "    \
	"without zone, e.g. 2025-06-20T21:03:24.283615\"}}, "                                      \
	"\"required\": [\"status\", \"action\", \"data\", \"timestamp\"]}"

/* Annotations: readOnly, destructive, idempotent, openWorld. */
#define ANN(ro, de, id, ow)                                                                        \
	"{\"readOnlyHint\": " ro ", \"destructiveHint\": " de ", \"idempotentHint\": " id          \
	", \"openWorldHint\": " ow "}"

static bool engine_running(struct app_mcp *a)
{
	struct app_mcp_engine_status st;

	app_mcp_engine(a, &st);
	return st.running;
}

#define NO_ENGINE_NOTE                                                                             \
	"No task engine is running right now, so nothing is being checked until `ambient "         \
	"serve` runs"

/* ---- create_background_task -------------------------------------------------- */

#define CREATE_DESC                                                                                \
	"Create a background task that keeps running on the server after this conversation "       \
	"ends. It watches web pages (web_monitor), fires on a schedule (schedule), writes a "      \
	"daily news digest (news_digest) or watches a number (threshold_watch); what it finds "    \
	"is recorded as events, delivered to callback_url, and sent to a person when "             \
	"config.notification is set. Returns the new task_id; see its events with "                \
	"get_task_events.\n\n"                                                                     \
	"config by task_type (defaults in brackets; keys not listed, such as message or "          \
	"action, are kept and travel with the events):\n"                                          \
	"- web_monitor: urls (required, http(s) URLs), keywords [[] = any change], "               \
	"keywords_mode any|all [any], check_interval_minutes 1-10080 [30], selector (CSS), "       \
	"ignore_text, notify_on_first_check [false]. Example: {\"urls\": "                         \
	"[\"https://techcrunch.com\"], \"keywords\": [\"artificial intelligence\", \"AI\"], "      \
	"\"check_interval_minutes\": 30, \"notification\": {\"method\": \"send_sms\", "            \
	"\"phone_number\": \"+1234567890\"}}\n"                                                    \
	"- schedule: type (required) daily|interval|weekly|once|cron. daily: hour 0-23 [8], "      \
	"minute [0]; interval: minutes [60]; weekly: days (e.g. [\"mon\", \"fri\"]), hour, "       \
	"minute; once: at (ISO date-time); cron: expression (5 fields). Optional timezone "        \
	"(IANA, e.g. \"Europe/Berlin\"; default server local time). Put reminder text in "         \
	"message. Example: {\"type\": \"daily\", \"hour\": 9, \"minute\": 0, \"message\": "        \
	"\"Check my project status\"}\n"                                                           \
	"- news_digest: news_urls [[\"https://techcrunch.com\", "                                  \
	"\"https://news.ycombinator.com\"]], hour [8], minute [0], timezone, categories, "         \
	"max_items 1-100 [10]. Example: {\"news_urls\": [\"https://techcrunch.com\", "             \
	"\"https://news.ycombinator.com\"], \"hour\": 8}\n"                                        \
	"- threshold_watch: metric (a name) and/or metric_url (returns the value; use "            \
	"json_path like \"$.data.price\" or regex to find it), threshold (required; "              \
	"threshold_value is accepted too), comparison above|below|crosses_above|crosses_below "    \
	"[above], check_interval_minutes [15]. Example: {\"metric\": \"bitcoin_price\", "          \
	"\"threshold\": 50000, \"check_interval_minutes\": 15}\n"                                  \
	"notification (any type): {\"method\": \"send_sms\", \"phone_number\": "                   \
	"\"+1234567890\"} or {\"method\": \"send_email\", \"email\": \"me@example.com\"} or "      \
	"{\"method\": \"webhook\", \"url\": \"https://...\"}.\n"                                   \
	"The resource event://config/examples holds a working config for every type."

#define CREATE_IN                                                                                  \
	"{\"type\": \"object\", \"properties\": {"                                                 \
	"\"task_type\": {\"type\": \"string\", \"enum\": " S_TASK_TYPES ", \"description\": "      \
	"\"What the task does: web_monitor (watch pages for changes/keywords), schedule "          \
	"(reminders and timed triggers), news_digest (daily headlines), threshold_watch "          \
	"(alert when a number crosses a threshold).\"}, "                                          \
	"\"description\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 1000, "          \
	"\"description\": \"What the task is for, in the user's words, e.g. 'Monitor "             \
	"TechCrunch for AI articles'.\"}, "                                                        \
	"\"config\": {\"anyOf\": [{\"type\": \"object\"}, {\"type\": \"string\"}], "               \
	"\"description\": \"The task's settings as a JSON object (a string holding JSON is "       \
	"accepted too); the fields of each task_type are listed in the tool description.\", "      \
	"\"examples\": [{\"urls\": [\"https://techcrunch.com\"], \"keywords\": [\"AI\"], "         \
	"\"check_interval_minutes\": 30}, {\"type\": \"daily\", \"hour\": 9, \"minute\": 0, "      \
	"\"message\": \"Check project status\"}]}, "                                               \
	"\"callback_url\": {\"type\": \"string\", \"default\": "                                   \
	"\"http://localhost:8000/process_background_feedback\", \"description\": \"Where the "     \
	"task's events are POSTed (the feedback server). Leave it out for the "                    \
	"default.\"}, " P_USER_ID "}, "                                                            \
	"\"required\": [\"task_type\", \"description\", \"config\"], "                             \
	"\"additionalProperties\": false}"

#define CREATE_OUT                                                                                 \
	OUT("create_background_task",                                                              \
	    "{\"type\": \"object\", \"properties\": {"                                             \
	    "\"task_id\": {\"type\": \"string\"}, "                                                \
	    "\"description\": {\"type\": \"string\"}, "                                            \
	    "\"task_type\": {\"type\": \"string\", \"enum\": " S_TASK_TYPES "}, "                  \
	    "\"status\": {\"type\": \"string\", \"enum\": [\"active\"]}, "                         \
	    "\"config\": {\"type\": \"object\", \"description\": \"The stored config, "            \
	    "defaults filled in.\"}, "                                                             \
	    "\"user_id\": {\"type\": \"string\"}, "                                                \
	    "\"callback_url\": {\"type\": \"string\"}, "                                           \
	    "\"created_at\": {\"type\": \"string\"}}, "                                            \
	    "\"required\": [\"task_id\", \"description\", \"task_type\", \"status\"]}")

/* Whether a domain message is about the config (then an example helps). */
static bool about_config(const char *msg)
{
	return strncmp(msg, "config", 6) == 0 || strncmp(msg, "Invalid JSON in config", 22) == 0;
}

static json_t *create_failure(struct app_mcp *a, const char *type_name, const struct err *le)
{
	static const char *action = "create_background_task";
	int type;

	if (task_type_parse(type_name, &type, NULL) != ERR_OK)
		return app_mcp_failure(a, action,
				       "%s. Example: task_type \"web_monitor\" with config %s; see "
				       "event://config/examples for every type",
				       err_msg(le), app_mcp_example(TASK_WEB_MONITOR)->config);
	if (le->code == ERR_INVALID && about_config(le->msg))
		return app_mcp_failure(a, action, "%s. A working %s config: %s", err_msg(le),
				       type_name, app_mcp_example(type)->config);
	if (le->code == ERR_INVALID)
		return app_mcp_failure(a, action, "%s", err_msg(le));
	return app_mcp_failure(a, action, "Failed to create background task: %s", err_msg(le));
}

static int tool_create(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	struct app_mcp *a = app_mcp_from_call(call);
	const char *user = app_mcp_user(a, call, args);
	const char *type = json_get_str(args, "task_type");
	const char *desc = json_get_str(args, "description");
	char principal[APP_MCP_PRINCIPAL_MAX], msg[1300];
	struct app_actor who;
	struct err le = {0};
	json_t *task = NULL, *d;

	(void)e;
	app_mcp_actor(user, principal, &who);
	if (app_task_create(a->store, &who, NULL, type, desc, json_object_get(args, "config"),
			    json_get_str(args, "callback_url"), user, &task, &le)) {
		*result = create_failure(a, type, &le);
		return ERR_OK;
	}
	d = json_object();
	json_object_set_new(d, "task_id", json_string(json_get_str(task, "task_id")));
	json_object_set_new(d, "description", json_string(json_get_str(task, "description")));
	json_object_set_new(d, "task_type", json_string(json_get_str(task, "task_type")));
	json_object_set_new(d, "status", json_string(task_state_status(task)));
	json_object_set(d, "config", json_object_get(task, "config"));
	json_object_set_new(d, "user_id", json_string(json_get_str(task, "user_id")));
	json_object_set_new(d, "callback_url",
			    json_string(json_get_str(task, "callback_url")
						? json_get_str(task, "callback_url")
						: APP_DEFAULT_CALLBACK_URL));
	json_object_set_new(d, "created_at", app_mcp_local_time(json_get_str(task, "created_at")));
	snprintf(msg, sizeof msg, "Background task '%s' created and will run in background%s",
		 json_get_str(task, "description"),
		 engine_running(a) ? "" : " (" NO_ENGINE_NOTE ")");
	log_info("mcp: task %s created by %s", json_get_str(task, "task_id"), principal);
	json_decref(task);
	*result = app_mcp_success(a, "create_background_task", d, msg);
	return ERR_OK;
}

/* ---- list_background_tasks ----------------------------------------------------- */

#define LIST_DESC                                                                                  \
	"List the user's background tasks with their config and status (newest last). "            \
	"Filter by status or task_type. Use it to find a task_id for pause, resume, update, "      \
	"run_task_now or delete."

#define LIST_IN                                                                                    \
	"{\"type\": \"object\", \"properties\": {" P_USER_ID ", "                                  \
	"\"status\": {\"type\": \"string\", \"enum\": [\"active\", \"paused\"], "                  \
	"\"description\": \"Only tasks with this status (default: all).\"}, "                      \
	"\"task_type\": {\"type\": \"string\", \"enum\": " S_TASK_TYPES ", \"description\": "      \
	"\"Only tasks of this type (default: all).\"}}, "                                          \
	"\"additionalProperties\": false}"

#define LIST_OUT                                                                                   \
	OUT("list_background_tasks",                                                               \
	    "{\"type\": \"object\", \"properties\": {"                                             \
	    "\"tasks\": {\"type\": \"array\", \"items\": " S_TASK_SUMMARY "}, "                    \
	    "\"total_tasks\": {\"type\": \"integer\"}}, "                                          \
	    "\"required\": [\"tasks\", \"total_tasks\"]}")

static int tool_list(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	struct app_mcp *a = app_mcp_from_call(call);
	const char *user = app_mcp_user(a, call, args);
	const char *type = json_get_str(args, "task_type");
	const char *status = json_get_str(args, "status");
	json_t *tasks = NULL, *out, *t, *d;
	struct err le = {0};
	char msg[400];
	size_t i;

	(void)e;
	/* The list as rendered at this stamp of the tasks projection, when it
	 * is (mcp_list_cache.c). */
	int64_t head = -1;
	char *key = app_list_cache_key(user, status, type);
	struct app_list_render *lr;
	if (store_checkpoint_get(a->store, STORE_PROJECTION_STAMP APP_TASKS_PROJECTION, &head,
				 &le) != ERR_OK)
		head = -1;
	if (head >= 0 && (lr = app_list_cache_get(a->list_cache, key, head))) {
		char *text = app_list_render_result(a, "list_background_tasks", lr);
		app_list_render_unref(lr);
		if (text) {
			free(key);
			*result = NULL;
			mcp_call_set_result_text(call, text);
			return ERR_OK;
		}
	}
	if (app_task_list(a->store, user, status, &tasks, &le)) {
		free(key);
		*result = app_mcp_failure(a, "list_background_tasks",
					  "Failed to list background tasks: %s", err_msg(&le));
		return ERR_OK;
	}
	out = json_array();
	json_array_foreach(tasks, i, t) {
		if (type && strcmp(type, json_get_str(t, "task_type") ? json_get_str(t, "task_type")
								      : "") != 0)
			continue;
		json_array_append_new(out, app_mcp_task_summary(t, 0));
	}
	json_decref(tasks);
	if (json_array_size(out) == 0)
		snprintf(msg, sizeof msg,
			 "No background tasks%s for user_id '%.100s'; create one with "
			 "create_background_task",
			 json_get_str(args, "status") || type ? " matching the filter" : "", user);
	else
		snprintf(msg, sizeof msg, "%zu background task%s", json_array_size(out),
			 json_array_size(out) == 1 ? "" : "s");
	d = json_object();
	json_object_set_new(d, "tasks", out);
	json_object_set_new(d, "total_tasks", json_integer((json_int_t)json_array_size(out)));
	if (head >= 0 && (lr = app_list_render_new(d, msg))) {
		app_list_cache_put(a->list_cache, key, head, lr);
		app_list_render_unref(lr);
	}
	free(key);
	*result = app_mcp_success(a, "list_background_tasks", d, msg);
	return ERR_OK;
}

/* ---- pause / resume / delete ------------------------------------------------------ */

enum lifecycle_cmd { LC_PAUSE, LC_RESUME, LC_DELETE };

struct lifecycle {
	const char *action, *verb, *done, *gerund;
};

static const struct lifecycle lifecycles[] = {
	[LC_PAUSE] = {"pause_background_task", "pause", "paused", "pausing"},
	[LC_RESUME] = {"resume_background_task", "resume", "resumed", "resuming"},
	[LC_DELETE] = {"delete_background_task", "delete", "deleted", "deleting"},
};

#define TASK_ID_IN(extra)                                                                          \
	"{\"type\": \"object\", \"properties\": {" P_TASK_ID ", " P_USER_ID extra "}, "            \
	"\"required\": [\"task_id\"], \"additionalProperties\": false}"

#define LIFECYCLE_OUT(action, statuses)                                                            \
	OUT(action, "{\"type\": \"object\", \"properties\": {"                                     \
		    "\"task_id\": {\"type\": \"string\"}, "                                        \
		    "\"status\": {\"type\": \"string\", \"enum\": " statuses "}, "                 \
		    "\"changed\": {\"type\": \"boolean\", \"description\": \"false when the "      \
		    "task already was in that state (nothing was recorded)\"}}, "                  \
		    "\"required\": [\"task_id\", \"status\", \"changed\"]}")

/* The task exists, is the user's and is not deleted; else *result gets the
 * original's failure and false is returned. */
static bool lifecycle_allowed(struct app_mcp *a, const struct lifecycle *lc, const char *user,
			      const char *id, json_t **result)
{
	struct err le = {0};
	json_t *task = NULL;
	int rc = app_mcp_load_task(a, user, id, true, &task, &le);

	if (rc == ERR_NOT_FOUND) {
		*result = app_mcp_failure(
			a, lc->action,
			"Failed to %s task %.100s - not found or access denied. Call "
			"list_background_tasks with the same user_id to see the task ids "
			"you can use",
			lc->verb, id);
		return false;
	}
	if (rc) {
		*result = app_mcp_failure(a, lc->action, "Error %s task: %s", lc->gerund,
					  err_msg(&le));
		return false;
	}
	if (task_state_is_deleted(task)) {
		json_decref(task);
		*result = app_mcp_failure(
			a, lc->action,
			"Failed to %s task %s - it was deleted; deleted tasks cannot be "
			"changed (create a new one)",
			lc->verb, id);
		return false;
	}
	json_decref(task);
	return true;
}

static int lifecycle(struct mcp_call *call, const json_t *args, enum lifecycle_cmd cmd,
		     json_t **result)
{
	const struct lifecycle *lc = &lifecycles[cmd];
	struct app_mcp *a = app_mcp_from_call(call);
	const char *user = app_mcp_user(a, call, args);
	const char *id = json_get_str(args, "task_id");
	char principal[APP_MCP_PRINCIPAL_MAX], msg[ERR_MSG_MAX + 200];
	struct app_actor who;
	struct err le = {0};
	json_t *task = NULL, *d;
	bool changed = true;
	int rc = ERR_OK;

	if (!lifecycle_allowed(a, lc, user, id, result))
		return ERR_OK;
	app_mcp_actor(user, principal, &who);
	if (rc == ERR_OK) {
		switch (cmd) {
		case LC_PAUSE:
			rc = app_task_pause(a->store, &who, id, json_get_str(args, "reason"),
					    &changed, &task, &le);
			break;
		case LC_RESUME:
			rc = app_task_resume(a->store, &who, id, &changed, &task, &le);
			break;
		case LC_DELETE:
			rc = app_task_delete(a->store, &who, id, &task, &le);
			break;
		}
	}
	if (rc) {
		*result = app_mcp_failure(a, lc->action, "Error %s task: %s", lc->gerund,
					  err_msg(&le));
		return ERR_OK;
	}
	if (changed)
		snprintf(msg, sizeof msg, "Task %s %s", id, lc->done);
	else
		snprintf(msg, sizeof msg, "%s; nothing changed", err_msg(&le));
	if (changed && cmd == LC_RESUME && !engine_running(a))
		snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " (" NO_ENGINE_NOTE ")");
	d = json_object();
	json_object_set_new(d, "task_id", json_string(id));
	json_object_set_new(d, "status", json_string(task_state_status(task)));
	json_object_set_new(d, "changed", json_boolean(changed));
	json_decref(task);
	*result = app_mcp_success(a, lc->action, d, msg);
	return ERR_OK;
}

static int tool_pause(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)e;
	return lifecycle(call, args, LC_PAUSE, result);
}

static int tool_resume(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)e;
	return lifecycle(call, args, LC_RESUME, result);
}

static int tool_delete(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)e;
	return lifecycle(call, args, LC_DELETE, result);
}

/* Before the confirmation: a task that cannot be deleted needs none. */
static int precheck_delete(struct mcp_call *call, const json_t *args, json_t **result,
			   struct err *e)
{
	struct app_mcp *a = app_mcp_from_call(call);
	(void)e;
	lifecycle_allowed(a, &lifecycles[LC_DELETE], app_mcp_user(a, call, args),
			  json_get_str(args, "task_id"), result);
	return ERR_OK;
}

/* ---- get_event_sourcing_status ------------------------------------------------------ */

#define STATUS_OUT                                                                                 \
	OUT("get_event_sourcing_status",                                                           \
	    "{\"type\": \"object\", \"properties\": {"                                             \
	    "\"service_running\": {\"type\": \"boolean\", \"description\": \"a task engine "       \
	    "is checking tasks\"}, "                                                               \
	    "\"total_tasks\": {\"type\": \"integer\"}, "                                           \
	    "\"active_tasks\": {\"type\": \"integer\"}, "                                          \
	    "\"paused_tasks\": {\"type\": \"integer\"}, "                                          \
	    "\"running_monitors\": {\"type\": \"integer\"}, "                                      \
	    "\"task_types\": {\"type\": \"object\", \"properties\": {"                             \
	    "\"web_monitor\": {\"type\": \"integer\"}, \"schedule\": {\"type\": \"integer\"}, "    \
	    "\"news_digest\": {\"type\": \"integer\"}, "                                           \
	    "\"threshold_watch\": {\"type\": \"integer\"}}}, "                                     \
	    "\"event_log_position\": {\"type\": \"integer\", \"description\": \"events "           \
	    "recorded so far\"}}, "                                                                \
	    "\"required\": [\"service_running\", \"total_tasks\", \"active_tasks\", "              \
	    "\"paused_tasks\", \"running_monitors\", \"task_types\"]}")

static int tool_status(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	struct app_mcp *a = app_mcp_from_call(call);
	struct err le = {0};
	json_t *st = NULL;
	char msg[300];

	(void)args;
	(void)e;
	if (app_mcp_status(a, &st, &le)) {
		*result = app_mcp_failure(a, "get_event_sourcing_status",
					  "Failed to get event sourcing status: %s", err_msg(&le));
		return ERR_OK;
	}
	if (json_is_true(json_object_get(st, "service_running")))
		snprintf(msg, sizeof msg, "Task engine running; %lld tasks being checked",
			 (long long)json_get_int(st, "running_monitors", 0));
	else
		snprintf(msg, sizeof msg,
			 NO_ENGINE_NOTE "; tasks are stored and will be checked "
					"then");
	*result = app_mcp_success(a, "get_event_sourcing_status", st, msg);
	return ERR_OK;
}

/* ---- get_task ----------------------------------------------------------------------- */

#define GET_TASK_OUT                                                                               \
	OUT("get_task", "{\"type\": \"object\", \"properties\": {\"task\": " S_TASK_STATE "}, "    \
			"\"required\": [\"task\"]}")

static int tool_get_task(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	struct app_mcp *a = app_mcp_from_call(call);
	const char *user = app_mcp_user(a, call, args);
	struct err le = {0};
	json_t *task = NULL, *d;
	char msg[1400];

	(void)e;
	if (app_mcp_load_task(a, user, json_get_str(args, "task_id"), true, &task, &le)) {
		*result = app_mcp_failure(a, "get_task", "%s", err_msg(&le));
		return ERR_OK;
	}
	snprintf(msg, sizeof msg, "Task %s (%s) is %s: %s", json_get_str(task, "task_id"),
		 json_get_str(task, "task_type"), task_state_status(task),
		 json_get_str(task, "description"));
	d = json_object();
	json_object_set_new(d, "task", task);
	*result = app_mcp_success(a, "get_task", d, msg);
	return ERR_OK;
}

/* ---- get_task_events ---------------------------------------------------------------- */

#define EVENTS_IN                                                                                  \
	TASK_ID_IN(", \"after\": {\"type\": \"integer\", \"minimum\": 0, \"default\": 0, "         \
		   "\"description\": \"Only events after this stream version (use next_after "     \
		   "of the previous call to page on).\"}, "                                        \
		   "\"limit\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 500, "         \
		   "\"default\": 50, \"description\": \"At most this many events.\"}")

#define EVENTS_OUT                                                                                 \
	OUT("get_task_events",                                                                     \
	    "{\"type\": \"object\", \"properties\": {"                                             \
	    "\"task_id\": {\"type\": \"string\"}, "                                                \
	    "\"events\": {\"type\": \"array\", \"items\": " S_EVENT "}, "                          \
	    "\"count\": {\"type\": \"integer\"}, "                                                 \
	    "\"has_more\": {\"type\": \"boolean\"}, "                                              \
	    "\"next_after\": {\"type\": \"integer\", \"description\": \"pass as 'after' to "       \
	    "get the following events\"}}, "                                                       \
	    "\"required\": [\"task_id\", \"events\", \"count\", \"has_more\", \"next_after\"]}")

static int tool_task_events(struct mcp_call *call, const json_t *args, json_t **result,
			    struct err *e)
{
	struct app_mcp *a = app_mcp_from_call(call);
	const char *user = app_mcp_user(a, call, args);
	const char *id = json_get_str(args, "task_id");
	long long after = json_get_int(args, "after", 0);
	long long limit = json_get_int(args, "limit", EVENTS_LIMIT_DEFAULT);
	char stream[STORE_STREAM_MAX + 1], msg[400];
	struct store_event_list evs = {0};
	struct err le = {0};
	json_t *task = NULL, *arr, *d;
	bool more;
	size_t n;

	(void)e;
	if (after < 0)
		after = 0;
	if (limit < 1 || limit > EVENTS_LIMIT_MAX)
		limit = limit < 1 ? 1 : EVENTS_LIMIT_MAX;
	if (app_mcp_load_task(a, user, id, true, &task, &le)) {
		*result = app_mcp_failure(a, "get_task_events", "%s", err_msg(&le));
		return ERR_OK;
	}
	json_decref(task);
	task_stream_name(id, stream, sizeof stream);
	if (store_read_stream(a->store, stream, after + 1, false, (size_t)limit + 1, &evs, &le)) {
		*result = app_mcp_failure(a, "get_task_events",
					  "Failed to read the events of task %s: %s", id,
					  err_msg(&le));
		return ERR_OK;
	}
	more = evs.count > (size_t)limit;
	n = more ? (size_t)limit : evs.count;
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, app_mcp_event_json(&evs.items[i]));
	d = json_object();
	json_object_set_new(d, "task_id", json_string(id));
	json_object_set_new(d, "events", arr);
	json_object_set_new(d, "count", json_integer((json_int_t)n));
	json_object_set_new(d, "has_more", json_boolean(more));
	json_object_set_new(d, "next_after",
			    json_integer(n ? (json_int_t)evs.items[n - 1].version : after));
	if (more)
		snprintf(msg, sizeof msg,
			 "%zu events of task %s after version %lld; more follow: call again "
			 "with after=%lld",
			 n, id, after, (long long)evs.items[n - 1].version);
	else
		snprintf(msg, sizeof msg, "%zu event%s of task %s after version %lld", n,
			 n == 1 ? "" : "s", id, after);
	store_event_list_cleanup(&evs);
	*result = app_mcp_success(a, "get_task_events", d, msg);
	return ERR_OK;
}

/* ---- get_recent_events -------------------------------------------------------------- */

#define RECENT_IN                                                                                  \
	"{\"type\": \"object\", \"properties\": {"                                                 \
	"\"limit\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 200, \"default\": 20, "   \
	"\"description\": \"At most this many events, newest first.\"}, "                          \
	"\"event_type\": {\"type\": \"string\", \"description\": \"Only events of this type, "     \
	"e.g. 'web_content_change', 'scheduled_trigger', 'daily_news_digest', "                    \
	"'threshold_breach', 'task_check_failed', 'task_created' (docs/events.md lists "           \
	"all).\"}, "                                                                               \
	"\"task_id\": {\"type\": \"string\", \"description\": \"Only events of this "              \
	"task.\"}, " P_USER_ID "}, \"additionalProperties\": false}"

#define RECENT_OUT                                                                                 \
	OUT("get_recent_events", "{\"type\": \"object\", \"properties\": {"                        \
				 "\"events\": {\"type\": \"array\", \"items\": " S_EVENT "}, "     \
				 "\"count\": {\"type\": \"integer\"}}, "                           \
				 "\"required\": [\"events\", \"count\"]}")

/* Whether the user may see a task's events; answers are cached in `seen`
 * (task id -> true/false).  Deleted tasks are looked up in their stream. */
static bool may_see_task(struct app_mcp *a, const char *user, const char *task_id, json_t *seen)
{
	char stream[STORE_STREAM_MAX + 1];
	json_t *cached = json_object_get(seen, task_id), *doc = NULL;
	bool ok;

	if (app_mcp_is_admin(user))
		return true;
	if (cached)
		return json_is_true(cached);
	task_stream_name(task_id, stream, sizeof stream);
	if (store_proj_get(a->store, APP_TASKS_PROJECTION, stream, &doc, NULL) != ERR_OK)
		app_task_get(a->store, task_id, &doc, NULL);
	ok = doc && app_mcp_may_access(user, doc);
	json_decref(doc);
	json_object_set_new(seen, task_id, json_boolean(ok));
	return ok;
}

static int tool_recent_events(struct mcp_call *call, const json_t *args, json_t **result,
			      struct err *e)
{
	struct app_mcp *a = app_mcp_from_call(call);
	const char *user = app_mcp_user(a, call, args);
	const char *id = json_get_str(args, "task_id");
	const char *type = json_get_str(args, "event_type");
	long long limit = json_get_int(args, "limit", RECENT_LIMIT_DEFAULT);
	char stream[STORE_STREAM_MAX + 1], msg[600];
	struct store_filter f = {.stream_prefix = TASK_STREAM_PREFIX, .type = type};
	json_t *arr = json_array(), *seen = json_object(), *d;
	int64_t before = 0;
	size_t scanned = 0;
	struct err le = {0};

	(void)e;
	if (limit < 1 || limit > RECENT_LIMIT_MAX)
		limit = limit < 1 ? 1 : RECENT_LIMIT_MAX;
	if (id) {
		json_t *task = NULL;

		if (app_mcp_load_task(a, user, id, true, &task, &le)) {
			json_decref(arr);
			json_decref(seen);
			*result = app_mcp_failure(a, "get_recent_events", "%s", err_msg(&le));
			return ERR_OK;
		}
		json_decref(task);
		task_stream_name(id, stream, sizeof stream);
		f.stream = stream;
		f.stream_prefix = NULL;
	}
	/* Newest first, in batches, skipping other users' tasks. */
	while (json_array_size(arr) < (size_t)limit && scanned < RECENT_SCAN_MAX) {
		struct store_event_list evs = {0};
		size_t got;

		if (store_read_all(a->store, before, true, RECENT_BATCH, &f, &evs, &le)) {
			json_decref(arr);
			json_decref(seen);
			*result = app_mcp_failure(a, "get_recent_events",
						  "Failed to read events: %s", err_msg(&le));
			return ERR_OK;
		}
		for (size_t i = 0; i < evs.count && json_array_size(arr) < (size_t)limit; i++) {
			const char *tid = task_id_of_stream(evs.items[i].stream);

			if (tid && may_see_task(a, user, tid, seen))
				json_array_append_new(arr, app_mcp_event_json(&evs.items[i]));
		}
		got = evs.count;
		scanned += got;
		if (got > 0)
			before = evs.items[got - 1].position;
		store_event_list_cleanup(&evs);
		if (got < RECENT_BATCH || before <= 1)
			break;
	}
	json_decref(seen);
	if (json_array_size(arr) == 0 && type && !event_type_find(type))
		snprintf(msg, sizeof msg,
			 "No events of type '%.100s'; it is not a catalogued type (e.g. "
			 "web_content_change, scheduled_trigger, daily_news_digest, "
			 "threshold_breach, task_check_failed, task_created)",
			 type);
	else
		snprintf(msg, sizeof msg, "%zu most recent event%s, newest first",
			 json_array_size(arr), json_array_size(arr) == 1 ? "" : "s");
	d = json_object();
	json_object_set_new(d, "events", arr);
	json_object_set_new(d, "count", json_integer((json_int_t)json_array_size(arr)));
	*result = app_mcp_success(a, "get_recent_events", d, msg);
	return ERR_OK;
}

/* ---- update_background_task ---------------------------------------------------------- */

#define UPDATE_DESC                                                                                \
	"Change a task's description, config or callback_url; give only what changes. A new "      \
	"config replaces the old one entirely (send the whole config, see "                        \
	"list_background_tasks for the current one) and is checked against the task's type. "      \
	"task_type cannot change: delete the task and create a new one. The task keeps its "       \
	"status (a paused task stays paused)."

#define UPDATE_IN                                                                                  \
	TASK_ID_IN(", \"description\": {\"type\": \"string\", \"minLength\": 1, "                  \
		   "\"maxLength\": 1000, \"description\": \"New description.\"}, "                 \
		   "\"config\": {\"anyOf\": [{\"type\": \"object\"}, {\"type\": \"string\"}], "    \
		   "\"description\": \"The complete new config (object, or a string holding "      \
		   "JSON); fields per type as in create_background_task.\"}, "                     \
		   "\"callback_url\": {\"anyOf\": [{\"type\": \"string\"}, {\"type\": "            \
		   "\"null\"}], \"description\": \"New callback URL, or null for the "             \
		   "server's default.\"}")

#define UPDATE_OUT                                                                                 \
	OUT("update_background_task",                                                              \
	    "{\"type\": \"object\", \"properties\": {"                                             \
	    "\"task\": " S_TASK_STATE ", "                                                         \
	    "\"changed\": {\"type\": \"boolean\"}, "                                               \
	    "\"changed_fields\": {\"type\": \"array\", \"items\": {\"type\": \"string\", "         \
	    "\"enum\": [\"description\", \"config\", \"callback_url\"]}}}, "                       \
	    "\"required\": [\"task\", \"changed\", \"changed_fields\"]}")

static int tool_update(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	static const char *const fields[] = {"description", "config", "callback_url"};
	static const char *action = "update_background_task";
	struct app_mcp *a = app_mcp_from_call(call);
	const char *user = app_mcp_user(a, call, args);
	const char *id = json_get_str(args, "task_id");
	char principal[APP_MCP_PRINCIPAL_MAX], msg[ERR_MSG_MAX + 200];
	json_t *before = NULL, *after = NULL, *changes, *names, *d, *v;
	struct app_actor who;
	struct err le = {0};
	bool changed = false;
	int type;

	(void)e;
	changes = json_object();
	for (size_t i = 0; i < 3; i++)
		if ((v = json_object_get(args, fields[i])))
			json_object_set(changes, fields[i], v);
	if (json_object_size(changes) == 0) {
		json_decref(changes);
		*result = app_mcp_failure(
			a, action,
			"Nothing to update: give at least one of description, config, "
			"callback_url besides task_id");
		return ERR_OK;
	}
	if (app_mcp_load_task(a, user, id, false, &before, &le)) {
		json_decref(changes);
		*result = app_mcp_failure(a, action, "Failed to update task %.100s - %s", id,
					  err_msg(&le));
		return ERR_OK;
	}
	app_mcp_actor(user, principal, &who);
	if (app_task_update(a->store, &who, id, changes, &changed, &after, &le)) {
		if (le.code == ERR_INVALID && about_config(le.msg) &&
		    task_type_parse(json_get_str(before, "task_type"), &type, NULL) == ERR_OK)
			*result = app_mcp_failure(a, action, "%s. A working %s config: %s",
						  err_msg(&le), app_mcp_example(type)->task_type,
						  app_mcp_example(type)->config);
		else
			*result = app_mcp_failure(a, action, "Failed to update task %s: %s", id,
						  err_msg(&le));
		json_decref(changes);
		json_decref(before);
		return ERR_OK;
	}
	names = json_array();
	for (size_t i = 0; i < 3; i++)
		if (!json_equal(json_object_get(before, fields[i]),
				json_object_get(after, fields[i])))
			json_array_append_new(names, json_string(fields[i]));
	if (changed)
		snprintf(msg, sizeof msg, "Task %s updated", id);
	else
		snprintf(msg, sizeof msg, "%s", err_msg(&le));
	d = json_object();
	json_object_set_new(d, "task", after);
	json_object_set_new(d, "changed", json_boolean(changed));
	json_object_set_new(d, "changed_fields", names);
	json_decref(changes);
	json_decref(before);
	*result = app_mcp_success(a, action, d, msg);
	return ERR_OK;
}

/* ---- run_task_now ---------------------------------------------------------------------- */

#define RUN_DESC                                                                                   \
	"Ask the task engine to check a task once now, outside its schedule (e.g. to test a "      \
	"new web monitor). This only records the request (event task_run_requested); the "         \
	"engine runs the check when it picks the request up, and the check's results appear "      \
	"as events: call get_task_events with after=version later. A paused task is not "          \
	"run: resume it first."

#define RUN_OUT                                                                                    \
	OUT("run_task_now",                                                                        \
	    "{\"type\": \"object\", \"properties\": {"                                             \
	    "\"task_id\": {\"type\": \"string\"}, "                                                \
	    "\"requested\": {\"type\": \"boolean\"}, "                                             \
	    "\"event_type\": {\"type\": \"string\", \"enum\": [\"task_run_requested\"]}, "         \
	    "\"event_id\": {\"type\": \"string\"}, "                                               \
	    "\"position\": {\"type\": \"integer\"}, "                                              \
	    "\"version\": {\"type\": \"integer\", \"description\": \"stream version of the "       \
	    "request; the check's events come after it\"}, "                                       \
	    "\"task_status\": {\"type\": \"string\", \"enum\": [\"active\", \"paused\"]}, "        \
	    "\"engine_running\": {\"type\": \"boolean\"}}, "                                       \
	    "\"required\": [\"task_id\", \"requested\", \"event_type\", \"event_id\", "            \
	    "\"position\", \"version\", \"engine_running\"]}")

static int tool_run_now(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	static const char *action = "run_task_now";
	struct app_mcp *a = app_mcp_from_call(call);
	const char *user = app_mcp_user(a, call, args);
	const char *id = json_get_str(args, "task_id");
	char principal[APP_MCP_PRINCIPAL_MAX], msg[800];
	struct app_actor who;
	struct err le = {0};
	json_t *task = NULL, *r = NULL, *d;
	long long version;
	bool running;
	int rc;

	(void)e;
	/* the user's own task (or any, for admin); app_task_run_now does the rest */
	rc = app_mcp_load_task(a, user, id, false, &task, &le);
	json_decref(task);
	if (rc == ERR_OK) {
		app_mcp_actor(user, principal, &who);
		rc = app_task_run_now(a->store, &who, id, json_get_str(args, "reason"), &r, &le);
	}
	if (rc == ERR_INVALID) {
		*result = app_mcp_failure(a, action, "%s", err_msg(&le));
		return ERR_OK;
	}
	if (rc == ERR_NOT_FOUND) {
		*result = app_mcp_failure(a, action, "Failed to run task %.100s - %s", id,
					  err_msg(&le));
		return ERR_OK;
	}
	if (rc) {
		*result = app_mcp_failure(a, action, "Failed to request a run of task %s: %s", id,
					  err_msg(&le));
		return ERR_OK;
	}
	running = engine_running(a);
	version = (long long)json_integer_value(json_object_get(r, "version"));
	snprintf(msg, sizeof msg,
		 "Run of task %s requested (event %s at version %lld); no check has run yet. "
		 "%s Its results will appear as events: call get_task_events with "
		 "task_id=%s and after=%lld.",
		 id, TASK_EV_RUN_REQUESTED, version,
		 running ? "The task engine runs one check when it picks the request up."
			 : NO_ENGINE_NOTE ": the check runs once an engine picks the request up.",
		 id, version);
	d = json_object();
	json_object_set(d, "task_id", json_object_get(r, "task_id"));
	json_object_set(d, "requested", json_object_get(r, "requested"));
	json_object_set(d, "event_type", json_object_get(r, "event_type"));
	json_object_set(d, "event_id", json_object_get(r, "event_id"));
	json_object_set(d, "position", json_object_get(r, "position"));
	json_object_set(d, "version", json_object_get(r, "version"));
	json_object_set(d, "task_status", json_object_get(r, "task_status"));
	json_object_set_new(d, "engine_running", json_boolean(running));
	json_decref(r);
	*result = app_mcp_success(a, action, d, msg);
	return ERR_OK;
}

/* ---- the rows ----------------------------------------------------------------------------- */

static const struct app_tool tool_rows[] = {
	{
		.tool.name = "create_background_task",
		.tool.title = "Create background task",
		.tool.description = CREATE_DESC,
		.tool.input_schema = CREATE_IN,
		.tool.output_schema = CREATE_OUT,
		.tool.annotations = ANN("false", "false", "false", "true"),
		.tool.fn = tool_create,
		.level = APP_LEVEL_MEDIUM,
	},
	{
		.tool.name = "list_background_tasks",
		.tool.title = "List background tasks",
		.tool.description = LIST_DESC,
		.tool.input_schema = LIST_IN,
		.tool.output_schema = LIST_OUT,
		.tool.annotations = ANN("true", "false", "true", "false"),
		.tool.fn = tool_list,
		.tool.quick = true, /* reads the store */
		.level = APP_LEVEL_LOW,
	},
	{
		.tool.name = "pause_background_task",
		.tool.title = "Pause background task",
		.tool.description =
			"Pause a background task: it stops checking until resumed. Pausing "
			"a paused task changes nothing.",
		.tool.input_schema =
			TASK_ID_IN(", \"reason\": {\"type\": \"string\", \"maxLength\": "
				   "1000, \"description\": \"Why, for the task's "
				   "history (optional).\"}"),
		.tool.output_schema = LIFECYCLE_OUT("pause_background_task", "[\"paused\"]"),
		.tool.annotations = ANN("false", "false", "true", "false"),
		.tool.fn = tool_pause,
		.level = APP_LEVEL_MEDIUM,
	},
	{
		.tool.name = "resume_background_task",
		.tool.title = "Resume background task",
		.tool.description = "Resume a paused background task: it checks on its schedule "
				    "again. Resuming an active task changes nothing.",
		.tool.input_schema = TASK_ID_IN(""),
		.tool.output_schema = LIFECYCLE_OUT("resume_background_task", "[\"active\"]"),
		.tool.annotations = ANN("false", "false", "true", "false"),
		.tool.fn = tool_resume,
		.level = APP_LEVEL_MEDIUM,
	},
	{
		.tool.name = "delete_background_task",
		.tool.title = "Delete background task",
		.tool.description =
			"Delete a background task for good: it stops and leaves the task "
			"list (its events stay readable with get_task_events). To stop it "
			"for a while, use pause_background_task instead.",
		.tool.input_schema = TASK_ID_IN(""),
		.tool.output_schema = LIFECYCLE_OUT("delete_background_task", "[\"deleted\"]"),
		.tool.annotations = ANN("false", "true", "true", "false"),
		.tool.fn = tool_delete,
		.precheck = precheck_delete,
		.level = APP_LEVEL_HIGH,
	},
	{
		.tool.name = "get_event_sourcing_status",
		.tool.title = "Event sourcing status",
		.tool.description =
			"Status of the background-task service: whether a task engine is "
			"running, how many tasks exist (all users), are active or paused, "
			"and how many of each type.",
		.tool.input_schema = "{\"type\": \"object\", \"properties\": {}, "
				     "\"additionalProperties\": false}",
		.tool.output_schema = STATUS_OUT,
		.tool.annotations = ANN("true", "false", "true", "false"),
		.tool.fn = tool_status,
		.tool.quick = true, /* reads the store */
		.level = APP_LEVEL_LOW,
	},
	{
		.tool.name = "get_task",
		.tool.title = "Get task",
		.tool.description =
			"One task's current state: type, description, config (defaults "
			"filled in), status (active, paused or deleted), owner, callback "
			"URL, created/updated times (UTC) and version (its number of "
			"events).",
		.tool.input_schema = TASK_ID_IN(""),
		.tool.output_schema = GET_TASK_OUT,
		.tool.annotations = ANN("true", "false", "true", "false"),
		.tool.fn = tool_get_task,
		.tool.quick = true, /* reads the store */
		.level = APP_LEVEL_LOW,
	},
	{
		.tool.name = "get_task_events",
		.tool.title = "Get task events",
		.tool.description = "The events of one task, oldest first: its lifecycle (created, "
				    "updated, paused, ...) and what it found (web_content_change, "
				    "scheduled_trigger, daily_news_digest, threshold_breach, "
				    "task_check_failed). Page with after=next_after.",
		.tool.input_schema = EVENTS_IN,
		.tool.output_schema = EVENTS_OUT,
		.tool.annotations = ANN("true", "false", "true", "false"),
		.tool.fn = tool_task_events,
		.tool.quick = true, /* reads the store */
		.level = APP_LEVEL_LOW,
	},
	{
		.tool.name = "get_recent_events",
		.tool.title = "Get recent events",
		.tool.description =
			"The most recent events across all of the user's tasks, newest "
			"first, optionally only of one event_type or one task. Use it to "
			"answer 'what happened?' or 'did my monitors find anything?'.",
		.tool.input_schema = RECENT_IN,
		.tool.output_schema = RECENT_OUT,
		.tool.annotations = ANN("true", "false", "true", "false"),
		.tool.fn = tool_recent_events,
		.tool.quick = true, /* reads the store */
		.level = APP_LEVEL_LOW,
	},
	{
		.tool.name = "update_background_task",
		.tool.title = "Update background task",
		.tool.description = UPDATE_DESC,
		.tool.input_schema = UPDATE_IN,
		.tool.output_schema = UPDATE_OUT,
		.tool.annotations = ANN("false", "true", "true", "true"),
		.tool.fn = tool_update,
		.level = APP_LEVEL_MEDIUM,
	},
	{
		.tool.name = "run_task_now",
		.tool.title = "Run task now",
		.tool.description = RUN_DESC,
		.tool.input_schema =
			TASK_ID_IN(", \"reason\": {\"type\": \"string\", \"maxLength\": "
				   "1000, \"description\": \"Why (optional), kept in the "
				   "request event.\"}"),
		.tool.output_schema = RUN_OUT,
		.tool.annotations = ANN("false", "false", "false", "true"),
		.tool.fn = tool_run_now,
		.level = APP_LEVEL_MEDIUM,
	},
};

int app_mcp_register_tools(struct app_mcp *a, struct mcp_server *srv, struct err *e)
{
	return app_mcp_add_tools(a, srv, tool_rows, sizeof tool_rows / sizeof tool_rows[0], e);
}
