/*
 * seed_tasks.h - the example tasks of the seed, ready for create_background_task.
 *
 * The seed (and the original client's `demo` command) sets up four tasks:
 *
 *   ai_monitor      web_monitor      TechCrunch, keywords "artificial intelligence", "AI",
 *                                    "machine learning", every 30 minutes, SMS
 *   tech_digest     news_digest      TechCrunch + Hacker News, every day at 08:00, SMS
 *   status_reminder schedule         daily at 09:00, "check my project status", SMS
 *   bitcoin_watch   threshold_watch  bitcoin_price above 50000, every 15 minutes, SMS
 *
 * seed_tasks_init() builds them for the real sites (live) or for a local
 * news site (`ambient demo`'s, src/cli/demo_site.h), which serves the paths
 * SEED_SITE_*_PATH below.  The bitcoin price comes from the server's price
 * API (`ambient serve --price-api-url`), so that task has no URL.
 *
 * Each task also carries the seed's natural-language request, for a chat
 * client that wants to ask an LLM to create it instead of calling the tool
 * itself (`ambient chat`'s `demo` command).
 *
 * Usage:
 *
 *	struct seed_task t[SEED_TASK_COUNT];
 *	seed_tasks_init(t, "http://127.0.0.1:40123", NULL);
 *	for (size_t i = 0; i < SEED_TASK_COUNT; i++)
 *		call create_background_task(t[i].task_type, t[i].description, t[i].config);
 *	seed_tasks_cleanup(t);
 */
#ifndef AMBIENT_CLI_SEED_TASKS_H
#define AMBIENT_CLI_SEED_TASKS_H

#include <jansson.h>

#define SEED_TASK_COUNT 4

/* The phone number of the seed's examples. */
#define SEED_PHONE_DEFAULT "+1234567890"

/* Pages of a local site standing in for the real ones (relative to its base
 * URL): TechCrunch's front page, TechCrunch's RSS feed, Hacker News. */
#define SEED_SITE_NEWS_PATH "/techcrunch"
#define SEED_SITE_FEED_PATH "/techcrunch/feed"
#define SEED_SITE_HN_PATH "/hn"

struct seed_task {
	const char *name;        /* short key: "ai_monitor", "tech_digest", ... */
	const char *task_type;   /* create_background_task's task_type */
	const char *event_type;  /* the event the task records when it fires */
	const char *description; /* create_background_task's description */
	const char *request;     /* the seed's words (an LLM prompt; names SEED_PHONE_DEFAULT) */
	json_t *config;          /* the config object; owned, see seed_tasks_cleanup */
};

/*
 * Fill tasks[0..SEED_TASK_COUNT) in the order of the table above.
 * site_base: base URL of a local site without a trailing slash
 * ("http://127.0.0.1:40123"), or NULL for the real sites (techcrunch.com,
 * news.ycombinator.com).  phone: the number SMS go to, NULL for
 * SEED_PHONE_DEFAULT.  The strings other than config are static; cannot fail.
 */
void seed_tasks_init(struct seed_task tasks[SEED_TASK_COUNT], const char *site_base,
		     const char *phone);

/* Release the configs; the array may be reused with seed_tasks_init. */
void seed_tasks_cleanup(struct seed_task tasks[SEED_TASK_COUNT]);

#endif
