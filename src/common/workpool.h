/*
 * workpool.h - a pool of worker threads that grows on demand.
 *
 * Jobs may block for a long time (an MCP tool waiting for the client's
 * answer), so a submit never waits for a busy worker: when none is idle a new
 * thread starts, up to `max`; past that, jobs queue.  Workers idle for more
 * than a few seconds above `min` exit.  workpool_free runs every queued job,
 * then joins all workers.
 */
#ifndef AMBIENT_WORKPOOL_H
#define AMBIENT_WORKPOOL_H

#include <stddef.h>

struct workpool;

typedef void (*workpool_fn)(void *arg);

/* CONSTRUCTOR.  min threads start now; at most max run at once. */
struct workpool *workpool_new(size_t min, size_t max);
/* Run fn(arg) on a worker. */
void workpool_submit(struct workpool *p, workpool_fn fn, void *arg);
/* DESTRUCTOR: finishes queued jobs, joins every worker.  NULL is fine. */
void workpool_free(struct workpool *p);

#endif
