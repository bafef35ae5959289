/*
 * schema.c - validate tool arguments against the JSON Schema subset MCP tool
 * input schemas use (see schema.h for the keywords).
 *
 * Validation walks schema and instance together, keeping the dotted path of
 * the current value in a fixed buffer, and stops at the first problem.  The
 * message names the path, what was expected and what was given, so a model
 * can correct its call.  anyOf/oneOf evaluate every alternative with its own
 * error record and then summarise: when all alternatives failed on the type
 * ("expected string or null, got integer (5)"), when exactly one had the
 * right type (its own error is the useful one), or a list otherwise.
 *
 * Nothing here trusts the schema either: keywords of the wrong type are
 * ignored, recursion is capped, $ref targets are looked up on each use.
 */
#include "schema.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"

#define PATH_LEN 256 /* longest path quoted in a message (bytes) */
#define VALUE_MAX 60 /* longest rendering of one value in a message */
#define LIST_MAX 360 /* longest list of allowed values in a message */
#define EQUAL_DEPTH 512
#define PATTERN_MAX 1024     /* longest pattern used (bytes) */
#define PATTERN_WEIGHT 20000 /* largest pattern size after expanding repeats */
#define PATTERN_NEST 32      /* deepest group nesting in a pattern */

/* Type bits, in the order they are named in messages. */
enum {
	T_STRING = 1 << 0,
	T_INTEGER = 1 << 1,
	T_NUMBER = 1 << 2,
	T_BOOLEAN = 1 << 3,
	T_OBJECT = 1 << 4,
	T_ARRAY = 1 << 5,
	T_NULL = 1 << 6,
};

static const struct {
	const char *name;
	unsigned bit;
} type_names[] = {
	{"string", T_STRING}, {"integer", T_INTEGER}, {"number", T_NUMBER}, {"boolean", T_BOOLEAN},
	{"object", T_OBJECT}, {"array", T_ARRAY},     {"null", T_NULL},
};

/* What the last failure was about, so anyOf/oneOf can summarise. */
enum fail_kind {
	FAIL_OTHER,
	FAIL_TYPE,  /* wrong type; `types` holds what was expected */
	FAIL_VALUE, /* not the const / not in the enum; `allowed` holds it */
};

struct vctx {
	const json_t *root;
	struct err *e;
	char path[PATH_LEN];
	size_t plen;
	enum fail_kind kind;
	size_t fail_plen; /* path length where the failure was found */
	unsigned types;
	const json_t *allowed; /* FAIL_VALUE: the const value or the enum array */
	bool allowed_is_enum;
};

static int validate(struct vctx *c, const json_t *s, const json_t *v, int depth);

/* ---- Text helpers ---------------------------------------------------- */

/* Length of the UTF-8 sequence starting at s[0] (1 for a stray byte). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80 ? 1 : s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 1;
	size_t i;

	if (len > n)
		return 1;
	for (i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 1;
	return len;
}

/* Drop an incomplete UTF-8 sequence snprintf may have left at the end of
 * otherwise valid text. */
static void utf8_trim_tail(char *s)
{
	size_t n = strlen(s), i = n, need;
	unsigned char lead;

	while (i > 0 && n - i < 3 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0)
		return;
	lead = (unsigned char)s[i - 1];
	if (lead < 0xc0)
		return;
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
	if (n - (i - 1) < need)
		s[i - 1] = '\0';
}

/* Byte length of the longest prefix of s[0..n) with at most `max` bytes
 * that ends on a code point boundary. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
	size_t cut = 0, k;

	while (cut < n) {
		k = utf8_len((const unsigned char *)s + cut, n - cut);
		if (cut + k > max)
			break;
		cut += k;
	}
	return cut;
}

static size_t utf8_count(const char *s, size_t n)
{
	size_t i, count = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			count++;
	return count;
}

/* Compact JSON of v, at most about `max` bytes (cut with "..."). */
static void render(const json_t *v, char *out, size_t outlen, size_t max)
{
	char *text;
	size_t n, cut;

	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		json_t *tmp;

		n = json_string_length(v);
		cut = utf8_cut(s, n, max);
		tmp = json_stringn_nocheck(s, cut);
		text = json_dumps(tmp, JSON_ENCODE_ANY);
		json_decref(tmp);
		snprintf(out, outlen, "%s%s", text ? text : "\"\"", cut < n ? "..." : "");
		free(text);
		utf8_trim_tail(out);
		return;
	}
	text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!text) {
		snprintf(out, outlen, "%s", json_type_name(v));
		return;
	}
	n = strlen(text);
	cut = utf8_cut(text, n, max);
	snprintf(out, outlen, "%.*s%s", (int)cut, text, cut < n ? "..." : "");
	free(text);
	utf8_trim_tail(out);
}

/* " (value)" for scalars, "" for null and containers: what was given. */
static void given(const json_t *v, char *out, size_t outlen)
{
	char r[VALUE_MAX + 16];

	if (json_is_null(v) || json_is_object(v) || json_is_array(v)) {
		out[0] = '\0';
		return;
	}
	render(v, r, sizeof r, VALUE_MAX);
	snprintf(out, outlen, " (%s)", r);
}

/* "string, integer or null" */
static void types_text(unsigned mask, char *out, size_t outlen)
{
	size_t i, n = 0, count = 0, seen = 0;

	if ((mask & T_NUMBER) && (mask & T_INTEGER))
		mask &= ~(unsigned)T_INTEGER;
	for (i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
		if (mask & type_names[i].bit)
			count++;
	out[0] = '\0';
	for (i = 0; i < sizeof type_names / sizeof type_names[0] && n < outlen; i++) {
		if (!(mask & type_names[i].bit))
			continue;
		seen++;
		n += snprintf(out + n, outlen - n, "%s%s",
			      seen == 1       ? ""
			      : seen == count ? " or "
					      : ", ",
			      type_names[i].name);
	}
}

/* Append `"a", "b"` renderings of an enum array or one const value. */
static void values_text(const json_t *allowed, bool is_enum, char *out, size_t outlen, size_t *n)
{
	char r[VALUE_MAX + 16];
	size_t i, count = is_enum ? json_array_size(allowed) : 1;

	for (i = 0; i < count && *n < outlen; i++) {
		render(is_enum ? json_array_get(allowed, i) : allowed, r, sizeof r, VALUE_MAX);
		if (*n + strlen(r) + 8 > LIST_MAX && *n + 6 < outlen) {
			*n += snprintf(out + *n, outlen - *n, "%s...", *n ? ", " : "");
			return;
		}
		*n += snprintf(out + *n, outlen - *n, "%s%s", *n ? ", " : "", r);
	}
}

/* ---- Paths and failures ---------------------------------------------- */

static bool simple_key(const char *k)
{
	if (!*k)
		return false;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
		      (*k >= '0' && *k <= '9') || *k == '_' || *k == '-' || *k == '$' || *k == '@'))
			return false;
	return true;
}

static void path_fix(struct vctx *c)
{
	c->path[PATH_LEN - 1] = '\0';
	utf8_trim_tail(c->path);
	c->plen = strlen(c->path);
}

static size_t push_key(struct vctx *c, const char *key)
{
	size_t old = c->plen;

	if (simple_key(key)) {
		snprintf(c->path + old, PATH_LEN - old, "%s%s", old ? "." : "", key);
	} else {
		char r[VALUE_MAX + 16];
		json_t *k = json_string_nocheck(key);

		render(k, r, sizeof r, VALUE_MAX);
		json_decref(k);
		snprintf(c->path + old, PATH_LEN - old, "[%s]", r);
	}
	path_fix(c);
	return old;
}

static size_t push_index(struct vctx *c, size_t i)
{
	size_t old = c->plen;

	snprintf(c->path + old, PATH_LEN - old, "[%zu]", i);
	path_fix(c);
	return old;
}

static void pop(struct vctx *c, size_t old)
{
	c->plen = old;
	c->path[old] = '\0';
}

static void set_msg(struct vctx *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_msg(struct vctx *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_setv(c->e, code, fmt, ap);
	va_end(ap);
	if (c->e)
		utf8_trim_tail(c->e->msg);
}

/* Fail at the current path with "argument "PATH": DETAIL". */
static int failf(struct vctx *c, enum fail_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int failf(struct vctx *c, enum fail_kind kind, const char *fmt, ...)
{
	char detail[ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	utf8_trim_tail(detail);
	if (c->plen)
		set_msg(c, ERR_INVALID, "argument \"%s\": %s", c->path, detail);
	else
		set_msg(c, ERR_INVALID, "arguments: %s", detail);
	c->kind = kind;
	c->fail_plen = c->plen;
	return ERR_INVALID;
}

/* ---- Values ---------------------------------------------------------- */

static bool is_number(const json_t *v)
{
	return json_is_integer(v) || json_is_real(v);
}

static long double num(const json_t *v)
{
	return json_is_integer(v) ? (long double)json_integer_value(v) : json_real_value(v);
}

/* -1, 0, 1 comparing two numbers exactly (long double holds any int64). */
static int num_cmp(const json_t *a, const json_t *b)
{
	if (json_is_integer(a) && json_is_integer(b)) {
		json_int_t x = json_integer_value(a), y = json_integer_value(b);
		return x < y ? -1 : x > y;
	}
	long double x = num(a), y = num(b);
	return x < y ? -1 : x > y;
}

/* A non-negative whole number from a schema keyword (integer or 3.0). */
static bool schema_count(const json_t *j, size_t *out)
{
	if (json_is_integer(j) && json_integer_value(j) >= 0) {
		*out = (size_t)json_integer_value(j);
		return true;
	}
	if (json_is_real(j) && json_real_value(j) >= 0 && json_real_value(j) < 1e18 &&
	    floor(json_real_value(j)) == json_real_value(j)) {
		*out = (size_t)json_real_value(j);
		return true;
	}
	return false;
}

/* JSON Schema equality: numbers by value (1 == 1.0), objects unordered. */
static bool values_equal(const json_t *a, const json_t *b, int depth)
{
	size_t i;

	if (a == b)
		return true;
	if (depth > EQUAL_DEPTH)
		return false;
	if (is_number(a) && is_number(b))
		return num_cmp(a, b) == 0;
	if (json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		       memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) ==
			       0;
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (i = 0; i < json_array_size(a); i++)
			if (!values_equal(json_array_get(a, i), json_array_get(b, i), depth + 1))
				return false;
		return true;
	case JSON_OBJECT: {
		const char *k;
		json_t *x;

		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_foreach((json_t *)a, k, x) {
			json_t *y = json_object_get(b, k);
			if (!y || !values_equal(x, y, depth + 1))
				return false;
		}
		return true;
	}
	default:
		return true; /* true, false, null */
	}
}

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* A hash consistent with values_equal. */
static uint64_t hash_value(const json_t *v, int depth)
{
	uint64_t h;
	size_t i;

	if (depth > 64)
		return 7;
	switch (json_typeof(v)) {
	case JSON_INTEGER:
	case JSON_REAL: {
		double d = (double)num(v);
		uint64_t bits;

		if (d == 0)
			d = 0; /* -0.0 == 0.0 */
		memcpy(&bits, &d, sizeof bits);
		return mix(bits ^ 0x1111);
	}
	case JSON_STRING:
		return mix(hash_bytes(json_string_value(v), json_string_length(v)) ^ 0x2222);
	case JSON_ARRAY:
		h = 0x3333;
		for (i = 0; i < json_array_size(v); i++)
			h = mix(h * 31 + hash_value(json_array_get(v, i), depth + 1));
		return h;
	case JSON_OBJECT: {
		const char *k;
		json_t *x;

		h = 0x4444;
		json_object_foreach((json_t *)v, k, x)
			h += mix(hash_bytes(k, strlen(k)) ^ (hash_value(x, depth + 1) * 7));
		return h;
	}
	case JSON_TRUE:
		return 0x5555;
	case JSON_FALSE:
		return 0x6666;
	default:
		return 0x7777;
	}
}

struct hashed {
	uint64_t h;
	size_t i;
};

static int hashed_cmp(const void *pa, const void *pb)
{
	const struct hashed *a = pa, *b = pb;

	if (a->h != b->h)
		return a->h < b->h ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

/* Find two equal items (smallest second index, then smallest first) in
 * O(n log n); returns false when all are distinct. */
static bool find_duplicate(const json_t *arr, size_t *first, size_t *second)
{
	size_t n = json_array_size(arr), i, j, k, run;
	struct hashed *hs;
	bool found = false;

	if (n < 2)
		return false;
	hs = xmalloc(n * sizeof *hs);
	for (i = 0; i < n; i++) {
		hs[i].h = hash_value(json_array_get(arr, i), 0);
		hs[i].i = i;
	}
	qsort(hs, n, sizeof *hs, hashed_cmp);
	for (i = 0; i < n; i = run) {
		for (run = i + 1; run < n && hs[run].h == hs[i].h; run++)
			;
		/* Within a run indices ascend: the first equal pair is the best. */
		for (j = i + 1; j < run; j++) {
			for (k = i; k < j; k++) {
				if (values_equal(json_array_get(arr, hs[k].i),
						 json_array_get(arr, hs[j].i), 0))
					break;
			}
			if (k < j) {
				if (!found || hs[j].i < *second) {
					*first = hs[k].i;
					*second = hs[j].i;
					found = true;
				}
				break;
			}
		}
	}
	free(hs);
	return found;
}

/* ---- Patterns -------------------------------------------------------- */

static bool ere_special(char ch)
{
	return ch && strchr(".[]()*+?{}|^$\\", ch) != NULL;
}

static char escape_char(char ch)
{
	switch (ch) {
	case 'n':
		return '\n';
	case 't':
		return '\t';
	case 'r':
		return '\r';
	case 'f':
		return '\f';
	case 'v':
		return '\v';
	default:
		return 0;
	}
}

/* Translate one bracket expression starting after '['; *ip is advanced
 * past its ']'.  Returns false when it cannot be expressed. */
static bool class_to_ere(const char *s, size_t *ip, char *out, size_t *op)
{
	size_t i = *ip, o = *op;
	bool negate = false, rbracket = false, dash = false, caret = false;
	char body[1024];
	size_t b = 0;

	if (s[i] == '^') {
		negate = true;
		i++;
	}
	if (s[i] == ']')
		return false; /* ECMA's empty class [] or [^] */
	while (s[i] && s[i] != ']') {
		const char *add = NULL;
		char one[2] = {0, 0};

		if (b + 16 > sizeof body)
			return false;
		if (s[i] == '\\') {
			char nx = s[i + 1];

			if (!nx)
				return false;
			i += 2;
			switch (nx) {
			case 'd':
				add = "0-9";
				break;
			case 'w':
				add = "[:alnum:]_";
				break;
			case 's':
				add = "[:space:]";
				break;
			case ']':
				rbracket = true;
				continue;
			case '-':
				dash = true;
				continue;
			case '^':
				caret = true;
				continue;
			case 'b':
				one[0] = '\b';
				break;
			default:
				if (escape_char(nx)) {
					one[0] = escape_char(nx);
				} else if ((nx >= 'a' && nx <= 'z') || (nx >= 'A' && nx <= 'Z') ||
					   (nx >= '0' && nx <= '9')) {
					return false; /* \D \W \S \u \x \p ... */
				} else if (nx == '[' && s[i] && strchr(":.=", s[i])) {
					return false;
				} else {
					one[0] = nx;
				}
			}
			if (!add)
				add = one;
		} else {
			one[0] = s[i++];
			add = one;
		}
		memcpy(body + b, add, strlen(add));
		b += strlen(add);
	}
	if (s[i] != ']')
		return false;
	*ip = i + 1;
	if (!negate && !rbracket && !b && !dash) {
		/* [\^] alone: a literal caret. */
		memcpy(out + o, "\\^", 2);
		*op = o + 2;
		return true;
	}
	out[o++] = '[';
	if (negate)
		out[o++] = '^';
	if (rbracket)
		out[o++] = ']';
	memcpy(out + o, body, b);
	o += b;
	if (caret)
		out[o++] = '^';
	if (dash)
		out[o++] = '-';
	out[o++] = ']';
	*op = o;
	return true;
}

/*
 * The size of a pattern once repeats are expanded, estimated while it is
 * translated: glibc's regcomp copies a repeated group once per count, so
 * "((a{100}){100}){100}" would take gigabytes.  Each group level keeps the
 * size of its sequence so far and of its last atom; a quantifier multiplies
 * the last atom.  last == 0 means there is nothing to repeat (ECMA-262 would
 * reject the pattern too).
 */
struct weigh {
	unsigned long seq[PATTERN_NEST + 1];
	unsigned long last;
	int depth;
};

static bool weigh_atom(struct weigh *w, unsigned long size)
{
	w->seq[w->depth] += size;
	w->last = size;
	return w->seq[w->depth] <= PATTERN_WEIGHT;
}

/* A quantifier repeating the last atom up to `times` times. */
static bool weigh_repeat(struct weigh *w, unsigned long times)
{
	if (!w->last)
		return false;
	if (times > 1)
		w->seq[w->depth] += w->last * (times - 1);
	w->last = 0;
	return w->seq[w->depth] <= PATTERN_WEIGHT;
}

/* Parse "{n}", "{n,}" or "{n,m}" at s; returns its length or 0. */
static size_t counted_repeat(const char *s, unsigned long *times)
{
	size_t i = 1;
	unsigned long lo = 0, hi;
	bool open = false;

	if (!(s[i] >= '0' && s[i] <= '9'))
		return 0;
	while (s[i] >= '0' && s[i] <= '9' && lo <= PATTERN_WEIGHT)
		lo = lo * 10 + (unsigned long)(s[i++] - '0');
	hi = lo;
	if (s[i] == ',') {
		i++;
		if (s[i] == '}') {
			open = true;
		} else {
			hi = 0;
			if (!(s[i] >= '0' && s[i] <= '9'))
				return 0;
			while (s[i] >= '0' && s[i] <= '9' && hi <= PATTERN_WEIGHT)
				hi = hi * 10 + (unsigned long)(s[i++] - '0');
		}
	}
	if (s[i] != '}')
		return 0;
	*times = open ? lo + 1 : hi;
	if (hi < lo || *times > PATTERN_WEIGHT)
		*times = PATTERN_WEIGHT + 1; /* caller fails on the weight */
	return i + 1;
}

/* An ECMA-262 pattern as a POSIX ERE (glibc flavour), or NULL when it uses
 * what ERE lacks (lookaround, back references, \u escapes, ...) or would be
 * too large to compile. */
static char *pattern_to_ere(const char *s)
{
	size_t n = strlen(s), i = 0, o = 0, k;
	struct weigh w;
	unsigned long times;
	char *out;

	if (n > PATTERN_MAX)
		return NULL;
	memset(&w, 0, sizeof w);
	out = xmalloc(16 * n + 16);
	while (s[i]) {
		char ch = s[i];

		if (ch == '\\') {
			char nx = s[i + 1];
			const char *add = NULL;
			char one[3] = {0, 0, 0};

			if (!nx)
				goto fail;
			i += 2;
			switch (nx) {
			case 'd':
				add = "[0-9]";
				break;
			case 'D':
				add = "[^0-9]";
				break;
			case 'w':
				add = "[[:alnum:]_]";
				break;
			case 'W':
				add = "[^[:alnum:]_]";
				break;
			case 's':
				add = "[[:space:]]";
				break;
			case 'S':
				add = "[^[:space:]]";
				break;
			case 'b':
			case 'B':
				/* Word boundaries (a GNU extension): nothing to repeat. */
				memcpy(out + o, nx == 'b' ? "\\b" : "\\B", 2);
				o += 2;
				w.last = 0;
				continue;
			default:
				if (escape_char(nx)) {
					one[0] = escape_char(nx);
				} else if ((nx >= 'a' && nx <= 'z') || (nx >= 'A' && nx <= 'Z') ||
					   (nx >= '0' && nx <= '9')) {
					goto fail; /* \u \x \p \k \c \0, back references */
				} else if (ere_special(nx)) {
					one[0] = '\\';
					one[1] = nx;
				} else {
					one[0] = nx;
				}
				add = one;
			}
			memcpy(out + o, add, strlen(add));
			o += strlen(add);
			if (!weigh_atom(&w, 1))
				goto fail;
			continue;
		}
		switch (ch) {
		case '[':
			i++;
			if (!class_to_ere(s, &i, out, &o) || !weigh_atom(&w, 1))
				goto fail;
			continue;
		case '(':
			if (w.depth >= PATTERN_NEST)
				goto fail;
			if (s[i + 1] == '?') {
				if (s[i + 2] != ':')
					goto fail; /* lookaround, named groups */
				i += 2;
			}
			out[o++] = '(';
			i++;
			w.seq[++w.depth] = 0;
			w.last = 0;
			continue;
		case ')': {
			unsigned long size;

			if (w.depth == 0)
				goto fail;
			size = w.seq[w.depth--];
			out[o++] = ')';
			i++;
			if (!weigh_atom(&w, size ? size : 1))
				goto fail;
			continue;
		}
		case '|':
		case '^':
		case '$':
			out[o++] = ch;
			i++;
			w.last = 0;
			continue;
		case '*':
		case '+':
		case '?':
			if (!weigh_repeat(&w, 2))
				goto fail;
			out[o++] = ch;
			i++;
			if (s[i] == '?') /* lazy: matches the same strings */
				i++;
			continue;
		case '{':
			k = counted_repeat(s + i, &times);
			if (k) {
				if (!weigh_repeat(&w, times))
					goto fail;
				memcpy(out + o, s + i, k);
				o += k;
				i += k;
				if (s[i] == '?')
					i++;
				continue;
			}
			/* A literal brace (ECMA-262 annex B). */
			memcpy(out + o, "[{]", 3);
			o += 3;
			i++;
			if (!weigh_atom(&w, 1))
				goto fail;
			continue;
		case '}':
			memcpy(out + o, "[}]", 3);
			o += 3;
			i++;
			if (!weigh_atom(&w, 1))
				goto fail;
			continue;
		default:
			out[o++] = ch;
			i++;
			if (!weigh_atom(&w, 1))
				goto fail;
		}
	}
	if (w.depth)
		goto fail;
	out[o] = '\0';
	return out;
fail:
	free(out);
	return NULL;
}

/* 1 when s matches, 0 when not, -1 when the pattern cannot be used. */
static int pattern_match(const char *pattern, const char *s)
{
	char *ere = pattern_to_ere(pattern);
	regex_t re;
	int rc;

	if (!ere) {
		log_debug("schema: pattern \"%s\" uses ECMA-262 features POSIX lacks; ignored",
			  pattern);
		return -1;
	}
	rc = regcomp(&re, ere, REG_EXTENDED | REG_NOSUB);
	free(ere);
	if (rc) {
		log_debug("schema: pattern \"%s\" does not compile; ignored", pattern);
		return -1;
	}
	rc = regexec(&re, s, 0, NULL, 0);
	regfree(&re);
	return rc == 0;
}

/* ---- Keywords -------------------------------------------------------- */

static unsigned type_bit(const char *name)
{
	size_t i;

	for (i = 0; name && i < sizeof type_names / sizeof type_names[0]; i++)
		if (strcmp(name, type_names[i].name) == 0)
			return type_names[i].bit;
	return 0;
}

/* The types v satisfies. */
static unsigned value_types(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return T_STRING;
	case JSON_INTEGER:
		return T_INTEGER | T_NUMBER;
	case JSON_REAL: {
		double d = json_real_value(v);
		return T_NUMBER | (floor(d) == d ? T_INTEGER : 0);
	}
	case JSON_TRUE:
	case JSON_FALSE:
		return T_BOOLEAN;
	case JSON_OBJECT:
		return T_OBJECT;
	case JSON_ARRAY:
		return T_ARRAY;
	default:
		return T_NULL;
	}
}

static int check_type(struct vctx *c, const json_t *t, const json_t *v)
{
	unsigned mask = 0;
	char want[128], got[VALUE_MAX + 24];
	size_t i;

	if (json_is_string(t)) {
		mask = type_bit(json_string_value(t));
	} else if (json_is_array(t)) {
		for (i = 0; i < json_array_size(t); i++)
			mask |= type_bit(json_string_value(json_array_get(t, i)));
	}
	if (!mask || (mask & value_types(v)))
		return 0; /* no known type named: no constraint */
	types_text(mask, want, sizeof want);
	given(v, got, sizeof got);
	failf(c, FAIL_TYPE, "expected %s, got %s%s", want, json_type_name(v), got);
	c->types = mask;
	return ERR_INVALID;
}

static int check_values(struct vctx *c, const json_t *s, const json_t *v)
{
	const json_t *en = json_object_get(s, "enum");
	const json_t *co = json_object_get(s, "const");
	char list[LIST_MAX + 64], got[VALUE_MAX + 16];
	size_t i, n = 0;

	if (json_is_array(en)) {
		for (i = 0; i < json_array_size(en); i++)
			if (values_equal(json_array_get(en, i), v, 0))
				break;
		if (i == json_array_size(en) && i == 0)
			return failf(c, FAIL_OTHER, "no value is allowed here (the enum is empty)");
		if (i == json_array_size(en)) {
			values_text(en, true, list, sizeof list, &n);
			render(v, got, sizeof got, VALUE_MAX);
			failf(c, FAIL_VALUE, "must be %s%s; got %s",
			      json_array_size(en) == 1 ? "" : "one of ", list, got);
			c->allowed = en;
			c->allowed_is_enum = true;
			return ERR_INVALID;
		}
	}
	if (co && !values_equal(co, v, 0)) {
		values_text(co, false, list, sizeof list, &n);
		render(v, got, sizeof got, VALUE_MAX);
		failf(c, FAIL_VALUE, "must be %s; got %s", list, got);
		c->allowed = co;
		c->allowed_is_enum = false;
		return ERR_INVALID;
	}
	return 0;
}

static void num_text(const json_t *v, char *out, size_t outlen)
{
	if (json_is_integer(v)) {
		snprintf(out, outlen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else {
		double d = json_real_value(v);

		snprintf(out, outlen, "%.15g", d);
		if (strtod(out, NULL) != d)
			snprintf(out, outlen, "%.17g", d);
	}
}

static int check_number(struct vctx *c, const json_t *s, const json_t *v)
{
	static const struct {
		const char *key;
		int bad_cmp;   /* fail when num_cmp(v, limit) has this sign ... */
		bool or_equal; /* ... or is 0 */
		const char *op;
	} limits[] = {
		{"minimum", -1, false, ">="},
		{"maximum", 1, false, "<="},
		{"exclusiveMinimum", -1, true, ">"},
		{"exclusiveMaximum", 1, true, "<"},
	};
	char lim[64], got[64];
	const json_t *m;
	size_t i;

	for (i = 0; i < sizeof limits / sizeof limits[0]; i++) {
		const json_t *limit = json_object_get(s, limits[i].key);
		bool exclusive = limits[i].or_equal;
		const char *op = limits[i].op;
		int cmp;

		if (!is_number(limit))
			continue; /* also draft 4's boolean exclusiveMinimum, used below */
		if (i < 2 && json_is_true(json_object_get(s, limits[i + 2].key))) {
			exclusive = true;
			op = limits[i + 2].op;
		}
		cmp = num_cmp(v, limit);
		if (cmp == limits[i].bad_cmp || (exclusive && cmp == 0)) {
			num_text(limit, lim, sizeof lim);
			num_text(v, got, sizeof got);
			return failf(c, FAIL_OTHER, "must be %s %s; got %s", op, lim, got);
		}
	}

	m = json_object_get(s, "multipleOf");
	if (is_number(m) && num(m) > 0) {
		bool ok;

		if (json_is_integer(m) && json_is_integer(v)) {
			ok = json_integer_value(v) % json_integer_value(m) == 0;
		} else {
			long double q = num(v) / num(m);
			ok = fabsl(q - roundl(q)) <= 1e-9L * (fabsl(q) > 1 ? fabsl(q) : 1);
		}
		if (!ok) {
			num_text(m, lim, sizeof lim);
			num_text(v, got, sizeof got);
			return failf(c, FAIL_OTHER, "must be a multiple of %s; got %s", lim, got);
		}
	}
	return 0;
}

static int check_string(struct vctx *c, const json_t *s, const json_t *v)
{
	size_t len = utf8_count(json_string_value(v), json_string_length(v)), lim;
	const json_t *p = json_object_get(s, "pattern");

	if (schema_count(json_object_get(s, "minLength"), &lim) && len < lim)
		return failf(c, FAIL_OTHER, "must be at least %zu character%s long; got %zu", lim,
			     lim == 1 ? "" : "s", len);
	if (schema_count(json_object_get(s, "maxLength"), &lim) && len > lim)
		return failf(c, FAIL_OTHER, "must be at most %zu character%s long; got %zu", lim,
			     lim == 1 ? "" : "s", len);
	if (json_is_string(p) && pattern_match(json_string_value(p), json_string_value(v)) == 0) {
		char pat[VALUE_MAX + 16], got[VALUE_MAX + 16];

		render(p, pat, sizeof pat, VALUE_MAX);
		render(v, got, sizeof got, VALUE_MAX);
		return failf(c, FAIL_OTHER, "must match the pattern %s; got %s", pat, got);
	}
	return 0;
}

static int check_array(struct vctx *c, const json_t *s, const json_t *v, int depth)
{
	size_t n = json_array_size(v), lim, i = 0, first = 0, prefix = 0, old;
	const json_t *items = json_object_get(s, "items");
	const json_t *pre = json_object_get(s, "prefixItems");
	int rc;

	if (schema_count(json_object_get(s, "minItems"), &lim) && n < lim)
		return failf(c, FAIL_OTHER, "must have at least %zu item%s; got %zu", lim,
			     lim == 1 ? "" : "s", n);
	if (schema_count(json_object_get(s, "maxItems"), &lim) && n > lim)
		return failf(c, FAIL_OTHER, "must have at most %zu item%s; got %zu", lim,
			     lim == 1 ? "" : "s", n);
	if (json_is_true(json_object_get(s, "uniqueItems")) && find_duplicate(v, &first, &i)) {
		char r[VALUE_MAX + 16];

		render(json_array_get(v, i), r, sizeof r, VALUE_MAX);
		return failf(c, FAIL_OTHER,
			     "items must be unique, but items %zu and %zu are equal (%s)", first, i,
			     r);
	}

	/* Positional schemas: prefixItems (2020-12) or an items array (draft 4-7). */
	if (!json_is_array(pre) && json_is_array(items)) {
		pre = items;
		items = NULL;
	}
	if (json_is_array(pre)) {
		prefix = json_array_size(pre);
		for (i = 0; i < n && i < prefix; i++) {
			old = push_index(c, i);
			rc = validate(c, json_array_get(pre, i), json_array_get(v, i), depth + 1);
			if (rc)
				return rc;
			pop(c, old);
		}
	}
	if (items && !json_is_array(items)) {
		for (i = prefix; i < n; i++) {
			old = push_index(c, i);
			rc = validate(c, items, json_array_get(v, i), depth + 1);
			if (rc)
				return rc;
			pop(c, old);
		}
	}
	return 0;
}

/* Is key covered by properties or by a patternProperties pattern? */
static bool key_known(const json_t *s, const char *key)
{
	const json_t *pp = json_object_get(s, "patternProperties");
	const char *pat;
	json_t *sub;

	if (json_object_get(json_object_get(s, "properties"), key))
		return true;
	if (json_is_object(pp))
		json_object_foreach((json_t *)pp, pat, sub)
			if (pattern_match(pat, key) == 1)
				return true;
	return false;
}

static int check_object(struct vctx *c, const json_t *s, const json_t *v, int depth)
{
	const json_t *props = json_object_get(s, "properties");
	const json_t *pp = json_object_get(s, "patternProperties");
	const json_t *req = json_object_get(s, "required");
	const json_t *ap = json_object_get(s, "additionalProperties");
	const char *key;
	json_t *val, *sub;
	size_t old, lim, i;
	int rc;

	/* Unknown names first: a misspelt name explains a "missing" one. */
	if (ap && !json_is_true(ap)) {
		json_object_foreach((json_t *)v, key, val) {
			if (key_known(s, key))
				continue;
			if (json_is_false(ap)) {
				char list[LIST_MAX + 64];
				size_t n = 0;
				const char *pk;
				json_t *unused;

				list[0] = '\0';
				if (json_is_object(props))
					json_object_foreach((json_t *)props, pk, unused) {
						json_t *tmp = json_string_nocheck(pk);
						char r[VALUE_MAX + 16];

						render(tmp, r, sizeof r, VALUE_MAX);
						json_decref(tmp);
						if (n + strlen(r) + 8 > LIST_MAX) {
							n += snprintf(list + n, sizeof list - n,
								      ", ...");
							break;
						}
						n += snprintf(list + n, sizeof list - n, "%s%s",
							      n ? ", " : "", r);
					}
				old = push_key(c, key);
				set_msg(c, ERR_INVALID, "unknown argument \"%s\"; %s%s", c->path,
					n ? "allowed here: "
					  : "no other arguments are allowed here",
					list);
				c->kind = FAIL_OTHER;
				c->fail_plen = c->plen;
				return ERR_INVALID;
			}
			old = push_key(c, key);
			rc = validate(c, ap, val, depth + 1);
			if (rc)
				return rc;
			pop(c, old);
		}
	}

	if (json_is_array(req)) {
		for (i = 0; i < json_array_size(req); i++) {
			const char *name = json_string_value(json_array_get(req, i));

			if (!name || json_object_get(v, name))
				continue;
			old = push_key(c, name);
			set_msg(c, ERR_INVALID, "missing required argument \"%s\"", c->path);
			c->kind = FAIL_OTHER;
			c->fail_plen = c->plen;
			return ERR_INVALID;
		}
	}

	if (json_is_object(props)) {
		json_object_foreach((json_t *)props, key, sub) {
			val = json_object_get(v, key);
			if (!val)
				continue;
			old = push_key(c, key);
			rc = validate(c, sub, val, depth + 1);
			if (rc)
				return rc;
			pop(c, old);
		}
	}

	if (json_is_object(pp)) {
		const char *pat;

		json_object_foreach((json_t *)v, key, val) {
			json_object_foreach((json_t *)pp, pat, sub) {
				if (pattern_match(pat, key) != 1)
					continue;
				old = push_key(c, key);
				rc = validate(c, sub, val, depth + 1);
				if (rc)
					return rc;
				pop(c, old);
			}
		}
	}

	if (schema_count(json_object_get(s, "minProperties"), &lim) && json_object_size(v) < lim)
		return failf(c, FAIL_OTHER, "must have at least %zu member%s; got %zu", lim,
			     lim == 1 ? "" : "s", json_object_size(v));
	if (schema_count(json_object_get(s, "maxProperties"), &lim) && json_object_size(v) > lim)
		return failf(c, FAIL_OTHER, "must have at most %zu member%s; got %zu", lim,
			     lim == 1 ? "" : "s", json_object_size(v));
	return 0;
}

/* ---- Combinators ----------------------------------------------------- */

struct branch {
	struct err e;
	enum fail_kind kind;
	size_t fail_plen;
	unsigned types;
	const json_t *allowed;
	bool allowed_is_enum;
	bool ok;
};

/* Run sub-schema s on v, recording the outcome in *b (never in c->e). */
static int try_branch(struct vctx *c, const json_t *s, const json_t *v, int depth, struct branch *b)
{
	struct err *saved = c->e;
	size_t plen = c->plen;
	int rc;

	err_clear(&b->e);
	c->e = &b->e;
	c->kind = FAIL_OTHER;
	rc = validate(c, s, v, depth);
	c->e = saved;
	pop(c, plen);
	b->ok = rc == 0;
	b->kind = c->kind;
	b->fail_plen = c->fail_plen;
	b->types = c->types;
	b->allowed = c->allowed;
	b->allowed_is_enum = c->allowed_is_enum;
	return rc;
}

/* The alternatives all failed: one message for them all. */
static int summarise(struct vctx *c, const char *kw, struct branch *bs, size_t n, const json_t *v)
{
	size_t i, right = 0, values = 0, pick = 0, len;
	unsigned types = 0;

	for (i = 0; i < n; i++) {
		if (bs[i].kind == FAIL_TYPE && bs[i].fail_plen == c->plen) {
			types |= bs[i].types;
		} else {
			right++;
			pick = i;
			if (bs[i].kind == FAIL_VALUE && bs[i].fail_plen == c->plen)
				values++;
		}
	}
	if (right == 0) {
		char want[128], got[VALUE_MAX + 24];

		types_text(types, want, sizeof want);
		given(v, got, sizeof got);
		failf(c, FAIL_TYPE, "expected %s, got %s%s", want, json_type_name(v), got);
		c->types = types;
		return ERR_INVALID;
	}
	if (right == 1) {
		/* Only one alternative had the right type: its error is the one. */
		if (c->e)
			*c->e = bs[pick].e;
		c->kind = bs[pick].kind;
		c->fail_plen = bs[pick].fail_plen;
		c->types = bs[pick].types;
		c->allowed = bs[pick].allowed;
		c->allowed_is_enum = bs[pick].allowed_is_enum;
		return ERR_INVALID;
	}
	if (values == right) {
		char list[LIST_MAX + 64], got[VALUE_MAX + 16];

		len = 0;
		list[0] = '\0';
		for (i = 0; i < n; i++)
			if (bs[i].kind == FAIL_VALUE && bs[i].fail_plen == c->plen)
				values_text(bs[i].allowed, bs[i].allowed_is_enum, list, sizeof list,
					    &len);
		render(v, got, sizeof got, VALUE_MAX);
		return failf(c, FAIL_OTHER, "must be one of %s; got %s", list, got);
	}
	{
		char all[ERR_MSG_MAX];
		size_t k = 0;

		all[0] = '\0';
		for (i = 0; i < n && k < sizeof all; i++) {
			if (bs[i].kind == FAIL_TYPE && bs[i].fail_plen == c->plen)
				continue;
			k += snprintf(all + k, sizeof all - k, "%s(%zu) %s", k ? "; " : "", i + 1,
				      err_msg(&bs[i].e));
		}
		all[sizeof all - 1] = '\0';
		utf8_trim_tail(all);
		return failf(c, FAIL_OTHER, "does not match any of the %zu alternatives (%s): %s",
			     n, kw, all);
	}
}

static int check_any_one(struct vctx *c, const json_t *list, const json_t *v, int depth, bool one)
{
	size_t n = json_array_size(list), i, matched = 0, m1 = 0, m2 = 0;
	struct branch *bs;
	int rc = 0;

	if (!n)
		return 0;
	bs = xcalloc(n, sizeof *bs);
	for (i = 0; i < n; i++) {
		rc = try_branch(c, json_array_get(list, i), v, depth + 1, &bs[i]);
		if (rc && rc != ERR_INVALID) {
			/* A broken schema: report that, not a summary. */
			if (c->e)
				*c->e = bs[i].e;
			goto out;
		}
		if (bs[i].ok) {
			if (matched == 0)
				m1 = i;
			else if (matched == 1)
				m2 = i;
			matched++;
			if (!one)
				break;
		}
	}
	rc = 0;
	if (matched == 0)
		rc = summarise(c, one ? "oneOf" : "anyOf", bs, n, v);
	else if (one && matched > 1)
		rc = failf(c, FAIL_OTHER,
			   "matches alternatives %zu and %zu of oneOf, but must match exactly one",
			   m1 + 1, m2 + 1);
out:
	free(bs);
	return rc;
}

/* Resolve "#", "#/a/b~1c" (JSON pointer, %-escapes allowed) in the root. */
static const json_t *resolve_ref(const json_t *root, const char *ref)
{
	const json_t *cur = root;
	const char *p = ref + 1;
	char tok[256];

	while (*p == '/') {
		size_t t = 0;

		p++;
		while (*p && *p != '/') {
			char ch = *p++;

			if (ch == '~' && (*p == '0' || *p == '1')) {
				ch = *p++ == '0' ? '~' : '/';
			} else if (ch == '%' && p[0] && p[1]) {
				char hex[3] = {p[0], p[1], 0};
				char *end;
				long x = strtol(hex, &end, 16);

				if (*end == '\0' && x > 0) {
					ch = (char)x;
					p += 2;
				}
			}
			if (t + 1 >= sizeof tok)
				return NULL;
			tok[t++] = ch;
		}
		tok[t] = '\0';
		if (json_is_object(cur)) {
			cur = json_object_get(cur, tok);
		} else if (json_is_array(cur)) {
			char *end;
			unsigned long idx = strtoul(tok, &end, 10);

			if (!t || *end || tok[0] == '-')
				return NULL;
			cur = json_array_get(cur, idx);
		} else {
			return NULL;
		}
		if (!cur)
			return NULL;
	}
	return *p ? NULL : cur;
}

/* ---- The walk -------------------------------------------------------- */

static int validate(struct vctx *c, const json_t *s, const json_t *v, int depth)
{
	const json_t *k;
	size_t i;
	int rc;

	if (depth > MCP_SCHEMA_MAX_DEPTH)
		return failf(c, FAIL_OTHER,
			     "nested too deeply: schemas (with $ref) deeper than %d levels are not "
			     "supported",
			     MCP_SCHEMA_MAX_DEPTH);
	if (!s || json_is_true(s))
		return 0;
	if (json_is_false(s))
		return failf(c, FAIL_OTHER, "not allowed here");
	if (!json_is_object(s))
		return 0;

	k = json_object_get(s, "$ref");
	if (json_is_string(k) && json_string_value(k)[0] == '#') {
		const json_t *target = resolve_ref(c->root, json_string_value(k));

		if (!target) {
			set_msg(c, ERR_INTERNAL,
				"the tool's input schema is broken: $ref \"%s\" does not resolve; "
				"this is a bug in the server, not in the arguments",
				json_string_value(k));
			c->kind = FAIL_OTHER;
			c->fail_plen = c->plen;
			return ERR_INTERNAL;
		}
		rc = validate(c, target, v, depth + 1);
		if (rc)
			return rc;
	}

	k = json_object_get(s, "type");
	if (k && (rc = check_type(c, k, v)))
		return rc;
	if ((rc = check_values(c, s, v)))
		return rc;
	if (is_number(v) && (rc = check_number(c, s, v)))
		return rc;
	if (json_is_string(v) && (rc = check_string(c, s, v)))
		return rc;
	if (json_is_array(v) && (rc = check_array(c, s, v, depth)))
		return rc;
	if (json_is_object(v) && (rc = check_object(c, s, v, depth)))
		return rc;

	k = json_object_get(s, "allOf");
	for (i = 0; json_is_array(k) && i < json_array_size(k); i++)
		if ((rc = validate(c, json_array_get(k, i), v, depth + 1)))
			return rc;
	k = json_object_get(s, "anyOf");
	if (json_is_array(k) && (rc = check_any_one(c, k, v, depth, false)))
		return rc;
	k = json_object_get(s, "oneOf");
	if (json_is_array(k) && (rc = check_any_one(c, k, v, depth, true)))
		return rc;
	k = json_object_get(s, "not");
	if (k) {
		struct branch b;

		rc = try_branch(c, k, v, depth + 1, &b);
		if (rc && rc != ERR_INVALID) {
			if (c->e)
				*c->e = b.e;
			return rc;
		}
		if (b.ok)
			return failf(c, FAIL_OTHER, "must not match the schema under \"not\"");
	}
	return 0;
}

int mcp_schema_validate(const json_t *schema, const json_t *instance, struct err *e)
{
	struct vctx c;
	json_t *empty = NULL;
	int rc;

	memset(&c, 0, sizeof c);
	c.root = schema;
	c.e = e;
	if (!instance)
		instance = empty = json_object();
	rc = validate(&c, schema, instance, 0);
	json_decref(empty);
	return rc;
}

int mcp_schema_check(const json_t *schema, struct err *e)
{
	const json_t *type, *props, *req, *sub;
	const char *key;
	size_t i;

	if (!json_is_object(schema))
		return err_set(e, ERR_INVALID, "an input schema must be a JSON object, not %s",
			       schema ? json_type_name(schema) : "nothing");
	type = json_object_get(schema, "type");
	if (type && !(json_is_string(type) && strcmp(json_string_value(type), "object") == 0))
		return err_set(e, ERR_INVALID,
			       "an input schema must have \"type\": \"object\" (tool arguments are "
			       "an object)");
	props = json_object_get(schema, "properties");
	if (props && !json_is_object(props))
		return err_set(e, ERR_INVALID,
			       "\"properties\" of an input schema must be an object, not %s",
			       json_type_name(props));
	json_object_foreach((json_t *)props, key, sub) {
		char name[128];

		if (json_is_object(sub) || json_is_boolean(sub))
			continue;
		snprintf(name, sizeof name, "%s", key);
		utf8_trim_tail(name);
		return err_set(
			e, ERR_INVALID,
			"property \"%s\" of an input schema must be a schema (an object or a "
			"boolean), not %s",
			name, json_type_name(sub));
	}
	req = json_object_get(schema, "required");
	if (req && !json_is_array(req))
		return err_set(e, ERR_INVALID,
			       "\"required\" of an input schema must be an array of names, not %s",
			       json_type_name(req));
	for (i = 0; i < json_array_size(req); i++)
		if (!json_is_string(json_array_get(req, i)))
			return err_set(e, ERR_INVALID,
				       "\"required\" of an input schema must list names (strings); "
				       "item %zu is %s",
				       i, json_type_name(json_array_get(req, i)));
	return 0;
}
