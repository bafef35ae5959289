/*
 * task_config.h - shape checks and readers of task configs (pure).
 *
 * task_config_parse and task_config_validate are declared in task.h; this
 * header adds the small checks they are built from, for the app and engine
 * to reuse (so a callback URL or a time zone is judged the same everywhere),
 * and readers of a normalised config.
 *
 * What needs I/O is judged by the app when a task is created or updated
 * (src/app/tasks.c): that a timezone exists in the tz database, and that
 * every URL of task_config_each_url passes the --allow-net policy.
 */
#ifndef AMBIENT_DOMAIN_TASK_CONFIG_H
#define AMBIENT_DOMAIN_TASK_CONFIG_H

#include <jansson.h>
#include <stdbool.h>

/* Longest URL accepted anywhere in a config or as a callback URL. */
#define TASK_URL_MAX 2048

/* "http://" or "https://" (any case), a non-empty host, at most
 * TASK_URL_MAX bytes, no spaces or control characters.  Whether the host
 * may be reached (private addresses, --allow-net) is the app's decision. */
bool task_config_is_http_url(const char *s);

/* Shape of an IANA zone name: 1-64 bytes of letters, digits, '/', '_', '-',
 * '+', starting with a letter, no empty path component.  Whether the zone
 * exists is for the caller (it needs the tz database). */
bool task_config_is_timezone(const char *s);

/* ISO-8601 / RFC 3339 date-time: YYYY-MM-DDTHH:MM[:SS[.frac]] with an
 * optional Z or +HH:MM / -HH:MM / +HHMM offset; 'T' may be 't' or a space.
 * Calendar ranges are checked (no 30 February).  Without an offset the time
 * is local to the schedule's timezone. */
bool task_config_is_datetime(const char *s);

/* Weekday from a name ("mon", "Monday", "tues"; a case-insensitive prefix
 * of at least 3 letters of the English name): 0 = Sunday .. 6 = Saturday,
 * or -1. */
int task_config_weekday(const char *name);

/* Bit d set for weekday d (0 = Sunday) in a normalised weekly schedule's
 * "days"; 0 when there are none. */
unsigned task_config_days_mask(const json_t *config);

/* A threshold_watch metric that needs no metric_url: the engine reads it
 * from its price API (CoinGecko style: /api/v3/simple/price?ids=<coin>&
 * vs_currencies=<currency>) in the config's "currency", which validation
 * fills in (default TASK_METRIC_CURRENCY_DEFAULT, stored lower case).  With
 * a metric_url, "metric" is only a label. */
struct task_metric_builtin {
	const char *name; /* config.metric: "bitcoin_price" */
	const char *coin; /* the price API's id: "bitcoin" */
	const char *what; /* for people: "the price of one bitcoin" */
};

#define TASK_METRIC_CURRENCY_DEFAULT "usd"

/* The built-in metric called `name`, or NULL. */
const struct task_metric_builtin *task_config_builtin_metric(const char *name);

/* Call fn(field, url, ud) for each URL of a normalised config that the
 * engine fetches: web_monitor urls, news_digest and schedule news_urls,
 * threshold_watch metric_url; field names it for messages
 * ("config.urls[1]", "config.metric_url").  Not the callback_url nor a
 * notification's url (endpoints of the operator, not pages to read).
 * Stops at, and returns, the first non-zero return of fn. */
int task_config_each_url(int type, const json_t *config,
			 int (*fn)(const char *field, const char *url, void *ud), void *ud);

#endif
