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

int llm_chat(const struct llm_config *c, const json_t *messages, const json_t *tools,
	     const json_t *extra, json_t **message, struct err *e)
{
	*message = NULL;
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
	char *body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!body)
		return err_set(e, ERR_INVALID, "LLM: the request cannot be written as JSON");

	char *url = xasprintf("%.*s/chat/completions", (int)bl, base);
	char shown[512];
	display_url(url, shown, sizeof shown);
	long timeout = c->timeout_ms > 0 ? c->timeout_ms : LLM_DEFAULT_TIMEOUT_MS;
	struct sink s;
	buf_init(&s.b, c->max_response ? c->max_response : LLM_DEFAULT_MAX_RESPONSE);
	s.too_big = false;
	char errbuf[CURL_ERROR_SIZE] = "";

	pthread_once(&curl_once, curl_init_once);
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (set(c->api_key)) {
		char *auth = xasprintf("Authorization: Bearer %s", c->api_key);
		hdrs = curl_slist_append(hdrs, auth);
		memset(auth, 0, strlen(auth));
		free(auth);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout < 10000 ? timeout : 10000L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "ambient/" AMBIENT_VERSION);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	if (set(c->ca_file))
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);

	CURLcode rc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	int code = ERR_OK;
	json_t *j = NULL;
	if (s.too_big) {
		code = err_set(e, ERR_TOO_BIG, "LLM: the answer of %s is larger than %zu bytes",
			       shown, s.b.max);
	} else if (rc == CURLE_OPERATION_TIMEDOUT) {
		code = err_set(e, ERR_TIMEOUT,
			       "LLM: %s did not answer within %ld ms (raise the timeout, or use a "
			       "faster model)",
			       shown, timeout);
	} else if (rc != CURLE_OK) {
		code = err_set(e, ERR_IO, "LLM: cannot reach %s: %s", shown,
			       errbuf[0] ? errbuf : curl_easy_strerror(rc));
	} else {
		j = json_loads(buf_str(&s.b), 0, NULL);
		if (status < 200 || status >= 300) {
			const char *m = api_error(j);
			char snippet[200];
			snprintf(snippet, sizeof snippet, "%s", m ? m : buf_str(&s.b));
			for (char *p = snippet; *p; p++)
				if ((unsigned char)*p < 0x20)
					*p = ' ';
			int kind = status == 401 || status == 403 ? ERR_PERM
				   : status == 429                ? ERR_BUSY
								  : ERR_IO;
			const char *hint = kind == ERR_PERM ? " (check OPENAI_API_KEY)"
					   : status == 404  ? " (check OPENAI_API_BASE and "
							      "OPENAI_MODEL)"
							    : "";
			code = err_set(e, kind, "LLM: %s answered HTTP %ld: %s%s", shown, status,
				       *snippet ? snippet : "(no message)", hint);
		} else if (!j) {
			code = err_set(
				e, ERR_IO,
				"LLM: the answer of %s is not JSON; is it an OpenAI-compatible "
				"server?",
				shown);
		} else {
			json_t *msg = json_object_get(
				json_array_get(json_object_get(j, "choices"), 0), "message");
			if (!json_is_object(msg)) {
				const char *m = api_error(j);
				code = err_set(
					e, ERR_IO,
					"LLM: the answer of %s has no choices[0].message%s%s",
					shown, m ? ": " : "", m ? m : "");
			} else {
				*message = json_incref(msg);
			}
		}
	}
	if (code)
		log_debug("%s", err_msg(e));
	json_decref(j);
	curl_slist_free_all(hdrs); /* held the key: curl_slist strings are ours to free */
	curl_easy_cleanup(h);
	buf_cleanup(&s.b);
	free(body);
	free(url);
	return code;
}
