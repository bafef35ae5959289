/*
 * mcp_net_tools.c - the tools that reach the outside world: get_weather
 * (Open-Meteo, engine/weather.h), send_sms and send_email (the notification
 * channels, engine/channels.h) and scrape_webpage (engine/scrape.h).
 *
 * Honesty is the rule: weather comes from Open-Meteo or the call fails
 * saying why (never invented numbers); an SMS or e-mail is reported sent
 * only when Twilio or the SMTP server accepted it, and a server without
 * credentials says "not sent" and what the operator must set.
 *
 * Levels (ORIGIN.md section 5): get_weather LOW; send_sms, send_email and
 * scrape_webpage MEDIUM.  send_sms and send_email default to 20 calls per
 * hour per principal (they cost money and reach people).  The guard
 * (mcp_guard.c) enforces both.
 *
 * Settings come from struct app_mcp_options (copied here by app_net_new):
 * the channel config (else the environment), the Open-Meteo base URLs, the
 * Chromium path and the SSRF guard for scrape_webpage.
 */
#include "mcp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "domain/notify_message.h"
#include "domain/notify_target.h"
#include "engine/channels.h"
#include "engine/scrape.h"
#include "engine/weather.h"

#define NOTIFY_RATE_PER_HOUR 20
#define EMAIL_SUBJECT_MAX 200 /* characters */

/* ---- settings ----------------------------------------------------------------- */

struct app_net {
	struct channel_config ch; /* strings owned (strs) */
	char *strs[12];
	size_t nstrs;
	struct weather_config wc;
	char *weather_url, *geocoding_url;
	struct scraper *scraper; /* NULL when it could not be made (logged) */
};

static const char *own(struct app_net *n, const char *s)
{
	if (!s)
		return NULL;
	if (n->nstrs == sizeof n->strs / sizeof n->strs[0])
		return s; /* cannot happen: one slot per field below */
	return n->strs[n->nstrs++] = xstrdup(s);
}

struct app_net *app_net_new(struct app_mcp *a, const struct app_mcp_options *opt)
{
	struct app_net *n = xcalloc(1, sizeof *n);
	struct channel_config env = {0};
	const struct channel_config *c = opt ? opt->channels : NULL;
	const struct netguard *guard =
		opt && opt->net_guard ? opt->net_guard : app_tasks_net_guard();
	struct err e = {0};

	if (!c) {
		channel_config_from_env(&env);
		c = &env;
	}
	n->ch = *c;
	n->ch.twilio_sid = own(n, c->twilio_sid);
	n->ch.twilio_token = own(n, c->twilio_token);
	n->ch.twilio_from = own(n, c->twilio_from);
	n->ch.twilio_base_url = own(n, c->twilio_base_url);
	n->ch.smtp_url = own(n, c->smtp_url);
	n->ch.smtp_user = own(n, c->smtp_user);
	n->ch.smtp_password = own(n, c->smtp_password);
	n->ch.smtp_from = own(n, c->smtp_from);
	n->ch.ntfy_base_url = own(n, c->ntfy_base_url);
	n->ch.webhook_secret = own(n, c->webhook_secret);
	n->ch.user_agent = own(n, c->user_agent);
	n->ch.ca_file = own(n, c->ca_file);

	n->weather_url = opt && opt->weather_api_url ? xstrdup(opt->weather_api_url) : NULL;
	n->geocoding_url = opt && opt->geocoding_api_url ? xstrdup(opt->geocoding_api_url) : NULL;
	n->wc = (struct weather_config){
		.weather_url = n->weather_url,
		.geocoding_url = n->geocoding_url,
		.store = a->store,
		.clock = a->clock,
	};

	struct scrape_options so = {
		.guard = guard,
		.chromium = opt ? opt->chromium_path : NULL,
		.clock = a->clock,
	};
	if (scraper_new(&so, &n->scraper, &e))
		log_error("scrape_webpage is unavailable: %s", err_msg(&e));
	return n;
}

void app_net_free(struct app_net *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nstrs; i++)
		free(n->strs[i]);
	free(n->weather_url);
	free(n->geocoding_url);
	scraper_free(n->scraper);
	free(n);
}

/* ---- schema pieces -------------------------------------------------------------- */

#define P_USER_ID                                                                                  \
	"\"user_id\": {\"type\": \"string\", \"description\": \"Who is asking (optional; "         \
	"defaults to you). Only admins may name someone else.\"}"

#define OUT(action, data_schema)                                                                   \
	"{\"type\": \"object\", \"properties\": {"                                                 \
	"\"status\": {\"type\": \"string\", \"enum\": [\"success\"]}, "                            \
	"\"action\": {\"type\": \"string\", \"enum\": [\"" action "\"]}, "                         \
	"\"data\": " data_schema ", "                                                              \
	"\"message\": {\"type\": \"string\"}, "                                                    \
	"\"timestamp\": {\"type\": \"string\", \"description\": \"Server local time, ISO-8601 "    \
	"without zone\"}}, "                                                                       \
	"\"required\": [\"status\", \"action\", \"data\", \"timestamp\"]}"

/* Annotations: readOnly, destructive, idempotent, openWorld. */
#define ANN(ro, de, id, ow)                                                                        \
	"{\"readOnlyHint\": " ro ", \"destructiveHint\": " de ", \"idempotentHint\": " id          \
	", \"openWorldHint\": " ow "}"

#define S_NUM "{\"type\": \"number\"}"
#define S_STR "{\"type\": \"string\"}"
#define S_NSTR "{\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"null\"}]}"

/* ---- get_weather ----------------------------------------------------------------- */

#define WEATHER_DESC                                                                               \
	"Current weather for a city, live from Open-Meteo: temperature, condition, humidity and "  \
	"wind (plus feels-like temperature and the place that was found). Add the country or "     \
	"region after a comma when the name is ambiguous ('Paris, France', 'Portland, Oregon'). "  \
	"Answers are cached for an hour (cached: true and cached_at say so). Fails with a clear "  \
	"message for an unknown place or when Open-Meteo cannot be reached; it never guesses."

#define WEATHER_IN                                                                                 \
	"{\"type\": \"object\", \"properties\": {"                                                 \
	"\"city\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 200, \"description\": " \
	"\"A place name, optionally with its country or region after a comma, e.g. 'Beijing', "    \
	"'Paris, France'.\"}, " P_USER_ID "}, "                                                    \
	"\"required\": [\"city\"], \"additionalProperties\": false}"

#define WEATHER_OUT                                                                                \
	OUT("get_weather",                                                                         \
	    "{\"type\": \"object\", \"properties\": {"                                             \
	    "\"city\": " S_STR ", "                                                                \
	    "\"location\": {\"type\": \"object\", \"properties\": {\"name\": " S_STR ", "          \
	    "\"country\": " S_STR ", \"country_code\": " S_STR ", \"admin1\": " S_STR ", "         \
	    "\"latitude\": " S_NUM ", \"longitude\": " S_NUM ", \"timezone\": " S_STR ", "         \
	    "\"elevation\": " S_NUM "}}, "                                                         \
	    "\"temperature\": {\"type\": \"string\", \"description\": \"e.g. '15.2°C'\"}, "       \
	    "\"condition\": {\"type\": \"string\", \"description\": \"WMO weather code in "        \
	    "words, e.g. 'Partly cloudy'\"}, "                                                     \
	    "\"humidity\": {\"type\": \"string\", \"description\": \"e.g. '45%'\"}, "              \
	    "\"wind\": {\"type\": \"string\", \"description\": \"speed and the direction it "      \
	    "blows from, e.g. '12.2 km/h SW'\"}, "                                                 \
	    "\"temperature_c\": " S_NUM ", \"feels_like_c\": " S_NUM ", "                          \
	    "\"humidity_percent\": {\"type\": \"integer\"}, \"wind_speed_kmh\": " S_NUM ", "       \
	    "\"wind_direction_deg\": {\"type\": \"integer\"}, "                                    \
	    "\"weather_code\": {\"type\": \"integer\"}, "                                          \
	    "\"observed_at\": {\"type\": \"string\", \"description\": \"local time at the "        \
	    "place\"}, "                                                                           \
	    "\"timezone\": " S_STR ", \"source\": " S_STR ", "                                     \
	    "\"cached\": {\"type\": \"boolean\"}, "                                                \
	    "\"retrieved_at\": {\"type\": \"string\", \"description\": \"UTC, when fetched "       \
	    "now\"}, "                                                                             \
	    "\"cached_at\": {\"type\": \"string\", \"description\": \"UTC, when the cached "       \
	    "answer was fetched\"}, "                                                              \
	    "\"cache_age_s\": {\"type\": \"integer\"}}, "                                          \
	    "\"required\": [\"city\", \"location\", \"temperature\", \"condition\", \"cached\"]}")

static int tool_weather(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	struct app_mcp *a = app_mcp_from_call(call);
	const char *city = json_get_str(args, "city");
	struct err le = {0};
	json_t *w = NULL, *loc;
	char msg[600], where[300];

	(void)e;
	if (weather_current(&a->net->wc, city, &w, &le)) {
		*result = app_mcp_failure(a, "get_weather", "%s", err_msg(&le));
		return ERR_OK;
	}
	loc = json_object_get(w, "location");
	snprintf(where, sizeof where, "%s%s%s",
		 json_get_str(loc, "name") ? json_get_str(loc, "name") : city,
		 json_get_str(loc, "country") ? ", " : "",
		 json_get_str(loc, "country") ? json_get_str(loc, "country") : "");
	if (json_is_true(json_object_get(w, "cached")))
		snprintf(msg, sizeof msg, "Weather in %s: %s, %s (cached %lld min ago)", where,
			 json_get_str(w, "temperature"), json_get_str(w, "condition"),
			 json_get_int(w, "cache_age_s", 0) / 60);
	else
		snprintf(msg, sizeof msg, "Weather in %s: %s, %s", where,
			 json_get_str(w, "temperature"), json_get_str(w, "condition"));
	app_mcp_utf8_clean(msg);
	*result = app_mcp_success(a, "get_weather", w, msg);
	return ERR_OK;
}

/* ---- send_sms ------------------------------------------------------------------------ */

#define SMS_DESC                                                                                   \
	"Send a text message (SMS) through Twilio. 'to' is a phone number in international form "  \
	"(+ and country code, e.g. +14155550123; a 10-digit number without '+' is taken as a "     \
	"US/Canada number). At most 1600 characters. The result says sent only when Twilio "       \
	"accepted the message; a server without Twilio credentials answers 'not sent' and "        \
	"nothing is sent."

#define SMS_IN                                                                                     \
	"{\"type\": \"object\", \"properties\": {"                                                 \
	"\"to\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 40, \"description\": "    \
	"\"Recipient phone number, E.164 (+14155550123).\"}, "                                     \
	"\"message\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 1600, "              \
	"\"description\": \"The text, at most 1600 characters.\"}, " P_USER_ID "}, "               \
	"\"required\": [\"to\", \"message\"], \"additionalProperties\": false}"

#define SMS_OUT                                                                                    \
	OUT("send_sms", "{\"type\": \"object\", \"properties\": {"                                 \
			"\"to\": {\"type\": \"string\", \"description\": \"E.164\"}, "             \
			"\"message_sid\": {\"type\": \"string\", \"description\": \"Twilio's "     \
			"id (SM...)\"}, "                                                          \
			"\"status\": {\"type\": \"string\", \"enum\": [\"sent\"]}, "               \
			"\"provider\": {\"type\": \"string\"}, "                                   \
			"\"characters\": {\"type\": \"integer\"}}, "                               \
			"\"required\": [\"to\", \"status\"]}")

/* E.164, also from the forms people write: "+1 (415) 555-0123", "0044...",
 * and, as the original did, 10 digits without a '+' as +1 (NANP). */
static bool sms_number(const char *in, char out[NOTIFY_E164_MAX + 1])
{
	char digits[64];
	size_t n = 0;
	bool plus = false;

	if (notify_e164(in, out))
		return true;
	for (const char *p = in; *p; p++) {
		if (*p >= '0' && *p <= '9') {
			if (n + 1 >= sizeof digits)
				return false;
			digits[n++] = *p;
		} else if (*p == '+' && n == 0 && !plus) {
			plus = true;
		} else if (!strchr(" -.()/", *p)) {
			return false;
		}
	}
	digits[n] = '\0';
	if (plus)
		return false; /* notify_e164 already said no */
	char cand[80];
	if (n == 10 && digits[0] >= '2')
		snprintf(cand, sizeof cand, "+1%s", digits);
	else if (n == 11 && digits[0] == '1')
		snprintf(cand, sizeof cand, "+%s", digits);
	else if (n > 2 && digits[0] == '0' && digits[1] == '0')
		snprintf(cand, sizeof cand, "+%s", digits + 2);
	else
		return false;
	return notify_e164(cand, out);
}

static bool set(const char *s)
{
	return s && *s;
}

static int tool_sms(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	struct app_mcp *a = app_mcp_from_call(call);
	const struct channel_config *ch = &a->net->ch;
	const char *to = json_get_str(args, "to"), *text = json_get_str(args, "message");
	struct notify_target t = {.channel = NOTIFY_CHANNEL_SMS};
	struct notify_message m = {0};
	struct channel_result r;
	char e164[NOTIFY_E164_MAX + 1], msg[400];
	size_t chars;

	(void)e;
	if (!to || !sms_number(to, e164)) {
		*result = app_mcp_failure(
			a, "send_sms",
			"'%.40s' is not a phone number this tool can use: write it in "
			"international "
			"E.164 form, '+' then country code and number, e.g. +14155550123 or "
			"+447700900123",
			to ? to : "");
		return ERR_OK;
	}
	chars = text ? json_utf8_chars(text) : 0;
	if (!text || !chars || chars > NOTIFY_SMS_MAX) {
		*result = app_mcp_failure(a, "send_sms",
					  "message must have 1 to %d characters (it has %zu); "
					  "shorten it or split it into several messages",
					  NOTIFY_SMS_MAX, chars);
		return ERR_OK;
	}
	if (!set(ch->twilio_sid) || !set(ch->twilio_token) || !set(ch->twilio_from)) {
		char missing[128] = "";

		if (!set(ch->twilio_sid))
			strcat(missing, "TWILIO_ACCOUNT_SID");
		if (!set(ch->twilio_token))
			strcat(strcat(missing, *missing ? ", " : ""), "TWILIO_AUTH_TOKEN");
		if (!set(ch->twilio_from))
			strcat(strcat(missing, *missing ? ", " : ""), "TWILIO_PHONE_NUMBER");
		*result = app_mcp_failure(
			a, "send_sms",
			"SMS not sent: no Twilio credentials on this server (%s not set). Nothing "
			"was sent to %s. The server's operator must set TWILIO_ACCOUNT_SID, "
			"TWILIO_AUTH_TOKEN and TWILIO_PHONE_NUMBER (or the --twilio-* options) and "
			"restart; until then tell the user the message could not be sent",
			missing, e164);
		return ERR_OK;
	}
	snprintf(t.to, sizeof t.to, "%s", e164);
	m.sms = (char *)text;
	m.priority = 3;
	channel_send(ch, &t, &m, NULL, &r);
	if (r.outcome == CHANNEL_SENT) {
		json_t *d = json_object();

		json_object_set_new(d, "to", json_string(e164));
		if (r.provider_id[0])
			json_object_set_new(d, "message_sid", json_string_lossy(r.provider_id));
		json_object_set_new(d, "status", json_string("sent"));
		json_object_set_new(d, "provider", json_string("twilio"));
		json_object_set_new(d, "characters", json_integer((json_int_t)chars));
		snprintf(msg, sizeof msg, "SMS to %s accepted by Twilio%s%s", e164,
			 r.provider_id[0] ? " as " : "", r.provider_id);
		*result = app_mcp_success(a, "send_sms", d, msg);
	} else {
		*result = app_mcp_failure(a, "send_sms", "SMS to %s not sent: %s%s", e164, r.detail,
					  r.retryable ? " (this looks temporary: try again later)"
						      : "");
	}
	return ERR_OK;
}

/* ---- send_email ------------------------------------------------------------------------ */

#define EMAIL_DESC                                                                                 \
	"Send a plain-text e-mail through this server's SMTP server. The result says sent only "   \
	"when the SMTP server accepted the mail; a server without SMTP settings answers 'not "     \
	"sent' and nothing is sent."

#define EMAIL_IN                                                                                   \
	"{\"type\": \"object\", \"properties\": {"                                                 \
	"\"to\": {\"type\": \"string\", \"minLength\": 3, \"maxLength\": 320, \"description\": "   \
	"\"Recipient address, name@example.com.\"}, "                                              \
	"\"subject\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 200, "               \
	"\"description\": \"One line.\"}, "                                                        \
	"\"body\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 65536, "                \
	"\"description\": \"Plain text.\"}, " P_USER_ID "}, "                                      \
	"\"required\": [\"to\", \"subject\", \"body\"], \"additionalProperties\": false}"

#define EMAIL_OUT                                                                                  \
	OUT("send_email", "{\"type\": \"object\", \"properties\": {"                               \
			  "\"to\": " S_STR ", \"subject\": " S_STR ", "                            \
			  "\"message_id\": {\"type\": \"string\", \"description\": \"the "         \
			  "Message-ID header\"}, "                                                 \
			  "\"status\": {\"type\": \"string\", \"enum\": [\"sent\"]}}, "            \
			  "\"required\": [\"to\", \"subject\", \"status\"]}")

static int tool_email(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	struct app_mcp *a = app_mcp_from_call(call);
	const struct channel_config *ch = &a->net->ch;
	const char *to = json_get_str(args, "to"), *subject = json_get_str(args, "subject");
	const char *body = json_get_str(args, "body");
	struct notify_target t = {.channel = NOTIFY_CHANNEL_EMAIL};
	struct notify_message m = {0};
	struct channel_result r;
	char subj[EMAIL_SUBJECT_MAX * 4 + 1], msg[1000];

	(void)e;
	if (!to || !*to || strlen(to) > NOTIFY_ADDR_MAX || !strchr(to, '@') ||
	    strpbrk(to, " \t\r\n<>,;")) {
		*result =
			app_mcp_failure(a, "send_email",
					"'%.80s' is not one e-mail address: give a single address "
					"like name@example.com",
					to ? to : "");
		return ERR_OK;
	}
	if (!subject || !*subject || json_utf8_chars(subject) > EMAIL_SUBJECT_MAX) {
		*result = app_mcp_failure(a, "send_email", "subject must have 1 to %d characters",
					  EMAIL_SUBJECT_MAX);
		return ERR_OK;
	}
	if (!body || !*body || strlen(body) > NOTIFY_BODY_MAX) {
		*result = app_mcp_failure(a, "send_email", "body must have 1 to %d bytes of text",
					  NOTIFY_BODY_MAX);
		return ERR_OK;
	}
	/* one line: line breaks in a subject become spaces */
	snprintf(subj, sizeof subj, "%s", subject);
	for (char *p = subj; *p; p++)
		if (*p == '\r' || *p == '\n' || *p == '\t')
			*p = ' ';
	if (!set(ch->smtp_url)) {
		*result = app_mcp_failure(
			a, "send_email",
			"E-mail not sent: no SMTP server is configured on this server. Nothing was "
			"sent to %s. The server's operator must set --smtp-url / AMBIENT_SMTP_URL "
			"(e.g. smtps://smtp.example.com:465) with AMBIENT_SMTP_USER and "
			"AMBIENT_SMTP_PASSWORD (and AMBIENT_SMTP_FROM) and restart; until then "
			"tell "
			"the user the mail could not be sent",
			to);
		return ERR_OK;
	}
	snprintf(t.to, sizeof t.to, "%s", to);
	m.subject = subj;
	m.title = subj;
	m.body = (char *)body;
	m.priority = 3;
	channel_send(ch, &t, &m, NULL, &r);
	if (r.outcome == CHANNEL_SENT) {
		json_t *d = json_object();

		json_object_set_new(d, "to", json_string_lossy(to));
		json_object_set_new(d, "subject", json_string_lossy(subj));
		if (r.provider_id[0])
			json_object_set_new(d, "message_id", json_string_lossy(r.provider_id));
		json_object_set_new(d, "status", json_string("sent"));
		snprintf(msg, sizeof msg, "E-mail to %.320s sent (%s)", to, r.detail);
		app_mcp_utf8_clean(msg);
		*result = app_mcp_success(a, "send_email", d, msg);
	} else {
		*result = app_mcp_failure(
			a, "send_email", "E-mail to %.320s not sent: %s%s", to, r.detail,
			r.retryable ? " (this looks temporary: try again later)" : "");
	}
	return ERR_OK;
}

/* ---- scrape_webpage ----------------------------------------------------------------------- */

#define SCRAPE_DESC                                                                                \
	"Read a web page: its title, visible text (optionally only the part a CSS or XPath "       \
	"selector picks), links, images, meta and OpenGraph data, HTTP status and load time. "     \
	"render_javascript runs the page's JavaScript in headless Chromium first (for pages "      \
	"that build their content in the browser; slower). Private and local addresses are "       \
	"refused unless the server allows them; at most 30 requests per minute per site."

#define SCRAPE_IN                                                                                  \
	"{\"type\": \"object\", \"properties\": {"                                                 \
	"\"url\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 2048, \"description\": " \
	"\"The page, http:// or https://.\"}, "                                                    \
	"\"selector\": {\"type\": \"string\", \"maxLength\": 4096, \"description\": \"Only the "   \
	"text, links and images inside what this CSS selector (e.g. 'main article', "              \
	"'#price', 'div.news > h2') or XPath ('//h1') matches.\"}, "                               \
	"\"include_links\": {\"type\": \"boolean\", \"default\": true}, "                          \
	"\"include_images\": {\"type\": \"boolean\", \"default\": true}, "                         \
	"\"render_javascript\": {\"type\": \"boolean\", \"default\": false, \"description\": "     \
	"\"Run the page's JavaScript in headless Chromium before reading it.\"}, "                 \
	"\"include_html\": {\"type\": \"boolean\", \"default\": false, \"description\": \"Also "   \
	"return the HTML (cut at max_content_chars).\"}, "                                         \
	"\"max_content_chars\": {\"type\": \"integer\", \"minimum\": 100, \"maximum\": 200000, "   \
	"\"default\": 20000, \"description\": \"Longest text returned (bytes of "                  \
	"UTF-8).\"}, " P_USER_ID "}, "                                                             \
	"\"required\": [\"url\"], \"additionalProperties\": false}"

#define S_LINKS(text)                                                                              \
	"{\"type\": \"array\", \"items\": {\"type\": \"object\", \"properties\": {\"url\": " S_STR \
	", \"" text "\": " S_STR "}, \"required\": [\"url\"]}}"

#define SCRAPE_OUT                                                                                 \
	OUT("scrape_webpage",                                                                      \
	    "{\"type\": \"object\", \"properties\": {"                                             \
	    "\"url\": " S_STR ", \"final_url\": " S_STR ", \"title\": " S_NSTR ", "                \
	    "\"content\": " S_STR ", \"content_truncated\": {\"type\": \"boolean\"}, "             \
	    "\"links\": " S_LINKS("text") ", \"images\": " S_LINKS(                                \
		    "alt") ", "                                                                    \
			   "\"metadata\": {\"type\": \"object\", \"description\": \"description, " \
			   "keywords, "                                                            \
			   "canonical, lang, opengraph {...}, twitter {...}, ...\"}, "             \
			   "\"status_code\": {\"type\": \"integer\"}, "                            \
			   "\"load_time\": {\"type\": \"number\", \"description\": \"seconds\"}, " \
			   "\"method\": {\"type\": \"string\", \"enum\": [\"http\", "              \
			   "\"chromium\"]}, "                                                      \
			   "\"content_type\": " S_NSTR ", \"selector\": " S_STR ", "               \
			   "\"selector_matched\": {\"type\": \"boolean\"}, \"html\": " S_STR ", "  \
			   "\"html_truncated\": {\"type\": \"boolean\"}}, "                        \
			   "\"required\": [\"url\", \"final_url\", \"title\", \"content\", "       \
			   "\"metadata\", "                                                        \
			   "\"status_code\", \"load_time\", \"method\"]}")

static bool arg_bool(const json_t *args, const char *key, bool def)
{
	json_t *v = json_object_get(args, key);

	return json_is_boolean(v) ? json_is_true(v) : def;
}

static int tool_scrape(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	struct app_mcp *a = app_mcp_from_call(call);
	struct scrape_request rq = {
		.url = json_get_str(args, "url"),
		.selector = json_get_str(args, "selector"),
		.include_links = arg_bool(args, "include_links", true),
		.include_images = arg_bool(args, "include_images", true),
		.include_html = arg_bool(args, "include_html", false),
		.render_javascript = arg_bool(args, "render_javascript", false),
		.max_content =
			(size_t)json_get_int(args, "max_content_chars", SCRAPE_CONTENT_DEFAULT),
	};
	struct err le = {0};
	json_t *d = NULL;
	const char *title;
	char msg[900];

	(void)e;
	if (!a->net->scraper) {
		*result = app_mcp_failure(
			a, "scrape_webpage",
			"scrape_webpage is unavailable on this server (see its log)");
		return ERR_OK;
	}
	if (scrape_page(a->net->scraper, &rq, &d, &le)) {
		*result = app_mcp_failure(a, "scrape_webpage", "%s", err_msg(&le));
		return ERR_OK;
	}
	title = json_get_str(d, "title");
	if (!title) {
		snprintf(msg, sizeof msg, "Scraped %.400s (HTTP %lld, %.3f s, %s)",
			 json_get_str(d, "final_url"), json_get_int(d, "status_code", 0),
			 json_number_value(json_object_get(d, "load_time")),
			 json_get_str(d, "method"));
	} else {
		snprintf(msg, sizeof msg, "Scraped %.400s (HTTP %lld, %.3f s, %s): %.300s",
			 json_get_str(d, "final_url"), json_get_int(d, "status_code", 0),
			 json_number_value(json_object_get(d, "load_time")),
			 json_get_str(d, "method"), title);
	}
	if (rq.selector && *rq.selector && !json_is_true(json_object_get(d, "selector_matched")))
		snprintf(msg + strlen(msg), sizeof msg - strlen(msg),
			 "; the selector matched nothing, so the content is empty: check it or "
			 "leave it out");
	app_mcp_utf8_clean(msg);
	*result = app_mcp_success(a, "scrape_webpage", d, msg);
	return ERR_OK;
}

/* ---- the rows -------------------------------------------------------------------------------- */

static const struct app_tool net_rows[] = {
	{
		.tool.name = "get_weather",
		.tool.title = "Get weather",
		.tool.description = WEATHER_DESC,
		.tool.input_schema = WEATHER_IN,
		.tool.output_schema = WEATHER_OUT,
		.tool.annotations = ANN("true", "false", "true", "true"),
		.tool.fn = tool_weather,
		.level = APP_LEVEL_LOW,
		.scope = "web",
	},
	{
		.tool.name = "send_sms",
		.tool.title = "Send SMS",
		.tool.description = SMS_DESC,
		.tool.input_schema = SMS_IN,
		.tool.output_schema = SMS_OUT,
		.tool.annotations = ANN("false", "false", "false", "true"),
		.tool.fn = tool_sms,
		.level = APP_LEVEL_MEDIUM,
		.rate_per_hour = NOTIFY_RATE_PER_HOUR,
		.scope = "notify",
	},
	{
		.tool.name = "send_email",
		.tool.title = "Send e-mail",
		.tool.description = EMAIL_DESC,
		.tool.input_schema = EMAIL_IN,
		.tool.output_schema = EMAIL_OUT,
		.tool.annotations = ANN("false", "false", "false", "true"),
		.tool.fn = tool_email,
		.level = APP_LEVEL_MEDIUM,
		.rate_per_hour = NOTIFY_RATE_PER_HOUR,
		.scope = "notify",
	},
	{
		.tool.name = "scrape_webpage",
		.tool.title = "Scrape web page",
		.tool.description = SCRAPE_DESC,
		.tool.input_schema = SCRAPE_IN,
		.tool.output_schema = SCRAPE_OUT,
		.tool.annotations = ANN("true", "false", "true", "true"),
		.tool.fn = tool_scrape,
		.level = APP_LEVEL_MEDIUM,
		.scope = "web",
	},
};

int app_mcp_register_net_tools(struct app_mcp *a, struct mcp_server *srv, struct err *e)
{
	return app_mcp_add_tools(a, srv, net_rows, sizeof net_rows / sizeof net_rows[0], e);
}
