/*
 * fixture_web.c - the web the engine tests and the scale benchmark fetch
 * from: news pages, RSS and Atom feeds, a CoinGecko-shaped price API, 10 KB
 * generated pages, and misbehaving endpoints, all on libmicrohttpd.
 *
 * Usage: fixture_web [--port N] [--bind ADDR] [--threads N] [--pages N]
 *                    [--page-size BYTES] [--gzip]
 * Listens on 127.0.0.1 and an ephemeral port by default and prints
 *     listening http://127.0.0.1:PORT
 * on stdout once it accepts connections.  SIGTERM or SIGINT stops it.
 *
 * Content (every GET answers with ETag and Last-Modified and honours
 * If-None-Match / If-Modified-Since with 304, unless noted):
 *   GET /news              HTML with <article> headlines, <link rel="alternate">
 *                          to the feeds, plus <script>/<style> noise
 *   GET /news/plain        the same without the feed links
 *   GET /rss.xml           RSS 2.0 of the same items
 *   GET /atom.xml          Atom 1.0 of the same items
 *   GET /articles/<i>      one article page
 *   GET /api/v3/simple/price?ids=bitcoin,ethereum&vs_currencies=usd,eur
 *                          {"bitcoin":{"usd":65000,...},...}; unknown ids are left out
 *   GET /v1/search?name=N[&count=C][&countryCode=CC][&language=en&format=json]
 *                          an Open-Meteo geocoding stand-in over a small gazetteer
 *                          (Berlin, Paris, London, Beijing, Portland, Tokyo, Springfield
 *                          and others named alike), Open-Meteo's JSON shape: {"results":
 *                          [...], "generationtime_ms"}; "results" is left out when
 *                          nothing matched.  Like the real API: fewer than 2 characters
 *                          match nothing, 2 only exact names, 3+ a name prefix
 *                          (case-insensitive); "Name, Qualifier" filters by country,
 *                          country code or region
 *   GET /v1/forecast?latitude=..&longitude=..&current=a,b,..[&timezone=auto]
 *                          an Open-Meteo forecast stand-in: {latitude, longitude,
 *                          timezone, current_units, current{time, interval, ...}} with
 *                          the requested current variables (values set by
 *                          /_control/weather); an unknown variable or a missing
 *                          coordinate gets 400 {"error": true, "reason": ...}
 *   GET /page/<n>          a deterministic ~10 KB HTML page (n < --pages), ETag
 *                          "p<n>-v<version>"; a version above 0 adds the line
 *                          <p class="update">Breaking update V for page N ...</p>
 *   any path put through the control endpoint (overrides the built-ins)
 * Misbehaviour:
 *   GET /slow?ms=N[&bytes=B]     answers after N ms (the connection is suspended,
 *                                no thread is held)
 *   GET /status/<code>[?retry_after=S]
 *   GET /flaky?key=K&fail=N[&status=503][&retry_after=S]
 *                                the first N requests with this key fail with status,
 *                                then 200
 *   GET /reset                   connection reset (RST) without a response
 *   GET /garbage[?mode=short]    Content-Length 1000 but 100 bytes, then close
 *   GET /garbage?mode=bytes      bytes that are not HTTP, then close
 *   GET /big?bytes=N[&chunked=1] N bytes of text (no ETag)
 *   GET /redirect?to=URL[&status=302]
 *   GET /redirect-chain/<n>[?to=URL]  n hops down to /redirect-chain/0 (200), or URL
 *   ANY /echo                    JSON of method, path, headers, query and body (no ETag)
 * Control (JSON answers):
 *   PUT    /_control/page/<path>   body = content, Content-Type = its type
 *                                  [?status=N&etag=0&last_modified=0]
 *   DELETE /_control/page/<path>
 *   POST   /_control/news          {"items":[{"title","link","summary","category",
 *                                  "published": ISO-8601 or epoch}]}  (replace)
 *   POST   /_control/news/add      one item, put first
 *   POST   /_control/price?value=N[&id=bitcoin][&currency=usd]
 *   POST   /_control/bump?percent=P | ?count=N | ?page=N   new versions of /page/<n>
 *   POST   /_control/gzip?on=1|0   gzip bodies for clients that accept it
 *   POST   /_control/weather       {"temperature_2m": 21.5, "weather_code": 2, ...}: the
 *                                  current values /v1/forecast answers (merged)
 *   GET    /_control/stats         request counters (see stats_json; routes.geocoding
 *                                  and routes.forecast count the Open-Meteo calls)
 *   POST   /_control/reset_stats
 *
 * Threads: libmicrohttpd's epoll thread pool (--threads, default 2) plus one
 * timer thread that resumes /slow connections.  Content sits behind one
 * rwlock; counters are atomics.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef FIXTURE_HAVE_ZLIB
#include <zlib.h>
#endif

#include "common/buf.h"
#include "common/xalloc.h"

#define MAX_UPLOAD (16u << 20)
#define MAX_PATHS 10000
#define PAGE_BUCKETS 1024
#define FILLER_SIZE (256u << 10)

/* ---- state -------------------------------------------------------------- */

struct page {
	char *path;
	char *body;
	size_t len;
	char *ctype;
	int status;
	bool etag_on, lm_on;
	char etag[48];
	time_t mtime;
	struct page *next;
};

struct item {
	unsigned id; /* stable: /articles/<id> */
	char *title, *link, *summary, *category;
	time_t published;
};

struct price {
	char id[64], cur[16];
	double value;
};

struct counter {
	char *key;
	long cur, max, count;
	struct counter *next;
};

enum route {
	R_PAGE,
	R_NEWS,
	R_FEED,
	R_ARTICLE,
	R_PRICE,
	R_STORED,
	R_SLOW,
	R_STATUS,
	R_FLAKY,
	R_RESET,
	R_GARBAGE,
	R_BIG,
	R_REDIRECT,
	R_ECHO,
	R_GEOCODING,
	R_FORECAST,
	R_CONTROL,
	R_NOT_FOUND,
	R__COUNT
};

static const char *const route_names[R__COUNT] = {
	"page",     "news",   "feed",      "article",  "price",   "stored",
	"slow",     "status", "flaky",     "reset",    "garbage", "big",
	"redirect", "echo",   "geocoding", "forecast", "control", "not_found",
};

static struct {
	pthread_rwlock_t lock;
	struct page *pages[PAGE_BUCKETS];
	struct item *items;
	size_t nitems;
	unsigned next_item_id;
	time_t news_mtime;
	struct price prices[64];
	size_t nprices;
	time_t price_mtime;
	atomic_bool gzip;
	time_t start;
	json_t *weather; /* current values of /v1/forecast */

	size_t npages, page_size;
	_Atomic uint32_t *versions;
	_Atomic int64_t *vmtime;
	char *filler;
	size_t filler_len;
	pthread_mutex_t rng_lock;
	uint64_t rng;
	atomic_ullong bumps;

	pthread_mutex_t stats_lock;
	struct counter *paths, *slow_hosts, *flaky;
	size_t npaths;
	atomic_ullong requests, connections, not_modified;
	atomic_ullong by_route[R__COUNT];
	atomic_ullong by_status[600];
	atomic_long in_flight, max_in_flight, slow_in_flight, slow_max;
} S;

struct req {
	enum route route;
	struct buf upload;
	bool upload_too_big;
	int slow_state; /* 0 new, 1 suspended, 2 resumed */
	char *slow_host;
};

/* ---- small helpers ------------------------------------------------------ */

static void atomic_max(atomic_long *m, long v)
{
	long cur = atomic_load(m);
	while (v > cur && !atomic_compare_exchange_weak(m, &cur, v))
		;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static uint64_t fnv64(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

static void http_date(time_t t, char *out, size_t size)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, size, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void iso_date(time_t t, char *out, size_t size)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static time_t parse_http_date(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	if (!s || !strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm))
		return (time_t)-1;
	return timegm(&tm);
}

static time_t parse_iso(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	if (!s)
		return (time_t)-1;
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return (time_t)-1;
	return timegm(&tm); /* fractions and zones other than Z are not needed here */
}

static void xml_escape(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			buf_puts(b, "&lt;");
			break;
		case '>':
			buf_puts(b, "&gt;");
			break;
		case '&':
			buf_puts(b, "&amp;");
			break;
		case '"':
			buf_puts(b, "&quot;");
			break;
		default:
			buf_append(b, s, 1);
		}
	}
}

static const char *arg(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static const char *header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static long arg_long(struct MHD_Connection *c, const char *name, long def)
{
	const char *v = arg(c, name);
	char *end;
	if (!v || !*v)
		return def;
	long n = strtol(v, &end, 10);
	return *end ? def : n;
}

/* The counter for key in list, created at zero when missing (stats_lock held). */
static struct counter *counter_get(struct counter **list, const char *key)
{
	struct counter *k;
	for (k = *list; k; k = k->next)
		if (strcmp(k->key, key) == 0)
			return k;
	k = xcalloc(1, sizeof *k);
	k->key = xstrdup(key);
	k->next = *list;
	*list = k;
	return k;
}

static void free_counters(struct counter *k)
{
	while (k) {
		struct counter *n = k->next;
		free(k->key);
		free(k);
		k = n;
	}
}

/* ---- responses ---------------------------------------------------------- */

#ifdef FIXTURE_HAVE_ZLIB
static char *gzip_buf(const char *in, size_t n, size_t *out_n)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	size_t cap = deflateBound(&z, (uLong)n);
	char *out = xmalloc(cap);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(out);
		return NULL;
	}
	*out_n = z.total_out;
	deflateEnd(&z);
	return out;
}
#else
static char *gzip_buf(const char *in, size_t n, size_t *out_n)
{
	(void)in;
	(void)n;
	(void)out_n;
	return NULL;
}
#endif

static bool accepts_gzip(struct MHD_Connection *c)
{
	const char *ae = header(c, "Accept-Encoding");
	return ae && strcasestr(ae, "gzip");
}

/* Queue a response; takes ownership of body (malloc'd, may be NULL).
 * hdrs: name, value, name, value, ..., NULL. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
			     char *body, size_t len, const char *const *hdrs, bool may_gzip)
{
	bool gz = false;
	if (may_gzip && body && len >= 64 && atomic_load(&S.gzip) && accepts_gzip(c)) {
		size_t zn;
		char *z = gzip_buf(body, len, &zn);
		if (z) {
			free(body);
			body = z;
			len = zn;
			gz = true;
		}
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body ? body : (void *)"",
								 body ? MHD_RESPMEM_MUST_FREE
								      : MHD_RESPMEM_PERSISTENT);
	if (ctype)
		MHD_add_response_header(r, "Content-Type", ctype);
	if (gz)
		MHD_add_response_header(r, "Content-Encoding", "gzip");
	if (may_gzip)
		MHD_add_response_header(r, "Vary", "Accept-Encoding");
	for (size_t i = 0; hdrs && hdrs[i] && hdrs[i + 1]; i += 2)
		MHD_add_response_header(r, hdrs[i], hdrs[i + 1]);
	if (status < 600)
		atomic_fetch_add(&S.by_status[status], 1);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return reply(c, status, "text/plain; charset=utf-8", s, strlen(s), NULL, false);
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(j);
	return reply(c, status, "application/json", s, strlen(s), NULL, false);
}

static bool etag_matches(const char *inm, const char *etag)
{
	if (!inm)
		return false;
	if (strcmp(inm, "*") == 0)
		return true;
	/* a list of (possibly weak) tags; compare weakly */
	const char *want = etag;
	size_t wn = strlen(want);
	const char *p = inm;
	while (*p) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		size_t n = strcspn(p, ",");
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == wn && memcmp(p, want, n) == 0)
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

/* A cacheable resource: 304 when the validators match, else 200 with them.
 * etag may be NULL, mtime 0 for none. Takes body. */
static enum MHD_Result reply_resource(struct MHD_Connection *c, unsigned status, const char *ctype,
				      char *body, size_t len, const char *etag, time_t mtime)
{
	char lm[64] = "";
	const char *hdrs[6] = {0};
	size_t h = 0;
	if (etag) {
		hdrs[h++] = "ETag";
		hdrs[h++] = etag;
	}
	if (mtime > 0) {
		http_date(mtime, lm, sizeof lm);
		hdrs[h++] = "Last-Modified";
		hdrs[h++] = lm;
	}
	if (status == 200) {
		const char *inm = header(c, "If-None-Match");
		bool fresh = false;
		if (inm)
			fresh = etag && etag_matches(inm, etag);
		else if (mtime > 0) {
			time_t ims = parse_http_date(header(c, "If-Modified-Since"));
			fresh = ims != (time_t)-1 && mtime <= ims;
		}
		if (fresh) {
			free(body);
			atomic_fetch_add(&S.not_modified, 1);
			return reply(c, 304, NULL, NULL, 0, hdrs, false);
		}
	}
	return reply(c, status, ctype, body, len, hdrs, true);
}

static void body_etag(const char *body, size_t len, char *out, size_t size)
{
	snprintf(out, size, "\"%016llx\"", (unsigned long long)fnv64(body, len));
}

/* ---- news --------------------------------------------------------------- */

static void item_free(struct item *it)
{
	free(it->title);
	free(it->link);
	free(it->summary);
	free(it->category);
}

static int item_from_json(json_t *j, struct item *it, char *why, size_t why_size)
{
	const char *title = json_string_value(json_object_get(j, "title"));
	if (!json_is_object(j) || !title) {
		snprintf(why, why_size, "an item needs at least a \"title\" string");
		return -1;
	}
	memset(it, 0, sizeof *it);
	it->title = xstrdup(title);
	const char *s;
	if ((s = json_string_value(json_object_get(j, "link"))))
		it->link = xstrdup(s);
	if ((s = json_string_value(json_object_get(j, "summary"))))
		it->summary = xstrdup(s);
	if ((s = json_string_value(json_object_get(j, "category"))))
		it->category = xstrdup(s);
	json_t *p = json_object_get(j, "published");
	it->published = time(NULL);
	if (json_is_integer(p))
		it->published = (time_t)json_integer_value(p);
	else if (json_is_string(p)) {
		time_t t = parse_iso(json_string_value(p));
		if (t == (time_t)-1) {
			item_free(it);
			snprintf(why, why_size,
				 "\"published\" must be ISO-8601 (2025-01-02T03:04:05Z) "
				 "or seconds since the epoch");
			return -1;
		}
		it->published = t;
	}
	return 0;
}

static void news_defaults(void)
{
	static const char *const d[][3] = {
		{"Chip maker unveils new AI accelerator",
		 "The company says its new chip doubles training speed for large models.",
		 "technology"},
		{"Markets rally as inflation cools",
		 "Stocks rose for a third day after the latest consumer price report.", "business"},
		{"Astronomers find water vapour on a distant exoplanet",
		 "The telescope observations point to a temperate atmosphere.", "science"},
	};
	S.nitems = 3;
	S.items = xcalloc(S.nitems, sizeof *S.items);
	for (size_t i = 0; i < S.nitems; i++) {
		S.items[i].title = xstrdup(d[i][0]);
		S.items[i].summary = xstrdup(d[i][1]);
		S.items[i].category = xstrdup(d[i][2]);
		S.items[i].published = S.start - (time_t)(3600 * (i + 1));
		S.items[i].id = ++S.next_item_id;
	}
	S.news_mtime = S.start;
}

/* Item link: given, else BASE/articles/<id>. */
static char *item_link(const struct item *it, const char *base)
{
	return it->link ? xstrdup(it->link) : xasprintf("%s/articles/%u", base, it->id);
}

static char *news_html(const char *base, bool feed_links, size_t *len)
{
	struct buf b;
	char iso[64];
	buf_init(&b, 64u << 20);
	buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		     "<title>Fixture News</title>\n");
	if (feed_links)
		buf_puts(&b, "<link rel=\"alternate\" type=\"application/rss+xml\" title=\"RSS\" "
			     "href=\"/rss.xml\">\n<link rel=\"alternate\" "
			     "type=\"application/atom+xml\" title=\"Atom\" href=\"/atom.xml\">\n");
	buf_puts(&b, "<style>body { font-family: sans-serif } .hidden-style-text {}</style>\n"
		     "<script>var hiddenScriptText = \"script noise, not content\";</script>\n"
		     "</head><body>\n<header><nav><a href=\"/\">Home</a> | <a "
		     "href=\"/news\">News</a></nav></header>\n<main>\n<h1>Latest news</h1>\n");
	for (size_t i = 0; i < S.nitems; i++) {
		const struct item *it = &S.items[i];
		char *link = item_link(it, base);
		iso_date(it->published, iso, sizeof iso);
		buf_puts(&b, "<article>\n<h2><a href=\"");
		xml_escape(&b, link);
		buf_puts(&b, "\">");
		xml_escape(&b, it->title);
		buf_printf(&b, "</a></h2>\n<time datetime=\"%s\">%s</time>\n", iso, iso);
		if (it->category) {
			buf_puts(&b, "<span class=\"category\">");
			xml_escape(&b, it->category);
			buf_puts(&b, "</span>\n");
		}
		if (it->summary) {
			buf_puts(&b, "<p>");
			xml_escape(&b, it->summary);
			buf_puts(&b, "</p>\n");
		}
		buf_puts(&b, "</article>\n");
		free(link);
	}
	buf_puts(&b, "</main>\n<footer>&copy; Fixture News</footer>\n</body></html>\n");
	*len = b.len;
	return buf_steal(&b);
}

static char *rss_xml(const char *base, size_t *len)
{
	struct buf b;
	char date[64];
	buf_init(&b, 64u << 20);
	http_date(S.news_mtime, date, sizeof date);
	buf_printf(&b,
		   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\">\n<channel>\n"
		   "<title>Fixture News</title>\n<link>%s/news</link>\n"
		   "<description>Headlines for tests</description>\n<lastBuildDate>%s"
		   "</lastBuildDate>\n",
		   base, date);
	for (size_t i = 0; i < S.nitems; i++) {
		const struct item *it = &S.items[i];
		char *link = item_link(it, base);
		struct tm tm;
		gmtime_r(&it->published, &tm);
		strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
		buf_puts(&b, "<item>\n<title>");
		xml_escape(&b, it->title);
		buf_puts(&b, "</title>\n<link>");
		xml_escape(&b, link);
		buf_puts(&b, "</link>\n<guid isPermaLink=\"true\">");
		xml_escape(&b, link);
		buf_printf(&b, "</guid>\n<pubDate>%s</pubDate>\n", date);
		if (it->summary) {
			buf_puts(&b, "<description>");
			xml_escape(&b, it->summary);
			buf_puts(&b, "</description>\n");
		}
		if (it->category) {
			buf_puts(&b, "<category>");
			xml_escape(&b, it->category);
			buf_puts(&b, "</category>\n");
		}
		buf_puts(&b, "</item>\n");
		free(link);
	}
	buf_puts(&b, "</channel>\n</rss>\n");
	*len = b.len;
	return buf_steal(&b);
}

static char *atom_xml(const char *base, size_t *len)
{
	struct buf b;
	char iso[64];
	buf_init(&b, 64u << 20);
	iso_date(S.news_mtime, iso, sizeof iso);
	buf_printf(&b,
		   "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed "
		   "xmlns=\"http://www.w3.org/2005/Atom\">\n<title>Fixture News</title>\n"
		   "<id>%s/</id>\n<updated>%s</updated>\n<link href=\"%s/news\"/>\n"
		   "<author><name>Fixture</name></author>\n",
		   base, iso, base);
	for (size_t i = 0; i < S.nitems; i++) {
		const struct item *it = &S.items[i];
		char *link = item_link(it, base);
		iso_date(it->published, iso, sizeof iso);
		buf_puts(&b, "<entry>\n<title>");
		xml_escape(&b, it->title);
		buf_puts(&b, "</title>\n<link href=\"");
		xml_escape(&b, link);
		buf_puts(&b, "\"/>\n<id>");
		xml_escape(&b, link);
		buf_printf(&b, "</id>\n<updated>%s</updated>\n<published>%s</published>\n", iso,
			   iso);
		if (it->summary) {
			buf_puts(&b, "<summary>");
			xml_escape(&b, it->summary);
			buf_puts(&b, "</summary>\n");
		}
		if (it->category) {
			buf_puts(&b, "<category term=\"");
			xml_escape(&b, it->category);
			buf_puts(&b, "\"/>\n");
		}
		buf_puts(&b, "</entry>\n");
		free(link);
	}
	buf_puts(&b, "</feed>\n");
	*len = b.len;
	return buf_steal(&b);
}

static char *base_url(struct MHD_Connection *c)
{
	const char *host = header(c, "Host");
	return xasprintf("http://%s", host ? host : "127.0.0.1");
}

static enum MHD_Result serve_news(struct MHD_Connection *c, const char *url)
{
	char *base = base_url(c), *body, etag[48];
	const char *ctype;
	size_t len;
	pthread_rwlock_rdlock(&S.lock);
	if (strcmp(url, "/rss.xml") == 0) {
		body = rss_xml(base, &len);
		ctype = "application/rss+xml; charset=utf-8";
	} else if (strcmp(url, "/atom.xml") == 0) {
		body = atom_xml(base, &len);
		ctype = "application/atom+xml; charset=utf-8";
	} else {
		body = news_html(base, strcmp(url, "/news") == 0, &len);
		ctype = "text/html; charset=utf-8";
	}
	time_t mtime = S.news_mtime;
	pthread_rwlock_unlock(&S.lock);
	free(base);
	body_etag(body, len, etag, sizeof etag);
	return reply_resource(c, 200, ctype, body, len, etag, mtime);
}

static enum MHD_Result serve_article(struct MHD_Connection *c, const char *url)
{
	char *end;
	unsigned long id = strtoul(url + strlen("/articles/"), &end, 10);
	struct buf b;
	char etag[48];
	const struct item *it = NULL;
	pthread_rwlock_rdlock(&S.lock);
	for (size_t i = 0; i < S.nitems && !*end; i++)
		if (S.items[i].id == id)
			it = &S.items[i];
	if (!it) {
		pthread_rwlock_unlock(&S.lock);
		return reply_text(c, 404, "no article %s\n", url);
	}
	buf_init(&b, 64u << 20);
	buf_puts(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
	xml_escape(&b, it->title);
	buf_puts(&b, "</title></head><body><article><h1>");
	xml_escape(&b, it->title);
	buf_puts(&b, "</h1><p>");
	xml_escape(&b, it->summary ? it->summary : "");
	buf_puts(&b, "</p></article></body></html>\n");
	time_t mtime = S.news_mtime;
	pthread_rwlock_unlock(&S.lock);
	size_t len = b.len;
	char *body = buf_steal(&b);
	body_etag(body, len, etag, sizeof etag);
	return reply_resource(c, 200, "text/html; charset=utf-8", body, len, etag, mtime);
}

/* ---- prices ------------------------------------------------------------- */

static struct price *price_find(const char *id, const char *cur)
{
	for (size_t i = 0; i < S.nprices; i++)
		if (strcasecmp(S.prices[i].id, id) == 0 && strcasecmp(S.prices[i].cur, cur) == 0)
			return &S.prices[i];
	return NULL;
}

static void price_set(const char *id, const char *cur, double v)
{
	struct price *p = price_find(id, cur);
	if (!p && S.nprices < sizeof S.prices / sizeof S.prices[0]) {
		p = &S.prices[S.nprices++];
		snprintf(p->id, sizeof p->id, "%s", id);
		snprintf(p->cur, sizeof p->cur, "%s", cur);
	}
	if (p)
		p->value = v;
}

static json_t *number(double v)
{
	if (v == (double)(long long)v && v < 9e15 && v > -9e15)
		return json_integer((json_int_t)v);
	return json_real(v);
}

static enum MHD_Result serve_price(struct MHD_Connection *c)
{
	const char *ids = arg(c, "ids"), *curs = arg(c, "vs_currencies");
	if (!ids || !curs) {
		json_t *j = json_pack("{s:s}", "error",
				      !ids ? "Missing parameter ids"
					   : "Missing parameter vs_currencies");
		return reply_json(c, 400, j);
	}
	json_t *out = json_object();
	char *idl = xstrdup(ids), *save1 = NULL;
	pthread_rwlock_rdlock(&S.lock);
	for (char *id = strtok_r(idl, ",", &save1); id; id = strtok_r(NULL, ",", &save1)) {
		char *cl = xstrdup(curs), *save2 = NULL;
		json_t *o = json_object();
		for (char *cu = strtok_r(cl, ",", &save2); cu; cu = strtok_r(NULL, ",", &save2)) {
			struct price *p = price_find(id, cu);
			if (p)
				json_object_set_new(o, cu, number(p->value));
		}
		free(cl);
		if (json_object_size(o))
			json_object_set_new(out, id, o);
		else
			json_decref(o);
	}
	time_t mtime = S.price_mtime;
	pthread_rwlock_unlock(&S.lock);
	free(idl);
	char *s = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(out);
	char etag[48];
	size_t len = strlen(s);
	body_etag(s, len, etag, sizeof etag);
	return reply_resource(c, 200, "application/json; charset=utf-8", s, len, etag, mtime);
}

/* ---- Open-Meteo stand-in -------------------------------------------------- */

struct place {
	long id;
	const char *name;
	double lat, lon, elevation;
	const char *feature, *cc, *country, *admin1, *tz;
	long population;
};

/* In population order, as Open-Meteo ranks them. */
static const struct place gazetteer[] = {
	{1816670, "Beijing", 39.9075, 116.39723, 49, "PPLC", "CN", "China", "Beijing",
	 "Asia/Shanghai", 18960744},
	{1850147, "Tokyo", 35.6895, 139.69171, 44, "PPLC", "JP", "Japan", "Tokyo", "Asia/Tokyo",
	 8336599},
	{2643743, "London", 51.50853, -0.12574, 25, "PPLC", "GB", "United Kingdom", "England",
	 "Europe/London", 8961989},
	{2950159, "Berlin", 52.52437, 13.41053, 74, "PPLC", "DE", "Germany", "Land Berlin",
	 "Europe/Berlin", 3426354},
	{2988507, "Paris", 48.85341, 2.3488, 42, "PPLC", "FR", "France", "Île-de-France",
	 "Europe/Paris", 2138551},
	{5746545, "Portland", 45.52345, -122.67621, 15, "PPLA2", "US", "United States", "Oregon",
	 "America/Los_Angeles", 652503},
	{4250542, "Springfield", 39.80172, -89.64371, 182, "PPLA", "US", "United States",
	 "Illinois", "America/Chicago", 114230},
	{6058560, "London", 42.98339, -81.23304, 252, "PPL", "CA", "Canada", "Ontario",
	 "America/Toronto", 346765},
	{4975802, "Portland", 43.65737, -70.2589, 15, "PPLA2", "US", "United States", "Maine",
	 "America/New_York", 66881},
	{4717560, "Paris", 33.66094, -95.55551, 180, "PPLA2", "US", "United States", "Texas",
	 "America/Chicago", 24782},
	{5083330, "Berlin", 44.46867, -71.18508, 311, "PPL", "US", "United States", "New Hampshire",
	 "America/New_York", 9367},
	{3067696, "Praha", 50.08804, 14.42076, 202, "PPLC", "CZ", "Czechia", "Praha",
	 "Europe/Prague", 1165581},
};

static void weather_defaults(void)
{
	S.weather = json_pack("{s:f, s:i, s:f, s:i, s:f, s:i, s:f, s:i}", "temperature_2m", 15.2,
			      "relative_humidity_2m", 45, "apparent_temperature", 13.9,
			      "weather_code", 2, "wind_speed_10m", 12.2, "wind_direction_10m", 225,
			      "precipitation", 0.0, "is_day", 1);
}

static bool place_is(const struct place *p, const char *q)
{
	return strcasecmp(p->country, q) == 0 || strcasecmp(p->cc, q) == 0 ||
	       strcasecmp(p->admin1, q) == 0;
}

static void trim_blanks(char *s)
{
	size_t n = strlen(s), i = 0;
	while (n && s[n - 1] == ' ')
		s[--n] = '\0';
	while (s[i] == ' ')
		i++;
	memmove(s, s + i, n - i + 1);
}

static enum MHD_Result serve_geocoding(struct MHD_Connection *c)
{
	const char *name = arg(c, "name"), *ccode = arg(c, "countryCode");
	long count = arg_long(c, "count", 10);
	char q[256] = "", *qual = NULL;

	if (!name)
		return reply_json(c, 400,
				  json_pack("{s:b, s:s}", "error", 1, "reason",
					    "Parameter 'name' is required"));
	if (count < 1 || count > 100)
		return reply_json(c, 400,
				  json_pack("{s:b, s:s}", "error", 1, "reason",
					    "Parameter count must be between 1 and 100."));
	snprintf(q, sizeof q, "%s", name);
	char *comma = strchr(q, ',');
	if (comma) {
		*comma = '\0';
		qual = comma + 1;
		trim_blanks(qual);
	}
	trim_blanks(q);
	size_t qn = strlen(q);
	json_t *results = json_array();
	for (size_t i = 0; i < sizeof gazetteer / sizeof gazetteer[0] && qn >= 2; i++) {
		const struct place *p = &gazetteer[i];
		bool hit = qn == 2 ? strcasecmp(p->name, q) == 0 : strncasecmp(p->name, q, qn) == 0;
		if (!hit || (ccode && *ccode && strcasecmp(p->cc, ccode) != 0) ||
		    (qual && *qual && !place_is(p, qual)))
			continue;
		if ((long)json_array_size(results) >= count)
			break;
		json_array_append_new(
			results,
			json_pack("{s:I, s:s, s:f, s:f, s:f, s:s, s:s, s:s, s:I, s:s, s:s}", "id",
				  (json_int_t)p->id, "name", p->name, "latitude", p->lat,
				  "longitude", p->lon, "elevation", p->elevation, "feature_code",
				  p->feature, "country_code", p->cc, "timezone", p->tz,
				  "population", (json_int_t)p->population, "country", p->country,
				  "admin1", p->admin1));
	}
	json_t *out = json_object();
	if (json_array_size(results))
		json_object_set_new(out, "results", results);
	else
		json_decref(results);
	json_object_set_new(out, "generationtime_ms", json_real(0.5));
	return reply_json(c, 200, out);
}

static const struct {
	const char *name, *unit;
} weather_vars[] = {
	{"temperature_2m", "°C"},       {"relative_humidity_2m", "%"},
	{"apparent_temperature", "°C"}, {"weather_code", "wmo code"},
	{"wind_speed_10m", "km/h"},     {"wind_direction_10m", "°"},
	{"precipitation", "mm"},        {"is_day", ""},
};

static enum MHD_Result serve_forecast(struct MHD_Connection *c)
{
	const char *lat_s = arg(c, "latitude"), *lon_s = arg(c, "longitude");
	const char *cur = arg(c, "current"), *tz = arg(c, "timezone");
	char *end1 = NULL, *end2 = NULL;
	double lat = lat_s ? strtod(lat_s, &end1) : 0, lon = lon_s ? strtod(lon_s, &end2) : 0;

	if (!lat_s || !lon_s || *end1 || *end2 || lat < -90 || lat > 90 || lon < -180 || lon > 180)
		return reply_json(
			c, 400,
			json_pack("{s:b, s:s}", "error", 1, "reason",
				  "Latitude must be in range of -90 to 90°. Longitude must "
				  "be in range of -180 to 180°."));
	/* the time zone of the nearest place, as timezone=auto would find */
	const struct place *near = NULL;
	double best = 1e9;
	for (size_t i = 0; i < sizeof gazetteer / sizeof gazetteer[0]; i++) {
		double d = fabs(gazetteer[i].lat - lat) + fabs(gazetteer[i].lon - lon);
		if (d < best) {
			best = d;
			near = &gazetteer[i];
		}
	}
	const char *zone = tz && strcmp(tz, "auto") == 0 && best < 1.0 ? near->tz : "GMT";
	json_t *units = json_pack("{s:s, s:s}", "time", "iso8601", "interval", "seconds");
	char now[32];
	time_t t = time(NULL) / 900 * 900;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(now, sizeof now, "%Y-%m-%dT%H:%M", &tm);
	json_t *cj = json_pack("{s:s, s:i}", "time", now, "interval", 900);
	char *list = xstrdup(cur ? cur : ""), *save = NULL;
	pthread_rwlock_rdlock(&S.lock);
	for (char *v = strtok_r(list, ",", &save); v; v = strtok_r(NULL, ",", &save)) {
		size_t k = 0, nv = sizeof weather_vars / sizeof weather_vars[0];
		while (k < nv && strcmp(weather_vars[k].name, v) != 0)
			k++;
		if (k == nv) {
			pthread_rwlock_unlock(&S.lock);
			char reason[300];
			snprintf(reason, sizeof reason,
				 "Cannot initialize ForecastVariable from invalid String value "
				 "%.100s.",
				 v);
			free(list);
			json_decref(units);
			json_decref(cj);
			return reply_json(c, 400,
					  json_pack("{s:b, s:s}", "error", 1, "reason", reason));
		}
		json_object_set_new(units, v, json_string(weather_vars[k].unit));
		json_t *val = json_object_get(S.weather, v);
		json_object_set(cj, v, val ? val : json_null());
	}
	pthread_rwlock_unlock(&S.lock);
	free(list);
	json_t *out =
		json_pack("{s:f, s:f, s:f, s:i, s:s, s:s, s:f, s:o, s:o}", "latitude", lat,
			  "longitude", lon, "generationtime_ms", 0.05, "utc_offset_seconds", 0,
			  "timezone", zone, "timezone_abbreviation", zone, "elevation",
			  near ? near->elevation : 0.0, "current_units", units, "current", cj);
	return reply_json(c, 200, out);
}

/* ---- generated pages ---------------------------------------------------- */

static void filler_init(void)
{
	static const char *const words[] = {
		"the",     "city",     "council", "announced", "plans",   "for",     "a",
		"new",     "library",  "while",   "residents", "debated", "traffic", "and",
		"housing", "policy",   "weather", "remained",  "mild",    "across",  "region",
		"markets", "opened",   "higher",  "report",    "shows",   "growth",  "in",
		"local",   "business", "schools", "sports",    "team",    "won",     "match",
	};
	size_t nw = sizeof words / sizeof words[0];
	uint64_t rng = 0x9E3779B97F4A7C15ull;
	struct buf b;
	buf_init(&b, FILLER_SIZE + 4096);
	while (b.len < FILLER_SIZE) {
		buf_puts(&b, "<p>");
		int n = 8 + (int)(xorshift(&rng) % 10);
		for (int i = 0; i < n; i++)
			buf_printf(&b, "%s%s", i ? " " : "", words[xorshift(&rng) % nw]);
		buf_puts(&b, ".</p>\n");
	}
	S.filler_len = b.len;
	S.filler = buf_steal(&b);
}

static enum MHD_Result serve_page(struct MHD_Connection *c, const char *url)
{
	char *end;
	unsigned long long n = strtoull(url + strlen("/page/"), &end, 10);
	if (*end || end == url + strlen("/page/") || n >= S.npages)
		return reply_text(c, 404, "no page %s (pages are /page/0 to /page/%zu)\n", url,
				  S.npages - 1);
	uint32_t v = atomic_load_explicit(&S.versions[n], memory_order_relaxed);
	int64_t mt = atomic_load_explicit(&S.vmtime[n], memory_order_relaxed);
	long size = arg_long(c, "size", (long)S.page_size);
	if (size < 512)
		size = 512;
	if (size > (long)(S.filler_len / 2))
		size = (long)(S.filler_len / 2);
	char etag[48];
	snprintf(etag, sizeof etag, "\"p%llu-v%u\"", n, v);

	struct buf b;
	buf_init(&b, (size_t)size + 4096);
	buf_printf(&b,
		   "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Page %llu</title>"
		   "</head><body>\n<h1>Page %llu</h1>\n<p class=\"version\">version %u</p>\n",
		   n, n, v);
	if (v > 0)
		buf_printf(&b,
			   "<p class=\"update\">Breaking update %u for page %llu: ambient "
			   "monitoring news</p>\n",
			   v, n);
	buf_puts(&b, "<article>\n");
	size_t want = (size_t)size > b.len + 32 ? (size_t)size - b.len - 32 : 0;
	size_t off = (size_t)((n * 7919u) % (S.filler_len - want - 1));
	const char *p = memchr(S.filler + off, '\n', S.filler_len - off);
	off = p ? (size_t)(p - S.filler) + 1 : 0;
	size_t take = want;
	if (off + take > S.filler_len)
		take = S.filler_len - off;
	const char *last = take ? memrchr(S.filler + off, '\n', take) : NULL;
	take = last ? (size_t)(last - (S.filler + off)) + 1 : 0;
	buf_append(&b, S.filler + off, take);
	buf_puts(&b, "</article>\n</body></html>\n");
	size_t len = b.len;
	return reply_resource(c, 200, "text/html; charset=utf-8", buf_steal(&b), len, etag,
			      (time_t)mt);
}

/* ---- stored pages ------------------------------------------------------- */

static struct page **page_slot(const char *path)
{
	struct page **pp = &S.pages[fnv64(path, strlen(path)) % PAGE_BUCKETS];
	while (*pp && strcmp((*pp)->path, path) != 0)
		pp = &(*pp)->next;
	return pp;
}

static enum MHD_Result serve_stored(struct MHD_Connection *c, struct page *pg)
{
	/* called with the read lock held; copies what it needs */
	char *body = xmalloc(pg->len + 1);
	memcpy(body, pg->body, pg->len);
	body[pg->len] = '\0';
	char etag[48], ctype[256];
	snprintf(etag, sizeof etag, "%s", pg->etag);
	snprintf(ctype, sizeof ctype, "%s", pg->ctype);
	unsigned status = (unsigned)pg->status;
	bool et = pg->etag_on;
	time_t mt = pg->lm_on ? pg->mtime : 0;
	size_t len = pg->len;
	pthread_rwlock_unlock(&S.lock);
	return reply_resource(c, status, ctype, body, len, et ? etag : NULL, mt);
}

/* ---- misbehaviour ------------------------------------------------------- */

struct slow_timer {
	struct timespec due;
	struct MHD_Connection *c;
	struct slow_timer *next;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct slow_timer *head;
	bool stop;
	pthread_t thread;
} T = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, false, 0};

static bool ts_le(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec <= b->tv_nsec);
}

static void *timer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&T.lock);
	while (!T.stop) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		while (T.head && ts_le(&T.head->due, &now)) {
			struct slow_timer *t = T.head;
			T.head = t->next;
			MHD_resume_connection(t->c);
			free(t);
		}
		if (T.head)
			pthread_cond_timedwait(&T.cond, &T.lock, &T.head->due);
		else
			pthread_cond_wait(&T.cond, &T.lock);
	}
	while (T.head) { /* resume the rest so the daemon can stop */
		struct slow_timer *t = T.head;
		T.head = t->next;
		MHD_resume_connection(t->c);
		free(t);
	}
	pthread_mutex_unlock(&T.lock);
	return NULL;
}

static void timer_add(struct MHD_Connection *c, long ms)
{
	struct slow_timer *t = xcalloc(1, sizeof *t);
	clock_gettime(CLOCK_MONOTONIC, &t->due);
	t->due.tv_sec += ms / 1000;
	t->due.tv_nsec += (ms % 1000) * 1000000L;
	if (t->due.tv_nsec >= 1000000000L) {
		t->due.tv_sec++;
		t->due.tv_nsec -= 1000000000L;
	}
	t->c = c;
	pthread_mutex_lock(&T.lock);
	struct slow_timer **pp = &T.head;
	while (*pp && ts_le(&(*pp)->due, &t->due))
		pp = &(*pp)->next;
	t->next = *pp;
	*pp = t;
	pthread_cond_signal(&T.cond);
	pthread_mutex_unlock(&T.lock);
}

static void slow_leave(struct req *r)
{
	if (r->slow_state != 1)
		return;
	r->slow_state = 2;
	atomic_fetch_sub(&S.slow_in_flight, 1);
	pthread_mutex_lock(&S.stats_lock);
	counter_get(&S.slow_hosts, r->slow_host)->cur--;
	pthread_mutex_unlock(&S.stats_lock);
}

static enum MHD_Result serve_slow(struct MHD_Connection *c, struct req *r)
{
	long ms = arg_long(c, "ms", 1000);
	if (ms < 0)
		ms = 0;
	if (ms > 600000)
		ms = 600000;
	if (r->slow_state == 0) {
		const char *host = header(c, "Host");
		r->slow_host = xstrdup(host ? host : "?");
		r->slow_state = 1;
		long cur = atomic_fetch_add(&S.slow_in_flight, 1) + 1;
		atomic_max(&S.slow_max, cur);
		pthread_mutex_lock(&S.stats_lock);
		struct counter *k = counter_get(&S.slow_hosts, r->slow_host);
		k->count++;
		if (++k->cur > k->max)
			k->max = k->cur;
		pthread_mutex_unlock(&S.stats_lock);
		MHD_suspend_connection(c);
		timer_add(c, ms);
		return MHD_YES;
	}
	/* leave the in-flight count before queueing the answer: the client cannot
	 * see the end of this request (and start the next) before this point */
	slow_leave(r);
	long bytes = arg_long(c, "bytes", 0);
	if (bytes < 0 || bytes > (64 << 20))
		bytes = 0;
	struct buf b;
	buf_init(&b, (size_t)bytes + 128);
	buf_printf(&b, "slow response after %ld ms\n", ms);
	while (b.len < (size_t)bytes)
		buf_puts(&b, "z");
	size_t len = b.len;
	return reply(c, 200, "text/plain; charset=utf-8", buf_steal(&b), len, NULL, false);
}

static enum MHD_Result serve_status(struct MHD_Connection *c, const char *url)
{
	char *end;
	long code = strtol(url + strlen("/status/"), &end, 10);
	if (*end || code < 100 || code > 599)
		return reply_text(c, 400, "bad status in %s\n", url);
	const char *ra = arg(c, "retry_after");
	const char *hdrs[] = {"Retry-After", ra, NULL};
	char *s = xasprintf("status %ld\n", code);
	return reply(c, (unsigned)code, "text/plain; charset=utf-8", s, strlen(s), ra ? hdrs : NULL,
		     false);
}

static enum MHD_Result serve_flaky(struct MHD_Connection *c)
{
	const char *key = arg(c, "key");
	long fail = arg_long(c, "fail", 1), status = arg_long(c, "status", 503);
	if (status < 100 || status > 599)
		status = 503;
	long n;
	pthread_mutex_lock(&S.stats_lock);
	n = ++counter_get(&S.flaky, key ? key : "")->count;
	pthread_mutex_unlock(&S.stats_lock);
	if (n <= fail) {
		const char *ra = arg(c, "retry_after");
		const char *hdrs[] = {"Retry-After", ra, NULL};
		char *s = xasprintf("flaky failure %ld of %ld\n", n, fail);
		return reply(c, (unsigned)status, "text/plain; charset=utf-8", s, strlen(s),
			     ra ? hdrs : NULL, false);
	}
	return reply_text(c, 200, "ok after %ld failures (request %ld)\n", fail, n);
}

static enum MHD_Result serve_reset(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci) {
		struct linger l = {.l_onoff = 1, .l_linger = 0};
		setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	}
	return MHD_NO; /* close without a response: with linger 0, an RST */
}

static ssize_t short_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	if (pos >= 100)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	size_t n = 100 - (size_t)pos < max ? 100 - (size_t)pos : max;
	memset(buf, 'g', n);
	return (ssize_t)n;
}

static enum MHD_Result serve_garbage(struct MHD_Connection *c)
{
	const char *mode = arg(c, "mode");
	if (mode && strcmp(mode, "bytes") == 0) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		static const char junk[] = "THIS IS NOT HTTP\x01\x02\x03\r\n\r\n";
		if (ci && send(ci->connect_fd, junk, sizeof junk - 1, MSG_NOSIGNAL) < 0)
			return MHD_NO;
		return MHD_NO;
	}
	struct MHD_Response *r =
		MHD_create_response_from_callback(1000, 256, short_reader, NULL, NULL);
	MHD_add_response_header(r, "Content-Type", "text/plain");
	atomic_fetch_add(&S.by_status[200], 1);
	enum MHD_Result ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static ssize_t big_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	uint64_t total = *(uint64_t *)cls;
	if (pos >= total)
		return MHD_CONTENT_READER_END_OF_STREAM;
	size_t n = total - pos < max ? (size_t)(total - pos) : max;
	for (size_t i = 0; i < n; i++)
		buf[i] = (pos + i) % 64 == 63 ? '\n' : (char)('a' + (pos + i) % 26);
	return (ssize_t)n;
}

static enum MHD_Result serve_big(struct MHD_Connection *c)
{
	long long bytes = 1 << 20;
	const char *v = arg(c, "bytes");
	if (v)
		bytes = strtoll(v, NULL, 10);
	if (bytes < 0)
		bytes = 0;
	const char *ch = arg(c, "chunked");
	bool chunked = ch && strcmp(ch, "1") == 0;
	uint64_t *total = xmalloc(sizeof *total);
	*total = (uint64_t)bytes;
	struct MHD_Response *r = MHD_create_response_from_callback(
		chunked ? MHD_SIZE_UNKNOWN : (uint64_t)bytes, 64 * 1024, big_reader, total, free);
	MHD_add_response_header(r, "Content-Type", "text/plain");
	atomic_fetch_add(&S.by_status[200], 1);
	enum MHD_Result ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result serve_redirect(struct MHD_Connection *c, const char *url)
{
	long status = arg_long(c, "status", 302);
	if (status < 300 || status > 399)
		status = 302;
	char *loc;
	if (strncmp(url, "/redirect-chain/", 16) == 0) {
		char *end;
		long n = strtol(url + 16, &end, 10);
		if (*end || n < 0)
			return reply_text(c, 400, "bad chain length in %s\n", url);
		if (n == 0)
			return reply_text(c, 200, "end of the redirect chain\n");
		const char *to = arg(c, "to");
		if (n == 1 && to)
			loc = xstrdup(to);
		else
			loc = xasprintf("/redirect-chain/%ld", n - 1);
	} else {
		const char *to = arg(c, "to");
		if (!to)
			return reply_text(c, 400, "/redirect needs ?to=URL\n");
		loc = xstrdup(to);
	}
	const char *hdrs[] = {"Location", loc, NULL};
	char *s = xasprintf("redirecting to %s\n", loc);
	enum MHD_Result ret =
		reply(c, (unsigned)status, "text/plain; charset=utf-8", s, strlen(s), hdrs, false);
	free(loc);
	return ret;
}

static enum MHD_Result add_kv(void *cls, enum MHD_ValueKind kind, const char *key,
			      const char *value)
{
	(void)kind;
	json_object_set_new(cls, key, json_string(value ? value : ""));
	return MHD_YES;
}

static enum MHD_Result serve_echo(struct MHD_Connection *c, struct req *r, const char *url,
				  const char *method)
{
	json_t *h = json_object(), *q = json_object();
	MHD_get_connection_values(c, MHD_HEADER_KIND, add_kv, h);
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_kv, q);
	json_t *j = json_pack("{s:s, s:s, s:o, s:o, s:s%}", "method", method, "path", url,
			      "headers", h, "query", q, "body", buf_str(&r->upload), r->upload.len);
	return reply_json(c, 200, j);
}

/* ---- control ------------------------------------------------------------ */

static json_t *stats_json(void)
{
	json_t *routes = json_object(), *status = json_object(), *paths = json_object();
	json_t *hosts = json_object();
	for (int i = 0; i < R__COUNT; i++)
		json_object_set_new(routes, route_names[i],
				    json_integer((json_int_t)atomic_load(&S.by_route[i])));
	for (int i = 100; i < 600; i++) {
		unsigned long long n = atomic_load(&S.by_status[i]);
		if (n) {
			char k[8];
			snprintf(k, sizeof k, "%d", i);
			json_object_set_new(status, k, json_integer((json_int_t)n));
		}
	}
	pthread_mutex_lock(&S.stats_lock);
	for (struct counter *k = S.paths; k; k = k->next)
		json_object_set_new(paths, k->key, json_integer(k->count));
	for (struct counter *k = S.slow_hosts; k; k = k->next)
		json_object_set_new(hosts, k->key,
				    json_pack("{s:I, s:I, s:I}", "in_flight", (json_int_t)k->cur,
					      "max_in_flight", (json_int_t)k->max, "requests",
					      (json_int_t)k->count));
	pthread_mutex_unlock(&S.stats_lock);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:{s:I, s:I, s:o}, s:o, s:I, s:I, "
			 "s:b}",
			 "requests", (json_int_t)atomic_load(&S.requests), "in_flight",
			 (json_int_t)atomic_load(&S.in_flight), "max_in_flight",
			 (json_int_t)atomic_load(&S.max_in_flight), "connections",
			 (json_int_t)atomic_load(&S.connections), "not_modified",
			 (json_int_t)atomic_load(&S.not_modified), "routes", routes, "status",
			 status, "slow", "in_flight", (json_int_t)atomic_load(&S.slow_in_flight),
			 "max_in_flight", (json_int_t)atomic_load(&S.slow_max), "by_host", hosts,
			 "paths", paths, "pages", (json_int_t)S.npages, "page_bumps",
			 (json_int_t)atomic_load(&S.bumps), "gzip", (int)atomic_load(&S.gzip));
}

static void reset_stats(void)
{
	atomic_store(&S.requests, 0);
	atomic_store(&S.connections, 0);
	atomic_store(&S.not_modified, 0);
	for (int i = 0; i < R__COUNT; i++)
		atomic_store(&S.by_route[i], 0);
	for (int i = 0; i < 600; i++)
		atomic_store(&S.by_status[i], 0);
	/* in-flight counts stay (requests are still running); their peaks restart */
	atomic_store(&S.max_in_flight, atomic_load(&S.in_flight));
	atomic_store(&S.slow_max, atomic_load(&S.slow_in_flight));
	pthread_mutex_lock(&S.stats_lock);
	free_counters(S.paths);
	S.paths = NULL;
	S.npaths = 0;
	struct counter **pp = &S.slow_hosts;
	while (*pp) { /* keep hosts with requests in flight, reset their peaks */
		struct counter *k = *pp;
		if (k->cur) {
			k->max = k->cur;
			k->count = 0;
			pp = &k->next;
		} else {
			*pp = k->next;
			free(k->key);
			free(k);
		}
	}
	pthread_mutex_unlock(&S.stats_lock);
}

static enum MHD_Result control_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	return reply_json(c, status, json_pack("{s:s}", "error", msg));
}

static enum MHD_Result control(struct MHD_Connection *c, struct req *r, const char *url,
			       const char *method)
{
	const char *what = url + strlen("/_control/");
	bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;

	if (strncmp(what, "page/", 5) == 0) {
		char *path = xasprintf("/%s", what + 5);
		if (strcmp(method, "PUT") == 0 || post) {
			if (r->upload_too_big) {
				free(path);
				return control_error(c, 413, "page body over 16 MiB");
			}
			const char *ct = header(c, "Content-Type");
			const char *et = arg(c, "etag"), *lmq = arg(c, "last_modified");
			struct page *pg = xcalloc(1, sizeof *pg);
			pg->path = path;
			pg->len = r->upload.len;
			pg->body = xmalloc(pg->len + 1);
			memcpy(pg->body, buf_str(&r->upload), pg->len);
			pg->body[pg->len] = '\0';
			pg->ctype = xstrdup(ct && *ct ? ct : "text/html; charset=utf-8");
			pg->status = (int)arg_long(c, "status", 200);
			if (pg->status < 100 || pg->status > 599)
				pg->status = 200;
			pg->etag_on = !(et && strcmp(et, "0") == 0);
			pg->lm_on = !(lmq && strcmp(lmq, "0") == 0);
			body_etag(pg->body, pg->len, pg->etag, sizeof pg->etag);
			pg->mtime = time(NULL);
			pthread_rwlock_wrlock(&S.lock);
			struct page **pp = page_slot(path);
			if (*pp) {
				struct page *old = *pp;
				pg->next = old->next;
				/* keep Last-Modified when the content did not change */
				if (old->len == pg->len &&
				    memcmp(old->body, pg->body, pg->len) == 0)
					pg->mtime = old->mtime;
				free(old->path);
				free(old->body);
				free(old->ctype);
				free(old);
			}
			*pp = pg;
			pthread_rwlock_unlock(&S.lock);
			return reply_json(c, 200,
					  json_pack("{s:s, s:s, s:I}", "path", pg->path, "etag",
						    pg->etag, "bytes", (json_int_t)pg->len));
		}
		if (strcmp(method, "DELETE") == 0) {
			pthread_rwlock_wrlock(&S.lock);
			struct page **pp = page_slot(path);
			bool found = *pp != NULL;
			if (found) {
				struct page *old = *pp;
				*pp = old->next;
				free(old->path);
				free(old->body);
				free(old->ctype);
				free(old);
			}
			pthread_rwlock_unlock(&S.lock);
			json_t *j = json_pack("{s:s, s:b}", "path", path, "deleted", found);
			free(path);
			return reply_json(c, found ? 200 : 404, j);
		}
		free(path);
		return control_error(c, 405, "use PUT or DELETE on /_control/page/<path>");
	}
	if (strcmp(what, "news") == 0 || strcmp(what, "news/add") == 0) {
		if (!post)
			return control_error(c, 405, "POST a JSON body");
		json_error_t je;
		json_t *j = json_loadb(buf_str(&r->upload), r->upload.len, 0, &je);
		if (!j)
			return control_error(c, 400, je.text);
		char why[256] = "";
		bool add = strcmp(what, "news/add") == 0;
		json_t *arr = add ? NULL : json_object_get(j, "items");
		if (!add && !json_is_array(arr)) {
			json_decref(j);
			return control_error(c, 400, "expected {\"items\": [...]}");
		}
		size_t n = add ? 1 : json_array_size(arr);
		struct item *items = xcalloc(n ? n : 1, sizeof *items);
		for (size_t i = 0; i < n; i++) {
			if (item_from_json(add ? j : json_array_get(arr, i), &items[i], why,
					   sizeof why)) {
				for (size_t k = 0; k < i; k++)
					item_free(&items[k]);
				free(items);
				json_decref(j);
				return control_error(c, 400, why);
			}
		}
		json_decref(j);
		pthread_rwlock_wrlock(&S.lock);
		for (size_t i = 0; i < n; i++)
			items[i].id = ++S.next_item_id;
		if (add) {
			S.items = xrealloc(S.items, (S.nitems + 1) * sizeof *S.items);
			memmove(S.items + 1, S.items, S.nitems * sizeof *S.items);
			S.items[0] = items[0];
			S.nitems++;
			free(items);
		} else {
			for (size_t i = 0; i < S.nitems; i++)
				item_free(&S.items[i]);
			free(S.items);
			S.items = items;
			S.nitems = n;
		}
		time_t now = time(NULL);
		S.news_mtime = now > S.news_mtime ? now : S.news_mtime + 1;
		size_t total = S.nitems;
		pthread_rwlock_unlock(&S.lock);
		return reply_json(c, 200, json_pack("{s:I}", "items", (json_int_t)total));
	}
	if (strcmp(what, "price") == 0) {
		if (!post)
			return control_error(c, 405, "POST /_control/price?value=N");
		const char *v = arg(c, "value"), *id = arg(c, "id"), *cur = arg(c, "currency");
		char *end = NULL;
		double d = v ? strtod(v, &end) : 0;
		if (!v || !*v || *end)
			return control_error(c, 400, "value must be a number");
		pthread_rwlock_wrlock(&S.lock);
		price_set(id ? id : "bitcoin", cur ? cur : "usd", d);
		time_t now = time(NULL);
		S.price_mtime = now > S.price_mtime ? now : S.price_mtime + 1;
		pthread_rwlock_unlock(&S.lock);
		return reply_json(c, 200,
				  json_pack("{s:s, s:s, s:o}", "id", id ? id : "bitcoin",
					    "currency", cur ? cur : "usd", "value", number(d)));
	}
	if (strcmp(what, "bump") == 0) {
		if (!post)
			return control_error(c, 405, "POST /_control/bump?percent=P");
		long page = arg_long(c, "page", -1), count = arg_long(c, "count", -1);
		const char *pct = arg(c, "percent");
		int64_t now = (int64_t)time(NULL);
		json_t *sample = json_array();
		size_t bumped = 0;
		if (page >= 0) {
			if ((size_t)page >= S.npages)
				return control_error(c, 404, "no such page");
			atomic_fetch_add(&S.versions[page], 1);
			atomic_store(&S.vmtime[page], now);
			json_array_append_new(sample, json_integer(page));
			bumped = 1;
		} else {
			if (pct)
				count = (long)(strtod(pct, NULL) * (double)S.npages / 100.0 + 0.5);
			if (count < 0)
				count = 0;
			if ((size_t)count > S.npages)
				count = (long)S.npages;
			pthread_mutex_lock(&S.rng_lock);
			for (long i = 0; i < count; i++) {
				size_t n = (size_t)(xorshift(&S.rng) % S.npages);
				atomic_fetch_add(&S.versions[n], 1);
				atomic_store(&S.vmtime[n], now);
				if (i < 100)
					json_array_append_new(sample, json_integer((json_int_t)n));
			}
			pthread_mutex_unlock(&S.rng_lock);
			bumped = (size_t)count;
		}
		atomic_fetch_add(&S.bumps, bumped);
		return reply_json(
			c, 200,
			json_pack("{s:I, s:o}", "bumped", (json_int_t)bumped, "sample", sample));
	}
	if (strcmp(what, "gzip") == 0 && post) {
#ifndef FIXTURE_HAVE_ZLIB
		return control_error(c, 501, "built without zlib (install zlib1g-dev)");
#endif
		atomic_store(&S.gzip, arg_long(c, "on", 1) != 0);
		return reply_json(c, 200, json_pack("{s:b}", "gzip", (int)atomic_load(&S.gzip)));
	}
	if (strcmp(what, "weather") == 0 && post) {
		json_error_t je;
		json_t *j = json_loadb(buf_str(&r->upload), r->upload.len, 0, &je);
		if (!json_is_object(j)) {
			json_decref(j);
			return control_error(c, 400,
					     "body must be a JSON object of current values");
		}
		pthread_rwlock_wrlock(&S.lock);
		json_object_update(S.weather, j);
		json_t *now = json_deep_copy(S.weather);
		pthread_rwlock_unlock(&S.lock);
		json_decref(j);
		return reply_json(c, 200, now);
	}
	if (strcmp(what, "stats") == 0 && get)
		return reply_json(c, 200, stats_json());
	if (strcmp(what, "reset_stats") == 0 && post) {
		reset_stats();
		return reply_json(c, 200, json_pack("{s:b}", "reset", 1));
	}
	return control_error(c, 404,
			     "unknown control endpoint; see the comment at the top of "
			     "tests/fixture_web/fixture_web.c");
}

/* ---- dispatch ----------------------------------------------------------- */

static enum route route_of(const char *url)
{
	if (strncmp(url, "/page/", 6) == 0)
		return R_PAGE;
	if (strncmp(url, "/_control/", 10) == 0)
		return R_CONTROL;
	if (strcmp(url, "/news") == 0 || strcmp(url, "/news/plain") == 0)
		return R_NEWS;
	if (strcmp(url, "/rss.xml") == 0 || strcmp(url, "/atom.xml") == 0)
		return R_FEED;
	if (strncmp(url, "/articles/", 10) == 0)
		return R_ARTICLE;
	if (strcmp(url, "/api/v3/simple/price") == 0)
		return R_PRICE;
	if (strcmp(url, "/slow") == 0)
		return R_SLOW;
	if (strncmp(url, "/status/", 8) == 0)
		return R_STATUS;
	if (strcmp(url, "/flaky") == 0)
		return R_FLAKY;
	if (strcmp(url, "/reset") == 0)
		return R_RESET;
	if (strcmp(url, "/garbage") == 0)
		return R_GARBAGE;
	if (strcmp(url, "/big") == 0)
		return R_BIG;
	if (strcmp(url, "/redirect") == 0 || strncmp(url, "/redirect-chain/", 16) == 0)
		return R_REDIRECT;
	if (strcmp(url, "/echo") == 0)
		return R_ECHO;
	if (strcmp(url, "/v1/search") == 0)
		return R_GEOCODING;
	if (strcmp(url, "/v1/forecast") == 0)
		return R_FORECAST;
	return R_NOT_FOUND;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **ctx)
{
	(void)cls;
	(void)version;
	struct req *r = *ctx;
	if (!r) {
		r = xcalloc(1, sizeof *r);
		buf_init(&r->upload, MAX_UPLOAD);
		r->route = route_of(url);
		*ctx = r;
		atomic_fetch_add(&S.requests, 1);
		long cur = atomic_fetch_add(&S.in_flight, 1) + 1;
		atomic_max(&S.max_in_flight, cur);
		if (r->route != R_PAGE) {
			pthread_mutex_lock(&S.stats_lock);
			struct counter *k = S.paths;
			while (k && strcmp(k->key, url) != 0)
				k = k->next;
			if (!k && S.npaths < MAX_PATHS) {
				k = counter_get(&S.paths, url);
				S.npaths++;
			}
			if (k)
				k->count++;
			pthread_mutex_unlock(&S.stats_lock);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (buf_append(&r->upload, upload_data, *upload_data_size))
			r->upload_too_big = true;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->route != R_CONTROL && r->slow_state == 0) {
		pthread_rwlock_rdlock(&S.lock);
		struct page *pg = *page_slot(url);
		if (pg) {
			atomic_fetch_add(&S.by_route[R_STORED], 1);
			return serve_stored(c, pg); /* unlocks */
		}
		pthread_rwlock_unlock(&S.lock);
	}
	if (r->slow_state == 0)
		atomic_fetch_add(&S.by_route[r->route], 1);
	switch (r->route) {
	case R_PAGE:
		return serve_page(c, url);
	case R_NEWS:
	case R_FEED:
		return serve_news(c, url);
	case R_ARTICLE:
		return serve_article(c, url);
	case R_PRICE:
		return serve_price(c);
	case R_SLOW:
		return serve_slow(c, r);
	case R_STATUS:
		return serve_status(c, url);
	case R_FLAKY:
		return serve_flaky(c);
	case R_RESET:
		return serve_reset(c);
	case R_GARBAGE:
		return serve_garbage(c);
	case R_BIG:
		return serve_big(c);
	case R_REDIRECT:
		return serve_redirect(c, url);
	case R_ECHO:
		return serve_echo(c, r, url, method);
	case R_GEOCODING:
		return serve_geocoding(c);
	case R_FORECAST:
		return serve_forecast(c);
	case R_CONTROL:
		return control(c, r, url, method);
	default:
		return reply_text(c, 404, "nothing at %s\n", url);
	}
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct req *r = *ctx;
	if (!r)
		return;
	atomic_fetch_sub(&S.in_flight, 1);
	slow_leave(r);
	free(r->slow_host);
	buf_cleanup(&r->upload);
	free(r);
	*ctx = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)c;
	(void)socket_ctx;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&S.connections, 1);
}

/* ---- main --------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: fixture_web [--port N] [--bind ADDR] [--threads N] [--pages N] "
			"[--page-size BYTES] [--gzip]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long port = 0, threads = 2;
	const char *bind_addr = "127.0.0.1";
	S.npages = 100000;
	S.page_size = 10240;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--gzip") == 0) {
			atomic_store(&S.gzip, true);
			continue;
		}
		if (!v)
			usage();
		if (strcmp(a, "--port") == 0)
			port = strtol(v, NULL, 10);
		else if (strcmp(a, "--bind") == 0)
			bind_addr = v;
		else if (strcmp(a, "--threads") == 0)
			threads = strtol(v, NULL, 10);
		else if (strcmp(a, "--pages") == 0)
			S.npages = (size_t)strtoull(v, NULL, 10);
		else if (strcmp(a, "--page-size") == 0)
			S.page_size = (size_t)strtoull(v, NULL, 10);
		else
			usage();
		i++;
	}
	if (port < 0 || port > 65535 || threads < 1 || threads > 256 || S.npages < 1 ||
	    S.npages > 50000000 || S.page_size < 512 || S.page_size > FILLER_SIZE / 2) {
		fprintf(stderr, "fixture_web: an option is out of range (page size 512 to %u)\n",
			FILLER_SIZE / 2);
		return 2;
	}

	/* many keep-alive connections in the benchmark: lift the fd limit */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	S.start = time(NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the slow timers use it */
	pthread_cond_init(&T.cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_rwlock_init(&S.lock, NULL);
	pthread_mutex_init(&S.stats_lock, NULL);
	pthread_mutex_init(&S.rng_lock, NULL);
	S.rng = 0x2545F4914F6CDD1Dull;
	S.versions = xcalloc(S.npages, sizeof *S.versions);
	S.vmtime = xcalloc(S.npages, sizeof *S.vmtime);
	for (size_t i = 0; i < S.npages; i++)
		atomic_init(&S.vmtime[i], (int64_t)S.start);
	filler_init();
	news_defaults();
	weather_defaults();
	price_set("bitcoin", "usd", 65000);
	price_set("bitcoin", "eur", 60000);
	price_set("ethereum", "usd", 3500);
	S.price_mtime = S.start;

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (inet_pton(AF_INET, bind_addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, bind_addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		flags |= MHD_USE_IPv6;
	} else {
		fprintf(stderr, "fixture_web: --bind needs an IP address, not '%s'\n", bind_addr);
		return 2;
	}

	struct MHD_Daemon *d = MHD_start_daemon(
		flags, (uint16_t)port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &ss,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)20000, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)4096, MHD_OPTION_NOTIFY_COMPLETED,
		on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
		MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "fixture_web: cannot listen on %s port %ld: %s\n", bind_addr, port,
			strerror(errno));
		return 1;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
	struct sockaddr_storage bound;
	socklen_t bl = sizeof bound;
	if (!di || getsockname(di->listen_fd, (struct sockaddr *)&bound, &bl) != 0) {
		fprintf(stderr, "fixture_web: cannot read the bound port\n");
		MHD_stop_daemon(d);
		return 1;
	}
	unsigned short p =
		ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						  : ((struct sockaddr_in *)&bound)->sin_port);
	pthread_create(&T.thread, NULL, timer_main, NULL);
	if (bound.ss_family == AF_INET6)
		printf("listening http://[%s]:%u\n", bind_addr, p);
	else
		printf("listening http://%s:%u\n", bind_addr, p);
	fflush(stdout);

	int sig = 0;
	sigdelset(&set, SIGPIPE);
	sigwait(&set, &sig);

	pthread_mutex_lock(&T.lock);
	T.stop = true;
	pthread_cond_signal(&T.cond);
	pthread_mutex_unlock(&T.lock);
	pthread_join(T.thread, NULL);
	MHD_stop_daemon(d);

	for (size_t i = 0; i < PAGE_BUCKETS; i++) {
		for (struct page *pg = S.pages[i], *n; pg; pg = n) {
			n = pg->next;
			free(pg->path);
			free(pg->body);
			free(pg->ctype);
			free(pg);
		}
	}
	for (size_t i = 0; i < S.nitems; i++)
		item_free(&S.items[i]);
	free(S.items);
	free((void *)S.versions);
	free((void *)S.vmtime);
	free(S.filler);
	free_counters(S.paths);
	free_counters(S.slow_hosts);
	free_counters(S.flaky);
	json_decref(S.weather);
	return 0;
}
