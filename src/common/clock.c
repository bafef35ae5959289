/* clock.c - real and fake clocks, ISO-8601 formatting. */
#define _GNU_SOURCE
#include "clock.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static struct clock system_clock = {.fake = false};

struct clock *clock_system(void)
{
	return &system_clock;
}

void clock_fake_init(struct clock *c, int64_t wall_us)
{
	c->fake = true;
	c->fake_wall_us = wall_us;
	c->fake_mono_us = 0;
}

void clock_fake_advance(struct clock *c, int64_t us)
{
	__atomic_add_fetch(&c->fake_wall_us, us, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&c->fake_mono_us, us, __ATOMIC_SEQ_CST);
}

void clock_fake_set_wall(struct clock *c, int64_t wall_us)
{
	__atomic_store_n(&c->fake_wall_us, wall_us, __ATOMIC_SEQ_CST);
}

static int64_t ts_us(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000 + ts->tv_nsec / 1000;
}

int64_t clock_wall_us(struct clock *c)
{
	struct timespec ts;
	if (c && c->fake)
		return __atomic_load_n(&c->fake_wall_us, __ATOMIC_SEQ_CST);
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts_us(&ts);
}

int64_t clock_mono_us(struct clock *c)
{
	struct timespec ts;
	if (c && c->fake)
		return __atomic_load_n(&c->fake_mono_us, __ATOMIC_SEQ_CST);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts_us(&ts);
}

static void split(int64_t us, time_t *sec, long *frac)
{
	*sec = (time_t)(us / 1000000);
	*frac = (long)(us % 1000000);
	if (*frac < 0) {
		*frac += 1000000;
		(*sec)--;
	}
}

void clock_format_utc(int64_t wall_us, char *out)
{
	struct tm tm;
	time_t sec;
	long frac;

	split(wall_us, &sec, &frac);
	gmtime_r(&sec, &tm);
	snprintf(out, CLOCK_ISO_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

void clock_format_local(int64_t wall_us, char *out)
{
	struct tm tm;
	time_t sec;
	long frac;

	split(wall_us, &sec, &frac);
	localtime_r(&sec, &tm);
	snprintf(out, CLOCK_ISO_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%06ld", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

int clock_parse_iso(const char *s, int64_t *wall_us)
{
	struct tm tm;
	const char *p;
	long frac = 0;
	int digits = 0;
	time_t sec;

	memset(&tm, 0, sizeof tm);
	p = strptime(s, "%Y-%m-%d", &tm);
	if (!p)
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p = strptime(p + 1, "%H:%M", &tm);
		if (!p)
			return -1;
		if (*p == ':') {
			p = strptime(p + 1, "%S", &tm);
			if (!p)
				return -1;
		}
		if (*p == '.' || *p == ',') {
			p++;
			while (*p >= '0' && *p <= '9') {
				if (digits < 6) {
					frac = frac * 10 + (*p - '0');
					digits++;
				}
				p++;
			}
			if (digits == 0)
				return -1;
			while (digits++ < 6)
				frac *= 10;
		}
	}
	struct tm parsed = tm;
	bool utc = true;
	if (*p == 'Z' || *p == 'z') {
		if (p[1])
			return -1;
		sec = timegm(&tm);
	} else if (*p == '+' || *p == '-') {
		/* exactly [+-]HH:MM */
		const char *o = p + 1;
		if (!isdigit((unsigned char)o[0]) || !isdigit((unsigned char)o[1]) || o[2] != ':' ||
		    !isdigit((unsigned char)o[3]) || !isdigit((unsigned char)o[4]) || o[5])
			return -1;
		int hh = (o[0] - '0') * 10 + (o[1] - '0'), mm = (o[3] - '0') * 10 + (o[4] - '0');
		if (hh > 23 || mm > 59)
			return -1;
		sec = timegm(&tm) - (*p == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
	} else if (*p == '\0') {
		tm.tm_isdst = -1;
		sec = mktime(&tm);
		utc = false;
	} else {
		return -1;
	}
	/* timegm/mktime roll impossible dates over (Feb 30 -> Mar 2): refuse
	 * them.  A local time in a DST gap may move its hour, not its date. */
	if (tm.tm_year != parsed.tm_year || tm.tm_mon != parsed.tm_mon || tm.tm_mday != parsed.tm_mday)
		return -1;
	if (utc && (tm.tm_hour != parsed.tm_hour || tm.tm_min != parsed.tm_min ||
		    tm.tm_sec != parsed.tm_sec))
		return -1;
	*wall_us = (int64_t)sec * 1000000 + frac;
	return 0;
}
