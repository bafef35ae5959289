/*
 * notify_policy.h - should the person be told now?  The rules of the
 * notifier, applied to one feedback event and one target.  Pure: no clock
 * (every time comes in as an argument), no I/O but the tz database read
 * through common/tz.
 *
 * The rules, checked in this order (the first that objects decides):
 *   1. min_priority (per channel, or the target's own "min_priority"):
 *      below it -> SUPPRESS.
 *   2. dedupe: the same task sent the same thing (event_type + data, see
 *      notify_event_fingerprint) within dedupe_window -> SUPPRESS.  The same
 *      event (same identity) is never a duplicate of itself, so one event may
 *      go to several targets, and a held event may be decided again when it
 *      is released.
 *   3. quiet hours (in a time zone, across midnight and DST): events below
 *      bypass_priority -> HOLD until the end of the quiet period.
 *   4. batch: priority below batch_below_priority -> BATCH, to be sent in
 *      one digest at the next flush (windows of batch_window_us aligned to
 *      the Unix epoch, so 1h flushes on the hour and a restart keeps the
 *      same schedule).
 *   5. rate limit per recipient (target label): rate_count sends in a
 *      sliding rate_window_us -> SUPPRESS until a slot frees.
 * Otherwise SEND.
 *
 * Defaults (notify_rules_defaults), and why:
 *   - min_priority: sms 2, email 1, webhook 1, ntfy 1.  An SMS interrupts and
 *     costs money, so routine priority-1 events (lifecycle, deliveries) never
 *     go by SMS; reminders and digests (2) do, because the seed's own example
 *     is a daily reminder by SMS that the person asked for.
 *   - dedupe_window 10 min: a page that flaps, or an event delivered twice,
 *     is told once; a real change an hour later is told again.
 *   - quiet hours off: the server cannot guess the person's night; turn it
 *     on with a time zone.  bypass_priority 5: when on, only events marked 5
 *     (above every catalogued type) break through.
 *   - rate limit 10 per hour per recipient: a runaway task cannot send
 *     hundreds of SMS; ten real alerts an hour still arrive.
 *   - batch priority < 2 every 1 h: routine events arrive as one hourly
 *     digest rather than one message each.
 *
 * The state (dedupe fingerprints per task, send times per recipient) lives
 * in memory, is REBUILT after a restart by replaying past decisions and
 * sends (notify_state_note_event / notify_state_note_send with their
 * recorded times), and stays bounded: entries older than the rules' windows
 * are pruned, and past a cap the oldest entries are dropped.  A state is not
 * thread-safe: the caller keeps one lock around its use.
 */
#ifndef AMBIENT_DOMAIN_NOTIFY_POLICY_H
#define AMBIENT_DOMAIN_NOTIFY_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/tz.h"
#include "notify_target.h"

#define NOTIFY_PRIORITY_MIN 1
#define NOTIFY_PRIORITY_MAX 5
#define NOTIFY_REASON_MAX 512
/* Longest window any rule accepts: 366 days. */
#define NOTIFY_WINDOW_MAX_US (INT64_C(366) * 86400 * 1000000)
/* Default caps of a state's tables (entries). */
#define NOTIFY_STATE_EVENTS_MAX 4096
#define NOTIFY_STATE_SENDS_MAX 8192

enum notify_action {
	NOTIFY_SEND = 0,
	NOTIFY_SUPPRESS,
	NOTIFY_HOLD,
	NOTIFY_BATCH,
};

/* "send", "suppress", "hold", "batch". */
const char *notify_action_name(enum notify_action a);

struct notify_quiet_hours {
	bool on;
	int start_min, end_min;   /* minutes after local midnight, 0..1439; differ */
	char tz[TZ_NAME_MAX + 1]; /* IANA zone; "" is UTC */
	int bypass_priority;      /* events at or above it are not held; 1..6 (6: none) */
};

struct notify_rules {
	int min_priority[NOTIFY_CHANNEL__COUNT]; /* 1..5 */
	int64_t dedupe_window_us;                /* 0: no dedupe */
	struct notify_quiet_hours quiet;
	int rate_count;           /* sends per window and recipient; 0: no limit */
	int64_t rate_window_us;   /* > 0 when rate_count > 0 */
	int batch_below_priority; /* 0: no batching; 2: priority 1 is batched */
	int64_t batch_window_us;  /* > 0 when batching */
};

/* The defaults above. */
void notify_rules_defaults(struct notify_rules *r);

/* Parse a rules object over the defaults (keys left out keep their
 * default; JSON null gives the defaults):
 *   {"min_priority": {"sms": 4, "email": 2} | 3,
 *    "dedupe_window": "10m" | 600 | 0,
 *    "quiet_hours": {"start": "22:00", "end": "07:00", "tz": "Europe/Paris",
 *                    "bypass_priority": 5} | null | false,
 *    "rate_limit": {"count": 10, "per": "1h"} | null | false,
 *    "batch": {"below_priority": 2, "every": "1h"} | null | false}
 * Durations: seconds as a number, or text "90", "30s", "10m", "1h", "1d",
 * "1h30m"; at most 366 days.  The zone is loaded (so an unknown zone is
 * refused here).  ERR_INVALID with "notify rules: <key> must be ... (got
 * ...)"; unknown keys are refused, listing the known ones.  *r is
 * unchanged on error. */
int notify_rules_parse(const json_t *cfg, struct notify_rules *r, struct err *e);

/* The rules as the JSON object notify_rules_parse reads (durations as
 * text).  New reference. */
json_t *notify_rules_to_json(const struct notify_rules *r);

/* Parse a duration as above into microseconds; 0 is allowed. */
int notify_duration_parse(const json_t *v, int64_t *us, struct err *e);
/* "45s", "10m", "1h30m", "2d"; "0s" for 0.  Into out[size]. */
void notify_duration_format(int64_t us, char *out, size_t size);

/* ---- events ------------------------------------------------------------- */

/* Priority of an event: its integer "priority" clamped to 1..5, else the
 * catalogue's priority of its event_type. */
int notify_event_priority(const json_t *event);

/* 64-bit FNV-1a of event_type and the canonical text of data (sorted keys,
 * compact): equal for the same type and equal data, whatever the key order. */
uint64_t notify_event_fingerprint(const json_t *event);

/* Which event this is, for "not a duplicate of itself": a hash of its
 * "event_id", else "feedback_id", else its integer "seq", else of the whole
 * event's canonical text. */
uint64_t notify_event_identity(const json_t *event);

/* ---- state -------------------------------------------------------------- */

struct notify_state;

/* A new empty state keeping at most max_events dedupe entries and max_sends
 * send times (0: the NOTIFY_STATE_*_MAX defaults).  Free with
 * notify_state_free (NULL is fine). */
struct notify_state *notify_state_new(size_t max_events, size_t max_sends);
void notify_state_free(struct notify_state *s);

/* Remember that an event of task task_id with this fingerprint and identity
 * was accepted at at_us (sent, held or batched: call it for those verdicts,
 * once per event, and while rebuilding for each past such decision).  Past
 * the cap the oldest entry goes. */
void notify_state_note_event(struct notify_state *s, const char *task_id, uint64_t fingerprint,
			     uint64_t identity, int64_t at_us);
/* Same, taking the three from the event. */
void notify_state_note_event_json(struct notify_state *s, const json_t *event, int64_t at_us);

/* Remember that a message went to recipient `label` (notify_target_label)
 * at at_us: one call per message actually sent (a digest counts once), and
 * while rebuilding for each past notification_sent. */
void notify_state_note_send(struct notify_state *s, const char *label, int64_t at_us);

/* Drop entries that no rule can see any more at now_us (older than the
 * dedupe window, older than the rate window). */
void notify_state_prune(struct notify_state *s, const struct notify_rules *r, int64_t now_us);

/* Entries held (tests, /metrics). */
size_t notify_state_events(const struct notify_state *s);
size_t notify_state_sends(const struct notify_state *s);

/* ---- decisions ---------------------------------------------------------- */

struct notify_verdict {
	enum notify_action action;
	/* the rule that decided: "min_priority", "dedupe", "quiet_hours",
	 * "batch", "rate_limit"; "" for SEND.  Static string. */
	const char *rule;
	char reason[NOTIFY_REASON_MAX]; /* for people: "priority 2 is below the minimum 4 for sms"
					 */
	/* HOLD: end of the quiet period; BATCH: the next flush; SUPPRESS by
	 * rate_limit: when the next send is allowed; by dedupe: when the window
	 * ends; 0 otherwise. */
	int64_t until_us;
	int priority; /* the event's priority as used */
};

/* Decide for one event (the feedback event JSON: task_id, event_type,
 * priority, data, ...) and one target, whose label is `label` (NULL: it is
 * computed).  Reads the state, does not change it: after acting, call
 * notify_state_note_event (SEND, HOLD, BATCH) and notify_state_note_send
 * (each message sent).  Never fails: odd events are treated as priority-1
 * events of their type. */
void notify_decide(const struct notify_rules *r, const struct notify_state *s, const json_t *event,
		   const struct notify_target *t, const char *label, int64_t now_us,
		   struct notify_verdict *v);

/* Whether now_us falls in the quiet hours; then *until_us is the instant
 * they end (the first instant at which the local time reaches end, correct
 * across DST gaps and folds), else *until_us = now_us. */
bool notify_quiet_until(const struct notify_rules *r, int64_t now_us, int64_t *until_us);

/* The next batch flush strictly after now_us (now_us when batching is
 * off). */
int64_t notify_batch_flush_at(const struct notify_rules *r, int64_t now_us);

#endif
