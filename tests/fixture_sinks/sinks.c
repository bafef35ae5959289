/*
 * sinks.c - the notification sinks (see sinks.h): Twilio, OpenAI, ntfy,
 * webhook capture over HTTP (libmicrohttpd) and SMTP on plain sockets.
 *
 * HTTP endpoints (JSON answers; bodies capped at 1 MiB, 413 beyond):
 *   POST /2010-04-01/Accounts/{Sid}/Messages.json   Twilio "create a message"
 *        Basic auth SID:TOKEN (401, Twilio error 20003, on a mismatch); form
 *        fields To, From (or MessagingServiceSid), Body; To must be E.164
 *        and not in the unassigned country code +999 (400, 21211), From E.164 or an alphanumeric
 * sender id (400, 21212), Body required (400, 21602) and at most 1600 characters (400, 21617). 201
 * with a Twilio-shaped message (sid "SM" + 32 hex, status "queued"). GET  /sms {"messages": [...],
 * "count": n} POST /v1/chat/completions    OpenAI chat completions: bearer check (401),
 *        {"model", "messages": [...]} required (400).  The answer is, in order:
 *        a scripted failure, a scripted raw body, the next queued reply, or the
 *        default: "NO_NOTIFICATION_NEEDED" when the last user message contains
 *        "priority: 1" or "priority: 2", else "Heads-up: " + its first 100
 *        characters.  A queued reply is a string (the assistant's content) or
 *        an object (the whole assistant message, e.g. with tool_calls).
 *        With "stream": true the answer is Server-Sent Events as OpenAI sends
 *        them: chat.completion.chunk objects (the role first, the content in
 *        pieces of a few characters, each tool call's id and name and then
 *        its arguments in pieces, then finish_reason), then "data: [DONE]".
 *   GET  /llm/requests           {"requests": [<request bodies>], "count": n}
 *   POST /ntfy/{topic}           ntfy publish: {"id", "time", "event": "message",
 *                                "topic", "message", ...}
 *   POST /hook/{name}            webhook capture: 200 {"ok": true}
 *   GET  /captured               {"captured": [{"kind": "ntfy"|"hook", "path",
 *                                "topic"|"name", "headers": {lower-case names},
 *                                "body", "status"}], "count": n}
 *   GET  /emails                 {"emails": [{"id", "from", "to": [...], "data"
 *                                (raw, un-dot-stuffed), "subject" (RFC 2047
 *                                decoded), "subject_raw", "text" (body with its
 *                                transfer encoding undone), "auth_user",
 *                                "helo"}], "count": n}
 *   GET  /health                 {"ok": true, "http_port", "smtp_port"}
 *   POST /_control/llm           {"replies": [..]} queue (FIFO), {"fail": N,
 *                                "status": 500} next N calls fail, {"delay_ms":
 *                                N} delay the next call, {"raw": "text"} next
 *                                call answers that body with 200,
 *                                {"raw_stream": "text"} next call answers that
 *                                body as text/event-stream, {"chunk_ms": N}
 *                                pause N ms between stream chunks (until
 *                                reset), {"ignore_stream": true} answer
 *                                streamed requests in one JSON piece, like a
 *                                server without streaming (until reset)
 *   POST /_control/twilio        {"fail": N, "status": 500|429|...}
 *   POST /_control/hook          {"fail": N, "status": 500|410|...}
 *   POST /_control/smtp          {"fail": N, "code": 451|550} at MAIL FROM
 *   POST /_control/reset         forget everything recorded and scripted
 *
 * SMTP: EHLO advertises AUTH PLAIN LOGIN, 8BITMIME, SIZE (no STARTTLS);
 * HELO, AUTH PLAIN/LOGIN (with or without an initial response), MAIL FROM,
 * RCPT TO (100 at most), DATA (un-dot-stuffed, 1 MiB cap: 552), RSET, NOOP,
 * QUIT.  Lines longer than 8 KiB end the session (500).  At most 64
 * connections at once.
 */
#define _GNU_SOURCE
#include "sinks.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/uuid.h"
#include "common/xalloc.h"

#define MAX_BODY (1u << 20)
#define MAX_LINE 8192
#define MAX_RCPT 100
#define MAX_SMTP_CONNS 64
#define MAX_DELAY_MS 60000

struct script {
	int fail;   /* next N calls fail */
	int status; /* with this status (or SMTP code) */
};

struct sconn {
	struct sinks *s;
	int fd;
	pthread_t th;
	atomic_bool done;
	struct sconn *next;
};

struct sinks {
	pthread_mutex_t mu;
	char *twilio_sid, *twilio_token, *smtp_user, *smtp_pass, *openai_key;
	size_t max_records;
	struct MHD_Daemon *mhd;
	int http_port, smtp_port;
	atomic_bool stopping;

	json_t *sms, *emails, *captured, *llm_requests; /* arrays */
	json_t *llm_replies;                            /* FIFO of strings / objects */
	struct script llm, twilio, hook, smtp;
	int llm_delay_ms;
	char *llm_raw;
	char *llm_raw_stream;
	int llm_chunk_ms;
	bool llm_ignore_stream;
	unsigned long seq;

	int listen_fd;
	int wake[2];
	pthread_t accept_th;
	bool accept_started;
	struct sconn *conns;
	size_t nconns;
};

/* ---- small helpers ------------------------------------------------------ */

static void random_hex(char *out, size_t nhex)
{
	unsigned char b[64];
	size_t n = (nhex + 1) / 2;
	random_bytes(b, n);
	for (size_t i = 0; i < nhex; i++)
		out[i] = "0123456789abcdef"[(b[i / 2] >> (i % 2 ? 0 : 4)) & 15];
	out[nhex] = '\0';
}

static void rfc2822_now(char *out, size_t size)
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

static size_t code_points(const char *p)
{
	size_t n = 0;
	for (; *p; p++)
		if (((unsigned char)*p & 0xC0) != 0x80)
			n++;
	return n;
}

/* Append to a capped record list (mu held); takes v. */
static void record(struct sinks *s, json_t *list, json_t *v)
{
	while (json_array_size(list) >= s->max_records)
		json_array_remove(list, 0);
	json_array_append_new(list, v);
}

static bool e164_ok(const char *p)
{
	if (!p || *p != '+' || p[1] == '0')
		return false;
	size_t n = 0;
	for (p++; *p; p++, n++)
		if (*p < '0' || *p > '9')
			return false;
	return n >= 8 && n <= 15;
}

static bool alnum_sender_ok(const char *p)
{
	size_t n = 0;
	bool letter = false;
	for (; *p; p++, n++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
			letter = true;
		else if (!(*p >= '0' && *p <= '9') && *p != ' ')
			return false;
	}
	return letter && n >= 1 && n <= 11;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode n bytes of s ('+' is a space when plus); new string. */
static char *url_decode(const char *s, size_t n, bool plus)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else if (plus && s[i] == '+') {
			out[o++] = ' ';
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

/* application/x-www-form-urlencoded -> {"name": "value"} (last wins). */
static json_t *form_parse(const char *body)
{
	json_t *o = json_object();
	const char *p = body;
	while (p && *p) {
		size_t n = strcspn(p, "&");
		const char *eq = memchr(p, '=', n);
		if (eq) {
			char *k = url_decode(p, (size_t)(eq - p), true);
			char *v = url_decode(eq + 1, n - (size_t)(eq - p) - 1, true);
			json_object_set_new(o, k, json_string_lossy(v));
			free(k);
			free(v);
		}
		p += n;
		if (*p == '&')
			p++;
	}
	return o;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Base64 of n bytes at in -> out (malloc'd, *outn bytes, NUL-terminated);
 * NULL when it is not padded base64.  (Not OpenSSL's: its headers clash with
 * common/err.h.) */
static char *b64_decode(const char *in, size_t n, size_t *outn)
{
	if (n % 4 || n > 65536)
		return NULL;
	unsigned char *out = xmalloc(n / 4 * 3 + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		for (int k = 0; k < 4; k++) {
			v[k] = in[i + k] == '=' && i + 4 == n && k >= 2 ? -2 : b64val(in[i + k]);
			if (v[k] == -1 || (k == 2 && v[2] == -2 && in[i + 3] != '=')) {
				free(out);
				return NULL;
			}
		}
		unsigned x = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 |
			     (unsigned)(v[2] < 0 ? 0 : v[2]) << 6 | (unsigned)(v[3] < 0 ? 0 : v[3]);
		out[o++] = (unsigned char)(x >> 16);
		if (v[2] >= 0)
			out[o++] = (unsigned char)(x >> 8);
		if (v[3] >= 0)
			out[o++] = (unsigned char)x;
	}
	out[o] = '\0';
	if (outn)
		*outn = o;
	return (char *)out;
}

/* ---- HTTP --------------------------------------------------------------- */

struct hreq {
	struct buf body;
	bool too_big;
};

static enum MHD_Result reply_raw(struct MHD_Connection *c, unsigned status, const char *ctype,
				 const char *body, const char *const *hdrs)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", ctype);
	for (size_t i = 0; hdrs && hdrs[i] && hdrs[i + 1]; i += 2)
		MHD_add_response_header(r, hdrs[i], hdrs[i + 1]);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Takes j. */
static enum MHD_Result reply_json_h(struct MHD_Connection *c, unsigned status, json_t *j,
				    const char *const *hdrs)
{
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	enum MHD_Result r = reply_raw(c, status, "application/json", s ? s : "null", hdrs);
	free(s);
	return r;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
	return reply_json_h(c, status, j, NULL);
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	return reply_json(c, status, json_pack("{s:s}", "error", msg));
}

static const char *header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	(void)kind;
	char name[256];
	size_t n = strlen(key);
	if (n >= sizeof name)
		return MHD_YES;
	for (size_t i = 0; i <= n; i++)
		name[i] = (char)((key[i] >= 'A' && key[i] <= 'Z') ? key[i] - 'A' + 'a' : key[i]);
	json_object_set_new(cls, name, json_string_lossy(value ? value : ""));
	return MHD_YES;
}

static json_t *headers_json(struct MHD_Connection *c)
{
	json_t *h = json_object();
	MHD_get_connection_values(c, MHD_HEADER_KIND, add_header, h);
	return h;
}

/* Authorization: Basic -> user, pass (malloc'd); false when absent or bad. */
static bool basic_auth(struct MHD_Connection *c, char **user, char **pass)
{
	const char *a = header(c, "Authorization");
	if (!a || strncasecmp(a, "Basic ", 6) != 0)
		return false;
	a += 6;
	while (*a == ' ')
		a++;
	char *dec = b64_decode(a, strlen(a), NULL);
	if (!dec)
		return false;
	char *colon = strchr(dec, ':');
	if (!colon) {
		free(dec);
		return false;
	}
	*colon = '\0';
	*user = xstrdup(dec);
	*pass = xstrdup(colon + 1);
	free(dec);
	return true;
}

/* ---- Twilio ------------------------------------------------------------- */

static enum MHD_Result twilio_error(struct MHD_Connection *c, unsigned status, int code,
				    const char *msg)
{
	char info[96], ra[] = "1";
	snprintf(info, sizeof info, "https://www.twilio.com/docs/errors/%d", code);
	const char *hdrs[] = {"Retry-After", ra, NULL};
	return reply_json_h(c, status,
			    json_pack("{s:i, s:s, s:s, s:i}", "code", code, "message", msg,
				      "more_info", info, "status", (int)status),
			    status == 429 ? hdrs : NULL);
}

static enum MHD_Result serve_twilio(struct sinks *s, struct MHD_Connection *c, const char *url,
				    const char *method, const char *body)
{
	const char *p = url + strlen("/2010-04-01/Accounts/");
	const char *slash = strchr(p, '/');
	if (!slash || strcmp(slash, "/Messages.json") != 0 || slash == p || slash - p > 64)
		return twilio_error(c, 404, 20404, "The requested resource was not found");
	if (strcmp(method, "POST") != 0)
		return twilio_error(c, 405, 20004, "Method not allowed");
	char sid[65];
	memcpy(sid, p, (size_t)(slash - p));
	sid[slash - p] = '\0';

	char *user = NULL, *pass = NULL;
	bool ok = basic_auth(c, &user, &pass) && strcmp(user, sid) == 0;
	if (ok && s->twilio_sid)
		ok = strcmp(user, s->twilio_sid) == 0 &&
		     strcmp(pass, s->twilio_token ? s->twilio_token : "") == 0;
	free(user);
	free(pass);
	if (!ok)
		return twilio_error(c, 401, 20003, "Authenticate");

	pthread_mutex_lock(&s->mu);
	int fail = 0;
	if (s->twilio.fail > 0) {
		s->twilio.fail--;
		fail = s->twilio.status ? s->twilio.status : 500;
	}
	pthread_mutex_unlock(&s->mu);
	if (fail == 429)
		return twilio_error(c, 429, 20429, "Too Many Requests");
	if (fail)
		return twilio_error(c, (unsigned)fail, 20500, "Internal Server Error");

	json_t *f = form_parse(body);
	const char *to = json_get_str(f, "To"), *from = json_get_str(f, "From");
	const char *text = json_get_str(f, "Body"), *mss = json_get_str(f, "MessagingServiceSid");
	char msg[512];
	enum MHD_Result r;
	if (!to || !e164_ok(to) || strncmp(to, "+999", 4) == 0) { /* no country code 999 */
		snprintf(msg, sizeof msg, "The 'To' number %s is not a valid phone number.",
			 to ? to : "(missing)");
		r = twilio_error(c, 400, 21211, msg);
	} else if (!mss && (!from || (!e164_ok(from) && !alnum_sender_ok(from)))) {
		r = twilio_error(c, 400, 21212,
				 "The 'From' number is not a valid phone number, shortcode, or "
				 "alphanumeric sender ID.");
	} else if (!text || !*text) {
		r = twilio_error(c, 400, 21602, "Message body is required.");
	} else if (code_points(text) > 1600) {
		r = twilio_error(c, 400, 21617,
				 "The concatenated message body exceeds the 1600 character limit.");
	} else {
		char msid[35] = "SM", date[64], uri[256];
		random_hex(msid + 2, 32);
		rfc2822_now(date, sizeof date);
		snprintf(uri, sizeof uri, "/2010-04-01/Accounts/%s/Messages/%s.json", sid, msid);
		json_t *m = json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:s, s:s, s:n, s:n, s:o, s:s, s:s, "
			"s:n, s:s, s:s, s:s, s:s}",
			"sid", msid, "account_sid", sid, "to", to, "from", from ? from : "", "body",
			text, "date_created", date, "date_sent", "date_updated", date, "direction",
			"outbound-api", "error_code", "error_message", "messaging_service_sid",
			mss ? json_string(mss) : json_null(), "num_media", "0", "num_segments", "1",
			"price", "price_unit", "USD", "status", "queued", "api_version",
			"2010-04-01", "uri", uri);
		pthread_mutex_lock(&s->mu);
		record(s, s->sms, json_deep_copy(m));
		pthread_mutex_unlock(&s->mu);
		r = reply_json(c, 201, m);
	}
	json_decref(f);
	return r;
}

/* ---- OpenAI ------------------------------------------------------------- */

static enum MHD_Result openai_error(struct MHD_Connection *c, unsigned status, const char *type,
				    const char *code, const char *msg)
{
	return reply_json(c, status,
			  json_pack("{s:{s:s, s:s, s:n, s:s?}}", "error", "message", msg, "type",
				    type, "param", "code", code));
}

/* Text of a message's content: a string, or the text parts of an array. */
static char *content_text(const json_t *content)
{
	if (json_is_string(content))
		return xstrdup(json_string_value(content));
	struct buf b;
	buf_init(&b, MAX_BODY);
	size_t i;
	json_t *part;
	json_array_foreach(content, i, part) {
		const char *t = json_get_str(part, "text");
		if (t)
			buf_puts(&b, t);
	}
	char *out = xstrdup(buf_str(&b));
	buf_cleanup(&b);
	return out;
}

static json_t *default_reply(const json_t *messages)
{
	const json_t *last = NULL;
	size_t i;
	json_t *m;
	json_array_foreach(messages, i, m) {
		const char *role = json_get_str(m, "role");
		if (role && strcmp(role, "user") == 0)
			last = m;
	}
	char *text = last ? content_text(json_object_get(last, "content")) : xstrdup("");
	char *out;
	if (strstr(text, "priority: 1") || strstr(text, "priority: 2")) {
		out = xstrdup("NO_NOTIFICATION_NEEDED");
	} else {
		/* first 100 code points */
		size_t n = 0, cps = 0;
		while (text[n] && cps < 100) {
			n++;
			while (((unsigned char)text[n] & 0xC0) == 0x80)
				n++;
			cps++;
		}
		out = xasprintf("Heads-up: %.*s", (int)n, text);
	}
	free(text);
	json_t *r = json_pack("{s:s, s:s%}", "role", "assistant", "content", out, strlen(out));
	free(out);
	return r;
}

static void pause_ms(struct sinks *s, int ms)
{
	struct timespec ts = {0, 5 * 1000 * 1000};
	for (int waited = 0; waited < ms && !atomic_load(&s->stopping); waited += 5)
		nanosleep(&ts, NULL);
}

/* ---- OpenAI streaming ---------------------------------------------------- */

#define STREAM_PIECE 7 /* characters of content or arguments per chunk */

struct sse_out {
	struct sinks *s;
	json_t *frames; /* array of strings, each one whole "data: ...\n\n" */
	size_t i, off;
	int chunk_ms;
};

static void add_frame(json_t *frames, const char *text)
{
	char *f = xasprintf("data: %s\n\n", text);
	json_array_append_new(frames, json_string(f));
	free(f);
}

/* A chat.completion.chunk with this delta (taken) and finish_reason. */
static void add_chunk(json_t *frames, const char *id, const char *model, json_t *delta,
		      const char *finish)
{
	json_t *ch =
		json_pack("{s:s, s:s, s:I, s:s, s:n, s:[{s:i, s:o, s:n, s:o}]}", "id", id, "object",
			  "chat.completion.chunk", "created", (json_int_t)time(NULL), "model",
			  model, "system_fingerprint", "choices", "index", 0, "delta", delta,
			  "logprobs", "finish_reason", finish ? json_string(finish) : json_null());
	char *t = json_dumps(ch, JSON_COMPACT);
	add_frame(frames, t);
	free(t);
	json_decref(ch);
}

/* Split s into pieces of at most STREAM_PIECE code points. */
static size_t next_piece(const char *s)
{
	size_t n = 0, cps = 0;
	while (s[n] && cps < STREAM_PIECE) {
		n++;
		while (((unsigned char)s[n] & 0xC0) == 0x80)
			n++;
		cps++;
	}
	return n;
}

/* The frames of an answer streamed the way OpenAI streams msg. */
static json_t *stream_frames(const json_t *msg, const char *id, const char *model)
{
	json_t *frames = json_array();
	const char *content = json_get_str(msg, "content");
	json_t *calls = json_object_get(msg, "tool_calls");
	size_t i, n;
	json_t *call;
	char *piece;

	add_chunk(frames, id, model,
		  json_pack("{s:s, s:s, s:n}", "role", "assistant", "content", "", "refusal"),
		  NULL);
	for (const char *p = content ? content : ""; *p; p += n) {
		n = next_piece(p);
		piece = xstrndup(p, n);
		add_chunk(frames, id, model, json_pack("{s:s}", "content", piece), NULL);
		free(piece);
	}
	json_array_foreach(calls, i, call) {
		json_t *fn = json_object_get(call, "function");
		const char *args = json_get_str(fn, "arguments");
		const char *cid = json_get_str(call, "id");
		add_chunk(frames, id, model,
			  json_pack("{s:[{s:i, s:s, s:s, s:{s:s, s:s}}]}", "tool_calls", "index",
				    (int)i, "id", cid ? cid : "call_fixture", "type", "function",
				    "function", "name",
				    json_get_str(fn, "name") ? json_get_str(fn, "name") : "",
				    "arguments", ""),
			  NULL);
		for (const char *p = args ? args : ""; *p; p += n) {
			n = next_piece(p);
			piece = xstrndup(p, n);
			add_chunk(frames, id, model,
				  json_pack("{s:[{s:i, s:{s:s}}]}", "tool_calls", "index", (int)i,
					    "function", "arguments", piece),
				  NULL);
			free(piece);
		}
	}
	add_chunk(frames, id, model, json_object(), json_array_size(calls) ? "tool_calls" : "stop");
	json_array_append_new(frames, json_string("data: [DONE]\n\n"));
	return frames;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct sse_out *o = cls;
	(void)pos;
	if (o->i >= json_array_size(o->frames))
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (o->off == 0 && o->i > 0 && o->chunk_ms > 0)
		pause_ms(o->s, o->chunk_ms);
	if (atomic_load(&o->s->stopping))
		return MHD_CONTENT_READER_END_WITH_ERROR;
	const char *f = json_string_value(json_array_get(o->frames, o->i));
	size_t len = strlen(f) - o->off;
	if (len > max)
		len = max;
	memcpy(out, f + o->off, len);
	o->off += len;
	if (!f[o->off]) {
		o->i++;
		o->off = 0;
	}
	return (ssize_t)len;
}

static void sse_free(void *cls)
{
	struct sse_out *o = cls;
	json_decref(o->frames);
	free(o);
}

/* Takes frames. */
static enum MHD_Result reply_stream(struct sinks *s, struct MHD_Connection *c, json_t *frames,
				    int chunk_ms)
{
	struct sse_out *o = xcalloc(1, sizeof *o);
	o->s = s;
	o->frames = frames;
	o->chunk_ms = chunk_ms;
	struct MHD_Response *r =
		MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, o, sse_free);
	MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	enum MHD_Result ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result serve_openai(struct sinks *s, struct MHD_Connection *c, const char *method,
				    const char *body)
{
	if (strcmp(method, "POST") != 0)
		return openai_error(c, 405, "invalid_request_error", NULL,
				    "Use POST for /v1/chat/completions.");
	if (s->openai_key) {
		const char *a = header(c, "Authorization");
		if (!a || strncmp(a, "Bearer ", 7) != 0 || strcmp(a + 7, s->openai_key) != 0)
			return openai_error(c, 401, "invalid_request_error", "invalid_api_key",
					    "Incorrect API key provided.");
	}
	json_t *req = json_loads(body, 0, NULL);
	if (!json_is_object(req)) {
		json_decref(req);
		return openai_error(c, 400, "invalid_request_error", NULL,
				    "We could not parse the JSON body of your request.");
	}
	pthread_mutex_lock(&s->mu);
	record(s, s->llm_requests, json_incref(req));
	int fail = 0, delay = s->llm_delay_ms;
	s->llm_delay_ms = 0;
	if (s->llm.fail > 0) {
		s->llm.fail--;
		fail = s->llm.status ? s->llm.status : 500;
	}
	char *raw = NULL, *raw_stream = NULL;
	json_t *reply = NULL;
	int chunk_ms = s->llm_chunk_ms;
	bool stream = json_is_true(json_object_get(req, "stream")) && !s->llm_ignore_stream;
	if (!fail) {
		raw = s->llm_raw;
		s->llm_raw = NULL;
		if (!raw && stream) {
			raw_stream = s->llm_raw_stream;
			s->llm_raw_stream = NULL;
		}
		if (!raw && !raw_stream && json_array_size(s->llm_replies)) {
			reply = json_incref(json_array_get(s->llm_replies, 0));
			json_array_remove(s->llm_replies, 0);
		}
	}
	unsigned long n = ++s->seq;
	pthread_mutex_unlock(&s->mu);

	if (delay > 0)
		pause_ms(s, delay);
	const json_t *messages = json_object_get(req, "messages");
	const char *model = json_get_str(req, "model");
	enum MHD_Result r;
	if (fail) {
		r = openai_error(c, (unsigned)fail,
				 fail == 429 ? "rate_limit_exceeded" : "server_error", NULL,
				 fail == 429 ? "Rate limit reached (fixture)."
					     : "The server had an error while processing your "
					       "request (fixture).");
	} else if (!model || !json_is_array(messages) || !json_array_size(messages)) {
		r = openai_error(c, 400, "invalid_request_error", NULL,
				 "'model' (a string) and 'messages' (a non-empty array) are "
				 "required.");
	} else if (raw) {
		r = reply_raw(c, 200, "application/json", raw, NULL);
	} else if (raw_stream) {
		r = reply_raw(c, 200, "text/event-stream", raw_stream, NULL);
	} else {
		json_t *msg;
		if (json_is_string(reply))
			msg = json_pack("{s:s, s:O}", "role", "assistant", "content", reply);
		else if (json_is_object(reply))
			msg = json_deep_copy(reply);
		else
			msg = default_reply(messages);
		if (!json_object_get(msg, "role"))
			json_object_set_new(msg, "role", json_string("assistant"));
		const char *finish = json_object_get(msg, "tool_calls") ? "tool_calls" : "stop";
		char id[64];
		snprintf(id, sizeof id, "chatcmpl-fixture%lu", n);
		if (stream) {
			r = reply_stream(s, c, stream_frames(msg, id, model), chunk_ms);
			json_decref(msg);
			goto done;
		}
		r = reply_json(c, 200,
			       json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:n, s:s}], "
					 "s:{s:i, s:i, s:i}}",
					 "id", id, "object", "chat.completion", "created",
					 (json_int_t)time(NULL), "model", model, "choices", "index",
					 0, "message", msg, "logprobs", "finish_reason", finish,
					 "usage", "prompt_tokens", 10, "completion_tokens", 5,
					 "total_tokens", 15));
	}
done:
	json_decref(reply);
	free(raw);
	free(raw_stream);
	json_decref(req);
	return r;
}

/* ---- ntfy and webhook capture ----------------------------------------- */

static bool name_ok(const char *p)
{
	size_t n = 0;
	for (; *p; p++, n++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
	return n >= 1 && n <= 64;
}

static enum MHD_Result serve_capture(struct sinks *s, struct MHD_Connection *c, const char *url,
				     const char *method, const char *body, size_t len, bool ntfy)
{
	const char *name = url + 6; /* after "/ntfy/" or "/hook/" */
	if (strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0)
		return reply_error(c, 405, "POST a message");
	if (!name_ok(name)) {
		if (ntfy)
			return reply_json(c, 400,
					  json_pack("{s:i, s:i, s:s}", "code", 40010, "http", 400,
						    "error", "invalid request: invalid topic"));
		return reply_error(c, 400, "bad hook name (letters, digits, '-', '_', '.')");
	}
	unsigned status = 200;
	pthread_mutex_lock(&s->mu);
	if (!ntfy && s->hook.fail > 0) {
		s->hook.fail--;
		status = (unsigned)(s->hook.status ? s->hook.status : 500);
	}
	json_t *rec = json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:i}", "kind",
				ntfy ? "ntfy" : "hook", "path", url, ntfy ? "topic" : "name", name,
				"headers", headers_json(c), "body", json_string_lossy(body),
				"length", (json_int_t)len, "status", (int)status);
	record(s, s->captured, rec);
	unsigned long n = ++s->seq;
	pthread_mutex_unlock(&s->mu);

	if (!ntfy) {
		if (status >= 300)
			return reply_error(c, status, "scripted failure (fixture)");
		return reply_json(c, 200, json_pack("{s:b}", "ok", 1));
	}
	char id[16];
	snprintf(id, sizeof id, "nt%010lu", n);
	time_t t = time(NULL);
	json_t *a = json_pack("{s:s, s:I, s:I, s:s, s:s, s:s}", "id", id, "time", (json_int_t)t,
			      "expires", (json_int_t)t + 43200, "event", "message", "topic", name,
			      "message", "");
	json_object_set_new(a, "message", json_string_lossy(body));
	const char *title = header(c, "Title"), *click = header(c, "Click");
	const char *prio = header(c, "Priority");
	if (title)
		json_object_set_new(a, "title", json_string_lossy(title));
	if (click)
		json_object_set_new(a, "click", json_string_lossy(click));
	if (prio)
		json_object_set_new(a, "priority", json_integer(atoi(prio)));
	return reply_json(c, 200, a);
}

/* ---- control ------------------------------------------------------------ */

static int script_set(struct script *sc, const json_t *body, const char *status_key, struct err *e)
{
	json_t *f = json_object_get(body, "fail");
	json_t *st = json_object_get(body, status_key);
	if (f &&
	    (!json_is_integer(f) || json_integer_value(f) < 0 || json_integer_value(f) > 1000000))
		return err_set(e, ERR_INVALID, "\"fail\" must be a count (0 or more)");
	if (st &&
	    (!json_is_integer(st) || json_integer_value(st) < 200 || json_integer_value(st) > 599))
		return err_set(e, ERR_INVALID, "\"%s\" must be a status between 200 and 599",
			       status_key);
	if (f)
		sc->fail = (int)json_integer_value(f);
	if (st)
		sc->status = (int)json_integer_value(st);
	return ERR_OK;
}

int sinks_control(struct sinks *s, const char *what, const json_t *body, struct err *e)
{
	if (strcmp(what, "reset") == 0) {
		pthread_mutex_lock(&s->mu);
		json_array_clear(s->sms);
		json_array_clear(s->emails);
		json_array_clear(s->captured);
		json_array_clear(s->llm_requests);
		json_array_clear(s->llm_replies);
		memset(&s->llm, 0, sizeof s->llm);
		memset(&s->twilio, 0, sizeof s->twilio);
		memset(&s->hook, 0, sizeof s->hook);
		memset(&s->smtp, 0, sizeof s->smtp);
		s->llm_delay_ms = 0;
		free(s->llm_raw);
		s->llm_raw = NULL;
		free(s->llm_raw_stream);
		s->llm_raw_stream = NULL;
		s->llm_chunk_ms = 0;
		s->llm_ignore_stream = false;
		pthread_mutex_unlock(&s->mu);
		return ERR_OK;
	}
	if (!json_is_object(body))
		return err_set(e, ERR_INVALID, "the control body must be a JSON object");
	int rc = ERR_OK;
	pthread_mutex_lock(&s->mu);
	if (strcmp(what, "llm") == 0) {
		json_t *rep = json_object_get(body, "replies");
		json_t *d = json_object_get(body, "delay_ms");
		json_t *raw = json_object_get(body, "raw");
		json_t *raw_stream = json_object_get(body, "raw_stream");
		json_t *chunk = json_object_get(body, "chunk_ms");
		json_t *ignore = json_object_get(body, "ignore_stream");
		if (rep && !json_is_array(rep))
			rc = err_set(e, ERR_INVALID,
				     "\"replies\" must be an array of strings or "
				     "message objects");
		else if (d && (!json_is_integer(d) || json_integer_value(d) < 0 ||
			       json_integer_value(d) > MAX_DELAY_MS))
			rc = err_set(e, ERR_INVALID, "\"delay_ms\" must be 0..%d", MAX_DELAY_MS);
		else if (raw && !json_is_string(raw))
			rc = err_set(e, ERR_INVALID, "\"raw\" must be a string");
		else if (raw_stream && !json_is_string(raw_stream))
			rc = err_set(e, ERR_INVALID, "\"raw_stream\" must be a string");
		else if (chunk && (!json_is_integer(chunk) || json_integer_value(chunk) < 0 ||
				   json_integer_value(chunk) > MAX_DELAY_MS))
			rc = err_set(e, ERR_INVALID, "\"chunk_ms\" must be 0..%d", MAX_DELAY_MS);
		else if (ignore && !json_is_boolean(ignore))
			rc = err_set(e, ERR_INVALID, "\"ignore_stream\" must be true or false");
		else
			rc = script_set(&s->llm, body, "status", e);
		if (!rc) {
			size_t i;
			json_t *r;
			json_array_foreach(rep, i, r) {
				if (json_is_string(r) || json_is_object(r))
					json_array_append(s->llm_replies, r);
			}
			if (d)
				s->llm_delay_ms = (int)json_integer_value(d);
			if (raw) {
				free(s->llm_raw);
				s->llm_raw = xstrdup(json_string_value(raw));
			}
			if (raw_stream) {
				free(s->llm_raw_stream);
				s->llm_raw_stream = xstrdup(json_string_value(raw_stream));
			}
			if (chunk)
				s->llm_chunk_ms = (int)json_integer_value(chunk);
			if (ignore)
				s->llm_ignore_stream = json_is_true(ignore);
		}
	} else if (strcmp(what, "twilio") == 0) {
		rc = script_set(&s->twilio, body, "status", e);
	} else if (strcmp(what, "hook") == 0) {
		rc = script_set(&s->hook, body, "status", e);
	} else if (strcmp(what, "smtp") == 0) {
		json_t *code = json_object_get(body, "code");
		if (code && (!json_is_integer(code) || json_integer_value(code) < 400 ||
			     json_integer_value(code) > 599))
			rc = err_set(e, ERR_INVALID, "\"code\" must be an SMTP code 400..599");
		else
			rc = script_set(&s->smtp, body, "code", e);
	} else {
		rc = err_set(e, ERR_NOT_FOUND, "no control '%s' (llm, twilio, hook, smtp, reset)",
			     what);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

json_t *sinks_list(struct sinks *s, const char *what)
{
	json_t *list;
	const char *key;
	if (strcmp(what, "sms") == 0) {
		list = s->sms;
		key = "messages";
	} else if (strcmp(what, "emails") == 0) {
		list = s->emails;
		key = "emails";
	} else if (strcmp(what, "captured") == 0) {
		list = s->captured;
		key = "captured";
	} else if (strcmp(what, "llm/requests") == 0) {
		list = s->llm_requests;
		key = "requests";
	} else {
		return NULL;
	}
	pthread_mutex_lock(&s->mu);
	json_t *copy = json_deep_copy(list);
	pthread_mutex_unlock(&s->mu);
	return json_pack("{s:o, s:I}", key, copy, "count", (json_int_t)json_array_size(copy));
}

/* ---- dispatch ----------------------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **ctx)
{
	(void)version;
	struct sinks *s = cls;
	struct hreq *r = *ctx;
	if (!r) {
		r = xcalloc(1, sizeof *r);
		buf_init(&r->body, MAX_BODY);
		*ctx = r;
		return MHD_YES;
	}
	if (*upload_size) {
		if (buf_append(&r->body, upload, *upload_size))
			r->too_big = true;
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->too_big)
		return reply_error(c, 413, "request body larger than 1 MiB");
	const char *body = buf_str(&r->body);
	bool get = strcmp(method, "GET") == 0;

	if (strncmp(url, "/2010-04-01/Accounts/", 21) == 0)
		return serve_twilio(s, c, url, method, body);
	if (strcmp(url, "/v1/chat/completions") == 0)
		return serve_openai(s, c, method, body);
	if (strncmp(url, "/ntfy/", 6) == 0)
		return serve_capture(s, c, url, method, body, r->body.len, true);
	if (strncmp(url, "/hook/", 6) == 0)
		return serve_capture(s, c, url, method, body, r->body.len, false);
	if (get && (strcmp(url, "/sms") == 0 || strcmp(url, "/emails") == 0 ||
		    strcmp(url, "/captured") == 0 || strcmp(url, "/llm/requests") == 0))
		return reply_json(c, 200, sinks_list(s, url + 1));
	if (get && strcmp(url, "/health") == 0)
		return reply_json(c, 200,
				  json_pack("{s:b, s:i, s:i}", "ok", 1, "http_port", s->http_port,
					    "smtp_port", s->smtp_port));
	if (strncmp(url, "/_control/", 10) == 0) {
		if (strcmp(method, "POST") != 0)
			return reply_error(c, 405, "POST a JSON object to /_control/<name>");
		json_t *j = r->body.len ? json_loads(body, 0, NULL) : json_object();
		if (!j)
			return reply_error(c, 400, "the body is not JSON");
		struct err e = {0};
		int rc = sinks_control(s, url + 10, j, &e);
		json_decref(j);
		if (rc)
			return reply_error(c, rc == ERR_NOT_FOUND ? 404 : 400, e.msg);
		return reply_json(c, 200, json_pack("{s:b}", "ok", 1));
	}
	return reply_error(c, 404, "nothing here; see tests/fixture_sinks/sinks.c");
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct hreq *r = *ctx;
	if (!r)
		return;
	buf_cleanup(&r->body);
	free(r);
	*ctx = NULL;
}

/* ---- SMTP --------------------------------------------------------------- */

struct lreader {
	int fd;
	char buf[MAX_LINE * 2];
	size_t off, len;
};

/* One line without its CR LF into out (NUL-terminated).  Returns its length,
 * -1 at EOF or on an error, -2 when the line is longer than MAX_LINE. */
static long read_line(struct lreader *r, char *out)
{
	for (;;) {
		char *nl = memchr(r->buf + r->off, '\n', r->len - r->off);
		if (nl) {
			size_t n = (size_t)(nl - (r->buf + r->off));
			if (n > MAX_LINE)
				return -2;
			memcpy(out, r->buf + r->off, n);
			if (n && out[n - 1] == '\r')
				n--;
			out[n] = '\0';
			r->off += (size_t)(nl - (r->buf + r->off)) + 1;
			return (long)n;
		}
		if (r->len - r->off > MAX_LINE)
			return -2;
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
		ssize_t got = recv(r->fd, r->buf + r->len, sizeof r->buf - r->len, 0);
		if (got <= 0)
			return -1;
		r->len += (size_t)got;
	}
}

static void say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int fd, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 3)
		n = (int)sizeof line - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	for (size_t o = 0; o < (size_t)n;) {
		ssize_t w = send(fd, line + o, (size_t)n - o, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		o += (size_t)w;
	}
}

/* The value of header `name` in the header block of msg, unfolded; new
 * string or NULL. */
static char *mail_header(const char *msg, const char *name)
{
	size_t nl = strlen(name);
	const char *p = msg;
	while (*p && !(p[0] == '\r' && p[1] == '\n')) {
		const char *eol = strstr(p, "\r\n");
		if (!eol)
			break;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			struct buf b;
			buf_init(&b, MAX_LINE * 4);
			const char *v = p + nl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			buf_append(&b, v, (size_t)(eol - v));
			while (eol[2] == ' ' || eol[2] == '\t') { /* folded */
				p = eol + 2;
				eol = strstr(p, "\r\n");
				if (!eol)
					break;
				buf_append(&b, p, (size_t)(eol - p));
			}
			char *out = xstrdup(buf_str(&b));
			buf_cleanup(&b);
			return out;
		}
		p = eol + 2;
	}
	return NULL;
}

static void qp_decode(const char *in, size_t n, struct buf *out, bool q_word)
{
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '=' && i + 1 < n && in[i + 1] == '\r' && i + 2 < n &&
		    in[i + 2] == '\n') {
			i += 2;
		} else if (in[i] == '=' && i + 1 < n && in[i + 1] == '\n') {
			i += 1;
		} else if (in[i] == '=' && i + 2 < n && hexval(in[i + 1]) >= 0 &&
			   hexval(in[i + 2]) >= 0) {
			char ch = (char)(hexval(in[i + 1]) * 16 + hexval(in[i + 2]));
			buf_append(out, &ch, 1);
			i += 2;
		} else if (q_word && in[i] == '_') {
			buf_append(out, " ", 1);
		} else {
			buf_append(out, in + i, 1);
		}
	}
}

/* RFC 2047: decode =?charset?B|Q?text?= words (whitespace between two words
 * dropped); other text kept. */
static char *decode_2047(const char *s)
{
	struct buf b;
	buf_init(&b, MAX_LINE * 8);
	const char *p = s;
	bool prev_word = false;
	while (*p) {
		if (p[0] == '=' && p[1] == '?') {
			const char *q1 = strchr(p + 2, '?');
			const char *q2 = q1 ? strchr(q1 + 1, '?') : NULL;
			const char *end = q2 ? strstr(q2 + 1, "?=") : NULL;
			if (q1 && q2 && end && q2 == q1 + 2) {
				char enc = q1[1];
				const char *t = q2 + 1;
				size_t tn = (size_t)(end - t);
				if (enc == 'B' || enc == 'b') {
					size_t dn = 0;
					char *d = b64_decode(t, tn, &dn);
					if (d)
						buf_append(&b, d, dn);
					free(d);
				} else {
					qp_decode(t, tn, &b, true);
				}
				p = end + 2;
				prev_word = true;
				continue;
			}
		}
		if (prev_word && (*p == ' ' || *p == '\t')) {
			const char *w = p;
			while (*w == ' ' || *w == '\t')
				w++;
			if (w[0] == '=' && w[1] == '?') {
				p = w;
				continue;
			}
		}
		buf_append(&b, p, 1);
		prev_word = false;
		p++;
	}
	char *out = xstrdup(buf_str(&b));
	buf_cleanup(&b);
	return out;
}

static json_t *email_json(const char *helo, const char *auth_user, const char *from, json_t *rcpts,
			  const char *data, size_t len, unsigned long n)
{
	char id[32];
	snprintf(id, sizeof id, "mail-%lu", n);
	char *subj_raw = mail_header(data, "Subject");
	char *subj = subj_raw ? decode_2047(subj_raw) : NULL;
	char *cte = mail_header(data, "Content-Transfer-Encoding");
	const char *body = strstr(data, "\r\n\r\n");
	body = body ? body + 4 : data + len;
	size_t bn = len - (size_t)(body - data);
	struct buf text;
	buf_init(&text, MAX_BODY);
	if (cte && strcasecmp(cte, "quoted-printable") == 0) {
		qp_decode(body, bn, &text, false);
	} else if (cte && strcasecmp(cte, "base64") == 0) {
		char *flat = xmalloc(bn + 1);
		size_t fn = 0;
		for (size_t i = 0; i < bn; i++)
			if (body[i] != '\r' && body[i] != '\n')
				flat[fn++] = body[i];
		size_t dn = 0;
		char *d = b64_decode(flat, fn, &dn);
		if (d)
			buf_append(&text, d, dn);
		free(d);
		free(flat);
	} else {
		buf_append(&text, body, bn);
	}
	json_t *j = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", id, "from",
			      json_string_lossy(from), "to", rcpts, "data", json_string_lossy(data),
			      "subject", subj ? json_string_lossy(subj) : json_null(),
			      "subject_raw", subj_raw ? json_string_lossy(subj_raw) : json_null(),
			      "text", json_string_lossy(buf_str(&text)), "auth_user",
			      auth_user ? json_string_lossy(auth_user) : json_null(), "helo",
			      json_string_lossy(helo));
	buf_cleanup(&text);
	free(subj_raw);
	free(subj);
	free(cte);
	return j;
}

/* AUTH PLAIN / LOGIN.  Returns the authenticated user (new string) or NULL
 * (the answer has been sent either way); *quit on a broken connection. */
static char *smtp_auth(struct sinks *s, struct lreader *lr, char *line, bool *quit)
{
	int fd = lr->fd;
	char *arg = line + 4;
	while (*arg == ' ')
		arg++;
	char mech[16] = "";
	size_t mn = strcspn(arg, " ");
	if (mn < sizeof mech) {
		memcpy(mech, arg, mn);
		mech[mn] = '\0';
	}
	const char *ir = arg[mn] == ' ' ? arg + mn + 1 : NULL;
	char *user = NULL, *pass = NULL;
	char *rbuf = xmalloc(MAX_LINE + 1);
	if (strcasecmp(mech, "PLAIN") == 0) {
		if (!ir) {
			say(fd, "334 ");
			if (read_line(lr, rbuf) < 0)
				goto broken;
			ir = rbuf;
		}
		size_t n = 0;
		char *d = strcmp(ir, "*") == 0 ? NULL : b64_decode(ir, strlen(ir), &n);
		char *u = d ? memchr(d, '\0', n) : NULL;
		char *pw = u && u + 1 < d + n ? memchr(u + 1, '\0', (size_t)(d + n - u - 1)) : NULL;
		if (u && pw) {
			user = xstrdup(u + 1);
			pass = xstrndup(pw + 1, (size_t)(d + n - pw - 1));
		}
		free(d);
	} else if (strcasecmp(mech, "LOGIN") == 0) {
		char ub[MAX_LINE + 1];
		if (!ir) {
			say(fd, "334 VXNlcm5hbWU6");
			if (read_line(lr, ub) < 0)
				goto broken;
			ir = ub;
		}
		user = b64_decode(ir, strlen(ir), NULL);
		say(fd, "334 UGFzc3dvcmQ6");
		if (read_line(lr, rbuf) < 0)
			goto broken;
		pass = b64_decode(rbuf, strlen(rbuf), NULL);
	} else {
		say(fd, "504 5.5.4 Unrecognized authentication type (PLAIN and LOGIN are offered)");
		free(rbuf);
		return NULL;
	}
	free(rbuf);
	bool ok = user && pass;
	if (ok && s->smtp_user)
		ok = strcmp(user, s->smtp_user) == 0 &&
		     strcmp(pass, s->smtp_pass ? s->smtp_pass : "") == 0;
	free(pass);
	if (!ok) {
		free(user);
		say(fd, "535 5.7.8 Authentication credentials invalid");
		return NULL;
	}
	say(fd, "235 2.7.0 Authentication successful");
	return user;
broken:
	free(rbuf);
	free(user);
	*quit = true;
	return NULL;
}

/* "MAIL FROM:<a@b> SIZE=1" -> "a@b" in out; false when malformed. */
static bool path_arg(const char *p, char *out, size_t size)
{
	while (*p == ' ')
		p++;
	const char *lt = strchr(p, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	if (!lt || !gt || (size_t)(gt - lt - 1) >= size)
		return false;
	memcpy(out, lt + 1, (size_t)(gt - lt - 1));
	out[gt - lt - 1] = '\0';
	return true;
}

static void *smtp_session(void *ud)
{
	struct sconn *sc = ud;
	struct sinks *s = sc->s;
	int fd = sc->fd;
	struct lreader *lr = xcalloc(1, sizeof *lr);
	lr->fd = fd;
	char *line = xmalloc(MAX_LINE + 1);
	char helo[256] = "", from[512] = "";
	bool have_from = false, quit = false;
	char *auth_user = NULL;
	json_t *rcpts = json_array();

	struct timeval tv = {60, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	say(fd, "220 fixture-sinks ESMTP ready");
	while (!quit && !atomic_load(&s->stopping)) {
		long n = read_line(lr, line);
		if (n == -2) {
			say(fd, "500 5.5.6 Line too long");
			break;
		}
		if (n < 0)
			break;
		if (strncasecmp(line, "EHLO", 4) == 0 || strncasecmp(line, "HELO", 4) == 0) {
			snprintf(helo, sizeof helo, "%s", line[4] ? line + 5 : "");
			if (line[0] == 'H' || line[0] == 'h') {
				say(fd, "250 fixture-sinks");
			} else {
				say(fd, "250-fixture-sinks greets %s", helo);
				say(fd, "250-AUTH PLAIN LOGIN");
				say(fd, "250-8BITMIME");
				say(fd, "250 SIZE %u", MAX_BODY);
			}
			have_from = false;
			json_array_clear(rcpts);
		} else if (strncasecmp(line, "AUTH ", 5) == 0) {
			if (auth_user) {
				say(fd, "503 5.5.1 Already authenticated");
				continue;
			}
			auth_user = smtp_auth(s, lr, line, &quit);
		} else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
			if (s->smtp_user && !auth_user) {
				say(fd, "530 5.7.0 Authentication required");
				continue;
			}
			if (!path_arg(line + 10, from, sizeof from)) {
				say(fd, "501 5.1.7 Bad sender address syntax");
				continue;
			}
			pthread_mutex_lock(&s->mu);
			int fail = 0;
			if (s->smtp.fail > 0) {
				s->smtp.fail--;
				fail = s->smtp.status ? s->smtp.status : 451;
			}
			pthread_mutex_unlock(&s->mu);
			if (fail) {
				say(fd, "%d %s", fail,
				    fail < 500
					    ? "4.3.0 Temporary failure (fixture), try again later"
					    : "5.7.1 Rejected (fixture)");
				continue;
			}
			have_from = true;
			json_array_clear(rcpts);
			say(fd, "250 2.1.0 OK");
		} else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
			char to[512];
			if (!have_from) {
				say(fd, "503 5.5.1 Need MAIL FROM first");
			} else if (json_array_size(rcpts) >= MAX_RCPT) {
				say(fd, "452 4.5.3 Too many recipients");
			} else if (!path_arg(line + 8, to, sizeof to) || !strchr(to, '@')) {
				say(fd, "501 5.1.3 Bad recipient address syntax");
			} else {
				json_array_append_new(rcpts, json_string_lossy(to));
				say(fd, "250 2.1.5 OK");
			}
		} else if (strcasecmp(line, "DATA") == 0) {
			if (!json_array_size(rcpts)) {
				say(fd, "503 5.5.1 Need RCPT TO first");
				continue;
			}
			say(fd, "354 End data with <CR><LF>.<CR><LF>");
			struct buf data;
			buf_init(&data, MAX_BODY);
			bool big = false, done = false;
			for (;;) {
				long m = read_line(lr, line);
				if (m == -2) {
					say(fd, "500 5.5.6 Line too long");
					break;
				}
				if (m < 0)
					break;
				if (strcmp(line, ".") == 0) {
					done = true;
					break;
				}
				const char *l = line[0] == '.' ? line + 1 : line;
				if (buf_puts(&data, l) || buf_puts(&data, "\r\n"))
					big = true;
			}
			if (!done) {
				buf_cleanup(&data);
				break;
			}
			if (big) {
				say(fd, "552 5.3.4 Message too big (1 MiB at most)");
			} else {
				pthread_mutex_lock(&s->mu);
				unsigned long k = ++s->seq;
				record(s, s->emails,
				       email_json(helo, auth_user, from, json_deep_copy(rcpts),
						  buf_str(&data), data.len, k));
				pthread_mutex_unlock(&s->mu);
				say(fd, "250 2.0.0 OK queued as mail-%lu", k);
			}
			buf_cleanup(&data);
			have_from = false;
			json_array_clear(rcpts);
		} else if (strcasecmp(line, "RSET") == 0) {
			have_from = false;
			json_array_clear(rcpts);
			say(fd, "250 2.0.0 OK");
		} else if (strncasecmp(line, "NOOP", 4) == 0) {
			say(fd, "250 2.0.0 OK");
		} else if (strcasecmp(line, "QUIT") == 0) {
			say(fd, "221 2.0.0 Bye");
			quit = true;
		} else if (strncasecmp(line, "VRFY", 4) == 0) {
			say(fd, "252 2.1.5 Cannot VRFY user");
		} else {
			say(fd, "500 5.5.2 Command not recognized");
		}
	}
	shutdown(fd, SHUT_RDWR);
	json_decref(rcpts);
	free(auth_user);
	free(line);
	free(lr);
	atomic_store(&sc->done, true);
	return NULL;
}

/* Join and free finished sessions (all of them when `all`). */
static void reap(struct sinks *s, bool all)
{
	struct sconn **pp = &s->conns;
	while (*pp) {
		struct sconn *c = *pp;
		if (all || atomic_load(&c->done)) {
			if (all)
				shutdown(c->fd, SHUT_RDWR);
			pthread_join(c->th, NULL);
			close(c->fd);
			*pp = c->next;
			free(c);
			s->nconns--;
		} else {
			pp = &c->next;
		}
	}
}

static void *smtp_accept(void *ud)
{
	struct sinks *s = ud;
	for (;;) {
		struct pollfd p[2] = {{s->listen_fd, POLLIN, 0}, {s->wake[0], POLLIN, 0}};
		if (poll(p, 2, 1000) < 0 && errno != EINTR)
			break;
		if (atomic_load(&s->stopping))
			break;
		reap(s, false);
		if (!(p[0].revents & POLLIN))
			continue;
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (s->nconns >= MAX_SMTP_CONNS) {
			say(fd, "421 4.3.2 Too many connections, try again later");
			close(fd);
			continue;
		}
		struct sconn *c = xcalloc(1, sizeof *c);
		c->s = s;
		c->fd = fd;
		if (pthread_create(&c->th, NULL, smtp_session, c) != 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = s->conns;
		s->conns = c;
		s->nconns++;
	}
	reap(s, true);
	return NULL;
}

static int listen_on(int port, int *fd_out, int *bound, struct err *e)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, ERR_IO, "socket: %s", strerror(errno));
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = {0};
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof sa;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
		int rc = err_set(e, ERR_IO, "cannot listen on 127.0.0.1:%d for SMTP: %s", port,
				 strerror(errno));
		close(fd);
		return rc;
	}
	*fd_out = fd;
	*bound = ntohs(sa.sin_port);
	return ERR_OK;
}

/* ---- lifecycle ---------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

int sinks_start(const struct sinks_options *o, struct sinks **out, struct err *e)
{
	struct sinks_options d = {0};
	if (!o)
		o = &d;
	*out = NULL;
	if (o->http_port < 0 || o->http_port > 65535 || o->smtp_port < -1 || o->smtp_port > 65535)
		return err_set(e, ERR_INVALID, "ports must be 0..65535 (0: ephemeral)");
	struct sinks *s = xcalloc(1, sizeof *s);
	pthread_mutex_init(&s->mu, NULL);
	s->twilio_sid = dup_or_null(o->twilio_sid);
	s->twilio_token = dup_or_null(o->twilio_token);
	s->smtp_user = dup_or_null(o->smtp_user);
	s->smtp_pass = dup_or_null(o->smtp_pass);
	s->openai_key = dup_or_null(o->openai_key);
	s->max_records = o->max_records ? o->max_records : 1000;
	s->sms = json_array();
	s->emails = json_array();
	s->captured = json_array();
	s->llm_requests = json_array();
	s->llm_replies = json_array();
	s->listen_fd = s->wake[0] = s->wake[1] = -1;

	struct sockaddr_in sa = {0};
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)o->http_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->mhd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &sa,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)256, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
	if (!s->mhd) {
		int rc = err_set(e, ERR_IO, "cannot listen on 127.0.0.1:%d for HTTP: %s",
				 o->http_port, strerror(errno));
		sinks_stop(s);
		return rc;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	s->http_port = di ? di->port : 0;

	if (o->smtp_port >= 0) {
		int rc = listen_on(o->smtp_port, &s->listen_fd, &s->smtp_port, e);
		if (!rc && pipe2(s->wake, O_CLOEXEC) != 0)
			rc = err_set(e, ERR_IO, "pipe: %s", strerror(errno));
		if (!rc && pthread_create(&s->accept_th, NULL, smtp_accept, s) != 0)
			rc = err_set(e, ERR_IO, "cannot start the SMTP thread");
		if (rc) {
			sinks_stop(s);
			return rc;
		}
		s->accept_started = true;
	}
	*out = s;
	return ERR_OK;
}

int sinks_http_port(const struct sinks *s)
{
	return s->http_port;
}

int sinks_smtp_port(const struct sinks *s)
{
	return s->smtp_port;
}

void sinks_stop(struct sinks *s)
{
	if (!s)
		return;
	atomic_store(&s->stopping, true);
	if (s->accept_started) {
		if (write(s->wake[1], "x", 1) < 0) {
			/* the accept loop also wakes once a second */
		}
		pthread_join(s->accept_th, NULL);
	}
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->wake[0] >= 0) {
		close(s->wake[0]);
		close(s->wake[1]);
	}
	json_decref(s->sms);
	json_decref(s->emails);
	json_decref(s->captured);
	json_decref(s->llm_requests);
	json_decref(s->llm_replies);
	free(s->llm_raw);
	free(s->llm_raw_stream);
	free(s->twilio_sid);
	free(s->twilio_token);
	free(s->smtp_user);
	free(s->smtp_pass);
	free(s->openai_key);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
