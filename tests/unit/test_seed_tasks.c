/* test_seed_tasks.c - the seed's example tasks are valid configs of their types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli/seed_tasks.h"
#include "common/json.h"
#include "domain/event_types.h"
#include "domain/task.h"

static void check_all(const char *base, const char *phone, const char *want_phone)
{
	struct seed_task t[SEED_TASK_COUNT];
	seed_tasks_init(t, base, phone);
	static const char *const names[] = {"ai_monitor", "tech_digest", "status_reminder",
					    "bitcoin_watch"};
	for (int i = 0; i < SEED_TASK_COUNT; i++) {
		struct err e = {0};
		int type = -1;
		assert_string_equal(t[i].name, names[i]);
		assert_int_equal(task_type_parse(t[i].task_type, &type, &e), 0);
		json_t *norm = task_config_validate(type, t[i].config, &e);
		if (!norm)
			fail_msg("%s: %s", t[i].name, err_msg(&e));
		assert_non_null(event_type_find(t[i].event_type));
		assert_true(strlen(t[i].description) > 0 && strlen(t[i].request) > 0);
		const json_t *n = json_object_get(t[i].config, "notification");
		assert_string_equal(json_get_str(n, "method"), "send_sms");
		assert_string_equal(json_get_str(n, "phone_number"), want_phone);
		json_decref(norm);
	}
	/* The seed's numbers: every 30 minutes, 8 AM, 9 AM, 50000. */
	assert_int_equal(json_get_int(t[0].config, "check_interval_minutes", 0), 30);
	assert_int_equal(json_array_size(json_object_get(t[0].config, "keywords")), 3);
	assert_int_equal(json_get_int(t[1].config, "hour", -1), 8);
	assert_string_equal(json_get_str(t[2].config, "type"), "daily");
	assert_int_equal(json_get_int(t[2].config, "hour", -1), 9);
	assert_int_equal(json_get_int(t[3].config, "threshold", 0), 50000);
	assert_string_equal(json_get_str(t[3].config, "metric"), "bitcoin_price");
	seed_tasks_cleanup(t);
	for (int i = 0; i < SEED_TASK_COUNT; i++)
		assert_null(t[i].config);
}

static void test_live_sites(void **state)
{
	(void)state;
	check_all(NULL, NULL, SEED_PHONE_DEFAULT);
	struct seed_task t[SEED_TASK_COUNT];
	seed_tasks_init(t, NULL, NULL);
	const json_t *urls = json_object_get(t[0].config, "urls");
	assert_string_equal(json_string_value(json_array_get(urls, 0)), "https://techcrunch.com");
	const json_t *src = json_object_get(t[1].config, "news_urls");
	assert_int_equal(json_array_size(src), 2);
	assert_non_null(strstr(json_string_value(json_array_get(src, 1)), "news.ycombinator.com"));
	seed_tasks_cleanup(t);
}

static void test_local_site(void **state)
{
	(void)state;
	check_all("http://127.0.0.1:40123", "+15551234567", "+15551234567");
	struct seed_task t[SEED_TASK_COUNT];
	seed_tasks_init(t, "http://127.0.0.1:40123", NULL);
	const json_t *urls = json_object_get(t[0].config, "urls");
	assert_string_equal(json_string_value(json_array_get(urls, 0)),
			    "http://127.0.0.1:40123" SEED_SITE_NEWS_PATH);
	const json_t *src = json_object_get(t[1].config, "news_urls");
	assert_string_equal(json_string_value(json_array_get(src, 0)),
			    "http://127.0.0.1:40123" SEED_SITE_FEED_PATH);
	assert_string_equal(json_string_value(json_array_get(src, 1)),
			    "http://127.0.0.1:40123" SEED_SITE_HN_PATH);
	seed_tasks_cleanup(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_sites),
		cmocka_unit_test(test_local_site),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
