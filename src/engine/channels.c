/*
 * channels.c - the notification senders (see channels.h): Twilio REST, SMTP,
 * webhook and ntfy over libcurl easy handles, one per call.
 *
 * Every exchange goes through xch_*: a curl handle with our common options
 * (no redirects, no environment proxy, timeouts, a capped response buffer,
 * the SSRF guard on the open-socket hook for addresses from task configs),
 * and one function that turns a curl failure into a channel_result.
 */
#define _GNU_SOURCE
#include "channels.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/uuid.h"
#include "common/xalloc.h"
#include "engine/delivery.h"
#include "engine/netguard.h"

#define RESP_MAX (256u << 10) /* response bytes kept; the rest is dropped */
#define NTFY_BODY_MAX 4096    /* ntfy turns longer messages into attachments */
#define CONNECT_TIMEOUT_MS 10000L

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *channel_outcome_name(enum channel_outcome o)
{
	switch (o) {
	case CHANNEL_SENT:
		return "sent";
	case CHANNEL_FAILED:
		return "failed";
	case CHANNEL_SKIPPED:
		return "skipped";
	}
	return "failed";
}

static void env_str(const char **field, const char *name)
{
	const char *v = getenv(name);
	if (v && *v)
		*field = v;
}

void channel_config_from_env(struct channel_config *c)
{
	env_str(&c->twilio_sid, "TWILIO_ACCOUNT_SID");
	env_str(&c->twilio_token, "TWILIO_AUTH_TOKEN");
	env_str(&c->twilio_from, "TWILIO_PHONE_NUMBER");
	env_str(&c->twilio_base_url, "TWILIO_API_BASE");
	env_str(&c->smtp_url, "AMBIENT_SMTP_URL");
	env_str(&c->smtp_user, "AMBIENT_SMTP_USER");
	env_str(&c->smtp_password, "AMBIENT_SMTP_PASSWORD");
	env_str(&c->smtp_from, "AMBIENT_SMTP_FROM");
	env_str(&c->ntfy_base_url, "AMBIENT_NTFY_URL");
}

static bool set(const char *s)
{
	return s && *s;
}

static void result(struct channel_result *r, enum channel_outcome o, bool retryable,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void result(struct channel_result *r, enum channel_outcome o, bool retryable,
		   const char *fmt, ...)
{
	va_list ap;
	r->outcome = o;
	r->retryable = o == CHANNEL_FAILED && retryable;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof r->detail, fmt, ap);
	va_end(ap);
}

/* ---- text helpers ------------------------------------------------------- */

static bool is_ascii_clean(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80 || (unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* A header value: control characters (CR and LF included) become spaces. */
static char *header_safe(const char *s)
{
	char *o = xstrdup(s ? s : "");
	for (char *p = o; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return o;
}

/* Base64 (RFC 4648, padded) of n bytes into out (4 * ceil(n / 3) bytes, no
 * NUL); returns the length.  Not OpenSSL's: its headers clash with err.h. */
static size_t b64(const unsigned char *in, size_t n, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	return o;
}

/* RFC 2047 "B" encoded words of UTF-8 text s, each at most 64 characters,
 * cut on code point boundaries, joined by sep. */
static void encode_2047(const char *s, const char *sep, struct buf *out)
{
	size_t n = strlen(s), i = 0;
	bool first = true;
	while (i < n) {
		size_t take = 0;
		while (i + take < n) {
			size_t cp = 1;
			while (i + take + cp < n &&
			       ((unsigned char)s[i + take + cp] & 0xC0) == 0x80)
				cp++;
			if (take + cp > 39) /* 52 base64 characters: "Subject: " + word < 76 */
				break;
			take += cp;
		}
		if (!take)
			take = 1;
		char enc[64];
		size_t bn = b64((const unsigned char *)s + i, take, enc);
		if (!first)
			buf_puts(out, sep);
		buf_puts(out, "=?UTF-8?B?");
		buf_append(out, enc, bn);
		buf_puts(out, "?=");
		first = false;
		i += take;
	}
}

/* Header text: as is when plain ASCII, else RFC 2047 words joined by sep. */
static void header_text(const char *s, const char *sep, struct buf *out)
{
	char *safe = header_safe(s);
	if (is_ascii_clean(safe))
		buf_puts(out, safe);
	else
		encode_2047(safe, sep, out);
	free(safe);
}

/* Only [A-Za-z0-9._-] (others become '_'), at most max bytes; for ids that
 * go into headers. */
static void id_safe(const char *in, char *out, size_t max)
{
	size_t o = 0;
	for (; in && *in && o + 1 < max; in++) {
		char c = *in;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		out[o++] = ok ? c : '_';
	}
	out[o] = '\0';
}

/* scheme://host[:port] of url (no user info, path or query: those may carry
 * secrets, e.g. a Slack webhook path), for messages. */
static void url_origin(const char *url, char *out, size_t size)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		curl_url_get(u, CURLUPART_PORT, &port, 0);
		snprintf(out, size, "%s://%s%s%s", scheme, host, port ? ":" : "", port ? port : "");
	} else {
		snprintf(out, size, "(an unparsable URL)");
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
}

/* The host of url (new string, brackets of IPv6 literals kept), or NULL. */
static char *url_host(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL, *out = NULL;
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		out = xstrdup(host);
	curl_free(host);
	curl_url_cleanup(u);
	return out;
}

static bool has_scheme(const char *url, const char *scheme)
{
	size_t n = strlen(scheme);
	return strncasecmp(url, scheme, n) == 0 && strncmp(url + n, "://", 3) == 0;
}

/* ---- one exchange ------------------------------------------------------- */

struct xch {
	CURL *c;
	const struct channel_config *cfg;
	/* the guard (conn.guard NULL: a trusted address) */
	struct netguard_conn conn;
	char *host;
	const char *url;
	/* response */
	struct buf resp;
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *hdrs;
	long timeout_ms;
};

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
	struct xch *x = ud;
	size_t len = size * n;
	if (x->resp.len + len <= x->resp.max)
		buf_append(&x->resp, p, len);
	return len; /* beyond the cap: dropped, the transfer goes on */
}

/* Set up x for url.  guard: the SSRF guard when the address comes from a
 * task's config (NULL: trusted).  Returns false, with *r filled, when the
 * address is refused before any connection. */
static bool xch_init(struct xch *x, const struct channel_config *cfg, const char *url,
		     const char *protocols, const struct netguard *guard, const char *what,
		     struct channel_result *r)
{
	pthread_once(&curl_once, curl_init_once);
	memset(x, 0, sizeof *x);
	x->cfg = cfg;
	x->url = url;
	x->host = url_host(url);
	x->conn = (struct netguard_conn){.guard = guard, .host = x->host};
	x->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : CHANNEL_TIMEOUT_MS;
	buf_init(&x->resp, RESP_MAX);
	if (!x->host) {
		char origin[256];
		url_origin(url, origin, sizeof origin);
		result(r, CHANNEL_FAILED, false, "%s: the URL %s is not valid", what, origin);
		return false;
	}
	if (guard) {
		struct err e = {0};
		if (netguard_check_host(guard, x->host, NULL, &e)) {
			result(r, CHANNEL_FAILED, false, "%s: %s", what, e.msg);
			return false;
		}
	}
	x->c = curl_easy_init();
	CURL *c = x->c;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, protocols);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROXY, ""); /* no proxy from the environment */
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, x->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 x->timeout_ms < CONNECT_TIMEOUT_MS ? x->timeout_ms : CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, netguard_open_socket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &x->conn);
	if (set(cfg->ca_file))
		curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
	char *ua = set(cfg->user_agent) ? xstrdup(cfg->user_agent)
					: xasprintf("ambient/%s", AMBIENT_VERSION);
	curl_easy_setopt(c, CURLOPT_USERAGENT, ua); /* curl copies strings */
	free(ua);
	return true;
}

static void xch_header(struct xch *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void xch_header(struct xch *x, const char *fmt, ...)
{
	va_list ap;
	char *h = NULL;
	va_start(ap, fmt);
	if (vasprintf(&h, fmt, ap) < 0)
		abort();
	va_end(ap);
	x->hdrs = curl_slist_append(x->hdrs, h);
	free(h);
}

static void xch_cleanup(struct xch *x)
{
	if (x->c)
		curl_easy_cleanup(x->c);
	curl_slist_free_all(x->hdrs);
	buf_cleanup(&x->resp);
	free(x->host);
	memset(x, 0, sizeof *x);
}

/* Run the exchange; fills r->status and r->retry_after_s.  CURLE_OK or the
 * failure, already described in *r (outcome FAILED). */
static CURLcode xch_perform(struct xch *x, const char *what, struct channel_result *r)
{
	if (x->hdrs)
		curl_easy_setopt(x->c, CURLOPT_HTTPHEADER, x->hdrs);
	CURLcode rc = curl_easy_perform(x->c);
	long status = 0;
	curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &status);
	r->status = (int)status;
	curl_off_t ra = 0;
	if (curl_easy_getinfo(x->c, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
		r->retry_after_s = ra > 86400 ? 86400 : (int)ra;
	if (rc == CURLE_OK)
		return rc;

	char origin[256];
	url_origin(x->url, origin, sizeof origin);
	const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		if (x->conn.blocked && !x->conn.passed) {
			result(r, CHANNEL_FAILED, false, "%s: %s", what, x->conn.err.msg);
			break;
		}
		result(r, CHANNEL_FAILED, true, "%s: cannot connect to %s: %s", what, origin, why);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		result(r, CHANNEL_FAILED, true, "%s: %s did not answer within %ld ms", what, origin,
		       x->timeout_ms);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		result(r, CHANNEL_FAILED, true,
		       "%s: cannot resolve the host of %s (%s); check the name and DNS", what,
		       origin, why);
		break;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		result(r, CHANNEL_FAILED, true, "%s: the connection to %s broke: %s", what, origin,
		       why);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		result(r, CHANNEL_FAILED, false,
		       "%s: TLS with %s failed: %s (check the server's certificate, or give a CA "
		       "bundle)",
		       what, origin, why);
		break;
	case CURLE_USE_SSL_FAILED:
		result(r, CHANNEL_FAILED, false,
		       "%s: %s does not offer STARTTLS, and sending a password and mail in clear "
		       "text to a remote server is refused; use smtps:// (port 465) or a server "
		       "with STARTTLS",
		       what, origin);
		break;
	case CURLE_LOGIN_DENIED:
		result(r, CHANNEL_FAILED, false,
		       "%s: %s refused the login (reply %ld); check the SMTP user and password",
		       what, origin, status);
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		result(r, CHANNEL_FAILED, false, "%s: bad URL %s: %s", what, origin, why);
		break;
	default:
		result(r, CHANNEL_FAILED, false, "%s: %s: %s", what, origin, why);
	}
	return rc;
}

/* ---- SMS: Twilio -------------------------------------------------------- */

static bool alnum_only(const char *s, size_t max)
{
	size_t n = 0;
	for (; *s; s++, n++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9')))
			return false;
	return n > 0 && n <= max;
}

static bool alnum_sender(const char *s)
{
	size_t n = 0;
	bool letter = false;
	for (; *s; s++, n++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))
			letter = true;
		else if (!(*s >= '0' && *s <= '9') && *s != ' ')
			return false;
	}
	return letter && n <= 11;
}

static void form_add(struct buf *b, CURL *c, const char *name, const char *value)
{
	char *esc = curl_easy_escape(c, value, 0);
	buf_printf(b, "%s%s=%s", b->len ? "&" : "", name, esc ? esc : "");
	curl_free(esc);
}

static void send_sms(const struct channel_config *cfg, const struct notify_target *t,
		     const struct notify_message *m, struct channel_result *r)
{
	const char *sid = t->user[0] ? t->user : cfg->twilio_sid;
	const char *token = t->user[0] ? t->password : cfg->twilio_token;
	const char *from = t->from[0] ? t->from : cfg->twilio_from;
	if (!set(sid) || !set(token) || !set(from)) {
		char missing[128] = "";
		if (!set(sid))
			strcat(missing, "TWILIO_ACCOUNT_SID");
		if (!set(token))
			strcat(strcat(missing, *missing ? ", " : ""), "TWILIO_AUTH_TOKEN");
		if (!set(from))
			strcat(strcat(missing, *missing ? ", " : ""), "TWILIO_PHONE_NUMBER");
		result(r, CHANNEL_SKIPPED, false,
		       "no Twilio credentials (%s not set): set TWILIO_ACCOUNT_SID, "
		       "TWILIO_AUTH_TOKEN and TWILIO_PHONE_NUMBER, or give the target as "
		       "twilio://SID:TOKEN@FROM/TO",
		       missing);
		return;
	}
	if (!alnum_only(sid, 64)) {
		result(r, CHANNEL_FAILED, false,
		       "SMS: the Twilio account SID is not valid (letters and digits, like "
		       "AC0123...); check TWILIO_ACCOUNT_SID");
		return;
	}
	char to[NOTIFY_E164_MAX + 1], from_num[NOTIFY_E164_MAX + 1];
	if (!notify_e164(t->to, to)) {
		result(r, CHANNEL_FAILED, false,
		       "SMS: '%.40s' is not a phone number in E.164 form (+, country code and "
		       "number, e.g. +15551234567)",
		       t->to);
		return;
	}
	bool service = strncmp(from, "MG", 2) == 0 && strlen(from) == 34 && alnum_only(from, 34);
	bool numeric = from[0] == '+' || (from[0] >= '0' && from[0] <= '9') || from[0] == '(';
	if (!service && numeric && !notify_e164(from, from_num)) {
		result(r, CHANNEL_FAILED, false,
		       "SMS: the sender '%.40s' is not a phone number in E.164 form; check "
		       "TWILIO_PHONE_NUMBER (e.g. +15551234567)",
		       from);
		return;
	}
	if (!service && !numeric && !alnum_sender(from)) {
		result(r, CHANNEL_FAILED, false,
		       "SMS: the sender '%.40s' is neither an E.164 number, a messaging service "
		       "SID "
		       "(MG...) nor an alphanumeric sender id (up to 11 letters and digits)",
		       from);
		return;
	}
	const char *text = m->sms && *m->sms ? m->sms : m->title;
	if (!set(text)) {
		result(r, CHANNEL_FAILED, false, "SMS: the message has no text");
		return;
	}

	const char *base =
		set(cfg->twilio_base_url) ? cfg->twilio_base_url : CHANNEL_TWILIO_BASE_URL;
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	char *url = xasprintf("%.*s/2010-04-01/Accounts/%s/Messages.json", (int)bl, base, sid);
	struct xch x;
	if (!xch_init(&x, cfg, url, "http,https", NULL, "SMS", r)) {
		xch_cleanup(&x);
		free(url);
		return;
	}
	struct buf form;
	buf_init(&form, 64 * 1024);
	form_add(&form, x.c, "To", to);
	if (service)
		form_add(&form, x.c, "MessagingServiceSid", from);
	else
		form_add(&form, x.c, "From", numeric ? from_num : from);
	form_add(&form, x.c, "Body", text);
	curl_easy_setopt(x.c, CURLOPT_POSTFIELDS, buf_str(&form));
	curl_easy_setopt(x.c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)form.len);
	curl_easy_setopt(x.c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(x.c, CURLOPT_USERNAME, sid);
	curl_easy_setopt(x.c, CURLOPT_PASSWORD, token);
	xch_header(&x, "Accept: application/json");
	xch_header(&x, "Expect:");

	if (xch_perform(&x, "SMS via Twilio", r) == CURLE_OK) {
		json_t *j = json_loads(buf_str(&x.resp), 0, NULL);
		int st = r->status;
		if (st >= 200 && st < 300) {
			const char *msid = json_get_str(j, "sid");
			const char *status = json_get_str(j, "status");
			snprintf(r->provider_id, sizeof r->provider_id, "%s", msid ? msid : "");
			result(r, CHANNEL_SENT, false, "Twilio accepted the SMS to %s: %s (%s)", to,
			       msid ? msid : "no sid in the answer", status ? status : "queued");
		} else {
			const char *msg = json_get_str(j, "message");
			const char *info = json_get_str(j, "more_info");
			long long code = json_get_int(j, "code", 0);
			bool retry = st == 429 || st == 408 || st >= 500;
			const char *hint =
				st == 401 || st == 403
					? " Check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN."
				: st == 404 ? " Check TWILIO_ACCOUNT_SID (no such account)."
				: st == 429 ? " Twilio is rate limiting; it will be retried."
				: st >= 500 ? " Twilio had a server error; it will be retried."
					    : "";
			if (code)
				result(r, CHANNEL_FAILED, retry,
				       "Twilio refused the SMS (HTTP %d, error %lld): %.200s%s%s%s",
				       st, code, msg ? msg : "no message", info ? " See " : "",
				       info ? info : "", hint);
			else
				result(r, CHANNEL_FAILED, retry,
				       "Twilio answered HTTP %d: %.200s%s", st,
				       msg ? msg : buf_str(&x.resp), hint);
		}
		json_decref(j);
	}
	buf_cleanup(&form);
	xch_cleanup(&x);
	free(url);
}

/* ---- e-mail: SMTP ------------------------------------------------------- */

struct upload {
	const char *data;
	size_t len, off;
};

static size_t on_read(char *p, size_t size, size_t n, void *ud)
{
	struct upload *u = ud;
	size_t want = size * n, left = u->len - u->off;
	if (want > left)
		want = left;
	memcpy(p, u->data + u->off, want);
	u->off += want;
	return want;
}

/* A bare address: no blanks, controls, brackets, quotes or commas, one '@'
 * with text on both sides. */
static bool addr_ok(const char *a)
{
	const char *at = strchr(a, '@');
	if (!at || at == a || !at[1] || strchr(at + 1, '@') || strlen(a) > 254)
		return false;
	for (; *a; a++)
		if ((unsigned char)*a <= 0x20 || *a == 0x7f || strchr("<>()[]\\,;:\"", *a))
			return false;
	return true;
}

/* The address in "Name <addr>" or "addr" into out. */
static bool addr_of(const char *from, char *out, size_t size)
{
	const char *lt = strrchr(from, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	const char *p = lt && gt ? lt + 1 : from;
	size_t n = lt && gt ? (size_t)(gt - lt - 1) : strlen(from);
	while (n && *p == ' ')
		p++, n--;
	while (n && p[n - 1] == ' ')
		n--;
	if (n >= size)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return addr_ok(out);
}

/* Body text as lines ending in CR LF: 7bit when ASCII with short lines,
 * else quoted-printable (RFC 2045: at most 76 characters a line). */
static const char *body_encode(const char *in, struct buf *out)
{
	bool plain = true;
	size_t line = 0;
	for (const char *p = in; *p; p++) {
		if (*p == '\n') {
			line = 0;
			continue;
		}
		if ((unsigned char)*p >= 0x80 ||
		    ((unsigned char)*p < 0x20 && *p != '\t' && *p != '\r') || ++line > 900) {
			plain = false;
			break;
		}
	}
	if (plain) {
		for (const char *p = in; *p; p++) {
			if (*p == '\r')
				continue;
			if (*p == '\n')
				buf_puts(out, "\r\n");
			else
				buf_append(out, p, 1);
		}
		if (!out->len || out->data[out->len - 1] != '\n')
			buf_puts(out, "\r\n");
		return "7bit";
	}
	size_t col = 0;
	for (const char *p = in; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\r' && p[1] == '\n')
			continue;
		if (c == '\n' || c == '\r') {
			buf_puts(out, "\r\n");
			col = 0;
			continue;
		}
		char tok[4];
		size_t tn;
		bool eol = !p[1] || p[1] == '\n' || p[1] == '\r';
		if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !eol)) {
			tok[0] = (char)c;
			tn = 1;
		} else {
			snprintf(tok, sizeof tok, "=%02X", c);
			tn = 3;
		}
		if (col + tn > 75) {
			buf_puts(out, "=\r\n");
			col = 0;
		}
		buf_append(out, tok, tn);
		col += tn;
	}
	if (!out->len || out->data[out->len - 1] != '\n')
		buf_puts(out, "\r\n");
	return "quoted-printable";
}

static void rfc5322_date(char *out, size_t size)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
		 mons[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static bool host_is_loopback(const char *host)
{
	if (!host)
		return false;
	if (strcasecmp(host, "localhost") == 0)
		return true;
	return netguard_classify_str(host, NULL) == NETGUARD_LOOPBACK;
}

static void send_email(const struct channel_config *cfg, const struct notify_target *t,
		       const struct notify_message *m, const char *key, struct channel_result *r)
{
	bool own = t->url[0] != '\0'; /* a mailto:// target brings its own server */
	const char *url = own ? t->url : cfg->smtp_url;
	const char *user = own ? t->user : cfg->smtp_user;
	const char *pass = own ? t->password : cfg->smtp_password;
	if (!set(url)) {
		result(r, CHANNEL_SKIPPED, false,
		       "no SMTP server configured (set --smtp-url / AMBIENT_SMTP_URL, e.g. "
		       "smtps://smtp.example.com:465, with AMBIENT_SMTP_USER and "
		       "AMBIENT_SMTP_PASSWORD)");
		return;
	}
	if (!has_scheme(url, "smtp") && !has_scheme(url, "smtps")) {
		result(r, CHANNEL_FAILED, false,
		       "e-mail: the SMTP URL must start with smtp:// (STARTTLS, port 587) or "
		       "smtps:// (TLS, port 465)");
		return;
	}
	if (!addr_ok(t->to)) {
		result(r, CHANNEL_FAILED, false,
		       "e-mail: '%.80s' is not an e-mail address (name@example.com)", t->to);
		return;
	}
	char *host = url_host(url);
	char from_addr[NOTIFY_ADDR_MAX + 1];
	const char *from = t->from[0] ? t->from : set(cfg->smtp_from) ? cfg->smtp_from : NULL;
	char *from_alloc = NULL;
	if (!from) {
		if (set(user) && addr_ok(user))
			from = user;
		else
			from = from_alloc = xasprintf("ambient@%s", host ? host : "localhost");
	}
	if (!addr_of(from, from_addr, sizeof from_addr)) {
		result(r, CHANNEL_FAILED, false,
		       "e-mail: the sender '%.80s' is not an address; set AMBIENT_SMTP_FROM "
		       "(name@example.com or \"Name <name@example.com>\")",
		       from);
		free(from_alloc);
		free(host);
		return;
	}

	/* Message-ID: <key@sender domain> */
	char local[UUID_STR_LEN + 29], domain[61], mid[128];
	if (key && *key)
		id_safe(key, local, sizeof local);
	else
		uuid_v4(local);
	id_safe(strchr(from_addr, '@') + 1, domain, sizeof domain);
	snprintf(mid, sizeof mid, "<%s@%s>", local, domain);

	struct buf msg, body;
	buf_init(&msg, NOTIFY_BODY_MAX * 4 + 16384);
	buf_init(&body, NOTIFY_BODY_MAX * 4 + 1024);
	const char *cte = body_encode(m->body ? m->body : (m->sms ? m->sms : ""), &body);
	char date[64];
	rfc5322_date(date, sizeof date);
	char *from_hdr = header_safe(from);
	buf_printf(&msg, "From: %s\r\nTo: %s\r\nSubject: ", from_hdr, t->to);
	header_text(m->subject ? m->subject : (m->title ? m->title : "ambient notification"),
		    "\r\n ", &msg);
	buf_printf(&msg,
		   "\r\nDate: %s\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n"
		   "Content-Type: text/plain; charset=utf-8\r\n"
		   "Content-Transfer-Encoding: %s\r\nAuto-Submitted: auto-generated\r\n"
		   "X-Mailer: ambient/%s\r\n\r\n",
		   date, mid, cte, AMBIENT_VERSION);
	buf_append(&msg, body.data ? body.data : "", body.len);
	free(from_hdr);

	struct xch x;
	if (xch_init(&x, cfg, url, "smtp,smtps", own ? cfg->guard : NULL, "e-mail", r)) {
		char envelope_from[NOTIFY_ADDR_MAX + 3], rcpt[NOTIFY_ADDR_MAX + 3];
		snprintf(envelope_from, sizeof envelope_from, "<%s>", from_addr);
		snprintf(rcpt, sizeof rcpt, "<%s>", t->to);
		struct curl_slist *rcpts = curl_slist_append(NULL, rcpt);
		struct upload up = {msg.data, msg.len, 0};
		curl_easy_setopt(x.c, CURLOPT_MAIL_FROM, envelope_from);
		curl_easy_setopt(x.c, CURLOPT_MAIL_RCPT, rcpts);
		curl_easy_setopt(x.c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(x.c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(x.c, CURLOPT_READDATA, &up);
		curl_easy_setopt(x.c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg.len);
		if (!has_scheme(url, "smtps"))
			curl_easy_setopt(x.c, CURLOPT_USE_SSL,
					 host_is_loopback(x.host) || cfg->smtp_allow_plain
						 ? (long)CURLUSESSL_TRY
						 : (long)CURLUSESSL_ALL);
		if (set(user)) {
			curl_easy_setopt(x.c, CURLOPT_USERNAME, user);
			curl_easy_setopt(x.c, CURLOPT_PASSWORD, pass ? pass : "");
		}
		CURLcode rc = xch_perform(&x, "e-mail", r);
		if (rc == CURLE_OK) {
			snprintf(r->provider_id, sizeof r->provider_id, "%s", mid);
			result(r, CHANNEL_SENT, false, "the SMTP server %s accepted the mail to %s",
			       x.host, t->to);
		} else if (r->status >= 400 && r->status < 600 && rc != CURLE_LOGIN_DENIED &&
			   rc != CURLE_OPERATION_TIMEDOUT) {
			/* the server said no at MAIL FROM, RCPT TO or after DATA */
			result(r, CHANNEL_FAILED, r->status < 500,
			       "e-mail: the SMTP server %s refused the mail to %s (reply %d%s): "
			       "%.160s",
			       x.host, t->to, r->status,
			       r->status < 500 ? ", temporary; it will be retried" : "",
			       x.errbuf[0] ? x.errbuf : curl_easy_strerror(rc));
		}
		curl_slist_free_all(rcpts);
	}
	xch_cleanup(&x);
	buf_cleanup(&msg);
	buf_cleanup(&body);
	free(from_alloc);
	free(host);
}

/* ---- webhook ------------------------------------------------------------ */

static bool http_url(const char *url)
{
	return has_scheme(url, "http") || has_scheme(url, "https");
}

static void http_outcome(struct xch *x, const char *what, const char *origin,
			 struct channel_result *r)
{
	int st = r->status;
	if (st >= 200 && st < 300) {
		result(r, CHANNEL_SENT, false, "%s: %s answered %d", what, origin, st);
	} else if (st == 410) {
		result(r, CHANNEL_FAILED, false,
		       "%s: %s answered 410 Gone: it no longer accepts notifications; remove it "
		       "from the task's notification settings",
		       what, origin);
	} else if (st >= 300 && st < 400) {
		result(r, CHANNEL_FAILED, false,
		       "%s: %s answered a redirect (%d), which is not followed; give the final "
		       "URL",
		       what, origin, st);
	} else {
		char snippet[160];
		snprintf(snippet, sizeof snippet, "%s", buf_str(&x->resp));
		for (char *p = snippet; *p; p++)
			if ((unsigned char)*p < 0x20)
				*p = ' ';
		bool retry = st == 408 || st == 425 || st == 429 || st >= 500;
		result(r, CHANNEL_FAILED, retry, "%s: %s answered HTTP %d%s%s%s", what, origin, st,
		       *snippet ? ": " : "", snippet, retry ? " (will be retried)" : "");
	}
}

static void send_webhook(const struct channel_config *cfg, const struct notify_target *t,
			 const struct notify_message *m, const char *key, struct channel_result *r)
{
	if (!t->url[0] || !http_url(t->url)) {
		result(r, CHANNEL_FAILED, false,
		       "webhook: the target needs an http:// or https:// URL");
		return;
	}
	char origin[256], id[128], uuid[UUID_STR_LEN + 1];
	url_origin(t->url, origin, sizeof origin);
	if (key && *key) {
		id_safe(key, id, sizeof id);
	} else {
		uuid_v4(uuid);
		snprintf(id, sizeof id, "msg_%s", uuid);
	}
	int64_t ts = (int64_t)time(NULL);
	char iso[32];
	struct tm tm;
	time_t tt = (time_t)ts;
	gmtime_r(&tt, &tm);
	strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:i}", "type",
			      "notification", "id", id, "timestamp", iso, "title",
			      json_string_lossy(m->title ? m->title : ""), "text",
			      json_string_lossy(m->sms ? m->sms : ""), "subject",
			      json_string_lossy(m->subject ? m->subject : ""), "body",
			      json_string_lossy(m->body ? m->body : ""), "link",
			      m->link ? json_string_lossy(m->link) : json_null(), "sent_by",
			      json_string("ambient"), "priority", m->priority);
	char *payload = json_dumps(j, JSON_COMPACT);
	json_decref(j);

	struct xch x;
	if (xch_init(&x, cfg, t->url, "http,https", cfg->guard, "webhook", r)) {
		xch_header(&x, "Content-Type: application/json");
		xch_header(&x, "Expect:");
		xch_header(&x, "webhook-id: %s", id);
		xch_header(&x, "webhook-timestamp: %lld", (long long)ts);
		bool ok = true;
		if (set(cfg->webhook_secret)) {
			char sig[DELIVERY_SIG_MAX];
			struct err e = {0};
			if (delivery_sign(cfg->webhook_secret, id, ts, payload, strlen(payload),
					  sig, &e)) {
				result(r, CHANNEL_FAILED, false,
				       "webhook: the signing secret is not valid (%s); it must be "
				       "whsec_ followed by base64",
				       e.msg);
				ok = false;
			} else {
				xch_header(&x, "webhook-signature: %s", sig);
			}
		}
		if (ok) {
			curl_easy_setopt(x.c, CURLOPT_POSTFIELDS, payload);
			curl_easy_setopt(x.c, CURLOPT_POSTFIELDSIZE_LARGE,
					 (curl_off_t)strlen(payload));
			snprintf(r->provider_id, sizeof r->provider_id, "%s", id);
			if (xch_perform(&x, "webhook", r) == CURLE_OK)
				http_outcome(&x, "webhook", origin, r);
		}
	}
	xch_cleanup(&x);
	free(payload);
}

/* ---- ntfy --------------------------------------------------------------- */

static void send_ntfy(const struct channel_config *cfg, const struct notify_target *t,
		      const struct notify_message *m, struct channel_result *r)
{
	bool own = t->url[0] != '\0';
	const char *server = own                       ? t->url
			     : set(cfg->ntfy_base_url) ? cfg->ntfy_base_url
						       : CHANNEL_NTFY_BASE_URL;
	if (!t->to[0]) {
		result(r, CHANNEL_FAILED, false, "ntfy: the target has no topic");
		return;
	}
	if (!http_url(server)) {
		result(r, CHANNEL_FAILED, false,
		       "ntfy: the server must be an http:// or https:// URL");
		return;
	}
	size_t sl = strlen(server);
	while (sl && server[sl - 1] == '/')
		sl--;
	char origin[256];
	struct xch x;
	char *url = NULL;
	{
		CURL *tmp = (pthread_once(&curl_once, curl_init_once), curl_easy_init());
		char *esc = curl_easy_escape(tmp, t->to, 0);
		url = xasprintf("%.*s/%s", (int)sl, server, esc ? esc : "");
		curl_free(esc);
		curl_easy_cleanup(tmp);
	}
	url_origin(url, origin, sizeof origin);
	if (xch_init(&x, cfg, url, "http,https", own ? cfg->guard : NULL, "ntfy", r)) {
		struct buf h;
		buf_init(&h, 4096);
		header_text(m->title ? m->title : (m->subject ? m->subject : "ambient"), " ", &h);
		xch_header(&x, "Title: %s", buf_str(&h));
		buf_cleanup(&h);
		int p = m->priority < 1 ? 3 : m->priority > 5 ? 5 : m->priority;
		xch_header(&x, "Priority: %d", p);
		xch_header(&x, "Tags: %s", p >= 5 ? "rotating_light" : p == 4 ? "warning" : "bell");
		if (m->link && *m->link && is_ascii_clean(m->link))
			xch_header(&x, "Click: %s", m->link);
		xch_header(&x, "Content-Type: text/plain; charset=utf-8");
		xch_header(&x, "Expect:");
		if (t->user[0] && t->password[0]) {
			curl_easy_setopt(x.c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
			curl_easy_setopt(x.c, CURLOPT_USERNAME, t->user);
			curl_easy_setopt(x.c, CURLOPT_PASSWORD, t->password);
		}
		const char *text = m->body && *m->body && strlen(m->body) <= NTFY_BODY_MAX ? m->body
				   : m->sms                                                ? m->sms
					    : (m->title ? m->title : "");
		curl_easy_setopt(x.c, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(x.c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(text));
		if (xch_perform(&x, "ntfy", r) == CURLE_OK) {
			http_outcome(&x, "ntfy", origin, r);
			if (r->outcome == CHANNEL_SENT) {
				json_t *j = json_loads(buf_str(&x.resp), 0, NULL);
				const char *nid = json_get_str(j, "id");
				snprintf(r->provider_id, sizeof r->provider_id, "%s",
					 nid ? nid : "");
				json_decref(j);
			}
		}
	}
	xch_cleanup(&x);
	free(url);
}

/* ---- dispatch ----------------------------------------------------------- */

void channel_send(const struct channel_config *c, const struct notify_target *t,
		  const struct notify_message *m, const char *idempotency_key,
		  struct channel_result *r)
{
	static const struct channel_config none;
	memset(r, 0, sizeof *r);
	if (!c)
		c = &none;
	if (!t || !m) {
		result(r, CHANNEL_FAILED, false, "internal: no target or no message");
		return;
	}
	switch (t->channel) {
	case NOTIFY_CHANNEL_SMS:
		send_sms(c, t, m, r);
		break;
	case NOTIFY_CHANNEL_EMAIL:
		send_email(c, t, m, idempotency_key, r);
		break;
	case NOTIFY_CHANNEL_WEBHOOK:
		send_webhook(c, t, m, idempotency_key, r);
		break;
	case NOTIFY_CHANNEL_NTFY:
		send_ntfy(c, t, m, r);
		break;
	default:
		result(r, CHANNEL_FAILED, false, "unknown channel %d", (int)t->channel);
		return;
	}
	log_debug("channels: %s: %s", channel_outcome_name(r->outcome), r->detail);
}
