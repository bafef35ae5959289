/*
 * test_mcp_app.c - ambient's MCP surface end to end, in process: a temp
 * SQLite store, an mcp_server with app_mcp's rows, one session driven with
 * raw JSON-RPC text through mcp_session_handle_text, replies captured.
 *
 * Covers the seed's tools with its three usage examples, the new tools,
 * bad inputs, every resource, the prompts (their tool call is made and must
 * succeed), completion, the config examples (each passes the domain's
 * validation) and the watcher (also for appends through another store
 * handle, as another process would make them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <regex.h>

#include "../test_util.h"
#include "app/mcp_app.h"
#include "app/mcp_internal.h"
#include "app/tasks.h"
#include "common/json.h"
#include "common/uuid.h"
#include "common/xalloc.h"
#include "domain/task.h"
#include "mcp/schema.h"
#include "mcp/server.h"

/* ---- capture sink ---------------------------------------------------------- */

struct capture {
	pthread_mutex_t mu;
	json_t *msgs; /* array of parsed messages */
};

static int cap_send(void *ctx, const char *msg, size_t len)
{
	struct capture *c = ctx;
	json_t *j = json_loadb(msg, len, 0, NULL);

	if (!j) {
		fprintf(stderr, "sink got bad JSON: %.*s\n", (int)len, msg);
		j = json_string("<bad json>");
	}
	pthread_mutex_lock(&c->mu);
	json_array_append_new(c->msgs, j);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

static void cap_init(struct capture *c)
{
	pthread_mutex_init(&c->mu, NULL);
	c->msgs = json_array();
}

static void cap_cleanup(struct capture *c)
{
	json_decref(c->msgs);
	pthread_mutex_destroy(&c->mu);
}

/* ---- fixture ------------------------------------------------------------------ */

struct fx {
	char *dir;
	char url[4200];
	struct store *s;
	struct mcp_server *srv;
	struct app_mcp *app;
	struct mcp_session *sess;
	struct capture reply, out;
	struct mcp_sink reply_sink, out_sink;
	json_t *tools; /* name -> tool from tools/list */
	int next_id;
};

static json_t *rpc_raw(struct fx *f, const char *text);

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	struct mcp_server_options so = {.name = "ambient-test", .version = "0"};
	struct app_mcp_options ao = {.default_user = "default"};
	struct err e = {0};
	json_t *r;

	f->dir = test_tmpdir("mcpapp");
	snprintf(f->url, sizeof f->url, "sqlite:%s/events.db", f->dir);
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
	cap_init(&f->reply);
	cap_init(&f->out);
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
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	app_mcp_free(f->app); /* stops the watcher before the sessions go */
	mcp_session_close(f->sess);
	mcp_session_unref(f->sess);
	mcp_server_free(f->srv);
	store_close(f->s);
	cap_cleanup(&f->reply);
	cap_cleanup(&f->out);
	json_decref(f->tools);
	test_rmdir(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* ---- driving the session ---------------------------------------------------------- */

/* Send text; return the last message written to the reply sink (new
 * reference), or NULL when nothing was written (notifications). */
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

/* A request with params given as JSON text; returns the whole response. */
static json_t *rpc(struct fx *f, const char *method, const char *params)
{
	char *text = xasprintf("{\"jsonrpc\": \"2.0\", \"id\": %d, \"method\": \"%s\", "
			       "\"params\": %s}",
			       f->next_id++, method, params ? params : "{}");
	json_t *r = rpc_raw(f, text);

	free(text);
	assert_non_null(r);
	return r;
}

/* The result object of a request that must succeed (new reference). */
static json_t *rpc_ok(struct fx *f, const char *method, const char *params)
{
	json_t *r = rpc(f, method, params), *res;

	if (!json_object_get(r, "result")) {
		char *t = json_dumps(r, 0);

		fail_msg("%s %s failed: %s", method, params ? params : "", t);
	}
	res = json_incref(json_object_get(r, "result"));
	json_decref(r);
	return res;
}

/* The JSON-RPC error code of a request that must fail. */
static int rpc_err(struct fx *f, const char *method, const char *params, char *msg, size_t size)
{
	json_t *r = rpc(f, method, params), *err = json_object_get(r, "error");
	int code;

	if (!err) {
		char *t = json_dumps(r, 0);

		fail_msg("%s %s should have failed: %s", method, params, t);
	}
	code = (int)json_integer_value(json_object_get(err, "code"));
	if (msg)
		snprintf(msg, size, "%s", json_get_str(err, "message"));
	json_decref(r);
	return code;
}

static void load_tools(struct fx *f)
{
	json_t *res, *t;
	size_t i;

	if (f->tools)
		return;
	res = rpc_ok(f, "tools/list", "{}");
	f->tools = json_object();
	json_array_foreach(json_object_get(res, "tools"), i, t)
		json_object_set(f->tools, json_get_str(t, "name"), t);
	json_decref(res);
}

/*
 * Call a tool with arguments as JSON text.  Returns the CallToolResult (new
 * reference).  Successful results are checked: content text is the same
 * object as structuredContent, written the original's way, and
 * structuredContent matches the tool's outputSchema.
 */
static json_t *call_tool(struct fx *f, const char *name, const char *args)
{
	char *params = xasprintf("{\"name\": \"%s\", \"arguments\": %s}", name, args);
	json_t *res = rpc_ok(f, "tools/call", params), *sc, *parsed;
	const char *text;
	struct err e = {0};

	free(params);
	text = json_get_str(json_array_get(json_object_get(res, "content"), 0), "text");
	assert_non_null(text);
	parsed = json_loads(text, 0, NULL);
	if (!parsed && json_is_true(json_object_get(res, "isError"))) {
		/* arguments refused against the inputSchema by the library */
		if (strncmp(text, "Invalid arguments for tool ", 27) != 0)
			fail_msg("%s: error text is neither JSON nor a schema error: %s", name,
				 text);
		return res;
	}
	assert_non_null(parsed); /* errors and successes are JSON text, as in the original */
	if (json_is_true(json_object_get(res, "isError"))) {
		assert_string_equal(json_get_str(parsed, "status"), "error");
		assert_string_equal(json_get_str(parsed, "action"), name);
		assert_non_null(json_get_str(parsed, "error"));
		json_decref(parsed);
		return res;
	}
	sc = json_object_get(res, "structuredContent");
	assert_non_null(sc);
	assert_true(json_equal(sc, parsed));
	json_decref(parsed);
	/* Python json.dumps separators, the keys in the original's order */
	assert_true(strncmp(text, "{\"status\": \"success\", \"action\": ", 32) == 0);
	assert_null(strstr(text, "\":\""));
	load_tools(f);
	if (mcp_schema_validate(json_object_get(json_object_get(f->tools, name), "outputSchema"),
				sc, &e) != ERR_OK)
		fail_msg("%s: structuredContent does not match the outputSchema: %s\n%s", name,
			 err_msg(&e), text);
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

static const char *error_text(const json_t *res)
{
	assert_true(json_is_true(json_object_get(res, "isError")));
	return json_get_str(json_array_get(json_object_get(res, "content"), 0), "text");
}

/* ---- the seed's three examples --------------------------------------------------------- */

#define WEB_MONITOR_ARGS                                                                           \
	"{\"task_type\": \"web_monitor\", \"description\": \"Monitor TechCrunch for AI "           \
	"articles\", \"config\": {\"urls\": [\"https://techcrunch.com\"], \"keywords\": "          \
	"[\"artificial intelligence\", \"AI\", \"machine learning\"], "                            \
	"\"check_interval_minutes\": 30, \"notification\": {\"method\": \"send_sms\", "            \
	"\"phone_number\": \"+1234567890\"}}}"

/* the config as a JSON string, as the original's clients sent it */
#define SCHEDULE_ARGS                                                                              \
	"{\"task_type\": \"schedule\", \"description\": \"Daily reminder to check my project "     \
	"status\", \"config\": \"{\\\"type\\\": \\\"daily\\\", \\\"hour\\\": 9, "                  \
	"\\\"minute\\\": 0, \\\"message\\\": \\\"Check my project status\\\", "                    \
	"\\\"notification\\\": {\\\"method\\\": \\\"send_sms\\\", \\\"phone_number\\\": "          \
	"\\\"+1234567890\\\"}}\"}"

#define DIGEST_ARGS                                                                                \
	"{\"task_type\": \"news_digest\", \"description\": \"Daily tech news digest\", "           \
	"\"config\": {\"news_urls\": [\"https://techcrunch.com\", "                                \
	"\"https://news.ycombinator.com\"], \"hour\": 8, \"notification\": {\"method\": "          \
	"\"send_sms\", \"phone_number\": \"+1234567890\"}}}"

/* Create and return the new task id (caller frees). */
static char *create(struct fx *f, const char *args)
{
	json_t *res = call_tool(f, "create_background_task", args);
	char *id;

	if (json_is_true(json_object_get(res, "isError")))
		fail_msg("create failed: %s", error_text(res));
	id = xstrdup(json_get_str(data_of(res), "task_id"));
	assert_true(uuid_valid(id));
	json_decref(res);
	return id;
}

static void test_tools_list(void **state)
{
	static const char *const names[] = {
		"create_background_task",
		"list_background_tasks",
		"pause_background_task",
		"resume_background_task",
		"delete_background_task",
		"get_event_sourcing_status",
		"get_task",
		"get_task_events",
		"get_recent_events",
		"update_background_task",
		"run_task_now",
	};
	struct fx *f = *state;
	const char *name;
	json_t *t;

	load_tools(f);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!json_object_get(f->tools, names[i]))
			fail_msg("tool %s missing", names[i]);
	json_object_foreach(f->tools, name, t) {
		json_t *ann = json_object_get(t, "annotations");

		assert_true(json_is_object(json_object_get(t, "inputSchema")));
		assert_true(json_is_object(json_object_get(t, "outputSchema")));
		assert_true(strlen(json_get_str(t, "description")) > 40);
		assert_true(json_is_boolean(json_object_get(ann, "readOnlyHint")));
		assert_true(json_is_boolean(json_object_get(ann, "destructiveHint")));
		assert_true(json_is_boolean(json_object_get(ann, "idempotentHint")));
		assert_true(json_is_boolean(json_object_get(ann, "openWorldHint")));
	}
	/* the task types are an enumeration the model sees */
	t = json_object_get(
		json_object_get(json_object_get(json_object_get(f->tools, "create_background_task"),
						"inputSchema"),
				"properties"),
		"task_type");
	assert_int_equal(json_array_size(json_object_get(t, "enum")), 4);
	assert_true(json_is_true(json_object_get(
		json_object_get(json_object_get(f->tools, "delete_background_task"), "annotations"),
		"destructiveHint")));

	/* reads run on the receiving thread; writes and anything that may ask
	 * for a confirmation go to a worker */
	static const struct {
		const char *method, *tool;
		bool quick;
	} calls[] = {
		{"tools/call", "list_background_tasks", true},
		{"tools/call", "get_task", true},
		{"tools/call", "get_recent_events", true},
		{"tools/call", "create_background_task", false},
		{"tools/call", "delete_background_task", false},
		{"tools/call", "no_such_tool", false},
		{"tools/list", "list_background_tasks", false},
	};
	for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
		json_t *params = json_pack("{s:s}", "name", calls[i].tool);
		struct jsonrpc_msg m = {
			.kind = JSONRPC_REQUEST, .method = calls[i].method, .params = params};
		if (mcp_server_call_is_quick(f->srv, &m) != calls[i].quick)
			fail_msg("%s %s: quick should be %d", calls[i].method, calls[i].tool,
				 calls[i].quick);
		json_decref(params);
	}
}

static void test_seed_examples(void **state)
{
	struct fx *f = *state;
	char *ids[3];
	json_t *res, *t;
	regex_t re;

	res = call_tool(f, "create_background_task", WEB_MONITOR_ARGS);
	assert_false(json_is_true(json_object_get(res, "isError")));
	assert_string_equal(json_get_str(sc_of(res), "action"), "create_background_task");
	assert_string_equal(json_get_str(sc_of(res), "message"),
			    "Background task 'Monitor TechCrunch for AI articles' created and will "
			    "run in background (No task engine is running right now, so nothing is "
			    "being checked until `ambient serve` runs)");
	assert_string_equal(json_get_str(data_of(res), "status"), "active");
	assert_string_equal(json_get_str(data_of(res), "task_type"), "web_monitor");
	/* stored config with the defaults filled in */
	assert_string_equal(json_get_str(json_object_get(data_of(res), "config"), "keywords_mode"),
			    "any");
	/* timestamp: local naive ISO with microseconds */
	assert_int_equal(regcomp(&re,
				 "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\."
				 "[0-9]{6}$",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	assert_int_equal(regexec(&re, json_get_str(sc_of(res), "timestamp"), 0, NULL, 0), 0);
	assert_int_equal(regexec(&re, json_get_str(data_of(res), "created_at"), 0, NULL, 0), 0);
	regfree(&re);
	ids[0] = xstrdup(json_get_str(data_of(res), "task_id"));
	json_decref(res);

	ids[1] = create(f, SCHEDULE_ARGS);
	ids[2] = create(f, DIGEST_ARGS);

	res = call_tool(f, "list_background_tasks", "{}");
	assert_int_equal(json_integer_value(json_object_get(data_of(res), "total_tasks")), 3);
	t = json_array_get(json_object_get(data_of(res), "tasks"), 1);
	assert_string_equal(json_get_str(t, "task_id"), ids[1]);
	assert_string_equal(json_get_str(t, "task_type"), "schedule");
	assert_true(json_is_null(json_object_get(t, "last_check")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(t, "config"), "hour")),
			 9);
	assert_string_equal(json_get_str(json_object_get(t, "config"), "message"),
			    "Check my project status");
	json_decref(res);
	/* digest defaults */
	res = call_tool(f, "get_task", "{\"task_id\": \"x\"}");
	assert_non_null(strstr(error_text(res), "not found or access denied"));
	json_decref(res);

	for (int i = 0; i < 3; i++)
		free(ids[i]);
}

static void test_list_filters_and_users(void **state)
{
	struct fx *f = *state;
	char *a = create(f, WEB_MONITOR_ARGS), *b = create(f, DIGEST_ARGS), *c;
	json_t *res;

	c = create(f, "{\"task_type\": \"threshold_watch\", \"description\": \"BTC over 50k\", "
		      "\"config\": {\"metric\": \"bitcoin_price\", \"threshold\": 50000}, "
		      "\"user_id\": \"bob\"}");
	res = call_tool(f, "list_background_tasks", "{\"task_type\": \"news_digest\"}");
	assert_int_equal(json_integer_value(json_object_get(data_of(res), "total_tasks")), 1);
	json_decref(res);
	res = call_tool(f, "list_background_tasks", "{\"user_id\": \"bob\"}");
	assert_int_equal(json_integer_value(json_object_get(data_of(res), "total_tasks")), 1);
	json_decref(res);
	res = call_tool(f, "list_background_tasks", "{\"user_id\": \"admin\"}");
	assert_int_equal(json_integer_value(json_object_get(data_of(res), "total_tasks")), 3);
	json_decref(res);
	res = call_tool(f, "list_background_tasks", "{\"user_id\": \"nobody\"}");
	assert_int_equal(json_integer_value(json_object_get(data_of(res), "total_tasks")), 0);
	assert_non_null(strstr(json_get_str(sc_of(res), "message"), "create_background_task"));
	json_decref(res);
	/* status counts are global */
	res = call_tool(f, "get_event_sourcing_status", "{}");
	assert_int_equal(json_integer_value(json_object_get(data_of(res), "total_tasks")), 3);
	assert_int_equal(json_integer_value(json_object_get(data_of(res), "active_tasks")), 3);
	assert_true(json_is_false(json_object_get(data_of(res), "service_running")));
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(data_of(res), "task_types"), "threshold_watch")),
			 1);
	json_decref(res);
	free(a);
	free(b);
	free(c);
}

/* The result without its per-call timestamp (in the text and the
 * structured form), for comparing two answers. */
static json_t *untimed(const json_t *res)
{
	json_t *sc = json_deep_copy(sc_of(res));
	json_object_del(sc, "timestamp");
	json_t *text = json_loads(
		json_get_str(json_array_get(json_object_get(res, "content"), 0), "text"), 0, NULL);
	assert_non_null(text);
	json_object_del(text, "timestamp");
	json_t *out = json_pack("{s:o,s:o}", "structured", sc, "text", text);
	return out;
}

/* A list answered from its rendering (mcp_list_cache.c) is the same as one
 * rendered afresh, escaping included; any append, also through another
 * handle on the database (another process, another node), makes the next
 * list read the tasks again. */
static void test_list_rendered_once(void **state)
{
	struct fx *f = *state;
	char *a = create(f, WEB_MONITOR_ARGS);
	char *b = create(f, "{\"task_type\": \"schedule\", \"description\": \"Caf\\u00e9 \\u2615 "
			    "\\\"quoted\\\" back\\\\slash \\u0001\", \"config\": {\"type\": "
			    "\"interval\", \"minutes\": 90, \"threshold\": 0.1}}");
	unsigned long hits0, misses0, hits, misses;
	app_list_cache_counts(f->app->list_cache, &hits0, &misses0);

	json_t *fresh = call_tool(f, "list_background_tasks", "{}");
	json_t *again = call_tool(f, "list_background_tasks", "{}");
	app_list_cache_counts(f->app->list_cache, &hits, &misses);
	assert_int_equal(misses, misses0 + 1);
	assert_int_equal(hits, hits0 + 1);
	json_t *x = untimed(fresh), *y = untimed(again);
	assert_true(json_equal(x, y));
	assert_int_equal(json_integer_value(json_object_get(data_of(again), "total_tasks")), 2);
	json_decref(x);
	json_decref(y);
	json_decref(fresh);
	json_decref(again);

	/* another handle appends: the head moves, the list is read again */
	struct store *other = NULL;
	struct err e = {0};
	assert_int_equal(app_store_open(f->url, false, &other, &e), ERR_OK);
	const char *cfg_text = "{\"type\": \"daily\", \"hour\": 7}";
	json_t *cfg = json_loads(cfg_text, 0, NULL), *task = NULL;
	struct app_actor who = {.principal = "other-node"};
	assert_int_equal(app_task_create(other, &who, NULL, "schedule", "from elsewhere", cfg, NULL,
					 "default", &task, &e),
			 ERR_OK);
	json_decref(cfg);
	json_decref(task);
	store_close(other);
	json_t *res = call_tool(f, "list_background_tasks", "{}");
	assert_int_equal(json_integer_value(json_object_get(data_of(res), "total_tasks")), 3);
	json_decref(res);

	/* a pause changes what the status filters show, at once */
	res = call_tool(f, "list_background_tasks", "{\"status\": \"paused\"}");
	assert_int_equal(json_integer_value(json_object_get(data_of(res), "total_tasks")), 0);
	json_decref(res);
	char *args = xasprintf("{\"task_id\": \"%s\"}", b);
	json_decref(call_tool(f, "pause_background_task", args));
	free(args);
	res = call_tool(f, "list_background_tasks", "{\"status\": \"paused\"}");
	assert_int_equal(json_integer_value(json_object_get(data_of(res), "total_tasks")), 1);
	json_decref(res);
	free(a);
	free(b);
}

static void test_pause_resume_delete(void **state)
{
	struct fx *f = *state;
	char *id = create(f, WEB_MONITOR_ARGS), args[200], want[300];
	json_t *res;

	snprintf(args, sizeof args, "{\"task_id\": \"%s\"}", id);
	res = call_tool(f, "pause_background_task", args);
	snprintf(want, sizeof want, "Task %s paused", id);
	assert_string_equal(json_get_str(sc_of(res), "message"), want);
	assert_string_equal(json_get_str(data_of(res), "status"), "paused");
	assert_true(json_is_true(json_object_get(data_of(res), "changed")));
	json_decref(res);
	res = call_tool(f, "pause_background_task", args);
	assert_true(json_is_false(json_object_get(data_of(res), "changed")));
	assert_non_null(strstr(json_get_str(sc_of(res), "message"), "already paused"));
	json_decref(res);
	res = call_tool(f, "list_background_tasks", "{\"status\": \"paused\"}");
	assert_int_equal(json_integer_value(json_object_get(data_of(res), "total_tasks")), 1);
	json_decref(res);

	/* someone else's task */
	snprintf(args, sizeof args, "{\"task_id\": \"%s\", \"user_id\": \"mallory\"}", id);
	res = call_tool(f, "resume_background_task", args);
	snprintf(want, sizeof want, "Failed to resume task %s - not found or access denied", id);
	assert_non_null(strstr(error_text(res), want));
	json_decref(res);
	res = call_tool(f, "delete_background_task", args);
	assert_non_null(strstr(error_text(res), "not found or access denied"));
	json_decref(res);

	snprintf(args, sizeof args, "{\"task_id\": \"%s\"}", id);
	res = call_tool(f, "resume_background_task", args);
	assert_string_equal(json_get_str(data_of(res), "status"), "active");
	json_decref(res);
	/* admin may change anyone's; deleting is HIGH: this client cannot
	 * confirm (no elicitation), so an admin approves a request first */
	snprintf(args, sizeof args, "{\"task_id\": \"%s\", \"user_id\": \"admin\"}", id);
	res = call_tool(f, "delete_background_task", args);
	{
		const char *msg = error_text(res), *rid = strstr(msg, "Request ID: ");
		char approve[200], rq[33];
		assert_non_null(strstr(msg, "Authorization required for delete_background_task"));
		assert_non_null(rid);
		snprintf(rq, sizeof rq, "%.32s", rid + 12);
		snprintf(approve, sizeof approve, "{\"request_id\": \"%s\"}", rq);
		json_decref(res);
		/* asking again finds the same pending request */
		res = call_tool(f, "delete_background_task", args);
		assert_non_null(strstr(error_text(res), rq));
		json_decref(res);
		res = call_tool(f, "approve_authorization", approve);
		assert_string_equal(json_get_str(data_of(res), "status"), "approved");
		json_decref(res);
	}
	res = call_tool(f, "delete_background_task", args);
	snprintf(want, sizeof want, "Task %s deleted", id);
	assert_string_equal(json_get_str(sc_of(res), "message"), want);
	assert_string_equal(json_get_str(data_of(res), "status"), "deleted");
	json_decref(res);
	res = call_tool(f, "delete_background_task", args);
	assert_non_null(strstr(error_text(res), "was deleted"));
	json_decref(res);
	res = call_tool(f, "list_background_tasks", "{}");
	assert_int_equal(json_integer_value(json_object_get(data_of(res), "total_tasks")), 0);
	json_decref(res);
	/* its events stay readable; the actor is recorded */
	snprintf(args, sizeof args, "{\"task_id\": \"%s\"}", id);
	res = call_tool(f, "get_task_events", args);
	assert_int_equal(json_integer_value(json_object_get(data_of(res), "count")), 4);
	{
		json_t *evs = json_object_get(data_of(res), "events");
		const char *types[] = {"task_created", "task_paused", "task_resumed",
				       "task_deleted"};
		size_t k = 0;

		for (size_t i = 0; i < json_array_size(evs) && k < 4; i++)
			if (strcmp(json_get_str(json_array_get(evs, i), "type"), types[k]) == 0)
				k++;
		assert_int_equal(k, 4);
		assert_string_equal(
			json_get_str(json_object_get(json_array_get(evs, 0), "metadata"),
				     "principal"),
			"mcp:default");
		assert_string_equal(
			json_get_str(json_object_get(json_array_get(evs, 3), "metadata"),
				     "principal"),
			"mcp:admin");
	}
	json_decref(res);
	free(id);
}

static void test_bad_inputs(void **state)
{
	struct fx *f = *state;
	json_t *res, *r;
	const char *t;

	/* unknown task type: refused against the schema's enumeration */
	res = call_tool(f, "create_background_task",
			"{\"task_type\": \"web_watch\", \"description\": \"x\", \"config\": {}}");
	t = error_text(res);
	assert_non_null(strstr(t, "web_monitor"));
	assert_non_null(strstr(t, "threshold_watch"));
	json_decref(res);

	/* a config string that does not parse */
	res = call_tool(f, "create_background_task",
			"{\"task_type\": \"web_monitor\", \"description\": \"x\", "
			"\"config\": \"{urls: [https://a.example]\"}");
	t = error_text(res);
	assert_non_null(strstr(t, "Invalid JSON in config"));
	assert_non_null(strstr(t, "A working web_monitor config"));
	json_decref(res);

	/* a config the domain refuses names the field and shows an example */
	res = call_tool(
		f, "create_background_task",
		"{\"task_type\": \"web_monitor\", \"description\": \"x\", \"config\": "
		"{\"urls\": [\"https://a.example\"], \"check_interval_minutes\": \"30m\"}}");
	t = error_text(res);
	assert_non_null(strstr(t, "config.check_interval_minutes must be an integer"));
	assert_non_null(strstr(t, "A working web_monitor config"));
	json_decref(res);
	res = call_tool(f, "create_background_task",
			"{\"task_type\": \"schedule\", \"description\": \"x\", \"config\": "
			"{\"type\": \"hourly\"}}");
	assert_non_null(strstr(error_text(res), "config.type must be one of"));
	json_decref(res);

	/* wrong argument types and missing arguments */
	r = rpc(f, "tools/call",
		"{\"name\": \"create_background_task\", \"arguments\": {\"task_type\": 5, "
		"\"description\": \"x\", \"config\": {}}}");
	if (json_object_get(r, "error"))
		assert_int_equal(
			json_integer_value(json_object_get(json_object_get(r, "error"), "code")),
			-32602);
	else
		assert_true(json_is_true(json_object_get(json_object_get(r, "result"), "isError")));
	json_decref(r);
	res = call_tool(f, "pause_background_task", "{}");
	assert_non_null(strstr(error_text(res), "task_id"));
	json_decref(res);
	res = call_tool(f, "get_task_events", "{\"task_id\": \"x\", \"limit\": 10000}");
	assert_true(json_is_true(json_object_get(res, "isError")));
	json_decref(res);
	res = call_tool(f, "list_background_tasks", "{\"status\": \"deleted\"}");
	assert_true(json_is_true(json_object_get(res, "isError")));
	json_decref(res);
	res = call_tool(f, "list_background_tasks", "{\"colour\": \"red\"}");
	assert_true(json_is_true(json_object_get(res, "isError")));
	json_decref(res);
	res = call_tool(f, "update_background_task", "{\"task_id\": \"x\"}");
	assert_non_null(strstr(error_text(res), "Nothing to update"));
	json_decref(res);

	/* a task id of multi-byte characters, cut short inside the error text */
	{
		char args[400] = "{\"task_id\": \"";

		for (int i = 0; i < 70; i++)
			strcat(args, "\xc3\xa9");
		strcat(args, "\"}");
		res = call_tool(f, "pause_background_task", args);
		assert_non_null(strstr(error_text(res), "not found or access denied"));
		json_decref(res);
		res = call_tool(f, "get_task", args);
		assert_non_null(strstr(error_text(res), "not found or access denied"));
		json_decref(res);
	}

	/* nothing was created */
	res = call_tool(f, "list_background_tasks", "{\"user_id\": \"admin\"}");
	assert_int_equal(json_integer_value(json_object_get(data_of(res), "total_tasks")), 0);
	json_decref(res);
}

static void test_task_tools(void **state)
{
	struct fx *f = *state;
	char *id = create(f, WEB_MONITOR_ARGS), *other = create(f, SCHEDULE_ARGS), args[400];
	json_t *res, *evs;

	snprintf(args, sizeof args, "{\"task_id\": \"%s\"}", id);
	res = call_tool(f, "get_task", args);
	assert_string_equal(json_get_str(json_object_get(data_of(res), "task"), "status"),
			    "active");
	assert_int_equal(json_integer_value(
				 json_object_get(json_object_get(data_of(res), "task"), "version")),
			 1);
	json_decref(res);

	/* update: a new interval; the same again changes nothing; a bad one */
	snprintf(args, sizeof args,
		 "{\"task_id\": \"%s\", \"config\": {\"urls\": [\"https://techcrunch.com\"], "
		 "\"keywords\": [\"AI\"], \"check_interval_minutes\": 15}}",
		 id);
	res = call_tool(f, "update_background_task", args);
	assert_true(json_is_true(json_object_get(data_of(res), "changed")));
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(data_of(res), "changed_fields"), 0)),
			    "config");
	json_decref(res);
	res = call_tool(f, "update_background_task", args);
	assert_true(json_is_false(json_object_get(data_of(res), "changed")));
	json_decref(res);
	snprintf(args, sizeof args, "{\"task_id\": \"%s\", \"config\": {\"keywords\": [\"AI\"]}}",
		 id);
	res = call_tool(f, "update_background_task", args);
	assert_non_null(strstr(error_text(res), "config.urls is required"));
	json_decref(res);

	/* run now: a request is recorded, and the result says only that */
	snprintf(args, sizeof args, "{\"task_id\": \"%s\", \"reason\": \"testing\"}", id);
	res = call_tool(f, "run_task_now", args);
	assert_true(json_is_true(json_object_get(data_of(res), "requested")));
	assert_string_equal(json_get_str(data_of(res), "event_type"), "task_run_requested");
	assert_int_equal(json_integer_value(json_object_get(data_of(res), "version")), 3);
	assert_non_null(strstr(json_get_str(sc_of(res), "message"), "requested"));
	assert_non_null(strstr(json_get_str(sc_of(res), "message"), "no check has run yet"));
	json_decref(res);

	/* paging through the stream */
	snprintf(args, sizeof args, "{\"task_id\": \"%s\", \"limit\": 2}", id);
	res = call_tool(f, "get_task_events", args);
	assert_int_equal(json_integer_value(json_object_get(data_of(res), "count")), 2);
	assert_true(json_is_true(json_object_get(data_of(res), "has_more")));
	assert_int_equal(json_integer_value(json_object_get(data_of(res), "next_after")), 2);
	json_decref(res);
	snprintf(args, sizeof args, "{\"task_id\": \"%s\", \"after\": 2}", id);
	res = call_tool(f, "get_task_events", args);
	evs = json_object_get(data_of(res), "events");
	assert_int_equal(json_array_size(evs), 1);
	assert_string_equal(json_get_str(json_array_get(evs, 0), "type"), "task_run_requested");
	assert_string_equal(json_get_str(json_object_get(json_array_get(evs, 0), "data"), "reason"),
			    "testing");
	assert_string_equal(json_get_str(json_array_get(evs, 0), "task_id"), id);
	assert_false(json_is_true(json_object_get(data_of(res), "has_more")));
	json_decref(res);

	/* recent events: newest first, filters, other users see none of them */
	res = call_tool(f, "get_recent_events", "{}");
	evs = json_object_get(data_of(res), "events");
	assert_int_equal(json_array_size(evs), 4);
	assert_string_equal(json_get_str(json_array_get(evs, 0), "type"), "task_run_requested");
	assert_string_equal(json_get_str(json_array_get(evs, 3), "type"), "task_created");
	json_decref(res);
	res = call_tool(f, "get_recent_events", "{\"event_type\": \"task_created\", \"limit\": 1}");
	evs = json_object_get(data_of(res), "events");
	assert_int_equal(json_array_size(evs), 1);
	assert_string_equal(json_get_str(json_array_get(evs, 0), "task_id"), other);
	json_decref(res);
	snprintf(args, sizeof args, "{\"task_id\": \"%s\"}", other);
	res = call_tool(f, "get_recent_events", args);
	assert_int_equal(json_array_size(json_object_get(data_of(res), "events")), 1);
	json_decref(res);
	res = call_tool(f, "get_recent_events", "{\"user_id\": \"eve\"}");
	assert_int_equal(json_array_size(json_object_get(data_of(res), "events")), 0);
	json_decref(res);
	res = call_tool(f, "get_recent_events", "{\"event_type\": \"no_such_type\"}");
	assert_non_null(strstr(json_get_str(sc_of(res), "message"), "not a catalogued type"));
	json_decref(res);
	free(id);
	free(other);
}

/* get_recent_events looks past batches of other users' events. */
static void test_recent_events_scan(void **state)
{
	struct fx *f = *state;
	char *mine = create(f, WEB_MONITOR_ARGS), *bobs, stream[100];
	struct store_new_event evs[450];
	json_t *data = json_pack("{s:s}", "url", "https://b.example"), *res, *arr;
	struct err e = {0};

	bobs = create(f, "{\"task_type\": \"web_monitor\", \"description\": \"bob's\", "
			 "\"config\": {\"urls\": [\"https://b.example\"]}, \"user_id\": \"bob\"}");
	snprintf(stream, sizeof stream, "task-%s", bobs);
	for (size_t i = 0; i < 450; i++)
		evs[i] = (struct store_new_event){
			.event_id = "", .type = "web_content_change", .data = data};
	assert_int_equal(store_append(f->s, stream, STORE_EXPECT_ANY, evs, 450, NULL, &e), ERR_OK);
	res = call_tool(f, "get_recent_events", "{\"limit\": 5}");
	arr = json_object_get(data_of(res), "events");
	assert_int_equal(json_array_size(arr), 1);
	assert_string_equal(json_get_str(json_array_get(arr, 0), "task_id"), mine);
	json_decref(res);
	res = call_tool(f, "get_recent_events", "{\"limit\": 5, \"user_id\": \"admin\"}");
	arr = json_object_get(data_of(res), "events");
	assert_int_equal(json_array_size(arr), 5);
	assert_string_equal(json_get_str(json_array_get(arr, 0), "type"), "web_content_change");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 0), "priority")),
			 3);
	json_decref(res);
	json_decref(data);
	free(mine);
	free(bobs);
}

/* ---- resources ---------------------------------------------------------------------------- */

/* Read a resource; its text parsed (new reference).  Checks the shape. */
static json_t *read_resource(struct fx *f, const char *uri)
{
	char *params = xasprintf("{\"uri\": \"%s\"}", uri);
	json_t *res = rpc_ok(f, "resources/read", params), *c, *j;
	const char *text;

	free(params);
	c = json_array_get(json_object_get(res, "contents"), 0);
	assert_string_equal(json_get_str(c, "uri"), uri);
	assert_string_equal(json_get_str(c, "mimeType"), "application/json");
	text = json_get_str(c, "text");
	assert_non_null(text);
	assert_true(strncmp(text, "{\n  \"resource_type\": ", 21) == 0); /* indent 2 */
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	assert_non_null(json_get_str(j, "generated_at"));
	json_decref(res);
	return j;
}

static void test_resources(void **state)
{
	struct fx *f = *state;
	char *a = create(f, WEB_MONITOR_ARGS), *b = create(f, DIGEST_ARGS), uri[200], msg[400];
	char *bob;
	json_t *res, *j;
	size_t i;

	bob = create(f, "{\"task_type\": \"web_monitor\", \"description\": \"bob's\", \"config\": "
			"{\"urls\": [\"https://b.example\"]}, \"user_id\": \"bob\"}");
	snprintf(uri, sizeof uri, "{\"task_id\": \"%s\"}", b);
	json_decref(call_tool(f, "pause_background_task", uri));

	res = rpc_ok(f, "resources/list", "{}");
	assert_int_equal(json_array_size(json_object_get(res, "resources")), 4);
	json_decref(res);
	res = rpc_ok(f, "resources/templates/list", "{}");
	assert_int_equal(json_array_size(json_object_get(res, "resourceTemplates")), 3);
	json_decref(res);

	j = read_resource(f, "event://tasks");
	assert_string_equal(json_get_str(j, "resource_type"), "event_tasks");
	assert_int_equal(json_integer_value(json_object_get(j, "total")), 2); /* not bob's */
	assert_string_equal(json_get_str(json_array_get(json_object_get(j, "tasks"), 0), "user_id"),
			    "default");
	assert_string_equal(
		json_get_str(json_array_get(json_object_get(j, "tasks"), 0), "callback_url"),
		APP_DEFAULT_CALLBACK_URL);
	json_decref(j);

	j = read_resource(f, "event://tasks/active");
	assert_int_equal(json_integer_value(json_object_get(j, "total_active")), 1);
	assert_string_equal(
		json_get_str(json_array_get(json_object_get(j, "active_tasks"), 0), "task_id"), a);
	json_decref(j);

	j = read_resource(f, "event://status");
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(j, "status"), "total_tasks")),
		3);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(j, "status"), "paused_tasks")),
		1);
	json_decref(j);

	j = read_resource(f, "event://tasks/by-type/web_monitor");
	assert_int_equal(json_integer_value(json_object_get(j, "count")), 1);
	assert_string_equal(json_get_str(j, "resource_type"), "event_tasks_by_type_web_monitor");
	json_decref(j);
	assert_int_equal(rpc_err(f, "resources/read", "{\"uri\": \"event://tasks/by-type/nope\"}",
				 msg, sizeof msg),
			 -32002);
	assert_non_null(strstr(msg, "news_digest"));

	snprintf(uri, sizeof uri, "event://tasks/%s", a);
	j = read_resource(f, uri);
	assert_string_equal(json_get_str(json_object_get(j, "task"), "task_id"), a);
	json_decref(j);
	snprintf(uri, sizeof uri, "event://tasks/%s/events", b);
	j = read_resource(f, uri);
	assert_int_equal(json_integer_value(json_object_get(j, "total")), 2);
	assert_string_equal(json_get_str(json_array_get(json_object_get(j, "events"), 1), "type"),
			    "task_paused");
	json_decref(j);
	/* bob's task is not there for the default user */
	snprintf(uri, sizeof uri, "{\"uri\": \"event://tasks/%s\"}", bob);
	assert_int_equal(rpc_err(f, "resources/read", uri, NULL, 0), -32002);
	snprintf(uri, sizeof uri, "{\"uri\": \"event://tasks/%s/events\"}", bob);
	assert_int_equal(rpc_err(f, "resources/read", uri, NULL, 0), -32002);

	j = read_resource(f, "event://config/examples");
	for (i = 0; i < TASK_TYPE__COUNT; i++) {
		json_t *ex =
			json_object_get(json_object_get(j, "examples"), task_type_name((int)i));

		assert_non_null(json_object_get(ex, "example_config"));
		assert_non_null(json_get_str(ex, "usage"));
	}
	json_decref(j);
	free(a);
	free(b);
	free(bob);
}

/* Every example config of every type passes the domain's validation, and
 * creating a task with each main example works. */
static void test_config_examples_valid(void **state)
{
	struct fx *f = *state;
	json_t *j, *ex;
	const char *type;

	for (int t = 0; t < TASK_TYPE__COUNT; t++) {
		const struct app_mcp_example *x = app_mcp_example(t);
		const char *all[16] = {x->config};
		size_t n = 1;
		char *args;

		assert_string_equal(x->task_type, task_type_name(t));
		for (const char *const *m = x->more; m && *m && n < 16; m++)
			all[n++] = *m;
		for (size_t i = 0; i < n; i++) {
			struct err e = {0};
			json_t *cfg = json_loads(all[i], 0, NULL), *norm;

			if (!cfg)
				fail_msg("%s example %zu is not JSON: %s", x->task_type, i, all[i]);
			norm = task_config_validate(t, cfg, &e);
			if (!norm)
				fail_msg("%s example %zu is refused: %s", x->task_type, i,
					 err_msg(&e));
			json_decref(norm);
			json_decref(cfg);
		}
		args = xasprintf("{\"task_type\": \"%s\", \"description\": \"example\", "
				 "\"config\": %s}",
				 x->task_type, x->config);
		free(create(f, args));
		free(args);
	}
	/* and the resource shows exactly those */
	j = read_resource(f, "event://config/examples");
	json_object_foreach(json_object_get(j, "examples"), type, ex) {
		struct err e = {0};
		int t;
		json_t *norm, *m;
		size_t i;

		assert_int_equal(task_type_parse(type, &t, NULL), ERR_OK);
		norm = task_config_validate(t, json_object_get(ex, "example_config"), &e);
		assert_non_null(norm);
		json_decref(norm);
		json_array_foreach(json_object_get(ex, "more_examples"), i, m) {
			norm = task_config_validate(t, m, &e);
			assert_non_null(norm);
			json_decref(norm);
		}
	}
	assert_int_equal(json_object_size(json_object_get(j, "examples")), 4);
	json_decref(j);
}

/* ---- prompts --------------------------------------------------------------------------------- */

/* prompts/get, then make the tool call its message asks for. */
static json_t *prompt_and_call(struct fx *f, const char *name, const char *args,
			       const char *must_contain)
{
	char *params = xasprintf("{\"name\": \"%s\", \"arguments\": %s}", name, args);
	json_t *res = rpc_ok(f, "prompts/get", params), *msg, *call;
	const char *text, *start, *end;
	char *block;

	free(params);
	msg = json_array_get(json_object_get(res, "messages"), 0);
	assert_string_equal(json_get_str(msg, "role"), "user");
	text = json_get_str(json_object_get(msg, "content"), "text");
	assert_non_null(text);
	assert_non_null(strstr(text, "create_background_task"));
	if (must_contain && !strstr(text, must_contain))
		fail_msg("prompt %s lacks \"%s\":\n%s", name, must_contain, text);
	start = strstr(text, "```json\n");
	assert_non_null(start);
	start += 8;
	end = strstr(start, "\n```");
	assert_non_null(end);
	block = xstrndup(start, (size_t)(end - start));
	call = call_tool(f, "create_background_task", block);
	if (json_is_true(json_object_get(call, "isError")))
		fail_msg("the call of prompt %s failed: %s", name, error_text(call));
	free(block);
	json_decref(res);
	return call;
}

static void test_prompts(void **state)
{
	struct fx *f = *state;
	json_t *res, *cfg;
	char msg[400];

	res = rpc_ok(f, "prompts/list", "{}");
	assert_int_equal(json_array_size(json_object_get(res, "prompts")), 3);
	json_decref(res);

	res = prompt_and_call(f, "monitor_website",
			      "{\"url\": \"techcrunch.com\", \"keywords\": \"artificial "
			      "intelligence, AI, machine learning\", \"interval_minutes\": \"30\", "
			      "\"phone_number\": \"+1234567890\"}",
			      "+1234567890");
	cfg = json_object_get(data_of(res), "config");
	assert_string_equal(json_string_value(json_array_get(json_object_get(cfg, "urls"), 0)),
			    "https://techcrunch.com");
	assert_int_equal(json_array_size(json_object_get(cfg, "keywords")), 3);
	assert_int_equal(json_integer_value(json_object_get(cfg, "check_interval_minutes")), 30);
	assert_string_equal(json_get_str(json_object_get(cfg, "notification"), "method"),
			    "send_sms");
	json_decref(res);

	res = prompt_and_call(f, "daily_news_digest", "{}", "news.ycombinator.com");
	cfg = json_object_get(data_of(res), "config");
	assert_int_equal(json_integer_value(json_object_get(cfg, "hour")), 8);
	assert_int_equal(json_array_size(json_object_get(cfg, "news_urls")), 2);
	json_decref(res);

	res = prompt_and_call(f, "daily_reminder",
			      "{\"message\": \"Check my project status\", \"hour\": \"9\"}",
			      "09:00");
	cfg = json_object_get(data_of(res), "config");
	assert_string_equal(json_get_str(cfg, "type"), "daily");
	assert_int_equal(json_integer_value(json_object_get(cfg, "hour")), 9);
	assert_string_equal(json_get_str(cfg, "message"), "Check my project status");
	json_decref(res);

	/* bad and missing arguments */
	assert_int_equal(rpc_err(f, "prompts/get",
				 "{\"name\": \"monitor_website\", \"arguments\": {\"url\": "
				 "\"https://a.example\", \"keywords\": \"AI\", "
				 "\"interval_minutes\": \"soon\"}}",
				 msg, sizeof msg),
			 -32602);
	assert_non_null(strstr(msg, "interval_minutes"));
	assert_int_equal(rpc_err(f, "prompts/get",
				 "{\"name\": \"daily_reminder\", \"arguments\": {\"message\": "
				 "\"x\", \"phone_number\": \"call me\"}}",
				 msg, sizeof msg),
			 -32602);
	assert_non_null(strstr(msg, "phone_number"));
	assert_int_equal(rpc_err(f, "prompts/get",
				 "{\"name\": \"monitor_website\", \"arguments\": {\"url\": "
				 "\"https://a.example\"}}",
				 NULL, 0),
			 -32602);
}

/* ---- completion --------------------------------------------------------------------------------
 */

static void test_completion(void **state)
{
	struct fx *f = *state;
	char *id = create(f, WEB_MONITOR_ARGS), params[400];
	json_t *res, *vals;

	res = rpc_ok(f, "completion/complete",
		     "{\"ref\": {\"type\": \"ref/resource\", \"uri\": "
		     "\"event://tasks/by-type/{task_type}\"}, \"argument\": {\"name\": "
		     "\"task_type\", \"value\": \"\"}}");
	vals = json_object_get(json_object_get(res, "completion"), "values");
	assert_int_equal(json_array_size(vals), 4);
	json_decref(res);
	res = rpc_ok(f, "completion/complete",
		     "{\"ref\": {\"type\": \"ref/resource\", \"uri\": "
		     "\"event://tasks/by-type/{task_type}\"}, \"argument\": {\"name\": "
		     "\"task_type\", \"value\": \"ne\"}}");
	vals = json_object_get(json_object_get(res, "completion"), "values");
	assert_int_equal(json_array_size(vals), 1);
	assert_string_equal(json_string_value(json_array_get(vals, 0)), "news_digest");
	json_decref(res);

	snprintf(params, sizeof params,
		 "{\"ref\": {\"type\": \"ref/resource\", \"uri\": "
		 "\"event://tasks/{task_id}/events\"}, \"argument\": {\"name\": \"task_id\", "
		 "\"value\": \"%.4s\"}}",
		 id);
	res = rpc_ok(f, "completion/complete", params);
	vals = json_object_get(json_object_get(res, "completion"), "values");
	assert_int_equal(json_array_size(vals), 1);
	assert_string_equal(json_string_value(json_array_get(vals, 0)), id);
	json_decref(res);
	free(id);
}

/* ---- watcher ----------------------------------------------------------------------------------
 */

struct wait_uri {
	struct fx *f;
	const char *uri;
	size_t from;
};

static bool saw_update(void *ud)
{
	struct wait_uri *w = ud;
	bool found = false;

	pthread_mutex_lock(&w->f->out.mu);
	for (size_t i = w->from; i < json_array_size(w->f->out.msgs) && !found; i++) {
		json_t *m = json_array_get(w->f->out.msgs, i);

		found = json_get_str(m, "method") &&
			strcmp(json_get_str(m, "method"), "notifications/resources/updated") == 0 &&
			json_get_str(json_object_get(m, "params"), "uri") &&
			strcmp(json_get_str(json_object_get(m, "params"), "uri"), w->uri) == 0;
	}
	pthread_mutex_unlock(&w->f->out.mu);
	return found;
}

static size_t out_count(struct fx *f)
{
	size_t n;

	pthread_mutex_lock(&f->out.mu);
	n = json_array_size(f->out.msgs);
	pthread_mutex_unlock(&f->out.mu);
	return n;
}

static void test_watcher(void **state)
{
	struct fx *f = *state;
	char *id = create(f, WEB_MONITOR_ARGS), uri[200], params[300];
	struct app_actor who = {.principal = "cli:test"};
	struct store *other = NULL;
	struct err e = {0};
	struct wait_uri w = {.f = f};

	assert_int_equal(app_mcp_watch_start(f->app, f->srv, &e), ERR_OK);
	assert_int_equal(app_mcp_watch_start(f->app, f->srv, &e), ERR_STATE);
	json_decref(rpc_ok(f, "resources/subscribe", "{\"uri\": \"event://tasks\"}"));
	snprintf(uri, sizeof uri, "event://tasks/%s", id);
	snprintf(params, sizeof params, "{\"uri\": \"%s\"}", uri);
	json_decref(rpc_ok(f, "resources/subscribe", params));
	json_decref(rpc_ok(f, "resources/subscribe",
			   "{\"uri\": \"event://tasks/by-type/web_monitor\"}"));

	/* a change through the tools */
	w.from = out_count(f);
	w.uri = uri;
	snprintf(params, sizeof params, "{\"task_id\": \"%s\"}", id);
	json_decref(call_tool(f, "pause_background_task", params));
	assert_true(test_wait_until(saw_update, &w, 10));
	w.uri = "event://tasks";
	assert_true(test_wait_until(saw_update, &w, 10));
	w.uri = "event://tasks/by-type/web_monitor";
	assert_true(test_wait_until(saw_update, &w, 10));

	/* a change through another handle on the same file, as another process */
	assert_int_equal(app_store_open(f->url, false, &other, &e), ERR_OK);
	w.from = out_count(f);
	w.uri = uri;
	assert_int_equal(app_task_resume(other, &who, id, NULL, NULL, &e), ERR_OK);
	assert_true(test_wait_until(saw_update, &w, 10));
	store_close(other);

	/* unsubscribed URIs are not sent */
	w.from = out_count(f);
	w.uri = "event://status";
	assert_false(saw_update(&w));

	/* with no subscription left the watcher skips the log unread; a new
	 * subscription hears of what comes after it */
	char sub_params[300];
	snprintf(sub_params, sizeof sub_params, "{\"uri\": \"%s\"}", uri);
	json_decref(rpc_ok(f, "resources/unsubscribe", "{\"uri\": \"event://tasks\"}"));
	json_decref(rpc_ok(f, "resources/unsubscribe", sub_params));
	json_decref(rpc_ok(f, "resources/unsubscribe",
			   "{\"uri\": \"event://tasks/by-type/web_monitor\"}"));
	char *id2 = create(f, WEB_MONITOR_ARGS);
	assert_true(mcp_server_may_notify(f->srv) == false);
	json_decref(rpc_ok(f, "resources/subscribe", sub_params));
	assert_true(mcp_server_may_notify(f->srv));
	w.from = out_count(f);
	w.uri = uri;
	snprintf(params, sizeof params, "{\"task_id\": \"%s\"}", id);
	json_decref(call_tool(f, "pause_background_task", params));
	assert_true(test_wait_until(saw_update, &w, 10));
	free(id2);
	free(id);
}

/* ---- the text format
 * ----------------------------------------------------------------------------- */

static void test_python_json_text(void **state)
{
	json_t *j =
		json_pack("{s:s, s:[i, f, f], s:f, s:{}, s:[], s:n, s:b}", "a", "caf\xc3\xa9 \"x\"",
			  "b", 1, 2.5, 0.1, "c", 50000.0, "d", "e", "f", "g", 1);
	char *t = app_mcp_dumps(j, 0);

	(void)state;
	assert_string_equal(t, "{\"a\": \"caf\\u00e9 \\\"x\\\"\", \"b\": [1, 2.5, 0.1], "
			       "\"c\": 50000.0, \"d\": {}, \"e\": [], \"f\": null, \"g\": true}");
	free(t);
	t = app_mcp_dumps(j, 2);
	assert_true(strncmp(t, "{\n  \"a\": \"caf\\u00e9", 19) == 0);
	free(t);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_python_json_text),
		cmocka_unit_test_setup_teardown(test_tools_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seed_examples, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_filters_and_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_rendered_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_resume_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_task_tools, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recent_events_scan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_examples_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prompts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_completion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watcher, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
