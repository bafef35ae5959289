/*
 * feed.c - RSS/Atom parsing, feed discovery, HTML headlines, categories,
 * item keys.
 *
 * Elements are recognised by local name, and by namespace where it
 * matters: RSS 2.0 has none, RSS 1.0 and Atom have theirs, and extension
 * elements (dc:date, content:encoded) are looked up by namespace URI, so
 * prefixes do not matter.  Text is gathered from text and CDATA nodes
 * only; an entity reference contributes the HTML entity of that name when
 * there is one (feeds use &nbsp; without declaring it) and nothing
 * otherwise.
 */
#define _GNU_SOURCE /* memmem */
#include "feed.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/hash.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "common/xalloc.h"
#include "diff.h"
#include "extract.h"
#include "match.h"

#define NS_ATOM "http://www.w3.org/2005/Atom"
#define NS_ATOM03 "http://purl.org/atom/ns#"
#define NS_RSS1 "http://purl.org/rss/1.0/"
#define NS_RSS09 "http://my.netscape.com/rdf/simple/0.9/"
#define NS_RDF "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
#define NS_DC "http://purl.org/dc/elements/1.1/"
#define NS_DCTERMS "http://purl.org/dc/terms/"
#define NS_CONTENT "http://purl.org/rss/1.0/modules/content/"

/* --- dates ---------------------------------------------------------------- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

/* Exactly n digits at *p. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

/* 1 to max digits at *p. */
static bool some_digits(const char **p, int max, int *out, int *count)
{
	int v = 0, n = 0;

	while (n < max && isdigit((unsigned char)(*p)[n])) {
		v = v * 10 + ((*p)[n] - '0');
		n++;
	}
	if (!n || isdigit((unsigned char)(*p)[n]))
		return false;
	*p += n;
	*out = v;
	if (count)
		*count = n;
	return true;
}

static int to_us(int y, int mo, int d, int h, int mi, int s, int frac_us, int off_min, int64_t *us)
{
	if (y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
	    mi > 59 || s > 60 || off_min < -24 * 60 || off_min > 24 * 60)
		return -1;
	if (s == 60)
		s = 59; /* a leap second */
	*us = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - off_min * 60) *
	       INT64_C(1000000)) +
	      frac_us;
	return 0;
}

static void skip_ws(const char **p)
{
	while (**p == ' ' || **p == '\t' || **p == '\r' || **p == '\n')
		(*p)++;
}

static int parse_rfc3339(const char *p, int64_t *us)
{
	int y, mo, d, h = 0, mi = 0, s = 0, frac = 0, off = 0;

	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d))
		return -1;
	if (*p == 'T' || *p == 't' || (*p == ' ' && isdigit((unsigned char)p[1]))) {
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
			return -1;
		if (*p == ':') {
			p++;
			if (!digits(&p, 2, &s))
				return -1;
			if (*p == '.' || *p == ',') {
				int scale = 100000;

				p++;
				if (!isdigit((unsigned char)*p))
					return -1;
				for (; isdigit((unsigned char)*p); p++, scale /= 10)
					frac += (*p - '0') * scale;
			}
		}
		skip_ws(&p);
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om = 0;

			if (!digits(&p, 2, &oh))
				return -1;
			if (*p == ':')
				p++;
			if (isdigit((unsigned char)*p) && !digits(&p, 2, &om))
				return -1;
			if (om > 59)
				return -1;
			off = sign * (oh * 60 + om);
		}
	}
	skip_ws(&p);
	if (*p)
		return -1;
	return to_us(y, mo, d, h, mi, s, frac, off, us);
}

static int month_of(const char **p)
{
	static const char *const names[] = {"jan", "feb", "mar", "apr", "may", "jun",
					    "jul", "aug", "sep", "oct", "nov", "dec"};
	const char *s = *p;
	size_t n = 0;

	while (isalpha((unsigned char)s[n]))
		n++;
	if (n < 3)
		return 0;
	for (int i = 0; i < 12; i++) {
		if (strncasecmp(s, names[i], 3) == 0) {
			*p += n;
			if (**p == '.')
				(*p)++;
			return i + 1;
		}
	}
	return 0;
}

/* Zone after the time: numeric, or a name of RFC 822 and a few more. */
static bool zone(const char **p, int *off)
{
	static const struct {
		const char *name;
		int off;
	} names[] = {
		{"GMT", 0},    {"UT", 0},     {"UTC", 0},     {"Z", 0},       {"EST", -300},
		{"EDT", -240}, {"CST", -360}, {"CDT", -300},  {"MST", -420},  {"MDT", -360},
		{"PST", -480}, {"PDT", -420}, {"BST", 60},    {"CET", 60},    {"CEST", 120},
		{"MET", 60},   {"MEST", 120}, {"EET", 120},   {"EEST", 180},  {"WET", 0},
		{"WEST", 60},  {"JST", 540},  {"KST", 540},   {"HKT", 480},   {"AEST", 600},
		{"AEDT", 660}, {"ACST", 570}, {"AWST", 480},  {"NZST", 720},  {"NZDT", 780},
		{"IST", 330},  {"MSK", 180},  {"AKST", -540}, {"AKDT", -480}, {"HST", -600},
	};
	const char *s = *p;
	size_t n = 0;

	*off = 0;
	if (*s == '+' || *s == '-') {
		int sign = *s == '-' ? -1 : 1, hh, mm = 0;

		s++;
		if (!digits(&s, 2, &hh))
			return false;
		if (*s == ':')
			s++;
		if (isdigit((unsigned char)*s) && !digits(&s, 2, &mm))
			return false;
		if (hh > 23 || mm > 59)
			return false;
		*off = sign * (hh * 60 + mm);
		*p = s;
		return true;
	}
	while (isalpha((unsigned char)s[n]))
		n++;
	if (!n)
		return true; /* no zone: UTC */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i].name) == n && strncasecmp(s, names[i].name, n) == 0) {
			*off = names[i].off;
			break;
		}
	}
	/* unknown names and military letters count as UTC (RFC 2822 4.3) */
	s += n;
	if ((*s == '+' || *s == '-') && isdigit((unsigned char)s[1])) {
		/* "GMT+0200" */
		int extra;

		if (!zone(&s, &extra))
			return false;
		*off += extra;
	}
	*p = s;
	return true;
}

static int parse_rfc822(const char *p, int64_t *us)
{
	int d, mo, y, h, mi, s = 0, off = 0, ny;

	skip_ws(&p);
	/* optional weekday: "Tue," "Tuesday" */
	if (isalpha((unsigned char)*p)) {
		const char *q = p;
		int m = month_of(&q);

		if (m) { /* asctime-like: "Jun 10 04:00:00 2003" */
			(void)m;
		} else {
			while (isalpha((unsigned char)*p))
				p++;
			if (*p == '.')
				p++;
			skip_ws(&p);
			if (*p == ',')
				p++;
			skip_ws(&p);
		}
	}
	if (isalpha((unsigned char)*p)) {
		/* "Jun 10 04:00:00 2003" or "June 10, 2003 04:00 GMT" */
		if (!(mo = month_of(&p)))
			return -1;
		skip_ws(&p);
		if (!some_digits(&p, 2, &d, NULL))
			return -1;
		if (*p == ',')
			p++;
		skip_ws(&p);
		if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) && p[2] == ':') {
			if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
				return -1;
			if (*p == ':' && (p++, !digits(&p, 2, &s)))
				return -1;
			skip_ws(&p);
			if (!zone(&p, &off))
				return -1;
			skip_ws(&p);
			if (!some_digits(&p, 4, &y, &ny) || ny != 4)
				return -1;
		} else {
			if (!some_digits(&p, 4, &y, &ny) || ny != 4)
				return -1;
			skip_ws(&p);
			if (!some_digits(&p, 2, &h, NULL) || *p++ != ':' || !digits(&p, 2, &mi))
				return -1;
			if (*p == ':' && (p++, !digits(&p, 2, &s)))
				return -1;
			skip_ws(&p);
			if (!zone(&p, &off))
				return -1;
		}
	} else {
		if (!some_digits(&p, 2, &d, NULL))
			return -1;
		if (*p == '-')
			p++;
		skip_ws(&p);
		if (!(mo = month_of(&p)))
			return -1;
		if (*p == '-')
			p++;
		skip_ws(&p);
		if (!some_digits(&p, 4, &y, &ny))
			return -1;
		if (ny == 2)
			y += y < 50 ? 2000 : 1900;
		else if (ny == 3)
			y += 1900;
		skip_ws(&p);
		if (!*p) {
			h = mi = 0;
		} else {
			if (!some_digits(&p, 2, &h, NULL) || *p++ != ':' || !digits(&p, 2, &mi))
				return -1;
			if (*p == ':' && (p++, !digits(&p, 2, &s)))
				return -1;
			if (*p == '.') /* fractions some feeds add */
				while (isdigit((unsigned char)*++p))
					;
			skip_ws(&p);
			if (!zone(&p, &off))
				return -1;
		}
	}
	skip_ws(&p);
	if (*p == '(') { /* a comment such as "(PDT)" */
		const char *q = strchr(p, ')');

		if (!q)
			return -1;
		p = q + 1;
		skip_ws(&p);
	}
	if (*p)
		return -1;
	return to_us(y, mo, d, h, mi, s, 0, off, us);
}

int feed_parse_date(const char *s, int64_t *us)
{
	const char *p = s;

	if (!s)
		return -1;
	skip_ws(&p);
	if (strlen(p) > 100)
		return -1;
	if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2]) && isdigit((unsigned char)p[3]) && p[4] == '-')
		return parse_rfc3339(p, us);
	return parse_rfc822(p, us);
}

/* --- XML helpers ------------------------------------------------------------ */

static const char *ns_of(const xmlNode *n)
{
	return n->ns && n->ns->href ? (const char *)n->ns->href : NULL;
}

/* A core element of the feed formats: no namespace, Atom, RSS 1.0, 0.9. */
static bool core(const xmlNode *n, const char *local)
{
	const char *ns;

	if (n->type != XML_ELEMENT_NODE || !n->name || strcmp((const char *)n->name, local) != 0)
		return false;
	ns = ns_of(n);
	return !ns || strcmp(ns, NS_ATOM) == 0 || strcmp(ns, NS_ATOM03) == 0 ||
	       strcmp(ns, NS_RSS1) == 0 || strcmp(ns, NS_RSS09) == 0;
}

static bool in_ns(const xmlNode *n, const char *local, const char *ns)
{
	const char *h = ns_of(n);

	return n->type == XML_ELEMENT_NODE && n->name &&
	       strcmp((const char *)n->name, local) == 0 && h && strcmp(h, ns) == 0;
}

static const char *xattr(const xmlNode *n, const char *name)
{
	for (const xmlAttr *a = n->properties; a; a = a->next)
		if (a->name && strcmp((const char *)a->name, name) == 0 && !a->ns)
			return a->children && a->children->content
				       ? (const char *)a->children->content
				       : "";
	return NULL;
}

/* Raw text of an element: its text and CDATA descendants, HTML entities
 * for undeclared entity references; at most max bytes.  Iterative. */
static char *raw_text(const xmlNode *el, size_t max)
{
	size_t len = 0, cap = 64;
	char *s = xmalloc(cap);
	const xmlNode *n = el->children;
	int depth = 0;

	while (n && len < max) {
		const char *t = NULL;
		char ent[8];
		size_t tl;

		if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
			t = (const char *)n->content;
		} else if (n->type == XML_ENTITY_REF_NODE && n->name) {
			const htmlEntityDesc *h = htmlEntityLookup(n->name);

			if (h) {
				ent[match_utf8_encode(h->value, ent)] = '\0';
				t = ent;
			}
		}
		if (t) {
			tl = strlen(t);
			if (tl > max - len)
				tl = match_utf8_cut(t, tl, max - len);
			if (len + tl + 1 > cap) {
				while (len + tl + 1 > cap)
					cap *= 2;
				s = xrealloc(s, cap);
			}
			memcpy(s + len, t, tl);
			len += tl;
		}
		if (n->type == XML_ELEMENT_NODE && n->children && depth < 64) {
			n = n->children;
			depth++;
			continue;
		}
		while (!n->next && depth > 0) {
			n = n->parent;
			depth--;
		}
		if (depth == 0 && !n->next)
			break;
		n = n->next;
	}
	s[len] = '\0';
	return s;
}

/* White space collapsed, control characters dropped, invalid bytes as
 * U+FFFD, at most max bytes ("…" when cut). */
static char *collapse_text(const char *s, size_t max)
{
	size_t n = strlen(s), o = 0;
	char *out = xmalloc(n * 3 + 8);
	bool sp = false, cut = false;

	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t l = match_utf8_decode(s + i, n - i, &cp);

		i += l;
		if (match_is_space_cp(cp)) {
			sp = o > 0;
			continue;
		}
		if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0))
			continue;
		if (sp)
			out[o++] = ' ';
		sp = false;
		o += match_utf8_encode(cp, out + o);
		if (o > max) {
			cut = true;
			break;
		}
	}
	if (cut) {
		o = match_utf8_cut(out, o, max >= 3 ? max - 3 : 0);
		while (o && out[o - 1] == ' ')
			o--;
		memcpy(out + o, "\xe2\x80\xa6", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* Plain text of an element holding text, escaped HTML or XHTML: Atom's
 * type attribute decides, else as_html. */
static char *plain_text(const xmlNode *el, size_t max, bool as_html)
{
	const char *type = xattr(el, "type");
	char *raw, *out;

	if (type && (strcmp(type, "xhtml") == 0 || strcmp(type, "application/xhtml+xml") == 0))
		return extract_node_text(el, max);
	if (type && (strcmp(type, "html") == 0 || strcmp(type, "text/html") == 0))
		as_html = true;
	else if (type && (strcmp(type, "text") == 0 || strcmp(type, "text/plain") == 0))
		as_html = false;
	raw = raw_text(el, FEED_INPUT_MAX);
	out = as_html ? extract_fragment_text(raw, strlen(raw), max) : collapse_text(raw, max);
	free(raw);
	return out;
}

static char *trimmed_text(const xmlNode *el, size_t max)
{
	char *raw = raw_text(el, max), *s = raw, *e;

	while (*s && isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	*e = '\0';
	if (s != raw)
		memmove(raw, s, (size_t)(e - s) + 1);
	return raw;
}

static char *resolve(const xmlDoc *doc, const xmlNode *n, const char *fallback, const char *href)
{
	xmlChar *base = xmlNodeGetBase(doc, n);
	char *u = extract_resolve_url(base ? (const char *)base : fallback, href);

	xmlFree(base);
	return u;
}

/* --- feed parsing ------------------------------------------------------------- */

struct parse {
	const xmlDoc *doc;
	const char *url;
	size_t max_items, summary_max;
	struct feed *f;
	size_t cap;
};

static struct feed_item *new_item(struct parse *p)
{
	struct feed_item *it;

	if (p->f->n_items == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->f->items = xrealloc(p->f->items, p->cap * sizeof(*p->f->items));
	}
	it = &p->f->items[p->f->n_items++];
	memset(it, 0, sizeof(*it));
	return it;
}

static void add_tag(struct feed_item *it, char *tag)
{
	if (!*tag || it->n_tags >= FEED_TAGS_MAX) {
		free(tag);
		return;
	}
	for (size_t i = 0; i < it->n_tags; i++) {
		if (strcasecmp(it->tags[i], tag) == 0) {
			free(tag);
			return;
		}
	}
	it->tags = xrealloc(it->tags, (it->n_tags + 1) * sizeof(char *));
	it->tags[it->n_tags++] = tag;
}

static void set_date(int64_t *dst, const xmlNode *n)
{
	char *t;

	if (*dst)
		return;
	t = trimmed_text(n, 128);
	if (feed_parse_date(t, dst) != 0)
		*dst = 0;
	free(t);
}

static bool is_http_url(const char *s)
{
	return s && (strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0);
}

/* Atom <link>: rel=alternate (or none) wins, text/html preferred. */
static void atom_link(struct parse *p, const xmlNode *n, char **link, int *rank)
{
	const char *rel = xattr(n, "rel"), *href = xattr(n, "href"), *type = xattr(n, "type");
	int r;

	if (!href)
		return;
	if (!rel || strcmp(rel, "alternate") == 0)
		r = !type || strstr(type, "html") ? 3 : 2;
	else if (strcmp(rel, "related") == 0 || strcmp(rel, "via") == 0)
		r = 1;
	else
		return; /* self, enclosure, edit, replies ... */
	if (r > *rank) {
		char *u = resolve(p->doc, n, p->url, href);

		if (u) {
			free(*link);
			*link = u;
			*rank = r;
		}
	}
}

static void parse_item(struct parse *p, const xmlNode *item, bool atom)
{
	struct feed_item *it = new_item(p);
	const xmlNode *summary = NULL, *content = NULL, *title = NULL;
	char *guid_link = NULL;
	int rank = 0;
	int64_t updated = 0;

	for (const xmlNode *n = item->children; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (core(n, "title")) {
			if (!title)
				title = n;
		} else if (in_ns(n, "title", NS_DC)) {
			if (!title)
				title = n;
		} else if (core(n, "link") || in_ns(n, "link", NS_ATOM)) {
			if (atom || xattr(n, "href")) {
				atom_link(p, n, &it->link, &rank);
			} else if (rank < 4) {
				char *t = trimmed_text(n, 4096), *u = resolve(p->doc, n, p->url, t);

				if (u) {
					free(it->link);
					it->link = u;
					rank = 4;
				}
				free(t);
			}
		} else if (core(n, "guid") || core(n, "id")) {
			if (!it->id) {
				const char *perma = xattr(n, "isPermaLink");

				it->id = trimmed_text(n, 2048);
				if ((!perma || strcmp(perma, "false") != 0) &&
				    is_http_url(it->id) && !guid_link)
					guid_link = extract_resolve_url(NULL, it->id);
			}
		} else if (core(n, "pubDate") || core(n, "published") || core(n, "issued") ||
			   in_ns(n, "date", NS_DC) || in_ns(n, "created", NS_DCTERMS)) {
			set_date(&it->published_us, n);
		} else if (core(n, "updated") || core(n, "modified") ||
			   in_ns(n, "modified", NS_DCTERMS)) {
			set_date(&updated, n);
		} else if (core(n, "description") || core(n, "summary") ||
			   in_ns(n, "description", NS_DC)) {
			if (!summary)
				summary = n;
		} else if (core(n, "content") || in_ns(n, "encoded", NS_CONTENT)) {
			if (!content)
				content = n;
		} else if (core(n, "category") || in_ns(n, "subject", NS_DC)) {
			const char *term = xattr(n, "label");

			if (!term || !*term)
				term = xattr(n, "term");
			if (term)
				add_tag(it, extract_fragment_text(term, strlen(term), 100));
			else {
				char *t = trimmed_text(n, 400);

				add_tag(it, extract_fragment_text(t, strlen(t), 100));
				free(t);
			}
		}
	}
	if (!it->published_us)
		it->published_us = updated;
	if (!it->link && guid_link) {
		it->link = guid_link;
		guid_link = NULL;
	}
	free(guid_link);
	if (!it->id && !atom) {
		const char *about = NULL;

		for (const xmlAttr *a = item->properties; a; a = a->next)
			if (a->name && strcmp((const char *)a->name, "about") == 0 && a->children &&
			    a->children->content)
				about = (const char *)a->children->content;
		if (about)
			it->id = xstrdup(about);
	}
	it->title = title ? plain_text(title, FEED_TITLE_MAX, !atom) : xstrdup("");
	if (summary || content)
		it->summary = plain_text(summary ? summary : content, p->summary_max, !atom);
	if (it->summary && !*it->summary) {
		free(it->summary);
		it->summary = NULL;
		if (summary && content)
			it->summary = plain_text(content, p->summary_max, !atom);
	}
	if (!*it->title && it->summary) {
		/* RSS allows items without titles: use the start of the text */
		free(it->title);
		it->title = extract_fragment_text(it->summary, strlen(it->summary), 120);
	}
}

static void parse_channel_meta(struct parse *p, const xmlNode *ch)
{
	int rank = 0;

	for (const xmlNode *n = ch->children; n; n = n->next) {
		if (core(n, "title") && !p->f->title) {
			p->f->title = plain_text(n, FEED_TITLE_MAX, false);
		} else if ((core(n, "description") || core(n, "subtitle") || core(n, "tagline")) &&
			   !p->f->description) {
			p->f->description = plain_text(n, FEED_SUMMARY_MAX, true);
		} else if (core(n, "link")) {
			if (xattr(n, "href")) {
				atom_link(p, n, &p->f->link, &rank);
			} else if (!p->f->link) {
				char *t = trimmed_text(n, 4096);

				p->f->link = resolve(p->doc, n, p->url, t);
				rank = 4;
				free(t);
			}
		}
	}
}

/* Items (item / entry elements) among the children of `parent`. */
static void parse_items(struct parse *p, const xmlNode *parent, bool atom)
{
	for (const xmlNode *n = parent->children; n; n = n->next) {
		if (!(core(n, atom ? "entry" : "item")))
			continue;
		if (p->f->n_items >= p->max_items) {
			p->f->truncated = true;
			return;
		}
		parse_item(p, n, atom);
	}
}

bool feed_sniff(const char *data, size_t len)
{
	const char *p = data, *end = data + len;

	if (!data)
		return false;
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	for (int guard = 0; guard < 64 && p < end; guard++) {
		while (p < end && isspace((unsigned char)*p))
			p++;
		if (end - p < 2 || *p != '<')
			return false;
		if (p[1] == '?' || p[1] == '!') {
			const char *close;

			if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
				close = memmem(p + 4, (size_t)(end - p - 4), "-->", 3);
				p = close ? close + 3 : end;
				continue;
			}
			if (end - p >= 9 && strncasecmp(p, "<!DOCTYPE", 9) == 0) {
				/* an internal subset ends with "]>" */
				const char *br = memchr(p, '[', (size_t)(end - p));
				const char *gt = memchr(p, '>', (size_t)(end - p));

				if (br && gt && br < gt) {
					close = memmem(br, (size_t)(end - br), "]>", 2);
					p = close ? close + 2 : end;
				} else {
					p = gt ? gt + 1 : end;
				}
				continue;
			}
			close = memchr(p, '>', (size_t)(end - p));
			p = close ? close + 1 : end;
			continue;
		}
		{
			const char *s = p + 1, *q = s;
			size_t n;

			while (q < end && (isalnum((unsigned char)*q) || *q == ':' || *q == '-' ||
					   *q == '_' || *q == '.'))
				q++;
			/* the local part after any prefix */
			for (const char *c = s; c < q; c++)
				if (*c == ':')
					s = c + 1;
			n = (size_t)(q - s);
			return (n == 3 && strncmp(s, "rss", 3) == 0) ||
			       (n == 4 && strncmp(s, "feed", 4) == 0) ||
			       (n == 3 && strncmp(s, "RDF", 3) == 0) ||
			       (n == 7 && strncmp(s, "channel", 7) == 0);
		}
	}
	return false;
}

static bool is_name_start(char c)
{
	return isalpha((unsigned char)c);
}

/* Hand-written feeds use HTML entities that XML does not know (&nbsp;
 * &eacute;) and bare '&'; a strict parser drops them.  Rewrite them to
 * character references (or "&amp;") before parsing, outside CDATA
 * sections, for ASCII-compatible encodings only.  Returns NULL when
 * nothing needed changing. */
static char *fix_entities(const char *d, size_t len, size_t *out_len)
{
	const unsigned char *u = (const unsigned char *)d;
	char *out = NULL;
	size_t o = 0, cap = 0, copied = 0;

	if (len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF)))
		return NULL;
	if (memchr(d, '\0', len < 4 ? len : 4))
		return NULL;
	for (size_t i = 0; i < len; i++) {
		char rep[48];
		size_t skip, rl;

		if (d[i] == '<' && len - i >= 9 && memcmp(d + i, "<![CDATA[", 9) == 0) {
			const char *end = memmem(d + i + 9, len - i - 9, "]]>", 3);

			if (!end)
				break;
			i = (size_t)(end - d) + 2;
			continue;
		}
		if (d[i] != '&')
			continue;
		skip = 1;
		if (i + 1 < len && d[i + 1] == '#') {
			size_t j = i + 2;
			bool hex = j < len && (d[j] == 'x' || d[j] == 'X');

			if (hex)
				j++;
			while (j < len && j - i < 12 &&
			       (hex ? isxdigit((unsigned char)d[j]) : isdigit((unsigned char)d[j])))
				j++;
			if (j < len && d[j] == ';' && j > i + 2 + hex)
				continue; /* a character reference */
			rl = (size_t)snprintf(rep, sizeof(rep), "&amp;");
		} else if (i + 1 < len && is_name_start(d[i + 1])) {
			size_t j = i + 1;
			char name[34];

			while (j < len && j - i <= 32 && isalnum((unsigned char)d[j]))
				j++;
			if (j < len && d[j] == ';') {
				const htmlEntityDesc *h;

				memcpy(name, d + i + 1, j - i - 1);
				name[j - i - 1] = '\0';
				if (!strcmp(name, "amp") || !strcmp(name, "lt") ||
				    !strcmp(name, "gt") || !strcmp(name, "quot") ||
				    !strcmp(name, "apos"))
					continue;
				h = htmlEntityLookup((const xmlChar *)name);
				if (h)
					rl = (size_t)snprintf(rep, sizeof(rep), "&#%u;", h->value);
				else
					rl = (size_t)snprintf(rep, sizeof(rep), "&amp;%s;", name);
				skip = j - i + 1;
			} else {
				rl = (size_t)snprintf(rep, sizeof(rep), "&amp;");
			}
		} else {
			rl = (size_t)snprintf(rep, sizeof(rep), "&amp;");
		}
		if (o + (i - copied) + rl + 1 > cap) {
			size_t need = o + (i - copied) + rl + 1;

			if (need > 2 * (size_t)FEED_INPUT_MAX)
				break; /* hostile: leave the rest alone */
			cap = need * 2 + len / 4;
			out = xrealloc(out, cap);
		}
		memcpy(out + o, d + copied, i - copied);
		o += i - copied;
		memcpy(out + o, rep, rl);
		o += rl;
		copied = i + skip;
		i = copied - 1;
	}
	if (!out)
		return NULL;
	out = xrealloc(out, o + (len - copied) + 1);
	memcpy(out + o, d + copied, len - copied);
	o += len - copied;
	*out_len = o;
	return out;
}

static bool declares_entities(const xmlDoc *doc)
{
	const xmlDtd *dtd = doc->intSubset;

	if (!dtd)
		return false;
	return (dtd->entities && xmlHashSize(dtd->entities) > 0) ||
	       (dtd->pentities && xmlHashSize(dtd->pentities) > 0);
}

static pthread_once_t feed_once = PTHREAD_ONCE_INIT;

static void feed_init_once(void)
{
	extract_init();
}

int feed_parse(const char *data, size_t len, const struct feed_opts *opts, struct feed *out,
	       struct err *e)
{
	static const struct feed_opts defaults;
	const struct feed_opts *o = opts ? opts : &defaults;
	struct parse p = {0};
	xmlDocPtr doc;
	xmlNodePtr root;
	const char *rn;
	char *fixed;
	size_t fixed_len = 0;
	int rc = ERR_OK;

	memset(out, 0, sizeof(*out));
	pthread_once(&feed_once, feed_init_once);
	extract_init(); /* this thread's silent error handlers */
	if (!data || !len)
		return err_set(e, ERR_INVALID, "not an RSS or Atom feed: the response is empty");
	if (len > FEED_INPUT_MAX) {
		len = FEED_INPUT_MAX;
		out->truncated = true;
	}
	if (memmem(data, len, "<!ENTITY", 8))
		return err_set(e, ERR_INVALID,
			       "feed refused: its DOCTYPE declares entities (the form of XML "
			       "external entity and entity expansion attacks)");
	fixed = fix_entities(data, len, &fixed_len);
	if (fixed) {
		data = fixed;
		len = fixed_len;
	}
	doc = xmlReadMemory(data, (int)len, o->url, o->encoding,
			    XML_PARSE_RECOVER | XML_PARSE_NONET | XML_PARSE_NOERROR |
				    XML_PARSE_NOWARNING | XML_PARSE_NOCDATA | XML_PARSE_COMPACT);
	if (!doc && o->encoding)
		doc = xmlReadMemory(data, (int)len, o->url, NULL,
				    XML_PARSE_RECOVER | XML_PARSE_NONET | XML_PARSE_NOERROR |
					    XML_PARSE_NOWARNING | XML_PARSE_NOCDATA |
					    XML_PARSE_COMPACT);
	free(fixed);
	if (!doc || !(root = xmlDocGetRootElement(doc))) {
		if (doc)
			xmlFreeDoc(doc);
		return err_set(e, ERR_INVALID, "not an RSS or Atom feed: not well-formed XML");
	}
	if (declares_entities(doc)) {
		xmlFreeDoc(doc);
		return err_set(e, ERR_INVALID,
			       "feed refused: its DOCTYPE declares entities (the form of XML "
			       "external entity and entity expansion attacks)");
	}
	p.doc = doc;
	p.url = o->url;
	p.max_items = o->max_items ? o->max_items : FEED_ITEMS_MAX;
	p.summary_max = o->summary_max ? o->summary_max : FEED_SUMMARY_MAX;
	p.f = out;
	rn = (const char *)root->name;
	if (strcmp(rn, "rss") == 0 || strcmp(rn, "channel") == 0) {
		const xmlNode *ch = root;

		out->kind = FEED_RSS2;
		if (strcmp(rn, "rss") == 0) {
			for (ch = root->children; ch && !core(ch, "channel"); ch = ch->next)
				;
			if (!ch)
				ch = root;
		}
		parse_channel_meta(&p, ch);
		parse_items(&p, ch, false);
		if (ch != root && !out->n_items)
			parse_items(&p, root, false); /* items beside the channel */
	} else if (strcmp(rn, "RDF") == 0) {
		out->kind = FEED_RSS1;
		for (const xmlNode *n = root->children; n; n = n->next)
			if (core(n, "channel"))
				parse_channel_meta(&p, n);
		parse_items(&p, root, false);
	} else if (strcmp(rn, "feed") == 0) {
		out->kind = FEED_ATOM;
		parse_channel_meta(&p, root);
		parse_items(&p, root, true);
	} else {
		rc = err_set(e, ERR_INVALID, "not an RSS or Atom feed: the root element is <%.40s>",
			     rn);
	}
	xmlFreeDoc(doc);
	if (rc != ERR_OK)
		feed_cleanup(out);
	return rc;
}

static void items_free(struct feed_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(items[i].title);
		free(items[i].link);
		free(items[i].id);
		free(items[i].summary);
		for (size_t k = 0; k < items[i].n_tags; k++)
			free(items[i].tags[k]);
		free(items[i].tags);
	}
	free(items);
}

void feed_cleanup(struct feed *f)
{
	if (!f)
		return;
	items_free(f->items, f->n_items);
	free(f->title);
	free(f->link);
	free(f->description);
	memset(f, 0, sizeof(*f));
}

/* --- HTML pages: feeds and headlines ------------------------------------------ */

struct scan {
	struct feed_page *out;
	const char *url;
	char *base;
	size_t max_items, cap;
	int hidden; /* inside nav, footer, aside */
	size_t nodes;
	/* folded titles and normalised links already taken */
	char **seen;
	size_t n_seen, seen_cap;
};

static bool seen_add(struct scan *s, char *key)
{
	for (size_t i = 0; i < s->n_seen; i++) {
		if (strcmp(s->seen[i], key) == 0) {
			free(key);
			return false;
		}
	}
	if (s->n_seen == s->seen_cap) {
		s->seen_cap = s->seen_cap ? s->seen_cap * 2 : 32;
		s->seen = xrealloc(s->seen, s->seen_cap * sizeof(char *));
	}
	s->seen[s->n_seen++] = key;
	return true;
}

static const char *hattr(const xmlNode *n, const char *name)
{
	for (const xmlAttr *a = n->properties; a; a = a->next)
		if (a->name && strcmp((const char *)a->name, name) == 0)
			return a->children && a->children->content
				       ? (const char *)a->children->content
				       : "";
	return NULL;
}

static bool rel_alternate(const char *rel)
{
	for (const char *p = rel; *p;) {
		while (*p && isspace((unsigned char)*p))
			p++;
		if (strncasecmp(p, "alternate", 9) == 0 && (!p[9] || isspace((unsigned char)p[9])))
			return true;
		while (*p && !isspace((unsigned char)*p))
			p++;
	}
	return false;
}

static void on_feed_link(struct scan *s, const xmlNode *n)
{
	const char *rel = hattr(n, "rel"), *type = hattr(n, "type"), *href = hattr(n, "href");
	struct feed_page *o = s->out;
	char *u;

	if (!rel || !type || !href || !rel_alternate(rel))
		return;
	while (isspace((unsigned char)*type))
		type++;
	if (strncasecmp(type, "application/rss+xml", 19) != 0 &&
	    strncasecmp(type, "application/atom+xml", 20) != 0 &&
	    strncasecmp(type, "application/rdf+xml", 19) != 0 &&
	    strncasecmp(type, "text/xml", 8) != 0 && strncasecmp(type, "application/xml", 15) != 0)
		return;
	if (o->n_feeds >= FEED_DISCOVER_MAX)
		return;
	u = extract_resolve_url(s->base ? s->base : s->url, href);
	if (!u)
		return;
	for (size_t i = 0; i < o->n_feeds; i++) {
		if (strcmp(o->feeds[i], u) == 0) {
			free(u);
			return;
		}
	}
	o->feeds = xrealloc(o->feeds, (o->n_feeds + 1) * sizeof(char *));
	o->feeds[o->n_feeds++] = u;
}

/* A headline candidate: text of 20-200 characters, not seen before. */
static void candidate(struct scan *s, const xmlNode *text_node, const char *href, bool need_link)
{
	struct feed *f = &s->out->headlines;
	char *title, *link = NULL, *key;
	size_t chars;

	if (f->n_items >= s->max_items) {
		f->truncated = true;
		return;
	}
	title = extract_node_text(text_node, FEED_HEADLINE_MAX * 4 + 8);
	if (!*title && href)
		title = (free(title),
			 xstrdup(hattr(text_node, "title") ? hattr(text_node, "title") : ""));
	chars = match_utf8_chars(title, strlen(title));
	if (chars < FEED_HEADLINE_MIN || chars > FEED_HEADLINE_MAX) {
		free(title);
		return;
	}
	if (href)
		link = extract_resolve_url(s->base ? s->base : s->url, href);
	if (need_link && !link) {
		free(title);
		return;
	}
	{
		if (link) {
			char *norm = feed_normalize_url(link);

			if (norm && !seen_add(s, xasprintf("u:%s", norm))) {
				free(norm);
				free(link);
				free(title);
				return;
			}
			free(norm);
		}
	}
	key = match_fold(title, strlen(title));
	if (!seen_add(s, xasprintf("t:%s", key))) {
		free(key);
		free(link);
		free(title);
		return;
	}
	free(key);
	if (f->n_items == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		f->items = xrealloc(f->items, s->cap * sizeof(*f->items));
	}
	memset(&f->items[f->n_items], 0, sizeof(f->items[0]));
	f->items[f->n_items].title = title;
	f->items[f->n_items].link = link;
	f->n_items++;
}

static bool is_heading(const xmlNode *n)
{
	return n->name && n->name[0] == 'h' && n->name[1] >= '1' && n->name[1] <= '3' &&
	       !n->name[2];
}

static bool name_in(const xmlNode *n, const char *const *names)
{
	for (; *names; names++)
		if (strcmp((const char *)n->name, *names) == 0)
			return true;
	return false;
}

static const char *first_href(const xmlNode *n)
{
	/* an <a href> inside (a few levels), else an <a> around it */
	const xmlNode *stack[8];
	int top = 0;

	for (const xmlNode *c = n->children; c;) {
		if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, "a") == 0 &&
		    hattr(c, "href"))
			return hattr(c, "href");
		if (c->type == XML_ELEMENT_NODE && c->children && top < 8) {
			stack[top++] = c;
			c = c->children;
			continue;
		}
		while (!c->next && top > 0)
			c = stack[--top];
		c = c->next;
	}
	for (const xmlNode *p = n->parent; p && p->type == XML_ELEMENT_NODE; p = p->parent)
		if (strcmp((const char *)p->name, "a") == 0)
			return hattr(p, "href");
	return NULL;
}

static const char *const aside_names[] = {"nav", "footer", "aside", "form", NULL};

static bool is_aside(const xmlNode *n)
{
	const char *role;

	if (n->type != XML_ELEMENT_NODE || !n->name)
		return false;
	if (name_in(n, aside_names))
		return true;
	role = hattr(n, "role");
	return role && strcmp(role, "navigation") == 0;
}

static void scan_leave(struct scan *s, const xmlNode *n)
{
	if (is_aside(n))
		s->hidden--;
}

static void scan_tree(struct scan *s, xmlNode *root)
{
	static const char *const skip[] = {"script", "style",  "noscript", "template", "svg",
					   "iframe", "object", "select",   "textarea", NULL};
	xmlNode *n = root;
	int depth = 0;

	for (;;) {
		bool desc = false;

		if (++s->nodes > EXTRACT_NODES_MAX)
			return;
		if (n->type == XML_ELEMENT_NODE && n->name) {
			if (name_in(n, skip)) {
				desc = false;
			} else if (strcmp((const char *)n->name, "link") == 0) {
				on_feed_link(s, n);
			} else if (strcmp((const char *)n->name, "base") == 0) {
				if (!s->base && hattr(n, "href"))
					s->base = extract_resolve_url(s->url, hattr(n, "href"));
			} else {
				desc = true;
				if (is_aside(n))
					s->hidden++;
				else if (!s->hidden && is_heading(n))
					candidate(s, n, first_href(n), false);
				else if (!s->hidden && strcmp((const char *)n->name, "a") == 0 &&
					 hattr(n, "href"))
					candidate(s, n, hattr(n, "href"), true);
			}
		} else if (n->type == XML_DOCUMENT_NODE || n->type == XML_HTML_DOCUMENT_NODE) {
			desc = true;
		}
		if (desc && n->children && depth < EXTRACT_DEPTH_MAX) {
			n = n->children;
			depth++;
			continue;
		}
		if (desc)
			scan_leave(s, n);
		while (n != root && !n->next) {
			n = n->parent;
			depth--;
			scan_leave(s, n);
		}
		if (n == root)
			return;
		n = n->next;
	}
}

void feed_scan_html(const char *html, size_t len, const struct feed_opts *opts,
		    struct feed_page *out)
{
	static const struct feed_opts defaults;
	const struct feed_opts *o = opts ? opts : &defaults;
	struct scan s = {.out = out, .url = o->url};
	xmlDocPtr doc = NULL;
	int options = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
		      HTML_PARSE_NONET | HTML_PARSE_NODEFDTD | HTML_PARSE_COMPACT;

	memset(out, 0, sizeof(*out));
	out->headlines.kind = FEED_HTML;
	pthread_once(&feed_once, feed_init_once);
	extract_init();
	s.max_items = o->max_items ? o->max_items : FEED_ITEMS_MAX;
	if (!html)
		len = 0;
	if (len > EXTRACT_INPUT_MAX) {
		len = EXTRACT_INPUT_MAX;
		out->headlines.truncated = true;
	}
	if (len) {
		doc = htmlReadMemory(html, (int)len, o->url, o->encoding, options);
		if (!doc && o->encoding)
			doc = htmlReadMemory(html, (int)len, o->url, NULL, options);
	}
	if (doc) {
		xmlNodePtr root = xmlDocGetRootElement(doc);

		scan_tree(&s, (xmlNodePtr)doc);
		/* the page title */
		for (xmlNodePtr h = root ? root->children : NULL; h; h = h->next) {
			if (h->type == XML_ELEMENT_NODE &&
			    strcmp((const char *)h->name, "head") == 0)
				for (xmlNodePtr t = h->children; t; t = t->next)
					if (t->type == XML_ELEMENT_NODE &&
					    strcmp((const char *)t->name, "title") == 0 &&
					    !out->headlines.title)
						out->headlines.title =
							extract_node_text(t, FEED_TITLE_MAX);
		}
		xmlFreeDoc(doc);
	}
	if (o->url)
		out->headlines.link = extract_resolve_url(NULL, o->url);
	for (size_t i = 0; i < s.n_seen; i++)
		free(s.seen[i]);
	free(s.seen);
	free(s.base);
}

void feed_page_cleanup(struct feed_page *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_feeds; i++)
		free(p->feeds[i]);
	free(p->feeds);
	feed_cleanup(&p->headlines);
	memset(p, 0, sizeof(*p));
}

/* --- categories --------------------------------------------------------------- */

/* Keyword lists: whole words, any case (see match.h).  Words that are
 * common in other senses ("us", "fed", "who", "match") are left out. */
// clang-format off
static const char *const kw_technology[] = {
	"technology", "tech", "software", "hardware", "AI", "artificial intelligence",
	"machine learning", "deep learning", "chatbot", "LLM", "robot", "robots", "robotics",
	"chipmaker", "semiconductor", "semiconductors", "smartphone", "smartphones", "iPhone",
	"Android", "app", "apps", "startup", "startups", "cloud computing", "cybersecurity",
	"hacker", "hackers", "hacked", "data breach", "ransomware", "internet", "Google", "Apple",
	"Microsoft", "Amazon", "OpenAI", "Nvidia", "Meta", "computer", "computers", "computing",
	"quantum computing", "blockchain", "cryptocurrency", "bitcoin", "open source", "Linux",
	"programming", "developer", "developers", "gadget", "5G", "broadband", "self-driving",
	"electric vehicle", "electric vehicles", "silicon valley", "algorithm", "data center",
	"data centers", "browser", "operating system",
};

static const char *const kw_business[] = {
	"business", "economy", "economic", "economist", "market", "markets", "stock", "stocks",
	"shares", "investor", "investors", "investment", "earnings", "revenue", "profit",
	"profits", "bank", "banks", "banking", "inflation", "interest rate", "interest rates",
	"Federal Reserve", "central bank", "GDP", "trade", "tariff", "tariffs", "merger",
	"acquisition", "IPO", "CEO", "company", "companies", "industry", "retail", "retailer",
	"oil prices", "Wall Street", "Nasdaq", "Dow Jones", "S&P 500", "FTSE", "recession",
	"layoffs", "jobs report", "unemployment", "funding", "valuation", "billion", "sales",
	"consumer", "consumers", "deal", "supply chain", "bankruptcy",
};

static const char *const kw_science[] = {
	"science", "scientist", "scientists", "scientific", "research", "researchers", "study",
	"physics", "physicist", "chemistry", "biology", "space", "NASA", "ESA", "astronomy",
	"astronomers", "planet", "planets", "telescope", "climate change", "species", "fossil",
	"fossils", "genome", "DNA", "gene", "genes", "evolution", "experiment", "laboratory",
	"Mars", "moon", "asteroid", "galaxy", "black hole", "particle", "quantum", "dinosaur",
	"dinosaurs", "ecosystem", "peer-reviewed", "archaeologists", "rocket", "satellite",
};

static const char *const kw_world[] = {
	"world", "international", "global", "war", "conflict", "United Nations", "NATO",
	"European Union", "refugees", "refugee", "embassy", "diplomat", "diplomats", "diplomacy",
	"ceasefire", "sanctions", "Ukraine", "Russia", "China", "Gaza", "Israel", "Iran", "Africa",
	"Asia", "Europe", "Middle East", "Latin America", "foreign minister", "summit", "treaty",
	"humanitarian", "troops", "invasion", "border", "migrants", "India", "Japan", "Taiwan",
	"North Korea", "Syria",
};

static const char *const kw_sports[] = {
	"sport", "sports", "football", "soccer", "basketball", "baseball", "tennis", "golf",
	"cricket", "rugby", "hockey", "Olympics", "Olympic", "World Cup", "championship",
	"championships", "tournament", "league", "coach", "NBA", "NFL", "MLB", "NHL", "FIFA",
	"UEFA", "Premier League", "Champions League", "Formula 1", "F1", "athlete", "athletes",
	"marathon", "cycling", "Grand Slam", "playoff", "playoffs", "striker", "quarterback",
	"Wimbledon", "Super Bowl", "stadium", "medal", "boxing", "UFC",
};

static const char *const kw_health[] = {
	"health", "healthcare", "medical", "medicine", "hospital", "hospitals", "doctor",
	"doctors", "patient", "patients", "disease", "diseases", "virus", "vaccine", "vaccines",
	"vaccination", "cancer", "diabetes", "COVID", "COVID-19", "pandemic", "outbreak",
	"mental health", "nutrition", "diet", "obesity", "FDA", "drug", "drugs", "clinical trial",
	"surgery", "therapy", "Alzheimer's", "dementia", "flu", "infection", "public health",
	"wellness", "heart disease", "nurses", "World Health Organization", "measles",
	"antibiotics",
};

static const char *const kw_entertainment[] = {
	"entertainment", "movie", "movies", "film", "films", "cinema", "box office", "Hollywood",
	"Netflix", "television", "TV", "actor", "actors", "actress", "celebrity", "celebrities",
	"music", "album", "song", "songs", "singer", "concert", "Grammy", "Grammys", "Oscar",
	"Oscars", "Emmy", "Emmys", "festival", "streaming", "Disney", "video game", "video games",
	"gaming", "Broadway", "comedy", "premiere", "trailer", "rapper", "pop star", "director",
	"sitcom", "K-pop", "anime",
};

static const char *const kw_politics[] = {
	"politics", "political", "politician", "politicians", "election", "elections", "vote",
	"voters", "voting", "campaign", "president", "presidential", "prime minister",
	"parliament", "Congress", "Senate", "senator", "lawmakers", "legislation", "government",
	"minister", "Democrat", "Democrats", "Republican", "Republicans", "GOP", "Labour",
	"Conservatives", "White House", "Supreme Court", "governor", "mayor", "poll", "polls",
	"referendum", "impeachment", "cabinet", "opposition", "coalition", "Downing Street",
	"Kremlin", "Bundestag", "senators", "congressional",
};

// clang-format on

#define LIST(name, arr)                                                                            \
	{                                                                                          \
		name, arr, sizeof(arr) / sizeof(arr[0])                                            \
	}

static const struct feed_category builtin[] = {
	LIST("technology", kw_technology),
	LIST("business", kw_business),
	LIST("science", kw_science),
	LIST("world", kw_world),
	LIST("sports", kw_sports),
	LIST("health", kw_health),
	LIST("entertainment", kw_entertainment),
	LIST("politics", kw_politics),
};

struct feed_classifier {
	size_t n;
	char *names[FEED_CATEGORIES_MAX];
	struct match_set *set;
	uint8_t *cat_of; /* keyword index -> category */
	size_t n_kw;
};

static int find_name(char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

struct feed_classifier *feed_classifier_new(const struct feed_category *user, size_t n_user,
					    const char *const *wanted, size_t n_wanted)
{
	struct feed_classifier *c = xcalloc(1, sizeof(*c));
	const struct feed_category *lists[FEED_CATEGORIES_MAX];
	const char *self_kw[FEED_CATEGORIES_MAX];
	const char **kws;
	size_t cap = 0;

	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
		c->names[c->n] = xstrdup(builtin[i].name);
		lists[c->n++] = &builtin[i];
	}
	for (size_t i = 0; i < n_user; i++) {
		int at;

		if (!user[i].name || !*user[i].name)
			continue;
		at = find_name(c->names, c->n, user[i].name);
		if (at >= 0) {
			lists[at] = &user[i];
		} else if (c->n < FEED_CATEGORIES_MAX) {
			c->names[c->n] = xstrdup(user[i].name);
			lists[c->n++] = &user[i];
		}
	}
	for (size_t i = 0; i < n_wanted; i++) {
		if (!wanted[i] || !*wanted[i] || find_name(c->names, c->n, wanted[i]) >= 0 ||
		    c->n >= FEED_CATEGORIES_MAX)
			continue;
		self_kw[c->n] = wanted[i];
		c->names[c->n] = xstrdup(wanted[i]);
		lists[c->n++] = NULL;
	}
	for (size_t i = 0; i < c->n; i++)
		cap += lists[i] ? lists[i]->n_keywords : 1;
	kws = xmalloc((cap ? cap : 1) * sizeof(char *));
	c->cat_of = xmalloc(cap ? cap : 1);
	for (size_t i = 0; i < c->n; i++) {
		if (!lists[i]) {
			c->cat_of[c->n_kw] = (uint8_t)i;
			kws[c->n_kw++] = self_kw[i];
			continue;
		}
		for (size_t k = 0; k < lists[i]->n_keywords; k++) {
			c->cat_of[c->n_kw] = (uint8_t)i;
			kws[c->n_kw++] = lists[i]->keywords[k];
		}
	}
	c->set = match_set_new(kws, c->n_kw, 0);
	free(kws);
	return c;
}

void feed_classifier_free(struct feed_classifier *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->names[i]);
	match_set_free(c->set);
	free(c->cat_of);
	free(c);
}

size_t feed_classifier_count(const struct feed_classifier *c)
{
	return c ? c->n : 0;
}

const char *feed_classifier_name(const struct feed_classifier *c, size_t i)
{
	return c && i < c->n ? c->names[i] : NULL;
}

int feed_classifier_find(const struct feed_classifier *c, const char *name)
{
	return c && name ? find_name(c->names, c->n, name) : -1;
}

uint64_t feed_classifier_mask(const struct feed_classifier *c, const char *const *names, size_t n)
{
	uint64_t m = 0;

	for (size_t i = 0; i < n; i++) {
		int at = feed_classifier_find(c, names[i]);

		if (at >= 0)
			m |= UINT64_C(1) << at;
	}
	return m;
}

struct classify_ctx {
	const struct feed_classifier *c;
	uint64_t mask;
};

static bool on_category_hit(void *p, size_t kw, size_t start, size_t end)
{
	struct classify_ctx *x = p;

	(void)start, (void)end;
	x->mask |= UINT64_C(1) << x->c->cat_of[kw];
	return true;
}

static void classify_text(struct classify_ctx *x, const char *t)
{
	if (t && *t)
		match_scan(x->c->set, t, strlen(t), on_category_hit, x);
}

uint64_t feed_classify(const struct feed_classifier *c, const char *title, const char *summary,
		       const char *const *tags, size_t n_tags)
{
	struct classify_ctx x = {c, 0};

	if (!c)
		return 0;
	classify_text(&x, title);
	classify_text(&x, summary);
	for (size_t i = 0; i < n_tags; i++) {
		int at = feed_classifier_find(c, tags[i]);

		if (at >= 0) /* a tag named like a category */
			x.mask |= UINT64_C(1) << at;
		classify_text(&x, tags[i]);
	}
	return x.mask;
}

void feed_classify_items(const struct feed_classifier *c, struct feed *f)
{
	for (size_t i = 0; f && i < f->n_items; i++) {
		struct feed_item *it = &f->items[i];

		it->categories = feed_classify(c, it->title, it->summary,
					       (const char *const *)it->tags, it->n_tags);
	}
}

size_t feed_category_names(const struct feed_classifier *c, uint64_t mask, const char **out,
			   size_t max)
{
	size_t n = 0;

	for (size_t i = 0; c && i < c->n && n < max; i++)
		if (mask & (UINT64_C(1) << i))
			out[n++] = c->names[i];
	return n;
}

/* --- keys --------------------------------------------------------------------- */

static bool tracking_param(const char *p, size_t n)
{
	static const char *const names[] = {"fbclid", "gclid", "mc_cid", "mc_eid",
					    "igshid", "ocid",  "cmpid",  NULL};

	if (n >= 4 && strncasecmp(p, "utm_", 4) == 0)
		return true;
	for (int i = 0; names[i]; i++)
		if (strlen(names[i]) == n && strncasecmp(p, names[i], n) == 0)
			return true;
	return false;
}

char *feed_normalize_url(const char *url)
{
	const char *p, *host, *host_end, *path;
	char *out, *o;
	size_t n;

	if (!url)
		return NULL;
	if (strncasecmp(url, "http://", 7) == 0)
		p = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		p = url + 8;
	else
		return NULL;
	n = strlen(p);
	out = o = xmalloc(n + 1);
	/* skip user info */
	host = p;
	host_end = p + strcspn(p, "/?#");
	{
		const char *at = memchr(host, '@', (size_t)(host_end - host));

		if (at)
			host = at + 1;
	}
	if (host_end - host > 4 && strncasecmp(host, "www.", 4) == 0)
		host += 4;
	for (const char *c = host; c < host_end; c++) {
		if (*c == ':') {
			/* default ports */
			if ((host_end - c == 3 && strncmp(c, ":80", 3) == 0) ||
			    (host_end - c == 4 && strncmp(c, ":443", 4) == 0))
				break;
		}
		*o++ = (char)tolower((unsigned char)*c);
	}
	if (o > out && o[-1] == '.')
		o--; /* "example.com." */
	path = host_end;
	{
		size_t pl = strcspn(path, "?#");
		const char *q = path + pl;
		size_t keep_start;

		memcpy(o, path, pl);
		o += pl;
		while (o > out && o[-1] == '/' && (size_t)(o - out) > 1 && pl)
			o--, pl--;
		if (*q == '?') {
			bool first = true;

			q++;
			keep_start = (size_t)(o - out);
			(void)keep_start;
			while (*q && *q != '#') {
				size_t pn = strcspn(q, "&#");
				size_t kn = strcspn(q, "=&#");

				if (pn && !tracking_param(q, kn < pn ? kn : pn)) {
					*o++ = first ? '?' : '&';
					memcpy(o, q, pn);
					o += pn;
					first = false;
				}
				q += pn;
				if (*q == '&')
					q++;
			}
		}
	}
	*o = '\0';
	return out;
}

/* SHA-256 (diff_hash: OpenSSL's headers clash with err.h's ERR_STATE, so
 * this file does not include them) of prefix + s, cut to FEED_KEY_LEN. */
static void key_of(const char *prefix, const char *s, char out[FEED_KEY_LEN + 1])
{
	char *in = xasprintf("%s%s", prefix, s);
	char hex[DIFF_HASH_HEX_LEN + 1];

	diff_hash(in, strlen(in), hex);
	memcpy(out, hex, FEED_KEY_LEN);
	out[FEED_KEY_LEN] = '\0';
	free(in);
}

/* Folded title with only letters and digits, single spaces. */
static char *title_key(const char *title)
{
	char *f = match_fold(title, strlen(title));
	size_t o = 0, n = strlen(f);
	bool sp = false;

	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t l = match_utf8_decode(f + i, n - i, &cp);

		if (match_is_word_cp(cp) && !(cp == 0xFFFD && l == 1)) {
			if (sp && o)
				f[o++] = ' ';
			memmove(f + o, f + i, l);
			o += l;
			sp = false;
		} else {
			sp = true;
		}
		i += l;
	}
	f[o] = '\0';
	return f;
}

void feed_item_key(const struct feed_item *it, char out[FEED_KEY_LEN + 1])
{
	char *norm = it->link ? feed_normalize_url(it->link) : NULL;

	if (norm && *norm) {
		key_of("u:", norm, out);
	} else if (it->id && *it->id) {
		key_of("i:", it->id, out);
	} else {
		char *t = title_key(it->title ? it->title : "");

		key_of("t:", t, out);
		free(t);
	}
	free(norm);
}

size_t feed_dedupe(struct feed *f)
{
	char(*keys)[FEED_KEY_LEN + 1];
	char **titles;
	size_t kept = 0, dropped = 0;

	if (!f || f->n_items < 2)
		return 0;
	keys = xmalloc(f->n_items * sizeof(*keys));
	titles = xmalloc(f->n_items * sizeof(char *));
	for (size_t i = 0; i < f->n_items; i++) {
		struct feed_item *it = &f->items[i];
		bool dup = false;

		feed_item_key(it, keys[kept]);
		titles[kept] = title_key(it->title ? it->title : "");
		for (size_t k = 0; k < kept && !dup; k++)
			dup = strcmp(keys[k], keys[kept]) == 0 ||
			      (*titles[kept] && strcmp(titles[k], titles[kept]) == 0);
		if (dup) {
			free(titles[kept]);
			free(it->title);
			free(it->link);
			free(it->id);
			free(it->summary);
			for (size_t t = 0; t < it->n_tags; t++)
				free(it->tags[t]);
			free(it->tags);
			dropped++;
			continue;
		}
		f->items[kept++] = *it;
	}
	f->n_items = kept;
	for (size_t i = 0; i < kept; i++)
		free(titles[i]);
	free(titles);
	free(keys);
	return dropped;
}
