/*
 * delivery.h - the feedback webhook: delivers task events to each task's
 * callback URL, with the event store as the outbox.
 *
 * A subscriber with the durable checkpoint DELIVERY_CHECKPOINT reads the
 * task streams in log order and POSTs every event a person may care about
 * (monitor output, task_check_failed, and task_paused with automatic true)
 * to the task's callback_url, or the default URL (EVENT_FEEDBACK_URL) when
 * the task has none.  Never delivered: feedback_* events (no loops) and the
 * other lifecycle events.
 *
 * Guarantees:
 *  - at least once: the checkpoint only moves past an event once its outcome
 *    (feedback_delivered or feedback_failed, appended to the task's stream)
 *    is durable, so a crash or restart redelivers at most the events that
 *    were in flight; receivers dedupe by the webhook-id header (the event id);
 *  - outcomes recorded in batches: a decided event leaves its task's queue at
 *    once (the task's next event may go) and its outcome is appended with
 *    those of other events, one append per task stream, the appends at once
 *    so that the store's group commit makes them one fsync; the checkpoint
 *    waits for them;
 *  - ordered per task: one event of a task in flight at a time;
 *  - endpoints in parallel: one libcurl multi fetcher of its own (16
 *    transfers per host:port, 256 in all); a slow or dead endpoint holds up
 *    only the tasks that deliver to it;
 *  - retries with exponential backoff and jitter over about a day (by
 *    default Svix's 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), Retry-After
 *    honoured; 410 Gone disables the endpoint (soft state
 *    "delivery/disabled/<url>") and fails its events at once;
 *  - bounded memory: at most max_window events are held; beyond that a task's
 *    events stay in the store and are read back from its stream when its
 *    queue drains.
 *
 * The payload is the original's {task_id, event_type, data, timestamp,
 * priority} plus event_id, task_type, user_id, description, position and
 * notification; the headers follow Standard Webhooks (webhook-id,
 * webhook-timestamp, webhook-signature when a secret is set).
 * docs/delivery.md has the details.
 *
 * One deliverer per store holds the lease DELIVERY_LEASE_NAME (renewed at a
 * third of its time to live); others stand by.  With partitions > 1 the
 * tasks are split by shard (engine_shard_of(id) % partitions): deliverer k
 * handles partition k only, with its own lease "delivery/part/<k>",
 * checkpoint "delivery/<k>" and status "delivery/status/<k>".  Every node
 * runs one deliverer per partition; those of one node share a struct
 * delivery_share, so the node holds about ceil(partitions / live engines)
 * of them and gives the surplus up for a new node to take.  Either way each
 * task's events are delivered by one node at a time, in order.
 *
 * Threads: delivery_start runs the loop on its own thread plus a watcher that
 * wakes it when the log grows.  With `manual` set no thread is started and the
 * caller turns the loop with delivery_step; retry times then follow the
 * injected clock (the fetcher's own timeouts are real time).  delivery_status
 * may be called from any thread.
 */
#ifndef AMBIENT_ENGINE_DELIVERY_H
#define AMBIENT_ENGINE_DELIVERY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/err.h"
#include "store/store.h"

#define DELIVERY_LEASE_NAME "delivery"
#define DELIVERY_CHECKPOINT "delivery"
#define DELIVERY_STATUS_KEY "delivery/status"
#define DELIVERY_DISABLED_PREFIX "delivery/disabled/"
#define DELIVERY_DEFAULT_URL "http://localhost:8000/process_background_feedback"
#define DELIVERY_GONE_REASON "endpoint disabled: it answered 410 Gone"

struct delivery;
struct netguard;

/* The deliverers of one node (one per partition) count here how many
 * partitions the node holds.  Zero-initialise; it must outlive them. */
struct delivery_share {
	_Atomic int held;
};

struct delivery_options {
	struct store *store;
	struct clock *clock;          /* NULL: the store's clock */
	const char *default_url;      /* for tasks without a callback_url; NULL:
				       * DELIVERY_DEFAULT_URL */
	const char *secret;           /* "whsec_<base64>" signs every request; NULL or "":
				       * unsigned */
	const char *owner;            /* lease owner; NULL: "<host>:<pid>:<random>" */
	const char *user_agent;       /* NULL: the fetcher's default */
	const struct netguard *guard; /* borrowed; when set, task callback URLs other than
				       * default_url pass this SSRF guard (netguard.h);
				       * NULL: every callback URL is trusted */
	int lease_ttl_ms;             /* default 30000 */
	const int *schedule_ms;       /* delays before the 2nd, 3rd, ... attempt; NULL:
				       * Svix's 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h */
	size_t nschedule;             /* entries of schedule_ms (attempts = nschedule + 1) */
	int timeout_ms;               /* one attempt, connect included; default 10000 */
	size_t max_window;            /* events held in memory; default 10000 */
	size_t max_window_bytes;      /* payload bytes held in memory; default 64 MiB */
	size_t max_task_queue;        /* of which for one task; default 1000 */
	int max_per_host;             /* transfers at once per host:port; default 16 */
	int max_total;                /* transfers at once; default 256 */
	bool manual;                  /* no threads: the caller runs delivery_step */
	unsigned partitions;          /* 0 or 1: one deliverer for every task */
	unsigned partition;           /* which one this deliverer handles (< partitions) */
	struct delivery_share *share; /* the node's deliverers; NULL: no balancing */
};

struct delivery_status {
	bool leader;            /* this deliverer holds the lease */
	char holder[128];       /* who holds it ("" none) */
	long delivered;         /* events delivered (2xx) since start */
	long failed;            /* events failed for good since start */
	long attempts;          /* HTTP attempts since start */
	long retrying;          /* tasks waiting for a retry */
	long in_flight;         /* requests in flight */
	long queued;            /* events held in memory, not yet done */
	long overflowed;        /* tasks whose further events wait in the store */
	long disabled;          /* endpoints disabled after a 410 */
	int64_t checkpoint;     /* durable: every selected event up to it is done */
	int64_t position;       /* last log position read */
	int64_t latency_p50_us; /* append (recorded_at) to 2xx, recent deliveries */
	int64_t latency_p99_us;
};

/* CONSTRUCTOR.  ERR_INVALID for a secret that is not "whsec_" + base64 (or
 * plain base64), a default URL that is not http(s), or a bad schedule.  The
 * store must outlive the deliverer. */
int delivery_new(const struct delivery_options *opt, struct delivery **out, struct err *e);
/* Start the threads (not in manual mode). */
int delivery_start(struct delivery *d, struct err *e);
/* One turn of the loop: lease, log, retries due, outcomes, checkpoint, then
 * wait up to timeout_ms in the fetcher (0: do not wait).  Manual mode only. */
void delivery_step(struct delivery *d, int timeout_ms);
/* Selected events not yet done (in memory, plus one per task whose events
 * wait in the store).  Manual mode: step until it is 0. */
size_t delivery_pending(struct delivery *d);
void delivery_status(struct delivery *d, struct delivery_status *st);
/* DESTRUCTOR: stops the threads (requests in flight are abandoned and sent
 * again by the next deliverer), writes the checkpoint, releases the lease.
 * NULL is fine. */
void delivery_free(struct delivery *d);

/* Add the counters of `st` to `sum` (several partitions' deliverers of one
 * node seen as one): counts add up, leader is any, checkpoint and position
 * are the lowest, latencies the highest. */
void delivery_status_add(struct delivery_status *sum, const struct delivery_status *st, bool first);

/* For processes without a deliverer: is one running on this store, and the
 * status document it publishes (new reference or NULL; may pass NULL); with
 * partitions, the first partition's. */
int delivery_peek(struct store *s, bool *running, json_t **status, struct err *e);

/* Lift the 410 mark of an endpoint (a running deliverer notices within 5 s).
 * Updating a task's callback_url lifts the mark of the new URL too. */
int delivery_endpoint_enable(struct store *s, const char *url, struct err *e);

/* ---- Standard Webhooks signatures ----------------------------------------- */

#define DELIVERY_SIG_MAX 128 /* "v1," + base64 of 32 bytes, NUL included */

/* Sign "<msg_id>.<timestamp>.<body>" with HMAC-SHA256 under the key of
 * `secret` ("whsec_<base64>", or plain base64) into out as "v1,<base64>".
 * ERR_INVALID for a bad secret. */
int delivery_sign(const char *secret, const char *msg_id, int64_t timestamp, const void *body,
		  size_t body_len, char out[DELIVERY_SIG_MAX], struct err *e);

#endif
