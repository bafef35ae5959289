/*
 * notify_policy.c - the notifier's rules: min priority, dedupe, quiet hours,
 * batching, rate limit.  See notify_policy.h for the order and the defaults.
 *
 * The state is two flat arrays with fixed caps: dedupe entries (task hash,
 * fingerprint, identity, time) and sends (recipient hash, time).  Lookups
 * scan them; with caps of a few thousand entries that is a few microseconds
 * per decision, simpler and more predictable than hash tables.  Task ids and
 * labels are kept as 64-bit hashes, so entries have a fixed size.
 */
#include "notify_policy.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "event_types.h"

#define US_PER_S INT64_C(1000000)
#define US_PER_MIN (60 * US_PER_S)
#define GOT_LEN 80

/* ---- hashing ------------------------------------------------------------ */

#define FNV_OFFSET UINT64_C(14695981039346656037)
#define FNV_PRIME UINT64_C(1099511628211)

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++) {
		h ^= c[i];
		h *= FNV_PRIME;
	}
	return h;
}

static uint64_t fnv_str(const char *s)
{
	return fnv(FNV_OFFSET, s ? s : "", s ? strlen(s) : 0);
}

/* Hash of a value's canonical text (sorted keys, compact). */
static uint64_t fnv_json(uint64_t h, const json_t *v)
{
	char *t;

	if (!v)
		return fnv(h, "\0null", 5);
	t = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
	if (!t)
		return fnv(h, "\0?", 2);
	h = fnv(h, t, strlen(t));
	free(t);
	return h;
}

uint64_t notify_event_fingerprint(const json_t *event)
{
	const char *type = json_get_str(event, "event_type");
	uint64_t h = fnv_str(type);

	h = fnv(h, "\0", 1);
	return fnv_json(h, json_object_get(event, "data"));
}

uint64_t notify_event_identity(const json_t *event)
{
	const char *id = json_get_str(event, "event_id");
	const json_t *seq = json_object_get(event, "seq");

	if (id && *id)
		return fnv(fnv_str("event_id:"), id, strlen(id));
	if ((id = json_get_str(event, "feedback_id")) && *id)
		return fnv(fnv_str("feedback_id:"), id, strlen(id));
	if (json_is_integer(seq)) {
		json_int_t n = json_integer_value(seq);

		return fnv(fnv_str("seq:"), &n, sizeof n);
	}
	return fnv_json(fnv_str("event:"), event);
}

int notify_event_priority(const json_t *event)
{
	const json_t *v = json_object_get(event, "priority");
	long long p;

	if (json_is_integer(v))
		p = json_integer_value(v);
	else if (json_is_real(v) && json_real_value(v) > -10 && json_real_value(v) < 10)
		p = (long long)json_real_value(v);
	else
		p = event_type_priority(json_get_str(event, "event_type"));
	if (p < NOTIFY_PRIORITY_MIN)
		p = NOTIFY_PRIORITY_MIN;
	if (p > NOTIFY_PRIORITY_MAX)
		p = NOTIFY_PRIORITY_MAX;
	return (int)p;
}

const char *notify_action_name(enum notify_action a)
{
	switch (a) {
	case NOTIFY_SEND:
		return "send";
	case NOTIFY_SUPPRESS:
		return "suppress";
	case NOTIFY_HOLD:
		return "hold";
	case NOTIFY_BATCH:
		return "batch";
	}
	return "unknown";
}

/* ---- rules -------------------------------------------------------------- */

void notify_rules_defaults(struct notify_rules *r)
{
	memset(r, 0, sizeof *r);
	r->min_priority[NOTIFY_CHANNEL_SMS] = 2;
	r->min_priority[NOTIFY_CHANNEL_EMAIL] = 1;
	r->min_priority[NOTIFY_CHANNEL_WEBHOOK] = 1;
	r->min_priority[NOTIFY_CHANNEL_NTFY] = 1;
	r->dedupe_window_us = 10 * US_PER_MIN;
	r->quiet.on = false;
	r->quiet.start_min = 22 * 60;
	r->quiet.end_min = 7 * 60;
	strcpy(r->quiet.tz, "UTC");
	r->quiet.bypass_priority = 5;
	r->rate_count = 10;
	r->rate_window_us = 60 * US_PER_MIN;
	r->batch_below_priority = 2;
	r->batch_window_us = 60 * US_PER_MIN;
}

static void got_text(const json_t *v, char out[GOT_LEN + 4])
{
	char *t = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	if (!t) {
		strcpy(out, "nothing");
		return;
	}
	if (strlen(t) > GOT_LEN)
		snprintf(out, GOT_LEN + 4, "%.*s...", GOT_LEN - 3, t);
	else
		snprintf(out, GOT_LEN + 4, "%s", t);
	free(t);
}

static int bad(struct err *e, const char *key, const char *what, const json_t *got)
{
	char g[GOT_LEN + 4];

	got_text(got, g);
	return err_set(e, ERR_INVALID, "notify rules: %s must be %s (got %s)", key, what, g);
}

static const char duration_what[] =
	"a duration: seconds as a number, or text such as \"30s\", \"10m\", \"1h\", \"1d\" or "
	"\"1h30m\" (at most 366 days)";

static bool duration_text(const char *s, int64_t *us)
{
	int64_t total = 0;
	bool any = false;

	while (isspace((unsigned char)*s))
		s++;
	if (!*s)
		return false;
	while (*s) {
		int64_t n = 0, unit;
		int digits = 0;

		while (isdigit((unsigned char)*s)) {
			n = n * 10 + (*s++ - '0');
			if (++digits > 12)
				return false;
		}
		if (!digits)
			return false;
		switch (tolower((unsigned char)*s)) {
		case 's':
			unit = 1;
			s++;
			break;
		case 'm':
			unit = 60;
			s++;
			break;
		case 'h':
			unit = 3600;
			s++;
			break;
		case 'd':
			unit = 86400;
			s++;
			break;
		case '\0':
			if (any)
				return false; /* "1h30": 30 what? */
			unit = 1;
			break;
		default:
			return false;
		}
		total += n * unit;
		if (total > NOTIFY_WINDOW_MAX_US / US_PER_S)
			return false;
		any = true;
		while (isspace((unsigned char)*s))
			s++;
	}
	*us = total * US_PER_S;
	return true;
}

int notify_duration_parse(const json_t *v, int64_t *us, struct err *e)
{
	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);

		if (n < 0 || n > NOTIFY_WINDOW_MAX_US / US_PER_S)
			goto bad;
		*us = (int64_t)n * US_PER_S;
		return ERR_OK;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);

		if (!(d >= 0 && d <= (double)(NOTIFY_WINDOW_MAX_US / US_PER_S)))
			goto bad;
		*us = (int64_t)(d * 1e6);
		return ERR_OK;
	}
	if (json_is_string(v) && duration_text(json_string_value(v), us))
		return ERR_OK;
bad:
	return bad(e, "the duration", duration_what, v);
}

void notify_duration_format(int64_t us, char *out, size_t size)
{
	int64_t s = us / US_PER_S, d, h, m;
	size_t o = 0;

	if (s <= 0) {
		snprintf(out, size, "%s", us > 0 ? "<1s" : "0s");
		return;
	}
	d = s / 86400;
	h = s % 86400 / 3600;
	m = s % 3600 / 60;
	s %= 60;
	out[0] = '\0';
#define PART(v, u)                                                                                 \
	if ((v) && o < size)                                                                       \
		o += (size_t)snprintf(out + o, size - o, "%" PRId64 u, (int64_t)(v));
	PART(d, "d")
	PART(h, "h")
	PART(m, "m")
	PART(s, "s")
#undef PART
}

/* A duration member under `key` (path for messages). */
static int get_duration(const json_t *o, const char *name, const char *path, int64_t *us,
			bool positive, struct err *e)
{
	const json_t *v = json_object_get(o, name);

	if (notify_duration_parse(v, us, NULL) != ERR_OK || (positive && *us <= 0))
		return bad(e, path,
			   positive ? "a duration above 0 such as \"1h\" (seconds as a number, "
				      "or \"30s\", \"10m\", \"1h\", \"1d\")"
				    : duration_what,
			   v);
	return ERR_OK;
}

static int get_priority(const json_t *v, const char *path, int max, int *out, struct err *e)
{
	char what[64];

	if (json_is_integer(v) && json_integer_value(v) >= NOTIFY_PRIORITY_MIN &&
	    json_integer_value(v) <= max) {
		*out = (int)json_integer_value(v);
		return ERR_OK;
	}
	snprintf(what, sizeof what, "an integer priority from 1 to %d", max);
	return bad(e, path, what, v);
}

/* "22:00" -> 1320. */
static bool clock_text(const json_t *v, int *min)
{
	const char *s = json_string_value(v);
	int h, m;

	if (!s || strlen(s) != 5 || !isdigit((unsigned char)s[0]) ||
	    !isdigit((unsigned char)s[1]) || s[2] != ':' || !isdigit((unsigned char)s[3]) ||
	    !isdigit((unsigned char)s[4]))
		return false;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 23 || m > 59)
		return false;
	*min = h * 60 + m;
	return true;
}

/* Refuse keys of object o that are not in names (NULL-terminated). */
static int only_keys(const json_t *o, const char *path, const char *const *names, struct err *e)
{
	const char *key;
	const json_t *v;

	json_object_foreach((json_t *)o, key, v) {
		const char *const *n;
		char list[200];
		size_t len = 0;

		for (n = names; *n; n++)
			if (strcmp(*n, key) == 0)
				break;
		if (*n)
			continue;
		list[0] = '\0';
		for (n = names; *n; n++)
			len += (size_t)snprintf(list + len, sizeof list - len, "%s%s",
						len ? ", " : "", *n);
		return err_set(e, ERR_INVALID,
			       "notify rules: unknown key \"%.40s\"%s%s; known keys: %s", key,
			       path ? " in " : "", path ? path : "", list);
	}
	return ERR_OK;
}

static bool is_off(const json_t *v)
{
	return json_is_null(v) || json_is_false(v);
}

static int parse_min_priority(const json_t *v, struct notify_rules *r, struct err *e)
{
	const char *key;
	const json_t *p;
	int rc;

	if (json_is_integer(v)) {
		int n;

		if ((rc = get_priority(v, "min_priority", NOTIFY_PRIORITY_MAX, &n, e)))
			return rc;
		for (int c = 0; c < NOTIFY_CHANNEL__COUNT; c++)
			r->min_priority[c] = n;
		return ERR_OK;
	}
	if (!json_is_object(v))
		return bad(e, "min_priority",
			   "an object of channel -> priority such as {\"sms\": 4, \"email\": 2}, "
			   "or one priority 1-5 for every channel",
			   v);
	json_object_foreach((json_t *)v, key, p) {
		enum notify_channel c;
		char path[80];

		if (notify_channel_parse(key, &c, NULL) != ERR_OK)
			return err_set(
				e, ERR_INVALID,
				"notify rules: min_priority has an unknown channel \"%.40s\"; "
				"channels: sms, email, webhook, ntfy",
				key);
		snprintf(path, sizeof path, "min_priority.%s", key);
		if ((rc = get_priority(p, path, NOTIFY_PRIORITY_MAX, &r->min_priority[c], e)))
			return rc;
	}
	return ERR_OK;
}

static int parse_quiet(const json_t *v, struct notify_rules *r, struct err *e)
{
	static const char *const keys[] = {"start", "end", "tz", "bypass_priority", NULL};
	const json_t *tz;
	const struct tz *z;
	struct err te;
	int rc;

	if (is_off(v)) {
		r->quiet.on = false;
		return ERR_OK;
	}
	if (!json_is_object(v))
		return bad(e, "quiet_hours",
			   "an object such as {\"start\": \"22:00\", \"end\": \"07:00\", \"tz\": "
			   "\"Europe/Paris\"}, or null for none",
			   v);
	if ((rc = only_keys(v, "quiet_hours", keys, e)))
		return rc;
	if (!clock_text(json_object_get(v, "start"), &r->quiet.start_min))
		return bad(e, "quiet_hours.start", "a local time \"HH:MM\" such as \"22:00\"",
			   json_object_get(v, "start"));
	if (!clock_text(json_object_get(v, "end"), &r->quiet.end_min))
		return bad(e, "quiet_hours.end", "a local time \"HH:MM\" such as \"07:00\"",
			   json_object_get(v, "end"));
	if (r->quiet.start_min == r->quiet.end_min)
		return err_set(e, ERR_INVALID,
			       "notify rules: quiet_hours.start and quiet_hours.end are the same "
			       "time; give a period such as 22:00 to 07:00, or null for none");
	tz = json_object_get(v, "tz");
	if (tz && !json_is_null(tz)) {
		const char *name = json_string_value(tz);

		if (!name || !*name || strlen(name) > TZ_NAME_MAX)
			return bad(e, "quiet_hours.tz",
				   "an IANA time zone name such as \"Europe/Paris\"", tz);
		err_clear(&te);
		if (tz_load(name, &z, &te) != ERR_OK)
			return err_set(e, ERR_INVALID, "notify rules: quiet_hours.tz: %s", te.msg);
		snprintf(r->quiet.tz, sizeof r->quiet.tz, "%s", name);
	} else {
		strcpy(r->quiet.tz, "UTC");
	}
	if (json_object_get(v, "bypass_priority") &&
	    (rc = get_priority(json_object_get(v, "bypass_priority"), "quiet_hours.bypass_priority",
			       NOTIFY_PRIORITY_MAX + 1, &r->quiet.bypass_priority, e)))
		return rc;
	r->quiet.on = true;
	return ERR_OK;
}

static int parse_rate(const json_t *v, struct notify_rules *r, struct err *e)
{
	static const char *const keys[] = {"count", "per", NULL};
	const json_t *c;
	int rc;

	if (is_off(v)) {
		r->rate_count = 0;
		return ERR_OK;
	}
	if (!json_is_object(v))
		return bad(e, "rate_limit",
			   "an object such as {\"count\": 10, \"per\": \"1h\"}, or null for no "
			   "limit",
			   v);
	if ((rc = only_keys(v, "rate_limit", keys, e)))
		return rc;
	c = json_object_get(v, "count");
	if (!json_is_integer(c) || json_integer_value(c) < 0 || json_integer_value(c) > 100000)
		return bad(e, "rate_limit.count",
			   "an integer from 0 (no limit) to 100000: messages per recipient per "
			   "window",
			   c);
	r->rate_count = (int)json_integer_value(c);
	if (json_object_get(v, "per") &&
	    (rc = get_duration(v, "per", "rate_limit.per", &r->rate_window_us, true, e)))
		return rc;
	return ERR_OK;
}

static int parse_batch(const json_t *v, struct notify_rules *r, struct err *e)
{
	static const char *const keys[] = {"below_priority", "every", NULL};
	const json_t *p;
	int rc;

	if (is_off(v)) {
		r->batch_below_priority = 0;
		return ERR_OK;
	}
	if (!json_is_object(v))
		return bad(e, "batch",
			   "an object such as {\"below_priority\": 2, \"every\": \"1h\"}, or null "
			   "for no batching",
			   v);
	if ((rc = only_keys(v, "batch", keys, e)))
		return rc;
	p = json_object_get(v, "below_priority");
	if (p && (!json_is_integer(p) || json_integer_value(p) < 0 ||
		  json_integer_value(p) > NOTIFY_PRIORITY_MAX + 1))
		return bad(e, "batch.below_priority",
			   "an integer from 0 (no batching) to 6: events of a lower priority are "
			   "batched",
			   p);
	if (p)
		r->batch_below_priority = (int)json_integer_value(p);
	if (json_object_get(v, "every") &&
	    (rc = get_duration(v, "every", "batch.every", &r->batch_window_us, true, e)))
		return rc;
	return ERR_OK;
}

int notify_rules_parse(const json_t *cfg, struct notify_rules *out, struct err *e)
{
	static const char *const keys[] = {"min_priority", "dedupe_window", "quiet_hours",
					   "rate_limit",   "batch",         NULL};
	struct notify_rules r;
	const json_t *v;
	int rc;

	notify_rules_defaults(&r);
	if (!cfg || json_is_null(cfg)) {
		*out = r;
		return ERR_OK;
	}
	if (!json_is_object(cfg))
		return bad(e, "the rules", "a JSON object such as {\"min_priority\": {\"sms\": 4}}",
			   cfg);
	if ((rc = only_keys(cfg, NULL, keys, e)))
		return rc;
	if ((v = json_object_get(cfg, "min_priority")) && (rc = parse_min_priority(v, &r, e)))
		return rc;
	if ((v = json_object_get(cfg, "dedupe_window"))) {
		if (is_off(v))
			r.dedupe_window_us = 0;
		else if ((rc = get_duration(cfg, "dedupe_window", "dedupe_window",
					    &r.dedupe_window_us, false, e)))
			return rc;
	}
	if ((v = json_object_get(cfg, "quiet_hours")) && (rc = parse_quiet(v, &r, e)))
		return rc;
	if ((v = json_object_get(cfg, "rate_limit")) && (rc = parse_rate(v, &r, e)))
		return rc;
	if ((v = json_object_get(cfg, "batch")) && (rc = parse_batch(v, &r, e)))
		return rc;
	*out = r;
	return ERR_OK;
}

/* 1320 -> "22:00". */
static void hm_text(int min, char out[16])
{
	unsigned m = (unsigned)min % 1440;

	snprintf(out, 16, "%02u:%02u", m / 60, m % 60);
}

json_t *notify_rules_to_json(const struct notify_rules *r)
{
	json_t *o = json_object(), *mp = json_object();
	char d[32], d2[32];

	for (int c = 0; c < NOTIFY_CHANNEL__COUNT; c++)
		json_object_set_new(mp, notify_channel_name((enum notify_channel)c),
				    json_integer(r->min_priority[c]));
	json_object_set_new(o, "min_priority", mp);
	notify_duration_format(r->dedupe_window_us, d, sizeof d);
	json_object_set_new(o, "dedupe_window", json_string(d));
	if (r->quiet.on) {
		char s[16], en[16];

		hm_text(r->quiet.start_min, s);
		hm_text(r->quiet.end_min, en);
		json_object_set_new(o, "quiet_hours",
				    json_pack("{s:s, s:s, s:s, s:i}", "start", s, "end", en, "tz",
					      r->quiet.tz[0] ? r->quiet.tz : "UTC",
					      "bypass_priority", r->quiet.bypass_priority));
	} else {
		json_object_set_new(o, "quiet_hours", json_null());
	}
	notify_duration_format(r->rate_window_us, d, sizeof d);
	json_object_set_new(o, "rate_limit",
			    r->rate_count > 0
				    ? json_pack("{s:i, s:s}", "count", r->rate_count, "per", d)
				    : json_null());
	notify_duration_format(r->batch_window_us, d2, sizeof d2);
	json_object_set_new(o, "batch",
			    r->batch_below_priority > 0
				    ? json_pack("{s:i, s:s}", "below_priority",
						r->batch_below_priority, "every", d2)
				    : json_null());
	return o;
}

/* ---- state -------------------------------------------------------------- */

struct seen {
	uint64_t task, fingerprint, identity;
	int64_t at_us;
};

struct sent {
	uint64_t label;
	int64_t at_us;
};

struct notify_state {
	struct seen *seen;
	size_t nseen, max_seen;
	struct sent *sent;
	size_t nsent, max_sent;
};

struct notify_state *notify_state_new(size_t max_events, size_t max_sends)
{
	struct notify_state *s = xcalloc(1, sizeof *s);

	s->max_seen = max_events ? max_events : NOTIFY_STATE_EVENTS_MAX;
	s->max_sent = max_sends ? max_sends : NOTIFY_STATE_SENDS_MAX;
	s->seen = xcalloc(s->max_seen, sizeof *s->seen);
	s->sent = xcalloc(s->max_sent, sizeof *s->sent);
	return s;
}

void notify_state_free(struct notify_state *s)
{
	if (!s)
		return;
	free(s->seen);
	free(s->sent);
	free(s);
}

void notify_state_note_event(struct notify_state *s, const char *task_id, uint64_t fingerprint,
			     uint64_t identity, int64_t at_us)
{
	struct seen n = {fnv_str(task_id), fingerprint, identity, at_us};
	size_t slot = s->nseen;

	for (size_t i = 0; i < s->nseen; i++) {
		struct seen *x = &s->seen[i];

		if (x->task == n.task && x->fingerprint == fingerprint && x->identity == identity) {
			if (at_us < x->at_us)
				x->at_us = at_us; /* the first decision counts */
			return;
		}
	}
	if (s->nseen == s->max_seen) {
		slot = 0; /* full: the oldest goes */
		for (size_t i = 1; i < s->nseen; i++)
			if (s->seen[i].at_us < s->seen[slot].at_us)
				slot = i;
	} else {
		s->nseen++;
	}
	s->seen[slot] = n;
}

void notify_state_note_event_json(struct notify_state *s, const json_t *event, int64_t at_us)
{
	notify_state_note_event(s, json_get_str(event, "task_id"), notify_event_fingerprint(event),
				notify_event_identity(event), at_us);
}

void notify_state_note_send(struct notify_state *s, const char *label, int64_t at_us)
{
	size_t slot = s->nsent;

	if (s->nsent == s->max_sent) {
		slot = 0;
		for (size_t i = 1; i < s->nsent; i++)
			if (s->sent[i].at_us < s->sent[slot].at_us)
				slot = i;
	} else {
		s->nsent++;
	}
	s->sent[slot].label = fnv_str(label);
	s->sent[slot].at_us = at_us;
}

void notify_state_prune(struct notify_state *s, const struct notify_rules *r, int64_t now_us)
{
	size_t o = 0;
	int64_t keep_seen = now_us - r->dedupe_window_us;
	int64_t keep_sent = now_us - (r->rate_count > 0 ? r->rate_window_us : 0);

	for (size_t i = 0; i < s->nseen; i++)
		if (s->seen[i].at_us > keep_seen)
			s->seen[o++] = s->seen[i];
	s->nseen = o;
	o = 0;
	for (size_t i = 0; i < s->nsent; i++)
		if (s->sent[i].at_us > keep_sent)
			s->sent[o++] = s->sent[i];
	s->nsent = o;
}

size_t notify_state_events(const struct notify_state *s)
{
	return s ? s->nseen : 0;
}

size_t notify_state_sends(const struct notify_state *s)
{
	return s ? s->nsent : 0;
}

/* ---- time --------------------------------------------------------------- */

static const struct tz *quiet_zone(const struct notify_rules *r)
{
	const struct tz *z;

	if (!r->quiet.tz[0] || tz_load(r->quiet.tz, &z, NULL) != ERR_OK)
		return tz_utc();
	return z;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

bool notify_quiet_until(const struct notify_rules *r, int64_t now_us, int64_t *until_us)
{
	const struct tz *z;
	int64_t now_s, local_s, day, until_s;
	int m, start, end, add;

	*until_us = now_us;
	if (!r->quiet.on || r->quiet.start_min == r->quiet.end_min)
		return false;
	z = quiet_zone(r);
	now_s = floor_div(now_us, US_PER_S);
	local_s = now_s + tz_utc_offset(z, now_s);
	day = floor_div(local_s, 86400);
	m = (int)((local_s - day * 86400) / 60);
	start = r->quiet.start_min;
	end = r->quiet.end_min;
	if (start < end) {
		if (m < start || m >= end)
			return false;
		add = 0;
	} else {
		if (m < start && m >= end)
			return false;
		add = m >= start ? 1 : 0; /* before midnight: it ends tomorrow */
	}
	until_s = tz_from_local_s(z, (day + add) * 86400 + (int64_t)end * 60,
				  TZ_FOLD_FIRST | TZ_GAP_JUMP);
	if (until_s * US_PER_S <= now_us) /* in the repeated hour of a fold */
		until_s = tz_from_local_s(z, (day + add) * 86400 + (int64_t)end * 60,
					  TZ_FOLD_SECOND | TZ_GAP_JUMP);
	if (until_s * US_PER_S <= now_us)
		return false;
	*until_us = until_s * US_PER_S;
	return true;
}

int64_t notify_batch_flush_at(const struct notify_rules *r, int64_t now_us)
{
	if (r->batch_below_priority <= 0 || r->batch_window_us <= 0)
		return now_us;
	return (floor_div(now_us, r->batch_window_us) + 1) * r->batch_window_us;
}

/* "2026-03-29T05:00:00Z" (no microseconds) into out[CLOCK_ISO_MAX]. */
static void iso(int64_t us, char *out)
{
	char *dot;

	clock_format_utc(us, out);
	if ((dot = strchr(out, '.')))
		strcpy(dot, "Z");
}

/* Local "HH:MM" of an instant in the quiet-hours zone. */
static void local_hm(const struct notify_rules *r, int64_t us, char out[16])
{
	struct tm tm;

	tz_to_local(quiet_zone(r), floor_div(us, US_PER_S), &tm);
	snprintf(out, 16, "%02d:%02d", tm.tm_hour % 100, tm.tm_min % 100);
}

/* ---- the decision ------------------------------------------------------- */

void notify_decide(const struct notify_rules *r, const struct notify_state *s, const json_t *event,
		   const struct notify_target *t, const char *label, int64_t now_us,
		   struct notify_verdict *v)
{
	char lbuf[NOTIFY_LABEL_MAX], when[CLOCK_ISO_MAX], d[32];
	const char *type = json_get_str(event, "event_type"), *ch;
	int pri = notify_event_priority(event), min;
	int64_t until;

	memset(v, 0, sizeof *v);
	v->priority = pri;
	v->rule = "";
	if (!type)
		type = "event";
	if (!label) {
		notify_target_label(t, lbuf, sizeof lbuf);
		label = lbuf;
	}
	ch = notify_channel_name(t->channel);

	/* 1. minimum priority */
	min = t->min_priority > 0 ? t->min_priority
	      : ((int)t->channel >= 0 && t->channel < NOTIFY_CHANNEL__COUNT)
		      ? r->min_priority[t->channel]
		      : NOTIFY_PRIORITY_MIN;
	if (pri < min) {
		v->action = NOTIFY_SUPPRESS;
		v->rule = "min_priority";
		if (t->min_priority > 0)
			snprintf(v->reason, sizeof v->reason,
				 "priority %d is below the minimum %d set for %.200s", pri, min,
				 label);
		else
			snprintf(v->reason, sizeof v->reason,
				 "priority %d is below the minimum %d for %s", pri, min, ch);
		return;
	}

	/* 2. dedupe: the same thing from the same task, recently */
	if (r->dedupe_window_us > 0 && s) {
		uint64_t task = fnv_str(json_get_str(event, "task_id"));
		uint64_t fp = notify_event_fingerprint(event), id = notify_event_identity(event);
		const struct seen *hit = NULL;

		for (size_t i = 0; i < s->nseen; i++) {
			const struct seen *x = &s->seen[i];

			if (x->task == task && x->fingerprint == fp && x->identity != id &&
			    x->at_us <= now_us && now_us - x->at_us < r->dedupe_window_us &&
			    (!hit || x->at_us > hit->at_us))
				hit = x;
		}
		if (hit) {
			char ago[32];

			v->action = NOTIFY_SUPPRESS;
			v->rule = "dedupe";
			v->until_us = hit->at_us + r->dedupe_window_us;
			notify_duration_format(now_us - hit->at_us, ago, sizeof ago);
			notify_duration_format(r->dedupe_window_us, d, sizeof d);
			snprintf(v->reason, sizeof v->reason,
				 "the same %.60s from this task was already handled %s ago "
				 "(dedupe window %s)",
				 type, ago, d);
			return;
		}
	}

	/* 3. quiet hours */
	if (r->quiet.on && pri < r->quiet.bypass_priority &&
	    notify_quiet_until(r, now_us, &until)) {
		char s_hm[16], e_hm[16], at[16];

		v->action = NOTIFY_HOLD;
		v->rule = "quiet_hours";
		v->until_us = until;
		hm_text(r->quiet.start_min, s_hm);
		hm_text(r->quiet.end_min, e_hm);
		local_hm(r, until, at);
		iso(until, when);
		snprintf(v->reason, sizeof v->reason,
			 "quiet hours %s-%s (%.60s): held until %s local time (%s); priority %d "
			 "is below %d, which would go through",
			 s_hm, e_hm, r->quiet.tz[0] ? r->quiet.tz : "UTC", at, when, pri,
			 r->quiet.bypass_priority);
		return;
	}

	/* 4. batch low-priority events into a periodic digest */
	if (r->batch_below_priority > 0 && pri < r->batch_below_priority &&
	    r->batch_window_us > 0) {
		v->action = NOTIFY_BATCH;
		v->rule = "batch";
		v->until_us = notify_batch_flush_at(r, now_us);
		iso(v->until_us, when);
		notify_duration_format(r->batch_window_us, d, sizeof d);
		snprintf(v->reason, sizeof v->reason,
			 "priority %d is below %d: batched into the digest sent every %s (next at "
			 "%s)",
			 pri, r->batch_below_priority, d, when);
		return;
	}

	/* 5. rate limit per recipient (sliding window) */
	if (r->rate_count > 0 && r->rate_window_us > 0 && s) {
		uint64_t lh = fnv_str(label);
		int64_t oldest = INT64_MAX;
		int n = 0;

		for (size_t i = 0; i < s->nsent; i++) {
			const struct sent *x = &s->sent[i];

			if (x->label == lh && x->at_us > now_us - r->rate_window_us) {
				n++;
				if (x->at_us < oldest)
					oldest = x->at_us;
			}
		}
		if (n >= r->rate_count) {
			v->action = NOTIFY_SUPPRESS;
			v->rule = "rate_limit";
			v->until_us = oldest + r->rate_window_us;
			iso(v->until_us, when);
			notify_duration_format(r->rate_window_us, d, sizeof d);
			snprintf(v->reason, sizeof v->reason,
				 "%d messages went to %.120s in the last %s (limit %d per %s); the "
				 "next is allowed at %s",
				 n, label, d, r->rate_count, d, when);
			return;
		}
	}

	v->action = NOTIFY_SEND;
	snprintf(v->reason, sizeof v->reason, "priority %d passes every rule for %.200s", pri,
		 label);
}
