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

#include <jansson.h>
#include <stdbool.h>

#include "common/clock.h"
#include "common/err.h"
#include "mcp/server.h"
#include "store/store.h"

struct app_mcp;
struct channel_config;
struct netguard;
struct app_auth;

/* What the task engine is doing, as far as this process can tell. */
struct app_mcp_engine_status {
	bool running;          /* an engine holds the lease and checks tasks */
	long running_monitors; /* tasks it is checking now */
};

/* How the server around the tools is protected (for check_security_status);
 * filled in by the command that serves. */
struct app_mcp_security {
	const char *transport; /* "stdio", "http" */
	const char *listen;    /* HOST:PORT or NULL */
	bool loopback;         /* listening on loopback only */
	bool auth_required;    /* bearer API keys are checked */
	struct app_auth *auth; /* the checker, for its counters; may be NULL */
	const char *allow_net; /* the SSRF allow-list, or NULL */
};

struct app_mcp_options {
	const char *default_user; /* user of calls that name none; NULL: "default" */
	struct clock *clock;      /* for timestamps; NULL: the store's clock */
	/* Fill *st for get_event_sourcing_status and run_task_now.  NULL: no
	 * engine is known (reported honestly as service_running false). */
	void (*engine_status)(void *ud, struct app_mcp_engine_status *st);
	void *engine_ud;
	/* Tool rate limits per principal: "default=100,remember=50" or "off";
	 * NULL: the original's (100 per hour, remember 50, forget 10). */
	const char *rate_limits;
	bool no_audit; /* do not record tool calls (benchmarks of the bare path) */
	/* What the server tells about itself in check_security_status. */
	struct app_mcp_security security;
	/* The outside-world tools (get_weather, send_sms, send_email,
	 * scrape_webpage; mcp_net_tools.c).  Strings are copied; the pointers
	 * are borrowed and must outlive the struct app_mcp. */
	const struct channel_config *channels; /* Twilio/SMTP; NULL: from the environment */
	const char *weather_api_url;           /* NULL: https://api.open-meteo.com */
	const char *geocoding_api_url;         /* NULL: https://geocoding-api.open-meteo.com */
	const char *chromium_path;             /* NULL: chromium ... on PATH */
	const struct netguard *net_guard;      /* scrape_webpage's SSRF policy; NULL: the
						* process's (app_tasks_net_guard), else public
						* addresses only */
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

/* Attach the principal an HTTP authenticator found (app_principal_to_text
 * of app/auth.h) to a new session; NULL: none (the local user). */
void app_mcp_attach_principal(struct mcp_session *s, const char *principal_text);

/* Tool calls since start, per tool (audit_metrics of app/audit.h:
 * {tools: {name: {calls, ok, error, denied, rate_limited,
 * confirmation_required, cancelled, avg_ms, max_ms}}, calls, since, audit:
 * {queued, written, failed_appends}}), or NULL when calls are not
 * recorded.  New reference. */
json_t *app_mcp_tool_metrics(struct app_mcp *a);

/* DESTRUCTOR: stops and joins the watcher.  NULL is fine. */
void app_mcp_free(struct app_mcp *a);

#endif
