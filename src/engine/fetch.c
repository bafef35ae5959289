/*
 * fetch.c - the engine's HTTP fetcher on libcurl multi (see fetch.h).
 *
 * A request ("xfer") moves through these states:
 *
 *   QUEUED  -- in its host's FIFO, waiting for a per-host and a global slot
 *   RUNNING -- an easy handle in the multi handle
 *   WAITING -- a retry timer in the min-heap
 *   DONE    -- finished by curl (or failed before reaching curl), on the done
 *              list that fetcher_poll works through
 *   DELIVER -- its callback is running
 *
 * After an attempt the request is re-queued (a redirect: to the new host's
 * queue), put on a retry timer, or delivered.  Hosts with queued requests and
 * a free slot sit on a round-robin "runnable" list, so a host with 10,000
 * queued requests cannot starve the others.  Requests are found by id through
 * a small hash table (for fetcher_cancel); hosts by "host:port".
 *
 * The SSRF guard runs in netguard_open_socket(), curl's CURLOPT_OPENSOCKETFUNCTION, on
 * the address curl is about to connect to; a refusal makes curl try the next
 * address, and if none is left the attempt fails with COULDNT_CONNECT, which
 * finish_attempt turns into FETCH_FAIL_BLOCKED with the guard's message.
 * Connections are reused only for the same host name (curl's rule), so a
 * connection opened for an allowed name is never used for another name.
 */
#define _GNU_SOURCE /* strcasestr, SOCK_CLOEXEC */
#include "fetch.h"

#include <curl/curl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/timer_heap.h"
#include "common/xalloc.h"

#define DEF_MAX_TOTAL 64
#define DEF_MAX_PER_HOST 4
#define DEF_CONNECT_TIMEOUT_MS 10000
#define DEF_TIMEOUT_MS 30000
#define DEF_MAX_REDIRECTS 5
#define DEF_MAX_BODY (2u << 20)
#define DEF_ATTEMPTS 3
#define DEF_BASE_DELAY_MS 500
#define DEF_MAX_DELAY_MS 30000
#define DEF_MAX_RETRY_AFTER_MS 60000

enum xstate { X_QUEUED, X_RUNNING, X_WAITING, X_DONE, X_DELIVER };

enum method { M_GET, M_HEAD, M_POST, M_OTHER };

struct host;

struct xfer {
	uint64_t id;
	struct fetcher *f;
	fetch_done_fn cb;
	void *ud;
	enum xstate st;
	bool cancelled; /* cancelled while on the done list */

	/* the request (owned copies) */
	char *url;      /* as submitted */
	char *cur_url;  /* the current hop */
	char *cur_host; /* its host, for the guard's host-name entries */
	enum method method;
	char *method_name;
	char *body;
	size_t body_len;
	struct curl_slist *hdrs;
	struct fetch_retry retry;
	size_t max_body;
	bool truncate, trusted;
	int timeout_ms, max_redirects;

	/* links */
	struct host *host;
	struct xfer *qnext, *qprev; /* host queue */
	struct xfer *anext, *aprev; /* all requests */
	struct xfer *hnext;         /* id hash chain */
	struct xfer *dnext;         /* done list */
	struct timer_node timer;    /* armed while waiting for a retry */

	/* the current attempt */
	CURL *easy;
	CURLcode rc;
	struct buf resp;
	size_t seen; /* decoded body bytes seen (also those discarded) */
	long wstatus;
	bool wstatus_known, too_big, truncated;
	struct netguard_conn conn; /* the SSRF guard at connect time */
	char errbuf[CURL_ERROR_SIZE];
	int64_t attempt_start_us;

	/* what the last attempt found (owned) */
	long status;
	char *etag, *last_modified, *content_type, *location;
	int64_t retry_after_ms;
	char primary_ip[48];
	int64_t dns_us, connect_us, ttfb_us, total_us;

	/* failure decided before reaching curl */
	int pre_code;
	enum fetch_failure pre_failure;
	struct err pre_err;

	int attempts, total_attempts, redirects;
	int64_t submit_us, enqueue_us, queued_us;
};

struct host {
	char *key; /* "host:port", lower case */
	struct host *hnext;
	struct xfer *qhead, *qtail;
	size_t queued;
	int active;
	bool runnable;
	struct host *rnext, *rprev;
};

struct fetcher {
	CURLM *multi;
	char *user_agent, *proxy;
	int max_total, max_per_host, connect_timeout_ms, timeout_ms, max_redirects;
	size_t max_body;
	const struct netguard *guard;
	struct fetch_retry retry;

	uint64_t next_id;
	uint64_t rng;

	struct xfer **ids; /* id hash buckets */
	size_t nids_buckets, nids;
	struct host **hosts;
	size_t nhost_buckets, nhosts;
	struct xfer *all;
	struct host *rhead, *rtail; /* runnable hosts */

	struct timer_heap timers; /* retries waiting for their time */

	struct xfer *done_head, *done_tail;

	CURL **pool;
	size_t npool, pool_cap;

	int running;
	struct fetch_stats st;
	bool in_callbacks;
};

static int64_t now_us(void)
{
	return clock_mono_us(clock_system());
}

/* ---- small helpers -------------------------------------------------------- */

static uint64_t rng_next(struct fetcher *f)
{
	uint64_t x = f->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	f->rng = x;
	return x;
}

static void fmt_bytes(size_t n, char *out, size_t size)
{
	if (n >= (1u << 20) && n % (1u << 20) == 0)
		snprintf(out, size, "%zu MiB", n >> 20);
	else if (n >= (1u << 20))
		snprintf(out, size, "%.1f MiB", (double)n / (1 << 20));
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(out, size, "%zu KiB", n >> 10);
	else
		snprintf(out, size, "%zu bytes", n);
}

static void fmt_secs(int ms, char *out, size_t size)
{
	if (ms % 1000 == 0)
		snprintf(out, size, "%d s", ms / 1000);
	else
		snprintf(out, size, "%.1f s", ms / 1000.0);
}

static const char *reason_phrase(long status)
{
	static const struct {
		long code;
		const char *text;
	} t[] = {
		{400, "Bad Request"},
		{401, "Unauthorized"},
		{402, "Payment Required"},
		{403, "Forbidden"},
		{404, "Not Found"},
		{405, "Method Not Allowed"},
		{406, "Not Acceptable"},
		{407, "Proxy Authentication Required"},
		{408, "Request Timeout"},
		{409, "Conflict"},
		{410, "Gone"},
		{411, "Length Required"},
		{412, "Precondition Failed"},
		{413, "Content Too Large"},
		{414, "URI Too Long"},
		{415, "Unsupported Media Type"},
		{418, "I'm a teapot"},
		{421, "Misdirected Request"},
		{422, "Unprocessable Content"},
		{425, "Too Early"},
		{426, "Upgrade Required"},
		{428, "Precondition Required"},
		{429, "Too Many Requests"},
		{431, "Request Header Fields Too Large"},
		{451, "Unavailable For Legal Reasons"},
		{500, "Internal Server Error"},
		{501, "Not Implemented"},
		{502, "Bad Gateway"},
		{503, "Service Unavailable"},
		{504, "Gateway Timeout"},
		{505, "HTTP Version Not Supported"},
		{300, "Multiple Choices"},
		{301, "Moved Permanently"},
		{302, "Found"},
		{303, "See Other"},
		{305, "Use Proxy"},
		{307, "Temporary Redirect"},
		{308, "Permanent Redirect"},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (t[i].code == status)
			return t[i].text;
	return NULL;
}

static const char *const failure_names[FETCH__FAIL_COUNT] = {
	[FETCH_OK] = "ok",
	[FETCH_FAIL_URL] = "url",
	[FETCH_FAIL_BLOCKED] = "blocked",
	[FETCH_FAIL_DNS] = "dns",
	[FETCH_FAIL_CONNECT] = "connect",
	[FETCH_FAIL_TIMEOUT] = "timeout",
	[FETCH_FAIL_TLS] = "tls",
	[FETCH_FAIL_NETWORK] = "network",
	[FETCH_FAIL_TOO_BIG] = "too_big",
	[FETCH_FAIL_REDIRECT] = "redirect",
	[FETCH_FAIL_HTTP] = "http",
	[FETCH_FAIL_OTHER] = "other",
};

const char *fetch_failure_name(enum fetch_failure fl)
{
	if ((int)fl < 0 || fl >= FETCH__FAIL_COUNT)
		return "unknown";
	return failure_names[fl];
}

static bool is_redirect_status(long s)
{
	return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

static bool is_transient_status(long s)
{
	return s == 408 || s == 429 || s == 502 || s == 503 || s == 504;
}

/* Parse an http(s) URL: ERR_OK and the host ("[::1]" for IPv6) and the key
 * "host:port"; ERR_INVALID / ERR_PERM with a message otherwise. */
static int parse_url(const char *url, char **host_out, char **key_out, struct err *e)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int rc = ERR_OK;
	CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (uc) {
		rc = err_set(e, ERR_INVALID, "'%.300s' is not a valid URL (%s)", url,
			     curl_url_strerror(uc));
		goto out;
	}
	curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	if (!scheme || (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
		rc = err_set(
			e, ERR_INVALID,
			"'%.300s' is not an http:// or https:// URL; only those can be fetched",
			url);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) || !host || !*host) {
		rc = err_set(e, ERR_INVALID, "'%.300s' has no host name", url);
		goto out;
	}
	curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
	if (host_out)
		*host_out = xstrdup(host);
	if (key_out) {
		char *k = xasprintf("%s:%s", host, port ? port : "80");
		for (char *p = k; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		*key_out = k;
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

/* ---- id hash ------------------------------------------------------------ */

static size_t id_slot(const struct fetcher *f, uint64_t id)
{
	return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 20) & (f->nids_buckets - 1);
}

static void ids_grow(struct fetcher *f)
{
	size_t old_n = f->nids_buckets;
	struct xfer **old = f->ids;
	f->nids_buckets = old_n ? old_n * 2 : 256;
	f->ids = xcalloc(f->nids_buckets, sizeof *f->ids);
	for (size_t i = 0; i < old_n; i++) {
		for (struct xfer *x = old[i], *next; x; x = next) {
			next = x->hnext;
			size_t s = id_slot(f, x->id);
			x->hnext = f->ids[s];
			f->ids[s] = x;
		}
	}
	free(old);
}

static void ids_put(struct fetcher *f, struct xfer *x)
{
	if (f->nids >= f->nids_buckets)
		ids_grow(f);
	size_t s = id_slot(f, x->id);
	x->hnext = f->ids[s];
	f->ids[s] = x;
	f->nids++;
}

static struct xfer *ids_get(const struct fetcher *f, uint64_t id)
{
	if (!f->nids_buckets)
		return NULL;
	for (struct xfer *x = f->ids[id_slot(f, id)]; x; x = x->hnext)
		if (x->id == id)
			return x;
	return NULL;
}

static void ids_del(struct fetcher *f, struct xfer *x)
{
	struct xfer **pp = &f->ids[id_slot(f, x->id)];
	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == x) {
			*pp = x->hnext;
			f->nids--;
			return;
		}
	}
}

/* ---- hosts -------------------------------------------------------------- */

static size_t str_hash(const char *s)
{
	size_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void hosts_grow(struct fetcher *f)
{
	size_t old_n = f->nhost_buckets;
	struct host **old = f->hosts;
	f->nhost_buckets = old_n ? old_n * 2 : 64;
	f->hosts = xcalloc(f->nhost_buckets, sizeof *f->hosts);
	for (size_t i = 0; i < old_n; i++) {
		for (struct host *h = old[i], *next; h; h = next) {
			next = h->hnext;
			size_t s = str_hash(h->key) & (f->nhost_buckets - 1);
			h->hnext = f->hosts[s];
			f->hosts[s] = h;
		}
	}
	free(old);
}

static struct host *host_get(struct fetcher *f, const char *key)
{
	if (f->nhost_buckets) {
		for (struct host *h = f->hosts[str_hash(key) & (f->nhost_buckets - 1)]; h;
		     h = h->hnext)
			if (strcmp(h->key, key) == 0)
				return h;
	}
	if (f->nhosts >= f->nhost_buckets)
		hosts_grow(f);
	struct host *h = xcalloc(1, sizeof *h);
	h->key = xstrdup(key);
	size_t s = str_hash(key) & (f->nhost_buckets - 1);
	h->hnext = f->hosts[s];
	f->hosts[s] = h;
	f->nhosts++;
	return h;
}

static void runnable_push(struct fetcher *f, struct host *h)
{
	if (h->runnable)
		return;
	h->runnable = true;
	h->rnext = NULL;
	h->rprev = f->rtail;
	if (f->rtail)
		f->rtail->rnext = h;
	else
		f->rhead = h;
	f->rtail = h;
}

static void runnable_del(struct fetcher *f, struct host *h)
{
	if (!h->runnable)
		return;
	if (h->rprev)
		h->rprev->rnext = h->rnext;
	else
		f->rhead = h->rnext;
	if (h->rnext)
		h->rnext->rprev = h->rprev;
	else
		f->rtail = h->rprev;
	h->runnable = false;
	h->rnext = h->rprev = NULL;
}

/* Update h's place: runnable when it has queued work and a free slot; freed
 * when it has nothing at all. */
static void host_settle(struct fetcher *f, struct host *h)
{
	if (h->queued && h->active < f->max_per_host) {
		runnable_push(f, h);
		return;
	}
	runnable_del(f, h);
	if (h->queued || h->active)
		return;
	struct host **pp = &f->hosts[str_hash(h->key) & (f->nhost_buckets - 1)];
	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == h) {
			*pp = h->hnext;
			break;
		}
	}
	f->nhosts--;
	free(h->key);
	free(h);
}

/* Put x at the tail (or head) of the queue of its current URL's host. */
static void enqueue(struct fetcher *f, struct xfer *x, const char *key, bool front)
{
	struct host *h = host_get(f, key);
	x->host = h;
	x->st = X_QUEUED;
	x->enqueue_us = now_us();
	x->qnext = x->qprev = NULL;
	if (front) {
		x->qnext = h->qhead;
		if (h->qhead)
			h->qhead->qprev = x;
		else
			h->qtail = x;
		h->qhead = x;
	} else {
		x->qprev = h->qtail;
		if (h->qtail)
			h->qtail->qnext = x;
		else
			h->qhead = x;
		h->qtail = x;
	}
	h->queued++;
	f->st.queued++;
	host_settle(f, h);
}

static void dequeue(struct fetcher *f, struct xfer *x)
{
	struct host *h = x->host;
	if (x->qprev)
		x->qprev->qnext = x->qnext;
	else
		h->qhead = x->qnext;
	if (x->qnext)
		x->qnext->qprev = x->qprev;
	else
		h->qtail = x->qprev;
	x->qnext = x->qprev = NULL;
	h->queued--;
	f->st.queued--;
}

/* ---- retry timers ------------------------------------------------------- */

static struct xfer *first_timer(struct fetcher *f)
{
	struct timer_node *t = timer_heap_first(&f->timers);
	return t ? timer_heap_entry(t, struct xfer, timer) : NULL;
}

/* ---- curl callbacks ----------------------------------------------------- */

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;

	if (!x->wstatus_known) {
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->wstatus);
		x->wstatus_known = true;
	}
	bool discard = x->max_redirects >= 0 && is_redirect_status(x->wstatus);
	if (len > x->max_body - x->seen) {
		if (x->truncate && !discard) {
			buf_append(&x->resp, p, x->max_body - x->seen);
			x->seen = x->max_body;
			x->truncated = true;
		} else {
			x->too_big = true;
		}
		return 0; /* abort the transfer: CURLE_WRITE_ERROR */
	}
	x->seen += len;
	if (!discard)
		buf_append(&x->resp, p, len);
	return len;
}

/* ---- starting and finishing attempts ------------------------------------ */

static void xfer_free(struct fetcher *f, struct xfer *x)
{
	ids_del(f, x);
	if (x->aprev)
		x->aprev->anext = x->anext;
	else
		f->all = x->anext;
	if (x->anext)
		x->anext->aprev = x->aprev;
	free(x->url);
	free(x->cur_url);
	free(x->cur_host);
	free(x->method_name);
	free(x->body);
	curl_slist_free_all(x->hdrs);
	buf_cleanup(&x->resp);
	free(x->etag);
	free(x->last_modified);
	free(x->content_type);
	free(x->location);
	free(x);
}

static void done_push(struct fetcher *f, struct xfer *x)
{
	x->st = X_DONE;
	x->dnext = NULL;
	if (f->done_tail)
		f->done_tail->dnext = x;
	else
		f->done_head = x;
	f->done_tail = x;
}

/* Fail x before (or instead of) a curl attempt; delivered by the next poll. */
static void fail_early(struct fetcher *f, struct xfer *x, int code, enum fetch_failure fl,
		       const struct err *e)
{
	x->pre_code = code;
	x->pre_failure = fl;
	x->pre_err = *e;
	x->pre_err.code = code;
	done_push(f, x);
}

static void release_easy(struct fetcher *f, struct xfer *x)
{
	if (!x->easy)
		return;
	curl_easy_reset(x->easy);
	if (f->npool < (size_t)f->max_total) {
		if (f->npool == f->pool_cap) {
			f->pool_cap = f->pool_cap ? f->pool_cap * 2 : 16;
			f->pool = xrealloc(f->pool, f->pool_cap * sizeof *f->pool);
		}
		f->pool[f->npool++] = x->easy;
	} else {
		curl_easy_cleanup(x->easy);
	}
	x->easy = NULL;
}

/* Give back x's running slot (host and global). */
static void release_slot(struct fetcher *f, struct xfer *x)
{
	struct host *h = x->host;
	h->active--;
	f->running--;
	f->st.running--;
	x->host = NULL;
	host_settle(f, h);
}

static void start(struct fetcher *f, struct xfer *x)
{
	CURL *c = f->npool ? f->pool[--f->npool] : curl_easy_init();
	int64_t t = now_us();

	x->queued_us += t - x->enqueue_us;
	x->easy = c;
	x->attempt_start_us = t;
	x->attempts++;
	x->total_attempts++;
	f->st.attempts++;
	buf_reset(&x->resp);
	x->seen = 0;
	x->wstatus = 0;
	x->wstatus_known = x->too_big = x->truncated = false;
	netguard_conn_reset(&x->conn);
	x->conn.guard = f->guard && !x->trusted && !f->proxy ? f->guard : NULL;
	x->conn.host = x->cur_host;
	x->conn.url = x->cur_url;
	x->errbuf[0] = '\0';

	curl_easy_setopt(c, CURLOPT_PRIVATE, x);
	curl_easy_setopt(c, CURLOPT_URL, x->cur_url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROXY, f->proxy ? f->proxy : ""); /* "" = no env proxy */
	curl_easy_setopt(c, CURLOPT_USERAGENT, f->user_agent);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, ""); /* all curl supports */
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)f->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)x->timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, netguard_open_socket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &x->conn);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hdrs);
	if (!x->truncate && x->method != M_HEAD) /* refuse early on a large Content-Length */
		curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_body);
	switch (x->method) {
	case M_GET:
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		break;
	case M_HEAD:
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		break;
	case M_POST:
	case M_OTHER:
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->body ? x->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
		if (x->method == M_OTHER)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, x->method_name);
		break;
	}

	x->st = X_RUNNING;
	x->host->active++;
	f->running++;
	f->st.running++;
	CURLMcode mc = curl_multi_add_handle(f->multi, c);
	if (mc != CURLM_OK) {
		struct err e;
		err_set(&e, ERR_INTERNAL, "could not start the transfer of %s: %s", x->cur_url,
			curl_multi_strerror(mc));
		release_slot(f, x);
		release_easy(f, x);
		fail_early(f, x, ERR_INTERNAL, FETCH_FAIL_OTHER, &e);
	}
}

/* Start queued requests while there are free slots, round-robin over hosts. */
static void dispatch(struct fetcher *f)
{
	while (f->running < f->max_total && f->rhead) {
		struct host *h = f->rhead;
		runnable_del(f, h);
		struct xfer *x = h->qhead;
		dequeue(f, x);
		x->host = h;
		start(f, x);
		if (x->host) /* start did not fail */
			host_settle(f, h);
	}
}

static char *header_value(CURL *c, const char *name)
{
	struct curl_header *h = NULL;
	if (curl_easy_header(c, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h || !h->value)
		return NULL;
	return xstrdup(h->value);
}

/* Read what the finished attempt found into x, then give back the handle. */
static void collect(struct fetcher *f, struct xfer *x)
{
	CURL *c = x->easy;
	char *s = NULL;
	curl_off_t v = 0;

	x->status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
	free(x->etag);
	free(x->last_modified);
	free(x->content_type);
	free(x->location);
	x->etag = header_value(c, "ETag");
	x->last_modified = header_value(c, "Last-Modified");
	x->content_type = NULL;
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &s) == CURLE_OK && s)
		x->content_type = xstrdup(s);
	x->location = NULL;
	s = NULL;
	if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &s) == CURLE_OK && s)
		x->location = xstrdup(s);
	x->retry_after_ms = -1;
	char *ra = header_value(c, "Retry-After");
	if (ra) {
		if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &v) == CURLE_OK && v >= 0)
			x->retry_after_ms = (int64_t)v * 1000;
		free(ra);
	}
	x->primary_ip[0] = '\0';
	s = NULL;
	if (curl_easy_getinfo(c, CURLINFO_PRIMARY_IP, &s) == CURLE_OK && s)
		snprintf(x->primary_ip, sizeof x->primary_ip, "%s", s);
	v = 0;
	curl_easy_getinfo(c, CURLINFO_NAMELOOKUP_TIME_T, &v);
	x->dns_us = v;
	v = 0;
	curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &v);
	x->connect_us = v;
	v = 0;
	curl_easy_getinfo(c, CURLINFO_STARTTRANSFER_TIME_T, &v);
	x->ttfb_us = v;
	v = 0;
	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &v);
	x->total_us = v;
	f->st.body_bytes += x->seen;
	release_easy(f, x);
}

/* Classify a curl failure: the err code, failure kind, message, and whether
 * a retry may help. */
static int curl_failure(struct fetcher *f, struct xfer *x, enum fetch_failure *fl, bool *transient,
			struct err *e)
{
	char secs[32], hostport[300];
	const char *detail = x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->rc);
	snprintf(hostport, sizeof hostport, "%s", x->cur_host ? x->cur_host : "?");
	*transient = false;

	switch (x->rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		*fl = FETCH_FAIL_DNS;
		return err_set(e, ERR_NOT_FOUND, "DNS lookup failed for %s (%s)", hostport,
			       x->cur_url);
	case CURLE_COULDNT_RESOLVE_PROXY:
		*fl = FETCH_FAIL_DNS;
		return err_set(e, ERR_NOT_FOUND, "DNS lookup failed for the proxy %s", f->proxy);
	case CURLE_COULDNT_CONNECT:
		*fl = FETCH_FAIL_CONNECT;
		*transient = true;
		return err_set(e, ERR_IO, "could not connect for %s: %s", x->cur_url, detail);
	case CURLE_OPERATION_TIMEDOUT:
		*fl = FETCH_FAIL_TIMEOUT;
		*transient = true;
		if (x->connect_us == 0 && x->ttfb_us == 0) {
			fmt_secs(f->connect_timeout_ms, secs, sizeof secs);
			if (x->dns_us == 0 && x->cur_host && x->cur_host[0] != '[' &&
			    strspn(x->cur_host, "0123456789.") != strlen(x->cur_host))
				return err_set(e, ERR_TIMEOUT,
					       "connect timeout after %s for %s (DNS lookup of %s "
					       "did not finish)",
					       secs, x->cur_url, hostport);
			return err_set(e, ERR_TIMEOUT, "connect timeout after %s for %s", secs,
				       x->cur_url);
		}
		fmt_secs(x->timeout_ms, secs, sizeof secs);
		return err_set(e, ERR_TIMEOUT,
			       "no complete response within %s from %s (%zu bytes received)", secs,
			       x->cur_url, x->seen);
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		*fl = FETCH_FAIL_TLS;
		return err_set(e, ERR_IO, "TLS failure with %s for %s: %s", hostport, x->cur_url,
			       detail);
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		*fl = FETCH_FAIL_NETWORK;
		*transient = true;
		return err_set(e, ERR_IO, "connection reset while talking to %s (%s)", x->cur_url,
			       detail);
	case CURLE_GOT_NOTHING:
		*fl = FETCH_FAIL_NETWORK;
		*transient = true;
		return err_set(e, ERR_IO,
			       "the server closed the connection without a response (%s)",
			       x->cur_url);
	case CURLE_PARTIAL_FILE:
		*fl = FETCH_FAIL_NETWORK;
		*transient = true;
		return err_set(
			e, ERR_IO,
			"the connection closed before the whole response arrived from %s (%s)",
			x->cur_url, detail);
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_HTTP3:
		*fl = FETCH_FAIL_NETWORK;
		*transient = true;
		return err_set(e, ERR_IO, "HTTP/2 error from %s: %s", x->cur_url, detail);
	case CURLE_URL_MALFORMAT:
		*fl = FETCH_FAIL_URL;
		return err_set(e, ERR_INVALID, "cannot fetch %s: %s", x->cur_url, detail);
	case CURLE_UNSUPPORTED_PROTOCOL: /* the scheme was checked: this is an HTTP/0.9 reply */
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_WEIRD_SERVER_REPLY:
		*fl = FETCH_FAIL_NETWORK;
		return err_set(e, ERR_IO, "malformed response from %s: %s", x->cur_url, detail);
	default:
		*fl = FETCH_FAIL_OTHER;
		return err_set(e, ERR_IO, "fetching %s failed: %s", x->cur_url, detail);
	}
}

static int http_failure(struct xfer *x, struct err *e)
{
	const char *phrase = reason_phrase(x->status);
	int code = ERR_IO;
	if (x->status == 404 || x->status == 410)
		code = ERR_NOT_FOUND;
	else if (x->status == 401 || x->status == 403)
		code = ERR_PERM;
	else if (x->status == 429)
		code = ERR_BUSY;
	return err_set(e, code, "HTTP %ld%s%s from %s", x->status, phrase ? " " : "",
		       phrase ? phrase : "", x->cur_url);
}

static void deliver(struct fetcher *f, struct xfer *x, int code, enum fetch_failure fl,
		    struct err *e);

/* Schedule another attempt of x if its policy allows; true when it did. */
static bool maybe_retry(struct fetcher *f, struct xfer *x, struct err *e)
{
	if (x->attempts >= x->retry.max_attempts)
		return false;
	int64_t delay_ms;
	if (x->retry_after_ms >= 0 && x->status) {
		if (x->retry_after_ms > x->retry.max_retry_after_ms) {
			char secs[32];
			fmt_secs((int)(x->retry_after_ms > INT_MAX ? INT_MAX : x->retry_after_ms),
				 secs, sizeof secs);
			size_t n = strlen(e->msg);
			snprintf(e->msg + n, sizeof e->msg - n,
				 "; the server asked to retry after %s, longer than the fetcher "
				 "waits",
				 secs);
			return false;
		}
		delay_ms = x->retry_after_ms;
	} else {
		int64_t d = (int64_t)x->retry.base_delay_ms
			    << (x->attempts - 1 > 20 ? 20 : x->attempts - 1);
		if (d > x->retry.max_delay_ms)
			d = x->retry.max_delay_ms;
		/* "equal jitter": half fixed, half random */
		delay_ms = d / 2 + (int64_t)(rng_next(f) % (uint64_t)(d / 2 + 1));
	}
	log_debug("fetch: %s; attempt %d of %d in %lld ms", e->msg, x->attempts + 1,
		  x->retry.max_attempts, (long long)delay_ms);
	x->st = X_WAITING;
	f->st.waiting++;
	f->st.retries++;
	timer_heap_arm(&f->timers, &x->timer, now_us() + delay_ms * 1000);
	return true;
}

/* Judge a URL's host before queueing: IP literals at once (a clear error, no
 * connection attempt).  Names are judged at connect time by netguard_open_socket --
 * except behind a proxy, where only the name is known to us. */
static int preflight(struct fetcher *f, struct xfer *x, const char *host, const char *url,
		     struct err *e)
{
	if (!f->guard || x->trusted)
		return ERR_OK;
	if (f->proxy || netguard_classify_str(host, NULL) >= 0)
		return netguard_check_host(f->guard, host, url, e);
	return ERR_OK;
}

/* Follow a redirect of x; false (with e set) when it must not be followed. */
static bool follow(struct fetcher *f, struct xfer *x, int *code, enum fetch_failure *fl,
		   struct err *e)
{
	if (x->redirects >= x->max_redirects) {
		*fl = FETCH_FAIL_REDIRECT;
		*code = err_set(e, ERR_IO, "stopped after %d redirects starting at %s (last: %s)",
				x->redirects, x->url, x->cur_url);
		return false;
	}
	char *host = NULL, *key = NULL;
	struct err pe = {0};
	if (parse_url(x->location, &host, &key, &pe)) {
		*fl = FETCH_FAIL_REDIRECT;
		*code = err_set(e, ERR_PERM, "refusing the redirect from %s to %s: %s", x->cur_url,
				x->location, pe.msg);
		return false;
	}
	if (preflight(f, x, host, x->location, &pe)) {
		free(host);
		free(key);
		f->st.blocked++;
		*fl = FETCH_FAIL_BLOCKED;
		*code = err_set(e, ERR_PERM, "redirect from %s: %s", x->cur_url, pe.msg);
		return false;
	}
	x->redirects++;
	f->st.redirects++;
	if (x->status == 303 && x->method != M_HEAD)
		x->method = M_GET;
	else if ((x->status == 301 || x->status == 302) && x->method == M_POST)
		x->method = M_GET;
	log_debug("fetch: %s -> %ld %s", x->cur_url, x->status, x->location);
	free(x->cur_url);
	free(x->cur_host);
	x->cur_url = x->location;
	x->location = NULL;
	x->cur_host = host;
	x->attempts = 0;
	enqueue(f, x, key, true);
	free(key);
	return true;
}

/* An attempt finished (x->rc set, the easy handle still attached). */
static void finish_attempt(struct fetcher *f, struct xfer *x)
{
	struct err e = {0};
	int code = ERR_OK;
	enum fetch_failure fl = FETCH_OK;
	bool transient = false;

	if (x->pre_code) {
		deliver(f, x, x->pre_code, x->pre_failure, &x->pre_err);
		return;
	}
	collect(f, x);
	release_slot(f, x);

	CURLcode rc = x->rc;
	if (rc == CURLE_WRITE_ERROR && x->truncated)
		rc = CURLE_OK;
	if (x->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
		char lim[32];
		fmt_bytes(x->max_body, lim, sizeof lim);
		fl = FETCH_FAIL_TOO_BIG;
		code = err_set(&e, ERR_TOO_BIG,
			       "response larger than %s from %s (the fetcher's size cap)", lim,
			       x->cur_url);
	} else if (rc == CURLE_COULDNT_CONNECT && x->conn.blocked && !x->conn.passed) {
		fl = FETCH_FAIL_BLOCKED;
		e = x->conn.err;
		code = e.code = ERR_PERM;
		f->st.blocked++;
	} else if (rc != CURLE_OK) {
		code = curl_failure(f, x, &fl, &transient, &e);
	} else if (is_redirect_status(x->status) && x->max_redirects >= 0) {
		if (!x->location) {
			fl = FETCH_FAIL_REDIRECT;
			code = err_set(&e, ERR_IO, "HTTP %ld from %s without a Location header",
				       x->status, x->cur_url);
		} else if (follow(f, x, &code, &fl, &e)) {
			return;
		}
	} else if (x->status == 304) {
		f->st.not_modified++;
	} else if ((x->status >= 200 && x->status < 300) ||
		   (x->max_redirects < 0 && x->status >= 300 && x->status < 400)) {
		/* ok */
	} else {
		fl = FETCH_FAIL_HTTP;
		transient = is_transient_status(x->status);
		code = http_failure(x, &e);
	}

	if (code && transient && maybe_retry(f, x, &e))
		return;
	if (code && x->attempts > 1) {
		size_t n = strlen(e.msg);
		snprintf(e.msg + n, sizeof e.msg - n, " (after %d attempts)", x->attempts);
	}
	deliver(f, x, code, fl, &e);
}

static void deliver(struct fetcher *f, struct xfer *x, int code, enum fetch_failure fl,
		    struct err *e)
{
	struct fetch_result r;
	int64_t t = now_us();

	memset(&r, 0, sizeof r);
	r.id = x->id;
	r.code = code;
	r.failure = code ? fl : FETCH_OK;
	if (code) {
		r.err = *e;
		r.err.code = code;
	}
	r.status = x->status;
	r.not_modified = x->status == 304 && !x->pre_code;
	r.url = x->url;
	r.final_url = x->cur_url;
	r.etag = x->etag;
	r.last_modified = x->last_modified;
	r.content_type = x->content_type;
	char charset[64] = "";
	if (x->content_type) {
		const char *p = strcasestr(x->content_type, "charset=");
		if (p) {
			p += 8;
			if (*p == '"')
				p++;
			size_t n = strcspn(p, "\"; \t");
			if (n && n < sizeof charset) {
				for (size_t i = 0; i < n; i++)
					charset[i] = (char)((p[i] >= 'A' && p[i] <= 'Z')
								    ? p[i] - 'A' + 'a'
								    : p[i]);
				charset[n] = '\0';
				r.charset = charset;
			}
		}
	}
	r.retry_after_ms = x->retry_after_ms;
	/* a body only with a response to show: success or an HTTP error status
	 * (never the partial body of a failed transfer) */
	if (!x->pre_code && x->resp.data && x->status != 304 &&
	    (code == ERR_OK || fl == FETCH_FAIL_HTTP)) {
		r.body_len = x->resp.len;
		r.body = buf_steal(&x->resp);
	}
	r.truncated = x->truncated && !code;
	r.attempts = x->attempts;
	r.redirects = x->redirects;
	snprintf(r.primary_ip, sizeof r.primary_ip, "%s", x->primary_ip);
	r.elapsed_ms = (t - x->submit_us) / 1000;
	r.queued_ms = x->queued_us / 1000;
	r.dns_ms = x->dns_us / 1000;
	r.connect_ms = x->connect_us / 1000;
	r.ttfb_ms = x->ttfb_us / 1000;
	r.transfer_ms = x->total_us / 1000;

	f->st.completed++;
	if (code)
		f->st.failed++;
	if (code)
		log_debug("fetch #%llu: %s", (unsigned long long)x->id, r.err.msg);
	else
		log_trace("fetch #%llu: %ld %s (%zu bytes, %lld ms)", (unsigned long long)x->id,
			  r.status, r.final_url, r.body_len, (long long)r.elapsed_ms);

	x->st = X_DELIVER;
	x->cb(&r, x->ud);
	free(r.body);
	xfer_free(f, x);
}

/* ---- the loop ----------------------------------------------------------- */

static void fire_timers(struct fetcher *f)
{
	int64_t t = now_us();
	struct xfer *x;
	while ((x = first_timer(f)) && x->timer.due_us <= t) {
		timer_heap_disarm(&f->timers, &x->timer);
		f->st.waiting--;
		char *key = NULL;
		struct err e = {0};
		if (parse_url(x->cur_url, NULL, &key, &e)) { /* cannot happen: parsed before */
			fail_early(f, x, ERR_INTERNAL, FETCH_FAIL_OTHER, &e);
			continue;
		}
		enqueue(f, x, key, false);
		free(key);
	}
}

static void collect_done(struct fetcher *f)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(f->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct xfer *x = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		CURLcode rc = m->data.result;
		curl_multi_remove_handle(f->multi, m->easy_handle);
		if (!x)
			continue;
		x->rc = rc;
		done_push(f, x);
	}
}

static int run_done(struct fetcher *f)
{
	int n = 0;
	f->in_callbacks = true;
	while (f->done_head) {
		struct xfer *x = f->done_head;
		f->done_head = x->dnext;
		if (!f->done_head)
			f->done_tail = NULL;
		x->dnext = NULL;
		if (x->cancelled) {
			if (x->easy) {
				release_slot(f, x);
				release_easy(f, x);
			}
			xfer_free(f, x);
			continue;
		}
		uint64_t before = f->st.completed;
		finish_attempt(f, x);
		if (f->st.completed != before)
			n++;
	}
	f->in_callbacks = false;
	return n;
}

static int step(struct fetcher *f)
{
	int running = 0, n = 0;
	fire_timers(f);
	dispatch(f);
	curl_multi_perform(f->multi, &running);
	collect_done(f);
	n += run_done(f);
	if (n) {
		/* callbacks may have submitted: start those now */
		fire_timers(f);
		dispatch(f);
		curl_multi_perform(f->multi, &running);
		collect_done(f);
		n += run_done(f);
	}
	return n;
}

int fetcher_poll(struct fetcher *f, int timeout_ms)
{
	int n = step(f);
	if (n > 0 || timeout_ms == 0 || f->done_head)
		return n;
	int64_t wait = timeout_ms < 0 ? INT_MAX : timeout_ms;
	struct xfer *first = first_timer(f);
	if (first) {
		int64_t until = (first->timer.due_us - now_us() + 999) / 1000;
		if (until < 0)
			until = 0;
		if (until < wait)
			wait = until;
	}
	if (f->rhead && f->running < f->max_total)
		wait = 0;
	if (wait > 0)
		curl_multi_poll(f->multi, NULL, 0, (int)wait, NULL);
	return n + step(f);
}

void fetcher_wakeup(struct fetcher *f)
{
	if (f)
		curl_multi_wakeup(f->multi);
}

/* ---- public API --------------------------------------------------------- */

static void retry_defaults(struct fetch_retry *r, const struct fetch_retry *base)
{
	if (r->max_attempts <= 0)
		r->max_attempts = base ? base->max_attempts : DEF_ATTEMPTS;
	if (r->base_delay_ms <= 0)
		r->base_delay_ms = base ? base->base_delay_ms : DEF_BASE_DELAY_MS;
	if (r->max_delay_ms <= 0)
		r->max_delay_ms = base ? base->max_delay_ms : DEF_MAX_DELAY_MS;
	if (r->max_retry_after_ms <= 0)
		r->max_retry_after_ms = base ? base->max_retry_after_ms : DEF_MAX_RETRY_AFTER_MS;
}

int fetcher_new(const struct fetch_options *o, struct fetcher **out, struct err *e)
{
	struct fetch_options d = {0};
	if (!o)
		o = &d;
	*out = NULL;
	if (o->max_total < 0 || o->max_per_host < 0 || o->connect_timeout_ms < 0 ||
	    o->timeout_ms < 0 || o->max_redirects < -1)
		return err_set(e, ERR_INVALID,
			       "fetcher limits must not be negative (max_redirects may be -1 for "
			       "none)");
	if (o->proxy && *o->proxy) {
		CURLU *u = curl_url();
		CURLUcode uc = curl_url_set(u, CURLUPART_URL, o->proxy, CURLU_NON_SUPPORT_SCHEME);
		curl_url_cleanup(u);
		if (uc)
			return err_set(e, ERR_INVALID,
				       "proxy '%s' is not a URL (give it as http://host:port)",
				       o->proxy);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);

	struct fetcher *f = xcalloc(1, sizeof *f);
	f->multi = curl_multi_init();
	if (o->user_agent && *o->user_agent) {
		f->user_agent = xstrdup(o->user_agent);
	} else {
		curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
		f->user_agent = xasprintf("ambient/%s (background task monitor; libcurl/%s)",
					  AMBIENT_VERSION, vi ? vi->version : "?");
	}
	f->proxy = o->proxy && *o->proxy ? xstrdup(o->proxy) : NULL;
	f->max_total = o->max_total ? o->max_total : DEF_MAX_TOTAL;
	f->max_per_host = o->max_per_host ? o->max_per_host : DEF_MAX_PER_HOST;
	f->connect_timeout_ms =
		o->connect_timeout_ms ? o->connect_timeout_ms : DEF_CONNECT_TIMEOUT_MS;
	f->timeout_ms = o->timeout_ms ? o->timeout_ms : DEF_TIMEOUT_MS;
	f->max_redirects = o->max_redirects ? o->max_redirects : DEF_MAX_REDIRECTS;
	f->max_body = o->max_body ? o->max_body : DEF_MAX_BODY;
	f->guard = o->guard;
	f->retry = o->retry;
	retry_defaults(&f->retry, NULL);
	f->next_id = 1;
	f->rng = (uint64_t)now_us() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)f;
	if (!f->rng)
		f->rng = 88172645463325252ull;
	long idle = o->max_idle_connections > 0 ? o->max_idle_connections : f->max_total;
	curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, idle);
	*out = f;
	return ERR_OK;
}

uint64_t fetcher_submit(struct fetcher *f, const struct fetch_request *rq, fetch_done_fn cb,
			void *ud)
{
	struct xfer *x = xcalloc(1, sizeof *x);
	timer_node_init(&x->timer);
	x->id = f->next_id++;
	x->f = f;
	x->cb = cb;
	x->ud = ud;
	x->url = xstrdup(rq->url ? rq->url : "");
	x->cur_url = xstrdup(x->url);
	x->submit_us = now_us();
	x->retry_after_ms = -1;
	x->retry = rq->retry ? *rq->retry : f->retry;
	retry_defaults(&x->retry, &f->retry);
	x->max_body = rq->max_body ? rq->max_body : f->max_body;
	x->truncate = rq->truncate;
	x->trusted = rq->trusted;
	x->timeout_ms = rq->timeout_ms > 0 ? rq->timeout_ms : f->timeout_ms;
	x->max_redirects = rq->max_redirects ? rq->max_redirects : f->max_redirects;
	buf_init(&x->resp, x->max_body);

	const char *m = rq->method && *rq->method ? rq->method : "GET";
	x->method_name = xstrdup(m);
	x->method = strcasecmp(m, "GET") == 0    ? M_GET
		    : strcasecmp(m, "HEAD") == 0 ? M_HEAD
		    : strcasecmp(m, "POST") == 0 ? M_POST
						 : M_OTHER;
	if (rq->body && rq->body_len) {
		x->body = xmalloc(rq->body_len + 1);
		memcpy(x->body, rq->body, rq->body_len);
		x->body[rq->body_len] = '\0';
		x->body_len = rq->body_len;
	}
	x->hdrs = curl_slist_append(NULL, "Expect:");
	if (rq->etag && *rq->etag) {
		char *h = xasprintf("If-None-Match: %s", rq->etag);
		x->hdrs = curl_slist_append(x->hdrs, h);
		free(h);
	}
	if (rq->last_modified && *rq->last_modified) {
		char *h = xasprintf("If-Modified-Since: %s", rq->last_modified);
		x->hdrs = curl_slist_append(x->hdrs, h);
		free(h);
	}
	for (size_t i = 0; rq->headers && rq->headers[i]; i++)
		x->hdrs = curl_slist_append(x->hdrs, rq->headers[i]);

	x->anext = f->all;
	if (f->all)
		f->all->aprev = x;
	f->all = x;
	ids_put(f, x);
	f->st.submitted++;

	char *key = NULL;
	struct err e = {0};
	int rc = parse_url(x->url, &x->cur_host, &key, &e);
	if (rc) {
		fail_early(f, x, rc, FETCH_FAIL_URL, &e);
		return x->id;
	}
	if (preflight(f, x, x->cur_host, x->url, &e)) {
		f->st.blocked++;
		fail_early(f, x, ERR_PERM, FETCH_FAIL_BLOCKED, &e);
		free(key);
		return x->id;
	}
	enqueue(f, x, key, false);
	free(key);
	return x->id;
}

/* Take x out of whatever structure holds it; false when it is being
 * delivered (its callback runs now) or already cancelled. */
static bool cancel_one(struct fetcher *f, struct xfer *x)
{
	switch (x->st) {
	case X_QUEUED: {
		struct host *h = x->host;
		dequeue(f, x);
		host_settle(f, h);
		break;
	}
	case X_WAITING:
		timer_heap_disarm(&f->timers, &x->timer);
		f->st.waiting--;
		break;
	case X_RUNNING:
		curl_multi_remove_handle(f->multi, x->easy);
		release_slot(f, x);
		release_easy(f, x);
		break;
	case X_DONE:
		if (x->cancelled)
			return false;
		/* on the done list, being walked: mark; run_done frees it */
		x->cancelled = true;
		f->st.cancelled++;
		return true;
	case X_DELIVER:
		return false;
	}
	f->st.cancelled++;
	xfer_free(f, x);
	return true;
}

int fetcher_cancel(struct fetcher *f, uint64_t id)
{
	struct xfer *x = ids_get(f, id);
	if (!x || !cancel_one(f, x))
		return ERR_NOT_FOUND;
	return ERR_OK;
}

size_t fetcher_cancel_ud(struct fetcher *f, const void *ud)
{
	size_t n = 0;
	struct xfer *x = f->all;
	while (x) {
		struct xfer *next = x->anext;
		if (x->ud == ud && cancel_one(f, x))
			n++;
		x = next;
	}
	return n;
}

size_t fetcher_pending(const struct fetcher *f)
{
	return f->nids;
}

void fetcher_stats(const struct fetcher *f, struct fetch_stats *out)
{
	*out = f->st;
}

const char *fetcher_user_agent(const struct fetcher *f)
{
	return f->user_agent;
}

void fetcher_free(struct fetcher *f)
{
	if (!f)
		return;
	while (f->all) {
		struct xfer *x = f->all;
		if (x->easy) {
			if (x->st == X_RUNNING)
				curl_multi_remove_handle(f->multi, x->easy);
			curl_easy_cleanup(x->easy);
			x->easy = NULL;
		}
		xfer_free(f, x);
	}
	for (size_t i = 0; i < f->nhost_buckets; i++) {
		for (struct host *h = f->hosts[i], *next; h; h = next) {
			next = h->hnext;
			free(h->key);
			free(h);
		}
	}
	for (size_t i = 0; i < f->npool; i++)
		curl_easy_cleanup(f->pool[i]);
	free(f->pool);
	free(f->hosts);
	free(f->ids);
	timer_heap_cleanup(&f->timers);
	curl_multi_cleanup(f->multi);
	free(f->user_agent);
	free(f->proxy);
	free(f);
	curl_global_cleanup();
}
