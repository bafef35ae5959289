/*
 * http_server.c - MCP Streamable HTTP on libmicrohttpd (see http_server.h).
 *
 * Model.  libmicrohttpd runs one thread per connection, so a connection may
 * block: it waits for its request's answer, or streams SSE from a callback
 * that sleeps on a condition variable.  Every message the MCP layer sends
 * for a request goes into a *stream* (an ordered list of events with ids
 * "<stream>.<seq>"); the connection that posted the request reads it.  If the
 * first thing in the stream is the final response, the answer is plain JSON;
 * otherwise it is SSE.  Streams outlive their connection until delivered, so
 * a client that lost the connection (or that the server cut off on purpose,
 * see mcp_call_close_stream) resumes with GET + Last-Event-ID.  Each session
 * also has one standalone stream for unsolicited messages, read by GET.
 *
 * tools/call runs on a worker pool (a tool may wait for the client, whose
 * answer arrives on another connection); other requests run inline.
 */
#define _GNU_SOURCE
#include "transport/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/uuid.h"
#include "common/workpool.h"
#include "common/xalloc.h"
#include "mcp/jsonrpc.h"
#include "transport/websocket.h"

#define KEEPALIVE_S 15          /* SSE comment to notice dead peers */
#define STANDALONE_BACKLOG 1000 /* unsolicited events kept for a GET */
#define MAX_STREAMS_PER_SESSION 256
#define MAX_SESSIONS 10000

static const char *const known_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26",
					     "2024-11-05"};

/* ---- Streams ------------------------------------------------------------ */

struct event {
	uint64_t seq;
	char *data; /* JSON text */
};

struct stream {
	uint64_t no;
	atomic_int refs;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct event *events; /* events[i].seq ascending */
	size_t nevents, cap;
	uint64_t next_seq;   /* seq of the next event (starts at 1) */
	uint64_t delivered;  /* highest seq written to a connection */
	bool done;           /* the request finished: no more events */
	bool cut;            /* the server asked to end the current connection */
	uint64_t cut_seq;    /* last event that connection may still send */
	bool attached;       /* a connection is reading it */
	unsigned reader_gen; /* bumped when a new connection takes over */
	bool dead;           /* session gone or server stopping */
	bool standalone;     /* the session's GET stream */
	int retry_ms;
	struct stream *next; /* session's list */
};

static struct stream *stream_new(uint64_t no, bool standalone)
{
	struct stream *st = xcalloc(1, sizeof(*st));
	st->no = no;
	atomic_init(&st->refs, 1);
	pthread_mutex_init(&st->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->cond, &ca);
	pthread_condattr_destroy(&ca);
	st->next_seq = 1;
	st->standalone = standalone;
	return st;
}

static void stream_ref(struct stream *st)
{
	atomic_fetch_add(&st->refs, 1);
}

static void stream_unref(struct stream *st)
{
	if (!st || atomic_fetch_sub(&st->refs, 1) != 1)
		return;
	for (size_t i = 0; i < st->nevents; i++)
		free(st->events[i].data);
	free(st->events);
	pthread_cond_destroy(&st->cond);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

/* The mcp_sink over a stream. */
static int stream_append(struct stream *st, const char *msg, size_t len, bool final)
{
	pthread_mutex_lock(&st->lock);
	if (st->dead) {
		pthread_mutex_unlock(&st->lock);
		return -1;
	}
	if (st->standalone && st->nevents >= STANDALONE_BACKLOG) {
		/* Nobody is reading: drop the oldest unsolicited message. */
		free(st->events[0].data);
		memmove(st->events, st->events + 1, (st->nevents - 1) * sizeof(*st->events));
		st->nevents--;
	}
	if (st->nevents == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 4;
		st->events = xrealloc(st->events, st->cap * sizeof(*st->events));
	}
	st->events[st->nevents++] =
		(struct event){.seq = st->next_seq++, .data = xstrndup(msg, len)};
	if (final)
		st->done = true;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
	return 0;
}

static int stream_send(void *ctx, const char *msg, size_t len)
{
	return stream_append(ctx, msg, len, false);
}

static int stream_send_final(void *ctx, const char *msg, size_t len)
{
	return stream_append(ctx, msg, len, true);
}

static void stream_close_cb(void *ctx, int retry_ms)
{
	struct stream *st = ctx;
	pthread_mutex_lock(&st->lock);
	st->cut = true;
	st->cut_seq = st->next_seq - 1;
	if (retry_ms > 0)
		st->retry_ms = retry_ms;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
}

static void stream_finish(struct stream *st)
{
	pthread_mutex_lock(&st->lock);
	st->done = true;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
}

static void stream_kill(struct stream *st)
{
	pthread_mutex_lock(&st->lock);
	st->dead = true;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
}

/* ---- Sessions ------------------------------------------------------------- */

struct hsession {
	char id[UUID_STR_LEN + 1];
	struct http_server *h;
	struct mcp_session *ms;
	char *principal;
	atomic_int refs;
	int64_t last_used; /* monotonic seconds */
	bool gone;         /* deleted or expired */
	uint64_t next_stream;
	struct stream *standalone;
	struct stream *streams; /* POST streams kept for resumption */
	size_t nstreams;
	/* With a session directory: state_lock orders reloading the record
	 * and changing the durable state (a change is made on a fresh copy
	 * and saved before another request reloads). */
	pthread_mutex_t state_lock;
	atomic_bool saved;       /* the directory has a record */
	atomic_bool remote_gone; /* the record was removed or expired */
	atomic_llong touched;    /* monotonic seconds of the last touch */
	struct hsession *next;
};

struct http_server {
	struct mcp_server *srv;
	struct http_server_options opt;
	char *endpoint, *endpoint_slash;
	bool loopback;
	struct MHD_Daemon *d;
	int port;
	struct workpool *pool;
	pthread_mutex_t lock; /* sessions */
	struct hsession *sessions;
	size_t nsessions;
	atomic_bool stopping;
	atomic_int ws_active; /* WebSocket connections whose threads still run */
	/* The session directory (dir.load set when there is one). */
	struct http_session_dir dir;
	char id_prefix[16]; /* SSE event ids: "" alone, "<node tag>_" with a directory */
	int touch_s;        /* touch a session's record at most this often */
	pthread_t janitor;
	bool janitor_running;
	pthread_mutex_t jlock;
	pthread_cond_t jcond;
	bool jstop;
};

static bool have_dir(const struct http_server *h)
{
	return h->dir.load != NULL;
}

static int64_t mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void hsession_unref(struct hsession *hs)
{
	if (!hs || atomic_fetch_sub(&hs->refs, 1) != 1)
		return;
	mcp_session_close(hs->ms);
	mcp_session_unref(hs->ms);
	stream_kill(hs->standalone);
	stream_unref(hs->standalone);
	for (struct stream *st = hs->streams, *n; st; st = n) {
		n = st->next;
		stream_kill(st);
		stream_unref(st);
	}
	free(hs->principal);
	pthread_mutex_destroy(&hs->state_lock);
	free(hs);
}

/* Unlink a session (lock held); the caller drops the table's reference. */
static void unlink_session(struct http_server *h, struct hsession *hs)
{
	for (struct hsession **pp = &h->sessions; *pp; pp = &(*pp)->next) {
		if (*pp == hs) {
			*pp = hs->next;
			h->nsessions--;
			break;
		}
	}
	hs->gone = true;
	mcp_session_close(hs->ms);
	stream_kill(hs->standalone);
	for (struct stream *st = hs->streams; st; st = st->next)
		stream_kill(st);
}

/* Find a live session by id and take a reference. */
static struct hsession *find_session(struct http_server *h, const char *id)
{
	pthread_mutex_lock(&h->lock);
	struct hsession *hs = h->sessions;
	while (hs && strcmp(hs->id, id) != 0)
		hs = hs->next;
	if (hs) {
		atomic_fetch_add(&hs->refs, 1);
		hs->last_used = mono_s();
	}
	pthread_mutex_unlock(&h->lock);
	return hs;
}

#define LOCAL_COPY_IDLE_S 600 /* a copy of a stored session, unused here, is dropped */

/* Drop sessions idle for longer than the limit (lock held).  A session in
 * use holds extra references, and its last_used is fresh.  With a session
 * directory, this node's copy of a stored session goes sooner: it is loaded
 * again when needed (the record expires on its own, see dir.expire). */
static void expire_sessions(struct http_server *h)
{
	int64_t now = mono_s();
	for (struct hsession **pp = &h->sessions; *pp;) {
		struct hsession *hs = *pp;
		int64_t idle = h->opt.session_idle_s;
		if (have_dir(h) && atomic_load(&hs->saved) && idle > LOCAL_COPY_IDLE_S)
			idle = LOCAL_COPY_IDLE_S;
		if (now - hs->last_used > idle && atomic_load(&hs->refs) == 1) {
			unlink_session(h, hs);
			hsession_unref(hs);
			continue; /* *pp is the next one now */
		}
		pp = &hs->next;
	}
}

static void hook_changed(void *ctx, struct mcp_session *ms, const json_t *state);
static void hook_refresh(void *ctx, struct mcp_session *ms);

/* A new session object with two references (the table's and the caller's),
 * not yet in the table; id NULL: a fresh one. */
static struct hsession *hsession_new(struct http_server *h, const char *id, const char *principal)
{
	struct hsession *hs = xcalloc(1, sizeof(*hs));
	if (id)
		snprintf(hs->id, sizeof(hs->id), "%s", id);
	else
		uuid_v4(hs->id);
	hs->h = h;
	atomic_init(&hs->refs, 2);
	hs->principal = principal ? xstrdup(principal) : NULL;
	hs->last_used = mono_s();
	hs->standalone = stream_new(0, true);
	hs->next_stream = 1;
	pthread_mutex_init(&hs->state_lock, NULL);
	atomic_init(&hs->remote_gone, false);
	atomic_init(&hs->saved, false);
	atomic_init(&hs->touched, (long long)mono_s());
	struct mcp_sink out = {.send = stream_send, .ctx = hs->standalone};
	hs->ms = mcp_session_new(h->srv, &out);
	if (have_dir(h)) {
		struct mcp_session_hooks hk = {
			.changed = hook_changed, .refresh = hook_refresh, .ctx = hs};
		mcp_session_set_hooks(hs->ms, &hk);
		/* Requests to the client are numbered in a range of this
		 * session's own on this node, so that a response posted to
		 * another node names the node that waits for it. */
		unsigned char r[5];
		random_bytes(r, sizeof(r));
		long long base = 0;
		for (size_t i = 0; i < sizeof(r); i++)
			base = base << 8 | r[i];
		mcp_session_set_next_request_id(hs->ms, (base << 12) + 1);
	}
	return hs;
}

static void link_session(struct http_server *h, struct hsession *hs)
{
	hs->next = h->sessions;
	h->sessions = hs;
	h->nsessions++;
}

static struct hsession *create_session(struct http_server *h, const char *principal)
{
	struct hsession *hs = hsession_new(h, NULL, principal);
	pthread_mutex_lock(&h->lock);
	expire_sessions(h);
	link_session(h, hs);
	pthread_mutex_unlock(&h->lock);
	return hs;
}

/* A new POST stream registered with the session (for Last-Event-ID). */
static struct stream *session_stream(struct http_server *h, struct hsession *hs)
{
	pthread_mutex_lock(&h->lock);
	struct stream *st = stream_new(hs->next_stream++, false);
	/* Forget delivered, finished streams; cap the rest. */
	for (struct stream **pp = &hs->streams; *pp;) {
		struct stream *o = *pp;
		pthread_mutex_lock(&o->lock);
		bool drop = (o->done && !o->attached && o->delivered + 1 >= o->next_seq) ||
			    hs->nstreams >= MAX_STREAMS_PER_SESSION;
		pthread_mutex_unlock(&o->lock);
		if (drop) {
			*pp = o->next;
			hs->nstreams--;
			stream_kill(o);
			stream_unref(o);
			continue;
		}
		pp = &o->next;
	}
	stream_ref(st);
	st->next = hs->streams;
	hs->streams = st;
	hs->nstreams++;
	pthread_mutex_unlock(&h->lock);
	return st;
}

/* ---- Requests ---------------------------------------------------------------- */

struct ws_conn;

struct req {
	struct buf body;
	bool too_big;
	bool rejected;      /* a response was queued on the first call */
	struct ws_conn *ws; /* an upgrade queued, not yet taken over */
};

static enum MHD_Result queue_text(struct MHD_Connection *c, int status, const char *ctype,
				  const char *body, const char *session_id)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (ctype)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (session_id)
		MHD_add_response_header(r, "Mcp-Session-Id", session_id);
	enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return rc;
}

/* An HTTP error with a JSON-RPC error body, as the SDKs send them. */
static enum MHD_Result queue_rpc_error(struct MHD_Connection *c, int status, const json_t *id,
				       int code, const char *msg)
{
	char *text = jsonrpc_error_text(id, code, msg, NULL);
	enum MHD_Result rc = queue_text(c, status, "application/json", text, NULL);
	free(text);
	return rc;
}

static enum MHD_Result queue_status(struct MHD_Connection *c, int status)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return rc;
}

const char *http_request_header(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_request_arg(const struct http_request *req, const char *name)
{
	const char *v = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
	if (v)
		return v;
	/* "?name" without '=' is a key with no value, which MHD reports as NULL. */
	return MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name),
					     NULL, NULL) == MHD_YES
		       ? ""
		       : NULL;
}

void http_response_json(struct http_response *res, int status, char *text)
{
	res->status = status;
	res->content_type = "application/json";
	res->body = text;
	res->body_len = text ? strlen(text) : 0;
}

static char *error_text(const char *code, const char *message)
{
	json_t *j = json_pack("{s:s,s:s}", "error", code, "message", message);
	char *text = json_to_text(j);
	json_decref(j);
	return text;
}

void http_response_error(struct http_response *res, int status, const char *code,
			 const char *message)
{
	http_response_json(res, status, error_text(code, message));
}

void http_response_header(struct http_response *res, const char *name, const char *value)
{
	for (size_t i = 0; i < HTTP_RESPONSE_MAX_HEADERS; i++) {
		if (!res->headers[i].name) {
			res->headers[i].name = name;
			res->headers[i].value = value;
			return;
		}
	}
}

/* An error the server itself gives: JSON-RPC shaped next to an MCP endpoint
 * (as the SDKs send them), plain {"error","message"} without one. */
static enum MHD_Result queue_server_error(struct http_server *h, struct MHD_Connection *c,
					  int status, const char *code, const char *msg)
{
	if (h->srv)
		return queue_rpc_error(c, status, NULL, JSONRPC_INVALID_REQUEST, msg);
	char *text = error_text(code, msg);
	enum MHD_Result rc = queue_text(c, status, "application/json", text, NULL);
	free(text);
	return rc;
}

/* Host and Origin against DNS rebinding.  The host part (without port) must
 * be a loopback name or one of the allowed hosts. */
static bool host_allowed(struct http_server *h, const char *host, size_t n)
{
	static const char *const loop[] = {"localhost", "127.0.0.1", "[::1]", "::1"};
	for (size_t i = 0; i < sizeof(loop) / sizeof(loop[0]); i++)
		if (strlen(loop[i]) == n && strncasecmp(host, loop[i], n) == 0)
			return true;
	for (const char *const *a = h->opt.allowed_hosts; a && *a; a++)
		if (strlen(*a) == n && strncasecmp(host, *a, n) == 0)
			return true;
	return false;
}

/* Length of the host in "host[:port]" (IPv6 in brackets kept whole). */
static size_t host_len(const char *hp)
{
	if (hp[0] == '[') {
		const char *e = strchr(hp, ']');
		return e ? (size_t)(e - hp + 1) : strlen(hp);
	}
	const char *colon = strchr(hp, ':');
	return colon ? (size_t)(colon - hp) : strlen(hp);
}

static bool origin_checks_pass(struct http_server *h, struct MHD_Connection *c)
{
	if (h->opt.allow_any_host || (!h->loopback && !h->opt.allowed_hosts))
		return true;
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	if (host && !host_allowed(h, host, host_len(host)))
		return false;
	const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	if (origin) {
		const char *p = strstr(origin, "://");
		if (!p)
			return false; /* "null" and other opaque origins */
		p += 3;
		size_t n = strcspn(p, "/");
		char hp[256];
		if (n >= sizeof(hp))
			return false;
		memcpy(hp, p, n);
		hp[n] = 0;
		if (!host_allowed(h, hp, host_len(hp)))
			return false;
	}
	return true;
}

/* Bearer authentication; *principal gets a new string or stays NULL. */
static bool authenticate(struct http_server *h, struct MHD_Connection *c, char **principal)
{
	*principal = NULL;
	if (!h->opt.auth)
		return true;
	const char *a =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!a || strncasecmp(a, "Bearer ", 7) != 0)
		return false;
	const char *tok = a + 7;
	while (*tok == ' ')
		tok++;
	return *tok && h->opt.auth(h->opt.auth_data, tok, principal) == 0;
}

static enum MHD_Result queue_unauthorized(struct MHD_Connection *c)
{
	const char *body = "{\"error\":\"unauthorized\",\"message\":\"Send an API key as "
			   "'Authorization: Bearer <key>'.\"}";
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
				"Bearer realm=\"ambient\", error=\"invalid_token\"");
	enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_UNAUTHORIZED, r);
	MHD_destroy_response(r);
	return rc;
}

static bool accepts(const char *accept, const char *type)
{
	return !accept || strstr(accept, type) || strstr(accept, "*/*");
}

/* ---- SSE reading -------------------------------------------------------------- */

/* The state of one connection reading a stream as SSE. */
struct sse_reader {
	struct http_server *h;
	struct stream *st;
	struct hsession *hs; /* reference held, may be NULL (stateless) */
	uint64_t after;      /* last seq written */
	unsigned gen;        /* st->reader_gen when this reader attached */
	bool primed;
	char *pending; /* formatted bytes not yet handed to MHD */
	size_t pending_len, pending_off;
	bool end_after_pending;
};

static void sse_format(struct sse_reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sse_format(struct sse_reader *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	r->pending = s;
	r->pending_len = (size_t)n;
	r->pending_off = 0;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
	(void)pos;
	struct sse_reader *r = cls;
	struct stream *st = r->st;
	for (;;) {
		if (r->pending) {
			size_t n = r->pending_len - r->pending_off;
			if (n > max)
				n = max;
			memcpy(out, r->pending + r->pending_off, n);
			r->pending_off += n;
			if (r->pending_off == r->pending_len) {
				free(r->pending);
				r->pending = NULL;
			}
			return (ssize_t)n;
		}
		if (r->end_after_pending)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (!r->primed) {
			r->primed = true;
			pthread_mutex_lock(&st->lock);
			int retry = st->retry_ms ? st->retry_ms : r->h->opt.sse_retry_ms;
			pthread_mutex_unlock(&st->lock);
			sse_format(r, "id: %s%llu.%llu\nretry: %d\ndata: \n\n", r->h->id_prefix,
				   (unsigned long long)st->no, (unsigned long long)r->after, retry);
			continue;
		}
		pthread_mutex_lock(&st->lock);
		struct timespec deadline;
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += KEEPALIVE_S;
		for (;;) {
			bool have = st->nevents && st->events[st->nevents - 1].seq > r->after;
			if (have || st->dead || st->cut || (st->done && !st->standalone) ||
			    st->reader_gen != r->gen || atomic_load(&r->h->stopping))
				break;
			if (pthread_cond_timedwait(&st->cond, &st->lock, &deadline) == ETIMEDOUT)
				break;
		}
		/* The next event after r->after, if any. */
		const struct event *ev = NULL;
		for (size_t i = 0; i < st->nevents && !ev && st->reader_gen == r->gen; i++)
			if (st->events[i].seq > r->after)
				ev = &st->events[i];
		if (ev && st->cut && ev->seq > st->cut_seq)
			ev = NULL; /* kept for the resumed connection */
		if (ev) {
			r->after = ev->seq;
			if (ev->seq > st->delivered)
				st->delivered = ev->seq;
			sse_format(r, "id: %s%llu.%llu\nevent: message\ndata: %s\n\n",
				   r->h->id_prefix, (unsigned long long)st->no,
				   (unsigned long long)ev->seq, ev->data);
			pthread_mutex_unlock(&st->lock);
			continue;
		}
		bool end = st->dead || atomic_load(&r->h->stopping) ||
			   (st->done && !st->standalone) || st->reader_gen != r->gen;
		if (st->cut) {
			st->cut = false; /* this connection ends; a resumed one goes on */
			end = true;
		}
		pthread_mutex_unlock(&st->lock);
		if (end)
			return MHD_CONTENT_READER_END_OF_STREAM;
		sse_format(r, ": keepalive\n\n");
	}
}

static void sse_free(void *cls)
{
	struct sse_reader *r = cls;
	pthread_mutex_lock(&r->st->lock);
	if (r->st->reader_gen == r->gen)
		r->st->attached = false;
	pthread_mutex_unlock(&r->st->lock);
	free(r->pending);
	stream_unref(r->st);
	hsession_unref(r->hs);
	free(r);
}

/* Answer with the stream as SSE from seq `after` on.  Takes over the
 * caller's references to st and hs. */
static enum MHD_Result queue_sse(struct http_server *h, struct MHD_Connection *c, struct stream *st,
				 struct hsession *hs, uint64_t after, const char *session_id)
{
	struct sse_reader *r = xcalloc(1, sizeof(*r));
	r->h = h;
	r->st = st;
	r->hs = hs;
	r->after = after;
	/* A newer connection takes the stream over: the old reader (perhaps a
	 * dead peer not yet noticed) ends at its next wake-up. */
	pthread_mutex_lock(&st->lock);
	st->attached = true;
	r->gen = ++st->reader_gen;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
	struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
								      sse_read, r, sse_free);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no"); /* nginx: do not buffer */
	if (session_id)
		MHD_add_response_header(resp, "Mcp-Session-Id", session_id);
	enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* ---- POST ---------------------------------------------------------------------- */

struct call_job {
	struct mcp_session *ms;
	struct jsonrpc_msg msg;
	struct stream *st;
	struct mcp_sink sink;
};

static void run_call(void *arg)
{
	struct call_job *j = arg;
	mcp_session_handle_msg(j->ms, &j->msg, &j->sink, NULL);
	stream_finish(j->st);
	stream_unref(j->st);
	mcp_session_unref(j->ms);
	free(j);
}

static bool version_known(const char *v)
{
	for (size_t i = 0; i < sizeof(known_versions) / sizeof(known_versions[0]); i++)
		if (strcmp(v, known_versions[i]) == 0)
			return true;
	return false;
}

/* ---- The session directory -------------------------------------------------------- */

static void hook_changed(void *ctx, struct mcp_session *ms, const json_t *state)
{
	(void)ms;
	struct hsession *hs = ctx;
	struct http_server *h = hs->h;
	json_t *rec = json_pack("{s:s?,s:O}", "principal", hs->principal, "mcp", state);
	struct err e = {0};
	int rc = h->dir.save(h->dir.data, hs->id, rec, !atomic_load(&hs->saved), &e);
	json_decref(rec);
	if (rc == ERR_NOT_FOUND) {
		atomic_store(&hs->remote_gone, true); /* deleted through another node */
	} else if (rc) {
		log_warn("http: could not save MCP session %.8s... to the session directory "
			 "(other nodes will not know it): %s",
			 hs->id, err_msg(&e));
	} else {
		atomic_store(&hs->saved, true);
		atomic_store(&hs->touched, (long long)mono_s());
	}
}

/* Reload a session's record into its local copy (state_lock held).
 * ERR_NOT_FOUND when the record is gone; another error leaves the local
 * copy as it is (the directory is unreachable for a moment). */
static int session_sync(struct http_server *h, struct hsession *hs)
{
	json_t *rec = NULL;
	struct err e = {0};
	int rc = h->dir.load(h->dir.data, hs->id, &rec, &e);
	if (rc == ERR_NOT_FOUND) {
		if (!atomic_load(&hs->saved))
			return ERR_OK; /* never saved (the directory was down): ours alone */
		atomic_store(&hs->remote_gone, true);
		return rc;
	}
	if (rc) {
		log_debug("http: session directory: %s", err_msg(&e));
		return rc;
	}
	if (mcp_session_import(hs->ms, json_object_get(rec, "mcp"), &e))
		log_warn("http: the stored state of MCP session %.8s... is unusable: %s", hs->id,
			 err_msg(&e));
	else
		atomic_store(&hs->saved, true);
	json_decref(rec);
	return ERR_OK;
}

static bool stream_has_reader(struct stream *st)
{
	pthread_mutex_lock(&st->lock);
	bool a = st->attached && !st->dead;
	pthread_mutex_unlock(&st->lock);
	return a;
}

/* A resources/updated is about to be decided: a node holding the client's
 * GET stream reloads the subscriptions (a subscribe made through another
 * node counts before this notification).  A change in progress here holds
 * state_lock briefly; wait for it, but not forever (the thread holding it
 * may be waiting for a lock this notifier's session is needed for). */
static void hook_refresh(void *ctx, struct mcp_session *ms)
{
	(void)ms;
	struct hsession *hs = ctx;
	if (atomic_load(&hs->remote_gone) || !stream_has_reader(hs->standalone))
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 200 * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if (pthread_mutex_timedlock(&hs->state_lock, &ts) != 0)
		return;
	session_sync(hs->h, hs);
	pthread_mutex_unlock(&hs->state_lock);
}

/* Drop this node's copy of a session (its record is gone). */
static void drop_session(struct http_server *h, struct hsession *hs)
{
	pthread_mutex_lock(&h->lock);
	bool linked = !hs->gone;
	if (linked)
		unlink_session(h, hs);
	pthread_mutex_unlock(&h->lock);
	if (linked)
		hsession_unref(hs); /* the table's reference */
}

/* Tell the directory the session is in use, at most every touch_s. */
static void session_touch(struct http_server *h, struct hsession *hs)
{
	long long now = mono_s(), last = atomic_load(&hs->touched);
	if (!h->dir.touch || now - last < h->touch_s ||
	    !atomic_compare_exchange_strong(&hs->touched, &last, now))
		return;
	struct err e = {0};
	if (h->dir.touch(h->dir.data, hs->id, &e))
		log_debug("http: session directory: %s", err_msg(&e));
}

/* A session this node does not hold, from the directory: a local copy
 * with a reference, or NULL with *status (404 unknown, 503 directory
 * unreachable or too many sessions). */
static struct hsession *materialize(struct http_server *h, const char *sid, int *status)
{
	*status = MHD_HTTP_NOT_FOUND;
	if (strlen(sid) > UUID_STR_LEN)
		return NULL;
	json_t *rec = NULL;
	struct err e = {0};
	int rc = h->dir.load(h->dir.data, sid, &rec, &e);
	if (rc) {
		if (rc != ERR_NOT_FOUND) {
			log_warn("http: session directory: %s", err_msg(&e));
			*status = MHD_HTTP_SERVICE_UNAVAILABLE;
		}
		return NULL;
	}
	const json_t *pr = json_object_get(rec, "principal");
	if (pr && !json_is_null(pr) && !json_is_string(pr)) {
		log_warn("http: the stored record of MCP session %.8s... has a bad principal", sid);
		json_decref(rec);
		return NULL;
	}
	pthread_mutex_lock(&h->lock);
	if (h->nsessions >= MAX_SESSIONS)
		expire_sessions(h);
	bool full = h->nsessions >= MAX_SESSIONS;
	pthread_mutex_unlock(&h->lock);
	if (full) {
		json_decref(rec);
		*status = MHD_HTTP_SERVICE_UNAVAILABLE;
		return NULL;
	}
	struct hsession *hs = hsession_new(h, sid, json_string_value(pr));
	if (mcp_session_import(hs->ms, json_object_get(rec, "mcp"), &e) ||
	    !mcp_session_initialized(hs->ms)) {
		log_warn("http: the stored state of MCP session %.8s... is unusable: %s", sid,
			 err_msg(&e));
		json_decref(rec);
		atomic_store(&hs->refs, 1);
		hsession_unref(hs);
		return NULL;
	}
	json_decref(rec);
	atomic_store(&hs->saved, true);
	if (h->opt.on_session)
		h->opt.on_session(h->opt.on_session_data, hs->ms, hs->principal);
	/* Another request may have brought it in meanwhile: keep that one. */
	pthread_mutex_lock(&h->lock);
	struct hsession *other = h->sessions;
	while (other && strcmp(other->id, sid) != 0)
		other = other->next;
	if (other) {
		atomic_fetch_add(&other->refs, 1);
		other->last_used = mono_s();
	} else {
		link_session(h, hs);
	}
	pthread_mutex_unlock(&h->lock);
	if (other) {
		atomic_store(&hs->refs, 1);
		hsession_unref(hs);
		return other;
	}
	return hs;
}

/* Make a session's local copy current before a request uses it: reload
 * the record, unless it was loaded for this very request.  With `keep`,
 * state_lock stays held on success (the request may change the state; it
 * is saved before the lock is released).  Returns false when the session
 * is gone (dropped here). */
static bool session_current(struct http_server *h, struct hsession *hs, bool loaded, bool keep)
{
	if (!have_dir(h))
		return true;
	pthread_mutex_lock(&hs->state_lock);
	if (!loaded && session_sync(h, hs) == ERR_NOT_FOUND) {
		pthread_mutex_unlock(&hs->state_lock);
		drop_session(h, hs);
		return false;
	}
	if (!keep)
		pthread_mutex_unlock(&hs->state_lock);
	session_touch(h, hs);
	return true;
}

static enum MHD_Result queue_gone(struct MHD_Connection *c)
{
	return queue_rpc_error(c, MHD_HTTP_NOT_FOUND, NULL, -32001,
			       "Session not found: it expired or was deleted; initialize a "
			       "new session");
}

/* The session a request names, with a reference, after the checks every
 * method shares: a missing id is 400, an unknown one 404, a session opened
 * with another key 403.  With a directory, a session of another node is
 * brought in (*loaded set: its copy is fresh).  On failure the answer is
 * queued, *rc holds MHD's result, and NULL is returned. */
static struct hsession *session_of(struct http_server *h, struct MHD_Connection *c,
				   const char *principal, enum MHD_Result *rc, bool *loaded)
{
	*loaded = false;
	const char *sid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Mcp-Session-Id");
	if (!sid) {
		*rc = queue_rpc_error(c, MHD_HTTP_BAD_REQUEST, NULL, -32000,
				      "Bad Request: Mcp-Session-Id header is required (send "
				      "initialize first to get one)");
		return NULL;
	}
	struct hsession *hs = find_session(h, sid);
	if (hs && atomic_load(&hs->remote_gone)) {
		drop_session(h, hs);
		hsession_unref(hs);
		hs = NULL;
		*rc = queue_gone(c);
		return NULL;
	}
	if (!hs && have_dir(h)) {
		int status;
		hs = materialize(h, sid, &status);
		if (!hs && status == MHD_HTTP_SERVICE_UNAVAILABLE) {
			*rc = queue_rpc_error(c, status, NULL, JSONRPC_INTERNAL_ERROR,
					      "Service Unavailable: the session directory cannot "
					      "be read right now; retry shortly");
			return NULL;
		}
		*loaded = hs != NULL;
	}
	if (!hs) {
		*rc = queue_gone(c);
		return NULL;
	}
	if ((hs->principal || principal) &&
	    (!hs->principal || !principal || strcmp(hs->principal, principal) != 0)) {
		hsession_unref(hs);
		*rc = queue_rpc_error(c, MHD_HTTP_FORBIDDEN, NULL, JSONRPC_INVALID_REQUEST,
				      "Forbidden: this session belongs to another principal");
		return NULL;
	}
	return hs;
}

/* Whether this node's copy of the session awaits the response `id`. */
static bool awaited_here(struct mcp_session *ms, long long id)
{
	long long small[32], *ids = small;
	size_t n = mcp_session_pending_ids(ms, small, 32);
	if (n > 32) { /* rare: many tools waiting for the client at once */
		size_t cap = n + 16;
		ids = xcalloc(cap, sizeof(*ids));
		n = mcp_session_pending_ids(ms, ids, cap);
		if (n > cap)
			n = cap;
	}
	bool yes = false;
	for (size_t i = 0; i < n && !yes; i++)
		yes = ids[i] == id;
	if (ids != small)
		free(ids);
	return yes;
}

static enum MHD_Result handle_post(struct http_server *h, struct MHD_Connection *c, struct req *rq,
				   const char *principal)
{
	const char *ctype =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!ctype || strncasecmp(ctype, "application/json", 16) != 0)
		return queue_rpc_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL,
				       JSONRPC_INVALID_REQUEST,
				       "Unsupported Media Type: send the JSON-RPC message with "
				       "Content-Type: application/json");
	const char *accept =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	bool json_ok = accepts(accept, "application/json");
	bool sse_ok = accepts(accept, "text/event-stream");
	if (!json_ok && !sse_ok)
		return queue_rpc_error(c, MHD_HTTP_NOT_ACCEPTABLE, NULL, JSONRPC_INVALID_REQUEST,
				       "Not Acceptable: the client must accept application/json "
				       "and text/event-stream");

	struct jsonrpc_msg m;
	int code = 0;
	json_t *bad_id = NULL;
	struct err pe;
	err_clear(&pe);
	if (jsonrpc_parse(buf_str(&rq->body), rq->body.len, h->opt.max_body, &m, &code, &bad_id,
			  &pe) != ERR_OK) {
		enum MHD_Result rc =
			queue_rpc_error(c, MHD_HTTP_BAD_REQUEST, bad_id, code, err_msg(&pe));
		json_decref(bad_id);
		return rc;
	}

	const char *pv = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "MCP-Protocol-Version");
	bool is_init = m.kind == JSONRPC_REQUEST && strcmp(m.method, "initialize") == 0;
	if (pv && !is_init && !version_known(pv)) {
		char msg[200];
		snprintf(msg, sizeof(msg),
			 "Bad Request: unsupported MCP-Protocol-Version \"%.40s\" (supported: "
			 "2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05)",
			 pv);
		jsonrpc_msg_cleanup(&m);
		return queue_rpc_error(c, MHD_HTTP_BAD_REQUEST, NULL, JSONRPC_INVALID_REQUEST, msg);
	}

	/* Which session. */
	struct hsession *hs = NULL;
	struct mcp_session *ms = NULL;
	bool changes = m.kind == JSONRPC_REQUEST && mcp_method_changes_state(m.method);
	bool locked = false; /* hs->state_lock held (a directory, a change) */
	const char *sid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Mcp-Session-Id");
	const char *new_sid = NULL;
	if (h->opt.stateless) {
		ms = mcp_session_new(h->srv, NULL);
		if (!is_init)
			mcp_session_assume_initialized(ms, pv ? pv : MCP_PROTOCOL_LATEST);
		if (h->opt.on_session)
			h->opt.on_session(h->opt.on_session_data, ms, principal);
	} else if (sid || !is_init) {
		enum MHD_Result qrc;
		bool loaded;
		hs = session_of(h, c, principal, &qrc, &loaded);
		if (!hs) {
			jsonrpc_msg_cleanup(&m);
			return qrc;
		}
		if (!session_current(h, hs, loaded, changes)) {
			hsession_unref(hs);
			jsonrpc_msg_cleanup(&m);
			return queue_gone(c);
		}
		locked = have_dir(h) && changes;
		ms = hs->ms;
		mcp_session_ref(ms);
	} else { /* initialize without a session: a new one */
		pthread_mutex_lock(&h->lock);
		bool full = h->nsessions >= MAX_SESSIONS;
		if (full)
			expire_sessions(h);
		full = h->nsessions >= MAX_SESSIONS;
		pthread_mutex_unlock(&h->lock);
		if (full) {
			jsonrpc_msg_cleanup(&m);
			return queue_rpc_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
					       JSONRPC_INTERNAL_ERROR,
					       "Too many sessions; try again later");
		}
		hs = create_session(h, principal);
		ms = hs->ms;
		mcp_session_ref(ms);
		new_sid = hs->id;
		if (h->opt.on_session)
			h->opt.on_session(h->opt.on_session_data, ms, principal);
		if (have_dir(h)) { /* saved by initialize, under the lock */
			pthread_mutex_lock(&hs->state_lock);
			locked = true;
		}
	}

	enum MHD_Result rc;
	if (m.kind != JSONRPC_REQUEST) {
		/* Notifications and responses: handled, 202, no body.  A
		 * response nobody here awaits goes to the node that does. */
		if (hs && have_dir(h) && h->dir.post_reply &&
		    (m.kind == JSONRPC_RESULT || m.kind == JSONRPC_ERROR) &&
		    json_is_integer(m.id) && !awaited_here(ms, json_integer_value(m.id))) {
			struct err fe = {0};
			if (h->dir.post_reply(h->dir.data, hs->id, json_integer_value(m.id), m.root,
					      &fe))
				log_warn("http: could not hand a client response over to the "
					 "waiting node: %s",
					 err_msg(&fe));
			jsonrpc_msg_cleanup(&m);
		} else {
			mcp_session_handle_msg(ms, &m, NULL, NULL);
		}
		rc = queue_status(c, MHD_HTTP_ACCEPTED);
		goto out;
	}

	struct stream *st = hs ? session_stream(h, hs) : stream_new(1, false);
	struct mcp_sink sink = {.send = stream_send,
				.send_final = stream_send_final,
				.close_stream = stream_close_cb,
				.ctx = st};
	/* Tool calls run on a worker, so that the answer can stream while the
	 * tool still runs (progress, elicitation); a quick tool answers from
	 * local state at once and runs here, saving two thread hand-offs. */
	if (strcmp(m.method, "tools/call") == 0 && !mcp_server_call_is_quick(h->srv, &m)) {
		struct call_job *j = xcalloc(1, sizeof(*j));
		j->ms = ms;
		mcp_session_ref(ms);
		j->msg = m;
		j->st = st;
		stream_ref(st);
		j->sink = sink;
		workpool_submit(h->pool, run_call, j);
	} else {
		mcp_session_handle_msg(ms, &m, &sink, NULL);
		stream_finish(st);
	}
	if (locked) { /* the change, if any, is saved */
		pthread_mutex_unlock(&hs->state_lock);
		locked = false;
	}

	/* Wait for the first event or the end; JSON when the answer is all
	 * there is (or all the client accepts). */
	pthread_mutex_lock(&st->lock);
	while (!st->done && !st->dead && (!sse_ok || (st->nevents == 0 && !st->cut)))
		pthread_cond_wait(&st->cond, &st->lock);
	bool json = (st->done && st->nevents == 1 && !st->cut) || !sse_ok;
	char *answer = NULL;
	if (json && st->nevents) {
		answer = st->events[st->nevents - 1].data; /* the response is last */
		st->events[st->nevents - 1].data = xstrdup("");
		st->delivered = st->events[st->nevents - 1].seq;
	}
	bool empty = st->done && st->nevents == 0;
	pthread_mutex_unlock(&st->lock);

	const char *hdr_sid = new_sid;
	if (json || empty) {
		if (answer)
			rc = queue_text(c, MHD_HTTP_OK, "application/json", answer, hdr_sid);
		else
			rc = queue_status(c, MHD_HTTP_ACCEPTED); /* cancelled: nothing to say */
		free(answer);
		stream_unref(st);
	} else {
		if (hs)
			atomic_fetch_add(&hs->refs, 1);
		rc = queue_sse(h, c, st, hs, 0, hdr_sid);
	}
out:
	if (locked)
		pthread_mutex_unlock(&hs->state_lock);
	mcp_session_unref(ms);
	hsession_unref(hs);
	return rc;
}

/* ---- GET and DELETE ---------------------------------------------------------------- */

static enum MHD_Result handle_get(struct http_server *h, struct MHD_Connection *c,
				  const char *principal)
{
	if (h->opt.stateless)
		return queue_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
				  "Method Not Allowed: this server is stateless and has no "
				  "server-to-client stream",
				  NULL);
	const char *accept =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	if (accept && !accepts(accept, "text/event-stream"))
		return queue_rpc_error(c, MHD_HTTP_NOT_ACCEPTABLE, NULL, JSONRPC_INVALID_REQUEST,
				       "Not Acceptable: GET needs Accept: text/event-stream");
	enum MHD_Result qrc;
	bool loaded;
	struct hsession *hs = session_of(h, c, principal, &qrc, &loaded);
	if (!hs)
		return qrc;
	if (!session_current(h, hs, loaded, false)) {
		hsession_unref(hs);
		return queue_gone(c);
	}

	/* Resuming: "<stream>.<seq>" (after this node's prefix: the streams of
	 * another node are not here, so its ids start the stream afresh). */
	const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
	size_t plen = strlen(h->id_prefix);
	if (last && strncmp(last, h->id_prefix, plen) != 0)
		last = NULL;
	unsigned long long sno = 0, seq = 0;
	struct stream *st = NULL;
	if (last && sscanf(last + plen, "%llu.%llu", &sno, &seq) == 2) {
		pthread_mutex_lock(&h->lock);
		if (sno == 0) {
			st = hs->standalone;
		} else {
			for (struct stream *s = hs->streams; s && !st; s = s->next)
				if (s->no == sno)
					st = s;
		}
		if (st)
			stream_ref(st);
		pthread_mutex_unlock(&h->lock);
	}
	uint64_t after = seq;
	if (!st) {
		st = hs->standalone;
		stream_ref(st);
		pthread_mutex_lock(&st->lock);
		after = st->delivered; /* what no earlier GET has seen yet */
		pthread_mutex_unlock(&st->lock);
	}
	return queue_sse(h, c, st, hs, after, NULL);
}

static enum MHD_Result handle_delete(struct http_server *h, struct MHD_Connection *c,
				     const char *principal)
{
	if (h->opt.stateless)
		return queue_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
				  "Method Not Allowed: this server is stateless", NULL);
	enum MHD_Result qrc;
	bool loaded;
	struct hsession *hs = session_of(h, c, principal, &qrc, &loaded);
	if (!hs)
		return qrc;
	if (have_dir(h)) { /* gone for every node */
		struct err e = {0};
		if (h->dir.remove(h->dir.data, hs->id, &e)) {
			log_warn("http: session directory: %s", err_msg(&e));
			hsession_unref(hs);
			return queue_rpc_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
					       JSONRPC_INTERNAL_ERROR,
					       "Service Unavailable: the session could not be "
					       "removed from the session directory; retry shortly");
		}
		atomic_store(&hs->remote_gone, true);
	}
	pthread_mutex_lock(&h->lock);
	bool linked = !hs->gone;
	if (linked)
		unlink_session(h, hs);
	pthread_mutex_unlock(&h->lock);
	if (linked)
		hsession_unref(hs); /* the table's reference */
	hsession_unref(hs);
	return queue_status(c, MHD_HTTP_OK);
}

/* ---- Plain routes -------------------------------------------------------------------- */

static bool route_matches(const struct http_route *r, const char *path)
{
	size_t n = strlen(r->path);
	return n && r->path[n - 1] == '*' ? strncmp(path, r->path, n - 1) == 0
					  : strcmp(path, r->path) == 0;
}

/* The first route for method and path.  When none matches but routes for
 * other methods do, *allow gets their methods ("GET, POST"). */
static const struct http_route *find_route(struct http_server *h, const char *method,
					   const char *path, char *allow, size_t allow_size)
{
	allow[0] = 0;
	for (size_t i = 0; i < h->opt.nroutes; i++) {
		const struct http_route *r = &h->opt.routes[i];
		if (!route_matches(r, path))
			continue;
		if (strcmp(r->method, method) == 0)
			return r;
		if (!strstr(allow, r->method)) {
			size_t used = strlen(allow);
			snprintf(allow + used, allow_size - used, "%s%s", used ? ", " : "",
				 r->method);
		}
	}
	return NULL;
}

/* A route's stream as an MHD content reader, with SSE keepalives. */
struct route_stream {
	struct http_server *h;
	struct MHD_Connection *c;
	struct http_stream s;
	bool sse;
	int64_t last_write; /* monotonic seconds */
};

/* Whether the client closed its end: a streaming client sends nothing after
 * its request, so a readable socket with no data is end of file.  Lets a
 * stream end as soon as its reader is gone rather than at the next write. */
static bool peer_gone(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return false;
	struct pollfd p = {.fd = ci->connect_fd, .events = POLLIN | POLLRDHUP};
	if (poll(&p, 1, 0) <= 0)
		return false;
	if (p.revents & (POLLHUP | POLLERR | POLLRDHUP))
		return true;
	char ch;
	return (p.revents & POLLIN) && recv(ci->connect_fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static ssize_t route_stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	(void)pos;
	struct route_stream *rs = cls;
	static const char keepalive[] = ": keepalive\n\n";
	for (;;) {
		if (atomic_load(&rs->h->stopping))
			return MHD_CONTENT_READER_END_OF_STREAM;
		ssize_t n = rs->s.read(rs->s.ctx, out, max);
		if (n < 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (n > 0) {
			rs->last_write = mono_s();
			return n;
		}
		if (peer_gone(rs->c))
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (rs->sse && mono_s() - rs->last_write >= KEEPALIVE_S &&
		    max >= sizeof(keepalive) - 1) {
			memcpy(out, keepalive, sizeof(keepalive) - 1);
			rs->last_write = mono_s();
			return (ssize_t)(sizeof(keepalive) - 1);
		}
	}
}

static void route_stream_free(void *cls)
{
	struct route_stream *rs = cls;
	if (rs->s.free)
		rs->s.free(rs->s.ctx);
	free(rs);
}

/* ---- WebSocket connections ------------------------------------------------------- */

#define WS_POLL_MS 200 /* reader: how often it checks for shutdown */
#define WS_SEND_TIMEOUT_MS 10000
#define WS_CLOSE_WAIT_MS 2000 /* for the peer's close after ours */
#define WS_READ_CHUNK 16384
#define WS_KEEPALIVE_MS 30000 /* a ping after this long without sending */

struct ws_conn {
	struct http_server *h;
	struct http_websocket hw;
	MHD_socket sock;
	struct MHD_UpgradeResponseHandle *urh;
	struct ws_parser parser;
	char *extra; /* bytes MHD read past the request */
	size_t extra_len;
	pthread_mutex_t wlock; /* one frame at a time on the socket */
	atomic_int refs;       /* reader and writer */
	atomic_bool closing;   /* stop both threads */
	atomic_bool close_sent;
	int64_t close_sent_ms;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void http_response_websocket(struct http_response *res, const struct http_websocket *ws)
{
	res->ws = *ws;
	res->status = MHD_HTTP_SWITCHING_PROTOCOLS;
	res->content_type = NULL;
}

static void ws_conn_unref(struct ws_conn *wc)
{
	if (atomic_fetch_sub(&wc->refs, 1) != 1)
		return;
	struct http_server *h = wc->h;
	if (wc->urh)
		MHD_upgrade_action(wc->urh, MHD_UPGRADE_ACTION_CLOSE);
	if (wc->hw.free)
		wc->hw.free(wc->hw.ctx);
	ws_parser_cleanup(&wc->parser);
	pthread_mutex_destroy(&wc->wlock);
	free(wc->extra);
	free(wc);
	atomic_fetch_sub(&h->ws_active, 1); /* last touch of h */
}

/* Send all of p, waiting for room up to WS_SEND_TIMEOUT_MS (lock held). */
static bool ws_send_all(struct ws_conn *wc, const uint8_t *p, size_t n)
{
	int64_t deadline = mono_ms() + WS_SEND_TIMEOUT_MS;
	while (n) {
		ssize_t k = send(wc->sock, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
			continue;
		}
		if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return false;
		if (mono_ms() > deadline || atomic_load(&wc->h->stopping))
			return false;
		struct pollfd pf = {.fd = wc->sock, .events = POLLOUT};
		poll(&pf, 1, WS_POLL_MS);
	}
	return true;
}

/* One frame to the peer; false when the connection is unusable. */
static bool ws_send_frame(struct ws_conn *wc, int opcode, const void *payload, size_t len)
{
	uint8_t small[WS_FRAME_HEADER_MAX + WS_CONTROL_MAX + 2];
	uint8_t *frame = len <= WS_CONTROL_MAX + 2 ? small : xmalloc(WS_FRAME_HEADER_MAX + len);
	size_t n = ws_frame_encode(frame, true, opcode, payload, len, NULL);
	pthread_mutex_lock(&wc->wlock);
	bool ok = !atomic_load(&wc->close_sent) && ws_send_all(wc, frame, n);
	if (opcode == WS_OP_CLOSE && !atomic_load(&wc->close_sent)) {
		atomic_store(&wc->close_sent, true);
		wc->close_sent_ms = mono_ms();
	}
	pthread_mutex_unlock(&wc->wlock);
	if (frame != small)
		free(frame);
	if (!ok)
		atomic_store(&wc->closing, true);
	return ok;
}

static void ws_send_close(struct ws_conn *wc, int code, const char *reason)
{
	uint8_t p[WS_CONTROL_MAX];
	size_t n = 0;
	if (code != WS_CLOSE_NO_STATUS) {
		p[n++] = (uint8_t)(code >> 8);
		p[n++] = (uint8_t)code;
		size_t rl = reason ? strlen(reason) : 0;
		if (rl > WS_CONTROL_MAX - 2)
			rl = WS_CONTROL_MAX - 2;
		memcpy(p + n, reason, rl);
		n += rl;
	}
	ws_send_frame(wc, WS_OP_CLOSE, p, n);
}

/* Handle what the parser has; false when the connection is to end. */
static bool ws_drain(struct ws_conn *wc)
{
	for (;;) {
		struct ws_message m;
		ws_parser_next(&wc->parser, &m);
		switch (m.ev) {
		case WS_EV_NONE:
			return true;
		case WS_EV_TEXT:
		case WS_EV_BINARY:
			if (atomic_load(&wc->close_sent))
				break; /* closing: ignore data */
			if (wc->hw.on_message &&
			    wc->hw.on_message(wc->hw.ctx, (const char *)m.data, m.len,
					      m.ev == WS_EV_BINARY) != 0) {
				ws_send_close(wc, WS_CLOSE_NORMAL, "");
			}
			break;
		case WS_EV_PING:
			ws_send_frame(wc, WS_OP_PONG, m.data, m.len);
			break;
		case WS_EV_PONG:
			break;
		case WS_EV_CLOSE:
			/* Echo the code (none when the peer sent none), then end. */
			ws_send_close(wc, m.code, "");
			return false;
		case WS_EV_ERROR:
			log_debug("http: websocket: %s; closing with %d", m.error, m.code);
			ws_send_close(wc, m.code, m.error);
			return false;
		}
		if (atomic_load(&wc->closing))
			return false;
	}
}

static void *ws_reader(void *arg)
{
	struct ws_conn *wc = arg;
	bool go = true;
	if (wc->extra_len)
		go = ws_parser_feed(&wc->parser, wc->extra, wc->extra_len) && ws_drain(wc);
	char *chunk = xmalloc(WS_READ_CHUNK);
	while (go && !atomic_load(&wc->closing)) {
		if (atomic_load(&wc->h->stopping)) {
			ws_send_close(wc, WS_CLOSE_GOING_AWAY, "server stopping");
			break;
		}
		if (atomic_load(&wc->close_sent) &&
		    mono_ms() - wc->close_sent_ms > WS_CLOSE_WAIT_MS)
			break; /* the peer never answered our close */
		struct pollfd pf = {.fd = wc->sock, .events = POLLIN};
		int pr = poll(&pf, 1, WS_POLL_MS);
		if (pr < 0 && errno != EINTR)
			break;
		if (pr <= 0)
			continue;
		ssize_t k = recv(wc->sock, chunk, WS_READ_CHUNK, MSG_DONTWAIT);
		if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			break; /* the peer left */
		if (k < 0)
			continue;
		if (!ws_parser_feed(&wc->parser, chunk, (size_t)k)) {
			ws_send_close(wc, WS_CLOSE_TOO_BIG, "frame too large");
			break;
		}
		go = ws_drain(wc);
	}
	free(chunk);
	atomic_store(&wc->closing, true);
	ws_conn_unref(wc);
	return NULL;
}

static void *ws_writer(void *arg)
{
	struct ws_conn *wc = arg;
	int64_t last = mono_ms();
	while (!atomic_load(&wc->closing) && !atomic_load(&wc->close_sent) &&
	       !atomic_load(&wc->h->stopping)) {
		char *text = NULL;
		size_t len = 0;
		int r = wc->hw.next(wc->hw.ctx, &text, &len);
		if (r > 0 && text) {
			ws_send_frame(wc, WS_OP_TEXT, text, len);
			last = mono_ms();
		} else if (r == 0 && mono_ms() - last >= WS_KEEPALIVE_MS) {
			/* keeps proxies from closing an idle feed */
			ws_send_frame(wc, WS_OP_PING, "", 0);
			last = mono_ms();
		} else if (r < 0) {
			ws_send_close(wc, WS_CLOSE_NORMAL, "");
			free(text);
			break;
		}
		free(text);
	}
	ws_conn_unref(wc);
	return NULL;
}

static void ws_upgraded(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra_in,
			size_t extra_in_size, MHD_socket sock,
			struct MHD_UpgradeResponseHandle *urh)
{
	(void)cls, (void)c;
	struct req *rq = con_cls;
	struct ws_conn *wc = rq ? rq->ws : NULL;
	if (!wc) { /* cannot happen: every upgrade response carries one */
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		return;
	}
	rq->ws = NULL;
	wc->sock = sock;
	wc->urh = urh;
	if (extra_in_size) {
		wc->extra = xmalloc(extra_in_size);
		memcpy(wc->extra, extra_in, extra_in_size);
		wc->extra_len = extra_in_size;
	}
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 256 * 1024);
	pthread_t t;
	atomic_init(&wc->refs, 2);
	if (pthread_create(&t, &at, ws_reader, wc) != 0) {
		atomic_store(&wc->refs, 1);
		ws_conn_unref(wc);
	} else if (pthread_create(&t, &at, ws_writer, wc) != 0) {
		atomic_store(&wc->closing, true);
		ws_conn_unref(wc); /* the reader ends and drops the other */
	}
	pthread_attr_destroy(&at);
}

/* The upgrade response, or NULL (ctx freed) with *status and *why set for
 * an invalid request. */
static struct MHD_Response *ws_response(struct http_server *h, struct MHD_Connection *c,
					const char *method, struct req *rq,
					const struct http_websocket *hw, int *status,
					const char **why)
{
	const char *upg = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Upgrade");
	const char *conn = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Connection");
	const char *ver = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Version");
	const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	char accept[WS_ACCEPT_LEN + 1];
	*status = MHD_HTTP_BAD_REQUEST;
	if (strcmp(method, "GET") != 0)
		*why = "a WebSocket handshake is a GET request";
	else if (!upg || !ws_header_has_token(upg, "websocket") || !conn ||
		 !ws_header_has_token(conn, "upgrade")) {
		*status = MHD_HTTP_UPGRADE_REQUIRED;
		*why = "this path speaks WebSocket only: send Upgrade: websocket and "
		       "Connection: Upgrade";
	} else if (!ver || strcmp(ver, "13") != 0) {
		*status = MHD_HTTP_UPGRADE_REQUIRED;
		*why = "unsupported Sec-WebSocket-Version: use 13";
	} else if (!ws_accept_key(key, accept))
		*why = "missing or malformed Sec-WebSocket-Key (base64 of 16 bytes)";
	else
		*why = NULL;
	if (*why) {
		if (hw->free)
			hw->free(hw->ctx);
		return NULL;
	}
	struct ws_conn *wc = xcalloc(1, sizeof(*wc));
	wc->h = h;
	wc->hw = *hw;
	wc->sock = MHD_INVALID_SOCKET;
	pthread_mutex_init(&wc->wlock, NULL);
	ws_parser_init(&wc->parser, true, 0, hw->max_message);
	atomic_init(&wc->refs, 1);
	atomic_fetch_add(&h->ws_active, 1);
	struct MHD_Response *r = MHD_create_response_for_upgrade(ws_upgraded, NULL);
	if (!r) { /* libmicrohttpd without upgrade support */
		ws_conn_unref(wc);
		*status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		*why = "this server cannot upgrade connections (libmicrohttpd without upgrade "
		       "support)";
		return NULL;
	}
	rq->ws = wc;
	MHD_add_response_header(r, "Upgrade", "websocket");
	MHD_add_response_header(r, "Sec-WebSocket-Accept", accept);
	*status = MHD_HTTP_SWITCHING_PROTOCOLS;
	return r;
}

static enum MHD_Result run_route(struct http_server *h, struct MHD_Connection *c,
				 const struct http_route *r, const char *method, const char *url,
				 struct req *rq, const char *principal)
{
	struct http_request hr = {
		.method = method,
		.path = url,
		.query = "",
		.body = buf_str(&rq->body),
		.body_len = rq->body.len,
		.principal = principal,
		.conn = c,
	};
	struct http_response res = {.status = 200, .content_type = "application/json"};
	r->fn(r->data, &hr, &res);
	struct MHD_Response *resp;
	bool sse = false;
	if (res.ws.next) {
		free(res.body);
		if (res.stream.free)
			res.stream.free(res.stream.ctx);
		int status;
		const char *why;
		resp = ws_response(h, c, method, rq, &res.ws, &status, &why);
		if (!resp) {
			char *text = error_text("websocket_required", why);
			resp = MHD_create_response_from_buffer(strlen(text), text,
							       MHD_RESPMEM_MUST_FREE);
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
						"application/json");
			if (status == MHD_HTTP_UPGRADE_REQUIRED)
				MHD_add_response_header(resp, "Sec-WebSocket-Version", "13");
		}
		enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, resp);
		MHD_destroy_response(resp);
		return rc;
	}
	if (res.stream.read) {
		free(res.body);
		struct route_stream *rs = xcalloc(1, sizeof(*rs));
		rs->h = h;
		rs->c = c;
		rs->s = res.stream;
		sse = res.content_type && strcmp(res.content_type, "text/event-stream") == 0;
		rs->last_write = mono_s();
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
							 route_stream_read, rs, route_stream_free);
	} else {
		resp = MHD_create_response_from_buffer(
			res.body_len, res.body ? res.body : (void *)"",
			res.body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	}
	if (res.content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, res.content_type);
	if (sse) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
		MHD_add_response_header(resp, "X-Accel-Buffering", "no"); /* nginx: do not buffer */
	}
	for (size_t i = 0; i < HTTP_RESPONSE_MAX_HEADERS && res.headers[i].name; i++)
		MHD_add_response_header(resp, res.headers[i].name, res.headers[i].value);
	enum MHD_Result rc = MHD_queue_response(c, (unsigned)res.status, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* ---- The access handler -------------------------------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	(void)version;
	struct http_server *h = cls;
	struct req *rq = *con_cls;
	if (!rq) {
		rq = xcalloc(1, sizeof(*rq));
		buf_init(&rq->body, h->opt.max_body);
		*con_cls = rq;
		/* Refuse early what we can judge from the headers alone. */
		if (!origin_checks_pass(h, c)) {
			rq->rejected = true;
			if (h->opt.on_reject)
				h->opt.on_reject(h->opt.on_reject_data, method, url,
						 MHD_HTTP_FORBIDDEN);
			return queue_server_error(h, c, MHD_HTTP_FORBIDDEN, "forbidden",
						  "Forbidden: Host or Origin not allowed (DNS "
						  "rebinding protection); use localhost or add the "
						  "host with --allow-host");
		}
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > h->opt.max_body) {
			rq->rejected = true;
			if (h->opt.on_reject)
				h->opt.on_reject(h->opt.on_reject_data, method, url,
						 MHD_HTTP_CONTENT_TOO_LARGE);
			char msg[160];
			snprintf(msg, sizeof(msg),
				 "Payload Too Large: the body exceeds the server's limit of %zu "
				 "bytes",
				 h->opt.max_body);
			return queue_server_error(h, c, MHD_HTTP_CONTENT_TOO_LARGE,
						  "payload_too_large", msg);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!rq->rejected && !rq->too_big &&
		    buf_append(&rq->body, upload_data, *upload_data_size) != ERR_OK)
			rq->too_big = true;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rq->rejected)
		return MHD_YES; /* already answered */
	if (rq->too_big) {
		if (h->opt.on_reject)
			h->opt.on_reject(h->opt.on_reject_data, method, url,
					 MHD_HTTP_CONTENT_TOO_LARGE);
		char msg[160];
		snprintf(msg, sizeof(msg),
			 "Payload Too Large: the body exceeds the server's limit of %zu bytes",
			 h->opt.max_body);
		return queue_server_error(h, c, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
					  msg);
	}

	char *principal = NULL;
	bool authed = authenticate(h, c, &principal);
	enum MHD_Result rc;
	bool is_mcp =
		h->srv && (strcmp(url, h->endpoint) == 0 || strcmp(url, h->endpoint_slash) == 0);
	char allow[64];
	const struct http_route *route =
		is_mcp ? NULL : find_route(h, method, url, allow, sizeof(allow));
	if (route) {
		rc = run_route(h, c, route, method, url, rq, authed ? principal : NULL);
	} else if (!is_mcp && allow[0]) {
		char msg[160];
		snprintf(msg, sizeof(msg), "Method Not Allowed: %s takes %s", url, allow);
		char *text = error_text("method_not_allowed", msg);
		struct MHD_Response *r =
			MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
		rc = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
		MHD_destroy_response(r);
	} else if (!is_mcp) {
		rc = queue_text(
			c, MHD_HTTP_NOT_FOUND, "application/json",
			h->srv ? "{\"error\":\"not_found\",\"message\":\"No such path; the "
				 "MCP endpoint is the one given with --endpoint (default "
				 "/mcp).\"}"
			       : "{\"error\":\"not_found\",\"message\":\"No such path; GET / "
				 "lists the endpoints.\"}",
			NULL);
	} else if (!authed) {
		rc = queue_unauthorized(c);
	} else if (strcmp(method, "POST") == 0) {
		rc = handle_post(h, c, rq, principal);
	} else if (strcmp(method, "GET") == 0) {
		rc = handle_get(h, c, principal);
	} else if (strcmp(method, "DELETE") == 0) {
		rc = handle_delete(h, c, principal);
	} else {
		struct MHD_Response *r =
			MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, POST, DELETE");
		rc = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
		MHD_destroy_response(r);
	}
	free(principal);
	return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)c, (void)toe;
	struct req *rq = *con_cls;
	if (!rq)
		return;
	if (rq->ws) { /* the upgrade never happened */
		rq->ws->urh = NULL;
		ws_conn_unref(rq->ws);
	}
	buf_cleanup(&rq->body);
	free(rq);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = 0;
	log_debug("http: %s", msg);
}

/* ---- The janitor (with a session directory) ------------------------------------------- */

#define JANITOR_TICK_MS 200      /* responses handed over by other nodes */
#define JANITOR_STREAMS_TICKS 5  /* every second: sessions with an open GET stream */
#define JANITOR_EXPIRE_TICKS 300 /* every minute: idle sessions */

/* Feed the responses other nodes received for requests this session
 * awaits here. */
static void collect_replies(struct http_server *h, struct hsession *hs)
{
	long long ids[32];
	size_t n = mcp_session_pending_ids(hs->ms, ids, 32);
	if (n > 32)
		n = 32; /* the rest next time */
	for (size_t i = 0; i < n; i++) {
		json_t *msg = NULL;
		struct err e = {0};
		int rc = h->dir.take_reply(h->dir.data, hs->id, ids[i], &msg, &e);
		if (rc) {
			if (rc != ERR_NOT_FOUND)
				log_debug("http: session directory: %s", err_msg(&e));
			continue;
		}
		char *text = json_to_text(msg);
		json_decref(msg);
		struct jsonrpc_msg m;
		int code = 0;
		json_t *bad_id = NULL;
		struct err pe = {0};
		if (jsonrpc_parse(text, strlen(text), h->opt.max_body, &m, &code, &bad_id, &pe) ==
		    ERR_OK)
			mcp_session_handle_msg(hs->ms, &m, NULL, NULL);
		json_decref(bad_id);
		free(text);
	}
}

static void janitor_tick(struct http_server *h, bool streams, bool expire)
{
	pthread_mutex_lock(&h->lock);
	struct hsession **list = xcalloc(h->nsessions + 1, sizeof(*list));
	size_t n = 0;
	for (struct hsession *hs = h->sessions; hs && n < h->nsessions; hs = hs->next) {
		atomic_fetch_add(&hs->refs, 1);
		list[n++] = hs;
	}
	pthread_mutex_unlock(&h->lock);
	for (size_t i = 0; i < n && !atomic_load(&h->stopping); i++) {
		struct hsession *hs = list[i];
		if (h->dir.take_reply)
			collect_replies(h, hs);
		if (streams && !atomic_load(&hs->remote_gone) &&
		    stream_has_reader(hs->standalone)) {
			/* Its client listens here: notice a DELETE through
			 * another node (the stream ends) and keep it alive. */
			pthread_mutex_lock(&hs->state_lock);
			session_sync(h, hs);
			pthread_mutex_unlock(&hs->state_lock);
			if (!atomic_load(&hs->remote_gone))
				session_touch(h, hs);
		}
		if (atomic_load(&hs->remote_gone))
			drop_session(h, hs);
	}
	for (size_t i = 0; i < n; i++)
		hsession_unref(list[i]);
	free(list);
	if (expire) {
		struct err e = {0};
		if (h->dir.expire && h->dir.expire(h->dir.data, h->opt.session_idle_s, &e))
			log_debug("http: session directory: %s", err_msg(&e));
		pthread_mutex_lock(&h->lock);
		expire_sessions(h);
		pthread_mutex_unlock(&h->lock);
	}
}

static void *janitor_main(void *arg)
{
	struct http_server *h = arg;
	unsigned long tick = 0;
	pthread_mutex_lock(&h->jlock);
	while (!h->jstop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += JANITOR_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&h->jcond, &h->jlock, &ts);
		if (h->jstop)
			break;
		pthread_mutex_unlock(&h->jlock);
		tick++;
		janitor_tick(h, tick % JANITOR_STREAMS_TICKS == 0,
			     tick % JANITOR_EXPIRE_TICKS == 0);
		pthread_mutex_lock(&h->jlock);
	}
	pthread_mutex_unlock(&h->jlock);
	return NULL;
}

/* ---- Start and stop --------------------------------------------------------------------- */

int http_server_start(struct mcp_server *srv, const struct http_server_options *opt,
		      struct http_server **out, struct err *e)
{
	struct http_server *h = xcalloc(1, sizeof(*h));
	h->srv = srv;
	h->opt = *opt;
	if (!h->opt.host)
		h->opt.host = "127.0.0.1";
	if (!h->opt.endpoint)
		h->opt.endpoint = "/mcp";
	if (!h->opt.max_body)
		h->opt.max_body = JSONRPC_MAX_MESSAGE;
	if (h->opt.session_idle_s <= 0)
		h->opt.session_idle_s = 3600;
	if (h->opt.sse_retry_ms <= 0)
		h->opt.sse_retry_ms = 1000;
	h->endpoint = xstrdup(h->opt.endpoint);
	h->endpoint_slash = xasprintf("%s/", h->opt.endpoint);
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->jlock, NULL);
	pthread_condattr_t jca;
	pthread_condattr_init(&jca);
	pthread_condattr_setclock(&jca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->jcond, &jca);
	pthread_condattr_destroy(&jca);
	const struct http_session_dir *sd = opt->session_dir;
	if (srv && sd && !opt->stateless) {
		if (!sd->save || !sd->load || !sd->remove) {
			err_set(e, ERR_INVALID,
				"a session directory needs save, load and remove functions");
			goto fail;
		}
		h->dir = *sd;
		unsigned char tag[4];
		random_bytes(tag, sizeof(tag));
		snprintf(h->id_prefix, sizeof(h->id_prefix), "%02x%02x%02x%02x_", tag[0], tag[1],
			 tag[2], tag[3]);
		h->touch_s = h->opt.session_idle_s / 4;
		if (h->touch_s > 60)
			h->touch_s = 60;
		if (h->touch_s < 1)
			h->touch_s = 1;
	}

	struct addrinfo hints = {
		.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *ai = NULL;
	char port[16];
	snprintf(port, sizeof(port), "%d", opt->port);
	int gai = getaddrinfo(h->opt.host, port, &hints, &ai);
	if (gai != 0) {
		err_set(e, ERR_INVALID, "cannot listen on %s:%d: %s", h->opt.host, opt->port,
			gai_strerror(gai));
		goto fail;
	}
	if (ai->ai_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ai->ai_addr;
		h->loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	} else if (ai->ai_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ai->ai_addr;
		h->loopback =
			memcmp(&sin6->sin6_addr, &in6addr_loopback, sizeof(struct in6_addr)) == 0;
	}
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_POLL | MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_ALLOW_UPGRADE;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->pool = workpool_new(2, 256);
	h->d = MHD_start_daemon(flags, (uint16_t)opt->port, NULL, NULL, on_request, h,
				MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED,
				on_completed, h, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
				MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024),
				MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!h->d) {
		err_set(e, ERR_IO,
			"cannot listen on %s:%d (%s); is the port in use? choose another with "
			"--listen HOST:PORT",
			h->opt.host, opt->port, strerror(errno));
		goto fail;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_LISTEN_FD);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (info && getsockname(info->listen_fd, (struct sockaddr *)&ss, &sl) == 0)
		h->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							 : ((struct sockaddr_in *)&ss)->sin_port);
	if (have_dir(h)) {
		int prc = pthread_create(&h->janitor, NULL, janitor_main, h);
		if (prc) {
			log_warn("http: cannot start the session janitor (%s): deleted sessions "
				 "and answers handed over by other nodes are noticed late",
				 strerror(prc));
		} else {
			h->janitor_running = true;
		}
	}
	*out = h;
	return ERR_OK;
fail:
	if (h->d)
		MHD_stop_daemon(h->d);
	workpool_free(h->pool);
	free(h->endpoint);
	free(h->endpoint_slash);
	pthread_mutex_destroy(&h->lock);
	pthread_mutex_destroy(&h->jlock);
	pthread_cond_destroy(&h->jcond);
	free(h);
	*out = NULL;
	return e ? e->code : ERR_IO;
}

int http_server_port(const struct http_server *h)
{
	return h->port;
}

void http_server_free(struct http_server *h)
{
	if (!h)
		return;
	atomic_store(&h->stopping, true);
	if (h->janitor_running) {
		pthread_mutex_lock(&h->jlock);
		h->jstop = true;
		pthread_cond_broadcast(&h->jcond);
		pthread_mutex_unlock(&h->jlock);
		pthread_join(h->janitor, NULL);
	}
	/* Wake every SSE reader so connection threads can finish. */
	pthread_mutex_lock(&h->lock);
	for (struct hsession *hs = h->sessions; hs; hs = hs->next) {
		mcp_session_close(hs->ms);
		stream_kill(hs->standalone);
		for (struct stream *st = hs->streams; st; st = st->next)
			stream_kill(st);
	}
	pthread_mutex_unlock(&h->lock);
	/* WebSocket threads see `stopping` within a poll interval, or when the
	 * route's next() returns (about a second), send 1001 and close. */
	for (int i = 0; i < 1000 && atomic_load(&h->ws_active) > 0; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (atomic_load(&h->ws_active) > 0)
		log_warn("http: %d WebSocket connection(s) did not end within 10 s",
			 atomic_load(&h->ws_active));
	MHD_stop_daemon(h->d);
	workpool_free(h->pool); /* finishes tools still running */
	pthread_mutex_lock(&h->lock);
	while (h->sessions) {
		struct hsession *hs = h->sessions;
		unlink_session(h, hs);
		hsession_unref(hs);
	}
	pthread_mutex_unlock(&h->lock);
	pthread_mutex_destroy(&h->lock);
	pthread_mutex_destroy(&h->jlock);
	pthread_cond_destroy(&h->jcond);
	free(h->endpoint);
	free(h->endpoint_slash);
	free(h);
}
