/*
 * task.h - background tasks as an event-sourced aggregate (pure: no I/O).
 *
 * A task lives in stream "task-<uuid>".  Its events are task_created,
 * task_updated, task_paused, task_resumed and task_deleted; its state is the
 * fold of those events (task_fold).  Commands (create, update, pause, resume,
 * delete) are decided against the current state (task_decide_*) and produce
 * the data of the one event to append, or an error, or "nothing to do".
 *
 * State is a JSON object (so it serialises straight into the projection
 * table and the MCP results):
 *   {task_id, task_type, description, config, callback_url, user_id,
 *    status: "active"|"paused"|"deleted", created_at, updated_at,
 *    paused_reason?: string, version: <stream version of the last event>}
 * created_at / updated_at are ISO-8601 UTC strings taken from the events'
 * recorded_at, so a replay gives byte-identical state.
 *
 * Ownership: json_t* results are new references; inputs are borrowed.
 */
#ifndef AMBIENT_DOMAIN_TASK_H
#define AMBIENT_DOMAIN_TASK_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

enum task_type {
	TASK_WEB_MONITOR,
	TASK_SCHEDULE,
	TASK_NEWS_DIGEST,
	TASK_THRESHOLD_WATCH,
	TASK_TYPE__COUNT
};

#define TASK_STREAM_PREFIX "task-"

#define TASK_EV_CREATED "task_created"
#define TASK_EV_UPDATED "task_updated"
#define TASK_EV_PAUSED "task_paused"
#define TASK_EV_RESUMED "task_resumed"
#define TASK_EV_DELETED "task_deleted"
#define TASK_EV_RUN_REQUESTED "task_run_requested" /* run_task_now: the engine checks at once */

/* "web_monitor", ... ; NULL for an out-of-range value. */
const char *task_type_name(int type);
/* Parse a type name.  On failure ERR_INVALID with the original's text:
 * "Invalid task type. Must be one of: ['web_monitor', 'schedule',
 * 'news_digest', 'threshold_watch']". */
int task_type_parse(const char *name, int *type, struct err *e);

/* Config given as a JSON object or as a string holding JSON (the MCP tool
 * accepts both, as the original did from 89ab9eb).  Returns a new reference
 * to the object; on bad text ERR_INVALID "Invalid JSON in config: <msg>";
 * when not an object, says so. */
json_t *task_config_parse(const json_t *config, struct err *e);

/* Validate a config for a task type and return a normalised copy (rules:
 * docs/tasks.md; shape checks shared with the app: task_config.h): defaults of
 * the original filled in (web_monitor check_interval_minutes=30,
 * news_digest hour=8 minute=0 and its two default sources, threshold_watch
 * check_interval_minutes=15 comparison "above", schedule daily hour=8
 * minute=0, interval minutes=60), unknown extra keys kept verbatim (the seed
 * carries "action", "notification", "message").  On error returns NULL and
 * sets ERR_INVALID with a message naming the field, what was wrong and the
 * allowed values, e.g. "config.check_interval_minutes must be an integer
 * from 1 to 10080 (got \"30m\")". */
json_t *task_config_validate(int type, const json_t *config, struct err *e);

/* Stream name for a task id: "task-<id>" into out (size >= 64). */
void task_stream_name(const char *task_id, char *out, unsigned long size);
/* The task id of a stream name, or NULL when it is not a task stream. */
const char *task_id_of_stream(const char *stream);

/* ---- deciding commands ------------------------------------------------ */

/* Outcome of a decision. */
enum task_decision {
	TASK_DECIDE_APPEND, /* *event_data holds the event to append */
	TASK_DECIDE_NOOP,   /* already in the wanted state: append nothing */
};

/* Create: validates type/config, returns the task_created event data
 *   {task_id, task_type, description, config (normalised), callback_url,
 *    user_id}
 * description must be a non-empty string (at most 1000 bytes); callback_url
 * an http(s) URL.  task_id: 1-58 letters, digits, '-', '_' (a UUID).
 * callback_url NULL is stored as null (the server's default applies);
 * user_id NULL means "default", as in the original. */
int task_decide_create(const char *task_id, const char *task_type, const char *description,
		       const json_t *config, const char *callback_url, const char *user_id,
		       json_t **event_data, struct err *e);

/* Update: `changes` may hold description, config (validated against the
 * task's type), callback_url.  Empty or identical changes -> NOOP.
 * Event data {task_id, changes:{...}}. */
int task_decide_update(const json_t *state, const char *task_id, const json_t *changes,
		       int *decision, json_t **event_data, struct err *e);

/* On NOOP the return is ERR_OK and *e (code ERR_OK) holds a sentence saying
 * why, e.g. "Task <id> is already paused", for the tool's message.
 *
 * Lifecycle answers (tested):
 *   no state (never created)   -> ERR_NOT_FOUND "Task <id> not found"
 *   deleted                    -> ERR_NOT_FOUND "Task <id> was deleted"
 *   pause a paused task        -> NOOP ("already paused")
 *   resume an active task      -> NOOP ("already active")
 * pause data {task_id, reason?}; resume/delete data {task_id}. */
int task_decide_pause(const json_t *state, const char *task_id, const char *reason,
		      int *decision, json_t **event_data, struct err *e);
int task_decide_resume(const json_t *state, const char *task_id, int *decision,
		       json_t **event_data, struct err *e);
int task_decide_delete(const json_t *state, const char *task_id, json_t **event_data,
		       struct err *e);

/* ---- folding events ------------------------------------------------------ */

/* Apply one event to a state (NULL before the first event) and return the
 * new state (new reference).  `recorded_at` is the event's ISO-8601 UTC
 * time, `version` its stream version.  Event types that are not lifecycle
 * events (monitor output such as web_content_change) leave the state as it
 * is but for "version".  Returns NULL with ERR_CORRUPT when the event cannot
 * apply (e.g. task_paused before task_created). */
json_t *task_fold(const json_t *state, const char *event_type, const json_t *data,
		  int64_t version, const char *recorded_at, struct err *e);

/* Read a task's stream from the store and fold it: *state gets the current
 * state (NULL when the stream has no events), *version (may be NULL) the
 * stream's version.  Returns the store's error, or ERR_CORRUPT (with *state
 * NULL) when an event cannot apply. */
struct store;
int task_load_stream(struct store *s, const char *stream, json_t **state, int64_t *version,
		     struct err *e);

/* Convenience readers of a state object. */
const char *task_state_status(const json_t *state); /* "active", "paused", "deleted" */
bool task_state_is_deleted(const json_t *state);

#endif
