/* clock.c - real and fake clocks, the demo clock, ISO-8601 formatting. */
#define _GNU_SOURCE
#include "clock.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static struct clock system_clock = {.fake = false};

/* ---- the demo clock ------------------------------------------------------
 * The file holds DEMO_MAGIC then the offset (int64, native byte order, at
 * an 8-byte aligned place, so loads and stores through the shared mapping
 * are atomic).  demo_offset points into the mapping, or at zero_offset. */

#define DEMO_MAGIC "AMBCLK01"
#define DEMO_FILE_SIZE 16

struct demo_file {
	char magic[8];
	int64_t offset_us;
};

static int64_t zero_offset;
static int64_t *demo_offset = &zero_offset;
static pthread_once_t demo_once = PTHREAD_ONCE_INIT;

static struct demo_file *demo_map(const char *path, bool writable, bool create, struct err *e)
{
	int fd = open(path,
		      (writable ? O_RDWR : O_RDONLY) | (create ? O_CREAT | O_TRUNC : 0) | O_CLOEXEC,
		      0600);
	if (fd < 0) {
		err_set(e, ERR_IO, "cannot open the demo clock file %s: %s", path, strerror(errno));
		return NULL;
	}
	if (create) {
		struct demo_file init = {.offset_us = 0};
		memcpy(init.magic, DEMO_MAGIC, sizeof(init.magic));
		if (write(fd, &init, sizeof(init)) != (ssize_t)sizeof(init)) {
			err_set(e, ERR_IO, "cannot write the demo clock file %s: %s", path,
				strerror(errno));
			close(fd);
			return NULL;
		}
	}
	void *p = mmap(NULL, DEMO_FILE_SIZE, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED,
		       fd, 0);
	off_t size = lseek(fd, 0, SEEK_END);
	close(fd);
	if (p == MAP_FAILED || size < DEMO_FILE_SIZE ||
	    memcmp(((struct demo_file *)p)->magic, DEMO_MAGIC, 8) != 0) {
		err_set(e, ERR_CORRUPT, "%s is not a demo clock file (made by `ambient demo`)",
			path);
		if (p != MAP_FAILED)
			munmap(p, DEMO_FILE_SIZE);
		return NULL;
	}
	return p;
}

/* Follow the file named in the environment, once per process. */
static void demo_from_env(void)
{
	const char *path = getenv(CLOCK_DEMO_ENV);
	if (!path || !*path)
		return;
	struct err e = {0};
	struct demo_file *f = demo_map(path, false, false, &e);
	if (!f) {
		fprintf(stderr, "ambient: %s is set but ignored: %s\n", CLOCK_DEMO_ENV,
			err_msg(&e));
		return;
	}
	__atomic_store_n(&demo_offset, &f->offset_us, __ATOMIC_RELEASE);
}

int64_t clock_demo_offset(void)
{
	pthread_once(&demo_once, demo_from_env);
	return __atomic_load_n(__atomic_load_n(&demo_offset, __ATOMIC_ACQUIRE), __ATOMIC_ACQUIRE);
}

int clock_demo_create(const char *path, struct err *e)
{
	pthread_once(&demo_once, demo_from_env); /* so it cannot replace ours later */
	struct demo_file *f = demo_map(path, true, true, e);
	if (!f)
		return e ? e->code : ERR_IO;
	__atomic_store_n(&demo_offset, &f->offset_us, __ATOMIC_RELEASE);
	return ERR_OK;
}

void clock_demo_jump_to(int64_t wall_us)
{
	int64_t *p = __atomic_load_n(&demo_offset, __ATOMIC_ACQUIRE);
	if (p == &zero_offset)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t want = wall_us - ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	int64_t cur = __atomic_load_n(p, __ATOMIC_ACQUIRE);
	while (want > cur && !__atomic_compare_exchange_n(p, &cur, want, false, __ATOMIC_ACQ_REL,
							  __ATOMIC_ACQUIRE))
		;
}

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
	return ts_us(&ts) + clock_demo_offset();
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
	if (tm.tm_year != parsed.tm_year || tm.tm_mon != parsed.tm_mon ||
	    tm.tm_mday != parsed.tm_mday)
		return -1;
	if (utc && (tm.tm_hour != parsed.tm_hour || tm.tm_min != parsed.tm_min ||
		    tm.tm_sec != parsed.tm_sec))
		return -1;
	*wall_us = (int64_t)sec * 1000000 + frac;
	return 0;
}
