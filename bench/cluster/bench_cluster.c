/*
 * bench_cluster.c - the load generators of the cluster benchmark
 * (bench/cluster/run.sh), on any event store URL (sqlite:PATH or
 * postgres://...).
 *
 *   bench_cluster append --db URL [--threads T] [--seconds S] [--warmup W] [--tag TAG]
 *       T threads (default 64) each append one ~210-byte event per
 *       store_append() to a stream of their own (STORE_EXPECT_ANY), for S
 *       seconds (default 3) after W seconds (default 0.5) that are not
 *       counted.  The event is the one bench/append.c uses, so the figures
 *       compare with its case (b).  TAG (default the process id) goes into
 *       the stream names, so processes sharing a store write streams of their
 *       own.  Prints
 *           RESULT db=SCHEME events=N seconds=S eps=R p50_ms=A p99_ms=B threads=T
 *
 *   bench_cluster seed --db URL --count N --at ISO-8601 [--threads T] [--tag TAG]
 *       creates N schedule tasks {"type": "once", "at": ISO} with
 *       app_task_create(), exactly as `ambient task create` does, from T
 *       threads (default 32) so the store's group commit gathers them.  Every
 *       one of them comes due at the same instant, so the engines of a cluster
 *       get a burst of N checks at a time the caller knows, however long the
 *       seeding took.  Prints
 *           RESULT seeded=N seconds=S tps=R threads=T
 *
 * Exits non-zero when the store cannot be opened or an append or a creation
 * fails (the message says which and why).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <jansson.h>
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
#include "store/store.h"

#define MAX_THREADS 1024
#define EVENT_TYPE "TaskCreated"
#define EVENT_META "{\"principal\":\"bench\"}"

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void oom(void)
{
	fprintf(stderr, "bench_cluster: out of memory\n");
	exit(1);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_cluster append --db URL [--threads T] [--seconds S] "
		   "[--warmup W] [--tag TAG]\n"
		   "       bench_cluster seed --db URL --count N --at ISO-8601 [--threads T] "
		   "[--tag TAG]\n");
}

/* Start `threads` threads on fn(arg + i * size), wait for all of them. */
static void run_threads(int threads, void *(*fn)(void *), void *arg, size_t size)
{
	pthread_t *tids = calloc((size_t)threads, sizeof *tids);
	if (!tids)
		oom();
	for (int i = 0; i < threads; i++) {
		int rc = pthread_create(&tids[i], NULL, fn, (char *)arg + (size_t)i * size);
		if (rc) {
			fprintf(stderr, "bench_cluster: cannot start thread %d: %s\n", i,
				strerror(rc));
			exit(1); /* a barrier would never open */
		}
	}
	for (int i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	free(tids);
}

/* ---- append -------------------------------------------------------------------------- */

struct appender {
	struct store *st;
	pthread_barrier_t *start;
	const char *tag;
	int id;
	const int64_t *window; /* [measure_from, until], CLOCK_MONOTONIC ns; set before the
				* barrier opens, which publishes it */
	/* out */
	int64_t *lat; /* ns of the counted appends */
	size_t n, cap;
	int rc;
	struct err err;
};

static void lat_add(struct appender *w, int64_t ns)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 4096;
		int64_t *v = realloc(w->lat, cap * sizeof *v);
		if (!v)
			oom();
		w->lat = v;
		w->cap = cap;
	}
	w->lat[w->n++] = ns;
}

static void *append_main(void *arg)
{
	struct appender *w = arg;
	char stream[96], text[512];
	json_error_t jerr;

	snprintf(stream, sizeof stream, "bench-%s-%d", w->tag, w->id);
	snprintf(text, sizeof text,
		 "{\"task_id\":\"0190f3a2-7c41-7d2e-9b1a-%012d\","
		 "\"title\":\"Write the weekly status report for the bench team\","
		 "\"status\":\"open\",\"priority\":2,\"tags\":[\"bench\",\"append\"],"
		 "\"assignee\":\"bench\",\"due\":\"2025-01-31T17:00:00Z\"}",
		 w->id);
	json_t *data = json_loads(text, 0, &jerr);
	json_t *meta = json_loads(EVENT_META, 0, &jerr);
	pthread_barrier_wait(w->start);
	int64_t from = w->window[0], until = w->window[1];
	if (!data || !meta) {
		w->rc = err_set(&w->err, ERR_INTERNAL, "bad event JSON: %s", jerr.text);
		goto out;
	}
	for (;;) {
		int64_t t0 = now_ns();
		if (t0 >= until)
			break;
		struct store_new_event ev = {
			.event_id = "", .type = EVENT_TYPE, .data = data, .metadata = meta};
		struct store_append_result res;
		int rc = store_append(w->st, stream, STORE_EXPECT_ANY, &ev, 1, &res, &w->err);
		int64_t t1 = now_ns();
		if (rc) {
			w->rc = rc;
			break;
		}
		/* counted when it started and ended inside the window */
		if (t0 >= from && t1 <= until)
			lat_add(w, t1 - t0);
	}
out:
	json_decref(data);
	json_decref(meta);
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static double pct_ms(const int64_t *v, size_t n, double p)
{
	if (!n)
		return 0;
	size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	rank = rank < 1 ? 1 : rank > n ? n : rank;
	return (double)v[rank - 1] / 1e6;
}

static int cmd_append(const char *url, int threads, double seconds, double warmup, const char *tag)
{
	struct store *st = NULL;
	struct err e = {0};
	if (store_open(url, NULL, &st, &e)) {
		fprintf(stderr, "bench_cluster: cannot open %s: %s\n", url, err_msg(&e));
		return 1;
	}
	struct appender *ws = calloc((size_t)threads, sizeof *ws);
	if (!ws)
		oom();
	pthread_barrier_t start;
	int64_t window[2];
	pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
	for (int i = 0; i < threads; i++)
		ws[i] = (struct appender){
			.st = st, .start = &start, .tag = tag, .id = i, .window = window};

	/* The workers wait at the barrier; this thread joins it last. */
	pthread_t *tids = calloc((size_t)threads, sizeof *tids);
	if (!tids)
		oom();
	for (int i = 0; i < threads; i++) {
		int rc = pthread_create(&tids[i], NULL, append_main, &ws[i]);
		if (rc) {
			fprintf(stderr, "bench_cluster: cannot start thread %d: %s\n", i,
				strerror(rc));
			exit(1);
		}
	}
	window[0] = now_ns() + (int64_t)(warmup * 1e9);
	window[1] = window[0] + (int64_t)(seconds * 1e9);
	pthread_barrier_wait(&start);

	int rc = 0;
	size_t total = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(tids[i], NULL);
		if (ws[i].rc && !rc) {
			rc = ws[i].rc;
			fprintf(stderr, "bench_cluster: append failed: %s\n", err_msg(&ws[i].err));
		}
		total += ws[i].n;
	}
	pthread_barrier_destroy(&start);
	int64_t *all = malloc((total ? total : 1) * sizeof *all);
	if (!all)
		oom();
	size_t k = 0;
	for (int i = 0; i < threads; i++) {
		memcpy(all + k, ws[i].lat, ws[i].n * sizeof *all);
		k += ws[i].n;
		free(ws[i].lat);
	}
	qsort(all, total, sizeof *all, cmp_i64);
	const char *colon = strchr(url, ':');
	int scheme_len = colon ? (int)(colon - url) : (int)strlen(url);
	if (!rc)
		printf("RESULT db=%.*s events=%zu seconds=%.2f eps=%.1f p50_ms=%.3f p99_ms=%.3f "
		       "threads=%d\n",
		       scheme_len, url, total, seconds, (double)total / seconds,
		       pct_ms(all, total, 50), pct_ms(all, total, 99), threads);
	free(all);
	free(ws);
	free(tids);
	store_close(st);
	return rc ? 1 : 0;
}

/* ---- seed ------------------------------------------------------------------------------ */

struct seed {
	struct store *store;
	const char *at, *tag;
	long count;
	atomic_long next;   /* next index to create */
	atomic_long failed; /* creations that failed */
	pthread_mutex_t err_lock;
	struct err first_err; /* the first failure, reported at the end */
};

static void *seed_main(void *arg)
{
	struct seed *sd = *(struct seed **)arg;
	const struct app_actor who = {.principal = "bench:cluster"};
	char desc[96];
	long i;

	while ((i = atomic_fetch_add(&sd->next, 1)) < sd->count) {
		struct err e = {0};
		snprintf(desc, sizeof desc, "Cluster bench burst %s #%ld", sd->tag, i);
		json_t *config = json_pack("{s:s, s:s}", "type", "once", "at", sd->at);
		if (!config)
			oom();
		if (app_task_create(sd->store, &who, NULL, "schedule", desc, config, NULL, NULL,
				    NULL, &e)) {
			atomic_fetch_add(&sd->failed, 1);
			pthread_mutex_lock(&sd->err_lock);
			if (!sd->first_err.code)
				sd->first_err = e;
			pthread_mutex_unlock(&sd->err_lock);
		}
		json_decref(config);
	}
	return NULL;
}

static int cmd_seed(const char *url, long count, const char *at, int threads, const char *tag)
{
	struct seed sd = {.at = at, .tag = tag, .count = count};
	struct err e = {0};
	app_tasks_set_net_guard(NULL);
	if (app_store_open(url, false, &sd.store, &e)) {
		fprintf(stderr, "bench_cluster: opening %s: %s\n", url, err_msg(&e));
		return 1;
	}
	pthread_mutex_init(&sd.err_lock, NULL);
	if (threads > count && count > 0)
		threads = (int)count;
	struct seed **args = calloc((size_t)threads, sizeof *args);
	if (!args)
		oom();
	for (int i = 0; i < threads; i++)
		args[i] = &sd;
	int64_t t0 = now_ns();
	run_threads(threads, seed_main, args, sizeof *args);
	double dt = (double)(now_ns() - t0) / 1e9;
	free(args);
	store_close(sd.store);
	pthread_mutex_destroy(&sd.err_lock);
	if (atomic_load(&sd.failed)) {
		fprintf(stderr, "bench_cluster: %ld of %ld creations failed; first: %s\n",
			atomic_load(&sd.failed), count, err_msg(&sd.first_err));
		return 1;
	}
	printf("RESULT seeded=%ld seconds=%.2f tps=%.0f threads=%d\n", count, dt,
	       dt > 0 ? (double)count / dt : 0.0, threads);
	return 0;
}

/* ---- main -------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *cmd = argv[1], *url = NULL, *tag = NULL, *at = NULL;
	int threads = 0;
	long count = -1;
	double seconds = 3, warmup = 0.5;
	char pid_tag[32];

	for (int i = 2; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			usage(stderr);
			return 2;
		}
		if (strcmp(a, "--db") == 0)
			url = v;
		else if (strcmp(a, "--threads") == 0)
			threads = atoi(v);
		else if (strcmp(a, "--seconds") == 0)
			seconds = strtod(v, NULL);
		else if (strcmp(a, "--warmup") == 0)
			warmup = strtod(v, NULL);
		else if (strcmp(a, "--tag") == 0)
			tag = v;
		else if (strcmp(a, "--count") == 0)
			count = strtol(v, NULL, 10);
		else if (strcmp(a, "--at") == 0)
			at = v;
		else {
			usage(stderr);
			return 2;
		}
	}
	if (!tag) {
		snprintf(pid_tag, sizeof pid_tag, "%ld", (long)getpid());
		tag = pid_tag;
	}
	if (threads < 0 || threads > MAX_THREADS || !url) {
		usage(stderr);
		fprintf(stderr, "bench_cluster: --db is required; --threads 1-%d\n", MAX_THREADS);
		return 2;
	}
	if (strcmp(cmd, "append") == 0) {
		if (!(seconds > 0) || warmup < 0) {
			fprintf(stderr, "bench_cluster: --seconds must be > 0, --warmup >= 0\n");
			return 2;
		}
		return cmd_append(url, threads ? threads : 64, seconds, warmup, tag);
	}
	if (strcmp(cmd, "seed") == 0) {
		if (count < 0 || !at) {
			fprintf(stderr, "bench_cluster: seed needs --count N and --at ISO-8601\n");
			return 2;
		}
		return cmd_seed(url, count, at, threads ? threads : 32, tag);
	}
	usage(stderr);
	return 2;
}
