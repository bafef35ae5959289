/*
 * channel_options.c - reading the shared channel and tool options (see
 * channel_options.h).
 */
#include "channel_options.h"

#include <string.h>

void cli_channel_config(const struct config *c, struct channel_config *ch)
{
	ch->twilio_sid = config_get(c, "twilio-account-sid");
	ch->twilio_token = config_get(c, "twilio-auth-token");
	ch->twilio_from = config_get(c, "twilio-phone-number");
	ch->twilio_base_url = config_get(c, "twilio-api-base");
	ch->smtp_url = config_get(c, "smtp-url");
	ch->smtp_user = config_get(c, "smtp-user");
	ch->smtp_password = config_get(c, "smtp-password");
	ch->smtp_from = config_get(c, "smtp-from");
	ch->ntfy_base_url = config_get(c, "ntfy-url");
}

void cli_net_tool_options(const struct config *c, struct channel_config *ch,
			  struct app_mcp_options *ao)
{
	memset(ch, 0, sizeof *ch);
	cli_channel_config(c, ch);
	ao->channels = ch;
	ao->weather_api_url = config_get(c, "weather-api-url");
	ao->geocoding_api_url = config_get(c, "geocoding-api-url");
	ao->chromium_path = config_get(c, "chromium-path");
}
