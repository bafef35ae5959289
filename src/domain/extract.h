/*
 * extract.h - the visible text, title, metadata, links and images of an
 * HTML page, with libxml2's HTML parser (pure: bytes in, strings out).
 *
 * The text is what a reader sees, as UTF-8 lines: script, style, noscript,
 * template, svg, iframe, object, canvas and the head are dropped (the
 * <title> is kept as the first line when the whole page is extracted), as
 * are elements marked `hidden` or styled display:none / visibility:hidden.
 * Block elements (p, div, li, h1-h6, tr, br, ...) start new lines, runs of
 * white space become one space, blank lines are dropped, <pre> keeps its
 * line breaks.  Entities are decoded and any charset libxml2 knows is
 * converted (the HTTP header's charset when given, else a BOM or
 * <meta charset>, else UTF-8 falling back to Latin-1); the output is always
 * valid UTF-8.
 *
 * A selector narrows the text (and the links and images) to part of the
 * page: XPath when it starts with "/" or "(" or is a function call
 * ("string(//h1)", "count(//li)"), else a CSS subset translated
 * to XPath: type selectors and `*`, `.class`, `#id`, `[attr]`,
 * `[attr=val]`, `[attr~=val]`, `[attr^=val]`, `[attr$=val]`,
 * `[attr*=val]`, `[attr|=val]`, compounds (`div.news#top`), the
 * descendant, child (`>`), adjacent (`+`) and sibling (`~`) combinators,
 * and comma lists.  Pseudo-classes are refused with a message.  Each
 * matched element gives its text (nested matches are not repeated); an
 * XPath that yields a string or a number gives that.
 *
 * ignore_text removes whole lines: a line containing any of the strings
 * (case-insensitive, no word boundaries), or, for a string written
 * /like this/, matching that POSIX extended regular expression
 * (case-insensitive).  So "Updated at" drops "Updated at 10:32".
 *
 * Hostile input is expected (this is fuzzed): the input, the text, the
 * number of nodes walked, the depth walked, the links, images and meta
 * entries and XPath evaluation are all capped; caps cut the output (and set
 * `truncated`) rather than fail.  Thread-safe: libxml2 is initialised once;
 * a compiled selector may be used by one thread at a time.
 */
#ifndef AMBIENT_DOMAIN_EXTRACT_H
#define AMBIENT_DOMAIN_EXTRACT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* Defaults of struct extract_opts (a zero field takes its default). */
#define EXTRACT_INPUT_MAX (5u << 20) /* bytes of HTML parsed; the rest is cut */
#define EXTRACT_TEXT_MAX (1u << 20)  /* bytes of text produced */
#define EXTRACT_LINKS_MAX 1000
#define EXTRACT_IMAGES_MAX 200
/* Fixed caps. */
#define EXTRACT_META_MAX 64            /* meta entries kept */
#define EXTRACT_NODES_MAX 1000000      /* nodes walked */
#define EXTRACT_DEPTH_MAX 256          /* deeper content is skipped */
#define EXTRACT_XPATH_OPS_MAX 10000000 /* XPath evaluation steps */
#define EXTRACT_SELECTOR_MAX 4096      /* bytes of a selector */
#define EXTRACT_URL_MAX 2048           /* longer URLs are dropped */
#define EXTRACT_LINK_TEXT_MAX 300      /* bytes of a link's text or image's alt */
#define EXTRACT_META_VALUE_MAX 2000    /* bytes of a meta value or the title */

/* What to collect besides the text and the title. */
enum {
	EXTRACT_LINKS = 1 << 0,         /* <a href>, <area href> */
	EXTRACT_IMAGES = 1 << 1,        /* <img src> */
	EXTRACT_META = 1 << 2,          /* description, keywords, author, robots, og:*,
					 * twitter:*, article:*, dc.*, canonical */
	EXTRACT_NO_TITLE_LINE = 1 << 3, /* do not start the text with the title */
};

struct extract_selector;

struct extract_opts {
	const char *url;      /* page URL, to resolve links (NULL: relative links are dropped) */
	const char *encoding; /* charset of the HTTP Content-Type, or NULL */
	unsigned flags;
	/* Narrow the text: a compiled selector, or one to compile per call. */
	const struct extract_selector *selector;
	const char *selector_text;
	const char *const *ignore_text;
	size_t n_ignore;
	size_t max_input, max_text, max_links, max_images;
};

struct extract_link {
	char *url;  /* absolute http(s) URL */
	char *text; /* visible text (a link) or alt text (an image), may be "" */
};

struct extract_meta {
	char *name; /* lower case: "description", "og:title", "twitter:card", ... */
	char *content;
};

struct extract_result {
	char *text; /* UTF-8 lines joined by '\n', no trailing newline; never NULL */
	size_t text_len;
	char *title;       /* <title>, white space collapsed, or NULL */
	char *description; /* meta description, else og:description, or NULL */
	char *canonical;   /* <link rel=canonical>, absolute, or NULL */
	char *lang;        /* <html lang>, or NULL */
	struct extract_meta *meta;
	size_t n_meta;
	struct extract_link *links;
	size_t n_links;
	struct extract_link *images;
	size_t n_images;
	bool selector_matched; /* the selector found something (true without one) */
	bool truncated;        /* a cap cut the input or the output */
	size_t lines_ignored;  /* lines removed by ignore_text */
};

/* Extract from html[0..len) into *out (caller-owned; always release with
 * extract_result_cleanup, also after an error).  Errors: ERR_INVALID for a
 * bad selector or ignore_text regex (the message says what to fix).  An
 * empty or unparseable page is not an error: it has no text. */
int extract_html(const char *html, size_t len, const struct extract_opts *o,
		 struct extract_result *out, struct err *e);
void extract_result_cleanup(struct extract_result *r);

/* The content of a meta entry ("og:image"), or NULL. */
const char *extract_meta_get(const struct extract_result *r, const char *name);

/* The page's metadata as one new JSON object, for tools: title,
 * description, canonical and lang when known, then every meta entry, those
 * named og:*, twitter:*, article:*, dc.* / dcterms.* grouped under
 * "opengraph", "twitter", "article" and "dublin_core" without their prefix
 * ({"opengraph": {"title": ..., "image": ...}}), the rest (keywords,
 * author, robots, ...) at the top level.  Needs EXTRACT_META. */
json_t *extract_meta_json(const struct extract_result *r);

/* Compile a selector (CSS subset or XPath, see above).  NULL and
 * ERR_INVALID with a message naming the problem, e.g. "selector: ':hover'
 * is not supported (pseudo-classes are not): use tag, .class, #id, [attr],
 * [attr=value], combinators ' ', '>', '+', '~' and ','". */
struct extract_selector *extract_selector_new(const char *selector, struct err *e);
void extract_selector_free(struct extract_selector *s);
/* The XPath the selector runs. */
const char *extract_selector_xpath(const struct extract_selector *s);

/* Translate a CSS selector to XPath 1.0 (heap string), or NULL with
 * ERR_INVALID. */
char *extract_css_to_xpath(const char *css, struct err *e);

/* --- helpers shared with feed.c ----------------------------------------- */

/* Make libxml2 ready (once per process; thread-safe). */
void extract_init(void);

/* Resolve href against base (either may be NULL): trims white space,
 * percent-encodes spaces and non-ASCII bytes; returns a heap string when
 * the result is an absolute http(s) URL of at most EXTRACT_URL_MAX bytes
 * without a fragment-only target, else NULL. */
char *extract_resolve_url(const char *base, const char *href);

/* Plain text of an HTML fragment (RSS descriptions and the like): tags
 * dropped, entities decoded, white space collapsed to single spaces, at
 * most max bytes (cut on a character, "…" appended when cut). */
char *extract_fragment_text(const char *html, size_t len, size_t max);

/* The visible text of a parsed node's subtree as one line (script and the
 * like skipped, white space collapsed, valid UTF-8), at most max bytes;
 * heap string, "" when there is none. */
struct _xmlNode;
char *extract_node_text(const struct _xmlNode *node, size_t max);

#endif
