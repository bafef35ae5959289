/*
 * store_postgres.c - the event store on PostgreSQL (libpq), for several
 * nodes sharing one database.
 *
 * Connections, per store: one writer (used only by the current group-commit
 * leader), a pool of up to PG_POOL_MAX readers made on demand, and one
 * listener (LISTEN ambient_events) owned by a thread started by the first
 * store_wait().  libpq connections are not shared between threads at once.
 *
 * Group commit.  As on SQLite, every write is a job on a queue; the first
 * thread to find no leader runs the whole queue in one transaction (and the
 * jobs that queue meanwhile, a few rounds), commits once, and wakes the
 * others.  A job makes every check (ids, expected version, the projections'
 * verdicts, computed in C) before its first write, so a refused job has
 * written nothing and needs no savepoint; a statement that fails for one
 * job's data (SQLSTATE classes 22, 23, 54) makes the leader roll back and
 * run the batch again without that job.  Plain appends (expected version
 * "any", no caller-chosen ids, no projection) need no check at all: a batch
 * writes all of them with one statement, sent in one round trip with the
 * head update, the NOTIFY and COMMIT (pipeline mode).  Deadlocks and
 * serialization failures run the batch again; a lost connection is re-made
 * and the batch run again, with every append's ids treated as caller-given:
 * an append whose commit was in doubt finds its own events (same ids, same
 * recorded_at) and returns their positions.
 *
 * Gap-free order.  A batch that appends first locks the one row of log_head
 * (SELECT ... FOR UPDATE) and holds the lock until it commits; positions
 * come from that row, and the batch stores the new head in it before
 * COMMIT.  PostgreSQL makes a commit visible before it releases the
 * transaction's locks, so whoever takes the lock next already sees every
 * position before its own: a reader that sees position N sees all before N,
 * although commits of different nodes interleave.  The same lock
 * serialises the id and version checks of all nodes (each statement of a
 * READ COMMITTED transaction takes a new snapshot, taken after the lock), so
 * a concurrent duplicate from another node comes back as a duplicate with
 * the original positions, never as an error.  See docs/store.md.
 *
 * store_wait: the append's transaction NOTIFYs ambient_events with the new
 * head; the listener thread publishes it to waiters.  While anyone waits it
 * also reads the head every PG_POLL_MS, so a lost notification (a
 * reconnect) costs at most that long.
 *
 * Test hook: AMBIENT_PG_TEST_COMMIT_DELAY_MS=N makes every batch that
 * appended sleep N ms before COMMIT, while holding the position lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "store.h"

#define PG_CHANNEL "ambient_events"
#define PG_POOL_MAX 4                /* reader connections per store */
#define PG_POLL_MS 1000              /* head poll while waiting, in case a NOTIFY was missed */
#define PG_RECONNECT_MS 15000        /* how long operations wait for the server to come back
				      * (AMBIENT_PG_RECONNECT_MS overrides) */
#define PG_ABSORB_ROUNDS 4           /* times a leader takes late jobs into its open transaction */
#define PG_BATCH_MAX 1000            /* ... up to this many jobs */
#define PG_RETRIES 5                 /* runs of a batch after deadlocks or serialization failures */
#define PG_PARAM_MAX (1u << 30)      /* bytes in one statement parameter (PostgreSQL's limit) */
#define PG_TSV_TEXT_MAX (256 * 1024) /* folded bytes of one item that are indexed */
#define PG_SEARCH_LIMIT_DEFAULT 100
#define PG_FETCH_ROWS "1000"
#define PG_PREPARED_MAX 32 /* statements the writer keeps prepared */
#define PG_CHUNK_ROWS 500  /* rows per INSERT when rewriting a projection */
/* pg_advisory_xact_lock key of migrations: 'ambi' << 32 | 1 */
#define PG_MIGRATE_LOCK "7020375597251559425"

/* Numbered schema migrations, applied in order at open, in one transaction
 * holding an advisory lock.  Text columns that are compared as keys use the
 * "C" collation: byte order, like SQLite, so prefix ranges work and do not
 * depend on the server's locale. */
static const char *const migrations[] = {
	/* 1: the log, its head, streams, checkpoints, projections, soft state,
	 * leases, and the full-text items of projection documents */
	"CREATE TABLE log_head(id integer PRIMARY KEY CHECK (id = 1), position bigint NOT NULL);"
	"INSERT INTO log_head VALUES (1, 0);"
	"CREATE TABLE events("
	" position bigint PRIMARY KEY,"
	" event_id uuid NOT NULL UNIQUE,"
	" stream text COLLATE \"C\" NOT NULL,"
	" version bigint NOT NULL,"
	" type text COLLATE \"C\" NOT NULL,"
	" data json NOT NULL,"
	" metadata json NOT NULL,"
	" recorded_at bigint NOT NULL,"
	" UNIQUE(stream, version));"
	"CREATE INDEX events_by_type ON events(type, position);"
	"CREATE TABLE streams(stream text COLLATE \"C\" PRIMARY KEY, version bigint NOT NULL);"
	"CREATE TABLE checkpoints(name text COLLATE \"C\" PRIMARY KEY, position bigint NOT NULL,"
	" updated_at bigint NOT NULL);"
	"CREATE TABLE projections(name text COLLATE \"C\" NOT NULL,"
	" key text COLLATE \"C\" NOT NULL,"
	" doc json NOT NULL, position bigint NOT NULL, created_position bigint NOT NULL,"
	" PRIMARY KEY(name, key));"
	"CREATE INDEX projections_in_order ON projections(name, created_position);"
	"CREATE TABLE soft_state(key text COLLATE \"C\" PRIMARY KEY, doc json NOT NULL,"
	" updated_at bigint NOT NULL);"
	"CREATE TABLE leases(name text COLLATE \"C\" PRIMARY KEY, owner text NOT NULL,"
	" expires_at bigint NOT NULL, acquired_at bigint NOT NULL);"
	"CREATE TABLE search_items(id bigserial PRIMARY KEY, proj text COLLATE \"C\" NOT NULL,"
	" key text COLLATE \"C\" NOT NULL, item text COLLATE \"C\" NOT NULL, body text NOT NULL,"
	" tsv tsvector NOT NULL, UNIQUE(proj, key, item));"
	"CREATE INDEX search_items_tsv ON search_items USING gin(tsv);",
};
#define PG_SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

#define EVENT_COLUMNS                                                                              \
	"position, event_id::text, stream, version, type, data::text, metadata::text, recorded_at"

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
	bool finished;   /* failed for good in an earlier run of the batch */
	bool needs_lock; /* takes positions: runs under the log_head lock */
	int rc;
	struct err err;
	/* append */
	const char *stream;
	int64_t expected;
	struct store_new_event *evs;
	bool *id_given; /* ids the caller chose (only those can be retries) */
	bool rerun;     /* run again after a lost connection: every id may be stored */
	bool dup_retry; /* run again after a unique violation on event_id */
	char **data_text, **meta_text;
	size_t n;
	int64_t rec_us; /* recorded_at of its events, the same in every run */
	struct store_append_result *res;
	/* checkpoint */
	const char *name;
	int64_t position;
	/* rebuild */
	const struct store_projection *proj;
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

/* Why the current run of a batch failed (set by the statement helpers). */
enum wfail { WF_NONE, WF_LOST, WF_RETRY, WF_JOB, WF_ALL };

struct pg {
	char *conninfo;  /* what libpq is given (may hold a password) */
	char where[300]; /* host:port/db, for messages */

	/* the writer, used by the leader only */
	PGconn *w;
	enum wfail wfail;
	bool locked;            /* this transaction holds the log_head lock */
	int64_t next_position;  /* inside it: the last position taken */
	int64_t begin_position; /* ... and the head when it was taken */
	struct job *failed_job; /* WF_JOB: whose statement failed */
	bool group_failed;      /* WF_JOB: the grouped plain appends' statement failed */
	bool solo;              /* ... so run the batch again without grouping them */
	int commit_delay_ms;    /* test hook */
	const char *prepared[PG_PREPARED_MAX]; /* statements prepared on the writer, */
	size_t nprepared;                      /* named amb0, amb1, ... */

	pthread_mutex_t qlock; /* the job queue */
	struct job *qhead, *qtail;
	size_t qlen;
	bool leader;
	uint64_t batches, batched_jobs;

	/* readers */
	pthread_mutex_t plock;
	pthread_cond_t pcond;
	PGconn *idle[PG_POOL_MAX];
	size_t nidle, nconns;

	/* the known head, for waiters */
	pthread_mutex_t hlock;
	pthread_cond_t hcond;
	int64_t head;
	int waiters;

	/* the listener thread */
	pthread_mutex_t llock;
	pthread_t listener;
	bool listening;
	atomic_bool stopping;
	int stop_pipe[2];

	/* When the server was first found unreachable (mono ms; 0: it is up).
	 * One outage gives every caller PG_RECONNECT_MS in all, not each call
	 * its own: after that an operation tries once and fails at once. */
	atomic_llong down_since_ms;
	int reconnect_ms;
};

static struct pg *pg_of(struct store *s)
{
	return s->impl;
}

static int64_t now_us(struct store *s)
{
	return clock_wall_us(s->clock);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- the URL shown to people: password hidden ----------------------------------- */

/* Copy a conninfo string ("host=x password='y z'") with password values
 * replaced by ***. */
static void mask_conninfo(struct buf *b, const char *p)
{
	while (*p) {
		const char *key = p;
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		key = p;
		while (*p && *p != '=' && *p != ' ' && *p != '\t')
			p++;
		bool secret = (size_t)(p - key) == 8 && strncmp(key, "password", 8) == 0;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '=') { /* not conninfo after all: copy the rest */
			buf_puts(b, key);
			return;
		}
		buf_append(b, key, (size_t)(strchr(key, '=') - key + 1));
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		const char *val = p;
		if (*p == '\'') {
			for (p++; *p && *p != '\''; p++)
				if (*p == '\\' && p[1])
					p++;
			if (*p)
				p++;
		} else {
			while (*p && *p != ' ' && *p != '\t' && *p != '\n')
				p++;
		}
		if (secret)
			buf_puts(b, "***");
		else
			buf_append(b, val, (size_t)(p - val));
		if (*p)
			buf_puts(b, " ");
	}
}

/* A copy of the store URL with any password replaced by ***; caller frees. */
static char *mask_password(const char *url)
{
	struct buf b;
	const char *sep = strstr(url, "://");

	buf_init(&b, strlen(url) * 2 + 64);
	if (!sep ||
	    (strncmp(url, "postgres://", 11) != 0 && strncmp(url, "postgresql://", 13) != 0)) {
		const char *colon = strchr(url, ':');
		if (!colon)
			return xstrdup(url);
		buf_append(&b, url, (size_t)(colon - url + 1));
		mask_conninfo(&b, colon + 1);
		return buf_steal(&b);
	}
	const char *auth = sep + 3;
	const char *at = auth + strcspn(auth, "@/"); /* as libpq finds the credentials */
	const char *rest = auth;
	if (*at == '@') {
		const char *colon = memchr(auth, ':', (size_t)(at - auth));
		if (colon) {
			buf_append(&b, url, (size_t)(colon + 1 - url));
			buf_puts(&b, "***");
			rest = at;
		}
	}
	if (rest == auth)
		buf_append(&b, url, (size_t)(auth - url));
	/* ?password=... in the query */
	const char *qm = strchr(rest, '?');
	if (!qm) {
		buf_puts(&b, rest);
		return buf_steal(&b);
	}
	buf_append(&b, rest, (size_t)(qm + 1 - rest));
	for (const char *p = qm + 1; *p;) {
		size_t len = strcspn(p, "&");
		if (len >= 9 && strncmp(p, "password=", 9) == 0)
			buf_puts(&b, "password=***");
		else
			buf_append(&b, p, len);
		p += len;
		if (*p == '&') {
			buf_puts(&b, "&");
			p++;
		}
	}
	return buf_steal(&b);
}

/* ---- errors ------------------------------------------------------------------------ */

/* host:port/db of a connection (live or failed), for messages. */
static void describe(PGconn *c, char *out, size_t size)
{
	const char *host = c ? PQhost(c) : NULL, *port = c ? PQport(c) : NULL;
	const char *db = c ? PQdb(c) : NULL;
	snprintf(out, size, "%s:%s/%s", host && *host ? host : "localhost",
		 port && *port ? port : "5432", db && *db ? db : "?");
}

/* The first line of libpq's message, without "connection to server at ...
 * failed: " and "FATAL:  ". */
static void short_reason(const char *msg, char *out, size_t size)
{
	const char *p = msg ? msg : "";
	const char *f = strstr(p, " failed: ");
	size_t len;

	if (f && f < p + strcspn(p, "\n"))
		p = f + 9;
	if (strncmp(p, "FATAL:  ", 8) == 0)
		p += 8;
	else if (strncmp(p, "ERROR:  ", 8) == 0)
		p += 8;
	len = strcspn(p, "\n");
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '.'))
		len--;
	snprintf(out, size, "%.*s", (int)len, p);
	if (out[0] >= 'A' && out[0] <= 'Z' && !(out[1] >= 'A' && out[1] <= 'Z'))
		out[0] = (char)(out[0] - 'A' + 'a');
}

/* A failed connection attempt: what went wrong and what to do. */
static int connect_fail(PGconn *c, struct err *e)
{
	char where[300], why[300];
	const char *hint = "check --db";
	int code = ERR_IO;

	describe(c, where, sizeof where);
	short_reason(c ? PQerrorMessage(c) : "out of memory", why, sizeof why);
	if (strcasestr(why, "refused") || strcasestr(why, "no such file"))
		hint = "is the server running? check --db";
	else if (strcasestr(why, "password") || strcasestr(why, "authentication")) {
		hint = "check the user and password in --db (or ~/.pgpass)";
		code = ERR_PERM;
	} else if (strcasestr(why, "database") && strcasestr(why, "does not exist"))
		hint = "create it (createdb) or check the database name in --db";
	else if (strcasestr(why, "role") && strcasestr(why, "does not exist")) {
		hint = "check the user name in --db";
		code = ERR_PERM;
	} else if (strcasestr(why, "translate host name"))
		hint = "check the host name in --db";
	else if (strcasestr(why, "timeout") || strcasestr(why, "timed out"))
		hint = "is the host reachable? check --db and the firewall";
	else if (strcasestr(why, "starting up") || strcasestr(why, "shutting down") ||
		 strcasestr(why, "recovery"))
		hint = "the server is starting or stopping; retry in a moment";
	else if (strcasestr(why, "too many") || strcasestr(why, "remaining connection slots")) {
		hint = "the server has no free connection; raise max_connections or stop some "
		       "clients";
		code = ERR_BUSY;
	}
	return err_set(e, code, "cannot connect to PostgreSQL at %s: %s — %s", where, why, hint);
}

/* Did this statement fail because the connection is gone? */
static bool conn_lost(PGconn *c, const PGresult *r)
{
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (PQstatus(c) != CONNECTION_OK)
		return true;
	if (!r)
		return true;
	if (!st)
		return PQresultStatus(r) == PGRES_FATAL_ERROR; /* libpq's own (no SQLSTATE) */
	return strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 || strcmp(st, "57P02") == 0 ||
	       strcmp(st, "57P03") == 0;
}

static bool is_retryable(const PGresult *r)
{
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	return st && (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0);
}

/* A failure caused by one job's data (bad value, constraint, too big), not
 * by the server or the transaction. */
static bool is_job_error(const PGresult *r)
{
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	return st && (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0 ||
		      strncmp(st, "54", 2) == 0);
}

static bool is_state(const PGresult *r, const char *state)
{
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	return st && strcmp(st, state) == 0;
}

/* Fill *e from a failed statement, with what we were doing and a hint. */
static int pg_fail(struct store *s, PGconn *c, const PGresult *r, const char *doing, struct err *e)
{
	struct pg *q = pg_of(s);
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char why[400];

	if (primary)
		snprintf(why, sizeof why, "%s", primary);
	else
		short_reason(r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r)
							   : PQerrorMessage(c),
			     why, sizeof why);
	if (conn_lost(c, r))
		return err_set(
			e, ERR_IO,
			"%s: lost the connection to PostgreSQL at %s (%s) — is the server running? "
			"check --db",
			doing, q->where, why);
	int code = ERR_IO;
	const char *hint = "check the server's log";
	if (st) {
		if (strcmp(st, "53100") == 0) {
			code = ERR_FULL;
			hint = "the server's disk is full; free some space and retry";
		} else if (strncmp(st, "53", 2) == 0) {
			code = ERR_BUSY;
			hint = "the server is short of resources; retry later";
		} else if (strcmp(st, "25006") == 0) {
			code = ERR_READONLY;
			hint = "the server accepts no writes (a standby, or read-only mode); point "
			       "--db at the primary";
		} else if (strcmp(st, "42501") == 0) {
			code = ERR_PERM;
			hint = "grant this user the rights it needs (CREATE on the schema, or use "
			       "a database it owns)";
		} else if (strncmp(st, "23", 2) == 0) {
			code = ERR_CONFLICT;
			hint = "another writer stored the same thing first";
		} else if (strncmp(st, "22", 2) == 0) {
			code = ERR_INVALID;
			hint = "the value is not acceptable to PostgreSQL (e.g. not valid UTF-8)";
		} else if (strncmp(st, "54", 2) == 0) {
			code = ERR_TOO_BIG;
			hint = "make it smaller";
		} else if (strncmp(st, "40", 2) == 0) {
			code = ERR_BUSY;
			hint = "the transaction clashed with another one; retry";
		} else if (strcmp(st, "57014") == 0) {
			code = ERR_TIMEOUT;
			hint = "a statement timeout or cancel stopped it; retry";
		}
	}
	return err_set(e, code, "%s (PostgreSQL at %s): %s; %s", doing, q->where, why, hint);
}

/* ---- connections ---------------------------------------------------------------------- */

static void on_notice(void *arg, const char *msg)
{
	(void)arg;
	log_debug("postgres: %.*s", (int)strcspn(msg, "\n"), msg);
}

/* Settings every connection of this store gets after (re)connecting. */
static int session_setup(struct store *s, PGconn *c, struct err *e)
{
	PQsetNoticeProcessor(c, on_notice, NULL);
	/* An append is acknowledged after COMMIT returns: that must mean it is
	 * on disk, even where the server's default says otherwise. */
	PGresult *r = PQexec(c, s->opt.read_only
					? "SET default_transaction_read_only = on"
					: "SELECT set_config('synchronous_commit', 'on', false)"
					  " WHERE current_setting('synchronous_commit') = 'off'");
	ExecStatusType st = PQresultStatus(r);
	int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK
			 ? ERR_OK
			 : pg_fail(s, c, r, "cannot set up a connection", e);
	PQclear(r);
	return rc;
}

/* A new connection, or NULL with *e set. */
static PGconn *pg_connect(struct store *s, struct err *e)
{
	struct pg *q = pg_of(s);
	/* Later values win: ours first (defaults the URL may override), the
	 * encoding last (the store needs UTF-8). */
	const char *keys[] = {"connect_timeout", "application_name", "keepalives_idle",
			      "dbname",          "client_encoding",  NULL};
	const char *vals[] = {"10", "ambient", "30", q->conninfo, "UTF8", NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);

	if (!c || PQstatus(c) != CONNECTION_OK) {
		connect_fail(c, e);
		PQfinish(c);
		return NULL;
	}
	if (!q->where[0]) /* the first connection, at open */
		describe(c, q->where, sizeof q->where);
	if (session_setup(s, c, e)) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* Until when a caller may wait for the server to come back: PG_RECONNECT_MS
 * after the outage began (which is now, when nobody has noticed it yet). */
static int64_t outage_deadline(struct pg *q)
{
	long long none = 0, now = mono_ms();
	if (atomic_compare_exchange_strong(&q->down_since_ms, &none, now))
		log_warn("PostgreSQL at %s is unreachable; operations wait up to %d ms for it",
			 q->where, q->reconnect_ms);
	long long since = atomic_load(&q->down_since_ms);
	return (since ? since : now) + q->reconnect_ms;
}

/* Say in *e how long the outage has lasted (a caller that gave up). */
static void outage_note(struct pg *q, struct err *e)
{
	long long since = atomic_load(&q->down_since_ms);
	if (since && e)
		err_prefix(e, "PostgreSQL has been unreachable for %lld s",
			   (long long)(mono_ms() - since) / 1000);
}

static void outage_over(struct pg *q)
{
	atomic_store(&q->down_since_ms, 0);
}

/* Re-make a broken connection, waiting for the server to come back (a
 * restart takes a moment) while the outage is young; once it has lasted
 * PG_RECONNECT_MS every caller tries once and fails fast, so /health, the
 * engine and the MCP tools answer "unavailable" instead of hanging. */
static int revive(struct store *s, PGconn *c, struct err *e)
{
	struct pg *q = pg_of(s);
	int64_t deadline = outage_deadline(q);
	int pause = 50;

	for (;;) {
		PQreset(c);
		if (PQstatus(c) == CONNECTION_OK) {
			outage_over(q);
			log_info("reconnected to PostgreSQL at %s", q->where);
			return session_setup(s, c, e);
		}
		if (mono_ms() >= deadline || q->stopping) {
			int rc = connect_fail(c, e);
			outage_note(q, e);
			return rc;
		}
		sleep_ms(pause);
		pause = pause * 2 > 500 ? 500 : pause * 2;
	}
}

/* Borrow a reader connection (made on demand, at most PG_POOL_MAX). */
static PGconn *pool_get(struct store *s, struct err *e)
{
	struct pg *q = pg_of(s);
	PGconn *c;

	pthread_mutex_lock(&q->plock);
	while (q->nidle == 0 && q->nconns >= PG_POOL_MAX)
		pthread_cond_wait(&q->pcond, &q->plock);
	if (q->nidle) {
		c = q->idle[--q->nidle];
		pthread_mutex_unlock(&q->plock);
		return c;
	}
	q->nconns++;
	pthread_mutex_unlock(&q->plock);
	int64_t deadline = 0;
	while (!(c = pg_connect(s, e)) && e && e->code == ERR_IO &&
	       (strstr(e->msg, "refused") || strstr(e->msg, "starting"))) {
		if (!deadline)
			deadline = outage_deadline(q);
		if (mono_ms() >= deadline || q->stopping)
			break;
		sleep_ms(200);
	}
	if (c) {
		outage_over(q);
		return c;
	}
	if (deadline)
		outage_note(q, e);
	pthread_mutex_lock(&q->plock);
	q->nconns--;
	pthread_cond_signal(&q->pcond);
	pthread_mutex_unlock(&q->plock);
	return NULL;
}

static void pool_put(struct store *s, PGconn *c)
{
	struct pg *q = pg_of(s);
	pthread_mutex_lock(&q->plock);
	if (c)
		q->idle[q->nidle++] = c;
	else
		q->nconns--;
	pthread_cond_signal(&q->pcond);
	pthread_mutex_unlock(&q->plock);
}

/* Run one statement on connection c; on a lost connection re-make it and
 * run the statement again once.  Only for statements that are safe to
 * repeat (reads, or writes outside any transaction that are idempotent). */
static int cquery(struct store *s, PGconn *c, const char *sql, int n, const char *const *vals,
		  PGresult **out, const char *doing, struct err *e)
{
	for (int attempt = 0;; attempt++) {
		int rc;
		if (PQstatus(c) != CONNECTION_OK && (rc = revive(s, c, e)))
			return rc;
		PGresult *r = PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 0);
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
			if (out)
				*out = r;
			else
				PQclear(r);
			return ERR_OK;
		}
		if (attempt == 0 && conn_lost(c, r)) {
			PQclear(r);
			if ((rc = revive(s, c, e)))
				return rc;
			continue;
		}
		rc = pg_fail(s, c, r, doing, e);
		PQclear(r);
		return rc;
	}
}

/* cquery on a pooled reader connection. */
static int rquery(struct store *s, const char *sql, int n, const char *const *vals, PGresult **out,
		  const char *doing, struct err *e)
{
	PGconn *c = pool_get(s, e);
	if (!c)
		return e && e->code ? e->code : ERR_IO;
	int rc = cquery(s, c, sql, n, vals, out, doing, e);
	pool_put(s, c);
	return rc;
}

/* Run one statement of the current batch on the writer.  On failure, note
 * in q->wfail what the leader must do about it. */
static int wresult(struct store *s, PGresult *r, const char *sql, PGresult **out, const char *doing,
		   struct err *e)
{
	struct pg *q = pg_of(s);
	ExecStatusType st = PQresultStatus(r);

	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		if (out)
			*out = r;
		else
			PQclear(r);
		return ERR_OK;
	}
	if (conn_lost(q->w, r))
		q->wfail = WF_LOST;
	else if (is_retryable(r))
		q->wfail = WF_RETRY;
	else if (is_job_error(r))
		q->wfail = WF_JOB;
	else
		q->wfail = WF_ALL;
	int rc = pg_fail(s, q->w, r, doing, e);
	if (q->wfail == WF_JOB && is_state(r, "23505") && strstr(sql, "INSERT INTO events"))
		rc = ERR_CONFLICT; /* an event id another writer stored meanwhile */
	PQclear(r);
	return rc;
}

static int wexec(struct store *s, const char *sql, int n, const char *const *vals, PGresult **out,
		 const char *doing, struct err *e)
{
	PGresult *r = PQexecParams(pg_of(s)->w, sql, n, NULL, vals, NULL, NULL, 0);
	return wresult(s, r, sql, out, doing, e);
}

/* The name under which sql (a string constant: it is known by its address)
 * is prepared on the writer, preparing it the first time: the hot statements
 * of the write path are parsed and planned once per connection.  "" when
 * the table of names is full (the statement then runs unnamed). */
static int writer_prepare(struct store *s, const char *sql, int n, char name[16], struct err *e)
{
	struct pg *q = pg_of(s);

	name[0] = '\0';
	for (size_t i = 0; i < q->nprepared; i++)
		if (q->prepared[i] == sql) {
			snprintf(name, 16, "amb%u", (unsigned)i);
			return ERR_OK;
		}
	if (q->nprepared == PG_PREPARED_MAX)
		return ERR_OK;
	snprintf(name, 16, "amb%u", (unsigned)q->nprepared);
	PGresult *r = PQprepare(q->w, name, sql, n, NULL);
	int rc = wresult(s, r, sql, NULL, "cannot prepare a statement", e);
	if (rc)
		name[0] = '\0';
	else
		q->prepared[q->nprepared++] = sql;
	return rc;
}

/* wexec of a prepared statement. */
static int wexecp(struct store *s, const char *sql, int n, const char *const *vals, PGresult **out,
		  const char *doing, struct err *e)
{
	char name[16];
	int rc = writer_prepare(s, sql, n, name, e);
	if (rc)
		return rc;
	if (!name[0])
		return wexec(s, sql, n, vals, out, doing, e);
	PGresult *r = PQexecPrepared(pg_of(s)->w, name, n, vals, NULL, NULL, 0);
	return wresult(s, r, sql, out, doing, e);
}

/* The writer's own settings, after (re)connecting: prepared statements are
 * gone, and generic plans spare planning the same statements again. */
static int writer_setup(struct store *s, struct err *e)
{
	struct pg *q = pg_of(s);
	q->nprepared = 0;
	if (PQserverVersion(q->w) < 120000)
		return ERR_OK;
	PGresult *r = PQexec(q->w, "SET plan_cache_mode = force_generic_plan");
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK
			 ? ERR_OK
			 : pg_fail(s, q->w, r, "cannot set up the writer connection", e);
	PQclear(r);
	return rc;
}

static int64_t geti(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void fmt_i64(char *buf, size_t size, int64_t v)
{
	snprintf(buf, size, "%lld", (long long)v);
}

/* ---- text: array literals, UTF-8, prefix ranges --------------------------------------- */

/* Add v as the next element of the PostgreSQL array literal in b (opened
 * with "{" by the caller and closed with "}"): quoted, \ and " escaped. */
static void arr_add(struct buf *b, const char *v)
{
	if (b->len > 1)
		buf_puts(b, ",");
	if (!v) {
		buf_puts(b, "NULL");
		return;
	}
	buf_puts(b, "\"");
	for (const char *p = v; *p;) {
		size_t k = strcspn(p, "\"\\");
		buf_append(b, p, k);
		p += k;
		if (*p) {
			buf_append(b, "\\", 1);
			buf_append(b, p, 1);
			p++;
		}
	}
	buf_puts(b, "\"");
}

static void arr_add_i64(struct buf *b, int64_t v)
{
	if (b->len > 1)
		buf_puts(b, ",");
	buf_printf(b, "%lld", (long long)v);
}

static void arr_init(struct buf *b)
{
	buf_init(b, (size_t)PG_PARAM_MAX + 16);
	buf_puts(b, "{");
}

/* Close the literal; ERR_TOO_BIG when it outgrew what one parameter holds. */
static int arr_done(struct buf *b, const char *what, struct err *e)
{
	if (buf_puts(b, "}") != 0 || b->len > PG_PARAM_MAX)
		return err_set(
			e, ERR_TOO_BIG,
			"%s: more than %u bytes in one statement; write fewer or smaller items",
			what, PG_PARAM_MAX);
	return ERR_OK;
}

static bool utf8_valid(const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		size_t k = json_utf8_seq_len((const unsigned char *)s + i, n - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

static int check_utf8(const char *what, const char *v, struct err *e)
{
	if (v && !utf8_valid(v))
		return err_set(e, ERR_INVALID,
			       "%s is not valid UTF-8; PostgreSQL stores text as UTF-8", what);
	return ERR_OK;
}

/* Decode the UTF-8 sequence at s (n > 0 bytes left); an invalid byte reads as
 * U+FFFD of length 1. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t k = json_utf8_seq_len(s, n);
	if (k == 0) {
		*cp = 0xfffd;
		return 1;
	}
	if (k == 1)
		*cp = s[0];
	else if (k == 2)
		*cp = ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
	else if (k == 3)
		*cp = ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) |
		      (s[2] & 0x3f);
	else
		*cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) |
		      ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
	return k;
}

static void utf8_put(struct buf *b, uint32_t c)
{
	char o[4];
	size_t k;
	if (c < 0x80) {
		o[0] = (char)c;
		k = 1;
	} else if (c < 0x800) {
		o[0] = (char)(0xc0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3f));
		k = 2;
	} else if (c < 0x10000) {
		o[0] = (char)(0xe0 | (c >> 12));
		o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		o[2] = (char)(0x80 | (c & 0x3f));
		k = 3;
	} else {
		o[0] = (char)(0xf0 | (c >> 18));
		o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
		o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
		o[3] = (char)(0x80 | (c & 0x3f));
		k = 4;
	}
	buf_append(b, o, k);
}

/* The smallest string above every string that starts with prefix, in byte
 * (= code point) order: the prefix with its last code point + 1.  NULL when
 * there is none (empty prefix): no upper bound.  Caller frees. */
static char *prefix_end(const char *prefix)
{
	size_t n = strlen(prefix);
	while (n > 0) {
		size_t st = n - 1;
		uint32_t cp;
		while (st > 0 && ((unsigned char)prefix[st] & 0xc0) == 0x80)
			st--;
		utf8_next((const unsigned char *)prefix + st, n - st, &cp);
		if (cp < 0x10ffff) {
			struct buf b;
			buf_init(&b, n + 8);
			buf_append(&b, prefix, st);
			cp = cp + 1 == 0xd800 ? 0xe000 : cp + 1;
			utf8_put(&b, cp);
			return buf_steal(&b);
		}
		n = st;
	}
	return NULL;
}

/* ---- full-text folding ------------------------------------------------------------------ */

/* Base letters of U+00C0..U+017F ('\0' = not a letter; '1' = "ae", '2' =
 * "th", '3' = "ss", '4' = "ij", '5' = "oe"). */
static const char latin_fold[] =
	/* C0 */ "aaaaaa1ceeeeiiii"
		 /* D0 */ "dnooooo\0ouuuuyt3"
		 /* E0 */ "aaaaaa1ceeeeiiii"
		 /* F0 */ "dnooooo\0ouuuuy2y"
		 /* 100 */ "aaaaaaccccccccdd"
		 /* 110 */ "ddeeeeeeeeeegggg"
		 /* 120 */ "gggghhhhiiiiiiii"
		 /* 130 */ "ii44jjkkklllllll"
		 /* 140 */ "lllnnnnnnnnnoooo"
		 /* 150 */ "oo55rrrrrrssssss"
		 /* 160 */ "ssttttttuuuuuuuu"
		 /* 170 */ "uuuuwwyyyzzzzzzs";
_Static_assert(sizeof latin_fold == 0x180 - 0xc0 + 1, "one entry per code point");

/* Is c part of a word?  Letters and digits; other code points above ASCII
 * count as letters except the common punctuation and symbol blocks. */
static bool word_char(uint32_t c)
{
	if (c < 0x80)
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
	if (c < 0xc0)
		return c == 0xaa || c == 0xb5 || c == 0xba;
	if (c == 0xd7 || c == 0xf7)
		return false;
	return !((c >= 0x2000 && c <= 0x2bff) || (c >= 0x3000 && c <= 0x303f) ||
		 (c >= 0xe000 && c <= 0xf8ff) || (c >= 0xfe10 && c <= 0xfe6f) ||
		 (c >= 0xff00 && c <= 0xff0f) || (c >= 0xff1a && c <= 0xff20) ||
		 (c >= 0xff3b && c <= 0xff40) || (c >= 0xff5b && c <= 0xff65) ||
		 (c >= 0xfff0 && c <= 0xffff) || (c >= 0x1f000 && c <= 0x1faff));
}

/* Fold one word character into b: lower case, Latin diacritics removed. */
static void fold_char(struct buf *b, uint32_t c)
{
	static const char *const multi[] = {"ae", "th", "ss", "ij", "oe"};

	if (c < 0x80) {
		char ch = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
		buf_append(b, &ch, 1);
		return;
	}
	if (c >= 0xc0 && c < 0x180) {
		char f = latin_fold[c - 0xc0];
		if (f >= '1' && f <= '5')
			buf_puts(b, multi[f - '1']);
		else if (f)
			buf_append(b, &f, 1);
		return;
	}
	if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2) /* Greek capitals */
		c += 0x20;
	else if (c >= 0x386 && c <= 0x38f) { /* Greek capitals with tonos */
		static const uint16_t g[] = {0x3b1, 0,     0x3b5, 0x3b7, 0x3b9,
					     0,     0x3bf, 0,     0x3c5, 0x3c9};
		if (g[c - 0x386])
			c = g[c - 0x386];
	} else if (c >= 0x3ac && c <= 0x3af) {
		static const uint16_t g[] = {0x3b1, 0x3b5, 0x3b7, 0x3b9};
		c = g[c - 0x3ac];
	} else if (c >= 0x3ca && c <= 0x3ce) {
		static const uint16_t g[] = {0x3b9, 0x3c5, 0x3bf, 0x3c5, 0x3c9};
		c = g[c - 0x3ca];
	} else if (c == 0x390) {
		c = 0x3b9;
	} else if (c == 0x3b0) {
		c = 0x3c5;
	} else if (c >= 0x410 && c <= 0x42f) { /* Cyrillic capitals */
		c += 0x20;
	} else if (c >= 0x400 && c <= 0x40f) {
		c += 0x50;
	}
	utf8_put(b, c);
}

/* Fold text into lower-case words without diacritics, separated by single
 * spaces, at most max bytes (cut at a word).  What the index stores and a
 * query looks for both go through here, so they always agree; PostgreSQL's
 * parser then only ever sees plain words. */
static void fold_words(const char *text, size_t max, struct buf *out, size_t *nwords)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t n = strlen(text), word_start = 0;
	bool in_word = false;

	if (nwords)
		*nwords = 0;
	for (size_t i = 0; i < n;) {
		uint32_t c;
		i += utf8_next(p + i, n - i, &c);
		if (c >= 0x300 && c <= 0x36f) /* combining marks: part of the letter before */
			continue;
		if (!word_char(c)) {
			in_word = false;
			continue;
		}
		if (!in_word) {
			if (out->len >= max)
				break;
			word_start = out->len;
			if (out->len)
				buf_puts(out, " ");
			in_word = true;
			if (nwords)
				(*nwords)++;
		}
		fold_char(out, c);
	}
	if (out->len > max && word_start > 0) { /* drop the word that went over */
		out->len = word_start;
		out->data[out->len] = '\0';
	}
}

static char *fold_text(const char *text)
{
	struct buf b;
	buf_init(&b, PG_TSV_TEXT_MAX + 4 * STORE_SEARCH_TERM_MAX + 64);
	fold_words(text, PG_TSV_TEXT_MAX, &b, NULL);
	return b.data ? buf_steal(&b) : xstrdup("");
}

/* The tsquery of a term list: each term's folded words as quoted lexemes
 * joined by <-> (followed by), the last with :* for a prefix; terms joined
 * by & (all) or | (any).  Nothing the user typed is syntax.  NULL when no
 * term has a word.  Caller frees. */
static char *tsquery_text(const struct store_search *qy)
{
	struct buf b, w;
	bool first = true;

	buf_init(&b, (size_t)STORE_SEARCH_TERMS_MAX * (8 * STORE_SEARCH_TERM_MAX + 16) + 1);
	buf_init(&w, 4 * STORE_SEARCH_TERM_MAX + 16);
	for (size_t i = 0; i < qy->nterms; i++) {
		size_t nw;
		buf_reset(&w);
		fold_words(qy->terms[i].text, 4 * STORE_SEARCH_TERM_MAX, &w, &nw);
		if (nw == 0)
			continue;
		if (!first)
			buf_puts(&b, qy->any ? " | " : " & ");
		first = false;
		buf_puts(&b, "(");
		const char *p = buf_str(&w);
		for (size_t k = 0; k < nw; k++) {
			size_t len = strcspn(p, " ");
			if (k)
				buf_puts(&b, " <-> ");
			buf_puts(&b, "'");
			for (size_t x = 0; x < len; x++) {
				if (p[x] == '\'' || p[x] == '\\')
					buf_append(&b, &p[x], 1);
				buf_append(&b, &p[x], 1);
			}
			buf_puts(&b, "'");
			if (k + 1 == nw && qy->terms[i].prefix)
				buf_puts(&b, ":*");
			p += len;
			if (*p == ' ')
				p++;
		}
		buf_puts(&b, ")");
	}
	buf_cleanup(&w);
	if (first) {
		buf_cleanup(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* ---- head and the listener ------------------------------------------------------------ */

static void publish_head(struct pg *q, int64_t head)
{
	pthread_mutex_lock(&q->hlock);
	if (head > q->head) {
		q->head = head;
		pthread_cond_broadcast(&q->hcond);
	}
	pthread_mutex_unlock(&q->hlock);
}

#define HEAD_SQL "SELECT coalesce(max(position), 0) FROM events"

/* Wait up to ms for the stop pipe; true when the store is closing. */
static bool listener_pause(struct pg *q, int ms)
{
	struct pollfd p = {.fd = q->stop_pipe[0], .events = POLLIN};
	return poll(&p, 1, ms) > 0 || q->stopping;
}

/* Publish the positions of the notifications libpq has received. */
static void listener_drain(struct pg *q, PGconn *c)
{
	PGnotify *nt;
	while ((nt = PQnotifies(c)) != NULL) {
		publish_head(q, strtoll(nt->extra, NULL, 10));
		PQfreemem(nt);
	}
}

/* Read the head on the listener's connection and publish it. */
static bool listener_read_head(struct pg *q, PGconn *c)
{
	PGresult *r = PQexec(c, HEAD_SQL);
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
	if (ok)
		publish_head(q, geti(r, 0, 0));
	PQclear(r);
	listener_drain(q, c); /* what arrived meanwhile */
	return ok;
}

static void *listener_main(void *arg)
{
	struct store *s = arg;
	struct pg *q = pg_of(s);
	PGconn *c = NULL;
	int pause = 100;

	while (!q->stopping) {
		if (!c || PQstatus(c) != CONNECTION_OK) {
			struct err e = {0};
			PGresult *r;
			if (c) {
				PQfinish(c);
				c = NULL;
			}
			c = pg_connect(s, &e);
			if (c) {
				outage_over(q);
				r = PQexec(c, "LISTEN " PG_CHANNEL);
				if (PQresultStatus(r) != PGRES_COMMAND_OK ||
				    !listener_read_head(q, c)) {
					PQfinish(c);
					c = NULL;
				}
				PQclear(r);
			}
			if (!c) {
				log_debug("store listener: %s", err_msg(&e));
				if (listener_pause(q, pause))
					break;
				pause = pause * 2 > 1000 ? 1000 : pause * 2;
				continue;
			}
			pause = 100;
		}
		struct pollfd p[2] = {{.fd = PQsocket(c), .events = POLLIN},
				      {.fd = q->stop_pipe[0], .events = POLLIN}};
		int n = poll(p, 2, PG_POLL_MS);
		if (q->stopping || (n > 0 && p[1].revents))
			break;
		if (n == 0) {
			/* Quiet for a while: look at the head ourselves while
			 * someone waits, in case a notification was lost. */
			pthread_mutex_lock(&q->hlock);
			bool wanted = q->waiters > 0;
			pthread_mutex_unlock(&q->hlock);
			if (wanted && !listener_read_head(q, c)) {
				PQfinish(c); /* connect and LISTEN again */
				c = NULL;
			}
			continue;
		}
		if (!PQconsumeInput(c))
			continue; /* broken: reconnected above */
		listener_drain(q, c);
	}
	PQfinish(c);
	return NULL;
}

static void start_listener(struct store *s)
{
	struct pg *q = pg_of(s);
	pthread_mutex_lock(&q->llock);
	if (!q->listening && !q->stopping) {
		if (pthread_create(&q->listener, NULL, listener_main, s) == 0)
			q->listening = true;
		else
			log_warn("cannot start the PostgreSQL listener thread: %s",
				 strerror(errno));
	}
	pthread_mutex_unlock(&q->llock);
}

/* ---- open, schema, close -------------------------------------------------------------- */

static int simple_exec(struct store *s, PGconn *c, const char *sql, const char *doing,
		       struct err *e)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? ERR_OK
								 : pg_fail(s, c, r, doing, e);
	PQclear(r);
	return rc;
}

static int schema_version(struct store *s, PGconn *c, int64_t *version, struct err *e)
{
	PGresult *r = NULL;
	int rc = cquery(s, c, "SELECT coalesce(max(version), 0) FROM ambient_schema", 0, NULL, &r,
			"cannot read the schema version", e);
	if (!rc)
		*version = geti(r, 0, 0);
	PQclear(r);
	return rc;
}

static int refuse_newer(struct store *s, int64_t version, struct err *e)
{
	return err_set(
		e, ERR_VERSION,
		"the PostgreSQL database at %s was written by a newer version of ambient (schema "
		"%lld; this ambient %s knows schemas up to %d); upgrade ambient to open it",
		pg_of(s)->where, (long long)version, AMBIENT_VERSION, PG_SCHEMA_VERSION);
}

/* Check that the database is ours and not from the future; migrate it.
 * Several nodes may start at once: the migrations run in one transaction
 * holding an advisory lock, and the version is read again under it. */
static int check_and_migrate(struct store *s, PGconn *c, struct err *e)
{
	struct pg *q = pg_of(s);
	PGresult *r = NULL;
	int64_t version = 0;
	int rc;

	rc = cquery(s, c,
		    "SELECT to_regclass('ambient_schema') IS NOT NULL, to_regclass('events') IS "
		    "NOT NULL,"
		    " current_setting('server_encoding')",
		    0, NULL, &r, "cannot read the database schema", e);
	if (rc)
		return rc;
	bool has_schema = PQgetvalue(r, 0, 0)[0] == 't', has_events = PQgetvalue(r, 0, 1)[0] == 't';
	const char *enc = PQgetvalue(r, 0, 2);
	if (strcmp(enc, "UTF8") != 0 && strcmp(enc, "SQL_ASCII") != 0) {
		rc = err_set(
			e, ERR_INVALID,
			"the PostgreSQL database at %s has encoding %s; ambient needs UTF8: create "
			"one with CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0",
			q->where, enc);
		PQclear(r);
		return rc;
	}
	PQclear(r);
	if (has_schema && (rc = schema_version(s, c, &version, e)))
		return rc;
	if (!has_schema && has_events)
		return err_set(
			e, ERR_CORRUPT,
			"the PostgreSQL database at %s has a table 'events' that ambient did not "
			"make; point --db at an empty database (or one of ambient's)",
			q->where);
	if (version > PG_SCHEMA_VERSION)
		return refuse_newer(s, version, e);
	if (version == PG_SCHEMA_VERSION)
		return ERR_OK;
	if (s->opt.read_only)
		return err_set(
			e, ERR_READONLY,
			version == 0
				? "the PostgreSQL database at %s has no ambient tables yet "
				  "but was opened read-only; open it once read-write"
				: "the PostgreSQL database at %s needs a schema upgrade but was "
				  "opened read-only; open it once read-write",
			q->where);

	if ((rc = simple_exec(
		     s, c,
		     "BEGIN; SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK ");"
		     "CREATE TABLE IF NOT EXISTS ambient_schema(version integer PRIMARY KEY,"
		     " applied_at timestamptz NOT NULL DEFAULT now(), by_ambient text NOT NULL)",
		     "cannot lock the database to migrate it", e)))
		goto fail;
	/* Another node may have migrated meanwhile. */
	if ((rc = schema_version(s, c, &version, e)))
		goto fail;
	if (version > PG_SCHEMA_VERSION) {
		rc = refuse_newer(s, version, e);
		goto fail;
	}
	for (int v = (int)version; v < PG_SCHEMA_VERSION; v++) {
		char sql[160];
		if ((rc = simple_exec(s, c, migrations[v], "cannot migrate the database schema",
				      e)))
			goto fail;
		snprintf(sql, sizeof sql,
			 "INSERT INTO ambient_schema(version, by_ambient) VALUES (%d, '%s')", v + 1,
			 AMBIENT_VERSION);
		if ((rc = simple_exec(s, c, sql, "cannot migrate the database schema", e)))
			goto fail;
		log_info("PostgreSQL at %s: migrated schema to version %d", q->where, v + 1);
	}
	if ((rc = simple_exec(s, c, "COMMIT", "cannot commit the schema migration", e)))
		goto fail;
	return ERR_OK;
fail:
	PQclear(PQexec(c, "ROLLBACK"));
	return rc;
}

static void pg_free(struct pg *q)
{
	if (!q)
		return;
	PQfinish(q->w);
	for (size_t i = 0; i < q->nidle; i++)
		PQfinish(q->idle[i]);
	if (q->stop_pipe[0] >= 0) {
		close(q->stop_pipe[0]);
		close(q->stop_pipe[1]);
	}
	pthread_mutex_destroy(&q->qlock);
	pthread_mutex_destroy(&q->plock);
	pthread_cond_destroy(&q->pcond);
	pthread_mutex_destroy(&q->hlock);
	pthread_cond_destroy(&q->hcond);
	pthread_mutex_destroy(&q->llock);
	free(q->conninfo);
	free(q);
}

static int pg_open(struct store *s, const char *location, struct err *e)
{
	struct pg *q = xcalloc(1, sizeof *q);
	pthread_condattr_t ca;
	char *masked, *perr = NULL;
	PGconn *c = NULL;
	PQconninfoOption *opts;
	int rc;

	s->impl = q;
	q->stop_pipe[0] = q->stop_pipe[1] = -1;
	pthread_mutex_init(&q->qlock, NULL);
	pthread_mutex_init(&q->plock, NULL);
	pthread_mutex_init(&q->hlock, NULL);
	pthread_mutex_init(&q->llock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->hcond, &ca);
	pthread_cond_init(&q->pcond, &ca);
	pthread_condattr_destroy(&ca);

	/* s->url is shown to people: never with the password. */
	masked = mask_password(s->url);
	free(s->url);
	s->url = masked;
	q->conninfo = xstrdup(location);

	opts = PQconninfoParse(location, &perr);
	if (!opts) {
		rc = err_set(e, ERR_INVALID,
			     "bad PostgreSQL database URL '%s': %.*s; use "
			     "postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE",
			     s->url, perr ? (int)strcspn(perr, "\n") : 14,
			     perr ? perr : "cannot parse it");
		PQfreemem(perr);
		goto fail;
	}
	PQconninfoFree(opts);
	q->reconnect_ms = PG_RECONNECT_MS;
	const char *wait = getenv("AMBIENT_PG_RECONNECT_MS");
	if (wait && *wait) {
		char *end;
		long v = strtol(wait, &end, 10);
		if (*end || v < 0 || v > 3600000)
			log_warn("AMBIENT_PG_RECONNECT_MS=%s is not a number of milliseconds "
				 "(0-3600000); waiting the default %d ms for PostgreSQL",
				 wait, PG_RECONNECT_MS);
		else
			q->reconnect_ms = (int)v;
	}
	const char *delay = getenv("AMBIENT_PG_TEST_COMMIT_DELAY_MS");
	if (delay && *delay)
		q->commit_delay_ms = atoi(delay);
	if (pipe2(q->stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		rc = err_set(e, ERR_IO, "cannot make a pipe: %s", strerror(errno));
		goto fail;
	}

	if (!(c = pg_connect(s, e))) {
		rc = e && e->code ? e->code : ERR_IO;
		goto fail;
	}
	describe(c, q->where, sizeof q->where);
	if (PQserverVersion(c) < 110000) {
		rc = err_set(e, ERR_VERSION,
			     "PostgreSQL at %s is version %d; ambient needs 11 or newer", q->where,
			     PQserverVersion(c) / 10000);
		goto fail;
	}
	if ((rc = check_and_migrate(s, c, e)))
		goto fail;
	PGresult *r = NULL;
	if ((rc = cquery(s, c, HEAD_SQL, 0, NULL, &r, "cannot read the log head", e)))
		goto fail;
	q->head = geti(r, 0, 0);
	PQclear(r);
	if (s->opt.read_only) {
		q->nconns = 1;
		pool_put(s, c);
	} else {
		q->w = c;
		c = NULL;
		if ((rc = writer_setup(s, e)))
			goto fail;
	}
	log_debug("opened %s (schema %d, head %lld)", s->url, PG_SCHEMA_VERSION,
		  (long long)q->head);
	return ERR_OK;
fail:
	PQfinish(c);
	pg_free(q);
	s->impl = NULL;
	return rc;
}

static void pg_close(struct store *s)
{
	struct pg *q = pg_of(s);

	pthread_mutex_lock(&q->llock);
	q->stopping = true;
	bool joining = q->listening;
	pthread_mutex_unlock(&q->llock);
	if (joining) {
		ssize_t w = write(q->stop_pipe[1], "x", 1);
		(void)w;
		pthread_join(q->listener, NULL);
	}
	if (q->batches)
		log_info("%s: %llu write transactions, %.1f jobs each on average", s->url,
			 (unsigned long long)q->batches,
			 (double)q->batched_jobs / (double)q->batches);
	pg_free(q);
	s->impl = NULL;
}

/* ---- reading ---------------------------------------------------------------------------- */

static int row_to_event(const PGresult *r, int i, struct store_event *ev, struct err *e)
{
	const char *data = PQgetvalue(r, i, 5), *meta = PQgetvalue(r, i, 6);

	ev->position = geti(r, i, 0);
	snprintf(ev->event_id, sizeof ev->event_id, "%s", PQgetvalue(r, i, 1));
	ev->stream = xstrdup(PQgetvalue(r, i, 2));
	ev->version = geti(r, i, 3);
	ev->type = xstrdup(PQgetvalue(r, i, 4));
	ev->recorded_at_us = geti(r, i, 7);
	ev->data = json_parse(data, (size_t)PQgetlength(r, i, 5), NULL);
	ev->metadata = json_parse(meta, (size_t)PQgetlength(r, i, 6), NULL);
	if (!ev->data || !ev->metadata)
		return err_set(e, ERR_CORRUPT, "event at position %lld has unreadable JSON",
			       (long long)ev->position);
	return ERR_OK;
}

static int collect(const PGresult *r, struct store_event_list *out, struct err *e)
{
	for (int i = 0; i < PQntuples(r); i++) {
		int rc = row_to_event(r, i, store_event_list_push(out), e);
		if (rc)
			return rc;
	}
	return ERR_OK;
}

static int pg_read_stream(struct store *s, const char *stream, int64_t from, bool backward,
			  size_t limit, struct store_event_list *out, struct err *e)
{
	const char *sql = backward ? "SELECT " EVENT_COLUMNS " FROM events WHERE stream = $1"
				     " AND version <= $2 ORDER BY version DESC LIMIT $3"
				   : "SELECT " EVENT_COLUMNS " FROM events WHERE stream = $1"
				     " AND version >= $2 ORDER BY version LIMIT $3";
	char from_s[24], limit_s[24];
	PGresult *r = NULL;
	int rc;

	if ((rc = check_utf8("the stream name", stream, e)))
		return rc;
	fmt_i64(from_s, sizeof from_s, backward && from <= 0 ? INT64_MAX : from);
	fmt_i64(limit_s, sizeof limit_s, (int64_t)limit);
	const char *vals[] = {stream, from_s, limit ? limit_s : NULL};
	if ((rc = rquery(s, sql, 3, vals, &r, "cannot read a stream", e)))
		return rc;
	rc = collect(r, out, e);
	PQclear(r);
	return rc;
}

static int pg_read_all(struct store *s, int64_t after, bool backward, size_t limit,
		       const struct store_filter *f, struct store_event_list *out, struct err *e)
{
	char sql[600], after_s[24], limit_s[24];
	const char *vals[6];
	char *pend = NULL;
	PGresult *r = NULL;
	int rc, n = 0;
	size_t len;

	if (f && ((rc = check_utf8("the stream filter", f->stream, e)) ||
		  (rc = check_utf8("the stream prefix", f->stream_prefix, e)) ||
		  (rc = check_utf8("the type filter", f->type, e))))
		return rc;
	fmt_i64(after_s, sizeof after_s, backward && after <= 0 ? INT64_MAX : after);
	vals[n++] = after_s;
	len = (size_t)snprintf(sql, sizeof sql,
			       "SELECT " EVENT_COLUMNS " FROM events WHERE position %s $1",
			       backward ? "<" : ">");
	if (f && f->stream) {
		vals[n++] = f->stream;
		len += (size_t)snprintf(sql + len, sizeof sql - len, " AND stream = $%d", n);
	}
	if (f && f->stream_prefix) {
		vals[n++] = f->stream_prefix;
		len += (size_t)snprintf(sql + len, sizeof sql - len, " AND stream >= $%d", n);
		if ((pend = prefix_end(f->stream_prefix))) {
			vals[n++] = pend;
			len += (size_t)snprintf(sql + len, sizeof sql - len, " AND stream < $%d",
						n);
		}
	}
	if (f && f->type) {
		vals[n++] = f->type;
		len += (size_t)snprintf(sql + len, sizeof sql - len, " AND type = $%d", n);
	}
	fmt_i64(limit_s, sizeof limit_s, (int64_t)limit);
	vals[n++] = limit ? limit_s : NULL;
	snprintf(sql + len, sizeof sql - len, " ORDER BY position%s LIMIT $%d",
		 backward ? " DESC" : "", n);
	rc = rquery(s, sql, n, vals, &r, "cannot read the log", e);
	free(pend);
	if (rc)
		return rc;
	rc = collect(r, out, e);
	PQclear(r);
	return rc;
}

static int pg_head(struct store *s, int64_t *position, struct err *e)
{
	PGresult *r = NULL;
	int rc = rquery(s, HEAD_SQL, 0, NULL, &r, "cannot read the log head", e);
	if (rc)
		return rc;
	*position = geti(r, 0, 0);
	PQclear(r);
	publish_head(pg_of(s), *position);
	return ERR_OK;
}

/* One integer from a one-parameter query (0 when there is no row). */
static int query_i64(struct store *s, const char *sql, const char *arg, int64_t *out,
		     const char *doing, struct err *e)
{
	PGresult *r = NULL;
	const char *vals[] = {arg};
	int rc;

	*out = 0;
	if ((rc = check_utf8("the name", arg, e)))
		return rc;
	if ((rc = rquery(s, sql, 1, vals, &r, doing, e)))
		return rc;
	if (PQntuples(r) > 0)
		*out = geti(r, 0, 0);
	PQclear(r);
	return ERR_OK;
}

static int pg_stream_version(struct store *s, const char *stream, int64_t *version, struct err *e)
{
	return query_i64(s, "SELECT version FROM streams WHERE stream = $1", stream, version,
			 "cannot read a stream version", e);
}

static int pg_checkpoint_get(struct store *s, const char *name, int64_t *position, struct err *e)
{
	return query_i64(s, "SELECT position FROM checkpoints WHERE name = $1", name, position,
			 "cannot read a checkpoint", e);
}

static int pg_wait(struct store *s, int64_t after, int timeout_ms, struct err *e)
{
	struct pg *q = pg_of(s);
	struct timespec until;
	int rc = ERR_OK;

	start_listener(s);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&q->hlock);
	q->waiters++;
	while (q->head <= after) {
		if (timeout_ms <= 0 ||
		    pthread_cond_timedwait(&q->hcond, &q->hlock, &until) == ETIMEDOUT) {
			if (q->head > after)
				break;
			rc = err_set(e, ERR_TIMEOUT, "no event after position %lld",
				     (long long)after);
			break;
		}
	}
	q->waiters--;
	pthread_mutex_unlock(&q->hlock);
	return rc;
}

static int parse_doc(const char *text, size_t len, json_t **doc, struct err *e)
{
	*doc = json_parse(text, len, NULL);
	if (!*doc)
		return err_set(e, ERR_CORRUPT,
			       "a stored document is unreadable JSON; run `ambient replay`");
	return ERR_OK;
}

static int pg_proj_get(struct store *s, const char *proj, const char *key, json_t **doc,
		       struct err *e)
{
	const char *vals[] = {proj, key};
	PGresult *r = NULL;
	int rc;

	if ((rc = check_utf8("the projection name", proj, e)) ||
	    (rc = check_utf8("the key", key, e)))
		return rc;
	if ((rc = rquery(s, "SELECT doc::text FROM projections WHERE name = $1 AND key = $2", 2,
			 vals, &r, "cannot read a projection", e)))
		return rc;
	if (PQntuples(r) == 0)
		rc = err_set(e, ERR_NOT_FOUND, "%s has no document %s", proj, key);
	else
		rc = parse_doc(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0), doc, e);
	PQclear(r);
	return rc;
}

/* {key: doc} of a result's rows (key in column 0, doc in 1). */
static int rows_to_object(const PGresult *r, json_t **out, struct err *e)
{
	*out = json_object();
	for (int i = 0; i < PQntuples(r); i++) {
		json_t *doc;
		if (parse_doc(PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1), &doc, e)) {
			json_decref(*out);
			*out = NULL;
			return ERR_CORRUPT;
		}
		json_object_set_new(*out, PQgetvalue(r, i, 0), doc);
	}
	return ERR_OK;
}

#define PROJ_LIST_SQL                                                                              \
	"SELECT key, doc::text FROM projections WHERE name = $1 ORDER BY created_position, key"

static int pg_proj_list(struct store *s, const char *proj, json_t **docs, struct err *e)
{
	const char *vals[] = {proj};
	PGresult *r = NULL;
	int rc;

	if ((rc = check_utf8("the projection name", proj, e)))
		return rc;
	if ((rc = rquery(s, PROJ_LIST_SQL, 1, vals, &r, "cannot list a projection", e)))
		return rc;
	rc = rows_to_object(r, docs, e);
	PQclear(r);
	return rc;
}

static int pg_proj_search(struct store *s, const struct store_search *qy, json_t **hits,
			  struct err *e)
{
	char limit_s[24];
	PGresult *r = NULL;
	int rc;

	if ((rc = check_utf8("the projection name", qy->proj, e)) ||
	    (rc = check_utf8("the key", qy->key, e)))
		return rc;
	char *tsq = tsquery_text(qy);
	*hits = json_array();
	if (!tsq)
		return ERR_OK;
	fmt_i64(limit_s, sizeof limit_s, qy->limit ? (int64_t)qy->limit : PG_SEARCH_LIMIT_DEFAULT);
	const char *vals[] = {tsq, qy->proj, qy->key, limit_s};
	/* ts_rank normalisation 1: divided by 1 + log(length), so a short item
	 * that has the words ranks above a long one that has them once. */
	rc = rquery(
		s,
		"SELECT key, item, ts_rank(tsv, q, 1) FROM search_items,"
		" to_tsquery('simple', $1) AS q WHERE proj = $2 AND ($3::text IS NULL OR key = $3)"
		" AND tsv @@ q ORDER BY 3 DESC, id LIMIT $4",
		4, vals, &r, "cannot search", e);
	free(tsq);
	if (rc) {
		json_decref(*hits);
		*hits = NULL;
		return rc;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		double score = strtod(PQgetvalue(r, i, 2), NULL);
		json_array_append_new(
			*hits, json_pack("{s:s, s:s, s:f}", "key", PQgetvalue(r, i, 0), "item",
					 PQgetvalue(r, i, 1), "score", score > 0 ? score : 1e-9));
	}
	PQclear(r);
	return ERR_OK;
}

static int pg_soft_get(struct store *s, const char *key, json_t **doc, struct err *e)
{
	const char *vals[] = {key};
	PGresult *r = NULL;
	int rc;

	if ((rc = check_utf8("the soft-state key", key, e)))
		return rc;
	if ((rc = rquery(s, "SELECT doc::text FROM soft_state WHERE key = $1", 1, vals, &r,
			 "cannot read soft state", e)))
		return rc;
	if (PQntuples(r) == 0)
		rc = ERR_NOT_FOUND;
	else
		rc = parse_doc(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0), doc, e);
	PQclear(r);
	return rc;
}

/* Rows whose key column starts with prefix: "col >= $1 [AND col < $2]". */
static int prefix_query(struct store *s, const char *sql_lo, const char *sql_hi, const char *prefix,
			const char *extra, PGresult **r, const char *doing, struct err *e)
{
	char *end = prefix_end(prefix);
	const char *vals[] = {prefix, end ? end : "", extra};
	int rc;

	if ((rc = check_utf8("the prefix", prefix, e))) {
		free(end);
		return rc;
	}
	rc = rquery(s, end ? sql_hi : sql_lo, extra ? 3 : 2, vals, r, doing, e);
	free(end);
	return rc;
}

static int pg_soft_list(struct store *s, const char *prefix, json_t **docs, struct err *e)
{
	PGresult *r = NULL;
	int rc = prefix_query(
		s, "SELECT key, doc::text FROM soft_state WHERE key >= $1 AND $2 = '' ORDER BY key",
		"SELECT key, doc::text FROM soft_state WHERE key >= $1 AND key < $2 ORDER BY key",
		prefix, NULL, &r, "cannot read soft state", e);
	if (rc)
		return rc;
	rc = rows_to_object(r, docs, e);
	PQclear(r);
	return rc;
}

static int pg_lease_list(struct store *s, const char *prefix, json_t **leases, struct err *e)
{
	char now_s[24];
	PGresult *r = NULL;

	fmt_i64(now_s, sizeof now_s, now_us(s));
	int rc = prefix_query(s,
			      "SELECT name, owner, expires_at FROM leases WHERE name >= $1"
			      " AND $2 = '' AND expires_at >= $3 ORDER BY name",
			      "SELECT name, owner, expires_at FROM leases WHERE name >= $1"
			      " AND name < $2 AND expires_at >= $3 ORDER BY name",
			      prefix, now_s, &r, "cannot read leases", e);
	if (rc)
		return rc;
	*leases = json_object();
	for (int i = 0; i < PQntuples(r); i++)
		json_object_set_new(*leases, PQgetvalue(r, i, 0),
				    json_pack("{s:s, s:I}", "owner", PQgetvalue(r, i, 1),
					      "expires_at_us", (json_int_t)geti(r, i, 2)));
	PQclear(r);
	return ERR_OK;
}

/* ---- writing: the batch ------------------------------------------------------------------- */

/* Take the log_head lock, if this transaction does not hold it yet, and
 * learn the head.  Held until COMMIT: see the top of the file. */
static int take_lock(struct store *s, struct err *e)
{
	struct pg *q = pg_of(s);
	PGresult *r = NULL;
	int rc;

	if (q->locked)
		return ERR_OK;
	if ((rc = wexecp(s, "SELECT position FROM log_head WHERE id = 1 FOR UPDATE", 0, NULL, &r,
			 "cannot lock the log", e)))
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		q->wfail = WF_ALL;
		return err_set(
			e, ERR_CORRUPT,
			"the PostgreSQL database at %s has no log_head row, so it is damaged; "
			"restore it from a backup or point --db at another database",
			q->where);
	}
	q->next_position = q->begin_position = geti(r, 0, 0);
	q->locked = true;
	PQclear(r);
	return ERR_OK;
}

static int batch_begin(struct store *s, struct job *list, struct err *e)
{
	struct pg *q = pg_of(s);
	bool lock = false;
	int rc;

	q->locked = false;
	q->wfail = WF_NONE;
	q->failed_job = NULL;
	for (struct job *j = list; j && !lock; j = j->next)
		lock = j->needs_lock && !j->finished;
	if (PQstatus(q->w) != CONNECTION_OK) {
		q->wfail = WF_LOST;
		return err_set(e, ERR_IO, "the connection to PostgreSQL at %s is down", q->where);
	}
	/* READ COMMITTED whatever the server's default: every statement must
	 * see what the previous holders of the lock committed.  BEGIN and the
	 * lock go in one round trip. */
	if (!lock)
		return wexec(s, "BEGIN ISOLATION LEVEL READ COMMITTED", 0, NULL, NULL,
			     "cannot start a write transaction", e);
	PGresult *r = PQexec(q->w, "BEGIN ISOLATION LEVEL READ COMMITTED;"
				   " SELECT position FROM log_head WHERE id = 1 FOR UPDATE");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		q->wfail = conn_lost(q->w, r) ? WF_LOST : is_retryable(r) ? WF_RETRY : WF_ALL;
		rc = pg_fail(s, q->w, r, "cannot start a write transaction", e);
		PQclear(r);
		return rc;
	}
	if (PQntuples(r) != 1) {
		PQclear(r);
		q->wfail = WF_ALL;
		return err_set(
			e, ERR_CORRUPT,
			"the PostgreSQL database at %s has no log_head row, so it is damaged; "
			"restore it from a backup or point --db at another database",
			q->where);
	}
	q->next_position = q->begin_position = geti(r, 0, 0);
	q->locked = true;
	PQclear(r);
	return ERR_OK;
}

/* Plain appends (expected version "any", no caller-chosen ids, no
 * projection) need no look at the database before writing, so the batch
 * writes all of them with one statement: a group.  Positions are taken as
 * they join; versions come back per stream. */
struct group {
	struct buf pos, ids, streams, types, data, meta, rec;
	struct job **jobs;
	size_t njobs, cap;
};

static bool plain_append(struct store *s, const struct job *j)
{
	if (j->evs == NULL || j->rerun || j->expected != STORE_EXPECT_ANY || pg_of(s)->solo)
		return false;
	for (size_t i = 0; i < j->n; i++)
		if (j->id_given[i])
			return false;
	for (size_t i = 0; i < s->opt.nprojections; i++) {
		const char *prefix = s->opt.projections[i].stream_prefix;
		if (strncmp(j->stream, prefix, strlen(prefix)) == 0)
			return false;
	}
	return true;
}

static void group_reset(struct group *g)
{
	struct buf *all[] = {&g->pos, &g->ids, &g->streams, &g->types, &g->data, &g->meta, &g->rec};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		if (all[i]->data)
			buf_reset(all[i]);
		else
			buf_init(all[i], (size_t)PG_PARAM_MAX + 16);
		buf_puts(all[i], "{");
	}
	g->njobs = 0;
}

static void group_cleanup(struct group *g)
{
	struct buf *all[] = {&g->pos, &g->ids, &g->streams, &g->types, &g->data, &g->meta, &g->rec};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		buf_cleanup(all[i]);
	free(g->jobs);
}

static void group_add(struct pg *q, struct group *g, struct job *j)
{
	if (g->njobs == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 16;
		g->jobs = xrealloc(g->jobs, g->cap * sizeof *g->jobs);
	}
	g->jobs[g->njobs++] = j;
	j->res->first_position = q->next_position + 1;
	for (size_t i = 0; i < j->n; i++) {
		arr_add_i64(&g->pos, ++q->next_position);
		arr_add(&g->ids, j->evs[i].event_id);
		arr_add(&g->streams, j->stream);
		arr_add(&g->types, j->evs[i].type);
		arr_add(&g->data, j->data_text[i]);
		arr_add(&g->meta, j->meta_text[i]);
		arr_add_i64(&g->rec, j->rec_us);
	}
	j->res->last_position = q->next_position;
	j->res->recorded_at_us = j->rec_us;
	j->res->duplicate = false;
}

/* Write the group: bump each stream's version by its count, insert the
 * events with their versions numbered per stream in position order. */
#define GROUP_SQL                                                                                  \
	"WITH e AS (SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[],"        \
	" $5::text[], $6::text[], $7::bigint[]) AS u(pos, id, stream, t, d, m, r)),"               \
	" c AS (SELECT stream, count(*) AS n FROM e GROUP BY stream),"                             \
	" s AS (INSERT INTO streams(stream, version) SELECT stream, n FROM c"                      \
	" ON CONFLICT (stream) DO UPDATE SET version = streams.version + excluded.version"         \
	" RETURNING stream, version),"                                                             \
	" ins AS (INSERT INTO events(position, event_id, stream, version, type, data,"             \
	" metadata, recorded_at) SELECT e.pos, e.id, e.stream, s.version - c.n +"                  \
	" row_number() OVER (PARTITION BY e.stream ORDER BY e.pos), e.t, e.d::json,"               \
	" e.m::json, e.r FROM e JOIN c USING (stream) JOIN s USING (stream))"                      \
	" SELECT s.stream, s.version, c.n FROM s JOIN c USING (stream)"

/* Each job's version from the group's result: the stream's version before
 * the group plus the events of that stream up to and including the job's. */
static void group_versions(struct group *g, const PGresult *r)
{
	json_t *base = json_object();
	for (int i = 0; i < PQntuples(r); i++)
		json_object_set_new(base, PQgetvalue(r, i, 0),
				    json_integer(geti(r, i, 1) - geti(r, i, 2)));
	for (size_t k = 0; k < g->njobs; k++) {
		struct job *j = g->jobs[k];
		json_t *v = json_object_get(base, j->stream);
		json_int_t now = json_integer_value(v) + (json_int_t)j->n;
		json_integer_set(v, now);
		j->res->version = now;
	}
	json_decref(base);
}
static int group_flush(struct store *s, struct group *g, struct err *e)
{
	struct pg *q = pg_of(s);
	struct buf *all[] = {&g->pos, &g->ids, &g->streams, &g->types, &g->data, &g->meta, &g->rec};
	PGresult *r = NULL;
	int rc = ERR_OK;

	if (g->njobs == 0)
		return ERR_OK;
	for (size_t i = 0; i < sizeof all / sizeof all[0] && !rc; i++)
		rc = arr_done(all[i], "append", e);
	if (rc) {
		q->wfail = WF_JOB;
		q->group_failed = true;
		goto out;
	}
	const char *vals[] = {buf_str(&g->pos),   buf_str(&g->ids),  buf_str(&g->streams),
			      buf_str(&g->types), buf_str(&g->data), buf_str(&g->meta),
			      buf_str(&g->rec)};
	rc = wexecp(s, GROUP_SQL, 7, vals, &r, "cannot append events", e);
	if (rc) {
		if (q->wfail == WF_JOB)
			q->group_failed = true;
		goto out;
	}
	group_versions(g, r);
out:
	PQclear(r);
	group_reset(g);
	return rc;
}

/* Store the new head, notify the listeners and commit.  *unknown: the
 * connection broke after COMMIT may have been sent. */
static int batch_commit(struct store *s, bool *unknown, struct err *e)
{
	struct pg *q = pg_of(s);
	char sql[200];
	bool appended = q->locked && q->next_position != q->begin_position;

	if (appended) {
		snprintf(sql, sizeof sql,
			 "UPDATE log_head SET position = %lld WHERE id = 1;"
			 " SELECT pg_notify('" PG_CHANNEL "', '%lld'); COMMIT",
			 (long long)q->next_position, (long long)q->next_position);
		if (q->commit_delay_ms > 0)
			sleep_ms(q->commit_delay_ms);
	} else {
		snprintf(sql, sizeof sql, "COMMIT");
	}
	PGresult *r = PQexec(q->w, sql);
	ExecStatusType st = PQresultStatus(r);
	int rc = ERR_OK;
	if (st == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r), "COMMIT") == 0) {
		PQclear(r);
		return ERR_OK;
	}
	if (conn_lost(q->w, r)) {
		q->wfail = WF_LOST;
		*unknown = true;
	} else {
		q->wfail = is_retryable(r) ? WF_RETRY : WF_ALL;
	}
	if (st == PGRES_COMMAND_OK) /* "ROLLBACK": the transaction had failed */
		rc = err_set(e, ERR_IO,
			     "cannot commit (PostgreSQL at %s): the transaction was rolled back",
			     q->where);
	else
		rc = pg_fail(s, q->w, r, "cannot commit", e);
	PQclear(r);
	return rc;
}

/* Take the whole queue (qlock held). */
static struct job *take_queue(struct pg *q, size_t *n, struct job **tail)
{
	struct job *list = q->qhead;
	*n = q->qlen;
	*tail = q->qtail;
	q->qhead = q->qtail = NULL;
	q->qlen = 0;
	return list;
}

#define HEAD_SQL_NOTIFY                                                                            \
	"WITH h AS (UPDATE log_head SET position = $1 WHERE id = 1)"                               \
	" SELECT pg_notify('" PG_CHANNEL "', $1::text)"

/* The usual end of a batch, whose last jobs are a group: the group's
 * statement, the new head with its notification, and COMMIT, sent in one
 * round trip (libpq's pipeline mode).  The positions are known already, so
 * nothing waits for the group's answer.  A failure aborts what follows it
 * in the pipeline; the caller rolls back as after any failure. */
static int group_commit(struct store *s, struct group *g, bool *unknown, struct err *e)
{
	struct pg *q = pg_of(s);
	struct buf *all[] = {&g->pos, &g->ids, &g->streams, &g->types, &g->data, &g->meta, &g->rec};
	PGresult *res[3] = {NULL, NULL, NULL};
	char head_s[24];
	int rc = ERR_OK, got = 0, nulls = 0;
	bool synced = false, sent;

	for (size_t i = 0; i < sizeof all / sizeof all[0] && !rc; i++)
		rc = arr_done(all[i], "append", e);
	if (rc) {
		q->wfail = WF_JOB;
		q->group_failed = true;
		return rc;
	}
	if (q->commit_delay_ms > 0)
		sleep_ms(q->commit_delay_ms);
	fmt_i64(head_s, sizeof head_s, q->next_position);
	const char *vals[] = {buf_str(&g->pos),   buf_str(&g->ids),  buf_str(&g->streams),
			      buf_str(&g->types), buf_str(&g->data), buf_str(&g->meta),
			      buf_str(&g->rec)};
	const char *hv[] = {head_s};
	char gname[16], hname[16];
	if ((rc = writer_prepare(s, GROUP_SQL, 7, gname, e)) ||
	    (rc = writer_prepare(s, HEAD_SQL_NOTIFY, 1, hname, e)))
		return rc;
	if (!PQenterPipelineMode(q->w)) {
		q->wfail = WF_LOST;
		return err_set(e, ERR_IO, "cannot commit (PostgreSQL at %s): %s", q->where,
			       PQerrorMessage(q->w));
	}
	sent = (gname[0] ? PQsendQueryPrepared(q->w, gname, 7, vals, NULL, NULL, 0)
			 : PQsendQueryParams(q->w, GROUP_SQL, 7, NULL, vals, NULL, NULL, 0)) &&
	       (hname[0] ? PQsendQueryPrepared(q->w, hname, 1, hv, NULL, NULL, 0)
			 : PQsendQueryParams(q->w, HEAD_SQL_NOTIFY, 1, NULL, hv, NULL, NULL, 0)) &&
	       PQsendQueryParams(q->w, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) &&
	       PQpipelineSync(q->w);
	while (sent && !synced) {
		PGresult *r = PQgetResult(q->w);
		if (!r) {
			if (PQstatus(q->w) != CONNECTION_OK || ++nulls > 2)
				break;
			continue;
		}
		nulls = 0;
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			synced = true;
			PQclear(r);
		} else if (got < 3) {
			res[got++] = r;
		} else {
			PQclear(r);
		}
	}
	if (!synced || !PQexitPipelineMode(q->w) || PQstatus(q->w) != CONNECTION_OK) {
		/* COMMIT may have been carried out: the caller reconnects and
		 * runs the batch again, finding its own events. */
		q->wfail = WF_LOST;
		*unknown = true;
		rc = pg_fail(s, q->w, got ? res[got - 1] : NULL, "cannot commit", e);
		if (PQstatus(q->w) == CONNECTION_OK)
			PQreset(q->w); /* out of step with the server: start afresh */
		goto out;
	}
	static const char *const doing[] = {"cannot append events", "cannot record the log head",
					    "cannot commit"};
	for (int k = 0; k < 3; k++) {
		ExecStatusType st = res[k] ? PQresultStatus(res[k]) : PGRES_FATAL_ERROR;
		if (st == PGRES_TUPLES_OK || (st == PGRES_COMMAND_OK && k < 2))
			continue;
		if (k == 2 && st == PGRES_COMMAND_OK && strcmp(PQcmdStatus(res[k]), "COMMIT") == 0)
			continue;
		if (st == PGRES_PIPELINE_ABORTED)
			continue; /* after the failure reported below */
		if (conn_lost(q->w, res[k]))
			q->wfail = WF_LOST;
		else if (is_retryable(res[k]))
			q->wfail = WF_RETRY;
		else if (is_job_error(res[k]) && k == 0)
			q->wfail = WF_JOB;
		else
			q->wfail = WF_ALL;
		q->group_failed = k == 0 && q->wfail == WF_JOB;
		rc = pg_fail(s, q->w, res[k], doing[k], e);
		break;
	}
	if (!rc)
		group_versions(g, res[0]);
out:
	for (int k = 0; k < 3; k++)
		PQclear(res[k]);
	return rc;
}

/* One run of the batch: BEGIN, every job not finished, the jobs that queued
 * meanwhile (a few rounds), COMMIT. */
static int run_batch(struct store *s, struct job **batch, struct job **tail, size_t *size,
		     struct group *g, bool *unknown, struct err *e)
{
	struct pg *q = pg_of(s);
	struct job *from = *batch;
	int rc;

	q->group_failed = false;
	group_reset(g);
	if ((rc = batch_begin(s, *batch, e)))
		return rc;
	for (int round = 0;; round++) {
		for (struct job *j = from; j; j = j->next) {
			if (j->finished)
				continue;
			memset(&j->err, 0, sizeof j->err);
			j->rc = ERR_OK;
			if (plain_append(s, j)) {
				if ((rc = take_lock(s, e)))
					return rc;
				group_add(q, g, j);
				continue;
			}
			/* what comes next may read what the group writes */
			if ((rc = group_flush(s, g, e)))
				return rc;
			j->rc = j->run(s, j, &j->err);
			if (j->rc && q->wfail != WF_NONE) {
				if (q->wfail == WF_JOB)
					q->failed_job = j;
				if (e)
					*e = j->err;
				return j->rc;
			}
		}
		if (round >= PG_ABSORB_ROUNDS || *size >= PG_BATCH_MAX)
			break;
		size_t n;
		struct job *more_tail;
		pthread_mutex_lock(&q->qlock);
		struct job *more = take_queue(q, &n, &more_tail);
		pthread_mutex_unlock(&q->qlock);
		if (!more)
			break;
		(*tail)->next = more;
		*tail = more_tail;
		*size += n;
		from = more;
	}
	if (g->njobs)
		return group_commit(s, g, unknown, e);
	return batch_commit(s, unknown, e);
}

/* Lead one batch until it commits or fails for good.  Returns the list of
 * jobs run (their rc filled in) and its length. */
static struct job *lead_batch(struct store *s, size_t *size)
{
	struct pg *q = pg_of(s);
	struct job *batch, *tail;
	int lost = 0, retried = 0;

	struct group g = {0};

	pthread_mutex_lock(&q->qlock);
	batch = take_queue(q, size, &tail);
	pthread_mutex_unlock(&q->qlock);

	q->solo = false;
	for (;;) {
		struct err e = {0};
		bool unknown = false;
		int rc = run_batch(s, &batch, &tail, size, &g, &unknown, &e);
		if (rc == ERR_OK) {
			if (q->locked && q->next_position > q->begin_position)
				publish_head(q, q->next_position);
			break;
		}
		if (q->wfail != WF_LOST)
			PQclear(PQexec(q->w, "ROLLBACK"));
		if (q->wfail == WF_JOB && q->group_failed && !q->solo) {
			q->solo = true; /* find out whose data the server refused */
			continue;
		}
		if (q->wfail == WF_JOB && q->failed_job) {
			struct job *f = q->failed_job;
			if (f->evs && f->rc == ERR_CONFLICT && !f->dup_retry)
				f->dup_retry = f->rerun = true; /* look for its ids again */
			else
				f->finished = true; /* run the others again without it */
			continue;
		}
		if (q->wfail == WF_RETRY && retried++ < PG_RETRIES)
			continue;
		if (q->wfail == WF_LOST && lost++ < 2) {
			struct err re = {0};
			log_warn("%s; reconnecting", err_msg(&e));
			if (revive(s, q->w, &re) == ERR_OK && writer_setup(s, &re) == ERR_OK) {
				/* The commit may have happened: appends look for their
				 * ids first (see job_append). */
				for (struct job *j = batch; j; j = j->next)
					j->rerun = true;
				continue;
			}
			e = re;
		}
		if (unknown)
			err_prefix(&e,
				   "the outcome of the commit is unknown (retrying with the same "
				   "event ids is safe)");
		/* Every job that had not failed on its own fails with the batch. */
		for (struct job *j = batch; j; j = j->next)
			if (!j->finished) {
				j->rc = e.code ? e.code : ERR_IO;
				j->err = e;
			}
		break;
	}
	group_cleanup(&g);
	pthread_mutex_lock(&q->qlock);
	q->batches++;
	q->batched_jobs += *size;
	pthread_mutex_unlock(&q->qlock);
	return batch;
}

/* Queue a job and return when it has been committed (or has failed); one
 * thread at a time leads (see store_sqlite.c, which works the same way). */
static int submit(struct store *s, struct job *j, struct err *e)
{
	struct pg *q = pg_of(s);

	if (s->opt.read_only)
		return err_set(e, ERR_READONLY, "%s is open read-only", s->url);
	j->done = j->lead = j->finished = false;
	j->next = NULL;
	sem_init(&j->wake, 0, 0);
	pthread_mutex_lock(&q->qlock);
	if (q->qtail)
		q->qtail->next = j;
	else
		q->qhead = j;
	q->qtail = j;
	q->qlen++;
	if (!q->leader) {
		q->leader = true;
		j->lead = true;
	}
	bool leading = j->lead;
	pthread_mutex_unlock(&q->qlock);
	if (!leading)
		while (sem_wait(&j->wake) != 0 && errno == EINTR)
			;
	if (j->done) {
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

/* ---- writing: appends ---------------------------------------------------------------------- */

static const char *expected_text(int64_t expected, char *buf, size_t size)
{
	if (expected == STORE_EXPECT_NO_STREAM)
		return "no stream";
	if (expected == STORE_EXPECT_EXISTS)
		return "an existing stream";
	snprintf(buf, size, "version %lld", (long long)expected);
	return buf;
}

static bool feeds(const struct store_projection *p, const char *stream)
{
	return strncmp(stream, p->stream_prefix, strlen(p->stream_prefix)) == 0;
}

/* The ids, types, data and metadata of an append as array literals. */
struct event_arrays {
	struct buf ids, types, data, meta;
};

static int event_arrays_make(struct job *j, struct event_arrays *a, struct err *e)
{
	int rc;
	arr_init(&a->ids);
	arr_init(&a->types);
	arr_init(&a->data);
	arr_init(&a->meta);
	for (size_t i = 0; i < j->n; i++) {
		arr_add(&a->ids, j->evs[i].event_id);
		arr_add(&a->types, j->evs[i].type);
		arr_add(&a->data, j->data_text[i]);
		arr_add(&a->meta, j->meta_text[i]);
	}
	if ((rc = arr_done(&a->ids, "append", e)) || (rc = arr_done(&a->types, "append", e)) ||
	    (rc = arr_done(&a->data, "append", e)) || (rc = arr_done(&a->meta, "append", e)))
		return rc;
	return ERR_OK;
}

static void event_arrays_cleanup(struct event_arrays *a)
{
	buf_cleanup(&a->ids);
	buf_cleanup(&a->types);
	buf_cleanup(&a->data);
	buf_cleanup(&a->meta);
}

/* Read the stream's version and look up the ids that may already be stored
 * (every id when the job runs again after a lost connection).  *dup: a
 * retried append, result filled in.  Ids stored in part, or elsewhere: a
 * conflict.
 *
 * With `direct` (no projection to fold in C) the same statement also writes
 * the events when no id is stored and the expected version holds, and
 * *written says so: one round trip for the whole append. */
#define CHECK_SQL                                                                                  \
	"SELECT 0, NULL, 0::bigint, NULL, version, 0::bigint FROM streams WHERE stream = $1"       \
	" UNION ALL SELECT 1, event_id::text, position, stream, version, recorded_at"              \
	" FROM events WHERE event_id = ANY($2::uuid[])"
#define CHECK_AND_WRITE_SQL                                                                        \
	"WITH cur AS (SELECT coalesce((SELECT version FROM streams WHERE stream = $1), 0) AS v),"  \
	" dups AS (SELECT event_id, position, stream, version, recorded_at FROM events"            \
	" WHERE event_id = ANY($2::uuid[])),"                                                      \
	" ok AS (SELECT v FROM cur WHERE NOT EXISTS (SELECT 1 FROM dups) AND ($3::bigint = -1"     \
	" OR ($3::bigint = -2 AND v > 0) OR ($3::bigint >= 0 AND v = $3::bigint))),"               \
	" s AS (INSERT INTO streams(stream, version) SELECT $1, v + $4::bigint FROM ok"            \
	" ON CONFLICT (stream) DO UPDATE SET version = excluded.version RETURNING version),"       \
	" ins AS (INSERT INTO events(position, event_id, stream, version, type, data, metadata,"   \
	" recorded_at) SELECT $5::bigint + u.o, u.id, $1, ok.v + u.o, u.t, u.d::json, u.m::json,"  \
	" $6::bigint FROM ok, unnest($7::uuid[], $8::text[], $9::text[], $10::text[])"             \
	" WITH ORDINALITY AS u(id, t, d, m, o))"                                                   \
	" SELECT 0, NULL, 0::bigint, NULL, (SELECT v FROM cur), (SELECT count(*) FROM s)"          \
	" UNION ALL SELECT 1, event_id::text, position, stream, version, recorded_at FROM dups"

static int append_check(struct store *s, struct job *j, bool direct, int64_t *version, bool *dup,
			bool *written, struct err *e)
{
	struct pg *q = pg_of(s);
	struct buf ids;
	struct event_arrays a = {0};
	PGresult *r = NULL;
	size_t found = 0, given = 0;
	int64_t *pos = xcalloc(j->n, sizeof *pos), *ver = xcalloc(j->n, sizeof *ver);
	bool *hit = xcalloc(j->n, sizeof *hit), same = true, own = true;
	int64_t last_rec = 0;
	char exp_s[24], n_s[24], base_s[24], rec_s[24];
	int rc;

	*dup = *written = false;
	*version = 0;
	arr_init(&ids);
	for (size_t i = 0; i < j->n; i++)
		if (j->rerun || j->id_given[i]) {
			arr_add(&ids, j->evs[i].event_id);
			given++;
		}
	if ((rc = arr_done(&ids, "append", e)) || (direct && (rc = event_arrays_make(j, &a, e))))
		goto out;
	fmt_i64(exp_s, sizeof exp_s, j->expected);
	fmt_i64(n_s, sizeof n_s, (int64_t)j->n);
	fmt_i64(base_s, sizeof base_s, q->next_position);
	fmt_i64(rec_s, sizeof rec_s, j->rec_us);
	const char *vals[] = {j->stream,        buf_str(&ids),   exp_s,           n_s,
			      base_s,           rec_s,           buf_str(&a.ids), buf_str(&a.types),
			      buf_str(&a.data), buf_str(&a.meta)};
	if ((rc = wexecp(s, direct ? CHECK_AND_WRITE_SQL : CHECK_SQL, direct ? 10 : 2, vals, &r,
			 direct ? "cannot append events" : "cannot look up event ids", e)))
		goto out;
	for (int row = 0; row < PQntuples(r); row++) {
		if (geti(r, row, 0) == 0) {
			*version = geti(r, row, 4);
			*written = direct && geti(r, row, 5) > 0;
			continue;
		}
		const char *id = PQgetvalue(r, row, 1);
		for (size_t i = 0; i < j->n; i++) {
			if (hit[i] || strcasecmp(j->evs[i].event_id, id) != 0)
				continue;
			hit[i] = true;
			pos[i] = geti(r, row, 2);
			ver[i] = geti(r, row, 4);
			if (strcmp(PQgetvalue(r, row, 3), j->stream) != 0)
				same = false;
			if (geti(r, row, 5) != j->rec_us)
				own = false;
			if (i == j->n - 1)
				last_rec = geti(r, row, 5);
			found++;
			break;
		}
	}
	if (*written) {
		j->res->first_position = q->next_position + 1;
		j->res->last_position = q->next_position + (int64_t)j->n;
		j->res->version = *version + (int64_t)j->n;
		j->res->recorded_at_us = j->rec_us;
		j->res->duplicate = false;
		q->next_position += (int64_t)j->n;
		goto out;
	}
	if (found == 0)
		goto out;
	for (size_t i = 1; i < j->n; i++)
		if (hit[i] && hit[i - 1] && ver[i] != ver[i - 1] + 1)
			same = false;
	if (found == j->n && given == j->n && same) {
		*dup = true;
		j->res->first_position = pos[0];
		j->res->last_position = pos[j->n - 1];
		j->res->version = ver[j->n - 1];
		j->res->recorded_at_us = last_rec;
		/* Our own commit, whose outcome we did not learn, is no duplicate. */
		j->res->duplicate = !(j->rerun && own);
		goto out;
	}
	rc = err_set(e, ERR_CONFLICT,
		     "append to stream '%s': %zu of its %zu event ids are already stored %s; retry "
		     "with exactly the original events or with new ids",
		     j->stream, found, j->n,
		     same ? "(a partial retry)" : "in another stream or order");
out:
	PQclear(r);
	buf_cleanup(&ids);
	event_arrays_cleanup(&a);
	free(pos);
	free(ver);
	free(hit);
	return rc;
}

/* What an append does to one projection, worked out before writing. */
struct proj_change {
	const struct store_projection *p;
	json_t *doc;  /* after the append (NULL: none) */
	bool existed; /* before it */
	bool created; /* created (again) by the append: created_position changes */
	int64_t created_position;
	/* the full-text index: items to delete, items to (re)write */
	size_t ndel, nput;
	struct buf del, items, bodies, folded;
};

static void proj_change_cleanup(struct proj_change *c)
{
	json_decref(c->doc);
	buf_cleanup(&c->del);
	buf_cleanup(&c->items);
	buf_cleanup(&c->bodies);
	buf_cleanup(&c->folded);
}

/* Compare the index rows of document key with p->index(doc) and note what
 * to change: unchanged items stay, others are rewritten, added or removed. */
static int plan_reindex(struct store *s, const struct store_projection *p, const char *key,
			struct proj_change *c, struct err *e)
{
	json_t *want = c->doc ? p->index(c->doc, p->ud) : NULL, *v;
	const char *vals[] = {p->name, key}, *item;
	PGresult *r = NULL;
	int rc;

	arr_init(&c->del);
	arr_init(&c->items);
	arr_init(&c->bodies);
	arr_init(&c->folded);
	if ((rc = wexecp(s, "SELECT item, body FROM search_items WHERE proj = $1 AND key = $2", 2,
			 vals, &r, "cannot read the full-text index", e)))
		goto out;
	json_t *done = json_object();
	for (int i = 0; i < PQntuples(r); i++) {
		const char *it = PQgetvalue(r, i, 0);
		const char *text = json_string_value(json_object_get(want, it));
		if (!text) {
			arr_add(&c->del, it);
			c->ndel++;
		} else if (strcmp(text, PQgetvalue(r, i, 1)) == 0) {
			json_object_set_new(done, it, json_true());
		}
	}
	json_object_foreach(want, item, v) {
		if (!json_is_string(v) || json_object_get(done, item))
			continue;
		if (!utf8_valid(item))
			continue;
		char *f = fold_text(json_string_value(v));
		arr_add(&c->items, item);
		arr_add(&c->bodies, json_string_value(v));
		arr_add(&c->folded, f);
		free(f);
		c->nput++;
	}
	json_decref(done);
	if ((rc = arr_done(&c->del, "the full-text index", e)) ||
	    (rc = arr_done(&c->items, "the full-text index", e)) ||
	    (rc = arr_done(&c->bodies, "the full-text index", e)) ||
	    (rc = arr_done(&c->folded, "the full-text index", e)))
		goto out;
out:
	PQclear(r);
	json_decref(want);
	return rc;
}

/* Fold the job's events into projection p's document of the stream, in C;
 * a refusal fails the job before anything is written. */
static int plan_projection(struct store *s, struct job *j, int64_t version, struct proj_change *c,
			   struct err *e)
{
	struct pg *q = pg_of(s);
	const struct store_projection *p = c->p;
	const char *vals[] = {p->name, j->stream};
	PGresult *r = NULL;
	int rc;

	if ((rc = wexecp(s, "SELECT doc::text FROM projections WHERE name = $1 AND key = $2", 2,
			 vals, &r, "cannot read a projection", e)))
		return rc;
	if (PQntuples(r) > 0 &&
	    (rc = parse_doc(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0), &c->doc, e))) {
		PQclear(r);
		return rc;
	}
	PQclear(r);
	c->existed = c->doc != NULL;
	for (size_t i = 0; i < j->n; i++) {
		struct store_new_event *ne = &j->evs[i];
		struct store_event ev = {.position = q->next_position + (int64_t)i + 1,
					 .version = version + (int64_t)i + 1,
					 .recorded_at_us = j->rec_us,
					 .stream = (char *)j->stream,
					 .type = (char *)ne->type,
					 .data = (json_t *)ne->data,
					 .metadata = (json_t *)ne->metadata};
		struct err local = {0};
		memcpy(ev.event_id, ne->event_id, sizeof ev.event_id);
		json_t *next = p->apply(c->doc, &ev, p->ud, &local);
		if (!next && local.code) {
			err_prefix(&local, "projection %s refused event %s", p->name, ne->type);
			if (e)
				*e = local;
			return local.code;
		}
		if (next && !c->doc) {
			c->created = true;
			c->created_position = ev.position;
		}
		json_decref(c->doc);
		c->doc = next;
	}
	if (p->index)
		return plan_reindex(s, p, j->stream, c, e);
	return ERR_OK;
}

/* The upsert that counts a change of projection $1 in its stamp
 * (STORE_PROJECTION_STAMP), in the transaction of the change; $2 is now. */
#define PROJ_STAMP_SQL                                                                             \
	"INSERT INTO checkpoints(name, position, updated_at) VALUES ('" STORE_PROJECTION_STAMP   \
	"' || $1, 1, $2) ON CONFLICT (name) DO UPDATE SET position = checkpoints.position + 1,"   \
	" updated_at = excluded.updated_at"

static int write_projection(struct store *s, struct job *j, struct proj_change *c, struct err *e)
{
	struct pg *q = pg_of(s);
	const struct store_projection *p = c->p;
	char pos_s[24], created_s[24];
	int rc = ERR_OK;

	fmt_i64(pos_s, sizeof pos_s, q->next_position + (int64_t)j->n);
	fmt_i64(created_s, sizeof created_s, c->created_position);
	if (c->doc) {
		char *text = json_to_text(c->doc);
		const char *vals[] = {p->name, j->stream, text,
				      pos_s,   created_s, c->created ? "t" : "f"};
		rc = wexecp(
			s,
			"INSERT INTO projections(name, key, doc, position, created_position)"
			" VALUES ($1, $2, $3::json, $4, $5) ON CONFLICT (name, key) DO UPDATE SET"
			" doc = excluded.doc, position = excluded.position, created_position ="
			" CASE WHEN $6::boolean THEN excluded.created_position"
			" ELSE projections.created_position END",
			6, vals, NULL, "cannot update a projection", e);
		free(text);
	} else if (c->existed) {
		const char *vals[] = {p->name, j->stream};
		rc = wexecp(s, "DELETE FROM projections WHERE name = $1 AND key = $2", 2, vals,
			    NULL, "cannot update a projection", e);
	}
	if (!rc) {
		char now_s[24];
		fmt_i64(now_s, sizeof now_s, now_us(s));
		const char *vals[] = {p->name, now_s};
		rc = wexecp(s, PROJ_STAMP_SQL, 2, vals, NULL, "cannot update a projection", e);
	}
	if (rc || !p->index || (c->ndel == 0 && c->nput == 0))
		return rc;
	const char *vals[] = {p->name,
			      j->stream,
			      buf_str(&c->del),
			      buf_str(&c->items),
			      buf_str(&c->bodies),
			      buf_str(&c->folded)};
	return wexecp(
		s,
		"WITH d AS (DELETE FROM search_items WHERE proj = $1 AND key = $2"
		" AND item = ANY($3::text[])) INSERT INTO search_items(proj, key, item, body, tsv)"
		" SELECT $1, $2, u.i, u.b, to_tsvector('simple', u.f)"
		" FROM unnest($4::text[], $5::text[], $6::text[]) AS u(i, b, f)"
		" ON CONFLICT (proj, key, item) DO UPDATE SET body = excluded.body, tsv = "
		"excluded.tsv",
		6, vals, NULL, "cannot update the full-text index", e);
}

static int job_append(struct store *s, struct job *j, struct err *e)
{
	struct pg *q = pg_of(s);
	struct proj_change *changes = NULL;
	struct event_arrays a;
	size_t nch = 0;
	int64_t version = 0;
	bool dup = false, feeding = false;
	int rc;

	/* (Plain appends do not come here: the batch writes them as a group.) */
	for (size_t i = 0; i < s->opt.nprojections && !feeding; i++)
		feeding = feeds(&s->opt.projections[i], j->stream);
	if ((rc = take_lock(s, e)))
		return rc;
	bool written;
	if ((rc = append_check(s, j, !feeding, &version, &dup, &written, e)) || dup || written)
		return rc;
	bool ok = j->expected == STORE_EXPECT_ANY ||
		  (j->expected == STORE_EXPECT_EXISTS && version > 0) ||
		  (j->expected >= 0 && j->expected == version);
	if (!ok) {
		char buf[32];
		if (version == 0)
			return err_set(
				e, ERR_CONFLICT,
				"append to stream '%s': expected %s, but the stream does not exist",
				j->stream, expected_text(j->expected, buf, sizeof buf));
		return err_set(
			e, ERR_CONFLICT,
			"append to stream '%s': expected %s, but the stream is at version %lld",
			j->stream, expected_text(j->expected, buf, sizeof buf), (long long)version);
	}
	if (feeding) {
		changes = xcalloc(s->opt.nprojections, sizeof *changes);
		for (size_t i = 0; i < s->opt.nprojections && !rc; i++) {
			if (!feeds(&s->opt.projections[i], j->stream))
				continue;
			changes[nch].p = &s->opt.projections[i];
			rc = plan_projection(s, j, version, &changes[nch++], e);
		}
		if (rc)
			goto out;
	}

	/* Checked: now write, the stream's version and the events at once. */
	if ((rc = event_arrays_make(j, &a, e)))
		goto arrays;
	char newv_s[24], base_s[24], oldv_s[24], rec_s[24];
	fmt_i64(newv_s, sizeof newv_s, version + (int64_t)j->n);
	fmt_i64(base_s, sizeof base_s, q->next_position);
	fmt_i64(oldv_s, sizeof oldv_s, version);
	fmt_i64(rec_s, sizeof rec_s, j->rec_us);
	const char *vals[] = {j->stream,
			      newv_s,
			      base_s,
			      oldv_s,
			      rec_s,
			      buf_str(&a.ids),
			      buf_str(&a.types),
			      buf_str(&a.data),
			      buf_str(&a.meta)};
	rc = wexecp(
		s,
		"WITH s AS (INSERT INTO streams(stream, version) VALUES ($1, $2::bigint)"
		" ON CONFLICT (stream) DO UPDATE SET version = excluded.version)"
		" INSERT INTO events(position, event_id, stream, version, type, data, metadata,"
		" recorded_at) SELECT $3::bigint + u.o, u.id, $1, $4::bigint + u.o, u.t, u.d::json,"
		" u.m::json, $5::bigint FROM unnest($6::uuid[], $7::text[], $8::text[], $9::text[])"
		" WITH ORDINALITY AS u(id, t, d, m, o)",
		9, vals, NULL, "cannot append an event", e);
	for (size_t i = 0; i < nch && !rc; i++)
		rc = write_projection(s, j, &changes[i], e);
	if (!rc) {
		j->res->first_position = q->next_position + 1;
		j->res->last_position = q->next_position + (int64_t)j->n;
		j->res->version = version + (int64_t)j->n;
		j->res->recorded_at_us = j->rec_us;
		j->res->duplicate = false;
		q->next_position += (int64_t)j->n;
	}
arrays:
	event_arrays_cleanup(&a);
out:
	for (size_t i = 0; i < nch; i++)
		proj_change_cleanup(&changes[i]);
	free(changes);
	return rc;
}

/* ---- writing: checkpoints, soft state, leases ------------------------------------------------ */

static int job_checkpoint(struct store *s, struct job *j, struct err *e)
{
	char pos_s[24], now_s[24];
	fmt_i64(pos_s, sizeof pos_s, j->position);
	fmt_i64(now_s, sizeof now_s, now_us(s));
	const char *vals[] = {j->name, pos_s, now_s};
	return wexecp(s,
		      "INSERT INTO checkpoints(name, position, updated_at) VALUES ($1, $2, $3)"
		      " ON CONFLICT (name) DO UPDATE SET position = excluded.position,"
		      " updated_at = excluded.updated_at",
		      3, vals, NULL, "cannot save a checkpoint", e);
}

/* Write a batch of soft-state documents (NULL doc: delete); when a key comes
 * more than once, the last one wins. */
static int job_soft_put(struct store *s, struct job *j, struct err *e)
{
	struct buf del, keys, docs;
	json_t *last = json_object();
	char now_s[24];
	int rc;

	for (size_t i = 0; i < j->n; i++)
		json_object_set_new(last, j->soft[i].key, json_integer((json_int_t)i));
	arr_init(&del);
	arr_init(&keys);
	arr_init(&docs);
	for (size_t i = 0; i < j->n; i++) {
		if ((size_t)json_integer_value(json_object_get(last, j->soft[i].key)) != i)
			continue;
		if (j->soft_text[i]) {
			arr_add(&keys, j->soft[i].key);
			arr_add(&docs, j->soft_text[i]);
		} else {
			arr_add(&del, j->soft[i].key);
		}
	}
	json_decref(last);
	fmt_i64(now_s, sizeof now_s, now_us(s));
	if (!(rc = arr_done(&del, "soft state", e)) && !(rc = arr_done(&keys, "soft state", e)) &&
	    !(rc = arr_done(&docs, "soft state", e))) {
		const char *vals[] = {buf_str(&del), buf_str(&keys), buf_str(&docs), now_s};
		rc = wexecp(s,
			    "WITH d AS (DELETE FROM soft_state WHERE key = ANY($1::text[]))"
			    " INSERT INTO soft_state(key, doc, updated_at) SELECT u.k, u.d::json, "
			    "$4::bigint"
			    " FROM unnest($2::text[], $3::text[]) AS u(k, d) ON CONFLICT (key) DO "
			    "UPDATE"
			    " SET doc = excluded.doc, updated_at = excluded.updated_at",
			    4, vals, NULL, "cannot save soft state", e);
	}
	buf_cleanup(&del);
	buf_cleanup(&keys);
	buf_cleanup(&docs);
	return rc;
}

/* Take, renew or release one lease. */
static int job_lease(struct store *s, struct job *j, struct err *e)
{
	struct store_lease *l = j->lease;
	int64_t now = now_us(s);
	char exp_s[24], now_s[24];
	PGresult *r = NULL;
	int rc;

	memset(l, 0, sizeof *l);
	if (j->lease_op == STORE_LEASE_RELEASE) {
		const char *vals[] = {j->name, j->owner};
		return wexec(s, "DELETE FROM leases WHERE name = $1 AND owner = $2", 2, vals, NULL,
			     "cannot release a lease", e);
	}
	fmt_i64(exp_s, sizeof exp_s, now + j->ttl_us);
	fmt_i64(now_s, sizeof now_s, now);
	const char *vals[] = {j->name, j->owner, exp_s, now_s};
	/* Insert, or take over when expired or ours (waiting for a concurrent
	 * holder of the row); then read who holds it. */
	if ((rc = wexec(s,
			"INSERT INTO leases(name, owner, expires_at, acquired_at) VALUES ($1, $2, "
			"$3, $4)"
			" ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
			" expires_at = excluded.expires_at, acquired_at = CASE WHEN leases.owner ="
			" excluded.owner THEN leases.acquired_at ELSE excluded.acquired_at END"
			" WHERE leases.owner = excluded.owner OR leases.expires_at < $4",
			4, vals, NULL, "cannot take a lease", e)))
		return rc;
	const char *rvals[] = {j->name, now_s};
	if ((rc = wexec(s,
			"SELECT owner, expires_at FROM leases WHERE name = $1 AND expires_at >= $2",
			2, rvals, &r, "cannot read a lease", e)))
		return rc;
	if (PQntuples(r) > 0) {
		snprintf(l->holder, sizeof l->holder, "%s", PQgetvalue(r, 0, 0));
		l->expires_at_us = geti(r, 0, 1);
		l->held = strcmp(l->holder, j->owner) == 0;
	}
	PQclear(r);
	return ERR_OK;
}

/* Share a set of leases (see store_lease_claim).  Rows are locked with
 * FOR UPDATE SKIP LOCKED: a row another node is taking or giving up right
 * now is skipped, not waited for, so nodes never wait on each other (and
 * never deadlock). */
static int job_lease_claim(struct store *s, struct job *j, struct err *e)
{
	enum { ABSENT, TAKEN, MINE, EXPIRED }; /* TAKEN: exists, not ours to take now */
	int64_t now = now_us(s);
	char exp_s[24], now_s[24];
	unsigned char *state = xcalloc(j->n, 1);
	size_t *first = xcalloc(j->n, sizeof *first), kept = 0;
	json_t *index = json_object();
	struct buf all, keep, drop;
	PGresult *r = NULL;
	int rc;

	fmt_i64(exp_s, sizeof exp_s, now + j->ttl_us);
	fmt_i64(now_s, sizeof now_s, now);
	arr_init(&all);
	arr_init(&keep);
	arr_init(&drop);
	for (size_t i = 0; i < j->n; i++) {
		json_t *seen = json_object_get(index, j->names[i]);
		j->held[i] = false;
		first[i] = seen ? (size_t)json_integer_value(seen) : i;
		if (!seen) {
			json_object_set_new(index, j->names[i], json_integer((json_int_t)i));
			arr_add(&all, j->names[i]);
		}
	}
	if ((rc = arr_done(&all, "leases", e)))
		goto out;
	const char *v1[] = {buf_str(&all)};
	if ((rc = wexec(s, "SELECT name FROM leases WHERE name = ANY($1::text[])", 1, v1, &r,
			"cannot read leases", e)))
		goto out;
	for (int k = 0; k < PQntuples(r); k++) {
		json_t *at = json_object_get(index, PQgetvalue(r, k, 0));
		if (at)
			state[json_integer_value(at)] = TAKEN;
	}
	PQclear(r);
	r = NULL;
	const char *v2[] = {buf_str(&all), j->owner, now_s};
	if ((rc = wexec(s,
			"SELECT name, owner FROM leases WHERE name = ANY($1::text[])"
			" AND (owner = $2 OR expires_at < $3) FOR UPDATE SKIP LOCKED",
			3, v2, &r, "cannot lock leases", e)))
		goto out;
	for (int k = 0; k < PQntuples(r); k++) {
		json_t *at = json_object_get(index, PQgetvalue(r, k, 0));
		if (at)
			state[json_integer_value(at)] =
				strcmp(PQgetvalue(r, k, 1), j->owner) == 0 ? MINE : EXPIRED;
	}
	PQclear(r);
	r = NULL;

	/* Ours: keep the first max, give up the rest. */
	for (size_t i = 0; i < j->n; i++) {
		if (first[i] != i || state[i] != MINE)
			continue;
		if (kept < j->max) {
			arr_add(&keep, j->names[i]);
			j->held[i] = true;
			kept++;
		} else {
			arr_add(&drop, j->names[i]);
		}
	}
	if ((rc = arr_done(&keep, "leases", e)) || (rc = arr_done(&drop, "leases", e)))
		goto out;
	if (drop.len > 2) {
		const char *v[] = {buf_str(&drop), j->owner};
		if ((rc = wexec(s, "DELETE FROM leases WHERE name = ANY($1::text[]) AND owner = $2",
				2, v, NULL, "cannot give up leases", e)))
			goto out;
	}
	/* Then free or expired ones, in order, until max: expired rows are
	 * locked (ours to update), free names are inserted unless another node
	 * inserted them first; then look further. */
	for (size_t from = 0; kept < j->max && from < j->n;) {
		struct buf take, add;
		size_t want = j->max - kept, picked = 0;
		arr_init(&take);
		arr_init(&add);
		for (; from < j->n && picked < want; from++) {
			if (first[from] != from || j->held[from])
				continue;
			if (state[from] == EXPIRED) {
				arr_add(&take, j->names[from]);
				j->held[from] = true;
				kept++;
				picked++;
			} else if (state[from] == ABSENT) {
				arr_add(&add, j->names[from]);
				picked++;
			}
		}
		if (!(rc = arr_done(&take, "leases", e)) && !(rc = arr_done(&add, "leases", e))) {
			/* renewals ride along with the first takeover */
			if (take.len > 2 || keep.len > 2) {
				const char *v[] = {buf_str(&take), j->owner, exp_s, now_s,
						   buf_str(&keep)};
				rc = wexec(
					s,
					"UPDATE leases SET owner = $2, expires_at = $3, "
					"acquired_at ="
					" CASE WHEN owner = $2 THEN acquired_at ELSE $4 END"
					" WHERE name = ANY($1::text[]) OR name = ANY($5::text[])",
					5, v, NULL, "cannot take leases", e);
				buf_reset(&keep);
				buf_puts(&keep, "{}");
			}
			if (!rc && add.len > 2) {
				const char *v[] = {buf_str(&add), j->owner, exp_s, now_s};
				rc = wexec(
					s,
					"INSERT INTO leases(name, owner, expires_at, acquired_at)"
					" SELECT u, $2, $3, $4 FROM unnest($1::text[]) AS u"
					" ON CONFLICT (name) DO NOTHING RETURNING name",
					4, v, &r, "cannot take leases", e);
				for (int k = 0; !rc && k < PQntuples(r); k++) {
					json_t *at = json_object_get(index, PQgetvalue(r, k, 0));
					if (at) {
						j->held[json_integer_value(at)] = true;
						kept++;
					}
				}
				PQclear(r);
				r = NULL;
			}
		}
		buf_cleanup(&take);
		buf_cleanup(&add);
		if (rc)
			goto out;
	}
	if (keep.len > 2) { /* nothing was taken: renew alone */
		const char *v[] = {"{}", j->owner, exp_s, now_s, buf_str(&keep)};
		rc = wexec(s,
			   "UPDATE leases SET owner = $2, expires_at = $3, acquired_at ="
			   " CASE WHEN owner = $2 THEN acquired_at ELSE $4 END"
			   " WHERE name = ANY($1::text[]) OR name = ANY($5::text[])",
			   5, v, NULL, "cannot renew leases", e);
	}
	for (size_t i = 0; i < j->n; i++)
		j->held[i] = j->held[first[i]];
out:
	if (rc)
		for (size_t i = 0; i < j->n; i++)
			j->held[i] = false;
	PQclear(r);
	buf_cleanup(&all);
	buf_cleanup(&keep);
	buf_cleanup(&drop);
	json_decref(index);
	free(state);
	free(first);
	return rc;
}

/* ---- projections: rebuild and compare ----------------------------------------------------------
 */

/* Where a rebuild runs its statements: the writer inside the batch (which
 * holds the log_head lock, so no append slips in between reading the log
 * and replacing the documents), or a reader inside a read-only snapshot. */
struct runner {
	struct store *s;
	PGconn *c; /* NULL: the writer */
};

static int run_stmt(struct runner *x, const char *sql, int n, const char *const *vals,
		    PGresult **out, const char *doing, struct err *e)
{
	if (!x->c)
		return wexec(x->s, sql, n, vals, out, doing, e);
	PGresult *r = PQexecParams(x->c, sql, n, NULL, vals, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		if (out)
			*out = r;
		else
			PQclear(r);
		return ERR_OK;
	}
	int rc = pg_fail(x->s, x->c, r, doing, e);
	PQclear(r);
	return rc;
}

/* Insert rebuilt documents (and their index items) in chunks. */
static int rewrite_projection(struct runner *x, const struct store_projection *p, json_t *docs,
			      json_t *first, json_t *last, struct err *e)
{
	const char *key, *vals1[] = {p->name};
	json_t *doc;
	struct buf keys, texts, lasts, firsts, ikeys, items, bodies, folded;
	size_t rows = 0, irows = 0, total = json_object_size(docs), done = 0;
	int rc;

	char now_s[24];
	fmt_i64(now_s, sizeof now_s, now_us(x->s));
	const char *stamp_vals[] = {p->name, now_s};
	if ((rc = run_stmt(x, "DELETE FROM projections WHERE name = $1", 1, vals1, NULL,
			   "cannot rewrite a projection", e)) ||
	    (rc = run_stmt(x, PROJ_STAMP_SQL, 2, stamp_vals, NULL, "cannot rewrite a projection",
			   e)) ||
	    (rc = run_stmt(x, "DELETE FROM search_items WHERE proj = $1", 1, vals1, NULL,
			   "cannot rewrite the full-text index", e)))
		return rc;
	arr_init(&keys);
	arr_init(&texts);
	arr_init(&lasts);
	arr_init(&firsts);
	arr_init(&ikeys);
	arr_init(&items);
	arr_init(&bodies);
	arr_init(&folded);
	json_object_foreach(docs, key, doc) {
		char *text = json_to_text(doc);
		arr_add(&keys, key);
		arr_add(&texts, text);
		arr_add_i64(&lasts, json_integer_value(json_object_get(last, key)));
		arr_add_i64(&firsts, json_integer_value(json_object_get(first, key)));
		free(text);
		rows++;
		done++;
		json_t *want = p->index ? p->index(doc, p->ud) : NULL, *v;
		const char *item;
		json_object_foreach(want, item, v) {
			if (!json_is_string(v))
				continue;
			char *f = fold_text(json_string_value(v));
			arr_add(&ikeys, key);
			arr_add(&items, item);
			arr_add(&bodies, json_string_value(v));
			arr_add(&folded, f);
			free(f);
			irows++;
		}
		json_decref(want);
		bool flush = done == total || rows >= PG_CHUNK_ROWS || irows >= PG_CHUNK_ROWS ||
			     texts.len > (8u << 20) || bodies.len > (8u << 20);
		if (!flush)
			continue;
		if ((rc = arr_done(&keys, "rebuild", e)) || (rc = arr_done(&texts, "rebuild", e)) ||
		    (rc = arr_done(&lasts, "rebuild", e)) ||
		    (rc = arr_done(&firsts, "rebuild", e)) ||
		    (rc = arr_done(&ikeys, "rebuild", e)) ||
		    (rc = arr_done(&items, "rebuild", e)) ||
		    (rc = arr_done(&bodies, "rebuild", e)) ||
		    (rc = arr_done(&folded, "rebuild", e)))
			break;
		const char *v2[] = {p->name, buf_str(&keys), buf_str(&texts), buf_str(&lasts),
				    buf_str(&firsts)};
		if ((rc = run_stmt(
			     x,
			     "INSERT INTO projections(name, key, doc, position, created_position)"
			     " SELECT $1, u.k, u.d::json, u.p, u.c FROM unnest($2::text[],"
			     " $3::text[], $4::bigint[], $5::bigint[]) AS u(k, d, p, c)",
			     5, v2, NULL, "cannot rewrite a projection", e)))
			break;
		const char *v3[] = {p->name, buf_str(&ikeys), buf_str(&items), buf_str(&bodies),
				    buf_str(&folded)};
		if (irows &&
		    (rc = run_stmt(x,
				   "INSERT INTO search_items(proj, key, item, body, tsv)"
				   " SELECT $1, u.k, u.i, u.b, to_tsvector('simple', u.f)"
				   " FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])"
				   " AS u(k, i, b, f)",
				   5, v3, NULL, "cannot rewrite the full-text index", e)))
			break;
		struct buf *all[] = {&keys,  &texts, &lasts,  &firsts,
				     &ikeys, &items, &bodies, &folded};
		for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
			buf_reset(all[i]);
			buf_puts(all[i], "{");
		}
		rows = irows = 0;
	}
	struct buf *all[] = {&keys, &texts, &lasts, &firsts, &ikeys, &items, &bodies, &folded};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		buf_cleanup(all[i]);
	return rc;
}

/* Fold the log through projection p, compare with the stored documents,
 * and (write) replace them. */
static int rebuild(struct runner *x, const struct store_projection *p, bool write,
		   struct store_replay_report *report, struct err *e)
{
	json_t *docs = json_object(), *first = json_object(), *last = json_object();
	json_t *stored = NULL;
	char *pend = prefix_end(p->stream_prefix);
	const char *vals[] = {p->stream_prefix, pend};
	PGresult *r = NULL;
	bool open = false;
	int rc;

	memset(report, 0, sizeof *report);
	if ((rc = run_stmt(
		     x,
		     pend ? "DECLARE ambient_fold NO SCROLL CURSOR FOR SELECT " EVENT_COLUMNS
			    " FROM events WHERE stream >= $1 AND stream < $2 ORDER BY position"
			  : "DECLARE ambient_fold NO SCROLL CURSOR FOR SELECT " EVENT_COLUMNS
			    " FROM events WHERE stream >= $1 ORDER BY position",
		     pend ? 2 : 1, vals, NULL, "cannot read the log", e)))
		goto out;
	open = true;
	for (;;) {
		if ((rc = run_stmt(x, "FETCH " PG_FETCH_ROWS " FROM ambient_fold", 0, NULL, &r,
				   "cannot read the log", e)))
			goto out;
		int rows = PQntuples(r);
		for (int i = 0; i < rows && !rc; i++) {
			struct store_event ev = {0};
			if ((rc = row_to_event(r, i, &ev, e)) == ERR_OK) {
				bool had = json_object_get(docs, ev.stream) != NULL;
				rc = store_projection_fold(p, docs, &ev, e);
				if (!rc) {
					report->events++;
					if (!json_object_get(docs, ev.stream)) {
						json_object_del(first, ev.stream);
					} else {
						if (!had)
							json_object_set_new(
								first, ev.stream,
								json_integer(ev.position));
						json_object_set_new(last, ev.stream,
								    json_integer(ev.position));
					}
				}
			}
			store_event_cleanup(&ev);
		}
		PQclear(r);
		r = NULL;
		if (rc)
			goto out;
		if (rows == 0)
			break;
	}
	open = false;
	if ((rc = run_stmt(x, "CLOSE ambient_fold", 0, NULL, NULL, "cannot read the log", e)))
		goto out;
	const char *pv[] = {p->name};
	if ((rc = run_stmt(x, PROJ_LIST_SQL, 1, pv, &r, "cannot list a projection", e)))
		goto out;
	rc = rows_to_object(r, &stored, e);
	PQclear(r);
	r = NULL;
	if (rc)
		goto out;
	store_replay_compare(stored, docs, report);
	if (write)
		rc = rewrite_projection(x, p, docs, first, last, e);
out:
	if (open && x->c == NULL && pg_of(x->s)->wfail == WF_NONE)
		run_stmt(x, "CLOSE ambient_fold", 0, NULL, NULL, "cannot read the log", NULL);
	PQclear(r);
	json_decref(docs);
	json_decref(first);
	json_decref(last);
	json_decref(stored);
	free(pend);
	return rc;
}

static int job_rebuild(struct store *s, struct job *j, struct err *e)
{
	struct runner x = {.s = s, .c = NULL};
	int rc = take_lock(s, e);
	return rc ? rc : rebuild(&x, j->proj, true, j->report, e);
}

/* Compare only: in a read-only snapshot on a reader, not blocking anyone. */
static int compare_projection(struct store *s, const struct store_projection *p,
			      struct store_replay_report *report, struct err *e)
{
	PGconn *c = pool_get(s, e);
	int rc = ERR_IO;

	if (!c)
		return e && e->code ? e->code : ERR_IO;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct runner x = {.s = s, .c = c};
		if (PQstatus(c) != CONNECTION_OK && (rc = revive(s, c, e)))
			break;
		rc = run_stmt(&x, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, NULL,
			      "cannot start a read transaction", e);
		if (!rc)
			rc = rebuild(&x, p, false, report, e);
		if (PQstatus(c) == CONNECTION_OK)
			PQclear(PQexec(c, rc ? "ROLLBACK" : "COMMIT"));
		if (!rc || PQstatus(c) == CONNECTION_OK)
			break;
	}
	pool_put(s, c);
	return rc;
}

/* ---- the ops
 * ------------------------------------------------------------------------------------- */

static int pg_append(struct store *s, const char *stream, int64_t expected,
		     struct store_new_event *evs, size_t n, struct store_append_result *res,
		     struct err *e)
{
	struct job j = {.run = job_append,
			.stream = stream,
			.expected = expected,
			.evs = evs,
			.n = n,
			.res = res,
			.needs_lock = true,
			.rec_us = now_us(s)};
	int rc;

	if ((rc = check_utf8("the stream name", stream, e)))
		return rc;
	/* Make ids and JSON here, in the caller's thread, so the leader only
	 * writes; the ids are fixed before anything is sent, so an append whose
	 * commit was in doubt can be run again safely. */
	j.data_text = xcalloc(n, sizeof *j.data_text);
	j.meta_text = xcalloc(n, sizeof *j.meta_text);
	j.id_given = xcalloc(n, sizeof *j.id_given);
	for (size_t i = 0; i < n && !rc; i++) {
		j.id_given[i] = evs[i].event_id[0] != '\0';
		if (!j.id_given[i])
			uuid_v7(s->clock, evs[i].event_id);
		if ((rc = check_utf8("an event type", evs[i].type, e)))
			break;
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

static int pg_checkpoint_set(struct store *s, const char *name, int64_t position, struct err *e)
{
	struct job j = {.run = job_checkpoint, .name = name, .position = position};
	int rc = check_utf8("the checkpoint name", name, e);
	return rc ? rc : submit(s, &j, e);
}

static int pg_proj_rebuild(struct store *s, const struct store_projection *p, bool write,
			   struct store_replay_report *r, struct err *e)
{
	struct job j = {.run = job_rebuild, .proj = p, .report = r, .needs_lock = true};
	if (!write)
		return compare_projection(s, p, r, e);
	return submit(s, &j, e);
}

static int pg_soft_put(struct store *s, const struct store_soft_item *items, size_t n,
		       struct err *e)
{
	struct job j = {.run = job_soft_put, .soft = items, .n = n};
	int rc = ERR_OK;

	for (size_t i = 0; i < n && !rc; i++)
		rc = check_utf8("a soft-state key", items[i].key, e);
	if (rc)
		return rc;
	j.soft_text = xcalloc(n ? n : 1, sizeof *j.soft_text);
	for (size_t i = 0; i < n; i++)
		j.soft_text[i] = items[i].doc ? json_to_text(items[i].doc) : NULL;
	rc = submit(s, &j, e);
	for (size_t i = 0; i < n; i++)
		free(j.soft_text[i]);
	free(j.soft_text);
	return rc;
}

static int pg_lease(struct store *s, const char *name, const char *owner, int64_t ttl_ms,
		    enum store_lease_op op, struct store_lease *out, struct err *e)
{
	struct job j = {.run = job_lease,
			.name = name,
			.owner = owner,
			.ttl_us = ttl_ms * 1000,
			.lease_op = op,
			.lease = out};
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = check_utf8("the lease name", name, e)) ||
	    (rc = check_utf8("the owner", owner, e)))
		return rc;
	if (op == STORE_LEASE_PEEK) {
		char now_s[24];
		PGresult *r = NULL;
		fmt_i64(now_s, sizeof now_s, now_us(s));
		const char *vals[] = {name, now_s};
		if ((rc = rquery(s,
				 "SELECT owner, expires_at FROM leases WHERE name = $1"
				 " AND expires_at >= $2",
				 2, vals, &r, "cannot read a lease", e)))
			return rc;
		if (PQntuples(r) > 0) {
			snprintf(out->holder, sizeof out->holder, "%s", PQgetvalue(r, 0, 0));
			out->expires_at_us = geti(r, 0, 1);
		}
		PQclear(r);
		return ERR_OK;
	}
	return submit(s, &j, e);
}

static int pg_lease_claim(struct store *s, const char *owner, int64_t ttl_ms,
			  const char *const *names, size_t n, size_t max, bool *held, struct err *e)
{
	struct job j = {.run = job_lease_claim,
			.owner = owner,
			.ttl_us = ttl_ms * 1000,
			.names = names,
			.n = n,
			.max = max,
			.held = held};
	int rc = check_utf8("the owner", owner, e);

	for (size_t i = 0; i < n && !rc; i++)
		rc = check_utf8("a lease name", names[i], e);
	return rc ? rc : submit(s, &j, e);
}

const struct store_ops store_postgres_ops = {
	.scheme = "postgres",
	.open = pg_open,
	.close = pg_close,
	.append = pg_append,
	.read_stream = pg_read_stream,
	.read_all = pg_read_all,
	.head = pg_head,
	.stream_version = pg_stream_version,
	.wait = pg_wait,
	.checkpoint_get = pg_checkpoint_get,
	.checkpoint_set = pg_checkpoint_set,
	.proj_get = pg_proj_get,
	.proj_list = pg_proj_list,
	.proj_rebuild = pg_proj_rebuild,
	.proj_search = pg_proj_search,
	.soft_put = pg_soft_put,
	.soft_get = pg_soft_get,
	.soft_list = pg_soft_list,
	.lease = pg_lease,
	.lease_claim = pg_lease_claim,
	.lease_list = pg_lease_list,
};
