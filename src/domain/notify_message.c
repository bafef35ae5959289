/*
 * notify_message.c - the words of a notification, per event type.
 *
 * Each event type has a renderer that fills a `struct parts`: a short title,
 * an SMS headline plus an optional detail (the part that gets shortened
 * first), the link, and the lines of the e-mail body.  One function then turns
 * the parts into the message, so the length rules (SMS code points, subject
 * bytes, body cap) live in one place.
 *
 * Events come from outside (a feedback payload), so every field may be
 * missing or of another type: getters return NULL/defaults, never crash.
 * Text is sanitised (invalid UTF-8 repaired, control characters of one-line
 * fields turned into spaces).
 */
#include "notify_message.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "event_types.h"

#define ELLIPSIS "\xe2\x80\xa6" /* U+2026 */
#define TITLE_MAX 80            /* code points */
#define LINE_MAX_CP 300         /* one line of a body list */
#define HEADLINES_SMS 3
#define DIGEST_LINES_MAX 200

/* ---- UTF-8 text --------------------------------------------------------- */

/* Length of the code point at s (1 for an invalid byte). */
static size_t cp_len(const char *s)
{
	size_t n = json_utf8_seq_len((const unsigned char *)s, strnlen(s, 4));

	return n ? n : 1;
}

static size_t cp_count(const char *s)
{
	size_t n = 0;

	for (; *s; s += cp_len(s))
		n++;
	return n;
}

char *notify_text_cut(const char *text, size_t max)
{
	char *clean = json_utf8_sanitize(text), *out;
	const char *p = clean;
	size_t n = 0;

	if (cp_count(clean) <= max)
		return clean;
	if (max == 0) {
		free(clean);
		return xstrdup("");
	}
	while (*p && n < max - 1) {
		p += cp_len(p);
		n++;
	}
	/* do not leave a space before the ellipsis */
	while (p > clean && p[-1] == ' ')
		p--;
	out = xasprintf("%.*s" ELLIPSIS, (int)(p - clean), clean);
	free(clean);
	return out;
}

/* Cut to at most max bytes (NUL excluded) on a code point boundary, with
 * "…" when cut.  New string. */
static char *cut_bytes(const char *s, size_t max)
{
	const char *p = s, *last = s;

	if (strlen(s) <= max)
		return xstrdup(s);
	if (max < 3)
		return xstrdup("");
	while (*p) {
		size_t l = cp_len(p);

		if ((size_t)(p + l - s) > max - 3)
			break;
		p += l;
		last = p;
	}
	return xasprintf("%.*s" ELLIPSIS, (int)(last - s), s);
}

/* One line: valid UTF-8, control characters (newlines too) as single
 * spaces, runs of spaces collapsed, trimmed.  New string. */
static char *one_line(const char *s)
{
	char *c = json_utf8_sanitize(s ? s : ""), *o = c;
	bool space = true;

	for (const char *p = c; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch < 0x20 || ch == 0x7f || ch == ' ') {
			if (!space)
				*o++ = ' ';
			space = true;
		} else {
			*o++ = *p;
			space = false;
		}
	}
	while (o > c && o[-1] == ' ')
		o--;
	*o = '\0';
	return c;
}

/* ---- event fields ------------------------------------------------------- */

static const char *str_of(const json_t *o, const char *key)
{
	const char *s = json_get_str(o, key);

	return s && *s ? s : NULL;
}

/* "bitcoin_price" -> "Bitcoin price". New string. */
static char *humanise(const char *name)
{
	char *s = one_line(name);

	for (char *p = s; *p; p++)
		if (*p == '_')
			*p = ' ';
	if (s[0] >= 'a' && s[0] <= 'z')
		s[0] = (char)(s[0] - 'a' + 'A');
	return s;
}

/* Host of a URL without "www." and user info, into out. */
static void url_host(const char *url, char *out, size_t size)
{
	const char *p = url ? strstr(url, "://") : NULL, *h, *at;
	size_t n;

	if (!p) {
		snprintf(out, size, "%s", url ? url : "");
		return;
	}
	h = p + 3;
	n = strcspn(h, "/?#");
	at = memchr(h, '@', n);
	while (at) {
		n -= (size_t)(at + 1 - h);
		h = at + 1;
		at = memchr(h, '@', n);
	}
	if (n > 4 && strncmp(h, "www.", 4) == 0) {
		h += 4;
		n -= 4;
	}
	snprintf(out, size, "%.*s", (int)n, h);
}

/* The strings of an array joined with sep (at most max items). New string or
 * NULL when there are none. */
static char *join_strings(const json_t *arr, const char *sep, size_t max, const char *quote)
{
	struct buf b;
	size_t i, k = 0;
	const json_t *v;

	if (!json_is_array(arr))
		return NULL;
	buf_init(&b, NOTIFY_BODY_MAX);
	json_array_foreach(arr, i, v) {
		char *l;

		if (!json_is_string(v) || !json_string_length(v))
			continue;
		if (k == max)
			break;
		l = one_line(json_string_value(v));
		buf_printf(&b, "%s%s%s%s", k ? sep : "", quote, l, quote);
		free(l);
		k++;
	}
	if (!k) {
		buf_cleanup(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* A number as people write it: 61234 -> "61,234", 61234.5 -> "61,234.50",
 * 0.000123 -> "0.000123". */
static void fmt_number(double v, char *out, size_t size)
{
	char digits[64], frac[32] = "";
	size_t n, o = 0;
	bool neg = v < 0;
	double a = fabs(v);

	if (!isfinite(v) || a >= 1e15) {
		snprintf(out, size, "%g", v);
		return;
	}
	if (a != 0 && a < 1) {
		snprintf(out, size, "%.6g", v);
		return;
	}
	if (a != floor(a)) {
		snprintf(digits, sizeof digits, "%.2f", a);
		char *dot = strchr(digits, '.');

		if (dot) {
			snprintf(frac, sizeof frac, "%s", dot);
			*dot = '\0';
		}
	} else {
		snprintf(digits, sizeof digits, "%.0f", a);
	}
	n = strlen(digits);
	if (neg && o + 1 < size)
		out[o++] = '-';
	for (size_t i = 0; i < n && o + 2 < size; i++) {
		if (i && (n - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	snprintf(out + o, size - o, "%s", frac);
}

/* A JSON value shown as a number or a short text; false when absent/null. */
static bool value_text(const json_t *v, char *out, size_t size)
{
	if (json_is_number(v)) {
		fmt_number(json_number_value(v), out, size);
		return true;
	}
	if (json_is_string(v) && json_string_length(v)) {
		char *l = one_line(json_string_value(v));

		snprintf(out, size, "%.40s", l);
		free(l);
		return true;
	}
	if (json_is_boolean(v)) {
		snprintf(out, size, "%s", json_is_true(v) ? "true" : "false");
		return true;
	}
	return false;
}

/* ---- parts -------------------------------------------------------------- */

struct parts {
	char *title;  /* short */
	char *head;   /* SMS headline, also the subject */
	char *detail; /* SMS detail, shortened first; may be NULL */
	char *link;   /* may be NULL */
	struct buf body;
};

static void parts_init(struct parts *p)
{
	memset(p, 0, sizeof *p);
	buf_init(&p->body, NOTIFY_BODY_MAX * 2);
}

static void parts_cleanup(struct parts *p)
{
	free(p->title);
	free(p->head);
	free(p->detail);
	free(p->link);
	buf_cleanup(&p->body);
}

static void set_link(struct parts *p, const char *url)
{
	if (!p->link && url && *url) {
		char *l = one_line(url);

		if (*l && !strchr(l, ' '))
			p->link = l;
		else
			free(l);
	}
}

/* "label: value" body line, value on one line. */
static void body_kv(struct parts *p, const char *label, const char *value)
{
	char *v;

	if (!value || !*value)
		return;
	v = one_line(value);
	buf_printf(&p->body, "%s: %s\n", label, v);
	free(v);
}

/* A body paragraph: text kept with its newlines (control characters but
 * newline and tab become spaces). */
static void body_text(struct parts *p, const char *text)
{
	char *c = json_utf8_sanitize(text);

	for (char *q = c; *q; q++)
		if (((unsigned char)*q < 0x20 && *q != '\n' && *q != '\t') || *q == 0x7f)
			*q = ' ';
	buf_printf(&p->body, "%s\n", c);
	free(c);
}

/* The SMS: head, ": " detail, " " link, within NOTIFY_SMS_SOFT code points
 * when it can be; the detail is shortened first, then the head.  A link
 * longer than half of NOTIFY_SMS_MAX is left out (the e-mail has it). */
static char *compose_sms(const char *head, const char *detail, const char *link)
{
	size_t lcp = link ? cp_count(link) + 1 : 0, hcp = cp_count(head), budget, avail;
	char *h, *d = NULL, *out;

	if (lcp > NOTIFY_SMS_MAX / 2) {
		link = NULL;
		lcp = 0;
	}
	budget = NOTIFY_SMS_SOFT;
	if (lcp + 40 > budget)
		budget = lcp + 40; /* a long link: go past 160 rather than lose it */
	avail = budget - lcp;
	if (hcp > avail) {
		h = notify_text_cut(head, avail);
	} else {
		h = xstrdup(head);
		if (detail && *detail && avail - hcp >= 2 + 12) {
			size_t dcp = avail - hcp - 2;

			d = notify_text_cut(detail, dcp);
		}
	}
	out = xasprintf("%s%s%s%s%s", h, d ? ": " : "", d ? d : "", link ? " " : "",
			link ? link : "");
	free(h);
	free(d);
	if (cp_count(out) > NOTIFY_SMS_MAX) {
		char *c = notify_text_cut(out, NOTIFY_SMS_MAX);

		free(out);
		out = c;
	}
	return out;
}

/* Common footer of every body: the task and the event. */
static void body_footer(struct parts *p, const json_t *ev, int priority)
{
	const char *task = str_of(ev, "task_id"), *type = str_of(ev, "event_type");
	const char *desc = str_of(ev, "description"), *ts = str_of(ev, "timestamp");
	const json_t *data = json_object_get(ev, "data");

	if (!desc)
		desc = str_of(data, "description");
	buf_puts(&p->body, "\n--\n");
	if (desc)
		body_kv(p, "Task", desc);
	if (task)
		body_kv(p, "Task id", task);
	if (type) {
		char *t = one_line(type);

		buf_printf(&p->body, "Event: %s, priority %d\n", t, priority);
		free(t);
	}
	if (ts)
		body_kv(p, "Time", ts);
}

/* ---- per event type ----------------------------------------------------- */

static void render_web_change(struct parts *p, const json_t *ev, const json_t *d)
{
	const char *url = str_of(d, "url"), *title = str_of(d, "title");
	char host[256], *kw, *snip = NULL, *t;
	const json_t *lines;
	size_t i;
	const json_t *v;

	if (!url)
		url = str_of(d, "final_url");
	url_host(url, host, sizeof host);
	if (!host[0])
		snprintf(host, sizeof host, "a watched page");
	set_link(p, url);
	kw = join_strings(json_object_get(d, "keywords_found"), ", ", 10, "");
	/* the detail: the sentences around the matches, else the added text */
	snip = join_strings(json_object_get(d, "snippets"), " / ", 3, "");
	if (!snip)
		snip = join_strings(json_object_get(d, "added_lines"), " / ", 3, "");
	if (kw) {
		t = xasprintf("%s on %s", kw, host);
		p->title = notify_text_cut(t, TITLE_MAX);
		free(t);
		t = one_line(host);
		p->head = xasprintf("%s changed, mentions %s", t, kw);
		free(t);
	} else {
		t = xasprintf("%s changed", host);
		p->title = notify_text_cut(t, TITLE_MAX);
		free(t);
		p->head = xasprintf("%s changed", host);
	}
	p->detail = snip;
	buf_printf(&p->body, "%s.\n\n", p->head);
	if (url && !p->link)
		body_kv(p, "Page", url); /* else the Link line shows it */
	if (title)
		body_kv(p, "Title", title);
	if (kw)
		body_kv(p, "Keywords found", kw);
	if (json_is_array(json_object_get(d, "snippets")) &&
	    json_array_size(json_object_get(d, "snippets"))) {
		buf_puts(&p->body, "\nAround the matches:\n");
		json_array_foreach(json_object_get(d, "snippets"), i, v) {
			if (json_is_string(v)) {
				char *l = one_line(json_string_value(v));
				char *c = notify_text_cut(l, LINE_MAX_CP);

				buf_printf(&p->body, "- %s\n", c);
				free(c);
				free(l);
			}
		}
	}
	lines = json_object_get(d, "added_lines");
	if (json_is_array(lines) && json_array_size(lines)) {
		json_int_t total = json_integer_value(json_object_get(d, "added_count"));

		buf_puts(&p->body, "\nAdded text:\n");
		json_array_foreach(lines, i, v) {
			if (json_is_string(v)) {
				char *l = one_line(json_string_value(v));
				char *c = notify_text_cut(l, LINE_MAX_CP);

				buf_printf(&p->body, "+ %s\n", c);
				free(c);
				free(l);
			}
		}
		if (total > (json_int_t)json_array_size(lines))
			buf_printf(&p->body, "(%lld added lines in all)\n", (long long)total);
	}
	if (json_is_integer(json_object_get(d, "removed_lines")) &&
	    json_integer_value(json_object_get(d, "removed_lines")) > 0)
		buf_printf(&p->body, "%lld lines were removed.\n",
			   (long long)json_integer_value(json_object_get(d, "removed_lines")));
	if (json_is_true(json_object_get(d, "first_check")))
		buf_puts(&p->body, "This is the first check of the page.\n");
	free(kw);
	(void)ev;
}

static void render_digest(struct parts *p, const json_t *ev, const json_t *d)
{
	const json_t *sums = json_object_get(d, "news_summaries"), *s, *it;
	const char *date = str_of(d, "digest_date");
	size_t i, j, count = 0;
	struct buf top;
	int ntop = 0;

	(void)ev;
	buf_init(&top, 4096);
	json_array_foreach(sums, i, s) {
		const json_t *items = json_object_get(s, "items");

		if (json_is_array(items) && json_array_size(items)) {
			json_array_foreach(items, j, it) {
				const char *t = str_of(it, "title");

				count++;
				set_link(p, str_of(it, "link"));
				if (t && ntop < HEADLINES_SMS) {
					char *l = one_line(t);

					buf_printf(&top, "%s%s", ntop ? "; " : "", l);
					free(l);
					ntop++;
				}
			}
		} else {
			json_array_foreach(json_object_get(s, "headlines"), j, it) {
				if (!json_is_string(it))
					continue;
				count++;
				if (ntop < HEADLINES_SMS) {
					char *l = one_line(json_string_value(it));

					buf_printf(&top, "%s%s", ntop ? "; " : "", l);
					free(l);
					ntop++;
				}
			}
		}
	}
	if (json_is_integer(json_object_get(d, "total_items")) &&
	    json_integer_value(json_object_get(d, "total_items")) > 0)
		count = (size_t)json_integer_value(json_object_get(d, "total_items"));
	/* no item link: the first source */
	json_array_foreach(sums, i, s) {
		set_link(p, str_of(s, "feed_url"));
		set_link(p, str_of(s, "source"));
	}
	p->title = count ? xasprintf("News digest: %zu new item%s", count, count == 1 ? "" : "s")
			 : xstrdup("News digest");
	if (date) {
		char *dl = one_line(date);

		p->head = xasprintf("%s (%s)", p->title, dl);
		free(dl);
	} else {
		p->head = xstrdup(p->title);
	}
	if (top.len)
		p->detail = xstrdup(buf_str(&top));
	buf_cleanup(&top);
	buf_printf(&p->body, "%s.\n", p->head);
	json_array_foreach(sums, i, s) {
		const char *src = str_of(s, "title"), *err = str_of(s, "error");
		const json_t *items = json_object_get(s, "items");

		if (!src)
			src = str_of(s, "source");
		if (!src)
			src = str_of(s, "feed_url");
		buf_puts(&p->body, "\n");
		if (src) {
			char *l = one_line(src);

			buf_printf(&p->body, "%s\n", l);
			free(l);
		}
		if (err)
			body_kv(p, "  Error", err);
		if (json_is_array(items) && json_array_size(items)) {
			json_array_foreach(items, j, it) {
				const char *t = str_of(it, "title"), *lk = str_of(it, "link");
				char *tl = one_line(t ? t : "(untitled)");
				char *lkl = lk ? one_line(lk) : NULL;

				buf_printf(&p->body, "- %s%s%s\n", tl, lkl ? "\n  " : "",
					   lkl ? lkl : "");
				free(tl);
				free(lkl);
			}
		} else {
			json_array_foreach(json_object_get(s, "headlines"), j, it) {
				if (json_is_string(it)) {
					char *l = one_line(json_string_value(it));

					buf_printf(&p->body, "- %s\n", l);
					free(l);
				}
			}
		}
	}
}

static void render_trigger(struct parts *p, const json_t *ev, const json_t *d)
{
	const json_t *cfg = json_object_get(d, "schedule_config");
	const char *msg = str_of(d, "message"), *action = str_of(d, "action");
	const char *desc = str_of(ev, "description"), *when = str_of(d, "trigger_time");
	char *m;

	if (!msg)
		msg = str_of(cfg, "message");
	if (!action)
		action = str_of(cfg, "action");
	if (!desc)
		desc = str_of(d, "description");
	if (!msg)
		msg = desc;
	m = one_line(msg ? msg : "a scheduled task came due");
	p->title = notify_text_cut(m, TITLE_MAX);
	p->head = xasprintf("Reminder: %s", m);
	if (action) {
		char *a = humanise(action);

		p->detail = xasprintf("action %s", a);
		free(a);
	}
	buf_printf(&p->body, "Reminder: %s\n\n", m);
	if (desc && desc != msg)
		body_kv(p, "Schedule", desc);
	body_kv(p, "Action", action);
	body_kv(p, "Due at", when);
	if (json_is_true(json_object_get(d, "catch_up")))
		buf_printf(&p->body, "This run catches up on %lld missed run(s).\n",
			   (long long)json_integer_value(json_object_get(d, "missed")));
	free(m);
}

static void render_threshold(struct parts *p, const json_t *ev, const json_t *d)
{
	const char *metric = str_of(d, "metric"), *cmp = str_of(d, "comparison");
	const char *cur = str_of(d, "currency"), *dir = NULL;
	const json_t *cv = json_object_get(d, "current_value"),
		     *tv = json_object_get(d, "threshold");
	char val[64] = "", thr[64] = "", prev[64] = "", *name;
	bool have_val, have_thr, money;

	(void)ev;
	name = humanise(metric ? metric : "The watched value");
	have_val = value_text(cv, val, sizeof val);
	have_thr = value_text(tv, thr, sizeof thr);
	money = metric && strstr(metric, "price") && (!cur || strcasecmp(cur, "usd") == 0) &&
		json_is_number(cv);
	if (cmp && strstr(cmp, "above"))
		dir = "above";
	else if (cmp && strstr(cmp, "below"))
		dir = "below";
	else if (json_is_number(cv) && json_is_number(tv))
		dir = json_number_value(cv) >= json_number_value(tv) ? "above" : "below";
	set_link(p, str_of(d, "source_url"));
	if (have_val && have_thr && dir)
		p->head = xasprintf("%s is %s%s, %s your %s threshold", name, money ? "$" : "", val,
				    dir, thr);
	else if (have_val)
		p->head = xasprintf("%s is %s%s", name, money ? "$" : "", val);
	else if (have_thr && dir)
		p->head = xasprintf("%s went %s your %s threshold", name, dir, thr);
	else
		p->head = xasprintf("%s crossed its threshold", name);
	if (have_val)
		p->title = xasprintf("%s: %s%s", name, money ? "$" : "", val);
	else
		p->title = xasprintf("%s threshold", name);
	{
		char *t = notify_text_cut(p->title, TITLE_MAX);

		free(p->title);
		p->title = t;
	}
	buf_printf(&p->body, "%s.\n\n", p->head);
	body_kv(p, "Metric", metric);
	if (have_val)
		body_kv(p, "Current value", val);
	if (value_text(json_object_get(d, "previous_value"), prev, sizeof prev))
		body_kv(p, "Previous value", prev);
	if (have_thr)
		body_kv(p, "Threshold", thr);
	body_kv(p, "Comparison", cmp);
	if (!p->link)
		body_kv(p, "Source", str_of(d, "source_url"));
	free(name);
}

static const char *task_name(const json_t *ev, const json_t *d)
{
	const char *s = str_of(ev, "description");

	if (!s)
		s = str_of(d, "description");
	if (!s)
		s = str_of(ev, "task_id");
	if (!s)
		s = str_of(d, "task_id");
	return s ? s : "a task";
}

static void render_check_failed(struct parts *p, const json_t *ev, const json_t *d)
{
	char *name = one_line(task_name(ev, d)), *err = NULL;
	json_int_t n = json_integer_value(json_object_get(d, "consecutive_failures"));
	json_int_t max = json_integer_value(json_object_get(d, "max_failures"));

	if (str_of(d, "error"))
		err = one_line(str_of(d, "error"));
	set_link(p, str_of(d, "url"));
	{
		char *t = xasprintf("Check failed: %s", name);

		p->title = notify_text_cut(t, TITLE_MAX);
		free(t);
	}
	if (n > 0 && max > 0)
		p->head = xasprintf("Check of \"%s\" failed (%lld of %lld before it pauses)", name,
				    (long long)n, (long long)max);
	else
		p->head = xasprintf("Check of \"%s\" failed", name);
	p->detail = err;
	buf_printf(&p->body, "%s.\n\n", p->head);
	body_kv(p, "Error", err);
	body_kv(p, "Failure", str_of(d, "failure"));
	body_kv(p, "URL", str_of(d, "url"));
	if (json_is_integer(json_object_get(d, "status_code")))
		buf_printf(&p->body, "HTTP status: %lld\n",
			   (long long)json_integer_value(json_object_get(d, "status_code")));
	if (n > 0 && max > 0)
		buf_printf(&p->body, "This is failure %lld in a row; the task pauses after %lld.\n",
			   (long long)n, (long long)max);
	free(name); /* err is p->detail now */
}

static void render_paused(struct parts *p, const json_t *ev, const json_t *d)
{
	char *name = one_line(task_name(ev, d)), *t;
	const char *reason = str_of(d, "reason");
	bool automatic = json_is_true(json_object_get(d, "automatic"));

	t = xasprintf("Paused: %s", name);
	p->title = notify_text_cut(t, TITLE_MAX);
	free(t);
	if (automatic)
		p->head = xasprintf("Task \"%s\" was paused after repeated failed checks", name);
	else
		p->head = xasprintf("Task \"%s\" was paused", name);
	if (reason)
		p->detail = one_line(reason);
	buf_printf(&p->body, "%s.\n\n", p->head);
	body_kv(p, "Reason", reason);
	if (automatic)
		buf_puts(&p->body,
			 "Fix the cause, then resume it (resume_background_task or `ambient task "
			 "resume`).\n");
	free(name);
}

static void render_generic(struct parts *p, const json_t *ev, const json_t *d)
{
	const char *type = str_of(ev, "event_type");
	char *h = humanise(type ? type : "event"), *name = one_line(task_name(ev, d));
	const char *msg = str_of(d, "message");

	set_link(p, str_of(d, "url"));
	set_link(p, str_of(d, "source_url"));
	p->title = notify_text_cut(h, TITLE_MAX);
	p->head = xasprintf("%s: %s", h, name);
	if (msg)
		p->detail = one_line(msg);
	buf_printf(&p->body, "%s.\n", p->head);
	if (msg) {
		buf_puts(&p->body, "\n");
		body_text(p, msg);
	}
	if (json_is_object(d) && json_object_size(d)) {
		char *t = json_dumps(d, JSON_INDENT(2) | JSON_SORT_KEYS);

		if (t) {
			buf_puts(&p->body, "\nDetails:\n");
			body_text(p, t);
			free(t);
		}
	}
	free(h);
	free(name);
}

static const struct {
	const char *type;
	void (*render)(struct parts *, const json_t *, const json_t *);
	const char *one, *many; /* digest counts */
} renderers[] = {
	{"web_content_change", render_web_change, "web change", "web changes"},
	{"daily_news_digest", render_digest, "digest", "digests"},
	{"scheduled_trigger", render_trigger, "reminder", "reminders"},
	{"threshold_breach", render_threshold, "threshold alert", "threshold alerts"},
	{"task_check_failed", render_check_failed, "failed check", "failed checks"},
	{"task_paused", render_paused, "paused task", "paused tasks"},
};
#define N_RENDERERS (sizeof renderers / sizeof renderers[0])

static int find_renderer(const char *type)
{
	for (size_t i = 0; i < N_RENDERERS; i++)
		if (type && strcmp(type, renderers[i].type) == 0)
			return (int)i;
	return -1;
}

static int event_priority(const json_t *ev)
{
	const json_t *v = json_object_get(ev, "priority");
	long long p;

	if (json_is_integer(v))
		p = json_integer_value(v);
	else if (json_is_real(v) && isfinite(json_real_value(v)))
		p = (long long)json_real_value(v);
	else
		p = event_type_priority(str_of(ev, "event_type"));
	return p < 1 ? 1 : p > 5 ? 5 : (int)p;
}

/* Fill parts for one event; false when it is not an event. */
static bool render_parts(const json_t *ev, struct parts *p, int *priority)
{
	const char *type = str_of(ev, "event_type");
	const json_t *d;
	int r;

	if (!json_is_object(ev) || !type)
		return false;
	d = json_object_get(ev, "data");
	if (!json_is_object(d))
		d = NULL;
	*priority = event_priority(ev);
	r = find_renderer(type);
	if (r >= 0)
		renderers[r].render(p, ev, d);
	else
		render_generic(p, ev, d);
	if (p->link)
		buf_printf(&p->body, "\nLink: %s\n", p->link);
	body_footer(p, ev, *priority);
	return true;
}

static void finish(struct parts *p, int priority, struct notify_message *m)
{
	char *h = one_line(p->head), *d = p->detail ? one_line(p->detail) : NULL, *t;

	memset(m, 0, sizeof *m);
	t = one_line(p->title);
	m->title = notify_text_cut(t, TITLE_MAX);
	free(t);
	m->sms = compose_sms(h, d, p->link);
	m->subject = cut_bytes(h, NOTIFY_SUBJECT_MAX);
	m->body = cut_bytes(buf_str(&p->body), NOTIFY_BODY_MAX - 1);
	m->link = p->link ? xstrdup(p->link) : NULL;
	m->priority = priority;
	free(h);
	free(d);
}

int notify_message_render(const json_t *event, struct notify_message *m, struct err *e)
{
	struct parts p;
	int priority;

	memset(m, 0, sizeof *m);
	parts_init(&p);
	if (!render_parts(event, &p, &priority)) {
		parts_cleanup(&p);
		return err_set(e, ERR_INVALID,
			       "cannot write a notification: the event must be an object with a "
			       "string \"event_type\" (got %s)",
			       json_is_object(event) ? "an object without event_type"
			       : event               ? json_type_name(event)
						     : "nothing");
	}
	finish(&p, priority, m);
	parts_cleanup(&p);
	return ERR_OK;
}

int notify_message_digest(const json_t *const *events, size_t n, struct notify_message *m,
			  struct err *e)
{
	size_t counts[N_RENDERERS + 1] = {0}, total = 0;
	int order[N_RENDERERS + 1], norder = 0, maxp = 1;
	struct parts p;
	struct buf sum, lines;
	char *link = NULL;
	bool one_link = true;

	memset(m, 0, sizeof *m);
	if (!events || n == 0)
		return err_set(e, ERR_INVALID, "a digest needs at least one event");
	for (size_t i = 0; i < n; i++) {
		const char *type = str_of(events[i], "event_type");
		int r;

		if (!json_is_object(events[i]) || !type)
			return err_set(e, ERR_INVALID,
				       "cannot write a digest: event %zu is not an object with a "
				       "string \"event_type\"",
				       i);
		r = find_renderer(type);
		if (r < 0)
			r = (int)N_RENDERERS;
		if (counts[r]++ == 0)
			order[norder++] = r;
		total++;
	}
	buf_init(&sum, 1024);
	buf_printf(&sum, "%zu update%s: ", total, total == 1 ? "" : "s");
	for (int k = 0; k < norder; k++) {
		int r = order[k];
		const char *word =
			r == (int)N_RENDERERS
				? (counts[r] == 1 ? "other event" : "other events")
				: (counts[r] == 1 ? renderers[r].one : renderers[r].many);

		buf_printf(&sum, "%s%zu %s", k ? ", " : "", counts[r], word);
	}
	parts_init(&p);
	buf_init(&lines, NOTIFY_BODY_MAX * 2);
	p.title = xstrdup(buf_str(&sum));
	p.head = xstrdup(buf_str(&sum));
	buf_printf(&p.body, "%s\n\n", buf_str(&sum));
	for (size_t i = 0; i < n; i++) {
		struct parts one;
		int pr;
		char *h;

		parts_init(&one);
		render_parts(events[i], &one, &pr);
		if (pr > maxp)
			maxp = pr;
		/* the digest's link: the one link all events share, else none */
		if (one.link && one_link) {
			if (!link)
				link = xstrdup(one.link);
			else if (strcmp(link, one.link) != 0)
				one_link = false;
		}
		h = one_line(one.head);
		if (i < DIGEST_LINES_MAX) {
			char *c = notify_text_cut(h, LINE_MAX_CP);
			const char *ts = str_of(events[i], "timestamp");

			buf_printf(&p.body, "- %s%s%s%s\n", c, ts ? " (" : "", ts ? ts : "",
				   ts ? ")" : "");
			if (one.link)
				buf_printf(&p.body, "  %s\n", one.link);
			free(c);
		} else if (i == DIGEST_LINES_MAX) {
			buf_printf(&p.body, "- and %zu more\n", n - DIGEST_LINES_MAX);
		}
		buf_printf(&lines, "%s%s", i ? "; " : "", h);
		free(h);
		parts_cleanup(&one);
	}
	if (lines.len)
		p.detail = xstrdup(buf_str(&lines));
	if (one_link)
		p.link = link;
	else
		free(link);
	finish(&p, maxp, m);
	parts_cleanup(&p);
	buf_cleanup(&sum);
	buf_cleanup(&lines);
	return ERR_OK;
}

int notify_message_from_text(const char *text, const json_t *event, struct notify_message *m,
			     struct err *e)
{
	struct notify_message base;
	struct err ignore;
	char *clean, *line;
	struct buf body;

	memset(m, 0, sizeof *m);
	if (!text || !*text)
		return err_set(e, ERR_INVALID, "the notification text is empty");
	memset(&base, 0, sizeof base);
	if (notify_message_render(event, &base, &ignore) != ERR_OK)
		memset(&base, 0, sizeof base);
	clean = json_utf8_sanitize(text);
	for (char *q = clean; *q; q++)
		if (((unsigned char)*q < 0x20 && *q != '\n' && *q != '\t') || *q == 0x7f)
			*q = ' ';
	line = one_line(clean);
	m->sms = notify_text_cut(line, NOTIFY_SMS_SOFT);
	buf_init(&body, NOTIFY_BODY_MAX * 2);
	buf_printf(&body, "%s\n", clean);
	if (base.link && !strstr(clean, base.link))
		buf_printf(&body, "\nLink: %s\n", base.link);
	m->body = cut_bytes(buf_str(&body), NOTIFY_BODY_MAX - 1);
	buf_cleanup(&body);
	if (base.title) {
		m->title = base.title;
		m->subject = base.subject;
		m->link = base.link;
		m->priority = base.priority;
		base.title = base.subject = base.link = NULL;
	} else {
		m->title = notify_text_cut(line, TITLE_MAX);
		m->subject = cut_bytes(line, NOTIFY_SUBJECT_MAX);
		m->priority = event_priority(event);
	}
	notify_message_cleanup(&base);
	free(line);
	free(clean);
	return ERR_OK;
}

void notify_message_cleanup(struct notify_message *m)
{
	if (!m)
		return;
	free(m->title);
	free(m->sms);
	free(m->subject);
	free(m->body);
	free(m->link);
	memset(m, 0, sizeof *m);
}
