/*
 * append.c - how fast can the event store make appends durable, compared with
 * what SQLite itself can do on the same disk?
 *
 * Four cases, each on a fresh database file in one temporary directory (so on
 * one file system), all with journal_mode=WAL and synchronous=FULL:
 *
 *  (a) the store, one appender thread, one event per store_append():
 *      durable events/s and per-append latency p50/p99;
 *  (b) the store, T (64) appender threads, one event per append, each thread
 *      to its own stream: total events/s and per-append latency p50/p99;
 *  (c) raw SQLite (no ambient code): the same rows into the same tables
 *      (events + its indexes, streams upserted per row), 64 rows per
 *      transaction: rows/s -- the ceiling for (b);
 *  (d) raw SQLite, one row per transaction: rows/s and per-commit latency --
 *      the floor for (a).
 *
 * Then the ratios, with their targets (printed, never enforced):
 *  b/c events/s     >= 0.70   (group commit keeps up with batched SQLite)
 *  a/d latency p50  <= 1.50   (a lone append costs little over one commit)
 *
 * Usage: bench_append [--seconds S | --events N] [--threads T] [--dir DIR]
 *                     [--cases abcd]
 * By default every case runs for 5 seconds.  --events N runs N events in (a)
 * and (d) and 10*N in (b) and (c) instead of a time budget.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "store/store.h"

#define DEFAULT_SECONDS 5.0
#define DEFAULT_THREADS 64
#define RAW_BATCH 64 /* rows per transaction in (c) */
#define CONCURRENT_FACTOR 10 /* --events N: (b) and (c) run N * this */

/* ---- time and latency samples --------------------------------------------------- */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct samples {
	int64_t *v; /* nanoseconds */
	size_t n, cap;
};

static void samples_add(struct samples *s, int64_t ns)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		int64_t *v = realloc(s->v, cap * sizeof *v);
		if (!v) {
			fprintf(stderr, "bench_append: out of memory\n");
			exit(1);
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = ns;
}

static void samples_merge(struct samples *into, const struct samples *from)
{
	for (size_t i = 0; i < from->n; i++)
		samples_add(into, from->v[i]);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile in milliseconds; sorts s. */
static double percentile_ms(struct samples *s, double p)
{
	if (s->n == 0)
		return 0;
	qsort(s->v, s->n, sizeof *s->v, cmp_i64);
	size_t rank = (size_t)(p / 100.0 * (double)s->n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return (double)s->v[rank - 1] / 1e6;
}

/* ---- what one case measured -------------------------------------------------------- */

struct result {
	const char *label;
	bool ran;
	int64_t count;   /* events or rows made durable */
	int64_t commits; /* transactions (raw cases only; 0 = unknown) */
	double seconds;
	double per_sec;
	double p50_ms, p99_ms; /* per append (store) or per commit (raw) */
};

static void finish_result(struct result *r, struct samples *lat, int64_t count,
			  int64_t elapsed_ns)
{
	r->ran = true;
	r->count = count;
	r->seconds = (double)elapsed_ns / 1e9;
	r->per_sec = r->seconds > 0 ? (double)count / r->seconds : 0;
	r->p50_ms = percentile_ms(lat, 50);
	r->p99_ms = percentile_ms(lat, 99);
}

/* ---- the event: ~200 bytes of JSON, like a task event ------------------------------- */

#define EVENT_TYPE "TaskCreated"
#define EVENT_META "{\"principal\":\"bench\"}"

static void event_data_text(char *buf, size_t size, int n)
{
	snprintf(buf, size,
		 "{\"task_id\":\"0190f3a2-7c41-7d2e-9b1a-%012d\","
		 "\"title\":\"Write the weekly status report for the bench team\","
		 "\"status\":\"open\",\"priority\":2,\"tags\":[\"bench\",\"append\"],"
		 "\"assignee\":\"bench\",\"due\":\"2025-01-31T17:00:00Z\"}",
		 n);
}

/* ---- temporary files ----------------------------------------------------------------- */

static char tmp_dir[4096];

static void db_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s.db", tmp_dir, name);
}

static void remove_db(const char *path)
{
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	char p[4200];
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
		if (unlink(p) != 0 && errno != ENOENT)
			fprintf(stderr, "bench_append: cannot remove %s: %s\n", p, strerror(errno));
	}
}

/* ---- (a) and (b): the store ------------------------------------------------------------ */

struct worker {
	struct store *st;
	pthread_barrier_t *start;
	int id;
	int64_t quota; /* appends to do, or 0 for "until *deadline_shared" */
	const int64_t *deadline_shared;
	/* out */
	struct samples lat;
	int64_t done, end_ns;
	int rc;
	struct err err;
};

static void *appender(void *arg)
{
	struct worker *w = arg;
	char stream[32], text[512];
	json_error_t jerr;

	snprintf(stream, sizeof stream, "bench-%d", w->id);
	event_data_text(text, sizeof text, w->id);
	json_t *data = json_loads(text, 0, &jerr);
	json_t *meta = json_loads(EVENT_META, 0, &jerr);
	if (!data || !meta) {
		w->rc = err_set(&w->err, ERR_INTERNAL, "bad event JSON: %s", jerr.text);
		pthread_barrier_wait(w->start);
		goto out;
	}
	pthread_barrier_wait(w->start);
	int64_t deadline = *w->deadline_shared;
	for (;;) {
		if (w->quota ? w->done >= w->quota : now_ns() >= deadline)
			break;
		struct store_new_event ev = {.event_id = "", .type = EVENT_TYPE, .data = data,
					     .metadata = meta};
		struct store_append_result res;
		int64_t t0 = now_ns();
		int rc = store_append(w->st, stream, STORE_EXPECT_ANY, &ev, 1, &res, &w->err);
		int64_t t1 = now_ns();
		if (rc) {
			w->rc = rc;
			break;
		}
		samples_add(&w->lat, t1 - t0);
		w->done++;
	}
out:
	w->end_ns = now_ns();
	json_decref(data);
	json_decref(meta);
	return NULL;
}

static int run_store_case(struct result *r, const char *name, int nthreads, int64_t total,
			  double seconds)
{
	char path[4200], url[4300];
	struct store *st = NULL;
	struct err e = {0};
	int rc;

	db_path(path, sizeof path, name);
	snprintf(url, sizeof url, "sqlite:%s?synchronous=full", path);
	if ((rc = store_open(url, NULL, &st, &e))) {
		fprintf(stderr, "bench_append: %s: cannot open the store: %s\n", name, err_msg(&e));
		remove_db(path);
		return rc;
	}

	struct worker *ws = calloc((size_t)nthreads, sizeof *ws);
	pthread_t *tids = calloc((size_t)nthreads, sizeof *tids);
	pthread_barrier_t start;
	int64_t deadline = 0;
	int started = 0;
	if (!ws || !tids) {
		fprintf(stderr, "bench_append: out of memory\n");
		exit(1);
	}
	pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1);
	for (int i = 0; i < nthreads; i++) {
		ws[i].st = st;
		ws[i].start = &start;
		ws[i].id = i;
		ws[i].quota = total ? (total + nthreads - 1) / nthreads : 0;
		ws[i].deadline_shared = &deadline;
		if ((rc = pthread_create(&tids[i], NULL, appender, &ws[i]))) {
			fprintf(stderr, "bench_append: %s: cannot start thread %d: %s\n", name, i,
				strerror(rc));
			exit(1); /* the barrier would never open */
		}
		started++;
	}
	/* The workers read the deadline after the barrier, which publishes it. */
	int64_t t0 = now_ns();
	deadline = t0 + (int64_t)(seconds * 1e9);
	pthread_barrier_wait(&start);

	struct samples lat = {0};
	int64_t done = 0, end = t0;
	rc = 0;
	for (int i = 0; i < started; i++) {
		pthread_join(tids[i], NULL);
		if (ws[i].rc && !rc) {
			rc = ws[i].rc;
			fprintf(stderr, "bench_append: %s: append failed: %s\n", name,
				err_msg(&ws[i].err));
		}
		samples_merge(&lat, &ws[i].lat);
		free(ws[i].lat.v);
		done += ws[i].done;
		if (ws[i].end_ns > end)
			end = ws[i].end_ns;
	}
	pthread_barrier_destroy(&start);

	/* Check that everything arrived, gap-free. */
	int64_t head = 0;
	if (!rc && (rc = store_head(st, &head, &e)))
		fprintf(stderr, "bench_append: %s: cannot read the head: %s\n", name, err_msg(&e));
	else if (!rc && head != done) {
		fprintf(stderr, "bench_append: %s: %" PRId64 " appends returned but the head is %" PRId64
			"\n", name, done, head);
		rc = ERR_INTERNAL;
	}
	if (!rc)
		finish_result(r, &lat, done, end - t0);
	free(lat.v);
	free(ws);
	free(tids);
	store_close(st);
	remove_db(path);
	return rc;
}

/* ---- (c) and (d): SQLite alone ------------------------------------------------------- */

/* Same tables and indexes as migration 1 of store_sqlite.c (the part that an
 * append touches). */
static const char raw_schema[] =
	"CREATE TABLE events("
	" position INTEGER PRIMARY KEY,"
	" event_id TEXT NOT NULL UNIQUE,"
	" stream TEXT NOT NULL,"
	" version INTEGER NOT NULL,"
	" type TEXT NOT NULL,"
	" data TEXT NOT NULL,"
	" metadata TEXT NOT NULL,"
	" recorded_at INTEGER NOT NULL,"
	" UNIQUE(stream, version));"
	"CREATE INDEX events_by_type ON events(type, position);"
	"CREATE TABLE streams(stream TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;";

/* A UUIDv7-shaped id, increasing like the store's (ms prefix + counter). */
static void raw_event_id(char out[64], uint64_t *rng, uint64_t *last_ms, unsigned *counter)
{
	uint64_t ms = (uint64_t)(wall_us() / 1000);
	if (ms <= *last_ms) {
		ms = *last_ms;
		if (++*counter > 0x0fff) {
			ms++;
			*counter = 0;
		}
	} else {
		*counter = 0;
	}
	*last_ms = ms;
	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	snprintf(out, 64, "%08" PRIx64 "-%04" PRIx64 "-7%03x-%04" PRIx64 "-%012" PRIx64,
		 (ms >> 16) & 0xffffffff, ms & 0xffff, *counter & 0xfff,
		 (uint64_t)0x8000 | (*rng >> 50), *rng & (uint64_t)0xffffffffffff);
}

static int raw_fail(sqlite3 *db, const char *name, const char *doing)
{
	fprintf(stderr, "bench_append: %s: %s: %s\n", name, doing, db ? sqlite3_errmsg(db) : "?");
	return ERR_IO;
}

static int raw_exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static int step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int run_raw_case(struct result *r, const char *name, int per_txn, int nstreams,
			int64_t total, double seconds)
{
	char path[4200];
	sqlite3 *db = NULL;
	sqlite3_stmt *begin = NULL, *commit = NULL, *ins = NULL, *up = NULL;
	int64_t *versions = calloc((size_t)nstreams, sizeof *versions);
	char (*streams)[32] = calloc((size_t)nstreams, sizeof *streams);
	struct samples lat = {0};
	int rc = ERR_IO;

	if (!versions || !streams) {
		fprintf(stderr, "bench_append: out of memory\n");
		exit(1);
	}
	db_path(path, sizeof path, name);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)) {
		raw_fail(db, name, "cannot open");
		goto out;
	}
	if (raw_exec(db, "PRAGMA journal_mode=WAL") || raw_exec(db, "PRAGMA synchronous=FULL") ||
	    raw_exec(db, raw_schema)) {
		raw_fail(db, name, "cannot set up");
		goto out;
	}
	if (sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL) ||
	    sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL) ||
	    sqlite3_prepare_v2(db,
			       "INSERT INTO events(position, event_id, stream, version, type, data,"
			       " metadata, recorded_at) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
			       -1, &ins, NULL) ||
	    sqlite3_prepare_v2(db,
			       "INSERT INTO streams(stream, version) VALUES(?1, ?2)"
			       " ON CONFLICT(stream) DO UPDATE SET version = excluded.version",
			       -1, &up, NULL)) {
		raw_fail(db, name, "cannot prepare");
		goto out;
	}

	char data[512], id[64];
	uint64_t rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)now_ns(), last_ms = 0;
	unsigned counter = 0;
	int64_t pos = 0, commits = 0;
	for (int i = 0; i < nstreams; i++)
		snprintf(streams[i], sizeof streams[i], "bench-%d", i);

	int64_t t0 = now_ns(), deadline = t0 + (int64_t)(seconds * 1e9);
	for (;;) {
		if (total ? pos >= total : now_ns() >= deadline)
			break;
		int64_t c0 = now_ns();
		if (step(begin))
			goto sqlfail;
		for (int k = 0; k < per_txn; k++) {
			int s = (int)(pos % nstreams);
			pos++;
			versions[s]++;
			event_data_text(data, sizeof data, s);
			raw_event_id(id, &rng, &last_ms, &counter);
			sqlite3_bind_int64(ins, 1, pos);
			sqlite3_bind_text(ins, 2, id, -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 3, streams[s], -1, SQLITE_STATIC);
			sqlite3_bind_int64(ins, 4, versions[s]);
			sqlite3_bind_text(ins, 5, EVENT_TYPE, -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 6, data, -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 7, EVENT_META, -1, SQLITE_STATIC);
			sqlite3_bind_int64(ins, 8, wall_us());
			if (step(ins))
				goto sqlfail;
			sqlite3_bind_text(up, 1, streams[s], -1, SQLITE_STATIC);
			sqlite3_bind_int64(up, 2, versions[s]);
			if (step(up))
				goto sqlfail;
		}
		if (step(commit))
			goto sqlfail;
		samples_add(&lat, now_ns() - c0);
		commits++;
	}
	int64_t elapsed = now_ns() - t0;
	finish_result(r, &lat, pos, elapsed);
	r->commits = commits;
	rc = ERR_OK;
	goto out;
sqlfail:
	raw_fail(db, name, "insert failed");
out:
	sqlite3_finalize(begin);
	sqlite3_finalize(commit);
	sqlite3_finalize(ins);
	sqlite3_finalize(up);
	sqlite3_close(db);
	remove_db(path);
	free(versions);
	free(streams);
	free(lat.v);
	return rc;
}

/* ---- main ---------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_append [--seconds S | --events N] [--threads T] [--dir DIR] "
		"[--cases abcd]\n"
		"  --seconds S   time budget per case (default %.0f)\n"
		"  --events N    instead of a time budget: N events in (a) and (d), %d*N in (b) "
		"and (c)\n"
		"  --threads T   appender threads in (b), streams in (c) (default %d)\n"
		"  --dir DIR     where to make the temporary directory (default $TMPDIR or /tmp)\n"
		"  --cases LIST  which cases to run, e.g. \"b\" or \"ad\" (default abcd)\n",
		DEFAULT_SECONDS, CONCURRENT_FACTOR, DEFAULT_THREADS);
}

static void print_row(const struct result *r, const char *count_unit)
{
	if (!r->ran) {
		printf("%-44s %10s\n", r->label, "(skipped)");
		return;
	}
	printf("%-44s %9" PRId64 " %-6s %7.2f %10.0f %9.3f %9.3f\n", r->label, r->count,
	       count_unit, r->seconds, r->per_sec, r->p50_ms, r->p99_ms);
}

static void print_ratio(const char *name, bool have, double value, bool at_least,
			double target, const char *what)
{
	if (!have) {
		printf("ratio %s = n/a (target %s %.2f): not measured  [%s]\n", name,
		       at_least ? ">=" : "<=", target, what);
		return;
	}
	bool met = at_least ? value >= target : value <= target;
	printf("ratio %s = %.2f (target %s %.2f): %s  [%s]\n", name, value, at_least ? ">=" : "<=",
	       target, met ? "met" : "NOT met", what);
}

int main(int argc, char **argv)
{
	xalloc_tune_for_threads(); /* as the ambient binary does */
	/* AMBIENT_LOG_LEVEL=info shows the store's group-commit statistics. */
	if (getenv("AMBIENT_LOG_LEVEL"))
		log_parse_level(getenv("AMBIENT_LOG_LEVEL"), &log_level_current, NULL);
	double seconds = DEFAULT_SECONDS;
	int64_t events = 0;
	int threads = DEFAULT_THREADS;
	const char *base = NULL, *cases = "abcd";

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (!v) {
			usage(stderr);
			return 2;
		}
		i++;
		if (strcmp(a, "--seconds") == 0) {
			seconds = strtod(v, &end);
			events = 0;
			if (*end || !(seconds > 0 && seconds <= 3600)) {
				fprintf(stderr, "bench_append: --seconds %s: use a number in (0, 3600]\n", v);
				return 2;
			}
		} else if (strcmp(a, "--events") == 0) {
			events = strtoll(v, &end, 10);
			if (*end || events <= 0 || events > 100000000) {
				fprintf(stderr, "bench_append: --events %s: use a positive integer\n", v);
				return 2;
			}
		} else if (strcmp(a, "--threads") == 0) {
			long t = strtol(v, &end, 10);
			if (*end || t < 1 || t > 4096) {
				fprintf(stderr, "bench_append: --threads %s: use 1..4096\n", v);
				return 2;
			}
			threads = (int)t;
		} else if (strcmp(a, "--dir") == 0) {
			base = v;
		} else if (strcmp(a, "--cases") == 0) {
			cases = v;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!base || !*base)
		base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	snprintf(tmp_dir, sizeof tmp_dir, "%s/bench_append.XXXXXX", base);
	if (!mkdtemp(tmp_dir)) {
		fprintf(stderr, "bench_append: cannot create a directory in %s: %s\n", base,
			strerror(errno));
		return 1;
	}

	char label_b[64];
	snprintf(label_b, sizeof label_b, "(b) store, %d appenders, 1 event/append", threads);
	struct result ra = {.label = "(a) store, 1 appender, 1 event/append"};
	struct result rb = {.label = label_b};
	struct result rc_ = {.label = "(c) raw sqlite, 64 rows/transaction"};
	struct result rd = {.label = "(d) raw sqlite, 1 row/transaction"};
	int64_t n_single = events, n_multi = events * CONCURRENT_FACTOR;
	int failed = 0;

	printf("ambient append benchmark: SQLite %s, journal_mode=WAL, synchronous=FULL\n",
	       sqlite3_libversion());
	printf("databases in %s; ", tmp_dir);
	if (events)
		printf("%" PRId64 " events in (a),(d), %" PRId64 " in (b),(c)\n", n_single, n_multi);
	else
		printf("%.1f s per case\n", seconds);
	fflush(stdout);

	if (strchr(cases, 'a') && run_store_case(&ra, "a", 1, n_single, seconds))
		failed = 1;
	if (strchr(cases, 'b') && run_store_case(&rb, "b", threads, n_multi, seconds))
		failed = 1;
	if (strchr(cases, 'c') && run_raw_case(&rc_, "c", RAW_BATCH, threads, n_multi, seconds))
		failed = 1;
	if (strchr(cases, 'd') && run_raw_case(&rd, "d", 1, 1, n_single, seconds))
		failed = 1;
	if (rmdir(tmp_dir) != 0)
		fprintf(stderr, "bench_append: cannot remove %s: %s\n", tmp_dir, strerror(errno));

	printf("\n%-44s %9s %-6s %7s %10s %9s %9s\n", "case", "count", "", "seconds", "per second",
	       "p50 ms", "p99 ms");
	print_row(&ra, "events");
	print_row(&rb, "events");
	print_row(&rc_, "rows");
	print_row(&rd, "rows");
	printf("(latency: per store_append() call in (a),(b); per BEGIN..COMMIT in (c),(d))\n");
	if (rc_.ran)
		printf("(c) made %" PRId64 " commits of %d rows\n", rc_.commits, RAW_BATCH);
	printf("\n");
	print_ratio("b/c", rb.ran && rc_.ran && rc_.per_sec > 0,
		    rc_.per_sec > 0 ? rb.per_sec / rc_.per_sec : 0, true, 0.70,
		    "events/s of (b) over rows/s of (c)");
	print_ratio("a/d", ra.ran && rd.ran && rd.p50_ms > 0,
		    rd.p50_ms > 0 ? ra.p50_ms / rd.p50_ms : 0, false, 1.50,
		    "p50 latency of (a) over p50 commit latency of (d)");
	return failed;
}
