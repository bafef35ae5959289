/*
 * notifier.h - the ambient agent's "should I tell the person?" step of the
 * Event Feedback Server, and the telling.
 *
 * It plugs into the feedback server as its decider (struct feedback_decider,
 * see feedback.h): for each stored feedback_received event it
 *   1. finds the recipients: the event's "notification" (the task's config:
 *      the seed's {"method": "send_sms", ...} objects, Apprise-style URLs),
 *      else the server's default targets (--notify);
 *   2. when an LLM is configured (OPENAI_API_KEY), asks it whether the person
 *      should hear about it; it answers NO_NOTIFICATION_NEEDED or the message
 *      to send.  When the LLM fails, the rules decide alone;
 *   3. applies the rules per recipient (domain/notify_policy): minimum
 *      priority per channel, de-duplication per task, quiet hours (held, then
 *      sent when they end), a rate limit per recipient, low-priority events
 *      batched into a digest;
 *   4. returns the decision, which the feedback server records as a
 *      feedback_decided event, and hands the sends to its worker thread.
 * The worker sends through engine/channels (Twilio, SMTP, webhook, ntfy) and
 * records each outcome as an event in the task's feedback stream:
 * notification_sent (with the provider's id), notification_failed (after the
 * retries), notification_skipped (no credentials for the channel: never
 * reported as sent) and notification_suppressed (with the rule).
 *
 * Durability.  Outcome events have ids derived from (feedback event,
 * recipient), so recording one twice is a no-op.  At start the notifier reads
 * the feedback store: sends already recorded are not repeated, decisions whose
 * sends were not recorded yet (held, batched, or cut short by a crash) are
 * queued again, and the rules' memory (recent sends per recipient, recent
 * events per task) is rebuilt.  A crash between a send and its record may
 * repeat that one message (at-least-once).
 *
 * Threads: decide runs on the feedback server's decider thread, sends on the
 * notifier's own worker (or in notifier_step in manual mode, for tests with a
 * fake clock).  Everything else may be called from any thread.
 */
#ifndef AMBIENT_APP_NOTIFIER_H
#define AMBIENT_APP_NOTIFIER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/feedback.h"
#include "common/clock.h"
#include "common/err.h"
#include "domain/notify_policy.h"
#include "engine/channels.h"
#include "engine/llm.h"
#include "store/store.h"

#define NOTIFIER_ATTEMPTS 5  /* sends of one message before it is reported failed */
#define NOTIFIER_NO_NOTIFICATION "NO_NOTIFICATION_NEEDED"
#define NOTIFIER_LLM_TIMEOUT_MS 20000 /* a decision waits no longer for the LLM */

struct notifier_options {
	struct store *store;   /* the feedback store (borrowed) */
	struct clock *clock;   /* NULL: the system clock */
	const struct notify_rules *rules;      /* NULL: notify_rules_defaults() */
	const struct channel_config *channels; /* borrowed, with its strings */
	const struct llm_config *llm;          /* NULL or no api_key: rules only */
	const json_t *default_targets; /* a notification value for events without one;
					* copied; NULL: none */
	bool manual;      /* no worker thread: notifier_step() sends what is due */
	int max_attempts; /* 0: NOTIFIER_ATTEMPTS */
};

struct notifier;

/* CONSTRUCTOR: reads the feedback store (see Durability) and starts the
 * worker.  ERR_INVALID for bad default targets. */
int notifier_new(const struct notifier_options *opt, struct notifier **out, struct err *e);
/* DESTRUCTOR: stops the worker (a send in progress finishes).  Accepts NULL. */
void notifier_free(struct notifier *n);

/* The decider to pass in feedback_options (points into n). */
const struct feedback_decider *notifier_decider(struct notifier *n);

/* Manual mode: run every send that is due at the clock's time now; *ran
 * (may be NULL) gets how many ran. */
int notifier_step(struct notifier *n, size_t *ran, struct err *e);

struct notifier_stats {
	uint64_t decided, sent, failed, skipped, suppressed;
	uint64_t llm_calls, llm_errors;
	size_t pending; /* sends waiting: held, batched, retrying or due */
	bool llm;       /* an LLM takes part in the decisions */
};
void notifier_stats(struct notifier *n, struct notifier_stats *st);

#endif
