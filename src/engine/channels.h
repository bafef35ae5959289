/*
 * channels.h - the senders: one notification (domain/notify_message) to one
 * recipient (domain/notify_target) over its channel, by the providers' real
 * wire protocols:
 *   - sms: Twilio's REST API, POST {base}/2010-04-01/Accounts/{SID}/Messages.json
 *     with HTTP Basic auth SID:TOKEN and form fields To, From (or
 *     MessagingServiceSid for an "MG..." sender), Body;
 *   - email: SMTP through libcurl (smtp:// with STARTTLS, smtps:// implicit TLS,
 *     AUTH with user and password), an RFC 5322 text/plain UTF-8 message;
 *   - webhook: a JSON POST signed by Standard Webhooks (webhook-id,
 *     webhook-timestamp, webhook-signature);
 *   - ntfy: POST {server}/{topic} with Title, Priority, Click and Tags headers.
 *
 * TLS policy for smtp:// URLs: STARTTLS is required (the send fails rather
 * than log in and send in clear text) unless the host is loopback
 * (localhost, 127.0.0.0/8, ::1) or smtp_allow_plain is set, in which case it
 * is used when the server offers it.  smtps:// always uses TLS.  Certificates
 * are verified against the system store (or ca_file).
 *
 * SSRF: addresses that come from a task's config (a webhook URL, an ntfy
 * server, the SMTP host of a mailto:// target) go through the netguard
 * (engine/netguard.h) on every connection curl opens; the operator's own
 * settings (Twilio base URL, smtp_url, ntfy_base_url) are trusted.
 * Redirects are never followed; proxies from the environment are ignored.
 *
 * Blocking: channel_send does the whole exchange before it returns (at most
 * about timeout_ms).  Thread-safe: each call uses its own curl handle; the
 * config is only read.  Secrets (tokens, passwords, webhook secrets) never
 * appear in logs or in channel_result.detail.
 */
#ifndef AMBIENT_ENGINE_CHANNELS_H
#define AMBIENT_ENGINE_CHANNELS_H

#include <stdbool.h>

#include "domain/notify_message.h"
#include "domain/notify_target.h"

struct netguard;

#define CHANNEL_TWILIO_BASE_URL "https://api.twilio.com"
#define CHANNEL_NTFY_BASE_URL "https://ntfy.sh"
#define CHANNEL_TIMEOUT_MS 15000

/* The server's settings.  Every string is borrowed (must outlive the calls)
 * and may be NULL or "" for "not set". */
struct channel_config {
	/* SMS (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_PHONE_NUMBER).  A
	 * twilio:// target's own SID/token/from replace these. */
	const char *twilio_sid;
	const char *twilio_token;
	const char *twilio_from;     /* E.164, an "MG..." messaging service SID, or an
				      * alphanumeric sender id */
	const char *twilio_base_url; /* NULL: CHANNEL_TWILIO_BASE_URL */
	/* E-mail (--smtp-url / AMBIENT_SMTP_URL ...).  A mailto:// target's own
	 * server and login replace these. */
	const char *smtp_url; /* smtp://host[:587] or smtps://host[:465] */
	const char *smtp_user;
	const char *smtp_password;
	const char *smtp_from; /* "addr@host" or "Name <addr@host>"; NULL: the login
				* when it is an address, else ambient@<smtp host> */
	bool smtp_allow_plain; /* send without TLS to a non-loopback server that does
				* not offer STARTTLS (not recommended) */
	/* ntfy */
	const char *ntfy_base_url; /* for targets without a server; NULL:
				    * CHANNEL_NTFY_BASE_URL */
	/* webhooks */
	const char *webhook_secret; /* "whsec_<base64>": sign webhook posts; NULL: unsigned */
	/* all */
	const char *user_agent;       /* NULL: "ambient/VERSION" */
	long timeout_ms;              /* whole exchange, connect included; 0:
				       * CHANNEL_TIMEOUT_MS */
	const struct netguard *guard; /* for addresses from task configs; NULL: no check */
	const char *ca_file;          /* extra CA bundle (PEM); NULL: the system's */
};

/* Fill *c from the environment: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN,
 * TWILIO_PHONE_NUMBER, TWILIO_API_BASE, AMBIENT_SMTP_URL, AMBIENT_SMTP_USER,
 * AMBIENT_SMTP_PASSWORD, AMBIENT_SMTP_FROM, AMBIENT_NTFY_URL.  Unset
 * variables leave their fields alone; the strings are the environment's. */
void channel_config_from_env(struct channel_config *c);

enum channel_outcome {
	CHANNEL_SENT = 0, /* accepted by the provider (queued by Twilio, 250 by SMTP,
			   * 2xx by a webhook or ntfy) */
	CHANNEL_FAILED,   /* see retryable */
	CHANNEL_SKIPPED,  /* not attempted: the channel is not configured */
};

struct channel_result {
	enum channel_outcome outcome;
	bool retryable;        /* worth trying again later: 5xx, 408, 429, SMTP 4xx,
				* timeouts, connection errors */
	int retry_after_s;     /* from a Retry-After header; 0: none */
	int status;            /* HTTP status or last SMTP reply code; 0: none */
	char provider_id[128]; /* Twilio "SM..." sid, our SMTP Message-ID "<...>", ntfy
				* message id, webhook-id */
	char detail[512];      /* what happened, and for failures how to fix it */
};

/* "sent", "failed", "skipped". */
const char *channel_outcome_name(enum channel_outcome o);

/* Send m to t.  idempotency_key (may be NULL) becomes the webhook-id and the
 * local part of the e-mail Message-ID, so a retry can be recognised by the
 * receiver; NULL: a random one.  Always fills *r. */
void channel_send(const struct channel_config *c, const struct notify_target *t,
		  const struct notify_message *m, const char *idempotency_key,
		  struct channel_result *r);

#endif
