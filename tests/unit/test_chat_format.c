/*
 * test_chat_format.c - what `ambient chat` shows (src/cli/chat_format):
 * events of every type, store events brought to the feedback shape,
 * notification outcomes, the task table, recent events, tool lines.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/chat_format.h"
#include "common/json.h"

static json_t *J(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	if (!j)
		fprintf(stderr, "bad test JSON: %s\n", je.text);
	assert_non_null(j);
	return j;
}

static void expect_event(const char *json, const char *const *needles)
{
	json_t *ev = J(json);
	char *t = chat_format_event(ev);
	for (size_t i = 0; needles[i]; i++)
		if (!strstr(t, needles[i]))
			fail_msg("'%s' not in:\n%s", needles[i], t);
	assert_true(t[strlen(t) - 1] == '\n');
	free(t);
	json_decref(ev);
}

static void test_events(void **state)
{
	(void)state;
	/* the original's simulate samples */
	expect_event("{\"task_id\": \"demo-task-1\", \"event_type\": \"web_content_change\", "
		     "\"priority\": 3, \"timestamp\": \"2025-06-20T21:03:24.283615\", \"data\": "
		     "{\"url\": \"https://techcrunch.com\", \"content\": \"New breakthrough in "
		     "artificial intelligence:\\n\\n GPT-5 announced\", \"keywords_found\": "
		     "[\"artificial intelligence\", \"GPT-5\"], \"description\": \"Monitor "
		     "TechCrunch for AI news\"}}",
		     (const char *[]){
			     "[event] web_content_change (priority 3) task demo-task-1 at "
			     "21:03:24\n",
			     "        Monitor TechCrunch for AI news\n",
			     "https://techcrunch.com - keywords: artificial intelligence, GPT-5",
			     "artificial intelligence: GPT-5 announced\n", NULL});
	expect_event(
		"{\"task_id\": \"demo-task-2\", \"event_type\": \"daily_news_digest\", "
		"\"priority\": 3, \"data\": {\"digest_date\": \"2025-06-20\", "
		"\"news_summaries\": [{\"source\": \"https://techcrunch.com\", \"headlines\": "
		"[\"AI startup raises $100M Series A\", \"b\", \"c\", \"d\"]}, {\"source\": "
		"\"https://news.ycombinator.com\", \"error\": \"HTTP 503\"}], \"description\": "
		"\"Daily tech news digest\"}}",
		(const char *[]){"https://techcrunch.com (4 headlines)\n",
				 "          - AI startup raises $100M Series A\n",
				 "https://news.ycombinator.com: HTTP 503\n", NULL});
	expect_event("{\"event_type\": \"threshold_breach\", \"priority\": 4, \"data\": "
		     "{\"metric\": \"bitcoin_price\", \"current_value\": 51234.5, \"threshold\": "
		     "50000, \"comparison\": \"above\"}}",
		     (const char *[]){"bitcoin_price is 51234.5 (above 50000)", NULL});
	expect_event("{\"event_type\": \"scheduled_trigger\", \"priority\": 2, \"data\": "
		     "{\"schedule_config\": {\"type\": \"daily\", \"hour\": 9, \"message\": "
		     "\"Check the project status\", \"action\": \"check_project_status\"}}}",
		     (const char *[]){"(priority 2)", "Check the project status\n",
				      "action: check_project_status\n", NULL});
	expect_event(
		"{\"event_type\": \"task_check_failed\", \"priority\": 3, \"data\": "
		"{\"error\": \"DNS lookup failed for x.example (https://x.example)\", \"url\": "
		"\"https://x.example\"}}",
		(const char *[]){"        DNS lookup failed for x.example (https://x.example)\n",
				 NULL});
	expect_event("{\"event_type\": \"custom_thing\", \"data\": {\"a\": 1}}",
		     (const char *[]){"(priority 1)", "{\"a\":1}", NULL});
}

static void test_normalize(void **state)
{
	(void)state;
	json_t *se = J("{\"position\": 42, \"event_id\": \"0190-abc\", \"stream\": \"task-t1\", "
		       "\"version\": 3, \"type\": \"threshold_breach\", \"data\": {\"metric\": "
		       "\"cpu\", \"description\": \"CPU watch\"}, \"recorded_at\": "
		       "\"2025-06-20T21:03:24.283615Z\", \"task_id\": \"t1\", \"priority\": 4}");
	json_t *ev = chat_format_normalize(se);
	assert_string_equal(json_get_str(ev, "event_type"), "threshold_breach");
	assert_string_equal(json_get_str(ev, "task_id"), "t1");
	assert_string_equal(json_get_str(ev, "event_id"), "0190-abc");
	assert_string_equal(json_get_str(ev, "description"), "CPU watch");
	assert_string_equal(json_get_str(ev, "timestamp"), "2025-06-20T21:03:24.283615Z");
	assert_int_equal(json_get_int(ev, "priority", 0), 4);
	assert_int_equal(json_get_int(ev, "position", 0), 42);
	json_decref(ev);
	json_decref(se);
}

static void test_notification(void **state)
{
	(void)state;
	json_t *n = J("{\"kind\": \"notification\", \"type\": \"notification_sent\", \"outcome\": "
		      "\"sent\", \"channel\": \"sms\", \"to\": \"sms +15551234567\", \"task_id\": "
		      "\"t1\", \"message\": \"GPT-5 is out\"}");
	char *t = chat_format_notification(n);
	assert_string_equal(t, "[notification] sent: sms +15551234567 (task t1)\n"
			       "        GPT-5 is out\n");
	free(t);
	json_decref(n);
	n = J("{\"type\": \"notification_failed\", \"channel\": \"email\", \"to\": "
	      "\"me@example.com\", \"error\": \"550 no such user\"}");
	t = chat_format_notification(n);
	assert_string_equal(t, "[notification] failed: email me@example.com\n"
			       "        550 no such user\n");
	free(t);
	json_decref(n);
}

static void test_tasks(void **state)
{
	(void)state;
	json_t *r = J("{\"content\": [{\"type\": \"text\", \"text\": \"{\\\"status\\\": "
		      "\\\"success\\\", \\\"data\\\": {\\\"tasks\\\": [{\\\"task_id\\\": "
		      "\\\"3f2a9c1e-0000-4000-8000-000000000000\\\", \\\"task_type\\\": "
		      "\\\"web_monitor\\\", \\\"status\\\": \\\"active\\\", \\\"description\\\": "
		      "\\\"Monitor TechCrunch\\\", \\\"last_check\\\": "
		      "\\\"2025-06-20T21:03:24\\\", \\\"config\\\": "
		      "{\\\"check_interval_minutes\\\": 30}}, {\\\"task_id\\\": \\\"b\\\", "
		      "\\\"task_type\\\": \\\"schedule\\\", \\\"status\\\": \\\"paused\\\", "
		      "\\\"description\\\": \\\"Standup\\\", \\\"last_check\\\": null, "
		      "\\\"config\\\": {\\\"type\\\": \\\"daily\\\", \\\"hour\\\": 9}}], "
		      "\\\"total_tasks\\\": 2}}\"}]}");
	char *t = chat_format_tasks(r);
	assert_non_null(strstr(t, "TASK      TYPE"));
	assert_non_null(strstr(t, "3f2a9c1e  web_monitor      active  every 30 min    "
				  "2025-06-20 21:03:24  Monitor TechCrunch\n"));
	assert_non_null(strstr(t, "b         schedule         paused  daily 09:00     -"));
	assert_non_null(strstr(t, "(2 tasks;"));
	free(t);
	json_decref(r);

	r = J("{\"content\": [{\"type\": \"text\", \"text\": \"{\\\"status\\\": \\\"success\\\", "
	      "\\\"data\\\": {\\\"tasks\\\": [], \\\"total_tasks\\\": 0}}\"}]}");
	t = chat_format_tasks(r);
	assert_non_null(strstr(t, "No background tasks yet"));
	free(t);
	json_decref(r);

	r = J("{\"isError\": true, \"content\": [{\"type\": \"text\", \"text\": \"{\\\"status\\\": "
	      "\\\"error\\\", \\\"error\\\": \\\"Authorization required\\\"}\"}]}");
	t = chat_format_tasks(r);
	assert_string_equal(t, "error: Authorization required\n");
	free(t);
	json_decref(r);
}

static void test_recent_and_tools(void **state)
{
	(void)state;
	json_t *r = J("{\"content\": [], \"structuredContent\": {\"status\": \"success\", "
		      "\"data\": {\"events\": [{\"position\": 7, \"type\": \"scheduled_trigger\", "
		      "\"task_id\": \"abcdef0123\", \"recorded_at\": "
		      "\"2025-06-20T09:00:00.000001Z\", \"data\": {\"message\": \"Standup\"}}], "
		      "\"count\": 1}}}");
	char *t = chat_format_recent(r);
	assert_string_equal(t, "2025-06-20 09:00:00  scheduled_trigger       abcdef01  Standup\n");
	free(t);
	json_decref(r);

	t = chat_format_tool_call("create_background_task", "{\"task_type\": \"schedule\"}", 80);
	assert_string_equal(t, "  -> create_background_task {\"task_type\": \"schedule\"}\n");
	free(t);
	t = chat_format_tool_result("{\"status\": \"success\", \"message\": \"Background task "
				    "'x' created\"}",
				    false, 80);
	assert_string_equal(t, "  <- Background task 'x' created\n");
	free(t);
	t = chat_format_tool_result("{\"status\": \"error\", \"error\": \"bad config\"}", false,
				    80);
	assert_string_equal(t, "  <- error: bad config\n");
	free(t);
	t = chat_format_tool_result("plain text\nsecond line", true, 80);
	assert_string_equal(t, "  <- error: plain text\n");
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events),           cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_notification),     cmocka_unit_test(test_tasks),
		cmocka_unit_test(test_recent_and_tools),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
