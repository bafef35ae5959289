/*
 * demo_sinks.h - where `ambient demo` lets notifications arrive: a local
 * stand-in for Twilio's Messages API on 127.0.0.1, so the feedback server
 * sends real SMS requests (its production code path, with TWILIO_API_BASE
 * pointing here) and nothing leaves the machine.
 *
 *   POST /2010-04-01/Accounts/{AccountSid}/Messages.json
 *        form fields To, From (or MessagingServiceSid), Body; HTTP Basic
 *        auth AccountSid:AuthToken.  Answers 201 with a Message resource
 *        ({"sid": "SM...", "status": "queued", "to", "from", "body", ...})
 *        and keeps it; errors as Twilio words them (401 code 20003,
 *        400 codes 21602/21603/21604, 21617 for a body over 1600 characters).
 *   GET  /2010-04-01/Accounts/{AccountSid}/Messages.json
 *        {"messages": [...]} newest first, as Twilio lists them.
 *
 * Threads: libmicrohttpd threads; every function may be called from any
 * thread.
 */
#ifndef AMBIENT_CLI_DEMO_SINKS_H
#define AMBIENT_CLI_DEMO_SINKS_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"

struct demo_sinks;

/* Messages kept; older ones are dropped beyond it. */
#define DEMO_SINKS_MAX_SMS 1000

/* CONSTRUCTOR: listen on 127.0.0.1 (port 0: any free port) and accept
 * requests authenticated as account_sid:auth_token (both copied).  ERR_IO
 * when the port cannot be bound. */
int demo_sinks_start(const char *account_sid, const char *auth_token, int port,
		     struct demo_sinks **out, struct err *e);

/* The API base URL to give as TWILIO_API_BASE: "http://127.0.0.1:PORT". */
const char *demo_sinks_url(const struct demo_sinks *s);

/* The messages received so far after the first `skip`, oldest first, as a
 * new JSON array of Message resources; *total (may be NULL) gets the number
 * received since the start (dropped ones included). */
json_t *demo_sinks_sms(struct demo_sinks *s, size_t skip, size_t *total);

/* DESTRUCTOR: stop serving and free.  NULL is fine. */
void demo_sinks_free(struct demo_sinks *s);

#endif
