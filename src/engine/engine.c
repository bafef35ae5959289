/*
 * engine.c - the engine's loop: lease, task table, timers, log following,
 * emitting events, soft state.  The per-type checks are in monitors.c.
 *
 * One turn of the loop (engine_step):
 *   1. every few seconds: renew the node lease and claim this engine's share
 *      of the shard leases; stop the tasks of shards lost, start those won;
 *   2. read the log after the last position seen: lifecycle events of any
 *      process (and our own appends, which only advance versions);
 *   3. start the checks whose time has come;
 *   4. publish the status and flush soft state, at most once a second, in
 *      one batched transaction;
 *   5. wait in the fetcher until a transfer finishes, the next timer is due
 *      or the watcher says the log grew.
 */
#define _GNU_SOURCE
#include "engine/engine_int.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/json.h"
#include "common/log.h"
#include "common/samples.h"
#include "common/timer_heap.h"
#include "common/tz.h"
#include "common/uuid.h"
#include "common/xalloc.h"
#include "domain/task.h"

#define FLUSH_EVERY_US 1000000
#define STATUS_EVERY_US 2000000
#define STATUS_LIVE_MAX 10000 /* tables up to this size publish their status every turn */
#define LOG_POLL_US 1000000   /* read the log at least this often, woken or not */
#define IDLE_WAIT_MS 1000
#define STORE_RETRY_BASE_MS 2000 /* first retry of a slot the store could not record */
#define LATER_THREADS 16          /* appenders of the events of checks due together */
#define LOG_BATCH 1000
#define SNAP_KEY_MAX 256

/* An event a check handed over while the due checks were being started
 * (engine_emit_later), appended with the others after the loop. */
struct later {
	struct runner *r;
	struct store_new_event ev;
	json_t *data, *meta;
	int rc;
};

struct engine {
	struct engine_options opt;
	char owner[128];
	char *price_api;
	struct store *store;
	struct clock *clock;
	struct fetcher *fetcher;
	struct netguard *guard;

	pthread_t loop_thread, watch_thread;
	bool started;
	atomic_bool stop;
	atomic_bool log_grew; /* set by the watcher */

	/* engine_emit_later, while the due checks start (loop thread only) */
	bool deferring;
	struct later *later;
	size_t nlater, later_cap;

	/* loop state */
	bool leader;               /* holds at least one shard */
	bool owned[ENGINE_SHARDS]; /* the shards whose tasks this engine runs */
	int nowned, nodes;
	bool loaded;             /* the task table was built */
	bool claimed_once;       /* the first claim after loading was made */
	int64_t lease_next_us;   /* monotonic */
	int64_t log_pos;         /* last global position applied */
	int64_t log_read_us;     /* monotonic time of the last read */
	struct runner **runners; /* sorted by id (bsearch) */
	size_t nrunners, cap;
	struct timer_heap timers; /* one timer per runner with a next run */
	int64_t flush_us, status_us;
	json_t *soft_pending;   /* key -> doc (null: delete) */
	struct fetch_ctx *ctxs; /* fetches in flight */
	struct samples lags;    /* start minus due time of recent runs */

	/* status, read by other threads */
	pthread_mutex_t slock;
	struct engine_status st;
};

/* ---- small things ------------------------------------------------------- */

struct clock *engine_clock(struct engine *en)
{
	return en->clock;
}

const struct engine_options *engine_opts(struct engine *en)
{
	return &en->opt;
}

static int64_t now_us(struct engine *en)
{
	return clock_wall_us(en->clock);
}

static void count(struct engine *en, long *field, long n)
{
	pthread_mutex_lock(&en->slock);
	*field += n;
	pthread_mutex_unlock(&en->slock);
}

/* A store error that passes (the database is down, busy, full, or others
 * kept writing): worth running the slot again.  Others (a corrupt row, an
 * event the store refuses) would fail the same way every time. */
static bool store_error_passes(int rc)
{
	return rc == ERR_IO || rc == ERR_BUSY || rc == ERR_TIMEOUT || rc == ERR_FULL ||
	       rc == ERR_CONFLICT;
}

static void status_publish(struct engine *en, bool write)
{
	long in_flight = 0, active = 0, tasks = 0;
	for (size_t i = 0; i < en->nrunners; i++) {
		const struct runner *r = en->runners[i];
		if (!en->owned[r->shard])
			continue;
		tasks++;
		in_flight += r->in_check;
		active += r->active;
	}
	int64_t p50 = en->st.lag_p50_us, p99 = en->st.lag_p99_us;
	if (write) /* sorting the ring is the costly part: every 2 s only */
		samples_percentiles(&en->lags, &p50, &p99);
	struct fetch_stats fs;
	fetcher_stats(en->fetcher, &fs);
	pthread_mutex_lock(&en->slock);
	en->st.leader = en->leader;
	en->st.shards = en->nowned;
	en->st.nodes = en->nodes;
	en->st.tasks = tasks;
	en->st.active = active;
	en->st.in_flight = in_flight;
	en->st.fetches = (long)fs.completed;
	en->st.lag_p50_us = p50;
	en->st.lag_p99_us = p99;
	struct engine_status st = en->st;
	pthread_mutex_unlock(&en->slock);
	if (!write || !en->leader)
		return;
	char at[CLOCK_ISO_MAX];
	clock_format_utc(now_us(en), at);
	json_t *doc = json_pack("{s:s,s:i,s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:f,s:f}", "owner",
				en->owner, "pid", (int)getpid(), "at", at, "shards", st.shards,
				"tasks", (int)st.tasks, "active", (int)st.active, "in_flight",
				(int)st.in_flight, "checks", (int)st.checks, "failures",
				(int)st.failures, "events", (int)st.events, "fetches",
				(int)st.fetches, "lag_p50_ms", (double)st.lag_p50_us / 1000.0,
				"lag_p99_ms", (double)st.lag_p99_us / 1000.0);
	char key[SNAP_KEY_MAX];
	snprintf(key, sizeof(key), ENGINE_STATUS_PREFIX "%s", en->owner);
	json_object_set_new(en->soft_pending, key, doc);
}

void engine_status(struct engine *en, struct engine_status *st)
{
	pthread_mutex_lock(&en->slock);
	*st = en->st;
	pthread_mutex_unlock(&en->slock);
}

/* ---- timers ------------------------------------------------------------------ */

static struct runner *first_timer(struct engine *en)
{
	struct timer_node *t = timer_heap_first(&en->timers);
	return t ? timer_heap_entry(t, struct runner, timer) : NULL;
}

/* Arm r's timer to fire at `fire_us` for slot `due_us` (due_us 0: disarm). */
static void timer_set(struct engine *en, struct runner *r, int64_t due_us, int64_t fire_us)
{
	r->due_us = due_us;
	if (due_us && en->owned[r->shard])
		timer_heap_arm(&en->timers, &r->timer, fire_us);
	else
		timer_heap_disarm(&en->timers, &r->timer);
}

/* Plan r's next slot from its last one (the durable-timer rule of
 * schedule_first_due) and put it on the heap; paused tasks get none. */
static void plan_next(struct engine *en, struct runner *r)
{
	if (!r->active || !r->has_sched) {
		timer_set(en, r, 0, 0);
		return;
	}
	struct schedule_plan plan;
	struct err e = {0};
	int rc = schedule_first_due(&r->sched, r->created_us, r->last_slot_us, now_us(en), &plan,
				    &e);
	if (rc != ERR_OK) {
		log_debug("engine: task %s has nothing left to run: %s", r->id, err_msg(&e));
		timer_set(en, r, 0, 0);
		return;
	}
	r->catch_up = plan.catch_up;
	r->missed = plan.missed;
	if (plan.missed)
		log_info("engine: task %s missed %lld run(s) while no engine ran it; %s", r->id,
			 (long long)plan.missed,
			 plan.catch_up ? "one catch-up run now" : "skipped");
	timer_set(en, r, plan.due_us, plan.due_us + r->jitter_us);
}

/* ---- the task table --------------------------------------------------------- */

static int runner_cmp(const void *key, const void *elem)
{
	return strcmp((const char *)key, (*(struct runner *const *)elem)->id);
}

static int runner_sort_cmp(const void *a, const void *b)
{
	return strcmp((*(struct runner *const *)a)->id, (*(struct runner *const *)b)->id);
}

static struct runner *find_runner(struct engine *en, const char *id)
{
	if (!en->nrunners)
		return NULL;
	struct runner **p =
		bsearch(id, en->runners, en->nrunners, sizeof(*en->runners), runner_cmp);
	return p ? *p : NULL;
}

static void urls_free(struct runner *r)
{
	for (size_t i = 0; i < r->nurls; i++) {
		free(r->urls[i].url);
		free(r->urls[i].etag);
		free(r->urls[i].last_modified);
	}
	free(r->urls);
	r->urls = NULL;
	r->nurls = 0;
}

static void check_reset(struct runner *r)
{
	r->in_check = false;
	r->pending = 0;
	r->failed = false;
	r->fail_reason[0] = 0;
	r->fail_kind = NULL;
	free(r->fail_url);
	r->fail_url = NULL;
	r->fail_status = 0;
	json_decref(r->work);
	r->work = NULL;
}

static void runner_free(struct runner *r)
{
	if (!r)
		return;
	check_reset(r);
	json_decref(r->config);
	free(r->description);
	free(r->user_id);
	urls_free(r);
	json_decref(r->mon);
	free(r);
}

static void remove_runner(struct engine *en, struct runner *r)
{
	timer_heap_disarm(&en->timers, &r->timer);
	struct runner **p =
		bsearch(r->id, en->runners, en->nrunners, sizeof(*en->runners), runner_cmp);
	if (p) {
		size_t i = (size_t)(p - en->runners);
		memmove(en->runners + i, en->runners + i + 1,
			(en->nrunners - i - 1) * sizeof(*en->runners));
		en->nrunners--;
	}
	runner_free(r);
}

static void drop_all(struct engine *en)
{
	while (en->nrunners)
		remove_runner(en, en->runners[en->nrunners - 1]);
}

static void bookkeeping_key(const struct runner *r, char *out, size_t size)
{
	snprintf(out, size, "engine/%s", r->stream);
}

/* Apply the bookkeeping document of a task (soft state) to r. */
static void runner_load_soft(struct runner *r, const json_t *soft)
{
	if (!soft)
		return;
	for (size_t i = 0; i < r->nurls; i++) { /* what another owner learnt wins */
		free(r->urls[i].etag);
		free(r->urls[i].last_modified);
		r->urls[i].etag = r->urls[i].last_modified = NULL;
	}
	r->last_slot_us = json_get_int(soft, "last_slot_us", 0);
	r->last_check_us = json_get_int(soft, "last_check_us", 0);
	r->failures = (int)json_get_int(soft, "failures", 0);
	json_t *mon = json_object_get(soft, "monitor");
	if (json_is_object(mon)) {
		json_decref(r->mon);
		r->mon = json_deep_copy(mon);
	}
	json_t *urls = json_object_get(soft, "urls");
	for (size_t i = 0; i < r->nurls; i++) {
		json_t *u = json_object_get(urls, r->urls[i].url);
		if (!json_is_object(u))
			continue;
		const char *etag = json_get_str(u, "etag");
		const char *lm = json_get_str(u, "last_modified");
		const char *h = json_get_str(u, "hash");
		r->urls[i].etag = etag ? xstrdup(etag) : NULL;
		r->urls[i].last_modified = lm ? xstrdup(lm) : NULL;
		if (h && strlen(h) == DIFF_HASH_HEX_LEN)
			memcpy(r->urls[i].hash, h, DIFF_HASH_HEX_LEN + 1);
		r->urls[i].snaps = (uint32_t)json_get_int(u, "snaps", 0);
	}
}

/* The slot of the last scheduled run recorded in the task's events (the
 * slot_us of the engine's metadata), for when soft state is gone. */
static int64_t last_slot_from_log(struct engine *en, const char *stream)
{
	struct store_event_list l = {0};
	struct err e = {0};
	int64_t slot = 0;
	if (store_read_stream(en->store, stream, 0, true, 50, &l, &e) == ERR_OK) {
		for (size_t i = 0; i < l.count && !slot; i++)
			slot = json_get_int(l.items[i].metadata, "slot_us", 0);
	}
	store_event_list_cleanup(&l);
	free(l.items);
	return slot;
}

/* Build a runner from a task state document; NULL when the state is not a
 * runnable task (deleted, unknown type).  `soft` is its bookkeeping (may be
 * NULL: read from the store). */
static struct runner *runner_from_state(struct engine *en, const json_t *state, const json_t *soft)
{
	const char *id = json_get_str(state, "task_id");
	const char *type = json_get_str(state, "task_type");
	int t;
	if (!id || !type || strlen(id) >= 58 || task_state_is_deleted(state) ||
	    task_type_parse(type, &t, NULL) != ERR_OK)
		return NULL;
	struct runner *r = xcalloc(1, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->shard = engine_shard_of(id);
	task_stream_name(id, r->stream, sizeof(r->stream));
	r->type = t;
	json_t *cfg = json_object_get(state, "config");
	r->config = json_is_object(cfg) ? json_deep_copy(cfg) : json_object();
	r->description = xstrdup(json_get_str(state, "description") ?: "");
	r->user_id = xstrdup(json_get_str(state, "user_id") ?: "default");
	r->version = json_get_int(state, "version", 0);
	const char *status = task_state_status(state);
	r->active = status && strcmp(status, "active") == 0;
	timer_node_init(&r->timer);
	r->mon = json_object();
	const char *since = json_get_str(state, "config_since");
	if (!since)
		since = json_get_str(state, "created_at");
	if (!since || clock_parse_iso(since, &r->created_us) != 0)
		r->created_us = now_us(en);

	struct err e = {0};
	const struct tz *zone = NULL;
	if (tz_load(schedule_zone_name(r->config), &zone, &e) != ERR_OK) {
		log_warn("engine: task %s: %s; using UTC", r->id, err_msg(&e));
		zone = tz_utc();
	}
	if (schedule_from_config(r->type, r->config, zone, &r->sched, &e) == ERR_OK) {
		r->has_sched = true;
		r->jitter_us = schedule_jitter_us(&r->sched, r->id);
	} else {
		log_warn("engine: task %s cannot be scheduled: %s", r->id, err_msg(&e));
	}

	json_t *urls = monitor_urls(r->type, r->config, &en->opt);
	r->nurls = json_array_size(urls);
	r->urls = xcalloc(r->nurls ? r->nurls : 1, sizeof(*r->urls));
	for (size_t i = 0; i < r->nurls; i++)
		r->urls[i].url = xstrdup(json_string_value(json_array_get(urls, i)) ?: "");
	json_decref(urls);

	json_t *own = NULL;
	if (!soft) {
		char key[SNAP_KEY_MAX];
		bookkeeping_key(r, key, sizeof(key));
		json_t *p = json_object_get(en->soft_pending, key);
		if (p)
			own = json_is_null(p) ? NULL : json_incref(p);
		else if (store_soft_get(en->store, key, &own, &e) != ERR_OK)
			own = NULL;
		soft = own;
	}
	runner_load_soft(r, soft);
	json_decref(own);
	if (!soft && r->type == TASK_SCHEDULE)
		r->last_slot_us = last_slot_from_log(en, r->stream);
	return r;
}

static void add_runner(struct engine *en, struct runner *r)
{
	size_t lo = 0, hi = en->nrunners;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(en->runners[mid]->id, r->id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (en->nrunners == en->cap) {
		en->cap = en->cap ? en->cap * 2 : 64;
		en->runners = xrealloc(en->runners, en->cap * sizeof(*en->runners));
	}
	memmove(en->runners + lo + 1, en->runners + lo, (en->nrunners - lo) * sizeof(*en->runners));
	en->runners[lo] = r;
	en->nrunners++;
	plan_next(en, r);
}

/* ---- soft state --------------------------------------------------------------- */

static void soft_key_url(const struct runner *r, size_t i, char *out, size_t size)
{
	char h[DIFF_HASH_HEX_LEN + 1];
	const char *u = r->urls[i].url;
	diff_hash(u, strlen(u), h);
	snprintf(out, size, "snap/%s/%.16s", r->stream, h);
}

int engine_snapshot_load(struct engine *en, struct runner *r, size_t i, json_t **out)
{
	*out = NULL;
	if (i >= r->nurls || r->urls[i].snaps == 0)
		return ERR_OK;
	char base[SNAP_KEY_MAX], key[SNAP_KEY_MAX + 16];
	soft_key_url(r, i, base, sizeof(base));
	unsigned n = (unsigned)en->opt.snapshots_kept;
	snprintf(key, sizeof(key), "%s/%u", base, (r->urls[i].snaps - 1) % n);
	json_t *p = json_object_get(en->soft_pending, key);
	if (p) {
		*out = json_is_null(p) ? NULL : json_incref(p);
		return ERR_OK;
	}
	struct err e = {0};
	int rc = store_soft_get(en->store, key, out, &e);
	if (rc == ERR_NOT_FOUND)
		return ERR_OK; /* lost bookkeeping: the page is new again */
	if (rc != ERR_OK) {
		log_warn("engine: task %s: cannot read the last snapshot of %s: %s", r->id,
			 r->urls[i].url, err_msg(&e));
		if (!store_error_passes(rc))
			return ERR_OK; /* unreadable for good: the page is new again */
		r->unrecorded = true; /* compare it later, not against nothing */
	}
	return rc;
}

void engine_snapshot_save(struct engine *en, struct runner *r, size_t i, const char *text,
			  int64_t at_us)
{
	if (i >= r->nurls)
		return;
	char base[SNAP_KEY_MAX], key[SNAP_KEY_MAX + 16], at[CLOCK_ISO_MAX];
	soft_key_url(r, i, base, sizeof(base));
	unsigned n = (unsigned)en->opt.snapshots_kept;
	snprintf(key, sizeof(key), "%s/%u", base, r->urls[i].snaps % n);
	clock_format_utc(at_us, at);
	json_object_set_new(en->soft_pending, key,
			    json_pack("{s:s,s:s,s:s,s:o}", "url", r->urls[i].url, "at", at, "hash",
				      r->urls[i].hash, "text", json_string_lossy(text)));
	r->urls[i].snaps++;
	r->dirty = true;
}

/* r's bookkeeping into the pending batch. */
static void save_runner(struct engine *en, struct runner *r)
{
	json_t *urls = json_object();
	for (size_t i = 0; i < r->nurls; i++) {
		json_t *u = json_object();
		if (r->urls[i].etag)
			json_object_set_new(u, "etag", json_string_lossy(r->urls[i].etag));
		if (r->urls[i].last_modified)
			json_object_set_new(u, "last_modified",
					    json_string_lossy(r->urls[i].last_modified));
		if (r->urls[i].hash[0])
			json_object_set_new(u, "hash", json_string(r->urls[i].hash));
		json_object_set_new(u, "snaps", json_integer(r->urls[i].snaps));
		json_object_set_new(urls, r->urls[i].url, u);
	}
	char at[CLOCK_ISO_MAX] = "";
	if (r->last_check_us)
		clock_format_utc(r->last_check_us, at);
	/* A slot counts as run only once its check is over: while it is in
	 * flight, another node that takes the task over (this one died, or
	 * its lease ran out during a store outage) must still run it. */
	int64_t done_slot = r->in_check && r->slot_us ? r->prev_slot_us : r->last_slot_us;
	json_t *doc = json_pack("{s:I,s:I,s:s?,s:i,s:O,s:o}", "last_slot_us",
				(json_int_t)done_slot, "last_check_us",
				(json_int_t)r->last_check_us, "last_check", at[0] ? at : NULL,
				"failures", r->failures, "monitor", r->mon, "urls", urls);
	char key[SNAP_KEY_MAX];
	bookkeeping_key(r, key, sizeof(key));
	json_object_set_new(en->soft_pending, key, doc);
	r->dirty = false;
}

/* Write the pending batch; with `all`, first the bookkeeping of every
 * runner that changed (a walk over the whole table: the periodic flush). */
static void flush_soft_ex(struct engine *en, bool all)
{
	for (size_t i = 0; all && i < en->nrunners; i++)
		if (en->runners[i]->dirty && en->owned[en->runners[i]->shard])
			save_runner(en, en->runners[i]);
	size_t n = json_object_size(en->soft_pending);
	if (!n)
		return;
	struct store_soft_item *items = xcalloc(n, sizeof(*items));
	size_t k = 0;
	const char *key;
	json_t *doc;
	json_object_foreach(en->soft_pending, key, doc) {
		items[k].key = key;
		items[k].doc = json_is_null(doc) ? NULL : doc;
		k++;
	}
	struct err e = {0};
	if (store_soft_put(en->store, items, k, &e) != ERR_OK)
		log_warn("engine: cannot save check bookkeeping (%s); kept for the next try",
			 err_msg(&e));
	else
		json_object_clear(en->soft_pending);
	free(items);
}

static void flush_soft(struct engine *en)
{
	flush_soft_ex(en, true);
}

void engine_save_now(struct engine *en, struct runner *r)
{
	save_runner(en, r);
	flush_soft_ex(en, false); /* this task's documents (and what else is pending) */
}

/* Forget every soft document of a deleted task. */
static void soft_forget(struct engine *en, struct runner *r)
{
	char key[SNAP_KEY_MAX], base[SNAP_KEY_MAX], k2[SNAP_KEY_MAX + 16];
	bookkeeping_key(r, key, sizeof(key));
	json_object_set_new(en->soft_pending, key, json_null());
	for (size_t i = 0; i < r->nurls; i++) {
		soft_key_url(r, i, base, sizeof(base));
		for (int j = 0; j < en->opt.snapshots_kept; j++) {
			snprintf(k2, sizeof(k2), "%s/%d", base, j);
			json_object_set_new(en->soft_pending, k2, json_null());
		}
	}
}

/* ---- emitting events ---------------------------------------------------------- */

/* A UUID (version 8, RFC 9562) that is a function of its inputs, so one
 * slot of one task gets the same event id on every run and every node. */
static void slot_event_id(const char *task_id, const char *type, int64_t slot_us, const char *disc,
			  char out[UUID_STR_LEN + 1])
{
	char *in = xasprintf("%s|%s|%lld|%s", task_id, type, (long long)slot_us, disc ? disc : "");
	char hex[DIFF_HASH_HEX_LEN + 1];
	diff_hash(in, strlen(in), hex);
	free(in);
	/* 32 hex digits of the hash; version 8 and the RFC 9562 variant. */
	hex[12] = '8';
	static const char variant[] = "89ab";
	char *end;
	char one[2] = {hex[16], 0};
	hex[16] = variant[strtoul(one, &end, 16) & 3];
	snprintf(out, UUID_STR_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
		 hex + 16, hex + 20);
}

/* Fold a task's stream into *state (NULL when it has none or it does not
 * fold), or a store error that passes (logged; one that will not pass
 * counts as no state). */
static int fold_stream(struct engine *en, const char *stream, json_t **out)
{
	struct err e = {0};
	int rc = task_load_stream(en->store, stream, out, NULL, &e);
	if (rc != ERR_OK) {
		log_warn("engine: cannot read %s: %s", stream, err_msg(&e));
		if (!store_error_passes(rc))
			rc = ERR_OK;
	}
	return rc;
}

/* Append one event as the engine, with r->version as the expected version;
 * on a conflict re-read the task and retry only while it is still active. */
static int append_checked(struct engine *en, struct runner *r, struct store_new_event *ev)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		struct store_append_result res;
		struct err e = {0};
		int rc = store_append(en->store, r->stream, r->version, ev, 1, &res, &e);
		if (rc == ERR_OK) {
			if (res.duplicate)
				log_info("engine: %s of task %s for this slot was already recorded",
					 ev->type, r->id);
			else
				count(en, &en->st.events, 1);
			if (res.version > r->version)
				r->version = res.version;
			return ERR_OK;
		}
		if (rc != ERR_CONFLICT) {
			log_warn("engine: cannot record %s for task %s: %s", ev->type, r->id,
				 err_msg(&e));
			return rc;
		}
		/* Someone wrote to the task meanwhile (a pause, a delivery
		 * outcome, another node): may it still record? */
		json_t *state = NULL;
		if ((rc = fold_stream(en, r->stream, &state)) != ERR_OK)
			return rc; /* the store is away: the check is run again */
		const char *status = state ? task_state_status(state) : NULL;
		bool live = status && strcmp(status, "active") == 0;
		if (state)
			r->version = json_get_int(state, "version", r->version);
		json_decref(state);
		if (!live) {
			log_info("engine: task %s was paused or deleted during its check; %s "
				 "dropped",
				 r->id, ev->type);
			return ERR_STATE;
		}
	}
	return ERR_CONFLICT;
}

static json_t *engine_metadata(struct engine *en, const struct runner *r)
{
	json_t *m = json_pack("{s:s,s:s}", "principal", "engine", "engine", en->owner);
	if (r->slot_us)
		json_object_set_new(m, "slot_us", json_integer(r->slot_us));
	return m;
}

/* The event engine_emit records: data plus the task's fields, the engine's
 * metadata, the slot's id. */
static void event_of(struct engine *en, struct runner *r, const char *type, json_t *data,
		     const char *disc, struct store_new_event *ev, json_t **d, json_t **meta)
{
	*d = json_deep_copy(data);
	json_object_set_new(*d, "description", json_string(r->description));
	json_object_set_new(*d, "user_id", json_string(r->user_id));
	json_object_set_new(*d, "task_type", json_string(task_type_name(r->type)));
	json_t *notification = json_object_get(r->config, "notification");
	if (notification && !json_object_get(*d, "notification"))
		json_object_set(*d, "notification", notification);
	*meta = engine_metadata(en, r);
	*ev = (struct store_new_event){.event_id = "", .type = type, .data = *d, .metadata = *meta};
	if (r->slot_us)
		slot_event_id(r->id, type, r->slot_us, disc, ev->event_id);
}

bool engine_emit_later(struct engine *en, struct runner *r, const char *type, json_t *data)
{
	if (!en->deferring)
		return false;
	if (en->nlater == en->later_cap) {
		en->later_cap = en->later_cap ? 2 * en->later_cap : 64;
		en->later = xrealloc(en->later, en->later_cap * sizeof(*en->later));
	}
	struct later *l = &en->later[en->nlater++];
	l->r = r;
	event_of(en, r, type, data, NULL, &l->ev, &l->data, &l->meta);
	l->rc = ERR_OK;
	r->pending++; /* the check closes when the event is stored */
	return true;
}

struct later_slice {
	struct engine *en;
	size_t first, step;
};

static void *later_main(void *arg)
{
	struct later_slice *sl = arg;
	for (size_t i = sl->first; i < sl->en->nlater; i += sl->step) {
		struct later *l = &sl->en->later[i];
		l->rc = append_checked(sl->en, l->r, &l->ev);
	}
	return NULL;
}

/* Append the events handed over by the checks that came due together,
 * from up to LATER_THREADS threads at once, so the store's group commit
 * puts many in one transaction (a serial append per check made the engine
 * wait for one commit per check); then close those checks.  Each runner
 * has one event here at most, and only its own thread touches it. */
static void flush_later(struct engine *en)
{
	size_t n = en->nlater;
	if (!n)
		return;
	size_t nthreads = n < LATER_THREADS ? n : LATER_THREADS;
	pthread_t tid[LATER_THREADS];
	struct later_slice sl[LATER_THREADS];
	size_t started = 0;
	for (size_t t = 1; t < nthreads; t++) {
		sl[t] = (struct later_slice){en, t, nthreads};
		if (pthread_create(&tid[t], NULL, later_main, &sl[t]) != 0)
			break;
		started = t;
	}
	/* this thread takes slice 0 and whatever slices found no thread */
	for (size_t t = started + 1; t < nthreads; t++)
		later_main(&(struct later_slice){en, t, nthreads});
	later_main(&(struct later_slice){en, 0, nthreads});
	for (size_t t = 1; t <= started; t++)
		pthread_join(tid[t], NULL);
	en->nlater = 0;
	for (size_t i = 0; i < n; i++) {
		struct later *l = &en->later[i];
		json_decref(l->data);
		json_decref(l->meta);
		struct runner *r = l->r;
		if (store_error_passes(l->rc))
			r->unrecorded = true;
		r->pending--;
		engine_check_maybe_done(en, r);
	}
}

int engine_emit(struct engine *en, struct runner *r, const char *type, json_t *data,
		const char *disc)
{
	struct store_new_event ev;
	json_t *d, *meta;
	event_of(en, r, type, data, disc, &ev, &d, &meta);
	int rc = append_checked(en, r, &ev);
	if (store_error_passes(rc))
		r->unrecorded = true;
	json_decref(d);
	json_decref(meta);
	return rc;
}

void engine_check_fail(struct runner *r, const char *kind, const char *url, long status,
		       const char *fmt, ...)
{
	if (r->failed)
		return;
	r->failed = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->fail_reason, sizeof(r->fail_reason), fmt, ap);
	va_end(ap);
	r->fail_kind = kind;
	r->fail_url = url ? xstrdup(url) : NULL;
	r->fail_status = status;
}

/* ---- checks ------------------------------------------------------------------------ */

static void record_lag(struct engine *en, int64_t lag)
{
	samples_add(&en->lags, lag);
}

/* Start a check of r for `slot_us` (0: run_task_now, outside the schedule). */
static void start_check(struct engine *en, struct runner *r, int64_t slot_us)
{
	const struct monitor_ops *m = monitor_table[r->type];
	int64_t now = now_us(en);
	check_reset(r);
	r->in_check = true;
	r->slot_us = slot_us;
	r->last_check_us = now;
	r->dirty = true;
	r->run_catch_up = slot_us && r->catch_up;
	r->run_missed = slot_us ? r->missed : 0;
	r->unrecorded = false;
	r->prev_slot_us = r->last_slot_us;
	if (slot_us) {
		record_lag(en, now - r->timer.due_us);
		r->last_slot_us = slot_us;
		/* The next slot counts from this one, so a slow check does not
		 * shift the schedule. */
		plan_next(en, r);
	}
	m->start(en, r);
	engine_check_maybe_done(en, r);
}

static void auto_pause(struct engine *en, struct runner *r, int max)
{
	char why[ENGINE_FAIL_MAX + 100];
	snprintf(why, sizeof(why), "paused after %d failed checks in a row; the last: %s",
		 r->failures, r->fail_reason);
	json_t *p = json_pack("{s:s,s:s,s:b}", "task_id", r->id, "reason", why, "automatic", 1);
	json_t *meta = engine_metadata(en, r);
	struct store_new_event ev = {
		.event_id = "", .type = TASK_EV_PAUSED, .data = p, .metadata = meta};
	if (append_checked(en, r, &ev) == ERR_OK) {
		log_warn("engine: task %s %s", r->id, why);
		r->active = false;
		r->gen++;
		timer_set(en, r, 0, 0);
	}
	(void)max;
	json_decref(p);
	json_decref(meta);
}

static void check_failed(struct engine *en, struct runner *r)
{
	r->failures++;
	count(en, &en->st.failures, 1);
	int max = (int)json_get_int(r->config, "max_failures", en->opt.max_failures);
	if (max < 1)
		max = en->opt.max_failures;
	json_t *data = json_pack("{s:s,s:s,s:s,s:i,s:i}", "task_id", r->id, "error",
				 r->fail_reason[0] ? r->fail_reason : "the check failed", "failure",
				 r->fail_kind ? r->fail_kind : "other", "consecutive_failures",
				 r->failures, "max_failures", max);
	if (r->fail_url)
		json_object_set_new(data, "url", json_string_lossy(r->fail_url));
	if (r->fail_status)
		json_object_set_new(data, "status_code", json_integer(r->fail_status));
	int rc = engine_emit(en, r, "task_check_failed", data, NULL);
	json_decref(data);
	if (rc != ERR_OK)
		return;
	if (r->failures >= max && r->active) {
		auto_pause(en, r, max);
		return;
	}
	/* Back off: try again before the next slot when that is far away, a
	 * little later each time (1, 2, 4, ... minutes by default). */
	if (r->type == TASK_SCHEDULE || !r->active || !r->due_us)
		return;
	int shift = r->failures - 1 < 10 ? r->failures - 1 : 10;
	int64_t retry = now_us(en) + ((int64_t)en->opt.retry_base_ms * 1000 << shift);
	if (retry < r->due_us)
		timer_set(en, r, r->due_us, retry);
}

/* A check found something the store would not take (it is down or
 * unreachable): put the slot back and run it again soon, 2 s, 4 s, ... up
 * to a minute apart.  The events of a slot have fixed ids, so whatever part
 * of it did get stored is not stored twice; the monitors kept their old
 * hashes and metric state, so the retry finds the same news again. */
static void retry_unrecorded(struct engine *en, struct runner *r)
{
	int shift = r->store_retries < 5 ? r->store_retries : 5;
	r->store_retries++;
	int64_t delay = (int64_t)STORE_RETRY_BASE_MS * 1000 << shift;
	count(en, &en->st.failures, 1);
	if (!r->slot_us) {
		log_warn("engine: task %s: run_task_now found something the store could not "
			 "record; it is not retried (run it again when the store is back)",
			 r->id);
		return;
	}
	log_warn("engine: task %s: the store could not record this run; the slot is run again "
		 "in %lld s",
		 r->id, (long long)(delay / 1000000));
	r->last_slot_us = r->prev_slot_us;
	r->catch_up = r->run_catch_up;
	r->missed = r->run_missed;
	if (r->active)
		timer_set(en, r, r->slot_us, now_us(en) + delay);
}

void engine_check_maybe_done(struct engine *en, struct runner *r)
{
	if (!r->in_check || r->pending > 0)
		return;
	const struct monitor_ops *m = monitor_table[r->type];
	if (m->finish)
		m->finish(en, r);
	if (r->unrecorded) {
		retry_unrecorded(en, r);
		r->dirty = true;
		check_reset(r);
		return;
	}
	r->store_retries = 0;
	count(en, &en->st.checks, 1);
	if (r->failed) {
		check_failed(en, r);
	} else if (r->failures) {
		r->failures = 0;
	}
	r->dirty = true;
	check_reset(r);
}

/* ---- fetches ----------------------------------------------------------------------- */

/* One fetch in flight, on the engine's list so that a deleted task's
 * fetches can be cancelled and none leaks when the engine stops. */
struct fetch_ctx {
	struct engine *en;
	struct fetch_ctx *prev, *next;
	uint64_t fetch_id;
	char id[64];
	unsigned gen;
	size_t tag;
	engine_fetch_fn cb;
};

static void ctx_unlink(struct engine *en, struct fetch_ctx *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		en->ctxs = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

static void on_fetched(struct fetch_result *res, void *ud)
{
	struct fetch_ctx *c = ud;
	struct engine *en = c->en;
	ctx_unlink(en, c);
	struct runner *r = find_runner(en, c->id);
	if (r && r->gen == c->gen && r->in_check) {
		r->pending--;
		c->cb(en, r, c->tag, res);
		engine_check_maybe_done(en, r);
	}
	free(c);
}

void engine_fetch(struct engine *en, struct runner *r, size_t tag, const char *url,
		  bool conditional, bool trusted, engine_fetch_fn cb)
{
	struct fetch_ctx *c = xcalloc(1, sizeof(*c));
	c->en = en;
	snprintf(c->id, sizeof(c->id), "%s", r->id);
	c->gen = r->gen;
	c->tag = tag;
	c->cb = cb;
	struct fetch_request rq = {.url = url, .trusted = trusted};
	if (conditional && tag < r->nurls) {
		rq.etag = r->urls[tag].etag;
		rq.last_modified = r->urls[tag].last_modified;
	}
	r->pending++;
	c->next = en->ctxs;
	if (en->ctxs)
		en->ctxs->prev = c;
	en->ctxs = c;
	c->fetch_id = fetcher_submit(en->fetcher, &rq, on_fetched, c); /* calls back later */
}

/* Drop r's check in flight: its fetches are cancelled, and a result being
 * delivered right now is ignored (gen changed). */
static void cancel_fetches(struct engine *en, struct runner *r)
{
	r->gen++;
	check_reset(r);
	for (struct fetch_ctx *c = en->ctxs, *next; c; c = next) {
		next = c->next;
		if (strcmp(c->id, r->id) == 0 &&
		    fetcher_cancel(en->fetcher, c->fetch_id) == ERR_OK) {
			ctx_unlink(en, c);
			free(c);
		}
	}
}

/* ---- following the log ----------------------------------------------------------------- */

/* Rebuild a runner from its stream after an update; a store error leaves
 * it as it was (the caller reads the update again later). */
static int runner_replace(struct engine *en, struct runner *old, int64_t since_us)
{
	json_t *state = NULL;
	int rc = fold_stream(en, old->stream, &state);
	if (rc != ERR_OK)
		return rc;
	if (state && since_us) {
		char at[CLOCK_ISO_MAX];
		clock_format_utc(since_us, at);
		json_object_set_new(state, "config_since", json_string(at));
	}
	/* Keep what the engine learnt (hashes, metric state) through a save;
	 * only the owner's copy is current. */
	if (en->owned[old->shard])
		save_runner(en, old);
	struct runner *nr = state ? runner_from_state(en, state, NULL) : NULL;
	json_decref(state);
	if (nr) {
		nr->last_slot_us = old->last_slot_us;
		nr->last_check_us = old->last_check_us;
	}
	cancel_fetches(en, old);
	remove_runner(en, old);
	if (nr)
		add_runner(en, nr);
	return ERR_OK;
}

/* Apply one task event to the table; a store error means "read it again
 * later" (nothing was changed). */
static int apply_event(struct engine *en, const struct store_event *ev)
{
	const char *id = task_id_of_stream(ev->stream);
	if (!id)
		return ERR_OK;
	struct runner *r = find_runner(en, id);
	if (r && ev->version <= r->version)
		return ERR_OK; /* known already (our own append, or in the loaded state) */
	const char *t = ev->type;
	if (strcmp(t, TASK_EV_CREATED) == 0) {
		if (r)
			return ERR_OK;
		char at[CLOCK_ISO_MAX];
		clock_format_utc(ev->recorded_at_us, at);
		struct err e = {0};
		json_t *state = task_fold(NULL, t, ev->data, ev->version, at, &e);
		struct runner *nr = state ? runner_from_state(en, state, NULL) : NULL;
		json_decref(state);
		if (nr) {
			log_info("engine: new task %s (%s)", nr->id, task_type_name(nr->type));
			add_runner(en, nr);
		}
		return ERR_OK;
	}
	if (!r)
		return ERR_OK;
	if (strcmp(t, TASK_EV_UPDATED) == 0) {
		/* The config may have changed everything (URLs, schedule). */
		bool cfg = json_object_get(json_object_get(ev->data, "changes"), "config") != NULL;
		return runner_replace(en, r, cfg ? ev->recorded_at_us : 0);
	}
	r->version = ev->version;
	if (strcmp(t, TASK_EV_DELETED) == 0) {
		log_info("engine: task %s deleted", r->id);
		if (en->owned[r->shard])
			soft_forget(en, r);
		cancel_fetches(en, r);
		remove_runner(en, r);
	} else if (strcmp(t, TASK_EV_PAUSED) == 0) {
		r->active = false;
		cancel_fetches(en, r); /* a check in flight may not emit */
		timer_set(en, r, 0, 0);
	} else if (strcmp(t, TASK_EV_RESUMED) == 0) {
		if (!r->active) { /* one loop per task, however often it is resumed */
			r->active = true;
			r->failures = 0;
			r->dirty = true;
			plan_next(en, r);
		}
	} else if (strcmp(t, TASK_EV_RUN_REQUESTED) == 0) {
		/* The app refuses requests for paused tasks; one that slipped
		 * in before a pause is ignored. */
		if (r->active && !r->in_check && en->owned[r->shard])
			start_check(en, r, 0);
	}
	return ERR_OK;
}

static void read_log(struct engine *en)
{
	struct store_filter f = {.stream_prefix = TASK_STREAM_PREFIX};
	struct err e = {0};
	/* The head before reading: every event up to it is in what we read, so
	 * a filtered read need not scan the non-task events again. */
	int64_t head = 0;
	if (store_head(en->store, &head, &e) != ERR_OK) {
		log_warn("engine: reading the log: %s", err_msg(&e));
		return;
	}
	while (en->log_pos < head) {
		struct store_event_list l = {0};
		if (store_read_all(en->store, en->log_pos, false, LOG_BATCH, &f, &l, &e) !=
		    ERR_OK) {
			log_warn("engine: reading the log: %s", err_msg(&e));
			free(l.items);
			return;
		}
		bool again = false;
		for (size_t i = 0; i < l.count && !again; i++) {
			if (en->loaded && apply_event(en, &l.items[i]) != ERR_OK)
				again = true; /* from this event, at the next read */
			else
				en->log_pos = l.items[i].position;
		}
		size_t n = l.count;
		store_event_list_cleanup(&l);
		free(l.items);
		if (again)
			return;
		if (n < LOG_BATCH)
			break;
	}
	if (head > en->log_pos)
		en->log_pos = head;
}

/* Wakes the loop when the log grows (appends of this process at once, of
 * others within the store's polling interval). */
static void *watch_main(void *arg)
{
	struct engine *en = arg;
	int64_t seen = 0;
	struct err e = {0};
	if (store_head(en->store, &seen, &e) != ERR_OK)
		seen = 0;
	while (!atomic_load(&en->stop)) {
		int rc = store_wait(en->store, seen, 250, &e);
		if (rc == ERR_OK) {
			int64_t head = seen;
			if (store_head(en->store, &head, &e) == ERR_OK && head > seen) {
				seen = head;
				atomic_store(&en->log_grew, true);
				fetcher_wakeup(en->fetcher);
			}
		} else if (rc != ERR_TIMEOUT) {
			log_warn("engine: following the log: %s", err_msg(&e));
			usleep(200 * 1000);
		}
	}
	return NULL;
}

/* ---- the lease ------------------------------------------------------------------------------ */

static void load_tasks(struct engine *en)
{
	json_t *docs = NULL, *soft = NULL;
	struct err e = {0};
	/* Head first: any event after it is read and applied later. */
	int64_t head = 0;
	if (store_head(en->store, &head, &e) != ERR_OK ||
	    store_proj_list(en->store, "tasks", &docs, &e) != ERR_OK) {
		log_warn("engine: cannot load tasks: %s", err_msg(&e));
		return;
	}
	if (store_soft_list(en->store, "engine/" TASK_STREAM_PREFIX, &soft, &e) != ERR_OK) {
		log_warn("engine: cannot load check bookkeeping (%s); every task is checked anew",
			 err_msg(&e));
		soft = json_object();
	}
	/* Build the table in one go (sorted once, not inserted one by one:
	 * 100,000 tasks load in a fraction of a second). */
	size_t n = json_object_size(docs);
	if (en->cap < en->nrunners + n) {
		en->cap = en->nrunners + n;
		en->runners = xrealloc(en->runners, en->cap * sizeof(*en->runners));
	}
	size_t first = en->nrunners;
	const char *key;
	json_t *state;
	json_object_foreach(docs, key, state) {
		char sk[SNAP_KEY_MAX];
		snprintf(sk, sizeof(sk), "engine/%s", key);
		struct runner *r = runner_from_state(en, state, json_object_get(soft, sk));
		if (r)
			en->runners[en->nrunners++] = r;
	}
	if (en->nrunners) /* qsort's array may not be NULL, even for no elements */
		qsort(en->runners, en->nrunners, sizeof(*en->runners), runner_sort_cmp);
	for (size_t i = first; i < en->nrunners; i++)
		plan_next(en, en->runners[i]);
	json_decref(docs);
	json_decref(soft);
	en->log_pos = head;
	en->loaded = true;
	log_info("engine: %zu tasks on the store", en->nrunners);
}

unsigned engine_shard_of(const char *task_id)
{
	uint32_t h = 2166136261u; /* FNV-1a: stable across nodes and versions */
	for (const unsigned char *p = (const unsigned char *)task_id; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % ENGINE_SHARDS;
}

static void shard_lease_name(unsigned shard, char *out, size_t size)
{
	snprintf(out, size, ENGINE_SHARD_LEASE_PREFIX "%02u", shard);
}

/* A shard won: its tasks start from their bookkeeping as the last owner
 * left it (it flushed at most a second before it stopped; a slot it ran
 * since is run again and its events, with the same ids, are refused). */
static void shard_won(struct engine *en, unsigned shard, bool reload)
{
	for (size_t i = 0; i < en->nrunners; i++) {
		struct runner *r = en->runners[i];
		if (r->shard != shard)
			continue;
		if (reload) {
			char key[SNAP_KEY_MAX];
			json_t *soft = NULL;
			struct err e = {0};
			bookkeeping_key(r, key, sizeof(key));
			if (store_soft_get(en->store, key, &soft, &e) == ERR_OK) {
				runner_load_soft(r, soft);
			}
			json_decref(soft);
		}
		plan_next(en, r);
	}
}

/* A shard lost (given up or taken over): its tasks stop here, a check in
 * flight is abandoned. */
static void shard_lost(struct engine *en, unsigned shard)
{
	for (size_t i = 0; i < en->nrunners; i++) {
		struct runner *r = en->runners[i];
		if (r->shard != shard)
			continue;
		cancel_fetches(en, r);
		timer_heap_disarm(&en->timers, &r->timer);
		r->due_us = 0;
		r->dirty = false;
	}
}

/* How many engines are alive (node leases), this one included. */
int engine_live_nodes(struct store *s, const char *owner, struct err *e)
{
	json_t *nodes = NULL;
	if (store_lease_list(s, ENGINE_NODE_LEASE_PREFIX, &nodes, e) != ERR_OK)
		return -1;
	char me[256];
	snprintf(me, sizeof(me), ENGINE_NODE_LEASE_PREFIX "%s", owner ? owner : "");
	int n = (int)json_object_size(nodes) + (owner && !json_object_get(nodes, me) ? 1 : 0);
	json_decref(nodes);
	return n;
}

/* How many engines are alive, this one included (the last count when the
 * store cannot tell). */
static int count_nodes(struct engine *en)
{
	struct err e = {0};
	int n = engine_live_nodes(en->store, en->owner, &e);
	if (n < 0) {
		log_warn("engine: cannot list the engines: %s", err_msg(&e));
		return en->nodes > 0 ? en->nodes : 1;
	}
	return n;
}

/* Renew the node lease and claim this engine's share of the shards. */
static void lease_tick(struct engine *en)
{
	int64_t now = clock_mono_us(en->clock);
	if (now < en->lease_next_us)
		return;
	/* Renew at a third of the time to live, and look for free shards at
	 * least every 2 s, so a dead node's shards move soon after expiry. */
	int64_t every = (int64_t)en->opt.lease_ttl_ms * 1000 / 3;
	en->lease_next_us = now + (every < 2000000 ? every : 2000000);
	if (!en->loaded) {
		load_tasks(en);
		if (!en->loaded)
			return;
	}
	/* Bookkeeping of the shards held goes out first: a shard given up in
	 * this claim is current for its next owner. */
	flush_soft(en);

	char node[256];
	struct store_lease nl = {0};
	struct err e = {0};
	snprintf(node, sizeof(node), ENGINE_NODE_LEASE_PREFIX "%s", en->owner);
	if (store_lease_acquire(en->store, node, en->owner, en->opt.lease_ttl_ms, &nl, &e) !=
	    ERR_OK)
		log_warn("engine: node lease: %s", err_msg(&e));
	en->nodes = count_nodes(en);

	/* Each engine asks for the shards in its own order (a hash of owner
	 * and shard), so that engines starting together want different ones. */
	char names[ENGINE_SHARDS][32];
	const char *order[ENGINE_SHARDS];
	uint32_t keys[ENGINE_SHARDS];
	unsigned idx[ENGINE_SHARDS];
	for (unsigned i = 0; i < ENGINE_SHARDS; i++) {
		char k[200];
		snprintf(k, sizeof(k), "%s/%u", en->owner, i);
		keys[i] = engine_shard_of(k) * 1000003u + i;
		idx[i] = i;
	}
	/* Shards held come first (kept), then the others in hash order. */
	for (unsigned i = 1; i < ENGINE_SHARDS; i++)
		for (unsigned j = i; j > 0; j--) {
			unsigned a = idx[j - 1], b = idx[j];
			bool swap = en->owned[a] != en->owned[b] ? en->owned[b] : keys[b] < keys[a];
			if (!swap)
				break;
			idx[j - 1] = b;
			idx[j] = a;
		}
	for (unsigned i = 0; i < ENGINE_SHARDS; i++) {
		shard_lease_name(idx[i], names[i], sizeof(names[i]));
		order[i] = names[i];
	}
	size_t share = (ENGINE_SHARDS + (size_t)en->nodes - 1) / (size_t)en->nodes;
	bool held[ENGINE_SHARDS];
	int rc = store_lease_claim(en->store, en->owner, en->opt.lease_ttl_ms, order, ENGINE_SHARDS,
				   share, held, &e);
	if (rc != ERR_OK) {
		/* Keep running what we hold until its lease could have expired:
		 * the next claim renews it (the store may be restarting). */
		log_warn("engine: claiming shards: %s", err_msg(&e));
		return;
	}
	int won = 0, lost = 0;
	bool reload = en->claimed_once;
	for (unsigned i = 0; i < ENGINE_SHARDS; i++) {
		unsigned sh = idx[i];
		if (held[i] && !en->owned[sh]) {
			en->owned[sh] = true;
			en->nowned++;
			shard_won(en, sh, reload);
			won++;
		} else if (!held[i] && en->owned[sh]) {
			shard_lost(en, sh);
			en->owned[sh] = false;
			en->nowned--;
			lost++;
		}
	}
	en->claimed_once = true;
	if (won || lost)
		log_info("engine: %s now runs %d of %d shards (%d engines; +%d -%d)", en->owner,
			 en->nowned, ENGINE_SHARDS, en->nodes, won, lost);
	en->leader = en->nowned > 0;
	pthread_mutex_lock(&en->slock);
	snprintf(en->st.holder, sizeof(en->st.holder), "%s", en->owner);
	en->st.leader = en->leader;
	en->st.shards = en->nowned;
	en->st.nodes = en->nodes;
	pthread_mutex_unlock(&en->slock);
}

/* Give every lease up at a clean stop, so the other engines take the
 * shards at their next claim instead of after the time to live. */
static void release_leases(struct engine *en)
{
	char names[ENGINE_SHARDS][32], node[256];
	const char *all[ENGINE_SHARDS];
	bool held[ENGINE_SHARDS];
	struct err e = {0};
	if (!en->claimed_once)
		return;
	for (unsigned i = 0; i < ENGINE_SHARDS; i++) {
		shard_lease_name(i, names[i], sizeof(names[i]));
		all[i] = names[i];
	}
	if (en->nowned && store_lease_claim(en->store, en->owner, en->opt.lease_ttl_ms, all,
					    ENGINE_SHARDS, 0, held, &e) != ERR_OK)
		log_warn("engine: cannot give up its shards (%s); others take them when the "
			 "leases expire",
			 err_msg(&e));
	snprintf(node, sizeof(node), ENGINE_NODE_LEASE_PREFIX "%s", en->owner);
	store_lease_release(en->store, node, en->owner, &e);
	memset(en->owned, 0, sizeof(en->owned));
	en->nowned = 0;
}

/* ---- the loop
 * ------------------------------------------------------------------------------------ */

void engine_step(struct engine *en, int timeout_ms)
{
	lease_tick(en);
	int64_t mono = clock_mono_us(en->clock);
	if (atomic_exchange(&en->log_grew, false) || en->opt.manual ||
	    mono - en->log_read_us >= LOG_POLL_US) {
		en->log_read_us = mono;
		read_log(en);
	}
	int64_t now = now_us(en);
	size_t started = 0;
	struct runner *r;
	en->deferring = true; /* see flush_later */
	while ((r = first_timer(en)) && r->timer.due_us <= now && started < 10000 &&
	       !atomic_load(&en->stop)) {
		started++;
		if (r->in_check && en->nlater > 0)
			flush_later(en); /* r may be waiting only for its event to be stored */
		if (r->in_check) {
			/* The previous check still runs: skip this slot rather
			 * than doubling up. */
			r->last_slot_us = r->due_us;
			plan_next(en, r);
			continue;
		}
		start_check(en, r, r->due_us);
	}
	en->deferring = false;
	flush_later(en);
	if (mono - en->status_us >= STATUS_EVERY_US || en->opt.manual) {
		en->status_us = mono;
		status_publish(en, true);
	} else if (en->nrunners <= STATUS_LIVE_MAX) {
		status_publish(en, false); /* a scan of a small table costs microseconds */
	}
	if (mono - en->flush_us >= FLUSH_EVERY_US || en->opt.manual) {
		en->flush_us = mono;
		flush_soft(en);
	}
	int64_t wait_ms = timeout_ms;
	if (started >= 10000)
		wait_ms = 0;
	if ((r = first_timer(en)) && wait_ms > 0) {
		int64_t until = (r->timer.due_us - now_us(en) + 999) / 1000;
		if (until < wait_ms)
			wait_ms = until < 0 ? 0 : until;
	}
	fetcher_poll(en->fetcher, (int)wait_ms);
}

size_t engine_pending(struct engine *en)
{
	return fetcher_pending(en->fetcher);
}

static void *loop_main(void *arg)
{
	struct engine *en = arg;
	while (!atomic_load(&en->stop))
		engine_step(en, IDLE_WAIT_MS);
	for (size_t i = 0; i < en->nrunners; i++)
		if (en->owned[en->runners[i]->shard])
			save_runner(en, en->runners[i]);
	flush_soft(en);
	return NULL;
}

/* ---- life cycle
 * ---------------------------------------------------------------------------------------- */

int engine_new(const struct engine_options *opt, struct engine **out, struct err *e)
{
	*out = NULL;
	if (!opt || !opt->store)
		return err_set(e, ERR_INVALID, "engine: no store given");
	struct engine *en = xcalloc(1, sizeof(*en));
	en->opt = *opt;
	en->store = opt->store;
	en->clock = opt->clock ? opt->clock : opt->store->clock;
	if (!en->clock)
		en->clock = clock_system();
	if (en->opt.lease_ttl_ms <= 0)
		en->opt.lease_ttl_ms = 30000;
	if (en->opt.snapshots_kept <= 0)
		en->opt.snapshots_kept = 5;
	if (en->opt.max_failures <= 0)
		en->opt.max_failures = 10;
	if (en->opt.fetch_timeout_ms <= 0)
		en->opt.fetch_timeout_ms = 30000;
	if (en->opt.max_page_bytes == 0)
		en->opt.max_page_bytes = 2u << 20;
	if (en->opt.per_host_limit <= 0)
		en->opt.per_host_limit = 4;
	if (en->opt.max_transfers <= 0)
		en->opt.max_transfers = 64;
	if (en->opt.retry_base_ms <= 0)
		en->opt.retry_base_ms = 60000;
	en->price_api = xstrdup(opt->price_api_url ? opt->price_api_url : ENGINE_DEFAULT_PRICE_API);
	size_t pl = strlen(en->price_api);
	while (pl > 0 && en->price_api[pl - 1] == '/')
		en->price_api[--pl] = 0;
	en->opt.price_api_url = en->price_api;
	en->opt.owner = NULL;
	en->opt.allow_net = NULL;
	if (opt->owner) {
		snprintf(en->owner, sizeof(en->owner), "%s", opt->owner);
	} else {
		char host[64] = "host", rnd[UUID_STR_LEN + 1];
		gethostname(host, sizeof(host) - 1);
		uuid_v4(rnd);
		snprintf(en->owner, sizeof(en->owner), "%.63s:%d:%.8s", host, (int)getpid(), rnd);
	}
	int rc = netguard_new(opt->allow_net, &en->guard, e);
	if (rc != ERR_OK) {
		free(en->price_api);
		free(en);
		return rc;
	}
	struct fetch_options fo = {
		.guard = en->guard,
		.timeout_ms = en->opt.fetch_timeout_ms,
		.max_body = en->opt.max_page_bytes,
		.max_per_host = en->opt.per_host_limit,
		.max_total = en->opt.max_transfers,
	};
	rc = fetcher_new(&fo, &en->fetcher, e);
	if (rc != ERR_OK) {
		netguard_free(en->guard);
		free(en->price_api);
		free(en);
		return rc;
	}
	pthread_mutex_init(&en->slock, NULL);
	en->soft_pending = json_object();
	*out = en;
	return ERR_OK;
}

int engine_start(struct engine *en, struct err *e)
{
	if (en->opt.manual || en->started)
		return ERR_OK;
	if (pthread_create(&en->watch_thread, NULL, watch_main, en) != 0)
		return err_set(e, ERR_INTERNAL, "cannot start the engine's watcher thread");
	if (pthread_create(&en->loop_thread, NULL, loop_main, en) != 0) {
		atomic_store(&en->stop, true);
		pthread_join(en->watch_thread, NULL);
		return err_set(e, ERR_INTERNAL, "cannot start the engine thread");
	}
	en->started = true;
	return ERR_OK;
}

void engine_free(struct engine *en)
{
	if (!en)
		return;
	if (en->started) {
		atomic_store(&en->stop, true);
		fetcher_wakeup(en->fetcher);
		pthread_join(en->loop_thread, NULL);
		pthread_join(en->watch_thread, NULL);
	} else {
		for (size_t i = 0; i < en->nrunners; i++)
			if (en->owned[en->runners[i]->shard])
				save_runner(en, en->runners[i]);
		flush_soft(en);
	}
	release_leases(en);
	/* The fetcher first: its pending contexts point at runners. */
	fetcher_free(en->fetcher);
	while (en->ctxs) {
		struct fetch_ctx *c = en->ctxs;
		en->ctxs = c->next;
		free(c);
	}
	drop_all(en);
	free(en->runners);
	timer_heap_cleanup(&en->timers);
	netguard_free(en->guard);
	json_decref(en->soft_pending);
	free(en->later);
	pthread_mutex_destroy(&en->slock);
	free(en->price_api);
	free(en);
}

int engine_peek(struct store *s, bool *running, json_t **status, struct err *e)
{
	json_t *nodes = NULL;
	*running = false;
	if (status)
		*status = NULL;
	int rc = store_lease_list(s, ENGINE_NODE_LEASE_PREFIX, &nodes, e);
	if (rc != ERR_OK)
		return rc;
	*running = json_object_size(nodes) > 0;
	if (status && *running) {
		static const char *const sums[] = {"tasks",  "active",   "in_flight",
						   "checks", "failures", "events"};
		json_t *sum = json_pack("{s:I,s:[]}", "nodes", (json_int_t)json_object_size(nodes),
					"engines");
		const char *name;
		json_t *lease;
		json_object_foreach(nodes, name, lease) {
			const char *owner = json_get_str(lease, "owner");
			if (!json_object_get(sum, "holder") && owner)
				json_object_set_new(sum, "holder", json_string(owner));
			char key[300];
			json_t *doc = NULL;
			struct err e2 = {0};
			snprintf(key, sizeof(key), ENGINE_STATUS_PREFIX "%s", owner ? owner : "");
			if (store_soft_get(s, key, &doc, &e2) != ERR_OK)
				continue;
			for (size_t i = 0; i < sizeof(sums) / sizeof(sums[0]); i++)
				json_object_set_new(sum, sums[i],
						    json_integer(json_get_int(sum, sums[i], 0) +
								 json_get_int(doc, sums[i], 0)));
			json_array_append_new(json_object_get(sum, "engines"), doc);
		}
		*status = sum;
	}
	json_decref(nodes);
	return ERR_OK;
}
