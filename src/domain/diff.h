/*
 * diff.h - line diff of two texts, and the content hash (pure).
 *
 * diff_lines compares two texts line by line (lines end at '\n'; a '\r'
 * before it and blank lines are ignored) and reports the lines added to
 * the new text and removed from the old one.  It is Myers' O(ND) algorithm
 * after trimming the common head and tail, so the usual case (a page where
 * a few lines changed) costs one pass over the lines.  When the texts
 * differ too much for that to stay cheap (more than max_edits edits, or
 * more than max_cost steps), it falls back to a multiset comparison:
 * lines of the new text that the old one does not have (as many times),
 * and the other way round; `approximate` says so.  That answer has the
 * same lines, only moves of unchanged lines are no longer told apart.
 * Time and memory are bounded either way: O(lines) for hashing, at most
 * (max_edits+1)^2 * 4 bytes and max_cost steps for Myers.
 *
 * The content hash is SHA-256 (OpenSSL's libcrypto, a few microseconds
 * for a 10 KB page): it is stored in soft state across restarts and
 * compared across engines, so it must be the same everywhere and never
 * collide by accident or on purpose; a 64-bit FNV would be faster by a
 * microsecond and give neither guarantee.  The in-memory line matching
 * uses a 64-bit hash plus a byte comparison, so it is exact.
 */
#ifndef AMBIENT_DOMAIN_DIFF_H
#define AMBIENT_DOMAIN_DIFF_H

#include <stdbool.h>
#include <stddef.h>

#define DIFF_HASH_HEX_LEN 64

/* Defaults of struct diff_opts (a zero field takes its default). */
#define DIFF_MAX_LINES 100000 /* lines read per text; the rest is ignored */
#define DIFF_MAX_EDITS 1024   /* Myers' D bound */
#define DIFF_MAX_COST 20000000
#define DIFF_MAX_OUT 1000 /* lines reported per list */

struct diff_opts {
	size_t max_lines;
	size_t max_edits;
	size_t max_cost;
	size_t max_out;
};

/* A line of one of the inputs (borrowed: points into the caller's text,
 * not NUL-terminated, without its '\r\n'). */
struct diff_line {
	const char *text;
	size_t len;
	size_t line; /* 0-based index among the text's non-blank lines */
};

struct diff_result {
	struct diff_line *added; /* in the new text's order */
	size_t n_added;
	struct diff_line *removed; /* in the old text's order */
	size_t n_removed;
	size_t total_added;   /* before the max_out cap */
	size_t total_removed; /* before the max_out cap */
	bool approximate;     /* the multiset fallback was used */
	bool truncated;       /* a text had more than max_lines lines, or a list was capped */
};

/* Compare `old` with `new_text` into *out (caller-owned; release with
 * diff_result_cleanup).  NULL texts are empty.  `o` may be NULL for the
 * defaults.  Never fails. */
void diff_lines(const char *old, size_t old_len, const char *new_text, size_t new_len,
		const struct diff_opts *o, struct diff_result *out);
void diff_result_cleanup(struct diff_result *r);

/* The lines joined with '\n' into a heap string of at most max_bytes
 * bytes (whole lines only, cut on UTF-8 characters). */
char *diff_join(const struct diff_line *lines, size_t n, size_t max_bytes);

/* SHA-256 of p[0..n) as 64 lower-case hex digits and a NUL. */
void diff_hash(const void *p, size_t n, char out[DIFF_HASH_HEX_LEN + 1]);

#endif
