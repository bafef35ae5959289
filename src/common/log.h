/*
 * log.h - levelled logging to stderr or a file.
 *
 * The macros test the level before evaluating or formatting their arguments,
 * so a debug line costs one comparison when debug logging is off.  Logs never
 * go to stdout: in `ambient mcp` stdout carries the protocol.
 */
#ifndef AMBIENT_LOG_H
#define AMBIENT_LOG_H

#include "err.h"

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_TRACE,
};

extern int log_level_current;

#define log_at(lvl, ...)                                                                 \
	do {                                                                             \
		if ((lvl) <= log_level_current)                                          \
			log_write((lvl), __FILE__, __LINE__, __VA_ARGS__);               \
	} while (0)
#define log_error(...) log_at(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_trace(...) log_at(LOG_LEVEL_TRACE, __VA_ARGS__)

void log_write(int level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* "error", "warn", "info", "debug", "trace" -> level; ERR_INVALID otherwise. */
int log_parse_level(const char *name, int *level, struct err *e);
const char *log_level_name(int level);

/* Send logs to `path` (appending) or back to stderr when path is NULL/"".
 * `tag` names the process in each line (e.g. "serve"). */
int log_open(const char *path, const char *tag, struct err *e);
void log_close(void);

#endif
