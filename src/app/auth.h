/*
 * auth.h - API keys over the event store, and checking a presented key.
 *
 * Keys are events (domain/principal.h) in streams "apikey-<key id>", folded
 * into the projection "api_keys", so every process on the same store (and
 * every node of a cluster) knows the same keys.  Only the SHA-256 of a key
 * is stored; the key itself is shown once, when it is made.
 *
 * struct app_auth checks bearer tokens for the HTTP servers: a key from the
 * store, or one of the keys given on the command line (--api-keys, which
 * stand for admins).  Ten failed attempts on one key id within ten minutes
 * lock that key id for the rest of the window, so a key's secret cannot be
 * guessed online; no message ever repeats the token.
 *
 * The authorization-request projection ("authorizations", streams
 * "authz-<id>", domain/authz.h) is registered here too.
 */
#ifndef AMBIENT_APP_AUTH_H
#define AMBIENT_APP_AUTH_H

#include <jansson.h>
#include <stdbool.h>

#include "app/tasks.h"
#include "common/err.h"
#include "domain/principal.h"
#include "store/store.h"

#define APP_KEYS_PROJECTION "api_keys"
#define APP_AUTHZ_PROJECTION "authorizations"
#define APP_AUTH_FAILURES_MAX 10
#define APP_AUTH_FAILURE_WINDOW_US (10LL * 60 * 1000000)

/* Projection adapters (for app_projections). */
json_t *app_auth_project_key(const json_t *doc, const struct store_event *ev, void *ud,
			     struct err *e);
json_t *app_auth_project_authz(const json_t *doc, const struct store_event *ev, void *ud,
			       struct err *e);

/* Make a key for user with role and scopes (NULL: "*"), label optional.
 * key_out gets the key text (shown once); *doc (may be NULL) the stored
 * document without its hash. */
int app_auth_key_create(struct store *s, const struct app_actor *who, const char *user,
			const char *role, const char *scopes, const char *label,
			char key_out[PRINCIPAL_KEY_LEN + 1], json_t **doc, struct err *e);
/* Revoke by key id (or by the whole key).  ERR_NOT_FOUND when unknown. */
int app_auth_key_revoke(struct store *s, const struct app_actor *who, const char *key_id,
			const char *reason, struct err *e);
/* Every key, oldest first, without hashes: [{key_id, user_id, role, scopes,
 * label, created_at, revoked_at?}]. */
int app_auth_key_list(struct store *s, json_t **keys, struct err *e);
/* Whether the store holds at least one key that is not revoked. */
bool app_auth_have_keys(struct store *s);

/* A principal as compact JSON text (for http_server, which passes strings)
 * and back. */
char *app_principal_to_text(const struct principal *p);
int app_principal_from_text(const char *text, struct principal *p, struct err *e);

struct app_auth;

struct app_auth_options {
	struct store *store;            /* keys from the store; may be NULL */
	const char *const *config_keys; /* plain keys from --api-keys (admins); may be NULL */
	struct clock *clock;            /* NULL: the system clock */
};

struct app_auth *app_auth_new(const struct app_auth_options *opt);
void app_auth_free(struct app_auth *a);

/* Whether any key exists (config or store): then authentication is on
 * unless the server was told otherwise. */
bool app_auth_any_keys(struct app_auth *a);

/* Check a bearer token.  ERR_PERM (bad or revoked key, locked key id) or
 * ERR_INVALID (malformed) with a message safe to show. */
int app_auth_check(struct app_auth *a, const char *token, struct principal *p, struct err *e);

/* How many checks failed since start (for check_security_status). */
long app_auth_failures(struct app_auth *a);

#endif
