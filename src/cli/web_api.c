/*
 * web_api.c - the task dashboard's routes for `ambient serve` (see
 * web_api.h).  Each handler maps a request to a task use case of tasks.h and
 * its result or error to JSON; the SSE stream reads the log of task events.
 */
#include "cli/web_api.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/auth.h"
#include "app/tasks.h"
#include "app/web_assets.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/tz.h"
#include "common/xalloc.h"
#include "domain/principal.h"
#include "domain/redact.h"
#include "domain/schedule.h"
#include "domain/task.h"
#include "engine/engine.h"

#define TASK_ID_LEN_MAX 58
#define SSE_WAIT_MS 500
#define SSE_RETRY_MS 2000

struct web_api {
	struct store *store;
	bool require_auth;
};

/* Only same-origin resources; the pages use no inline script or style. */
static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
			  "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
			  "form-action 'self'; frame-ancestors 'none'";

struct web_api *web_api_new(const struct web_api_options *opt)
{
	struct web_api *api = xcalloc(1, sizeof(*api));
	api->store = opt->store;
	api->require_auth = opt->require_auth;
	return api;
}

void web_api_free(struct web_api *api)
{
	free(api);
}

/* ---- pure helpers --------------------------------------------------------------------- */

bool web_api_same_origin(const char *origin, const char *host)
{
	if (!origin)
		return true;
	if (!host || !*host)
		return false;
	const char *p;
	if (strncasecmp(origin, "http://", 7) == 0)
		p = origin + 7;
	else if (strncasecmp(origin, "https://", 8) == 0)
		p = origin + 8;
	else
		return false; /* "null" and other opaque origins */
	return strcasecmp(p, host) == 0;
}

bool web_api_is_json(const char *ct)
{
	static const char want[] = "application/json";
	if (!ct)
		return false;
	while (*ct == ' ')
		ct++;
	if (strncasecmp(ct, want, sizeof(want) - 1) != 0)
		return false;
	ct += sizeof(want) - 1;
	while (*ct == ' ')
		ct++;
	return *ct == 0 || *ct == ';';
}

enum web_api_action web_api_parse_path(const char *path, char *id, size_t size)
{
	static const char prefix[] = "/api/tasks/";
	if (!path || strncmp(path, prefix, sizeof(prefix) - 1) != 0 || size < TASK_ID_LEN_MAX + 1)
		return WEB_API_NONE;
	const char *p = path + sizeof(prefix) - 1;
	size_t n = strcspn(p, "/");
	if (n == 0 || n > TASK_ID_LEN_MAX)
		return WEB_API_NONE;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)p[i]) && p[i] != '-' && p[i] != '_')
			return WEB_API_NONE;
	memcpy(id, p, n);
	id[n] = 0;
	const char *rest = p + n;
	if (!*rest)
		return WEB_API_TASK;
	static const struct {
		const char *name;
		enum web_api_action a;
	} actions[] = {
		{"/events", WEB_API_EVENTS},
		{"/pause", WEB_API_PAUSE},
		{"/resume", WEB_API_RESUME},
		{"/run", WEB_API_RUN},
	};
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(rest, actions[i].name) == 0)
			return actions[i].a;
	return WEB_API_NONE;
}

/* ---- responses ------------------------------------------------------------------------ */

static void reply(struct http_response *res, int status, json_t *j)
{
	http_response_json(res, status, json_to_text(j));
	json_decref(j);
	http_response_header(res, "Cache-Control", "no-store");
}

/* An error of the task use cases as an HTTP status and code. */
static void reply_err(struct http_response *res, const struct err *e)
{
	int status;
	const char *code;
	switch (e->code) {
	case ERR_INVALID:
	case ERR_TOO_BIG:
		status = 400, code = "invalid";
		break;
	case ERR_PERM:
		status = 400, code = "not_allowed";
		break;
	case ERR_NOT_FOUND:
		status = 404, code = "not_found";
		break;
	case ERR_STATE:
	case ERR_CONFLICT:
		status = 409, code = "conflict";
		break;
	case ERR_BUSY:
	case ERR_IO:
	case ERR_TIMEOUT:
	case ERR_FULL:
	case ERR_READONLY:
		status = 503, code = "store_unavailable";
		break;
	default:
		status = 500, code = "internal";
	}
	http_response_error(res, status, code, err_msg(e));
}

void web_api_page(struct http_response *res, const char *name)
{
	const char *type;
	const unsigned char *data;
	size_t len;
	if (!web_asset_find(name, &type, &data, &len)) {
		http_response_error(res, 500, "internal",
				    "the dashboard page is not in this build");
		return;
	}
	res->status = 200;
	res->content_type = type;
	res->body = xmalloc(len ? len : 1);
	memcpy(res->body, data, len);
	res->body_len = len;
	http_response_header(res, "Content-Security-Policy", csp);
	http_response_header(res, "Cache-Control", "no-cache");
	http_response_header(res, "X-Content-Type-Options", "nosniff");
	http_response_header(res, "Referrer-Policy", "no-referrer");
}

void web_api_route_asset(void *data, const struct http_request *req, struct http_response *res)
{
	(void)data;
	const char *name = strncmp(req->path, "/assets/", 8) == 0 ? req->path + 8 : "";
	if (!web_asset_find(name, NULL, NULL, NULL)) {
		http_response_error(res, 404, "not_found", "No such asset");
		return;
	}
	web_api_page(res, name);
}

/* ---- request checks ------------------------------------------------------------------- */

/* Who is asking: the API key's principal, or (no authentication) the
 * local user, who sees everything like the original's "admin". */
struct viewer {
	struct principal p;
	bool admin;
};

static void viewer_of(const struct http_request *req, struct viewer *v)
{
	if (!req->principal || app_principal_from_text(req->principal, &v->p, NULL))
		principal_local(&v->p, "default");
	v->admin = v->p.role == PRINCIPAL_ROLE_ADMIN;
}

/* Authenticated when keys are required, and the key's scopes allow the
 * route (tasks:read, or tasks:write for changes); fills *v. */
static bool authorized_for(struct web_api *api, const struct http_request *req,
			   struct http_response *res, bool write, struct viewer *v)
{
	if (api->require_auth && !req->principal) {
		http_response_error(res, 401, "unauthorized",
				    "Send an API key as 'Authorization: Bearer KEY' (see `ambient "
				    "keys create`)");
		http_response_header(res, "WWW-Authenticate", "Bearer");
		return false;
	}
	viewer_of(req, v);
	if (!principal_has_scope(&v->p, write ? "tasks:write" : "tasks:read")) {
		http_response_error(res, 403, "forbidden",
				    write ? "This API key may not change tasks (it lacks the scope "
					    "tasks:write)"
					  : "This API key may not read tasks (it lacks the scope "
					    "tasks:read)");
		return false;
	}
	return true;
}

static bool authorized(struct web_api *api, const struct http_request *req,
		       struct http_response *res)
{
	struct viewer v;
	return authorized_for(api, req, res, false, &v);
}

/* The viewer may see the task (its owner, or an admin). */
static bool may_see(const struct viewer *v, const json_t *task)
{
	const char *owner = json_get_str(task, "user_id");
	return v->admin || (owner && strcmp(owner, v->p.user) == 0);
}

/* The task, when it exists and the viewer may see it (new reference);
 * else NULL after answering 404 (or the store's error). */
static json_t *visible_task(struct web_api *api, const struct viewer *v, const char *id,
			    struct http_response *res)
{
	json_t *task = NULL;
	struct err e = {0};
	if (app_task_get(api->store, id, &task, &e) != ERR_OK) {
		reply_err(res, &e);
		return NULL;
	}
	if (!may_see(v, task)) {
		json_decref(task);
		http_response_error(res, 404, "not_found", "Task not found or access denied");
		return NULL;
	}
	return task;
}

static bool task_visible(struct web_api *api, const struct viewer *v, const char *id,
			 struct http_response *res)
{
	json_t *task = visible_task(api, v, id, res);
	json_decref(task);
	return task != NULL;
}

/* POST and DELETE: JSON only and same origin, so that other sites cannot
 * make a browser send them. */
static bool mutation_allowed(struct web_api *api, const struct http_request *req,
			     struct http_response *res, struct viewer *v)
{
	if (!authorized_for(api, req, res, true, v))
		return false;
	if (!web_api_same_origin(http_request_header(req, "Origin"),
				 http_request_header(req, "Host"))) {
		http_response_error(res, 403, "forbidden",
				    "Cross-origin request refused: the dashboard API takes changes "
				    "only from its own pages");
		return false;
	}
	if (!web_api_is_json(http_request_header(req, "Content-Type"))) {
		http_response_error(res, 415, "unsupported_media_type",
				    "Send the request with 'Content-Type: application/json' (an "
				    "empty body or {} when there are no arguments)");
		return false;
	}
	return true;
}

/* The body as a JSON object; an empty body is {}.  NULL after answering 400. */
static json_t *body_object(const struct http_request *req, struct http_response *res)
{
	if (req->body_len == 0)
		return json_object();
	struct err e = {0};
	json_t *j = json_parse(req->body, req->body_len, &e);
	if (!j) {
		char msg[ERR_MSG_MAX + 40];
		snprintf(msg, sizeof(msg), "The body is not JSON: %s", err_msg(&e));
		http_response_error(res, 400, "invalid_json", msg);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		http_response_error(res, 400, "invalid_json", "The body must be a JSON object");
		return NULL;
	}
	return j;
}

/* A string member that must be a string when present; NULL after 400. */
static bool opt_string(const json_t *body, const char *key, const char **out,
		       struct http_response *res)
{
	json_t *v = json_object_get(body, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v)) {
		char msg[160];
		snprintf(msg, sizeof(msg), "%s must be a string (got %s)", key, json_type_name(v));
		http_response_error(res, 400, "invalid", msg);
		return false;
	}
	*out = json_string_value(v);
	return true;
}

static void actor(const struct viewer *v, char *principal, size_t size, struct app_actor *who)
{
	snprintf(principal, size, "web:%s", v->p.authenticated ? v->p.user : "dashboard");
	*who = (struct app_actor){.principal = principal};
}

/* ---- task views ----------------------------------------------------------------------- */

/* The next due time of an active task, estimated as the engine computes it
 * (schedule, last slot from its bookkeeping); 0 when unknown. */
static int64_t next_run_us(const json_t *task, const json_t *soft, int64_t now_us)
{
	int type;
	if (task_type_parse(json_get_str(task, "task_type"), &type, NULL) != ERR_OK)
		return 0;
	const json_t *config = json_object_get(task, "config");
	const struct tz *tz = NULL; /* as the engine: NULL name is the machine's zone */
	if (tz_load(schedule_zone_name(config), &tz, NULL) != ERR_OK)
		tz = tz_utc();
	struct schedule sc;
	if (schedule_from_config(type, config, tz, &sc, NULL) != ERR_OK)
		return 0;
	int64_t created = 0;
	const char *since = json_get_str(task, "created_at");
	if (!since || clock_parse_iso(since, &created) != ERR_OK)
		return 0;
	int64_t last = soft ? json_get_int(soft, "last_slot_us", 0) : 0;
	struct schedule_plan plan;
	if (schedule_first_due(&sc, created, last, now_us, &plan, NULL) != ERR_OK)
		return 0;
	int64_t due = plan.due_us + schedule_jitter_us(&sc, json_get_str(task, "task_id"));
	return due < now_us ? now_us : due;
}

static json_t *iso_or_null(int64_t us)
{
	if (us <= 0)
		return json_null();
	char at[CLOCK_ISO_MAX];
	clock_format_utc(us, at);
	return json_string(at);
}

/* The task state plus what the dashboard shows beside it: last check and
 * failures (engine bookkeeping), next run (estimated), events (the stream's
 * version) and the last event's type and time. */
static json_t *task_view(struct web_api *api, const json_t *task, const json_t *soft,
			 int64_t now_us)
{
	json_t *v = json_deep_copy(task);
	const char *id = json_get_str(task, "task_id");
	json_object_set_new(v, "events", json_integer(json_get_int(task, "version", 0)));
	const char *last_check = soft ? json_get_str(soft, "last_check") : NULL;
	json_object_set_new(v, "last_check", last_check ? json_string(last_check) : json_null());
	json_object_set_new(v, "failures",
			    json_integer(soft ? json_get_int(soft, "failures", 0) : 0));
	const char *status = json_get_str(task, "status");
	json_object_set_new(v, "next_run",
			    status && strcmp(status, "active") == 0
				    ? iso_or_null(next_run_us(task, soft, now_us))
				    : json_null());
	json_object_set_new(v, "last_event", json_null());
	if (id) {
		char stream[64];
		task_stream_name(id, stream, sizeof(stream));
		struct store_event_list l = {0};
		if (store_read_stream(api->store, stream, 0, true, 1, &l, NULL) == ERR_OK &&
		    l.count == 1)
			json_object_set_new(v, "last_event",
					    json_pack("{s:s,s:o}", "type", l.items[0].type,
						      "recorded_at",
						      iso_or_null(l.items[0].recorded_at_us)));
		store_event_list_cleanup(&l);
	}
	return v;
}

/* The engine's bookkeeping documents, {"engine/task-<id>": doc}; {} when
 * none can be read. */
static json_t *soft_docs(struct web_api *api)
{
	json_t *docs = NULL;
	if (store_soft_list(api->store, "engine/" TASK_STREAM_PREFIX, &docs, NULL) != ERR_OK ||
	    !docs)
		return json_object();
	return docs;
}

static const json_t *soft_of(const json_t *docs, const char *task_id)
{
	char key[96];
	snprintf(key, sizeof(key), "engine/" TASK_STREAM_PREFIX "%s", task_id ? task_id : "");
	return json_object_get(docs, key);
}

static json_t *engine_view(struct web_api *api)
{
	bool running = false;
	json_t *doc = NULL;
	struct err e = {0};
	if (engine_peek(api->store, &running, &doc, &e) != ERR_OK)
		return json_pack("{s:b,s:s}", "running", 0, "error", err_msg(&e));
	return json_pack("{s:b,s:o}", "running", running, "status", doc ? doc : json_null());
}

/* ---- routes ----------------------------------------------------------------------------- */

static void route_page(void *data, const struct http_request *req, struct http_response *res)
{
	(void)data;
	(void)req;
	web_api_page(res, "tasks.html");
}

static void route_status(void *data, const struct http_request *req, struct http_response *res)
{
	struct web_api *api = data;
	if (!authorized(api, req, res))
		return;
	int64_t head = 0;
	struct err e = {0};
	if (store_head(api->store, &head, &e) != ERR_OK) {
		reply_err(res, &e);
		return;
	}
	reply(res, 200,
	      json_pack("{s:s,s:s,s:I,s:o}", "service", "ambient", "version", AMBIENT_VERSION,
			"store_position", (json_int_t)head, "engine", engine_view(api)));
}

static void route_list(void *data, const struct http_request *req, struct http_response *res)
{
	struct web_api *api = data;
	struct viewer v;
	if (!authorized_for(api, req, res, false, &v))
		return;
	const char *status = http_request_arg(req, "status");
	if (status && !*status)
		status = NULL;
	if (status && strcmp(status, "active") != 0 && strcmp(status, "paused") != 0) {
		http_response_error(res, 400, "invalid_query",
				    "status must be active or paused (or left out for all)");
		return;
	}
	json_t *tasks = NULL;
	struct err e = {0};
	if (app_task_list(api->store, v.admin ? "admin" : v.p.user, status, &tasks, &e) != ERR_OK) {
		reply_err(res, &e);
		return;
	}
	json_t *soft = soft_docs(api);
	int64_t now = clock_wall_us(NULL);
	json_t *out = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(tasks, i, t) {
		json_t *view = task_view(api, t, soft_of(soft, json_get_str(t, "task_id")), now);
		/* a listing masks phone numbers and e-mail addresses (GET
		 * /api/tasks/{id} shows the owner the whole config) */
		json_t *config = json_object_get(view, "config");
		if (config)
			json_object_set_new(view, "config", redact_mask_contacts(config));
		json_array_append_new(out, view);
	}
	json_decref(soft);
	json_decref(tasks);
	reply(res, 200,
	      json_pack("{s:o,s:I,s:o}", "tasks", out, "count", (json_int_t)json_array_size(out),
			"engine", engine_view(api)));
}

static void route_create(void *data, const struct http_request *req, struct http_response *res)
{
	struct web_api *api = data;
	struct viewer v;
	if (!mutation_allowed(api, req, res, &v))
		return;
	json_t *body = body_object(req, res);
	if (!body)
		return;
	const char *type, *desc, *cb, *user;
	if (!opt_string(body, "task_type", &type, res) ||
	    !opt_string(body, "description", &desc, res) ||
	    !opt_string(body, "callback_url", &cb, res) ||
	    !opt_string(body, "user_id", &user, res)) {
		json_decref(body);
		return;
	}
	if (!type || !desc || !json_object_get(body, "config")) {
		json_decref(body);
		http_response_error(res, 400, "invalid",
				    "task_type, description and config are required (the "
				    "arguments of create_background_task)");
		return;
	}
	if (user && !v.admin && strcmp(user, v.p.user) != 0) {
		json_decref(body);
		http_response_error(res, 403, "forbidden",
				    "user_id is not yours: leave it out (tasks are created for the "
				    "API key's user); only admins create tasks for others");
		return;
	}
	char principal[300];
	struct app_actor who;
	actor(&v, principal, sizeof(principal), &who);
	json_t *task = NULL;
	struct err e = {0};
	if (!user)
		user = v.p.authenticated && !v.admin ? v.p.user : "default";
	if (app_task_create(api->store, &who, NULL, type, desc, json_object_get(body, "config"), cb,
			    user, &task, &e) != ERR_OK) {
		json_decref(body);
		reply_err(res, &e);
		return;
	}
	json_decref(body);
	log_info("web: task %s created by %s", json_get_str(task, "task_id"), principal);
	json_t *view = task_view(api, task, NULL, clock_wall_us(NULL));
	json_decref(task);
	reply(res, 201, json_pack("{s:o}", "task", view));
}

static void reply_task(struct web_api *api, struct http_response *res, int status, json_t *task,
		       bool changed, bool with_changed)
{
	json_t *soft = soft_docs(api);
	json_t *v = task_view(api, task, soft_of(soft, json_get_str(task, "task_id")),
			      clock_wall_us(NULL));
	json_decref(soft);
	json_decref(task);
	json_t *j = json_pack("{s:o}", "task", v);
	if (with_changed)
		json_object_set_new(j, "changed", json_boolean(changed));
	reply(res, status, j);
}

static void task_events(struct web_api *api, const struct http_request *req, const char *id,
			struct http_response *res)
{
	long limit = WEB_API_EVENTS_LIMIT;
	int64_t before = 0;
	const char *a = http_request_arg(req, "limit");
	char *end;
	if (a && *a) {
		limit = strtol(a, &end, 10);
		if (*end || limit < 1 || limit > WEB_API_EVENTS_MAX) {
			http_response_error(res, 400, "invalid_query",
					    "limit must be an integer from 1 to 500");
			return;
		}
	}
	a = http_request_arg(req, "before");
	if (a && *a) {
		before = strtoll(a, &end, 10);
		if (*end || before < 1) {
			http_response_error(res, 400, "invalid_query",
					    "before must be a stream version (the next_before of "
					    "the previous page)");
			return;
		}
	}
	char stream[64];
	task_stream_name(id, stream, sizeof(stream));
	int64_t version = 0;
	struct err e = {0};
	if (store_stream_version(api->store, stream, &version, &e) != ERR_OK) {
		reply_err(res, &e);
		return;
	}
	if (version == 0) {
		char msg[160];
		snprintf(msg, sizeof(msg), "No task %s", id);
		http_response_error(res, 404, "not_found", msg);
		return;
	}
	json_t *evs = json_array();
	int64_t next = 0;
	if (before != 1) {
		struct store_event_list l = {0};
		if (store_read_stream(api->store, stream, before > 1 ? before - 1 : 0, true,
				      (size_t)limit, &l, &e) != ERR_OK) {
			json_decref(evs);
			reply_err(res, &e);
			return;
		}
		for (size_t i = 0; i < l.count; i++)
			json_array_append_new(evs, store_event_to_json(&l.items[i]));
		if (l.count == (size_t)limit && l.items[l.count - 1].version > 1)
			next = l.items[l.count - 1].version;
		store_event_list_cleanup(&l);
	}
	json_t *j = json_pack("{s:s,s:o,s:I,s:I}", "task_id", id, "events", evs, "count",
			      (json_int_t)json_array_size(evs), "version", (json_int_t)version);
	json_object_set_new(j, "next_before", next ? json_integer(next) : json_null());
	reply(res, 200, j);
}

static void route_task_get(void *data, const struct http_request *req, struct http_response *res)
{
	struct web_api *api = data;
	struct viewer v;
	if (!authorized_for(api, req, res, false, &v))
		return;
	char id[64];
	enum web_api_action act = web_api_parse_path(req->path, id, sizeof(id));
	if (act != WEB_API_EVENTS && act != WEB_API_TASK) {
		http_response_error(res, 404, "not_found",
				    "No such path: /api/tasks/{id} or /api/tasks/{id}/events");
		return;
	}
	json_t *task = visible_task(api, &v, id, res);
	if (!task)
		return;
	if (act == WEB_API_EVENTS) {
		json_decref(task);
		task_events(api, req, id, res);
		return;
	}
	reply_task(api, res, 200, task, false, false);
}

static void route_task_post(void *data, const struct http_request *req, struct http_response *res)
{
	struct web_api *api = data;
	char id[64];
	enum web_api_action act = web_api_parse_path(req->path, id, sizeof(id));
	if (act != WEB_API_PAUSE && act != WEB_API_RESUME && act != WEB_API_RUN) {
		http_response_error(res, 404, "not_found",
				    "No such path: POST /api/tasks/{id}/pause, /resume or /run");
		return;
	}
	struct viewer v;
	if (!mutation_allowed(api, req, res, &v) || !task_visible(api, &v, id, res))
		return;
	json_t *body = body_object(req, res);
	if (!body)
		return;
	const char *reason;
	if (!opt_string(body, "reason", &reason, res)) {
		json_decref(body);
		return;
	}
	char principal[300];
	struct app_actor who;
	actor(&v, principal, sizeof(principal), &who);
	json_t *task = NULL;
	bool changed = false;
	struct err e = {0};
	int rc;
	if (act == WEB_API_RUN) {
		json_t *result = NULL;
		rc = app_task_run_now(api->store, &who, id, reason, &result, &e);
		json_decref(body);
		if (rc != ERR_OK) {
			reply_err(res, &e);
			return;
		}
		reply(res, 202, result);
		return;
	}
	if (act == WEB_API_PAUSE)
		rc = app_task_pause(api->store, &who, id, reason && *reason ? reason : NULL,
				    &changed, &task, &e);
	else
		rc = app_task_resume(api->store, &who, id, &changed, &task, &e);
	json_decref(body);
	if (rc != ERR_OK) {
		reply_err(res, &e);
		return;
	}
	reply_task(api, res, 200, task, changed, true);
}

static void route_task_delete(void *data, const struct http_request *req, struct http_response *res)
{
	struct web_api *api = data;
	char id[64];
	if (web_api_parse_path(req->path, id, sizeof(id)) != WEB_API_TASK) {
		http_response_error(res, 404, "not_found", "No such path: DELETE /api/tasks/{id}");
		return;
	}
	struct viewer v;
	if (!mutation_allowed(api, req, res, &v) || !task_visible(api, &v, id, res))
		return;
	char principal[300];
	struct app_actor who;
	actor(&v, principal, sizeof(principal), &who);
	json_t *task = NULL;
	struct err e = {0};
	if (app_task_delete(api->store, &who, id, &task, &e) != ERR_OK) {
		reply_err(res, &e);
		return;
	}
	reply_task(api, res, 200, task, true, true);
}

/* ---- GET /api/events/stream ------------------------------------------------------------- */

struct sse {
	struct web_api *api;
	char user[PRINCIPAL_USER_MAX + 1]; /* only this user's tasks ("" : all) */
	json_t *owners;                    /* task id -> owner, for the filter */
	struct store_filter f;
	char stream[64];
	int64_t after;
	char *pending;
	size_t pending_len, pending_off;
};

/* Whether the stream's user owns the task (owners are cached: a task's
 * owner never changes). */
static bool own_task(struct sse *c, const char *tid)
{
	json_t *o = json_object_get(c->owners, tid);
	if (!o) {
		json_t *task = NULL;
		if (app_task_get(c->api->store, tid, &task, NULL) != ERR_OK)
			return false;
		const char *owner = json_get_str(task, "user_id");
		o = json_string(owner ? owner : "");
		json_object_set_new(c->owners, tid, o);
		json_decref(task);
	}
	return strcmp(json_string_value(o), c->user) == 0;
}

static ssize_t sse_read(void *ctx, char *out, size_t max)
{
	struct sse *c = ctx;
	if (!c->pending) {
		struct err e = {0};
		int64_t head = 0;
		struct store_event_list l = {0};
		if (store_head(c->api->store, &head, &e) != ERR_OK ||
		    store_read_all(c->api->store, c->after, false, WEB_API_SSE_BATCH, &c->f, &l,
				   &e) != ERR_OK) {
			log_warn("web: SSE stream ends: %s", err_msg(&e));
			store_event_list_cleanup(&l);
			return -1; /* the client reconnects with Last-Event-ID */
		}
		/* Events of other streams are skipped: everything up to the head
		 * read before is covered unless the page was full. */
		int64_t covered =
			l.count == WEB_API_SSE_BATCH ? l.items[l.count - 1].position : head;
		if (l.count && l.items[l.count - 1].position > covered)
			covered = l.items[l.count - 1].position;
		if (covered > c->after)
			c->after = covered;
		if (l.count == 0) {
			free(l.items);
			store_wait(c->api->store, c->after, SSE_WAIT_MS, NULL);
			return 0;
		}
		struct buf b;
		buf_init(&b, (size_t)WEB_API_SSE_BATCH * (STORE_DATA_MAX + 256));
		for (size_t i = 0; i < l.count; i++) {
			const char *tid = task_id_of_stream(l.items[i].stream);
			if (c->user[0] && !(tid && own_task(c, tid)))
				continue;
			json_t *j = store_event_to_json(&l.items[i]);
			if (tid)
				json_object_set_new(j, "task_id", json_string(tid));
			char *text = json_to_text(j);
			json_decref(j);
			buf_printf(&b, "id: %" PRId64 "\ndata: %s\n\n", l.items[i].position, text);
			free(text);
		}
		store_event_list_cleanup(&l);
		c->pending_len = b.len;
		c->pending_off = 0;
		c->pending = buf_steal(&b);
		buf_cleanup(&b);
	}
	size_t n = c->pending_len - c->pending_off;
	if (n > max)
		n = max;
	memcpy(out, c->pending + c->pending_off, n);
	c->pending_off += n;
	if (c->pending_off == c->pending_len) {
		free(c->pending);
		c->pending = NULL;
	}
	return (ssize_t)n;
}

static void sse_free(void *ctx)
{
	struct sse *c = ctx;
	json_decref(c->owners);
	free(c->pending);
	free(c);
}

static bool parse_position(const char *s, int64_t *out)
{
	if (!s || !*s || strlen(s) > 18 || strspn(s, "0123456789") != strlen(s))
		return false;
	*out = strtoll(s, NULL, 10);
	return true;
}

static void route_stream(void *data, const struct http_request *req, struct http_response *res)
{
	struct web_api *api = data;
	struct viewer v;
	if (!authorized_for(api, req, res, false, &v))
		return;
	const char *last = http_request_header(req, "Last-Event-ID");
	const char *after_arg = http_request_arg(req, "after");
	const char *task_id = http_request_arg(req, "task_id");
	int64_t after = 0;
	struct err e = {0};
	if (last && *last) {
		if (!parse_position(last, &after)) {
			http_response_error(res, 400, "invalid_query",
					    "Last-Event-ID must be the id (store position) of an "
					    "event this stream sent");
			return;
		}
	} else if (after_arg && *after_arg) {
		if (!parse_position(after_arg, &after)) {
			http_response_error(res, 400, "invalid_query",
					    "after must be a store position (0 replays every "
					    "task event)");
			return;
		}
	} else if (store_head(api->store, &after, &e) != ERR_OK) {
		reply_err(res, &e);
		return;
	}
	struct sse *c = xcalloc(1, sizeof(*c));
	c->api = api;
	if (task_id && *task_id) {
		char id[64];
		char path[128];
		snprintf(path, sizeof(path), "/api/tasks/%.80s", task_id);
		if (web_api_parse_path(path, id, sizeof(id)) != WEB_API_TASK) {
			free(c);
			http_response_error(res, 400, "invalid_query",
					    "task_id must be a task id (letters, digits, - and _)");
			return;
		}
		if (!task_visible(api, &v, id, res)) {
			free(c);
			return;
		}
		task_stream_name(id, c->stream, sizeof(c->stream));
		c->f.stream = c->stream;
	} else {
		c->f.stream_prefix = TASK_STREAM_PREFIX;
	}
	c->after = after;
	if (!v.admin) {
		snprintf(c->user, sizeof c->user, "%s", v.p.user);
		c->owners = json_object();
	}
	c->pending = xasprintf("retry: %d\n: ambient task events after position %" PRId64 "\n\n",
			       SSE_RETRY_MS, after);
	c->pending_len = strlen(c->pending);
	res->status = 200;
	res->content_type = "text/event-stream";
	res->stream = (struct http_stream){.read = sse_read, .free = sse_free, .ctx = c};
}

size_t web_api_routes(struct web_api *api, struct http_route *out, size_t max)
{
	const struct http_route routes[] = {
		{"GET", "/", route_page, api},
		{"GET", "/assets/*", web_api_route_asset, NULL},
		{"GET", "/api/status", route_status, api},
		{"GET", "/api/tasks", route_list, api},
		{"POST", "/api/tasks", route_create, api},
		{"GET", "/api/events/stream", route_stream, api},
		{"GET", "/api/tasks/*", route_task_get, api},
		{"POST", "/api/tasks/*", route_task_post, api},
		{"DELETE", "/api/tasks/*", route_task_delete, api},
	};
	size_t n = sizeof(routes) / sizeof(routes[0]);
	if (n > max)
		n = max;
	memcpy(out, routes, n * sizeof(routes[0]));
	return n;
}
