/*
 * net_tools_test.c - the outside-world MCP tools (get_weather, send_sms,
 * send_email, scrape_webpage) called as an MCP client calls them: an
 * in-process mcp_server with ambient's rows and one session driven with raw
 * JSON-RPC (tools/call), against
 *   - the fixture web server (tests/fixture_web, started here as a child
 *     on 127.0.0.1 and an ephemeral port): its Open-Meteo stand-in
 *     (/v1/search, /v1/forecast) and pages put through its control
 *     endpoint;
 *   - the notification sinks (tests/fixture_sinks, in process): Twilio's
 *     REST API and an SMTP server.
 *
 * Usage: net_tools_test PATH/TO/fixture_web
 *
 * Covers: weather for a real place (the data as the stand-in sent it), the
 * cache hit (no new request, even after the stand-in's values changed),
 * unknown places, Open-Meteo unreachable; an SMS received by the Twilio
 * stand-in (body and E.164 number), a 10-digit number, a bad number, no
 * credentials ("not sent", nothing sent); an e-mail received by the SMTP
 * sink, no SMTP server ("not sent"); scraping a page with meta, OpenGraph,
 * links and images, a selector, the SSRF refusal of 127.0.0.1 and
 * 169.254.169.254 when not allowed, the per-site rate limit reached;
 * render_javascript with /usr/bin/chromium (skipped, saying so, when it is
 * missing) and without Chromium (a clear error); the rows in tools/list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test_util.h"
#include "app/mcp_app.h"
#include "app/tasks.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "engine/channels.h"
#include "engine/netguard.h"
#include "mcp/server.h"
#include "sinks.h"

#define TWILIO_SID "AC0123456789abcdef0123456789abcdef"
#define TWILIO_TOKEN "test-token"
#define TWILIO_FROM "+15550001111"

static const char *fixture_bin;
static pid_t fx_pid;
static char base[64]; /* http://127.0.0.1:PORT of fixture_web */
static struct sinks *sinks;
static struct netguard *allow_local; /* 127.0.0.1 allowed */
static char twilio_base[64], smtp_url[64];
static char dead_url[64]; /* nothing listens there */

/* ---- the fixture server -------------------------------------------------- */

static int start_fixture(void)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	fx_pid = fork();
	if (fx_pid < 0)
		return -1;
	if (fx_pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl(fixture_bin, fixture_bin, "--pages", "10", (char *)NULL);
		fprintf(stderr, "cannot run %s: %s\n", fixture_bin, strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	char line[256];
	size_t n = 0;
	double end = test_now() + 20;
	while (n < sizeof line - 1 && !memchr(line, '\n', n)) {
		struct pollfd p = {.fd = fds[0], .events = POLLIN};
		int ms = (int)((end - test_now()) * 1000);
		if (ms <= 0 || poll(&p, 1, ms) <= 0)
			break;
		ssize_t r = read(fds[0], line + n, sizeof line - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fds[0]);
	line[n] = '\0';
	int port = 0;
	if (sscanf(line, "listening http://127.0.0.1:%d", &port) != 1) {
		fprintf(stderr, "fixture_web did not start (said: '%s')\n", line);
		kill(fx_pid, SIGKILL);
		waitpid(fx_pid, NULL, 0);
		return -1;
	}
	snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
	return 0;
}

static void stop_fixture(void)
{
	int status = 0;
	kill(fx_pid, SIGTERM);
	double end = test_now() + 10;
	while (waitpid(fx_pid, &status, WNOHANG) == 0) {
		if (test_now() > end) {
			kill(fx_pid, SIGKILL);
			waitpid(fx_pid, &status, 0);
			break;
		}
		usleep(10000);
	}
}

struct sink {
	char *p;
	size_t n;
};

static size_t sink_write(char *p, size_t s, size_t n, void *ud)
{
	struct sink *k = ud;
	k->p = realloc(k->p, k->n + s * n + 1);
	memcpy(k->p + k->n, p, s * n);
	k->n += s * n;
	k->p[k->n] = '\0';
	return s * n;
}

/* method path [body [content type]] on fixture_web -> status; *out the body */
static long ctl(const char *method, const char *path, const char *body, const char *ctype,
		char **out)
{
	CURL *c = curl_easy_init();
	char url[512];
	struct sink k = {0};
	struct curl_slist *h = NULL;
	snprintf(url, sizeof url, "%s%s", base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (ctype) {
		char hv[256];
		snprintf(hv, sizeof hv, "Content-Type: %s", ctype);
		h = curl_slist_append(h, hv);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &k);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	long status = 0;
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (out)
		*out = k.p;
	else
		free(k.p);
	return status;
}

/* routes.<name> of the fixture's counters */
static long route_hits(const char *route)
{
	char *s = NULL;
	assert_int_equal(ctl("GET", "/_control/stats", NULL, NULL, &s), 200);
	json_t *j = json_loads(s, 0, NULL);
	free(s);
	assert_non_null(j);
	long n = (long)json_integer_value(json_object_get(json_object_get(j, "routes"), route));
	json_decref(j);
	return n;
}

static void put_page(const char *path, const char *html)
{
	char p[256];
	snprintf(p, sizeof p, "/_control/page%s", path);
	assert_int_equal(ctl("PUT", p, html, "text/html; charset=utf-8", NULL), 200);
}

/* ---- an MCP session on an app ------------------------------------------------ */

struct capture {
	pthread_mutex_t mu;
	json_t *msgs;
};

static int cap_send(void *ctx, const char *msg, size_t len)
{
	struct capture *c = ctx;
	json_t *j = json_loadb(msg, len, 0, NULL);
	pthread_mutex_lock(&c->mu);
	json_array_append_new(c->msgs, j ? j : json_string("<bad json>"));
	pthread_mutex_unlock(&c->mu);
	return 0;
}

struct app {
	char *dir;
	struct store *s;
	struct mcp_server *srv;
	struct app_mcp *app;
	struct mcp_session *sess;
	struct capture reply, out;
	struct mcp_sink reply_sink, out_sink;
	int next_id;
};

static json_t *rpc_raw(struct app *f, const char *text)
{
	size_t before, after;
	json_t *last = NULL;
	pthread_mutex_lock(&f->reply.mu);
	before = json_array_size(f->reply.msgs);
	pthread_mutex_unlock(&f->reply.mu);
	mcp_session_handle_text(f->sess, text, strlen(text), 0, &f->reply_sink, NULL);
	pthread_mutex_lock(&f->reply.mu);
	after = json_array_size(f->reply.msgs);
	if (after > before)
		last = json_incref(json_array_get(f->reply.msgs, after - 1));
	pthread_mutex_unlock(&f->reply.mu);
	return last;
}

static struct app *app_new(const struct app_mcp_options *ao)
{
	struct app *f = calloc(1, sizeof *f);
	struct mcp_server_options so = {.name = "ambient-net-test", .version = "0"};
	struct err e = {0};
	char url[4200];

	f->dir = test_tmpdir("nettools");
	snprintf(url, sizeof url, "sqlite:%s/events.db", f->dir);
	if (app_store_open(url, false, &f->s, &e))
		fail_msg("store: %s", err_msg(&e));
	f->srv = mcp_server_new(&so);
	f->app = app_mcp_new(f->s, ao);
	if (app_mcp_register(f->app, f->srv, &e))
		fail_msg("register: %s", err_msg(&e));
	pthread_mutex_init(&f->reply.mu, NULL);
	pthread_mutex_init(&f->out.mu, NULL);
	f->reply.msgs = json_array();
	f->out.msgs = json_array();
	f->reply_sink = (struct mcp_sink){.send = cap_send, .ctx = &f->reply};
	f->out_sink = (struct mcp_sink){.send = cap_send, .ctx = &f->out};
	f->sess = mcp_session_new(f->srv, &f->out_sink);
	f->next_id = 1;
	json_decref(rpc_raw(f, "{\"jsonrpc\": \"2.0\", \"id\": 0, \"method\": \"initialize\", "
			       "\"params\": {\"protocolVersion\": \"2025-11-25\", "
			       "\"capabilities\": {}, \"clientInfo\": {\"name\": \"t\", "
			       "\"version\": \"1\"}}}"));
	json_decref(
		rpc_raw(f, "{\"jsonrpc\": \"2.0\", \"method\": \"notifications/initialized\"}"));
	return f;
}

static void app_free(struct app *f)
{
	app_mcp_free(f->app);
	mcp_session_close(f->sess);
	mcp_session_unref(f->sess);
	mcp_server_free(f->srv);
	store_close(f->s);
	json_decref(f->reply.msgs);
	json_decref(f->out.msgs);
	pthread_mutex_destroy(&f->reply.mu);
	pthread_mutex_destroy(&f->out.mu);
	test_rmdir(f->dir);
	free(f->dir);
	free(f);
}

/* The options of a fully configured app (strings are static). */
static struct channel_config channels;

static struct app_mcp_options full_options(void)
{
	channels = (struct channel_config){
		.twilio_sid = TWILIO_SID,
		.twilio_token = TWILIO_TOKEN,
		.twilio_from = TWILIO_FROM,
		.twilio_base_url = twilio_base,
		.smtp_url = smtp_url,
		.smtp_from = "ambient@example.org",
	};
	return (struct app_mcp_options){
		.channels = &channels,
		.weather_api_url = base,
		.geocoding_api_url = base,
		.chromium_path = "/usr/bin/chromium",
		.net_guard = allow_local,
		.no_audit = true,
	};
}

/* tools/call -> the result object (new reference); *is_error set. */
static json_t *call(struct app *f, const char *tool, const char *args, bool *is_error)
{
	char *text = xasprintf("{\"jsonrpc\": \"2.0\", \"id\": %d, \"method\": \"tools/call\", "
			       "\"params\": {\"name\": \"%s\", \"arguments\": %s}}",
			       f->next_id++, tool, args);
	json_t *r = rpc_raw(f, text), *res;
	free(text);
	assert_non_null(r);
	res = json_object_get(r, "result");
	if (!res) {
		char *t = json_dumps(r, 0);
		fail_msg("%s %s: no result: %s", tool, args, t);
	}
	json_incref(res);
	json_decref(r);
	*is_error = json_is_true(json_object_get(res, "isError"));
	return res;
}

/* A call that must succeed: its data (new reference). */
static json_t *call_ok(struct app *f, const char *tool, const char *args)
{
	bool err;
	json_t *res = call(f, tool, args, &err), *sc, *d;
	if (err) {
		char *t = json_dumps(res, 0);
		fail_msg("%s %s failed: %s", tool, args, t);
	}
	sc = json_object_get(res, "structuredContent");
	assert_string_equal(json_get_str(sc, "status"), "success");
	assert_string_equal(json_get_str(sc, "action"), tool);
	d = json_incref(json_object_get(sc, "data"));
	json_decref(res);
	return d;
}

/* A call that must fail: its error text (static buffer). */
static const char *call_err(struct app *f, const char *tool, const char *args)
{
	static char msg[4096];
	bool err;
	json_t *res = call(f, tool, args, &err);
	if (!err) {
		char *t = json_dumps(res, 0);
		fail_msg("%s %s should have failed: %s", tool, args, t);
	}
	const char *text = json_get_str(json_array_get(json_object_get(res, "content"), 0), "text");
	json_t *o = text ? json_loads(text, 0, NULL) : NULL;
	snprintf(msg, sizeof msg, "%s", json_get_str(o, "error") ? json_get_str(o, "error") : "");
	json_decref(o);
	json_decref(res);
	return msg;
}

static json_t *sink_list(const char *what, const char *key)
{
	json_t *l = sinks_list(sinks, what);
	json_t *a = json_incref(json_object_get(l, key));
	json_decref(l);
	return a;
}

/* ---- get_weather ------------------------------------------------------------------ */

static void test_weather(void **state)
{
	(void)state;
	struct app_mcp_options o = full_options();
	struct app *f = app_new(&o);
	long geo0 = route_hits("geocoding"), fc0 = route_hits("forecast");

	assert_int_equal(ctl("POST", "/_control/weather",
			     "{\"temperature_2m\": 21.5, \"weather_code\": 61, "
			     "\"relative_humidity_2m\": 77, \"wind_speed_10m\": 9.0, "
			     "\"wind_direction_10m\": 90}",
			     "application/json", NULL),
			 200);
	json_t *d = call_ok(f, "get_weather", "{\"city\": \"Paris, France\"}");
	assert_string_equal(json_get_str(d, "city"), "Paris, France");
	assert_string_equal(json_get_str(json_object_get(d, "location"), "country"), "France");
	assert_string_equal(json_get_str(json_object_get(d, "location"), "timezone"),
			    "Europe/Paris");
	assert_string_equal(json_get_str(d, "temperature"), "21.5°C");
	assert_string_equal(json_get_str(d, "condition"), "Slight rain");
	assert_string_equal(json_get_str(d, "humidity"), "77%");
	assert_string_equal(json_get_str(d, "wind"), "9.0 km/h E");
	assert_false(json_is_true(json_object_get(d, "cached")));
	assert_non_null(json_get_str(d, "retrieved_at"));
	json_decref(d);
	assert_int_equal(route_hits("geocoding"), geo0 + 1);
	assert_int_equal(route_hits("forecast"), fc0 + 1);

	/* the Texan Paris through the qualifier */
	d = call_ok(f, "get_weather", "{\"city\": \"Paris, Texas\"}");
	assert_string_equal(json_get_str(json_object_get(d, "location"), "country_code"), "US");
	json_decref(d);

	/* the cache: the stand-in's new values are not seen, nothing is asked */
	assert_int_equal(ctl("POST", "/_control/weather", "{\"temperature_2m\": -3.0}",
			     "application/json", NULL),
			 200);
	long fc1 = route_hits("forecast");
	d = call_ok(f, "get_weather", "{\"city\": \"paris,france\"}");
	assert_true(json_is_true(json_object_get(d, "cached")));
	assert_non_null(json_get_str(d, "cached_at"));
	assert_string_equal(json_get_str(d, "temperature"), "21.5°C");
	json_decref(d);
	assert_int_equal(route_hits("forecast"), fc1);

	/* a city not cached yet gets the new values */
	d = call_ok(f, "get_weather", "{\"city\": \"Berlin\"}");
	assert_string_equal(json_get_str(d, "temperature"), "-3.0°C");
	assert_string_equal(json_get_str(json_object_get(d, "location"), "country"), "Germany");
	json_decref(d);

	/* unknown place */
	const char *m = call_err(f, "get_weather", "{\"city\": \"Atlantis\"}");
	assert_string_equal(m, "no place called 'Atlantis' found by Open-Meteo geocoding; check "
			       "the spelling or add the country, e.g. 'Paris, France'");
	/* bad arguments are the schema's */
	bool err;
	json_t *res = call(f, "get_weather", "{}", &err);
	assert_true(err);
	json_decref(res);
	app_free(f);

	/* Open-Meteo unreachable */
	o.geocoding_api_url = dead_url;
	f = app_new(&o);
	m = call_err(f, "get_weather", "{\"city\": \"Tokyo\"}");
	assert_non_null(strstr(m, "cannot reach the Open-Meteo geocoding API"));
	assert_non_null(strstr(m, "No weather data was invented"));
	app_free(f);
}

/* ---- send_sms / send_email ------------------------------------------------------------ */

static void test_sms(void **state)
{
	(void)state;
	struct app_mcp_options o = full_options();
	struct app *f = app_new(&o);
	assert_int_equal(sinks_control(sinks, "reset", NULL, NULL), 0);

	json_t *d = call_ok(f, "send_sms",
			    "{\"to\": \"+1 (415) 555-0123\", \"message\": \"Bitcoin is above "
			    "$50k ✓\"}");
	assert_string_equal(json_get_str(d, "to"), "+14155550123");
	assert_string_equal(json_get_str(d, "status"), "sent");
	const char *sid = json_get_str(d, "message_sid");
	assert_non_null(sid);
	assert_memory_equal(sid, "SM", 2);
	json_t *sms = sink_list("sms", "messages");
	assert_int_equal(json_array_size(sms), 1);
	json_t *m0 = json_array_get(sms, 0);
	assert_string_equal(json_get_str(m0, "to"), "+14155550123");
	assert_string_equal(json_get_str(m0, "from"), TWILIO_FROM);
	assert_string_equal(json_get_str(m0, "body"), "Bitcoin is above $50k ✓");
	assert_string_equal(json_get_str(m0, "sid"), sid);
	json_decref(sms);
	json_decref(d);

	/* a 10-digit number is taken as +1, as the original did */
	d = call_ok(f, "send_sms", "{\"to\": \"415-555-0199\", \"message\": \"hi\"}");
	assert_string_equal(json_get_str(d, "to"), "+14155550199");
	json_decref(d);

	const char *m = call_err(f, "send_sms", "{\"to\": \"call me\", \"message\": \"hi\"}");
	assert_non_null(strstr(m, "is not a phone number"));
	assert_non_null(strstr(m, "E.164"));

	/* Twilio refusing once (400: not worth retrying) */
	json_t *fail = json_pack("{s:i, s:i}", "fail", 1, "status", 400);
	assert_int_equal(sinks_control(sinks, "twilio", fail, NULL), 0);
	json_decref(fail);
	m = call_err(f, "send_sms", "{\"to\": \"+14155550123\", \"message\": \"x\"}");
	assert_non_null(strstr(m, "SMS to +14155550123 not sent"));
	app_free(f);

	/* no credentials: not sent, and says so */
	sms = sink_list("sms", "messages");
	size_t before = json_array_size(sms);
	json_decref(sms);
	struct channel_config none = {0};
	o.channels = &none;
	f = app_new(&o);
	m = call_err(f, "send_sms", "{\"to\": \"+14155550123\", \"message\": \"hello\"}");
	assert_non_null(strstr(m, "SMS not sent: no Twilio credentials on this server "
				  "(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_PHONE_NUMBER "
				  "not set)"));
	assert_non_null(strstr(m, "Nothing was sent to +14155550123"));
	assert_null(strstr(m, "accepted"));
	sms = sink_list("sms", "messages");
	assert_int_equal(json_array_size(sms), before);
	json_decref(sms);
	/* e-mail without an SMTP server */
	m = call_err(f, "send_email",
		     "{\"to\": \"me@example.com\", \"subject\": \"s\", \"body\": \"b\"}");
	assert_non_null(strstr(m, "E-mail not sent: no SMTP server is configured"));
	assert_non_null(strstr(m, "AMBIENT_SMTP_URL"));
	app_free(f);
}

static void test_email(void **state)
{
	(void)state;
	struct app_mcp_options o = full_options();
	struct app *f = app_new(&o);
	assert_int_equal(sinks_control(sinks, "reset", NULL, NULL), 0);

	json_t *d = call_ok(f, "send_email",
			    "{\"to\": \"ada@example.com\", \"subject\": \"Price alert\\nnow\", "
			    "\"body\": \"Bitcoin crossed 50000.\\nSecond line.\"}");
	assert_string_equal(json_get_str(d, "status"), "sent");
	assert_string_equal(json_get_str(d, "subject"), "Price alert now");
	assert_non_null(json_get_str(d, "message_id"));
	json_decref(d);
	json_t *mails = sink_list("emails", "emails");
	assert_int_equal(json_array_size(mails), 1);
	json_t *m0 = json_array_get(mails, 0);
	assert_string_equal(json_string_value(json_array_get(json_object_get(m0, "to"), 0)),
			    "ada@example.com");
	assert_string_equal(json_get_str(m0, "subject"), "Price alert now");
	assert_non_null(strstr(json_get_str(m0, "text"), "Bitcoin crossed 50000."));
	assert_non_null(strstr(json_get_str(m0, "text"), "Second line."));
	json_decref(mails);

	const char *m = call_err(f, "send_email",
				 "{\"to\": \"a@b.c, d@e.f\", \"subject\": \"s\", \"body\": \"b\"}");
	assert_non_null(strstr(m, "is not one e-mail address"));
	app_free(f);
}

/* ---- scrape_webpage ---------------------------------------------------------------------- */

static const char scrape_html[] =
	"<!doctype html><html lang=\"en\"><head><title>Fixture Shop</title>"
	"<meta name=\"description\" content=\"Things for tests\">"
	"<meta property=\"og:title\" content=\"The Fixture Shop\">"
	"<meta property=\"og:image\" content=\"/img/og.png\">"
	"<meta name=\"twitter:card\" content=\"summary\">"
	"<link rel=\"canonical\" href=\"/shop.html\"></head><body>"
	"<h1>Welcome</h1><div id=\"price\">Price: <b>42 EUR</b></div>"
	"<a href=\"/cart\">Cart</a> <a href=\"https://example.org/\">Elsewhere</a>"
	"<img src=\"/img/a.png\" alt=\"A\"><img src=\"/img/b.png\" alt=\"B\">"
	"</body></html>";

static void test_scrape(void **state)
{
	(void)state;
	struct app_mcp_options o = full_options();
	struct app *f = app_new(&o);
	char args[512], u[256];

	put_page("/shop.html", scrape_html);
	snprintf(u, sizeof u, "%s/shop.html", base);
	snprintf(args, sizeof args, "{\"url\": \"%s\"}", u);
	json_t *d = call_ok(f, "scrape_webpage", args);
	assert_string_equal(json_get_str(d, "url"), u);
	assert_string_equal(json_get_str(d, "title"), "Fixture Shop");
	assert_int_equal(json_get_int(d, "status_code", 0), 200);
	assert_string_equal(json_get_str(d, "method"), "http");
	assert_true(json_is_number(json_object_get(d, "load_time")));
	assert_non_null(strstr(json_get_str(d, "content"), "Price: 42 EUR"));
	assert_int_equal(json_array_size(json_object_get(d, "links")), 2);
	assert_int_equal(json_array_size(json_object_get(d, "images")), 2);
	assert_string_equal(json_get_str(json_array_get(json_object_get(d, "images"), 1), "alt"),
			    "B");
	json_t *meta = json_object_get(d, "metadata");
	assert_string_equal(json_get_str(meta, "description"), "Things for tests");
	assert_string_equal(json_get_str(json_object_get(meta, "opengraph"), "title"),
			    "The Fixture Shop");
	char og[256];
	snprintf(og, sizeof og, "%s/img/og.png", base);
	assert_string_equal(json_get_str(json_object_get(meta, "opengraph"), "image"), og);
	assert_string_equal(json_get_str(json_object_get(meta, "twitter"), "card"), "summary");
	json_decref(d);

	/* a selector */
	snprintf(args, sizeof args,
		 "{\"url\": \"%s\", \"selector\": \"#price\", \"include_images\": false}", u);
	d = call_ok(f, "scrape_webpage", args);
	assert_string_equal(json_get_str(d, "content"), "Price: 42 EUR");
	assert_null(json_object_get(d, "images"));
	json_decref(d);

	/* 404 */
	snprintf(args, sizeof args, "{\"url\": \"%s/no-such-page\"}", base);
	const char *m = call_err(f, "scrape_webpage", args);
	assert_non_null(strstr(m, "answered HTTP 404"));
	app_free(f);

	/* the SSRF guard: the server's policy allows public addresses only */
	struct netguard *pub = NULL;
	assert_int_equal(netguard_new(NULL, &pub, NULL), 0);
	o.net_guard = pub;
	f = app_new(&o);
	snprintf(args, sizeof args, "{\"url\": \"%s\"}", u);
	m = call_err(f, "scrape_webpage", args);
	assert_non_null(strstr(m, "refusing to connect to 127.0.0.1 (loopback)"));
	assert_non_null(strstr(m, "--allow-net"));
	m = call_err(f, "scrape_webpage",
		     "{\"url\": \"http://169.254.169.254/latest/meta-data/iam/\"}");
	assert_non_null(strstr(m, "169.254.169.254"));
	app_free(f);
	netguard_free(pub);

	/* metadata stays closed even with loopback allowed */
	o = full_options();
	f = app_new(&o);
	m = call_err(f, "scrape_webpage", "{\"url\": \"http://169.254.169.254/\"}");
	assert_non_null(strstr(m, "169.254.169.254"));
	app_free(f);
}

static void test_scrape_rate_limit(void **state)
{
	(void)state;
	struct app_mcp_options o = full_options();
	struct app *f = app_new(&o);
	char args[512];

	put_page("/tiny.html", "<title>tiny</title><p>x</p>");
	snprintf(args, sizeof args, "{\"url\": \"%s/tiny.html\", \"include_links\": false}", base);
	for (int i = 0; i < 30; i++)
		json_decref(call_ok(f, "scrape_webpage", args));
	const char *m = call_err(f, "scrape_webpage", args);
	assert_non_null(strstr(m, "rate limit: at most 30 requests per minute to 127.0.0.1"));
	app_free(f);
}

static void test_render_javascript(void **state)
{
	(void)state;
	struct app_mcp_options o = full_options();
	char args[512];

	put_page("/spa.html",
		 "<html><head><title>SPA</title></head><body><div id=\"app\">Loading…</div>"
		 "<script>document.getElementById('app').textContent = 'Prices: 17 items';"
		 "</script></body></html>");
	snprintf(args, sizeof args, "{\"url\": \"%s/spa.html\", \"render_javascript\": true}",
		 base);

	/* no Chromium: a clear error */
	o.chromium_path = "/nonexistent/chromium";
	struct app *f = app_new(&o);
	const char *m = call_err(f, "scrape_webpage", args);
	assert_non_null(strstr(m, "render_javascript needs headless Chromium, which is not "
				  "installed on this server"));
	app_free(f);

	if (access("/usr/bin/chromium", X_OK) != 0) {
		fprintf(stderr, "SKIP render_javascript with Chromium: /usr/bin/chromium is not "
				"installed (apt install chromium)\n");
		skip();
	}
	o = full_options();
	f = app_new(&o);
	json_t *d = call_ok(f, "scrape_webpage", args);
	assert_string_equal(json_get_str(d, "method"), "chromium");
	assert_string_equal(json_get_str(d, "content"), "Prices: 17 items");
	assert_int_equal(json_get_int(d, "status_code", 0), 200);
	json_decref(d);
	app_free(f);
}

static void test_tools_listed(void **state)
{
	(void)state;
	struct app_mcp_options o = full_options();
	struct app *f = app_new(&o);
	json_t *r = rpc_raw(f, "{\"jsonrpc\": \"2.0\", \"id\": 99, \"method\": \"tools/list\"}");
	json_t *tools = json_object_get(json_object_get(r, "result"), "tools"), *t;
	size_t i;
	int seen = 0;

	json_array_foreach(tools, i, t) {
		const char *n = json_get_str(t, "name");
		if (strcmp(n, "get_weather") && strcmp(n, "send_sms") && strcmp(n, "send_email") &&
		    strcmp(n, "scrape_webpage"))
			continue;
		seen++;
		assert_non_null(json_object_get(t, "outputSchema"));
		assert_non_null(json_object_get(t, "annotations"));
	}
	assert_int_equal(seen, 4);
	json_decref(r);
	app_free(f);
}

int main(int argc, char **argv)
{
	struct err e = {0};
	if (argc < 2) {
		fprintf(stderr, "usage: net_tools_test PATH/TO/fixture_web\n");
		return 2;
	}
	fixture_bin = argv[1];
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (start_fixture())
		return 1;
	struct sinks_options so = {.twilio_sid = TWILIO_SID, .twilio_token = TWILIO_TOKEN};
	if (sinks_start(&so, &sinks, &e)) {
		fprintf(stderr, "sinks: %s\n", err_msg(&e));
		stop_fixture();
		return 1;
	}
	snprintf(twilio_base, sizeof twilio_base, "http://127.0.0.1:%d", sinks_http_port(sinks));
	snprintf(smtp_url, sizeof smtp_url, "smtp://127.0.0.1:%d", sinks_smtp_port(sinks));
	netguard_new("127.0.0.1", &allow_local, &e);

	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bind(fd, (struct sockaddr *)&a, sizeof a);
	getsockname(fd, (struct sockaddr *)&a, &al);
	snprintf(dead_url, sizeof dead_url, "http://127.0.0.1:%d", ntohs(a.sin_port));
	close(fd);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weather),
		cmocka_unit_test(test_sms),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_scrape),
		cmocka_unit_test(test_scrape_rate_limit),
		cmocka_unit_test(test_render_javascript),
		cmocka_unit_test(test_tools_listed),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	sinks_stop(sinks);
	netguard_free(allow_local);
	stop_fixture();
	curl_global_cleanup();
	return rc;
}
