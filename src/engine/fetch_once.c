/*
 * fetch_once.c - one blocking request on a private fetcher (see fetch_once.h).
 */
#include "fetch_once.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

struct once {
	bool done;
	struct fetch_once_result *out;
	struct err err;
};

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void on_done(struct fetch_result *r, void *ud)
{
	struct once *o = ud;
	struct fetch_once_result *out = o->out;

	o->done = true;
	out->code = r->code;
	out->failure = r->failure;
	out->status = r->status;
	out->final_url = xstrdup(r->final_url ? r->final_url : (r->url ? r->url : ""));
	out->content_type = dup_or_null(r->content_type);
	out->charset = dup_or_null(r->charset);
	out->body = r->body; /* taken */
	out->body_len = r->body ? r->body_len : 0;
	r->body = NULL;
	out->truncated = r->truncated;
	out->redirects = r->redirects;
	memcpy(out->primary_ip, r->primary_ip, sizeof out->primary_ip);
	out->elapsed_ms = r->elapsed_ms;
	if (r->code)
		o->err = r->err;
}

int fetch_once(const struct fetch_options *o, const struct fetch_request *rq,
	       struct fetch_once_result *out, struct err *e)
{
	struct fetcher *f = NULL;
	struct once st = {.out = out};
	int rc;

	memset(out, 0, sizeof *out);
	rc = fetcher_new(o, &f, e);
	if (rc) {
		out->code = rc;
		out->failure = FETCH_FAIL_OTHER;
		out->final_url = xstrdup(rq->url ? rq->url : "");
		return rc;
	}
	fetcher_submit(f, rq, on_done, &st);
	/* The callback always runs (fetch.h), at the latest when the request's
	 * timeouts and retries are spent. */
	while (!st.done)
		fetcher_poll(f, 1000);
	fetcher_free(f);
	if (out->code && e) {
		*e = st.err;
		e->code = out->code;
	}
	return out->code;
}

void fetch_once_cleanup(struct fetch_once_result *r)
{
	if (!r)
		return;
	free(r->final_url);
	free(r->content_type);
	free(r->charset);
	free(r->body);
	memset(r, 0, sizeof *r);
}
