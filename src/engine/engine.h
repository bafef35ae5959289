/*
 * engine.h - the task engine: runs every active background task.
 *
 * One engine per store does the work, whichever process it lives in: the
 * engine holds the lease ENGINE_LEASE_NAME in the store (renewed every third
 * of its time to live) and stands by while another process holds it.  While
 * it holds the lease it
 *  - loads the active tasks from the "tasks" projection and follows the log
 *    (appends of any process), so new, paused, resumed, updated and deleted
 *    tasks and run_task_now requests take effect within a second;
 *  - keeps one timer per task in a min-heap on (due time, sequence); a due
 *    time is derived from the task's config and the last run it recorded
 *    (soft state, and the slot in its events), so a restart resumes every
 *    schedule where it was; missed runs follow missed_run_policy;
 *  - runs checks (fetches through the libcurl multi fetcher on its own
 *    thread) and appends what they find to the task's stream with the
 *    stream version it knows as the expected version, so a check that raced
 *    with a pause or a delete records nothing.
 *
 * Soft state (store_soft_*), flushed at most once a second in one batch:
 *   engine/task-<id>            bookkeeping: last slot, failures, per-URL
 *                               ETag / Last-Modified / content hash, metric
 *                               state, digest items already reported
 *   snap/task-<id>/<u>/<i>      page text snapshots, a ring of
 *                               snapshots_kept per URL (u: URL hash)
 *   engine/status               what the engine holding the lease is doing
 *
 * Threads: engine_start runs the loop on its own thread plus a small watcher
 * that wakes the loop when the log grows.  With `manual` set no thread is
 * started and the caller turns the loop with engine_step (tests drive a fake
 * clock through days in milliseconds this way).  engine_status may be
 * called from any thread.
 */
#ifndef AMBIENT_ENGINE_ENGINE_H
#define AMBIENT_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/err.h"
#include "store/store.h"

#define ENGINE_LEASE_NAME "engine"
#define ENGINE_STATUS_KEY "engine/status"
#define ENGINE_DEFAULT_PRICE_API "https://api.coingecko.com"

struct engine;

struct engine_options {
	struct store *store;
	struct clock *clock;       /* NULL: the store's clock */
	const char *owner;         /* lease owner; NULL: "<host>:<pid>:<random>" */
	int lease_ttl_ms;          /* default 30000 */
	const char *allow_net;     /* --allow-net list (CIDRs, host names); NULL: none */
	const char *price_api_url; /* base URL of the CoinGecko-style price API;
				    * NULL: ENGINE_DEFAULT_PRICE_API */
	int snapshots_kept;        /* page snapshots kept per URL; default 5 */
	int max_failures;          /* failed checks in a row before a task is paused;
				    * default 10 (a config's "max_failures" wins) */
	int fetch_timeout_ms;      /* per attempt; default 30000 */
	size_t max_page_bytes;     /* default 2 MiB */
	int per_host_limit;        /* concurrent transfers per host; default 4 */
	int max_transfers;         /* concurrent transfers in all; default 64 */
	int retry_base_ms;         /* backoff of a failed check before the next try;
				    * default 60000, doubled per failure (capped by the
				    * schedule) */
	bool manual;               /* no threads: the caller runs engine_step */
};

/* What the engine is doing, for get_event_sourcing_status and /health.
 * The counters (checks, failures, events) and tasks are live; active,
 * in_flight, fetches and the lag percentiles too for up to 10,000 tasks,
 * else they are refreshed every 2 s. */
struct engine_status {
	bool leader;                    /* this engine holds the lease and runs tasks */
	long tasks;                     /* tasks it runs (active and paused) */
	long active;                    /* of which active */
	long in_flight;                 /* checks in progress */
	long checks;                    /* checks finished since start */
	long failures;                  /* of which failed */
	long events;                    /* events appended since start */
	long fetches;                   /* transfers completed */
	int64_t lag_p50_us, lag_p99_us; /* start minus due time, recent checks */
	char holder[128];               /* who holds the lease (maybe another process); "" none */
};

/* CONSTRUCTOR.  Checks the options (a bad --allow-net entry is ERR_INVALID
 * naming it).  The store must outlive the engine. */
int engine_new(const struct engine_options *opt, struct engine **out, struct err *e);
/* Start the threads (not in manual mode). */
int engine_start(struct engine *en, struct err *e);
/* One turn of the loop: lease, log, due timers, soft state, then wait up to
 * timeout_ms for transfers (0: do not wait).  Manual mode only. */
void engine_step(struct engine *en, int timeout_ms);
/* Requests in flight (manual mode: keep stepping while it is not 0). */
size_t engine_pending(struct engine *en);
void engine_status(struct engine *en, struct engine_status *st);
/* DESTRUCTOR: stops the threads (a check in flight is abandoned; it runs
 * again after the next start), flushes soft state, releases the lease.
 * NULL is fine. */
void engine_free(struct engine *en);

/* For processes without an engine (`ambient mcp`): is one running on this
 * store, and what does it report?  *running is true while some engine holds
 * an unexpired lease; *status (may be NULL) gets its last published status
 * document (new reference, NULL when none). */
int engine_peek(struct store *s, bool *running, json_t **status, struct err *e);

#endif
