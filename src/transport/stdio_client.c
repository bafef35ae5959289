/*
 * stdio_client.c - spawn an MCP server and talk to it over pipes.
 *
 * Our ends of the pipes are close-on-exec; the stdin end is non-blocking so a
 * sender never sticks in write() when the child stops reading: senders poll
 * it together with a wake pipe that close() makes readable.  The reader
 * thread polls stdout together with a second wake pipe, and keeps draining
 * stdout while the child shuts down (a child blocked on a full pipe would
 * never exit) but delivers nothing once closing began.
 *
 * Child exit is awaited with a pidfd when the kernel has one (Linux 5.3),
 * else by polling waitpid(WNOHANG) every 10 ms.  Reaping happens under the
 * mutex and sets `reaped`, after which the pid is never signalled again
 * (it may belong to someone else by then).
 */
#define _GNU_SOURCE
#include "stdio_client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"

extern char **environ;

#define DEFAULT_GRACE_MS 2000
#define READ_CHUNK 65536

struct stdio_client {
	char *command;
	char **argv;
	char **env;
	char *cwd;
	char *stderr_path;
	bool stderr_null;
	size_t max_line;
	int grace_ms;

	struct mcp_transport_events ev;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	pid_t pid;
	bool started;
	bool closing;
	bool reaped;
	int status;
	int in_fd;  /* child's stdin (ours to write) */
	int out_fd; /* child's stdout (ours to read) */
	int send_wake[2];
	int read_wake[2];
	int senders; /* threads inside send() */
	pthread_mutex_t write_mu;
	pthread_t reader;
	bool reader_running;
};

static const struct mcp_client_transport_ops stdio_ops;

static char **strv_dup(const char *const *v)
{
	size_t n = 0;
	char **out;

	if (!v)
		return NULL;
	while (v[n])
		n++;
	out = xcalloc(n + 1, sizeof *out);
	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

static void strv_free(char **v)
{
	if (!v)
		return;
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int stdio_client_new(const struct stdio_client_options *opt, struct mcp_client_transport **out,
		     struct err *e)
{
	struct stdio_client *s;
	struct mcp_client_transport *t;

	*out = NULL;
	if (!opt || ((!opt->command || !*opt->command) && (!opt->argv || !opt->argv[0])))
		return err_set(e, ERR_INVALID,
			       "stdio MCP client: no server command given; pass the command that "
			       "starts the MCP server");
	s = xcalloc(1, sizeof *s);
	s->command = opt->command && *opt->command ? xstrdup(opt->command) : NULL;
	s->argv = s->command ? NULL : strv_dup(opt->argv);
	s->env = strv_dup(opt->env);
	s->cwd = opt->cwd ? xstrdup(opt->cwd) : NULL;
	s->stderr_path = opt->stderr_path ? xstrdup(opt->stderr_path) : NULL;
	s->stderr_null = opt->stderr_null;
	s->max_line = opt->max_line ? opt->max_line : JSONRPC_MAX_MESSAGE;
	s->grace_ms = opt->shutdown_grace_ms > 0 ? opt->shutdown_grace_ms : DEFAULT_GRACE_MS;
	s->pid = -1;
	s->status = -1;
	s->in_fd = s->out_fd = -1;
	s->send_wake[0] = s->send_wake[1] = s->read_wake[0] = s->read_wake[1] = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->write_mu, NULL);
	pthread_cond_init(&s->cond, NULL);

	t = xcalloc(1, sizeof *t);
	t->ops = &stdio_ops;
	t->self = s;
	*out = t;
	return 0;
}

pid_t stdio_client_pid(const struct mcp_client_transport *t)
{
	struct stdio_client *s = t->self;
	pid_t pid;

	pthread_mutex_lock(&s->mu);
	pid = s->pid;
	pthread_mutex_unlock(&s->mu);
	return pid;
}

int stdio_client_exit_status(const struct mcp_client_transport *t)
{
	struct stdio_client *s = t->self;
	int st;

	pthread_mutex_lock(&s->mu);
	st = s->reaped ? s->status : -1;
	pthread_mutex_unlock(&s->mu);
	return st;
}

/* ---- Child processes --------------------------------------------------- */

/* environ with opt.env entries added or replacing ours; caller frees the
 * array (not the strings, which are borrowed). */
static char **build_env(struct stdio_client *s)
{
	size_t n = 0, m = 0, k = 0;
	char **out;

	while (environ[n])
		n++;
	while (s->env && s->env[m])
		m++;
	out = xcalloc(n + m + 1, sizeof *out);
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t klen = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		bool overridden = false;
		for (size_t j = 0; j < m && !overridden; j++)
			overridden =
				!strncmp(s->env[j], environ[i], klen) && s->env[j][klen] == '=';
		if (!overridden)
			out[k++] = environ[i];
	}
	for (size_t j = 0; j < m; j++)
		out[k++] = s->env[j];
	return out;
}

/* Reap the child if it has exited, waiting at most timeout_ms (0: just
 * check; -1: forever).  Returns true once reaped. */
static bool wait_child(struct stdio_client *s, int timeout_ms)
{
	int64_t deadline = clock_mono_us(clock_system()) + (int64_t)timeout_ms * 1000;
	int pidfd = -1;

#ifdef SYS_pidfd_open
	pthread_mutex_lock(&s->mu);
	if (!s->reaped && s->pid > 0)
		pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
	pthread_mutex_unlock(&s->mu);
#endif
	for (;;) {
		int st;
		pid_t r;

		pthread_mutex_lock(&s->mu);
		if (s->reaped || s->pid <= 0) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		r = waitpid(s->pid, &st, WNOHANG);
		if (r == s->pid || (r < 0 && errno == ECHILD)) {
			s->reaped = true;
			s->status = r == s->pid ? st : -1;
			pthread_cond_broadcast(&s->cond);
			pthread_mutex_unlock(&s->mu);
			break;
		}
		pthread_mutex_unlock(&s->mu);

		int64_t left = (deadline - clock_mono_us(clock_system())) / 1000;
		if (timeout_ms >= 0 && left <= 0)
			break;
		if (pidfd >= 0) {
			struct pollfd p = {.fd = pidfd, .events = POLLIN};
			poll(&p, 1, timeout_ms < 0 ? -1 : (int)left);
		} else {
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	pthread_mutex_lock(&s->mu);
	bool r = s->reaped;
	pthread_mutex_unlock(&s->mu);
	return r;
}

static void signal_child(struct stdio_client *s, int sig)
{
	pthread_mutex_lock(&s->mu);
	if (!s->reaped && s->pid > 0)
		kill(s->pid, sig);
	pthread_mutex_unlock(&s->mu);
}

static void describe_status(int st, char *out, size_t n)
{
	if (st < 0)
		snprintf(out, n, "exited");
	else if (WIFEXITED(st))
		snprintf(out, n, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(out, n, "was killed by signal %d", WTERMSIG(st));
	else
		snprintf(out, n, "stopped");
}

/* ---- Reader thread ----------------------------------------------------- */

static void deliver_line(struct stdio_client *s, struct buf *line)
{
	char *p = line->data;
	size_t n = line->len;
	bool closing;

	if (n && p[n - 1] == '\r')
		n--;
	if (!n)
		return;
	pthread_mutex_lock(&s->mu);
	closing = s->closing;
	pthread_mutex_unlock(&s->mu);
	if (!closing)
		s->ev.on_message(s->ev.ctx, p, n);
}

static void *reader_main(void *arg)
{
	struct stdio_client *s = arg;
	char *chunk = xmalloc(READ_CHUNK);
	struct buf line;
	bool skipping = false, eof = false;

	buf_init(&line, s->max_line);
	while (!eof) {
		struct pollfd p[2] = {{.fd = s->out_fd, .events = POLLIN},
				      {.fd = s->read_wake[0], .events = POLLIN}};
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break; /* close() is done with the child */
		if (!p[0].revents)
			continue;
		n = read(s->out_fd, chunk, READ_CHUNK);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			eof = true;
			break;
		}
		for (ssize_t i = 0; i < n;) {
			char *nl = memchr(chunk + i, '\n', (size_t)(n - i));
			size_t take = nl ? (size_t)(nl - (chunk + i)) : (size_t)(n - i);

			if (!skipping && buf_append(&line, chunk + i, take)) {
				log_warn("stdio MCP client: the server sent a line over %zu bytes; "
					 "skipping it",
					 s->max_line);
				skipping = true;
				buf_reset(&line);
			}
			i += (ssize_t)take;
			if (nl) {
				i++;
				if (!skipping)
					deliver_line(s, &line);
				skipping = false;
				buf_reset(&line);
			}
		}
	}
	buf_cleanup(&line);
	free(chunk);

	if (eof) {
		bool closing;
		char why[128], st[64];

		pthread_mutex_lock(&s->mu);
		closing = s->closing;
		pthread_mutex_unlock(&s->mu);
		if (!closing) {
			/* Give the exit status a moment to become known. */
			if (wait_child(s, 200)) {
				pthread_mutex_lock(&s->mu);
				describe_status(s->status, st, sizeof st);
				pthread_mutex_unlock(&s->mu);
				snprintf(why, sizeof why, "the MCP server process %s", st);
			} else {
				snprintf(why, sizeof why, "the MCP server closed its stdout");
			}
			s->ev.on_closed(s->ev.ctx, ERR_IO, why);
		}
	}
	return NULL;
}

/* ---- Ops --------------------------------------------------------------- */

static int pipe_cloexec(int fds[2])
{
	return pipe2(fds, O_CLOEXEC);
}

static int stdio_start(void *self, const struct mcp_transport_events *ev, struct err *e)
{
	struct stdio_client *s = self;
	int in_p[2] = {-1, -1}, out_p[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, def;
	char **envp;
	const char *sh_argv[] = {"/bin/sh", "-c", s->command, NULL};
	char *const *argv = s->command ? (char *const *)sh_argv : s->argv;
	const char *what = s->command ? s->command : s->argv[0];
	pid_t pid;
	int rc;

	s->ev = *ev;
	if (pipe_cloexec(in_p) || pipe_cloexec(out_p) || pipe_cloexec(s->send_wake) ||
	    pipe_cloexec(s->read_wake)) {
		rc = err_set(e, ERR_IO, "stdio MCP client: pipe: %s", strerror(errno));
		close_fd(&in_p[0]);
		close_fd(&in_p[1]);
		close_fd(&out_p[0]);
		close_fd(&out_p[1]);
		return rc;
	}

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_p[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out_p[1], 1);
	if (s->stderr_null)
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	else if (s->stderr_path)
		posix_spawn_file_actions_addopen(&fa, 2, s->stderr_path,
						 O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (s->cwd)
		posix_spawn_file_actions_addchdir_np(&fa, s->cwd);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGINT);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	envp = build_env(s);

	if (s->command)
		rc = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, envp);
	else
		rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp);
	free(envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close_fd(&in_p[0]);
	close_fd(&out_p[1]);
	if (rc) {
		close_fd(&in_p[1]);
		close_fd(&out_p[0]);
		return err_set(e, ERR_IO,
			       "stdio MCP client: cannot start \"%s\": %s; check the "
			       "command and PATH",
			       what, strerror(rc));
	}
	fcntl(in_p[1], F_SETFL, fcntl(in_p[1], F_GETFL) | O_NONBLOCK);

	pthread_mutex_lock(&s->mu);
	s->pid = pid;
	s->in_fd = in_p[1];
	s->out_fd = out_p[0];
	s->started = true;
	pthread_mutex_unlock(&s->mu);
	log_debug("stdio MCP client: started \"%s\" as pid %d", what, (int)pid);

	if (pthread_create(&s->reader, NULL, reader_main, s))
		return err_set(e, ERR_IO, "stdio MCP client: cannot start the reader thread");
	s->reader_running = true;
	return 0;
}

/* Write all of iov, waiting for the pipe as needed; SIGPIPE is blocked in
 * this thread meanwhile (and a SIGPIPE we caused is consumed). */
static int write_all(struct stdio_client *s, struct iovec *iov, int iovcnt, struct err *e)
{
	sigset_t pipe_set, old, pend;
	bool was_pending;
	int rc = 0;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigpending(&pend);
	was_pending = sigismember(&pend, SIGPIPE);

	while (iovcnt > 0) {
		ssize_t n = writev(s->in_fd, iov, iovcnt);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd p[2] = {{.fd = s->in_fd, .events = POLLOUT},
						      {.fd = s->send_wake[0], .events = POLLIN}};
				if (poll(p, 2, -1) < 0 && errno != EINTR) {
					rc = err_set(e, ERR_IO, "poll: %s", strerror(errno));
					break;
				}
				if (p[1].revents) {
					rc = err_set(e, ERR_IO,
						     "the stdio MCP connection is closing");
					break;
				}
				continue;
			}
			rc = err_set(e, ERR_IO, "writing to the MCP server: %s%s", strerror(errno),
				     errno == EPIPE ? " (the server process is gone)" : "");
			break;
		}
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}

	if (!was_pending) {
		struct timespec zero = {0, 0};
		sigpending(&pend);
		if (sigismember(&pend, SIGPIPE))
			sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static int stdio_send(void *self, const char *msg, size_t len, struct mcp_send_ctl *ctl,
		      struct err *e)
{
	struct stdio_client *s = self;
	struct iovec iov[2] = {{(void *)msg, len}, {"\n", 1}};
	int rc;

	(void)ctl;
	if (memchr(msg, '\n', len))
		return err_set(e, ERR_INVALID, "a stdio MCP message may not contain a newline");
	pthread_mutex_lock(&s->mu);
	if (!s->started || s->closing || s->in_fd < 0) {
		pthread_mutex_unlock(&s->mu);
		return err_set(e, ERR_IO, "the stdio MCP connection is %s",
			       s->started ? "closed" : "not started");
	}
	s->senders++;
	pthread_mutex_unlock(&s->mu);

	pthread_mutex_lock(&s->write_mu);
	rc = write_all(s, iov, 2, e);
	pthread_mutex_unlock(&s->write_mu);

	pthread_mutex_lock(&s->mu);
	s->senders--;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static void stdio_close(void *self)
{
	struct stdio_client *s = self;
	bool started;

	pthread_mutex_lock(&s->mu);
	if (s->closing) {
		pthread_mutex_unlock(&s->mu);
		return;
	}
	s->closing = true;
	started = s->started;
	pthread_mutex_unlock(&s->mu);
	if (!started)
		return;

	/* 1. Wake and wait out the senders, then close the child's stdin. */
	if (write(s->send_wake[1], "x", 1) < 0)
		log_debug("stdio MCP client: wake: %s", strerror(errno));
	pthread_mutex_lock(&s->mu);
	while (s->senders > 0)
		pthread_cond_wait(&s->cond, &s->mu);
	close_fd(&s->in_fd);
	pthread_mutex_unlock(&s->mu);

	/* 2. Wait for the child, then SIGTERM, then SIGKILL. */
	if (!wait_child(s, s->grace_ms)) {
		log_info("stdio MCP client: server pid %d did not exit after its stdin closed; "
			 "sending SIGTERM",
			 (int)s->pid);
		signal_child(s, SIGTERM);
		if (!wait_child(s, s->grace_ms)) {
			log_warn("stdio MCP client: server pid %d ignored SIGTERM; sending SIGKILL",
				 (int)s->pid);
			signal_child(s, SIGKILL);
			wait_child(s, -1);
		}
	}

	/* 3. Stop the reader (a grandchild may still hold the pipe open). */
	if (write(s->read_wake[1], "x", 1) < 0)
		log_debug("stdio MCP client: wake: %s", strerror(errno));
	if (s->reader_running) {
		pthread_join(s->reader, NULL);
		s->reader_running = false;
	}
	close_fd(&s->out_fd);
}

static void stdio_free(void *self)
{
	struct stdio_client *s = self;

	if (!s)
		return;
	stdio_close(s);
	close_fd(&s->in_fd);
	close_fd(&s->out_fd);
	close_fd(&s->send_wake[0]);
	close_fd(&s->send_wake[1]);
	close_fd(&s->read_wake[0]);
	close_fd(&s->read_wake[1]);
	free(s->command);
	strv_free(s->argv);
	strv_free(s->env);
	free(s->cwd);
	free(s->stderr_path);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->write_mu);
	pthread_cond_destroy(&s->cond);
	free(s);
}

static const struct mcp_client_transport_ops stdio_ops = {
	.name = "stdio",
	.start = stdio_start,
	.send = stdio_send,
	.close = stdio_close,
	.free = stdio_free,
};
