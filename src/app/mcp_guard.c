/*
 * mcp_guard.c - the guard around every ambient tool: who is calling, what
 * they may do, how often, and the audit record of what they did.
 *
 * app_mcp_add_tools registers each row with the guard as its handler and
 * the row (copied into a slot the struct app_mcp owns) as its data.
 */
#include "mcp_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

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

static int guard(struct mcp_call *call, const json_t *args, json_t **result, struct err *e)
{
	struct app_tool_slot *slot = mcp_call_data(call);
	return slot->row.tool.fn(call, args, result, e);
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
}
