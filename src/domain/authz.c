/*
 * authz.c - authorization requests for HIGH and CRITICAL tools (see
 * authz.h).
 */
#include "authz.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"
#include "domain/diff.h"

const char *authz_state_name(enum authz_state s)
{
	switch (s) {
	case AUTHZ_NONE:
		return "none";
	case AUTHZ_PENDING:
		return "pending";
	case AUTHZ_APPROVED:
		return "approved";
	case AUTHZ_DENIED:
		return "denied";
	case AUTHZ_EXPIRED:
		return "expired";
	}
	return "?";
}

void authz_request_id(const char *user, const char *tool, const json_t *args,
		      char out[AUTHZ_ID_LEN + 1])
{
	json_t *copy = args ? json_deep_copy(args) : json_object();
	char *argtext, hex[DIFF_HASH_HEX_LEN + 1];
	size_t ul = strlen(user), tl = strlen(tool), al;

	json_object_del(copy, "user_id"); /* the user is hashed on its own */
	argtext = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(copy);
	al = argtext ? strlen(argtext) : 0;

	char *buf = malloc(ul + tl + al + 3);
	if (!buf)
		abort();
	memcpy(buf, user, ul + 1);
	memcpy(buf + ul + 1, tool, tl + 1);
	if (al)
		memcpy(buf + ul + tl + 2, argtext, al);
	diff_hash(buf, ul + tl + 2 + al, hex);
	free(buf);
	free(argtext);
	memcpy(out, hex, AUTHZ_ID_LEN);
	out[AUTHZ_ID_LEN] = '\0';
}

int authz_id_check(const char *id, struct err *e)
{
	size_t n = id ? strlen(id) : 0;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)id[i]) || isupper((unsigned char)id[i]))
			n = 0;
	if (n != AUTHZ_ID_LEN)
		return err_set(e, ERR_INVALID,
			       "a request id is 32 lower-case hex digits, as given in the "
			       "'Authorization required' message or by get_authorization_requests");
	return ERR_OK;
}

json_t *authz_fold(const json_t *doc, const char *type, const json_t *data, struct err *e)
{
	json_t *next;

	if (strcmp(type, AUTHZ_EV_REQUESTED) == 0) {
		/* a new cycle: forget the old answer */
		next = json_deep_copy(data);
		json_object_set_new(next, "status", json_string("pending"));
		return next;
	}
	if (!doc) {
		err_set(e, ERR_NOT_FOUND, "no authorization request %s",
			json_get_str(data, "request_id") ? json_get_str(data, "request_id") : "");
		return NULL;
	}
	next = json_deep_copy(doc);
	if (strcmp(type, AUTHZ_EV_APPROVED) == 0) {
		json_object_set_new(next, "status", json_string("approved"));
		json_object_set(next, "approved_by", json_object_get(data, "approved_by"));
		json_object_set(next, "approved_at_us", json_object_get(data, "approved_at_us"));
		json_object_set(next, "valid_until_us", json_object_get(data, "valid_until_us"));
	} else if (strcmp(type, AUTHZ_EV_DENIED) == 0) {
		json_object_set_new(next, "status", json_string("denied"));
		json_object_set(next, "denied_by", json_object_get(data, "denied_by"));
		if (json_object_get(data, "reason"))
			json_object_set(next, "denial_reason", json_object_get(data, "reason"));
	}
	return next;
}

enum authz_state authz_state_at(const json_t *doc, int64_t now_us)
{
	const char *st = json_get_str(doc, "status");

	if (!doc || !st)
		return AUTHZ_NONE;
	if (strcmp(st, "approved") == 0)
		return now_us < json_get_int(doc, "valid_until_us", 0) ? AUTHZ_APPROVED
								       : AUTHZ_NONE;
	if (strcmp(st, "denied") == 0)
		return AUTHZ_DENIED;
	return now_us < json_get_int(doc, "expires_at_us", 0) ? AUTHZ_PENDING : AUTHZ_EXPIRED;
}

static void set_time(json_t *o, const char *key, const json_t *doc, const char *us_key)
{
	char iso[CLOCK_ISO_MAX];
	json_t *v = json_object_get(doc, us_key);
	if (json_is_integer(v)) {
		clock_format_utc(json_integer_value(v), iso);
		json_object_set_new(o, key, json_string(iso));
	}
}

json_t *authz_view(const json_t *doc, int64_t now_us)
{
	static const char *const copy[] = {
		"request_id", "tool",        "user_id",   "principal",     "level", "reason",
		"arguments",  "approved_by", "denied_by", "denial_reason", NULL};
	json_t *o = json_object();

	for (size_t i = 0; copy[i]; i++)
		if (json_object_get(doc, copy[i]))
			json_object_set(o, copy[i], json_object_get(doc, copy[i]));
	json_object_set_new(o, "status",
			    json_string(authz_state_name(authz_state_at(doc, now_us))));
	set_time(o, "requested_at", doc, "requested_at_us");
	set_time(o, "expires_at", doc, "expires_at_us");
	set_time(o, "approved_at", doc, "approved_at_us");
	set_time(o, "valid_until", doc, "valid_until_us");
	return o;
}
