/*
 * notify_target.h - who to tell, and on which channel: a task's notification
 * config parsed into targets.  Pure (no I/O): the senders live in
 * engine/channels, the decision in domain/notify_policy.
 *
 * Accepted forms of a task's "notification" value (any of them, or a JSON
 * array mixing them, at most NOTIFY_TARGETS_MAX targets):
 *   - the seed's objects: {"method": "send_sms", "phone_number": "+1..."},
 *     {"method": "send_email", "email": "me@example.com"},
 *     {"method": "webhook", "url": "https://..."},
 *     {"method": "ntfy", "topic": "name", "server": "https://ntfy.sh"};
 *     an optional "min_priority" (1..5) in each;
 *   - Apprise-style URL strings: twilio://SID:TOKEN@FROM/TO[/TO2...],
 *     mailto://user:pass@smtp.host[:port]/?to=addr (and mailtos://),
 *     mailto:addr (the server's SMTP settings), ntfy://topic,
 *     ntfy://host/topic, ntfys://host/topic, json://host/path,
 *     jsons://host/path;
 *   - an object {"urls": [...]} holding such strings.
 * Phone numbers are normalised to E.164 ("+" and 8-15 digits, no leading 0).
 *
 * Details of the URL forms (Apprise's meaning kept):
 *   - twilio://SID:TOKEN@FROM/TO/TO2: one sms target per TO, user = SID,
 *     password = TOKEN, from = FROM; numbers may omit the '+' there
 *     ("15551234567", as Apprise writes them);
 *   - mailto://user:pass@host[:port]/?to=a@b,c@d[&from=x@y]: url =
 *     "smtp://host:port" (587 by default; mailtos: "smtps://host:port", 465),
 *     user and password percent-decoded; one email target per address in
 *     to=, else the sender; the sender (from) is from=, else the user when it
 *     is an address ("me%40gmail.com"), else user@host;
 *   - mailto:a@b[,c@d]: email targets with the server's SMTP settings;
 *   - ntfy://topic: url = NOTIFY_NTFY_DEFAULT_SERVER; ntfy://[user:pass@]host
 *     [:port]/topic[/topic2] -> url "http://host[:port]", ntfys:// ->
 *     "https://..."; in objects "server" defaults to the same public server;
 *   - json://[user:pass@]host[:port]/path[?query] -> webhook url
 *     "http://host[:port]/path[?query]" (jsons: https), credentials in
 *     user/password, never in url;
 *   - every URL may end in ?min_priority=N (1..5), like the objects' field;
 *   - a plain http(s):// string is refused (write json:// or a webhook object).
 * On error *n is 0 and out[] holds no credentials.
 */
#ifndef AMBIENT_DOMAIN_NOTIFY_TARGET_H
#define AMBIENT_DOMAIN_NOTIFY_TARGET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

enum notify_channel {
	NOTIFY_CHANNEL_SMS = 0,
	NOTIFY_CHANNEL_EMAIL,
	NOTIFY_CHANNEL_WEBHOOK,
	NOTIFY_CHANNEL_NTFY,
	NOTIFY_CHANNEL__COUNT
};

#define NOTIFY_ADDR_MAX 320 /* an e-mail address, a phone number, a topic */
#define NOTIFY_URL_MAX 2048
#define NOTIFY_SECRET_MAX 256
#define NOTIFY_TARGETS_MAX 16
#define NOTIFY_E164_MAX 16 /* "+" and 15 digits */
/* Server of ntfy targets that name none (ntfy://topic, no "server"). */
#define NOTIFY_NTFY_DEFAULT_SERVER "https://ntfy.sh"
/* Enough for any notify_target_label. */
#define NOTIFY_LABEL_MAX (NOTIFY_URL_MAX + 16)

/* "sms", "email", "webhook", "ntfy". */
const char *notify_channel_name(enum notify_channel c);
/* ERR_INVALID (listing the names) when name is none of them. */
int notify_channel_parse(const char *name, enum notify_channel *out, struct err *e);

/* One recipient on one channel.  Credentials are set only when the config
 * carried them (Apprise twilio:// and mailto:// URLs; user:pass@ in ntfy://
 * and json:// URLs, meant as HTTP basic auth); empty strings mean "use the
 * server's configuration". */
struct notify_target {
	enum notify_channel channel;
	char to[NOTIFY_ADDR_MAX + 1];         /* sms: E.164; email: address; ntfy: topic;
					       * webhook: "" */
	char url[NOTIFY_URL_MAX + 1];         /* webhook: URL to POST; ntfy: server base URL;
					       * email: smtp:// or smtps:// URL from mailto://;
					       * sms: "" */
	char user[NOTIFY_SECRET_MAX + 1];     /* Twilio account SID / SMTP user */
	char password[NOTIFY_SECRET_MAX + 1]; /* Twilio auth token / SMTP password */
	char from[NOTIFY_ADDR_MAX + 1];       /* Twilio from number / e-mail sender */
	int min_priority;                     /* 1..5; 0: the server's rule */
};

/* Parse a notification value (see above) into out[0..max), *n targets.
 * ERR_INVALID with a message naming the bad element and its accepted forms.
 * A JSON null gives 0 targets. */
int notify_targets_parse(const json_t *notification, struct notify_target *out, size_t max,
			 size_t *n, struct err *e);

/* Normalise a phone number to E.164 ("+15551234567"): spaces, '-', '.', '(',
 * ')' are dropped; it must start with '+' and have 8-15 digits, the first
 * not 0.  false when it is not a valid number. */
bool notify_e164(const char *in, char out[NOTIFY_E164_MAX + 1]);

/* The recipient as people read it, without credentials: "sms +15551234567",
 * "email me@example.com", "webhook https://host/path" (no user info, query
 * or fragment), "ntfy alerts" (public server) or "ntfy host:port/alerts".
 * Writes at most size bytes (NUL included). */
void notify_target_label(const struct notify_target *t, char *out, size_t size);

#endif
