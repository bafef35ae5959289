/*
 * server.c - the MCP server: registries, sessions, lifecycle and dispatch.
 *
 * Requests are dispatched through a table of methods (name, handler, whether
 * it is allowed before initialize).  Registries are plain arrays filled
 * before the first session and read-only afterwards, so lookups need no lock.
 * Each session has one mutex guarding its mutable state: negotiated version,
 * log level, subscriptions, the requests it is handling (for cancellation)
 * and the requests it sent to the client (waiting for their responses).
 */
#define _GNU_SOURCE
#include "mcp/server.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "mcp/schema.h"

static const char *const supported_versions[] = {
	"2025-11-25",
	"2025-06-18",
	"2025-03-26",
	"2024-11-05",
};
#define NVERSIONS (sizeof(supported_versions) / sizeof(supported_versions[0]))

/* ---- Registry rows --------------------------------------------------- */

struct tool_row {
	char *name;
	json_t *input_schema;
	json_t *output_schema; /* may be NULL */
	json_t *listing;       /* the tools/list entry */
	mcp_tool_fn fn;
	void *data;
	bool quick;
};

/* A template split into literal text and variables: "a/{x}/b" -> lit "a/",
 * var "x", lit "/b". */
struct tpl_part {
	char *text; /* literal text or variable name */
	bool is_var;
};

struct resource_row {
	char *uri;              /* concrete resources */
	struct tpl_part *parts; /* templates */
	size_t nparts;
	char *uri_template;
	json_t *listing;
	mcp_read_fn read;
	mcp_complete_fn complete;
	void *data;
};

struct prompt_row {
	char *name;
	struct mcp_prompt_arg *args;
	size_t nargs;
	json_t *listing;
	mcp_prompt_fn get;
	mcp_complete_fn complete;
	void *data;
};

struct mcp_server {
	char *name, *title, *version, *instructions;
	size_t page_size;
	int request_timeout_ms;
	struct tool_row *tools;
	size_t ntools;
	struct resource_row *resources; /* concrete */
	size_t nresources;
	struct resource_row *templates;
	size_t ntemplates;
	struct prompt_row *prompts;
	size_t nprompts;

	pthread_mutex_t lock; /* guards the session list */
	struct mcp_session *sessions;

	mcp_subscribe_check_fn sub_check; /* may be NULL: any URI */
	void *sub_check_data;

	mcp_observer_fn observer; /* may be NULL */
	void *observer_data;
};

/* ---- Sessions -------------------------------------------------------- */

/* A request this session sent to the client, waiting for its answer. */
struct pending {
	long long id;
	bool done;
	json_t *result;
	int error_code;
	char *error_message;
	pthread_cond_t cond;
	struct pending *next;
};

/* A request from the client being handled (so it can be cancelled). */
struct inflight {
	json_t *id;
	bool cancelled;
	struct inflight *next;
};

struct mcp_session {
	struct mcp_server *srv;
	atomic_int refs;
	pthread_mutex_t lock;
	struct mcp_sink out;
	atomic_bool closed;      /* read without the lock on every send */
	bool input_ended;        /* no answer can come from the client any more */
	atomic_bool initialized; /* initialize answered (or assumed) */
	bool handshaken;         /* initialize received on this session */
	char version[16];
	json_t *client_caps;
	json_t *client_info;
	int log_level; /* -1: not set, send everything */
	char **subs;
	size_t nsubs;
	unsigned long rev; /* changes of the durable state */
	struct mcp_session_hooks hooks;
	int hooks_busy;            /* hooks running now */
	pthread_cond_t hooks_idle; /* signalled when hooks_busy drops to 0 */
	struct pending *pending;
	long long next_request_id;
	struct inflight *inflight;
	void *user;
	void (*user_free)(void *);
	struct mcp_session *prev, *next; /* server's list */
};

struct mcp_call {
	struct mcp_session *s;
	const struct mcp_sink *reply;
	const json_t *id;
	const json_t *meta;
	const json_t *progress_token;
	void *data;
	const char *tool; /* tools/call: the registered tool's name */
	struct inflight *inf;
	char *result_text; /* mcp_call_set_result_text: the result, rendered */
};

/* ---- Small helpers ---------------------------------------------------- */

static const char *const log_level_names[] = {
	"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency",
};

const char *mcp_log_level_name(enum mcp_log_level l)
{
	if ((unsigned)l >= sizeof(log_level_names) / sizeof(log_level_names[0]))
		return "info";
	return log_level_names[l];
}

int mcp_log_level_parse(const char *name, enum mcp_log_level *out)
{
	for (size_t i = 0; name && i < sizeof(log_level_names) / sizeof(log_level_names[0]); i++) {
		if (strcmp(name, log_level_names[i]) == 0) {
			*out = (enum mcp_log_level)i;
			return ERR_OK;
		}
	}
	return ERR_INVALID;
}

static bool valid_tool_name(const char *n)
{
	size_t len = n ? strlen(n) : 0;
	if (len == 0 || len > 128)
		return false;
	for (const char *p = n; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void set_opt_str(json_t *obj, const char *key, const char *val)
{
	if (val && *val)
		json_object_set_new(obj, key, json_string(val));
}

/* Parse an optional JSON text member of a row; *out stays NULL for NULL text. */
static int parse_row_json(const char *text, const char *what, const char *row, json_t **out,
			  struct err *e)
{
	*out = NULL;
	if (!text)
		return ERR_OK;
	struct err pe;
	json_t *j = json_parse(text, (size_t)-1, &pe);
	if (!j)
		return err_set(e, ERR_INVALID, "%s of \"%s\": %s", what, row, err_msg(&pe));
	if (!json_is_object(j)) {
		json_decref(j);
		return err_set(e, ERR_INVALID, "%s of \"%s\" must be a JSON object", what, row);
	}
	*out = j;
	return ERR_OK;
}

/* ---- Server ------------------------------------------------------------ */

struct mcp_server *mcp_server_new(const struct mcp_server_options *opt)
{
	struct mcp_server *srv = xcalloc(1, sizeof(*srv));
	srv->name = xstrdup(opt && opt->name ? opt->name : "mcp-server");
	srv->title = dup_or_null(opt ? opt->title : NULL);
	srv->version = xstrdup(opt && opt->version ? opt->version : "0.0.0");
	srv->instructions = dup_or_null(opt ? opt->instructions : NULL);
	srv->page_size = opt && opt->page_size ? opt->page_size : 100;
	srv->request_timeout_ms = opt && opt->request_timeout_ms > 0 ? opt->request_timeout_ms
								      : 60000;
	pthread_mutex_init(&srv->lock, NULL);
	return srv;
}

static void resource_row_cleanup(struct resource_row *r)
{
	free(r->uri);
	free(r->uri_template);
	for (size_t i = 0; i < r->nparts; i++)
		free(r->parts[i].text);
	free(r->parts);
	json_decref(r->listing);
}

void mcp_server_free(struct mcp_server *srv)
{
	if (!srv)
		return;
	if (srv->sessions)
		log_warn("mcp server freed with sessions still open");
	for (size_t i = 0; i < srv->ntools; i++) {
		free(srv->tools[i].name);
		json_decref(srv->tools[i].input_schema);
		json_decref(srv->tools[i].output_schema);
		json_decref(srv->tools[i].listing);
	}
	free(srv->tools);
	for (size_t i = 0; i < srv->nresources; i++)
		resource_row_cleanup(&srv->resources[i]);
	free(srv->resources);
	for (size_t i = 0; i < srv->ntemplates; i++)
		resource_row_cleanup(&srv->templates[i]);
	free(srv->templates);
	for (size_t i = 0; i < srv->nprompts; i++) {
		struct prompt_row *p = &srv->prompts[i];
		free(p->name);
		for (size_t j = 0; j < p->nargs; j++) {
			free((char *)p->args[j].name);
			free((char *)p->args[j].description);
		}
		free(p->args);
		json_decref(p->listing);
	}
	free(srv->prompts);
	pthread_mutex_destroy(&srv->lock);
	free(srv->name);
	free(srv->title);
	free(srv->version);
	free(srv->instructions);
	free(srv);
}

int mcp_server_add_tool(struct mcp_server *srv, const struct mcp_tool *t, struct err *e)
{
	if (!valid_tool_name(t->name))
		return err_set(e, ERR_INVALID,
			       "tool name \"%s\" is invalid: use 1-128 characters of A-Z a-z 0-9 _ - .",
			       t->name ? t->name : "");
	if (!t->fn)
		return err_set(e, ERR_INVALID, "tool \"%s\" has no handler", t->name);
	for (size_t i = 0; i < srv->ntools; i++)
		if (strcmp(srv->tools[i].name, t->name) == 0)
			return err_set(e, ERR_INVALID, "tool \"%s\" is registered twice", t->name);
	json_t *in = NULL, *outs = NULL, *ann = NULL;
	int rc = parse_row_json(t->input_schema ? t->input_schema : "{\"type\":\"object\"}",
				"inputSchema", t->name, &in, e);
	if (rc == ERR_OK)
		rc = mcp_schema_check(in, e);
	if (rc == ERR_OK)
		rc = parse_row_json(t->output_schema, "outputSchema", t->name, &outs, e);
	if (rc == ERR_OK && outs)
		rc = mcp_schema_check(outs, e);
	if (rc == ERR_OK)
		rc = parse_row_json(t->annotations, "annotations", t->name, &ann, e);
	if (rc != ERR_OK) {
		json_decref(in);
		json_decref(outs);
		json_decref(ann);
		return rc;
	}
	json_t *l = json_object();
	json_object_set_new(l, "name", json_string(t->name));
	set_opt_str(l, "title", t->title);
	set_opt_str(l, "description", t->description);
	json_object_set(l, "inputSchema", in);
	if (outs)
		json_object_set(l, "outputSchema", outs);
	if (ann)
		json_object_set_new(l, "annotations", ann);

	srv->tools = xrealloc(srv->tools, (srv->ntools + 1) * sizeof(*srv->tools));
	srv->tools[srv->ntools++] = (struct tool_row){
		.name = xstrdup(t->name),
		.input_schema = in,
		.output_schema = outs,
		.listing = l,
		.fn = t->fn,
		.data = t->data,
		.quick = t->quick,
	};
	return ERR_OK;
}

static int parse_template(const char *tpl, struct tpl_part **parts, size_t *nparts, struct err *e)
{
	*parts = NULL;
	*nparts = 0;
	const char *p = tpl;
	while (*p) {
		struct tpl_part part;
		if (*p == '{') {
			const char *end = strchr(p, '}');
			if (!end || end == p + 1)
				goto bad;
			part.is_var = true;
			part.text = xstrndup(p + 1, (size_t)(end - p - 1));
			if (*nparts && (*parts)[*nparts - 1].is_var) {
				free(part.text);
				goto bad; /* two variables in a row cannot be split */
			}
			p = end + 1;
		} else {
			const char *end = strchr(p, '{');
			size_t n = end ? (size_t)(end - p) : strlen(p);
			if (memchr(p, '}', n))
				goto bad;
			part.is_var = false;
			part.text = xstrndup(p, n);
			p += n;
		}
		*parts = xrealloc(*parts, (*nparts + 1) * sizeof(**parts));
		(*parts)[(*nparts)++] = part;
	}
	return ERR_OK;
bad:
	for (size_t i = 0; i < *nparts; i++)
		free((*parts)[i].text);
	free(*parts);
	*parts = NULL;
	*nparts = 0;
	return err_set(e, ERR_INVALID,
		       "URI template \"%s\" is not a level-1 RFC 6570 template (use literal text "
		       "and {name} variables separated by literal text)",
		       tpl);
}

int mcp_server_add_resource(struct mcp_server *srv, const struct mcp_resource *r, struct err *e)
{
	if ((r->uri == NULL) == (r->uri_template == NULL))
		return err_set(e, ERR_INVALID, "a resource row needs exactly one of uri and uri_template");
	if (!r->read)
		return err_set(e, ERR_INVALID, "resource \"%s\" has no read handler",
			       r->uri ? r->uri : r->uri_template);
	struct resource_row row = {
		.read = r->read,
		.complete = r->complete,
		.data = r->data,
	};
	json_t *l = json_object();
	if (r->uri) {
		row.uri = xstrdup(r->uri);
		json_object_set_new(l, "uri", json_string(r->uri));
	} else {
		int rc = parse_template(r->uri_template, &row.parts, &row.nparts, e);
		if (rc != ERR_OK) {
			json_decref(l);
			return rc;
		}
		row.uri_template = xstrdup(r->uri_template);
		json_object_set_new(l, "uriTemplate", json_string(r->uri_template));
	}
	json_object_set_new(l, "name", json_string(r->name ? r->name : (r->uri ? r->uri : r->uri_template)));
	set_opt_str(l, "title", r->title);
	set_opt_str(l, "description", r->description);
	set_opt_str(l, "mimeType", r->mime_type);
	row.listing = l;
	if (r->uri) {
		srv->resources = xrealloc(srv->resources, (srv->nresources + 1) * sizeof(row));
		srv->resources[srv->nresources++] = row;
	} else {
		srv->templates = xrealloc(srv->templates, (srv->ntemplates + 1) * sizeof(row));
		srv->templates[srv->ntemplates++] = row;
	}
	return ERR_OK;
}

int mcp_server_add_prompt(struct mcp_server *srv, const struct mcp_prompt *p, struct err *e)
{
	if (!p->name || !*p->name || !p->get)
		return err_set(e, ERR_INVALID, "a prompt row needs a name and a get handler");
	struct prompt_row row = {
		.name = xstrdup(p->name),
		.nargs = p->nargs,
		.get = p->get,
		.complete = p->complete,
		.data = p->data,
	};
	json_t *l = json_object();
	json_object_set_new(l, "name", json_string(p->name));
	set_opt_str(l, "title", p->title);
	set_opt_str(l, "description", p->description);
	json_t *args = json_array();
	row.args = xcalloc(p->nargs ? p->nargs : 1, sizeof(*row.args));
	for (size_t i = 0; i < p->nargs; i++) {
		row.args[i].name = xstrdup(p->args[i].name);
		row.args[i].description = dup_or_null(p->args[i].description);
		row.args[i].required = p->args[i].required;
		json_t *a = json_object();
		json_object_set_new(a, "name", json_string(p->args[i].name));
		set_opt_str(a, "description", p->args[i].description);
		json_object_set_new(a, "required", json_boolean(p->args[i].required));
		json_array_append_new(args, a);
	}
	if (p->nargs)
		json_object_set_new(l, "arguments", args);
	else
		json_decref(args);
	row.listing = l;
	srv->prompts = xrealloc(srv->prompts, (srv->nprompts + 1) * sizeof(row));
	srv->prompts[srv->nprompts++] = row;
	return ERR_OK;
}

/* ---- Session basics -------------------------------------------------- */

struct mcp_session *mcp_session_new(struct mcp_server *srv, const struct mcp_sink *out)
{
	struct mcp_session *s = xcalloc(1, sizeof(*s));
	s->srv = srv;
	atomic_init(&s->refs, 1);
	pthread_mutex_init(&s->lock, NULL);
	if (out)
		s->out = *out;
	s->log_level = -1;
	s->next_request_id = 1;
	pthread_cond_init(&s->hooks_idle, NULL);
	pthread_mutex_lock(&srv->lock);
	s->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = s;
	srv->sessions = s;
	pthread_mutex_unlock(&srv->lock);
	return s;
}

void mcp_session_ref(struct mcp_session *s)
{
	atomic_fetch_add(&s->refs, 1);
}

void mcp_session_close(struct mcp_session *s)
{
	pthread_mutex_lock(&s->lock);
	s->closed = true;
	for (struct pending *p = s->pending; p; p = p->next)
		pthread_cond_broadcast(&p->cond);
	while (s->hooks_busy > 0)
		pthread_cond_wait(&s->hooks_idle, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

void mcp_session_end_input(struct mcp_session *s)
{
	pthread_mutex_lock(&s->lock);
	s->input_ended = true;
	for (struct pending *p = s->pending; p; p = p->next)
		pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&s->lock);
}

void mcp_session_unref(struct mcp_session *s)
{
	if (!s)
		return;
	/* Not the last reference: drop it without the server lock. */
	int refs = atomic_load(&s->refs);
	while (refs > 1)
		if (atomic_compare_exchange_weak(&s->refs, &refs, refs - 1))
			return;
	/* Perhaps the last: decide under the server lock, which live_sessions()
	 * holds while it takes references, so a broadcast can never revive a
	 * session whose count has reached zero. */
	struct mcp_server *srv = s->srv;
	pthread_mutex_lock(&srv->lock);
	if (atomic_fetch_sub(&s->refs, 1) != 1) {
		pthread_mutex_unlock(&srv->lock);
		return;
	}
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	pthread_mutex_unlock(&srv->lock);
	if (s->user_free)
		s->user_free(s->user);
	for (size_t i = 0; i < s->nsubs; i++)
		free(s->subs[i]);
	free(s->subs);
	json_decref(s->client_caps);
	json_decref(s->client_info);
	pthread_cond_destroy(&s->hooks_idle);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void mcp_session_set_out(struct mcp_session *s, const struct mcp_sink *out)
{
	pthread_mutex_lock(&s->lock);
	if (out)
		s->out = *out;
	else
		memset(&s->out, 0, sizeof(s->out));
	pthread_mutex_unlock(&s->lock);
}

void mcp_session_assume_initialized(struct mcp_session *s, const char *version)
{
	pthread_mutex_lock(&s->lock);
	s->initialized = true;
	snprintf(s->version, sizeof(s->version), "%s", version ? version : MCP_PROTOCOL_LATEST);
	pthread_mutex_unlock(&s->lock);
}

void mcp_session_set_user(struct mcp_session *s, void *user, void (*free_fn)(void *))
{
	s->user = user;
	s->user_free = free_fn;
}

void *mcp_session_user(const struct mcp_session *s)
{
	return s->user;
}

bool mcp_session_initialized(const struct mcp_session *s)
{
	return s->initialized;
}

const char *mcp_session_protocol_version(const struct mcp_session *s)
{
	return s->version[0] ? s->version : NULL;
}

const json_t *mcp_session_client_capabilities(const struct mcp_session *s)
{
	return s->client_caps;
}

/* ---- Durable state --------------------------------------------------------- */

#define MAX_SUBS 10000

/* The durable state as JSON (lock held). */
static json_t *export_locked(struct mcp_session *s)
{
	json_t *subs = json_array();
	for (size_t i = 0; i < s->nsubs; i++)
		json_array_append_new(subs, json_string(s->subs[i]));
	json_t *j = json_pack("{s:I,s:b,s:o}", "rev", (json_int_t)s->rev, "initialized",
			      (int)s->initialized, "subscriptions", subs);
	if (s->version[0])
		json_object_set_new(j, "protocolVersion", json_string(s->version));
	if (s->client_caps)
		json_object_set_new(j, "clientCapabilities", json_deep_copy(s->client_caps));
	if (s->client_info)
		json_object_set_new(j, "clientInfo", json_deep_copy(s->client_info));
	if (s->log_level >= 0)
		json_object_set_new(
			j, "logLevel",
			json_string(mcp_log_level_name((enum mcp_log_level)s->log_level)));
	return j;
}

json_t *mcp_session_export(struct mcp_session *s)
{
	pthread_mutex_lock(&s->lock);
	json_t *j = export_locked(s);
	pthread_mutex_unlock(&s->lock);
	return j;
}

unsigned long mcp_session_rev(struct mcp_session *s)
{
	pthread_mutex_lock(&s->lock);
	unsigned long r = s->rev;
	pthread_mutex_unlock(&s->lock);
	return r;
}

static bool version_supported(const char *v)
{
	for (size_t i = 0; v && i < NVERSIONS; i++)
		if (strcmp(v, supported_versions[i]) == 0)
			return true;
	return false;
}

int mcp_session_import(struct mcp_session *s, const json_t *state, struct err *e)
{
	if (!json_is_object(state))
		return err_set(e, ERR_INVALID, "session state must be a JSON object");
	const json_t *rev = json_object_get(state, "rev");
	const json_t *init = json_object_get(state, "initialized");
	const json_t *ver = json_object_get(state, "protocolVersion");
	const json_t *caps = json_object_get(state, "clientCapabilities");
	const json_t *info = json_object_get(state, "clientInfo");
	const json_t *lvl = json_object_get(state, "logLevel");
	const json_t *subs = json_object_get(state, "subscriptions");
	enum mcp_log_level level = MCP_LOG_DEBUG;
	if (rev && (!json_is_integer(rev) || json_integer_value(rev) < 0))
		return err_set(e, ERR_INVALID, "session state: rev must be a non-negative integer");
	if (init && !json_is_boolean(init))
		return err_set(e, ERR_INVALID, "session state: initialized must be a boolean");
	if (ver && !version_supported(json_string_value(ver)))
		return err_set(e, ERR_INVALID,
			       "session state: protocolVersion must be a supported version");
	if (json_is_true(init) && !ver)
		return err_set(e, ERR_INVALID,
			       "session state: an initialized session needs its protocolVersion");
	if (caps && !json_is_object(caps))
		return err_set(e, ERR_INVALID,
			       "session state: clientCapabilities must be an object");
	if (info && !json_is_object(info))
		return err_set(e, ERR_INVALID, "session state: clientInfo must be an object");
	if (lvl && !json_is_null(lvl) && mcp_log_level_parse(json_string_value(lvl), &level))
		return err_set(e, ERR_INVALID, "session state: logLevel is not a log level");
	if (subs && (!json_is_array(subs) || json_array_size(subs) > MAX_SUBS))
		return err_set(e, ERR_INVALID,
			       "session state: subscriptions must be an array of at most %d URIs",
			       MAX_SUBS);
	size_t i;
	const json_t *u;
	json_array_foreach(subs, i, u) {
		if (!json_is_string(u))
			return err_set(e, ERR_INVALID,
				       "session state: subscriptions must hold strings");
	}

	size_t n = json_array_size(subs);
	char **list = n ? xcalloc(n, sizeof(*list)) : NULL;
	json_array_foreach(subs, i, u)
		list[i] = xstrdup(json_string_value(u));
	pthread_mutex_lock(&s->lock);
	s->rev = rev ? (unsigned long)json_integer_value(rev) : 0;
	s->initialized = json_is_true(init);
	s->handshaken = json_is_true(init);
	snprintf(s->version, sizeof(s->version), "%s", ver ? json_string_value(ver) : "");
	if (!json_equal(s->client_caps, (json_t *)caps) && (s->client_caps || caps)) {
		json_decref(s->client_caps);
		s->client_caps = caps ? json_deep_copy(caps) : NULL;
	}
	if (!json_equal(s->client_info, (json_t *)info) && (s->client_info || info)) {
		json_decref(s->client_info);
		s->client_info = info ? json_deep_copy(info) : NULL;
	}
	s->log_level = lvl && !json_is_null(lvl) ? (int)level : -1;
	char **old = s->subs;
	size_t nold = s->nsubs;
	s->subs = list;
	s->nsubs = n;
	pthread_mutex_unlock(&s->lock);
	for (size_t k = 0; k < nold; k++)
		free(old[k]);
	free(old);
	return ERR_OK;
}

void mcp_session_set_hooks(struct mcp_session *s, const struct mcp_session_hooks *hooks)
{
	pthread_mutex_lock(&s->lock);
	if (hooks)
		s->hooks = *hooks;
	else
		memset(&s->hooks, 0, sizeof(s->hooks));
	pthread_mutex_unlock(&s->lock);
}

/* Take the hooks for a call of `changed` (or else `refresh`) with the lock
 * held: false when there is none to run. */
static bool hooks_enter(struct mcp_session *s, bool changed, struct mcp_session_hooks *h)
{
	if (s->closed || !(changed ? s->hooks.changed != NULL : s->hooks.refresh != NULL))
		return false;
	*h = s->hooks;
	s->hooks_busy++;
	return true;
}

static void hooks_leave(struct mcp_session *s)
{
	pthread_mutex_lock(&s->lock);
	if (--s->hooks_busy == 0)
		pthread_cond_broadcast(&s->hooks_idle);
	pthread_mutex_unlock(&s->lock);
}

/* The durable state changed (lock held, released here): count the change
 * and tell the hook with a snapshot taken under the same lock. */
static void state_changed_unlock(struct mcp_session *s)
{
	struct mcp_session_hooks h;
	s->rev++;
	bool run = hooks_enter(s, true, &h);
	json_t *state = run ? export_locked(s) : NULL;
	pthread_mutex_unlock(&s->lock);
	if (!run)
		return;
	h.changed(h.ctx, s, state);
	json_decref(state);
	hooks_leave(s);
}

void mcp_session_set_next_request_id(struct mcp_session *s, long long first)
{
	pthread_mutex_lock(&s->lock);
	s->next_request_id = first > 0 ? first : 1;
	pthread_mutex_unlock(&s->lock);
}

size_t mcp_session_pending_ids(struct mcp_session *s, long long *ids, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&s->lock);
	for (struct pending *p = s->pending; p; p = p->next) {
		if (p->done)
			continue;
		if (n < max)
			ids[n] = p->id;
		n++;
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Send a message text on a sink unless the session is closed. */
static int sink_send(struct mcp_session *s, const struct mcp_sink *sink, char *text)
{
	int rc = -1;
	if (text && sink && sink->send && !s->closed)
		rc = sink->send(sink->ctx, text, strlen(text));
	free(text);
	return rc;
}

/* Send the response that ends a request. */
static int sink_send_final(struct mcp_session *s, const struct mcp_sink *sink, char *text)
{
	if (sink && sink->send_final && text && !s->closed) {
		int rc = sink->send_final(sink->ctx, text, strlen(text));
		free(text);
		return rc;
	}
	return sink_send(s, sink, text);
}

/* Send an unsolicited message to a session's own sink.  The sink is copied
 * under the lock so that mcp_session_set_out may race with it. */
static int session_send_out(struct mcp_session *s, char *text)
{
	pthread_mutex_lock(&s->lock);
	struct mcp_sink out = s->out;
	pthread_mutex_unlock(&s->lock);
	return sink_send(s, &out, text);
}

/* ---- Broadcasts ---------------------------------------------------------- */

/* Hold a reference to each live, initialized session (lock held). */
static struct mcp_session **live_sessions(struct mcp_server *srv, size_t *n)
{
	struct mcp_session **list = NULL;
	*n = 0;
	for (struct mcp_session *s = srv->sessions; s; s = s->next) {
		if (!s->initialized || s->closed)
			continue;
		list = xrealloc(list, (*n + 1) * sizeof(*list));
		mcp_session_ref(s);
		list[(*n)++] = s;
	}
	return list;
}

/* Send a notification to every live session (outside the server lock: a
 * sink may block on a slow peer). */
static void broadcast(struct mcp_server *srv, const char *method, const json_t *params)
{
	size_t n;
	pthread_mutex_lock(&srv->lock);
	struct mcp_session **list = live_sessions(srv, &n);
	pthread_mutex_unlock(&srv->lock);
	for (size_t i = 0; i < n; i++) {
		session_send_out(list[i], jsonrpc_notification_text(method, params));
		mcp_session_unref(list[i]);
	}
	free(list);
}

static bool subscribed(struct mcp_session *s, const char *uri)
{
	bool yes = false;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nsubs && !yes; i++)
		yes = strcmp(s->subs[i], uri) == 0;
	pthread_mutex_unlock(&s->lock);
	return yes;
}

/* Let the session's refresh hook bring its subscriptions up to date. */
static void refresh(struct mcp_session *s)
{
	struct mcp_session_hooks h;
	pthread_mutex_lock(&s->lock);
	bool run = hooks_enter(s, false, &h);
	pthread_mutex_unlock(&s->lock);
	if (!run)
		return;
	h.refresh(h.ctx, s);
	hooks_leave(s);
}

void mcp_server_set_subscribe_check(struct mcp_server *srv, mcp_subscribe_check_fn fn,
				    void *data)
{
	srv->sub_check = fn;
	srv->sub_check_data = data;
}

bool mcp_server_may_notify(struct mcp_server *srv)
{
	bool may = false;
	pthread_mutex_lock(&srv->lock);
	for (struct mcp_session *s = srv->sessions; s && !may; s = s->next) {
		pthread_mutex_lock(&s->lock);
		/* a session with a refresh hook may gain subscriptions elsewhere */
		may = !s->closed && (s->nsubs > 0 || s->hooks.refresh != NULL);
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_unlock(&srv->lock);
	return may;
}

void mcp_server_resources_updated(struct mcp_server *srv, const char *const *uris, size_t n)
{
	size_t ns;
	if (!n)
		return;
	pthread_mutex_lock(&srv->lock);
	struct mcp_session **list = live_sessions(srv, &ns);
	pthread_mutex_unlock(&srv->lock);
	for (size_t i = 0; i < ns; i++) {
		struct mcp_session *s = list[i];
		refresh(s);
		for (size_t k = 0; k < n; k++) {
			if (!subscribed(s, uris[k]))
				continue;
			json_t *params = json_pack("{s:s}", "uri", uris[k]);
			session_send_out(s, jsonrpc_notification_text(
						    "notifications/resources/updated", params));
			json_decref(params);
		}
		mcp_session_unref(s);
	}
	free(list);
}

void mcp_server_resource_updated(struct mcp_server *srv, const char *uri)
{
	mcp_server_resources_updated(srv, &uri, 1);
}

void mcp_server_list_changed(struct mcp_server *srv, const char *what)
{
	char method[64];
	snprintf(method, sizeof(method), "notifications/%s/list_changed", what);
	broadcast(srv, method, NULL);
}

/* ---- Inside a handler ------------------------------------------------------ */

struct mcp_session *mcp_call_session(struct mcp_call *call)
{
	return call->s;
}

void *mcp_call_data(struct mcp_call *call)
{
	return call->data;
}

const json_t *mcp_call_id(struct mcp_call *call)
{
	return call->id;
}

const json_t *mcp_call_meta(struct mcp_call *call)
{
	return call->meta;
}

bool mcp_call_cancelled(struct mcp_call *call)
{
	pthread_mutex_lock(&call->s->lock);
	bool c = call->inf && call->inf->cancelled;
	pthread_mutex_unlock(&call->s->lock);
	return c;
}

int mcp_call_progress(struct mcp_call *call, double progress, double total, const char *message)
{
	if (!call->progress_token)
		return ERR_OK;
	json_t *p = json_object();
	json_object_set(p, "progressToken", (json_t *)call->progress_token);
	json_object_set_new(p, "progress", json_real(progress));
	if (total >= 0)
		json_object_set_new(p, "total", json_real(total));
	if (message)
		json_object_set_new(p, "message", json_string(message));
	int rc = sink_send(call->s, call->reply, jsonrpc_notification_text("notifications/progress", p));
	json_decref(p);
	return rc == 0 ? ERR_OK : ERR_IO;
}

static json_t *log_params(enum mcp_log_level level, const char *logger, const json_t *data)
{
	json_t *p = json_object();
	json_object_set_new(p, "level", json_string(mcp_log_level_name(level)));
	if (logger)
		json_object_set_new(p, "logger", json_string(logger));
	json_object_set_new(p, "data", data ? json_deep_copy(data) : json_null());
	return p;
}

int mcp_call_log(struct mcp_call *call, enum mcp_log_level level, const char *logger,
		 const json_t *data)
{
	pthread_mutex_lock(&call->s->lock);
	int threshold = call->s->log_level;
	pthread_mutex_unlock(&call->s->lock);
	if (threshold >= 0 && (int)level < threshold)
		return ERR_OK;
	json_t *p = log_params(level, logger, data);
	int rc = sink_send(call->s, call->reply, jsonrpc_notification_text("notifications/message", p));
	json_decref(p);
	return rc == 0 ? ERR_OK : ERR_IO;
}

void mcp_call_close_stream(struct mcp_call *call, int retry_ms)
{
	if (call->reply && call->reply->close_stream)
		call->reply->close_stream(call->reply->ctx, retry_ms);
}

void mcp_call_set_result_text(struct mcp_call *call, char *text)
{
	free(call->result_text);
	call->result_text = text;
}

static void deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int mcp_call_request(struct mcp_call *call, const char *method, const json_t *params,
		     int timeout_ms, json_t **result, struct err *e)
{
	struct mcp_session *s = call->s;
	*result = NULL;
	if (timeout_ms <= 0)
		timeout_ms = s->srv->request_timeout_ms;

	struct pending p = {0};
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p.cond, &ca);
	pthread_condattr_destroy(&ca);

	pthread_mutex_lock(&s->lock);
	if (s->closed || s->input_ended) {
		pthread_mutex_unlock(&s->lock);
		pthread_cond_destroy(&p.cond);
		return err_set(e, ERR_IO, "the client session is closed");
	}
	p.id = s->next_request_id++;
	p.next = s->pending;
	s->pending = &p;
	pthread_mutex_unlock(&s->lock);

	json_t *id = json_integer(p.id);
	int rc = sink_send(s, call->reply, jsonrpc_request_text(id, method, params));
	if (rc != 0)
		log_debug("mcp: could not send %s request to the client yet", method);

	struct timespec deadline;
	deadline_after(&deadline, timeout_ms);
	pthread_mutex_lock(&s->lock);
	while (!p.done && !s->closed && !s->input_ended) {
		if (pthread_cond_timedwait(&p.cond, &s->lock, &deadline) == ETIMEDOUT)
			break;
	}
	for (struct pending **pp = &s->pending; *pp; pp = &(*pp)->next) {
		if (*pp == &p) {
			*pp = p.next;
			break;
		}
	}
	bool closed = s->closed || s->input_ended;
	pthread_mutex_unlock(&s->lock);
	pthread_cond_destroy(&p.cond);

	if (p.done && p.result) {
		*result = p.result;
		rc = ERR_OK;
	} else if (p.done) {
		rc = err_set(e, ERR_INVALID, "the client answered %s with error %d: %s", method,
			     p.error_code, p.error_message ? p.error_message : "");
	} else if (closed) {
		rc = err_set(e, ERR_IO, "the client session closed before it answered %s", method);
	} else {
		json_t *cp = json_pack("{s:O,s:s}", "requestId", id, "reason", "timed out");
		sink_send(s, call->reply, jsonrpc_notification_text("notifications/cancelled", cp));
		json_decref(cp);
		rc = err_set(e, ERR_TIMEOUT, "the client did not answer %s within %d ms", method,
			     timeout_ms);
	}
	free(p.error_message);
	json_decref(id);
	return rc;
}

/* ---- Result helpers ------------------------------------------------------ */

static json_t *text_content(const char *text)
{
	return json_pack("{s:s,s:o}", "type", "text", "text", json_string_lossy(text));
}

json_t *mcp_result_text(const char *text)
{
	return json_pack("{s:[o]}", "content", text_content(text));
}

json_t *mcp_result_structured(json_t *structured, const char *text)
{
	char *own = text ? NULL : json_to_text(structured);
	json_t *r = json_pack("{s:[o],s:o}", "content", text_content(text ? text : own),
			      "structuredContent", structured);
	free(own);
	return r;
}

json_t *mcp_result_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	json_t *r = json_pack("{s:[o],s:b}", "content", text_content(msg ? msg : "error"), "isError", 1);
	free(msg);
	return r;
}

/* ---- Method handlers ------------------------------------------------------ */

/* A handler fills *result, or returns non-zero with *rpc_code and *e. */
typedef int (*method_fn)(struct mcp_call *call, const json_t *params, json_t **result,
			 int *rpc_code, struct err *e);

static int invalid_params(int *rpc_code, struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int invalid_params(int *rpc_code, struct err *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_setv(e, ERR_INVALID, fmt, ap);
	va_end(ap);
	*rpc_code = JSONRPC_INVALID_PARAMS;
	return ERR_INVALID;
}

static int m_initialize(struct mcp_call *call, const json_t *params, json_t **result,
			int *rpc_code, struct err *e)
{
	struct mcp_session *s = call->s;
	struct mcp_server *srv = s->srv;
	const char *want = json_get_str(params, "protocolVersion");
	if (!want)
		return invalid_params(rpc_code, e,
				      "initialize needs params.protocolVersion (a string such as "
				      "\"%s\")",
				      MCP_PROTOCOL_LATEST);
	const json_t *caps = params ? json_object_get(params, "capabilities") : NULL;
	if (caps && !json_is_object(caps))
		return invalid_params(rpc_code, e, "initialize: params.capabilities must be an object");
	const json_t *info = params ? json_object_get(params, "clientInfo") : NULL;
	if (info && !json_is_object(info))
		return invalid_params(rpc_code, e, "initialize: params.clientInfo must be an object");

	const char *version = supported_versions[0];
	for (size_t i = 0; i < NVERSIONS; i++)
		if (strcmp(want, supported_versions[i]) == 0)
			version = supported_versions[i];

	pthread_mutex_lock(&s->lock);
	if (s->handshaken) {
		pthread_mutex_unlock(&s->lock);
		*rpc_code = JSONRPC_INVALID_REQUEST;
		return err_set(e, ERR_STATE, "this session is already initialized; start a new "
					     "session to initialize again");
	}
	s->handshaken = true;
	s->initialized = true;
	snprintf(s->version, sizeof(s->version), "%s", version);
	json_decref(s->client_caps);
	s->client_caps = caps ? json_deep_copy(caps) : json_object();
	json_decref(s->client_info);
	s->client_info = info ? json_deep_copy(info) : NULL;
	state_changed_unlock(s);

	json_t *server_info = json_pack("{s:s,s:s}", "name", srv->name, "version", srv->version);
	set_opt_str(server_info, "title", srv->title);
	json_t *r = json_object();
	json_object_set_new(r, "protocolVersion", json_string(version));
	json_object_set_new(
		r, "capabilities",
		json_pack("{s:{},s:{},s:{s:b},s:{s:b,s:b},s:{s:b}}", "logging", "completions",
			  "prompts", "listChanged", 1, "resources", "subscribe", 1, "listChanged",
			  1, "tools", "listChanged", 1));
	json_object_set_new(r, "serverInfo", server_info);
	set_opt_str(r, "instructions", srv->instructions);
	*result = r;
	return ERR_OK;
}

static int m_ping(struct mcp_call *call, const json_t *params, json_t **result, int *rpc_code,
		  struct err *e)
{
	(void)call, (void)params, (void)rpc_code, (void)e;
	*result = json_object();
	return ERR_OK;
}

/* Cursor pagination over an array of listings: the cursor is the decimal
 * offset of the next page, opaque to clients. */
static int list_page(struct mcp_server *srv, const json_t *params, const char *key,
		     size_t count, json_t *(*item)(struct mcp_server *, size_t), json_t **result,
		     int *rpc_code, struct err *e)
{
	size_t start = 0;
	const json_t *cur = params ? json_object_get(params, "cursor") : NULL;
	if (cur && !json_is_null(cur)) {
		const char *c = json_string_value(cur);
		char *end = NULL;
		errno = 0;
		unsigned long long v = c && *c >= '0' && *c <= '9' ? strtoull(c, &end, 10) : 0;
		if (!c || !end || *end || errno || v == 0 || v >= count)
			return invalid_params(rpc_code, e,
					      "invalid cursor: pass back the nextCursor of the "
					      "previous page unchanged, or omit it for the first page");
		start = (size_t)v;
	}
	json_t *arr = json_array();
	size_t end_i = start + srv->page_size < count ? start + srv->page_size : count;
	for (size_t i = start; i < end_i; i++)
		json_array_append(arr, item(srv, i));
	json_t *r = json_object();
	json_object_set_new(r, key, arr);
	if (end_i < count) {
		char next[32];
		snprintf(next, sizeof(next), "%zu", end_i);
		json_object_set_new(r, "nextCursor", json_string(next));
	}
	*result = r;
	return ERR_OK;
}

static json_t *tool_item(struct mcp_server *srv, size_t i)
{
	return srv->tools[i].listing;
}
static json_t *resource_item(struct mcp_server *srv, size_t i)
{
	return srv->resources[i].listing;
}
static json_t *template_item(struct mcp_server *srv, size_t i)
{
	return srv->templates[i].listing;
}
static json_t *prompt_item(struct mcp_server *srv, size_t i)
{
	return srv->prompts[i].listing;
}

static int m_tools_list(struct mcp_call *call, const json_t *params, json_t **result,
			int *rpc_code, struct err *e)
{
	struct mcp_server *srv = call->s->srv;
	return list_page(srv, params, "tools", srv->ntools, tool_item, result, rpc_code, e);
}

static int m_tools_call(struct mcp_call *call, const json_t *params, json_t **result,
			int *rpc_code, struct err *e)
{
	struct mcp_server *srv = call->s->srv;
	const char *name = json_get_str(params, "name");
	if (!name)
		return invalid_params(rpc_code, e, "tools/call needs params.name (a tool name from "
						   "tools/list)");
	struct tool_row *t = NULL;
	for (size_t i = 0; i < srv->ntools && !t; i++)
		if (strcmp(srv->tools[i].name, name) == 0)
			t = &srv->tools[i];
	if (!t)
		return invalid_params(rpc_code, e, "Unknown tool: \"%s\"; call tools/list for the "
						   "available tools",
				      name);
	const json_t *args = json_object_get(params, "arguments");
	json_t *empty = NULL;
	if (!args || json_is_null(args))
		args = empty = json_object();
	if (!json_is_object(args)) {
		*result = mcp_result_error("tools/call %s: arguments must be a JSON object, got %s",
					   name, json_type_name(args));
		return ERR_OK;
	}
	struct err ve;
	err_clear(&ve);
	if (mcp_schema_validate(t->input_schema, args, &ve) != ERR_OK) {
		*result = mcp_result_error("Invalid arguments for tool %s: %s", name, err_msg(&ve));
		json_decref(empty);
		return ERR_OK;
	}
	call->data = t->data;
	call->tool = t->name;
	json_t *r = NULL;
	struct err te;
	err_clear(&te);
	int rc = t->fn(call, args, &r, &te);
	json_decref(empty);
	if (rc != ERR_OK) {
		json_decref(r);
		free(call->result_text);
		call->result_text = NULL;
		*result = mcp_result_error("%s", err_msg(&te));
		return ERR_OK;
	}
	if (call->result_text && !r)
		return ERR_OK; /* rendered by the tool */
	free(call->result_text);
	call->result_text = NULL;
	if (!json_is_object(r) || !json_is_array(json_object_get(r, "content"))) {
		json_decref(r);
		*rpc_code = JSONRPC_INTERNAL_ERROR;
		return err_set(e, ERR_INTERNAL, "tool %s returned a malformed result", name);
	}
	*result = r;
	return ERR_OK;
}

static int m_resources_list(struct mcp_call *call, const json_t *params, json_t **result,
			    int *rpc_code, struct err *e)
{
	struct mcp_server *srv = call->s->srv;
	return list_page(srv, params, "resources", srv->nresources, resource_item, result,
			 rpc_code, e);
}

static int m_templates_list(struct mcp_call *call, const json_t *params, json_t **result,
			    int *rpc_code, struct err *e)
{
	struct mcp_server *srv = call->s->srv;
	return list_page(srv, params, "resourceTemplates", srv->ntemplates, template_item,
			 result, rpc_code, e);
}

/* Match a URI against a template; on success *vars gets the variables. */
static bool template_match(const struct resource_row *t, const char *uri, json_t **vars)
{
	json_t *v = json_object();
	const char *p = uri;
	for (size_t i = 0; i < t->nparts; i++) {
		const struct tpl_part *part = &t->parts[i];
		if (!part->is_var) {
			size_t n = strlen(part->text);
			if (strncmp(p, part->text, n) != 0)
				goto no;
			p += n;
			continue;
		}
		/* A variable runs to the next literal (or the end) and never
		 * spans a '/'. */
		const char *end;
		if (i + 1 < t->nparts) {
			end = strstr(p, t->parts[i + 1].text);
			if (!end)
				goto no;
		} else {
			end = p + strlen(p);
		}
		if (end == p || memchr(p, '/', (size_t)(end - p)))
			goto no;
		char *val = xstrndup(p, (size_t)(end - p));
		json_object_set_new(v, part->text, json_string(val));
		free(val);
		p = end;
	}
	if (*p)
		goto no;
	*vars = v;
	return true;
no:
	json_decref(v);
	return false;
}

static int m_resources_read(struct mcp_call *call, const json_t *params, json_t **result,
			    int *rpc_code, struct err *e)
{
	struct mcp_server *srv = call->s->srv;
	const char *uri = json_get_str(params, "uri");
	if (!uri)
		return invalid_params(rpc_code, e, "resources/read needs params.uri (a string)");
	const struct resource_row *row = NULL;
	json_t *vars = NULL;
	for (size_t i = 0; i < srv->nresources && !row; i++)
		if (strcmp(srv->resources[i].uri, uri) == 0)
			row = &srv->resources[i];
	for (size_t i = 0; i < srv->ntemplates && !row; i++)
		if (template_match(&srv->templates[i], uri, &vars))
			row = &srv->templates[i];
	if (!row) {
		*rpc_code = MCP_RESOURCE_NOT_FOUND;
		return err_set(e, ERR_NOT_FOUND,
			       "Resource not found: %s (resources/list and "
			       "resources/templates/list show what exists)",
			       uri);
	}
	call->data = row->data;
	json_t *contents = NULL;
	int rc = row->read(call, uri, vars, &contents, e);
	json_decref(vars);
	if (rc != ERR_OK) {
		json_decref(contents);
		*rpc_code = rc == ERR_NOT_FOUND ? MCP_RESOURCE_NOT_FOUND : jsonrpc_code_for_err(rc);
		return rc;
	}
	if (!json_is_array(contents)) {
		json_decref(contents);
		*rpc_code = JSONRPC_INTERNAL_ERROR;
		return err_set(e, ERR_INTERNAL, "resource %s produced no contents array", uri);
	}
	*result = json_pack("{s:o}", "contents", contents);
	return ERR_OK;
}

static int m_subscribe(struct mcp_call *call, const json_t *params, json_t **result,
		       int *rpc_code, struct err *e)
{
	struct mcp_session *s = call->s;
	const char *uri = json_get_str(params, "uri");
	if (!uri)
		return invalid_params(rpc_code, e, "resources/subscribe needs params.uri (a string)");
	/* Any URI may be watched, also one that does not exist yet (a task
	 * about to be created), as the SDK servers allow; the application may
	 * refuse URIs the session must not see. */
	if (s->srv->sub_check) {
		int rc = s->srv->sub_check(s->srv->sub_check_data, call, uri, e);
		if (rc) {
			*rpc_code = rc == ERR_NOT_FOUND ? MCP_RESOURCE_NOT_FOUND
							: jsonrpc_code_for_err(rc);
			return rc;
		}
	}
	pthread_mutex_lock(&s->lock);
	bool have = false;
	for (size_t i = 0; i < s->nsubs && !have; i++)
		have = strcmp(s->subs[i], uri) == 0;
	if (!have && s->nsubs < MAX_SUBS) {
		s->subs = xrealloc(s->subs, (s->nsubs + 1) * sizeof(*s->subs));
		s->subs[s->nsubs++] = xstrdup(uri);
		state_changed_unlock(s);
	} else {
		pthread_mutex_unlock(&s->lock);
	}
	*result = json_object();
	return ERR_OK;
}

static int m_unsubscribe(struct mcp_call *call, const json_t *params, json_t **result,
			 int *rpc_code, struct err *e)
{
	struct mcp_session *s = call->s;
	const char *uri = json_get_str(params, "uri");
	if (!uri)
		return invalid_params(rpc_code, e, "resources/unsubscribe needs params.uri (a string)");
	pthread_mutex_lock(&s->lock);
	bool found = false;
	for (size_t i = 0; i < s->nsubs && !found; i++) {
		if (strcmp(s->subs[i], uri) == 0) {
			free(s->subs[i]);
			s->subs[i] = s->subs[--s->nsubs];
			found = true;
		}
	}
	if (found)
		state_changed_unlock(s);
	else
		pthread_mutex_unlock(&s->lock);
	*result = json_object();
	return ERR_OK;
}

static int m_prompts_list(struct mcp_call *call, const json_t *params, json_t **result,
			  int *rpc_code, struct err *e)
{
	struct mcp_server *srv = call->s->srv;
	return list_page(srv, params, "prompts", srv->nprompts, prompt_item, result, rpc_code, e);
}

static struct prompt_row *find_prompt(struct mcp_server *srv, const char *name)
{
	for (size_t i = 0; name && i < srv->nprompts; i++)
		if (strcmp(srv->prompts[i].name, name) == 0)
			return &srv->prompts[i];
	return NULL;
}

static int m_prompts_get(struct mcp_call *call, const json_t *params, json_t **result,
			 int *rpc_code, struct err *e)
{
	const char *name = json_get_str(params, "name");
	if (!name)
		return invalid_params(rpc_code, e, "prompts/get needs params.name (a string)");
	struct prompt_row *p = find_prompt(call->s->srv, name);
	if (!p)
		return invalid_params(rpc_code, e,
				      "Unknown prompt: \"%s\"; call prompts/list for the available "
				      "prompts",
				      name);
	const json_t *args = json_object_get(params, "arguments");
	if (args && !json_is_null(args) && !json_is_object(args))
		return invalid_params(rpc_code, e, "prompts/get: arguments must be an object of strings");
	const char *key;
	const json_t *val;
	if (args && json_is_object(args)) {
		json_object_foreach((json_t *)args, key, val) {
			if (!json_is_string(val))
				return invalid_params(rpc_code, e,
						      "prompts/get %s: argument \"%s\" must be a "
						      "string, got %s",
						      name, key, json_type_name(val));
		}
	}
	for (size_t i = 0; i < p->nargs; i++) {
		if (p->args[i].required && !(args && json_object_get(args, p->args[i].name)))
			return invalid_params(rpc_code, e,
					      "prompts/get %s: missing required argument \"%s\"",
					      name, p->args[i].name);
	}
	json_t *empty = NULL;
	if (!args || !json_is_object(args))
		args = empty = json_object();
	call->data = p->data;
	json_t *r = NULL;
	int rc = p->get(call, args, &r, e);
	json_decref(empty);
	if (rc != ERR_OK) {
		json_decref(r);
		*rpc_code = jsonrpc_code_for_err(rc);
		return rc;
	}
	*result = r;
	return ERR_OK;
}

static int m_complete(struct mcp_call *call, const json_t *params, json_t **result,
		      int *rpc_code, struct err *e)
{
	struct mcp_server *srv = call->s->srv;
	const json_t *ref = params ? json_object_get(params, "ref") : NULL;
	const json_t *arg = params ? json_object_get(params, "argument") : NULL;
	const char *type = json_get_str(ref, "type");
	const char *aname = json_get_str(arg, "name");
	const char *avalue = json_get_str(arg, "value");
	if (!type || !aname || !avalue)
		return invalid_params(rpc_code, e,
				      "completion/complete needs params.ref.type and "
				      "params.argument {name, value}");
	mcp_complete_fn fn = NULL;
	void *data = NULL;
	if (strcmp(type, "ref/prompt") == 0) {
		struct prompt_row *p = find_prompt(srv, json_get_str(ref, "name"));
		if (!p)
			return invalid_params(rpc_code, e, "completion/complete: unknown prompt \"%s\"",
					      json_get_str(ref, "name") ? json_get_str(ref, "name") : "");
		fn = p->complete;
		data = p->data;
	} else if (strcmp(type, "ref/resource") == 0) {
		const char *uri = json_get_str(ref, "uri");
		const struct resource_row *t = NULL;
		for (size_t i = 0; uri && i < srv->ntemplates && !t; i++)
			if (strcmp(srv->templates[i].uri_template, uri) == 0)
				t = &srv->templates[i];
		if (!t)
			return invalid_params(rpc_code, e,
					      "completion/complete: unknown resource template \"%s\"",
					      uri ? uri : "");
		fn = t->complete;
		data = t->data;
	} else {
		return invalid_params(rpc_code, e,
				      "completion/complete: ref.type must be \"ref/prompt\" or "
				      "\"ref/resource\"");
	}
	json_t *values = NULL;
	if (fn) {
		const json_t *ctx = params ? json_object_get(params, "context") : NULL;
		call->data = data;
		int rc = fn(call, aname, avalue, ctx ? json_object_get(ctx, "arguments") : NULL,
			    &values, e);
		if (rc != ERR_OK) {
			json_decref(values);
			*rpc_code = jsonrpc_code_for_err(rc);
			return rc;
		}
	}
	if (!json_is_array(values)) {
		json_decref(values);
		values = json_array();
	}
	size_t total = json_array_size(values);
	while (json_array_size(values) > 100) /* the spec's cap per response */
		json_array_remove(values, json_array_size(values) - 1);
	*result = json_pack("{s:{s:o,s:I,s:b}}", "completion", "values", values, "total",
			    (json_int_t)total, "hasMore", total > 100);
	return ERR_OK;
}

static int m_set_level(struct mcp_call *call, const json_t *params, json_t **result,
		       int *rpc_code, struct err *e)
{
	enum mcp_log_level l;
	const char *name = json_get_str(params, "level");
	if (!name || mcp_log_level_parse(name, &l) != ERR_OK)
		return invalid_params(rpc_code, e,
				      "logging/setLevel: level must be one of debug, info, notice, "
				      "warning, error, critical, alert, emergency");
	pthread_mutex_lock(&call->s->lock);
	if (call->s->log_level != (int)l) {
		call->s->log_level = (int)l;
		state_changed_unlock(call->s);
	} else {
		pthread_mutex_unlock(&call->s->lock);
	}
	*result = json_object();
	return ERR_OK;
}

struct method_row {
	const char *name;
	method_fn fn;
	bool before_init;   /* allowed before initialize */
	bool changes_state; /* may change the durable state */
};

static const struct method_row methods[] = {
	{"initialize", m_initialize, true, true},
	{"ping", m_ping, true, false},
	{"tools/list", m_tools_list, false, false},
	{"tools/call", m_tools_call, false, false},
	{"resources/list", m_resources_list, false, false},
	{"resources/templates/list", m_templates_list, false, false},
	{"resources/read", m_resources_read, false, false},
	{"resources/subscribe", m_subscribe, false, true},
	{"resources/unsubscribe", m_unsubscribe, false, true},
	{"prompts/list", m_prompts_list, false, false},
	{"prompts/get", m_prompts_get, false, false},
	{"completion/complete", m_complete, false, false},
	{"logging/setLevel", m_set_level, false, true},
};

bool mcp_method_changes_state(const char *method)
{
	for (size_t i = 0; method && i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(methods[i].name, method) == 0)
			return methods[i].changes_state;
	return false;
}

bool mcp_server_call_is_quick(const struct mcp_server *srv, const struct jsonrpc_msg *m)
{
	if (!srv || m->kind != JSONRPC_REQUEST || !m->method || strcmp(m->method, "tools/call") != 0)
		return false;
	const char *name = json_string_value(json_object_get(m->params, "name"));
	for (size_t i = 0; name && i < srv->ntools; i++)
		if (strcmp(srv->tools[i].name, name) == 0)
			return srv->tools[i].quick;
	return false;
}

/* ---- Observing ------------------------------------------------------------ */

#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

const char *const mcp_outcome_names[MCP_OUTCOME__COUNT] = {
	"ok",        "tool_error",     "invalid_params", "method_not_found", "invalid_request",
	"not_found", "internal_error", "error",          "cancelled",
};

static const char *method_names[NMETHODS + 1];
static pthread_once_t method_names_once = PTHREAD_ONCE_INIT;

static void fill_method_names(void)
{
	for (size_t i = 0; i < NMETHODS; i++)
		method_names[i] = methods[i].name;
	method_names[NMETHODS] = "other";
}

const char *const *mcp_method_names(size_t *count)
{
	pthread_once(&method_names_once, fill_method_names);
	if (count)
		*count = NMETHODS + 1;
	return method_names;
}

void mcp_server_set_observer(struct mcp_server *srv, mcp_observer_fn fn, void *data)
{
	srv->observer = fn;
	srv->observer_data = data;
}

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static enum mcp_outcome outcome_of(int rpc_code)
{
	switch (rpc_code) {
	case 0:
		return MCP_OUTCOME_OK;
	case JSONRPC_INVALID_PARAMS:
		return MCP_OUTCOME_INVALID_PARAMS;
	case JSONRPC_METHOD_NOT_FOUND:
		return MCP_OUTCOME_METHOD_NOT_FOUND;
	case JSONRPC_INVALID_REQUEST:
		return MCP_OUTCOME_INVALID_REQUEST;
	case JSONRPC_INTERNAL_ERROR:
		return MCP_OUTCOME_INTERNAL_ERROR;
	case MCP_RESOURCE_NOT_FOUND:
		return MCP_OUTCOME_NOT_FOUND;
	default:
		return MCP_OUTCOME_ERROR;
	}
}

/* Tell the observer about a request dispatched at t0 (µs). */
static void observe(struct mcp_session *s, const struct method_row *row, int rpc_code,
		    enum mcp_outcome outcome, const char *tool, long long t0)
{
	struct mcp_server *srv = s->srv;
	if (!srv->observer)
		return;
	size_t i = row ? (size_t)(row - methods) : NMETHODS;
	struct mcp_request_info info = {
		.method = i,
		.method_name = mcp_method_names(NULL)[i],
		.outcome = outcome,
		.rpc_code = rpc_code,
		.tool = tool,
		.duration_us = now_us() - t0,
	};
	srv->observer(srv->observer_data, &info);
}

/* ---- Dispatch -------------------------------------------------------------- */

static void handle_request(struct mcp_session *s, struct jsonrpc_msg *m,
			   const struct mcp_sink *reply)
{
	long long t0 = s->srv->observer ? now_us() : 0;
	const struct method_row *row = NULL;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]) && !row; i++)
		if (strcmp(methods[i].name, m->method) == 0)
			row = &methods[i];
	if (!row) {
		char msg[300];
		snprintf(msg, sizeof(msg), "Method not found: %.200s", m->method);
		sink_send_final(s, reply,
				jsonrpc_error_text(m->id, JSONRPC_METHOD_NOT_FOUND, msg, NULL));
		observe(s, NULL, JSONRPC_METHOD_NOT_FOUND, MCP_OUTCOME_METHOD_NOT_FOUND, NULL, t0);
		return;
	}
	if (!row->before_init && !s->initialized) {
		sink_send_final(s, reply,
				jsonrpc_error_text(m->id, JSONRPC_INVALID_REQUEST,
						   "Session not initialized: send initialize first",
						   NULL));
		observe(s, row, JSONRPC_INVALID_REQUEST, MCP_OUTCOME_INVALID_REQUEST, NULL, t0);
		return;
	}

	struct inflight inf = {.id = m->id};
	pthread_mutex_lock(&s->lock);
	inf.next = s->inflight;
	s->inflight = &inf;
	pthread_mutex_unlock(&s->lock);

	const json_t *meta = m->params ? json_object_get(m->params, "_meta") : NULL;
	struct mcp_call call = {
		.s = s,
		.reply = reply,
		.id = m->id,
		.meta = json_is_object(meta) ? meta : NULL,
		.progress_token =
			json_is_object(meta) ? json_object_get(meta, "progressToken") : NULL,
		.inf = &inf,
	};
	if (call.progress_token && !json_is_string(call.progress_token) &&
	    !json_is_integer(call.progress_token))
		call.progress_token = NULL;

	json_t *result = NULL;
	int rpc_code = JSONRPC_INTERNAL_ERROR;
	struct err e;
	err_clear(&e);
	int rc = row->fn(&call, m->params, &result, &rpc_code, &e);

	pthread_mutex_lock(&s->lock);
	for (struct inflight **pp = &s->inflight; *pp; pp = &(*pp)->next) {
		if (*pp == &inf) {
			*pp = inf.next;
			break;
		}
	}
	bool cancelled = inf.cancelled;
	pthread_mutex_unlock(&s->lock);

	if (cancelled) {
		json_decref(result);
		free(call.result_text);
		observe(s, row, 0, MCP_OUTCOME_CANCELLED, call.tool, t0);
		return; /* the client no longer wants an answer */
	}
	bool tool_error = rc == ERR_OK && row->fn == m_tools_call &&
			  json_is_true(json_object_get(result, "isError"));
	if (rc == ERR_OK && call.result_text)
		sink_send_final(s, reply, jsonrpc_result_raw_text(m->id, call.result_text));
	else if (rc == ERR_OK)
		sink_send_final(s, reply, jsonrpc_result_text(m->id, result));
	else
		sink_send_final(s, reply, jsonrpc_error_text(m->id, rpc_code, err_msg(&e), NULL));
	json_decref(result);
	free(call.result_text);
	if (rc != ERR_OK)
		observe(s, row, rpc_code, outcome_of(rpc_code), call.tool, t0);
	else
		observe(s, row, 0, tool_error ? MCP_OUTCOME_TOOL_ERROR : MCP_OUTCOME_OK, call.tool,
			t0);
}

static void handle_notification(struct mcp_session *s, struct jsonrpc_msg *m)
{
	if (strcmp(m->method, "notifications/cancelled") == 0) {
		const json_t *rid = m->params ? json_object_get(m->params, "requestId") : NULL;
		if (!rid)
			return;
		pthread_mutex_lock(&s->lock);
		for (struct inflight *i = s->inflight; i; i = i->next)
			if (jsonrpc_id_equal(i->id, rid))
				i->cancelled = true;
		pthread_mutex_unlock(&s->lock);
	} else if (strcmp(m->method, "notifications/initialized") == 0) {
		pthread_mutex_lock(&s->lock);
		s->initialized = s->initialized || s->handshaken;
		pthread_mutex_unlock(&s->lock);
	}
	/* Others (progress, roots/list_changed, ...) need no action here. */
}

static int handle_response(struct mcp_session *s, struct jsonrpc_msg *m, struct err *e)
{
	if (!json_is_integer(m->id))
		return err_set(e, ERR_NOT_FOUND, "response to an unknown request id");
	long long id = json_integer_value(m->id);
	pthread_mutex_lock(&s->lock);
	struct pending *p = s->pending;
	while (p && p->id != id)
		p = p->next;
	if (!p || p->done) {
		pthread_mutex_unlock(&s->lock);
		return err_set(e, ERR_NOT_FOUND, "response to request %lld, which nobody awaits", id);
	}
	p->done = true;
	if (m->kind == JSONRPC_RESULT) {
		/* A copy: jansson reference counts are not safe to share
		 * across threads (the message is freed on this one). */
		p->result = json_deep_copy(m->result);
	} else {
		p->error_code = m->error_code;
		p->error_message = xstrdup(m->error_message ? m->error_message : "");
	}
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&s->lock);
	return ERR_OK;
}

int mcp_session_handle_msg(struct mcp_session *s, struct jsonrpc_msg *msg,
			   const struct mcp_sink *reply, struct err *e)
{
	int rc = ERR_OK;
	switch (msg->kind) {
	case JSONRPC_REQUEST:
		handle_request(s, msg, reply);
		break;
	case JSONRPC_NOTIFICATION:
		handle_notification(s, msg);
		break;
	case JSONRPC_RESULT:
	case JSONRPC_ERROR:
		rc = handle_response(s, msg, e);
		break;
	}
	jsonrpc_msg_cleanup(msg);
	return rc;
}

int mcp_session_handle_text(struct mcp_session *s, const char *text, size_t len, size_t max_len,
			    const struct mcp_sink *reply, struct err *e)
{
	struct jsonrpc_msg m;
	int code = 0;
	json_t *bad_id = NULL;
	struct err pe;
	err_clear(&pe);
	if (jsonrpc_parse(text, len, max_len, &m, &code, &bad_id, &pe) != ERR_OK) {
		sink_send_final(s, reply, jsonrpc_error_text(bad_id, code, err_msg(&pe), NULL));
		json_decref(bad_id);
		if (e)
			*e = pe;
		return pe.code ? pe.code : ERR_INVALID;
	}
	return mcp_session_handle_msg(s, &m, reply, e);
}
