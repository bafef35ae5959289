/*
 * cmd_demo.c - `ambient demo`: the whole system on this machine, in one command.
 *
 * In a fresh data directory it starts, in this process, a local news site
 * (demo_site.h) and a stand-in for Twilio's SMS API (demo_sinks.h); then
 * `ambient feedback` and `ambient serve` as child processes of this binary;
 * creates the seed's example tasks (seed_tasks.h) through MCP with the
 * library's client, as an agent would; and then plays a short script:
 *
 *   1. the first checks run at once and find nothing to report (a baseline);
 *   2. "overnight" the site publishes an AI story and bitcoin climbs past
 *      $50,000, and the demo clock jumps to 07:59:50 the next morning: the
 *      web monitor and the bitcoin watch catch up and fire, and at 08:00 the
 *      daily digest runs;
 *   3. the site publishes a machine-learning story and the clock jumps to
 *      08:59:50: the web monitor fires again and at 09:00 the reminder runs.
 *
 * Meanwhile it prints, as they happen, what the task store records (events,
 * deliveries), what the feedback server decides and notifies (its own
 * store), and the SMS texts that reached the Twilio stand-in.  It stops on
 * Ctrl-C or after --duration, stops the children (SIGTERM, then wait) and
 * prints a summary.
 *
 * Time: the children and this process share a demo clock (common/clock.h,
 * CLOCK_DEMO_ENV): real time plus an offset that only this command moves,
 * forward, in jumps.  The tasks keep the seed's schedules (08:00, 09:00,
 * every 30 and 15 minutes); only the clock is moved, and the output says so.
 *
 * Children are started with fork+exec (their own process group, so Ctrl-C
 * reaches only the demo, which then stops them in order; PR_SET_PDEATHSIG,
 * so they do not outlive a killed demo).  Their stdout goes to
 * DIR/<name>.out (the "listening URL" line), their logs to DIR/<name>.log.
 */
#define _GNU_SOURCE
/* <openssl/types.h> declares a type ERR_STATE, which is also one of our
 * error codes (common/err.h): OpenSSL comes first, under another name. */
#define ERR_STATE OPENSSL_ERR_STATE
#include <openssl/evp.h>
#undef ERR_STATE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app/tasks.h"
#include "cli.h"
#include "cli/demo_sinks.h"
#include "cli/demo_site.h"
#include "cli/seed_tasks.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/uuid.h"
#include "common/xalloc.h"
#include "domain/event_types.h"
#include "mcp/client.h"
#include "store/store.h"
#include "transport/http_client.h"

extern char **environ;

const struct config_option cli_demo_options[] = {
	{"dir", CONFIG_STRING, NULL, NULL, "DIR",
	 "data directory of the demo (created when missing, kept afterwards; it must not hold "
	 "an earlier demo); default: a new temporary directory, removed at the end"},
	{"duration", CONFIG_INT, NULL, "0", "SECONDS",
	 "stop after this many seconds (0: run until Ctrl-C)", 0, 86400},
	{"live", CONFIG_BOOL, NULL, NULL, NULL,
	 "read the seed's real sites (techcrunch.com, news.ycombinator.com, CoinGecko) instead "
	 "of the local news site; needs internet access"},
	{"keep", CONFIG_BOOL, NULL, NULL, NULL, "keep the temporary data directory"},
	{"phone", CONFIG_STRING, NULL, SEED_PHONE_DEFAULT, "E164",
	 "the number the tasks' SMS are addressed to (they reach only the local Twilio stand-in)"},
	{NULL},
};

#define LISTEN_WAIT_US (30 * 1000000LL) /* for a child's "listening" line */
#define STOP_WAIT_US (10 * 1000000LL)   /* for a child to exit after SIGTERM */
#define POLL_US 100000
#define READ_BATCH 256
#define TEXT_SHOWN 110 /* characters of a headline or message shown */

enum stop_reason { RUNNING, STOP_SIGNAL, STOP_DURATION, STOP_CHILD };

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

struct child {
	const char *name; /* "feedback", "serve" */
	pid_t pid;        /* 0 when not running */
	char *out_path, *log_path;
	char *url; /* from its "listening URL" line */
};

struct demo {
	bool live, tty, keep;
	char *dir;
	bool made_dir; /* a temporary directory of ours */
	char *exe;
	int64_t t0;  /* monotonic start */
	int64_t end; /* monotonic end (--duration), or 0 */
	enum stop_reason stop;
	struct demo_site *site;
	struct demo_sinks *sinks;
	char sid[40], token[40], secret[80];
	struct child feedback, serve;
	struct mcp_client *mcp;
	struct seed_task tasks[SEED_TASK_COUNT];
	char task_ids[SEED_TASK_COUNT][UUID_STR_LEN + 1];
	int fired[SEED_TASK_COUNT];
	struct store *task_store, *fb_store;
	int64_t task_pos, fb_pos;
	json_t *pending;  /* event_id -> type of events not delivered yet */
	json_t *received; /* feedback seq (text) -> event_type */
	long events, delivered, delivery_failed, checks_failed;
	long fb_received, decided, to_notify, outcomes, sent, not_sent;
	size_t sms_seen;
	FILE *sms_log;
};

/* ---- output ----------------------------------------------------------------------------- */

static int64_t mono_now(void)
{
	return clock_mono_us(clock_system());
}

static const char *bold(const struct demo *d)
{
	return d->tty ? "\033[1m" : "";
}

static const char *plain(const struct demo *d)
{
	return d->tty ? "\033[0m" : "";
}

/* "[ +12.3s 08:00:01] WHAT      text": real seconds since the start and the
 * (demo) clock's local time. */
static void say(struct demo *d, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(struct demo *d, const char *what, const char *fmt, ...)
{
	time_t t = (time_t)(clock_wall_us(NULL) / 1000000);
	struct tm tm;
	char hms[16];
	localtime_r(&t, &tm);
	strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	printf("[%+6.1fs %s] %s%-9s%s ", (double)(mono_now() - d->t0) / 1e6, hms, bold(d), what,
	       plain(d));
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* A continuation line under the last one. */
static void detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void detail(const char *fmt, ...)
{
	printf("%27s", "");
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void step(struct demo *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void step(struct demo *d, const char *fmt, ...)
{
	printf("\n%s== ", bold(d));
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("%s\n", plain(d));
}

/* s on one line, at most TEXT_SHOWN characters (UTF-8 kept whole), into out. */
static const char *oneline(const char *s, char out[TEXT_SHOWN * 4 + 8])
{
	size_t n = 0, chars = 0;
	for (; s && *s && chars < TEXT_SHOWN; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c & 0xC0) != 0x80)
			chars++;
		out[n++] = c == '\n' || c == '\r' || c == '\t' ? ' ' : (char)c;
	}
	while (s && *s && ((unsigned char)*s & 0xC0) == 0x80)
		out[n++] = *s++; /* finish the last character */
	if (s && *s)
		n += (size_t)snprintf(out + n, 8, "...");
	out[n] = 0;
	return out;
}

/* "$51,340.50" into out[32]. */
static const char *money(double v, char out[32])
{
	char digits[32];
	snprintf(digits, sizeof(digits), "%.2f", v < 0 ? -v : v);
	size_t intlen = strcspn(digits, "."), o = 0;
	out[o++] = '$';
	for (size_t i = 0; i < intlen; i++) {
		if (i && (intlen - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	snprintf(out + o, 32 - o, "%s", digits + intlen);
	return out;
}

static void local_time(int64_t us, const char *fmt, char *out, size_t n)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(out, n, fmt, &tm);
}

/* The next local time hh:mm:ss strictly after `after_us`. */
static int64_t next_local(int64_t after_us, int hh, int mm, int ss)
{
	time_t t = (time_t)(after_us / 1000000);
	struct tm base;
	localtime_r(&t, &base);
	for (int day = 0; day < 3; day++) {
		struct tm tm = base;
		tm.tm_mday += day;
		tm.tm_hour = hh;
		tm.tm_min = mm;
		tm.tm_sec = ss;
		tm.tm_isdst = -1;
		time_t c = mktime(&tm);
		if ((int64_t)c * 1000000 > after_us)
			return (int64_t)c * 1000000;
	}
	return after_us; /* not reached */
}

/* ---- the data directory ------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static int make_dir(struct demo *d, const char *given, struct err *e)
{
	if (!given) {
		const char *tmp = getenv("TMPDIR");
		char *templ = xasprintf("%s/ambient-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(templ)) {
			err_set(e, ERR_IO,
				"cannot create a temporary directory %s: %s (set TMPDIR "
				"or give --dir)",
				templ, strerror(errno));
			free(templ);
			return ERR_IO;
		}
		d->dir = templ;
		d->made_dir = true;
		return ERR_OK;
	}
	if (mkdir(given, 0700) != 0 && errno != EEXIST)
		return err_set(e, ERR_IO, "cannot create the demo directory %s: %s", given,
			       strerror(errno));
	static const char *const ours[] = {"ambient.db", "feedback.db"};
	for (size_t i = 0; i < 2; i++) {
		char *p = xasprintf("%s/%s", given, ours[i]);
		bool there = access(p, F_OK) == 0;
		free(p);
		if (there)
			return err_set(e, ERR_STATE,
				       "%s already holds the data of a demo (%s); give an empty or "
				       "new directory",
				       given, ours[i]);
	}
	d->dir = xstrdup(given);
	return ERR_OK;
}

/* ---- children ------------------------------------------------------------------------------ */

static bool env_ours(const char *kv, bool live)
{
	static const char *const prefixes[] = {"AMBIENT_", "TWILIO_", "EVENT_FEEDBACK_URL="};
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(kv, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	/* Offline means no LLM either; --live lets the feedback server use one. */
	return !live && strncmp(kv, "OPENAI_", 7) == 0;
}

/* The environment of the children: ours, without the caller's settings of
 * the same names (a user's AMBIENT_DB or AMBIENT_API_KEYS must not leak
 * into the demo).  NULL-terminated; free each string and the array. */
static char **child_env(struct demo *d)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = xcalloc(n + 16, sizeof(*env));
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!env_ours(environ[i], d->live))
			env[k++] = xstrdup(environ[i]);
	env[k++] = xasprintf("%s=%s/clock", CLOCK_DEMO_ENV, d->dir);
	/* The local site, sink and feedback server are on loopback, which task
	 * URLs may not reach by default. */
	env[k++] = xstrdup("AMBIENT_ALLOW_NET=127.0.0.1");
	env[k++] = xasprintf("AMBIENT_WEBHOOK_SECRET=%s", d->secret);
	env[k++] = xasprintf("TWILIO_ACCOUNT_SID=%s", d->sid);
	env[k++] = xasprintf("TWILIO_AUTH_TOKEN=%s", d->token);
	env[k++] = xstrdup("TWILIO_PHONE_NUMBER=+15005550006");
	env[k++] = xasprintf("TWILIO_API_BASE=%s", demo_sinks_url(d->sinks));
	if (d->feedback.url)
		env[k++] = xasprintf("EVENT_FEEDBACK_URL=%s/process_background_feedback",
				     d->feedback.url);
	env[k] = NULL;
	return env;
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* The last lines of a child's log, to say why it failed. */
static void show_tail(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char *lines[8] = {0}, buf[512];
	size_t n = 0;
	while (fgets(buf, sizeof(buf), f)) {
		free(lines[n % 8]);
		lines[n % 8] = xstrdup(buf);
		n++;
	}
	fclose(f);
	size_t first = n > 8 ? n - 8 : 0;
	if (n)
		fprintf(stderr, "  last lines of %s:\n", path);
	for (size_t i = first; i < n; i++)
		fprintf(stderr, "    %s", lines[i % 8]);
	for (size_t i = 0; i < 8; i++)
		free(lines[i]);
}

/* Start `ambient <args...>` with global options for the demo directory. */
static int spawn(struct demo *d, struct child *c, const char *const *args, struct err *e)
{
	c->out_path = xasprintf("%s/%s.out", d->dir, c->name);
	c->log_path = xasprintf("%s/%s.log", d->dir, c->name);
	char *err_path = xasprintf("%s/%s.err", d->dir, c->name);
	size_t na = 0;
	while (args[na])
		na++;
	char **argv = xcalloc(na + 8, sizeof(*argv));
	size_t k = 0;
	argv[k++] = xstrdup("ambient");
	argv[k++] = xasprintf("--data-dir=%s", d->dir);
	argv[k++] = xasprintf("--log-file=%s", c->log_path);
	argv[k++] = xstrdup("--log-level=info");
	for (size_t i = 0; i < na; i++)
		argv[k++] = xstrdup(args[i]);
	char **env = child_env(d);
	int out = open(c->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int errfd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int rc = ERR_OK;
	pid_t parent = getpid();
	pid_t pid = out < 0 || errfd < 0 || in < 0 ? -1 : fork();
	if (pid == 0) {
		/* Only async-signal-safe calls from here to exec. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		sigaction(SIGPIPE, &dfl, NULL);
		sigaction(SIGINT, &dfl, NULL);
		sigaction(SIGTERM, &dfl, NULL);
		dup2(in, 0);
		dup2(out, 1);
		dup2(errfd, 2);
		execve(d->exe, argv, env);
		_exit(127);
	}
	if (pid < 0)
		rc = err_set(e, ERR_IO, "cannot start `ambient %s` (%s): %s", c->name, d->exe,
			     strerror(errno));
	else
		c->pid = pid;
	if (out >= 0)
		close(out);
	if (errfd >= 0)
		close(errfd);
	if (in >= 0)
		close(in);
	free_strv(argv);
	free_strv(env);
	free(err_path);
	return rc;
}

/* Whether c is still running; reaps it and says so when not. */
static bool child_alive(struct demo *d, struct child *c)
{
	if (!c->pid)
		return false;
	int st = 0;
	pid_t r = waitpid(c->pid, &st, WNOHANG);
	if (r == 0)
		return true;
	c->pid = 0;
	if (WIFEXITED(st))
		fprintf(stderr, "ambient demo: `ambient %s` exited with status %d\n", c->name,
			WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		fprintf(stderr, "ambient demo: `ambient %s` was killed by signal %d\n", c->name,
			WTERMSIG(st));
	char *err_path = xasprintf("%s/%s.err", d->dir, c->name);
	show_tail(err_path);
	show_tail(c->log_path);
	free(err_path);
	return false;
}

/* Wait for the child's first stdout line, "listening URL"; c->url gets the
 * URL without a trailing "/mcp". */
static int wait_listening(struct demo *d, struct child *c, struct err *e)
{
	int64_t until = mono_now() + LISTEN_WAIT_US;
	while (mono_now() < until && !got_signal) {
		char line[512] = "";
		FILE *f = fopen(c->out_path, "r");
		bool whole = f && fgets(line, sizeof(line), f) && strchr(line, '\n');
		if (f)
			fclose(f);
		if (whole && strncmp(line, "listening ", 10) == 0) {
			line[strcspn(line, "\n")] = 0;
			char *url = line + 10;
			size_t n = strlen(url);
			if (n > 4 && strcmp(url + n - 4, "/mcp") == 0)
				url[n - 4] = 0;
			c->url = xstrdup(url);
			return ERR_OK;
		}
		if (!child_alive(d, c))
			return err_set(e, ERR_IO, "`ambient %s` stopped before it was listening",
				       c->name);
		usleep(20000);
	}
	return err_set(e, got_signal ? ERR_STATE : ERR_TIMEOUT,
		       "`ambient %s` did not say it was listening (see %s)", c->name, c->log_path);
}

/* SIGTERM, then wait (SIGKILL after STOP_WAIT_US).  True when it exited 0. */
static bool stop_child(struct child *c)
{
	if (!c->pid)
		return false;
	kill(c->pid, SIGTERM);
	int64_t until = mono_now() + STOP_WAIT_US;
	int st = 0;
	pid_t r;
	while ((r = waitpid(c->pid, &st, WNOHANG)) == 0 && mono_now() < until)
		usleep(20000);
	if (r == 0) {
		fprintf(stderr, "ambient demo: `ambient %s` did not stop in time; killing it\n",
			c->name);
		kill(c->pid, SIGKILL);
		waitpid(c->pid, &st, 0);
	}
	c->pid = 0;
	return r > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* ---- following the stores and the sink ---------------------------------------------------- */

static int task_index(struct demo *d, const char *stream)
{
	if (!stream || strncmp(stream, "task-", 5) != 0)
		return -1;
	for (int i = 0; i < SEED_TASK_COUNT; i++)
		if (strcmp(stream + 5, d->task_ids[i]) == 0)
			return i;
	return -1;
}

static const char *task_name(struct demo *d, int i)
{
	return i >= 0 ? d->tasks[i].name : "another task";
}

/* The first added line that holds a keyword found, else the first one. */
static const char *telling_line(const json_t *data)
{
	const json_t *lines = json_object_get(data, "added_lines");
	const json_t *found = json_object_get(data, "keywords_found");
	size_t i, k;
	json_t *l, *kw;
	json_array_foreach(lines, i, l) {
		json_array_foreach(found, k, kw) {
			if (json_is_string(l) && json_is_string(kw) &&
			    strcasestr(json_string_value(l), json_string_value(kw)))
				return json_string_value(l);
		}
	}
	return json_string_value(json_array_get(lines, 0));
}

static char *joined(const json_t *arr, const char *sep)
{
	struct buf b;
	buf_init(&b, 4096);
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		if (json_is_string(v))
			buf_printf(&b, "%s%s", b.len ? sep : "", json_string_value(v));
	}
	char *s = xstrdup(buf_str(&b));
	buf_cleanup(&b);
	return s;
}

static void show_monitor_event(struct demo *d, int i, const struct store_event *ev)
{
	const json_t *data = ev->data;
	char line[TEXT_SHOWN * 4 + 8];
	say(d, "EVENT", "%s from %s (priority %d)", ev->type, task_name(d, i),
	    event_type_priority(ev->type));
	if (strcmp(ev->type, "web_content_change") == 0) {
		char *kw = joined(json_object_get(data, "keywords_found"), ", ");
		detail("keywords %s in a new line of %s:", kw, json_get_str(data, "url"));
		detail("+ %s", oneline(telling_line(data), line));
		free(kw);
	} else if (strcmp(ev->type, "threshold_breach") == 0) {
		const json_t *prev = json_object_get(data, "previous_value");
		char p[64] = "none";
		if (json_is_number(prev))
			snprintf(p, sizeof(p), "%.2f", json_number_value(prev));
		detail("%s = %.2f, %s %.0f (previous reading %s)", json_get_str(data, "metric"),
		       json_number_value(json_object_get(data, "current_value")),
		       json_get_str(data, "comparison"),
		       json_number_value(json_object_get(data, "threshold")), p);
	} else if (strcmp(ev->type, "daily_news_digest") == 0) {
		const json_t *sums = json_object_get(data, "news_summaries");
		detail("digest of %s: %lld new headlines from %zu sources",
		       json_get_str(data, "digest_date"),
		       (long long)json_get_int(data, "total_items", 0), json_array_size(sums));
		size_t k, shown = 0;
		json_t *src;
		json_array_foreach(sums, k, src) {
			const json_t *h = json_object_get(src, "headlines");
			for (size_t j = 0; j < json_array_size(h) && j < 2; j++, shown++)
				detail("- %s",
				       oneline(json_string_value(json_array_get(h, j)), line));
		}
	} else if (strcmp(ev->type, "scheduled_trigger") == 0) {
		detail("%s: %s (due %s)", json_get_str(data, "action") ?: "reminder",
		       json_get_str(data, "message") ?: "", json_get_str(data, "trigger_time"));
	}
}

static void on_task_event(struct demo *d, const struct store_event *ev)
{
	int i = task_index(d, ev->stream);
	const char *type = ev->type;
	const json_t *data = ev->data;
	char line[TEXT_SHOWN * 4 + 8];
	if (strcmp(type, "web_content_change") == 0 || strcmp(type, "threshold_breach") == 0 ||
	    strcmp(type, "daily_news_digest") == 0 || strcmp(type, "scheduled_trigger") == 0) {
		d->events++;
		if (i >= 0)
			d->fired[i]++;
		json_object_set_new(d->pending, ev->event_id, json_string(type));
		show_monitor_event(d, i, ev);
	} else if (strcmp(type, "task_check_failed") == 0) {
		d->checks_failed++;
		json_object_set_new(d->pending, ev->event_id, json_string(type));
		say(d, "FAILED", "a check of %s: %s", task_name(d, i),
		    oneline(json_get_str(data, "error"), line));
	} else if (strcmp(type, "task_paused") == 0) {
		if (json_is_true(json_object_get(data, "automatic")))
			json_object_set_new(d->pending, ev->event_id, json_string(type));
		say(d, "PAUSED", "%s: %s", task_name(d, i), json_get_str(data, "reason") ?: "");
	} else if (strcmp(type, "feedback_delivered") == 0 ||
		   strcmp(type, "feedback_failed") == 0) {
		const char *id = json_get_str(data, "event_id");
		const char *what = json_string_value(json_object_get(d->pending, id ? id : ""));
		bool ok = type[9] == 'd';
		if (ok) {
			d->delivered++;
			say(d, "DELIVERED", "%s to the feedback server (HTTP %lld, attempt %lld)",
			    what ? what : "an event",
			    (long long)json_get_int(data, "status_code", 0),
			    (long long)json_get_int(data, "attempts", 1));
		} else {
			d->delivery_failed++;
			say(d, "UNDELIVERED", "%s: %s", what ? what : "an event",
			    oneline(json_get_str(data, "error"), line));
		}
		if (id)
			json_object_del(d->pending, id);
	}
}

static void on_feedback_event(struct demo *d, const struct store_event *ev)
{
	const json_t *data = ev->data;
	char line[TEXT_SHOWN * 4 + 8], seq[32];
	if (strcmp(ev->type, "feedback_received") == 0) {
		d->fb_received++;
		snprintf(seq, sizeof(seq), "%lld", (long long)ev->position);
		json_object_set_new(d->received, seq,
				    json_string(json_get_str(data, "event_type") ?: "?"));
		return;
	}
	if (strcmp(ev->type, "feedback_decided") == 0) {
		d->decided++;
		snprintf(seq, sizeof(seq), "%lld", (long long)json_get_int(data, "event", 0));
		const char *type = json_string_value(json_object_get(d->received, seq));
		const json_t *dec = json_object_get(data, "decision");
		say(d, "DECIDED", "%s: %s (by %s: %s)", type ? type : "an event",
		    json_get_str(dec, "action"), json_get_str(dec, "decided_by"),
		    json_get_str(dec, "reason"));
		size_t k;
		json_t *t;
		json_array_foreach(json_object_get(dec, "targets"), k, t) {
			const char *act = json_get_str(t, "action");
			if (act && (strcmp(act, "notify") == 0 || strcmp(act, "suppress") == 0))
				d->to_notify++;
			const char *why = json_get_str(t, "reason");
			detail("%s %s%s%s", act, json_get_str(t, "to"), why && *why ? ": " : "",
			       why ? why : "");
		}
		return;
	}
	if (strncmp(ev->type, "notification_", 13) != 0)
		return;
	d->outcomes++;
	const char *outcome = ev->type + 13;
	const char *channel = json_get_str(data, "channel");
	bool sms_sent = strcmp(outcome, "sent") == 0 && channel && strcmp(channel, "sms") == 0;
	if (strcmp(outcome, "sent") == 0)
		d->sent++;
	else
		d->not_sent++;
	if (sms_sent)
		return; /* the SMS itself is shown from the sink */
	const char *why = json_get_str(data, "reason");
	if (!why)
		why = json_get_str(data, "error");
	if (!why)
		why = json_get_str(data, "message");
	say(d, "NOTIFY", "%s: %s to %s: %s", json_get_str(data, "event_type"), outcome,
	    json_get_str(data, "to"), oneline(why ? why : "", line));
}

static void show_sms(struct demo *d)
{
	size_t total = 0;
	json_t *list = demo_sinks_sms(d->sinks, d->sms_seen, &total);
	size_t i;
	json_t *m;
	char line[TEXT_SHOWN * 4 + 8];
	json_array_foreach(list, i, m) {
		say(d, "SMS", "to %s from %s (%s):", json_get_str(m, "to"), json_get_str(m, "from"),
		    json_get_str(m, "sid"));
		detail("\"%s\"", oneline(json_get_str(m, "body"), line));
		if (d->sms_log) {
			char *text = json_to_text(m);
			fprintf(d->sms_log, "%s\n", text);
			fflush(d->sms_log);
			free(text);
		}
	}
	d->sms_seen = total;
	json_decref(list);
}

static void follow(struct demo *d, struct store *s, int64_t *pos,
		   void (*fn)(struct demo *, const struct store_event *))
{
	if (!s)
		return;
	struct store_event_list l = {0};
	struct err e = {0};
	if (store_read_all(s, *pos, false, READ_BATCH, NULL, &l, &e) == ERR_OK) {
		for (size_t i = 0; i < l.count; i++) {
			*pos = l.items[i].position;
			fn(d, &l.items[i]);
		}
	}
	store_event_list_cleanup(&l);
	free(l.items);
}

/* One round: print what happened, notice stops.  False once stopping. */
static bool tick(struct demo *d)
{
	follow(d, d->task_store, &d->task_pos, on_task_event);
	follow(d, d->fb_store, &d->fb_pos, on_feedback_event);
	show_sms(d);
	fflush(stdout);
	if (d->stop)
		return false;
	if (got_signal)
		d->stop = STOP_SIGNAL;
	else if (d->end && mono_now() >= d->end)
		d->stop = STOP_DURATION;
	else if (!child_alive(d, &d->feedback) || !child_alive(d, &d->serve))
		d->stop = STOP_CHILD;
	return !d->stop;
}

/* Follow until done(d, arg) holds (true), timeout_us passes or the demo
 * stops (false).  done NULL: only the timeout or a stop ends it. */
static bool pump(struct demo *d, bool (*done)(struct demo *, int), int arg, int64_t timeout_us)
{
	int64_t until = mono_now() + timeout_us;
	while (tick(d)) {
		if (done && done(d, arg))
			return true;
		if (mono_now() >= until)
			return false;
		usleep(POLL_US);
	}
	return false;
}

static bool has_fired(struct demo *d, int i)
{
	return d->fired[i] > 0;
}

static bool both_fired(struct demo *d, int unused)
{
	(void)unused;
	return d->fired[0] > 0 && d->fired[3] > 0;
}

/* Everything recorded so far was delivered, decided and notified. */
static bool settled(struct demo *d, int unused)
{
	(void)unused;
	return json_object_size(d->pending) == 0 && d->fb_received <= d->decided &&
	       d->outcomes >= d->to_notify;
}

static bool site_read(struct demo *d, int unused)
{
	(void)unused;
	return demo_site_hits(d->site, SEED_SITE_NEWS_PATH) > 0 &&
	       demo_site_hits(d->site, "/api/v3/simple/price") > 0;
}

/* ---- the script ------------------------------------------------------------------------------ */

static int start_servers(struct demo *d, struct err *e)
{
	int rc;
	unsigned char rnd[32];
	random_bytes(rnd, 16);
	snprintf(d->sid, sizeof(d->sid), "AC");
	for (int i = 0; i < 16; i++)
		snprintf(d->sid + 2 + 2 * i, 3, "%02x", rnd[i]);
	random_bytes(rnd, 16);
	for (int i = 0; i < 16; i++)
		snprintf(d->token + 2 * i, 3, "%02x", rnd[i]);
	/* Standard Webhooks: whsec_ + base64 of 32 random bytes. */
	unsigned char b64[48];
	random_bytes(rnd, 32);
	EVP_EncodeBlock(b64, rnd, 32);
	snprintf(d->secret, sizeof(d->secret), "whsec_%s", (const char *)b64);

	if (!d->live) {
		if ((rc = demo_site_start(0, &d->site, e)) != ERR_OK)
			return rc;
	}
	if ((rc = demo_sinks_start(d->sid, d->token, 0, &d->sinks, e)) != ERR_OK)
		return rc;

	const char *fb_args[] = {"feedback", "--listen", "127.0.0.1:0", d->live ? NULL : "--no-llm",
				 NULL};
	if ((rc = spawn(d, &d->feedback, fb_args, e)) != ERR_OK ||
	    (rc = wait_listening(d, &d->feedback, e)) != ERR_OK)
		return rc;

	const char *serve_args[8] = {"serve", "--listen", "127.0.0.1:0",
				     /* renewed every 1.7 s: a clock jump leaves the
				      * lease looking expired only that long */
				     "--lease-ttl", "5000"};
	size_t k = 5;
	char *price = NULL;
	if (!d->live) {
		price = xasprintf("--price-api-url=%s", demo_site_url(d->site));
		serve_args[k++] = price;
	}
	serve_args[k] = NULL;
	rc = spawn(d, &d->serve, serve_args, e);
	free(price);
	if (rc == ERR_OK)
		rc = wait_listening(d, &d->serve, e);
	return rc;
}

static void print_setup(struct demo *d)
{
	printf("%sambient demo%s: the whole system on this machine, %s.\n", bold(d), plain(d),
	       d->live ? "reading the real sites of the seed" : "offline");
	printf("  data directory   %s%s\n", d->dir,
	       d->made_dir && !d->keep ? " (removed at the end; --keep keeps it)" : "");
	if (d->site)
		printf("  news site        %s  (TechCrunch, its RSS feed, Hacker News, a "
		       "CoinGecko-style price API)\n",
		       demo_site_url(d->site));
	printf("  Twilio stand-in  %s  (SMS end here: nothing leaves this machine)\n",
	       demo_sinks_url(d->sinks));
	printf("  feedback server  %s  (`ambient feedback`: receives, decides, notifies)\n",
	       d->feedback.url);
	printf("  MCP server       %s/mcp  (`ambient serve`: task engine and delivery)\n",
	       d->serve.url);
	printf("\n%sDashboards%s: tasks %s/   feedback %s/\n", bold(d), plain(d), d->serve.url,
	       d->feedback.url);
}

static int create_tasks(struct demo *d, const char *phone, struct err *e)
{
	char *mcp_url = xasprintf("%s/mcp", d->serve.url);
	struct http_client_options ho = {.url = mcp_url, .no_get_stream = true};
	struct mcp_client_transport *t = NULL;
	int rc = http_client_new(&ho, &t, e);
	free(mcp_url);
	if (rc != ERR_OK)
		return rc;
	struct mcp_client_options co = {.name = "ambient-demo", .title = "ambient demo"};
	d->mcp = mcp_client_new(t, &co);
	if ((rc = mcp_client_connect(d->mcp, e)) != ERR_OK)
		return rc;
	const json_t *info = mcp_client_server_info(d->mcp);
	say(d, "MCP", "connected to %s %s (protocol %s); calling create_background_task",
	    json_get_str(info, "name"), json_get_str(info, "version"),
	    mcp_client_protocol_version(d->mcp));
	seed_tasks_init(d->tasks, d->site ? demo_site_url(d->site) : NULL, phone);
	for (int i = 0; i < SEED_TASK_COUNT; i++) {
		struct seed_task *st = &d->tasks[i];
		json_t *args = json_pack("{s:s,s:s,s:O}", "task_type", st->task_type, "description",
					 st->description, "config", st->config);
		json_t *res = NULL;
		rc = mcp_client_call_tool(d->mcp, "create_background_task", args, 0, &res, e);
		json_decref(args);
		if (rc != ERR_OK)
			return rc;
		const json_t *sc = json_object_get(res, "structuredContent");
		const char *id = json_get_str(json_object_get(sc, "data"), "task_id");
		if (json_is_true(json_object_get(res, "isError")) || !id) {
			const char *text = json_get_str(
				json_array_get(json_object_get(res, "content"), 0), "text");
			err_set(e, ERR_INVALID, "create_background_task refused the %s task: %s",
				st->name, text ? text : "no reason given");
			json_decref(res);
			return ERR_INVALID;
		}
		snprintf(d->task_ids[i], sizeof(d->task_ids[i]), "%s", id);
		char *cfg = json_to_text(st->config);
		char line[TEXT_SHOWN * 4 + 8];
		say(d, "CREATED", "%-15s %-15s task %.8s: %s", st->name, st->task_type, id,
		    st->description);
		detail("config %s", oneline(cfg, line));
		free(cfg);
		json_decref(res);
	}
	return ERR_OK;
}

static void jump(struct demo *d, int64_t to_us)
{
	char when[64];
	local_time(to_us, "%a %d %b, %H:%M:%S", when, sizeof(when));
	clock_demo_jump_to(to_us);
	say(d, "CLOCK", "the demo clock jumps to %s (the tasks' schedules are unchanged)", when);
}

static void play(struct demo *d)
{
	const struct demo_site_stage *s1 = demo_site_stage(1), *s2 = demo_site_stage(2);

	step(d, "First checks: the web monitor and the bitcoin watch run at once");
	if (d->site) {
		pump(d, site_read, 0, 20 * 1000000LL);
		if (d->stop)
			return;
		say(d, "CHECKED",
		    "TechCrunch read: the page is the monitor's baseline (no event: "
		    "nothing new yet)");
		char m[32];
		say(d, "CHECKED", "bitcoin is %s, below the 50,000 threshold (no event)",
		    money(demo_site_price(d->site), m));
		/* The pages were read at stage 0; let the engine finish those
		 * checks before the clock jump makes the next ones due (a check
		 * still running when its next one is due skips that one). */
		pump(d, NULL, 0, 1000000);
	} else {
		pump(d, NULL, 0, 8 * 1000000LL);
	}
	if (d->stop)
		return;

	int64_t morning = next_local(clock_wall_us(NULL) + 60 * 1000000LL, 7, 59, 50);
	if (d->site) {
		step(d,
		     "Overnight TechCrunch publishes an AI story and bitcoin climbs past $50,000");
		demo_site_advance(d->site, 1, morning - 7 * 60 * 1000000LL);
		say(d, "SITE", "TechCrunch: \"%s\"", s1->news);
		say(d, "SITE", "Hacker News: \"%s\"", s1->hn);
		char m[32];
		say(d, "SITE", "bitcoin: %s", money(s1->price, m));
	} else {
		step(d, "Moving to tomorrow morning");
	}
	jump(d, morning);
	detail("overdue checks catch up now; the 8 AM digest runs in 10 seconds");
	if (d->site)
		pump(d, both_fired, 0, 20 * 1000000LL);
	pump(d, settled, 0, 5 * 1000000LL);
	if (d->stop)
		return;
	step(d, "08:00: the daily digest of TechCrunch and Hacker News");
	pump(d, has_fired, 1, 30 * 1000000LL);
	if (d->stop)
		return;
	pump(d, settled, 0, 10 * 1000000LL);
	if (d->stop)
		return;

	int64_t nine = next_local(clock_wall_us(NULL), 8, 59, 50);
	if (d->site) {
		step(d, "TechCrunch publishes a machine-learning story");
		demo_site_advance(d->site, 2, nine - 5 * 60 * 1000000LL);
		say(d, "SITE", "TechCrunch: \"%s\"", s2->news);
		char m[32];
		say(d, "SITE", "bitcoin: %s (still above: the watch fires once per excursion)",
		    money(s2->price, m));
	} else {
		step(d, "Moving to 08:59:50");
	}
	jump(d, nine);
	detail("the 9 AM project-status reminder runs in 10 seconds");
	pump(d, has_fired, 2, 30 * 1000000LL);
	if (d->stop)
		return;
	pump(d, settled, 0, 10 * 1000000LL);
	if (d->stop)
		return;

	int missing = 0;
	for (int i = 0; i < SEED_TASK_COUNT; i++)
		missing += d->fired[i] == 0;
	if (missing)
		step(d, "%d of the %d tasks did not fire (yet)", missing, SEED_TASK_COUNT);
	else
		step(d, "Every task type fired, was delivered, decided and notified");
	printf("The system keeps running: open the dashboards (tasks %s/, feedback %s/).\n",
	       d->serve.url, d->feedback.url);
	printf("%s\n", d->end ? "The demo stops when --duration is over (or on Ctrl-C)."
			      : "Press Ctrl-C to stop.");
	fflush(stdout);
	pump(d, NULL, 0, INT64_MAX / 2);
}

static void summary(struct demo *d)
{
	static const char *const why[] = {"", "interrupted", "--duration is over",
					  "a server stopped"};
	step(d, "Summary (%.1f s, %s)", (double)(mono_now() - d->t0) / 1e6, why[d->stop]);
	for (int i = 0; i < SEED_TASK_COUNT; i++)
		printf("  %-16s %-16s %-19s %d\n", d->tasks[i].name, d->tasks[i].task_type,
		       d->tasks[i].event_type, d->fired[i]);
	printf("  task events %ld, failed checks %ld; delivered %ld, undelivered %ld\n", d->events,
	       d->checks_failed, d->delivered, d->delivery_failed);
	printf("  feedback server: received %ld, decided %ld; notifications sent %ld, not sent "
	       "%ld; SMS at the Twilio stand-in %zu\n",
	       d->fb_received, d->decided, d->sent, d->not_sent, d->sms_seen);
	if (d->made_dir && !d->keep) {
		printf("  the data directory is removed (--keep or --dir keep it)\n");
	} else {
		printf("  data kept in %s; for example:\n", d->dir);
		printf("    ambient --data-dir %s events\n", d->dir);
		printf("    ambient events --db sqlite:%s/feedback.db\n", d->dir);
	}
}

int cli_demo_run(struct cli_ctx *ctx)
{
	if (ctx->nargs)
		return cli_usage_error(ctx, "demo takes no arguments");
	struct demo d = {
		.feedback = {.name = "feedback"},
		.serve = {.name = "serve"},
		.live = config_get_bool(&ctx->cfg, "live"),
		.keep = config_get_bool(&ctx->cfg, "keep"),
		.tty = isatty(STDOUT_FILENO),
		.t0 = mono_now(),
	};
	long long duration = config_get_int(&ctx->cfg, "duration");
	if (duration > 0)
		d.end = d.t0 + duration * 1000000LL;
	const char *phone = config_get(&ctx->cfg, "phone");
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.pending = json_object();
	d.received = json_object();

	struct err e = {0};
	int rc = CLI_FAIL;
	d.exe = realpath("/proc/self/exe", NULL);
	if (!d.exe) {
		err_set(&e, ERR_IO, "cannot find this program's path (/proc/self/exe): %s",
			strerror(errno));
		goto fail;
	}
	if (make_dir(&d, config_get(&ctx->cfg, "dir"), &e) != ERR_OK)
		goto fail;
	char *path = xasprintf("%s/clock", d.dir);
	int crc = clock_demo_create(path, &e);
	free(path);
	if (crc != ERR_OK || start_servers(&d, &e) != ERR_OK)
		goto fail;
	path = xasprintf("%s/sms.jsonl", d.dir);
	d.sms_log = fopen(path, "w");
	free(path);
	char *url = xasprintf("sqlite:%s/ambient.db", d.dir);
	char *fb_url = xasprintf("sqlite:%s/feedback.db", d.dir);
	if (app_store_open(url, true, &d.task_store, &e) != ERR_OK ||
	    app_store_open(fb_url, true, &d.fb_store, &e) != ERR_OK) {
		free(url);
		free(fb_url);
		goto fail;
	}
	free(url);
	free(fb_url);
	print_setup(&d);
	step(&d, "The seed's tasks, created through MCP as an agent would");
	if (create_tasks(&d, phone, &e) != ERR_OK)
		goto fail;
	play(&d);
	/* Failure: a server died, or the demo ran its course and nothing happened. */
	rc = d.stop == STOP_CHILD || (d.stop == STOP_DURATION && d.events == 0) ? CLI_FAIL : CLI_OK;
	goto out;
fail:
	if (!got_signal)
		cli_fail(&e);
	rc = got_signal ? CLI_OK : CLI_FAIL;
	if (!d.stop)
		d.stop = got_signal ? STOP_SIGNAL : STOP_CHILD;
out:
	mcp_client_free(d.mcp);
	/* serve first: it stops delivering before the feedback server goes. */
	bool clean = true;
	if (d.serve.pid)
		clean &= stop_child(&d.serve);
	if (d.feedback.pid)
		clean &= stop_child(&d.feedback);
	if (d.task_store || d.fb_store) {
		tick(&d); /* what the servers wrote while stopping */
		summary(&d);
	}
	if (!clean) {
		fprintf(stderr, "ambient demo: a server did not stop cleanly (see %s/*.log)\n",
			d.dir);
		rc = CLI_FAIL;
	}
	if (d.events == 0 && d.task_store && d.stop != STOP_SIGNAL)
		fprintf(stderr, "ambient demo: no task recorded any event\n");
	store_close(d.task_store);
	store_close(d.fb_store);
	if (d.sms_log)
		fclose(d.sms_log);
	demo_sinks_free(d.sinks);
	demo_site_free(d.site);
	seed_tasks_cleanup(d.tasks);
	if (d.dir && d.made_dir && !d.keep)
		nftw(d.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	struct child *kids[] = {&d.feedback, &d.serve};
	for (size_t i = 0; i < 2; i++) {
		free(kids[i]->out_path);
		free(kids[i]->log_path);
		free(kids[i]->url);
	}
	json_decref(d.pending);
	json_decref(d.received);
	free(d.dir);
	free(d.exe);
	return rc;
}
