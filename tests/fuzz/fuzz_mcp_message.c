/*
 * fuzz_mcp_message.c - libFuzzer target for the JSON-RPC message handler:
 * every input is one message fed to an initialized MCP session (and, first,
 * to a fresh uninitialized one) of a server with a tool, a resource, a
 * template and a prompt.  It must never crash, leak or hang, whatever the
 * bytes.
 *
 * Built two ways: with clang -fsanitize=fuzzer (cmake -DAMBIENT_FUZZ=ON) to
 * fuzz, and with a small main() (replay.c) that runs the corpus under CTest.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/xalloc.h"
#include "mcp/server.h"

static int echo_tool(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)e;
	mcp_call_progress(call, 1, 2, "half");
	mcp_call_log(call, MCP_LOG_INFO, "fuzz", args);
	*result = mcp_result_structured(json_deep_copy(args), NULL);
	return ERR_OK;
}

static int read_res(struct mcp_call *call, const char *uri, const json_t *vars, json_t **contents,
		    struct err *e)
{
	(void)call, (void)vars, (void)e;
	*contents = json_pack("[{s:s,s:s}]", "uri", uri, "text", "x");
	return ERR_OK;
}

static int get_prompt(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)call, (void)e;
	*result = json_pack("{s:[{s:s,s:{s:s,s:O}}]}", "messages", "role", "user", "content",
			    "type", "text", "text", args);
	if (!*result)
		*result = json_pack("{s:[]}", "messages");
	return ERR_OK;
}

static int discard(void *ctx, const char *msg, size_t len)
{
	(void)ctx, (void)msg, (void)len;
	return 0;
}

static struct mcp_server *server(void)
{
	static struct mcp_server *srv;
	if (srv)
		return srv;
	srv = mcp_server_new(&(struct mcp_server_options){.name = "fuzz", .version = "1"});
	struct mcp_tool t = {
		.name = "echo",
		.description = "echo",
		.input_schema = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\","
				"\"minimum\":0},\"b\":{\"type\":\"array\",\"items\":{\"type\":\"string\","
				"\"enum\":[\"x\",\"y\"]}}},\"required\":[\"a\"]}",
		.fn = echo_tool,
	};
	mcp_server_add_tool(srv, &t, NULL);
	mcp_server_add_resource(srv, &(struct mcp_resource){.uri = "test://r", .name = "r",
							     .read = read_res},
				NULL);
	mcp_server_add_resource(srv, &(struct mcp_resource){.uri_template = "test://t/{id}/x",
							     .name = "t", .read = read_res},
				NULL);
	static const struct mcp_prompt_arg args[] = {{"arg1", "first", true}};
	mcp_server_add_prompt(srv, &(struct mcp_prompt){.name = "p", .description = "p",
							 .args = args, .nargs = 1, .get = get_prompt},
			      NULL);
	return srv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mcp_server *srv = server();
	struct mcp_sink sink = {.send = discard};
	struct mcp_session *fresh = mcp_session_new(srv, &sink);
	mcp_session_handle_text(fresh, (const char *)data, size, 1 << 16, &sink, NULL);
	mcp_session_unref(fresh);

	struct mcp_session *s = mcp_session_new(srv, &sink);
	mcp_session_assume_initialized(s, MCP_PROTOCOL_LATEST);
	mcp_session_handle_text(s, (const char *)data, size, 1 << 16, &sink, NULL);
	mcp_session_close(s);
	mcp_session_unref(s);
	return 0;
}
