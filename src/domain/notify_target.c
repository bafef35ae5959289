/*
 * notify_target.c - a task's "notification" value parsed into targets.
 *
 * Error messages name the element with a path a person can find in the
 * config ("notification[1].phone_number", "notification.urls[0]") and say
 * what would be accepted there; task_config.c prefixes them with "config.".
 * Every string copied into a target is length-checked against its field, so
 * nothing is ever truncated silently: too long is an error.
 */
#include "notify_target.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"

#define PATH_MAX_LEN 64
#define GOT_LEN 80

static const char *const channel_names[NOTIFY_CHANNEL__COUNT] = {"sms", "email", "webhook", "ntfy"};

static const char supported_schemes[] =
	"twilio://SID:TOKEN@FROM/TO, mailto://user:pass@smtp.host/?to=addr, mailtos://..., "
	"mailto:addr, ntfy://topic, ntfy://host/topic, ntfys://host/topic, json://host/path, "
	"jsons://host/path";

const char *notify_channel_name(enum notify_channel c)
{
	if ((int)c < 0 || c >= NOTIFY_CHANNEL__COUNT)
		return "unknown";
	return channel_names[c];
}

int notify_channel_parse(const char *name, enum notify_channel *out, struct err *e)
{
	for (int i = 0; i < NOTIFY_CHANNEL__COUNT; i++) {
		if (name && strcmp(name, channel_names[i]) == 0) {
			*out = (enum notify_channel)i;
			return ERR_OK;
		}
	}
	return err_set(e, ERR_INVALID,
		       "unknown channel \"%.40s\": use one of sms, email, webhook, ntfy",
		       name ? name : "(null)");
}

/* ---- small helpers ------------------------------------------------------ */

/* A value as short JSON text for "(got ...)". */
static void got_text(const json_t *v, char out[GOT_LEN + 4])
{
	char *t;

	if (!v) {
		strcpy(out, "nothing");
		return;
	}
	t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!t) {
		strcpy(out, "?");
		return;
	}
	if (strlen(t) > GOT_LEN)
		snprintf(out, GOT_LEN + 4, "%.*s...", GOT_LEN - 3, t);
	else
		snprintf(out, GOT_LEN + 4, "%s", t);
	free(t);
}

/* Copy s[0..n) into dst[size]; false when it does not fit. */
static bool put(char *dst, size_t size, const char *s, size_t n)
{
	if (n >= size)
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

static bool has_ctl(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decode s[0..n) into dst[size]; false on a bad escape, %00, a
 * control character or when it does not fit. */
static bool pct_decode(const char *s, size_t n, char *dst, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int h, l;

			if (i + 2 >= n)
				return false;
			h = hexval((unsigned char)s[i + 1]);
			l = hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0)
				return false;
			c = h * 16 + l;
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return false;
		if (o + 1 >= size)
			return false;
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
	return true;
}

bool notify_e164(const char *in, char out[NOTIFY_E164_MAX + 1])
{
	size_t nd = 0;
	bool plus = false;

	if (!in)
		return false;
	for (const char *p = in; *p; p++) {
		if (*p == '+') {
			if (plus || nd > 0)
				return false;
			plus = true;
			continue;
		}
		if (strchr(" -.()", *p))
			continue;
		if (!isdigit((unsigned char)*p))
			return false;
		if (nd == 0 && !plus)
			return false; /* a digit before the '+' */
		if (nd == 0 && *p == '0')
			return false;
		if (nd >= 15)
			return false;
		out[1 + nd++] = *p;
	}
	if (!plus || nd < 8)
		return false;
	out[0] = '+';
	out[1 + nd] = '\0';
	return true;
}

static bool is_email(const char *s)
{
	const char *at = strchr(s, '@');
	size_t len = strlen(s);

	if (!at || at == s || !at[1] || strchr(at + 1, '@') || len > NOTIFY_ADDR_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || strchr("<>,;\"\\", *p))
			return false;
	return true;
}

/* http(s)://host[...] without spaces or characters URLs may not hold. */
static bool is_http_url(const char *s)
{
	const char *p, *host, *end;

	if (!s || strlen(s) > NOTIFY_URL_MAX)
		return false;
	if (strncasecmp(s, "http://", 7) == 0)
		host = s + 7;
	else if (strncasecmp(s, "https://", 8) == 0)
		host = s + 8;
	else
		return false;
	for (p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || strchr("\"<>\\^`{|}", *p))
			return false;
	end = host + strcspn(host, "/?#");
	for (p = host; p < end; p++)
		if (*p == '@')
			host = p + 1;
	return host < end && *host != ':';
}

/* ntfy topics: letters, digits, '-' and '_', 1-64 of them. */
static bool is_topic(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

/* A host[:port] of a URL: no spaces or URL delimiters, port 1-65535. */
static bool is_hostport(const char *s, size_t n)
{
	size_t h = n;

	if (n == 0 || has_ctl(s, n))
		return false;
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', n);

		if (!rb)
			return false;
		h = (size_t)(rb - s) + 1;
		if (h < n && s[h] != ':')
			return false;
	} else {
		const char *c = memchr(s, ':', n);

		if (c)
			h = (size_t)(c - s);
	}
	if (h == 0)
		return false;
	for (size_t i = 0; i < h; i++)
		if (strchr("/?#@\"<>\\^`{|}%", s[i]))
			return false;
	if (h < n) {
		long port = 0;

		if (h + 1 == n || n - h - 1 > 5)
			return false;
		for (size_t i = h + 1; i < n; i++) {
			if (!isdigit((unsigned char)s[i]))
				return false;
			port = port * 10 + (s[i] - '0');
		}
		if (port < 1 || port > 65535)
			return false;
	}
	return true;
}

/* ---- the parse state ---------------------------------------------------- */

struct parse {
	struct notify_target *out;
	size_t max, n;
	struct err *e;
};

static int too_many(struct parse *ps, const char *path)
{
	return err_set(ps->e, ERR_INVALID,
		       "%s: too many notification targets (at most %zu); remove some", path,
		       ps->max < NOTIFY_TARGETS_MAX ? ps->max : (size_t)NOTIFY_TARGETS_MAX);
}

/* A zeroed new target, or NULL (error set) when the list is full. */
static struct notify_target *add(struct parse *ps, const char *path, enum notify_channel c,
				 int min_priority)
{
	struct notify_target *t;

	if (ps->n >= ps->max || ps->n >= NOTIFY_TARGETS_MAX) {
		too_many(ps, path);
		return NULL;
	}
	t = &ps->out[ps->n++];
	memset(t, 0, sizeof *t);
	t->channel = c;
	t->min_priority = min_priority;
	return t;
}

static int too_long(struct parse *ps, const char *path, const char *what, size_t max)
{
	return err_set(ps->e, ERR_INVALID, "%s: the %s is too long (at most %zu bytes)", path, what,
		       max);
}

/* ---- Apprise-style URL strings ------------------------------------------ */

/* One URL split in parts; pointers into the string (not NUL-terminated). */
struct url_parts {
	const char *scheme;
	size_t scheme_len;
	const char *user, *pass, *host, *path, *query;
	size_t user_len, pass_len, host_len, path_len, query_len;
	bool has_pass;
};

static void split_url(const char *s, const char *rest, struct url_parts *u)
{
	const char *auth_end, *at = NULL, *colon;

	memset(u, 0, sizeof *u);
	u->scheme = s;
	u->scheme_len = (size_t)(rest - 3 - s);
	auth_end = rest + strcspn(rest, "/?#");
	for (const char *p = rest; p < auth_end; p++)
		if (*p == '@')
			at = p;
	if (at) {
		u->user = rest;
		colon = memchr(rest, ':', (size_t)(at - rest));
		if (colon) {
			u->user_len = (size_t)(colon - rest);
			u->pass = colon + 1;
			u->pass_len = (size_t)(at - colon - 1);
			u->has_pass = true;
		} else {
			u->user_len = (size_t)(at - rest);
		}
		u->host = at + 1;
	} else {
		u->host = rest;
	}
	u->host_len = (size_t)(auth_end - u->host);
	u->path = auth_end;
	u->path_len = strcspn(auth_end, "?#");
	if (auth_end[u->path_len] == '?') {
		u->query = auth_end + u->path_len + 1;
		u->query_len = strcspn(u->query, "#");
	}
}

/* Find query parameter `name`; its raw value in *v, *vn.  false when absent. */
static bool query_get(const struct url_parts *u, const char *name, const char **v, size_t *vn)
{
	const char *p = u->query, *end = u->query + u->query_len;
	size_t nl = strlen(name);

	if (!p)
		return false;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(pe - p));

		if (eq && (size_t)(eq - p) == nl && strncasecmp(p, name, nl) == 0) {
			*v = eq + 1;
			*vn = (size_t)(pe - eq - 1);
			return true;
		}
		p = pe + 1;
	}
	return false;
}

/* ?min_priority=N on any URL: 1..5. */
static int url_min_priority(struct parse *ps, const char *path, const struct url_parts *u, int *mp)
{
	const char *v;
	size_t vn;

	if (!query_get(u, "min_priority", &v, &vn))
		return ERR_OK;
	if (vn != 1 || v[0] < '1' || v[0] > '5')
		return err_set(ps->e, ERR_INVALID,
			       "%s: min_priority in the URL must be a number from 1 to 5 (got "
			       "\"%.*s\")",
			       path, (int)(vn > 20 ? 20 : vn), v);
	*mp = v[0] - '0';
	return ERR_OK;
}

/* A phone number from a twilio:// URL: E.164, the '+' optional there
 * (Apprise writes "15551234567"). */
static bool url_phone(const char *s, size_t n, char out[NOTIFY_E164_MAX + 1])
{
	char raw[66], dec[64];

	if (n + 2 > sizeof dec || !pct_decode(s, n, dec, sizeof dec))
		return false;
	raw[0] = '+';
	memcpy(raw + (dec[0] == '+' ? 0 : 1), dec, strlen(dec) + 1);
	return notify_e164(raw, out);
}

static int parse_twilio(struct parse *ps, const char *path, const char *s,
			const struct url_parts *u, int mp)
{
	char sid[NOTIFY_SECRET_MAX + 1], token[NOTIFY_SECRET_MAX + 1], from[NOTIFY_E164_MAX + 1];
	const char *p, *end;
	size_t count = 0;

	(void)s;
	if (!u->user || !u->has_pass || u->user_len == 0 || u->pass_len == 0)
		return err_set(ps->e, ERR_INVALID,
			       "%s: a twilio:// URL needs the account SID and auth token: "
			       "twilio://SID:TOKEN@FROM/TO (e.g. "
			       "twilio://ACxxxx:yyyy@+15551230000/+15557654321)",
			       path);
	if (!pct_decode(u->user, u->user_len, sid, sizeof sid))
		return err_set(ps->e, ERR_INVALID,
			       "%s: the Twilio account SID in the URL is too long or badly "
			       "escaped (at most %d bytes)",
			       path, NOTIFY_SECRET_MAX);
	if (!pct_decode(u->pass, u->pass_len, token, sizeof token))
		return err_set(ps->e, ERR_INVALID,
			       "%s: the Twilio auth token in the URL is too long or badly escaped "
			       "(at most %d bytes)",
			       path, NOTIFY_SECRET_MAX);
	for (const char *c = sid; *c; c++)
		if (!isalnum((unsigned char)*c))
			return err_set(ps->e, ERR_INVALID,
				       "%s: the Twilio account SID must be letters and digits "
				       "(it starts with \"AC\")",
				       path);
	if (!url_phone(u->host, u->host_len, from))
		return err_set(ps->e, ERR_INVALID,
			       "%s: the sender number after '@' in the twilio:// URL must be a "
			       "phone number with its country code such as +15551230000 (got "
			       "\"%.*s\")",
			       path, (int)(u->host_len > 40 ? 40 : u->host_len), u->host);
	p = u->path;
	end = u->path + u->path_len;
	while (p < end) {
		const char *seg, *slash;
		size_t sn;
		struct notify_target *t;

		while (p < end && *p == '/')
			p++;
		if (p >= end)
			break;
		seg = p;
		slash = memchr(p, '/', (size_t)(end - p));
		sn = slash ? (size_t)(slash - p) : (size_t)(end - p);
		p = seg + sn;
		if (!(t = add(ps, path, NOTIFY_CHANNEL_SMS, mp)))
			return ERR_INVALID;
		if (!url_phone(seg, sn, t->to))
			return err_set(ps->e, ERR_INVALID,
				       "%s: each recipient in the twilio:// URL path must be a "
				       "phone number with its country code such as +15557654321 "
				       "(got \"%.*s\")",
				       path, (int)(sn > 40 ? 40 : sn), seg);
		strcpy(t->user, sid);
		strcpy(t->password, token);
		strcpy(t->from, from);
		count++;
	}
	if (count == 0)
		return err_set(ps->e, ERR_INVALID,
			       "%s: the twilio:// URL names no recipient: add it after the sender, "
			       "twilio://SID:TOKEN@FROM/TO",
			       path);
	return ERR_OK;
}

/* Split "a@b,c@d" (percent-decoded) into e-mail targets sharing *proto. */
static int add_emails(struct parse *ps, const char *path, const char *list, size_t n,
		      const struct notify_target *proto)
{
	char dec[NOTIFY_ADDR_MAX * 4 + 1];
	const char *p;
	size_t count = 0;

	if (!pct_decode(list, n, dec, sizeof dec))
		return err_set(ps->e, ERR_INVALID,
			       "%s: the recipient list is too long or badly escaped", path);
	p = dec;
	while (*p) {
		size_t sn = strcspn(p, ",");
		struct notify_target *t;
		char addr[NOTIFY_ADDR_MAX + 1];

		if (sn > 0) {
			if (!put(addr, sizeof addr, p, sn) || !is_email(addr))
				return err_set(ps->e, ERR_INVALID,
					       "%s: \"%.*s\" is not an e-mail address such as "
					       "me@example.com",
					       path, (int)(sn > 60 ? 60 : sn), p);
			if (!(t = add(ps, path, NOTIFY_CHANNEL_EMAIL, proto->min_priority)))
				return ERR_INVALID;
			*t = *proto;
			t->channel = NOTIFY_CHANNEL_EMAIL;
			strcpy(t->to, addr);
			count++;
		}
		p += sn;
		if (*p == ',')
			p++;
	}
	if (count == 0)
		return err_set(ps->e, ERR_INVALID,
			       "%s: no e-mail address to send to: use mailto:me@example.com or "
			       "mailto://user:pass@smtp.host/?to=me@example.com",
			       path);
	return ERR_OK;
}

static int parse_mailto(struct parse *ps, const char *path, const char *s,
			const struct url_parts *u, bool tls, int mp)
{
	struct notify_target proto;
	char host[NOTIFY_URL_MAX + 1];
	const char *v;
	size_t vn;
	int n;

	(void)s;
	memset(&proto, 0, sizeof proto);
	proto.min_priority = mp;
	if (!is_hostport(u->host, u->host_len) || !put(host, sizeof host, u->host, u->host_len))
		return err_set(ps->e, ERR_INVALID,
			       "%s: the mail server in the %s:// URL must be a host name with an "
			       "optional port, mailto://user:pass@smtp.example.com:587/?to=addr "
			       "(got \"%.*s\")",
			       path, tls ? "mailtos" : "mailto",
			       (int)(u->host_len > 60 ? 60 : u->host_len), u->host);
	if (u->path_len > 1 || (u->path_len == 1 && u->path[0] != '/'))
		return err_set(ps->e, ERR_INVALID,
			       "%s: put the recipient in ?to=, not in the path: "
			       "mailto://user:pass@smtp.example.com/?to=me@example.com",
			       path);
	if (strchr(host, ':') && host[0] != '[')
		n = snprintf(proto.url, sizeof proto.url, "%s://%s", tls ? "smtps" : "smtp", host);
	else if (host[0] == '[' && strstr(host, "]:"))
		n = snprintf(proto.url, sizeof proto.url, "%s://%s", tls ? "smtps" : "smtp", host);
	else
		n = snprintf(proto.url, sizeof proto.url, "%s://%s:%d", tls ? "smtps" : "smtp",
			     host, tls ? 465 : 587);
	if (n < 0 || (size_t)n >= sizeof proto.url)
		return too_long(ps, path, "mail server name", NOTIFY_URL_MAX - 16);
	if (u->user && !pct_decode(u->user, u->user_len, proto.user, sizeof proto.user))
		return err_set(ps->e, ERR_INVALID,
			       "%s: the SMTP user name is too long or badly escaped (at most %d "
			       "bytes; write '@' as %%40)",
			       path, NOTIFY_SECRET_MAX);
	if (u->has_pass && !pct_decode(u->pass, u->pass_len, proto.password, sizeof proto.password))
		return err_set(ps->e, ERR_INVALID,
			       "%s: the SMTP password is too long or badly escaped (at most %d "
			       "bytes; write special characters as %%XX)",
			       path, NOTIFY_SECRET_MAX);
	/* the sender: ?from=, else the user when it is an address, else user@host */
	if (query_get(u, "from", &v, &vn)) {
		if (!pct_decode(v, vn, proto.from, sizeof proto.from) || !is_email(proto.from))
			return err_set(ps->e, ERR_INVALID,
				       "%s: from= in the URL must be an e-mail address such as "
				       "alerts@example.com",
				       path);
	} else if (proto.user[0] && strchr(proto.user, '@')) {
		if (!is_email(proto.user))
			return err_set(ps->e, ERR_INVALID,
				       "%s: the SMTP user looks like an e-mail address but is not "
				       "one; give the sender as ?from=addr",
				       path);
		strcpy(proto.from, proto.user);
	} else if (proto.user[0]) {
		const char *hn = u->host;
		size_t hl = strcspn(host, ":");

		n = snprintf(proto.from, sizeof proto.from, "%s@%.*s", proto.user, (int)hl, hn);
		if (n < 0 || (size_t)n >= sizeof proto.from || !is_email(proto.from))
			proto.from[0] = '\0'; /* the server's sender */
	}
	if (query_get(u, "to", &v, &vn))
		return add_emails(ps, path, v, vn, &proto);
	if (proto.from[0])
		return add_emails(ps, path, proto.from, strlen(proto.from), &proto);
	return err_set(ps->e, ERR_INVALID,
		       "%s: no recipient in the %s:// URL: add ?to=me@example.com", path,
		       tls ? "mailtos" : "mailto");
}

static int parse_ntfy(struct parse *ps, const char *path, const struct url_parts *u, bool tls,
		      int mp)
{
	char base[NOTIFY_URL_MAX + 1], user[NOTIFY_SECRET_MAX + 1] = "",
								pass[NOTIFY_SECRET_MAX + 1] = "";
	const char *p, *end;
	size_t count = 0;
	int n;

	if (u->path_len <= 1 && !u->user &&
	    (is_topic(u->host, u->host_len) || !memchr(u->host, ':', u->host_len))) {
		/* ntfy://topic: the public server */
		struct notify_target *t;

		if (!is_topic(u->host, u->host_len))
			goto bad_topic;
		if (!(t = add(ps, path, NOTIFY_CHANNEL_NTFY, mp)))
			return ERR_INVALID;
		put(t->to, sizeof t->to, u->host, u->host_len);
		strcpy(t->url, NOTIFY_NTFY_DEFAULT_SERVER);
		return ERR_OK;
	}
	if (!is_hostport(u->host, u->host_len))
		return err_set(ps->e, ERR_INVALID,
			       "%s: the server in the ntfy URL must be a host name with an "
			       "optional port: ntfy://host/topic or ntfys://host/topic (got "
			       "\"%.*s\")",
			       path, (int)(u->host_len > 60 ? 60 : u->host_len), u->host);
	n = snprintf(base, sizeof base, "%s://%.*s", tls ? "https" : "http", (int)u->host_len,
		     u->host);
	if (n < 0 || (size_t)n >= sizeof base)
		return too_long(ps, path, "ntfy server name", NOTIFY_URL_MAX - 8);
	if (u->user && !pct_decode(u->user, u->user_len, user, sizeof user))
		return too_long(ps, path, "ntfy user name", NOTIFY_SECRET_MAX);
	if (u->has_pass && !pct_decode(u->pass, u->pass_len, pass, sizeof pass))
		return too_long(ps, path, "ntfy password", NOTIFY_SECRET_MAX);
	p = u->path;
	end = u->path + u->path_len;
	while (p < end) {
		const char *seg;
		size_t sn;
		struct notify_target *t;

		while (p < end && *p == '/')
			p++;
		if (p >= end)
			break;
		seg = p;
		sn = strcspn(seg, "/?#");
		if (seg + sn > end)
			sn = (size_t)(end - seg);
		p = seg + sn;
		if (!is_topic(seg, sn))
			return err_set(ps->e, ERR_INVALID,
				       "%s: \"%.*s\" is not an ntfy topic: use letters, digits, "
				       "'-' and '_' (at most 64)",
				       path, (int)(sn > 64 ? 64 : sn), seg);
		if (!(t = add(ps, path, NOTIFY_CHANNEL_NTFY, mp)))
			return ERR_INVALID;
		put(t->to, sizeof t->to, seg, sn);
		strcpy(t->url, base);
		strcpy(t->user, user);
		strcpy(t->password, pass);
		count++;
	}
	if (count == 0)
		return err_set(
			ps->e, ERR_INVALID,
			"%s: the ntfy URL names no topic: ntfy://topic, ntfy://host/topic or "
			"ntfys://host/topic",
			path);
	return ERR_OK;
bad_topic:
	return err_set(ps->e, ERR_INVALID,
		       "%s: \"%.*s\" is not an ntfy topic: use letters, digits, '-' and '_' (at "
		       "most 64), as in ntfy://my-alerts",
		       path, (int)(u->host_len > 64 ? 64 : u->host_len), u->host);
}

static int parse_json_url(struct parse *ps, const char *path, const char *rest,
			  const struct url_parts *u, bool tls, int mp)
{
	struct notify_target *t;
	int n;

	if (!is_hostport(u->host, u->host_len))
		return err_set(ps->e, ERR_INVALID,
			       "%s: the host of the %s:// URL must be a host name with an optional "
			       "port: %s://host/path (got \"%.*s\")",
			       path, tls ? "jsons" : "json", tls ? "jsons" : "json",
			       (int)(u->host_len > 60 ? 60 : u->host_len), u->host);
	if (!(t = add(ps, path, NOTIFY_CHANNEL_WEBHOOK, mp)))
		return ERR_INVALID;
	(void)rest;
	/* credentials go to user/password, never into the URL (labels show it) */
	n = snprintf(t->url, sizeof t->url, "%s://%.*s%s", tls ? "https" : "http", (int)u->host_len,
		     u->host, u->path);
	if (n < 0 || (size_t)n >= sizeof t->url)
		return too_long(ps, path, "webhook URL", NOTIFY_URL_MAX);
	if (u->user && !pct_decode(u->user, u->user_len, t->user, sizeof t->user))
		return too_long(ps, path, "webhook user name", NOTIFY_SECRET_MAX);
	if (u->has_pass && !pct_decode(u->pass, u->pass_len, t->password, sizeof t->password))
		return too_long(ps, path, "webhook password", NOTIFY_SECRET_MAX);
	/* keep the query (a webhook may need it), drop the fragment */
	{
		char *hash = strchr(t->url, '#');

		if (hash)
			*hash = '\0';
	}
	if (!is_http_url(t->url))
		return err_set(ps->e, ERR_INVALID,
			       "%s: the %s:// URL does not make a valid http(s) URL; escape "
			       "spaces and quotes as %%XX",
			       path, tls ? "jsons" : "json");
	return ERR_OK;
}

static int parse_url_string(struct parse *ps, const char *path, const char *s, int mp)
{
	const char *sep;
	struct url_parts u;
	size_t len = strlen(s);
	int rc;

	if (len == 0)
		return err_set(ps->e, ERR_INVALID,
			       "%s is an empty string: give a URL such as mailto:me@example.com "
			       "(supported: %s)",
			       path, supported_schemes);
	if (len > NOTIFY_URL_MAX)
		return err_set(ps->e, ERR_INVALID, "%s is too long (%zu bytes, at most %d)", path,
			       len, NOTIFY_URL_MAX);
	if (has_ctl(s, len))
		return err_set(ps->e, ERR_INVALID,
			       "%s holds spaces or control characters: escape them as %%XX", path);
	if (strncasecmp(s, "mailto:", 7) == 0 && strncmp(s + 7, "//", 2) != 0) {
		struct notify_target proto;
		size_t n = strcspn(s + 7, "?#");

		memset(&proto, 0, sizeof proto);
		proto.min_priority = mp;
		return add_emails(ps, path, s + 7, n, &proto);
	}
	sep = strstr(s, "://");
	if (!sep || sep == s)
		return err_set(ps->e, ERR_INVALID,
			       "%s must be a notification URL or an object with \"method\" (got "
			       "\"%.40s\"); supported URLs: %s",
			       path, s, supported_schemes);
	split_url(s, sep + 3, &u);
	if ((rc = url_min_priority(ps, path, &u, &mp)))
		return rc;
#define SCHEME_IS(x) (u.scheme_len == strlen(x) && strncasecmp(u.scheme, x, u.scheme_len) == 0)
	if (SCHEME_IS("twilio"))
		return parse_twilio(ps, path, s, &u, mp);
	if (SCHEME_IS("mailto"))
		return parse_mailto(ps, path, s, &u, false, mp);
	if (SCHEME_IS("mailtos"))
		return parse_mailto(ps, path, s, &u, true, mp);
	if (SCHEME_IS("ntfy"))
		return parse_ntfy(ps, path, &u, false, mp);
	if (SCHEME_IS("ntfys"))
		return parse_ntfy(ps, path, &u, true, mp);
	if (SCHEME_IS("json"))
		return parse_json_url(ps, path, sep + 3, &u, false, mp);
	if (SCHEME_IS("jsons"))
		return parse_json_url(ps, path, sep + 3, &u, true, mp);
	if (SCHEME_IS("http") || SCHEME_IS("https"))
		return err_set(ps->e, ERR_INVALID,
			       "%s: a plain %.*s:// URL is not a notification target: write it as "
			       "json%s://... (Apprise style) or {\"method\": \"webhook\", \"url\": "
			       "\"%.60s\"}",
			       path, (int)u.scheme_len, u.scheme, SCHEME_IS("https") ? "s" : "", s);
#undef SCHEME_IS
	return err_set(ps->e, ERR_INVALID,
		       "%s: unsupported notification URL scheme \"%.*s://\"; supported: %s", path,
		       (int)(u.scheme_len > 20 ? 20 : u.scheme_len), u.scheme, supported_schemes);
}

/* ---- the seed's objects ------------------------------------------------- */

static int object_min_priority(struct parse *ps, const char *path, const json_t *o, int *mp)
{
	const json_t *v = json_object_get(o, "min_priority");
	char g[GOT_LEN + 4];

	if (!v || json_is_null(v))
		return ERR_OK;
	if (json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= 5) {
		*mp = (int)json_integer_value(v);
		return ERR_OK;
	}
	got_text(v, g);
	return err_set(ps->e, ERR_INVALID,
		       "%s.min_priority must be an integer from 1 to 5 (got %s)", path, g);
}

static int parse_urls_object(struct parse *ps, const char *path, const json_t *o, int mp);

static int parse_object(struct parse *ps, const char *path, const json_t *o)
{
	static const char methods[] = "send_sms, send_email, webhook, ntfy";
	const json_t *mv = json_object_get(o, "method"), *v;
	const char *m, *key, *what;
	struct notify_target *t;
	char g[GOT_LEN + 4];
	int mp = 0, rc;

	if ((rc = object_min_priority(ps, path, o, &mp)))
		return rc;
	if (!mv && json_object_get(o, "urls"))
		return parse_urls_object(ps, path, o, mp);
	if (!mv)
		return err_set(ps->e, ERR_INVALID,
			       "%s.method is required: one of %s (or give Apprise URLs as "
			       "{\"urls\": [\"mailto:me@example.com\"]})",
			       path, methods);
	m = json_string_value(mv);
	if (!m || (strcmp(m, "send_sms") && strcmp(m, "send_email") && strcmp(m, "webhook") &&
		   strcmp(m, "ntfy"))) {
		got_text(mv, g);
		return err_set(ps->e, ERR_INVALID, "%s.method must be one of %s (got %s)", path,
			       methods, g);
	}
	if (strcmp(m, "send_sms") == 0) {
		key = "phone_number";
		what = "a phone number in international form such as \"+1234567890\" ('+', "
		       "country code and number, 8-15 digits)";
	} else if (strcmp(m, "send_email") == 0) {
		key = "email";
		what = "an e-mail address such as \"me@example.com\"";
	} else if (strcmp(m, "webhook") == 0) {
		key = "url";
		what = "an http:// or https:// URL";
	} else {
		key = "topic";
		what = "an ntfy topic name: letters, digits, '-' and '_' (at most 64)";
	}
	v = json_object_get(o, key);
	if (!v)
		return err_set(ps->e, ERR_INVALID, "%s.%s is required for %s: %s", path, key, m,
			       what);
	if (!json_is_string(v))
		goto bad;
	if (strcmp(m, "send_sms") == 0) {
		char num[NOTIFY_E164_MAX + 1];

		if (!notify_e164(json_string_value(v), num))
			goto bad;
		if (!(t = add(ps, path, NOTIFY_CHANNEL_SMS, mp)))
			return ERR_INVALID;
		strcpy(t->to, num);
	} else if (strcmp(m, "send_email") == 0) {
		if (!is_email(json_string_value(v)))
			goto bad;
		if (!(t = add(ps, path, NOTIFY_CHANNEL_EMAIL, mp)))
			return ERR_INVALID;
		strcpy(t->to, json_string_value(v));
	} else if (strcmp(m, "webhook") == 0) {
		if (!is_http_url(json_string_value(v)))
			goto bad;
		if (!(t = add(ps, path, NOTIFY_CHANNEL_WEBHOOK, mp)))
			return ERR_INVALID;
		strcpy(t->url, json_string_value(v));
	} else {
		const char *topic = json_string_value(v);
		const json_t *sv = json_object_get(o, "server");

		if (!is_topic(topic, strlen(topic)))
			goto bad;
		if (sv && !json_is_null(sv) && !is_http_url(json_string_value(sv))) {
			got_text(sv, g);
			return err_set(ps->e, ERR_INVALID,
				       "%s.server must be the http:// or https:// URL of an ntfy "
				       "server such as \"https://ntfy.sh\" (got %s)",
				       path, g);
		}
		if (!(t = add(ps, path, NOTIFY_CHANNEL_NTFY, mp)))
			return ERR_INVALID;
		strcpy(t->to, topic);
		strcpy(t->url,
		       json_is_string(sv) ? json_string_value(sv) : NOTIFY_NTFY_DEFAULT_SERVER);
		/* "https://ntfy.sh/" and "https://ntfy.sh" are the same server */
		for (size_t l = strlen(t->url); l > 0 && t->url[l - 1] == '/'; l--)
			t->url[l - 1] = '\0';
	}
	return ERR_OK;
bad:
	got_text(v, g);
	return err_set(ps->e, ERR_INVALID, "%s.%s must be %s (got %s)", path, key, what, g);
}

/* A string or an object (not an array) at `path`. */
static int parse_item(struct parse *ps, const char *path, const json_t *v, int mp)
{
	char g[GOT_LEN + 4];

	if (json_is_string(v))
		return parse_url_string(ps, path, json_string_value(v), mp);
	if (json_is_object(v))
		return parse_object(ps, path, v);
	got_text(v, g);
	return err_set(ps->e, ERR_INVALID,
		       "%s must be an object such as {\"method\": \"send_sms\", \"phone_number\": "
		       "\"+1234567890\"} or a notification URL such as \"mailto:me@example.com\" "
		       "(got %s)",
		       path, g);
}

static int parse_urls_object(struct parse *ps, const char *path, const json_t *o, int mp)
{
	const json_t *urls = json_object_get(o, "urls"), *v;
	char g[GOT_LEN + 4], p[PATH_MAX_LEN];
	size_t i;
	int rc;

	if (!json_is_array(urls) || json_array_size(urls) == 0) {
		got_text(urls, g);
		return err_set(ps->e, ERR_INVALID,
			       "%s.urls must be a non-empty array of notification URLs such as "
			       "[\"mailto:me@example.com\", \"ntfy://my-alerts\"] (got %s)",
			       path, g);
	}
	json_array_foreach(urls, i, v) {
		snprintf(p, sizeof p, "%s.urls[%zu]", path, i);
		if (!json_is_string(v)) {
			got_text(v, g);
			return err_set(ps->e, ERR_INVALID,
				       "%s must be a notification URL string such as "
				       "\"mailto:me@example.com\" (got %s)",
				       p, g);
		}
		if ((rc = parse_url_string(ps, p, json_string_value(v), mp)))
			return rc;
	}
	return ERR_OK;
}

int notify_targets_parse(const json_t *notification, struct notify_target *out, size_t max,
			 size_t *n, struct err *e)
{
	struct parse ps = {.out = out, .max = max, .n = 0, .e = e};
	int rc = ERR_OK;

	*n = 0;
	if (!notification || json_is_null(notification))
		return ERR_OK;
	if (json_is_array(notification)) {
		const json_t *v;
		size_t i;
		char p[PATH_MAX_LEN];

		if (json_array_size(notification) == 0)
			return err_set(e, ERR_INVALID,
				       "notification is an empty array: give at least one target, "
				       "e.g. [\"mailto:me@example.com\"], or leave it out");
		json_array_foreach(notification, i, v) {
			snprintf(p, sizeof p, "notification[%zu]", i);
			if ((rc = parse_item(&ps, p, v, 0)))
				break;
		}
	} else {
		rc = parse_item(&ps, "notification", notification, 0);
	}
	if (rc) {
		if (ps.n)
			memset(out, 0, ps.n * sizeof *out); /* no credentials left behind */
		return rc;
	}
	*n = ps.n;
	return ERR_OK;
}

void notify_target_label(const struct notify_target *t, char *out, size_t size)
{
	const char *u, *host;
	size_t ulen;

	if (!out || size == 0)
		return;
	switch (t->channel) {
	case NOTIFY_CHANNEL_SMS:
	case NOTIFY_CHANNEL_EMAIL:
		snprintf(out, size, "%s %s", notify_channel_name(t->channel), t->to);
		return;
	case NOTIFY_CHANNEL_NTFY:
		if (!t->url[0] || strcmp(t->url, NOTIFY_NTFY_DEFAULT_SERVER) == 0) {
			snprintf(out, size, "ntfy %s", t->to);
			return;
		}
		u = strstr(t->url, "://");
		host = u ? u + 3 : t->url;
		ulen = strcspn(host, "/?#");
		if (memchr(host, '@', ulen)) /* never show user info */
			host = (const char *)memchr(host, '@', ulen) + 1,
			ulen = strcspn(host, "/?#");
		snprintf(out, size, "ntfy %.*s/%s", (int)ulen, host, t->to);
		return;
	case NOTIFY_CHANNEL_WEBHOOK:
	default: {
		/* scheme://host/path without user info, query or fragment */
		const char *s = t->url, *at, *rest;
		size_t sl;

		u = strstr(s, "://");
		if (!u) {
			snprintf(out, size, "webhook %.*s", (int)strcspn(s, "?#"), s);
			return;
		}
		sl = (size_t)(u - s);
		rest = u + 3;
		ulen = strcspn(rest, "/?#");
		at = memchr(rest, '@', ulen);
		if (at) {
			while (memchr(at + 1, '@', ulen - (size_t)(at + 1 - rest)))
				at = memchr(at + 1, '@', ulen - (size_t)(at + 1 - rest));
			rest = at + 1;
		}
		snprintf(out, size, "%s %.*s://%.*s", notify_channel_name(t->channel), (int)sl, s,
			 (int)strcspn(rest, "?#"), rest);
		return;
	}
	}
}
