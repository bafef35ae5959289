/*
 * stdio_client.h - the client side of MCP over stdio: spawn the server as a
 * child process and speak one JSON-RPC message per line over its stdin and
 * stdout.
 *
 * The child runs `/bin/sh -c COMMAND` (or argv directly, looked up in PATH),
 * with its stderr passed through to ours, appended to a log file, or thrown
 * away.  A reader thread delivers every line of its stdout to the client;
 * lines over the cap are skipped with a warning.
 *
 * Shutdown follows the MCP lifecycle: close the child's stdin, wait for it to
 * exit, then SIGTERM, wait, then SIGKILL.  Only the child this transport
 * spawned is ever signalled, and only until it has been reaped.
 */
#ifndef AMBIENT_TRANSPORT_STDIO_CLIENT_H
#define AMBIENT_TRANSPORT_STDIO_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"
#include "mcp/client.h"

struct stdio_client_options {
	const char *command;     /* run by /bin/sh -c; or NULL and argv */
	const char *const *argv; /* NULL-terminated; argv[0] is looked up in PATH */
	const char *const *env;  /* extra "NAME=value" entries (override ours); may be NULL */
	const char *cwd;         /* may be NULL */
	const char *stderr_path; /* child's stderr is appended here; NULL: inherit ours */
	bool stderr_null;        /* discard the child's stderr */
	size_t max_line;         /* 0: JSONRPC_MAX_MESSAGE */
	int shutdown_grace_ms;   /* wait after closing stdin, and after SIGTERM; 0: 2000 */
};

/* CONSTRUCTOR.  Nothing is spawned until the client starts the transport
 * (mcp_client_connect).  Strings are copied.  ERR_INVALID without a command. */
int stdio_client_new(const struct stdio_client_options *opt, struct mcp_client_transport **out,
		     struct err *e);

/* The child's pid once started, else -1. */
pid_t stdio_client_pid(const struct mcp_client_transport *t);

/* After close: the child's wait status (see waitpid), or -1 when unknown. */
int stdio_client_exit_status(const struct mcp_client_transport *t);

#endif
