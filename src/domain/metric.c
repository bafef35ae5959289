/*
 * metric.c - reading a number from JSON or text, and the breach logic.
 *
 * Numbers are converted with strtod_l in the "C" locale, so a process
 * that called setlocale() (the REPL does, for libedit) still reads "1.5"
 * as one and a half.
 */
#define _GNU_SOURCE /* strtod_l, newlocale */
#include "metric.h"

#include <ctype.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "match.h"

/* --- numbers ---------------------------------------------------------------- */

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void make_c_locale(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static double c_strtod(const char *s)
{
	pthread_once(&c_locale_once, make_c_locale);
	if (c_locale)
		return strtod_l(s, NULL, c_locale);
	return strtod(s, NULL);
}

static bool dig(const char *s, size_t len, size_t i)
{
	return i < len && isdigit((unsigned char)s[i]);
}

/* Length of a space-like group separator at s[i] (space, apostrophe,
 * NBSP, thin and narrow no-break spaces), or 0. */
static size_t space_sep(const char *s, size_t len, size_t i)
{
	if (i >= len)
		return 0;
	if (s[i] == ' ' || s[i] == '\'')
		return 1;
	if (len - i >= 2 && memcmp(s + i, "\xc2\xa0", 2) == 0)
		return 2;
	if (len - i >= 3 &&
	    (memcmp(s + i, "\xe2\x80\x89", 3) == 0 || memcmp(s + i, "\xe2\x80\xaf", 3) == 0))
		return 3;
	return 0;
}

/* Exactly three digits at s[i], then no fourth. */
static bool three_digits(const char *s, size_t len, size_t i)
{
	return dig(s, len, i) && dig(s, len, i + 1) && dig(s, len, i + 2) && !dig(s, len, i + 3);
}

/* Parse the number whose first digit (or '.') is at s[i]; neg from the
 * caller.  Returns the end offset, or 0 when there is no number. */
static size_t number_at(const char *s, size_t len, size_t i, bool neg, double *out)
{
	char buf[400];
	size_t o = 0, j = i;
	char seps[64];
	size_t sep_at[64], n_sep = 0, n_comma = 0, n_dot = 0;
	int dec = -1; /* index into seps of the decimal mark */

	/* digits and separators */
	while (j < len && o < 300) {
		size_t sl;

		if (dig(s, len, j)) {
			j++;
			o++;
		} else if ((s[j] == ',' || s[j] == '.') && dig(s, len, j + 1) && n_sep < 64) {
			seps[n_sep] = s[j];
			sep_at[n_sep++] = j;
			n_comma += s[j] == ',';
			n_dot += s[j] == '.';
			j++;
		} else if ((sl = space_sep(s, len, j)) && j > i && three_digits(s, len, j + sl) &&
			   n_sep < 64) {
			seps[n_sep] = ' ';
			sep_at[n_sep++] = j;
			j += sl;
		} else {
			break;
		}
	}
	if (o == 0)
		return 0;
	/* which mark is the decimal one: with both ',' and '.', the last;
	 * a lone '.'; a lone ',' unless exactly three digits follow it (and
	 * it does not follow a lone 0); repeated marks group thousands */
	{
		int last = -1;

		for (size_t k = 0; k < n_sep; k++)
			if (seps[k] != ' ')
				last = (int)k;
		if (last >= 0) {
			char c = seps[last];
			size_t count = c == ',' ? n_comma : n_dot;
			bool both = c == ',' ? n_dot > 0 : n_comma > 0;

			if (both) {
				dec = last;
			} else if (count == 1 && c == '.') {
				dec = last;
			} else if (count == 1) {
				size_t after = 0, mark = sep_at[last];

				for (size_t k = mark + 1; dig(s, len, k); k++)
					after++;
				if (after != 3 || (mark == i + 1 && s[i] == '0'))
					dec = last;
			}
		}
		/* a decimal mark must be the last mark: "1.5 000" is 1.5 */
		if (dec >= 0 && (size_t)dec != n_sep - 1) {
			j = sep_at[dec + 1];
			n_sep = (size_t)dec + 1;
		}
	}
	/* build the ASCII form */
	o = 0;
	if (neg)
		buf[o++] = '-';
	{
		size_t k = 0;

		for (size_t p = i; p < j && o < 330;) {
			if (k < n_sep && p == sep_at[k]) {
				if ((int)k == dec)
					buf[o++] = '.';
				p += seps[k] == ' ' ? space_sep(s, len, p) : 1;
				k++;
				continue;
			}
			buf[o++] = s[p++];
		}
	}
	/* exponent */
	if (j < len && (s[j] == 'e' || s[j] == 'E')) {
		size_t k = j + 1;

		if (k < len && (s[k] == '+' || s[k] == '-'))
			k++;
		if (dig(s, len, k)) {
			size_t e0 = o;

			buf[o++] = 'e';
			for (size_t p = j + 1; p < k; p++)
				buf[o++] = s[p];
			while (dig(s, len, k) && o < sizeof(buf) - 1)
				buf[o++] = s[k++];
			if (k - j > 8) { /* absurd exponents: leave them out */
				o = e0;
			} else {
				j = k;
			}
		}
	}
	buf[o] = '\0';
	*out = c_strtod(buf);
	return j;
}

bool metric_find_number(const char *s, size_t len, double *out, size_t *start, size_t *end)
{
	if (!s)
		return false;
	for (size_t i = 0; i < len; i++) {
		size_t first = i, e;
		bool neg = false;
		double v;

		if (!dig(s, len, i) && !(s[i] == '.' && dig(s, len, i + 1)))
			continue;
		/* a sign right before, not part of a word ("ABC-123") */
		if (i >= 1 && (s[i - 1] == '-' || s[i - 1] == '+') &&
		    (i == 1 || !isalnum((unsigned char)s[i - 2]))) {
			neg = s[i - 1] == '-';
			first = i - 1;
		} else if (i >= 3 && memcmp(s + i - 3, "\xe2\x88\x92", 3) == 0) { /* U+2212 */
			neg = true;
			first = i - 3;
		}
		e = number_at(s, len, i, neg, &v);
		if (!e)
			continue;
		if (!isfinite(v))
			return false;
		*out = v;
		if (start)
			*start = first;
		if (end)
			*end = e;
		return true;
	}
	return false;
}

bool metric_parse_number(const char *s, size_t len, double *out)
{
	size_t a, b;
	double v;

	if (!metric_find_number(s, len, &v, &a, &b))
		return false;
	/* no other digits around it; only symbols, spaces and a unit around */
	for (size_t i = 0; i < a; i++)
		if (isdigit((unsigned char)s[i]) || s[i] == '-' || s[i] == '+')
			return false;
	for (size_t i = b; i < len; i++)
		if (isdigit((unsigned char)s[i]) || s[i] == '-' || s[i] == '+' || s[i] == '.' ||
		    s[i] == ',')
			return false;
	*out = v;
	return true;
}

/* --- paths ------------------------------------------------------------------ */

struct step {
	char *key;      /* member name, or the index's text */
	long index;     /* >= 0 when key is a valid array index */
	bool bracket_n; /* written [N]: must be an array index */
};

struct path {
	struct step steps[METRIC_PATH_DEPTH];
	size_t n;
};

static void path_free(struct path *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->steps[i].key);
	p->n = 0;
}

static long index_of(const char *s)
{
	long v = 0;

	if (!*s || (s[0] == '0' && s[1]) || strlen(s) > 9)
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

static int add_step(struct path *p, char *key, bool bracket_n, const char *path, struct err *e)
{
	if (p->n >= METRIC_PATH_DEPTH) {
		free(key);
		return err_set(e, ERR_INVALID, "json_path \"%.100s\" has more than %d steps", path,
			       METRIC_PATH_DEPTH);
	}
	p->steps[p->n].key = key;
	p->steps[p->n].index = index_of(key);
	p->steps[p->n].bracket_n = bracket_n;
	p->n++;
	return ERR_OK;
}

static const char path_help[] =
	"write a JSON Pointer (\"/data/0/price\") or a dotted path (\"data[0].price\", "
	"\"$.data.price\")";

static int parse_pointer(const char *path, struct path *p, struct err *e)
{
	const char *s = path;

	while (*s == '/') {
		const char *end = strchr(s + 1, '/');
		size_t n = end ? (size_t)(end - s - 1) : strlen(s + 1), o = 0;
		char *key = xmalloc(n + 1);

		for (size_t i = 0; i < n; i++) {
			char c = s[1 + i];

			if (c == '~') {
				char next = i + 1 < n ? s[2 + i] : '\0';

				if (next != '0' && next != '1') {
					free(key);
					return err_set(e, ERR_INVALID,
						       "json_path \"%.100s\": '~' must be followed "
						       "by 0 (for '~') or 1 (for '/') in a JSON "
						       "Pointer",
						       path);
				}
				key[o++] = next == '0' ? '~' : '/';
				i++;
			} else {
				key[o++] = c;
			}
		}
		key[o] = '\0';
		if (add_step(p, key, false, path, e) != ERR_OK)
			return ERR_INVALID;
		s += 1 + n;
	}
	return ERR_OK;
}

static int parse_dotted(const char *path, struct path *p, struct err *e)
{
	const char *s = path;
	bool first = true;

	if (*s == '$') {
		s++;
		if (!*s)
			return ERR_OK;
		if (*s != '.' && *s != '[')
			return err_set(e, ERR_INVALID,
				       "json_path \"%.100s\": expected '.' or '[' after '$'; %s",
				       path, path_help);
		first = false;
	}
	while (*s) {
		if (*s == '[') {
			const char *close;
			char *key;

			s++;
			if (*s == '\'' || *s == '"') {
				char q = *s++;
				const char *end = strchr(s, q);

				if (!end || end[1] != ']')
					return err_set(e, ERR_INVALID,
						       "json_path \"%.100s\": a quoted name in "
						       "[...] is not closed; %s",
						       path, path_help);
				key = xstrndup(s, (size_t)(end - s));
				s = end + 2;
				if (add_step(p, key, false, path, e) != ERR_OK)
					return ERR_INVALID;
			} else {
				close = strchr(s, ']');
				if (!close)
					return err_set(
						e, ERR_INVALID,
						"json_path \"%.100s\": '[' is not closed; %s", path,
						path_help);
				key = xstrndup(s, (size_t)(close - s));
				if (index_of(key) < 0) {
					err_set(e, ERR_INVALID,
						"json_path \"%.100s\": [%.40s] is not an array "
						"index "
						"(write [0], [1], ... or ['name']); wildcards and "
						"filters are not supported",
						path, key);
					free(key);
					return ERR_INVALID;
				}
				s = close + 1;
				if (add_step(p, key, true, path, e) != ERR_OK)
					return ERR_INVALID;
			}
		} else {
			size_t n;

			if (*s == '.') {
				s++;
				if (*s == '.')
					return err_set(e, ERR_INVALID,
						       "json_path \"%.100s\": '..' (recursive "
						       "descent) is not supported; %s",
						       path, path_help);
			} else if (!first) {
				return err_set(e, ERR_INVALID,
					       "json_path \"%.100s\": unexpected '%c'; %s", path,
					       *s, path_help);
			}
			n = strcspn(s, ".[");
			if (memchr(s, ']', n))
				return err_set(e, ERR_INVALID,
					       "json_path \"%.100s\": unexpected ']'; %s", path,
					       path_help);
			if (!n)
				return err_set(e, ERR_INVALID,
					       "json_path \"%.100s\": an empty name; %s", path,
					       path_help);
			if (n == 1 && *s == '*')
				return err_set(
					e, ERR_INVALID,
					"json_path \"%.100s\": wildcards are not supported; %s",
					path, path_help);
			if (add_step(p, xstrndup(s, n), false, path, e) != ERR_OK)
				return ERR_INVALID;
			s += n;
		}
		first = false;
	}
	return ERR_OK;
}

static int parse_path(const char *path, struct path *p, struct err *e)
{
	int rc;

	p->n = 0;
	if (!path)
		return err_set(e, ERR_INVALID, "json_path is missing; %s", path_help);
	if (strlen(path) > METRIC_PATH_MAX)
		return err_set(e, ERR_INVALID, "json_path is longer than %d bytes",
			       METRIC_PATH_MAX);
	if (!*path || *path == '/')
		rc = parse_pointer(path, p, e);
	else
		rc = parse_dotted(path, p, e);
	if (rc != ERR_OK)
		path_free(p);
	return rc;
}

int metric_path_check(const char *path, struct err *e)
{
	struct path p;

	if (parse_path(path, &p, e) != ERR_OK)
		return ERR_INVALID;
	path_free(&p);
	return ERR_OK;
}

/* "/a/0/b" for the steps before `upto`, for messages. */
static void where(const struct path *p, size_t upto, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < upto && o + 2 < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "/%s", p->steps[i].key);
	if (!upto)
		snprintf(out, cap, "the top");
}

static void members(const json_t *obj, char *out, size_t cap)
{
	const char *k;
	json_t *v;
	size_t o = 0, n = 0;

	out[0] = '\0';
	json_object_foreach((json_t *)obj, k, v) {
		(void)v;
		if (n == 8) {
			snprintf(out + o, cap - o, ", ...");
			return;
		}
		o += (size_t)snprintf(out + o, cap - o, "%s%.40s", n ? ", " : "", k);
		if (o >= cap)
			return;
		n++;
	}
	if (!n)
		snprintf(out, cap, "no members");
}

static const char *type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

int metric_from_json_value(const json_t *doc, const char *path, double *out, struct err *e)
{
	struct path p;
	const json_t *v = doc;
	char at[300], info[400];
	int rc = ERR_OK;

	if (parse_path(path, &p, e) != ERR_OK)
		return ERR_INVALID;
	for (size_t i = 0; i < p.n && rc == ERR_OK; i++) {
		const struct step *st = &p.steps[i];

		where(&p, i, at, sizeof(at));
		if (json_is_object(v) && !st->bracket_n) {
			const json_t *next = json_object_get(v, st->key);

			if (!next) {
				members(v, info, sizeof(info));
				rc = err_set(
					e, ERR_INVALID,
					"json_path \"%.100s\": no member \"%.60s\" in the object "
					"at %s (it has: %s)",
					path, st->key, at, info);
			}
			v = next;
		} else if (json_is_array(v)) {
			if (st->index < 0) {
				rc = err_set(e, ERR_INVALID,
					     "json_path \"%.100s\": %s is an array of %zu, so the "
					     "next step must be an index such as 0, not \"%.60s\"",
					     path, at, json_array_size(v), st->key);
			} else if ((size_t)st->index >= json_array_size(v)) {
				rc = err_set(
					e, ERR_INVALID,
					"json_path \"%.100s\": index %ld is past the end of the "
					"array at %s (it has %zu items)",
					path, st->index, at, json_array_size(v));
			} else {
				v = json_array_get(v, (size_t)st->index);
			}
		} else {
			rc = err_set(e, ERR_INVALID,
				     "json_path \"%.100s\": %s is %s, so it has no \"%.60s\"", path,
				     at, type_name(v), st->key);
		}
	}
	if (rc == ERR_OK) {
		where(&p, p.n, at, sizeof(at));
		if (json_is_number(v)) {
			*out = json_number_value(v);
			if (!isfinite(*out))
				rc = err_set(e, ERR_INVALID, "json_path \"%.100s\": not finite",
					     path);
		} else if (json_is_string(v)) {
			const char *s = json_string_value(v);

			if (!metric_parse_number(s, json_string_length(v), out))
				rc = err_set(e, ERR_INVALID,
					     "json_path \"%.100s\": the string at %s is not a "
					     "number (got \"%.60s\")",
					     path, at, s);
		} else if (json_is_object(v)) {
			members(v, info, sizeof(info));
			rc = err_set(e, ERR_INVALID,
				     "json_path \"%.100s\": %s is an object, not a number (it has: "
				     "%s); extend the path to one of its members",
				     path, at, info);
		} else {
			rc = err_set(e, ERR_INVALID, "json_path \"%.100s\": %s is %s, not a number",
				     path, at, type_name(v));
		}
	}
	path_free(&p);
	return rc;
}

int metric_from_json(const char *body, size_t len, const char *path, double *out, struct err *e)
{
	json_error_t je;
	json_t *doc;
	int rc;

	if (!body)
		len = 0;
	if (len > METRIC_INPUT_MAX)
		return err_set(e, ERR_TOO_BIG,
			       "the response is larger than %u bytes; not read as JSON",
			       (unsigned)METRIC_INPUT_MAX);
	doc = json_loadb(body ? body : "", len,
			 JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &je);
	if (!doc)
		return err_set(e, ERR_INVALID,
			       "the response is not JSON: %s (line %d, column %d); json_path "
			       "needs a JSON response, regex reads text",
			       je.text, je.line, je.column);
	rc = metric_from_json_value(doc, path, out, e);
	json_decref(doc);
	return rc;
}

/* --- regex ------------------------------------------------------------------- */

int metric_regex_check(const char *regex, struct err *e)
{
	regex_t re;
	int rc;

	if (!regex || !*regex)
		return err_set(e, ERR_INVALID, "regex is empty");
	for (const char *p = regex; *p; p++) {
		if (*p == '\\' && p[1]) {
			if (p[1] >= '1' && p[1] <= '9')
				return err_set(e, ERR_INVALID,
					       "regex \"%.100s\": back-references (\\%c) are not "
					       "allowed",
					       regex, p[1]);
			p++;
		}
	}
	rc = regcomp(&re, regex, REG_EXTENDED | REG_NEWLINE);
	if (rc) {
		char why[160];

		regerror(rc, &re, why, sizeof(why));
		return err_set(e, ERR_INVALID,
			       "regex \"%.100s\" is not a POSIX extended regular expression: %s",
			       regex, why);
	}
	regfree(&re);
	return ERR_OK;
}

/* A short, one-line, printable excerpt for messages. */
static void excerpt(const char *s, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	len = match_utf8_cut(s, len, cap - 4);
	for (size_t i = 0; i < len && o + 1 < cap; i++)
		out[o++] = ((unsigned char)s[i] < 0x20) ? ' ' : s[i];
	out[o] = '\0';
}

int metric_from_text(const char *text, size_t len, const char *regex, double *out, struct err *e)
{
	regex_t re;
	regmatch_t m[2];
	char *buf, ex[100];
	size_t s, n;
	int rc;

	if (metric_regex_check(regex, e) != ERR_OK)
		return ERR_INVALID;
	if (!text)
		len = 0;
	if (len > METRIC_TEXT_MAX)
		len = METRIC_TEXT_MAX;
	buf = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++)
		buf[i] = text[i] ? text[i] : ' ';
	buf[len] = '\0';
	regcomp(&re, regex, REG_EXTENDED | REG_NEWLINE);
	rc = regexec(&re, buf, 2, m, 0);
	if (rc != 0) {
		excerpt(buf, len, ex, sizeof(ex));
		err_set(e, ERR_INVALID,
			"regex \"%.100s\" did not match the response (it starts: %s)", regex, ex);
		regfree(&re);
		free(buf);
		return ERR_INVALID;
	}
	if (re.re_nsub >= 1 && m[1].rm_so >= 0) {
		s = (size_t)m[1].rm_so;
		n = (size_t)(m[1].rm_eo - m[1].rm_so);
	} else {
		s = (size_t)m[0].rm_so;
		n = (size_t)(m[0].rm_eo - m[0].rm_so);
	}
	rc = ERR_OK;
	if (!metric_find_number(buf + s, n, out, NULL, NULL)) {
		excerpt(buf + s, n, ex, sizeof(ex));
		rc = err_set(e, ERR_INVALID,
			     "regex \"%.100s\" matched \"%s\", which holds no number", regex, ex);
	}
	regfree(&re);
	free(buf);
	return rc;
}

/* --- the breach logic ---------------------------------------------------------- */

static const char *const cmp_names[] = {"above", "below", "crosses_above", "crosses_below"};

int metric_cmp_parse(const char *s, enum metric_cmp *out)
{
	for (int i = 0; s && i < 4; i++) {
		if (strcasecmp(s, cmp_names[i]) == 0) {
			*out = (enum metric_cmp)i;
			return ERR_OK;
		}
	}
	return ERR_INVALID;
}

const char *metric_cmp_name(enum metric_cmp c)
{
	return (unsigned)c < 4 ? cmp_names[c] : "above";
}

void metric_state_init(struct metric_state *s)
{
	memset(s, 0, sizeof(*s));
	s->arm = METRIC_ARM_NEW;
}

static bool upward(enum metric_cmp c)
{
	return c == METRIC_ABOVE || c == METRIC_CROSSES_ABOVE;
}

enum metric_verdict metric_check(const struct metric_rule *r, struct metric_state *s, double v,
				 int64_t now_us, struct metric_eval *ev)
{
	struct metric_eval local;
	double t = r->threshold, h = r->hysteresis > 0 ? r->hysteresis : 0;
	bool up = upward(r->cmp), breach, other, rearm;

	if (!ev)
		ev = &local;
	memset(ev, 0, sizeof(*ev));
	ev->has_prev = s->has_prev;
	ev->prev = s->prev;
	if (!isfinite(v) || !isfinite(t)) {
		ev->verdict = METRIC_INVALID;
		return ev->verdict;
	}
	breach = up ? v > t : v < t;
	other = !breach;
	rearm = up ? v <= t - h : v >= t + h;
	if (s->arm == METRIC_ARM_NEW)
		s->arm = (r->cmp == METRIC_ABOVE || r->cmp == METRIC_BELOW) ? METRIC_ARM_ARMED
									    : METRIC_ARM_WAITING;
	switch (s->arm) {
	case METRIC_ARM_WAITING:
		if (other)
			s->arm = METRIC_ARM_ARMED;
		ev->verdict = METRIC_QUIET;
		break;
	case METRIC_ARM_FIRED:
		if (rearm) {
			s->arm = METRIC_ARM_ARMED;
			ev->rearmed = true;
		}
		ev->verdict = METRIC_QUIET;
		break;
	default:
		if (!breach) {
			ev->verdict = METRIC_QUIET;
		} else if (s->has_fired && r->cooldown_us > 0 &&
			   now_us - s->last_fire_us < r->cooldown_us) {
			ev->verdict = METRIC_COOLDOWN;
		} else {
			s->arm = METRIC_ARM_FIRED;
			s->has_fired = true;
			s->last_fire_us = now_us;
			ev->verdict = METRIC_FIRE;
		}
		break;
	}
	s->has_prev = true;
	s->prev = v;
	return ev->verdict;
}

static const char *const arm_names[] = {"new", "armed", "waiting", "fired"};

json_t *metric_state_to_json(const struct metric_state *s)
{
	json_t *j = json_object();

	json_object_set_new(j, "arm", json_string(arm_names[(unsigned)s->arm < 4 ? s->arm : 0]));
	if (s->has_prev)
		json_object_set_new(j, "prev", json_real(s->prev));
	if (s->has_fired)
		json_object_set_new(j, "last_fire_us", json_integer(s->last_fire_us));
	return j;
}

int metric_state_from_json(const json_t *j, struct metric_state *s, struct err *e)
{
	struct metric_state n;
	const json_t *arm, *prev, *last;

	metric_state_init(&n);
	if (!json_is_object(j))
		return err_set(e, ERR_INVALID, "metric state must be an object");
	arm = json_object_get(j, "arm");
	if (arm) {
		int found = -1;

		for (int i = 0; i < 4 && json_is_string(arm); i++)
			if (strcmp(json_string_value(arm), arm_names[i]) == 0)
				found = i;
		if (found < 0)
			return err_set(e, ERR_INVALID,
				       "metric state \"arm\" must be new, armed, waiting or fired");
		n.arm = (enum metric_arm)found;
	}
	prev = json_object_get(j, "prev");
	if (prev) {
		if (!json_is_number(prev))
			return err_set(e, ERR_INVALID, "metric state \"prev\" must be a number");
		n.has_prev = true;
		n.prev = json_number_value(prev);
	}
	last = json_object_get(j, "last_fire_us");
	if (last) {
		if (!json_is_integer(last))
			return err_set(e, ERR_INVALID,
				       "metric state \"last_fire_us\" must be an integer");
		n.has_fired = true;
		n.last_fire_us = json_integer_value(last);
	}
	*s = n;
	return ERR_OK;
}
