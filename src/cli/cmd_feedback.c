/*
 * cmd_feedback.c - `ambient feedback`: the Event Feedback Server over HTTP.
 *
 * Routes (no MCP endpoint; src/app/feedback.c does the work, this file maps
 * requests to it and rejections to statuses):
 *   POST /process_background_feedback  receive a delivery (alias /event_callback)
 *   GET  /                             service info (JSON); the dashboard for browsers
 *   GET  /assets/...                   the dashboard's CSS and JS
 *   GET  /health                       health check
 *   GET  /events                       stored events, filtered, cursor-paged
 *   GET  /events/{event_type}          the same for one type
 *   GET  /events/recent                the original server's summary
 *   GET  /events/stream                SSE, resumable with Last-Event-ID = seq
 *   GET  /ws                           the same live feed over a WebSocket
 *   GET  /notifications                notification outcomes (src/app/notifier.c)
 *   GET  /metrics                      Prometheus text format
 *   GET  /openapi.json                 OpenAPI 3.1 description of all this
 *
 * The first line on stdout is "listening http://HOST:PORT" once the socket
 * is bound (with --listen HOST:0 it carries the port the kernel chose).
 * SIGINT/SIGTERM stop it cleanly.  docs/feedback.md is the user's page.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "app/auth.h"
#include "app/feedback.h"
#include "app/notifier.h"
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
#include "domain/principal.h"
#include "transport/http_server.h"

#define SERVICE_NAME "Event Feedback Server"
#define RECENT_N 10   /* events in /events/recent, as the original */
#define SSE_BATCH 100 /* stored events looked at per SSE read */
#define SSE_WAIT_MS 500
#define SSE_RETRY_MS 2000

const struct config_option cli_feedback_options[] = {
	{"listen", CONFIG_STRING, "AMBIENT_FEEDBACK_LISTEN", "127.0.0.1:8000", "HOST:PORT",
	 "address to listen on (port 0: any free port)"},
	{"feedback-db", CONFIG_STRING, "AMBIENT_FEEDBACK_DB", NULL, "URL",
	 "the feedback server's own event store: sqlite:PATH (default: "
	 "sqlite:DATA_DIR/feedback.db)"},
	{"api-keys", CONFIG_STRING, "AMBIENT_API_KEYS", NULL, "LIST",
	 "extra admin keys (comma-separated) besides those of `ambient keys create`, which are "
	 "read from the main store (--db)"},
	{"no-auth", CONFIG_BOOL, "AMBIENT_NO_AUTH", NULL, NULL,
	 "do not check API keys on the read routes even when some exist (only on loopback)"},
	{"webhook-secret", CONFIG_STRING, "AMBIENT_WEBHOOK_SECRET", NULL, "SECRET",
	 "require Standard Webhooks signatures made with this whsec_<base64> secret (prefer the "
	 "environment variable: flags show in ps)"},
	{"webhook-tolerance", CONFIG_INT, NULL, "300", "SECONDS",
	 "how far webhook-timestamp may be from the server's clock", 1, 86400},
	{"max-body", CONFIG_INT, NULL, "1048576", "BYTES",
	 "largest request body accepted (larger ones get 413)", 1024, 1048576},
	{"allow-host", CONFIG_STRING, "AMBIENT_FEEDBACK_ALLOW_HOST", NULL, "LIST",
	 "extra Host/Origin names accepted besides localhost (comma-separated), or '*' for any"},
	{"pid-file", CONFIG_STRING, NULL, NULL, "PATH",
	 "write the process id here once listening (removed on a clean stop)"},
	/* Deciding and notifying (docs/feedback.md#notifications). */
	{"no-notify", CONFIG_BOOL, NULL, "false", NULL,
	 "only receive and store: no decisions, no notifications"},
	{"notify", CONFIG_STRING, "AMBIENT_NOTIFY", NULL, "TARGETS",
	 "who to tell about events whose task has no notification config: Apprise-style URLs "
	 "(mailto:me@example.com, twilio://..., ntfy://topic, json://host/path), "
	 "comma-separated, or a JSON notification value"},
	{"notify-rules", CONFIG_STRING, "AMBIENT_NOTIFY_RULES", NULL, "JSON|@FILE",
	 "decision rules: min_priority per channel, dedupe_window, quiet_hours, rate_limit, "
	 "batch (a JSON object, or @path of a file holding one)"},
	CLI_CHANNEL_OPTIONS,
	{"notify-webhook-secret", CONFIG_STRING, "AMBIENT_NOTIFY_WEBHOOK_SECRET", NULL, "SECRET",
	 "whsec_<base64> secret that signs webhook notifications"},
	{"no-llm", CONFIG_BOOL, NULL, "false", NULL,
	 "decide by the rules alone even when OPENAI_API_KEY is set"},
	{"openai-api-key", CONFIG_STRING, "OPENAI_API_KEY", NULL, "KEY",
	 "an OpenAI-compatible API key: an LLM then decides whether to notify and writes the "
	 "message (prefer the environment variable)"},
	{"openai-api-base", CONFIG_STRING, "OPENAI_API_BASE", "https://api.openai.com/v1", "URL",
	 "OpenAI-compatible API base URL (llama.cpp, vLLM, Ollama ...)"},
	{"openai-model", CONFIG_STRING, "OPENAI_MODEL", "gpt-4o-mini", "MODEL",
	 "model for the notification decision"},
	{NULL},
};

/* The OpenAPI 3.1 description (info.version is set at start). */
static const char openapi_text[] =
	"{\"openapi\": \"3.1.0\", \"info\": {\"title\": \"ambient Event Feedback Server\", "
	"\"version\": \"0\", \"summary\": \"Receives background-task events from ambient, "
	"verifies and stores them, and serves them to clients.\", \"description\": "
	"\"Deliveries are POSTed by ambient's webhook subscriber (or any sender) with Standard "
	"Webhooks headers. When the server has a secret (--webhook-secret / "
	"AMBIENT_WEBHOOK_SECRET) every delivery must be signed: webhook-signature is a "
	"space-separated list of 'v1,<base64 HMAC-SHA256 of "
	"webhook-id.webhook-timestamp.body>' and webhook-timestamp must be within 5 minutes of "
	"the server's clock. Deliveries are deduplicated by webhook-id (or the payload's "
	"event_id) and stored durably; each stored event has a seq, its position in the "
	"feedback store, used by cursors and as the SSE event id.\", \"license\": {\"name\": "
	"\"see the ambient distribution\"}}, \"paths\": {\"/process_background_feedback\": "
	"{\"post\": {\"operationId\": \"processBackgroundFeedback\", \"summary\": \"Receive "
	"one event delivery\", \"parameters\": [{\"$ref\": \"#/components/parameters/WebhookId"
	"\"}, {\"$ref\": \"#/components/parameters/WebhookTimestamp\"}, {\"$ref\": "
	"\"#/components/parameters/WebhookSignature\"}], \"requestBody\": {\"required\": true, "
	"\"content\": {\"application/json\": {\"schema\": {\"$ref\": "
	"\"#/components/schemas/FeedbackPayload\"}}}}, \"responses\": {\"200\": "
	"{\"description\": \"Stored, or already stored (status 'duplicate'); either way the "
	"sender is done.\", \"content\": {\"application/json\": {\"schema\": {\"$ref\": "
	"\"#/components/schemas/Receipt\"}}}}, \"400\": {\"$ref\": "
	"\"#/components/responses/BadRequest\"}, \"401\": {\"description\": \"Signature "
	"missing, not matching, or timestamp outside the tolerance (error: missing_signature, "
	"invalid_signature, stale_timestamp).\", \"content\": {\"application/json\": "
	"{\"schema\": {\"$ref\": \"#/components/schemas/Error\"}}}}, \"413\": "
	"{\"description\": \"The body is larger than --max-body (error: payload_too_large).\", "
	"\"content\": {\"application/json\": {\"schema\": {\"$ref\": "
	"\"#/components/schemas/Error\"}}}}, \"503\": {\"description\": \"The store could not "
	"take the event now (error: store_unavailable); retry later.\", \"content\": "
	"{\"application/json\": {\"schema\": {\"$ref\": \"#/components/schemas/Error\"}}}}}}}, "
	"\"/event_callback\": {\"post\": {\"operationId\": \"eventCallback\", \"summary\": "
	"\"Alias of POST /process_background_feedback (the later original server's name)\", "
	"\"parameters\": [{\"$ref\": \"#/components/parameters/WebhookId\"}, {\"$ref\": "
	"\"#/components/parameters/WebhookTimestamp\"}, {\"$ref\": "
	"\"#/components/parameters/WebhookSignature\"}], \"requestBody\": {\"required\": true, "
	"\"content\": {\"application/json\": {\"schema\": {\"$ref\": "
	"\"#/components/schemas/FeedbackPayload\"}}}}, \"responses\": {\"200\": "
	"{\"description\": \"As POST /process_background_feedback.\", \"content\": "
	"{\"application/json\": {\"schema\": {\"$ref\": \"#/components/schemas/Receipt\"}}}}, "
	"\"default\": {\"description\": \"As POST /process_background_feedback.\", "
	"\"content\": {\"application/json\": {\"schema\": {\"$ref\": "
	"\"#/components/schemas/Error\"}}}}}}}, \"/\": {\"get\": {\"operationId\": "
	"\"serviceInfo\", \"summary\": \"Service information (JSON), or a page of recent "
	"events when the client prefers text/html\", \"responses\": {\"200\": "
	"{\"description\": \"Service information.\", \"content\": {\"application/json\": "
	"{\"schema\": {\"$ref\": \"#/components/schemas/ServiceInfo\"}}, \"text/html\": "
	"{\"schema\": {\"type\": \"string\"}}}}}}}, \"/health\": {\"get\": {\"operationId\": "
	"\"health\", \"summary\": \"Health check\", \"responses\": {\"200\": {\"description\": "
	"\"Healthy.\", \"content\": {\"application/json\": {\"schema\": {\"$ref\": "
	"\"#/components/schemas/Health\"}}}}, \"503\": {\"description\": \"The store cannot be "
	"read.\", \"content\": {\"application/json\": {\"schema\": {\"$ref\": "
	"\"#/components/schemas/Health\"}}}}}}}, \"/events\": {\"get\": {\"operationId\": "
	"\"listEvents\", \"summary\": \"Stored events, newest first (or oldest first with "
	"order=asc), filtered, one page at a time\", \"parameters\": [{\"$ref\": "
	"\"#/components/parameters/EventTypeQuery\"}, {\"$ref\": "
	"\"#/components/parameters/TaskId\"}, {\"$ref\": \"#/components/parameters/Priority\"},"
	" {\"$ref\": \"#/components/parameters/MinPriority\"}, {\"$ref\": "
	"\"#/components/parameters/Since\"}, {\"$ref\": \"#/components/parameters/Until\"}, "
	"{\"$ref\": \"#/components/parameters/Cursor\"}, {\"$ref\": "
	"\"#/components/parameters/Order\"}, {\"$ref\": \"#/components/parameters/Limit\"}], "
	"\"responses\": {\"200\": {\"description\": \"One page.\", \"content\": "
	"{\"application/json\": {\"schema\": {\"$ref\": \"#/components/schemas/EventPage\"}}}},"
	" \"400\": {\"$ref\": \"#/components/responses/BadQuery\"}}}}, "
	"\"/events/{event_type}\": {\"get\": {\"operationId\": \"listEventsOfType\", "
	"\"summary\": \"Stored events of one event_type (same filters and paging as "
	"/events)\", \"parameters\": [{\"name\": \"event_type\", \"in\": \"path\", "
	"\"required\": true, \"schema\": {\"$ref\": \"#/components/schemas/EventType\"}}, "
	"{\"$ref\": \"#/components/parameters/TaskId\"}, {\"$ref\": "
	"\"#/components/parameters/Priority\"}, {\"$ref\": \"#/components/parameters/MinPriorit"
	"y\"}, {\"$ref\": \"#/components/parameters/Since\"}, {\"$ref\": "
	"\"#/components/parameters/Until\"}, {\"$ref\": \"#/components/parameters/Cursor\"}, "
	"{\"$ref\": \"#/components/parameters/Order\"}, {\"$ref\": "
	"\"#/components/parameters/Limit\"}], \"responses\": {\"200\": {\"description\": \"One "
	"page.\", \"content\": {\"application/json\": {\"schema\": {\"$ref\": "
	"\"#/components/schemas/EventPage\"}}}}, \"400\": {\"$ref\": "
	"\"#/components/responses/BadQuery\"}}}}, \"/events/recent\": {\"get\": "
	"{\"operationId\": \"recentEvents\", \"summary\": \"The original server's summary: "
	"total, the last 10 events (oldest first), the event types seen\", \"responses\": "
	"{\"200\": {\"description\": \"Summary.\", \"content\": {\"application/json\": "
	"{\"schema\": {\"$ref\": \"#/components/schemas/Recent\"}}}}}}}, \"/notifications"
	"\": {\"get\": {\"operationId\": \"listNotifications\", \"summary\": \"Notificati"
	"on outcomes (sent, failed, skipped, suppressed), newest first\", \"parameters\":"
	" [{\"$ref\": \"#/components/parameters/TaskId\"}, {\"name\": \"channel\", \"in\""
	": \"query\", \"required\": false, \"schema\": {\"type\": \"string\", \"enum\": ["
	"\"sms\", \"email\", \"webhook\", \"ntfy\"]}}, {\"name\": \"outcome\", \"in\": \""
	"query\", \"required\": false, \"schema\": {\"type\": \"string\", \"enum\": [\"se"
	"nt\", \"failed\", \"skipped\", \"suppressed\"]}}, {\"name\": \"feedback_id\", \""
	"in\": \"query\", \"required\": false, \"schema\": {\"type\": \"string\", \"forma"
	"t\": \"uuid\"}}, {\"name\": \"event\", \"in\": \"query\", \"required\": false, \""
	"schema\": {\"type\": \"integer\", \"minimum\": 1}, \"description\": \"The seq of"
	" the received event.\"}, {\"$ref\": \"#/components/parameters/Limit\"}, {\"$ref\""
	": \"#/components/parameters/Cursor\"}], \"responses\": {\"200\": {\"description\""
	": \"One page.\", \"content\": {\"application/json\": {\"schema\": {\"type\": \"o"
	"bject\", \"required\": [\"notifications\", \"count\", \"next_cursor\"], \"proper"
	"ties\": {\"notifications\": {\"type\": \"array\", \"items\": {\"type\": \"object"
	"\", \"required\": [\"seq\", \"type\", \"outcome\", \"recorded_at\", \"task_id\","
	" \"channel\", \"to\"]}}, \"count\": {\"type\": \"integer\"}, \"next_cursor\": {\""
	"type\": [\"string\", \"null\"]}}}}}}, \"400\": {\"$ref\": \"#/components/respons"
	"es/BadQuery\"}}}}, \"/events/stream\": "
	"{\"get\": {\"operationId\": \"streamEvents\", \"summary\": \"Live events as "
	"Server-Sent Events; resumable\", \"description\": \"Each stored event that matches "
	"the filters is sent as an SSE message whose id is its seq and whose data is the event "
	"(StoredEvent) as JSON. Without Last-Event-ID or after, only events stored from now on "
	"are sent. Reconnecting with Last-Event-ID (what EventSource does) resumes after that "
	"seq; after=0 replays everything. Comments (': keepalive') are sent every 15 s.\", "
	"\"parameters\": [{\"name\": \"Last-Event-ID\", \"in\": \"header\", \"required\": "
	"false, \"schema\": {\"type\": \"string\", \"pattern\": \"^[0-9]+$\"}, "
	"\"description\": \"Resume after this seq.\"}, {\"name\": \"after\", \"in\": "
	"\"query\", \"required\": false, \"schema\": {\"type\": \"integer\", \"minimum\": 0}, "
	"\"description\": \"Start after this seq (the header wins).\"}, {\"$ref\": "
	"\"#/components/parameters/EventTypeQuery\"}, {\"$ref\": "
	"\"#/components/parameters/TaskId\"}, {\"$ref\": \"#/components/parameters/Priority\"},"
	" {\"$ref\": \"#/components/parameters/MinPriority\"}], \"responses\": {\"200\": "
	"{\"description\": \"An endless text/event-stream.\", \"content\": "
	"{\"text/event-stream\": {\"schema\": {\"type\": \"string\"}}}}, \"400\": {\"$ref\": "
	"\"#/components/responses/BadQuery\"}}}}, \"/metrics\": {\"get\": {\"operationId\": "
	"\"metrics\", \"summary\": \"Counters in the Prometheus text format\", \"responses\": "
	"{\"200\": {\"description\": \"Metrics.\", \"content\": {\"text/plain\": {\"schema\": "
	"{\"type\": \"string\"}}}}}}}, \"/openapi.json\": {\"get\": {\"operationId\": "
	"\"openapi\", \"summary\": \"This document\", \"responses\": {\"200\": "
	"{\"description\": \"OpenAPI 3.1.\", \"content\": {\"application/json\": {\"schema\": "
	"{\"type\": \"object\"}}}}}}}}, \"components\": {\"parameters\": {\"WebhookId\": "
	"{\"name\": \"webhook-id\", \"in\": \"header\", \"required\": false, \"schema\": "
	"{\"type\": \"string\", \"maxLength\": 256}, \"description\": \"Unique message id, the "
	"same for every retry; the deduplication key. Required when the server has a "
	"secret.\"}, \"WebhookTimestamp\": {\"name\": \"webhook-timestamp\", \"in\": "
	"\"header\", \"required\": false, \"schema\": {\"type\": \"string\", \"pattern\": "
	"\"^[0-9]+$\"}, \"description\": \"Unix seconds when the delivery was signed. Required "
	"when the server has a secret.\"}, \"WebhookSignature\": {\"name\": "
	"\"webhook-signature\", \"in\": \"header\", \"required\": false, \"schema\": "
	"{\"type\": \"string\"}, \"description\": \"Space-separated 'v1,<base64 HMAC-SHA256>' "
	"signatures. Required when the server has a secret.\"}, \"EventTypeQuery\": {\"name\": "
	"\"event_type\", \"in\": \"query\", \"required\": false, \"schema\": {\"$ref\": "
	"\"#/components/schemas/EventType\"}}, \"TaskId\": {\"name\": \"task_id\", \"in\": "
	"\"query\", \"required\": false, \"schema\": {\"$ref\": "
	"\"#/components/schemas/TaskId\"}}, \"Priority\": {\"name\": \"priority\", \"in\": "
	"\"query\", \"required\": false, \"schema\": {\"type\": \"integer\", \"minimum\": 1, "
	"\"maximum\": 5}, \"description\": \"Exactly this priority.\"}, \"MinPriority\": "
	"{\"name\": \"min_priority\", \"in\": \"query\", \"required\": false, \"schema\": "
	"{\"type\": \"integer\", \"minimum\": 1, \"maximum\": 5}, \"description\": \"At least "
	"this priority.\"}, \"Since\": {\"name\": \"since\", \"in\": \"query\", \"required\": "
	"false, \"schema\": {\"type\": \"string\"}, \"description\": \"Received at or after: "
	"ISO-8601 (with Z or an offset; naive means the server's local time) or Unix "
	"seconds.\"}, \"Until\": {\"name\": \"until\", \"in\": \"query\", \"required\": false, "
	"\"schema\": {\"type\": \"string\"}, \"description\": \"Received before: ISO-8601 or "
	"Unix seconds.\"}, \"Cursor\": {\"name\": \"cursor\", \"in\": \"query\", \"required\": "
	"false, \"schema\": {\"type\": \"string\", \"pattern\": \"^[0-9]+$\"}, "
	"\"description\": \"next_cursor of the previous page (same filters and order).\"}, "
	"\"Order\": {\"name\": \"order\", \"in\": \"query\", \"required\": false, \"schema\": "
	"{\"type\": \"string\", \"enum\": [\"desc\", \"asc\"], \"default\": \"desc\"}}, "
	"\"Limit\": {\"name\": \"limit\", \"in\": \"query\", \"required\": false, \"schema\": "
	"{\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1000, \"default\": 50}}}, "
	"\"responses\": {\"BadRequest\": {\"description\": \"The body is not JSON "
	"(invalid_json), not a valid event (invalid_payload), or a header is malformed "
	"(invalid_header).\", \"content\": {\"application/json\": {\"schema\": {\"$ref\": "
	"\"#/components/schemas/Error\"}}}}, \"BadQuery\": {\"description\": \"A query "
	"argument is not valid (invalid_query).\", \"content\": {\"application/json\": "
	"{\"schema\": {\"$ref\": \"#/components/schemas/Error\"}}}}}, \"schemas\": "
	"{\"TaskId\": {\"type\": \"string\", \"pattern\": \"^[A-Za-z0-9._:@+-]{1,128}$\"}, "
	"\"EventType\": {\"type\": \"string\", \"pattern\": \"^[A-Za-z0-9._:-]{1,100}$\", "
	"\"examples\": [\"web_content_change\", \"scheduled_trigger\", \"daily_news_digest\", "
	"\"threshold_breach\"]}, \"FeedbackPayload\": {\"type\": \"object\", \"required\": "
	"[\"task_id\", \"event_type\"], \"properties\": {\"task_id\": {\"$ref\": "
	"\"#/components/schemas/TaskId\"}, \"event_type\": {\"$ref\": "
	"\"#/components/schemas/EventType\"}, \"data\": {\"type\": \"object\", "
	"\"description\": \"What the task found; {} when absent.\"}, \"timestamp\": {\"type\": "
	"\"string\", \"description\": \"ISO-8601 date-time of the event.\"}, \"priority\": "
	"{\"type\": \"integer\", \"minimum\": 1, \"maximum\": 5, \"description\": \"Defaults "
	"to the event type's catalogue priority (1 for unknown types).\"}, \"event_id\": "
	"{\"type\": \"string\", \"format\": \"uuid\"}, \"task_type\": {\"type\": \"string\", "
	"\"maxLength\": 100}, \"user_id\": {\"type\": \"string\", \"maxLength\": 256}, "
	"\"description\": {\"type\": \"string\", \"maxLength\": 10000}, \"position\": "
	"{\"type\": \"integer\", \"minimum\": 0, \"description\": \"The event's position in "
	"the sender's log.\"}, \"notification\": {\"type\": \"object\", \"description\": \"The "
	"task's notification config, e.g. {\\\"method\\\": \\\"send_sms\\\", "
	"\\\"phone_number\\\": \\\"+15551234567\\\"}.\"}}, \"additionalProperties\": true}, "
	"\"StoredEvent\": {\"allOf\": [{\"$ref\": \"#/components/schemas/FeedbackPayload\"}], "
	"\"type\": \"object\", \"required\": [\"task_id\", \"event_type\", \"data\", "
	"\"priority\", \"received_at\", \"seq\", \"feedback_id\", \"signature_verified\"], "
	"\"properties\": {\"received_at\": {\"type\": \"string\", \"description\": \"When it "
	"was received, local time, ISO-8601 without zone (the original server's form).\"}, "
	"\"seq\": {\"type\": \"integer\", \"minimum\": 1, \"description\": \"Position in the "
	"feedback store.\"}, \"feedback_id\": {\"type\": \"string\", \"format\": \"uuid\", "
	"\"description\": \"Its id in the feedback store (the deduplication key).\"}, "
	"\"webhook_id\": {\"type\": \"string\"}, \"signature_verified\": {\"type\": "
	"\"boolean\"}}}, \"EventPage\": {\"type\": \"object\", \"required\": [\"events\", "
	"\"count\", \"next_cursor\", \"order\"], \"properties\": {\"events\": {\"type\": "
	"\"array\", \"items\": {\"$ref\": \"#/components/schemas/StoredEvent\"}}, \"count\": "
	"{\"type\": \"integer\"}, \"next_cursor\": {\"type\": [\"string\", \"null\"], "
	"\"description\": \"Pass as cursor for the next page; null at the end.\"}, \"order\": "
	"{\"type\": \"string\", \"enum\": [\"desc\", \"asc\"]}}}, \"Receipt\": {\"type\": "
	"\"object\", \"required\": [\"status\", \"message\", \"feedback_id\", \"duplicate\"], "
	"\"properties\": {\"status\": {\"type\": \"string\", \"enum\": [\"received\", "
	"\"duplicate\"]}, \"message\": {\"type\": \"string\"}, \"feedback_id\": {\"type\": "
	"\"string\", \"format\": \"uuid\"}, \"seq\": {\"type\": [\"integer\", \"null\"]}, "
	"\"duplicate\": {\"type\": \"boolean\"}, \"task_id\": {\"type\": \"string\"}, "
	"\"event_type\": {\"type\": \"string\"}, \"received_at\": {\"type\": \"string\"}}}, "
	"\"Recent\": {\"type\": \"object\", \"required\": [\"total_events\", "
	"\"recent_events\", \"event_types\"], \"properties\": {\"total_events\": {\"type\": "
	"\"integer\"}, \"recent_events\": {\"type\": \"array\", \"items\": {\"$ref\": "
	"\"#/components/schemas/StoredEvent\"}}, \"event_types\": {\"type\": \"array\", "
	"\"items\": {\"type\": \"string\"}}}}, \"Health\": {\"type\": \"object\", "
	"\"required\": [\"status\", \"timestamp\"], \"properties\": {\"status\": {\"type\": "
	"\"string\", \"enum\": [\"healthy\", \"unhealthy\"]}, \"service\": {\"type\": "
	"\"string\"}, \"version\": {\"type\": \"string\"}, \"timestamp\": {\"type\": "
	"\"string\"}, \"events_processed\": {\"type\": \"integer\"}, \"agent_endpoint\": "
	"{\"type\": [\"string\", \"null\"]}, \"store_position\": {\"type\": \"integer\"}, "
	"\"signatures_required\": {\"type\": \"boolean\"}, \"error\": {\"type\": "
	"\"string\"}}}, \"ServiceInfo\": {\"type\": \"object\", \"required\": [\"service\", "
	"\"version\", \"status\", \"endpoints\"], \"properties\": {\"service\": {\"type\": "
	"\"string\"}, \"version\": {\"type\": \"string\"}, \"status\": {\"type\": \"string\"}, "
	"\"purpose\": {\"type\": \"string\"}, \"endpoints\": {\"type\": \"array\", \"items\": "
	"{\"type\": \"string\"}}, \"agent_endpoint\": {\"type\": [\"string\", \"null\"]}, "
	"\"events_processed\": {\"type\": \"integer\"}, \"signatures_required\": {\"type\": "
	"\"boolean\"}, \"store\": {\"type\": \"string\"}}}, \"Error\": {\"type\": \"object\", "
	"\"required\": [\"error\", \"message\"], \"properties\": {\"error\": {\"type\": "
	"\"string\", \"description\": \"A stable code: invalid_json, invalid_payload, "
	"invalid_header, payload_too_large, missing_signature, invalid_signature, "
	"stale_timestamp, store_unavailable, invalid_query, not_found, method_not_allowed, "
	"forbidden.\"}, \"message\": {\"type\": \"string\", \"description\": \"What was wrong "
	"and how to fix it.\"}}}}}}";

struct fbsrv {
	struct app_auth *auth; /* checks keys when auth_on */
	bool auth_on;
	struct feedback *fb;
	struct notifier *nt; /* NULL with --no-notify */
	struct store *s;
	char *openapi; /* openapi_text with the version filled in */
	atomic_int sse_clients;
	atomic_int ws_clients;
};

/* ---- helpers ------------------------------------------------------------------- */

/* Who reads: with authentication on, the API key of the Authorization
 * header (or of ?access_token=, for browsers' EventSource and WebSocket,
 * which cannot send headers) must be valid; a user sees only the events of
 * their own tasks (*user set), an admin all (*user ""); false after 401. */
static bool reader(struct fbsrv *sv, const struct http_request *req, struct http_response *res,
		   char user[PRINCIPAL_USER_MAX + 1])
{
	const char *h = http_request_header(req, "Authorization");
	const char *token = h && strncasecmp(h, "Bearer ", 7) == 0 ? h + 7 : NULL;
	struct principal p;
	struct err e = {0};

	user[0] = '\0';
	if (!sv->auth_on)
		return true;
	if (!token)
		token = http_request_arg(req, "access_token");
	if (!token || app_auth_check(sv->auth, token, &p, &e) != ERR_OK) {
		http_response_error(res, 401, "unauthorized",
				    token ? "The API key was refused (unknown, revoked or malformed)"
					  : "Send an API key as 'Authorization: Bearer KEY' (see "
					    "`ambient keys create`)");
		http_response_header(res, "WWW-Authenticate", "Bearer");
		return false;
	}
	if (p.role != PRINCIPAL_ROLE_ADMIN)
		snprintf(user, PRINCIPAL_USER_MAX + 1, "%s", p.user);
	return true;
}

static int reject_status(enum feedback_reject r)
{
	switch (r) {
	case FEEDBACK_REJECT_TOO_LARGE:
		return 413;
	case FEEDBACK_REJECT_MISSING_SIGNATURE:
	case FEEDBACK_REJECT_INVALID_SIGNATURE:
	case FEEDBACK_REJECT_STALE_TIMESTAMP:
		return 401;
	case FEEDBACK_REJECT_STORE:
		return 503;
	default:
		return 400;
	}
}

static void reply_json(struct http_response *res, int status, json_t *j)
{
	http_response_json(res, status, json_to_text(j));
	json_decref(j);
}

/* Query arguments for feedback_query_parse; a path's event type wins. */
struct args {
	const struct http_request *req;
	const char *path_type;
};

static const char *args_get(void *ud, const char *name)
{
	struct args *a = ud;
	if (a->path_type && strcmp(name, "event_type") == 0)
		return a->path_type;
	return http_request_arg(a->req, name);
}

static bool prefers_html(const struct http_request *req)
{
	const char *accept = http_request_header(req, "Accept");
	if (!accept)
		return false;
	const char *html = strstr(accept, "text/html");
	const char *json = strstr(accept, "application/json");
	return html && (!json || html < json);
}

/* ---- POST /process_background_feedback ------------------------------------------ */

static void route_receive(void *data, const struct http_request *req, struct http_response *res)
{
	struct fbsrv *sv = data;
	struct feedback_delivery d = {
		.body = req->body,
		.len = req->body_len,
		.webhook_id = http_request_header(req, "webhook-id"),
		.webhook_timestamp = http_request_header(req, "webhook-timestamp"),
		.webhook_signature = http_request_header(req, "webhook-signature"),
	};
	struct feedback_receipt r;
	struct err e = {0};
	if (feedback_receive(sv->fb, &d, &r, &e) != ERR_OK) {
		int status = reject_status(r.reject);
		log_info("feedback: refused a delivery (%d %s): %s", status,
			 feedback_reject_name(r.reject), err_msg(&e));
		http_response_error(res, status, feedback_reject_name(r.reject), err_msg(&e));
		if (status == 503)
			http_response_header(res, "Retry-After", "5");
		return;
	}
	json_t *j = json_pack("{s:s,s:s,s:s,s:o,s:b}", "status",
			      r.duplicate ? "duplicate" : "received", "message",
			      r.duplicate ? "Already received (same webhook-id or event_id); not "
					    "stored again"
					  : "Event stored",
			      "feedback_id", r.id, "seq", r.seq ? json_integer(r.seq) : json_null(),
			      "duplicate", r.duplicate);
	if (r.event) {
		static const char *const keys[] = {"task_id", "event_type", "received_at"};
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			json_object_set(j, keys[i], json_object_get(r.event, keys[i]));
		log_info("feedback: stored %s %s for task %s (seq %" PRId64 ")", r.id,
			 json_get_str(r.event, "event_type"), json_get_str(r.event, "task_id"),
			 r.seq);
		json_decref(r.event);
	}
	reply_json(res, 200, j);
}

/* ---- GET /, /health, /metrics, /openapi.json --------------------------------------- */

static const char *const endpoint_list[] = {
	"POST /process_background_feedback",
	"GET /health",
	"GET /events",
	"GET /events/{event_type}",
	"GET /events/recent",
	"GET /events/stream",
	"GET /ws",
	"GET /notifications",
	"GET /metrics",
	"GET /openapi.json",
};

static void route_root(void *data, const struct http_request *req, struct http_response *res)
{
	struct fbsrv *sv = data;
	http_response_header(res, "Vary", "Accept");
	if (prefers_html(req)) {
		web_api_page(res, "feedback.html"); /* the dashboard */
		return;
	}
	struct feedback_stats st;
	feedback_stats(sv->fb, &st, NULL);
	json_t *eps = json_array();
	for (size_t i = 0; i < sizeof(endpoint_list) / sizeof(endpoint_list[0]); i++)
		json_array_append_new(eps, json_string(endpoint_list[i]));
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:o,s:n,s:I,s:b,s:s}", "service", SERVICE_NAME,
			      "version", AMBIENT_VERSION, "status", "running", "purpose",
			      "Receives background task events from ambient, verifies and "
			      "stores them, and serves them to clients (GET /events, SSE at "
			      "/events/stream)",
			      "endpoints", eps, "agent_endpoint", "events_processed",
			      (json_int_t)st.stored, "signatures_required", st.signatures, "store",
			      store_url(sv->s));
	reply_json(res, 200, j);
}

static void route_health(void *data, const struct http_request *req, struct http_response *res)
{
	(void)req;
	struct fbsrv *sv = data;
	char ts[CLOCK_ISO_MAX];
	clock_format_local(clock_wall_us(NULL), ts);
	struct feedback_stats st;
	struct err e = {0};
	int rc = feedback_stats(sv->fb, &st, &e);
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:I,s:n,s:I,s:b}", "status",
			      rc == ERR_OK ? "healthy" : "unhealthy", "service", SERVICE_NAME,
			      "version", AMBIENT_VERSION, "timestamp", ts, "events_processed",
			      (json_int_t)st.stored, "agent_endpoint", "store_position",
			      (json_int_t)st.head, "signatures_required", st.signatures);
	if (sv->nt) {
		struct notifier_stats ns;
		notifier_stats(sv->nt, &ns);
		json_object_set_new(
			j, "notifications",
			json_pack("{s:b,s:b,s:I,s:I,s:I,s:I,s:I,s:I}", "enabled", 1, "llm", ns.llm,
				  "decided", (json_int_t)ns.decided, "sent", (json_int_t)ns.sent,
				  "failed", (json_int_t)ns.failed, "skipped",
				  (json_int_t)ns.skipped, "suppressed", (json_int_t)ns.suppressed,
				  "pending", (json_int_t)ns.pending));
	} else {
		json_object_set_new(j, "notifications", json_pack("{s:b}", "enabled", 0));
	}
	if (rc != ERR_OK)
		json_object_set_new(j, "error", json_string(err_msg(&e)));
	reply_json(res, rc == ERR_OK ? 200 : 503, j);
}

static void route_metrics(void *data, const struct http_request *req, struct http_response *res)
{
	(void)req;
	struct fbsrv *sv = data;
	struct feedback_stats st;
	struct err e = {0};
	int rc = feedback_stats(sv->fb, &st, &e);
	struct buf b;
	buf_init(&b, 1 << 20);
	prom_metric(&b, "ambient_feedback_received_total", "counter",
		    "Deliveries accepted and stored by this process.", st.received);
	prom_metric(&b, "ambient_feedback_duplicates_total", "counter",
		    "Deliveries already stored (same webhook-id or event_id), not stored again.",
		    st.duplicates);
	buf_puts(&b, "# HELP ambient_feedback_rejected_total Deliveries refused, by reason.\n"
		     "# TYPE ambient_feedback_rejected_total counter\n");
	for (int i = FEEDBACK_OK + 1; i < FEEDBACK_REJECT__COUNT; i++)
		buf_printf(&b, "ambient_feedback_rejected_total{reason=\"%s\"} %" PRIu64 "\n",
			   feedback_reject_name(i), st.rejected[i]);
	prom_metric(&b, "ambient_feedback_events_stored", "gauge",
		    "Feedback events in the store (written by any process sharing it).", st.stored);
	prom_metric(&b, "ambient_feedback_store_position", "gauge",
		    "Last position of the feedback event store.", (uint64_t)st.head);
	prom_metric(&b, "ambient_feedback_decided_total", "counter",
		    "Events the decide step handled since start.", st.decided);
	prom_metric(&b, "ambient_feedback_sse_clients", "gauge", "Open /events/stream connections.",
		    (uint64_t)atomic_load(&sv->sse_clients));
	prom_metric(&b, "ambient_feedback_ws_clients", "gauge", "Open /ws WebSocket connections.",
		    (uint64_t)atomic_load(&sv->ws_clients));
	prom_metric(&b, "ambient_feedback_signatures_required", "gauge",
		    "1 when a webhook secret is set and deliveries must be signed.", st.signatures);
	prom_metric(&b, "ambient_feedback_store_up", "gauge", "1 when the store could be read.",
		    rc == ERR_OK);
	if (sv->nt) {
		struct notifier_stats ns;
		notifier_stats(sv->nt, &ns);
		buf_puts(&b, "# HELP ambient_notifications_total Notification outcomes since "
			     "start, by outcome.\n"
			     "# TYPE ambient_notifications_total counter\n");
		buf_printf(&b, "ambient_notifications_total{outcome=\"sent\"} %" PRIu64 "\n",
			   ns.sent);
		buf_printf(&b, "ambient_notifications_total{outcome=\"failed\"} %" PRIu64 "\n",
			   ns.failed);
		buf_printf(&b, "ambient_notifications_total{outcome=\"skipped\"} %" PRIu64 "\n",
			   ns.skipped);
		buf_printf(&b, "ambient_notifications_total{outcome=\"suppressed\"} %" PRIu64 "\n",
			   ns.suppressed);
		prom_metric(
			&b, "ambient_notifications_pending", "gauge",
			"Notifications waiting: held for quiet hours, batched, retrying or due.",
			ns.pending);
		prom_metric(&b, "ambient_notify_llm_calls_total", "counter",
			    "Decisions asked of the LLM.", ns.llm_calls);
		prom_metric(&b, "ambient_notify_llm_errors_total", "counter",
			    "LLM calls that failed (the rules decided instead).", ns.llm_errors);
	}
	res->status = 200;
	res->content_type = PROM_CONTENT_TYPE;
	res->body_len = b.len;
	res->body = buf_steal(&b);
	buf_cleanup(&b);
}

static void route_openapi(void *data, const struct http_request *req, struct http_response *res)
{
	(void)req;
	struct fbsrv *sv = data;
	http_response_json(res, 200, xstrdup(sv->openapi));
}

/* ---- GET /events, /events/{event_type}, /events/recent ----------------------------- */

static void list_events(struct fbsrv *sv, const struct http_request *req, const char *path_type,
			struct http_response *res)
{
	struct args a = {.req = req, .path_type = path_type};
	struct feedback_query q;
	struct err e = {0};
	char user[PRINCIPAL_USER_MAX + 1];
	if (!reader(sv, req, res, user))
		return;
	if (feedback_query_parse(&q, args_get, &a, &e) != ERR_OK) {
		http_response_error(res, 400, "invalid_query", err_msg(&e));
		return;
	}
	q.user_id = user[0] ? user : NULL;
	json_t *page = NULL;
	if (feedback_list(sv->fb, &q, &page, &e) != ERR_OK) {
		http_response_error(res, 503, "store_unavailable", err_msg(&e));
		return;
	}
	reply_json(res, 200, page);
}

static void route_events(void *data, const struct http_request *req, struct http_response *res)
{
	list_events(data, req, NULL, res);
}

static void route_events_of_type(void *data, const struct http_request *req,
				 struct http_response *res)
{
	const char *type = req->path + strlen("/events/");
	if (!*type) {
		list_events(data, req, NULL, res);
		return;
	}
	if (!feedback_event_type_valid(type)) {
		char msg[300];
		snprintf(msg, sizeof(msg),
			 "No such path: /events/{event_type} takes an event type of 1-%d letters, "
			 "digits and . _ : - (e.g. /events/web_content_change)",
			 FEEDBACK_EVENT_TYPE_MAX);
		http_response_error(res, 404, "not_found", msg);
		return;
	}
	list_events(data, req, type, res);
}

static void route_notifications(void *data, const struct http_request *req,
				struct http_response *res)
{
	struct fbsrv *sv = data;
	struct args a = {.req = req};
	struct feedback_notify_query q;
	struct err e = {0};
	char user[PRINCIPAL_USER_MAX + 1];
	if (!reader(sv, req, res, user))
		return;
	if (feedback_notify_query_parse(&q, args_get, &a, &e) != ERR_OK) {
		http_response_error(res, 400, "invalid_query", err_msg(&e));
		return;
	}
	q.user_id = user[0] ? user : NULL;
	json_t *page = NULL;
	if (feedback_notifications(sv->fb, &q, &page, &e) != ERR_OK) {
		http_response_error(res, 503, "store_unavailable", err_msg(&e));
		return;
	}
	reply_json(res, 200, page);
}

static void route_recent(void *data, const struct http_request *req, struct http_response *res)
{
	struct fbsrv *sv = data;
	json_t *j = NULL;
	struct err e = {0};
	char user[PRINCIPAL_USER_MAX + 1];
	if (!reader(sv, req, res, user))
		return;
	if (user[0]) {
		/* the original's shape, over this user's events only */
		struct feedback_query q = {.user_id = user, .limit = RECENT_N};
		json_t *page = NULL;
		if (feedback_list(sv->fb, &q, &page, &e) != ERR_OK) {
			http_response_error(res, 503, "store_unavailable", err_msg(&e));
			return;
		}
		json_t *evs = json_object_get(page, "events"), *recent = json_array(), *ev;
		json_t *types = json_object();
		for (size_t i = json_array_size(evs); i > 0; i--) {
			ev = json_array_get(evs, i - 1);
			json_array_append(recent, ev);
			if (json_get_str(ev, "event_type"))
				json_object_set_new(types, json_get_str(ev, "event_type"),
						    json_true());
		}
		json_t *names = json_array();
		const char *k;
		json_t *v;
		json_object_foreach(types, k, v) json_array_append_new(names, json_string(k));
		json_decref(types);
		reply_json(res, 200,
			   json_pack("{s:I,s:o,s:o}", "total_events",
				     (json_int_t)json_array_size(recent), "recent_events", recent,
				     "event_types", names));
		json_decref(page);
		return;
	}
	if (feedback_recent(sv->fb, RECENT_N, &j, &e) != ERR_OK) {
		http_response_error(res, 503, "store_unavailable", err_msg(&e));
		return;
	}
	reply_json(res, 200, j);
}

/* ---- GET /events/stream ---------------------------------------------------------------- */

struct sse {
	struct fbsrv *sv;
	struct feedback_query q; /* strings point into the copies below */
	char user[PRINCIPAL_USER_MAX + 1];
	char event_type[FEEDBACK_EVENT_TYPE_MAX + 1];
	char task_id[FEEDBACK_TASK_ID_MAX + 1];
	int64_t after;
	char *pending;
	size_t pending_len, pending_off;
	bool ended;
};

static ssize_t sse_read(void *ctx, char *out, size_t max)
{
	struct sse *c = ctx;
	if (!c->pending) {
		if (c->ended)
			return -1;
		json_t *evs = json_array();
		int64_t covered = c->after;
		struct err e = {0};
		int rc = feedback_read_after(c->sv->fb, &c->q, c->after, SSE_BATCH, evs, &covered,
					     &e);
		if (rc != ERR_OK) {
			/* The client reconnects with Last-Event-ID. */
			log_warn("feedback: SSE stream ends: %s", err_msg(&e));
			json_decref(evs);
			return -1;
		}
		c->after = covered;
		if (json_array_size(evs) == 0) {
			json_decref(evs);
			feedback_wait(c->sv->fb, c->after, SSE_WAIT_MS, NULL);
			return 0;
		}
		struct buf b;
		buf_init(&b, (size_t)SSE_BATCH * (STORE_DATA_MAX + 64));
		size_t i;
		json_t *ev;
		json_array_foreach(evs, i, ev) {
			char *text = json_to_text(ev);
			/* Received events are unnamed ("message") frames, as
			 * before; outcomes are "notification" frames. */
			const char *kind = json_get_str(ev, "kind");
			if (kind && strcmp(kind, "notification") == 0)
				buf_puts(&b, "event: notification\n");
			buf_printf(&b, "id: %lld\ndata: %s\n\n", json_get_int(ev, "seq", 0), text);
			free(text);
		}
		json_decref(evs);
		c->pending_len = b.len;
		c->pending_off = 0;
		c->pending = buf_steal(&b);
		buf_cleanup(&b);
	}
	size_t n = c->pending_len - c->pending_off;
	if (n > max)
		n = max;
	memcpy(out, c->pending + c->pending_off, n);
	c->pending_off += n;
	if (c->pending_off == c->pending_len) {
		free(c->pending);
		c->pending = NULL;
	}
	return (ssize_t)n;
}

static void sse_free(void *ctx)
{
	struct sse *c = ctx;
	atomic_fetch_sub(&c->sv->sse_clients, 1);
	free(c->pending);
	free(c);
}

static bool parse_seq(const char *s, int64_t *out)
{
	if (!s || !*s || strlen(s) > 18 || strspn(s, "0123456789") != strlen(s))
		return false;
	*out = strtoll(s, NULL, 10);
	return true;
}

/* The live feed a request asks for (filters, and where to start: the
 * Last-Event-ID header, ?after=SEQ, else from now on), shared by the SSE
 * stream and the WebSocket; NULL with res answered when the request is bad. */
static struct sse *live_open(struct fbsrv *sv, const struct http_request *req,
			     struct http_response *res)
{
	struct args a = {.req = req};
	struct feedback_query q;
	struct err e = {0};
	char user[PRINCIPAL_USER_MAX + 1];
	if (!reader(sv, req, res, user))
		return NULL;
	if (feedback_query_parse(&q, args_get, &a, &e) != ERR_OK) {
		http_response_error(res, 400, "invalid_query", err_msg(&e));
		return NULL;
	}
	int64_t after = 0;
	const char *last = http_request_header(req, "Last-Event-ID");
	const char *after_arg = http_request_arg(req, "after");
	if (last && *last) {
		if (!parse_seq(last, &after)) {
			http_response_error(res, 400, "invalid_query",
					    "Last-Event-ID must be the id (seq) of an event this "
					    "stream sent");
			return NULL;
		}
	} else if (after_arg && *after_arg) {
		if (!parse_seq(after_arg, &after)) {
			http_response_error(res, 400, "invalid_query",
					    "after must be a seq (0 replays every stored event)");
			return NULL;
		}
	} else if (store_head(sv->s, &after, &e) != ERR_OK) {
		http_response_error(res, 503, "store_unavailable", err_msg(&e));
		return NULL;
	}
	struct sse *c = xcalloc(1, sizeof(*c));
	c->sv = sv;
	c->q = q;
	if (q.event_type) {
		snprintf(c->event_type, sizeof(c->event_type), "%s", q.event_type);
		c->q.event_type = c->event_type;
	}
	if (q.task_id) {
		snprintf(c->task_id, sizeof(c->task_id), "%s", q.task_id);
		c->q.task_id = c->task_id;
	}
	if (user[0]) {
		snprintf(c->user, sizeof(c->user), "%s", user);
		c->q.user_id = c->user;
	}
	c->after = after;
	c->q.with_notifications = true;
	return c;
}

static void route_stream(void *data, const struct http_request *req, struct http_response *res)
{
	struct fbsrv *sv = data;
	struct sse *c = live_open(sv, req, res);
	if (!c)
		return;
	/* First bytes: the reconnection delay and where the stream starts. */
	c->pending = xasprintf("retry: %d\n: ambient feedback stream after seq %" PRId64 "\n\n",
			       SSE_RETRY_MS, c->after);
	c->pending_len = strlen(c->pending);
	atomic_fetch_add(&sv->sse_clients, 1);
	res->status = 200;
	res->content_type = "text/event-stream";
	res->stream = (struct http_stream){.read = sse_read, .free = sse_free, .ctx = c};
}

/* ---- GET /ws: the same live feed over a WebSocket ------------------------------------ */

/* One text message per event: {"kind": "feedback"|"notification", "seq",
 * "data": <the event as /events/stream sends it>}. */
struct wsfeed {
	struct sse *c;
	json_t *batch; /* events read and not sent yet */
	size_t next;
};

static int ws_next(void *ctx, char **text, size_t *len)
{
	struct wsfeed *w = ctx;
	if (w->next >= json_array_size(w->batch)) {
		json_array_clear(w->batch);
		w->next = 0;
		int64_t covered = w->c->after;
		struct err e = {0};
		if (feedback_read_after(w->c->sv->fb, &w->c->q, w->c->after, SSE_BATCH, w->batch,
					&covered, &e) != ERR_OK) {
			log_warn("feedback: WebSocket feed ends: %s", err_msg(&e));
			return -1;
		}
		w->c->after = covered;
		if (json_array_size(w->batch) == 0) {
			feedback_wait(w->c->sv->fb, w->c->after, SSE_WAIT_MS, NULL);
			return 0;
		}
	}
	json_t *ev = json_array_get(w->batch, w->next++);
	const char *kind = json_get_str(ev, "kind");
	bool notification = kind && strcmp(kind, "notification") == 0;
	json_t *msg = json_pack("{s:s,s:I,s:O}", "kind", notification ? "notification" : "feedback",
				"seq", (json_int_t)json_get_int(ev, "seq", 0), "data", ev);
	*text = json_to_text(msg);
	*len = strlen(*text);
	json_decref(msg);
	return 1;
}

static void ws_free(void *ctx)
{
	struct wsfeed *w = ctx;
	atomic_fetch_sub(&w->c->sv->ws_clients, 1);
	json_decref(w->batch);
	free(w->c);
	free(w);
}

static void route_ws(void *data, const struct http_request *req, struct http_response *res)
{
	struct fbsrv *sv = data;
	struct sse *c = live_open(sv, req, res);
	if (!c)
		return;
	struct wsfeed *w = xcalloc(1, sizeof(*w));
	w->c = c;
	w->batch = json_array();
	atomic_fetch_add(&sv->ws_clients, 1);
	struct http_websocket ws = {
		.next = ws_next, .free = ws_free, .ctx = w, .max_message = 4096};
	http_response_websocket(res, &ws);
}

/* ---- the command ------------------------------------------------------------------------- */

#define RULES_FILE_MAX (64 * 1024)

/* --notify: a JSON notification value, or comma-separated Apprise-style
 * URLs.  NULL (and no error) when unset. */
static json_t *parse_notify_option(const char *v, struct err *e)
{
	if (!v || !*v)
		return NULL;
	const char *p = v + strspn(v, " \t");
	if (*p == '[' || *p == '{' || *p == '"') {
		struct err je = {0};
		json_t *j = json_parse(p, strlen(p), &je);
		if (!j)
			err_set(e, ERR_INVALID, "--notify / AMBIENT_NOTIFY is not valid JSON: %s",
				err_msg(&je));
		return j;
	}
	char *storage = NULL;
	char **items = cli_split_list(v, &storage);
	json_t *a = json_array();
	for (size_t i = 0; items && items[i]; i++)
		json_array_append_new(a, json_string(items[i]));
	free(items);
	free(storage);
	return a;
}

/* --notify-rules: JSON text, @FILE or - (stdin), over the defaults. */
static int parse_rules_option(const char *v, struct notify_rules *r, struct err *e)
{
	notify_rules_defaults(r);
	if (!v || !*v)
		return ERR_OK;
	char *text = cli_read_arg(v, "--notify-rules", RULES_FILE_MAX, e);
	if (!text)
		return e->code;
	struct err je = {0};
	json_t *j = json_parse(text, strlen(text), &je);
	free(text);
	if (!j)
		return err_set(e, ERR_INVALID, "--notify-rules is not valid JSON: %s",
			       err_msg(&je));
	int rc = notify_rules_parse(j, r, e);
	json_decref(j);
	return rc;
}

/* The notifier from the options (nothing with --no-notify). */
static int start_notifier(struct cli_ctx *ctx, struct fbsrv *sv, struct channel_config *ch,
			  struct llm_config *llm, struct err *e)
{
	const struct config *c = &ctx->cfg;
	if (config_get_bool(c, "no-notify"))
		return ERR_OK;
	struct notify_rules rules;
	int rc = parse_rules_option(config_get(c, "notify-rules"), &rules, e);
	if (rc)
		return rc;
	json_t *targets = parse_notify_option(config_get(c, "notify"), e);
	if (e->code)
		return e->code;
	*ch = (struct channel_config){
		.webhook_secret = config_get(c, "notify-webhook-secret"),
		.guard = app_tasks_net_guard(),
	};
	cli_channel_config(c, ch);
	*llm = (struct llm_config){
		.api_key = config_get_bool(c, "no-llm") ? NULL : config_get(c, "openai-api-key"),
		.base_url = config_get(c, "openai-api-base"),
		.model = config_get(c, "openai-model"),
	};
	struct notifier_options no = {
		.store = sv->s,
		.rules = &rules,
		.channels = ch,
		.llm = llm,
		.default_targets = targets,
	};
	rc = notifier_new(&no, &sv->nt, e);
	json_decref(targets);
	return rc;
}

static void on_reject(void *data, const char *method, const char *path, int status)
{
	struct fbsrv *sv = data;
	if (status == 413) {
		feedback_count_reject(sv->fb, FEEDBACK_REJECT_TOO_LARGE);
		log_info("feedback: refused %s %s: body over --max-body", method, path);
	}
}

/* sqlite:DATA_DIR/feedback.db, DATA_DIR as for the main store. */
static char *default_feedback_db(struct cli_ctx *ctx)
{
	char *dir = cli_data_dir(ctx);
	char *url = xasprintf("sqlite:%s/feedback.db", dir);
	free(dir);
	return url;
}

static char *openapi_with_version(void)
{
	struct err e = {0};
	json_t *doc = json_parse(openapi_text, (size_t)-1, &e);
	if (!doc) {
		/* A bug in the embedded text; serve it as it is. */
		log_error("feedback: the embedded OpenAPI document is not JSON: %s", err_msg(&e));
		return xstrdup(openapi_text);
	}
	json_object_set_new(json_object_get(doc, "info"), "version", json_string(AMBIENT_VERSION));
	char *text = json_to_text(doc);
	json_decref(doc);
	return text;
}

int cli_feedback_run(struct cli_ctx *ctx)
{
	if (ctx->nargs)
		return cli_usage_error(ctx, "feedback takes no arguments");
	char *host = NULL;
	int port = 0;
	int rc = cli_parse_listen(ctx, config_get(&ctx->cfg, "listen"), &host, &port);
	if (rc)
		return rc;

	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct err e = {0};
	struct fbsrv sv = {0};
	struct store *keys_store = NULL;
	struct http_server *h = NULL;
	char *hosts_storage = NULL, **hosts = NULL;
	const char *pid_file = config_get(&ctx->cfg, "pid-file");
	bool pid_written = false;
	rc = CLI_FAIL;
	const char *db = config_get(&ctx->cfg, "feedback-db");
	char *def_db = db ? NULL : default_feedback_db(ctx);
	if (store_open(db ? db : def_db, NULL, &sv.s, &e) != ERR_OK) {
		cli_fail(&e);
		goto out;
	}
	struct channel_config ch = {0};
	struct llm_config llm = {0};
	if (start_notifier(ctx, &sv, &ch, &llm, &e) != ERR_OK) {
		cli_fail(&e);
		goto out;
	}
	struct feedback_options fo = {
		.store = sv.s,
		.secret = config_get(&ctx->cfg, "webhook-secret"),
		.tolerance_s = (int)config_get_int(&ctx->cfg, "webhook-tolerance"),
		.decider = sv.nt ? notifier_decider(sv.nt) : NULL,
	};
	if (feedback_new(&fo, &sv.fb, &e) != ERR_OK) {
		if (e.code == ERR_INVALID)
			err_prefix(&e, "--webhook-secret / AMBIENT_WEBHOOK_SECRET");
		cli_fail(&e);
		goto out;
	}
	/* API keys live in the main store (the one `ambient keys` writes). */
	char *keys_storage = NULL;
	char **keys = cli_split_list(config_get(&ctx->cfg, "api-keys"), &keys_storage);
	if (cli_store_exists(ctx) && cli_open_store(ctx, true, &keys_store) != CLI_OK)
		keys_store = NULL;
	struct app_auth_options auo = {.store = keys_store, .config_keys = (const char *const *)keys};
	sv.auth = app_auth_new(&auo);
	bool loopback = cli_loopback_host(host), no_auth = config_get_bool(&ctx->cfg, "no-auth");
	sv.auth_on = !no_auth && app_auth_any_keys(sv.auth);
	free(keys);
	free(keys_storage);
	if (no_auth && !loopback) {
		err_set(&e, ERR_INVALID,
			"--no-auth is only allowed on a loopback address, and %s is not one", host);
		cli_fail(&e);
		goto out;
	}
	if (!sv.auth_on && !loopback) {
		err_set(&e, ERR_INVALID,
			"ambient feedback listens on %s, which other machines can reach, so its "
			"event routes need API keys: create one with `ambient keys create --user "
			"NAME` (in the store --db names) or pass --api-keys, or listen on 127.0.0.1",
			host);
		cli_fail(&e);
		goto out;
	}
	sv.openapi = openapi_with_version();
	struct http_route routes[] = {
		{"POST", "/process_background_feedback", route_receive, &sv},
		{"POST", "/event_callback", route_receive, &sv},
		{"GET", "/", route_root, &sv},
		{"GET", "/assets/*", web_api_route_asset, NULL},
		{"GET", "/health", route_health, &sv},
		{"GET", "/metrics", route_metrics, &sv},
		{"GET", "/openapi.json", route_openapi, &sv},
		{"GET", "/events", route_events, &sv},
		{"GET", "/events/recent", route_recent, &sv},
		{"GET", "/notifications", route_notifications, &sv},
		{"GET", "/events/stream", route_stream, &sv},
		{"GET", "/ws", route_ws, &sv},
		{"GET", "/events/*", route_events_of_type, &sv},
	};
	const char *allow = config_get(&ctx->cfg, "allow-host");
	hosts = cli_split_list(allow, &hosts_storage);
	struct http_server_options ho = {
		.host = host,
		.port = port,
		.max_body = (size_t)config_get_int(&ctx->cfg, "max-body"),
		.allowed_hosts = (const char *const *)hosts,
		.allow_any_host = allow && strcmp(allow, "*") == 0,
		.routes = routes,
		.nroutes = sizeof(routes) / sizeof(routes[0]),
		.on_reject = on_reject,
		.on_reject_data = &sv,
	};
	if (http_server_start(NULL, &ho, &h, &e)) {
		cli_fail(&e);
		goto out;
	}
	bool v6 = strchr(host, ':') != NULL;
	printf("listening http://%s%s%s:%d\n", v6 ? "[" : "", host, v6 ? "]" : "",
	       http_server_port(h));
	fflush(stdout);
	if (pid_file) {
		if (cli_write_pid_file(pid_file))
			goto out;
		pid_written = true;
	}
	log_info("feedback server on %s:%d, store %s, signatures %s, notifications %s%s", host,
		 http_server_port(h), store_url(sv.s),
		 fo.secret && *fo.secret ? "required" : "not checked", sv.nt ? "on" : "off",
		 sv.nt && llm.api_key && *llm.api_key ? " (LLM decides)" : "");
	int sig = 0;
	sigwait(&stop, &sig);
	log_info("stopping on signal %d", sig);
	rc = CLI_OK;
out:
	http_server_free(h);
	if (pid_written)
		unlink(pid_file);
	feedback_free(sv.fb); /* stops the decider before the notifier goes */
	notifier_free(sv.nt);
	store_close(sv.s);
	app_auth_free(sv.auth);
	store_close(keys_store);
	free(sv.openapi);
	free(hosts);
	free(hosts_storage);
	free(def_db);
	free(host);
	return rc;
}
