/*
 * chat_format.c - the text `ambient chat` shows (see chat_format.h).
 */
#define _GNU_SOURCE
#include "chat_format.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/xalloc.h"

#define INDENT "        "
#define LINE_MAX_CPS 160 /* code points of one detail line */
#define DIGEST_LINES 6   /* headlines shown of a digest */

static struct buf out_buf(void)
{
	struct buf b;
	buf_init(&b, (size_t)-1 / 2);
	return b;
}

static char *done(struct buf *b)
{
	char *s = buf_steal(b);
	buf_cleanup(b);
	return s;
}

/* s with runs of white space made one space, trimmed, cut to max code
 * points (with "..."); new string. */
static char *one_line(const char *s, size_t max)
{
	struct buf b = out_buf();
	size_t cps = 0;
	bool space = false;
	if (!s)
		s = "";
	while (isspace((unsigned char)*s))
		s++;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (isspace(c)) {
			space = true;
			continue;
		}
		if ((c & 0xC0) != 0x80) {
			if (cps + (space ? 1 : 0) >= max) {
				buf_puts(&b, "...");
				break;
			}
			if (space) {
				buf_puts(&b, " ");
				cps++;
			}
			space = false;
			cps++;
		}
		buf_append(&b, p, 1);
	}
	return done(&b);
}

static void line_in(struct buf *b, const char *indent, const char *text)
{
	char *l = one_line(text, LINE_MAX_CPS);
	if (*l)
		buf_printf(b, INDENT "%s%s\n", indent, l);
	free(l);
}

static void line(struct buf *b, const char *text)
{
	line_in(b, "", text);
}

/* "a, b, c" of an array of strings, or NULL when it has none. */
static char *join(const json_t *arr, size_t max_items)
{
	struct buf b = out_buf();
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v))
			continue;
		if (i >= max_items) {
			buf_printf(&b, ", ... (%zu more)", json_array_size(arr) - i);
			break;
		}
		buf_printf(&b, "%s%s", b.len ? ", " : "", json_string_value(v));
	}
	if (!b.len) {
		buf_cleanup(&b);
		return NULL;
	}
	return done(&b);
}

/* The clock time of an ISO-8601 date-time ("21:03:24"), or "". */
static void clock_part(const char *iso, char out[16])
{
	const char *t = iso ? strchr(iso, 'T') : NULL;
	out[0] = '\0';
	if (t && strlen(t + 1) >= 8)
		snprintf(out, 16, "%.8s", t + 1);
}

static const char *str_or(const json_t *o, const char *k, const char *def)
{
	const char *s = json_get_str(o, k);
	return s ? s : def;
}

/* A number member as text ("52000.5"), or "?". */
static void num_text(const json_t *o, const char *k, char out[64])
{
	json_t *v = json_object_get(o, k);
	if (json_is_integer(v))
		snprintf(out, 64, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(out, 64, "%g", json_real_value(v));
	else if (json_is_string(v))
		snprintf(out, 64, "%s", json_string_value(v));
	else
		snprintf(out, 64, "?");
}

static void web_change(struct buf *b, const json_t *d)
{
	char *kw = join(json_object_get(d, "keywords_found"), 8);
	char *l = xasprintf("%s%s%s", str_or(d, "url", "(no url)"), kw ? " - keywords: " : "",
			    kw ? kw : "");
	line(b, l);
	free(l);
	free(kw);
	const char *title = json_get_str(d, "title");
	if (title)
		line(b, title);
	json_t *snips = json_object_get(d, "snippets");
	json_t *added = json_object_get(d, "added_lines");
	const char *text = json_string_value(json_array_get(snips, 0));
	if (!text)
		text = json_string_value(json_array_get(added, 0));
	if (!text)
		text = json_get_str(d, "content");
	if (text)
		line(b, text);
}

static void schedule(struct buf *b, const json_t *d)
{
	const json_t *cfg = json_object_get(d, "schedule_config");
	const char *msg = json_get_str(d, "message");
	const char *action = json_get_str(d, "action");
	if (!msg)
		msg = json_get_str(cfg, "message");
	if (!action)
		action = json_get_str(cfg, "action");
	if (msg)
		line(b, msg);
	if (action) {
		char *l = xasprintf("action: %s", action);
		line(b, l);
		free(l);
	}
}

static void digest(struct buf *b, const json_t *d)
{
	size_t i, shown = 0;
	json_t *s;
	json_array_foreach(json_object_get(d, "news_summaries"), i, s) {
		const char *src = str_or(s, "title", str_or(s, "source", "?"));
		json_t *heads = json_object_get(s, "headlines");
		if (json_get_str(s, "error")) {
			char *l = xasprintf("%s: %s", src, json_get_str(s, "error"));
			line(b, l);
			free(l);
			continue;
		}
		char *l = xasprintf("%s (%zu headlines)", src, json_array_size(heads));
		line(b, l);
		free(l);
		size_t j;
		json_t *h;
		json_array_foreach(heads, j, h) {
			if (shown >= DIGEST_LINES || j >= 3)
				break;
			const char *ht =
				json_is_string(h) ? json_string_value(h) : json_get_str(h, "title");
			char *hl = xasprintf("- %s", ht ? ht : "?");
			line_in(b, "  ", hl);
			free(hl);
			shown++;
		}
	}
}

static void threshold(struct buf *b, const json_t *d)
{
	char cur[64], thr[64];
	num_text(d, "current_value", cur);
	num_text(d, "threshold", thr);
	char *l = xasprintf("%s is %s (%s %s)", str_or(d, "metric", "the metric"), cur,
			    str_or(d, "comparison", "threshold"), thr);
	line(b, l);
	free(l);
}

static void failed(struct buf *b, const json_t *d)
{
	const char *url = json_get_str(d, "url");
	const char *err = str_or(d, "error", "the check failed");
	if (url && strstr(err, url))
		url = NULL; /* the message names it already */
	char *l = xasprintf("%s%s%s", err, url ? " - " : "", url ? url : "");
	line(b, l);
	free(l);
}

char *chat_format_event(const json_t *ev)
{
	struct buf b = out_buf();
	const char *type = str_or(ev, "event_type", str_or(ev, "type", "event"));
	const json_t *d = json_object_get(ev, "data");
	const char *task = json_get_str(ev, "task_id");
	char when[16];

	clock_part(str_or(ev, "timestamp", json_get_str(ev, "received_at")), when);
	buf_printf(&b, "[event] %s (priority %lld)", type, json_get_int(ev, "priority", 1));
	if (task)
		buf_printf(&b, " task %s", task);
	if (*when)
		buf_printf(&b, " at %s", when);
	buf_puts(&b, "\n");
	const char *desc = json_get_str(ev, "description");
	if (!desc)
		desc = json_get_str(d, "description");
	if (desc)
		line(&b, desc);
	if (strcmp(type, "web_content_change") == 0) {
		web_change(&b, d);
	} else if (strcmp(type, "scheduled_trigger") == 0) {
		schedule(&b, d);
	} else if (strcmp(type, "daily_news_digest") == 0) {
		digest(&b, d);
	} else if (strcmp(type, "threshold_breach") == 0) {
		threshold(&b, d);
	} else if (strcmp(type, "task_check_failed") == 0) {
		failed(&b, d);
	} else if (json_object_size(d)) {
		char *t = json_dumps(d, JSON_COMPACT);
		line(&b, t ? t : "");
		free(t);
	}
	return done(&b);
}

json_t *chat_format_normalize(const json_t *se)
{
	const json_t *d = json_object_get(se, "data");
	json_t *ev = json_object();
	const char *task = json_get_str(se, "task_id");
	if (!task)
		task = json_get_str(d, "task_id");
	if (task)
		json_object_set_new(ev, "task_id", json_string(task));
	json_object_set_new(ev, "event_type", json_string(str_or(se, "type", "event")));
	json_object_set_new(ev, "priority", json_integer(json_get_int(se, "priority", 1)));
	if (json_get_str(se, "recorded_at"))
		json_object_set(ev, "timestamp", json_object_get(se, "recorded_at"));
	if (json_get_str(se, "event_id"))
		json_object_set(ev, "event_id", json_object_get(se, "event_id"));
	if (json_get_str(d, "description"))
		json_object_set(ev, "description", json_object_get(d, "description"));
	json_object_set(ev, "data", d ? (json_t *)d : json_object());
	if (json_is_integer(json_object_get(se, "position")))
		json_object_set(ev, "position", json_object_get(se, "position"));
	return ev;
}

char *chat_format_notification(const json_t *n)
{
	struct buf b = out_buf();
	const char *outcome = json_get_str(n, "outcome");
	const char *type = json_get_str(n, "type");
	const char *channel = str_or(n, "channel", "?");
	const char *to = json_get_str(n, "to");
	const char *text = json_get_str(n, "message");
	if (!outcome && type && strncmp(type, "notification_", 13) == 0)
		outcome = type + 13;
	size_t cl = strlen(channel);
	if (to && strncmp(to, channel, cl) == 0 && to[cl] == ' ')
		buf_printf(&b, "[notification] %s: %s", outcome ? outcome : "?", to);
	else
		buf_printf(&b, "[notification] %s: %s%s%s", outcome ? outcome : "?", channel,
			   to ? " " : "", to ? to : "");
	if (json_get_str(n, "task_id"))
		buf_printf(&b, " (task %s)", json_get_str(n, "task_id"));
	buf_puts(&b, "\n");
	if (text)
		line(&b, text);
	const char *why = json_get_str(n, "reason");
	if (!why)
		why = json_get_str(n, "error");
	if (why)
		line(&b, why);
	return done(&b);
}

json_t *chat_format_result_object(const json_t *r)
{
	const char *text = json_get_str(json_array_get(json_object_get(r, "content"), 0), "text");
	json_t *o = text ? json_loads(text, 0, NULL) : NULL;
	if (json_is_object(o))
		return o;
	json_decref(o);
	json_t *sc = json_object_get(r, "structuredContent");
	return json_is_object(sc) ? json_incref(sc) : NULL;
}

/* A failed call's words: the original's error/message, else its text. */
static char *failure_text(const json_t *r, const json_t *o)
{
	const char *m = json_get_str(o, "error");
	if (!m)
		m = json_get_str(o, "message");
	if (!m)
		m = json_get_str(json_array_get(json_object_get(r, "content"), 0), "text");
	return xasprintf("error: %s\n", m ? m : "the tool failed");
}

/* When a task checks, from its config: "every 30 min", "daily 08:00", ... */
static void when_text(const json_t *t, char out[40])
{
	const json_t *c = json_object_get(t, "config");
	const char *type = json_get_str(t, "task_type");
	const char *stype = json_get_str(c, "type");
	long long every = json_get_int(c, "check_interval_minutes", -1);
	out[0] = '\0';
	if (json_get_str(c, "cron") || (stype && strcmp(stype, "cron") == 0)) {
		snprintf(out, 40, "cron %s", str_or(c, "cron", str_or(c, "expression", "?")));
	} else if (stype && strcmp(stype, "once") == 0) {
		snprintf(out, 40, "once %.16s", str_or(c, "at", "?"));
	} else if (stype && strcmp(stype, "weekly") == 0) {
		snprintf(out, 40, "weekly %02lld:%02lld", json_get_int(c, "hour", 8),
			 json_get_int(c, "minute", 0));
	} else if (stype && strcmp(stype, "interval") == 0) {
		snprintf(out, 40, "every %lld min", json_get_int(c, "minutes", 60));
	} else if ((stype && strcmp(stype, "daily") == 0) ||
		   (type && strcmp(type, "news_digest") == 0)) {
		snprintf(out, 40, "daily %02lld:%02lld", json_get_int(c, "hour", 8),
			 json_get_int(c, "minute", 0));
	} else if (every > 0) {
		snprintf(out, 40, "every %lld min", every);
	}
}

char *chat_format_tasks(const json_t *r)
{
	json_t *o = chat_format_result_object(r);
	struct buf b = out_buf();
	if (json_is_true(json_object_get(r, "isError")) ||
	    strcmp(str_or(o, "status", "success"), "success") != 0) {
		char *f = failure_text(r, o);
		json_decref(o);
		buf_cleanup(&b);
		return f;
	}
	json_t *tasks = json_object_get(json_object_get(o, "data"), "tasks");
	if (!json_array_size(tasks)) {
		buf_puts(&b, "No background tasks yet. Ask for one (\"monitor ...\"), or type "
			     "`demo` for the seed's three.\n");
		json_decref(o);
		return done(&b);
	}
	buf_printf(&b, "%-8s  %-15s  %-6s  %-14s  %-19s  %s\n", "TASK", "TYPE", "STATUS", "WHEN",
		   "LAST CHECK", "DESCRIPTION");
	size_t i;
	json_t *t;
	json_array_foreach(tasks, i, t) {
		char when[40], last[20];
		const char *lc = json_get_str(t, "last_check");
		when_text(t, when);
		snprintf(last, sizeof last, "%s", lc ? lc : "-");
		if (lc && strlen(last) > 10 && last[10] == 'T')
			last[10] = ' ';
		char *desc = one_line(str_or(t, "description", ""), 60);
		buf_printf(&b, "%-8.8s  %-15s  %-6s  %-14s  %-19s  %s\n", str_or(t, "task_id", "?"),
			   str_or(t, "task_type", "?"), str_or(t, "status", "?"),
			   *when ? when : "-", last, desc);
		free(desc);
	}
	buf_printf(&b, "(%zu task%s; ids are shown by their first 8 characters)\n",
		   json_array_size(tasks), json_array_size(tasks) == 1 ? "" : "s");
	json_decref(o);
	return done(&b);
}

char *chat_format_recent(const json_t *r)
{
	json_t *o = chat_format_result_object(r);
	struct buf b = out_buf();
	if (json_is_true(json_object_get(r, "isError")) ||
	    strcmp(str_or(o, "status", "success"), "success") != 0) {
		char *f = failure_text(r, o);
		json_decref(o);
		buf_cleanup(&b);
		return f;
	}
	json_t *evs = json_object_get(json_object_get(o, "data"), "events");
	if (!json_array_size(evs)) {
		buf_puts(&b, "No events yet.\n");
		json_decref(o);
		return done(&b);
	}
	size_t i;
	json_t *se;
	json_array_foreach(evs, i, se) {
		const json_t *d = json_object_get(se, "data");
		const char *at = str_or(se, "recorded_at", "");
		char stamp[20];
		snprintf(stamp, sizeof stamp, "%s", at);
		if (strlen(stamp) > 10 && stamp[10] == 'T')
			stamp[10] = ' ';
		const char *what = json_get_str(d, "description");
		if (!what)
			what = json_get_str(d, "message");
		if (!what)
			what = json_get_str(d, "error");
		char *w = one_line(what ? what : "", 70);
		const char *task = json_get_str(se, "task_id");
		buf_printf(&b, "%-19s  %-22s  %-8.8s  %s\n", stamp, str_or(se, "type", "?"),
			   task ? task : "-", w);
		free(w);
	}
	json_decref(o);
	return done(&b);
}

char *chat_format_tool_call(const char *name, const char *args, size_t width)
{
	char *a = one_line(args ? args : "{}", width > 20 ? width - 12 : 40);
	char *l = xasprintf("  -> %s %s\n", name ? name : "?", a);
	free(a);
	return l;
}

char *chat_format_tool_result(const char *text, bool is_error, size_t width)
{
	json_t *o = text ? json_loads(text, 0, NULL) : NULL;
	const char *m = json_get_str(o, "message");
	if (!m)
		m = json_get_str(o, "error");
	char *first = NULL;
	if (!m && text) {
		const char *nl = strchr(text, '\n');
		first = nl ? xstrndup(text, (size_t)(nl - text)) : xstrdup(text);
		m = first;
	}
	bool failed = is_error || (o && strcmp(str_or(o, "status", "success"), "error") == 0);
	char *w = one_line(m ? m : "", width > 20 ? width - 10 : 60);
	char *l = xasprintf("  <- %s%s\n", failed ? "error: " : "", w);
	free(w);
	free(first);
	json_decref(o);
	return l;
}
