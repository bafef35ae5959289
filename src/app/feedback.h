/*
 * feedback.h - the Event Feedback Server's core: receive a delivered event,
 * verify its Standard Webhooks signature, validate the payload, store it
 * durably and deduplicated in the feedback event store, and answer queries.
 * No HTTP here: src/cli/cmd_feedback.c maps requests to these calls and
 * rejections to HTTP statuses.
 *
 * Storage.  Each accepted delivery is one event of type "feedback_received"
 * in stream "feedback-<task_id>" of its own store (SQLite by default, not the
 * task store), whose data is the payload (defaults filled in: priority from
 * the event catalogue, data {}) plus "received_at" (local naive ISO-8601, as
 * the original server wrote it) and whose metadata says how it arrived
 * (webhook_id, signature_verified, dedupe key).  The event id is the
 * idempotency key: the webhook-id when it is a UUID, else a UUID derived from
 * it (SHA-256), else the payload's event_id, else a fresh UUIDv7.  The store's
 * idempotent append makes a redelivery a duplicate, also across restarts.
 *
 * Signatures (https://www.standardwebhooks.com): headers webhook-id,
 * webhook-timestamp (Unix seconds) and webhook-signature, a space-separated
 * list of "v1,<base64 HMAC-SHA256 of id.timestamp.body>"; the secret is
 * "whsec_<base64 key>".  Timestamps further than the tolerance (default 5
 * minutes) from now, in either direction, are refused; comparison is constant
 * time.  Without a secret, signatures are not checked (the headers still
 * serve deduplication).
 *
 * The decide step (which events matter, whom to notify; a later part of the
 * feedback server) plugs in as a struct feedback_decider: it runs on its own
 * thread as a durable subscriber of the feedback store (checkpoint
 * "feedback-decide"), so receiving never waits for it, and what it decides
 * is recorded as "feedback_decided" events in the same stream.
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef AMBIENT_APP_FEEDBACK_H
#define AMBIENT_APP_FEEDBACK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/uuid.h"
#include "store/store.h"

#define FEEDBACK_TOLERANCE_S 300           /* webhook-timestamp tolerance */
#define FEEDBACK_STREAM_PREFIX "feedback-" /* + task_id */
#define FEEDBACK_EVENT_RECEIVED "feedback_received"
#define FEEDBACK_EVENT_DECIDED "feedback_decided"
#define FEEDBACK_NOTIFICATION_PREFIX "notification_" /* + sent|failed|skipped|suppressed */
#define FEEDBACK_DECIDE_CHECKPOINT "feedback-decide"
#define FEEDBACK_TASK_ID_MAX 128
#define FEEDBACK_EVENT_TYPE_MAX 100
#define FEEDBACK_WEBHOOK_ID_MAX 256
#define FEEDBACK_KEY_MAX 256      /* bytes of an HMAC key */
#define FEEDBACK_SIGNATURE_MAX 64 /* "v1," + base64 of 32 bytes + NUL */
#define FEEDBACK_LIMIT_DEFAULT 50 /* events per page */
#define FEEDBACK_LIMIT_MAX 1000
#define FEEDBACK_SCAN_MAX 10000 /* stored events one query looks at */

/* Why a delivery was refused (FEEDBACK_OK when it was not).  Names are the
 * "error" codes of the HTTP answers and the reason label of the metrics. */
enum feedback_reject {
	FEEDBACK_OK = 0,
	FEEDBACK_REJECT_INVALID_JSON,      /* body is not JSON (400) */
	FEEDBACK_REJECT_INVALID_PAYLOAD,   /* JSON, but not a valid event (400) */
	FEEDBACK_REJECT_INVALID_HEADER,    /* e.g. a webhook-id too long (400) */
	FEEDBACK_REJECT_TOO_LARGE,         /* over the body cap (413) */
	FEEDBACK_REJECT_MISSING_SIGNATURE, /* a secret is set, headers absent (401) */
	FEEDBACK_REJECT_INVALID_SIGNATURE, /* no signature matches (401) */
	FEEDBACK_REJECT_STALE_TIMESTAMP,   /* outside the tolerance (401) */
	FEEDBACK_REJECT_STORE,             /* could not store it: retry later (503) */
	FEEDBACK_REJECT__COUNT
};

/* "invalid_json", "invalid_payload", ...; "ok" for FEEDBACK_OK. */
const char *feedback_reject_name(enum feedback_reject r);

/* ---- signatures ------------------------------------------------------------ */

struct feedback_key {
	unsigned char bytes[FEEDBACK_KEY_MAX];
	size_t len;
};

/* Parse a secret "whsec_<base64>" (the prefix may be left out).  ERR_INVALID
 * with what is wrong for an empty, non-base64 or oversized secret. */
int feedback_key_parse(const char *secret, struct feedback_key *key, struct err *e);

/* The signature "v1,<base64>" of id.timestamp.body into out. */
void feedback_sign(const struct feedback_key *key, const char *id, const char *timestamp,
		   const char *body, size_t len, char out[FEEDBACK_SIGNATURE_MAX]);

/* Check a delivery's headers against key at time now_s: FEEDBACK_OK, or
 * MISSING_SIGNATURE (a header absent), STALE_TIMESTAMP (not Unix seconds
 * within tolerance_s of now_s) or INVALID_SIGNATURE (no "v1," entry of the
 * space-separated list matches), with a message in *e (may be NULL). */
enum feedback_reject feedback_verify(const struct feedback_key *key, const char *id,
				     const char *timestamp, const char *signatures,
				     const char *body, size_t len, int64_t now_s, int tolerance_s,
				     struct err *e);

/* ---- payloads ---------------------------------------------------------------- */

/* Validate a payload {task_id, event_type, data, timestamp, priority,
 * event_id, task_type, user_id, description, position, notification}; only
 * task_id and event_type are required, other fields are kept.  On success
 * *out (may be NULL) gets a normalised copy: optional fields that are null
 * are dropped, priority defaults to the event type's catalogue priority, data
 * to {}.  Otherwise FEEDBACK_REJECT_INVALID_PAYLOAD and a message naming the
 * field and what it should be. */
enum feedback_reject feedback_validate(const json_t *payload, json_t **out, struct err *e);

/* Whether s is a valid task_id / event_type (also used for query filters). */
bool feedback_task_id_valid(const char *s);
bool feedback_event_type_valid(const char *s);

/* ---- the receiver ---------------------------------------------------------------- */

/* The decide step's seam.  decide() is called on the decider thread for each
 * stored feedback_received event (as feedback_event_json shows it), in store
 * order, at least once (progress is a durable checkpoint; after a crash an
 * event may be seen again).  It returns a new JSON object to record as a
 * feedback_decided event ({"event": <seq>, "decision": <object>}), or NULL
 * when there is nothing to record (an error in *e is logged, the event is
 * not retried). */
struct feedback_decider {
	json_t *(*decide)(void *ud, const json_t *event, struct err *e);
	void *ud;
};

struct feedback_options {
	struct store *store; /* borrowed; must outlive the feedback object */
	const char *secret;  /* "whsec_..."; NULL or "": signatures not checked */
	int tolerance_s;     /* 0: FEEDBACK_TOLERANCE_S */
	struct clock *clock; /* NULL: the system clock */
	const struct feedback_decider *decider; /* NULL: no decide step (yet) */
};

struct feedback;

/* CONSTRUCTOR.  ERR_INVALID for a bad secret; counts the stored events. */
int feedback_new(const struct feedback_options *opt, struct feedback **out, struct err *e);
/* DESTRUCTOR: stops the decider thread.  Accepts NULL. */
void feedback_free(struct feedback *fb);

/* One delivery as it arrived: the raw body and the Standard Webhooks
 * headers (NULL when absent).  All borrowed. */
struct feedback_delivery {
	const char *body;
	size_t len;
	const char *webhook_id;
	const char *webhook_timestamp;
	const char *webhook_signature;
};

/* What became of a delivery. */
struct feedback_receipt {
	enum feedback_reject reject; /* FEEDBACK_OK when stored or duplicate */
	bool duplicate;              /* already stored: nothing written */
	int64_t seq;                 /* its position in the feedback store (0 if unknown) */
	char id[UUID_STR_LEN + 1];   /* its event id in the feedback store */
	json_t *event;               /* the stored event as feedback_event_json shows
				      * it (new reference, NULL unless stored now) */
};

/* Verify, validate and store one delivery.  Returns ERR_OK when it was
 * stored or was a duplicate, else an error code with *e saying what to fix
 * and r->reject saying why (also counted for the metrics).  The caller
 * releases r->event with json_decref. */
int feedback_receive(struct feedback *fb, const struct feedback_delivery *d,
		     struct feedback_receipt *r, struct err *e);

/* Count a rejection decided elsewhere (the HTTP layer refusing a body over
 * the cap before it reaches feedback_receive). */
void feedback_count_reject(struct feedback *fb, enum feedback_reject r);

struct feedback_stats {
	uint64_t received;   /* deliveries stored by this process */
	uint64_t duplicates; /* deliveries already stored */
	uint64_t rejected[FEEDBACK_REJECT__COUNT];
	uint64_t stored;  /* feedback_received events in the store (all processes) */
	uint64_t decided; /* events the decider handled since start */
	int64_t head;     /* last position of the store */
	bool signatures;  /* a secret is set */
};

/* Counters, and the stored totals brought up to date with the store. */
int feedback_stats(struct feedback *fb, struct feedback_stats *st, struct err *e);

/* ---- queries --------------------------------------------------------------------- */

/* Filters and paging for feedback_list; zero values match everything. */
struct feedback_query {
	const char *user_id;    /* only this payload user_id (set by the server for
				 * callers who are not admins; not a URL argument) */
	const char *event_type; /* payload event_type */
	const char *task_id;
	int priority;     /* exactly this priority (1..5) */
	int min_priority; /* at least this priority */
	int64_t since_us; /* received at or after (wall clock, µs) */
	int64_t until_us; /* received before */
	int64_t cursor;   /* continue after this seq (in the page's order) */
	bool ascending;   /* oldest first (default newest first) */
	size_t limit;     /* 0: FEEDBACK_LIMIT_DEFAULT */
	/* feedback_read_after only: also notification_* events (those of the
	 * query's task and event_type), as feedback_notification_json shows
	 * them. */
	bool with_notifications;
};

/* Fill a query from text arguments as a URL gives them: get(ud, name)
 * returns the value or NULL.  Names: event_type, task_id, priority,
 * min_priority, since, until (ISO-8601 or Unix seconds), cursor, order
 * (asc|desc), limit (1..FEEDBACK_LIMIT_MAX).  ERR_INVALID naming the
 * argument and its valid values.  Strings in *q are borrowed from get. */
int feedback_query_parse(struct feedback_query *q, const char *(*get)(void *ud, const char *name),
			 void *ud, struct err *e);

/* One page: {"events": [...], "count": n, "next_cursor": "<seq>" or null,
 * "order": "desc"|"asc"}.  A page may hold fewer than limit events and still
 * have a next_cursor when FEEDBACK_SCAN_MAX stored events were looked at;
 * next_cursor is null when the end of the log was reached. */
int feedback_list(struct feedback *fb, const struct feedback_query *q, json_t **page,
		  struct err *e);

/* The original server's GET /events/recent: {"total_events": n,
 * "recent_events": [the last `n_recent`, oldest first], "event_types":
 * [every event_type stored, sorted]}. */
int feedback_recent(struct feedback *fb, size_t n_recent, json_t **out, struct err *e);

/* Live reading: events after seq `after` that match q's filters (cursor,
 * order and limit ignored), at most max of them looked at, appended to the
 * JSON array `events`.  *covered gets the position up to which the log has
 * been examined: continue from there. */
int feedback_read_after(struct feedback *fb, const struct feedback_query *q, int64_t after,
			size_t max, json_t *events, int64_t *covered, struct err *e);

/* Block until the store has an event after `after`, or timeout_ms passes
 * (ERR_TIMEOUT). */
int feedback_wait(struct feedback *fb, int64_t after, int timeout_ms, struct err *e);

/* Filters and paging of the notification outcomes (notification_sent,
 * _failed, _skipped, _suppressed), newest first; zero values match all. */
struct feedback_notify_query {
	const char *user_id;     /* only this user's (not a URL argument) */
	const char *task_id;
	const char *channel;     /* "sms", "email", "webhook", "ntfy" */
	const char *outcome;     /* "sent", "failed", "skipped", "suppressed" */
	const char *feedback_id; /* of the feedback_received event they are about */
	int64_t event;           /* seq of that event */
	int64_t cursor;          /* continue before this seq */
	size_t limit;            /* 0: FEEDBACK_LIMIT_DEFAULT */
};

/* Fill a notification query from URL arguments (task_id, channel, outcome,
 * feedback_id, event, cursor, limit).  ERR_INVALID naming the argument. */
int feedback_notify_query_parse(struct feedback_notify_query *q,
				const char *(*get)(void *ud, const char *name), void *ud,
				struct err *e);

/* One page: {"notifications": [...], "count": n, "next_cursor": "<seq>" or
 * null}.  Same scan bound as feedback_list. */
int feedback_notifications(struct feedback *fb, const struct feedback_notify_query *q,
			   json_t **page, struct err *e);

/* A notification outcome as the API shows it: its data plus "seq", "type"
 * (notification_sent, ...), "outcome" (sent, ...), "recorded_at" (ISO-8601)
 * and "kind": "notification".  New reference. */
json_t *feedback_notification_json(const struct store_event *ev);

/* Whether an event type is a notification outcome. */
bool feedback_is_notification(const char *type);

/* A stored event as the API shows it: its data (payload + received_at) plus
 * "seq" (position in the feedback store), "feedback_id" (its event id),
 * "webhook_id" (when it came with one) and "signature_verified".  New
 * reference. */
json_t *feedback_event_json(const struct store_event *ev);

#endif
