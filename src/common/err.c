/* err.c - error codes and their detail messages. */
#include "err.h"

#include <stdio.h>
#include <string.h>

static const char *const err_names[ERR__COUNT] = {
	[ERR_OK] = "ok",
	[ERR_INVALID] = "invalid input",
	[ERR_NOT_FOUND] = "not found",
	[ERR_CONFLICT] = "conflict",
	[ERR_STATE] = "not allowed in this state",
	[ERR_IO] = "I/O error",
	[ERR_CORRUPT] = "corrupt or foreign data",
	[ERR_VERSION] = "unsupported version",
	[ERR_READONLY] = "read-only",
	[ERR_FULL] = "storage full",
	[ERR_BUSY] = "busy",
	[ERR_TOO_BIG] = "too big",
	[ERR_TIMEOUT] = "timed out",
	[ERR_PERM] = "permission denied",
	[ERR_INTERNAL] = "internal error",
};

const char *err_str(int code)
{
	if (code < 0 || code >= ERR__COUNT || !err_names[code])
		return "unknown error";
	return err_names[code];
}

int err_setv(struct err *e, int code, const char *fmt, va_list ap)
{
	if (e) {
		e->code = code;
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	}
	return code;
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_setv(e, code, fmt, ap);
	va_end(ap);
	return code;
}

void err_prefix(struct err *e, const char *fmt, ...)
{
	char head[ERR_MSG_MAX], old[ERR_MSG_MAX], joined[2 * ERR_MSG_MAX + 4];
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(head, sizeof head, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	snprintf(joined, sizeof joined, "%s: %s", head, old[0] ? old : err_str(e->code));
	memcpy(e->msg, joined, sizeof e->msg - 1);
	e->msg[sizeof e->msg - 1] = '\0';
}

void err_clear(struct err *e)
{
	if (e) {
		e->code = ERR_OK;
		e->msg[0] = '\0';
	}
}

const char *err_msg(const struct err *e)
{
	if (!e)
		return "";
	return e->msg[0] ? e->msg : err_str(e->code);
}
