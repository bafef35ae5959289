/*
 * err.h - the one error enum of ambient, and a detail buffer carried beside it.
 *
 * Every fallible function returns an `int` from enum err_code (0 = ERR_OK) and,
 * when given a non-NULL `struct err *`, fills in a human-readable message that
 * says what was wrong and how to fix it.  Codes are only ever appended; they are
 * mapped to JSON-RPC codes and HTTP statuses only at the edges.
 */
#ifndef AMBIENT_ERR_H
#define AMBIENT_ERR_H

#include <stdarg.h>

enum err_code {
	ERR_OK = 0,
	ERR_INVALID,   /* bad input: argument, config, JSON */
	ERR_NOT_FOUND, /* no such task, stream, file */
	ERR_CONFLICT,  /* expected version did not match */
	ERR_STATE,     /* operation not allowed in the current state */
	ERR_IO,        /* operating system or database I/O failure */
	ERR_CORRUPT,   /* a file is damaged or not ours */
	ERR_VERSION,   /* written by a newer version of ambient */
	ERR_READONLY,  /* cannot write where asked to */
	ERR_FULL,      /* disk or quota full */
	ERR_BUSY,      /* locked by someone else for too long */
	ERR_TOO_BIG,   /* over a size cap */
	ERR_TIMEOUT,   /* a deadline passed */
	ERR_PERM,      /* not allowed for this principal */
	ERR_INTERNAL,  /* a bug: should not happen */
	ERR__COUNT
};

#define ERR_MSG_MAX 512

struct err {
	int code;
	char msg[ERR_MSG_MAX];
};

/* Short fixed name of a code, e.g. "conflict".  Never NULL. */
const char *err_str(int code);

/* Record code and a formatted message in *e (e may be NULL).  Returns code, so
 * callers can write `return err_set(e, ERR_INVALID, "...")`. */
int err_set(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int err_setv(struct err *e, int code, const char *fmt, va_list ap);

/* Prefix the existing message of *e with more context ("opening x: ..."). */
void err_prefix(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void err_clear(struct err *e);

/* The message when set, else err_str(code). */
const char *err_msg(const struct err *e);

#endif
