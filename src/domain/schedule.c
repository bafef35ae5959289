/*
 * schedule.c - due times of every task type (pure: no I/O).
 *
 * Daily, weekly and news_digest times are cron expressions built in place
 * (one minute, one hour, some weekdays), so one search serves all calendar
 * forms.  The search walks the zone's UTC offset periods: between two
 * transitions local time is UTC plus a constant, so the first matching
 * local minute of a period is found with the cron bitsets (skipping months,
 * days and hours that cannot match) and converted back by subtracting the
 * offset.  At a transition forward, local times of the gap that match fire
 * at the jump; at a transition back, local times already seen are skipped
 * unless the expression is a Vixie "wildcard" one.
 */
#include "schedule.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "task.h"
#include "task_config.h"

#define US INT64_C(1000000)
#define DAY INT64_C(86400)
#define SEARCH_S ((int64_t)SCHEDULE_SEARCH_YEARS * 366 * DAY)
/* Seconds we can search from and still express the answer in microseconds. */
#define MAX_S (INT64_MAX / US - SEARCH_S - 2 * DAY)
#define MIN_S (INT64_MIN / US + 2 * DAY)

#define ALL_MINUTES ((UINT64_C(1) << 60) - 1)
#define ALL_HOURS ((UINT32_C(1) << 24) - 1)
#define ALL_DOM (((UINT32_C(1) << 31) - 1) << 1) /* bits 1..31 */
#define ALL_MONTHS (((UINT16_C(1) << 12) - 1) << 1)

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* "2025-03-09T07:00:00Z" for messages. */
static void fmt_utc(int64_t us, char out[32])
{
	int64_t s = floor_div(us, US), days = floor_div(s, DAY), sod = s - days * DAY, y;
	int m, d;

	tz_civil_from_days(days, &y, &m, &d);
	snprintf(out, 32, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m, d, (int)(sod / 3600),
		 (int)(sod % 3600 / 60), (int)(sod % 60));
}

/* ---- calendar search ----------------------------------------------------- */

/* The first minute-aligned local second in [lo, hi) that c matches. */
static bool cron_find(const struct cron_expr *c, int64_t lo, int64_t hi, int64_t *out)
{
	uint64_t minutes = c->minute & ALL_MINUTES;
	uint32_t hours = c->hour & ALL_HOURS;
	int64_t l = floor_div(lo, 60) * 60;

	if (l < lo)
		l += 60;
	while (l < hi) {
		int64_t days = floor_div(l, DAY), sod = l - days * DAY, y;
		int m, d, h = (int)(sod / 3600), mi = (int)(sod % 3600 / 60);
		uint32_t hb;
		uint64_t mb;

		tz_civil_from_days(days, &y, &m, &d);
		if (!(c->month & (1u << m))) {
			l = tz_days_from_civil(y, m + 1, 1) * DAY;
			continue;
		}
		if (!cron_day_matches(c, d, m, tz_weekday(days))) {
			l = (days + 1) * DAY;
			continue;
		}
		hb = hours >> h;
		if (!hb) {
			l = (days + 1) * DAY;
			continue;
		}
		if (!(hb & 1)) {
			l = days * DAY + (int64_t)(h + __builtin_ctz(hb)) * 3600;
			continue;
		}
		mb = minutes >> mi;
		if (!mb) {
			l = days * DAY + (int64_t)(h + 1) * 3600;
			continue;
		}
		l = days * DAY + (int64_t)h * 3600 + (int64_t)(mi + __builtin_ctzll(mb)) * 60;
		if (l >= hi)
			return false;
		*out = l;
		return true;
	}
	return false;
}

static int calendar_next(const struct schedule *s, int64_t after_us, int64_t *due_us, struct err *e)
{
	const struct tz *z = s->tz ? s->tz : tz_utc();
	const struct cron_expr *c = &s->cron;
	int64_t t0 = floor_div(after_us, US) + 1, t, limit, lo, n, p, l;
	int32_t off, before;
	char when[32];

	if (t0 > MAX_S || t0 < MIN_S)
		return err_set(e, ERR_NOT_FOUND, "no due time: the time is out of range");
	limit = t0 + SEARCH_S;
	t = t0;
	off = tz_utc_offset(z, t);
	lo = t + off;
	if (tz_prev_transition(z, t, &p)) {
		before = tz_utc_offset(z, p - 1);
		if (before < off && p == t && cron_find(c, p + before, p + off, &l)) {
			*due_us = p * US; /* a skipped time runs at the jump */
			return ERR_OK;
		}
		if (before > off && !s->cron_wild && p + before > lo)
			lo = p + before; /* these local times already happened */
	}
	for (;;) {
		bool more = tz_next_transition(z, t, &n) && n < limit;
		int32_t noff;

		if (cron_find(c, lo, (more ? n : limit) + off, &l)) {
			*due_us = (l - off) * US;
			return ERR_OK;
		}
		if (!more)
			break;
		noff = tz_utc_offset(z, n);
		if (noff > off) {
			/* clocks go forward: [n + off, n + noff) never shows */
			if (cron_find(c, n + off > lo ? n + off : lo, n + noff, &l)) {
				*due_us = n * US;
				return ERR_OK;
			}
			lo = n + noff;
		} else if (noff < off && !s->cron_wild) {
			lo = n + off; /* clocks go back: run repeated times once */
		} else {
			lo = n + noff;
		}
		t = n;
		off = noff;
	}
	fmt_utc(after_us, when);
	return err_set(e, ERR_NOT_FOUND,
		       "the schedule never fires: no due time in the %d years after %s",
		       SCHEDULE_SEARCH_YEARS, when);
}

/* Vixie cron's "wildcard" jobs: a minute or hour field starting with '*'. */
static bool cron_text_wild(const char *expr)
{
	while (isspace((unsigned char)*expr))
		expr++;
	if (*expr == '@')
		return strncasecmp(expr, "@hourly", 7) == 0;
	for (int f = 0; f < 2 && *expr; f++) {
		if (*expr == '*')
			return true;
		while (*expr && !isspace((unsigned char)*expr))
			expr++;
		while (isspace((unsigned char)*expr))
			expr++;
	}
	return false;
}

/* ---- once ---------------------------------------------------------------- */

static bool digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return false;
		*v = *v * 10 + (**p - '0');
	}
	return true;
}

int schedule_parse_at(const char *text, const struct tz *tz, int64_t *us, struct err *e)
{
	const char *p = text;
	int y, mo, d, h, mi, sec = 0, oh, om, sign;
	int64_t frac = 0, local, utc;

	if (!p)
		goto bad;
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
		goto bad;
	p++;
	if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
		goto bad;
	if (*p == ':') {
		p++;
		if (!digits(&p, 2, &sec))
			goto bad;
		if (*p == '.' || *p == ',') {
			int n = 0;

			for (p++; isdigit((unsigned char)*p); p++, n++)
				if (n < 6)
					frac = frac * 10 + (*p - '0');
			if (n == 0 || n > 9)
				goto bad;
			for (; n < 6; n++)
				frac *= 10;
		}
	}
	if (mo < 1 || mo > 12 || d < 1 || d > tz_days_in_month(y, mo) || h > 23 || mi > 59 ||
	    sec > 59)
		goto bad;
	local = tz_days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60 + sec;
	if (*p == 'Z' || *p == 'z') {
		p++;
		utc = local;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (!digits(&p, 2, &oh))
			goto bad;
		if (*p == ':')
			p++;
		if (!digits(&p, 2, &om) || oh > 23 || om > 59)
			goto bad;
		utc = local - sign * (oh * 3600 + om * 60);
	} else {
		utc = tz_from_local_s(tz ? tz : tz_utc(), local, TZ_FOLD_FIRST | TZ_GAP_JUMP);
	}
	if (*p)
		goto bad;
	*us = utc * US + frac;
	return ERR_OK;
bad:
	return err_set(e, ERR_INVALID,
		       "config.at must be an ISO-8601 date-time YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM] "
		       "(got \"%.60s\")",
		       text ? text : "");
}

/* ---- from a config ------------------------------------------------------- */

static int get_int(const json_t *cfg, const char *key, long long def, long long min, long long max,
		   long long *out, struct err *e)
{
	const json_t *v = json_object_get(cfg, key);
	long long n;

	if (!v || json_is_null(v)) {
		*out = def;
		return ERR_OK;
	}
	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_real(v) && json_real_value(v) >= (double)min &&
		   json_real_value(v) <= (double)max &&
		   json_real_value(v) == (double)(long long)json_real_value(v)) {
		n = (long long)json_real_value(v);
	} else {
		n = min - 1;
	}
	if (n < min || n > max)
		return err_set(e, ERR_INVALID, "config.%s must be an integer from %lld to %lld",
			       key, min, max);
	*out = n;
	return ERR_OK;
}

/* A daily (days = 0x7f) or weekly time as a cron expression. */
static int wall_time(struct schedule *s, const json_t *cfg, unsigned days, struct err *e)
{
	long long h = 0, m = 0;
	int rc;

	if ((rc = get_int(cfg, "hour", 8, 0, 23, &h, e)) ||
	    (rc = get_int(cfg, "minute", 0, 0, 59, &m, e)))
		return rc;
	s->cron.minute = UINT64_C(1) << m;
	s->cron.hour = UINT32_C(1) << h;
	s->cron.dom = ALL_DOM;
	s->cron.month = ALL_MONTHS;
	s->cron.dow = (uint8_t)(days & 0x7f);
	s->cron.dom_restricted = false;
	s->cron.dow_restricted = days != 0x7f;
	s->cron_wild = false;
	return ERR_OK;
}

static int interval(struct schedule *s, const json_t *cfg, const char *key, long long def,
		    long long max, struct err *e)
{
	long long minutes = def;
	int rc = get_int(cfg, key, def, 1, max, &minutes, e);

	s->form = SCHEDULE_INTERVAL;
	if (rc == ERR_OK)
		s->interval_us = (int64_t)minutes * 60 * US;
	return rc;
}

static int schedule_type(struct schedule *s, const json_t *cfg, struct err *e)
{
	static const char *const forms[] = {"daily", "interval", "weekly", "once", "cron", NULL};
	const char *type = json_string_value(json_object_get(cfg, "type"));
	const char *policy = json_string_value(json_object_get(cfg, "missed_run_policy"));
	const char *text;
	struct err ce;
	long long jitter;
	unsigned days;
	int rc, f;

	for (f = 0; type && forms[f]; f++)
		if (strcmp(type, forms[f]) == 0)
			break;
	if (!type || !forms[f])
		return err_set(e, ERR_INVALID,
			       "config.type must be one of daily, interval, weekly, once, cron");
	s->form = f;
	if (policy && strcmp(policy, "skip") == 0)
		s->missed_policy = SCHEDULE_MISSED_SKIP;
	else if (policy && strcmp(policy, "once") != 0)
		return err_set(e, ERR_INVALID,
			       "config.missed_run_policy must be one of skip, once");
	if ((rc = get_int(cfg, "jitter_seconds", 0, 0, 3600, &jitter, e)))
		return rc;
	s->jitter_seconds = (int)jitter;

	switch (f) {
	case SCHEDULE_DAILY:
		return wall_time(s, cfg, 0x7f, e);
	case SCHEDULE_INTERVAL:
		return interval(s, cfg, "minutes", 60, 525600, e);
	case SCHEDULE_WEEKLY:
		days = task_config_days_mask(cfg);
		if (!days)
			return err_set(e, ERR_INVALID,
				       "config.days must be a non-empty array of weekdays");
		return wall_time(s, cfg, days, e);
	case SCHEDULE_ONCE:
		return schedule_parse_at(json_string_value(json_object_get(cfg, "at")), s->tz,
					 &s->at_us, e);
	default:
		text = json_string_value(json_object_get(cfg, "expression"));
		if (!text)
			text = json_string_value(json_object_get(cfg, "cron"));
		if (!text)
			return err_set(e, ERR_INVALID, "config.expression is required");
		err_clear(&ce);
		if (cron_parse(text, &s->cron, &ce))
			return err_set(e, ERR_INVALID, "config.expression: %s", ce.msg);
		s->cron_wild = cron_text_wild(text);
		return ERR_OK;
	}
}

const char *schedule_zone_name(const json_t *config)
{
	return json_string_value(json_object_get(config, "timezone"));
}

int schedule_from_config(int task_type, const json_t *config, const struct tz *tz,
			 struct schedule *out, struct err *e)
{
	struct schedule s;
	int rc;

	memset(&s, 0, sizeof s);
	s.task_type = task_type;
	s.tz = tz ? tz : tz_utc();
	s.missed_policy = SCHEDULE_MISSED_ONCE;
	if (!json_is_object(config))
		return err_set(e, ERR_INVALID, "config must be a JSON object");
	switch (task_type) {
	case TASK_WEB_MONITOR:
		rc = interval(&s, config, "check_interval_minutes", 30, 10080, e);
		break;
	case TASK_THRESHOLD_WATCH:
		rc = interval(&s, config, "check_interval_minutes", 15, 10080, e);
		break;
	case TASK_NEWS_DIGEST:
		s.form = SCHEDULE_DAILY;
		rc = wall_time(&s, config, 0x7f, e);
		break;
	case TASK_SCHEDULE:
		rc = schedule_type(&s, config, e);
		break;
	default:
		return err_set(e, ERR_INVALID, "unknown task type %d", task_type);
	}
	if (rc)
		return rc;
	*out = s;
	return ERR_OK;
}

/* ---- due times ----------------------------------------------------------- */

int schedule_next(const struct schedule *s, int64_t after_us, int64_t *due_us, struct err *e)
{
	char when[32];

	switch (s->form) {
	case SCHEDULE_INTERVAL:
		if (s->interval_us <= 0 || after_us > INT64_MAX - s->interval_us)
			return err_set(e, ERR_NOT_FOUND, "no due time: the time is out of range");
		*due_us = after_us + s->interval_us;
		return ERR_OK;
	case SCHEDULE_ONCE:
		if (s->at_us > after_us) {
			*due_us = s->at_us;
			return ERR_OK;
		}
		fmt_utc(s->at_us, when);
		return err_set(e, ERR_NOT_FOUND, "the once schedule's time %s has passed", when);
	default:
		return calendar_next(s, after_us, due_us, e);
	}
}

int schedule_first_due(const struct schedule *s, int64_t created_us, int64_t last_run_us,
		       int64_t now_us, struct schedule_plan *out, struct err *e)
{
	int64_t due, next, base, cutoff;
	bool has_next = true;
	int rc;

	memset(out, 0, sizeof *out);
	cutoff = now_us > INT64_MIN + SCHEDULE_LATE_GRACE_US ? now_us - SCHEDULE_LATE_GRACE_US
							     : INT64_MIN;
	if (s->form == SCHEDULE_INTERVAL) {
		if (s->interval_us <= 0 || last_run_us > INT64_MAX - s->interval_us)
			return err_set(e, ERR_INVALID, "interval or last run out of range");
		due = last_run_us ? last_run_us + s->interval_us : created_us;
	} else {
		base = last_run_us              ? last_run_us
		       : created_us > INT64_MIN ? created_us - 1
						: INT64_MIN;
		if (s->form == SCHEDULE_ONCE && !last_run_us && s->at_us <= base)
			base = s->at_us - 1; /* a time before creation counts as missed */
		if (s->form == SCHEDULE_ONCE && last_run_us && s->at_us <= last_run_us)
			return err_set(e, ERR_NOT_FOUND, "the once schedule has run");
		if ((rc = schedule_next(s, base, &due, e)))
			return rc;
	}
	if (due >= cutoff) {
		out->due_us = due; /* may be a little in the past: run at once */
		return ERR_OK;
	}

	/* Missed: count them (a little), then apply the policy. */
	out->first_missed_us = due;
	if (s->form == SCHEDULE_INTERVAL) {
		out->missed = (cutoff - 1 - due) / s->interval_us + 1;
		next = due + out->missed * s->interval_us; /* the first >= cutoff */
	} else {
		next = due;
		while (has_next && next < cutoff && out->missed < SCHEDULE_MISSED_COUNT_MAX) {
			out->missed++;
			has_next = schedule_next(s, next, &next, NULL) == ERR_OK;
		}
		if (!has_next || next < cutoff)
			has_next = schedule_next(s, cutoff - 1, &next, NULL) == ERR_OK;
	}
	if (s->missed_policy == SCHEDULE_MISSED_ONCE) {
		out->due_us = now_us;
		out->catch_up = true;
		return ERR_OK;
	}
	if (!has_next) {
		char when[32];

		fmt_utc(due, when);
		return err_set(e, ERR_NOT_FOUND,
			       "the schedule's last due time (%s) was missed and "
			       "missed_run_policy is \"skip\"",
			       when);
	}
	out->due_us = next;
	return ERR_OK;
}

int64_t schedule_jitter_us(const struct schedule *s, const char *task_id)
{
	uint64_t h = UINT64_C(14695981039346656037);

	if (!s || s->jitter_seconds <= 0 || !task_id)
		return 0;
	for (const unsigned char *p = (const unsigned char *)task_id; *p; p++) {
		h ^= *p;
		h *= UINT64_C(1099511628211);
	}
	/* splitmix64's finaliser spreads ids that differ in one character */
	h ^= h >> 30;
	h *= UINT64_C(0xbf58476d1ce4e5b9);
	h ^= h >> 27;
	h *= UINT64_C(0x94d049bb133111eb);
	h ^= h >> 31;
	return (int64_t)(h % ((uint64_t)s->jitter_seconds * US + 1));
}
