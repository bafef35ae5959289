/*
 * audit.c - tool calls as events, written in batches (see audit.h).
 */
#include "audit.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "common/uuid.h"
#include "common/xalloc.h"

#define BATCH_MAX 256
#define WRITE_EVERY_MS 200

struct record {
	struct record *next;
	char stream[80];
	json_t *data;
	json_t *meta;
	char event_id[UUID_STR_LEN + 1];
};

struct audit {
	struct store *store;
	struct clock *clock;
	pthread_mutex_t mu;
	pthread_cond_t wake, done;
	struct record *head, **tail;
	size_t queued;
	uint64_t enqueued_seq, written_seq; /* records handed in / handled */
	bool stop;
	pthread_t thread;

	/* metrics */
	json_t *tools; /* name -> counters */
	int64_t since_us;
	long written, failed_appends, calls;
};

static void append_batch(struct audit *a, struct record *list)
{
	/* one append per stream (day); records arrive in order, so a batch
	 * spans at most two days */
	struct store_new_event evs[BATCH_MAX];
	struct record *r = list;

	while (r) {
		const char *stream = r->stream;
		size_t k = 0;
		struct record *first = r;
		while (r && k < BATCH_MAX && strcmp(r->stream, stream) == 0) {
			memcpy(evs[k].event_id, r->event_id, sizeof evs[k].event_id);
			evs[k].type = AUDIT_EV_TOOL_CALLED;
			evs[k].data = r->data;
			evs[k].metadata = r->meta;
			k++;
			r = r->next;
		}
		struct err e = {0};
		if (store_append(a->store, first->stream, STORE_EXPECT_ANY, evs, k, NULL, &e)) {
			log_error("audit: could not record %zu tool calls: %s", k, e.msg);
			pthread_mutex_lock(&a->mu);
			a->failed_appends++;
			pthread_mutex_unlock(&a->mu);
		} else {
			pthread_mutex_lock(&a->mu);
			a->written += (long)k;
			pthread_mutex_unlock(&a->mu);
		}
	}
}

static void free_list(struct record *r)
{
	while (r) {
		struct record *next = r->next;
		json_decref(r->data);
		json_decref(r->meta);
		free(r);
		r = next;
	}
}

static void *writer(void *arg)
{
	struct audit *a = arg;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		while (!a->head && !a->stop)
			pthread_cond_wait(&a->wake, &a->mu);
		if (!a->head && a->stop)
			break;
		if (a->queued < BATCH_MAX && !a->stop) {
			/* let a few more records join the batch */
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += WRITE_EVERY_MS * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&a->wake, &a->mu, &ts);
		}
		/* take at most BATCH_MAX records */
		struct record *list = a->head, *r = list, *last = NULL;
		size_t n = 0;
		while (r && n < BATCH_MAX) {
			last = r;
			r = r->next;
			n++;
		}
		if (!list)
			continue;
		a->head = r;
		if (!r)
			a->tail = &a->head;
		last->next = NULL;
		a->queued -= n;
		pthread_mutex_unlock(&a->mu);

		append_batch(a, list);
		free_list(list);

		pthread_mutex_lock(&a->mu);
		a->written_seq += n;
		pthread_cond_broadcast(&a->done);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

struct audit *audit_new(struct store *s, struct clock *clk)
{
	struct audit *a = xcalloc(1, sizeof *a);

	a->store = s;
	a->clock = clk ? clk : clock_system();
	a->tail = &a->head;
	a->tools = json_object();
	a->since_us = clock_wall_us(a->clock);
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->wake, NULL);
	pthread_cond_init(&a->done, NULL);
	if (pthread_create(&a->thread, NULL, writer, a)) {
		log_error("audit: cannot start the writer thread; tool calls are not recorded");
		a->stop = true;
	}
	return a;
}

void audit_free(struct audit *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	bool running = !a->stop;
	a->stop = true;
	pthread_cond_broadcast(&a->wake);
	pthread_mutex_unlock(&a->mu);
	if (running)
		pthread_join(a->thread, NULL);
	free_list(a->head);
	json_decref(a->tools);
	pthread_cond_destroy(&a->done);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

static void count(struct audit *a, const json_t *data)
{
	const char *tool = json_get_str(data, "tool"), *outcome = json_get_str(data, "outcome");
	double ms = json_number_value(json_object_get(data, "duration_ms"));
	json_t *t;

	if (!tool || !outcome)
		return;
	t = json_object_get(a->tools, tool);
	if (!t) {
		t = json_pack("{s:I,s:f,s:f}", "calls", (json_int_t)0, "total_ms", 0.0, "max_ms",
			      0.0);
		json_object_set_new(a->tools, tool, t);
	}
	json_object_set_new(t, "calls", json_integer(json_get_int(t, "calls", 0) + 1));
	json_object_set_new(t, outcome, json_integer(json_get_int(t, outcome, 0) + 1));
	json_object_set_new(t, "total_ms",
			    json_real(json_number_value(json_object_get(t, "total_ms")) + ms));
	if (ms > json_number_value(json_object_get(t, "max_ms")))
		json_object_set_new(t, "max_ms", json_real(ms));
	a->calls++;
}

void audit_record(struct audit *a, const char *principal, json_t *data)
{
	struct record *r = xcalloc(1, sizeof *r);
	char day[CLOCK_ISO_MAX];
	int64_t now = clock_wall_us(a->clock);

	clock_format_utc(now, day);
	day[10] = '\0'; /* YYYY-MM-DD */
	snprintf(r->stream, sizeof r->stream, AUDIT_STREAM_PREFIX "%s", day);
	uuid_v7(a->clock, r->event_id);
	r->data = data;
	r->meta = json_pack("{s:s}", "principal", principal ? principal : "local");

	pthread_mutex_lock(&a->mu);
	count(a, data);
	if (a->stop) { /* no writer: say so rather than pile up */
		pthread_mutex_unlock(&a->mu);
		free_list(r);
		return;
	}
	*a->tail = r;
	a->tail = &r->next;
	a->queued++;
	a->enqueued_seq++;
	if (a->queued == 1 || a->queued >= BATCH_MAX) /* a new batch, or a full one */
		pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->mu);
}

void audit_flush(struct audit *a)
{
	pthread_mutex_lock(&a->mu);
	uint64_t target = a->enqueued_seq;
	pthread_cond_broadcast(&a->wake);
	while (a->written_seq < target && !a->stop)
		pthread_cond_wait(&a->done, &a->mu);
	pthread_mutex_unlock(&a->mu);
}

static bool matches(const json_t *data, const char *principal, const char *tool)
{
	if (tool && *tool) {
		const char *t = json_get_str(data, "tool");
		if (!t || strcmp(t, tool) != 0)
			return false;
	}
	if (principal && *principal) {
		const char *u = json_get_str(data, "user_id"), *p = json_get_str(data, "principal");
		const char *k = json_get_str(data, "key_id");
		const char *pu = json_get_str(data, "principal_user");
		if (!(u && strcmp(u, principal) == 0) && !(p && strcmp(p, principal) == 0) &&
		    !(k && strcmp(k, principal) == 0) && !(pu && strcmp(pu, principal) == 0))
			return false;
	}
	return true;
}

int audit_query(struct audit *a, size_t limit, const char *principal, const char *tool,
		json_t **records, struct err *e)
{
	struct store_filter f = {.stream_prefix = AUDIT_STREAM_PREFIX,
				 .type = AUDIT_EV_TOOL_CALLED};
	int64_t before = 0; /* from the end */
	size_t scanned = 0;
	int rc = ERR_OK;

	if (limit == 0)
		limit = AUDIT_LIMIT_DEFAULT;
	if (limit > AUDIT_LIMIT_MAX)
		limit = AUDIT_LIMIT_MAX;
	audit_flush(a);
	*records = json_array();
	while (json_array_size(*records) < limit && scanned < AUDIT_SCAN_MAX) {
		struct store_event_list evs = {0};
		if ((rc = store_read_all(a->store, before, true, 500, &f, &evs, e)))
			break;
		if (!evs.count) {
			store_event_list_cleanup(&evs);
			break;
		}
		for (size_t i = 0; i < evs.count && json_array_size(*records) < limit; i++) {
			const struct store_event *ev = &evs.items[i];
			char ts[CLOCK_ISO_MAX];
			if (!matches(ev->data, principal, tool))
				continue;
			json_t *o = json_object();
			clock_format_utc(ev->recorded_at_us, ts);
			json_object_set_new(o, "time", json_string(ts));
			json_object_update(o, ev->data);
			json_object_set_new(o, "position", json_integer(ev->position));
			json_array_append_new(*records, o);
		}
		scanned += evs.count;
		before = evs.items[evs.count - 1].position;
		store_event_list_cleanup(&evs);
		if (before <= 1)
			break;
	}
	if (rc) {
		json_decref(*records);
		*records = NULL;
	}
	return rc;
}

json_t *audit_metrics(struct audit *a)
{
	char since[CLOCK_ISO_MAX];
	json_t *tools = json_object(), *v;
	const char *k;

	pthread_mutex_lock(&a->mu);
	json_object_foreach(a->tools, k, v) {
		json_t *t = json_deep_copy(v);
		long long calls = json_get_int(t, "calls", 0);
		double total = json_number_value(json_object_get(t, "total_ms"));
		json_object_del(t, "total_ms");
		json_object_set_new(t, "avg_ms", json_real(calls ? total / (double)calls : 0.0));
		json_object_set_new(tools, k, t);
	}
	clock_format_utc(a->since_us, since);
	json_t *o = json_pack("{s:o,s:I,s:s,s:{s:I,s:I,s:I}}", "tools", tools, "calls",
			      (json_int_t)a->calls, "since", since, "audit", "queued",
			      (json_int_t)a->queued, "written", (json_int_t)a->written,
			      "failed_appends", (json_int_t)a->failed_appends);
	pthread_mutex_unlock(&a->mu);
	return o;
}
