/*
 * memory.h - a user's memories as an event-sourced aggregate, and how they
 * are searched (pure: no I/O).
 *
 * Memories are key -> value notes an agent keeps for a user (the original
 * system's remember / update_memory / forget / search_memories tools).  A
 * user's memories live in one stream, "memory-<user_id>", whose events are
 *   memory_remembered {key, value, category, importance, user_id}  (upsert)
 *   memory_updated    {key, value?, category?, importance?}        (changed fields)
 *   memory_forgotten  {key}
 * Commands are decided against the folded state (memory_decide_*), which
 * returns the data of the one event to append, "nothing to do", or an error
 * that says what was wrong and how to fix it.
 *
 * The state (and the document of the "memories" projection, one per user):
 *   {user_id, version, memories: {<key>: {key, value, category, importance,
 *    created_by, created_at, updated_at}}}
 * created_at / updated_at are ISO-8601 UTC strings taken from the events'
 * recorded_at, so a replay gives the same document byte for byte.
 *
 * Search: memory_query_parse turns what a user typed into plain terms for
 * the store's full-text search (words, "quoted phrases", a trailing '*' for
 * a prefix; nothing the user types is ever search syntax), or says that the
 * query is a one-character (substring) or empty (list everything) one.
 * memory_results filters and ranks the hits: relevance, then importance,
 * then recency, as the original ordered by importance and recency.
 *
 * Ownership: json_t* results are new references; inputs are borrowed.
 */
#ifndef AMBIENT_DOMAIN_MEMORY_H
#define AMBIENT_DOMAIN_MEMORY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct store_event;

#define MEMORY_STREAM_PREFIX "memory-"
#define MEMORY_PROJECTION "memories"

#define MEMORY_EV_REMEMBERED "memory_remembered"
#define MEMORY_EV_UPDATED "memory_updated"
#define MEMORY_EV_FORGOTTEN "memory_forgotten"

#define MEMORY_KEY_MAX 200 /* characters in a key */
#define MEMORY_KEY_BYTES (4 * MEMORY_KEY_MAX + 1)
#define MEMORY_VALUE_MAX 10000 /* characters in a value */
#define MEMORY_CATEGORY_MAX 50 /* characters in a category: [a-z0-9_-] */
#define MEMORY_IMPORTANCE_MIN 1
#define MEMORY_IMPORTANCE_MAX 5
#define MEMORY_DEFAULT_CATEGORY "general"
#define MEMORY_DEFAULT_IMPORTANCE 1
#define MEMORY_COUNT_MAX 1000 /* memories one user may keep */
#define MEMORY_USER_MAX 193   /* bytes: "memory-" + user id fits a stream name (200) */
#define MEMORY_STREAM_BYTES 201
#define MEMORY_QUERY_MAX 1000     /* characters in a search query */
#define MEMORY_QUERY_TERMS_MAX 32 /* words and phrases in a search query */

/* ---- names ------------------------------------------------------------------ */

/* "memory-<user_id>" into out (MEMORY_STREAM_BYTES).  ERR_INVALID when the
 * user id is empty, longer than MEMORY_USER_MAX bytes or holds a control
 * character. */
int memory_stream_name(const char *user_id, char *out, size_t size, struct err *e);
/* The user id of a memory stream name, or NULL when it is not one. */
const char *memory_user_of_stream(const char *stream);

/* ---- validation (messages name the field, the rule and the value) -------- */

/* A key with leading and trailing white space removed into out
 * (MEMORY_KEY_BYTES): 1 to MEMORY_KEY_MAX characters, no control
 * characters. */
int memory_key_normalize(const char *key, char *out, size_t size, struct err *e);
/* 1 to MEMORY_VALUE_MAX characters (new lines and tabs allowed). */
int memory_check_value(const char *value, struct err *e);
/* A category in lower case into out (MEMORY_CATEGORY_MAX + 1): upper-case
 * ASCII letters are lowered, white space around it removed; what is left
 * must be 1 to 50 of [a-z0-9_-] (the error suggests a valid spelling). */
int memory_category_normalize(const char *category, char *out, size_t size, struct err *e);
/* An integer from 1 to 5. */
int memory_check_importance(long long importance, struct err *e);

/* ---- deciding commands ---------------------------------------------------- */

enum memory_decision {
	MEMORY_DECIDE_APPEND, /* *data holds the event to append */
	MEMORY_DECIDE_NOOP,   /* nothing would change: append nothing */
};

/* The fields a command sets; NULL / 0 = not given. */
struct memory_fields {
	const char *value;
	const char *category;
	long long importance;
};

/* Remember (upsert by key).  A new key needs a value and gets the given
 * category and importance or the defaults ("general", 1); a known key gets
 * the fields given and keeps the others.  Identical to what is stored ->
 * NOOP.  Data: {key, value, category, importance, user_id} (the whole
 * memory, with the normalised key and category).  ERR_FULL when the user
 * already keeps MEMORY_COUNT_MAX memories. */
int memory_decide_remember(const json_t *state, const char *user_id, const char *key,
			   const struct memory_fields *f, int *decision, json_t **data,
			   struct err *e);
/* Update an existing memory: ERR_NOT_FOUND when there is none with that key,
 * ERR_INVALID when no field is given.  NOOP when nothing changes.  Data:
 * {key, <changed fields>}. */
int memory_decide_update(const json_t *state, const char *key, const struct memory_fields *f,
			 int *decision, json_t **data, struct err *e);
/* Forget: ERR_NOT_FOUND when there is no memory with that key.  Data {key}. */
int memory_decide_forget(const json_t *state, const char *key, json_t **data, struct err *e);

/* ---- folding events --------------------------------------------------------- */

/* Apply one event of user_id's stream to a state (NULL before the first)
 * and return the new state.  Other event types leave the memories as they
 * are but for "version".  An update or forget of a key that is not there
 * changes nothing; a remember without key, value, category or importance,
 * or a version that does not follow the state's, is ERR_CORRUPT (NULL). */
json_t *memory_fold(const json_t *state, const char *user_id, const char *event_type,
		    const json_t *data, int64_t version, const char *recorded_at, struct err *e);

/* The store projection's apply and index callbacks (struct store_projection):
 * memory_project folds ev into doc; memory_index gives {key: "key\nvalue"}
 * for every memory of a document, the text full-text search looks at. */
json_t *memory_project(const json_t *doc, const struct store_event *ev, void *ud, struct err *e);
json_t *memory_index(const json_t *doc, void *ud);

/* A memory of a state (borrowed), or NULL. */
const json_t *memory_get(const json_t *state, const char *key);
/* How many memories a state holds. */
size_t memory_count(const json_t *state);

/* ---- searching ---------------------------------------------------------------- */

enum memory_query_kind {
	MEMORY_QUERY_ALL,       /* empty query: every memory */
	MEMORY_QUERY_SUBSTRING, /* one character, or no word at all: a substring */
	MEMORY_QUERY_TERMS,     /* words and phrases for full-text search */
};

struct memory_term {
	char *text;  /* a word, or the words of a phrase (plain text) */
	bool prefix; /* a '*' followed it: its last word is a prefix */
	bool phrase; /* it was "double-quoted" */
};

struct memory_query {
	enum memory_query_kind kind;
	char *text; /* the query without white space around it */
	struct memory_term terms[MEMORY_QUERY_TERMS_MAX];
	size_t nterms;
};

/* Parse a query (NULL: empty).  Words are separated by white space; text
 * between double quotes is a phrase (an unclosed quote runs to the end); a
 * '*' right after a word or a closing quote makes it a prefix.  Words and
 * phrases without a letter or digit are left out; when nothing is left the
 * query is a substring one.  ERR_INVALID past MEMORY_QUERY_MAX characters
 * or MEMORY_QUERY_TERMS_MAX terms.  memory_query_cleanup frees it (also
 * after an error). */
int memory_query_parse(const char *text, struct memory_query *q, struct err *e);
void memory_query_cleanup(struct memory_query *q);

/* Hits [{item: key}] for the memories whose key or value contains needle,
 * ignoring ASCII case (the original's LIKE '%needle%'). */
json_t *memory_substring_hits(const json_t *state, const char *needle);

struct memory_filter {
	const char *category;     /* NULL: any */
	long long min_importance; /* <= 1: any */
	size_t limit;             /* 0: no limit */
};

/* The memories of hits ([{item, score?}, ...], as the store's search or
 * memory_substring_hits give them; NULL: every memory) that pass the filter,
 * as an array of {key, value, category, importance, created_by, created_at,
 * updated_at, score?}, ranked: score descending, then importance descending,
 * then updated_at descending (most recent first), then key; cut to the
 * limit.  A score is given relative to the best of the hits (1 = as
 * relevant as the best match) and rounded to 6 significant digits, so
 * scores that differ only in float noise rank as equal.  Hits naming no
 * memory (removed since) are skipped. */
json_t *memory_results(const json_t *state, const json_t *hits, const struct memory_filter *f);

#endif
