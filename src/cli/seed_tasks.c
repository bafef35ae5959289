/* seed_tasks.c - the seed's example tasks (see seed_tasks.h). */
#include "cli/seed_tasks.h"

#include <string.h>

#include "common/xalloc.h"

static json_t *sms(const char *phone)
{
	return json_pack("{s:s, s:s}", "method", "send_sms", "phone_number", phone);
}

/* base + path as a new JSON string. */
static json_t *url(const char *base, const char *path)
{
	char *s = xasprintf("%s%s", base, path);
	json_t *j = json_string(s);
	free(s);
	return j;
}

void seed_tasks_init(struct seed_task t[SEED_TASK_COUNT], const char *base, const char *phone)
{
	json_t *page, *sources;

	if (!phone)
		phone = SEED_PHONE_DEFAULT;
	if (base) {
		page = json_pack("[o]", url(base, SEED_SITE_NEWS_PATH));
		sources = json_pack("[o, o]", url(base, SEED_SITE_FEED_PATH),
				    url(base, SEED_SITE_HN_PATH));
	} else {
		page = json_pack("[s]", "https://techcrunch.com");
		sources = json_pack("[s, s]", "https://techcrunch.com/feed/",
				    "https://news.ycombinator.com/rss");
	}

	t[0] = (struct seed_task){
		.name = "ai_monitor",
		.task_type = "web_monitor",
		.event_type = "web_content_change",
		.description = "Monitor TechCrunch for new articles about artificial intelligence",
		.request = "Set up a background task to monitor TechCrunch for new articles about "
			   "artificial intelligence. Check every 30 minutes and send me SMS "
			   "notifications when new AI content is found. My phone number is "
			   "+1234567890.",
		.config = json_pack("{s:o, s:[s,s,s], s:i, s:o}", "urls", page, "keywords",
				    "artificial intelligence", "AI", "machine learning",
				    "check_interval_minutes", 30, "notification", sms(phone)),
	};
	t[1] = (struct seed_task){
		.name = "tech_digest",
		.task_type = "news_digest",
		.event_type = "daily_news_digest",
		.description = "Daily technology news digest from TechCrunch and Hacker News",
		.request = "Create a daily news digest task that summarizes the latest technology "
			   "news from TechCrunch and Hacker News. Send me the digest every "
			   "morning at 8 AM via SMS to +1234567890.",
		.config = json_pack("{s:o, s:i, s:i, s:[s], s:o}", "news_urls", sources, "hour", 8,
				    "minute", 0, "categories", "technology", "notification",
				    sms(phone)),
	};
	t[2] = (struct seed_task){
		.name = "status_reminder",
		.task_type = "schedule",
		.event_type = "scheduled_trigger",
		.description = "Daily reminder to check the project status",
		.request = "Set up a daily reminder to check my project status every day at 9 AM. "
			   "Send the reminder via SMS to +1234567890.",
		.config =
			json_pack("{s:s, s:i, s:i, s:s, s:s, s:o}", "type", "daily", "hour", 9,
				  "minute", 0, "action", "check_project_status", "message",
				  "Time to check your project status", "notification", sms(phone)),
	};
	t[3] = (struct seed_task){
		.name = "bitcoin_watch",
		.task_type = "threshold_watch",
		.event_type = "threshold_breach",
		.description = "Alert when the bitcoin price goes above $50,000",
		.request = "Watch the bitcoin price and send me an SMS at +1234567890 when it goes "
			   "above 50000 dollars. Check every 15 minutes.",
		.config =
			json_pack("{s:s, s:i, s:i, s:o}", "metric", "bitcoin_price", "threshold",
				  50000, "check_interval_minutes", 15, "notification", sms(phone)),
	};
}

void seed_tasks_cleanup(struct seed_task t[SEED_TASK_COUNT])
{
	for (size_t i = 0; i < SEED_TASK_COUNT; i++) {
		json_decref(t[i].config);
		t[i].config = NULL;
	}
}
