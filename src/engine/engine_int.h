/*
 * engine_int.h - what the engine's own files share (engine.c, the loop;
 * monitors.c, the four task types).  Not for use outside src/engine.
 *
 * Everything here is touched only by the engine's loop thread, except where
 * a comment says otherwise.
 */
#ifndef AMBIENT_ENGINE_ENGINE_INT_H
#define AMBIENT_ENGINE_ENGINE_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "domain/schedule.h"
#include "engine/engine.h"
#include "engine/fetch.h"

/* One URL a task fetches, with what the last fetch left behind.  The page
 * text itself lives in soft state; memory keeps only its hash. */
struct url_state {
	char *url;
	char *etag;
	char *last_modified;
	uint64_t hash;  /* of the extracted text; 0 before the first check */
	bool fetching;
};

/* A task the engine runs. */
struct runner {
	char id[72];
	char stream[96];
	int type;            /* enum task_type */
	json_t *config;      /* normalised config (owned) */
	char *description;
	char *user_id;
	int64_t version;     /* stream version known to the engine */
	bool active;         /* not paused */
	struct schedule *sched;
	int64_t due_us;      /* next check (wall clock), 0 = not scheduled */
	size_t heap_i;       /* index in the heap, or SIZE_MAX */
	uint64_t seq;        /* tie-break for equal due times */
	int64_t last_run_us; /* last check started (soft state) */
	int64_t slot_us;     /* due time the current check runs for */
	int failures;        /* consecutive failed checks */
	unsigned gen;        /* bumped by pause/update/delete: stale results are dropped */
	int pending;         /* fetches of the current check still running */
	bool check_failed;   /* one of them failed */
	char fail_reason[512];
	struct url_state *urls;
	size_t nurls;
	json_t *mon;         /* per-type soft state (threshold arm, digest keys, ...) */
	bool dirty;          /* soft state to flush */
};

/* Per-type behaviour: start a check; the fetch callbacks finish it. */
struct monitor_ops {
	int type;
	/* Start a check of r (r->pending counts the fetches it submitted).
	 * Returns 0, or non-zero when the check ended at once (no fetch). */
	void (*start)(struct engine *en, struct runner *r);
};

extern const struct monitor_ops monitor_table[];
extern const size_t monitor_count;

/* ---- services of engine.c for the monitors ---------------------------- */

/* Append one event of `type` to the task's stream.  data is borrowed; the
 * task's description, user_id and notification config are added.  slot
 * (when non-zero) makes the event id a function of (task, type, slot), so a
 * repeated run of the same slot is refused as a duplicate.  Returns 0, or
 * ERR_STATE when the task changed meanwhile (paused, deleted): nothing was
 * written. */
int engine_emit(struct engine *en, struct runner *r, const char *type, json_t *data,
		int64_t slot_us);

/* The check of r ended (all its fetches came back).  ok=false: record
 * task_check_failed with reason, back off, and pause the task after too
 * many failures in a row. */
void engine_check_done(struct engine *en, struct runner *r, bool ok, const char *reason);

/* Submit a fetch for r; the callback gets `r` back only when the task is
 * still running the same check (else the result is dropped). */
typedef void (*engine_fetch_fn)(struct engine *en, struct runner *r, size_t url_index,
				const struct fetch_result *res);
int engine_fetch(struct engine *en, struct runner *r, size_t url_index, const char *url,
		 bool conditional, engine_fetch_fn cb);

/* Soft state of a task under "task-<id>/<suffix>"; put is batched. */
json_t *engine_soft_load(struct engine *en, struct runner *r, const char *suffix);
void engine_soft_save(struct engine *en, struct runner *r, const char *suffix, json_t *doc);

struct clock *engine_clock(struct engine *en);
const struct engine_options *engine_opts(struct engine *en);

/* 64-bit FNV-1a, for content hashes kept in memory. */
uint64_t engine_hash(const char *s, size_t n);

#endif
