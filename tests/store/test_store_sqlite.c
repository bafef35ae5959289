/*
 * test_store_sqlite.c - the SQLite back end facing bad files and bad luck:
 * damaged and foreign files, a database from a newer ambient, a read-only
 * directory, a full disk, a tampered projection, bad URL options.  Each must
 * give a clear error, never a crash, and lose nothing already acknowledged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../test_util.h"
#include "app/tasks.h"
#include "store/store.h"

struct fixture {
	char *dir;
	char path[4200];
	char url[4300];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	f->dir = test_tmpdir("sqlite");
	snprintf(f->path, sizeof f->path, "%s/events.db", f->dir);
	snprintf(f->url, sizeof f->url, "sqlite:%s", f->path);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	chmod(f->dir, 0700);
	test_rmdir(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void write_file(const char *path, const void *data, size_t n)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, n, fp), n);
	fclose(fp);
}

static void raw_sql(const char *path, const char *sql)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static int append_text(struct store *s, const char *stream, const char *text, struct err *e)
{
	json_t *d = json_pack("{s:s}", "text", text);
	struct store_new_event ev = {.type = "note", .data = d};
	int rc = store_append(s, stream, STORE_EXPECT_ANY, &ev, 1, NULL, e);
	json_decref(d);
	return rc;
}

static void test_not_a_database(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	struct err e = {0};
	char junk[8192];

	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (char)(i * 7 + 3);
	write_file(f->path, junk, sizeof junk);
	assert_int_equal(store_open(f->url, NULL, &s, &e), ERR_CORRUPT);
	assert_null(s);
	assert_non_null(strstr(e.msg, f->path));
	assert_non_null(strstr(e.msg, "not an ambient database"));
}

static void test_damaged_database(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	struct err e = {0};

	assert_int_equal(store_open(f->url, NULL, &s, &e), ERR_OK);
	for (int i = 0; i < 200; i++)
		assert_int_equal(append_text(s, "keep", "some text to fill pages with content", &e), ERR_OK);
	store_close(s);
	raw_sql(f->path, "PRAGMA wal_checkpoint(TRUNCATE)");
	/* Overwrite the middle of the file with garbage. */
	int fd = open(f->path, O_WRONLY);
	assert_true(fd >= 0);
	char junk[4096];
	memset(junk, 0xa5, sizeof junk);
	assert_int_equal(pwrite(fd, junk, sizeof junk, 4096), (ssize_t)sizeof junk);
	close(fd);
	int rc = store_open(f->url, NULL, &s, &e);
	if (rc == ERR_OK) {
		/* The header survived; the damage shows when reading. */
		struct store_event_list l = {0};
		rc = store_read_all(s, 0, false, 0, NULL, &l, &e);
		store_event_list_cleanup(&l);
		store_close(s);
	}
	assert_int_equal(rc, ERR_CORRUPT);
	assert_non_null(strstr(e.msg, "damaged"));
}

static void test_foreign_sqlite_database(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	struct err e = {0};

	raw_sql(f->path, "CREATE TABLE contacts(name TEXT, phone TEXT)");
	assert_int_equal(store_open(f->url, NULL, &s, &e), ERR_CORRUPT);
	assert_non_null(strstr(e.msg, "another program"));
	/* and the file was not touched */
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema", -1, &st, NULL), 0);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	struct err e = {0};

	assert_int_equal(store_open(f->url, NULL, &s, &e), ERR_OK);
	store_close(s);
	raw_sql(f->path, "PRAGMA user_version = 99");
	assert_int_equal(store_open(f->url, NULL, &s, &e), ERR_VERSION);
	assert_non_null(strstr(e.msg, "newer version of ambient"));
	assert_non_null(strstr(e.msg, "schema 99"));
}

/* Root ignores file permissions, so the check runs as "nobody" in a child. */
static void test_read_only_directory(void **state)
{
	struct fixture *f = *state;
	char sub[4300], url[4400];

	snprintf(sub, sizeof sub, "%s/ro", f->dir);
	assert_int_equal(mkdir(sub, 0555), 0);
	assert_int_equal(chmod(f->dir, 0755), 0);
	snprintf(url, sizeof url, "sqlite:%s/events.db", sub);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
			_exit(20);
		struct store *s = NULL;
		struct err e = {0};
		int rc = store_open(url, NULL, &s, &e);
		if (rc != ERR_READONLY) {
			fprintf(stderr, "expected ERR_READONLY, got %d: %s\n", rc, e.msg);
			_exit(21);
		}
		if (!strstr(e.msg, sub) || !strstr(e.msg, "ermission")) {
			fprintf(stderr, "unclear message: %s\n", e.msg);
			_exit(22);
		}
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* max_pages caps the file: the store meets SQLITE_FULL as on a full disk. */
static void test_disk_full(void **state)
{
	struct fixture *f = *state;
	char url[4400];
	struct store *s = NULL;
	struct err e = {0};
	int64_t head = 0, acked = 0;
	int rc = ERR_OK;

	snprintf(url, sizeof url, "%s?max_pages=40", f->url);
	assert_int_equal(store_open(url, NULL, &s, &e), ERR_OK);
	char text[2048];
	memset(text, 'z', sizeof text - 1);
	text[sizeof text - 1] = '\0';
	for (int i = 0; i < 1000; i++) {
		rc = append_text(s, "fill", text, &e);
		if (rc)
			break;
		acked++;
	}
	assert_int_equal(rc, ERR_FULL);
	assert_non_null(strstr(e.msg, "disk space"));
	assert_true(acked > 0);
	/* Still usable for reading; every acknowledged event is there. */
	assert_int_equal(store_head(s, &head, &e), ERR_OK);
	assert_int_equal(head, acked);
	/* and a later append still gets a clear error, not a crash */
	assert_int_equal(append_text(s, "fill", text, &e), ERR_FULL);
	store_close(s);

	/* With room again, the log continues without a gap. */
	assert_int_equal(store_open(f->url, NULL, &s, &e), ERR_OK);
	assert_int_equal(append_text(s, "fill", "more", &e), ERR_OK);
	struct store_event_list l = {0};
	assert_int_equal(store_read_all(s, 0, false, 0, NULL, &l, &e), ERR_OK);
	assert_int_equal(l.count, (size_t)acked + 1);
	for (size_t i = 0; i < l.count; i++)
		assert_int_equal(l.items[i].position, (int64_t)i + 1);
	store_event_list_cleanup(&l);
	store_close(s);
}

static void test_tampered_projection_is_repaired(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	struct err e = {0};
	struct store_replay_report rs[8], *r = rs; /* [0]: tasks */
	json_t *cfg = json_pack("{s:s}", "type", "daily"), *task = NULL;

	assert_int_equal(app_store_open(f->url, false, &s, &e), ERR_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(app_task_create(s, NULL, NULL, "schedule", "reminder", cfg, NULL, "u1",
						 &task, &e),
				 ERR_OK);
		json_decref(task);
	}
	assert_int_equal(store_replay(s, false, rs, &e), ERR_OK);
	assert_int_equal(r->matched, 3);
	store_close(s);

	raw_sql(f->path, "UPDATE projections SET doc = json_set(doc, '$.status', 'paused')"
			 " WHERE key = (SELECT min(key) FROM projections);"
			 "INSERT INTO projections VALUES('tasks', 'task-ghost', '{}', 99, 99);");
	assert_int_equal(app_store_open(f->url, false, &s, &e), ERR_OK);
	assert_int_equal(store_replay(s, false, rs, &e), ERR_OK); /* check only */
	assert_int_equal(r->different, 1);
	assert_int_equal(r->extra, 1);
	assert_int_equal(r->matched, 2);
	assert_int_equal(store_replay(s, true, rs, &e), ERR_OK); /* rebuild */
	assert_int_equal(store_replay(s, false, rs, &e), ERR_OK);
	assert_int_equal(r->matched, 3);
	assert_int_equal(r->different + r->extra + r->missing, 0);
	store_close(s);
	json_decref(cfg);
}

/* A check in flight when its task is deleted may still append its result:
 * the projection must accept it (and keep the task gone), replay agree. */
static void test_events_after_delete(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	struct err e = {0};
	struct store_replay_report rs[8], *r = rs; /* [0]: tasks */
	json_t *cfg = json_pack("{s:s}", "type", "daily"), *task = NULL, *list = NULL;
	char stream[STORE_STREAM_MAX + 1];

	assert_int_equal(app_store_open(f->url, false, &s, &e), ERR_OK);
	assert_int_equal(app_task_create(s, NULL, NULL, "schedule", "r", cfg, NULL, "u1", &task, &e),
			 ERR_OK);
	snprintf(stream, sizeof stream, "task-%s", json_string_value(json_object_get(task, "task_id")));
	assert_int_equal(app_task_delete(s, NULL, json_string_value(json_object_get(task, "task_id")),
					 NULL, &e),
			 ERR_OK);
	json_t *d = json_pack("{s:s}", "trigger_time", "2026-01-01T09:00:00");
	struct store_new_event ev = {.type = "scheduled_trigger", .data = d};
	assert_int_equal(store_append(s, stream, STORE_EXPECT_ANY, &ev, 1, NULL, &e), ERR_OK);
	assert_int_equal(app_task_list(s, NULL, NULL, &list, &e), ERR_OK);
	assert_int_equal(json_array_size(list), 0);
	assert_int_equal(store_replay(s, false, rs, &e), ERR_OK);
	assert_int_equal(r->missing + r->extra + r->different, 0);
	json_decref(list);
	json_decref(d);
	json_decref(task);
	json_decref(cfg);
	store_close(s);
}

/* Full-text search (used by memories) must be available in this SQLite. */
static void test_fts5_available(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;
	sqlite3_stmt *st;

	assert_true(sqlite3_compileoption_used("ENABLE_FTS5"));
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE VIRTUAL TABLE t USING fts5(body);"
				      "INSERT INTO t VALUES('new AI model released'), ('weather is fine');",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT body FROM t WHERE t MATCH 'model'", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "new AI model released");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* ---- the full-text index of projections (memories) --------------------------------- */

static void remember_raw(struct store *s, const char *user, const char *key, const char *value)
{
	char stream[300];
	struct err e = {0};
	json_t *d = json_pack("{s:s, s:s, s:s, s:i, s:s}", "key", key, "value", value, "category",
			      "general", "importance", 1, "user_id", user);
	struct store_new_event ev = {.type = "memory_remembered", .data = d};

	snprintf(stream, sizeof stream, "memory-%s", user);
	if (store_append(s, stream, STORE_EXPECT_ANY, &ev, 1, NULL, &e))
		fail_msg("remember: %s", err_msg(&e));
	json_decref(d);
}

/* How many memories of all users have the word. */
static size_t memory_hits(struct store *s, const char *word)
{
	struct store_search_term t = {.text = word};
	struct store_search q = {.proj = "memories", .terms = &t, .nterms = 1};
	struct err e = {0};
	json_t *hits = NULL;
	size_t n;

	if (store_proj_search(s, &q, &hits, &e))
		fail_msg("search %s: %s", word, err_msg(&e));
	n = json_array_size(hits);
	json_decref(hits);
	return n;
}

static int64_t user_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* A database of schema 2 (before the search index) opens, keeps its
 * events, and gets the index. */
static void test_migration_to_search_index(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	struct err e = {0};
	int64_t head = 0;

	assert_int_equal(store_open(f->url, NULL, &s, &e), ERR_OK);
	assert_int_equal(append_text(s, "old", "from before", &e), ERR_OK);
	store_close(s);
	assert_int_equal(user_version(f->path), 3);
	raw_sql(f->path,
		"DROP TABLE search_fts; DROP TABLE search_items; PRAGMA user_version = 2;");

	assert_int_equal(app_store_open(f->url, false, &s, &e), ERR_OK);
	assert_int_equal(user_version(f->path), 3);
	assert_int_equal(store_head(s, &head, &e), ERR_OK);
	assert_int_equal(head, 1);
	remember_raw(s, "u1", "drink", "espresso, double");
	assert_int_equal(memory_hits(s, "espresso"), 1);
	store_close(s);
}

/* A database written where SQLite had no FTS5 has search_items but no
 * search_fts: opened with FTS5, the index is made from search_items. */
static void test_index_created_later(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	struct err e = {0};

	assert_int_equal(app_store_open(f->url, false, &s, &e), ERR_OK);
	remember_raw(s, "u1", "drink", "espresso");
	remember_raw(s, "u2", "drink", "espresso macchiato");
	store_close(s);
	raw_sql(f->path, "DROP TABLE search_fts;");
	assert_int_equal(app_store_open(f->url, false, &s, &e), ERR_OK);
	assert_int_equal(memory_hits(s, "espresso"), 2);
	assert_int_equal(memory_hits(s, "macchiato"), 1);
	store_close(s);

	/* read-only before it exists: no search, a clear error, no crash */
	raw_sql(f->path, "DROP TABLE search_fts;");
	struct store_options ro = {.read_only = true};
	struct store_search_term t = {.text = "espresso"};
	struct store_search q = {.proj = "memories", .terms = &t, .nterms = 1};
	json_t *hits = NULL;
	assert_int_equal(store_open(f->url, &ro, &s, &e), ERR_OK);
	assert_int_equal(store_proj_search(s, &q, &hits, &e), ERR_STATE);
	assert_non_null(strstr(e.msg, "read-write"));
	store_close(s);
}

/* A damaged or emptied index is rebuilt by replay. */
static void test_index_repaired_by_replay(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	struct err e = {0};
	struct store_replay_report rs[8];

	assert_true(app_nprojections <= 8);
	assert_int_equal(app_store_open(f->url, false, &s, &e), ERR_OK);
	remember_raw(s, "u1", "drink", "espresso");
	remember_raw(s, "u1", "food", "pizza");
	store_close(s);
	raw_sql(f->path,
		"DELETE FROM search_items; INSERT INTO search_fts(search_fts) VALUES('rebuild');");
	assert_int_equal(app_store_open(f->url, false, &s, &e), ERR_OK);
	assert_int_equal(memory_hits(s, "espresso"), 0);
	assert_int_equal(store_replay(s, true, rs, &e), ERR_OK);
	assert_int_equal(memory_hits(s, "espresso"), 1);
	assert_int_equal(memory_hits(s, "pizza"), 1);
	/* and the index stays in step afterwards */
	remember_raw(s, "u1", "food", "pasta");
	assert_int_equal(memory_hits(s, "pizza"), 0);
	assert_int_equal(memory_hits(s, "pasta"), 1);
	store_close(s);
}

static void test_bad_urls(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	struct err e = {0};
	char url[4400];

	assert_int_equal(store_open("", NULL, &s, &e), ERR_INVALID);
	assert_int_equal(store_open("sqlite:", NULL, &s, &e), ERR_INVALID);
	assert_int_equal(store_open("mysql://x/y", NULL, &s, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "sqlite:PATH"));
	assert_int_equal(store_open("sqlite::memory:", NULL, &s, &e), ERR_INVALID);
	snprintf(url, sizeof url, "%s?synchronous=sometimes", f->url);
	assert_int_equal(store_open(url, NULL, &s, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "synchronous"));
	snprintf(url, sizeof url, "%s?colour=blue", f->url);
	assert_int_equal(store_open(url, NULL, &s, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "unknown database option"));
	snprintf(url, sizeof url, "%s?max_pages=-3", f->url);
	assert_int_equal(store_open(url, NULL, &s, &e), ERR_INVALID);
	assert_null(s);
	/* a bare path works, and creates missing directories */
	snprintf(url, sizeof url, "%s/a/b/c.db", f->dir);
	assert_int_equal(store_open(url, NULL, &s, &e), ERR_OK);
	assert_string_equal(store_url(s) + strlen(store_url(s)) - 4, "c.db");
	store_close(s);
}

static void test_read_only_open(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	struct err e = {0};
	struct store_options ro = {.read_only = true};

	assert_int_equal(store_open(f->url, NULL, &s, &e), ERR_OK);
	assert_int_equal(append_text(s, "a", "x", &e), ERR_OK);
	store_close(s);
	assert_int_equal(store_open(f->url, &ro, &s, &e), ERR_OK);
	assert_int_equal(append_text(s, "a", "y", &e), ERR_READONLY);
	int64_t head;
	assert_int_equal(store_head(s, &head, &e), ERR_OK);
	assert_int_equal(head, 1);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_sqlite_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered_projection_is_repaired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_after_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fts5_available, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_to_search_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_created_later, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_repaired_by_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_urls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_open, setup, teardown),
	};
	return cmocka_run_group_tests_name("store_sqlite", tests, NULL, NULL);
}
