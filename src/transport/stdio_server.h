/*
 * stdio_server.h - MCP over stdio: one JSON-RPC message per line on stdin,
 * replies on stdout, nothing else on stdout (logs go to stderr or a file).
 *
 * Lines over the size cap are answered with a JSON-RPC error and skipped;
 * tools/call runs on its own thread so that a tool can wait for the client
 * (elicitation, sampling) while this loop keeps reading.  Returns at EOF
 * (after in-flight calls finish) or when stop is set.
 */
#ifndef AMBIENT_TRANSPORT_STDIO_SERVER_H
#define AMBIENT_TRANSPORT_STDIO_SERVER_H

#include <signal.h>
#include <stddef.h>

#include "common/err.h"
#include "mcp/server.h"

struct stdio_server_options {
	int in_fd;         /* default 0 */
	int out_fd;        /* default 1 */
	size_t max_line;   /* default JSONRPC_MAX_MESSAGE */
	void *user;        /* session user data (not freed) */
	volatile sig_atomic_t *stop; /* checked between lines; may be NULL */
};

int stdio_server_run(struct mcp_server *srv, const struct stdio_server_options *opt,
		     struct err *e);

#endif
