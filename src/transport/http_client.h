/*
 * http_client.h - the client side of MCP Streamable HTTP (2025-11-25) on
 * libcurl, and the Server-Sent Events parser it uses.
 *
 * Every client message is its own POST with `Accept: application/json,
 * text/event-stream`; after initialize the requests carry `Mcp-Session-Id`
 * (when the server gave one) and `MCP-Protocol-Version`.  A request's answer
 * is one JSON object or an SSE stream whose every message (the server's
 * related requests and notifications, then the response) is delivered to the
 * client.  Notifications and responses get 202.
 *
 * After the handshake a GET stream (own thread) carries the server's
 * unsolicited messages; 405 means the server has none.  When an SSE stream
 * (POST or GET) ends before the awaited response, the transport waits the
 * server's `retry` time and resumes with GET + `Last-Event-ID`.
 *
 * A 404 on a request that carried a session id means the session expired
 * (ERR_STATE; the client may initialize again, see mcp_client_options).
 * Bearer tokens go in `Authorization`.  At close the session is DELETEd.
 * Several URLs may be given (a load balancer, then the nodes directly): until
 * one answers, a failure to connect (or 502/503/504) moves on to the next.
 *
 * Threads: send() runs the transfer on the calling thread; one idle
 * connection per concurrent sender is kept for reuse.  Logs never go to
 * stdout.
 */
#ifndef AMBIENT_TRANSPORT_HTTP_CLIENT_H
#define AMBIENT_TRANSPORT_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "mcp/client.h"

struct http_client_options {
	const char *url;         /* the MCP endpoint, e.g. http://127.0.0.1:8001/mcp */
	const char *const *urls; /* or several, tried in order at connect */
	size_t nurls;
	const char *bearer_token;   /* Authorization: Bearer ...; may be NULL */
	const char *const *headers; /* extra "Name: value" lines, NULL-terminated; may be NULL */
	size_t max_message;         /* cap on one message / response body; 0: JSONRPC_MAX_MESSAGE */
	int connect_timeout_ms;     /* TCP/TLS connect; 0: 10000 */
	int send_timeout_ms;        /* notifications and responses; 0: 30000 */
	bool no_get_stream;         /* do not open the GET stream */
	int max_resume_attempts;    /* failed reconnects in a row before giving up; 0: 5 */
	int default_retry_ms;       /* reconnect delay when the server gave none; 0: 1000 */
	bool no_delete;             /* do not DELETE the session at close */
	const char *user_agent;     /* default "ambient/VERSION" */
};

/* CONSTRUCTOR.  ERR_INVALID without a URL or for a URL that is not http(s).
 * Strings are copied. */
int http_client_new(const struct http_client_options *opt, struct mcp_client_transport **out,
		    struct err *e);

/* The session id the server gave (borrowed until the next reset), or NULL. */
const char *http_client_session_id(const struct mcp_client_transport *t);
/* The URL in use (after connect: the one that answered). */
const char *http_client_url(const struct mcp_client_transport *t);

/* ---- Server-Sent Events (WHATWG HTML "event stream" parsing) ----------- */

/* One dispatched event: type ("message" when the stream named none), data
 * (the data lines joined by "\n", NUL-terminated), and the last event id
 * (NULL when none was set). */
typedef void (*http_client_sse_fn)(void *ctx, const char *type, const char *data, size_t len,
				   const char *id);

struct http_client_sse {
	struct buf line;  /* the line being read */
	struct buf data;  /* data of the event being built */
	struct buf event; /* its type */
	char *last_id;    /* last event id, NULL when none (an empty id resets it) */
	long retry_ms;    /* last valid retry field, -1 when none */
	bool after_cr;    /* the previous byte was CR (CRLF split across chunks) */
	bool started;     /* past the first line (BOM check) */
	size_t max_event;
	unsigned long events; /* events dispatched so far */
	http_client_sse_fn fn;
	void *ctx;
};

/* Caller-owned.  max_event caps one event's data (and a line); 0: JSONRPC_MAX_MESSAGE. */
void http_client_sse_init(struct http_client_sse *p, size_t max_event, http_client_sse_fn fn,
			  void *ctx);
void http_client_sse_cleanup(struct http_client_sse *p);
/* Feed bytes as they arrive.  ERR_TOO_BIG when an event passes the cap (the
 * parser must not be fed again).  An event is dispatched at its blank line;
 * a partial event at the end of the stream is dropped (per the standard). */
int http_client_sse_feed(struct http_client_sse *p, const char *data, size_t len, struct err *e);

#endif
