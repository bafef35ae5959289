/*
 * llm.h - a client for OpenAI-compatible chat completions (OpenAI, and local
 * servers that speak the same API: llama.cpp's server, vLLM, Ollama's /v1).
 *
 * One blocking call, POST {base_url}/chat/completions with
 * "Authorization: Bearer <api_key>", returning choices[0].message.  Callers
 * build the messages (and tools) themselves; `extra` adds any request field
 * (temperature, max_tokens, tool_choice, response_format, ...).
 * llm_chat_stream asks for the answer as Server-Sent Events ("stream": true)
 * and hands its text to a callback piece by piece as it arrives, assembling
 * tool_calls deltas into the same message llm_chat returns.
 *
 * Errors (the message names the server, and for HTTP errors quotes the API's
 * error.message):
 *   ERR_INVALID  bad arguments, or no API key for api.openai.com
 *   ERR_PERM     401/403: the key was refused
 *   ERR_BUSY     429: rate limited (or out of quota)
 *   ERR_TIMEOUT  no complete answer within timeout_ms
 *   ERR_TOO_BIG  the answer is larger than max_response
 *   ERR_IO       connection failures, other HTTP errors, and answers that are
 *                not a chat completion (not JSON, no choices[0].message)
 *
 * Streaming adds:
 *   ERR_STATE    the callback stopped the answer (on_text returned non-zero,
 *                or stop() said so)
 *   ERR_IO       also: the stream broke off, or ended without finish_reason
 *                or [DONE], or carried an error object
 *
 * Threads: llm_chat and llm_chat_stream may be called from any thread at once (a curl handle per
 * call; the config is only read).  The API key never appears in logs or
 * error messages.
 */
#ifndef AMBIENT_ENGINE_LLM_H
#define AMBIENT_ENGINE_LLM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

#define LLM_DEFAULT_BASE_URL "https://api.openai.com/v1"
#define LLM_DEFAULT_MODEL "gpt-4o-mini"
#define LLM_DEFAULT_TIMEOUT_MS 60000
#define LLM_DEFAULT_MAX_RESPONSE (4u << 20)

/* Strings are borrowed and may be NULL ("use the default"). */
struct llm_config {
	const char *api_key;  /* may be empty for local servers (no Authorization) */
	const char *base_url; /* NULL: LLM_DEFAULT_BASE_URL; with or without a
			       * trailing '/' */
	const char *model;    /* NULL: LLM_DEFAULT_MODEL */
	long timeout_ms;      /* whole call; 0: LLM_DEFAULT_TIMEOUT_MS */
	size_t max_response;  /* bytes; 0: LLM_DEFAULT_MAX_RESPONSE */
	const char *ca_file;  /* extra CA bundle (PEM); NULL: the system's */
};

/* Defaults, then OPENAI_API_KEY, OPENAI_API_BASE (also OPENAI_BASE_URL) and
 * OPENAI_MODEL from the environment (strings are the environment's).
 * base_url and model are never NULL afterwards. */
void llm_config_from_env(struct llm_config *c);

/* The model that will be used (c->model or the default). */
const char *llm_model(const struct llm_config *c);

/* Send messages (a JSON array of {role, content, ...}) and, when not NULL,
 * tools (a JSON array, sent as "tools") and extra (an object whose members
 * are added to the request, overriding model/messages/tools).  On success
 * *message is choices[0].message (a new reference; content may be null when
 * the model called tools).  On failure *message is NULL and e says why. */
int llm_chat(const struct llm_config *c, const json_t *messages, const json_t *tools,
	     const json_t *extra, json_t **message, struct err *e);

/* What llm_chat_stream calls while the answer arrives (on the calling
 * thread).  Both may be NULL. */
struct llm_stream_cb {
	/* A piece of the answer's text (len bytes, not NUL-terminated), in order.
	 * Return 0 to go on, anything else to stop the answer. */
	int (*on_text)(void *ud, const char *text, size_t len);
	/* Polled while waiting (at least about once a second); true stops. */
	bool (*stop)(void *ud);
	void *ud;
};

/* llm_chat with "stream": true.  The text goes to cb->on_text as it comes;
 * *message is then the whole assistant message, as llm_chat gives it:
 * {role, content (null when the model only called tools), tool_calls?
 * [{id, type: "function", function: {name, arguments (JSON text)}}]}.
 * A server that answers in one piece (no streaming support) is accepted: its
 * text goes to on_text at once.  c->timeout_ms is here the longest silence
 * (no byte received), not the length of the whole answer, which may take
 * long with a slow model; max_response caps the whole stream. */
int llm_chat_stream(const struct llm_config *c, const json_t *messages, const json_t *tools,
		    const json_t *extra, const struct llm_stream_cb *cb, json_t **message,
		    struct err *e);

#endif
