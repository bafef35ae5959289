/*
 * store.h - the event store: an append-only log of events in streams.
 *
 * The interface is an ops table (struct store_ops) with one implementation
 * per back end (store_sqlite.c, store_postgres.c), chosen by the URL given to
 * store_open(): "sqlite:PATH" (or a bare path), or "postgres://...".  Everything above this layer
 * talks only to the functions declared here.
 *
 * Guarantees, for every back end:
 *  - An event has an event_id (UUID), a stream, a per-stream version (1, 2,
 *    ...), a global position (1, 2, ... gap-free: a reader that has seen
 *    position N has seen every event before N), a type, data and metadata
 *    (JSON objects) and recorded_at (microseconds since the epoch).
 *  - store_append() is atomic per call, checks the expected version, and
 *    returns only after the events are durable.  Concurrent calls from many
 *    threads are grouped into one transaction and one fsync (group commit)
 *    without weakening either property.
 *  - Re-appending events whose ids are already stored returns the original
 *    result and stores nothing (idempotent retries).
 *  - Projections registered at open are updated in the same transaction as
 *    the append that feeds them, and can be rebuilt from the log.
 *
 * Thread safety: all functions may be called from any thread on one store.
 */
#ifndef AMBIENT_STORE_H
#define AMBIENT_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/uuid.h"

/* Expected versions for store_append(); a value >= 1 means "exactly N". */
#define STORE_EXPECT_ANY (-1)      /* no check */
#define STORE_EXPECT_NO_STREAM 0   /* the stream must not exist yet */
#define STORE_EXPECT_EXISTS (-2)   /* the stream must have at least one event */

#define STORE_STREAM_MAX 200       /* bytes in a stream name */
#define STORE_TYPE_MAX 100         /* bytes in an event type */
#define STORE_DATA_MAX (1 << 20)   /* bytes of data + metadata JSON per event */
#define STORE_APPEND_MAX 1000      /* events per append */

/* An event to append.  event_id may be left empty (""), in which case the
 * store assigns a UUIDv7 and writes it back.  data and metadata are borrowed;
 * metadata may be NULL (stored as {}). */
struct store_new_event {
	char event_id[UUID_STR_LEN + 1];
	const char *type;
	const json_t *data;
	const json_t *metadata;
};

/* A recorded event.  Owns its strings and JSON; see store_event_cleanup. */
struct store_event {
	int64_t position;
	int64_t version;
	int64_t recorded_at_us;
	char event_id[UUID_STR_LEN + 1];
	char *stream;
	char *type;
	json_t *data;
	json_t *metadata;
};

struct store_event_list {
	struct store_event *items;
	size_t count;
	size_t cap;
};

struct store_append_result {
	int64_t first_position;
	int64_t last_position;
	int64_t version;  /* stream version after the append */
	int64_t recorded_at_us; /* the last event's recorded_at, as stored */
	bool duplicate;   /* the events were already stored: nothing written */
};

/* Optional filters for reading the whole log; NULL fields match all. */
struct store_filter {
	const char *stream;        /* exact stream name */
	const char *stream_prefix; /* e.g. "task-" */
	const char *type;          /* exact event type */
};

/* A projection: a table of JSON documents, one per stream whose name starts
 * with stream_prefix, kept up to date inside the append transaction.
 * apply() folds one event into the current document (NULL when the stream has
 * none yet) and returns the new one (new reference), or NULL to remove the
 * document (e->code left ERR_OK), or NULL with an error to refuse the append.
 * It must be pure: a rebuild calls it again on the same events.  It must not
 * change doc, and the store may keep the document it returns after the
 * append (the SQLite writer caches it), so values it shares with ev->data
 * must not be changed by the appender afterwards either.
 *
 * index (optional) makes the documents searchable (store_proj_search): for a
 * document it returns a new object {item: "text to index", ...}, one entry
 * per searchable item of the document (e.g. one per memory of a user), or
 * NULL for none.  The store keeps the full-text index of each document's
 * items in step with the document, inside the same transaction, and a
 * rebuild rebuilds it.  It must be pure too. */
struct store_projection {
	const char *name;
	const char *stream_prefix;
	json_t *(*apply)(const json_t *doc, const struct store_event *ev, void *ud, struct err *e);
	json_t *(*index)(const json_t *doc, void *ud);
	void *ud;
};

/* Full-text search over the items of a projection's documents.
 *
 * A query is a list of terms, matched case-insensitively word by word (the
 * back end's tokenizer splits text into words of letters and digits and
 * folds case and diacritics).  A term is a word or a phrase: its words must
 * appear in this order, next to each other.  With prefix, its last word
 * also matches longer words ("inv" finds "invoice").  Terms are plain text:
 * quotes, '*', ':', parentheses and operators in them are never syntax, so
 * user text can be passed through as is.  A document item matches when it
 * has every term (or, with any, at least one). */
#define STORE_SEARCH_TERMS_MAX 64    /* terms per query */
#define STORE_SEARCH_TERM_MAX 4096   /* bytes per term */
#define STORE_SEARCH_LIMIT_MAX 10000 /* hits per query */

struct store_search_term {
	const char *text;
	bool prefix;
};

struct store_search {
	const char *proj;                      /* the projection's name */
	const char *key;                       /* one document (a stream name), or NULL: all */
	const struct store_search_term *terms; /* 1..STORE_SEARCH_TERMS_MAX */
	size_t nterms;
	bool any;     /* match items with any term, not only those with all */
	size_t limit; /* at most this many hits (0: 100) */
};

struct store_options {
	struct clock *clock;                       /* NULL: the system clock */
	const struct store_projection *projections; /* borrowed, must outlive */
	size_t nprojections;
	bool read_only;                            /* open without writing */
};

/* What a rebuild found, comparing the rebuilt documents with the old ones. */
struct store_replay_report {
	int64_t events;      /* events folded */
	int64_t documents;   /* documents after the rebuild */
	int64_t matched;     /* identical before and after */
	int64_t missing;     /* rebuilt but absent before */
	int64_t extra;       /* present before, gone after */
	int64_t different;   /* present in both, not equal */
	char first_mismatch[STORE_STREAM_MAX + 1]; /* key of one mismatch, or "" */
};

/* A soft-state document to write (doc NULL: delete the key). */
struct store_soft_item {
	const char *key;
	const json_t *doc;
};

enum store_lease_op { STORE_LEASE_ACQUIRE, STORE_LEASE_RELEASE, STORE_LEASE_PEEK };

/* Who holds a lease. */
struct store_lease {
	bool held;              /* by the owner that asked */
	char holder[128];       /* the current owner, "" when free */
	int64_t expires_at_us;  /* wall clock */
};

struct store;
struct store_sub;

/* ---- the ops table a back end implements ------------------------------ */

struct store_ops {
	const char *scheme; /* "sqlite" */
	int (*open)(struct store *s, const char *location, struct err *e);
	void (*close)(struct store *s);
	int (*append)(struct store *s, const char *stream, int64_t expected,
		      struct store_new_event *evs, size_t n, struct store_append_result *res,
		      struct err *e);
	int (*read_stream)(struct store *s, const char *stream, int64_t from_version,
			   bool backward, size_t limit, struct store_event_list *out,
			   struct err *e);
	int (*read_all)(struct store *s, int64_t after_position, bool backward, size_t limit,
			const struct store_filter *f, struct store_event_list *out, struct err *e);
	int (*head)(struct store *s, int64_t *position, struct err *e);
	int (*stream_version)(struct store *s, const char *stream, int64_t *version,
			      struct err *e);
	int (*wait)(struct store *s, int64_t after_position, int timeout_ms, struct err *e);
	int (*checkpoint_get)(struct store *s, const char *name, int64_t *position,
			      struct err *e);
	int (*checkpoint_set)(struct store *s, const char *name, int64_t position,
			      struct err *e);
	int (*proj_get)(struct store *s, const char *proj, const char *key, json_t **doc,
			struct err *e);
	int (*proj_list)(struct store *s, const char *proj, json_t **docs, struct err *e);
	int (*proj_rebuild)(struct store *s, const struct store_projection *p, bool write,
			    struct store_replay_report *r, struct err *e);
	/* NULL when the back end has no full-text search */
	int (*proj_search)(struct store *s, const struct store_search *q, json_t **hits,
			   struct err *e);
	int (*soft_put)(struct store *s, const struct store_soft_item *items, size_t n,
			struct err *e);
	int (*soft_get)(struct store *s, const char *key, json_t **doc, struct err *e);
	int (*soft_list)(struct store *s, const char *prefix, json_t **docs, struct err *e);
	int (*lease)(struct store *s, const char *name, const char *owner, int64_t ttl_ms,
		     enum store_lease_op op, struct store_lease *out, struct err *e);
	int (*lease_claim)(struct store *s, const char *owner, int64_t ttl_ms,
			   const char *const *names, size_t n, size_t max, bool *held,
			   struct err *e);
	int (*lease_list)(struct store *s, const char *prefix, json_t **leases, struct err *e);
};

/* The part of struct store that back ends may use. */
struct store {
	const struct store_ops *ops;
	void *impl;
	struct clock *clock;
	struct store_options opt;
	char *url;
};

/* ---- the API ------------------------------------------------------------ */

/* Open (creating and migrating when needed) the store at url.  Errors name
 * the file and say what to do: ERR_CORRUPT for a damaged or foreign file,
 * ERR_VERSION for a database written by a newer ambient, ERR_READONLY when
 * it cannot be created or written. */
int store_open(const char *url, const struct store_options *opt, struct store **out,
	       struct err *e);
void store_close(struct store *s); /* accepts NULL */

/* Human-readable location, e.g. "sqlite:/home/me/.local/share/ambient/ambient.db". */
const char *store_url(const struct store *s);

/* Append n events to stream.  ERR_CONFLICT when the expected version does
 * not match, naming the stream and both versions.  On success *res (may be
 * NULL) tells where they went. */
int store_append(struct store *s, const char *stream, int64_t expected,
		 struct store_new_event *evs, size_t n, struct store_append_result *res,
		 struct err *e);

/* Read a stream: forward from version `from` (>= 1) upwards, or backward
 * from `from` downwards (from <= 0 means "from the end").  limit 0 = all.
 * Events are appended to *out. */
int store_read_stream(struct store *s, const char *stream, int64_t from, bool backward,
		      size_t limit, struct store_event_list *out, struct err *e);

/* Read the whole log after a position (forward) or before one (backward;
 * after_position <= 0 means from the end), optionally filtered. */
int store_read_all(struct store *s, int64_t after_position, bool backward, size_t limit,
		   const struct store_filter *f, struct store_event_list *out, struct err *e);

/* Last position of the log (0 when empty). */
int store_head(struct store *s, int64_t *position, struct err *e);
/* Version of a stream (0 when it has no events). */
int store_stream_version(struct store *s, const char *stream, int64_t *version, struct err *e);

/* Block until the log has an event after `after_position` (also when it
 * was appended by another process), or the timeout passes (ERR_TIMEOUT). */
int store_wait(struct store *s, int64_t after_position, int timeout_ms, struct err *e);

/* Durable named checkpoints (0 when never set). */
int store_checkpoint_get(struct store *s, const char *name, int64_t *position, struct err *e);
int store_checkpoint_set(struct store *s, const char *name, int64_t position, struct err *e);

/* The checkpoint STORE_PROJECTION_STAMP "<projection name>" is kept by the
 * store: a counter of the changes to that projection's documents, moved in
 * the same transaction as each change (an applied event, a rebuild).  Two
 * reads of the projection that see the same stamp see the same documents,
 * so a cache of anything made from a projection can use the stamp as its
 * key (0: unchanged since the stamp was introduced). */
#define STORE_PROJECTION_STAMP "projection/"

/* Projection documents: one by key (the stream name; ERR_NOT_FOUND when
 * absent), or all as a new JSON object {key: document} in creation order. */
int store_proj_get(struct store *s, const char *proj, const char *key, json_t **doc,
		   struct err *e);
int store_proj_list(struct store *s, const char *proj, json_t **docs, struct err *e);

/* Search the items of a projection's documents (see struct store_search).
 * *hits gets a new array [{key, item, score}, ...], best first: key is the
 * document's key (stream name), item the name the projection's index gave
 * the text, score the relevance (a positive number, higher is better; only
 * comparable within one query); [] when nothing matches.
 * ERR_INVALID for a bad query, ERR_STATE when this store cannot search
 * (SQLite built without FTS5): callers may fall back to scanning. */
int store_proj_search(struct store *s, const struct store_search *q, json_t **hits,
		      struct err *e);

/* Rebuild every registered projection from the log and report, per
 * projection, how the rebuilt documents compare with the stored ones.  With
 * write=false only compare.  reports has room for opt.nprojections.
 * Writing also rebuilds the projections' full-text index. */
int store_replay(struct store *s, bool write, struct store_replay_report *reports,
		 struct err *e);

/* ---- soft state and leases --------------------------------------------------- */

/* Soft state: bookkeeping that is not worth an event (last check time,
 * ETag, content hash, snapshots), keyed by strings like "task-<id>/..." and
 * written in batches (one transaction, grouped with concurrent appends).
 * Losing it costs a re-check, never a wrong event. */
int store_soft_put(struct store *s, const struct store_soft_item *items, size_t n,
		   struct err *e);
/* One document (ERR_NOT_FOUND when absent), or all under a key prefix as a
 * new object {key: doc}. */
int store_soft_get(struct store *s, const char *key, json_t **doc, struct err *e);
int store_soft_list(struct store *s, const char *prefix, json_t **docs, struct err *e);

/* Take or renew the lease `name` for `owner` for ttl_ms: it is granted
 * when free, expired, or already the owner's.  *out says who holds it
 * afterwards.  store_lease_release gives it up (only the owner can). */
int store_lease_acquire(struct store *s, const char *name, const char *owner, int64_t ttl_ms,
			struct store_lease *out, struct err *e);
int store_lease_release(struct store *s, const char *name, const char *owner, struct err *e);
/* Who holds the lease now, without taking it (holder "" when free or
 * expired). */
int store_lease_peek(struct store *s, const char *name, struct store_lease *out, struct err *e);

/* Share a set of leases (one per task, say) among the nodes, in one
 * transaction: of `names`, the owner keeps (renews) the first `max` it
 * holds, in the order given, gives up the others it holds, then takes free
 * or expired ones, in order, until it holds `max`.  Leases held by another
 * live owner are skipped (and, on PostgreSQL, rows another transaction is
 * taking: FOR UPDATE SKIP LOCKED), so nodes never wait for each other.
 * held[i] (n entries) says whether names[i] is the owner's afterwards.
 * n may be 0 (nothing to do); at most STORE_APPEND_MAX names per call. */
int store_lease_claim(struct store *s, const char *owner, int64_t ttl_ms,
		      const char *const *names, size_t n, size_t max, bool *held, struct err *e);
/* The live (unexpired) leases whose names start with prefix, as a new
 * object {name: {"owner": "...", "expires_at_us": N}}. */
int store_lease_list(struct store *s, const char *prefix, json_t **leases, struct err *e);

/* ---- subscriptions: catch-up, then live ---------------------------------- */

/* Subscribe from the durable checkpoint `name` (or, with name NULL or a
 * checkpoint never set, after `from_position`). */
struct store_sub *store_subscribe(struct store *s, const char *name, int64_t from_position,
				  const struct store_filter *f);
/* Next batch of at most max events after the subscription's position,
 * waiting up to timeout_ms for one when none is there (ERR_TIMEOUT then).
 * Advances the in-memory position past the events returned. */
int store_sub_next(struct store_sub *sub, size_t max, int timeout_ms,
		   struct store_event_list *out, struct err *e);
/* Durably record that everything up to `position` was handled. */
int store_sub_ack(struct store_sub *sub, int64_t position, struct err *e);
int64_t store_sub_position(const struct store_sub *sub);
void store_sub_free(struct store_sub *sub);

/* ---- helpers -------------------------------------------------------------- */

void store_event_cleanup(struct store_event *ev);
/* Add an empty slot to the list and return it (zeroed). */
struct store_event *store_event_list_push(struct store_event_list *l);
void store_event_list_cleanup(struct store_event_list *l); /* frees items, keeps list usable */

/* The event as one JSON object (the shape `ambient events` prints). */
json_t *store_event_to_json(const struct store_event *ev);

/* Fold every event of one stream through a projection (used by back ends
 * for rebuilds): docs is an object key -> document, updated in place. */
int store_projection_fold(const struct store_projection *p, json_t *docs,
			  const struct store_event *ev, struct err *e);

/* Compare rebuilt documents with the stored ones and fill the counts. */
void store_replay_compare(const json_t *stored, const json_t *rebuilt,
			  struct store_replay_report *r);

/* Back ends, for store_open's table. */
extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_postgres_ops;

#endif
