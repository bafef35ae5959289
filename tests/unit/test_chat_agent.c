/*
 * test_chat_agent.c - the agent loop of `ambient chat` (src/cli/chat_agent)
 * against the in-process OpenAI stand-in of tests/fixture_sinks, which
 * scripts the model's answers (text or tool calls, streamed or not) and
 * records every request: the tests check the tools, the messages and the
 * tool results the agent sends.  127.0.0.1 only.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/chat_agent.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "sinks.h"

static struct sinks *S;
static char base[64];

/* What the hooks saw. */
struct seen {
	struct buf text;
	json_t *calls; /* [{name, args}] */
	json_t *results;
	int answers;
	bool stop;
	const char *reply; /* what call_tool answers */
	bool reply_error;
};

static struct seen W;

static void hook_text(void *ud, const char *t, size_t n)
{
	(void)ud;
	buf_append(&W.text, t, n);
}

static void hook_end(void *ud)
{
	(void)ud;
	W.answers++;
}

static void hook_call(void *ud, const char *name, const char *args)
{
	(void)ud;
	json_array_append_new(W.calls, json_pack("{s:s, s:s}", "name", name, "args", args));
}

static void hook_result(void *ud, const char *name, const char *text, bool is_error)
{
	(void)ud;
	json_array_append_new(W.results, json_pack("{s:s, s:s, s:b}", "name", name, "text", text,
						   "error", is_error));
}

static int hook_tool(void *ud, const char *name, const json_t *args, char **text, bool *is_error)
{
	(void)ud;
	char *a = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS);
	*text = xasprintf("%s ran with %s: %s", name, a, W.reply ? W.reply : "ok");
	*is_error = W.reply_error;
	free(a);
	return 0;
}

static bool hook_stop(void *ud)
{
	(void)ud;
	return W.stop;
}

static const struct chat_agent_hooks hooks = {hook_text, hook_end,  hook_call, hook_result,
					      hook_tool, hook_stop, NULL};

static int setup(void **state)
{
	(void)state;
	struct sinks_options o = {0};
	o.smtp_port = -1;
	o.openai_key = "sk-agent-test";
	struct err e = {0};
	if (sinks_start(&o, &S, &e)) {
		fprintf(stderr, "sinks: %s\n", e.msg);
		return -1;
	}
	snprintf(base, sizeof base, "http://127.0.0.1:%d/v1", sinks_http_port(S));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sinks_stop(S);
	return 0;
}

static int reset(void **state)
{
	(void)state;
	buf_cleanup(&W.text);
	json_decref(W.calls);
	json_decref(W.results);
	memset(&W, 0, sizeof W);
	buf_init(&W.text, 1u << 20);
	W.calls = json_array();
	W.results = json_array();
	return sinks_control(S, "reset", NULL, NULL);
}

static void script(const char *json)
{
	json_t *j = json_loads(json, 0, NULL);
	assert_non_null(j);
	assert_int_equal(sinks_control(S, "llm", j, NULL), 0);
	json_decref(j);
}

/* The i-th request the model server received (new reference). */
static json_t *request(size_t i)
{
	json_t *l = sinks_list(S, "llm/requests");
	json_t *r = json_incref(json_array_get(json_object_get(l, "requests"), i));
	json_decref(l);
	return r;
}

static size_t nrequests(void)
{
	json_t *l = sinks_list(S, "llm/requests");
	size_t n = (size_t)json_get_int(l, "count", 0);
	json_decref(l);
	return n;
}

/* Two MCP tools as tools/list gives them. */
static json_t *mcp_tools(void)
{
	return json_loads(
		"[{\"name\": \"list_background_tasks\", \"description\": \"List tasks.\", "
		"\"inputSchema\": {\"type\": \"object\", \"properties\": {\"status\": {\"type\": "
		"\"string\"}}}, \"annotations\": {\"readOnlyHint\": true}},"
		" {\"name\": \"send_sms\", \"description\": \"Send an SMS.\", \"inputSchema\": "
		"{\"type\": \"object\", \"properties\": {\"to\": {\"type\": \"string\"}, "
		"\"message\": {\"type\": \"string\"}}, \"required\": [\"to\", \"message\"]}}]",
		0, NULL);
}

static struct chat_agent *agent(int steps, bool no_stream)
{
	struct chat_agent_options o = {0};
	o.llm.api_key = "sk-agent-test";
	o.llm.base_url = base;
	o.llm.model = "agent-model";
	o.llm.timeout_ms = 10000;
	o.max_steps = steps;
	o.no_stream = no_stream;
	struct chat_agent *a = chat_agent_new(&o, &hooks);
	json_t *t = mcp_tools();
	assert_int_equal(chat_agent_set_tools(a, t), 2);
	json_decref(t);
	chat_agent_set_system(a, "SYSTEM PROMPT");
	return a;
}

static const json_t *msg_at(const json_t *req, size_t i)
{
	return json_array_get(json_object_get(req, "messages"), i);
}

/* ---- the loop ----------------------------------------------------------------- */

static void test_tool_loop(void **state)
{
	(void)state;
	script("{\"replies\": [{\"content\": null, \"tool_calls\": [{\"id\": \"call_a\", \"type\": "
	       "\"function\", \"function\": {\"name\": \"list_background_tasks\", \"arguments\": "
	       "\"{\\\"status\\\": \\\"active\\\"}\"}}]}, \"You have 2 active tasks.\"]}");
	struct chat_agent *a = agent(0, false);
	char *answer = NULL;
	struct err e = {0};
	assert_int_equal(chat_agent_turn(a, "what runs?", &answer, &e), 0);
	assert_string_equal(answer, "You have 2 active tasks.");
	assert_string_equal(buf_str(&W.text), "You have 2 active tasks."); /* streamed */
	assert_int_equal(W.answers, 2);

	/* the tool ran with the model's arguments */
	assert_int_equal(json_array_size(W.calls), 1);
	assert_string_equal(json_get_str(json_array_get(W.calls, 0), "name"),
			    "list_background_tasks");
	assert_string_equal(json_get_str(json_array_get(W.results, 0), "text"),
			    "list_background_tasks ran with {\"status\":\"active\"}: ok");

	/* first request: system + user, the tools as OpenAI functions, streamed */
	assert_int_equal(nrequests(), 2);
	json_t *r0 = request(0);
	assert_true(json_is_true(json_object_get(r0, "stream")));
	assert_string_equal(json_get_str(r0, "model"), "agent-model");
	assert_string_equal(json_get_str(msg_at(r0, 0), "role"), "system");
	assert_string_equal(json_get_str(msg_at(r0, 0), "content"), "SYSTEM PROMPT");
	assert_string_equal(json_get_str(msg_at(r0, 1), "role"), "user");
	assert_string_equal(json_get_str(msg_at(r0, 1), "content"), "what runs?");
	json_t *tools = json_object_get(r0, "tools");
	assert_int_equal(json_array_size(tools), 2);
	json_t *fn = json_object_get(json_array_get(tools, 1), "function");
	assert_string_equal(json_get_str(json_array_get(tools, 1), "type"), "function");
	assert_string_equal(json_get_str(fn, "name"), "send_sms");
	assert_string_equal(json_get_str(fn, "description"), "Send an SMS.");
	json_t *req0 = json_object_get(json_object_get(fn, "parameters"), "required");
	assert_string_equal(json_string_value(json_array_get(req0, 0)), "to");
	json_decref(r0);

	/* second request: + the assistant's tool call and the tool's result */
	json_t *r1 = request(1);
	assert_int_equal(json_array_size(json_object_get(r1, "messages")), 4);
	const json_t *asst = msg_at(r1, 2), *tool = msg_at(r1, 3);
	assert_string_equal(json_get_str(asst, "role"), "assistant");
	json_t *call = json_array_get(json_object_get(asst, "tool_calls"), 0);
	assert_string_equal(json_get_str(call, "id"), "call_a");
	assert_string_equal(json_get_str(json_object_get(call, "function"), "arguments"),
			    "{\"status\": \"active\"}");
	assert_string_equal(json_get_str(tool, "role"), "tool");
	assert_string_equal(json_get_str(tool, "tool_call_id"), "call_a");
	assert_string_equal(json_get_str(tool, "content"),
			    "list_background_tasks ran with {\"status\":\"active\"}: ok");
	json_decref(r1);

	/* the conversation is kept: user, assistant(tool_calls), tool, assistant */
	assert_int_equal(json_array_size(chat_agent_history(a)), 4);
	free(answer);

	/* a second turn carries the first */
	script("{\"replies\": [\"Still two.\"]}");
	assert_int_equal(chat_agent_turn(a, "and now?", &answer, &e), 0);
	json_t *r2 = request(2);
	assert_int_equal(json_array_size(json_object_get(r2, "messages")), 6);
	assert_string_equal(json_get_str(msg_at(r2, 5), "content"), "and now?");
	json_decref(r2);
	free(answer);
	chat_agent_free(a);
}

static void test_several_calls_bad_args_unknown_tool(void **state)
{
	(void)state;
	script("{\"replies\": [{\"content\": \"Let me look.\", \"tool_calls\": ["
	       "{\"id\": \"c1\", \"type\": \"function\", \"function\": {\"name\": \"send_sms\", "
	       "\"arguments\": \"{\\\"to\\\": \\\"+15550001111\\\", \\\"message\\\": "
	       "\\\"hi\\\"}\"}},"
	       "{\"id\": \"c2\", \"type\": \"function\", \"function\": {\"name\": \"nope\", "
	       "\"arguments\": \"{}\"}},"
	       "{\"id\": \"c3\", \"type\": \"function\", \"function\": {\"name\": \"send_sms\", "
	       "\"arguments\": \"{not json\"}}]}, \"Done.\"]}");
	struct chat_agent *a = agent(0, false);
	char *answer = NULL;
	struct err e = {0};
	assert_int_equal(chat_agent_turn(a, "text me", &answer, &e), 0);
	assert_string_equal(answer, "Done.");
	assert_string_equal(buf_str(&W.text), "Let me look.Done.");
	assert_int_equal(json_array_size(W.results), 3);
	assert_false(json_is_true(json_object_get(json_array_get(W.results, 0), "error")));
	assert_true(json_is_true(json_object_get(json_array_get(W.results, 1), "error")));
	assert_true(json_is_true(json_object_get(json_array_get(W.results, 2), "error")));

	json_t *r1 = request(1);
	/* system, user, assistant, 3 tool messages */
	assert_int_equal(json_array_size(json_object_get(r1, "messages")), 6);
	assert_string_equal(json_get_str(msg_at(r1, 2), "content"), "Let me look.");
	assert_string_equal(json_get_str(msg_at(r1, 3), "tool_call_id"), "c1");
	assert_non_null(strstr(json_get_str(msg_at(r1, 3), "content"), "+15550001111"));
	assert_string_equal(json_get_str(msg_at(r1, 4), "tool_call_id"), "c2");
	assert_non_null(strstr(json_get_str(msg_at(r1, 4), "content"), "no tool named 'nope'"));
	assert_non_null(strstr(json_get_str(msg_at(r1, 4), "content"), "send_sms"));
	assert_string_equal(json_get_str(msg_at(r1, 5), "tool_call_id"), "c3");
	assert_non_null(strstr(json_get_str(msg_at(r1, 5), "content"), "JSON object"));
	json_decref(r1);
	free(answer);
	chat_agent_free(a);
}

static void test_step_limit(void **state)
{
	(void)state;
	const char *call = "{\"content\": null, \"tool_calls\": [{\"id\": \"c\", \"type\": "
			   "\"function\", \"function\": {\"name\": \"list_background_tasks\", "
			   "\"arguments\": \"{}\"}}]}";
	char *s = xasprintf("{\"replies\": [%s, %s, %s]}", call, call, call);
	script(s);
	free(s);
	struct chat_agent *a = agent(2, false);
	char *answer = NULL;
	struct err e = {0};
	assert_int_equal(chat_agent_turn(a, "loop", &answer, &e), ERR_TOO_BIG);
	assert_null(answer);
	assert_non_null(strstr(e.msg, "--max-steps"));
	assert_int_equal(nrequests(), 2);
	/* every tool call has its result in the history */
	const json_t *h = chat_agent_history(a);
	assert_int_equal(json_array_size(h), 5); /* user, (assistant, tool) x 2 */
	assert_string_equal(json_get_str(json_array_get(h, 4), "role"), "tool");
	chat_agent_free(a);
}

static void test_no_stream_and_failure(void **state)
{
	(void)state;
	struct chat_agent *a = agent(0, true);
	char *answer = NULL;
	struct err e = {0};

	/* a failed model call leaves the history as it was */
	script("{\"fail\": 1, \"status\": 500}");
	assert_int_equal(chat_agent_turn(a, "first", &answer, &e), ERR_IO);
	assert_int_equal(json_array_size(chat_agent_history(a)), 0);

	script("{\"replies\": [\"plain answer\"]}");
	assert_int_equal(chat_agent_turn(a, "second", &answer, &e), 0);
	assert_string_equal(answer, "plain answer");
	assert_string_equal(buf_str(&W.text), "plain answer");
	json_t *r = request(1);
	assert_null(json_object_get(r, "stream"));
	json_decref(r);
	free(answer);
	chat_agent_free(a);
}

static void test_stop(void **state)
{
	(void)state;
	script("{\"replies\": [{\"content\": null, \"tool_calls\": [{\"id\": \"c\", \"type\": "
	       "\"function\", \"function\": {\"name\": \"list_background_tasks\", \"arguments\": "
	       "\"{}\"}}]}]}");
	struct chat_agent *a = agent(0, false);
	char *answer = NULL;
	struct err e = {0};
	W.stop = true;
	assert_int_equal(chat_agent_turn(a, "stop me", &answer, &e), ERR_STATE);
	assert_int_equal(json_array_size(W.calls), 0);
	chat_agent_free(a);
}

static void test_history_trim(void **state)
{
	(void)state;
	struct chat_agent_options o = {0};
	o.llm.api_key = "sk-agent-test";
	o.llm.base_url = base;
	o.llm.timeout_ms = 10000;
	o.max_history = 300;
	struct chat_agent *a = chat_agent_new(&o, &hooks);
	char *answer = NULL;
	struct err e = {0};
	for (int i = 0; i < 6; i++) {
		char q[100];
		snprintf(q, sizeof q, "question %d with some padding to grow the history", i);
		script("{\"replies\": [\"an answer with some padding to grow the history\"]}");
		assert_int_equal(chat_agent_turn(a, q, &answer, &e), 0);
		free(answer);
	}
	const json_t *h = chat_agent_history(a);
	char *t = json_dumps(h, JSON_COMPACT);
	assert_true(strlen(t) <= 300);
	free(t);
	assert_string_equal(json_get_str(json_array_get(h, 0), "role"), "user");
	assert_non_null(strstr(json_get_str(json_array_get(h, json_array_size(h) - 2), "content"),
			       "question 5"));
	chat_agent_free(a);
}

/* ---- building blocks ------------------------------------------------------------ */

static void test_openai_tools(void **state)
{
	(void)state;
	struct buf long_desc;
	buf_init(&long_desc, 1u << 20);
	for (int i = 0; i < 300; i++)
		buf_puts(&long_desc, "word ");
	json_t *t =
		json_pack("[{s:s, s:s, s:{s:s, s:s}}, {s:s, s:s}, {s:s}, {s:s}, {s:s}]", "name",
			  "math.add", "description", buf_str(&long_desc), "inputSchema", "$schema",
			  "https://json-schema.org/draft/2020-12/schema", "type", "object", "name",
			  "math_add", "title", "Adds", "name",
			  "a-very-long-name-a-very-long-name-a-very-long-name-a-very-long-name-x",
			  "name", "", "name", "math/add");
	json_t *names = json_object();
	json_t *o = chat_agent_openai_tools(t, names);
	assert_int_equal(json_array_size(o), 4); /* the nameless one is dropped */
	json_t *f0 = json_object_get(json_array_get(o, 0), "function");
	json_t *f1 = json_object_get(json_array_get(o, 1), "function");
	json_t *f2 = json_object_get(json_array_get(o, 2), "function");
	json_t *f3 = json_object_get(json_array_get(o, 3), "function");
	assert_string_equal(json_get_str(f0, "name"), "math_add");
	assert_string_equal(json_get_str(f1, "name"), "math_add_2");
	assert_int_equal(strlen(json_get_str(f2, "name")), 64);
	assert_string_equal(json_get_str(f3, "name"), "math_add_3");
	assert_string_equal(json_string_value(json_object_get(names, "math_add")), "math.add");
	assert_string_equal(json_string_value(json_object_get(names, "math_add_2")), "math_add");
	assert_string_equal(json_string_value(json_object_get(names, "math_add_3")), "math/add");
	/* a long description: cut for the function, whole in the parameters */
	assert_true(strlen(json_get_str(f0, "description")) <= 1024);
	json_t *p0 = json_object_get(f0, "parameters");
	assert_null(json_object_get(p0, "$schema"));
	assert_true(json_is_object(json_object_get(p0, "properties")));
	assert_string_equal(json_get_str(p0, "description"), buf_str(&long_desc));
	/* the title stands in for a missing description; a schema is made */
	assert_string_equal(json_get_str(f1, "description"), "Adds");
	assert_string_equal(json_get_str(json_object_get(f1, "parameters"), "type"), "object");
	buf_cleanup(&long_desc);
	json_decref(t);
	json_decref(o);
	json_decref(names);
}

static void test_result_text(void **state)
{
	(void)state;
	bool err;
	json_t *r = json_loads("{\"content\": [{\"type\": \"text\", \"text\": \"one\"}, {\"type\": "
			       "\"image\", \"data\": \"AAAA\", \"mimeType\": \"image/png\"}, "
			       "{\"type\": \"resource_link\", \"uri\": \"event://tasks\"}], "
			       "\"isError\": true}",
			       0, NULL);
	char *t = chat_agent_result_text(r, 0, &err);
	assert_true(err);
	assert_string_equal(t, "one\n[image content, image/png, 4 bytes of base64]\n"
			       "[resource link: event://tasks]");
	free(t);
	json_decref(r);

	r = json_loads("{\"content\": [], \"structuredContent\": {\"a\": 1}}", 0, NULL);
	t = chat_agent_result_text(r, 0, &err);
	assert_false(err);
	assert_string_equal(t, "{\"a\":1}");
	free(t);
	json_decref(r);

	/* cut on a UTF-8 boundary */
	r = json_pack("{s:[{s:s, s:s}]}", "content", "type", "text", "text", "ab\xc3\xa9\xc3\xa9");
	t = chat_agent_result_text(r, 3, &err);
	assert_int_equal(strncmp(t, "ab\n[... ", 8), 0);
	free(t);
	json_decref(r);
}

static void test_prompts(void **state)
{
	(void)state;
	char *s = chat_agent_system_prompt("{\"examples\": 1}",
					   "http://127.0.0.1:9/process_background_feedback",
					   "Use the tools.", true, false);
	assert_non_null(strstr(s, "{\"examples\": 1}"));
	assert_non_null(
		strstr(s, "callback_url to \"http://127.0.0.1:9/process_background_feedback\""));
	assert_non_null(strstr(s, "call send_sms"));
	assert_null(strstr(s, "send_email (to"));
	assert_non_null(strstr(s, "NO_NOTIFICATION_NEEDED"));
	assert_non_null(strstr(s, "Use the tools."));
	free(s);
	s = chat_agent_system_prompt(NULL, NULL, NULL, false, false);
	assert_non_null(strstr(s, "Leave callback_url out"));
	assert_non_null(strstr(s, "no send_sms or send_email tool"));
	free(s);

	json_t *evs = json_loads(
		"[{\"task_id\": \"demo-task-1\", \"event_type\": \"web_content_change\", "
		"\"priority\": 3, \"timestamp\": \"2025-06-20T21:03:24.283615\", \"data\": "
		"{\"keywords_found\": [\"GPT-5\"]}, \"notification\": {\"method\": \"send_sms\", "
		"\"phone_number\": \"+1234567890\"}}]",
		0, NULL);
	s = chat_agent_event_prompt(evs, true, true);
	assert_non_null(strstr(s, "Background task event received"));
	assert_non_null(strstr(s, "Task ID: demo-task-1"));
	assert_non_null(strstr(s, "Event type: web_content_change"));
	assert_non_null(strstr(s, "Priority: 3"));
	assert_non_null(strstr(s, "GPT-5"));
	assert_non_null(strstr(s, "+1234567890"));
	assert_non_null(strstr(s, "send_sms or send_email"));
	assert_non_null(strstr(s, "answer exactly NO_NOTIFICATION_NEEDED"));
	free(s);
	json_decref(evs);
	assert_true(chat_agent_no_notification("NO_NOTIFICATION_NEEDED"));
	assert_false(chat_agent_no_notification("Sent an SMS."));
}

/* The event question, with the fixture's own judgement: it answers
 * NO_NOTIFICATION_NEEDED to "priority: 2" ... */
static void test_event_turn(void **state)
{
	(void)state;
	script("{\"replies\": [{\"content\": null, \"tool_calls\": [{\"id\": \"s1\", \"type\": "
	       "\"function\", \"function\": {\"name\": \"send_sms\", \"arguments\": "
	       "\"{\\\"to\\\": \\\"+1234567890\\\", \\\"message\\\": \\\"GPT-5 news\\\"}\"}}]}, "
	       "\"Sent an SMS about GPT-5.\"]}");
	struct chat_agent *a = agent(0, false);
	json_t *evs = json_loads("[{\"task_id\": \"t\", \"event_type\": \"web_content_change\", "
				 "\"priority\": 3, \"data\": {}}]",
				 0, NULL);
	char *q = chat_agent_event_prompt(evs, true, false), *answer = NULL;
	struct err e = {0};
	assert_int_equal(chat_agent_turn(a, q, &answer, &e), 0);
	assert_string_equal(json_get_str(json_array_get(W.calls, 0), "name"), "send_sms");
	assert_string_equal(answer, "Sent an SMS about GPT-5.");
	json_t *r0 = request(0);
	assert_string_equal(json_get_str(msg_at(r0, 1), "content"), q);
	json_decref(r0);
	free(answer);
	free(q);
	json_decref(evs);
	chat_agent_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_tool_loop, reset),
		cmocka_unit_test_setup(test_several_calls_bad_args_unknown_tool, reset),
		cmocka_unit_test_setup(test_step_limit, reset),
		cmocka_unit_test_setup(test_no_stream_and_failure, reset),
		cmocka_unit_test_setup(test_stop, reset),
		cmocka_unit_test_setup(test_history_trim, reset),
		cmocka_unit_test_setup(test_openai_tools, reset),
		cmocka_unit_test_setup(test_result_text, reset),
		cmocka_unit_test_setup(test_prompts, reset),
		cmocka_unit_test_setup(test_event_turn, reset),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	buf_cleanup(&W.text);
	json_decref(W.calls);
	json_decref(W.results);
	return rc;
}
