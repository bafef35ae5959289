/*
 * test_delivery.c - the feedback webhook subscriber against a receiver of
 * our own (libmicrohttpd, in this process, on 127.0.0.1 with a port the
 * kernel picks).
 *
 * The deliverer runs in manual mode with a fake clock: retry schedules of
 * seconds or hours pass by moving the clock, so no test sleeps for timing;
 * conditions are waited for with a deadline.  The receiver answers per path:
 * /gone always 410, /slow only when the test releases it, any other path 200
 * unless a script of statuses (with Retry-After) was set for it.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* <openssl/types.h> declares ERR_STATE, one of our error codes. */
#define ERR_STATE OPENSSL_ERR_STATE
#include <openssl/evp.h>
#include <openssl/hmac.h>
#undef ERR_STATE

#include "app/feedback.h"
#include "app/tasks.h"
#include "common/clock.h"
#include "common/json.h"
#include "domain/task.h"
#include "engine/delivery.h"
#include "engine/engine.h"
#include "engine/netguard.h"
#include "../test_util.h"

#define SEC INT64_C(1000000)
#define WAIT_S 10.0

/* ---- the receiver ------------------------------------------------------------- */

#define MAX_REQS 256
#define MAX_SCRIPT 32

struct req {
	char path[64];
	char id[64];
	char ts[32];
	char sig[160];
	char ctype[64];
	char ua[160];
	char method[16];
	char *body;
	int status; /* what we answered */
};

struct step {
	int status;
	int retry_after; /* seconds; 0: none */
};

struct script {
	char path[64];
	struct step steps[MAX_SCRIPT];
	int n, pos;
};

struct rcv {
	struct MHD_Daemon *mhd;
	int port;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct req reqs[MAX_REQS];
	size_t nreqs;
	struct script scripts[8];
	size_t nscripts;
	bool released; /* /slow may answer */
	int slow_waiting;
};

struct conn {
	char *body;
	size_t len;
};

static const char *hdr(struct MHD_Connection *c, const char *name)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
	return v ? v : "";
}

/* The next scripted answer for path (0: none). */
static struct step next_step(struct rcv *r, const char *path)
{
	struct step s = {0, 0};
	for (size_t i = 0; i < r->nscripts; i++) {
		struct script *sc = &r->scripts[i];
		if (strcmp(sc->path, path) == 0 && sc->pos < sc->n)
			return sc->steps[sc->pos++];
	}
	return s;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	(void)version;
	struct rcv *r = cls;
	struct conn *cn = *con_cls;
	if (!cn) {
		cn = calloc(1, sizeof(*cn));
		*con_cls = cn;
		return MHD_YES;
	}
	if (*upload_size) {
		cn->body = realloc(cn->body, cn->len + *upload_size + 1);
		memcpy(cn->body + cn->len, upload, *upload_size);
		cn->len += *upload_size;
		cn->body[cn->len] = 0;
		*upload_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&r->mu);
	struct step s = next_step(r, url);
	if (!s.status)
		s.status = strcmp(url, "/gone") == 0 ? 410 : 200;
	if (strcmp(url, "/slow") == 0) {
		r->slow_waiting++;
		pthread_cond_broadcast(&r->cv);
		struct timespec dl;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 20;
		while (!r->released)
			if (pthread_cond_timedwait(&r->cv, &r->mu, &dl) != 0)
				break;
		r->slow_waiting--;
	}
	if (r->nreqs < MAX_REQS) {
		struct req *q = &r->reqs[r->nreqs++];
		snprintf(q->path, sizeof(q->path), "%s", url);
		snprintf(q->method, sizeof(q->method), "%s", method);
		snprintf(q->id, sizeof(q->id), "%s", hdr(c, "webhook-id"));
		snprintf(q->ts, sizeof(q->ts), "%s", hdr(c, "webhook-timestamp"));
		snprintf(q->sig, sizeof(q->sig), "%s", hdr(c, "webhook-signature"));
		snprintf(q->ctype, sizeof(q->ctype), "%s", hdr(c, "Content-Type"));
		snprintf(q->ua, sizeof(q->ua), "%s", hdr(c, "User-Agent"));
		q->body = strdup(cn->body ? cn->body : "");
		q->status = s.status;
	}
	pthread_mutex_unlock(&r->mu);
	static const char ok[] = "{\"status\":\"ok\"}";
	struct MHD_Response *res =
		MHD_create_response_from_buffer(sizeof(ok) - 1, (void *)ok, MHD_RESPMEM_PERSISTENT);
	if (s.retry_after) {
		char ra[32];
		snprintf(ra, sizeof(ra), "%d", s.retry_after);
		MHD_add_response_header(res, "Retry-After", ra);
	}
	enum MHD_Result rc = MHD_queue_response(c, (unsigned)s.status, res);
	MHD_destroy_response(res);
	return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct conn *cn = *con_cls;
	if (cn) {
		free(cn->body);
		free(cn);
	}
	*con_cls = NULL;
}

/* Listen on 127.0.0.1:port (0: any). */
static void rcv_listen(struct rcv *r, int port)
{
	struct sockaddr_in sa = {0};
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
				  0, NULL, NULL, on_request, r, MHD_OPTION_SOCK_ADDR, &sa,
				  MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, r, MHD_OPTION_END);
	assert_non_null(r->mhd);
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(r->mhd, MHD_DAEMON_INFO_BIND_PORT);
	assert_non_null(info);
	r->port = info->port;
}

static void rcv_stop(struct rcv *r)
{
	if (!r->mhd)
		return;
	pthread_mutex_lock(&r->mu);
	r->released = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	MHD_stop_daemon(r->mhd);
	r->mhd = NULL;
}

static struct rcv *rcv_new(void)
{
	struct rcv *r = calloc(1, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	rcv_listen(r, 0);
	return r;
}

static void rcv_free(struct rcv *r)
{
	rcv_stop(r);
	for (size_t i = 0; i < r->nreqs; i++)
		free(r->reqs[i].body);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r);
}

/* Answer the next n requests to path with status (and Retry-After). */
static void rcv_script(struct rcv *r, const char *path, int n, int status, int retry_after)
{
	pthread_mutex_lock(&r->mu);
	struct script *sc = NULL;
	for (size_t i = 0; i < r->nscripts; i++)
		if (strcmp(r->scripts[i].path, path) == 0)
			sc = &r->scripts[i];
	if (!sc) {
		sc = &r->scripts[r->nscripts++];
		snprintf(sc->path, sizeof(sc->path), "%s", path);
	}
	for (int i = 0; i < n && sc->n < MAX_SCRIPT; i++)
		sc->steps[sc->n++] = (struct step){status, retry_after};
	pthread_mutex_unlock(&r->mu);
}

static void rcv_script_clear(struct rcv *r, const char *path)
{
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->nscripts; i++)
		if (strcmp(r->scripts[i].path, path) == 0)
			r->scripts[i].pos = r->scripts[i].n;
	pthread_mutex_unlock(&r->mu);
}

static size_t rcv_count(struct rcv *r, const char *path)
{
	size_t n = 0;
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->nreqs; i++)
		if (!path || strcmp(r->reqs[i].path, path) == 0)
			n++;
	pthread_mutex_unlock(&r->mu);
	return n;
}

/* The webhook-ids that path answered `status` to, in order, as an array. */
static json_t *rcv_ids(struct rcv *r, const char *path, int status)
{
	json_t *a = json_array();
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->nreqs; i++)
		if (strcmp(r->reqs[i].path, path) == 0 && r->reqs[i].status == status)
			json_array_append_new(a, json_string(r->reqs[i].id));
	pthread_mutex_unlock(&r->mu);
	return a;
}

/* ---- the fixture ---------------------------------------------------------------- */

struct fx {
	char *dir;
	char url[512];
	struct clock clk;
	struct store *s;
	struct rcv *r;
	struct delivery *d;
	char ids[8][64];
};

static const struct app_actor who = {.principal = "test"};
static const int short_schedule[] = {1000, 2000, 4000};

static int64_t at(const char *iso)
{
	int64_t us = 0;
	assert_int_equal(clock_parse_iso(iso, &us), 0);
	return us;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->dir = test_tmpdir("delivery");
	snprintf(f->url, sizeof(f->url), "sqlite:%s/a.db", f->dir);
	clock_fake_init(&f->clk, at("2025-03-07T12:00:00Z"));
	struct store_options o = {
		.clock = &f->clk,
		.projections = app_projections,
		.nprojections = app_nprojections,
	};
	struct err e = {0};
	assert_int_equal(store_open(f->url, &o, &f->s, &e), ERR_OK);
	f->r = rcv_new();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	delivery_free(f->d);
	rcv_free(f->r);
	store_close(f->s);
	test_rmdir(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static char *endpoint(struct fx *f, const char *path)
{
	static char buf[4][128];
	static int k;
	char *b = buf[k++ % 4];
	snprintf(b, 128, "http://127.0.0.1:%d%s", f->r->port, path);
	return b;
}

static struct delivery *deliverer(struct fx *f, const char *owner, const char *secret,
				  const char *default_url)
{
	struct delivery_options o = {
		.store = f->s,
		.clock = &f->clk,
		.owner = owner,
		.secret = secret,
		.default_url = default_url ? default_url : endpoint(f, "/default"),
		.schedule_ms = short_schedule,
		.nschedule = 3,
		.timeout_ms = 5000,
		.manual = true,
	};
	struct delivery *d = NULL;
	struct err e = {0};
	assert_int_equal(delivery_new(&o, &d, &e), ERR_OK);
	return d;
}

/* A schedule task delivering to path (NULL: the default URL); its id. */
static const char *mk_task(struct fx *f, int slot, const char *path)
{
	const char *cfg_text = "{\"type\":\"daily\",\"hour\":8,\"minute\":0,\"notification\":"
			       "{\"method\":\"send_sms\",\"phone_number\":\"+15550001111\"}}";
	struct err e = {0};
	json_t *cfg = json_parse(cfg_text, strlen(cfg_text), &e);
	json_t *task = NULL;
	assert_int_equal(app_task_create(f->s, &who, NULL, "schedule", "wake me up", cfg,
					 path ? endpoint(f, path) : NULL, "alice", &task, &e),
			 ERR_OK);
	snprintf(f->ids[slot], sizeof(f->ids[slot]), "%s", json_get_str(task, "task_id"));
	json_decref(task);
	json_decref(cfg);
	return f->ids[slot];
}

struct emitted {
	char id[UUID_STR_LEN + 1];
	int64_t position;
};

/* Append one event of `type` with data to a task's stream. */
static struct emitted emit(struct fx *f, const char *task_id, const char *type,
			   const char *data_json)
{
	char stream[80];
	task_stream_name(task_id, stream, sizeof(stream));
	struct err e = {0};
	json_t *data = json_parse(data_json, strlen(data_json), &e);
	assert_non_null(data);
	struct store_new_event ev = {.event_id = "", .type = type, .data = data};
	struct store_append_result res;
	assert_int_equal(store_append(f->s, stream, STORE_EXPECT_ANY, &ev, 1, &res, &e), ERR_OK);
	json_decref(data);
	struct emitted out;
	memcpy(out.id, ev.event_id, sizeof(out.id));
	out.position = res.first_position;
	return out;
}

static struct emitted trigger(struct fx *f, const char *task_id, int n)
{
	char data[128];
	snprintf(data, sizeof(data), "{\"trigger_time\":\"t%d\",\"n\":%d}", n, n);
	return emit(f, task_id, "scheduled_trigger", data);
}

/* The outcome events (type) of a task, as an array of their data. */
static json_t *outcomes(struct fx *f, const char *task_id, const char *type)
{
	char stream[80];
	task_stream_name(task_id, stream, sizeof(stream));
	struct store_event_list l = {0};
	struct err e = {0};
	assert_int_equal(store_read_stream(f->s, stream, 1, false, 0, &l, &e), ERR_OK);
	json_t *out = json_array();
	for (size_t i = 0; i < l.count; i++)
		if (!type || strcmp(l.items[i].type, type) == 0)
			json_array_append(out, l.items[i].data);
	store_event_list_cleanup(&l);
	free(l.items);
	return out;
}

static size_t n_outcomes(struct fx *f, const char *task_id, const char *type)
{
	json_t *a = outcomes(f, task_id, type);
	size_t n = json_array_size(a);
	json_decref(a);
	return n;
}

/* The outcome (either type) recorded for event_id, or NULL (new ref). */
static json_t *outcome_of(struct fx *f, const char *task_id, const char *event_id)
{
	json_t *all = outcomes(f, task_id, NULL), *found = NULL;
	size_t i;
	json_t *v;
	json_array_foreach(all, i, v) {
		const char *id = json_get_str(v, "event_id");
		if (id && strcmp(id, event_id) == 0 && json_object_get(v, "callback_url"))
			found = json_incref(v);
	}
	json_decref(all);
	return found;
}

struct cond {
	struct fx *f;
	const char *task;
	const char *event_id;
	const char *path;
	size_t n;
};

/* Step the deliverer until cond holds or WAIT_S pass (real time). */
static bool step_until(struct fx *f, bool (*cond)(struct cond *), struct cond *c)
{
	double end = test_now() + WAIT_S;
	for (;;) {
		delivery_step(f->d, 20);
		if (cond(c))
			return true;
		if (test_now() > end)
			return false;
	}
}

static bool has_outcome(struct cond *c)
{
	json_t *o = outcome_of(c->f, c->task, c->event_id);
	json_decref(o);
	return o != NULL;
}

static bool path_count(struct cond *c)
{
	return rcv_count(c->f->r, c->path) >= c->n;
}

static bool nothing_pending(struct cond *c)
{
	return delivery_pending(c->f->d) == 0;
}

static void wait_outcome(struct fx *f, const char *task, const char *event_id)
{
	struct cond c = {.f = f, .task = task, .event_id = event_id};
	assert_true(step_until(f, has_outcome, &c));
}

static void wait_requests(struct fx *f, const char *path, size_t n)
{
	struct cond c = {.f = f, .path = path, .n = n};
	assert_true(step_until(f, path_count, &c));
}

static void wait_idle(struct fx *f)
{
	struct cond c = {.f = f};
	assert_true(step_until(f, nothing_pending, &c));
}

struct retry_cond {
	struct fx *f;
	const char *path;
	size_t n;
};

/* Step until path got n requests and the deliverer waits for a retry with
 * nothing in flight (so moving the clock now moves past that retry). */
static void wait_retry(struct fx *f, const char *path, size_t n)
{
	double end = test_now() + WAIT_S;
	struct delivery_status st;
	for (;;) {
		delivery_step(f->d, 20);
		delivery_status(f->d, &st);
		if (rcv_count(f->r, path) >= n && st.retrying >= 1 && st.in_flight == 0)
			return;
		assert_true(test_now() < end);
	}
}

/* A few turns that must not send anything (the fake clock stands still). */
static void idle_steps(struct fx *f, int n)
{
	for (int i = 0; i < n; i++)
		delivery_step(f->d, 5);
}

/* ---- tests ---------------------------------------------------------------------- */

/* The key of the secret below: 32 bytes "0123456789abcdef0123456789abcdef". */
#define SECRET "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
#define SECRET_KEY "0123456789abcdef0123456789abcdef"

static void test_payload_and_headers(void **state)
{
	struct fx *f = *state;
	const char *id = mk_task(f, 0, "/hook");
	f->d = deliverer(f, "a", SECRET, NULL);
	/* Not delivered: lifecycle (a manual pause, resume) and feedback events. */
	char data[256];
	snprintf(data, sizeof(data), "{\"task_id\":\"%s\",\"reason\":\"by hand\"}", id);
	emit(f, id, "task_paused", data);
	snprintf(data, sizeof(data), "{\"task_id\":\"%s\"}", id);
	emit(f, id, "task_resumed", data);
	emit(f, id, "feedback_delivered", "{\"event_id\":\"x\"}");
	struct emitted ev = emit(f, id, "scheduled_trigger",
				 "{\"trigger_time\":\"2025-03-07T08:00:00+00:00\","
				 "\"message\":\"hello\"}");
	snprintf(data, sizeof(data),
		 "{\"task_id\":\"%s\",\"reason\":\"failing\",\"automatic\":true}", id);
	struct emitted paused = emit(f, id, "task_paused", data);
	wait_outcome(f, id, paused.id);
	assert_int_equal(rcv_count(f->r, NULL), 2);

	struct req *q = &f->r->reqs[0];
	assert_string_equal(q->path, "/hook");
	assert_string_equal(q->method, "POST");
	assert_string_equal(q->ctype, "application/json");
	assert_string_equal(q->id, ev.id);
	assert_true(strncmp(q->ua, "ambient/", 8) == 0);
	char want_ts[32];
	snprintf(want_ts, sizeof(want_ts), "%lld", (long long)(clock_wall_us(&f->clk) / SEC));
	assert_string_equal(q->ts, want_ts);

	/* The signature, recomputed here: HMAC-SHA256 of id.timestamp.body. */
	char *signed_text = NULL;
	assert_true(asprintf(&signed_text, "%s.%s.%s", q->id, q->ts, q->body) > 0);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	HMAC(EVP_sha256(), SECRET_KEY, 32, (unsigned char *)signed_text, strlen(signed_text), mac,
	     &maclen);
	char b64[128] = "v1,";
	EVP_EncodeBlock((unsigned char *)b64 + 3, mac, (int)maclen);
	assert_string_equal(q->sig, b64);
	free(signed_text);
	/* The feedback server accepts it. */
	struct feedback_key fk;
	struct err fe = {0};
	assert_int_equal(feedback_key_parse(SECRET, &fk, &fe), ERR_OK);
	assert_int_equal(feedback_verify(&fk, q->id, q->ts, q->sig, q->body, strlen(q->body),
					 clock_wall_us(&f->clk) / SEC, 300, &fe),
			 FEEDBACK_OK);

	/* The payload. */
	struct err e = {0};
	json_t *p = json_parse(q->body, strlen(q->body), &e);
	assert_non_null(p);
	assert_string_equal(json_get_str(p, "task_id"), id);
	assert_string_equal(json_get_str(p, "event_type"), "scheduled_trigger");
	assert_string_equal(json_get_str(json_object_get(p, "data"), "message"), "hello");
	assert_int_equal(json_get_int(p, "priority", 0), 2);
	assert_string_equal(json_get_str(p, "event_id"), ev.id);
	assert_string_equal(json_get_str(p, "task_type"), "schedule");
	assert_string_equal(json_get_str(p, "user_id"), "alice");
	assert_string_equal(json_get_str(p, "description"), "wake me up");
	assert_int_equal(json_get_int(p, "position", 0), ev.position);
	assert_string_equal(json_get_str(json_object_get(p, "notification"), "method"), "send_sms");
	char local[CLOCK_ISO_MAX];
	clock_format_local(clock_wall_us(&f->clk), local); /* the clock stood still */
	assert_string_equal(json_get_str(p, "timestamp"), local);
	assert_int_equal(feedback_validate(p, NULL, &fe), FEEDBACK_OK);
	json_decref(p);

	/* The automatic pause went too, with its priority. */
	q = &f->r->reqs[1];
	p = json_parse(q->body, strlen(q->body), &e);
	assert_string_equal(json_get_str(p, "event_type"), "task_paused");
	assert_int_equal(json_get_int(p, "priority", 0), 1);
	json_decref(p);

	/* The outcome: in the task's stream, caused by the event. */
	json_t *o = outcome_of(f, id, ev.id);
	assert_non_null(o);
	assert_int_equal(json_get_int(o, "position", 0), ev.position);
	assert_string_equal(json_get_str(o, "callback_url"), endpoint(f, "/hook"));
	assert_int_equal(json_get_int(o, "status_code", 0), 200);
	assert_int_equal(json_get_int(o, "attempts", 0), 1);
	json_decref(o);
	char stream[80];
	task_stream_name(id, stream, sizeof(stream));
	struct store_event_list l = {0};
	assert_int_equal(store_read_stream(f->s, stream, 0, true, 1, &l, &e), ERR_OK);
	assert_string_equal(l.items[0].type, "feedback_delivered");
	assert_string_equal(json_get_str(l.items[0].metadata, "principal"), "delivery");
	assert_string_equal(json_get_str(l.items[0].metadata, "causation_id"), paused.id);
	store_event_list_cleanup(&l);
	free(l.items);

	struct delivery_status st;
	delivery_status(f->d, &st);
	assert_true(st.leader);
	assert_int_equal(st.delivered, 2);
	assert_int_equal(st.failed, 0);
	wait_idle(f);
	delivery_step(f->d, 0);
	delivery_status(f->d, &st);
	assert_true(st.checkpoint >= paused.position);
}

/* A known answer of the Standard Webhooks libraries, and bad secrets. */
static void test_signature_vector(void **state)
{
	struct fx *f = *state;
	char sig[DELIVERY_SIG_MAX];
	struct err e = {0};
	const char *body = "{\"test\": 2432232314}";
	assert_int_equal(delivery_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				       "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
				       strlen(body), sig, &e),
			 ERR_OK);
	assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	assert_int_equal(delivery_sign("whsec_", "m", 1, "", 0, sig, &e), ERR_INVALID);
	assert_int_equal(delivery_sign("whsec_ab$d", "m", 1, "", 0, sig, &e), ERR_INVALID);

	struct delivery_options o = {.store = f->s, .secret = "whsec_!!", .manual = true};
	struct delivery *d = NULL;
	assert_int_equal(delivery_new(&o, &d, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "whsec_"));
	o.secret = NULL;
	o.default_url = "ftp://example.org/";
	assert_int_equal(delivery_new(&o, &d, &e), ERR_INVALID);
	assert_null(d);
}

/* Tasks without a callback_url use the default URL. */
static void test_default_url(void **state)
{
	struct fx *f = *state;
	const char *id = mk_task(f, 0, NULL);
	f->d = deliverer(f, "a", NULL, NULL);
	struct emitted ev = trigger(f, id, 1);
	wait_outcome(f, id, ev.id);
	assert_int_equal(rcv_count(f->r, "/default"), 1);
	assert_string_equal(f->r->reqs[0].sig, ""); /* no secret: unsigned */
}

/* A store that cannot say where a task's events go (its task row cannot be
 * read) holds them back: they wait for the store, never go to the default
 * URL instead. */
static atomic_bool tasks_unreadable;
static struct store_ops unreadable_ops;
static const struct store_ops *plain_ops;

static int unreadable_proj_get(struct store *s, const char *proj, const char *key, json_t **doc,
			       struct err *e)
{
	if (atomic_load(&tasks_unreadable))
		return err_set(e, ERR_IO, "the database is unreachable (test)");
	return plain_ops->proj_get(s, proj, key, doc, e);
}

/* A task that has left the projection (deleted) is read from its stream:
 * that read failing must hold its events back too. */
static int gone_proj_get(struct store *s, const char *proj, const char *key, json_t **doc,
			 struct err *e)
{
	(void)s, (void)proj, (void)doc;
	return err_set(e, ERR_NOT_FOUND, "no document %s (test)", key);
}

static int unreadable_read_stream(struct store *s, const char *stream, int64_t from,
				  bool backward, size_t limit, struct store_event_list *out,
				  struct err *e)
{
	if (atomic_load(&tasks_unreadable))
		return err_set(e, ERR_IO, "the database is unreachable (test)");
	return plain_ops->read_stream(s, stream, from, backward, limit, out, e);
}

/* Route the store's proj_get (and read_stream, when given) through the
 * test's versions; unreadable from now on. */
static void make_unreadable(struct fx *f,
			    int (*proj_get)(struct store *, const char *, const char *, json_t **,
					    struct err *),
			    int (*read_stream)(struct store *, const char *, int64_t, bool, size_t,
					       struct store_event_list *, struct err *))
{
	plain_ops = f->s->ops;
	unreadable_ops = *plain_ops;
	unreadable_ops.proj_get = proj_get;
	if (read_stream)
		unreadable_ops.read_stream = read_stream;
	f->s->ops = &unreadable_ops;
	atomic_store(&tasks_unreadable, true);
}

static void test_unreadable_stream_waits(void **state)
{
	struct fx *f = *state;
	const char *id = mk_task(f, 0, "/mine");
	make_unreadable(f, gone_proj_get, unreadable_read_stream);
	f->d = deliverer(f, "a", NULL, NULL);
	struct emitted ev = trigger(f, id, 1);
	idle_steps(f, 20);
	assert_int_equal(rcv_count(f->r, "/default"), 0);
	atomic_store(&tasks_unreadable, false);
	clock_fake_advance(&f->clk, 2 * 1000000);
	wait_outcome(f, id, ev.id);
	assert_int_equal(rcv_count(f->r, "/mine"), 1);
	assert_int_equal(rcv_count(f->r, "/default"), 0);
	f->s->ops = plain_ops;
}

static void test_unreadable_task_waits(void **state)
{
	struct fx *f = *state;
	const char *id = mk_task(f, 0, "/mine");
	make_unreadable(f, unreadable_proj_get, NULL);
	f->d = deliverer(f, "a", NULL, NULL);
	struct emitted ev = trigger(f, id, 1);
	idle_steps(f, 20);
	assert_int_equal(rcv_count(f->r, "/default"), 0);
	assert_int_equal(rcv_count(f->r, "/mine"), 0);
	atomic_store(&tasks_unreadable, false);
	clock_fake_advance(&f->clk, 2 * 1000000);
	wait_outcome(f, id, ev.id);
	assert_int_equal(rcv_count(f->r, "/mine"), 1);
	assert_int_equal(rcv_count(f->r, "/default"), 0);
	f->s->ops = plain_ops;
}

static bool delivered_all(struct cond *c)
{
	return n_outcomes(c->f, c->task, "feedback_delivered") >= c->n;
}

/* Per-task order under retries, and another task's endpoint is not held up. */
static void test_order_under_retries(void **state)
{
	struct fx *f = *state;
	const char *a = mk_task(f, 0, "/a");
	const char *b = mk_task(f, 1, "/b");
	rcv_script(f->r, "/a", 2, 503, 0);
	f->d = deliverer(f, "a", NULL, NULL);
	struct emitted a1 = trigger(f, a, 1), a2 = trigger(f, a, 2), b1 = trigger(f, b, 1);
	wait_outcome(f, b, b1.id); /* b is not held up by a's retries */
	wait_retry(f, "/a", 1);
	idle_steps(f, 5);
	assert_int_equal(rcv_count(f->r, "/a"), 1); /* a2 waits behind a1 */
	clock_fake_advance(&f->clk, 1100 * 1000);
	wait_retry(f, "/a", 2);
	idle_steps(f, 5);
	assert_int_equal(rcv_count(f->r, "/a"), 2);
	clock_fake_advance(&f->clk, 2200 * 1000);
	struct cond c = {.f = f, .task = a, .n = 2};
	assert_true(step_until(f, delivered_all, &c));
	json_t *ok = rcv_ids(f->r, "/a", 200);
	assert_int_equal(json_array_size(ok), 2);
	assert_string_equal(json_string_value(json_array_get(ok, 0)), a1.id);
	assert_string_equal(json_string_value(json_array_get(ok, 1)), a2.id);
	json_decref(ok);
	json_t *o = outcome_of(f, a, a1.id);
	assert_int_equal(json_get_int(o, "attempts", 0), 3);
	json_decref(o);
	o = outcome_of(f, a, a2.id);
	assert_int_equal(json_get_int(o, "attempts", 0), 1);
	json_decref(o);
}

/* The receiver is down (connection refused), then up: everything arrives, in
 * order. */
static void test_receiver_down_then_up(void **state)
{
	struct fx *f = *state;
	const char *id = mk_task(f, 0, "/hook");
	int port = f->r->port;
	rcv_stop(f->r);
	f->r->released = false;
	f->d = deliverer(f, "a", NULL, NULL);
	struct emitted e1 = trigger(f, id, 1), e2 = trigger(f, id, 2), e3 = trigger(f, id, 3);
	(void)e3;
	wait_retry(f, "/none", 0);
	clock_fake_advance(&f->clk, 1100 * 1000);
	struct delivery_status st;
	double end = test_now() + WAIT_S;
	do {
		delivery_step(f->d, 20);
		delivery_status(f->d, &st);
	} while (!(st.attempts >= 2 && st.retrying == 1 && st.in_flight == 0) && test_now() < end);
	assert_int_equal(st.attempts, 2);
	assert_int_equal(st.delivered, 0);
	rcv_listen(f->r, port);
	assert_int_equal(f->r->port, port);
	clock_fake_advance(&f->clk, 2200 * 1000);
	struct cond c = {.f = f, .task = id, .n = 3};
	assert_true(step_until(f, delivered_all, &c));
	json_t *ok = rcv_ids(f->r, "/hook", 200);
	assert_int_equal(json_array_size(ok), 3);
	assert_string_equal(json_string_value(json_array_get(ok, 0)), e1.id);
	assert_string_equal(json_string_value(json_array_get(ok, 1)), e2.id);
	assert_string_equal(json_string_value(json_array_get(ok, 2)), e3.id);
	json_decref(ok);
	json_t *o = outcome_of(f, id, e1.id);
	assert_int_equal(json_get_int(o, "attempts", 0), 3);
	json_decref(o);
}

/* 410 Gone disables the endpoint: its events fail at once, other tasks to it
 * too; a new callback_url delivers again. */
static void test_gone_disables(void **state)
{
	struct fx *f = *state;
	const char *a = mk_task(f, 0, "/gone");
	const char *b = mk_task(f, 1, "/gone");
	const char *c = mk_task(f, 2, "/ok");
	f->d = deliverer(f, "a", NULL, NULL);
	struct emitted a1 = trigger(f, a, 1);
	wait_outcome(f, a, a1.id);
	json_t *o = outcome_of(f, a, a1.id);
	assert_int_equal(json_get_int(o, "status_code", 0), 410);
	assert_string_equal(json_get_str(o, "error"), DELIVERY_GONE_REASON);
	assert_int_equal(json_get_int(o, "attempts", 0), 1);
	json_decref(o);
	json_t *mark = NULL;
	struct err e = {0};
	char key[256];
	snprintf(key, sizeof(key), DELIVERY_DISABLED_PREFIX "%s", endpoint(f, "/gone"));
	assert_int_equal(store_soft_get(f->s, key, &mark, &e), ERR_OK);
	json_decref(mark);

	struct emitted a2 = trigger(f, a, 2), b1 = trigger(f, b, 1), c1 = trigger(f, c, 1);
	wait_outcome(f, c, c1.id);
	wait_outcome(f, a, a2.id);
	wait_outcome(f, b, b1.id);
	assert_int_equal(rcv_count(f->r, "/gone"), 1); /* no request after the 410 */
	o = outcome_of(f, b, b1.id);
	assert_string_equal(json_get_str(o, "error"), DELIVERY_GONE_REASON);
	assert_int_equal(json_get_int(o, "attempts", 0), 0);
	json_decref(o);
	struct delivery_status st;
	delivery_status(f->d, &st);
	assert_int_equal(st.disabled, 1);
	assert_int_equal(st.failed, 3);

	/* b moves to a live endpoint. */
	json_t *changes = json_pack("{s:s}", "callback_url", endpoint(f, "/new"));
	bool changed = false;
	assert_int_equal(app_task_update(f->s, &who, b, changes, &changed, NULL, &e), ERR_OK);
	json_decref(changes);
	struct emitted b2 = trigger(f, b, 2);
	wait_outcome(f, b, b2.id);
	assert_int_equal(rcv_count(f->r, "/new"), 1);

	/* Lifting the mark by hand: the next event to /gone is tried again. */
	assert_int_equal(delivery_endpoint_enable(f->s, endpoint(f, "/gone"), &e), ERR_OK);
	struct emitted a3 = trigger(f, a, 3);
	wait_outcome(f, a, a3.id);
	assert_int_equal(rcv_count(f->r, "/gone"), 2);
}

/* Retry-After is honoured when it is longer than the schedule's delay. */
static void test_retry_after(void **state)
{
	struct fx *f = *state;
	const char *id = mk_task(f, 0, "/busy");
	rcv_script(f->r, "/busy", 1, 503, 100);
	f->d = deliverer(f, "a", NULL, NULL);
	struct emitted ev = trigger(f, id, 1);
	wait_retry(f, "/busy", 1);
	clock_fake_advance(&f->clk, 1100 * 1000); /* the schedule's delay has passed */
	idle_steps(f, 5);
	assert_int_equal(rcv_count(f->r, "/busy"), 1);
	clock_fake_advance(&f->clk, 98 * SEC); /* 99.1 s */
	idle_steps(f, 5);
	assert_int_equal(rcv_count(f->r, "/busy"), 1);
	clock_fake_advance(&f->clk, 1 * SEC); /* 100.1 s */
	wait_outcome(f, id, ev.id);
	assert_int_equal(rcv_count(f->r, "/busy"), 2);
	json_t *o = outcome_of(f, id, ev.id);
	assert_int_equal(json_get_int(o, "attempts", 0), 2);
	json_decref(o);
}

/* After the last retry: feedback_failed with the error and the status. */
static void test_gives_up(void **state)
{
	struct fx *f = *state;
	const char *id = mk_task(f, 0, "/down");
	rcv_script(f->r, "/down", 10, 500, 0);
	f->d = deliverer(f, "a", NULL, NULL);
	struct emitted ev = trigger(f, id, 1), ev2 = trigger(f, id, 2);
	for (size_t k = 1; k <= 3; k++) {
		wait_retry(f, "/down", k);
		clock_fake_advance(&f->clk, 5 * SEC);
	}
	wait_outcome(f, id, ev.id);
	json_t *o = outcome_of(f, id, ev.id);
	assert_int_equal(json_get_int(o, "attempts", 0), 4);
	assert_int_equal(json_get_int(o, "status_code", 0), 500);
	assert_non_null(strstr(json_get_str(o, "error"), "500"));
	assert_non_null(strstr(json_get_str(o, "error"), "gave up after 4 attempts"));
	json_decref(o);
	/* The next event of the task is tried after it. */
	wait_requests(f, "/down", 5);
	(void)ev2;
}

/* A restart delivers the rest from the checkpoint and records nothing twice. */
static void test_checkpoint_durability(void **state)
{
	struct fx *f = *state;
	const char *a = mk_task(f, 0, "/a");
	const char *b = mk_task(f, 1, "/b");
	rcv_script(f->r, "/a", 20, 503, 0);
	f->d = deliverer(f, "one", NULL, NULL);
	struct emitted a1 = trigger(f, a, 1), b1 = trigger(f, b, 1), b2 = trigger(f, b, 2);
	wait_outcome(f, b, b2.id);
	wait_requests(f, "/a", 1);
	delivery_step(f->d, 0);
	struct delivery_status st;
	delivery_status(f->d, &st);
	assert_true(st.checkpoint < a1.position);
	delivery_free(f->d);
	f->d = NULL;
	struct err e = {0};
	int64_t cp = 0;
	assert_int_equal(store_checkpoint_get(f->s, DELIVERY_CHECKPOINT, &cp, &e), ERR_OK);
	assert_true(cp < a1.position);
	assert_true(cp > 0);

	rcv_script_clear(f->r, "/a");
	f->d = deliverer(f, "two", NULL, NULL);
	wait_outcome(f, a, a1.id);
	struct emitted a2 = trigger(f, a, 2);
	wait_outcome(f, a, a2.id);
	wait_idle(f);
	assert_int_equal(n_outcomes(f, a, "feedback_delivered"), 2);
	assert_int_equal(n_outcomes(f, b, "feedback_delivered"), 2); /* b1, b2 once each */
	assert_true(rcv_count(f->r, "/b") >= 2);
	json_t *ok = rcv_ids(f->r, "/a", 200);
	assert_string_equal(json_string_value(json_array_get(ok, 0)), a1.id);
	json_decref(ok);
	delivery_step(f->d, 0);
	delivery_status(f->d, &st);
	assert_true(st.checkpoint >= a2.position);
	(void)b1;
}

static bool slow_waiting(struct cond *c)
{
	pthread_mutex_lock(&c->f->r->mu);
	bool w = c->f->r->slow_waiting > 0;
	pthread_mutex_unlock(&c->f->r->mu);
	return w;
}

/* A slow endpoint does not delay another task's endpoint. */
static void test_slow_endpoint(void **state)
{
	struct fx *f = *state;
	const char *s = mk_task(f, 0, "/slow");
	const char *q = mk_task(f, 1, "/quick");
	f->d = deliverer(f, "a", NULL, NULL);
	struct emitted s1 = trigger(f, s, 1);
	struct cond c = {.f = f};
	assert_true(step_until(f, slow_waiting, &c));
	struct emitted q1 = trigger(f, q, 1), q2 = trigger(f, q, 2);
	wait_outcome(f, q, q1.id);
	wait_outcome(f, q, q2.id);
	json_t *o = outcome_of(f, s, s1.id);
	assert_null(o); /* still waiting for the slow one */
	struct delivery_status st;
	delivery_status(f->d, &st);
	assert_int_equal(st.in_flight, 1);
	pthread_mutex_lock(&f->r->mu);
	f->r->released = true;
	pthread_cond_broadcast(&f->r->cv);
	pthread_mutex_unlock(&f->r->mu);
	wait_outcome(f, s, s1.id);
}

/* Beyond the memory caps events wait in the store and still arrive, in
 * order, while a stuck endpoint does not stop another task. */
static void test_overflow(void **state)
{
	struct fx *f = *state;
	const char *a = mk_task(f, 0, "/stuck");
	const char *b = mk_task(f, 1, "/fine");
	rcv_script(f->r, "/stuck", 30, 503, 0);
	struct delivery_options o = {
		.store = f->s,
		.clock = &f->clk,
		.owner = "a",
		.default_url = endpoint(f, "/default"),
		.schedule_ms = short_schedule,
		.nschedule = 3,
		.max_window = 4,
		.max_task_queue = 2,
		.manual = true,
	};
	struct err e = {0};
	assert_int_equal(delivery_new(&o, &f->d, &e), ERR_OK);
	struct emitted ea[5], eb[5];
	for (int i = 0; i < 5; i++)
		ea[i] = trigger(f, a, i);
	for (int i = 0; i < 5; i++)
		eb[i] = trigger(f, b, i);
	struct cond c = {.f = f, .task = b, .n = 5};
	assert_true(step_until(f, delivered_all, &c));
	struct delivery_status st;
	delivery_status(f->d, &st);
	assert_true(st.queued <= 4);
	assert_true(st.checkpoint < ea[0].position);
	assert_int_equal(n_outcomes(f, a, "feedback_delivered"), 0);
	rcv_script_clear(f->r, "/stuck");
	clock_fake_advance(&f->clk, 1100 * 1000);
	c.task = a;
	assert_true(step_until(f, delivered_all, &c));
	wait_idle(f);
	json_t *ok = rcv_ids(f->r, "/stuck", 200);
	assert_int_equal(json_array_size(ok), 5);
	for (int i = 0; i < 5; i++)
		assert_string_equal(json_string_value(json_array_get(ok, (size_t)i)), ea[i].id);
	json_decref(ok);
	ok = rcv_ids(f->r, "/fine", 200);
	assert_int_equal(json_array_size(ok), 5);
	for (int i = 0; i < 5; i++)
		assert_string_equal(json_string_value(json_array_get(ok, (size_t)i)), eb[i].id);
	json_decref(ok);
	delivery_step(f->d, 0);
	delivery_status(f->d, &st);
	assert_true(st.checkpoint >= eb[4].position);
	assert_int_equal(st.overflowed, 0);
}

/* With an SSRF guard, a task's callback URL on a blocked address fails at
 * once; the operator's default URL is still trusted. */
static void test_guard(void **state)
{
	struct fx *f = *state;
	const char *a = mk_task(f, 0, "/private");
	const char *b = mk_task(f, 1, NULL);
	struct netguard *g = NULL;
	struct err e = {0};
	assert_int_equal(netguard_new(NULL, &g, &e), ERR_OK);
	struct delivery_options o = {
		.store = f->s,
		.clock = &f->clk,
		.owner = "a",
		.default_url = endpoint(f, "/default"),
		.schedule_ms = short_schedule,
		.nschedule = 3,
		.guard = g,
		.manual = true,
	};
	assert_int_equal(delivery_new(&o, &f->d, &e), ERR_OK);
	struct emitted a1 = trigger(f, a, 1), b1 = trigger(f, b, 1);
	wait_outcome(f, a, a1.id);
	wait_outcome(f, b, b1.id);
	json_t *out = outcome_of(f, a, a1.id);
	assert_int_equal(json_get_int(out, "attempts", 0), 1);
	assert_non_null(strstr(json_get_str(out, "error"), "127.0.0.1"));
	json_decref(out);
	assert_int_equal(rcv_count(f->r, "/private"), 0);
	assert_int_equal(rcv_count(f->r, "/default"), 1);
	delivery_free(f->d);
	f->d = NULL;
	netguard_free(g);
}

/* One deliverer per store: the other stands by, then takes over. */
static void test_lease(void **state)
{
	struct fx *f = *state;
	const char *id = mk_task(f, 0, "/hook");
	f->d = deliverer(f, "one", NULL, NULL);
	struct delivery *two = deliverer(f, "two", NULL, NULL);
	delivery_step(f->d, 0);
	delivery_step(two, 0);
	struct emitted e1 = trigger(f, id, 1);
	double end = test_now() + WAIT_S;
	json_t *o = NULL;
	while (!o && test_now() < end) {
		delivery_step(f->d, 10);
		delivery_step(two, 10);
		o = outcome_of(f, id, e1.id);
	}
	assert_non_null(o);
	json_decref(o);
	struct delivery_status st;
	delivery_status(two, &st);
	assert_false(st.leader);
	assert_string_equal(st.holder, "one");
	bool running = false;
	json_t *doc = NULL;
	struct err e = {0};
	assert_int_equal(delivery_peek(f->s, &running, &doc, &e), ERR_OK);
	assert_true(running);
	assert_non_null(doc);
	json_decref(doc);

	delivery_free(f->d); /* releases the lease */
	f->d = two;
	clock_fake_advance(&f->clk, 11 * SEC); /* two's next look at the lease */
	struct emitted e2 = trigger(f, id, 2);
	wait_outcome(f, id, e2.id);
	delivery_status(two, &st);
	assert_true(st.leader);
	assert_int_equal(rcv_count(f->r, "/hook"), 2);
}

static struct delivery *part_deliverer(struct fx *f, const char *owner, unsigned k,
				       struct delivery_share *share)
{
	struct delivery_options o = {
		.store = f->s,
		.clock = &f->clk,
		.owner = owner,
		.default_url = endpoint(f, "/default"),
		.schedule_ms = short_schedule,
		.nschedule = 3,
		.timeout_ms = 5000,
		.manual = true,
		.partitions = 2,
		.partition = k,
		.share = share,
	};
	struct delivery *d = NULL;
	struct err e = {0};
	assert_int_equal(delivery_new(&o, &d, &e), ERR_OK);
	return d;
}

/* Two nodes with two partitions each: each node holds one, every event is
 * delivered once, by the deliverer of its task's partition. */
static void test_partitions(void **state)
{
	struct fx *f = *state;
	struct store_lease l;
	struct err e = {0};
	/* Two live engines, as two `ambient serve` would hold. */
	assert_int_equal(store_lease_acquire(f->s, ENGINE_NODE_LEASE_PREFIX "A", "A", 3600000, &l,
					     &e),
			 ERR_OK);
	assert_int_equal(store_lease_acquire(f->s, ENGINE_NODE_LEASE_PREFIX "B", "B", 3600000, &l,
					     &e),
			 ERR_OK);
	struct delivery_share sa = {0}, sb = {0};
	struct delivery *d[4] = {part_deliverer(f, "A", 0, &sa), part_deliverer(f, "A", 1, &sa),
				 part_deliverer(f, "B", 0, &sb), part_deliverer(f, "B", 1, &sb)};
	for (int i = 0; i < 4; i++)
		delivery_step(d[i], 0);
	assert_int_equal(atomic_load(&sa.held), 1);
	assert_int_equal(atomic_load(&sb.held), 1);
	struct delivery_status st[4];
	for (int i = 0; i < 4; i++)
		delivery_status(d[i], &st[i]);
	assert_true(st[0].leader); /* A took partition 0 first ... */
	assert_false(st[1].leader); /* ... so it leaves partition 1 ... */
	assert_false(st[2].leader);
	assert_true(st[3].leader); /* ... to B */

	enum { N = 8 };
	struct emitted ev[N];
	unsigned parts_seen = 0;
	for (int i = 0; i < N; i++) {
		const char *id = mk_task(f, i, "/hook");
		parts_seen |= 1u << (engine_shard_of(id) % 2);
		ev[i] = trigger(f, id, 1);
	}
	double end = test_now() + WAIT_S;
	size_t done = 0;
	while (done < N && test_now() < end) {
		for (int i = 0; i < 4; i++)
			delivery_step(d[i], 5);
		done = 0;
		for (int i = 0; i < N; i++) {
			json_t *o = outcome_of(f, f->ids[i], ev[i].id);
			done += o != NULL;
			json_decref(o);
		}
	}
	assert_int_equal(done, N);
	assert_int_equal(rcv_count(f->r, "/hook"), N); /* each once */
	if (parts_seen == 3) { /* both partitions had work: both nodes delivered */
		for (int i = 0; i < 4; i++)
			delivery_status(d[i], &st[i]);
		assert_true(st[0].delivered > 0);
		assert_true(st[3].delivered > 0);
		assert_int_equal(st[0].delivered + st[3].delivered, N);
	}
	struct delivery_status sum;
	delivery_status_add(&sum, &st[0], true);
	delivery_status_add(&sum, &st[1], false);
	assert_true(sum.leader);
	for (int i = 0; i < 4; i++)
		delivery_free(d[i]);
	assert_int_equal(atomic_load(&sa.held), 0);
}

/* The thread mode: delivery_start, deliveries without stepping. */
static bool thread_done(void *ud)
{
	struct cond *c = ud;
	json_t *o = outcome_of(c->f, c->task, c->event_id);
	json_decref(o);
	return o != NULL;
}

static void test_threads(void **state)
{
	struct fx *f = *state;
	/* The real clock: the store's fake clock is only read, never advanced. */
	const char *id = mk_task(f, 0, "/hook");
	struct delivery_options o = {
		.store = f->s,
		.clock = clock_system(),
		.owner = "t",
		.default_url = endpoint(f, "/default"),
	};
	struct err e = {0};
	assert_int_equal(delivery_new(&o, &f->d, &e), ERR_OK);
	assert_int_equal(delivery_start(f->d, &e), ERR_OK);
	struct emitted ev = trigger(f, id, 1);
	struct cond c = {.f = f, .task = id, .event_id = ev.id};
	assert_true(test_wait_until(thread_done, &c, WAIT_S));
	delivery_free(f->d);
	f->d = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_payload_and_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signature_vector, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_url, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_task_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_stream_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_under_retries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receiver_down_then_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone_disables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_after, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gives_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_durability, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_endpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partitions, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
