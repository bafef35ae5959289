/*
 * tz.c - TZif zone files, POSIX TZ strings and local time conversions.
 *
 * A zone is a sorted table of transition instants, each naming a time type
 * (UTC offset, DST flag, abbreviation), plus an optional POSIX TZ rule for
 * instants after the table.  Lookups are a binary search in the table, or
 * the rule's transitions of the neighbouring years computed on the fly.
 *
 * Layout of a TZif file (RFC 8536): a 44-byte header ("TZif", version,
 * six counts), a data block with 32-bit times; for version 2 and later a
 * second header and data block with 64-bit times, then "\n<TZ string>\n".
 * We read the 64-bit block when there is one and otherwise the 32-bit one.
 */
#define _GNU_SOURCE
#include "tz.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

#define TZ_ABBR_MAX 32
#define TZ_FOOTER_MAX 256
/* Offsets beyond a day and a bit are refused (RFC 8536 allows -89999..93599). */
#define TZ_UTOFF_MIN (-89999)
#define TZ_UTOFF_MAX 93599
/* tz_from_local looks for candidate offsets this far around the wall time. */
#define TZ_WINDOW (26 * 3600)

/* A rule date of a POSIX TZ string: Jn (1-365, 29 February never counted),
 * n (0-365, counted) or Mm.w.d (weekday d of week w of month m, w = 5 being
 * the last), at `time` seconds of local time (may be negative or > 24 h). */
struct tz_rule_date {
	char kind; /* 'J', 'N' or 'M' */
	int n, m, w, d;
	int32_t time;
};

struct tz_posix {
	int32_t std_off, dst_off; /* seconds east of UTC */
	bool has_dst;
	struct tz_rule_date start, end; /* DST starts, DST ends */
	char std_abbr[TZ_ABBR_MAX + 1];
	char dst_abbr[TZ_ABBR_MAX + 1];
};

struct tz_type {
	int32_t utoff;
	bool isdst;
	const char *abbr; /* into struct tz's abbrs */
};

struct tz {
	char *name;
	size_t ntrans;
	int64_t *trans;      /* strictly ascending */
	uint8_t *trans_type; /* index into types */
	size_t ntypes;       /* >= 1 */
	struct tz_type *types;
	char *abbrs;
	bool has_rule;
	struct tz_posix rule;
	bool is_static;
	struct tz *next; /* cache list */
};

/* What is in effect at an instant. */
struct tz_info {
	int32_t off;
	bool dst;
	const char *abbr;
};

/* ---- calendar ----------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

bool tz_is_leap_year(int64_t y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

int tz_days_in_month(int64_t y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m < 1 || m > 12)
		return 0;
	return days[m - 1] + (m == 2 && tz_is_leap_year(y));
}

/* Howard Hinnant's days_from_civil, months carried first. */
int64_t tz_days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t mm = m - 1, era, yoe, doy, doe;

	y += floor_div(mm, 12);
	m = mm - floor_div(mm, 12) * 12 + 1;
	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void tz_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int tz_weekday(int64_t days)
{
	int64_t w = (days + 4) % 7; /* 1970-01-01 was a Thursday */

	return (int)(w < 0 ? w + 7 : w);
}

/* ---- POSIX TZ strings --------------------------------------------------- */

struct tzs_parser {
	const char *start, *p;
	const char *what; /* what was expected where parsing stopped */
};

static bool tzs_fail(struct tzs_parser *ps, const char *what)
{
	ps->what = what;
	return false;
}

/* std or dst name: three or more letters, or <...> of letters, digits, + -. */
static bool tzs_name(struct tzs_parser *ps, char *out)
{
	size_t n = 0;

	if (*ps->p == '<') {
		const char *q = ps->p + 1;

		while (isalnum((unsigned char)q[n]) || q[n] == '+' || q[n] == '-')
			n++;
		if (q[n] != '>' || n < 3 || n > TZ_ABBR_MAX)
			return tzs_fail(ps, "a <quoted> zone abbreviation of 3 or more characters");
		memcpy(out, q, n);
		out[n] = '\0';
		ps->p = q + n + 1;
		return true;
	}
	while (isalpha((unsigned char)ps->p[n]))
		n++;
	if (n < 3 || n > TZ_ABBR_MAX)
		return tzs_fail(ps, "a zone abbreviation of 3 or more letters");
	memcpy(out, ps->p, n);
	out[n] = '\0';
	ps->p += n;
	return true;
}

static bool tzs_num(struct tzs_parser *ps, int min, int max, int *v, const char *what)
{
	const char *start = ps->p;
	int n = 0, digits = 0;

	while (isdigit((unsigned char)*ps->p)) {
		if (n <= 100000)
			n = n * 10 + (*ps->p - '0');
		ps->p++;
		digits++;
	}
	if (!digits || n < min || n > max) {
		ps->p = start; /* report where the number starts */
		return tzs_fail(ps, what);
	}
	*v = n;
	return true;
}

/* [+-]hh[:mm[:ss]] in seconds. */
static bool tzs_hms(struct tzs_parser *ps, int max_hours, int32_t *secs)
{
	int sign = 1, h, m = 0, s = 0;

	if (*ps->p == '+' || *ps->p == '-')
		sign = *ps->p++ == '-' ? -1 : 1;
	if (!tzs_num(ps, 0, max_hours, &h, "hours"))
		return false;
	if (*ps->p == ':') {
		ps->p++;
		if (!tzs_num(ps, 0, 59, &m, "minutes 00-59"))
			return false;
		if (*ps->p == ':') {
			ps->p++;
			if (!tzs_num(ps, 0, 59, &s, "seconds 00-59"))
				return false;
		}
	}
	*secs = sign * (h * 3600 + m * 60 + s);
	return true;
}

static bool tzs_date(struct tzs_parser *ps, struct tz_rule_date *r)
{
	memset(r, 0, sizeof *r);
	if (*ps->p == 'J') {
		ps->p++;
		r->kind = 'J';
		if (!tzs_num(ps, 1, 365, &r->n, "a Julian day 1-365 after J"))
			return false;
	} else if (*ps->p == 'M') {
		ps->p++;
		r->kind = 'M';
		if (!tzs_num(ps, 1, 12, &r->m, "a month 1-12 after M"))
			return false;
		if (*ps->p++ != '.')
			return tzs_fail(ps, "'.' after the month of Mm.w.d");
		if (!tzs_num(ps, 1, 5, &r->w, "a week 1-5 in Mm.w.d"))
			return false;
		if (*ps->p++ != '.')
			return tzs_fail(ps, "'.' after the week of Mm.w.d");
		if (!tzs_num(ps, 0, 6, &r->d, "a weekday 0-6 in Mm.w.d"))
			return false;
	} else if (isdigit((unsigned char)*ps->p)) {
		r->kind = 'N';
		if (!tzs_num(ps, 0, 365, &r->n, "a day 0-365"))
			return false;
	} else {
		return tzs_fail(ps, "a rule date Jn, n or Mm.w.d");
	}
	r->time = 7200; /* 02:00 */
	if (*ps->p == '/') {
		ps->p++;
		/* RFC 8536 (version 3) allows -167..167 hours. */
		if (!tzs_hms(ps, 167, &r->time))
			return false;
	}
	return true;
}

static bool tzs_parse(struct tzs_parser *ps, struct tz_posix *r)
{
	int32_t off;

	memset(r, 0, sizeof *r);
	if (!tzs_name(ps, r->std_abbr))
		return false;
	if (!tzs_hms(ps, 24, &off))
		return false;
	r->std_off = -off; /* POSIX offsets count hours west */
	if (!*ps->p)
		return true;
	if (!tzs_name(ps, r->dst_abbr))
		return false;
	r->has_dst = true;
	r->dst_off = r->std_off + 3600;
	if (*ps->p && *ps->p != ',') {
		if (!tzs_hms(ps, 24, &off))
			return false;
		r->dst_off = -off;
	}
	if (!*ps->p) {
		/* No rule: the US rules, as glibc and tzcode assume. */
		r->start = (struct tz_rule_date){'M', 0, 3, 2, 0, 7200};
		r->end = (struct tz_rule_date){'M', 0, 11, 1, 0, 7200};
		return true;
	}
	if (*ps->p++ != ',')
		return tzs_fail(ps, "',' before the DST start rule");
	if (!tzs_date(ps, &r->start))
		return false;
	if (*ps->p++ != ',')
		return tzs_fail(ps, "',' before the DST end rule");
	if (!tzs_date(ps, &r->end))
		return false;
	if (*ps->p)
		return tzs_fail(ps, "the end of the string");
	return true;
}

static int posix_parse(const char *s, struct tz_posix *r, struct err *e)
{
	struct tzs_parser ps = {s, s, NULL};

	if (strlen(s) > TZ_FOOTER_MAX)
		return err_set(e, ERR_INVALID, "POSIX TZ string is longer than %d bytes",
			       TZ_FOOTER_MAX);
	if (tzs_parse(&ps, r))
		return ERR_OK;
	return err_set(e, ERR_INVALID,
		       "POSIX TZ string \"%.80s\" is not valid at byte %d: expected %s (e.g. "
		       "\"CET-1CEST,M3.5.0,M10.5.0/3\")",
		       s, (int)(ps.p - ps.start), ps.what ? ps.what : "something else");
}

/* First day (days since the epoch) of a rule date in year y. */
static int64_t rule_day(const struct tz_rule_date *r, int64_t y)
{
	int64_t jan1 = tz_days_from_civil(y, 1, 1), first, day;
	int dim;

	switch (r->kind) {
	case 'J':
		return jan1 + r->n - 1 + (tz_is_leap_year(y) && r->n >= 60);
	case 'N':
		return jan1 + r->n;
	default:
		first = tz_days_from_civil(y, r->m, 1);
		dim = tz_days_in_month(y, r->m);
		day = first + (r->d - tz_weekday(first) + 7) % 7 + (int64_t)(r->w - 1) * 7;
		while (day >= first + dim)
			day -= 7;
		return day;
	}
}

static int64_t rule_year(const struct tz_posix *r, int64_t t)
{
	int64_t y;
	int m, d;

	tz_civil_from_days(floor_div(t + r->std_off, 86400), &y, &m, &d);
	return y;
}

static int64_t rule_start(const struct tz_posix *r, int64_t y)
{
	return rule_day(&r->start, y) * 86400 + r->start.time - r->std_off;
}

static int64_t rule_end(const struct tz_posix *r, int64_t y)
{
	return rule_day(&r->end, y) * 86400 + r->end.time - r->dst_off;
}

/* POSIX semantics, year by year (the year of t in standard time): DST from
 * the year's start to its end, or, when the end comes first (southern
 * hemisphere), outside the end..start range.  "All year DST" strings such
 * as EST5EDT,0/0,J365/25 (RFC 8536) come out as DST all the time. */
static bool rule_dst_at(const struct tz_posix *r, int64_t t)
{
	int64_t y, s, e;

	if (!r->has_dst)
		return false;
	y = rule_year(r, t);
	s = rule_start(r, y);
	e = rule_end(r, y);
	return s <= e ? (t >= s && t < e) : (t < e || t >= s);
}

/* Instants at which the rule's state may change in years y0..y0+n-1: DST
 * starts, ends and the years' first instants (n <= 4), sorted. */
static int rule_candidates(const struct tz_posix *r, int64_t y0, int n, int64_t *ev)
{
	int k = 0;

	for (int64_t y = y0; y < y0 + n; y++) {
		ev[k++] = rule_start(r, y);
		ev[k++] = rule_end(r, y);
		ev[k++] = tz_days_from_civil(y, 1, 1) * 86400 - r->std_off;
	}
	for (int i = 1; i < k; i++) { /* insertion sort of a dozen */
		int64_t x = ev[i];
		int j = i - 1;

		while (j >= 0 && ev[j] > x) {
			ev[j + 1] = ev[j];
			j--;
		}
		ev[j + 1] = x;
	}
	return k;
}

static bool rule_changes_at(const struct tz_posix *r, int64_t t)
{
	return rule_dst_at(r, t) != rule_dst_at(r, t - 1);
}

static struct tz_info rule_info(const struct tz_posix *r, int64_t t)
{
	bool dst = rule_dst_at(r, t);

	return (struct tz_info){dst ? r->dst_off : r->std_off, dst,
				dst ? r->dst_abbr : r->std_abbr};
}

/* The first rule transition after t (strictly) that changes the state. */
static bool rule_next(const struct tz_posix *r, int64_t t, int64_t *when)
{
	int64_t ev[12];
	int n;

	if (!r->has_dst)
		return false;
	n = rule_candidates(r, rule_year(r, t) - 1, 4, ev);
	for (int i = 0; i < n; i++)
		if (ev[i] > t && rule_changes_at(r, ev[i])) {
			*when = ev[i];
			return true;
		}
	return false;
}

/* The last rule transition at or before t that changes the state. */
static bool rule_prev(const struct tz_posix *r, int64_t t, int64_t *when)
{
	int64_t ev[12];
	int n;

	if (!r->has_dst)
		return false;
	n = rule_candidates(r, rule_year(r, t) - 2, 4, ev);
	for (int i = n - 1; i >= 0; i--)
		if (ev[i] <= t && rule_changes_at(r, ev[i])) {
			*when = ev[i];
			return true;
		}
	return false;
}

/* ---- zones -------------------------------------------------------------- */

static struct tz_type utc_type = {0, false, "UTC"};
static struct tz utc_zone = {.name = "UTC", .ntypes = 1, .types = &utc_type, .is_static = true};

const struct tz *tz_utc(void)
{
	return &utc_zone;
}

void tz_free(struct tz *z)
{
	if (!z || z->is_static)
		return;
	free(z->name);
	free(z->trans);
	free(z->trans_type);
	free(z->types);
	free(z->abbrs);
	free(z);
}

const char *tz_name(const struct tz *z)
{
	return z ? z->name : "UTC";
}

/* A zone of one fixed offset. */
static struct tz *fixed_zone(const char *name, int32_t off, const char *abbr)
{
	struct tz *z = xcalloc(1, sizeof *z);

	z->name = xstrdup(name);
	z->ntypes = 1;
	z->types = xcalloc(1, sizeof *z->types);
	z->abbrs = xstrdup(abbr);
	z->types[0] = (struct tz_type){off, false, z->abbrs};
	return z;
}

int tz_parse_posix(const char *tzstring, struct tz **out, struct err *e)
{
	struct tz_posix r;
	struct tz *z;
	int rc;

	if ((rc = posix_parse(tzstring ? tzstring : "", &r, e)))
		return rc;
	z = fixed_zone(tzstring, r.std_off, r.std_abbr);
	z->has_rule = true;
	z->rule = r;
	*out = z;
	return ERR_OK;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_counts {
	uint32_t isut, isstd, leap, time, type, chars;
};

static void read_counts(const uint8_t *h, struct tzif_counts *c)
{
	c->isut = be32(h + 20);
	c->isstd = be32(h + 24);
	c->leap = be32(h + 28);
	c->time = be32(h + 32);
	c->type = be32(h + 36);
	c->chars = be32(h + 40);
}

/* Bytes of a data block; counts are at most 2^32 so this cannot overflow. */
static uint64_t block_size(const struct tzif_counts *c, int tsize)
{
	return (uint64_t)c->time * (tsize + 1) + (uint64_t)c->type * 6 + c->chars +
	       (uint64_t)c->leap * (tsize + 4) + c->isstd + c->isut;
}

static int corrupt(struct err *e, const char *name, const char *why)
{
	return err_set(e, ERR_CORRUPT,
		       "time zone file \"%.100s\" is damaged (%s); reinstall the tzdata package",
		       name ? name : "?", why);
}

int tz_parse_tzif(const void *data, size_t len, const char *name, struct tz **out, struct err *e)
{
	const uint8_t *p = data, *b;
	struct tzif_counts c;
	uint64_t need;
	int tsize = 4, rc;
	char version;
	struct tz *z;

	if (len < 44 || memcmp(p, "TZif", 4) != 0)
		return corrupt(e, name, "it is not a TZif file");
	version = (char)p[4];
	if (version != 0 && version < '2')
		return corrupt(e, name, "unknown TZif version");
	read_counts(p, &c);
	b = p + 44;
	if (version != 0) {
		/* Skip the 32-bit block: the 64-bit one follows with its own header. */
		need = 44 + block_size(&c, 4);
		if (need + 44 > len)
			return corrupt(e, name, "truncated version 1 data");
		p += need;
		if (memcmp(p, "TZif", 4) != 0)
			return corrupt(e, name, "no second header");
		read_counts(p, &c);
		b = p + 44;
		tsize = 8;
	}
	need = block_size(&c, tsize);
	if (need > len - (size_t)(b - (const uint8_t *)data))
		return corrupt(e, name, "truncated data");
	if (c.type == 0 || c.type > 256 || c.chars == 0)
		return corrupt(e, name, "no local time types");
	if ((c.isstd && c.isstd != c.type) || (c.isut && c.isut != c.type))
		return corrupt(e, name, "bad indicator counts");
	if (c.leap)
		return err_set(
			e, ERR_INVALID,
			"time zone \"%.100s\" counts leap seconds (a \"right/\" zone), which "
			"ambient does not; use the zone without the \"right/\" prefix",
			name ? name : "?");

	z = xcalloc(1, sizeof *z);
	z->name = xstrdup(name ? name : "");
	z->ntrans = c.time;
	z->trans = xcalloc(c.time ? c.time : 1, sizeof *z->trans);
	z->trans_type = xcalloc(c.time ? c.time : 1, 1);
	z->ntypes = c.type;
	z->types = xcalloc(c.type, sizeof *z->types);
	z->abbrs = xmalloc((size_t)c.chars + 1);

	for (uint32_t i = 0; i < c.time; i++) {
		z->trans[i] = tsize == 8 ? be64(b) : (int32_t)be32(b);
		b += tsize;
		if (i && z->trans[i] <= z->trans[i - 1]) {
			rc = corrupt(e, name, "transitions out of order");
			goto fail;
		}
	}
	for (uint32_t i = 0; i < c.time; i++) {
		z->trans_type[i] = *b++;
		if (z->trans_type[i] >= c.type) {
			rc = corrupt(e, name, "bad time type index");
			goto fail;
		}
	}
	const uint8_t *types = b;
	b += (size_t)c.type * 6;
	memcpy(z->abbrs, b, c.chars);
	z->abbrs[c.chars] = '\0';
	b += c.chars;
	for (uint32_t i = 0; i < c.type; i++) {
		int32_t off = (int32_t)be32(types + i * 6);
		uint8_t dst = types[i * 6 + 4], idx = types[i * 6 + 5];

		if (off < TZ_UTOFF_MIN || off > TZ_UTOFF_MAX || dst > 1 || idx >= c.chars) {
			rc = corrupt(e, name, "bad local time type");
			goto fail;
		}
		z->types[i] = (struct tz_type){off, dst == 1, z->abbrs + idx};
	}
	b += (size_t)c.leap * (tsize + 4) + c.isstd + c.isut;

	if (version != 0) {
		const uint8_t *end = (const uint8_t *)data + len, *nl;
		char footer[TZ_FOOTER_MAX + 1];

		if (b >= end || *b != '\n') {
			rc = corrupt(e, name, "no footer");
			goto fail;
		}
		b++;
		nl = memchr(b, '\n', (size_t)(end - b));
		if (!nl || nl - b > TZ_FOOTER_MAX || memchr(b, '\0', (size_t)(nl - b))) {
			rc = corrupt(e, name, "bad footer");
			goto fail;
		}
		memcpy(footer, b, (size_t)(nl - b));
		footer[nl - b] = '\0';
		if (footer[0]) {
			struct err fe;

			if (posix_parse(footer, &z->rule, &fe)) {
				rc = corrupt(e, name, fe.msg);
				goto fail;
			}
			z->has_rule = true;
		}
	}
	*out = z;
	return ERR_OK;
fail:
	tz_free(z);
	return rc;
}

/* ---- lookups ------------------------------------------------------------ */

/* Instants are clamped to +-TZ_TIME_LIMIT, so that no sum overflows. */
static int64_t clamp(int64_t t)
{
	return t > TZ_TIME_LIMIT ? TZ_TIME_LIMIT : t < -TZ_TIME_LIMIT ? -TZ_TIME_LIMIT : t;
}

/* Index of the last transition at or before t; -1 when t is before all. */
static ptrdiff_t trans_index(const struct tz *z, int64_t t)
{
	size_t lo = 0, hi = z->ntrans; /* answer in [lo, hi) + 1 */

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (z->trans[mid] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (ptrdiff_t)lo - 1;
}

static struct tz_info info_at(const struct tz *z, int64_t t)
{
	const struct tz_type *ty;

	if (!z)
		z = &utc_zone;
	t = clamp(t);
	if (z->ntrans == 0 || t > z->trans[z->ntrans - 1]) {
		if (z->has_rule)
			return rule_info(&z->rule, t);
		ty = &z->types[z->ntrans ? z->trans_type[z->ntrans - 1] : 0];
	} else {
		ptrdiff_t i = trans_index(z, t);

		ty = &z->types[i < 0 ? 0 : z->trans_type[i]];
	}
	return (struct tz_info){ty->utoff, ty->isdst, ty->abbr};
}

int tz_utc_offset(const struct tz *z, int64_t utc_s)
{
	return info_at(z, utc_s).off;
}

bool tz_is_dst(const struct tz *z, int64_t utc_s)
{
	return info_at(z, utc_s).dst;
}

void tz_to_local(const struct tz *z, int64_t utc_s, struct tm *out)
{
	struct tz_info in = info_at(z, utc_s = clamp(utc_s));
	int64_t local = utc_s + in.off, days = floor_div(local, 86400), sod = local - days * 86400;
	int64_t y;
	int m, d;

	tz_civil_from_days(days, &y, &m, &d);
	memset(out, 0, sizeof *out);
	out->tm_year = (int)(y - 1900);
	out->tm_mon = m - 1;
	out->tm_mday = d;
	out->tm_hour = (int)(sod / 3600);
	out->tm_min = (int)(sod % 3600 / 60);
	out->tm_sec = (int)(sod % 60);
	out->tm_wday = tz_weekday(days);
	out->tm_yday = (int)(days - tz_days_from_civil(y, 1, 1));
	out->tm_isdst = in.dst;
	out->tm_gmtoff = in.off;
	out->tm_zone = in.abbr;
}

bool tz_next_transition(const struct tz *z, int64_t utc_s, int64_t *when)
{
	if (!z)
		return false;
	utc_s = clamp(utc_s);
	if (z->ntrans && utc_s < z->trans[z->ntrans - 1]) {
		*when = z->trans[trans_index(z, utc_s) + 1];
		return true;
	}
	/* After the table (or with none), the footer's rule. */
	return z->has_rule && rule_next(&z->rule, utc_s, when);
}

bool tz_prev_transition(const struct tz *z, int64_t utc_s, int64_t *when)
{
	ptrdiff_t i;

	if (!z)
		return false;
	utc_s = clamp(utc_s);
	if (z->has_rule && (z->ntrans == 0 || utc_s > z->trans[z->ntrans - 1])) {
		int64_t r;

		if (rule_prev(&z->rule, utc_s, &r) &&
		    (z->ntrans == 0 || r > z->trans[z->ntrans - 1])) {
			*when = r;
			return true;
		}
	}
	i = trans_index(z, utc_s);
	if (i < 0)
		return false;
	*when = z->trans[i];
	return true;
}

int64_t tz_from_local_s(const struct tz *z, int64_t local_s, int policy)
{
	struct {
		int64_t at;
		int32_t before, after;
	} tr[16];
	int32_t offs[17];
	int noffs = 0, ntr = 0;
	int64_t t, n, best = 0;
	bool found = false;

	local_s = clamp(local_s);
	t = local_s - TZ_WINDOW;
	offs[noffs++] = tz_utc_offset(z, t);
	while (ntr < 16 && tz_next_transition(z, t, &n) && n <= local_s + TZ_WINDOW) {
		tr[ntr].at = n;
		tr[ntr].before = tz_utc_offset(z, n - 1);
		tr[ntr].after = tz_utc_offset(z, n);
		offs[noffs++] = tr[ntr].after;
		ntr++;
		t = n;
	}
	for (int i = 0; i < noffs; i++) {
		int64_t u = local_s - offs[i];

		if (tz_utc_offset(z, u) != offs[i])
			continue;
		if (!found || ((policy & TZ_FOLD_SECOND) ? u > best : u < best))
			best = u;
		found = true;
	}
	if (found)
		return best;
	/* A gap: the wall time was skipped by a forward transition. */
	for (int i = 0; i < ntr; i++)
		if (tr[i].after > tr[i].before && tr[i].at + tr[i].before <= local_s &&
		    local_s < tr[i].at + tr[i].after)
			return (policy & TZ_GAP_SHIFT) ? local_s - tr[i].before : tr[i].at;
	return local_s - offs[0]; /* not reached with sane data */
}

int64_t tz_from_local(const struct tz *z, const struct tm *local, int policy)
{
	int64_t days = tz_days_from_civil((int64_t)local->tm_year + 1900,
					  (int64_t)local->tm_mon + 1, local->tm_mday);

	return tz_from_local_s(z,
			       days * 86400 + (int64_t)local->tm_hour * 3600 +
				       (int64_t)local->tm_min * 60 + local->tm_sec,
			       policy);
}

/* ---- loading and the cache ---------------------------------------------- */

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tz *cache;            /* every zone loaded, newest first */
static const struct tz *local_zone; /* resolved "local", or NULL */

static bool valid_name(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > TZ_NAME_MAX || s[0] == '/' || s[len - 1] == '/')
		return false;
	for (const char *p = s; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr("/_-+.", *p))
			return false;
		/* no empty, ".", ".." or hidden components */
		if ((p == s || p[-1] == '/') && (*p == '/' || *p == '.'))
			return false;
	}
	return true;
}

static bool is_utc_alias(const char *name)
{
	static const char *const aliases[] = {"UTC", "Etc/UTC", "GMT", "Etc/GMT", NULL};

	for (int i = 0; aliases[i]; i++)
		if (strcmp(name, aliases[i]) == 0)
			return true;
	return false;
}

static const char *zone_dir(void)
{
	const char *d = getenv("TZDIR");

	return d && d[0] == '/' ? d : TZ_DIR_DEFAULT;
}

/* Read a whole file of at most TZ_FILE_MAX bytes.  A missing file is
 * ERR_NOT_FOUND with *missing set and no message. */
static int read_file(const char *path, const char *name, uint8_t **data, size_t *len, bool *missing,
		     struct err *e)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*missing = false;
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			*missing = true;
			return ERR_NOT_FOUND;
		}
		return err_set(e, ERR_IO, "cannot open time zone file %s: %s", path,
			       strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, ERR_NOT_FOUND,
			       "\"%.100s\" is not a time zone; use an IANA name such as "
			       "\"Europe/Berlin\", \"America/New_York\" or \"UTC\"",
			       name);
	}
	if (st.st_size > TZ_FILE_MAX) {
		close(fd);
		return err_set(e, ERR_TOO_BIG, "time zone file %s is over %d bytes", path,
			       TZ_FILE_MAX);
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int rc = err_set(e, ERR_IO, "cannot read time zone file %s: %s", path,
					 strerror(errno));
			free(buf);
			close(fd);
			return rc;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*data = buf;
	*len = got;
	return ERR_OK;
}

/* Load a zone file at `path` and call it `name`. */
static int load_path(const char *path, const char *name, struct tz **out, bool *missing,
		     struct err *e)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int rc = read_file(path, name, &data, &len, missing, e);

	if (rc)
		return rc;
	if (len < 4 || memcmp(data, "TZif", 4) != 0) {
		/* Files beside the zones (zone.tab, tzdata.zi) are not zones. */
		free(data);
		return err_set(e, ERR_NOT_FOUND,
			       "\"%.100s\" is not a time zone; use an IANA name such as "
			       "\"Europe/Berlin\", \"America/New_York\" or \"UTC\"",
			       name);
	}
	rc = tz_parse_tzif(data, len, name, out, e);
	free(data);
	return rc;
}

static struct tz *cache_find(const char *name)
{
	for (struct tz *z = cache; z; z = z->next)
		if (strcmp(z->name, name) == 0)
			return z;
	return NULL;
}

static void cache_add(struct tz *z)
{
	z->next = cache;
	cache = z;
}

static int unknown_zone(struct err *e, const char *name)
{
	struct stat st;
	const char *dir = zone_dir();

	if (stat(dir, &st) != 0)
		return err_set(e, ERR_NOT_FOUND,
			       "unknown time zone \"%.100s\": the tz database is not installed (no "
			       "%s); install the tzdata package, or use \"UTC\"",
			       name, dir);
	return err_set(e, ERR_NOT_FOUND,
		       "unknown time zone \"%.100s\": there is no such zone in the tz database "
		       "(%s); use an IANA name such as \"Europe/Berlin\", \"America/New_York\" "
		       "or \"UTC\"",
		       name, dir);
}

/* Load by name; the cache lock is held. */
static int load_named_locked(const char *name, const struct tz **out, struct err *e)
{
	struct tz *z = cache_find(name);
	char *path;
	bool missing;
	int rc;

	if (z) {
		*out = z;
		return ERR_OK;
	}
	if (!valid_name(name))
		return err_set(e, ERR_INVALID,
			       "\"%.100s\" is not a valid time zone name: use an IANA name such as "
			       "\"Europe/Berlin\" (letters, digits, '/', '_', '-', '+'; no \"..\")",
			       name);
	path = xasprintf("%s/%s", zone_dir(), name);
	rc = load_path(path, name, &z, &missing, e);
	free(path);
	if (missing) {
		if (!is_utc_alias(name))
			return unknown_zone(e, name);
		z = fixed_zone(name, 0, strstr(name, "GMT") ? "GMT" : "UTC");
		rc = ERR_OK;
	}
	if (rc)
		return rc;
	cache_add(z);
	*out = z;
	return ERR_OK;
}

/* The zone name of a path inside a zoneinfo directory, else NULL. */
static const char *name_in_zoneinfo(const char *path)
{
	const char *p = strstr(path, "zoneinfo/");

	if (!p)
		return NULL;
	p += strlen("zoneinfo/");
	/* Debian also ships zoneinfo/posix/<name>, the same zones. */
	if (strncmp(p, "posix/", 6) == 0)
		p += 6;
	return valid_name(p) ? p : NULL;
}

/* A zone from a file path (TZ=/path, /etc/localtime); the lock is held. */
static int load_file_locked(const char *path, const char *name, const struct tz **out,
			    struct err *e)
{
	struct tz *z;
	bool missing;
	int rc;

	if (name && (z = cache_find(name))) {
		*out = z;
		return ERR_OK;
	}
	rc = load_path(path, name ? name : "localtime", &z, &missing, e);
	if (missing)
		return err_set(e, ERR_NOT_FOUND, "no time zone file %s", path);
	if (rc)
		return rc;
	cache_add(z);
	*out = z;
	return ERR_OK;
}

/* A zone from a TZ value: name, ":name", "/path" or a POSIX string. */
static int load_tz_value_locked(const char *v, const struct tz **out, struct err *e)
{
	struct tz *z;
	int rc;

	if (*v == ':')
		v++;
	if (!*v) {
		*out = &utc_zone;
		return ERR_OK;
	}
	if (v[0] == '/')
		return load_file_locked(v, name_in_zoneinfo(v), out, e);
	if (valid_name(v)) {
		struct err le;

		err_clear(&le);
		rc = load_named_locked(v, out, &le);
		if (rc != ERR_NOT_FOUND) {
			if (rc && e)
				*e = le;
			return rc;
		}
	}
	if ((z = cache_find(v))) {
		*out = z;
		return ERR_OK;
	}
	if ((rc = tz_parse_posix(v, &z, NULL)))
		return err_set(
			e, ERR_NOT_FOUND,
			"unknown time zone \"%.100s\": neither a zone of the tz database nor "
			"a POSIX TZ string; use an IANA name such as \"Europe/Berlin\"",
			v);
	cache_add(z);
	*out = z;
	return ERR_OK;
}

/* The machine's zone; the lock is held. */
static const struct tz *resolve_local_locked(void)
{
	const char *env = getenv("TZ");
	const struct tz *z = NULL;
	struct err e;
	char link[PATH_MAX];
	ssize_t n;

	err_clear(&e);
	if (env) {
		if (load_tz_value_locked(env, &z, &e) == ERR_OK)
			return z;
		log_warn("TZ=%s: %s; using UTC", env, err_msg(&e));
		return &utc_zone;
	}
	n = readlink("/etc/localtime", link, sizeof link - 1);
	if (n > 0) {
		link[n] = '\0';
	} else {
		link[0] = '\0';
	}
	if (load_file_locked("/etc/localtime", name_in_zoneinfo(link), &z, &e) == ERR_OK)
		return z;
	if (e.code != ERR_NOT_FOUND)
		log_warn("/etc/localtime: %s; using UTC", err_msg(&e));
	return &utc_zone;
}

int tz_load(const char *name, const struct tz **out, struct err *e)
{
	int rc = ERR_OK;

	pthread_mutex_lock(&cache_lock);
	if (!name || !*name || strcmp(name, "local") == 0) {
		if (!local_zone)
			local_zone = resolve_local_locked();
		*out = local_zone;
	} else if (strcmp(name, "UTC") == 0) {
		*out = &utc_zone;
	} else {
		rc = load_named_locked(name, out, e);
	}
	pthread_mutex_unlock(&cache_lock);
	return rc;
}

int tz_set_local(const char *name, struct err *e)
{
	const struct tz *z = NULL;
	int rc = ERR_OK;

	pthread_mutex_lock(&cache_lock);
	if (!name)
		local_zone = NULL;
	else if ((rc = load_tz_value_locked(name, &z, e)) == ERR_OK)
		local_zone = z;
	pthread_mutex_unlock(&cache_lock);
	return rc;
}

void tz_cache_free(void)
{
	pthread_mutex_lock(&cache_lock);
	while (cache) {
		struct tz *z = cache;

		cache = z->next;
		tz_free(z);
	}
	local_zone = NULL;
	pthread_mutex_unlock(&cache_lock);
}
