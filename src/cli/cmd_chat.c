/*
 * cmd_chat.c - `ambient chat`: the event-driven client of the seed.
 *
 * An MCP client (chat_conn.h) connected to ambient, an LLM agent
 * (chat_agent.h) whose tools are the server's tools, and a live view of
 * what the background tasks find: the feedback server's event stream
 * (chat_feed.h) and MCP resource updates of event://tasks (followed by
 * get_recent_events).  Each event is shown as it arrives, also while the
 * person is at the prompt (chat_ui.h prints it above the prompt), and the
 * agent is asked whether and how to tell the person: it may call send_sms
 * or send_email, or answer NO_NOTIFICATION_NEEDED, as the original client's
 * process_event_feedback step intended (that client never received any
 * feedback; this one does).
 *
 * Threads: the main thread reads lines and runs commands and agent turns;
 * the feedback follower and the MCP watcher (below) deliver events into
 * the inbox from their own threads; the MCP client's notification thread
 * only sets flags.
 *
 * docs/chat.md is the user's page.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chat_agent.h"
#include "chat_conn.h"
#include "chat_feed.h"
#include "chat_format.h"
#include "chat_ui.h"
#include "cli.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/uuid.h"
#include "common/xalloc.h"
#include "domain/event_types.h"
#include "engine/delivery.h"
#include "engine/llm.h"
#include "seed_tasks.h"

#define AGENT_BATCH 20      /* events in one question to the agent */
#define SEEN_MAX 4096       /* event ids remembered for de-duplication */
#define WATCH_IDLE_MS 15000 /* the MCP watcher pings this often when idle */
#define WATCH_PING_MS 5000
#define MCP_EVENTS_LIMIT 50 /* get_recent_events per update */
#define DEMO_TASKS 3        /* the seed's three requests */
#define WAIT_DEFAULT_S 30
#define RESULT_TEXT_MAX (16u << 10)
#define CHAT_QUIT 100

const struct config_option cli_chat_options[] = {
	{"url", CONFIG_STRING, "AMBIENT_MCP_URL", NULL, "URL[,URL...]",
	 "MCP server(s) over Streamable HTTP, tried in order (a load balancer, then the nodes); "
	 "default: " CHAT_CONN_DEFAULT_URL_LB ", then " CHAT_CONN_DEFAULT_URL_DIRECT
	 ", then `ambient mcp` started over stdio"},
	{"stdio", CONFIG_STRING, NULL, NULL, "CMD",
	 "talk to an MCP server started with /bin/sh -c CMD instead (e.g. \"ambient mcp\")"},
	{"api-key", CONFIG_STRING, "AMBIENT_API_KEY", NULL, "KEY",
	 "sent to the MCP server as Authorization: Bearer KEY (prefer the environment variable)"},
	{"feedback", CONFIG_STRING, "AMBIENT_FEEDBACK_URL", NULL, "URL",
	 "the feedback server whose events are shown live (default " CHAT_FEED_DEFAULT_URL
	 ", or the server of EVENT_FEEDBACK_URL); 'off' follows none"},
	{"command", CONFIG_STRING, NULL, NULL, "TEXT",
	 "run one command or message, then exit (also -c TEXT)"},
	{"openai-api-key", CONFIG_STRING, "OPENAI_API_KEY", NULL, "KEY",
	 "key of the OpenAI-compatible API the agent uses (prefer the environment variable)"},
	{"openai-api-base", CONFIG_STRING, "OPENAI_API_BASE", NULL, "URL",
	 "OpenAI-compatible API base URL (default https://api.openai.com/v1; a llama.cpp, vLLM or "
	 "Ollama server needs no key)"},
	{"openai-model", CONFIG_STRING, "OPENAI_MODEL", LLM_DEFAULT_MODEL, "MODEL",
	 "the agent's model"},
	{"no-llm", CONFIG_BOOL, NULL, "false", NULL, "no agent even when an LLM is configured"},
	{"stream", CONFIG_BOOL, NULL, "true", NULL,
	 "stream the model's answers as they come (--no-stream for servers that cannot)"},
	{"max-steps", CONFIG_INT, NULL, "10", "N",
	 "model calls per request at most (each may call tools)", 1, 100},
	{"agent-events", CONFIG_BOOL, NULL, "true", NULL,
	 "ask the agent about each arriving event: whether and how to tell you "
	 "(--no-agent-events only shows them)"},
	{"min-priority", CONFIG_INT, NULL, "1", "N", "show only events of at least this priority",
	 1, 5},
	{"history-file", CONFIG_STRING, NULL, NULL, "PATH",
	 "the line history (default DATA_DIR/chat_history)"},
	{"webhook-secret", CONFIG_STRING, "AMBIENT_WEBHOOK_SECRET", NULL, "SECRET",
	 "whsec_... secret that signs what `simulate` posts, when the feedback server requires "
	 "signatures"},
	{NULL},
};

struct chat {
	struct cli_ctx *ctx;
	struct chat_ui *ui;
	struct chat_conn *conn;
	struct chat_feed *feed;
	struct chat_agent *agent; /* NULL without an LLM */
	struct llm_config llm;
	bool interactive, agent_events;
	int min_priority;
	char *feedback_url; /* base URL, or NULL: none */
	char *callback_url; /* for the tasks this chat creates, or NULL: the server's default */
	char *webhook_secret;
	char *examples;    /* event://config/examples */
	json_t *resources; /* URIs the server lists (for the read_resource tool) */
	bool has_sms, has_email;
	atomic_bool tools_dirty;
	int failures;

	pthread_mutex_t mu; /* the inbox and the watcher's flags */
	pthread_cond_t cond;
	json_t *for_agent; /* events waiting for the agent */
	json_t *seen;      /* event_id -> true */
	unsigned long shown;
	unsigned long waited; /* events `wait` has returned for */

	pthread_t watch_th;
	bool watching, watch_stop, mcp_dirty, mcp_events;
	long long mcp_after; /* newest store position seen over MCP */
};

/* ---- output --------------------------------------------------------------------------- */

/* A status line: in the flow when interactive, else on stderr. */
static void say_status(struct chat *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say_status(struct chat *c, const char *fmt, ...)
{
	char text[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (c->ui && c->interactive)
		chat_ui_print(c->ui, text);
	else
		fprintf(stderr, "ambient chat: %s\n", text);
}

static void print_owned(struct chat *c, char *text)
{
	chat_ui_print(c->ui, text);
	free(text);
}

/* ---- the inbox --------------------------------------------------------------------------- */

/* Show an event (feedback payload shape) once, and queue it for the agent. */
static void deliver(struct chat *c, const json_t *ev)
{
	const char *id = json_get_str(ev, "event_id");
	bool queued = false;

	pthread_mutex_lock(&c->mu);
	if (id && json_object_get(c->seen, id)) {
		pthread_mutex_unlock(&c->mu);
		return;
	}
	if (id) {
		if (json_object_size(c->seen) >= SEEN_MAX)
			json_object_clear(c->seen);
		json_object_set_new(c->seen, id, json_true());
	}
	if (json_get_int(ev, "priority", 1) < c->min_priority) {
		pthread_mutex_unlock(&c->mu);
		return;
	}
	c->shown++;
	if (c->agent && c->agent_events) {
		json_array_append_new(c->for_agent, json_deep_copy(ev));
		queued = true;
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
	print_owned(c, chat_format_event(ev));
	if (queued)
		chat_ui_wake(c->ui);
}

static void on_feed_event(void *ud, const char *kind, const json_t *data)
{
	struct chat *c = ud;
	if (strcmp(kind, "notification") == 0)
		print_owned(c, chat_format_notification(data));
	else
		deliver(c, data);
}

static void on_feed_status(void *ud, bool up, const char *text)
{
	struct chat *c = ud;
	(void)up;
	say_status(c, "[feedback] %s", text);
}

/* ---- MCP events: resources/updated of event://tasks -> get_recent_events ------------- */

static void on_notice(void *ud, const char *text)
{
	struct chat *c = ud;
	say_status(c, "[mcp] %s", text);
}

static void on_resource_updated(void *ud, const char *uri)
{
	struct chat *c = ud;
	if (strcmp(uri, "event://tasks") != 0)
		return;
	pthread_mutex_lock(&c->mu);
	c->mcp_dirty = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
}

static void on_tools_changed(void *ud)
{
	struct chat *c = ud;
	atomic_store(&c->tools_dirty, true);
}

/* The events of a get_recent_events call, newest first (borrowed from *holder). */
static json_t *recent_events(struct chat *c, int limit, json_t **holder)
{
	json_t *args = json_pack("{s:i}", "limit", limit), *r = NULL;
	struct err e = {0};
	*holder = NULL;
	int rc = chat_conn_call_tool(c->conn, "get_recent_events", args, &r, &e);
	json_decref(args);
	if (rc || json_is_true(json_object_get(r, "isError"))) {
		json_decref(r);
		return NULL;
	}
	*holder = chat_format_result_object(r);
	json_decref(r);
	return json_object_get(json_object_get(*holder, "data"), "events");
}

/* What the watcher shows of the store's events: what monitors found, and
 * failed checks; lifecycle events are the person's own doing. */
static bool worth_showing(const char *type)
{
	const struct event_type_info *t = event_type_find(type);
	return (t && t->source == EVENT_SOURCE_MONITOR) ||
	       (type && strcmp(type, "task_check_failed") == 0);
}

static void fetch_mcp_events(struct chat *c)
{
	json_t *holder = NULL;
	json_t *evs = recent_events(c, MCP_EVENTS_LIMIT, &holder);
	for (size_t i = json_array_size(evs); i-- > 0;) { /* oldest first */
		json_t *se = json_array_get(evs, i);
		long long pos = json_get_int(se, "position", 0);
		pthread_mutex_lock(&c->mu);
		bool fresh = pos > c->mcp_after;
		if (fresh)
			c->mcp_after = pos;
		pthread_mutex_unlock(&c->mu);
		if (!fresh || !worth_showing(json_get_str(se, "type")))
			continue;
		json_t *ev = chat_format_normalize(se);
		deliver(c, ev);
		json_decref(ev);
	}
	json_decref(holder);
}

static void *watch_main(void *arg)
{
	struct chat *c = arg;
	pthread_mutex_lock(&c->mu);
	while (!c->watch_stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += WATCH_IDLE_MS / 1000;
		int rc = 0;
		while (!c->watch_stop && !c->mcp_dirty && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&c->cond, &c->mu, &ts);
		if (c->watch_stop)
			break;
		bool dirty = c->mcp_dirty && c->mcp_events;
		c->mcp_dirty = false;
		pthread_mutex_unlock(&c->mu);
		if (dirty)
			fetch_mcp_events(c);
		else if (rc == ETIMEDOUT)
			chat_conn_check(c->conn, WATCH_PING_MS); /* reconnects when gone */
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static void start_watch(struct chat *c)
{
	json_t *holder = NULL;
	json_t *evs = recent_events(c, 1, &holder);
	c->mcp_events = evs != NULL; /* an ambient server: it has get_recent_events */
	c->mcp_after = json_get_int(json_array_get(evs, 0), "position", 0);
	json_decref(holder);
	if (c->mcp_events && !chat_conn_subscribe(c->conn, "event://tasks"))
		log_info("chat: the server does not offer resource subscriptions");
	if (pthread_create(&c->watch_th, NULL, watch_main, c) == 0)
		c->watching = true;
}

static void stop_watch(struct chat *c)
{
	if (!c->watching)
		return;
	pthread_mutex_lock(&c->mu);
	c->watch_stop = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->watch_th, NULL);
	c->watching = false;
}

/* ---- the agent ----------------------------------------------------------------------- */

#define READ_RESOURCE "read_resource"

static void hook_text(void *ud, const char *text, size_t len)
{
	struct chat *c = ud;
	chat_ui_write(c->ui, text, len);
}

static void hook_answer_end(void *ud)
{
	struct chat *c = ud;
	chat_ui_end_line(c->ui);
}

static void hook_tool_call(void *ud, const char *name, const char *args)
{
	struct chat *c = ud;
	print_owned(c, chat_format_tool_call(name, args, chat_ui_width(c->ui)));
}

static void hook_tool_result(void *ud, const char *name, const char *text, bool is_error)
{
	struct chat *c = ud;
	(void)name;
	print_owned(c, chat_format_tool_result(text, is_error, chat_ui_width(c->ui)));
}

static int hook_call_tool(void *ud, const char *name, const json_t *args, char **text,
			  bool *is_error)
{
	struct chat *c = ud;
	struct err e = {0};
	json_t *r = NULL;
	int rc;

	*is_error = false;
	if (strcmp(name, READ_RESOURCE) == 0) {
		const char *uri = json_get_str(args, "uri");
		char *t = NULL;
		rc = uri ? chat_conn_read_resource(c->conn, uri, &t, &e)
			 : err_set(&e, ERR_INVALID, "uri is required");
		if (rc) {
			*text = xasprintf("Error: cannot read %s: %s", uri ? uri : "(no uri)",
					  err_msg(&e));
			*is_error = true;
			return rc;
		}
		if (strlen(t) > RESULT_TEXT_MAX) {
			char *cut = xasprintf("%.*s\n[... cut]", (int)RESULT_TEXT_MAX, t);
			free(t);
			t = cut;
		}
		*text = t;
		return ERR_OK;
	}
	rc = chat_conn_call_tool(c->conn, name, args, &r, &e);
	if (rc) {
		*text = xasprintf("Error: the call could not be made: %s", err_msg(&e));
		*is_error = true;
		return rc;
	}
	*text = chat_agent_result_text(r, RESULT_TEXT_MAX, is_error);
	json_decref(r);
	return ERR_OK;
}

static bool hook_stop(void *ud)
{
	struct chat *c = ud;
	return chat_ui_interrupted(c->ui) || chat_ui_quit_requested(c->ui);
}

/* The client's own tool: reading a resource (like the original's
 * get_resource_* tools, as one tool). */
static json_t *read_resource_tool(struct chat *c)
{
	struct buf b;
	size_t i;
	json_t *r;
	buf_init(&b, 4096);
	json_array_foreach(c->resources, i, r) {
		const char *uri = json_get_str(r, "uri");
		if (uri && b.len + strlen(uri) < 3000)
			buf_printf(&b, "%s%s", b.len ? ", " : "", uri);
	}
	char *desc = xasprintf("Read one of the MCP server's resources by its URI and get its "
			       "text%s%s. Templates such as event://tasks/{task_id}/events take a "
			       "task id.",
			       b.len ? ". Resources: " : "", buf_str(&b));
	buf_cleanup(&b);
	json_t *t = json_pack("{s:s, s:s, s:{s:s, s:{s:{s:s, s:s}}, s:[s]}}", "name", READ_RESOURCE,
			      "description", desc, "inputSchema", "type", "object", "properties",
			      "uri", "type", "string", "description",
			      "The resource's URI, e.g. event://tasks", "required", "uri");
	free(desc);
	return t;
}

static bool tools_have(const json_t *tools, const char *name)
{
	size_t i;
	json_t *t;
	json_array_foreach(tools, i, t) {
		const char *n = json_get_str(t, "name");
		if (n && strcmp(n, name) == 0)
			return true;
	}
	return false;
}

/* List the tools again and give them to the agent; the system prompt
 * follows (it names the notification tools there are). */
static int refresh_tools(struct chat *c, size_t *count, struct err *e)
{
	json_t *tools = NULL;
	int rc = chat_conn_list_tools(c->conn, &tools, e);
	atomic_store(&c->tools_dirty, false);
	if (rc)
		return rc;
	c->has_sms = tools_have(tools, "send_sms");
	c->has_email = tools_have(tools, "send_email");
	if (count)
		*count = json_array_size(tools);
	if (c->agent) {
		if (!tools_have(tools, READ_RESOURCE))
			json_array_append_new(tools, read_resource_tool(c));
		chat_agent_set_tools(c->agent, tools);
		char *ins = chat_conn_instructions(c->conn);
		char *sys = chat_agent_system_prompt(c->examples, c->callback_url, ins, c->has_sms,
						     c->has_email);
		chat_agent_set_system(c->agent, sys);
		free(sys);
		free(ins);
	}
	json_decref(tools);
	return ERR_OK;
}

static int agent_turn(struct chat *c, const char *text)
{
	char *answer = NULL;
	struct err e = {0};

	if (atomic_load(&c->tools_dirty) && refresh_tools(c, NULL, &e))
		say_status(c, "[mcp] cannot list the tools again: %s", err_msg(&e));
	chat_ui_clear_interrupt(c->ui);
	int rc = chat_agent_turn(c->agent, text, &answer, &e);
	chat_ui_end_line(c->ui);
	if (rc == ERR_STATE && chat_ui_interrupted(c->ui))
		chat_ui_print(c->ui, "(interrupted)");
	else if (rc)
		say_status(c, "agent: %s", err_msg(&e));
	chat_ui_clear_interrupt(c->ui);
	free(answer);
	return rc ? CLI_FAIL : CLI_OK;
}

/* Ask the agent about the events that arrived, a batch at a time. */
static void process_agent_events(struct chat *c)
{
	for (;;) {
		json_t *batch = json_array();
		pthread_mutex_lock(&c->mu);
		while (json_array_size(c->for_agent) && json_array_size(batch) < AGENT_BATCH) {
			json_array_append(batch, json_array_get(c->for_agent, 0));
			json_array_remove(c->for_agent, 0);
		}
		pthread_mutex_unlock(&c->mu);
		size_t n = json_array_size(batch);
		if (!n || !c->agent || chat_ui_quit_requested(c->ui)) {
			json_decref(batch);
			return;
		}
		char head[120];
		snprintf(head, sizeof head, "[agent] deciding whether to tell you about %s",
			 n == 1 ? "this event" : "these events");
		chat_ui_print(c->ui, head);
		char *prompt = chat_agent_event_prompt(batch, c->has_sms, c->has_email);
		agent_turn(c, prompt);
		free(prompt);
		json_decref(batch);
	}
}

static const char no_llm_text[] =
	"No LLM is configured, so only commands work here (type `help`). To talk to the agent, "
	"set OPENAI_API_KEY (OpenAI), or OPENAI_API_BASE to a local OpenAI-compatible server "
	"(llama.cpp: http://127.0.0.1:8080/v1, Ollama: http://127.0.0.1:11434/v1, vLLM: "
	"http://127.0.0.1:8000/v1), and OPENAI_MODEL to its model (default " LLM_DEFAULT_MODEL ").";

/* ---- commands --------------------------------------------------------------------------- */

struct chat_command {
	const char *name;
	const char *args; /* shown in help; NULL: takes none */
	const char *help;
	int (*run)(struct chat *c, const char *arg);
};

static const struct chat_command commands[];

static int cmd_help(struct chat *c, const char *arg)
{
	struct buf b;
	(void)arg;
	buf_init(&b, 8192);
	buf_puts(&b, "Commands:\n");
	for (const struct chat_command *k = commands; k->name; k++) {
		char head[40];
		if (!k->help)
			continue;
		snprintf(head, sizeof head, "%s%s%s", k->name, k->args ? " " : "",
			 k->args ? k->args : "");
		buf_printf(&b, "  %-14s %s\n", head, k->help);
	}
	if (c->agent)
		buf_printf(&b,
			   "Anything else goes to the agent (%s), which may call the server's "
			   "tools, e.g. \"watch https://example.com for 'price drop' every 10 "
			   "minutes and text me at +15551234567\". Ctrl-C stops an answer.\n",
			   llm_model(&c->llm));
	else
		buf_printf(&b, "%s\n", no_llm_text);
	buf_puts(&b, "Events from your tasks are shown as they arrive.\n");
	chat_ui_print(c->ui, buf_str(&b));
	buf_cleanup(&b);
	return CLI_OK;
}

static int cmd_quit(struct chat *c, const char *arg)
{
	(void)c;
	(void)arg;
	return CHAT_QUIT;
}

static int call_and_show(struct chat *c, const char *tool, json_t *args,
			 char *(*format)(const json_t *))
{
	json_t *r = NULL;
	struct err e = {0};
	int rc = chat_conn_call_tool(c->conn, tool, args, &r, &e);
	json_decref(args);
	if (rc) {
		say_status(c, "%s: %s", tool, err_msg(&e));
		return CLI_FAIL;
	}
	bool bad = json_is_true(json_object_get(r, "isError"));
	print_owned(c, format(r));
	json_decref(r);
	return bad ? CLI_FAIL : CLI_OK;
}

static int cmd_tasks(struct chat *c, const char *arg)
{
	(void)arg;
	return call_and_show(c, "list_background_tasks", json_object(), chat_format_tasks);
}

static int cmd_events(struct chat *c, const char *arg)
{
	long n = arg && *arg ? strtol(arg, NULL, 10) : 10;
	if (n < 1 || n > 200)
		n = 10;
	return call_and_show(c, "get_recent_events", json_pack("{s:i}", "limit", (int)n),
			     chat_format_recent);
}

static int cmd_demo(struct chat *c, const char *arg)
{
	struct seed_task t[SEED_TASK_COUNT];
	int status = CLI_OK;
	(void)arg;
	seed_tasks_init(t, NULL, NULL);
	for (size_t i = 0; i < DEMO_TASKS && !chat_ui_quit_requested(c->ui); i++) {
		char head[600];
		snprintf(head, sizeof head, "[demo %zu/%d] %s", i + 1, DEMO_TASKS,
			 c->agent ? t[i].request : t[i].description);
		chat_ui_print(c->ui, head);
		if (c->agent) {
			if (agent_turn(c, t[i].request))
				status = CLI_FAIL;
			if (chat_ui_interrupted(c->ui))
				break;
			continue;
		}
		/* No LLM: the call an agent would make. */
		json_t *args = json_pack("{s:s, s:s, s:O}", "task_type", t[i].task_type,
					 "description", t[i].description, "config", t[i].config);
		if (c->callback_url)
			json_object_set_new(args, "callback_url", json_string(c->callback_url));
		char *a = json_dumps(args, JSON_COMPACT);
		print_owned(c, chat_format_tool_call("create_background_task", a,
						     chat_ui_width(c->ui)));
		free(a);
		json_t *r = NULL;
		struct err e = {0};
		if (chat_conn_call_tool(c->conn, "create_background_task", args, &r, &e)) {
			say_status(c, "create_background_task: %s", err_msg(&e));
			status = CLI_FAIL;
		} else {
			bool is_error;
			char *text = chat_agent_result_text(r, RESULT_TEXT_MAX, &is_error);
			print_owned(c,
				    chat_format_tool_result(text, is_error, chat_ui_width(c->ui)));
			free(text);
			if (is_error)
				status = CLI_FAIL;
		}
		json_decref(r);
		json_decref(args);
	}
	seed_tasks_cleanup(t);
	return status;
}

/* POST one event to the feedback server, signed when there is a secret. */
static int post_feedback(struct chat *c, const json_t *payload, char **reply, long *status,
			 struct err *e)
{
	char *body = json_dumps(payload, JSON_COMPACT);
	char *url = xasprintf("%s/process_background_feedback", c->feedback_url);
	char id[UUID_STR_LEN + 1], hid[80], hts[64], hsig[DELIVERY_SIG_MAX + 32];
	char sig[DELIVERY_SIG_MAX], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = NULL;
	int rc = ERR_OK;
	int64_t ts = (int64_t)time(NULL);

	*reply = NULL;
	uuid_v4(id);
	snprintf(hid, sizeof hid, "webhook-id: %s", id);
	snprintf(hts, sizeof hts, "webhook-timestamp: %lld", (long long)ts);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, hid);
	h = curl_slist_append(h, hts);
	if (c->webhook_secret) {
		if ((rc = delivery_sign(c->webhook_secret, id, ts, body, strlen(body), sig, e))) {
			curl_slist_free_all(h);
			free(body);
			free(url);
			return rc;
		}
		snprintf(hsig, sizeof hsig, "webhook-signature: %s", sig);
		h = curl_slist_append(h, hsig);
	}
	CURL *k = curl_easy_init();
	curl_easy_setopt(k, CURLOPT_URL, url);
	curl_easy_setopt(k, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(k, CURLOPT_PROXY, "");
	curl_easy_setopt(k, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(k, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(k, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(k, CURLOPT_ERRORBUFFER, errbuf);
	char *memp = NULL;
	size_t meml = 0;
	FILE *mem = open_memstream(&memp, &meml);
	curl_easy_setopt(k, CURLOPT_WRITEDATA, mem);
	CURLcode cc = curl_easy_perform(k);
	fclose(mem);
	curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, status);
	if (cc != CURLE_OK)
		rc = err_set(e, ERR_IO, "cannot reach the feedback server at %s: %s", url,
			     errbuf[0] ? errbuf : curl_easy_strerror(cc));
	else
		*reply = memp ? xstrndup(memp, meml) : xstrdup("");
	free(memp);
	curl_easy_cleanup(k);
	curl_slist_free_all(h);
	free(body);
	free(url);
	return rc;
}

/* The original client's two sample events (client/v13_mcp_client.py). */
static json_t *sample_events(void)
{
	char now[CLOCK_ISO_MAX], date[16];
	clock_format_local(clock_wall_us(clock_system()), now);
	snprintf(date, sizeof date, "%.10s", now);
	return json_pack(
		"[{s:s, s:s, s:{s:s, s:s, s:[s, s], s:s, s:s}, s:s, s:i},"
		" {s:s, s:s, s:{s:s, s:[{s:s, s:[s, s, s]}, {s:s, s:[s, s, s]}], s:s, s:s}, s:s, "
		"s:i}]",
		"task_id", "demo-task-1", "event_type", "web_content_change", "data", "url",
		"https://techcrunch.com", "content",
		"New breakthrough in artificial intelligence: GPT-5 announced with revolutionary "
		"capabilities...",
		"keywords_found", "artificial intelligence", "GPT-5", "description",
		"Monitor TechCrunch for AI news", "user_id", "default", "timestamp", now,
		"priority", 3, "task_id", "demo-task-2", "event_type", "daily_news_digest", "data",
		"digest_date", date, "news_summaries", "source", "https://techcrunch.com",
		"headlines", "AI startup raises $100M Series A",
		"New quantum computing breakthrough", "Apple announces AI-powered features",
		"source", "https://news.ycombinator.com", "headlines",
		"Show HN: My AI coding assistant", "The future of programming with AI",
		"Building scalable AI infrastructure", "description", "Daily tech news digest",
		"user_id", "default", "timestamp", now, "priority", 3);
}

static int cmd_simulate(struct chat *c, const char *arg)
{
	(void)arg;
	if (!c->feedback_url) {
		say_status(c, "simulate posts to the feedback server, and none is followed "
			      "(--feedback off); give --feedback URL");
		return CLI_FAIL;
	}
	json_t *evs = sample_events(), *ev;
	size_t i;
	int status = CLI_OK;
	json_array_foreach(evs, i, ev) {
		char *reply = NULL;
		long st = 0;
		struct err e = {0};
		const char *type = json_get_str(ev, "event_type");
		if (post_feedback(c, ev, &reply, &st, &e)) {
			say_status(c, "simulate: %s", err_msg(&e));
			status = CLI_FAIL;
			break;
		}
		json_t *j = json_loads(reply, 0, NULL);
		char line[700];
		if (st >= 200 && st < 300)
			snprintf(line, sizeof line,
				 "simulate: posted %s of %s to the feedback server: %s (seq %lld)",
				 type, json_get_str(ev, "task_id"),
				 json_get_str(j, "status") ? json_get_str(j, "status") : "ok",
				 json_get_int(j, "seq", 0));
		else
			snprintf(line, sizeof line,
				 "simulate: the feedback server refused %s: HTTP %ld %s%s%s", type,
				 st, json_get_str(j, "error") ? json_get_str(j, "error") : "",
				 json_get_str(j, "message") ? ": " : "",
				 json_get_str(j, "message") ? json_get_str(j, "message") : "");
		chat_ui_print(c->ui, line);
		if (st < 200 || st >= 300)
			status = CLI_FAIL;
		json_decref(j);
		free(reply);
	}
	json_decref(evs);
	return status;
}

static int cmd_wait(struct chat *c, const char *arg)
{
	long secs = arg && *arg ? strtol(arg, NULL, 10) : WAIT_DEFAULT_S;
	if (secs < 1 || secs > 86400)
		secs = WAIT_DEFAULT_S;
	struct timespec end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += secs;
	pthread_mutex_lock(&c->mu);
	bool got = false;
	for (;;) {
		if (c->shown > c->waited) { /* one event per wait, however fast they came */
			c->waited++;
			got = true;
			break;
		}
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			break;
		if (chat_ui_interrupted(c->ui) || chat_ui_quit_requested(c->ui))
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000000L; /* look at Ctrl-C this often */
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&c->cond, &c->mu, &ts);
	}
	pthread_mutex_unlock(&c->mu);
	chat_ui_clear_interrupt(c->ui);
	if (!got) {
		char line[80];
		snprintf(line, sizeof line, "(no event within %ld s)", secs);
		chat_ui_print(c->ui, line);
	}
	return got ? CLI_OK : CLI_FAIL;
}

static int cmd_status(struct chat *c, const char *arg)
{
	char desc[600], server[200];
	struct buf b;
	(void)arg;
	chat_conn_describe(c->conn, desc, sizeof desc);
	chat_conn_server_name(c->conn, server, sizeof server);
	buf_init(&b, 8192);
	buf_printf(&b, "MCP:      %s at %s (%s)\n", server, desc,
		   chat_conn_up(c->conn) ? "connected" : "disconnected");
	if (c->feedback_url)
		buf_printf(&b, "Feedback: %s (%s)\n", c->feedback_url,
			   chat_feed_up(c->feed) ? "following its events" : "not reachable now");
	else
		buf_puts(&b, "Feedback: none followed\n");
	if (c->agent)
		buf_printf(&b, "Agent:    %s at %s%s%s\n", llm_model(&c->llm),
			   c->llm.base_url ? c->llm.base_url : LLM_DEFAULT_BASE_URL,
			   c->agent_events ? "; asked about each event" : "",
			   c->has_sms || c->has_email ? "" : "; no send_sms/send_email tool");
	else
		buf_puts(&b, "Agent:    none (no LLM configured)\n");
	pthread_mutex_lock(&c->mu);
	buf_printf(&b, "Events:   %lu shown, %zu waiting for the agent\n", c->shown,
		   json_array_size(c->for_agent));
	pthread_mutex_unlock(&c->mu);
	chat_ui_print(c->ui, buf_str(&b));
	buf_cleanup(&b);
	return CLI_OK;
}

static int cmd_reset(struct chat *c, const char *arg)
{
	(void)arg;
	if (c->agent)
		chat_agent_reset(c->agent);
	chat_ui_print(c->ui, "(the conversation is forgotten)");
	return CLI_OK;
}

static const struct chat_command commands[] = {
	{"help", NULL, "this list", cmd_help},
	{"tasks", NULL, "your background tasks (list_background_tasks)", cmd_tasks},
	{"events", "[N]", "the N most recent events of your tasks (get_recent_events; 10)",
	 cmd_events},
	{"demo", NULL,
	 "the seed's three requests: a TechCrunch AI monitor, a daily tech digest, a 9 AM "
	 "reminder",
	 cmd_demo},
	{"simulate", NULL, "post the original's two sample events to the feedback server",
	 cmd_simulate},
	{"wait", "[SECONDS]", "wait for the next event not waited for yet (at most 30 s)",
	 cmd_wait},
	{"status", NULL, "the connections and the agent", cmd_status},
	{"reset", NULL, "forget the conversation with the agent", cmd_reset},
	{"quit", NULL, "leave (also exit, q, Ctrl-D)", cmd_quit},
	{"exit", NULL, NULL, cmd_quit},
	{"q", NULL, NULL, cmd_quit},
	{NULL, NULL, NULL, NULL},
};

static bool is_count(const char *s)
{
	if (!*s || strlen(s) > 6)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Run one line: a command, else a message for the agent. */
static int handle_line(struct chat *c, const char *line)
{
	char *copy = xstrdup(line), *p = copy, *arg;
	int rc = CLI_OK;

	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strlen(p);
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		p[--n] = '\0';
	if (!*p) {
		free(copy);
		return CLI_OK;
	}
	arg = p + strcspn(p, " \t");
	bool has_arg = *arg != '\0';
	if (has_arg) {
		*arg++ = '\0';
		arg += strspn(arg, " \t");
	}
	for (const struct chat_command *k = commands; k->name; k++) {
		if (strcasecmp(p, k->name) != 0)
			continue;
		if (has_arg && !(k->args && is_count(arg)))
			break; /* "tasks for tomorrow?" is a message */
		rc = k->run(c, has_arg ? arg : NULL);
		free(copy);
		return rc;
	}
	free(copy);
	if (!c->agent) {
		chat_ui_print(c->ui, no_llm_text);
		return CLI_FAIL;
	}
	return agent_turn(c, line);
}

/* ---- setting up --------------------------------------------------------------------------- */

static void mkdir_p(const char *path)
{
	char *d = xstrdup(path);
	for (char *s = d + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(d, 0700) != 0 && errno != EEXIST)
			break;
		*s = '/';
	}
	if (mkdir(d, 0700) != 0 && errno != EEXIST)
		log_debug("chat: cannot create %s: %s", d, strerror(errno));
	free(d);
}

/* The feedback server to follow: --feedback, else the server of
 * EVENT_FEEDBACK_URL, else the default; NULL for "off". *explicit: given by
 * the person (then the tasks created here send their events there). */
static char *feedback_base(struct cli_ctx *ctx, bool *explicit)
{
	const char *v = config_get(&ctx->cfg, "feedback");
	*explicit = v != NULL;
	if (v && (strcasecmp(v, "off") == 0 || strcasecmp(v, "none") == 0 || !*v))
		return NULL;
	if (v) {
		char *s = xstrdup(v);
		size_t n = strlen(s);
		while (n && s[n - 1] == '/')
			s[--n] = '\0';
		const char *tail = "/process_background_feedback";
		if (n > strlen(tail) && strcmp(s + n - strlen(tail), tail) == 0)
			s[n - strlen(tail)] = '\0';
		return s;
	}
	const char *ev = getenv("EVENT_FEEDBACK_URL");
	if (ev && *ev && (strncmp(ev, "http://", 7) == 0 || strncmp(ev, "https://", 8) == 0)) {
		const char *host = strstr(ev, "://") + 3;
		const char *path = strchr(host, '/');
		return path ? xstrndup(ev, (size_t)(path - ev)) : xstrdup(ev);
	}
	return xstrdup(CHAT_FEED_DEFAULT_URL);
}

/* argv of `ambient mcp` from this binary, with the global options given. */
static char **self_argv(struct cli_ctx *ctx)
{
	static const char *const pass[] = {"db", "data-dir", "config-file", "allow-net",
					   "log-level"};
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	char **argv = xcalloc(2 + 2 * (sizeof pass / sizeof pass[0]) + 2, sizeof *argv);
	size_t k = 0;
	argv[k++] = xstrdup(exe);
	for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++) {
		const char *v = config_get(&ctx->cfg, pass[i]);
		if (!v || config_source_of(&ctx->cfg, pass[i]) != CONFIG_FROM_FLAG)
			continue;
		argv[k++] = xasprintf("--%s", pass[i]);
		argv[k++] = xstrdup(v);
	}
	argv[k++] = xstrdup("mcp");
	return argv;
}

static void free_argv(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

static void setup_llm(struct chat *c)
{
	struct cli_ctx *ctx = c->ctx;
	const char *key = config_get(&ctx->cfg, "openai-api-key");
	const char *base = config_get(&ctx->cfg, "openai-api-base");
	llm_config_from_env(&c->llm);
	if (key)
		c->llm.api_key = key;
	if (base)
		c->llm.base_url = base;
	c->llm.model = config_get(&ctx->cfg, "openai-model");
	bool configured = (c->llm.api_key && *c->llm.api_key) ||
			  (c->llm.base_url && strcmp(c->llm.base_url, LLM_DEFAULT_BASE_URL) != 0);
	if (config_get_bool(&ctx->cfg, "no-llm") || !configured)
		return;
	struct chat_agent_options ao = {0};
	ao.llm = c->llm;
	ao.max_steps = (int)config_get_int(&ctx->cfg, "max-steps");
	ao.no_stream = !config_get_bool(&ctx->cfg, "stream");
	struct chat_agent_hooks h = {hook_text,
				     hook_answer_end,
				     hook_tool_call,
				     hook_tool_result,
				     hook_call_tool,
				     hook_stop,
				     c};
	c->agent = chat_agent_new(&ao, &h);
}

static void banner(struct chat *c, size_t ntools, bool spawned)
{
	char desc[600], server[200];
	struct buf b;
	chat_conn_describe(c->conn, desc, sizeof desc);
	chat_conn_server_name(c->conn, server, sizeof server);
	buf_init(&b, 8192);
	if (spawned)
		buf_printf(&b,
			   "No MCP server answered at %s or %s, so this chat started `ambient "
			   "mcp` over stdio (it starts a task engine, `ambient serve`, when none "
			   "runs; its log: DATA_DIR/chat_mcp.log).\n",
			   CHAT_CONN_DEFAULT_URL_LB, CHAT_CONN_DEFAULT_URL_DIRECT);
	buf_printf(&b, "Connected to %s at %s: %zu tools.\n", server, desc, ntools);
	if (!c->interactive) {
		fprintf(stderr, "ambient chat: %s", buf_str(&b));
		buf_cleanup(&b);
		return;
	}
	if (c->agent)
		buf_printf(&b, "Agent: %s at %s%s.\n", llm_model(&c->llm),
			   c->llm.base_url ? c->llm.base_url : LLM_DEFAULT_BASE_URL,
			   config_get_bool(&c->ctx->cfg, "stream") ? " (streaming)" : "");
	else
		buf_printf(&b, "%s\n", no_llm_text);
	if (c->feedback_url)
		buf_printf(&b, "Events: the feedback server at %s%s.\n", c->feedback_url,
			   c->mcp_events ? ", and the MCP server's task updates" : "");
	else if (c->mcp_events)
		buf_puts(&b, "Events: the MCP server's task updates.\n");
	buf_puts(&b, "Type `help` for the commands, `quit` to leave.");
	chat_ui_print(c->ui, buf_str(&b));
	buf_cleanup(&b);
}

/* `ambient chat -c TEXT`: -c is the one short option; it becomes --command
 * before the generic parser (which knows only long options) sees it. */
static bool takes_value(const char *name, size_t len)
{
	const struct config_option *tables[] = {cli_chat_options, cli_global_options};
	for (size_t t = 0; t < 2; t++)
		for (const struct config_option *o = tables[t]; o->name; o++)
			if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
				return o->type != CONFIG_BOOL;
	return false;
}

void cli_chat_short_options(int argc, char **argv)
{
	int i = 1;
	for (; i < argc; i++) { /* global options */
		const char *a = argv[i];
		if (a[0] != '-' || strcmp(a, "--") == 0)
			break;
		if (a[1] == '-' && !strchr(a, '=') && takes_value(a + 2, strlen(a + 2)))
			i++;
	}
	if (i >= argc || strcmp(argv[i], "chat") != 0)
		return;
	for (i++; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0)
			return;
		if (strcmp(a, "-c") == 0) {
			argv[i] = (char *)"--command";
			i++;
		} else if (a[0] == '-' && a[1] == '-' && !strchr(a, '=') &&
			   takes_value(a + 2, strlen(a + 2))) {
			i++;
		}
	}
}

static void chat_cleanup(struct chat *c)
{
	stop_watch(c);
	chat_feed_stop(c->feed);
	c->feed = NULL;
	chat_conn_close(c->conn);
	c->conn = NULL;
	chat_agent_free(c->agent);
	chat_ui_free(c->ui);
	json_decref(c->for_agent);
	json_decref(c->seen);
	json_decref(c->resources);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cond);
	free(c->feedback_url);
	free(c->callback_url);
	free(c->webhook_secret);
	free(c->examples);
}

int cli_chat_run(struct cli_ctx *ctx)
{
	struct chat c;
	struct err e = {0};
	const char *command = config_get(&ctx->cfg, "command");
	int status = CLI_OK;

	if (ctx->nargs)
		return cli_usage_error(ctx,
				       "unexpected argument '%s' (a message goes in -c \"...\")",
				       ctx->args[0]);
	if (config_get(&ctx->cfg, "url") && config_get(&ctx->cfg, "stdio"))
		return cli_usage_error(ctx, "give --url or --stdio, not both");
	memset(&c, 0, sizeof c);
	c.ctx = ctx;
	c.interactive = !command && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	c.min_priority = (int)config_get_int(&ctx->cfg, "min-priority");
	/* One command: the agent answers it, and is not asked about events
	 * that happen to arrive meanwhile. */
	c.agent_events = config_get_bool(&ctx->cfg, "agent-events") && !command;
	pthread_mutex_init(&c.mu, NULL);
	pthread_cond_init(&c.cond, NULL);
	c.for_agent = json_array();
	c.seen = json_object();
	c.resources = json_array();
	atomic_init(&c.tools_dirty, false);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	char *dir = cli_data_dir(ctx);
	mkdir_p(dir);
	char *history = config_get(&ctx->cfg, "history-file")
				? xstrdup(config_get(&ctx->cfg, "history-file"))
				: xasprintf("%s/chat_history", dir);
	char *mcp_log = xasprintf("%s/chat_mcp.log", dir);
	free(dir);

	struct chat_ui_options uo = {.interactive = c.interactive, .history_file = history};
	if (chat_ui_new(&uo, &c.ui, &e)) {
		free(history);
		free(mcp_log);
		chat_cleanup(&c);
		return cli_fail(&e);
	}
	free(history);

	bool explicit_feedback = false;
	c.feedback_url = feedback_base(ctx, &explicit_feedback);
	if (c.feedback_url && explicit_feedback)
		c.callback_url = xasprintf("%s/process_background_feedback", c.feedback_url);
	if (config_get(&ctx->cfg, "webhook-secret"))
		c.webhook_secret = xstrdup(config_get(&ctx->cfg, "webhook-secret"));
	setup_llm(&c);

	/* The MCP connection. */
	char *urls_storage = NULL;
	char **urls = config_get(&ctx->cfg, "url")
			      ? cli_split_list(config_get(&ctx->cfg, "url"), &urls_storage)
			      : NULL;
	size_t nurls = 0;
	while (urls && urls[nurls])
		nurls++;
	char **self = (!urls && !config_get(&ctx->cfg, "stdio")) ? self_argv(ctx) : NULL;
	struct chat_conn_options co = {0};
	co.urls = (const char *const *)urls;
	co.nurls = nurls;
	co.stdio_cmd = config_get(&ctx->cfg, "stdio");
	co.self_argv = (const char *const *)self;
	co.api_key = config_get(&ctx->cfg, "api-key");
	co.stderr_log = mcp_log;
	co.on_notice = on_notice;
	co.on_resource_updated = on_resource_updated;
	co.on_tools_changed = on_tools_changed;
	co.ud = &c;
	int rc = chat_conn_open(&co, &c.conn, &e);
	free(urls);
	free(urls_storage);
	free_argv(self);
	free(mcp_log);
	if (rc) {
		fprintf(stderr, "ambient chat: %s\n%s\n", err_msg(&e),
			e.code == ERR_PERM
				? "Give the server's API key with --api-key or AMBIENT_API_KEY."
				: "Start a server with `ambient serve`, or give --url URL or "
				  "--stdio "
				  "CMD.");
		chat_cleanup(&c);
		return CLI_FAIL;
	}
	char desc[600];
	chat_conn_describe(c.conn, desc, sizeof desc);
	bool spawned = !nurls && !co.stdio_cmd && strstr(desc, "stdio") != NULL;

	/* What the agent needs: the examples, the resources, the tools. */
	if (chat_conn_read_resource(c.conn, "event://config/examples", &c.examples, &e)) {
		log_info("chat: no event://config/examples: %s", err_msg(&e));
	} else {
		json_t *j = json_loads(c.examples, 0, NULL); /* compact: fewer tokens */
		char *compact = j ? json_dumps(j, JSON_COMPACT) : NULL;
		if (compact) {
			free(c.examples);
			c.examples = compact;
		}
		json_decref(j);
	}
	json_t *res = NULL;
	if (!chat_conn_list_resources(c.conn, &res, &e)) {
		json_decref(c.resources);
		c.resources = res;
	}
	size_t ntools = 0;
	if (refresh_tools(&c, &ntools, &e)) {
		fprintf(stderr, "ambient chat: cannot list the server's tools: %s\n", err_msg(&e));
		chat_cleanup(&c);
		return CLI_FAIL;
	}
	start_watch(&c);
	banner(&c, ntools, spawned);

	/* Feedback events. */
	if (c.feedback_url) {
		struct chat_feed_options fo = {0};
		char filter[32];
		snprintf(filter, sizeof filter, "min_priority=%d", c.min_priority);
		fo.url = c.feedback_url;
		fo.filter = c.min_priority > 1 ? filter : NULL;
		fo.after = -1;
		fo.on_event = on_feed_event;
		fo.on_status = on_feed_status;
		fo.ud = &c;
		if (chat_feed_start(&fo, &c.feed, &e))
			say_status(&c, "[feedback] %s", err_msg(&e));
	}

	if (command) {
		rc = handle_line(&c, command);
		status = rc == CHAT_QUIT || rc == CLI_OK ? CLI_OK : CLI_FAIL;
		chat_cleanup(&c);
		return status;
	}
	for (;;) {
		char *line = NULL;
		int why = chat_ui_read(c.ui, &line);
		if (why == CHAT_UI_EOF)
			break;
		if (why == CHAT_UI_LINE) {
			chat_ui_history_add(c.ui, line);
			rc = handle_line(&c, line);
			free(line);
			if (rc == CHAT_QUIT)
				break;
			if (rc != CLI_OK)
				c.failures++;
		}
		process_agent_events(&c);
		if (chat_ui_quit_requested(c.ui))
			break;
	}
	if (!c.interactive)
		process_agent_events(&c);
	if (!c.interactive && c.failures)
		status = CLI_FAIL;
	chat_cleanup(&c);
	return status;
}
