/*
 * tasks.h - the task use cases over the event store (glue: store <-> domain).
 *
 * Commands load a task by folding its stream (the log is the truth), let the
 * domain decide, and append with the stream version they read as the
 * expected version, retrying a few times when another writer got there
 * first.  Queries read the "tasks" projection, which the store keeps current
 * inside each append transaction.
 *
 * Results are task states (see domain/task.h) as new JSON references.
 */
#ifndef AMBIENT_APP_TASKS_H
#define AMBIENT_APP_TASKS_H

#include <jansson.h>
#include <stdbool.h>

#include "common/err.h"
#include "store/store.h"

#define APP_TASKS_PROJECTION "tasks"
#define APP_DEFAULT_CALLBACK_URL "http://localhost:8000/process_background_feedback"

struct netguard;

/* The SSRF policy that task URLs are checked against when a task is created
 * or updated (the process's --allow-net / AMBIENT_ALLOW_NET), so a URL the
 * engine would refuse is refused at once with the reason.  Set once at
 * start-up, before any task command; NULL (the default) checks nothing. */
void app_tasks_set_net_guard(const struct netguard *g);
const struct netguard *app_tasks_net_guard(void);

/* Who is acting, recorded in every event's metadata. */
struct app_actor {
	const char *principal;      /* e.g. "cli:alice", "mcp:default" */
	const char *correlation_id; /* NULL: a new id is made */
	const char *causation_id;   /* NULL: none */
};

/* Event metadata for an actor: {principal, correlation_id (new when
 * none), causation_id?}.  New reference. */
json_t *app_actor_metadata(const struct app_actor *who);

/* The projections ambient registers with every store it opens. */
extern const struct store_projection app_projections[];
extern const size_t app_nprojections;

/* Open a store with ambient's projections registered. */
int app_store_open(const char *url, bool read_only, struct store **out, struct err *e);

/* Create a task.  task_id may be NULL (a UUIDv4 is made); callback_url
 * NULL means the default.  *task gets the new state.  Besides the domain's
 * rules, the config's timezone must exist in the tz database and each URL
 * the engine fetches (task_config_each_url) must pass the net guard
 * (ERR_PERM, with how to allow it); app_task_update checks a changed config
 * the same way. */
int app_task_create(struct store *s, const struct app_actor *who, const char *task_id,
		    const char *task_type, const char *description, const json_t *config,
		    const char *callback_url, const char *user_id, json_t **task, struct err *e);

/* The current state of a task, folded from its stream (deleted tasks have
 * status "deleted").  ERR_NOT_FOUND when it never existed. */
int app_task_get(struct store *s, const char *task_id, json_t **task, struct err *e);

/* Current (not deleted) tasks from the projection, oldest first; user_id
 * NULL or "admin" lists everyone's, status NULL lists all statuses. */
int app_task_list(struct store *s, const char *user_id, const char *status, json_t **tasks,
		  struct err *e);

/* Lifecycle commands.  *changed (may be NULL) tells whether an event was
 * appended (false when the task already was in the wanted state); *task
 * (may be NULL) gets the resulting state. */
int app_task_pause(struct store *s, const struct app_actor *who, const char *task_id,
		   const char *reason, bool *changed, json_t **task, struct err *e);
int app_task_resume(struct store *s, const struct app_actor *who, const char *task_id,
		    bool *changed, json_t **task, struct err *e);
int app_task_update(struct store *s, const struct app_actor *who, const char *task_id,
		    const json_t *changes, bool *changed, json_t **task, struct err *e);
int app_task_delete(struct store *s, const struct app_actor *who, const char *task_id,
		    json_t **task, struct err *e);

/* Ask the engine for one check of the task now, outside its schedule:
 * appends task_run_requested {task_id, reason?} after the version read (so
 * a task paused or deleted meanwhile gets no request).  reason NULL or ""
 * gives none; at most 1000 bytes.  *result gets {task_id, requested: true,
 * event_type, event_id, position, version, task_status}; the check itself
 * runs when the engine picks the request up.  ERR_NOT_FOUND for an unknown
 * or deleted task, ERR_STATE "Task <id> is paused; resume it first" for a
 * paused one (the engine runs no check of a paused task). */
int app_task_run_now(struct store *s, const struct app_actor *who, const char *task_id,
		     const char *reason, json_t **result, struct err *e);

#endif
