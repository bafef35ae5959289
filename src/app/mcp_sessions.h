/*
 * mcp_sessions.h - the MCP session directory on the event store's soft
 * state, so that every `ambient serve` node on the same database (SQLite
 * file or PostgreSQL) can go on with a session another node began: a load
 * balancer may send each request anywhere (docs/mcp.md, "Several nodes").
 *
 * Soft-state keys (not events: sessions are not facts of the domain):
 *   mcp-session/<id>                {principal, mcp, saved_at}
 *   mcp-session-used/<id>           {at}: last use on any node
 *   mcp-session-reply/<id>/<req id> {msg, at}: a client response handed
 *                                   from the node it reached to the node
 *                                   that awaits it
 * <id> is the Mcp-Session-Id; times are microseconds since the epoch.
 *
 * The record holds no secret: the principal is reduced to its user, role,
 * scopes and key id (app_principal_to_text), never the API key; `mcp` is the
 * protocol state of mcp_session_export (version, capabilities, clientInfo,
 * log level, subscriptions).
 *
 * The functions take the directory as `void *` and match the callbacks of
 * struct http_session_dir (transport/http_server.h), which the serving
 * command fills with them.  All are thread-safe.  Errors: ERR_NOT_FOUND
 * (no such session or reply), ERR_INVALID (a malformed id or record), and
 * the store's errors.
 */
#ifndef AMBIENT_APP_MCP_SESSIONS_H
#define AMBIENT_APP_MCP_SESSIONS_H

#include <jansson.h>
#include <stdbool.h>

#include "common/clock.h"
#include "common/err.h"
#include "store/store.h"

#define APP_MCP_SESSION_PREFIX "mcp-session/"
#define APP_MCP_SESSION_USED_PREFIX "mcp-session-used/"
#define APP_MCP_SESSION_REPLY_PREFIX "mcp-session-reply/"
#define APP_MCP_SESSION_ID_MAX 64
#define APP_MCP_REPLY_TTL_S 600 /* replies nobody took are dropped after this */

struct app_mcp_sessions;

/* CONSTRUCTOR.  store (and clock, NULL: real time) are borrowed and must
 * outlive the directory.  Never fails. */
struct app_mcp_sessions *app_mcp_sessions_new(struct store *s, struct clock *clk);
/* DESTRUCTOR.  NULL is fine. */
void app_mcp_sessions_free(struct app_mcp_sessions *d);

/* Store a session's record {principal: TEXT|null, mcp: {...}} (other
 * members are ignored).  create: a new session; otherwise ERR_NOT_FOUND when
 * the record was removed meanwhile.  Marks the session used. */
int app_mcp_sessions_save(void *d, const char *id, const json_t *record, bool create,
			  struct err *e);
/* *record gets {principal, mcp} (new reference), or ERR_NOT_FOUND. */
int app_mcp_sessions_load(void *d, const char *id, json_t **record, struct err *e);
/* Forget a session: its record, last use and pending replies. */
int app_mcp_sessions_remove(void *d, const char *id, struct err *e);
/* The session was used now. */
int app_mcp_sessions_touch(void *d, const char *id, struct err *e);
/* Forget sessions unused for more than idle_s seconds (and replies older
 * than APP_MCP_REPLY_TTL_S). */
int app_mcp_sessions_expire(void *d, int idle_s, struct err *e);
/* Leave the client's response `msg` to request request_id of session id for
 * the node that awaits it. */
int app_mcp_sessions_post_reply(void *d, const char *id, long long request_id, const json_t *msg,
				struct err *e);
/* Take (and remove) such a response: *msg new reference, or ERR_NOT_FOUND. */
int app_mcp_sessions_take_reply(void *d, const char *id, long long request_id, json_t **msg,
				struct err *e);

/* How many sessions the directory holds (for status and tests). */
int app_mcp_sessions_count(struct app_mcp_sessions *d, size_t *n, struct err *e);

#endif
