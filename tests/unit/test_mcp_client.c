/*
 * test_mcp_client.c - the MCP client without a real server: the SSE parser
 * of transport/http_client.c, and src/mcp/client.c over an in-memory fake
 * transport whose "server" thread answers (handshake, matching of
 * concurrent responses, JSON-RPC errors, timeouts and cancellation,
 * notifications and their ordering, server->client requests, pagination,
 * progress, session expiry, the peer going away).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "../test_util.h"
#include "common/xalloc.h"
#include "mcp/client.h"
#include "transport/http_client.h"
#include "transport/stdio_client.h"

/* ---- SSE parser ------------------------------------------------------- */

struct sse_events {
	json_t *list; /* [{type, data, id}] */
};

static void sse_collect(void *ctx, const char *type, const char *data, size_t len, const char *id)
{
	struct sse_events *ev = ctx;
	json_t *o = json_pack("{s:s,s:s%}", "type", type, "data", data, len);

	assert_int_equal(strlen(data), len); /* NUL-terminated at len */
	json_object_set_new(o, "id", id ? json_string(id) : json_null());
	json_array_append_new(ev->list, o);
}

/* Feed `text` in chunks of `chunk` bytes (0: all at once). */
static json_t *sse_run(const char *text, size_t chunk, size_t max, long *retry, int *rc_out)
{
	struct http_client_sse p;
	struct sse_events ev = {json_array()};
	size_t n = strlen(text), i = 0;
	struct err e = {0};
	int rc = 0;

	http_client_sse_init(&p, max, sse_collect, &ev);
	if (!chunk)
		chunk = n ? n : 1;
	while (i < n && !rc) {
		size_t k = n - i < chunk ? n - i : chunk;
		rc = http_client_sse_feed(&p, text + i, k, &e);
		i += k;
	}
	if (retry)
		*retry = p.retry_ms;
	if (rc_out)
		*rc_out = rc;
	http_client_sse_cleanup(&p);
	return ev.list;
}

static void assert_event(json_t *list, size_t i, const char *type, const char *data, const char *id)
{
	json_t *o = json_array_get(list, i);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "type")), type);
	assert_string_equal(json_string_value(json_object_get(o, "data")), data);
	if (id)
		assert_string_equal(json_string_value(json_object_get(o, "id")), id);
	else
		assert_true(json_is_null(json_object_get(o, "id")));
}

static void test_sse_basic_and_chunking(void **state)
{
	(void)state;
	const char *text = "id: e1\nretry: 500\ndata: \n\n"              /* priming: empty data */
			   "event: message\nid: e2\ndata: {\"a\":1}\n\n" /* a message */
			   ": keep-alive comment\n\n"                    /* nothing */
			   "data: line1\ndata: line2\n\n"                /* multi-line, id kept */
			   "event: other\ndata:x\n\n"                    /* other type, no space */
			   "data: tail without blank line";              /* dropped at EOF */
	size_t chunks[] = {0, 1, 2, 3, 7, 64};

	for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
		long retry = 0;
		int rc = -1;
		json_t *l = sse_run(text, chunks[c], 0, &retry, &rc);

		assert_int_equal(rc, 0);
		/* The priming event is dispatched with empty data (as browsers do);
		 * the transport skips it. */
		assert_int_equal(json_array_size(l), 4);
		assert_event(l, 0, "message", "", "e1");
		assert_event(l, 1, "message", "{\"a\":1}", "e2");
		assert_event(l, 2, "message", "line1\nline2", "e2");
		assert_event(l, 3, "other", "x", "e2");
		assert_int_equal(retry, 500);
		json_decref(l);
	}
}

static void test_sse_line_endings(void **state)
{
	(void)state;
	/* CRLF, lone CR and LF, in any chunking (a CRLF split across chunks
	 * is one line ending, not two). */
	const char *variants[] = {
		"data: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n",
		"data: a\rdata: b\r\rdata: c\r\r",
		"data: a\ndata: b\n\ndata: c\n\n",
		"data: a\r\ndata: b\r\rdata: c\n\r\n",
	};
	for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
		for (size_t chunk = 0; chunk < 5; chunk++) {
			json_t *l = sse_run(variants[v], chunk, 0, NULL, NULL);
			assert_int_equal(json_array_size(l), 2);
			assert_event(l, 0, "message", "a\nb", NULL);
			assert_event(l, 1, "message", "c", NULL);
			json_decref(l);
		}
	}
}

static void test_sse_fields(void **state)
{
	(void)state;
	long retry;
	json_t *l;

	/* BOM at the start is skipped; "data" without colon is an empty line
	 * of data; an empty id resets the last id; unknown fields ignored;
	 * a bad retry is ignored; a value keeps everything after one space. */
	l = sse_run("\xef\xbb\xbf"
		    "data\ndata\n\n"
		    "id: 7\nfoo: bar\ndata:  two spaces\n\n"
		    "id\ndata: x\n\n"
		    "retry: 12a\nretry: 250\nretry: -1\n"
		    "data: y\nid: 8\n\n",
		    0, 0, &retry, NULL);
	assert_int_equal(json_array_size(l), 4);
	assert_event(l, 0, "message", "\n", NULL);
	assert_event(l, 1, "message", " two spaces", "7");
	assert_event(l, 2, "message", "x", NULL);
	assert_event(l, 3, "message", "y", "8"); /* the id line before the blank line counts */
	assert_int_equal(retry, 250);
	json_decref(l);

	/* The event type resets after each event, also after a data-less one. */
	l = sse_run("event: a\n\ndata: 1\n\nevent: b\ndata: 2\n\ndata: 3\n\n", 0, 0, NULL, NULL);
	assert_int_equal(json_array_size(l), 3);
	assert_event(l, 0, "message", "1", NULL);
	assert_event(l, 1, "b", "2", NULL);
	assert_event(l, 2, "message", "3", NULL);
	json_decref(l);

	/* An id containing NUL is ignored. */
	{
		struct http_client_sse p;
		struct sse_events ev = {json_array()};
		const char text[] = "id: a\0b\ndata: z\n\n";
		http_client_sse_init(&p, 0, sse_collect, &ev);
		assert_int_equal(http_client_sse_feed(&p, text, sizeof text - 1, NULL), 0);
		assert_int_equal(json_array_size(ev.list), 1);
		assert_true(json_is_null(json_object_get(json_array_get(ev.list, 0), "id")));
		http_client_sse_cleanup(&p);
		json_decref(ev.list);
	}
}

static void test_sse_cap(void **state)
{
	(void)state;
	int rc = 0;
	json_t *l;
	char big[200];

	/* Data over the cap, spread over lines that each fit. */
	l = sse_run("data: 0123456789\ndata: 0123456789\ndata: 0123456789\n\n", 0, 25, NULL, &rc);
	assert_int_equal(rc, ERR_TOO_BIG);
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);

	/* One endless line (no newline ever). */
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	l = sse_run(big, 10, 50, NULL, &rc);
	assert_int_equal(rc, ERR_TOO_BIG);
	json_decref(l);

	/* Just under the cap is fine. */
	l = sse_run("data: 0123456789\n\n", 3, 11, NULL, &rc);
	assert_int_equal(rc, 0);
	assert_event(l, 0, "message", "0123456789", NULL);
	json_decref(l);
}

/* ---- A fake transport with a server thread ---------------------------- */

struct fake;
typedef void (*serve_fn)(struct fake *f, json_t *msg);

struct fake {
	struct mcp_transport_events ev;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	json_t *inbox; /* messages for the server thread */
	json_t *sent;  /* every message the client sent */
	bool stop;
	bool thread_started;
	pthread_t tid;
	serve_fn serve;
	const char *init_version; /* answered to initialize; NULL: echo */
	int fail_state;           /* the next N non-initialize requests get ERR_STATE */
	int resets;
	int readies;
	char proto[32];
	json_t *held; /* "gather" requests held for reverse-order replies */
	int gather_n;
};

static void fake_deliver(struct fake *f, json_t *msg)
{
	char *t = json_dumps(msg, JSON_COMPACT);
	f->ev.on_message(f->ev.ctx, t, strlen(t));
	free(t);
	json_decref(msg);
}

static void fake_reply(struct fake *f, const json_t *id, json_t *result)
{
	fake_deliver(f, json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id, "result", result));
}

static void fake_notify(struct fake *f, const char *method, json_t *params)
{
	fake_deliver(f, json_pack("{s:s,s:s,s:o}", "jsonrpc", "2.0", "method", method, "params",
				  params));
}

static void default_serve(struct fake *f, json_t *m)
{
	const char *method = json_string_value(json_object_get(m, "method"));
	json_t *id = json_object_get(m, "id");
	json_t *params = json_object_get(m, "params");

	if (!method || !id)
		return; /* notifications and responses are only recorded */
	if (!strcmp(method, "initialize")) {
		const char *v =
			f->init_version
				? f->init_version
				: json_string_value(json_object_get(params, "protocolVersion"));
		fake_reply(f, id,
			   json_pack("{s:s,s:{s:{}},s:{s:s,s:s},s:s}", "protocolVersion", v,
				     "capabilities", "tools", "serverInfo", "name", "fake",
				     "version", "9", "instructions", "be nice"));
	} else if (!strcmp(method, "tools/list")) {
		const char *cur = json_string_value(json_object_get(params, "cursor"));
		if (!cur)
			fake_reply(f, id,
				   json_pack("{s:[{s:s}],s:s}", "tools", "name", "a", "nextCursor",
					     "p2"));
		else if (!strcmp(cur, "p2"))
			fake_reply(f, id,
				   json_pack("{s:[{s:s},{s:s}],s:s}", "tools", "name", "b", "name",
					     "c", "nextCursor", "p3"));
		else
			fake_reply(f, id, json_pack("{s:[{s:s}]}", "tools", "name", "d"));
	} else if (!strcmp(method, "echo")) {
		fake_reply(f, id, params ? json_deep_copy(params) : json_object());
	} else if (!strcmp(method, "err")) {
		fake_deliver(f, json_pack("{s:s,s:O,s:{s:i,s:s,s:{s:i}}}", "jsonrpc", "2.0", "id",
					  id, "error", "code", -32602, "message", "bad thing",
					  "data", "x", 1));
	} else if (!strcmp(method, "slow")) {
		/* never answered */
	} else if (!strcmp(method, "chatty")) {
		for (int i = 0; i < 5; i++)
			fake_notify(f, "notifications/message",
				    json_pack("{s:s,s:i}", "level", "info", "data", i));
		fake_reply(f, id, json_object());
	} else if (!strcmp(method, "progress")) {
		json_t *tok = json_object_get(json_object_get(params, "_meta"), "progressToken");
		assert_non_null(tok);
		for (int i = 1; i <= 3; i++)
			fake_notify(f, "notifications/progress",
				    json_pack("{s:O,s:i,s:i,s:s}", "progressToken", tok, "progress",
					      i, "total", 3, "message", "step"));
		fake_reply(f, id, json_object());
	} else if (!strcmp(method, "gather")) {
		/* Hold until gather_n arrived, then answer in reverse order. */
		json_array_append(f->held, m);
		if ((int)json_array_size(f->held) == f->gather_n) {
			for (size_t i = json_array_size(f->held); i-- > 0;) {
				json_t *h = json_array_get(f->held, i);
				fake_reply(f, json_object_get(h, "id"),
					   json_pack("{s:O}", "n",
						     json_object_get(json_object_get(h, "params"),
								     "n")));
			}
			json_array_clear(f->held);
		}
	} else {
		fake_deliver(f, json_pack("{s:s,s:O,s:{s:i,s:s}}", "jsonrpc", "2.0", "id", id,
					  "error", "code", -32601, "message", "no such method"));
	}
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		while (!json_array_size(f->inbox) && !f->stop)
			pthread_cond_wait(&f->cond, &f->mu);
		if (f->stop)
			break;
		json_t *m = json_incref(json_array_get(f->inbox, 0));
		json_array_remove(f->inbox, 0);
		pthread_mutex_unlock(&f->mu);
		f->serve(f, m);
		json_decref(m);
		pthread_mutex_lock(&f->mu);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static int fake_start(void *self, const struct mcp_transport_events *ev, struct err *e)
{
	struct fake *f = self;

	(void)e;
	f->ev = *ev;
	assert_int_equal(pthread_create(&f->tid, NULL, fake_main, f), 0);
	f->thread_started = true;
	return 0;
}

static int fake_send(void *self, const char *msg, size_t len, struct mcp_send_ctl *ctl,
		     struct err *e)
{
	struct fake *f = self;
	json_t *m = json_loadb(msg, len, 0, NULL);
	const char *method = json_string_value(json_object_get(m, "method"));

	assert_non_null(m);
	assert_null(memchr(msg, '\n', len));
	/* The ctl names the request's id exactly when it is a request. */
	if (method && json_object_get(m, "id")) {
		assert_non_null(ctl);
		assert_non_null(ctl->id);
		assert_true(jsonrpc_id_equal(ctl->id, json_object_get(m, "id")));
		assert_int_equal(ctl->is_initialize, !strcmp(method, "initialize"));
	} else {
		assert_true(!ctl || !ctl->id);
	}
	pthread_mutex_lock(&f->mu);
	if (f->fail_state > 0 && method && json_object_get(m, "id") &&
	    strcmp(method, "initialize")) {
		f->fail_state--;
		pthread_mutex_unlock(&f->mu);
		json_decref(m);
		return err_set(e, ERR_STATE, "session expired (fake)");
	}
	/* Separate copies: jansson's refcounts are not safe to share between
	 * threads (its decref has no acquire barrier). */
	json_array_append_new(f->inbox, json_deep_copy(m));
	json_array_append_new(f->sent, m);
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static void fake_set_version(void *self, const char *v)
{
	struct fake *f = self;
	snprintf(f->proto, sizeof f->proto, "%s", v);
}

static void fake_ready(void *self)
{
	((struct fake *)self)->readies++;
}

static void fake_reset(void *self)
{
	((struct fake *)self)->resets++;
}

static void fake_close(void *self)
{
	struct fake *f = self;

	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->mu);
	if (f->thread_started) {
		pthread_join(f->tid, NULL);
		f->thread_started = false;
	}
}

static void fake_free(void *self)
{
	(void)self; /* owned by the test */
}

static const struct mcp_client_transport_ops fake_ops = {
	.name = "fake",
	.start = fake_start,
	.send = fake_send,
	.set_protocol_version = fake_set_version,
	.ready = fake_ready,
	.reset_session = fake_reset,
	.close = fake_close,
	.free = fake_free,
};

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof *f);
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->inbox = json_array();
	f->sent = json_array();
	f->held = json_array();
	f->serve = default_serve;
}

static void fake_cleanup(struct fake *f)
{
	json_decref(f->inbox);
	json_decref(f->sent);
	json_decref(f->held);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cond);
}

/* Messages the client sent with this method (new array). */
static json_t *fake_sent(struct fake *f, const char *method)
{
	json_t *out = json_array();
	size_t i;
	json_t *m;

	pthread_mutex_lock(&f->mu);
	json_array_foreach(f->sent, i, m) {
		const char *mm = json_string_value(json_object_get(m, "method"));
		if ((method && mm && !strcmp(mm, method)) || (!method && !mm))
			json_array_append_new(out, json_deep_copy(m));
	}
	pthread_mutex_unlock(&f->mu);
	return out;
}

/* Notifications the application saw. */
struct seen {
	pthread_mutex_t mu;
	json_t *list; /* [{method, params}] */
	json_t *progress;
	int closed;
};

static void seen_notify(void *data, struct mcp_client *c, const char *method, const json_t *params)
{
	struct seen *s = data;
	(void)c;
	pthread_mutex_lock(&s->mu);
	json_array_append_new(s->list, json_pack("{s:s,s:O?}", "method", method, "params", params));
	pthread_mutex_unlock(&s->mu);
}

static void seen_closed(void *data, struct mcp_client *c, const char *why)
{
	struct seen *s = data;
	(void)c;
	(void)why;
	pthread_mutex_lock(&s->mu);
	s->closed++;
	pthread_mutex_unlock(&s->mu);
}

static void seen_init(struct seen *s)
{
	pthread_mutex_init(&s->mu, NULL);
	s->list = json_array();
	s->progress = json_array();
	s->closed = 0;
}

static void seen_cleanup(struct seen *s)
{
	json_decref(s->list);
	json_decref(s->progress);
	pthread_mutex_destroy(&s->mu);
}

static struct mcp_client *client_over(struct fake *f, struct mcp_client_options *o)
{
	struct mcp_client_transport *t = xcalloc(1, sizeof *t);

	t->ops = &fake_ops;
	t->self = f;
	return mcp_client_new(t, o);
}

/* ---- Client tests ------------------------------------------------------ */

static void test_handshake(void **state)
{
	(void)state;
	struct fake f;
	struct mcp_client_options o = {
		.name = "tester", .version = "1.2", .elicitation = true, .roots = true};
	struct mcp_client *c;
	struct err e = {0};
	json_t *inits, *p;

	fake_init(&f);
	f.init_version = "2025-06-18";
	c = client_over(&f, &o);
	assert_int_equal(mcp_client_connect(c, &e), 0);
	assert_true(mcp_client_connected(c));
	assert_string_equal(mcp_client_protocol_version(c), "2025-06-18");
	assert_string_equal(f.proto, "2025-06-18");
	assert_int_equal(f.readies, 1);
	assert_string_equal(json_string_value(json_object_get(mcp_client_server_info(c), "name")),
			    "fake");
	assert_non_null(json_object_get(mcp_client_server_capabilities(c), "tools"));
	assert_string_equal(mcp_client_instructions(c), "be nice");

	inits = fake_sent(&f, "initialize");
	assert_int_equal(json_array_size(inits), 1);
	p = json_object_get(json_array_get(inits, 0), "params");
	assert_string_equal(json_string_value(json_object_get(p, "protocolVersion")), "2025-11-25");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(p, "clientInfo"), "name")),
		"tester");
	assert_non_null(json_object_get(json_object_get(p, "capabilities"), "elicitation"));
	assert_non_null(json_object_get(json_object_get(p, "capabilities"), "roots"));
	assert_null(json_object_get(json_object_get(p, "capabilities"), "sampling"));
	json_decref(inits);
	inits = fake_sent(&f, "notifications/initialized");
	assert_int_equal(json_array_size(inits), 1);
	assert_null(json_object_get(json_array_get(inits, 0), "id"));
	json_decref(inits);

	/* A second connect is refused. */
	assert_int_equal(mcp_client_connect(c, &e), ERR_STATE);
	mcp_client_free(c);
	fake_cleanup(&f);
}

static void test_handshake_bad_version(void **state)
{
	(void)state;
	struct fake f;
	struct mcp_client *c;
	struct err e = {0};
	json_t *r = NULL;

	fake_init(&f);
	f.init_version = "1999-01-01";
	c = client_over(&f, NULL);
	assert_int_equal(mcp_client_connect(c, &e), ERR_VERSION);
	assert_non_null(strstr(e.msg, "1999-01-01"));
	assert_false(mcp_client_connected(c));
	/* Requests before a successful connect are refused. */
	assert_int_equal(mcp_client_request(c, "echo", NULL, 0, &r, &e), ERR_STATE);
	assert_null(r);
	mcp_client_free(c);
	fake_cleanup(&f);

	/* Every version we speak is accepted. */
	const char *ok[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};
	for (size_t i = 0; i < 4; i++) {
		fake_init(&f);
		f.init_version = ok[i];
		c = client_over(&f, NULL);
		assert_int_equal(mcp_client_connect(c, &e), 0);
		assert_string_equal(mcp_client_protocol_version(c), ok[i]);
		mcp_client_free(c);
		fake_cleanup(&f);
	}
}

static void test_request_result_and_error(void **state)
{
	(void)state;
	struct fake f;
	struct mcp_client *c;
	struct err e = {0};
	struct mcp_rpc_error re;
	json_t *r = NULL, *params = json_pack("{s:s}", "x", "y");

	fake_init(&f);
	c = client_over(&f, NULL);
	assert_int_equal(mcp_client_connect(c, &e), 0);

	assert_int_equal(mcp_client_request(c, "echo", params, 0, &r, &e), 0);
	assert_true(json_equal(r, params));
	json_decref(r);

	assert_int_equal(mcp_client_request_ex(c, "err", NULL, NULL, &r, &re, &e), ERR_INVALID);
	assert_null(r);
	assert_int_equal(re.code, -32602);
	assert_string_equal(re.message, "bad thing");
	assert_int_equal(json_integer_value(json_object_get(re.data, "x")), 1);
	assert_non_null(strstr(e.msg, "bad thing"));
	assert_non_null(strstr(e.msg, "-32602"));
	mcp_rpc_error_cleanup(&re);

	assert_int_equal(mcp_client_request(c, "nope", NULL, 0, &r, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "-32601"));

	/* Params must be an object. */
	json_t *arr = json_array();
	assert_int_equal(mcp_client_request(c, "echo", arr, 0, &r, &e), ERR_INVALID);
	json_decref(arr);

	json_decref(params);
	mcp_client_free(c);
	fake_cleanup(&f);
}

struct gather_arg {
	struct mcp_client *c;
	int n;
	int rc;
	long long got;
};

static void *gather_thread(void *arg)
{
	struct gather_arg *g = arg;
	json_t *p = json_pack("{s:i}", "n", g->n), *r = NULL;
	struct err e = {0};

	g->rc = mcp_client_request(g->c, "gather", p, 10000, &r, &e);
	g->got = json_integer_value(json_object_get(r, "n"));
	json_decref(r);
	json_decref(p);
	return NULL;
}

static void test_concurrent_matching(void **state)
{
	(void)state;
	enum { N = 8 };
	struct fake f;
	struct mcp_client *c;
	struct err e = {0};
	struct gather_arg g[N];
	pthread_t tid[N];

	fake_init(&f);
	f.gather_n = N; /* answered in reverse order once all arrived */
	c = client_over(&f, NULL);
	assert_int_equal(mcp_client_connect(c, &e), 0);
	for (int i = 0; i < N; i++) {
		g[i] = (struct gather_arg){.c = c, .n = 100 + i, .rc = -1};
		assert_int_equal(pthread_create(&tid[i], NULL, gather_thread, &g[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(g[i].rc, 0);
		assert_int_equal(g[i].got, 100 + i);
	}
	/* Ids were all different. */
	json_t *sent = fake_sent(&f, "gather"), *ids = json_object();
	size_t i;
	json_t *m;
	json_array_foreach(sent, i, m) {
		char k[32];
		snprintf(k, sizeof k, "%lld", json_integer_value(json_object_get(m, "id")));
		assert_null(json_object_get(ids, k));
		json_object_set_new(ids, k, json_true());
	}
	assert_int_equal(json_object_size(ids), N);
	json_decref(ids);
	json_decref(sent);
	mcp_client_free(c);
	fake_cleanup(&f);
}

static void test_timeout_sends_cancel(void **state)
{
	(void)state;
	struct fake f;
	struct mcp_client *c;
	struct err e = {0};
	json_t *r = NULL, *slow, *cancels;

	fake_init(&f);
	c = client_over(&f, NULL);
	assert_int_equal(mcp_client_connect(c, &e), 0);
	assert_int_equal(mcp_client_request(c, "slow", NULL, 50, &r, &e), ERR_TIMEOUT);
	assert_null(r);
	slow = fake_sent(&f, "slow");
	cancels = fake_sent(&f, "notifications/cancelled");
	assert_int_equal(json_array_size(cancels), 1);
	assert_true(jsonrpc_id_equal(
		json_object_get(json_object_get(json_array_get(cancels, 0), "params"), "requestId"),
		json_object_get(json_array_get(slow, 0), "id")));
	json_decref(slow);
	json_decref(cancels);
	/* The client still works afterwards. */
	assert_int_equal(mcp_client_ping(c, 0, &e), ERR_INVALID); /* the fake has no ping */
	mcp_client_free(c);
	fake_cleanup(&f);
}

static void test_notifications_before_response(void **state)
{
	(void)state;
	struct fake f;
	struct seen s;
	struct mcp_client_options o = {.on_notification = seen_notify};
	struct mcp_client *c;
	struct err e = {0};
	json_t *r = NULL;

	fake_init(&f);
	seen_init(&s);
	o.data = &s;
	c = client_over(&f, &o);
	assert_int_equal(mcp_client_connect(c, &e), 0);
	for (int round = 0; round < 20; round++) {
		assert_int_equal(mcp_client_request(c, "chatty", NULL, 0, &r, &e), 0);
		json_decref(r);
		/* Seen before the request returned, in order. */
		pthread_mutex_lock(&s.mu);
		assert_int_equal(json_array_size(s.list), 5 * (round + 1));
		for (int i = 0; i < 5; i++) {
			json_t *n = json_array_get(s.list, 5 * round + i);
			assert_string_equal(json_string_value(json_object_get(n, "method")),
					    "notifications/message");
			assert_int_equal(json_integer_value(json_object_get(
						 json_object_get(n, "params"), "data")),
					 i);
		}
		pthread_mutex_unlock(&s.mu);
	}
	mcp_client_free(c);
	seen_cleanup(&s);
	fake_cleanup(&f);
}

static void on_progress(void *data, double progress, double total, const char *message)
{
	struct seen *s = data;
	pthread_mutex_lock(&s->mu);
	json_array_append_new(s->progress, json_pack("[f,f,s]", progress, total, message));
	pthread_mutex_unlock(&s->mu);
}

static void test_progress(void **state)
{
	(void)state;
	struct fake f;
	struct seen s;
	struct mcp_client_options o = {.on_notification = seen_notify};
	struct mcp_client *c;
	struct err e = {0};
	json_t *r = NULL;
	struct mcp_request_opts ro = {
		.on_progress = on_progress, .timeout_ms = 5000, .progress_resets_timeout = true};

	fake_init(&f);
	seen_init(&s);
	o.data = &s;
	ro.progress_data = &s;
	c = client_over(&f, &o);
	assert_int_equal(mcp_client_connect(c, &e), 0);
	assert_int_equal(mcp_client_request_ex(c, "progress", NULL, &ro, &r, NULL, &e), 0);
	json_decref(r);
	assert_int_equal(json_array_size(s.progress), 3);
	assert_int_equal(json_real_value(json_array_get(json_array_get(s.progress, 2), 0)), 3);
	assert_int_equal(json_real_value(json_array_get(json_array_get(s.progress, 2), 1)), 3);
	/* Routed to the request, not to on_notification. */
	assert_int_equal(json_array_size(s.list), 0);
	mcp_client_free(c);
	seen_cleanup(&s);
	fake_cleanup(&f);
}

static void test_pagination(void **state)
{
	(void)state;
	struct fake f;
	struct mcp_client *c;
	struct err e = {0};
	json_t *tools = NULL, *lists;

	fake_init(&f);
	c = client_over(&f, NULL);
	assert_int_equal(mcp_client_connect(c, &e), 0);
	assert_int_equal(mcp_client_list_tools(c, &tools, &e), 0);
	assert_int_equal(json_array_size(tools), 4);
	assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 3), "name")),
			    "d");
	lists = fake_sent(&f, "tools/list");
	assert_int_equal(json_array_size(lists), 3);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_array_get(lists, 2), "params"), "cursor")),
			    "p3");
	json_decref(lists);
	json_decref(tools);
	mcp_client_free(c);
	fake_cleanup(&f);
}

/* A serve function that also asks the client things. */
static void asking_serve(struct fake *f, json_t *m)
{
	const char *method = json_string_value(json_object_get(m, "method"));
	json_t *id = json_object_get(m, "id");

	if (method && id && !strcmp(method, "ask")) {
		const char *what =
			json_string_value(json_object_get(json_object_get(m, "params"), "what"));
		fake_deliver(f,
			     json_pack("{s:s,s:s,s:s,s:{s:s,s:{s:s,s:{s:{s:s,s:s}}}}}", "jsonrpc",
				       "2.0", "id", "s1", "method", what, "params", "message", "hi",
				       "requestedSchema", "type", "object", "properties", "name",
				       "type", "string", "default", "Ann"));
		fake_reply(f, id, json_object());
		return;
	}
	default_serve(f, m);
}

static bool has_response(void *arg)
{
	struct fake *f = arg;
	json_t *r = fake_sent(f, NULL);
	bool ok = json_array_size(r) > 0;
	json_decref(r);
	return ok;
}

static int elicit_handler(void *data, struct mcp_client *c, const char *method,
			  const json_t *params, json_t **result, struct mcp_rpc_error *re,
			  struct err *e)
{
	(void)data;
	if (!strcmp(method, "elicitation/create")) {
		json_t *content = mcp_elicitation_apply_defaults(
			json_object_get(params, "requestedSchema"), NULL);
		*result = json_pack("{s:s,s:o}", "action", "accept", "content", content);
		return 0;
	}
	if (!strcmp(method, "sampling/createMessage")) {
		snprintf(re->message, sizeof re->message, "user declined");
		re->code = -1;
		return err_set(e, ERR_PERM, "declined");
	}
	return mcp_client_default_request(c, method, params, result, re, e);
}

static json_t *ask(struct fake *f, struct mcp_client *c, const char *what)
{
	json_t *p = json_pack("{s:s}", "what", what), *r = NULL, *resp;
	struct err e = {0};

	pthread_mutex_lock(&f->mu);
	json_array_clear(f->sent);
	pthread_mutex_unlock(&f->mu);
	assert_int_equal(mcp_client_request(c, "ask", p, 0, &r, &e), 0);
	json_decref(r);
	json_decref(p);
	assert_true(test_wait_until(has_response, f, 10));
	resp = fake_sent(f, NULL);
	assert_int_equal(json_array_size(resp), 1);
	r = json_incref(json_array_get(resp, 0));
	json_decref(resp);
	assert_string_equal(json_string_value(json_object_get(r, "id")), "s1");
	return r;
}

static void test_server_requests(void **state)
{
	(void)state;
	struct fake f;
	struct mcp_client *c;
	struct mcp_client_options o = {.roots = true};
	struct err e = {0};
	json_t *r;

	/* Defaults: ping answered, roots/list with the roots, others -32601. */
	fake_init(&f);
	f.serve = asking_serve;
	c = client_over(&f, &o);
	assert_int_equal(mcp_client_connect(c, &e), 0);
	r = ask(&f, c, "ping");
	assert_true(json_is_object(json_object_get(r, "result")));
	assert_int_equal(json_object_size(json_object_get(r, "result")), 0);
	json_decref(r);
	r = ask(&f, c, "elicitation/create");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "error"), "code")),
			 -32601);
	json_decref(r);
	json_t *roots = json_pack("[{s:s}]", "uri", "file:///tmp");
	mcp_client_set_roots(c, roots);
	json_decref(roots);
	r = ask(&f, c, "roots/list");
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(json_object_get(r, "result"), "roots"), 0),
			"uri")),
		"file:///tmp");
	json_decref(r);
	r = fake_sent(&f, "notifications/roots/list_changed");
	json_decref(r);
	mcp_client_free(c);
	fake_cleanup(&f);

	/* A handler: elicitation accepted with the schema's defaults. */
	fake_init(&f);
	f.serve = asking_serve;
	o.on_request = elicit_handler;
	c = client_over(&f, &o);
	assert_int_equal(mcp_client_connect(c, &e), 0);
	r = ask(&f, c, "elicitation/create");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(r, "result"), "action")),
		"accept");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(r, "result"), "content"), "name")),
		"Ann");
	json_decref(r);
	r = ask(&f, c, "sampling/createMessage");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "error"), "code")),
			 -1);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(r, "error"), "message")),
		"user declined");
	json_decref(r);
	r = ask(&f, c, "ping");
	assert_non_null(json_object_get(r, "result"));
	json_decref(r);
	mcp_client_free(c);
	fake_cleanup(&f);
}

static void test_session_expiry(void **state)
{
	(void)state;
	struct fake f;
	struct mcp_client *c;
	struct mcp_client_options o = {0};
	struct err e = {0};
	json_t *r = NULL, *inits;

	/* Without the option: ERR_STATE is reported. */
	fake_init(&f);
	c = client_over(&f, &o);
	assert_int_equal(mcp_client_connect(c, &e), 0);
	f.fail_state = 1;
	assert_int_equal(mcp_client_request(c, "echo", NULL, 0, &r, &e), ERR_STATE);
	assert_int_equal(mcp_client_request(c, "echo", NULL, 0, &r, &e), 0);
	json_decref(r);
	mcp_client_free(c);
	fake_cleanup(&f);

	/* With it: a new handshake, then the request is retried. */
	fake_init(&f);
	o.reinitialize_on_expiry = true;
	c = client_over(&f, &o);
	assert_int_equal(mcp_client_connect(c, &e), 0);
	f.fail_state = 1;
	assert_int_equal(mcp_client_request(c, "echo", NULL, 0, &r, &e), 0);
	json_decref(r);
	assert_int_equal(f.resets, 1);
	assert_int_equal(f.readies, 2);
	inits = fake_sent(&f, "initialize");
	assert_int_equal(json_array_size(inits), 2);
	json_decref(inits);
	mcp_client_free(c);
	fake_cleanup(&f);
}

/* A serve function that reports the peer gone on "die". */
static void dying_serve(struct fake *f, json_t *m)
{
	const char *method = json_string_value(json_object_get(m, "method"));
	if (method && !strcmp(method, "die")) {
		f->ev.on_closed(f->ev.ctx, ERR_IO, "fake server exited");
		return;
	}
	default_serve(f, m);
}

static bool seen_closed_once(void *arg)
{
	struct seen *s = arg;
	int n;

	pthread_mutex_lock(&s->mu);
	n = s->closed;
	pthread_mutex_unlock(&s->mu);
	return n == 1;
}

static void test_peer_gone(void **state)
{
	(void)state;
	struct fake f;
	struct seen s;
	struct mcp_client_options o = {.on_closed = seen_closed};
	struct mcp_client *c;
	struct err e = {0};
	json_t *r = NULL;

	fake_init(&f);
	seen_init(&s);
	o.data = &s;
	f.serve = dying_serve;
	c = client_over(&f, &o);
	assert_int_equal(mcp_client_connect(c, &e), 0);
	assert_int_equal(mcp_client_request(c, "die", NULL, 10000, &r, &e), ERR_IO);
	assert_false(mcp_client_connected(c));
	assert_true(test_wait_until(seen_closed_once, &s, 10));
	assert_int_equal(mcp_client_request(c, "echo", NULL, 0, &r, &e), ERR_IO);
	assert_int_equal(mcp_client_notify(c, "notifications/x", NULL, &e), ERR_IO);
	mcp_client_free(c);
	seen_cleanup(&s);
	fake_cleanup(&f);
}

struct closer {
	struct mcp_client *c;
	int rc;
};

static void *slow_thread(void *arg)
{
	struct closer *cl = arg;
	json_t *r = NULL;
	struct err e = {0};

	cl->rc = mcp_client_request(cl->c, "slow", NULL, 60000, &r, &e);
	return NULL;
}

static bool slow_sent(void *arg)
{
	struct fake *f = arg;
	json_t *s = fake_sent(f, "slow");
	bool ok = json_array_size(s) > 0;
	json_decref(s);
	return ok;
}

static void test_close_wakes_waiters(void **state)
{
	(void)state;
	struct fake f;
	struct mcp_client *c;
	struct err e = {0};
	struct closer cl = {.rc = -1};
	pthread_t tid;

	fake_init(&f);
	c = client_over(&f, NULL);
	assert_int_equal(mcp_client_connect(c, &e), 0);
	cl.c = c;
	assert_int_equal(pthread_create(&tid, NULL, slow_thread, &cl), 0);
	assert_true(test_wait_until(slow_sent, &f, 10));
	mcp_client_close(c);
	pthread_join(tid, NULL);
	assert_int_equal(cl.rc, ERR_IO);
	mcp_client_free(c);
	fake_cleanup(&f);
}

static void test_malformed_messages_ignored(void **state)
{
	(void)state;
	struct fake f;
	struct mcp_client *c;
	struct err e = {0};
	json_t *r = NULL;
	const char *junk[] = {"",
			      "{",
			      "[]",
			      "[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}]",
			      "{\"jsonrpc\":\"2.0\",\"id\":999,\"result\":{}}",
			      "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,"
			      "\"message\":\"parse error\"}}",
			      "{\"jsonrpc\":\"1.0\",\"method\":\"x\"}",
			      "42",
			      "null"};

	fake_init(&f);
	c = client_over(&f, NULL);
	assert_int_equal(mcp_client_connect(c, &e), 0);
	for (size_t i = 0; i < sizeof junk / sizeof *junk; i++)
		f.ev.on_message(f.ev.ctx, junk[i], strlen(junk[i]));
	assert_int_equal(mcp_client_request(c, "echo", NULL, 0, &r, &e), 0);
	json_decref(r);
	mcp_client_free(c);
	fake_cleanup(&f);
}

static void test_apply_defaults(void **state)
{
	(void)state;
	json_t *schema = json_pack(
		"{s:s,s:{s:{s:s,s:s},s:{s:s,s:i},s:{s:s,s:f},s:{s:s,s:[s,s],s:s},s:{s:s,s:b},"
		"s:{s:s}}}",
		"type", "object", "properties", "name", "type", "string", "default", "John Doe",
		"age", "type", "integer", "default", 30, "score", "type", "number", "default", 95.5,
		"status", "type", "string", "enum", "active", "inactive", "default", "active",
		"verified", "type", "boolean", "default", 1, "nodefault", "type", "string");
	json_t *given = json_pack("{s:s}", "name", "Zed");
	json_t *out = mcp_elicitation_apply_defaults(schema, given);

	assert_string_equal(json_string_value(json_object_get(out, "name")), "Zed");
	assert_int_equal(json_integer_value(json_object_get(out, "age")), 30);
	assert_true(json_real_value(json_object_get(out, "score")) == 95.5);
	assert_string_equal(json_string_value(json_object_get(out, "status")), "active");
	assert_true(json_is_true(json_object_get(out, "verified")));
	assert_null(json_object_get(out, "nodefault"));
	assert_int_equal(json_object_size(given), 1); /* input untouched */
	json_decref(out);
	out = mcp_elicitation_apply_defaults(NULL, NULL);
	assert_int_equal(json_object_size(out), 0);
	json_decref(out);
	json_decref(given);
	json_decref(schema);
}

static void test_transport_options(void **state)
{
	(void)state;
	struct mcp_client_transport *t = NULL;
	struct http_client_options ho = {0};
	struct stdio_client_options so = {0};
	struct err e = {0};
	const char *urls[] = {"http://127.0.0.1:1/mcp", "ftp://x"};

	assert_int_equal(http_client_new(&ho, &t, &e), ERR_INVALID);
	ho.url = "file:///etc/passwd";
	assert_int_equal(http_client_new(&ho, &t, &e), ERR_INVALID);
	ho.urls = urls;
	ho.nurls = 2;
	assert_int_equal(http_client_new(&ho, &t, &e), ERR_INVALID);
	ho.nurls = 1;
	assert_int_equal(http_client_new(&ho, &t, &e), 0);
	assert_string_equal(http_client_url(t), "http://127.0.0.1:1/mcp");
	assert_null(http_client_session_id(t));
	mcp_client_transport_free(t);

	assert_int_equal(stdio_client_new(&so, &t, &e), ERR_INVALID);
	so.command = "true";
	assert_int_equal(stdio_client_new(&so, &t, &e), 0);
	assert_int_equal(stdio_client_pid(t), -1);
	mcp_client_transport_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sse_basic_and_chunking),
		cmocka_unit_test(test_sse_line_endings),
		cmocka_unit_test(test_sse_fields),
		cmocka_unit_test(test_sse_cap),
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_handshake_bad_version),
		cmocka_unit_test(test_request_result_and_error),
		cmocka_unit_test(test_concurrent_matching),
		cmocka_unit_test(test_timeout_sends_cancel),
		cmocka_unit_test(test_notifications_before_response),
		cmocka_unit_test(test_progress),
		cmocka_unit_test(test_pagination),
		cmocka_unit_test(test_server_requests),
		cmocka_unit_test(test_session_expiry),
		cmocka_unit_test(test_peer_gone),
		cmocka_unit_test(test_close_wakes_waiters),
		cmocka_unit_test(test_malformed_messages_ignored),
		cmocka_unit_test(test_apply_defaults),
		cmocka_unit_test(test_transport_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
