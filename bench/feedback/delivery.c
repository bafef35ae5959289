/*
 * delivery.c - bench_feedback_delivery: how fast the deliverer
 * (src/engine/delivery.c, the code `ambient serve` runs) moves task events
 * from the store to callback URLs, and how long one event takes from its
 * append to its receipt.  Part of bench/feedback/run.sh.
 *
 * Everything runs in this process on 127.0.0.1: receivers on libmicrohttpd
 * (one daemon per endpoint, each on its own port, so each endpoint is its own
 * host:port for the deliverer's per-host limit), a SQLite store
 * (synchronous=FULL) in --dir, tasks created with app_task_create() whose
 * callback_url points at the receivers, and a deliverer made with
 * delivery_new()/delivery_start() as cmd_serve.c makes it (no guard: the
 * URLs are the operator's).
 *
 * Cases:
 *  - throughput, for each endpoint count E in --endpoints (default 1,10,100):
 *    a fresh store with T tasks (--tasks, default 256) spread over the E
 *    endpoints and N events (--events, default 50000) appended to them
 *    first; then the deliverer starts and the clock runs until every event
 *    was received (events/s by receipt) and until the deliverer has recorded
 *    every outcome (events/s done: feedback_delivered durable, checkpoint
 *    past them);
 *  - latency, one endpoint: the deliverer runs while 8 threads append
 *    single events at --rate events/s (default 2000) for --seconds (5); each
 *    event carries the wall time just before its store_append() call, and
 *    the receiver takes receipt minus that time (the append's own fsync
 *    included).
 *  - --receiver: only run one receiver and print "listening URL" (the
 *    ceiling: run.sh points wrk at it), until SIGTERM.
 *
 * Output lines (grep-able):
 *   throughput endpoints=E tasks=T events=N received_s=S events_per_s=R done_s=S2 done_per_s=R2
 * dups=D latency endpoints=1 rate=R events=N p50_ms=A p99_ms=B max_ms=C deliverer_p99_ms=D
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/tasks.h"
#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "domain/task.h"
#include "engine/delivery.h"
#include "store/store.h"

static int64_t wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what, const struct err *e)
{
	fprintf(stderr, "bench_feedback_delivery: %s: %s\n", what, e ? err_msg(e) : "failed");
	exit(1);
}

/* ---- receivers -------------------------------------------------------------------------- */

struct recv_state {
	atomic_long received;
	atomic_long unique;
	atomic_int_least64_t last_us;
	unsigned char *seen; /* by position */
	size_t nseen;
	pthread_mutex_t lock;
	int64_t *lat; /* latency samples, µs */
	size_t nlat, caplat;
	bool measure;
};

static struct recv_state R;

struct conn_buf {
	char data[8192];
	size_t len;
};

static int64_t num_after(const char *body, const char *key)
{
	const char *p = strstr(body, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *up,
			      size_t *upsize, void **con_cls)
{
	(void)cls, (void)url, (void)method, (void)version;
	struct conn_buf *b = *con_cls;
	if (!b) {
		b = xcalloc(1, sizeof(*b));
		*con_cls = b;
		return MHD_YES;
	}
	if (*upsize) {
		size_t n = *upsize < sizeof(b->data) - 1 - b->len ? *upsize
								  : sizeof(b->data) - 1 - b->len;
		memcpy(b->data + b->len, up, n);
		b->len += n;
		*upsize = 0;
		return MHD_YES;
	}
	b->data[b->len] = 0;
	int64_t now = wall_us();
	atomic_fetch_add(&R.received, 1);
	int64_t pos = num_after(b->data, "\"position\":");
	bool fresh = true;
	if (pos >= 0 && (size_t)pos < R.nseen) {
		pthread_mutex_lock(&R.lock);
		fresh = !R.seen[pos];
		R.seen[pos] = 1;
		if (fresh && R.measure) {
			int64_t t = num_after(b->data, "\"t_us\":");
			if (t > 0 && R.nlat < R.caplat)
				R.lat[R.nlat++] = now - t;
		}
		pthread_mutex_unlock(&R.lock);
	}
	if (fresh) {
		atomic_fetch_add(&R.unique, 1);
		atomic_store(&R.last_us, now);
	}
	static const char ok[] = "{\"status\":\"received\"}";
	struct MHD_Response *r =
		MHD_create_response_from_buffer(sizeof(ok) - 1, (void *)ok, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", "application/json");
	enum MHD_Result rc = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return rc;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)c, (void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

static struct MHD_Daemon *receiver_start(unsigned threads, int *port)
{
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, on_req, NULL,
		MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_THREAD_POOL_SIZE, threads,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)4000, MHD_OPTION_LISTEN_BACKLOG_SIZE,
		(unsigned)1024, MHD_OPTION_SOCK_ADDR,
		&(struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)},
		MHD_OPTION_END);
	if (!d)
		die("cannot start a receiver", NULL);
	*port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
	return d;
}

static void recv_reset(size_t nseen, bool measure, size_t caplat)
{
	atomic_store(&R.received, 0);
	atomic_store(&R.unique, 0);
	atomic_store(&R.last_us, 0);
	free(R.seen);
	R.seen = xcalloc(nseen, 1);
	R.nseen = nseen;
	free(R.lat);
	R.lat = caplat ? xmalloc(caplat * sizeof(int64_t)) : NULL;
	R.nlat = 0;
	R.caplat = caplat;
	R.measure = measure;
}

/* ---- setup ------------------------------------------------------------------------------ */

struct setup {
	struct store *store;
	char **streams;
	size_t ntasks;
	struct MHD_Daemon **recv;
	int *ports;
	size_t nrecv;
};

static void setup_open(struct setup *s, const char *dir, const char *name, size_t endpoints,
		       size_t tasks)
{
	struct err e = {0};
	char *url = xasprintf("sqlite:%s/%s.db", dir, name);
	if (app_store_open(url, false, &s->store, &e))
		die(url, &e);
	free(url);
	s->nrecv = endpoints;
	s->recv = xcalloc(endpoints, sizeof(*s->recv));
	s->ports = xcalloc(endpoints, sizeof(*s->ports));
	for (size_t i = 0; i < endpoints; i++)
		s->recv[i] = receiver_start(endpoints == 1 ? 2 : 1, &s->ports[i]);
	s->ntasks = tasks;
	s->streams = xcalloc(tasks, sizeof(char *));
	struct app_actor who = {.principal = "bench"};
	for (size_t i = 0; i < tasks; i++) {
		char cb[128], desc[64];
		snprintf(cb, sizeof(cb), "http://127.0.0.1:%d/process_background_feedback",
			 s->ports[i % endpoints]);
		snprintf(desc, sizeof(desc), "delivery bench task %zu", i);
		json_t *config = json_pack("{s:[s],s:i}", "urls", "http://127.0.0.1:1/none",
					   "check_interval_minutes", 60);
		json_t *task = NULL;
		if (app_task_create(s->store, &who, NULL, "web_monitor", desc, config, cb, NULL,
				    &task, &e))
			die("app_task_create", &e);
		char stream[128];
		task_stream_name(json_string_value(json_object_get(task, "task_id")), stream,
				 sizeof(stream));
		s->streams[i] = xstrdup(stream);
		json_decref(task);
		json_decref(config);
	}
}

static void setup_close(struct setup *s)
{
	for (size_t i = 0; i < s->nrecv; i++)
		MHD_stop_daemon(s->recv[i]);
	for (size_t i = 0; i < s->ntasks; i++)
		free(s->streams[i]);
	free(s->streams);
	free(s->recv);
	free(s->ports);
	store_close(s->store);
}

/* A ~300-byte web_content_change. */
static json_t *event_data(long n)
{
	char content[160];
	snprintf(content, sizeof(content),
		 "Update %ld: the page now says the price dropped below the threshold you set; "
		 "see the added lines for the details.",
		 n);
	return json_pack("{s:I,s:s,s:s,s:[s],s:i}", "t_us", (json_int_t)wall_us(), "url",
			 "http://127.0.0.1:1/none", "content", content, "keywords_found", "update",
			 "added_count", 1);
}

static struct delivery *deliverer(struct setup *s)
{
	struct delivery_options o = {.store = s->store, .owner = "bench"};
	char *def = xasprintf("http://127.0.0.1:%d/process_background_feedback", s->ports[0]);
	o.default_url = def;
	struct delivery *d;
	struct err e = {0};
	if (delivery_new(&o, &d, &e) || delivery_start(d, &e))
		die("delivery", &e);
	free(def);
	return d;
}

static double secs(int64_t us)
{
	return (double)us / 1e6;
}

/* ---- throughput ----------------------------------------------------------------------------- */

static void throughput(const char *dir, size_t endpoints, size_t tasks, size_t events)
{
	struct setup s = {0};
	char name[32];
	snprintf(name, sizeof(name), "throughput-%zu", endpoints);
	setup_open(&s, dir, name, endpoints, tasks);
	/* the events, in one append per task */
	struct err e = {0};
	size_t per = (events + tasks - 1) / tasks;
	struct store_new_event *evs = xcalloc(per, sizeof(*evs));
	json_t **datas = xcalloc(per, sizeof(*datas));
	size_t made = 0;
	for (size_t t = 0; t < tasks && made < events; t++) {
		size_t n = 0;
		for (; n < per && made < events; n++, made++) {
			datas[n] = event_data((long)made);
			evs[n] = (struct store_new_event){.type = "web_content_change",
							  .data = datas[n]};
		}
		for (size_t off = 0; off < n; off += STORE_APPEND_MAX) {
			size_t k = n - off < STORE_APPEND_MAX ? n - off : STORE_APPEND_MAX;
			if (store_append(s.store, s.streams[t], STORE_EXPECT_ANY, evs + off, k,
					 NULL, &e))
				die("store_append", &e);
		}
		for (size_t i = 0; i < n; i++)
			json_decref(datas[i]);
	}
	free(evs);
	free(datas);
	int64_t head = 0;
	store_head(s.store, &head, &e);
	recv_reset((size_t)head + 1, false, 0);

	int64_t t0 = wall_us();
	struct delivery *d = deliverer(&s);
	int64_t deadline = t0 + 300 * 1000000LL, done_us = 0;
	struct delivery_status st = {0};
	for (;;) {
		usleep(2000);
		int64_t now = wall_us();
		delivery_status(d, &st);
		if (atomic_load(&R.unique) >= (long)events &&
		    st.delivered + st.failed >= (long)events && st.queued == 0 &&
		    st.overflowed == 0) {
			done_us = now;
			break;
		}
		if (now > deadline) {
			fprintf(stderr,
				"bench_feedback_delivery: %zu endpoints: only %ld of %zu events "
				"received (%ld recorded) after 300 s\n",
				endpoints, atomic_load(&R.unique), events, st.delivered);
			exit(1);
		}
	}
	int64_t last = atomic_load(&R.last_us);
	delivery_free(d);
	printf("throughput endpoints=%zu tasks=%zu events=%zu received_s=%.3f events_per_s=%.0f "
	       "done_s=%.3f done_per_s=%.0f dups=%ld failed=%ld\n",
	       endpoints, tasks, events, secs(last - t0), (double)events / secs(last - t0),
	       secs(done_us - t0), (double)events / secs(done_us - t0),
	       atomic_load(&R.received) - atomic_load(&R.unique), st.failed);
	fflush(stdout);
	setup_close(&s);
}

/* ---- latency -------------------------------------------------------------------------------- */

struct pacer {
	struct setup *s;
	int idx, nthreads;
	double rate;
	int64_t t0, until;
	atomic_long *appended;
};

static void *append_paced(void *arg)
{
	struct pacer *p = arg;
	double per_thread = p->rate / p->nthreads;
	struct err e = {0};
	for (long i = 0;; i++) {
		int64_t due = p->t0 + (int64_t)((double)i * 1e6 / per_thread) +
			      (int64_t)(1e6 / p->rate * p->idx);
		if (due >= p->until)
			break;
		int64_t now = wall_us();
		if (due > now)
			usleep((useconds_t)(due - now));
		json_t *data = event_data(i);
		struct store_new_event ev = {.type = "web_content_change", .data = data};
		size_t t = ((size_t)i * (size_t)p->nthreads + (size_t)p->idx) % p->s->ntasks;
		if (store_append(p->s->store, p->s->streams[t], STORE_EXPECT_ANY, &ev, 1, NULL, &e))
			die("store_append", &e);
		json_decref(data);
		atomic_fetch_add(p->appended, 1);
	}
	return NULL;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void latency(const char *dir, size_t tasks, double rate, double seconds)
{
	struct setup s = {0};
	setup_open(&s, dir, "latency", 1, tasks);
	size_t expect = (size_t)(rate * seconds) + 16;
	int64_t head = 0;
	struct err e = {0};
	store_head(s.store, &head, &e);
	recv_reset((size_t)head + expect * 4 + 16, true, expect);
	struct delivery *d = deliverer(&s);
	/* Pace the appends only once the deliverer holds the lease and follows
	 * the log, so that the latency measured is delivery's, not start-up's. */
	struct delivery_status ls = {0};
	for (int64_t until = wall_us() + 10 * 1000000LL; wall_us() < until; usleep(2000)) {
		delivery_status(d, &ls);
		if (ls.leader && ls.position >= head)
			break;
	}
	enum { NT = 8 };
	pthread_t th[NT];
	struct pacer p[NT];
	atomic_long appended = 0;
	int64_t t0 = wall_us() + 10000;
	for (int i = 0; i < NT; i++) {
		p[i] = (struct pacer){.s = &s,
				      .idx = i,
				      .nthreads = NT,
				      .rate = rate,
				      .t0 = t0,
				      .until = t0 + (int64_t)(seconds * 1e6),
				      .appended = &appended};
		pthread_create(&th[i], NULL, append_paced, &p[i]);
	}
	for (int i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	int64_t deadline = wall_us() + 60 * 1000000LL;
	while (atomic_load(&R.unique) < atomic_load(&appended) && wall_us() < deadline)
		usleep(5000);
	struct delivery_status st;
	delivery_status(d, &st);
	delivery_free(d);
	pthread_mutex_lock(&R.lock);
	size_t n = R.nlat;
	qsort(R.lat, n, sizeof(int64_t), cmp64);
	double p50 = n ? (double)R.lat[n / 2] / 1000.0 : -1;
	double p99 = n ? (double)R.lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1000.0 : -1;
	double mx = n ? (double)R.lat[n - 1] / 1000.0 : -1;
	pthread_mutex_unlock(&R.lock);
	printf("latency endpoints=1 tasks=%zu rate=%.0f events=%ld received=%zu p50_ms=%.2f "
	       "p99_ms=%.2f max_ms=%.2f deliverer_p99_ms=%.2f\n",
	       tasks, rate, atomic_load(&appended), n, p50, p99, mx,
	       (double)st.latency_p99_us / 1000.0);
	fflush(stdout);
	setup_close(&s);
}

/* ---- main ----------------------------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: bench_feedback_delivery --dir DIR [--events N] [--tasks T] "
			"[--endpoints 1,10,100] [--rate R] [--seconds S] [--latency-tasks T] "
			"[--cases tl]\n"
			"       bench_feedback_delivery --receiver\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *endpoints = "1,10,100", *cases = "tl";
	size_t events = 50000, tasks = 256, ltasks = 64;
	double rate = 2000, seconds = 5;
	bool receiver = false;
	xalloc_tune_for_threads(); /* as the ambient binary does */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--receiver") == 0) {
			receiver = true;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (strcmp(a, "--dir") == 0)
			dir = v;
		else if (strcmp(a, "--events") == 0)
			events = strtoul(v, NULL, 10);
		else if (strcmp(a, "--tasks") == 0)
			tasks = strtoul(v, NULL, 10);
		else if (strcmp(a, "--latency-tasks") == 0)
			ltasks = strtoul(v, NULL, 10);
		else if (strcmp(a, "--endpoints") == 0)
			endpoints = v;
		else if (strcmp(a, "--rate") == 0)
			rate = strtod(v, NULL);
		else if (strcmp(a, "--seconds") == 0)
			seconds = strtod(v, NULL);
		else if (strcmp(a, "--cases") == 0)
			cases = v;
		else
			usage();
	}
	pthread_mutex_init(&R.lock, NULL);
	log_level_current = LOG_LEVEL_WARN;
	if (receiver) {
		int port;
		recv_reset(1, false, 0);
		struct MHD_Daemon *d = receiver_start(2, &port);
		printf("listening http://127.0.0.1:%d\n", port);
		fflush(stdout);
		for (;;)
			pause(); /* until SIGTERM */
		MHD_stop_daemon(d);
		return 0;
	}
	if (!dir || !events || !tasks || !ltasks || rate <= 0 || seconds <= 0)
		usage();
	app_tasks_set_net_guard(NULL);
	if (strchr(cases, 't')) {
		char *list = xstrdup(endpoints), *save = NULL;
		for (char *tok = strtok_r(list, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			size_t ep = strtoul(tok, NULL, 10);
			if (ep < 1)
				usage();
			throughput(dir, ep, tasks < ep ? ep : tasks, events);
		}
		free(list);
	}
	if (strchr(cases, 'l'))
		latency(dir, ltasks, rate, seconds);
	free(R.seen);
	free(R.lat);
	return 0;
}
