/*
 * mcp_internal.h - what the files of ambient's MCP surface share (mcp_app.c,
 * mcp_tools.c, mcp_resources.c, mcp_prompts.c, mcp_watch.c).  Not for other
 * modules: they use mcp_app.h.
 */
#ifndef AMBIENT_APP_MCP_INTERNAL_H
#define AMBIENT_APP_MCP_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "app/auth.h"
#include "app/mcp_app.h"
#include "app/tasks.h"
#include "domain/principal.h"

#define APP_MCP_ADMIN "admin"
#define APP_MCP_PRINCIPAL_MAX 300 /* "mcp:" + a user id of at most 256 bytes */

struct app_mcp {
	struct store *store;
	struct clock *clock;
	char *default_user;
	void (*engine_status)(void *ud, struct app_mcp_engine_status *st);
	void *engine_ud;

	/* the watcher (mcp_watch.c) */
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool watching, stop;
	pthread_t thread;
	struct mcp_server *watch_srv;

	/* the guard (mcp_guard.c) */
	struct app_tool_slot *tool_slots;
	struct audit *audit;      /* NULL: calls are not recorded */
	struct ratelimit *rates;  /* per principal and tool */
	int rate_default;         /* calls per hour when a tool names none */
	bool rate_off;
	json_t *rate_overrides;   /* tool name -> calls per hour */
	char *rate_spec;          /* from the options, parsed at registration */
	struct app_mcp_security security; /* strings borrowed from the options */

	struct app_net *net; /* the outside-world tools (mcp_net_tools.c) */

	struct app_list_cache *list_cache; /* rendered lists (mcp_list_cache.c) */
};

#define APP_RATE_DEFAULT 100

/* ---- mcp_app.c: shared helpers ------------------------------------------ */

/* The user a call acts for: the `user_id` argument when given (the guard
 * has checked that the principal may act for it; args may be NULL, as for
 * resources); else "admin" for an authenticated admin, the key's user for
 * an authenticated user, and the default user for the local principal
 * (stdio, HTTP without authentication).  Borrowed: valid while args, the
 * call and a live.  (mcp_guard.c) */
const char *app_mcp_user(struct app_mcp *a, struct mcp_call *call, const json_t *args);
bool app_mcp_is_admin(const char *user);
/* The user may see and change the task (owner or admin). */
bool app_mcp_may_access(const char *user, const json_t *task);
/* An actor whose principal is "mcp:<user>" (principal has room for
 * APP_MCP_PRINCIPAL_MAX bytes). */
void app_mcp_actor(const char *user, char *principal, struct app_actor *who);

/* Replace bytes that are not valid UTF-8 (a character cut by "%.100s")
 * with '?', in place, so the text can become a JSON string. */
void app_mcp_utf8_clean(char *s);

/* Now as the original printed it: local naive ISO with microseconds. */
void app_mcp_now(struct app_mcp *a, char out[CLOCK_ISO_MAX]);
/* A stored UTC time ("...Z") in the original's local naive form; NULL in:
 * JSON null. */
json_t *app_mcp_local_time(const char *utc_iso);

/* Python json.dumps text: ", " and ": " separators (indent 0) or indent n,
 * ASCII-escaped with lower-case hex, keys in insertion order, reals in their
 * shortest round-trip form.  Caller frees. */
char *app_mcp_dumps(const json_t *j, int indent);

/* A task for the list tool and the resources, in the original's field
 * order: task_id, task_type, description, status, created_at, last_check,
 * config, user_id, callback_url (the flags leave fields out). */
#define APP_MCP_SUMMARY_NO_STATUS 0x1u
#define APP_MCP_SUMMARY_NO_CALLBACK 0x2u
json_t *app_mcp_task_summary(const json_t *state, unsigned flags);

/* Load a task the user may access.  ERR_NOT_FOUND "Task <id> not found or
 * access denied" when it does not exist or is someone else's; a deleted
 * task is returned (status "deleted") only with allow_deleted, else
 * ERR_NOT_FOUND "Task <id> was deleted". */
int app_mcp_load_task(struct app_mcp *a, const char *user, const char *task_id, bool allow_deleted,
		      json_t **task, struct err *e);

/* The status object of get_event_sourcing_status and event://status:
 * {service_running, total_tasks, active_tasks, paused_tasks,
 *  running_monitors, task_types{...}, event_log_position}. */
int app_mcp_status(struct app_mcp *a, json_t **status, struct err *e);
void app_mcp_engine(struct app_mcp *a, struct app_mcp_engine_status *st);

/* One working config per task type (and more for some), each passing
 * task_config_validate; event://config/examples shows them.  For index
 * 0..TASK_TYPE__COUNT-1 in enum task_type order. */
struct app_mcp_example {
	const char *task_type;
	const char *description; /* what the type is for */
	const char *usage;       /* what it does with the config */
	const char *config;      /* JSON text of the main example */
	const char *const *more; /* further example configs (JSON text), NULL-terminated */
};
const struct app_mcp_example *app_mcp_example(int task_type);


/* ---- tool rows and the guard around them ----------------------------------
 * Every tool is registered through app_mcp_add_tools, which wraps its
 * handler in the guard (mcp_guard.c): who is calling (principal, role, the
 * user_id they may act for), the tool's authorization level (HIGH needs a
 * confirmation), the rate limit per principal and tool, and an audit event
 * for every call.  Handlers get their struct app_mcp from app_mcp_from_call
 * (mcp_call_data is the guard's). */

/* The original's levels (ORIGIN.md section 5). */
enum app_level {
	APP_LEVEL_LOW,      /* read-only, no confirmation */
	APP_LEVEL_MEDIUM,   /* changes the caller's own state, no confirmation */
	APP_LEVEL_HIGH,     /* destroys something: confirmation first */
	APP_LEVEL_CRITICAL, /* admins only, with confirmation */
};
const char *app_level_name(enum app_level l);

struct app_tool {
	struct mcp_tool tool; /* .data is ignored */
	enum app_level level;
	int rate_per_hour;    /* calls per principal per hour; 0: the default (100) */
	bool admin_only;      /* refused for principals without the admin role */
	const char *scope;    /* area: "tasks" (NULL), "memories", "notify", "web", "admin" */
	/* HIGH/CRITICAL: run before asking for a confirmation, so that a call
	 * that would fail anyway (no such task) asks nobody.  Leave *result
	 * NULL to go on, or set it to the failure.  May be NULL. */
	mcp_tool_fn precheck;
};

int app_mcp_add_tools(struct app_mcp *a, struct mcp_server *srv, const struct app_tool *rows,
		      size_t n, struct err *e);
void app_mcp_guard_free(struct app_mcp *a);

/* The principal of the call's session: its API key's, or the local user
 * (an admin: principal_local) when the session has none.  call may be
 * NULL (then the local user). */
void app_mcp_principal(struct app_mcp *a, struct mcp_call *call, struct principal *out);

/* Rate limits from "default=100,remember=50,forget=10" (NAME=N calls per
 * hour, 0 unlimited) or "off"; NULL: the original's defaults (100 per
 * hour, remember 50, forget 10). */
int app_mcp_rate_config(struct app_mcp *a, const char *spec, struct err *e);

/* A registered tool's row by name, or NULL; every tool's level as
 * {name: "LOW"|...}. */
const struct app_tool *app_mcp_find_tool(struct app_mcp *a, const char *name);
json_t *app_mcp_tool_levels(struct app_mcp *a);

/* The struct app_mcp of a call to a tool registered by app_mcp_add_tools
 * (resources and prompts are registered with data = a). */
struct app_mcp *app_mcp_from_call(struct mcp_call *call);

/* Results in the original's shape.  Success: {status:"success", action,
 * data, message?, timestamp} as JSON text (app_mcp_dumps) and as
 * structuredContent; steals data.  Failure: an isError result whose text is
 * {status:"error", action, error, timestamp}; say what was wrong and what
 * to do instead. */
json_t *app_mcp_success(struct app_mcp *a, const char *action, json_t *data, const char *message);
/* The same with another status (forget's "not_found" is not an error). */
json_t *app_mcp_result(struct app_mcp *a, const char *status, const char *action, json_t *data,
		       const char *message);
json_t *app_mcp_failure(struct app_mcp *a, const char *action, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- mcp_list_cache.c: list_background_tasks from rendered text ------------ */

/* The data of one list result, rendered (reference counted, read-only once
 * made): the Python-style text escaped as the content of a JSON string, the
 * compact JSON, and the message. */
struct app_list_render {
	atomic_int refs;
	char *text_data;
	char *structured_data;
	char *message;
};

/* Render data (borrowed) and message (NULL on failure). */
struct app_list_render *app_list_render_new(const json_t *data, const char *message);
void app_list_render_unref(struct app_list_render *r); /* accepts NULL */

struct app_list_cache;
struct app_list_cache *app_list_cache_new(void);
void app_list_cache_free(struct app_list_cache *c); /* accepts NULL */
/* The key of a listing (new string). */
char *app_list_cache_key(const char *user, const char *status, const char *type);
/* The rendering of `key` made at projection stamp `head` (a new reference),
 * or NULL. */
struct app_list_render *app_list_cache_get(struct app_list_cache *c, const char *key,
					   int64_t head);
/* Keep r (the cache takes its own reference). */
void app_list_cache_put(struct app_list_cache *c, const char *key, int64_t head,
			struct app_list_render *r);
void app_list_cache_counts(struct app_list_cache *c, unsigned long *hits, unsigned long *misses);
/* The whole CallToolResult text of app_mcp_success(a, action, data,
 * message) with the data spliced in from r (new string; NULL on failure). */
char *app_list_render_result(struct app_mcp *a, const char *action,
			     const struct app_list_render *r);

/* ---- one file each --------------------------------------------------------- */

int app_mcp_register_tools(struct app_mcp *a, struct mcp_server *srv, struct err *e);
int app_mcp_register_admin_tools(struct app_mcp *a, struct mcp_server *srv, struct err *e);
int app_mcp_register_memory_tools(struct app_mcp *a, struct mcp_server *srv, struct err *e);
/* get_weather, send_sms, send_email, scrape_webpage (mcp_net_tools.c); their
 * settings from the options, made by app_net_new in app_mcp_new. */
int app_mcp_register_net_tools(struct app_mcp *a, struct mcp_server *srv, struct err *e);
struct app_net *app_net_new(struct app_mcp *a, const struct app_mcp_options *opt);
void app_net_free(struct app_net *n);
int app_mcp_register_resources(struct app_mcp *a, struct mcp_server *srv, struct err *e);
int app_mcp_register_prompts(struct app_mcp *a, struct mcp_server *srv, struct err *e);
void app_mcp_watch_stop(struct app_mcp *a);

/* Event JSON as the tools and resources show it: the store's shape plus
 * task_id and the type's priority. */
json_t *app_mcp_event_json(const struct store_event *ev);

#endif
