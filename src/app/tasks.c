/* tasks.c - task commands and queries over the event store. */
#include "tasks.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/uuid.h"
#include "common/xalloc.h"
#include "domain/task.h"

#define APPEND_RETRIES 5 /* optimistic-concurrency retries on a version conflict */

/* Projection adapter: fold a task event into the stored document; a deleted
 * task leaves the projection of current tasks. */
static const struct netguard *net_guard;

void app_tasks_set_net_guard(const struct netguard *g)
{
	net_guard = g;
}

const struct netguard *app_tasks_net_guard(void)
{
	return net_guard;
}

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

static json_t *metadata_for(const struct app_actor *who)
{
	char corr[UUID_STR_LEN + 1];
	json_t *m = json_object();

	json_object_set_new(m, "principal", json_string(who && who->principal ? who->principal : "local"));
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
	struct store_event_list evs = {0};
	int rc;

	*state = NULL;
	*version = 0;
	task_stream_name(task_id, stream, sizeof stream);
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
		*version = evs.items[i].version;
	}
	store_event_list_cleanup(&evs);
	return rc;
}

static int append_one(struct store *s, const struct app_actor *who, const char *task_id,
		      int64_t expected, const char *type, json_t *data, struct err *e)
{
	char stream[STORE_STREAM_MAX + 1];
	struct store_new_event ev = {.event_id = "", .type = type, .data = data};
	json_t *meta = metadata_for(who);
	int rc;

	task_stream_name(task_id, stream, sizeof stream);
	ev.metadata = meta;
	rc = store_append(s, stream, expected, &ev, 1, NULL, e);
	json_decref(meta);
	return rc;
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
	if (rc)
		return rc;
	rc = append_one(s, who, id, STORE_EXPECT_NO_STREAM, TASK_EV_CREATED, data, e);
	json_decref(data);
	if (rc == ERR_CONFLICT)
		return err_set(e, ERR_CONFLICT, "a task with id %s already exists", id);
	if (rc == ERR_OK && task)
		rc = app_task_get(s, id, task, e);
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
		if (user_id && strcmp(user_id, "admin") != 0 && (!owner || strcmp(owner, user_id) != 0))
			continue;
		if (status && strcmp(task_state_status(doc), status) != 0)
			continue;
		json_array_append(*tasks, doc);
	}
	json_decref(docs);
	return ERR_OK;
}

/* The decide function of one lifecycle command. */
typedef int (*decide_fn)(const json_t *state, const char *task_id, const void *arg,
			 int *decision, json_t **data, const char **type, struct err *e);

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
			rc = append_one(s, who, task_id, version, type, data, e);
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
	*type = TASK_EV_UPDATED;
	return task_decide_update(state, id, arg, decision, data, e);
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
