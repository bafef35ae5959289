/* test_web_api.c - the task dashboard's JSON API (app/web_api) and the
 * embedded pages (app/web_assets): the pure checks (same origin, JSON
 * content type, task paths), the asset table, and the routes end to end on
 * an in-process HTTP server on 127.0.0.1:0 with libcurl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "../test_util.h"
#include "app/tasks.h"
#include "cli/web_api.h"
#include "app/web_assets.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "transport/http_server.h"

/* ---- pure parts ---- */

static void test_same_origin(void **state)
{
	(void)state;
	assert_true(web_api_same_origin(NULL, "127.0.0.1:8001"));
	assert_true(web_api_same_origin("http://127.0.0.1:8001", "127.0.0.1:8001"));
	assert_true(web_api_same_origin("https://Ambient.example", "ambient.example"));
	assert_false(web_api_same_origin("http://evil.example", "127.0.0.1:8001"));
	assert_false(web_api_same_origin("http://127.0.0.1:9999", "127.0.0.1:8001"));
	assert_false(web_api_same_origin("null", "127.0.0.1:8001"));
	assert_false(web_api_same_origin("http://127.0.0.1:8001", NULL));
	assert_false(web_api_same_origin("ftp://127.0.0.1:8001", "127.0.0.1:8001"));
}

static void test_is_json(void **state)
{
	(void)state;
	assert_true(web_api_is_json("application/json"));
	assert_true(web_api_is_json("Application/JSON; charset=utf-8"));
	assert_false(web_api_is_json(NULL));
	assert_false(web_api_is_json("text/plain"));
	assert_false(web_api_is_json("application/x-www-form-urlencoded"));
	assert_false(web_api_is_json("application/jsonp"));
}

static void test_parse_path(void **state)
{
	(void)state;
	char id[64];
	assert_int_equal(web_api_parse_path("/api/tasks/abc-1_2", id, sizeof(id)), WEB_API_TASK);
	assert_string_equal(id, "abc-1_2");
	assert_int_equal(web_api_parse_path("/api/tasks/x/events", id, sizeof(id)), WEB_API_EVENTS);
	assert_int_equal(web_api_parse_path("/api/tasks/x/pause", id, sizeof(id)), WEB_API_PAUSE);
	assert_int_equal(web_api_parse_path("/api/tasks/x/resume", id, sizeof(id)), WEB_API_RESUME);
	assert_int_equal(web_api_parse_path("/api/tasks/x/run", id, sizeof(id)), WEB_API_RUN);
	assert_int_equal(web_api_parse_path("/api/tasks/", id, sizeof(id)), WEB_API_NONE);
	assert_int_equal(web_api_parse_path("/api/tasks/x/explode", id, sizeof(id)), WEB_API_NONE);
	assert_int_equal(web_api_parse_path("/api/tasks/../etc", id, sizeof(id)), WEB_API_NONE);
	assert_int_equal(web_api_parse_path("/api/tasks/a%20b", id, sizeof(id)), WEB_API_NONE);
	char longid[100];
	memset(longid, 'a', 59);
	longid[59] = 0;
	char path[200];
	snprintf(path, sizeof(path), "/api/tasks/%s", longid);
	assert_int_equal(web_api_parse_path(path, id, sizeof(id)), WEB_API_NONE);
	assert_int_equal(web_api_parse_path(path + 1, id, sizeof(id)), WEB_API_NONE);
	assert_int_equal(web_api_parse_path("/api/tasks/x", id, 10), WEB_API_NONE);
}

/* ---- embedded files ---- */

static void test_assets(void **state)
{
	(void)state;
	static const struct {
		const char *name, *type;
	} want[] = {
		{"tasks.html", "text/html; charset=utf-8"},
		{"feedback.html", "text/html; charset=utf-8"},
		{"tasks.js", "text/javascript; charset=utf-8"},
		{"feedback.js", "text/javascript; charset=utf-8"},
		{"dashboard.css", "text/css; charset=utf-8"},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *type = NULL;
		const unsigned char *data = NULL;
		size_t len = 0;
		assert_true(web_asset_find(want[i].name, &type, &data, &len));
		assert_string_equal(type, want[i].type);
		assert_true(len > 100);
		assert_int_equal(data[len], 0); /* NUL after the bytes */
		assert_int_equal(strlen((const char *)data), len);
	}
	assert_false(web_asset_find("nope.html", NULL, NULL, NULL));
	assert_false(web_asset_find("", NULL, NULL, NULL));
	assert_false(web_asset_find(NULL, NULL, NULL, NULL));
	assert_false(web_asset_find("../CMakeLists.txt", NULL, NULL, NULL));
	assert_string_equal(web_asset_content_type("x.bin"), "application/octet-stream");
	assert_string_equal(web_asset_content_type("X.PNG"), "image/png");

	/* Every /assets/NAME a page refers to is embedded, and no page has an
	 * inline script or style (the CSP forbids them). */
	size_t n = 0;
	const struct web_asset *all = web_asset_list(&n);
	assert_true(n >= 5);
	for (size_t i = 0; i < n; i++) {
		if (!strstr(all[i].name, ".html"))
			continue;
		const char *text = (const char *)all[i].data;
		assert_null(strstr(text, "<script>"));
		assert_null(strstr(text, "<style"));
		assert_null(strstr(text, " style="));
		assert_null(strstr(text, " onclick="));
		assert_null(strstr(text, "src=\"http"));
		assert_null(strstr(text, "href=\"http"));
		assert_null(strstr(text, "href=\"//"));
		for (const char *p = strstr(text, "/assets/"); p; p = strstr(p + 1, "/assets/")) {
			char name[64];
			size_t k = strcspn(p + 8, "\"' >");
			assert_true(k > 0 && k < sizeof(name));
			memcpy(name, p + 8, k);
			name[k] = 0;
			if (!web_asset_find(name, NULL, NULL, NULL))
				fail_msg("%s refers to /assets/%s, which is not embedded",
					 all[i].name, name);
		}
	}
}

/* ---- the routes on a real server ---- */

struct fx {
	char *dir;
	struct store *s;
	struct web_api *api;
	struct http_server *h;
	char base[64];
};

static int setup_fx(struct fx *f, bool require_auth)
{
	struct err e = {0};
	f->dir = test_tmpdir("webapi");
	char *url = xasprintf("sqlite:%s/a.db", f->dir);
	int rc = app_store_open(url, false, &f->s, &e);
	free(url);
	if (rc) {
		fprintf(stderr, "%s\n", err_msg(&e));
		return -1;
	}
	struct web_api_options wo = {.store = f->s, .require_auth = require_auth};
	f->api = web_api_new(&wo);
	static struct http_route routes[WEB_API_MAX_ROUTES];
	size_t n = web_api_routes(f->api, routes, WEB_API_MAX_ROUTES);
	struct http_server_options ho = {.host = "127.0.0.1", .routes = routes, .nroutes = n};
	if (http_server_start(NULL, &ho, &f->h, &e)) {
		fprintf(stderr, "%s\n", err_msg(&e));
		return -1;
	}
	snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", http_server_port(f->h));
	return 0;
}

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	*state = f;
	return setup_fx(f, false);
}

static int setup_auth(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	*state = f;
	return setup_fx(f, true);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	http_server_free(f->h);
	web_api_free(f->api);
	store_close(f->s);
	test_rmdir(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
	buf_append(ud, p, size * n);
	return size * n;
}

/* One request; returns the status and sets *out to the parsed JSON body
 * (NULL when not JSON).  headers: NULL-terminated extra header lines. */
static long request(struct fx *f, const char *method, const char *path, const char *body,
		    const char *const *headers, json_t **out, char *ctype, size_t ctype_size)
{
	CURL *c = curl_easy_init();
	struct buf b;
	buf_init(&b, 1 << 22);
	char *url = xasprintf("%s%s", f->base, path);
	struct curl_slist *hl = NULL;
	for (const char *const *h = headers; h && *h; h++)
		hl = curl_slist_append(hl, *h);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (ctype) {
		char *ct = NULL;
		curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
		snprintf(ctype, ctype_size, "%s", ct ? ct : "");
	}
	if (out)
		*out = b.len ? json_parse(buf_str(&b), b.len, NULL) : NULL;
	buf_cleanup(&b);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	free(url);
	return status;
}

static const char *const json_hdr[] = {"Content-Type: application/json", NULL};

static void test_page_and_assets(void **state)
{
	struct fx *f = *state;
	char ct[128];
	assert_int_equal(request(f, "GET", "/", NULL, NULL, NULL, ct, sizeof(ct)), 200);
	assert_string_equal(ct, "text/html; charset=utf-8");
	assert_int_equal(request(f, "GET", "/assets/tasks.js", NULL, NULL, NULL, ct, sizeof(ct)),
			 200);
	assert_string_equal(ct, "text/javascript; charset=utf-8");
	assert_int_equal(request(f, "GET", "/assets/nope.js", NULL, NULL, NULL, NULL, 0), 404);
	assert_int_equal(request(f, "GET", "/assets/../CMakeLists.txt", NULL, NULL, NULL, NULL, 0),
			 404);
}

static void test_task_lifecycle(void **state)
{
	struct fx *f = *state;
	json_t *j = NULL;
	assert_int_equal(request(f, "GET", "/api/tasks", NULL, NULL, &j, NULL, 0), 200);
	assert_int_equal(json_array_size(json_object_get(j, "tasks")), 0);
	json_decref(j);

	/* Create: the arguments of create_background_task. */
	const char *create = "{\"task_type\": \"schedule\", \"description\": \"stand-up\", "
			     "\"config\": {\"type\": \"daily\", \"hour\": 9}}";
	assert_int_equal(request(f, "POST", "/api/tasks", create, json_hdr, &j, NULL, 0), 201);
	json_t *task = json_object_get(j, "task");
	char id[64];
	snprintf(id, sizeof(id), "%s", json_get_str(task, "task_id"));
	assert_string_equal(json_get_str(task, "status"), "active");
	assert_int_equal(json_get_int(task, "events", 0), 1);
	assert_non_null(json_get_str(task, "next_run"));
	json_decref(j);

	char path[128];
	snprintf(path, sizeof(path), "/api/tasks/%s/pause", id);
	assert_int_equal(
		request(f, "POST", path, "{\"reason\": \"holiday\"}", json_hdr, &j, NULL, 0), 200);
	assert_true(json_is_true(json_object_get(j, "changed")));
	assert_string_equal(json_get_str(json_object_get(j, "task"), "status"), "paused");
	json_decref(j);
	/* Pausing again changes nothing; running a paused task is a conflict. */
	assert_int_equal(request(f, "POST", path, NULL, json_hdr, &j, NULL, 0), 200);
	assert_true(json_is_false(json_object_get(j, "changed")));
	json_decref(j);
	snprintf(path, sizeof(path), "/api/tasks/%s/run", id);
	assert_int_equal(request(f, "POST", path, NULL, json_hdr, &j, NULL, 0), 409);
	assert_string_equal(json_get_str(j, "error"), "conflict");
	json_decref(j);
	snprintf(path, sizeof(path), "/api/tasks/%s/resume", id);
	assert_int_equal(request(f, "POST", path, "{}", json_hdr, &j, NULL, 0), 200);
	json_decref(j);
	snprintf(path, sizeof(path), "/api/tasks/%s/run", id);
	assert_int_equal(request(f, "POST", path, "{\"reason\": \"now\"}", json_hdr, &j, NULL, 0),
			 202);
	assert_string_equal(json_get_str(j, "event_type"), "task_run_requested");
	json_decref(j);

	/* The timeline: newest first, paged. */
	snprintf(path, sizeof(path), "/api/tasks/%s/events?limit=2", id);
	assert_int_equal(request(f, "GET", path, NULL, NULL, &j, NULL, 0), 200);
	json_t *evs = json_object_get(j, "events");
	assert_int_equal(json_array_size(evs), 2);
	assert_string_equal(json_get_str(json_array_get(evs, 0), "type"), "task_run_requested");
	assert_string_equal(json_get_str(json_array_get(evs, 1), "type"), "task_resumed");
	long long before = json_get_int(j, "next_before", 0);
	assert_int_equal(before, 3);
	json_decref(j);
	snprintf(path, sizeof(path), "/api/tasks/%s/events?limit=10&before=%lld", id, before);
	assert_int_equal(request(f, "GET", path, NULL, NULL, &j, NULL, 0), 200);
	evs = json_object_get(j, "events");
	assert_int_equal(json_array_size(evs), 2);
	assert_string_equal(json_get_str(json_array_get(evs, 1), "type"), "task_created");
	assert_true(json_is_null(json_object_get(j, "next_before")));
	json_decref(j);

	snprintf(path, sizeof(path), "/api/tasks/%s", id);
	assert_int_equal(request(f, "DELETE", path, NULL, json_hdr, &j, NULL, 0), 200);
	assert_string_equal(json_get_str(json_object_get(j, "task"), "status"), "deleted");
	json_decref(j);
	assert_int_equal(request(f, "GET", "/api/tasks", NULL, NULL, &j, NULL, 0), 200);
	assert_int_equal(json_array_size(json_object_get(j, "tasks")), 0);
	json_decref(j);
}

static void test_errors(void **state)
{
	struct fx *f = *state;
	json_t *j = NULL;
	const char *create = "{\"task_type\": \"web_monitor\", \"description\": \"x\", "
			     "\"config\": {\"urls\": [\"ftp://a.example\"]}}";
	assert_int_equal(request(f, "POST", "/api/tasks", create, json_hdr, &j, NULL, 0), 400);
	assert_string_equal(json_get_str(j, "error"), "invalid");
	assert_non_null(strstr(json_get_str(j, "message"), "config.urls[0]"));
	json_decref(j);
	assert_int_equal(request(f, "POST", "/api/tasks", "{nope", json_hdr, &j, NULL, 0), 400);
	assert_string_equal(json_get_str(j, "error"), "invalid_json");
	json_decref(j);
	assert_int_equal(
		request(f, "POST", "/api/tasks", "{\"task_type\": 3}", json_hdr, &j, NULL, 0), 400);
	json_decref(j);
	/* CSRF: a form's content type, or another site's Origin. */
	static const char *const form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
	assert_int_equal(request(f, "POST", "/api/tasks", "a=b", form, &j, NULL, 0), 415);
	json_decref(j);
	static const char *const cross[] = {"Content-Type: application/json",
					    "Origin: http://localhost:1", NULL};
	assert_int_equal(request(f, "POST", "/api/tasks", create, cross, &j, NULL, 0), 403);
	assert_string_equal(json_get_str(j, "error"), "forbidden");
	json_decref(j);
	assert_int_equal(request(f, "GET", "/api/tasks/nope", NULL, NULL, &j, NULL, 0), 404);
	json_decref(j);
	assert_int_equal(request(f, "GET", "/api/tasks/nope/events", NULL, NULL, &j, NULL, 0), 404);
	json_decref(j);
	assert_int_equal(request(f, "POST", "/api/tasks/nope/pause", NULL, json_hdr, &j, NULL, 0),
			 404);
	json_decref(j);
	assert_int_equal(request(f, "POST", "/api/tasks/nope/explode", NULL, json_hdr, &j, NULL, 0),
			 404);
	json_decref(j);
	assert_int_equal(request(f, "GET", "/api/tasks?status=odd", NULL, NULL, &j, NULL, 0), 400);
	json_decref(j);
	assert_int_equal(request(f, "GET", "/api/events/stream?after=x", NULL, NULL, &j, NULL, 0),
			 400);
	json_decref(j);
}

/* Read an SSE stream until `want` appears (then hang up); returns what was
 * read (caller frees). */
struct sse_read {
	struct buf b;
	const char *want;
};

static size_t sse_collect(char *p, size_t size, size_t n, void *ud)
{
	struct sse_read *r = ud;
	buf_append(&r->b, p, size * n);
	return strstr(buf_str(&r->b), r->want) ? 0 : size * n; /* 0: hang up */
}

static char *read_stream(struct fx *f, const char *path, const char *last_id, const char *want)
{
	CURL *c = curl_easy_init();
	struct sse_read r = {.want = want};
	buf_init(&r.b, 1 << 22);
	char *url = xasprintf("%s%s", f->base, path);
	char hdr[64];
	struct curl_slist *hl = NULL;
	if (last_id) {
		snprintf(hdr, sizeof(hdr), "Last-Event-ID: %s", last_id);
		hl = curl_slist_append(hl, hdr);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	CURLcode rc = curl_easy_perform(c);
	assert_int_equal(rc, CURLE_WRITE_ERROR); /* we hung up: `want` came */
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	free(url);
	char *text = xstrdup(buf_str(&r.b));
	buf_cleanup(&r.b);
	return text;
}

static void test_stream(void **state)
{
	struct fx *f = *state;
	json_t *j = NULL;
	char ids[2][64];
	for (int i = 0; i < 2; i++) {
		assert_int_equal(request(f, "POST", "/api/tasks",
					 "{\"task_type\": \"schedule\", \"description\": \"s\", "
					 "\"config\": {\"type\": \"daily\"}}",
					 json_hdr, &j, NULL, 0),
				 201);
		snprintf(ids[i], sizeof(ids[i]), "%s",
			 json_get_str(json_object_get(j, "task"), "task_id"));
		json_decref(j);
	}
	/* From the start: both tasks' events, with their positions as ids. */
	char *text = read_stream(f, "/api/events/stream?after=0", NULL, "id: 2\n");
	assert_non_null(strstr(text, "retry: "));
	assert_non_null(strstr(text, "id: 1\ndata: {"));
	assert_non_null(strstr(text, "\"type\":\"task_created\""));
	assert_non_null(strstr(text, ids[0]));
	free(text);
	/* Resumed after position 1: the first event is not sent again. */
	text = read_stream(f, "/api/events/stream", "1", "id: 2\n");
	assert_null(strstr(text, "id: 1\n"));
	assert_non_null(strstr(text, ids[1]));
	free(text);
	/* One task's events only. */
	char path[200];
	snprintf(path, sizeof(path), "/api/events/stream?after=0&task_id=%s", ids[1]);
	text = read_stream(f, path, NULL, "id: 2\n");
	assert_null(strstr(text, "id: 1\n"));
	free(text);
}

static void test_auth(void **state)
{
	struct fx *f = *state;
	json_t *j = NULL;
	assert_int_equal(request(f, "GET", "/api/tasks", NULL, NULL, &j, NULL, 0), 401);
	assert_string_equal(json_get_str(j, "error"), "unauthorized");
	json_decref(j);
	/* The page itself needs no key (it asks for one). */
	assert_int_equal(request(f, "GET", "/", NULL, NULL, NULL, NULL, 0), 200);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_origin),
		cmocka_unit_test(test_is_json),
		cmocka_unit_test(test_parse_path),
		cmocka_unit_test(test_assets),
		cmocka_unit_test_setup_teardown(test_page_and_assets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_task_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth, setup_auth, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
