/*
 * engine.h - the task engine: runs every active background task.
 *
 * One engine per store does the work, whichever process it lives in: the
 * engine holds the lease "engine" in the store (renewed every third of its
 * time to live) and stands by while another process holds it.  While it
 * holds the lease it
 *  - loads the active tasks from the "tasks" projection and follows the log
 *    (appends of any process) so that new, paused, resumed, updated and
 *    deleted tasks and run_task_now requests take effect within a second;
 *  - keeps one timer per task in a min-heap on (due time, sequence); a due
 *    time is derived from the task's config and the last run recorded in
 *    soft state, so a restart resumes every schedule where it was (missed
 *    runs follow the task's missed_run_policy);
 *  - runs checks (fetches through a libcurl multi fetcher on the same
 *    thread), and appends what they find to the task's stream with the
 *    stream version it knows as the expected version, so an event from a
 *    check that raced with a pause or delete is never recorded.
 *
 * Threads: engine_start starts the loop thread and a watcher thread that
 * feeds log events to the loop.  engine_status may be called from any
 * thread.
 */
#ifndef AMBIENT_ENGINE_ENGINE_H
#define AMBIENT_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/err.h"
#include "store/store.h"

#define ENGINE_LEASE_NAME "engine"

struct engine;

struct engine_options {
	struct store *store;
	struct clock *clock;        /* NULL: the store's clock */
	const char *owner;          /* lease owner; NULL: "<host>:<pid>:<random>" */
	int lease_ttl_ms;           /* default 30000 */
	const char *allow_net;      /* --allow-net list (CIDRs, host names), may be NULL */
	const char *coingecko_url;  /* base URL of the price API; NULL: the public one */
	int snapshots_kept;         /* page snapshots kept per URL; default 5 */
	int max_failures;           /* consecutive failed checks before a task is paused;
				     * default 10 (a task's config "max_failures" wins) */
	int fetch_timeout_ms;       /* per transfer; default 30000 */
	long max_page_bytes;        /* default 2 MiB */
	int per_host_limit;         /* concurrent transfers per host; default 4 */
};

/* What the engine is doing, for get_event_sourcing_status and /health. */
struct engine_status {
	bool leader;       /* this engine holds the lease and runs tasks */
	long tasks;        /* tasks it runs */
	long in_flight;    /* checks in progress */
	long checks;       /* checks finished since start */
	long events;       /* events appended since start */
	char holder[128];  /* who holds the lease (maybe another process) */
};

/* CONSTRUCTOR.  Checks the options (a bad --allow-net entry is ERR_INVALID
 * naming it). */
int engine_new(const struct engine_options *opt, struct engine **out, struct err *e);
/* Start the threads. */
int engine_start(struct engine *en, struct err *e);
void engine_status(struct engine *en, struct engine_status *st);
/* DESTRUCTOR: stops the threads (a check in flight is abandoned; it runs
 * again after the next start), flushes soft state, releases the lease.
 * NULL is fine. */
void engine_free(struct engine *en);

#endif
