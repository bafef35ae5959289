/*
 * sinks.h - local stand-ins for the paid services ambient notifies through,
 * speaking their real wire protocols on 127.0.0.1:
 *   - Twilio's REST API (POST /2010-04-01/Accounts/{Sid}/Messages.json),
 *   - an OpenAI-compatible chat completions API (POST /v1/chat/completions)
 *     with replies scripted by the test,
 *   - ntfy (POST /ntfy/{topic}) and webhook (POST /hook/{name}) capture,
 *   - an SMTP server (plain sockets, AUTH PLAIN/LOGIN, no STARTTLS).
 * Everything received is recorded and listed as JSON.  The HTTP endpoints and
 * their JSON are described at the top of sinks.c and in docs/channels.md.
 *
 * Used two ways: in-process by the unit tests (sinks_start/sinks_stop), and
 * as the standalone program fixture_sinks (fixture_sinks.c) for integration
 * tests and demos.
 *
 * Threads: libmicrohttpd's thread per connection for HTTP, one accept thread
 * plus one thread per connection for SMTP; all state behind one mutex, so
 * every function here may be called from any thread.
 */
#ifndef AMBIENT_TESTS_SINKS_H
#define AMBIENT_TESTS_SINKS_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"

struct sinks_options {
	int http_port;          /* 0: ephemeral */
	int smtp_port;          /* 0: ephemeral; -1: no SMTP server */
	const char *twilio_sid; /* with twilio_token: the only accepted Basic auth;
				 * NULL: any password, the user must be the path's SID */
	const char *twilio_token;
	const char *smtp_user; /* with smtp_pass: the only accepted login, and login is
				* required; NULL: any login, or none */
	const char *smtp_pass;
	const char *openai_key; /* the only accepted bearer token; NULL: any or none */
	size_t max_records;     /* per list, oldest dropped beyond; default 1000 */
};

struct sinks;

/* CONSTRUCTOR: binds 127.0.0.1 and starts the threads.  ERR_IO when a port
 * cannot be bound. */
int sinks_start(const struct sinks_options *o, struct sinks **out, struct err *e);
int sinks_http_port(const struct sinks *s);
int sinks_smtp_port(const struct sinks *s); /* 0 when there is no SMTP server */

/* What GET /<what> answers, as a new reference: what = "sms", "emails",
 * "captured", "llm/requests".  NULL for an unknown name. */
json_t *sinks_list(struct sinks *s, const char *what);

/* What POST /_control/<what> does: what = "llm", "twilio", "hook", "smtp",
 * "reset"; body as documented in sinks.c.  ERR_INVALID (with why) for a bad
 * body, ERR_NOT_FOUND for an unknown name. */
int sinks_control(struct sinks *s, const char *what, const json_t *body, struct err *e);

/* DESTRUCTOR: stops the servers, joins every thread, frees.  NULL is fine. */
void sinks_stop(struct sinks *s);

#endif
