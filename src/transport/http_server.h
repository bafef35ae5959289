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
 * Threads: one thread per connection (libmicrohttpd's model), so handlers
 * may block; tools/call runs on a worker so that a tool can stream (SSE)
 * while the connection thread writes.
 */
#ifndef AMBIENT_TRANSPORT_HTTP_SERVER_H
#define AMBIENT_TRANSPORT_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "mcp/server.h"

struct http_server;

/* A plain request as routes see it.  Borrowed for the handler's duration. */
struct http_request {
	const char *method;
	const char *path;      /* without the query string */
	const char *query;     /* after '?', or "" */
	const char *body;
	size_t body_len;
	const char *principal; /* from the authenticator, or NULL */
	struct MHD_Connection *conn; /* for http_request_header() */
};
const char *http_request_header(const struct http_request *req, const char *name);

/* A route's answer: status, content type and body (owned: freed by the server). */
struct http_response {
	int status;
	const char *content_type; /* static string */
	char *body;
	size_t body_len;
};

typedef void (*http_route_fn)(void *data, const struct http_request *req,
			      struct http_response *res);

struct http_route {
	const char *method; /* "GET", ... */
	const char *path;   /* exact path, or a prefix ending in '*' */
	http_route_fn fn;
	void *data;
};

/* Authenticate a bearer token: return 0 and set *principal (a new string the
 * server frees) when valid, else non-zero. */
typedef int (*http_auth_fn)(void *data, const char *token, char **principal);

struct http_server_options {
	const char *host;            /* listen address; default "127.0.0.1" */
	int port;                    /* 0: ephemeral (see http_server_port) */
	const char *endpoint;        /* default "/mcp" */
	bool stateless;
	size_t max_body;             /* default 4 MiB (JSONRPC_MAX_MESSAGE) */
	const char *const *allowed_hosts; /* NULL-terminated extra Host/Origin names */
	bool allow_any_host;         /* skip the DNS-rebinding check (behind a proxy) */
	http_auth_fn auth;           /* NULL: no authentication */
	void *auth_data;
	const struct http_route *routes; /* plain routes, may be NULL */
	size_t nroutes;
	int session_idle_s;          /* sessions idle longer are dropped; default 3600 */
	int sse_retry_ms;            /* retry hint in priming events; default 1000 */
	/* Called for each new session (after initialize), e.g. to attach the
	 * principal as session user data.  May be NULL. */
	void (*on_session)(void *data, struct mcp_session *s, const char *principal);
	void *on_session_data;
};

/* CONSTRUCTOR: bind and start serving.  The server borrows srv, routes and
 * the option strings until http_server_free. */
int http_server_start(struct mcp_server *srv, const struct http_server_options *opt,
		      struct http_server **out, struct err *e);
/* The bound port (useful with port 0). */
int http_server_port(const struct http_server *h);
/* DESTRUCTOR: stop accepting, close every session and stream, join threads. */
void http_server_free(struct http_server *h);

/* Build a JSON route response (takes ownership of `text`). */
void http_response_json(struct http_response *res, int status, char *text);

#endif
