/*
 * authz.h - confirmation of dangerous tool calls: the original's
 * authorization requests (ORIGIN.md section 5), event-sourced.
 *
 * A HIGH or CRITICAL tool call that the client cannot confirm through MCP
 * elicitation becomes an authorization request.  Its id is derived from
 * (user, tool, arguments), so asking again for the identical call finds the
 * same request.  Each request is a stream "authz-<id>":
 *
 *   authorization_requested {request_id, tool, user_id, principal, level,
 *                            reason, arguments (redacted), requested_at_us,
 *                            expires_at_us}
 *   authorization_approved  {request_id, approved_by, approved_at_us,
 *                            valid_until_us}
 *   authorization_denied    {request_id, denied_by, reason}
 *
 * A request is pending for 30 minutes; once approved, the identical call is
 * allowed for one hour.  After either expires (or a denial), a new request
 * on the same stream starts the cycle again.
 *
 * Pure: no I/O.
 */
#ifndef AMBIENT_DOMAIN_AUTHZ_H
#define AMBIENT_DOMAIN_AUTHZ_H

#include <jansson.h>
#include <stdint.h>

#include "common/err.h"

#define AUTHZ_ID_LEN 32 /* hex */
#define AUTHZ_STREAM_PREFIX "authz-"
#define AUTHZ_REQUEST_TTL_US (30LL * 60 * 1000000)
#define AUTHZ_APPROVAL_TTL_US (60LL * 60 * 1000000)

#define AUTHZ_EV_REQUESTED "authorization_requested"
#define AUTHZ_EV_APPROVED "authorization_approved"
#define AUTHZ_EV_DENIED "authorization_denied"

enum authz_state {
	AUTHZ_NONE,     /* never asked, or the last cycle is over */
	AUTHZ_PENDING,  /* asked, waiting for an admin */
	AUTHZ_APPROVED, /* the identical call may run */
	AUTHZ_DENIED,   /* an admin said no (until asked again) */
	AUTHZ_EXPIRED,  /* nobody answered within 30 minutes */
};

const char *authz_state_name(enum authz_state s);

/* The request id of a call: 32 hex digits of SHA-256 over user, tool and
 * the arguments (compact JSON with sorted keys, user_id left out). */
void authz_request_id(const char *user, const char *tool, const json_t *args,
		      char out[AUTHZ_ID_LEN + 1]);

/* Whether text is shaped like a request id. */
int authz_id_check(const char *id, struct err *e);

/* Fold an authorization_* event into the request's document. */
json_t *authz_fold(const json_t *doc, const char *type, const json_t *data, struct err *e);

/* The state of a request document at wall time now_us (doc may be NULL). */
enum authz_state authz_state_at(const json_t *doc, int64_t now_us);

/* The document as shown to people: state, times in ISO-8601 UTC. */
json_t *authz_view(const json_t *doc, int64_t now_us);

#endif
