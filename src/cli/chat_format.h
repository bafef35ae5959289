/*
 * chat_format.h - how `ambient chat` shows things: events as they arrive,
 * notification outcomes, the task list, recent events, tool calls.  Pure
 * functions from JSON to text (heap strings, lines ending in '\n'), so the
 * tests can check them without a terminal.
 */
#ifndef AMBIENT_CLI_CHAT_FORMAT_H
#define AMBIENT_CLI_CHAT_FORMAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* An event in the feedback payload's shape (task_id, event_type, priority,
 * timestamp, description, data, ...): a head line and a few indented lines
 * of what it says (per type: the page and keywords, the reminder, the
 * headlines, the metric...). */
char *chat_format_event(const json_t *ev);

/* A store event (get_recent_events / event://: position, event_id, type,
 * data, recorded_at, task_id, priority) in the feedback payload's shape
 * (new object). */
json_t *chat_format_normalize(const json_t *store_event);

/* A notification outcome frame of the feedback stream (kind
 * "notification": outcome, channel, to, message, reason, error ...). */
char *chat_format_notification(const json_t *n);

/* The text of list_background_tasks' result (the original's JSON text, or
 * its structuredContent): a table, or what the tool said on failure. */
char *chat_format_tasks(const json_t *call_result);

/* get_recent_events' result: one line per event, newest first. */
char *chat_format_recent(const json_t *call_result);

/* One line about a tool call: name and arguments, cut to width. */
char *chat_format_tool_call(const char *name, const char *args, size_t width);
/* One line about a tool result: the result's "message" (the original's
 * shape) or its first line, cut to width. */
char *chat_format_tool_result(const char *text, bool is_error, size_t width);

/* The original JSON object of a tool result (its first text part parsed,
 * else structuredContent), new reference, or NULL. */
json_t *chat_format_result_object(const json_t *call_result);

#endif
