/*
 * test_chat_stream.c - llm_chat_stream (src/engine/llm.c), the streamed chat
 * completions `ambient chat` uses, against the OpenAI stand-in of
 * tests/fixture_sinks: text and tool calls in SSE chunks as OpenAI sends
 * them, other servers' dialects (raw streams), a server that does not
 * stream, errors, interruption and the idle timeout.  127.0.0.1 only.
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

#include "common/buf.h"
#include "common/json.h"
#include "engine/llm.h"
#include "sinks.h"

#define KEY "sk-stream-test"

static struct sinks *S;
static char base[64];

struct got {
	struct buf text;
	int pieces;
	int stop_after; /* on_text answers "stop" after this many pieces; 0: never */
	bool stop_now;
};

static struct got G;

static int on_text(void *ud, const char *t, size_t n)
{
	(void)ud;
	buf_append(&G.text, t, n);
	G.pieces++;
	return G.stop_after && G.pieces >= G.stop_after;
}

static bool stop(void *ud)
{
	(void)ud;
	return G.stop_now;
}

static const struct llm_stream_cb cb = {on_text, stop, NULL};

static int setup(void **state)
{
	(void)state;
	struct sinks_options o = {0};
	o.openai_key = KEY;
	o.smtp_port = -1;
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
	buf_cleanup(&G.text);
	return 0;
}

static int reset(void **state)
{
	(void)state;
	buf_cleanup(&G.text);
	memset(&G, 0, sizeof G);
	buf_init(&G.text, 1u << 20);
	return sinks_control(S, "reset", NULL, NULL);
}

static void control(const char *json)
{
	json_t *j = json_loads(json, 0, NULL);
	assert_non_null(j);
	assert_int_equal(sinks_control(S, "llm", j, NULL), 0);
	json_decref(j);
}

/* Script one raw event-stream answer (frames separated by blank lines). */
static void raw_stream(const char *text)
{
	json_t *j = json_pack("{s:s}", "raw_stream", text);
	assert_int_equal(sinks_control(S, "llm", j, NULL), 0);
	json_decref(j);
}

static struct llm_config cfg(void)
{
	struct llm_config c = {0};
	c.api_key = KEY;
	c.base_url = base;
	c.model = "stream-model";
	c.timeout_ms = 10000;
	return c;
}

static json_t *msgs(void)
{
	return json_pack("[{s:s, s:s}]", "role", "user", "content", "hello");
}

static void test_text_in_pieces(void **state)
{
	(void)state;
	control("{\"replies\": [\"The quick brown fox jumps over the lazy dog, twice: "
		"\\u00e9t\\u00e9.\"], \"chunk_ms\": 5}");
	struct llm_config c = cfg();
	json_t *m = msgs(), *reply = NULL;
	struct err e = {0};
	assert_int_equal(llm_chat_stream(&c, m, NULL, NULL, &cb, &reply, &e), 0);
	const char *want = "The quick brown fox jumps over the lazy dog, twice: \xc3\xa9t\xc3\xa9.";
	assert_string_equal(buf_str(&G.text), want);
	assert_true(G.pieces > 5); /* it came in pieces, in order */
	assert_string_equal(json_get_str(reply, "role"), "assistant");
	assert_string_equal(json_get_str(reply, "content"), want);
	assert_null(json_object_get(reply, "tool_calls"));
	json_decref(reply);

	json_t *l = sinks_list(S, "llm/requests");
	json_t *req = json_array_get(json_object_get(l, "requests"), 0);
	assert_true(json_is_true(json_object_get(req, "stream")));
	assert_string_equal(json_get_str(req, "model"), "stream-model");
	json_decref(l);
	json_decref(m);
}

static void test_tool_calls(void **state)
{
	(void)state;
	control("{\"replies\": [{\"content\": \"Checking.\", \"tool_calls\": ["
		"{\"id\": \"call_1\", \"type\": \"function\", \"function\": {\"name\": "
		"\"create_background_task\", \"arguments\": \"{\\\"task_type\\\": "
		"\\\"web_monitor\\\", "
		"\\\"config\\\": {\\\"urls\\\": [\\\"https://techcrunch.com\\\"]}}\"}},"
		"{\"id\": \"call_2\", \"type\": \"function\", \"function\": {\"name\": "
		"\"list_background_tasks\", \"arguments\": \"{}\"}}]}]}");
	struct llm_config c = cfg();
	json_t *m = msgs(), *reply = NULL;
	json_t *tools = json_pack("[{s:s, s:{s:s}}]", "type", "function", "function", "name",
				  "list_background_tasks");
	struct err e = {0};
	assert_int_equal(llm_chat_stream(&c, m, tools, NULL, &cb, &reply, &e), 0);
	assert_string_equal(json_get_str(reply, "content"), "Checking.");
	json_t *calls = json_object_get(reply, "tool_calls");
	assert_int_equal(json_array_size(calls), 2);
	json_t *c0 = json_array_get(calls, 0), *c1 = json_array_get(calls, 1);
	assert_string_equal(json_get_str(c0, "id"), "call_1");
	assert_string_equal(json_get_str(c0, "type"), "function");
	assert_string_equal(json_get_str(json_object_get(c0, "function"), "name"),
			    "create_background_task");
	assert_string_equal(json_get_str(json_object_get(c0, "function"), "arguments"),
			    "{\"task_type\": \"web_monitor\", \"config\": {\"urls\": "
			    "[\"https://techcrunch.com\"]}}");
	assert_string_equal(json_get_str(json_object_get(c1, "function"), "name"),
			    "list_background_tasks");
	assert_string_equal(json_get_str(json_object_get(c1, "function"), "arguments"), "{}");
	json_decref(reply);

	/* only tool calls: content is null, as in a non-streamed answer */
	control("{\"replies\": [{\"content\": null, \"tool_calls\": [{\"id\": \"x\", \"type\": "
		"\"function\", \"function\": {\"name\": \"a\", \"arguments\": \"{}\"}}]}]}");
	assert_int_equal(llm_chat_stream(&c, m, tools, NULL, &cb, &reply, &e), 0);
	assert_true(json_is_null(json_object_get(reply, "content")));
	json_decref(reply);
	json_decref(tools);
	json_decref(m);
}

/* Other servers: CRLF lines, comments, calls without an index and with the
 * id repeated in every delta, no [DONE] after finish_reason. */
static void test_dialects(void **state)
{
	(void)state;
	raw_stream(": keepalive\r\n\r\n"
		   "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\r\n\r\n"
		   "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"id\":\"c9\","
		   "\"type\":\"function\",\"function\":{\"name\":\"send_sms\",\"arguments\":\"{"
		   "\\\"to\"}}]}}]}\r\n\r\n"
		   "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"id\":\"c9\","
		   "\"function\":{\"arguments\":\"\\\": \\\"+1\\\"}\"}}]}}]}\r\n\r\n"
		   "data: "
		   "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}"
		   "\r\n\r\n");
	struct llm_config c = cfg();
	json_t *m = msgs(), *reply = NULL;
	struct err e = {0};
	assert_int_equal(llm_chat_stream(&c, m, NULL, NULL, &cb, &reply, &e), 0);
	json_t *calls = json_object_get(reply, "tool_calls");
	assert_int_equal(json_array_size(calls), 1);
	json_t *c0 = json_array_get(calls, 0);
	assert_string_equal(json_get_str(c0, "id"), "c9");
	assert_string_equal(json_get_str(json_object_get(c0, "function"), "name"), "send_sms");
	assert_string_equal(json_get_str(json_object_get(c0, "function"), "arguments"),
			    "{\"to\": \"+1\"}");
	json_decref(reply);

	/* a data line split across two lines of one event, and no blank line at
	 * the very end */
	raw_stream("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
		   "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},"
		   "\"finish_reason\":\"stop\"}]}\n\n"
		   "data: [DONE]");
	assert_int_equal(llm_chat_stream(&c, m, NULL, NULL, &cb, &reply, &e), 0);
	assert_string_equal(json_get_str(reply, "content"), "Hello");
	json_decref(reply);
	json_decref(m);
}

static void test_broken_streams(void **state)
{
	(void)state;
	struct llm_config c = cfg();
	json_t *m = msgs(), *reply = (json_t *)1;
	struct err e = {0};

	/* ends before finish_reason or [DONE] */
	raw_stream("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hal\"}}]}\n\n");
	assert_int_equal(llm_chat_stream(&c, m, NULL, NULL, &cb, &reply, &e), ERR_IO);
	assert_null(reply);
	assert_non_null(strstr(e.msg, "ended before the answer was complete"));

	/* an error object mid-stream (vLLM, llama.cpp) */
	raw_stream("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n"
		   "data: {\"error\": {\"message\": \"context length exceeded\"}}\n\n");
	assert_int_equal(llm_chat_stream(&c, m, NULL, NULL, &cb, &reply, &e), ERR_IO);
	assert_non_null(strstr(e.msg, "context length exceeded"));
	json_decref(m);
}

static void test_server_without_streaming(void **state)
{
	(void)state;
	control("{\"ignore_stream\": true, \"replies\": [\"all at once\"]}");
	struct llm_config c = cfg();
	json_t *m = msgs(), *reply = NULL;
	struct err e = {0};
	assert_int_equal(llm_chat_stream(&c, m, NULL, NULL, &cb, &reply, &e), 0);
	assert_string_equal(json_get_str(reply, "content"), "all at once");
	assert_string_equal(buf_str(&G.text), "all at once");
	assert_int_equal(G.pieces, 1);
	json_decref(reply);
	json_decref(m);
}

static void test_errors(void **state)
{
	(void)state;
	struct llm_config c = cfg();
	json_t *m = msgs(), *reply = NULL;
	struct err e = {0};

	c.api_key = "sk-wrong";
	assert_int_equal(llm_chat_stream(&c, m, NULL, NULL, &cb, &reply, &e), ERR_PERM);
	assert_non_null(strstr(e.msg, "Incorrect API key"));
	assert_null(strstr(e.msg, "sk-wrong"));

	c = cfg();
	control("{\"fail\": 1, \"status\": 429}");
	assert_int_equal(llm_chat_stream(&c, m, NULL, NULL, &cb, &reply, &e), ERR_BUSY);

	/* the callback stops the answer */
	control("{\"replies\": [\"a long answer in many pieces, to be stopped early\"]}");
	G.stop_after = 2;
	assert_int_equal(llm_chat_stream(&c, m, NULL, NULL, &cb, &reply, &e), ERR_STATE);
	assert_null(reply);
	assert_int_equal(G.pieces, 2);

	/* stop() while waiting for the first byte */
	G.stop_after = 0;
	G.stop_now = true;
	control("{\"delay_ms\": 5000}");
	assert_int_equal(llm_chat_stream(&c, m, NULL, NULL, &cb, &reply, &e), ERR_STATE);
	G.stop_now = false;

	/* nothing for longer than the timeout */
	c.timeout_ms = 300;
	control("{\"delay_ms\": 5000}");
	assert_int_equal(llm_chat_stream(&c, m, NULL, NULL, &cb, &reply, &e), ERR_TIMEOUT);
	assert_non_null(strstr(e.msg, "300 ms"));

	/* the cap on the whole stream */
	c = cfg();
	c.max_response = 200;
	control("{\"replies\": [\"an answer whose stream of chunks is much larger than two "
		"hundred bytes, since every chunk repeats the id, the model and more\"]}");
	assert_int_equal(llm_chat_stream(&c, m, NULL, NULL, &cb, &reply, &e), ERR_TOO_BIG);
	json_decref(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_text_in_pieces, reset),
		cmocka_unit_test_setup(test_tool_calls, reset),
		cmocka_unit_test_setup(test_dialects, reset),
		cmocka_unit_test_setup(test_broken_streams, reset),
		cmocka_unit_test_setup(test_server_without_streaming, reset),
		cmocka_unit_test_setup(test_errors, reset),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
