/* test_event_types.c - the event catalogue: priorities, lookup, docs in step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain/event_types.h"
#include "domain/task.h"

static void test_original_priorities(void **state)
{
	static const struct {
		const char *name;
		int priority;
	} want[] = {
		{"web_content_change", 3}, {"scheduled_trigger", 2},  {"daily_news_digest", 2},
		{"threshold_breach", 4},   {"task_created", 1},       {"task_updated", 1},
		{"task_paused", 1},        {"task_resumed", 1},       {"task_deleted", 1},
		{"task_check_failed", 3},  {"feedback_delivered", 1}, {"feedback_failed", 1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const struct event_type_info *t = event_type_find(want[i].name);

		if (!t)
			fail_msg("%s is not catalogued", want[i].name);
		assert_string_equal(t->name, want[i].name);
		assert_int_equal(t->priority, want[i].priority);
		assert_int_equal(event_type_priority(want[i].name), want[i].priority);
	}
}

static void test_unknown(void **state)
{
	(void)state;
	assert_null(event_type_find("no_such_event"));
	assert_null(event_type_find(NULL));
	assert_null(event_type_find(""));
	assert_null(event_type_find("WEB_CONTENT_CHANGE")); /* names are exact */
	assert_int_equal(event_type_priority("no_such_event"), 1);
	assert_int_equal(event_type_priority(NULL), EVENT_PRIORITY_DEFAULT);
}

static void test_iteration(void **state)
{
	size_t n = event_type_count();

	(void)state;
	assert_true(n >= 12);
	assert_null(event_type_at(n));
	for (size_t i = 0; i < n; i++) {
		const struct event_type_info *t = event_type_at(i);

		assert_non_null(t);
		assert_ptr_equal(event_type_find(t->name), t); /* names are unique */
		assert_in_range(t->priority, 1, 4);
		assert_true(t->description && *t->description);
		assert_true(t->data_fields && *t->data_fields);
		assert_string_not_equal(event_source_name(t->source), "unknown");
		for (const char *p = t->name; *p; p++)
			assert_true((*p >= 'a' && *p <= 'z') || *p == '_');
	}
}

static void test_task_lifecycle_types(void **state)
{
	const char *names[] = {TASK_EV_CREATED, TASK_EV_UPDATED, TASK_EV_PAUSED, TASK_EV_RESUMED,
			       TASK_EV_DELETED};

	(void)state;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		const struct event_type_info *t = event_type_find(names[i]);

		assert_non_null(t);
		assert_int_equal(t->source, EVENT_SOURCE_LIFECYCLE);
		assert_non_null(strstr(t->data_fields, "task_id"));
	}
	/* the original's payload fields are documented */
	assert_non_null(
		strstr(event_type_find("web_content_change")->data_fields, "keywords_found"));
	assert_non_null(strstr(event_type_find("threshold_breach")->data_fields, "current_value"));
	assert_non_null(
		strstr(event_type_find("daily_news_digest")->data_fields, "news_summaries"));
	assert_non_null(strstr(event_type_find("scheduled_trigger")->data_fields, "trigger_time"));
}

/* docs/events.md must name every catalogued type with its priority. */
static void test_docs_in_step(void **state)
{
	char path[4096], *doc, line[256];
	const char *dir_end = strrchr(__FILE__, '/');
	FILE *f;
	long len;

	(void)state;
	if (!dir_end || __FILE__[0] != '/')
		skip(); /* not built from an absolute path: cannot find the docs */
	snprintf(path, sizeof path, "%.*s/../../docs/events.md", (int)(dir_end - __FILE__),
		 __FILE__);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	doc = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(doc, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	for (size_t i = 0; i < event_type_count(); i++) {
		const struct event_type_info *t = event_type_at(i);

		snprintf(line, sizeof line, "| `%s` | %d |", t->name, t->priority);
		if (!strstr(doc, line))
			fail_msg("docs/events.md has no row starting \"%s\"", line);
	}
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_original_priorities),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_iteration),
		cmocka_unit_test(test_task_lifecycle_types),
		cmocka_unit_test(test_docs_in_step),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
