/*
 * fixture_server.c - the MCP conformance suite's fixtures, served by our own
 * MCP library over Streamable HTTP.
 *
 * The official suite (@modelcontextprotocol/conformance, `server` mode) calls
 * tools, resources and prompts by fixed names: test_simple_text,
 * test://static-text, test_prompt_with_arguments and so on.  This program
 * registers every one of them as rows of an mcp_server (src/mcp/server.h)
 * and serves them with http_server_start (src/transport/http_server.h), so the
 * suite tests exactly the library `ambient serve` is built on.
 *
 *   fixture_server [PORT]      PORT 0 (the default) binds an ephemeral port
 *
 * Binds 127.0.0.1 only.  When ready it prints one line on stdout,
 * "listening http://127.0.0.1:PORT/mcp", and serves until SIGINT or SIGTERM,
 * then frees everything and exits 0.  Logs go to stderr.
 *
 * The fixtures behave as the suite's reference server describes them
 * (examples/servers/typescript/everything-server.ts, v0.1.16); the image and
 * audio payloads are our own: a 2x2 RGB PNG and a 16-sample 8 kHz mono
 * 16-bit PCM WAV, both complete, valid files.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "mcp/server.h"
#include "transport/http_server.h"

/* A 2x2 RGB PNG (red, green / blue, white), 75 bytes. */
static const char png_base64[] =
	"iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEklEQVR42mP4z8DAAM"
	"IM/4EAAB/uBfvxq7p3AAAAAElFTkSuQmCC";

/* A RIFF/WAVE file: PCM, mono, 8000 Hz, 16 bit, 16 samples of a +-1000
 * square wave, 76 bytes. */
static const char wav_base64[] =
	"UklGRkQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YSAAAADoA+gD6A"
	"PoAxj8GPwY/Bj86APoA+gD6AMY/Bj8GPwY/A==";

#define WATCHED_URI "test://watched-resource"
#define LOGGER "conformance-fixture-server"

/* ---- Tools ----------------------------------------------------------- */

static json_t *content_result(json_t *content)
{
	return json_pack("{s:o}", "content", content);
}

static json_t *image_item(void)
{
	return json_pack("{s:s,s:s,s:s}", "type", "image", "data", png_base64, "mimeType",
			 "image/png");
}

static int t_simple_text(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)call, (void)args, (void)e;
	*result = mcp_result_text("This is a simple text response for testing.");
	return ERR_OK;
}

static int t_image(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)call, (void)args, (void)e;
	*result = content_result(json_pack("[o]", image_item()));
	return ERR_OK;
}

static int t_audio(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)call, (void)args, (void)e;
	*result = content_result(json_pack("[{s:s,s:s,s:s}]", "type", "audio", "data", wav_base64,
					   "mimeType", "audio/wav"));
	return ERR_OK;
}

static int t_embedded_resource(struct mcp_call *call, const json_t *args, json_t **result,
			       struct err *e)
{
	(void)call, (void)args, (void)e;
	*result = content_result(json_pack("[{s:s,s:{s:s,s:s,s:s}}]", "type", "resource",
					   "resource", "uri", "test://embedded-resource",
					   "mimeType", "text/plain", "text",
					   "This is an embedded resource content."));
	return ERR_OK;
}

static int t_multiple_content(struct mcp_call *call, const json_t *args, json_t **result,
			      struct err *e)
{
	(void)call, (void)args, (void)e;
	*result = content_result(
		json_pack("[{s:s,s:s},o,{s:s,s:{s:s,s:s,s:s}}]", "type", "text", "text",
			  "Multiple content types test:", image_item(), "type", "resource",
			  "resource", "uri", "test://mixed-content-resource", "mimeType",
			  "application/json", "text", "{\"test\":\"data\",\"value\":123}"));
	return ERR_OK;
}

static int t_logging(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)args, (void)e;
	static const char *const steps[] = {"Tool execution started", "Tool processing data",
					    "Tool execution completed"};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		json_t *data = json_string(steps[i]);
		mcp_call_log(call, MCP_LOG_INFO, LOGGER, data);
		json_decref(data);
	}
	*result = mcp_result_text("Tool with logging executed successfully");
	return ERR_OK;
}

static int t_progress(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)args, (void)e;
	for (int step = 0; step <= 100; step += 50) {
		char msg[64];
		snprintf(msg, sizeof(msg), "Completed step %d of 100", step);
		mcp_call_progress(call, step, 100, msg);
	}
	/* Answer with the token the progress went to, as the reference does. */
	const json_t *meta = mcp_call_meta(call);
	const json_t *token = meta ? json_object_get(meta, "progressToken") : NULL;
	char *text = token ? json_dumps(token, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	*result = mcp_result_text(text ? text : "no progressToken");
	free(text);
	return ERR_OK;
}

static int t_error(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)call, (void)args, (void)result;
	return err_set(e, ERR_INVALID, "This tool intentionally returns an error for testing");
}

/* SEP-1699: end the SSE stream before the result exists, so the client has
 * to come back with GET + Last-Event-ID to receive it. */
static int t_reconnection(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)args, (void)e;
	mcp_call_close_stream(call, 500);
	*result = mcp_result_text("Reconnection test completed successfully. If you received "
				  "this, the client properly reconnected after stream closure.");
	return ERR_OK;
}

static int t_sampling(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	const char *prompt = json_get_str(args, "prompt");
	json_t *params = json_pack("{s:[{s:s,s:{s:s,s:s}}],s:i}", "messages", "role", "user",
				   "content", "type", "text", "text", prompt, "maxTokens", 100);
	json_t *r = NULL;
	int rc = mcp_call_request(call, "sampling/createMessage", params, 0, &r, e);
	json_decref(params);
	if (rc != ERR_OK) {
		err_prefix(e, "sampling/createMessage failed: ");
		return rc;
	}
	const char *text = json_get_str(json_object_get(r, "content"), "text");
	char *msg = xasprintf("LLM response: %s", text ? text : "(no text content)");
	*result = mcp_result_text(msg);
	free(msg);
	json_decref(r);
	return ERR_OK;
}

/* Send elicitation/create and describe the answer as text. */
static int elicit(struct mcp_call *call, const char *message, json_t *schema, json_t **result,
		  struct err *e)
{
	json_t *params = json_pack("{s:s,s:o}", "message", message, "requestedSchema", schema);
	json_t *r = NULL;
	int rc = mcp_call_request(call, "elicitation/create", params, 0, &r, e);
	json_decref(params);
	if (rc != ERR_OK) {
		err_prefix(e, "elicitation/create failed: ");
		return rc;
	}
	const json_t *content = json_object_get(r, "content");
	char *ctext = content ? json_to_text(content) : xstrdup("{}");
	const char *action = json_get_str(r, "action");
	char *msg = xasprintf("Elicitation completed: action=%s, content=%s",
			      action ? action : "(none)", ctext);
	*result = mcp_result_text(msg);
	free(msg);
	free(ctext);
	json_decref(r);
	return ERR_OK;
}

static int t_elicitation(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	json_t *schema = json_pack("{s:s,s:{s:{s:s,s:s}},s:[s]}", "type", "object", "properties",
				   "response", "type", "string", "description", "User's response",
				   "required", "response");
	return elicit(call, json_get_str(args, "message"), schema, result, e);
}

/* SEP-1034: a default for every primitive type. */
static const char defaults_schema[] =
	"{\"type\":\"object\",\"required\":[],\"properties\":{"
	"\"name\":{\"type\":\"string\",\"description\":\"User name\",\"default\":\"John Doe\"},"
	"\"age\":{\"type\":\"integer\",\"description\":\"User age\",\"default\":30},"
	"\"score\":{\"type\":\"number\",\"description\":\"User score\",\"default\":95.5},"
	"\"status\":{\"type\":\"string\",\"description\":\"User status\","
	"\"enum\":[\"active\",\"inactive\",\"pending\"],\"default\":\"active\"},"
	"\"verified\":{\"type\":\"boolean\",\"description\":\"Verification status\","
	"\"default\":true}}}";

static int t_elicitation_defaults(struct mcp_call *call, const json_t *args, json_t **result,
				  struct err *e)
{
	(void)args;
	json_t *schema = json_parse(defaults_schema, strlen(defaults_schema), e);
	if (!schema)
		return ERR_INTERNAL;
	return elicit(call, "Please review and update the form fields with defaults", schema,
		      result, e);
}

/* SEP-1330: the five enum forms. */
static const char enums_schema[] =
	"{\"type\":\"object\",\"required\":[],\"properties\":{"
	"\"untitledSingle\":{\"type\":\"string\",\"description\":\"Select one option\","
	"\"enum\":[\"option1\",\"option2\",\"option3\"]},"
	"\"titledSingle\":{\"type\":\"string\",\"description\":\"Select one option with titles\","
	"\"oneOf\":[{\"const\":\"value1\",\"title\":\"First Option\"},"
	"{\"const\":\"value2\",\"title\":\"Second Option\"},"
	"{\"const\":\"value3\",\"title\":\"Third Option\"}]},"
	"\"legacyEnum\":{\"type\":\"string\",\"description\":\"Select one option (legacy)\","
	"\"enum\":[\"opt1\",\"opt2\",\"opt3\"],"
	"\"enumNames\":[\"Option One\",\"Option Two\",\"Option Three\"]},"
	"\"untitledMulti\":{\"type\":\"array\",\"description\":\"Select multiple options\","
	"\"minItems\":1,\"maxItems\":3,"
	"\"items\":{\"type\":\"string\",\"enum\":[\"option1\",\"option2\",\"option3\"]}},"
	"\"titledMulti\":{\"type\":\"array\",\"description\":\"Select multiple options with "
	"titles\",\"minItems\":1,\"maxItems\":3,\"items\":{\"anyOf\":["
	"{\"const\":\"value1\",\"title\":\"First Choice\"},"
	"{\"const\":\"value2\",\"title\":\"Second Choice\"},"
	"{\"const\":\"value3\",\"title\":\"Third Choice\"}]}}}}";

static int t_elicitation_enums(struct mcp_call *call, const json_t *args, json_t **result,
			       struct err *e)
{
	(void)args;
	json_t *schema = json_parse(enums_schema, strlen(enums_schema), e);
	if (!schema)
		return ERR_INTERNAL;
	return elicit(call, "Please select options from the enum fields", schema, result, e);
}

static int t_json_schema_2020_12(struct mcp_call *call, const json_t *args, json_t **result,
				 struct err *e)
{
	(void)call, (void)e;
	char *text = json_to_text(args);
	char *msg = xasprintf("JSON Schema 2020-12 tool called with: %s", text);
	*result = mcp_result_text(msg);
	free(msg);
	free(text);
	return ERR_OK;
}

#define NO_ARGS "{\"type\":\"object\",\"properties\":{}}"

/* SEP-1613: $schema, $defs and additionalProperties must reach the client. */
static const char schema_2020_12[] =
	"{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
	"\"$defs\":{\"address\":{\"type\":\"object\",\"properties\":{"
	"\"street\":{\"type\":\"string\"},\"city\":{\"type\":\"string\"}}}},"
	"\"properties\":{\"name\":{\"type\":\"string\"},"
	"\"address\":{\"$ref\":\"#/$defs/address\"}},\"additionalProperties\":false}";

static const struct mcp_tool tools[] = {
	{.name = "test_simple_text",
	 .description = "Tests simple text content response",
	 .input_schema = NO_ARGS,
	 .fn = t_simple_text},
	{.name = "test_image_content",
	 .description = "Tests image content response",
	 .input_schema = NO_ARGS,
	 .fn = t_image},
	{.name = "test_audio_content",
	 .description = "Tests audio content response",
	 .input_schema = NO_ARGS,
	 .fn = t_audio},
	{.name = "test_embedded_resource",
	 .description = "Tests embedded resource content response",
	 .input_schema = NO_ARGS,
	 .fn = t_embedded_resource},
	{.name = "test_multiple_content_types",
	 .description = "Tests response with multiple content types (text, image, resource)",
	 .input_schema = NO_ARGS,
	 .fn = t_multiple_content},
	{.name = "test_tool_with_logging",
	 .description = "Tests tool that emits log messages during execution",
	 .input_schema = NO_ARGS,
	 .fn = t_logging},
	{.name = "test_tool_with_progress",
	 .description = "Tests tool that reports progress notifications",
	 .input_schema = NO_ARGS,
	 .fn = t_progress},
	{.name = "test_error_handling",
	 .description = "Tests error response handling",
	 .input_schema = NO_ARGS,
	 .fn = t_error},
	{.name = "test_reconnection",
	 .description = "Tests SSE stream disconnection and client reconnection (SEP-1699): the "
			"server closes the stream mid-call and sends the result after the client "
			"reconnects with Last-Event-ID.",
	 .input_schema = NO_ARGS,
	 .fn = t_reconnection},
	{.name = "test_sampling",
	 .description = "Tests server-initiated sampling (LLM completion request)",
	 .input_schema = "{\"type\":\"object\",\"properties\":{\"prompt\":{\"type\":\"string\","
			 "\"description\":\"The prompt to send to the LLM\"}},"
			 "\"required\":[\"prompt\"]}",
	 .fn = t_sampling},
	{.name = "test_elicitation",
	 .description = "Tests server-initiated elicitation (user input request)",
	 .input_schema = "{\"type\":\"object\",\"properties\":{\"message\":{\"type\":\"string\","
			 "\"description\":\"The message to show the user\"}},"
			 "\"required\":[\"message\"]}",
	 .fn = t_elicitation},
	{.name = "test_elicitation_sep1034_defaults",
	 .description = "Tests elicitation with default values per SEP-1034",
	 .input_schema = NO_ARGS,
	 .fn = t_elicitation_defaults},
	{.name = "test_elicitation_sep1330_enums",
	 .description = "Tests elicitation with enum schema improvements per SEP-1330",
	 .input_schema = NO_ARGS,
	 .fn = t_elicitation_enums},
	{.name = "json_schema_2020_12_tool",
	 .description = "Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)",
	 .input_schema = schema_2020_12,
	 .fn = t_json_schema_2020_12},
};

/* ---- Resources --------------------------------------------------------- */

static int r_static_text(struct mcp_call *call, const char *uri, const json_t *vars,
			 json_t **contents, struct err *e)
{
	(void)call, (void)vars, (void)e;
	*contents = json_pack("[{s:s,s:s,s:s}]", "uri", uri, "mimeType", "text/plain", "text",
			      "This is the content of the static text resource.");
	return ERR_OK;
}

static int r_static_binary(struct mcp_call *call, const char *uri, const json_t *vars,
			   json_t **contents, struct err *e)
{
	(void)call, (void)vars, (void)e;
	*contents = json_pack("[{s:s,s:s,s:s}]", "uri", uri, "mimeType", "image/png", "blob",
			      png_base64);
	return ERR_OK;
}

static int r_template(struct mcp_call *call, const char *uri, const json_t *vars, json_t **contents,
		      struct err *e)
{
	(void)call, (void)e;
	const char *id = json_get_str(vars, "id");
	if (!id)
		return err_set(e, ERR_NOT_FOUND, "%s: no {id} in the URI", uri);
	char *data = xasprintf("Data for ID: %s", id);
	json_t *body = json_pack("{s:s,s:b,s:s}", "id", id, "templateTest", 1, "data", data);
	char *text = json_to_text(body);
	*contents = json_pack("[{s:s,s:s,s:s}]", "uri", uri, "mimeType", "application/json", "text",
			      text);
	free(text);
	json_decref(body);
	free(data);
	return ERR_OK;
}

/* Completion of the template's {id}: the ids this fixture knows by name. */
static int complete_from(const char *const *candidates, const char *value, json_t **values)
{
	json_t *arr = json_array();
	size_t n = strlen(value);
	for (size_t i = 0; candidates[i]; i++)
		if (strncmp(candidates[i], value, n) == 0)
			json_array_append_new(arr, json_string(candidates[i]));
	*values = arr;
	return ERR_OK;
}

static int c_template(struct mcp_call *call, const char *name, const char *value,
		      const json_t *context_args, json_t **values, struct err *e)
{
	(void)call, (void)name, (void)context_args, (void)e;
	static const char *const ids[] = {"1", "2", "3", "42", "123", NULL};
	return complete_from(ids, value, values);
}

static int r_watched(struct mcp_call *call, const char *uri, const json_t *vars, json_t **contents,
		     struct err *e)
{
	(void)call, (void)vars, (void)e;
	*contents = json_pack("[{s:s,s:s,s:s}]", "uri", uri, "mimeType", "text/plain", "text",
			      "Watched resource content");
	return ERR_OK;
}

static const struct mcp_resource resources[] = {
	{.uri = "test://static-text",
	 .name = "static-text",
	 .title = "Static Text Resource",
	 .description = "A static text resource for testing",
	 .mime_type = "text/plain",
	 .read = r_static_text},
	{.uri = "test://static-binary",
	 .name = "static-binary",
	 .title = "Static Binary Resource",
	 .description = "A static binary resource (a PNG image) for testing",
	 .mime_type = "image/png",
	 .read = r_static_binary},
	{.uri_template = "test://template/{id}/data",
	 .name = "template",
	 .title = "Resource Template",
	 .description = "A resource template with parameter "
			"substitution",
	 .mime_type = "application/json",
	 .read = r_template,
	 .complete = c_template},
	{.uri = WATCHED_URI,
	 .name = "watched-resource",
	 .title = "Watched Resource",
	 .description = "A resource whose subscribers are told it changed every 3 seconds",
	 .mime_type = "text/plain",
	 .read = r_watched},
};

/* ---- Prompts ----------------------------------------------------------- */

static json_t *text_message(const char *text)
{
	return json_pack("{s:s,s:{s:s,s:s}}", "role", "user", "content", "type", "text", "text",
			 text);
}

static int p_simple(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)call, (void)args, (void)e;
	*result = json_pack("{s:[o]}", "messages",
			    text_message("This is a simple prompt for "
					 "testing."));
	return ERR_OK;
}

static int p_with_arguments(struct mcp_call *call, const json_t *args, json_t **result,
			    struct err *e)
{
	(void)call, (void)e;
	char *text = xasprintf("Prompt with arguments: arg1='%s', arg2='%s'",
			       json_get_str(args, "arg1"), json_get_str(args, "arg2"));
	*result = json_pack("{s:[o]}", "messages", text_message(text));
	free(text);
	return ERR_OK;
}

static int c_with_arguments(struct mcp_call *call, const char *name, const char *value,
			    const json_t *context_args, json_t **values, struct err *e)
{
	(void)call, (void)context_args, (void)e;
	static const char *const arg1[] = {"test", "testValue1", "value1", NULL};
	static const char *const arg2[] = {"test", "testValue2", "value2", NULL};
	static const char *const none[] = {NULL};
	const char *const *c = strcmp(name, "arg1") == 0   ? arg1
			       : strcmp(name, "arg2") == 0 ? arg2
							   : none;
	return complete_from(c, value, values);
}

static int p_embedded_resource(struct mcp_call *call, const json_t *args, json_t **result,
			       struct err *e)
{
	(void)call, (void)e;
	*result = json_pack("{s:[{s:s,s:{s:s,s:{s:s,s:s,s:s}}},o]}", "messages", "role", "user",
			    "content", "type", "resource", "resource", "uri",
			    json_get_str(args, "resourceUri"), "mimeType", "text/plain", "text",
			    "Embedded resource content for testing.",
			    text_message("Please process the embedded resource above."));
	return ERR_OK;
}

static int p_image(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)call, (void)args, (void)e;
	*result = json_pack("{s:[{s:s,s:o},o]}", "messages", "role", "user", "content",
			    image_item(), text_message("Please analyze the image above."));
	return ERR_OK;
}

static const struct mcp_prompt_arg with_arguments_args[] = {
	{.name = "arg1", .description = "First test argument", .required = true},
	{.name = "arg2", .description = "Second test argument", .required = true},
};

static const struct mcp_prompt_arg embedded_resource_args[] = {
	{.name = "resourceUri", .description = "URI of the resource to embed", .required = true},
};

static const struct mcp_prompt prompts[] = {
	{.name = "test_simple_prompt",
	 .title = "Simple Test Prompt",
	 .description = "A simple prompt without arguments",
	 .get = p_simple},
	{.name = "test_prompt_with_arguments",
	 .title = "Prompt With Arguments",
	 .description = "A prompt with required arguments",
	 .args = with_arguments_args,
	 .nargs = 2,
	 .get = p_with_arguments,
	 .complete = c_with_arguments},
	{.name = "test_prompt_with_embedded_resource",
	 .title = "Prompt With Embedded Resource",
	 .description = "A prompt that includes an embedded resource",
	 .args = embedded_resource_args,
	 .nargs = 1,
	 .get = p_embedded_resource},
	{.name = "test_prompt_with_image",
	 .title = "Prompt With Image",
	 .description = "A prompt that includes image content",
	 .get = p_image},
};

/* ---- The watched resource changes every 3 seconds ------------------------ */

struct watcher {
	struct mcp_server *srv;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	bool stop;
	pthread_t thread;
};

static void *watcher_main(void *arg)
{
	struct watcher *w = arg;
	struct timespec due;
	clock_gettime(CLOCK_MONOTONIC, &due);
	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		due.tv_sec += 3;
		while (!w->stop && pthread_cond_timedwait(&w->cond, &w->lock, &due) != ETIMEDOUT)
			;
		if (w->stop)
			break;
		pthread_mutex_unlock(&w->lock);
		mcp_server_resource_updated(w->srv, WATCHED_URI);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static int watcher_start(struct watcher *w, struct mcp_server *srv, struct err *e)
{
	pthread_condattr_t ca;
	w->srv = srv;
	w->stop = false;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	int rc = pthread_create(&w->thread, NULL, watcher_main, w);
	if (rc != 0) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		return err_set(e, ERR_IO, "starting the watched-resource thread: %s", strerror(rc));
	}
	return ERR_OK;
}

static void watcher_stop(struct watcher *w)
{
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}

/* ---- main ---------------------------------------------------------------- */

static int register_all(struct mcp_server *srv, struct err *e)
{
	int rc = ERR_OK;
	for (size_t i = 0; rc == ERR_OK && i < sizeof(tools) / sizeof(tools[0]); i++)
		rc = mcp_server_add_tool(srv, &tools[i], e);
	for (size_t i = 0; rc == ERR_OK && i < sizeof(resources) / sizeof(resources[0]); i++)
		rc = mcp_server_add_resource(srv, &resources[i], e);
	for (size_t i = 0; rc == ERR_OK && i < sizeof(prompts) / sizeof(prompts[0]); i++)
		rc = mcp_server_add_prompt(srv, &prompts[i], e);
	return rc;
}

static int parse_port(const char *s, int *port)
{
	char *end = NULL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || !end || *end || end == s || v < 0 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	int port = 0;
	if (argc > 2 || (argc == 2 && parse_port(argv[1], &port) != 0)) {
		fprintf(stderr, "usage: %s [PORT]   (PORT 0 or none: an ephemeral port)\n",
			argv[0]);
		return 2;
	}

	/* Every thread started from here on inherits this mask; main waits
	 * for the signals with sigwait, so no handler runs anywhere. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct err e;
	err_clear(&e);
	struct mcp_server_options so = {
		.name = "ambient-conformance-fixtures",
		.title = "ambient MCP library: conformance fixtures",
		.version = AMBIENT_VERSION,
		.instructions = "Fixtures of the MCP conformance suite, served by ambient's C MCP "
				"library.",
	};
	struct mcp_server *srv = mcp_server_new(&so);
	if (register_all(srv, &e) != ERR_OK) {
		fprintf(stderr, "fixture_server: %s\n", err_msg(&e));
		mcp_server_free(srv);
		return 1;
	}

	struct http_server_options ho = {.host = "127.0.0.1", .port = port};
	struct http_server *h = NULL;
	if (http_server_start(srv, &ho, &h, &e) != ERR_OK) {
		fprintf(stderr, "fixture_server: %s\n", err_msg(&e));
		mcp_server_free(srv);
		return 1;
	}
	struct watcher w;
	if (watcher_start(&w, srv, &e) != ERR_OK) {
		fprintf(stderr, "fixture_server: %s\n", err_msg(&e));
		http_server_free(h);
		mcp_server_free(srv);
		return 1;
	}

	printf("listening http://127.0.0.1:%d/mcp\n", http_server_port(h));
	fflush(stdout);

	int sig = 0;
	while (sigwait(&sigs, &sig) != 0)
		;
	log_info("fixture_server: signal %d, shutting down", sig);

	watcher_stop(&w);
	http_server_free(h);
	mcp_server_free(srv);
	return 0;
}
