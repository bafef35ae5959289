/* test_timer_heap.c - the indexed timer heap against a brute-force model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "common/timer_heap.h"

#define N 200

struct item {
	int id;
	struct timer_node timer;
};

/* The armed item a correct heap must give first: least due, then least seq. */
static struct item *model_first(struct item *items)
{
	struct item *best = NULL;
	for (int i = 0; i < N; i++) {
		struct timer_node *t = &items[i].timer;
		if (!timer_node_armed(t))
			continue;
		if (!best || t->due_us < best->timer.due_us ||
		    (t->due_us == best->timer.due_us && t->seq < best->timer.seq))
			best = &items[i];
	}
	return best;
}

static void test_random_operations(void **state)
{
	(void)state;
	struct item items[N];
	struct timer_heap h;
	timer_heap_init(&h);
	for (int i = 0; i < N; i++) {
		items[i].id = i;
		timer_node_init(&items[i].timer);
	}
	srand(7);
	for (int step = 0; step < 20000; step++) {
		struct item *it = &items[rand() % N];
		switch (rand() % 4) {
		case 0:
		case 1:
			timer_heap_arm(&h, &it->timer, rand() % 50); /* many equal due times */
			break;
		case 2:
			timer_heap_disarm(&h, &it->timer);
			break;
		default: {
			struct timer_node *first = timer_heap_first(&h);
			struct item *want = model_first(items);
			if (!want) {
				assert_null(first);
				break;
			}
			assert_non_null(first);
			assert_int_equal(timer_heap_entry(first, struct item, timer)->id, want->id);
			timer_heap_disarm(&h, first);
			break;
		}
		}
		size_t armed = 0;
		for (int i = 0; i < N; i++)
			armed += timer_node_armed(&items[i].timer);
		assert_int_equal(timer_heap_size(&h), armed);
	}
	timer_heap_cleanup(&h);
	for (int i = 0; i < N; i++)
		assert_false(timer_node_armed(&items[i].timer));
}

/* Equal due times fire in arming order; re-arming moves to the back. */
static void test_fifo_among_equals(void **state)
{
	(void)state;
	struct item a = {1}, b = {2}, c = {3};
	struct timer_heap h = {0};
	timer_node_init(&a.timer);
	timer_node_init(&b.timer);
	timer_node_init(&c.timer);
	timer_heap_arm(&h, &a.timer, 10);
	timer_heap_arm(&h, &b.timer, 10);
	timer_heap_arm(&h, &c.timer, 10);
	timer_heap_arm(&h, &a.timer, 10);
	int order[3];
	for (int i = 0; i < 3; i++) {
		struct timer_node *t = timer_heap_first(&h);
		order[i] = timer_heap_entry(t, struct item, timer)->id;
		timer_heap_disarm(&h, t);
	}
	assert_int_equal(order[0], 2);
	assert_int_equal(order[1], 3);
	assert_int_equal(order[2], 1);
	assert_null(timer_heap_first(&h));
	timer_heap_cleanup(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_operations),
		cmocka_unit_test(test_fifo_among_equals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
