/*
 * mcp_prompts.c - the seed's three usage examples as MCP prompts:
 * monitor a site for a topic, a daily news digest, a daily reminder.
 *
 * Each prompt turns its arguments into the exact create_background_task
 * call (task_type, description, config), checks the config with the domain
 * first (so a bad phone number or URL is refused here, naming the
 * argument, rather than by the tool later), and returns one user message
 * that tells the agent to make that call and nothing else.
 */
#include "mcp_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/xalloc.h"
#include "domain/task.h"

#define PROMPT_TEXT_MAX 4096 /* bytes of a free-text argument (URLs, keywords, a message) */

/* ---- argument helpers ------------------------------------------------------------- */

/* An optional whole number within [min, max]; `def` when absent or empty. */
static int int_arg(const json_t *args, const char *name, long min, long max, long def, long *out,
		   struct err *e)
{
	const char *s = json_get_str(args, name);
	char *end;
	long v;

	*out = def;
	if (!s)
		return ERR_OK;
	while (isspace((unsigned char)*s))
		s++;
	if (!*s)
		return ERR_OK;
	errno = 0;
	v = strtol(s, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (errno || *end || end == s || v < min || v > max)
		return err_set(e, ERR_INVALID,
			       "%s must be a whole number from %ld to %ld (got \"%.40s\")", name,
			       min, max, s);
	*out = v;
	return ERR_OK;
}

/* A required or optional free-text argument, trimmed into out (NULL when
 * absent and optional). */
static int text_arg(const json_t *args, const char *name, bool required, char **out, struct err *e)
{
	const char *s = json_get_str(args, name);
	size_t n;

	*out = NULL;
	while (s && isspace((unsigned char)*s))
		s++;
	n = s ? strlen(s) : 0;
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0)
		return required ? err_set(e, ERR_INVALID, "%s is required", name) : ERR_OK;
	if (n > PROMPT_TEXT_MAX)
		return err_set(e, ERR_INVALID, "%s must be at most %d bytes", name,
			       PROMPT_TEXT_MAX);
	*out = xstrndup(s, n);
	return ERR_OK;
}

/* "a, b ,c" -> ["a", "b", "c"] (empty items dropped).  URLs without a
 * scheme get "https://". */
static json_t *list_arg(const char *s, bool urls)
{
	json_t *arr = json_array();

	while (s && *s) {
		const char *end = strchr(s, ',');
		size_t n = end ? (size_t)(end - s) : strlen(s);
		char *item;

		while (n > 0 && isspace((unsigned char)*s))
			s++, n--;
		while (n > 0 && isspace((unsigned char)s[n - 1]))
			n--;
		if (n > 0) {
			item = xstrndup(s, n);
			if (urls && !strstr(item, "://")) {
				char *u = xasprintf("https://%s", item);

				free(item);
				item = u;
			}
			json_array_append_new(arr, json_string(item));
			free(item);
		}
		s = end ? end + 1 : NULL;
	}
	return arr;
}

static void add_sms(json_t *config, const char *phone)
{
	if (phone)
		json_object_set_new(
			config, "notification",
			json_pack("{s:s, s:s}", "method", "send_sms", "phone_number", phone));
}

/* "a, b and c" from the strings of arr, as a new string. */
static char *join_words(const json_t *arr)
{
	size_t n = json_array_size(arr);
	char *out = xstrdup("");

	for (size_t i = 0; i < n; i++) {
		const char *w = json_string_value(json_array_get(arr, i));
		const char *sep = i == 0 ? "" : (i + 1 == n ? " and " : ", ");
		char *next = xasprintf("%s%s%s", out, sep, w);

		free(out);
		out = next;
	}
	return out;
}

/* Cut s to at most max bytes at a character boundary (a description's
 * limit). */
static void cut_utf8(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	s[n] = '\0';
}

/*
 * The prompt result: check the config for the type, then one user message
 * with the request in words and the exact tool call.  Steals config.
 */
static int build(const char *request, const char *task_type, const char *description,
		 json_t *config, const char *prompt_description, json_t **result, struct err *e)
{
	struct err ve = {0};
	json_t *norm, *call_args, *msg;
	char *args_text, *text;
	int type;

	task_type_parse(task_type, &type, NULL);
	norm = task_config_validate(type, config, &ve);
	if (!norm) {
		json_decref(config);
		/* the arguments made a config the task would refuse: say which */
		return err_set(e, ERR_INVALID, "These arguments give an invalid %s config: %s",
			       task_type, ve.msg);
	}
	json_decref(norm);
	call_args = json_object();
	json_object_set_new(call_args, "task_type", json_string(task_type));
	json_object_set_new(call_args, "description", json_string(description));
	json_object_set_new(call_args, "config", config);
	args_text = app_mcp_dumps(call_args, 2);
	text = xasprintf("%s\n\n"
			 "Set this up by calling the tool `create_background_task` once, with "
			 "exactly these arguments:\n\n"
			 "```json\n%s\n```\n\n"
			 "Then tell me the task_id it returns and what the task will do. It runs "
			 "on the server in the background: nothing has been checked yet when it "
			 "is created. I can pause it with `pause_background_task`, and see what it "
			 "finds with `get_task_events`.",
			 request, args_text);
	msg = json_pack("{s:s, s:{s:s, s:s}}", "role", "user", "content", "type", "text", "text",
			text);
	*result = json_pack("{s:s, s:[o]}", "description", prompt_description, "messages", msg);
	free(args_text);
	free(text);
	json_decref(call_args);
	return ERR_OK;
}

/* ---- monitor_website ------------------------------------------------------------------ */

static const struct mcp_prompt_arg monitor_args[] = {
	{"url", "The site to watch, e.g. https://techcrunch.com (several: comma-separated)", true},
	{"keywords",
	 "The topic as comma-separated keywords, e.g. \"artificial intelligence, AI, machine "
	 "learning\"",
	 true},
	{"interval_minutes", "Minutes between checks, 1-10080 (default 30)", false},
	{"phone_number", "Send an SMS to this number when something is found, e.g. +1234567890",
	 false},
};

static int get_monitor(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	char *url = NULL, *kw = NULL, *phone = NULL, *words = NULL, *sites = NULL, *request, *desc;
	json_t *urls = NULL, *keywords = NULL, *config;
	long every;
	int rc;

	(void)call;
	if ((rc = text_arg(args, "url", true, &url, e)) ||
	    (rc = text_arg(args, "keywords", true, &kw, e)) ||
	    (rc = text_arg(args, "phone_number", false, &phone, e)) ||
	    (rc = int_arg(args, "interval_minutes", 1, 10080, 30, &every, e)))
		goto out;
	urls = list_arg(url, true);
	keywords = list_arg(kw, false);
	if (json_array_size(keywords) == 0) {
		rc = err_set(e, ERR_INVALID, "keywords must name at least one word, e.g. \"AI\"");
		goto out;
	}
	words = join_words(keywords);
	sites = join_words(urls);
	config = json_object();
	json_object_set(config, "urls", urls);
	json_object_set(config, "keywords", keywords);
	json_object_set_new(config, "check_interval_minutes", json_integer(every));
	add_sms(config, phone);
	request = xasprintf("Set up a background task to monitor %s for new content about %s. "
			    "Check every %ld minutes%s%s.",
			    sites, words, every,
			    phone ? " and send me an SMS notification when new matching content "
				    "is found. My phone number is "
				  : "",
			    phone ? phone : "");
	desc = xasprintf("Monitor %s for %s", sites, words);
	cut_utf8(desc, 1000);
	rc = build(request, "web_monitor", desc, config,
		   "Create a web_monitor task that watches a site for a topic", result, e);
	free(request);
	free(desc);
out:
	json_decref(urls);
	json_decref(keywords);
	free(url);
	free(kw);
	free(phone);
	free(words);
	free(sites);
	return rc;
}

/* ---- daily_news_digest -------------------------------------------------------------------- */

static const struct mcp_prompt_arg digest_args[] = {
	{"sources",
	 "News sites or feeds, comma-separated (default: https://techcrunch.com, "
	 "https://news.ycombinator.com)",
	 false},
	{"hour", "Hour of the day for the digest, 0-23 (default 8)", false},
	{"phone_number", "Send the digest by SMS to this number, e.g. +1234567890", false},
};

static int get_digest(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	char *src = NULL, *phone = NULL, *sites = NULL, *request;
	json_t *urls = NULL, *config;
	long hour;
	int rc;

	(void)call;
	if ((rc = text_arg(args, "sources", false, &src, e)) ||
	    (rc = text_arg(args, "phone_number", false, &phone, e)) ||
	    (rc = int_arg(args, "hour", 0, 23, 8, &hour, e)))
		goto out;
	urls = src ? list_arg(src, true)
		   : json_pack("[s, s]", "https://techcrunch.com", "https://news.ycombinator.com");
	if (json_array_size(urls) == 0) {
		rc = err_set(e, ERR_INVALID,
			     "sources must name at least one site, e.g. "
			     "\"https://techcrunch.com\"");
		goto out;
	}
	sites = join_words(urls);
	config = json_object();
	json_object_set(config, "news_urls", urls);
	json_object_set_new(config, "hour", json_integer(hour));
	json_object_set_new(config, "minute", json_integer(0));
	add_sms(config, phone);
	request = xasprintf("Create a daily news digest task that collects the latest headlines "
			    "from %s. Deliver the digest every day at %02ld:00%s%s.",
			    sites, hour, phone ? " via SMS to " : "", phone ? phone : "");
	rc = build(request, "news_digest", "Daily news digest", config,
		   "Create a news_digest task that delivers the headlines once a day", result, e);
	free(request);
out:
	json_decref(urls);
	free(src);
	free(phone);
	free(sites);
	return rc;
}

/* ---- daily_reminder -------------------------------------------------------------------------- */

static const struct mcp_prompt_arg reminder_args[] = {
	{"message", "What to be reminded of, e.g. \"Check my project status\"", true},
	{"hour", "Hour of the day, 0-23 (default 9)", false},
	{"minute", "Minute of the hour, 0-59 (default 0)", false},
	{"phone_number", "Send the reminder by SMS to this number, e.g. +1234567890", false},
};

static int get_reminder(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	char *message = NULL, *phone = NULL, *request = NULL, *desc = NULL;
	json_t *config;
	long hour, minute;
	int rc;

	(void)call;
	if ((rc = text_arg(args, "message", true, &message, e)) ||
	    (rc = text_arg(args, "phone_number", false, &phone, e)) ||
	    (rc = int_arg(args, "hour", 0, 23, 9, &hour, e)) ||
	    (rc = int_arg(args, "minute", 0, 59, 0, &minute, e)))
		goto out;
	config = json_object();
	json_object_set_new(config, "type", json_string("daily"));
	json_object_set_new(config, "hour", json_integer(hour));
	json_object_set_new(config, "minute", json_integer(minute));
	json_object_set_new(config, "message", json_string(message));
	add_sms(config, phone);
	request = xasprintf("Set up a daily reminder: \"%s\", every day at %02ld:%02ld%s%s.",
			    message, hour, minute, phone ? ". Send the reminder via SMS to " : "",
			    phone ? phone : "");
	desc = xasprintf("Daily reminder: %s", message);
	cut_utf8(desc, 1000);
	rc = build(request, "schedule", desc, config,
		   "Create a schedule task that reminds you every day", result, e);
out:
	free(message);
	free(phone);
	free(request);
	free(desc);
	return rc;
}

/* ---- the rows
 * ------------------------------------------------------------------------------------ */

#define NARGS(a) (sizeof(a) / sizeof((a)[0]))

static const struct mcp_prompt prompt_rows[] = {
	{
		.name = "monitor_website",
		.title = "Monitor a website for a topic",
		.description = "Watch a site in the background for new content about a topic and "
			       "get notified (e.g. TechCrunch, artificial intelligence, every 30 "
			       "minutes, SMS).",
		.args = monitor_args,
		.nargs = NARGS(monitor_args),
		.get = get_monitor,
	},
	{
		.name = "daily_news_digest",
		.title = "Daily news digest",
		.description = "Get the headlines of some news sites once a day (default "
			       "TechCrunch and Hacker News at 08:00).",
		.args = digest_args,
		.nargs = NARGS(digest_args),
		.get = get_digest,
	},
	{
		.name = "daily_reminder",
		.title = "Daily reminder",
		.description = "Be reminded of something every day at a set time (default "
			       "09:00), optionally by SMS.",
		.args = reminder_args,
		.nargs = NARGS(reminder_args),
		.get = get_reminder,
	},
};

int app_mcp_register_prompts(struct app_mcp *a, struct mcp_server *srv, struct err *e)
{
	for (size_t i = 0; i < NARGS(prompt_rows); i++) {
		struct mcp_prompt p = prompt_rows[i];
		int rc;

		p.data = a;
		if ((rc = mcp_server_add_prompt(srv, &p, e))) {
			err_prefix(e, "prompt %s: ", p.name);
			return rc;
		}
	}
	return ERR_OK;
}
