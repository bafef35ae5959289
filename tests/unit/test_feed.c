/* test_feed.c - RSS 2.0, RSS 1.0, Atom, dates, XXE, discovery, headlines,
 * categories and item keys.  Fixtures: tests/data/feeds/ (found next to
 * this file through __FILE__). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain/feed.h"

#define LIT(s) s, sizeof(s) - 1

static char *read_data(const char *name, size_t *len)
{
	char path[4096];
	const char *slash = strrchr(__FILE__, '/');
	int dir = slash ? (int)(slash - __FILE__) : 0;
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%.*s%s../data/feeds/%s", dir, __FILE__, slash ? "/" : "",
		 name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open fixture %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	*len = fread(buf, 1, (size_t)n, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static void parse_file(const char *name, const char *url, struct feed *f)
{
	size_t len;
	char *data = read_data(name, &len);
	struct feed_opts o = {.url = url};
	struct err e = {0};

	if (feed_parse(data, len, &o, f, &e) != ERR_OK)
		fail_msg("%s: %s", name, e.msg);
	assert_true(feed_sniff(data, len));
	free(data);
}

/* 2025-06-20T14:30:00Z and friends, in microseconds. */
#define T_2025_06_20 INT64_C(1750377600000000) /* midnight UTC */
#define HOUR INT64_C(3600000000)
#define MINUTE INT64_C(60000000)

static void test_rss2(void **state)
{
	struct feed f;

	(void)state;
	parse_file("rss2.xml", "https://news.example.com/feed.xml", &f);
	assert_int_equal(f.kind, FEED_RSS2);
	assert_string_equal(f.title, "Example Tech & Science");
	assert_string_equal(f.link, "https://news.example.com/");
	assert_string_equal(f.description, "Technology news, every day.");
	assert_false(f.truncated);
	assert_int_equal(f.n_items, 4);

	assert_string_equal(f.items[0].title, "OpenAI releases a new AI model");
	assert_string_equal(f.items[0].link, "https://news.example.com/2025/06/20/"
					     "openai-model?utm_source=rss&utm_medium=feed");
	assert_string_equal(f.items[0].id, "news-example-1001");
	assert_true(f.items[0].published_us == T_2025_06_20 + 14 * HOUR + 30 * MINUTE);
	/* CDATA holding HTML: text only */
	assert_string_equal(f.items[0].summary, "The company says the model is faster & cheaper.");
	assert_int_equal(f.items[0].n_tags, 2);
	assert_string_equal(f.items[0].tags[0], "Artificial Intelligence");
	assert_string_equal(f.items[0].tags[1], "Startups");

	/* relative link; escaped HTML in the description; EDT */
	assert_string_equal(f.items[1].link, "https://news.example.com/2025/06/20/stocks-rally");
	assert_string_equal(f.items[1].summary, "Markets rose on Friday after the report.");
	assert_true(f.items[1].published_us == T_2025_06_20 + 13 * HOUR);
	assert_null(f.items[1].id);

	/* a permalink guid is the link */
	assert_string_equal(f.items[2].link, "https://news.example.com/2025/06/19/squid");
	assert_true(f.items[2].published_us == T_2025_06_20 - 24 * HOUR + 18 * HOUR + 5 * MINUTE);

	/* no title: the start of the description; a bad date is unknown */
	assert_string_equal(f.items[3].title, "An item with no title, only a description that is "
					      "long enough to be useful.");
	assert_null(f.items[3].link);
	assert_true(f.items[3].published_us == 0);
	feed_cleanup(&f);
}

static void test_rss1(void **state)
{
	struct feed f;

	(void)state;
	parse_file("rss1.rdf", NULL, &f);
	assert_int_equal(f.kind, FEED_RSS1);
	assert_string_equal(f.title, "RDF Example");
	assert_int_equal(f.n_items, 2);
	assert_string_equal(f.items[0].title, "Election results are in");
	assert_string_equal(f.items[0].link, "https://rdf.example.org/a");
	assert_string_equal(f.items[0].id, "https://rdf.example.org/a");
	assert_true(f.items[0].published_us ==
		    T_2025_06_20 - 2 * 24 * HOUR + 5 * HOUR + 15 * MINUTE);
	assert_string_equal(f.items[0].tags[0], "Politics");
	assert_true(f.items[1].published_us == T_2025_06_20 - 3 * 24 * HOUR);
	assert_null(f.items[1].summary);
	feed_cleanup(&f);
}

static void test_atom(void **state)
{
	struct feed f;

	(void)state;
	parse_file("atom.xml", "https://ignored.example/atom.xml", &f);
	assert_int_equal(f.kind, FEED_ATOM);
	assert_string_equal(f.title, "Example Blog");
	assert_string_equal(f.description, "Notes on software");
	assert_string_equal(f.link, "https://blog.example.net/"); /* xml:base, not self */
	assert_int_equal(f.n_items, 3);

	/* type="html" title, doubly escaped; xml:base; rel=alternate over edit */
	assert_string_equal(f.items[0].title, "Rust & C: unsafe made simple");
	assert_string_equal(f.items[0].link, "https://blog.example.net/posts/rust-and-c");
	assert_string_equal(f.items[0].id, "tag:blog.example.net,2025:1");
	/* published (with a fraction and an offset) wins over updated */
	assert_true(f.items[0].published_us == T_2025_06_20 + 15 * HOUR + 250000);
	/* type="text" keeps '<' literally */
	assert_string_equal(f.items[0].summary, "Plain text <not a tag> summary.");
	assert_string_equal(f.items[0].tags[0], "Programming");

	/* entry-level xml:base; only updated; xhtml content as the summary */
	assert_string_equal(f.items[1].link, "https://other.example.net/sub/page");
	assert_true(f.items[1].published_us == T_2025_06_20 - 16 * HOUR);
	assert_string_equal(f.items[1].summary, "Machine learning in practice");

	/* xhtml title; html summary; no link */
	assert_string_equal(f.items[2].title, "An XHTML title");
	assert_string_equal(f.items[2].summary, "Escaped HTML summary");
	assert_null(f.items[2].link);
	feed_cleanup(&f);
}

static void test_broken_and_charsets(void **state)
{
	struct feed f;

	(void)state;
	/* undeclared HTML entities and a bare '&' survive; recover mode */
	parse_file("broken.xml", NULL, &f);
	assert_string_equal(f.title, "Broken feed");
	assert_true(f.n_items >= 1);
	assert_string_equal(f.items[0].title, "Café opens – fish & chips for everyone");
	assert_string_equal(f.items[0].link, "http://broken.example/cafe");
	feed_cleanup(&f);

	parse_file("latin1.xml", NULL, &f);
	assert_string_equal(f.title, "Latin été");
	assert_string_equal(f.items[0].title, "Café über alles");
	feed_cleanup(&f);
}

static void test_not_a_feed(void **state)
{
	struct feed f;
	struct err e = {0};
	const char *html = "<!DOCTYPE html><html><body><p>hi</p></body></html>";
	const char *junk = "\x00\x01\x02garbage";

	(void)state;
	assert_int_equal(feed_parse(html, strlen(html), NULL, &f, &e), ERR_INVALID);
	assert_string_equal(e.msg, "not an RSS or Atom feed: the root element is <html>");
	assert_false(feed_sniff(html, strlen(html)));
	assert_int_equal(feed_parse(junk, 10, NULL, &f, &e), ERR_INVALID);
	assert_int_equal(feed_parse("", 0, NULL, &f, &e), ERR_INVALID);
	assert_int_equal(feed_parse(NULL, 5, NULL, &f, &e), ERR_INVALID);
	feed_cleanup(&f);
	assert_true(feed_sniff(LIT("\xef\xbb\xbf<?xml version='1.0'?>\n<!-- c -->\n<!DOCTYPE rss "
				   "PUBLIC \"x\" \"y\">\n<rss>")));
	assert_true(feed_sniff(LIT("<atom:feed xmlns:atom='x'>")));
	assert_true(feed_sniff(LIT("<rdf:RDF>")));
	assert_false(feed_sniff("<rss", 2));
	assert_false(feed_sniff(LIT("{\"json\": 1}")));
	assert_false(feed_sniff(NULL, 0));
}

/* ASCII to UTF-16LE with a BOM: the "<!ENTITY" pre-check cannot see it. */
static char *utf16(const char *s, size_t *len)
{
	size_t n = strlen(s);
	char *o = malloc(2 * n + 2);

	o[0] = (char)0xFF;
	o[1] = (char)0xFE;
	for (size_t i = 0; i < n; i++) {
		o[2 + 2 * i] = s[i];
		o[3 + 2 * i] = 0;
	}
	*len = 2 * n + 2;
	return o;
}

static void test_xxe_refused(void **state)
{
	struct feed f;
	struct err e = {0};
	size_t len;
	char *data;
	const char *ok = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><rss><channel><item><title>"
			 "wide</title></item></channel></rss>";

	(void)state;
	data = read_data("xxe.xml", &len);
	assert_int_equal(feed_parse(data, len, NULL, &f, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "declares entities"));
	assert_int_equal(f.n_items, 0);
	feed_cleanup(&f);
	{
		/* the same in UTF-16: refused after parsing, nothing read */
		char *ascii = data, *wide;

		data[len] = '\0';
		wide = utf16(ascii, &len);
		err_clear(&e);
		assert_int_equal(feed_parse(wide, len, NULL, &f, &e), ERR_INVALID);
		assert_non_null(strstr(e.msg, "declares entities"));
		free(wide);
	}
	free(data);

	data = read_data("billion_laughs.xml", &len);
	assert_int_equal(feed_parse(data, len, NULL, &f, &e), ERR_INVALID);
	{
		char *wide;

		data[len] = '\0';
		wide = utf16(data, &len);
		assert_int_equal(feed_parse(wide, len, NULL, &f, &e), ERR_INVALID);
		free(wide);
	}
	free(data);

	/* UTF-16 without entities parses */
	data = utf16(ok, &len);
	assert_int_equal(feed_parse(data, len, NULL, &f, &e), ERR_OK);
	assert_int_equal(f.n_items, 1);
	assert_string_equal(f.items[0].title, "wide");
	feed_cleanup(&f);
	free(data);

	/* an external DTD is never fetched, and its entities stay unknown */
	{
		const char *ext = "<?xml version=\"1.0\"?><!DOCTYPE rss SYSTEM "
				  "\"file:///etc/passwd\"><rss><channel><item><title>a&foo;b"
				  "</title></item></channel></rss>";

		assert_int_equal(feed_parse(ext, strlen(ext), NULL, &f, &e), ERR_OK);
		assert_string_equal(f.items[0].title, "a&foo;b");
		feed_cleanup(&f);
	}
}

static void test_limits(void **state)
{
	struct feed f;
	struct feed_opts o = {.max_items = 3, .summary_max = 20};
	size_t cap = 1 << 20, len = 0;
	char *d = malloc(cap);

	(void)state;
	len += (size_t)sprintf(d + len, "<rss><channel>");
	for (int i = 0; i < 10; i++)
		len += (size_t)sprintf(d + len,
				       "<item><title>t%d</title><description>a long description "
				       "of item %d</description></item>",
				       i, i);
	len += (size_t)sprintf(d + len, "</channel></rss>");
	assert_int_equal(feed_parse(d, len, &o, &f, NULL), ERR_OK);
	assert_int_equal(f.n_items, 3);
	assert_true(f.truncated);
	assert_string_equal(f.items[0].summary, "a long descriptio…");
	assert_true(strlen(f.items[0].summary) <= 20);
	feed_cleanup(&f);

	/* deep nesting does not crash (libxml2 caps the depth) */
	len = 0;
	len += (size_t)sprintf(d + len, "<rss><channel><item><title>");
	for (int i = 0; i < 5000; i++)
		len += (size_t)sprintf(d + len, "<b>");
	len += (size_t)sprintf(d + len, "x");
	assert_int_equal(feed_parse(d, len, NULL, &f, NULL), ERR_OK);
	feed_cleanup(&f);

	/* many bare ampersands */
	memset(d, '&', cap);
	memcpy(d, "<rss><channel><item><title>", 27);
	assert_int_equal(feed_parse(d, cap, NULL, &f, NULL), ERR_OK);
	feed_cleanup(&f);
	free(d);
}

static void test_dates(void **state)
{
	struct {
		const char *s;
		int64_t want; /* seconds since the epoch */
	} ok[] = {
		{"Fri, 20 Jun 2025 14:30:00 +0000", 1750429800},
		{"Fri, 20 Jun 2025 14:30:00 GMT", 1750429800},
		{"Fri, 20 Jun 2025 14:30:00 UT", 1750429800},
		{"Fri, 20 Jun 2025 14:30:00 Z", 1750429800},
		{"Fri, 20 Jun 2025 16:30:00 +0200", 1750429800},
		{"Fri, 20 Jun 2025 16:30:00 +02:00", 1750429800},
		{"Fri, 20 Jun 2025 10:30:00 EDT", 1750429800},
		{"Fri, 20 Jun 2025 09:30:00 EST", 1750429800},
		{"Fri, 20 Jun 2025 07:30:00 PDT", 1750429800},
		{"Fri, 20 Jun 2025 16:30:00 CEST", 1750429800},
		{"20 Jun 2025 14:30:00 GMT", 1750429800},
		{"Friday, 20 June 2025 14:30:00 GMT", 1750429800},
		{"Fri, 20 Jun 25 14:30:00 GMT", 1750429800},
		{"Fri, 20 Jun 2025 14:30 GMT", 1750429800},
		{"Fri, 20 jun 2025 14:30:00", 1750429800},
		{"Fri,20 Jun 2025 14:30:00 GMT", 1750429800},
		{"  Fri, 20 Jun 2025 14:30:00 GMT  ", 1750429800},
		{"Fri, 20 Jun 2025 14:30:00 GMT (Coordinated)", 1750429800},
		{"Fri, 20 Sept 2024 14:30:00 GMT", 1726842600},
		{"Fri, 20 Jun 2025 14:30:00 GMT+0100", 1750426200},
		{"Fri Jun 20 14:30:00 2025", 1750429800},
		{"Jun 20, 2025 14:30 GMT", 1750429800},
		{"Mon, 1 Jan 1990 00:00:00 GMT", 631152000},
		{"Sat, 01 Jan 00 00:00:00 GMT", 946684800},
		{"Thu, 31 Dec 99 23:59:59 GMT", 946684799},
		{"2025-06-20T14:30:00Z", 1750429800},
		{"2025-06-20T14:30:00z", 1750429800},
		{"2025-06-20t14:30:00+00:00", 1750429800},
		{"2025-06-20T16:30:00+02:00", 1750429800},
		{"2025-06-20T09:30:00-05:00", 1750429800},
		{"2025-06-20T16:30:00+0200", 1750429800},
		{"2025-06-20T16:30:00+02", 1750429800},
		{"2025-06-20 14:30:00", 1750429800},
		{"2025-06-20T14:30Z", 1750429800},
		{"2025-06-20", 1750377600},
		{"2024-02-29T00:00:00Z", 1709164800},
		{"2016-12-31T23:59:60Z", 1483228799},
		{"1970-01-01T00:00:00Z", 0},
		{"1969-12-31T23:59:59Z", -1},
	};
	const char *bad[] = {
		"",
		"not a date",
		"2025-13-01",
		"2025-02-30",
		"2025-02-29T00:00:00Z",
		"2025-06-20T25:00:00Z",
		"2025-06-20T14:61:00Z",
		"2025-06-20T14:30:00+25:00",
		"2025-06-20T14:30:00 junk",
		"2025-6-20",
		"32 Jun 2025 14:30:00 GMT",
		"20 Foo 2025 14:30:00 GMT",
		"20 Jun 2025 14:30:00 GMT extra",
		"Fri, 20 Jun 2025 14:30:00 +2500",
		"Fri, 20 Jun",
		"12345678901234567890",
		"2025-06-20T14:30:00.Z",
		"Fri, 20 Jun 2025 14:30:00 GMT (unclosed",
	};
	int64_t us;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (feed_parse_date(ok[i].s, &us) != 0)
			fail_msg("\"%s\" was refused", ok[i].s);
		if (us != ok[i].want * INT64_C(1000000))
			fail_msg("\"%s\" gave %lld, want %lld", ok[i].s, (long long)(us / 1000000),
				 (long long)ok[i].want);
	}
	assert_int_equal(feed_parse_date("2025-06-20T14:30:00.123456Z", &us), 0);
	assert_true(us == INT64_C(1750429800123456));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (feed_parse_date(bad[i], &us) == 0)
			fail_msg("\"%s\" was accepted", bad[i]);
	assert_int_equal(feed_parse_date(NULL, &us), -1);
}

static void test_discovery_and_headlines(void **state)
{
	size_t len;
	char *html = read_data("site.html", &len);
	struct feed_opts o = {.url = "https://daily.example/index.html"};
	struct feed_page p;

	(void)state;
	feed_scan_html(html, len, &o, &p);
	assert_int_equal(p.n_feeds, 2);
	assert_string_equal(p.feeds[0], "https://daily.example/rss/all.xml");
	assert_string_equal(p.feeds[1], "https://daily.example/atom");
	assert_int_equal(p.headlines.kind, FEED_HTML);
	assert_string_equal(p.headlines.title, "Example Daily – News");
	assert_int_equal(p.headlines.n_items, 4);
	assert_string_equal(p.headlines.items[0].title, "Central bank holds interest rates steady");
	assert_string_equal(p.headlines.items[0].link,
			    "https://daily.example/2025/06/20/central-bank-holds-rates");
	assert_string_equal(p.headlines.items[1].title,
			    "Scientists discover a new species of frog in Peru");
	assert_null(p.headlines.items[1].link);
	assert_string_equal(p.headlines.items[2].title,
			    "Underdogs win the football final on penalties");
	assert_string_equal(p.headlines.items[3].title, "Nested markup inside a headline link");
	assert_string_equal(p.headlines.items[3].link, "https://elsewhere.example/story");
	feed_page_cleanup(&p);

	o.max_items = 2;
	feed_scan_html(html, len, &o, &p);
	assert_int_equal(p.headlines.n_items, 2);
	assert_true(p.headlines.truncated);
	feed_page_cleanup(&p);
	free(html);

	feed_scan_html(NULL, 0, NULL, &p);
	assert_int_equal(p.n_feeds + p.headlines.n_items, 0);
	feed_page_cleanup(&p);
}

static void test_categories(void **state)
{
	static const char *const my_tech[] = {"Rust", "compiler"};
	static const char *const crypto[] = {"bitcoin", "ethereum"};
	const struct feed_category user[] = {
		{"Technology", my_tech, 2},
		{"crypto", crypto, 2},
	};
	const char *wanted[] = {"technology", "climate", "crypto", "sports"};
	struct feed_classifier *c = feed_classifier_new(NULL, 0, NULL, 0);
	const char *names[8];
	uint64_t m;
	struct feed f;

	(void)state;
	assert_int_equal(feed_classifier_count(c), 8);
	assert_string_equal(feed_classifier_name(c, 0), "technology");
	assert_int_equal(feed_classifier_find(c, "SPORTS"), 4);
	assert_int_equal(feed_classifier_find(c, "nope"), -1);
	m = feed_classify(c, "Nvidia shares jump as AI demand soars", NULL, NULL, 0);
	assert_int_equal(feed_category_names(c, m, names, 8), 2);
	assert_string_equal(names[0], "technology");
	assert_string_equal(names[1], "business");
	m = feed_classify(c, "Striker scores twice in Champions League win", NULL, NULL, 0);
	assert_true(m == (UINT64_C(1) << 4));
	m = feed_classify(c, "New vaccine trial", "Doctors hope it prevents measles", NULL, 0);
	assert_true(m == (UINT64_C(1) << 5));
	m = feed_classify(c, "Main street email campaign", NULL, NULL, 0); /* no "AI" */
	assert_true(m == (UINT64_C(1) << 7));
	m = feed_classify(c, "Nothing here", NULL, (const char *const[]){"Sports"}, 1);
	assert_true(m == (UINT64_C(1) << 4)); /* a tag named like a category */
	assert_true(feed_classify(c, "", "", NULL, 0) == 0);
	feed_classifier_free(c);

	/* user lists replace built-in ones; wanted names become categories */
	c = feed_classifier_new(user, 2, wanted, 4);
	assert_int_equal(feed_classifier_count(c), 10);
	assert_string_equal(feed_classifier_name(c, 8), "crypto");
	assert_string_equal(feed_classifier_name(c, 9), "climate");
	m = feed_classify(c, "AI is everywhere", NULL, NULL, 0);
	assert_true(m == 0); /* technology is now Rust and compiler */
	m = feed_classify(c, "The Rust compiler gets faster", NULL, NULL, 0);
	assert_true(m == 1);
	m = feed_classify(c, "Bitcoin tops $100k as climate talks stall", NULL, NULL, 0);
	assert_true(m == ((UINT64_C(1) << 8) | (UINT64_C(1) << 9) | (UINT64_C(1) << 3)) ||
		    m == ((UINT64_C(1) << 8) | (UINT64_C(1) << 9)));
	assert_true(feed_classifier_mask(c, wanted, 4) ==
		    (1 | (UINT64_C(1) << 9) | (UINT64_C(1) << 8) | (UINT64_C(1) << 4)));
	parse_file("rss2.xml", "https://news.example.com/feed.xml", &f);
	feed_classify_items(c, &f);
	assert_true((f.items[0].categories & 1) == 0); /* "AI" is no longer technology */
	assert_true(f.items[0].categories & 2);        /* "company": business */
	feed_cleanup(&f);
	feed_classifier_free(c);
	feed_classifier_free(NULL);
}

static void test_keys_and_dedupe(void **state)
{
	struct {
		const char *in, *want;
	} norm[] = {
		{"https://www.Example.COM/a/b/?utm_source=x&id=3&fbclid=y#frag",
		 "example.com/a/b?id=3"},
		{"http://example.com:80/a", "example.com/a"},
		{"https://example.com:443/", "example.com"},
		{"https://example.com:8443/", "example.com:8443"},
		{"https://user:pw@example.com/x", "example.com/x"},
		{"https://example.com/x?utm_medium=a", "example.com/x"},
		{"ftp://example.com/", NULL},
	};
	struct feed_item a = {.title = "Title",
			      .link = "https://www.example.com/story/?utm_source=rss"};
	struct feed_item b = {.title = "Other title", .link = "http://example.com/story#x"};
	struct feed_item c = {.title = "Same  TITLE!", .id = "guid-1"};
	struct feed_item d = {.title = "same title"};
	struct feed_item e = {.title = "Same title?"};
	char ka[FEED_KEY_LEN + 1], kb[FEED_KEY_LEN + 1], kc[FEED_KEY_LEN + 1], kd[FEED_KEY_LEN + 1],
		ke[FEED_KEY_LEN + 1];
	struct feed f;

	(void)state;
	for (size_t i = 0; i < sizeof(norm) / sizeof(norm[0]); i++) {
		char *n = feed_normalize_url(norm[i].in);

		if (!norm[i].want)
			assert_null(n);
		else if (!n || strcmp(n, norm[i].want) != 0)
			fail_msg("%s gave %s, want %s", norm[i].in, n ? n : "NULL", norm[i].want);
		free(n);
	}
	feed_item_key(&a, ka);
	feed_item_key(&b, kb);
	feed_item_key(&c, kc);
	feed_item_key(&d, kd);
	feed_item_key(&e, ke);
	assert_int_equal(strlen(ka), FEED_KEY_LEN);
	assert_string_equal(ka, kb); /* same story, other URL spelling */
	assert_string_not_equal(kc, kd);
	assert_string_equal(kd, ke); /* titles compare folded, letters and digits */

	/* dedupe within a feed */
	parse_file("rss2.xml", "https://news.example.com/feed.xml", &f);
	f.items = realloc(f.items, (f.n_items + 2) * sizeof(*f.items));
	memset(&f.items[4], 0, 2 * sizeof(*f.items));
	f.items[4].title = strdup("Another title");
	f.items[4].link = strdup("http://news.example.com/2025/06/20/openai-model/");
	f.items[5].title = strdup("STOCKS rally as inflation cools!");
	f.n_items = 6;
	assert_int_equal(feed_dedupe(&f), 2);
	assert_int_equal(f.n_items, 4);
	feed_cleanup(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rss2),
		cmocka_unit_test(test_rss1),
		cmocka_unit_test(test_atom),
		cmocka_unit_test(test_broken_and_charsets),
		cmocka_unit_test(test_not_a_feed),
		cmocka_unit_test(test_xxe_refused),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_discovery_and_headlines),
		cmocka_unit_test(test_categories),
		cmocka_unit_test(test_keys_and_dedupe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
