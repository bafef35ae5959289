/*
 * task_config.c - validate and normalise the config of each task type.
 *
 * Every known field of every type is a row (name, kind, bounds, default,
 * alias), checked by one function, so the rules, the defaults and the error
 * texts cannot drift apart between types.  docs/tasks.md describes the same
 * rows for people.
 *
 * Errors read "config.<field> must be <what> (got <value as JSON>)": the
 * agent on the other side of MCP is an LLM, and that sentence is enough for
 * it to fix its call.  Keys we do not know are kept verbatim (the seed's
 * examples carry "action", "message" and "notification").
 */
#include "task.h"
#include "task_config.h"

#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"
#include "common/xalloc.h"
#include "cron.h"
#include "extract.h"
#include "metric.h"
#include "notify_target.h"

enum kind {
	K_INT,
	K_NUMBER,
	K_BOOL,
	K_STRING,
	K_ENUM,
	K_URL,
	K_URL_LIST,
	K_STRING_LIST,
	K_TIMEZONE,
	K_DATETIME,
	K_WEEKDAYS,
	K_CRON,
	K_REGEX,
	K_NOTIFICATION,
};

#define F_REQUIRED 0x1u
#define F_HAS_MIN 0x2u /* K_NUMBER: value >= min */

struct field {
	const char *name;
	enum kind kind;
	unsigned flags;
	long long min, max;         /* K_INT range; K_NUMBER min; list items / string bytes max */
	const char *const *choices; /* K_ENUM, NULL-terminated */
	const char *def;            /* default as JSON text, NULL for none */
	const char *alias;          /* another accepted name, renamed to `name` */
	const char *example;        /* JSON text shown after "e.g." */
};

#define LIST_ITEM_MAX 1000 /* bytes of one keyword, category, ignore_text */
#define GOT_MAX 80

static const char *const keywords_modes[] = {"any", "all", NULL};
static const char *const schedule_types[] = {"daily", "interval", "weekly", "once", "cron", NULL};
static const char *const missed_policies[] = {"skip", "once", NULL};
static const char *const comparisons[] = {"above", "below", "crosses_above", "crosses_below", NULL};

/* clang-format off */
#define NOTIFICATION_ROW {"notification", K_NOTIFICATION, 0, 0, 0, NULL, NULL, NULL, NULL}
#define TIMEZONE_ROW {"timezone", K_TIMEZONE, 0, 0, 0, NULL, NULL, NULL, "\"Europe/Berlin\""}
#define HOUR_ROW {"hour", K_INT, 0, 0, 23, NULL, "8", NULL, NULL}
#define MINUTE_ROW {"minute", K_INT, 0, 0, 59, NULL, "0", NULL, NULL}
#define MAX_FAILURES_ROW {"max_failures", K_INT, 0, 1, 1000, NULL, NULL, NULL, NULL}
/* clang-format on */

static const struct field web_monitor_fields[] = {
	{"urls", K_URL_LIST, F_REQUIRED, 0, 50, NULL, NULL, NULL, "[\"https://techcrunch.com\"]"},
	{"keywords", K_STRING_LIST, 0, 0, 100, NULL, "[]", NULL, "[\"AI\", \"machine learning\"]"},
	{"keywords_mode", K_ENUM, 0, 0, 0, keywords_modes, "\"any\"", NULL, NULL},
	{"check_interval_minutes", K_INT, 0, 1, 10080, NULL, "30", NULL, NULL},
	{"selector", K_STRING, 0, 0, 1000, NULL, NULL, NULL, "\"main article\""},
	{"ignore_text", K_STRING_LIST, 0, 0, 100, NULL, NULL, NULL, "[\"Updated at\"]"},
	{"notify_on_first_check", K_BOOL, 0, 0, 0, NULL, "false", NULL, NULL},
	MAX_FAILURES_ROW,
	NOTIFICATION_ROW,
	{NULL},
};

static const struct field news_digest_fields[] = {
	{"news_urls", K_URL_LIST, 0, 0, 50, NULL,
	 "[\"https://techcrunch.com\", \"https://news.ycombinator.com\"]", NULL,
	 "[\"https://techcrunch.com\"]"},
	HOUR_ROW,
	MINUTE_ROW,
	TIMEZONE_ROW,
	{"categories", K_STRING_LIST, 0, 0, 50, NULL, NULL, NULL, "[\"technology\"]"},
	{"max_items", K_INT, 0, 1, 100, NULL, "10", NULL, NULL},
	MAX_FAILURES_ROW,
	NOTIFICATION_ROW,
	{NULL},
};

static const struct field threshold_fields[] = {
	{"metric", K_STRING, 0, 0, 200, NULL, NULL, NULL, "\"bitcoin_price\""},
	{"metric_url", K_URL, 0, 0, 0, NULL, NULL, NULL, "\"https://api.example.com/price\""},
	{"threshold", K_NUMBER, F_REQUIRED, 0, 0, NULL, NULL, "threshold_value", "50000"},
	{"comparison", K_ENUM, 0, 0, 0, comparisons, "\"above\"", NULL, NULL},
	{"check_interval_minutes", K_INT, 0, 1, 10080, NULL, "15", NULL, NULL},
	{"json_path", K_STRING, 0, 0, 1000, NULL, NULL, NULL, "\"$.data.price\""},
	{"regex", K_REGEX, 0, 0, 1000, NULL, NULL, NULL, "\"Price: ([0-9.]+)\""},
	{"hysteresis", K_NUMBER, F_HAS_MIN, 0, 0, NULL, "0", NULL, NULL},
	{"cooldown_minutes", K_INT, 0, 0, 525600, NULL, "0", NULL, NULL},
	MAX_FAILURES_ROW,
	NOTIFICATION_ROW,
	{NULL},
};

/* Fields every schedule takes, whatever its type. */
static const struct field schedule_common_fields[] = {
	TIMEZONE_ROW,
	{"missed_run_policy", K_ENUM, 0, 0, 0, missed_policies, "\"once\"", NULL, NULL},
	{"jitter_seconds", K_INT, 0, 0, 3600, NULL, NULL, NULL, NULL},
	/* sources of a schedule whose action is a news digest */
	{"news_urls", K_URL_LIST, 0, 0, 50, NULL, NULL, NULL, "[\"https://techcrunch.com\"]"},
	MAX_FAILURES_ROW,
	NOTIFICATION_ROW,
	{NULL},
};

static const struct field schedule_daily_fields[] = {HOUR_ROW, MINUTE_ROW, {NULL}};
static const struct field schedule_interval_fields[] = {
	{"minutes", K_INT, 0, 1, 525600, NULL, "60", NULL, NULL},
	{NULL},
};
static const struct field schedule_weekly_fields[] = {
	{"days", K_WEEKDAYS, F_REQUIRED, 0, 0, NULL, NULL, NULL, "[\"mon\", \"wed\", \"fri\"]"},
	HOUR_ROW,
	MINUTE_ROW,
	{NULL},
};
static const struct field schedule_once_fields[] = {
	{"at", K_DATETIME, F_REQUIRED, 0, 0, NULL, NULL, NULL, "\"2025-07-01T09:30:00+02:00\""},
	{NULL},
};
static const struct field schedule_cron_fields[] = {
	{"expression", K_CRON, F_REQUIRED, 0, 0, NULL, NULL, "cron", "\"*/15 9-17 * * MON-FRI\""},
	{NULL},
};

/* Same order as schedule_types[]. */
static const struct field *const schedule_forms[] = {
	schedule_daily_fields, schedule_interval_fields, schedule_weekly_fields,
	schedule_once_fields,  schedule_cron_fields,
};

static const char *const weekday_names[] = {"sunday",   "monday", "tuesday", "wednesday",
					    "thursday", "friday", "saturday"};

/* threshold_watch metrics read without a metric_url; one row per metric. */
static const struct task_metric_builtin builtin_metrics[] = {
	{"bitcoin_price", "bitcoin", "the price of one bitcoin"},
};
#define N_BUILTIN_METRICS (sizeof builtin_metrics / sizeof builtin_metrics[0])

/* ---- shape checks ------------------------------------------------------ */

bool task_config_is_http_url(const char *s)
{
	const char *p, *host, *end;
	size_t len;

	if (!s)
		return false;
	len = strlen(s);
	if (len > TASK_URL_MAX)
		return false;
	if (strncasecmp(s, "http://", 7) == 0)
		host = s + 7;
	else if (strncasecmp(s, "https://", 8) == 0)
		host = s + 8;
	else
		return false;
	for (p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || strchr("\"<>\\^`{|}", *p))
			return false;
	end = host + strcspn(host, "/?#");
	for (p = host; p < end; p++)
		if (*p == '@')
			host = p + 1; /* skip user info */
	return host < end && *host != ':';
}

bool task_config_is_timezone(const char *s)
{
	size_t len;

	if (!s)
		return false;
	len = strlen(s);
	if (len == 0 || len > 64 || !isalpha((unsigned char)s[0]) || s[len - 1] == '/')
		return false;
	for (const char *p = s; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr("/_-+", *p))
			return false;
		if (*p == '/' && p[1] == '/')
			return false;
	}
	return true;
}

/* Exactly n digits at *p into *v. */
static bool digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return false;
		*v = *v * 10 + (**p - '0');
	}
	return true;
}

bool task_config_is_datetime(const char *s)
{
	static const int mdays[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, oh, om;
	const char *p = s;

	if (!s || !digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d))
		return false;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return false;
	p++;
	if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
		return false;
	if (*p == ':') {
		p++;
		if (!digits(&p, 2, &sec) || sec > 59)
			return false;
		if (*p == '.' || *p == ',') {
			int n = 0;

			for (p++; isdigit((unsigned char)*p); p++)
				n++;
			if (n < 1 || n > 9)
				return false;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		p++;
		if (!digits(&p, 2, &oh))
			return false;
		if (*p == ':')
			p++;
		if (!digits(&p, 2, &om) || oh > 23 || om > 59)
			return false;
	}
	if (*p)
		return false;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo] || h > 23 || mi > 59)
		return false;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return false;
	return true;
}

int task_config_weekday(const char *name)
{
	size_t n;

	if (!name)
		return -1;
	n = strlen(name);
	if (n < 3)
		return -1;
	for (int i = 0; i < 7; i++)
		if (n <= strlen(weekday_names[i]) && strncasecmp(name, weekday_names[i], n) == 0)
			return i;
	return -1;
}

const struct task_metric_builtin *task_config_builtin_metric(const char *name)
{
	for (size_t i = 0; name && i < N_BUILTIN_METRICS; i++)
		if (strcmp(name, builtin_metrics[i].name) == 0)
			return &builtin_metrics[i];
	return NULL;
}

/* "bitcoin_price, ..." for messages. */
static void builtin_metric_names(char *out, size_t size)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < N_BUILTIN_METRICS && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%s", i ? ", " : "",
					builtin_metrics[i].name);
}

static int each_url_of(const json_t *config, const char *key,
		       int (*fn)(const char *field, const char *url, void *ud), void *ud)
{
	json_t *v = json_object_get(config, key), *item;
	char field[64];
	size_t i;
	int rc;

	if (json_is_string(v)) {
		snprintf(field, sizeof field, "config.%s", key);
		return fn(field, json_string_value(v), ud);
	}
	json_array_foreach(v, i, item) {
		if (!json_is_string(item))
			continue;
		snprintf(field, sizeof field, "config.%s[%zu]", key, i);
		if ((rc = fn(field, json_string_value(item), ud)))
			return rc;
	}
	return ERR_OK;
}

int task_config_each_url(int type, const json_t *config,
			 int (*fn)(const char *field, const char *url, void *ud), void *ud)
{
	switch (type) {
	case TASK_WEB_MONITOR:
		return each_url_of(config, "urls", fn, ud);
	case TASK_SCHEDULE:
	case TASK_NEWS_DIGEST:
		return each_url_of(config, "news_urls", fn, ud);
	case TASK_THRESHOLD_WATCH:
		return each_url_of(config, "metric_url", fn, ud);
	default:
		return ERR_OK;
	}
}

unsigned task_config_days_mask(const json_t *config)
{
	json_t *days = json_object_get(config, "days"), *v;
	unsigned mask = 0;
	size_t i;

	json_array_foreach(days, i, v) {
		int d = json_is_integer(v) ? (int)json_integer_value(v) % 7
					   : task_config_weekday(json_string_value(v));
		if (d >= 0)
			mask |= 1u << d;
	}
	return mask;
}

/* ---- error text -------------------------------------------------------- */

/* The value as compact JSON, cut to GOT_MAX bytes. */
static void got_text(const json_t *v, char out[GOT_MAX + 4])
{
	char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	if (!t) {
		snprintf(out, GOT_MAX + 4, "?");
		return;
	}
	if (strlen(t) > GOT_MAX)
		snprintf(out, GOT_MAX + 4, "%.*s...", GOT_MAX - 3, t);
	else
		snprintf(out, GOT_MAX + 4, "%s", t);
	free(t);
}

static void join_choices(const char *const *c, char *out, size_t size)
{
	size_t len = 0;

	out[0] = '\0';
	for (; *c && len < size; c++)
		len += snprintf(out + len, size - len, "%s%s", len ? ", " : "", *c);
}

/* "<what>" of "config.x must be <what>", with the example when there is one. */
static void describe(const struct field *f, char *out, size_t size)
{
	char list[200];
	int n = 0;

	switch (f->kind) {
	case K_INT:
		n = snprintf(out, size, "an integer from %lld to %lld", f->min, f->max);
		break;
	case K_NUMBER:
		n = snprintf(out, size, (f->flags & F_HAS_MIN) ? "a number >= %lld" : "a number",
			     f->min);
		break;
	case K_BOOL:
		n = snprintf(out, size, "true or false");
		break;
	case K_STRING:
		n = snprintf(out, size, "a non-empty string of at most %lld bytes", f->max);
		break;
	case K_ENUM:
		join_choices(f->choices, list, sizeof list);
		n = snprintf(out, size, "one of %s", list);
		break;
	case K_URL:
		n = snprintf(out, size, "an http:// or https:// URL");
		break;
	case K_URL_LIST:
		n = snprintf(out, size, "a non-empty array of http(s) URLs (at most %lld)", f->max);
		break;
	case K_STRING_LIST:
		n = snprintf(out, size, "an array of non-empty strings (at most %lld)", f->max);
		break;
	case K_TIMEZONE:
		n = snprintf(out, size, "an IANA time zone name such as \"UTC\"");
		break;
	case K_DATETIME:
		n = snprintf(out, size, "an ISO-8601 date-time YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM]");
		break;
	case K_WEEKDAYS:
		n = snprintf(out, size,
			     "a non-empty array of weekdays, as names (\"mon\", "
			     "\"monday\") or numbers 0-6 with 0 = Sunday");
		break;
	case K_CRON:
		n = snprintf(out, size,
			     "a 5-field cron expression (minute hour day-of-month "
			     "month day-of-week)");
		break;
	case K_REGEX:
		n = snprintf(out, size, "a POSIX extended regular expression of at most %lld bytes",
			     f->max);
		break;
	case K_NOTIFICATION:
		n = snprintf(
			out, size,
			"an object such as {\"method\": \"send_sms\", "
			"\"phone_number\": \"+1234567890\"} (methods send_sms, send_email, "
			"webhook, ntfy), a notification URL such as \"mailto:me@example.com\", "
			"\"twilio://SID:TOKEN@FROM/TO\" or \"ntfy://topic\", or a non-empty "
			"array of them");
		break;
	}
	if (f->example && n >= 0 && (size_t)n < size)
		snprintf(out + n, size - n, ", e.g. %s", f->example);
}

static int must_be(struct err *e, const char *prefix, const struct field *f, const json_t *got)
{
	char what[300], g[GOT_MAX + 4];

	describe(f, what, sizeof what);
	got_text(got, g);
	return err_set(e, ERR_INVALID, "%s%s must be %s (got %s)", prefix, f->name, what, g);
}

/* For one element of a list: "config.urls[2] must be ... (got ...)". */
static int item_must_be(struct err *e, const char *prefix, const struct field *f, size_t i,
			const char *what, const json_t *got)
{
	char g[GOT_MAX + 4];

	got_text(got, g);
	return err_set(e, ERR_INVALID, "%s%s[%zu] must be %s (got %s)", prefix, f->name, i, what,
		       g);
}

/* ---- field checks ------------------------------------------------------ */

static bool has_text(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return true;
	return false;
}

static bool in_choices(const char *s, const char *const *c)
{
	for (; s && *c; c++)
		if (strcmp(s, *c) == 0)
			return true;
	return false;
}

/* Any form notify_targets_parse accepts: the seed's objects (send_sms,
 * send_email, webhook, ntfy), Apprise URL strings, arrays of them and
 * {"urls": [...]}.  Its messages name the element ("notification[1].email
 * must be ..."); here they get the prefix ("config.").  A value of the wrong
 * shape (a number, an empty array, a string that is no URL) gets the row's
 * description of every form. */
static int check_notification(const char *prefix, const struct field *f, json_t *n, struct err *e)
{
	struct notify_target *t;
	size_t count;
	const char *s;
	int rc;

	s = json_string_value(n);
	if (!(json_is_object(n) || (json_is_array(n) && json_array_size(n) > 0) ||
	      (s && (strstr(s, "://") || strncasecmp(s, "mailto:", 7) == 0))))
		return must_be(e, prefix, f, n);
	t = xcalloc(NOTIFY_TARGETS_MAX, sizeof *t);
	rc = notify_targets_parse(n, t, NOTIFY_TARGETS_MAX, &count, e);
	memset(t, 0, NOTIFY_TARGETS_MAX * sizeof *t); /* credentials */
	free(t);
	if (rc && e) {
		char msg[ERR_MSG_MAX];

		memcpy(msg, e->msg, sizeof msg);
		err_set(e, rc, "%s%s", prefix, msg);
	}
	return rc;
}

/* An integer, or a real with an integral value (30.0), within the row's range;
 * reals are rewritten as integers. */
static int check_int(json_t *cfg, const char *prefix, const struct field *f, json_t *v,
		     struct err *e)
{
	long long n;

	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_real(v)) {
		double d = json_real_value(v);

		/* range first: casting a huge double would be undefined */
		if (!(d >= (double)f->min && d <= (double)f->max) || d != (double)(long long)d)
			return must_be(e, prefix, f, v);
		n = (long long)d;
		json_object_set_new(cfg, f->name, json_integer(n));
	} else {
		return must_be(e, prefix, f, v);
	}
	if (n < f->min || n > f->max)
		return must_be(e, prefix, f, v);
	return ERR_OK;
}

static int check_list(const char *prefix, const struct field *f, json_t *v, struct err *e)
{
	size_t i, j, n;
	json_t *item;

	if (!json_is_array(v))
		return must_be(e, prefix, f, v);
	n = json_array_size(v);
	if (f->kind == K_URL_LIST && n == 0)
		return must_be(e, prefix, f, v);
	if ((long long)n > f->max)
		return err_set(e, ERR_INVALID, "%s%s must have at most %lld items (got %zu)",
			       prefix, f->name, f->max, n);
	json_array_foreach(v, i, item) {
		const char *s = json_string_value(item);

		if (f->kind == K_URL_LIST) {
			if (!task_config_is_http_url(s))
				return item_must_be(e, prefix, f, i, "an http:// or https:// URL",
						    item);
			for (j = 0; j < i; j++)
				if (strcmp(s, json_string_value(json_array_get(v, j))) == 0)
					return err_set(e, ERR_INVALID,
						       "%s%s[%zu] repeats %s%s[%zu] (\"%.200s\"); "
						       "list each URL once",
						       prefix, f->name, i, prefix, f->name, j, s);
		} else if (!s || !has_text(s) || strlen(s) > LIST_ITEM_MAX) {
			return item_must_be(e, prefix, f, i,
					    "a non-empty string of at most 1000 bytes", item);
		}
	}
	return ERR_OK;
}

/* Days as names or numbers; rewritten as three-letter names in week order. */
static int check_weekdays(json_t *cfg, const char *prefix, const struct field *f, json_t *v,
			  struct err *e)
{
	static const char *const abbr[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
	unsigned mask = 0;
	json_t *item, *out;
	size_t i;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return must_be(e, prefix, f, v);
	json_array_foreach(v, i, item) {
		int d = -1;

		if (json_is_integer(item)) {
			long long n = json_integer_value(item);

			d = (n >= 0 && n <= 7) ? (int)(n % 7) : -1;
		} else if (json_is_string(item)) {
			d = task_config_weekday(json_string_value(item));
		}
		if (d < 0)
			return item_must_be(e, prefix, f, i,
					    "a weekday: a name such as \"mon\" or \"monday\", or a "
					    "number 0-6 with 0 = Sunday",
					    item);
		mask |= 1u << d;
	}
	out = json_array();
	for (int d = 0; d < 7; d++)
		if (mask & (1u << d))
			json_array_append_new(out, json_string(abbr[d]));
	json_object_set_new(cfg, f->name, out);
	return ERR_OK;
}

static int check_string_kind(const char *prefix, const struct field *f, json_t *v, struct err *e)
{
	const char *s = json_string_value(v);
	struct cron_expr c;
	struct err ce;
	char g[GOT_MAX + 4];

	if (!s)
		return must_be(e, prefix, f, v);
	switch (f->kind) {
	case K_STRING:
		if (!has_text(s) || (long long)strlen(s) > f->max)
			return must_be(e, prefix, f, v);
		return ERR_OK;
	case K_ENUM:
		return in_choices(s, f->choices) ? ERR_OK : must_be(e, prefix, f, v);
	case K_URL:
		return task_config_is_http_url(s) ? ERR_OK : must_be(e, prefix, f, v);
	case K_TIMEZONE:
		return task_config_is_timezone(s) ? ERR_OK : must_be(e, prefix, f, v);
	case K_DATETIME:
		return task_config_is_datetime(s) ? ERR_OK : must_be(e, prefix, f, v);
	case K_CRON:
		if (cron_parse(s, &c, &ce) == ERR_OK)
			return ERR_OK;
		got_text(v, g);
		return err_set(e, ERR_INVALID, "%s%s must be a valid cron expression: %s (got %s)",
			       prefix, f->name, ce.msg, g);
	case K_REGEX: {
		regex_t re;
		char why[120];
		int rc;

		if (!*s || (long long)strlen(s) > f->max)
			return must_be(e, prefix, f, v);
		rc = regcomp(&re, s, REG_EXTENDED);
		if (rc == 0) {
			regfree(&re);
			return ERR_OK;
		}
		regerror(rc, &re, why, sizeof why);
		got_text(v, g);
		return err_set(e, ERR_INVALID,
			       "%s%s must be a POSIX extended regular expression: %s (got %s)",
			       prefix, f->name, why, g);
	}
	default:
		return err_set(e, ERR_INTERNAL, "field %s has no string check", f->name);
	}
}

/* Check one row against cfg (the normalised copy, edited in place). */
static int check_field(json_t *cfg, const char *prefix, const struct field *f, struct err *e)
{
	json_t *v;

	if (f->alias && (v = json_object_get(cfg, f->alias))) {
		json_t *canon = json_object_get(cfg, f->name);

		if (canon && !json_equal(canon, v))
			return err_set(e, ERR_INVALID,
				       "%s%s and %s%s (another name for it) differ; give only %s%s",
				       prefix, f->name, prefix, f->alias, prefix, f->name);
		json_object_set(cfg, f->name, v);
		json_object_del(cfg, f->alias);
	}
	v = json_object_get(cfg, f->name);
	if (json_is_null(v)) {
		json_object_del(cfg, f->name); /* null means "not given" */
		v = NULL;
	}
	if (!v) {
		if (f->flags & F_REQUIRED) {
			char what[300];

			describe(f, what, sizeof what);
			return err_set(e, ERR_INVALID, "%s%s is required: %s", prefix, f->name,
				       what);
		}
		if (f->def)
			json_object_set_new(cfg, f->name,
					    json_loads(f->def, JSON_DECODE_ANY, NULL));
		return ERR_OK;
	}
	switch (f->kind) {
	case K_INT:
		return check_int(cfg, prefix, f, v, e);
	case K_NUMBER:
		if (!json_is_number(v) || ((f->flags & F_HAS_MIN) && json_number_value(v) < f->min))
			return must_be(e, prefix, f, v);
		return ERR_OK;
	case K_BOOL:
		return json_is_boolean(v) ? ERR_OK : must_be(e, prefix, f, v);
	case K_URL_LIST:
	case K_STRING_LIST:
		return check_list(prefix, f, v, e);
	case K_WEEKDAYS:
		return check_weekdays(cfg, prefix, f, v, e);
	case K_NOTIFICATION:
		return check_notification(prefix, f, v, e);
	default:
		return check_string_kind(prefix, f, v, e);
	}
}

static int check_rows(json_t *cfg, const struct field *rows, struct err *e)
{
	int rc;

	for (; rows->name; rows++)
		if ((rc = check_field(cfg, "config.", rows, e)))
			return rc;
	return ERR_OK;
}

static bool row_has(const struct field *rows, const char *key)
{
	for (; rows->name; rows++)
		if (strcmp(rows->name, key) == 0 || (rows->alias && strcmp(rows->alias, key) == 0))
			return true;
	return false;
}

/* A key that belongs to another schedule type is a mistake we can name
 * ("minutes" on a daily schedule), so it is refused rather than kept. */
static int check_foreign(const json_t *cfg, int form, struct err *e)
{
	const char *article = form == 1 ? "an" : "a"; /* "an interval" */

	for (int other = 0; other < 5; other++) {
		if (other == form)
			continue;
		for (const struct field *f = schedule_forms[other]; f->name; f++) {
			const char *names[2] = {f->name, f->alias};

			for (int k = 0; k < 2; k++) {
				char takes[120], owners[120];
				size_t len = 0, olen = 0;

				if (!names[k] || !json_object_get(cfg, names[k]) ||
				    row_has(schedule_forms[form], names[k]))
					continue;
				takes[0] = owners[0] = '\0';
				for (const struct field *g = schedule_forms[form]; g->name; g++)
					len += snprintf(takes + len, sizeof takes - len, "%s%s",
							len ? ", " : "", g->name);
				for (int o = 0; o < 5; o++)
					if (row_has(schedule_forms[o], names[k]))
						olen += snprintf(owners + olen,
								 sizeof owners - olen, "%s\"%s\"",
								 olen ? " or " : "",
								 schedule_types[o]);
				return err_set(e, ERR_INVALID,
					       "config.%s is not used by %s \"%s\" schedule, which "
					       "takes %s; it belongs to type %s",
					       names[k], article, schedule_types[form], takes,
					       owners);
			}
		}
	}
	return ERR_OK;
}

static int check_schedule(json_t *cfg, struct err *e)
{
	static const struct field type_row = {
		.name = "type", .kind = K_ENUM, .flags = F_REQUIRED, .choices = schedule_types};
	const char *type;
	int form, rc;

	if ((rc = check_field(cfg, "config.", &type_row, e)))
		return rc;
	type = json_string_value(json_object_get(cfg, "type"));
	for (form = 0; strcmp(schedule_types[form], type) != 0; form++)
		;
	if ((rc = check_foreign(cfg, form, e)) || (rc = check_rows(cfg, schedule_forms[form], e)))
		return rc;
	return check_rows(cfg, schedule_common_fields, e);
}

/* ---- checks across fields ------------------------------------------------ */

/* A CSS or XPath selector must compile as the engine will compile it. */
static int check_selector(const json_t *cfg, struct err *e)
{
	const char *sel = json_string_value(json_object_get(cfg, "selector"));
	struct extract_selector *compiled;
	struct err se = {0};
	const char *why;

	if (!sel)
		return ERR_OK;
	if ((compiled = extract_selector_new(sel, &se))) {
		extract_selector_free(compiled);
		return ERR_OK;
	}
	why = se.msg;
	if (strncmp(why, "selector: ", 10) == 0)
		why += 10;
	return err_set(e, ERR_INVALID, "config.selector \"%.100s\" cannot be used: %s", sel, why);
}

/* Entries written /like this/ are POSIX extended regular expressions,
 * matched case-insensitively (the rule of extract.h); the others are plain
 * text.  Back-references are refused: they make matching exponential. */
static int check_ignore_text(const json_t *cfg, struct err *e)
{
	json_t *list = json_object_get(cfg, "ignore_text"), *item;
	char g[GOT_MAX + 4];
	size_t i;

	json_array_foreach(list, i, item) {
		const char *s = json_string_value(item);
		size_t n = strlen(s);
		char *pat, why[160];
		regex_t re;
		int rc;

		if (n < 3 || s[0] != '/' || s[n - 1] != '/')
			continue;
		got_text(item, g);
		for (const char *p = s + 1; p < s + n - 1; p++) {
			if (*p != '\\' || p + 1 >= s + n - 1)
				continue;
			if (p[1] >= '1' && p[1] <= '9')
				return err_set(
					e, ERR_INVALID,
					"config.ignore_text[%zu] is written /.../, and "
					"back-references (\\%c) are not allowed in it; match "
					"the text without them (got %s)",
					i, p[1], g);
			p++;
		}
		pat = xstrndup(s + 1, n - 2);
		rc = regcomp(&re, pat, REG_EXTENDED | REG_ICASE | REG_NOSUB | REG_NEWLINE);
		free(pat);
		if (rc == 0) {
			regfree(&re);
			continue;
		}
		regerror(rc, &re, why, sizeof why);
		return err_set(e, ERR_INVALID,
			       "config.ignore_text[%zu] is written /.../, so it must be a POSIX "
			       "extended regular expression: %s (got %s); write it without the "
			       "slashes to match the text as it is",
			       i, why, g);
	}
	return ERR_OK;
}

static int check_web_monitor(json_t *cfg, struct err *e)
{
	int rc;

	if ((rc = check_rows(cfg, web_monitor_fields, e)) || (rc = check_selector(cfg, e)))
		return rc;
	return check_ignore_text(cfg, e);
}

static bool is_currency(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 10)
		return false;
	for (; *s; s++)
		if (!isalpha((unsigned char)*s))
			return false;
	return true;
}

/* currency: only for a built-in metric; 3-10 letters, stored lower case. */
static int check_currency(json_t *cfg, bool builtin, struct err *e)
{
	json_t *v = json_object_get(cfg, "currency");
	char g[GOT_MAX + 4], names[200], *low;

	if (json_is_null(v)) {
		json_object_del(cfg, "currency");
		v = NULL;
	}
	builtin_metric_names(names, sizeof names);
	if (!builtin) {
		if (!v)
			return ERR_OK;
		return err_set(e, ERR_INVALID,
			       "config.currency only applies to a built-in metric (%s) read "
			       "without config.metric_url; with metric_url the URL decides the "
			       "currency, so remove currency",
			       names);
	}
	if (!v) {
		json_object_set_new(cfg, "currency", json_string(TASK_METRIC_CURRENCY_DEFAULT));
		return ERR_OK;
	}
	if (!json_is_string(v) || !is_currency(json_string_value(v))) {
		got_text(v, g);
		return err_set(e, ERR_INVALID,
			       "config.currency must be a currency code of 3-10 letters such as "
			       "\"usd\" or \"eur\" (got %s)",
			       g);
	}
	low = xstrdup(json_string_value(v));
	for (char *p = low; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	json_object_set_new(cfg, "currency", json_string(low));
	free(low);
	return ERR_OK;
}

static int check_threshold(json_t *cfg, struct err *e)
{
	const char *metric, *path, *regex;
	bool has_url;
	char names[200];
	struct err me = {0};
	int rc = check_rows(cfg, threshold_fields, e);

	if (rc)
		return rc;
	metric = json_string_value(json_object_get(cfg, "metric"));
	has_url = json_object_get(cfg, "metric_url") != NULL;
	path = json_string_value(json_object_get(cfg, "json_path"));
	regex = json_string_value(json_object_get(cfg, "regex"));
	builtin_metric_names(names, sizeof names);
	if (!metric && !has_url)
		return err_set(e, ERR_INVALID,
			       "config.metric or config.metric_url is required: a built-in metric "
			       "(%s), or an http(s) URL that returns the value",
			       names);
	if (path && metric_path_check(path, &me) != ERR_OK)
		return err_set(e, ERR_INVALID, "config.%s", me.msg);
	if (regex && metric_regex_check(regex, &me) != ERR_OK)
		return err_set(e, ERR_INVALID, "config.%s", me.msg);
	if (path && regex)
		return err_set(e, ERR_INVALID,
			       "config.json_path and config.regex are both given; give one: "
			       "json_path for a JSON response, regex for a text or HTML page");
	if (!has_url) {
		if (!task_config_builtin_metric(metric))
			return err_set(e, ERR_INVALID,
				       "config.metric \"%.100s\" is not a built-in metric "
				       "(built-in: %s); give metric_url with json_path or regex to "
				       "read any other number",
				       metric, names);
		if (path || regex)
			return err_set(
				e, ERR_INVALID,
				"config.%s is only used with config.metric_url (it finds the "
				"number in that URL's response); the built-in metric %s "
				"needs neither, so remove %s or add metric_url",
				path ? "json_path" : "regex", metric, path ? "json_path" : "regex");
	}
	return check_currency(cfg, !has_url, e);
}

/* ---- entry points ------------------------------------------------------ */

json_t *task_config_parse(const json_t *config, struct err *e)
{
	json_error_t je;
	json_t *j;

	if (!config || json_is_null(config)) {
		err_set(e, ERR_INVALID,
			"config is required: a JSON object (or a string holding one), e.g. "
			"{\"urls\": [\"https://techcrunch.com\"], \"check_interval_minutes\": 30}");
		return NULL;
	}
	if (json_is_object(config))
		return json_incref((json_t *)config);
	if (!json_is_string(config)) {
		err_set(e, ERR_INVALID,
			"config must be a JSON object (or a string holding one), not %s",
			json_type_name(config));
		return NULL;
	}
	j = json_loadb(json_string_value(config), json_string_length(config),
		       JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		err_set(e, ERR_INVALID, "Invalid JSON in config: %s (line %d, column %d)", je.text,
			je.line, je.column);
		return NULL;
	}
	if (json_is_string(j)) {
		/* JSON encoded twice, as agents sometimes send it: unwrap once */
		json_t *inner = json_loadb(json_string_value(j), json_string_length(j),
					   JSON_REJECT_DUPLICATES, &je);

		if (inner) {
			json_decref(j);
			j = inner;
		}
	}
	if (!json_is_object(j)) {
		err_set(e, ERR_INVALID,
			"config must hold a JSON object such as {\"check_interval_minutes\": 30}, "
			"not %s",
			json_type_name(j));
		json_decref(j);
		return NULL;
	}
	return j;
}

json_t *task_config_validate(int type, const json_t *config, struct err *e)
{
	json_t *cfg;
	int rc;

	if (!task_type_name(type)) {
		err_set(e, ERR_INVALID, "unknown task type %d", type);
		return NULL;
	}
	if (!json_is_object(config)) {
		err_set(e, ERR_INVALID, "config must be a JSON object, not %s",
			config ? json_type_name(config) : "missing");
		return NULL;
	}
	cfg = json_deep_copy(config);
	switch (type) {
	case TASK_WEB_MONITOR:
		rc = check_web_monitor(cfg, e);
		break;
	case TASK_SCHEDULE:
		rc = check_schedule(cfg, e);
		break;
	case TASK_NEWS_DIGEST:
		rc = check_rows(cfg, news_digest_fields, e);
		break;
	default:
		rc = check_threshold(cfg, e);
		break;
	}
	if (rc) {
		json_decref(cfg);
		return NULL;
	}
	return cfg;
}
