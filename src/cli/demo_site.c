/*
 * demo_site.c - the local news site of `ambient demo` (see demo_site.h).
 *
 * The content is a table of stories, each published at a stage; a page
 * shows the stories of the stages published so far, newest first.  Stage
 * 0 has no word the seed's web monitor looks for ("AI" is not in "email":
 * keywords match whole words), so its first check is a quiet baseline.
 */
#define _GNU_SOURCE
#include "cli/demo_site.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/seed_tasks.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "transport/http_server.h"

#define PAGE_MAX (256 * 1024)
#define PRICE_PATH "/api/v3/simple/price"
#define USD_PER_EUR 1.08 /* the price API also answers in euros */

enum source { TECHCRUNCH, HACKER_NEWS };

struct story {
	int stage;
	enum source where;
	const char *slug;
	const char *title;
	const char *summary;
	const char *category; /* RSS <category> */
};

/* Oldest first.  Titles name their subject in words the digest's
 * "technology" and "business" categories know. */
static const struct story stories[] = {
	{0, TECHCRUNCH, "chip-earnings", "Chipmaker shares hold steady ahead of quarterly earnings",
	 "Investors expect record data center revenue as orders for server chips keep growing.",
	 "Business"},
	{0, TECHCRUNCH, "email-app", "New email app promises a calmer inbox for small teams",
	 "The startup's app sorts newsletters away from work mail and sends one summary a day.",
	 "Apps"},
	{0, TECHCRUNCH, "ev-chargers",
	 "Startup raises $20 million to build faster electric vehicle chargers",
	 "The company says its chargers fill a battery to 80 percent in twelve minutes.",
	 "Transportation"},
	{0, HACKER_NEWS, "event-store", "Show HN: An open source event store written in C", NULL,
	 NULL},
	{0, HACKER_NEWS, "sqlite-btrees",
	 "Why SQLite uses B-trees: notes from a database developer", NULL, NULL},
	{0, HACKER_NEWS, "linux-scheduler",
	 "The Linux kernel's new scheduler, explained with diagrams", NULL, NULL},
	{1, TECHCRUNCH, "ai-xrays", "Open-source AI model helps doctors read chest X-rays",
	 "Hospitals in three countries tested the model; it flagged 94 percent of the cases "
	 "radiologists found.",
	 "AI"},
	{1, HACKER_NEWS, "ai-papers", "Ask HN: How do you keep up with AI research papers?", NULL,
	 NULL},
	{2, TECHCRUNCH, "ml-cooling", "Machine learning cuts data center cooling bills by a third",
	 "A startup's software learns how each server room heats up and runs the fans ahead of "
	 "time.",
	 "AI"},
	{2, HACKER_NEWS, "rust-kernel", "Rust in the Linux kernel: what the developers learned",
	 NULL, NULL},
};
#define NSTORIES (sizeof(stories) / sizeof(stories[0]))

static const struct demo_site_stage stage_table[DEMO_SITE_STAGES] = {
	{NULL, NULL, 48250.00},
	{"Open-source AI model helps doctors read chest X-rays",
	 "Ask HN: How do you keep up with AI research papers?", 51340.50},
	{"Machine learning cuts data center cooling bills by a third",
	 "Rust in the Linux kernel: what the developers learned", 52075.25},
};

struct demo_site {
	struct http_server *http;
	struct http_route *routes; /* borrowed by http */
	char url[64];
	pthread_mutex_t lock;
	int stage;
	int64_t published_us[DEMO_SITE_STAGES];
	long hits[4]; /* news, feed, hn, price */
};

static const char *const hit_paths[] = {SEED_SITE_NEWS_PATH, SEED_SITE_FEED_PATH, SEED_SITE_HN_PATH,
					PRICE_PATH};

const struct demo_site_stage *demo_site_stage(int n)
{
	return n >= 0 && n < DEMO_SITE_STAGES ? &stage_table[n] : NULL;
}

/* ---- helpers ---------------------------------------------------------------------------- */

/* The stage and its publication times, read under the lock. */
static int snapshot(struct demo_site *s, int64_t published[DEMO_SITE_STAGES], const char *path)
{
	pthread_mutex_lock(&s->lock);
	int stage = s->stage;
	memcpy(published, s->published_us, sizeof(s->published_us));
	for (size_t i = 0; path && i < sizeof(hit_paths) / sizeof(hit_paths[0]); i++)
		if (strcmp(path, hit_paths[i]) == 0)
			s->hits[i]++;
	pthread_mutex_unlock(&s->lock);
	return stage;
}

/* When story i was published: its stage's time; the stories of stage 0
 * were published earlier, an hour or so apart. */
static int64_t story_time(size_t i, const int64_t published[DEMO_SITE_STAGES])
{
	int64_t t = published[stories[i].stage];
	if (stories[i].stage == 0)
		t -= (int64_t)(NSTORIES - i) * 53 * 60 * 1000000;
	return t;
}

/* Text escaped for HTML and XML. */
static void put_escaped(struct buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			buf_puts(b, "&amp;");
			break;
		case '<':
			buf_puts(b, "&lt;");
			break;
		case '>':
			buf_puts(b, "&gt;");
			break;
		case '"':
			buf_puts(b, "&quot;");
			break;
		default:
			buf_append(b, s, 1);
		}
	}
}

static void local_hm(int64_t us, char out[16])
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(out, 16, "%H:%M", &tm);
}

static void answer(struct http_response *res, const char *type, struct buf *b)
{
	res->status = 200;
	res->content_type = type;
	res->body_len = b->len;
	res->body = buf_steal(b);
	http_response_header(res, "Cache-Control", "no-cache");
}

/* ---- pages -------------------------------------------------------------------------------- */

static void route_index(void *data, const struct http_request *req, struct http_response *res)
{
	(void)req;
	(void)data;
	struct buf b;
	buf_init(&b, PAGE_MAX);
	buf_puts(&b, "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
		     "<title>ambient demo site</title></head><body>\n"
		     "<h1>ambient demo site</h1>\n<p>Local stand-ins for the sites of the seed's "
		     "tasks; their content changes during the demo.</p>\n<ul>\n");
	buf_printf(&b, "<li><a href=\"%s\">TechCrunch front page</a></li>\n", SEED_SITE_NEWS_PATH);
	buf_printf(&b, "<li><a href=\"%s\">TechCrunch RSS feed</a></li>\n", SEED_SITE_FEED_PATH);
	buf_printf(&b, "<li><a href=\"%s\">Hacker News</a></li>\n", SEED_SITE_HN_PATH);
	buf_printf(&b,
		   "<li><a href=\"%s?ids=bitcoin&amp;vs_currencies=usd\">bitcoin price "
		   "(CoinGecko API)</a></li>\n",
		   PRICE_PATH);
	buf_puts(&b, "</ul>\n</body></html>\n");
	answer(res, "text/html; charset=utf-8", &b);
}

static void route_news(void *data, const struct http_request *req, struct http_response *res)
{
	struct demo_site *s = data;
	int64_t published[DEMO_SITE_STAGES];
	int stage = snapshot(s, published, req->path);
	struct buf b;
	buf_init(&b, PAGE_MAX);
	buf_puts(&b, "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
		     "<title>TechCrunch (ambient demo)</title>\n");
	buf_printf(&b,
		   "<link rel=\"alternate\" type=\"application/rss+xml\" title=\"TechCrunch\" "
		   "href=\"%s\">\n</head><body>\n<nav><a href=\"/\">Home</a></nav>\n"
		   "<main>\n<h1>TechCrunch</h1>\n",
		   SEED_SITE_FEED_PATH);
	for (size_t i = NSTORIES; i-- > 0;) {
		if (stories[i].where != TECHCRUNCH || stories[i].stage > stage)
			continue;
		char hm[16];
		local_hm(story_time(i, published), hm);
		buf_printf(&b, "<article>\n<h2><a href=\"%s/%s\">", SEED_SITE_NEWS_PATH,
			   stories[i].slug);
		put_escaped(&b, stories[i].title);
		buf_puts(&b, "</a></h2>\n<p>");
		put_escaped(&b, stories[i].summary);
		buf_printf(&b, "</p>\n<p><small>Published %s</small></p>\n</article>\n", hm);
	}
	buf_puts(&b, "</main>\n</body></html>\n");
	answer(res, "text/html; charset=utf-8", &b);
}

static void route_feed(void *data, const struct http_request *req, struct http_response *res)
{
	struct demo_site *s = data;
	int64_t published[DEMO_SITE_STAGES];
	int stage = snapshot(s, published, req->path);
	struct buf b;
	buf_init(&b, PAGE_MAX);
	buf_printf(&b,
		   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\">\n<channel>\n"
		   "<title>TechCrunch</title>\n<link>%s%s</link>\n"
		   "<description>Startup and technology news (ambient demo)</description>\n",
		   s->url, SEED_SITE_NEWS_PATH);
	for (size_t i = NSTORIES; i-- > 0;) {
		if (stories[i].where != TECHCRUNCH || stories[i].stage > stage)
			continue;
		char date[64];
		time_t t = (time_t)(story_time(i, published) / 1000000);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
		buf_puts(&b, "<item>\n<title>");
		put_escaped(&b, stories[i].title);
		buf_printf(&b, "</title>\n<link>%s%s/%s</link>\n<guid>%s%s/%s</guid>\n", s->url,
			   SEED_SITE_NEWS_PATH, stories[i].slug, s->url, SEED_SITE_NEWS_PATH,
			   stories[i].slug);
		buf_printf(&b, "<pubDate>%s</pubDate>\n<category>", date);
		put_escaped(&b, stories[i].category);
		buf_puts(&b, "</category>\n<description>");
		put_escaped(&b, stories[i].summary);
		buf_puts(&b, "</description>\n</item>\n");
	}
	buf_puts(&b, "</channel>\n</rss>\n");
	answer(res, "application/rss+xml; charset=utf-8", &b);
}

static void route_hn(void *data, const struct http_request *req, struct http_response *res)
{
	struct demo_site *s = data;
	int64_t published[DEMO_SITE_STAGES];
	int stage = snapshot(s, published, req->path);
	struct buf b;
	buf_init(&b, PAGE_MAX);
	buf_puts(&b, "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
		     "<title>Hacker News (ambient demo)</title></head><body>\n"
		     "<nav><b>Hacker News</b> | <a href=\"/\">new</a></nav>\n<table>\n");
	int rank = 1;
	for (size_t i = NSTORIES; i-- > 0;) {
		if (stories[i].where != HACKER_NEWS || stories[i].stage > stage)
			continue;
		buf_printf(&b,
			   "<tr class=\"athing\"><td class=\"rank\">%d.</td><td class=\"title\">"
			   "<span class=\"titleline\"><a href=\"%s/item/%s\">",
			   rank++, SEED_SITE_HN_PATH, stories[i].slug);
		put_escaped(&b, stories[i].title);
		buf_puts(&b, "</a></span></td></tr>\n");
	}
	buf_puts(&b, "</table>\n</body></html>\n");
	answer(res, "text/html; charset=utf-8", &b);
}

/* CoinGecko: ids and vs_currencies are comma-separated; unknown ids and
 * currencies are left out of the answer (so {} for an unknown coin). */
static void route_price(void *data, const struct http_request *req, struct http_response *res)
{
	struct demo_site *s = data;
	const char *ids = http_request_arg(req, "ids");
	const char *vs = http_request_arg(req, "vs_currencies");
	if (!ids || !*ids || !vs || !*vs) {
		http_response_error(res, 400, "invalid_request",
				    "ids and vs_currencies are required, e.g. "
				    "?ids=bitcoin&vs_currencies=usd");
		return;
	}
	int64_t published[DEMO_SITE_STAGES];
	int stage = snapshot(s, published, req->path);
	double usd = stage_table[stage].price;
	json_t *out = json_object();
	char *list = xstrdup(ids), *save = NULL;
	for (char *id = strtok_r(list, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
		if (strcmp(id, "bitcoin") != 0)
			continue;
		json_t *prices = json_object();
		char *cur = xstrdup(vs), *save2 = NULL;
		for (char *c = strtok_r(cur, ",", &save2); c; c = strtok_r(NULL, ",", &save2)) {
			if (strcmp(c, "usd") == 0)
				json_object_set_new(prices, "usd", json_real(usd));
			else if (strcmp(c, "eur") == 0)
				json_object_set_new(prices, "eur", json_real(usd / USD_PER_EUR));
		}
		free(cur);
		json_object_set_new(out, "bitcoin", prices);
	}
	free(list);
	http_response_json(res, 200, json_to_text(out));
	json_decref(out);
}

/* ---- life cycle ----------------------------------------------------------------------------- */

int demo_site_start(int port, struct demo_site **out, struct err *e)
{
	*out = NULL;
	struct demo_site *s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->published_us[0] = clock_wall_us(NULL);
	struct http_route routes[] = {
		{"GET", "/", route_index, s},
		{"GET", SEED_SITE_NEWS_PATH, route_news, s},
		{"GET", SEED_SITE_FEED_PATH, route_feed, s},
		{"GET", SEED_SITE_HN_PATH, route_hn, s},
		{"GET", PRICE_PATH, route_price, s},
	};
	/* The server borrows the routes: keep them with the site. */
	struct http_route *kept = xmalloc(sizeof(routes));
	memcpy(kept, routes, sizeof(routes));
	struct http_server_options o = {
		.host = "127.0.0.1",
		.port = port,
		.routes = kept,
		.nroutes = sizeof(routes) / sizeof(routes[0]),
	};
	int rc = http_server_start(NULL, &o, &s->http, e);
	if (rc != ERR_OK) {
		free(kept);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return rc;
	}
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", http_server_port(s->http));
	s->routes = kept;
	*out = s;
	return ERR_OK;
}

const char *demo_site_url(const struct demo_site *s)
{
	return s->url;
}

void demo_site_advance(struct demo_site *s, int n, int64_t at_us)
{
	if (n >= DEMO_SITE_STAGES)
		n = DEMO_SITE_STAGES - 1;
	int64_t now = at_us ? at_us : clock_wall_us(NULL);
	pthread_mutex_lock(&s->lock);
	for (int i = s->stage + 1; i <= n; i++)
		s->published_us[i] = now;
	if (n > s->stage)
		s->stage = n;
	pthread_mutex_unlock(&s->lock);
}

double demo_site_price(struct demo_site *s)
{
	pthread_mutex_lock(&s->lock);
	double p = stage_table[s->stage].price;
	pthread_mutex_unlock(&s->lock);
	return p;
}

long demo_site_hits(struct demo_site *s, const char *path)
{
	long n = 0;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < sizeof(hit_paths) / sizeof(hit_paths[0]); i++)
		if (strcmp(path, hit_paths[i]) == 0)
			n = s->hits[i];
	pthread_mutex_unlock(&s->lock);
	return n;
}

void demo_site_free(struct demo_site *s)
{
	if (!s)
		return;
	http_server_free(s->http);
	free(s->routes);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
