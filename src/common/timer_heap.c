/* timer_heap.c - an indexed binary min-heap on (due_us, seq). */
#include "timer_heap.h"

#include <stdlib.h>

#include "xalloc.h"

static bool less(const struct timer_node *a, const struct timer_node *b)
{
	return a->due_us < b->due_us || (a->due_us == b->due_us && a->seq < b->seq);
}

static void place(struct timer_heap *h, size_t i, struct timer_node *t)
{
	h->items[i] = t;
	t->index = i;
}

static void sift_up(struct timer_heap *h, size_t i)
{
	struct timer_node *t = h->items[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!less(t, h->items[p]))
			break;
		place(h, i, h->items[p]);
		i = p;
	}
	place(h, i, t);
}

static void sift_down(struct timer_heap *h, size_t i)
{
	struct timer_node *t = h->items[i];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = l;
		if (l >= h->n)
			break;
		if (r < h->n && less(h->items[r], h->items[l]))
			m = r;
		if (!less(h->items[m], t))
			break;
		place(h, i, h->items[m]);
		i = m;
	}
	place(h, i, t);
}

void timer_node_init(struct timer_node *t)
{
	t->due_us = 0;
	t->seq = 0;
	t->index = SIZE_MAX;
}

void timer_heap_init(struct timer_heap *h)
{
	h->items = NULL;
	h->n = h->cap = 0;
	h->seq = 0;
}

void timer_heap_cleanup(struct timer_heap *h)
{
	for (size_t i = 0; i < h->n; i++)
		h->items[i]->index = SIZE_MAX;
	free(h->items);
	timer_heap_init(h);
}

void timer_heap_disarm(struct timer_heap *h, struct timer_node *t)
{
	if (t->index == SIZE_MAX)
		return;
	size_t i = t->index;
	struct timer_node *last = h->items[--h->n];
	t->index = SIZE_MAX;
	if (i == h->n)
		return;
	place(h, i, last);
	sift_down(h, i);
	sift_up(h, last->index);
}

void timer_heap_arm(struct timer_heap *h, struct timer_node *t, int64_t due_us)
{
	timer_heap_disarm(h, t);
	t->due_us = due_us;
	t->seq = ++h->seq;
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 64;
		h->items = xrealloc(h->items, h->cap * sizeof(*h->items));
	}
	h->items[h->n] = t;
	t->index = h->n++;
	sift_up(h, t->index);
}
