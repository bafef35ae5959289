/*
 * delivery.c - the feedback webhook subscriber (see delivery.h and
 * docs/delivery.md).
 *
 * State, all on the loop thread:
 *   - tasks: a hash table of struct dtask by task id: the task's cached
 *     callback URL and payload fields, its FIFO of events to deliver, the
 *     attempt in flight, its retry timer;
 *   - the window: every event held in memory and not yet done, as a list
 *     sorted by log position; the durable checkpoint is one below the first
 *     of them (or of the first event of an overflowed task still in the
 *     store), else the position read;
 *   - a timer heap of tasks on (due time, sequence), injected clock;
 *   - the set of endpoints disabled after a 410, mirrored in soft state.
 *
 * One turn (delivery_step): lease; read the log after the subscription's
 * position; refill overflowed tasks; run the tasks whose time has come (an
 * attempt); collect the outcomes the recorder made durable; move the
 * checkpoint; wait in the fetcher until a transfer finishes, a retry is due
 * or the log grows; hand the outcomes decided meanwhile to the recorder.
 *
 * Outcomes (feedback_delivered/failed) are recorded in batches, off the
 * loop: a decided head leaves its task's FIFO at once (the task's next event
 * may start) and joins the outbox, still in the window, so the checkpoint
 * cannot pass it.  The recorder thread appends a batch, one store_append per
 * task stream, all at once from a small pool so the store's group commit
 * makes them one transaction and one fsync; then the loop drops the items
 * from the window.  A batch the store refused goes back to the front of the
 * outbox (per-stream order kept) and is tried again after RECORD_RETRY_US.
 * In manual mode the batch is recorded inline at the end of the turn.
 */
#define _GNU_SOURCE
/* <openssl/types.h> declares a type ERR_STATE, which is also one of our
 * error codes (common/err.h): OpenSSL comes first, under another name. */
#define ERR_STATE OPENSSL_ERR_STATE
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#undef ERR_STATE

#include "engine/delivery.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/json.h"
#include "common/log.h"
#include "common/samples.h"
#include "common/timer_heap.h"
#include "common/uuid.h"
#include "common/workpool.h"
#include "common/xalloc.h"
#include "domain/diff.h"
#include "domain/event_types.h"
#include "domain/task.h"
#include "engine/engine.h"
#include "engine/fetch.h"

#define TASKS_PROJECTION "tasks"
#define EV_DELIVERED "feedback_delivered"
#define EV_FAILED "feedback_failed"

#define READ_BATCH 500
#define READ_PER_STEP 5000  /* events read in one turn, so retries stay on time */
#define STREAM_BATCH 256    /* events read from one stream at a time (refill) */
#define REFILL_MIN 16       /* a drained task always gets this many back */
#define REFILL_MAX 256      /* and its fair share of the window up to this many */
#define ACK_EVERY_US 250000 /* checkpoint writes, at most */
#define STATUS_EVERY_US 2000000
#define DISABLED_EVERY_US 5000000 /* re-read the 410 marks (delivery_endpoint_enable) */
#define LOG_POLL_US 1000000       /* read the log at least this often */
#define IDLE_WAIT_MS 1000
#define RECORD_RETRY_US 1000000 /* an outcome the store refused is retried after */
#define RECORD_THREADS 64       /* concurrent appends of one outcome batch */
#define RECORD_EVERY_US 100000  /* a batch of outcomes at most this often... */
#define RECORD_BATCH_MIN 4000   /* ...unless this many wait */
#define MAX_RETRY_AFTER_US (INT64_C(24) * 3600 * 1000000)
#define TASK_CACHE_MAX 50000 /* idle tasks kept (their URL cached) */
#define RESPONSE_MAX 65536   /* response body kept (and ignored) */
#define KEY_MAX 256          /* HMAC key bytes */
#define ERROR_MAX 600

static const int svix_schedule[] = {5000, 300000, 1800000, 7200000, 18000000, 36000000, 36000000};

enum outcome { OUT_NONE, OUT_DELIVERED, OUT_FAILED };

/* One event to deliver. */
struct item {
	struct item *wprev, *wnext; /* the window, by position */
	struct item *qnext;         /* the task's FIFO, then the outbox */
	char stream[80];            /* the task's stream (outcomes go there) */
	char task_id[64];
	int64_t position;
	int64_t recorded_at_us;
	char event_id[UUID_STR_LEN + 1];
	char *type;
	char *correlation_id;
	char *body; /* the payload, built when the event is read */
	size_t body_len;
	int attempts;
	char *last_error; /* of the last failed attempt */
	/* decided, to be recorded */
	enum outcome outcome;
	long status;
	char *error;
	char *url;
};

/* A task with events to deliver (or whose URL is cached). */
struct dtask {
	struct delivery *d;
	struct dtask *hnext; /* hash chain */
	char id[64];
	char stream[80];
	/* cached from the task's state */
	bool info_loaded;
	char *callback_url; /* NULL: the default */
	char *task_type, *user_id, *description;
	json_t *notification;
	/* the FIFO */
	struct item *qhead, *qtail;
	size_t qlen;
	/* the attempt in flight */
	bool in_flight;
	uint64_t fetch_id;
	char *attempt_url;
	struct timer_node timer; /* armed while it waits to run */
	/* events beyond the memory caps wait in the store */
	bool overflow;
	int64_t ovf_version;  /* the stream version to read from */
	int64_t ovf_position; /* no undone event of the task lies below it */
	struct dtask *onext, *oprev;
};

struct delivery {
	struct delivery_options opt;
	char owner[128];
	char lease_name[64], checkpoint_name[64], status_key[64];
	int64_t hold_off_us; /* a partition given up is not taken back before (mono) */
	char *default_url;
	char *user_agent;
	unsigned char key[KEY_MAX];
	size_t keylen;
	bool sign;
	int *schedule;
	size_t nschedule;
	struct store *store;
	struct clock *clock;
	struct fetcher *fetcher;

	pthread_t loop_thread, watch_thread;
	bool started;
	atomic_bool stop;
	atomic_bool log_grew;

	/* loop state */
	bool leader;
	int64_t lease_next_us;
	struct store_sub *sub;
	int64_t read_pos; /* every event up to here was read */
	int64_t acked;    /* the durable checkpoint */
	int64_t log_read_us, ack_us, status_us, disabled_us;
	struct dtask **buckets;
	size_t nbuckets, ntasks;
	struct timer_heap timers;
	struct item *whead, *wtail;
	size_t nwindow, wbytes;
	struct dtask *ovf;
	size_t novf;
	long in_flight;
	json_t *disabled;   /* url -> mark */
	struct samples lat; /* append-to-2xx latencies */

	pthread_mutex_t slock;
	struct delivery_status st;

	/* outcomes: decided (loop) -> recorder -> recorded (loop) */
	struct item *out_head, *out_tail; /* decided, not handed over (loop thread) */
	size_t out_count;
	int64_t out_retry_us; /* hand over no earlier (after a failure) */
	int64_t out_next_us;  /* nor before (RECORD_EVERY_US) */
	pthread_t rec_thread;
	pthread_mutex_t rlock;
	pthread_cond_t rcond;
	struct item *rec_batch; /* handed to the recorder */
	bool rec_busy;          /* the recorder has a batch (loop's view) */
	struct item *rec_done;  /* the recorded batch, back to the loop */
	int rec_rc;             /* its result */
	bool rec_ready;         /* rec_done is set */
	bool rec_stop;
	bool threaded; /* the recorder thread runs */
	struct workpool *rec_pool;
};

/* ---- small things ------------------------------------------------------------ */

static int64_t mono_us(struct delivery *d)
{
	return clock_mono_us(d->clock);
}

static void count(struct delivery *d, long *field, long n)
{
	pthread_mutex_lock(&d->slock);
	*field += n;
	pthread_mutex_unlock(&d->slock);
}

static bool is_http_url(const char *u)
{
	return u && (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0);
}

/* Events a person may care about: monitor output, failed checks, and
 * automatic pauses.  Never feedback_* (no loops) nor other lifecycle. */
static bool deliverable(const char *type, const json_t *data)
{
	const struct event_type_info *ti = event_type_find(type);
	if (ti && ti->source == EVENT_SOURCE_MONITOR)
		return true;
	if (strcmp(type, "task_check_failed") == 0)
		return true;
	if (strcmp(type, TASK_EV_PAUSED) == 0)
		return json_is_true(json_object_get(data, "automatic"));
	return false;
}

/* A UUID (version 8) that is a function of (event id, outcome type), so an
 * outcome recorded again after a restart is stored once. */
static void outcome_event_id(const char *event_id, const char *type, char out[UUID_STR_LEN + 1])
{
	char *in = xasprintf("delivery|%s|%s", event_id, type);
	char hex[DIFF_HASH_HEX_LEN + 1];
	diff_hash(in, strlen(in), hex);
	free(in);
	hex[12] = '8';
	static const char variant[] = "89ab";
	char one[2] = {hex[16], 0};
	hex[16] = variant[strtoul(one, NULL, 16) & 3];
	snprintf(out, UUID_STR_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
		 hex + 16, hex + 20);
}

/* ---- signatures -------------------------------------------------------------- */

/* The key bytes of "whsec_<base64>" (or plain base64; padding optional). */
static int secret_key(const char *secret, unsigned char *key, size_t *len, struct err *e)
{
	const char *b = secret ? secret : "";
	if (strncmp(b, "whsec_", 6) == 0)
		b += 6;
	size_t n = strlen(b);
	while (n > 0 && b[n - 1] == '=' && strlen(b) - n < 2)
		n--;
	if (n == 0)
		return err_set(e, ERR_INVALID,
			       "the webhook secret is empty; give \"whsec_\" followed by the "
			       "base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand "
			       "-base64 32))");
	if (n > (KEY_MAX / 3) * 4)
		return err_set(e, ERR_INVALID, "the webhook secret is longer than %d key bytes",
			       KEY_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = b[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/'))
			return err_set(e, ERR_INVALID,
				       "the webhook secret is not \"whsec_\" followed by base64 "
				       "(bad character at offset %zu after the prefix)",
				       i);
	}
	if (n % 4 == 1)
		return err_set(e, ERR_INVALID,
			       "the webhook secret is not valid base64 after "
			       "\"whsec_\" (its length is wrong)");
	size_t pads = (4 - n % 4) % 4;
	char *tmp = xmalloc(n + pads + 1);
	memcpy(tmp, b, n);
	memset(tmp + n, '=', pads);
	tmp[n + pads] = 0;
	unsigned char *out = xmalloc((n + pads) / 4 * 3 + 1);
	int r = EVP_DecodeBlock(out, (const unsigned char *)tmp, (int)(n + pads));
	free(tmp);
	if (r < 0 || (size_t)r <= pads) {
		free(out);
		return err_set(e, ERR_INVALID,
			       "the webhook secret is not valid base64 after "
			       "\"whsec_\"");
	}
	*len = (size_t)r - pads;
	memcpy(key, out, *len);
	OPENSSL_cleanse(out, (size_t)r);
	free(out);
	return ERR_OK;
}

static void sign_with_key(const unsigned char *key, size_t keylen, const char *msg_id, int64_t ts,
			  const void *body, size_t body_len, char out[DELIVERY_SIG_MAX])
{
	char prefix[UUID_STR_LEN + 64 + 256];
	int pn = snprintf(prefix, sizeof(prefix), "%.255s.%lld.", msg_id, (long long)ts);
	size_t n = (size_t)pn + body_len;
	unsigned char *msg = xmalloc(n + 1);
	memcpy(msg, prefix, (size_t)pn);
	if (body_len)
		memcpy(msg + pn, body, body_len);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	HMAC(EVP_sha256(), key, (int)keylen, msg, n, mac, &maclen);
	free(msg);
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)maclen);
}

int delivery_sign(const char *secret, const char *msg_id, int64_t timestamp, const void *body,
		  size_t body_len, char out[DELIVERY_SIG_MAX], struct err *e)
{
	unsigned char key[KEY_MAX];
	size_t keylen = 0;
	int rc = secret_key(secret, key, &keylen, e);
	if (rc != ERR_OK)
		return rc;
	sign_with_key(key, keylen, msg_id ? msg_id : "", timestamp, body, body_len, out);
	OPENSSL_cleanse(key, sizeof(key));
	return ERR_OK;
}

/* ---- tasks: a hash table by id ---------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static struct dtask *task_find(struct delivery *d, const char *id)
{
	if (!d->nbuckets)
		return NULL;
	for (struct dtask *t = d->buckets[hash_str(id) & (d->nbuckets - 1)]; t; t = t->hnext)
		if (strcmp(t->id, id) == 0)
			return t;
	return NULL;
}

static void table_grow(struct delivery *d)
{
	size_t nb = d->nbuckets ? d->nbuckets * 2 : 256;
	struct dtask **b = xcalloc(nb, sizeof(*b));
	for (size_t i = 0; i < d->nbuckets; i++) {
		for (struct dtask *t = d->buckets[i], *next; t; t = next) {
			next = t->hnext;
			size_t k = hash_str(t->id) & (nb - 1);
			t->hnext = b[k];
			b[k] = t;
		}
	}
	free(d->buckets);
	d->buckets = b;
	d->nbuckets = nb;
}

static struct dtask *task_get(struct delivery *d, const char *id)
{
	struct dtask *t = task_find(d, id);
	if (t)
		return t;
	if (d->ntasks >= d->nbuckets)
		table_grow(d);
	t = xcalloc(1, sizeof(*t));
	t->d = d;
	snprintf(t->id, sizeof(t->id), "%s", id);
	task_stream_name(id, t->stream, sizeof(t->stream));
	timer_node_init(&t->timer);
	size_t k = hash_str(id) & (d->nbuckets - 1);
	t->hnext = d->buckets[k];
	d->buckets[k] = t;
	d->ntasks++;
	return t;
}

static void task_info_clear(struct dtask *t)
{
	free(t->callback_url);
	free(t->task_type);
	free(t->user_id);
	free(t->description);
	json_decref(t->notification);
	t->callback_url = t->task_type = t->user_id = t->description = NULL;
	t->notification = NULL;
	t->info_loaded = false;
}

static void item_free(struct item *it)
{
	if (!it)
		return;
	free(it->type);
	free(it->correlation_id);
	free(it->body);
	free(it->last_error);
	free(it->error);
	free(it->url);
	free(it);
}

/* ---- the window: items in memory, by position -------------------------------------- */

static void window_unlink(struct delivery *d, struct item *it)
{
	if (it->wprev)
		it->wprev->wnext = it->wnext;
	else
		d->whead = it->wnext;
	if (it->wnext)
		it->wnext->wprev = it->wprev;
	else
		d->wtail = it->wprev;
	it->wprev = it->wnext = NULL;
	d->nwindow--;
	d->wbytes -= it->body_len;
}

/* Insert in position order.  *hint (NULL at first) is the last item
 * inserted by the caller, whose positions ascend. */
static void window_insert(struct delivery *d, struct item *it, struct item **hint)
{
	struct item *after;
	if (hint && *hint) {
		after = *hint;
		while (after->wnext && after->wnext->position < it->position)
			after = after->wnext;
	} else if (d->whead &&
		   it->position - d->whead->position < d->wtail->position - it->position) {
		/* nearer the head (an overflowed task's old events): walk from there */
		after = d->whead;
		if (after->position > it->position) {
			after = NULL;
		} else {
			while (after->wnext && after->wnext->position < it->position)
				after = after->wnext;
		}
	} else {
		after = d->wtail;
		while (after && after->position > it->position)
			after = after->wprev;
	}
	it->wprev = after;
	it->wnext = after ? after->wnext : d->whead;
	if (it->wnext)
		it->wnext->wprev = it;
	else
		d->wtail = it;
	if (after)
		after->wnext = it;
	else
		d->whead = it;
	d->nwindow++;
	d->wbytes += it->body_len;
	if (hint)
		*hint = it;
}

/* ---- timers ------------------------------------------------------------------------------ */

static struct dtask *timer_task(struct timer_node *t)
{
	return t ? timer_heap_entry(t, struct dtask, timer) : NULL;
}

/* Run t at `due_us` (injected monotonic clock). */
static void task_kick(struct delivery *d, struct dtask *t, int64_t due_us)
{
	timer_heap_arm(&d->timers, &t->timer, due_us);
}

/* ---- task state: callback URL and payload fields -------------------------------------- */

/* Fold a task's stream (a deleted task has left the projection) into
 * *out, or the store's error (a stream that does not fold has no state). */
static int fold_stream(struct delivery *d, const char *stream, json_t **out, struct err *e)
{
	int rc = task_load_stream(d->store, stream, out, NULL, e);
	return rc == ERR_CORRUPT ? ERR_OK : rc;
}

static char *dup_str_member(const json_t *o, const char *key)
{
	const char *s = json_get_str(o, key);
	return s ? xstrdup(s) : NULL;
}

static void task_info_load(struct delivery *d, struct dtask *t)
{
	if (t->info_loaded)
		return;
	task_info_clear(t);
	json_t *state = NULL;
	struct err e = {0};
	int rc = store_proj_get(d->store, TASKS_PROJECTION, t->stream, &state, &e);
	if (rc == ERR_NOT_FOUND)
		rc = fold_stream(d, t->stream, &state, &e);
	if (rc != ERR_OK) {
		log_warn("delivery: cannot read task %s (%s); its deliveries wait for the store",
			 t->id, err_msg(&e));
		return; /* not loaded: tried again next time */
	}
	t->info_loaded = true;
	if (!state)
		return;
	const char *u = json_get_str(state, "callback_url");
	if (u && *u)
		t->callback_url = xstrdup(u);
	t->task_type = dup_str_member(state, "task_type");
	t->user_id = dup_str_member(state, "user_id");
	t->description = dup_str_member(state, "description");
	json_t *n = json_object_get(json_object_get(state, "config"), "notification");
	if (n && !json_is_null(n))
		t->notification = json_deep_copy(n);
	json_decref(state);
}

/* The URL to deliver to.  A callback_url equal to the original's default
 * (which task creation fills in when none is given) means "the default",
 * so --feedback-url / EVENT_FEEDBACK_URL apply to it. */
static const char *resolve_url(struct delivery *d, const char *callback_url)
{
	if (!callback_url || !*callback_url || strcmp(callback_url, DELIVERY_DEFAULT_URL) == 0)
		return d->default_url;
	return callback_url;
}

static const char *task_url(struct delivery *d, struct dtask *t)
{
	task_info_load(d, t);
	return resolve_url(d, t->callback_url);
}

/* The payload: the original's fields, then ambient's. */
static char *build_body(struct delivery *d, struct dtask *t, const struct store_event *ev,
			size_t *len)
{
	task_info_load(d, t);
	char ts[CLOCK_ISO_MAX];
	clock_format_local(ev->recorded_at_us, ts);
	const json_t *data = ev->data;
	const char *task_type = t->task_type ? t->task_type : json_get_str(data, "task_type");
	const char *user_id = t->user_id ? t->user_id : json_get_str(data, "user_id");
	const char *desc = t->description ? t->description : json_get_str(data, "description");
	json_t *notification =
		t->notification ? t->notification : json_object_get(data, "notification");
	json_t *p = json_object();
	json_object_set_new(p, "task_id", json_string(t->id));
	json_object_set_new(p, "event_type", json_string_lossy(ev->type));
	json_object_set_new(p, "data", data ? json_incref((json_t *)data) : json_object());
	json_object_set_new(p, "timestamp", json_string(ts));
	json_object_set_new(p, "priority", json_integer(event_type_priority(ev->type)));
	json_object_set_new(p, "event_id", json_string(ev->event_id));
	/* Unknown fields are left out rather than null: receivers check types. */
	if (task_type)
		json_object_set_new(p, "task_type", json_string_lossy(task_type));
	json_object_set_new(p, "user_id", json_string_lossy(user_id ? user_id : "default"));
	if (desc)
		json_object_set_new(p, "description", json_string_lossy(desc));
	json_object_set_new(p, "position", json_integer(ev->position));
	/* An object (the seed's form), an Apprise-style URL or an array of them. */
	if (json_is_object(notification) || json_is_array(notification) ||
	    json_is_string(notification))
		json_object_set_new(p, "notification", json_deep_copy(notification));
	char *text = json_to_text(p);
	json_decref(p);
	*len = strlen(text);
	return text;
}

static struct item *item_from_event(struct delivery *d, struct dtask *t,
				    const struct store_event *ev)
{
	struct item *it = xcalloc(1, sizeof(*it));
	it->position = ev->position;
	it->recorded_at_us = ev->recorded_at_us;
	memcpy(it->event_id, ev->event_id, sizeof(it->event_id));
	it->type = xstrdup(ev->type);
	const char *corr = json_get_str(ev->metadata, "correlation_id");
	it->correlation_id = corr ? xstrdup(corr) : NULL;
	it->body = build_body(d, t, ev, &it->body_len);
	snprintf(it->stream, sizeof(it->stream), "%s", t->stream);
	snprintf(it->task_id, sizeof(it->task_id), "%s", t->id);
	return it;
}

static void enqueue(struct delivery *d, struct dtask *t, struct item *it, struct item **hint)
{
	if (t->qtail)
		t->qtail->qnext = it;
	else
		t->qhead = it;
	t->qtail = it;
	t->qlen++;
	window_insert(d, it, hint);
}

/* ---- endpoints disabled by a 410 -------------------------------------------------------- */

static void disabled_key(const char *url, char **out)
{
	*out = xasprintf(DELIVERY_DISABLED_PREFIX "%s", url);
}

static bool url_disabled(struct delivery *d, const char *url)
{
	return json_object_get(d->disabled, url) != NULL;
}

static void disabled_refresh(struct delivery *d)
{
	json_t *docs = NULL;
	struct err e = {0};
	if (store_soft_list(d->store, DELIVERY_DISABLED_PREFIX, &docs, &e) != ERR_OK) {
		log_warn("delivery: cannot read the disabled endpoints: %s", err_msg(&e));
		return;
	}
	json_t *set = json_object();
	const char *key;
	json_t *doc;
	size_t pl = strlen(DELIVERY_DISABLED_PREFIX);
	json_object_foreach(docs, key, doc) {
		if (strlen(key) > pl)
			json_object_set(set, key + pl, doc);
	}
	json_decref(docs);
	json_decref(d->disabled);
	d->disabled = set;
}

static void url_disable(struct delivery *d, const char *url, struct dtask *by, const struct item *h)
{
	char at[CLOCK_ISO_MAX];
	int64_t now = clock_wall_us(d->clock);
	clock_format_utc(now, at);
	json_t *doc = json_pack("{s:s,s:s,s:I,s:i,s:s,s:s}", "url", url, "at", at, "at_us",
				(json_int_t)now, "status_code", 410, "task_id", by->id, "event_id",
				h->event_id);
	json_object_set(d->disabled, url, doc);
	char *key;
	disabled_key(url, &key);
	struct store_soft_item si = {.key = key, .doc = doc};
	struct err e = {0};
	if (store_soft_put(d->store, &si, 1, &e) != ERR_OK)
		log_warn("delivery: cannot record that %s is disabled: %s", url, err_msg(&e));
	free(key);
	json_decref(doc);
	log_warn("delivery: %s answered 410 Gone; its events fail from now on (update the task's "
		 "callback_url, or lift the mark, to deliver there again)",
		 url);
	/* Tasks waiting for a retry to that URL fail their events now. */
	size_t n = 0;
	size_t armed = timer_heap_size(&d->timers);
	struct dtask **waiting = xmalloc((armed + 1) * sizeof(*waiting));
	for (size_t i = 0; i < armed; i++) {
		struct dtask *t = timer_task(d->timers.items[i]);
		if (t != by && strcmp(task_url(d, t), url) == 0)
			waiting[n++] = t;
	}
	for (size_t i = 0; i < n; i++)
		task_kick(d, waiting[i], mono_us(d));
	free(waiting);
}

/* Lift the mark of url when it was set before `since_us`. */
static void url_enable(struct delivery *d, const char *url, int64_t since_us)
{
	json_t *doc = json_object_get(d->disabled, url);
	if (!doc || json_get_int(doc, "at_us", 0) > since_us)
		return;
	json_object_del(d->disabled, url);
	char *key;
	disabled_key(url, &key);
	struct store_soft_item si = {.key = key, .doc = NULL};
	struct err e = {0};
	if (store_soft_put(d->store, &si, 1, &e) != ERR_OK)
		log_warn("delivery: cannot lift the 410 mark of %s: %s", url, err_msg(&e));
	else
		log_info("delivery: delivering to %s again (a task's callback_url was set to it)",
			 url);
	free(key);
}

/* ---- overflow: a task's events beyond the memory caps stay in the store -------------- */

static void ovf_enter(struct delivery *d, struct dtask *t, const struct store_event *ev)
{
	t->overflow = true;
	t->ovf_version = ev->version;
	t->ovf_position = ev->position;
	t->oprev = NULL;
	t->onext = d->ovf;
	if (d->ovf)
		d->ovf->oprev = t;
	d->ovf = t;
	d->novf++;
	log_debug("delivery: task %s has more events than fit in memory; they wait in the store "
		  "from position %lld",
		  t->id, (long long)ev->position);
}

static void ovf_leave(struct delivery *d, struct dtask *t)
{
	if (!t->overflow)
		return;
	if (t->oprev)
		t->oprev->onext = t->onext;
	else
		d->ovf = t->onext;
	if (t->onext)
		t->onext->oprev = t->oprev;
	t->onext = t->oprev = NULL;
	t->overflow = false;
	d->novf--;
}

/* Read up to `max` of t's waiting events back from its stream (only those
 * the subscription has passed; the later ones it brings itself). */
static void ovf_refill(struct delivery *d, struct dtask *t, size_t max)
{
	size_t got = 0;
	bool caught_up = false;
	struct item *hint = NULL;
	while (got < max && !caught_up) {
		struct store_event_list l = {0};
		struct err e = {0};
		/* no more than needed: parsing events is most of the cost */
		size_t want = max - got < STREAM_BATCH ? max - got : STREAM_BATCH;
		if (store_read_stream(d->store, t->stream, t->ovf_version, false, want, &l, &e) !=
		    ERR_OK) {
			log_warn("delivery: cannot read the events of task %s: %s", t->id,
				 err_msg(&e));
			free(l.items);
			return;
		}
		size_t i = 0;
		for (; i < l.count && got < max; i++) {
			struct store_event *ev = &l.items[i];
			if (ev->position > d->read_pos) {
				caught_up = true;
				break;
			}
			t->ovf_version = ev->version + 1;
			t->ovf_position = ev->position + 1;
			if (!deliverable(ev->type, ev->data))
				continue;
			enqueue(d, t, item_from_event(d, t, ev), &hint);
			got++;
		}
		if (i == l.count && l.count < want)
			caught_up = true;
		store_event_list_cleanup(&l);
		free(l.items);
	}
	if (caught_up)
		ovf_leave(d, t);
	if (t->qhead && !t->in_flight && !timer_node_armed(&t->timer))
		task_kick(d, t, mono_us(d));
}

static size_t refill_size(struct delivery *d)
{
	size_t room = d->nwindow < d->opt.max_window ? d->opt.max_window - d->nwindow : 0;
	if (d->wbytes >= d->opt.max_window_bytes)
		room = 0;
	if (room > d->opt.max_task_queue)
		room = d->opt.max_task_queue;
	/* A drained task gets at least its fair share of the window (small reads
	 * cost a query each), within [REFILL_MIN, REFILL_MAX]: all overflowed
	 * tasks together overshoot the window by at most its size. */
	size_t least = d->opt.max_window / (d->novf ? d->novf : 1);
	if (least < REFILL_MIN)
		least = REFILL_MIN;
	if (least > REFILL_MAX)
		least = REFILL_MAX;
	if (least > d->opt.max_task_queue)
		least = d->opt.max_task_queue;
	return room > least ? room : least;
}

static void refill_pass(struct delivery *d)
{
	for (struct dtask *t = d->ovf, *next; t; t = next) {
		next = t->onext;
		if (!t->qhead && !t->in_flight)
			ovf_refill(d, t, refill_size(d));
	}
}

/* ---- attempts and outcomes ------------------------------------------------------------ */

static void task_run(struct delivery *d, struct dtask *t);

static void task_remove(struct delivery *d, struct dtask *t)
{
	timer_heap_disarm(&d->timers, &t->timer);
	ovf_leave(d, t);
	struct dtask **pp = &d->buckets[hash_str(t->id) & (d->nbuckets - 1)];
	while (*pp && *pp != t)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = t->hnext;
	d->ntasks--;
	for (struct item *it = t->qhead, *next; it; it = next) {
		next = it->qnext;
		window_unlink(d, it); /* every queued item is in the window */
		item_free(it);
	}
	task_info_clear(t);
	free(t->attempt_url);
	free(t);
}

static void record_latency(struct delivery *d, const struct item *h)
{
	int64_t lat = clock_wall_us(d->clock) - h->recorded_at_us;
	samples_add(&d->lat, lat);
}

static void decide(struct item *h, enum outcome o, const char *url, long status, const char *error)
{
	h->outcome = o;
	h->status = status;
	free(h->url);
	h->url = xstrdup(url ? url : "");
	free(h->error);
	h->error = error ? xstrdup(error) : NULL;
}

/* ---- recording outcomes, in batches ------------------------------------------------ */

/* The outcome event of h (data and metadata are new references). */
static void outcome_event(struct delivery *d, struct item *h, struct store_new_event *ne)
{
	bool ok = h->outcome == OUT_DELIVERED;
	const char *type = ok ? EV_DELIVERED : EV_FAILED;
	json_t *data = json_pack("{s:s,s:I,s:s}", "event_id", h->event_id, "position",
				 (json_int_t)h->position, "callback_url", h->url);
	if (ok) {
		json_object_set_new(data, "status_code", json_integer(h->status));
		json_object_set_new(data, "attempts", json_integer(h->attempts));
	} else {
		json_object_set_new(data, "error",
				    json_string_lossy(h->error ? h->error : "delivery failed"));
		json_object_set_new(data, "attempts", json_integer(h->attempts));
		if (h->status > 0)
			json_object_set_new(data, "status_code", json_integer(h->status));
	}
	json_t *meta = json_pack("{s:s,s:s,s:s}", "principal", "delivery", "causation_id",
				 h->event_id, "deliverer", d->owner);
	if (h->correlation_id)
		json_object_set_new(meta, "correlation_id", json_string(h->correlation_id));
	*ne = (struct store_new_event){.type = type, .data = data, .metadata = meta};
	outcome_event_id(h->event_id, type, ne->event_id);
}

/* The outcomes of one stream, appended by one pool job. */
struct rec_job {
	struct delivery *d;
	struct item **items;
	size_t n;
	int rc;
	struct err e;
	/* the batch's latch */
	pthread_mutex_t *mu;
	pthread_cond_t *cv;
	size_t *left;
};

/* Append n outcomes to their stream, at most STORE_APPEND_MAX at a time.  An
 * append that meets some of its ids already stored (recorded before a crash or
 * a lost lease) is a conflict: those events then go one at a time, each
 * idempotent. */
static int append_outcomes(struct delivery *d, struct item **items, size_t n, struct err *e)
{
	for (size_t off = 0; off < n; off += STORE_APPEND_MAX) {
		size_t k = n - off < STORE_APPEND_MAX ? n - off : STORE_APPEND_MAX;
		struct store_new_event *evs = xcalloc(k, sizeof(*evs));
		for (size_t i = 0; i < k; i++)
			outcome_event(d, items[off + i], &evs[i]);
		int rc = store_append(d->store, items[off]->stream, STORE_EXPECT_ANY, evs, k, NULL,
				      e);
		if (rc == ERR_CONFLICT && k > 1) {
			rc = ERR_OK;
			for (size_t i = 0; i < k && rc == ERR_OK; i++)
				rc = store_append(d->store, items[off]->stream, STORE_EXPECT_ANY,
						  &evs[i], 1, NULL, e);
		}
		for (size_t i = 0; i < k; i++) {
			json_decref((json_t *)evs[i].data);
			json_decref((json_t *)evs[i].metadata);
		}
		free(evs);
		if (rc != ERR_OK)
			return rc;
	}
	return ERR_OK;
}

static void rec_job_run(void *arg)
{
	struct rec_job *j = arg;
	j->rc = append_outcomes(j->d, j->items, j->n, &j->e);
	pthread_mutex_lock(j->mu);
	if (--*j->left == 0)
		pthread_cond_signal(j->cv);
	pthread_mutex_unlock(j->mu);
}

static int cmp_item_stream(const void *a, const void *b)
{
	const struct item *x = *(struct item *const *)a, *y = *(struct item *const *)b;
	int c = strcmp(x->stream, y->stream);
	if (c)
		return c;
	return x->position < y->position ? -1 : x->position > y->position;
}

/* Record a batch (a list through qnext, in decision order): one append per
 * stream, all at once on the pool (inline without one).  ERR_OK when every
 * outcome is durable; otherwise none is taken as recorded (those that were
 * are stored once more as duplicates: nothing written). */
static int record_batch(struct delivery *d, struct item *list, struct err *e)
{
	size_t n = 0;
	for (struct item *it = list; it; it = it->qnext)
		n++;
	if (!n)
		return ERR_OK;
	struct item **v = xmalloc(n * sizeof(*v));
	n = 0;
	for (struct item *it = list; it; it = it->qnext)
		v[n++] = it;
	/* by stream; within a stream by position, which is the task's order */
	qsort(v, n, sizeof(*v), cmp_item_stream);
	size_t nstreams = 0;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || strcmp(v[i]->stream, v[i - 1]->stream) != 0)
			nstreams++;
	struct rec_job *jobs = xcalloc(nstreams, sizeof(*jobs));
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	size_t left = nstreams, k = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && strcmp(v[j]->stream, v[i]->stream) == 0)
			j++;
		jobs[k] = (struct rec_job){
			.d = d, .items = v + i, .n = j - i, .mu = &mu, .cv = &cv, .left = &left};
		k++;
		i = j;
	}
	if (d->rec_pool && nstreams > 1) {
		for (size_t i = 0; i < nstreams; i++)
			workpool_submit(d->rec_pool, rec_job_run, &jobs[i]);
		pthread_mutex_lock(&mu);
		while (left > 0)
			pthread_cond_wait(&cv, &mu);
		pthread_mutex_unlock(&mu);
	} else {
		for (size_t i = 0; i < nstreams; i++)
			rec_job_run(&jobs[i]);
	}
	int rc = ERR_OK;
	for (size_t i = 0; i < nstreams; i++) {
		if (jobs[i].rc != ERR_OK && rc == ERR_OK) {
			rc = jobs[i].rc;
			if (e)
				*e = jobs[i].e;
		}
	}
	pthread_cond_destroy(&cv);
	pthread_mutex_destroy(&mu);
	free(jobs);
	free(v);
	return rc;
}

/* The recorder thread: one batch at a time. */
static void *rec_main(void *arg)
{
	struct delivery *d = arg;
	pthread_mutex_lock(&d->rlock);
	for (;;) {
		while (!d->rec_batch && !d->rec_stop)
			pthread_cond_wait(&d->rcond, &d->rlock);
		if (!d->rec_batch)
			break;
		struct item *batch = d->rec_batch;
		d->rec_batch = NULL;
		pthread_mutex_unlock(&d->rlock);
		struct err e = {0};
		int rc = record_batch(d, batch, &e);
		if (rc != ERR_OK)
			log_warn("delivery: cannot record the outcomes of delivered events: %s; "
				 "trying again",
				 err_msg(&e));
		pthread_mutex_lock(&d->rlock);
		d->rec_done = batch;
		d->rec_rc = rc;
		d->rec_ready = true;
		pthread_cond_broadcast(&d->rcond);
		pthread_mutex_unlock(&d->rlock);
		fetcher_wakeup(d->fetcher);
		pthread_mutex_lock(&d->rlock);
	}
	pthread_mutex_unlock(&d->rlock);
	return NULL;
}

/* A decided head leaves its task's FIFO for the outbox (still in the window). */
static void outbox_push(struct delivery *d, struct dtask *t, struct item *h)
{
	t->qhead = h->qnext;
	if (!t->qhead)
		t->qtail = NULL;
	t->qlen--;
	h->qnext = NULL;
	if (d->out_tail)
		d->out_tail->qnext = h;
	else
		d->out_head = h;
	d->out_tail = h;
	d->out_count++;
}

/* A recorded batch: count, log, and forget its items. */
static void batch_recorded(struct delivery *d, struct item *list)
{
	long delivered = 0, failed = 0;
	for (struct item *it = list, *next; it; it = next) {
		next = it->qnext;
		if (it->outcome == OUT_DELIVERED) {
			delivered++;
			log_debug("delivery: event %s (%s, task %s) delivered to %s: HTTP %ld, %d "
				  "attempt(s)",
				  it->event_id, it->type, it->task_id, it->url, it->status,
				  it->attempts);
		} else {
			failed++;
			log_warn("delivery: event %s (%s, task %s) not delivered to %s: %s",
				 it->event_id, it->type, it->task_id, it->url,
				 it->error ? it->error : "failed");
		}
		window_unlink(d, it);
		item_free(it);
	}
	pthread_mutex_lock(&d->slock);
	d->st.delivered += delivered;
	d->st.failed += failed;
	pthread_mutex_unlock(&d->slock);
}

/* A batch the store refused goes back in front of the outbox. */
static void batch_refused(struct delivery *d, struct item *list)
{
	struct item *tail = list;
	size_t n = 1;
	for (; tail->qnext; tail = tail->qnext)
		n++;
	tail->qnext = d->out_head;
	if (!d->out_head)
		d->out_tail = tail;
	d->out_head = list;
	d->out_count += n;
	d->out_retry_us = mono_us(d) + RECORD_RETRY_US;
}

/* Take back the batch the recorder finished (waiting for it with `wait`). */
static void outbox_collect(struct delivery *d, bool wait)
{
	if (!d->threaded)
		return;
	pthread_mutex_lock(&d->rlock);
	while (wait && d->rec_busy && !d->rec_ready)
		pthread_cond_wait(&d->rcond, &d->rlock);
	struct item *done = NULL;
	int rc = ERR_OK;
	if (d->rec_ready) {
		done = d->rec_done;
		rc = d->rec_rc;
		d->rec_done = NULL;
		d->rec_ready = false;
		d->rec_busy = false;
	}
	pthread_mutex_unlock(&d->rlock);
	if (!done)
		return;
	if (rc == ERR_OK)
		batch_recorded(d, done);
	else
		batch_refused(d, done);
}

/* Record the outbox here and now (manual mode, shutdown). */
static void outbox_record_inline(struct delivery *d)
{
	if (!d->out_head)
		return;
	struct item *batch = d->out_head;
	d->out_head = d->out_tail = NULL;
	d->out_count = 0;
	struct err e = {0};
	if (record_batch(d, batch, &e) == ERR_OK) {
		batch_recorded(d, batch);
	} else {
		log_warn("delivery: cannot record the outcomes of delivered events: %s; trying "
			 "again",
			 err_msg(&e));
		batch_refused(d, batch);
	}
}

/* Take back what the recorder finished and hand it the outbox when it is
 * idle; manual mode records inline. */
static void outbox_pump(struct delivery *d)
{
	if (!d->threaded) {
		if (mono_us(d) >= d->out_retry_us)
			outbox_record_inline(d);
		return;
	}
	outbox_collect(d, false);
	int64_t now = mono_us(d);
	/* Few, large batches: an fsync and a round of appends per batch. */
	if (d->rec_busy || !d->out_head || now < d->out_retry_us ||
	    (now < d->out_next_us && d->out_count < RECORD_BATCH_MIN))
		return;
	pthread_mutex_lock(&d->rlock);
	d->rec_batch = d->out_head;
	d->rec_busy = true;
	pthread_cond_broadcast(&d->rcond);
	pthread_mutex_unlock(&d->rlock);
	d->out_head = d->out_tail = NULL;
	d->out_count = 0;
	d->out_next_us = now + RECORD_EVERY_US;
}

/* Forget the outbox (lease lost; the next leader redelivers from the
 * checkpoint).  The recorder must be idle. */
static void outbox_drop(struct delivery *d)
{
	for (struct item *it = d->out_head, *next; it; it = next) {
		next = it->qnext;
		window_unlink(d, it);
		item_free(it);
	}
	d->out_head = d->out_tail = NULL;
	d->out_count = 0;
}

static void on_done(struct fetch_result *r, void *ud);

static void start_attempt(struct delivery *d, struct dtask *t, struct item *h, const char *url)
{
	int64_t ts = clock_wall_us(d->clock) / 1000000;
	char hid[UUID_STR_LEN + 32], hts[64], hsig[DELIVERY_SIG_MAX + 32];
	const char *headers[6];
	size_t n = 0;
	headers[n++] = "Content-Type: application/json";
	snprintf(hid, sizeof(hid), "webhook-id: %s", h->event_id);
	headers[n++] = hid;
	snprintf(hts, sizeof(hts), "webhook-timestamp: %lld", (long long)ts);
	headers[n++] = hts;
	if (d->sign) {
		char sig[DELIVERY_SIG_MAX];
		sign_with_key(d->key, d->keylen, h->event_id, ts, h->body, h->body_len, sig);
		snprintf(hsig, sizeof(hsig), "webhook-signature: %s", sig);
		headers[n++] = hsig;
	}
	headers[n] = NULL;
	struct fetch_retry once = {.max_attempts = 1};
	struct fetch_request rq = {
		.url = url,
		.method = "POST",
		.body = h->body,
		.body_len = h->body_len,
		.headers = headers,
		.retry = &once,
		.max_body = RESPONSE_MAX,
		.truncate = true,
		.timeout_ms = d->opt.timeout_ms,
		.max_redirects = -1,
		/* The default URL is the operator's; a task's own callback URL
		 * is trusted too unless a guard was given. */
		.trusted = !d->opt.guard || strcmp(url, d->default_url) == 0,
	};
	h->attempts++;
	free(t->attempt_url);
	t->attempt_url = xstrdup(url);
	t->in_flight = true;
	d->in_flight++;
	count(d, &d->st.attempts, 1);
	t->fetch_id = fetcher_submit(d->fetcher, &rq, on_done, t); /* calls back later */
}

/* A drained task: read more from the store, or forget it when too many are
 * cached. */
static void task_idle(struct delivery *d, struct dtask *t)
{
	if (t->overflow) {
		ovf_refill(d, t, refill_size(d));
		return;
	}
	if (d->ntasks > TASK_CACHE_MAX && !timer_node_armed(&t->timer) && !t->in_flight)
		task_remove(d, t);
}

/* Work on t's head: record a decided outcome, or start an attempt.  t must
 * be off the heap and not in flight. */
static void task_run(struct delivery *d, struct dtask *t)
{
	while (t->qhead && !t->in_flight && !timer_node_armed(&t->timer)) {
		struct item *h = t->qhead;
		if (h->outcome != OUT_NONE) {
			outbox_push(d, t, h);
			continue;
		}
		const char *url = task_url(d, t);
		if (!t->info_loaded) {
			/* The store could not say where this task's events go:
			 * wait for it rather than send them to the default URL. */
			task_kick(d, t, mono_us(d) + RECORD_RETRY_US);
			return;
		}
		if (url_disabled(d, url)) {
			decide(h, OUT_FAILED, url, 410, DELIVERY_GONE_REASON);
			continue;
		}
		if (!is_http_url(url)) {
			char why[ERROR_MAX];
			snprintf(why, sizeof(why),
				 "the callback URL \"%.400s\" is not an http:// or https:// URL; "
				 "update the task's callback_url",
				 url ? url : "");
			decide(h, OUT_FAILED, url, 0, why);
			continue;
		}
		start_attempt(d, t, h, url);
		return;
	}
	if (!t->qhead && !t->in_flight && !timer_node_armed(&t->timer))
		task_idle(d, t);
}

static int64_t retry_delay_us(struct delivery *d, int attempts, int64_t retry_after_ms)
{
	int64_t base = (int64_t)d->schedule[attempts - 1] * 1000;
	uint32_t r = 0;
	random_bytes(&r, sizeof(r));
	int64_t delay = base + (int64_t)((double)base * 0.1 * ((double)r / 4294967296.0));
	if (retry_after_ms > 0) {
		int64_t ra = retry_after_ms * 1000;
		if (ra > MAX_RETRY_AFTER_US)
			ra = MAX_RETRY_AFTER_US;
		if (ra > delay)
			delay = ra;
	}
	return delay;
}

static void on_done(struct fetch_result *r, void *ud)
{
	struct dtask *t = ud;
	struct delivery *d = t->d;
	t->in_flight = false;
	t->fetch_id = 0;
	d->in_flight--;
	struct item *h = t->qhead;
	if (!h)
		return; /* cannot happen: one attempt per head */
	const char *url = t->attempt_url ? t->attempt_url : "";
	if (r->code == ERR_OK && r->status >= 200 && r->status < 300) {
		record_latency(d, h);
		decide(h, OUT_DELIVERED, url, r->status, NULL);
	} else if (r->status == 410) {
		char *u = xstrdup(url);
		decide(h, OUT_FAILED, u, 410, DELIVERY_GONE_REASON);
		url_disable(d, u, t, h);
		free(u);
	} else {
		char why[ERROR_MAX];
		if (r->code != ERR_OK)
			snprintf(why, sizeof(why), "%s", err_msg(&r->err));
		else
			snprintf(why, sizeof(why),
				 "HTTP %ld from %.400s (only 2xx counts as "
				 "delivered)",
				 r->status, url);
		/* A malformed or forbidden URL will not get better by waiting. */
		bool final = r->failure == FETCH_FAIL_URL || r->failure == FETCH_FAIL_BLOCKED ||
			     (size_t)h->attempts > d->nschedule;
		if (final) {
			char msg[ERROR_MAX + 64];
			if (h->attempts > 1)
				snprintf(msg, sizeof(msg), "%s (gave up after %d attempts)", why,
					 h->attempts);
			else
				snprintf(msg, sizeof(msg), "%s", why);
			decide(h, OUT_FAILED, url, r->status, msg);
		} else {
			int64_t delay = retry_delay_us(d, h->attempts, r->retry_after_ms);
			free(h->last_error);
			h->last_error = xstrdup(why);
			log_info("delivery: event %s of task %s: %s; attempt %d in %lld s",
				 h->event_id, t->id, why, h->attempts + 1,
				 (long long)(delay / 1000000));
			task_kick(d, t, mono_us(d) + delay);
			return;
		}
	}
	task_run(d, t);
}

static void run_due(struct delivery *d)
{
	int64_t now = mono_us(d);
	size_t n = 0;
	struct dtask *t;
	while ((t = timer_task(timer_heap_first(&d->timers))) && t->timer.due_us <= now &&
	       n < 100000 && !atomic_load(&d->stop)) {
		timer_heap_disarm(&d->timers, &t->timer);
		task_run(d, t);
		n++;
	}
}

/* ---- reading the log --------------------------------------------------------------------- */

static void on_task_updated(struct delivery *d, const char *id, const struct store_event *ev)
{
	struct dtask *t = task_find(d, id);
	if (t)
		t->info_loaded = false; /* re-read at the next use */
	json_t *changes = json_object_get(ev->data, "changes");
	json_t *cu = json_object_get(changes, "callback_url");
	if (!cu)
		return;
	url_enable(d, resolve_url(d, json_string_value(cu)), ev->recorded_at_us);
	if (!t || !t->qhead || t->qhead->outcome != OUT_NONE)
		return;
	/* A new endpoint: the head starts its schedule over, at once. */
	if (t->in_flight && fetcher_cancel(d->fetcher, t->fetch_id) == ERR_OK) {
		t->in_flight = false;
		t->fetch_id = 0;
		d->in_flight--;
	}
	t->qhead->attempts = 0;
	if (!t->in_flight)
		task_kick(d, t, mono_us(d));
}

static void on_log_event(struct delivery *d, const struct store_event *ev)
{
	const char *id = task_id_of_stream(ev->stream);
	if (!id || !*id || strlen(id) >= 58)
		return;
	if (d->opt.partitions > 1 && engine_shard_of(id) % d->opt.partitions != d->opt.partition)
		return; /* another deliverer's task */
	if (strcmp(ev->type, TASK_EV_UPDATED) == 0) {
		on_task_updated(d, id, ev);
		return;
	}
	if (!deliverable(ev->type, ev->data))
		return;
	struct dtask *t = task_get(d, id);
	if (t->overflow)
		return; /* read back from the stream when its turn comes */
	if (t->qlen >= d->opt.max_task_queue || d->nwindow >= d->opt.max_window ||
	    d->wbytes >= d->opt.max_window_bytes) {
		ovf_enter(d, t, ev);
		return;
	}
	enqueue(d, t, item_from_event(d, t, ev), NULL);
	if (!t->in_flight && !timer_node_armed(&t->timer))
		task_kick(d, t, mono_us(d));
}

/* Returns true when it stopped at its cap with more to read. */
static bool read_log(struct delivery *d)
{
	size_t total = 0;
	while (total < READ_PER_STEP && !atomic_load(&d->stop)) {
		struct store_event_list l = {0};
		struct err e = {0};
		int rc = store_sub_next(d->sub, READ_BATCH, 0, &l, &e);
		if (rc == ERR_OK)
			for (size_t i = 0; i < l.count; i++)
				on_log_event(d, &l.items[i]);
		size_t n = l.count;
		store_event_list_cleanup(&l);
		free(l.items);
		int64_t pos = store_sub_position(d->sub);
		if (pos > d->read_pos)
			d->read_pos = pos;
		if (rc != ERR_OK) {
			if (rc != ERR_TIMEOUT)
				log_warn("delivery: reading the log: %s", err_msg(&e));
			break;
		}
		total += n;
		if (n < READ_BATCH)
			return false;
	}
	return total >= READ_PER_STEP;
}

/* ---- the checkpoint ------------------------------------------------------------------------- */

static int64_t frontier(struct delivery *d)
{
	int64_t f = d->read_pos;
	if (d->whead && d->whead->position - 1 < f)
		f = d->whead->position - 1;
	for (struct dtask *t = d->ovf; t; t = t->onext)
		if (t->ovf_position - 1 < f)
			f = t->ovf_position - 1;
	return f;
}

static void ack(struct delivery *d, bool force)
{
	int64_t now = mono_us(d);
	if (!force && now - d->ack_us < ACK_EVERY_US)
		return;
	d->ack_us = now;
	int64_t f = frontier(d);
	if (f <= d->acked)
		return;
	struct err e = {0};
	if (store_sub_ack(d->sub, f, &e) != ERR_OK) {
		log_warn("delivery: cannot save the checkpoint: %s", err_msg(&e));
		return;
	}
	d->acked = f;
}

/* ---- status -------------------------------------------------------------------------------- */

static void status_publish(struct delivery *d, bool write)
{
	long retrying = 0;
	for (size_t i = 0; i < timer_heap_size(&d->timers); i++) {
		struct dtask *t = timer_task(d->timers.items[i]);
		if (t->qhead && t->qhead->attempts > 0)
			retrying++;
	}
	int64_t p50 = d->st.latency_p50_us, p99 = d->st.latency_p99_us;
	if (write) /* a sort: only when publishing */
		samples_percentiles(&d->lat, &p50, &p99);
	pthread_mutex_lock(&d->slock);
	d->st.leader = d->leader;
	d->st.retrying = retrying;
	d->st.in_flight = d->in_flight;
	d->st.queued = (long)d->nwindow;
	d->st.overflowed = (long)d->novf;
	d->st.disabled = (long)json_object_size(d->disabled);
	d->st.checkpoint = d->acked;
	d->st.position = d->read_pos;
	d->st.latency_p50_us = p50;
	d->st.latency_p99_us = p99;
	struct delivery_status st = d->st;
	pthread_mutex_unlock(&d->slock);
	if (!write || !d->leader)
		return;
	char at[CLOCK_ISO_MAX];
	clock_format_utc(clock_wall_us(d->clock), at);
	json_t *doc = json_pack(
		"{s:s,s:i,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f}", "owner", d->owner,
		"pid", (int)getpid(), "at", at, "delivered", (json_int_t)st.delivered, "failed",
		(json_int_t)st.failed, "attempts", (json_int_t)st.attempts, "retrying",
		(json_int_t)st.retrying, "in_flight", (json_int_t)st.in_flight, "queued",
		(json_int_t)st.queued, "overflowed", (json_int_t)st.overflowed, "disabled",
		(json_int_t)st.disabled, "checkpoint", (json_int_t)st.checkpoint, "position",
		(json_int_t)st.position, "latency_p50_ms", (double)st.latency_p50_us / 1000.0,
		"latency_p99_ms", (double)st.latency_p99_us / 1000.0);
	struct store_soft_item si = {.key = d->status_key, .doc = doc};
	struct err e = {0};
	if (store_soft_put(d->store, &si, 1, &e) != ERR_OK)
		log_debug("delivery: cannot publish the status: %s", err_msg(&e));
	json_decref(doc);
}

void delivery_status(struct delivery *d, struct delivery_status *st)
{
	pthread_mutex_lock(&d->slock);
	*st = d->st;
	pthread_mutex_unlock(&d->slock);
}

size_t delivery_pending(struct delivery *d)
{
	return d->nwindow + d->novf;
}

/* ---- the lease ------------------------------------------------------------------------------ */

/* Forget everything in memory: requests in flight are cancelled; the next
 * leader starts from the checkpoint. */
static void drop_all(struct delivery *d)
{
	outbox_collect(d, true);
	outbox_drop(d);
	for (size_t i = 0; i < d->nbuckets; i++) {
		while (d->buckets[i]) {
			struct dtask *t = d->buckets[i];
			if (t->in_flight)
				fetcher_cancel(d->fetcher, t->fetch_id);
			t->in_flight = false;
			task_remove(d, t);
		}
	}
	d->in_flight = 0;
	store_sub_free(d->sub);
	d->sub = NULL;
}

static bool become_leader(struct delivery *d)
{
	struct err e = {0};
	int64_t cp = 0;
	if (store_checkpoint_get(d->store, d->checkpoint_name, &cp, &e) != ERR_OK) {
		log_warn("delivery: cannot read the checkpoint: %s", err_msg(&e));
		return false;
	}
	struct store_filter f = {.stream_prefix = TASK_STREAM_PREFIX};
	if (cp == 0 && d->opt.partitions > 1 &&
	    store_checkpoint_get(d->store, DELIVERY_CHECKPOINT, &cp, &e) != ERR_OK)
		cp = 0; /* a new partition starts where the single deliverer was */
	d->sub = store_subscribe(d->store, d->checkpoint_name, cp, &f);
	d->read_pos = cp;
	d->acked = cp;
	disabled_refresh(d);
	d->disabled_us = mono_us(d);
	log_info("delivery: %s took the lease; delivering events after position %lld", d->owner,
		 (long long)cp);
	return true;
}

/* With partitions shared by a node: may this deliverer take its partition
 * (the node holds less than its share), or must it give it up (more)? */
static int share_verdict(struct delivery *d)
{
	if (d->opt.partitions <= 1 || !d->opt.share)
		return 0;
	struct err e = {0};
	int nodes = engine_live_nodes(d->store, NULL, &e);
	if (nodes < 1)
		nodes = 1; /* none listed (or no answer): this node alone */
	int fair = ((int)d->opt.partitions + nodes - 1) / nodes;
	int held = atomic_load(&d->opt.share->held);
	if (d->leader) {
		/* Give up one partition at a time, whichever deliverer gets here first. */
		while (held > fair)
			if (atomic_compare_exchange_weak(&d->opt.share->held, &held, held - 1))
				return 1;
		return 0;
	}
	return held >= fair ? -1 : 0;
}

static void lease_tick(struct delivery *d)
{
	int64_t now = mono_us(d);
	if (now < d->lease_next_us)
		return;
	int64_t every = (int64_t)d->opt.lease_ttl_ms * 1000 / 3;
	if (d->opt.partitions > 1 && every > 2000000)
		every = 2000000; /* partitions move soon after a node dies or comes */
	d->lease_next_us = now + every;
	struct store_lease l = {0};
	struct err e = {0};
	int verdict = share_verdict(d);
	if (verdict > 0) {
		log_info("delivery: %s gives %s up for another node", d->owner, d->lease_name);
		ack(d, true);
		drop_all(d);
		d->leader = false;
		store_lease_release(d->store, d->lease_name, d->owner, &e);
		d->hold_off_us = now + 3 * every;
		goto out;
	}
	if (!d->leader && (verdict < 0 || now < d->hold_off_us)) {
		store_lease_peek(d->store, d->lease_name, &l, &e);
		goto out;
	}
	int rc =
		store_lease_acquire(d->store, d->lease_name, d->owner, d->opt.lease_ttl_ms, &l, &e);
	bool held = rc == ERR_OK && l.held;
	if (rc != ERR_OK)
		log_warn("delivery: lease: %s", err_msg(&e));
	if (held && !d->leader) {
		d->leader = become_leader(d);
		if (!d->leader)
			store_lease_release(d->store, d->lease_name, d->owner, &e);
		else if (d->opt.share)
			atomic_fetch_add(&d->opt.share->held, 1);
	} else if (!held && d->leader && rc == ERR_OK) {
		log_warn("delivery: lost the lease to %s; standing by",
			 l.holder[0] ? l.holder : "(unknown)");
		drop_all(d);
		d->leader = false;
		if (d->opt.share)
			atomic_fetch_sub(&d->opt.share->held, 1);
	}
out:
	pthread_mutex_lock(&d->slock);
	snprintf(d->st.holder, sizeof(d->st.holder), "%s", l.holder);
	d->st.leader = d->leader;
	pthread_mutex_unlock(&d->slock);
}

/* ---- the loop ------------------------------------------------------------------------------- */

void delivery_step(struct delivery *d, int timeout_ms)
{
	lease_tick(d);
	int64_t mono = mono_us(d);
	bool manual = d->opt.manual, more = false;
	if (d->leader) {
		if (atomic_exchange(&d->log_grew, false) || manual ||
		    mono - d->log_read_us >= LOG_POLL_US) {
			d->log_read_us = mono;
			more = read_log(d);
			if (more) /* read on at the next turn, without waiting */
				atomic_store(&d->log_grew, true);
		}
		if (manual || mono - d->disabled_us >= DISABLED_EVERY_US) {
			d->disabled_us = mono;
			disabled_refresh(d);
		}
		refill_pass(d);
		run_due(d);
		outbox_pump(d);
		ack(d, manual);
	}
	if (manual || mono - d->status_us >= STATUS_EVERY_US) {
		d->status_us = mono;
		status_publish(d, true);
	} else {
		status_publish(d, false);
	}
	int64_t wait_ms = more ? 0 : timeout_ms;
	if (d->leader && d->out_head && !d->rec_busy && wait_ms > 0) {
		int64_t due = d->out_retry_us > d->out_next_us ? d->out_retry_us : d->out_next_us;
		int64_t until = (due - mono_us(d) + 999) / 1000;
		if (until < wait_ms)
			wait_ms = until < 0 ? 0 : until;
	}
	struct timer_node *first = timer_heap_first(&d->timers);
	if (d->leader && first && wait_ms > 0) {
		int64_t until = (first->due_us - mono_us(d) + 999) / 1000;
		if (until < wait_ms)
			wait_ms = until < 0 ? 0 : until;
	}
	fetcher_poll(d->fetcher, (int)wait_ms);
	if (d->leader)
		outbox_pump(d);   /* what the callbacks decided */
	status_publish(d, false); /* what the callbacks changed */
}

static void *loop_main(void *arg)
{
	struct delivery *d = arg;
	while (!atomic_load(&d->stop))
		delivery_step(d, IDLE_WAIT_MS);
	return NULL;
}

/* Wakes the loop when the log grows. */
static void *watch_main(void *arg)
{
	struct delivery *d = arg;
	int64_t seen = 0;
	struct err e = {0};
	if (store_head(d->store, &seen, &e) != ERR_OK)
		seen = 0;
	while (!atomic_load(&d->stop)) {
		int rc = store_wait(d->store, seen, 250, &e);
		if (rc == ERR_OK) {
			int64_t head = seen;
			if (store_head(d->store, &head, &e) == ERR_OK && head > seen) {
				seen = head;
				atomic_store(&d->log_grew, true);
				fetcher_wakeup(d->fetcher);
			}
		} else if (rc != ERR_TIMEOUT) {
			log_warn("delivery: following the log: %s", err_msg(&e));
			usleep(200 * 1000);
		}
	}
	return NULL;
}

/* ---- life cycle ------------------------------------------------------------------------------ */

static void free_config(struct delivery *d)
{
	free(d->default_url);
	free(d->user_agent);
	free(d->schedule);
	OPENSSL_cleanse(d->key, sizeof(d->key));
}

int delivery_new(const struct delivery_options *opt, struct delivery **out, struct err *e)
{
	*out = NULL;
	if (!opt || !opt->store)
		return err_set(e, ERR_INVALID, "delivery: no store given");
	const char *url = opt->default_url ? opt->default_url : DELIVERY_DEFAULT_URL;
	if (!is_http_url(url))
		return err_set(e, ERR_INVALID,
			       "the feedback URL \"%.300s\" is not an http:// or https:// URL "
			       "(--feedback-url, EVENT_FEEDBACK_URL)",
			       url);
	if (opt->schedule_ms && !opt->nschedule)
		return err_set(e, ERR_INVALID, "delivery: an empty retry schedule");
	for (size_t i = 0; opt->schedule_ms && i < opt->nschedule; i++)
		if (opt->schedule_ms[i] <= 0)
			return err_set(
				e, ERR_INVALID,
				"delivery: retry delay %zu is %d ms; delays must be positive",
				i + 1, opt->schedule_ms[i]);
	struct delivery *d = xcalloc(1, sizeof(*d));
	d->opt = *opt;
	if (opt->secret && *opt->secret) {
		int rc = secret_key(opt->secret, d->key, &d->keylen, e);
		if (rc != ERR_OK) {
			free(d);
			return rc;
		}
		d->sign = true;
	}
	d->opt.secret = NULL;
	d->store = opt->store;
	d->clock = opt->clock ? opt->clock : opt->store->clock;
	if (!d->clock)
		d->clock = clock_system();
	d->default_url = xstrdup(url);
	d->opt.default_url = d->default_url;
	d->user_agent = opt->user_agent ? xstrdup(opt->user_agent) : NULL;
	d->opt.user_agent = d->user_agent;
	const int *sched = opt->schedule_ms ? opt->schedule_ms : svix_schedule;
	d->nschedule = opt->schedule_ms ? opt->nschedule
					: sizeof(svix_schedule) / sizeof(svix_schedule[0]);
	d->schedule = xmalloc(d->nschedule * sizeof(*d->schedule));
	memcpy(d->schedule, sched, d->nschedule * sizeof(*d->schedule));
	d->opt.schedule_ms = d->schedule;
	d->opt.nschedule = d->nschedule;
	if (d->opt.lease_ttl_ms <= 0)
		d->opt.lease_ttl_ms = 30000;
	if (d->opt.timeout_ms <= 0)
		d->opt.timeout_ms = 10000;
	if (d->opt.max_window == 0)
		d->opt.max_window = 10000;
	if (d->opt.max_window_bytes == 0)
		d->opt.max_window_bytes = 64u << 20;
	if (d->opt.max_task_queue == 0)
		d->opt.max_task_queue = 1000;
	if (d->opt.max_per_host <= 0)
		d->opt.max_per_host = 16;
	if (d->opt.max_total <= 0)
		d->opt.max_total = 256;
	if (d->opt.partitions > 1 && d->opt.partition >= d->opt.partitions) {
		free_config(d);
		free(d);
		return err_set(e, ERR_INVALID, "delivery: partition %u of %u does not exist",
			       opt->partition, opt->partitions);
	}
	if (d->opt.partitions > 1) {
		snprintf(d->lease_name, sizeof(d->lease_name), "delivery/part/%u",
			 d->opt.partition);
		snprintf(d->checkpoint_name, sizeof(d->checkpoint_name), "delivery/%u",
			 d->opt.partition);
		snprintf(d->status_key, sizeof(d->status_key), "delivery/status/%u",
			 d->opt.partition);
	} else {
		snprintf(d->lease_name, sizeof(d->lease_name), "%s", DELIVERY_LEASE_NAME);
		snprintf(d->checkpoint_name, sizeof(d->checkpoint_name), "%s", DELIVERY_CHECKPOINT);
		snprintf(d->status_key, sizeof(d->status_key), "%s", DELIVERY_STATUS_KEY);
	}
	d->opt.owner = NULL;
	if (opt->owner) {
		snprintf(d->owner, sizeof(d->owner), "%s", opt->owner);
	} else {
		char host[64] = "host", rnd[UUID_STR_LEN + 1];
		gethostname(host, sizeof(host) - 1);
		uuid_v4(rnd);
		snprintf(d->owner, sizeof(d->owner), "%.63s:%d:%.8s", host, (int)getpid(), rnd);
	}
	struct fetch_options fo = {
		.user_agent = d->user_agent,
		.max_total = d->opt.max_total,
		.max_per_host = d->opt.max_per_host,
		.connect_timeout_ms = d->opt.timeout_ms < 10000 ? d->opt.timeout_ms : 10000,
		.timeout_ms = d->opt.timeout_ms,
		.max_redirects = -1,
		.max_body = RESPONSE_MAX,
		.guard = opt->guard, /* NULL: callback URLs are operator endpoints */
		.retry = {.max_attempts = 1},
	};
	int rc = fetcher_new(&fo, &d->fetcher, e);
	if (rc != ERR_OK) {
		free_config(d);
		free(d);
		return rc;
	}
	d->disabled = json_object();
	pthread_mutex_init(&d->slock, NULL);
	pthread_mutex_init(&d->rlock, NULL);
	pthread_cond_init(&d->rcond, NULL);
	*out = d;
	return ERR_OK;
}

/* Stop the recorder thread (idle or not: it finishes its batch). */
static void rec_stop(struct delivery *d)
{
	if (!d->threaded)
		return;
	pthread_mutex_lock(&d->rlock);
	d->rec_stop = true;
	pthread_cond_broadcast(&d->rcond);
	pthread_mutex_unlock(&d->rlock);
	pthread_join(d->rec_thread, NULL);
	workpool_free(d->rec_pool);
	d->rec_pool = NULL;
	d->threaded = false;
}

int delivery_start(struct delivery *d, struct err *e)
{
	if (d->opt.manual || d->started)
		return ERR_OK;
	/* Partitions share the work: fewer recorder threads each. */
	unsigned parts = d->opt.partitions > 1 ? d->opt.partitions : 1;
	d->rec_pool = workpool_new(0, RECORD_THREADS / parts > 8 ? RECORD_THREADS / parts : 8);
	if (pthread_create(&d->rec_thread, NULL, rec_main, d) != 0) {
		workpool_free(d->rec_pool);
		d->rec_pool = NULL;
		return err_set(e, ERR_INTERNAL, "cannot start the delivery's recorder thread");
	}
	d->threaded = true;
	if (pthread_create(&d->watch_thread, NULL, watch_main, d) != 0) {
		rec_stop(d);
		return err_set(e, ERR_INTERNAL, "cannot start the delivery's watcher thread");
	}
	if (pthread_create(&d->loop_thread, NULL, loop_main, d) != 0) {
		atomic_store(&d->stop, true);
		pthread_join(d->watch_thread, NULL);
		rec_stop(d);
		return err_set(e, ERR_INTERNAL, "cannot start the delivery thread");
	}
	d->started = true;
	return ERR_OK;
}

void delivery_free(struct delivery *d)
{
	if (!d)
		return;
	if (d->started) {
		atomic_store(&d->stop, true);
		fetcher_wakeup(d->fetcher);
		pthread_join(d->loop_thread, NULL);
		pthread_join(d->watch_thread, NULL);
	}
	/* Outcomes decided but not yet durable: record them now, so that a clean
	 * stop redelivers nothing that was delivered. */
	if (d->leader) {
		outbox_collect(d, true);
		outbox_record_inline(d);
	} else {
		outbox_collect(d, true);
	}
	rec_stop(d);
	/* The fetcher first: its pending requests point at tasks. */
	fetcher_free(d->fetcher);
	d->fetcher = NULL;
	if (d->leader) {
		struct err e = {0};
		ack(d, true);
		store_lease_release(d->store, d->lease_name, d->owner, &e);
		if (d->opt.share)
			atomic_fetch_sub(&d->opt.share->held, 1);
	}
	for (size_t i = 0; i < d->nbuckets; i++) {
		while (d->buckets[i])
			task_remove(d, d->buckets[i]);
	}
	store_sub_free(d->sub);
	free(d->buckets);
	timer_heap_cleanup(&d->timers);
	outbox_drop(d);
	json_decref(d->disabled);
	pthread_mutex_destroy(&d->slock);
	pthread_cond_destroy(&d->rcond);
	pthread_mutex_destroy(&d->rlock);
	free_config(d);
	free(d);
}

int delivery_peek(struct store *s, bool *running, json_t **status, struct err *e)
{
	struct store_lease l = {0};
	*running = false;
	if (status)
		*status = NULL;
	int rc = store_lease_peek(s, DELIVERY_LEASE_NAME, &l, e);
	if (rc != ERR_OK)
		return rc;
	const char *key = DELIVERY_STATUS_KEY;
	*running = l.holder[0] != 0;
	if (!*running) { /* partitioned deliverers */
		json_t *parts = NULL;
		if ((rc = store_lease_list(s, "delivery/part/", &parts, e)) != ERR_OK)
			return rc;
		*running = json_object_size(parts) > 0;
		json_decref(parts);
		key = "delivery/status/0";
	}
	if (status && *running) {
		json_t *doc = NULL;
		struct err e2 = {0};
		if (store_soft_get(s, key, &doc, &e2) == ERR_OK)
			*status = doc;
	}
	return ERR_OK;
}

void delivery_status_add(struct delivery_status *sum, const struct delivery_status *st, bool first)
{
	if (first) {
		*sum = *st;
		return;
	}
	sum->leader = sum->leader || st->leader;
	if (!sum->holder[0])
		snprintf(sum->holder, sizeof(sum->holder), "%s", st->holder);
	sum->delivered += st->delivered;
	sum->failed += st->failed;
	sum->attempts += st->attempts;
	sum->retrying += st->retrying;
	sum->in_flight += st->in_flight;
	sum->queued += st->queued;
	sum->overflowed += st->overflowed;
	if (st->disabled > sum->disabled)
		sum->disabled = st->disabled; /* the same endpoints, counted by each */
	if (st->checkpoint < sum->checkpoint)
		sum->checkpoint = st->checkpoint;
	if (st->position < sum->position)
		sum->position = st->position;
	if (st->latency_p50_us > sum->latency_p50_us)
		sum->latency_p50_us = st->latency_p50_us;
	if (st->latency_p99_us > sum->latency_p99_us)
		sum->latency_p99_us = st->latency_p99_us;
}

int delivery_endpoint_enable(struct store *s, const char *url, struct err *e)
{
	if (!url || !*url)
		return err_set(e, ERR_INVALID, "no endpoint URL given");
	char *key;
	disabled_key(url, &key);
	struct store_soft_item si = {.key = key, .doc = NULL};
	int rc = store_soft_put(s, &si, 1, e);
	free(key);
	return rc;
}
