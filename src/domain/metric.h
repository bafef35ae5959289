/*
 * metric.h - the number a threshold_watch reads, and when it breaches
 * (pure).
 *
 * Reading: from JSON by a path, or from text by a POSIX extended regular
 * expression.  Paths are JSON Pointers ("/bitcoin/usd", RFC 6901 with ~0
 * and ~1), dotted paths ("bitcoin.usd", "data[0].price", "data.0.price")
 * or the same with a JSONPath-style root ("$.data.price",
 * "$['odd key'][0]").  The value may be a JSON number or a string holding
 * one: "67,123.45", "$67,123.45", "1.234,56" (the last of ',' and '.' is
 * the decimal mark; a single ',' followed by exactly three digits groups
 * thousands), "1 234", "12.5%", "-3e2".  Errors say where the path went
 * wrong and what was there ("json_path \"/bitcoin/eur\": no member \"eur\"
 * in the object at /bitcoin (it has: usd, usd_24h_change)"), so a person or
 * an LLM can fix the config.
 *
 * Deciding: metric_check applies one reading to a small state and says
 * whether a breach fires now.
 *
 *  - above / below: breach while the value is above (below) the
 *    threshold, once per excursion: after a breach the watch re-arms only
 *    when the value has come back to threshold - hysteresis or lower
 *    (threshold + hysteresis or higher for below).  The first reading can
 *    breach.
 *  - crosses_above / crosses_below: breach when the value moves from the
 *    other side to this side; the first reading only tells the side.
 *    Re-arming after a breach is as above.
 *  - cooldown: no breach sooner than cooldown after the previous one; a
 *    breach suppressed by it is reported as METRIC_COOLDOWN and the watch
 *    stays armed, so it fires at the first reading after the cooldown that
 *    is still on the breach side.
 *
 * The state is a plain struct the engine keeps (and may persist with
 * metric_state_to_json) between readings.
 */
#ifndef AMBIENT_DOMAIN_METRIC_H
#define AMBIENT_DOMAIN_METRIC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define METRIC_INPUT_MAX (8u << 20) /* bytes of JSON read */
#define METRIC_TEXT_MAX (1u << 20)  /* bytes of text a regex searches */
#define METRIC_PATH_MAX 1000        /* bytes of a path */
#define METRIC_PATH_DEPTH 64        /* steps of a path */

/* --- numbers ----------------------------------------------------------- */

/* The first number in s[0..len) (see above for the forms read); its byte
 * range in *start, *end when not NULL.  False when there is none. */
bool metric_find_number(const char *s, size_t len, double *out, size_t *start, size_t *end);

/* s[0..len) is one number, with only white space, currency signs or
 * codes and a '%' around it ("$67,123.45", "67123 USD"); false otherwise
 * ("N/A", "1-2", "12 34 56"). */
bool metric_parse_number(const char *s, size_t len, double *out);

/* --- reading ------------------------------------------------------------ */

/* Check a path's syntax (at task creation).  ERR_INVALID with the reason. */
int metric_path_check(const char *path, struct err *e);

/* The number at `path` in a parsed document, or in JSON text. */
int metric_from_json_value(const json_t *doc, const char *path, double *out, struct err *e);
int metric_from_json(const char *body, size_t len, const char *path, double *out, struct err *e);

/* Check a regex (POSIX extended; back-references are refused because
 * they make matching exponential). */
int metric_regex_check(const char *regex, struct err *e);

/* The number in the first match of `regex` in text[0..len) (the first
 * METRIC_TEXT_MAX bytes): its first capture group when it has one, else
 * the whole match; the first number in that.  The regex is case-sensitive
 * and ^ $ match at line ends.  For an HTML page pass its visible text
 * (extract_html), not the markup. */
int metric_from_text(const char *text, size_t len, const char *regex, double *out, struct err *e);

/* --- deciding ------------------------------------------------------------ */

enum metric_cmp {
	METRIC_ABOVE,
	METRIC_BELOW,
	METRIC_CROSSES_ABOVE,
	METRIC_CROSSES_BELOW,
};

/* "above", "below", "crosses_above", "crosses_below" (any case). */
int metric_cmp_parse(const char *s, enum metric_cmp *out);
const char *metric_cmp_name(enum metric_cmp c);

struct metric_rule {
	enum metric_cmp cmp;
	double threshold;
	double hysteresis;   /* >= 0; negative counts as 0 */
	int64_t cooldown_us; /* >= 0 */
};

enum metric_arm {
	METRIC_ARM_NEW,     /* no reading yet */
	METRIC_ARM_ARMED,   /* the next reading on the breach side fires */
	METRIC_ARM_WAITING, /* crosses_*: waiting to see the other side */
	METRIC_ARM_FIRED,   /* waiting for the value to re-arm */
};

struct metric_state {
	enum metric_arm arm;
	bool has_prev;
	double prev;
	bool has_fired;
	int64_t last_fire_us;
};

enum metric_verdict {
	METRIC_QUIET,    /* nothing to report */
	METRIC_FIRE,     /* a breach: record threshold_breach */
	METRIC_COOLDOWN, /* a breach the cooldown suppressed */
	METRIC_INVALID,  /* the value is NaN or infinite: ignored */
};

struct metric_eval {
	enum metric_verdict verdict;
	bool has_prev; /* the reading before this one, for the event */
	double prev;
	bool rearmed; /* this reading re-armed the watch */
};

void metric_state_init(struct metric_state *s);

/* Apply one reading taken at now_us.  ev may be NULL. */
enum metric_verdict metric_check(const struct metric_rule *r, struct metric_state *s, double value,
				 int64_t now_us, struct metric_eval *ev);

/* {"arm":"armed","prev":67000.5,"last_fire_us":...}; from_json accepts
 * what to_json wrote (missing fields keep their initial values) and
 * returns ERR_INVALID on anything else. */
json_t *metric_state_to_json(const struct metric_state *s);
int metric_state_from_json(const json_t *j, struct metric_state *s, struct err *e);

#endif
