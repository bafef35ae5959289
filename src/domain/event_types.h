/*
 * event_types.h - the one catalogue of event types ambient records.
 *
 * Each row gives a type's name (the names of the original system are kept,
 * as users and feedback servers see them), its default priority (1 = routine
 * .. 4 = urgent; carried in the feedback payload), a one-line description and
 * the fields of its `data` object.  docs/events.md is written from this table;
 * keep the two in step.  A type missing here can still be recorded; it gets
 * priority 1.
 */
#ifndef AMBIENT_DOMAIN_EVENT_TYPES_H
#define AMBIENT_DOMAIN_EVENT_TYPES_H

#include <stddef.h>

/* Who emits a type. */
enum event_source {
	EVENT_SOURCE_LIFECYCLE, /* task commands: create, update, pause, ... */
	EVENT_SOURCE_MONITOR,   /* a running task found something */
	EVENT_SOURCE_DELIVERY,  /* the feedback webhook subscriber */
	EVENT_SOURCE_FEEDBACK,  /* the feedback server's own store: received, decided,
				 * notified */
};

struct event_type_info {
	const char *name; /* e.g. "web_content_change" */
	int priority;     /* default priority, 1..4 */
	enum event_source source;
	const char *description; /* one line */
	const char *data_fields; /* "url, content, keywords_found[], ..."; "?" marks optional */
};

#define EVENT_PRIORITY_DEFAULT 1

/* The row of a type, or NULL when it is not catalogued (or name is NULL). */
const struct event_type_info *event_type_find(const char *name);

/* Default priority of a type; EVENT_PRIORITY_DEFAULT for unknown types. */
int event_type_priority(const char *name);

/* Iterate: for (i = 0; i < event_type_count(); i++) event_type_at(i).
 * event_type_at returns NULL past the end.  Order is the catalogue's. */
size_t event_type_count(void);
const struct event_type_info *event_type_at(size_t i);

/* "lifecycle", "monitor" or "delivery". */
const char *event_source_name(enum event_source s);

#endif
