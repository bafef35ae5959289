/*
 * tasks.c - task commands and queries over the event store.
 *
 * Besides the domain's rules (task_config_validate), a config is checked
 * here against the machine it will run on, when a task is created or its
 * config updated: every timezone must exist in the tz database and every
 * URL the engine fetches must pass the --allow-net policy, so a task the
 * engine could not run is refused at once with the reason.
 */
#include "tasks.h"

#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/clock.h"
#include "common/tz.h"
#include "common/uuid.h"
#include "common/xalloc.h"
#include "domain/authz.h"
#include "domain/memory.h"
#include "domain/task.h"
#include "domain/task_config.h"
#include "engine/netguard.h"

#define APPEND_RETRIES 5 /* optimistic-concurrency retries on a version conflict */
#define RUN_REASON_MAX 1000

static const struct netguard *net_guard;

void app_tasks_set_net_guard(const struct netguard *g)
{
	net_guard = g;
}

const struct netguard *app_tasks_net_guard(void)
{
	return net_guard;
}

/* Projection adapter: fold a task event into the stored document; a deleted
 * task leaves the projection of current tasks. */
static json_t *project_task(const json_t *doc, const struct store_event *ev, void *ud,
			    struct err *e)
{
	char ts[CLOCK_ISO_MAX];
	(void)ud;
	/* A deleted task has no document; events that reach its stream later
	 * (a check that was in flight, a delivery outcome) leave it that way. */
	if (!doc && strcmp(ev->type, TASK_EV_CREATED) != 0)
		return NULL;
	clock_format_utc(ev->recorded_at_us, ts);
	json_t *next = task_fold(doc, ev->type, ev->data, ev->version, ts, e);
	if (next && task_state_is_deleted(next)) {
		json_decref(next);
		return NULL;
	}
	return next;
}

const struct store_projection app_projections[] = {
	{.name = APP_TASKS_PROJECTION, .stream_prefix = TASK_STREAM_PREFIX, .apply = project_task},
	{.name = APP_KEYS_PROJECTION,
	 .stream_prefix = PRINCIPAL_STREAM_PREFIX,
	 .apply = app_auth_project_key},
	{.name = APP_AUTHZ_PROJECTION,
	 .stream_prefix = AUTHZ_STREAM_PREFIX,
	 .apply = app_auth_project_authz},
	{.name = MEMORY_PROJECTION,
	 .stream_prefix = MEMORY_STREAM_PREFIX,
	 .apply = memory_project,
	 .index = memory_index},
};
const size_t app_nprojections = sizeof app_projections / sizeof app_projections[0];

int app_store_open(const char *url, bool read_only, struct store **out, struct err *e)
{
	struct store_options opt = {
		.projections = app_projections,
		.nprojections = app_nprojections,
		.read_only = read_only,
	};
	return store_open(url, &opt, out, e);
}

json_t *app_actor_metadata(const struct app_actor *who)
{
	char corr[UUID_STR_LEN + 1];
	json_t *m = json_object();

	json_object_set_new(m, "principal",
			    json_string(who && who->principal ? who->principal : "local"));
	if (who && who->correlation_id) {
		json_object_set_new(m, "correlation_id", json_string(who->correlation_id));
	} else {
		uuid_v4(corr);
		json_object_set_new(m, "correlation_id", json_string(corr));
	}
	if (who && who->causation_id)
		json_object_set_new(m, "causation_id", json_string(who->causation_id));
	return m;
}

/* Fold a task's stream.  *state is NULL and *version 0 when it has none. */
static int load(struct store *s, const char *task_id, json_t **state, int64_t *version,
		struct err *e)
{
	char stream[STORE_STREAM_MAX + 1];
	task_stream_name(task_id, stream, sizeof stream);
	return task_load_stream(s, stream, state, version, e);
}

/* Append one event; *res and event_id (UUID_STR_LEN + 1 bytes) may be NULL. */
static int append_one(struct store *s, const struct app_actor *who, const char *task_id,
		      int64_t expected, const char *type, json_t *data,
		      struct store_append_result *res, char *event_id, struct err *e)
{
	char stream[STORE_STREAM_MAX + 1];
	struct store_new_event ev = {.event_id = "", .type = type, .data = data};
	json_t *meta = app_actor_metadata(who);
	int rc;

	task_stream_name(task_id, stream, sizeof stream);
	ev.metadata = meta;
	rc = store_append(s, stream, expected, &ev, 1, res, e);
	json_decref(meta);
	if (event_id)
		memcpy(event_id, ev.event_id, sizeof ev.event_id);
	return rc;
}

/* ---- checks against this machine ------------------------------------------- */

/* The zone must exist: the engine reads it from the tz database. */
static int check_timezone(const json_t *config, struct err *e)
{
	const char *name = json_string_value(json_object_get(config, "timezone"));
	const char *dir = getenv("TZDIR");
	const struct tz *z;
	struct err te = {0};
	int rc;

	if (!name)
		return ERR_OK;
	rc = tz_load(name, &z, &te);
	if (rc == ERR_OK)
		return ERR_OK;
	if (rc == ERR_NOT_FOUND)
		return err_set(e, ERR_INVALID,
			       "config.timezone \"%.64s\" is not a time zone in the tz database "
			       "(%s); use a name like Europe/Berlin",
			       name, dir && *dir ? dir : TZ_DIR_DEFAULT);
	/* a malformed name, a leap-second zone, a damaged or unreadable file */
	return err_set(e, rc, "config.timezone \"%.64s\": %s", name, err_msg(&te));
}

/* One URL the engine will fetch: it must parse as the fetcher parses it
 * (libcurl's URL API, so "http://2130706433/", "http://127.1/" and
 * percent-encoded names are read as the fetcher reads them) and its host
 * must pass the --allow-net policy.  Names are only judged when they never
 * leave the machine (localhost); what they resolve to is judged at connect
 * time. */
static int check_url(const char *field, const char *url, void *ud)
{
	struct err *e = ud;
	CURLU *u = curl_url();
	char *host = NULL;
	int rc = ERR_OK;
	CURLUcode uc;

	if (!u)
		return err_set(e, ERR_INTERNAL, "out of memory parsing %s", field);
	uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (uc == CURLUE_OK)
		uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
	if (uc != CURLUE_OK || !host || !*host) {
		rc = err_set(e, ERR_INVALID,
			     "%s \"%.200s\" is not a URL that can be fetched (%s); write it as "
			     "http(s)://host[:port]/path",
			     field, url,
			     uc != CURLUE_OK ? curl_url_strerror(uc) : "it has no host name");
	} else if (net_guard && (rc = netguard_check_host(net_guard, host, url, e)) != ERR_OK) {
		err_prefix(e, "%s", field);
	}
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

/* Checks of a normalised config that need this machine (see the top). */
static int check_config_here(const char *task_type, const json_t *config, struct err *e)
{
	int type, rc;

	if (!config || task_type_parse(task_type, &type, NULL) != ERR_OK)
		return ERR_OK; /* the domain has judged these */
	if ((rc = check_timezone(config, e)))
		return rc;
	return task_config_each_url(type, config, check_url, e);
}

int app_task_create(struct store *s, const struct app_actor *who, const char *task_id,
		    const char *task_type, const char *description, const json_t *config,
		    const char *callback_url, const char *user_id, json_t **task, struct err *e)
{
	char id[UUID_STR_LEN + 1];
	json_t *data = NULL;
	int rc;

	if (task)
		*task = NULL;
	if (task_id) {
		if (!uuid_valid(task_id))
			return err_set(e, ERR_INVALID, "task id '%s' is not a UUID", task_id);
		snprintf(id, sizeof id, "%s", task_id);
	} else {
		uuid_v4(id);
	}
	rc = task_decide_create(id, task_type, description, config,
				callback_url ? callback_url : APP_DEFAULT_CALLBACK_URL,
				user_id ? user_id : "default", &data, e);
	if (rc == ERR_OK)
		rc = check_config_here(task_type, json_object_get(data, "config"), e);
	if (rc) {
		json_decref(data);
		return rc;
	}
	struct store_append_result res = {0};
	rc = append_one(s, who, id, STORE_EXPECT_NO_STREAM, TASK_EV_CREATED, data, &res, NULL, e);
	if (rc == ERR_CONFLICT) {
		json_decref(data);
		return err_set(e, ERR_CONFLICT, "a task with id %s already exists", id);
	}
	if (rc == ERR_OK && task) {
		/* The new task is the fold of the one event just stored: no need
		 * to read it back. */
		char ts[CLOCK_ISO_MAX];
		clock_format_utc(res.recorded_at_us, ts);
		*task = task_fold(NULL, TASK_EV_CREATED, data, res.version, ts, e);
		if (!*task)
			rc = e && e->code ? e->code : ERR_CORRUPT;
	}
	json_decref(data);
	return rc;
}

int app_task_get(struct store *s, const char *task_id, json_t **task, struct err *e)
{
	int64_t version;
	int rc;

	*task = NULL;
	if (!task_id || !uuid_valid(task_id))
		return err_set(e, ERR_NOT_FOUND, "Task %s not found (task ids are UUIDs)",
			       task_id ? task_id : "(none)");
	if ((rc = load(s, task_id, task, &version, e)))
		return rc;
	if (!*task)
		return err_set(e, ERR_NOT_FOUND, "Task %s not found", task_id);
	return ERR_OK;
}

int app_task_list(struct store *s, const char *user_id, const char *status, json_t **tasks,
		  struct err *e)
{
	json_t *docs, *doc;
	const char *key;
	int rc;

	*tasks = NULL;
	if ((rc = store_proj_list(s, APP_TASKS_PROJECTION, &docs, e)))
		return rc;
	*tasks = json_array();
	json_object_foreach(docs, key, doc) {
		const char *owner = json_string_value(json_object_get(doc, "user_id"));
		if (user_id && strcmp(user_id, "admin") != 0 &&
		    (!owner || strcmp(owner, user_id) != 0))
			continue;
		if (status && strcmp(task_state_status(doc), status) != 0)
			continue;
		json_array_append(*tasks, doc);
	}
	json_decref(docs);
	return ERR_OK;
}

/* The decide function of one lifecycle command. */
typedef int (*decide_fn)(const json_t *state, const char *task_id, const void *arg, int *decision,
			 json_t **data, const char **type, struct err *e);

/* Load, decide, append with the version read; retry on a concurrent write. */
static int command(struct store *s, const struct app_actor *who, const char *task_id,
		   decide_fn decide, const void *arg, bool *changed, json_t **task, struct err *e)
{
	int rc = ERR_OK;

	if (changed)
		*changed = false;
	if (task)
		*task = NULL;
	if (!task_id || !uuid_valid(task_id))
		return err_set(e, ERR_NOT_FOUND, "Task %s not found (task ids are UUIDs)",
			       task_id ? task_id : "(none)");
	for (int attempt = 0; attempt < APPEND_RETRIES; attempt++) {
		json_t *state = NULL, *data = NULL;
		const char *type = NULL;
		int64_t version;
		int decision = TASK_DECIDE_NOOP;

		if ((rc = load(s, task_id, &state, &version, e)))
			return rc;
		rc = decide(state, task_id, arg, &decision, &data, &type, e);
		json_decref(state);
		if (rc)
			return rc;
		if (decision == TASK_DECIDE_APPEND) {
			rc = append_one(s, who, task_id, version, type, data, NULL, NULL, e);
			json_decref(data);
			if (rc == ERR_CONFLICT)
				continue; /* someone else wrote meanwhile: decide again */
			if (rc)
				return rc;
			if (changed)
				*changed = true;
		}
		if (task)
			rc = app_task_get(s, task_id, task, e);
		return rc;
	}
	return rc;
}

static int decide_pause(const json_t *state, const char *id, const void *arg, int *decision,
			json_t **data, const char **type, struct err *e)
{
	*type = TASK_EV_PAUSED;
	return task_decide_pause(state, id, arg, decision, data, e);
}

static int decide_resume(const json_t *state, const char *id, const void *arg, int *decision,
			 json_t **data, const char **type, struct err *e)
{
	(void)arg;
	*type = TASK_EV_RESUMED;
	return task_decide_resume(state, id, decision, data, e);
}

static int decide_update(const json_t *state, const char *id, const void *arg, int *decision,
			 json_t **data, const char **type, struct err *e)
{
	json_t *config;
	int rc;

	*type = TASK_EV_UPDATED;
	rc = task_decide_update(state, id, arg, decision, data, e);
	if (rc || *decision != TASK_DECIDE_APPEND)
		return rc;
	/* only a config that changed is checked again */
	config = json_object_get(json_object_get(*data, "changes"), "config");
	if ((rc = check_config_here(json_string_value(json_object_get(state, "task_type")), config,
				    e))) {
		json_decref(*data);
		*data = NULL;
		*decision = TASK_DECIDE_NOOP;
	}
	return rc;
}

static int decide_delete(const json_t *state, const char *id, const void *arg, int *decision,
			 json_t **data, const char **type, struct err *e)
{
	(void)arg;
	*type = TASK_EV_DELETED;
	*decision = TASK_DECIDE_APPEND;
	return task_decide_delete(state, id, data, e);
}

int app_task_pause(struct store *s, const struct app_actor *who, const char *task_id,
		   const char *reason, bool *changed, json_t **task, struct err *e)
{
	return command(s, who, task_id, decide_pause, reason, changed, task, e);
}

int app_task_resume(struct store *s, const struct app_actor *who, const char *task_id,
		    bool *changed, json_t **task, struct err *e)
{
	return command(s, who, task_id, decide_resume, NULL, changed, task, e);
}

int app_task_update(struct store *s, const struct app_actor *who, const char *task_id,
		    const json_t *changes, bool *changed, json_t **task, struct err *e)
{
	return command(s, who, task_id, decide_update, changes, changed, task, e);
}

int app_task_delete(struct store *s, const struct app_actor *who, const char *task_id,
		    json_t **task, struct err *e)
{
	return command(s, who, task_id, decide_delete, NULL, NULL, task, e);
}

/* ---- run now ---------------------------------------------------------------- */

int app_task_run_now(struct store *s, const struct app_actor *who, const char *task_id,
		     const char *reason, json_t **result, struct err *e)
{
	int rc = ERR_CONFLICT;

	*result = NULL;
	if (!task_id || !uuid_valid(task_id))
		return err_set(e, ERR_NOT_FOUND, "Task %s not found (task ids are UUIDs)",
			       task_id ? task_id : "(none)");
	if (reason && !*reason)
		reason = NULL;
	if (reason && strlen(reason) > RUN_REASON_MAX)
		return err_set(e, ERR_INVALID, "reason must be at most %d bytes", RUN_REASON_MAX);
	for (int attempt = 0; attempt < APPEND_RETRIES && rc == ERR_CONFLICT; attempt++) {
		struct store_append_result res = {0};
		char event_id[UUID_STR_LEN + 1] = "";
		json_t *state = NULL, *data, *reason_j = NULL;
		const char *status;
		int64_t version;

		if ((rc = load(s, task_id, &state, &version, e)))
			return rc;
		if (!state)
			return err_set(e, ERR_NOT_FOUND, "Task %s not found", task_id);
		status = task_state_status(state);
		if (task_state_is_deleted(state))
			rc = err_set(e, ERR_NOT_FOUND, "Task %s was deleted", task_id);
		else if (status && strcmp(status, "paused") == 0)
			/* the engine runs no check of a paused task */
			rc = err_set(e, ERR_STATE, "Task %s is paused; resume it first", task_id);
		else if (reason && !(reason_j = json_string(reason)))
			rc = err_set(e, ERR_INVALID, "reason must be valid UTF-8 text");
		if (rc) {
			json_decref(state);
			return rc;
		}
		data = json_object();
		json_object_set_new(data, "task_id", json_string(task_id));
		if (reason_j)
			json_object_set_new(data, "reason", reason_j);
		/* after the version read, so a task paused or deleted meanwhile
		 * gets no request: decide again on a conflict */
		rc = append_one(s, who, task_id, version, TASK_EV_RUN_REQUESTED, data, &res,
				event_id, e);
		json_decref(data);
		if (rc == ERR_OK) {
			json_t *r = json_object();

			json_object_set_new(r, "task_id", json_string(task_id));
			json_object_set_new(r, "requested", json_true());
			json_object_set_new(r, "event_type", json_string(TASK_EV_RUN_REQUESTED));
			json_object_set_new(r, "event_id", json_string(event_id));
			json_object_set_new(r, "position", json_integer(res.last_position));
			json_object_set_new(r, "version", json_integer(res.version));
			json_object_set_new(r, "task_status", json_string(status ? status : ""));
			*result = r;
		}
		json_decref(state);
	}
	return rc;
}
