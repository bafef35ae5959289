/*
 * web_api.h - the task dashboard of `ambient serve`: its page (GET /, from
 * the embedded files of web_assets.h) and the JSON API the page uses.
 * It lives in cli/ because its routes are transport/http_server routes, and
 * app/ sits below transport/ (ARCHITECTURE.md's layers); the work is done by
 * app/tasks.
 *
 *   GET    /                          tasks.html (the dashboard)
 *   GET    /assets/{name}             embedded CSS/JS (also for `ambient feedback`)
 *   GET    /api/status                engine: running?, its published status
 *   GET    /api/tasks[?status=]       tasks with status, last check, next run, events
 *   POST   /api/tasks                 create: the arguments of create_background_task
 *   GET    /api/tasks/{id}            one task (also a deleted one)
 *   GET    /api/tasks/{id}/events     its stream, newest first (?limit=&before=VERSION)
 *   POST   /api/tasks/{id}/pause      {"reason"?}
 *   POST   /api/tasks/{id}/resume
 *   POST   /api/tasks/{id}/run        {"reason"?}  (run_task_now)
 *   DELETE /api/tasks/{id}
 *   GET    /api/events/stream         SSE of task events (id = store position;
 *                                     Last-Event-ID or ?after= resumes; ?task_id=)
 *
 * Errors are {"error": CODE, "message": TEXT} with 400 (invalid), 401 (API
 * key needed), 403 (cross-origin), 404 (no such task), 409 (state), 415
 * (not JSON), 503 (store).  Mutating requests (POST, DELETE) must say
 * Content-Type: application/json and, when they carry an Origin, come from
 * the page's own origin: a form or script on another site cannot send them
 * (CSRF).  With API keys (require_auth) every /api/ route needs the
 * bearer token; the page and its assets do not.
 *
 * Layering: this is app/ glue between the HTTP route table of transport/
 * and the task use cases (tasks.h); it holds no state but the store.
 */
#ifndef AMBIENT_APP_WEB_API_H
#define AMBIENT_APP_WEB_API_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"
#include "transport/http_server.h"

#define WEB_API_MAX_ROUTES 12
#define WEB_API_EVENTS_LIMIT 50 /* default page of /api/tasks/{id}/events */
#define WEB_API_EVENTS_MAX 500  /* largest page */
#define WEB_API_SSE_BATCH 100   /* events per SSE read */

struct web_api;

struct web_api_options {
	struct store *store; /* borrowed; must outlive the api */
	bool require_auth;   /* API keys are set: /api/ needs a principal */
};

/* CONSTRUCTOR / DESTRUCTOR (NULL is fine). */
struct web_api *web_api_new(const struct web_api_options *opt);
void web_api_free(struct web_api *api);

/* Fill out[] (room for max, at least WEB_API_MAX_ROUTES) with the routes
 * above, bound to api; returns how many.  The routes borrow api. */
size_t web_api_routes(struct web_api *api, struct http_route *out, size_t max);

/* Serve GET /assets/{name} from the embedded files (data unused, may be
 * NULL): the route for any server that shows a dashboard page. */
void web_api_route_asset(void *data, const struct http_request *req, struct http_response *res);

/* Answer with an embedded page (e.g. "feedback.html") with its content
 * type, a Content-Security-Policy allowing only same-origin scripts, styles
 * and connections, and no-cache; 500 when it is not embedded. */
void web_api_page(struct http_response *res, const char *name);

/* ---- pure parts (unit-tested) ---- */

/* Whether an Origin header value names the same origin as the Host header:
 * true when origin is NULL (not a browser cross-site request) or is
 * "http://HOST" / "https://HOST" with HOST equal to host (case-insensitive). */
bool web_api_same_origin(const char *origin, const char *host);
/* Whether a Content-Type is application/json (parameters allowed). */
bool web_api_is_json(const char *content_type);

enum web_api_action {
	WEB_API_NONE,   /* not a task path */
	WEB_API_TASK,   /* /api/tasks/{id} */
	WEB_API_EVENTS, /* /api/tasks/{id}/events */
	WEB_API_PAUSE,
	WEB_API_RESUME,
	WEB_API_RUN,
};
/* Parse "/api/tasks/{id}[/action]": the id (letters, digits, '-', '_', at
 * most 58, as task ids are) into id (size >= 64) and the action. */
enum web_api_action web_api_parse_path(const char *path, char *id, size_t size);

#endif
