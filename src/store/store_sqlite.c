/*
 * store_sqlite.c - the event store on SQLite (WAL, synchronous=FULL).
 *
 * Two connections: a writer, used only by the current group-commit leader,
 * and a reader for reads (WAL lets it run beside the writer).
 *
 * Group commit.  Every write (an append, a checkpoint, a rebuild) is a job on
 * a queue.  The first thread to find no leader becomes the leader: it takes
 * the whole queue, runs it in one BEGIN IMMEDIATE ... COMMIT, each job inside
 * its own SAVEPOINT (so a version conflict undoes that job only), and wakes
 * the others.  Threads that arrive while a commit is being fsynced queue up
 * and form the next batch: under load, one fsync covers many appends, and
 * every append still returns only after its own commit.
 *
 * Positions are assigned under the write lock as max(position)+1, so the log
 * has no gaps even with several processes writing the same file.  Appends by
 * other processes are noticed by store_wait() polling the head.
 *
 * Location syntax: PATH[?synchronous=full|normal&max_pages=N&busy_timeout_ms=N]
 * (max_pages caps the file size, as a quota; tests use it to simulate a full
 * disk).
 *
 * Full-text search.  The items a projection's index() gives for its documents
 * are rows of search_items (projection, key, item, body); search_fts is an
 * FTS5 index over their bodies (external content: the text is stored once,
 * in search_items).  An append updates only the rows of the documents it
 * changed, by comparing the index with the rows (so a user with many
 * memories pays one row write per remembered one, not a rewrite), in the
 * append's transaction.  search_fts is created at open, outside the numbered
 * migrations, and only when this SQLite has FTS5 (search_items is kept
 * either way); created later, it is filled from search_items ('rebuild').
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "store.h"

/* 'ambi' in PRAGMA application_id marks a file as ours. */
#define SQ_APPLICATION_ID 0x616d6269
#define SQ_POLL_MS 20 /* how often store_wait looks for other processes' appends */
#define SQ_RCACHE_MAX 40 /* reader statements kept prepared */

/* Numbered schema migrations, applied in order at open. */
static const char *const migrations[] = {
	/* 1: the log, stream versions, checkpoints, projections */
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
	"CREATE TABLE streams(stream TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE checkpoints(name TEXT PRIMARY KEY, position INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE projections(name TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL,"
	" position INTEGER NOT NULL, created_position INTEGER NOT NULL,"
	" PRIMARY KEY(name, key)) WITHOUT ROWID;"
	"CREATE INDEX projections_in_order ON projections(name, created_position);",
	/* 2: soft state (check bookkeeping) and leases */
	"CREATE TABLE soft_state(key TEXT PRIMARY KEY, doc TEXT NOT NULL,"
	" updated_at INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE leases(name TEXT PRIMARY KEY, owner TEXT NOT NULL,"
	" expires_at INTEGER NOT NULL, acquired_at INTEGER NOT NULL) WITHOUT ROWID;",
	/* 3: the items of projection documents that full-text search indexes */
	"CREATE TABLE search_items(id INTEGER PRIMARY KEY, proj TEXT NOT NULL, key TEXT NOT NULL,"
	" item TEXT NOT NULL, body TEXT NOT NULL, UNIQUE(proj, key, item));",
};

/* The FTS5 index over search_items.body (see the top); unicode61 folds case
 * and diacritics and splits words at anything but letters and digits. */
#define SQ_FTS_CREATE                                                                              \
	"CREATE VIRTUAL TABLE search_fts USING fts5(body, content='search_items',"                 \
	" content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
#define SQ_FTS_REBUILD "INSERT INTO search_fts(search_fts) VALUES('rebuild')"
#define SQ_SEARCH_LIMIT_DEFAULT 100
#define SQ_SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

#define EVENT_COLUMNS "position, event_id, stream, version, type, data, metadata, recorded_at"

struct job;
typedef int (*job_fn)(struct store *s, struct job *j, struct err *e);

/* A write waiting for the leader.  Lives on the caller's stack. */
struct job {
	job_fn run;
	struct job *next;
	sem_t wake;               /* posted when done, or when made the leader */
	struct job *wake_next[2]; /* done jobs this one wakes in turn (a tree) */
	bool done;
	bool lead;
	bool wrote;     /* the job has started writing */
	bool savepoint; /* ... inside its own savepoint, so it can be undone */
	int rc;
	struct err err;
	/* append */
	const char *stream;
	int64_t expected;
	struct store_new_event *evs;
	bool *id_given; /* ids the caller chose (only those can be retries) */
	char **data_text, **meta_text;
	size_t n;
	struct store_append_result *res;
	/* checkpoint */
	const char *name;
	int64_t position;
	/* rebuild */
	const struct store_projection *proj;
	bool write;
	struct store_replay_report *report;
	/* soft state */
	const struct store_soft_item *soft;
	char **soft_text;
	/* lease */
	const char *owner;
	int64_t ttl_us;
	enum store_lease_op lease_op;
	struct store_lease *lease;
	/* lease claim */
	const char *const *names;
	size_t max;
	bool *held;
};

struct sq {
	char *path;
	sqlite3 *wdb, *rdb;
	pthread_mutex_t rlock; /* serialises use of rdb */

	pthread_mutex_t qlock; /* the job queue */
	struct job *qhead, *qtail;
	size_t qlen;
	bool leader; /* a batch is being run */
	/* Absorbing stragglers (see lead_batch): how many appenders seemed
	 * active at the end of the last batch, how long that batch took, and a
	 * wake-up for a leader waiting for them (the monotonic clock of
	 * clock_mono_us, CLOCK_MONOTONIC). */
	size_t active_estimate;
	int64_t last_batch_us;
	size_t gather_target;
	pthread_cond_t gather;
	uint64_t batches, batched_jobs; /* for the log at close */

	pthread_mutex_t hlock; /* the known head, for waiters */
	pthread_cond_t hcond;
	int64_t head;

	int64_t next_position; /* inside a write transaction */
	bool fts;              /* search_fts exists and FTS5 is compiled in */
	int busy_timeout_ms;
	int64_t max_pages;
	const char *synchronous;

	/* writer statements, prepared once */
	sqlite3_stmt *st_begin, *st_commit, *st_rollback, *st_savepoint, *st_release,
		*st_rollback_to, *st_max_pos, *st_stream_version, *st_bump_stream, *st_insert,
		*st_by_id, *st_proj_get, *st_proj_put, *st_proj_del, *st_proj_stamp, *st_checkpoint,
		*st_data_version, *st_idx_list,
		*st_idx_insert, *st_idx_update, *st_idx_delete;
	/* on search_fts, prepared only when q->fts */
	sqlite3_stmt *st_fts_insert, *st_fts_delete;

	/* The projection documents the writer wrote last, by doc_cache_key, so
	 * that the next event of a busy stream (a delivery outcome, a check's
	 * result) does not read and parse its document again.  Trusted only
	 * while no other connection has committed (data_version, checked as
	 * each batch begins) and no write of ours was rolled back. */
	json_t *doc_cache;
	size_t doc_cache_bytes;
	int64_t data_version;

	/* reader statements, prepared at first use (rprep), under rlock */
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} rcache[SQ_RCACHE_MAX];
	size_t nrcache;
};

static struct sq *sq_of(struct store *s)
{
	return s->impl;
}

/* ---- errors ------------------------------------------------------------------- */

static int code_of(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return ERR_CORRUPT;
	case SQLITE_FULL:
		return ERR_FULL;
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return ERR_READONLY;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return ERR_BUSY;
	case SQLITE_TOOBIG:
		return ERR_TOO_BIG;
	case SQLITE_NOMEM:
		return ERR_INTERNAL;
	default:
		return ERR_IO;
	}
}

static const char *hint_of(int code)
{
	switch (code) {
	case ERR_CORRUPT:
		return "the file is damaged or is not an ambient database; restore it from a "
		       "backup "
		       "or point --db at another file";
	case ERR_FULL:
		return "free some disk space (or raise the quota) and retry";
	case ERR_READONLY:
		return "check that the file and its directory are writable by this user";
	case ERR_BUSY:
		return "another process holds the database lock; retry later";
	default:
		return "check the disk and the file";
	}
}

/* Fill *e from an SQLite result code, with what we were doing and a hint. */
static int sq_fail(struct store *s, sqlite3 *db, int rc, const char *doing, struct err *e)
{
	int code = code_of(rc);
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	return err_set(e, code, "%s (%s): %s; %s", doing, sq_of(s)->path, msg, hint_of(code));
}

/* ---- small statement helpers ------------------------------------------------------- */

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
	return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static int prepare_all(struct sq *q)
{
	static const struct {
		size_t off;
		const char *sql;
	} stmts[] = {
#define S(field, sql) {offsetof(struct sq, field), sql}
		S(st_begin, "BEGIN IMMEDIATE"),
		S(st_commit, "COMMIT"),
		S(st_rollback, "ROLLBACK"),
		S(st_savepoint, "SAVEPOINT job"),
		S(st_release, "RELEASE job"),
		S(st_rollback_to, "ROLLBACK TO job"),
		S(st_max_pos, "SELECT coalesce(max(position), 0) FROM events"),
		S(st_stream_version, "SELECT version FROM streams WHERE stream = ?1"),
		S(st_bump_stream, "INSERT INTO streams(stream, version) VALUES(?1, ?2)"
				  " ON CONFLICT(stream) DO UPDATE SET version = version + ?2"
				  " RETURNING version"),
		S(st_insert,
		  "INSERT INTO events(" EVENT_COLUMNS ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8)"),
		S(st_by_id, "SELECT position, stream, version, recorded_at FROM events"
			    " WHERE event_id = ?1"),
		S(st_proj_get, "SELECT doc FROM projections WHERE name = ?1 AND key = ?2"),
		S(st_proj_put, "INSERT INTO projections(name, key, doc, position, created_position)"
			       " VALUES(?1, ?2, ?3, ?4, ?4) ON CONFLICT(name, key) DO UPDATE"
			       " SET doc = excluded.doc, position = excluded.position"),
		S(st_proj_del, "DELETE FROM projections WHERE name = ?1 AND key = ?2"),
		S(st_proj_stamp, "INSERT INTO checkpoints(name, position, updated_at) VALUES(?1,1,?2)"
				 " ON CONFLICT(name) DO UPDATE SET position = position + 1,"
				 " updated_at = excluded.updated_at"),
		S(st_checkpoint,
		  "INSERT INTO checkpoints(name, position, updated_at) VALUES(?1,?2,?3)"
		  " ON CONFLICT(name) DO UPDATE SET position = excluded.position,"
		  " updated_at = excluded.updated_at"),
		S(st_data_version, "PRAGMA data_version"),
		S(st_idx_list,
		  "SELECT id, item, body FROM search_items WHERE proj = ?1 AND key = ?2"),
		S(st_idx_insert,
		  "INSERT INTO search_items(proj, key, item, body) VALUES(?1,?2,?3,?4)"),
		S(st_idx_update, "UPDATE search_items SET body = ?2 WHERE id = ?1"),
		S(st_idx_delete, "DELETE FROM search_items WHERE id = ?1"),
#undef S
	};
	for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
		sqlite3_stmt **slot = (sqlite3_stmt **)((char *)q + stmts[i].off);
		int rc = sqlite3_prepare_v3(q->wdb, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
					    slot, NULL);
		if (rc)
			return rc;
	}
	return SQLITE_OK;
}

static void finalize_all(struct sq *q)
{
	sqlite3_stmt **first = &q->st_begin, **last = &q->st_idx_delete;
	for (sqlite3_stmt **p = first; p <= last; p++) {
		sqlite3_finalize(*p);
		*p = NULL;
	}
	sqlite3_finalize(q->st_fts_insert);
	sqlite3_finalize(q->st_fts_delete);
	q->st_fts_insert = q->st_fts_delete = NULL;
	for (size_t i = 0; i < q->nrcache; i++)
		sqlite3_finalize(q->rcache[i].st);
	q->nrcache = 0;
}

/* A statement on the reader connection (rlock held), prepared once and
 * kept: a read that runs thousands of times a second should not parse its
 * SQL each time.  `sql` must be a string literal (its address is the key).
 * Give it back with rdone(). */
static int rprep(struct sq *q, const char *sql, sqlite3_stmt **out)
{
	for (size_t i = 0; i < q->nrcache; i++)
		if (q->rcache[i].sql == sql) {
			*out = q->rcache[i].st;
			return SQLITE_OK;
		}
	int rc = sqlite3_prepare_v3(q->rdb, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
	if (rc == SQLITE_OK && q->nrcache < SQ_RCACHE_MAX) {
		q->rcache[q->nrcache].sql = sql;
		q->rcache[q->nrcache].st = *out;
		q->nrcache++;
	}
	return rc;
}

/* Reset a statement of rprep (it ends its read transaction), or finalize
 * one the cache had no room for. */
static void rdone(struct sq *q, sqlite3_stmt *st)
{
	for (size_t i = 0; i < q->nrcache; i++)
		if (q->rcache[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return;
		}
	sqlite3_finalize(st);
}

/* ---- open, schema, close ------------------------------------------------------------- */

static int parse_location(struct store *s, const char *location, struct err *e)
{
	struct sq *q = sq_of(s);
	const char *qm = strchr(location, '?');

	q->path = qm ? xstrndup(location, (size_t)(qm - location)) : xstrdup(location);
	q->synchronous = "FULL";
	q->busy_timeout_ms = 10000;
	if (!qm)
		return ERR_OK;
	char *opts = xstrdup(qm + 1), *save = NULL;
	int rc = ERR_OK;
	for (char *kv = strtok_r(opts, "&", &save); kv && !rc; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		char *end = NULL;
		if (!eq) {
			rc = err_set(e, ERR_INVALID,
				     "database option '%s' needs a value (name=value)", kv);
			break;
		}
		*eq = '\0';
		const char *v = eq + 1;
		if (strcmp(kv, "synchronous") == 0) {
			if (strcasecmp(v, "full") == 0)
				q->synchronous = "FULL";
			else if (strcasecmp(v, "normal") == 0)
				q->synchronous = "NORMAL";
			else if (strcasecmp(v, "extra") == 0)
				q->synchronous = "EXTRA";
			else
				rc = err_set(
					e, ERR_INVALID,
					"database option synchronous=%s: use full, extra or normal",
					v);
		} else if (strcmp(kv, "max_pages") == 0) {
			q->max_pages = strtoll(v, &end, 10);
			if (!*v || *end || q->max_pages <= 0)
				rc = err_set(e, ERR_INVALID,
					     "database option max_pages=%s: use a positive integer",
					     v);
		} else if (strcmp(kv, "busy_timeout_ms") == 0) {
			long t = strtol(v, &end, 10);
			if (!*v || *end || t < 0 || t > INT_MAX)
				rc = err_set(
					e, ERR_INVALID,
					"database option busy_timeout_ms=%s: use milliseconds >= 0",
					v);
			q->busy_timeout_ms = (int)t;
		} else {
			rc = err_set(e, ERR_INVALID,
				     "unknown database option '%s'; known: synchronous, max_pages, "
				     "busy_timeout_ms",
				     kv);
		}
	}
	free(opts);
	return rc;
}

/* mkdir -p for the directory holding path. */
static int make_parent_dirs(const char *path, struct err *e)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int rc = ERR_OK;

	if (slash && slash != dir) {
		*slash = '\0';
		for (char *p = dir + 1; *p; p++) {
			if (*p != '/')
				continue;
			*p = '\0';
			if (mkdir(dir, 0700) != 0 && errno != EEXIST)
				break; /* reported below by the final mkdir or the open */
			*p = '/';
		}
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			rc = err_set(e, errno == EACCES || errno == EROFS ? ERR_READONLY : ERR_IO,
				     "cannot create directory %s for the database: %s", dir,
				     strerror(errno));
	}
	free(dir);
	return rc;
}

static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		*out = 0;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Check that the file is ours and not from the future; migrate it. */
static int check_and_migrate(struct store *s, struct err *e)
{
	struct sq *q = sq_of(s);
	int64_t app_id = 0, version = 0, tables = 0;
	int rc;

	if ((rc = query_int(q->wdb, "PRAGMA application_id", &app_id)) ||
	    (rc = query_int(q->wdb, "PRAGMA user_version", &version)) ||
	    (rc = query_int(q->wdb, "SELECT count(*) FROM sqlite_schema", &tables)))
		return sq_fail(s, q->wdb, rc, "cannot read the database header", e);
	if (app_id != SQ_APPLICATION_ID && (app_id != 0 || tables > 0))
		return err_set(
			e, ERR_CORRUPT,
			"%s is an SQLite database of another program (application_id %lld, %lld "
			"tables), not an ambient database; point --db at another file",
			q->path, (long long)app_id, (long long)tables);
	if (version > SQ_SCHEMA_VERSION)
		return err_set(
			e, ERR_VERSION,
			"%s was written by a newer version of ambient (schema %lld; this ambient "
			"%s knows schemas up to %d); upgrade ambient to open it",
			q->path, (long long)version, AMBIENT_VERSION, SQ_SCHEMA_VERSION);
	if (version == SQ_SCHEMA_VERSION)
		return ERR_OK;
	if (s->opt.read_only)
		return err_set(
			e, ERR_READONLY,
			"%s needs a schema upgrade (%lld -> %d) but was opened read-only; open it "
			"once read-write",
			q->path, (long long)version, SQ_SCHEMA_VERSION);

	if ((rc = exec(q->wdb, "BEGIN IMMEDIATE")))
		return sq_fail(s, q->wdb, rc, "cannot lock the database to migrate it", e);
	/* Re-read under the lock: another process may have migrated meanwhile. */
	if ((rc = query_int(q->wdb, "PRAGMA user_version", &version)))
		goto fail;
	for (int v = (int)version; v < SQ_SCHEMA_VERSION; v++) {
		char sql[96];
		if ((rc = exec(q->wdb, migrations[v])))
			goto fail;
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
		if ((rc = exec(q->wdb, sql)))
			goto fail;
		log_info("%s: migrated schema to version %d", q->path, v + 1);
	}
	{
		char sql[64];
		snprintf(sql, sizeof sql, "PRAGMA application_id = %d", SQ_APPLICATION_ID);
		if ((rc = exec(q->wdb, sql)))
			goto fail;
	}
	if ((rc = exec(q->wdb, "COMMIT")))
		goto fail;
	return ERR_OK;
fail:
	sq_fail(s, q->wdb, rc, "cannot migrate the database schema", e);
	exec(q->wdb, "ROLLBACK");
	return e ? e->code : code_of(rc);
}

/* Learn whether full-text search works here, creating search_fts (and
 * filling it from search_items) when FTS5 is compiled in but the table is
 * missing: a new database, or one written by an SQLite without FTS5. */
static int ensure_fts(struct store *s, struct err *e)
{
	static const char *const exists_sql =
		"SELECT count(*) FROM sqlite_schema WHERE name = 'search_fts'";
	struct sq *q = sq_of(s);
	int64_t exists = 0;
	int rc;

	q->fts = false;
	if (!sqlite3_compileoption_used("ENABLE_FTS5"))
		return ERR_OK;
	if ((rc = query_int(q->wdb, exists_sql, &exists)))
		return sq_fail(s, q->wdb, rc, "cannot read the database schema", e);
	if (!exists && !s->opt.read_only) {
		if ((rc = exec(q->wdb, "BEGIN IMMEDIATE")))
			return sq_fail(s, q->wdb, rc, "cannot lock the database to migrate it", e);
		/* another process may have made it meanwhile */
		if (!(rc = query_int(q->wdb, exists_sql, &exists)) && !exists &&
		    !(rc = exec(q->wdb, SQ_FTS_CREATE)) && !(rc = exec(q->wdb, SQ_FTS_REBUILD)))
			log_info("%s: created the full-text index", q->path);
		if (!rc)
			rc = exec(q->wdb, "COMMIT");
		if (rc) {
			sq_fail(s, q->wdb, rc, "cannot create the full-text index", e);
			exec(q->wdb, "ROLLBACK");
			return e ? e->code : code_of(rc);
		}
		exists = 1;
	}
	q->fts = exists != 0;
	if (!q->fts)
		return ERR_OK;
	if ((rc = sqlite3_prepare_v3(q->wdb, "INSERT INTO search_fts(rowid, body) VALUES(?1, ?2)",
				     -1, SQLITE_PREPARE_PERSISTENT, &q->st_fts_insert, NULL)) ||
	    (rc = sqlite3_prepare_v3(q->wdb,
				     "INSERT INTO search_fts(search_fts, rowid, body)"
				     " VALUES('delete', ?1, ?2)",
				     -1, SQLITE_PREPARE_PERSISTENT, &q->st_fts_delete, NULL)))
		return sq_fail(s, q->wdb, rc, "cannot prepare statements", e);
	return ERR_OK;
}

static void sq_free(struct sq *q)
{
	if (!q)
		return;
	finalize_all(q);
	json_decref(q->doc_cache);
	sqlite3_close_v2(q->wdb);
	sqlite3_close_v2(q->rdb);
	pthread_mutex_destroy(&q->rlock);
	pthread_mutex_destroy(&q->qlock);
	pthread_cond_destroy(&q->gather);
	pthread_mutex_destroy(&q->hlock);
	pthread_cond_destroy(&q->hcond);
	free(q->path);
	free(q);
}

/* SQLite's CANTOPEN says little (and its errno is from its last attempt, a
 * read-only open of a file that does not exist): find out what is wrong. */
static int explain_cantopen(struct store *s, sqlite3 *db, struct err *e)
{
	struct sq *q = sq_of(s);
	int mode = s->opt.read_only ? R_OK : R_OK | W_OK;
	int err_no = db ? sqlite3_system_errno(db) : 0;

	if (access(q->path, F_OK) == 0) {
		if (access(q->path, mode) != 0)
			err_no = errno;
	} else if (errno == ENOENT) {
		char *dir = xstrdup(q->path), *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		if (s->opt.read_only) {
			err_no = ENOENT;
		} else if (access(slash ? (slash == dir ? "/" : dir) : ".", W_OK | X_OK) != 0) {
			int saved = errno;
			int rc = err_set(
				e, saved == EACCES || saved == EROFS ? ERR_READONLY : ERR_IO,
				"cannot create the database %s: directory %s: %s; choose a "
				"writable place with --db or --data-dir",
				q->path, slash && slash != dir ? dir : "/", strerror(saved));
			free(dir);
			return rc;
		}
		free(dir);
	} else {
		err_no = errno;
	}
	return err_set(
		e, err_no == EACCES || err_no == EROFS || err_no == EPERM ? ERR_READONLY : ERR_IO,
		"cannot open the database %s: %s; check the path and its permissions", q->path,
		strerror(err_no ? err_no : EIO));
}

static int sq_open(struct store *s, const char *location, struct err *e)
{
	struct sq *q = xcalloc(1, sizeof *q);
	q->doc_cache = json_object();
	q->data_version = -1;
	pthread_condattr_t ca;
	char sql[128];
	int rc, flags;

	s->impl = q;
	pthread_mutex_init(&q->rlock, NULL);
	pthread_mutex_init(&q->qlock, NULL);
	pthread_mutex_init(&q->hlock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->hcond, &ca);
	pthread_cond_init(&q->gather, &ca);
	pthread_condattr_destroy(&ca);

	if ((rc = parse_location(s, location, e)))
		goto fail;
	if (strcmp(q->path, ":memory:") == 0) {
		rc = err_set(
			e, ERR_INVALID,
			"sqlite::memory: is not supported (its readers could not see its writes); "
			"use a file, e.g. sqlite:/tmp/ambient.db");
		goto fail;
	}
	if (!s->opt.read_only && (rc = make_parent_dirs(q->path, e)))
		goto fail;

	flags = SQLITE_OPEN_NOMUTEX |
		(s->opt.read_only ? SQLITE_OPEN_READONLY
				  : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	rc = sqlite3_open_v2(q->path, &q->wdb, flags, NULL);
	if (rc) {
		if (rc == SQLITE_CANTOPEN)
			rc = explain_cantopen(s, q->wdb, e);
		else
			rc = sq_fail(s, q->wdb, rc, "cannot open the database", e);
		goto fail;
	}
	sqlite3_extended_result_codes(q->wdb, 1);
	sqlite3_busy_timeout(q->wdb, q->busy_timeout_ms);

	/* The first real read tells a non-database file apart. */
	int64_t dummy;
	if ((rc = query_int(q->wdb, "SELECT count(*) FROM sqlite_schema", &dummy))) {
		rc = sq_fail(s, q->wdb, rc, "cannot read the database", e);
		goto fail;
	}
	if (!s->opt.read_only) {
		char mode[16] = "";
		sqlite3_stmt *st;
		/* Switching a new file to WAL needs an exclusive lock and does not
		 * wait on the busy handler: two processes opening a new database
		 * at once (two desktop clients) retry here instead of failing. */
		for (int waited_ms = 0;; waited_ms += 10) {
			rc = sqlite3_prepare_v2(q->wdb, "PRAGMA journal_mode=WAL", -1, &st, NULL);
			if (rc == 0) {
				if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
					snprintf(mode, sizeof mode, "%s",
						 sqlite3_column_text(st, 0));
					rc = SQLITE_OK;
				}
				sqlite3_finalize(st);
			}
			if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= q->busy_timeout_ms)
				break;
			sqlite3_sleep(10);
		}
		if (rc) {
			rc = sq_fail(s, q->wdb, rc, "cannot switch the database to WAL mode", e);
			goto fail;
		}
		if (strcasecmp(mode, "wal") != 0) {
			rc = err_set(e, ERR_IO,
				     "%s: the file system does not support WAL mode (got %s)",
				     q->path, mode);
			goto fail;
		}
	}
	snprintf(sql, sizeof sql, "PRAGMA synchronous=%s", q->synchronous);
	exec(q->wdb, sql);
	if (q->max_pages) {
		snprintf(sql, sizeof sql, "PRAGMA max_page_count=%lld", (long long)q->max_pages);
		exec(q->wdb, sql);
	}
	if ((rc = check_and_migrate(s, e)))
		goto fail;
	if ((rc = prepare_all(q))) {
		rc = sq_fail(s, q->wdb, rc, "cannot prepare statements", e);
		goto fail;
	}
	if ((rc = ensure_fts(s, e)))
		goto fail;

	rc = sqlite3_open_v2(q->path, &q->rdb, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc) {
		rc = sq_fail(s, q->rdb, rc, "cannot open a reader on the database", e);
		goto fail;
	}
	sqlite3_extended_result_codes(q->rdb, 1);
	sqlite3_busy_timeout(q->rdb, q->busy_timeout_ms);
	if ((rc = query_int(q->rdb, "SELECT coalesce(max(position), 0) FROM events", &q->head))) {
		rc = sq_fail(s, q->rdb, rc, "cannot read the database", e);
		goto fail;
	}
	if (!sqlite3_compileoption_used("ENABLE_FTS5"))
		log_warn(
			"this SQLite was built without FTS5; full-text search will be unavailable");
	log_debug("opened %s (schema %d, head %lld)", q->path, SQ_SCHEMA_VERSION,
		  (long long)q->head);
	return ERR_OK;
fail:
	sq_free(q);
	s->impl = NULL;
	return rc;
}

static void sq_close(struct store *s)
{
	struct sq *q = sq_of(s);
	if (q->batches)
		log_info("%s: %llu write transactions, %.1f jobs each on average", q->path,
			 (unsigned long long)q->batches,
			 (double)q->batched_jobs / (double)q->batches);
	sq_free(sq_of(s));
	s->impl = NULL;
}

/* ---- reading ---------------------------------------------------------------------- */

static int row_to_event(sqlite3_stmt *st, struct store_event *ev, struct err *e)
{
	const char *data = (const char *)sqlite3_column_text(st, 5);
	const char *meta = (const char *)sqlite3_column_text(st, 6);
	const char *id = (const char *)sqlite3_column_text(st, 1);

	ev->position = sqlite3_column_int64(st, 0);
	snprintf(ev->event_id, sizeof ev->event_id, "%s", id ? id : "");
	ev->stream = xstrdup((const char *)sqlite3_column_text(st, 2));
	ev->version = sqlite3_column_int64(st, 3);
	ev->type = xstrdup((const char *)sqlite3_column_text(st, 4));
	ev->recorded_at_us = sqlite3_column_int64(st, 7);
	ev->data = json_parse(data, (size_t)sqlite3_column_bytes(st, 5), NULL);
	ev->metadata = json_parse(meta, (size_t)sqlite3_column_bytes(st, 6), NULL);
	if (!ev->data || !ev->metadata)
		return err_set(e, ERR_CORRUPT, "event at position %lld has unreadable JSON",
			       (long long)ev->position);
	return ERR_OK;
}

/* Run a prepared SELECT of EVENT_COLUMNS and append its rows to out. */
static int collect(struct store *s, sqlite3 *db, sqlite3_stmt *st, struct store_event_list *out,
		   struct err *e)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = row_to_event(st, store_event_list_push(out), e)))
			return rc;
	}
	if (rc != SQLITE_DONE)
		return sq_fail(s, db, rc, "cannot read events", e);
	return ERR_OK;
}

static int sq_read_stream(struct store *s, const char *stream, int64_t from, bool backward,
			  size_t limit, struct store_event_list *out, struct err *e)
{
	struct sq *q = sq_of(s);
	static const char forward_sql[] = "SELECT " EVENT_COLUMNS " FROM events WHERE stream = ?1"
					  " AND version >= ?2 ORDER BY version LIMIT ?3";
	static const char backward_sql[] = "SELECT " EVENT_COLUMNS " FROM events WHERE stream = ?1"
					   " AND version <= ?2 ORDER BY version DESC LIMIT ?3";
	sqlite3_stmt *st;
	int rc;

	pthread_mutex_lock(&q->rlock);
	if ((rc = rprep(q, backward ? backward_sql : forward_sql, &st))) {
		rc = sq_fail(s, q->rdb, rc, "cannot read a stream", e);
		goto out;
	}
	bind_text(st, 1, stream);
	sqlite3_bind_int64(st, 2, backward && from <= 0 ? INT64_MAX : from);
	sqlite3_bind_int64(st, 3, limit ? (int64_t)limit : -1);
	rc = collect(s, q->rdb, st, out, e);
	rdone(q, st);
out:
	pthread_mutex_unlock(&q->rlock);
	return rc;
}

/* Upper bound for a prefix range scan: the prefix with its last byte + 1. */
static char *prefix_end(const char *prefix)
{
	char *end = xstrdup(prefix);
	size_t n = strlen(end);
	while (n > 0 && (unsigned char)end[n - 1] == 0xff)
		end[--n] = '\0';
	if (n > 0)
		end[n - 1]++;
	return end;
}

/* The 16 shapes of sq_read_all's query (direction; stream, prefix and type
 * filters or not), built once so that rprep can keep each prepared under
 * its own address. */
static char read_all_sql[16][400];
static pthread_once_t read_all_once = PTHREAD_ONCE_INIT;

static size_t read_all_shape(bool backward, const struct store_filter *f)
{
	return (size_t)backward << 3 | (size_t)(f && f->stream) << 2 |
	       (size_t)(f && f->stream_prefix) << 1 | (size_t)(f && f->type);
}

static void read_all_build(void)
{
	for (size_t k = 0; k < 16; k++)
		snprintf(read_all_sql[k], sizeof read_all_sql[k],
			 "SELECT " EVENT_COLUMNS
			 " FROM events WHERE position %s ?1%s%s%s ORDER BY position%s"
			 " LIMIT ?6",
			 k & 8 ? "<" : ">", k & 4 ? " AND stream = ?2" : "",
			 k & 2 ? " AND stream >= ?3 AND stream < ?4" : "",
			 k & 1 ? " AND type = ?5" : "", k & 8 ? " DESC" : "");
}

static int sq_read_all(struct store *s, int64_t after, bool backward, size_t limit,
		       const struct store_filter *f, struct store_event_list *out, struct err *e)
{
	struct sq *q = sq_of(s);
	char *pend = NULL;
	sqlite3_stmt *st;
	int rc;

	pthread_once(&read_all_once, read_all_build);
	const char *sql = read_all_sql[read_all_shape(backward, f)];
	pthread_mutex_lock(&q->rlock);
	if ((rc = rprep(q, sql, &st))) {
		rc = sq_fail(s, q->rdb, rc, "cannot read the log", e);
		goto out;
	}
	sqlite3_bind_int64(st, 1, backward && after <= 0 ? INT64_MAX : after);
	if (f && f->stream)
		bind_text(st, 2, f->stream);
	if (f && f->stream_prefix) {
		pend = prefix_end(f->stream_prefix);
		bind_text(st, 3, f->stream_prefix);
		bind_text(st, 4, pend);
	}
	if (f && f->type)
		bind_text(st, 5, f->type);
	sqlite3_bind_int64(st, 6, limit ? (int64_t)limit : -1);
	rc = collect(s, q->rdb, st, out, e);
	rdone(q, st);
out:
	pthread_mutex_unlock(&q->rlock);
	free(pend);
	return rc;
}

static void publish_head(struct sq *q, int64_t head)
{
	pthread_mutex_lock(&q->hlock);
	if (head > q->head) {
		q->head = head;
		pthread_cond_broadcast(&q->hcond);
	}
	pthread_mutex_unlock(&q->hlock);
}

static int sq_head(struct store *s, int64_t *position, struct err *e)
{
	struct sq *q = sq_of(s);
	int rc;

	sqlite3_stmt *st;
	*position = 0;
	pthread_mutex_lock(&q->rlock);
	rc = rprep(q, "SELECT coalesce(max(position), 0) FROM events", &st);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			*position = sqlite3_column_int64(st, 0);
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
		rdone(q, st);
	}
	pthread_mutex_unlock(&q->rlock);
	if (rc)
		return sq_fail(s, q->rdb, rc, "cannot read the log head", e);
	publish_head(q, *position);
	return ERR_OK;
}

static int sq_stream_version(struct store *s, const char *stream, int64_t *version, struct err *e)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc;

	*version = 0;
	pthread_mutex_lock(&q->rlock);
	rc = rprep(q, "SELECT version FROM streams WHERE stream = ?1", &st);
	if (rc == SQLITE_OK) {
		bind_text(st, 1, stream);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			*version = sqlite3_column_int64(st, 0);
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
		rdone(q, st);
	}
	pthread_mutex_unlock(&q->rlock);
	return rc ? sq_fail(s, q->rdb, rc, "cannot read a stream version", e) : ERR_OK;
}

static int sq_wait(struct store *s, int64_t after, int timeout_ms, struct err *e)
{
	struct sq *q = sq_of(s);
	struct timespec now, until;
	int64_t deadline, pos = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	deadline = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + timeout_ms;
	for (;;) {
		pthread_mutex_lock(&q->hlock);
		if (q->head > after) {
			pthread_mutex_unlock(&q->hlock);
			return ERR_OK;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
		if (now_ms >= deadline) {
			pthread_mutex_unlock(&q->hlock);
			return err_set(e, ERR_TIMEOUT, "no event after position %lld",
				       (long long)after);
		}
		int64_t wake = now_ms + SQ_POLL_MS < deadline ? now_ms + SQ_POLL_MS : deadline;
		until.tv_sec = (time_t)(wake / 1000);
		until.tv_nsec = (long)(wake % 1000) * 1000000;
		int w = pthread_cond_timedwait(&q->hcond, &q->hlock, &until);
		pthread_mutex_unlock(&q->hlock);
		/* Woken by the clock: look for appends made by other processes. */
		if (w == ETIMEDOUT) {
			int rc = sq_head(s, &pos, e);
			if (rc)
				return rc;
		}
	}
}

static int sq_checkpoint_get(struct store *s, const char *name, int64_t *position, struct err *e)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc;

	*position = 0;
	pthread_mutex_lock(&q->rlock);
	rc = rprep(q, "SELECT position FROM checkpoints WHERE name = ?1", &st);
	if (rc == SQLITE_OK) {
		bind_text(st, 1, name);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			*position = sqlite3_column_int64(st, 0);
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
		rdone(q, st);
	}
	pthread_mutex_unlock(&q->rlock);
	return rc ? sq_fail(s, q->rdb, rc, "cannot read a checkpoint", e) : ERR_OK;
}

static int load_doc(struct store *s, sqlite3 *db, sqlite3_stmt *st, json_t **doc, struct err *e)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*doc = json_parse((const char *)sqlite3_column_text(st, 0),
				  (size_t)sqlite3_column_bytes(st, 0), NULL);
		sqlite3_reset(st);
		if (!*doc)
			return err_set(e, ERR_CORRUPT,
				       "a projection document is unreadable; run `ambient replay`");
		return ERR_OK;
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return ERR_NOT_FOUND;
	return sq_fail(s, db, rc, "cannot read a projection", e);
}

static int sq_proj_get(struct store *s, const char *proj, const char *key, json_t **doc,
		       struct err *e)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc;

	pthread_mutex_lock(&q->rlock);
	rc = rprep(q, "SELECT doc FROM projections WHERE name = ?1 AND key = ?2", &st);
	if (rc) {
		rc = sq_fail(s, q->rdb, rc, "cannot read a projection", e);
	} else {
		bind_text(st, 1, proj);
		bind_text(st, 2, key);
		rc = load_doc(s, q->rdb, st, doc, e);
		if (rc == ERR_NOT_FOUND)
			err_set(e, ERR_NOT_FOUND, "%s has no document %s", proj, key);
		rdone(q, st);
	}
	pthread_mutex_unlock(&q->rlock);
	return rc;
}

static int list_docs(struct store *s, sqlite3 *db, const char *proj, json_t **docs, struct err *e)
{
	static const char sql[] = "SELECT key, doc FROM projections WHERE name = ?1"
				  " ORDER BY created_position";
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc = db == q->rdb ? rprep(q, sql, &st) : sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc)
		return sq_fail(s, db, rc, "cannot list a projection", e);
	bind_text(st, 1, proj);
	*docs = json_object();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *doc = json_parse((const char *)sqlite3_column_text(st, 1),
					 (size_t)sqlite3_column_bytes(st, 1), NULL);
		if (!doc) {
			rc = SQLITE_CORRUPT;
			break;
		}
		json_object_set_new(*docs, (const char *)sqlite3_column_text(st, 0), doc);
	}
	if (db == q->rdb)
		rdone(q, st);
	else
		sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return ERR_OK;
	json_decref(*docs);
	*docs = NULL;
	if (rc == SQLITE_CORRUPT)
		return err_set(e, ERR_CORRUPT,
			       "projection %s holds unreadable JSON; run `ambient replay`", proj);
	return sq_fail(s, db, rc, "cannot list a projection", e);
}

static int sq_proj_list(struct store *s, const char *proj, json_t **docs, struct err *e)
{
	struct sq *q = sq_of(s);
	pthread_mutex_lock(&q->rlock);
	int rc = list_docs(s, q->rdb, proj, docs, e);
	pthread_mutex_unlock(&q->rlock);
	return rc;
}

/* ---- full-text search ----------------------------------------------------------------- */

/* The FTS5 query of a term list: every term a quoted string (quotes inside
 * doubled), so nothing in it is syntax; '*' after it for a prefix; joined
 * by spaces (all) or OR (any).  Caller frees; NULL when no term has text. */
static char *fts_match_text(const struct store_search *qy)
{
	struct buf b;
	bool first = true;

	buf_init(&b, (size_t)STORE_SEARCH_TERMS_MAX * (2 * STORE_SEARCH_TERM_MAX + 8) + 1);
	for (size_t i = 0; i < qy->nterms; i++) {
		const char *t = qy->terms[i].text;

		if (!*t)
			continue;
		if (!first)
			buf_puts(&b, qy->any ? " OR " : " ");
		first = false;
		buf_puts(&b, "\"");
		for (const char *c = t; *c; c++) {
			buf_append(&b, c, 1);
			if (*c == '"')
				buf_append(&b, c, 1); /* "" in a string is one quote */
		}
		buf_puts(&b, qy->terms[i].prefix ? "\"*" : "\"");
	}
	if (first) {
		buf_cleanup(&b);
		return NULL;
	}
	return buf_steal(&b);
}

static int sq_proj_search(struct store *s, const struct store_search *qy, json_t **hits,
			  struct err *e)
{
	struct sq *q = sq_of(s);
	char *match;
	sqlite3_stmt *st = NULL;
	int rc;

	if (!q->fts && !sqlite3_compileoption_used("ENABLE_FTS5"))
		return err_set(
			e, ERR_STATE,
			"full-text search is unavailable: the SQLite library ambient runs with "
			"was built without FTS5");
	if (!q->fts)
		return err_set(
			e, ERR_STATE,
			"full-text search is unavailable: %s has no full-text index yet (it is "
			"made when the database is opened read-write); open it once read-write",
			q->path);
	match = fts_match_text(qy);
	*hits = json_array();
	if (!match)
		return ERR_OK;
	pthread_mutex_lock(&q->rlock);
	rc = sqlite3_prepare_v2(q->rdb,
				"SELECT i.key, i.item, bm25(search_fts) FROM search_fts"
				" JOIN search_items i ON i.id = search_fts.rowid"
				" WHERE search_fts MATCH ?1 AND i.proj = ?2"
				" AND (?3 IS NULL OR i.key = ?3)"
				" ORDER BY bm25(search_fts), i.id LIMIT ?4",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		bind_text(st, 1, match);
		bind_text(st, 2, qy->proj);
		if (qy->key)
			bind_text(st, 3, qy->key);
		sqlite3_bind_int64(st, 4, qy->limit ? (int64_t)qy->limit : SQ_SEARCH_LIMIT_DEFAULT);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			/* bm25 is negative, lower is better: the score is its opposite */
			json_array_append_new(
				*hits, json_pack("{s:s, s:s, s:f}", "key",
						 (const char *)sqlite3_column_text(st, 0), "item",
						 (const char *)sqlite3_column_text(st, 1), "score",
						 -sqlite3_column_double(st, 2)));
		}
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	if (rc) {
		json_decref(*hits);
		*hits = NULL;
		if ((rc & 0xff) == SQLITE_ERROR)
			rc = err_set(e, ERR_INVALID, "full-text query %.200s: %s", match,
				     sqlite3_errmsg(q->rdb));
		else
			rc = sq_fail(s, q->rdb, rc, "cannot search", e);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&q->rlock);
	free(match);
	return rc;
}

/* ---- writing: jobs run by the leader inside one transaction ------------------------ */

static int64_t now_us(struct store *s)
{
	return clock_wall_us(s->clock);
}

/* Called by a job just before its first write.  A job that can still fail
 * for its own reasons after writing (a projection refusing an event) asks
 * for a savepoint so that it alone can be undone; the others skip that
 * cost, as their only possible failures after this point are SQLite errors
 * (a full disk), which abort the whole batch anyway. */
static int start_writing(struct store *s, struct job *j, bool undoable, struct err *e)
{
	struct sq *q = sq_of(s);
	int rc;

	j->wrote = true;
	if (!undoable)
		return ERR_OK;
	if ((rc = step_done(q->st_savepoint)))
		return sq_fail(s, q->wdb, rc, "cannot start a savepoint", e);
	j->savepoint = true;
	return ERR_OK;
}

/* Retried append: every id already stored, in this stream, in order? */
static int check_duplicates(struct store *s, struct job *j, bool *dup, struct err *e)
{
	struct sq *q = sq_of(s);
	size_t found = 0;
	int64_t first_pos = 0, last_pos = 0, last_ver = 0, last_rec = 0;
	bool same = true;

	*dup = false;
	for (size_t i = 0; i < j->n; i++) {
		if (!j->id_given[i])
			continue;
		bind_text(q->st_by_id, 1, j->evs[i].event_id);
		int rc = sqlite3_step(q->st_by_id);
		if (rc == SQLITE_ROW) {
			int64_t pos = sqlite3_column_int64(q->st_by_id, 0);
			const char *stream = (const char *)sqlite3_column_text(q->st_by_id, 1);
			int64_t ver = sqlite3_column_int64(q->st_by_id, 2);
			if (strcmp(stream, j->stream) != 0 || (found > 0 && ver != last_ver + 1))
				same = false;
			if (found == 0)
				first_pos = pos;
			last_pos = pos;
			last_ver = ver;
			last_rec = sqlite3_column_int64(q->st_by_id, 3);
			found++;
		}
		sqlite3_reset(q->st_by_id);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return sq_fail(s, q->wdb, rc, "cannot look up event ids", e);
	}
	if (found == 0)
		return ERR_OK;
	size_t given = 0;
	for (size_t i = 0; i < j->n; i++)
		given += j->id_given[i];
	if (found == j->n && given == j->n && same) {
		*dup = true;
		j->res->first_position = first_pos;
		j->res->last_position = last_pos;
		j->res->version = last_ver;
		j->res->recorded_at_us = last_rec;
		j->res->duplicate = true;
		return ERR_OK;
	}
	return err_set(
		e, ERR_CONFLICT,
		"append to stream '%s': %zu of its %zu event ids are already stored %s; retry "
		"with exactly the original events or with new ids",
		j->stream, found, j->n, same ? "(a partial retry)" : "in another stream or order");
}

static const char *expected_text(int64_t expected, char *buf, size_t size)
{
	if (expected == STORE_EXPECT_NO_STREAM)
		return "no stream";
	if (expected == STORE_EXPECT_EXISTS)
		return "an existing stream";
	snprintf(buf, size, "version %lld", (long long)expected);
	return buf;
}

/* One row of search_items, as reindex reads them. */
struct idx_row {
	int64_t id;
	char *item, *body;
};

static int fts_step(struct sq *q, sqlite3_stmt *st, int64_t id, const char *body)
{
	if (!q->fts)
		return SQLITE_OK;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, body);
	return step_done(st);
}

/* Bring the search rows of document `key` of projection p in step with
 * p->index(doc) (doc NULL: the document is gone): rows whose text is
 * unchanged stay, changed ones are rewritten, others added or removed. */
static int reindex(struct store *s, const struct store_projection *p, const char *key,
		   const json_t *doc, struct err *e)
{
	struct sq *q = sq_of(s);
	json_t *want = doc ? p->index(doc, p->ud) : NULL, *done = json_object(), *v;
	struct idx_row *rows = NULL;
	size_t n = 0, cap = 0;
	const char *item;
	int rc;

	bind_text(q->st_idx_list, 1, p->name);
	bind_text(q->st_idx_list, 2, key);
	while ((rc = sqlite3_step(q->st_idx_list)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			rows = xrealloc(rows, cap * sizeof *rows);
		}
		rows[n].id = sqlite3_column_int64(q->st_idx_list, 0);
		rows[n].item = xstrdup((const char *)sqlite3_column_text(q->st_idx_list, 1));
		rows[n].body = xstrdup((const char *)sqlite3_column_text(q->st_idx_list, 2));
		n++;
	}
	sqlite3_reset(q->st_idx_list);
	rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	for (size_t i = 0; i < n && !rc; i++) {
		const char *text = json_string_value(json_object_get(want, rows[i].item));

		if (text && strcmp(text, rows[i].body) == 0) {
			json_object_set_new(done, rows[i].item, json_true());
			continue;
		}
		if ((rc = fts_step(q, q->st_fts_delete, rows[i].id, rows[i].body)))
			break;
		if (text) {
			sqlite3_bind_int64(q->st_idx_update, 1, rows[i].id);
			bind_text(q->st_idx_update, 2, text);
			if (!(rc = step_done(q->st_idx_update)))
				rc = fts_step(q, q->st_fts_insert, rows[i].id, text);
			json_object_set_new(done, rows[i].item, json_true());
		} else {
			sqlite3_bind_int64(q->st_idx_delete, 1, rows[i].id);
			rc = step_done(q->st_idx_delete);
		}
	}
	json_object_foreach(want, item, v) {
		if (rc)
			break;
		if (!json_is_string(v) || json_object_get(done, item))
			continue;
		bind_text(q->st_idx_insert, 1, p->name);
		bind_text(q->st_idx_insert, 2, key);
		bind_text(q->st_idx_insert, 3, item);
		bind_text(q->st_idx_insert, 4, json_string_value(v));
		if (!(rc = step_done(q->st_idx_insert)))
			rc = fts_step(q, q->st_fts_insert, sqlite3_last_insert_rowid(q->wdb),
				      json_string_value(v));
	}
	for (size_t i = 0; i < n; i++) {
		free(rows[i].item);
		free(rows[i].body);
	}
	free(rows);
	json_decref(want);
	json_decref(done);
	return rc ? sq_fail(s, q->wdb, rc, "cannot update the full-text index", e) : ERR_OK;
}

/* Count a change of the projection in its stamp (STORE_PROJECTION_STAMP),
 * in the transaction of the change (SQLite result code). */
static int stamp_projection(struct store *s, const char *name)
{
	struct sq *q = sq_of(s);
	char key[256];
	snprintf(key, sizeof key, STORE_PROJECTION_STAMP "%s", name);
	bind_text(q->st_proj_stamp, 1, key);
	sqlite3_bind_int64(q->st_proj_stamp, 2, now_us(s));
	return step_done(q->st_proj_stamp);
}

/* The cache starts over when it would hold more documents or bytes (of
 * their text) than this; larger documents are not kept at all. */
#define DOC_CACHE_MAX 4096
#define DOC_CACHE_BYTES (16 << 20)
#define DOC_CACHE_DOC_MAX (64 << 10)

/* Forget every cached document: after a rollback, or another writer. */
static void doc_cache_drop(struct sq *q)
{
	json_object_clear(q->doc_cache);
	q->doc_cache_bytes = 0;
}

/* The cached document of key (borrowed), or NULL. */
static json_t *doc_cache_get(struct sq *q, const char *key)
{
	return json_array_get(json_object_get(q->doc_cache, key), 0);
}

static void doc_cache_key(const char *proj, const char *stream, char *out, size_t size)
{
	snprintf(out, size, "%s\x1f%s", proj, stream);
}

/* Keep doc, whose text is `bytes` long, as the latest of its key (doc
 * NULL: the document is gone).  Entries are [doc, bytes]. */
static void doc_cache_put(struct sq *q, const char *key, json_t *doc, size_t bytes)
{
	json_t *old = json_object_get(q->doc_cache, key);
	if (old) {
		q->doc_cache_bytes -= (size_t)json_integer_value(json_array_get(old, 1));
		json_object_del(q->doc_cache, key);
	}
	if (!doc || bytes > DOC_CACHE_DOC_MAX)
		return;
	if (json_object_size(q->doc_cache) >= DOC_CACHE_MAX ||
	    q->doc_cache_bytes + bytes > DOC_CACHE_BYTES)
		doc_cache_drop(q);
	if (json_object_set_new(q->doc_cache, key, json_pack("[O,I]", doc, (json_int_t)bytes)) == 0)
		q->doc_cache_bytes += bytes;
}

static int run_projections(struct store *s, const struct store_event *ev, struct err *e)
{
	struct sq *q = sq_of(s);

	for (size_t i = 0; i < s->opt.nprojections; i++) {
		const struct store_projection *p = &s->opt.projections[i];
		json_t *doc = NULL, *next;
		struct err local = {0};
		int rc;

		if (strncmp(ev->stream, p->stream_prefix, strlen(p->stream_prefix)) != 0)
			continue;
		char key[STORE_STREAM_MAX + 128];
		doc_cache_key(p->name, ev->stream, key, sizeof key);
		doc = json_incref(doc_cache_get(q, key));
		if (!doc) {
			bind_text(q->st_proj_get, 1, p->name);
			bind_text(q->st_proj_get, 2, ev->stream);
			rc = load_doc(s, q->wdb, q->st_proj_get, &doc, e);
			if (rc && rc != ERR_NOT_FOUND)
				return rc;
		}
		/* apply must not change doc, nor share with the caller's event
		 * data anything the caller may change later: the cache keeps
		 * both (store.h) */
		next = p->apply(doc, ev, p->ud, &local);
		json_decref(doc);
		if (!next && local.code) {
			err_prefix(&local, "projection %s refused event %s", p->name, ev->type);
			if (e)
				*e = local;
			return local.code;
		}
		if (p->index && (rc = reindex(s, p, ev->stream, next, e))) {
			json_decref(next);
			return rc;
		}
		if (next) {
			char *text = json_to_text(next);
			doc_cache_put(q, key, next, text ? strlen(text) : SIZE_MAX);
			json_decref(next);
			bind_text(q->st_proj_put, 1, p->name);
			bind_text(q->st_proj_put, 2, ev->stream);
			bind_text(q->st_proj_put, 3, text);
			sqlite3_bind_int64(q->st_proj_put, 4, ev->position);
			rc = step_done(q->st_proj_put);
			free(text);
		} else {
			doc_cache_put(q, key, NULL, 0);
			bind_text(q->st_proj_del, 1, p->name);
			bind_text(q->st_proj_del, 2, ev->stream);
			rc = step_done(q->st_proj_del);
		}
		if (!rc)
			rc = stamp_projection(s, p->name);
		if (rc)
			return sq_fail(s, q->wdb, rc, "cannot update a projection", e);
	}
	return ERR_OK;
}

/* Add the job's event count to its stream's version; *version is the new one. */
static int bump_stream(struct store *s, struct job *j, int64_t *version, struct err *e)
{
	struct sq *q = sq_of(s);
	bind_text(q->st_bump_stream, 1, j->stream);
	sqlite3_bind_int64(q->st_bump_stream, 2, (int64_t)j->n);
	int rc = sqlite3_step(q->st_bump_stream);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int64(q->st_bump_stream, 0);
	sqlite3_reset(q->st_bump_stream);
	if (rc != SQLITE_ROW)
		return sq_fail(s, q->wdb, rc ? rc : SQLITE_ERROR, "cannot update a stream version",
			       e);
	return ERR_OK;
}

static int job_append(struct store *s, struct job *j, struct err *e)
{
	struct sq *q = sq_of(s);
	int64_t version = 0;
	bool dup;
	int rc;

	if ((rc = check_duplicates(s, j, &dup, e)) || dup)
		return rc;

	/* No event can clash on its id after check_duplicates (the batch's
	 * earlier rows are visible to it, and store_append refused an id given
	 * twice): only a projection refusing an event undoes a job that wrote. */
	bool undoable = false;
	for (size_t i = 0; i < s->opt.nprojections && !undoable; i++) {
		const char *prefix = s->opt.projections[i].stream_prefix;
		undoable = strncmp(j->stream, prefix, strlen(prefix)) == 0;
	}

	if (j->expected == STORE_EXPECT_ANY) {
		/* No check to make: bump the stream's version first and learn the
		 * old one from it, one statement instead of a read and a write. */
		if ((rc = start_writing(s, j, undoable, e)) ||
		    (rc = bump_stream(s, j, &version, e)))
			return rc;
		version -= (int64_t)j->n;
	} else {
		bind_text(q->st_stream_version, 1, j->stream);
		rc = sqlite3_step(q->st_stream_version);
		if (rc == SQLITE_ROW)
			version = sqlite3_column_int64(q->st_stream_version, 0);
		sqlite3_reset(q->st_stream_version);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return sq_fail(s, q->wdb, rc, "cannot read a stream version", e);
		bool ok = (j->expected == STORE_EXPECT_EXISTS && version > 0) ||
			  (j->expected >= 0 && j->expected == version);
		if (!ok) {
			char buf[32];
			if (version == 0)
				return err_set(e, ERR_CONFLICT,
					       "append to stream '%s': expected %s, but the stream "
					       "does not exist",
					       j->stream,
					       expected_text(j->expected, buf, sizeof buf));
			return err_set(e, ERR_CONFLICT,
				       "append to stream '%s': expected %s, but the stream is at "
				       "version %lld",
				       j->stream, expected_text(j->expected, buf, sizeof buf),
				       (long long)version);
		}
		int64_t bumped;
		if ((rc = start_writing(s, j, undoable, e)) || (rc = bump_stream(s, j, &bumped, e)))
			return rc;
	}
	for (size_t i = 0; i < j->n; i++) {
		struct store_new_event *ne = &j->evs[i];
		struct store_event ev = {0};

		ev.position = ++q->next_position;
		ev.version = ++version;
		ev.recorded_at_us = now_us(s);
		memcpy(ev.event_id, ne->event_id, sizeof ev.event_id);
		ev.stream = (char *)j->stream;
		ev.type = (char *)ne->type;
		ev.data = (json_t *)ne->data;
		ev.metadata = (json_t *)ne->metadata;

		sqlite3_stmt *st = q->st_insert;
		sqlite3_bind_int64(st, 1, ev.position);
		bind_text(st, 2, ne->event_id);
		bind_text(st, 3, j->stream);
		sqlite3_bind_int64(st, 4, ev.version);
		bind_text(st, 5, ne->type);
		bind_text(st, 6, j->data_text[i]);
		bind_text(st, 7, j->meta_text[i]);
		sqlite3_bind_int64(st, 8, ev.recorded_at_us);
		if ((rc = step_done(st))) {
			if ((rc & 0xff) == SQLITE_CONSTRAINT)
				return err_set(
					e, ERR_CONFLICT,
					"append to stream '%s': event id %s is already stored",
					j->stream, ne->event_id);
			return sq_fail(s, q->wdb, rc, "cannot append an event", e);
		}
		if (s->opt.nprojections && (rc = run_projections(s, &ev, e)))
			return rc;
		if (i == 0)
			j->res->first_position = ev.position;
		j->res->recorded_at_us = ev.recorded_at_us;
	}
	j->res->last_position = q->next_position;
	j->res->version = version;
	j->res->duplicate = false;
	return ERR_OK;
}

static int job_checkpoint(struct store *s, struct job *j, struct err *e)
{
	struct sq *q = sq_of(s);
	int rc;
	if ((rc = start_writing(s, j, false, e)))
		return rc;
	bind_text(q->st_checkpoint, 1, j->name);
	sqlite3_bind_int64(q->st_checkpoint, 2, j->position);
	sqlite3_bind_int64(q->st_checkpoint, 3, now_us(s));
	rc = step_done(q->st_checkpoint);
	return rc ? sq_fail(s, q->wdb, rc, "cannot save a checkpoint", e) : ERR_OK;
}

/* Write a batch of soft-state documents (NULL doc: delete). */
static int job_soft_put(struct store *s, struct job *j, struct err *e)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *put = NULL, *del = NULL;
	int rc;
	if ((rc = start_writing(s, j, true, e)))
		return rc;
	rc = sqlite3_prepare_v2(q->wdb,
				"INSERT INTO soft_state(key, doc, updated_at) VALUES(?1, ?2, ?3)"
				" ON CONFLICT(key) DO UPDATE SET doc = excluded.doc,"
				" updated_at = excluded.updated_at",
				-1, &put, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(q->wdb, "DELETE FROM soft_state WHERE key = ?1", -1, &del,
					NULL);
	for (size_t i = 0; i < j->n && rc == SQLITE_OK; i++) {
		if (j->soft_text[i]) {
			bind_text(put, 1, j->soft[i].key);
			bind_text(put, 2, j->soft_text[i]);
			sqlite3_bind_int64(put, 3, now_us(s));
			rc = step_done(put);
		} else {
			bind_text(del, 1, j->soft[i].key);
			rc = step_done(del);
		}
	}
	sqlite3_finalize(put);
	sqlite3_finalize(del);
	return rc ? sq_fail(s, q->wdb, rc, "cannot save soft state", e) : ERR_OK;
}

/* Take, renew or release a lease in one transaction. */
static int job_lease(struct store *s, struct job *j, struct err *e)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st = NULL;
	int64_t now = now_us(s);
	int rc;
	struct store_lease *l = j->lease;
	if ((rc = start_writing(s, j, true, e)))
		return rc;
	if (j->lease_op == STORE_LEASE_RELEASE) {
		rc = sqlite3_prepare_v2(q->wdb, "DELETE FROM leases WHERE name = ?1 AND owner = ?2",
					-1, &st, NULL);
		if (rc == SQLITE_OK) {
			bind_text(st, 1, j->name);
			bind_text(st, 2, j->owner);
			rc = step_done(st);
		}
		l->held = false;
		goto out;
	}
	/* Insert, or take over when expired or ours; then read who holds it. */
	if (j->lease_op == STORE_LEASE_PEEK)
		goto read;
	rc = sqlite3_prepare_v2(q->wdb,
				"INSERT INTO leases(name, owner, expires_at, acquired_at)"
				" VALUES(?1, ?2, ?3, ?4) ON CONFLICT(name) DO UPDATE SET"
				" owner = excluded.owner, expires_at = excluded.expires_at,"
				" acquired_at = CASE WHEN leases.owner = excluded.owner"
				" THEN leases.acquired_at ELSE excluded.acquired_at END"
				" WHERE leases.owner = excluded.owner OR leases.expires_at < ?4",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		bind_text(st, 1, j->name);
		bind_text(st, 2, j->owner);
		sqlite3_bind_int64(st, 3, now + j->ttl_us);
		sqlite3_bind_int64(st, 4, now);
		rc = step_done(st);
	}
	sqlite3_finalize(st);
	st = NULL;
read:
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(q->wdb,
					"SELECT owner, expires_at FROM leases WHERE name = ?1"
					" AND expires_at >= ?2",
					-1, &st, NULL);
	if (rc == SQLITE_OK) {
		bind_text(st, 1, j->name);
		sqlite3_bind_int64(st, 2, now);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			snprintf(l->holder, sizeof(l->holder), "%s",
				 (const char *)sqlite3_column_text(st, 0));
			l->expires_at_us = sqlite3_column_int64(st, 1);
			l->held = j->lease_op == STORE_LEASE_ACQUIRE &&
				  strcmp(l->holder, j->owner) == 0;
			rc = SQLITE_OK;
		} else {
			rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		}
	}
out:
	sqlite3_finalize(st);
	return rc ? sq_fail(s, q->wdb, rc, "cannot update a lease", e) : ERR_OK;
}

/* Share a set of leases (see store_lease_claim): keep the first max of
 * ours, give up the rest of ours, take free or expired ones until max.  The
 * writer runs one job at a time, so nobody else takes a row meanwhile. */
static int job_lease_claim(struct store *s, struct job *j, struct err *e)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *get = NULL, *take = NULL, *drop = NULL;
	int64_t now = now_us(s);
	size_t mine = 0;
	int rc;
	if ((rc = start_writing(s, j, true, e)))
		return rc;
	rc = sqlite3_prepare_v2(q->wdb, "SELECT owner, expires_at FROM leases WHERE name = ?1", -1,
				&get, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(q->wdb,
					"INSERT INTO leases(name, owner, expires_at, acquired_at)"
					" VALUES(?1, ?2, ?3, ?4) ON CONFLICT(name) DO UPDATE SET"
					" owner = excluded.owner, expires_at = excluded.expires_at,"
					" acquired_at = CASE WHEN leases.owner = excluded.owner"
					" THEN leases.acquired_at ELSE excluded.acquired_at END",
					-1, &take, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(q->wdb, "DELETE FROM leases WHERE name = ?1 AND owner = ?2",
					-1, &drop, NULL);
	/* Two passes: first what we hold (keep or give up), then free ones. */
	for (int pass = 0; pass < 2 && rc == SQLITE_OK; pass++) {
		for (size_t i = 0; i < j->n && rc == SQLITE_OK; i++) {
			bool ours = false, free_ = true;
			if (pass == 1 && (j->held[i] || mine >= j->max))
				continue;
			sqlite3_reset(get);
			bind_text(get, 1, j->names[i]);
			rc = sqlite3_step(get);
			if (rc == SQLITE_ROW) {
				ours = strcmp((const char *)sqlite3_column_text(get, 0),
					      j->owner) == 0;
				free_ = sqlite3_column_int64(get, 1) < now;
				rc = SQLITE_OK;
			} else if (rc == SQLITE_DONE) {
				rc = SQLITE_OK;
			}
			if (rc != SQLITE_OK)
				break;
			sqlite3_stmt *st = NULL;
			if (pass == 0 && ours && mine < j->max)
				st = take;
			else if (pass == 0 && ours)
				st = drop;
			else if (pass == 1 && free_)
				st = take;
			if (!st)
				continue;
			sqlite3_reset(st);
			bind_text(st, 1, j->names[i]);
			bind_text(st, 2, j->owner);
			if (st == take) {
				sqlite3_bind_int64(st, 3, now + j->ttl_us);
				sqlite3_bind_int64(st, 4, now);
			}
			rc = step_done(st);
			if (rc == SQLITE_OK && st == take) {
				j->held[i] = true;
				mine++;
			}
		}
	}
	sqlite3_finalize(get);
	sqlite3_finalize(take);
	sqlite3_finalize(drop);
	if (rc) {
		for (size_t i = 0; i < j->n; i++)
			j->held[i] = false;
		return sq_fail(s, q->wdb, rc, "cannot update leases", e);
	}
	return ERR_OK;
}

/* Replace the search rows of projection p with those of the rebuilt docs,
 * then rebuild the whole FTS index from search_items: a rebuild is also how
 * an index that went out of step (written without FTS5, damaged) is
 * repaired. */
static int rebuild_index(struct store *s, const struct store_projection *p, const json_t *docs,
			 struct err *e)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st = NULL;
	bool changed;
	int rc;

	if ((rc = sqlite3_prepare_v2(q->wdb, "DELETE FROM search_items WHERE proj = ?1", -1, &st,
				     NULL)))
		goto out;
	bind_text(st, 1, p->name);
	if ((rc = step_done(st)))
		goto out;
	changed = sqlite3_changes(q->wdb) > 0;
	const char *key;
	json_t *doc;
	json_object_foreach((json_t *)docs, key, doc) {
		json_t *want = p->index ? p->index(doc, p->ud) : NULL, *v;
		const char *item;

		json_object_foreach(want, item, v) {
			if (!json_is_string(v))
				continue;
			bind_text(q->st_idx_insert, 1, p->name);
			bind_text(q->st_idx_insert, 2, key);
			bind_text(q->st_idx_insert, 3, item);
			bind_text(q->st_idx_insert, 4, json_string_value(v));
			if ((rc = step_done(q->st_idx_insert)))
				break;
			changed = true;
		}
		json_decref(want);
		if (rc)
			goto out;
	}
	if (changed && q->fts)
		rc = exec(q->wdb, SQ_FTS_REBUILD);
out:
	sqlite3_finalize(st);
	return rc ? sq_fail(s, q->wdb, rc, "cannot rebuild the full-text index", e) : ERR_OK;
}

/* Fold the log through one projection, compare, and (write) replace it. */
static int job_rebuild(struct store *s, struct job *j, struct err *e)
{
	struct sq *q = sq_of(s);

	doc_cache_drop(q); /* every document of the projection is rewritten */
	const struct store_projection *p = j->proj;
	json_t *docs = json_object(), *first = json_object(), *last = json_object();
	json_t *stored = NULL;
	char *pend = prefix_end(p->stream_prefix);
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(q->wdb,
				"SELECT " EVENT_COLUMNS
				" FROM events WHERE stream >= ?1 AND stream < ?2"
				" ORDER BY position",
				-1, &st, NULL);
	if (rc) {
		rc = sq_fail(s, q->wdb, rc, "cannot read the log", e);
		goto out;
	}
	bind_text(st, 1, p->stream_prefix);
	bind_text(st, 2, pend);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_event ev = {0};
		if ((rc = row_to_event(st, &ev, e)) == ERR_OK) {
			bool had = json_object_get(docs, ev.stream) != NULL;
			rc = store_projection_fold(p, docs, &ev, e);
			if (!rc) {
				j->report->events++;
				if (!json_object_get(docs, ev.stream)) {
					json_object_del(first, ev.stream);
				} else {
					if (!had)
						json_object_set_new(first, ev.stream,
								    json_integer(ev.position));
					json_object_set_new(last, ev.stream,
							    json_integer(ev.position));
				}
			}
		}
		store_event_cleanup(&ev);
		if (rc)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		rc = sq_fail(s, q->wdb, rc, "cannot read the log", e);
		goto out;
	}
	if ((rc = list_docs(s, q->wdb, p->name, &stored, e)))
		goto out;
	store_replay_compare(stored, docs, j->report);
	if (!j->write)
		goto out;

	sqlite3_finalize(st);
	st = NULL;
	if ((rc = start_writing(s, j, false, e)))
		goto out;
	if ((rc = sqlite3_prepare_v2(q->wdb, "DELETE FROM projections WHERE name = ?1", -1, &st,
				     NULL)))
		goto sqlfail;
	bind_text(st, 1, p->name);
	if ((rc = step_done(st)))
		goto sqlfail;
	sqlite3_finalize(st);
	if ((rc = sqlite3_prepare_v2(
		     q->wdb,
		     "INSERT INTO projections(name, key, doc, position, created_position)"
		     " VALUES(?1, ?2, ?3, ?4, ?5)",
		     -1, &st, NULL)))
		goto sqlfail;
	const char *key;
	json_t *doc;
	json_object_foreach(docs, key, doc) {
		char *text = json_to_text(doc);
		bind_text(st, 1, p->name);
		bind_text(st, 2, key);
		bind_text(st, 3, text);
		sqlite3_bind_int64(st, 4, json_integer_value(json_object_get(last, key)));
		sqlite3_bind_int64(st, 5, json_integer_value(json_object_get(first, key)));
		rc = step_done(st);
		free(text);
		if (rc)
			goto sqlfail;
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = stamp_projection(s, p->name)))
		goto sqlfail;
	rc = rebuild_index(s, p, docs, e);
	goto out;
sqlfail:
	rc = sq_fail(s, q->wdb, rc, "cannot rewrite a projection", e);
out:
	sqlite3_finalize(st);
	json_decref(docs);
	json_decref(first);
	json_decref(last);
	json_decref(stored);
	free(pend);
	return rc;
}

/* Open the batch's transaction and learn the head of the log. */
static int batch_begin(struct store *s, struct err *e)
{
	struct sq *q = sq_of(s);
	int rc;

	if ((rc = step_done(q->st_begin)))
		return sq_fail(s, q->wdb, rc, "cannot start a write transaction", e);
	rc = sqlite3_step(q->st_max_pos);
	q->next_position = rc == SQLITE_ROW ? sqlite3_column_int64(q->st_max_pos, 0) : 0;
	sqlite3_reset(q->st_max_pos);
	if (rc != SQLITE_ROW)
		return sq_fail(s, q->wdb, rc, "cannot read the log head", e);
	/* Another connection (a CLI command, another process) committed since
	 * our last batch: the cached documents may be stale. */
	rc = sqlite3_step(q->st_data_version);
	int64_t version = rc == SQLITE_ROW ? sqlite3_column_int64(q->st_data_version, 0) : -1;
	sqlite3_reset(q->st_data_version);
	if (rc != SQLITE_ROW)
		return sq_fail(s, q->wdb, rc, "cannot read the data version", e);
	if (version != q->data_version) {
		doc_cache_drop(q);
		q->data_version = version;
	}
	return ERR_OK;
}

/* Run jobs inside the open transaction.  A job that fails is undone by
 * rolling back to its savepoint, so the others still commit.  Returns an
 * error only when the whole batch must fail: SQLite rolled the transaction
 * back itself (I/O error, disk full), or a job failed after writing without
 * a savepoint. */
static int batch_run(struct store *s, struct job *list, struct err *e)
{
	struct sq *q = sq_of(s);
	int rc;

	for (struct job *j = list; j; j = j->next) {
		int64_t saved = q->next_position;
		j->wrote = j->savepoint = false;
		j->rc = j->run(s, j, &j->err);
		if (j->rc == ERR_OK) {
			if (j->savepoint && (rc = step_done(q->st_release)))
				return sq_fail(s, q->wdb, rc, "cannot release a savepoint", e);
			continue;
		}
		q->next_position = saved;
		if (sqlite3_get_autocommit(q->wdb) || (j->wrote && !j->savepoint)) {
			if (e)
				*e = j->err;
			return j->rc;
		}
		if (j->wrote)
			doc_cache_drop(q); /* it may hold what the job wrote */
		if (j->savepoint &&
		    ((rc = step_done(q->st_rollback_to)) || (rc = step_done(q->st_release))))
			return sq_fail(s, q->wdb, rc, "cannot roll back a savepoint", e);
	}
	return ERR_OK;
}

/* Every job of a failed batch that had succeeded fails with its error. */
static void batch_abort(struct store *s, struct job *list, const struct err *e)
{
	struct sq *q = sq_of(s);

	doc_cache_drop(q);
	if (!sqlite3_get_autocommit(q->wdb))
		step_done(q->st_rollback);
	for (struct job *j = list; j; j = j->next)
		if (j->rc == ERR_OK) {
			j->rc = e->code ? e->code : ERR_IO;
			j->err = *e;
		}
}

/* Take the whole queue (qlock held). */
static struct job *take_queue(struct sq *q, size_t *n, struct job **tail)
{
	struct job *list = q->qhead;
	*n = q->qlen;
	*tail = q->qtail;
	q->qhead = q->qtail = NULL;
	q->qlen = 0;
	return list;
}

#define GATHER_MAX_US 1000 /* never hold a batch open longer than this for stragglers */
#define GATHER_CHUNK 8     /* the leader wakes to write stragglers once this many queued */

/* Wait (qlock held) until `want` more jobs are queued or `until` passes. */
static void wait_for_jobs(struct sq *q, size_t want, int64_t until)
{
	struct timespec ts = {.tv_sec = (time_t)(until / 1000000),
			      .tv_nsec = (long)(until % 1000000) * 1000};
	q->gather_target = want;
	while (q->qlen < q->gather_target)
		if (pthread_cond_timedwait(&q->gather, &q->qlock, &ts) == ETIMEDOUT)
			break;
	q->gather_target = 0;
}

/* Lead one batch: run what is queued, then absorb the appenders of the last
 * batch that are queueing again, then commit once.
 *
 * Absorbing is PostgreSQL's commit_delay made adaptive.  Each appender has
 * one append in flight, so without it N concurrent appenders split into two
 * alternating batches of N/2 and pay two fsyncs where one would do.  The
 * leader waits only when fewer jobs joined than were active at the end of
 * the last batch, at most half as long as that batch took, and only after
 * the jobs it already has are written; a lone appender never waits.
 * Returns the list of jobs run (their rc filled in) and its length. */
static struct job *lead_batch(struct store *s, size_t *size)
{
	struct sq *q = sq_of(s);
	struct job *batch, *tail, *more, *more_tail;
	struct err e = {0};
	size_t n;
	int64_t started = clock_mono_us(clock_system());
	int rc;

	pthread_mutex_lock(&q->qlock);
	batch = take_queue(q, size, &tail);
	size_t expected = q->active_estimate;
	int64_t patience =
		q->last_batch_us / 2 < GATHER_MAX_US ? q->last_batch_us / 2 : GATHER_MAX_US;
	pthread_mutex_unlock(&q->qlock);

	rc = batch_begin(s, &e);
	if (!rc)
		rc = batch_run(s, batch, &e);
	/* Absorb in chunks (whatever queued once GATHER_CHUNK more have, or
	 * at the deadline), running each as it comes, so that the writing
	 * overlaps the arrival of the stragglers instead of following it. */
	while (!rc && *size < expected && patience > 0 &&
	       clock_mono_us(clock_system()) < started + patience) {
		size_t want = expected - *size < GATHER_CHUNK ? expected - *size : GATHER_CHUNK;
		pthread_mutex_lock(&q->qlock);
		wait_for_jobs(q, want, started + patience);
		more = take_queue(q, &n, &more_tail);
		pthread_mutex_unlock(&q->qlock);
		if (!more)
			break;
		tail->next = more;
		tail = more_tail;
		*size += n;
		rc = batch_run(s, more, &e);
	}
	if (!rc && (rc = step_done(q->st_commit)))
		rc = sq_fail(s, q->wdb, rc, "cannot commit", &e);
	if (rc)
		batch_abort(s, batch, &e);
	else
		publish_head(q, q->next_position);

	pthread_mutex_lock(&q->qlock);
	q->last_batch_us = clock_mono_us(clock_system()) - started;
	q->active_estimate = *size + q->qlen;
	q->batches++;
	q->batched_jobs += *size;
	pthread_mutex_unlock(&q->qlock);
	return batch;
}

/* Queue a job and return when it has been committed (or has failed).
 *
 * One thread at a time is the leader.  A thread that queues while no batch
 * is running leads at once; otherwise it sleeps on its own semaphore until
 * the leader either finishes its job or hands it the leadership (the head of
 * the queue leads the next batch).  The leader wakes the others after
 * releasing the queue lock, so they do not pile up on it. */
static int submit(struct store *s, struct job *j, struct err *e)
{
	struct sq *q = sq_of(s);

	j->done = j->lead = false;
	j->next = NULL;
	sem_init(&j->wake, 0, 0);
	pthread_mutex_lock(&q->qlock);
	if (q->qtail)
		q->qtail->next = j;
	else
		q->qhead = j;
	q->qtail = j;
	q->qlen++;
	if (q->gather_target && q->qlen >= q->gather_target)
		pthread_cond_signal(&q->gather);
	if (!q->leader) {
		q->leader = true;
		j->lead = true;
	}
	bool leading = j->lead;
	pthread_mutex_unlock(&q->qlock);
	/* Exactly one post arrives: the leadership, or "done" (whose flag and
	 * wake_next pointers are written before it and read only after it). */
	if (!leading)
		while (sem_wait(&j->wake) != 0 && errno == EINTR)
			;
	if (j->done) {
		/* Pass the wake-up on: finished jobs wake each other in a binary
		 * tree, so waking a batch of 64 takes 6 steps, not 64 in a row. */
		for (int i = 0; i < 2; i++)
			if (j->wake_next[i])
				sem_post(&j->wake_next[i]->wake);
	} else {
		size_t size;
		struct job *batch = lead_batch(s, &size);

		pthread_mutex_lock(&q->qlock);
		struct job *next_leader = q->qhead;
		if (next_leader)
			next_leader->lead = true;
		else
			q->leader = false;
		pthread_mutex_unlock(&q->qlock);
		if (next_leader)
			sem_post(&next_leader->wake);

		/* Lay the other jobs of the batch out as a heap-ordered tree. */
		struct job *small[64], **order = size <= 64 ? small : xmalloc(size * sizeof *order);
		size_t n = 0;
		for (struct job *b = batch; b; b = b->next)
			if (b != j)
				order[n++] = b;
		for (size_t k = 0; k < n; k++) {
			order[k]->done = true;
			order[k]->wake_next[0] = 2 * k + 1 < n ? order[2 * k + 1] : NULL;
			order[k]->wake_next[1] = 2 * k + 2 < n ? order[2 * k + 2] : NULL;
		}
		if (n)
			sem_post(&order[0]->wake); /* after this, the jobs may be freed */
		if (order != small)
			free(order);
	}
	sem_destroy(&j->wake);
	if (j->rc && e)
		*e = j->err;
	return j->rc;
}

static int sq_append(struct store *s, const char *stream, int64_t expected,
		     struct store_new_event *evs, size_t n, struct store_append_result *res,
		     struct err *e)
{
	struct job j = {.run = job_append,
			.stream = stream,
			.expected = expected,
			.evs = evs,
			.n = n,
			.res = res};
	int rc = ERR_OK;

	/* Serialise JSON and make ids here, in the caller's thread, so the
	 * leader only writes. */
	j.data_text = xcalloc(n, sizeof *j.data_text);
	j.meta_text = xcalloc(n, sizeof *j.meta_text);
	j.id_given = xcalloc(n, sizeof *j.id_given);
	for (size_t i = 0; i < n && !rc; i++) {
		j.id_given[i] = evs[i].event_id[0] != '\0';
		if (!j.id_given[i])
			uuid_v7(s->clock, evs[i].event_id);
		j.data_text[i] = json_to_text(evs[i].data);
		j.meta_text[i] = evs[i].metadata ? json_to_text(evs[i].metadata) : xstrdup("{}");
		if (!j.data_text[i] || !j.meta_text[i])
			rc = err_set(e, ERR_INVALID, "event %zu (%s): data cannot be serialised", i,
				     evs[i].type);
		else if (strlen(j.data_text[i]) + strlen(j.meta_text[i]) > STORE_DATA_MAX)
			rc = err_set(
				e, ERR_TOO_BIG,
				"event %zu (%s): data and metadata are %zu bytes; the limit is %d",
				i, evs[i].type, strlen(j.data_text[i]) + strlen(j.meta_text[i]),
				STORE_DATA_MAX);
	}
	if (!rc)
		rc = submit(s, &j, e);
	for (size_t i = 0; i < n; i++) {
		free(j.data_text[i]);
		free(j.meta_text[i]);
	}
	free(j.data_text);
	free(j.meta_text);
	free(j.id_given);
	return rc;
}

static int sq_checkpoint_set(struct store *s, const char *name, int64_t position, struct err *e)
{
	struct job j = {.run = job_checkpoint, .name = name, .position = position};
	return submit(s, &j, e);
}

static int sq_proj_rebuild(struct store *s, const struct store_projection *p, bool write,
			   struct store_replay_report *r, struct err *e)
{
	struct job j = {.run = job_rebuild, .proj = p, .write = write, .report = r};
	return submit(s, &j, e);
}

static int sq_soft_put(struct store *s, const struct store_soft_item *items, size_t n,
		       struct err *e)
{
	struct job j = {.run = job_soft_put, .soft = items, .n = n};
	j.soft_text = xcalloc(n ? n : 1, sizeof(*j.soft_text));
	for (size_t i = 0; i < n; i++)
		j.soft_text[i] = items[i].doc ? json_to_text(items[i].doc) : NULL;
	int rc = submit(s, &j, e);
	for (size_t i = 0; i < n; i++)
		free(j.soft_text[i]);
	free(j.soft_text);
	return rc;
}

static int sq_soft_get(struct store *s, const char *key, json_t **doc, struct err *e)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	*doc = NULL;
	pthread_mutex_lock(&q->rlock);
	int rc = rprep(q, "SELECT doc FROM soft_state WHERE key = ?1", &st);
	if (rc == SQLITE_OK) {
		bind_text(st, 1, key);
		rc = load_doc(s, q->rdb, st, doc, e);
		rdone(q, st);
		pthread_mutex_unlock(&q->rlock);
		return rc;
	}
	pthread_mutex_unlock(&q->rlock);
	return sq_fail(s, q->rdb, rc, "cannot read soft state", e);
}

static int sq_soft_list(struct store *s, const char *prefix, json_t **docs, struct err *e)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	char *end = prefix_end(prefix);
	*docs = json_object();
	pthread_mutex_lock(&q->rlock);
	int rc = rprep(q,
		       "SELECT key, doc FROM soft_state WHERE key >= ?1 AND (?2 = '' OR key < ?2)"
		       " ORDER BY key",
		       &st);
	if (rc == SQLITE_OK) {
		bind_text(st, 1, prefix);
		bind_text(st, 2, end);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			json_t *d = json_parse((const char *)sqlite3_column_text(st, 1),
					       (size_t)sqlite3_column_bytes(st, 1), NULL);
			if (d)
				json_object_set_new(*docs, (const char *)sqlite3_column_text(st, 0),
						    d);
		}
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		rdone(q, st);
	}
	pthread_mutex_unlock(&q->rlock);
	free(end);
	if (rc) {
		json_decref(*docs);
		*docs = NULL;
		return sq_fail(s, q->rdb, rc, "cannot read soft state", e);
	}
	return ERR_OK;
}

static int sq_lease(struct store *s, const char *name, const char *owner, int64_t ttl_ms,
		    enum store_lease_op op, struct store_lease *out, struct err *e)
{
	struct job j = {.run = job_lease,
			.name = name,
			.owner = owner,
			.ttl_us = ttl_ms * 1000,
			.lease_op = op,
			.lease = out};
	memset(out, 0, sizeof(*out));
	return submit(s, &j, e);
}

static int sq_lease_claim(struct store *s, const char *owner, int64_t ttl_ms,
			  const char *const *names, size_t n, size_t max, bool *held, struct err *e)
{
	struct job j = {.run = job_lease_claim,
			.owner = owner,
			.ttl_us = ttl_ms * 1000,
			.names = names,
			.n = n,
			.max = max,
			.held = held};
	return submit(s, &j, e);
}

static int sq_lease_list(struct store *s, const char *prefix, json_t **leases, struct err *e)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	char *end = prefix_end(prefix);
	*leases = json_object();
	pthread_mutex_lock(&q->rlock);
	int rc = rprep(q,
		       "SELECT name, owner, expires_at FROM leases WHERE name >= ?1"
		       " AND (?2 = '' OR name < ?2) AND expires_at >= ?3 ORDER BY name",
		       &st);
	if (rc == SQLITE_OK) {
		bind_text(st, 1, prefix);
		bind_text(st, 2, end);
		sqlite3_bind_int64(st, 3, now_us(s));
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			json_object_set_new(*leases, (const char *)sqlite3_column_text(st, 0),
					    json_pack("{s:s, s:I}", "owner",
						      (const char *)sqlite3_column_text(st, 1),
						      "expires_at_us",
						      (json_int_t)sqlite3_column_int64(st, 2)));
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		rdone(q, st);
	}
	pthread_mutex_unlock(&q->rlock);
	free(end);
	if (rc) {
		json_decref(*leases);
		*leases = NULL;
		return sq_fail(s, q->rdb, rc, "cannot read leases", e);
	}
	return ERR_OK;
}

const struct store_ops store_sqlite_ops = {
	.scheme = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.append = sq_append,
	.read_stream = sq_read_stream,
	.read_all = sq_read_all,
	.head = sq_head,
	.stream_version = sq_stream_version,
	.wait = sq_wait,
	.checkpoint_get = sq_checkpoint_get,
	.checkpoint_set = sq_checkpoint_set,
	.proj_get = sq_proj_get,
	.proj_list = sq_proj_list,
	.proj_rebuild = sq_proj_rebuild,
	.proj_search = sq_proj_search,
	.soft_put = sq_soft_put,
	.soft_get = sq_soft_get,
	.soft_list = sq_soft_list,
	.lease = sq_lease,
	.lease_claim = sq_lease_claim,
	.lease_list = sq_lease_list,
};
