/*
 * cmd_serve.c - `ambient serve`: MCP over Streamable HTTP at /mcp, plus
 * GET /health and the task dashboard (GET / and its JSON API under /api/,
 * src/cli/web_api.h), on one event store.
 *
 * The first line on stdout is "listening http://HOST:PORT/mcp" once the
 * socket is bound (tests and scripts wait for it; with --listen HOST:0 it
 * carries the port the kernel chose).  SIGINT/SIGTERM stop it cleanly.
 */
#include <stdatomic.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/auth.h"
#include "app/mcp_app.h"
#include "app/mcp_sessions.h"
#include "app/tasks.h"
#include "web_api.h"
#include "channel_options.h"
#include "cli.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/prom.h"
#include "common/xalloc.h"
#include "engine/delivery.h"
#include "engine/engine.h"
#include "domain/task.h"
#include "mcp/server.h"
#include "transport/http_server.h"

const struct config_option cli_serve_options[] = {
	{"listen", CONFIG_STRING, "AMBIENT_LISTEN", "127.0.0.1:8001", "HOST:PORT",
	 "address to listen on (port 0: any free port)"},
	{"endpoint", CONFIG_STRING, NULL, "/mcp", "PATH", "path of the MCP endpoint"},
	{"stateless", CONFIG_BOOL, "AMBIENT_STATELESS", NULL, NULL,
	 "no MCP sessions: any request may go to any node (load balancers, old clients)"},
	{"local-sessions", CONFIG_BOOL, "AMBIENT_LOCAL_SESSIONS", NULL, NULL,
	 "keep MCP sessions in this process only, not in the database (one node, or a load "
	 "balancer that sends each client to one node)"},
	{"allow-host", CONFIG_STRING, "AMBIENT_ALLOW_HOST", NULL, "LIST",
	 "extra Host/Origin names accepted besides localhost (comma-separated), or '*' for any"},
	{"api-keys", CONFIG_STRING, "AMBIENT_API_KEYS", NULL, "LIST",
	 "extra admin keys (comma-separated) besides those of `ambient keys create`"},
	{"no-auth", CONFIG_BOOL, "AMBIENT_NO_AUTH", NULL, NULL,
	 "do not check API keys even when some exist (only on a loopback address)"},
	{"rate-limits", CONFIG_STRING, "AMBIENT_RATE_LIMITS", NULL, "SPEC",
	 "tool calls per principal per hour: default=100,remember=50,forget=10 (the defaults), "
	 "or off"},
	{"max-body", CONFIG_INT, NULL, "4194304", "BYTES", "largest request body accepted", 1024,
	 64 << 20},
	{"no-engine", CONFIG_BOOL, NULL, NULL, NULL,
	 "serve MCP only; do not run the task engine (another process runs the tasks)"},
	{"pid-file", CONFIG_STRING, NULL, NULL, "PATH",
	 "write the process id here once listening (removed on a clean stop)"},
	{"price-api-url", CONFIG_STRING, "AMBIENT_PRICE_API_URL", "https://api.coingecko.com",
	 "URL", "base URL of the CoinGecko-style price API behind the bitcoin_price metric"},
	{"max-failures", CONFIG_INT, "AMBIENT_MAX_FAILURES", "10", "N",
	 "failed checks in a row before a task is paused (a task config's max_failures wins)", 1,
	 1000},
	{"snapshots", CONFIG_INT, "AMBIENT_SNAPSHOTS", "5", "N",
	 "page snapshots kept per monitored URL, for history", 1, 100},
	{"lease-ttl", CONFIG_INT, "AMBIENT_LEASE_TTL_MS", "30000", "MS",
	 "engine and delivery lease time to live: other nodes take a crashed node's tasks over "
	 "this long after its last renewal",
	 1000, 3600000},
	{"delivery-partitions", CONFIG_INT, "AMBIENT_DELIVERY_PARTITIONS", "1", "N",
	 "split webhook delivery into N partitions of tasks that the nodes share (the same N on "
	 "every node; 1: one node delivers for all)",
	 1, 64},
	{"feedback-url", CONFIG_STRING, "EVENT_FEEDBACK_URL",
	 "http://localhost:8000/process_background_feedback", "URL",
	 "where task events are delivered when a task has no callback_url of its own"},
	{"webhook-secret", CONFIG_STRING, "AMBIENT_WEBHOOK_SECRET", NULL, "SECRET",
	 "sign deliveries (Standard Webhooks): whsec_ + base64 of 24-64 random bytes"},
	{"no-delivery", CONFIG_BOOL, NULL, NULL, NULL,
	 "do not deliver task events to callback URLs (another process does)"},
	CLI_CHANNEL_OPTIONS,
	CLI_NET_TOOL_OPTIONS,
	{NULL},
};

/* Bearer tokens: an API key of the store or of --api-keys; the principal
 * travels to the session as text. */
static int check_key(void *data, const char *token, char **principal)
{
	struct principal p;
	struct err e = {0};

	if (app_auth_check(data, token, &p, &e)) {
		log_info("refused an API key: %s", e.msg);
		return -1;
	}
	*principal = app_principal_to_text(&p);
	return 0;
}

static void on_session(void *data, struct mcp_session *s, const char *principal)
{
	(void)data;
	app_mcp_attach_principal(s, principal);
}


struct health {
	struct store *store;
	struct engine *engine;     /* NULL with --no-engine */
	struct delivery **deliveries; /* one per partition; none with --no-delivery */
	size_t ndeliveries;
	struct delivery_share share;
};

/* This node's deliverers seen as one. */
static void health_delivery_status(struct health *hc, struct delivery_status *sum)
{
	for (size_t i = 0; i < hc->ndeliveries; i++) {
		struct delivery_status st;
		delivery_status(hc->deliveries[i], &st);
		delivery_status_add(sum, &st, i == 0);
	}
}

static json_t *delivery_json(struct health *hc)
{
	struct delivery_status st;
	health_delivery_status(hc, &st);
	return json_pack("{s:b,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f}", "leader", st.leader,
			 "holder", st.holder, "delivered", (json_int_t)st.delivered, "failed",
			 (json_int_t)st.failed, "retrying", (json_int_t)st.retrying, "in_flight",
			 (json_int_t)st.in_flight, "queued", (json_int_t)st.queued, "disabled",
			 (json_int_t)st.disabled, "checkpoint", (json_int_t)st.checkpoint,
			 "position", (json_int_t)st.position, "latency_p50_ms",
			 (double)st.latency_p50_us / 1000.0, "latency_p99_ms",
			 (double)st.latency_p99_us / 1000.0);
}

static json_t *engine_json(struct engine *en)
{
	struct engine_status st;
	engine_status(en, &st);
	return json_pack("{s:b,s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:f,s:f}", "leader",
			 st.leader, "holder", st.holder, "shards", st.shards, "nodes", st.nodes,
			 "tasks", (int)st.tasks, "active", (int)st.active,
			 "in_flight", (int)st.in_flight, "checks", (int)st.checks, "failures",
			 (int)st.failures, "events", (int)st.events, "fetches", (int)st.fetches,
			 "lag_p50_ms", (double)st.lag_p50_us / 1000.0, "lag_p99_ms",
			 (double)st.lag_p99_us / 1000.0);
}

/* For get_event_sourcing_status and run_task_now: this process's engine,
 * or (standing by, or --no-engine) whichever process holds the lease. */
static void engine_status_cb(void *ud, struct app_mcp_engine_status *out)
{
	struct health *hc = ud;
	if (hc->engine) {
		struct engine_status st;
		engine_status(hc->engine, &st);
		if (st.leader && st.nodes <= 1) {
			out->running = true;
			out->running_monitors = st.active;
			return;
		}
	}
	/* Several engines: sum what each published. */
	bool running = false;
	json_t *doc = NULL;
	struct err e = {0};
	if (engine_peek(hc->store, &running, &doc, &e) == ERR_OK && running) {
		out->running = true;
		out->running_monitors = (long)json_get_int(doc, "active", 0);
	}
	json_decref(doc);
}

static void route_health(void *data, const struct http_request *req, struct http_response *res)
{
	(void)req;
	struct health *hc = data;
	char ts[64];
	clock_format_local(clock_wall_us(NULL), ts);
	int64_t head = 0;
	struct err e;
	int rc = store_head(hc->store, &head, &e);
	json_t *j =
		json_pack("{s:s,s:s,s:s,s:s,s:I}", "status", rc == ERR_OK ? "healthy" : "unhealthy",
			  "service", "ambient", "version", AMBIENT_VERSION, "timestamp", ts,
			  "store_position", (json_int_t)head);
	if (rc != ERR_OK)
		json_object_set_new(j, "error", json_string(err_msg(&e)));
	if (hc->engine)
		json_object_set_new(j, "engine", engine_json(hc->engine));
	if (hc->ndeliveries) {
		json_t *dj = delivery_json(hc);
		if (hc->ndeliveries > 1)
			json_object_set_new(dj, "partitions_held",
					    json_integer(atomic_load(&hc->share.held)));
		json_object_set_new(j, "delivery", dj);
	}
	http_response_json(res, rc == ERR_OK ? 200 : 503, json_to_text(j));
	json_decref(j);
}

/* ---- GET /metrics (Prometheus text; docs/observability.md) ------------------------- */

struct metrics {
	struct health *hc;
	struct app_mcp *app;
	struct app_auth *auth;
	struct prom_ops *mcp; /* MCP requests by method and outcome */
	bool auth_on;         /* then only admin keys may scrape */
	int64_t started_us;
};

static void observe_mcp(void *data, const struct mcp_request_info *ri)
{
	prom_ops_observe(data, ri->method, ri->outcome, ri->duration_us);
}

static void metrics_tasks(struct buf *b, struct store *s)
{
	static const char *const statuses[] = {"active", "paused"};
	double n[TASK_TYPE__COUNT][2] = {{0}};
	json_t *tasks = NULL, *t;
	size_t i;
	struct err e = {0};

	if (app_task_list(s, NULL, NULL, &tasks, &e) == ERR_OK) {
		json_array_foreach(tasks, i, t) {
			int type = -1;
			const char *st = json_get_str(t, "status");
			if (task_type_parse(json_get_str(t, "task_type"), &type, NULL) || !st)
				continue;
			for (size_t k = 0; k < 2; k++)
				n[type][k] += strcmp(st, statuses[k]) == 0;
		}
	}
	json_decref(tasks);
	prom_family(b, "ambient_tasks", "gauge",
		    "Current tasks (not deleted), by type and status.");
	for (int ty = 0; ty < TASK_TYPE__COUNT; ty++)
		for (size_t k = 0; k < 2; k++)
			prom_sample(b, "ambient_tasks", n[ty][k], "task_type", task_type_name(ty),
				    "status", statuses[k], (const char *)NULL);
}

static void metrics_engine(struct buf *b, struct engine *en)
{
	struct engine_status st;
	engine_status(en, &st);
	prom_metric(b, "ambient_engine_leader", "gauge",
		    "1 when this engine holds at least one task shard and runs its tasks.",
		    st.leader);
	prom_metric(b, "ambient_engine_shards", "gauge",
		    "Task shards whose leases this engine holds (of 64).", (double)st.shards);
	prom_metric(b, "ambient_engine_nodes", "gauge",
		    "Engines alive on this store (node leases), this one included.",
		    (double)st.nodes);
	prom_metric(b, "ambient_engine_tasks", "gauge",
		    "Tasks this engine runs (active and paused).", (double)st.tasks);
	prom_metric(b, "ambient_engine_tasks_active", "gauge", "Active tasks this engine runs.",
		    (double)st.active);
	prom_metric(b, "ambient_engine_checks_in_flight", "gauge", "Checks in progress.",
		    (double)st.in_flight);
	prom_metric(b, "ambient_engine_checks_total", "counter", "Checks finished since start.",
		    (double)st.checks);
	prom_metric(b, "ambient_engine_check_failures_total", "counter",
		    "Checks that failed since start.", (double)st.failures);
	prom_metric(b, "ambient_engine_events_appended_total", "counter",
		    "Events the engine appended since start.", (double)st.events);
	prom_metric(b, "ambient_engine_fetches_total", "counter",
		    "HTTP transfers completed since start.", (double)st.fetches);
	prom_family(b, "ambient_engine_lag_seconds", "gauge",
		    "How late checks start (start minus due time), recent checks.");
	prom_sample(b, "ambient_engine_lag_seconds", (double)st.lag_p50_us / 1e6, "quantile", "0.5",
		    (const char *)NULL);
	prom_sample(b, "ambient_engine_lag_seconds", (double)st.lag_p99_us / 1e6, "quantile",
		    "0.99", (const char *)NULL);
}

static void metrics_delivery(struct buf *b, struct health *hc)
{
	struct delivery_status st;
	health_delivery_status(hc, &st);
	prom_metric(b, "ambient_delivery_leader", "gauge",
		    "1 when this process holds the delivery lease and delivers events.", st.leader);
	prom_family(
		b, "ambient_deliveries_total", "counter",
		"Events delivered to callback URLs since start, by outcome (failed: for good).");
	prom_sample(b, "ambient_deliveries_total", (double)st.delivered, "outcome", "delivered",
		    (const char *)NULL);
	prom_sample(b, "ambient_deliveries_total", (double)st.failed, "outcome", "failed",
		    (const char *)NULL);
	prom_metric(b, "ambient_delivery_attempts_total", "counter",
		    "HTTP delivery attempts since start.", (double)st.attempts);
	prom_metric(b, "ambient_delivery_retrying", "gauge", "Tasks waiting for a delivery retry.",
		    (double)st.retrying);
	prom_metric(b, "ambient_delivery_in_flight", "gauge", "Delivery requests in flight.",
		    (double)st.in_flight);
	prom_metric(b, "ambient_delivery_queued", "gauge", "Events held in memory, not yet done.",
		    (double)st.queued);
	prom_metric(b, "ambient_delivery_endpoints_disabled", "gauge",
		    "Callback URLs disabled after a 410 Gone.", (double)st.disabled);
	prom_metric(b, "ambient_delivery_checkpoint", "gauge",
		    "Log position up to which every event is delivered or given up.",
		    (double)st.checkpoint);
	prom_family(b, "ambient_delivery_latency_seconds", "gauge",
		    "From append to a 2xx answer, recent deliveries.");
	prom_sample(b, "ambient_delivery_latency_seconds", (double)st.latency_p50_us / 1e6,
		    "quantile", "0.5", (const char *)NULL);
	prom_sample(b, "ambient_delivery_latency_seconds", (double)st.latency_p99_us / 1e6,
		    "quantile", "0.99", (const char *)NULL);
}

/* Tool calls per tool from the audit counters, and the notifications the
 * send_sms / send_email tools sent. */
static void metrics_tools(struct buf *b, struct app_mcp *app)
{
	static const char *const outcomes[] = {
		"ok", "error", "denied", "rate_limited", "confirmation_required", "cancelled"};
	static const struct {
		const char *tool, *channel;
	} notifiers[] = {{"send_sms", "sms"}, {"send_email", "email"}};
	json_t *m = app_mcp_tool_metrics(app), *tools = json_object_get(m, "tools"), *t;
	const char *name;

	prom_family(b, "ambient_mcp_tool_calls_total", "counter",
		    "MCP tool calls since start, by tool and outcome.");
	json_object_foreach(tools, name, t) {
		for (size_t k = 0; k < sizeof outcomes / sizeof outcomes[0]; k++) {
			json_int_t v = json_get_int(t, outcomes[k], 0);
			if (v || k == 0)
				prom_sample(b, "ambient_mcp_tool_calls_total", (double)v, "tool",
					    name, "outcome", outcomes[k], (const char *)NULL);
		}
	}
	prom_family(b, "ambient_mcp_tool_duration_seconds_total", "counter",
		    "Time spent in MCP tool calls since start, by tool.");
	json_object_foreach(tools, name, t) {
		double avg_ms = json_number_value(json_object_get(t, "avg_ms"));
		prom_sample(b, "ambient_mcp_tool_duration_seconds_total",
			    avg_ms * (double)json_get_int(t, "calls", 0) / 1000.0, "tool", name,
			    (const char *)NULL);
	}
	prom_family(b, "ambient_mcp_tool_duration_max_seconds", "gauge",
		    "Longest MCP tool call since start, by tool.");
	json_object_foreach(tools, name, t) {
		prom_sample(b, "ambient_mcp_tool_duration_max_seconds",
			    json_number_value(json_object_get(t, "max_ms")) / 1000.0, "tool", name,
			    (const char *)NULL);
	}
	prom_family(b, "ambient_mcp_notifications_total", "counter",
		    "Notifications sent by the send_sms and send_email tools, by outcome.");
	for (size_t i = 0; i < sizeof notifiers / sizeof notifiers[0]; i++) {
		t = json_object_get(tools, notifiers[i].tool);
		prom_sample(b, "ambient_mcp_notifications_total", (double)json_get_int(t, "ok", 0),
			    "channel", notifiers[i].channel, "outcome", "sent", (const char *)NULL);
		prom_sample(b, "ambient_mcp_notifications_total",
			    (double)(json_get_int(t, "calls", 0) - json_get_int(t, "ok", 0)),
			    "channel", notifiers[i].channel, "outcome", "not_sent",
			    (const char *)NULL);
	}
	json_t *audit = json_object_get(m, "audit");
	prom_metric(b, "ambient_audit_queued", "gauge",
		    "Tool-call audit events waiting to be written.",
		    (double)json_get_int(audit, "queued", 0));
	prom_metric(b, "ambient_audit_written_total", "counter",
		    "Tool-call audit events written since start.",
		    (double)json_get_int(audit, "written", 0));
	prom_metric(b, "ambient_audit_failed_appends_total", "counter",
		    "Tool-call audit batches that could not be appended.",
		    (double)json_get_int(audit, "failed_appends", 0));
	json_decref(m);
}

static void route_metrics(void *data, const struct http_request *req, struct http_response *res)
{
	struct metrics *mx = data;
	struct principal p;

	/* With API keys on, metrics are for operators: an admin key. */
	if (mx->auth_on && !req->principal) {
		http_response_error(res, 401, "unauthorized",
				    "Send an admin API key as 'Authorization: Bearer KEY' (see "
				    "`ambient keys create --role admin`)");
		http_response_header(res, "WWW-Authenticate", "Bearer");
		return;
	}
	if (mx->auth_on &&
	    (app_principal_from_text(req->principal, &p, NULL) || p.role != PRINCIPAL_ROLE_ADMIN)) {
		http_response_error(
			res, 403, "forbidden",
			"Only admin API keys may read /metrics; create one with `ambient "
			"keys create --user NAME --role admin`");
		return;
	}
	struct buf b;
	buf_init(&b, 16 << 20);
	int64_t head = 0;
	struct err e = {0};
	int rc = store_head(mx->hc->store, &head, &e);
	prom_family(&b, "ambient_build_info", "gauge", "The ambient version of this process.");
	prom_sample(&b, "ambient_build_info", 1, "version", AMBIENT_VERSION, (const char *)NULL);
	prom_metric(&b, "ambient_process_start_time_seconds", "gauge",
		    "When this process started, in seconds since the epoch.",
		    (double)mx->started_us / 1e6);
	prom_metric(&b, "ambient_store_up", "gauge", "1 when the event store could be read.",
		    rc == ERR_OK);
	prom_metric(&b, "ambient_store_position", "gauge",
		    "Events appended to the log: its last global position (by every process "
		    "sharing the store).",
		    (double)head);
	metrics_tasks(&b, mx->hc->store);
	if (mx->hc->engine)
		metrics_engine(&b, mx->hc->engine);
	if (mx->hc->ndeliveries)
		metrics_delivery(&b, mx->hc);
	prom_ops_write(mx->mcp, &b,
		       &(struct prom_ops_names){
			       .counter = "ambient_mcp_requests_total",
			       .counter_help = "MCP requests handled since start, by method and "
					       "outcome.",
			       .hist = "ambient_mcp_request_duration_seconds",
			       .hist_help = "Time from dispatch to response of MCP requests, by "
					    "method.",
			       .name_label = "method",
			       .outcome_label = "outcome",
		       });
	metrics_tools(&b, mx->app);
	prom_metric(&b, "ambient_auth_failures_total", "counter",
		    "Presented API keys refused since start.", (double)app_auth_failures(mx->auth));
	res->status = 200;
	res->content_type = PROM_CONTENT_TYPE;
	res->body_len = b.len;
	res->body = buf_steal(&b);
	buf_cleanup(&b);
}

int cli_serve_run(struct cli_ctx *ctx)
{
	if (ctx->nargs)
		return cli_usage_error(ctx, "serve takes no arguments");
	char *host = NULL;
	int port = 0;
	int rc = cli_parse_listen(ctx, config_get(&ctx->cfg, "listen"), &host, &port);
	if (rc)
		return rc;

	/* Block the stop signals in every thread; main waits for them. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct store *s = NULL;
	rc = cli_open_store(ctx, false, &s);
	if (rc) {
		free(host);
		return rc;
	}
	struct err e = {0};
	struct mcp_server_options so = {
		.name = "ambient",
		.title = "ambient - background tasks for AI agents",
		.version = AMBIENT_VERSION,
		.instructions = cli_mcp_instructions,
	};
	struct mcp_server *srv = mcp_server_new(&so);
	struct health hc = {.store = s};
	char *keys_storage = NULL;
	char **keys = cli_split_list(config_get(&ctx->cfg, "api-keys"), &keys_storage);
	struct app_auth_options auo = {.store = s, .config_keys = (const char *const *)keys};
	struct app_auth *auth = app_auth_new(&auo);
	bool loopback = cli_loopback_host(host), no_auth = config_get_bool(&ctx->cfg, "no-auth");
	bool auth_on = !no_auth && app_auth_any_keys(auth);
	char listen[300];
	snprintf(listen, sizeof listen, "%s:%d", host, port);
	struct app_mcp_options ao = {
		.engine_status = engine_status_cb,
		.engine_ud = &hc,
		.rate_limits = config_get(&ctx->cfg, "rate-limits"),
		.security = {.transport = "http",
			     .listen = listen,
			     .loopback = loopback,
			     .auth_required = auth_on,
			     .auth = auth,
			     .allow_net = config_get(&ctx->cfg, "allow-net")},
	};
	struct channel_config ch;
	cli_net_tool_options(&ctx->cfg, &ch, &ao);
	struct app_mcp *app = app_mcp_new(s, &ao);
	size_t nmethods = 0;
	const char *const *methods = mcp_method_names(&nmethods);
	struct metrics mx = {
		.hc = &hc,
		.app = app,
		.auth = auth,
		.mcp = prom_ops_new(methods, nmethods, mcp_outcome_names, MCP_OUTCOME__COUNT),
		.auth_on = auth_on,
		.started_us = clock_wall_us(NULL),
	};
	mcp_server_set_observer(srv, observe_mcp, mx.mcp);
	struct http_server *h = NULL;
	const char *pid_file = config_get(&ctx->cfg, "pid-file");
	bool pid_written = false;
	char *hosts_storage = NULL;
	char **hosts = NULL;
	struct web_api *web = NULL;
	struct app_mcp_sessions *sessions = NULL; /* MCP sessions in the store (several nodes) */
	struct http_session_dir sdir = {0};
	struct http_route routes[2 + WEB_API_MAX_ROUTES] = {
		{"GET", "/health", route_health, &hc},
		{"GET", "/metrics", route_metrics, &mx},
	};
	size_t nroutes = 2;
	rc = CLI_FAIL;
	if (no_auth && !loopback) {
		err_set(&e, ERR_INVALID,
			"--no-auth is only allowed on a loopback address (127.0.0.1, ::1), and "
			"%s is not one: anyone who can reach it could act as any user",
			host);
		cli_fail(&e);
		goto out;
	}
	if (!auth_on && !loopback) {
		err_set(&e, ERR_INVALID,
			"ambient serve listens on %s, which other machines can reach, so it needs "
			"API keys: create one with `ambient keys create --user NAME [--role "
			"admin]` (or pass --api-keys), or listen on 127.0.0.1",
			host);
		cli_fail(&e);
		goto out;
	}
	if (!auth_on)
		log_info("no API keys%s: HTTP clients on this machine act as the local user",
			 no_auth ? " checked (--no-auth)" : " exist");
	if (app_mcp_register(app, srv, &e) || app_mcp_watch_start(app, srv, &e)) {
		cli_fail(&e);
		goto out;
	}
	if (!config_get_bool(&ctx->cfg, "no-engine")) {
		struct engine_options eo = {
			.store = s,
			.allow_net = config_get(&ctx->cfg, "allow-net"),
			.price_api_url = config_get(&ctx->cfg, "price-api-url"),
			.max_failures = (int)config_get_int(&ctx->cfg, "max-failures"),
			.snapshots_kept = (int)config_get_int(&ctx->cfg, "snapshots"),
			.lease_ttl_ms = (int)config_get_int(&ctx->cfg, "lease-ttl"),
		};
		if (engine_new(&eo, &hc.engine, &e) || engine_start(hc.engine, &e)) {
			cli_fail(&e);
			goto out;
		}
	}
	if (!config_get_bool(&ctx->cfg, "no-delivery")) {
		unsigned parts = (unsigned)config_get_int(&ctx->cfg, "delivery-partitions");
		hc.deliveries = xcalloc(parts, sizeof(*hc.deliveries));
		for (unsigned k = 0; k < parts; k++) {
			struct delivery_options dopt = {
				.store = s,
				.default_url = config_get(&ctx->cfg, "feedback-url"),
				.secret = config_get(&ctx->cfg, "webhook-secret"),
				.lease_ttl_ms = (int)config_get_int(&ctx->cfg, "lease-ttl"),
				/* A task's own callback URL comes from whoever
				 * created the task: it passes the same SSRF
				 * policy as its other URLs.  The operator's
				 * --feedback-url is trusted. */
				.guard = app_tasks_net_guard(),
				.partitions = parts,
				.partition = k,
				.share = parts > 1 ? &hc.share : NULL,
			};
			if (delivery_new(&dopt, &hc.deliveries[k], &e) == ERR_OK)
				hc.ndeliveries = k + 1;
			if (hc.ndeliveries != k + 1 || delivery_start(hc.deliveries[k], &e)) {
				cli_fail(&e);
				goto out;
			}
		}
	}
	const char *allow = config_get(&ctx->cfg, "allow-host");
	hosts = cli_split_list(allow, &hosts_storage);
	struct web_api_options wo = {.store = s, .require_auth = auth_on};
	web = web_api_new(&wo);
	nroutes += web_api_routes(web, routes + nroutes, WEB_API_MAX_ROUTES);
	if (!config_get_bool(&ctx->cfg, "stateless") &&
	    !config_get_bool(&ctx->cfg, "local-sessions")) {
		sessions = app_mcp_sessions_new(s, NULL);
		sdir = (struct http_session_dir){
			.save = app_mcp_sessions_save,
			.load = app_mcp_sessions_load,
			.remove = app_mcp_sessions_remove,
			.touch = app_mcp_sessions_touch,
			.expire = app_mcp_sessions_expire,
			.post_reply = app_mcp_sessions_post_reply,
			.take_reply = app_mcp_sessions_take_reply,
			.data = sessions,
		};
	}
	struct http_server_options ho = {
		.host = host,
		.port = port,
		.endpoint = config_get(&ctx->cfg, "endpoint"),
		.stateless = config_get_bool(&ctx->cfg, "stateless"),
		.max_body = (size_t)config_get_int(&ctx->cfg, "max-body"),
		.allowed_hosts = (const char *const *)hosts,
		.allow_any_host = allow && strcmp(allow, "*") == 0,
		.auth = auth_on ? check_key : NULL,
		.auth_data = auth,
		.on_session = on_session,
		.session_dir = sessions ? &sdir : NULL,
		.routes = routes,
		.nroutes = nroutes,
	};
	if (http_server_start(srv, &ho, &h, &e)) {
		cli_fail(&e);
		goto out;
	}
	bool v6 = strchr(host, ':') != NULL;
	printf("listening http://%s%s%s:%d%s\n", v6 ? "[" : "", host, v6 ? "]" : "",
	       http_server_port(h), ho.endpoint);
	fflush(stdout);
	if (pid_file) {
		if (cli_write_pid_file(pid_file))
			goto out;
		pid_written = true;
	}
	log_info("serving MCP on %s:%d%s%s", host, http_server_port(h), ho.endpoint,
		 ho.stateless ? " (stateless)" : "");
	int sig = 0;
	sigwait(&stop, &sig);
	log_info("stopping on signal %d", sig);
	rc = CLI_OK;
out:
	http_server_free(h);
	app_mcp_sessions_free(sessions);
	web_api_free(web);
	for (size_t i = 0; i < hc.ndeliveries; i++)
		delivery_free(hc.deliveries[i]);
	free(hc.deliveries);
	engine_free(hc.engine);
	if (pid_written)
		unlink(pid_file);
	app_mcp_free(app);
	mcp_server_free(srv);
	prom_ops_free(mx.mcp);
	store_close(s);
	free(hosts);
	free(hosts_storage);
	app_auth_free(auth);
	free(keys);
	free(keys_storage);
	free(host);
	return rc;
}
