/*
 * chat_conn.h - the MCP connection of `ambient chat`, on the library's client
 * (mcp/client.h) over Streamable HTTP or stdio.
 *
 * Where it connects, in order:
 *  - the --url list: each URL is tried in turn (a load balancer, then the
 *    nodes directly, like the original client) until one completes the
 *    initialize handshake;
 *  - or --stdio CMD: a server spawned with /bin/sh -c CMD;
 *  - or, given neither, CHAT_CONN_DEFAULT_URLS, then `ambient mcp` spawned
 *    from this very binary (self_argv).
 * A spawned server runs in a session of its own (setsid), so the Ctrl-C the
 * person types at the chat does not reach it.
 *
 * Reconnects: when a request finds the connection gone (the child exited,
 * the HTTP server restarted or forgot the session), the whole list is tried
 * again and the subscriptions are renewed.  A request that failed that way
 * is sent again only when that is safe: the session had expired (the server
 * refused it unseen), or the tool is marked read-only or idempotent.
 * chat_conn_check() pings and reconnects from a background thread.
 *
 * Threads: every function may be called from several threads at once; the
 * callbacks run on the client's notification thread and must not call back
 * into the connection.
 */
#ifndef AMBIENT_CLI_CHAT_CONN_H
#define AMBIENT_CLI_CHAT_CONN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* The defaults when neither --url nor --stdio is given: the original's
 * load balancer, then `ambient serve`'s default address. */
#define CHAT_CONN_DEFAULT_URL_LB "http://localhost/mcp"
#define CHAT_CONN_DEFAULT_URL_DIRECT "http://127.0.0.1:8001/mcp"

struct chat_conn_options {
	const char *const *urls; /* tried in order; NULL/0: not HTTP (unless defaults) */
	size_t nurls;
	const char *stdio_cmd;        /* spawn this with /bin/sh -c */
	const char *const *self_argv; /* `ambient mcp`, NULL-terminated: the last resort
				       * when neither urls nor stdio_cmd is given */
	const char *api_key;          /* sent as Authorization: Bearer (HTTP) */
	const char *stderr_log;       /* a spawned server's stderr; NULL: discarded */
	int connect_timeout_ms;       /* the handshake; 0: 10000 */
	int request_timeout_ms;       /* 0: 120000 */
	/* Status lines for the person ("reconnected to ..."). */
	void (*on_notice)(void *ud, const char *text);
	/* notifications/resources/updated. */
	void (*on_resource_updated)(void *ud, const char *uri);
	/* notifications/tools/list_changed, and after a reconnect. */
	void (*on_tools_changed)(void *ud);
	void *ud;
};

struct chat_conn;

/* CONSTRUCTOR: connect (see above).  Strings are copied.  On failure *e
 * lists what was tried and why each failed. */
int chat_conn_open(const struct chat_conn_options *o, struct chat_conn **out, struct err *e);
/* DESTRUCTOR: closes (a spawned server is stopped).  NULL is fine. */
void chat_conn_close(struct chat_conn *c);

/* What it is connected to, e.g. "http://127.0.0.1:8001/mcp (Streamable
 * HTTP)" or "`ambient mcp` over stdio (spawned)".  Copied into out. */
void chat_conn_describe(struct chat_conn *c, char *out, size_t size);
/* serverInfo name and version, e.g. "ambient 0.1.0". */
void chat_conn_server_name(struct chat_conn *c, char *out, size_t size);
/* The server's instructions (heap copy) or NULL. */
char *chat_conn_instructions(struct chat_conn *c);
bool chat_conn_up(struct chat_conn *c);

/* tools/list (all pages).  *tools: a new array. */
int chat_conn_list_tools(struct chat_conn *c, json_t **tools, struct err *e);
/* tools/call; *result is the CallToolResult (an isError result is success). */
int chat_conn_call_tool(struct chat_conn *c, const char *name, const json_t *args, json_t **result,
			struct err *e);
/* resources/read; *text: the text of its first content (heap). */
int chat_conn_read_resource(struct chat_conn *c, const char *uri, char **text, struct err *e);
/* resources/list (all pages). */
int chat_conn_list_resources(struct chat_conn *c, json_t **resources, struct err *e);
/* Keep `uri` subscribed (now and after every reconnect) when the server
 * supports subscriptions; returns whether it does. */
bool chat_conn_subscribe(struct chat_conn *c, const char *uri);

/* Ping (timeout_ms), and reconnect when the connection is gone.  For a
 * background thread. */
void chat_conn_check(struct chat_conn *c, int timeout_ms);

#endif
