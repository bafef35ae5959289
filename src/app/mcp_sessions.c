/*
 * mcp_sessions.c - the MCP session directory on soft state (see
 * mcp_sessions.h).
 *
 * Soft state has no compare-and-set, so the rules are: a session's record
 * is written by the node that handles a change (the HTTP server serializes
 * changes of one session within a node and reloads the record before each
 * request), its last use lives under a key of its own (any node may write
 * "now" there without losing another node's change), and an update of a
 * removed session is refused after a read (a removal racing with a change
 * in the same millisecond may leave the record behind; it then expires).
 *
 * Times come from the clock given at construction, else from the real
 * clock (not the demo clock, whose jumps would expire every session).
 */
#include "app/mcp_sessions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/auth.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"

#define KEY_MAX (sizeof(APP_MCP_SESSION_REPLY_PREFIX) + APP_MCP_SESSION_ID_MAX + 32)

struct app_mcp_sessions {
	struct store *store;
	struct clock *clock;
};

struct app_mcp_sessions *app_mcp_sessions_new(struct store *s, struct clock *clk)
{
	struct app_mcp_sessions *d = xcalloc(1, sizeof(*d));

	d->store = s;
	d->clock = clk;
	return d;
}

void app_mcp_sessions_free(struct app_mcp_sessions *d)
{
	free(d);
}

static int64_t now_us(struct app_mcp_sessions *d)
{
	struct timespec ts;

	if (d->clock)
		return clock_wall_us(d->clock);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A session id as the HTTP server makes them (a UUID), or any other short
 * run of [A-Za-z0-9._-]: nothing that could change a key's meaning. */
static bool id_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > APP_MCP_SESSION_ID_MAX)
		return false;
	for (const char *p = id; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static void key_of(char *out, const char *prefix, const char *id)
{
	snprintf(out, KEY_MAX, "%s%s", prefix, id);
}

static void reply_key(char *out, const char *id, long long request_id)
{
	snprintf(out, KEY_MAX, "%s%s/%lld", APP_MCP_SESSION_REPLY_PREFIX, id, request_id);
}

static int bad_id(struct err *e)
{
	return err_set(e, ERR_INVALID, "a session id is 1-%d characters of A-Z a-z 0-9 . _ -",
		       APP_MCP_SESSION_ID_MAX);
}

/* The principal as stored: only user, role, scopes and key id. */
static int clean_principal(const json_t *p, json_t **out, struct err *e)
{
	struct principal pr;
	char *text;

	*out = NULL;
	if (!p || json_is_null(p)) {
		*out = json_null();
		return ERR_OK;
	}
	if (!json_is_string(p) || app_principal_from_text(json_string_value(p), &pr, NULL))
		return err_set(e, ERR_INVALID,
			       "a session's principal must be one of ambient's (user, role, "
			       "scopes, key id); it is not stored otherwise");
	text = app_principal_to_text(&pr);
	*out = json_string(text);
	free(text);
	return ERR_OK;
}

int app_mcp_sessions_save(void *dp, const char *id, const json_t *record, bool create,
			  struct err *e)
{
	struct app_mcp_sessions *d = dp;
	char key[KEY_MAX], used_key[KEY_MAX];
	const json_t *mcp = json_object_get(record, "mcp");
	json_t *principal = NULL, *doc, *used, *old = NULL;
	int64_t now = now_us(d);
	int rc;

	if (!id_ok(id))
		return bad_id(e);
	if (!json_is_object(mcp))
		return err_set(e, ERR_INVALID, "a session record needs its \"mcp\" state object");
	if ((rc = clean_principal(json_object_get(record, "principal"), &principal, e)))
		return rc;
	key_of(key, APP_MCP_SESSION_PREFIX, id);
	key_of(used_key, APP_MCP_SESSION_USED_PREFIX, id);
	if (!create) {
		rc = store_soft_get(d->store, key, &old, e);
		json_decref(old);
		if (rc) {
			json_decref(principal);
			if (rc == ERR_NOT_FOUND)
				return err_set(e, ERR_NOT_FOUND,
					       "MCP session %s was deleted or expired", id);
			return rc;
		}
	}
	doc = json_pack("{s:o,s:O,s:I}", "principal", principal, "mcp", mcp, "saved_at",
			(json_int_t)now);
	used = json_pack("{s:I}", "at", (json_int_t)now);
	struct store_soft_item items[2] = {{.key = key, .doc = doc},
					   {.key = used_key, .doc = used}};
	rc = store_soft_put(d->store, items, 2, e);
	json_decref(doc);
	json_decref(used);
	return rc;
}

int app_mcp_sessions_load(void *dp, const char *id, json_t **record, struct err *e)
{
	struct app_mcp_sessions *d = dp;
	char key[KEY_MAX];
	json_t *doc = NULL;
	const json_t *mcp, *pr;
	int rc;

	*record = NULL;
	if (!id_ok(id)) /* such a session cannot exist */
		return err_set(e, ERR_NOT_FOUND, "no MCP session has that id");
	key_of(key, APP_MCP_SESSION_PREFIX, id);
	if ((rc = store_soft_get(d->store, key, &doc, e)))
		return rc;
	mcp = json_object_get(doc, "mcp");
	pr = json_object_get(doc, "principal");
	if (!json_is_object(mcp) || (pr && !json_is_null(pr) && !json_is_string(pr))) {
		log_warn("mcp sessions: the record of session %.8s... is malformed; ignored", id);
		json_decref(doc);
		return err_set(e, ERR_NOT_FOUND, "the record of MCP session %s is malformed", id);
	}
	*record = json_pack("{s:O,s:O}", "principal", pr ? pr : json_null(), "mcp", mcp);
	json_decref(doc);
	return ERR_OK;
}

/* Delete keys (an object whose keys are soft-state keys) plus extras. */
static int delete_keys(struct app_mcp_sessions *d, const json_t *keys, const char *const *extra,
		       size_t nextra, struct err *e)
{
	size_t n = json_object_size(keys) + nextra, i = 0;
	struct store_soft_item *items;
	const char *k;
	json_t *v;
	int rc;

	if (!n)
		return ERR_OK;
	items = xcalloc(n, sizeof(*items));
	json_object_foreach((json_t *)keys, k, v)
		items[i++].key = k;
	for (size_t j = 0; j < nextra; j++)
		items[i++].key = extra[j];
	rc = store_soft_put(d->store, items, n, e);
	free(items);
	return rc;
}

int app_mcp_sessions_remove(void *dp, const char *id, struct err *e)
{
	struct app_mcp_sessions *d = dp;
	char key[KEY_MAX], used_key[KEY_MAX], prefix[KEY_MAX];
	json_t *replies = NULL;
	int rc;

	if (!id_ok(id))
		return ERR_OK; /* never stored */
	key_of(key, APP_MCP_SESSION_PREFIX, id);
	key_of(used_key, APP_MCP_SESSION_USED_PREFIX, id);
	snprintf(prefix, sizeof prefix, "%s%s/", APP_MCP_SESSION_REPLY_PREFIX, id);
	if ((rc = store_soft_list(d->store, prefix, &replies, e)))
		return rc;
	const char *extra[2] = {key, used_key};
	rc = delete_keys(d, replies, extra, 2, e);
	json_decref(replies);
	return rc;
}

int app_mcp_sessions_touch(void *dp, const char *id, struct err *e)
{
	struct app_mcp_sessions *d = dp;
	char key[KEY_MAX];
	json_t *used;
	int rc;

	if (!id_ok(id))
		return bad_id(e);
	key_of(key, APP_MCP_SESSION_USED_PREFIX, id);
	used = json_pack("{s:I}", "at", (json_int_t)now_us(d));
	struct store_soft_item it = {.key = key, .doc = used};
	rc = store_soft_put(d->store, &it, 1, e);
	json_decref(used);
	return rc;
}

int app_mcp_sessions_expire(void *dp, int idle_s, struct err *e)
{
	struct app_mcp_sessions *d = dp;
	json_t *records = NULL, *used = NULL, *replies = NULL, *gone = json_object(), *v;
	int64_t now = now_us(d), idle_us = (int64_t)(idle_s > 0 ? idle_s : 1) * 1000000;
	size_t plen = strlen(APP_MCP_SESSION_PREFIX), ulen = strlen(APP_MCP_SESSION_USED_PREFIX);
	char key[KEY_MAX];
	const char *k;
	int rc;

	if ((rc = store_soft_list(d->store, APP_MCP_SESSION_PREFIX, &records, e)) ||
	    (rc = store_soft_list(d->store, APP_MCP_SESSION_USED_PREFIX, &used, e)) ||
	    (rc = store_soft_list(d->store, APP_MCP_SESSION_REPLY_PREFIX, &replies, e)))
		goto out;
	/* A session's last use: its used key, else when it was saved. */
	json_object_foreach(records, k, v) {
		const char *id = k + plen;
		key_of(key, APP_MCP_SESSION_USED_PREFIX, id);
		json_int_t at = json_get_int(json_object_get(used, key), "at",
					     json_get_int(v, "saved_at", 0));
		if (now - at > idle_us) {
			json_object_set_new(gone, k, json_true());
			json_object_set_new(gone, key, json_true());
		}
	}
	json_object_foreach(used, k, v) {
		key_of(key, APP_MCP_SESSION_PREFIX, k + ulen);
		if (!json_object_get(records, key) && now - json_get_int(v, "at", 0) > idle_us)
			json_object_set_new(gone, k, json_true());
	}
	json_object_foreach(replies, k, v) {
		if (now - json_get_int(v, "at", 0) > (int64_t)APP_MCP_REPLY_TTL_S * 1000000)
			json_object_set_new(gone, k, json_true());
	}
	if (json_object_size(gone))
		log_debug("mcp sessions: forgetting %zu idle key(s)", json_object_size(gone));
	rc = delete_keys(d, gone, NULL, 0, e);
out:
	json_decref(records);
	json_decref(used);
	json_decref(replies);
	json_decref(gone);
	return rc;
}

int app_mcp_sessions_post_reply(void *dp, const char *id, long long request_id, const json_t *msg,
				struct err *e)
{
	struct app_mcp_sessions *d = dp;
	char key[KEY_MAX];
	json_t *doc;
	int rc;

	if (!id_ok(id))
		return bad_id(e);
	if (!json_is_object(msg))
		return err_set(e, ERR_INVALID, "a client response is a JSON object");
	reply_key(key, id, request_id);
	doc = json_pack("{s:O,s:I}", "msg", msg, "at", (json_int_t)now_us(d));
	struct store_soft_item it = {.key = key, .doc = doc};
	rc = store_soft_put(d->store, &it, 1, e);
	json_decref(doc);
	return rc;
}

int app_mcp_sessions_take_reply(void *dp, const char *id, long long request_id, json_t **msg,
				struct err *e)
{
	struct app_mcp_sessions *d = dp;
	char key[KEY_MAX];
	json_t *doc = NULL;
	int rc;

	*msg = NULL;
	if (!id_ok(id))
		return err_set(e, ERR_NOT_FOUND, "no MCP session has that id");
	reply_key(key, id, request_id);
	if ((rc = store_soft_get(d->store, key, &doc, e)))
		return rc;
	struct store_soft_item it = {.key = key, .doc = NULL};
	if ((rc = store_soft_put(d->store, &it, 1, e))) {
		json_decref(doc);
		return rc;
	}
	if (!json_is_object(json_object_get(doc, "msg"))) {
		json_decref(doc);
		return err_set(e, ERR_NOT_FOUND, "the handed-over response is malformed");
	}
	*msg = json_incref(json_object_get(doc, "msg"));
	json_decref(doc);
	return ERR_OK;
}

int app_mcp_sessions_count(struct app_mcp_sessions *d, size_t *n, struct err *e)
{
	json_t *records = NULL;
	int rc = store_soft_list(d->store, APP_MCP_SESSION_PREFIX, &records, e);

	*n = rc ? 0 : json_object_size(records);
	json_decref(records);
	return rc;
}
