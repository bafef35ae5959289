/*
 * redact.h - keeping secrets and contact details out of what people and
 * logs see.
 *
 * Secrets (API keys, tokens, passwords, webhook secrets) are replaced by
 * "[REDACTED]" wherever a value is shown that came from a caller: tool
 * arguments in the audit log, authorization requests, error texts.  A value
 * is secret when its key's name says so (password, secret, token, api_key,
 * authorization, credential, cookie, private_key ...) or when the value
 * itself looks like one (amb_..., whsec_..., sk-..., "Bearer ...").
 *
 * Contact details are masked in listings: "+14155550123" -> "+1*******23",
 * "alice@example.com" -> "a***@example.com".
 *
 * Pure: no I/O.
 */
#ifndef AMBIENT_DOMAIN_REDACT_H
#define AMBIENT_DOMAIN_REDACT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define REDACTED "[REDACTED]"
#define REDACT_STRING_MAX 500 /* longer strings are cut in redacted copies */

/* Whether an object key names a secret (case-insensitive). */
bool redact_is_secret_name(const char *key);
/* Whether a string value looks like a credential. */
bool redact_is_secret_value(const char *s);

/* A deep copy of v with secret values replaced and strings cut at
 * REDACT_STRING_MAX bytes (on a character boundary); depth beyond 16 is
 * replaced by "[...]".  NULL in: NULL out. */
json_t *redact_json(const json_t *v);

/* Replace every occurrence of a credential-looking word in text (in
 * place): for messages that may quote caller input. */
void redact_text(char *text);

/* Masks into out (size bytes, always terminated). */
void redact_mask_phone(const char *phone, char *out, size_t size);
void redact_mask_email(const char *email, char *out, size_t size);

/* A deep copy of v with phone numbers and e-mail addresses masked: every
 * string shaped like an E.164 number ("+" and 7-15 digits), an e-mail
 * address, or a mailto:, twilio:, sms: or tel: URL of one. */
json_t *redact_mask_contacts(const json_t *v);

/* Both in one pass: secrets redacted, strings cut, contacts masked (what
 * the audit log keeps of a call's arguments). */
json_t *redact_json_masked(const json_t *v);

#endif
