/*
 * test_store.c - behaviour of the event store, written once against store.h.
 *
 * Every back end must pass this suite.  The back end under test is chosen by
 * AMBIENT_TEST_STORE: unset or "sqlite" gives a fresh SQLite file per test;
 * "postgres" a fresh database per test on the server AMBIENT_TEST_PG_URL
 * (postgres://USER@HOST:PORT/DB, a user who may create databases; see
 * tests/support/pgtmp.sh), dropped after the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include <libpq-fe.h>

#include "../test_util.h"
#include "common/uuid.h"
#include "store/store.h"

struct fixture {
	char *dir;
	char url[4200];
	char pgdb[64]; /* the database made for this test (postgres) */
	struct store *s;
	struct store_options opt;
};

/* ---- PostgreSQL: a database per test ------------------------------------------ */

/* base (postgres://USER@HOST:PORT/DB?...) with the database replaced by db. */
static void pg_url_for(const char *base, const char *db, char *out, size_t size)
{
	const char *auth = strstr(base, "://");
	auth = auth ? auth + 3 : base;
	size_t host_len = strcspn(auth, "/?");
	const char *query = strchr(auth + host_len, '?');
	snprintf(out, size, "%.*s/%s%s", (int)(auth + host_len - base), base, db,
		 query ? query : "");
}

/* Run one statement as the server's admin (the URL's own database). */
static int pg_admin(const char *sql)
{
	PGconn *c = PQconnectdb(getenv("AMBIENT_TEST_PG_URL"));
	int ok = PQstatus(c) == CONNECTION_OK;
	if (ok) {
		PGresult *r = PQexec(c, sql);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
		if (!ok)
			fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
		PQclear(r);
	} else {
		fprintf(stderr, "cannot connect to AMBIENT_TEST_PG_URL: %s", PQerrorMessage(c));
	}
	PQfinish(c);
	return ok ? 0 : -1;
}

static int pg_setup(struct fixture *f)
{
	static int counter;
	const char *base = getenv("AMBIENT_TEST_PG_URL");
	char sql[128];

	if (!base || !*base) {
		fprintf(stderr, "AMBIENT_TEST_STORE=postgres needs AMBIENT_TEST_PG_URL\n");
		return -1;
	}
	snprintf(f->pgdb, sizeof f->pgdb, "ambient_t_%d_%d", (int)getpid(), ++counter);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", f->pgdb);
	if (pg_admin(sql))
		return -1;
	pg_url_for(base, f->pgdb, f->url, sizeof f->url);
	return 0;
}

static void pg_teardown(struct fixture *f)
{
	char sql[128];
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->pgdb);
	pg_admin(sql);
}

/* A projection that counts events per stream: {"count": N, "last": type}.
 * An event of type "poison" is refused; "drop" removes the document. */
static json_t *count_apply(const json_t *doc, const struct store_event *ev, void *ud,
			   struct err *e)
{
	(void)ud;
	if (strcmp(ev->type, "poison") == 0) {
		err_set(e, ERR_INVALID, "poison event");
		return NULL;
	}
	if (strcmp(ev->type, "drop") == 0)
		return NULL;
	json_int_t n = doc ? json_integer_value(json_object_get(doc, "count")) : 0;
	return json_pack("{s:I, s:s}", "count", n + 1, "last", ev->type);
}

static const struct store_projection counters[] = {
	{.name = "counters", .stream_prefix = "count-", .apply = count_apply},
};

static int open_store(struct fixture *f)
{
	struct err e = {0};
	int rc = store_open(f->url, &f->opt, &f->s, &e);
	if (rc)
		fprintf(stderr, "store_open(%s): %s\n", f->url, err_msg(&e));
	return rc;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	const char *which = getenv("AMBIENT_TEST_STORE");

	f->dir = test_tmpdir("store");
	*state = f;
	if (which && strcmp(which, "postgres") == 0) {
		if (pg_setup(f))
			return -1;
	} else if (which && *which && strcmp(which, "sqlite") != 0) {
		fprintf(stderr, "unknown AMBIENT_TEST_STORE '%s': use sqlite or postgres\n", which);
		return -1;
	} else {
		snprintf(f->url, sizeof f->url, "sqlite:%s/events.db", f->dir);
	}
	f->opt.projections = counters;
	f->opt.nprojections = 1;
	*state = f;
	return open_store(f);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(f->s);
	if (f->pgdb[0])
		pg_teardown(f);
	test_rmdir(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static int reopen(struct fixture *f)
{
	store_close(f->s);
	f->s = NULL;
	return open_store(f);
}

/* Append one event {"i": i} of `type` to stream; returns the store's code. */
#define APPEND_CHILD_FLAG "--append-child"

static int append1(struct store *s, const char *stream, int64_t expected, const char *type, int i,
		   struct store_append_result *res, struct err *e)
{
	json_t *data = json_pack("{s:i}", "i", i);
	struct store_new_event ev = {.event_id = "", .type = type, .data = data};
	int rc = store_append(s, stream, expected, &ev, 1, res, e);
	json_decref(data);
	return rc;
}

/* ---- ordering and reading ----------------------------------------------------- */

static void test_append_and_read_stream(void **state)
{
	struct fixture *f = *state;
	struct store_append_result res;
	struct store_event_list l = {0};
	struct err e = {0};

	for (int i = 1; i <= 5; i++) {
		assert_int_equal(append1(f->s, "order-a", STORE_EXPECT_ANY, "t", i, &res, &e), ERR_OK);
		assert_int_equal(res.version, i);
		assert_int_equal(res.first_position, i);
		assert_false(res.duplicate);
	}
	assert_int_equal(store_read_stream(f->s, "order-a", 1, false, 0, &l, &e), ERR_OK);
	assert_int_equal(l.count, 5);
	/* the result tells when the last event was recorded, as stored */
	assert_int_equal(res.recorded_at_us, l.items[4].recorded_at_us);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(l.items[i].version, (int64_t)i + 1);
		assert_int_equal(json_integer_value(json_object_get(l.items[i].data, "i")), (int)i + 1);
		assert_string_equal(l.items[i].stream, "order-a");
		assert_true(uuid_valid(l.items[i].event_id));
		assert_true(l.items[i].recorded_at_us > 0);
	}
	store_event_list_cleanup(&l);

	/* forward from 3 with a limit, backward from the end with a limit */
	assert_int_equal(store_read_stream(f->s, "order-a", 3, false, 2, &l, &e), ERR_OK);
	assert_int_equal(l.count, 2);
	assert_int_equal(l.items[0].version, 3);
	assert_int_equal(l.items[1].version, 4);
	store_event_list_cleanup(&l);
	assert_int_equal(store_read_stream(f->s, "order-a", 0, true, 2, &l, &e), ERR_OK);
	assert_int_equal(l.count, 2);
	assert_int_equal(l.items[0].version, 5);
	assert_int_equal(l.items[1].version, 4);
	store_event_list_cleanup(&l);
	assert_int_equal(store_read_stream(f->s, "order-a", 2, true, 0, &l, &e), ERR_OK);
	assert_int_equal(l.count, 2);
	assert_int_equal(l.items[0].version, 2);
	store_event_list_cleanup(&l);

	/* a stream with no events reads as empty, not as an error */
	assert_int_equal(store_read_stream(f->s, "nothing-here", 1, false, 0, &l, &e), ERR_OK);
	assert_int_equal(l.count, 0);
	int64_t v = -1;
	assert_int_equal(store_stream_version(f->s, "nothing-here", &v, &e), ERR_OK);
	assert_int_equal(v, 0);
	assert_int_equal(store_stream_version(f->s, "order-a", &v, &e), ERR_OK);
	assert_int_equal(v, 5);
}

static void test_global_order_and_filters(void **state)
{
	struct fixture *f = *state;
	struct store_event_list l = {0};
	struct err e = {0};
	int64_t head = -1;

	assert_int_equal(store_head(f->s, &head, &e), ERR_OK);
	assert_int_equal(head, 0);
	for (int i = 0; i < 30; i++) {
		const char *stream = i % 3 == 0 ? "x-1" : i % 3 == 1 ? "y-1" : "x-2";
		assert_int_equal(append1(f->s, stream, STORE_EXPECT_ANY, i % 2 ? "odd" : "even", i, NULL, &e),
				 ERR_OK);
	}
	assert_int_equal(store_head(f->s, &head, &e), ERR_OK);
	assert_int_equal(head, 30);

	assert_int_equal(store_read_all(f->s, 0, false, 0, NULL, &l, &e), ERR_OK);
	assert_int_equal(l.count, 30);
	for (size_t i = 0; i < l.count; i++) {
		assert_int_equal(l.items[i].position, (int64_t)i + 1); /* gap-free, in order */
		assert_int_equal(json_integer_value(json_object_get(l.items[i].data, "i")), (int)i);
	}
	store_event_list_cleanup(&l);

	assert_int_equal(store_read_all(f->s, 25, false, 0, NULL, &l, &e), ERR_OK);
	assert_int_equal(l.count, 5);
	assert_int_equal(l.items[0].position, 26);
	store_event_list_cleanup(&l);

	assert_int_equal(store_read_all(f->s, 0, true, 3, NULL, &l, &e), ERR_OK);
	assert_int_equal(l.count, 3);
	assert_int_equal(l.items[0].position, 30);
	assert_int_equal(l.items[2].position, 28);
	store_event_list_cleanup(&l);

	struct store_filter by_prefix = {.stream_prefix = "x-"};
	assert_int_equal(store_read_all(f->s, 0, false, 0, &by_prefix, &l, &e), ERR_OK);
	assert_int_equal(l.count, 20);
	for (size_t i = 0; i < l.count; i++)
		assert_int_equal(strncmp(l.items[i].stream, "x-", 2), 0);
	store_event_list_cleanup(&l);

	struct store_filter by_type = {.type = "odd", .stream = "y-1"};
	assert_int_equal(store_read_all(f->s, 0, false, 0, &by_type, &l, &e), ERR_OK);
	assert_int_equal(l.count, 5); /* i = 1, 7, 13, 19, 25 */
	for (size_t i = 0; i < l.count; i++) {
		assert_string_equal(l.items[i].type, "odd");
		assert_string_equal(l.items[i].stream, "y-1");
	}
	store_event_list_cleanup(&l);
}

/* ---- expected versions ---------------------------------------------------------- */

static void test_expected_versions(void **state)
{
	struct fixture *f = *state;
	struct err e = {0};

	/* exists on a missing stream */
	assert_int_equal(append1(f->s, "acct-1", STORE_EXPECT_EXISTS, "t", 0, NULL, &e), ERR_CONFLICT);
	assert_non_null(strstr(e.msg, "acct-1"));
	assert_non_null(strstr(e.msg, "does not exist"));
	/* exact version on a missing stream */
	assert_int_equal(append1(f->s, "acct-1", 3, "t", 0, NULL, &e), ERR_CONFLICT);
	assert_non_null(strstr(e.msg, "expected version 3"));

	assert_int_equal(append1(f->s, "acct-1", STORE_EXPECT_NO_STREAM, "t", 1, NULL, &e), ERR_OK);
	assert_int_equal(append1(f->s, "acct-1", STORE_EXPECT_NO_STREAM, "t", 2, NULL, &e), ERR_CONFLICT);
	assert_non_null(strstr(e.msg, "'acct-1'"));
	assert_non_null(strstr(e.msg, "expected no stream"));
	assert_non_null(strstr(e.msg, "at version 1"));

	assert_int_equal(append1(f->s, "acct-1", STORE_EXPECT_EXISTS, "t", 2, NULL, &e), ERR_OK);
	assert_int_equal(append1(f->s, "acct-1", 2, "t", 3, NULL, &e), ERR_OK);
	assert_int_equal(append1(f->s, "acct-1", 2, "t", 4, NULL, &e), ERR_CONFLICT);
	assert_non_null(strstr(e.msg, "expected version 2, but the stream is at version 3"));
	assert_int_equal(append1(f->s, "acct-1", STORE_EXPECT_ANY, "t", 4, NULL, &e), ERR_OK);

	/* conflicts wrote nothing */
	int64_t v, head;
	assert_int_equal(store_stream_version(f->s, "acct-1", &v, &e), ERR_OK);
	assert_int_equal(v, 4);
	assert_int_equal(store_head(f->s, &head, &e), ERR_OK);
	assert_int_equal(head, 4);
}

/* ---- idempotency ------------------------------------------------------------------- */

static void test_idempotent_retry(void **state)
{
	struct fixture *f = *state;
	struct store_append_result r1, r2;
	struct err e = {0};
	json_t *d = json_pack("{s:s}", "k", "v");
	struct store_new_event evs[3] = {{.type = "a", .data = d}, {.type = "b", .data = d},
					 {.type = "c", .data = d}};

	assert_int_equal(append1(f->s, "other", STORE_EXPECT_ANY, "t", 0, NULL, &e), ERR_OK);
	for (int i = 0; i < 3; i++)
		uuid_v7(clock_system(), evs[i].event_id);
	assert_int_equal(store_append(f->s, "idem-1", STORE_EXPECT_NO_STREAM, evs, 3, &r1, &e), ERR_OK);
	assert_false(r1.duplicate);
	assert_int_equal(r1.first_position, 2);
	assert_int_equal(r1.last_position, 4);

	/* The same append again, even with an expected version that no longer
	 * holds: same result, nothing written. */
	assert_int_equal(store_append(f->s, "idem-1", STORE_EXPECT_NO_STREAM, evs, 3, &r2, &e), ERR_OK);
	assert_true(r2.duplicate);
	assert_true(r1.recorded_at_us > 0);
	assert_int_equal(r2.recorded_at_us, r1.recorded_at_us);
	assert_int_equal(r2.first_position, r1.first_position);
	assert_int_equal(r2.last_position, r1.last_position);
	assert_int_equal(r2.version, 3);
	int64_t head;
	assert_int_equal(store_head(f->s, &head, &e), ERR_OK);
	assert_int_equal(head, 4);

	/* A partial retry (ids 2 and 3 plus a new one) is refused. */
	struct store_new_event partial[2] = {evs[2], {.type = "d", .data = d}};
	uuid_v7(clock_system(), partial[1].event_id);
	assert_int_equal(store_append(f->s, "idem-1", STORE_EXPECT_ANY, partial, 2, NULL, &e),
			 ERR_CONFLICT);
	assert_non_null(strstr(e.msg, "already stored"));
	/* The same id in another stream is refused too. */
	assert_int_equal(store_append(f->s, "idem-2", STORE_EXPECT_ANY, evs, 1, NULL, &e), ERR_CONFLICT);
	/* An id twice in one append is bad input. */
	struct store_new_event twice[2] = {partial[1], partial[1]};
	assert_int_equal(store_append(f->s, "idem-3", STORE_EXPECT_ANY, twice, 2, NULL, &e), ERR_INVALID);
	assert_int_equal(store_head(f->s, &head, &e), ERR_OK);
	assert_int_equal(head, 4);
	json_decref(d);
}

/* ---- atomicity and bad input ------------------------------------------------------------ */

static void test_append_is_atomic(void **state)
{
	struct fixture *f = *state;
	struct err e = {0};
	json_t *d = json_object(), *notobj = json_integer(3);
	struct store_new_event evs[3] = {{.type = "a", .data = d}, {.type = "b", .data = notobj},
					 {.type = "c", .data = d}};
	int64_t head;

	assert_int_equal(store_append(f->s, "atom-1", STORE_EXPECT_ANY, evs, 3, NULL, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "data must be a JSON object"));
	/* A projection refusing the third event undoes the first two. */
	struct store_new_event poison[3] = {{.type = "a", .data = d}, {.type = "b", .data = d},
					    {.type = "poison", .data = d}};
	assert_int_equal(store_append(f->s, "count-1", STORE_EXPECT_ANY, poison, 3, NULL, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "poison"));
	assert_int_equal(store_head(f->s, &head, &e), ERR_OK);
	assert_int_equal(head, 0);
	int64_t v;
	assert_int_equal(store_stream_version(f->s, "count-1", &v, &e), ERR_OK);
	assert_int_equal(v, 0);

	/* bad names, sizes, counts */
	assert_int_equal(append1(f->s, "", STORE_EXPECT_ANY, "t", 0, NULL, &e), ERR_INVALID);
	assert_int_equal(append1(f->s, "s", STORE_EXPECT_ANY, "", 0, NULL, &e), ERR_INVALID);
	assert_int_equal(append1(f->s, "bad\nname", STORE_EXPECT_ANY, "t", 0, NULL, &e), ERR_INVALID);
	assert_int_equal(store_append(f->s, "s", STORE_EXPECT_ANY, evs, 0, NULL, &e), ERR_INVALID);
	char *big = malloc(STORE_DATA_MAX + 10);
	memset(big, 'x', STORE_DATA_MAX + 9);
	big[STORE_DATA_MAX + 9] = '\0';
	json_t *bigd = json_pack("{s:s}", "blob", big);
	struct store_new_event bigev = {.type = "big", .data = bigd};
	assert_int_equal(store_append(f->s, "s", STORE_EXPECT_ANY, &bigev, 1, NULL, &e), ERR_TOO_BIG);
	assert_non_null(strstr(e.msg, "limit"));
	struct store_new_event badid = {.event_id = "not-a-uuid", .type = "t", .data = d};
	assert_int_equal(store_append(f->s, "s", STORE_EXPECT_ANY, &badid, 1, NULL, &e), ERR_INVALID);
	assert_int_equal(store_head(f->s, &head, &e), ERR_OK);
	assert_int_equal(head, 0);
	free(big);
	json_decref(bigd);
	json_decref(d);
	json_decref(notobj);
}

/* ---- concurrency: group commit keeps every guarantee ------------------------------------- */

#define WRITERS 16
#define PER_WRITER 150

struct writer_arg {
	struct store *s;
	int id;
	int failures;
	int shared_done;
};

static void *writer(void *p)
{
	struct writer_arg *a = p;
	char stream[32];
	struct err e = {0};

	snprintf(stream, sizeof stream, "w-%d", a->id);
	for (int i = 0; i < PER_WRITER; i++) {
		if (append1(a->s, stream, i, "t", i, NULL, &e) != ERR_OK)
			a->failures++;
		/* Every third append also races the others on one shared stream,
		 * with optimistic concurrency: read the version, append exactly. */
		if (i % 3 == 0) {
			for (;;) {
				int64_t v;
				if (store_stream_version(a->s, "shared", &v, &e) != ERR_OK) {
					a->failures++;
					break;
				}
				int rc = append1(a->s, "shared", v, "inc", a->id, NULL, &e);
				if (rc == ERR_OK) {
					a->shared_done++;
					break;
				}
				if (rc != ERR_CONFLICT) {
					a->failures++;
					break;
				}
			}
		}
	}
	return NULL;
}

static void test_concurrent_appends(void **state)
{
	struct fixture *f = *state;
	pthread_t th[WRITERS];
	struct writer_arg args[WRITERS];
	struct store_event_list l = {0};
	struct err e = {0};
	int shared = 0;

	for (int i = 0; i < WRITERS; i++) {
		args[i] = (struct writer_arg){.s = f->s, .id = i};
		pthread_create(&th[i], NULL, writer, &args[i]);
	}
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].failures, 0);
		shared += args[i].shared_done;
	}
	assert_int_equal(store_read_all(f->s, 0, false, 0, NULL, &l, &e), ERR_OK);
	assert_int_equal(l.count, WRITERS * PER_WRITER + shared);
	for (size_t i = 0; i < l.count; i++)
		assert_int_equal(l.items[i].position, (int64_t)i + 1);
	store_event_list_cleanup(&l);
	/* per-stream versions are 1..n with no lost update on the shared stream */
	assert_int_equal(store_read_stream(f->s, "shared", 1, false, 0, &l, &e), ERR_OK);
	assert_int_equal(l.count, shared);
	for (size_t i = 0; i < l.count; i++)
		assert_int_equal(l.items[i].version, (int64_t)i + 1);
	store_event_list_cleanup(&l);
	for (int w = 0; w < WRITERS; w += 5) {
		char stream[32];
		snprintf(stream, sizeof stream, "w-%d", w);
		assert_int_equal(store_read_stream(f->s, stream, 1, false, 0, &l, &e), ERR_OK);
		assert_int_equal(l.count, PER_WRITER);
		for (size_t i = 0; i < l.count; i++)
			assert_int_equal(json_integer_value(json_object_get(l.items[i].data, "i")), (int)i);
		store_event_list_cleanup(&l);
	}
}

/* ---- durability across reopen, checkpoints -------------------------------------------- */

static void test_reopen_and_checkpoints(void **state)
{
	struct fixture *f = *state;
	struct err e = {0};
	int64_t pos = -1, head;

	for (int i = 0; i < 10; i++)
		assert_int_equal(append1(f->s, "keep", STORE_EXPECT_ANY, "t", i, NULL, &e), ERR_OK);
	assert_int_equal(store_checkpoint_get(f->s, "deliverer", &pos, &e), ERR_OK);
	assert_int_equal(pos, 0);
	assert_int_equal(store_checkpoint_set(f->s, "deliverer", 7, &e), ERR_OK);
	assert_int_equal(store_checkpoint_set(f->s, "other", 2, &e), ERR_OK);
	assert_int_equal(store_checkpoint_set(f->s, "deliverer", 8, &e), ERR_OK);
	assert_int_equal(store_checkpoint_set(f->s, "", 8, &e), ERR_INVALID);
	assert_int_equal(store_checkpoint_set(f->s, "neg", -1, &e), ERR_INVALID);

	assert_int_equal(reopen(f), 0);
	assert_int_equal(store_head(f->s, &head, &e), ERR_OK);
	assert_int_equal(head, 10);
	assert_int_equal(store_checkpoint_get(f->s, "deliverer", &pos, &e), ERR_OK);
	assert_int_equal(pos, 8);
	assert_int_equal(store_checkpoint_get(f->s, "other", &pos, &e), ERR_OK);
	assert_int_equal(pos, 2);
	assert_int_equal(append1(f->s, "keep", 10, "t", 10, NULL, &e), ERR_OK);
}

/* ---- subscriptions ------------------------------------------------------------------------- */

static void test_subscription_catch_up_then_live(void **state)
{
	struct fixture *f = *state;
	struct store_event_list l = {0};
	struct err e = {0};

	for (int i = 0; i < 5; i++)
		assert_int_equal(append1(f->s, "sub-a", STORE_EXPECT_ANY, "t", i, NULL, &e), ERR_OK);
	struct store_sub *sub = store_subscribe(f->s, "reader", 0, NULL);
	/* catch-up in batches of 2 */
	assert_int_equal(store_sub_next(sub, 2, 0, &l, &e), ERR_OK);
	assert_int_equal(l.count, 2);
	assert_int_equal(store_sub_next(sub, 10, 0, &l, &e), ERR_OK);
	assert_int_equal(l.count, 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(l.items[i].position, (int64_t)i + 1);
	store_event_list_cleanup(&l);
	assert_int_equal(store_sub_ack(sub, 3, &e), ERR_OK); /* handled 1..3 only */
	/* nothing new: times out */
	assert_int_equal(store_sub_next(sub, 10, 30, &l, &e), ERR_TIMEOUT);
	assert_int_equal(l.count, 0);
	/* live */
	assert_int_equal(append1(f->s, "sub-b", STORE_EXPECT_ANY, "t", 5, NULL, &e), ERR_OK);
	assert_int_equal(store_sub_next(sub, 10, 5000, &l, &e), ERR_OK);
	assert_int_equal(l.count, 1);
	assert_int_equal(l.items[0].position, 6);
	store_event_list_cleanup(&l);
	store_sub_free(sub);

	/* A new subscription with the same name resumes after the durable ack. */
	assert_int_equal(reopen(f), 0);
	sub = store_subscribe(f->s, "reader", 0, NULL);
	assert_int_equal(store_sub_next(sub, 100, 0, &l, &e), ERR_OK);
	assert_int_equal(l.count, 3);
	assert_int_equal(l.items[0].position, 4);
	store_event_list_cleanup(&l);
	store_sub_free(sub);

	/* A filtered subscription skips what it does not want and still ends. */
	struct store_filter only_b = {.stream = "sub-b"};
	sub = store_subscribe(f->s, NULL, 0, &only_b);
	assert_int_equal(store_sub_next(sub, 100, 0, &l, &e), ERR_OK);
	assert_int_equal(l.count, 1);
	store_event_list_cleanup(&l);
	assert_int_equal(store_sub_next(sub, 100, 0, &l, &e), ERR_TIMEOUT);
	assert_int_equal(store_sub_position(sub), 6);
	store_sub_free(sub);
}

struct live_arg {
	struct store *s;
	int got;
	int64_t last;
	bool ordered;
};

static void *live_reader(void *p)
{
	struct live_arg *a = p;
	struct store_sub *sub = store_subscribe(a->s, NULL, 0, NULL);
	struct err e = {0};
	double end = test_now() + 20;

	a->ordered = true;
	while (a->got < 200 && test_now() < end) {
		struct store_event_list l = {0};
		int rc = store_sub_next(sub, 50, 200, &l, &e);
		for (size_t i = 0; i < l.count; i++) {
			if (l.items[i].position != a->last + 1)
				a->ordered = false;
			a->last = l.items[i].position;
			a->got++;
		}
		store_event_list_cleanup(&l);
		if (rc && rc != ERR_TIMEOUT)
			break;
	}
	store_sub_free(sub);
	return NULL;
}

/* Another process appends to the same database: the subscriber sees it. */
static void test_subscription_across_processes(void **state)
{
	struct fixture *f = *state;
	struct live_arg a = {.s = f->s};
	pthread_t th;

	pthread_create(&th, NULL, live_reader, &a);
	/* The writer is a fresh process (this binary re-executed), not a bare
	 * fork: a fork of a threaded process may inherit a lock some thread
	 * held (malloc's, SQLite's) and hang. */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/proc/self/exe", "test_store", APPEND_CHILD_FLAG, f->url, (char *)NULL);
		_exit(12);
	}
	int status;
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	pthread_join(th, NULL);
	assert_int_equal(a.got, 200);
	assert_true(a.ordered);
}

/* ---- projections --------------------------------------------------------------------------- */

static void test_projection_in_same_transaction(void **state)
{
	struct fixture *f = *state;
	struct store_replay_report r;
	struct err e = {0};
	json_t *doc = NULL, *all = NULL;

	for (int i = 0; i < 3; i++)
		assert_int_equal(append1(f->s, "count-a", STORE_EXPECT_ANY, "tick", i, NULL, &e), ERR_OK);
	assert_int_equal(append1(f->s, "count-b", STORE_EXPECT_ANY, "tock", 0, NULL, &e), ERR_OK);
	assert_int_equal(append1(f->s, "count-c", STORE_EXPECT_ANY, "tock", 0, NULL, &e), ERR_OK);
	assert_int_equal(append1(f->s, "count-c", STORE_EXPECT_ANY, "drop", 0, NULL, &e), ERR_OK);
	/* the projection's stamp counts its changes, not other appends */
	int64_t stamp = 0, stamp2 = 0;
	assert_int_equal(
		store_checkpoint_get(f->s, STORE_PROJECTION_STAMP "counters", &stamp, &e), ERR_OK);
	assert_true(stamp > 0);
	assert_int_equal(append1(f->s, "unrelated", STORE_EXPECT_ANY, "tick", 0, NULL, &e), ERR_OK);
	assert_int_equal(
		store_checkpoint_get(f->s, STORE_PROJECTION_STAMP "counters", &stamp2, &e), ERR_OK);
	assert_int_equal(stamp2, stamp);
	assert_int_equal(append1(f->s, "count-b", STORE_EXPECT_ANY, "tock", 0, NULL, &e), ERR_OK);
	assert_int_equal(
		store_checkpoint_get(f->s, STORE_PROJECTION_STAMP "counters", &stamp2, &e), ERR_OK);
	assert_true(stamp2 > stamp);
	stamp = stamp2;

	assert_int_equal(store_proj_get(f->s, "counters", "count-a", &doc, &e), ERR_OK);
	assert_int_equal(json_integer_value(json_object_get(doc, "count")), 3);
	json_decref(doc);
	assert_int_equal(store_proj_get(f->s, "counters", "count-c", &doc, &e), ERR_NOT_FOUND);
	assert_int_equal(store_proj_get(f->s, "counters", "unrelated", &doc, &e), ERR_NOT_FOUND);
	assert_int_equal(store_proj_list(f->s, "counters", &all, &e), ERR_OK);
	assert_int_equal(json_object_size(all), 2);
	/* creation order */
	void *it = json_object_iter(all);
	assert_string_equal(json_object_iter_key(it), "count-a");
	json_decref(all);

	assert_int_equal(store_replay(f->s, false, &r, &e), ERR_OK);
	assert_int_equal(r.events, 7);
	assert_int_equal(r.documents, 2);
	assert_int_equal(r.matched, 2);
	assert_int_equal(r.missing + r.extra + r.different, 0);
	assert_int_equal(store_replay(f->s, true, &r, &e), ERR_OK);
	assert_int_equal(r.matched, 2);
	/* a rewrite moves the stamp too (the documents were replaced) */
	assert_int_equal(
		store_checkpoint_get(f->s, STORE_PROJECTION_STAMP "counters", &stamp2, &e), ERR_OK);
	assert_true(stamp2 > stamp);
}

/* A document the writer remembers must not outlive a rollback or a write
 * made through another handle (another process, in real use). */
static void test_projection_after_rollback_and_other_writer(void **state)
{
	struct fixture *f = *state;
	struct store *other = NULL;
	struct err e = {0};
	json_t *doc = NULL, *d = json_object();

	assert_int_equal(append1(f->s, "count-r", STORE_EXPECT_ANY, "tick", 0, NULL, &e), ERR_OK);
	struct store_new_event poison[3] = {{.type = "a", .data = d}, {.type = "b", .data = d},
					    {.type = "poison", .data = d}};
	assert_int_equal(store_append(f->s, "count-r", STORE_EXPECT_ANY, poison, 3, NULL, &e),
			 ERR_INVALID);
	assert_int_equal(append1(f->s, "count-r", STORE_EXPECT_ANY, "tock", 0, NULL, &e), ERR_OK);
	assert_int_equal(store_proj_get(f->s, "counters", "count-r", &doc, &e), ERR_OK);
	assert_int_equal(json_integer_value(json_object_get(doc, "count")), 2);
	json_decref(doc);

	assert_int_equal(store_open(f->url, &f->opt, &other, &e), ERR_OK);
	assert_int_equal(append1(f->s, "count-o", STORE_EXPECT_ANY, "tick", 0, NULL, &e), ERR_OK);
	assert_int_equal(append1(other, "count-o", STORE_EXPECT_ANY, "tick", 1, NULL, &e), ERR_OK);
	assert_int_equal(append1(other, "count-o", STORE_EXPECT_ANY, "tick", 2, NULL, &e), ERR_OK);
	assert_int_equal(append1(f->s, "count-o", STORE_EXPECT_ANY, "tock", 3, NULL, &e), ERR_OK);
	assert_int_equal(store_proj_get(f->s, "counters", "count-o", &doc, &e), ERR_OK);
	assert_int_equal(json_integer_value(json_object_get(doc, "count")), 4);
	json_decref(doc);
	store_close(other);
	json_decref(d);

	struct store_replay_report r;
	assert_int_equal(store_replay(f->s, false, &r, &e), ERR_OK);
	assert_int_equal(r.missing + r.extra + r.different, 0);
}

/* ---- full-text search over projection documents ------------------------------------ */

/* A projection of notes: {"items": {id: text}}.  "put" {id, text} sets an
 * item, "del" {id} removes one, "drop" removes the document.  Its index is
 * the items themselves. */
static json_t *notes_apply(const json_t *doc, const struct store_event *ev, void *ud, struct err *e)
{
	json_t *next = doc ? json_deep_copy(doc) : json_pack("{s:{}}", "items");
	json_t *items = json_object_get(next, "items");
	const char *id = json_string_value(json_object_get(ev->data, "id"));

	(void)ud;
	(void)e;
	if (strcmp(ev->type, "drop") == 0) {
		json_decref(next);
		return NULL;
	}
	if (id && strcmp(ev->type, "put") == 0)
		json_object_set(items, id, json_object_get(ev->data, "text"));
	else if (id && strcmp(ev->type, "del") == 0)
		json_object_del(items, id);
	return next;
}

static json_t *notes_index(const json_t *doc, void *ud)
{
	(void)ud;
	return json_deep_copy(json_object_get(doc, "items"));
}

static const struct store_projection with_notes[] = {
	{.name = "counters", .stream_prefix = "count-", .apply = count_apply},
	{.name = "notes", .stream_prefix = "note-", .apply = notes_apply, .index = notes_index},
};

static void put_note(struct store *s, const char *stream, const char *type, const char *id,
		     const char *text)
{
	struct err e = {0};
	json_t *d = text ? json_pack("{s:s, s:s}", "id", id, "text", text)
			 : json_pack("{s:s}", "id", id ? id : "");
	struct store_new_event ev = {.type = type, .data = d};

	if (store_append(s, stream, STORE_EXPECT_ANY, &ev, 1, NULL, &e))
		fail_msg("append %s: %s", type, err_msg(&e));
	json_decref(d);
}

/* Search and return the hits as "key/item,..." (best first). */
static char *search_text(struct store *s, const char *key, bool any, size_t limit, const char *t1,
			 bool p1, const char *t2, bool p2)
{
	struct store_search_term terms[2] = {{t1, p1}, {t2, p2}};
	struct store_search q = {.proj = "notes",
				 .key = key,
				 .terms = terms,
				 .nterms = t2 ? 2 : 1,
				 .any = any,
				 .limit = limit};
	struct err e = {0};
	json_t *hits = NULL, *h;
	char *out = calloc(1, 4096);
	double last = 1e300;
	size_t i;

	if (store_proj_search(s, &q, &hits, &e))
		fail_msg("search %s: %s", t1, err_msg(&e));
	json_array_foreach(hits, i, h) {
		double score = json_real_value(json_object_get(h, "score"));

		assert_true(score > 0);
		assert_true(score <= last); /* best first */
		last = score;
		snprintf(out + strlen(out), 4096 - strlen(out), "%s%s/%s", i ? "," : "",
			 json_string_value(json_object_get(h, "key")),
			 json_string_value(json_object_get(h, "item")));
	}
	json_decref(hits);
	return out;
}

#define EXPECT_SEARCH(want, ...)                                                                   \
	do {                                                                                       \
		char *got_ = search_text(__VA_ARGS__);                                             \
		if (strcmp(got_, want) != 0)                                                       \
			fail_msg("line %d: got [%s], want [%s]", __LINE__, got_, want);            \
		free(got_);                                                                        \
	} while (0)

static void test_search_index(void **state)
{
	struct fixture *f = *state;
	struct store_replay_report r[2];
	struct err e = {0};
	json_t *hits = NULL;

	store_close(f->s);
	f->opt.projections = with_notes;
	f->opt.nprojections = 2;
	assert_int_equal(open_store(f), 0);

	put_note(f->s, "note-a", "put", "1", "Coffee: black, no sugar");
	put_note(f->s, "note-a", "put", "2", "the project deadline is Friday");
	put_note(f->s, "note-a", "put", "3", "coffee coffee coffee");
	put_note(f->s, "note-b", "put", "1", "coffee with milk and sugar in the morning");
	put_note(f->s, "note-b", "put", "2", "dead line of the project: unknown");

	/* ranked (more occurrences, shorter text first), case-insensitive */
	EXPECT_SEARCH("note-a/3,note-a/1,note-b/1", f->s, NULL, false, 0, "COFFEE", false, NULL,
		      false);
	/* one document only; a limit */
	EXPECT_SEARCH("note-b/1", f->s, "note-b", false, 0, "coffee", false, NULL, false);
	EXPECT_SEARCH("note-a/3", f->s, NULL, false, 1, "coffee", false, NULL, false);
	/* all terms, or any */
	EXPECT_SEARCH("note-a/1,note-b/1", f->s, NULL, false, 0, "coffee", false, "sugar", false);
	EXPECT_SEARCH("", f->s, NULL, false, 0, "friday", false, "morning", false);
	EXPECT_SEARCH("note-a/2,note-b/1", f->s, NULL, true, 0, "friday", false, "morning", false);
	/* prefix; a phrase needs its words in order and adjacent */
	EXPECT_SEARCH("note-a/2", f->s, NULL, false, 0, "deadl", true, NULL, false);
	EXPECT_SEARCH("note-a/2,note-b/2", f->s, NULL, false, 0, "dead", true, NULL, false);
	EXPECT_SEARCH("", f->s, NULL, false, 0, "dea", false, NULL, false);
	EXPECT_SEARCH("note-a/2", f->s, NULL, false, 0, "project deadline", false, NULL, false);
	EXPECT_SEARCH("note-b/2", f->s, NULL, false, 0, "dead line", false, NULL, false);
	EXPECT_SEARCH("note-a/2,note-b/2", f->s, NULL, false, 0, "project", false, "dead", true);

	/* terms are text, never query syntax */
	EXPECT_SEARCH("", f->s, NULL, false, 0, "foo\" OR key:*", false, NULL, false);
	EXPECT_SEARCH("", f->s, NULL, false, 0, "NEAR(coffee sugar)", false, NULL, false);
	EXPECT_SEARCH("note-a/1", f->s, NULL, false, 0, "\"coffee\" black", false, NULL, false);
	EXPECT_SEARCH("note-a/1,note-b/1", f->s, NULL, false, 0, "sugar)", true, "(coffee", false);
	EXPECT_SEARCH("note-a/3,note-a/1,note-b/1", f->s, NULL, false, 0, "coffee", false, "*",
		      false);
	EXPECT_SEARCH("", f->s, NULL, false, 0, "AND", false, "OR", false);
	EXPECT_SEARCH("", f->s, NULL, false, 0, "", false, NULL, false);

	/* changing, removing and dropping keep the index in step */
	put_note(f->s, "note-a", "put", "3", "tea");
	put_note(f->s, "note-b", "del", "1", NULL);
	EXPECT_SEARCH("note-a/1", f->s, NULL, false, 0, "coffee", false, NULL, false);
	EXPECT_SEARCH("note-a/3", f->s, NULL, false, 0, "tea", false, NULL, false);
	put_note(f->s, "note-c", "put", "x", "coffee again");
	put_note(f->s, "note-c", "drop", NULL, NULL);
	EXPECT_SEARCH("note-a/1", f->s, NULL, false, 0, "coffee", false, NULL, false);

	/* a rebuild and a reopen give the same answers */
	assert_int_equal(store_replay(f->s, true, r, &e), ERR_OK);
	assert_int_equal(r[1].documents, 2);
	assert_int_equal(r[1].matched, 2);
	EXPECT_SEARCH("note-a/1", f->s, NULL, false, 0, "coffee", false, NULL, false);
	assert_int_equal(reopen(f), 0);
	EXPECT_SEARCH("note-a/3", f->s, NULL, false, 0, "tea", false, NULL, false);
	EXPECT_SEARCH("note-a/2,note-b/2", f->s, NULL, false, 0, "project", false, NULL, false);

	/* bad queries */
	struct store_search q = {.proj = "notes"};
	assert_int_equal(store_proj_search(f->s, &q, &hits, &e), ERR_INVALID);
	assert_null(hits);
	struct store_search_term t = {.text = NULL};
	q.terms = &t;
	q.nterms = 1;
	assert_int_equal(store_proj_search(f->s, &q, &hits, &e), ERR_INVALID);
	t.text = "x";
	q.limit = STORE_SEARCH_LIMIT_MAX + 1;
	assert_int_equal(store_proj_search(f->s, &q, &hits, &e), ERR_INVALID);
	q.limit = 0;
	q.proj = "";
	assert_int_equal(store_proj_search(f->s, &q, &hits, &e), ERR_INVALID);
	/* an unknown projection has nothing */
	q.proj = "nothing";
	assert_int_equal(store_proj_search(f->s, &q, &hits, &e), ERR_OK);
	assert_int_equal(json_array_size(hits), 0);
	json_decref(hits);

	store_close(f->s);
	f->s = NULL;
	f->opt.projections = counters;
	f->opt.nprojections = 1;
}

/* ---- soft state and leases -------------------------------------------------------- */

static void test_soft_state(void **state)
{
	struct fixture *f = *state;
	struct err e = {0};
	json_t *a = json_pack("{s:s,s:i}", "etag", "\"v1\"", "checks", 3);
	json_t *b = json_pack("{s:s}", "hash", "abc");
	struct store_soft_item items[] = {{"task-1/url-a", a}, {"task-1/url-b", b}, {"task-2/x", b}};
	assert_int_equal(store_soft_put(f->s, items, 3, &e), ERR_OK);

	json_t *doc = NULL;
	assert_int_equal(store_soft_get(f->s, "task-1/url-a", &doc, &e), ERR_OK);
	assert_true(json_equal(doc, a));
	json_decref(doc);
	assert_int_equal(store_soft_get(f->s, "task-9/none", &doc, &e), ERR_NOT_FOUND);

	json_t *all = NULL;
	assert_int_equal(store_soft_list(f->s, "task-1/", &all, &e), ERR_OK);
	assert_int_equal(json_object_size(all), 2);
	json_decref(all);

	/* Overwrite and delete in one batch; it survives a reopen. */
	struct store_soft_item again[] = {{"task-1/url-a", b}, {"task-1/url-b", NULL}};
	assert_int_equal(store_soft_put(f->s, again, 2, &e), ERR_OK);
	assert_int_equal(reopen(f), 0);
	assert_int_equal(store_soft_get(f->s, "task-1/url-a", &doc, &e), ERR_OK);
	assert_true(json_equal(doc, b));
	json_decref(doc);
	assert_int_equal(store_soft_get(f->s, "task-1/url-b", &doc, &e), ERR_NOT_FOUND);
	assert_int_equal(store_soft_get(f->s, "", &doc, &e), ERR_INVALID);
	json_decref(a);
	json_decref(b);
}

static void test_leases(void **state)
{
	struct fixture *f = *state;
	struct err e = {0};
	struct clock clk;
	clock_fake_init(&clk, 1700000000LL * 1000000);
	store_close(f->s);
	f->opt.clock = &clk;
	assert_int_equal(open_store(f), 0);

	struct store_lease l;
	assert_int_equal(store_lease_peek(f->s, "engine", &l, &e), ERR_OK);
	assert_false(l.held);
	assert_string_equal(l.holder, "");

	assert_int_equal(store_lease_acquire(f->s, "engine", "node-a", 30000, &l, &e), ERR_OK);
	assert_true(l.held);
	assert_string_equal(l.holder, "node-a");
	/* Someone else is refused and told who holds it. */
	assert_int_equal(store_lease_acquire(f->s, "engine", "node-b", 30000, &l, &e), ERR_OK);
	assert_false(l.held);
	assert_string_equal(l.holder, "node-a");
	/* Renewal keeps it; 20 s later it has not expired thanks to it. */
	clock_fake_advance(&clk, 20 * 1000000LL);
	assert_int_equal(store_lease_acquire(f->s, "engine", "node-a", 30000, &l, &e), ERR_OK);
	assert_true(l.held);
	clock_fake_advance(&clk, 20 * 1000000LL);
	assert_int_equal(store_lease_acquire(f->s, "engine", "node-b", 30000, &l, &e), ERR_OK);
	assert_false(l.held);
	/* Past expiry another owner takes over. */
	clock_fake_advance(&clk, 11 * 1000000LL);
	assert_int_equal(store_lease_peek(f->s, "engine", &l, &e), ERR_OK);
	assert_string_equal(l.holder, "");
	assert_int_equal(store_lease_acquire(f->s, "engine", "node-b", 30000, &l, &e), ERR_OK);
	assert_true(l.held);
	/* Only the owner can release. */
	assert_int_equal(store_lease_release(f->s, "engine", "node-a", &e), ERR_OK);
	assert_int_equal(store_lease_peek(f->s, "engine", &l, &e), ERR_OK);
	assert_string_equal(l.holder, "node-b");
	assert_int_equal(store_lease_release(f->s, "engine", "node-b", &e), ERR_OK);
	assert_int_equal(store_lease_peek(f->s, "engine", &l, &e), ERR_OK);
	assert_string_equal(l.holder, "");
	store_close(f->s);
	f->s = NULL;
	f->opt.clock = NULL;
}

/* ---- sharing a set of leases: store_lease_claim, store_lease_list ------------------ */

/* Claim names (a NUL-separated list) for owner; returns the held ones as
 * "a,b" for easy comparison. */
static char *claim(struct store *s, const char *owner, size_t max, const char *const *names,
		   size_t n)
{
	bool held[16];
	struct err e = {0};
	char *out = calloc(1, 256);

	if (store_lease_claim(s, owner, 30000, names, n, max, held, &e))
		fail_msg("claim for %s: %s", owner, err_msg(&e));
	for (size_t i = 0; i < n; i++)
		if (held[i])
			snprintf(out + strlen(out), 256 - strlen(out), "%s%s", *out ? "," : "",
				 names[i]);
	return out;
}

#define EXPECT_CLAIM(want, ...)                                                                    \
	do {                                                                                       \
		char *got_ = claim(__VA_ARGS__);                                                   \
		if (strcmp(got_, want) != 0)                                                       \
			fail_msg("line %d: holds [%s], want [%s]", __LINE__, got_, want);          \
		free(got_);                                                                        \
	} while (0)

/* Who holds each lease under prefix, as "name=owner,...". */
static char *holders(struct store *s, const char *prefix)
{
	json_t *all = NULL, *v;
	struct err e = {0};
	const char *name;
	char *out = calloc(1, 512);

	if (store_lease_list(s, prefix, &all, &e))
		fail_msg("lease list: %s", err_msg(&e));
	json_object_foreach(all, name, v) {
		assert_true(json_integer_value(json_object_get(v, "expires_at_us")) > 0);
		snprintf(out + strlen(out), 512 - strlen(out), "%s%s=%s", *out ? "," : "", name,
			 json_string_value(json_object_get(v, "owner")));
	}
	json_decref(all);
	return out;
}

#define EXPECT_HOLDERS(want, s, prefix)                                                            \
	do {                                                                                       \
		char *got_ = holders(s, prefix);                                                   \
		if (strcmp(got_, want) != 0)                                                       \
			fail_msg("line %d: leases [%s], want [%s]", __LINE__, got_, want);         \
		free(got_);                                                                        \
	} while (0)

static void test_lease_claim(void **state)
{
	struct fixture *f = *state;
	struct err e = {0};
	struct clock clk;
	bool held[16];
	const char *const five[] = {"t-a", "t-b", "t-c", "t-d", "t-e"};
	const char *const rev[] = {"t-e", "t-d", "t-c", "t-b", "t-a"};

	clock_fake_init(&clk, 1700000000LL * 1000000);
	store_close(f->s);
	f->opt.clock = &clk;
	assert_int_equal(open_store(f), 0);

	/* A name given twice is bad input, on both back ends. */
	const char *const twice[] = {"t-a", "t-b", "t-a"};
	assert_int_equal(store_lease_claim(f->s, "node-a", 1000, twice, 3, 10, held, &e),
			 ERR_INVALID);
	assert_non_null(strstr(e.msg, "'t-a' appears twice"));
	assert_false(held[0] || held[1] || held[2]);

	/* Free ones are taken in the order given, up to max; held ones of
	 * another live owner are skipped. */
	EXPECT_CLAIM("t-a,t-b", f->s, "node-a", 2, five, 5);
	EXPECT_CLAIM("t-c,t-d", f->s, "node-b", 2, five, 5);
	EXPECT_CLAIM("t-e", f->s, "node-c", 10, five, 5);
	EXPECT_HOLDERS("t-a=node-a,t-b=node-a,t-c=node-b,t-d=node-b,t-e=node-c", f->s, "t-");
	/* Renewing keeps; a surplus above max is given up, the first ones kept. */
	EXPECT_CLAIM("t-a", f->s, "node-a", 1, five, 5);
	EXPECT_HOLDERS("t-a=node-a,t-c=node-b,t-d=node-b,t-e=node-c", f->s, "t-");
	/* ... and the lease given up is free for the next owner. */
	EXPECT_CLAIM("t-b,t-c,t-d", f->s, "node-b", 3, five, 5);
	/* held[] follows the order of the names given */
	EXPECT_CLAIM("t-e", f->s, "node-c", 5, rev, 5);

	/* 20 s later node-b renews; 15 s after that the others have expired:
	 * node-c keeps its own expired lease (nobody took it) and takes
	 * node-a's. */
	clock_fake_advance(&clk, 20 * 1000000LL);
	EXPECT_CLAIM("t-b,t-c,t-d", f->s, "node-b", 3, five, 5);
	clock_fake_advance(&clk, 15 * 1000000LL);
	EXPECT_HOLDERS("t-b=node-b,t-c=node-b,t-d=node-b", f->s, "t-");
	EXPECT_CLAIM("t-e,t-a", f->s, "node-c", 5, rev, 5);
	/* max 0 gives up everything of ours */
	EXPECT_CLAIM("", f->s, "node-b", 0, five, 5);
	EXPECT_HOLDERS("t-a=node-c,t-e=node-c", f->s, "t-");
	const char *const some[] = {"t-b", "t-c"};
	EXPECT_CLAIM("t-b", f->s, "node-d", 1, some, 2);

	/* Two owners splitting ten leases, taking turns, end with five each. */
	const char *const ten[] = {"s-0", "s-1", "s-2", "s-3", "s-4",
				   "s-5", "s-6", "s-7", "s-8", "s-9"};
	bool hx[10], hy[10];
	for (int round = 0; round < 3; round++) {
		assert_int_equal(store_lease_claim(f->s, "x", 30000, ten, 10, 5, hx, &e), ERR_OK);
		assert_int_equal(store_lease_claim(f->s, "y", 30000, ten, 10, 5, hy, &e), ERR_OK);
	}
	int nx = 0, ny = 0;
	for (int i = 0; i < 10; i++) {
		nx += hx[i];
		ny += hy[i];
		assert_true(hx[i] != hy[i]); /* each lease has exactly one of them */
	}
	assert_int_equal(nx, 5);
	assert_int_equal(ny, 5);
	json_t *all = NULL;
	assert_int_equal(store_lease_list(f->s, "s-", &all, &e), ERR_OK);
	assert_int_equal(json_object_size(all), 10);
	json_decref(all);

	/* the plain lease calls see the same table */
	struct store_lease l;
	assert_int_equal(store_lease_peek(f->s, "t-a", &l, &e), ERR_OK);
	assert_string_equal(l.holder, "node-c");
	assert_int_equal(store_lease_acquire(f->s, "t-a", "node-z", 30000, &l, &e), ERR_OK);
	assert_false(l.held);
	assert_int_equal(store_lease_release(f->s, "t-a", "node-c", &e), ERR_OK);
	EXPECT_CLAIM("t-a", f->s, "node-z", 1, five, 5);

	/* list: a prefix, everything, nothing; expired leases are not listed */
	EXPECT_HOLDERS("", f->s, "nothing-");
	assert_int_equal(store_lease_list(f->s, "", &all, &e), ERR_OK);
	assert_int_equal(json_object_size(all), 13); /* t-a, t-b, t-e and s-0..9 */
	json_decref(all);
	clock_fake_advance(&clk, 31 * 1000000LL);
	EXPECT_HOLDERS("", f->s, "t-");

	/* bad input */
	assert_int_equal(store_lease_claim(f->s, "x", 30000, five, 0, 5, held, &e), ERR_OK);
	assert_int_equal(store_lease_claim(f->s, "x", 0, five, 5, 5, held, &e), ERR_INVALID);
	assert_int_equal(store_lease_claim(f->s, "", 1000, five, 5, 5, held, &e), ERR_INVALID);
	const char *const bad[] = {"ok", ""};
	assert_int_equal(store_lease_claim(f->s, "x", 1000, bad, 2, 5, held, &e), ERR_INVALID);

	store_close(f->s);
	f->s = NULL;
	f->opt.clock = NULL;
}

/* Two handles claiming the same set at the same time never share a lease. */
struct claimer {
	struct store *s;
	const char *owner;
	const char *const *names;
	size_t n;
	int rounds;
	bool held[40];
	int failures;
};

static void *claimer_main(void *p)
{
	struct claimer *c = p;
	struct err e = {0};
	for (int i = 0; i < c->rounds; i++)
		if (store_lease_claim(c->s, c->owner, 60000, c->names, c->n, c->n / 2, c->held, &e))
			c->failures++;
	return NULL;
}

static void test_lease_claim_concurrent(void **state)
{
	struct fixture *f = *state;
	struct store *s2 = NULL;
	struct err e = {0};
	char names_buf[40][16];
	const char *names[40];

	for (int i = 0; i < 40; i++) {
		snprintf(names_buf[i], sizeof names_buf[i], "task-%02d", i);
		names[i] = names_buf[i];
	}
	assert_int_equal(store_open(f->url, &f->opt, &s2, &e), ERR_OK);
	struct claimer a = {.s = f->s, .owner = "node-1", .names = names, .n = 40, .rounds = 30};
	struct claimer b = {.s = s2, .owner = "node-2", .names = names, .n = 40, .rounds = 30};
	pthread_t ta, tb;
	pthread_create(&ta, NULL, claimer_main, &a);
	pthread_create(&tb, NULL, claimer_main, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(a.failures + b.failures, 0);
	/* One more round each, now that the dust has settled: 20 each. */
	claimer_main(&(struct claimer){0}); /* no-op: rounds 0 */
	a.rounds = b.rounds = 1;
	claimer_main(&a);
	claimer_main(&b);
	int na = 0, nb = 0;
	for (int i = 0; i < 40; i++) {
		assert_false(a.held[i] && b.held[i]);
		na += a.held[i];
		nb += b.held[i];
	}
	assert_int_equal(na, 20);
	assert_int_equal(nb, 20);
	json_t *all = NULL;
	assert_int_equal(store_lease_list(f->s, "task-", &all, &e), ERR_OK);
	assert_int_equal(json_object_size(all), 40);
	json_decref(all);
	store_close(s2);
}

/* The writer of test_subscription_across_processes: 200 appends to url. */
static int append_child(const char *url)
{
	struct store *s2;
	struct err e = {0};
	if (store_open(url, NULL, &s2, &e) != ERR_OK)
		return 10;
	for (int i = 0; i < 200; i++)
		if (append1(s2, i % 2 ? "proc-a" : "proc-b", STORE_EXPECT_ANY, "t", i, NULL, &e))
			return 11;
	store_close(s2);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], APPEND_CHILD_FLAG) == 0)
		return append_child(argv[2]);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_and_read_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_global_order_and_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expected_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotent_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_is_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_and_checkpoints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subscription_catch_up_then_live, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subscription_across_processes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_projection_in_same_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_projection_after_rollback_and_other_writer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_search_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_soft_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_claim_concurrent, setup, teardown),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
