/*
 * match.h - keyword matching over UTF-8 text (pure).
 *
 * Keywords are compiled once into a match_set and then searched in any
 * number of texts.  Matching is:
 *
 *  - case-insensitive by Unicode simple case folding (all scripts Unicode
 *    14 knows, with an ASCII fast path), plus "ß"/"ẞ" = "ss" and "İ" = "i",
 *    so "STRASSE" finds "Straße" and "ИИ" finds "ии";
 *  - on word boundaries: a keyword edge that is a letter or digit (any
 *    script, by Unicode category) must not touch another letter or digit.
 *    "AI" matches "AI", "AI,", "(AI)", "AI-powered", "AI's" but not
 *    "email", "MAIN", "AI2" nor "A.I." (write "A.I." as its own keyword:
 *    its trailing '.' needs no boundary).  Scripts written without spaces
 *    (Han, kana, Thai, Lao, Khmer, Myanmar) need no boundary, so "人工智能"
 *    is found inside a Chinese sentence;
 *  - white space insensitive: any run of white space (ASCII, NBSP, the
 *    U+2000 spaces, ideographic space) in the keyword or the text counts as
 *    one space, so "machine learning" finds "Machine\n  learning".  Soft
 *    hyphens and zero-width spaces in the text are ignored.
 *
 * Invalid UTF-8 in the text never matches anything and never crashes.
 * Texts longer than MATCH_TEXT_MAX are searched in their first
 * MATCH_TEXT_MAX bytes only.  Offsets reported are byte offsets into the
 * caller's text.  A match_set is immutable after match_set_new and may be
 * shared between threads.
 */
#ifndef AMBIENT_DOMAIN_MATCH_H
#define AMBIENT_DOMAIN_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of text searched; the rest of a longer text is ignored. */
#define MATCH_TEXT_MAX (4u << 20)
/* Bytes of one keyword; longer keywords are cut (on a character). */
#define MATCH_KEYWORD_MAX 1000
/* Bytes of one snippet, about: the sentence around a match, or this much. */
#define MATCH_SNIPPET_MAX 240

enum match_mode {
	MATCH_ANY, /* matched when at least one keyword occurs */
	MATCH_ALL, /* matched when every keyword occurs */
};

/* Flags of match_set_new. */
enum {
	MATCH_SUBSTRING = 1 << 0, /* no word boundaries: "ai" finds "email" */
};

struct match_set;

/* Compile `n` keywords (UTF-8, NUL-terminated; the strings are copied).
 * Keywords that are empty after trimming white space are kept (so indexes
 * stay the caller's) but never match.  Never fails; free with
 * match_set_free. */
struct match_set *match_set_new(const char *const *keywords, size_t n, unsigned flags);
void match_set_free(struct match_set *set);

size_t match_set_count(const struct match_set *set);
/* The keyword as the caller wrote it. */
const char *match_set_keyword(const struct match_set *set, size_t i);

/* Called for each occurrence: keyword index and byte range [start, end) in
 * the text.  Keywords are visited in order, each keyword's occurrences in
 * text order.  Return false to stop the scan. */
typedef bool (*match_fn)(void *ctx, size_t keyword, size_t start, size_t end);

/* Visit every occurrence of every keyword (occurrences of one keyword do
 * not overlap). */
void match_scan(const struct match_set *set, const char *text, size_t len, match_fn fn, void *ctx);

struct match_snippet {
	char *text;     /* valid UTF-8, NUL-terminated; "…" marks a cut */
	size_t keyword; /* index in the set of the keyword it shows */
	size_t start;   /* byte offset of the match in the text */
	size_t end;
};

struct match_result {
	bool matched; /* the mode's verdict; true for an empty set */
	size_t n_found;
	size_t *found; /* indexes of the keywords that occur, in set order */
	size_t hits;   /* occurrences counted, all keywords */
	size_t n_snippets;
	struct match_snippet *snippets; /* in text order, not overlapping */
};

/* Search `text` and fill *out (caller-owned; release with
 * match_result_cleanup).  Snippets: at most `max_snippets`, the first
 * occurrence of each found keyword first, then later ones; each is the
 * sentence around the match (within its line) or about
 * MATCH_SNIPPET_MAX bytes of it, cut on UTF-8 characters. */
void match_find(const struct match_set *set, const char *text, size_t len, enum match_mode mode,
		size_t max_snippets, struct match_result *out);
void match_result_cleanup(struct match_result *r);

/* Keyword names found, for events: out[i] = match_set_keyword(found[i]). */
size_t match_result_keywords(const struct match_set *set, const struct match_result *r,
			     const char **out, size_t max);

/* --- UTF-8 helpers shared with extract, feed and metric --------------- */

/* Decode one character at s[0..n) (n > 0).  Returns its length in bytes
 * (1-4) and sets *cp, or returns 1 with *cp = 0xFFFD on an invalid or
 * truncated sequence (overlongs, surrogates and > U+10FFFF are invalid). */
size_t match_utf8_decode(const char *s, size_t n, uint32_t *cp);
/* Encode cp into out[4]; returns the length. */
size_t match_utf8_encode(uint32_t cp, char *out);
/* The largest length <= max that does not cut a UTF-8 sequence of s. */
size_t match_utf8_cut(const char *s, size_t len, size_t max);
/* Number of characters (code points) in s[0..len). */
size_t match_utf8_chars(const char *s, size_t len);

/* Simple case folding of one code point (ß stays ß here). */
uint32_t match_fold_cp(uint32_t cp);
/* Whether cp is a letter or digit (Unicode L*, M*, N*) for boundaries. */
bool match_is_word_cp(uint32_t cp);
/* Whether cp is white space (ASCII, NBSP, U+1680, U+2000-200A, U+2028/9,
 * U+202F, U+205F, U+3000). */
bool match_is_space_cp(uint32_t cp);

/* The folded form of s[0..len) as the matcher sees it (case folded, white
 * space collapsed to ' ', invalid bytes as U+FFFD), heap string; for keys
 * and de-duplication. */
char *match_fold(const char *s, size_t len);

#endif
