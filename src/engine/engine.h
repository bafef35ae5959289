/*
 * engine.h - the task engine: runs every active background task.
 *
 * Any number of engines (one per `ambient serve` node) share the tasks of
 * one store.  Tasks are hashed into ENGINE_SHARDS shards; an engine runs the
 * tasks of the shards whose leases it holds (engine/shard/NN).  Each engine
 * also holds a node lease (engine/node/<owner>), so every engine knows how
 * many are alive and claims its fair share, ceil(shards / engines), every
 * few seconds in one store_lease_claim: it renews what it keeps, gives up
 * what is over its share (a new node gets shards this way) and takes free
 * or expired shards.  A node that dies stops renewing; within the lease's
 * time to live (default 30 s) its shards are free and the others take them,
 * loading each task's bookkeeping from soft state.  A scheduled slot fires
 * at most once across the cluster: its events have ids derived from (task,
 * slot), so a second node re-running the slot appends nothing.  Every
 * engine
 *  - loads every task from the "tasks" projection and follows the log
 *    (appends of any process), so new, paused, resumed, updated and deleted
 *    tasks and run_task_now requests take effect within a second, and a
 *    shard it takes over starts at once;
 *  - keeps one timer per task it runs in a min-heap on (due time, sequence); a due
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
 *   engine/status/<owner>       what each engine is doing
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

#define ENGINE_NODE_LEASE_PREFIX "engine/node/"   /* + owner: a live engine */
#define ENGINE_SHARD_LEASE_PREFIX "engine/shard/" /* + 00..63: who runs those tasks */
#define ENGINE_STATUS_PREFIX "engine/status/"     /* + owner: its last status */
#define ENGINE_SHARDS 64
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
	bool leader;                    /* this engine holds at least one shard */
	int shards;                     /* shards it holds (of ENGINE_SHARDS) */
	int nodes;                      /* live engines on the store, itself included */
	long tasks;                     /* tasks it runs (active and paused) */
	long active;                    /* of which active */
	long in_flight;                 /* checks in progress */
	long checks;                    /* checks finished since start */
	long failures;                  /* of which failed */
	long events;                    /* events appended since start */
	long fetches;                   /* transfers completed */
	int64_t lag_p50_us, lag_p99_us; /* start minus due time, recent checks */
	char holder[128];               /* this engine's owner name */
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

/* Engines alive on the store (unexpired node leases), counting `owner` (may
 * be NULL) as alive too; -1 with e set when the store cannot tell. */
int engine_live_nodes(struct store *s, const char *owner, struct err *e);

/* The shard (0..ENGINE_SHARDS-1) of a task id. */
unsigned engine_shard_of(const char *task_id);

/* For processes without an engine (`ambient mcp`, other nodes): do engines
 * run on this store, and what do they report?  *running is true while some
 * engine holds an unexpired node lease; *status (may be NULL) gets a new
 * object summing their last published status documents: {"nodes": N,
 * "holder": one owner, "tasks", "active", "in_flight", "checks", "failures",
 * "events": sums, "engines": [each document]} (NULL when none running). */
int engine_peek(struct store *s, bool *running, json_t **status, struct err *e);

#endif
