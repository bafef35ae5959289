/*
 * json.h - small helpers over jansson.
 *
 * Ownership follows jansson: functions returning json_t* return a new
 * reference the caller must json_decref(); getters return borrowed pointers.
 */
#ifndef AMBIENT_JSON_H
#define AMBIENT_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* Parse text (at most `len` bytes; len may be (size_t)-1 for NUL-terminated)
 * into a new value, any JSON type.  On failure returns NULL and sets *e to
 * ERR_INVALID with the line, column and parser message. */
json_t *json_parse(const char *text, size_t len, struct err *e);

/* Compact text (no spaces), keys in insertion order; caller frees. */
char *json_to_text(const json_t *j);
/* Pretty text with 2-space indent and sorted keys; caller frees. */
char *json_to_pretty(const json_t *j);

/* Borrowed string member, or NULL when absent or not a string. */
const char *json_get_str(const json_t *obj, const char *key);
/* Integer member or `def` when absent or not an integer. */
long long json_get_int(const json_t *obj, const char *key, long long def);

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when it is not one
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
size_t json_utf8_seq_len(const unsigned char *s, size_t n);
/* Characters (code points) in a valid UTF-8 string: the bytes that do not
 * continue a sequence. */
size_t json_utf8_chars(const char *s);
/* A copy of s (NULL: "") in which every invalid byte became U+FFFD; caller
 * frees.  Text from outside may be cut anywhere; JSON strings may not. */
char *json_utf8_sanitize(const char *s);
/* json_string() that never fails on bad UTF-8 (it is repaired). */
json_t *json_string_lossy(const char *s);

/* Name of a value's type for error messages: "string", "array", ... */
const char *json_type_name(const json_t *j);

#endif
