/*
 * server.h - a transport-agnostic MCP server: registries, lifecycle, dispatch.
 *
 * The library knows nothing about tasks.  An application registers tools,
 * resources, resource templates and prompts as rows (name, schema, handler);
 * a transport (stdio, Streamable HTTP) creates one mcp_session per client
 * connection or HTTP session and feeds it messages.  Everything the server
 * says goes to a sink: the messages belonging to a request (its progress and
 * log notifications, requests to the client, and finally the response) go to
 * the sink given with that request; unsolicited ones (resource updates, list
 * changes) go to the session's own sink.
 *
 * Protocol: MCP 2025-11-25, also 2025-06-18, 2025-03-26 and 2024-11-05
 * (which sends no notifications/initialized: a session is ready as soon as
 * initialize has been answered).
 *
 * Threads: mcp_session_handle*() may be called from several threads at once
 * for one session (HTTP runs concurrent POSTs; a tool waiting for the client
 * is answered by another message).  Registration must finish before the
 * first session is created.  Handlers run on the calling thread and may
 * block (mcp_call_request waits for the client).
 */
#ifndef AMBIENT_MCP_SERVER_H
#define AMBIENT_MCP_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "mcp/jsonrpc.h"

#define MCP_PROTOCOL_LATEST "2025-11-25"

struct mcp_server;
struct mcp_session;
struct mcp_call; /* one request being handled; valid only during its handler */

/* Where messages go.  send() gets one compact JSON-RPC message (no newline)
 * and returns 0, or -1 when the peer is gone for good.  close_stream(), when
 * set, ends the current delivery stream early (HTTP: close the SSE response
 * after a `retry:` hint so the client resumes with Last-Event-ID); later
 * messages are still sent and kept for the resumed stream. */
struct mcp_sink {
	int (*send)(void *ctx, const char *msg, size_t len);
	/* Optional: sends the response that ends a request (else send() is
	 * used), so a transport learns "this is the last one" atomically. */
	int (*send_final)(void *ctx, const char *msg, size_t len);
	void (*close_stream)(void *ctx, int retry_ms);
	void *ctx;
};

/* Log levels of logging/setLevel, in RFC 5424 order. */
enum mcp_log_level {
	MCP_LOG_DEBUG,
	MCP_LOG_INFO,
	MCP_LOG_NOTICE,
	MCP_LOG_WARNING,
	MCP_LOG_ERROR,
	MCP_LOG_CRITICAL,
	MCP_LOG_ALERT,
	MCP_LOG_EMERGENCY,
};
const char *mcp_log_level_name(enum mcp_log_level l);
int mcp_log_level_parse(const char *name, enum mcp_log_level *out); /* ERR_INVALID if unknown */

/* ---- Registries ------------------------------------------------------ */

/*
 * A tool.  Handlers return 0 and set *result to a CallToolResult object
 * ({content:[...], structuredContent?, isError?}), or return an error code
 * with a message in *e, which the server turns into an isError result whose
 * text is the message (an execution error the model can read and correct).
 * Arguments have been checked against input_schema before the call (see
 * mcp/schema.h); a mismatch never reaches the handler.
 */
typedef int (*mcp_tool_fn)(struct mcp_call *call, const json_t *args, json_t **result,
			   struct err *e);

struct mcp_tool {
	const char *name;          /* [A-Za-z0-9_.-]{1,128} */
	const char *title;         /* may be NULL */
	const char *description;
	const char *input_schema;  /* JSON text of an object schema; NULL: {"type":"object"} */
	const char *output_schema; /* JSON text or NULL */
	const char *annotations;   /* JSON text (readOnlyHint, destructiveHint, ...) or NULL */
	mcp_tool_fn fn;
	void *data;                /* for the handler: mcp_call_data() */
	/* Answers from local state at once and never talks to the client
	 * mid-call (no elicitation, sampling or progress): a transport may run
	 * it on the thread that read the request instead of handing it to a
	 * worker (mcp_server_call_is_quick). */
	bool quick;
};

/*
 * A resource (uri set) or a resource template (uri_template set, RFC 6570
 * level 1: "event://tasks/{task_id}/events").  read() sets *contents to an
 * array of {uri, mimeType?, text | blob}; `vars` is an object of the
 * template's variables (NULL for a plain resource).  ERR_NOT_FOUND becomes
 * JSON-RPC -32002.  complete() (templates only, may be NULL) fills *values
 * with an array of strings for argument `name` starting with `value`.
 */
typedef int (*mcp_read_fn)(struct mcp_call *call, const char *uri, const json_t *vars,
			   json_t **contents, struct err *e);
typedef int (*mcp_complete_fn)(struct mcp_call *call, const char *name, const char *value,
			       const json_t *context_args, json_t **values, struct err *e);

struct mcp_resource {
	const char *uri;          /* a concrete resource, or NULL */
	const char *uri_template; /* a template, or NULL */
	const char *name;
	const char *title;        /* may be NULL */
	const char *description;  /* may be NULL */
	const char *mime_type;    /* may be NULL */
	mcp_read_fn read;
	mcp_complete_fn complete;
	void *data;
};

/* A prompt.  get() sets *result to {description?, messages:[...]}; `args`
 * is an object of string arguments, with every required one present (the
 * server checks that and answers -32602 otherwise). */
typedef int (*mcp_prompt_fn)(struct mcp_call *call, const json_t *args, json_t **result,
			     struct err *e);

struct mcp_prompt_arg {
	const char *name;
	const char *description;
	bool required;
};

struct mcp_prompt {
	const char *name;
	const char *title;       /* may be NULL */
	const char *description;
	const struct mcp_prompt_arg *args;
	size_t nargs;
	mcp_prompt_fn get;
	mcp_complete_fn complete; /* may be NULL */
	void *data;
};

struct mcp_server_options {
	const char *name;         /* serverInfo.name */
	const char *title;        /* may be NULL */
	const char *version;
	const char *instructions; /* may be NULL */
	size_t page_size;         /* items per list page; 0: 100 */
	int request_timeout_ms;   /* server->client requests; 0: 60000 */
};

/* CONSTRUCTOR.  Strings in opt are copied. */
struct mcp_server *mcp_server_new(const struct mcp_server_options *opt);
/* DESTRUCTOR.  Every session must have been freed.  NULL is fine. */
void mcp_server_free(struct mcp_server *srv);

/* Register rows.  Strings and schemas are copied (schemas are parsed and
 * checked here: ERR_INVALID for bad JSON or a bad name).  Registration is
 * not thread-safe; do it before the first session. */
int mcp_server_add_tool(struct mcp_server *srv, const struct mcp_tool *t, struct err *e);
int mcp_server_add_resource(struct mcp_server *srv, const struct mcp_resource *r, struct err *e);
int mcp_server_add_prompt(struct mcp_server *srv, const struct mcp_prompt *p, struct err *e);

/* Decide whether the calling session may subscribe to uri: 0 allows;
 * an error code (ERR_NOT_FOUND becomes -32002) with the reason in *e
 * refuses.  Set before the first session; NULL allows every URI. */
typedef int (*mcp_subscribe_check_fn)(void *data, struct mcp_call *call, const char *uri,
				      struct err *e);
void mcp_server_set_subscribe_check(struct mcp_server *srv, mcp_subscribe_check_fn fn,
				    void *data);

/* ---- Observing requests (metrics) ------------------------------------- */

/* What became of a request, as a class small enough for a metric label. */
enum mcp_outcome {
	MCP_OUTCOME_OK,               /* a result */
	MCP_OUTCOME_TOOL_ERROR,       /* tools/call answered with isError: true */
	MCP_OUTCOME_INVALID_PARAMS,   /* -32602 */
	MCP_OUTCOME_METHOD_NOT_FOUND, /* -32601 */
	MCP_OUTCOME_INVALID_REQUEST,  /* -32600 (e.g. before initialize) */
	MCP_OUTCOME_NOT_FOUND,        /* -32002: no such resource */
	MCP_OUTCOME_INTERNAL_ERROR,   /* -32603 */
	MCP_OUTCOME_ERROR,            /* any other JSON-RPC error */
	MCP_OUTCOME_CANCELLED,        /* the client cancelled it: no response went out */
	MCP_OUTCOME__COUNT
};
/* "ok", "tool_error", "invalid_params", "method_not_found",
 * "invalid_request", "not_found", "internal_error", "error", "cancelled". */
extern const char *const mcp_outcome_names[MCP_OUTCOME__COUNT];

/* The request methods the server handles ("initialize", "tools/call", ...),
 * then "other" for every method it does not know; *count (may be NULL) gets
 * their number, "other" included.  Static strings. */
const char *const *mcp_method_names(size_t *count);

struct mcp_request_info {
	size_t method;           /* index into mcp_method_names() */
	const char *method_name; /* that name: a known method or "other" */
	enum mcp_outcome outcome;
	int rpc_code;          /* the JSON-RPC error code; 0 for a result */
	const char *tool;      /* tools/call of a registered tool: its name, else NULL */
	long long duration_us; /* from dispatch until the response went to the sink */
};

/* Called once per request handled (not for notifications, responses, or
 * messages that did not parse), on the thread that handled it, after its
 * response was sent.  It must be quick and thread-safe; info and its
 * strings are valid during the call.  Set before the first session. */
typedef void (*mcp_observer_fn)(void *data, const struct mcp_request_info *info);
void mcp_server_set_observer(struct mcp_server *srv, mcp_observer_fn fn, void *data);

/* Unsolicited notifications to every session: "notifications/resources/
 * updated" for the sessions subscribed to `uri`; list_changed to all. */
void mcp_server_resource_updated(struct mcp_server *srv, const char *uri);
/* The same for several URIs at once (one notification per subscribed URI
 * and session): a session's refresh hook runs once for the whole batch. */
void mcp_server_resources_updated(struct mcp_server *srv, const char *const *uris, size_t n);
/* Could a resources/updated notification reach anyone now: a session with
 * a subscription, or one whose refresh hook may bring some in?  False
 * means a watcher may skip what happens until it is true again. */
bool mcp_server_may_notify(struct mcp_server *srv);
void mcp_server_list_changed(struct mcp_server *srv,
			     const char *what /* "tools", "resources", "prompts" */);

/* ---- Sessions -------------------------------------------------------- */

/* CONSTRUCTOR.  `out` receives unsolicited messages (may have a NULL send
 * until the transport has somewhere to put them; see mcp_session_set_out).
 * The session starts with one reference. */
struct mcp_session *mcp_session_new(struct mcp_server *srv, const struct mcp_sink *out);
void mcp_session_ref(struct mcp_session *s);
/* Drop a reference; the last one frees.  NULL is fine. */
void mcp_session_unref(struct mcp_session *s);
/* Stop: wake every call waiting on the client (they fail with ERR_IO) and
 * drop messages sent from now on; no hook runs any more once it returns (it
 * waits for one that is running).  Idempotent. */
void mcp_session_close(struct mcp_session *s);

/* The client will send nothing more (stdin closed): calls waiting for its
 * answer fail at once with ERR_IO, later ones too; responses still go out. */
void mcp_session_end_input(struct mcp_session *s);

void mcp_session_set_out(struct mcp_session *s, const struct mcp_sink *out);

/* Treat the session as initialized at `version` without a handshake (HTTP
 * stateless mode: every request may land on any node). */
void mcp_session_assume_initialized(struct mcp_session *s, const char *version);

/* ---- Durable session state (sessions shared by several processes) ---- */

/*
 * What a session needs to go on in another process, as a JSON object:
 *   {"rev": N, "initialized": bool, "protocolVersion": "2025-11-25",
 *    "clientCapabilities": {...}, "clientInfo": {...},
 *    "logLevel": "info" (absent: not set), "subscriptions": ["uri", ...]}
 * rev counts the changes made to it (import takes the stored one), so two
 * copies with the same rev hold the same state.  Requests in flight, the
 * requests sent to the client and the user data are not part of it.
 */
json_t *mcp_session_export(struct mcp_session *s); /* new reference */
/* Replace the durable state with `state` (as exported).  ERR_INVALID, and
 * nothing changed, when it is malformed.  An imported initialized session
 * refuses a second initialize.  Capabilities and clientInfo are replaced
 * only when they differ (borrowed pointers given out stay valid when the
 * same state is imported again). */
int mcp_session_import(struct mcp_session *s, const json_t *state, struct err *e);
/* The rev of the durable state (see mcp_session_export). */
unsigned long mcp_session_rev(struct mcp_session *s);
/* Whether a request of this method may change the durable state
 * (initialize, resources/subscribe, resources/unsubscribe, logging/setLevel). */
bool mcp_method_changes_state(const char *method);
/* Is m a tools/call of a tool registered as quick? */
bool mcp_server_call_is_quick(const struct mcp_server *srv, const struct jsonrpc_msg *m);

/*
 * Hooks a transport sets to keep a shared copy of the durable state.
 *  - changed(): the durable state changed (initialize answered,
 *    resources/subscribe or unsubscribe that changed the set,
 *    logging/setLevel); `state` is the export taken with the change
 *    (borrowed).  Called on the request's thread before its response is sent.
 *  - refresh(): a notifications/resources/updated is about to be decided
 *    for this session: bring the state up to date (e.g. import a copy
 *    changed by another process).  Called on the notifying thread.  May be
 *    NULL.
 * Both run outside the session's lock and never after mcp_session_close()
 * has returned (close waits for a hook that is running, so a hook must not
 * close its own session).
 */
struct mcp_session_hooks {
	void (*changed)(void *ctx, struct mcp_session *s, const json_t *state);
	void (*refresh)(void *ctx, struct mcp_session *s);
	void *ctx;
};
/* Set (copied) or clear (NULL) the hooks. */
void mcp_session_set_hooks(struct mcp_session *s, const struct mcp_session_hooks *hooks);

/* Number the requests this session sends to the client (elicitation,
 * sampling, ...) from `first` on (default 1); JSON integers, so keep it
 * below 2^53.  Processes sharing a session pick distinct ranges so that a
 * response names the process that waits for it. */
void mcp_session_set_next_request_id(struct mcp_session *s, long long first);
/* Ids of the requests this session sent and still awaits: up to max into
 * ids; returns how many there are (may exceed max). */
size_t mcp_session_pending_ids(struct mcp_session *s, long long *ids, size_t max);

/* Application data for handlers (e.g. the principal); free_fn runs when the
 * session is freed. */
void mcp_session_set_user(struct mcp_session *s, void *user, void (*free_fn)(void *));
void *mcp_session_user(const struct mcp_session *s);

bool mcp_session_initialized(const struct mcp_session *s);
/* The negotiated version, or NULL before initialize. */
const char *mcp_session_protocol_version(const struct mcp_session *s);
/* The client's capabilities from initialize (borrowed; NULL before). */
const json_t *mcp_session_client_capabilities(const struct mcp_session *s);

/*
 * Handle one parsed message (consumed: cleaned up by this call).
 *  - request: the handler runs on this thread; its related messages and the
 *    response go to `reply` (the response is suppressed if the client
 *    cancelled the request).
 *  - notification: handled; nothing is written.
 *  - response: routed to the call waiting for it; nothing is written.
 * Returns 0, or an error for a response nobody was waiting for (ignored by
 * transports, reported for tests).
 */
int mcp_session_handle_msg(struct mcp_session *s, struct jsonrpc_msg *msg,
			   const struct mcp_sink *reply, struct err *e);

/* Parse text and handle it; a malformed message gets its JSON-RPC error
 * written to `reply`.  Convenience for line transports and the fuzzer. */
int mcp_session_handle_text(struct mcp_session *s, const char *text, size_t len, size_t max_len,
			    const struct mcp_sink *reply, struct err *e);

/* ---- Inside a handler -------------------------------------------------- */

struct mcp_session *mcp_call_session(struct mcp_call *call);
void *mcp_call_data(struct mcp_call *call);      /* the row's data pointer */
const json_t *mcp_call_id(struct mcp_call *call); /* the request id */
const json_t *mcp_call_meta(struct mcp_call *call); /* params._meta or NULL */
bool mcp_call_cancelled(struct mcp_call *call);

/* notifications/progress for the request's progressToken (a no-op without
 * one).  total < 0 means unknown; message may be NULL. */
int mcp_call_progress(struct mcp_call *call, double progress, double total, const char *message);

/* notifications/message related to this request, when `level` passes the
 * session's logging/setLevel threshold.  data is borrowed. */
int mcp_call_log(struct mcp_call *call, enum mcp_log_level level, const char *logger,
		 const json_t *data);

/* Send a request to the client (sampling/createMessage, elicitation/create,
 * roots/list, ping) on the request's stream and wait for the answer, at most
 * timeout_ms (0: the server default).  *result gets the result object (new
 * reference).  Errors: ERR_TIMEOUT, ERR_IO (session closed), ERR_INVALID
 * (the client answered with an error; its message is in *e). */
int mcp_call_request(struct mcp_call *call, const char *method, const json_t *params,
		     int timeout_ms, json_t **result, struct err *e);

/* End the delivery stream early (see struct mcp_sink). */
void mcp_call_close_stream(struct mcp_call *call, int retry_ms);

/* Answer a tools/call with a result that is already JSON text (a
 * successful CallToolResult object; takes ownership), for tools that keep
 * rendered answers: the tool then returns 0 and leaves *result NULL.  The
 * text is sent as it is, not checked against the tool's outputSchema. */
void mcp_call_set_result_text(struct mcp_call *call, char *text);

/* ---- Result helpers (new references) --------------------------------- */

/* {content:[{type:"text",text}]} */
json_t *mcp_result_text(const char *text);
/* {content:[{type:"text",text}], structuredContent: structured}; `text`
 * NULL means the compact JSON of `structured`.  Steals `structured`. */
json_t *mcp_result_structured(json_t *structured, const char *text);
/* {content:[{type:"text",text}], isError:true} */
json_t *mcp_result_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
