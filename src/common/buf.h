/*
 * buf.h - a growable byte buffer with a hard size cap.
 *
 * Like curl's dynbuf, a buffer is created with the largest size it may ever
 * reach, so data from the network can never grow it without bound.  The
 * content is always NUL-terminated.  Caller-owned: buf_init / buf_cleanup.
 */
#ifndef AMBIENT_BUF_H
#define AMBIENT_BUF_H

#include <stddef.h>

struct buf {
	char *data; /* NUL-terminated; NULL until the first append */
	size_t len;
	size_t cap;
	size_t max; /* hard cap on len */
};

void buf_init(struct buf *b, size_t max);
void buf_cleanup(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, keeps memory */

/* Append; return ERR_TOO_BIG (leaving the buffer unchanged) past the cap. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Hand the data to the caller (who frees it) and reset the buffer. */
char *buf_steal(struct buf *b);

/* Content as a string ("" when empty). */
const char *buf_str(const struct buf *b);

#endif
