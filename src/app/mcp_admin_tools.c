/*
 * mcp_admin_tools.c - the security and monitoring tools: authorization
 * requests (request_authorization, approve_authorization,
 * get_authorization_requests), get_audit_log, get_monitoring_metrics and
 * check_security_status.
 *
 * The original took user_id="admin" and trusted it; here the admin tools
 * need a principal with the admin role (the local user of stdio and of
 * unauthenticated loopback HTTP is one).
 */
#include "mcp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/audit.h"
#include "common/json.h"
#include "common/uuid.h"
#include "common/xalloc.h"
#include "domain/authz.h"
#include "domain/redact.h"

#define ANN(ro, de, id, ow)                                                                        \
	"{\"readOnlyHint\": " ro ", \"destructiveHint\": " de ", \"idempotentHint\": " id          \
	", \"openWorldHint\": " ow "}"

#define P_USER_ID                                                                                  \
	"\"user_id\": {\"type\": \"string\", \"description\": \"Accepted for compatibility with "  \
	"the original ('admin'); the API key decides who you are.\"}"

/* The original's result object; the data is described per tool in words. */
#define OUT_ANY                                                                                    \
	"{\"type\": \"object\", \"properties\": {\"status\": {\"type\": \"string\"}, "             \
	"\"action\": {\"type\": \"string\"}, \"data\": {\"type\": \"object\"}, "                   \
	"\"message\": {\"type\": \"string\"}, \"timestamp\": {\"type\": \"string\"}}, "            \
	"\"required\": [\"status\", \"action\", \"data\", \"timestamp\"]}"

/* The level of a tool by name: its row when registered, else the
 * original's rule for names it did not know. */
static enum app_level level_of(struct app_mcp *a, const char *tool, bool *known)
{
	const struct app_tool *row = app_mcp_find_tool(a, tool);

	*known = row != NULL;
	if (row)
		return row->level;
	if (strstr(tool, "admin"))
		return APP_LEVEL_CRITICAL;
	if (strstr(tool, "forget") || strstr(tool, "delete"))
		return APP_LEVEL_HIGH;
	return APP_LEVEL_MEDIUM;
}

static int append_authz(struct app_mcp *a, const char *user, const char *request_id,
			int64_t expected, const char *type, json_t *data, struct err *e)
{
	char stream[64], actor[APP_MCP_PRINCIPAL_MAX];
	struct app_actor who;
	struct store_new_event ev = {.type = type, .data = data};
	json_t *meta;
	int rc;

	snprintf(stream, sizeof stream, AUTHZ_STREAM_PREFIX "%s", request_id);
	app_mcp_actor(user, actor, &who);
	meta = app_actor_metadata(&who);
	uuid_v7(a->clock, ev.event_id);
	ev.metadata = meta;
	rc = store_append(a->store, stream, expected, &ev, 1, NULL, e);
	json_decref(meta);
	return rc;
}

static int load_request(struct app_mcp *a, const char *request_id, json_t **doc, int64_t *version)
{
	char stream[64];
	snprintf(stream, sizeof stream, AUTHZ_STREAM_PREFIX "%s", request_id);
	*doc = NULL;
	store_stream_version(a->store, stream, version, NULL);
	return store_proj_get(a->store, APP_AUTHZ_PROJECTION, stream, doc, NULL);
}

/* ---- request_authorization ----------------------------------------------------- */

static int tool_request(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	struct app_mcp *a = app_mcp_from_call(call);
	const char *user = app_mcp_user(a, call, args);
	const char *tool = json_get_str(args, "tool_name"), *reason = json_get_str(args, "reason");
	const json_t *targs = json_object_get(args, "tool_args");
	char id[AUTHZ_ID_LEN + 1], label[200];
	int64_t now = clock_wall_us(a->clock), version = 0;
	struct principal p;
	bool known;
	enum app_level level = level_of(a, tool, &known);
	json_t *parsed = NULL, *doc = NULL, *data;
	int rc;

	if (json_is_string(targs)) { /* the original passed a JSON string */
		struct err le = {0};
		parsed =
			json_parse(json_string_value(targs), strlen(json_string_value(targs)), &le);
		if (!parsed || !json_is_object(parsed)) {
			json_decref(parsed);
			*result =
				app_mcp_failure(a, "request_authorization",
						"tool_args must be an object (or a string holding "
						"one) of the exact arguments you will call %s with",
						tool);
			return ERR_OK;
		}
		targs = parsed;
	}
	if (level < APP_LEVEL_HIGH) {
		*result = app_mcp_success(
			a, "request_authorization",
			json_pack("{s:s,s:s,s:b}", "tool_name", tool, "security_level",
				  app_level_name(level), "required", 0),
			known ? "No authorization needed: this tool runs without one"
			      : "No authorization needed for a tool of this name");
		json_decref(parsed);
		return ERR_OK;
	}
	authz_request_id(user, tool, targs, id);
	load_request(a, id, &doc, &version);
	if (authz_state_at(doc, now) == AUTHZ_PENDING ||
	    authz_state_at(doc, now) == AUTHZ_APPROVED) {
		json_t *view = authz_view(doc, now);
		*result = app_mcp_success(a, "request_authorization", view,
					  "A request for this exact call exists already");
		json_decref(doc);
		json_decref(parsed);
		return ERR_OK;
	}
	json_decref(doc);
	app_mcp_principal(a, call, &p);
	snprintf(label, sizeof label, "%s%s",
		 p.key_id[0] ? "key:" : "local:", p.key_id[0] ? p.key_id : p.user);
	json_t *shown = redact_json(targs ? targs : json_object());
	json_object_del(shown, "user_id");
	data = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:I,s:I}", "request_id", id, "tool", tool,
			 "user_id", user, "principal", label, "level", app_level_name(level),
			 "reason", reason && *reason ? reason : "requested", "arguments", shown,
			 "requested_at_us", (json_int_t)now, "expires_at_us",
			 (json_int_t)(now + AUTHZ_REQUEST_TTL_US));
	rc = append_authz(a, user, id, version, AUTHZ_EV_REQUESTED, data, e);
	json_decref(data);
	json_decref(parsed);
	if (rc)
		return rc;
	load_request(a, id, &doc, &version);
	*result = app_mcp_success(
		a, "request_authorization", authz_view(doc, now),
		"Authorization requested; an admin approves it with "
		"approve_authorization, then the identical call may run for 1 hour");
	json_decref(doc);
	return ERR_OK;
}

/* ---- approve_authorization ----------------------------------------------------- */

static int tool_approve(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	struct app_mcp *a = app_mcp_from_call(call);
	const char *id = json_get_str(args, "request_id"), *reason = json_get_str(args, "reason");
	json_t *approve = json_object_get(args, "approve");
	bool yes = !approve || json_is_true(approve);
	struct principal p;
	int64_t now = clock_wall_us(a->clock), version = 0;
	json_t *doc = NULL, *data;
	struct err le = {0};
	int rc;

	if (authz_id_check(id, &le)) {
		*result = app_mcp_failure(a, "approve_authorization", "%s", le.msg);
		return ERR_OK;
	}
	if (load_request(a, id, &doc, &version)) {
		*result = app_mcp_failure(a, "approve_authorization",
					  "no authorization request %s; get_authorization_requests "
					  "lists the pending ones",
					  id);
		return ERR_OK;
	}
	enum authz_state st = authz_state_at(doc, now);
	if (st != AUTHZ_PENDING) {
		*result = app_mcp_failure(
			a, "approve_authorization", "request %s is %s, not pending: %s", id,
			authz_state_name(st),
			st == AUTHZ_EXPIRED ? "nobody answered within 30 minutes; the user "
					      "makes the call again to ask anew"
					    : "it was answered already");
		json_decref(doc);
		return ERR_OK;
	}
	json_decref(doc);
	app_mcp_principal(a, call, &p);
	if (yes)
		data = json_pack("{s:s,s:s,s:I,s:I}", "request_id", id, "approved_by", p.user,
				 "approved_at_us", (json_int_t)now, "valid_until_us",
				 (json_int_t)(now + AUTHZ_APPROVAL_TTL_US));
	else
		data = json_pack("{s:s,s:s,s:s}", "request_id", id, "denied_by", p.user, "reason",
				 reason && *reason ? reason : "denied");
	rc = append_authz(a, app_mcp_user(a, call, args), id, version,
			  yes ? AUTHZ_EV_APPROVED : AUTHZ_EV_DENIED, data, e);
	json_decref(data);
	if (rc == ERR_CONFLICT) {
		*result = app_mcp_failure(a, "approve_authorization",
					  "request %s changed while you answered it; look at it "
					  "again with get_authorization_requests",
					  id);
		return ERR_OK;
	}
	if (rc)
		return rc;
	load_request(a, id, &doc, &version);
	*result = app_mcp_success(a, "approve_authorization", authz_view(doc, now),
				  yes ? "Approved: the identical call may run within 1 hour"
				      : "Denied");
	json_decref(doc);
	return ERR_OK;
}

/* ---- get_authorization_requests ------------------------------------------------ */

static int tool_requests(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	struct app_mcp *a = app_mcp_from_call(call);
	const char *want = json_get_str(args, "status");
	int64_t now = clock_wall_us(a->clock);
	json_t *docs = NULL, *list = json_array(), *v;
	const char *k;
	int rc;

	if ((rc = store_proj_list(a->store, APP_AUTHZ_PROJECTION, &docs, e))) {
		json_decref(list);
		return rc;
	}
	json_object_foreach(docs, k, v) {
		json_t *view = authz_view(v, now);
		const char *st = json_get_str(view, "status");
		if (!want || strcmp(want, "all") == 0 || (st && strcmp(st, want) == 0))
			json_array_append_new(list, view);
		else
			json_decref(view);
	}
	json_decref(docs);
	size_t n = json_array_size(list);
	*result = app_mcp_success(a, "get_authorization_requests",
				  json_pack("{s:o,s:I}", "requests", list, "count", (json_int_t)n),
				  NULL);
	return ERR_OK;
}

/* ---- get_audit_log ----------------------------------------------------------------- */

static int tool_audit(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	struct app_mcp *a = app_mcp_from_call(call);
	json_t *records = NULL;
	size_t limit = (size_t)json_get_int(args, "limit", AUDIT_LIMIT_DEFAULT);
	int rc;

	if (!a->audit) {
		*result = app_mcp_failure(a, "get_audit_log",
					  "this server does not record tool calls (started with "
					  "auditing off)");
		return ERR_OK;
	}
	rc = audit_query(a->audit, limit, json_get_str(args, "principal"),
			 json_get_str(args, "tool"), &records, e);
	if (rc)
		return rc;
	size_t n = json_array_size(records);
	*result = app_mcp_success(
		a, "get_audit_log",
		json_pack("{s:o,s:I}", "entries", records, "count", (json_int_t)n), NULL);
	return ERR_OK;
}

/* ---- get_monitoring_metrics -------------------------------------------------------- */

static int tool_metrics(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	struct app_mcp *a = app_mcp_from_call(call);
	json_t *status = NULL, *d;
	int64_t head = 0;
	int rc;

	(void)args;
	if ((rc = app_mcp_status(a, &status, e)))
		return rc;
	store_head(a->store, &head, NULL);
	d = json_pack("{s:o,s:I}", "tasks", status, "event_log_position", (json_int_t)head);
	json_object_set_new(d, "tool_calls", a->audit ? audit_metrics(a->audit) : json_null());
	*result = app_mcp_success(a, "get_monitoring_metrics", d, NULL);
	return ERR_OK;
}

/* ---- check_security_status --------------------------------------------------------- */

static int tool_security(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	struct app_mcp *a = app_mcp_from_call(call);
	const struct app_mcp_security *sec = &a->security;
	json_t *keys = NULL, *docs = NULL, *v, *d;
	long active = 0, revoked = 0, pending = 0;
	int64_t now = clock_wall_us(a->clock);
	const char *k;

	(void)e;
	if (!app_auth_key_list(a->store, &keys, NULL)) {
		size_t i;
		json_array_foreach(keys, i, v) {
			if (json_object_get(v, "revoked_at"))
				revoked++;
			else
				active++;
		}
	}
	json_decref(keys);
	if (!store_proj_list(a->store, APP_AUTHZ_PROJECTION, &docs, NULL))
		json_object_foreach(docs, k, v)
			pending += authz_state_at(v, now) == AUTHZ_PENDING;
	json_decref(docs);

	json_t *levels = app_mcp_tool_levels(a);
	json_t *rates =
		json_pack("{s:b,s:i,s:s}", "enabled", !a->rate_off, "default_per_hour",
			  a->rate_default, "window", "sliding 1 hour, per principal and tool");
	json_object_set(rates, "per_tool", a->rate_overrides ? a->rate_overrides : json_object());
	d = json_pack("{s:{s:s,s:s?,s:b,s:b,s:I,s:I,s:I},s:{s:o,s:I,s:s},s:o,s:{s:b},s:{s:s?},"
		      "s:{s:s}}",
		      "authentication", "transport", sec->transport ? sec->transport : "stdio",
		      "listen", sec->listen, "loopback_only", sec->loopback || !sec->listen,
		      "required", sec->auth_required, "active_keys", (json_int_t)active,
		      "revoked_keys", (json_int_t)revoked, "failed_attempts",
		      (json_int_t)(sec->auth ? app_auth_failures(sec->auth) : 0), "authorization",
		      "levels", levels, "pending_requests", (json_int_t)pending, "confirmation",
		      "HIGH tools: MCP elicitation when the client supports it, else "
		      "request_authorization + approve_authorization (request valid 30 min, "
		      "approval 1 h)",
		      "rate_limits", rates, "audit", "enabled", a->audit != NULL, "ssrf",
		      "allow_net", sec->allow_net, "secrets", "redaction",
		      "API keys hashed at rest (SHA-256); tokens, passwords and secrets redacted "
		      "from audit records and errors; phone numbers and e-mails masked in "
		      "listings");
	if (json_is_true(json_object_get(args, "include_metrics")) && a->audit)
		json_object_set_new(d, "metrics", audit_metrics(a->audit));
	*result = app_mcp_success(a, "check_security_status", d, NULL);
	return ERR_OK;
}

/* ---- the rows -------------------------------------------------------------------------- */

static const struct app_tool admin_rows[] = {
	{
		.tool.name = "request_authorization",
		.tool.title = "Request authorization",
		.tool.description =
			"Ask an admin to allow one HIGH-risk call (e.g. delete_background_task, "
			"forget) when your client cannot confirm it with the person directly. "
			"Give the exact tool_args you will call it with; after "
			"approve_authorization, that identical call runs for 1 hour. A request "
			"expires after 30 minutes. Calling the HIGH tool itself makes the same "
			"request.",
		.tool.input_schema =
			"{\"type\": \"object\", \"properties\": {"
			"\"tool_name\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": "
			"128}, "
			"\"reason\": {\"type\": \"string\", \"maxLength\": 1000}, "
			"\"tool_args\": {\"anyOf\": [{\"type\": \"object\"}, {\"type\": "
			"\"string\"}], \"description\": \"The arguments of the call to "
			"allow.\"}, " P_USER_ID
			"}, \"required\": [\"tool_name\"], \"additionalProperties\": false}",
		.tool.output_schema = OUT_ANY,
		.tool.annotations = ANN("false", "false", "true", "false"),
		.tool.fn = tool_request,
		.level = APP_LEVEL_MEDIUM,
	},
	{
		.tool.name = "approve_authorization",
		.tool.title = "Approve authorization",
		.tool.description =
			"Admins: approve (or, with approve=false, deny) a pending authorization "
			"request by its id. An approval lets the identical call run for 1 hour.",
		.tool.input_schema =
			"{\"type\": \"object\", \"properties\": {"
			"\"request_id\": {\"type\": \"string\", \"description\": \"32 hex digits, "
			"from the 'Authorization required' message or "
			"get_authorization_requests.\"}, "
			"\"approve\": {\"type\": \"boolean\", \"default\": true}, "
			"\"reason\": {\"type\": \"string\", \"maxLength\": 1000}, "
			"\"approved_by\": {\"type\": \"string\", \"description\": \"Ignored: the "
			"API key decides.\"}, " P_USER_ID
			"}, \"required\": [\"request_id\"], \"additionalProperties\": false}",
		.tool.output_schema = OUT_ANY,
		.tool.annotations = ANN("false", "false", "true", "false"),
		.tool.fn = tool_approve,
		.level = APP_LEVEL_MEDIUM,
		.admin_only = true,
		.scope = "admin",
	},
	{
		.tool.name = "get_authorization_requests",
		.tool.title = "Authorization requests",
		.tool.description = "Admins: the authorization requests, by default the pending "
				    "ones (status pending, approved, denied, expired or all).",
		.tool.input_schema =
			"{\"type\": \"object\", \"properties\": {"
			"\"status\": {\"type\": \"string\", \"enum\": [\"pending\", \"approved\", "
			"\"denied\", \"expired\", \"all\"], \"default\": \"pending\"}, " P_USER_ID
			"}, \"additionalProperties\": false}",
		.tool.output_schema = OUT_ANY,
		.tool.annotations = ANN("true", "false", "true", "false"),
		.tool.fn = tool_requests,
		.level = APP_LEVEL_LOW,
		.admin_only = true,
		.scope = "admin",
	},
	{
		.tool.name = "get_audit_log",
		.tool.title = "Audit log",
		.tool.description =
			"Admins: the newest tool calls first: who (principal, user), which tool, "
			"the outcome (ok, error, denied, rate_limited, confirmation_required, "
			"cancelled), how long, and the arguments with secrets redacted and phone "
			"numbers and e-mails masked.",
		.tool.input_schema =
			"{\"type\": \"object\", \"properties\": {"
			"\"limit\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1000, "
			"\"default\": 50}, "
			"\"principal\": {\"type\": \"string\", \"description\": \"Only this user "
			"id, key id or principal label.\"}, "
			"\"tool\": {\"type\": \"string\", \"description\": \"Only this "
			"tool.\"}, " P_USER_ID "}, \"additionalProperties\": false}",
		.tool.output_schema = OUT_ANY,
		.tool.annotations = ANN("true", "false", "true", "false"),
		.tool.fn = tool_audit,
		.level = APP_LEVEL_LOW,
		.admin_only = true,
		.scope = "admin",
	},
	{
		.tool.name = "get_monitoring_metrics",
		.tool.title = "Monitoring metrics",
		.tool.description = "Admins: tool calls per tool since the server started "
				    "(outcomes, average and longest duration), task counts and "
				    "the event log position.",
		.tool.input_schema = "{\"type\": \"object\", \"properties\": {" P_USER_ID
				     "}, \"additionalProperties\": false}",
		.tool.output_schema = OUT_ANY,
		.tool.annotations = ANN("true", "false", "true", "false"),
		.tool.fn = tool_metrics,
		.level = APP_LEVEL_LOW,
		.admin_only = true,
		.scope = "admin",
	},
	{
		.tool.name = "check_security_status",
		.tool.title = "Security status",
		.tool.description = "Admins: how this server is protected: authentication and "
				    "keys, authorization levels per tool, pending requests, rate "
				    "limits, auditing, the SSRF allow-list.",
		.tool.input_schema = "{\"type\": \"object\", \"properties\": {"
				     "\"include_metrics\": {\"type\": \"boolean\", \"default\": "
				     "false}, " P_USER_ID "}, \"additionalProperties\": false}",
		.tool.output_schema = OUT_ANY,
		.tool.annotations = ANN("true", "false", "true", "false"),
		.tool.fn = tool_security,
		.level = APP_LEVEL_LOW,
		.admin_only = true,
		.scope = "admin",
	},
};

int app_mcp_register_admin_tools(struct app_mcp *a, struct mcp_server *srv, struct err *e)
{
	return app_mcp_add_tools(a, srv, admin_rows, sizeof admin_rows / sizeof admin_rows[0], e);
}
