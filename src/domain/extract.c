/*
 * extract.c - visible text, metadata, links and images of HTML pages.
 *
 * One libxml2 parse (HTML parser, recover mode, no network, errors
 * silenced) and one iterative walk of the tree: no recursion, so a page of
 * a million nested <div>s costs a loop, not the stack.  The walk feeds a
 * text builder that collapses white space and breaks lines at block
 * elements; links and images are remembered as raw attribute pointers and
 * resolved once the <base> is known.  With a selector, the walk runs once
 * over the whole page for the metadata (without text) and once per matched
 * node; walked nodes are marked (node->_private) so nested matches are not
 * repeated.
 */
#include "extract.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/uri.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "common/json.h"
#include "common/xalloc.h"
#include "match.h"

/* --- libxml2 setup -------------------------------------------------------- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_libxml(void)
{
	xmlInitParser();
}

static void silent_generic(void *ctx, const char *msg, ...)
{
	(void)ctx, (void)msg;
}

static void silent_structured(void *ctx, xmlErrorPtr err)
{
	(void)ctx, (void)err;
}

void extract_init(void)
{
	pthread_once(&init_once, init_libxml);
	/* Per-thread handlers: libxml2 reports some errors (encoding
	 * conversion) without a parser context, straight to stderr. */
	xmlSetGenericErrorFunc(NULL, silent_generic);
	xmlSetStructuredErrorFunc(NULL, silent_structured);
}

/* --- element table -------------------------------------------------------- */

enum {
	EL_SKIP = 1 << 0,  /* invisible: not walked */
	EL_BLOCK = 1 << 1, /* line break before and after */
	EL_CELL = 1 << 2,  /* space before and after */
	EL_BR = 1 << 3,    /* line break */
	EL_PRE = 1 << 4,   /* keeps its line breaks */
	EL_QUIET = 1 << 5, /* walked for metadata, no text (head) */
};

struct el {
	const char *name;
	unsigned flags;
};

/* Sorted by name (bsearch). */
static const struct el elements[] = {
	{"address", EL_BLOCK},
	{"applet", EL_SKIP},
	{"article", EL_BLOCK},
	{"aside", EL_BLOCK},
	{"audio", EL_SKIP},
	{"blockquote", EL_BLOCK},
	{"body", EL_BLOCK},
	{"br", EL_BR},
	{"canvas", EL_SKIP},
	{"caption", EL_BLOCK},
	{"center", EL_BLOCK},
	{"datalist", EL_SKIP},
	{"dd", EL_BLOCK},
	{"details", EL_BLOCK},
	{"dialog", EL_BLOCK},
	{"dir", EL_BLOCK},
	{"div", EL_BLOCK},
	{"dl", EL_BLOCK},
	{"dt", EL_BLOCK},
	{"embed", EL_SKIP},
	{"fieldset", EL_BLOCK},
	{"figcaption", EL_BLOCK},
	{"figure", EL_BLOCK},
	{"footer", EL_BLOCK},
	{"form", EL_BLOCK},
	{"frameset", EL_BLOCK},
	{"h1", EL_BLOCK},
	{"h2", EL_BLOCK},
	{"h3", EL_BLOCK},
	{"h4", EL_BLOCK},
	{"h5", EL_BLOCK},
	{"h6", EL_BLOCK},
	{"head", EL_QUIET},
	{"header", EL_BLOCK},
	{"hgroup", EL_BLOCK},
	{"hr", EL_BR},
	{"html", EL_BLOCK},
	{"iframe", EL_SKIP},
	{"legend", EL_BLOCK},
	{"li", EL_BLOCK},
	{"listing", EL_BLOCK | EL_PRE},
	{"main", EL_BLOCK},
	{"menu", EL_BLOCK},
	{"nav", EL_BLOCK},
	{"noembed", EL_SKIP},
	{"noframes", EL_SKIP},
	{"noscript", EL_SKIP},
	{"object", EL_SKIP},
	{"ol", EL_BLOCK},
	{"optgroup", EL_BLOCK},
	{"option", EL_BLOCK},
	{"p", EL_BLOCK},
	{"param", EL_SKIP},
	{"plaintext", EL_BLOCK | EL_PRE},
	{"pre", EL_BLOCK | EL_PRE},
	{"script", EL_SKIP},
	{"section", EL_BLOCK},
	{"select", EL_BLOCK},
	{"source", EL_SKIP},
	{"style", EL_SKIP},
	{"summary", EL_BLOCK},
	{"svg", EL_SKIP},
	{"table", EL_BLOCK},
	{"tbody", EL_BLOCK},
	{"td", EL_CELL},
	{"template", EL_SKIP},
	{"textarea", EL_BLOCK | EL_PRE},
	{"tfoot", EL_BLOCK},
	{"th", EL_CELL},
	{"thead", EL_BLOCK},
	{"title", EL_BLOCK},
	{"tr", EL_BLOCK},
	{"track", EL_SKIP},
	{"ul", EL_BLOCK},
	{"video", EL_SKIP},
	{"xmp", EL_BLOCK | EL_PRE},
};

static int cmp_el(const void *key, const void *e)
{
	return strcmp(key, ((const struct el *)e)->name);
}

static unsigned el_flags(const xmlNode *n)
{
	const struct el *e;

	if (!n->name || !n->name[0] || n->name[0] > 'x')
		return 0;
	e = bsearch(n->name, elements, sizeof(elements) / sizeof(elements[0]), sizeof(elements[0]),
		    cmp_el);
	return e ? e->flags : 0;
}

static bool name_is(const xmlNode *n, const char *name)
{
	return n->name && strcmp((const char *)n->name, name) == 0;
}

/* Value of an attribute without copying (the HTML parser stores it as one
 * text child), or NULL. */
static const char *attr(const xmlNode *n, const char *name)
{
	for (const xmlAttr *a = n->properties; a; a = a->next) {
		if (a->name && strcmp((const char *)a->name, name) == 0) {
			if (a->children && a->children->type == XML_TEXT_NODE && !a->children->next)
				return a->children->content ? (const char *)a->children->content
							    : "";
			return a->children ? NULL : "";
		}
	}
	return NULL;
}

/* `hidden`, or a style of display:none / visibility:hidden. */
static bool is_hidden(const xmlNode *n)
{
	const char *style;

	if (!n->properties)
		return false;
	if (attr(n, "hidden"))
		return true;
	style = attr(n, "style");
	if (style) {
		char compact[256];
		size_t o = 0;

		for (const char *p = style; *p && o < sizeof(compact) - 1; p++)
			if (!isspace((unsigned char)*p))
				compact[o++] = (char)tolower((unsigned char)*p);
		compact[o] = '\0';
		if (strstr(compact, "display:none") || strstr(compact, "visibility:hidden"))
			return true;
	}
	return false;
}

/* --- text builder --------------------------------------------------------- */

struct tb {
	char *s;
	size_t len, cap, max;
	bool space, brk, full, one_line;
};

static void tb_init(struct tb *b, size_t max, bool one_line)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
	b->one_line = one_line;
	b->cap = 256;
	b->s = xmalloc(b->cap);
	b->s[0] = '\0';
}

static void tb_break(struct tb *b)
{
	if (b->one_line)
		b->space = true;
	else if (b->len)
		b->brk = true;
}

static bool tb_room(struct tb *b, size_t n)
{
	if (b->full || b->len + n > b->max) {
		b->full = true;
		return false;
	}
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap *= 2;
		b->s = xrealloc(b->s, b->cap);
	}
	return true;
}

/* Before a visible character: the pending line break or space. */
static bool tb_sep(struct tb *b)
{
	if (b->len && (b->brk || b->space)) {
		if (!tb_room(b, 1))
			return false;
		b->s[b->len++] = b->brk ? '\n' : ' ';
	}
	b->brk = b->space = false;
	return true;
}

static void tb_text(struct tb *b, const char *t, size_t n, bool pre)
{
	const unsigned char *p = (const unsigned char *)t;

	for (size_t i = 0; i < n && !b->full;) {
		unsigned char c = p[i];
		uint32_t cp;
		size_t l;

		if (c < 0x80) {
			if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
				b->space = true;
			} else if (c == '\n') {
				if (pre && !b->one_line)
					tb_break(b);
				else
					b->space = true;
			} else if (c >= 0x20 && c != 0x7F) {
				/* a run of plain ASCII in one go */
				size_t j = i + 1;

				while (j < n && p[j] > 0x20 && p[j] < 0x7F)
					j++;
				if (!tb_sep(b) || !tb_room(b, j - i))
					return;
				memcpy(b->s + b->len, p + i, j - i);
				b->len += j - i;
				i = j;
				continue;
			}
			i++;
			continue;
		}
		l = match_utf8_decode(t + i, n - i, &cp);
		i += l;
		if (match_is_space_cp(cp)) {
			b->space = true;
		} else if (cp != 0xAD && cp != 0xFEFF && !(cp >= 0x80 && cp < 0xA0)) {
			char enc[4];
			size_t el = match_utf8_encode(cp, enc);

			if (!tb_sep(b) || !tb_room(b, el))
				return;
			memcpy(b->s + b->len, enc, el);
			b->len += el;
		}
	}
}

static char *tb_finish(struct tb *b, size_t *len)
{
	b->s[b->len] = '\0';
	if (len)
		*len = b->len;
	return b->s;
}

/* --- the walk ------------------------------------------------------------- */

struct raw_link {
	const char *href;
	char *text;
};

struct walk {
	struct tb text;
	unsigned flags;
	bool emit;        /* produce text and links (else metadata only) */
	bool meta;        /* collect title, base, meta */
	size_t nodes;     /* walked so far (all walks) */
	bool stopped;     /* a cap was hit */
	void *mark;       /* node->_private of walked nodes */
	int quiet;        /* inside <head> */
	int pre;          /* inside <pre> */
	const char *base; /* first <base href> */
	const char *title_raw;
	const xmlNode *title;
	const char *lang, *canonical;
	struct raw_link *links, *images;
	size_t n_links, n_images, max_links, max_images;
	struct extract_meta meta_v[EXTRACT_META_MAX];
	size_t n_meta;
	bool truncated;
};

static char *node_text(const xmlNode *node, size_t max);

static bool meta_wanted(const char *name)
{
	static const char *const exact[] = {
		"description", "keywords",  "author",           "date",
		"robots",      "generator", "application-name", "theme-color"};
	static const char *const prefix[] = {"og:", "twitter:", "article:", "dc.", "dcterms."};

	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (strcmp(name, exact[i]) == 0)
			return true;
	for (size_t i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++)
		if (strncmp(name, prefix[i], strlen(prefix[i])) == 0)
			return true;
	return false;
}

/* One-line, valid UTF-8 copy of an attribute value, at most max bytes. */
static char *clean_value(const char *v, size_t max)
{
	struct tb b;

	tb_init(&b, max, true);
	tb_text(&b, v, strlen(v), false);
	return tb_finish(&b, NULL);
}

static void on_meta(struct walk *w, const xmlNode *n)
{
	const char *name = attr(n, "property"), *content = attr(n, "content");
	char lname[64];
	size_t i = 0;

	if (!name || !*name)
		name = attr(n, "name");
	if (!name || !*name)
		name = attr(n, "itemprop");
	if (!name || !content || w->n_meta >= EXTRACT_META_MAX)
		return;
	while (*name == ' ')
		name++;
	for (; name[i] && i < sizeof(lname) - 1; i++)
		lname[i] = (char)tolower((unsigned char)name[i]);
	while (i && lname[i - 1] == ' ')
		i--;
	lname[i] = '\0';
	if (!meta_wanted(lname))
		return;
	for (size_t k = 0; k < w->n_meta; k++)
		if (strcmp(w->meta_v[k].name, lname) == 0)
			return; /* the first one wins */
	w->meta_v[w->n_meta].name = xstrdup(lname);
	w->meta_v[w->n_meta].content = clean_value(content, EXTRACT_META_VALUE_MAX);
	w->n_meta++;
}

static bool rel_has(const char *rel, const char *token)
{
	size_t tl = strlen(token);

	for (const char *p = rel; *p;) {
		while (*p && isspace((unsigned char)*p))
			p++;
		const char *s = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		if ((size_t)(p - s) == tl && strncasecmp(s, token, tl) == 0)
			return true;
	}
	return false;
}

static void add_raw(struct raw_link **v, size_t *n, size_t max, const char *href, char *text,
		    bool *truncated)
{
	if (*n >= max) {
		*truncated = true;
		free(text);
		return;
	}
	if (*n == 0 || (*n & (*n - 1)) == 0)
		*v = xrealloc(*v, (*n ? *n * 2 : 8) * sizeof(**v));
	(*v)[(*n)++] = (struct raw_link){href, text};
}

/* Entering an element: returns whether to walk its children. */
static bool enter(struct walk *w, xmlNode *n, bool is_root)
{
	unsigned f;

	if (n->type != XML_ELEMENT_NODE)
		return n->type == XML_DOCUMENT_NODE || n->type == XML_HTML_DOCUMENT_NODE;
	f = el_flags(n);
	if (!is_root && ((f & EL_SKIP) || is_hidden(n)))
		return false;
	if (w->meta) {
		if (name_is(n, "title")) {
			if (!w->title)
				w->title = n;
		} else if (name_is(n, "meta")) {
			if (w->flags & EXTRACT_META)
				on_meta(w, n);
		} else if (name_is(n, "base")) {
			if (!w->base)
				w->base = attr(n, "href");
		} else if (name_is(n, "link")) {
			const char *rel = attr(n, "rel");

			if (rel && !w->canonical && rel_has(rel, "canonical"))
				w->canonical = attr(n, "href");
		} else if (name_is(n, "html")) {
			if (!w->lang)
				w->lang = attr(n, "lang");
		}
	}
	if (f & EL_QUIET)
		w->quiet++;
	if (!w->emit || w->quiet) {
		if (f & EL_QUIET)
			return true;
		return !(f & EL_SKIP) || is_root;
	}
	if (f & (EL_BLOCK | EL_BR))
		tb_break(&w->text);
	else if (f & EL_CELL)
		w->text.space = true;
	if (f & EL_PRE)
		w->pre++;
	if ((w->flags & EXTRACT_LINKS) && (name_is(n, "a") || name_is(n, "area"))) {
		const char *href = attr(n, "href");

		if (href && *href) {
			char *t = node_text(n, EXTRACT_LINK_TEXT_MAX);

			if (!*t) {
				const char *alt = attr(n, "aria-label");

				if (!alt)
					alt = attr(n, "title");
				if (!alt)
					alt = attr(n, "alt");
				if (alt) {
					free(t);
					t = clean_value(alt, EXTRACT_LINK_TEXT_MAX);
				}
			}
			add_raw(&w->links, &w->n_links, w->max_links, href, t, &w->truncated);
		}
	} else if ((w->flags & EXTRACT_IMAGES) && name_is(n, "img")) {
		const char *src = attr(n, "src"), *alt = attr(n, "alt");

		if (!src || !*src || strncasecmp(src, "data:", 5) == 0)
			src = attr(n, "data-src");
		if (src && *src)
			add_raw(&w->images, &w->n_images, w->max_images, src,
				clean_value(alt ? alt : "", EXTRACT_LINK_TEXT_MAX), &w->truncated);
	}
	return true;
}

static void leave(struct walk *w, xmlNode *n)
{
	unsigned f;

	if (n->type != XML_ELEMENT_NODE)
		return;
	f = el_flags(n);
	if (f & EL_QUIET) {
		w->quiet--;
		return;
	}
	if (!w->emit || w->quiet)
		return;
	if (f & (EL_BLOCK | EL_BR))
		tb_break(&w->text);
	else if (f & EL_CELL)
		w->text.space = true;
	if (f & EL_PRE)
		w->pre--;
}

static void on_text(struct walk *w, const xmlNode *n)
{
	if (w->emit && !w->quiet && n->content)
		tb_text(&w->text, (const char *)n->content, strlen((const char *)n->content),
			w->pre > 0);
}

/* Walk root's subtree (root included), iteratively, with the caps. */
static void walk_tree(struct walk *w, xmlNode *root)
{
	xmlNode *n = root;
	int depth = 0;

	for (;;) {
		bool desc;

		if (++w->nodes > EXTRACT_NODES_MAX || w->text.full) {
			w->stopped = true;
			return;
		}
		if (w->emit && w->mark)
			n->_private = w->mark;
		if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
			on_text(w, n);
			desc = false;
		} else {
			desc = enter(w, n, n == root);
		}
		if (desc && n->children && depth < EXTRACT_DEPTH_MAX) {
			n = n->children;
			depth++;
			continue;
		}
		if (desc && n->children)
			w->stopped = true; /* too deep: the rest is skipped */
		if (desc)
			leave(w, n);
		while (n != root && !n->next) {
			n = n->parent;
			depth--;
			leave(w, n);
		}
		if (n == root)
			return;
		n = n->next;
	}
}

/* --- node text (one line) -------------------------------------------------- */

static char *node_text(const xmlNode *node, size_t max)
{
	struct walk w;

	memset(&w, 0, sizeof(w));
	tb_init(&w.text, max, true);
	w.emit = true;
	w.mark = NULL;
	walk_tree(&w, (xmlNode *)node);
	/* nothing to free: no links, images or meta were asked for */
	return tb_finish(&w.text, NULL);
}

char *extract_node_text(const struct _xmlNode *node, size_t max)
{
	if (!node)
		return xstrdup("");
	return node_text(node, max);
}

/* --- URLs ------------------------------------------------------------------ */

static bool is_hex(char c)
{
	return isxdigit((unsigned char)c) != 0;
}

/* Trim, drop tabs and newlines, percent-encode what RFC 3986 does not
 * allow, so libxml2's strict URI parser takes what browsers take. */
static char *clean_url(const char *u)
{
	size_t n, o = 0;
	char *s;

	while (*u && (unsigned char)*u <= 0x20)
		u++;
	n = strlen(u);
	while (n && (unsigned char)u[n - 1] <= 0x20)
		n--;
	if (n > EXTRACT_URL_MAX)
		return NULL;
	s = xmalloc(n * 3 + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)u[i];

		if (c == '\t' || c == '\n' || c == '\r')
			continue;
		if (c == '\\') {
			s[o++] = '/';
		} else if (c <= 0x20 || c >= 0x7F || strchr("\"<>^`{|}", c) ||
			   (c == '%' && !(i + 2 < n && is_hex(u[i + 1]) && is_hex(u[i + 2])))) {
			o += (size_t)sprintf(s + o, "%%%02X", c);
		} else {
			s[o++] = (char)c;
		}
	}
	s[o] = '\0';
	return s;
}

static bool is_http(const char *u)
{
	return strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0;
}

char *extract_resolve_url(const char *base, const char *href)
{
	char *h, *b = NULL, *out = NULL;
	xmlChar *r;
	xmlURIPtr uri;

	if (!href)
		return NULL;
	h = clean_url(href);
	if (!h || !*h || h[0] == '#') {
		free(h);
		return NULL;
	}
	if (base && *base)
		b = clean_url(base);
	r = xmlBuildURI((const xmlChar *)h, (const xmlChar *)(b ? b : ""));
	if (r && is_http((const char *)r) && strlen((const char *)r) <= EXTRACT_URL_MAX) {
		uri = xmlParseURI((const char *)r);
		if (uri && uri->server && *uri->server) {
			out = xstrdup((const char *)r);
			for (char *c = out; *c && *c != ':'; c++) /* "HTTP:" -> "http:" */
				*c = (char)tolower((unsigned char)*c);
		}
		xmlFreeURI(uri);
	}
	xmlFree(r);
	free(h);
	free(b);
	return out;
}

/* --- selectors ------------------------------------------------------------- */

struct extract_selector {
	char *xpath;
	xmlXPathCompExprPtr comp;
};

struct css {
	const char *s;
	size_t i;
	struct err *e;
	char *out;
	size_t len, cap;
	bool failed;
};

static void css_put(struct css *c, const char *t, size_t n)
{
	if (c->len + n + 1 > c->cap) {
		c->cap = (c->len + n + 1) * 2;
		c->out = xrealloc(c->out, c->cap);
	}
	memcpy(c->out + c->len, t, n);
	c->len += n;
	c->out[c->len] = '\0';
}

static void css_puts(struct css *c, const char *t)
{
	css_put(c, t, strlen(t));
}

static bool css_fail(struct css *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool css_fail(struct css *c, const char *fmt, ...)
{
	va_list ap;
	char msg[300];

	if (c->failed)
		return false;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->failed = true;
	err_set(c->e, ERR_INVALID, "selector: %s", msg);
	return false;
}

static const char css_help[] = "use tag, *, .class, #id, [attr], [attr=value] (also ~= ^= $= *= "
			       "|=), combinators ' ', '>', '+', '~' and ','; or an XPath "
			       "starting with '/'";

static bool is_ident_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c >= 0x80;
}

/* An identifier with CSS backslash escapes of one character; lower-cased
 * when `lower`.  Returns a heap string or NULL on failure. */
static char *css_ident(struct css *c, bool lower, const char *what)
{
	size_t start = c->i, o = 0;
	char *id = xmalloc(strlen(c->s + c->i) + 1);

	while (c->s[c->i]) {
		unsigned char ch = (unsigned char)c->s[c->i];

		if (ch == '\\' && c->s[c->i + 1]) {
			id[o++] = c->s[c->i + 1];
			c->i += 2;
			continue;
		}
		if (!is_ident_char(ch))
			break;
		id[o++] = lower ? (char)tolower(ch) : (char)ch;
		c->i++;
	}
	id[o] = '\0';
	if (!o) {
		free(id);
		if (c->s[start])
			css_fail(c, "expected %s at offset %zu, found '%c'; %s", what, start,
				 c->s[start], css_help);
		else
			css_fail(c, "expected %s at the end; %s", what, css_help);
		return NULL;
	}
	return id;
}

/* An XPath string literal for any text (concat() when it holds both
 * quote kinds). */
static void css_literal(struct css *c, const char *v)
{
	bool first = true;

	if (!strchr(v, '\'')) {
		css_puts(c, "'");
		css_puts(c, v);
		css_puts(c, "'");
		return;
	}
	if (!strchr(v, '"')) {
		css_puts(c, "\"");
		css_puts(c, v);
		css_puts(c, "\"");
		return;
	}
	/* both kinds: concat('a',"'",'b"c') */
	css_puts(c, "concat(");
	for (const char *p = v;;) {
		size_t n = strcspn(p, "'");

		if (n) {
			if (!first)
				css_puts(c, ",");
			css_puts(c, "'");
			css_put(c, p, n);
			css_puts(c, "'");
			first = false;
		}
		p += n;
		if (!*p)
			break;
		if (!first)
			css_puts(c, ",");
		css_puts(c, "\"'\"");
		first = false;
		p++;
	}
	css_puts(c, ")");
}

static void css_ws(struct css *c)
{
	while (c->s[c->i] && isspace((unsigned char)c->s[c->i]))
		c->i++;
}

static bool css_attr(struct css *c)
{
	char *name, *val = NULL, op[3] = "";

	c->i++; /* '[' */
	css_ws(c);
	name = css_ident(c, true, "an attribute name");
	if (!name)
		return false;
	css_ws(c);
	if (c->s[c->i] == '=') {
		op[0] = '=';
		c->i++;
	} else if (c->s[c->i] && strchr("~^$*|", c->s[c->i]) && c->s[c->i + 1] == '=') {
		op[0] = c->s[c->i];
		op[1] = '=';
		c->i += 2;
	}
	if (op[0]) {
		css_ws(c);
		if (c->s[c->i] == '"' || c->s[c->i] == '\'') {
			char q = c->s[c->i++];
			size_t o = 0;

			val = xmalloc(strlen(c->s + c->i) + 1);
			while (c->s[c->i] && c->s[c->i] != q) {
				if (c->s[c->i] == '\\' && c->s[c->i + 1])
					c->i++;
				val[o++] = c->s[c->i++];
			}
			val[o] = '\0';
			if (!c->s[c->i]) {
				css_fail(c, "unterminated string in [%s...]", name);
				free(name);
				free(val);
				return false;
			}
			c->i++;
		} else {
			val = css_ident(c, false, "an attribute value");
			if (!val) {
				free(name);
				return false;
			}
		}
		css_ws(c);
		if (c->s[c->i] == 'i' || c->s[c->i] == 'I' || c->s[c->i] == 's') {
			free(name);
			free(val);
			return css_fail(c, "attribute flags (' i', ' s') are not supported");
		}
	}
	if (c->s[c->i] != ']') {
		free(name);
		free(val);
		return css_fail(c, "expected ']' at offset %zu; %s", c->i, css_help);
	}
	c->i++;
	css_puts(c, "[");
	switch (op[0]) {
	case 0:
		css_puts(c, "@");
		css_puts(c, name);
		break;
	case '=':
		css_puts(c, "@");
		css_puts(c, name);
		css_puts(c, "=");
		css_literal(c, val);
		break;
	case '~':
		css_puts(c, "contains(concat(' ',normalize-space(@");
		css_puts(c, name);
		css_puts(c, "),' '),concat(' ',");
		css_literal(c, val);
		css_puts(c, ",' '))");
		break;
	case '^':
		css_puts(c, "starts-with(@");
		css_puts(c, name);
		css_puts(c, ",");
		css_literal(c, val);
		css_puts(c, ")");
		break;
	case '$':
		css_puts(c, "substring(@");
		css_puts(c, name);
		css_puts(c, ",string-length(@");
		css_puts(c, name);
		css_puts(c, ")-string-length(");
		css_literal(c, val);
		css_puts(c, ")+1)=");
		css_literal(c, val);
		break;
	case '*':
		css_puts(c, "contains(@");
		css_puts(c, name);
		css_puts(c, ",");
		css_literal(c, val);
		css_puts(c, ")");
		break;
	case '|':
		css_puts(c, "@");
		css_puts(c, name);
		css_puts(c, "=");
		css_literal(c, val);
		css_puts(c, " or starts-with(@");
		css_puts(c, name);
		css_puts(c, ",concat(");
		css_literal(c, val);
		css_puts(c, ",'-'))");
		break;
	}
	if (op[0] && op[0] != '=' && op[0] != '|' && !*val) /* CSS: never matches */
		css_puts(c, " and false()");
	css_puts(c, "]");
	free(name);
	free(val);
	return true;
}

/* One compound selector: [tag|*] then #id .class [attr] ... */
static bool css_compound(struct css *c)
{
	bool any = false;

	if (c->s[c->i] == '*') {
		css_puts(c, "*");
		c->i++;
		any = true;
	} else if (is_ident_char((unsigned char)c->s[c->i]) || c->s[c->i] == '\\') {
		char *tag = css_ident(c, true, "a tag name");

		if (!tag)
			return false;
		css_puts(c, tag);
		free(tag);
		any = true;
	} else {
		css_puts(c, "*");
	}
	for (;;) {
		char ch = c->s[c->i];
		char *id;

		if (ch == '#' || ch == '.') {
			c->i++;
			id = css_ident(c, false, ch == '#' ? "an id" : "a class name");
			if (!id)
				return false;
			if (ch == '#') {
				css_puts(c, "[@id=");
				css_literal(c, id);
				css_puts(c, "]");
			} else {
				css_puts(c, "[contains(concat(' ',normalize-space(@class),' '),");
				css_puts(c, "concat(' ',");
				css_literal(c, id);
				css_puts(c, ",' '))]");
			}
			free(id);
		} else if (ch == '[') {
			if (!css_attr(c))
				return false;
		} else if (ch == ':') {
			size_t s = c->i;

			while (c->s[c->i] && !isspace((unsigned char)c->s[c->i]) &&
			       !strchr(",>+~", c->s[c->i]) && c->i - s < 40)
				c->i++;
			return css_fail(c, "'%.*s' is not supported (pseudo-classes are not); %s",
					(int)(c->i - s), c->s + s, css_help);
		} else {
			break;
		}
		any = true;
	}
	if (!any) {
		if (c->s[c->i])
			return css_fail(c, "unexpected '%c' at offset %zu; %s", c->s[c->i], c->i,
					css_help);
		return css_fail(c, "a selector is missing at the end; %s", css_help);
	}
	return true;
}

/* A complex selector: compounds joined by combinators, up to ',' or end. */
static bool css_complex(struct css *c)
{
	char comb = ' ';
	bool first = true;

	css_ws(c);
	for (;;) {
		size_t step_at;

		if (first || comb == ' ')
			css_puts(c, "//");
		else if (comb == '>')
			css_puts(c, "/");
		else if (comb == '~')
			css_puts(c, "/following-sibling::");
		step_at = c->len;
		if (comb == '+' && !first) {
			/* following-sibling::*[1][self::tag][preds] */
			css_puts(c, "/following-sibling::*[1]");
			step_at = c->len;
		}
		if (!css_compound(c))
			return false;
		if (comb == '+' && !first) {
			/* turn "tag[p]" after step_at into "[self::tag][p]" */
			char *step = xstrdup(c->out + step_at);
			size_t tl = strcspn(step, "[");

			c->len = step_at;
			c->out[c->len] = '\0';
			if (!(tl == 1 && step[0] == '*')) {
				css_puts(c, "[self::");
				css_put(c, step, tl);
				css_puts(c, "]");
			}
			css_puts(c, step + tl);
			free(step);
		}
		first = false;
		{
			size_t before = c->i;

			css_ws(c);
			if (!c->s[c->i] || c->s[c->i] == ',')
				return true;
			if (strchr(">+~", c->s[c->i])) {
				comb = c->s[c->i++];
				css_ws(c);
			} else if (c->i > before) {
				comb = ' ';
			} else {
				return css_fail(c, "unexpected '%c' at offset %zu; %s", c->s[c->i],
						c->i, css_help);
			}
		}
	}
}

char *extract_css_to_xpath(const char *css, struct err *e)
{
	struct css c = {.s = css ? css : "", .e = e};

	if (strlen(c.s) > EXTRACT_SELECTOR_MAX) {
		err_set(e, ERR_INVALID, "selector: longer than %d bytes", EXTRACT_SELECTOR_MAX);
		return NULL;
	}
	css_ws(&c);
	if (!c.s[c.i]) {
		err_set(e, ERR_INVALID, "selector: empty; %s", css_help);
		return NULL;
	}
	for (;;) {
		if (!css_complex(&c))
			break;
		if (c.s[c.i] != ',')
			break;
		c.i++;
		css_ws(&c);
		if (!c.s[c.i]) {
			css_fail(&c, "a selector is missing after the last ','");
			break;
		}
		css_puts(&c, " | ");
	}
	if (c.failed) {
		free(c.out);
		return NULL;
	}
	return c.out;
}

struct xpath_err {
	int code; /* xmlXPathError of the first error, -1 for none */
	char msg[120];
};

/* libxml2 reports XPath errors with a code and no message. */
static const char *const xpath_messages[] = {
	"ok",
	"a number is malformed",
	"a string literal is not closed",
	"a string literal should start here",
	"expected $ for a variable reference",
	"undefined variable",
	"invalid predicate",
	"invalid expression",
	"a bracket or parenthesis is not closed",
	"unknown function",
	"invalid operand",
	"invalid type",
	"wrong number of arguments to a function",
	"invalid context size",
	"invalid context position",
	"out of memory",
	"syntax error",
	"resource error",
	"sub-resource error",
	"undefined namespace prefix (HTML elements have none)",
	"encoding error",
	"a character outside XML's range",
	"invalid context",
	"too complex (stack)",
	"variables are not allowed",
	"too much work (operation limit)",
	"nested too deeply",
};

static void capture_xpath_error(void *ctx, xmlErrorPtr err)
{
	struct xpath_err *x = ctx;
	int code;

	if (!err || x->code >= 0)
		return;
	code = err->code - XML_XPATH_EXPRESSION_OK;
	x->code = code;
	if (code >= 0 && code < (int)(sizeof(xpath_messages) / sizeof(xpath_messages[0])))
		snprintf(x->msg, sizeof(x->msg), "%s", xpath_messages[code]);
	else
		snprintf(x->msg, sizeof(x->msg), "error %d", err->code);
}

/* "/...", "(...", or a function call such as "string(//h1)": XPath. */
static bool looks_like_xpath(const char *p)
{
	const char *q = p;

	if (*p == '/' || *p == '(')
		return true;
	while (islower((unsigned char)*q) || *q == '-')
		q++;
	return q > p && *q == '(';
}

struct extract_selector *extract_selector_new(const char *selector, struct err *e)
{
	struct extract_selector *s;
	struct xpath_err xe = {.code = -1};
	xmlXPathContextPtr ctx;
	const char *p = selector ? selector : "";
	char *xpath;

	extract_init();
	while (isspace((unsigned char)*p))
		p++;
	if (strlen(p) > EXTRACT_SELECTOR_MAX) {
		err_set(e, ERR_INVALID, "selector: longer than %d bytes", EXTRACT_SELECTOR_MAX);
		return NULL;
	}
	if (looks_like_xpath(p))
		xpath = xstrdup(p);
	else if (!(xpath = extract_css_to_xpath(p, e)))
		return NULL;
	ctx = xmlXPathNewContext(NULL);
	ctx->error = capture_xpath_error;
	ctx->userData = &xe;
	s = xcalloc(1, sizeof(*s));
	s->xpath = xpath;
	s->comp = xmlXPathCtxtCompile(ctx, (const xmlChar *)xpath);
	xmlXPathFreeContext(ctx);
	if (!s->comp) {
		err_set(e, ERR_INVALID, "selector: the XPath %s%.200s%s does not compile: %s", "\"",
			xpath, "\"", xe.msg[0] ? xe.msg : "invalid expression");
		extract_selector_free(s);
		return NULL;
	}
	return s;
}

void extract_selector_free(struct extract_selector *s)
{
	if (!s)
		return;
	if (s->comp)
		xmlXPathFreeCompExpr(s->comp);
	free(s->xpath);
	free(s);
}

const char *extract_selector_xpath(const struct extract_selector *s)
{
	return s ? s->xpath : NULL;
}

/* --- ignore_text ----------------------------------------------------------- */

struct ignore {
	struct match_set *subs;
	regex_t *re;
	size_t n_re;
};

static int ignore_compile(struct ignore *ig, const char *const *list, size_t n, struct err *e)
{
	const char **plain = xmalloc((n ? n : 1) * sizeof(char *));
	size_t np = 0;

	memset(ig, 0, sizeof(*ig));
	ig->re = xmalloc((n ? n : 1) * sizeof(regex_t));
	for (size_t i = 0; i < n; i++) {
		const char *s = list[i] ? list[i] : "";
		size_t l = strlen(s);

		if (l >= 3 && s[0] == '/' && s[l - 1] == '/') {
			char *pat = xstrndup(s + 1, l - 2);
			int rc = regcomp(&ig->re[ig->n_re], pat,
					 REG_EXTENDED | REG_ICASE | REG_NOSUB | REG_NEWLINE);

			if (rc) {
				char why[120];

				regerror(rc, &ig->re[ig->n_re], why, sizeof(why));
				err_set(e, ERR_INVALID,
					"ignore_text[%zu] is written /.../, so it must be a POSIX "
					"extended regular expression: %s",
					i, why);
				free(pat);
				free(plain);
				return ERR_INVALID;
			}
			ig->n_re++;
			free(pat);
		} else if (*s) {
			plain[np++] = s;
		}
	}
	if (np)
		ig->subs = match_set_new(plain, np, MATCH_SUBSTRING);
	free(plain);
	return ERR_OK;
}

static void ignore_free(struct ignore *ig)
{
	for (size_t i = 0; i < ig->n_re; i++)
		regfree(&ig->re[i]);
	free(ig->re);
	match_set_free(ig->subs);
}

struct drop_ctx {
	const char *text;
	bool *drop;         /* per line */
	const size_t *line; /* line start offsets */
	size_t n_lines;
};

static size_t line_of(const struct drop_ctx *d, size_t off)
{
	size_t lo = 0, hi = d->n_lines;

	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (d->line[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static bool mark_line(void *ctx, size_t kw, size_t start, size_t end)
{
	struct drop_ctx *d = ctx;

	(void)kw, (void)end;
	d->drop[line_of(d, start)] = true;
	return true;
}

/* Remove the ignored lines from text in place; returns how many. */
static size_t ignore_apply(const struct ignore *ig, char *text, size_t *len)
{
	struct drop_ctx d = {.text = text};
	size_t cap = 16, o = 0, dropped = 0;
	size_t *line = xmalloc(cap * sizeof(size_t));

	if (!ig->subs && !ig->n_re) {
		free(line);
		return 0;
	}
	line[d.n_lines++] = 0;
	for (size_t i = 0; i < *len; i++) {
		if (text[i] == '\n') {
			if (d.n_lines == cap)
				line = xrealloc(line, (cap *= 2) * sizeof(size_t));
			line[d.n_lines++] = i + 1;
		}
	}
	d.line = line;
	d.drop = xcalloc(d.n_lines, sizeof(bool));
	if (ig->subs)
		match_scan(ig->subs, text, *len, mark_line, &d);
	for (size_t l = 0; l < d.n_lines && ig->n_re; l++) {
		size_t s = line[l], e = l + 1 < d.n_lines ? line[l + 1] - 1 : *len;
		char saved = text[e];

		if (d.drop[l])
			continue;
		text[e] = '\0';
		for (size_t r = 0; r < ig->n_re; r++) {
			if (regexec(&ig->re[r], text + s, 0, NULL, 0) == 0) {
				d.drop[l] = true;
				break;
			}
		}
		text[e] = saved;
	}
	for (size_t l = 0; l < d.n_lines; l++) {
		size_t s = line[l], e = l + 1 < d.n_lines ? line[l + 1] - 1 : *len;

		if (d.drop[l]) {
			dropped++;
			continue;
		}
		if (o)
			text[o++] = '\n';
		memmove(text + o, text + s, e - s);
		o += e - s;
	}
	text[o] = '\0';
	*len = o;
	free(d.drop);
	free(line);
	return dropped;
}

/* --- extract_html ----------------------------------------------------------- */

static uint64_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Resolve raw hrefs against base into *out, dropping non-http(s) ones and
 * repeats (a repeat may lend its text to an earlier link without one). */
static void resolve_all(struct raw_link *raw, size_t n, const char *base, struct extract_link **out,
			size_t *nout)
{
	size_t cap = 16, mask;
	size_t *slots; /* index + 1 into *out, 0 = empty */

	while (cap < n * 2)
		cap *= 2;
	mask = cap - 1;
	slots = xcalloc(cap, sizeof(size_t));
	*out = xcalloc(n ? n : 1, sizeof(**out));
	*nout = 0;
	for (size_t i = 0; i < n; i++) {
		char *u = extract_resolve_url(base, raw[i].href);
		size_t h;

		if (!u) {
			free(raw[i].text);
			continue;
		}
		for (h = (size_t)str_hash(u) & mask; slots[h]; h = (h + 1) & mask)
			if (strcmp((*out)[slots[h] - 1].url, u) == 0)
				break;
		if (slots[h]) {
			struct extract_link *l = &(*out)[slots[h] - 1];

			if (!*l->text && *raw[i].text) {
				free(l->text);
				l->text = raw[i].text;
			} else {
				free(raw[i].text);
			}
			free(u);
			continue;
		}
		(*out)[*nout].url = u;
		(*out)[*nout].text = raw[i].text;
		slots[h] = ++*nout;
	}
	free(slots);
	free(raw);
}

static void walk_init(struct walk *w, const struct extract_opts *o, size_t max_text)
{
	memset(w, 0, sizeof(*w));
	tb_init(&w->text, max_text, false);
	w->flags = o->flags;
	w->max_links = o->max_links ? o->max_links : EXTRACT_LINKS_MAX;
	w->max_images = o->max_images ? o->max_images : EXTRACT_IMAGES_MAX;
	w->mark = w;
}

/* Apply the selector: text of each matched node, in document order. */
static void run_selector(struct walk *w, xmlDocPtr doc, const struct extract_selector *sel,
			 bool *matched)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	struct xpath_err xe = {.code = -1};
	xmlXPathObjectPtr r;

	ctx->opLimit = EXTRACT_XPATH_OPS_MAX;
	ctx->error = capture_xpath_error;
	ctx->userData = &xe;
	r = xmlXPathCompiledEval(sel->comp, ctx);
	*matched = false;
	if (!r) {
		if (xe.code == XPATH_OP_LIMIT_EXCEEDED ||
		    xe.code == XPATH_RECURSION_LIMIT_EXCEEDED || xe.code == XPATH_STACK_ERROR ||
		    xe.code == XPATH_MEMORY_ERROR)
			w->truncated = true;
		xmlXPathFreeContext(ctx);
		return;
	}
	w->emit = true;
	w->meta = false;
	switch (r->type) {
	case XPATH_NODESET:
		for (int i = 0; r->nodesetval && i < r->nodesetval->nodeNr && !w->stopped; i++) {
			xmlNodePtr n = r->nodesetval->nodeTab[i];

			if (!n)
				continue;
			if (n->type == XML_ATTRIBUTE_NODE) {
				xmlChar *v = xmlNodeGetContent(n);

				tb_break(&w->text);
				if (v)
					tb_text(&w->text, (const char *)v, strlen((const char *)v),
						false);
				xmlFree(v);
				*matched = true;
				continue;
			}
			if (n->type != XML_ELEMENT_NODE && n->type != XML_TEXT_NODE &&
			    n->type != XML_CDATA_SECTION_NODE &&
			    n->type != XML_HTML_DOCUMENT_NODE && n->type != XML_DOCUMENT_NODE)
				continue;
			*matched = true;
			if (n->_private == w->mark)
				continue; /* inside an earlier match */
			tb_break(&w->text);
			w->quiet = 0;
			w->pre = 0;
			walk_tree(w, n);
			tb_break(&w->text);
		}
		break;
	case XPATH_STRING:
		if (r->stringval && *r->stringval) {
			tb_text(&w->text, (const char *)r->stringval,
				strlen((const char *)r->stringval), false);
			*matched = true;
		}
		break;
	case XPATH_NUMBER:
		if (!isnan(r->floatval)) {
			char num[64];

			snprintf(num, sizeof(num), "%.15g", r->floatval);
			tb_text(&w->text, num, strlen(num), false);
			*matched = true;
		}
		break;
	case XPATH_BOOLEAN:
		tb_text(&w->text, r->boolval ? "true" : "false", r->boolval ? 4 : 5, false);
		*matched = true;
		break;
	default:
		break;
	}
	xmlXPathFreeObject(r);
	xmlXPathFreeContext(ctx);
}

int extract_html(const char *html, size_t len, const struct extract_opts *opts,
		 struct extract_result *out, struct err *e)
{
	static const struct extract_opts defaults;
	const struct extract_opts *o = opts ? opts : &defaults;
	struct extract_selector *own_sel = NULL;
	const struct extract_selector *sel = o->selector;
	size_t max_input = o->max_input ? o->max_input : EXTRACT_INPUT_MAX;
	size_t max_text = o->max_text ? o->max_text : EXTRACT_TEXT_MAX;
	struct ignore ig;
	struct walk w;
	xmlDocPtr doc = NULL;
	char *base = NULL;
	int options = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
		      HTML_PARSE_NONET | HTML_PARSE_NODEFDTD | HTML_PARSE_COMPACT;

	memset(out, 0, sizeof(*out));
	extract_init();
	if (!sel && o->selector_text && *o->selector_text) {
		own_sel = extract_selector_new(o->selector_text, e);
		if (!own_sel) {
			out->text = xstrdup("");
			return ERR_INVALID;
		}
		sel = own_sel;
	}
	if (ignore_compile(&ig, o->ignore_text, o->n_ignore, e) != ERR_OK) {
		ignore_free(&ig);
		extract_selector_free(own_sel);
		out->text = xstrdup("");
		return ERR_INVALID;
	}
	if (!html)
		len = 0;
	if (len > max_input) {
		len = max_input;
		out->truncated = true;
	}
	if (len > INT32_MAX)
		len = INT32_MAX;
	if (len) {
		doc = htmlReadMemory(html, (int)len, o->url, o->encoding, options);
		if (!doc && o->encoding) /* a charset libxml2 does not know */
			doc = htmlReadMemory(html, (int)len, o->url, NULL, options);
	}
	walk_init(&w, o, max_text);
	out->selector_matched = !sel;
	if (doc) {
		xmlNodePtr root = (xmlNodePtr)doc;

		w.meta = true;
		w.emit = !sel;
		walk_tree(&w, root);
		if (sel) {
			w.stopped = false;
			run_selector(&w, doc, sel, &out->selector_matched);
		}
		if (w.title)
			out->title = node_text(w.title, EXTRACT_META_VALUE_MAX);
		if (out->title && !*out->title) {
			free(out->title);
			out->title = NULL;
		}
		if (w.lang && *w.lang)
			out->lang = clean_value(w.lang, 64);
	}
	out->truncated |= w.stopped || w.text.full || w.truncated;
	out->text = tb_finish(&w.text, &out->text_len);
	/* The title as the first line of a whole page. */
	if (!sel && out->title && !(o->flags & EXTRACT_NO_TITLE_LINE)) {
		size_t tl = strlen(out->title);
		char *t = xmalloc(tl + 1 + out->text_len + 1);

		memcpy(t, out->title, tl);
		if (out->text_len) {
			t[tl] = '\n';
			memcpy(t + tl + 1, out->text, out->text_len + 1);
			out->text_len += tl + 1;
		} else {
			t[tl] = '\0';
			out->text_len = tl;
		}
		free(out->text);
		out->text = t;
		if (out->text_len > max_text) {
			out->text_len = match_utf8_cut(t, out->text_len, max_text);
			t[out->text_len] = '\0';
			out->truncated = true;
		}
	}
	out->lines_ignored = ignore_apply(&ig, out->text, &out->text_len);

	/* The base for links: <base href> against the page URL. */
	if (w.base)
		base = extract_resolve_url(o->url, w.base);
	if (!base && o->url)
		base = xstrdup(o->url);
	resolve_all(w.links, w.n_links, base, &out->links, &out->n_links);
	resolve_all(w.images, w.n_images, base, &out->images, &out->n_images);
	if (w.canonical)
		out->canonical = extract_resolve_url(base, w.canonical);
	if (w.n_meta) {
		out->meta = xmalloc(w.n_meta * sizeof(*out->meta));
		for (size_t i = 0; i < w.n_meta; i++) {
			struct extract_meta *m = &w.meta_v[i];

			if (strcmp(m->name, "og:image") == 0 || strcmp(m->name, "og:url") == 0 ||
			    strcmp(m->name, "twitter:image") == 0 ||
			    strcmp(m->name, "og:image:url") == 0) {
				char *u = extract_resolve_url(base, m->content);

				if (u) {
					free(m->content);
					m->content = u;
				}
			}
			out->meta[i] = *m;
		}
		out->n_meta = w.n_meta;
	}
	{
		const char *d = extract_meta_get(out, "description");

		if (!d || !*d)
			d = extract_meta_get(out, "og:description");
		if (d && *d)
			out->description = xstrdup(d);
	}
	free(base);
	if (doc)
		xmlFreeDoc(doc);
	ignore_free(&ig);
	extract_selector_free(own_sel);
	return ERR_OK;
}

void extract_result_cleanup(struct extract_result *r)
{
	if (!r)
		return;
	free(r->text);
	free(r->title);
	free(r->description);
	free(r->canonical);
	free(r->lang);
	for (size_t i = 0; i < r->n_meta; i++) {
		free(r->meta[i].name);
		free(r->meta[i].content);
	}
	free(r->meta);
	for (size_t i = 0; i < r->n_links; i++) {
		free(r->links[i].url);
		free(r->links[i].text);
	}
	free(r->links);
	for (size_t i = 0; i < r->n_images; i++) {
		free(r->images[i].url);
		free(r->images[i].text);
	}
	free(r->images);
	memset(r, 0, sizeof(*r));
}

const char *extract_meta_get(const struct extract_result *r, const char *name)
{
	for (size_t i = 0; r && name && i < r->n_meta; i++)
		if (strcasecmp(r->meta[i].name, name) == 0)
			return r->meta[i].content;
	return NULL;
}

/* --- metadata as JSON ------------------------------------------------------- */

/* Groups of meta names: the prefix is dropped inside the group. */
static const struct {
	const char *prefix, *group;
} meta_groups[] = {
	{"og:", "opengraph"},        {"twitter:", "twitter"}, {"article:", "article"},
	{"dcterms.", "dublin_core"}, {"dc.", "dublin_core"},
};

json_t *extract_meta_json(const struct extract_result *r)
{
	json_t *o = json_object();

	if (!r)
		return o;
	if (r->title)
		json_object_set_new(o, "title", json_string_lossy(r->title));
	if (r->description)
		json_object_set_new(o, "description", json_string_lossy(r->description));
	if (r->canonical)
		json_object_set_new(o, "canonical", json_string_lossy(r->canonical));
	if (r->lang)
		json_object_set_new(o, "lang", json_string_lossy(r->lang));
	for (size_t i = 0; i < r->n_meta; i++) {
		const char *name = r->meta[i].name, *key = name;
		json_t *dst = o;

		for (size_t g = 0; g < sizeof(meta_groups) / sizeof(meta_groups[0]); g++) {
			size_t pl = strlen(meta_groups[g].prefix);

			if (strncmp(name, meta_groups[g].prefix, pl) == 0 && name[pl]) {
				dst = json_object_get(o, meta_groups[g].group);
				if (!dst) {
					dst = json_object();
					json_object_set_new(o, meta_groups[g].group, dst);
				}
				key = name + pl;
				break;
			}
		}
		/* the page's own description wins over a group's; the first of
		 * repeated names was kept by the walk */
		if (!json_object_get(dst, key))
			json_object_set_new(dst, key, json_string_lossy(r->meta[i].content));
	}
	return o;
}

/* --- fragments -------------------------------------------------------------- */

char *extract_fragment_text(const char *html, size_t len, size_t max)
{
	struct tb b;
	char *s;
	size_t n;

	extract_init();
	if (!html)
		len = 0;
	if (len > EXTRACT_INPUT_MAX)
		len = EXTRACT_INPUT_MAX;
	if (!memchr(html ? html : "", '<', len) && !memchr(html ? html : "", '&', len)) {
		tb_init(&b, max + 4, true);
		tb_text(&b, html, len, false);
	} else {
		xmlDocPtr doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
					       HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
						       HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
						       HTML_PARSE_NODEFDTD | HTML_PARSE_COMPACT);
		struct walk w;

		memset(&w, 0, sizeof(w));
		tb_init(&w.text, max + 4, true);
		w.emit = true;
		if (doc) {
			walk_tree(&w, (xmlNodePtr)doc);
			xmlFreeDoc(doc);
		}
		b = w.text;
	}
	s = tb_finish(&b, &n);
	if (n > max || b.full) {
		/* cut on a character, leaving room for "…" */
		size_t keep = match_utf8_cut(s, n, max >= 3 ? max - 3 : 0), snap = keep / 4;

		/* end on a word when one ends close by */
		if (keep < n && s[keep] != ' ') {
			for (size_t k = keep; k > 0 && keep - k < snap && keep - k < 30; k--) {
				if (s[k - 1] == ' ') {
					keep = k - 1;
					break;
				}
			}
		}
		while (keep && s[keep - 1] == ' ')
			keep--;
		s = xrealloc(s, keep + 4);
		memcpy(s + keep, "\xe2\x80\xa6", 4);
	}
	return s;
}
