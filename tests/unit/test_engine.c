/*
 * test_engine.c - the engine's scheduling on a fake clock: days, DST,
 * restarts with both missed-run policies, pause/resume, the lease.
 *
 * The engine runs in manual mode (no threads): each test moves the fake
 * clock and turns the loop with engine_step, so four days take
 * milliseconds.  Schedule tasks need no network; the tests of a store that
 * refuses appends serve a price and a page from 127.0.0.1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test_util.h"

#include "app/tasks.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/tz.h"
#include "domain/task.h"
#include "common/xalloc.h"
#include "engine/engine.h"
#include "store/store.h"
#include "transport/http_server.h"

#define MINUTE (60 * INT64_C(1000000))
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)

struct fx {
	char dir[64];
	char url[128];
	struct clock clk;
	struct store *s;
};

static const struct app_actor who = {.principal = "test"};

static int64_t at(const char *iso)
{
	int64_t us = 0;
	assert_int_equal(clock_parse_iso(iso, &us), 0);
	return us;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/ambient-engine-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->url, sizeof(f->url), "sqlite:%s/a.db", f->dir);
	clock_fake_init(&f->clk, at("2025-03-07T12:00:00Z"));
	struct store_options o = {
		.clock = &f->clk,
		.projections = app_projections,
		.nprojections = app_nprojections,
	};
	struct err e = {0};
	assert_int_equal(store_open(f->url, &o, &f->s, &e), ERR_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	store_close(f->s);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static struct engine *engine(struct fx *f, const char *owner)
{
	struct engine_options o = {
		.store = f->s,
		.clock = &f->clk,
		.owner = owner,
		.manual = true,
		.lease_ttl_ms = 30000,
	};
	struct engine *en = NULL;
	struct err e = {0};
	assert_int_equal(engine_new(&o, &en, &e), ERR_OK);
	return en;
}

static char *create_typed(struct fx *f, const char *type, const char *config_json)
{
	struct err e = {0};
	json_t *cfg = json_parse(config_json, strlen(config_json), &e);
	assert_non_null(cfg);
	json_t *task = NULL;
	assert_int_equal(app_task_create(f->s, &who, NULL, type, "test task", cfg, NULL, NULL,
					 &task, &e),
			 ERR_OK);
	char *id = strdup(json_get_str(task, "task_id"));
	json_decref(task);
	json_decref(cfg);
	return id;
}

static char *create(struct fx *f, const char *config_json)
{
	return create_typed(f, "schedule", config_json);
}

/* Move the clock to `until` in steps, turning the loop after each. */
static void run_until(struct fx *f, struct engine *en, int64_t until, int64_t step)
{
	engine_step(en, 0);
	while (clock_wall_us(&f->clk) < until) {
		int64_t left = until - clock_wall_us(&f->clk);
		clock_fake_advance(&f->clk, left < step ? left : step);
		engine_step(en, 0);
	}
}

/* The events of one type in a task's stream, as a JSON array of their data. */
static json_t *events_of(struct fx *f, const char *id, const char *type)
{
	char stream[80];
	task_stream_name(id, stream, sizeof(stream));
	struct store_event_list l = {0};
	struct err e = {0};
	assert_int_equal(store_read_stream(f->s, stream, 1, false, 0, &l, &e), ERR_OK);
	json_t *out = json_array();
	for (size_t i = 0; i < l.count; i++)
		if (strcmp(l.items[i].type, type) == 0)
			json_array_append(out, l.items[i].data);
	store_event_list_cleanup(&l);
	free(l.items);
	return out;
}

static json_t *triggers(struct fx *f, const char *id)
{
	return events_of(f, id, "scheduled_trigger");
}

static const char *trigger_time(json_t *t, size_t i)
{
	return json_get_str(json_array_get(t, i), "trigger_time");
}

/* Daily 02:30 in New York across the spring-forward night (9 March 2025):
 * the skipped time runs at the jump, 03:00 EDT; one run a day. */
static void test_daily_across_dst(void **state)
{
	struct fx *f = *state;
	char *id = create(f, "{\"type\":\"daily\",\"hour\":2,\"minute\":30,"
			     "\"timezone\":\"America/New_York\"}");
	struct engine *en = engine(f, "a");
	run_until(f, en, at("2025-03-11T12:00:00Z"), 10 * MINUTE);
	json_t *t = triggers(f, id);
	assert_int_equal(json_array_size(t), 4);
	assert_string_equal(trigger_time(t, 0), "2025-03-08T02:30:00-05:00");
	assert_string_equal(trigger_time(t, 1), "2025-03-09T03:00:00-04:00");
	assert_string_equal(trigger_time(t, 2), "2025-03-10T02:30:00-04:00");
	assert_string_equal(trigger_time(t, 3), "2025-03-11T02:30:00-04:00");
	struct engine_status st;
	engine_status(en, &st);
	assert_true(st.leader);
	assert_int_equal(st.tasks, 1);
	json_decref(t);
	engine_free(en);
	free(id);
}

/* Cron every 30 minutes in Berlin over the fall-back night (26 October
 * 2025, 03:00 CEST -> 02:00 CET): a '*'-led cron keeps its rhythm through
 * both passes of the repeated hour. */
static void test_cron_fall_back(void **state)
{
	struct fx *f = *state;
	clock_fake_set_wall(&f->clk, at("2025-10-25T22:10:00Z")); /* 00:10 CEST */
	char *id = create(f, "{\"type\":\"cron\",\"expression\":\"*/30 * * * *\","
			     "\"timezone\":\"Europe/Berlin\"}");
	struct engine *en = engine(f, "a");
	run_until(f, en, at("2025-10-26T03:05:00Z"), 5 * MINUTE); /* 04:05 CET */
	json_t *t = triggers(f, id);
	/* 00:30 .. 04:00 local: 00:30 01:00 01:30 02:00 02:30 (CEST) 02:00
	 * 02:30 (CET) 03:00 03:30 04:00 = 10 runs. */
	assert_int_equal(json_array_size(t), 10);
	assert_string_equal(trigger_time(t, 3), "2025-10-26T02:00:00+02:00");
	assert_string_equal(trigger_time(t, 5), "2025-10-26T02:00:00+01:00");
	json_decref(t);
	engine_free(en);
	free(id);
}

/* A 30-minute zone: Lord Howe Island moves its clocks by 30 minutes. */
static void test_half_hour_zone(void **state)
{
	struct fx *f = *state;
	clock_fake_set_wall(&f->clk, at("2025-10-03T00:00:00Z"));
	char *id = create(f, "{\"type\":\"daily\",\"hour\":2,\"minute\":15,"
			     "\"timezone\":\"Australia/Lord_Howe\"}");
	struct engine *en = engine(f, "a");
	run_until(f, en, at("2025-10-06T00:00:00Z"), 15 * MINUTE);
	json_t *t = triggers(f, id);
	assert_int_equal(json_array_size(t), 3);
	assert_string_equal(trigger_time(t, 0), "2025-10-04T02:15:00+10:30");
	/* 5 October: 02:00 -> 02:30, so 02:15 runs at the jump. */
	assert_string_equal(trigger_time(t, 1), "2025-10-05T02:30:00+11:00");
	assert_string_equal(trigger_time(t, 2), "2025-10-06T02:15:00+11:00");
	json_decref(t);
	engine_free(en);
	free(id);
}

/* A restart after hours of downtime: policy once runs one catch-up,
 * policy skip none, and both carry on in phase. */
static void test_restart_missed_runs(void **state)
{
	struct fx *f = *state;
	char *once = create(f, "{\"type\":\"interval\",\"minutes\":60}");
	char *skip = create(f, "{\"type\":\"interval\",\"minutes\":60,"
			       "\"missed_run_policy\":\"skip\"}");
	int64_t t0 = clock_wall_us(&f->clk);
	struct engine *en = engine(f, "a");
	run_until(f, en, t0 + 30 * MINUTE, MINUTE); /* the first runs, at creation */
	engine_free(en);
	json_t *a = triggers(f, once), *b = triggers(f, skip);
	assert_int_equal(json_array_size(a), 1);
	assert_int_equal(json_array_size(b), 1);
	json_decref(a);
	json_decref(b);

	/* Down for five hours. */
	clock_fake_advance(&f->clk, 5 * HOUR);
	en = engine(f, "b");
	engine_step(en, 0);
	a = triggers(f, once);
	b = triggers(f, skip);
	assert_int_equal(json_array_size(a), 2);
	assert_true(json_is_true(json_object_get(json_array_get(a, 1), "catch_up")));
	assert_int_equal(json_get_int(json_array_get(a, 1), "missed", 0), 5);
	assert_int_equal(json_array_size(b), 1);
	json_decref(a);
	json_decref(b);

	/* Skip keeps its phase: t0 + 6 h. */
	run_until(f, en, t0 + 6 * HOUR - MINUTE, MINUTE);
	b = triggers(f, skip);
	assert_int_equal(json_array_size(b), 1);
	json_decref(b);
	run_until(f, en, t0 + 6 * HOUR + MINUTE, MINUTE);
	b = triggers(f, skip);
	assert_int_equal(json_array_size(b), 2);
	assert_false(json_is_true(json_object_get(json_array_get(b, 1), "catch_up")));
	json_decref(b);
	engine_free(en);
	free(once);
	free(skip);
}

/* Pause stops the runs; resuming twice (the second is a no-op) never makes
 * two loops: one run per slot after it. */
static void test_pause_resume_one_loop(void **state)
{
	struct fx *f = *state;
	char *id = create(f, "{\"type\":\"interval\",\"minutes\":60}");
	int64_t t0 = clock_wall_us(&f->clk);
	struct engine *en = engine(f, "a");
	run_until(f, en, t0 + 10 * MINUTE, MINUTE);
	struct err e = {0};
	bool changed = false;
	assert_int_equal(app_task_pause(f->s, &who, id, "holiday", &changed, NULL, &e), ERR_OK);
	run_until(f, en, t0 + 3 * HOUR, 10 * MINUTE);
	json_t *t = triggers(f, id);
	assert_int_equal(json_array_size(t), 1);
	json_decref(t);
	assert_int_equal(app_task_resume(f->s, &who, id, &changed, NULL, &e), ERR_OK);
	assert_true(changed);
	engine_step(en, 0);
	assert_int_equal(app_task_resume(f->s, &who, id, &changed, NULL, &e), ERR_OK);
	assert_false(changed);
	/* One catch-up at resume, then one an hour: 2 more over 1.5 hours. */
	run_until(f, en, t0 + 4 * HOUR + 30 * MINUTE, MINUTE);
	t = triggers(f, id);
	assert_int_equal(json_array_size(t), 3);
	json_decref(t);
	/* Deleted: nothing more. */
	assert_int_equal(app_task_delete(f->s, &who, id, NULL, &e), ERR_OK);
	run_until(f, en, t0 + 8 * HOUR, 10 * MINUTE);
	t = triggers(f, id);
	assert_int_equal(json_array_size(t), 3);
	json_decref(t);
	struct engine_status st;
	engine_status(en, &st);
	assert_int_equal(st.tasks, 0);
	engine_free(en);
	free(id);
}

/* Two engines on one store: one runs the tasks, the other stands by and
 * takes over when the first goes away; a slot is never recorded twice. */
/* Step two engines side by side up to `until`. */
static void run_two(struct fx *f, struct engine *a, struct engine *b, int64_t until, int64_t step)
{
	while (clock_wall_us(&f->clk) < until) {
		int64_t left = until - clock_wall_us(&f->clk);
		clock_fake_advance(&f->clk, left < step ? left : step);
		if (a)
			engine_step(a, 0);
		engine_step(b, 0);
	}
}

/* Two engines split the shards; every slot of every task fires once, on
 * one of them.  When one stops renewing (a crash), the other takes its
 * shards after the lease expires and no slot is lost or doubled. */
static void test_shards_shared_and_taken_over(void **state)
{
	struct fx *f = *state;
	enum { NTASKS = 24 };
	char *ids[NTASKS];
	for (int i = 0; i < NTASKS; i++)
		ids[i] = create(f, "{\"type\":\"interval\",\"minutes\":60}");
	int64_t t0 = clock_wall_us(&f->clk);
	struct engine *a = engine(f, "node-a"), *b = engine(f, "node-b");
	engine_step(a, 0); /* alone: takes every shard */
	struct engine_status sa, sb;
	engine_status(a, &sa);
	assert_int_equal(sa.shards, ENGINE_SHARDS);
	engine_step(b, 0); /* sees two engines, but every shard is held */
	engine_status(b, &sb);
	assert_int_equal(sb.nodes, 2);
	assert_int_equal(sb.shards, 0);
	assert_false(sb.leader);
	/* At their next claims a gives up half and b takes it. */
	run_two(f, a, b, t0 + 10 * 1000000, 1000000);
	engine_status(a, &sa);
	engine_status(b, &sb);
	assert_int_equal(sa.shards, ENGINE_SHARDS / 2);
	assert_int_equal(sb.shards, ENGINE_SHARDS / 2);
	assert_int_equal(sa.tasks + sb.tasks, NTASKS);
	bool running = false;
	json_t *doc = NULL;
	struct err e = {0};
	assert_int_equal(engine_peek(f->s, &running, &doc, &e), ERR_OK);
	assert_true(running);
	assert_int_equal(json_get_int(doc, "nodes", 0), 2);
	json_decref(doc);

	/* An hour and a half together, then a stops stepping (it "died"):
	 * b runs alone for two more hours. */
	run_two(f, a, b, t0 + 90 * MINUTE, MINUTE / 4);
	run_two(f, NULL, b, t0 + 3 * HOUR + 30 * MINUTE, MINUTE / 4);
	engine_status(b, &sb);
	assert_int_equal(sb.shards, ENGINE_SHARDS);
	for (int i = 0; i < NTASKS; i++) {
		json_t *t = triggers(f, ids[i]);
		/* t0, +1 h, +2 h, +3 h: each exactly once */
		assert_int_equal(json_array_size(t), 4);
		for (size_t k = 1; k < json_array_size(t); k++)
			assert_string_not_equal(trigger_time(t, k - 1), trigger_time(t, k));
		json_decref(t);
		free(ids[i]);
	}
	engine_free(a); /* holds nothing any more: gives up nothing */
	engine_status(b, &sb);
	assert_int_equal(sb.shards, ENGINE_SHARDS);
	engine_free(b); /* releases its leases */
	assert_int_equal(engine_peek(f->s, &running, NULL, &e), ERR_OK);
	assert_false(running);
}

/* ---- a store that is down --------------------------------------------------------- */

/* The store's own ops, with appends to task streams and soft state reads
 * refused while `down` is set, as when the database is unreachable. */
static atomic_bool down;
static struct store_ops flaky_ops;
static const struct store_ops *real_ops;

static int flaky_append(struct store *s, const char *stream, int64_t expected,
			struct store_new_event *evs, size_t n, struct store_append_result *res,
			struct err *e)
{
	if (atomic_load(&down) && strncmp(stream, "task-", 5) == 0)
		return err_set(e, ERR_IO, "the database is unreachable (test)");
	return real_ops->append(s, stream, expected, evs, n, res, e);
}

static atomic_bool corrupt;

static int flaky_soft_get(struct store *s, const char *key, json_t **doc, struct err *e)
{
	if (atomic_load(&corrupt))
		return err_set(e, ERR_CORRUPT, "a damaged row (test)");
	if (atomic_load(&down))
		return err_set(e, ERR_IO, "the database is unreachable (test)");
	return real_ops->soft_get(s, key, doc, e);
}

static atomic_bool reads_down;

static int flaky_read_stream(struct store *s, const char *stream, int64_t from, bool backward,
			     size_t limit, struct store_event_list *out, struct err *e)
{
	if (atomic_load(&reads_down) && strncmp(stream, "task-", 5) == 0)
		return err_set(e, ERR_IO, "the database is unreachable (test)");
	return real_ops->read_stream(s, stream, from, backward, limit, out, e);
}

static void make_flaky(struct fx *f)
{
	real_ops = f->s->ops;
	flaky_ops = *real_ops;
	flaky_ops.append = flaky_append;
	flaky_ops.soft_get = flaky_soft_get;
	flaky_ops.read_stream = flaky_read_stream;
	atomic_store(&reads_down, false);
	atomic_store(&corrupt, false);
	f->s->ops = &flaky_ops;
	atomic_store(&down, false);
}

/* A slot whose trigger the store refused runs again once the store is
 * back: no slot is lost, none recorded twice, the schedule keeps its phase. */
static void test_slot_retried_when_store_down(void **state)
{
	struct fx *f = *state;
	make_flaky(f);
	char *id = create(f, "{\"type\":\"interval\",\"minutes\":60}");
	int64_t t0 = clock_wall_us(&f->clk);
	struct engine *en = engine(f, "a");
	run_until(f, en, t0 + 10 * MINUTE, MINUTE);
	json_t *t = triggers(f, id);
	assert_int_equal(json_array_size(t), 1);
	json_decref(t);

	atomic_store(&down, true); /* the t0 + 1 h slot finds the store down */
	run_until(f, en, t0 + 70 * MINUTE, 1000000);
	t = triggers(f, id);
	assert_int_equal(json_array_size(t), 1);
	json_decref(t);
	struct engine_status st;
	engine_status(en, &st);
	assert_true(st.failures > 0);

	atomic_store(&down, false);
	run_until(f, en, t0 + 72 * MINUTE, 1000000);
	t = triggers(f, id);
	assert_int_equal(json_array_size(t), 2); /* the +1 h slot, late */
	assert_false(json_is_true(json_object_get(json_array_get(t, 1), "catch_up")));
	json_decref(t);
	run_until(f, en, t0 + 2 * HOUR + 10 * MINUTE, MINUTE);
	t = triggers(f, id);
	assert_int_equal(json_array_size(t), 3); /* and +2 h on time */
	json_decref(t);
	engine_free(en);
	free(id);
}

/* A slot retried after a long outage can leave the next slot already due
 * in the same turn of the loop: it runs too (its trigger is not skipped as
 * "the previous check still runs" while the retried one's event waits to
 * be appended with the others). */
static void test_retry_then_due_slot_both_run(void **state)
{
	struct fx *f = *state;
	make_flaky(f);
	char *id = create(f, "{\"type\":\"interval\",\"minutes\":1}");
	int64_t t0 = clock_wall_us(&f->clk), sec = 1000000;
	struct engine *en = engine(f, "a");
	run_until(f, en, t0 + 30 * sec, sec);
	atomic_store(&down, true); /* the slot at +60 s fails, retried +2, +6, +14, +30, +62 s */
	run_until(f, en, t0 + 100 * sec, sec);
	atomic_store(&down, false);
	run_until(f, en, t0 + 150 * sec, sec); /* the retry at +122 s runs +60 s, then +120 s */
	json_t *t = triggers(f, id);
	assert_int_equal(json_array_size(t), 3);
	json_decref(t);
	engine_free(en);
	free(id);
}

/* An update the engine cannot read the task for (the store is away) is
 * applied later: the task keeps running as it was meanwhile, and is never
 * dropped from the engine. */
static void test_update_applied_when_store_back(void **state)
{
	struct fx *f = *state;
	make_flaky(f);
	char *id = create(f, "{\"type\":\"interval\",\"minutes\":60}");
	int64_t t0 = clock_wall_us(&f->clk);
	struct engine *en = engine(f, "a");
	run_until(f, en, t0 + 10 * MINUTE, MINUTE);
	struct err e = {0};
	const char *text = "{\"config\":{\"type\":\"interval\",\"minutes\":20}}";
	json_t *changes = json_parse(text, strlen(text), &e);
	bool changed = false;
	assert_int_equal(app_task_update(f->s, &who, id, changes, &changed, NULL, &e), ERR_OK);
	json_decref(changes);
	atomic_store(&reads_down, true);
	run_until(f, en, t0 + 15 * MINUTE, MINUTE);
	struct engine_status st;
	engine_status(en, &st);
	assert_int_equal(st.tasks, 1);
	atomic_store(&reads_down, false);
	/* From the update (t0 + 10 min) every 20 minutes: +30, +50. */
	run_until(f, en, t0 + 55 * MINUTE, MINUTE);
	json_t *t = triggers(f, id);
	assert_int_equal(json_array_size(t), 3);
	json_decref(t);
	engine_free(en);
	free(id);
}

/* What the stand-in serves: a price and a page. */
static atomic_int price = 150;
static atomic_int page_version = 1;

static void route_price(void *data, const struct http_request *req, struct http_response *res)
{
	(void)data, (void)req;
	http_response_json(res, 200, xasprintf("{\"bitcoin\":{\"usd\":%d}}", atomic_load(&price)));
}

static atomic_int page_delay_ms;

static void route_page(void *data, const struct http_request *req, struct http_response *res)
{
	(void)data, (void)req;
	if (atomic_load(&page_delay_ms))
		usleep((useconds_t)atomic_load(&page_delay_ms) * 1000);
	http_response_json(res, 200,
			   xstrdup(atomic_load(&page_version) == 1
					   ? "{\"news\":\"a quiet day\"}"
					   : "{\"news\":\"a quiet day\",\"more\":\"bitcoin rallies\"}"));
}

static const struct http_route stand_in_routes[] = {
	{"GET", "/api/v3/simple/price", route_price, NULL},
	{"GET", "/page", route_page, NULL},
};

/* Turn the loop (clock moving in `step`s) until no fetch is out; a
 * deadline in real time guards against a fetch that never ends. */
static void settle(struct fx *f, struct engine *en, int64_t step)
{
	double deadline = test_now() + 20;
	engine_step(en, 0);
	while (engine_pending(en) > 0 && test_now() < deadline)
		engine_step(en, 50);
	assert_int_equal(engine_pending(en), 0);
	clock_fake_advance(&f->clk, step);
	engine_step(en, 0);
	while (engine_pending(en) > 0 && test_now() < deadline)
		engine_step(en, 50);
}

static void settle_until(struct fx *f, struct engine *en, int64_t until, int64_t step)
{
	while (clock_wall_us(&f->clk) < until)
		settle(f, en, step);
}

static struct engine *net_engine(struct fx *f, struct http_server **h, char *base, size_t size)
{
	struct err e = {0};
	struct http_server_options ho = {.routes = stand_in_routes, .nroutes = 2};
	assert_int_equal(http_server_start(NULL, &ho, h, &e), ERR_OK);
	snprintf(base, size, "http://127.0.0.1:%d", http_server_port(*h));
	struct engine_options o = {
		.store = f->s,
		.clock = &f->clk,
		.owner = "net",
		.manual = true,
		.lease_ttl_ms = 30000,
		.allow_net = "127.0.0.1",
		.price_api_url = base,
		.fetch_timeout_ms = 5000,
	};
	struct engine *en = NULL;
	assert_int_equal(engine_new(&o, &en, &e), ERR_OK);
	return en;
}

/* A web_monitor of the stand-in's page for "bitcoin", every 30 minutes;
 * its id (the caller frees). */
static char *page_monitor(struct fx *f, const char *base)
{
	char cfg[256];
	snprintf(cfg, sizeof cfg,
		 "{\"urls\":[\"%s/page\"],\"keywords\":[\"bitcoin\"],\"check_interval_minutes\":30}",
		 base);
	return create_typed(f, "web_monitor", cfg);
}

/* A breach the store refused is not "already reported": the cooldown and
 * hysteresis arm only when the event is in the log, so the retry fires it
 * (once) and the next check, still above, stays quiet. */
static void test_breach_retried_when_store_down(void **state)
{
	struct fx *f = *state;
	make_flaky(f);
	atomic_store(&price, 150);
	struct http_server *h;
	char base[64];
	struct engine *en = net_engine(f, &h, base, sizeof base);
	char *id = create_typed(f, "threshold_watch",
				"{\"metric\":\"bitcoin_price\",\"threshold\":100,"
				"\"check_interval_minutes\":15}");
	int64_t t0 = clock_wall_us(&f->clk);
	atomic_store(&down, true);
	settle_until(f, en, t0 + 1000000, 1000000); /* the first check: refused */
	json_t *b = events_of(f, id, "threshold_breach");
	assert_int_equal(json_array_size(b), 0);
	json_decref(b);
	atomic_store(&down, false);
	settle_until(f, en, t0 + 10 * 1000000, 1000000); /* the retry, seconds later */
	b = events_of(f, id, "threshold_breach");
	assert_int_equal(json_array_size(b), 1);
	json_decref(b);
	settle_until(f, en, t0 + 35 * MINUTE, MINUTE); /* two more checks, still above */
	b = events_of(f, id, "threshold_breach");
	assert_int_equal(json_array_size(b), 1);
	json_decref(b);
	engine_free(en);
	http_server_free(h);
	free(id);
}

/* A page change the store refused is seen again by the retry: the new text
 * becomes the baseline (and its ETag the validator) only once the change is
 * in the log, and a last snapshot that cannot be read is not taken for "no
 * snapshot" (which made the changed page a silent new baseline). */
static void test_page_change_retried_when_store_down(void **state)
{
	struct fx *f = *state;
	make_flaky(f);
	atomic_store(&page_version, 1);
	struct http_server *h;
	char base[64];
	struct engine *en = net_engine(f, &h, base, sizeof base);
	char url[96];
	snprintf(url, sizeof url, "%s/page", base);
	char *id = page_monitor(f, base);
	int64_t t0 = clock_wall_us(&f->clk);
	settle_until(f, en, t0 + 10 * MINUTE, MINUTE); /* the baseline */
	atomic_store(&page_version, 2);
	atomic_store(&down, true);
	settle_until(f, en, t0 + 31 * MINUTE, MINUTE); /* the change: refused */
	json_t *c = events_of(f, id, "web_content_change");
	assert_int_equal(json_array_size(c), 0);
	json_decref(c);
	atomic_store(&down, false);
	settle_until(f, en, t0 + 33 * MINUTE, 1000000);
	c = events_of(f, id, "web_content_change");
	assert_int_equal(json_array_size(c), 1);
	assert_string_equal(json_get_str(json_array_get(c, 0), "url"), url);
	json_decref(c);
	settle_until(f, en, t0 + 65 * MINUTE, MINUTE); /* unchanged since: quiet */
	c = events_of(f, id, "web_content_change");
	assert_int_equal(json_array_size(c), 1);
	json_decref(c);
	engine_free(en);
	http_server_free(h);
	free(id);
}

/* The bookkeeping another node would take over (soft state) never counts
 * a slot as run while its check is still in flight: a node that dies, or
 * loses its lease in a store outage, mid-check leaves the slot to the next
 * owner instead of losing it. */
static void test_slot_in_flight_not_saved_as_run(void **state)
{
	struct fx *f = *state;
	atomic_store(&page_version, 1);
	atomic_store(&page_delay_ms, 0);
	struct http_server *h;
	char base[64];
	struct engine *en = net_engine(f, &h, base, sizeof base);
	char *id = page_monitor(f, base);
	int64_t t0 = clock_wall_us(&f->clk);
	settle_until(f, en, t0 + 10 * MINUTE, MINUTE); /* the baseline, slot t0 */
	char key[128];
	snprintf(key, sizeof key, "engine/task-%s", id);
	json_t *doc = NULL;
	struct err e = {0};
	assert_int_equal(store_soft_get(f->s, key, &doc, &e), ERR_OK);
	int64_t first_slot = json_get_int(doc, "last_slot_us", 0);
	assert_true(first_slot > 0);
	json_decref(doc);

	/* the next slot's fetch hangs while the loop turns and saves */
	atomic_store(&page_delay_ms, 1500);
	clock_fake_advance(&f->clk, 21 * MINUTE);
	engine_step(en, 0); /* starts the check */
	assert_true(engine_pending(en) > 0);
	clock_fake_advance(&f->clk, 2 * 1000000);
	engine_step(en, 0); /* saves the bookkeeping */
	assert_true(engine_pending(en) > 0);
	assert_int_equal(store_soft_get(f->s, key, &doc, &e), ERR_OK);
	assert_int_equal(json_get_int(doc, "last_slot_us", 0), first_slot);
	json_decref(doc);

	atomic_store(&page_delay_ms, 0);
	settle(f, en, 1000000); /* the check ends: now the slot is run */
	engine_step(en, 0);
	assert_int_equal(store_soft_get(f->s, key, &doc, &e), ERR_OK);
	assert_true(json_get_int(doc, "last_slot_us", 0) > first_slot);
	json_decref(doc);
	engine_free(en);
	http_server_free(h);
	free(id);
}

/* A snapshot that cannot be read for good (a damaged row) is not retried
 * forever: the page counts as new and the task's next slots run. */
static void test_damaged_snapshot_not_retried(void **state)
{
	struct fx *f = *state;
	make_flaky(f);
	atomic_store(&page_version, 1);
	struct http_server *h;
	char base[64];
	struct engine *en = net_engine(f, &h, base, sizeof base);
	char *id = page_monitor(f, base);
	int64_t t0 = clock_wall_us(&f->clk);
	settle_until(f, en, t0 + 10 * MINUTE, MINUTE); /* the baseline */
	atomic_store(&page_version, 2);
	atomic_store(&corrupt, true);
	settle_until(f, en, t0 + 65 * MINUTE, MINUTE);
	struct engine_status st;
	engine_status(en, &st);
	assert_true(st.checks >= 3); /* +0, +30 min, +60 min */
	engine_free(en);
	http_server_free(h);
	free(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_daily_across_dst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cron_fall_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_half_hour_zone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_missed_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_resume_one_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shards_shared_and_taken_over, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slot_retried_when_store_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_applied_when_store_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_then_due_slot_both_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_breach_retried_when_store_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_page_change_retried_when_store_down, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_damaged_snapshot_not_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slot_in_flight_not_saved_as_run, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
