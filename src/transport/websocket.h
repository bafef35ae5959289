/*
 * websocket.h - the WebSocket protocol (RFC 6455) without the HTTP part:
 * the opening handshake's key check and Sec-WebSocket-Accept, a frame
 * encoder, and an incremental parser that turns bytes into messages
 * (fragments joined, control frames handed out between them, masking
 * undone, sizes capped, text checked for UTF-8).
 *
 * No sockets here: http_server.c runs a connection with these pieces, and
 * the unit tests drive them byte by byte.  Routes use the connection API in
 * http_server.h (struct ws_handler, http_response_websocket).
 *
 * Errors a peer can cause come back as a close code to send before closing:
 * WS_CLOSE_PROTOCOL (1002: bad opcode, reserved bits, unmasked client frame,
 * fragmented or oversized control frame, continuation out of place),
 * WS_CLOSE_INVALID_DATA (1007: text that is not UTF-8), WS_CLOSE_TOO_BIG
 * (1009: a frame or message over the parser's caps).
 */
#ifndef AMBIENT_TRANSPORT_WEBSOCKET_H
#define AMBIENT_TRANSPORT_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Opcodes. */
#define WS_OP_CONT 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xA

/* Close codes. */
#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_GOING_AWAY 1001
#define WS_CLOSE_PROTOCOL 1002
#define WS_CLOSE_NO_STATUS 1005 /* never sent: a close frame without a code */
#define WS_CLOSE_INVALID_DATA 1007
#define WS_CLOSE_TOO_BIG 1009

#define WS_CONTROL_MAX 125               /* payload bytes of a control frame */
#define WS_FRAME_HEADER_MAX 14           /* 2 + 8 (length) + 4 (mask) */
#define WS_ACCEPT_LEN 28                 /* base64 of a SHA-1 */
#define WS_DEFAULT_MAX_MESSAGE (1 << 20) /* 1 MiB */
#define WS_FEED_MAX 65536

/* ---- handshake ---------------------------------------------------------------- */

/* Whether key is a valid Sec-WebSocket-Key (base64 of 16 bytes) and, if so,
 * its Sec-WebSocket-Accept (base64 of SHA-1(key + the RFC's GUID)) in out. */
bool ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1]);

/* Whether a comma-separated header value (Connection, Upgrade) contains
 * token, case-insensitively. */
bool ws_header_has_token(const char *value, const char *token);

/* ---- frames --------------------------------------------------------------------- */

/* Encode one frame into out (room for WS_FRAME_HEADER_MAX + len bytes); a
 * server sends mask NULL, a client four mask bytes.  Returns the bytes
 * written. */
size_t ws_frame_encode(uint8_t *out, bool fin, int opcode, const void *payload, size_t len,
		       const uint8_t *mask);

/* XOR data with the mask, starting at byte `offset` of the payload. */
void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset);

/* Whether s[0..n) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
bool ws_utf8_valid(const uint8_t *s, size_t n);

/* ---- the parser ------------------------------------------------------------------- */

enum ws_event {
	WS_EV_NONE,   /* need more bytes */
	WS_EV_TEXT,   /* a whole text message (valid UTF-8) */
	WS_EV_BINARY, /* a whole binary message */
	WS_EV_PING,   /* answer with a pong carrying the same payload */
	WS_EV_PONG,
	WS_EV_CLOSE, /* the peer's close: code (1005 when none) and reason */
	WS_EV_ERROR, /* the peer broke the protocol: send a close with code, then close */
};

struct ws_message {
	enum ws_event ev;
	const uint8_t *data; /* payload (text: NUL-terminated); valid until the next call */
	size_t len;
	int code;          /* WS_EV_CLOSE: the peer's code; WS_EV_ERROR: the code to send */
	const char *error; /* WS_EV_ERROR: what was wrong, for logs */
};

/* Caller-owned (ws_parser_init / ws_parser_cleanup). */
struct ws_parser {
	bool server;        /* frames must be masked (server side) or unmasked */
	size_t max_frame;   /* payload bytes of one frame */
	size_t max_message; /* bytes of a reassembled message */
	struct buf in;      /* unparsed bytes */
	size_t in_off;      /* consumed prefix of `in` */
	struct buf msg;     /* fragments of the message being joined */
	int msg_op;         /* WS_OP_TEXT/BINARY while joining, else 0 */
	uint8_t ctl_buf[WS_CONTROL_MAX + 1];
	bool handed; /* msg was handed out: reset it at the next call */
	bool failed;
};

/* max_frame / max_message 0: WS_DEFAULT_MAX_MESSAGE. */
void ws_parser_init(struct ws_parser *p, bool server, size_t max_frame, size_t max_message);
void ws_parser_cleanup(struct ws_parser *p);
/* Add bytes from the peer (at most WS_FEED_MAX at a time).  Returns false
 * (nothing added) when they do not fit beside what is buffered unparsed:
 * call ws_parser_next until WS_EV_NONE first. */
bool ws_parser_feed(struct ws_parser *p, const void *data, size_t len);
/* The next event in what was fed (WS_EV_NONE: feed more).  After
 * WS_EV_ERROR the parser stays failed. */
void ws_parser_next(struct ws_parser *p, struct ws_message *m);

#endif
