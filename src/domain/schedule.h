/*
 * schedule.h - when a task is due: schedule forms and check intervals (pure).
 *
 * A struct schedule is made once from a task's normalised config
 * (task_config_validate) and answers "when is the next due time after t?".
 * It covers every task type:
 *
 *   schedule        daily(hour, minute), weekly(days, hour, minute),
 *                   cron(expression), once(at), interval(minutes)
 *   news_digest     daily at hour:minute (default 08:00)
 *   web_monitor     every check_interval_minutes (default 30)
 *   threshold_watch every check_interval_minutes (default 15)
 *
 * Calendar forms (daily, weekly, cron, once without an offset) are wall
 * times in the config's "timezone"; the caller loads that zone
 * (tz_load(schedule_zone_name(config), ...)) and passes it in, so this
 * module does no I/O.  Intervals are elapsed time and ignore zones and DST.
 *
 * DST (docs/tasks.md, "Time zones and DST"):
 *   - a wall time that is skipped (clocks go forward) runs at the instant of
 *     the jump: daily 02:30 on the spring-forward day in New York runs at
 *     03:00 EDT;
 *   - a wall time that happens twice (clocks go back) runs once, at its
 *     first occurrence; except, as in Vixie cron, cron expressions whose
 *     minute or hour field starts with '*' (every N minutes, "0 * * * *"),
 *     which keep their rhythm and fire in both occurrences of the hour.
 *
 * Times are microseconds since the Unix epoch (UTC), as clock.h gives them;
 * due times of calendar forms are whole seconds.
 */
#ifndef AMBIENT_DOMAIN_SCHEDULE_H
#define AMBIENT_DOMAIN_SCHEDULE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "common/tz.h"
#include "cron.h"

/* How far ahead a calendar schedule is searched before it "never fires"
 * (29 February skips 8 years around 2100). */
#define SCHEDULE_SEARCH_YEARS 10
/* A due time less late than this when an engine takes a task up (a quick
 * restart, a lease takeover, the first run of a new task) is not "missed":
 * it runs at once, whatever the missed-run policy. */
#define SCHEDULE_LATE_GRACE_US (60 * INT64_C(1000000))
/* schedule_first_due counts missed due times up to this many. */
#define SCHEDULE_MISSED_COUNT_MAX 100

enum schedule_form {
	SCHEDULE_DAILY,
	SCHEDULE_INTERVAL,
	SCHEDULE_WEEKLY,
	SCHEDULE_ONCE,
	SCHEDULE_CRON,
};

/* What happens to due times that passed while no engine ran. */
enum schedule_missed {
	SCHEDULE_MISSED_ONCE, /* one catch-up run now, however many were missed */
	SCHEDULE_MISSED_SKIP, /* none: wait for the next due time */
};

/* Caller-owned, no heap: copy it, embed it, forget it. */
struct schedule {
	int task_type;         /* enum task_type */
	int form;              /* enum schedule_form */
	const struct tz *tz;   /* borrowed: a zone from tz_load (lives for the process) */
	int64_t interval_us;   /* SCHEDULE_INTERVAL */
	int64_t at_us;         /* SCHEDULE_ONCE */
	struct cron_expr cron; /* SCHEDULE_DAILY, _WEEKLY, _CRON */
	bool cron_wild;        /* fires in both occurrences of a repeated hour */
	int missed_policy;     /* enum schedule_missed; config "missed_run_policy" */
	int jitter_seconds;    /* config "jitter_seconds", 0-3600 */
};

/* The zone a config asks for: its "timezone", or NULL for the machine's
 * zone.  Pass it to tz_load. */
const char *schedule_zone_name(const json_t *config);

/* Build *out from a normalised config of `task_type` (enum task_type).
 * `tz` is the zone of schedule_zone_name(config); NULL means UTC.
 * missed_run_policy (default "once") and jitter_seconds (default 0) are read
 * for the schedule type only; the other types use the defaults.
 * ERR_INVALID when the config is not one task_config_validate produces. */
int schedule_from_config(int task_type, const json_t *config, const struct tz *tz,
			 struct schedule *out, struct err *e);

/* The first due time strictly after after_us.  For interval forms after_us
 * is the previous due time (or run) and the answer is after_us + interval.
 * ERR_NOT_FOUND when there is none: a once schedule whose time is not after
 * after_us, or a calendar that does not fire within SCHEDULE_SEARCH_YEARS. */
int schedule_next(const struct schedule *s, int64_t after_us, int64_t *due_us, struct err *e);

/* Where a task's schedule stands when an engine takes it up (start-up,
 * restart, lease takeover, resume). */
struct schedule_plan {
	int64_t due_us;          /* run at this time (may be <= now: run at once) */
	bool catch_up;           /* due_us == now: the one catch-up run of policy once */
	int64_t missed;          /* due times missed (more than the grace late), at most
				  * SCHEDULE_MISSED_COUNT_MAX for calendar forms */
	int64_t first_missed_us; /* the earliest of them; 0 when none */
};

/* The durable-timer rule.  `created_us` is when the schedule began (the
 * task_created event, or the task_updated that changed the config);
 * `last_run_us` the due time of the last run recorded in the task's events
 * (its trigger_time, without jitter; 0 when it never ran).  The next due
 * time is derived from the last run: the first one after it, or for a task
 * that never ran the first one at or after creation (for intervals, the
 * creation itself: the first run comes right away, as in the original; for
 * once, an `at` before creation counts as missed).  When that due time is
 * more than SCHEDULE_LATE_GRACE_US before now_us, the runs in between were
 * missed and s->missed_policy decides: once -> due_us = now_us with
 * catch_up set; skip -> the next due time not missed (intervals keep their
 * phase).  A due_us <= now_us means "run at once".
 * ERR_NOT_FOUND (with a message) when the task has nothing left to run:
 * a once schedule that ran, or whose time was skipped. */
int schedule_first_due(const struct schedule *s, int64_t created_us, int64_t last_run_us,
		       int64_t now_us, struct schedule_plan *out, struct err *e);

/* The task's jitter: a fixed offset in [0, s->jitter_seconds] seconds (in
 * microseconds), the same for the same task id on every run and restart,
 * spread evenly over task ids.  The engine fires at due_us + jitter. */
int64_t schedule_jitter_us(const struct schedule *s, const char *task_id);

/* Parse the `at` of a once schedule ("2025-07-01T09:30:00+02:00"; without
 * an offset, local time in tz, a skipped time placed at the jump, a
 * repeated one at its first occurrence).  ERR_INVALID on bad text. */
int schedule_parse_at(const char *text, const struct tz *tz, int64_t *us, struct err *e);

#endif
