/*
 * audit.h - the audit log of tool calls, as events, and the counters
 * behind get_monitoring_metrics.
 *
 * Every call of a tool (allowed, refused, failed) becomes a `tool_called`
 * event {tool, principal, principal_user, key_id?, user_id (acted for),
 * role, level, outcome,
 * duration_ms, arguments (secrets redacted, contacts masked), error?} in the
 * stream "audit-<YYYY-MM-DD>" (UTC day).  So that reading tools do not pay
 * for a durable append each, records are queued and a writer thread appends
 * them in batches (one transaction, one fsync) every 200 ms or 256 records;
 * audit_flush waits until everything queued so far is in the store.
 *
 * Outcomes: ok, error (the tool ran and failed), denied (not allowed: wrong
 * user, scope or role), rate_limited, confirmation_required (a HIGH call
 * waiting for approval), cancelled (the person declined the confirmation).
 */
#ifndef AMBIENT_APP_AUDIT_H
#define AMBIENT_APP_AUDIT_H

#include <jansson.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/err.h"
#include "store/store.h"

#define AUDIT_STREAM_PREFIX "audit-"
#define AUDIT_EV_TOOL_CALLED "tool_called"
#define AUDIT_LIMIT_DEFAULT 50
#define AUDIT_LIMIT_MAX 1000
#define AUDIT_SCAN_MAX 100000 /* events looked at for one query */

struct audit;

/* CONSTRUCTOR: starts the writer thread.  store and clock are borrowed. */
struct audit *audit_new(struct store *s, struct clock *clk);
/* DESTRUCTOR: flushes, stops the thread.  NULL is fine. */
void audit_free(struct audit *a);

/* Queue one record (steals data: the fields above, without time) and count
 * it in the metrics.  principal is the actor for the event's metadata. */
void audit_record(struct audit *a, const char *principal, json_t *data);

/* Wait until every record queued before this call is appended (or failed
 * to append, then logged). */
void audit_flush(struct audit *a);

/* The newest records first, at most limit, optionally only of one
 * principal (user id or key id) and/or tool: [{time, ...data}]. */
int audit_query(struct audit *a, size_t limit, const char *principal, const char *tool,
		json_t **records, struct err *e);

/* Per tool since start: {tools: {name: {calls, ok, error, denied,
 * rate_limited, confirmation_required, cancelled, avg_ms, max_ms}},
 * calls, since, audit: {queued, written, failed_appends}}. */
json_t *audit_metrics(struct audit *a);

#endif
