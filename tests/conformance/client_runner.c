/*
 * client_runner.c - ambient's MCP client (src/mcp/client.h over
 * transport/http_client.h) as the official conformance suite drives it:
 *
 *   conformance client --command "client_runner" --scenario S
 *
 * The suite runs `client_runner URL` (the server URL appended as the last
 * argument) with MCP_CONFORMANCE_SCENARIO=S in the environment (and, for
 * some scenarios, MCP_CONFORMANCE_CONTEXT as JSON).  What the runner does
 * per scenario:
 *   initialize                            connect, list tools, close
 *   tools_call                            ... call add_numbers {a:5, b:3}
 *   sse-retry                             ... call test_reconnection (the server
 *                                         drops the stream; we resume)
 *   elicitation-sep1034-client-defaults   ... call test_client_elicitation_defaults,
 *                                         accepting the elicitation with the
 *                                         schema's defaults (SEP-1034)
 *   anything else                         connect, list tools, call each tool
 *                                         that takes no required arguments
 *
 * Options (before the URL): --scenario S overrides the environment, -v logs
 * debug lines (stderr; stdout gets only a short report), --stdio CMD talks to
 * a stdio server started with /bin/sh -c CMD instead of a URL (for trying
 * the client by hand, e.g. --stdio "ambient mcp").  Exit 0 on success.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "mcp/client.h"
#include "transport/http_client.h"
#include "transport/stdio_client.h"

static int on_request(void *data, struct mcp_client *c, const char *method, const json_t *params,
		      json_t **result, struct mcp_rpc_error *re, struct err *e)
{
	(void)data;
	if (!strcmp(method, "elicitation/create")) {
		const json_t *schema = json_object_get(params, "requestedSchema");
		json_t *content = mcp_elicitation_apply_defaults(schema, NULL);

		fprintf(stderr, "client_runner: elicitation \"%s\": accepting with defaults\n",
			json_string_value(json_object_get(params, "message")));
		*result = json_pack("{s:s,s:o}", "action", "accept", "content", content);
		return 0;
	}
	if (!strcmp(method, "sampling/createMessage")) {
		*result = json_pack("{s:s,s:{s:s,s:s},s:s,s:s}", "role", "assistant", "content",
				    "type", "text", "text", "This is a test response", "model",
				    "ambient-conformance", "stopReason", "endTurn");
		return 0;
	}
	return mcp_client_default_request(c, method, params, result, re, e);
}

static void on_notification(void *data, struct mcp_client *c, const char *method,
			    const json_t *params)
{
	char *t = params ? json_dumps(params, JSON_COMPACT) : NULL;

	(void)data;
	(void)c;
	fprintf(stderr, "client_runner: notification %s %s\n", method, t ? t : "");
	free(t);
}

static bool has_tool(const json_t *tools, const char *name)
{
	size_t i;
	json_t *t;

	json_array_foreach(tools, i, t)
		if (json_is_string(json_object_get(t, "name")) &&
		    !strcmp(json_string_value(json_object_get(t, "name")), name))
			return true;
	return false;
}

static int call(struct mcp_client *c, const char *name, json_t *args)
{
	struct err e = {0};
	json_t *r = NULL;
	char *t;
	int rc = mcp_client_call_tool(c, name, args, 30000, &r, &e);

	json_decref(args);
	if (rc) {
		fprintf(stderr, "client_runner: tools/call %s failed: %s\n", name, err_msg(&e));
		return 1;
	}
	t = json_dumps(r, JSON_COMPACT);
	printf("tools/call %s -> %s\n", name, t);
	free(t);
	json_decref(r);
	return 0;
}

/* Call every tool with no required arguments (unknown scenarios). */
static int call_simple_tools(struct mcp_client *c, const json_t *tools)
{
	size_t i;
	json_t *t;
	int fails = 0;

	json_array_foreach(tools, i, t) {
		const json_t *req = json_object_get(json_object_get(t, "inputSchema"), "required");
		const char *name = json_string_value(json_object_get(t, "name"));
		if (name && (!json_is_array(req) || !json_array_size(req)))
			fails += call(c, name, json_object());
	}
	return fails ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *scenario = getenv("MCP_CONFORMANCE_SCENARIO");
	const char *url = NULL, *stdio_cmd = NULL;
	struct mcp_client_transport *t = NULL;
	struct http_client_options ho = {0};
	struct mcp_client_options co = {0};
	struct mcp_client *c;
	struct err e = {0};
	json_t *tools = NULL;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--scenario") && i + 1 < argc)
			scenario = argv[++i];
		else if (!strcmp(argv[i], "--stdio") && i + 1 < argc)
			stdio_cmd = argv[++i];
		else if (!strcmp(argv[i], "-v"))
			log_level_current = LOG_LEVEL_DEBUG;
		else if (!strcmp(argv[i], "-vv"))
			log_level_current = LOG_LEVEL_TRACE;
		else
			url = argv[i];
	}
	if (getenv("AMBIENT_LOG_LEVEL"))
		log_parse_level(getenv("AMBIENT_LOG_LEVEL"), &log_level_current, NULL);
	if (!url == !stdio_cmd) {
		fprintf(stderr, "usage: %s [--scenario S] [-v] URL | --stdio CMD\n", argv[0]);
		return 2;
	}
	if (!scenario)
		scenario = "";
	fprintf(stderr, "client_runner: scenario \"%s\" at %s\n", scenario, url ? url : stdio_cmd);

	ho.url = url;
	if (stdio_cmd) {
		struct stdio_client_options so = {.command = stdio_cmd};
		if (stdio_client_new(&so, &t, &e)) {
			fprintf(stderr, "client_runner: %s\n", err_msg(&e));
			return 1;
		}
	} else if (http_client_new(&ho, &t, &e)) {
		fprintf(stderr, "client_runner: %s\n", err_msg(&e));
		return 1;
	}
	co.name = "ambient-conformance-client";
	co.version = "1.0.0";
	co.elicitation = true;
	co.sampling = true;
	co.on_request = on_request;
	co.on_notification = on_notification;
	c = mcp_client_new(t, &co);

	if (mcp_client_connect(c, &e)) {
		fprintf(stderr, "client_runner: connect failed: %s\n", err_msg(&e));
		mcp_client_free(c);
		return 1;
	}
	printf("connected: protocol %s, server %s\n", mcp_client_protocol_version(c),
	       json_string_value(json_object_get(mcp_client_server_info(c), "name")));

	if (mcp_client_list_tools(c, &tools, &e)) {
		fprintf(stderr, "client_runner: tools/list failed: %s\n", err_msg(&e));
		rc = 1;
		goto out;
	}
	printf("tools: %zu\n", json_array_size(tools));

	if (!strcmp(scenario, "initialize")) {
		/* the handshake is the test */
	} else if (!strcmp(scenario, "tools_call")) {
		rc = call(c, "add_numbers", json_pack("{s:i,s:i}", "a", 5, "b", 3));
	} else if (!strcmp(scenario, "sse-retry")) {
		rc = call(c, "test_reconnection", json_object());
	} else if (!strcmp(scenario, "elicitation-sep1034-client-defaults")) {
		rc = call(c, "test_client_elicitation_defaults", json_object());
	} else if (has_tool(tools, "add_numbers")) {
		rc = call(c, "add_numbers", json_pack("{s:i,s:i}", "a", 5, "b", 3));
	} else {
		rc = call_simple_tools(c, tools);
	}
out:
	json_decref(tools);
	mcp_client_free(c);
	fprintf(stderr, "client_runner: %s\n", rc ? "FAILED" : "done");
	return rc;
}
