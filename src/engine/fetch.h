/*
 * fetch.h - the engine's HTTP fetcher: many transfers at once on one libcurl
 * multi handle, driven by the engine thread's loop.
 *
 * The engine thread owns the fetcher and runs
 *
 *	for (;;) {
 *		fetcher_poll(f, ms_until_next_timer);  // waits, transfers, callbacks
 *		run_due_timers(); drain_inbox();       // your work; may fetcher_submit()
 *	}
 *
 * fetcher_poll returns when a transfer completed (its callback has run), the
 * timeout passed, or another thread called fetcher_wakeup.  Everything else
 * (fetcher_submit, fetcher_cancel, callbacks) happens on that one thread.
 *
 * What a fetch does:
 *   - per-host (host:port) and global concurrency limits; requests beyond them
 *     wait in the fetcher's own FIFO queues (round-robin across hosts), not in
 *     curl;
 *   - connect and per-attempt total timeouts, a response size cap measured on
 *     the decoded body (so a gzip bomb is stopped too), every compression curl
 *     supports (gzip, deflate, br, zstd), keep-alive connection reuse;
 *   - conditional GET (If-None-Match / If-Modified-Since); a 304 is reported
 *     with not_modified set and no body;
 *   - retries of transient failures (connect errors, timeouts, resets, partial
 *     bodies, HTTP 408/429/502/503/504) with exponential backoff and jitter,
 *     honouring Retry-After, scheduled on the fetcher's timers (no sleeping).
 *     DNS failures and other HTTP errors are final at once: the engine's
 *     per-task backoff handles them;
 *   - redirects followed by the fetcher itself (301/302/303/307/308, at most
 *     max_redirects), each hop re-checked: http/https only, and through the
 *     per-host queue of the new host;
 *   - the SSRF guard (netguard.h) on every connection curl opens, through
 *     CURLOPT_OPENSOCKETFUNCTION: the resolved address about to be connected to
 *     is judged, so names resolving to 127.0.0.1, DNS rebinding and redirects
 *     to blocked addresses are refused (ERR_PERM, failure FETCH_FAIL_BLOCKED).
 *     IP-literal hosts are also refused before queueing;
 *   - only http and https; no proxy from the environment (http_proxy etc. are
 *     ignored) unless fetch_options.proxy is set.  With a proxy the connected
 *     address is the proxy's, so the guard can only judge IP-literal and
 *     "localhost" hosts (netguard_check_host).
 *
 * Size cap: by default a body larger than max_body is a failure (ERR_TOO_BIG,
 * "response larger than 2 MiB from URL"), never silently cut: a monitor that
 * diffed a truncated page would report changes that are not there.  A request
 * may set `truncate` to keep the first max_body bytes instead (result
 * `truncated` set, code ERR_OK).
 *
 * Callback contract (libuv-style): fetcher_submit never fails; its callback
 * runs exactly once, later, from fetcher_poll on the engine thread — never from
 * inside fetcher_submit — unless fetcher_cancel / fetcher_cancel_ud removed
 * the request first, in which case it never runs.  Even a malformed URL is
 * reported through the callback (FETCH_FAIL_URL).  A callback may submit and
 * cancel other requests; it must not call fetcher_poll or fetcher_free.
 *
 * User-Agent: "ambient/VERSION (background task monitor; libcurl/X.Y.Z)" unless
 * fetch_options.user_agent says otherwise (an operator can add a contact URL,
 * as polite crawlers do: "ambient/0.1.0 (+https://example.org/bot)").
 */
#ifndef AMBIENT_ENGINE_FETCH_H
#define AMBIENT_ENGINE_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "engine/netguard.h"

/* Retry policy.  Zero fields take the defaults in brackets. */
struct fetch_retry {
	int max_attempts;       /* attempts in all, the first included; 1 = no retry [3] */
	int base_delay_ms;      /* delay before the 2nd attempt, doubled each time [500] */
	int max_delay_ms;       /* cap on one backoff delay [30000] */
	int max_retry_after_ms; /* a longer Retry-After is not waited for: the failure is
				 * reported (with retry_after_ms) for the caller to reschedule
				 * [60000] */
};

struct fetch_options {
	const char *user_agent;       /* NULL: the default above */
	int max_total;                /* transfers running at once [64] */
	int max_per_host;             /* running at once per host:port [4] */
	int connect_timeout_ms;       /* DNS + TCP + TLS [10000] */
	int timeout_ms;               /* one whole attempt [30000] */
	int max_redirects;            /* hops followed [5]; -1: none (a 3xx is the result) */
	size_t max_body;              /* decoded body cap [2 MiB] */
	const struct netguard *guard; /* borrowed, must outlive the fetcher; NULL: no SSRF
				       * guard at all (only for operator-configured URLs) */
	const char *proxy;            /* e.g. "http://proxy:3128"; NULL: none */
	struct fetch_retry retry;     /* default policy */
	int max_idle_connections;     /* curl's connection cache [max_total] */
};

/* One request.  Strings and the body are copied by fetcher_submit. */
struct fetch_request {
	const char *url;           /* http:// or https:// */
	const char *etag;          /* sent as If-None-Match; NULL: none */
	const char *last_modified; /* sent as If-Modified-Since (the HTTP date as received) */
	const char *method;        /* NULL: GET.  "HEAD", "POST", "PUT", ... */
	const void *body;          /* request body for POST/PUT; may be NULL */
	size_t body_len;
	const char *const *headers; /* extra "Name: value" lines, NULL-terminated; may be NULL */
	const struct fetch_retry *retry; /* NULL: the fetcher's; zero fields: defaults */
	size_t max_body;                 /* 0: the fetcher's */
	bool truncate;                   /* keep the first max_body bytes instead of failing */
	int timeout_ms;                  /* 0: the fetcher's */
	int max_redirects;               /* 0: the fetcher's; -1: follow none */
	bool trusted;                    /* skip the SSRF guard: operator-configured URLs only
					  * (the feedback server, OPENAI_API_BASE), never a
					  * URL from a task config */
};

/* Why a fetch failed (finer than the err code, for metrics and events). */
enum fetch_failure {
	FETCH_OK = 0,
	FETCH_FAIL_URL,      /* malformed URL or a scheme other than http/https */
	FETCH_FAIL_BLOCKED,  /* refused by the SSRF guard */
	FETCH_FAIL_DNS,      /* host name did not resolve */
	FETCH_FAIL_CONNECT,  /* refused / unreachable */
	FETCH_FAIL_TIMEOUT,  /* connect or total timeout */
	FETCH_FAIL_TLS,      /* handshake or certificate */
	FETCH_FAIL_NETWORK,  /* reset, closed early, short body, protocol error */
	FETCH_FAIL_TOO_BIG,  /* body over the cap */
	FETCH_FAIL_REDIRECT, /* too many, to a non-http(s) URL, or without Location */
	FETCH_FAIL_HTTP,     /* a response whose status is not 2xx or 304 */
	FETCH_FAIL_OTHER,
	FETCH__FAIL_COUNT
};

/* Short fixed name: "ok", "url", "blocked", "dns", "connect", "timeout", "tls",
 * "network", "too_big", "redirect", "http", "other". */
const char *fetch_failure_name(enum fetch_failure f);

/* Delivered to the callback; valid only during the call.  All strings are
 * owned by the fetcher, except `body`: the callback may take it (keep the
 * pointer and set r->body = NULL; free() it later). */
struct fetch_result {
	uint64_t id;
	int code;                   /* ERR_OK, or ERR_PERM / ERR_NOT_FOUND / ERR_TIMEOUT /
				     * ERR_TOO_BIG / ERR_IO / ERR_INVALID / ERR_BUSY */
	enum fetch_failure failure; /* FETCH_OK when code is ERR_OK */
	struct err err;             /* when code != 0: a sentence such as "DNS lookup failed
				     * for example.invalid (http://example.invalid/)" */
	long status;                /* HTTP status of the last response; 0 if none */
	bool not_modified;          /* status 304 */
	const char *url;            /* as submitted */
	const char *final_url;      /* after redirects */
	const char *etag;           /* response headers of the last response, or NULL */
	const char *last_modified;
	const char *content_type; /* full value, e.g. "text/html; charset=ISO-8859-1" */
	const char *charset;      /* the charset parameter, lower case, or NULL */
	int64_t retry_after_ms;   /* Retry-After of the last response; -1: none */
	char *body;               /* NUL-terminated (binary safe with body_len); NULL on
				   * 304, HEAD and failures without a response */
	size_t body_len;
	bool truncated;      /* request.truncate and the body was cut at max_body */
	int attempts;        /* attempts made (retries + 1) on the last hop */
	int redirects;       /* hops followed */
	char primary_ip[48]; /* address of the last connection, "" if none */
	/* Timing in milliseconds.  elapsed: submit to callback, all included;
	 * queued: waiting for a free slot; the rest are curl's for the last attempt. */
	int64_t elapsed_ms, queued_ms, dns_ms, connect_ms, ttfb_ms, transfer_ms;
};

typedef void (*fetch_done_fn)(struct fetch_result *r, void *ud);

struct fetch_stats {
	uint64_t submitted, completed, failed, cancelled;
	uint64_t attempts, retries, redirects, blocked, not_modified, body_bytes;
	size_t queued;  /* waiting for a slot */
	size_t running; /* in curl */
	size_t waiting; /* waiting for a retry timer */
};

struct fetcher;

/* CONSTRUCTOR.  Copies the strings of *o (o may be NULL: all defaults).
 * ERR_INVALID for negative limits or an unusable proxy URL. */
int fetcher_new(const struct fetch_options *o, struct fetcher **out, struct err *e);

/* DESTRUCTOR.  Drops every pending request without calling its callback.
 * NULL is fine.  Not from inside a callback. */
void fetcher_free(struct fetcher *f);

/* Queue a request; returns its id (> 0), for fetcher_cancel.  Never fails; see
 * the callback contract above.  `cb` must not be NULL. */
uint64_t fetcher_submit(struct fetcher *f, const struct fetch_request *rq, fetch_done_fn cb,
			void *ud);

/* Drop a request: its callback will not run.  ERR_NOT_FOUND when the id is
 * unknown, already delivered, or being delivered right now. */
int fetcher_cancel(struct fetcher *f, uint64_t id);
/* Drop every pending request whose user data is `ud` (a task being deleted);
 * returns how many. */
size_t fetcher_cancel_ud(struct fetcher *f, const void *ud);

/* Wait up to timeout_ms (0: do not wait, < 0: until something happens) for
 * network activity, retry timers or fetcher_wakeup; advance the transfers; run
 * the callbacks of those that finished.  Returns how many callbacks ran (>= 0).
 * Returns early without waiting when callbacks ran before the wait. */
int fetcher_poll(struct fetcher *f, int timeout_ms);

/* Make a fetcher_poll in progress (or the next one) return at once.  The only
 * function callable from any thread. */
void fetcher_wakeup(struct fetcher *f);

/* Requests not yet delivered (queued + running + waiting to retry). */
size_t fetcher_pending(const struct fetcher *f);
void fetcher_stats(const struct fetcher *f, struct fetch_stats *out);

/* The User-Agent the fetcher sends. */
const char *fetcher_user_agent(const struct fetcher *f);

#endif
