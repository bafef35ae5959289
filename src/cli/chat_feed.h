/*
 * chat_feed.h - follow the feedback server's live stream (GET
 * /events/stream, Server-Sent Events; see docs/feedback.md) on a thread of
 * its own, for `ambient chat`.
 *
 * Each stored event arrives as an unnamed ("message") frame whose data is
 * the event as the feedback server keeps it (task_id, event_type, priority,
 * data, seq, ...); notification outcomes arrive as "notification" frames.
 * Both go to on_event.  When the stream ends or cannot be opened, the
 * follower waits (the server's retry time, then longer, up to max_retry_ms)
 * and reconnects after the last event seen (?after=SEQ; at the start the
 * store's position from /health), so no event is missed across a restart of
 * the feedback server; on_status says when it is up or down (once per
 * change, with a reason).  chat_feed_start returns once the first connection
 * is open (or failed, or a few seconds passed), so that an event stored
 * after it returns is seen.
 *
 * Threads: the callbacks run on the follower's thread, one at a time.
 */
#ifndef AMBIENT_CLI_CHAT_FEED_H
#define AMBIENT_CLI_CHAT_FEED_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

#define CHAT_FEED_DEFAULT_URL "http://localhost:8000"

/* kind: "message" (a received event) or "notification"; data borrowed. */
typedef void (*chat_feed_event_fn)(void *ud, const char *kind, const json_t *data);
/* up: the stream is open; text: a human-readable line (borrowed). */
typedef void (*chat_feed_status_fn)(void *ud, bool up, const char *text);

struct chat_feed_options {
	const char *url;    /* the feedback server's base URL (copied) */
	const char *filter; /* query arguments for /events/stream, e.g. "min_priority=2";
			     * may be NULL (copied) */
	long long after;    /* < 0: events stored from now on; else after this seq */
	size_t max_event;   /* cap on one frame; 0: 1 MiB */
	int max_retry_ms;   /* longest wait between reconnects; 0: 15000 */
	chat_feed_event_fn on_event;
	chat_feed_status_fn on_status;
	void *ud;
};

struct chat_feed;

/* CONSTRUCTOR: starts the thread.  ERR_INVALID for a URL that is not
 * http(s). */
int chat_feed_start(const struct chat_feed_options *o, struct chat_feed **out, struct err *e);
/* Whether the stream is open now. */
bool chat_feed_up(struct chat_feed *f);
/* The base URL followed (borrowed). */
const char *chat_feed_url(const struct chat_feed *f);
/* DESTRUCTOR: stops the thread (at once: the transfer is woken) and frees.
 * No callback runs after it returns.  NULL is fine. */
void chat_feed_stop(struct chat_feed *f);

#endif
