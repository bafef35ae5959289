/*
 * stdio_server.c - MCP over stdin/stdout (see stdio_server.h).
 *
 * The loop reads lines; every message goes to the one session.  Writes from
 * several threads (the loop, tool workers, unsolicited notifications) are
 * whole lines under one mutex, so messages never interleave.  Requests run
 * on a worker thread: a tool may wait for the client's answer, which only
 * this loop can read.  One worker, so requests run in the order they arrived
 * (a script piping "create" then "list" sees its task); notifications and
 * responses are handled here at once (a cancellation must not queue behind
 * the request it cancels).
 */
#include "transport/stdio_server.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/workpool.h"
#include "common/xalloc.h"
#include "mcp/jsonrpc.h"

struct out {
	int fd;
	pthread_mutex_t lock;
	bool broken;
};

static int out_send(void *ctx, const char *msg, size_t len)
{
	struct out *o = ctx;
	pthread_mutex_lock(&o->lock);
	/* One write of message + newline keeps lines whole. */
	char *line = xmalloc(len + 1);
	memcpy(line, msg, len);
	line[len] = '\n';
	size_t off = 0;
	while (!o->broken && off < len + 1) {
		ssize_t n = write(o->fd, line + off, len + 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			o->broken = true;
			log_warn("stdio: cannot write to the client (%s)", strerror(errno));
			break;
		}
		off += (size_t)n;
	}
	free(line);
	int rc = o->broken ? -1 : 0;
	pthread_mutex_unlock(&o->lock);
	return rc;
}

struct job {
	struct mcp_session *s;
	struct jsonrpc_msg msg;
	struct mcp_sink sink;
	atomic_int *pending; /* requests handed to the worker and not answered yet */
};

static void run_job(void *arg)
{
	struct job *j = arg;
	mcp_session_handle_msg(j->s, &j->msg, &j->sink, NULL);
	atomic_fetch_sub(j->pending, 1);
	mcp_session_unref(j->s);
	free(j);
}

/* Handle one complete line. */
static void handle_line(struct mcp_server *srv, struct mcp_session *s, struct workpool *pool,
			atomic_int *pending, const struct mcp_sink *sink, const char *line,
			size_t len, size_t max)
{
	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0)
		return; /* blank lines are not messages */
	struct jsonrpc_msg m;
	int code = 0;
	json_t *bad_id = NULL;
	struct err e;
	err_clear(&e);
	if (jsonrpc_parse(line, len, max, &m, &code, &bad_id, &e) != ERR_OK) {
		char *text = jsonrpc_error_text(bad_id, code, err_msg(&e), NULL);
		sink->send(sink->ctx, text, strlen(text));
		free(text);
		json_decref(bad_id);
		return;
	}
	/* Requests run on the worker, so that this thread goes on reading (a
	 * cancellation, the client's answer to an elicitation).  A quick tool
	 * answers at once and runs here, when no earlier request is still in
	 * hand (a client may send its calls right after initialize). */
	if (m.kind == JSONRPC_REQUEST &&
	    (atomic_load(pending) > 0 || !mcp_server_call_is_quick(srv, &m))) {
		struct job *j = xcalloc(1, sizeof(*j));
		mcp_session_ref(s);
		j->s = s;
		j->msg = m;
		j->sink = *sink;
		j->pending = pending;
		atomic_fetch_add(pending, 1);
		workpool_submit(pool, run_job, j);
		return;
	}
	mcp_session_handle_msg(s, &m, sink, NULL);
}

int stdio_server_run(struct mcp_server *srv, const struct stdio_server_options *opt,
		     struct err *e)
{
	int in_fd = opt && opt->in_fd > 0 ? opt->in_fd : 0;
	size_t max = opt && opt->max_line ? opt->max_line : JSONRPC_MAX_MESSAGE;
	struct out o = {.fd = opt && opt->out_fd > 0 ? opt->out_fd : 1};
	pthread_mutex_init(&o.lock, NULL);
	struct mcp_sink sink = {.send = out_send, .ctx = &o};
	struct mcp_session *s = mcp_session_new(srv, &sink);
	if (opt && opt->user)
		mcp_session_set_user(s, opt->user, NULL);
	struct workpool *pool = workpool_new(1, 1);
	atomic_int pending = 0;

	/* Read in chunks; a line longer than the cap is answered with an error
	 * and skipped up to its newline. */
	size_t cap = 64 * 1024, len = 0;
	char *buf = xmalloc(cap);
	bool skipping = false;
	int rc = ERR_OK;
	for (;;) {
		if (opt && opt->stop && *opt->stop)
			break;
		struct pollfd pfd = {.fd = in_fd, .events = POLLIN};
		int pr = poll(&pfd, 1, 500);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0)
			continue;
		if (len == cap) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		ssize_t n = read(in_fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = err_set(e, ERR_IO, "reading stdin: %s", strerror(errno));
			break;
		}
		if (n == 0) {
			if (len && !skipping)
				handle_line(srv, s, pool, &pending, &sink, buf, len, max);
			break; /* EOF: the client is done */
		}
		len += (size_t)n;
		size_t start = 0;
		for (;;) {
			char *nl = memchr(buf + start, '\n', len - start);
			if (!nl)
				break;
			size_t llen = (size_t)(nl - (buf + start));
			if (!skipping)
				handle_line(srv, s, pool, &pending, &sink, buf + start, llen, max);
			skipping = false;
			start += llen + 1;
		}
		memmove(buf, buf + start, len - start);
		len -= start;
		if (len > max && !skipping) {
			char msg[160];
			snprintf(msg, sizeof(msg),
				 "message too large: a line may hold at most %zu bytes", max);
			char *text = jsonrpc_error_text(NULL, JSONRPC_INVALID_REQUEST, msg, NULL);
			out_send(&o, text, strlen(text));
			free(text);
			skipping = true;
		}
		if (skipping)
			len = 0;
		if (cap > 1024 * 1024 && len < 64 * 1024) {
			cap = 64 * 1024; /* give back memory after a big message */
			buf = xrealloc(buf, cap);
		}
	}
	free(buf);
	/* Let running tools finish and answer before the session goes; none
	 * can wait for the client any more. */
	mcp_session_end_input(s);
	workpool_free(pool);
	mcp_session_close(s);
	mcp_session_unref(s);
	pthread_mutex_destroy(&o.lock);
	return rc;
}
