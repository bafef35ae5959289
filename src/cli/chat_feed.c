/*
 * chat_feed.c - the feedback stream follower of `ambient chat` (see
 * chat_feed.h): libcurl multi on a thread, the SSE parser of
 * transport/http_client.h, reconnects with Last-Event-ID.
 */
#define _GNU_SOURCE
#include "chat_feed.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "transport/http_client.h"

#define FEED_MAX_EVENT (1u << 20)
#define FEED_FIRST_RETRY_MS 1000
#define FEED_MAX_RETRY_MS 15000
#define FEED_CONNECT_TIMEOUT_MS 5000

struct chat_feed {
	char *url, *filter;
	long long after;
	size_t max_event;
	int max_retry_ms;
	chat_feed_event_fn on_event;
	chat_feed_status_fn on_status;
	void *ud;

	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	CURLM *multi; /* set while a transfer runs (under mu) */
	atomic_bool stop;
	atomic_bool up;
	bool reported;   /* a status was reported at least once */
	long long pos;   /* the last seq seen (or the store's position at the start); -1: none */
	long retry_ms;   /* the server's retry, -1 when none */
	bool first_done; /* the first connection attempt is over (under mu) */
};

/* One transfer's state. */
struct xfer {
	struct chat_feed *f;
	CURL *h;
	struct http_client_sse sse;
	bool checked, ok; /* the answer was looked at; it is an event stream */
	long status;
	char why[256];
};

static void status(struct chat_feed *f, bool up, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void first_done(struct chat_feed *f)
{
	pthread_mutex_lock(&f->mu);
	f->first_done = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->mu);
}

static void status(struct chat_feed *f, bool up, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	if (up)
		first_done(f); /* the stream is open: what is stored from now on comes */
	bool was = atomic_exchange(&f->up, up);
	if (f->reported && was == up)
		return;
	f->reported = true;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (f->on_status)
		f->on_status(f->ud, up, text);
}

static void on_sse(void *ctx, const char *type, const char *data, size_t len, const char *id)
{
	struct xfer *x = ctx;
	struct chat_feed *f = x->f;
	(void)len;

	if (id && *id) {
		char *end = NULL;
		long long seq = strtoll(id, &end, 10);
		if (end && !*end && seq > f->pos)
			f->pos = seq;
	}
	if (!data || !*data)
		return; /* the priming event */
	json_t *j = json_loads(data, 0, NULL);
	if (!json_is_object(j)) {
		log_debug("chat feed: a frame that is not a JSON object; skipped");
		json_decref(j);
		return;
	}
	if (f->on_event)
		f->on_event(f->ud, type && *type ? type : "message", j);
	json_decref(j);
}

static void check_answer(struct xfer *x)
{
	char *ct = NULL;
	if (x->checked)
		return;
	x->checked = true;
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
	curl_easy_getinfo(x->h, CURLINFO_CONTENT_TYPE, &ct);
	x->ok = x->status == 200 && ct && strncasecmp(ct, "text/event-stream", 17) == 0;
	if (!x->ok)
		snprintf(x->why, sizeof x->why,
			 "it answered HTTP %ld%s%s; is it an ambient feedback server?", x->status,
			 ct ? " with " : "", ct ? ct : "");
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	struct err e = {0};
	check_answer(x);
	if (!x->ok)
		return 0;
	if (!atomic_load(&x->f->up))
		status(x->f, true, "following the feedback server's events at %s", x->f->url);
	if (http_client_sse_feed(&x->sse, p, size * n, &e)) {
		snprintf(x->why, sizeof x->why, "%s", err_msg(&e));
		return 0;
	}
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	/* The blank line ending the headers of a 200: the stream is open even
	 * before the first frame arrives. */
	if (size * n <= 2 && (p[0] == '\r' || p[0] == '\n')) {
		long st = 0;
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &st);
		if (st == 200) {
			check_answer(x);
			if (x->ok && !atomic_load(&x->f->up))
				status(x->f, true, "following the feedback server's events at %s",
				       x->f->url);
		}
	}
	return size * n;
}

static size_t on_small_body(char *p, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;
	return buf_append(b, p, size * n) ? 0 : size * n;
}

/* The feedback store's position now (GET /health), so that the stream
 * starts there and, across reconnects, misses nothing after it; -1 when
 * unknown (the stream then starts with what is stored from then on). */
static long long store_position(struct chat_feed *f)
{
	struct buf b;
	long long pos = -1;
	char *url = xasprintf("%s/health", f->url);
	buf_init(&b, 64u << 10);
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)FEED_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_small_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	if (curl_easy_perform(h) == CURLE_OK) {
		json_t *j = json_loads(buf_str(&b), 0, NULL);
		json_t *p = json_object_get(j, "store_position");
		if (json_is_integer(p) && json_integer_value(p) >= 0)
			pos = json_integer_value(p);
		json_decref(j);
	}
	curl_easy_cleanup(h);
	buf_cleanup(&b);
	free(url);
	return pos;
}

/* One connection, until it ends or stop.  Returns whether it was open. */
static bool follow_once(struct chat_feed *f)
{
	struct xfer x;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	char *url;

	memset(&x, 0, sizeof x);
	x.f = f;
	http_client_sse_init(&x.sse, f->max_event, on_sse, &x);
	if (f->pos < 0 && f->after < 0)
		f->pos = store_position(f);
	else if (f->pos < 0)
		f->pos = f->after;
	if (f->pos >= 0) {
		url = xasprintf("%s/events/stream?after=%lld%s%s", f->url, f->pos,
				f->filter ? "&" : "", f->filter ? f->filter : "");
	} else {
		url = xasprintf("%s/events/stream%s%s", f->url, f->filter ? "?" : "",
				f->filter ? f->filter : "");
	}
	hdrs = curl_slist_append(hdrs, "Accept: text/event-stream");
	x.h = curl_easy_init();
	curl_easy_setopt(x.h, CURLOPT_URL, url);
	curl_easy_setopt(x.h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x.h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x.h, CURLOPT_PROXY, "");
	curl_easy_setopt(x.h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(x.h, CURLOPT_CONNECTTIMEOUT_MS, (long)FEED_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(x.h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(x.h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(x.h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(x.h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(x.h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(x.h, CURLOPT_USERAGENT, "ambient-chat/" AMBIENT_VERSION);
	/* A quiet stream sends a keepalive every 15 s; after a minute of nothing
	 * the connection is considered dead. */
	curl_easy_setopt(x.h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(x.h, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(x.h, CURLOPT_TCP_KEEPALIVE, 1L);

	CURLM *m = curl_multi_init();
	curl_multi_add_handle(m, x.h);
	pthread_mutex_lock(&f->mu);
	f->multi = m;
	pthread_mutex_unlock(&f->mu);

	int running = 1;
	CURLcode result = CURLE_OK;
	while (running && !atomic_load(&f->stop)) {
		if (curl_multi_perform(m, &running) != CURLM_OK)
			break;
		if (!running)
			break;
		curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(m, &left)))
		if (msg->msg == CURLMSG_DONE)
			result = msg->data.result;

	pthread_mutex_lock(&f->mu);
	f->multi = NULL;
	pthread_mutex_unlock(&f->mu);
	curl_multi_remove_handle(m, x.h);
	curl_multi_cleanup(m);
	check_answer(&x);
	bool was_open = x.ok;
	if (x.sse.retry_ms > 0)
		f->retry_ms = x.sse.retry_ms;
	if (!atomic_load(&f->stop)) {
		const char *why = x.why[0]    ? x.why
				  : errbuf[0] ? errbuf
				  : result    ? curl_easy_strerror(result)
					      : "the server closed the stream";
		if (atomic_load(&f->up))
			status(f, false,
			       "lost the feedback server's event stream at %s (%s); "
			       "reconnecting",
			       f->url, why);
		else
			status(f, false, "no feedback server at %s (%s); will keep trying", f->url,
			       why);
	}
	curl_easy_cleanup(x.h);
	curl_slist_free_all(hdrs);
	http_client_sse_cleanup(&x.sse);
	free(url);
	return was_open;
}

/* Wait ms unless stopped. */
static void pause_ms(struct chat_feed *f, long ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&f->mu);
	while (!atomic_load(&f->stop) && pthread_cond_timedwait(&f->cond, &f->mu, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&f->mu);
}

static void *feed_main(void *arg)
{
	struct chat_feed *f = arg;
	long wait = FEED_FIRST_RETRY_MS;

	while (!atomic_load(&f->stop)) {
		bool was_open = follow_once(f);
		first_done(f);
		if (was_open)
			wait = f->retry_ms > 0 ? f->retry_ms : FEED_FIRST_RETRY_MS;
		if (atomic_load(&f->stop))
			break;
		pause_ms(f, wait);
		wait = wait * 2 > f->max_retry_ms ? f->max_retry_ms : wait * 2;
	}
	return NULL;
}

int chat_feed_start(const struct chat_feed_options *o, struct chat_feed **out, struct err *e)
{
	*out = NULL;
	if (!o->url || (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0))
		return err_set(
			e, ERR_INVALID,
			"the feedback server's URL must start with http:// or https:// (like "
			"%s), got '%s'",
			CHAT_FEED_DEFAULT_URL, o->url ? o->url : "");
	struct chat_feed *f = xcalloc(1, sizeof *f);
	f->url = xstrdup(o->url);
	size_t n = strlen(f->url);
	while (n > 0 && f->url[n - 1] == '/')
		f->url[--n] = '\0';
	f->filter = o->filter && *o->filter ? xstrdup(o->filter) : NULL;
	f->after = o->after;
	f->max_event = o->max_event ? o->max_event : FEED_MAX_EVENT;
	f->max_retry_ms = o->max_retry_ms > 0 ? o->max_retry_ms : FEED_MAX_RETRY_MS;
	f->on_event = o->on_event;
	f->on_status = o->on_status;
	f->ud = o->ud;
	f->retry_ms = -1;
	f->pos = -1;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cond, NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = pthread_create(&f->th, NULL, feed_main, f);
	if (rc) {
		pthread_mutex_destroy(&f->mu);
		pthread_cond_destroy(&f->cond);
		free(f->url);
		free(f->filter);
		free(f);
		return err_set(e, ERR_INTERNAL, "cannot start the feedback follower: %s",
			       strerror(rc));
	}
	/* Wait (a little) for the first connection, so that what happens after
	 * this returns is seen. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += FEED_CONNECT_TIMEOUT_MS / 1000;
	pthread_mutex_lock(&f->mu);
	while (!f->first_done && pthread_cond_timedwait(&f->cond, &f->mu, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&f->mu);
	*out = f;
	return ERR_OK;
}

bool chat_feed_up(struct chat_feed *f)
{
	return f && atomic_load(&f->up);
}

const char *chat_feed_url(const struct chat_feed *f)
{
	return f ? f->url : NULL;
}

void chat_feed_stop(struct chat_feed *f)
{
	if (!f)
		return;
	atomic_store(&f->stop, true);
	pthread_mutex_lock(&f->mu);
	if (f->multi)
		curl_multi_wakeup(f->multi);
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->th, NULL);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cond);
	free(f->url);
	free(f->filter);
	free(f);
}
