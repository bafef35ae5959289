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
	char *key; /* user \x1f status \x1f task_type */
	int64_t head; /* the projection stamp it was rendered at */
	char *text_data;       /* Python-style data, escaped as JSON string content */
	char *structured_data; /* compact data */
	char *message;
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
	free(x->text_data);
	free(x->structured_data);
	free(x->message);
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

bool app_list_cache_get(struct app_list_cache *c, const char *key, int64_t head,
			struct app_list_render *out)
{
	bool hit = false;
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < LIST_CACHE_SLOTS && !hit; i++) {
		struct list_entry *x = &c->slots[i];
		if (!x->key || x->head != head || strcmp(x->key, key) != 0)
			continue;
		x->used = ++c->clock;
		out->text_data = xstrdup(x->text_data);
		out->structured_data = xstrdup(x->structured_data);
		out->message = xstrdup(x->message);
		hit = true;
	}
	if (hit)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->mu);
	return hit;
}

void app_list_cache_put(struct app_list_cache *c, const char *key, int64_t head,
			const struct app_list_render *r)
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
	victim->text_data = xstrdup(r->text_data);
	victim->structured_data = xstrdup(r->structured_data);
	victim->message = xstrdup(r->message);
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

void app_list_render_cleanup(struct app_list_render *r)
{
	free(r->text_data);
	free(r->structured_data);
	free(r->message);
	memset(r, 0, sizeof *r);
}

int app_list_render_data(const json_t *data, const char *message, struct app_list_render *out)
{
	memset(out, 0, sizeof *out);
	char *py = app_mcp_dumps(data, 0);
	json_t *s = json_string(py);
	free(py);
	char *quoted = s ? json_dumps(s, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_decref(s);
	out->structured_data = json_dumps(data, JSON_COMPACT);
	if (!quoted || !out->structured_data) {
		free(quoted);
		app_list_render_cleanup(out);
		return ERR_INTERNAL;
	}
	/* the content of the JSON string, without its quotes */
	size_t n = strlen(quoted);
	out->text_data = xstrndup(quoted + 1, n - 2);
	free(quoted);
	out->message = xstrdup(message);
	return ERR_OK;
}

/* Replace the first `mark` in text with `with` (NULL when not found). */
static char *splice(const char *text, const char *mark, const char *with)
{
	const char *at = strstr(text, mark);
	if (!at)
		return NULL;
	size_t head = (size_t)(at - text), mlen = strlen(mark), wlen = strlen(with);
	size_t tail = strlen(at + mlen);
	char *out = xmalloc(head + wlen + tail + 1);
	memcpy(out, text, head);
	memcpy(out + head, with, wlen);
	memcpy(out + head + wlen, at + mlen, tail + 1);
	return out;
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
	 * so the first mark in each is ours. */
	char *one = splice(envelope, SPLICE_IN_TEXT, r->text_data);
	free(envelope);
	if (!one)
		return NULL;
	char *two = splice(one, SPLICE_IN_STRUCTURED, r->structured_data);
	free(one);
	return two;
}
