/*
 * client.h - a transport-agnostic MCP client (protocol 2025-11-25; also talks
 * to servers that answer 2025-06-18, 2025-03-26 or 2024-11-05).
 *
 * A client owns one transport (stdio child process, Streamable HTTP; see
 * transport/stdio_client.h and transport/http_client.h), performs the
 * initialize handshake, sends requests and matches responses by id, and hands
 * what the server says on its own to the application:
 *  - notifications (resources/updated, message, progress, list_changed, ...)
 *    go to on_notification, in arrival order, on one client-owned thread;
 *  - requests from the server (elicitation/create, sampling/createMessage,
 *    roots/list, ping) go to on_request, each on its own thread, so a handler
 *    may block (ask the user) or call the server itself.  Without a handler,
 *    ping is answered {} and roots/list with the roots set by
 *    mcp_client_set_roots(); anything else gets -32601.
 *
 * Threads: after mcp_client_connect() every call may be made from several
 * threads at once, also from inside the callbacks.  A request returns only
 * after the notifications that arrived before its response were handed to
 * on_notification (unless called from on_notification itself), so a tool's
 * log and progress messages are seen before its result.
 *
 * Errors: 0 or an err_code.  A JSON-RPC error from the server is ERR_INVALID
 * with "<server message> (JSON-RPC <code>)" in *e; the raw code, message and
 * data are in struct mcp_rpc_error when asked for (mcp_client_request_ex).
 * A request that gets no answer in time is ERR_TIMEOUT, and the server is sent
 * notifications/cancelled for it.  ERR_IO: the connection is gone.
 */
#ifndef AMBIENT_MCP_CLIENT_H
#define AMBIENT_MCP_CLIENT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "mcp/jsonrpc.h"

#define MCP_CLIENT_PROTOCOL_LATEST "2025-11-25"

struct mcp_client;

/* ---- Transports ------------------------------------------------------- */

/* What a transport calls back with.  on_message gets one JSON-RPC message as
 * text (not NUL-terminated; the client copies what it keeps) and may be
 * called from any transport thread, also from inside send(); it never
 * blocks for long.  on_closed reports that the peer is gone for good (child
 * exited, stdout EOF); it is called at most once. */
struct mcp_transport_events {
	void (*on_message)(void *ctx, const char *text, size_t len);
	void (*on_closed)(void *ctx, int code, const char *why);
	void *ctx;
};

/* Per-message bookkeeping shared by the client and the transport while a
 * message is sent.  For a request, `id` is its id and the transport may keep
 * send() running until the response was delivered, `done` turns true (the
 * response arrived on another path, or the client gave up) or the monotonic
 * time passes `deadline_us` (0: none; the client may move it later while a
 * request makes progress).  After setting done the client calls wake(). */
struct mcp_send_ctl {
	const json_t *id; /* NULL for notifications and responses */
	bool is_initialize;
	_Atomic int64_t deadline_us;
	atomic_bool done;
};

/*
 * The operations a transport provides (like Redis' ConnectionType).  The
 * client calls start() once, then send() from any thread, and close() once
 * before free().  Optional ops may be NULL.
 */
struct mcp_client_transport_ops {
	const char *name; /* "stdio", "http" */
	/* Begin delivering messages to ev (spawn the child, ...). */
	int (*start)(void *self, const struct mcp_transport_events *ev, struct err *e);
	/* Send one message (compact JSON, no newline).  See mcp_send_ctl.
	 * Errors: ERR_IO (connection failed), ERR_STATE (HTTP session expired),
	 * ERR_PERM (401/403), ERR_TOO_BIG, ERR_TIMEOUT, ERR_INVALID (rejected). */
	int (*send)(void *self, const char *msg, size_t len, struct mcp_send_ctl *ctl,
		    struct err *e);
	/* Optional: the handshake agreed on `version` (called before
	 * notifications/initialized is sent). */
	void (*set_protocol_version)(void *self, const char *version);
	/* Optional: notifications/initialized was sent (HTTP opens its GET stream). */
	void (*ready)(void *self);
	/* Optional: forget the session before a new initialize (HTTP 404). */
	void (*reset_session)(void *self);
	/* Optional: a ctl's done flag changed; stop waiting in send(). */
	void (*wake)(void *self);
	/* Shut down (stdio: close stdin, wait, SIGTERM, SIGKILL; HTTP: abort
	 * transfers, DELETE the session).  No callback runs after it returns. */
	void (*close)(void *self);
	void (*free)(void *self);
};

/* A transport instance: ops + its state.  Made by a transport constructor
 * (stdio_client_new, http_client_new); owned by whoever holds it, then by the
 * client once given to mcp_client_new. */
struct mcp_client_transport {
	const struct mcp_client_transport_ops *ops;
	void *self;
};

/* Close and free a transport that was never given to a client.  NULL is fine. */
void mcp_client_transport_free(struct mcp_client_transport *t);

/* ---- Callbacks --------------------------------------------------------- */

/* A server notification.  params may be NULL.  Runs on the client's dispatch
 * thread; borrowed arguments are valid for the call only. */
typedef void (*mcp_client_notify_fn)(void *data, struct mcp_client *c, const char *method,
				     const json_t *params);

/* A JSON-RPC error as the server (or a handler) sent it. */
struct mcp_rpc_error {
	int code;
	char message[ERR_MSG_MAX];
	json_t *data; /* new reference or NULL; mcp_rpc_error_cleanup() drops it */
};
void mcp_rpc_error_cleanup(struct mcp_rpc_error *re);

/*
 * A request from the server.  Return 0 and set *result (a new reference to
 * the result object), or return an error: the server then gets a JSON-RPC
 * error with code re->code (when non-zero, else jsonrpc_code_for_err()) and
 * message re->message (when non-empty, else the message in *e).  Runs on a
 * thread of its own; mcp_client_default_request() gives the default answer.
 */
typedef int (*mcp_client_request_fn)(void *data, struct mcp_client *c, const char *method,
				     const json_t *params, json_t **result,
				     struct mcp_rpc_error *re, struct err *e);

/* The connection is gone (stdio child exited).  Called once, on a transport
 * thread; do not free the client from here. */
typedef void (*mcp_client_closed_fn)(void *data, struct mcp_client *c, const char *why);

/* Progress of one request (see struct mcp_request_opts). */
typedef void (*mcp_client_progress_fn)(void *data, double progress, double total,
				       const char *message);

struct mcp_client_options {
	const char *name;             /* clientInfo.name; default "ambient" */
	const char *title;            /* clientInfo.title; may be NULL */
	const char *version;          /* clientInfo.version; default AMBIENT_VERSION */
	const char *protocol_version; /* requested; default MCP_CLIENT_PROTOCOL_LATEST */
	/* Capabilities to declare. */
	bool elicitation;            /* elicitation: {form:{}} */
	bool sampling;               /* sampling: {} */
	bool roots;                  /* roots: {listChanged:true} */
	int request_timeout_ms;      /* default for requests; 0: 60000 */
	int connect_timeout_ms;      /* initialize; 0: 30000 */
	bool reinitialize_on_expiry; /* HTTP 404 on a session: initialize again and
				      * retry once, instead of failing with ERR_STATE */
	size_t max_message;          /* 0: JSONRPC_MAX_MESSAGE */
	int max_server_requests;     /* concurrent server->client requests; 0: 16 */
	mcp_client_notify_fn on_notification;
	mcp_client_request_fn on_request;
	mcp_client_closed_fn on_closed;
	void *data; /* passed to the callbacks */
};

/* ---- Lifecycle --------------------------------------------------------- */

/* CONSTRUCTOR.  Takes ownership of `t` (also on failure; never fails today).
 * Strings in opt are copied. */
struct mcp_client *mcp_client_new(struct mcp_client_transport *t,
				  const struct mcp_client_options *opt);

/* Start the transport and run the handshake: initialize (requesting
 * opt.protocol_version), check the server's choice is one we speak
 * (2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05; else ERR_VERSION), then
 * notifications/initialized.  Call once, before any other request. */
int mcp_client_connect(struct mcp_client *c, struct err *e);

/* Shut the connection down: pending requests fail with ERR_IO, the transport
 * closes (stdio: the child is stopped), callback threads are joined.  Must
 * not be called from a callback.  Idempotent. */
void mcp_client_close(struct mcp_client *c);
/* DESTRUCTOR: closes first when needed.  NULL is fine. */
void mcp_client_free(struct mcp_client *c);

/* After connect (borrowed, valid until free): */
const char *mcp_client_protocol_version(const struct mcp_client *c);
const json_t *mcp_client_server_info(const struct mcp_client *c);         /* serverInfo */
const json_t *mcp_client_server_capabilities(const struct mcp_client *c); /* capabilities */
const char *mcp_client_instructions(const struct mcp_client *c);          /* or NULL */
bool mcp_client_connected(const struct mcp_client *c);

/* ---- Requests ---------------------------------------------------------- */

struct mcp_request_opts {
	int timeout_ms;                     /* 0: the client default */
	mcp_client_progress_fn on_progress; /* sets params._meta.progressToken */
	void *progress_data;
	bool progress_resets_timeout; /* each progress restarts the timeout */
};

/* Send a request and wait for its result (*result: new reference).  params
 * (borrowed) may be NULL.  timeout_ms 0: the client default; < 0: no limit. */
int mcp_client_request(struct mcp_client *c, const char *method, const json_t *params,
		       int timeout_ms, json_t **result, struct err *e);
/* Same with options; `re` (may be NULL) gets the JSON-RPC error, if any. */
int mcp_client_request_ex(struct mcp_client *c, const char *method, const json_t *params,
			  const struct mcp_request_opts *o, json_t **result,
			  struct mcp_rpc_error *re, struct err *e);
/* Send a notification.  params may be NULL. */
int mcp_client_notify(struct mcp_client *c, const char *method, const json_t *params,
		      struct err *e);

/* Helpers.  Lists follow nextCursor until the end and return one array. */
int mcp_client_ping(struct mcp_client *c, int timeout_ms, struct err *e);
int mcp_client_list_tools(struct mcp_client *c, json_t **tools, struct err *e);
/* *result is the CallToolResult ({content, structuredContent?, isError?});
 * a tool's isError result is still success (0) here.  args may be NULL. */
int mcp_client_call_tool(struct mcp_client *c, const char *name, const json_t *args, int timeout_ms,
			 json_t **result, struct err *e);
int mcp_client_list_resources(struct mcp_client *c, json_t **resources, struct err *e);
int mcp_client_list_resource_templates(struct mcp_client *c, json_t **templates, struct err *e);
/* *result is {contents:[...]}. */
int mcp_client_read_resource(struct mcp_client *c, const char *uri, json_t **result, struct err *e);
int mcp_client_subscribe(struct mcp_client *c, const char *uri, struct err *e);
int mcp_client_unsubscribe(struct mcp_client *c, const char *uri, struct err *e);
int mcp_client_list_prompts(struct mcp_client *c, json_t **prompts, struct err *e);
/* args: object of strings, may be NULL.  *result is {description?, messages}. */
int mcp_client_get_prompt(struct mcp_client *c, const char *name, const json_t *args,
			  json_t **result, struct err *e);
/* level: "debug", "info", "notice", "warning", "error", "critical", "alert",
 * "emergency". */
int mcp_client_set_log_level(struct mcp_client *c, const char *level, struct err *e);

/* Roots answered to roots/list by default (array of {uri, name?}; borrowed
 * and copied).  When connected and roots are declared, the server is sent
 * notifications/roots/list_changed. */
void mcp_client_set_roots(struct mcp_client *c, const json_t *roots);

/* The default answer to a server request (see mcp_client_request_fn). */
int mcp_client_default_request(struct mcp_client *c, const char *method, const json_t *params,
			       json_t **result, struct mcp_rpc_error *re, struct err *e);

/* ---- Elicitation helpers ---------------------------------------------- */

/* SEP-1034: a copy of `content` (an object or NULL) in which every property
 * of requestedSchema that is missing and has a `default` gets that default.
 * Returns a new object. */
json_t *mcp_elicitation_apply_defaults(const json_t *requested_schema, const json_t *content);

#endif
