/* test_jsonrpc.c - JSON-RPC 2.0 parsing, classification and builders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/json.h"
#include "mcp/jsonrpc.h"

/* Parse NUL-terminated text with the default cap. */
static int parse(const char *text, struct jsonrpc_msg *m, int *code, json_t **bad_id, struct err *e)
{
	err_clear(e);
	return jsonrpc_parse(text, strlen(text), 0, m, code, bad_id, e);
}

/* Expect text to be rejected with rpc code `want` and a message containing
 * `needle`; returns the recovered id (caller decrefs). */
static json_t *expect_bad(const char *text, int want, const char *needle)
{
	struct jsonrpc_msg m;
	struct err e;
	int code = 12345;
	json_t *bad_id = (json_t *)1;
	int rc = parse(text, &m, &code, &bad_id, &e);

	if (rc == 0 || code != want || !strstr(e.msg, needle))
		print_error("text %s: rc %d code %d msg \"%s\" (wanted %d, \"%s\")\n", text, rc,
			    code, e.msg, want, needle);
	assert_int_not_equal(rc, 0);
	assert_int_equal(code, want);
	assert_non_null(strstr(e.msg, needle));
	assert_null(m.root);
	return bad_id;
}

static void test_request(void **state)
{
	(void)state;
	struct jsonrpc_msg m;
	struct err e;
	int code = 99;
	json_t *bad_id = NULL;

	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
			       "\"params\":{\"name\":\"x\",\"arguments\":{}}}",
			       &m, &code, &bad_id, &e),
			 0);
	assert_int_equal(code, 0);
	assert_null(bad_id);
	assert_int_equal(m.kind, JSONRPC_REQUEST);
	assert_string_equal(m.method, "tools/call");
	assert_true(json_is_integer(m.id));
	assert_int_equal(json_integer_value(m.id), 1);
	assert_true(json_is_object(m.params));
	assert_string_equal(json_get_str(m.params, "name"), "x");
	assert_null(m.result);
	jsonrpc_msg_cleanup(&m);
	assert_null(m.root);
	jsonrpc_msg_cleanup(&m); /* twice is harmless */
	jsonrpc_msg_cleanup(NULL);

	/* No params, string id, members in any order, unknown members ignored. */
	assert_int_equal(
		parse("{\"method\":\"ping\",\"extra\":[1],\"id\":\"abc\",\"jsonrpc\":\"2.0\"}", &m,
		      &code, &bad_id, &e),
		0);
	assert_int_equal(m.kind, JSONRPC_REQUEST);
	assert_string_equal(json_string_value(m.id), "abc");
	assert_null(m.params);
	jsonrpc_msg_cleanup(&m);
}

static void test_notification(void **state)
{
	(void)state;
	struct jsonrpc_msg m;
	struct err e;
	int code;
	json_t *bad_id;

	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &m,
			       &code, &bad_id, &e),
			 0);
	assert_int_equal(m.kind, JSONRPC_NOTIFICATION);
	assert_null(m.id);
	assert_null(m.params);
	assert_string_equal(m.method, "notifications/initialized");
	jsonrpc_msg_cleanup(&m);

	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
			       "\"params\":{\"progressToken\":\"t\",\"progress\":50}}",
			       &m, &code, &bad_id, &e),
			 0);
	assert_int_equal(m.kind, JSONRPC_NOTIFICATION);
	assert_int_equal(json_get_int(m.params, "progress", 0), 50);
	jsonrpc_msg_cleanup(&m);
}

static void test_result_and_error(void **state)
{
	(void)state;
	struct jsonrpc_msg m;
	struct err e;
	int code;
	json_t *bad_id;

	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"ok\":true}}", &m, &code,
			       &bad_id, &e),
			 0);
	assert_int_equal(m.kind, JSONRPC_RESULT);
	assert_int_equal(json_integer_value(m.id), 7);
	assert_true(json_is_true(json_object_get(m.result, "ok")));
	assert_null(m.method);
	jsonrpc_msg_cleanup(&m);

	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":\"r1\",\"error\":{\"code\":-32601,"
			       "\"message\":\"Method not found\",\"data\":{\"m\":\"x\"}}}",
			       &m, &code, &bad_id, &e),
			 0);
	assert_int_equal(m.kind, JSONRPC_ERROR);
	assert_string_equal(json_string_value(m.id), "r1");
	assert_int_equal(m.error_code, JSONRPC_METHOD_NOT_FOUND);
	assert_string_equal(m.error_message, "Method not found");
	assert_string_equal(json_get_str(m.error_data, "m"), "x");
	jsonrpc_msg_cleanup(&m);

	/* An error with a null id (the peer could not read our request). */
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,"
			       "\"message\":\"Parse error\"}}",
			       &m, &code, &bad_id, &e),
			 0);
	assert_int_equal(m.kind, JSONRPC_ERROR);
	assert_null(m.id);
	assert_null(m.error_data);
	jsonrpc_msg_cleanup(&m);

	/* ... or none at all (MCP 2025-11-25 makes it optional). */
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":\"\"}}", &m,
			       &code, &bad_id, &e),
			 0);
	assert_int_equal(m.kind, JSONRPC_ERROR);
	assert_null(m.id);
	assert_int_equal(m.error_code, 1);
	assert_string_equal(m.error_message, "");
	jsonrpc_msg_cleanup(&m);
}

static void test_bad_json(void **state)
{
	(void)state;
	json_t *id;

	id = expect_bad("{\"jsonrpc\":\"2.0\",", JSONRPC_PARSE_ERROR, "line 1");
	assert_null(id);
	id = expect_bad("{\"jsonrpc\":\"2.0\",\n  \"id\": 1,\n  \"method\": x}",
			JSONRPC_PARSE_ERROR, "line 3, column 13");
	assert_null(id);
	assert_null(expect_bad("", JSONRPC_PARSE_ERROR, "invalid JSON"));
	assert_null(expect_bad("   ", JSONRPC_PARSE_ERROR, "invalid JSON"));
	/* Trailing garbage after a message. */
	assert_null(expect_bad("{\"jsonrpc\":\"2.0\",\"method\":\"a\"} x", JSONRPC_PARSE_ERROR,
			       "invalid JSON"));
	/* Invalid UTF-8 inside a string; duplicate keys. */
	assert_null(expect_bad("{\"jsonrpc\":\"2.0\",\"method\":\"\xff\"}", JSONRPC_PARSE_ERROR,
			       "invalid JSON"));
	assert_null(expect_bad("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"method\":\"b\"}",
			       JSONRPC_PARSE_ERROR, "invalid JSON"));
	/* An integer id too large for 64 bits is not silently rounded. */
	assert_null(expect_bad("{\"jsonrpc\":\"2.0\",\"id\":99999999999999999999,\"method\":\"a\"}",
			       JSONRPC_PARSE_ERROR, "invalid JSON"));
}

static void test_bad_shapes(void **state)
{
	(void)state;
	const int ir = JSONRPC_INVALID_REQUEST;
	json_t *id;

	assert_null(expect_bad("42", ir, "must be an object, got integer"));
	assert_null(expect_bad("\"x\"", ir, "must be an object, got string"));
	assert_null(expect_bad("null", ir, "must be an object, got null"));
	assert_null(expect_bad("{}", ir, "\"jsonrpc\""));

	/* jsonrpc version */
	id = expect_bad("{\"id\":1,\"method\":\"a\"}", ir, "missing \"jsonrpc\"");
	assert_int_equal(json_integer_value(id), 1);
	json_decref(id);
	id = expect_bad("{\"jsonrpc\":\"1.0\",\"id\":2,\"method\":\"a\"}", ir,
			"\"jsonrpc\" must be \"2.0\", got \"1.0\"");
	assert_int_equal(json_integer_value(id), 2);
	json_decref(id);
	assert_null(expect_bad("{\"jsonrpc\":2.0,\"method\":\"a\"}", ir, "got 2.0"));
	assert_null(expect_bad("{\"jsonrpc\":\"2.00\",\"method\":\"a\"}", ir, "must be \"2.0\""));

	/* ids */
	assert_null(
		expect_bad("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"a\"}", ir, "not null"));
	assert_null(expect_bad("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"a\"}", ir,
			       "\"id\" must be a string or an integer, got number 1.5"));
	assert_null(
		expect_bad("{\"jsonrpc\":\"2.0\",\"id\":1.0,\"method\":\"a\"}", ir, "got number"));
	assert_null(expect_bad("{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"a\"}", ir,
			       "got boolean"));
	assert_null(
		expect_bad("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"a\"}", ir, "got object"));
	assert_null(
		expect_bad("{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"a\"}", ir, "got array"));

	/* method */
	id = expect_bad("{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"method\":5}", ir,
			"\"method\" must be a string, got integer");
	assert_string_equal(json_string_value(id), "q");
	json_decref(id);
	assert_null(expect_bad("{\"jsonrpc\":\"2.0\",\"method\":null}", ir, "got null"));

	/* params */
	id = expect_bad("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"a\",\"params\":[1,2]}", ir,
			"params must be an object");
	assert_int_equal(json_integer_value(id), 3);
	json_decref(id);
	assert_null(expect_bad("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":\"x\"}", ir,
			       "params must be an object"));
	assert_null(expect_bad("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":null}", ir,
			       "params must be an object"));

	/* mixed and empty */
	id = expect_bad("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"a\",\"result\":{}}", ir,
			"both \"method\"");
	assert_int_equal(json_integer_value(id), 4);
	json_decref(id);
	json_decref(expect_bad("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"a\",\"error\":{}}", ir,
			       "both \"method\""));
	json_decref(expect_bad("{\"jsonrpc\":\"2.0\",\"id\":5}", ir, "needs \"method\""));
	json_decref(expect_bad("{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{},\"error\":{\"code\":1,"
			       "\"message\":\"m\"}}",
			       ir, "exactly one of \"result\" and \"error\""));

	/* results */
	assert_null(expect_bad("{\"jsonrpc\":\"2.0\",\"result\":{}}", ir, "needs the \"id\""));
	assert_null(expect_bad("{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{}}", ir,
			       "needs the \"id\""));
	json_decref(expect_bad("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":[]}", ir,
			       "\"result\" must be an object"));

	/* errors */
	json_decref(expect_bad("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"boom\"}", ir,
			       "\"error\" must be an object"));
	json_decref(expect_bad("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"message\":\"m\"}}", ir,
			       "\"error.code\" must be an integer, got nothing"));
	json_decref(expect_bad("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":\"1\","
			       "\"message\":\"m\"}}",
			       ir, "\"error.code\" must be an integer, got string"));
	json_decref(expect_bad("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1.5,"
			       "\"message\":\"m\"}}",
			       ir, "got number"));
	json_decref(expect_bad("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":4294967296,"
			       "\"message\":\"m\"}}",
			       ir, "out of range"));
	json_decref(expect_bad("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1}}", ir,
			       "\"error.message\" must be a string, got nothing"));
	json_decref(expect_bad("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1,"
			       "\"message\":[]}}",
			       ir, "got array"));
}

static void test_batch_rejected(void **state)
{
	(void)state;
	json_t *id = expect_bad("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]",
				JSONRPC_INVALID_REQUEST, "not supported since MCP 2025-06-18");
	assert_null(id);
	assert_null(expect_bad("[]", JSONRPC_INVALID_REQUEST, "batch"));
}

static void test_size_cap(void **state)
{
	(void)state;
	const char *msg = "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}";
	size_t n = strlen(msg);
	struct jsonrpc_msg m;
	struct err e;
	int code = 0;
	json_t *bad_id = NULL;

	err_clear(&e);
	assert_int_equal(jsonrpc_parse(msg, n, n, &m, &code, &bad_id, &e), 0);
	jsonrpc_msg_cleanup(&m);

	assert_int_equal(jsonrpc_parse(msg, n, n - 1, &m, &code, &bad_id, &e), ERR_TOO_BIG);
	assert_int_equal(code, JSONRPC_INVALID_REQUEST);
	assert_int_equal(e.code, ERR_TOO_BIG);
	assert_non_null(strstr(e.msg, "limit of 32 bytes"));
	assert_null(bad_id);
	assert_null(m.root);

	/* The default cap is JSONRPC_MAX_MESSAGE; the length is checked before
	 * any byte is read. */
	assert_int_equal(
		jsonrpc_parse(msg, (size_t)JSONRPC_MAX_MESSAGE + 1, 0, &m, &code, &bad_id, &e),
		ERR_TOO_BIG);
	assert_non_null(strstr(e.msg, "4194304"));

	/* Only `len` bytes are read: a longer buffer is fine. */
	assert_int_equal(jsonrpc_parse("{\"jsonrpc\":\"2.0\",\"method\":\"a\"}GARBAGE", 30, 0, &m,
				       &code, &bad_id, &e),
			 0);
	assert_string_equal(m.method, "a");
	jsonrpc_msg_cleanup(&m);

	/* NULL outputs are allowed. */
	assert_int_not_equal(jsonrpc_parse("[", 1, 0, &m, NULL, NULL, NULL), 0);
	assert_int_not_equal(jsonrpc_parse(NULL, 5, 0, &m, &code, NULL, &e), 0);
	assert_int_equal(jsonrpc_parse(NULL, 0, 0, &m, &code, NULL, &e), ERR_INVALID);
	assert_int_equal(code, JSONRPC_PARSE_ERROR);
}

static void test_ids_round_trip(void **state)
{
	(void)state;
	static const char *const ids[] = {
		"0",
		"-1",
		"9223372036854775807",
		"-9223372036854775808",
		"\"\"",
		"\"abc\"",
		"\"\\u00e9t\\u00e9 \\ud83d\\ude00\"",
		"\"a\\\"b\\\\c\"",
		"1234567890123",
	};
	size_t i;

	for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		char text[256], want[256];
		struct jsonrpc_msg m, back;
		struct err e;
		int code;
		json_t *bad_id, *result = json_object();
		char *out, *id_text;

		snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"ping\"}",
			 ids[i]);
		assert_int_equal(parse(text, &m, &code, &bad_id, &e), 0);
		assert_int_equal(m.kind, JSONRPC_REQUEST);

		/* The reply carries the very same id. */
		out = jsonrpc_result_text(m.id, result);
		id_text = json_to_text(m.id);
		snprintf(want, sizeof want, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{}}",
			 id_text);
		assert_string_equal(out, want);
		assert_int_equal(parse(out, &back, &code, &bad_id, &e), 0);
		assert_int_equal(back.kind, JSONRPC_RESULT);
		assert_true(jsonrpc_id_equal(m.id, back.id));
		assert_int_equal(json_typeof(back.id), json_typeof(m.id));

		free(id_text);
		free(out);
		json_decref(result);
		jsonrpc_msg_cleanup(&back);
		jsonrpc_msg_cleanup(&m);
	}

	/* Integers stay integers, even past 2^53. */
	{
		struct jsonrpc_msg m;
		struct err e;
		int code;
		json_t *bad_id;

		assert_int_equal(
			parse("{\"jsonrpc\":\"2.0\",\"id\":9007199254740993,\"method\":\"a\"}", &m,
			      &code, &bad_id, &e),
			0);
		assert_true(json_is_integer(m.id));
		assert_true(json_integer_value(m.id) == 9007199254740993LL);
		jsonrpc_msg_cleanup(&m);
	}
}

static void test_id_equal(void **state)
{
	(void)state;
	json_t *a = json_integer(1), *b = json_integer(1), *s = json_string("1");
	json_t *s2 = json_string("1"), *n = json_null(), *big = json_integer(2);
	json_t *nul1 = json_stringn("a\0b", 3), *nul2 = json_stringn("a\0c", 3);

	assert_true(jsonrpc_id_equal(a, b));
	assert_true(jsonrpc_id_equal(s, s2));
	assert_false(jsonrpc_id_equal(a, s)); /* 1 is not "1" */
	assert_false(jsonrpc_id_equal(a, big));
	assert_true(jsonrpc_id_equal(NULL, NULL));
	assert_true(jsonrpc_id_equal(NULL, n));
	assert_false(jsonrpc_id_equal(NULL, a));
	assert_false(jsonrpc_id_equal(s, NULL));
	assert_false(jsonrpc_id_equal(nul1, nul2));
	json_decref(a);
	json_decref(b);
	json_decref(s);
	json_decref(s2);
	json_decref(n);
	json_decref(big);
	json_decref(nul1);
	json_decref(nul2);
}

static void test_builders(void **state)
{
	(void)state;
	json_t *id = json_integer(5), *sid = json_string("x");
	json_t *params = json_pack("{s:s, s:{s:i}}", "name", "t", "arguments", "b", 2);
	json_t *data = json_pack("{s:s}", "detail", "d");
	char *t;

	t = jsonrpc_request_text(id, "tools/call", params);
	assert_string_equal(t, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\","
			       "\"params\":{\"name\":\"t\",\"arguments\":{\"b\":2}}}");
	free(t);
	t = jsonrpc_request_text(sid, "ping", NULL);
	assert_string_equal(t, "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"ping\"}");
	free(t);

	t = jsonrpc_notification_text("notifications/initialized", NULL);
	assert_string_equal(t, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	free(t);
	t = jsonrpc_notification_text("n", params);
	assert_non_null(strstr(t, "\"params\":{\"name\""));
	assert_null(strstr(t, "\"id\""));
	free(t);

	t = jsonrpc_result_text(id, params);
	assert_string_equal(t, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"name\":\"t\","
			       "\"arguments\":{\"b\":2}}}");
	free(t);
	t = jsonrpc_result_text(id, NULL);
	assert_string_equal(t, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}");
	free(t);

	t = jsonrpc_error_text(NULL, JSONRPC_PARSE_ERROR, "Parse error", NULL);
	assert_string_equal(
		t, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":"
		   "\"Parse error\"}}");
	free(t);
	t = jsonrpc_error_text(sid, JSONRPC_INVALID_PARAMS, "bad \"x\"\n", data);
	assert_string_equal(t, "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"error\":{\"code\":-32602,"
			       "\"message\":\"bad \\\"x\\\"\\n\",\"data\":{\"detail\":\"d\"}}}");
	free(t);

	/* Borrowed arguments keep their reference counts. */
	assert_int_equal(id->refcount, 1);
	assert_int_equal(params->refcount, 1);
	assert_int_equal(data->refcount, 1);

	json_decref(id);
	json_decref(sid);
	json_decref(params);
	json_decref(data);
}

static void test_builders_make_valid_utf8(void **state)
{
	(void)state;
	struct jsonrpc_msg m;
	struct err e;
	int code;
	json_t *bad_id;
	char *t;

	/* A message cut in the middle of a character, and stray bytes. */
	t = jsonrpc_error_text(NULL, -32603, "caf\xc3", NULL);
	assert_non_null(t);
	assert_int_equal(parse(t, &m, &code, &bad_id, &e), 0);
	assert_string_equal(m.error_message, "caf\xef\xbf\xbd");
	jsonrpc_msg_cleanup(&m);
	free(t);

	t = jsonrpc_error_text(NULL, -32603, "\xff\xfe ok \xed\xa0\x80 \xc0\xaf \xe2\x82\xac",
			       NULL);
	assert_int_equal(parse(t, &m, &code, &bad_id, &e), 0);
	assert_string_equal(m.error_message, "\xef\xbf\xbd\xef\xbf\xbd ok "
					     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
					     "\xef\xbf\xbd\xef\xbf\xbd \xe2\x82\xac");
	jsonrpc_msg_cleanup(&m);
	free(t);

	t = jsonrpc_error_text(NULL, -32603, NULL, NULL);
	assert_int_equal(parse(t, &m, &code, &bad_id, &e), 0);
	assert_string_equal(m.error_message, "");
	jsonrpc_msg_cleanup(&m);
	free(t);

	t = jsonrpc_notification_text("bad\x80name", NULL);
	assert_int_equal(parse(t, &m, &code, &bad_id, &e), 0);
	assert_string_equal(m.method, "bad\xef\xbf\xbdname");
	jsonrpc_msg_cleanup(&m);
	free(t);
}

/* The parser's own error messages can be sent back as they are. */
static void test_error_messages_are_sendable(void **state)
{
	(void)state;
	char text[600];
	struct jsonrpc_msg m, back;
	struct err e;
	int code;
	json_t *bad_id;
	char *reply;
	size_t i;

	/* A long non-ASCII jsonrpc value: the quoted preview must be cut on a
	 * character boundary. */
	strcpy(text, "{\"jsonrpc\":\"");
	for (i = 0; i < 100; i++)
		strcat(text, "\xc3\xa9");
	strcat(text, "\",\"id\":1,\"method\":\"a\"}");
	assert_int_not_equal(parse(text, &m, &code, &bad_id, &e), 0);
	assert_non_null(strstr(e.msg, "..."));
	reply = jsonrpc_error_text(bad_id, code, e.msg, NULL);
	assert_int_equal(parse(reply, &back, &code, NULL, &e), 0);
	assert_int_equal(back.kind, JSONRPC_ERROR);
	assert_int_equal(json_integer_value(back.id), 1);
	assert_null(strstr(back.error_message, "\xef\xbf\xbd"));
	jsonrpc_msg_cleanup(&back);
	free(reply);
	json_decref(bad_id);

	/* A parse error near non-ASCII text. */
	strcpy(text, "{\"jsonrpc\":\"2.0\", ");
	for (i = 0; i < 150; i++)
		strcat(text, "\xe2\x82\xac");
	assert_int_not_equal(parse(text, &m, &code, &bad_id, &e), 0);
	assert_int_equal(code, JSONRPC_PARSE_ERROR);
	reply = jsonrpc_error_text(NULL, code, e.msg, NULL);
	assert_int_equal(parse(reply, &back, &code, NULL, &e), 0);
	jsonrpc_msg_cleanup(&back);
	free(reply);
}

static void test_code_for_err(void **state)
{
	(void)state;
	assert_int_equal(jsonrpc_code_for_err(ERR_INVALID), JSONRPC_INVALID_PARAMS);
	assert_int_equal(jsonrpc_code_for_err(ERR_NOT_FOUND), JSONRPC_INVALID_PARAMS);
	assert_int_equal(jsonrpc_code_for_err(ERR_IO), JSONRPC_INTERNAL_ERROR);
	assert_int_equal(jsonrpc_code_for_err(ERR_INTERNAL), JSONRPC_INTERNAL_ERROR);
	assert_int_equal(jsonrpc_code_for_err(12345), JSONRPC_INTERNAL_ERROR);
}

/* Every prefix of a valid message, and bytes flipped in it, are handled
 * without crashing or leaking (ASan checks the rest). */
static void test_truncations_and_mutations(void **state)
{
	(void)state;
	const char *msg = "{\"jsonrpc\":\"2.0\",\"id\":\"\xc3\xa9\",\"method\":\"tools/call\","
			  "\"params\":{\"a\":[1,2.5,null,true,{\"b\":\"\\u00e9\"}]}}";
	size_t n = strlen(msg), i, j;
	static const char flips[] = {'\0', '"', '\\', '{', '}',    '[',
				     ']',  ',', ':',  '1', '\xff', '\xc3'};

	for (i = 0; i <= n; i++) {
		struct jsonrpc_msg m;
		json_t *bad_id = NULL;
		int code;
		struct err e;

		if (jsonrpc_parse(msg, i, 0, &m, &code, &bad_id, &e) == 0) {
			assert_int_equal(i, n);
			jsonrpc_msg_cleanup(&m);
		}
		json_decref(bad_id);
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < sizeof flips; j++) {
			char buf[256];
			struct jsonrpc_msg m;
			json_t *bad_id = NULL;
			int code;
			struct err e;

			memcpy(buf, msg, n);
			buf[i] = flips[j];
			if (jsonrpc_parse(buf, n, 0, &m, &code, &bad_id, &e) == 0) {
				char *reply = jsonrpc_result_text(m.id, m.params);
				free(reply);
				jsonrpc_msg_cleanup(&m);
			} else {
				char *reply = jsonrpc_error_text(bad_id, code, e.msg, NULL);
				assert_non_null(reply);
				free(reply);
			}
			json_decref(bad_id);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_notification),
		cmocka_unit_test(test_result_and_error),
		cmocka_unit_test(test_bad_json),
		cmocka_unit_test(test_bad_shapes),
		cmocka_unit_test(test_batch_rejected),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_ids_round_trip),
		cmocka_unit_test(test_id_equal),
		cmocka_unit_test(test_builders),
		cmocka_unit_test(test_builders_make_valid_utf8),
		cmocka_unit_test(test_error_messages_are_sendable),
		cmocka_unit_test(test_code_for_err),
		cmocka_unit_test(test_truncations_and_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
