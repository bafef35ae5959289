/*
 * cmd_mcp.c - `ambient mcp`: MCP over stdio for desktop clients (Claude
 * Desktop, Claude Code, Cursor, ...).  stdout carries only protocol
 * messages; logs go to stderr or --log-file.
 *
 * A stdio server lives and dies with its desktop client, but background
 * tasks must keep running after the client closes.  So, the way tmux starts
 * its server on first use, `ambient mcp` makes sure one task engine runs on
 * its store: when no engine holds a node lease (engine/node/...) it starts
 * `ambient serve --listen 127.0.0.1:0` fully detached (double fork, new
 * session, stdin from /dev/null, stdout and stderr to a log file, every other
 * descriptor closed) with the same --db, --allow-net, --log-level and
 * --config-file, and writes its pid to DATA_DIR/serve.pid.  A short lease
 * ("engine-spawn") makes two `ambient mcp` starting together start one
 * server.  Start-up waits at most ENGINE_WAIT_MS for the engine to take its
 * lease; whatever happens, `ambient mcp` serves on (a failure is a warning,
 * and get_event_sourcing_status says honestly whether an engine runs, since
 * its engine_status callback asks the store, not this process).
 *
 * --no-engine (AMBIENT_NO_ENGINE) never starts one: for tests, and for
 * setups where a supervisor runs `ambient serve`.
 */
#define _GNU_SOURCE /* close_range */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app/mcp_app.h"
#include "channel_options.h"
#include "cli.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "engine/engine.h"
#include "mcp/server.h"
#include "transport/stdio_server.h"

/* How long start-up waits for a started engine to take its lease. */
#define ENGINE_WAIT_MS 2000
#define ENGINE_POLL_MS 50
/* The lease that makes concurrent `ambient mcp` start one server.  It is
 * kept (not released) after a start, so a server slow to take the engine
 * lease is not doubled by the next client within this time. */
#define SPAWN_LEASE_NAME "engine-spawn"
#define SPAWN_LEASE_MS 15000

const char cli_mcp_instructions[] =
	"ambient runs background tasks that keep working after this conversation ends: "
	"web_monitor (watch pages for keywords), schedule (daily/interval/cron reminders), "
	"news_digest (a daily digest of news sites) and threshold_watch (a metric against a "
	"threshold). Create one with create_background_task; read event://config/examples for "
	"a working config of each type. What the tasks find is recorded as events "
	"(get_task_events, get_recent_events) and delivered to the task's callback_url.";

const struct config_option cli_mcp_options[] = {
	{"no-engine", CONFIG_BOOL, "AMBIENT_NO_ENGINE", NULL, NULL,
	 "never start a task engine; by default, when no engine runs on the store, `ambient serve` "
	 "is started detached so tasks keep running after the client exits"},
	{"engine-log", CONFIG_STRING, NULL, NULL, "PATH",
	 "where a started engine's output goes (default: serve.log beside a SQLite database, "
	 "else /dev/null)"},
	{"rate-limits", CONFIG_STRING, "AMBIENT_RATE_LIMITS", NULL, "SPEC",
	 "tool calls per hour: default=100,remember=50,forget=10 (the defaults), or off"},
	CLI_CHANNEL_OPTIONS,
	CLI_NET_TOOL_OPTIONS,
	{NULL},
};

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* ---- the engine, as seen from here --------------------------------------- */

/* app_mcp_options.engine_status: whichever process's engine holds the
 * lease.  Runs on handler threads; the store is thread-safe. */
static void peek_engine_status(void *ud, struct app_mcp_engine_status *st)
{
	struct store *s = ud;
	struct err e = {0};
	json_t *doc = NULL;
	bool running = false;

	if (engine_peek(s, &running, &doc, &e)) {
		log_debug("cannot tell whether a task engine runs: %s", err_msg(&e));
		return;
	}
	st->running = running;
	if (running && doc)
		st->running_monitors = (long)json_get_int(doc, "active", 0);
	json_decref(doc);
}

static bool engine_running(struct store *s, char *holder, size_t n)
{
	struct err e = {0};
	bool running = false;
	json_t *doc = NULL;

	if (engine_peek(s, &running, holder ? &doc : NULL, &e)) {
		log_warn("cannot tell whether a task engine runs: %s", err_msg(&e));
		return false;
	}
	if (running && holder)
		snprintf(holder, n, "%s", json_get_str(doc, "holder") ?: "");
	json_decref(doc);
	return running;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) && errno == EINTR && !stop_requested)
		;
}

/* Poll until an engine holds the lease, the deadline passes, or pid (when
 * > 0) is gone.  True when an engine runs. */
static bool wait_for_engine(struct store *s, pid_t pid, int wait_ms, char *holder, size_t n)
{
	for (int waited = 0;; waited += ENGINE_POLL_MS) {
		if (engine_running(s, holder, n))
			return true;
		if (waited >= wait_ms || stop_requested ||
		    (pid > 0 && kill(pid, 0) && errno == ESRCH))
			return false;
		sleep_ms(ENGINE_POLL_MS);
	}
}

/* ---- starting `ambient serve` detached ------------------------------------- */

struct spawn_plan {
	char *argv[16];
	char *owned[8]; /* strings in argv to free */
	size_t nowned;
	char *log_path; /* for messages */
	char *pid_path; /* NULL: none */
	int log_fd;     /* becomes the server's stdout and stderr */
	int null_fd;    /* becomes its stdin */
	long max_fd;    /* for the fallback close loop */
};

static char *own(struct spawn_plan *p, char *s)
{
	p->owned[p->nowned++] = s;
	return s;
}

static void plan_free(struct spawn_plan *p)
{
	for (size_t i = 0; i < p->nowned; i++)
		free(p->owned[i]);
	free(p->log_path);
	free(p->pid_path);
	if (p->log_fd >= 0)
		close(p->log_fd);
	if (p->null_fd >= 0)
		close(p->null_fd);
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int above_stdio(int fd)
{
	if (fd > 2)
		return fd;
	int hi = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return hi;
}

/* Everything the child needs, prepared before fork (after it only
 * async-signal-safe calls are allowed: other threads may hold locks). */
static int plan_spawn(struct cli_ctx *ctx, struct store *s, struct spawn_plan *p, struct err *e)
{
	const char *url = store_url(s);
	char *db = NULL, *dir = NULL;
	size_t n = 0;

	if (strncmp(url, "sqlite:", 7) == 0) {
		/* Absolute, so the server does not depend on our working directory. */
		char *abs = realpath(url + 7, NULL);
		if (!abs)
			return err_set(e, ERR_IO, "cannot resolve the database path %s: %s",
				       url + 7, strerror(errno));
		db = xasprintf("sqlite:%s", abs);
		char *slash = strrchr(abs, '/');
		dir = slash == abs ? xstrdup("/") : xstrndup(abs, (size_t)(slash - abs));
		free(abs);
	} else {
		db = xstrdup(url);
		dir = cli_data_dir(ctx);
		if (!is_dir(dir)) {
			free(dir);
			dir = NULL;
		}
	}

	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	if (len <= 0) {
		free(db);
		free(dir);
		return err_set(e, ERR_IO, "cannot find our own executable (/proc/self/exe): %s",
			       strerror(errno));
	}
	self[len] = '\0';
	p->argv[n++] = own(p, xstrdup(self));
	p->argv[n++] = "serve";
	p->argv[n++] = "--listen";
	p->argv[n++] = "127.0.0.1:0";
	p->argv[n++] = "--db";
	p->argv[n++] = own(p, db);
	const char *allow = config_get(&ctx->cfg, "allow-net");
	if (allow) {
		p->argv[n++] = "--allow-net";
		p->argv[n++] = (char *)allow;
	}
	const char *level = config_get(&ctx->cfg, "log-level");
	if (level) {
		p->argv[n++] = "--log-level";
		p->argv[n++] = (char *)level;
	}
	const char *conf = config_get(&ctx->cfg, "config-file");
	if (conf) {
		char *abs = realpath(conf, NULL);
		p->argv[n++] = "--config-file";
		p->argv[n++] = own(p, abs ? abs : xstrdup(conf));
	}
	if (dir) {
		p->pid_path = xasprintf("%s/serve.pid", dir);
		p->argv[n++] = "--pid-file";
		p->argv[n++] = p->pid_path;
	}
	p->argv[n] = NULL;

	const char *log = config_get(&ctx->cfg, "engine-log");
	if (log)
		p->log_path = xstrdup(log);
	else if (dir)
		p->log_path = xasprintf("%s/serve.log", dir);
	else
		p->log_path = xstrdup("/dev/null");
	free(dir);
	p->log_fd = open(p->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
	if (p->log_fd < 0) {
		log_warn("cannot open the engine log %s (%s); its output is dropped", p->log_path,
			 strerror(errno));
		free(p->log_path);
		p->log_path = xstrdup("/dev/null");
		p->log_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	}
	p->null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (p->log_fd < 0 || p->null_fd < 0)
		return err_set(e, ERR_IO, "cannot open /dev/null: %s", strerror(errno));
	/* Above 2, so the child's dup2 onto 0, 1 and 2 cannot overwrite one of
	 * them first (a client may have started us with stderr closed). */
	if ((p->log_fd = above_stdio(p->log_fd)) < 0 || (p->null_fd = above_stdio(p->null_fd)) < 0)
		return err_set(e, ERR_IO, "cannot start ambient serve: dup: %s", strerror(errno));
	struct rlimit rl;
	p->max_fd = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
				    rl.rlim_cur < 65536
			    ? (long)rl.rlim_cur
			    : 65536;
	return ERR_OK;
}

/* In the grandchild: become the server.  Async-signal-safe calls only. */
static void exec_server(const struct spawn_plan *p, int report_fd)
{
	if (dup2(p->null_fd, 0) < 0 || dup2(p->log_fd, 1) < 0 || dup2(p->log_fd, 2) < 0)
		goto fail;
	/* Nothing else of ours (the client's pipes, the database) may leak into
	 * a process that outlives us: every other descriptor closes on exec. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
		for (long fd = 3; fd < p->max_fd; fd++)
			if (fd != report_fd)
				fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	/* Start with a clean signal state (we ignore SIGPIPE; exec keeps that). */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	const int sigs[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		signal(sigs[i], SIG_DFL);
	/* By its path, so ps and pgrep see "ambient"; /proc/self/exe when the
	 * binary was replaced or removed since we started. */
	execv(p->argv[0], p->argv);
	execv("/proc/self/exe", p->argv);
fail:;
	int err = errno;
	ssize_t w = write(report_fd, &err, sizeof err);
	(void)w;
	_exit(127);
}

/* Double fork: the intermediate child starts a new session and forks the
 * server, reports its pid and exits, so the server is nobody's child here
 * (no zombie, no controlling terminal, not in the client's process group).
 * A close-on-exec pipe carries the pid, then exec's errno if exec failed. */
static int spawn_server(const struct spawn_plan *p, pid_t *out, struct err *e)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC))
		return err_set(e, ERR_IO, "cannot start ambient serve: pipe: %s", strerror(errno));
	pid_t mid = fork();
	if (mid < 0) {
		int err = errno;
		close(fds[0]);
		close(fds[1]);
		return err_set(e, ERR_IO, "cannot start ambient serve: fork: %s", strerror(err));
	}
	if (mid == 0) {
		close(fds[0]);
		pid_t pid = -1;
		if (setsid() >= 0)
			pid = fork();
		if (pid == 0)
			exec_server(p, fds[1]);
		ssize_t w = write(fds[1], &pid, sizeof pid);
		(void)w;
		_exit(pid > 0 ? 0 : 1);
	}
	close(fds[1]);
	pid_t pid = -1;
	int exec_err = 0;
	ssize_t got;
	while ((got = read(fds[0], &pid, sizeof pid)) < 0 && errno == EINTR)
		;
	if (got == (ssize_t)sizeof pid && pid > 0) {
		/* EOF once the server has exec'd (or an errno when it could not). */
		while ((got = read(fds[0], &exec_err, sizeof exec_err)) < 0 && errno == EINTR)
			;
		if (got != (ssize_t)sizeof exec_err)
			exec_err = 0;
	} else {
		pid = -1;
	}
	close(fds[0]);
	while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
		;
	if (pid <= 0)
		return err_set(e, ERR_IO, "cannot start ambient serve: setsid or fork failed");
	if (exec_err)
		return err_set(e, ERR_IO, "cannot start ambient serve: exec %s: %s", p->argv[0],
			       strerror(exec_err));
	*out = pid;
	return ERR_OK;
}

/* Start an engine unless one runs.  Never fatal: problems are warnings. */
static void ensure_engine(struct cli_ctx *ctx, struct store *s)
{
	char holder[128] = "", owner[192], host[64] = "";
	struct store_lease lease = {0};
	struct spawn_plan plan = {.log_fd = -1, .null_fd = -1};
	struct err e = {0};
	pid_t pid = -1;

	if (engine_running(s, holder, sizeof holder)) {
		log_info("a task engine is already running (holder %s)", holder);
		return;
	}
	gethostname(host, sizeof host - 1);
	snprintf(owner, sizeof owner, "mcp:%s:%ld", host, (long)getpid());
	if (store_lease_acquire(s, SPAWN_LEASE_NAME, owner, SPAWN_LEASE_MS, &lease, &e)) {
		log_warn("not starting a task engine: %s", err_msg(&e));
		return;
	}
	if (!lease.held) {
		/* Another `ambient mcp` is starting one right now. */
		if (wait_for_engine(s, -1, ENGINE_WAIT_MS, holder, sizeof holder))
			log_info("a task engine is already running (holder %s)", holder);
		else
			log_info("another process (%s) is starting the task engine", lease.holder);
		return;
	}
	/* Taken the spawn lease: did an engine come up meanwhile? */
	if (engine_running(s, holder, sizeof holder)) {
		log_info("a task engine is already running (holder %s)", holder);
		goto release;
	}
	if (plan_spawn(ctx, s, &plan, &e) || spawn_server(&plan, &pid, &e)) {
		log_warn("%s; tasks run only while some `ambient serve` runs on this store "
			 "(start one, or see --no-engine)",
			 err_msg(&e));
		goto release;
	}
	if (wait_for_engine(s, pid, ENGINE_WAIT_MS, holder, sizeof holder)) {
		log_info("started the task engine: ambient serve pid %ld, log %s", (long)pid,
			 plan.log_path);
		goto release; /* the engine lease guards from now on */
	}
	if (kill(pid, 0) && errno == ESRCH)
		log_warn("the task engine (ambient serve pid %ld) exited at once; see %s",
			 (long)pid, plan.log_path);
	else
		log_info(
			"started the task engine: ambient serve pid %ld, log %s (not running tasks "
			"yet)",
			(long)pid, plan.log_path);
	plan_free(&plan);
	return; /* keep the spawn lease until it expires */
release:
	if (store_lease_release(s, SPAWN_LEASE_NAME, owner, &e))
		log_debug("releasing %s: %s", SPAWN_LEASE_NAME, err_msg(&e));
	plan_free(&plan);
}

/* ---- the command ------------------------------------------------------------ */

int cli_mcp_run(struct cli_ctx *ctx)
{
	if (ctx->nargs)
		return cli_usage_error(ctx, "mcp takes no arguments");
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct store *s = NULL;
	int rc = cli_open_store(ctx, false, &s);
	if (rc)
		return rc;
	if (!config_get_bool(&ctx->cfg, "no-engine"))
		ensure_engine(ctx, s);

	struct err e = {0};
	struct mcp_server_options so = {
		.name = "ambient",
		.title = "ambient - background tasks for AI agents",
		.version = AMBIENT_VERSION,
		.instructions = cli_mcp_instructions,
	};
	struct app_mcp_options ao = {
		.engine_status = peek_engine_status,
		.engine_ud = s,
		.rate_limits = config_get(&ctx->cfg, "rate-limits"),
		.security = {.transport = "stdio", .allow_net = config_get(&ctx->cfg, "allow-net")},
	};
	struct channel_config ch;
	cli_net_tool_options(&ctx->cfg, &ch, &ao);
	struct mcp_server *srv = mcp_server_new(&so);
	struct app_mcp *app = app_mcp_new(s, &ao);
	rc = CLI_FAIL;
	if (app_mcp_register(app, srv, &e) || app_mcp_watch_start(app, srv, &e)) {
		cli_fail(&e);
		goto out;
	}
	struct stdio_server_options io = {.stop = &stop_requested};
	if (stdio_server_run(srv, &io, &e)) {
		cli_fail(&e);
		goto out;
	}
	rc = CLI_OK;
out:
	app_mcp_free(app);
	mcp_server_free(srv);
	store_close(s);
	return rc;
}
