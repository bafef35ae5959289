/* log.c - levelled logging. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"

int log_level_current = LOG_LEVEL_WARN;

static FILE *log_file; /* NULL: stderr */
static char log_tag[32] = "ambient";
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const names[] = {"error", "warn", "info", "debug", "trace"};

const char *log_level_name(int level)
{
	if (level < 0 || level > LOG_LEVEL_TRACE)
		return "?";
	return names[level];
}

int log_parse_level(const char *name, int *level, struct err *e)
{
	for (int i = 0; i <= LOG_LEVEL_TRACE; i++) {
		if (strcasecmp(name, names[i]) == 0) {
			*level = i;
			return ERR_OK;
		}
	}
	if (strcasecmp(name, "warning") == 0) {
		*level = LOG_LEVEL_WARN;
		return ERR_OK;
	}
	return err_set(e, ERR_INVALID, "unknown log level '%s'; use one of error, warn, info, debug, trace",
		       name);
}

int log_open(const char *path, const char *tag, struct err *e)
{
	FILE *f = NULL;

	if (path && *path) {
		f = fopen(path, "a");
		if (!f)
			return err_set(e, ERR_IO, "cannot open log file %s: %s", path, strerror(errno));
		setvbuf(f, NULL, _IOLBF, 0);
	}
	pthread_mutex_lock(&log_lock);
	if (log_file)
		fclose(log_file);
	log_file = f;
	if (tag)
		snprintf(log_tag, sizeof log_tag, "%s", tag);
	pthread_mutex_unlock(&log_lock);
	return ERR_OK;
}

void log_close(void)
{
	log_open(NULL, NULL, NULL);
}

void log_write(int level, const char *file, int line, const char *fmt, ...)
{
	char ts[CLOCK_ISO_MAX];
	va_list ap;
	FILE *out;

	clock_format_utc(clock_wall_us(clock_system()), ts);
	pthread_mutex_lock(&log_lock);
	out = log_file ? log_file : stderr;
	fprintf(out, "%s %s[%d] %-5s ", ts, log_tag, (int)getpid(), log_level_name(level));
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	if (level >= LOG_LEVEL_DEBUG)
		fprintf(out, " (%s:%d)", file, line);
	fputc('\n', out);
	pthread_mutex_unlock(&log_lock);
}
