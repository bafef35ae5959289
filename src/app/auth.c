/*
 * auth.c - API keys in the event store and bearer-token checks (see
 * auth.h).
 */
/* <openssl/types.h> declares a type ERR_STATE, one of our error codes too
 * (common/err.h): rename it while OpenSSL's headers are read. */
#define ERR_STATE OPENSSL_ERR_STATE
#include <openssl/crypto.h>
#undef ERR_STATE

#include "auth.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/ratelimit.h"
#include "common/uuid.h"
#include "common/xalloc.h"
#include "domain/authz.h"
#include "domain/diff.h"

json_t *app_auth_project_key(const json_t *doc, const struct store_event *ev, void *ud,
			     struct err *e)
{
	char ts[CLOCK_ISO_MAX];
	(void)ud;
	clock_format_utc(ev->recorded_at_us, ts);
	return principal_key_fold(doc, ev->type, ev->data, ts, e);
}

json_t *app_auth_project_authz(const json_t *doc, const struct store_event *ev, void *ud,
			       struct err *e)
{
	(void)ud;
	return authz_fold(doc, ev->type, ev->data, e);
}

static void key_hash(const char *key, char out[DIFF_HASH_HEX_LEN + 8])
{
	char hex[DIFF_HASH_HEX_LEN + 1];
	diff_hash(key, strlen(key), hex);
	snprintf(out, DIFF_HASH_HEX_LEN + 8, "sha256:%s", hex);
}

static int append(struct store *s, const struct app_actor *who, const char *stream,
		  int64_t expected, const char *type, json_t *data, struct err *e)
{
	struct store_new_event ev = {.type = type, .data = data};
	json_t *meta = app_actor_metadata(who);
	int rc;

	uuid_v7(s->clock, ev.event_id);
	ev.metadata = meta;
	rc = store_append(s, stream, expected, &ev, 1, NULL, e);
	json_decref(meta);
	return rc;
}

static json_t *public_doc(const json_t *doc)
{
	json_t *o = json_deep_copy(doc);
	json_object_del(o, "hash");
	return o;
}

int app_auth_key_create(struct store *s, const struct app_actor *who, const char *user,
			const char *role_name, const char *scopes, const char *label,
			char key_out[PRINCIPAL_KEY_LEN + 1], json_t **doc, struct err *e)
{
	unsigned char id_bytes[8], secret[32];
	char canon[PRINCIPAL_SCOPES_MAX], key_id[PRINCIPAL_KEY_ID_LEN + 1];
	char stream[64], hash[DIFF_HASH_HEX_LEN + 8];
	enum principal_role role;
	json_t *data;
	int rc;

	if (doc)
		*doc = NULL;
	if ((rc = principal_user_check(user, e)) ||
	    (rc = principal_role_parse(role_name ? role_name : "user", &role, e)) ||
	    (rc = principal_scopes_check(scopes ? scopes : "*", canon, e)))
		return rc;
	if (label && strlen(label) > 200)
		return err_set(e, ERR_INVALID, "a key label has at most 200 bytes");
	random_bytes(id_bytes, sizeof id_bytes);
	random_bytes(secret, sizeof secret);
	principal_key_format(id_bytes, secret, key_out);
	principal_key_parse(key_out, key_id, NULL);
	key_hash(key_out, hash);
	snprintf(stream, sizeof stream, PRINCIPAL_STREAM_PREFIX "%s", key_id);
	data = json_pack("{s:s,s:s,s:s,s:s,s:s}", "key_id", key_id, "user_id", user, "role",
			 principal_role_name(role), "scopes", canon, "hash", hash);
	if (label && *label)
		json_object_set_new(data, "label", json_string(label));
	rc = append(s, who, stream, STORE_EXPECT_NO_STREAM, PRINCIPAL_EV_KEY_CREATED, data, e);
	if (!rc && doc) {
		json_t *stored = NULL;
		if (!store_proj_get(s, APP_KEYS_PROJECTION, stream, &stored, NULL)) {
			*doc = public_doc(stored);
			json_decref(stored);
		}
	}
	json_decref(data);
	memset(secret, 0, sizeof secret);
	if (rc)
		memset(key_out, 0, PRINCIPAL_KEY_LEN + 1);
	return rc;
}

int app_auth_key_revoke(struct store *s, const struct app_actor *who, const char *key_id_or_key,
			const char *reason, struct err *e)
{
	char key_id[PRINCIPAL_KEY_ID_LEN + 1], stream[64];
	json_t *doc = NULL, *data;
	int rc;

	if (key_id_or_key && strncmp(key_id_or_key, PRINCIPAL_KEY_PREFIX, 4) == 0) {
		if ((rc = principal_key_parse(key_id_or_key, key_id, e)))
			return rc;
	} else {
		snprintf(key_id, sizeof key_id, "%s", key_id_or_key ? key_id_or_key : "");
	}
	snprintf(stream, sizeof stream, PRINCIPAL_STREAM_PREFIX "%s", key_id);
	rc = store_proj_get(s, APP_KEYS_PROJECTION, stream, &doc, NULL);
	if (rc)
		return err_set(e, ERR_NOT_FOUND,
			       "no API key with id \"%.16s\"; `ambient keys list` shows the ids",
			       key_id);
	if (json_object_get(doc, "revoked_at")) {
		json_decref(doc);
		return ERR_OK; /* revoking twice changes nothing */
	}
	json_decref(doc);
	data = json_pack("{s:s}", "key_id", key_id);
	if (reason && *reason)
		json_object_set_new(data, "reason", json_string_lossy(reason));
	rc = append(s, who, stream, STORE_EXPECT_EXISTS, PRINCIPAL_EV_KEY_REVOKED, data, e);
	json_decref(data);
	return rc;
}

int app_auth_key_list(struct store *s, json_t **keys, struct err *e)
{
	json_t *docs = NULL, *v;
	const char *k;
	int rc;

	*keys = NULL;
	if ((rc = store_proj_list(s, APP_KEYS_PROJECTION, &docs, e)))
		return rc;
	*keys = json_array();
	json_object_foreach(docs, k, v)
		json_array_append_new(*keys, public_doc(v));
	json_decref(docs);
	return ERR_OK;
}

bool app_auth_have_keys(struct store *s)
{
	json_t *docs = NULL, *v;
	const char *k;
	bool any = false;

	if (!s || store_proj_list(s, APP_KEYS_PROJECTION, &docs, NULL))
		return false;
	json_object_foreach(docs, k, v)
		any = any || !json_object_get(v, "revoked_at");
	json_decref(docs);
	return any;
}

char *app_principal_to_text(const struct principal *p)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:b}", "user", p->user, "role",
			      principal_role_name(p->role), "scopes", p->scopes, "key_id",
			      p->key_id, "authenticated", p->authenticated);
	char *t = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return t ? t : xstrdup("{}");
}

int app_principal_from_text(const char *text, struct principal *p, struct err *e)
{
	json_t *o = json_loads(text ? text : "", 0, NULL);
	enum principal_role role;
	const char *user = json_get_str(o, "user");

	memset(p, 0, sizeof *p);
	if (!user || principal_role_parse(json_get_str(o, "role"), &role, NULL)) {
		json_decref(o);
		return err_set(e, ERR_INVALID, "not a principal");
	}
	snprintf(p->user, sizeof p->user, "%s", user);
	snprintf(p->scopes, sizeof p->scopes, "%s",
		 json_get_str(o, "scopes") ? json_get_str(o, "scopes") : "*");
	snprintf(p->key_id, sizeof p->key_id, "%s",
		 json_get_str(o, "key_id") ? json_get_str(o, "key_id") : "");
	p->role = role;
	p->authenticated = json_is_true(json_object_get(o, "authenticated"));
	json_decref(o);
	return ERR_OK;
}

/* ---- checking tokens -------------------------------------------------------- */

struct app_auth {
	struct store *store;
	char (*config_hashes)[DIFF_HASH_HEX_LEN + 8]; /* of the --api-keys; the keys are not kept */
	size_t nconfig;
	struct clock *clock;
	struct ratelimit *failures; /* per key id */
	atomic_long failed;
};

struct app_auth *app_auth_new(const struct app_auth_options *opt)
{
	struct app_auth *a = xcalloc(1, sizeof *a);

	a->store = opt ? opt->store : NULL;
	a->clock = opt && opt->clock ? opt->clock : clock_system();
	for (size_t i = 0; opt && opt->config_keys && opt->config_keys[i]; i++) {
		if (!*opt->config_keys[i])
			continue;
		a->config_hashes =
			xrealloc(a->config_hashes, (a->nconfig + 1) * sizeof *a->config_hashes);
		key_hash(opt->config_keys[i], a->config_hashes[a->nconfig++]);
	}
	a->failures = ratelimit_new(APP_AUTH_FAILURE_WINDOW_US);
	return a;
}

void app_auth_free(struct app_auth *a)
{
	if (!a)
		return;
	free(a->config_hashes);
	ratelimit_free(a->failures);
	free(a);
}

bool app_auth_any_keys(struct app_auth *a)
{
	return a->nconfig > 0 || app_auth_have_keys(a->store);
}

/* Two "sha256:<hex>" hashes, compared in constant time. */
static bool same_hash(const char *x, const char *y)
{
	size_t n = strlen(x);
	return n == strlen(y) && CRYPTO_memcmp(x, y, n) == 0;
}

long app_auth_failures(struct app_auth *a)
{
	return atomic_load(&a->failed);
}

int app_auth_check(struct app_auth *a, const char *token, struct principal *p, struct err *e)
{
	char key_id[PRINCIPAL_KEY_ID_LEN + 1], stream[64], hash[DIFF_HASH_HEX_LEN + 8];
	int64_t now = clock_wall_us(a->clock), retry = 0;
	json_t *doc = NULL;
	int rc;

	memset(p, 0, sizeof *p);
	if (!token)
		token = "";
	key_hash(token, hash);
	for (size_t i = 0; i < a->nconfig; i++)
		if (same_hash(hash, a->config_hashes[i])) {
			snprintf(p->user, sizeof p->user, "admin");
			snprintf(p->scopes, sizeof p->scopes, "*");
			snprintf(p->key_id, sizeof p->key_id, "config-%hu",
				 (unsigned short)(i + 1));
			p->role = PRINCIPAL_ROLE_ADMIN;
			p->authenticated = true;
			return ERR_OK;
		}
	if (principal_key_parse(token, key_id, NULL)) {
		atomic_fetch_add(&a->failed, 1);
		return err_set(e, ERR_INVALID,
			       "malformed API key: send 'Authorization: Bearer amb_...' with a "
			       "key from `ambient keys create`");
	}
	/* a locked key id stays locked whatever is presented */
	if (ratelimit_count(a->failures, key_id, now) >= APP_AUTH_FAILURES_MAX) {
		atomic_fetch_add(&a->failed, 1);
		return err_set(e, ERR_PERM,
			       "too many failed attempts for API key %s; try again in up to %d "
			       "minutes",
			       key_id, (int)(APP_AUTH_FAILURE_WINDOW_US / 60000000));
	}
	snprintf(stream, sizeof stream, PRINCIPAL_STREAM_PREFIX "%s", key_id);
	rc = a->store ? store_proj_get(a->store, APP_KEYS_PROJECTION, stream, &doc, NULL)
		      : ERR_NOT_FOUND;
	if (rc || !json_get_str(doc, "hash") || !same_hash(hash, json_get_str(doc, "hash"))) {
		json_decref(doc);
		atomic_fetch_add(&a->failed, 1);
		ratelimit_take(a->failures, key_id, APP_AUTH_FAILURES_MAX, now, &retry);
		return err_set(e, ERR_PERM, "unknown or wrong API key");
	}
	rc = principal_from_doc(doc, p, e);
	json_decref(doc);
	if (rc)
		atomic_fetch_add(&a->failed, 1);
	return rc;
}
