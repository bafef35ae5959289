/*
 * principal.c - API key text, roles, scopes and the key document (see
 * principal.h).
 */
#include "principal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"

/* The areas a scope may name, and what each covers. */
static const char *const areas[] = {"tasks", "memories", "notify", "web", "admin", NULL};

const char *principal_role_name(enum principal_role r)
{
	return r == PRINCIPAL_ROLE_ADMIN ? "admin" : "user";
}

int principal_role_parse(const char *s, enum principal_role *out, struct err *e)
{
	if (s && strcmp(s, "user") == 0)
		*out = PRINCIPAL_ROLE_USER;
	else if (s && strcmp(s, "admin") == 0)
		*out = PRINCIPAL_ROLE_ADMIN;
	else
		return err_set(e, ERR_INVALID, "unknown role \"%.40s\": use \"user\" or \"admin\"",
			       s ? s : "");
	return ERR_OK;
}

int principal_user_check(const char *user, struct err *e)
{
	size_t n = user ? strlen(user) : 0;

	if (n == 0 || n > PRINCIPAL_USER_MAX)
		return err_set(e, ERR_INVALID, "a user id has 1 to %d characters (got %zu)",
			       PRINCIPAL_USER_MAX, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)user[i];
		if (!isalnum(c) && !strchr("._@+-", c))
			return err_set(e, ERR_INVALID,
				       "a user id may only hold letters, digits and . _ @ + - "
				       "(character %zu is not one)",
				       i + 1);
	}
	return ERR_OK;
}

/* The area of one scope item ("tasks:read" -> "tasks"), and whether it is
 * read-only.  false when the item is not a known scope. */
static bool scope_item(const char *item, size_t len, size_t *area_len, bool *read_only)
{
	const char *colon = memchr(item, ':', len);
	size_t alen = colon ? (size_t)(colon - item) : len;

	*read_only = false;
	if (colon) {
		size_t rest = len - alen - 1;
		if (rest == 5 && memcmp(colon + 1, "write", 5) == 0)
			*read_only = false;
		else if (rest == 4 && memcmp(colon + 1, "read", 4) == 0)
			*read_only = true;
		else
			return false;
	}
	*area_len = alen;
	if (alen == 1 && item[0] == '*')
		return !colon;
	for (size_t i = 0; areas[i]; i++)
		if (strlen(areas[i]) == alen && memcmp(areas[i], item, alen) == 0)
			return true;
	return false;
}

int principal_scopes_check(const char *list, char out[PRINCIPAL_SCOPES_MAX], struct err *e)
{
	char canon[PRINCIPAL_SCOPES_MAX] = "";
	size_t used = 0;
	const char *p = list ? list : "";

	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p), alen;
		bool ro;

		while (len && isspace((unsigned char)*p))
			p++, len--;
		while (len && isspace((unsigned char)p[len - 1]))
			len--;
		if (len && !scope_item(p, len, &alen, &ro))
			return err_set(e, ERR_INVALID,
				       "unknown scope \"%.*s\": use * or tasks, memories, notify, "
				       "web, admin, each optionally with :read or :write",
				       (int)(len > 40 ? 40 : len), p);
		if (len) {
			if (used + len + 2 > sizeof canon)
				return err_set(e, ERR_INVALID, "too many scopes (at most %d bytes)",
					       PRINCIPAL_SCOPES_MAX - 1);
			used += (size_t)snprintf(canon + used, sizeof canon - used, "%s%.*s",
						 used ? "," : "", (int)len, p);
		}
		if (!end)
			break;
		p = end + 1;
	}
	if (!used)
		return err_set(e, ERR_INVALID,
			       "no scopes given: use * for all, or e.g. "
			       "\"tasks,memories:read\"");
	if (out)
		memcpy(out, canon, sizeof canon);
	return ERR_OK;
}

bool principal_has_scope(const struct principal *p, const char *need)
{
	const char *colon = strchr(need, ':');
	size_t need_area = colon ? (size_t)(colon - need) : strlen(need);
	bool need_write = !colon || strcmp(colon + 1, "read") != 0;
	const char *s = p->scopes;

	while (*s) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s), alen;
		bool ro;

		if (scope_item(s, len, &alen, &ro)) {
			bool all = alen == 1 && s[0] == '*';
			bool area = all || (alen == need_area && memcmp(s, need, alen) == 0);
			if (area && (!ro || !need_write))
				return true;
		}
		if (!end)
			break;
		s = end + 1;
	}
	return false;
}

int principal_key_parse(const char *token, char key_id[PRINCIPAL_KEY_ID_LEN + 1], struct err *e)
{
	static const char *const shape =
		"an ambient API key looks like amb_<16 hex digits>_<43 characters>; create one "
		"with `ambient keys create --user NAME`";
	size_t n = token ? strlen(token) : 0;

	if (n != PRINCIPAL_KEY_LEN || strncmp(token, PRINCIPAL_KEY_PREFIX, 4) != 0 ||
	    token[4 + PRINCIPAL_KEY_ID_LEN] != '_')
		return err_set(e, ERR_INVALID, "malformed API key: %s", shape);
	for (size_t i = 0; i < PRINCIPAL_KEY_ID_LEN; i++)
		if (!isxdigit((unsigned char)token[4 + i]) || isupper((unsigned char)token[4 + i]))
			return err_set(e, ERR_INVALID, "malformed API key: %s", shape);
	for (size_t i = 5 + PRINCIPAL_KEY_ID_LEN; i < n; i++) {
		unsigned char c = (unsigned char)token[i];
		if (!isalnum(c) && c != '-' && c != '_')
			return err_set(e, ERR_INVALID, "malformed API key: %s", shape);
	}
	memcpy(key_id, token + 4, PRINCIPAL_KEY_ID_LEN);
	key_id[PRINCIPAL_KEY_ID_LEN] = '\0';
	return ERR_OK;
}

void principal_key_format(const unsigned char id_bytes[8], const unsigned char secret_bytes[32],
			  char out[PRINCIPAL_KEY_LEN + 1])
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;

	memcpy(out, PRINCIPAL_KEY_PREFIX, 4);
	o = 4;
	for (int i = 0; i < 8; i++)
		o += (size_t)snprintf(out + o, 3, "%02x", id_bytes[i]);
	out[o++] = '_';
	/* base64url of 32 bytes: 10 groups of 3 bytes, then 2 bytes (3 chars) */
	for (int i = 0; i < 30; i += 3) {
		unsigned v = (unsigned)secret_bytes[i] << 16 | (unsigned)secret_bytes[i + 1] << 8 |
			     secret_bytes[i + 2];
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = b64[v >> 6 & 63];
		out[o++] = b64[v & 63];
	}
	unsigned v = (unsigned)secret_bytes[30] << 8 | secret_bytes[31];
	out[o++] = b64[v >> 10 & 63];
	out[o++] = b64[v >> 4 & 63];
	out[o++] = b64[(v << 2) & 63];
	out[o] = '\0';
}

json_t *principal_key_fold(const json_t *doc, const char *type, const json_t *data,
			   const char *recorded_at, struct err *e)
{
	json_t *next;

	if (strcmp(type, PRINCIPAL_EV_KEY_CREATED) == 0) {
		if (doc) {
			err_set(e, ERR_CONFLICT, "API key %s exists already",
				json_get_str(doc, "key_id"));
			return NULL;
		}
		next = json_deep_copy(data);
		json_object_set_new(next, "created_at", json_string(recorded_at));
		return next;
	}
	if (strcmp(type, PRINCIPAL_EV_KEY_REVOKED) == 0) {
		if (!doc) {
			err_set(e, ERR_NOT_FOUND, "no such API key");
			return NULL;
		}
		next = json_deep_copy(doc);
		if (!json_object_get(next, "revoked_at"))
			json_object_set_new(next, "revoked_at", json_string(recorded_at));
		return next;
	}
	return doc ? json_deep_copy(doc) : NULL; /* events of later versions: ignored */
}

int principal_from_doc(const json_t *doc, struct principal *p, struct err *e)
{
	const char *id = json_get_str(doc, "key_id"), *user = json_get_str(doc, "user_id");
	const char *scopes = json_get_str(doc, "scopes");
	enum principal_role role;

	memset(p, 0, sizeof *p);
	if (!id || !user || principal_role_parse(json_get_str(doc, "role"), &role, e))
		return err_set(e, ERR_CORRUPT, "API key document is incomplete");
	if (json_object_get(doc, "revoked_at"))
		return err_set(e, ERR_PERM, "API key %.16s was revoked", id);
	snprintf(p->key_id, sizeof p->key_id, "%s", id);
	snprintf(p->user, sizeof p->user, "%s", user);
	snprintf(p->scopes, sizeof p->scopes, "%s", scopes ? scopes : "*");
	p->role = role;
	p->authenticated = true;
	return ERR_OK;
}

void principal_local(struct principal *p, const char *user)
{
	memset(p, 0, sizeof *p);
	snprintf(p->user, sizeof p->user, "%s", user && *user ? user : "default");
	snprintf(p->scopes, sizeof p->scopes, "*");
	p->role = PRINCIPAL_ROLE_ADMIN;
	p->authenticated = false;
}
