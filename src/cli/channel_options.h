/*
 * channel_options.h - the command-line options of the notification channels
 * (Twilio SMS, SMTP e-mail, ntfy) and of the outside-world MCP tools
 * (Open-Meteo base URLs, the Chromium of scrape_webpage), shared by the
 * commands that need them (`feedback`, `serve`, `mcp`) as table fragments:
 *
 *	const struct config_option cli_x_options[] = {
 *		{"listen", ...},
 *		CLI_CHANNEL_OPTIONS,
 *		CLI_NET_TOOL_OPTIONS,
 *		{NULL},
 *	};
 *
 * Flags win over the environment variables named in the rows (TWILIO_*,
 * AMBIENT_SMTP_*, ...), which win over a config file and the defaults.
 */
#ifndef AMBIENT_CLI_CHANNEL_OPTIONS_H
#define AMBIENT_CLI_CHANNEL_OPTIONS_H

#include "app/mcp_app.h"
#include "common/config.h"
#include "engine/channels.h"
#include "engine/weather.h"

/* clang-format off */
#define CLI_CHANNEL_OPTIONS \
	{"twilio-account-sid", CONFIG_STRING, "TWILIO_ACCOUNT_SID", NULL, "SID", \
	 "Twilio account for SMS"}, \
	{"twilio-auth-token", CONFIG_STRING, "TWILIO_AUTH_TOKEN", NULL, "TOKEN", \
	 "Twilio auth token (prefer the environment variable: flags show in ps)"}, \
	{"twilio-phone-number", CONFIG_STRING, "TWILIO_PHONE_NUMBER", NULL, "E164", \
	 "the number SMS are sent from"}, \
	{"twilio-api-base", CONFIG_STRING, "TWILIO_API_BASE", CHANNEL_TWILIO_BASE_URL, "URL", \
	 "Twilio's REST API base URL (a local stand-in in tests and the demo)"}, \
	{"smtp-url", CONFIG_STRING, "AMBIENT_SMTP_URL", NULL, "URL", \
	 "mail server for e-mail: smtp://host:587 (STARTTLS) or smtps://host:465"}, \
	{"smtp-user", CONFIG_STRING, "AMBIENT_SMTP_USER", NULL, "USER", "SMTP login"}, \
	{"smtp-password", CONFIG_STRING, "AMBIENT_SMTP_PASSWORD", NULL, "PASSWORD", \
	 "SMTP password (prefer the environment variable)"}, \
	{"smtp-from", CONFIG_STRING, "AMBIENT_SMTP_FROM", NULL, "ADDRESS", \
	 "sender of e-mail (default: the login, or ambient@SMTP-HOST)"}, \
	{"ntfy-url", CONFIG_STRING, "AMBIENT_NTFY_URL", CHANNEL_NTFY_BASE_URL, "URL", \
	 "ntfy server for ntfy://topic targets"}

#define CLI_NET_TOOL_OPTIONS \
	{"weather-api-url", CONFIG_STRING, "AMBIENT_WEATHER_API_URL", WEATHER_API_URL, "URL", \
	 "Open-Meteo forecast API base URL, for get_weather"}, \
	{"geocoding-api-url", CONFIG_STRING, "AMBIENT_GEOCODING_API_URL", \
	 WEATHER_GEOCODING_URL, "URL", "Open-Meteo geocoding API base URL, for get_weather"}, \
	{"chromium-path", CONFIG_STRING, "AMBIENT_CHROMIUM", NULL, "PATH", \
	 "headless Chromium for scrape_webpage's render_javascript (default: chromium, " \
	 "chromium-browser or google-chrome on PATH)"}
/* clang-format on */

/* The channel settings of CLI_CHANNEL_OPTIONS into *ch (other fields are
 * left alone).  The strings are c's: c must outlive ch. */
void cli_channel_config(const struct config *c, struct channel_config *ch);

/* Both fragments for the MCP tools: zero *ch, fill it as above, and point
 * ao's channels, Open-Meteo URLs and Chromium path at it and at c's
 * strings. */
void cli_net_tool_options(const struct config *c, struct channel_config *ch,
			  struct app_mcp_options *ao);

#endif
