/*
 * xalloc.h - allocation that never returns NULL.
 *
 * Out of memory is not a condition ambient tries to survive: these abort with a
 * message (like tmux's xmalloc and Redis's zmalloc), which removes a whole
 * class of untested error branches.  Network-fed buffers are capped elsewhere
 * (see buf.h), so an attacker cannot drive us here.
 */
#ifndef AMBIENT_XALLOC_H
#define AMBIENT_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh heap string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Tune the C library's allocator for a server with many threads; call once
 * at the start of main (the ambient binary and the benchmarks that measure
 * its parts do). */
void xalloc_tune_for_threads(void);

#endif
