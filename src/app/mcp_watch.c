/*
 * mcp_watch.c - turn task events into notifications/resources/updated.
 *
 * One thread follows the store live from the head it had when the watcher
 * started (no durable checkpoint: a client that reconnects re-reads what it
 * needs).  The store's subscription sees appends of other processes too
 * (the daemon's engine, `ambient task ...`).  For every batch of task
 * events it tells the server, once per URI, which resources changed; the
 * server forwards that to the sessions subscribed to them.
 */
#include "mcp_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "domain/task.h"

#define WATCH_BATCH 256
#define WATCH_POLL_MS 200      /* longest wait before looking at the stop flag */
#define WATCH_BACKOFF_MS 1000  /* after a store error */
#define WATCH_TYPES_MAX 100000 /* remembered task types; forgotten all at once past it */

struct watch_start {
	struct app_mcp *a;
	struct store_sub *sub;
};

static bool stopping(struct app_mcp *a)
{
	bool s;

	pthread_mutex_lock(&a->mu);
	s = a->stop;
	pthread_mutex_unlock(&a->mu);
	return s;
}

/* Wait up to ms unless told to stop. */
static void pause_ms(struct app_mcp *a, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&a->mu);
	while (!a->stop && pthread_cond_timedwait(&a->cond, &a->mu, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&a->mu);
}

/* The type of a task (borrowed from `types`), or NULL when unknown. */
static const char *type_of(struct app_mcp *a, json_t *types, const char *id,
			   const struct store_event *ev)
{
	const char *t = json_string_value(json_object_get(types, id));
	json_t *task = NULL;

	if (t)
		return t;
	if (strcmp(ev->type, TASK_EV_CREATED) == 0)
		t = json_get_str(ev->data, "task_type");
	if (!t && store_proj_get(a->store, APP_TASKS_PROJECTION, ev->stream, &task, NULL) != ERR_OK)
		app_task_get(a->store, id, &task, NULL); /* deleted: fold its stream */
	if (!t)
		t = json_get_str(task, "task_type");
	if (!t || task_type_parse(t, &(int){0}, NULL) != ERR_OK) {
		json_decref(task);
		return NULL;
	}
	if (json_object_size(types) >= WATCH_TYPES_MAX)
		json_object_clear(types);
	json_object_set_new(types, id, json_string(t));
	json_decref(task);
	return json_string_value(json_object_get(types, id));
}

static void add_uri(json_t *set, const char *fmt, const char *arg)
{
	char uri[STORE_STREAM_MAX + 64];

	snprintf(uri, sizeof uri, fmt, arg);
	json_object_set_new(set, uri, json_true());
}

static void notify(struct app_mcp *a, json_t *types, const struct store_event_list *evs)
{
	json_t *uris = json_object(), *v;
	const char *uri;

	for (size_t i = 0; i < evs->count; i++) {
		const struct store_event *ev = &evs->items[i];
		const char *id = task_id_of_stream(ev->stream), *type;

		if (!id)
			continue;
		add_uri(uris, "event://tasks/%s", id);
		add_uri(uris, "event://tasks/%s/events", id);
		if ((type = type_of(a, types, id, ev)))
			add_uri(uris, "event://tasks/by-type/%s", type);
		add_uri(uris, "%s", "event://tasks");
		add_uri(uris, "%s", "event://tasks/active");
		add_uri(uris, "%s", "event://status");
	}
	/* One call for the batch: sessions kept in the database are refreshed
	 * once per batch, not once per URI. */
	size_t n = 0;
	const char **list = xcalloc(json_object_size(uris) + 1, sizeof(*list));
	json_object_foreach(uris, uri, v)
		list[n++] = uri;
	if (n)
		mcp_server_resources_updated(a->watch_srv, list, n);
	free(list);
	json_decref(uris);
}

static const struct store_filter task_streams = {.stream_prefix = TASK_STREAM_PREFIX};

/* Nobody is subscribed: move past what the log holds without reading it,
 * and wait for it to grow.  The head is read before the sessions are
 * looked at, so whatever is appended after a subscription is still read.
 * False when the watcher should read as usual. */
static bool skip_unwatched(struct app_mcp *a, struct store_sub **sub)
{
	int64_t head = 0;
	if (store_head(a->store, &head, NULL) != ERR_OK || mcp_server_may_notify(a->watch_srv))
		return false;
	if (head > store_sub_position(*sub)) {
		store_sub_free(*sub);
		*sub = store_subscribe(a->store, NULL, head, &task_streams);
	}
	store_wait(a->store, head, WATCH_POLL_MS, NULL);
	return true;
}

static void *watch_main(void *arg)
{
	struct watch_start *ws = arg;
	struct app_mcp *a = ws->a;
	struct store_sub *sub = ws->sub;
	json_t *types = json_object();

	free(ws);
	while (!stopping(a)) {
		if (skip_unwatched(a, &sub))
			continue;
		struct store_event_list evs = {0};
		struct err e = {0};
		int rc = store_sub_next(sub, WATCH_BATCH, WATCH_POLL_MS, &evs, &e);

		if (rc == ERR_OK)
			notify(a, types, &evs);
		store_event_list_cleanup(&evs);
		if (rc && rc != ERR_TIMEOUT) {
			log_warn("mcp watcher: reading the event store failed: %s; retrying",
				 err_msg(&e));
			pause_ms(a, WATCH_BACKOFF_MS);
		}
	}
	store_sub_free(sub);
	json_decref(types);
	return NULL;
}

int app_mcp_watch_start(struct app_mcp *a, struct mcp_server *srv, struct err *e)
{
	struct watch_start *ws;
	int64_t head = 0;
	int rc;

	pthread_mutex_lock(&a->mu);
	rc = a->watching ? ERR_STATE : ERR_OK;
	pthread_mutex_unlock(&a->mu);
	if (rc)
		return err_set(e, ERR_STATE, "the MCP resource watcher is already running");
	/* Start at the head as it is now: what is appended after this call
	 * returns is seen. */
	if ((rc = store_head(a->store, &head, e)))
		return rc;
	ws = xmalloc(sizeof *ws);
	ws->a = a;
	ws->sub = store_subscribe(a->store, NULL, head, &task_streams);
	a->watch_srv = srv;
	a->stop = false;
	if ((rc = pthread_create(&a->thread, NULL, watch_main, ws)) != 0) {
		store_sub_free(ws->sub);
		free(ws);
		return err_set(e, ERR_INTERNAL, "cannot start the MCP resource watcher: %s",
			       strerror(rc));
	}
	pthread_mutex_lock(&a->mu);
	a->watching = true;
	pthread_mutex_unlock(&a->mu);
	return ERR_OK;
}

void app_mcp_watch_stop(struct app_mcp *a)
{
	bool was;

	pthread_mutex_lock(&a->mu);
	was = a->watching;
	a->stop = true;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->mu);
	if (!was)
		return;
	pthread_join(a->thread, NULL);
	pthread_mutex_lock(&a->mu);
	a->watching = false;
	pthread_mutex_unlock(&a->mu);
}
