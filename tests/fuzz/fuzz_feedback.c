/*
 * fuzz_feedback.c - libFuzzer target for the Event Feedback Server's request
 * handler (feedback_receive): every input is one delivery whose Standard
 * Webhooks headers and body come from the input, handled by a receiver with
 * a secret and by one without, over a real SQLite feedback store in a temp
 * directory.  It must never crash, leak or hang, and must answer every
 * input either stored/duplicate or refused with a reason and a message.
 *
 * Input layout: webhook-id NUL webhook-timestamp NUL webhook-signature NUL
 * body (a missing NUL makes the rest the body with headers absent).  A
 * first byte 'T' replaces the timestamp by "now" so that signatures are
 * checked past the staleness test.
 *
 * Built two ways like the other targets: with -fsanitize=fuzzer
 * (cmake -DAMBIENT_FUZZ=ON) and with replay.c for the corpus in CTest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/feedback.h"
#include "common/log.h"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static struct store *store;
static struct feedback *signed_fb, *open_fb;
static char dir[] = "/tmp/ambient-fuzz-feedback-XXXXXX";

static void cleanup(void)
{
	static const char *const files[] = {"feedback.db", "feedback.db-wal", "feedback.db-shm"};
	char path[sizeof(dir) + 32];

	feedback_free(signed_fb);
	feedback_free(open_fb);
	store_close(store);
	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void setup(void)
{
	char url[128];
	struct err e = {0};

	if (!mkdtemp(dir))
		abort();
	snprintf(url, sizeof(url), "sqlite:%s/feedback.db?synchronous=normal", dir);
	log_level_current = LOG_LEVEL_ERROR;
	if (store_open(url, NULL, &store, &e))
		abort();
	struct feedback_options o = {.store = store, .secret = SECRET};
	if (feedback_new(&o, &signed_fb, &e))
		abort();
	o.secret = NULL;
	if (feedback_new(&o, &open_fb, &e))
		abort();
	atexit(cleanup);
}

/* The next NUL-terminated field of the input, or NULL when there is none. */
static char *field(char **p, char *end)
{
	char *nul = memchr(*p, 0, (size_t)(end - *p));
	if (!nul)
		return NULL;
	char *f = *p;
	*p = nul + 1;
	return f;
}

static void check(struct feedback *fb, const struct feedback_delivery *d)
{
	struct feedback_receipt r;
	struct err e = {0};
	int rc = feedback_receive(fb, d, &r, &e);
	if (rc == 0 && r.reject != FEEDBACK_OK)
		abort();
	if (rc != 0 && (r.reject == FEEDBACK_OK || !e.msg[0]))
		abort(); /* every refusal has a reason and says why */
	json_decref(r.event);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!store)
		setup();
	char *copy = malloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = 0;
	char *p = copy, *end = copy + size;
	char now[32];
	bool fresh = size > 0 && copy[0] == 'T';
	if (fresh)
		p++;
	char *id = field(&p, end);
	char *ts = id ? field(&p, end) : NULL;
	char *sig = ts ? field(&p, end) : NULL;
	if (fresh && ts) {
		snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
		ts = now;
	}
	struct feedback_delivery d = {
		.body = p,
		.len = (size_t)(end - p),
		.webhook_id = id,
		.webhook_timestamp = ts,
		.webhook_signature = sig,
	};
	check(signed_fb, &d);
	check(open_fb, &d);
	free(copy);
	return 0;
}
