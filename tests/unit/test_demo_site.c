/* test_demo_site.c - the demo's news site and Twilio stand-in, over real HTTP. */
#include <curl/curl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/demo_sinks.h"
#include "cli/demo_site.h"
#include "cli/seed_tasks.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "domain/feed.h"
#include "domain/match.h"

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
	buf_append(ud, p, size * n);
	return size * n;
}

/* GET (body NULL) or POST a form; returns the status, *out the body (caller frees). */
static long http(const char *url, const char *form, const char *user, const char *pass, char **out)
{
	CURL *c = curl_easy_init();
	struct buf b;
	buf_init(&b, 1 << 20);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (form)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
	if (user) {
		curl_easy_setopt(c, CURLOPT_USERNAME, user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, pass);
	}
	long status = 0;
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	*out = xstrdup(buf_str(&b));
	buf_cleanup(&b);
	return status;
}

static char *get(struct demo_site *s, const char *path, long want)
{
	char *url = xasprintf("%s%s", demo_site_url(s), path), *body = NULL;
	assert_int_equal(http(url, NULL, NULL, NULL, &body), want);
	free(url);
	return body;
}

static double price(struct demo_site *s)
{
	char *body = get(s, "/api/v3/simple/price?ids=bitcoin&vs_currencies=usd", 200);
	json_t *j = json_loads(body, 0, NULL);
	assert_non_null(j);
	double v = json_number_value(json_object_get(json_object_get(j, "bitcoin"), "usd"));
	json_decref(j);
	free(body);
	return v;
}

/* Whether the monitor's keywords occur (as it matches them: whole words) in text. */
static bool has_keywords(const char *text)
{
	const char *kw[] = {"artificial intelligence", "AI", "machine learning"};
	struct match_set *set = match_set_new(kw, 3, 0);
	struct match_result r = {0};
	match_find(set, text, strlen(text), MATCH_ANY, 0, &r);
	bool found = r.matched;
	match_result_cleanup(&r);
	match_set_free(set);
	return found;
}

static void test_site_stages(void **state)
{
	(void)state;
	struct demo_site *s = NULL;
	struct err e = {0};
	assert_int_equal(demo_site_start(0, &s, &e), ERR_OK);
	assert_int_equal(strncmp(demo_site_url(s), "http://127.0.0.1:", 17), 0);

	/* Stage 0: news without the monitor's keywords, bitcoin below 50000. */
	char *page = get(s, SEED_SITE_NEWS_PATH, 200);
	assert_non_null(strstr(page, "email app"));
	assert_false(has_keywords(page));
	free(page);
	assert_true(price(s) < 50000);
	assert_int_equal(demo_site_hits(s, SEED_SITE_NEWS_PATH), 1);
	assert_int_equal(demo_site_hits(s, "/api/v3/simple/price"), 1);

	char *feed = get(s, SEED_SITE_FEED_PATH, 200);
	struct feed f = {0};
	struct feed_opts fo = {.url = demo_site_url(s)};
	assert_int_equal(feed_parse(feed, strlen(feed), &fo, &f, &e), ERR_OK);
	assert_int_equal(f.n_items, 3);
	feed_cleanup(&f);
	free(feed);

	char *hn = get(s, SEED_SITE_HN_PATH, 200);
	struct feed_page p = {0};
	feed_scan_html(hn, strlen(hn), &fo, &p);
	assert_int_equal(p.headlines.n_items, 3);
	feed_page_cleanup(&p);
	free(hn);

	/* CoinGecko's answers for other coins and bad queries. */
	char *body = get(s, "/api/v3/simple/price?ids=dogecoin&vs_currencies=usd", 200);
	assert_string_equal(body, "{}");
	free(body);
	free(get(s, "/api/v3/simple/price?ids=bitcoin", 400));

	/* Stage 1: an AI story and a price above the threshold. */
	demo_site_advance(s, 1, 0);
	page = get(s, SEED_SITE_NEWS_PATH, 200);
	assert_non_null(strstr(page, demo_site_stage(1)->news));
	assert_true(has_keywords(page));
	free(page);
	assert_true(price(s) > 50000);
	assert_true(demo_site_price(s) > 50000);

	/* Stages never go back; past the last one is the last one. */
	demo_site_advance(s, 0, 0);
	assert_true(price(s) > 50000);
	demo_site_advance(s, 99, 0);
	page = get(s, SEED_SITE_NEWS_PATH, 200);
	assert_non_null(strstr(page, demo_site_stage(DEMO_SITE_STAGES - 1)->news));
	free(page);
	assert_null(demo_site_stage(DEMO_SITE_STAGES));
	demo_site_free(s);
}

static void test_twilio_stand_in(void **state)
{
	(void)state;
	struct demo_sinks *k = NULL;
	struct err e = {0};
	const char *sid = "AC0123456789abcdef0123456789abcdef";
	assert_int_equal(demo_sinks_start(sid, "secret-token", 0, &k, &e), ERR_OK);
	char *url = xasprintf("%s/2010-04-01/Accounts/%s/Messages.json", demo_sinks_url(k), sid);
	char *body = NULL;

	/* Twilio's form, Basic auth: 201 and a Message resource. */
	assert_int_equal(http(url, "To=%2B15551234567&From=%2B15005550006&Body=Hello+AI%21", sid,
			      "secret-token", &body),
			 201);
	json_t *m = json_loads(body, 0, NULL);
	free(body);
	assert_non_null(m);
	assert_int_equal(strncmp(json_get_str(m, "sid"), "SM", 2), 0);
	assert_int_equal(strlen(json_get_str(m, "sid")), 34);
	assert_string_equal(json_get_str(m, "to"), "+15551234567");
	assert_string_equal(json_get_str(m, "body"), "Hello AI!");
	assert_string_equal(json_get_str(m, "status"), "queued");
	json_decref(m);

	/* Wrong token: 401 with Twilio's code; nothing kept. */
	assert_int_equal(http(url, "To=%2B1555&From=%2B1500&Body=x", sid, "wrong", &body), 401);
	m = json_loads(body, 0, NULL);
	free(body);
	assert_int_equal(json_get_int(m, "code", 0), 20003);
	json_decref(m);

	/* Missing fields: Twilio's 400s. */
	assert_int_equal(http(url, "From=%2B1500&Body=x", sid, "secret-token", &body), 400);
	assert_non_null(strstr(body, "21604"));
	free(body);
	assert_int_equal(http(url, "To=%2B1555&From=%2B1500", sid, "secret-token", &body), 400);
	assert_non_null(strstr(body, "21602"));
	free(body);

	/* What arrived: one message, also listed by GET as Twilio does. */
	size_t total = 0;
	json_t *list = demo_sinks_sms(k, 0, &total);
	assert_int_equal(total, 1);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	list = demo_sinks_sms(k, 1, &total);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(http(url, NULL, sid, "secret-token", &body), 200);
	m = json_loads(body, 0, NULL);
	free(body);
	assert_int_equal(json_array_size(json_object_get(m, "messages")), 1);
	json_decref(m);

	free(url);
	demo_sinks_free(k);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_site_stages),
		cmocka_unit_test(test_twilio_stand_in),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
