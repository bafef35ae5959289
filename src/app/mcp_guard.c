/*
 * mcp_guard.c - the guard around every ambient tool: who is calling, what
 * they may do, how often, and the audit record of what they did.
 *
 * app_mcp_add_tools registers each row with guard() as its handler and the
 * row (copied into a slot the struct app_mcp owns) as its data.  In order,
 * guard() checks:
 *   1. user_id: a principal without the admin role may only act for itself;
 *   2. scope: the key's scopes cover the tool's area (read or write);
 *   3. role: admin_only and CRITICAL tools need the admin role;
 *   4. rate: calls per principal and tool in a sliding hour;
 *   5. confirmation (HIGH, CRITICAL): MCP elicitation when the client
 *      offers it, else an authorization request an admin approves;
 * then runs the tool and records the call in the audit log (audit.h).
 */
#include "mcp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/audit.h"
#include "common/json.h"
#include "common/log.h"
#include "common/ratelimit.h"
#include "common/uuid.h"
#include "common/xalloc.h"
#include "domain/authz.h"
#include "domain/redact.h"

#define RATE_WINDOW_US (3600LL * 1000000)
#define ELICIT_TIMEOUT_MS 120000

struct app_tool_slot {
	struct app_mcp *a;
	struct app_tool row;
	struct app_tool_slot *next;
};

const char *app_level_name(enum app_level l)
{
	switch (l) {
	case APP_LEVEL_LOW:
		return "LOW";
	case APP_LEVEL_MEDIUM:
		return "MEDIUM";
	case APP_LEVEL_HIGH:
		return "HIGH";
	case APP_LEVEL_CRITICAL:
		return "CRITICAL";
	}
	return "?";
}

struct app_mcp *app_mcp_from_call(struct mcp_call *call)
{
	struct app_tool_slot *slot = mcp_call_data(call);
	return slot->a;
}

/* ---- who is calling ----------------------------------------------------------- */

static void free_principal(void *p)
{
	free(p);
}

void app_mcp_attach_principal(struct mcp_session *s, const char *principal_text)
{
	struct principal *p;

	if (!principal_text)
		return; /* no authentication: the local user */
	p = xcalloc(1, sizeof *p);
	if (app_principal_from_text(principal_text, p, NULL)) {
		/* not ours (a plain string from another authenticator): a user
		 * named by it, with no rights beyond its own */
		principal_local(p, "anonymous");
		snprintf(p->user, sizeof p->user, "%.128s", principal_text);
		p->role = PRINCIPAL_ROLE_USER;
		p->authenticated = true;
	}
	mcp_session_set_user(s, p, free_principal);
}

void app_mcp_principal(struct app_mcp *a, struct mcp_call *call, struct principal *out)
{
	const struct principal *p = call ? mcp_session_user(mcp_call_session(call)) : NULL;

	if (p)
		*out = *p;
	else
		principal_local(out, a->default_user);
}

const char *app_mcp_user(struct app_mcp *a, struct mcp_call *call, const json_t *args)
{
	const char *u = json_get_str(args, "user_id");
	const struct principal *p = call ? mcp_session_user(mcp_call_session(call)) : NULL;

	if (u && *u)
		return u; /* the guard checked that the principal may act for u */
	if (p && p->authenticated)
		return p->role == PRINCIPAL_ROLE_ADMIN ? APP_MCP_ADMIN : p->user;
	return a->default_user;
}

/* "key:<id>" or "local:<user>": who the rate limit and audit count. */
static void principal_label(const struct principal *p, char *out, size_t size)
{
	if (p->key_id[0])
		snprintf(out, size, "key:%s", p->key_id);
	else
		snprintf(out, size, "local:%s", p->user);
}

/* ---- rate limits ------------------------------------------------------------- */

int app_mcp_rate_config(struct app_mcp *a, const char *spec, struct err *e)
{
	json_t *over = json_object();
	const char *p = spec ? spec : "";

	a->rate_default = APP_RATE_DEFAULT;
	a->rate_off = false;
	json_decref(a->rate_overrides);
	a->rate_overrides = NULL;
	if (strcmp(p, "off") == 0) {
		a->rate_off = true;
		json_decref(over);
		return ERR_OK;
	}
	json_object_set_new(over, "remember", json_integer(50));
	json_object_set_new(over, "forget", json_integer(10));
	while (*p) {
		const char *end = strchr(p, ','), *eq = strchr(p, '=');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char name[129];
		long n;
		char *stop;

		if (!eq || eq > p + len || eq == p || (size_t)(eq - p) >= sizeof name) {
			json_decref(over);
			return err_set(e, ERR_INVALID,
				       "rate limits are NAME=N pairs separated by commas, e.g. "
				       "\"default=100,remember=50\", or \"off\" (at \"%.*s\")",
				       (int)(len > 40 ? 40 : len), p);
		}
		memcpy(name, p, (size_t)(eq - p));
		name[eq - p] = '\0';
		n = strtol(eq + 1, &stop, 10);
		if (stop == eq + 1 || stop != p + len || n < 0 || n > 1000000) {
			json_decref(over);
			return err_set(e, ERR_INVALID,
				       "rate limit for %s must be a number of calls per hour "
				       "(0-1000000; 0 = unlimited)",
				       name);
		}
		if (strcmp(name, "default") == 0)
			a->rate_default = (int)n;
		else
			json_object_set_new(over, name, json_integer(n));
		if (!end)
			break;
		p = end + 1;
	}
	a->rate_overrides = over;
	return ERR_OK;
}

static int rate_limit_of(struct app_mcp *a, const struct app_tool *row)
{
	json_t *o = a->rate_overrides ? json_object_get(a->rate_overrides, row->tool.name) : NULL;
	if (o)
		return (int)json_integer_value(o);
	if (row->rate_per_hour > 0)
		return row->rate_per_hour;
	return a->rate_default;
}

/* ---- confirmation ------------------------------------------------------------ */

static bool client_can_elicit(struct mcp_call *call)
{
	const json_t *caps = mcp_session_client_capabilities(mcp_call_session(call));
	return caps && json_object_get(caps, "elicitation");
}

/* Ask the person through the client.  0: confirmed; otherwise *result is
 * set and *outcome says why not. */
static int confirm_by_elicitation(struct app_mcp *a, struct mcp_call *call,
				  const struct app_tool *row, const char *user, const json_t *args,
				  json_t **result, const char **outcome)
{
	json_t *shown = redact_json(args), *res = NULL, *params;
	char *argtext = json_dumps(shown, JSON_COMPACT);
	char msg[1200];
	struct err le = {0};
	int rc;

	snprintf(msg, sizeof msg,
		 "Confirm %s (%s risk) for user %.100s with %.800s? This cannot be undone.",
		 row->tool.name, app_level_name(row->level), user, argtext ? argtext : "{}");
	app_mcp_utf8_clean(msg);
	free(argtext);
	json_decref(shown);
	params = json_pack("{s:s,s:{s:s,s:{s:{s:s,s:s,s:s}},s:[s]}}", "message", msg,
			   "requestedSchema", "type", "object", "properties", "confirm", "type",
			   "boolean", "title", "Run it", "description",
			   "true to go ahead, false to cancel", "required", "confirm");
	rc = mcp_call_request(call, "elicitation/create", params, ELICIT_TIMEOUT_MS, &res, &le);
	json_decref(params);
	if (rc) {
		*outcome = "cancelled";
		*result = app_mcp_failure(a, row->tool.name,
					  "%s was not run: the confirmation request to your client "
					  "failed (%s). Call it again to retry.",
					  row->tool.name, le.msg);
		return -1;
	}
	char action[32];
	snprintf(action, sizeof action, "%s",
		 json_get_str(res, "action") ? json_get_str(res, "action") : "no answer");
	bool ok = strcmp(action, "accept") == 0 &&
		  json_is_true(json_object_get(json_object_get(res, "content"), "confirm"));
	json_decref(res);
	if (ok)
		return 0;
	*outcome = "cancelled";
	*result = app_mcp_failure(a, row->tool.name,
				  "%s was not run: the person did not confirm it (%s). Do not "
				  "retry unless they ask again.",
				  row->tool.name, action);
	return -1;
}

/* The original's flow: an approved identical call runs; else a request
 * waits for an admin.  0: approved; otherwise *result is set. */
static int confirm_by_approval(struct app_mcp *a, struct mcp_call *call, const struct app_tool *row,
			       const struct principal *p, const char *user, const json_t *args,
			       json_t **result, const char **outcome,
			       char request_id[AUTHZ_ID_LEN + 1])
{
	char stream[64], label[200], pactor[APP_MCP_PRINCIPAL_MAX];
	json_t *doc = NULL;
	int64_t now = clock_wall_us(a->clock), version = 0;
	enum authz_state st;
	struct err le = {0};
	int rc = ERR_OK;

	authz_request_id(user, row->tool.name, args, request_id);
	snprintf(stream, sizeof stream, AUTHZ_STREAM_PREFIX "%s", request_id);
	store_proj_get(a->store, APP_AUTHZ_PROJECTION, stream, &doc, NULL);
	st = authz_state_at(doc, now);
	json_decref(doc);
	if (st == AUTHZ_APPROVED)
		return 0;
	if (st != AUTHZ_PENDING) {
		struct app_actor who;
		json_t *shown = redact_json(args);
		json_t *data;
		struct store_new_event ev = {.type = AUTHZ_EV_REQUESTED};

		principal_label(p, label, sizeof label);
		app_mcp_actor(user, pactor, &who);
		json_object_del(shown, "user_id");
		data = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:I,s:I}", "request_id", request_id,
				 "tool", row->tool.name, "user_id", user, "principal", label,
				 "level", app_level_name(row->level), "reason",
				 "confirmation needed (the client cannot confirm through MCP "
				 "elicitation)",
				 "arguments", shown, "requested_at_us", (json_int_t)now,
				 "expires_at_us", (json_int_t)(now + AUTHZ_REQUEST_TTL_US));
		uuid_v7(a->clock, ev.event_id);
		ev.data = data;
		json_t *meta = app_actor_metadata(&who);
		ev.metadata = meta;
		store_stream_version(a->store, stream, &version, NULL);
		rc = store_append(a->store, stream, version, &ev, 1, NULL, &le);
		json_decref(meta);
		json_decref(data);
		if (rc && rc != ERR_CONFLICT) { /* a conflict: someone asked at the same time */
			*outcome = "error";
			*result =
				app_mcp_failure(a, row->tool.name,
						"%s needs an authorization, but the request could "
						"not be recorded: %s",
						row->tool.name, le.msg);
			return -1;
		}
	}
	(void)call;
	*outcome = "confirmation_required";
	*result = app_mcp_failure(
		a, row->tool.name,
		"Authorization required for %s. Request ID: %s. This call is %s risk: an admin "
		"approves it with approve_authorization(request_id=\"%s\") (or denies it), "
		"then make the identical call again within 1 hour. The request expires in 30 "
		"minutes.",
		row->tool.name, request_id, app_level_name(row->level), request_id);
	return -1;
}

/* ---- the guard ----------------------------------------------------------------- */

static const char *area_of(const struct app_tool *row)
{
	return row->scope ? row->scope : "tasks";
}

static int guard(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	struct app_tool_slot *slot = mcp_call_data(call);
	struct app_mcp *a = slot->a;
	const struct app_tool *row = &slot->row;
	const char *name = row->tool.name, *outcome = "ok", *uid = json_get_str(args, "user_id");
	char label[200], need[64], request_id[AUTHZ_ID_LEN + 1] = "";
	struct principal p;
	int64_t t0 = clock_mono_us(clock_system()), retry = 0;
	int rc = ERR_OK;
	bool admin;

	app_mcp_principal(a, call, &p);
	admin = p.role == PRINCIPAL_ROLE_ADMIN;
	principal_label(&p, label, sizeof label);
	snprintf(need, sizeof need, "%s:%s", area_of(row),
		 row->level == APP_LEVEL_LOW ? "read" : "write");
	*result = NULL;

	if (uid && *uid && !admin && strcmp(uid, p.user) != 0) {
		outcome = "denied";
		*result =
			app_mcp_failure(a, name,
					"user_id \"%.100s\" is not yours: your API key belongs to "
					"\"%.100s\". Leave user_id out (it defaults to you); only "
					"admins act for other users.",
					uid, p.user);
	} else if (!principal_has_scope(&p, need)) {
		outcome = "denied";
		*result = app_mcp_failure(a, name,
					  "this API key may not call %s: it needs the scope \"%s\" "
					  "and has \"%s\". Ask an admin for a key with that scope.",
					  name, need, p.scopes);
	} else if ((row->admin_only || row->level == APP_LEVEL_CRITICAL) && !admin) {
		outcome = "denied";
		*result =
			app_mcp_failure(a, name,
					"%s is for admins only; your API key (user \"%.100s\") has "
					"the role user.",
					name, p.user);
	} else if (!a->rate_off) {
		char key[400];
		int limit = rate_limit_of(a, row);
		snprintf(key, sizeof key, "%s %s", label, name);
		if (!ratelimit_take(a->rates, key, limit, clock_wall_us(a->clock), &retry)) {
			char at[CLOCK_ISO_MAX];
			int64_t s = (retry + 999999) / 1000000;
			clock_format_utc(clock_wall_us(a->clock) + retry, at);
			at[19] = '\0';
			outcome = "rate_limited";
			*result = app_mcp_failure(
				a, name,
				"Rate limit exceeded for %s: at most %d calls per "
				"hour per user. Try again in %lld min %lld s (at %s "
				"UTC).",
				name, limit, (long long)(s / 60), (long long)(s % 60), at);
		}
	}
	if (!*result && row->level >= APP_LEVEL_HIGH && row->precheck) {
		rc = row->precheck(call, args, result, e);
		if (rc || *result)
			outcome = "error";
	}
	if (!*result && !rc && row->level >= APP_LEVEL_HIGH) {
		const char *user = app_mcp_user(a, call, args);
		if (client_can_elicit(call))
			confirm_by_elicitation(a, call, row, user, args, result, &outcome);
		else
			confirm_by_approval(a, call, row, &p, user, args, result, &outcome,
					    request_id);
	}
	if (!*result && !rc) {
		rc = row->tool.fn(call, args, result, e);
		if (rc || json_is_true(json_object_get(*result, "isError")))
			outcome = "error";
	}

	/* the audit record */
	double ms = (double)(clock_mono_us(clock_system()) - t0) / 1000.0;
	json_t *masked = args ? redact_json_masked(args) : json_object();
	json_t *data = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:f,s:o}", "tool", name, "principal",
				 label, "user_id", app_mcp_user(a, call, args), "role",
				 principal_role_name(p.role), "level", app_level_name(row->level),
				 "outcome", outcome, "duration_ms", ms, "arguments", masked);
	json_object_set_new(data, "principal_user", json_string(p.user));
	if (p.key_id[0])
		json_object_set_new(data, "key_id", json_string(p.key_id));
	if (request_id[0])
		json_object_set_new(data, "request_id", json_string(request_id));
	if (rc && e && e->msg[0]) {
		char msg[sizeof e->msg];
		memcpy(msg, e->msg, sizeof msg);
		redact_text(msg);
		json_object_set_new(data, "error", json_string_lossy(msg));
	}
	if (a->audit) {
		char actor[APP_MCP_PRINCIPAL_MAX];
		struct app_actor who;
		app_mcp_actor(app_mcp_user(a, call, args), actor, &who);
		audit_record(a->audit, actor, data);
	} else {
		json_decref(data);
	}
	return rc;
}

int app_mcp_add_tools(struct app_mcp *a, struct mcp_server *srv, const struct app_tool *rows,
		      size_t n, struct err *e)
{
	for (size_t i = 0; i < n; i++) {
		struct app_tool_slot *slot = xcalloc(1, sizeof *slot);
		struct mcp_tool t = rows[i].tool;
		int rc;

		slot->a = a;
		slot->row = rows[i];
		slot->next = a->tool_slots;
		a->tool_slots = slot;
		t.fn = guard;
		t.data = slot;
		/* a call that may ask for a confirmation talks to the client */
		t.quick = rows[i].tool.quick && rows[i].level < APP_LEVEL_HIGH;
		if ((rc = mcp_server_add_tool(srv, &t, e))) {
			err_prefix(e, "tool %s: ", t.name);
			return rc;
		}
	}
	return ERR_OK;
}

void app_mcp_guard_free(struct app_mcp *a)
{
	while (a->tool_slots) {
		struct app_tool_slot *next = a->tool_slots->next;
		free(a->tool_slots);
		a->tool_slots = next;
	}
	ratelimit_free(a->rates);
	a->rates = NULL;
	json_decref(a->rate_overrides);
	a->rate_overrides = NULL;
}

const struct app_tool *app_mcp_find_tool(struct app_mcp *a, const char *name)
{
	for (struct app_tool_slot *s = a->tool_slots; s && name; s = s->next)
		if (strcmp(s->row.tool.name, name) == 0)
			return &s->row;
	return NULL;
}

json_t *app_mcp_tool_levels(struct app_mcp *a)
{
	json_t *o = json_object();
	for (struct app_tool_slot *s = a->tool_slots; s; s = s->next)
		json_object_set_new(o, s->row.tool.name, json_string(app_level_name(s->row.level)));
	return o;
}

json_t *app_mcp_tool_metrics(struct app_mcp *a)
{
	return a->audit ? audit_metrics(a->audit) : NULL;
}
