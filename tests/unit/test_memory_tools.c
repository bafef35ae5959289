/*
 * test_memory_tools.c - the memory tools end to end, in process: a temp
 * SQLite store, an mcp_server with ambient's rows, one session driven with
 * JSON-RPC text (as test_mcp_app.c does).
 *
 * Covers remember (upsert, defaults kept, no event when nothing changes),
 * update_memory, forget (not_found without asking, the confirmation of a
 * HIGH tool), search_memories (ranking by relevance, importance, recency;
 * prefix, phrase, any-word and substring fallbacks; one-character and empty
 * queries; filters; text that tries to be search syntax), and that memories
 * survive closing the store and a replay of the log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>

#include "../test_util.h"
#include "app/mcp_app.h"
#include "app/mcp_internal.h"
#include "app/tasks.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "domain/memory.h"
#include "mcp/schema.h"
#include "mcp/server.h"

/* ---- capture sink ------------------------------------------------------------- */

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

/* ---- fixture: start and stop, so a test can reopen the same store ----------------- */

struct fx {
	char *dir;
	char url[4200];
	struct store *s;
	struct mcp_server *srv;
	struct app_mcp *app;
	struct mcp_session *sess;
	struct capture reply, out;
	struct mcp_sink reply_sink, out_sink;
	json_t *tools;
	int next_id;
};

static json_t *rpc_raw(struct fx *f, const char *text)
{
	size_t before, after;
	json_t *last = NULL;

	pthread_mutex_lock(&f->reply.mu);
	before = json_array_size(f->reply.msgs);
	pthread_mutex_unlock(&f->reply.mu);
	mcp_session_handle_text(f->sess, text, strlen(text), 0, &f->reply_sink, NULL);
	pthread_mutex_lock(&f->reply.mu);
	after = json_array_size(f->reply.msgs);
	if (after > before)
		last = json_incref(json_array_get(f->reply.msgs, after - 1));
	pthread_mutex_unlock(&f->reply.mu);
	return last;
}

static int start(struct fx *f)
{
	struct mcp_server_options so = {.name = "ambient-test", .version = "0"};
	struct app_mcp_options ao = {.default_user = "default"};
	struct err e = {0};
	json_t *r;

	if (app_store_open(f->url, false, &f->s, &e)) {
		fprintf(stderr, "open: %s\n", err_msg(&e));
		return -1;
	}
	f->srv = mcp_server_new(&so);
	f->app = app_mcp_new(f->s, &ao);
	if (app_mcp_register(f->app, f->srv, &e)) {
		fprintf(stderr, "register: %s\n", err_msg(&e));
		return -1;
	}
	pthread_mutex_init(&f->reply.mu, NULL);
	pthread_mutex_init(&f->out.mu, NULL);
	f->reply.msgs = json_array();
	f->out.msgs = json_array();
	f->reply_sink = (struct mcp_sink){.send = cap_send, .ctx = &f->reply};
	f->out_sink = (struct mcp_sink){.send = cap_send, .ctx = &f->out};
	f->sess = mcp_session_new(f->srv, &f->out_sink);
	f->next_id = 1;
	r = rpc_raw(f, "{\"jsonrpc\": \"2.0\", \"id\": 0, \"method\": \"initialize\", \"params\": "
		       "{\"protocolVersion\": \"2025-11-25\", \"capabilities\": {}, "
		       "\"clientInfo\": {\"name\": \"test\", \"version\": \"1\"}}}");
	if (!json_object_get(r, "result")) {
		fprintf(stderr, "initialize failed\n");
		return -1;
	}
	json_decref(r);
	json_decref(
		rpc_raw(f, "{\"jsonrpc\": \"2.0\", \"method\": \"notifications/initialized\"}"));
	return 0;
}

static void stop(struct fx *f)
{
	app_mcp_free(f->app);
	mcp_session_close(f->sess);
	mcp_session_unref(f->sess);
	mcp_server_free(f->srv);
	store_close(f->s);
	json_decref(f->reply.msgs);
	json_decref(f->out.msgs);
	pthread_mutex_destroy(&f->reply.mu);
	pthread_mutex_destroy(&f->out.mu);
	json_decref(f->tools);
	f->tools = NULL;
	f->app = NULL;
	f->s = NULL;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);

	f->dir = test_tmpdir("memtools");
	snprintf(f->url, sizeof f->url, "sqlite:%s/events.db", f->dir);
	*state = f;
	return start(f);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	stop(f);
	test_rmdir(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* ---- calling tools ----------------------------------------------------------------- */

static void load_tools(struct fx *f)
{
	char *text;
	json_t *r, *t;
	size_t i;

	if (f->tools)
		return;
	text = xasprintf("{\"jsonrpc\": \"2.0\", \"id\": %d, \"method\": \"tools/list\"}",
			 f->next_id++);
	r = rpc_raw(f, text);
	free(text);
	f->tools = json_object();
	json_array_foreach(json_object_get(json_object_get(r, "result"), "tools"), i, t)
		json_object_set(f->tools, json_get_str(t, "name"), t);
	json_decref(r);
}

/* Call a tool; returns the CallToolResult.  Results that are not errors are
 * checked: the text is the structuredContent, written the original's way
 * (status first), and it matches the tool's outputSchema. */
static json_t *call_tool(struct fx *f, const char *name, const char *args)
{
	char *text = xasprintf("{\"jsonrpc\": \"2.0\", \"id\": %d, \"method\": \"tools/call\", "
			       "\"params\": {\"name\": \"%s\", \"arguments\": %s}}",
			       f->next_id++, name, args);
	json_t *r = rpc_raw(f, text), *res, *sc, *parsed;
	const char *t;
	struct err e = {0};

	free(text);
	res = json_incref(json_object_get(r, "result"));
	if (!res)
		fail_msg("%s %s: no result: %s", name, args, json_dumps(r, 0));
	json_decref(r);
	t = json_get_str(json_array_get(json_object_get(res, "content"), 0), "text");
	assert_non_null(t);
	if (json_is_true(json_object_get(res, "isError")))
		return res;
	sc = json_object_get(res, "structuredContent");
	parsed = json_loads(t, 0, NULL);
	assert_non_null(sc);
	assert_true(json_equal(sc, parsed));
	json_decref(parsed);
	assert_true(strncmp(t, "{\"status\": \"", 12) == 0);
	load_tools(f);
	if (mcp_schema_validate(json_object_get(json_object_get(f->tools, name), "outputSchema"),
				sc, &e) != ERR_OK)
		fail_msg("%s: structuredContent does not match the outputSchema: %s\n%s", name,
			 err_msg(&e), t);
	return res;
}

static const json_t *sc_of(const json_t *res)
{
	return json_object_get(res, "structuredContent");
}

static const json_t *data_of(const json_t *res)
{
	return json_object_get(sc_of(res), "data");
}

static const char *status_of(const json_t *res)
{
	return json_get_str(sc_of(res), "status");
}

static const char *error_text(const json_t *res)
{
	if (!json_is_true(json_object_get(res, "isError")))
		fail_msg("expected an error, got %s", json_dumps(res, 0));
	return json_get_str(json_array_get(json_object_get(res, "content"), 0), "text");
}

/* A call that must succeed (status "success"). */
static json_t *call_ok(struct fx *f, const char *name, const char *args)
{
	json_t *res = call_tool(f, name, args);

	if (json_is_true(json_object_get(res, "isError")))
		fail_msg("%s %s failed: %s", name, args, error_text(res));
	assert_string_equal(status_of(res), "success");
	return res;
}

/* A HIGH tool: when the guard wants an approval (this client cannot confirm
 * through elicitation), approve it as the local admin and call again. */
static json_t *call_confirmed(struct fx *f, const char *name, const char *args)
{
	json_t *res = call_tool(f, name, args);
	const char *text, *rid;
	char approve[200];

	if (!json_is_true(json_object_get(res, "isError")))
		return res;
	text = error_text(res);
	if (!(rid = strstr(text, "Request ID: ")))
		return res;
	snprintf(approve, sizeof approve, "{\"request_id\": \"%.32s\"}", rid + 12);
	json_decref(res);
	res = call_ok(f, "approve_authorization", approve);
	json_decref(res);
	return call_tool(f, name, args);
}

static void remember(struct fx *f, const char *key, const char *value, int importance)
{
	char *args = xasprintf("{\"key\": \"%s\", \"value\": \"%s\", \"importance\": %d}", key,
			       value, importance);
	json_decref(call_ok(f, "remember", args));
	free(args);
}

/* search_memories; the result keys as "k1,k2,..." into out. */
static json_t *search(struct fx *f, const char *args, char *keys, size_t size)
{
	json_t *res = call_ok(f, "search_memories", args), *r;
	const json_t *d = data_of(res);
	size_t i;

	keys[0] = '\0';
	assert_int_equal(json_integer_value(json_object_get(d, "count")),
			 json_array_size(json_object_get(d, "results")));
	json_array_foreach(json_object_get(d, "results"), i, r)
		snprintf(keys + strlen(keys), size - strlen(keys), "%s%s", i ? "," : "",
			 json_get_str(r, "key"));
	return res;
}

#define EXPECT_KEYS(f, args, want, mode)                                                           \
	do {                                                                                       \
		char k_[1000];                                                                     \
		json_t *r_ = search(f, args, k_, sizeof k_);                                       \
		if (strcmp(k_, want) != 0)                                                         \
			fail_msg("line %d: search %s: got [%s], want [%s]", __LINE__, args, k_,    \
				 want);                                                            \
		if (mode)                                                                          \
			assert_string_equal(json_get_str(data_of(r_), "search_mode"),              \
					    (const char *)(mode));                                 \
		json_decref(r_);                                                                   \
	} while (0)

static int64_t stream_version(struct fx *f, const char *user)
{
	char stream[MEMORY_STREAM_BYTES];
	int64_t v = -1;

	assert_int_equal(memory_stream_name(user, stream, sizeof stream, NULL), ERR_OK);
	assert_int_equal(store_stream_version(f->s, stream, &v, NULL), ERR_OK);
	return v;
}

/* ---- the tests -------------------------------------------------------------------------- */

static void test_tools_listed(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = {"remember", "update_memory", "forget",
					    "search_memories"};

	load_tools(f);
	for (size_t i = 0; i < 4; i++) {
		json_t *t = json_object_get(f->tools, names[i]);

		if (!t)
			fail_msg("tool %s missing", names[i]);
		assert_true(strlen(json_get_str(t, "description")) > 40);
	}
	assert_true(json_is_true(
		json_object_get(json_object_get(json_object_get(f->tools, "forget"), "annotations"),
				"destructiveHint")));
	assert_true(json_is_true(json_object_get(
		json_object_get(json_object_get(f->tools, "search_memories"), "annotations"),
		"readOnlyHint")));
	assert_int_equal(app_mcp_find_tool(f->app, "forget")->level, APP_LEVEL_HIGH);
	assert_int_equal(app_mcp_find_tool(f->app, "remember")->level, APP_LEVEL_MEDIUM);
	assert_int_equal(app_mcp_find_tool(f->app, "remember")->rate_per_hour, 50);
	assert_int_equal(app_mcp_find_tool(f->app, "forget")->rate_per_hour, 10);
	assert_int_equal(app_mcp_find_tool(f->app, "update_memory")->level, APP_LEVEL_MEDIUM);
	assert_int_equal(app_mcp_find_tool(f->app, "search_memories")->level, APP_LEVEL_LOW);
}

static void test_remember(void **state)
{
	struct fx *f = *state;
	struct store_event_list l = {0};
	json_t *res;
	const json_t *d;

	res = call_ok(f, "remember", "{\"key\": \"favorite_color\", \"value\": \"blue\"}");
	d = data_of(res);
	/* the original's data, plus when and whether */
	assert_string_equal(json_get_str(d, "key"), "favorite_color");
	assert_string_equal(json_get_str(d, "value"), "blue");
	assert_string_equal(json_get_str(d, "category"), "general");
	assert_int_equal(json_get_int(d, "importance", 0), 1);
	assert_string_equal(json_get_str(d, "created_by"), "default");
	assert_true(json_is_true(json_object_get(d, "changed")));
	assert_true(json_is_false(json_object_get(d, "replaced")));
	assert_non_null(json_get_str(d, "created_at"));
	assert_string_equal(json_get_str(sc_of(res), "message"), "Remembered 'favorite_color'");
	json_decref(res);
	assert_int_equal(stream_version(f, "default"), 1);

	/* the same again records nothing */
	res = call_ok(f, "remember", "{\"key\": \" favorite_color \", \"value\": \"blue\"}");
	assert_true(json_is_false(json_object_get(data_of(res), "changed")));
	assert_non_null(strstr(json_get_str(sc_of(res), "message"), "nothing changed"));
	json_decref(res);
	assert_int_equal(stream_version(f, "default"), 1);

	/* upsert: replaced; category and importance stay unless given */
	res = call_ok(f, "remember",
		      "{\"key\": \"favorite_color\", \"value\": \"green\", "
		      "\"category\": \"Personal\", \"importance\": 4}");
	assert_true(json_is_true(json_object_get(data_of(res), "replaced")));
	assert_string_equal(json_get_str(data_of(res), "category"), "personal");
	json_decref(res);
	res = call_ok(f, "remember", "{\"key\": \"favorite_color\", \"value\": \"teal\"}");
	d = data_of(res);
	assert_string_equal(json_get_str(d, "value"), "teal");
	assert_string_equal(json_get_str(d, "category"), "personal");
	assert_int_equal(json_get_int(d, "importance", 0), 4);
	json_decref(res);
	assert_int_equal(stream_version(f, "default"), 3);

	/* the events, with who did it */
	assert_int_equal(store_read_stream(f->s, "memory-default", 1, false, 0, &l, NULL), ERR_OK);
	assert_int_equal(l.count, 3);
	assert_string_equal(l.items[0].type, MEMORY_EV_REMEMBERED);
	assert_string_equal(json_get_str(l.items[0].data, "user_id"), "default");
	assert_string_equal(json_get_str(l.items[0].metadata, "principal"), "mcp:default");
	store_event_list_cleanup(&l);

	/* another user's memories are their own */
	json_decref(
		call_ok(f, "remember",
			"{\"key\": \"favorite_color\", \"value\": \"red\", \"user_id\": \"bob\"}"));
	res = call_ok(f, "search_memories", "{\"query\": \"red\"}");
	assert_int_equal(json_get_int(data_of(res), "count", -1), 0);
	json_decref(res);
	res = call_ok(f, "search_memories", "{\"query\": \"red\", \"user_id\": \"bob\"}");
	assert_int_equal(json_get_int(data_of(res), "count", -1), 1);
	assert_string_equal(
		json_get_str(json_array_get(json_object_get(data_of(res), "results"), 0),
			     "created_by"),
		"bob");
	json_decref(res);

	/* bad input: what was wrong and how to fix it */
	res = call_tool(f, "remember",
			"{\"key\": \"k\", \"value\": \"v\", \"category\": \"my stuff\"}");
	assert_non_null(strstr(error_text(res), "my_stuff"));
	json_decref(res);
	res = call_tool(f, "remember", "{\"key\": \"a\\nb\", \"value\": \"v\"}");
	assert_non_null(strstr(error_text(res), "control characters"));
	json_decref(res);
	res = call_tool(f, "remember", "{\"key\": \"k\", \"value\": \"v\", \"importance\": 9}");
	assert_non_null(strstr(error_text(res), "importance"));
	json_decref(res);
	res = call_tool(f, "remember", "{\"key\": \"k\", \"value\": \"\"}");
	assert_true(json_is_true(json_object_get(res, "isError")));
	json_decref(res);
	res = call_tool(f, "remember", "{\"value\": \"v\"}");
	assert_non_null(strstr(error_text(res), "key"));
	json_decref(res);
}

static void test_update(void **state)
{
	struct fx *f = *state;
	json_t *res;

	res = call_tool(f, "update_memory", "{\"key\": \"nothing\", \"importance\": 3}");
	assert_non_null(strstr(error_text(res), "no memory with key \\\"nothing\\\""));
	json_decref(res);
	remember(f, "deadline", "project due Friday", 2);
	res = call_tool(f, "update_memory", "{\"key\": \"deadline\"}");
	assert_non_null(strstr(error_text(res), "at least one of"));
	json_decref(res);

	res = call_ok(f, "update_memory",
		      "{\"key\": \"deadline\", \"value\": \"project due Monday\", "
		      "\"importance\": 5}");
	assert_true(json_is_true(json_object_get(data_of(res), "changed")));
	assert_string_equal(json_get_str(data_of(res), "value"), "project due Monday");
	assert_int_equal(json_get_int(data_of(res), "importance", 0), 5);
	assert_string_equal(json_get_str(data_of(res), "category"), "general");
	assert_string_equal(json_get_str(sc_of(res), "message"), "Memory 'deadline' updated");
	json_decref(res);
	res = call_ok(f, "update_memory", "{\"key\": \"deadline\", \"importance\": 5}");
	assert_true(json_is_false(json_object_get(data_of(res), "changed")));
	json_decref(res);
	assert_int_equal(stream_version(f, "default"), 2);

	/* the index follows the value */
	EXPECT_KEYS(f, "{\"query\": \"monday\"}", "deadline", "fulltext");
	EXPECT_KEYS(f, "{\"query\": \"friday\"}", "", NULL);
}

static void test_forget(void **state)
{
	struct fx *f = *state;
	json_t *res;

	/* not there: status not_found at once, no confirmation asked */
	res = call_tool(f, "forget", "{\"key\": \"nothing\"}");
	assert_false(json_is_true(json_object_get(res, "isError")));
	assert_string_equal(status_of(res), "not_found");
	assert_string_equal(json_get_str(data_of(res), "key"), "nothing");
	assert_true(json_is_false(json_object_get(data_of(res), "deleted")));
	json_decref(res);

	remember(f, "wifi_hint", "the cat's name", 3);
	remember(f, "parking", "level 3, spot 42", 2);
	res = call_confirmed(f, "forget", "{\"key\": \"parking\"}");
	if (json_is_true(json_object_get(res, "isError")))
		fail_msg("forget failed: %s", error_text(res));
	assert_string_equal(status_of(res), "success");
	assert_string_equal(json_get_str(data_of(res), "key"), "parking");
	assert_true(json_is_true(json_object_get(data_of(res), "deleted")));
	assert_string_equal(json_get_str(sc_of(res), "message"), "Memory 'parking' forgotten");
	json_decref(res);
	EXPECT_KEYS(f, "{\"query\": \"spot\"}", "", NULL);
	EXPECT_KEYS(f, "{\"query\": \"\"}", "wifi_hint", "list");
	res = call_tool(f, "forget", "{\"key\": \"parking\"}");
	assert_string_equal(status_of(res), "not_found");
	json_decref(res);
}

/* Five memories whose texts give known relevance: coffee_lots has the word
 * most often; coffee_a, _b and _c are built alike (equal relevance), so
 * importance orders them, then recency (c after b). */
static void ranking_memories(struct fx *f)
{
	remember(f, "espresso_order", "double espresso with oat milk", 2);
	remember(f, "coffee_a", "coffee black", 1);
	remember(f, "coffee_b", "coffee sweet", 5);
	remember(f, "coffee_c", "coffee strong", 5);
	remember(f, "coffee_lots", "coffee coffee coffee", 1);
	json_decref(call_ok(f, "update_memory", "{\"key\": \"coffee_a\", \"category\": \"work\"}"));
}

static void test_search_ranking(void **state)
{
	struct fx *f = *state;
	json_t *res, *r;
	size_t i;
	double last = 1e300;

	ranking_memories(f);
	EXPECT_KEYS(f, "{\"query\": \"coffee\"}", "coffee_lots,coffee_c,coffee_b,coffee_a",
		    "fulltext");
	EXPECT_KEYS(f, "{\"query\": \"COFFEE\", \"min_importance\": 5}", "coffee_c,coffee_b", NULL);
	EXPECT_KEYS(f, "{\"query\": \"coffee\", \"category\": \"Work\"}", "coffee_a", NULL);
	EXPECT_KEYS(f, "{\"query\": \"coffee\", \"limit\": 2}", "coffee_lots,coffee_c", NULL);

	/* results carry the memory and its score, best first */
	res = call_ok(f, "search_memories", "{\"query\": \"coffee\"}");
	assert_string_equal(json_get_str(data_of(res), "query"), "coffee");
	json_array_foreach(json_object_get(data_of(res), "results"), i, r) {
		double score = json_number_value(json_object_get(r, "score"));

		assert_true(score > 0 && score <= last);
		last = score;
		assert_non_null(json_get_str(r, "value"));
		assert_non_null(json_get_str(r, "updated_at"));
	}
	assert_string_equal(json_get_str(sc_of(res), "message"), "Found 4 memories");
	json_decref(res);

	/* empty query: everything, by importance then recency, no score */
	EXPECT_KEYS(f, "{\"query\": \"\"}", "coffee_c,coffee_b,espresso_order,coffee_a,coffee_lots",
		    "list");
	res = call_ok(f, "search_memories", "{\"query\": \"  \"}");
	assert_null(json_object_get(json_array_get(json_object_get(data_of(res), "results"), 0),
				    "score"));
	json_decref(res);

	/* bad filters */
	res = call_tool(f, "search_memories", "{\"query\": \"x\", \"limit\": 101}");
	assert_true(json_is_true(json_object_get(res, "isError")));
	json_decref(res);
	res = call_tool(f, "search_memories", "{\"query\": \"x\", \"category\": \"a b\"}");
	assert_non_null(strstr(error_text(res), "a_b"));
	json_decref(res);
}

static void test_search_syntax(void **state)
{
	struct fx *f = *state;
	json_t *res;

	ranking_memories(f);
	/* prefix and phrase */
	EXPECT_KEYS(f, "{\"query\": \"espr*\"}", "espresso_order", "fulltext");
	EXPECT_KEYS(f, "{\"query\": \"\\\"oat milk\\\"\"}", "espresso_order", "fulltext");
	EXPECT_KEYS(f, "{\"query\": \"\\\"milk oat\\\"\"}", "", NULL);
	EXPECT_KEYS(f, "{\"query\": \"swe* coffee\"}", "coffee_b", "fulltext");
	/* all words, else any word */
	EXPECT_KEYS(f, "{\"query\": \"oat espresso\"}", "espresso_order", "fulltext");
	EXPECT_KEYS(f, "{\"query\": \"oat sweet\"}", "coffee_b,espresso_order", "fulltext_any");
	/* no word matches: the original's substring search */
	EXPECT_KEYS(f, "{\"query\": \"espr\"}", "espresso_order", "substring");
	EXPECT_KEYS(f, "{\"query\": \"ffee_l\"}", "coffee_lots", "substring");
	/* one character: substring of key or value, any case */
	EXPECT_KEYS(f, "{\"query\": \"K\"}", "espresso_order,coffee_a", "substring");
	EXPECT_KEYS(f, "{\"query\": \"q\"}", "", "substring");
	/* text that would be FTS5 syntax is searched for, never obeyed */
	EXPECT_KEYS(f, "{\"query\": \"foo\\\" OR key:*\"}", "", NULL);
	EXPECT_KEYS(f, "{\"query\": \"coffee OR tea\"}", "coffee_lots,coffee_c,coffee_b,coffee_a",
		    "fulltext_any");
	EXPECT_KEYS(f, "{\"query\": \"NEAR(coffee black)\"}", "coffee_a", "fulltext_any");
	EXPECT_KEYS(f, "{\"query\": \"\\\"coffee\"}", "coffee_lots,coffee_c,coffee_b,coffee_a",
		    "fulltext");
	EXPECT_KEYS(f, "{\"query\": \"value:black\"}", "", "substring");
	EXPECT_KEYS(f, "{\"query\": \"***\"}", "", "substring");
	/* the longest query, of two-byte characters: searched, not refused */
	{
		char *args = malloc(3000);

		strcpy(args, "{\"query\": \"");
		for (int i = 0; i < 1000; i++)
			strcat(args, "\xC3\xA9");
		strcat(args, "\"}");
		EXPECT_KEYS(f, args, "", "substring");
		free(args);
	}
	res = call_ok(f, "search_memories", "{\"query\": \"nothing here\"}");
	assert_non_null(strstr(json_get_str(sc_of(res), "message"), "No memories match"));
	json_decref(res);
}

/* The memories are the log's: they survive closing the store, and a
 * rebuild from the log gives the same documents and the same answers. */
static void test_survives_reopen_and_replay(void **state)
{
	struct fx *f = *state;
	struct store_replay_report rs[8];
	struct err e = {0};
	json_t *before, *after, *res;
	char keys[1000];

	ranking_memories(f);
	res = call_confirmed(f, "forget", "{\"key\": \"coffee_b\"}");
	assert_string_equal(status_of(res), "success");
	json_decref(res);
	res = search(f, "{\"query\": \"coffee\"}", keys, sizeof keys);
	assert_string_equal(keys, "coffee_lots,coffee_c,coffee_a");
	before = json_deep_copy(json_object_get(data_of(res), "results"));
	json_decref(res);

	stop(f);
	assert_int_equal(start(f), 0);
	res = search(f, "{\"query\": \"coffee\"}", keys, sizeof keys);
	assert_true(json_equal(before, json_object_get(data_of(res), "results")));
	json_decref(res);
	EXPECT_KEYS(f, "{\"query\": \"\"}", "coffee_c,espresso_order,coffee_a,coffee_lots", "list");

	/* replay: the stored projection is what the log folds to */
	assert_true(app_nprojections <= 8);
	assert_int_equal(store_replay(f->s, false, rs, &e), ERR_OK);
	for (size_t i = 0; i < app_nprojections; i++) {
		if (strcmp(app_projections[i].name, MEMORY_PROJECTION) != 0)
			continue;
		assert_int_equal(rs[i].documents, 1);
		assert_int_equal(rs[i].matched, 1);
		assert_int_equal(rs[i].events, 7);
		assert_int_equal(rs[i].missing + rs[i].extra + rs[i].different, 0);
	}
	assert_int_equal(store_replay(f->s, true, rs, &e), ERR_OK);
	res = search(f, "{\"query\": \"coffee\"}", keys, sizeof keys);
	after = json_object_get(data_of(res), "results");
	assert_true(json_equal(before, after));
	json_decref(res);
	json_decref(before);
	/* and keeps working after the rebuild */
	remember(f, "coffee_d", "coffee decaf", 5);
	EXPECT_KEYS(f, "{\"query\": \"decaf\"}", "coffee_d", "fulltext");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tools_listed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remember, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_ranking, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_syntax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_survives_reopen_and_replay, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
