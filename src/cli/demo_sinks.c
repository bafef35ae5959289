/* demo_sinks.c - a local stand-in for Twilio's Messages API (see demo_sinks.h). */
#define _GNU_SOURCE
/* <openssl/types.h> declares a type ERR_STATE, which is also one of our
 * error codes (common/err.h): OpenSSL comes first, under another name. */
#define ERR_STATE OPENSSL_ERR_STATE
#include <openssl/evp.h>
#undef ERR_STATE
#include "cli/demo_sinks.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/uuid.h"
#include "common/xalloc.h"
#include "transport/http_server.h"

#define API_PREFIX "/2010-04-01/Accounts/"
#define SMS_BODY_MAX 1600 /* characters, Twilio's limit */

struct demo_sinks {
	struct http_server *http;
	struct http_route routes[2];
	char url[64];
	char *sid;
	char *basic; /* "Basic base64(sid:token)" */
	pthread_mutex_t lock;
	json_t *sms; /* array, oldest first */
	size_t total;
};

/* Twilio's error body. */
static void twilio_error(struct http_response *res, int status, int code, const char *message)
{
	char info[80];
	snprintf(info, sizeof(info), "https://www.twilio.com/docs/errors/%d", code);
	json_t *j = json_pack("{s:i,s:s,s:s,s:i}", "code", code, "message", message, "more_info",
			      info, "status", status);
	http_response_json(res, status, json_to_text(j));
	json_decref(j);
}

static int hexval(int c)
{
	return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

/* application/x-www-form-urlencoded: the value of `name` as a new string,
 * or NULL when absent. */
static char *form_value(const char *body, size_t len, const char *name)
{
	size_t nl = strlen(name);
	const char *p = body, *end = body + len;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		if ((size_t)(stop - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
			char *out = xmalloc((size_t)(stop - p) + 1), *o = out;
			for (const char *q = p + nl + 1; q < stop; q++) {
				if (*q == '+') {
					*o++ = ' ';
				} else if (*q == '%' && stop - q > 2 &&
					   isxdigit((unsigned char)q[1]) &&
					   isxdigit((unsigned char)q[2])) {
					*o++ = (char)(hexval((unsigned char)q[1]) * 16 +
						      hexval((unsigned char)q[2]));
					q += 2;
				} else {
					*o++ = *q;
				}
			}
			*o = 0;
			return out;
		}
		p = stop + 1;
	}
	return NULL;
}

/* Characters of UTF-8 text (what Twilio's limit counts, near enough). */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* The account of "/2010-04-01/Accounts/{sid}/Messages.json", checked
 * against ours; false (answered) otherwise. */
static bool check_request(struct demo_sinks *s, const struct http_request *req,
			  struct http_response *res)
{
	const char *rest = req->path + strlen(API_PREFIX);
	const char *slash = strchr(rest, '/');
	if (!slash || strcmp(slash, "/Messages.json") != 0) {
		twilio_error(res, 404, 20404, "The requested resource was not found");
		return false;
	}
	const char *auth = http_request_header(req, "Authorization");
	if ((size_t)(slash - rest) != strlen(s->sid) ||
	    strncmp(rest, s->sid, strlen(s->sid)) != 0 || !auth || strcmp(auth, s->basic) != 0) {
		http_response_header(res, "WWW-Authenticate", "Basic realm=\"Twilio API\"");
		twilio_error(res, 401, 20003, "Authenticate");
		return false;
	}
	return true;
}

static void route_messages(void *data, const struct http_request *req, struct http_response *res)
{
	struct demo_sinks *s = data;
	if (!check_request(s, req, res))
		return;
	if (strcmp(req->method, "GET") == 0) {
		pthread_mutex_lock(&s->lock);
		json_t *list = json_array();
		for (size_t i = json_array_size(s->sms); i-- > 0;)
			json_array_append(list, json_array_get(s->sms, i));
		pthread_mutex_unlock(&s->lock);
		json_t *j = json_pack("{s:o}", "messages", list);
		http_response_json(res, 200, json_to_text(j));
		json_decref(j);
		return;
	}
	char *to = form_value(req->body, req->body_len, "To");
	char *from = form_value(req->body, req->body_len, "From");
	char *service = form_value(req->body, req->body_len, "MessagingServiceSid");
	char *body = form_value(req->body, req->body_len, "Body");
	if (!to || !*to)
		twilio_error(res, 400, 21604, "A 'To' phone number is required.");
	else if ((!from || !*from) && (!service || !*service))
		twilio_error(res, 400, 21603, "A 'From' phone number is required.");
	else if (!body || !*body)
		twilio_error(res, 400, 21602, "Message body is required.");
	else if (utf8_chars(body) > SMS_BODY_MAX)
		twilio_error(res, 400, 21617,
			     "The concatenated message body exceeds the 1600 character limit.");
	else {
		char uuid[UUID_STR_LEN + 1], msid[40] = "SM", date[64];
		uuid_v4(uuid);
		size_t n = 2;
		for (const char *u = uuid; *u && n < sizeof(msid) - 1; u++)
			if (*u != '-')
				msid[n++] = *u;
		msid[n] = 0;
		time_t t = (time_t)(clock_wall_us(NULL) / 1000000);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
		json_t *m = json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:s,s:s,s:s,s:s,s:s}", "sid", msid,
				      "account_sid", s->sid, "to", to, "from", from,
				      "messaging_service_sid", service, "body", body, "status",
				      "queued", "direction", "outbound-api", "date_created", date,
				      "num_segments", utf8_chars(body) <= 160 ? "1" : "2+");
		char *uri = xasprintf("%s%s/Messages/%s.json", API_PREFIX, s->sid, msid);
		json_object_set_new(m, "uri", json_string(uri));
		free(uri);
		pthread_mutex_lock(&s->lock);
		json_array_append(s->sms, m);
		s->total++;
		if (json_array_size(s->sms) > DEMO_SINKS_MAX_SMS)
			json_array_remove(s->sms, 0);
		pthread_mutex_unlock(&s->lock);
		http_response_json(res, 201, json_to_text(m));
		json_decref(m);
	}
	free(to);
	free(from);
	free(service);
	free(body);
}

int demo_sinks_start(const char *account_sid, const char *auth_token, int port,
		     struct demo_sinks **out, struct err *e)
{
	*out = NULL;
	struct demo_sinks *s = xcalloc(1, sizeof(*s));
	s->sid = xstrdup(account_sid);
	char *cred = xasprintf("%s:%s", account_sid, auth_token);
	size_t n = strlen(cred);
	unsigned char *b64 = xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock(b64, (const unsigned char *)cred, (int)n);
	s->basic = xasprintf("Basic %s", (const char *)b64);
	free(b64);
	free(cred);
	pthread_mutex_init(&s->lock, NULL);
	s->sms = json_array();
	s->routes[0] = (struct http_route){"POST", API_PREFIX "*", route_messages, s};
	s->routes[1] = (struct http_route){"GET", API_PREFIX "*", route_messages, s};
	struct http_server_options o = {
		.host = "127.0.0.1",
		.port = port,
		.routes = s->routes,
		.nroutes = 2,
	};
	int rc = http_server_start(NULL, &o, &s->http, e);
	if (rc != ERR_OK) {
		demo_sinks_free(s);
		return rc;
	}
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", http_server_port(s->http));
	*out = s;
	return ERR_OK;
}

const char *demo_sinks_url(const struct demo_sinks *s)
{
	return s->url;
}

json_t *demo_sinks_sms(struct demo_sinks *s, size_t skip, size_t *total)
{
	json_t *out = json_array();
	pthread_mutex_lock(&s->lock);
	size_t kept = json_array_size(s->sms), first = s->total - kept;
	for (size_t i = skip > first ? skip - first : 0; i < kept; i++)
		json_array_append(out, json_array_get(s->sms, i));
	if (total)
		*total = s->total;
	pthread_mutex_unlock(&s->lock);
	return out;
}

void demo_sinks_free(struct demo_sinks *s)
{
	if (!s)
		return;
	http_server_free(s->http);
	json_decref(s->sms);
	pthread_mutex_destroy(&s->lock);
	free(s->sid);
	free(s->basic);
	free(s);
}
