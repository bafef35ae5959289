/*
 * timer_heap.h - an indexed min-heap of timers on (due time, sequence).
 *
 * The engine's task timers, the delivery's retry timers and the fetcher's
 * retry timers are all "many things, each due at some time, re-armed and
 * cancelled often".  A timer_node is embedded in the owner's struct and
 * remembers its index, so re-arming and cancelling are O(log n) without a
 * search; timer_heap_entry() gets the owner back.  Timers due at the same
 * time fire in the order they were armed (the sequence).
 *
 * Not thread-safe: one heap belongs to one thread.
 */
#ifndef AMBIENT_TIMER_HEAP_H
#define AMBIENT_TIMER_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct timer_node {
	int64_t due_us; /* when it fires (the owner's clock) */
	uint64_t seq;   /* arming order, the tie-break */
	size_t index;   /* position in the heap; SIZE_MAX when not armed */
};

struct timer_heap {
	struct timer_node **items;
	size_t n, cap;
	uint64_t seq;
};

/* The struct that embeds a node: timer_heap_entry(node, struct task, timer). */
#define timer_heap_entry(node, type, member) ((type *)((char *)(node)-offsetof(type, member)))

/* A node starts disarmed (also fine for a zeroed node: call this once). */
void timer_node_init(struct timer_node *t);
static inline bool timer_node_armed(const struct timer_node *t)
{
	return t->index != SIZE_MAX;
}

/* An empty heap ({0} is one too); cleanup frees the array, not the nodes. */
void timer_heap_init(struct timer_heap *h);
void timer_heap_cleanup(struct timer_heap *h);

/* Arm t to fire at due_us, or move it there when already armed. */
void timer_heap_arm(struct timer_heap *h, struct timer_node *t, int64_t due_us);
/* Disarm t (nothing when it is not armed). */
void timer_heap_disarm(struct timer_heap *h, struct timer_node *t);
/* The earliest timer, or NULL when none is armed. */
static inline struct timer_node *timer_heap_first(const struct timer_heap *h)
{
	return h->n ? h->items[0] : NULL;
}
static inline size_t timer_heap_size(const struct timer_heap *h)
{
	return h->n;
}

#endif
