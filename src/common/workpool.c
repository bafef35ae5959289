/*
 * workpool.c - see workpool.h.  One mutex guards the queue and the counts;
 * idle workers wait on one condition variable, and the pool frees itself
 * only after the last worker has said goodbye on `gone`.
 */
#include "common/workpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "common/log.h"
#include "common/xalloc.h"

#define IDLE_EXIT_S 5

struct job {
	workpool_fn fn;
	void *arg;
	struct job *next;
};

struct workpool {
	pthread_mutex_t lock;
	pthread_cond_t work; /* a job was queued, or stopping */
	pthread_cond_t gone; /* a worker exited */
	struct job *head, *tail;
	size_t min, max;
	size_t threads, idle;
	bool stopping;
};

static void *worker(void *arg)
{
	struct workpool *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->head && !p->stopping) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += IDLE_EXIT_S;
			p->idle++;
			int rc = pthread_cond_timedwait(&p->work, &p->lock, &ts);
			p->idle--;
			if (rc == ETIMEDOUT && !p->head && p->threads > p->min)
				goto out;
		}
		if (!p->head) /* stopping and nothing left */
			break;
		struct job *j = p->head;
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->lock);
		j->fn(j->arg);
		free(j);
		pthread_mutex_lock(&p->lock);
	}
out:
	p->threads--;
	pthread_cond_broadcast(&p->gone);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Start one detached worker; called with the lock held. */
static bool spawn(struct workpool *p)
{
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 512 * 1024);
	int rc = pthread_create(&t, &a, worker, p);
	pthread_attr_destroy(&a);
	if (rc != 0) {
		log_warn("workpool: cannot start a thread (%d); the job waits for a worker", rc);
		return false;
	}
	p->threads++;
	return true;
}

struct workpool *workpool_new(size_t min, size_t max)
{
	struct workpool *p = xcalloc(1, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->gone, NULL);
	p->min = min;
	p->max = max < 1 ? 1 : max;
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < min; i++)
		spawn(p);
	pthread_mutex_unlock(&p->lock);
	return p;
}

void workpool_submit(struct workpool *p, workpool_fn fn, void *arg)
{
	struct job *j = xmalloc(sizeof(*j));
	j->fn = fn;
	j->arg = arg;
	j->next = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	/* Count queued jobs against idle workers: start a thread when every
	 * idle one is already spoken for. */
	size_t queued = 0;
	for (struct job *q = p->head; q && queued <= p->idle; q = q->next)
		queued++;
	if ((queued > p->idle || p->threads == 0) && p->threads < p->max)
		spawn(p);
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
}

void workpool_free(struct workpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	if (p->head && p->threads == 0)
		spawn(p);
	pthread_cond_broadcast(&p->work);
	while (p->threads > 0)
		pthread_cond_wait(&p->gone, &p->lock);
	pthread_mutex_unlock(&p->lock);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->gone);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
