/*
 * test_mcp_sessions.c - MCP sessions shared by several nodes:
 *  - the MCP library's durable session state: export, import (and what it
 *    refuses), the hooks (changed, refresh) and request numbering;
 *  - the directory on the store's soft state (src/app/mcp_sessions.c):
 *    save, load, update of a removed session, no secrets, touch and idle
 *    expiry with a fake clock, handed-over replies;
 *  - two HTTP servers (two "nodes", each with its own mcp_server and store
 *    handle on one SQLite file) with that directory: a session begun on one
 *    is used on the other, a subscription made through one reaches the GET
 *    stream held by the other, an elicitation answer posted to the other
 *    node reaches the waiting tool, another key is refused, and a DELETE
 *    through one ends the session (and its GET stream) on both.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "../test_util.h"
#include "app/auth.h"
#include "app/mcp_sessions.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "mcp/server.h"
#include "store/store.h"
#include "transport/http_server.h"

/* ---- A small server ---------------------------------------------------- */

static int t_echo(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)call, (void)e;
	const char *t = json_get_str(args, "text");
	*result = mcp_result_text(t ? t : "");
	return 0;
}

/* Asks the client for a name (elicitation) and returns it. */
static int t_ask(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)args;
	json_t *p =
		json_pack("{s:s,s:{s:s,s:{s:{s:s}}}}", "message", "Your name?", "requestedSchema",
			  "type", "object", "properties", "name", "type", "string");
	json_t *r = NULL;
	int rc = mcp_call_request(call, "elicitation/create", p, 10000, &r, e);
	json_decref(p);
	if (rc)
		return rc;
	const char *name = json_get_str(json_object_get(r, "content"), "name");
	*result = mcp_result_text(name ? name : "?");
	json_decref(r);
	return 0;
}

static int r_read(struct mcp_call *call, const char *uri, const json_t *vars, json_t **contents,
		  struct err *e)
{
	(void)call, (void)vars, (void)e;
	*contents = json_pack("[{s:s,s:s}]", "uri", uri, "text", "x");
	return 0;
}

static struct mcp_server *make_server(void)
{
	struct mcp_server_options so = {.name = "t", .version = "1"};
	struct mcp_server *srv = mcp_server_new(&so);
	struct err e = {0};
	struct mcp_tool echo = {.name = "echo",
				.description = "echo",
				.input_schema = "{\"type\":\"object\",\"properties\":{\"text\":"
						"{\"type\":\"string\"}}}",
				.fn = t_echo};
	struct mcp_tool ask = {.name = "ask", .description = "ask", .fn = t_ask};
	struct mcp_resource a = {.uri = "test://a", .name = "a", .read = r_read};
	struct mcp_resource t = {.uri_template = "test://t/{id}", .name = "t", .read = r_read};
	assert_int_equal(mcp_server_add_tool(srv, &echo, &e), 0);
	assert_int_equal(mcp_server_add_tool(srv, &ask, &e), 0);
	assert_int_equal(mcp_server_add_resource(srv, &a, &e), 0);
	assert_int_equal(mcp_server_add_resource(srv, &t, &e), 0);
	return srv;
}

/* A sink that keeps what it is sent. */
struct capture {
	pthread_mutex_t mu;
	json_t *msgs;
};

static int cap_send(void *ctx, const char *msg, size_t len)
{
	struct capture *c = ctx;
	json_t *j = json_loadb(msg, len, 0, NULL);
	pthread_mutex_lock(&c->mu);
	json_array_append_new(c->msgs, j ? j : json_null());
	pthread_mutex_unlock(&c->mu);
	return 0;
}

static void cap_init(struct capture *c, struct mcp_sink *sink)
{
	pthread_mutex_init(&c->mu, NULL);
	c->msgs = json_array();
	*sink = (struct mcp_sink){.send = cap_send, .ctx = c};
}

static void cap_cleanup(struct capture *c)
{
	json_decref(c->msgs);
	pthread_mutex_destroy(&c->mu);
}

static size_t cap_count(struct capture *c, const char *method)
{
	size_t n = 0, i;
	json_t *m;
	pthread_mutex_lock(&c->mu);
	json_array_foreach(c->msgs, i, m) {
		const char *mm = json_get_str(m, "method");
		n += mm && strcmp(mm, method) == 0;
	}
	pthread_mutex_unlock(&c->mu);
	return n;
}

/* The last message of the capture (new reference). */
static json_t *cap_last(struct capture *c)
{
	pthread_mutex_lock(&c->mu);
	json_t *m = json_incref(json_array_get(c->msgs, json_array_size(c->msgs) - 1));
	pthread_mutex_unlock(&c->mu);
	return m;
}

static void rpc(struct mcp_session *s, const char *text, struct mcp_sink *reply)
{
	mcp_session_handle_text(s, text, strlen(text), 1 << 20, reply, NULL);
}

#define INIT                                                                                       \
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":" \
	"\"2025-06-18\",\"capabilities\":{\"elicitation\":{}},\"clientInfo\":{\"name\":\"tc\","    \
	"\"version\":\"9\"}}}"
#define SUB(uri)                                                                                   \
	"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/"                                    \
	"subscribe\",\"params\":{\"uri\":\"" uri "\"}}"
#define UNSUB(uri)                                                                                 \
	"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/"                                    \
	"unsubscribe\",\"params\":{\"uri\":\"" uri "\"}}"
#define SETLEVEL(l)                                                                                \
	"{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"" l \
	"\"}}"

/* ---- Export and import -------------------------------------------------------- */

static void test_export_import(void **state)
{
	(void)state;
	struct mcp_server *a = make_server(), *b = make_server();
	struct capture rc, oc;
	struct mcp_sink reply, out;
	cap_init(&rc, &reply);
	cap_init(&oc, &out);
	struct mcp_session *s = mcp_session_new(a, NULL);

	json_t *st = mcp_session_export(s);
	assert_false(json_is_true(json_object_get(st, "initialized")));
	assert_int_equal(json_array_size(json_object_get(st, "subscriptions")), 0);
	json_decref(st);

	rpc(s, INIT, &reply);
	rpc(s, SUB("test://a"), &reply);
	rpc(s, SUB("test://t/1"), &reply);
	rpc(s, SETLEVEL("warning"), &reply);
	st = mcp_session_export(s);
	assert_true(json_is_true(json_object_get(st, "initialized")));
	assert_string_equal(json_get_str(st, "protocolVersion"), "2025-06-18");
	assert_non_null(json_object_get(json_object_get(st, "clientCapabilities"), "elicitation"));
	assert_string_equal(json_get_str(json_object_get(st, "clientInfo"), "name"), "tc");
	assert_string_equal(json_get_str(st, "logLevel"), "warning");
	assert_int_equal(json_array_size(json_object_get(st, "subscriptions")), 2);
	assert_int_equal(json_get_int(st, "rev", 0), 4); /* initialize, 2 subscribes, level */

	/* Another "node" goes on with it. */
	struct mcp_session *t = mcp_session_new(b, &out);
	struct err e = {0};
	assert_int_equal(mcp_session_import(t, st, &e), 0);
	assert_true(mcp_session_initialized(t));
	assert_string_equal(mcp_session_protocol_version(t), "2025-06-18");
	assert_int_equal(mcp_session_rev(t), 4);
	assert_non_null(json_object_get(mcp_session_client_capabilities(t), "elicitation"));
	json_t *again = mcp_session_export(t);
	assert_true(json_equal(again, st));
	json_decref(again);
	/* no handshake needed, and none allowed */
	rpc(t, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/list\"}", &reply);
	json_t *last = cap_last(&rc);
	assert_non_null(json_object_get(json_object_get(last, "result"), "tools"));
	json_decref(last);
	rpc(t, INIT, &reply);
	last = cap_last(&rc);
	assert_non_null(json_object_get(last, "error"));
	json_decref(last);
	/* its subscriptions are live there */
	mcp_server_resource_updated(b, "test://t/1");
	mcp_server_resource_updated(b, "test://other");
	assert_int_equal(cap_count(&oc, "notifications/resources/updated"), 1);

	/* Importing the same state again keeps borrowed pointers valid. */
	const json_t *caps = mcp_session_client_capabilities(t);
	assert_int_equal(mcp_session_import(t, st, &e), 0);
	assert_ptr_equal(mcp_session_client_capabilities(t), caps);
	json_decref(st);

	mcp_session_unref(s);
	mcp_session_unref(t);
	mcp_server_free(a);
	mcp_server_free(b);
	cap_cleanup(&rc);
	cap_cleanup(&oc);
}

static void test_import_refuses(void **state)
{
	(void)state;
	struct mcp_server *srv = make_server();
	struct mcp_session *s = mcp_session_new(srv, NULL);
	struct err e = {0};
	static const char *const bad[] = {
		"[]",
		"{\"initialized\":true}",
		"{\"initialized\":\"yes\",\"protocolVersion\":\"2025-11-25\"}",
		"{\"initialized\":true,\"protocolVersion\":\"1999-01-01\"}",
		"{\"initialized\":true,\"protocolVersion\":\"2025-11-25\",\"logLevel\":\"loud\"}",
		"{\"initialized\":true,\"protocolVersion\":\"2025-11-25\",\"subscriptions\":[1]}",
		"{\"initialized\":true,\"protocolVersion\":\"2025-11-25\",\"subscriptions\":{}}",
		"{\"initialized\":true,\"protocolVersion\":\"2025-11-25\",\"clientInfo\":\"x\"}",
		"{\"rev\":-1}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *j = json_loads(bad[i], 0, NULL);
		assert_non_null(j);
		err_clear(&e);
		assert_int_equal(mcp_session_import(s, j, &e), ERR_INVALID);
		assert_true(strlen(err_msg(&e)) > 0);
		json_decref(j);
		assert_false(mcp_session_initialized(s)); /* unchanged */
	}
	assert_int_equal(mcp_session_import(s, NULL, &e), ERR_INVALID);
	mcp_session_unref(s);
	mcp_server_free(srv);
}

/* ---- Hooks --------------------------------------------------------------------- */

struct hook_log {
	int changed;
	int refreshed;
	json_t *last;      /* the last state changed() got */
	json_t *to_import; /* what refresh() imports, or NULL */
};

static void on_changed(void *ctx, struct mcp_session *s, const json_t *state)
{
	(void)s;
	struct hook_log *l = ctx;
	l->changed++;
	json_decref(l->last);
	l->last = json_deep_copy(state);
}

static void on_refresh(void *ctx, struct mcp_session *s)
{
	struct hook_log *l = ctx;
	l->refreshed++;
	if (l->to_import)
		assert_int_equal(mcp_session_import(s, l->to_import, NULL), 0);
}

static void test_hooks(void **state)
{
	(void)state;
	assert_true(mcp_method_changes_state("initialize"));
	assert_true(mcp_method_changes_state("resources/subscribe"));
	assert_true(mcp_method_changes_state("resources/unsubscribe"));
	assert_true(mcp_method_changes_state("logging/setLevel"));
	assert_false(mcp_method_changes_state("tools/call"));
	assert_false(mcp_method_changes_state("ping"));
	assert_false(mcp_method_changes_state(NULL));

	struct mcp_server *srv = make_server();
	struct capture rc, oc;
	struct mcp_sink reply, out;
	cap_init(&rc, &reply);
	cap_init(&oc, &out);
	struct hook_log l = {0};
	struct mcp_session_hooks hk = {.changed = on_changed, .refresh = on_refresh, .ctx = &l};
	struct mcp_session *s = mcp_session_new(srv, &out);
	mcp_session_set_hooks(s, &hk);

	rpc(s, INIT, &reply);
	assert_int_equal(l.changed, 1);
	/* saved before the response goes out */
	assert_int_equal(json_array_size(rc.msgs), 1);
	assert_true(json_is_true(json_object_get(l.last, "initialized")));
	rpc(s, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}", &reply);
	rpc(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &reply);
	assert_int_equal(l.changed, 1);
	rpc(s, SUB("test://a"), &reply);
	assert_int_equal(l.changed, 2);
	rpc(s, SUB("test://a"), &reply); /* already: no change */
	assert_int_equal(l.changed, 2);
	rpc(s, SETLEVEL("error"), &reply);
	rpc(s, SETLEVEL("error"), &reply);
	assert_int_equal(l.changed, 3);
	assert_string_equal(json_get_str(l.last, "logLevel"), "error");
	rpc(s, UNSUB("test://a"), &reply);
	rpc(s, UNSUB("test://a"), &reply);
	assert_int_equal(l.changed, 4);
	assert_int_equal(json_array_size(json_object_get(l.last, "subscriptions")), 0);
	assert_int_equal(json_get_int(l.last, "rev", 0), 4);

	/* refresh runs before a resource update is decided: a subscription
	 * made elsewhere counts at once, once per batch. */
	json_t *other = json_deep_copy(l.last);
	json_object_set_new(other, "subscriptions", json_pack("[s]", "test://t/7"));
	json_object_set_new(other, "rev", json_integer(5));
	l.to_import = other;
	const char *uris[] = {"test://t/7", "test://a", "test://t/8"};
	mcp_server_resources_updated(srv, uris, 3);
	assert_int_equal(l.refreshed, 1);
	assert_int_equal(cap_count(&oc, "notifications/resources/updated"), 1);
	json_t *n = cap_last(&oc);
	assert_string_equal(json_get_str(json_object_get(n, "params"), "uri"), "test://t/7");
	json_decref(n);
	/* list_changed needs no refresh */
	mcp_server_list_changed(srv, "tools");
	assert_int_equal(l.refreshed, 1);
	assert_int_equal(cap_count(&oc, "notifications/tools/list_changed"), 1);

	/* no hook after close */
	mcp_session_close(s);
	mcp_server_resource_updated(srv, "test://t/7");
	assert_int_equal(l.refreshed, 1);

	mcp_session_unref(s);
	json_decref(l.last);
	json_decref(other);
	mcp_server_free(srv);
	cap_cleanup(&rc);
	cap_cleanup(&oc);
}

/* ---- Request numbering and pending ids ------------------------------------------------ */

struct ask_run {
	struct mcp_session *s;
	struct mcp_sink *reply;
};

static void *run_ask(void *arg)
{
	struct ask_run *r = arg;
	rpc(r->s,
	    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":"
	    "\"ask\",\"arguments\":{}}}",
	    r->reply);
	return NULL;
}

static bool asked(void *arg)
{
	return cap_count(arg, "elicitation/create") == 1;
}

static void test_request_ids(void **state)
{
	(void)state;
	struct mcp_server *srv = make_server();
	struct capture rc;
	struct mcp_sink reply;
	cap_init(&rc, &reply);
	struct mcp_session *s = mcp_session_new(srv, NULL);
	long long ids[4];
	rpc(s, INIT, &reply);
	mcp_session_set_next_request_id(s, 1LL << 45);
	assert_int_equal(mcp_session_pending_ids(s, ids, 4), 0);
	struct ask_run r = {.s = s, .reply = &reply};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, run_ask, &r), 0);
	assert_true(test_wait_until(asked, &rc, 10));
	json_t *req = cap_last(&rc);
	assert_int_equal(json_integer_value(json_object_get(req, "id")), 1LL << 45);
	json_decref(req);
	assert_int_equal(mcp_session_pending_ids(s, ids, 4), 1);
	assert_int_equal(ids[0], 1LL << 45);
	char ans[200];
	snprintf(ans, sizeof ans,
		 "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"action\":\"accept\",\"content\":"
		 "{\"name\":\"Zoe\"}}}",
		 1LL << 45);
	rpc(s, ans, NULL);
	pthread_join(t, NULL);
	json_t *res = cap_last(&rc);
	assert_string_equal(
		json_get_str(json_array_get(
				     json_object_get(json_object_get(res, "result"), "content"), 0),
			     "text"),
		"Zoe");
	json_decref(res);
	assert_int_equal(mcp_session_pending_ids(s, ids, 4), 0);
	mcp_session_unref(s);
	mcp_server_free(srv);
	cap_cleanup(&rc);
}

/* ---- The directory on soft state ----------------------------------------------------- */

struct dir_fixture {
	char *dir;
	struct store *store;
	struct clock clock;
	struct app_mcp_sessions *d;
};

static int dir_setup(void **state)
{
	struct dir_fixture *f = xcalloc(1, sizeof(*f));
	char url[4200];
	struct err e = {0};
	f->dir = test_tmpdir("mcpsess");
	snprintf(url, sizeof url, "sqlite:%s/a.db", f->dir);
	if (store_open(url, NULL, &f->store, &e)) {
		fprintf(stderr, "store_open: %s\n", err_msg(&e));
		return -1;
	}
	clock_fake_init(&f->clock, 1750000000LL * 1000000);
	f->d = app_mcp_sessions_new(f->store, &f->clock);
	*state = f;
	return 0;
}

static int dir_teardown(void **state)
{
	struct dir_fixture *f = *state;
	app_mcp_sessions_free(f->d);
	store_close(f->store);
	test_rmdir(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static json_t *record(const char *principal, const char *sub)
{
	return json_pack("{s:s?,s:{s:I,s:b,s:s,s:[s]}}", "principal", principal, "mcp", "rev", 1,
			 "initialized", 1, "protocolVersion", "2025-11-25", "subscriptions", sub);
}

static void test_dir_save_load(void **state)
{
	struct dir_fixture *f = *state;
	struct err e = {0};
	json_t *r = record(NULL, "event://tasks"), *got = NULL;
	const char *id = "0b5f2c1e-7d4a-4c1b-9e0f-2a3b4c5d6e7f";

	assert_int_equal(app_mcp_sessions_load(f->d, id, &got, &e), ERR_NOT_FOUND);
	assert_int_equal(app_mcp_sessions_save(f->d, id, r, false, &e), ERR_NOT_FOUND);
	assert_int_equal(app_mcp_sessions_save(f->d, id, r, true, &e), 0);
	assert_int_equal(app_mcp_sessions_load(f->d, id, &got, &e), 0);
	assert_true(json_is_null(json_object_get(got, "principal")));
	assert_true(json_equal(json_object_get(got, "mcp"), json_object_get(r, "mcp")));
	json_decref(got);
	/* an update of a live session */
	json_t *r2 = record(NULL, "event://status");
	assert_int_equal(app_mcp_sessions_save(f->d, id, r2, false, &e), 0);
	assert_int_equal(app_mcp_sessions_load(f->d, id, &got, &e), 0);
	assert_string_equal(
		json_string_value(json_array_get(
			json_object_get(json_object_get(got, "mcp"), "subscriptions"), 0)),
		"event://status");
	json_decref(got);
	size_t n = 0;
	assert_int_equal(app_mcp_sessions_count(f->d, &n, &e), 0);
	assert_int_equal(n, 1);

	/* removed: gone, and an update does not bring it back */
	assert_int_equal(app_mcp_sessions_remove(f->d, id, &e), 0);
	assert_int_equal(app_mcp_sessions_load(f->d, id, &got, &e), ERR_NOT_FOUND);
	assert_int_equal(app_mcp_sessions_save(f->d, id, r2, false, &e), ERR_NOT_FOUND);
	assert_int_equal(app_mcp_sessions_load(f->d, id, &got, &e), ERR_NOT_FOUND);
	assert_int_equal(app_mcp_sessions_remove(f->d, id, &e), 0); /* twice is fine */

	/* ids that could change a key's meaning */
	assert_int_equal(app_mcp_sessions_save(f->d, "a/b", r, true, &e), ERR_INVALID);
	assert_int_equal(app_mcp_sessions_save(f->d, "", r, true, &e), ERR_INVALID);
	assert_int_equal(app_mcp_sessions_load(f->d, "../x", &got, &e), ERR_NOT_FOUND);
	/* a record without its state */
	json_t *bad = json_pack("{s:n}", "principal");
	assert_int_equal(app_mcp_sessions_save(f->d, "x1", bad, true, &e), ERR_INVALID);
	json_decref(bad);
	json_decref(r);
	json_decref(r2);
}

static void test_dir_no_secrets(void **state)
{
	struct dir_fixture *f = *state;
	struct err e = {0};
	struct principal p = {.role = PRINCIPAL_ROLE_USER, .authenticated = true};
	snprintf(p.user, sizeof p.user, "alice");
	snprintf(p.scopes, sizeof p.scopes, "tasks");
	snprintf(p.key_id, sizeof p.key_id, "0123456789abcdef");
	char *text = app_principal_to_text(&p);
	/* a principal text carrying more than it should */
	json_t *pj = json_loads(text, 0, NULL);
	json_object_set_new(pj, "api_key", json_string("amb_secret_do_not_store"));
	char *fat = json_dumps(pj, JSON_COMPACT);
	json_t *r = record(fat, "event://tasks"), *got = NULL, *raw = NULL;

	assert_int_equal(app_mcp_sessions_save(f->d, "s1", r, true, &e), 0);
	assert_int_equal(store_soft_get(f->store, APP_MCP_SESSION_PREFIX "s1", &raw, &e), 0);
	char *dump = json_dumps(raw, JSON_COMPACT);
	assert_null(strstr(dump, "amb_secret"));
	free(dump);
	assert_int_equal(app_mcp_sessions_load(f->d, "s1", &got, &e), 0);
	/* the same text the authenticator gives for that key */
	assert_string_equal(json_get_str(got, "principal"), text);
	json_decref(got);
	json_decref(raw);
	json_decref(r);

	/* something that is not a principal of ours is not stored */
	r = record("just-a-name", "event://tasks");
	assert_int_equal(app_mcp_sessions_save(f->d, "s2", r, true, &e), ERR_INVALID);
	json_decref(r);
	json_decref(pj);
	free(fat);
	free(text);
}

static void test_dir_expiry(void **state)
{
	struct dir_fixture *f = *state;
	struct err e = {0};
	json_t *r = record(NULL, "event://tasks"), *got = NULL;

	assert_int_equal(app_mcp_sessions_save(f->d, "idle", r, true, &e), 0);
	assert_int_equal(app_mcp_sessions_save(f->d, "busy", r, true, &e), 0);
	clock_fake_advance(&f->clock, 50LL * 1000000);
	assert_int_equal(app_mcp_sessions_touch(f->d, "busy", &e), 0);
	assert_int_equal(app_mcp_sessions_expire(f->d, 60, &e), 0);
	assert_int_equal(app_mcp_sessions_load(f->d, "idle", &got, &e), 0);
	json_decref(got);
	clock_fake_advance(&f->clock, 20LL * 1000000); /* idle: 70 s, busy: 20 s */
	assert_int_equal(app_mcp_sessions_expire(f->d, 60, &e), 0);
	assert_int_equal(app_mcp_sessions_load(f->d, "idle", &got, &e), ERR_NOT_FOUND);
	assert_int_equal(app_mcp_sessions_load(f->d, "busy", &got, &e), 0);
	json_decref(got);
	/* nothing of the idle one is left behind */
	json_t *used = NULL;
	assert_int_equal(store_soft_get(f->store, APP_MCP_SESSION_USED_PREFIX "idle", &used, &e),
			 ERR_NOT_FOUND);
	json_decref(r);
}

static void test_dir_replies(void **state)
{
	struct dir_fixture *f = *state;
	struct err e = {0};
	json_t *msg = json_pack("{s:s,s:I,s:{s:s}}", "jsonrpc", "2.0", "id", (json_int_t)77,
				"result", "action", "accept"),
	       *got = NULL, *r = record(NULL, "event://tasks");

	assert_int_equal(app_mcp_sessions_save(f->d, "s", r, true, &e), 0);
	assert_int_equal(app_mcp_sessions_take_reply(f->d, "s", 77, &got, &e), ERR_NOT_FOUND);
	assert_int_equal(app_mcp_sessions_post_reply(f->d, "s", 77, msg, &e), 0);
	assert_int_equal(app_mcp_sessions_take_reply(f->d, "s", 78, &got, &e), ERR_NOT_FOUND);
	assert_int_equal(app_mcp_sessions_take_reply(f->d, "s", 77, &got, &e), 0);
	assert_true(json_equal(got, msg));
	json_decref(got);
	assert_int_equal(app_mcp_sessions_take_reply(f->d, "s", 77, &got, &e), ERR_NOT_FOUND);
	/* removing the session drops replies nobody took */
	assert_int_equal(app_mcp_sessions_post_reply(f->d, "s", 79, msg, &e), 0);
	assert_int_equal(app_mcp_sessions_remove(f->d, "s", &e), 0);
	assert_int_equal(app_mcp_sessions_take_reply(f->d, "s", 79, &got, &e), ERR_NOT_FOUND);
	json_decref(msg);
	json_decref(r);
}

/* ---- Two nodes over HTTP ------------------------------------------------------------- */

struct node {
	struct store *store;
	struct app_mcp_sessions *d;
	struct mcp_server *srv;
	struct http_server *h;
	char url[64];
};

static int auth_fn(void *data, const char *token, char **principal)
{
	(void)data;
	struct principal p = {.role = PRINCIPAL_ROLE_USER, .authenticated = true};
	if (strcmp(token, "k1") && strcmp(token, "k2"))
		return -1;
	snprintf(p.user, sizeof p.user, "%s", strcmp(token, "k1") == 0 ? "alice" : "bob");
	snprintf(p.scopes, sizeof p.scopes, "*");
	*principal = app_principal_to_text(&p);
	return 0;
}

static void node_start(struct node *n, const char *db)
{
	struct err e = {0};
	assert_int_equal(store_open(db, NULL, &n->store, &e), 0);
	n->d = app_mcp_sessions_new(n->store, NULL);
	n->srv = make_server();
	struct http_session_dir sd = {
		.save = app_mcp_sessions_save,
		.load = app_mcp_sessions_load,
		.remove = app_mcp_sessions_remove,
		.touch = app_mcp_sessions_touch,
		.expire = app_mcp_sessions_expire,
		.post_reply = app_mcp_sessions_post_reply,
		.take_reply = app_mcp_sessions_take_reply,
		.data = n->d,
	};
	struct http_server_options ho = {.host = "127.0.0.1", .auth = auth_fn, .session_dir = &sd};
	int rc = http_server_start(n->srv, &ho, &n->h, &e);
	if (rc)
		fprintf(stderr, "http_server_start: %s\n", err_msg(&e));
	assert_int_equal(rc, 0);
	snprintf(n->url, sizeof n->url, "http://127.0.0.1:%d/mcp", http_server_port(n->h));
}

static void node_stop(struct node *n)
{
	http_server_free(n->h);
	mcp_server_free(n->srv);
	app_mcp_sessions_free(n->d);
	store_close(n->store);
}

struct body {
	pthread_mutex_t mu;
	char *text;
	size_t len;
	atomic_bool stop;
	atomic_bool done;
};

static size_t body_write(char *p, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	size_t n = size * nmemb;
	pthread_mutex_lock(&b->mu);
	b->text = xrealloc(b->text, b->len + n + 1);
	memcpy(b->text + b->len, p, n);
	b->len += n;
	b->text[b->len] = 0;
	pthread_mutex_unlock(&b->mu);
	return n;
}

static int body_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)a, (void)b, (void)c, (void)d;
	return atomic_load(&((struct body *)ud)->stop) ? 1 : 0;
}

static size_t header_cb(char *p, size_t size, size_t nmemb, void *ud)
{
	size_t n = size * nmemb;
	char *sid = ud;
	if (n > 16 && strncasecmp(p, "Mcp-Session-Id:", 15) == 0) {
		const char *v = p + 15;
		while (*v == ' ')
			v++;
		size_t k = strcspn(v, "\r\n");
		if (k < 64) {
			memcpy(sid, v, k);
			sid[k] = 0;
		}
	}
	return n;
}

/* One HTTP exchange: returns the status; *out (may be NULL) gets the body. */
static long http(const char *method, const char *url, const char *key, const char *sid,
		 const char *json, struct body *b, char *sid_out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hd = NULL;
	char line[200];
	hd = curl_slist_append(hd, "Content-Type: application/json");
	hd = curl_slist_append(hd, strcmp(method, "GET") == 0
					   ? "Accept: text/event-stream"
					   : "Accept: application/json, text/event-stream");
	hd = curl_slist_append(hd, "MCP-Protocol-Version: 2025-06-18");
	snprintf(line, sizeof line, "Authorization: Bearer %s", key);
	hd = curl_slist_append(hd, line);
	if (sid) {
		snprintf(line, sizeof line, "Mcp-Session-Id: %s", sid);
		hd = curl_slist_append(hd, line);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
	if (json)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, body_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (sid_out) {
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, sid_out);
	}
	long status = 0;
	curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hd);
	curl_easy_cleanup(c);
	atomic_store(&b->done, true);
	return status;
}

static void body_init(struct body *b)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->mu, NULL);
}

static void body_cleanup(struct body *b)
{
	free(b->text);
	pthread_mutex_destroy(&b->mu);
}

static size_t body_count(struct body *b, const char *needle)
{
	size_t n = 0;
	pthread_mutex_lock(&b->mu);
	for (const char *p = b->text; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	pthread_mutex_unlock(&b->mu);
	return n;
}

/* A request with a fresh body; returns the status, body text in *text. */
static long call(const char *url, const char *key, const char *sid, const char *json, char **text)
{
	struct body b;
	body_init(&b);
	long st = http("POST", url, key, sid, json, &b, NULL);
	*text = b.text ? b.text : xstrdup("");
	b.text = NULL;
	body_cleanup(&b);
	return st;
}

struct bg {
	const char *method, *url, *sid, *json;
	struct body b;
	long status;
	pthread_t t;
};

static void *bg_main(void *arg)
{
	struct bg *g = arg;
	g->status = http(g->method, g->url, "k1", g->sid, g->json, &g->b, NULL);
	return NULL;
}

static void bg_start(struct bg *g)
{
	body_init(&g->b);
	assert_int_equal(pthread_create(&g->t, NULL, bg_main, g), 0);
}

struct wait_for {
	struct body *b;
	const char *needle;
	size_t n;
};

static bool seen(void *arg)
{
	struct wait_for *w = arg;
	return body_count(w->b, w->needle) >= w->n;
}

static bool finished(void *arg)
{
	return atomic_load(&((struct body *)arg)->done);
}

static void test_two_nodes(void **state)
{
	(void)state;
	char *dir = test_tmpdir("mcpnodes"), db[4200], sid[65] = "", *out = NULL;
	struct node a = {0}, b = {0};
	snprintf(db, sizeof db, "sqlite:%s/shared.db", dir);
	node_start(&a, db);
	node_start(&b, db);

	/* initialize on A */
	struct body ib;
	body_init(&ib);
	assert_int_equal(http("POST", a.url, "k1", NULL, INIT, &ib, sid), 200);
	assert_non_null(strstr(ib.text, "\"protocolVersion\":\"2025-06-18\""));
	body_cleanup(&ib);
	assert_int_equal(strlen(sid), 36);

	/* used on B */
	assert_int_equal(call(b.url, "k1", sid,
			      "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}", &out),
			 200);
	assert_non_null(strstr(out, "\"echo\""));
	free(out);
	assert_int_equal(call(b.url, "k1", sid,
			      "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":"
			      "{\"name\":\"echo\",\"arguments\":{\"text\":\"via B\"}}}",
			      &out),
			 200);
	assert_non_null(strstr(out, "via B"));
	free(out);
	/* another key may not use it, on either node */
	assert_int_equal(
		call(b.url, "k2", sid, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}", &out),
		403);
	free(out);
	assert_int_equal(
		call(a.url, "k2", sid, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}", &out),
		403);
	free(out);
	/* unknown everywhere */
	assert_int_equal(call(b.url, "k1", "00000000-0000-4000-8000-000000000000",
			      "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}", &out),
			 404);
	free(out);

	/* subscribe through A, listen on B */
	assert_int_equal(call(a.url, "k1", sid, SUB("test://a"), &out), 200);
	free(out);
	struct bg get = {.method = "GET", .url = b.url, .sid = sid};
	bg_start(&get);
	struct wait_for w = {.b = &get.b, .needle = "retry:", .n = 1};
	assert_true(test_wait_until(seen, &w, 10)); /* primed: the stream is attached */
	mcp_server_resource_updated(b.srv, "test://a");
	w = (struct wait_for){.b = &get.b, .needle = "notifications/resources/updated", .n = 1};
	assert_true(test_wait_until(seen, &w, 10));

	/* unsubscribe test://a and subscribe test://t/1 through A: B's next
	 * notification follows both */
	assert_int_equal(call(a.url, "k1", sid, UNSUB("test://a"), &out), 200);
	free(out);
	assert_int_equal(call(a.url, "k1", sid, SUB("test://t/1"), &out), 200);
	free(out);
	const char *uris[] = {"test://a", "test://t/1"};
	mcp_server_resources_updated(b.srv, uris, 2);
	w = (struct wait_for){.b = &get.b, .needle = "test://t/1", .n = 1};
	assert_true(test_wait_until(seen, &w, 10));
	assert_int_equal(body_count(&get.b, "\"uri\":\"test://a\""), 1);

	/* an elicitation asked on A, answered through B */
	struct bg ask = {
		.method = "POST",
		.url = a.url,
		.sid = sid,
		.json = "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":"
			"{\"name\":\"ask\",\"arguments\":{}}}"};
	bg_start(&ask);
	w = (struct wait_for){.b = &ask.b, .needle = "elicitation/create", .n = 1};
	assert_true(test_wait_until(seen, &w, 10));
	long long rid = 0;
	pthread_mutex_lock(&ask.b.mu);
	const char *p = strstr(ask.b.text, "\"method\":\"elicitation/create\"");
	const char *q = strstr(ask.b.text, "\"id\":");
	for (const char *x = q; x && x < p; x = strstr(x + 1, "\"id\":"))
		q = x; /* the id of the same message */
	if (q)
		rid = strtoll(q + 5, NULL, 10);
	pthread_mutex_unlock(&ask.b.mu);
	assert_true(rid > 1000); /* numbered in this node's own range */
	char ans[300];
	snprintf(ans, sizeof ans,
		 "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"action\":\"accept\",\"content\":"
		 "{\"name\":\"Bea\"}}}",
		 rid);
	assert_int_equal(call(b.url, "k1", sid, ans, &out), 202);
	free(out);
	pthread_join(ask.t, NULL);
	assert_int_equal(ask.status, 200);
	assert_non_null(strstr(ask.b.text, "Bea"));
	body_cleanup(&ask.b);

	/* DELETE through B: 404 on A, and A's copy is gone; B's GET ends */
	struct body db_;
	body_init(&db_);
	assert_int_equal(http("DELETE", b.url, "k1", sid, NULL, &db_, NULL), 200);
	body_cleanup(&db_);
	assert_int_equal(
		call(a.url, "k1", sid, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}", &out),
		404);
	free(out);
	assert_true(test_wait_until(finished, &get.b, 10));
	pthread_join(get.t, NULL);
	body_cleanup(&get.b);

	/* a GET stream on A of a session deleted through B ends within a
	 * second or so (the janitor) */
	body_init(&ib);
	sid[0] = 0;
	assert_int_equal(http("POST", a.url, "k1", NULL, INIT, &ib, sid), 200);
	body_cleanup(&ib);
	struct bg get2 = {.method = "GET", .url = a.url, .sid = sid};
	bg_start(&get2);
	w = (struct wait_for){.b = &get2.b, .needle = "retry:", .n = 1};
	assert_true(test_wait_until(seen, &w, 10));
	body_init(&db_);
	assert_int_equal(http("DELETE", b.url, "k1", sid, NULL, &db_, NULL), 200);
	body_cleanup(&db_);
	assert_true(test_wait_until(finished, &get2.b, 10));
	pthread_join(get2.t, NULL);
	body_cleanup(&get2.b);

	node_stop(&a);
	node_stop(&b);
	test_rmdir(dir);
	free(dir);
}

int main(void)
{
	log_level_current = LOG_LEVEL_ERROR;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_export_import),
		cmocka_unit_test(test_import_refuses),
		cmocka_unit_test(test_hooks),
		cmocka_unit_test(test_request_ids),
		cmocka_unit_test_setup_teardown(test_dir_save_load, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_dir_no_secrets, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_dir_expiry, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_dir_replies, dir_setup, dir_teardown),
		cmocka_unit_test(test_two_nodes),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
