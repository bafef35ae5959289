/*
 * notify_message.h - what a person reads: the text of a notification for one
 * feedback event (or a digest of several), per event type, for each channel.
 * Pure (no I/O).
 *
 * Input is a feedback event as the feedback server stores and shows it
 * (feedback_event_json: the delivered payload {task_id, event_type, data,
 * timestamp, priority, task_type, description, ...} plus seq, received_at).
 * The data fields per event type are in docs/events.md.
 *
 * SMS text stays within NOTIFY_SMS_SOFT characters (Unicode code points)
 * where possible and never exceeds NOTIFY_SMS_MAX; cuts fall on code point
 * boundaries and end with "…".  E-mail gets a one-line subject and a plain
 * text body; every message carries a link to the page that changed when the
 * event has one.
 */
#ifndef AMBIENT_DOMAIN_NOTIFY_MESSAGE_H
#define AMBIENT_DOMAIN_NOTIFY_MESSAGE_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"

#define NOTIFY_SMS_SOFT 160
#define NOTIFY_SMS_MAX 1600
#define NOTIFY_SUBJECT_MAX 200 /* bytes */
#define NOTIFY_BODY_MAX 65536  /* bytes */

/* All strings are heap-owned (free with notify_message_cleanup); link may be
 * NULL.  title is a short headline (ntfy's Title, a webhook's "title"). */
struct notify_message {
	char *title;
	char *sms;
	char *subject;
	char *body;
	char *link;
	int priority; /* 1..5, from the event */
};

/* The message for one event.  ERR_INVALID when event is not an object with a
 * string event_type. */
int notify_message_render(const json_t *event, struct notify_message *m, struct err *e);

/* One digest message for n (>= 1) events, e.g. low-priority events batched
 * over a period: a count by type and one line per event. */
int notify_message_digest(const json_t *const *events, size_t n, struct notify_message *m,
			  struct err *e);

/* A message whose text was written elsewhere (the LLM's answer): sms and
 * body from text (sms cut as above), title/subject/link from the event. */
int notify_message_from_text(const char *text, const json_t *event, struct notify_message *m,
			     struct err *e);

/* Cut UTF-8 text to at most max code points, ending with "…" when cut.
 * New string. */
char *notify_text_cut(const char *text, size_t max);

/* Frees the strings and zeroes *m.  Accepts a zeroed message. */
void notify_message_cleanup(struct notify_message *m);

#endif
