/*
 * jsonrpc.h - JSON-RPC 2.0 messages as MCP uses them.
 *
 * One message per call: MCP 2025-06-18 and later forbid batches, so an array
 * is rejected with -32600.  Parsing classifies a message as a request, a
 * notification or a response (result or error) and checks its shape; it
 * never trusts input (every field is type-checked) and never asserts.
 *
 * Ids are kept as json_t (a string or an integer) so they round-trip
 * exactly.  Builders return compact JSON text the caller frees.
 */
#ifndef AMBIENT_MCP_JSONRPC_H
#define AMBIENT_MCP_JSONRPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* Standard error codes (JSON-RPC 2.0 §5.1) and the MCP ones. */
#define JSONRPC_PARSE_ERROR (-32700)
#define JSONRPC_INVALID_REQUEST (-32600)
#define JSONRPC_METHOD_NOT_FOUND (-32601)
#define JSONRPC_INVALID_PARAMS (-32602)
#define JSONRPC_INTERNAL_ERROR (-32603)
#define MCP_RESOURCE_NOT_FOUND (-32002)
#define MCP_CONNECTION_CLOSED (-32000)
#define MCP_REQUEST_TIMEOUT (-32001)

/* Largest message accepted by default (bytes of JSON text). */
#define JSONRPC_MAX_MESSAGE (4u << 20)

enum jsonrpc_kind {
	JSONRPC_REQUEST = 1,  /* method + id */
	JSONRPC_NOTIFICATION, /* method, no id */
	JSONRPC_RESULT,       /* id + result */
	JSONRPC_ERROR,        /* id (maybe null) + error */
};

/* A parsed message.  `root` owns everything; the other pointers borrow
 * from it.  params is NULL when absent (it is always an object or NULL: MCP
 * never uses positional params, and an array is rejected). */
struct jsonrpc_msg {
	enum jsonrpc_kind kind;
	json_t *root;
	json_t *id;          /* request/response id: string or integer; NULL for notifications */
	const char *method;  /* requests and notifications */
	json_t *params;      /* object or NULL */
	json_t *result;      /* JSONRPC_RESULT */
	int error_code;      /* JSONRPC_ERROR */
	const char *error_message;
	json_t *error_data;  /* may be NULL */
};

/*
 * Parse one message from text.  On failure returns non-zero, sets *e, and
 * sets *rpc_code to the JSON-RPC error code to answer with (-32700 for bad
 * JSON, -32600 for a wrong shape) and *bad_id to a new reference to the
 * request's id when one could be recovered (else NULL), so the caller can
 * still address the error response.  max_len 0 means JSONRPC_MAX_MESSAGE.
 */
int jsonrpc_parse(const char *text, size_t len, size_t max_len, struct jsonrpc_msg *out,
		  int *rpc_code, json_t **bad_id, struct err *e);
void jsonrpc_msg_cleanup(struct jsonrpc_msg *m);

/* Builders.  `id` is borrowed (NULL encodes as null).  Results are compact
 * JSON text without a trailing newline; the caller frees them.  `result`,
 * `params` and `data` are borrowed too. */
char *jsonrpc_result_text(const json_t *id, const json_t *result);
/* The same with the result given as JSON text (trusted to be valid). */
char *jsonrpc_result_raw_text(const json_t *id, const char *result_text);
char *jsonrpc_error_text(const json_t *id, int code, const char *message, const json_t *data);
char *jsonrpc_request_text(const json_t *id, const char *method, const json_t *params);
char *jsonrpc_notification_text(const char *method, const json_t *params);

/* The JSON-RPC code for an ambient error code (ERR_INVALID -> -32602,
 * ERR_NOT_FOUND -> -32602, otherwise -32603). */
int jsonrpc_code_for_err(int err_code);

/* true when the two ids are equal (same type and value). */
bool jsonrpc_id_equal(const json_t *a, const json_t *b);

#endif
