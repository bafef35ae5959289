/*
 * websocket.c - RFC 6455 handshake helpers, frame encoder and parser (see
 * websocket.h).
 */
#define ERR_STATE OPENSSL_ERR_STATE
#include <openssl/evp.h>
#undef ERR_STATE

#include "transport/websocket.h"

#include <string.h>
#include <strings.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* ---- handshake ---------------------------------------------------------------- */

static bool is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

bool ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1])
{
	out[0] = 0;
	if (!key)
		return false;
	while (*key == ' ' || *key == '\t')
		key++;
	size_t n = strlen(key);
	while (n && (key[n - 1] == ' ' || key[n - 1] == '\t'))
		n--;
	/* base64 of 16 bytes: 22 characters and "==". */
	if (n != 24 || key[22] != '=' || key[23] != '=')
		return false;
	for (size_t i = 0; i < 22; i++)
		if (!is_b64(key[i]))
			return false;
	unsigned char raw[24];
	if (EVP_DecodeBlock(raw, (const unsigned char *)key, 24) != 18)
		return false;
	char cat[24 + sizeof(WS_GUID)];
	memcpy(cat, key, 24);
	memcpy(cat + 24, WS_GUID, sizeof(WS_GUID) - 1);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!EVP_Digest(cat, 24 + sizeof(WS_GUID) - 1, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
		return false;
	EVP_EncodeBlock((unsigned char *)out, md, 20);
	return true;
}

bool ws_header_has_token(const char *value, const char *token)
{
	size_t tl = strlen(token);
	const char *p = value;
	while (p && *p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *end = p;
		while (*end && *end != ',')
			end++;
		const char *te = end;
		while (te > p && (te[-1] == ' ' || te[-1] == '\t'))
			te--;
		if ((size_t)(te - p) == tl && strncasecmp(p, token, tl) == 0)
			return true;
		p = end;
	}
	return false;
}

/* ---- frames --------------------------------------------------------------------- */

void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset)
{
	for (size_t i = 0; i < len; i++)
		data[i] ^= mask[(i + offset) & 3];
}

size_t ws_frame_encode(uint8_t *out, bool fin, int opcode, const void *payload, size_t len,
		       const uint8_t *mask)
{
	size_t n = 0;
	out[n++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
	uint8_t mbit = mask ? 0x80 : 0;
	if (len < 126) {
		out[n++] = (uint8_t)(mbit | len);
	} else if (len <= 0xffff) {
		out[n++] = mbit | 126;
		out[n++] = (uint8_t)(len >> 8);
		out[n++] = (uint8_t)len;
	} else {
		out[n++] = mbit | 127;
		for (int i = 7; i >= 0; i--)
			out[n++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	if (mask) {
		memcpy(out + n, mask, 4);
		n += 4;
	}
	if (len)
		memcpy(out + n, payload, len);
	if (mask)
		ws_mask(out + n, len, mask, 0);
	return n + len;
}

bool ws_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k;
		uint32_t cp, min;
		if ((c & 0xe0) == 0xc0) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

/* ---- the parser ------------------------------------------------------------------- */

void ws_parser_init(struct ws_parser *p, bool server, size_t max_frame, size_t max_message)
{
	memset(p, 0, sizeof(*p));
	p->server = server;
	p->max_message = max_message ? max_message : WS_DEFAULT_MAX_MESSAGE;
	p->max_frame = max_frame ? max_frame : p->max_message;
	buf_init(&p->in, p->max_frame + WS_FRAME_HEADER_MAX + WS_FEED_MAX);
	buf_init(&p->msg, p->max_message);
}

void ws_parser_cleanup(struct ws_parser *p)
{
	buf_cleanup(&p->in);
	buf_cleanup(&p->msg);
}

bool ws_parser_feed(struct ws_parser *p, const void *data, size_t len)
{
	if (p->in_off && p->in.data) { /* drop what was parsed */
		memmove(p->in.data, p->in.data + p->in_off, p->in.len - p->in_off);
		p->in.len -= p->in_off;
		p->in.data[p->in.len] = 0;
		p->in_off = 0;
	}
	return buf_append(&p->in, data, len) == 0;
}

static void fail(struct ws_parser *p, struct ws_message *m, int code, const char *why)
{
	p->failed = true;
	m->ev = WS_EV_ERROR;
	m->code = code;
	m->error = why;
	m->data = NULL;
	m->len = 0;
}

static bool close_code_valid(int c)
{
	return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011) || (c >= 3000 && c <= 4999);
}

void ws_parser_next(struct ws_parser *p, struct ws_message *m)
{
	memset(m, 0, sizeof(*m));
	if (p->failed) {
		fail(p, m, WS_CLOSE_PROTOCOL, "the connection already failed");
		return;
	}
	if (p->handed) {
		buf_reset(&p->msg);
		p->handed = false;
	}
	for (;;) {
		size_t avail = p->in.len - p->in_off;
		if (avail < 2)
			return;
		const uint8_t *b = (const uint8_t *)p->in.data + p->in_off;
		bool fin = b[0] & 0x80;
		int op = b[0] & 0x0f;
		if (b[0] & 0x70)
			return fail(p, m, WS_CLOSE_PROTOCOL,
				    "reserved bits set (no extension agreed)");
		if (op != WS_OP_CONT && op != WS_OP_TEXT && op != WS_OP_BINARY &&
		    op != WS_OP_CLOSE && op != WS_OP_PING && op != WS_OP_PONG)
			return fail(p, m, WS_CLOSE_PROTOCOL, "unknown opcode");
		bool masked = b[1] & 0x80;
		if (masked != p->server)
			return fail(p, m, WS_CLOSE_PROTOCOL,
				    p->server ? "client frame not masked" : "server frame masked");
		uint64_t len = b[1] & 0x7f;
		size_t hl = 2;
		if (len == 126) {
			if (avail < 4)
				return;
			len = ((uint64_t)b[2] << 8) | b[3];
			hl = 4;
		} else if (len == 127) {
			if (avail < 10)
				return;
			if (b[2] & 0x80)
				return fail(p, m, WS_CLOSE_PROTOCOL,
					    "64-bit length with the top bit set");
			len = 0;
			for (int i = 0; i < 8; i++)
				len = (len << 8) | b[2 + i];
			hl = 10;
		}
		bool control = op & 0x08;
		if (control && !fin)
			return fail(p, m, WS_CLOSE_PROTOCOL, "fragmented control frame");
		if (control && len > WS_CONTROL_MAX)
			return fail(p, m, WS_CLOSE_PROTOCOL, "control frame over 125 bytes");
		if (!control && len > p->max_frame)
			return fail(p, m, WS_CLOSE_TOO_BIG, "frame too large");
		if (op == WS_OP_CONT && !p->msg_op)
			return fail(p, m, WS_CLOSE_PROTOCOL,
				    "continuation frame without a message");
		if ((op == WS_OP_TEXT || op == WS_OP_BINARY) && p->msg_op)
			return fail(p, m, WS_CLOSE_PROTOCOL, "new message inside a fragmented one");
		if (!control && p->msg.len + len > p->max_message)
			return fail(p, m, WS_CLOSE_TOO_BIG, "message too large");
		uint8_t mask[4] = {0};
		if (masked) {
			if (avail < hl + 4)
				return;
			memcpy(mask, b + hl, 4);
			hl += 4;
		}
		if (avail - hl < len)
			return;
		uint8_t *pl = (uint8_t *)p->in.data + p->in_off + hl;
		if (masked)
			ws_mask(pl, (size_t)len, mask, 0);
		p->in_off += hl + (size_t)len;

		if (control) {
			memcpy(p->ctl_buf, pl, (size_t)len);
			p->ctl_buf[len] = 0;
			m->data = p->ctl_buf;
			m->len = (size_t)len;
			if (op == WS_OP_PING) {
				m->ev = WS_EV_PING;
			} else if (op == WS_OP_PONG) {
				m->ev = WS_EV_PONG;
			} else {
				m->ev = WS_EV_CLOSE;
				m->code = WS_CLOSE_NO_STATUS;
				if (len == 1)
					return fail(p, m, WS_CLOSE_PROTOCOL,
						    "close frame of 1 byte");
				if (len >= 2) {
					m->code = (pl[0] << 8) | pl[1];
					if (!close_code_valid(m->code))
						return fail(p, m, WS_CLOSE_PROTOCOL,
							    "invalid close code");
					if (!ws_utf8_valid(pl + 2, (size_t)len - 2))
						return fail(p, m, WS_CLOSE_INVALID_DATA,
							    "close reason not UTF-8");
					m->data = p->ctl_buf + 2;
					m->len = (size_t)len - 2;
				}
			}
			return;
		}
		if (op != WS_OP_CONT)
			p->msg_op = op;
		if (buf_append(&p->msg, pl, (size_t)len) != 0)
			return fail(p, m, WS_CLOSE_TOO_BIG, "message too large");
		if (!fin)
			continue;
		int mop = p->msg_op;
		p->msg_op = 0;
		p->handed = true;
		m->data = p->msg.data ? (const uint8_t *)p->msg.data : (const uint8_t *)"";
		m->len = p->msg.len;
		if (mop == WS_OP_TEXT) {
			if (!ws_utf8_valid(m->data, m->len))
				return fail(p, m, WS_CLOSE_INVALID_DATA, "text message not UTF-8");
			m->ev = WS_EV_TEXT;
		} else {
			m->ev = WS_EV_BINARY;
		}
		return;
	}
}
