/*
 * test_llm.c - the chat completions client (engine/llm) against the
 * in-process OpenAI stand-in of tests/fixture_sinks.  127.0.0.1 only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/json.h"
#include "engine/llm.h"
#include "sinks.h"

#define KEY "sk-test-0123456789"

static struct sinks *S;
static char base[64];

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
	snprintf(base, sizeof base, "http://127.0.0.1:%d/v1/", sinks_http_port(S));
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
	return sinks_control(S, "reset", NULL, NULL);
}

static void control(const char *json)
{
	json_t *j = json_loads(json, 0, NULL);
	assert_non_null(j);
	assert_int_equal(sinks_control(S, "llm", j, NULL), 0);
	json_decref(j);
}

static struct llm_config cfg(void)
{
	struct llm_config c = {0};
	c.api_key = KEY;
	c.base_url = base;
	c.model = "test-model";
	c.timeout_ms = 10000;
	return c;
}

static json_t *user_msg(const char *text)
{
	return json_pack("[{s:s, s:s}, {s:s, s:s}]", "role", "system", "content",
			 "You decide whether to notify.", "role", "user", "content", text);
}

static void test_success(void **state)
{
	(void)state;
	struct llm_config c = cfg();
	json_t *msgs = user_msg("web_content_change (priority: 4 of 5): the page changed");
	json_t *reply = NULL;
	struct err e = {0};
	assert_int_equal(llm_chat(&c, msgs, NULL, NULL, &reply, &e), 0);
	assert_string_equal(json_get_str(reply, "role"), "assistant");
	assert_string_equal(json_get_str(reply, "content"),
			    "Heads-up: web_content_change (priority: 4 of 5): the page changed");
	json_decref(reply);

	json_decref(msgs);
	msgs = user_msg("scheduled_trigger (priority: 2 of 5)");
	assert_int_equal(llm_chat(&c, msgs, NULL, NULL, &reply, &e), 0);
	assert_string_equal(json_get_str(reply, "content"), "NO_NOTIFICATION_NEEDED");
	json_decref(reply);

	/* what the server received */
	json_t *l = sinks_list(S, "llm/requests");
	json_t *req = json_array_get(json_object_get(l, "requests"), 0);
	assert_string_equal(json_get_str(req, "model"), "test-model");
	assert_int_equal(json_array_size(json_object_get(req, "messages")), 2);
	assert_null(json_object_get(req, "tools"));
	json_decref(l);
	json_decref(msgs);
}

static void test_tools_and_extra(void **state)
{
	(void)state;
	struct llm_config c = cfg();
	control("{\"replies\": [{\"content\": null, \"tool_calls\": [{\"id\": \"call_1\", "
		"\"type\": \"function\", \"function\": {\"name\": \"list_background_tasks\", "
		"\"arguments\": \"{}\"}}]}, \"second\"]}");
	json_t *msgs = user_msg("what runs?");
	json_t *tools = json_pack("[{s:s, s:{s:s, s:{s:s}}}]", "type", "function", "function",
				  "name", "list_background_tasks", "parameters", "type", "object");
	json_t *extra = json_pack("{s:i, s:s}", "temperature", 0, "model", "override-model");
	json_t *reply = NULL;
	struct err e = {0};
	assert_int_equal(llm_chat(&c, msgs, tools, extra, &reply, &e), 0);
	assert_true(json_is_null(json_object_get(reply, "content")));
	json_t *call = json_array_get(json_object_get(reply, "tool_calls"), 0);
	assert_string_equal(json_get_str(json_object_get(call, "function"), "name"),
			    "list_background_tasks");
	json_decref(reply);
	assert_int_equal(llm_chat(&c, msgs, NULL, NULL, &reply, &e), 0);
	assert_string_equal(json_get_str(reply, "content"), "second");
	json_decref(reply);

	json_t *l = sinks_list(S, "llm/requests");
	json_t *req = json_array_get(json_object_get(l, "requests"), 0);
	assert_string_equal(json_get_str(req, "model"), "override-model");
	assert_int_equal(json_get_int(req, "temperature", -1), 0);
	assert_true(json_equal(json_object_get(req, "tools"), tools));
	json_decref(l);
	json_decref(msgs);
	json_decref(tools);
	json_decref(extra);
}

static void test_http_errors(void **state)
{
	(void)state;
	struct llm_config c = cfg();
	json_t *msgs = user_msg("x");
	json_t *reply = (json_t *)1;
	struct err e = {0};

	control("{\"fail\": 1}");
	assert_int_equal(llm_chat(&c, msgs, NULL, NULL, &reply, &e), ERR_IO);
	assert_null(reply);
	assert_non_null(strstr(e.msg, "HTTP 500"));
	assert_non_null(strstr(e.msg, "The server had an error"));

	control("{\"fail\": 1, \"status\": 429}");
	assert_int_equal(llm_chat(&c, msgs, NULL, NULL, &reply, &e), ERR_BUSY);
	assert_non_null(strstr(e.msg, "Rate limit"));

	c.api_key = "sk-wrong";
	assert_int_equal(llm_chat(&c, msgs, NULL, NULL, &reply, &e), ERR_PERM);
	assert_non_null(strstr(e.msg, "Incorrect API key"));
	assert_non_null(strstr(e.msg, "OPENAI_API_KEY"));
	assert_null(strstr(e.msg, "sk-wrong")); /* never the key */

	c = cfg();
	assert_int_equal(llm_chat(&c, msgs, NULL, NULL, &reply, &e), 0); /* scripts used up */
	json_decref(reply);
	json_decref(msgs);
}

static void test_timeout(void **state)
{
	(void)state;
	struct llm_config c = cfg();
	c.timeout_ms = 300;
	control("{\"delay_ms\": 5000}");
	json_t *msgs = user_msg("x");
	json_t *reply = NULL;
	struct err e = {0};
	assert_int_equal(llm_chat(&c, msgs, NULL, NULL, &reply, &e), ERR_TIMEOUT);
	assert_null(reply);
	assert_non_null(strstr(e.msg, "300 ms"));
	json_decref(msgs);
}

static void test_bad_answers(void **state)
{
	(void)state;
	struct llm_config c = cfg();
	json_t *msgs = user_msg("x");
	json_t *reply = NULL;
	struct err e = {0};

	control("{\"raw\": \"<html>this is not json</html>\"}");
	assert_int_equal(llm_chat(&c, msgs, NULL, NULL, &reply, &e), ERR_IO);
	assert_non_null(strstr(e.msg, "not JSON"));

	control("{\"raw\": \"{\\\"object\\\": \\\"chat.completion\\\", \\\"choices\\\": []}\"}");
	assert_int_equal(llm_chat(&c, msgs, NULL, NULL, &reply, &e), ERR_IO);
	assert_non_null(strstr(e.msg, "no choices[0].message"));

	c.max_response = 10;
	assert_int_equal(llm_chat(&c, msgs, NULL, NULL, &reply, &e), ERR_TOO_BIG);
	assert_null(reply);
	json_decref(msgs);
}

static void test_config_errors(void **state)
{
	(void)state;
	json_t *msgs = user_msg("x");
	json_t *reply = NULL;
	struct err e = {0};

	struct llm_config c = {0}; /* api.openai.com without a key: refused locally */
	assert_int_equal(llm_chat(&c, msgs, NULL, NULL, &reply, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "OPENAI_API_KEY"));

	c = cfg();
	json_t *empty = json_array();
	assert_int_equal(llm_chat(&c, empty, NULL, NULL, &reply, &e), ERR_INVALID);
	json_decref(empty);

	/* a local server needs no key */
	struct sinks *open = NULL;
	struct sinks_options o = {0};
	o.smtp_port = -1;
	assert_int_equal(sinks_start(&o, &open, NULL), 0);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", sinks_http_port(open));
	c.api_key = NULL;
	c.base_url = url;
	assert_int_equal(llm_chat(&c, msgs, NULL, NULL, &reply, &e), 0);
	json_decref(reply);
	sinks_stop(open);

	/* nothing listens: a port we bound and closed */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {0};
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof sa;
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", ntohs(sa.sin_port));
	assert_int_equal(llm_chat(&c, msgs, NULL, NULL, &reply, &e), ERR_IO);
	assert_non_null(strstr(e.msg, "cannot reach"));
	json_decref(msgs);
}

static void test_config_from_env(void **state)
{
	(void)state;
	struct llm_config c = {0};
	unsetenv("OPENAI_API_KEY");
	unsetenv("OPENAI_API_BASE");
	unsetenv("OPENAI_BASE_URL");
	unsetenv("OPENAI_MODEL");
	llm_config_from_env(&c);
	assert_null(c.api_key);
	assert_string_equal(c.base_url, LLM_DEFAULT_BASE_URL);
	assert_string_equal(c.model, LLM_DEFAULT_MODEL);
	setenv("OPENAI_API_KEY", "sk-env", 1);
	setenv("OPENAI_API_BASE", "http://127.0.0.1:1/v1", 1);
	setenv("OPENAI_MODEL", "llama3", 1);
	llm_config_from_env(&c);
	assert_string_equal(c.api_key, "sk-env");
	assert_string_equal(c.base_url, "http://127.0.0.1:1/v1");
	assert_string_equal(c.model, "llama3");
	unsetenv("OPENAI_API_KEY");
	unsetenv("OPENAI_API_BASE");
	unsetenv("OPENAI_MODEL");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_success, reset),
		cmocka_unit_test_setup(test_tools_and_extra, reset),
		cmocka_unit_test_setup(test_http_errors, reset),
		cmocka_unit_test_setup(test_timeout, reset),
		cmocka_unit_test_setup(test_bad_answers, reset),
		cmocka_unit_test_setup(test_config_errors, reset),
		cmocka_unit_test_setup(test_config_from_env, reset),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
