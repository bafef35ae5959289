/*
 * store.c - the back-end independent part of the event store: URL dispatch,
 * argument checks shared by every back end, subscriptions (built on read_all
 * + wait + checkpoints), and the fold/compare used by projection rebuilds.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

static const struct store_ops *const backends[] = {
	&store_sqlite_ops,
	&store_postgres_ops,
};

int store_open(const char *url, const struct store_options *opt, struct store **out, struct err *e)
{
	const struct store_ops *ops = NULL;
	const char *location = url;
	struct store *s;
	int rc;

	*out = NULL;
	if (!url || !*url)
		return err_set(e, ERR_INVALID, "no database given: use --db sqlite:PATH");
	const char *colon = strchr(url, ':');
	if (colon && colon != url && strncmp(colon, "://", 3) != 0) {
		for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
			size_t n = strlen(backends[i]->scheme);
			if ((size_t)(colon - url) == n &&
			    strncmp(url, backends[i]->scheme, n) == 0) {
				ops = backends[i];
				location = colon + 1;
			}
		}
	} else if (colon && strncmp(colon, "://", 3) == 0) {
		/* libpq takes the whole URL (user, password, host, port, options). */
		if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
			ops = &store_postgres_ops;
		else
			return err_set(
				e, ERR_INVALID,
				"unknown database URL '%s': use sqlite:PATH or postgres://...",
				url);
	}
	if (!ops) {
		if (colon && colon != url && strchr(url, '/') > colon)
			return err_set(e, ERR_INVALID,
				       "unknown database scheme in '%s': use sqlite:PATH", url);
		ops = &store_sqlite_ops; /* a bare path */
	}
	if (!*location)
		return err_set(e, ERR_INVALID, "empty path in database URL '%s': use sqlite:PATH",
			       url);

	s = xcalloc(1, sizeof *s);
	s->ops = ops;
	if (opt)
		s->opt = *opt;
	s->clock = s->opt.clock ? s->opt.clock : clock_system();
	/* A URL back end gets the whole URL; its open() may replace s->url with
	 * a copy that hides the password, since s->url is shown to people. */
	s->url = ops == &store_postgres_ops ? xstrdup(url)
					    : xasprintf("%s:%s", ops->scheme, location);
	rc = ops->open(s, location, e);
	if (rc != ERR_OK) {
		free(s->url);
		free(s);
		return rc;
	}
	*out = s;
	return ERR_OK;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	s->ops->close(s);
	free(s->url);
	free(s);
}

const char *store_url(const struct store *s)
{
	return s->url;
}

static int check_name(const char *what, const char *v, size_t max, struct err *e)
{
	if (!v || !*v)
		return err_set(e, ERR_INVALID, "%s must be a non-empty string", what);
	size_t n = strlen(v);
	if (n > max)
		return err_set(e, ERR_INVALID, "%s is %zu bytes long; the limit is %zu", what, n,
			       max);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c < 0x20 || c == 0x7f)
			return err_set(e, ERR_INVALID, "%s '%s' contains a control character", what,
				       v);
	}
	return ERR_OK;
}

int store_append(struct store *s, const char *stream, int64_t expected, struct store_new_event *evs,
		 size_t n, struct store_append_result *res, struct err *e)
{
	struct store_append_result dummy;
	int rc;

	if ((rc = check_name("stream name", stream, STORE_STREAM_MAX, e)))
		return rc;
	if (n == 0)
		return err_set(e, ERR_INVALID, "append to %s: no events given", stream);
	if (n > STORE_APPEND_MAX)
		return err_set(e, ERR_INVALID, "append to %s: %zu events; at most %d per append",
			       stream, n, STORE_APPEND_MAX);
	if (expected < STORE_EXPECT_EXISTS)
		return err_set(e, ERR_INVALID, "append to %s: bad expected version %lld", stream,
			       (long long)expected);
	for (size_t i = 0; i < n; i++) {
		if ((rc = check_name("event type", evs[i].type, STORE_TYPE_MAX, e)))
			return rc;
		if (!json_is_object(evs[i].data))
			return err_set(e, ERR_INVALID, "event %zu (%s): data must be a JSON object",
				       i, evs[i].type);
		if (evs[i].metadata && !json_is_object(evs[i].metadata))
			return err_set(e, ERR_INVALID,
				       "event %zu (%s): metadata must be a JSON object", i,
				       evs[i].type);
		if (evs[i].event_id[0] && !uuid_valid(evs[i].event_id))
			return err_set(e, ERR_INVALID,
				       "event %zu (%s): event_id '%s' is not a UUID", i,
				       evs[i].type, evs[i].event_id);
		for (size_t j = 0; j < i; j++)
			if (evs[i].event_id[0] && strcmp(evs[i].event_id, evs[j].event_id) == 0)
				return err_set(e, ERR_INVALID,
					       "event_id %s appears twice in one append",
					       evs[i].event_id);
	}
	if (s->opt.read_only)
		return err_set(e, ERR_READONLY, "%s is open read-only", s->url);
	return s->ops->append(s, stream, expected, evs, n, res ? res : &dummy, e);
}

int store_read_stream(struct store *s, const char *stream, int64_t from, bool backward,
		      size_t limit, struct store_event_list *out, struct err *e)
{
	int rc;
	if ((rc = check_name("stream name", stream, STORE_STREAM_MAX, e)))
		return rc;
	return s->ops->read_stream(s, stream, from, backward, limit, out, e);
}

int store_read_all(struct store *s, int64_t after_position, bool backward, size_t limit,
		   const struct store_filter *f, struct store_event_list *out, struct err *e)
{
	return s->ops->read_all(s, after_position, backward, limit, f, out, e);
}

int store_head(struct store *s, int64_t *position, struct err *e)
{
	return s->ops->head(s, position, e);
}

int store_stream_version(struct store *s, const char *stream, int64_t *version, struct err *e)
{
	return s->ops->stream_version(s, stream, version, e);
}

int store_wait(struct store *s, int64_t after_position, int timeout_ms, struct err *e)
{
	return s->ops->wait(s, after_position, timeout_ms, e);
}

int store_checkpoint_get(struct store *s, const char *name, int64_t *position, struct err *e)
{
	int rc;
	if ((rc = check_name("checkpoint name", name, STORE_STREAM_MAX, e)))
		return rc;
	return s->ops->checkpoint_get(s, name, position, e);
}

int store_checkpoint_set(struct store *s, const char *name, int64_t position, struct err *e)
{
	int rc;
	if ((rc = check_name("checkpoint name", name, STORE_STREAM_MAX, e)))
		return rc;
	if (position < 0)
		return err_set(e, ERR_INVALID, "checkpoint %s: negative position", name);
	return s->ops->checkpoint_set(s, name, position, e);
}

int store_soft_put(struct store *s, const struct store_soft_item *items, size_t n, struct err *e)
{
	int rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = check_name("soft-state key", items[i].key, 1000, e)))
			return rc;
	return n ? s->ops->soft_put(s, items, n, e) : ERR_OK;
}

int store_soft_get(struct store *s, const char *key, json_t **doc, struct err *e)
{
	int rc;
	*doc = NULL;
	if ((rc = check_name("soft-state key", key, 1000, e)))
		return rc;
	return s->ops->soft_get(s, key, doc, e);
}

int store_soft_list(struct store *s, const char *prefix, json_t **docs, struct err *e)
{
	*docs = NULL;
	return s->ops->soft_list(s, prefix ? prefix : "", docs, e);
}

static int lease_args(const char *name, const char *owner, struct err *e)
{
	int rc = check_name("lease name", name, STORE_STREAM_MAX, e);
	if (!rc)
		rc = check_name("lease owner", owner, 127, e);
	return rc;
}

int store_lease_acquire(struct store *s, const char *name, const char *owner, int64_t ttl_ms,
			struct store_lease *out, struct err *e)
{
	int rc;
	if ((rc = lease_args(name, owner, e)))
		return rc;
	if (ttl_ms <= 0)
		return err_set(e, ERR_INVALID, "lease %s: the time to live must be positive", name);
	return s->ops->lease(s, name, owner, ttl_ms, STORE_LEASE_ACQUIRE, out, e);
}

int store_lease_release(struct store *s, const char *name, const char *owner, struct err *e)
{
	struct store_lease l;
	int rc;
	if ((rc = lease_args(name, owner, e)))
		return rc;
	return s->ops->lease(s, name, owner, 0, STORE_LEASE_RELEASE, &l, e);
}

int store_lease_peek(struct store *s, const char *name, struct store_lease *out, struct err *e)
{
	int rc;
	memset(out, 0, sizeof(*out));
	if ((rc = check_name("lease name", name, STORE_STREAM_MAX, e)))
		return rc;
	return s->ops->lease(s, name, "", 0, STORE_LEASE_PEEK, out, e);
}

static int cmp_name_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A name given twice would be answered differently by the back ends (and
 * counted twice against max): refuse it. */
static int check_names_unique(const char *const *names, size_t n, struct err *e)
{
	if (n < 2)
		return ERR_OK;
	const char **sorted = xmalloc(n * sizeof *sorted);
	memcpy(sorted, names, n * sizeof *sorted);
	qsort(sorted, n, sizeof *sorted, cmp_name_ptr);
	int rc = ERR_OK;
	for (size_t i = 1; i < n && !rc; i++)
		if (strcmp(sorted[i - 1], sorted[i]) == 0)
			rc = err_set(e, ERR_INVALID,
				     "leases: the name '%s' appears twice in one claim", sorted[i]);
	free(sorted);
	return rc;
}

int store_lease_claim(struct store *s, const char *owner, int64_t ttl_ms, const char *const *names,
		      size_t n, size_t max, bool *held, struct err *e)
{
	int rc;
	if ((rc = check_name("lease owner", owner, 127, e)))
		return rc;
	if (ttl_ms <= 0)
		return err_set(e, ERR_INVALID, "leases: the time to live must be positive");
	if (n > STORE_APPEND_MAX)
		return err_set(e, ERR_INVALID, "leases: %zu names in one claim; at most %d", n,
			       STORE_APPEND_MAX);
	for (size_t i = 0; i < n; i++) {
		held[i] = false;
		if ((rc = check_name("lease name", names[i], STORE_STREAM_MAX, e)))
			return rc;
	}
	if (n == 0)
		return ERR_OK;
	if ((rc = check_names_unique(names, n, e)))
		return rc;
	rc = s->ops->lease_claim(s, owner, ttl_ms, names, n, max, held, e);
	for (size_t i = 0; rc && i < n; i++)
		held[i] = false; /* the transaction rolled back: nothing changed */
	return rc;
}

int store_lease_list(struct store *s, const char *prefix, json_t **leases, struct err *e)
{
	*leases = NULL;
	return s->ops->lease_list(s, prefix ? prefix : "", leases, e);
}

int store_proj_get(struct store *s, const char *proj, const char *key, json_t **doc, struct err *e)
{
	*doc = NULL;
	return s->ops->proj_get(s, proj, key, doc, e);
}

int store_proj_list(struct store *s, const char *proj, json_t **docs, struct err *e)
{
	*docs = NULL;
	return s->ops->proj_list(s, proj, docs, e);
}

int store_proj_search(struct store *s, const struct store_search *q, json_t **hits, struct err *e)
{
	int rc;

	*hits = NULL;
	if ((rc = check_name("projection name", q->proj, STORE_STREAM_MAX, e)))
		return rc;
	if (q->key && (rc = check_name("document key", q->key, STORE_STREAM_MAX, e)))
		return rc;
	if (q->nterms == 0 || !q->terms)
		return err_set(e, ERR_INVALID, "search in %s: no search terms given", q->proj);
	if (q->nterms > STORE_SEARCH_TERMS_MAX)
		return err_set(e, ERR_INVALID, "search in %s: %zu terms; at most %d", q->proj,
			       q->nterms, STORE_SEARCH_TERMS_MAX);
	for (size_t i = 0; i < q->nterms; i++) {
		if (!q->terms[i].text)
			return err_set(e, ERR_INVALID, "search in %s: term %zu has no text",
				       q->proj, i);
		if (strlen(q->terms[i].text) > STORE_SEARCH_TERM_MAX)
			return err_set(e, ERR_INVALID,
				       "search in %s: term %zu is %zu bytes long; the limit is %d",
				       q->proj, i, strlen(q->terms[i].text), STORE_SEARCH_TERM_MAX);
	}
	if (q->limit > STORE_SEARCH_LIMIT_MAX)
		return err_set(e, ERR_INVALID, "search in %s: limit %zu; at most %d", q->proj,
			       q->limit, STORE_SEARCH_LIMIT_MAX);
	if (!s->ops->proj_search)
		return err_set(e, ERR_STATE, "the %s back end has no full-text search",
			       s->ops->scheme);
	return s->ops->proj_search(s, q, hits, e);
}

int store_replay(struct store *s, bool write, struct store_replay_report *reports, struct err *e)
{
	if (write && s->opt.read_only)
		return err_set(e, ERR_READONLY, "%s is open read-only", s->url);
	for (size_t i = 0; i < s->opt.nprojections; i++) {
		memset(&reports[i], 0, sizeof reports[i]);
		int rc = s->ops->proj_rebuild(s, &s->opt.projections[i], write, &reports[i], e);
		if (rc)
			return rc;
	}
	return ERR_OK;
}

/* ---- projections: fold and compare ---------------------------------------- */

int store_projection_fold(const struct store_projection *p, json_t *docs,
			  const struct store_event *ev, struct err *e)
{
	struct err local = {0};
	json_t *cur = json_object_get(docs, ev->stream);
	json_t *next = p->apply(cur, ev, p->ud, &local);

	if (!next) {
		if (local.code != ERR_OK) {
			if (e)
				*e = local;
			return local.code;
		}
		json_object_del(docs, ev->stream);
		return ERR_OK;
	}
	json_object_set_new(docs, ev->stream, next);
	return ERR_OK;
}

void store_replay_compare(const json_t *stored, const json_t *rebuilt,
			  struct store_replay_report *r)
{
	const char *key;
	json_t *v;

	r->documents = (int64_t)json_object_size(rebuilt);
	json_object_foreach((json_t *)rebuilt, key, v) {
		json_t *old = json_object_get(stored, key);
		if (!old)
			r->missing++;
		else if (json_equal(old, v))
			r->matched++;
		else
			r->different++;
		if ((!old || !json_equal(old, v)) && !r->first_mismatch[0])
			snprintf(r->first_mismatch, sizeof r->first_mismatch, "%s", key);
	}
	json_object_foreach((json_t *)stored, key, v) {
		if (!json_object_get(rebuilt, key)) {
			r->extra++;
			if (!r->first_mismatch[0])
				snprintf(r->first_mismatch, sizeof r->first_mismatch, "%s", key);
		}
	}
}

/* ---- subscriptions ------------------------------------------------------------ */

struct store_sub {
	struct store *store;
	char *name;
	char *stream, *prefix, *type; /* owned copies of the filter */
	struct store_filter filter;
	int64_t position;
	bool loaded;
};

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct store_sub *store_subscribe(struct store *s, const char *name, int64_t from_position,
				  const struct store_filter *f)
{
	struct store_sub *sub = xcalloc(1, sizeof *sub);
	sub->store = s;
	sub->name = dup_or_null(name);
	if (f) {
		sub->filter.stream = sub->stream = dup_or_null(f->stream);
		sub->filter.stream_prefix = sub->prefix = dup_or_null(f->stream_prefix);
		sub->filter.type = sub->type = dup_or_null(f->type);
	}
	sub->position = from_position > 0 ? from_position : 0;
	return sub;
}

/* The durable checkpoint is read lazily so that store_subscribe cannot fail. */
static int sub_load(struct store_sub *sub, struct err *e)
{
	int64_t pos = 0;
	int rc;

	if (sub->loaded || !sub->name) {
		sub->loaded = true;
		return ERR_OK;
	}
	if ((rc = store_checkpoint_get(sub->store, sub->name, &pos, e)))
		return rc;
	if (pos > 0)
		sub->position = pos;
	sub->loaded = true;
	return ERR_OK;
}

int store_sub_next(struct store_sub *sub, size_t max, int timeout_ms, struct store_event_list *out,
		   struct err *e)
{
	int64_t deadline = clock_mono_us(clock_system()) + (int64_t)timeout_ms * 1000;
	int rc;

	if ((rc = sub_load(sub, e)))
		return rc;
	for (;;) {
		size_t before = out->count;
		int64_t head;

		/* Read up to the head as it is now, so a filter that skips many
		 * events still moves the position forward. */
		if ((rc = store_head(sub->store, &head, e)))
			return rc;
		if (head > sub->position) {
			rc = store_read_all(sub->store, sub->position, false, max, &sub->filter,
					    out, e);
			if (rc)
				return rc;
			if (out->count > before)
				sub->position = out->items[out->count - 1].position;
			else
				sub->position = head; /* nothing matched up to head */
			if (out->count > before)
				return ERR_OK;
		}
		int64_t left = deadline - clock_mono_us(clock_system());
		if (left <= 0)
			return err_set(e, ERR_TIMEOUT, "no new events");
		rc = store_wait(sub->store, sub->position, (int)((left + 999) / 1000), e);
		if (rc && rc != ERR_TIMEOUT)
			return rc;
	}
}

int store_sub_ack(struct store_sub *sub, int64_t position, struct err *e)
{
	if (!sub->name)
		return ERR_OK;
	return store_checkpoint_set(sub->store, sub->name, position, e);
}

int64_t store_sub_position(const struct store_sub *sub)
{
	return sub->position;
}

void store_sub_free(struct store_sub *sub)
{
	if (!sub)
		return;
	free(sub->name);
	free(sub->stream);
	free(sub->prefix);
	free(sub->type);
	free(sub);
}

/* ---- event helpers -------------------------------------------------------------- */

void store_event_cleanup(struct store_event *ev)
{
	free(ev->stream);
	free(ev->type);
	json_decref(ev->data);
	json_decref(ev->metadata);
	memset(ev, 0, sizeof *ev);
}

struct store_event *store_event_list_push(struct store_event_list *l)
{
	if (l->count == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->items = xrealloc(l->items, l->cap * sizeof *l->items);
	}
	struct store_event *ev = &l->items[l->count++];
	memset(ev, 0, sizeof *ev);
	return ev;
}

void store_event_list_cleanup(struct store_event_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		store_event_cleanup(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->count = l->cap = 0;
}

json_t *store_event_to_json(const struct store_event *ev)
{
	char ts[CLOCK_ISO_MAX];
	clock_format_utc(ev->recorded_at_us, ts);
	return json_pack("{s:I, s:s, s:s, s:I, s:s, s:o, s:o, s:s}", "position",
			 (json_int_t)ev->position, "event_id", ev->event_id, "stream", ev->stream,
			 "version", (json_int_t)ev->version, "type", ev->type, "data",
			 ev->data ? json_incref(ev->data) : json_object(), "metadata",
			 ev->metadata ? json_incref(ev->metadata) : json_object(), "recorded_at",
			 ts);
}
