/*
 * http_server.h - MCP Streamable HTTP (2025-11-25) on libmicrohttpd, plus a
 * few plain routes for the application (GET /health and the like).
 *
 * One endpoint (default "/mcp"; "/mcp/" is accepted too) takes POST (one
 * JSON-RPC message; notifications and responses get 202, requests get an
 * application/json response or, when the handler streams, text/event-stream),
 * GET (the session's server->client SSE stream, or a resumed POST stream with
 * Last-Event-ID) and DELETE (ends the session).
 *
 * Checks, in order: Host and Origin against DNS rebinding (403), bearer token
 * when an authenticator is set (401 with WWW-Authenticate), body size (413),
 * content type (415), Accept (406), session id (400 missing, 404 unknown),
 * MCP-Protocol-Version (400 unsupported).  Stateless mode skips sessions:
 * every POST gets a fresh, already initialized session, so a load balancer
 * may send any request to any node.
 *
 * Sessions shared by several nodes (struct http_session_dir): with a session
 * directory, a session's durable state (mcp_session_export: version,
 * capabilities, log level, subscriptions) and its principal are saved there
 * when initialize is answered and whenever they change, before the response
 * goes out.  A node that is asked about a session it does not hold loads it
 * and goes on with it (a session of another principal stays 403); every
 * request reloads the record first, so a change made through another node
 * is seen, and a session deleted anywhere is 404 everywhere (open GET
 * streams of it end within about a second).  Before a resources/updated is
 * decided for a session whose GET stream this node holds, its record is
 * reloaded too.  A response to a server->client request (elicitation,
 * sampling) that reaches another node than the waiting one is handed over
 * through the directory.  What stays per node: POST streams (a Last-Event-ID
 * of another node's stream starts the GET stream afresh) and cancellation
 * of requests running on another node.
 *
 * Plain routes (struct http_route) are matched by method and path (exact,
 * or a prefix ending in '*'); a path that has routes for other methods only
 * gets 405 with Allow.  A route answers with a body, or with a stream (e.g.
 * SSE) that the server pulls from until it ends, the client goes away or the
 * server stops, or with a WebSocket connection (http_response_websocket).
 * Without an mcp_server (srv NULL) the server has no MCP
 * endpoint and serves only its routes; its own errors (403, 404, 405, 413)
 * are then plain JSON {"error": CODE, "message": TEXT} rather than JSON-RPC.
 *
 * Threads: one thread per connection (libmicrohttpd's model), so handlers
 * may block; tools/call runs on a worker so that a tool can stream (SSE)
 * while the connection thread writes.
 */
#ifndef AMBIENT_TRANSPORT_HTTP_SERVER_H
#define AMBIENT_TRANSPORT_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"
#include "mcp/server.h"

struct http_server;

/* A plain request as routes see it.  Borrowed for the handler's duration. */
struct http_request {
	const char *method;
	const char *path;  /* without the query string (see http_request_arg) */
	const char *query; /* always "": use http_request_arg */
	const char *body;
	size_t body_len;
	const char *principal;       /* from the authenticator, or NULL */
	struct MHD_Connection *conn; /* for http_request_header() */
};
const char *http_request_header(const struct http_request *req, const char *name);
/* A query-string argument, percent-decoded ("?a=1&b" gives "1" for a and ""
 * for b), or NULL when absent.  Borrowed like the request. */
const char *http_request_arg(const struct http_request *req, const char *name);

/* A streamed answer (text/event-stream and the like), pulled by the
 * connection's thread.  read() writes up to max bytes into buf and returns
 * how many, 0 when nothing is ready yet (after waiting for at most about a
 * second: the server checks for shutdown and sends SSE keepalive comments
 * between calls), or -1 to end the response.  free(ctx) is called exactly
 * once when the response is done, also when the client went away. */
struct http_stream {
	ssize_t (*read)(void *ctx, char *buf, size_t max);
	void (*free)(void *ctx);
	void *ctx;
};

/* A WebSocket answer (RFC 6455): the route accepts the upgrade and the
 * server runs the connection with two threads of its own.
 *
 *  - next() is called in a loop on the writer thread: return 1 with a text
 *    message in *text (a new string of *len bytes, valid UTF-8; the server
 *    frees it), 0 when none is ready after waiting for at most about a
 *    second (the server then checks for shutdown and for the peer leaving),
 *    or -1 to close the connection normally (code 1000).
 *  - on_message() (may be NULL: messages are ignored) is called on the reader
 *    thread for each whole message from the peer (data NUL-terminated, text
 *    checked for UTF-8), possibly while next() runs on the writer thread:
 *    ctx must be safe for both.  Return 0 to go on, non-zero to close.
 *  - free(ctx) is called exactly once, after both threads are done with ctx:
 *    when the connection closed (by either side, or because the server
 *    stops), or when the request was not a valid upgrade (then the route's
 *    answer becomes 400 or 426 and neither callback runs).
 *
 * The peer leaving is noticed within about a second: next() is no longer
 * called and free(ctx) follows.  Pings are answered by the server, which
 * also sends one after 30 s without a message (idle proxies); frames
 * over max_message (default 1 MiB), bad frames and bad UTF-8 close the
 * connection with 1009, 1002 or 1007. */
struct http_websocket {
	int (*next)(void *ctx, char **text, size_t *len);
	int (*on_message)(void *ctx, const char *data, size_t len, bool binary);
	void (*free)(void *ctx);
	void *ctx;
	size_t max_message; /* 0: 1 MiB */
};

#define HTTP_RESPONSE_MAX_HEADERS 4

/* A route's answer: status, content type and body (owned: freed by the
 * server), or a stream (then body must be NULL).  Extra headers are static
 * strings (e.g. {"Vary", "Accept"}); unused slots have a NULL name. */
struct http_response {
	int status;
	const char *content_type; /* static string */
	char *body;
	size_t body_len;
	struct http_stream stream; /* used when stream.read is set */
	struct http_websocket ws;  /* used when ws.next is set (http_response_websocket) */
	struct {
		const char *name, *value;
	} headers[HTTP_RESPONSE_MAX_HEADERS];
};

typedef void (*http_route_fn)(void *data, const struct http_request *req,
			      struct http_response *res);

struct http_route {
	const char *method; /* "GET", ... */
	const char *path;   /* exact path, or a prefix ending in '*' */
	http_route_fn fn;
	void *data;
};

/*
 * Where sessions live when several nodes serve the same clients.  Records
 * are JSON objects {"principal": TEXT|null, "mcp": STATE} (STATE from
 * mcp_session_export).  Functions return 0 or an error code with *e set;
 * they are called from many threads at once.
 *  - save(): store the record of session `id`; `create` is true for a new
 *    session; otherwise the record must still exist (ERR_NOT_FOUND when it
 *    was removed meanwhile: the session is gone).
 *  - load(): *record gets a new reference, or ERR_NOT_FOUND (never saved,
 *    removed or expired).
 *  - remove(): forget the session (absent is fine).
 *  - touch(): the session was used now (idle expiry counts from the last
 *    use on any node).  May be NULL.  Called at most every minute or so
 *    per session and node.
 *  - expire(): forget sessions unused for longer than idle_s.  May be NULL.
 *  - post_reply() / take_reply(): hand the client's response to request
 *    `request_id` of session `id` to whichever node awaits it (take_reply
 *    returns ERR_NOT_FOUND when none has come; a taken reply is removed).
 *    Both NULL: responses only reach the node they are posted to.
 */
struct http_session_dir {
	int (*save)(void *data, const char *id, const json_t *record, bool create, struct err *e);
	int (*load)(void *data, const char *id, json_t **record, struct err *e);
	int (*remove)(void *data, const char *id, struct err *e);
	int (*touch)(void *data, const char *id, struct err *e);
	int (*expire)(void *data, int idle_s, struct err *e);
	int (*post_reply)(void *data, const char *id, long long request_id, const json_t *msg,
			  struct err *e);
	int (*take_reply)(void *data, const char *id, long long request_id, json_t **msg,
			  struct err *e);
	void *data;
};

/* Authenticate a bearer token: return 0 and set *principal (a new string the
 * server frees) when valid, else non-zero. */
typedef int (*http_auth_fn)(void *data, const char *token, char **principal);

struct http_server_options {
	const char *host;     /* listen address; default "127.0.0.1" */
	int port;             /* 0: ephemeral (see http_server_port) */
	const char *endpoint; /* default "/mcp" */
	bool stateless;
	size_t max_body;                  /* default 4 MiB (JSONRPC_MAX_MESSAGE) */
	const char *const *allowed_hosts; /* NULL-terminated extra Host/Origin names */
	bool allow_any_host;              /* skip the DNS-rebinding check (behind a proxy) */
	http_auth_fn auth;                /* NULL: no authentication */
	void *auth_data;
	const struct http_route *routes; /* plain routes, may be NULL */
	size_t nroutes;
	int session_idle_s; /* sessions idle longer are dropped; default 3600 */
	/* Sessions shared with other nodes (copied; its data is borrowed).
	 * NULL: sessions live in this process only.  Ignored when stateless. */
	const struct http_session_dir *session_dir;
	int sse_retry_ms; /* retry hint in priming events; default 1000 */
	/* Called for each new session (after initialize), e.g. to attach the
	 * principal as session user data.  May be NULL. */
	void (*on_session)(void *data, struct mcp_session *s, const char *principal);
	void *on_session_data;
	/* Called when the server itself refuses a request before any route or
	 * endpoint sees it: status 413 (body too large) or 403 (Host/Origin),
	 * e.g. to count it.  May be NULL. */
	void (*on_reject)(void *data, const char *method, const char *path, int status);
	void *on_reject_data;
};

/* CONSTRUCTOR: bind and start serving.  The server borrows srv, routes and
 * the option strings until http_server_free.  srv may be NULL: no MCP
 * endpoint, routes only. */
int http_server_start(struct mcp_server *srv, const struct http_server_options *opt,
		      struct http_server **out, struct err *e);
/* The bound port (useful with port 0). */
int http_server_port(const struct http_server *h);
/* DESTRUCTOR: stop accepting, close every session and stream, join threads. */
void http_server_free(struct http_server *h);

/* Build a JSON route response (takes ownership of `text`). */
void http_response_json(struct http_response *res, int status, char *text);
/* Build a plain JSON error {"error": code, "message": message}. */
void http_response_error(struct http_response *res, int status, const char *code,
			 const char *message);
/* Answer with a WebSocket upgrade (see struct http_websocket); ws is copied.
 * Give the route method "GET". */
void http_response_websocket(struct http_response *res, const struct http_websocket *ws);
/* Add a header (static strings) to a route response; ignored when full. */
void http_response_header(struct http_response *res, const char *name, const char *value);

#endif
