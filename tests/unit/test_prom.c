/* test_prom.c - the Prometheus text writer, the histogram and operation
 * counters, and the MCP server's request observer that feeds them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <pthread.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/prom.h"
#include "common/xalloc.h"
#include "mcp/server.h"

/* ---- Text format ----------------------------------------------------------- */

static void test_family_and_samples(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 1 << 16);
	prom_family(&b, "x_total", "counter", "Things done.\nSecond line \\ backslash.");
	prom_sample(&b, "x_total", 3, "kind", "a", (const char *)NULL);
	prom_sample(&b, "x_total", 4, "kind", "b", "zone", "eu", (const char *)NULL);
	prom_sample(&b, "x_total", 0, (const char *)NULL);
	assert_string_equal(buf_str(&b),
			    "# HELP x_total Things done.\\nSecond line \\\\ backslash.\n"
			    "# TYPE x_total counter\n"
			    "x_total{kind=\"a\"} 3\n"
			    "x_total{kind=\"b\",zone=\"eu\"} 4\n"
			    "x_total 0\n");
	buf_cleanup(&b);
}

static void test_label_escaping(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 1 << 16);
	prom_sample(&b, "m", 1, "v", "a\"b\\c\nd", (const char *)NULL);
	assert_string_equal(buf_str(&b), "m{v=\"a\\\"b\\\\c\\nd\"} 1\n");
	buf_reset(&b);
	prom_sample(&b, "m", 1, "v", (const char *)"", (const char *)NULL);
	assert_string_equal(buf_str(&b), "m{v=\"\"} 1\n");
	buf_cleanup(&b);
}

static void test_values(void **state)
{
	(void)state;
	struct {
		double v;
		const char *text;
	} cases[] = {
		{0, "0"},
		{42, "42"},
		{-7, "-7"},
		{1e12, "1000000000000"},
		{0.5, "0.5"},
		{0.000123, "0.000123"},
		{1.25e-7, "1.25e-07"},
		{INFINITY, "+Inf"},
		{-INFINITY, "-Inf"},
		{NAN, "NaN"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct buf b;
		char want[64];
		buf_init(&b, 1024);
		prom_sample(&b, "v", cases[i].v, (const char *)NULL);
		snprintf(want, sizeof want, "v %s\n", cases[i].text);
		assert_string_equal(buf_str(&b), want);
		buf_cleanup(&b);
	}
}

static void test_metric_shorthand(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 1024);
	prom_metric(&b, "up", "gauge", "1 when up.", 1);
	assert_string_equal(buf_str(&b), "# HELP up 1 when up.\n# TYPE up gauge\nup 1\n");
	buf_cleanup(&b);
}

/* ---- Histogram ----------------------------------------------------------------- */

/* The value of the sample line starting with `prefix` ("name{...} "), or -1. */
static double sample_value(const char *text, const char *prefix)
{
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			return strtod(p + strlen(prefix), NULL);
	}
	return -1;
}

static void test_histogram_buckets(void **state)
{
	(void)state;
	struct prom_hist h;
	prom_hist_init(&h);
	/* Bounds are inclusive (le): 100 µs is in the first bucket, 101 in the second. */
	int64_t obs[] = {0, 100, 101, 500, 999, 1000, 2500000, 2500001, 60000000, -5};
	for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++)
		prom_hist_observe(&h, obs[i]);
	assert_int_equal(prom_hist_count(&h), 10);
	/* negative durations count as 0 */
	assert_int_equal(prom_hist_sum_us(&h),
			 100 + 101 + 500 + 999 + 1000 + 2500000 + 2500001 + 60000000);

	struct buf b;
	buf_init(&b, 1 << 16);
	prom_hist_write(&h, &b, "d_seconds", "method", "x");
	const char *t = buf_str(&b);
	assert_true(sample_value(t, "d_seconds_bucket{method=\"x\",le=\"0.0001\"} ") == 3);
	assert_true(sample_value(t, "d_seconds_bucket{method=\"x\",le=\"0.0005\"} ") == 5);
	assert_true(sample_value(t, "d_seconds_bucket{method=\"x\",le=\"0.001\"} ") == 7);
	assert_true(sample_value(t, "d_seconds_bucket{method=\"x\",le=\"1\"} ") == 7);
	assert_true(sample_value(t, "d_seconds_bucket{method=\"x\",le=\"2.5\"} ") == 8);
	assert_true(sample_value(t, "d_seconds_bucket{method=\"x\",le=\"+Inf\"} ") == 10);
	assert_true(sample_value(t, "d_seconds_count{method=\"x\"} ") == 10);
	double sum = sample_value(t, "d_seconds_sum{method=\"x\"} ");
	assert_true(fabs(sum - 65.002701) < 1e-9);

	/* Buckets are cumulative, in order, 14 of them. */
	int lines = 0;
	double last = -1;
	for (const char *p = strstr(t, "_bucket{"); p; p = strstr(p + 1, "_bucket{")) {
		double v = strtod(strstr(p, "} ") + 2, NULL);
		assert_true(v >= last);
		last = v;
		lines++;
	}
	assert_int_equal(lines, PROM_HIST_BUCKETS + 1);
	buf_cleanup(&b);

	/* Without a label. */
	buf_init(&b, 1 << 16);
	prom_hist_write(&h, &b, "d", NULL, NULL);
	assert_non_null(strstr(buf_str(&b), "d_bucket{le=\"+Inf\"} 10\n"));
	assert_non_null(strstr(buf_str(&b), "d_count 10\n"));
	buf_cleanup(&b);
}

static void test_histogram_zeroed_memory_is_empty(void **state)
{
	(void)state;
	struct prom_hist *h = xcalloc(1, sizeof *h);
	assert_int_equal(prom_hist_count(h), 0);
	prom_hist_observe(h, 42);
	assert_int_equal(prom_hist_count(h), 1);
	free(h);
}

/* ---- Operations -------------------------------------------------------------------- */

static const char *const op_names[] = {"get", "put", "other"};
static const char *const op_outcomes[] = {"ok", "error"};

static void test_ops_counts_and_output(void **state)
{
	(void)state;
	struct prom_ops *o = prom_ops_new(op_names, 3, op_outcomes, 2);
	prom_ops_observe(o, 0, 0, 50);
	prom_ops_observe(o, 0, 0, 150);
	prom_ops_observe(o, 0, 1, 3000);
	prom_ops_observe(o, 2, 1, 10);
	/* out of range: ignored */
	prom_ops_observe(o, 3, 0, 10);
	prom_ops_observe(o, 0, 2, 10);
	prom_ops_observe(NULL, 0, 0, 10);
	assert_int_equal(prom_ops_count(o, 0, 0), 2);
	assert_int_equal(prom_ops_count(o, 0, 1), 1);
	assert_int_equal(prom_ops_count(o, 1, 0), 0);
	assert_int_equal(prom_ops_count(o, 2, 1), 1);
	assert_int_equal(prom_ops_count(o, 9, 9), 0);

	struct buf b;
	buf_init(&b, 1 << 16);
	prom_ops_write(o, &b,
		       &(struct prom_ops_names){.counter = "r_total",
						.counter_help = "Requests.",
						.hist = "r_seconds",
						.hist_help = "Latency.",
						.name_label = "op",
						.outcome_label = "outcome"});
	const char *t = buf_str(&b);
	assert_non_null(strstr(t, "# TYPE r_total counter\n"));
	assert_non_null(strstr(t, "# TYPE r_seconds histogram\n"));
	assert_true(sample_value(t, "r_total{op=\"get\",outcome=\"ok\"} ") == 2);
	assert_true(sample_value(t, "r_total{op=\"get\",outcome=\"error\"} ") == 1);
	assert_true(sample_value(t, "r_total{op=\"other\",outcome=\"error\"} ") == 1);
	/* never seen: left out */
	assert_null(strstr(t, "op=\"put\""));
	assert_null(strstr(t, "r_total{op=\"other\",outcome=\"ok\"}"));
	assert_true(sample_value(t, "r_seconds_count{op=\"get\"} ") == 3);
	assert_true(sample_value(t, "r_seconds_bucket{op=\"get\",le=\"0.0001\"} ") == 1);
	assert_true(sample_value(t, "r_seconds_bucket{op=\"get\",le=\"0.0025\"} ") == 2);
	assert_true(sample_value(t, "r_seconds_bucket{op=\"get\",le=\"0.005\"} ") == 3);
	assert_true(sample_value(t, "r_seconds_count{op=\"other\"} ") == 1);
	buf_cleanup(&b);
	prom_ops_free(o);
	prom_ops_free(NULL);
}

#define THREADS 4
#define PER_THREAD 20000

static void *hammer(void *arg)
{
	struct prom_ops *o = arg;
	for (int i = 0; i < PER_THREAD; i++)
		prom_ops_observe(o, (size_t)(i % 3), (size_t)(i % 2), i % 5000);
	return NULL;
}

static void test_ops_concurrent_observations_all_counted(void **state)
{
	(void)state;
	struct prom_ops *o = prom_ops_new(op_names, 3, op_outcomes, 2);
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer, o), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	uint64_t total = 0;
	for (size_t n = 0; n < 3; n++)
		for (size_t k = 0; k < 2; k++)
			total += prom_ops_count(o, n, k);
	assert_int_equal(total, (uint64_t)THREADS * PER_THREAD);
	struct buf b;
	buf_init(&b, 1 << 16);
	prom_ops_write(o, &b, &(struct prom_ops_names){"c", "C.", "h", "H.", "name", "outcome"});
	double counts = sample_value(buf_str(&b), "h_count{name=\"get\"} ") +
			sample_value(buf_str(&b), "h_count{name=\"put\"} ") +
			sample_value(buf_str(&b), "h_count{name=\"other\"} ");
	assert_true(counts == (double)THREADS * PER_THREAD);
	buf_cleanup(&b);
	prom_ops_free(o);
}

/* ---- The MCP server's observer ------------------------------------------------------- */

#define MAX_SEEN 32

struct seen {
	pthread_mutex_t mu;
	size_t n;
	struct mcp_request_info info[MAX_SEEN];
	char tool[MAX_SEEN][64];
};

static void record(void *data, const struct mcp_request_info *ri)
{
	struct seen *s = data;
	pthread_mutex_lock(&s->mu);
	if (s->n < MAX_SEEN) {
		s->info[s->n] = *ri;
		snprintf(s->tool[s->n], sizeof s->tool[0], "%s", ri->tool ? ri->tool : "");
		s->n++;
	}
	pthread_mutex_unlock(&s->mu);
}

static int discard(void *ctx, const char *msg, size_t len)
{
	(void)ctx;
	(void)msg;
	(void)len;
	return 0;
}

static int tool_fails(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)call;
	(void)args;
	(void)result;
	return err_set(e, ERR_INVALID, "no");
}

static int tool_works(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	(void)call;
	(void)args;
	(void)e;
	*result = mcp_result_text("fine");
	return ERR_OK;
}

static void send_text(struct mcp_session *s, const struct mcp_sink *sink, const char *text)
{
	mcp_session_handle_text(s, text, strlen(text), 0, sink, NULL);
}

static void test_observer_sees_each_request(void **state)
{
	(void)state;
	struct seen seen = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct mcp_server_options so = {.name = "t", .version = "1"};
	struct mcp_server *srv = mcp_server_new(&so);
	struct mcp_tool works = {.name = "works", .description = "d", .fn = tool_works};
	struct mcp_tool fails = {.name = "fails", .description = "d", .fn = tool_fails};
	assert_int_equal(mcp_server_add_tool(srv, &works, NULL), ERR_OK);
	assert_int_equal(mcp_server_add_tool(srv, &fails, NULL), ERR_OK);
	mcp_server_set_observer(srv, record, &seen);
	struct mcp_sink sink = {.send = discard};
	struct mcp_session *s = mcp_session_new(srv, &sink);

	send_text(s, &sink, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
	send_text(s, &sink,
		  "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":{"
		  "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
		  "\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}");
	send_text(s, &sink, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	send_text(s, &sink, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}");
	send_text(s, &sink,
		  "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":"
		  "\"works\"}}");
	send_text(s, &sink,
		  "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":"
		  "\"fails\"}}");
	send_text(s, &sink,
		  "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":"
		  "\"nope\"}}");
	send_text(s, &sink, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"x/never-heard-of-it\"}");
	send_text(s, &sink,
		  "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"resources/read\",\"params\":{\"uri\":"
		  "\"nothing://here\"}}");
	send_text(s, &sink, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}");
	send_text(s, &sink, "not json"); /* did not parse: not observed */

	struct {
		const char *method, *outcome, *tool;
		int rpc_code;
	} want[] = {
		{"tools/list", "invalid_request", "", -32600},
		{"initialize", "ok", "", 0},
		{"tools/list", "ok", "", 0},
		{"tools/call", "ok", "works", 0},
		{"tools/call", "tool_error", "fails", 0},
		{"tools/call", "invalid_params", "", -32602},
		{"other", "method_not_found", "", -32601},
		{"resources/read", "not_found", "", -32002},
		{"ping", "ok", "", 0},
	};
	size_t nwant = sizeof want / sizeof want[0];
	assert_int_equal(seen.n, nwant);
	size_t nmethods = 0;
	const char *const *names = mcp_method_names(&nmethods);
	for (size_t i = 0; i < nwant; i++) {
		const struct mcp_request_info *ri = &seen.info[i];
		assert_string_equal(ri->method_name, want[i].method);
		assert_true(ri->method < nmethods);
		assert_string_equal(names[ri->method], want[i].method);
		assert_string_equal(mcp_outcome_names[ri->outcome], want[i].outcome);
		assert_string_equal(seen.tool[i], want[i].tool);
		assert_int_equal(ri->rpc_code, want[i].rpc_code);
		assert_true(ri->duration_us >= 0);
	}
	mcp_session_unref(s);
	mcp_server_free(srv);
}

static void test_method_names_table(void **state)
{
	(void)state;
	size_t n = 0;
	const char *const *names = mcp_method_names(&n);
	assert_true(n > 10);
	assert_string_equal(names[n - 1], "other");
	bool call = false, init = false;
	for (size_t i = 0; i < n; i++) {
		assert_non_null(names[i]);
		call = call || strcmp(names[i], "tools/call") == 0;
		init = init || strcmp(names[i], "initialize") == 0;
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(names[i], names[j]);
	}
	assert_true(call && init);
	assert_ptr_equal(mcp_method_names(NULL), names);
	for (int o = 0; o < MCP_OUTCOME__COUNT; o++)
		assert_non_null(mcp_outcome_names[o]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_family_and_samples),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_metric_shorthand),
		cmocka_unit_test(test_histogram_buckets),
		cmocka_unit_test(test_histogram_zeroed_memory_is_empty),
		cmocka_unit_test(test_ops_counts_and_output),
		cmocka_unit_test(test_ops_concurrent_observations_all_counted),
		cmocka_unit_test(test_observer_sees_each_request),
		cmocka_unit_test(test_method_names_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
