/*
 * test_mcp_security.c - the guard around ambient's tools, in process:
 * sessions carrying the principals an HTTP authenticator would attach
 * (alice and bob with user keys, an admin), driven with JSON-RPC text.
 *
 * Covers: a user cannot read, pause, update or delete another user's task
 * by any tool or resource (nor subscribe to it), user_id impersonation,
 * scopes, admin-only tools, rate limits at their edges (fake clock),
 * confirmation of HIGH tools through elicitation (accept, decline) and
 * through approval (expiry of requests and approvals), the audit log with
 * secrets redacted and contacts masked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <unistd.h>

#include "../test_util.h"
#include "app/auth.h"
#include "app/mcp_app.h"
#include "app/tasks.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "mcp/server.h"

struct capture {
	pthread_mutex_t mu;
	json_t *msgs;
};

static int cap_send(void *ctx, const char *msg, size_t len)
{
	struct capture *c = ctx;
	json_t *j = json_loadb(msg, len, 0, NULL);
	pthread_mutex_lock(&c->mu);
	json_array_append_new(c->msgs, j ? j : json_string("<bad json>"));
	pthread_mutex_unlock(&c->mu);
	return 0;
}

struct client {
	struct mcp_session *sess;
	struct capture cap;
	struct mcp_sink sink;
	int next_id;
};

struct fx {
	char *dir;
	struct clock clk;
	struct store *s;
	struct mcp_server *srv;
	struct app_mcp *app;
	struct client alice, bob, admin, local;
};

static json_t *last_msg(struct client *c)
{
	json_t *m;
	pthread_mutex_lock(&c->cap.mu);
	size_t n = json_array_size(c->cap.msgs);
	m = n ? json_incref(json_array_get(c->cap.msgs, n - 1)) : NULL;
	pthread_mutex_unlock(&c->cap.mu);
	return m;
}

static void send_text(struct client *c, const char *text)
{
	mcp_session_handle_text(c->sess, text, strlen(text), 0, &c->sink, NULL);
}

static void client_open(struct fx *f, struct client *c, const struct principal *p, bool elicitation)
{
	char *text;

	pthread_mutex_init(&c->cap.mu, NULL);
	c->cap.msgs = json_array();
	c->sink = (struct mcp_sink){.send = cap_send, .ctx = &c->cap};
	c->sess = mcp_session_new(f->srv, &c->sink);
	if (p) {
		char *pt = app_principal_to_text(p);
		app_mcp_attach_principal(c->sess, pt);
		free(pt);
	}
	text = xasprintf("{\"jsonrpc\": \"2.0\", \"id\": 0, \"method\": \"initialize\", "
			 "\"params\": {\"protocolVersion\": \"2025-11-25\", \"capabilities\": %s, "
			 "\"clientInfo\": {\"name\": \"t\", \"version\": \"1\"}}}",
			 elicitation ? "{\"elicitation\": {}}" : "{}");
	send_text(c, text);
	free(text);
	send_text(c, "{\"jsonrpc\": \"2.0\", \"method\": \"notifications/initialized\"}");
	c->next_id = 1;
}

static void client_close(struct client *c)
{
	mcp_session_close(c->sess);
	mcp_session_unref(c->sess);
	json_decref(c->cap.msgs);
	pthread_mutex_destroy(&c->cap.mu);
}

static void user_principal(struct principal *p, const char *user, const char *scopes, bool admin)
{
	memset(p, 0, sizeof *p);
	snprintf(p->user, sizeof p->user, "%s", user);
	snprintf(p->scopes, sizeof p->scopes, "%s", scopes);
	snprintf(p->key_id, sizeof p->key_id, "%.5s00000000000", user);
	p->role = admin ? PRINCIPAL_ROLE_ADMIN : PRINCIPAL_ROLE_USER;
	p->authenticated = true;
}

static int setup_with(void **state, const char *rates)
{
	struct fx *f = calloc(1, sizeof *f);
	struct mcp_server_options so = {.name = "t", .version = "0"};
	struct app_mcp_options ao = {.default_user = "default", .rate_limits = rates};
	struct principal p;
	struct err e = {0};
	char url[4200];

	f->dir = test_tmpdir("mcpsec");
	snprintf(url, sizeof url, "sqlite:%s/events.db", f->dir);
	if (app_store_open(url, false, &f->s, &e))
		return -1;
	clock_fake_init(&f->clk, 1767225600LL * 1000000); /* 2026-01-01 */
	ao.clock = &f->clk;
	f->srv = mcp_server_new(&so);
	f->app = app_mcp_new(f->s, &ao);
	if (app_mcp_register(f->app, f->srv, &e)) {
		fprintf(stderr, "register: %s\n", e.msg);
		return -1;
	}
	user_principal(&p, "alice", "*", false);
	client_open(f, &f->alice, &p, false);
	user_principal(&p, "bob", "tasks:read", false);
	client_open(f, &f->bob, &p, false);
	user_principal(&p, "ops", "*", true);
	client_open(f, &f->admin, &p, true);
	client_open(f, &f->local, NULL, false);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, NULL);
}

static int setup_tight(void **state)
{
	return setup_with(state, "default=3,get_task=0");
}

static int teardown(void **state)
{
	struct fx *f = *state;
	app_mcp_free(f->app);
	client_close(&f->alice);
	client_close(&f->bob);
	client_close(&f->admin);
	client_close(&f->local);
	mcp_server_free(f->srv);
	store_close(f->s);
	test_rmdir(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* tools/call; returns the result object (new reference). */
static json_t *call(struct client *c, const char *tool, const char *args)
{
	char *text = xasprintf("{\"jsonrpc\": \"2.0\", \"id\": %d, \"method\": \"tools/call\", "
			       "\"params\": {\"name\": \"%s\", \"arguments\": %s}}",
			       c->next_id++, tool, args);
	send_text(c, text);
	free(text);
	json_t *m = last_msg(c), *r = json_incref(json_object_get(m, "result"));
	json_decref(m);
	assert_non_null(r);
	return r;
}

static bool is_error(const json_t *r)
{
	return json_is_true(json_object_get(r, "isError"));
}

static const char *text_of(const json_t *r)
{
	return json_get_str(json_array_get(json_object_get(r, "content"), 0), "text");
}

/* The call fails and its text holds want. */
static void expect_error(struct client *c, const char *tool, const char *args, const char *want)
{
	json_t *r = call(c, tool, args);
	if (!is_error(r) || !strstr(text_of(r), want))
		fail_msg("%s %s: wanted an error with \"%s\", got: %s", tool, args, want,
			 text_of(r));
	json_decref(r);
}

static json_t *expect_ok(struct client *c, const char *tool, const char *args)
{
	json_t *r = call(c, tool, args);
	if (is_error(r))
		fail_msg("%s %s failed: %s", tool, args, text_of(r));
	return r;
}

static char *create_task(struct client *c)
{
	json_t *r = expect_ok(c, "create_background_task",
			      "{\"task_type\": \"schedule\", \"description\": \"standup\", "
			      "\"config\": {\"type\": \"daily\", \"hour\": 9}}");
	char *id = xstrdup(json_get_str(
		json_object_get(json_object_get(r, "structuredContent"), "data"), "task_id"));
	json_decref(r);
	return id;
}

/* ---- ownership --------------------------------------------------------------- */

static void test_users_see_only_their_own(void **state)
{
	struct fx *f = *state;
	char *id = create_task(&f->alice), args[300], uri[300];
	json_t *r;

	/* the task belongs to the key's user, not to a user_id argument */
	snprintf(args, sizeof args, "{\"task_id\": \"%s\"}", id);
	r = expect_ok(&f->alice, "get_task", args);
	assert_string_equal(
		json_get_str(
			json_object_get(
				json_object_get(json_object_get(r, "structuredContent"), "data"),
				"task"),
			"user_id"),
		"alice");
	json_decref(r);

	/* bob reaches it by no tool */
	expect_error(&f->bob, "get_task", args, "not found or access denied");
	expect_error(&f->bob, "get_task_events", args, "not found or access denied");
	r = expect_ok(&f->bob, "list_background_tasks", "{}");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_object_get(r, "structuredContent"), "data"),
				 "total_tasks")),
			 0);
	json_decref(r);
	r = expect_ok(&f->bob, "get_recent_events", "{}");
	assert_null(strstr(text_of(r), id));
	json_decref(r);
	/* nor by claiming to be alice or admin */
	snprintf(args, sizeof args, "{\"task_id\": \"%s\", \"user_id\": \"alice\"}", id);
	expect_error(&f->bob, "get_task", args, "is not yours");
	snprintf(args, sizeof args, "{\"task_id\": \"%s\", \"user_id\": \"admin\"}", id);
	expect_error(&f->bob, "pause_background_task", args, "is not yours");
	/* bob's key only reads: no changes at all */
	snprintf(args, sizeof args, "{\"task_id\": \"%s\"}", id);
	expect_error(&f->bob, "pause_background_task", args, "needs the scope");
	expect_error(&f->bob, "delete_background_task", args, "needs the scope");

	/* nor by resource */
	snprintf(uri, sizeof uri,
		 "{\"jsonrpc\": \"2.0\", \"id\": 99, \"method\": \"resources/read\", \"params\": "
		 "{\"uri\": \"event://tasks/%s\"}}",
		 id);
	send_text(&f->bob, uri);
	r = last_msg(&f->bob);
	assert_non_null(json_object_get(r, "error"));
	json_decref(r);
	/* nor by subscription */
	snprintf(uri, sizeof uri,
		 "{\"jsonrpc\": \"2.0\", \"id\": 98, \"method\": \"resources/subscribe\", "
		 "\"params\": {\"uri\": \"event://tasks/%s\"}}",
		 id);
	send_text(&f->bob, uri);
	r = last_msg(&f->bob);
	assert_non_null(json_object_get(r, "error"));
	json_decref(r);
	send_text(&f->alice, uri);
	r = last_msg(&f->alice);
	assert_non_null(json_object_get(r, "result"));
	json_decref(r);

	/* the admin sees and changes it */
	r = expect_ok(&f->admin, "get_task", args);
	json_decref(r);
	r = expect_ok(&f->admin, "pause_background_task", args);
	json_decref(r);
	/* admin tools are the admin's only */
	expect_error(&f->alice, "get_audit_log", "{}", "admins only");
	expect_error(&f->alice, "check_security_status", "{}", "admins only");
	free(id);
}

/* ---- confirmation -------------------------------------------------------------- */

struct async_call {
	struct client *c;
	const char *tool;
	char args[300];
	json_t *result;
};

static void *call_thread(void *arg)
{
	struct async_call *ac = arg;
	ac->result = call(ac->c, ac->tool, ac->args);
	return NULL;
}

/* Wait for the elicitation/create request on the client's stream. */
static json_t *wait_elicitation(struct client *c)
{
	for (int i = 0; i < 500; i++) {
		json_t *m = last_msg(c);
		const char *method = json_get_str(m, "method");
		if (method && strcmp(method, "elicitation/create") == 0)
			return m;
		json_decref(m);
		usleep(10000);
	}
	fail_msg("no elicitation/create request within 5 s");
	return NULL;
}

static void answer(struct client *c, const json_t *req, const char *result)
{
	char *id = json_dumps(json_object_get(req, "id"), JSON_ENCODE_ANY);
	char *text = xasprintf("{\"jsonrpc\": \"2.0\", \"id\": %s, \"result\": %s}", id, result);
	send_text(c, text);
	free(text);
	free(id);
}

static void test_elicitation_confirms_delete(void **state)
{
	struct fx *f = *state;
	char *id = create_task(&f->admin);
	struct async_call ac = {.c = &f->admin, .tool = "delete_background_task"};
	pthread_t t;
	json_t *req;

	snprintf(ac.args, sizeof ac.args, "{\"task_id\": \"%s\"}", id);
	/* declined: nothing happens */
	pthread_create(&t, NULL, call_thread, &ac);
	req = wait_elicitation(&f->admin);
	assert_non_null(strstr(json_get_str(json_object_get(req, "params"), "message"),
			       "delete_background_task"));
	answer(&f->admin, req, "{\"action\": \"decline\"}");
	json_decref(req);
	pthread_join(t, NULL);
	assert_true(is_error(ac.result));
	assert_non_null(strstr(text_of(ac.result), "did not confirm"));
	json_decref(ac.result);
	json_decref(expect_ok(&f->admin, "get_task", ac.args));

	/* accepted: deleted */
	pthread_create(&t, NULL, call_thread, &ac);
	req = wait_elicitation(&f->admin);
	answer(&f->admin, req, "{\"action\": \"accept\", \"content\": {\"confirm\": true}}");
	json_decref(req);
	pthread_join(t, NULL);
	assert_false(is_error(ac.result));
	assert_non_null(strstr(text_of(ac.result), "deleted"));
	json_decref(ac.result);
	free(id);
}

static void test_approval_expires(void **state)
{
	struct fx *f = *state;
	char *id = create_task(&f->alice), args[300], approve[200], rq[33];
	json_t *r;

	snprintf(args, sizeof args, "{\"task_id\": \"%s\"}", id);
	r = call(&f->alice, "delete_background_task", args);
	assert_true(is_error(r));
	const char *at = strstr(text_of(r), "Request ID: ");
	assert_non_null(at);
	snprintf(rq, sizeof rq, "%.32s", at + 12);
	json_decref(r);
	snprintf(approve, sizeof approve, "{\"request_id\": \"%s\"}", rq);

	/* a user cannot approve; the admin sees it pending */
	expect_error(&f->alice, "approve_authorization", approve, "admins only");
	r = expect_ok(&f->admin, "get_authorization_requests", "{}");
	assert_non_null(strstr(text_of(r), rq));
	json_decref(r);

	/* 31 minutes later the request has expired */
	clock_fake_advance(&f->clk, 31LL * 60 * 1000000);
	expect_error(&f->admin, "approve_authorization", approve, "expired");
	/* asking again makes a new request with the same id; approved in time */
	expect_error(&f->alice, "delete_background_task", args, rq);
	json_decref(expect_ok(&f->admin, "approve_authorization", approve));
	/* an approval is for the identical call only: another task still asks */
	{
		char *id2 = create_task(&f->alice), args2[300];
		snprintf(args2, sizeof args2, "{\"task_id\": \"%s\"}", id2);
		expect_error(&f->alice, "delete_background_task", args2, "Authorization required");
		free(id2);
	}
	/* 61 minutes after the approval it no longer counts */
	clock_fake_advance(&f->clk, 61LL * 60 * 1000000);
	expect_error(&f->alice, "delete_background_task", args, "Authorization required");
	/* approved again: the call runs */
	json_decref(expect_ok(
		&f->admin, "approve_authorization",
		(snprintf(approve, sizeof approve, "{\"request_id\": \"%s\"}", rq), approve)));
	r = expect_ok(&f->alice, "delete_background_task", args);
	json_decref(r);
	free(id);
}

/* ---- rate limits ------------------------------------------------------------------ */

static void test_rate_limit_edges(void **state)
{
	struct fx *f = *state;
	char *id = create_task(&f->alice); /* 1 of 3 for create */

	for (int i = 0; i < 3; i++)
		json_decref(expect_ok(&f->alice, "list_background_tasks", "{}"));
	expect_error(&f->alice, "list_background_tasks", "{}",
		     "Rate limit exceeded for list_background_tasks: at most 3 calls per hour");
	/* per principal: bob is not limited by alice's calls */
	json_decref(expect_ok(&f->bob, "list_background_tasks", "{}"));
	/* per tool: another tool still works; 0 means unlimited */
	char args[200];
	snprintf(args, sizeof args, "{\"task_id\": \"%s\"}", id);
	for (int i = 0; i < 10; i++)
		json_decref(expect_ok(&f->alice, "get_task", args));
	/* the window slides: just under an hour later still refused, then allowed */
	clock_fake_advance(&f->clk, 3600LL * 1000000 - 2000000);
	expect_error(&f->alice, "list_background_tasks", "{}", "Try again in 0 min");
	clock_fake_advance(&f->clk, 3000000);
	json_decref(expect_ok(&f->alice, "list_background_tasks", "{}"));
	free(id);
}

/* ---- audit -------------------------------------------------------------------------- */

static void test_audit_redacts(void **state)
{
	struct fx *f = *state;
	json_t *r;

	r = expect_ok(&f->alice, "create_background_task",
		      "{\"task_type\": \"threshold_watch\", \"description\": \"btc\", \"config\": "
		      "{\"metric\": \"bitcoin_price\", \"threshold\": 50000, \"api_key\": "
		      "\"sk-live-1234567890abcdef\", \"notification\": {\"method\": "
		      "\"send_sms\", \"phone_number\": \"+14155550123\"}}}");
	json_decref(r);
	expect_error(&f->alice, "get_task", "{\"task_id\": \"nope\", \"user_id\": \"bob\"}",
		     "not yours");
	r = expect_ok(&f->admin, "get_audit_log", "{\"principal\": \"alice\"}");
	const char *t = text_of(r);
	assert_null(strstr(t, "sk-live-1234567890abcdef"));
	assert_null(strstr(t, "+14155550123"));
	assert_non_null(strstr(t, "[REDACTED]"));
	assert_non_null(strstr(t, "+1********23"));
	assert_non_null(strstr(t, "\"outcome\": \"denied\""));
	assert_non_null(strstr(t, "\"outcome\": \"ok\""));
	json_t *entries = json_object_get(
		json_object_get(json_object_get(r, "structuredContent"), "data"), "entries");
	assert_true(json_array_size(entries) >= 2);
	/* newest first */
	assert_string_equal(json_get_str(json_array_get(entries, 0), "tool"), "get_task");
	json_decref(r);

	r = expect_ok(&f->admin, "check_security_status", "{\"include_metrics\": true}");
	assert_non_null(strstr(text_of(r), "\"delete_background_task\": \"HIGH\""));
	json_decref(r);
	r = expect_ok(&f->admin, "get_monitoring_metrics", "{}");
	assert_non_null(strstr(text_of(r), "create_background_task"));
	json_decref(r);
}

/* The local user (stdio, no authentication) keeps the original's behaviour:
 * user_id is honoured, "admin" sees everything. */
static void test_local_user_is_trusted(void **state)
{
	struct fx *f = *state;
	char *id = create_task(&f->alice);
	json_t *r = expect_ok(&f->local, "list_background_tasks", "{\"user_id\": \"admin\"}");
	assert_non_null(strstr(text_of(r), id));
	json_decref(r);
	r = expect_ok(&f->local, "list_background_tasks", "{}");
	assert_null(strstr(text_of(r), id));
	json_decref(r);
	free(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_users_see_only_their_own, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elicitation_confirms_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_approval_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit_edges, setup_tight, teardown),
		cmocka_unit_test_setup_teardown(test_audit_redacts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_local_user_is_trusted, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
