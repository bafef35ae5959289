/*
 * test_scrape.c - engine/scrape and the metadata grouping of domain/extract:
 * extract_meta_json (meta, OpenGraph, Twitter, article), the per-host
 * sliding-window rate limit on a fake clock, and scrape_page against an
 * in-process web server on 127.0.0.1 (the project's http_server with a few
 * routes): title, text, links, images, metadata, status, load time,
 * selectors, raw HTML, plain text, refusals (not a page, 404, the SSRF guard
 * for 127.0.0.1 and 169.254.169.254, bad URLs and selectors), the rate
 * limit reached, and render_javascript with headless Chromium: missing (a
 * clear error) and, when /usr/bin/chromium (or $CHROMIUM) exists, a page
 * whose text only JavaScript writes, with subresources on other host names
 * kept from loading.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>

#include "../test_util.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "domain/extract.h"
#include "engine/netguard.h"
#include "engine/scrape.h"
#include "transport/http_server.h"

static const char page_html[] =
	"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
	"<title>Fixture  News</title>"
	"<meta name=\"description\" content=\"All the fixture news\">"
	"<meta name=\"keywords\" content=\"fixtures, tests\">"
	"<meta name=\"author\" content=\"Ada\">"
	"<meta name=\"robots\" content=\"index, follow\">"
	"<meta name=\"viewport\" content=\"width=device-width\">"
	"<meta property=\"og:title\" content=\"Fixture News (OG)\">"
	"<meta property=\"og:type\" content=\"website\">"
	"<meta property=\"og:image\" content=\"/img/card.png\">"
	"<meta property=\"og:url\" content=\"/page\">"
	"<meta name=\"twitter:card\" content=\"summary_large_image\">"
	"<meta property=\"article:published_time\" content=\"2025-06-20T10:00:00Z\">"
	"<link rel=\"canonical\" href=\"/page\">"
	"<style>body{color:red}</style><script>var hidden = 1;</script></head>"
	"<body><nav><a href=\"/\">Home</a> <a href=\"https://example.org/about\">About</a></nav>"
	"<main><article class=\"story\"><h1>Headline one</h1><p>First story text.</p>"
	"<img src=\"/img/one.jpg\" alt=\"Picture one\"><a href=\"/story/1\">Read more</a>"
	"</article><article class=\"story\"><h1>Headline two</h1><p>Second story.</p></article>"
	"</main><footer><img src=\"data:image/gif;base64,R0lGOD\" data-src=\"/img/lazy.png\">"
	"<a href=\"mailto:x@example.org\">Mail</a></footer></body></html>";

static const char js_html[] =
	"<html><head><title>JS page</title></head><body><div id=\"x\">static text</div>"
	"<img src=\"http://localhost:%d/pixel?via=name\">"
	"<img src=\"http://127.0.0.2:%d/pixel?via=literal\">"
	"<script>document.getElementById('x').textContent = 'rendered by javascript';"
	"setTimeout(function () { var p = document.createElement('p'); p.id = 'late';"
	"p.textContent = 'late paragraph'; document.body.appendChild(p); }, 500);"
	"fetch('http://localhost:%d/pixel?via=fetch').catch(function () {});</script>"
	"</body></html>";

static atomic_int pixel_hits, page_hits;
static int port;

static void route_page(void *data, const struct http_request *req, struct http_response *res)
{
	(void)data;
	(void)req;
	atomic_fetch_add(&page_hits, 1);
	res->status = 200;
	res->content_type = "text/html; charset=utf-8";
	res->body = xstrdup(page_html);
	res->body_len = strlen(page_html);
}

static void route_js(void *data, const struct http_request *req, struct http_response *res)
{
	(void)data;
	(void)req;
	res->status = 200;
	res->content_type = "text/html; charset=utf-8";
	res->body = xasprintf(js_html, port, port, port);
	res->body_len = strlen(res->body);
}

static void route_plain(void *data, const struct http_request *req, struct http_response *res)
{
	(void)data;
	(void)req;
	res->status = 200;
	res->content_type = "text/plain; charset=utf-8";
	res->body = xstrdup("just text\nsecond line");
	res->body_len = strlen(res->body);
}

static void route_png(void *data, const struct http_request *req, struct http_response *res)
{
	(void)data;
	(void)req;
	res->status = 200;
	res->content_type = "image/png";
	res->body = xstrdup("\x89PNG....");
	res->body_len = 8;
}

static void route_pixel(void *data, const struct http_request *req, struct http_response *res)
{
	(void)data;
	(void)req;
	atomic_fetch_add(&pixel_hits, 1);
	res->status = 200;
	res->content_type = "image/gif";
	res->body = xstrdup("GIF89a");
	res->body_len = 6;
}

static void route_moved(void *data, const struct http_request *req, struct http_response *res)
{
	(void)data;
	(void)req;
	res->status = 302;
	res->content_type = "text/plain";
	res->body = xstrdup("moved");
	res->body_len = 5;
	res->headers[0].name = "Location";
	res->headers[0].value = "/page";
}

static const struct http_route routes[] = {
	{"GET", "/page", route_page, NULL},   {"GET", "/js", route_js, NULL},
	{"GET", "/plain", route_plain, NULL}, {"GET", "/img.png", route_png, NULL},
	{"GET", "/pixel", route_pixel, NULL}, {"GET", "/moved", route_moved, NULL},
};

struct fx {
	struct http_server *h;
	char base[64];
	struct netguard *guard; /* allows 127.0.0.1 */
	struct scraper *s;
	struct clock clock;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	struct http_server_options o = {.routes = routes,
					.nroutes = sizeof routes / sizeof routes[0]};
	struct err e = {0};

	if (http_server_start(NULL, &o, &f->h, &e)) {
		fprintf(stderr, "server: %s\n", err_msg(&e));
		return -1;
	}
	port = http_server_port(f->h);
	snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", port);
	if (netguard_new("127.0.0.1", &f->guard, &e))
		return -1;
	clock_fake_init(&f->clock, 1700000000LL * 1000000);
	struct scrape_options so = {.guard = f->guard, .clock = &f->clock, .timeout_ms = 20000};
	if (scraper_new(&so, &f->s, &e))
		return -1;
	atomic_store(&pixel_hits, 0);
	atomic_store(&page_hits, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	scraper_free(f->s);
	netguard_free(f->guard);
	http_server_free(f->h);
	free(f);
	return 0;
}

static json_t *scrape_ok(struct fx *f, const struct scrape_request *rq)
{
	struct err e = {0};
	json_t *d = NULL;

	if (scrape_page(f->s, rq, &d, &e))
		fail_msg("scrape %s failed: %s", rq->url, err_msg(&e));
	return d;
}

static char *url(struct fx *f, const char *path)
{
	return xasprintf("%s%s", f->base, path);
}

/* ---- extract_meta_json ------------------------------------------------------- */

static void test_meta_json(void **state)
{
	struct extract_opts o = {.url = "https://news.example/page",
				 .flags = EXTRACT_META | EXTRACT_LINKS | EXTRACT_IMAGES};
	struct extract_result r;
	struct err e = {0};
	json_t *m, *og;

	(void)state;
	assert_int_equal(extract_html(page_html, sizeof page_html - 1, &o, &r, &e), 0);
	m = extract_meta_json(&r);
	assert_string_equal(json_get_str(m, "title"), "Fixture News");
	assert_string_equal(json_get_str(m, "description"), "All the fixture news");
	assert_string_equal(json_get_str(m, "keywords"), "fixtures, tests");
	assert_string_equal(json_get_str(m, "author"), "Ada");
	assert_string_equal(json_get_str(m, "robots"), "index, follow");
	assert_string_equal(json_get_str(m, "canonical"), "https://news.example/page");
	assert_string_equal(json_get_str(m, "lang"), "en");
	assert_null(json_object_get(m, "viewport"));
	og = json_object_get(m, "opengraph");
	assert_string_equal(json_get_str(og, "title"), "Fixture News (OG)");
	assert_string_equal(json_get_str(og, "type"), "website");
	assert_string_equal(json_get_str(og, "image"), "https://news.example/img/card.png");
	assert_string_equal(json_get_str(og, "url"), "https://news.example/page");
	assert_string_equal(json_get_str(json_object_get(m, "twitter"), "card"),
			    "summary_large_image");
	assert_string_equal(json_get_str(json_object_get(m, "article"), "published_time"),
			    "2025-06-20T10:00:00Z");
	assert_null(json_object_get(m, "og:title"));
	json_decref(m);
	/* images: src, and data-src for lazy images with a data: placeholder */
	assert_int_equal(r.n_images, 2);
	assert_string_equal(r.images[0].url, "https://news.example/img/one.jpg");
	assert_string_equal(r.images[0].text, "Picture one");
	assert_string_equal(r.images[1].url, "https://news.example/img/lazy.png");
	extract_result_cleanup(&r);

	/* nothing known: an empty object */
	memset(&r, 0, sizeof r);
	m = extract_meta_json(&r);
	assert_int_equal(json_object_size(m), 0);
	json_decref(m);
	m = extract_meta_json(NULL);
	assert_int_equal(json_object_size(m), 0);
	json_decref(m);
}

/* ---- the rate limit ------------------------------------------------------------ */

static void test_rate_limit(void **state)
{
	struct fx *f = *state;
	int64_t wait = 0;

	for (int i = 0; i < SCRAPE_PER_MINUTE; i++) {
		assert_int_equal(scrape_rate_take(f->s, "example.com", &wait), 0);
		clock_fake_advance(&f->clock, 1000000); /* one a second */
	}
	/* 30 in the last 60 s: the next waits until the first leaves the window */
	assert_int_equal(scrape_rate_take(f->s, "EXAMPLE.com", &wait), ERR_BUSY);
	assert_int_equal(wait, 30000);
	/* other hosts are not affected */
	assert_int_equal(scrape_rate_take(f->s, "example.org", &wait), 0);
	clock_fake_advance(&f->clock, 30LL * 1000000);
	assert_int_equal(scrape_rate_take(f->s, "example.com", &wait), 0);
	assert_int_equal(scrape_rate_take(f->s, "example.com", &wait), ERR_BUSY);
	assert_int_equal(wait, 1000);
	/* a minute of quiet frees everything */
	clock_fake_advance(&f->clock, 61LL * 1000000);
	for (int i = 0; i < SCRAPE_PER_MINUTE; i++)
		assert_int_equal(scrape_rate_take(f->s, "example.com", NULL), 0);
	assert_int_equal(scrape_rate_take(f->s, "example.com", NULL), ERR_BUSY);

	/* through scrape_page: the limit is checked before fetching */
	struct scrape_options so = {.guard = f->guard, .clock = &f->clock, .per_minute = 2};
	struct scraper *s2 = NULL;
	struct err e = {0};
	char *u = url(f, "/page");
	struct scrape_request rq = {.url = u};
	json_t *d = NULL;

	assert_int_equal(scraper_new(&so, &s2, &e), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(scrape_page(s2, &rq, &d, &e), 0);
		json_decref(d);
	}
	assert_int_equal(scrape_page(s2, &rq, &d, &e), ERR_BUSY);
	assert_null(d);
	assert_non_null(strstr(err_msg(&e), "rate limit: at most 2 requests per minute to "
					    "127.0.0.1; the next one is possible in 60 s"));
	assert_int_equal(atomic_load(&page_hits), 2);
	scraper_free(s2);
	free(u);
}

/* ---- scrape_page ----------------------------------------------------------------- */

static void test_page(void **state)
{
	struct fx *f = *state;
	char *u = url(f, "/page"), *canon = url(f, "/page");
	struct scrape_request rq = {.url = u, .include_links = true, .include_images = true};
	json_t *d = scrape_ok(f, &rq), *links, *imgs, *m;
	char *one = url(f, "/img/one.jpg");

	assert_string_equal(json_get_str(d, "url"), u);
	assert_string_equal(json_get_str(d, "final_url"), u);
	assert_string_equal(json_get_str(d, "title"), "Fixture News");
	assert_int_equal(json_get_int(d, "status_code", 0), 200);
	assert_string_equal(json_get_str(d, "method"), "http");
	assert_true(json_is_real(json_object_get(d, "load_time")));
	assert_true(json_number_value(json_object_get(d, "load_time")) >= 0);
	assert_string_equal(json_get_str(d, "content_type"), "text/html; charset=utf-8");
	const char *text = json_get_str(d, "content");
	assert_non_null(strstr(text, "Headline one\nFirst story text."));
	assert_non_null(strstr(text, "Second story."));
	assert_null(strstr(text, "hidden")); /* scripts are not text */
	assert_null(strstr(text, "color:red"));
	assert_false(json_is_true(json_object_get(d, "content_truncated")));
	links = json_object_get(d, "links");
	assert_int_equal(json_array_size(links), 3); /* mailto: is not a web link */
	assert_string_equal(json_get_str(json_array_get(links, 1), "url"),
			    "https://example.org/about");
	assert_string_equal(json_get_str(json_array_get(links, 1), "text"), "About");
	imgs = json_object_get(d, "images");
	assert_int_equal(json_array_size(imgs), 2);
	assert_string_equal(json_get_str(json_array_get(imgs, 0), "url"), one);
	assert_string_equal(json_get_str(json_array_get(imgs, 0), "alt"), "Picture one");
	m = json_object_get(d, "metadata");
	assert_string_equal(json_get_str(m, "description"), "All the fixture news");
	assert_string_equal(json_get_str(json_object_get(m, "opengraph"), "title"),
			    "Fixture News (OG)");
	assert_string_equal(json_get_str(m, "canonical"), canon);
	assert_null(json_object_get(d, "html"));
	assert_null(json_object_get(d, "selector"));
	json_decref(d);

	/* without links and images; with the HTML; both cut */
	rq = (struct scrape_request){.url = u, .include_html = true, .max_content = 30};
	d = scrape_ok(f, &rq);
	assert_null(json_object_get(d, "links"));
	assert_null(json_object_get(d, "images"));
	assert_int_equal(strlen(json_get_str(d, "html")), 30);
	assert_true(json_is_true(json_object_get(d, "html_truncated")));
	assert_true(strlen(json_get_str(d, "content")) <= 30);
	assert_true(json_is_true(json_object_get(d, "content_truncated")));
	json_decref(d);

	free(one);
	free(canon);
	free(u);
}

static void test_selector_and_redirect(void **state)
{
	struct fx *f = *state;
	char *u = url(f, "/moved"), *target = url(f, "/page");
	struct scrape_request rq = {
		.url = u, .selector = "article.story h1", .include_links = true};
	json_t *d = scrape_ok(f, &rq);
	struct err e = {0};

	assert_string_equal(json_get_str(d, "final_url"), target);
	assert_string_equal(json_get_str(d, "content"), "Headline one\nHeadline two");
	assert_string_equal(json_get_str(d, "selector"), "article.story h1");
	assert_true(json_is_true(json_object_get(d, "selector_matched")));
	assert_int_equal(json_array_size(json_object_get(d, "links")), 0);
	json_decref(d);

	rq.selector = "//article[2]//p";
	d = scrape_ok(f, &rq);
	assert_string_equal(json_get_str(d, "content"), "Second story.");
	json_decref(d);

	rq.selector = "#nothing-here";
	d = scrape_ok(f, &rq);
	assert_string_equal(json_get_str(d, "content"), "");
	assert_false(json_is_true(json_object_get(d, "selector_matched")));
	json_decref(d);

	/* a bad selector is refused before anything is fetched */
	int before = atomic_load(&page_hits);
	rq.selector = "a:hover";
	assert_int_equal(scrape_page(f->s, &rq, &d, &e), ERR_INVALID);
	assert_non_null(strstr(err_msg(&e), ":hover"));
	assert_int_equal(atomic_load(&page_hits), before);
	free(target);
	free(u);
}

static void test_other_content(void **state)
{
	struct fx *f = *state;
	char *u = url(f, "/plain");
	struct scrape_request rq = {.url = u, .include_links = true};
	json_t *d = scrape_ok(f, &rq);
	struct err e = {0};

	assert_string_equal(json_get_str(d, "content"), "just text\nsecond line");
	assert_true(json_is_null(json_object_get(d, "title")));
	assert_int_equal(json_array_size(json_object_get(d, "links")), 0);
	json_decref(d);
	free(u);

	u = url(f, "/img.png");
	rq.url = u;
	assert_int_equal(scrape_page(f->s, &rq, &d, &e), ERR_INVALID);
	assert_non_null(strstr(err_msg(&e), "is not a web page but image/png"));
	free(u);

	u = url(f, "/missing");
	rq.url = u;
	assert_int_equal(scrape_page(f->s, &rq, &d, &e), ERR_NOT_FOUND);
	assert_non_null(strstr(err_msg(&e), "answered HTTP 404"));
	free(u);

	const char *bad[] = {"", "not a url", "ftp://example.com/x", "file:///etc/passwd",
			     "javascript:alert(1)"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rq.url = bad[i];
		assert_int_equal(scrape_page(f->s, &rq, &d, &e), ERR_INVALID);
		assert_null(d);
		if (strncmp(bad[i], "ftp:", 4) == 0)
			assert_non_null(strstr(err_msg(&e), "only http:// and https://"));
	}
}

static void test_ssrf(void **state)
{
	struct fx *f = *state;
	struct scraper *pub = NULL;
	struct scrape_options so = {.clock = &f->clock}; /* no guard given: public only */
	struct err e = {0};
	json_t *d = NULL;
	char *u = url(f, "/page"), lu[80];

	assert_int_equal(scraper_new(&so, &pub, &e), 0);
	struct scrape_request rq = {.url = u};
	assert_int_equal(scrape_page(pub, &rq, &d, &e), ERR_PERM);
	assert_null(d);
	assert_non_null(strstr(err_msg(&e), "127.0.0.1 (loopback)"));
	assert_non_null(strstr(err_msg(&e), "--allow-net"));

	/* a name that resolves to loopback: judged at connect time */
	snprintf(lu, sizeof lu, "http://localhost:%d/page", port);
	rq.url = lu;
	assert_int_equal(scrape_page(pub, &rq, &d, &e), ERR_PERM);

	/* cloud metadata: never reached */
	rq.url = "http://169.254.169.254/latest/meta-data/";
	assert_int_equal(scrape_page(pub, &rq, &d, &e), ERR_PERM);
	assert_non_null(strstr(err_msg(&e), "169.254.169.254"));
	/* also not with 127.0.0.1 allowed */
	assert_int_equal(scrape_page(f->s, &rq, &d, &e), ERR_PERM);
	assert_int_equal(atomic_load(&page_hits), 0);
	scraper_free(pub);
	free(u);
}

/* ---- render_javascript ---------------------------------------------------------------- */

static void test_chromium_missing(void **state)
{
	struct fx *f = *state;
	struct scraper *s = NULL;
	struct scrape_options so = {.guard = f->guard, .chromium = "/nonexistent/chromium"};
	struct err e = {0};
	json_t *d = NULL;
	char *u = url(f, "/js"), where[256];

	assert_int_equal(scraper_new(&so, &s, &e), 0);
	assert_false(scrape_find_chromium(s, where, sizeof where));
	struct scrape_request rq = {.url = u, .render_javascript = true};
	assert_int_equal(scrape_page(s, &rq, &d, &e), ERR_NOT_FOUND);
	assert_null(d);
	assert_non_null(strstr(err_msg(&e), "render_javascript needs headless Chromium, which is "
					    "not installed on this server (looked for "
					    "/nonexistent/chromium)"));
	assert_non_null(strstr(err_msg(&e), "render_javascript false"));
	/* without JavaScript it works */
	rq.render_javascript = false;
	assert_int_equal(scrape_page(s, &rq, &d, &e), 0);
	assert_string_equal(json_get_str(d, "content"), "static text");
	json_decref(d);
	scraper_free(s);
	free(u);
}

static void test_chromium(void **state)
{
	struct fx *f = *state;
	const char *bin = getenv("CHROMIUM") ? getenv("CHROMIUM") : "/usr/bin/chromium";
	struct scraper *s = NULL;
	struct scrape_options so = {.guard = f->guard, .chromium = bin, .timeout_ms = 60000};
	struct err e = {0};
	json_t *d = NULL;
	char *u = url(f, "/js");

	if (access(bin, X_OK) != 0) {
		fprintf(stderr,
			"SKIP render_javascript with Chromium: %s is not installed "
			"(apt install chromium, or set CHROMIUM)\n",
			bin);
		skip();
	}
	assert_int_equal(scraper_new(&so, &s, &e), 0);
	struct scrape_request rq = {.url = u, .render_javascript = true, .include_images = true};
	if (scrape_page(s, &rq, &d, &e))
		fail_msg("render_javascript failed: %s", err_msg(&e));
	assert_string_equal(json_get_str(d, "method"), "chromium");
	assert_int_equal(json_get_int(d, "status_code", 0), 200);
	assert_string_equal(json_get_str(d, "title"), "JS page");
	const char *text = json_get_str(d, "content");
	assert_non_null(strstr(text, "rendered by javascript"));
	assert_null(strstr(text, "static text"));
	/* timers ran (virtual time) */
	assert_non_null(strstr(text, "late paragraph"));
	assert_int_equal(json_array_size(json_object_get(d, "images")), 2);
	/* no subresource reached another host name or address */
	assert_int_equal(atomic_load(&pixel_hits), 0);
	json_decref(d);

	/* the same page without JavaScript */
	rq.render_javascript = false;
	d = scrape_ok(f, &rq);
	assert_string_equal(json_get_str(d, "method"), "http");
	assert_non_null(strstr(json_get_str(d, "content"), "static text"));
	json_decref(d);
	scraper_free(s);
	free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meta_json),
		cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_selector_and_redirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_content, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ssrf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chromium_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chromium, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
