/*
 * client.c - the MCP client: handshake, request/response matching, dispatch
 * of server notifications and server->client requests.
 *
 * One mutex (c->mu) guards the client's state; one condition variable
 * (c->cond, monotonic clock) is broadcast whenever anything a waiter may be
 * waiting for happens: a response arrived, a notification was dispatched, a
 * worker ended, the client closed.  There are few waiters, so one variable
 * keeps the code simple.
 *
 * Threads:
 *  - callers of mcp_client_request* (wait for their response);
 *  - transport threads (deliver messages through on_message; never block);
 *  - one dispatch thread that hands notifications to the application in
 *    arrival order (each queued item has a sequence number; a response
 *    remembers how many items had been queued before it, and its waiter
 *    returns only once those were dispatched);
 *  - one short-lived worker thread per server->client request.
 */
#include "client.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"

#ifndef AMBIENT_VERSION
#define AMBIENT_VERSION "0"
#endif

#define DEFAULT_REQUEST_TIMEOUT_MS 60000
#define DEFAULT_CONNECT_TIMEOUT_MS 30000
#define DEFAULT_MAX_SERVER_REQUESTS 16
#define MAX_LIST_PAGES 10000

static const char *const supported_versions[] = {
	"2025-11-25",
	"2025-06-18",
	"2025-03-26",
	"2024-11-05",
};

/* A request of ours waiting for its response. */
struct pending {
	struct pending *next;
	json_t *id;
	struct mcp_send_ctl ctl;
	bool done;
	int err_code;   /* ERR_OK, or ERR_IO when the client closed */
	json_t *root;   /* the response message, moved here whole so that
			 * only the waiter's thread touches its refcounts */
	json_t *result; /* on success: borrowed from root */
	bool is_error;  /* JSON-RPC error response */
	struct mcp_rpc_error rpc;
	uint64_t barrier; /* queued notifications to dispatch before returning */
	int timeout_ms;
	mcp_client_progress_fn on_progress;
	void *progress_data;
	bool progress_resets;
};

/* A notification waiting for the dispatch thread. */
struct qitem {
	struct qitem *next;
	struct jsonrpc_msg msg;
	mcp_client_progress_fn on_progress; /* set: a progress for one request */
	void *progress_data;
};

/* A server->client request being answered by a worker. */
struct incoming {
	struct incoming *next;
	struct mcp_client *c;
	struct jsonrpc_msg msg;
	bool cancelled;
};

struct mcp_client {
	struct mcp_client_transport *t;
	struct mcp_client_options opt; /* strings below are owned copies */
	char *name, *title, *version, *protocol_version;

	pthread_mutex_t mu;
	pthread_cond_t cond;
	pthread_mutex_t reinit_mu; /* serializes handshakes */
	unsigned session_gen;      /* bumped by every successful handshake */

	bool started;   /* transport started */
	bool connected; /* handshake done */
	bool closing;   /* mcp_client_close began */
	bool closed;    /* transport closed */
	bool peer_gone; /* transport reported on_closed */
	int users;      /* API calls in progress */

	atomic_llong next_id;
	struct pending *pending;
	struct incoming *incoming;
	int nworkers;

	struct qitem *qhead, *qtail;
	uint64_t enq_seq;  /* items queued so far */
	uint64_t disp_seq; /* items dispatched so far */
	pthread_t dispatch_tid;
	bool dispatch_running;

	/* After the handshake (immutable until the next one, which is rare;
	 * the strings are kept alive until free). */
	char *server_version;
	json_t *server_info;
	json_t *server_caps;
	char *instructions;
	json_t *old_results; /* results of replaced handshakes, kept for borrowers */

	json_t *roots; /* array */
};

/* ---- Small helpers ----------------------------------------------------- */

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
	/* The condition variable uses CLOCK_MONOTONIC, like clock_mono_us(). */
	ts.tv_sec = deadline_us / 1000000;
	ts.tv_nsec = (deadline_us % 1000000) * 1000;
	pthread_cond_timedwait(cv, mu, &ts);
}

void mcp_rpc_error_cleanup(struct mcp_rpc_error *re)
{
	if (!re)
		return;
	json_decref(re->data);
	re->data = NULL;
}

static void rpc_error_set(struct mcp_rpc_error *re, int code, const char *msg, const json_t *data)
{
	re->code = code;
	snprintf(re->message, sizeof re->message, "%s", msg ? msg : "");
	json_decref(re->data);
	re->data = data ? json_deep_copy(data) : NULL;
}

void mcp_client_transport_free(struct mcp_client_transport *t)
{
	if (!t)
		return;
	if (t->ops->close)
		t->ops->close(t->self);
	if (t->ops->free)
		t->ops->free(t->self);
	free(t);
}

static bool version_supported(const char *v)
{
	for (size_t i = 0; i < sizeof supported_versions / sizeof *supported_versions; i++)
		if (!strcmp(v, supported_versions[i]))
			return true;
	return false;
}

static void transport_wake(struct mcp_client *c)
{
	if (c->t->ops->wake)
		c->t->ops->wake(c->t->self);
}

/* Enter / leave a public call: mcp_client_free waits for users to leave. */
static void enter(struct mcp_client *c)
{
	pthread_mutex_lock(&c->mu);
	c->users++;
	pthread_mutex_unlock(&c->mu);
}

static void leave(struct mcp_client *c)
{
	pthread_mutex_lock(&c->mu);
	c->users--;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
}

/* ---- Dispatch thread --------------------------------------------------- */

/* Queue a notification (moved from *m).  Caller holds c->mu. */
static void enqueue_locked(struct mcp_client *c, struct jsonrpc_msg *m, mcp_client_progress_fn pfn,
			   void *pdata)
{
	struct qitem *q = xcalloc(1, sizeof *q);

	q->msg = *m;
	memset(m, 0, sizeof *m);
	q->on_progress = pfn;
	q->progress_data = pdata;
	if (c->qtail)
		c->qtail->next = q;
	else
		c->qhead = q;
	c->qtail = q;
	c->enq_seq++;
	pthread_cond_broadcast(&c->cond);
}

static void dispatch_one(struct mcp_client *c, struct qitem *q)
{
	const json_t *p = q->msg.params;

	if (q->on_progress) {
		json_t *total = json_object_get(p, "total");
		q->on_progress(q->progress_data, json_number_value(json_object_get(p, "progress")),
			       json_is_number(total) ? json_number_value(total) : -1,
			       json_get_str(p, "message"));
		return;
	}
	if (c->opt.on_notification)
		c->opt.on_notification(c->opt.data, c, q->msg.method, p);
}

static void *dispatch_main(void *arg)
{
	struct mcp_client *c = arg;
	struct qitem *q;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->qhead && !c->closing)
			pthread_cond_wait(&c->cond, &c->mu);
		if (!c->qhead)
			break; /* closing and drained */
		q = c->qhead;
		c->qhead = q->next;
		if (!c->qhead)
			c->qtail = NULL;
		pthread_mutex_unlock(&c->mu);

		dispatch_one(c, q);
		jsonrpc_msg_cleanup(&q->msg);
		free(q);

		pthread_mutex_lock(&c->mu);
		c->disp_seq++;
		pthread_cond_broadcast(&c->cond);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* Wait until the notifications queued before `barrier` were dispatched.
 * Skipped on the dispatch thread itself (it would wait for itself).  Caller
 * holds c->mu. */
static void wait_dispatched_locked(struct mcp_client *c, uint64_t barrier)
{
	if (c->dispatch_running && pthread_equal(pthread_self(), c->dispatch_tid))
		return;
	while (c->disp_seq < barrier && c->dispatch_running)
		pthread_cond_wait(&c->cond, &c->mu);
}

/* ---- Sending ----------------------------------------------------------- */

static int send_text(struct mcp_client *c, const char *text, struct mcp_send_ctl *ctl,
		     struct err *e)
{
	struct mcp_send_ctl local = {0};

	if (!ctl)
		ctl = &local;
	log_trace("mcp client -> %s", text);
	return c->t->ops->send(c->t->self, text, strlen(text), ctl, e);
}

int mcp_client_notify(struct mcp_client *c, const char *method, const json_t *params, struct err *e)
{
	char *text;
	int rc;

	enter(c);
	if (c->closing || c->peer_gone) {
		leave(c);
		return err_set(e, ERR_IO, "%s: the MCP connection is closed", method);
	}
	text = jsonrpc_notification_text(method, params);
	rc = send_text(c, text, NULL, e);
	free(text);
	leave(c);
	return rc;
}

/* Answer a server request (id borrowed) with a result or an error. */
static void send_response(struct mcp_client *c, const json_t *id, int rc, json_t *result,
			  struct mcp_rpc_error *re, struct err *e)
{
	struct err se = {0};
	char *text;

	if (!rc) {
		text = jsonrpc_result_text(id, result) /* NULL encodes as {} */;
	} else {
		int code = re->code ? re->code : jsonrpc_code_for_err(rc);
		const char *msg = re->message[0] ? re->message : err_msg(e);
		text = jsonrpc_error_text(id, code, msg, re->data);
	}
	if (send_text(c, text, NULL, &se))
		log_warn("mcp client: could not answer the server: %s", err_msg(&se));
	free(text);
}

/* ---- Server->client requests ----------------------------------------- */

int mcp_client_default_request(struct mcp_client *c, const char *method, const json_t *params,
			       json_t **result, struct mcp_rpc_error *re, struct err *e)
{
	(void)params;
	if (!strcmp(method, "ping")) {
		*result = json_object();
		return 0;
	}
	if (!strcmp(method, "roots/list") && c->opt.roots) {
		pthread_mutex_lock(&c->mu);
		/* A copy: jansson refcounts must not be shared across threads. */
		*result = json_pack("{s:o}", "roots", json_deep_copy(c->roots));
		pthread_mutex_unlock(&c->mu);
		return 0;
	}
	re->code = JSONRPC_METHOD_NOT_FOUND;
	return err_set(e, ERR_NOT_FOUND, "method not found: %s", method);
}

static void *worker_main(void *arg)
{
	struct incoming *in = arg;
	struct mcp_client *c = in->c;
	struct mcp_rpc_error re = {0};
	struct err e = {0};
	json_t *result = NULL;
	bool cancelled;
	int rc;

	if (c->opt.on_request)
		rc = c->opt.on_request(c->opt.data, c, in->msg.method, in->msg.params, &result, &re,
				       &e);
	else
		rc = mcp_client_default_request(c, in->msg.method, in->msg.params, &result, &re,
						&e);

	pthread_mutex_lock(&c->mu);
	cancelled = in->cancelled || c->closing || c->peer_gone;
	pthread_mutex_unlock(&c->mu);
	if (!cancelled)
		send_response(c, in->msg.id, rc, result, &re, &e);
	else
		log_debug("mcp client: not answering cancelled %s", in->msg.method);
	json_decref(result);
	mcp_rpc_error_cleanup(&re);

	pthread_mutex_lock(&c->mu);
	for (struct incoming **pp = &c->incoming; *pp; pp = &(*pp)->next) {
		if (*pp == in) {
			*pp = in->next;
			break;
		}
	}
	c->nworkers--;
	jsonrpc_msg_cleanup(&in->msg);
	free(in);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* A request from the server (moved from *m): start a worker.  Caller does
 * not hold c->mu. */
static void start_worker(struct mcp_client *c, struct jsonrpc_msg *m)
{
	struct incoming *in;
	pthread_attr_t attr;
	pthread_t tid;
	int max = c->opt.max_server_requests;
	char *text;

	pthread_mutex_lock(&c->mu);
	if (c->closing) {
		pthread_mutex_unlock(&c->mu);
		jsonrpc_msg_cleanup(m);
		return;
	}
	if (c->nworkers >= max) {
		pthread_mutex_unlock(&c->mu);
		log_warn("mcp client: refusing %s: %d server requests already running", m->method,
			 max);
		text = jsonrpc_error_text(m->id, JSONRPC_INTERNAL_ERROR,
					  "too many concurrent requests to this client", NULL);
		send_text(c, text, NULL, NULL);
		free(text);
		jsonrpc_msg_cleanup(m);
		return;
	}
	in = xcalloc(1, sizeof *in);
	in->c = c;
	in->msg = *m;
	memset(m, 0, sizeof *m);
	in->next = c->incoming;
	c->incoming = in;
	c->nworkers++;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&tid, &attr, worker_main, in)) {
		c->incoming = in->next;
		c->nworkers--;
		pthread_mutex_unlock(&c->mu);
		log_error("mcp client: cannot start a thread for %s", in->msg.method);
		text = jsonrpc_error_text(in->msg.id, JSONRPC_INTERNAL_ERROR,
					  "client cannot start a thread", NULL);
		send_text(c, text, NULL, NULL);
		free(text);
		jsonrpc_msg_cleanup(&in->msg);
		free(in);
	} else {
		pthread_mutex_unlock(&c->mu);
	}
	pthread_attr_destroy(&attr);
}

/* ---- Incoming messages ------------------------------------------------- */

static struct pending *find_pending_locked(struct mcp_client *c, const json_t *id)
{
	for (struct pending *p = c->pending; p; p = p->next)
		if (jsonrpc_id_equal(p->id, id))
			return p;
	return NULL;
}

static void on_response(struct mcp_client *c, struct jsonrpc_msg *m)
{
	struct pending *p;

	pthread_mutex_lock(&c->mu);
	p = m->id ? find_pending_locked(c, m->id) : NULL;
	if (!p || p->done) {
		pthread_mutex_unlock(&c->mu);
		if (m->kind == JSONRPC_ERROR && (!m->id || json_is_null(m->id)))
			log_warn("mcp client: server reported an error: %s (JSON-RPC %d)",
				 m->error_message ? m->error_message : "", m->error_code);
		else
			log_debug("mcp client: response to an unknown or finished request");
		return;
	}
	if (m->kind == JSONRPC_RESULT) {
		p->result = m->result;
		p->root = m->root;
		memset(m, 0, sizeof *m);
	} else {
		p->is_error = true;
		rpc_error_set(&p->rpc, m->error_code, m->error_message, m->error_data);
	}
	p->done = true;
	p->barrier = c->enq_seq;
	atomic_store(&p->ctl.done, true);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
	transport_wake(c);
}

static void on_notification(struct mcp_client *c, struct jsonrpc_msg *m)
{
	const json_t *p = m->params;

	pthread_mutex_lock(&c->mu);
	if (!strcmp(m->method, "notifications/cancelled")) {
		const json_t *rid = json_object_get(p, "requestId");
		for (struct incoming *in = c->incoming; in; in = in->next)
			if (rid && jsonrpc_id_equal(in->msg.id, rid))
				in->cancelled = true;
	} else if (!strcmp(m->method, "notifications/progress")) {
		const json_t *tok = json_object_get(p, "progressToken");
		struct pending *q = tok ? find_pending_locked(c, tok) : NULL;
		if (q && q->on_progress && !q->done) {
			if (q->progress_resets && q->timeout_ms > 0)
				atomic_store(&q->ctl.deadline_us,
					     now_us() + (int64_t)q->timeout_ms * 1000);
			enqueue_locked(c, m, q->on_progress, q->progress_data);
			pthread_mutex_unlock(&c->mu);
			return;
		}
	}
	if (!c->closing)
		enqueue_locked(c, m, NULL, NULL);
	pthread_mutex_unlock(&c->mu);
	jsonrpc_msg_cleanup(m);
}

static void ev_message(void *ctx, const char *text, size_t len)
{
	struct mcp_client *c = ctx;
	struct jsonrpc_msg m;
	struct err e = {0};
	json_t *bad_id = NULL;
	int code;

	log_trace("mcp client <- %.*s", (int)(len > 2000 ? 2000 : len), text);
	if (jsonrpc_parse(text, len, c->opt.max_message, &m, &code, &bad_id, &e)) {
		log_warn("mcp client: ignoring a malformed message from the server: %s",
			 err_msg(&e));
		json_decref(bad_id);
		(void)code;
		return;
	}
	switch (m.kind) {
	case JSONRPC_RESULT:
	case JSONRPC_ERROR:
		on_response(c, &m);
		break;
	case JSONRPC_NOTIFICATION:
		on_notification(c, &m);
		break;
	case JSONRPC_REQUEST:
		start_worker(c, &m);
		break;
	}
	jsonrpc_msg_cleanup(&m);
}

static void ev_closed(void *ctx, int code, const char *why)
{
	struct mcp_client *c = ctx;
	bool first;

	pthread_mutex_lock(&c->mu);
	first = !c->peer_gone;
	c->peer_gone = true;
	for (struct pending *p = c->pending; p; p = p->next) {
		if (!p->done) {
			p->done = true;
			p->err_code = ERR_IO;
			p->barrier = c->enq_seq;
			atomic_store(&p->ctl.done, true);
		}
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
	if (!first)
		return;
	log_info("mcp client: connection closed: %s (%s)", why ? why : "", err_str(code));
	if (c->opt.on_closed)
		c->opt.on_closed(c->opt.data, c, why ? why : err_str(code));
}

/* ---- Requests ---------------------------------------------------------- */

static void pending_remove_locked(struct mcp_client *c, struct pending *p)
{
	for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			return;
		}
	}
}

/*
 * One attempt: send and wait.  Returns 0 with *result, or an error; *sent
 * tells whether the transport accepted the message (for the retry after a
 * re-initialize).  `allow_unconnected`: the handshake itself.
 */
static int request_once(struct mcp_client *c, const char *method, const json_t *params,
			const struct mcp_request_opts *o, bool is_init, json_t **result,
			struct mcp_rpc_error *re, struct err *e)
{
	struct pending *p = xcalloc(1, sizeof *p);
	json_t *id, *sendp = NULL;
	int timeout_ms = o && o->timeout_ms ? o->timeout_ms : c->opt.request_timeout_ms;
	int64_t start = now_us();
	char *text;
	int rc = 0, src;
	struct err se = {0};

	id = json_integer(atomic_fetch_add(&c->next_id, 1));
	p->id = id;
	p->ctl.id = id;
	p->ctl.is_initialize = is_init;
	p->timeout_ms = timeout_ms;
	atomic_store(&p->ctl.deadline_us, timeout_ms > 0 ? start + (int64_t)timeout_ms * 1000 : 0);
	if (o && o->on_progress) {
		p->on_progress = o->on_progress;
		p->progress_data = o->progress_data;
		p->progress_resets = o->progress_resets_timeout;
		sendp = params ? json_deep_copy(params) : json_object();
		if (!json_is_object(sendp)) {
			json_decref(sendp);
			json_decref(id);
			free(p);
			return err_set(e, ERR_INVALID, "%s: params must be an object", method);
		}
		json_t *meta = json_object_get(sendp, "_meta");
		if (!json_is_object(meta)) {
			meta = json_object();
			json_object_set_new(sendp, "_meta", meta);
		}
		json_object_set(meta, "progressToken", id);
		params = sendp;
	}

	pthread_mutex_lock(&c->mu);
	if (c->closing || c->peer_gone) {
		pthread_mutex_unlock(&c->mu);
		json_decref(sendp);
		json_decref(id);
		free(p);
		return err_set(e, ERR_IO, "%s: the MCP connection is closed", method);
	}
	p->next = c->pending;
	c->pending = p;
	pthread_mutex_unlock(&c->mu);

	text = jsonrpc_request_text(id, method, params);
	json_decref(sendp);
	src = send_text(c, text, &p->ctl, &se);
	free(text);

	pthread_mutex_lock(&c->mu);
	if (src && !p->done) {
		rc = src;
		err_set(e, src, "%s: %s", method, err_msg(&se));
		p->barrier = c->enq_seq;
	} else {
		for (;;) {
			int64_t dl = atomic_load(&p->ctl.deadline_us);
			if (p->done || c->closing)
				break;
			if (dl && now_us() >= dl)
				break;
			cond_wait_until(&c->cond, &c->mu, dl);
		}
		if (p->done && p->err_code) {
			rc = err_set(e, p->err_code,
				     "%s: the MCP connection closed before the "
				     "response arrived",
				     method);
		} else if (p->done && p->is_error) {
			rc = err_set(e, ERR_INVALID, "%s: %s (JSON-RPC %d)", method, p->rpc.message,
				     p->rpc.code);
			if (re) {
				mcp_rpc_error_cleanup(re);
				*re = p->rpc;
				p->rpc.data = NULL;
			}
		} else if (p->done) {
			*result = json_incref(p->result);
		} else if (c->closing) {
			rc = err_set(e, ERR_IO, "%s: the MCP client was closed", method);
			p->barrier = c->enq_seq;
		} else {
			rc = err_set(e, ERR_TIMEOUT,
				     "%s: no response from the MCP server within %d ms; raise the "
				     "timeout or check the server",
				     method, timeout_ms);
			p->barrier = c->enq_seq;
		}
	}
	pending_remove_locked(c, p);
	atomic_store(&p->ctl.done, true);
	wait_dispatched_locked(c, p->barrier);
	pthread_mutex_unlock(&c->mu);

	if (rc == ERR_TIMEOUT && !is_init) {
		json_t *cp = json_pack("{s:O,s:s}", "requestId", id, "reason", "request timed out");
		text = jsonrpc_notification_text("notifications/cancelled", cp);
		send_text(c, text, NULL, NULL);
		free(text);
		json_decref(cp);
	}
	json_decref(p->root);
	mcp_rpc_error_cleanup(&p->rpc);
	json_decref(id);
	free(p);
	return rc;
}

static int handshake(struct mcp_client *c, struct err *e);

int mcp_client_request_ex(struct mcp_client *c, const char *method, const json_t *params,
			  const struct mcp_request_opts *o, json_t **result,
			  struct mcp_rpc_error *re, struct err *e)
{
	struct err le = {0};
	unsigned gen;
	int rc;

	*result = NULL;
	if (re)
		memset(re, 0, sizeof *re);
	if (!e)
		e = &le;
	if (params && !json_is_object(params))
		return err_set(e, ERR_INVALID, "%s: params must be an object", method);
	enter(c);
	pthread_mutex_lock(&c->mu);
	gen = c->session_gen;
	if (!c->connected) {
		pthread_mutex_unlock(&c->mu);
		leave(c);
		return err_set(e, ERR_STATE,
			       "%s: the MCP client is not connected; call "
			       "mcp_client_connect first",
			       method);
	}
	pthread_mutex_unlock(&c->mu);

	rc = request_once(c, method, params, o, false, result, re, e);
	if (rc == ERR_STATE && c->opt.reinitialize_on_expiry) {
		/* The HTTP session expired: initialize again (once for all the
		 * threads that noticed) and retry. */
		struct err he = {0};
		pthread_mutex_lock(&c->reinit_mu);
		if (c->session_gen == gen) {
			log_info("mcp client: %s; initializing a new session", err_msg(e));
			if (c->t->ops->reset_session)
				c->t->ops->reset_session(c->t->self);
			rc = handshake(c, &he);
		} else {
			rc = 0;
		}
		pthread_mutex_unlock(&c->reinit_mu);
		if (rc)
			err_set(e, rc, "%s: session expired and re-initializing failed: %s", method,
				err_msg(&he));
		else
			rc = request_once(c, method, params, o, false, result, re, e);
	}
	leave(c);
	return rc;
}

int mcp_client_request(struct mcp_client *c, const char *method, const json_t *params,
		       int timeout_ms, json_t **result, struct err *e)
{
	struct mcp_request_opts o = {.timeout_ms = timeout_ms};

	return mcp_client_request_ex(c, method, params, &o, result, NULL, e);
}

/* ---- Lifecycle --------------------------------------------------------- */

struct mcp_client *mcp_client_new(struct mcp_client_transport *t,
				  const struct mcp_client_options *opt)
{
	struct mcp_client *c = xcalloc(1, sizeof *c);
	pthread_condattr_t ca;

	c->t = t;
	if (opt)
		c->opt = *opt;
	c->name = xstrdup(c->opt.name ? c->opt.name : "ambient");
	c->title = c->opt.title ? xstrdup(c->opt.title) : NULL;
	c->version = xstrdup(c->opt.version ? c->opt.version : AMBIENT_VERSION);
	c->protocol_version = xstrdup(c->opt.protocol_version ? c->opt.protocol_version
							      : MCP_CLIENT_PROTOCOL_LATEST);
	c->opt.name = c->name;
	c->opt.title = c->title;
	c->opt.version = c->version;
	c->opt.protocol_version = c->protocol_version;
	if (!c->opt.request_timeout_ms)
		c->opt.request_timeout_ms = DEFAULT_REQUEST_TIMEOUT_MS;
	if (!c->opt.connect_timeout_ms)
		c->opt.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	if (!c->opt.max_message)
		c->opt.max_message = JSONRPC_MAX_MESSAGE;
	if (c->opt.max_server_requests <= 0)
		c->opt.max_server_requests = DEFAULT_MAX_SERVER_REQUESTS;
	atomic_init(&c->next_id, 1);
	c->roots = json_array();
	c->old_results = json_array();

	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->reinit_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&c->dispatch_tid, NULL, dispatch_main, c) == 0)
		c->dispatch_running = true;
	else
		log_error("mcp client: cannot start the dispatch thread");
	return c;
}

static json_t *capabilities_json(const struct mcp_client *c)
{
	json_t *caps = json_object();

	if (c->opt.elicitation)
		json_object_set_new(caps, "elicitation", json_pack("{s:{}}", "form"));
	if (c->opt.sampling)
		json_object_set_new(caps, "sampling", json_object());
	if (c->opt.roots)
		json_object_set_new(caps, "roots", json_pack("{s:b}", "listChanged", 1));
	return caps;
}

/* initialize + notifications/initialized.  Caller holds reinit_mu (or is
 * the first connect). */
static int handshake(struct mcp_client *c, struct err *e)
{
	struct mcp_request_opts o = {.timeout_ms = c->opt.connect_timeout_ms};
	json_t *params, *info, *result = NULL;
	const char *v;
	int rc;

	info = json_pack("{s:s,s:s}", "name", c->name, "version", c->version);
	if (c->title)
		json_object_set_new(info, "title", json_string(c->title));
	params = json_pack("{s:s,s:o,s:o}", "protocolVersion", c->protocol_version, "capabilities",
			   capabilities_json(c), "clientInfo", info);
	rc = request_once(c, "initialize", params, &o, true, &result, NULL, e);
	json_decref(params);
	if (rc)
		return rc;

	v = json_get_str(result, "protocolVersion");
	if (!v || !version_supported(v)) {
		rc = err_set(e, ERR_VERSION,
			     "the MCP server answered protocol version %s%s%s, which this client "
			     "does not speak (it speaks 2025-11-25, 2025-06-18, 2025-03-26 and "
			     "2024-11-05)",
			     v ? "\"" : "", v ? v : "(none)", v ? "\"" : "");
		json_decref(result);
		return rc;
	}
	if (!json_is_object(json_object_get(result, "capabilities")) ||
	    !json_is_object(json_object_get(result, "serverInfo")))
		log_warn("mcp client: the server's initialize result lacks %s",
			 json_is_object(json_object_get(result, "capabilities")) ? "serverInfo"
										 : "capabilities");

	pthread_mutex_lock(&c->mu);
	/* Keep the previous handshake's values alive for borrowers. */
	if (c->server_info) {
		json_array_append_new(c->old_results,
				      json_pack("{s:o,s:o,s:s,s:s?}", "info", c->server_info,
						"caps", c->server_caps, "v", c->server_version, "i",
						c->instructions));
		free(c->server_version);
		free(c->instructions);
	}
	c->server_version = xstrdup(v);
	c->server_info = json_object_get(result, "serverInfo");
	c->server_info = c->server_info ? json_incref(c->server_info) : json_object();
	c->server_caps = json_object_get(result, "capabilities");
	c->server_caps = c->server_caps ? json_incref(c->server_caps) : json_object();
	c->instructions = json_get_str(result, "instructions")
				  ? xstrdup(json_get_str(result, "instructions"))
				  : NULL;
	pthread_mutex_unlock(&c->mu);
	json_decref(result);

	if (c->t->ops->set_protocol_version)
		c->t->ops->set_protocol_version(c->t->self, c->server_version);
	{
		char *text = jsonrpc_notification_text("notifications/initialized", NULL);
		rc = send_text(c, text, NULL, e);
		free(text);
		if (rc) {
			err_prefix(e, "notifications/initialized");
			return rc;
		}
	}
	if (c->t->ops->ready)
		c->t->ops->ready(c->t->self);

	pthread_mutex_lock(&c->mu);
	c->connected = true;
	c->session_gen++;
	pthread_mutex_unlock(&c->mu);
	log_debug("mcp client: connected to %s %s over %s (protocol %s)",
		  json_get_str(c->server_info, "name") ? json_get_str(c->server_info, "name") : "?",
		  json_get_str(c->server_info, "version") ? json_get_str(c->server_info, "version")
							  : "?",
		  c->t->ops->name, c->server_version);
	return 0;
}

int mcp_client_connect(struct mcp_client *c, struct err *e)
{
	struct mcp_transport_events ev = {
		.on_message = ev_message, .on_closed = ev_closed, .ctx = c};
	struct err le = {0};
	int rc;

	if (!e)
		e = &le;
	enter(c);
	pthread_mutex_lock(&c->mu);
	if (c->started || c->closing) {
		pthread_mutex_unlock(&c->mu);
		leave(c);
		return err_set(e, ERR_STATE, "mcp_client_connect: already %s",
			       c->closing ? "closed" : "connected");
	}
	c->started = true;
	pthread_mutex_unlock(&c->mu);

	rc = c->t->ops->start(c->t->self, &ev, e);
	if (!rc) {
		pthread_mutex_lock(&c->reinit_mu);
		rc = handshake(c, e);
		pthread_mutex_unlock(&c->reinit_mu);
	}
	leave(c);
	return rc;
}

void mcp_client_close(struct mcp_client *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	if (c->closing) {
		pthread_mutex_unlock(&c->mu);
		return;
	}
	c->closing = true;
	for (struct pending *p = c->pending; p; p = p->next)
		atomic_store(&p->ctl.done, true);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);

	transport_wake(c);
	/* Stop the transport: no more messages arrive after this. */
	if (c->t->ops->close)
		c->t->ops->close(c->t->self);

	pthread_mutex_lock(&c->mu);
	c->closed = true;
	c->connected = false;
	/* Workers may still be inside the application's handler. */
	while (c->nworkers > 0)
		pthread_cond_wait(&c->cond, &c->mu);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);

	if (c->dispatch_running) {
		pthread_join(c->dispatch_tid, NULL);
		pthread_mutex_lock(&c->mu);
		c->dispatch_running = false;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->mu);
	}
}

void mcp_client_free(struct mcp_client *c)
{
	struct qitem *q;

	if (!c)
		return;
	mcp_client_close(c);
	pthread_mutex_lock(&c->mu);
	while (c->users > 0)
		pthread_cond_wait(&c->cond, &c->mu);
	pthread_mutex_unlock(&c->mu);

	if (c->t->ops->free)
		c->t->ops->free(c->t->self);
	free(c->t);
	while ((q = c->qhead)) {
		c->qhead = q->next;
		jsonrpc_msg_cleanup(&q->msg);
		free(q);
	}
	json_decref(c->server_info);
	json_decref(c->server_caps);
	json_decref(c->old_results);
	json_decref(c->roots);
	free(c->server_version);
	free(c->instructions);
	free(c->name);
	free(c->title);
	free(c->version);
	free(c->protocol_version);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->reinit_mu);
	pthread_cond_destroy(&c->cond);
	free(c);
}

const char *mcp_client_protocol_version(const struct mcp_client *c)
{
	return c->server_version;
}

const json_t *mcp_client_server_info(const struct mcp_client *c)
{
	return c->server_info;
}

const json_t *mcp_client_server_capabilities(const struct mcp_client *c)
{
	return c->server_caps;
}

const char *mcp_client_instructions(const struct mcp_client *c)
{
	return c->instructions;
}

bool mcp_client_connected(const struct mcp_client *c)
{
	struct mcp_client *mc = (struct mcp_client *)c;
	bool r;

	pthread_mutex_lock(&mc->mu);
	r = c->connected && !c->closing && !c->peer_gone;
	pthread_mutex_unlock(&mc->mu);
	return r;
}

void mcp_client_set_roots(struct mcp_client *c, const json_t *roots)
{
	bool notify;

	pthread_mutex_lock(&c->mu);
	json_decref(c->roots);
	c->roots = json_is_array(roots) ? json_deep_copy(roots) : json_array();
	notify = c->connected && c->opt.roots && !c->closing;
	pthread_mutex_unlock(&c->mu);
	if (notify)
		mcp_client_notify(c, "notifications/roots/list_changed", NULL, NULL);
}

/* ---- Helpers ----------------------------------------------------------- */

int mcp_client_ping(struct mcp_client *c, int timeout_ms, struct err *e)
{
	json_t *r = NULL;
	int rc = mcp_client_request(c, "ping", NULL, timeout_ms, &r, e);

	json_decref(r);
	return rc;
}

/* Collect result[key] over every page of a list method. */
static int list_all(struct mcp_client *c, const char *method, const char *key, json_t **out,
		    struct err *e)
{
	json_t *all = json_array();
	char *cursor = NULL;
	int rc = 0;

	*out = NULL;
	for (int page = 0;; page++) {
		json_t *params = NULL, *r = NULL, *items;
		const char *next;

		if (page >= MAX_LIST_PAGES) {
			rc = err_set(e, ERR_INVALID,
				     "%s: the server's pagination did not end after "
				     "%d pages",
				     method, MAX_LIST_PAGES);
			break;
		}
		if (cursor)
			params = json_pack("{s:s}", "cursor", cursor);
		rc = mcp_client_request(c, method, params, 0, &r, e);
		json_decref(params);
		if (rc)
			break;
		items = json_object_get(r, key);
		if (!json_is_array(items)) {
			rc = err_set(e, ERR_INVALID, "%s: the result has no \"%s\" array", method,
				     key);
			json_decref(r);
			break;
		}
		json_array_extend(all, items);
		next = json_get_str(r, "nextCursor");
		if (!next || !*next) {
			json_decref(r);
			break;
		}
		if (cursor && !strcmp(cursor, next)) {
			rc = err_set(e, ERR_INVALID,
				     "%s: the server returned the same nextCursor "
				     "twice",
				     method);
			json_decref(r);
			break;
		}
		free(cursor);
		cursor = xstrdup(next);
		json_decref(r);
	}
	free(cursor);
	if (rc)
		json_decref(all);
	else
		*out = all;
	return rc;
}

int mcp_client_list_tools(struct mcp_client *c, json_t **tools, struct err *e)
{
	return list_all(c, "tools/list", "tools", tools, e);
}

int mcp_client_list_resources(struct mcp_client *c, json_t **resources, struct err *e)
{
	return list_all(c, "resources/list", "resources", resources, e);
}

int mcp_client_list_resource_templates(struct mcp_client *c, json_t **templates, struct err *e)
{
	return list_all(c, "resources/templates/list", "resourceTemplates", templates, e);
}

int mcp_client_list_prompts(struct mcp_client *c, json_t **prompts, struct err *e)
{
	return list_all(c, "prompts/list", "prompts", prompts, e);
}

int mcp_client_call_tool(struct mcp_client *c, const char *name, const json_t *args, int timeout_ms,
			 json_t **result, struct err *e)
{
	json_t *p = json_pack("{s:s}", "name", name);
	int rc;

	json_object_set_new(p, "arguments", args ? json_deep_copy(args) : json_object());
	rc = mcp_client_request(c, "tools/call", p, timeout_ms, result, e);
	json_decref(p);
	return rc;
}

int mcp_client_read_resource(struct mcp_client *c, const char *uri, json_t **result, struct err *e)
{
	json_t *p = json_pack("{s:s}", "uri", uri);
	int rc = mcp_client_request(c, "resources/read", p, 0, result, e);

	json_decref(p);
	return rc;
}

static int simple(struct mcp_client *c, const char *method, json_t *params, struct err *e)
{
	json_t *r = NULL;
	int rc = mcp_client_request(c, method, params, 0, &r, e);

	json_decref(params);
	json_decref(r);
	return rc;
}

int mcp_client_subscribe(struct mcp_client *c, const char *uri, struct err *e)
{
	return simple(c, "resources/subscribe", json_pack("{s:s}", "uri", uri), e);
}

int mcp_client_unsubscribe(struct mcp_client *c, const char *uri, struct err *e)
{
	return simple(c, "resources/unsubscribe", json_pack("{s:s}", "uri", uri), e);
}

int mcp_client_get_prompt(struct mcp_client *c, const char *name, const json_t *args,
			  json_t **result, struct err *e)
{
	json_t *p = json_pack("{s:s}", "name", name);
	int rc;

	if (args)
		json_object_set_new(p, "arguments", json_deep_copy(args));
	rc = mcp_client_request(c, "prompts/get", p, 0, result, e);
	json_decref(p);
	return rc;
}

int mcp_client_set_log_level(struct mcp_client *c, const char *level, struct err *e)
{
	return simple(c, "logging/setLevel", json_pack("{s:s}", "level", level), e);
}

/* ---- Elicitation ------------------------------------------------------- */

json_t *mcp_elicitation_apply_defaults(const json_t *requested_schema, const json_t *content)
{
	json_t *out = json_is_object(content) ? json_deep_copy(content) : json_object();
	const json_t *props = json_object_get(requested_schema, "properties");
	const char *key;
	json_t *prop;

	if (!json_is_object(props))
		return out;
	json_object_foreach((json_t *)props, key, prop) {
		json_t *def = json_object_get(prop, "default");
		if (def && !json_object_get(out, key))
			json_object_set_new(out, key, json_deep_copy(def));
	}
	return out;
}
