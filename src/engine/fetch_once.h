/*
 * fetch_once.h - one blocking HTTP request through the engine's fetcher
 * (engine/fetch.h), for code that runs on a request thread (MCP tool
 * handlers) rather than on the engine's loop.
 *
 * It builds a private fetcher, submits the request, polls until its callback
 * ran and frees the fetcher, so every property of the fetcher holds: the SSRF
 * guard on every connection (unless the request is `trusted`), redirects
 * re-checked hop by hop, the decoded-size cap, retries of transient
 * failures, http/https only, no proxy from the environment.
 *
 * Threads: any thread, any number at once (nothing is shared).  The guard in
 * the options is borrowed for the duration of the call.
 */
#ifndef AMBIENT_ENGINE_FETCH_ONCE_H
#define AMBIENT_ENGINE_FETCH_ONCE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "engine/fetch.h"

/* What came back.  Strings and the body are heap copies owned by the
 * result: release with fetch_once_cleanup (also after a failure). */
struct fetch_once_result {
	int code;                   /* as struct fetch_result */
	enum fetch_failure failure; /* FETCH_OK when code is ERR_OK */
	long status;                /* HTTP status of the last response; 0 if none */
	char *final_url;            /* after redirects (never NULL after the call) */
	char *content_type;         /* or NULL */
	char *charset;              /* lower case, or NULL */
	char *body;                 /* NUL-terminated; also for HTTP error statuses (when
				     * the server sent one); NULL when there was none */
	size_t body_len;
	bool truncated;
	int redirects;
	char primary_ip[48]; /* address of the last connection, "" if none */
	int64_t elapsed_ms;
};

/* Run rq with a fetcher built from o (o may be NULL: defaults).  Returns the
 * fetch's code (0 = a 2xx or 304 response) and copies its message into *e;
 * *out is filled either way. */
int fetch_once(const struct fetch_options *o, const struct fetch_request *rq,
	       struct fetch_once_result *out, struct err *e);

void fetch_once_cleanup(struct fetch_once_result *r);

#endif
