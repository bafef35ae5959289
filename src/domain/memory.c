/*
 * memory.c - memories: validate, decide, fold, and rank search hits (pure).
 *
 * Deciding never looks at a clock or a store: it takes the folded state and
 * returns the data of the one event to append.  Folding uses only the events
 * (data, version, recorded_at), so a replay gives the same documents.
 *
 * The query parser is where user text meets the search engine: it only ever
 * produces plain terms (the store quotes each as a whole), so quotes,
 * operators (AND, OR, NOT, NEAR), column filters ("key:") and parentheses a
 * user types are searched for as words, never obeyed.
 */
#include "memory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "store/store.h"

/* ---- text helpers ------------------------------------------------------------ */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* A letter or digit to the tokenizer: ASCII alphanumerics, and any
 * non-ASCII character (most are letters; the tokenizer decides). */
static bool is_word_char(char c)
{
	unsigned char u = (unsigned char)c;

	return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
	       u >= 0x80;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* The bounds of s without white space around it. */
static void trim(const char *s, const char **start, size_t *len)
{
	const char *end = s + strlen(s);

	while (*s && is_space(*s))
		s++;
	while (end > s && is_space(end[-1]))
		end--;
	*start = s;
	*len = (size_t)(end - s);
}

/* Whether hay contains needle, ignoring ASCII case. */
static bool contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	if (n == 0)
		return true;
	for (; *hay; hay++) {
		size_t i = 0;

		while (i < n && hay[i] && lower(hay[i]) == lower(needle[i]))
			i++;
		if (i == n)
			return true;
	}
	return false;
}

/* ---- names ------------------------------------------------------------------ */

int memory_stream_name(const char *user_id, char *out, size_t size, struct err *e)
{
	size_t n = user_id ? strlen(user_id) : 0;

	if (n == 0)
		return err_set(e, ERR_INVALID, "user_id must not be empty");
	if (n > MEMORY_USER_MAX)
		return err_set(e, ERR_INVALID,
			       "user_id is %zu bytes long; memories can be kept for user ids of at "
			       "most %d bytes",
			       n, MEMORY_USER_MAX);
	if (has_control(user_id))
		return err_set(e, ERR_INVALID, "user_id must not contain control characters");
	if ((size_t)snprintf(out, size, "%s%s", MEMORY_STREAM_PREFIX, user_id) >= size)
		return err_set(e, ERR_INTERNAL, "stream name buffer too small");
	return ERR_OK;
}

const char *memory_user_of_stream(const char *stream)
{
	size_t n = strlen(MEMORY_STREAM_PREFIX);

	if (!stream || strncmp(stream, MEMORY_STREAM_PREFIX, n) != 0 || !stream[n])
		return NULL;
	return stream + n;
}

/* ---- validation ------------------------------------------------------------------ */

int memory_key_normalize(const char *key, char *out, size_t size, struct err *e)
{
	const char *s;
	size_t n, chars;

	if (!key)
		return err_set(e, ERR_INVALID,
			       "key is required: a short name for the memory, "
			       "e.g. \"favorite_color\"");
	trim(key, &s, &n);
	if (n == 0)
		return err_set(e, ERR_INVALID,
			       "key must not be empty: give a short name for the "
			       "memory, e.g. \"favorite_color\"");
	if (n >= size)
		return err_set(e, ERR_INVALID,
			       "key is too long (%zu bytes); use at most %d characters", n,
			       MEMORY_KEY_MAX);
	memcpy(out, s, n);
	out[n] = '\0';
	if ((chars = json_utf8_chars(out)) > MEMORY_KEY_MAX)
		return err_set(
			e, ERR_INVALID,
			"key is %zu characters long; use at most %d (put long text in value)",
			chars, MEMORY_KEY_MAX);
	if (has_control(out))
		return err_set(e, ERR_INVALID,
			       "key must not contain control characters such as new "
			       "lines or tabs; put such text in value");
	return ERR_OK;
}

int memory_check_value(const char *value, struct err *e)
{
	size_t chars;

	if (!value)
		return err_set(e, ERR_INVALID, "value is required: the text to remember");
	if (!*value)
		return err_set(e, ERR_INVALID,
			       "value must not be empty; to remove a memory call "
			       "forget");
	if ((chars = json_utf8_chars(value)) > MEMORY_VALUE_MAX)
		return err_set(
			e, ERR_INVALID,
			"value is %zu characters long; the limit is %d (shorten it or split it "
			"into several memories)",
			chars, MEMORY_VALUE_MAX);
	return ERR_OK;
}

int memory_category_normalize(const char *category, char *out, size_t size, struct err *e)
{
	char suggestion[MEMORY_CATEGORY_MAX + 1];
	const char *s;
	size_t n, k = 0;
	bool ok = true;

	if (!category)
		category = "";
	trim(category, &s, &n);
	if (n == 0)
		return err_set(e, ERR_INVALID,
			       "category must not be empty; leave it out for \"%s\" or use a word "
			       "like \"work\"",
			       MEMORY_DEFAULT_CATEGORY);
	for (size_t i = 0; i < n; i++) {
		char c = lower(s[i]);
		bool valid =
			(c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';

		ok = ok && valid;
		if (k < MEMORY_CATEGORY_MAX && (valid || (k > 0 && suggestion[k - 1] != '_')))
			suggestion[k++] = valid ? c : '_';
	}
	while (k > 0 && suggestion[k - 1] == '_')
		k--;
	suggestion[k] = '\0';
	if (!ok || n > MEMORY_CATEGORY_MAX) {
		const char *fix = k ? suggestion : MEMORY_DEFAULT_CATEGORY;

		if (n > MEMORY_CATEGORY_MAX && ok)
			return err_set(
				e, ERR_INVALID,
				"category is %zu characters long; use at most %d, e.g. \"%s\"", n,
				MEMORY_CATEGORY_MAX, fix);
		return err_set(
			e, ERR_INVALID,
			"category \"%.60s%s\" may only hold letters a-z, digits, '_' and '-' "
			"(1 to %d); use e.g. \"%s\"",
			s, n > 60 ? "..." : "", MEMORY_CATEGORY_MAX, fix);
	}
	if (n >= size)
		return err_set(e, ERR_INTERNAL, "category buffer too small");
	for (size_t i = 0; i < n; i++)
		out[i] = lower(s[i]);
	out[n] = '\0';
	return ERR_OK;
}

int memory_check_importance(long long importance, struct err *e)
{
	if (importance < MEMORY_IMPORTANCE_MIN || importance > MEMORY_IMPORTANCE_MAX)
		return err_set(
			e, ERR_INVALID,
			"importance must be an integer from %d (trivia) to %d (essential); got "
			"%lld",
			MEMORY_IMPORTANCE_MIN, MEMORY_IMPORTANCE_MAX, importance);
	return ERR_OK;
}

/* ---- state ------------------------------------------------------------------------ */

static const json_t *memories_of(const json_t *state)
{
	return json_object_get(state, "memories");
}

const json_t *memory_get(const json_t *state, const char *key)
{
	return key ? json_object_get(memories_of(state), key) : NULL;
}

size_t memory_count(const json_t *state)
{
	return json_object_size(memories_of(state));
}

/* ---- deciding ------------------------------------------------------------------------ */

/* Check the given fields; category normalised into cat ("" when not given). */
static int check_fields(const struct memory_fields *f, char *cat, size_t size, struct err *e)
{
	int rc;

	cat[0] = '\0';
	if (f->value && (rc = memory_check_value(f->value, e)))
		return rc;
	if (f->category && (rc = memory_category_normalize(f->category, cat, size, e)))
		return rc;
	if (f->importance && (rc = memory_check_importance(f->importance, e)))
		return rc;
	return ERR_OK;
}

int memory_decide_remember(const json_t *state, const char *user_id, const char *key,
			   const struct memory_fields *f, int *decision, json_t **data,
			   struct err *e)
{
	char k[MEMORY_KEY_BYTES], cat[MEMORY_CATEGORY_MAX + 1];
	const json_t *old;
	const char *value, *category;
	long long importance;
	int rc;

	*data = NULL;
	*decision = MEMORY_DECIDE_NOOP;
	if ((rc = memory_key_normalize(key, k, sizeof k, e)))
		return rc;
	if (!f->value)
		return memory_check_value(NULL, e);
	if ((rc = check_fields(f, cat, sizeof cat, e)))
		return rc;
	old = memory_get(state, k);
	if (!old && memory_count(state) >= MEMORY_COUNT_MAX)
		return err_set(
			e, ERR_FULL,
			"user %.100s already keeps %d memories, the most one user can keep; "
			"forget some (search_memories finds the least important) or update an "
			"existing key",
			user_id ? user_id : "?", MEMORY_COUNT_MAX);
	value = f->value;
	category = cat[0] ? cat : old ? json_get_str(old, "category") : MEMORY_DEFAULT_CATEGORY;
	importance = f->importance ? f->importance
		     : old         ? json_get_int(old, "importance", MEMORY_DEFAULT_IMPORTANCE)
				   : MEMORY_DEFAULT_IMPORTANCE;
	if (!category)
		category = MEMORY_DEFAULT_CATEGORY;
	if (old &&
	    strcmp(value, json_get_str(old, "value") ? json_get_str(old, "value") : "") == 0 &&
	    strcmp(category, json_get_str(old, "category") ? json_get_str(old, "category") : "") ==
		    0 &&
	    importance == json_get_int(old, "importance", 0))
		return ERR_OK;
	*data = json_pack("{s:s, s:s, s:s, s:I, s:s}", "key", k, "value", value, "category",
			  category, "importance", (json_int_t)importance, "user_id",
			  user_id ? user_id : "");
	if (!*data)
		return err_set(e, ERR_INVALID, "key, value and category must be valid UTF-8 text");
	*decision = MEMORY_DECIDE_APPEND;
	return ERR_OK;
}

static json_t *not_found(struct err *e, const char *key)
{
	err_set(e, ERR_NOT_FOUND,
		"no memory with key \"%.200s\"; call search_memories to find the key (keys are "
		"exact), or remember to create it",
		key);
	return NULL;
}

int memory_decide_update(const json_t *state, const char *key, const struct memory_fields *f,
			 int *decision, json_t **data, struct err *e)
{
	char k[MEMORY_KEY_BYTES], cat[MEMORY_CATEGORY_MAX + 1];
	const json_t *old;
	json_t *d;
	int rc;

	*data = NULL;
	*decision = MEMORY_DECIDE_NOOP;
	if ((rc = memory_key_normalize(key, k, sizeof k, e)))
		return rc;
	if (!f->value && !f->category && !f->importance)
		return err_set(e, ERR_INVALID,
			       "nothing to update: give at least one of value, category and "
			       "importance");
	if ((rc = check_fields(f, cat, sizeof cat, e)))
		return rc;
	if (!(old = memory_get(state, k))) {
		not_found(e, k);
		return ERR_NOT_FOUND;
	}
	d = json_object();
	json_object_set_new(d, "key", json_string(k));
	if (f->value &&
	    strcmp(f->value, json_get_str(old, "value") ? json_get_str(old, "value") : "") != 0)
		json_object_set_new(d, "value", json_string(f->value));
	if (cat[0] &&
	    strcmp(cat, json_get_str(old, "category") ? json_get_str(old, "category") : "") != 0)
		json_object_set_new(d, "category", json_string(cat));
	if (f->importance && f->importance != json_get_int(old, "importance", 0))
		json_object_set_new(d, "importance", json_integer(f->importance));
	if (json_object_size(d) == 1) {
		json_decref(d);
		return ERR_OK;
	}
	*data = d;
	*decision = MEMORY_DECIDE_APPEND;
	return ERR_OK;
}

int memory_decide_forget(const json_t *state, const char *key, json_t **data, struct err *e)
{
	char k[MEMORY_KEY_BYTES];
	int rc;

	*data = NULL;
	if ((rc = memory_key_normalize(key, k, sizeof k, e)))
		return rc;
	if (!memory_get(state, k)) {
		not_found(e, k);
		return ERR_NOT_FOUND;
	}
	*data = json_pack("{s:s}", "key", k);
	return ERR_OK;
}

/* ---- folding ------------------------------------------------------------------------ */

static json_t *corrupt(struct err *e, const char *what, const char *type)
{
	err_set(e, ERR_CORRUPT, "%s event: %s", type, what);
	return NULL;
}

json_t *memory_fold(const json_t *state, const char *user_id, const char *event_type,
		    const json_t *data, int64_t version, const char *recorded_at, struct err *e)
{
	const char *key = json_get_str(data, "key");
	json_t *s, *mems, *m;

	if (!event_type)
		return corrupt(e, "no type", "?");
	if (state && version <= json_integer_value(json_object_get(state, "version")))
		return corrupt(e, "its version does not follow the memories' version", event_type);
	if (strcmp(event_type, MEMORY_EV_REMEMBERED) == 0) {
		if (!key || !json_is_string(json_object_get(data, "value")) ||
		    !json_is_string(json_object_get(data, "category")) ||
		    !json_is_integer(json_object_get(data, "importance")))
			return corrupt(e, "key, value, category or importance missing", event_type);
	} else if (strcmp(event_type, MEMORY_EV_UPDATED) == 0 ||
		   strcmp(event_type, MEMORY_EV_FORGOTTEN) == 0) {
		if (!key)
			return corrupt(e, "no key", event_type);
	}

	if (state) {
		s = json_deep_copy(state);
	} else {
		s = json_object();
		json_object_set_new(s, "user_id", json_string(user_id ? user_id : ""));
		json_object_set_new(s, "version", json_integer(0));
		json_object_set_new(s, "memories", json_object());
	}
	json_object_set_new(s, "version", json_integer(version));
	mems = json_object_get(s, "memories");
	if (!json_is_object(mems)) {
		mems = json_object();
		json_object_set_new(s, "memories", mems);
	}
	m = key ? json_object_get(mems, key) : NULL;

	if (strcmp(event_type, MEMORY_EV_REMEMBERED) == 0) {
		json_t *n = json_object();
		const char *by = json_get_str(m, "created_by");
		const char *created = json_get_str(m, "created_at");

		if (!by)
			by = json_get_str(data, "user_id") ? json_get_str(data, "user_id")
							   : user_id;
		json_object_set_new(n, "key", json_string(key));
		json_object_set(n, "value", json_object_get(data, "value"));
		json_object_set(n, "category", json_object_get(data, "category"));
		json_object_set(n, "importance", json_object_get(data, "importance"));
		json_object_set_new(n, "created_by", json_string(by ? by : ""));
		json_object_set_new(n, "created_at", json_string(created ? created : recorded_at));
		json_object_set_new(n, "updated_at", json_string(recorded_at));
		json_object_set_new(mems, key, n);
	} else if (strcmp(event_type, MEMORY_EV_UPDATED) == 0 && m) {
		static const char *const fields[] = {"value", "category", "importance"};

		for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
			json_t *v = json_object_get(data, fields[i]);

			if (v)
				json_object_set(m, fields[i], v);
		}
		json_object_set_new(m, "updated_at", json_string(recorded_at));
	} else if (strcmp(event_type, MEMORY_EV_FORGOTTEN) == 0 && m) {
		json_object_del(mems, key);
	}
	return s;
}

json_t *memory_project(const json_t *doc, const struct store_event *ev, void *ud, struct err *e)
{
	char ts[CLOCK_ISO_MAX];

	(void)ud;
	clock_format_utc(ev->recorded_at_us, ts);
	return memory_fold(doc, memory_user_of_stream(ev->stream), ev->type, ev->data, ev->version,
			   ts, e);
}

json_t *memory_index(const json_t *doc, void *ud)
{
	json_t *out = json_object(), *m;
	const char *key;

	(void)ud;
	json_object_foreach((json_t *)memories_of(doc), key, m) {
		const char *value = json_get_str(m, "value");
		char *text = xasprintf("%s\n%s", key, value ? value : "");

		json_object_set_new(out, key, json_string_lossy(text));
		free(text);
	}
	return out;
}

/* ---- the query --------------------------------------------------------------------- */

void memory_query_cleanup(struct memory_query *q)
{
	for (size_t i = 0; i < q->nterms; i++)
		free(q->terms[i].text);
	free(q->text);
	memset(q, 0, sizeof *q);
}

/* Add a term s[0..n) unless it has no word character. */
static int add_term(struct memory_query *q, const char *s, size_t n, bool prefix, bool phrase,
		    struct err *e)
{
	bool word = false;

	while (n > 0 && is_space(*s)) {
		s++;
		n--;
	}
	while (n > 0 && is_space(s[n - 1]))
		n--;
	for (size_t i = 0; i < n && !word; i++)
		word = is_word_char(s[i]);
	if (!word)
		return ERR_OK;
	if (q->nterms == MEMORY_QUERY_TERMS_MAX)
		return err_set(e, ERR_INVALID,
			       "query has more than %d words and phrases; search with fewer, more "
			       "telling words",
			       MEMORY_QUERY_TERMS_MAX);
	q->terms[q->nterms].text = xstrndup(s, n);
	q->terms[q->nterms].prefix = prefix;
	q->terms[q->nterms].phrase = phrase;
	q->nterms++;
	return ERR_OK;
}

int memory_query_parse(const char *text, struct memory_query *q, struct err *e)
{
	const char *s, *p, *end;
	size_t n, chars;
	int rc;

	memset(q, 0, sizeof *q);
	trim(text ? text : "", &s, &n);
	q->text = xstrndup(s, n);
	chars = json_utf8_chars(q->text);
	if (chars > MEMORY_QUERY_MAX)
		return err_set(
			e, ERR_INVALID,
			"query is %zu characters long; use at most %d (a few words find more)",
			chars, MEMORY_QUERY_MAX);
	if (chars == 0) {
		q->kind = MEMORY_QUERY_ALL;
		return ERR_OK;
	}
	if (chars == 1) {
		q->kind = MEMORY_QUERY_SUBSTRING;
		return ERR_OK;
	}
	p = q->text;
	end = q->text + n;
	while (p < end) {
		const char *start;
		bool prefix = false;

		if (is_space(*p)) {
			p++;
			continue;
		}
		if (*p == '"') {
			const char *close;

			start = ++p;
			close = memchr(p, '"', (size_t)(end - p));
			p = close ? close + 1 : end;
			if (p < end && *p == '*') {
				prefix = true;
				while (p < end && *p == '*')
					p++;
			}
			rc = add_term(q, start, (size_t)((close ? close : end) - start), prefix,
				      true, e);
		} else {
			const char *stop;

			start = p;
			while (p < end && !is_space(*p) && *p != '"')
				p++;
			stop = p;
			while (stop > start && stop[-1] == '*') {
				stop--;
				prefix = true;
			}
			rc = add_term(q, start, (size_t)(stop - start), prefix, false, e);
		}
		if (rc)
			return rc;
	}
	q->kind = q->nterms ? MEMORY_QUERY_TERMS : MEMORY_QUERY_SUBSTRING;
	return ERR_OK;
}

json_t *memory_substring_hits(const json_t *state, const char *needle)
{
	json_t *hits = json_array(), *m;
	const char *key;

	json_object_foreach((json_t *)memories_of(state), key, m) {
		const char *value = json_get_str(m, "value");

		if (contains_nocase(key, needle ? needle : "") ||
		    (value && contains_nocase(value, needle ? needle : "")))
			json_array_append_new(hits, json_pack("{s:s}", "item", key));
	}
	return hits;
}

/* ---- ranking ------------------------------------------------------------------------- */

struct ranked {
	json_t *result;
	bool scored;
	double score; /* rounded to 6 significant digits */
	long long importance;
	const char *updated_at, *key;
};

static double round_sig(double v)
{
	char buf[40];

	snprintf(buf, sizeof buf, "%.5e", v);
	return strtod(buf, NULL);
}

static int cmp_ranked(const void *pa, const void *pb)
{
	const struct ranked *a = pa, *b = pb;
	int c;

	if (a->scored != b->scored)
		return a->scored ? -1 : 1;
	if (a->scored && a->score != b->score)
		return a->score > b->score ? -1 : 1;
	if (a->importance != b->importance)
		return a->importance > b->importance ? -1 : 1;
	if ((c = strcmp(a->updated_at, b->updated_at)) != 0)
		return -c;
	return strcmp(a->key, b->key);
}

/* One candidate: the memory named `key`, if it passes the filter. */
static void add_candidate(struct ranked **list, size_t *n, size_t *cap, const json_t *state,
			  const char *key, const json_t *score, double best,
			  const struct memory_filter *f)
{
	const json_t *m = memory_get(state, key);
	struct ranked *r;
	json_t *out;
	static const char *const fields[] = {"key",        "value",      "category",  "importance",
					     "created_by", "created_at", "updated_at"};

	if (!m)
		return;
	if (f && f->category &&
	    strcmp(f->category, json_get_str(m, "category") ? json_get_str(m, "category") : "") !=
		    0)
		return;
	if (f && json_get_int(m, "importance", 0) < f->min_importance)
		return;
	out = json_object();
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		json_t *v = json_object_get(m, fields[i]);

		json_object_set_new(out, fields[i], v ? json_copy(v) : json_null());
	}
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		*list = xrealloc(*list, *cap * sizeof **list);
	}
	r = &(*list)[(*n)++];
	r->result = out;
	r->scored = json_is_number(score);
	r->score = r->scored ? round_sig(json_number_value(score) / best) : 0;
	if (r->scored)
		json_object_set_new(out, "score", json_real(r->score));
	r->importance = json_get_int(m, "importance", 0);
	r->updated_at = json_get_str(out, "updated_at") ? json_get_str(out, "updated_at") : "";
	r->key = json_get_str(out, "key") ? json_get_str(out, "key") : "";
}

json_t *memory_results(const json_t *state, const json_t *hits, const struct memory_filter *f)
{
	struct ranked *list = NULL;
	size_t n = 0, cap = 0, i;
	json_t *seen = json_object(), *out = json_array(), *h;
	const char *key;
	double best = 0; /* scores are given relative to the best hit */

	json_array_foreach(hits, i, h) {
		double v = json_number_value(json_object_get(h, "score"));

		if (v > best)
			best = v;
	}
	if (best <= 0)
		best = 1;
	if (hits) {
		json_array_foreach(hits, i, h) {
			const char *item = json_get_str(h, "item");

			if (!item || json_object_get(seen, item))
				continue;
			json_object_set_new(seen, item, json_true());
			add_candidate(&list, &n, &cap, state, item, json_object_get(h, "score"),
				      best, f);
		}
	} else {
		json_object_foreach((json_t *)memories_of(state), key, h)
			add_candidate(&list, &n, &cap, state, key, NULL, best, f);
	}
	if (n > 1)
		qsort(list, n, sizeof *list, cmp_ranked);
	for (i = 0; i < n; i++) {
		if (!f || !f->limit || i < f->limit)
			json_array_append(out, list[i].result);
		json_decref(list[i].result);
	}
	free(list);
	json_decref(seen);
	return out;
}
