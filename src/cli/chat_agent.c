/*
 * chat_agent.c - the agent loop of `ambient chat` (see chat_agent.h): the
 * conversation, MCP tools as OpenAI function tools, the step limit, tool
 * results back to the model, and the prompts.
 */
#define _GNU_SOURCE
#include "chat_agent.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"

#define API_NAME_MAX 64
#define API_DESC_MAX 1024   /* OpenAI's limit on a function's description */
#define EVENT_DATA_MAX 4000 /* bytes of one event's data shown to the model */
#define EVENTS_MAX 20       /* events in one event message */

struct chat_agent {
	struct chat_agent_options o;
	struct chat_agent_hooks h;
	json_t *extra;
	char *system;
	json_t *tools;   /* OpenAI function tools */
	json_t *names;   /* api name -> MCP name */
	json_t *history; /* user, assistant and tool messages */
};

struct chat_agent *chat_agent_new(const struct chat_agent_options *o,
				  const struct chat_agent_hooks *hooks)
{
	struct chat_agent *a = xcalloc(1, sizeof *a);
	if (o)
		a->o = *o;
	if (hooks)
		a->h = *hooks;
	if (a->o.max_steps <= 0)
		a->o.max_steps = CHAT_AGENT_DEFAULT_STEPS;
	if (!a->o.max_history)
		a->o.max_history = CHAT_AGENT_DEFAULT_HISTORY;
	if (!a->o.max_tool_result)
		a->o.max_tool_result = CHAT_AGENT_DEFAULT_TOOL_RESULT;
	a->extra = o && o->extra ? json_deep_copy(o->extra) : NULL;
	a->o.extra = NULL;
	a->tools = json_array();
	a->names = json_object();
	a->history = json_array();
	return a;
}

void chat_agent_free(struct chat_agent *a)
{
	if (!a)
		return;
	json_decref(a->extra);
	json_decref(a->tools);
	json_decref(a->names);
	json_decref(a->history);
	free(a->system);
	free(a);
}

void chat_agent_set_system(struct chat_agent *a, const char *prompt)
{
	free(a->system);
	a->system = prompt ? xstrdup(prompt) : NULL;
}

const json_t *chat_agent_history(const struct chat_agent *a)
{
	return a->history;
}

void chat_agent_reset(struct chat_agent *a)
{
	json_array_clear(a->history);
}

/* ---- tools ------------------------------------------------------------------------------ */

/* An API-safe name for an MCP tool name, unique in `taken`. */
static void api_name(const char *mcp, const json_t *taken, char out[API_NAME_MAX + 1])
{
	size_t n = 0;
	for (const char *p = mcp; *p && n < API_NAME_MAX; p++)
		out[n++] = isalnum((unsigned char)*p) || *p == '_' || *p == '-' ? *p : '_';
	if (!n)
		out[n++] = '_';
	out[n] = '\0';
	for (int i = 2; json_object_get(taken, out) && i < 10000; i++) {
		char suffix[8];
		int sl = snprintf(suffix, sizeof suffix, "_%d", i);
		size_t keep = n + (size_t)sl > API_NAME_MAX ? API_NAME_MAX - (size_t)sl : n;
		memcpy(out + keep, suffix, (size_t)sl + 1);
	}
}

/* Cut s to at most max bytes at a space (or a UTF-8 boundary); new string. */
static char *cut_text(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return xstrdup(s);
	size_t end = max;
	while (end > 0 && ((unsigned char)s[end] & 0xC0) == 0x80)
		end--;
	size_t sp = end;
	while (sp > max / 2 && s[sp] != ' ')
		sp--;
	if (sp > max / 2)
		end = sp;
	return xstrndup(s, end);
}

json_t *chat_agent_openai_tools(const json_t *mcp_tools, json_t *names)
{
	json_t *out = json_array(), *taken = json_object(), *t;
	size_t i;

	json_array_foreach(mcp_tools, i, t) {
		const char *name = json_get_str(t, "name");
		const char *desc = json_get_str(t, "description");
		json_t *schema = json_object_get(t, "inputSchema");
		char an[API_NAME_MAX + 1];

		if (!name || !*name)
			continue;
		if (!desc || !*desc)
			desc = json_get_str(t, "title");
		api_name(name, taken, an);
		json_object_set_new(taken, an, json_string(name));
		json_t *params = json_is_object(schema) ? json_deep_copy(schema) : json_object();
		json_object_del(params, "$schema");
		if (!json_get_str(params, "type"))
			json_object_set_new(params, "type", json_string("object"));
		if (!json_is_object(json_object_get(params, "properties")))
			json_object_set_new(params, "properties", json_object());
		json_t *fn = json_pack("{s:s}", "name", an);
		if (desc && strlen(desc) > API_DESC_MAX) {
			/* The whole text stays with the parameters; the function gets
			 * its beginning. */
			char *head = cut_text(desc, API_DESC_MAX - 60);
			char *d = xasprintf("%s ... (the parameters' description has the rest)",
					    head);
			json_object_set_new(fn, "description", json_string_lossy(d));
			if (!json_get_str(params, "description"))
				json_object_set_new(params, "description", json_string_lossy(desc));
			free(head);
			free(d);
		} else if (desc) {
			json_object_set_new(fn, "description", json_string_lossy(desc));
		}
		json_object_set_new(fn, "parameters", params);
		json_array_append_new(out,
				      json_pack("{s:s, s:o}", "type", "function", "function", fn));
	}
	if (names)
		json_object_update(names, taken);
	json_decref(taken);
	return out;
}

size_t chat_agent_set_tools(struct chat_agent *a, const json_t *mcp_tools)
{
	json_decref(a->tools);
	json_object_clear(a->names);
	a->tools = chat_agent_openai_tools(mcp_tools, a->names);
	return json_array_size(a->tools);
}

bool chat_agent_has_tool(const struct chat_agent *a, const char *name)
{
	const char *k;
	json_t *v;
	json_object_foreach(a->names, k, v) {
		if (strcmp(json_string_value(v), name) == 0)
			return true;
	}
	return false;
}

/* ---- tool results ------------------------------------------------------------------------ */

char *chat_agent_result_text(const json_t *result, size_t max, bool *is_error)
{
	struct buf b;
	json_t *content = json_object_get(result, "content"), *part;
	size_t i;

	*is_error = json_is_true(json_object_get(result, "isError"));
	buf_init(&b, (size_t)-1 / 2);
	json_array_foreach(content, i, part) {
		const char *type = json_get_str(part, "type");
		if (b.len)
			buf_puts(&b, "\n");
		if (type && strcmp(type, "text") == 0) {
			buf_puts(&b, json_get_str(part, "text") ? json_get_str(part, "text") : "");
		} else if (type && strcmp(type, "resource_link") == 0) {
			buf_printf(&b, "[resource link: %s]",
				   json_get_str(part, "uri") ? json_get_str(part, "uri") : "?");
		} else if (type && strcmp(type, "resource") == 0) {
			json_t *r = json_object_get(part, "resource");
			const char *t = json_get_str(r, "text");
			if (t)
				buf_puts(&b, t);
			else
				buf_printf(&b, "[binary resource %s]",
					   json_get_str(r, "uri") ? json_get_str(r, "uri") : "?");
		} else {
			const char *data = json_get_str(part, "data");
			buf_printf(&b, "[%s content, %s, %zu bytes of base64]",
				   type ? type : "unknown",
				   json_get_str(part, "mimeType") ? json_get_str(part, "mimeType")
								  : "no type",
				   data ? strlen(data) : 0);
		}
	}
	if (!b.len && json_object_get(result, "structuredContent")) {
		char *s = json_dumps(json_object_get(result, "structuredContent"), JSON_COMPACT);
		buf_puts(&b, s ? s : "");
		free(s);
	}
	if (!b.len)
		buf_puts(&b, *is_error ? "(the tool failed without a message)" : "(no output)");
	char *text = buf_steal(&b);
	buf_cleanup(&b);
	size_t n = strlen(text);
	if (max && n > max) {
		size_t end = max;
		while (end > 0 && ((unsigned char)text[end] & 0xC0) == 0x80)
			end--;
		char *cut = xasprintf("%.*s\n[... %zu more bytes cut]", (int)end, text, n - end);
		free(text);
		text = cut;
	}
	return text;
}

/* ---- the turn --------------------------------------------------------------------------- */

static int on_stream_text(void *ud, const char *text, size_t len)
{
	struct chat_agent *a = ud;
	if (a->h.on_text)
		a->h.on_text(a->h.ud, text, len);
	return 0;
}

static bool on_stream_stop(void *ud)
{
	struct chat_agent *a = ud;
	return a->h.stop && a->h.stop(a->h.ud);
}

/* The messages of one model call: the system prompt, then the history. */
static json_t *request_messages(struct chat_agent *a)
{
	json_t *m = json_array();
	if (a->system && *a->system)
		json_array_append_new(
			m, json_pack("{s:s, s:s}", "role", "system", "content", a->system));
	json_array_extend(m, a->history);
	return m;
}

static int call_model(struct chat_agent *a, json_t **msg, struct err *e)
{
	json_t *messages = request_messages(a);
	json_t *tools = json_array_size(a->tools) ? a->tools : NULL;
	int rc;

	if (a->o.no_stream) {
		rc = llm_chat(&a->o.llm, messages, tools, a->extra, msg, e);
		const char *text = rc ? NULL : json_get_str(*msg, "content");
		if (text && *text && a->h.on_text)
			a->h.on_text(a->h.ud, text, strlen(text));
	} else {
		struct llm_stream_cb cb = {on_stream_text, on_stream_stop, a};
		rc = llm_chat_stream(&a->o.llm, messages, tools, a->extra, &cb, msg, e);
	}
	json_decref(messages);
	if (!rc && a->h.on_answer_end)
		a->h.on_answer_end(a->h.ud);
	return rc;
}

/* The assistant message as kept in the history: role, content, tool_calls. */
static json_t *keep_assistant(const json_t *msg)
{
	json_t *m = json_pack("{s:s}", "role", "assistant");
	json_t *content = json_object_get(msg, "content");
	json_t *calls = json_object_get(msg, "tool_calls");
	json_object_set(m, "content", content && !json_is_null(content) ? content : json_null());
	if (json_is_array(calls) && json_array_size(calls))
		json_object_set(m, "tool_calls", calls);
	if (json_is_null(json_object_get(m, "content")) && !json_object_get(m, "tool_calls"))
		json_object_set_new(m, "content", json_string(""));
	return m;
}

static void add_tool_message(struct chat_agent *a, const char *id, const char *text)
{
	json_array_append_new(a->history, json_pack("{s:s, s:s, s:s}", "role", "tool",
						    "tool_call_id", id ? id : "", "content", text));
}

/* Run one tool call of the model and record its result. */
static void run_tool_call(struct chat_agent *a, const json_t *call)
{
	const char *id = json_get_str(call, "id");
	json_t *fn = json_object_get(call, "function");
	const char *an = json_get_str(fn, "name");
	const char *args_text = json_get_str(fn, "arguments");
	const char *mcp = an ? json_string_value(json_object_get(a->names, an)) : NULL;
	char *text = NULL;
	bool is_error = false;
	json_t *args = NULL;

	if (!mcp) {
		struct buf b;
		const char *k;
		json_t *v;
		buf_init(&b, 8192);
		json_object_foreach(a->names, k, v) {
			buf_printf(&b, "%s%s", b.len ? ", " : "", k);
		}
		text = xasprintf("Error: there is no tool named '%s'. The tools are: %s.",
				 an ? an : "", b.len ? buf_str(&b) : "(none)");
		buf_cleanup(&b);
		is_error = true;
	} else {
		struct err pe = {0};
		if (!args_text || !*args_text) {
			args = json_object();
		} else {
			args = json_parse(args_text, (size_t)-1, &pe);
		}
		if (!json_is_object(args)) {
			text = xasprintf(
				"Error: the arguments of %s must be a JSON object; %s. Call it "
				"again with valid JSON arguments.",
				mcp, args ? "got another JSON value" : pe.msg);
			is_error = true;
		}
	}
	if (a->h.on_tool_call)
		a->h.on_tool_call(a->h.ud, mcp ? mcp : (an ? an : ""),
				  args_text && *args_text ? args_text : "{}");
	if (!text) {
		if (a->h.call_tool) {
			a->h.call_tool(a->h.ud, mcp, args, &text, &is_error);
		}
		if (!text) {
			text = xstrdup("Error: this tool cannot be run here.");
			is_error = true;
		}
	}
	if (a->h.on_tool_result)
		a->h.on_tool_result(a->h.ud, mcp ? mcp : (an ? an : ""), text, is_error);
	add_tool_message(a, id, text);
	free(text);
	json_decref(args);
}

/* Drop the oldest turns (from the start up to the next user message) while
 * the history is larger than max_history; the last turn always stays. */
static void trim_history(struct chat_agent *a)
{
	for (;;) {
		char *s = json_dumps(a->history, JSON_COMPACT);
		size_t n = s ? strlen(s) : 0;
		free(s);
		if (n <= a->o.max_history)
			return;
		size_t next = 0, size = json_array_size(a->history);
		for (size_t i = 1; i < size; i++) {
			const char *role = json_get_str(json_array_get(a->history, i), "role");
			if (role && strcmp(role, "user") == 0) {
				next = i;
				break;
			}
		}
		if (!next)
			return;
		for (size_t i = 0; i < next; i++)
			json_array_remove(a->history, 0);
	}
}

int chat_agent_turn(struct chat_agent *a, const char *text, char **answer, struct err *e)
{
	size_t start = json_array_size(a->history);
	int rc = ERR_OK;

	*answer = NULL;
	json_array_append_new(a->history,
			      json_pack("{s:s, s:s}", "role", "user", "content", text ? text : ""));
	for (int step = 0; step < a->o.max_steps; step++) {
		json_t *msg = NULL;
		if ((rc = call_model(a, &msg, e))) {
			if (step == 0) /* nothing happened: as before the turn */
				while (json_array_size(a->history) > start)
					json_array_remove(a->history, start);
			return rc;
		}
		json_t *kept = keep_assistant(msg);
		json_decref(msg);
		json_array_append_new(a->history, kept);
		json_t *calls = json_object_get(kept, "tool_calls");
		if (!json_array_size(calls)) {
			const char *content = json_get_str(kept, "content");
			*answer = xstrdup(content ? content : "");
			trim_history(a);
			return ERR_OK;
		}
		size_t i;
		json_t *call;
		bool stopped = false;
		json_array_foreach(calls, i, call) {
			if (!stopped && a->h.stop && a->h.stop(a->h.ud))
				stopped = true;
			if (stopped) /* every call needs its answer in the history */
				add_tool_message(a, json_get_str(call, "id"),
						 "Not run: the user interrupted.");
			else
				run_tool_call(a, call);
		}
		if (stopped) {
			trim_history(a);
			return err_set(e, ERR_STATE, "interrupted");
		}
	}
	trim_history(a);
	return err_set(e, ERR_TOO_BIG,
		       "the agent still wanted tools after %d model calls; it stopped there "
		       "(raise --max-steps, or ask for less at once)",
		       a->o.max_steps);
}

/* ---- prompts ---------------------------------------------------------------------------- */

char *chat_agent_system_prompt(const char *examples, const char *callback_url,
			       const char *instructions, bool has_sms, bool has_email)
{
	struct buf b;
	buf_init(&b, (size_t)-1 / 2);
	buf_puts(&b,
		 "You are the assistant of ambient, an event-driven system of background tasks. "
		 "The tasks you create keep running on the server after this conversation ends; "
		 "what they find is recorded as events and delivered to a feedback server, and "
		 "this chat shows those events as they arrive.\n\n"
		 "Task types (create them with create_background_task: task_type, description, "
		 "config):\n"
		 "- web_monitor: watch web pages for changes that contain keywords (urls, "
		 "keywords, check_interval_minutes, default 30).\n"
		 "- schedule: reminders and timed triggers (type daily with hour and minute, "
		 "weekly on days, interval in minutes, cron with an expression, or once at a "
		 "time; message is the reminder text).\n"
		 "- news_digest: a daily digest of headlines from news sites (news_urls, hour, "
		 "minute).\n"
		 "- threshold_watch: alert when a number such as a price crosses a threshold "
		 "(metric and/or metric_url, threshold, comparison, check_interval_minutes).\n");
	if (examples && *examples) {
		char *ex = cut_text(examples, 12000);
		buf_printf(&b,
			   "\nWorking configs of every type, from the server's resource "
			   "event://config/examples:\n%s\n",
			   ex);
		free(ex);
	}
	buf_puts(&b,
		 "\nRules:\n"
		 "1. When the person asks to monitor, watch, remind or summarise something "
		 "regularly, create a background task with a complete config. Put how they want "
		 "to be told in config.notification, e.g. {\"method\": \"send_sms\", "
		 "\"phone_number\": \"+1234567890\"} or {\"method\": \"send_email\", \"email\": "
		 "\"me@example.com\"}.\n");
	if (callback_url && *callback_url)
		buf_printf(&b,
			   "2. Set callback_url to \"%s\" so that the task's events reach this "
			   "chat.\n",
			   callback_url);
	else
		buf_puts(&b, "2. Leave callback_url out: the server's default delivers the task's "
			     "events to the feedback server.\n");
	buf_puts(&b,
		 "3. Use list_background_tasks, pause_background_task, resume_background_task, "
		 "delete_background_task and get_recent_events to manage tasks and report what "
		 "happened; never invent task ids.\n"
		 "4. After acting, say briefly what you did: the task id, what it checks and when, "
		 "and how the person will be told.\n"
		 "5. When a message starts with \"Background task event\", decide whether the "
		 "person should be told now. If so, ");
	if (has_sms || has_email)
		buf_printf(&b,
			   "call %s%s%s (to the recipient in the task's notification config) with "
			   "a short message, then say in one line what you sent. ",
			   has_sms ? "send_sms" : "", has_sms && has_email ? " or " : "",
			   has_email ? "send_email" : "");
	else
		buf_puts(&b, "say in one line what you would send: this server has no send_sms "
			     "or send_email tool. ");
	buf_puts(&b, "If not, answer exactly " CHAT_AGENT_NO_NOTIFICATION ".\n");
	if (instructions && *instructions) {
		char *in = cut_text(instructions, 4000);
		buf_printf(&b, "\nThe server says about itself: %s\n", in);
		free(in);
	}
	char *out = buf_steal(&b);
	buf_cleanup(&b);
	return out;
}

char *chat_agent_event_prompt(const json_t *events, bool has_sms, bool has_email)
{
	struct buf b;
	size_t i, n = json_array_size(events);
	json_t *ev;

	buf_init(&b, (size_t)-1 / 2);
	buf_printf(&b, "Background task event%s received:\n", n == 1 ? "" : "s");
	json_array_foreach(events, i, ev) {
		if (i >= EVENTS_MAX) {
			buf_printf(&b, "\n(%zu more events not shown)\n", n - i);
			break;
		}
		const char *s;
		buf_puts(&b, "\n");
		if (n > 1)
			buf_printf(&b, "Event %zu:\n", i + 1);
		buf_printf(&b, "Task ID: %s\n",
			   json_get_str(ev, "task_id") ? json_get_str(ev, "task_id") : "unknown");
		if ((s = json_get_str(ev, "task_type")))
			buf_printf(&b, "Task type: %s\n", s);
		if ((s = json_get_str(ev, "description")))
			buf_printf(&b, "Task description: %s\n", s);
		buf_printf(&b, "Event type: %s\n",
			   json_get_str(ev, "event_type") ? json_get_str(ev, "event_type")
							  : "unknown");
		buf_printf(&b, "Priority: %lld (1 routine .. 5 critical)\n",
			   json_get_int(ev, "priority", 1));
		if ((s = json_get_str(ev, "timestamp")))
			buf_printf(&b, "Timestamp: %s\n", s);
		json_t *notif = json_object_get(ev, "notification");
		if (!notif)
			notif = json_object_get(
				json_object_get(json_object_get(ev, "data"), "schedule_config"),
				"notification");
		if (notif) {
			char *t = json_dumps(notif, JSON_COMPACT);
			buf_printf(&b, "Notification config: %s\n", t ? t : "null");
			free(t);
		}
		char *d = json_dumps(json_object_get(ev, "data") ? json_object_get(ev, "data")
								 : json_object(),
				     JSON_INDENT(2));
		char *dc = cut_text(d ? d : "{}", EVENT_DATA_MAX);
		buf_printf(&b, "Data:\n%s%s\n", dc, d && strlen(d) > strlen(dc) ? "\n[...]" : "");
		free(d);
		free(dc);
	}
	buf_puts(&b, "\nPlease analyze this and decide:\n"
		     "1. Is it relevant and actionable for the person?\n"
		     "2. Should they be notified now?\n");
	if (has_sms || has_email)
		buf_printf(&b,
			   "3. If yes, notify them with %s%s%s (use the task's notification "
			   "config; keep an SMS under 160 characters) and say in one line what "
			   "you sent.\n",
			   has_sms ? "send_sms" : "", has_sms && has_email ? " or " : "",
			   has_email ? "send_email" : "");
	else
		buf_puts(&b, "3. If yes, say in one line what you would send (no send_sms or "
			     "send_email tool is available).\n");
	buf_puts(&b, "4. If no notification is needed, answer exactly " CHAT_AGENT_NO_NOTIFICATION
		     " and nothing else.\n");
	char *out = buf_steal(&b);
	buf_cleanup(&b);
	return out;
}

bool chat_agent_no_notification(const char *answer)
{
	return answer && strstr(answer, CHAT_AGENT_NO_NOTIFICATION) != NULL;
}
