/*
 * mcp_app.c - the MCP surface's object, registration and shared helpers:
 * who is acting, access to tasks, timestamps and JSON text in the original's
 * format, the status counts, and the example configs of each task type.
 *
 * The original system (Python, FastMCP) returned json.dumps() text; the
 * helpers here reproduce that text byte for byte where jansson allows:
 * separators ", " and ": ", ASCII escapes in lower-case hex, reals in
 * their shortest form, local naive timestamps with microseconds.
 */
#include "mcp_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/audit.h"
#include "common/json.h"
#include "common/ratelimit.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "domain/event_types.h"
#include "domain/redact.h"
#include "domain/task.h"

/* ---- examples ------------------------------------------------------------- */

static const char *const web_monitor_more[] = {
	"{\"urls\": [\"https://example.com/pricing\"], \"check_interval_minutes\": 60, "
	"\"selector\": \"main\", \"ignore_text\": [\"Last updated\"]}",
	NULL,
};

static const char *const schedule_more[] = {
	"{\"type\": \"interval\", \"minutes\": 120, "
	"\"message\": \"Check project status every 2 hours\"}",
	"{\"type\": \"weekly\", \"days\": [\"mon\", \"wed\", \"fri\"], \"hour\": 18, "
	"\"minute\": 30, \"timezone\": \"Europe/Berlin\", \"message\": \"Go to the gym\"}",
	"{\"type\": \"cron\", \"expression\": \"0 9 * * MON-FRI\", "
	"\"message\": \"Weekday check-in\"}",
	"{\"type\": \"once\", \"at\": \"2030-01-01T09:00:00+00:00\", "
	"\"message\": \"Renew the domain\"}",
	"{\"type\": \"daily\", \"hour\": 8, \"minute\": 0, \"action\": \"news_digest\", "
	"\"notification\": {\"method\": \"send_sms\", \"phone_number\": \"+1234567890\"}}",
	NULL,
};

static const char *const news_digest_more[] = {
	"{\"news_urls\": [\"https://techcrunch.com\", \"https://bbc.com/news\"], \"hour\": 8, "
	"\"categories\": [\"technology\", \"business\"], "
	"\"notification\": {\"method\": \"send_sms\", \"phone_number\": \"+1234567890\"}}",
	NULL,
};

static const char *const threshold_more[] = {
	"{\"metric\": \"bitcoin_price\", \"threshold\": 50000, \"check_interval_minutes\": 15, "
	"\"notification\": {\"method\": \"send_sms\", \"phone_number\": \"+1234567890\"}}",
	"{\"metric_url\": \"https://api.example.com/metrics\", \"threshold_value\": 100, "
	"\"check_interval_minutes\": 15}",
	NULL,
};

/* In enum task_type order. */
static const struct app_mcp_example examples[TASK_TYPE__COUNT] = {
	{"web_monitor", "Monitor websites for content changes",
	 "Fetches each URL every check_interval_minutes and records a web_content_change when the "
	 "page changed and contains the keywords",
	 "{\"urls\": [\"https://techcrunch.com\", \"https://news.ycombinator.com\"], "
	 "\"keywords\": [\"artificial intelligence\", \"AI\", \"machine learning\"], "
	 "\"check_interval_minutes\": 30, "
	 "\"notification\": {\"method\": \"send_sms\", \"phone_number\": \"+1234567890\"}}",
	 web_monitor_more},
	{"schedule", "Create scheduled reminders or tasks",
	 "Records a scheduled_trigger (carrying the whole config, message included) whenever the "
	 "schedule comes due",
	 "{\"type\": \"daily\", \"hour\": 9, \"minute\": 0, "
	 "\"message\": \"Daily standup reminder\"}",
	 schedule_more},
	{"news_digest", "Generate daily news digests",
	 "Fetches the sources once a day at hour:minute and records a daily_news_digest with "
	 "their headlines",
	 "{\"news_urls\": [\"https://techcrunch.com\", \"https://news.ycombinator.com\"], "
	 "\"hour\": 8, \"categories\": [\"technology\", \"startups\"]}",
	 news_digest_more},
	{"threshold_watch", "Monitor metrics and alert on thresholds",
	 "Reads a number every check_interval_minutes and records a threshold_breach when it is "
	 "on the wrong side of the threshold",
	 "{\"metric\": \"bitcoin_price\", "
	 "\"metric_url\": "
	 "\"https://api.coingecko.com/api/v3/simple/price?ids=bitcoin&vs_currencies=usd\", "
	 "\"json_path\": \"$.bitcoin.usd\", \"threshold_value\": 50000, "
	 "\"comparison\": \"above\", \"check_interval_minutes\": 15}",
	 threshold_more},
};

const struct app_mcp_example *app_mcp_example(int task_type)
{
	return (task_type >= 0 && task_type < TASK_TYPE__COUNT) ? &examples[task_type] : NULL;
}

/* ---- the object ------------------------------------------------------------- */

struct app_mcp *app_mcp_new(struct store *s, const struct app_mcp_options *opt)
{
	struct app_mcp *a = xcalloc(1, sizeof *a);

	a->store = s;
	a->clock = opt && opt->clock ? opt->clock : (s && s->clock ? s->clock : clock_system());
	a->default_user = xstrdup(opt && opt->default_user && *opt->default_user ? opt->default_user
										 : "default");
	if (opt) {
		a->engine_status = opt->engine_status;
		a->engine_ud = opt->engine_ud;
		a->security = opt->security;
	}
	a->rate_spec = opt && opt->rate_limits ? xstrdup(opt->rate_limits) : NULL;
	a->rates = ratelimit_new(3600LL * 1000000);
	if (s && !(opt && opt->no_audit))
		a->audit = audit_new(s, a->clock);
	a->net = app_net_new(a, opt);
	a->list_cache = app_list_cache_new();
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cond, NULL);
	return a;
}

void app_mcp_free(struct app_mcp *a)
{
	if (!a)
		return;
	app_mcp_watch_stop(a);
	audit_free(a->audit);
	app_mcp_guard_free(a);
	app_net_free(a->net);
	app_list_cache_free(a->list_cache);
	free(a->rate_spec);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->mu);
	free(a->default_user);
	free(a);
}

int app_mcp_register(struct app_mcp *a, struct mcp_server *srv, struct err *e)
{
	int rc;

	if ((rc = app_mcp_rate_config(a, a->rate_spec, e)))
		return rc;
	if ((rc = app_mcp_register_tools(a, srv, e)) ||
	    (rc = app_mcp_register_admin_tools(a, srv, e)) ||
	    (rc = app_mcp_register_memory_tools(a, srv, e)) ||
	    (rc = app_mcp_register_net_tools(a, srv, e)) ||
	    (rc = app_mcp_register_resources(a, srv, e)) ||
	    (rc = app_mcp_register_prompts(a, srv, e)))
		return rc;
	return ERR_OK;
}

/* ---- results ---------------------------------------------------------------- */

/* {status:"success", action, data, message?, timestamp} as text and as
 * structuredContent.  Steals data. */
json_t *app_mcp_result(struct app_mcp *a, const char *status, const char *action, json_t *data,
		       const char *message)
{
	char ts[CLOCK_ISO_MAX];
	json_t *o = json_object();
	char *text;
	json_t *r;

	app_mcp_now(a, ts);
	json_object_set_new(o, "status", json_string(status));
	json_object_set_new(o, "action", json_string(action));
	json_object_set_new(o, "data", data ? data : json_object());
	if (message)
		json_object_set_new(o, "message", json_string(message));
	json_object_set_new(o, "timestamp", json_string(ts));
	text = app_mcp_dumps(o, 0);
	r = mcp_result_structured(o, text);
	free(text);
	return r;
}

json_t *app_mcp_success(struct app_mcp *a, const char *action, json_t *data, const char *message)
{
	return app_mcp_result(a, "success", action, data, message);
}

/* isError result with the original's error object as its text. */
json_t *app_mcp_failure(struct app_mcp *a, const char *action, const char *fmt, ...)
{
	char ts[CLOCK_ISO_MAX], msg[2048];
	json_t *o = json_object(), *r, *m;
	va_list ap;
	char *text;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	app_mcp_now(a, ts);
	app_mcp_utf8_clean(msg); /* an argument cut mid-character by a "%.100s" */
	m = json_string(msg);
	json_object_set_new(o, "status", json_string("error"));
	json_object_set_new(o, "action", json_string(action));
	json_object_set_new(o, "error", m);
	json_object_set_new(o, "timestamp", json_string(ts));
	text = app_mcp_dumps(o, 0);
	r = mcp_result_error("%s", text);
	free(text);
	json_decref(o);
	return r;
}

/* ---- who is acting ---------------------------------------------------------- */

bool app_mcp_is_admin(const char *user)
{
	return user && strcmp(user, APP_MCP_ADMIN) == 0;
}

bool app_mcp_may_access(const char *user, const json_t *task)
{
	const char *owner = json_get_str(task, "user_id");

	return app_mcp_is_admin(user) || (user && owner && strcmp(user, owner) == 0);
}

void app_mcp_actor(const char *user, char *principal, struct app_actor *who)
{
	size_t n = (size_t)snprintf(principal, APP_MCP_PRINCIPAL_MAX, "mcp:%s", user);

	if (n >= APP_MCP_PRINCIPAL_MAX) {
		/* cut at a character boundary, so the metadata stays valid UTF-8 */
		n = APP_MCP_PRINCIPAL_MAX - 1; /* user[n - 4] is the first byte left out */
		while (n > 4 && ((unsigned char)user[n - 4] & 0xC0) == 0x80)
			n--;
		principal[n] = '\0';
	}
	memset(who, 0, sizeof *who);
	who->principal = principal;
}

int app_mcp_load_task(struct app_mcp *a, const char *user, const char *task_id, bool allow_deleted,
		      json_t **task, struct err *e)
{
	struct err le = {0};
	int rc;

	*task = NULL;
	rc = app_task_get(a->store, task_id, task, &le);
	if (rc == ERR_NOT_FOUND || (rc == ERR_OK && !app_mcp_may_access(user, *task))) {
		json_decref(*task);
		*task = NULL;
		err_set(e, ERR_NOT_FOUND,
			"Task %.100s not found or access denied (user_id \"%.100s\"); call "
			"list_background_tasks with the same user_id to see the task ids you can "
			"use",
			task_id ? task_id : "(none)", user);
		if (e)
			app_mcp_utf8_clean(e->msg); /* %.100s may have cut a character */
		return ERR_NOT_FOUND;
	}
	if (rc) {
		if (e)
			*e = le;
		return rc;
	}
	if (!allow_deleted && task_state_is_deleted(*task)) {
		json_decref(*task);
		*task = NULL;
		return err_set(e, ERR_NOT_FOUND, "Task %s was deleted", task_id);
	}
	return ERR_OK;
}

void app_mcp_utf8_clean(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (p && *p) {
		int n = *p < 0x80           ? 1
			: (*p >> 5) == 0x6  ? 2
			: (*p >> 4) == 0xE  ? 3
			: (*p >> 3) == 0x1E ? 4
					    : 0;
		int k = 1;

		while (n > 1 && k < n && (p[k] & 0xC0) == 0x80)
			k++;
		if (n == 0 || k < n) {
			*p++ = '?'; /* a stray or cut sequence */
			continue;
		}
		p += n;
	}
}

/* ---- time ------------------------------------------------------------------- */

void app_mcp_now(struct app_mcp *a, char out[CLOCK_ISO_MAX])
{
	clock_format_local(clock_wall_us(a->clock), out);
}

json_t *app_mcp_local_time(const char *utc_iso)
{
	char ts[CLOCK_ISO_MAX];
	int64_t us;

	if (!utc_iso)
		return json_null();
	if (clock_parse_iso(utc_iso, &us) != 0)
		return json_string(utc_iso);
	clock_format_local(us, ts);
	return json_string(ts);
}

/* ---- JSON text as Python writes it ------------------------------------------ */

/* Digits %.*g needs so that v reads back exactly, and at least the digits
 * of its integer part (so 50000.0 is not written 5e+04), at most 17. */
static int real_digits(double v)
{
	char buf[40];
	int p;

	if (!isfinite(v))
		return 1;
	for (p = 1; p < 17; p++) {
		snprintf(buf, sizeof buf, "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (fabs(v) >= 1) {
		int intdigits = (int)floor(log10(fabs(v))) + 1;

		if (intdigits > p)
			p = intdigits < 17 ? intdigits : 17;
	}
	return p;
}

static int max_real_digits(const json_t *j)
{
	const char *key;
	json_t *v;
	size_t i;
	int m = 1, d;

	switch (json_typeof(j)) {
	case JSON_REAL:
		return real_digits(json_real_value(j));
	case JSON_OBJECT:
		json_object_foreach((json_t *)j, key, v)
			if ((d = max_real_digits(v)) > m)
				m = d;
		return m;
	case JSON_ARRAY:
		json_array_foreach(j, i, v)
			if ((d = max_real_digits(v)) > m)
				m = d;
		return m;
	default:
		return m;
	}
}

char *app_mcp_dumps(const json_t *j, int indent)
{
	size_t flags = JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY;
	char *text, *p;

	flags |= JSON_INDENT(indent > 0 ? indent : 0) | JSON_REAL_PRECISION(max_real_digits(j));
	text = json_dumps(j, flags);
	if (!text)
		return xstrdup("null");
	/* Python writes \u00e9 where jansson writes \u00E9 */
	for (p = text; *p; p++) {
		if (*p != '\\')
			continue;
		if (p[1] == 'u') {
			for (int k = 2; k < 6 && p[k]; k++)
				p[k] = (char)tolower((unsigned char)p[k]);
			p += 5;
		} else if (p[1]) {
			p++;
		}
	}
	return text;
}

/* ---- tasks ------------------------------------------------------------------- */

json_t *app_mcp_task_summary(const json_t *state, unsigned flags)
{
	json_t *t = json_object(), *v;

	json_object_set_new(t, "task_id", json_string(json_get_str(state, "task_id")));
	json_object_set_new(t, "task_type", json_string(json_get_str(state, "task_type")));
	json_object_set_new(t, "description", json_string(json_get_str(state, "description")));
	if (!(flags & APP_MCP_SUMMARY_NO_STATUS))
		json_object_set_new(t, "status", json_string(task_state_status(state)));
	json_object_set_new(t, "created_at", app_mcp_local_time(json_get_str(state, "created_at")));
	/* Soft state of the engine; not in the log (docs/events.md). */
	v = json_object_get(state, "last_check");
	json_object_set_new(t, "last_check", json_is_string(v) ? json_copy(v) : json_null());
	/* a listing masks phone numbers and e-mail addresses (get_task shows
	 * the whole config to its owner) */
	v = json_object_get(state, "config");
	json_object_set_new(t, "config", v ? redact_mask_contacts(v) : json_object());
	json_object_set_new(t, "user_id", json_string(json_get_str(state, "user_id")));
	if (!(flags & APP_MCP_SUMMARY_NO_CALLBACK)) {
		const char *cb = json_get_str(state, "callback_url");

		json_object_set_new(t, "callback_url",
				    json_string(cb ? cb : APP_DEFAULT_CALLBACK_URL));
	}
	v = json_object_get(state, "paused_reason");
	if (json_is_string(v))
		json_object_set_new(t, "paused_reason", json_copy(v));
	return t;
}

void app_mcp_engine(struct app_mcp *a, struct app_mcp_engine_status *st)
{
	memset(st, 0, sizeof *st);
	if (a->engine_status)
		a->engine_status(a->engine_ud, st);
}

int app_mcp_status(struct app_mcp *a, json_t **status, struct err *e)
{
	struct app_mcp_engine_status eng;
	long long counts[TASK_TYPE__COUNT] = {0}, active = 0, paused = 0;
	json_t *tasks, *t, *types, *s;
	int64_t head = 0;
	size_t i;
	int rc;

	*status = NULL;
	/* Counts are global, as in the original. */
	if ((rc = app_task_list(a->store, NULL, NULL, &tasks, e)) ||
	    (rc = store_head(a->store, &head, e))) {
		json_decref(tasks);
		return rc;
	}
	json_array_foreach(tasks, i, t) {
		const char *st = task_state_status(t);
		int type;

		if (st && strcmp(st, "active") == 0)
			active++;
		else if (st && strcmp(st, "paused") == 0)
			paused++;
		if (task_type_parse(json_get_str(t, "task_type"), &type, NULL) == ERR_OK)
			counts[type]++;
	}
	app_mcp_engine(a, &eng);
	types = json_object();
	for (int k = 0; k < TASK_TYPE__COUNT; k++)
		json_object_set_new(types, task_type_name(k), json_integer(counts[k]));
	s = json_object();
	json_object_set_new(s, "service_running", json_boolean(eng.running));
	json_object_set_new(s, "total_tasks", json_integer((json_int_t)json_array_size(tasks)));
	json_object_set_new(s, "active_tasks", json_integer(active));
	json_object_set_new(s, "paused_tasks", json_integer(paused));
	json_object_set_new(s, "running_monitors", json_integer(eng.running_monitors));
	json_object_set_new(s, "task_types", types);
	json_object_set_new(s, "event_log_position", json_integer(head));
	json_decref(tasks);
	*status = s;
	return ERR_OK;
}

json_t *app_mcp_event_json(const struct store_event *ev)
{
	json_t *j = store_event_to_json(ev);
	const char *id = task_id_of_stream(ev->stream);

	if (!j)
		return json_object();
	json_object_set_new(j, "task_id", id ? json_string(id) : json_null());
	json_object_set_new(j, "priority", json_integer(event_type_priority(ev->type)));
	return j;
}
