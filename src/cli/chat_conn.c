/*
 * chat_conn.c - the MCP connection of `ambient chat` (see chat_conn.h):
 * targets tried in order, reconnects, subscriptions renewed.
 */
#define _GNU_SOURCE
#include "chat_conn.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "mcp/client.h"
#include "transport/http_client.h"
#include "transport/stdio_client.h"

#define SETSID "/usr/bin/setsid"
#define HTTP_CONNECT_TIMEOUT_MS 3000
#define TARGETS_MAX 64

enum target_kind { T_HTTP, T_STDIO, T_SELF };

struct target {
	enum target_kind kind;
	char *url;   /* T_HTTP */
	char **argv; /* T_STDIO, T_SELF: NULL-terminated, setsid first when there */
	char *what;  /* for messages */
};

struct chat_conn {
	struct target targets[TARGETS_MAX];
	size_t ntargets;
	char *api_key, *stderr_log;
	int connect_timeout_ms, request_timeout_ms;
	void (*on_notice)(void *ud, const char *text);
	void (*on_resource_updated)(void *ud, const char *uri);
	void (*on_tools_changed)(void *ud);
	void *ud;

	pthread_rwlock_t lk; /* readers use c; a reconnect swaps it */
	pthread_mutex_t mu;  /* the fields below */
	struct mcp_client *c;
	unsigned long gen;
	atomic_bool gone;  /* the transport said the peer is gone */
	bool down_noticed; /* "cannot reconnect" was said */
	char desc[600], server[200];
	char *instructions;
	bool can_subscribe;
	json_t *subs; /* URIs to keep subscribed */
	json_t *safe; /* tool name -> true when read-only or idempotent */
};

/* ---- targets ------------------------------------------------------------------------- */

static char **argv_copy(const char *const *argv, const char *const *prefix)
{
	size_t n = 0, np = 0;
	while (prefix && prefix[np])
		np++;
	while (argv[n])
		n++;
	char **out = xcalloc(np + n + 1, sizeof *out);
	for (size_t i = 0; i < np; i++)
		out[i] = xstrdup(prefix[i]);
	for (size_t i = 0; i < n; i++)
		out[np + i] = xstrdup(argv[i]);
	return out;
}

static void argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

static void add_http(struct chat_conn *cn, const char *url)
{
	if (cn->ntargets >= TARGETS_MAX)
		return;
	struct target *t = &cn->targets[cn->ntargets++];
	t->kind = T_HTTP;
	t->url = xstrdup(url);
	t->what = xasprintf("%s (Streamable HTTP)", url);
}

static void add_spawn(struct chat_conn *cn, enum target_kind kind, const char *const *argv,
		      const char *what)
{
	static const char *const setsid[] = {SETSID, NULL};
	if (cn->ntargets >= TARGETS_MAX)
		return;
	struct target *t = &cn->targets[cn->ntargets++];
	t->kind = kind;
	t->argv = argv_copy(argv, access(SETSID, X_OK) == 0 ? setsid : NULL);
	t->what = xstrdup(what);
}

/* ---- callbacks --------------------------------------------------------------------- */

static bool is_current(struct chat_conn *cn, struct mcp_client *c)
{
	pthread_mutex_lock(&cn->mu);
	bool cur = cn->c == c;
	pthread_mutex_unlock(&cn->mu);
	return cur;
}

static void notice(struct chat_conn *cn, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void notice(struct chat_conn *cn, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (cn->on_notice)
		cn->on_notice(cn->ud, text);
	else
		log_info("chat: %s", text);
}

static void on_notification(void *data, struct mcp_client *c, const char *method,
			    const json_t *params)
{
	struct chat_conn *cn = data;
	if (!is_current(cn, c))
		return;
	if (strcmp(method, "notifications/resources/updated") == 0) {
		const char *uri = json_get_str(params, "uri");
		if (uri && cn->on_resource_updated)
			cn->on_resource_updated(cn->ud, uri);
	} else if (strcmp(method, "notifications/tools/list_changed") == 0) {
		if (cn->on_tools_changed)
			cn->on_tools_changed(cn->ud);
	} else if (strcmp(method, "notifications/message") == 0) {
		char *d =
			json_dumps(json_object_get(params, "data"), JSON_COMPACT | JSON_ENCODE_ANY);
		log_debug("chat: server log (%s): %s", json_get_str(params, "level"), d ? d : "");
		free(d);
	}
}

static void on_closed(void *data, struct mcp_client *c, const char *why)
{
	struct chat_conn *cn = data;
	if (!is_current(cn, c))
		return;
	atomic_store(&cn->gone, true);
	notice(cn, "the MCP server went away (%s); reconnecting on the next use", why ? why : "");
}

/* ---- connecting -------------------------------------------------------------------- */

static int connect_target(struct chat_conn *cn, const struct target *t, struct mcp_client **out,
			  struct err *e)
{
	struct mcp_client_transport *tr = NULL;
	int rc;

	*out = NULL;
	if (t->kind == T_HTTP) {
		struct http_client_options ho = {0};
		ho.url = t->url;
		ho.bearer_token = cn->api_key;
		ho.connect_timeout_ms = HTTP_CONNECT_TIMEOUT_MS;
		rc = http_client_new(&ho, &tr, e);
	} else {
		struct stdio_client_options so = {0};
		so.argv = (const char *const *)t->argv;
		so.stderr_path = cn->stderr_log;
		so.stderr_null = !cn->stderr_log;
		rc = stdio_client_new(&so, &tr, e);
	}
	if (rc)
		return rc;
	struct mcp_client_options co = {0};
	co.name = "ambient-chat";
	co.title = "ambient chat";
	co.connect_timeout_ms = cn->connect_timeout_ms;
	co.request_timeout_ms = cn->request_timeout_ms;
	co.on_notification = on_notification;
	co.on_closed = on_closed;
	co.data = cn;
	struct mcp_client *c = mcp_client_new(tr, &co);
	if ((rc = mcp_client_connect(c, e))) {
		mcp_client_free(c);
		return rc;
	}
	*out = c;
	return ERR_OK;
}

/* Subscribe c to every wanted URI (the server supports it). */
static void subscribe_all(struct chat_conn *cn, struct mcp_client *c)
{
	size_t i;
	json_t *u;
	json_array_foreach(cn->subs, i, u) {
		struct err e = {0};
		if (mcp_client_subscribe(c, json_string_value(u), &e))
			log_warn("chat: cannot subscribe to %s: %s", json_string_value(u),
				 err_msg(&e));
	}
}

/* Try the targets in order; on success the new client is current.  lk is
 * held for writing (or there are no other threads yet). */
static int connect_any(struct chat_conn *cn, struct err *e)
{
	struct buf why;
	int code = ERR_IO;
	buf_init(&why, 8192);
	for (size_t i = 0; i < cn->ntargets; i++) {
		struct target *t = &cn->targets[i];
		struct mcp_client *c = NULL;
		struct err te = {0};
		if (connect_target(cn, t, &c, &te)) {
			log_info("chat: %s: %s", t->what, err_msg(&te));
			buf_printf(&why, "%s%s: %s", why.len ? "; " : "", t->what, err_msg(&te));
			if (te.code == ERR_PERM)
				code = ERR_PERM; /* the key is what to fix */
			continue;
		}
		const json_t *info = mcp_client_server_info(c);
		const json_t *caps = mcp_client_server_capabilities(c);
		const char *ins = mcp_client_instructions(c);
		pthread_mutex_lock(&cn->mu);
		cn->c = c;
		cn->gen++;
		atomic_store(&cn->gone, false);
		snprintf(cn->desc, sizeof cn->desc, "%s", t->what);
		snprintf(cn->server, sizeof cn->server, "%s %s",
			 json_get_str(info, "name") ? json_get_str(info, "name") : "an MCP server",
			 json_get_str(info, "version") ? json_get_str(info, "version") : "");
		free(cn->instructions);
		cn->instructions = ins ? xstrdup(ins) : NULL;
		cn->can_subscribe = json_is_true(
			json_object_get(json_object_get(caps, "resources"), "subscribe"));
		bool sub = cn->can_subscribe;
		pthread_mutex_unlock(&cn->mu);
		if (sub)
			subscribe_all(cn, c);
		buf_cleanup(&why);
		return ERR_OK;
	}
	int rc = err_set(e, code, "%s: %s",
			 code == ERR_PERM ? "the MCP server refused this chat"
					  : "cannot reach an MCP server",
			 buf_str(&why));
	buf_cleanup(&why);
	return rc;
}

/* Reconnect unless someone did since generation `gen`. */
static int reconnect(struct chat_conn *cn, unsigned long gen, struct err *e)
{
	int rc = ERR_OK;
	pthread_rwlock_wrlock(&cn->lk);
	pthread_mutex_lock(&cn->mu);
	bool fresh = cn->gen != gen && cn->c && !atomic_load(&cn->gone);
	struct mcp_client *old = fresh ? NULL : cn->c;
	if (!fresh)
		cn->c = NULL;
	pthread_mutex_unlock(&cn->mu);
	if (!fresh) {
		mcp_client_free(old);
		rc = connect_any(cn, e);
		pthread_mutex_lock(&cn->mu);
		bool said = cn->down_noticed;
		cn->down_noticed = rc != ERR_OK;
		pthread_mutex_unlock(&cn->mu);
		if (!rc)
			notice(cn, "reconnected to %s", cn->desc);
		else if (!said)
			notice(cn, "%s; will try again", err_msg(e));
	}
	pthread_rwlock_unlock(&cn->lk);
	if (!fresh && !rc && cn->on_tools_changed)
		cn->on_tools_changed(cn->ud);
	return rc;
}

int chat_conn_open(const struct chat_conn_options *o, struct chat_conn **out, struct err *e)
{
	struct chat_conn *cn = xcalloc(1, sizeof *cn);
	*out = NULL;
	if (o->stdio_cmd) {
		const char *const argv[] = {"/bin/sh", "-c", o->stdio_cmd, NULL};
		char *what = xasprintf("`%s` over stdio", o->stdio_cmd);
		add_spawn(cn, T_STDIO, argv, what);
		free(what);
	} else if (o->nurls) {
		for (size_t i = 0; i < o->nurls; i++)
			add_http(cn, o->urls[i]);
	} else {
		add_http(cn, CHAT_CONN_DEFAULT_URL_LB);
		add_http(cn, CHAT_CONN_DEFAULT_URL_DIRECT);
		if (o->self_argv)
			add_spawn(cn, T_SELF, o->self_argv,
				  "`ambient mcp` over stdio (started by this chat)");
	}
	cn->api_key = o->api_key && *o->api_key ? xstrdup(o->api_key) : NULL;
	cn->stderr_log = o->stderr_log ? xstrdup(o->stderr_log) : NULL;
	cn->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000;
	cn->request_timeout_ms = o->request_timeout_ms > 0 ? o->request_timeout_ms : 120000;
	cn->on_notice = o->on_notice;
	cn->on_resource_updated = o->on_resource_updated;
	cn->on_tools_changed = o->on_tools_changed;
	cn->ud = o->ud;
	cn->subs = json_array();
	cn->safe = json_object();
	pthread_rwlock_init(&cn->lk, NULL);
	pthread_mutex_init(&cn->mu, NULL);
	cn->down_noticed = true; /* the first failure is the caller's to report */
	int rc = connect_any(cn, e);
	if (rc) {
		chat_conn_close(cn);
		return rc;
	}
	cn->down_noticed = false;
	*out = cn;
	return ERR_OK;
}

void chat_conn_close(struct chat_conn *cn)
{
	if (!cn)
		return;
	pthread_mutex_lock(&cn->mu);
	struct mcp_client *c = cn->c;
	cn->c = NULL;
	pthread_mutex_unlock(&cn->mu);
	mcp_client_free(c);
	for (size_t i = 0; i < cn->ntargets; i++) {
		free(cn->targets[i].url);
		argv_free(cn->targets[i].argv);
		free(cn->targets[i].what);
	}
	pthread_rwlock_destroy(&cn->lk);
	pthread_mutex_destroy(&cn->mu);
	free(cn->api_key);
	free(cn->stderr_log);
	free(cn->instructions);
	json_decref(cn->subs);
	json_decref(cn->safe);
	free(cn);
}

void chat_conn_describe(struct chat_conn *cn, char *out, size_t size)
{
	pthread_mutex_lock(&cn->mu);
	snprintf(out, size, "%s", cn->desc);
	pthread_mutex_unlock(&cn->mu);
}

void chat_conn_server_name(struct chat_conn *cn, char *out, size_t size)
{
	pthread_mutex_lock(&cn->mu);
	snprintf(out, size, "%s", cn->server);
	pthread_mutex_unlock(&cn->mu);
}

char *chat_conn_instructions(struct chat_conn *cn)
{
	pthread_mutex_lock(&cn->mu);
	char *s = cn->instructions ? xstrdup(cn->instructions) : NULL;
	pthread_mutex_unlock(&cn->mu);
	return s;
}

bool chat_conn_up(struct chat_conn *cn)
{
	pthread_mutex_lock(&cn->mu);
	bool up = cn->c && !atomic_load(&cn->gone);
	pthread_mutex_unlock(&cn->mu);
	return up;
}

/* ---- requests ---------------------------------------------------------------------- */

typedef int (*op_fn)(struct mcp_client *c, void *arg, struct err *e);

/* Run op on the current client; reconnect when the connection is gone and
 * run it again when that is safe (see chat_conn.h). */
static int with_client(struct chat_conn *cn, op_fn op, void *arg, bool retry_safe, struct err *e)
{
	int rc = ERR_OK;
	for (int attempt = 0; attempt < 2; attempt++) {
		pthread_rwlock_rdlock(&cn->lk);
		pthread_mutex_lock(&cn->mu);
		struct mcp_client *c = cn->c;
		unsigned long gen = cn->gen;
		bool dead = !c || atomic_load(&cn->gone);
		pthread_mutex_unlock(&cn->mu);
		if (!dead)
			rc = op(c, arg, e);
		pthread_rwlock_unlock(&cn->lk);
		if (!dead && rc != ERR_IO && rc != ERR_STATE)
			return rc;
		if (attempt)
			return rc;
		struct err re = {0};
		bool expired = !dead && rc == ERR_STATE;
		char first[ERR_MSG_MAX];
		snprintf(first, sizeof first, "%s", dead ? "not connected" : err_msg(e));
		if (reconnect(cn, gen, &re))
			return err_set(e, ERR_IO, "%s; %s", first, err_msg(&re));
		if (!dead && !expired && !retry_safe) {
			char desc[600];
			chat_conn_describe(cn, desc, sizeof desc);
			return err_set(
				e, ERR_IO,
				"the connection was lost during the call (%s); reconnected to "
				"%s, but the call was not repeated: it may or may not have "
				"run (check with `tasks`)",
				first, desc);
		}
	}
	return rc;
}

struct call_args {
	const char *name;
	const json_t *args;
	json_t **result;
	int timeout_ms;
	const char *uri;
	char **text;
	json_t **list;
};

static int op_list_tools(struct mcp_client *c, void *arg, struct err *e)
{
	struct call_args *a = arg;
	return mcp_client_list_tools(c, a->list, e);
}

int chat_conn_list_tools(struct chat_conn *cn, json_t **tools, struct err *e)
{
	struct call_args a = {.list = tools};
	*tools = NULL;
	int rc = with_client(cn, op_list_tools, &a, true, e);
	if (rc)
		return rc;
	size_t i;
	json_t *t;
	pthread_mutex_lock(&cn->mu);
	json_object_clear(cn->safe);
	json_array_foreach(*tools, i, t) {
		json_t *ann = json_object_get(t, "annotations");
		const char *name = json_get_str(t, "name");
		if (name && (json_is_true(json_object_get(ann, "readOnlyHint")) ||
			     json_is_true(json_object_get(ann, "idempotentHint"))))
			json_object_set_new(cn->safe, name, json_true());
	}
	pthread_mutex_unlock(&cn->mu);
	return ERR_OK;
}

static int op_call_tool(struct mcp_client *c, void *arg, struct err *e)
{
	struct call_args *a = arg;
	return mcp_client_call_tool(c, a->name, a->args, a->timeout_ms, a->result, e);
}

int chat_conn_call_tool(struct chat_conn *cn, const char *name, const json_t *args, json_t **result,
			struct err *e)
{
	struct call_args a = {.name = name, .args = args, .result = result};
	*result = NULL;
	pthread_mutex_lock(&cn->mu);
	bool safe = json_is_true(json_object_get(cn->safe, name));
	pthread_mutex_unlock(&cn->mu);
	return with_client(cn, op_call_tool, &a, safe, e);
}

static int op_read(struct mcp_client *c, void *arg, struct err *e)
{
	struct call_args *a = arg;
	json_t *r = NULL;
	int rc = mcp_client_read_resource(c, a->uri, &r, e);
	if (rc)
		return rc;
	json_t *first = json_array_get(json_object_get(r, "contents"), 0);
	const char *t = json_get_str(first, "text");
	if (!t) {
		json_decref(r);
		return err_set(e, ERR_INVALID, "the resource %s has no text", a->uri);
	}
	*a->text = xstrdup(t);
	json_decref(r);
	return ERR_OK;
}

int chat_conn_read_resource(struct chat_conn *cn, const char *uri, char **text, struct err *e)
{
	struct call_args a = {.uri = uri, .text = text};
	*text = NULL;
	return with_client(cn, op_read, &a, true, e);
}

static int op_list_resources(struct mcp_client *c, void *arg, struct err *e)
{
	struct call_args *a = arg;
	return mcp_client_list_resources(c, a->list, e);
}

int chat_conn_list_resources(struct chat_conn *cn, json_t **resources, struct err *e)
{
	struct call_args a = {.list = resources};
	*resources = NULL;
	return with_client(cn, op_list_resources, &a, true, e);
}

bool chat_conn_subscribe(struct chat_conn *cn, const char *uri)
{
	pthread_rwlock_rdlock(&cn->lk);
	pthread_mutex_lock(&cn->mu);
	json_array_append_new(cn->subs, json_string(uri));
	bool can = cn->can_subscribe;
	struct mcp_client *c = cn->c;
	pthread_mutex_unlock(&cn->mu);
	if (can && c) {
		struct err e = {0};
		if (mcp_client_subscribe(c, uri, &e)) {
			log_warn("chat: cannot subscribe to %s: %s", uri, err_msg(&e));
			can = false;
		}
	}
	pthread_rwlock_unlock(&cn->lk);
	return can;
}

static int op_ping(struct mcp_client *c, void *arg, struct err *e)
{
	struct call_args *a = arg;
	return mcp_client_ping(c, a->timeout_ms, e);
}

void chat_conn_check(struct chat_conn *cn, int timeout_ms)
{
	struct call_args a = {.timeout_ms = timeout_ms};
	struct err e = {0};
	with_client(cn, op_ping, &a, true, &e);
}
