/*
 * notifier.c - decide whether a person hears about a feedback event, and tell
 * them (see notifier.h).
 */
#define _GNU_SOURCE
#include "app/notifier.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/json.h"
#include "common/log.h"
#include "common/timer_heap.h"
#include "common/uuid.h"
#include "common/xalloc.h"
#include "domain/notify_message.h"
#include "domain/notify_target.h"

#define LABEL_MAX (NOTIFY_URL_MAX + 16)
#define SCAN_BATCH 1000
#define WAIT_MAX_MS 1000         /* the worker looks at the clock at least this often */
#define DEDUPE_REBUILD_MAX 10000 /* recent events re-read at start for de-duplication */
#define LLM_DATA_MAX 4000        /* bytes of event data shown to the LLM */

static const char llm_system_prompt[] =
	"You are the notification filter of ambient, an agent that runs background tasks for a "
	"person: it watches web pages, runs schedules, builds news digests and watches prices. "
	"For each event from a task, decide whether the person should be told now. If not, "
	"answer exactly " NOTIFIER_NO_NOTIFICATION ". If yes, answer only with the message to "
	"send them: plain text, at most 160 characters, specific (what changed, the key number "
	"or headline, the link when there is one), no greeting.";

/* One send waiting for its time: a single event, or a digest of several
 * (batched low-priority events for one recipient). */
struct job {
	struct timer_node timer; /* armed while queued: due on the wall clock */
	json_t *events;          /* array of feedback events (one, or the digest's) */
	bool digest;
	struct notify_target target;
	char label[LABEL_MAX];
	char *text; /* the LLM's message, or NULL: rendered from the event */
	int attempts;
};

struct notifier {
	struct store *s;
	struct clock *clk;
	struct notify_rules rules;
	struct channel_config ch;
	struct llm_config llm;
	bool has_llm;
	json_t *default_targets;
	int max_attempts;
	bool manual;
	struct feedback_decider dec;

	pthread_mutex_t lock; /* everything below */
	pthread_cond_t wake;
	struct notify_state *state;
	struct timer_heap jobs; /* of struct job, by due time */
	json_t *done;           /* "feedback_id|label" -> true: outcome recorded */
	json_t *decided;        /* feedback_id -> true: decided before this start */
	bool stop;
	bool running;
	pthread_t worker;

	atomic_uint_fast64_t n_decided, n_sent, n_failed, n_skipped, n_suppressed;
	atomic_uint_fast64_t n_llm, n_llm_err;
};

/* ---- jobs -------------------------------------------------------------------------- */

static void job_free(struct job *j)
{
	if (!j)
		return;
	json_decref(j->events);
	free(j->text);
	free(j);
}

/* Queue j to run at due (lock held). */
static void push_job(struct notifier *n, struct job *j, int64_t due)
{
	timer_heap_arm(&n->jobs, &j->timer, due);
	pthread_cond_signal(&n->wake);
}

/* The earliest job (lock held), or NULL. */
static struct job *first_job(struct notifier *n)
{
	struct timer_node *t = timer_heap_first(&n->jobs);
	return t ? timer_heap_entry(t, struct job, timer) : NULL;
}

static void key_of(const char *feedback_id, const char *label, char *out, size_t size)
{
	snprintf(out, size, "%s|%s", feedback_id ? feedback_id : "", label);
}

static bool is_done(struct notifier *n, const char *feedback_id, const char *label)
{
	char key[UUID_STR_LEN + LABEL_MAX + 2];
	key_of(feedback_id, label, key, sizeof(key));
	return json_object_get(n->done, key) != NULL;
}

static void mark_done(struct notifier *n, const char *feedback_id, const char *label)
{
	char key[UUID_STR_LEN + LABEL_MAX + 2];
	key_of(feedback_id, label, key, sizeof(key));
	json_object_set_new(n->done, key, json_true());
}

/* ---- outcomes ---------------------------------------------------------------------- */

/* The id of the outcome of (event, recipient): one outcome each. */
static void outcome_id(const char *feedback_id, const char *label, char out[UUID_STR_LEN + 1])
{
	char *name = xasprintf("ambient-notify:%s|%s", feedback_id ? feedback_id : "", label);
	uuid_from_name(name, out);
	free(name);
}

/* Record an outcome of (event, recipient): notification_<outcome> in the
 * event's task stream, with an id derived from both so that it is stored
 * once.  extra (stolen, may be NULL) adds fields. */
static int record(struct notifier *n, const json_t *event, const struct notify_target *t,
		  const char *label, const char *outcome, json_t *extra, struct err *e)
{
	const char *fid = json_get_str(event, "feedback_id");
	const char *task = json_get_str(event, "task_id");
	json_t *data = json_pack("{s:I,s:s,s:s,s:s?,s:I,s:s,s:s,s:s?}", "event",
				 (json_int_t)json_get_int(event, "seq", 0), "feedback_id",
				 fid ? fid : "", "task_id", task ? task : "", "event_type",
				 json_get_str(event, "event_type"), "priority",
				 (json_int_t)json_get_int(event, "priority", 0), "channel",
				 notify_channel_name(t->channel), "to", label, "user_id",
				 json_get_str(event, "user_id"));
	if (extra) {
		json_object_update(data, extra);
		json_decref(extra);
	}
	json_t *meta = json_pack("{s:s}", "principal", "feedback-notify");
	char type[64];
	snprintf(type, sizeof(type), FEEDBACK_NOTIFICATION_PREFIX "%s", outcome);
	struct store_new_event ne = {.type = type, .data = data, .metadata = meta};
	outcome_id(fid, label, ne.event_id);
	char stream[STORE_STREAM_MAX + 1];
	snprintf(stream, sizeof(stream), FEEDBACK_STREAM_PREFIX "%s", task ? task : "unknown");
	int rc = store_append(n->s, stream, STORE_EXPECT_ANY, &ne, 1, NULL, e);
	json_decref(data);
	json_decref(meta);
	if (rc == ERR_OK) {
		pthread_mutex_lock(&n->lock);
		mark_done(n, fid, label);
		pthread_mutex_unlock(&n->lock);
	}
	return rc;
}

static void record_logged(struct notifier *n, const json_t *event, const struct notify_target *t,
			  const char *label, const char *outcome, json_t *extra)
{
	struct err e = {0};
	if (record(n, event, t, label, outcome, extra, &e) != ERR_OK)
		log_error("notify: cannot record notification_%s for %s: %s", outcome, label,
			  err_msg(&e));
}

/* ---- sending ----------------------------------------------------------------------- */

static int64_t retry_delay_us(int attempts, int retry_after_s)
{
	static const int64_t steps_s[] = {30, 120, 600, 1800, 3600};
	size_t i = attempts > 0 ? (size_t)attempts - 1 : 0;
	if (i >= sizeof(steps_s) / sizeof(*steps_s))
		i = sizeof(steps_s) / sizeof(*steps_s) - 1;
	int64_t s = steps_s[i];
	if (retry_after_s > s && retry_after_s < 86400)
		s = retry_after_s;
	return s * 1000000;
}

static int render(const struct job *j, struct notify_message *m, struct err *e)
{
	size_t count = json_array_size(j->events);
	if (j->digest) {
		const json_t **evs = xcalloc(count ? count : 1, sizeof(*evs));
		for (size_t i = 0; i < count; i++)
			evs[i] = json_array_get(j->events, i);
		int rc = notify_message_digest(evs, count, m, e);
		free(evs);
		return rc;
	}
	const json_t *ev = json_array_get(j->events, 0);
	if (j->text)
		return notify_message_from_text(j->text, ev, m, e);
	return notify_message_render(ev, m, e);
}

/* Send one job; returns it to the queue for a retry, or frees it. */
static void run_job(struct notifier *n, struct job *j)
{
	const json_t *first = json_array_get(j->events, 0);
	if (!j->digest) {
		pthread_mutex_lock(&n->lock);
		bool done = is_done(n, json_get_str(first, "feedback_id"), j->label);
		pthread_mutex_unlock(&n->lock);
		if (done) {
			job_free(j);
			return;
		}
	}
	struct notify_message m = {0};
	struct err e = {0};
	if (render(j, &m, &e) != ERR_OK) {
		size_t i;
		json_t *ev;
		json_array_foreach(j->events, i, ev) {
			record_logged(n, ev, &j->target, j->label, "failed",
				      json_pack("{s:s,s:i}", "error", err_msg(&e), "attempts", 0));
			atomic_fetch_add(&n->n_failed, 1);
		}
		job_free(j);
		return;
	}
	/* The receiver's idempotency key (webhook-id, ...): the outcome's id. */
	char key[UUID_STR_LEN + 1];
	outcome_id(json_get_str(first, "feedback_id"), j->label, key);
	struct channel_result r = {0};
	j->attempts++;
	channel_send(&n->ch, &j->target, &m, key, &r);
	int64_t now = clock_wall_us(n->clk);
	const char *outcome = NULL;
	switch (r.outcome) {
	case CHANNEL_SENT:
		outcome = "sent";
		break;
	case CHANNEL_SKIPPED:
		outcome = "skipped";
		break;
	case CHANNEL_FAILED:
		if (r.retryable && j->attempts < n->max_attempts) {
			int64_t delay = retry_delay_us(j->attempts, r.retry_after_s);
			log_warn("notify: %s failed (attempt %d of %d), retrying in %" PRId64
				 " s: %s",
				 j->label, j->attempts, n->max_attempts, delay / 1000000, r.detail);
			notify_message_cleanup(&m);
			pthread_mutex_lock(&n->lock);
			push_job(n, j, now + delay);
			pthread_mutex_unlock(&n->lock);
			return;
		}
		outcome = "failed";
		break;
	}
	size_t count = json_array_size(j->events);
	size_t i;
	json_t *ev;
	json_array_foreach(j->events, i, ev) {
		json_t *extra = json_pack("{s:s,s:i,s:i}", "message", m.sms ? m.sms : "", "status",
					  r.status, "attempts", j->attempts);
		if (m.subject)
			json_object_set_new(extra, "subject", json_string(m.subject));
		if (r.provider_id[0])
			json_object_set_new(extra, "provider_id", json_string(r.provider_id));
		if (j->digest)
			json_object_set_new(extra, "digest", json_integer((json_int_t)count));
		if (strcmp(outcome, "skipped") == 0)
			json_object_set_new(extra, "reason", json_string(r.detail));
		else if (strcmp(outcome, "failed") == 0)
			json_object_set_new(extra, "error", json_string(r.detail));
		record_logged(n, ev, &j->target, j->label, outcome, extra);
	}
	if (r.outcome == CHANNEL_SENT) {
		atomic_fetch_add(&n->n_sent, count);
		pthread_mutex_lock(&n->lock);
		notify_state_note_send(n->state, j->label, now);
		pthread_mutex_unlock(&n->lock);
		log_info("notify: sent %s%s to %s (%s)", j->digest ? "a digest " : "",
			 notify_channel_name(j->target.channel), j->label, r.provider_id);
	} else if (r.outcome == CHANNEL_SKIPPED) {
		atomic_fetch_add(&n->n_skipped, count);
		log_warn("notify: not sent to %s: %s", j->label, r.detail);
	} else {
		atomic_fetch_add(&n->n_failed, count);
		log_error("notify: sending to %s failed: %s", j->label, r.detail);
	}
	notify_message_cleanup(&m);
	job_free(j);
}

/* Run the jobs due at now; returns how many ran. */
static size_t run_due(struct notifier *n, int64_t now)
{
	size_t ran = 0;
	for (;;) {
		pthread_mutex_lock(&n->lock);
		struct job *j = first_job(n);
		if (j && j->timer.due_us <= now && !n->stop)
			timer_heap_disarm(&n->jobs, &j->timer);
		else
			j = NULL;
		pthread_mutex_unlock(&n->lock);
		if (!j)
			return ran;
		run_job(n, j);
		ran++;
	}
}

static void *worker_main(void *arg)
{
	struct notifier *n = arg;
	for (;;) {
		run_due(n, clock_wall_us(n->clk));
		pthread_mutex_lock(&n->lock);
		if (n->stop) {
			pthread_mutex_unlock(&n->lock);
			return NULL;
		}
		struct job *first = first_job(n);
		int64_t wait_us = (int64_t)WAIT_MAX_MS * 1000;
		if (first) {
			int64_t d = first->timer.due_us - clock_wall_us(n->clk);
			if (d < wait_us)
				wait_us = d;
		}
		if (wait_us > 0) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			int64_t ns = ts.tv_nsec + (wait_us % 1000000) * 1000;
			ts.tv_sec += (time_t)(wait_us / 1000000 + ns / 1000000000);
			ts.tv_nsec = (long)(ns % 1000000000);
			pthread_cond_timedwait(&n->wake, &n->lock, &ts);
		}
		pthread_mutex_unlock(&n->lock);
	}
}

/* ---- deciding ---------------------------------------------------------------------- */

static struct job *new_job(const json_t *event, const struct notify_target *t, const char *label,
			   const char *text)
{
	struct job *j = xcalloc(1, sizeof(*j));
	timer_node_init(&j->timer);
	j->events = json_array();
	json_array_append(j->events, (json_t *)event);
	j->target = *t;
	snprintf(j->label, sizeof(j->label), "%s", label);
	j->text = text ? xstrdup(text) : NULL;
	return j;
}

/* Add an event to the recipient's digest due at `due` (lock held). */
static void add_to_digest(struct notifier *n, const json_t *event, const struct notify_target *t,
			  const char *label, int64_t due)
{
	for (size_t i = 0; i < timer_heap_size(&n->jobs); i++) {
		struct job *j = timer_heap_entry(n->jobs.items[i], struct job, timer);
		if (j->digest && strcmp(j->label, label) == 0) {
			json_array_append(j->events, (json_t *)event);
			return;
		}
	}
	struct job *j = new_job(event, t, label, NULL);
	j->digest = true;
	push_job(n, j, due);
}

/* Ask the LLM.  Returns 1 with *text (new string) when the person should be
 * told, 0 when not, -1 when the LLM could not answer (*e says why). */
static int ask_llm(struct notifier *n, const json_t *event, char **text, struct err *e)
{
	*text = NULL;
	json_t *data = json_object_get(event, "data");
	char *dtext = data ? json_to_text(data) : xstrdup("{}");
	if (strlen(dtext) > LLM_DATA_MAX)
		strcpy(dtext + LLM_DATA_MAX - 4, "...");
	const char *desc = json_get_str(event, "description");
	const char *ttype = json_get_str(event, "task_type");
	char *user = xasprintf("Event: %s (priority: %lld of 5)\nTask: %s\nTask type: %s\n"
			       "Time: %s\nData: %s",
			       json_get_str(event, "event_type"),
			       json_get_int(event, "priority", 1), desc ? desc : "(no description)",
			       ttype ? ttype : "unknown",
			       json_get_str(event, "timestamp") ?: json_get_str(event, "received_at")
								   ?: "",
			       dtext);
	free(dtext);
	json_t *messages = json_pack("[{s:s,s:s},{s:s,s:s}]", "role", "system", "content",
				     llm_system_prompt, "role", "user", "content", user);
	free(user);
	json_t *reply = NULL;
	atomic_fetch_add(&n->n_llm, 1);
	int rc = llm_chat(&n->llm, messages, NULL, NULL, &reply, e);
	json_decref(messages);
	if (rc != ERR_OK) {
		atomic_fetch_add(&n->n_llm_err, 1);
		return -1;
	}
	const char *content = json_get_str(reply, "content");
	size_t len = content ? strlen(content) : 0;
	while (content && len && (*content == ' ' || *content == '\n' || *content == '"')) {
		content++;
		len--;
	}
	while (len && strchr(" \n\r\t\"", content[len - 1]))
		len--;
	int verdict;
	if (len == 0) {
		err_set(e, ERR_INVALID, "the LLM answered with an empty message");
		atomic_fetch_add(&n->n_llm_err, 1);
		verdict = -1;
	} else if (strncmp(content, NOTIFIER_NO_NOTIFICATION, strlen(NOTIFIER_NO_NOTIFICATION)) ==
		   0) {
		verdict = 0;
	} else {
		*text = xstrndup(content, len);
		verdict = 1;
	}
	json_decref(reply);
	return verdict;
}

static const char *action_name(enum notify_action a)
{
	switch (a) {
	case NOTIFY_SEND:
		return "notify";
	case NOTIFY_SUPPRESS:
		return "suppress";
	case NOTIFY_HOLD:
		return "hold";
	case NOTIFY_BATCH:
		return "batch";
	}
	return "none";
}

static json_t *decision_none(const char *reason)
{
	return json_pack("{s:s,s:s,s:s,s:[]}", "action", "none", "decided_by", "rules", "reason",
			 reason, "targets");
}

static json_t *decide(void *ud, const json_t *event, struct err *e)
{
	(void)e;
	struct notifier *n = ud;
	atomic_fetch_add(&n->n_decided, 1);
	const char *fid = json_get_str(event, "feedback_id");
	pthread_mutex_lock(&n->lock);
	bool seen = fid && json_object_get(n->decided, fid);
	pthread_mutex_unlock(&n->lock);
	if (seen)
		return NULL; /* decided before a restart; its sends were queued again */

	struct notify_target targets[NOTIFY_TARGETS_MAX];
	size_t nt = 0;
	struct err te = {0};
	const json_t *config = json_object_get(event, "notification");
	const char *source = "the task's notification config";
	if (!config || json_is_null(config)) {
		config = n->default_targets;
		source = "the server's --notify targets";
	}
	if (config && notify_targets_parse(config, targets, NOTIFY_TARGETS_MAX, &nt, &te)) {
		char reason[ERR_MSG_MAX + 64];
		snprintf(reason, sizeof(reason), "%s is invalid: %s", source, err_msg(&te));
		return decision_none(reason);
	}
	if (nt == 0)
		return decision_none("no notification configured: the task has no \"notification\" "
				     "and the server no --notify targets");

	int64_t now = clock_wall_us(n->clk);
	json_t *decision = json_object();
	json_t *jt = json_array();
	char *text = NULL;
	const char *decided_by = "rules";
	struct notify_rules rules = n->rules;
	int llm = -2; /* not asked */
	if (n->has_llm) {
		struct err le = {0};
		llm = ask_llm(n, event, &text, &le);
		if (llm < 0) {
			log_warn("notify: the LLM could not decide (%s); the rules decide",
				 err_msg(&le));
			json_object_set_new(decision, "llm_error", json_string(err_msg(&le)));
		} else {
			decided_by = "llm";
			json_object_set_new(decision, "model", json_string(llm_model(&n->llm)));
			/* The LLM judged relevance: priority thresholds and batching
			 * give way; quiet hours, de-duplication and rate limits
			 * still protect the person. */
			for (int c = 0; c < NOTIFY_CHANNEL__COUNT; c++)
				rules.min_priority[c] = 1;
			rules.batch_below_priority = 0;
		}
	}
	int counts[5] = {0};
	for (size_t i = 0; i < nt; i++) {
		char label[LABEL_MAX];
		notify_target_label(&targets[i], label, sizeof(label));
		struct notify_verdict v = {0};
		pthread_mutex_lock(&n->lock);
		bool done = is_done(n, fid, label);
		if (!done && llm != 0)
			notify_decide(&rules, n->state, event, &targets[i], label, now, &v);
		pthread_mutex_unlock(&n->lock);
		if (done)
			continue;
		if (llm == 0) {
			v.action = NOTIFY_SUPPRESS;
			v.rule = "llm";
			snprintf(v.reason, sizeof(v.reason),
				 "the LLM answered " NOTIFIER_NO_NOTIFICATION);
		}
		json_t *t = json_pack("{s:s,s:s,s:s,s:s,s:s}", "to", label, "channel",
				      notify_channel_name(targets[i].channel), "action",
				      action_name(v.action), "rule", v.rule ? v.rule : "", "reason",
				      v.reason);
		if (v.action == NOTIFY_HOLD || v.action == NOTIFY_BATCH) {
			char at[CLOCK_ISO_MAX];
			clock_format_utc(v.until_us, at);
			json_object_set_new(t, "until", json_string(at));
			json_object_set_new(t, "until_us", json_integer(v.until_us));
		}
		json_array_append_new(jt, t);
		counts[v.action]++;
		switch (v.action) {
		case NOTIFY_SEND:
			pthread_mutex_lock(&n->lock);
			push_job(n, new_job(event, &targets[i], label, text), now);
			pthread_mutex_unlock(&n->lock);
			break;
		case NOTIFY_HOLD:
			pthread_mutex_lock(&n->lock);
			push_job(n, new_job(event, &targets[i], label, text), v.until_us);
			pthread_mutex_unlock(&n->lock);
			break;
		case NOTIFY_BATCH:
			pthread_mutex_lock(&n->lock);
			add_to_digest(n, event, &targets[i], label, v.until_us);
			pthread_mutex_unlock(&n->lock);
			break;
		case NOTIFY_SUPPRESS:
			record_logged(n, event, &targets[i], label, "suppressed",
				      json_pack("{s:s,s:s}", "rule", v.rule ? v.rule : "", "reason",
						v.reason));
			atomic_fetch_add(&n->n_suppressed, 1);
			break;
		}
	}
	pthread_mutex_lock(&n->lock);
	if (counts[NOTIFY_SEND] || counts[NOTIFY_HOLD] || counts[NOTIFY_BATCH])
		notify_state_note_event_json(n->state, event, now);
	notify_state_prune(n->state, &n->rules, now);
	pthread_mutex_unlock(&n->lock);

	const char *action = counts[NOTIFY_SEND]    ? "notify"
			     : counts[NOTIFY_HOLD]  ? "hold"
			     : counts[NOTIFY_BATCH] ? "batch"
						    : "suppress";
	char reason[256];
	if (llm == 0)
		snprintf(reason, sizeof(reason), "the LLM judged it not worth a notification");
	else if (llm == 1)
		snprintf(reason, sizeof(reason), "the LLM wrote a message for %d recipient(s)",
			 counts[NOTIFY_SEND]);
	else
		snprintf(reason, sizeof(reason),
			 "%d to send now, %d held, %d batched, %d suppressed by the rules",
			 counts[NOTIFY_SEND], counts[NOTIFY_HOLD], counts[NOTIFY_BATCH],
			 counts[NOTIFY_SUPPRESS]);
	json_object_set_new(decision, "action", json_string(action));
	json_object_set_new(decision, "decided_by", json_string(decided_by));
	json_object_set_new(decision, "reason", json_string(reason));
	json_object_set_new(decision, "targets", jt);
	if (text)
		json_object_set_new(decision, "message", json_string(text));
	free(text);
	return decision;
}

/* ---- start: what the store already says ---------------------------------------------- */

/* The feedback event at position seq, as the API shows it, or NULL. */
static json_t *event_at(struct notifier *n, int64_t seq)
{
	struct store_event_list l = {0};
	struct err e = {0};
	json_t *ev = NULL;
	if (seq > 0 && store_read_all(n->s, seq - 1, false, 1, NULL, &l, &e) == ERR_OK &&
	    l.count == 1 && l.items[0].position == seq &&
	    strcmp(l.items[0].type, FEEDBACK_EVENT_RECEIVED) == 0)
		ev = feedback_event_json(&l.items[0]);
	store_event_list_cleanup(&l);
	return ev;
}

/* A recipient of a decision recorded before this start, re-parsed from the
 * event's notification config (credentials are not stored in decisions). */
static bool find_target(struct notifier *n, const json_t *event, const char *label,
			struct notify_target *out)
{
	struct notify_target targets[NOTIFY_TARGETS_MAX];
	size_t nt = 0;
	const json_t *config = json_object_get(event, "notification");
	if (!config || json_is_null(config))
		config = n->default_targets;
	if (!config || notify_targets_parse(config, targets, NOTIFY_TARGETS_MAX, &nt, NULL))
		return false;
	for (size_t i = 0; i < nt; i++) {
		char l[LABEL_MAX];
		notify_target_label(&targets[i], l, sizeof(l));
		if (strcmp(l, label) == 0) {
			*out = targets[i];
			return true;
		}
	}
	return false;
}

static int recover(struct notifier *n, struct err *e)
{
	int64_t now = clock_wall_us(n->clk);
	json_t *pending = json_array(); /* decided targets to look at after the scan */
	json_t *recent = json_array();  /* seqs of recently decided events */
	int64_t pos = 0;
	size_t decided = 0;
	const struct store_filter f = {.stream_prefix = FEEDBACK_STREAM_PREFIX};
	for (;;) {
		struct store_event_list l = {0};
		int rc = store_read_all(n->s, pos, false, SCAN_BATCH, &f, &l, e);
		if (rc) {
			store_event_list_cleanup(&l);
			json_decref(pending);
			json_decref(recent);
			return rc;
		}
		for (size_t i = 0; i < l.count; i++) {
			const struct store_event *ev = &l.items[i];
			pos = ev->position;
			if (feedback_is_notification(ev->type)) {
				const char *to = json_get_str(ev->data, "to");
				mark_done(n, json_get_str(ev->data, "feedback_id"), to ? to : "");
				if (to &&
				    strcmp(ev->type, FEEDBACK_NOTIFICATION_PREFIX "sent") == 0)
					notify_state_note_send(n->state, to, ev->recorded_at_us);
			} else if (strcmp(ev->type, FEEDBACK_EVENT_DECIDED) == 0) {
				const char *fid = json_get_str(ev->data, "feedback_id");
				if (fid)
					json_object_set_new(n->decided, fid, json_true());
				decided++;
				json_int_t seq = json_get_int(ev->data, "event", 0);
				json_t *d = json_object_get(ev->data, "decision");
				const char *act = json_get_str(d, "action");
				if (act && strcmp(act, "suppress") && strcmp(act, "none") &&
				    ev->recorded_at_us >= now - n->rules.dedupe_window_us)
					json_array_append_new(
						recent, json_pack("[I,I]", seq,
								  (json_int_t)ev->recorded_at_us));
				size_t k;
				json_t *t;
				json_array_foreach(json_object_get(d, "targets"), k, t) {
					const char *a = json_get_str(t, "action");
					if (a && strcmp(a, "suppress") != 0)
						json_array_append_new(
							pending,
							json_pack("{s:I,s:s?,s:O?,s:s?,s:I}", "seq",
								  seq, "fid", fid, "to",
								  json_object_get(t, "to"),
								  "action", a, "until",
								  (json_int_t)json_get_int(
									  t, "until_us", now)));
				}
			}
		}
		bool more = l.count == SCAN_BATCH;
		store_event_list_cleanup(&l);
		if (!more)
			break;
	}
	size_t requeued = 0, i;
	json_t *p;
	json_array_foreach(pending, i, p) {
		const char *to = json_get_str(p, "to");
		if (!to || is_done(n, json_get_str(p, "fid"), to))
			continue;
		json_t *ev = event_at(n, json_get_int(p, "seq", 0));
		struct notify_target t;
		if (!ev || !find_target(n, ev, to, &t)) {
			log_warn("notify: a decided notification to %s can no longer be sent "
				 "(its event or recipient is gone)",
				 to);
			json_decref(ev);
			continue;
		}
		int64_t due = json_get_int(p, "until", now);
		const char *a = json_get_str(p, "action");
		if (a && strcmp(a, "batch") == 0)
			add_to_digest(n, ev, &t, to, due);
		else
			push_job(n, new_job(ev, &t, to, NULL),
				 strcmp(a ? a : "", "hold") ? now : due);
		json_decref(ev);
		requeued++;
	}
	size_t rebuilt = 0;
	json_t *s;
	json_array_foreach(recent, i, s) {
		if (rebuilt >= DEDUPE_REBUILD_MAX)
			break;
		json_t *ev = event_at(n, json_integer_value(json_array_get(s, 0)));
		if (ev) {
			notify_state_note_event_json(n->state, ev,
						     json_integer_value(json_array_get(s, 1)));
			rebuilt++;
		}
		json_decref(ev);
	}
	json_decref(pending);
	json_decref(recent);
	if (decided)
		log_info("notify: %zu decisions in the store, %zu sends queued again", decided,
			 requeued);
	return ERR_OK;
}

/* ---- the object -------------------------------------------------------------------- */

int notifier_new(const struct notifier_options *opt, struct notifier **out, struct err *e)
{
	*out = NULL;
	struct notifier *n = xcalloc(1, sizeof(*n));
	n->s = opt->store;
	n->clk = opt->clock ? opt->clock : clock_system();
	if (opt->rules)
		n->rules = *opt->rules;
	else
		notify_rules_defaults(&n->rules);
	if (opt->channels)
		n->ch = *opt->channels;
	if (opt->llm && opt->llm->api_key && *opt->llm->api_key) {
		n->llm = *opt->llm;
		if (!n->llm.timeout_ms)
			n->llm.timeout_ms = NOTIFIER_LLM_TIMEOUT_MS;
		n->has_llm = true;
	}
	n->max_attempts = opt->max_attempts > 0 ? opt->max_attempts : NOTIFIER_ATTEMPTS;
	n->manual = opt->manual;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->wake, NULL);
	n->state = notify_state_new(0, 0);
	n->done = json_object();
	n->decided = json_object();
	n->dec = (struct feedback_decider){.decide = decide, .ud = n};
	if (opt->default_targets && !json_is_null(opt->default_targets)) {
		struct notify_target t[NOTIFY_TARGETS_MAX];
		size_t nt;
		if (notify_targets_parse(opt->default_targets, t, NOTIFY_TARGETS_MAX, &nt, e)) {
			notifier_free(n);
			err_prefix(e, "the default notification targets (--notify)");
			return e->code;
		}
		n->default_targets = json_deep_copy(opt->default_targets);
	}
	int rc = recover(n, e);
	if (rc) {
		notifier_free(n);
		return rc;
	}
	if (!n->manual) {
		if (pthread_create(&n->worker, NULL, worker_main, n) != 0) {
			notifier_free(n);
			return err_set(e, ERR_INTERNAL, "cannot start the notifier thread");
		}
		n->running = true;
	}
	*out = n;
	return ERR_OK;
}

void notifier_free(struct notifier *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	n->stop = true;
	pthread_cond_broadcast(&n->wake);
	pthread_mutex_unlock(&n->lock);
	if (n->running)
		pthread_join(n->worker, NULL);
	for (struct job *j; (j = first_job(n));) {
		timer_heap_disarm(&n->jobs, &j->timer);
		job_free(j);
	}
	timer_heap_cleanup(&n->jobs);
	notify_state_free(n->state);
	json_decref(n->done);
	json_decref(n->decided);
	json_decref(n->default_targets);
	pthread_cond_destroy(&n->wake);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

const struct feedback_decider *notifier_decider(struct notifier *n)
{
	return &n->dec;
}

int notifier_step(struct notifier *n, size_t *ran, struct err *e)
{
	(void)e;
	size_t r = run_due(n, clock_wall_us(n->clk));
	if (ran)
		*ran = r;
	return ERR_OK;
}

void notifier_stats(struct notifier *n, struct notifier_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->decided = atomic_load(&n->n_decided);
	st->sent = atomic_load(&n->n_sent);
	st->failed = atomic_load(&n->n_failed);
	st->skipped = atomic_load(&n->n_skipped);
	st->suppressed = atomic_load(&n->n_suppressed);
	st->llm_calls = atomic_load(&n->n_llm);
	st->llm_errors = atomic_load(&n->n_llm_err);
	st->llm = n->has_llm;
	pthread_mutex_lock(&n->lock);
	for (size_t i = 0; i < timer_heap_size(&n->jobs); i++) {
		const struct job *j = timer_heap_entry(n->jobs.items[i], struct job, timer);
		st->pending += j->digest ? json_array_size(j->events) : 1;
	}
	pthread_mutex_unlock(&n->lock);
}
