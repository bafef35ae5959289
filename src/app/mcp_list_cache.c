/*
 * mcp_list_cache.c - list_background_tasks answered from rendered text.
 *
 * Rendering the list is most of a list call's cost (reading and parsing
 * every projection document, the summaries, two JSON dumps of ~80 kB for
 * 100 tasks), and the list changes only when the log does.  So the two
 * renderings of the result's `data` object (Python-style for the text
 * content, compact for structuredContent) are kept per (user, status,
 * task_type), stamped with the tasks projection's change counter
 * (STORE_PROJECTION_STAMP, which the store moves in the transaction of
 * every change).  A call that reads the same stamp gets them back; only the
 * small envelope (status, action, message, the per-call timestamp) is
 * rendered, through the same code as every other result, and the data
 * spliced in.
 *
 * The stamp is read before the list, so what a list shows is at least as
 * new as its stamp, and any change after it moves the stamp: a client that
 * lists right after creating sees its task, on any node.  Appends that do
 * not touch the projection (the audit trail, other streams) leave the
 * stamp, and the cache, alone.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_internal.h"
#include "common/xalloc.h"

#define LIST_CACHE_SLOTS 32
/* A stand-in for the data while the envelope is rendered: a string no
 * envelope holds (control characters), found by its escaped forms. */
#define SPLICE_MARK "\x01" "ambient-list-data" "\x01"
#define SPLICE_IN_STRUCTURED "\"\\u0001ambient-list-data\\u0001\""
#define SPLICE_IN_TEXT "\\\"\\\\u0001ambient-list-data\\\\u0001\\\""

struct list_entry {
	char *key;    /* user \x1f status \x1f task_type */
	int64_t head; /* the projection stamp it was rendered at */
	struct app_list_render *r;
	unsigned long used; /* for replacement: the least recently used goes */
};

struct app_list_cache {
	pthread_mutex_t mu;
	struct list_entry slots[LIST_CACHE_SLOTS];
	unsigned long clock;
	unsigned long hits, misses;
};

struct app_list_cache *app_list_cache_new(void)
{
	struct app_list_cache *c = xcalloc(1, sizeof *c);
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

static void entry_clear(struct list_entry *x)
{
	free(x->key);
	app_list_render_unref(x->r);
	memset(x, 0, sizeof *x);
}

void app_list_cache_free(struct app_list_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < LIST_CACHE_SLOTS; i++)
		entry_clear(&c->slots[i]);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

char *app_list_cache_key(const char *user, const char *status, const char *type)
{
	return xasprintf("%s\x1f%s\x1f%s", user ? user : "", status ? status : "",
			 type ? type : "");
}

struct app_list_render *app_list_cache_get(struct app_list_cache *c, const char *key,
					   int64_t head)
{
	struct app_list_render *r = NULL;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < LIST_CACHE_SLOTS && !r; i++) {
		struct list_entry *x = &c->slots[i];
		if (!x->key || x->head != head || strcmp(x->key, key) != 0)
			continue;
		x->used = ++c->clock;
		r = x->r;
		atomic_fetch_add(&r->refs, 1);
	}
	if (r)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->mu);
	return r;
}

void app_list_cache_put(struct app_list_cache *c, const char *key, int64_t head,
			struct app_list_render *r)
{
	pthread_mutex_lock(&c->mu);
	struct list_entry *victim = NULL;
	for (size_t i = 0; i < LIST_CACHE_SLOTS; i++) {
		struct list_entry *x = &c->slots[i];
		if (x->key && strcmp(x->key, key) == 0) {
			victim = x; /* replace this key's older rendering */
			break;
		}
		if (!victim || !x->key || (victim->key && x->used < victim->used))
			victim = x;
	}
	if (victim->key && victim->head > head && strcmp(victim->key, key) == 0) {
		pthread_mutex_unlock(&c->mu); /* a newer one is there already */
		return;
	}
	entry_clear(victim);
	victim->key = xstrdup(key);
	victim->head = head;
	atomic_fetch_add(&r->refs, 1);
	victim->r = r;
	victim->used = ++c->clock;
	pthread_mutex_unlock(&c->mu);
}

void app_list_cache_counts(struct app_list_cache *c, unsigned long *hits, unsigned long *misses)
{
	pthread_mutex_lock(&c->mu);
	*hits = c->hits;
	*misses = c->misses;
	pthread_mutex_unlock(&c->mu);
}

void app_list_render_unref(struct app_list_render *r)
{
	if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	free(r->text_data);
	free(r->structured_data);
	free(r->message);
	free(r);
}

struct app_list_render *app_list_render_new(const json_t *data, const char *message)
{
	char *py = app_mcp_dumps(data, 0);
	json_t *s = json_string(py);
	free(py);
	char *quoted = s ? json_dumps(s, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_decref(s);
	char *structured = json_dumps(data, JSON_COMPACT);
	if (!quoted || !structured) {
		free(quoted);
		free(structured);
		return NULL;
	}
	struct app_list_render *r = xcalloc(1, sizeof *r);
	atomic_init(&r->refs, 1);
	/* the content of the JSON string, without its quotes */
	r->text_data = xstrndup(quoted + 1, strlen(quoted) - 2);
	free(quoted);
	r->structured_data = structured;
	r->message = xstrdup(message);
	return r;
}

char *app_list_render_result(struct app_mcp *a, const char *action,
			     const struct app_list_render *r)
{
	/* The envelope, rendered as any other success result. */
	json_t *res = app_mcp_success(a, action, json_string(SPLICE_MARK), r->message);
	char *envelope = json_dumps(res, JSON_COMPACT);
	json_decref(res);
	if (!envelope)
		return NULL;
	/* The data comes before the message and the timestamp in both forms,
	 * so the first mark of each form is ours; neither form's mark can
	 * occur in the other (their escaping differs). */
	struct {
		const char *at, *with;
		size_t mark_len, with_len;
	} cut[2] = {
		{strstr(envelope, SPLICE_IN_TEXT), r->text_data, strlen(SPLICE_IN_TEXT)},
		{strstr(envelope, SPLICE_IN_STRUCTURED), r->structured_data,
		 strlen(SPLICE_IN_STRUCTURED)},
	};
	if (!cut[0].at || !cut[1].at) {
		free(envelope);
		return NULL;
	}
	if (cut[1].at < cut[0].at) {
		__typeof__(cut[0]) t = cut[0];
		cut[0] = cut[1];
		cut[1] = t;
	}
	size_t total = strlen(envelope) + 1 - cut[0].mark_len - cut[1].mark_len;
	for (int i = 0; i < 2; i++) {
		cut[i].with_len = strlen(cut[i].with);
		total += cut[i].with_len;
	}
	/* one allocation, each piece copied once */
	char *out = xmalloc(total), *p = out;
	const char *from = envelope;
	for (int i = 0; i < 2; i++) {
		memcpy(p, from, (size_t)(cut[i].at - from));
		p += cut[i].at - from;
		memcpy(p, cut[i].with, cut[i].with_len);
		p += cut[i].with_len;
		from = cut[i].at + cut[i].mark_len;
	}
	strcpy(p, from);
	free(envelope);
	return out;
}
