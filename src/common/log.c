/*
 * log.c - levelled logging as text or JSON lines, to stderr, a file or the
 * three files of a log directory (see log.h).
 *
 * A line is formatted outside the lock (the caller's printf), then escaped,
 * assembled and written with one write(2) under the lock: no stdio buffer,
 * so concurrent lines (and processes appending to the same O_APPEND file)
 * never interleave and nothing is lost on a crash.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "xalloc.h"

int log_level_current = LOG_LEVEL_WARN;

#define MSG_MAX (64 * 1024) /* longer messages are cut (and say so) */
#define LINE_MAX_BYTES (8 * MSG_MAX)

/* Routes of directory mode, indexes into dst.files. */
enum { ROUTE_MCP, ROUTE_EVENTS, ROUTE_FEEDBACK, ROUTE__COUNT };
static const char *const route_files[ROUTE__COUNT] = {LOG_FILE_MCP, LOG_FILE_EVENTS,
						      LOG_FILE_FEEDBACK};

/* Everything below is guarded by log_lock. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_tag[32] = "ambient";
static int log_format = LOG_FORMAT_TEXT;
static int log_fd = -1; /* log_open; -1: stderr (unless in directory mode) */
static struct {
	char *path; /* NULL: not in directory mode */
	unsigned flags;
	int fds[ROUTE__COUNT];     /* opened on first use; -1 until then */
	bool failed[ROUTE__COUNT]; /* could not be opened: lines go to the fallback */
} dir = {.fds = {-1, -1, -1}};

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
	return err_set(e, ERR_INVALID,
		       "unknown log level '%s'; use one of error, warn, info, debug, trace", name);
}

int log_parse_format(const char *name, int *format, struct err *e)
{
	if (name && strcasecmp(name, "text") == 0) {
		*format = LOG_FORMAT_TEXT;
		return ERR_OK;
	}
	if (name && (strcasecmp(name, "json") == 0 || strcasecmp(name, "jsonl") == 0)) {
		*format = LOG_FORMAT_JSON;
		return ERR_OK;
	}
	return err_set(e, ERR_INVALID,
		       "unknown log format '%s'; use text (one readable line per entry) or json "
		       "(one JSON object per line)",
		       name ? name : "");
}

void log_set_format(int format)
{
	pthread_mutex_lock(&log_lock);
	log_format = format == LOG_FORMAT_JSON ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT;
	pthread_mutex_unlock(&log_lock);
}

int log_format_current(void)
{
	pthread_mutex_lock(&log_lock);
	int f = log_format;
	pthread_mutex_unlock(&log_lock);
	return f;
}

/* ---- Routing ------------------------------------------------------------ */

/* Whether `file` contains the directory `d` ("src/engine/") as a whole path
 * component sequence. */
static bool in_dir(const char *file, const char *d)
{
	for (const char *p = strstr(file, d); p; p = strstr(p + 1, d))
		if (p == file || p[-1] == '/')
			return true;
	return false;
}

/* Whether `file` is `path` ("src/app/feedback.c") or ends in "/path". */
static bool is_file(const char *file, const char *path)
{
	size_t n = strlen(file), m = strlen(path);
	if (n < m || strcmp(file + n - m, path) != 0)
		return false;
	return n == m || file[n - m - 1] == '/';
}

static int route_of(const char *file, unsigned flags)
{
	if (flags & LOG_DIR_FEEDBACK)
		return ROUTE_FEEDBACK;
	if (!file)
		return ROUTE_MCP;
	if (in_dir(file, "src/engine/") || in_dir(file, "src/store/"))
		return ROUTE_EVENTS;
	if (is_file(file, "src/app/feedback.c") || is_file(file, "src/app/notifier.c") ||
	    is_file(file, "src/cli/cmd_feedback.c"))
		return ROUTE_FEEDBACK;
	return ROUTE_MCP;
}

const char *log_route(const char *file, unsigned flags)
{
	return route_files[route_of(file, flags)];
}

/* The source as shown: the path after the last "src/", else the base name. */
static const char *short_source(const char *file)
{
	if (!file)
		return "?";
	const char *best = NULL;
	for (const char *p = strstr(file, "src/"); p; p = strstr(p + 1, "src/"))
		if (p == file || p[-1] == '/')
			best = p + 4;
	if (best)
		return best;
	const char *slash = strrchr(file, '/');
	return slash ? slash + 1 : file;
}

/* ---- Destinations --------------------------------------------------------- */

static int open_append(const char *path, struct err *e)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		err_set(e, ERR_IO, "cannot open log file %s: %s", path, strerror(errno));
	return fd;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return; /* nowhere to report it */
		p += k;
		n -= (size_t)k;
	}
}

/* Close every destination (caller holds the lock). */
static void close_all_locked(void)
{
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	for (int i = 0; i < ROUTE__COUNT; i++) {
		if (dir.fds[i] >= 0)
			close(dir.fds[i]);
		dir.fds[i] = -1;
		dir.failed[i] = false;
	}
	free(dir.path);
	dir.path = NULL;
	dir.flags = 0;
}

static void set_tag_locked(const char *tag)
{
	if (tag)
		snprintf(log_tag, sizeof log_tag, "%s", tag);
}

int log_open(const char *path, const char *tag, struct err *e)
{
	int fd = -1;

	if (path && *path) {
		fd = open_append(path, e);
		if (fd < 0)
			return ERR_IO;
	}
	pthread_mutex_lock(&log_lock);
	close_all_locked();
	log_fd = fd;
	set_tag_locked(tag);
	pthread_mutex_unlock(&log_lock);
	return ERR_OK;
}

int log_open_dir(const char *path, const char *tag, unsigned flags, struct err *e)
{
	struct stat st;

	if (!path || !*path)
		return err_set(e, ERR_INVALID, "the log directory is empty; name a directory");
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return err_set(e, ERR_IO, "cannot create log directory %s: %s", path,
			       strerror(errno));
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return err_set(e, ERR_IO, "log directory %s is not a directory", path);
	int fallback = route_of(NULL, flags);
	char *file = xasprintf("%s/%s", path, route_files[fallback]);
	int fd = open_append(file, e);
	free(file);
	if (fd < 0)
		return ERR_IO;
	pthread_mutex_lock(&log_lock);
	close_all_locked();
	dir.path = xstrdup(path);
	dir.flags = flags;
	dir.fds[fallback] = fd;
	set_tag_locked(tag);
	pthread_mutex_unlock(&log_lock);
	return ERR_OK;
}

void log_close(void)
{
	pthread_mutex_lock(&log_lock);
	close_all_locked();
	pthread_mutex_unlock(&log_lock);
}

/* Where a line from `file` goes now (caller holds the lock). */
static int destination_locked(const char *file)
{
	if (!dir.path)
		return log_fd >= 0 ? log_fd : STDERR_FILENO;
	int r = route_of(file, dir.flags), fallback = route_of(NULL, dir.flags);
	int fb = dir.fds[fallback] >= 0 ? dir.fds[fallback] : STDERR_FILENO;
	if (dir.fds[r] < 0 && !dir.failed[r]) {
		char *path = xasprintf("%s/%s", dir.path, route_files[r]);
		struct err e = {0};
		dir.fds[r] = open_append(path, &e);
		free(path);
		if (dir.fds[r] < 0) {
			dir.failed[r] = true;
			char note[sizeof e.msg + 64];
			int n = snprintf(note, sizeof note, "%s; its lines go here instead\n",
					 err_msg(&e));
			write_all(fb, note, n < (int)sizeof note ? (size_t)n : sizeof note - 1);
		}
	}
	return dir.fds[r] >= 0 ? dir.fds[r] : fb;
}

/* ---- Formatting -------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (at most `left` bytes), 0 if none. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
	unsigned c = p[0];
	size_t n;
	uint32_t cp, min;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2, cp = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Append s escaped for a JSON string (json) or for one text line. */
static void put_escaped(struct buf *b, const char *s, bool json)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s);

	while (left > 0) {
		/* A run that needs no escaping goes in one append. */
		size_t run = 0;
		while (run < left && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '"' &&
		       p[run] != '\\')
			run++;
		if (!json) /* text keeps quotes, backslashes and UTF-8 as they are */
			while (run < left && (p[run] >= 0x20 || p[run] == '\t') && p[run] != 0x7f)
				run++;
		buf_append(b, p, run);
		p += run;
		left -= run;
		if (left == 0)
			break;
		unsigned c = *p;
		char esc[8];
		size_t n = 1;
		if (c == '\n') {
			buf_puts(b, "\\n");
		} else if (c == '\r') {
			buf_puts(b, "\\r");
		} else if (!json) {
			snprintf(esc, sizeof esc, "\\x%02x", c);
			buf_puts(b, esc);
		} else if (c == '"' || c == '\\') {
			esc[0] = '\\', esc[1] = (char)c;
			buf_append(b, esc, 2);
		} else if (c == '\t') {
			buf_puts(b, "\\t");
		} else if (c == 0x7f) {
			buf_append(b, p, 1);
		} else if (c < 0x20) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			buf_puts(b, esc);
		} else if ((n = utf8_seq(p, left)) > 0) {
			buf_append(b, p, n);
		} else {
			buf_puts(b, "\\ufffd");
			n = 1;
		}
		p += n;
		left -= n;
	}
}

void log_write(int level, const char *file, int line, const char *fmt, ...)
{
	char ts[CLOCK_ISO_MAX], small[1024];
	char *msg = small, *big = NULL;
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof small) {
		size_t size = n < MSG_MAX ? (size_t)n + 1 : MSG_MAX;
		big = xmalloc(size);
		va_start(ap, fmt);
		vsnprintf(big, size, fmt, ap);
		va_end(ap);
		msg = big;
	} else if (n < 0) {
		snprintf(small, sizeof small, "(unformattable log message: %s)", fmt);
	}
	clock_format_utc(clock_wall_us(clock_system()), ts);
	const char *src = short_source(file);

	struct buf b;
	buf_init(&b, LINE_MAX_BYTES);
	pthread_mutex_lock(&log_lock);
	if (log_format == LOG_FORMAT_JSON) {
		buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"process\":\"", ts,
			   log_level_name(level));
		put_escaped(&b, log_tag, true);
		buf_printf(&b, "\",\"pid\":%d,\"msg\":\"", (int)getpid());
		put_escaped(&b, msg, true);
		if (n >= MSG_MAX)
			buf_puts(&b, " (truncated)");
		buf_puts(&b, "\",\"source\":\"");
		put_escaped(&b, src, true);
		buf_printf(&b, ":%d\"}\n", line);
	} else {
		buf_printf(&b, "%s ", ts);
		put_escaped(&b, log_tag, false);
		buf_printf(&b, "[%d] %-5s ", (int)getpid(), log_level_name(level));
		put_escaped(&b, msg, false);
		if (n >= MSG_MAX)
			buf_puts(&b, " (truncated)");
		if (level >= LOG_LEVEL_DEBUG) {
			buf_puts(&b, " (");
			put_escaped(&b, src, false);
			buf_printf(&b, ":%d)", line);
		}
		buf_puts(&b, "\n");
	}
	write_all(destination_locked(file), buf_str(&b), b.len);
	pthread_mutex_unlock(&log_lock);
	buf_cleanup(&b);
	free(big);
}
