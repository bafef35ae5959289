/*
 * chat_agent.h - the LLM agent of `ambient chat`: one conversation with an
 * OpenAI-compatible chat completions API (engine/llm.h) whose tools are the
 * MCP server's tools.
 *
 * A turn adds a user message, then calls the model; while the model asks
 * for tools, each call goes to hooks->call_tool and its result goes back to
 * the model as a "tool" message; the turn ends when the model answers
 * without tool calls, or after max_steps model calls.  The conversation
 * (every user, assistant and tool message) is kept for the next turns,
 * trimmed from the oldest turn when it grows past max_history.  The system
 * prompt is sent first on every call and is not part of the history.
 *
 * The agent knows nothing about MCP transports: the caller lists the tools
 * (tools/list shape) and runs them.  Tool names are made acceptable to the
 * API (^[A-Za-z0-9_-]{1,64}$) and mapped back before hooks->call_tool.
 *
 * Threads: one thread at a time per agent; the hooks run on that thread.
 */
#ifndef AMBIENT_CLI_CHAT_AGENT_H
#define AMBIENT_CLI_CHAT_AGENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "engine/llm.h"

#define CHAT_AGENT_DEFAULT_STEPS 10
#define CHAT_AGENT_DEFAULT_HISTORY (256u << 10)    /* bytes of conversation kept */
#define CHAT_AGENT_DEFAULT_TOOL_RESULT (16u << 10) /* bytes of one tool result */
#define CHAT_AGENT_NO_NOTIFICATION "NO_NOTIFICATION_NEEDED"

struct chat_agent;

struct chat_agent_hooks {
	/* The model's text as it arrives (several calls per answer). */
	void (*on_text)(void *ud, const char *text, size_t len);
	/* The model finished one answer (text or tool calls). */
	void (*on_answer_end)(void *ud);
	/* A tool is about to run: its MCP name and its arguments (JSON text). */
	void (*on_tool_call)(void *ud, const char *name, const char *args);
	/* Its result, as the model is told it. */
	void (*on_tool_result)(void *ud, const char *name, const char *text, bool is_error);
	/* Run the MCP tool `name` with `args` (an object).  Set *text (heap) to
	 * what the model is told and *is_error.  Return 0, or an error code
	 * when the call could not be made (*text then says why, for the model). */
	int (*call_tool)(void *ud, const char *name, const json_t *args, char **text,
			 bool *is_error);
	/* Polled while the model answers; true interrupts the turn. */
	bool (*stop)(void *ud);
	void *ud;
};

struct chat_agent_options {
	struct llm_config llm;  /* strings borrowed for the agent's life */
	int max_steps;          /* model calls per turn; 0: CHAT_AGENT_DEFAULT_STEPS */
	bool no_stream;         /* llm_chat instead of llm_chat_stream */
	size_t max_history;     /* 0: CHAT_AGENT_DEFAULT_HISTORY */
	size_t max_tool_result; /* 0: CHAT_AGENT_DEFAULT_TOOL_RESULT */
	const json_t *extra;    /* extra request fields (borrowed, copied); may be NULL */
};

/* CONSTRUCTOR; hooks are copied.  Never fails. */
struct chat_agent *chat_agent_new(const struct chat_agent_options *o,
				  const struct chat_agent_hooks *hooks);
/* DESTRUCTOR; NULL is fine. */
void chat_agent_free(struct chat_agent *a);

/* The system prompt sent before the conversation (copied). */
void chat_agent_set_system(struct chat_agent *a, const char *prompt);

/* The tools the model may call, from a tools/list array ({name, description,
 * inputSchema}; borrowed).  Returns how many were kept. */
size_t chat_agent_set_tools(struct chat_agent *a, const json_t *mcp_tools);

/* Whether the MCP tool `name` is among the agent's tools. */
bool chat_agent_has_tool(const struct chat_agent *a, const char *name);

/*
 * One turn for the user message `text`.  On success *answer (heap) is the
 * model's final text ("" when it gave none).  Errors: those of llm_chat /
 * llm_chat_stream (ERR_STATE when hooks->stop interrupted it), ERR_TOO_BIG
 * when the model still wanted tools after max_steps calls.  After an error
 * the history keeps what happened (a model failure on the first call leaves
 * it as it was).
 */
int chat_agent_turn(struct chat_agent *a, const char *text, char **answer, struct err *e);

/* The conversation so far (borrowed: user, assistant and tool messages). */
const json_t *chat_agent_history(const struct chat_agent *a);
/* Forget the conversation (not the system prompt or tools). */
void chat_agent_reset(struct chat_agent *a);

/* ---- building blocks, exported for the tests ------------------------------ */

/* OpenAI function tools for a tools/list array; `names` (an object, may be
 * NULL) gets api name -> MCP name.  New array. */
json_t *chat_agent_openai_tools(const json_t *mcp_tools, json_t *names);

/* The text a model is told for a CallToolResult ({content[], structuredContent?,
 * isError?}): text parts joined, other parts described, at most max bytes
 * (cut on a UTF-8 boundary, with a note).  *is_error from isError.  Heap. */
char *chat_agent_result_text(const json_t *result, size_t max, bool *is_error);

/* The system prompt: what ambient's tasks are, the config examples (text of
 * event://config/examples, may be NULL), where events go (callback_url may
 * be NULL: the server's default), the server's instructions (may be NULL),
 * and which notification tools exist.  Heap. */
char *chat_agent_system_prompt(const char *examples, const char *callback_url,
			       const char *instructions, bool has_sms, bool has_email);

/* The user message that asks the agent about arriving events (an array of
 * feedback payloads: task_id, event_type, priority, timestamp, data, ...),
 * as the original's process_event_feedback step did.  Heap. */
char *chat_agent_event_prompt(const json_t *events, bool has_sms, bool has_email);

/* Whether an answer means "no notification needed". */
bool chat_agent_no_notification(const char *answer);

#endif
