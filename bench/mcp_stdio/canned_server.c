/*
 * canned_server.c - the ceiling of bench/mcp_stdio: an MCP stdio server that
 * does no work.  It reads one JSON-RPC message per line and answers every
 * request at once with a canned result, echoing the request's id:
 *
 *   initialize  -> the result in --initialize FILE (default: a minimal one)
 *   tools/list  -> the result in --tools FILE (default: one tool, no schema)
 *   tools/call  -> the result in --call FILE (default: one short text)
 *   ping        -> {}
 *   other       -> JSON-RPC error -32601
 *
 * Notifications and responses get no answer.  The FILEs hold one JSON
 * object each: bench/mcp_stdio/run.sh captures them from `ambient mcp`, so
 * that the client parses the same bytes from both servers and the difference
 * in rate is the server's own cost.
 *
 * Usage: bench_mcp_canned [--initialize FILE] [--tools FILE] [--call FILE]
 * Exits 0 at the end of stdin, 1 on a read/write error or a bad FILE.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINE_MAX_BYTES (4u << 20) /* a longer line is answered with -32600 */
#define READ_CHUNK 65536

static const char default_initialize[] =
	"{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{\"tools\":{}},"
	"\"serverInfo\":{\"name\":\"canned\",\"version\":\"1.0.0\"}}";
static const char default_tools[] =
	"{\"tools\":[{\"name\":\"list_background_tasks\",\"inputSchema\":{\"type\":\"object\"}}]}";
static const char default_call[] = "{\"content\":[{\"type\":\"text\",\"text\":\"canned\"}]}";

struct canned {
	char *initialize, *tools, *call; /* compact JSON text of each result */
};

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "bench_mcp_canned: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("%s", "out of memory");
	return p;
}

/* The compact text of the JSON object in path (or of fallback). */
static char *load_result(const char *path, const char *fallback)
{
	json_error_t je;
	json_t *j = path ? json_load_file(path, 0, &je) : json_loads(fallback, 0, &je);
	char *text;

	if (!j || !json_is_object(j))
		die("%s does not hold a JSON object (give the result object of the method)",
		    path ? path : "a built-in result");
	text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!text)
		die("%s", "out of memory");
	return text;
}

static int write_all(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(STDOUT_FILENO, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Send {"jsonrpc":"2.0","id":ID,BODY}\n as one write. */
static int reply(const char *id, const char *body)
{
	static char *out;
	static size_t cap;
	size_t need = strlen(id) + strlen(body) + 32;

	if (need > cap) {
		free(out);
		cap = need * 2;
		out = xmalloc(cap);
	}
	int n = snprintf(out, cap, "{\"jsonrpc\":\"2.0\",\"id\":%s,%s}\n", id, body);
	return write_all(out, (size_t)n);
}

static int answer(const struct canned *c, const char *line, size_t len)
{
	json_t *msg = json_loadb(line, len, 0, NULL), *id;
	const char *method;
	char *idtext, *body;
	int rc = 0;

	if (!msg || !json_is_object(msg)) {
		json_decref(msg);
		return reply("null", "\"error\":{\"code\":-32700,\"message\":\"Parse error\"}");
	}
	id = json_object_get(msg, "id");
	method = json_string_value(json_object_get(msg, "method"));
	if (!id || !method) { /* a notification or a response */
		json_decref(msg);
		return 0;
	}
	idtext = json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY);
	if (strcmp(method, "tools/call") == 0)
		body = c->call;
	else if (strcmp(method, "tools/list") == 0)
		body = c->tools;
	else if (strcmp(method, "initialize") == 0)
		body = c->initialize;
	else if (strcmp(method, "ping") == 0)
		body = "{}";
	else
		body = NULL;
	if (body) {
		char *r = xmalloc(strlen(body) + 16);
		sprintf(r, "\"result\":%s", body);
		rc = reply(idtext ? idtext : "null", r);
		free(r);
	} else {
		rc = reply(idtext ? idtext : "null",
			   "\"error\":{\"code\":-32601,\"message\":\"Method not found\"}");
	}
	free(idtext);
	json_decref(msg);
	return rc;
}

int main(int argc, char **argv)
{
	const char *files[3] = {NULL, NULL, NULL};
	struct canned c;
	char *buf;
	size_t cap = READ_CHUNK * 2, len = 0;
	int skipping = 0;

	for (int i = 1; i < argc; i++) {
		int k = strcmp(argv[i], "--initialize") == 0 ? 0
			: strcmp(argv[i], "--tools") == 0    ? 1
			: strcmp(argv[i], "--call") == 0     ? 2
							     : -1;
		if (k < 0 || i + 1 >= argc)
			die("usage: bench_mcp_canned [--initialize FILE] [--tools FILE] [--call "
			    "FILE]"
			    " (bad argument '%s')",
			    argv[i]);
		files[k] = argv[++i];
	}
	c.initialize = load_result(files[0], default_initialize);
	c.tools = load_result(files[1], default_tools);
	c.call = load_result(files[2], default_call);

	buf = xmalloc(cap);
	for (;;) {
		if (cap - len < READ_CHUNK) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				die("%s", "out of memory");
		}
		ssize_t n = read(STDIN_FILENO, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("cannot read stdin: %s", strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
		size_t start = 0;
		char *nl;
		while ((nl = memchr(buf + start, '\n', len - start))) {
			size_t end = (size_t)(nl - buf);
			if (!skipping && end > start && answer(&c, buf + start, end - start))
				die("cannot write stdout: %s", strerror(errno));
			skipping = 0;
			start = end + 1;
		}
		memmove(buf, buf + start, len - start);
		len -= start;
		if (len > LINE_MAX_BYTES) { /* drop the rest of an overlong line */
			if (!skipping &&
			    reply("null",
				  "\"error\":{\"code\":-32600,\"message\":\"Line too long\"}"))
				die("cannot write stdout: %s", strerror(errno));
			skipping = 1;
			len = 0;
		}
	}
	free(buf);
	free(c.initialize);
	free(c.tools);
	free(c.call);
	return 0;
}
