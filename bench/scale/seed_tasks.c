/*
 * seed_tasks.c - create N web_monitor tasks in a store, fast, for the scale
 * benchmark (bench/scale/run.sh).
 *
 * Each task watches one page of the fixture web server:
 *     {"urls":["BASE/page/<i % pages>"],"keywords":["update"],
 *      "check_interval_minutes":1}
 * The tasks are created with app_task_create(), exactly as `ambient task
 * create` does, from several threads at once so the store's group commit
 * gathers many creations into one transaction.  No --allow-net check is
 * made (app_tasks_set_net_guard(NULL)): the URLs are loopback on purpose.
 *
 * A web_monitor is first due when it is created and then every interval
 * after that, so tasks created in one burst stay due in one burst every
 * minute.  --spread S paces the creations evenly over S seconds (task i no
 * earlier than i * S / N seconds after the start), which spreads their due
 * times as if users had created them over time; without it they are created
 * as fast as the store takes them (the seeding rate).
 *
 * Usage: bench_scale_seed --db sqlite:PATH --count N --base http://127.0.0.1:PORT
 *                         [--pages P] [--threads T] [--start I] [--spread S]
 * Prints one line:
 *     seeded N tasks in S s: R tasks/s (T threads[, paced over S s, at most L s late])
 * Exits non-zero when a creation fails (the error says which and why).
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/tasks.h"
#include "common/err.h"
#include "store/store.h"

#define DEFAULT_THREADS 64
#define MAX_THREADS 512

struct seed {
	struct store *store;
	const char *base;
	long count, pages, start;
	double spread;      /* seconds to pace the creations over; 0: no pacing */
	double t0;          /* start, CLOCK_MONOTONIC seconds */
	double max_late;    /* worst delay of a creation behind its pace, seconds */
	atomic_long next;   /* next index to create */
	atomic_long failed; /* creations that failed */
	pthread_mutex_t err_lock;
	struct err first_err; /* the first failure, reported at the end */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleep until CLOCK_MONOTONIC time `at`; note how late a start already was. */
static void pace(struct seed *sd, double at)
{
	double late = now_s() - at;
	struct timespec ts;

	if (late > 0) {
		pthread_mutex_lock(&sd->err_lock);
		if (late > sd->max_late)
			sd->max_late = late;
		pthread_mutex_unlock(&sd->err_lock);
		return;
	}
	ts.tv_sec = (time_t)at;
	ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
		;
}

static void *seeder(void *arg)
{
	struct seed *sd = arg;
	const struct app_actor who = {.principal = "bench:scale"};
	char url[512], desc[64];
	long i;

	while ((i = atomic_fetch_add(&sd->next, 1)) < sd->count) {
		long n = sd->start + i;
		struct err e = {0};
		json_t *config;

		if (sd->spread > 0)
			pace(sd, sd->t0 + sd->spread * (double)i / (double)sd->count);
		snprintf(url, sizeof url, "%s/page/%ld", sd->base, n % sd->pages);
		snprintf(desc, sizeof desc, "Scale bench monitor %ld", n);
		config = json_pack("{s:[s], s:[s], s:i}", "urls", url, "keywords", "update",
				   "check_interval_minutes", 1);
		if (!config) {
			fprintf(stderr, "bench_scale_seed: could not build the config\n");
			exit(1);
		}
		if (app_task_create(sd->store, &who, NULL, "web_monitor", desc, config, NULL, NULL,
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

static void usage(void)
{
	fprintf(stderr, "usage: bench_scale_seed --db sqlite:PATH --count N "
			"--base http://127.0.0.1:PORT [--pages P] [--threads T] [--start I] "
			"[--spread SECONDS]\n");
	exit(2);
}

/* A whole non-negative number, or usage(). */
static long parse_count(const char *name, const char *s)
{
	char *end;
	long v;

	if (!s)
		usage();
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 0) {
		fprintf(stderr, "bench_scale_seed: %s wants a whole number >= 0, not '%s'\n", name,
			s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	const char *db = NULL;
	long threads = DEFAULT_THREADS;
	struct seed sd = {.count = -1, .pages = 0, .start = 0};
	pthread_t tids[MAX_THREADS];
	struct err e = {0};
	double t0, dt;
	long t;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--db") == 0 && v)
			db = v;
		else if (strcmp(a, "--base") == 0 && v)
			sd.base = v;
		else if (strcmp(a, "--count") == 0)
			sd.count = parse_count(a, v);
		else if (strcmp(a, "--pages") == 0)
			sd.pages = parse_count(a, v);
		else if (strcmp(a, "--threads") == 0)
			threads = parse_count(a, v);
		else if (strcmp(a, "--start") == 0)
			sd.start = parse_count(a, v);
		else if (strcmp(a, "--spread") == 0)
			sd.spread = (double)parse_count(a, v);
		else
			usage();
		i++;
	}
	if (!db || !sd.base || sd.count < 0)
		usage();
	if (sd.pages <= 0)
		sd.pages = sd.count > 0 ? sd.count : 1;
	if (threads < 1)
		threads = 1;
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	if (threads > sd.count && sd.count > 0)
		threads = sd.count;

	app_tasks_set_net_guard(NULL);
	if (app_store_open(db, false, &sd.store, &e)) {
		fprintf(stderr, "bench_scale_seed: opening %s: %s\n", db, err_msg(&e));
		return 1;
	}
	pthread_mutex_init(&sd.err_lock, NULL);

	t0 = sd.t0 = now_s();
	for (t = 0; t < threads; t++) {
		if (pthread_create(&tids[t], NULL, seeder, &sd) != 0) {
			fprintf(stderr, "bench_scale_seed: could not start thread %ld\n", t);
			return 1;
		}
	}
	for (t = 0; t < threads; t++)
		pthread_join(tids[t], NULL);
	dt = now_s() - t0;

	store_close(sd.store);
	if (atomic_load(&sd.failed)) {
		fprintf(stderr, "bench_scale_seed: %ld of %ld creations failed; first: %s\n",
			atomic_load(&sd.failed), sd.count, err_msg(&sd.first_err));
		return 1;
	}
	printf("seeded %ld tasks in %.2f s: %.0f tasks/s (%ld threads", sd.count, dt,
	       dt > 0 ? sd.count / dt : 0.0, threads);
	if (sd.spread > 0)
		printf(", paced over %.0f s, at most %.2f s late", sd.spread, sd.max_late);
	printf(")\n");
	return 0;
}
