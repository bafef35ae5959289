/*
 * mcp_memory.c - the memory tools: remember, update_memory, forget and
 * search_memories (the original's v1.1 tools, ORIGIN.md section 5).
 *
 * A user's memories are the stream "memory-<user_id>" (domain/memory.h);
 * the "memories" projection holds one document per user, and its full-text
 * index (the store's search_* facility) one item per memory.  Commands read
 * the document, let the domain decide, and append at the version they read,
 * trying again when another writer got there first.
 *
 * search_memories, in order until something is found: every word (and
 * phrase) of the query, ranked by relevance; then any of them; then the
 * query as a substring of key or value (what the original did, and what a
 * one-character query gets at once).  An empty query lists every memory.
 * Results are ranked by relevance, then importance, then recency.
 */
#include "mcp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "domain/memory.h"

#define APPEND_RETRIES 5
#define SEARCH_LIMIT_DEFAULT 10
#define SEARCH_LIMIT_MAX 100
#define SEARCH_SCAN MEMORY_COUNT_MAX /* hits asked of the index: all of one user's */

/* ---- schema pieces ---------------------------------------------------------- */

#define ANN(ro, de, id, ow)                                                                        \
	"{\"readOnlyHint\": " ro ", \"destructiveHint\": " de ", \"idempotentHint\": " id          \
	", \"openWorldHint\": " ow "}"

/* The original's result object around a tool's data schema. */
#define OUT(action, statuses, data_schema)                                                         \
	"{\"type\": \"object\", \"properties\": {"                                                 \
	"\"status\": {\"type\": \"string\", \"enum\": " statuses "}, "                             \
	"\"action\": {\"type\": \"string\", \"enum\": [\"" action "\"]}, "                         \
	"\"data\": " data_schema ", "                                                              \
	"\"message\": {\"type\": \"string\"}, "                                                    \
	"\"timestamp\": {\"type\": \"string\", \"description\": \"Server local time, ISO-8601 "    \
	"without zone, e.g. 2025-06-20T21:03:24.283615\"}}, "                                      \
	"\"required\": [\"status\", \"action\", \"data\", \"timestamp\"]}"

#define P_USER_ID                                                                                  \
	"\"user_id\": {\"type\": \"string\", \"description\": \"Whose memories (default: you). "   \
	"Each user has their own; only admins act for other users.\"}"

#define P_KEY(what)                                                                                \
	"\"key\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 200, \"description\": "  \
	"\"" what "\"}"

#define P_VALUE                                                                                    \
	"\"value\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 10000, "               \
	"\"description\": \"What to remember, in plain words.\"}"

#define P_CATEGORY(extra)                                                                          \
	"\"category\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 50, "               \
	"\"description\": \"A group such as 'personal', 'work' or 'preferences': lower-case "      \
	"letters, digits, '_' and '-'." extra "\"}"

#define P_IMPORTANCE(extra)                                                                        \
	"\"importance\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 5, "                 \
	"\"description\": \"1 (trivia) to 5 (essential); ranks search results." extra "\"}"

#define S_MEMORY_PROPS                                                                             \
	"\"key\": {\"type\": \"string\"}, "                                                        \
	"\"value\": {\"type\": \"string\"}, "                                                      \
	"\"category\": {\"type\": \"string\"}, "                                                   \
	"\"importance\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 5}, "                \
	"\"created_by\": {\"type\": \"string\"}, "                                                 \
	"\"created_at\": {\"type\": \"string\"}, "                                                 \
	"\"updated_at\": {\"type\": \"string\"}"

#define S_MEMORY                                                                                   \
	"{\"type\": \"object\", \"properties\": {" S_MEMORY_PROPS ", "                             \
	"\"score\": {\"type\": \"number\", \"description\": \"Full-text relevance relative to "    \
	"the best match of this search (1).\"}}, "                                                 \
	"\"required\": [\"key\", \"value\", \"category\", \"importance\", \"created_at\", "        \
	"\"updated_at\"]}"

/* ---- shared ------------------------------------------------------------------- */

/* A memory as the tools show it: times in the original's local form. */
static json_t *memory_out(const json_t *m)
{
	static const char *const fields[] = {"key",        "value",      "category",
					     "importance", "created_by", "score"};
	json_t *o = json_object(), *v;

	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if ((v = json_object_get(m, fields[i])))
			json_object_set(o, fields[i], v);
	json_object_set_new(o, "created_at", app_mcp_local_time(json_get_str(m, "created_at")));
	json_object_set_new(o, "updated_at", app_mcp_local_time(json_get_str(m, "updated_at")));
	return o;
}

/* The user's memories document; *doc NULL when the user has none.  A user
 * whose stream has events but no document means the projection was never
 * built: ERR_STATE, with what to do. */
static int load(struct app_mcp *a, const char *stream, json_t **doc, struct err *e)
{
	int64_t version = 0;
	int rc;

	*doc = NULL;
	rc = store_proj_get(a->store, MEMORY_PROJECTION, stream, doc, e);
	if (rc != ERR_NOT_FOUND)
		return rc;
	if ((rc = store_stream_version(a->store, stream, &version, e)))
		return rc;
	if (version > 0)
		return err_set(
			e, ERR_STATE,
			"the memories of %s are in the log but not in the memories projection; "
			"run `ambient replay` once to build it",
			stream);
	return ERR_OK;
}

/* Read the arguments every command shares; a failure result when bad. */
struct cmd_args {
	const char *user;
	char stream[MEMORY_STREAM_BYTES];
	char key[MEMORY_KEY_BYTES];
	struct memory_fields f;
};

static json_t *read_args(struct app_mcp *a, struct mcp_call *call, const json_t *args,
			 const char *action, struct cmd_args *c)
{
	struct err le = {0};
	const json_t *imp = json_object_get(args, "importance");

	memset(c, 0, sizeof *c);
	c->user = app_mcp_user(a, call, args);
	if (memory_stream_name(c->user, c->stream, sizeof c->stream, &le) ||
	    memory_key_normalize(json_get_str(args, "key"), c->key, sizeof c->key, &le))
		return app_mcp_failure(a, action, "%s", err_msg(&le));
	c->f.value = json_get_str(args, "value");
	c->f.category = json_get_str(args, "category");
	if (imp && !json_is_null(imp)) {
		if (!json_is_integer(imp))
			return app_mcp_failure(a, action,
					       "importance must be an integer from 1 to 5, not %s",
					       json_type_name(imp));
		c->f.importance = json_integer_value(imp);
		if (memory_check_importance(c->f.importance, &le))
			return app_mcp_failure(a, action, "%s", err_msg(&le));
	}
	return NULL;
}

enum cmd { CMD_REMEMBER, CMD_UPDATE, CMD_FORGET };

/* What a command did. */
struct cmd_outcome {
	bool changed;  /* an event was appended */
	bool existed;  /* the key was there before */
	json_t *state; /* the document afterwards (new reference; may be NULL) */
};

/* Load, decide, append at the version read; again on a concurrent write. */
static int run(struct app_mcp *a, enum cmd cmd, const struct cmd_args *c, struct cmd_outcome *out,
	       struct err *e)
{
	char principal[APP_MCP_PRINCIPAL_MAX];
	struct app_actor who;
	int rc;

	memset(out, 0, sizeof *out);
	app_mcp_actor(c->user, principal, &who);
	for (int attempt = 0;; attempt++) {
		json_t *doc = NULL, *data = NULL, *meta;
		int decision = MEMORY_DECIDE_APPEND;
		const char *type = NULL;
		struct store_new_event ev = {.event_id = ""};
		int64_t expected;

		if ((rc = load(a, c->stream, &doc, e)))
			return rc;
		out->existed = memory_get(doc, c->key) != NULL;
		switch (cmd) {
		case CMD_REMEMBER:
			type = MEMORY_EV_REMEMBERED;
			rc = memory_decide_remember(doc, c->user, c->key, &c->f, &decision, &data,
						    e);
			break;
		case CMD_UPDATE:
			type = MEMORY_EV_UPDATED;
			rc = memory_decide_update(doc, c->key, &c->f, &decision, &data, e);
			break;
		case CMD_FORGET:
			type = MEMORY_EV_FORGOTTEN;
			rc = memory_decide_forget(doc, c->key, &data, e);
			break;
		}
		if (rc || decision == MEMORY_DECIDE_NOOP) {
			json_decref(data);
			out->state = doc;
			return rc;
		}
		expected = doc ? json_integer_value(json_object_get(doc, "version"))
			       : STORE_EXPECT_NO_STREAM;
		json_decref(doc);
		meta = app_actor_metadata(&who);
		ev.type = type;
		ev.data = data;
		ev.metadata = meta;
		rc = store_append(a->store, c->stream, expected, &ev, 1, NULL, e);
		json_decref(meta);
		json_decref(data);
		if (rc == ERR_CONFLICT && attempt < APPEND_RETRIES)
			continue;
		if (rc)
			return rc;
		out->changed = true;
		log_info("mcp: %s %s by %s", type, c->stream, principal);
		return load(a, c->stream, &out->state, e);
	}
}

/* The data of remember and update_memory: the memory as stored. */
static json_t *memory_data(const struct cmd_outcome *o, const char *key)
{
	const json_t *m = memory_get(o->state, key);
	json_t *d = m ? memory_out(m) : json_pack("{s:s}", "key", key);

	json_object_set_new(d, "changed", json_boolean(o->changed));
	return d;
}

/* ---- remember ------------------------------------------------------------------ */

#define REMEMBER_DESC                                                                              \
	"Remember something about or for the user, under a key (e.g. key 'favorite_color', "       \
	"value 'blue'). Remembering an existing key replaces its value (category and importance "  \
	"stay as they were unless given). Memories are kept across conversations and restarts; "   \
	"find them again with search_memories."

/* clang-format off */
#define REMEMBER_IN                                                                                \
	"{\"type\": \"object\", \"properties\": {"                                                 \
	P_KEY("A short, stable name for the memory, e.g. 'favorite_color' or "                     \
	      "'project_deadline'. The same key again replaces the memory.") ", "                  \
	P_VALUE ", "                                                                               \
	P_CATEGORY(" Default 'general'.") ", "                                                     \
	P_IMPORTANCE(" Default 1.") ", " P_USER_ID "}, "                                           \
	"\"required\": [\"key\", \"value\"], \"additionalProperties\": false}"
/* clang-format on */

#define REMEMBER_OUT                                                                               \
	OUT("remember", "[\"success\"]",                                                           \
	    "{\"type\": \"object\", \"properties\": {" S_MEMORY_PROPS ", "                         \
	    "\"replaced\": {\"type\": \"boolean\", \"description\": \"the key existed before\"}, " \
	    "\"changed\": {\"type\": \"boolean\", \"description\": \"false when the memory was "   \
	    "already exactly this (nothing was recorded)\"}}, "                                    \
	    "\"required\": [\"key\", \"value\", \"category\", \"importance\", \"created_by\", "    \
	    "\"changed\"]}")

static int tool_remember(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	static const char *action = "remember";
	struct app_mcp *a = app_mcp_from_call(call);
	struct cmd_outcome o;
	struct cmd_args c;
	struct err le = {0};
	char msg[600];
	json_t *d;

	(void)e;
	if ((*result = read_args(a, call, args, action, &c)))
		return ERR_OK;
	if (run(a, CMD_REMEMBER, &c, &o, &le)) {
		*result = app_mcp_failure(a, action, "Failed to remember \"%.200s\": %s", c.key,
					  err_msg(&le));
		json_decref(o.state);
		return ERR_OK;
	}
	d = memory_data(&o, c.key);
	json_object_set_new(d, "replaced", json_boolean(o.existed));
	snprintf(msg, sizeof msg, "%s '%.200s'%s", o.changed ? "Remembered" : "Already remembered",
		 c.key,
		 !o.changed  ? " exactly like this; nothing changed"
		 : o.existed ? " (replaced the previous value)"
			     : "");
	app_mcp_utf8_clean(msg);
	json_decref(o.state);
	*result = app_mcp_success(a, action, d, msg);
	return ERR_OK;
}

/* ---- update_memory ---------------------------------------------------------------- */

#define UPDATE_DESC                                                                                \
	"Change an existing memory: its value, category or importance (give at least one; the "    \
	"others stay). Fails when there is no memory with that key; use remember to create one."

/* clang-format off */
#define UPDATE_IN                                                                                  \
	"{\"type\": \"object\", \"properties\": {"                                                 \
	P_KEY("The key of the memory to change (exact; search_memories shows the keys).") ", "     \
	"\"value\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 10000, "               \
	"\"description\": \"The new value (optional).\"}, "                                        \
	P_CATEGORY(" Optional.") ", " P_IMPORTANCE(" Optional.") ", " P_USER_ID "}, "              \
	"\"required\": [\"key\"], \"additionalProperties\": false}"
/* clang-format on */

#define UPDATE_OUT                                                                                 \
	OUT("update_memory", "[\"success\"]",                                                      \
	    "{\"type\": \"object\", \"properties\": {" S_MEMORY_PROPS ", "                         \
	    "\"changed\": {\"type\": \"boolean\", \"description\": \"false when nothing "          \
	    "differed (nothing was recorded)\"}}, "                                                \
	    "\"required\": [\"key\", \"value\", \"category\", \"importance\", \"changed\"]}")

static int tool_update(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	static const char *action = "update_memory";
	struct app_mcp *a = app_mcp_from_call(call);
	struct cmd_outcome o;
	struct cmd_args c;
	struct err le = {0};
	char msg[600];

	(void)e;
	if ((*result = read_args(a, call, args, action, &c)))
		return ERR_OK;
	if (run(a, CMD_UPDATE, &c, &o, &le)) {
		*result = app_mcp_failure(a, action, "Failed to update memory \"%.200s\": %s",
					  c.key, err_msg(&le));
		json_decref(o.state);
		return ERR_OK;
	}
	snprintf(msg, sizeof msg, "Memory '%.200s' %s", c.key,
		 o.changed ? "updated" : "already has these values; nothing changed");
	app_mcp_utf8_clean(msg);
	*result = app_mcp_success(a, action, memory_data(&o, c.key), msg);
	json_decref(o.state);
	return ERR_OK;
}

/* ---- forget ------------------------------------------------------------------------- */

#define FORGET_DESC                                                                                \
	"Forget (delete) one memory by its exact key. Needs the person's confirmation. Returns "   \
	"status 'not_found' when there is no memory with that key (search_memories shows the "     \
	"keys)."

/* clang-format off */
#define FORGET_IN                                                                                  \
	"{\"type\": \"object\", \"properties\": {"                                                 \
	P_KEY("The exact key of the memory to forget.") ", " P_USER_ID "}, "                       \
	"\"required\": [\"key\"], \"additionalProperties\": false}"
/* clang-format on */

#define FORGET_OUT                                                                                 \
	OUT("forget", "[\"success\", \"not_found\"]",                                              \
	    "{\"type\": \"object\", \"properties\": {"                                             \
	    "\"key\": {\"type\": \"string\"}, "                                                    \
	    "\"deleted\": {\"type\": \"boolean\"}}, "                                              \
	    "\"required\": [\"key\", \"deleted\"]}")

static json_t *forget_not_found(struct app_mcp *a, const struct cmd_args *c)
{
	char msg[600];

	snprintf(msg, sizeof msg,
		 "No memory with key '%.200s' for user '%.100s'; keys are exact: search_memories "
		 "shows them",
		 c->key, c->user);
	app_mcp_utf8_clean(msg);
	return app_mcp_result(a, "not_found", "forget",
			      json_pack("{s:s, s:b}", "key", c->key, "deleted", 0), msg);
}

/* Before the confirmation: a key that is not there asks nobody. */
static int precheck_forget(struct mcp_call *call, const json_t *args, json_t **result,
			   struct err *e)
{
	struct app_mcp *a = app_mcp_from_call(call);
	struct cmd_args c;
	json_t *doc = NULL;

	(void)e;
	if ((*result = read_args(a, call, args, "forget", &c)))
		return ERR_OK;
	if (load(a, c.stream, &doc, NULL) == ERR_OK && !memory_get(doc, c.key))
		*result = forget_not_found(a, &c);
	json_decref(doc);
	return ERR_OK;
}

static int tool_forget(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	static const char *action = "forget";
	struct app_mcp *a = app_mcp_from_call(call);
	struct cmd_outcome o;
	struct cmd_args c;
	struct err le = {0};
	char msg[600];
	int rc;

	(void)e;
	if ((*result = read_args(a, call, args, action, &c)))
		return ERR_OK;
	rc = run(a, CMD_FORGET, &c, &o, &le);
	json_decref(o.state);
	if (rc == ERR_NOT_FOUND) {
		*result = forget_not_found(a, &c);
		return ERR_OK;
	}
	if (rc) {
		*result = app_mcp_failure(a, action, "Failed to forget \"%.200s\": %s", c.key,
					  err_msg(&le));
		return ERR_OK;
	}
	snprintf(msg, sizeof msg, "Memory '%.200s' forgotten", c.key);
	app_mcp_utf8_clean(msg);
	*result = app_mcp_success(a, action, json_pack("{s:s, s:b}", "key", c.key, "deleted", 1),
				  msg);
	return ERR_OK;
}

/* ---- search_memories ------------------------------------------------------------------ */

#define SEARCH_DESC                                                                                \
	"Search the user's memories by words in their key and value, best match first (then "      \
	"the more important, then the more recent). Words must all appear (when none has all, "    \
	"any will do); end a word with * for a prefix (coff* finds coffee); put words in "         \
	"\"double quotes\" for a phrase. A one-character query, or one that finds no words, "      \
	"matches key or value as a substring; an empty query lists all memories. Filter by "       \
	"category and min_importance."

/* clang-format off */
#define SEARCH_IN                                                                                  \
	"{\"type\": \"object\", \"properties\": {"                                                 \
	"\"query\": {\"type\": \"string\", \"maxLength\": 1000, \"description\": \"Words to "      \
	"look for, e.g. 'coffee order', 'proj*' or '\\\"project deadline\\\"'; '' lists "          \
	"all.\"}, "                                                                                \
	P_CATEGORY(" Only memories of this category (default: all).") ", "                         \
	"\"min_importance\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 5, "             \
	"\"default\": 1, \"description\": \"Only memories at least this important.\"}, "           \
	"\"limit\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 100, \"default\": 10, "   \
	"\"description\": \"At most this many results.\"}, " P_USER_ID "}, "                       \
	"\"required\": [\"query\"], \"additionalProperties\": false}"
/* clang-format on */

#define SEARCH_OUT                                                                                 \
	OUT("search_memories", "[\"success\"]",                                                    \
	    "{\"type\": \"object\", \"properties\": {"                                             \
	    "\"query\": {\"type\": \"string\"}, "                                                  \
	    "\"results\": {\"type\": \"array\", \"items\": " S_MEMORY "}, "                        \
	    "\"count\": {\"type\": \"integer\"}, "                                                 \
	    "\"search_mode\": {\"type\": \"string\", \"enum\": [\"fulltext\", \"fulltext_any\", "  \
	    "\"substring\", \"list\"], \"description\": \"fulltext: all words matched; "           \
	    "fulltext_any: some words; substring: the query inside key or value; list: empty "     \
	    "query\"}}, "                                                                          \
	    "\"required\": [\"query\", \"results\", \"count\"]}")

/* Full-text hits of the user's memories, or ERR_STATE when the store
 * cannot search. */
static int fulltext(struct app_mcp *a, const char *stream, const struct memory_query *q, bool any,
		    json_t **hits, struct err *e)
{
	struct store_search_term terms[MEMORY_QUERY_TERMS_MAX];
	struct store_search s = {.proj = MEMORY_PROJECTION,
				 .key = stream,
				 .terms = terms,
				 .nterms = q->nterms,
				 .any = any,
				 .limit = SEARCH_SCAN};

	for (size_t i = 0; i < q->nterms; i++) {
		terms[i].text = q->terms[i].text;
		terms[i].prefix = q->terms[i].prefix;
	}
	return store_proj_search(a->store, &s, hits, e);
}

static int tool_search(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	static const char *action = "search_memories";
	struct app_mcp *a = app_mcp_from_call(call);
	const char *user = app_mcp_user(a, call, args), *mode = "list";
	const char *query = json_get_str(args, "query"), *category = json_get_str(args, "category");
	char stream[MEMORY_STREAM_BYTES], cat[MEMORY_CATEGORY_MAX + 1], msg[800];
	struct memory_filter filter = {
		.min_importance = json_get_int(args, "min_importance", 1),
		.limit = (size_t)json_get_int(args, "limit", SEARCH_LIMIT_DEFAULT)};
	struct memory_query q;
	struct err le = {0};
	json_t *doc = NULL, *hits = NULL, *results = NULL, *out, *r, *d;
	bool no_index = false;
	size_t i;
	int rc;

	(void)e;
	if (filter.limit < 1 || filter.limit > SEARCH_LIMIT_MAX) {
		*result =
			app_mcp_failure(a, action, "limit must be from 1 to %d", SEARCH_LIMIT_MAX);
		return ERR_OK;
	}
	if (memory_stream_name(user, stream, sizeof stream, &le) ||
	    (category && memory_category_normalize(category, cat, sizeof cat, &le)) ||
	    memory_check_importance(filter.min_importance, &le)) {
		*result = app_mcp_failure(a, action, "%s", err_msg(&le));
		return ERR_OK;
	}
	filter.category = category ? cat : NULL;
	if (memory_query_parse(query, &q, &le)) {
		memory_query_cleanup(&q);
		*result = app_mcp_failure(a, action, "%s", err_msg(&le));
		return ERR_OK;
	}
	if ((rc = load(a, stream, &doc, &le)))
		goto fail;

	if (q.kind == MEMORY_QUERY_TERMS) {
		for (int any = 0; any <= (q.nterms > 1) && !results; any++) {
			rc = fulltext(a, stream, &q, any, &hits, &le);
			if (rc == ERR_STATE) {
				no_index = true; /* no FTS5: the original's substring search */
				break;
			}
			if (rc)
				goto fail;
			results = memory_results(doc, hits, &filter);
			json_decref(hits);
			hits = NULL;
			mode = any ? "fulltext_any" : "fulltext";
			if (json_array_size(results) == 0) {
				json_decref(results);
				results = NULL;
			}
		}
	}
	if (!results && q.kind != MEMORY_QUERY_ALL) {
		hits = memory_substring_hits(doc, q.text);
		mode = "substring";
	}
	if (!results)
		results = memory_results(doc, hits, &filter);

	out = json_array();
	json_array_foreach(results, i, r)
		json_array_append_new(out, memory_out(r));
	if (json_array_size(out) == 0 && q.kind == MEMORY_QUERY_ALL)
		snprintf(msg, sizeof msg,
			 "No memories%s for user '%.100s'; store some with remember",
			 filter.category || filter.min_importance > 1 ? " matching the filter" : "",
			 user);
	else if (json_array_size(out) == 0)
		snprintf(msg, sizeof msg,
			 "No memories match '%.200s'%s; try fewer or other words, a prefix such as "
			 "'%.20s*', or an empty query to list all",
			 q.text,
			 filter.category || filter.min_importance > 1 ? " with this filter" : "",
			 q.nterms ? q.terms[0].text : q.text);
	else
		snprintf(msg, sizeof msg, "Found %zu memor%s%s", json_array_size(out),
			 json_array_size(out) == 1 ? "y" : "ies",
			 no_index ? " (substring search: full-text search is unavailable here)"
				  : "");
	app_mcp_utf8_clean(msg);
	d = json_object();
	json_object_set_new(d, "query", json_string(q.text));
	json_object_set_new(d, "results", out);
	json_object_set_new(d, "count", json_integer((json_int_t)json_array_size(out)));
	json_object_set_new(d, "search_mode", json_string(mode));
	*result = app_mcp_success(a, action, d, msg);
	rc = ERR_OK;
	goto out;
fail:
	*result = app_mcp_failure(a, action, "Failed to search memories: %s", err_msg(&le));
out:
	json_decref(results);
	json_decref(hits);
	json_decref(doc);
	memory_query_cleanup(&q);
	return ERR_OK;
}

/* ---- the rows ------------------------------------------------------------------------- */

static const struct app_tool memory_rows[] = {
	{
		.tool.name = "remember",
		.tool.title = "Remember",
		.tool.description = REMEMBER_DESC,
		.tool.input_schema = REMEMBER_IN,
		.tool.output_schema = REMEMBER_OUT,
		.tool.annotations = ANN("false", "true", "true", "false"),
		.tool.fn = tool_remember,
		.level = APP_LEVEL_MEDIUM,
		.rate_per_hour = 50,
		.scope = "memories",
	},
	{
		.tool.name = "update_memory",
		.tool.title = "Update memory",
		.tool.description = UPDATE_DESC,
		.tool.input_schema = UPDATE_IN,
		.tool.output_schema = UPDATE_OUT,
		.tool.annotations = ANN("false", "true", "true", "false"),
		.tool.fn = tool_update,
		.level = APP_LEVEL_MEDIUM,
		.scope = "memories",
	},
	{
		.tool.name = "forget",
		.tool.title = "Forget",
		.tool.description = FORGET_DESC,
		.tool.input_schema = FORGET_IN,
		.tool.output_schema = FORGET_OUT,
		.tool.annotations = ANN("false", "true", "true", "false"),
		.tool.fn = tool_forget,
		.level = APP_LEVEL_HIGH,
		.rate_per_hour = 10,
		.scope = "memories",
		.precheck = precheck_forget,
	},
	{
		.tool.name = "search_memories",
		.tool.title = "Search memories",
		.tool.description = SEARCH_DESC,
		.tool.input_schema = SEARCH_IN,
		.tool.output_schema = SEARCH_OUT,
		.tool.annotations = ANN("true", "false", "true", "false"),
		.tool.fn = tool_search,
		.level = APP_LEVEL_LOW,
		.scope = "memories",
	},
};

int app_mcp_register_memory_tools(struct app_mcp *a, struct mcp_server *srv, struct err *e)
{
	return app_mcp_add_tools(a, srv, memory_rows, sizeof memory_rows / sizeof memory_rows[0],
				 e);
}
