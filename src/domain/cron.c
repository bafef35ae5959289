/*
 * cron.c - parse five-field cron expressions into bitsets.
 *
 * Fields are described by a table (range, names), so the one item parser
 * serves all five and every error names the field and its allowed range.
 */
#include "cron.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct cron_field {
	const char *name;
	int min, max;             /* values accepted; day-of-week takes 7 too */
	int star_max;             /* what '*' covers: day-of-week stops at 6 */
	const char *const *names; /* three-letter names of min..star_max, or NULL */
	const char *names_text;
};

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
					  "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const dow_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

static const struct cron_field fields[5] = {
	{"minute", 0, 59, 59, NULL, NULL},
	{"hour", 0, 23, 23, NULL, NULL},
	{"day-of-month", 1, 31, 31, NULL, NULL},
	{"month", 1, 12, 12, month_names, "JAN..DEC"},
	{"day-of-week", 0, 7, 6, dow_names, "SUN..SAT"},
};

static const struct {
	const char *name;
	const char *expr;
} macros[] = {
	{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
	{"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
	{"@hourly", "0 * * * *"},
};

#define MACRO_LIST "@hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually"

static int field_err(struct err *e, int idx, const char *fmt, const char *item)
{
	char detail[200];

	snprintf(detail, sizeof detail, fmt, item);
	return err_set(e, ERR_INVALID, "cron field %d (%s) %s", idx + 1, fields[idx].name, detail);
}

static int bad_item(struct err *e, int idx, const char *item)
{
	const struct cron_field *f = &fields[idx];

	return err_set(
		e, ERR_INVALID,
		"cron field %d (%s) item \"%.40s\" is not valid: use * or a value %d-%d%s%s, "
		"a range (1-5), a step (*/15 or 1-30/5) or a list (1,15,30)",
		idx + 1, f->name, item, f->min, f->max, f->names ? " or a name " : "",
		f->names ? f->names_text : "");
}

/* Read a number or a name at *p; leaves *p after it. */
static int parse_value(int idx, const char *item, const char **p, int *out, struct err *e)
{
	const struct cron_field *f = &fields[idx];
	const char *s = *p;
	int v = 0;

	if (isdigit((unsigned char)*s)) {
		while (isdigit((unsigned char)*s)) {
			if (v < 100000) /* stays out of range without overflowing */
				v = v * 10 + (*s - '0');
			s++;
		}
		if (v < f->min || v > f->max)
			return err_set(e, ERR_INVALID,
				       "cron field %d (%s) value %.*s is out of range %d-%d",
				       idx + 1, f->name, (int)(s - *p > 20 ? 20 : s - *p), *p,
				       f->min, f->max);
	} else if (isalpha((unsigned char)*s)) {
		size_t n = 0;
		int i, count = f->star_max - f->min + 1;

		while (isalpha((unsigned char)s[n]))
			n++;
		if (!f->names)
			return err_set(
				e, ERR_INVALID,
				"cron field %d (%s) value \"%.*s\" is not a number; allowed: %d-%d",
				idx + 1, f->name, (int)(n > 20 ? 20 : n), s, f->min, f->max);
		for (i = 0; i < count; i++)
			if (n == 3 && strncasecmp(s, f->names[i], 3) == 0)
				break;
		if (i == count)
			return err_set(
				e, ERR_INVALID,
				"cron field %d (%s) name \"%.*s\" is not one of %s (or %d-%d)",
				idx + 1, f->name, (int)(n > 20 ? 20 : n), s, f->names_text, f->min,
				f->max);
		v = f->min + i;
		s += n;
	} else {
		return bad_item(e, idx, item);
	}
	*p = s;
	*out = v;
	return ERR_OK;
}

/* One comma-separated item: "*", "v", "a-b", any of them with "/step". */
static int parse_item(int idx, const char *item, uint64_t *bits, struct err *e)
{
	const struct cron_field *f = &fields[idx];
	const char *p = item;
	int lo, hi, step = 1, rc;
	bool star = false, range = false;

	if (*p == '*') {
		star = true;
		lo = f->min;
		hi = f->star_max;
		p++;
	} else {
		if ((rc = parse_value(idx, item, &p, &lo, e)))
			return rc;
		hi = lo;
		if (*p == '-') {
			p++;
			if ((rc = parse_value(idx, item, &p, &hi, e)))
				return rc;
			range = true;
		}
	}
	if (*p == '/') {
		int span = f->star_max - f->min + 1;

		p++;
		if (!isdigit((unsigned char)*p))
			return field_err(e, idx, "step in \"%.40s\" must be a number", item);
		step = 0;
		while (isdigit((unsigned char)*p)) {
			if (step < 100000)
				step = step * 10 + (*p - '0');
			p++;
		}
		if (step < 1 || step > span)
			return err_set(
				e, ERR_INVALID,
				"cron field %d (%s) step %d in \"%.40s\" must be from 1 to %d",
				idx + 1, f->name, step, item, span);
		if (!star && !range)
			hi = f->star_max; /* "a/n" means "a-max/n", as cronie reads it */
	}
	if (*p)
		return bad_item(e, idx, item);
	if (lo > hi)
		return err_set(e, ERR_INVALID,
			       "cron field %d (%s) range \"%.40s\" is backwards; write the smaller "
			       "value first, or split it into two ranges joined by ','",
			       idx + 1, f->name, item);
	for (int v = lo; v <= hi; v += step)
		*bits |= (uint64_t)1 << v;
	return ERR_OK;
}

static int parse_field(int idx, char *text, uint64_t *bits, struct err *e)
{
	char *item = text, *comma;
	int rc;

	*bits = 0;
	for (;;) {
		comma = strchr(item, ',');
		if (comma)
			*comma = '\0';
		if (!*item)
			return err_set(e, ERR_INVALID,
				       "cron field %d (%s) has an empty item in its list; separate "
				       "values with single commas, e.g. 1,15,30",
				       idx + 1, fields[idx].name);
		if ((rc = parse_item(idx, item, bits, e)))
			return rc;
		if (!comma)
			return ERR_OK;
		item = comma + 1;
	}
}

static const int month_days[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

/* Some day of some allowed month (29 February counts) must be allowed. */
static bool can_fire(const struct cron_expr *c)
{
	if (c->dom_restricted && c->dow_restricted)
		return true; /* every month has every weekday */
	for (int m = 1; m <= 12; m++) {
		uint32_t in_month = (uint32_t)(((uint64_t)1 << (month_days[m] + 1)) - 2);

		if ((c->month & (1u << m)) && (c->dom & in_month))
			return true;
	}
	return false;
}

int cron_parse(const char *expr, struct cron_expr *out, struct err *e)
{
	char text[CRON_EXPR_MAX + 1];
	char *field[5], *p;
	uint64_t bits[5];
	struct cron_expr c;
	size_t len;
	int n = 0, rc;

	if (!expr)
		expr = "";
	while (isspace((unsigned char)*expr))
		expr++;
	len = strlen(expr);
	while (len && isspace((unsigned char)expr[len - 1]))
		len--;
	if (len == 0)
		return err_set(
			e, ERR_INVALID,
			"cron expression is empty; give 5 fields (minute hour day-of-month "
			"month day-of-week), e.g. \"*/15 * * * *\", or a macro such as @daily");
	if (len > CRON_EXPR_MAX)
		return err_set(e, ERR_INVALID,
			       "cron expression is %zu bytes long; at most %d are allowed", len,
			       CRON_EXPR_MAX);
	memcpy(text, expr, len);
	text[len] = '\0';

	if (text[0] == '@') {
		size_t i;

		for (i = 0; i < sizeof macros / sizeof macros[0]; i++)
			if (strcasecmp(text, macros[i].name) == 0)
				return cron_parse(macros[i].expr, out, e);
		return err_set(e, ERR_INVALID,
			       "cron macro \"%.40s\" is not supported; use one of %s", text,
			       MACRO_LIST);
	}
	if (strncasecmp(text, "CRON_TZ=", 8) == 0 || strncasecmp(text, "TZ=", 3) == 0)
		return err_set(e, ERR_INVALID,
			       "cron expression may not carry a time zone prefix; put the zone in "
			       "the schedule's \"timezone\" field instead");

	for (p = text; *p;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (n < 5)
			field[n] = p;
		n++;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
	if (n != 5)
		return err_set(e, ERR_INVALID,
			       "cron expression has %d field%s; it needs exactly 5: minute hour "
			       "day-of-month month day-of-week, e.g. \"0 8 * * MON-FRI\" (seconds "
			       "and years are not supported)",
			       n, n == 1 ? "" : "s");
	for (int i = 0; i < 5; i++)
		if ((rc = parse_field(i, field[i], &bits[i], e)))
			return rc;

	memset(&c, 0, sizeof c);
	c.minute = bits[0];
	c.hour = (uint32_t)bits[1];
	c.dom = (uint32_t)bits[2];
	c.month = (uint16_t)bits[3];
	if (bits[4] & (1u << 7))
		bits[4] = (bits[4] & 0x7f) | 1; /* 7 is Sunday too */
	c.dow = (uint8_t)bits[4];
	c.dom_restricted = field[2][0] != '*';
	c.dow_restricted = field[4][0] != '*';
	if (!can_fire(&c))
		return err_set(e, ERR_INVALID,
			       "cron expression \"%.80s\" never fires: none of its months has the "
			       "day of month it asks for (e.g. there is no 30 February)",
			       expr);
	*out = c;
	return ERR_OK;
}

bool cron_day_matches(const struct cron_expr *c, int mday, int month, int wday)
{
	bool dom_ok, dow_ok;

	if (mday < 1 || mday > 31 || month < 1 || month > 12 || wday < 0 || wday > 7)
		return false;
	if (!(c->month & (1u << month)))
		return false;
	dom_ok = (c->dom >> mday) & 1;
	dow_ok = (c->dow >> (wday % 7)) & 1;
	if (c->dom_restricted && c->dow_restricted)
		return dom_ok || dow_ok;
	return dom_ok && dow_ok;
}

bool cron_matches(const struct cron_expr *c, const struct tm *t)
{
	if (t->tm_min < 0 || t->tm_min > 59 || t->tm_hour < 0 || t->tm_hour > 23)
		return false;
	if (!((c->minute >> t->tm_min) & 1) || !((c->hour >> t->tm_hour) & 1))
		return false;
	return cron_day_matches(c, t->tm_mday, t->tm_mon + 1, t->tm_wday);
}
