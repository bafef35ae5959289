/*
 * feed.h - news sources for digests: RSS 2.0, RSS 1.0 (RDF), Atom, feed
 * discovery and headline extraction from HTML, categories and
 * de-duplication keys (pure: bytes in, items out).
 *
 * Feeds are parsed with libxml2's XML parser in recover mode (real feeds
 * are often slightly broken) without network access and without loading
 * or expanding entities: a feed whose DOCTYPE declares entities is refused
 * (that is how XXE and "billion laughs" attacks are written; no real feed
 * does it), and entity references are never followed.  Undeclared HTML
 * entities that feeds like to use (&nbsp; &hellip; ...) are decoded.
 * Titles and summaries come out as plain, valid UTF-8 text (the HTML in
 * RSS descriptions and Atom html/xhtml content is reduced to its text).
 * Links are absolute http(s) URLs (xml:base and the feed URL are applied).
 * Dates are RFC 822 (RSS, with the usual variants) or RFC 3339 (Atom,
 * dc:date), as microseconds since the epoch, UTC.
 *
 * Without a feed, feed_scan_html finds a page's feeds (<link
 * rel="alternate" type="application/rss+xml" ...>) and, as a fallback, its
 * headlines: h1-h3 texts and links whose text is 20-200 characters long,
 * outside nav, footer and aside elements, de-duplicated, in page order.
 */
#ifndef AMBIENT_DOMAIN_FEED_H
#define AMBIENT_DOMAIN_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define FEED_INPUT_MAX (8u << 20) /* bytes parsed; the rest is cut */
#define FEED_ITEMS_MAX 100        /* default of max_items */
#define FEED_SUMMARY_MAX 500      /* default of summary_max, bytes */
#define FEED_TITLE_MAX 400        /* bytes of a title */
#define FEED_TAGS_MAX 10          /* <category> values kept per item */
#define FEED_DISCOVER_MAX 8       /* feed URLs kept from a page */
#define FEED_HEADLINE_MIN 20      /* characters of a headline, at least */
#define FEED_HEADLINE_MAX 200     /* and at most */
#define FEED_KEY_LEN 32           /* hex digits of an item key */
#define FEED_CATEGORIES_MAX 64    /* categories of a classifier */

enum feed_kind {
	FEED_NONE,
	FEED_RSS2, /* also RSS 0.9x */
	FEED_RSS1, /* RDF Site Summary */
	FEED_ATOM, /* also Atom 0.3 */
	FEED_HTML, /* headlines extracted from a page */
};

struct feed_item {
	char *title;          /* plain text; never NULL, may be "" */
	char *link;           /* absolute http(s) URL, or NULL */
	char *id;             /* guid, atom:id or rdf:about, or NULL */
	char *summary;        /* plain text of at most summary_max bytes, or NULL */
	int64_t published_us; /* UTC microseconds since the epoch; 0 = unknown */
	char **tags;          /* the feed's own <category> values */
	size_t n_tags;
	uint64_t categories; /* bit i: category i of a classifier (feed_classify_items) */
};

struct feed {
	enum feed_kind kind;
	char *title; /* the channel's or page's title, or NULL */
	char *link;  /* the channel's site link, or NULL */
	char *description;
	struct feed_item *items;
	size_t n_items;
	bool truncated; /* more items than max_items, or the input was cut */
};

struct feed_opts {
	const char *url;      /* where the bytes came from, for relative links */
	const char *encoding; /* charset of the HTTP Content-Type, or NULL */
	size_t max_items;     /* 0: FEED_ITEMS_MAX */
	size_t summary_max;   /* 0: FEED_SUMMARY_MAX */
};

/* Whether the bytes look like an XML feed rather than a page: after a BOM,
 * white space, an XML declaration, comments, processing instructions and
 * a DOCTYPE, the root element is rss, feed, RDF (any prefix) or channel.
 * For servers that send feeds as text/html or pages as application/xml. */
bool feed_sniff(const char *data, size_t len);

/* Parse a feed into *out (caller-owned; always release with
 * feed_cleanup).  ERR_INVALID when it is not RSS or Atom ("not an RSS or
 * Atom feed: the root element is <html>") or declares entities. */
int feed_parse(const char *data, size_t len, const struct feed_opts *o, struct feed *out,
	       struct err *e);
void feed_cleanup(struct feed *f);

/* What a page offers: its feeds, and its headlines as FEED_HTML items
 * (title and link; no dates).  Never fails on content. */
struct feed_page {
	char **feeds; /* absolute URLs of <link rel=alternate> RSS/Atom feeds */
	size_t n_feeds;
	struct feed headlines;
};

void feed_scan_html(const char *html, size_t len, const struct feed_opts *o, struct feed_page *out);
void feed_page_cleanup(struct feed_page *p);

/* RFC 822 / RFC 2822 ("Tue, 10 Jun 2003 04:00:00 GMT", "+0200", "EST",
 * two-digit years, no weekday, no seconds, full month names) or RFC 3339
 * / ISO 8601 ("2003-06-10T04:00:00.5+02:00", "2003-06-10", no zone = UTC)
 * to microseconds since the epoch.  0 on success, -1 on text that is not
 * a date. */
int feed_parse_date(const char *s, int64_t *us);

/* --- categories ------------------------------------------------------- */

/* A named keyword list.  Keywords match like web_monitor keywords (whole
 * words, any case, see match.h). */
struct feed_category {
	const char *name;
	const char *const *keywords;
	size_t n_keywords;
};

struct feed_classifier;

/* The built-in lists (technology, business, science, world, sports,
 * health, entertainment, politics), then the user's: a user list with a
 * built-in name replaces it, other names are added.  `wanted` names that
 * are neither (e.g. "AI", "climate") become categories of their own whose
 * one keyword is the name.  Names compare case-insensitively; at most
 * FEED_CATEGORIES_MAX categories (the rest are ignored). */
struct feed_classifier *feed_classifier_new(const struct feed_category *user, size_t n_user,
					    const char *const *wanted, size_t n_wanted);
void feed_classifier_free(struct feed_classifier *c);

size_t feed_classifier_count(const struct feed_classifier *c);
const char *feed_classifier_name(const struct feed_classifier *c, size_t i);
/* Index of a category by name (any case), or -1. */
int feed_classifier_find(const struct feed_classifier *c, const char *name);
/* Mask of the named categories (unknown names add nothing). */
uint64_t feed_classifier_mask(const struct feed_classifier *c, const char *const *names, size_t n);

/* Categories of one text (title, summary and tags joined by the caller or
 * given separately; NULLs are skipped). */
uint64_t feed_classify(const struct feed_classifier *c, const char *title, const char *summary,
		       const char *const *tags, size_t n_tags);
/* Set items[i].categories for every item of f. */
void feed_classify_items(const struct feed_classifier *c, struct feed *f);
/* The names of a mask's categories into out (at most max); returns how
 * many. */
size_t feed_category_names(const struct feed_classifier *c, uint64_t mask, const char **out,
			   size_t max);

/* --- de-duplication ----------------------------------------------------- */

/* URL normalised for comparison: scheme dropped (http = https), host in
 * lower case without "www.", default port, fragment and tracking
 * parameters (utm_*, fbclid, gclid, mc_cid, mc_eid, igshid) dropped, no
 * trailing '/'.  Heap string; NULL when url is not an http(s) URL. */
char *feed_normalize_url(const char *url);

/* A stable key of an item: from its normalised link, else its id, else
 * its title (case folded, letters and digits only): FEED_KEY_LEN hex
 * digits of SHA-256.  The same story keeps its key across fetches, so
 * keys of reported items can be stored to drop them from later digests. */
void feed_item_key(const struct feed_item *it, char out[FEED_KEY_LEN + 1]);

/* Drop items whose key or folded title was seen earlier in the list
 * (keeping the first); returns how many were dropped. */
size_t feed_dedupe(struct feed *f);

#endif
