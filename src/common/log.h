/*
 * log.h - levelled logging to stderr, a file, or the seed's log directory,
 * as text or as JSON lines.
 *
 * The macros test the level before evaluating or formatting their arguments,
 * so a debug line costs one comparison when debug logging is off.  Logs never
 * go to stdout: in `ambient mcp` stdout carries the protocol.
 *
 * Formats (log_set_format):
 *   text  2025-06-20T21:03:24.283615Z serve[4242] warn  message (engine/engine.c:12)
 *         (the source only from debug on); control characters in the message
 *         are escaped (\n, \x1b), so one entry is always one line.
 *   json  {"time":"2025-06-20T21:03:24.283615Z","level":"warn","process":"serve",
 *          "pid":4242,"msg":"message","source":"engine/engine.c:12"}
 *         one object per line; the message is JSON-escaped and invalid UTF-8
 *         becomes U+FFFD, so every line parses.
 *
 * Destinations: stderr (default), one file (log_open), or a directory
 * (log_open_dir) holding the three files of the original system, chosen by
 * the source file of each line (log_route):
 *   event_sourcing.log  src/engine/ and src/store/ (the event log, engine,
 *                       delivery)
 *   event_feedback.log  src/app/feedback.c, src/app/notifier.c,
 *                       src/cli/cmd_feedback.c, and every line of a process
 *                       opened with LOG_DIR_FEEDBACK (`ambient feedback`)
 *   mcp_server.log      everything else (MCP, HTTP, tools, CLI)
 * Files are appended to (one write(2) per line), created 0600, and opened when their
 * first line comes (the fallback file at once, so a bad directory is
 * reported at startup).
 *
 * Threads: every function may be called from any thread; lines are whole.
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

enum log_format {
	LOG_FORMAT_TEXT = 0,
	LOG_FORMAT_JSON,
};

extern int log_level_current;

#define log_at(lvl, ...)                                                                           \
	do {                                                                                       \
		if ((lvl) <= log_level_current)                                                    \
			log_write((lvl), __FILE__, __LINE__, __VA_ARGS__);                         \
	} while (0)
#define log_error(...) log_at(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_trace(...) log_at(LOG_LEVEL_TRACE, __VA_ARGS__)

/* One line.  `file` is the source (__FILE__): it picks the file in
 * directory mode and is shown shortened after "src/". */
void log_write(int level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* "error", "warn", "info", "debug", "trace" -> level; ERR_INVALID otherwise. */
int log_parse_level(const char *name, int *level, struct err *e);
const char *log_level_name(int level);

/* "text" or "json" -> enum log_format; ERR_INVALID otherwise. */
int log_parse_format(const char *name, int *format, struct err *e);
void log_set_format(int format);
int log_format_current(void);

/* Send logs to `path` (appending) or back to stderr when path is NULL/"".
 * `tag` names the process in each line (e.g. "serve"; NULL keeps it).
 * On failure the current destination stays. */
int log_open(const char *path, const char *tag, struct err *e);

#define LOG_FILE_EVENTS "event_sourcing.log"
#define LOG_FILE_FEEDBACK "event_feedback.log"
#define LOG_FILE_MCP "mcp_server.log"

/* This process is the feedback server: all its lines go to
 * event_feedback.log. */
#define LOG_DIR_FEEDBACK 0x1u

/* Send logs to the files of directory `dir` (created, mode 0700, when it
 * does not exist; its parent must).  ERR_IO when the directory cannot be
 * made or its first file opened; the current destination then stays. */
int log_open_dir(const char *dir, const char *tag, unsigned flags, struct err *e);

/* Which of the LOG_FILE_* names a line from source `file` goes to. */
const char *log_route(const char *file, unsigned flags);

/* Back to stderr; closes any files. */
void log_close(void);

#endif
