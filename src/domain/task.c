/*
 * task.c - the task aggregate: decide commands, fold events (pure).
 *
 * Deciding never looks at a clock or a store: it takes the folded state and
 * returns the data of the one event to append.  Folding uses only the
 * events (their data, version and recorded_at), so replaying a stream gives
 * the same state byte for byte.  Config rules live in task_config.c.
 */
#include "task.h"
#include "task_config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "store/store.h"

#include "common/json.h"

#define DESCRIPTION_MAX 1000
#define REASON_MAX 1000
#define USER_ID_MAX 256
#define TASK_ID_MAX 58 /* "task-" + id fits the 64 bytes of task_stream_name */

static const char *const type_names[TASK_TYPE__COUNT] = {
	[TASK_WEB_MONITOR] = "web_monitor",
	[TASK_SCHEDULE] = "schedule",
	[TASK_NEWS_DIGEST] = "news_digest",
	[TASK_THRESHOLD_WATCH] = "threshold_watch",
};

const char *task_type_name(int type)
{
	return (type >= 0 && type < TASK_TYPE__COUNT) ? type_names[type] : NULL;
}

int task_type_parse(const char *name, int *type, struct err *e)
{
	for (int i = 0; name && i < TASK_TYPE__COUNT; i++) {
		if (strcmp(name, type_names[i]) == 0) {
			*type = i;
			return ERR_OK;
		}
	}
	/* the original's text, which agents written for it may look for */
	return err_set(e, ERR_INVALID,
		       "Invalid task type. Must be one of: ['web_monitor', 'schedule', "
		       "'news_digest', 'threshold_watch']");
}

void task_stream_name(const char *task_id, char *out, unsigned long size)
{
	snprintf(out, size, "%s%s", TASK_STREAM_PREFIX, task_id ? task_id : "");
}

const char *task_id_of_stream(const char *stream)
{
	size_t n = strlen(TASK_STREAM_PREFIX);

	if (!stream || strncmp(stream, TASK_STREAM_PREFIX, n) != 0 || !stream[n])
		return NULL;
	return stream + n;
}

int task_load_stream(struct store *s, const char *stream, json_t **state, int64_t *version,
		     struct err *e)
{
	struct store_event_list evs = {0};
	int rc;

	*state = NULL;
	if (version)
		*version = 0;
	if ((rc = store_read_stream(s, stream, 1, false, 0, &evs, e)))
		return rc;
	for (size_t i = 0; i < evs.count && !rc; i++) {
		char ts[CLOCK_ISO_MAX];
		clock_format_utc(evs.items[i].recorded_at_us, ts);
		json_t *next = task_fold(*state, evs.items[i].type, evs.items[i].data,
					 evs.items[i].version, ts, e);
		json_decref(*state);
		*state = next;
		if (!next)
			rc = e && e->code ? e->code : ERR_CORRUPT;
		else if (version)
			*version = evs.items[i].version;
	}
	store_event_list_cleanup(&evs);
	return rc;
}

const char *task_state_status(const json_t *state)
{
	return json_get_str(state, "status");
}

bool task_state_is_deleted(const json_t *state)
{
	const char *s = task_state_status(state);

	return s && strcmp(s, "deleted") == 0;
}

/* ---- argument checks ------------------------------------------------------ */

static const char *show(const char *id)
{
	return id ? id : "(none)";
}

static int check_task_id(const char *id, struct err *e)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > TASK_ID_MAX)
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '-' && id[i] != '_')
			goto bad;
	return ERR_OK;
bad:
	return err_set(
		e, ERR_INVALID,
		"task_id must be 1-%d letters, digits, '-' or '_' such as a UUID (got \"%.80s\")",
		TASK_ID_MAX, show(id));
}

static bool has_text(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return true;
	return false;
}

static int check_text(const char *name, const char *s, size_t max, struct err *e)
{
	json_t *j;

	if (!s || !has_text(s))
		return err_set(e, ERR_INVALID, "%s must be a non-empty string of at most %zu bytes",
			       name, max);
	if (strlen(s) > max)
		return err_set(e, ERR_INVALID,
			       "%s must be a non-empty string of at most %zu bytes (got %zu bytes)",
			       name, max, strlen(s));
	if (!(j = json_string(s))) /* jansson refuses invalid UTF-8 */
		return err_set(e, ERR_INVALID, "%s must be valid UTF-8 text", name);
	json_decref(j);
	return ERR_OK;
}

/* NULL means "none given": stored as null, the server's default applies. */
static int check_callback_url(const char *url, struct err *e)
{
	if (!url || task_config_is_http_url(url))
		return ERR_OK;
	return err_set(e, ERR_INVALID,
		       "callback_url must be an http:// or https:// URL such as "
		       "\"http://localhost:8000/process_background_feedback\" (got \"%.200s\")",
		       url);
}

static json_t *string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* The state must exist, not be deleted, and be the named task's. */
static int require_live(const json_t *state, const char *task_id, struct err *e)
{
	const char *sid;

	if (!state)
		return err_set(e, ERR_NOT_FOUND, "Task %s not found", show(task_id));
	if (task_state_is_deleted(state))
		return err_set(e, ERR_NOT_FOUND, "Task %s was deleted", show(task_id));
	if (!task_state_status(state))
		return err_set(e, ERR_CORRUPT, "state of task %s has no status", show(task_id));
	sid = json_get_str(state, "task_id");
	if (!task_id || (sid && strcmp(sid, task_id) != 0))
		return err_set(e, ERR_INTERNAL, "state of task %s given for task %s", show(sid),
			       show(task_id));
	return ERR_OK;
}

/* ---- deciding ------------------------------------------------------------- */

int task_decide_create(const char *task_id, const char *task_type, const char *description,
		       const json_t *config, const char *callback_url, const char *user_id,
		       json_t **event_data, struct err *e)
{
	json_t *parsed, *norm, *d;
	int type = 0, rc;

	*event_data = NULL;
	if (!user_id)
		user_id = "default";
	if ((rc = check_task_id(task_id, e)) || (rc = task_type_parse(task_type, &type, e)) ||
	    (rc = check_text("description", description, DESCRIPTION_MAX, e)))
		return rc;
	if (!(parsed = task_config_parse(config, e)))
		return e ? e->code : ERR_INVALID;
	norm = task_config_validate(type, parsed, e);
	json_decref(parsed);
	if (!norm)
		return e ? e->code : ERR_INVALID;
	if ((rc = check_callback_url(callback_url, e)) ||
	    (rc = check_text("user_id", user_id, USER_ID_MAX, e))) {
		json_decref(norm);
		return rc;
	}
	d = json_object();
	json_object_set_new(d, "task_id", json_string(task_id));
	json_object_set_new(d, "task_type", json_string(type_names[type]));
	json_object_set_new(d, "description", json_string(description));
	json_object_set_new(d, "config", norm);
	json_object_set_new(d, "callback_url", string_or_null(callback_url));
	json_object_set_new(d, "user_id", json_string(user_id));
	*event_data = d;
	err_clear(e);
	return ERR_OK;
}

/* NOOP still says why, in *e with code ERR_OK, for the tool's message. */
static int noop(int *decision, struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int noop(int *decision, struct err *e, const char *fmt, ...)
{
	va_list ap;

	*decision = TASK_DECIDE_NOOP;
	va_start(ap, fmt);
	err_setv(e, ERR_OK, fmt, ap);
	va_end(ap);
	return ERR_OK;
}

/* Only description, config and callback_url may change. */
static int check_change_keys(const json_t *changes, struct err *e)
{
	const char *key;
	json_t *v;

	if (!changes)
		return ERR_OK;
	if (!json_is_object(changes))
		return err_set(e, ERR_INVALID,
			       "changes must be an object with description, config and/or "
			       "callback_url, not %s",
			       json_type_name(changes));
	json_object_foreach((json_t *)changes, key, v) {
		(void)v;
		if (strcmp(key, "description") == 0 || strcmp(key, "config") == 0 ||
		    strcmp(key, "callback_url") == 0)
			continue;
		if (strcmp(key, "task_type") == 0)
			return err_set(
				e, ERR_INVALID,
				"task_type cannot be changed; delete the task and create a new "
				"one of the other type");
		if (strcmp(key, "status") == 0)
			return err_set(
				e, ERR_INVALID,
				"status cannot be updated; pause or resume the task instead");
		return err_set(e, ERR_INVALID,
			       "%.80s cannot be updated; a task's description, config and "
			       "callback_url can",
			       key);
	}
	return ERR_OK;
}

int task_decide_update(const json_t *state, const char *task_id, const json_t *changes,
		       int *decision, json_t **event_data, struct err *e)
{
	json_t *out, *v, *d;
	int rc, type = 0;

	*event_data = NULL;
	*decision = TASK_DECIDE_NOOP;
	if ((rc = require_live(state, task_id, e)))
		return rc;
	if ((rc = check_change_keys(changes, e)))
		return rc;

	out = json_object();
	if ((v = json_object_get(changes, "description"))) {
		if ((rc = check_text("description", json_string_value(v), DESCRIPTION_MAX, e)))
			goto fail;
		if (!json_equal(v, json_object_get(state, "description")))
			json_object_set(out, "description", v);
	}
	if ((v = json_object_get(changes, "config"))) {
		json_t *parsed, *norm;

		if ((rc = task_type_parse(json_get_str(state, "task_type"), &type, e)))
			goto fail;
		if (!(parsed = task_config_parse(v, e))) {
			rc = e ? e->code : ERR_INVALID;
			goto fail;
		}
		norm = task_config_validate(type, parsed, e);
		json_decref(parsed);
		if (!norm) {
			rc = e ? e->code : ERR_INVALID;
			goto fail;
		}
		if (!json_equal(norm, json_object_get(state, "config")))
			json_object_set(out, "config", norm);
		json_decref(norm);
	}
	if ((v = json_object_get(changes, "callback_url"))) {
		if (!json_is_null(v) && !json_is_string(v)) {
			rc = err_set(e, ERR_INVALID,
				     "callback_url must be an http:// or https:// URL, or null for "
				     "the server's default (got %s)",
				     json_type_name(v));
			goto fail;
		}
		if ((rc = check_callback_url(json_string_value(v), e)))
			goto fail;
		if (!json_equal(v, json_object_get(state, "callback_url")))
			json_object_set(out, "callback_url", v);
	}
	if (json_object_size(out) == 0) {
		json_decref(out);
		return noop(decision, e, "Task %s already has these settings; nothing to update",
			    task_id);
	}
	d = json_object();
	json_object_set_new(d, "task_id", json_string(task_id));
	json_object_set_new(d, "changes", out);
	*event_data = d;
	*decision = TASK_DECIDE_APPEND;
	err_clear(e);
	return ERR_OK;
fail:
	json_decref(out);
	return rc;
}

int task_decide_pause(const json_t *state, const char *task_id, const char *reason, int *decision,
		      json_t **event_data, struct err *e)
{
	json_t *d;
	int rc;

	*event_data = NULL;
	*decision = TASK_DECIDE_NOOP;
	if ((rc = require_live(state, task_id, e)))
		return rc;
	if (reason && !*reason)
		reason = NULL;
	if (reason && (rc = check_text("reason", reason, REASON_MAX, e)))
		return rc;
	if (strcmp(task_state_status(state), "paused") == 0)
		return noop(decision, e, "Task %s is already paused", task_id);
	d = json_object();
	json_object_set_new(d, "task_id", json_string(task_id));
	if (reason)
		json_object_set_new(d, "reason", json_string(reason));
	*event_data = d;
	*decision = TASK_DECIDE_APPEND;
	err_clear(e);
	return ERR_OK;
}

int task_decide_resume(const json_t *state, const char *task_id, int *decision, json_t **event_data,
		       struct err *e)
{
	json_t *d;
	int rc;

	*event_data = NULL;
	*decision = TASK_DECIDE_NOOP;
	if ((rc = require_live(state, task_id, e)))
		return rc;
	if (strcmp(task_state_status(state), "paused") != 0)
		return noop(decision, e, "Task %s is already active", task_id);
	d = json_object();
	json_object_set_new(d, "task_id", json_string(task_id));
	*event_data = d;
	*decision = TASK_DECIDE_APPEND;
	err_clear(e);
	return ERR_OK;
}

int task_decide_delete(const json_t *state, const char *task_id, json_t **event_data, struct err *e)
{
	json_t *d;
	int rc;

	*event_data = NULL;
	if ((rc = require_live(state, task_id, e)))
		return rc;
	d = json_object();
	json_object_set_new(d, "task_id", json_string(task_id));
	*event_data = d;
	err_clear(e);
	return ERR_OK;
}

/* ---- folding -------------------------------------------------------------- */

static json_t *corrupt(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static json_t *corrupt(struct err *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_setv(e, ERR_CORRUPT, fmt, ap);
	va_end(ap);
	return NULL;
}

static json_t *fold_created(const json_t *data, int64_t version, const char *recorded_at,
			    struct err *e)
{
	const char *id = json_get_str(data, "task_id"), *type = json_get_str(data, "task_type");
	json_t *config = json_object_get(data, "config"), *s, *v;
	int t;

	if (!id || !json_is_object(config) || task_type_parse(type, &t, NULL) != ERR_OK)
		return corrupt(e,
			       "task_created of task %s lacks a task_id, a known task_type "
			       "or a config object",
			       show(id));
	s = json_object();
	json_object_set_new(s, "task_id", json_string(id));
	json_object_set_new(s, "task_type", json_string(type));
	v = json_object_get(data, "description");
	json_object_set_new(s, "description", json_is_string(v) ? json_copy(v) : json_string(""));
	json_object_set_new(s, "config", json_deep_copy(config));
	v = json_object_get(data, "callback_url");
	json_object_set_new(s, "callback_url", json_is_string(v) ? json_copy(v) : json_null());
	v = json_object_get(data, "user_id");
	json_object_set_new(s, "user_id",
			    json_is_string(v) ? json_copy(v) : json_string("default"));
	json_object_set_new(s, "status", json_string("active"));
	json_object_set_new(s, "created_at", string_or_null(recorded_at));
	json_object_set_new(s, "updated_at", string_or_null(recorded_at));
	json_object_set_new(s, "version", json_integer(version));
	return s;
}

/* Apply task_updated's changes to s (a copy we own). */
static int fold_updated(json_t *s, const json_t *data, struct err *e)
{
	json_t *changes = json_object_get(data, "changes"), *v;

	if (!json_is_object(changes))
		return err_set(e, ERR_CORRUPT, "task_updated of task %s has no changes object",
			       show(json_get_str(s, "task_id")));
	if (json_is_string(v = json_object_get(changes, "description")))
		json_object_set(s, "description", v);
	if (json_is_object(v = json_object_get(changes, "config")))
		json_object_set_new(s, "config", json_deep_copy(v));
	if ((v = json_object_get(changes, "callback_url")) &&
	    (json_is_string(v) || json_is_null(v)))
		json_object_set(s, "callback_url", v);
	return ERR_OK;
}

json_t *task_fold(const json_t *state, const char *event_type, const json_t *data, int64_t version,
		  const char *recorded_at, struct err *e)
{
	bool lifecycle;
	const char *sid, *did;
	json_t *s;

	if (!event_type)
		return corrupt(e, "event without a type");
	lifecycle = strcmp(event_type, TASK_EV_CREATED) == 0 ||
		    strcmp(event_type, TASK_EV_UPDATED) == 0 ||
		    strcmp(event_type, TASK_EV_PAUSED) == 0 ||
		    strcmp(event_type, TASK_EV_RESUMED) == 0 ||
		    strcmp(event_type, TASK_EV_DELETED) == 0;

	if (strcmp(event_type, TASK_EV_CREATED) == 0) {
		if (state)
			return corrupt(e, "task_created for task %s, which already exists",
				       show(json_get_str(state, "task_id")));
		return fold_created(data, version, recorded_at, e);
	}
	if (!state)
		return corrupt(e, "%s event before task_created", event_type);
	if (version <= json_integer_value(json_object_get(state, "version")))
		return corrupt(e, "event version %lld does not follow the task's version %lld",
			       (long long)version,
			       (long long)json_integer_value(json_object_get(state, "version")));
	sid = json_get_str(state, "task_id");
	did = json_get_str(data, "task_id");
	if (lifecycle && did && sid && strcmp(did, sid) != 0)
		return corrupt(e, "event of task %s folded into task %s", did, sid);
	/* a deleted task stays deleted; deleting twice is harmless */
	if (lifecycle && task_state_is_deleted(state) && strcmp(event_type, TASK_EV_DELETED) != 0)
		return corrupt(e, "%s after task_deleted of task %s", event_type, show(sid));

	s = json_deep_copy(state);
	if (strcmp(event_type, TASK_EV_UPDATED) == 0) {
		if (fold_updated(s, data, e)) {
			json_decref(s);
			return NULL;
		}
	} else if (strcmp(event_type, TASK_EV_PAUSED) == 0) {
		const char *reason = json_get_str(data, "reason");

		json_object_set_new(s, "status", json_string("paused"));
		if (reason && *reason)
			json_object_set_new(s, "paused_reason", json_string(reason));
		else
			json_object_del(s, "paused_reason");
	} else if (strcmp(event_type, TASK_EV_RESUMED) == 0) {
		json_object_set_new(s, "status", json_string("active"));
		json_object_del(s, "paused_reason");
	} else if (strcmp(event_type, TASK_EV_DELETED) == 0) {
		json_object_set_new(s, "status", json_string("deleted"));
		json_object_del(s, "paused_reason");
	}
	if (lifecycle)
		json_object_set_new(s, "updated_at", string_or_null(recorded_at));
	json_object_set_new(s, "version", json_integer(version));
	return s;
}
