/*
 * engine_int.h - what the engine's own files share: engine.c (the loop,
 * timers, task table, log following, emitting, soft state) and monitors.c
 * (the four task types).  Not for use outside src/engine.
 *
 * Everything here is touched only by the engine's loop thread.
 */
#ifndef AMBIENT_ENGINE_ENGINE_INT_H
#define AMBIENT_ENGINE_ENGINE_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/timer_heap.h"
#include "domain/diff.h"
#include "domain/schedule.h"
#include "engine/engine.h"
#include "engine/fetch.h"

#define ENGINE_FAIL_MAX 600 /* bytes of a failure reason */

/* One URL a task fetches, with what the last fetch left behind.  The page
 * text lives in soft state (snapshots); memory keeps only its hash. */
struct url_state {
	char *url;
	char *etag;
	char *last_modified;
	char hash[DIFF_HASH_HEX_LEN + 1]; /* of the extracted text; "" before the first check */
	uint32_t snaps;                   /* snapshots written so far (ring index) */
};

/* A task the engine runs. */
struct runner {
	char id[64];
	char stream[80];
	int type;       /* enum task_type */
	unsigned shard; /* engine_shard_of(id): whose lease runs it */
	json_t *config; /* normalised config (owned) */
	char *description;
	char *user_id;
	int64_t version; /* stream version known to the engine */
	bool active;     /* not paused */
	bool has_sched;  /* sched is usable */
	struct schedule sched;
	int64_t jitter_us;
	int64_t created_us;   /* start of the schedule: creation or the last config change */
	int64_t due_us;       /* next slot (without jitter); 0 = none */
	struct timer_node timer; /* armed at due_us + jitter (or a retry) */
	int64_t last_slot_us; /* slot of the last scheduled run (durable timer) */
	int64_t last_check_us;
	int failures; /* consecutive failed checks */
	unsigned gen; /* bumped by pause/update/delete: stale fetch results are dropped */

	/* The check in progress. */
	bool in_check;
	int pending;       /* fetches still out */
	int64_t slot_us;   /* the slot it runs for; 0 for run_task_now */
	bool catch_up;     /* the plan of due_us: the catch-up run of policy once */
	int64_t missed;    /* and the runs it stands for */
	bool run_catch_up; /* the same, for the check in progress */
	int64_t run_missed;
	bool failed;
	char fail_reason[ENGINE_FAIL_MAX];
	const char *fail_kind; /* fetch_failure_name or "parse", "config" */
	char *fail_url;
	long fail_status;
	json_t *work; /* monitor's scratch for the check (digest sources), or NULL */
	bool unrecorded;       /* an event of this check could not be stored (the store was
				* unreachable): the slot is run again later */
	int64_t prev_slot_us;  /* last_slot_us before this check advanced it */
	int store_retries;     /* slots retried in a row for an unreachable store */

	struct url_state *urls;
	size_t nurls;
	json_t *mon; /* per-type soft state: {"metric":{...}, "seen":[...]} (owned) */
	bool dirty;  /* bookkeeping to write */
};

/* ---- services of engine.c for the monitors ---------------------------- */

/* Append one event of `type` to the task's stream.  `data` is borrowed; the
 * task's description, user_id, task_type and notification are added.  With
 * a slot (r->slot_us != 0) the event id is a function of (task, type, slot,
 * discriminator), so a slot run twice (a restart, another node, a retry) is
 * stored once.  Returns 0; ERR_STATE when the task was paused or deleted
 * meanwhile; another error when the store could not take it (the check is
 * then marked unrecorded and its slot runs again later).  Either way nothing
 * was written: a monitor keeps what it found (hashes, metric state) only
 * when this returns 0, so the retry finds it again. */
int engine_emit(struct engine *en, struct runner *r, const char *type, json_t *data,
		const char *discriminator);

/* For a monitor whose check records one event and nothing after it (a
 * plain schedule): while the loop starts the checks that came due
 * together, hand the event over instead of appending it now; the events of
 * all of them are then appended at once from several threads (one commit
 * for many) and each check closes when its event is stored.  Returns false
 * outside that moment: emit it with engine_emit.  `data` is borrowed. */
bool engine_emit_later(struct engine *en, struct runner *r, const char *type, json_t *data);

/* One part of the check failed: remember why (the first reason wins). */
void engine_check_fail(struct runner *r, const char *kind, const char *url, long status,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Submit a fetch for r.  The callback runs only while r still runs the
 * same check (a pause, update or delete drops the result); r->pending is
 * managed here.  trusted: an operator-configured URL (the price API), which
 * skips the SSRF guard. */
typedef void (*engine_fetch_fn)(struct engine *en, struct runner *r, size_t tag,
				struct fetch_result *res);
void engine_fetch(struct engine *en, struct runner *r, size_t tag, const char *url,
		  bool conditional, bool trusted, engine_fetch_fn cb);

/* Call after a monitor's start or a fetch callback: when no fetch is left,
 * the monitor's finish runs and the check is closed. */
void engine_check_maybe_done(struct engine *en, struct runner *r);

/* Soft state under "snap/<stream>/<url hash>/<i>" (page text snapshots). */
/* The last snapshot (*out NULL when there is none), or a store error: then
 * the check is marked unrecorded and runs again, rather than taking the
 * page for a new one. */
int engine_snapshot_load(struct engine *en, struct runner *r, size_t url_index, json_t **out);
void engine_snapshot_save(struct engine *en, struct runner *r, size_t url_index, const char *text,
			  int64_t at_us);
/* Write r's bookkeeping with the next flush, or at once (after an emit, so
 * a crash cannot record the same finding twice). */
void engine_save_now(struct engine *en, struct runner *r);

struct clock *engine_clock(struct engine *en);
const struct engine_options *engine_opts(struct engine *en);

/* ---- the monitors (monitors.c) ------------------------------------------ */

struct monitor_ops {
	/* Start a check: submit fetches (engine_fetch) or emit at once. */
	void (*start)(struct engine *en, struct runner *r);
	/* Every fetch came back (r->failed tells whether one failed): emit what
	 * the check found.  May be NULL. */
	void (*finish)(struct engine *en, struct runner *r);
};

/* By enum task_type. */
extern const struct monitor_ops *const monitor_table[];

/* The URLs a task of this type fetches, from its config (new array of
 * strings; empty for a plain schedule). */
json_t *monitor_urls(int type, const json_t *config, const struct engine_options *o);

#endif
