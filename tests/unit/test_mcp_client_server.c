/*
 * test_mcp_client_server.c - ambient's MCP client against ambient's MCP
 * server, in both transports:
 *  - Streamable HTTP: an in-process http_server (127.0.0.1, ephemeral port)
 *    with a few tiny tools, a resource and a prompt, driven by the HTTP
 *    client transport (pagination, tools, isError, JSON-RPC errors, logging
 *    and progress notifications, elicitation, stream resumption, timeouts
 *    with cancellation, resource subscriptions over the GET stream,
 *    concurrent calls, URL failover, session expiry and re-initialize);
 *  - stdio: this test program re-executes itself with --stdio-server (the
 *    same registry on stdio_server_run) under the stdio client transport,
 *    and the shutdown sequence is checked on a child that ignores SIGTERM.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "../test_util.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "mcp/client.h"
#include "mcp/server.h"
#include "transport/http_client.h"
#include "transport/http_server.h"
#include "transport/stdio_client.h"
#include "transport/stdio_server.h"

/* ---- The server side ------------------------------------------------- */

static atomic_int slow_cancelled; /* the slow tool saw its cancellation */

static int t_add(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)call, (void)e;
	double a = json_number_value(json_object_get(args, "a"));
	double b = json_number_value(json_object_get(args, "b"));
	*result = mcp_result_structured(json_pack("{s:f}", "sum", a + b), NULL);
	return 0;
}

static int t_fail(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)call, (void)args, (void)result;
	return err_set(e, ERR_INVALID, "this tool always fails");
}

static int t_chatty(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)args, (void)e;
	for (int i = 0; i < 3; i++) {
		json_t *d = json_pack("{s:i}", "step", i);
		mcp_call_log(call, MCP_LOG_INFO, "chatty", d);
		json_decref(d);
		mcp_call_progress(call, i + 1, 3, "working");
	}
	*result = mcp_result_text("done");
	return 0;
}

static int t_ask(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)args;
	json_t *p = json_pack("{s:s,s:{s:s,s:{s:{s:s,s:s}}}}", "message", "Your name?",
			      "requestedSchema", "type", "object", "properties", "name", "type",
			      "string", "default", "Ann");
	json_t *r = NULL;
	int rc = mcp_call_request(call, "elicitation/create", p, 5000, &r, e);
	json_decref(p);
	if (rc)
		return rc;
	*result = mcp_result_structured(r, NULL);
	return 0;
}

static int t_resume(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)args, (void)e;
	mcp_call_close_stream(call, 50);
	*result = mcp_result_text("after the reconnect");
	return 0;
}

static int t_slow(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)args, (void)e;
	double end = test_now() + 20;
	/* A tool that runs until cancelled (checked every millisecond). */
	while (!mcp_call_cancelled(call) && test_now() < end)
		usleep(1000);
	if (mcp_call_cancelled(call))
		atomic_store(&slow_cancelled, 1);
	*result = mcp_result_text("too late");
	return 0;
}

static int r_read(struct mcp_call *call, const char *uri, const json_t *vars, json_t **contents,
		  struct err *e)
{
	(void)call, (void)vars, (void)e;
	*contents =
		json_pack("[{s:s,s:s,s:s}]", "uri", uri, "mimeType", "text/plain", "text", "hello");
	return 0;
}

static int p_greet(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)call, (void)e;
	char *text = xasprintf("Hello, %s!", json_string_value(json_object_get(args, "name")));
	*result = json_pack("{s:[{s:s,s:{s:s,s:s}}]}", "messages", "role", "user", "content",
			    "type", "text", "text", text);
	free(text);
	return 0;
}

static const struct mcp_prompt_arg greet_args[] = {{"name", "who", true}};

static struct mcp_server *make_server(void)
{
	struct mcp_server_options so = {.name = "tiny", .version = "1", .page_size = 2};
	struct mcp_server *srv = mcp_server_new(&so);
	struct err e = {0};
	const struct mcp_tool tools[] = {
		{.name = "add",
		 .description = "a+b",
		 .fn = t_add,
		 .input_schema = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\"},"
				 "\"b\":{\"type\":\"number\"}},\"required\":[\"a\",\"b\"]}"},
		{.name = "fail", .description = "fails", .fn = t_fail},
		{.name = "chatty", .description = "logs", .fn = t_chatty},
		{.name = "ask", .description = "elicits", .fn = t_ask},
		{.name = "resume", .description = "drops its stream", .fn = t_resume},
		{.name = "slow", .description = "waits to be cancelled", .fn = t_slow},
	};
	for (size_t i = 0; i < sizeof tools / sizeof *tools; i++)
		assert_int_equal(mcp_server_add_tool(srv, &tools[i], &e), 0);
	struct mcp_resource r = {.uri = "test://r1", .name = "r1", .read = r_read};
	assert_int_equal(mcp_server_add_resource(srv, &r, &e), 0);
	struct mcp_prompt p = {.name = "greet",
			       .description = "greets",
			       .args = greet_args,
			       .nargs = 1,
			       .get = p_greet};
	assert_int_equal(mcp_server_add_prompt(srv, &p, &e), 0);
	return srv;
}

/* ---- Client-side helpers --------------------------------------------- */

struct seen {
	pthread_mutex_t mu;
	json_t *notes;
	int progress;
	int elicitations;
};

static void seen_notify(void *data, struct mcp_client *c, const char *method, const json_t *params)
{
	struct seen *s = data;
	(void)c;
	pthread_mutex_lock(&s->mu);
	json_array_append_new(s->notes, json_pack("{s:s,s:o}", "method", method, "params",
						  params ? json_deep_copy(params) : json_null()));
	pthread_mutex_unlock(&s->mu);
}

static int seen_count(struct seen *s, const char *method)
{
	size_t i;
	json_t *n;
	int k = 0;

	pthread_mutex_lock(&s->mu);
	json_array_foreach(s->notes, i, n)
		if (!strcmp(json_string_value(json_object_get(n, "method")), method))
			k++;
	pthread_mutex_unlock(&s->mu);
	return k;
}

static int on_request(void *data, struct mcp_client *c, const char *method, const json_t *params,
		      json_t **result, struct mcp_rpc_error *re, struct err *e)
{
	struct seen *s = data;
	if (!strcmp(method, "elicitation/create")) {
		pthread_mutex_lock(&s->mu);
		s->elicitations++;
		pthread_mutex_unlock(&s->mu);
		*result = json_pack("{s:s,s:o}", "action", "accept", "content",
				    mcp_elicitation_apply_defaults(
					    json_object_get(params, "requestedSchema"), NULL));
		return 0;
	}
	return mcp_client_default_request(c, method, params, result, re, e);
}

static void on_progress(void *data, double progress, double total, const char *message)
{
	struct seen *s = data;
	(void)progress, (void)total, (void)message;
	pthread_mutex_lock(&s->mu);
	s->progress++;
	pthread_mutex_unlock(&s->mu);
}

static void seen_init(struct seen *s)
{
	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->mu, NULL);
	s->notes = json_array();
}

static void seen_cleanup(struct seen *s)
{
	json_decref(s->notes);
	pthread_mutex_destroy(&s->mu);
}

static struct mcp_client *http_connect(const char *const *urls, size_t n, struct seen *s,
				       bool reinit, struct err *e, int *rc)
{
	struct http_client_options ho = {.urls = urls, .nurls = n, .connect_timeout_ms = 2000};
	struct mcp_client_options co = {.name = "test",
					.version = "1",
					.elicitation = true,
					.on_notification = seen_notify,
					.on_request = on_request,
					.data = s,
					.reinitialize_on_expiry = reinit,
					.request_timeout_ms = 20000};
	struct mcp_client_transport *t = NULL;
	struct mcp_client *c;

	assert_int_equal(http_client_new(&ho, &t, e), 0);
	c = mcp_client_new(t, &co);
	*rc = mcp_client_connect(c, e);
	return c;
}

/* tools/call add {a, b}. */
static int call_add(struct mcp_client *c, int a, int b, json_t **r, struct err *e)
{
	json_t *args = json_pack("{s:i,s:i}", "a", a, "b", b);
	int rc = mcp_client_call_tool(c, "add", args, 0, r, e);

	json_decref(args);
	return rc;
}

static const char *text_of(const json_t *result)
{
	return json_string_value(
		json_object_get(json_array_get(json_object_get(result, "content"), 0), "text"));
}

struct server_fixture {
	struct mcp_server *srv;
	struct http_server *h;
	char url[64];
	int port;
};

static void start_http(struct server_fixture *f, int port)
{
	struct http_server_options ho = {.host = "127.0.0.1", .port = port};
	struct err e = {0};

	if (!f->srv)
		f->srv = make_server();
	int rc = http_server_start(f->srv, &ho, &f->h, &e);
	if (rc)
		fprintf(stderr, "http_server_start: %s\n", err_msg(&e));
	assert_int_equal(rc, 0);
	f->port = http_server_port(f->h);
	snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d/mcp", f->port);
}

static void stop_http(struct server_fixture *f, bool free_srv)
{
	http_server_free(f->h);
	f->h = NULL;
	if (free_srv) {
		mcp_server_free(f->srv);
		f->srv = NULL;
	}
}

/* ---- HTTP ------------------------------------------------------------- */

static bool notified_updated(void *arg)
{
	return seen_count(arg, "notifications/resources/updated") > 0;
}

static bool slow_was_cancelled(void *arg)
{
	(void)arg;
	return atomic_load(&slow_cancelled) == 1;
}

static void exercise(struct mcp_client *c, struct seen *s, struct mcp_server *srv)
{
	struct err e = {0};
	struct mcp_rpc_error re;
	json_t *r = NULL, *list = NULL;

	/* Lists follow nextCursor (page size 2). */
	assert_int_equal(mcp_client_list_tools(c, &list, &e), 0);
	assert_int_equal(json_array_size(list), 6);
	json_decref(list);

	assert_int_equal(call_add(c, 2, 3, &r, &e), 0);
	assert_true(json_number_value(
			    json_object_get(json_object_get(r, "structuredContent"), "sum")) == 5);
	json_decref(r);

	/* Execution errors are results; unknown tools and bad arguments
	 * are whatever the server makes of them, but never a hang. */
	assert_int_equal(mcp_client_call_tool(c, "fail", NULL, 0, &r, &e), 0);
	assert_true(json_is_true(json_object_get(r, "isError")));
	assert_non_null(strstr(text_of(r), "always fails"));
	json_decref(r);
	json_t *p = json_pack("{s:s}", "name", "no_such_tool");
	int rc = mcp_client_request_ex(c, "tools/call", p, NULL, &r, &re, &e);
	json_decref(p);
	if (rc == 0) {
		assert_true(json_is_true(json_object_get(r, "isError")));
		json_decref(r);
	} else {
		assert_int_equal(rc, ERR_INVALID);
		assert_int_equal(re.code, -32602);
		mcp_rpc_error_cleanup(&re);
	}
	assert_int_equal(mcp_client_request_ex(c, "no/such/method", NULL, NULL, &r, &re, &e),
			 ERR_INVALID);
	assert_int_equal(re.code, -32601);
	mcp_rpc_error_cleanup(&re);

	/* Logging and progress arrive before the result. */
	assert_int_equal(mcp_client_set_log_level(c, "debug", &e), 0);
	struct mcp_request_opts ro = {.on_progress = on_progress, .progress_data = s};
	p = json_pack("{s:s,s:{}}", "name", "chatty", "arguments");
	assert_int_equal(mcp_client_request_ex(c, "tools/call", p, &ro, &r, NULL, &e), 0);
	json_decref(p);
	assert_string_equal(text_of(r), "done");
	json_decref(r);
	assert_int_equal(seen_count(s, "notifications/message"), 3);
	assert_int_equal(s->progress, 3);

	/* Elicitation: the server asks in the middle of a call. */
	assert_int_equal(mcp_client_call_tool(c, "ask", NULL, 0, &r, &e), 0);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(r, "structuredContent"), "content"),
			"name")),
		"Ann");
	assert_int_equal(s->elicitations, 1);
	json_decref(r);

	/* Resources, subscriptions and prompts. */
	assert_int_equal(mcp_client_list_resources(c, &list, &e), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	assert_int_equal(mcp_client_read_resource(c, "test://r1", &r, &e), 0);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(r, "contents"), 0), "text")),
			    "hello");
	json_decref(r);
	assert_int_equal(mcp_client_subscribe(c, "test://r1", &e), 0);
	mcp_server_resource_updated(srv, "test://r1");
	assert_true(test_wait_until(notified_updated, s, 10));
	assert_int_equal(mcp_client_unsubscribe(c, "test://r1", &e), 0);
	assert_int_equal(mcp_client_list_prompts(c, &list, &e), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	p = json_pack("{s:s}", "name", "Bo");
	assert_int_equal(mcp_client_get_prompt(c, "greet", p, &r, &e), 0);
	json_decref(p);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_array_get(json_object_get(r, "messages"), 0),
					"content"),
			"text")),
		"Hello, Bo!");
	json_decref(r);
	assert_int_equal(mcp_client_ping(c, 0, &e), 0);
}

static void test_http_full(void **state)
{
	(void)state;
	struct server_fixture f = {0};
	struct seen s;
	struct err e = {0};
	int rc;

	start_http(&f, 0);
	seen_init(&s);
	const char *urls[] = {f.url};
	struct mcp_client *c = http_connect(urls, 1, &s, false, &e, &rc);
	if (rc)
		fprintf(stderr, "connect: %s\n", err_msg(&e));
	assert_int_equal(rc, 0);
	assert_string_equal(mcp_client_protocol_version(c), "2025-11-25");
	exercise(c, &s, f.srv);
	mcp_client_free(c);
	seen_cleanup(&s);
	stop_http(&f, true);
}

static void test_http_resume_and_timeout(void **state)
{
	(void)state;
	struct server_fixture f = {0};
	struct seen s;
	struct err e = {0};
	json_t *r = NULL;
	int rc;

	start_http(&f, 0);
	seen_init(&s);
	const char *urls[] = {f.url};
	struct mcp_client *c = http_connect(urls, 1, &s, false, &e, &rc);
	assert_int_equal(rc, 0);

	/* The server ends the POST stream before the result: we resume. */
	for (int i = 0; i < 3; i++) {
		rc = mcp_client_call_tool(c, "resume", NULL, 0, &r, &e);
		if (rc)
			fprintf(stderr, "resume: %s\n", err_msg(&e));
		assert_int_equal(rc, 0);
		assert_string_equal(text_of(r), "after the reconnect");
		json_decref(r);
	}

	/* A timeout cancels the call on the server. */
	atomic_store(&slow_cancelled, 0);
	assert_int_equal(mcp_client_call_tool(c, "slow", NULL, 200, &r, &e), ERR_TIMEOUT);
	assert_true(test_wait_until(slow_was_cancelled, NULL, 10));
	/* ... and the client goes on. */
	assert_int_equal(mcp_client_ping(c, 0, &e), 0);
	mcp_client_free(c);
	seen_cleanup(&s);
	stop_http(&f, true);
}

struct adder {
	struct mcp_client *c;
	int i;
	int rc;
	double sum;
};

static void *adder_main(void *arg)
{
	struct adder *a = arg;
	struct err e = {0};
	json_t *r = NULL;

	for (int k = 0; k < 10 && !a->rc; k++) {
		a->rc = call_add(a->c, a->i, k, &r, &e);
		a->sum += json_number_value(
			json_object_get(json_object_get(r, "structuredContent"), "sum"));
		json_decref(r);
		r = NULL;
	}
	return NULL;
}

static void test_http_concurrent(void **state)
{
	(void)state;
	enum { N = 6 };
	struct server_fixture f = {0};
	struct seen s;
	struct err e = {0};
	struct adder a[N];
	pthread_t tid[N];
	int rc;

	start_http(&f, 0);
	seen_init(&s);
	const char *urls[] = {f.url};
	struct mcp_client *c = http_connect(urls, 1, &s, false, &e, &rc);
	assert_int_equal(rc, 0);
	for (int i = 0; i < N; i++) {
		a[i] = (struct adder){.c = c, .i = i};
		assert_int_equal(pthread_create(&tid[i], NULL, adder_main, &a[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(a[i].rc, 0);
		assert_true(a[i].sum == 10 * i + 45);
	}
	mcp_client_free(c);
	seen_cleanup(&s);
	stop_http(&f, true);
}

/* Sessions that come and go (as in the stateless HTTP mode, one per
 * request) while another thread broadcasts: a broadcast must never take a
 * reference to a session whose last reference is being dropped (it used to,
 * and the session was freed twice; ASan sees it). */
struct churn {
	struct mcp_server *srv;
	atomic_int stop;
	int made;
};

static void *churn_main(void *arg)
{
	struct churn *ch = arg;
	for (int k = 0; k < 3000; k++) {
		struct mcp_session *s = mcp_session_new(ch->srv, NULL);
		mcp_session_assume_initialized(s, NULL);
		mcp_session_unref(s);
		ch->made++;
	}
	return NULL;
}

static void *broadcast_main(void *arg)
{
	struct churn *ch = arg;
	const char *uri = "test://r1";
	while (!atomic_load(&ch->stop))
		mcp_server_resources_updated(ch->srv, &uri, 1);
	return NULL;
}

static void test_session_churn_under_broadcast(void **state)
{
	(void)state;
	struct churn ch[2] = {{.srv = make_server()}};
	ch[1].srv = ch[0].srv;
	pthread_t maker[2], caster;
	assert_int_equal(pthread_create(&caster, NULL, broadcast_main, &ch[0]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&maker[i], NULL, churn_main, &ch[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(maker[i], NULL);
	atomic_store(&ch[0].stop, 1);
	pthread_join(caster, NULL);
	assert_int_equal(ch[0].made + ch[1].made, 6000);
	mcp_server_free(ch[0].srv);
}

static void test_http_failover_and_expiry(void **state)
{
	(void)state;
	struct server_fixture f = {0};
	struct seen s;
	struct err e = {0};
	json_t *r = NULL;
	int rc, port;

	start_http(&f, 0);
	seen_init(&s);
	/* Port 1 on loopback refuses: the client moves on to the next URL. */
	const char *urls[] = {"http://127.0.0.1:1/mcp", f.url};
	struct mcp_client *c = http_connect(urls, 2, &s, true, &e, &rc);
	if (rc)
		fprintf(stderr, "connect: %s\n", err_msg(&e));
	assert_int_equal(rc, 0);

	/* Restart the server on the same port: the session is unknown there
	 * (404), and the client initializes a new one. */
	port = f.port;
	stop_http(&f, false);
	start_http(&f, port);
	rc = call_add(c, 1, 1, &r, &e);
	if (rc)
		fprintf(stderr, "after restart: %s\n", err_msg(&e));
	assert_int_equal(rc, 0);
	json_decref(r);
	mcp_client_free(c);

	/* Without re-initialize the expiry is reported as ERR_STATE. */
	c = http_connect(urls, 2, &s, false, &e, &rc);
	assert_int_equal(rc, 0);
	stop_http(&f, false);
	start_http(&f, port);
	assert_int_equal(call_add(c, 1, 1, &r, &e), ERR_STATE);
	mcp_client_free(c);

	/* Nobody listening at all. */
	const char *dead[] = {"http://127.0.0.1:1/mcp"};
	c = http_connect(dead, 1, &s, false, &e, &rc);
	assert_int_equal(rc, ERR_IO);
	mcp_client_free(c);

	seen_cleanup(&s);
	stop_http(&f, true);
}

/* ---- stdio ------------------------------------------------------------ */

static char self_exe[4096];

static void test_stdio(void **state)
{
	(void)state;
	struct seen s;
	struct err e = {0};
	const char *argv[] = {self_exe, "--stdio-server", NULL};
	struct stdio_client_options so = {.argv = argv};
	struct mcp_client_options co = {.name = "test",
					.version = "1",
					.elicitation = true,
					.on_notification = seen_notify,
					.on_request = on_request,
					.request_timeout_ms = 20000};
	struct mcp_client_transport *t = NULL;
	struct mcp_client *c;
	json_t *r = NULL, *list = NULL;

	seen_init(&s);
	co.data = &s;
	assert_int_equal(stdio_client_new(&so, &t, &e), 0);
	c = mcp_client_new(t, &co);
	int rc = mcp_client_connect(c, &e);
	if (rc)
		fprintf(stderr, "connect: %s\n", err_msg(&e));
	assert_int_equal(rc, 0);
	assert_true(stdio_client_pid(t) > 0);

	assert_int_equal(mcp_client_list_tools(c, &list, &e), 0);
	assert_int_equal(json_array_size(list), 6);
	json_decref(list);
	assert_int_equal(call_add(c, 20, 22, &r, &e), 0);
	assert_true(json_number_value(
			    json_object_get(json_object_get(r, "structuredContent"), "sum")) == 42);
	json_decref(r);
	assert_int_equal(mcp_client_set_log_level(c, "info", &e), 0);
	assert_int_equal(mcp_client_call_tool(c, "chatty", NULL, 0, &r, &e), 0);
	json_decref(r);
	assert_int_equal(seen_count(&s, "notifications/message"), 3);
	assert_int_equal(mcp_client_call_tool(c, "ask", NULL, 0, &r, &e), 0);
	json_decref(r);
	assert_int_equal(s.elicitations, 1);

	/* Closing stdin is enough for our server to exit cleanly. */
	mcp_client_close(c);
	int st = stdio_client_exit_status(t);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	mcp_client_free(c);
	seen_cleanup(&s);
}

static void test_stdio_shutdown_escalates(void **state)
{
	(void)state;
	struct err e = {0};
	/* A "server" that never answers, ignores stdin EOF and SIGTERM. */
	struct stdio_client_options so = {.command = "trap '' TERM; exec sleep 30",
					  .shutdown_grace_ms = 100};
	struct mcp_client_options co = {.connect_timeout_ms = 100};
	struct mcp_client_transport *t = NULL;
	struct mcp_client *c;

	assert_int_equal(stdio_client_new(&so, &t, &e), 0);
	c = mcp_client_new(t, &co);
	assert_int_equal(mcp_client_connect(c, &e), ERR_TIMEOUT);
	mcp_client_close(c);
	int st = stdio_client_exit_status(t);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	mcp_client_free(c);

	/* A command that does not exist: the shell exits 127, we see the
	 * connection close instead of hanging. */
	so.command = "/nonexistent/mcp-server";
	so.stderr_null = true;
	co.connect_timeout_ms = 20000;
	assert_int_equal(stdio_client_new(&so, &t, &e), 0);
	c = mcp_client_new(t, &co);
	assert_int_equal(mcp_client_connect(c, &e), ERR_IO);
	mcp_client_free(c);
}

static int stdio_server_main(void)
{
	struct mcp_server *srv = make_server();
	struct stdio_server_options io = {0};
	struct err e = {0};
	int rc;

	signal(SIGPIPE, SIG_IGN);
	rc = stdio_server_run(srv, &io, &e);
	if (rc)
		fprintf(stderr, "stdio server: %s\n", err_msg(&e));
	mcp_server_free(srv);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--stdio-server"))
		return stdio_server_main();
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
	if (n <= 0)
		return 1;
	self_exe[n] = '\0';

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_full),
		cmocka_unit_test(test_http_resume_and_timeout),
		cmocka_unit_test(test_http_concurrent),
		cmocka_unit_test(test_session_churn_under_broadcast),
		cmocka_unit_test(test_http_failover_and_expiry),
		cmocka_unit_test(test_stdio),
		cmocka_unit_test(test_stdio_shutdown_escalates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
