/*
 * fetch_test.c - the engine's fetcher and SSRF guard against the fixture web
 * server (tests/fixture_web), which this test starts as a child process on
 * 127.0.0.1 and an ephemeral port, and stops by its PID.
 *
 * Usage: fetch_test PATH/TO/fixture_web
 *
 * Covers: 200 with validators and headers, 304 by ETag and by Last-Modified,
 * gzip, the size cap (with and without Content-Length, truncation, decoded
 * size), timeouts (total and connect), retries (503 then success, giving up,
 * Retry-After, a Retry-After too long), redirects (chain, limit, scheme,
 * relative), SSRF (literal, a name resolving to 127.0.0.1, redirects to
 * blocked addresses, the allow-list by CIDR and by name, trusted requests),
 * per-host and global concurrency limits (measured by the server), cancel
 * (queued, running, waiting, from a callback, by user data), wakeup from
 * another thread, many parallel fetches with connection reuse, proxies from
 * the environment ignored, and clear error messages throughout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../test_util.h"
#include "common/err.h"
#include "engine/fetch.h"
#include "engine/netguard.h"

static const char *fixture_bin;
static pid_t fx_pid;
static int fx_port;
static char base[64];  /* http://127.0.0.1:PORT */
static char lbase[64]; /* http://localhost:PORT */

/* ---- the fixture server ------------------------------------------------- */

static int start_fixture(void **state)
{
	(void)state;
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
		execl(fixture_bin, fixture_bin, "--pages", "1000", (char *)NULL);
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
	if (sscanf(line, "listening http://127.0.0.1:%d", &fx_port) != 1) {
		fprintf(stderr, "fixture_web did not start (said: '%s')\n", line);
		kill(fx_pid, SIGKILL);
		waitpid(fx_pid, NULL, 0);
		return -1;
	}
	snprintf(base, sizeof base, "http://127.0.0.1:%d", fx_port);
	snprintf(lbase, sizeof lbase, "http://localhost:%d", fx_port);
	return 0;
}

static int stop_fixture(void **state)
{
	(void)state;
	int status = 0;
	kill(fx_pid, SIGTERM);
	double end = test_now() + 10;
	while (waitpid(fx_pid, &status, WNOHANG) == 0) {
		if (test_now() > end) {
			kill(fx_pid, SIGKILL);
			waitpid(fx_pid, &status, 0);
			fprintf(stderr, "fixture_web ignored SIGTERM\n");
			return -1;
		}
		usleep(10000);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "fixture_web exited badly (status %d)\n", status);
		return -1;
	}
	return 0;
}

/* ---- talking to the control endpoint (plain blocking libcurl) ----------- */

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

/* method path [body [content type]] -> status; *out (may be NULL) the body */
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

static json_t *stats(void)
{
	char *s = NULL;
	assert_int_equal(ctl("GET", "/_control/stats", NULL, NULL, &s), 200);
	json_t *j = json_loads(s, 0, NULL);
	free(s);
	assert_non_null(j);
	return j;
}

static void reset_stats(void)
{
	assert_int_equal(ctl("POST", "/_control/reset_stats", "", NULL, NULL), 200);
}

/* How often the server saw path (0 when never). */
static long path_hits(const char *path)
{
	json_t *j = stats();
	long n = (long)json_integer_value(json_object_get(json_object_get(j, "paths"), path));
	json_decref(j);
	return n;
}

/* ---- fetching ----------------------------------------------------------- */

struct got {
	int calls;
	uint64_t id;
	int code;
	enum fetch_failure failure;
	char msg[ERR_MSG_MAX];
	long status;
	bool not_modified, truncated;
	char *url, *final_url, *etag, *last_modified, *content_type, *charset;
	int64_t retry_after_ms, elapsed_ms;
	char *body;
	size_t body_len;
	int attempts, redirects;
	int order;
	struct fetcher *f;     /* for callbacks that act on the fetcher */
	uint64_t cancel_in_cb; /* cancel this id from the callback */
	int cancel_in_cb_rc;
	const char *submit_in_cb; /* submit this URL from the callback into *chained */
	struct got *chained;
};

static int delivered;

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void on_done(struct fetch_result *r, void *ud)
{
	struct got *g = ud;
	g->calls++;
	g->order = ++delivered;
	g->id = r->id;
	g->code = r->code;
	g->failure = r->failure;
	snprintf(g->msg, sizeof g->msg, "%s", r->code ? r->err.msg : "");
	g->status = r->status;
	g->not_modified = r->not_modified;
	g->truncated = r->truncated;
	g->url = dup_or_null(r->url);
	g->final_url = dup_or_null(r->final_url);
	g->etag = dup_or_null(r->etag);
	g->last_modified = dup_or_null(r->last_modified);
	g->content_type = dup_or_null(r->content_type);
	g->charset = dup_or_null(r->charset);
	g->retry_after_ms = r->retry_after_ms;
	g->elapsed_ms = r->elapsed_ms;
	g->body = r->body; /* take it */
	r->body = NULL;
	g->body_len = r->body_len;
	g->attempts = r->attempts;
	g->redirects = r->redirects;
	if (g->cancel_in_cb)
		g->cancel_in_cb_rc = fetcher_cancel(g->f, g->cancel_in_cb);
	if (g->submit_in_cb) {
		struct fetch_request rq = {.url = g->submit_in_cb};
		fetcher_submit(g->f, &rq, on_done, g->chained);
	}
}

static void got_free(struct got *g)
{
	free(g->url);
	free(g->final_url);
	free(g->etag);
	free(g->last_modified);
	free(g->content_type);
	free(g->charset);
	free(g->body);
	memset(g, 0, sizeof *g);
}

struct env {
	struct netguard *guard;
	struct fetcher *f;
};

/* A fetcher with an allow-list (NULL: the default policy) and options
 * (NULL: quick retries, otherwise defaults). */
static void env_init(struct env *v, const char *allow, const struct fetch_options *o)
{
	struct err e = {0};
	struct fetch_options d = {.retry = {.base_delay_ms = 20, .max_delay_ms = 100}};
	struct fetch_options opts = o ? *o : d;
	if (netguard_new(allow, &v->guard, &e))
		fail_msg("allow-list: %s", e.msg);
	opts.guard = v->guard;
	if (fetcher_new(&opts, &v->f, &e))
		fail_msg("fetcher_new: %s", e.msg);
}

static void env_cleanup(struct env *v)
{
	fetcher_free(v->f);
	netguard_free(v->guard);
}

/* Poll until every one of gs[0..n) has been delivered, at most secs. */
static void wait_all(struct fetcher *f, struct got **gs, size_t n, double secs)
{
	double end = test_now() + secs;
	for (;;) {
		size_t done = 0;
		for (size_t i = 0; i < n; i++)
			done += gs[i]->calls > 0;
		if (done == n)
			return;
		if (test_now() > end)
			fail_msg("only %zu of %zu fetches finished within %.0f s", done, n, secs);
		fetcher_poll(f, 100);
	}
}

static void fetch1(struct fetcher *f, const struct fetch_request *rq, struct got *g)
{
	struct got *gs[] = {g};
	fetcher_submit(f, rq, on_done, g);
	wait_all(f, gs, 1, 60);
	assert_int_equal(g->calls, 1);
}

static void get(struct fetcher *f, const char *url, struct got *g)
{
	struct fetch_request rq = {.url = url};
	fetch1(f, &rq, g);
}

static char *url_of(const char *b, const char *path)
{
	char *u = malloc(strlen(b) + strlen(path) + 1);
	strcpy(u, b);
	strcat(u, path);
	return u;
}

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		const char *h_ = (hay), *n_ = (needle);                                            \
		if (!h_ || !strstr(h_, n_))                                                        \
			fail_msg("'%s' does not contain '%s'", h_ ? h_ : "(null)", n_);            \
	} while (0)

/* ---- tests -------------------------------------------------------------- */

static void test_get_200(void **state)
{
	(void)state;
	struct env v;
	struct got g = {0};
	char *u = url_of(base, "/news");
	env_init(&v, "127.0.0.1", NULL);
	get(v.f, u, &g);
	assert_int_equal(g.code, ERR_OK);
	assert_int_equal(g.failure, FETCH_OK);
	assert_int_equal(g.status, 200);
	assert_false(g.not_modified);
	assert_contains(g.body, "Chip maker unveils new AI accelerator");
	assert_int_equal(strlen(g.body), g.body_len);
	assert_non_null(g.etag);
	assert_non_null(g.last_modified);
	assert_string_equal(g.content_type, "text/html; charset=utf-8");
	assert_string_equal(g.charset, "utf-8");
	assert_string_equal(g.url, u);
	assert_string_equal(g.final_url, u);
	assert_int_equal(g.attempts, 1);
	assert_int_equal(g.redirects, 0);
	assert_int_equal(g.retry_after_ms, -1);
	assert_true(g.elapsed_ms >= 0);
	assert_int_equal(fetcher_pending(v.f), 0);
	got_free(&g);

	/* what we send: User-Agent, Accept-Encoding, extra headers, method, body */
	char *eu = url_of(base, "/echo?x=1");
	const char *hdrs[] = {"X-Test: yes", NULL};
	struct fetch_request rq = {.url = eu,
				   .headers = hdrs,
				   .etag = "\"abc\"",
				   .method = "POST",
				   .body = "hello=1",
				   .body_len = 7};
	fetch1(v.f, &rq, &g);
	assert_int_equal(g.code, ERR_OK);
	json_t *j = json_loads(g.body, 0, NULL);
	assert_non_null(j);
	json_t *h = json_object_get(j, "headers");
	const char *ua = json_string_value(json_object_get(h, "User-Agent"));
	assert_string_equal(ua, fetcher_user_agent(v.f));
	assert_true(strncmp(ua, "ambient/", 8) == 0);
	assert_contains(json_string_value(json_object_get(h, "Accept-Encoding")), "gzip");
	assert_string_equal(json_string_value(json_object_get(h, "X-Test")), "yes");
	assert_string_equal(json_string_value(json_object_get(h, "If-None-Match")), "\"abc\"");
	assert_null(json_object_get(h, "Expect"));
	assert_string_equal(json_string_value(json_object_get(j, "method")), "POST");
	assert_string_equal(json_string_value(json_object_get(j, "body")), "hello=1");
	json_decref(j);
	got_free(&g);

	struct fetch_stats st;
	fetcher_stats(v.f, &st);
	assert_int_equal(st.submitted, 2);
	assert_int_equal(st.completed, 2);
	assert_int_equal(st.failed, 0);
	assert_int_equal(st.running + st.queued + st.waiting, 0);
	env_cleanup(&v);
	free(u);
	free(eu);
}

static void test_conditional_get(void **state)
{
	(void)state;
	struct env v;
	struct got g = {0}, g2 = {0}, g3 = {0};
	char *u = url_of(base, "/page/7");
	env_init(&v, "127.0.0.1", NULL);
	get(v.f, u, &g);
	assert_int_equal(g.status, 200);
	assert_string_equal(g.etag, "\"p7-v0\"");
	assert_true(g.body_len > 9000);

	struct fetch_request rq = {.url = u, .etag = g.etag, .last_modified = g.last_modified};
	fetch1(v.f, &rq, &g2);
	assert_int_equal(g2.code, ERR_OK);
	assert_int_equal(g2.status, 304);
	assert_true(g2.not_modified);
	assert_null(g2.body);
	assert_int_equal(g2.body_len, 0);
	assert_string_equal(g2.etag, "\"p7-v0\"");

	/* the page changes: 200 with a new ETag and the new line */
	assert_int_equal(ctl("POST", "/_control/bump?page=7", "", NULL, NULL), 200);
	fetch1(v.f, &rq, &g3);
	assert_int_equal(g3.status, 200);
	assert_false(g3.not_modified);
	assert_string_equal(g3.etag, "\"p7-v1\"");
	assert_contains(g3.body, "Breaking update 1 for page 7");
	got_free(&g);
	got_free(&g2);
	got_free(&g3);

	/* Last-Modified only (no ETag): If-Modified-Since */
	assert_int_equal(ctl("PUT", "/_control/page/lm.html?etag=0", "<p>lm</p>",
			     "text/html; charset=ISO-8859-1", NULL),
			 200);
	char *lu = url_of(base, "/lm.html");
	get(v.f, lu, &g);
	assert_int_equal(g.status, 200);
	assert_null(g.etag);
	assert_non_null(g.last_modified);
	assert_string_equal(g.charset, "iso-8859-1");
	assert_string_equal(g.body, "<p>lm</p>");
	struct fetch_request rq2 = {.url = lu, .last_modified = g.last_modified};
	fetch1(v.f, &rq2, &g2);
	assert_int_equal(g2.status, 304);
	assert_true(g2.not_modified);
	got_free(&g);
	got_free(&g2);

	struct fetch_stats st;
	fetcher_stats(v.f, &st);
	assert_int_equal(st.not_modified, 2);
	env_cleanup(&v);
	free(u);
	free(lu);
}

static void test_gzip(void **state)
{
	(void)state;
	struct env v;
	struct got plain = {0}, gz = {0};
	char *u = url_of(base, "/page/11");
	env_init(&v, "127.0.0.1", NULL);
	get(v.f, u, &plain);
	long on = ctl("POST", "/_control/gzip?on=1", "", NULL, NULL);
	if (on == 501) { /* fixture built without zlib */
		got_free(&plain);
		env_cleanup(&v);
		free(u);
		skip();
	}
	assert_int_equal(on, 200);
	get(v.f, u, &gz);
	assert_int_equal(gz.code, ERR_OK);
	assert_int_equal(gz.body_len, plain.body_len);
	assert_memory_equal(gz.body, plain.body, plain.body_len);

	/* the cap applies to the decoded size: ~10 KB page, ~2.5 KB on the wire */
	struct got small = {0};
	struct fetch_request rq = {.url = u, .max_body = 5000};
	fetch1(v.f, &rq, &small);
	assert_int_equal(small.code, ERR_TOO_BIG);
	assert_int_equal(small.failure, FETCH_FAIL_TOO_BIG);
	assert_int_equal(ctl("POST", "/_control/gzip?on=0", "", NULL, NULL), 200);
	got_free(&plain);
	got_free(&gz);
	got_free(&small);
	env_cleanup(&v);
	free(u);
}

static void test_size_cap(void **state)
{
	(void)state;
	struct env v;
	struct fetch_options o = {.max_body = 64 * 1024};
	env_init(&v, "127.0.0.1", &o);
	const char *paths[] = {"/big?bytes=100000", "/big?bytes=100000&chunked=1",
			       "/big?bytes=10000000"};
	for (size_t i = 0; i < 3; i++) {
		struct got g = {0};
		char *u = url_of(base, paths[i]);
		get(v.f, u, &g);
		assert_int_equal(g.code, ERR_TOO_BIG);
		assert_int_equal(g.failure, FETCH_FAIL_TOO_BIG);
		char want[256];
		snprintf(want, sizeof want, "response larger than 64 KiB from %s", u);
		assert_contains(g.msg, want);
		assert_null(g.body);
		assert_int_equal(g.attempts, 1);
		got_free(&g);
		free(u);
	}
	/* exactly at the cap is fine */
	struct got g = {0};
	char *u = url_of(base, "/big?bytes=65536");
	get(v.f, u, &g);
	assert_int_equal(g.code, ERR_OK);
	assert_int_equal(g.body_len, 65536);
	assert_false(g.truncated);
	got_free(&g);
	free(u);

	/* truncate instead of failing, when asked */
	u = url_of(base, "/big?bytes=100000&chunked=1");
	struct fetch_request rq = {.url = u, .truncate = true, .max_body = 1000};
	fetch1(v.f, &rq, &g);
	assert_int_equal(g.code, ERR_OK);
	assert_true(g.truncated);
	assert_int_equal(g.body_len, 1000);
	assert_int_equal(strlen(g.body), 1000);
	assert_int_equal(g.body[0], 'a');
	got_free(&g);
	free(u);
	env_cleanup(&v);
}

/* A loopback port nobody listens on (bound, then closed). */
static int closed_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
	close(s);
	return ntohs(a.sin_port);
}

static void test_timeouts(void **state)
{
	(void)state;
	struct env v;
	struct fetch_options o = {
		.timeout_ms = 300, .connect_timeout_ms = 300, .retry = {.max_attempts = 1}};
	env_init(&v, "127.0.0.1", &o);
	struct got g = {0};
	char *u = url_of(base, "/slow?ms=1500");
	get(v.f, u, &g);
	assert_int_equal(g.code, ERR_TIMEOUT);
	assert_int_equal(g.failure, FETCH_FAIL_TIMEOUT);
	char want[256];
	snprintf(want, sizeof want, "no complete response within 0.3 s from %s", u);
	assert_contains(g.msg, want);
	got_free(&g);
	free(u);

	/* connect timeout: a listener whose accept queue is full drops our SYN */
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(ls, 0), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &al), 0);
	int fill[4];
	for (int i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fill[i], (struct sockaddr *)&a, sizeof a);
	}
	char cu[64];
	snprintf(cu, sizeof cu, "http://127.0.0.1:%d/", ntohs(a.sin_port));
	get(v.f, cu, &g);
	assert_int_equal(g.code, ERR_TIMEOUT);
	snprintf(want, sizeof want, "connect timeout after 0.3 s for %s", cu);
	assert_contains(g.msg, want);
	got_free(&g);
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(ls);

	/* connection refused: a port nobody listens on */
	snprintf(cu, sizeof cu, "http://127.0.0.1:%d/", closed_port());
	struct fetch_retry two = {.max_attempts = 2, .base_delay_ms = 10};
	struct fetch_request rq = {.url = cu, .retry = &two};
	fetch1(v.f, &rq, &g);
	assert_int_equal(g.code, ERR_IO);
	assert_int_equal(g.failure, FETCH_FAIL_CONNECT);
	assert_int_equal(g.attempts, 2);
	assert_contains(g.msg, "could not connect for ");
	assert_contains(g.msg, "(after 2 attempts)");
	got_free(&g);
	env_cleanup(&v);
}

static void test_broken_responses(void **state)
{
	(void)state;
	struct env v;
	struct fetch_options o = {.retry = {.max_attempts = 1}};
	env_init(&v, "127.0.0.1", &o);
	struct {
		const char *path;
		enum fetch_failure fl;
		int code;
		const char *needle;
	} cases[] = {
		{"/reset", FETCH_FAIL_NETWORK, ERR_IO, ""},
		{"/garbage", FETCH_FAIL_NETWORK, ERR_IO, "closed before the whole response"},
		{"/garbage?mode=bytes", FETCH_FAIL_NETWORK, ERR_IO, ""},
		{"/status/404", FETCH_FAIL_HTTP, ERR_NOT_FOUND, "HTTP 404 Not Found from "},
		{"/status/403", FETCH_FAIL_HTTP, ERR_PERM, "HTTP 403 Forbidden"},
		{"/status/500", FETCH_FAIL_HTTP, ERR_IO, "HTTP 500 Internal Server Error"},
		{"/status/599", FETCH_FAIL_HTTP, ERR_IO, "HTTP 599 from "},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct got g = {0};
		char *u = url_of(base, cases[i].path);
		get(v.f, u, &g);
		if (g.failure != cases[i].fl || g.code != cases[i].code)
			fail_msg("%s: failure %s code %d (%s)", cases[i].path,
				 fetch_failure_name(g.failure), g.code, g.msg);
		assert_contains(g.msg, cases[i].needle);
		assert_contains(g.msg, u);
		got_free(&g);
		free(u);
	}
	/* the body of an HTTP error is kept */
	struct got g = {0};
	char *u = url_of(base, "/status/404");
	get(v.f, u, &g);
	assert_int_equal(g.status, 404);
	assert_string_equal(g.body, "status 404\n");
	got_free(&g);
	free(u);

	/* DNS and URL errors arrive through the callback too */
	get(v.f, "http://example.invalid/", &g);
	assert_int_equal(g.failure, FETCH_FAIL_DNS);
	assert_int_equal(g.code, ERR_NOT_FOUND);
	assert_contains(g.msg, "DNS lookup failed for example.invalid");
	got_free(&g);
	get(v.f, "ftp://example.com/x", &g);
	assert_int_equal(g.failure, FETCH_FAIL_URL);
	assert_int_equal(g.code, ERR_INVALID);
	assert_contains(g.msg, "not an http:// or https:// URL");
	got_free(&g);
	get(v.f, "http://exa mple.com/", &g);
	assert_int_equal(g.failure, FETCH_FAIL_URL);
	assert_contains(g.msg, "is not a valid URL");
	got_free(&g);
	get(v.f, "", &g);
	assert_int_equal(g.failure, FETCH_FAIL_URL);
	got_free(&g);
	env_cleanup(&v);
}

static void test_retries(void **state)
{
	(void)state;
	struct env v;
	env_init(&v, "127.0.0.1", NULL); /* 3 attempts, 20 ms base delay */
	struct got g = {0};

	/* 503 twice, then 200 */
	char *u = url_of(base, "/flaky?key=r1&fail=2");
	get(v.f, u, &g);
	assert_int_equal(g.code, ERR_OK);
	assert_int_equal(g.status, 200);
	assert_int_equal(g.attempts, 3);
	assert_contains(g.body, "ok after 2 failures (request 3)");
	got_free(&g);
	free(u);

	/* 502 / 504 / 429 are transient too; 4 failures exhaust 3 attempts */
	u = url_of(base, "/flaky?key=r2&fail=4&status=502");
	get(v.f, u, &g);
	assert_int_equal(g.failure, FETCH_FAIL_HTTP);
	assert_int_equal(g.code, ERR_IO);
	assert_int_equal(g.attempts, 3);
	assert_contains(g.msg, "HTTP 502 Bad Gateway from ");
	assert_contains(g.msg, "(after 3 attempts)");
	got_free(&g);
	free(u);

	/* a 500 is not retried */
	u = url_of(base, "/flaky?key=r3&fail=1&status=500");
	get(v.f, u, &g);
	assert_int_equal(g.status, 500);
	assert_int_equal(g.attempts, 1);
	got_free(&g);
	free(u);

	/* Retry-After: 1 is honoured (the retry cannot come sooner) */
	u = url_of(base, "/flaky?key=r4&fail=1&status=429&retry_after=1");
	double t0 = test_now();
	get(v.f, u, &g);
	double took = test_now() - t0;
	assert_int_equal(g.code, ERR_OK);
	assert_int_equal(g.attempts, 2);
	if (took < 0.99)
		fail_msg("retried after %.3f s despite Retry-After: 1", took);
	got_free(&g);
	free(u);

	/* a Retry-After longer than the fetcher waits: report at once */
	u = url_of(base, "/status/503?retry_after=3600");
	get(v.f, u, &g);
	assert_int_equal(g.failure, FETCH_FAIL_HTTP);
	assert_int_equal(g.attempts, 1);
	assert_int_equal(g.retry_after_ms, 3600000);
	assert_contains(g.msg, "HTTP 503 Service Unavailable from ");
	assert_contains(g.msg, "the server asked to retry after 3600 s");
	got_free(&g);
	free(u);

	struct fetch_stats st;
	fetcher_stats(v.f, &st);
	assert_int_equal(st.retries, 2 + 2 + 1);
	env_cleanup(&v);
}

static void test_redirects(void **state)
{
	(void)state;
	struct env v;
	env_init(&v, "127.0.0.1", NULL);
	struct got g = {0};
	char *u = url_of(base, "/redirect-chain/3");
	get(v.f, u, &g);
	assert_int_equal(g.code, ERR_OK);
	assert_int_equal(g.redirects, 3);
	assert_string_equal(g.url, u);
	char *want = url_of(base, "/redirect-chain/0");
	assert_string_equal(g.final_url, want);
	assert_string_equal(g.body, "end of the redirect chain\n");
	got_free(&g);
	free(u);
	free(want);

	/* the limit (default 5) */
	u = url_of(base, "/redirect-chain/6");
	get(v.f, u, &g);
	assert_int_equal(g.failure, FETCH_FAIL_REDIRECT);
	assert_contains(g.msg, "stopped after 5 redirects starting at ");
	got_free(&g);
	/* a per-request limit; -1 returns the 3xx itself */
	struct fetch_request rq = {.url = u, .max_redirects = 2};
	fetch1(v.f, &rq, &g);
	assert_contains(g.msg, "stopped after 2 redirects");
	got_free(&g);
	rq.max_redirects = -1;
	fetch1(v.f, &rq, &g);
	assert_int_equal(g.code, ERR_OK);
	assert_int_equal(g.status, 302);
	assert_int_equal(g.redirects, 0);
	got_free(&g);
	free(u);

	/* relative Location, 301/303/307/308 */
	const char *rel[] = {"/redirect?to=/news", "/redirect?to=/news&status=301",
			     "/redirect?to=/news&status=303", "/redirect?to=/news&status=307",
			     "/redirect?to=/news&status=308"};
	for (size_t i = 0; i < 5; i++) {
		u = url_of(base, rel[i]);
		get(v.f, u, &g);
		assert_int_equal(g.code, ERR_OK);
		assert_int_equal(g.redirects, 1);
		assert_contains(g.final_url, "/news");
		assert_contains(g.body, "Latest news");
		got_free(&g);
		free(u);
	}

	/* only http and https */
	u = url_of(base, "/redirect?to=file:///etc/passwd");
	get(v.f, u, &g);
	assert_int_equal(g.failure, FETCH_FAIL_REDIRECT);
	assert_int_equal(g.code, ERR_PERM);
	assert_contains(g.msg, "refusing the redirect from ");
	assert_contains(g.msg, "file:///etc/passwd");
	got_free(&g);
	free(u);
	u = url_of(base, "/redirect?to=gopher://127.0.0.1:70/");
	get(v.f, u, &g);
	assert_int_equal(g.failure, FETCH_FAIL_REDIRECT);
	got_free(&g);
	free(u);

	/* a 303 after POST becomes GET */
	char *to = url_of(base, "/echo");
	char path[256];
	snprintf(path, sizeof path, "/redirect?status=303&to=%s", to);
	u = url_of(base, path);
	struct fetch_request prq = {.url = u, .method = "POST", .body = "x", .body_len = 1};
	fetch1(v.f, &prq, &g);
	assert_int_equal(g.code, ERR_OK);
	assert_contains(g.body, "\"method\":\"GET\"");
	got_free(&g);
	/* ... and a 307 keeps the method and body */
	snprintf(path, sizeof path, "/redirect?status=307&to=%s", to);
	free(u);
	u = url_of(base, path);
	prq.url = u;
	fetch1(v.f, &prq, &g);
	assert_contains(g.body, "\"method\":\"POST\"");
	assert_contains(g.body, "\"body\":\"x\"");
	got_free(&g);
	free(u);
	free(to);
	env_cleanup(&v);
}

static void test_ssrf(void **state)
{
	(void)state;
	struct env v;
	struct got g = {0};
	char want[512];
	reset_stats();

	/* default policy: a literal loopback address, refused before connecting */
	env_init(&v, NULL, NULL);
	char *u = url_of(base, "/news?ssrf=1");
	get(v.f, u, &g);
	assert_int_equal(g.code, ERR_PERM);
	assert_int_equal(g.failure, FETCH_FAIL_BLOCKED);
	snprintf(want, sizeof want,
		 "refusing to connect to 127.0.0.1 (loopback) for %s: private, loopback and "
		 "link-local addresses are blocked; allow them with --allow-net 127.0.0.1",
		 u);
	assert_string_equal(g.msg, want);
	assert_int_equal(g.attempts, 0);
	got_free(&g);
	free(u);

	/* a name resolving to 127.0.0.1: judged on the address connected to */
	u = url_of(lbase, "/news?ssrf=2");
	get(v.f, u, &g);
	assert_int_equal(g.code, ERR_PERM);
	assert_int_equal(g.failure, FETCH_FAIL_BLOCKED);
	assert_contains(g.msg, "(loopback) for ");
	assert_contains(g.msg, u);
	assert_contains(g.msg, "allow them with --allow-net ");
	assert_int_equal(g.attempts, 1);
	got_free(&g);
	free(u);

	/* IPv4-mapped and metadata literals */
	char mu[64];
	snprintf(mu, sizeof mu, "http://[::ffff:127.0.0.1]:%d/news?ssrf=3", fx_port);
	get(v.f, mu, &g);
	assert_int_equal(g.failure, FETCH_FAIL_BLOCKED);
	assert_contains(g.msg, "IPv4-mapped 127.0.0.1");
	got_free(&g);
	get(v.f, "http://169.254.169.254/latest/meta-data/", &g);
	assert_int_equal(g.failure, FETCH_FAIL_BLOCKED);
	assert_contains(g.msg, "(cloud metadata)");
	got_free(&g);

	/* trusted requests (operator-configured URLs) skip the guard */
	u = url_of(base, "/news?trusted=1");
	struct fetch_request trq = {.url = u, .trusted = true};
	fetch1(v.f, &trq, &g);
	assert_int_equal(g.code, ERR_OK);
	got_free(&g);
	free(u);

	struct fetch_stats st;
	fetcher_stats(v.f, &st);
	assert_int_equal(st.blocked, 4);
	env_cleanup(&v);

	/* the server never saw a blocked request */
	json_t *j = stats();
	json_t *paths = json_object_get(j, "paths");
	assert_null(json_object_get(paths, "/latest/meta-data/"));
	assert_int_equal(json_integer_value(json_object_get(paths, "/news")), 1); /* trusted */
	json_decref(j);

	/* allowed by CIDR: both the literal and the name */
	env_init(&v, "127.0.0.1/32", NULL);
	u = url_of(lbase, "/news");
	get(v.f, u, &g);
	assert_int_equal(g.code, ERR_OK);
	got_free(&g);
	free(u);

	/* a failure to connect to an allowed address is a connect failure, even when
	 * another address of the name (::1) was refused by the guard */
	char cu[64];
	snprintf(cu, sizeof cu, "http://localhost:%d/", closed_port());
	struct fetch_retry once = {.max_attempts = 1};
	struct fetch_request crq = {.url = cu, .retry = &once};
	fetch1(v.f, &crq, &g);
	assert_int_equal(g.failure, FETCH_FAIL_CONNECT);
	got_free(&g);
	env_cleanup(&v);

	/* allowed by name: that name only */
	env_init(&v, "localhost", NULL);
	u = url_of(lbase, "/news");
	get(v.f, u, &g);
	assert_int_equal(g.code, ERR_OK);
	got_free(&g);
	free(u);
	u = url_of(base, "/news");
	get(v.f, u, &g);
	assert_int_equal(g.failure, FETCH_FAIL_BLOCKED);
	got_free(&g);
	free(u);

	/* a redirect from the allowed host to a blocked literal ... */
	reset_stats();
	char path[256];
	snprintf(path, sizeof path, "/redirect?to=%s/news%%3Fhop%%3D1", base);
	u = url_of(lbase, path);
	get(v.f, u, &g);
	assert_int_equal(g.failure, FETCH_FAIL_BLOCKED);
	assert_int_equal(g.code, ERR_PERM);
	assert_contains(g.msg, "redirect from ");
	assert_contains(g.msg, "refusing to connect to 127.0.0.1 (loopback)");
	got_free(&g);
	free(u);
	/* ... and to a blocked name (foo.localhost resolves to 127.0.0.1): caught at
	 * connect time, on the new connection of the second hop */
	snprintf(path, sizeof path, "/redirect?to=http://foo.localhost:%d/news", fx_port);
	u = url_of(lbase, path);
	get(v.f, u, &g);
	assert_int_equal(g.failure, FETCH_FAIL_BLOCKED);
	assert_int_equal(g.redirects, 1);
	assert_contains(g.msg, "(loopback) for http://foo.localhost:");
	got_free(&g);
	free(u);
	assert_int_equal(path_hits("/news"), 0);
	assert_int_equal(path_hits("/redirect"), 2);
	env_cleanup(&v);

	/* "*" turns the guard off */
	env_init(&v, "*", NULL);
	u = url_of(base, "/news");
	get(v.f, u, &g);
	assert_int_equal(g.code, ERR_OK);
	got_free(&g);
	free(u);
	env_cleanup(&v);
}

static void test_env_proxy_ignored(void **state)
{
	(void)state;
	setenv("http_proxy", "http://127.0.0.1:1", 1);
	setenv("HTTP_PROXY", "http://127.0.0.1:1", 1);
	setenv("ALL_PROXY", "http://127.0.0.1:1", 1);
	struct env v;
	struct got g = {0};
	env_init(&v, "127.0.0.1", NULL);
	char *u = url_of(base, "/news");
	get(v.f, u, &g);
	assert_int_equal(g.code, ERR_OK);
	got_free(&g);
	free(u);
	env_cleanup(&v);
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("ALL_PROXY");
}

static bool slow_idle(void *ud)
{
	(void)ud;
	json_t *j = stats();
	long n = (long)json_integer_value(json_object_get(json_object_get(j, "slow"), "in_flight"));
	json_decref(j);
	return n == 0;
}

static long slow_max(json_t *j, const char *host)
{
	json_t *slow = json_object_get(j, "slow");
	if (!host)
		return (long)json_integer_value(json_object_get(slow, "max_in_flight"));
	json_t *h = json_object_get(json_object_get(slow, "by_host"), host);
	return (long)json_integer_value(json_object_get(h, "max_in_flight"));
}

static void test_concurrency_limits(void **state)
{
	(void)state;
	struct env v;
	struct fetch_options o = {.max_per_host = 2, .max_total = 8};
	env_init(&v, "127.0.0.1", &o);
	/* slow requests of earlier tests (abandoned by the client) still count at the
	 * server until they end */
	assert_true(test_wait_until(slow_idle, NULL, 30));
	reset_stats();
	struct got g[12];
	struct got *gs[12];
	memset(g, 0, sizeof g);
	for (int i = 0; i < 12; i++) {
		char path[64];
		snprintf(path, sizeof path, "/slow?ms=150&i=%d", i);
		char *u = url_of(i % 2 ? lbase : base, path);
		struct fetch_request rq = {.url = u};
		fetcher_submit(v.f, &rq, on_done, &g[i]);
		gs[i] = &g[i];
		free(u);
	}
	struct fetch_stats st;
	fetcher_stats(v.f, &st);
	assert_int_equal(st.queued + st.running, 12);
	fetcher_poll(v.f, 0);
	fetcher_stats(v.f, &st);
	assert_int_equal(st.running, 4); /* 2 per host, 2 hosts */
	assert_int_equal(st.queued, 8);
	wait_all(v.f, gs, 12, 60);
	for (int i = 0; i < 12; i++) {
		assert_int_equal(g[i].code, ERR_OK);
		got_free(&g[i]);
	}
	json_t *j = stats();
	char h1[64], h2[64];
	snprintf(h1, sizeof h1, "127.0.0.1:%d", fx_port);
	snprintf(h2, sizeof h2, "localhost:%d", fx_port);
	assert_int_equal(slow_max(j, h1), 2);
	assert_int_equal(slow_max(j, h2), 2);
	assert_int_equal(slow_max(j, NULL), 4);
	json_decref(j);
	env_cleanup(&v);

	/* the global limit */
	struct fetch_options o2 = {.max_per_host = 10, .max_total = 3};
	env_init(&v, "127.0.0.1", &o2);
	reset_stats();
	memset(g, 0, sizeof g);
	for (int i = 0; i < 9; i++) {
		char path[64];
		snprintf(path, sizeof path, "/slow?ms=150&j=%d", i);
		char *u = url_of(i % 2 ? lbase : base, path);
		struct fetch_request rq = {.url = u};
		fetcher_submit(v.f, &rq, on_done, &g[i]);
		free(u);
	}
	wait_all(v.f, gs, 9, 60);
	for (int i = 0; i < 9; i++) {
		assert_int_equal(g[i].code, ERR_OK);
		got_free(&g[i]);
	}
	j = stats();
	assert_int_equal(slow_max(j, NULL), 3);
	json_decref(j);
	env_cleanup(&v);
}

static bool slow_busy(void *ud)
{
	return !slow_idle(ud);
}

static void test_cancel(void **state)
{
	(void)state;
	struct env v;
	struct fetch_options o = {.max_per_host = 1,
				  .retry = {.base_delay_ms = 10000, .max_delay_ms = 10000}};
	env_init(&v, "127.0.0.1", &o);
	struct got g[6];
	memset(g, 0, sizeof g);
	char *slow = url_of(base, "/slow?ms=3000");
	char *fail = url_of(lbase, "/status/503");
	struct fetch_request rs = {.url = slow}, rf = {.url = fail};
	uint64_t running = fetcher_submit(v.f, &rs, on_done, &g[0]);
	uint64_t queued1 = fetcher_submit(v.f, &rs, on_done, &g[1]);
	uint64_t queued2 = fetcher_submit(v.f, &rs, on_done, &g[2]);
	uint64_t waiting = fetcher_submit(v.f, &rf, on_done, &g[3]);
	int tag;
	fetcher_submit(v.f, &rs, on_done, &tag); /* cancelled by user data below */
	fetcher_submit(v.f, &rf, on_done, &tag);
	assert_true(running > 0 && queued1 > running && waiting > queued2);

	/* wait until the 503 has failed once and waits for its retry */
	double end = test_now() + 20;
	struct fetch_stats st;
	do {
		fetcher_poll(v.f, 50);
		fetcher_stats(v.f, &st);
	} while (st.waiting < 2 && test_now() < end);
	assert_int_equal(st.waiting, 2);
	assert_int_equal(st.running, 1);
	assert_int_equal(st.queued, 3);
	assert_true(test_wait_until(slow_busy, NULL, 10)); /* the slow one reached the server */

	assert_int_equal(fetcher_cancel(v.f, running), ERR_OK);
	assert_int_equal(fetcher_cancel(v.f, queued1), ERR_OK);
	assert_int_equal(fetcher_cancel(v.f, waiting), ERR_OK);
	assert_int_equal(fetcher_cancel_ud(v.f, &tag), 2);
	assert_int_equal(fetcher_cancel(v.f, running), ERR_NOT_FOUND);
	assert_int_equal(fetcher_cancel(v.f, 999999), ERR_NOT_FOUND);
	assert_int_equal(fetcher_pending(v.f), 1);

	/* queued2 runs to completion alone; nothing else is ever delivered */
	struct got *gs[] = {&g[2]};
	wait_all(v.f, gs, 1, 30);
	assert_int_equal(g[2].code, ERR_OK);
	for (int i = 0; i < 50; i++)
		fetcher_poll(v.f, 10);
	assert_int_equal(g[0].calls + g[1].calls + g[3].calls, 0);
	assert_int_equal(fetcher_pending(v.f), 0);
	fetcher_stats(v.f, &st);
	assert_int_equal(st.cancelled, 5);
	/* the cancelled transfer's connection was closed: the server is idle */
	assert_true(test_wait_until(slow_idle, NULL, 10));
	for (int i = 0; i < 6; i++)
		got_free(&g[i]);

	/* cancel and submit from inside a callback */
	struct got a = {0}, b = {0}, c = {0};
	char *fast = url_of(lbase, "/news"); /* another host than the slow one */
	struct fetch_request rfast = {.url = fast};
	uint64_t bid = fetcher_submit(v.f, &rs, on_done, &b);
	a.f = v.f;
	a.cancel_in_cb = bid;
	a.submit_in_cb = fast;
	a.chained = &c;
	fetcher_submit(v.f, &rfast, on_done, &a);
	struct got *gs2[] = {&a, &c};
	wait_all(v.f, gs2, 2, 30);
	assert_int_equal(a.cancel_in_cb_rc, ERR_OK);
	assert_int_equal(c.code, ERR_OK);
	for (int i = 0; i < 20; i++)
		fetcher_poll(v.f, 10);
	assert_int_equal(b.calls, 0);
	/* cancelling oneself from one's own callback is refused */
	struct got d = {0};
	d.f = v.f;
	uint64_t did = fetcher_submit(v.f, &rfast, on_done, &d);
	d.cancel_in_cb = did;
	struct got *gs3[] = {&d};
	wait_all(v.f, gs3, 1, 30);
	assert_int_equal(d.cancel_in_cb_rc, ERR_NOT_FOUND);
	assert_int_equal(d.calls, 1);
	got_free(&a);
	got_free(&b);
	got_free(&c);
	got_free(&d);

	/* fetcher_free with requests in every state calls no callback */
	struct got e[3];
	memset(e, 0, sizeof e);
	fetcher_submit(v.f, &rs, on_done, &e[0]);
	fetcher_submit(v.f, &rs, on_done, &e[1]);
	fetcher_submit(v.f, &rf, on_done, &e[2]);
	for (int i = 0; i < 10; i++)
		fetcher_poll(v.f, 10);
	env_cleanup(&v);
	assert_int_equal(e[0].calls + e[1].calls + e[2].calls, 0);
	free(slow);
	free(fail);
	free(fast);
}

struct waker {
	struct fetcher *f;
	int delay_ms;
};

static void *wake_later(void *arg)
{
	struct waker *w = arg;
	usleep((useconds_t)w->delay_ms * 1000);
	fetcher_wakeup(w->f);
	return NULL;
}

static void test_wakeup(void **state)
{
	(void)state;
	struct env v;
	env_init(&v, "127.0.0.1", NULL);
	struct waker w = {v.f, 100};
	pthread_t t;
	pthread_create(&t, NULL, wake_later, &w);
	double t0 = test_now();
	int n = fetcher_poll(v.f, 30000); /* nothing pending: only the wakeup ends it */
	double took = test_now() - t0;
	pthread_join(t, NULL);
	assert_int_equal(n, 0);
	if (took > 20)
		fail_msg("fetcher_poll ignored fetcher_wakeup (%.1f s)", took);
	/* a wakeup before the poll makes the next poll return at once */
	fetcher_wakeup(v.f);
	t0 = test_now();
	fetcher_poll(v.f, 30000);
	assert_true(test_now() - t0 < 20);
	/* poll(0) never waits; poll with a timeout returns after it */
	fetcher_poll(v.f, 0);
	t0 = test_now();
	fetcher_poll(v.f, 50);
	assert_true(test_now() - t0 >= 0.045);
	env_cleanup(&v);
}

static void test_many_parallel(void **state)
{
	(void)state;
	enum { N = 600 };
	struct env v;
	struct fetch_options o = {.max_per_host = 16, .max_total = 32};
	env_init(&v, "127.0.0.1", &o);
	reset_stats();
	struct got *g = calloc(N, sizeof *g);
	struct got **gs = calloc(N, sizeof *gs);
	for (int i = 0; i < N; i++) {
		char path[64];
		snprintf(path, sizeof path, "/page/%d", i % 1000);
		char *u = url_of(base, path);
		struct fetch_request rq = {.url = u};
		fetcher_submit(v.f, &rq, on_done, &g[i]);
		gs[i] = &g[i];
		free(u);
	}
	wait_all(v.f, gs, N, 120);
	for (int i = 0; i < N; i++) {
		if (g[i].code != ERR_OK)
			fail_msg("fetch %d: %s", i, g[i].msg);
		char want[64];
		snprintf(want, sizeof want, "<h1>Page %d</h1>", i % 1000);
		assert_contains(g[i].body, want);
		assert_true(g[i].body_len > 9000 && g[i].body_len <= 10240);
		got_free(&g[i]);
	}
	json_t *j = stats();
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "routes"), "page")),
			 N);
	long conns = (long)json_integer_value(json_object_get(j, "connections"));
	if (conns > 64)
		fail_msg("%ld connections for %d requests: keep-alive connections are not reused",
			 conns, N);
	json_decref(j);
	struct fetch_stats st;
	fetcher_stats(v.f, &st);
	assert_int_equal(st.completed, N);
	assert_int_equal(st.failed, 0);
	free(g);
	free(gs);
	env_cleanup(&v);
}

static void test_options(void **state)
{
	(void)state;
	struct fetcher *f = NULL;
	struct err e = {0};
	struct fetch_options bad = {.max_total = -1};
	assert_int_equal(fetcher_new(&bad, &f, &e), ERR_INVALID);
	assert_null(f);
	struct fetch_options badproxy = {.proxy = "http://[bad"};
	assert_int_equal(fetcher_new(&badproxy, &f, &e), ERR_INVALID);
	assert_contains(e.msg, "proxy");
	struct fetch_options ua = {.user_agent = "ambient-test/1 (+https://example.org/bot)"};
	assert_int_equal(fetcher_new(&ua, &f, &e), ERR_OK);
	assert_string_equal(fetcher_user_agent(f), "ambient-test/1 (+https://example.org/bot)");
	fetcher_free(f);
	assert_int_equal(fetcher_new(NULL, &f, &e), ERR_OK);
	assert_contains(fetcher_user_agent(f), "ambient/" AMBIENT_VERSION " (");
	fetcher_free(f);
	fetcher_free(NULL);
	assert_string_equal(fetch_failure_name(FETCH_FAIL_BLOCKED), "blocked");
	assert_string_equal(fetch_failure_name(FETCH_OK), "ok");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: fetch_test PATH/TO/fixture_web\n");
		return 2;
	}
	fixture_bin = argv[1];
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_get_200),
		cmocka_unit_test(test_conditional_get),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_broken_responses),
		cmocka_unit_test(test_retries),
		cmocka_unit_test(test_redirects),
		cmocka_unit_test(test_ssrf),
		cmocka_unit_test(test_env_proxy_ignored),
		cmocka_unit_test(test_concurrency_limits),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_wakeup),
		cmocka_unit_test(test_many_parallel),
	};
	int rc = cmocka_run_group_tests(tests, start_fixture, stop_fixture);
	curl_global_cleanup();
	return rc;
}
