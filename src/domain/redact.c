/*
 * redact.c - secrets out, contacts masked (see redact.h).
 */
#include "redact.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"

#define DEPTH_MAX 16

static const char *const secret_names[] = {
	"password",    "passwd",        "secret",     "token",  "api_key",    "apikey", "api-key",
	"private_key", "authorization", "credential", "cookie", "auth_token", NULL,
};

static const char *const secret_prefixes[] = {
	"amb_", "whsec_", "sk-", "Bearer ", "Basic ", "xoxb-", "xoxp-", "ghp_", "github_pat_", NULL,
};

static bool contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	return false;
}

bool redact_is_secret_name(const char *key)
{
	for (size_t i = 0; key && secret_names[i]; i++)
		if (contains_ci(key, secret_names[i]))
			return true;
	return false;
}

/* Length of a secret-looking word starting at s, or 0. */
static size_t secret_at(const char *s)
{
	for (size_t i = 0; secret_prefixes[i]; i++) {
		size_t n = strlen(secret_prefixes[i]);
		if (strncmp(s, secret_prefixes[i], n) == 0) {
			size_t len = n;
			while (s[len] &&
			       (isalnum((unsigned char)s[len]) || strchr("-_+/=.", s[len])))
				len++;
			/* a prefix alone ("sk-" in prose) is no secret: need 8 more */
			if (len >= n + 8)
				return len;
		}
	}
	return 0;
}

bool redact_is_secret_value(const char *s)
{
	if (!s)
		return false;
	for (const char *p = s; *p; p++)
		if ((p == s || !isalnum((unsigned char)p[-1])) && secret_at(p))
			return true;
	return false;
}

void redact_text(char *text)
{
	size_t r = 0, w = 0, rl = strlen(REDACTED);

	if (!text)
		return;
	while (text[r]) {
		size_t n =
			(r == 0 || !isalnum((unsigned char)text[r - 1])) ? secret_at(text + r) : 0;
		if (n >= rl) {
			memcpy(text + w, REDACTED, rl); /* never longer than what it replaces */
			w += rl;
			r += n;
		} else {
			text[w++] = text[r++];
		}
	}
	text[w] = '\0';
}

static json_t *cut_string(const char *s)
{
	size_t n = strlen(s);
	if (n <= REDACT_STRING_MAX)
		return json_string(s);
	n = REDACT_STRING_MAX;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	json_t *j = json_stringn(s, n);
	return j ? j : json_string("[...]");
}

/* A deep copy of v whose strings pass through leaf(); when secret_keys is
 * set, members whose key names a secret become REDACTED first. */
static json_t *walk(const json_t *v, int depth, bool secret_keys, json_t *(*leaf)(const char *s))
{
	if (!v)
		return NULL;
	if (depth > DEPTH_MAX)
		return json_string("[...]");
	if (json_is_object(v)) {
		json_t *o = json_object();
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x) {
			if (secret_keys && redact_is_secret_name(k) && !json_is_null(x) &&
			    !json_is_boolean(x))
				json_object_set_new(o, k, json_string(REDACTED));
			else
				json_object_set_new(o, k, walk(x, depth + 1, secret_keys, leaf));
		}
		return o;
	}
	if (json_is_array(v)) {
		json_t *arr = json_array();
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x)
			json_array_append_new(arr, walk(x, depth + 1, secret_keys, leaf));
		return arr;
	}
	if (json_is_string(v))
		return leaf(json_string_value(v));
	return json_deep_copy(v);
}

static json_t *redact_leaf(const char *s)
{
	return redact_is_secret_value(s) ? json_string(REDACTED) : cut_string(s);
}

json_t *redact_json(const json_t *v)
{
	return walk(v, 0, true, redact_leaf);
}

void redact_mask_phone(const char *phone, char *out, size_t size)
{
	size_t digits = 0, seen = 0, o = 0;

	if (!size)
		return;
	for (const char *p = phone; p && *p; p++)
		digits += isdigit((unsigned char)*p) != 0;
	for (const char *p = phone; p && *p && o + 1 < size; p++) {
		if (!isdigit((unsigned char)*p)) {
			if (*p == '+')
				out[o++] = '+';
			continue;
		}
		seen++;
		/* keep the first digit (country) and the last two */
		out[o++] = (seen <= 1 || seen + 2 > digits) ? *p : '*';
	}
	out[o] = '\0';
}

void redact_mask_email(const char *email, char *out, size_t size)
{
	const char *at = email ? strrchr(email, '@') : NULL;

	if (!size)
		return;
	if (!at || at == email) {
		snprintf(out, size, "***");
		return;
	}
	snprintf(out, size, "%c***%s", email[0], at);
}

static bool looks_like_phone(const char *s)
{
	size_t digits = 0;
	if (*s != '+')
		return false;
	for (const char *p = s + 1; *p; p++) {
		if (isdigit((unsigned char)*p))
			digits++;
		else if (!strchr(" -().", *p))
			return false;
	}
	return digits >= 7 && digits <= 15;
}

static bool looks_like_email(const char *s)
{
	const char *at = strchr(s, '@');
	return at && at > s && strchr(at, '.') && !strchr(s, ' ') && !strchr(s, '/') &&
	       strchr(at + 1, '@') == NULL;
}

static json_t *mask_string(const char *s)
{
	char buf[320];
	const char *schemes[] = {"mailto://", "mailto:", "twilio://", "sms:", "tel:", NULL};

	for (size_t i = 0; schemes[i]; i++) {
		size_t n = strlen(schemes[i]);
		if (strncasecmp(s, schemes[i], n) == 0) {
			json_t *inner = mask_string(s + n);
			char out[400];
			snprintf(out, sizeof out, "%s%s", schemes[i],
				 json_is_string(inner) ? json_string_value(inner) : "***");
			json_decref(inner);
			return json_string(out);
		}
	}
	if (looks_like_phone(s)) {
		redact_mask_phone(s, buf, sizeof buf);
		return json_string(buf);
	}
	if (looks_like_email(s)) {
		redact_mask_email(s, buf, sizeof buf);
		return json_string_lossy(buf);
	}
	return json_string(s);
}

json_t *redact_mask_contacts(const json_t *v)
{
	return walk(v, 0, false, mask_string);
}

static json_t *redact_mask_leaf(const char *s)
{
	if (redact_is_secret_value(s))
		return json_string(REDACTED);
	json_t *cut = cut_string(s), *masked = mask_string(json_string_value(cut));
	json_decref(cut);
	return masked;
}

json_t *redact_json_masked(const json_t *v)
{
	return walk(v, 0, true, redact_mask_leaf);
}
