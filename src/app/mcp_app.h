/*
 * mcp_app.h - ambient's MCP surface: the tools, resources and prompts of the
 * background-task system, registered as rows on a struct mcp_server.
 *
 * Tools: the six of the original system with its parameters and result
 * shapes (create_background_task, list_background_tasks,
 * pause_background_task, resume_background_task, delete_background_task,
 * get_event_sourcing_status) and get_task, get_task_events,
 * get_recent_events, update_background_task, run_task_now.  Every result is
 * the original's JSON text ({status, action, data, message, timestamp},
 * Python json.dumps style) and the same object as structuredContent.
 * Resources under event://, three prompts (the seed's usage examples), and
 * a watcher that turns store appends into notifications/resources/updated.
 * docs/mcp.md lists all of it.
 *
 * Who is acting: the call's `user_id` argument (default "default"; "admin"
 * sees and changes everyone's tasks), resolved in one place
 * (app_mcp_user in mcp_app.c) so that the session's principal can take
 * over later.  Events record the actor as principal "mcp:<user_id>".
 *
 * Ownership: struct app_mcp borrows the store (it must outlive it) and owns
 * its watcher thread.  Handlers only read it, so they may run on many
 * threads at once.
 */
#ifndef AMBIENT_APP_MCP_APP_H
#define AMBIENT_APP_MCP_APP_H

#include <stdbool.h>

#include "common/clock.h"
#include "common/err.h"
#include "mcp/server.h"
#include "store/store.h"

struct app_mcp;

/* What the task engine is doing, as far as this process can tell. */
struct app_mcp_engine_status {
	bool running;          /* an engine holds the lease and checks tasks */
	long running_monitors; /* tasks it is checking now */
};

struct app_mcp_options {
	const char *default_user; /* user of calls that name none; NULL: "default" */
	struct clock *clock;      /* for timestamps; NULL: the store's clock */
	/* Fill *st for get_event_sourcing_status and run_task_now.  NULL: no
	 * engine is known (reported honestly as service_running false). */
	void (*engine_status)(void *ud, struct app_mcp_engine_status *st);
	void *engine_ud;
};

/* CONSTRUCTOR.  `opt` may be NULL; its strings are copied.  Never fails. */
struct app_mcp *app_mcp_new(struct store *s, const struct app_mcp_options *opt);

/* Add every tool, resource (and template) and prompt to srv.  Call once,
 * before the first session.  Errors come from mcp_server_add_* (a bad schema
 * in our rows is a bug: ERR_INVALID naming the row). */
int app_mcp_register(struct app_mcp *a, struct mcp_server *srv, struct err *e);

/* Start a thread that follows the store from its current head (appends of
 * other processes included) and, for every task event, calls
 * mcp_server_resource_updated for event://tasks/<id>,
 * event://tasks/<id>/events, event://tasks, event://tasks/active,
 * event://status and event://tasks/by-type/<type>.  srv must outlive the
 * watcher (app_mcp_free stops it).  ERR_STATE when already started. */
int app_mcp_watch_start(struct app_mcp *a, struct mcp_server *srv, struct err *e);

/* DESTRUCTOR: stops and joins the watcher.  NULL is fine. */
void app_mcp_free(struct app_mcp *a);

#endif
