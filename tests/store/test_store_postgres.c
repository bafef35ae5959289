/*
 * test_store_postgres.c - what only the PostgreSQL back end has to prove:
 * gap-free positions while commits of several writers (and a deliberately
 * slow transaction) interleave, one winner when two nodes append the same
 * event id at once, NOTIFY waking a waiter of another handle, carrying on
 * across a server restart, migrations (concurrent, and refusing a newer
 * schema), connection errors that say what to do, and the password kept
 * out of store_url().
 *
 * Needs a server: AMBIENT_TEST_PG_URL (postgres://USER@HOST:PORT/DB, a user
 * who may create databases), and for the restart test PGTMP (the path of
 * tests/support/pgtmp.sh) and PGTMP_DIR (the directory of its cluster).
 * tests/store/run_pg_suite.sh sets them up.  Each test gets a fresh
 * database, dropped afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "../test_util.h"
#include "common/uuid.h"
#include "store/store.h"

struct fixture {
	char db[64];
	char url[1024];
};

static const char *base_url(void)
{
	const char *u = getenv("AMBIENT_TEST_PG_URL");
	return u && *u ? u : NULL;
}

/* base with the database replaced by db (and query text appended). */
static void url_for(const char *db, const char *query, char *out, size_t size)
{
	const char *base = base_url();
	const char *auth = strstr(base, "://") + 3;
	size_t host_len = strcspn(auth, "/?");
	snprintf(out, size, "%.*s/%s%s", (int)(auth + host_len - base), base, db,
		 query ? query : "");
}

static void quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* A raw connection to a database of the test server (NULL db: the URL's). */
static PGconn *raw_connect(const char *db)
{
	char url[1024];
	if (db)
		url_for(db, NULL, url, sizeof url);
	PGconn *c = PQconnectdb(db ? url : base_url());
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("cannot connect to the test server: %s", PQerrorMessage(c));
	PQsetNoticeProcessor(c, quiet, NULL);
	return c;
}

static void raw_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

static int setup(void **state)
{
	static int counter;
	struct fixture *f = calloc(1, sizeof *f);
	char sql[128];

	if (!base_url()) {
		fprintf(stderr, "AMBIENT_TEST_PG_URL is not set; run this through "
				"tests/store/run_pg_suite.sh\n");
		return -1;
	}
	snprintf(f->db, sizeof f->db, "ambient_pg_%d_%d", (int)getpid(), ++counter);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", f->db);
	PGconn *c = raw_connect(NULL);
	raw_exec(c, sql);
	PQfinish(c);
	url_for(f->db, NULL, f->url, sizeof f->url);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char sql[128];
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->db);
	PGconn *c = raw_connect(NULL);
	raw_exec(c, sql);
	PQfinish(c);
	free(f);
	return 0;
}

static struct store *open_ok(const char *url, const struct store_options *opt)
{
	struct store *s = NULL;
	struct err e = {0};
	if (store_open(url, opt, &s, &e))
		fail_msg("store_open(%s): %s", url, err_msg(&e));
	return s;
}

static int append1(struct store *s, const char *stream, int64_t expected, const char *id,
		   struct store_append_result *res, struct err *e)
{
	json_t *data = json_pack("{s:s}", "k", "v");
	struct store_new_event ev = {.type = "t", .data = data};
	if (id)
		snprintf(ev.event_id, sizeof ev.event_id, "%s", id);
	int rc = store_append(s, stream, expected, &ev, 1, res, e);
	json_decref(data);
	return rc;
}

/* ---- gap-free order ------------------------------------------------------------------ */

struct gap_writer {
	struct store *s;
	int id, count, failures;
	atomic_bool *stop;
};

static void *gap_writer_main(void *p)
{
	struct gap_writer *w = p;
	struct err e = {0};
	char stream[32];
	snprintf(stream, sizeof stream, "gap-%d", w->id);
	for (int i = 0; i < w->count; i++)
		if (append1(w->s, stream, STORE_EXPECT_ANY, NULL, NULL, &e)) {
			fprintf(stderr, "append: %s\n", err_msg(&e));
			w->failures++;
		}
	return NULL;
}

struct gap_reader {
	struct store *s;
	atomic_bool *stop;
	int64_t seen;
	int gaps, reads, failures;
};

/* Read the log over and over from what was seen: every read must go on at
 * seen + 1, with no hole, whatever order the writers commit in. */
static void *gap_reader_main(void *p)
{
	struct gap_reader *r = p;
	struct err e = {0};
	while (!atomic_load(r->stop)) {
		struct store_event_list l = {0};
		if (store_read_all(r->s, r->seen, false, 0, NULL, &l, &e)) {
			r->failures++;
			continue;
		}
		r->reads++;
		for (size_t i = 0; i < l.count; i++) {
			if (l.items[i].position != r->seen + 1)
				r->gaps++;
			r->seen = l.items[i].position;
		}
		store_event_list_cleanup(&l);
	}
	return NULL;
}

/* A transaction of another writer that takes the same lock the store takes,
 * appends one event and holds on to it for a while before committing. */
static void *slow_transaction(void *p)
{
	const char *db = p;
	PGconn *c = raw_connect(db);
	raw_exec(c, "BEGIN");
	PGresult *r = PQexec(c, "SELECT position FROM log_head WHERE id = 1 FOR UPDATE");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("lock: %s", PQerrorMessage(c));
	long long pos = strtoll(PQgetvalue(r, 0, 0), NULL, 10) + 1;
	PQclear(r);
	char sql[600];
	snprintf(sql, sizeof sql,
		 "INSERT INTO streams VALUES ('slow', 1);"
		 "INSERT INTO events VALUES (%lld, '0190d3a8-0000-7000-8000-000000000001', 'slow', "
		 "1,"
		 " 'slow', '{}', '{}', 0);"
		 "UPDATE log_head SET position = %lld WHERE id = 1;"
		 "SELECT pg_sleep(0.5)",
		 pos, pos);
	raw_exec(c, sql);
	raw_exec(c, "COMMIT");
	PQfinish(c);
	return NULL;
}

static void test_gap_free_order(void **state)
{
	struct fixture *f = *state;
	struct store *fast = open_ok(f->url, NULL), *slow;
	struct store_event_list l = {0};
	atomic_bool stop = false;
	struct err e = {0};

	/* One node commits slowly (sleeping while it holds the lock). */
	setenv("AMBIENT_PG_TEST_COMMIT_DELAY_MS", "20", 1);
	slow = open_ok(f->url, NULL);
	unsetenv("AMBIENT_PG_TEST_COMMIT_DELAY_MS");

	struct gap_reader rd = {.s = fast, .stop = &stop};
	struct gap_writer w[6];
	pthread_t rt, wt[6], st;
	pthread_create(&rt, NULL, gap_reader_main, &rd);
	for (int i = 0; i < 6; i++) {
		w[i] = (struct gap_writer){.s = i % 2 ? slow : fast, .id = i, .count = 60};
		pthread_create(&wt[i], NULL, gap_writer_main, &w[i]);
	}
	pthread_create(&st, NULL, slow_transaction, f->db);
	pthread_join(st, NULL);
	int total = 1;
	for (int i = 0; i < 6; i++) {
		pthread_join(wt[i], NULL);
		assert_int_equal(w[i].failures, 0);
		total += w[i].count;
	}
	atomic_store(&stop, true);
	pthread_join(rt, NULL);
	assert_int_equal(rd.failures, 0);
	assert_int_equal(rd.gaps, 0);
	assert_true(rd.reads > 0);

	assert_int_equal(store_read_all(fast, 0, false, 0, NULL, &l, &e), ERR_OK);
	assert_int_equal(l.count, total);
	for (size_t i = 0; i < l.count; i++)
		assert_int_equal(l.items[i].position, (int64_t)i + 1);
	store_event_list_cleanup(&l);
	/* both handles agree on the versions of a stream they did not write */
	int64_t v = 0;
	assert_int_equal(store_stream_version(slow, "gap-0", &v, &e), ERR_OK);
	assert_int_equal(v, 60);
	store_close(fast);
	store_close(slow);
}

/* ---- one event id, two nodes, at the same time ------------------------------------ */

struct racer {
	struct store *s;
	pthread_barrier_t *go;
	char id[UUID_STR_LEN + 1];
	char stream[32];
	int rc;
	struct store_append_result res;
	struct err e;
};

static void *racer_main(void *p)
{
	struct racer *r = p;
	pthread_barrier_wait(r->go);
	r->rc = append1(r->s, r->stream, STORE_EXPECT_NO_STREAM, r->id, &r->res, &r->e);
	return NULL;
}

static void test_concurrent_duplicate_two_nodes(void **state)
{
	struct fixture *f = *state;
	struct store *n1 = open_ok(f->url, NULL), *n2 = open_ok(f->url, NULL);
	pthread_barrier_t go;
	int rounds = 60, first_wins = 0;
	struct err e = {0};

	pthread_barrier_init(&go, NULL, 2);
	for (int i = 0; i < rounds; i++) {
		struct racer a = {.s = n1, .go = &go}, b = {.s = n2, .go = &go};
		pthread_t ta, tb;
		/* "a scheduled slot fires at most once across the cluster" */
		uuid_v7(clock_system(), a.id);
		memcpy(b.id, a.id, sizeof b.id);
		snprintf(a.stream, sizeof a.stream, "slot-%d", i);
		memcpy(b.stream, a.stream, sizeof b.stream);
		pthread_create(&ta, NULL, racer_main, &a);
		pthread_create(&tb, NULL, racer_main, &b);
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		if (a.rc || b.rc)
			fail_msg("round %d: %s / %s", i, err_msg(&a.e), err_msg(&b.e));
		/* exactly one wrote it; the other got the original positions */
		assert_true(a.res.duplicate != b.res.duplicate);
		assert_int_equal(a.res.first_position, b.res.first_position);
		assert_int_equal(a.res.version, 1);
		assert_int_equal(b.res.version, 1);
		first_wins += !a.res.duplicate;
	}
	pthread_barrier_destroy(&go);
	int64_t head = 0;
	assert_int_equal(store_head(n1, &head, &e), ERR_OK);
	assert_int_equal(head, rounds);
	printf("node 1 won %d of %d races\n", first_wins, rounds);
	store_close(n1);
	store_close(n2);
}

/* ---- NOTIFY wakes a waiter of another handle -------------------------------------------- */

struct waiter {
	struct store *s;
	int64_t after;
	int rc;
	atomic_long tid; /* the waiting thread, once it runs */
	double woken_at;
};

static void *waiter_main(void *p)
{
	struct waiter *w = p;
	struct err e = {0};
	atomic_store(&w->tid, (long)syscall(SYS_gettid));
	w->rc = store_wait(w->s, w->after, 20000, &e);
	w->woken_at = test_now();
	return NULL;
}

/* Is the waiter's thread asleep (blocked in store_wait, as far as one can
 * tell from outside)? */
static bool waiter_asleep(void *p)
{
	struct waiter *w = p;
	long tid = atomic_load(&w->tid);
	char path[64], buf[256];
	if (!tid)
		return false;
	snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *state = strrchr(buf, ')'); /* after the thread's name */
	return state && state[1] == ' ' && state[2] == 'S';
}

static void test_notify_wakes_other_handle(void **state)
{
	struct fixture *f = *state;
	struct store *a = open_ok(f->url, NULL), *b = open_ok(f->url, NULL);
	struct err e = {0};
	pthread_t t;

	/* nothing comes: a timeout */
	assert_int_equal(store_wait(a, 0, 50, &e), ERR_TIMEOUT);
	for (int round = 0; round < 3; round++) {
		struct waiter w = {.s = a, .after = round};
		pthread_create(&t, NULL, waiter_main, &w);
		/* append once it waits (the test passes either way) */
		assert_true(test_wait_until(waiter_asleep, &w, 10));
		double append_at = test_now();
		assert_int_equal(append1(b, "notify", STORE_EXPECT_ANY, NULL, NULL, &e), ERR_OK);
		pthread_join(t, NULL);
		assert_int_equal(w.rc, ERR_OK);
		printf("woken %.1f ms after the append began\n", (w.woken_at - append_at) * 1000);
	}
	/* a subscription of a sees b's appends, live */
	struct store_sub *sub = store_subscribe(a, "sub", 0, NULL);
	struct store_event_list l = {0};
	assert_int_equal(store_sub_next(sub, 10, 0, &l, &e), ERR_OK);
	assert_int_equal(l.count, 3);
	store_event_list_cleanup(&l);
	assert_int_equal(append1(b, "notify", STORE_EXPECT_ANY, NULL, NULL, &e), ERR_OK);
	assert_int_equal(store_sub_next(sub, 10, 20000, &l, &e), ERR_OK);
	assert_int_equal(l.count, 1);
	assert_int_equal(l.items[0].position, 4);
	store_event_list_cleanup(&l);
	store_sub_free(sub);
	store_close(a);
	store_close(b);
}

/* ---- carrying on across a server restart -------------------------------------------------- */

struct loader {
	struct store *s;
	int id;
	atomic_int *phase; /* 0 before, 1 restarting, 2 after */
	atomic_int before;
	int after, failures;
	struct err last;
};

static void *loader_main(void *p)
{
	struct loader *l = p;
	char stream[32];
	snprintf(stream, sizeof stream, "load-%d", l->id);
	/* keep appending until 50 appends succeeded after the restart */
	while (l->after < 50) {
		int phase = atomic_load(l->phase);
		struct err e = {0};
		char id[UUID_STR_LEN + 1];
		uuid_v7(clock_system(), id);
		if (append1(l->s, stream, STORE_EXPECT_ANY, l->id % 2 ? id : NULL, NULL, &e)) {
			l->failures++;
			l->last = e;
			continue;
		}
		if (phase == 2)
			l->after++;
		else
			atomic_fetch_add(&l->before, 1);
	}
	return NULL;
}

static void test_reconnect_after_restart(void **state)
{
	struct fixture *f = *state;
	const char *pgtmp = getenv("PGTMP"), *dir = getenv("PGTMP_DIR");
	struct store *s = open_ok(f->url, NULL), *w = open_ok(f->url, NULL);
	struct err e = {0};
	atomic_int phase = 0;
	char cmd[2048];

	if (!pgtmp || !dir)
		fail_msg("PGTMP and PGTMP_DIR must name pgtmp.sh and its cluster (run_pg_suite.sh "
			 "sets them)");
	/* a waiter's listener connection is up before the restart */
	assert_int_equal(append1(s, "first", STORE_EXPECT_ANY, NULL, NULL, &e), ERR_OK);
	assert_int_equal(store_wait(w, 0, 20000, &e), ERR_OK);

	struct loader l[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		l[i] = (struct loader){.s = s, .id = i, .phase = &phase};
		pthread_create(&t[i], NULL, loader_main, &l[i]);
	}
	/* wait until they are busy, then restart the server under them */
	double end = test_now() + 60;
	while (atomic_load(&l[0].before) < 20 && test_now() < end)
		usleep(1000);
	atomic_store(&phase, 1);
	snprintf(cmd, sizeof cmd, "'%s' restart '%s'", pgtmp, dir);
	assert_int_equal(system(cmd), 0);
	atomic_store(&phase, 2);
	int acknowledged = 1;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		if (l[i].failures)
			fprintf(stderr, "loader %d: %d failures, last: %s\n", i, l[i].failures,
				err_msg(&l[i].last));
		assert_int_equal(l[i].failures, 0);
		acknowledged += atomic_load(&l[i].before) + l[i].after;
	}
	/* Every acknowledged append is there exactly once (appends whose
	 * commit was in doubt were run again with the same ids), with no gap. */
	struct store_event_list all = {0};
	assert_int_equal(store_read_all(w, 0, false, 0, NULL, &all, &e), ERR_OK);
	assert_int_equal(all.count, acknowledged);
	for (size_t i = 0; i < all.count; i++)
		assert_int_equal(all.items[i].position, (int64_t)i + 1);
	store_event_list_cleanup(&all);
	/* the other handle's reads and its listener came back too */
	int64_t head = 0;
	assert_int_equal(store_head(w, &head, &e), ERR_OK);
	struct waiter wt = {.s = w, .after = head};
	pthread_t th;
	pthread_create(&th, NULL, waiter_main, &wt);
	assert_int_equal(append1(s, "last", STORE_EXPECT_ANY, NULL, NULL, &e), ERR_OK);
	pthread_join(th, NULL);
	assert_int_equal(wt.rc, ERR_OK);
	/* and everything else still works */
	assert_int_equal(store_checkpoint_set(w, "after-restart", head, &e), ERR_OK);
	struct store_lease lease;
	assert_int_equal(store_lease_acquire(w, "engine", "me", 1000, &lease, &e), ERR_OK);
	assert_true(lease.held);
	store_close(s);
	store_close(w);
}

/* A longer outage: once it has lasted the reconnect wait (here 1 s, by
 * AMBIENT_PG_RECONNECT_MS), every call tries once and fails with a message
 * that says how long the server has been gone, instead of each call
 * waiting the whole time again; when the server is back, so is the store. */
static void test_outage_fails_fast(void **state)
{
	struct fixture *f = *state;
	const char *pgtmp = getenv("PGTMP"), *dir = getenv("PGTMP_DIR");
	struct err e = {0};
	char cmd[2048];

	if (!pgtmp || !dir)
		fail_msg("PGTMP and PGTMP_DIR must name pgtmp.sh and its cluster (run_pg_suite.sh "
			 "sets them)");
	setenv("AMBIENT_PG_RECONNECT_MS", "1000", 1);
	struct store *s = open_ok(f->url, NULL);
	unsetenv("AMBIENT_PG_RECONNECT_MS");
	assert_int_equal(append1(s, "before", STORE_EXPECT_ANY, NULL, NULL, &e), ERR_OK);

	snprintf(cmd, sizeof cmd, "'%s' stop '%s'", pgtmp, dir);
	assert_int_equal(system(cmd), 0);
	int64_t head = 0;
	assert_int_equal(store_head(s, &head, &e), ERR_IO); /* waits its second, then gives up */
	/* Everyone after it gives up at once, saying for how long it is down:
	 * twenty calls in all end well inside a deadline one wait each would
	 * overrun. */
	double end = test_now() + 15;
	for (int i = 0; i < 20; i++) {
		struct err ei = {0};
		int rc = i % 2 ? store_head(s, &head, &ei)
			       : append1(s, "during", STORE_EXPECT_ANY, NULL, NULL, &ei);
		assert_int_not_equal(rc, ERR_OK);
		if (!strstr(err_msg(&ei), "has been unreachable for"))
			fail_msg("call %d: %s", i, err_msg(&ei));
	}
	assert_true(test_now() < end);

	snprintf(cmd, sizeof cmd, "'%s' restart '%s'", pgtmp, dir);
	assert_int_equal(system(cmd), 0);
	end = test_now() + 30;
	int rc;
	while ((rc = append1(s, "after", STORE_EXPECT_ANY, NULL, NULL, &e)) != ERR_OK &&
	       test_now() < end)
		usleep(100 * 1000);
	assert_int_equal(rc, ERR_OK);
	assert_int_equal(store_head(s, &head, &e), ERR_OK);
	assert_int_equal(head, 2); /* before, after: the refused appends left nothing */
	store_close(s);
}

/* ---- schema ------------------------------------------------------------------------------------
 */

struct opener {
	const char *url;
	int rc;
	struct err e;
};

static void *opener_main(void *p)
{
	struct opener *o = p;
	struct store *s = NULL;
	o->rc = store_open(o->url, NULL, &s, &o->e);
	store_close(s);
	return NULL;
}

static void test_migrations(void **state)
{
	struct fixture *f = *state;
	struct opener o[6];
	pthread_t t[6];
	struct store *s = NULL;
	struct err e = {0};

	/* several nodes start at once on an empty database */
	for (int i = 0; i < 6; i++) {
		o[i] = (struct opener){.url = f->url};
		pthread_create(&t[i], NULL, opener_main, &o[i]);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		if (o[i].rc)
			fail_msg("open %d: %s", i, err_msg(&o[i].e));
	}
	PGconn *c = raw_connect(f->db);
	PGresult *r = PQexec(c, "SELECT count(*), max(version) FROM ambient_schema");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1)); /* one row per version */
	PQclear(r);

	/* a database written by a newer ambient is refused, with what to do */
	raw_exec(c, "INSERT INTO ambient_schema(version, by_ambient) VALUES (99, '9.9.9')");
	assert_int_equal(store_open(f->url, NULL, &s, &e), ERR_VERSION);
	assert_null(s);
	assert_non_null(strstr(e.msg, "newer version of ambient"));
	assert_non_null(strstr(e.msg, "schema 99"));
	assert_non_null(strstr(e.msg, "upgrade ambient"));
	assert_non_null(strstr(e.msg, "127.0.0.1:"));
	raw_exec(c, "DELETE FROM ambient_schema WHERE version = 99");
	s = open_ok(f->url, NULL);
	store_close(s);

	/* another program's table named events */
	raw_exec(c, "DROP TABLE ambient_schema");
	assert_int_equal(store_open(f->url, NULL, &s, &e), ERR_CORRUPT);
	assert_non_null(strstr(e.msg, "did not make"));
	PQfinish(c);
}

static void test_read_only(void **state)
{
	struct fixture *f = *state;
	struct store_options ro = {.read_only = true};
	struct store *s = NULL;
	struct err e = {0};

	/* an empty database cannot be set up read-only */
	assert_int_equal(store_open(f->url, &ro, &s, &e), ERR_READONLY);
	assert_non_null(strstr(e.msg, "open it once read-write"));

	s = open_ok(f->url, NULL);
	assert_int_equal(append1(s, "ro", STORE_EXPECT_ANY, NULL, NULL, &e), ERR_OK);
	store_close(s);
	s = open_ok(f->url, &ro);
	struct store_event_list l = {0};
	assert_int_equal(store_read_all(s, 0, false, 0, NULL, &l, &e), ERR_OK);
	assert_int_equal(l.count, 1);
	store_event_list_cleanup(&l);
	assert_int_equal(append1(s, "ro", STORE_EXPECT_ANY, NULL, NULL, &e), ERR_READONLY);
	assert_int_equal(store_checkpoint_set(s, "c", 1, &e), ERR_READONLY);
	json_t *d = json_object();
	struct store_soft_item it = {"k", d};
	assert_int_equal(store_soft_put(s, &it, 1, &e), ERR_READONLY);
	json_decref(d);
	struct store_lease lease;
	assert_int_equal(store_lease_acquire(s, "l", "me", 1000, &lease, &e), ERR_READONLY);
	assert_int_equal(store_lease_peek(s, "l", &lease, &e), ERR_OK);
	struct store_replay_report rep[1];
	assert_int_equal(store_replay(s, false, rep, &e), ERR_OK);
	store_close(s);
}

/* ---- connection errors and the URL shown to people ------------------------------------------- */

static void test_connection_errors(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	struct err e = {0};
	char url[1024];

	/* nobody listens there */
	assert_int_equal(store_open("postgres://ambient:hunter2@127.0.0.1:1/ambient", NULL, &s, &e),
			 ERR_IO);
	assert_null(s);
	assert_non_null(strstr(e.msg, "cannot connect to PostgreSQL at 127.0.0.1:1/ambient"));
	assert_non_null(strstr(e.msg, "refused"));
	assert_non_null(strstr(e.msg, "is the server running? check --db"));
	assert_null(strstr(e.msg, "hunter2"));
	/* a database that does not exist */
	url_for("no_such_database_here", NULL, url, sizeof url);
	assert_int_equal(store_open(url, NULL, &s, &e), ERR_IO);
	assert_non_null(strstr(e.msg, "no_such_database_here"));
	assert_non_null(strstr(e.msg, "createdb"));
	/* URLs libpq cannot read */
	assert_int_equal(store_open("postgres://127.0.0.1/x?no_such_option=1", NULL, &s, &e),
			 ERR_INVALID);
	assert_non_null(strstr(e.msg, "no_such_option"));
	assert_int_equal(store_open("postgres://[::1/x", NULL, &s, &e), ERR_INVALID);
	assert_int_equal(store_open("postgres:host=x nonsense", NULL, &s, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "postgres://USER"));
	(void)f;
}

static void test_password_hidden(void **state)
{
	struct fixture *f = *state;
	const char *base = base_url();
	const char *auth = strstr(base, "://") + 3;
	const char *at = strchr(auth, '@');
	char url[1024], host[256], user[128];
	struct store *s;

	/* the test server trusts loopback: any password is accepted */
	snprintf(user, sizeof user, "%.*s", (int)(at - auth), auth);
	snprintf(host, sizeof host, "%.*s", (int)strcspn(at + 1, "/?"), at + 1);
	snprintf(url, sizeof url, "postgres://%s:s3cr%%40t@%s/%s", user, host, f->db);
	s = open_ok(url, NULL);
	assert_null(strstr(store_url(s), "s3cr"));
	assert_non_null(strstr(store_url(s), "***"));
	assert_non_null(strstr(store_url(s), host));
	store_close(s);

	snprintf(url, sizeof url, "postgresql://%s@%s/%s?password=s3cret&application_name=x", user,
		 host, f->db);
	s = open_ok(url, NULL);
	assert_null(strstr(store_url(s), "s3cret"));
	assert_non_null(strstr(store_url(s), "password=***&application_name=x"));
	store_close(s);

	char port[16];
	snprintf(port, sizeof port, "%s", strrchr(host, ':') + 1);
	snprintf(url, sizeof url,
		 "postgres:host=127.0.0.1 port=%s dbname=%s user=%s password='s3 cr\\'et'", port,
		 f->db, user);
	s = open_ok(url, NULL);
	assert_null(strstr(store_url(s), "s3"));
	assert_non_null(strstr(store_url(s), "password=***"));
	assert_non_null(strstr(store_url(s), "dbname="));
	store_close(s);
}

/* ---- full-text search folds diacritics ------------------------------------------------------- */

static json_t *memo_apply(const json_t *doc, const struct store_event *ev, void *ud, struct err *e)
{
	json_t *next = doc ? json_deep_copy(doc) : json_object();
	(void)ud;
	(void)e;
	json_object_set(next, json_string_value(json_object_get(ev->data, "id")),
			json_object_get(ev->data, "text"));
	return next;
}

static json_t *memo_index(const json_t *doc, void *ud)
{
	(void)ud;
	return json_deep_copy(doc);
}

static const struct store_projection memos[] = {
	{.name = "memos", .stream_prefix = "memo-", .apply = memo_apply, .index = memo_index},
};

static char *find(struct store *s, const char *text, bool prefix)
{
	struct store_search_term t = {text, prefix};
	struct store_search q = {.proj = "memos", .terms = &t, .nterms = 1};
	json_t *hits = NULL, *h;
	struct err e = {0};
	size_t i;
	char *out = calloc(1, 256);
	if (store_proj_search(s, &q, &hits, &e))
		fail_msg("search %s: %s", text, err_msg(&e));
	json_array_foreach(hits, i, h)
		snprintf(out + strlen(out), 256 - strlen(out), "%s%s", i ? "," : "",
			 json_string_value(json_object_get(h, "item")));
	json_decref(hits);
	return out;
}

#define EXPECT_FIND(want, ...)                                                                     \
	do {                                                                                       \
		char *got_ = find(__VA_ARGS__);                                                    \
		if (strcmp(got_, want) != 0)                                                       \
			fail_msg("line %d: got [%s], want [%s]", __LINE__, got_, want);            \
		free(got_);                                                                        \
	} while (0)

static void test_search_folds(void **state)
{
	struct fixture *f = *state;
	struct store_options opt = {.projections = memos, .nprojections = 1};
	struct store *s = open_ok(f->url, &opt);
	struct err e = {0};
	const char *texts[][2] = {{"1", "Café Crème BRÛLÉE à Zürich"},
				  {"2", "Straße, Œuvre, Ærø"},
				  {"3", "ΚΑΛΗΜΈΡΑ Москва"},
				  {"4", "e-mail: me@example.com; v1.2 'quoted' \\ back"}};
	for (size_t i = 0; i < 4; i++) {
		json_t *d = json_pack("{s:s, s:s}", "id", texts[i][0], "text", texts[i][1]);
		struct store_new_event ev = {.type = "memo", .data = d};
		assert_int_equal(store_append(s, "memo-u", STORE_EXPECT_ANY, &ev, 1, NULL, &e),
				 ERR_OK);
		json_decref(d);
	}
	EXPECT_FIND("1", s, "creme brulee", false);
	EXPECT_FIND("1", s, "CAFÉ", false);
	EXPECT_FIND("1", s, "zur", true);
	EXPECT_FIND("1", s, "a zurich", false);
	EXPECT_FIND("2", s, "strasse", false);
	EXPECT_FIND("2", s, "oeuvre aero", false);
	EXPECT_FIND("3", s, "καλημερα", false);
	EXPECT_FIND("3", s, "москва", false);
	EXPECT_FIND("4", s, "example com", false);
	EXPECT_FIND("4", s, "e mail", false); /* "e-mail" is two words */
	EXPECT_FIND("4", s, "'quoted'", false);
	EXPECT_FIND("", s, "\\", false); /* no word at all */
	EXPECT_FIND("", s, "&|!:*<->()", true);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_gap_free_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_duplicate_two_nodes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_notify_wakes_other_handle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect_after_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outage_fails_fast, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_password_hidden, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_folds, setup, teardown),
	};
	return cmocka_run_group_tests_name("store_postgres", tests, NULL, NULL);
}
