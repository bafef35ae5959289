/*
 * mcp_resources.c - ambient's MCP resources under event://, as rows.
 *
 * The original's five (event://tasks, event://status, event://tasks/active,
 * event://tasks/by-type/{task_type}, event://config/examples) keep its
 * field names: JSON with indent 2, {resource_type, ..., generated_at,
 * description}.  New: event://tasks/{task_id} and
 * event://tasks/{task_id}/events.  Templates complete task_type and task_id.
 *
 * Reads act for the default user (app_mcp_user without arguments); "admin"
 * sees every task, as the original's resources did.  A task the reader may
 * not see reads as "not found" (-32002), like one that does not exist.
 */
#include "mcp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/uuid.h"
#include "common/xalloc.h"
#include "domain/task.h"

#define MIME_JSON "application/json"
#define RESOURCE_EVENTS_MAX 500 /* newest events shown by event://tasks/{id}/events */
#define COMPLETE_MAX 100        /* values per completion (the spec's cap) */

/* contents: [{uri, mimeType, text}], text = the object with indent 2.
 * Steals obj. */
static json_t *contents_of(const char *uri, json_t *obj)
{
	char *text = app_mcp_dumps(obj, 2);
	json_t *c = json_pack("[{s:s, s:s, s:s}]", "uri", uri, "mimeType", MIME_JSON, "text", text);

	free(text);
	json_decref(obj);
	return c;
}

static void stamp(struct app_mcp *a, json_t *obj)
{
	char ts[CLOCK_ISO_MAX];

	app_mcp_now(a, ts);
	json_object_set_new(obj, "generated_at", json_string(ts));
}

/* Tasks the reader may see, optionally only active ones or one type. */
static int visible_tasks(struct app_mcp *a, struct mcp_call *call, const char *status,
			 const char *type, unsigned flags, json_t **out, struct err *e)
{
	json_t *tasks = NULL, *t;
	size_t i;
	int rc;

	*out = NULL;
	if ((rc = app_task_list(a->store, app_mcp_user(a, call, NULL), status, &tasks, e)))
		return rc;
	*out = json_array();
	json_array_foreach(tasks, i, t) {
		const char *tt = json_get_str(t, "task_type");

		if (type && (!tt || strcmp(tt, type) != 0))
			continue;
		json_array_append_new(*out, app_mcp_task_summary(t, flags));
	}
	json_decref(tasks);
	return ERR_OK;
}

/* ---- plain resources ----------------------------------------------------------- */

static int read_tasks(struct mcp_call *call, const char *uri, const json_t *vars, json_t **contents,
		      struct err *e)
{
	struct app_mcp *a = mcp_call_data(call);
	json_t *tasks, *o;
	int rc;

	(void)vars;
	if ((rc = visible_tasks(a, call, NULL, NULL, 0, &tasks, e)))
		return rc;
	o = json_object();
	json_object_set_new(o, "resource_type", json_string("event_tasks"));
	json_object_set_new(o, "tasks", tasks);
	json_object_set_new(o, "total", json_integer((json_int_t)json_array_size(tasks)));
	stamp(a, o);
	json_object_set_new(o, "description",
			    json_string("All background tasks in the event sourcing system"));
	*contents = contents_of(uri, o);
	return ERR_OK;
}

static int read_active(struct mcp_call *call, const char *uri, const json_t *vars,
		       json_t **contents, struct err *e)
{
	struct app_mcp *a = mcp_call_data(call);
	json_t *tasks, *o;
	int rc;

	(void)vars;
	rc = visible_tasks(a, call, "active", NULL,
			   APP_MCP_SUMMARY_NO_STATUS | APP_MCP_SUMMARY_NO_CALLBACK, &tasks, e);
	if (rc)
		return rc;
	o = json_object();
	json_object_set_new(o, "resource_type", json_string("active_event_tasks"));
	json_object_set_new(o, "active_tasks", tasks);
	json_object_set_new(o, "total_active", json_integer((json_int_t)json_array_size(tasks)));
	stamp(a, o);
	json_object_set_new(o, "description",
			    json_string("Currently active background tasks being monitored"));
	*contents = contents_of(uri, o);
	return ERR_OK;
}

static int read_status(struct mcp_call *call, const char *uri, const json_t *vars,
		       json_t **contents, struct err *e)
{
	struct app_mcp *a = mcp_call_data(call);
	json_t *st, *o;
	int rc;

	(void)vars;
	if ((rc = app_mcp_status(a, &st, e)))
		return rc;
	o = json_object();
	json_object_set_new(o, "resource_type", json_string("event_service_status"));
	json_object_set_new(o, "status", st);
	stamp(a, o);
	json_object_set_new(o, "description",
			    json_string("Current status of the event sourcing service"));
	*contents = contents_of(uri, o);
	return ERR_OK;
}

static json_t *parse_example(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	return j ? j : json_object(); /* our own text: a unit test parses every one */
}

static int read_examples(struct mcp_call *call, const char *uri, const json_t *vars,
			 json_t **contents, struct err *e)
{
	struct app_mcp *a = mcp_call_data(call);
	json_t *o, *ex = json_object();

	(void)vars;
	(void)e;
	for (int t = 0; t < TASK_TYPE__COUNT; t++) {
		const struct app_mcp_example *x = app_mcp_example(t);
		json_t *one = json_object(), *more = json_array();

		json_object_set_new(one, "description", json_string(x->description));
		json_object_set_new(one, "example_config", parse_example(x->config));
		for (const char *const *m = x->more; m && *m; m++)
			json_array_append_new(more, parse_example(*m));
		json_object_set_new(one, "more_examples", more);
		json_object_set_new(one, "usage", json_string(x->usage));
		json_object_set_new(ex, x->task_type, one);
	}
	o = json_object();
	json_object_set_new(o, "resource_type", json_string("event_config_examples"));
	json_object_set_new(o, "examples", ex);
	stamp(a, o);
	json_object_set_new(
		o, "description",
		json_string("Configuration examples for different event sourcing task types; "
			    "pass one as the config of create_background_task"));
	*contents = contents_of(uri, o);
	return ERR_OK;
}

/* ---- templates ---------------------------------------------------------------------- */

static int read_by_type(struct mcp_call *call, const char *uri, const json_t *vars,
			json_t **contents, struct err *e)
{
	struct app_mcp *a = mcp_call_data(call);
	const char *type = json_get_str(vars, "task_type");
	char text[200];
	json_t *tasks, *o;
	int t, rc;

	if (task_type_parse(type, &t, NULL) != ERR_OK)
		return err_set(e, ERR_NOT_FOUND,
			       "No resource %.200s: the task type must be one of web_monitor, "
			       "schedule, news_digest, threshold_watch",
			       uri);
	if ((rc = visible_tasks(a, call, NULL, type, APP_MCP_SUMMARY_NO_CALLBACK, &tasks, e)))
		return rc;
	o = json_object();
	snprintf(text, sizeof text, "event_tasks_by_type_%s", type);
	json_object_set_new(o, "resource_type", json_string(text));
	json_object_set_new(o, "task_type", json_string(type));
	json_object_set_new(o, "tasks", tasks);
	json_object_set_new(o, "count", json_integer((json_int_t)json_array_size(tasks)));
	stamp(a, o);
	snprintf(text, sizeof text, "Background tasks of type '%s'", type);
	json_object_set_new(o, "description", json_string(text));
	*contents = contents_of(uri, o);
	return ERR_OK;
}

static int read_task(struct mcp_call *call, const char *uri, const json_t *vars, json_t **contents,
		     struct err *e)
{
	struct app_mcp *a = mcp_call_data(call);
	json_t *task, *o;
	int rc;

	rc = app_mcp_load_task(a, app_mcp_user(a, call, NULL), json_get_str(vars, "task_id"), true,
			       &task, e);
	if (rc)
		return rc;
	o = json_object();
	json_object_set_new(o, "resource_type", json_string("event_task"));
	json_object_set_new(o, "task", task);
	stamp(a, o);
	json_object_set_new(o, "description",
			    json_string("One background task's current state (times in UTC)"));
	*contents = contents_of(uri, o);
	return ERR_OK;
}

static int read_task_events(struct mcp_call *call, const char *uri, const json_t *vars,
			    json_t **contents, struct err *e)
{
	struct app_mcp *a = mcp_call_data(call);
	const char *id = json_get_str(vars, "task_id");
	char stream[STORE_STREAM_MAX + 1];
	struct store_event_list evs = {0};
	json_t *task, *arr, *o;
	int64_t version;
	int rc;

	rc = app_mcp_load_task(a, app_mcp_user(a, call, NULL), id, true, &task, e);
	if (rc)
		return rc;
	version = json_get_int(task, "version", 0);
	json_decref(task);
	task_stream_name(id, stream, sizeof stream);
	/* the newest RESOURCE_EVENTS_MAX, oldest first */
	if ((rc = store_read_stream(
		     a->store, stream,
		     version > RESOURCE_EVENTS_MAX ? version - RESOURCE_EVENTS_MAX + 1 : 1, false,
		     RESOURCE_EVENTS_MAX, &evs, e)))
		return rc;
	arr = json_array();
	for (size_t i = 0; i < evs.count; i++)
		json_array_append_new(arr, app_mcp_event_json(&evs.items[i]));
	o = json_object();
	json_object_set_new(o, "resource_type", json_string("event_task_events"));
	json_object_set_new(o, "task_id", json_string(id));
	json_object_set_new(o, "events", arr);
	json_object_set_new(o, "total", json_integer((json_int_t)evs.count));
	json_object_set_new(o, "truncated",
			    json_boolean(evs.count > 0 && evs.items[0].version > 1));
	stamp(a, o);
	json_object_set_new(o, "description",
			    json_string("The task's events, oldest first (at most the newest "
					"500; page through all with the get_task_events tool)"));
	store_event_list_cleanup(&evs);
	*contents = contents_of(uri, o);
	return ERR_OK;
}

/* ---- completion ------------------------------------------------------------------------- */

static bool has_prefix(const char *s, const char *prefix)
{
	return s && (!prefix || strncmp(s, prefix, strlen(prefix)) == 0);
}

static int complete_type(struct mcp_call *call, const char *name, const char *value,
			 const json_t *context_args, json_t **values, struct err *e)
{
	(void)call;
	(void)context_args;
	(void)e;
	*values = json_array();
	if (!name || strcmp(name, "task_type") != 0)
		return ERR_OK;
	for (int t = 0; t < TASK_TYPE__COUNT; t++)
		if (has_prefix(task_type_name(t), value))
			json_array_append_new(*values, json_string(task_type_name(t)));
	return ERR_OK;
}

static int complete_task_id(struct mcp_call *call, const char *name, const char *value,
			    const json_t *context_args, json_t **values, struct err *e)
{
	struct app_mcp *a = mcp_call_data(call);
	json_t *tasks = NULL, *t;
	size_t i;
	int rc;

	(void)context_args;
	*values = json_array();
	if (!name || strcmp(name, "task_id") != 0)
		return ERR_OK;
	if ((rc = app_task_list(a->store, app_mcp_user(a, call, NULL), NULL, &tasks, e)))
		return rc;
	json_array_foreach(tasks, i, t) {
		const char *id = json_get_str(t, "task_id");

		if (has_prefix(id, value) && json_array_size(*values) < COMPLETE_MAX)
			json_array_append_new(*values, json_string(id));
	}
	json_decref(tasks);
	return ERR_OK;
}

/* ---- the rows ------------------------------------------------------------------------------ */

static const struct mcp_resource resource_rows[] = {
	{
		.uri = "event://tasks",
		.name = "tasks",
		.title = "Background tasks",
		.description = "All background tasks you may see, with config, status, owner "
			       "(user_id) and callback_url; total and generated_at.",
		.mime_type = MIME_JSON,
		.read = read_tasks,
	},
	{
		.uri = "event://status",
		.name = "status",
		.title = "Event sourcing status",
		.description = "Whether a task engine is running; task counts by status and "
			       "type (all users).",
		.mime_type = MIME_JSON,
		.read = read_status,
	},
	{
		.uri = "event://tasks/active",
		.name = "active_tasks",
		.title = "Active background tasks",
		.description = "Only the active (not paused) background tasks.",
		.mime_type = MIME_JSON,
		.read = read_active,
	},
	{
		.uri = "event://config/examples",
		.name = "config_examples",
		.title = "Task config examples",
		.description = "A working config for each task type (web_monitor, schedule, "
			       "news_digest, threshold_watch) and more variants, ready to pass "
			       "to create_background_task.",
		.mime_type = MIME_JSON,
		.read = read_examples,
	},
	{
		.uri_template = "event://tasks/by-type/{task_type}",
		.name = "tasks_by_type",
		.title = "Background tasks of one type",
		.description = "Tasks of one type: web_monitor, schedule, news_digest or "
			       "threshold_watch.",
		.mime_type = MIME_JSON,
		.read = read_by_type,
		.complete = complete_type,
	},
	{
		.uri_template = "event://tasks/{task_id}",
		.name = "task",
		.title = "One background task",
		.description = "One task's current state (status active, paused or deleted).",
		.mime_type = MIME_JSON,
		.read = read_task,
		.complete = complete_task_id,
	},
	{
		.uri_template = "event://tasks/{task_id}/events",
		.name = "task_events",
		.title = "Events of one background task",
		.description = "The task's events, oldest first: lifecycle and findings "
			       "(web_content_change, scheduled_trigger, ...).",
		.mime_type = MIME_JSON,
		.read = read_task_events,
		.complete = complete_task_id,
	},
};

/* A task's resources may only be watched by whoever may read them; a task
 * that does not exist yet may be watched (it may be about to be made). */
static int may_subscribe(void *data, struct mcp_call *call, const char *uri, struct err *e)
{
	static const char prefix[] = "event://tasks/";
	struct app_mcp *a = data;
	char id[UUID_STR_LEN + 1];
	json_t *task = NULL;
	size_t n;
	int rc;

	if (strncmp(uri, prefix, sizeof prefix - 1) != 0)
		return ERR_OK;
	uri += sizeof prefix - 1;
	n = strcspn(uri, "/");
	if (n != UUID_STR_LEN || (uri[n] && strcmp(uri + n, "/events") != 0))
		return ERR_OK; /* not a task's own resource */
	memcpy(id, uri, n);
	id[n] = '\0';
	rc = app_task_get(a->store, id, &task, NULL);
	if (rc == ERR_OK && !app_mcp_may_access(app_mcp_user(a, call, NULL), task))
		rc = err_set(e, ERR_NOT_FOUND, "Task %s not found or access denied", id);
	else
		rc = ERR_OK;
	json_decref(task);
	return rc;
}

int app_mcp_register_resources(struct app_mcp *a, struct mcp_server *srv, struct err *e)
{
	mcp_server_set_subscribe_check(srv, may_subscribe, a);
	for (size_t i = 0; i < sizeof resource_rows / sizeof resource_rows[0]; i++) {
		struct mcp_resource r = resource_rows[i];
		int rc;

		r.data = a;
		if ((rc = mcp_server_add_resource(srv, &r, e))) {
			err_prefix(e, "resource %s: ", r.uri ? r.uri : r.uri_template);
			return rc;
		}
	}
	return ERR_OK;
}
