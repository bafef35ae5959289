/*
 * event_types.c - the event catalogue as a table.
 *
 * Data fields of the monitor events are the original's payloads (see
 * ORIGIN.md section 2) plus the optional fields ambient adds; "?" marks a
 * field that may be absent, "[]" an array.
 */
#include "event_types.h"

#include <string.h>

static const struct event_type_info catalogue[] = {
	/* task lifecycle: stream task-<id>, written by the task commands */
	{"task_created", 1, EVENT_SOURCE_LIFECYCLE, "a background task was created",
	 "task_id, task_type, description, config, callback_url, user_id"},
	{"task_updated", 1, EVENT_SOURCE_LIFECYCLE,
	 "a task's description, config or callback URL changed",
	 "task_id, changes{description?, config?, callback_url?}"},
	{"task_paused", 1, EVENT_SOURCE_LIFECYCLE, "a task was paused and stops checking",
	 "task_id, reason?, automatic?"},
	{"task_resumed", 1, EVENT_SOURCE_LIFECYCLE, "a paused task was resumed", "task_id"},
	{"task_deleted", 1, EVENT_SOURCE_LIFECYCLE, "a task was deleted for good", "task_id"},
	{"task_run_requested", 1, EVENT_SOURCE_LIFECYCLE,
	 "someone asked for one check of the task now, outside its schedule (MCP run_task_now); "
	 "the engine runs it when it picks the request up",
	 "task_id, reason?"},
	{"task_check_failed", 3, EVENT_SOURCE_LIFECYCLE,
	 "a task's check failed (fetch error, bad response, unparsable value)",
	 "task_id, error, failure, url?, status_code?, consecutive_failures, max_failures"},

	/* monitor output: what the task is for */
	{"web_content_change", 3, EVENT_SOURCE_MONITOR,
	 "a monitored page changed (and matched the keywords, when some are set)",
	 "url, final_url, content, keywords_found[], snippets[], added_lines[], added_count, "
	 "removed_lines, first_check, content_hash, title?, description, user_id"},
	{"scheduled_trigger", 2, EVENT_SOURCE_MONITOR, "a schedule came due",
	 "trigger_time, schedule_config, action?, message?, catch_up, missed, run_now?, description, "
	 "user_id"},
	{"daily_news_digest", 2, EVENT_SOURCE_MONITOR, "the daily digest of the news sources",
	 "digest_date, news_summaries[{source, kind, feed_url?, title?, headlines[], items[], error?}], "
	 "total_items, categories?, description, user_id"},
	{"threshold_breach", 4, EVENT_SOURCE_MONITOR, "a watched metric crossed its threshold",
	 "metric, current_value, previous_value, threshold, comparison, hysteresis, source_url, "
	 "description, user_id"},

	/* delivery of events to the feedback server */
	{"feedback_delivered", 1, EVENT_SOURCE_DELIVERY,
	 "an event was delivered to the task's callback URL",
	 "event_id, position, callback_url, status_code, attempts"},
	{"feedback_failed", 1, EVENT_SOURCE_DELIVERY,
	 "delivering an event to the callback URL failed for good",
	 "event_id, position, callback_url, error, attempts, status_code?"},
	/* the feedback server's store (stream feedback-<task_id>) */
	{"feedback_received", 1, EVENT_SOURCE_FEEDBACK,
	 "the feedback server stored a delivered event",
	 "the payload (task_id, event_type, data, timestamp, priority, event_id?, task_type?, "
	 "user_id?, description?, position?, notification?), received_at"},
	{"feedback_decided", 1, EVENT_SOURCE_FEEDBACK,
	 "the feedback server decided whether and how to tell the person",
	 "event, feedback_id, decision{action, decided_by, reason, targets[], message?, model?, "
	 "llm_error?}"},
	{"notification_sent", 1, EVENT_SOURCE_FEEDBACK, "a provider accepted a notification",
	 "event, feedback_id, task_id, event_type, priority, channel, to, provider_id?, message, "
	 "subject?, status, attempts, digest?"},
	{"notification_failed", 1, EVENT_SOURCE_FEEDBACK,
	 "a notification was refused, or still failed after its retries",
	 "event, feedback_id, task_id, event_type, priority, channel, to, error, status, attempts"},
	{"notification_skipped", 1, EVENT_SOURCE_FEEDBACK,
	 "a notification was not attempted: its channel has no credentials",
	 "event, feedback_id, task_id, event_type, priority, channel, to, reason"},
	{"notification_suppressed", 1, EVENT_SOURCE_FEEDBACK,
	 "a rule or the LLM decided the person need not hear about it",
	 "event, feedback_id, task_id, event_type, priority, channel, to, rule, reason"},

	/* memories: stream memory-<user_id>, written by the memory tools */
	{"memory_remembered", 1, EVENT_SOURCE_LIFECYCLE,
	 "a memory was stored, or replaced (same key) (MCP remember)",
	 "key, value, category, importance, user_id"},
	{"memory_updated", 1, EVENT_SOURCE_LIFECYCLE,
	 "a memory's value, category or importance changed (MCP update_memory)",
	 "key, value?, category?, importance?"},
	{"memory_forgotten", 1, EVENT_SOURCE_LIFECYCLE, "a memory was deleted (MCP forget)", "key"},

	/* security: streams apikey-<key_id>, authz-<request_id>, audit-<day> */
	{"api_key_created", 1, EVENT_SOURCE_LIFECYCLE,
	 "an API key was made (ambient keys create); only its SHA-256 is kept",
	 "key_id, user_id, role, scopes, label?, hash"},
	{"api_key_revoked", 1, EVENT_SOURCE_LIFECYCLE, "an API key was revoked", "key_id, reason?"},
	{"authorization_requested", 1, EVENT_SOURCE_LIFECYCLE,
	 "a HIGH or CRITICAL tool call waits for an admin's approval",
	 "request_id, tool, user_id, principal, level, reason, arguments (redacted), "
	 "requested_at_us, expires_at_us"},
	{"authorization_approved", 1, EVENT_SOURCE_LIFECYCLE,
	 "an admin approved a request: the identical call may run for 1 hour",
	 "request_id, approved_by, approved_at_us, valid_until_us"},
	{"authorization_denied", 1, EVENT_SOURCE_LIFECYCLE, "an admin denied a request",
	 "request_id, denied_by, reason"},
	{"tool_called", 1, EVENT_SOURCE_LIFECYCLE,
	 "the audit record of one MCP tool call, whatever its outcome",
	 "tool, principal, principal_user, key_id?, user_id, role, level, outcome, duration_ms, "
	 "arguments (redacted, contacts masked), request_id?, error?"},
};

#define CATALOGUE_LEN (sizeof catalogue / sizeof catalogue[0])

const struct event_type_info *event_type_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < CATALOGUE_LEN; i++)
		if (strcmp(catalogue[i].name, name) == 0)
			return &catalogue[i];
	return NULL;
}

int event_type_priority(const char *name)
{
	const struct event_type_info *t = event_type_find(name);

	return t ? t->priority : EVENT_PRIORITY_DEFAULT;
}

size_t event_type_count(void)
{
	return CATALOGUE_LEN;
}

const struct event_type_info *event_type_at(size_t i)
{
	return i < CATALOGUE_LEN ? &catalogue[i] : NULL;
}

const char *event_source_name(enum event_source s)
{
	switch (s) {
	case EVENT_SOURCE_LIFECYCLE:
		return "lifecycle";
	case EVENT_SOURCE_MONITOR:
		return "monitor";
	case EVENT_SOURCE_DELIVERY:
		return "delivery";
	case EVENT_SOURCE_FEEDBACK:
		return "feedback";
	}
	return "unknown";
}
