/*
 * tz.h - IANA time zones from the system tz database, without the process TZ.
 *
 * localtime_r/mktime read the process-global TZ (setenv + tzset are not
 * thread-safe, and a process has one zone).  This module reads TZif files
 * (RFC 8536, versions 1-4) from /usr/share/zoneinfo itself and converts
 * between UTC and local time in any number of zones at once:
 *
 *   - the transition table (64-bit data of v2+ files, 32-bit of v1 files);
 *   - the POSIX TZ string of the footer ("EST5EDT,M3.2.0,M11.1.0") for
 *     instants after the last transition, so far-future years are right
 *     with "slim" zone files too (rule dates Mm.w.d, Jn and n, times from
 *     -167 to 167 hours as RFC 8536 v3 allows, quoted names <+0530>);
 *   - before the first transition, the zone's first time type.
 *
 * Zones with leap-second records (the "right/" zones) are refused: ambient
 * counts POSIX seconds, in which those zones would be 27 s off.
 *
 * Loaded zones are cached for the life of the process (thread-safe); the
 * pointers tz_load returns stay valid until tz_cache_free(), which only a
 * clean shutdown calls.  Zones are immutable, so any number of threads may
 * use one at once.
 *
 * "local" is the machine's zone: the TZ environment variable when set (a
 * zone name, ":name", an absolute path to a TZif file, or a POSIX TZ string;
 * set but empty means UTC, as in glibc), else /etc/localtime, else UTC.  It
 * is resolved once, on first use; tz_set_local() replaces it (tests, or a
 * future --timezone flag) without touching the environment.
 *
 * Times are int64_t seconds since the Unix epoch (UTC); "local seconds" are
 * the same count for the local wall clock (local_s = utc_s + offset), which
 * makes calendar arithmetic plain integer arithmetic.  Instants are clamped
 * to +-TZ_TIME_LIMIT.
 */
#ifndef AMBIENT_TZ_H
#define AMBIENT_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"

/* Where zone files are read from (TZDIR in the environment overrides it). */
#define TZ_DIR_DEFAULT "/usr/share/zoneinfo"
/* Largest zone file read; real ones are under 4 KiB. */
#define TZ_FILE_MAX (256 * 1024)
/* Instants beyond +-2^50 s (35 million years) are taken as that. */
#define TZ_TIME_LIMIT (INT64_C(1) << 50)
/* Longest zone name accepted. */
#define TZ_NAME_MAX 255

struct tz;

/* How tz_from_local treats wall-clock times that occur twice (a fold, when
 * clocks go back) or never (a gap, when clocks go forward).  Combine one
 * fold choice with one gap choice; 0 is the default of both. */
enum tz_fold {
	TZ_FOLD_FIRST = 0,  /* repeated time: the first occurrence (earlier instant) */
	TZ_FOLD_SECOND = 1, /* repeated time: the second occurrence */
	TZ_GAP_JUMP = 0,    /* skipped time: the instant of the jump (02:30 -> 03:00 new time) */
	TZ_GAP_SHIFT = 2,   /* skipped time: as far after the jump as it is into the gap
			     * (02:30 -> 03:30 new time), like RFC 5545 and Python's fold=0 */
};

/* Load a zone by IANA name ("Europe/Berlin", "UTC", "Etc/GMT+5"); NULL, ""
 * or "local" give the machine's zone.  The name may not start with '/' or
 * hold "." or ".." components.  *out is cached: do not free it.
 * Errors: ERR_NOT_FOUND for an unknown zone ("unknown time zone
 * \"Europe/Berln\": ...; use an IANA name such as \"Europe/Berlin\""),
 * ERR_INVALID for a malformed name or a leap-second zone, ERR_CORRUPT for a
 * damaged file, ERR_TOO_BIG over TZ_FILE_MAX, ERR_IO on read errors.
 * "UTC", "Etc/UTC", "GMT" and "Etc/GMT" work even without tzdata. */
int tz_load(const char *name, const struct tz **out, struct err *e);

/* The built-in UTC zone (no I/O, never fails). */
const struct tz *tz_utc(void);

/* Make "local" mean zone `name` (a zone name or a POSIX TZ string such as
 * "CET-1CEST,M3.5.0,M10.5.0/3"); NULL goes back to the machine's zone. */
int tz_set_local(const char *name, struct err *e);

/* Free every cached zone.  Only for a clean shutdown: every pointer from
 * tz_load becomes invalid. */
void tz_cache_free(void);

/* Parse TZif bytes (tests, fuzzing) into a zone the caller owns (tz_free);
 * `name` is what tz_name will say. */
int tz_parse_tzif(const void *data, size_t len, const char *name, struct tz **out, struct err *e);
/* A zone from a POSIX TZ string alone ("EST5EDT,M3.2.0,M11.1.0",
 * "<+0530>-5:30"), owned by the caller (tz_free).  ERR_INVALID with the
 * position of the mistake otherwise. */
int tz_parse_posix(const char *tzstring, struct tz **out, struct err *e);
void tz_free(struct tz *z);

/* The name the zone was loaded by ("America/New_York"; for "local" the
 * resolved name such as "Europe/Berlin", or "localtime"). */
const char *tz_name(const struct tz *z);

/* Offset of local time from UTC at instant utc_s, in seconds east of
 * Greenwich (New York in winter: -18000). */
int tz_utc_offset(const struct tz *z, int64_t utc_s);

/* Whether DST is in effect at utc_s. */
bool tz_is_dst(const struct tz *z, int64_t utc_s);

/* Break utc_s down into local time: every struct tm field, including
 * tm_wday, tm_yday, tm_isdst, tm_gmtoff and tm_zone (an abbreviation such
 * as "EST" that lives as long as the zone). */
void tz_to_local(const struct tz *z, int64_t utc_s, struct tm *out);

/* The UTC instant of a local wall time (tm_year, tm_mon, tm_mday, tm_hour,
 * tm_min, tm_sec; out-of-range values are normalised as timegm does, so
 * tm_mday = 32 is the 1st of the next month; other fields are ignored).
 * `policy` chooses among the two instants of a repeated time and places a
 * skipped time: see enum tz_fold. */
int64_t tz_from_local(const struct tz *z, const struct tm *local, int policy);
/* Same, from local seconds. */
int64_t tz_from_local_s(const struct tz *z, int64_t local_s, int policy);

/* The first instant after utc_s (strictly) and the last at or before it at
 * which the zone's rules change (offset, DST or abbreviation).  false when
 * there is none (a zone without DST after its last transition). */
bool tz_next_transition(const struct tz *z, int64_t utc_s, int64_t *when);
bool tz_prev_transition(const struct tz *z, int64_t utc_s, int64_t *when);

/* ---- proleptic Gregorian calendar helpers (pure) ------------------------ */

/* Days since 1970-01-01 of year y, month m (1-12), day d (1-31); months
 * and days out of range are carried (m = 13 is January of y + 1). */
int64_t tz_days_from_civil(int64_t y, int64_t m, int64_t d);
/* Inverse: year, month 1-12, day 1-31 of a day count. */
void tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
/* 0 = Sunday .. 6 = Saturday. */
int tz_weekday(int64_t days);
bool tz_is_leap_year(int64_t y);
int tz_days_in_month(int64_t y, int m);

#endif
