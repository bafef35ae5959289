/*
 * principal.h - who is calling: API keys, principals, roles and scopes.
 *
 * An API key is "amb_" + a 16-hex key id + "_" + a 43-character base64url
 * secret (32 random bytes).  The key id is public (it names the key in
 * listings and the audit log); only the SHA-256 of the whole key is kept
 * (hashed at rest), in the events of the stream "apikey-<key id>":
 *
 *   api_key_created {key_id, user_id, role, scopes[], label, hash}
 *   api_key_revoked {key_id, reason?}
 *
 * A principal is what a verified key (or the local, unauthenticated user)
 * stands for: a user id, a role (user or admin) and scopes.  A scope is an
 * area, optionally narrowed to reading: "tasks", "tasks:read", "memories",
 * "memories:read", "notify", "web", "admin", or "*" for all.  A tool needs
 * "<area>:read" when it only reads and "<area>:write" otherwise; "tasks"
 * grants both.
 *
 * Pure: no I/O.  Random bytes and hashing are the caller's (keys are made
 * in app/auth.c).
 */
#ifndef AMBIENT_DOMAIN_PRINCIPAL_H
#define AMBIENT_DOMAIN_PRINCIPAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

#define PRINCIPAL_KEY_PREFIX "amb_"
#define PRINCIPAL_KEY_ID_LEN 16 /* hex digits */
#define PRINCIPAL_SECRET_LEN 43 /* base64url of 32 bytes, no padding */
#define PRINCIPAL_KEY_LEN (4 + PRINCIPAL_KEY_ID_LEN + 1 + PRINCIPAL_SECRET_LEN)
#define PRINCIPAL_USER_MAX 128
#define PRINCIPAL_SCOPES_MAX 256 /* bytes of the comma-separated list */
#define PRINCIPAL_STREAM_PREFIX "apikey-"

#define PRINCIPAL_EV_KEY_CREATED "api_key_created"
#define PRINCIPAL_EV_KEY_REVOKED "api_key_revoked"

enum principal_role { PRINCIPAL_ROLE_USER, PRINCIPAL_ROLE_ADMIN };

struct principal {
	char key_id[PRINCIPAL_KEY_ID_LEN + 1]; /* "" when no key stands behind it */
	char user[PRINCIPAL_USER_MAX + 1];
	enum principal_role role;
	char scopes[PRINCIPAL_SCOPES_MAX]; /* comma-separated; "*" for all */
	bool authenticated;                /* false: the local, trusted user */
};

const char *principal_role_name(enum principal_role r);
/* "user" or "admin"; ERR_INVALID otherwise, saying which are known. */
int principal_role_parse(const char *s, enum principal_role *out, struct err *e);

/* A user id: 1-128 characters of [A-Za-z0-9._@+-].  ERR_INVALID with the
 * reason otherwise. */
int principal_user_check(const char *user, struct err *e);

/* A comma-separated scope list ("tasks,memories:read", "*") checked against
 * the known areas; *out (may be NULL) gets the canonical list. */
int principal_scopes_check(const char *list, char out[PRINCIPAL_SCOPES_MAX], struct err *e);

/* Whether the principal's scopes grant `need` ("tasks:read",
 * "notify:write", ...). */
bool principal_has_scope(const struct principal *p, const char *need);

/* Split a presented token into key id and secret.  ERR_INVALID (with a
 * message that never repeats the token) when it is not shaped like a key. */
int principal_key_parse(const char *token, char key_id[PRINCIPAL_KEY_ID_LEN + 1], struct err *e);

/* Make a key from 8 + 32 random bytes: out gets the key text. */
void principal_key_format(const unsigned char id_bytes[8], const unsigned char secret_bytes[32],
			  char out[PRINCIPAL_KEY_LEN + 1]);

/* Fold an api_key_* event into the key's document ({key_id, user_id,
 * role, scopes, label, hash, created_at, revoked_at?}).  doc may be NULL
 * (first event); returns a new document or NULL with e set. */
json_t *principal_key_fold(const json_t *doc, const char *type, const json_t *data,
			   const char *recorded_at, struct err *e);

/* The principal a key document stands for.  ERR_PERM when revoked. */
int principal_from_doc(const json_t *doc, struct principal *p, struct err *e);

/* The local user of stdio and of HTTP without authentication: trusted, an
 * admin (it may act for any user_id, like the original), user `user`. */
void principal_local(struct principal *p, const char *user);

#endif
