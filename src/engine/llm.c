/*
 * llm.c - OpenAI-compatible chat completions over a libcurl easy handle per
 * call (see llm.h).
 */
#define _GNU_SOURCE
#include "llm.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool set(const char *s)
{
	return s && *s;
}

void llm_config_from_env(struct llm_config *c)
{
	const char *v;
	if (!c->base_url)
		c->base_url = LLM_DEFAULT_BASE_URL;
	if (!c->model)
		c->model = LLM_DEFAULT_MODEL;
	if ((v = getenv("OPENAI_API_KEY")) && *v)
		c->api_key = v;
	if ((v = getenv("OPENAI_BASE_URL")) && *v)
		c->base_url = v;
	if ((v = getenv("OPENAI_API_BASE")) && *v)
		c->base_url = v;
	if ((v = getenv("OPENAI_MODEL")) && *v)
		c->model = v;
}

const char *llm_model(const struct llm_config *c)
{
	return c && set(c->model) ? c->model : LLM_DEFAULT_MODEL;
}

struct sink {
	struct buf b;
	bool too_big;
};

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	if (buf_append(&s->b, p, size * n)) {
		s->too_big = true;
		return 0; /* abort the transfer */
	}
	return size * n;
}

/* base without user info, for messages */
static void display_url(const char *url, char *out, size_t size)
{
	CURLU *u = curl_url();
	char *s = NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
		curl_url_set(u, CURLUPART_USER, NULL, 0);
		curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
		curl_url_set(u, CURLUPART_QUERY, NULL, 0);
		curl_url_get(u, CURLUPART_URL, &s, 0);
	}
	snprintf(out, size, "%s", s ? s : "(an unparsable URL)");
	curl_free(s);
	curl_url_cleanup(u);
}

/* The error text of an API error answer, in its several dialects:
 * {"error": {"message"}} (OpenAI, llama.cpp), {"error": "..."} (Ollama),
 * {"message": "..."} (vLLM), {"detail": "..."}.  Borrowed from j. */
static const char *api_error(const json_t *j)
{
	json_t *err = json_object_get(j, "error");
	const char *m = json_get_str(err, "message");
	if (!m && json_is_string(err))
		m = json_string_value(err);
	if (!m)
		m = json_get_str(j, "message");
	if (!m)
		m = json_get_str(j, "detail");
	return m;
}

/* ---- the request, shared by llm_chat and llm_chat_stream -------------------------------- */

struct request {
	char *body;
	char *url;
	char shown[512]; /* the URL without user info and query, for messages */
	long timeout;
};

static void request_cleanup(struct request *r)
{
	free(r->body);
	free(r->url);
}

static int request_prepare(const struct llm_config *c, const json_t *messages, const json_t *tools,
			   const json_t *extra, bool stream, struct request *r, struct err *e)
{
	memset(r, 0, sizeof *r);
	if (!c)
		return err_set(e, ERR_INVALID, "LLM: no configuration");
	if (!json_is_array(messages) || !json_array_size(messages))
		return err_set(e, ERR_INVALID, "LLM: messages must be a non-empty JSON array");
	if (tools && !json_is_array(tools))
		return err_set(e, ERR_INVALID, "LLM: tools must be a JSON array");
	if (extra && !json_is_object(extra))
		return err_set(e, ERR_INVALID, "LLM: extra request fields must be a JSON object");
	const char *base = set(c->base_url) ? c->base_url : LLM_DEFAULT_BASE_URL;
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	if (!set(c->api_key) && strncmp(base, LLM_DEFAULT_BASE_URL, bl) == 0 &&
	    bl == strlen(LLM_DEFAULT_BASE_URL))
		return err_set(
			e, ERR_INVALID,
			"LLM: no API key for %s: set OPENAI_API_KEY, or OPENAI_API_BASE to a "
			"local OpenAI-compatible server (e.g. http://127.0.0.1:11434/v1)",
			LLM_DEFAULT_BASE_URL);
	if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
		return err_set(e, ERR_INVALID,
			       "LLM: the base URL must start with http:// or https:// (like %s)",
			       LLM_DEFAULT_BASE_URL);

	json_t *req = json_pack("{s:s, s:O}", "model", llm_model(c), "messages", messages);
	if (tools)
		json_object_set(req, "tools", (json_t *)tools);
	if (extra)
		json_object_update(req, (json_t *)extra);
	if (stream)
		json_object_set_new(req, "stream", json_true());
	r->body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!r->body)
		return err_set(e, ERR_INVALID, "LLM: the request cannot be written as JSON");

	r->url = xasprintf("%.*s/chat/completions", (int)bl, base);
	display_url(r->url, r->shown, sizeof r->shown);
	r->timeout = c->timeout_ms > 0 ? c->timeout_ms : LLM_DEFAULT_TIMEOUT_MS;
	return ERR_OK;
}

/* A curl handle for the request; *hdrs is the caller's to free (after the
 * handle).  The whole-call timeout is set only when `whole` (streams use an
 * idle timeout instead, see llm_chat_stream). */
static CURL *request_handle(const struct llm_config *c, const struct request *r, bool whole,
			    const char *accept, struct curl_slist **hdrs, char *errbuf)
{
	pthread_once(&curl_once, curl_init_once);
	CURL *h = curl_easy_init();
	*hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	*hdrs = curl_slist_append(*hdrs, accept);
	*hdrs = curl_slist_append(*hdrs, "Expect:");
	if (set(c->api_key)) {
		char *auth = xasprintf("Authorization: Bearer %s", c->api_key);
		*hdrs = curl_slist_append(*hdrs, auth);
		memset(auth, 0, strlen(auth));
		free(auth);
	}
	curl_easy_setopt(h, CURLOPT_URL, r->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	if (whole)
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, r->timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, r->timeout < 10000 ? r->timeout : 10000L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->body));
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "ambient/" AMBIENT_VERSION);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	if (set(c->ca_file))
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	return h;
}

/* The error of a non-2xx answer (j: its body parsed, or NULL). */
static int http_error(long status, const json_t *j, const char *body, const char *shown,
		      struct err *e)
{
	const char *m = api_error(j);
	char snippet[200];
	snprintf(snippet, sizeof snippet, "%s", m ? m : body);
	for (char *p = snippet; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	int kind = status == 401 || status == 403 ? ERR_PERM : status == 429 ? ERR_BUSY : ERR_IO;
	const char *hint = kind == ERR_PERM ? " (check OPENAI_API_KEY)"
			   : status == 404  ? " (check OPENAI_API_BASE and "
					      "OPENAI_MODEL)"
					    : "";
	return err_set(e, kind, "LLM: %s answered HTTP %ld: %s%s", shown, status,
		       *snippet ? snippet : "(no message)", hint);
}

/* choices[0].message of a complete (non-streamed) answer. */
static int answer_message(long status, const char *body, const char *shown, json_t **message,
			  struct err *e)
{
	json_t *j = json_loads(body, 0, NULL);
	int code = ERR_OK;
	if (status < 200 || status >= 300) {
		code = http_error(status, j, body, shown, e);
	} else if (!j) {
		code = err_set(e, ERR_IO,
			       "LLM: the answer of %s is not JSON; is it an OpenAI-compatible "
			       "server?",
			       shown);
	} else {
		json_t *msg = json_object_get(json_array_get(json_object_get(j, "choices"), 0),
					      "message");
		if (!json_is_object(msg)) {
			const char *m = api_error(j);
			code = err_set(e, ERR_IO,
				       "LLM: the answer of %s has no choices[0].message%s%s", shown,
				       m ? ": " : "", m ? m : "");
		} else {
			*message = json_incref(msg);
		}
	}
	json_decref(j);
	return code;
}

int llm_chat(const struct llm_config *c, const json_t *messages, const json_t *tools,
	     const json_t *extra, json_t **message, struct err *e)
{
	struct request r;
	*message = NULL;
	int code = request_prepare(c, messages, tools, extra, false, &r, e);
	if (code) {
		request_cleanup(&r);
		return code;
	}
	struct sink s;
	buf_init(&s.b, c->max_response ? c->max_response : LLM_DEFAULT_MAX_RESPONSE);
	s.too_big = false;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	CURL *h = request_handle(c, &r, true, "Accept: application/json", &hdrs, errbuf);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);

	CURLcode rc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (s.too_big) {
		code = err_set(e, ERR_TOO_BIG, "LLM: the answer of %s is larger than %zu bytes",
			       r.shown, s.b.max);
	} else if (rc == CURLE_OPERATION_TIMEDOUT) {
		code = err_set(e, ERR_TIMEOUT,
			       "LLM: %s did not answer within %ld ms (raise the timeout, or use a "
			       "faster model)",
			       r.shown, r.timeout);
	} else if (rc != CURLE_OK) {
		code = err_set(e, ERR_IO, "LLM: cannot reach %s: %s", r.shown,
			       errbuf[0] ? errbuf : curl_easy_strerror(rc));
	} else {
		code = answer_message(status, buf_str(&s.b), r.shown, message, e);
	}
	if (code)
		log_debug("%s", err_msg(e));
	curl_slist_free_all(hdrs); /* held the key: curl_slist strings are ours to free */
	curl_easy_cleanup(h);
	buf_cleanup(&s.b);
	request_cleanup(&r);
	return code;
}

/* ---- streaming ------------------------------------------------------------------------- */

#define STREAM_LINE_MAX (1u << 20) /* one SSE line */

enum stream_mode { MODE_UNKNOWN, MODE_SSE, MODE_PLAIN };

struct stream {
	const struct llm_stream_cb *cb;
	CURL *h;
	const char *shown;
	enum stream_mode mode;
	size_t total, max;
	struct buf plain;   /* the body when the server did not stream */
	struct buf line;    /* the SSE line being read */
	struct buf data;    /* data of the SSE event being built */
	struct buf content; /* the answer's text so far */
	json_t *calls;      /* tool_calls being assembled */
	char *finish;       /* finish_reason, once given */
	bool done;          /* data: [DONE] */
	bool too_big, stopped, idle;
	unsigned long chunks; /* parsed chunks */
	int chunk_err;        /* an error object inside the stream */
	struct err cerr;
	long idle_ms;
	struct timespec last; /* when bytes last arrived */
};

static long ms_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)((now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000);
}

/* The tool call at `index` in st->calls, created when new. */
static json_t *call_at(struct stream *st, size_t index)
{
	while (json_array_size(st->calls) <= index && json_array_size(st->calls) < 128)
		json_array_append_new(st->calls, json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", "",
							   "type", "function", "function", "name",
							   "", "arguments", ""));
	return json_array_get(st->calls, index < 128 ? index : 127);
}

static void append_str(json_t *obj, const char *key, const char *more)
{
	const char *old = json_get_str(obj, key);
	char *s = xasprintf("%s%s", old ? old : "", more);
	json_object_set_new(obj, key, json_string_lossy(s));
	free(s);
}

/* One tool_calls delta.  OpenAI sends id, type and name in a call's first
 * delta and the arguments in pieces after it, each with the call's index;
 * some servers repeat the id or the name in every delta, or send whole calls
 * without an index. */
static void tool_call_delta(struct stream *st, const json_t *d)
{
	json_t *ix = json_object_get(d, "index");
	const char *id = json_get_str(d, "id");
	json_t *fn = json_object_get(d, "function");
	const char *name = json_get_str(fn, "name"), *args = json_get_str(fn, "arguments");
	size_t index;

	if (json_is_integer(ix) && json_integer_value(ix) >= 0) {
		index = (size_t)json_integer_value(ix);
	} else {
		index = json_array_size(st->calls); /* a new call, unless ... */
		size_t i;
		json_t *c;
		json_array_foreach(st->calls, i, c) {
			const char *cid = json_get_str(c, "id");
			if (id && *id && cid && strcmp(cid, id) == 0)
				index = i; /* ... its id is known */
		}
		if (index == json_array_size(st->calls) && index && !(id && *id) &&
		    !(name && *name))
			index--; /* ... or it is the last one going on */
	}
	json_t *call = call_at(st, index);
	json_t *cf = json_object_get(call, "function");
	if (id && *id && !*json_get_str(call, "id"))
		json_object_set_new(call, "id", json_string_lossy(id));
	if (name && *name) {
		const char *old = json_get_str(cf, "name");
		if (!*old)
			json_object_set_new(cf, "name", json_string_lossy(name));
		else if (strcmp(old, name) != 0)
			append_str(cf, "name", name);
	}
	if (args && *args)
		append_str(cf, "arguments", args);
}

/* One `data:` payload of the stream.  Returns false to stop the transfer. */
static bool stream_event(struct stream *st, const char *data)
{
	if (strcmp(data, "[DONE]") == 0) {
		st->done = true;
		return true;
	}
	json_t *j = json_loads(data, 0, NULL);
	if (!json_is_object(j)) {
		log_debug("LLM: %s sent a chunk that is not a JSON object; skipped", st->shown);
		json_decref(j);
		return true;
	}
	st->chunks++;
	if (json_object_get(j, "error")) {
		const char *m = api_error(j);
		st->chunk_err =
			err_set(&st->cerr, ERR_IO, "LLM: %s reported an error mid-answer: %s",
				st->shown, m ? m : "(no message)");
		json_decref(j);
		return false;
	}
	json_t *choice = json_array_get(json_object_get(j, "choices"), 0);
	json_t *delta = json_object_get(choice, "delta");
	if (!delta)
		delta = json_object_get(choice, "message"); /* a whole message in one chunk */
	const char *text = json_get_str(delta, "content");
	const char *finish = json_get_str(choice, "finish_reason");
	json_t *calls = json_object_get(delta, "tool_calls");
	size_t i;
	json_t *d;

	json_array_foreach(calls, i, d)
		tool_call_delta(st, d);
	if (finish && !st->finish)
		st->finish = xstrdup(finish);
	bool go = true;
	if (text && *text) {
		if (buf_puts(&st->content, text)) {
			st->too_big = true;
			go = false;
		} else if (st->cb && st->cb->on_text &&
			   st->cb->on_text(st->cb->ud, text, strlen(text)) != 0) {
			st->stopped = true;
			go = false;
		}
	}
	json_decref(j);
	return go;
}

/* One complete line of the event stream (without its end). */
static bool stream_line(struct stream *st, const char *line, size_t n)
{
	if (n == 0) { /* the end of an event */
		bool go = true;
		if (st->data.len)
			go = stream_event(st, buf_str(&st->data));
		buf_reset(&st->data);
		return go;
	}
	if (line[0] == ':' || n < 5 || strncmp(line, "data:", 5) != 0)
		return true; /* comments, event:, id:, retry: */
	line += 5;
	n -= 5;
	if (n && *line == ' ') {
		line++;
		n--;
	}
	if ((st->data.len && buf_append(&st->data, "\n", 1)) || buf_append(&st->data, line, n)) {
		st->too_big = true;
		return false;
	}
	return true;
}

static size_t on_stream_write(char *p, size_t size, size_t n, void *ud)
{
	struct stream *st = ud;
	size_t len = size * n;

	clock_gettime(CLOCK_MONOTONIC, &st->last);
	if (st->mode == MODE_UNKNOWN) {
		long status = 0;
		char *ct = NULL;
		curl_easy_getinfo(st->h, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(st->h, CURLINFO_CONTENT_TYPE, &ct);
		st->mode = status >= 200 && status < 300 && ct && strstr(ct, "text/event-stream")
				   ? MODE_SSE
				   : MODE_PLAIN;
	}
	st->total += len;
	if (st->total > st->max) {
		st->too_big = true;
		return 0;
	}
	if (st->mode == MODE_PLAIN) {
		if (buf_append(&st->plain, p, len)) {
			st->too_big = true;
			return 0;
		}
		return len;
	}
	size_t i = 0;
	while (i < len) {
		char *nl = memchr(p + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - p) : len;
		if (buf_append(&st->line, p + i, end - i)) {
			st->too_big = true;
			return 0;
		}
		if (!nl)
			break;
		size_t ln = st->line.len;
		const char *s = buf_str(&st->line);
		if (ln && s[ln - 1] == '\r')
			ln--;
		bool go = stream_line(st, s, ln);
		buf_reset(&st->line);
		if (!go)
			return 0;
		i = end + 1;
	}
	return len;
}

static int on_stream_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			      curl_off_t ulnow)
{
	struct stream *st = ud;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (st->cb && st->cb->stop && st->cb->stop(st->cb->ud)) {
		st->stopped = true;
		return 1;
	}
	if (ms_since(&st->last) > st->idle_ms) {
		st->idle = true;
		return 1;
	}
	return 0;
}

/* The assembled assistant message, shaped like a non-streamed one. */
static json_t *stream_message(struct stream *st)
{
	json_t *m = json_pack("{s:s}", "role", "assistant");
	size_t ncalls = 0, i;
	json_t *call, *calls = json_array();

	json_array_foreach(st->calls, i, call) {
		json_t *fn = json_object_get(call, "function");
		if (!*json_get_str(fn, "name"))
			continue; /* an index that never got a name */
		if (!*json_get_str(call, "id")) {
			char id[32];
			snprintf(id, sizeof id, "call_%zu", i);
			json_object_set_new(call, "id", json_string(id));
		}
		json_array_append(calls, call);
		ncalls++;
	}
	if (st->content.len || !ncalls)
		json_object_set_new(m, "content", json_string_lossy(buf_str(&st->content)));
	else
		json_object_set_new(m, "content", json_null());
	if (ncalls)
		json_object_set_new(m, "tool_calls", calls);
	else
		json_decref(calls);
	return m;
}

int llm_chat_stream(const struct llm_config *c, const json_t *messages, const json_t *tools,
		    const json_t *extra, const struct llm_stream_cb *cb, json_t **message,
		    struct err *e)
{
	struct request r;
	*message = NULL;
	int code = request_prepare(c, messages, tools, extra, true, &r, e);
	if (code) {
		request_cleanup(&r);
		return code;
	}
	struct stream st;
	memset(&st, 0, sizeof st);
	st.cb = cb;
	st.shown = r.shown;
	st.max = c->max_response ? c->max_response : LLM_DEFAULT_MAX_RESPONSE;
	st.idle_ms = r.timeout;
	buf_init(&st.plain, st.max);
	buf_init(&st.line, STREAM_LINE_MAX < st.max ? STREAM_LINE_MAX : st.max);
	buf_init(&st.data, st.max);
	buf_init(&st.content, st.max);
	st.calls = json_array();
	clock_gettime(CLOCK_MONOTONIC, &st.last);

	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	CURL *h = request_handle(c, &r, false, "Accept: text/event-stream, application/json", &hdrs,
				 errbuf);
	st.h = h;
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_stream_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &st);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_stream_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &st);

	CURLcode rc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (st.mode == MODE_SSE && rc == CURLE_OK && st.line.len) /* a last line without its end */
		stream_line(&st, buf_str(&st.line), st.line.len);
	if (st.mode == MODE_SSE && rc == CURLE_OK &&
	    st.data.len) /* a last event without a blank line */
		stream_line(&st, "", 0);

	if (st.too_big) {
		code = err_set(e, ERR_TOO_BIG, "LLM: the answer of %s is larger than %zu bytes",
			       r.shown, st.max);
	} else if (st.stopped) {
		code = err_set(e, ERR_STATE, "LLM: the answer of %s was interrupted", r.shown);
	} else if (st.chunk_err) {
		code = err_set(e, st.chunk_err, "%s", st.cerr.msg);
	} else if (st.idle || rc == CURLE_OPERATION_TIMEDOUT) {
		code = err_set(e, ERR_TIMEOUT,
			       "LLM: %s sent nothing for %ld ms (raise the timeout, or use a "
			       "faster model)",
			       r.shown, r.timeout);
	} else if (rc != CURLE_OK && st.mode == MODE_SSE) {
		code = err_set(e, ERR_IO, "LLM: the answer stream of %s broke off: %s", r.shown,
			       errbuf[0] ? errbuf : curl_easy_strerror(rc));
	} else if (rc != CURLE_OK) {
		code = err_set(e, ERR_IO, "LLM: cannot reach %s: %s", r.shown,
			       errbuf[0] ? errbuf : curl_easy_strerror(rc));
	} else if (st.mode != MODE_SSE) {
		/* The server answered in one piece (no streaming, or an error). */
		code = answer_message(status, buf_str(&st.plain), r.shown, message, e);
		const char *text = code ? NULL : json_get_str(*message, "content");
		if (text && *text && cb && cb->on_text && cb->on_text(cb->ud, text, strlen(text))) {
			json_decref(*message);
			*message = NULL;
			code = err_set(e, ERR_STATE, "LLM: the answer of %s was interrupted",
				       r.shown);
		}
	} else if (!st.done && !st.finish) {
		code = err_set(e, ERR_IO,
			       "LLM: the answer stream of %s ended before the answer was complete "
			       "(%lu chunks, no finish_reason or [DONE])",
			       r.shown, st.chunks);
	} else {
		*message = stream_message(&st);
	}
	if (code)
		log_debug("%s", err_msg(e));
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	buf_cleanup(&st.plain);
	buf_cleanup(&st.line);
	buf_cleanup(&st.data);
	buf_cleanup(&st.content);
	json_decref(st.calls);
	free(st.finish);
	request_cleanup(&r);
	return code;
}
