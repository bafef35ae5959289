/*
 * http_client.c - MCP Streamable HTTP client transport on libcurl.
 *
 * Transfers run on the thread that asked for them (a sender, the GET stream
 * thread, close()), each through a "slot": a private multi handle with one
 * easy handle, so that the waiting thread can be woken at once by
 * curl_multi_wakeup() (close, a response that arrived on another stream, a
 * stop request) instead of polling.  Idle slots are kept and reused, and
 * with them their connections (the connection cache lives in the multi).
 * The connection cache cannot be shared between threads (CURLSHOPT_SHARE
 * says so), which is why every slot has its own.
 *
 * Messages are handed to the client from inside curl's write callback, never
 * with h->mu held; the client may call wake() from there.
 */
#define _GNU_SOURCE
#include "http_client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"

#ifndef AMBIENT_VERSION
#define AMBIENT_VERSION "0"
#endif

#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define DEFAULT_SEND_TIMEOUT_MS 30000
#define DEFAULT_MAX_RESUME 5
#define DEFAULT_RETRY_MS 1000
#define MAX_RETRY_MS 60000    /* a server's retry hint is capped here */
#define MAX_BACKOFF_MS 30000  /* GET stream reconnect backoff */
#define GET_MAX_FAILURES 10   /* GET stream attempts in a row without an event */
#define RESPONSE_GRACE_MS 200 /* let a POST stream end by itself after its response */
#define DELETE_TIMEOUT_MS 2000
#define GET_OPEN_WAIT_MS 1000 /* ready() waits this long for the GET stream */
#define ERROR_BODY_MAX 4096   /* kept from a non-2xx answer */
#define MAX_IDLE_SLOTS 8

/* ---- Server-Sent Events ------------------------------------------------ */

void http_client_sse_init(struct http_client_sse *p, size_t max_event, http_client_sse_fn fn,
			  void *ctx)
{
	memset(p, 0, sizeof *p);
	p->max_event = max_event ? max_event : JSONRPC_MAX_MESSAGE;
	buf_init(&p->line, p->max_event + 64);
	buf_init(&p->data, p->max_event + 1);
	buf_init(&p->event, 256);
	p->retry_ms = -1;
	p->fn = fn;
	p->ctx = ctx;
}

void http_client_sse_cleanup(struct http_client_sse *p)
{
	buf_cleanup(&p->line);
	buf_cleanup(&p->data);
	buf_cleanup(&p->event);
	free(p->last_id);
	p->last_id = NULL;
}

static void sse_dispatch(struct http_client_sse *p)
{
	size_t len = p->data.len;

	if (!len) {
		/* No data field at all: nothing to dispatch; the type resets (the
		 * id stays).  "data:" with an empty value does dispatch, with
		 * empty data. */
		buf_reset(&p->event);
		return;
	}
	if (p->data.data[len - 1] == '\n')
		p->data.data[--len] = '\0';
	p->events++;
	if (p->fn)
		p->fn(p->ctx, p->event.len ? p->event.data : "message", p->data.data, len,
		      p->last_id);
	buf_reset(&p->data);
	buf_reset(&p->event);
}

static int sse_line(struct http_client_sse *p, struct err *e)
{
	const char *s = p->line.data ? p->line.data : "";
	size_t n = p->line.len, flen;
	const char *value;
	size_t vlen;

	if (!p->started) {
		p->started = true;
		if (n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3)) {
			s += 3;
			n -= 3;
		}
	}
	if (!n) {
		sse_dispatch(p);
		return 0;
	}
	if (s[0] == ':')
		return 0; /* comment (keep-alive) */
	{
		const char *colon = memchr(s, ':', n);
		if (colon) {
			flen = (size_t)(colon - s);
			value = colon + 1;
			vlen = n - flen - 1;
			if (vlen && *value == ' ') {
				value++;
				vlen--;
			}
		} else {
			flen = n;
			value = "";
			vlen = 0;
		}
	}
#define FIELD_IS(name) (flen == sizeof(name) - 1 && !memcmp(s, name, flen))
	if (FIELD_IS("data")) {
		if (buf_append(&p->data, value, vlen) || buf_append(&p->data, "\n", 1))
			return err_set(e, ERR_TOO_BIG,
				       "an SSE event from the server is over %zu bytes",
				       p->max_event);
	} else if (FIELD_IS("event")) {
		buf_reset(&p->event);
		if (buf_append(&p->event, value, vlen))
			buf_reset(&p->event); /* absurd type: treat as unnamed */
	} else if (FIELD_IS("id")) {
		if (!memchr(value, '\0', vlen)) {
			free(p->last_id);
			p->last_id = vlen ? xstrndup(value, vlen) : NULL;
		}
	} else if (FIELD_IS("retry")) {
		bool digits = vlen > 0;
		long ms = 0;
		for (size_t i = 0; i < vlen && digits; i++) {
			if (value[i] < '0' || value[i] > '9')
				digits = false;
			else if (ms < MAX_RETRY_MS * 10L)
				ms = ms * 10 + (value[i] - '0');
		}
		if (digits)
			p->retry_ms = ms > MAX_RETRY_MS ? MAX_RETRY_MS : ms;
	}
#undef FIELD_IS
	return 0;
}

int http_client_sse_feed(struct http_client_sse *p, const char *data, size_t len, struct err *e)
{
	size_t i = 0;
	int rc;

	while (i < len) {
		size_t j;

		if (p->after_cr) {
			p->after_cr = false;
			if (data[i] == '\n') {
				i++;
				continue;
			}
		}
		for (j = i; j < len && data[j] != '\n' && data[j] != '\r'; j++)
			;
		if (buf_append(&p->line, data + i, j - i))
			return err_set(e, ERR_TOO_BIG,
				       "an SSE line from the server is over %zu bytes",
				       p->max_event);
		if (j == len)
			break;
		rc = sse_line(p, e);
		buf_reset(&p->line);
		if (rc)
			return rc;
		if (data[j] == '\r')
			p->after_cr = true;
		i = j + 1;
	}
	return 0;
}

/* ---- Transport state ----------------------------------------------------- */

struct slot {
	struct slot *next;
	CURLM *multi;
	CURL *easy;
};

struct http_client {
	char **urls;
	size_t nurls;
	size_t cur;  /* index of the URL in use */
	bool pinned; /* a URL answered: no more failover */
	char *bearer;
	char **extra_headers;
	size_t max_message;
	int connect_timeout_ms;
	int send_timeout_ms;
	bool no_get;
	int max_resume;
	int default_retry_ms;
	bool no_delete;
	char *user_agent;

	struct mcp_transport_events ev;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	bool started;
	bool closing;
	char *session_id;
	char *protocol_version;
	char *old_session_ids[8]; /* replaced ids stay valid for borrowers a while */
	size_t old_next;
	struct slot *idle;
	size_t nidle;
	struct slot *active[64]; /* woken by wake(); more run unwoken (still bounded) */
	int nactive;
	int nrunning;

	pthread_t get_tid;
	bool get_running;
	bool get_stop;
	bool get_answered; /* the first GET got its headers, or failed */
};

static const struct mcp_client_transport_ops http_ops;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int64_t now_us(void)
{
	return clock_mono_us(clock_system());
}

static void cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_us)
{
	struct timespec ts;

	if (!deadline_us) {
		pthread_cond_wait(cv, mu);
		return;
	}
	ts.tv_sec = deadline_us / 1000000;
	ts.tv_nsec = (deadline_us % 1000000) * 1000;
	pthread_cond_timedwait(cv, mu, &ts);
}

static bool url_ok(const char *u)
{
	return u && (!strncasecmp(u, "http://", 7) || !strncasecmp(u, "https://", 8));
}

int http_client_new(const struct http_client_options *opt, struct mcp_client_transport **out,
		    struct err *e)
{
	struct http_client *h;
	struct mcp_client_transport *t;
	pthread_condattr_t ca;
	size_t n = 0;

	*out = NULL;
	if (!opt)
		return err_set(e, ERR_INVALID, "HTTP MCP client: no options");
	n = opt->urls ? opt->nurls : (opt->url ? 1 : 0);
	if (!n)
		return err_set(e, ERR_INVALID,
			       "HTTP MCP client: no server URL given; pass the MCP "
			       "endpoint, e.g. http://127.0.0.1:8001/mcp");
	for (size_t i = 0; i < n; i++) {
		const char *u = opt->urls ? opt->urls[i] : opt->url;
		if (!url_ok(u))
			return err_set(e, ERR_INVALID,
				       "HTTP MCP client: \"%s\" is not an http:// "
				       "or https:// URL",
				       u ? u : "(null)");
	}
	pthread_once(&curl_once, curl_init_once);

	h = xcalloc(1, sizeof *h);
	h->urls = xcalloc(n, sizeof *h->urls);
	for (size_t i = 0; i < n; i++)
		h->urls[i] = xstrdup(opt->urls ? opt->urls[i] : opt->url);
	h->nurls = n;
	h->bearer = opt->bearer_token && *opt->bearer_token ? xstrdup(opt->bearer_token) : NULL;
	if (opt->headers) {
		size_t k = 0;
		while (opt->headers[k])
			k++;
		h->extra_headers = xcalloc(k + 1, sizeof *h->extra_headers);
		for (size_t i = 0; i < k; i++)
			h->extra_headers[i] = xstrdup(opt->headers[i]);
	}
	h->max_message = opt->max_message ? opt->max_message : JSONRPC_MAX_MESSAGE;
	h->connect_timeout_ms =
		opt->connect_timeout_ms > 0 ? opt->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	h->send_timeout_ms =
		opt->send_timeout_ms > 0 ? opt->send_timeout_ms : DEFAULT_SEND_TIMEOUT_MS;
	h->no_get = opt->no_get_stream;
	h->max_resume =
		opt->max_resume_attempts > 0 ? opt->max_resume_attempts : DEFAULT_MAX_RESUME;
	h->default_retry_ms = opt->default_retry_ms > 0 ? opt->default_retry_ms : DEFAULT_RETRY_MS;
	h->no_delete = opt->no_delete;
	h->user_agent = xstrdup(opt->user_agent ? opt->user_agent : "ambient/" AMBIENT_VERSION);
	pthread_mutex_init(&h->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cond, &ca);
	pthread_condattr_destroy(&ca);

	t = xcalloc(1, sizeof *t);
	t->ops = &http_ops;
	t->self = h;
	*out = t;
	return 0;
}

const char *http_client_session_id(const struct mcp_client_transport *t)
{
	return ((struct http_client *)t->self)->session_id;
}

const char *http_client_url(const struct mcp_client_transport *t)
{
	struct http_client *h = t->self;
	return h->urls[h->cur];
}

/* ---- Slots ------------------------------------------------------------- */

static struct slot *slot_get(struct http_client *h)
{
	struct slot *s;

	pthread_mutex_lock(&h->mu);
	s = h->idle;
	if (s) {
		h->idle = s->next;
		h->nidle--;
	}
	pthread_mutex_unlock(&h->mu);

	if (!s) {
		s = xcalloc(1, sizeof *s);
		s->multi = curl_multi_init();
		s->easy = curl_easy_init();
		if (!s->multi || !s->easy) {
			log_error("HTTP MCP client: libcurl cannot create a handle");
			abort(); /* out of memory, by our allocation policy */
		}
	} else {
		curl_easy_reset(s->easy);
	}
	s->next = NULL;

	pthread_mutex_lock(&h->mu);
	if (h->nactive < (int)(sizeof h->active / sizeof *h->active))
		h->active[h->nactive++] = s;
	else
		log_warn("HTTP MCP client: over %zu concurrent transfers; some cannot be woken",
			 sizeof h->active / sizeof *h->active);
	h->nrunning++;
	pthread_mutex_unlock(&h->mu);
	return s;
}

static void slot_free(struct slot *s)
{
	curl_easy_cleanup(s->easy);
	curl_multi_cleanup(s->multi);
	free(s);
}

static void slot_put(struct http_client *h, struct slot *s)
{
	bool keep;

	pthread_mutex_lock(&h->mu);
	for (int i = 0; i < h->nactive; i++) {
		if (h->active[i] == s) {
			h->active[i] = h->active[--h->nactive];
			break;
		}
	}
	h->nrunning--;
	keep = !h->closing && h->nidle < MAX_IDLE_SLOTS;
	if (keep) {
		s->next = h->idle;
		h->idle = s;
		h->nidle++;
	}
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->mu);
	if (!keep)
		slot_free(s);
}

static void wake_all_locked(struct http_client *h)
{
	for (int i = 0; i < h->nactive; i++)
		if (h->active[i])
			curl_multi_wakeup(h->active[i]->multi);
	pthread_cond_broadcast(&h->cond);
}

static void http_wake(void *self)
{
	struct http_client *h = self;

	pthread_mutex_lock(&h->mu);
	wake_all_locked(h);
	pthread_mutex_unlock(&h->mu);
}

/* ---- One transfer -------------------------------------------------------- */

enum body_kind { BODY_UNKNOWN, BODY_JSON, BODY_SSE, BODY_OTHER };

/* What a transfer received. */
struct rx {
	struct http_client *h;
	CURL *easy;
	const json_t *want_id; /* a request's id: watch for its response */
	bool is_get;           /* a GET stream (deliver SSE only) */
	long status;
	enum body_kind kind;
	struct buf body; /* JSON or error body */
	struct http_client_sse sse;
	bool got_response;
	unsigned long delivered;
	int err; /* set by a callback: ERR_TOO_BIG */
	char errmsg[160];
	char *session_id;   /* Mcp-Session-Id header */
	char *www_auth;     /* WWW-Authenticate header */
	bool *headers_done; /* set (under h->mu) when the headers are in */
};

static void deliver(struct rx *rx, const char *text, size_t len)
{
	if (rx->want_id && !rx->got_response) {
		json_t *j = json_loadb(text, len, 0, NULL);
		if (json_is_object(j) && jsonrpc_id_equal(json_object_get(j, "id"), rx->want_id) &&
		    !json_object_get(j, "method") &&
		    (json_object_get(j, "result") || json_object_get(j, "error")))
			rx->got_response = true;
		json_decref(j);
	}
	rx->delivered++;
	rx->h->ev.on_message(rx->h->ev.ctx, text, len);
}

static void on_sse_event(void *ctx, const char *type, const char *data, size_t len, const char *id)
{
	struct rx *rx = ctx;

	(void)id;
	if (!len)
		return; /* a priming event: it only carries an id (and retry) */
	if (strcmp(type, "message")) {
		log_debug("HTTP MCP client: ignoring SSE event of type \"%s\"", type);
		return;
	}
	deliver(rx, data, len);
}

static void rx_init(struct rx *rx, struct http_client *h, CURL *easy, const json_t *want_id)
{
	memset(rx, 0, sizeof *rx);
	rx->h = h;
	rx->easy = easy;
	rx->want_id = want_id;
	buf_init(&rx->body, h->max_message);
	http_client_sse_init(&rx->sse, h->max_message, on_sse_event, rx);
}

static void rx_cleanup(struct rx *rx)
{
	buf_cleanup(&rx->body);
	http_client_sse_cleanup(&rx->sse);
	free(rx->session_id);
	free(rx->www_auth);
	rx->session_id = rx->www_auth = NULL;
}

static void rx_classify(struct rx *rx)
{
	char *ct = NULL;

	curl_easy_getinfo(rx->easy, CURLINFO_RESPONSE_CODE, &rx->status);
	curl_easy_getinfo(rx->easy, CURLINFO_CONTENT_TYPE, &ct);
	if (rx->status >= 200 && rx->status < 300 && ct &&
	    !strncasecmp(ct, "text/event-stream", 17))
		rx->kind = BODY_SSE;
	else if (ct && strcasestr(ct, "json"))
		rx->kind = BODY_JSON;
	else
		rx->kind = BODY_OTHER;
	if (rx->status < 200 || rx->status >= 300)
		rx->body.max = ERROR_BODY_MAX < rx->body.max ? ERROR_BODY_MAX : rx->body.max;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct rx *rx = ud;
	size_t n = size * nmemb;
	struct err e = {0};

	if (rx->kind == BODY_UNKNOWN)
		rx_classify(rx);
	if (rx->kind == BODY_SSE) {
		if (http_client_sse_feed(&rx->sse, ptr, n, &e)) {
			rx->err = e.code;
			snprintf(rx->errmsg, sizeof rx->errmsg, "%s", err_msg(&e));
			return 0;
		}
		return n;
	}
	if (buf_append(&rx->body, ptr, n)) {
		if (rx->status < 200 || rx->status >= 300)
			return n; /* an error body: keep its start */
		rx->err = ERR_TOO_BIG;
		snprintf(rx->errmsg, sizeof rx->errmsg, "the server's response is over %zu bytes",
			 rx->body.max);
		return 0;
	}
	return n;
}

/* Header "name: value" -> a copy of the trimmed value when the name matches. */
static char *header_value(const char *line, size_t n, const char *name)
{
	size_t nl = strlen(name);
	const char *v, *end = line + n;

	if (n <= nl || strncasecmp(line, name, nl) || line[nl] != ':')
		return NULL;
	v = line + nl + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return xstrndup(v, (size_t)(end - v));
}

static size_t on_header(char *line, size_t size, size_t nitems, void *ud)
{
	struct rx *rx = ud;
	size_t n = size * nitems;
	char *v;

	if ((n == 2 && line[0] == '\r') || (n == 1 && line[0] == '\n')) {
		long status = 0;
		curl_easy_getinfo(rx->easy, CURLINFO_RESPONSE_CODE, &status);
		if (rx->headers_done && status >= 200) {
			log_debug("HTTP MCP client: GET stream answered: HTTP %ld", status);
			pthread_mutex_lock(&rx->h->mu);
			*rx->headers_done = true;
			pthread_cond_broadcast(&rx->h->cond);
			pthread_mutex_unlock(&rx->h->mu);
		}
		return n;
	}
	if ((v = header_value(line, n, "mcp-session-id"))) {
		free(rx->session_id);
		rx->session_id = v;
	} else if ((v = header_value(line, n, "www-authenticate"))) {
		free(rx->www_auth);
		rx->www_auth = v;
	}
	return n;
}

/* Why run() stopped a transfer before it ended by itself. */
enum stop_why { STOP_NONE, STOP_CLOSING, STOP_DONE, STOP_TIMEOUT, STOP_STOPPED, STOP_GRACE };

struct run_ctl {
	struct mcp_send_ctl *ctl; /* may be NULL */
	int64_t deadline_us;      /* fixed deadline, 0: none (ctl's is read live) */
	bool *stop;               /* extra stop flag (GET thread), under h->mu */
	bool ignore_closing;      /* the DELETE at close */
};

static enum stop_why should_stop(struct http_client *h, const struct run_ctl *rc, struct rx *rx,
				 int64_t now, int64_t *grace_until, int64_t *wait_until)
{
	int64_t dl = rc->deadline_us, cdl;
	enum stop_why why = STOP_NONE;

	pthread_mutex_lock(&h->mu);
	if (h->closing && !rc->ignore_closing)
		why = STOP_CLOSING;
	else if (rc->stop && *rc->stop)
		why = STOP_STOPPED;
	pthread_mutex_unlock(&h->mu);
	if (why)
		return why;
	if (rx->got_response) {
		if (!*grace_until)
			*grace_until = now + (rx->is_get ? 0 : RESPONSE_GRACE_MS * 1000);
		if (now >= *grace_until)
			return STOP_GRACE;
	} else if (rc->ctl && atomic_load(&rc->ctl->done)) {
		return STOP_DONE;
	}
	if (rc->ctl && (cdl = atomic_load(&rc->ctl->deadline_us)) && (!dl || cdl < dl))
		dl = cdl;
	if (dl && now >= dl)
		return STOP_TIMEOUT;
	*wait_until = dl;
	if (*grace_until && (!*wait_until || *grace_until < *wait_until))
		*wait_until = *grace_until;
	return STOP_NONE;
}

/* Run the configured transfer to its end or until told to stop. */
static enum stop_why run(struct http_client *h, struct slot *s, const struct run_ctl *rc,
			 struct rx *rx, CURLcode *cc)
{
	enum stop_why why = STOP_NONE;
	int64_t grace_until = 0;
	int running = 1;

	*cc = CURLE_OK;
	curl_multi_add_handle(s->multi, s->easy);
	for (;;) {
		int64_t now, wait_until = 0;
		long wait_ms = 1000;
		CURLMcode mc = curl_multi_perform(s->multi, &running);

		if (mc != CURLM_OK) {
			*cc = CURLE_FAILED_INIT;
			log_warn("HTTP MCP client: %s", curl_multi_strerror(mc));
			break;
		}
		if (!running)
			break;
		now = now_us();
		why = should_stop(h, rc, rx, now, &grace_until, &wait_until);
		if (why)
			break;
		if (wait_until) {
			int64_t left = (wait_until - now + 999) / 1000;
			if (left < wait_ms)
				wait_ms = left < 1 ? 1 : (long)left;
		}
		curl_multi_poll(s->multi, NULL, 0, (int)wait_ms, NULL);
	}
	if (!running) {
		CURLMsg *m;
		int q;
		while ((m = curl_multi_info_read(s->multi, &q)))
			if (m->msg == CURLMSG_DONE)
				*cc = m->data.result;
	}
	curl_multi_remove_handle(s->multi, s->easy);
	if (rx->kind == BODY_UNKNOWN && *cc == CURLE_OK)
		rx_classify(rx); /* no body at all (202) */
	else if (rx->kind == BODY_UNKNOWN)
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &rx->status);
	if (why == STOP_GRACE)
		why = STOP_NONE; /* the response came; the stream just lingered */
	return why;
}

/* Headers for a request; caller frees with curl_slist_free_all.  *had_session
 * tells whether a session id went out. */
static struct curl_slist *build_headers(struct http_client *h, const char *accept, bool body,
					const char *last_event_id, bool *had_session)
{
	struct curl_slist *l = NULL;
	char *line;

	line = xasprintf("Accept: %s", accept);
	l = curl_slist_append(l, line);
	free(line);
	if (body)
		l = curl_slist_append(l, "Content-Type: application/json");
	l = curl_slist_append(l, "Expect:");
	pthread_mutex_lock(&h->mu);
	if (had_session)
		*had_session = h->session_id != NULL;
	if (h->session_id) {
		line = xasprintf("Mcp-Session-Id: %s", h->session_id);
		l = curl_slist_append(l, line);
		free(line);
	}
	if (h->protocol_version) {
		line = xasprintf("MCP-Protocol-Version: %s", h->protocol_version);
		l = curl_slist_append(l, line);
		free(line);
	}
	pthread_mutex_unlock(&h->mu);
	if (last_event_id) {
		line = xasprintf("Last-Event-ID: %s", last_event_id);
		l = curl_slist_append(l, line);
		free(line);
	}
	if (h->bearer) {
		line = xasprintf("Authorization: Bearer %s", h->bearer);
		l = curl_slist_append(l, line);
		free(line);
	}
	for (size_t i = 0; h->extra_headers && h->extra_headers[i]; i++)
		l = curl_slist_append(l, h->extra_headers[i]);
	return l;
}

static void setup_easy(struct http_client *h, CURL *easy, const char *url, struct rx *rx,
		       struct curl_slist *hdrs)
{
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, rx);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, rx);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)h->connect_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, h->user_agent);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

/* A short, printable excerpt of an error body: the JSON-RPC error message
 * when there is one. */
static void error_detail(struct rx *rx, char *out, size_t n)
{
	json_t *j = rx->body.len ? json_loadb(rx->body.data, rx->body.len, 0, NULL) : NULL;
	const char *msg = NULL;
	size_t k = 0;

	out[0] = '\0';
	if (json_is_object(j)) {
		json_t *err = json_object_get(j, "error");
		msg = json_is_object(err) ? json_get_str(err, "message")
					  : json_get_str(j, "error_description");
		if (!msg)
			msg = json_get_str(j, "error");
	}
	if (msg) {
		snprintf(out, n, ": %s", msg);
	} else if (rx->body.len) {
		k = snprintf(out, n, ": ");
		for (size_t i = 0; i < rx->body.len && k + 4 < n && i < 160; i++) {
			unsigned char c = (unsigned char)rx->body.data[i];
			out[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : ' ';
		}
		out[k] = '\0';
	}
	json_decref(j);
}

/* Map a non-2xx status to an error. */
static int status_error(struct rx *rx, const char *what, const char *url, bool had_session,
			struct err *e)
{
	char detail[256];

	error_detail(rx, detail, sizeof detail);
	if (rx->status == 404 && had_session)
		return err_set(e, ERR_STATE,
			       "the MCP session expired (HTTP 404 from %s)%s; "
			       "initialize a new session",
			       url, detail);
	if (rx->status == 401 || rx->status == 403)
		return err_set(e, ERR_PERM, "%s %s: HTTP %ld%s%s%s; check the bearer token", what,
			       url, rx->status, detail, rx->www_auth ? " (WWW-Authenticate: " : "",
			       rx->www_auth ? rx->www_auth : "");
	if (rx->status == 413)
		return err_set(e, ERR_TOO_BIG,
			       "%s %s: HTTP 413: the message is too big for the "
			       "server%s",
			       what, url, detail);
	return err_set(e, rx->status >= 500 ? ERR_IO : ERR_INVALID, "%s %s: HTTP %ld%s", what, url,
		       rx->status, detail);
}

static void remember_session(struct http_client *h, struct rx *rx)
{
	if (!rx->session_id || !*rx->session_id)
		return;
	pthread_mutex_lock(&h->mu);
	if (!h->session_id || strcmp(h->session_id, rx->session_id)) {
		if (h->session_id) {
			size_t k = h->old_next++ %
				   (sizeof h->old_session_ids / sizeof *h->old_session_ids);
			free(h->old_session_ids[k]);
			h->old_session_ids[k] = h->session_id;
		}
		h->session_id = rx->session_id;
		rx->session_id = NULL;
		log_debug("HTTP MCP client: session %s", h->session_id);
	}
	pthread_mutex_unlock(&h->mu);
}

/* Wait ms (interruptibly).  Returns STOP_NONE when the time passed. */
static enum stop_why pause_ms(struct http_client *h, const struct run_ctl *rc, long ms)
{
	int64_t until = now_us() + (int64_t)ms * 1000;
	enum stop_why why = STOP_NONE;

	pthread_mutex_lock(&h->mu);
	for (;;) {
		int64_t now = now_us(), dl = rc->deadline_us, cdl;
		if (h->closing && !rc->ignore_closing) {
			why = STOP_CLOSING;
			break;
		}
		if (rc->stop && *rc->stop) {
			why = STOP_STOPPED;
			break;
		}
		if (rc->ctl && atomic_load(&rc->ctl->done)) {
			why = STOP_DONE;
			break;
		}
		if (rc->ctl && (cdl = atomic_load(&rc->ctl->deadline_us)) && (!dl || cdl < dl))
			dl = cdl;
		if (dl && now >= dl) {
			why = STOP_TIMEOUT;
			break;
		}
		if (now >= until)
			break;
		cond_wait_until(&h->cond, &h->mu, dl && dl < until ? dl : until);
	}
	pthread_mutex_unlock(&h->mu);
	return why;
}

static int stop_error(enum stop_why why, const char *what, struct err *e)
{
	switch (why) {
	case STOP_CLOSING:
		return err_set(e, ERR_IO, "%s: the HTTP MCP connection is closing", what);
	case STOP_TIMEOUT:
		return err_set(e, ERR_TIMEOUT, "%s: no complete answer from the MCP server in time",
			       what);
	default:
		return 0;
	}
}

/* Deliver a JSON body: one message, or each element of a (legacy) batch. */
static void deliver_json_body(struct rx *rx)
{
	json_t *j;

	if (!rx->body.len)
		return;
	j = json_loadb(rx->body.data, rx->body.len, 0, NULL);
	if (json_is_array(j)) {
		size_t i;
		json_t *el;
		json_array_foreach(j, i, el) {
			char *t = json_to_text(el);
			deliver(rx, t, strlen(t));
			free(t);
		}
	} else {
		deliver(rx, rx->body.data, rx->body.len);
	}
	json_decref(j);
}

/* ---- GET: resumption and the server's stream ---------------------------- */

/* One GET of an SSE stream, delivering its messages.  Returns 0 when the
 * stream was opened and has ended (rx says what came), an error otherwise;
 * *why says whether run() was stopped. */
static int get_stream(struct http_client *h, const struct run_ctl *rc, const json_t *want_id,
		      const char *last_event_id, bool *headers_done, struct rx *rx,
		      enum stop_why *why, struct err *e)
{
	struct slot *s = slot_get(h);
	struct curl_slist *hdrs;
	bool had_session;
	char *url;
	CURLcode cc;
	int ret = 0;

	pthread_mutex_lock(&h->mu);
	url = xstrdup(h->urls[h->cur]);
	pthread_mutex_unlock(&h->mu);
	rx_init(rx, h, s->easy, want_id);
	rx->is_get = true;
	rx->headers_done = headers_done;
	hdrs = build_headers(h, "text/event-stream", false, last_event_id, &had_session);
	setup_easy(h, s->easy, url, rx, hdrs);
	curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
	*why = run(h, s, rc, rx, &cc);
	curl_slist_free_all(hdrs);
	slot_put(h, s);

	if (*why)
		ret = stop_error(*why, "GET", e);
	else if (rx->err)
		ret = err_set(e, rx->err, "GET %s: %s", url, rx->errmsg);
	else if (rx->status >= 300 || (rx->status && rx->status < 200))
		ret = status_error(rx, "GET", url, had_session, e);
	else if (cc != CURLE_OK && !rx->sse.events)
		ret = err_set(e, ERR_IO, "GET %s: %s", url, curl_easy_strerror(cc));
	else if (rx->kind != BODY_SSE && rx->status)
		ret = err_set(e, ERR_INVALID,
			      "GET %s: the server answered HTTP %ld without an "
			      "event stream",
			      url, rx->status);
	free(url);
	return ret;
}

/* The POST stream of request ctl ended without its response: resume with
 * GET + Last-Event-ID after the server's retry time, until the response
 * arrives (0), the client stops waiting, or resuming fails. */
static int resume(struct http_client *h, struct mcp_send_ctl *ctl, struct rx *prev, struct err *e)
{
	struct run_ctl rc = {.ctl = ctl};
	char *last_id = prev->sse.last_id ? xstrdup(prev->sse.last_id) : NULL;
	long retry = prev->sse.retry_ms;
	int fails = 0, ret = 0;

	for (;;) {
		struct rx rx;
		enum stop_why why;
		struct err ge = {0};

		if (!last_id) {
			ret = err_set(e, ERR_IO,
				      "the MCP server ended the event stream before the "
				      "response and gave no event id to resume from");
			break;
		}
		why = pause_ms(h, &rc, retry >= 0 ? retry : h->default_retry_ms);
		if (why == STOP_DONE)
			break;
		if (why) {
			ret = stop_error(why, "resuming the event stream", e);
			break;
		}
		log_debug("HTTP MCP client: resuming the stream after event %s", last_id);
		int r = get_stream(h, &rc, ctl->id, last_id, NULL, &rx, &why, &ge);
		if (rx.got_response || why == STOP_DONE) {
			rx_cleanup(&rx);
			break;
		}
		if (why || (r && rx.status)) {
			/* stopped, or the server refused to resume */
			ret = err_set(e, ge.code ? ge.code : ERR_IO,
				      "resuming the event stream: %s", err_msg(&ge));
			rx_cleanup(&rx);
			break;
		}
		if (rx.sse.last_id) {
			free(last_id);
			last_id = xstrdup(rx.sse.last_id);
		}
		if (rx.sse.retry_ms >= 0)
			retry = rx.sse.retry_ms;
		/* A stream the server accepted is progress, even when it ends
		 * without the response (a server polling a long call closes
		 * after each retry hint); the request's deadline bounds that.
		 * Only failures to reconnect count. */
		fails = !r && rx.kind == BODY_SSE ? 0 : fails + 1;
		rx_cleanup(&rx);
		if (fails >= h->max_resume) {
			ret = err_set(e, ERR_IO,
				      "could not resume the MCP server's event stream "
				      "(%d attempts)%s%s",
				      fails, r ? ": " : "", r ? err_msg(&ge) : "");
			break;
		}
	}
	free(last_id);
	return ret;
}

static void *get_main(void *arg)
{
	struct http_client *h = arg;
	struct run_ctl rc = {.stop = &h->get_stop};
	char *last_id = NULL;
	long retry = -1;
	int fails = 0;

	for (;;) {
		struct rx rx;
		enum stop_why why;
		struct err e = {0};
		long wait;
		int r = get_stream(h, &rc, NULL, last_id, &h->get_answered, &rx, &why, &e);

		pthread_mutex_lock(&h->mu);
		h->get_answered = true;
		pthread_cond_broadcast(&h->cond);
		pthread_mutex_unlock(&h->mu);
		if (!r && !why)
			log_debug("HTTP MCP client: the GET stream ended (%lu events)",
				  rx.sse.events);

		if (why) {
			rx_cleanup(&rx);
			break;
		}
		if (r && rx.status == 405) {
			log_debug("HTTP MCP client: the server offers no GET stream (405)");
			rx_cleanup(&rx);
			break;
		}
		if (r && rx.status) {
			log_debug("HTTP MCP client: no GET stream: %s", err_msg(&e));
			rx_cleanup(&rx);
			break;
		}
		if (rx.sse.last_id) {
			free(last_id);
			last_id = xstrdup(rx.sse.last_id);
		}
		if (rx.sse.retry_ms >= 0)
			retry = rx.sse.retry_ms;
		/* A stream the server accepted is no failure, even when it ends
		 * at once (the polling pattern); the server's retry paces us. */
		fails = !r && rx.kind == BODY_SSE ? 0 : fails + 1;
		rx_cleanup(&rx);
		if (r)
			log_debug("HTTP MCP client: GET stream: %s", err_msg(&e));
		if (fails >= GET_MAX_FAILURES) {
			log_warn("HTTP MCP client: giving up on the server's GET stream after %d "
				 "attempts%s%s",
				 fails, r ? ": " : "", r ? err_msg(&e) : "");
			break;
		}
		wait = retry >= 0 ? retry : h->default_retry_ms;
		for (int i = 1; i < fails && wait < MAX_BACKOFF_MS; i++)
			wait *= 2;
		if (wait > MAX_BACKOFF_MS && retry < 0)
			wait = MAX_BACKOFF_MS;
		if (pause_ms(h, &rc, wait))
			break;
	}
	free(last_id);
	return NULL;
}

/* ---- Ops ----------------------------------------------------------------- */

static int http_start(void *self, const struct mcp_transport_events *ev, struct err *e)
{
	struct http_client *h = self;

	(void)e;
	pthread_mutex_lock(&h->mu);
	h->ev = *ev;
	h->started = true;
	pthread_mutex_unlock(&h->mu);
	return 0;
}

/* True for a failure where trying the next URL makes sense. */
static bool failover_worthy(CURLcode cc, const struct rx *rx)
{
	if (rx->status == 502 || rx->status == 503 || rx->status == 504)
		return true;
	return cc != CURLE_OK && rx->status == 0;
}

static int http_send(void *self, const char *msg, size_t len, struct mcp_send_ctl *ctl,
		     struct err *e)
{
	struct http_client *h = self;
	const json_t *id = ctl ? ctl->id : NULL;
	struct run_ctl rc = {.ctl = id ? ctl : NULL};
	struct rx rx;
	struct slot *s;
	struct curl_slist *hdrs;
	enum stop_why why;
	bool had_session;
	char *url = NULL;
	CURLcode cc;
	size_t idx;
	int ret = 0;

	pthread_mutex_lock(&h->mu);
	if (!h->started || h->closing) {
		pthread_mutex_unlock(&h->mu);
		return err_set(e, ERR_IO, "the HTTP MCP connection is %s",
			       h->started ? "closed" : "not started");
	}
	pthread_mutex_unlock(&h->mu);
	if (!id)
		rc.deadline_us = now_us() + (int64_t)h->send_timeout_ms * 1000;

	for (;;) {
		pthread_mutex_lock(&h->mu);
		idx = h->cur;
		free(url);
		url = xstrdup(h->urls[idx]);
		pthread_mutex_unlock(&h->mu);

		s = slot_get(h);
		rx_init(&rx, h, s->easy, id);
		hdrs = build_headers(h, "application/json, text/event-stream", true, NULL,
				     &had_session);
		setup_easy(h, s->easy, url, &rx, hdrs);
		curl_easy_setopt(s->easy, CURLOPT_POST, 1L);
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, msg);
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		why = run(h, s, &rc, &rx, &cc);
		curl_slist_free_all(hdrs);
		slot_put(h, s);

		if (!why && !rx.err && failover_worthy(cc, &rx)) {
			bool next = false;
			pthread_mutex_lock(&h->mu);
			if (!h->pinned && idx + 1 < h->nurls) {
				if (h->cur == idx)
					h->cur = idx + 1;
				next = true;
			}
			pthread_mutex_unlock(&h->mu);
			if (next) {
				log_info("HTTP MCP client: %s did not answer (%s); trying %s", url,
					 rx.status ? "bad gateway" : curl_easy_strerror(cc),
					 h->urls[idx + 1]);
				rx_cleanup(&rx);
				continue;
			}
		}
		break;
	}

	if (why == STOP_DONE) {
		ret = 0; /* the response came another way, or the client gave up */
	} else if (why) {
		ret = stop_error(why, "POST", e);
	} else if (rx.err) {
		ret = err_set(e, rx.err, "POST %s: %s", url, rx.errmsg);
	} else if (cc != CURLE_OK && !rx.status) {
		ret = err_set(e, ERR_IO, "POST %s: %s; is the MCP server running?", url,
			      curl_easy_strerror(cc));
	} else if (rx.status < 200 || rx.status >= 300) {
		/* A JSON-RPC error answering our request is delivered as such. */
		if (id && rx.kind == BODY_JSON) {
			json_t *j =
				json_loadb(rx.body.data ? rx.body.data : "", rx.body.len, 0, NULL);
			if (json_is_object(j) && jsonrpc_id_equal(json_object_get(j, "id"), id) &&
			    json_object_get(j, "error"))
				deliver(&rx, rx.body.data, rx.body.len);
			json_decref(j);
		}
		if (!rx.got_response)
			ret = status_error(&rx, "POST", url, had_session, e);
	} else {
		pthread_mutex_lock(&h->mu);
		h->pinned = true;
		pthread_mutex_unlock(&h->mu);
		remember_session(h, &rx);
		if (rx.kind != BODY_SSE && id)
			deliver_json_body(&rx);
		if (cc != CURLE_OK && !rx.got_response && rx.kind != BODY_SSE)
			ret = err_set(e, ERR_IO, "POST %s: %s", url, curl_easy_strerror(cc));
		else if (id && rx.kind == BODY_SSE && !rx.got_response && !atomic_load(&ctl->done))
			ret = resume(h, ctl, &rx, e);
	}
	rx_cleanup(&rx);
	free(url);
	return ret;
}

static void http_set_protocol_version(void *self, const char *version)
{
	struct http_client *h = self;

	pthread_mutex_lock(&h->mu);
	free(h->protocol_version);
	h->protocol_version = version ? xstrdup(version) : NULL;
	pthread_mutex_unlock(&h->mu);
}

static void stop_get_thread(struct http_client *h)
{
	bool running;

	pthread_mutex_lock(&h->mu);
	running = h->get_running;
	h->get_stop = true;
	wake_all_locked(h);
	pthread_mutex_unlock(&h->mu);
	if (running) {
		pthread_join(h->get_tid, NULL);
		pthread_mutex_lock(&h->mu);
		h->get_running = false;
		pthread_mutex_unlock(&h->mu);
	}
}

static void http_ready(void *self)
{
	struct http_client *h = self;

	if (h->no_get)
		return;
	stop_get_thread(h); /* a previous session's */
	pthread_mutex_lock(&h->mu);
	if (!h->closing) {
		h->get_stop = false;
		h->get_answered = false;
		if (pthread_create(&h->get_tid, NULL, get_main, h) == 0)
			h->get_running = true;
		else
			log_warn("HTTP MCP client: cannot start the GET stream thread");
	}
	/* Wait (briefly) for the server to answer the GET, so that messages
	 * it sends on that stream right after the handshake are not lost. */
	int64_t until = now_us() + GET_OPEN_WAIT_MS * 1000LL;
	while (h->get_running && !h->get_answered && !h->closing && now_us() < until)
		cond_wait_until(&h->cond, &h->mu, until);
	pthread_mutex_unlock(&h->mu);
}

static void http_reset_session(void *self)
{
	struct http_client *h = self;

	stop_get_thread(h);
	pthread_mutex_lock(&h->mu);
	if (h->session_id) {
		size_t k = h->old_next++ % (sizeof h->old_session_ids / sizeof *h->old_session_ids);
		free(h->old_session_ids[k]);
		h->old_session_ids[k] = h->session_id;
		h->session_id = NULL;
	}
	free(h->protocol_version);
	h->protocol_version = NULL;
	h->pinned = false;
	h->cur = 0;
	pthread_mutex_unlock(&h->mu);
}

static void delete_session(struct http_client *h)
{
	struct run_ctl rc = {.deadline_us = now_us() + DELETE_TIMEOUT_MS * 1000LL,
			     .ignore_closing = true};
	struct slot *s;
	struct rx rx;
	struct curl_slist *hdrs;
	char *url;
	CURLcode cc;

	pthread_mutex_lock(&h->mu);
	if (!h->session_id || h->no_delete) {
		pthread_mutex_unlock(&h->mu);
		return;
	}
	url = xstrdup(h->urls[h->cur]);
	pthread_mutex_unlock(&h->mu);

	s = slot_get(h);
	rx_init(&rx, h, s->easy, NULL);
	hdrs = build_headers(h, "application/json, text/event-stream", false, NULL, NULL);
	setup_easy(h, s->easy, url, &rx, hdrs);
	curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, "DELETE");
	run(h, s, &rc, &rx, &cc);
	curl_slist_free_all(hdrs);
	slot_put(h, s);
	if (cc == CURLE_OK)
		log_debug("HTTP MCP client: DELETE session: HTTP %ld%s", rx.status,
			  rx.status == 405 ? " (the server keeps sessions until they expire)" : "");
	else
		log_debug("HTTP MCP client: DELETE session: %s", curl_easy_strerror(cc));
	rx_cleanup(&rx);
	free(url);
}

static void http_close(void *self)
{
	struct http_client *h = self;

	pthread_mutex_lock(&h->mu);
	if (h->closing) {
		pthread_mutex_unlock(&h->mu);
		return;
	}
	h->closing = true;
	h->get_stop = true;
	wake_all_locked(h);
	pthread_mutex_unlock(&h->mu);

	stop_get_thread(h);
	pthread_mutex_lock(&h->mu);
	while (h->nrunning > 0) {
		wake_all_locked(h);
		cond_wait_until(&h->cond, &h->mu, now_us() + 100000);
	}
	pthread_mutex_unlock(&h->mu);
	if (h->started)
		delete_session(h);
}

static void http_free(void *self)
{
	struct http_client *h = self;
	struct slot *s;

	if (!h)
		return;
	http_close(h);
	while ((s = h->idle)) {
		h->idle = s->next;
		slot_free(s);
	}
	for (size_t i = 0; i < h->nurls; i++)
		free(h->urls[i]);
	free(h->urls);
	free(h->bearer);
	for (size_t i = 0; h->extra_headers && h->extra_headers[i]; i++)
		free(h->extra_headers[i]);
	free(h->extra_headers);
	free(h->user_agent);
	free(h->session_id);
	free(h->protocol_version);
	for (size_t i = 0; i < sizeof h->old_session_ids / sizeof *h->old_session_ids; i++)
		free(h->old_session_ids[i]);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cond);
	free(h);
}

static const struct mcp_client_transport_ops http_ops = {
	.name = "http",
	.start = http_start,
	.send = http_send,
	.set_protocol_version = http_set_protocol_version,
	.ready = http_ready,
	.reset_session = http_reset_session,
	.wake = http_wake,
	.close = http_close,
	.free = http_free,
};
