/*
 * jsonrpc.c - JSON-RPC 2.0 messages as MCP uses them: parse and classify one
 * message, build compact replies.
 *
 * The parser sees raw bytes from the network (and is fuzzed), so every
 * field is type-checked and nothing is assumed.  Error messages only ever
 * quote short, UTF-8-safe previews of the input, so they can be sent back in
 * an error response unchanged.  The builders make sure whatever text they are
 * given becomes valid UTF-8 JSON.
 */
#include "jsonrpc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/xalloc.h"

/* Longest preview of an input value quoted in an error message (bytes). */
#define PREVIEW_MAX 48

/* ---- UTF-8 ----------------------------------------------------------- */

/* Cut s (valid UTF-8 except maybe at its end, e.g. after snprintf
 * truncation) back to its last complete sequence. */
static void utf8_trim_tail(char *s)
{
	size_t n = strlen(s), i = 0, k;

	while (i < n) {
		k = json_utf8_seq_len((const unsigned char *)s + i, n - i);
		if (!k) {
			s[i] = '\0';
			return;
		}
		i += k;
	}
}

/* A short JSON rendering of v for messages: strings quoted and cut at a code
 * point boundary, containers named by their type. */
static void preview(const json_t *v, char *out, size_t outlen)
{
	char *text = NULL;

	if (json_is_object(v) || json_is_array(v)) {
		snprintf(out, outlen, "%s", json_type_name(v));
		return;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v), cut = 0, k;
		json_t *tmp;

		while (cut < n && cut < PREVIEW_MAX) {
			k = json_utf8_seq_len((const unsigned char *)s + cut, n - cut);
			if (!k || cut + k > PREVIEW_MAX)
				break;
			cut += k;
		}
		tmp = json_stringn_nocheck(s, cut);
		text = tmp ? json_dumps(tmp, JSON_ENCODE_ANY) : NULL;
		json_decref(tmp);
		snprintf(out, outlen, "%s%s", text ? text : "\"\"", cut < n ? "..." : "");
	} else {
		text = json_dumps(v, JSON_ENCODE_ANY);
		snprintf(out, outlen, "%s", text ? text : "?");
	}
	free(text);
	utf8_trim_tail(out);
}

/* ---- Parsing --------------------------------------------------------- */

static bool id_ok(const json_t *id)
{
	return json_is_string(id) || json_is_integer(id);
}

static int fail(int *rpc_code, int code, struct err *e, int err_code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail(int *rpc_code, int code, struct err *e, int err_code, const char *fmt, ...)
{
	va_list ap;

	*rpc_code = code;
	va_start(ap, fmt);
	err_setv(e, err_code, fmt, ap);
	va_end(ap);
	if (e)
		utf8_trim_tail(e->msg);
	return err_code;
}

/* Check the shape of an object message; fill *m (borrowing from root). */
static int classify(json_t *root, struct jsonrpc_msg *m, int *rpc_code, struct err *e)
{
	json_t *ver = json_object_get(root, "jsonrpc");
	json_t *id = json_object_get(root, "id");
	json_t *method = json_object_get(root, "method");
	json_t *params = json_object_get(root, "params");
	json_t *result = json_object_get(root, "result");
	json_t *error = json_object_get(root, "error");
	char pv[PREVIEW_MAX + 16];
	const int bad = JSONRPC_INVALID_REQUEST;

	if (!ver)
		return fail(rpc_code, bad, e, ERR_INVALID,
			    "missing \"jsonrpc\": every message must contain \"jsonrpc\": \"2.0\"");
	if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0") != 0 ||
	    json_string_length(ver) != 3) {
		preview(ver, pv, sizeof pv);
		return fail(rpc_code, bad, e, ERR_INVALID, "\"jsonrpc\" must be \"2.0\", got %s",
			    pv);
	}
	if (id && !json_is_null(id) && !id_ok(id)) {
		preview(id, pv, sizeof pv);
		return fail(rpc_code, bad, e, ERR_INVALID,
			    "\"id\" must be a string or an integer, got %s %s", json_type_name(id),
			    pv);
	}

	if (method) {
		if (result || error)
			return fail(rpc_code, bad, e, ERR_INVALID,
				    "a message cannot have both \"method\" (request) and "
				    "\"%s\" (response)",
				    result ? "result" : "error");
		if (!json_is_string(method))
			return fail(rpc_code, bad, e, ERR_INVALID,
				    "\"method\" must be a string, got %s", json_type_name(method));
		if (params && !json_is_object(params))
			return fail(rpc_code, bad, e, ERR_INVALID,
				    "params must be an object (named parameters), got %s",
				    json_type_name(params));
		if (id && json_is_null(id))
			return fail(rpc_code, bad, e, ERR_INVALID,
				    "\"id\" of a request must be a string or an integer, not null "
				    "(omit \"id\" to send a notification)");
		m->kind = id ? JSONRPC_REQUEST : JSONRPC_NOTIFICATION;
		m->id = id;
		m->method = json_string_value(method);
		m->params = params;
		return 0;
	}

	if (result && error)
		return fail(rpc_code, bad, e, ERR_INVALID,
			    "a response must have exactly one of \"result\" and \"error\", not "
			    "both");
	if (!result && !error)
		return fail(rpc_code, bad, e, ERR_INVALID,
			    "a message needs \"method\" (request or notification) or \"result\" "
			    "or \"error\" (response)");
	if (result) {
		if (!id || json_is_null(id))
			return fail(rpc_code, bad, e, ERR_INVALID,
				    "a result response needs the \"id\" of its request (a string "
				    "or an integer)");
		if (!json_is_object(result))
			return fail(rpc_code, bad, e, ERR_INVALID,
				    "\"result\" must be an object, got %s", json_type_name(result));
		m->kind = JSONRPC_RESULT;
		m->id = id;
		m->result = result;
		return 0;
	}

	/* An error response; its id may be null or absent when the peer
	 * could not tell which request failed. */
	if (!json_is_object(error))
		return fail(rpc_code, bad, e, ERR_INVALID,
			    "\"error\" must be an object {code, message, data?}, got %s",
			    json_type_name(error));
	{
		json_t *code = json_object_get(error, "code");
		json_t *msg = json_object_get(error, "message");
		json_int_t c;

		if (!json_is_integer(code))
			return fail(rpc_code, bad, e, ERR_INVALID,
				    "\"error.code\" must be an integer, got %s",
				    code ? json_type_name(code) : "nothing");
		c = json_integer_value(code);
		if (c < INT32_MIN || c > INT32_MAX)
			return fail(rpc_code, bad, e, ERR_INVALID,
				    "\"error.code\" %" JSON_INTEGER_FORMAT
				    " is out of range (32-bit integers only)",
				    c);
		if (!json_is_string(msg))
			return fail(rpc_code, bad, e, ERR_INVALID,
				    "\"error.message\" must be a string, got %s",
				    msg ? json_type_name(msg) : "nothing");
		m->kind = JSONRPC_ERROR;
		m->id = json_is_null(id) ? NULL : id;
		m->error_code = (int)c;
		m->error_message = json_string_value(msg);
		m->error_data = json_object_get(error, "data");
	}
	return 0;
}

int jsonrpc_parse(const char *text, size_t len, size_t max_len, struct jsonrpc_msg *out,
		  int *rpc_code, json_t **bad_id, struct err *e)
{
	int dummy_code;
	json_t *dummy_id, *root, *id;
	int rc;

	if (!rpc_code)
		rpc_code = &dummy_code;
	if (!bad_id)
		bad_id = &dummy_id;
	*rpc_code = 0;
	*bad_id = NULL;
	memset(out, 0, sizeof *out);
	if (!max_len)
		max_len = JSONRPC_MAX_MESSAGE;
	if (!text && len)
		return fail(rpc_code, JSONRPC_INVALID_REQUEST, e, ERR_INVALID, "no message text");
	if (len > max_len)
		return fail(rpc_code, JSONRPC_INVALID_REQUEST, e, ERR_TOO_BIG,
			    "message is %zu bytes, over the limit of %zu bytes; send smaller "
			    "messages",
			    len, max_len);

	root = json_parse(text ? text : "", len, e);
	if (!root) {
		*rpc_code = JSONRPC_PARSE_ERROR;
		if (e) {
			e->code = ERR_INVALID;
			utf8_trim_tail(e->msg);
		}
		return ERR_INVALID;
	}
	if (json_is_array(root)) {
		json_decref(root);
		return fail(rpc_code, JSONRPC_INVALID_REQUEST, e, ERR_INVALID,
			    "batch requests (JSON arrays) are not supported since MCP "
			    "2025-06-18; send one JSON-RPC message at a time");
	}
	if (!json_is_object(root)) {
		rc = fail(rpc_code, JSONRPC_INVALID_REQUEST, e, ERR_INVALID,
			  "a JSON-RPC message must be an object, got %s", json_type_name(root));
		json_decref(root);
		return rc;
	}

	rc = classify(root, out, rpc_code, e);
	if (rc) {
		id = json_object_get(root, "id");
		if (id_ok(id))
			*bad_id = json_incref(id);
		json_decref(root);
		memset(out, 0, sizeof *out);
		return rc;
	}
	out->root = root;
	return 0;
}

void jsonrpc_msg_cleanup(struct jsonrpc_msg *m)
{
	if (!m)
		return;
	json_decref(m->root);
	memset(m, 0, sizeof *m);
}

/* ---- Building -------------------------------------------------------- */

/* A new object {"jsonrpc":"2.0","id":id} (id omitted when !with_id). */
static json_t *envelope(bool with_id, const json_t *id)
{
	json_t *o = json_object();

	json_object_set_new(o, "jsonrpc", json_string("2.0"));
	if (with_id)
		json_object_set_new(o, "id", id ? json_incref((json_t *)id) : json_null());
	return o;
}

/* A JSON string of arbitrary C text, made valid UTF-8. */
static json_t *safe_string(const char *s)
{
	char *clean = json_utf8_sanitize(s);
	json_t *j = json_string(clean);

	free(clean);
	return j ? j : json_string("");
}

static char *dump(json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	return text;
}

char *jsonrpc_result_text(const json_t *id, const json_t *result)
{
	json_t *o = envelope(true, id);
	char *text;

	json_object_set_new(o, "result", result ? json_incref((json_t *)result) : json_object());
	text = dump(o);
	if (!text) /* only a value that cannot be encoded (a cycle) gets here */
		text = jsonrpc_error_text(id, JSONRPC_INTERNAL_ERROR,
					  "the result could not be encoded as JSON", NULL);
	return text;
}

char *jsonrpc_result_raw_text(const json_t *id, const char *result_text)
{
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":", mid[] = ",\"result\":";
	char *id_text = id ? json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	const char *idt = id_text ? id_text : "null";
	/* memcpy, not printf: results run to hundreds of kilobytes */
	size_t hl = sizeof head - 1, il = strlen(idt), ml = sizeof mid - 1,
	       rl = strlen(result_text);
	char *text = xmalloc(hl + il + ml + rl + 2);
	char *p = text;
	memcpy(p, head, hl);
	p += hl;
	memcpy(p, idt, il);
	p += il;
	memcpy(p, mid, ml);
	p += ml;
	memcpy(p, result_text, rl);
	p += rl;
	*p++ = '}';
	*p = 0;
	free(id_text);
	return text;
}

char *jsonrpc_error_text(const json_t *id, int code, const char *message, const json_t *data)
{
	json_t *o = envelope(true, id);
	json_t *err = json_object();
	char *text;

	json_object_set_new(err, "code", json_integer(code));
	json_object_set_new(err, "message", safe_string(message));
	if (data)
		json_object_set_new(err, "data", json_incref((json_t *)data));
	json_object_set_new(o, "error", err);
	text = dump(o);
	if (!text) {
		/* data could not be encoded: answer without it. */
		o = envelope(true, id);
		err = json_object();
		json_object_set_new(err, "code", json_integer(code));
		json_object_set_new(err, "message", safe_string(message));
		json_object_set_new(o, "error", err);
		text = dump(o);
	}
	if (!text)
		text = xstrdup("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,"
			       "\"message\":\"internal error\"}}");
	return text;
}

static char *call_text(bool with_id, const json_t *id, const char *method, const json_t *params)
{
	json_t *o = envelope(with_id, id);
	char *text;

	json_object_set_new(o, "method", safe_string(method));
	if (params)
		json_object_set_new(o, "params", json_incref((json_t *)params));
	text = dump(o);
	if (!text) {
		o = envelope(with_id, id);
		json_object_set_new(o, "method", safe_string(method));
		text = dump(o);
	}
	return text ? text : xstrdup("{\"jsonrpc\":\"2.0\",\"method\":\"\"}");
}

char *jsonrpc_request_text(const json_t *id, const char *method, const json_t *params)
{
	return call_text(true, id, method, params);
}

char *jsonrpc_notification_text(const char *method, const json_t *params)
{
	return call_text(false, NULL, method, params);
}

int jsonrpc_code_for_err(int err_code)
{
	switch (err_code) {
	case ERR_INVALID:
	case ERR_NOT_FOUND:
		return JSONRPC_INVALID_PARAMS;
	default:
		return JSONRPC_INTERNAL_ERROR;
	}
}

bool jsonrpc_id_equal(const json_t *a, const json_t *b)
{
	bool a_null = !a || json_is_null(a), b_null = !b || json_is_null(b);

	if (a_null || b_null)
		return a_null && b_null;
	if (json_typeof(a) != json_typeof(b))
		return false;
	if (json_is_string(a))
		return json_string_length(a) == json_string_length(b) &&
		       memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) ==
			       0;
	if (json_is_integer(a))
		return json_integer_value(a) == json_integer_value(b);
	return json_equal((json_t *)a, (json_t *)b);
}
