/* test_websocket.c - RFC 6455 codec (transport/websocket.h) and the
 * WebSocket routes of http_server over a real loopback socket. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "transport/http_server.h"
#include "transport/websocket.h"

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

/* ---- codec ----------------------------------------------------------------------- */

static void test_accept_key(void **state)
{
	(void)state;
	char out[WS_ACCEPT_LEN + 1];
	/* RFC 6455, section 1.3 */
	assert_true(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out));
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_false(ws_accept_key(NULL, out));
	assert_false(ws_accept_key("", out));
	assert_false(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=", out));
	assert_false(ws_accept_key("dGhlIHNhbXBsZSBub25j!Q==", out));
	assert_false(ws_accept_key("dGhlIHNhbXBsZSBub25jZQAA", out));
}

static void test_header_tokens(void **state)
{
	(void)state;
	assert_true(ws_header_has_token("keep-alive, Upgrade", "upgrade"));
	assert_true(ws_header_has_token("websocket", "websocket"));
	assert_true(ws_header_has_token(" WebSocket ", "websocket"));
	assert_false(ws_header_has_token("upgrades", "upgrade"));
	assert_false(ws_header_has_token("", "upgrade"));
}

/* Feed one frame (client: masked) and return the first event. */
static void parse_one(struct ws_parser *p, const uint8_t *frame, size_t n, struct ws_message *m)
{
	assert_true(ws_parser_feed(p, frame, n));
	ws_parser_next(p, m);
}

static void roundtrip_len(size_t len, size_t header)
{
	uint8_t *payload = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++)
		payload[i] = (uint8_t)('a' + i % 26);
	uint8_t *frame = xmalloc(WS_FRAME_HEADER_MAX + len);
	size_t n = ws_frame_encode(frame, true, WS_OP_TEXT, payload, len, MASK);
	assert_int_equal(n, header + 4 + len);
	struct ws_parser p;
	ws_parser_init(&p, true, 0, 1 << 20);
	struct ws_message m;
	/* all but the last byte: nothing yet */
	assert_true(ws_parser_feed(&p, frame, n - 1));
	ws_parser_next(&p, &m);
	assert_int_equal(m.ev, WS_EV_NONE);
	assert_true(ws_parser_feed(&p, frame + n - 1, 1));
	ws_parser_next(&p, &m);
	assert_int_equal(m.ev, WS_EV_TEXT);
	assert_int_equal(m.len, len);
	assert_memory_equal(m.data, payload, len);
	ws_parser_next(&p, &m);
	assert_int_equal(m.ev, WS_EV_NONE);
	ws_parser_cleanup(&p);

	/* unmasked (server to client) */
	n = ws_frame_encode(frame, true, WS_OP_BINARY, payload, len, NULL);
	assert_int_equal(n, header + len);
	ws_parser_init(&p, false, 0, 1 << 20);
	parse_one(&p, frame, n, &m);
	assert_int_equal(m.ev, WS_EV_BINARY);
	assert_int_equal(m.len, len);
	assert_memory_equal(m.data, payload, len);
	ws_parser_cleanup(&p);
	free(frame);
	free(payload);
}

static void test_lengths(void **state)
{
	(void)state;
	roundtrip_len(0, 2);
	roundtrip_len(125, 2);
	roundtrip_len(126, 4);
	roundtrip_len(65535, 4);
	roundtrip_len(65536, 10);
	/* the length bytes themselves */
	uint8_t f[WS_FRAME_HEADER_MAX + 70000];
	static uint8_t zero[70000];
	ws_frame_encode(f, true, WS_OP_TEXT, zero, 126, NULL);
	assert_int_equal(f[1], 126);
	assert_int_equal(f[2], 0);
	assert_int_equal(f[3], 126);
	ws_frame_encode(f, true, WS_OP_TEXT, zero, 65536, NULL);
	assert_int_equal(f[1], 127);
	assert_int_equal(f[7], 1);
	assert_int_equal(f[8], 0);
	assert_int_equal(f[9], 0);
}

static void test_masking(void **state)
{
	(void)state;
	uint8_t d[7] = "Hello!";
	ws_mask(d, 6, MASK, 0);
	assert_memory_not_equal(d, "Hello!", 6);
	/* unmasking in two pieces with the right offset */
	ws_mask(d, 2, MASK, 0);
	ws_mask(d + 2, 4, MASK, 2);
	assert_memory_equal(d, "Hello!", 6);
	/* RFC 6455 5.7: a masked "Hello" */
	const uint8_t rfc[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
	struct ws_parser p;
	ws_parser_init(&p, true, 0, 0);
	struct ws_message m;
	parse_one(&p, rfc, sizeof(rfc), &m);
	assert_int_equal(m.ev, WS_EV_TEXT);
	assert_int_equal(m.len, 5);
	assert_memory_equal(m.data, "Hello", 5);
	ws_parser_cleanup(&p);
}

static void test_fragmentation_with_control_between(void **state)
{
	(void)state;
	uint8_t buf[512];
	size_t n = 0;
	n += ws_frame_encode(buf + n, false, WS_OP_TEXT, "Hel", 3, MASK);
	n += ws_frame_encode(buf + n, true, WS_OP_PING, "p1", 2, MASK);
	n += ws_frame_encode(buf + n, false, WS_OP_CONT, "lo ", 3, MASK);
	/* "é" split across two fragments: valid once joined */
	n += ws_frame_encode(buf + n, false, WS_OP_CONT, "w\xc3", 2, MASK);
	n += ws_frame_encode(buf + n, true, WS_OP_CONT, "\xa9", 1, MASK);
	struct ws_parser p;
	ws_parser_init(&p, true, 0, 0);
	/* byte by byte */
	struct ws_message m;
	int pings = 0, texts = 0;
	for (size_t i = 0; i < n; i++) {
		assert_true(ws_parser_feed(&p, buf + i, 1));
		for (ws_parser_next(&p, &m); m.ev != WS_EV_NONE; ws_parser_next(&p, &m)) {
			if (m.ev == WS_EV_PING) {
				assert_int_equal(texts, 0);
				assert_int_equal(m.len, 2);
				assert_memory_equal(m.data, "p1", 2);
				pings++;
			} else {
				assert_int_equal(m.ev, WS_EV_TEXT);
				assert_string_equal((const char *)m.data, "Hello w\xc3\xa9");
				texts++;
			}
		}
	}
	assert_int_equal(pings, 1);
	assert_int_equal(texts, 1);
	ws_parser_cleanup(&p);
}

static void test_close_frames(void **state)
{
	(void)state;
	struct ws_parser p;
	struct ws_message m;
	uint8_t f[64];
	uint8_t pl[] = {0x03, 0xe8, 'b', 'y', 'e'};
	ws_parser_init(&p, true, 0, 0);
	parse_one(&p, f, ws_frame_encode(f, true, WS_OP_CLOSE, pl, sizeof(pl), MASK), &m);
	assert_int_equal(m.ev, WS_EV_CLOSE);
	assert_int_equal(m.code, 1000);
	assert_int_equal(m.len, 3);
	assert_memory_equal(m.data, "bye", 3);
	ws_parser_cleanup(&p);

	ws_parser_init(&p, true, 0, 0);
	parse_one(&p, f, ws_frame_encode(f, true, WS_OP_CLOSE, NULL, 0, MASK), &m);
	assert_int_equal(m.ev, WS_EV_CLOSE);
	assert_int_equal(m.code, WS_CLOSE_NO_STATUS);
	ws_parser_cleanup(&p);

	ws_parser_init(&p, true, 0, 0);
	parse_one(&p, f, ws_frame_encode(f, true, WS_OP_CLOSE, pl, 1, MASK), &m);
	assert_int_equal(m.ev, WS_EV_ERROR);
	assert_int_equal(m.code, WS_CLOSE_PROTOCOL);
	ws_parser_cleanup(&p);

	uint8_t bad[] = {0x03, 0xe7}; /* 999 */
	ws_parser_init(&p, true, 0, 0);
	parse_one(&p, f, ws_frame_encode(f, true, WS_OP_CLOSE, bad, 2, MASK), &m);
	assert_int_equal(m.ev, WS_EV_ERROR);
	assert_int_equal(m.code, WS_CLOSE_PROTOCOL);
	ws_parser_cleanup(&p);

	uint8_t badreason[] = {0x03, 0xe8, 0xff};
	ws_parser_init(&p, true, 0, 0);
	parse_one(&p, f, ws_frame_encode(f, true, WS_OP_CLOSE, badreason, 3, MASK), &m);
	assert_int_equal(m.ev, WS_EV_ERROR);
	assert_int_equal(m.code, WS_CLOSE_INVALID_DATA);
	ws_parser_cleanup(&p);

	ws_parser_init(&p, true, 0, 0);
	parse_one(&p, f, ws_frame_encode(f, true, WS_OP_PONG, "x", 1, MASK), &m);
	assert_int_equal(m.ev, WS_EV_PONG);
	ws_parser_cleanup(&p);
}

/* A frame that must fail with `code`. */
static void expect_error(const uint8_t *frame, size_t n, bool server, size_t max_frame,
			 size_t max_msg, int code)
{
	struct ws_parser p;
	struct ws_message m;
	ws_parser_init(&p, server, max_frame, max_msg);
	assert_true(ws_parser_feed(&p, frame, n));
	do {
		ws_parser_next(&p, &m);
	} while (m.ev == WS_EV_TEXT || m.ev == WS_EV_BINARY || m.ev == WS_EV_PING);
	assert_int_equal(m.ev, WS_EV_ERROR);
	assert_int_equal(m.code, code);
	assert_non_null(m.error);
	/* and stays failed */
	ws_parser_next(&p, &m);
	assert_int_equal(m.ev, WS_EV_ERROR);
	ws_parser_cleanup(&p);
}

static void test_protocol_errors(void **state)
{
	(void)state;
	uint8_t f[512];
	size_t n;
	/* opcodes 3..7 and 0xB..0xF are reserved */
	for (int op = 3; op <= 0xf; op++) {
		if (op >= 8 && op <= 0xa)
			continue;
		n = ws_frame_encode(f, true, op, "x", 1, MASK);
		expect_error(f, n, true, 0, 0, WS_CLOSE_PROTOCOL);
	}
	/* reserved bit */
	n = ws_frame_encode(f, true, WS_OP_TEXT, "x", 1, MASK);
	f[0] |= 0x40;
	expect_error(f, n, true, 0, 0, WS_CLOSE_PROTOCOL);
	/* a client frame without a mask */
	n = ws_frame_encode(f, true, WS_OP_TEXT, "x", 1, NULL);
	expect_error(f, n, true, 0, 0, WS_CLOSE_PROTOCOL);
	/* a server frame with one */
	n = ws_frame_encode(f, true, WS_OP_TEXT, "x", 1, MASK);
	expect_error(f, n, false, 0, 0, WS_CLOSE_PROTOCOL);
	/* fragmented ping */
	n = ws_frame_encode(f, false, WS_OP_PING, "x", 1, MASK);
	expect_error(f, n, true, 0, 0, WS_CLOSE_PROTOCOL);
	/* control frame over 125 bytes */
	static const char big[200];
	n = ws_frame_encode(f, true, WS_OP_PING, big, 126, MASK);
	expect_error(f, n, true, 0, 0, WS_CLOSE_PROTOCOL);
	/* continuation with nothing to continue */
	n = ws_frame_encode(f, true, WS_OP_CONT, "x", 1, MASK);
	expect_error(f, n, true, 0, 0, WS_CLOSE_PROTOCOL);
	/* a new message inside a fragmented one */
	n = ws_frame_encode(f, false, WS_OP_TEXT, "x", 1, MASK);
	n += ws_frame_encode(f + n, true, WS_OP_TEXT, "y", 1, MASK);
	expect_error(f, n, true, 0, 0, WS_CLOSE_PROTOCOL);
	/* 64-bit length with the top bit set */
	const uint8_t huge[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
	expect_error(huge, sizeof(huge), true, 0, 0, WS_CLOSE_PROTOCOL);
}

static void test_oversize(void **state)
{
	(void)state;
	uint8_t f[512];
	static const char data[300];
	/* one frame over the frame cap: refused from its header alone */
	size_t n = ws_frame_encode(f, true, WS_OP_BINARY, data, 200, MASK);
	expect_error(f, 4, true, 100, 1000, WS_CLOSE_TOO_BIG);
	expect_error(f, n, true, 100, 1000, WS_CLOSE_TOO_BIG);
	/* fragments that add up to more than the message cap */
	n = ws_frame_encode(f, false, WS_OP_BINARY, data, 80, MASK);
	n += ws_frame_encode(f + n, false, WS_OP_CONT, data, 80, MASK);
	n += ws_frame_encode(f + n, true, WS_OP_CONT, data, 80, MASK);
	expect_error(f, n, true, 100, 200, WS_CLOSE_TOO_BIG);
	/* a declared length of 2^40 */
	const uint8_t huge[] = {0x82, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4};
	expect_error(huge, sizeof(huge), true, 0, 0, WS_CLOSE_TOO_BIG);
	/* feeding more than fits unparsed is refused, not buffered */
	struct ws_parser p;
	ws_parser_init(&p, true, 100, 100);
	static uint8_t lots[WS_FEED_MAX + 200];
	assert_false(ws_parser_feed(&p, lots, sizeof(lots)));
	ws_parser_cleanup(&p);
}

static void test_utf8(void **state)
{
	(void)state;
	assert_true(ws_utf8_valid((const uint8_t *)"", 0));
	assert_true(ws_utf8_valid((const uint8_t *)"plain", 5));
	assert_true(
		ws_utf8_valid((const uint8_t *)"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 11));
	assert_true(ws_utf8_valid((const uint8_t *)"\xf0\x9f\x98\x80", 4));  /* U+1F600 */
	assert_false(ws_utf8_valid((const uint8_t *)"\xc0\xaf", 2));         /* overlong */
	assert_false(ws_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));     /* surrogate */
	assert_false(ws_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_false(ws_utf8_valid((const uint8_t *)"\xce", 1));             /* truncated */
	assert_false(ws_utf8_valid((const uint8_t *)"\xff", 1));
	uint8_t f[64];
	size_t n = ws_frame_encode(f, true, WS_OP_TEXT, "ok\xc0\xaf", 4, MASK);
	expect_error(f, n, true, 0, 0, WS_CLOSE_INVALID_DATA);
	/* binary frames are not checked */
	struct ws_parser p;
	struct ws_message m;
	ws_parser_init(&p, true, 0, 0);
	parse_one(&p, f, ws_frame_encode(f, true, WS_OP_BINARY, "\xc0\xaf", 2, MASK), &m);
	assert_int_equal(m.ev, WS_EV_BINARY);
	ws_parser_cleanup(&p);
}

/* ---- the server ------------------------------------------------------------------ */

/* An echo route: each text message comes back as "echo:<text>"; "bye" makes
 * the server close; the first message sent is "hello". */
struct echo {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *queue[16];
	size_t n;
	bool bye;
	atomic_int *freed;
};

static int echo_next(void *ctx, char **text, size_t *len)
{
	struct echo *e = ctx;
	pthread_mutex_lock(&e->lock);
	if (!e->n && !e->bye) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&e->cond, &e->lock, &ts);
	}
	int r = 0;
	if (e->n) {
		*text = e->queue[0];
		*len = strlen(*text);
		memmove(e->queue, e->queue + 1, (e->n - 1) * sizeof(char *));
		e->n--;
		r = 1;
	} else if (e->bye) {
		r = -1;
	}
	pthread_mutex_unlock(&e->lock);
	return r;
}

static void echo_push(struct echo *e, char *s)
{
	pthread_mutex_lock(&e->lock);
	if (e->n < 16)
		e->queue[e->n++] = s;
	else
		free(s);
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

static int echo_on_message(void *ctx, const char *data, size_t len, bool binary)
{
	struct echo *e = ctx;
	if (!binary && len == 3 && memcmp(data, "bye", 3) == 0) {
		pthread_mutex_lock(&e->lock);
		e->bye = true;
		pthread_cond_broadcast(&e->cond);
		pthread_mutex_unlock(&e->lock);
		return 0;
	}
	echo_push(e, xasprintf("echo:%.*s", (int)len, data));
	return 0;
}

static void echo_free(void *ctx)
{
	struct echo *e = ctx;
	for (size_t i = 0; i < e->n; i++)
		free(e->queue[i]);
	atomic_fetch_add(e->freed, 1);
	pthread_cond_destroy(&e->cond);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

static atomic_int freed;

static void ws_route(void *data, const struct http_request *req, struct http_response *res)
{
	(void)data, (void)req;
	struct echo *e = xcalloc(1, sizeof(*e));
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	e->freed = &freed;
	e->queue[e->n++] = xstrdup("hello");
	struct http_websocket ws = {.next = echo_next,
				    .on_message = echo_on_message,
				    .free = echo_free,
				    .ctx = e,
				    .max_message = 4096};
	http_response_websocket(res, &ws);
}

static void plain_route(void *data, const struct http_request *req, struct http_response *res)
{
	(void)data, (void)req;
	http_response_json(res, 200, xstrdup("{\"ok\":true}"));
}

struct srv {
	struct http_server *h;
	int port;
};

static const struct http_route routes[] = {
	{"GET", "/ws", ws_route, NULL},
	{"GET", "/plain", plain_route, NULL},
};

static void start(struct srv *s)
{
	struct http_server_options o = {
		.host = "127.0.0.1", .port = 0, .routes = routes, .nroutes = 2};
	struct err e = {0};
	assert_int_equal(http_server_start(NULL, &o, &s->h, &e), 0);
	s->port = http_server_port(s->h);
	assert_true(s->port > 0);
}

static int dial(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		assert_true(k > 0);
		p = (const char *)p + k;
		n -= (size_t)k;
	}
}

/* Read until "\r\n\r\n" (5 s deadline); the head in out.  Bytes past it are
 * left in *extra. */
static void read_head(int fd, char *out, size_t max, char *extra, size_t *extra_len)
{
	size_t n = 0;
	*extra_len = 0;
	for (;;) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		assert_true(poll(&pf, 1, 5000) == 1);
		ssize_t k = recv(fd, out + n, max - 1 - n, 0);
		assert_true(k > 0);
		n += (size_t)k;
		out[n] = 0;
		char *end = strstr(out, "\r\n\r\n");
		if (end) {
			size_t hl = (size_t)(end + 4 - out);
			*extra_len = n - hl;
			memcpy(extra, end + 4, *extra_len);
			out[hl] = 0;
			return;
		}
	}
}

/* The next event from the server (5 s deadline). */
static void read_event(int fd, struct ws_parser *p, struct ws_message *m)
{
	for (;;) {
		ws_parser_next(p, m);
		if (m->ev != WS_EV_NONE)
			return;
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		assert_true(poll(&pf, 1, 5000) == 1);
		char b[4096];
		ssize_t k = recv(fd, b, sizeof(b), 0);
		assert_true(k > 0);
		assert_true(ws_parser_feed(p, b, (size_t)k));
	}
}

/* Whether the server closes the TCP connection within 5 s. */
static bool eof_soon(int fd)
{
	for (;;) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		if (poll(&pf, 1, 5000) != 1)
			return false;
		char b[256];
		ssize_t k = recv(fd, b, sizeof(b), 0);
		if (k <= 0)
			return true;
	}
}

static void send_frame(int fd, int op, const void *p, size_t n)
{
	uint8_t *f = xmalloc(WS_FRAME_HEADER_MAX + n);
	size_t fl = ws_frame_encode(f, true, op, p, n, MASK);
	send_all(fd, f, fl);
	free(f);
}

/* Handshake on /ws; returns the socket with the parser fed the extra bytes. */
static int ws_open(int port, struct ws_parser *p)
{
	int fd = dial(port);
	char req[512];
	snprintf(
		req, sizeof(req),
		"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
		"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		"Sec-WebSocket-Version: 13\r\n\r\n",
		port);
	send_all(fd, req, strlen(req));
	char head[4096], extra[4096];
	size_t el;
	read_head(fd, head, sizeof(head), extra, &el);
	assert_non_null(strstr(head, "HTTP/1.1 101"));
	assert_non_null(strcasestr(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
	assert_non_null(strcasestr(head, "Upgrade: websocket"));
	ws_parser_init(p, false, 0, 0);
	if (el)
		assert_true(ws_parser_feed(p, extra, el));
	return fd;
}

static bool wait_freed(int n)
{
	for (int i = 0; i < 500; i++) {
		if (atomic_load(&freed) >= n)
			return true;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return false;
}

static void test_server_echo_ping_close(void **state)
{
	(void)state;
	atomic_store(&freed, 0);
	struct srv s;
	start(&s);
	struct ws_parser p;
	struct ws_message m;
	int fd = ws_open(s.port, &p);
	read_event(fd, &p, &m);
	assert_int_equal(m.ev, WS_EV_TEXT);
	assert_string_equal((const char *)m.data, "hello");
	/* echo, fragmented on the way in */
	uint8_t f[128];
	size_t n = ws_frame_encode(f, false, WS_OP_TEXT, "ab", 2, MASK);
	n += ws_frame_encode(f + n, true, WS_OP_CONT, "cd", 2, MASK);
	send_all(fd, f, n);
	read_event(fd, &p, &m);
	assert_int_equal(m.ev, WS_EV_TEXT);
	assert_string_equal((const char *)m.data, "echo:abcd");
	/* ping gets its payload back */
	send_frame(fd, WS_OP_PING, "are you there", 13);
	read_event(fd, &p, &m);
	assert_int_equal(m.ev, WS_EV_PONG);
	assert_int_equal(m.len, 13);
	assert_memory_equal(m.data, "are you there", 13);
	/* client close: echoed, then the TCP connection ends */
	uint8_t cl[] = {0x03, 0xe8};
	send_frame(fd, WS_OP_CLOSE, cl, 2);
	read_event(fd, &p, &m);
	assert_int_equal(m.ev, WS_EV_CLOSE);
	assert_int_equal(m.code, 1000);
	assert_true(eof_soon(fd));
	close(fd);
	ws_parser_cleanup(&p);
	assert_true(wait_freed(1));

	/* server-initiated close: the route's next() returns -1 */
	fd = ws_open(s.port, &p);
	read_event(fd, &p, &m);
	assert_string_equal((const char *)m.data, "hello");
	send_frame(fd, WS_OP_TEXT, "bye", 3);
	read_event(fd, &p, &m);
	assert_int_equal(m.ev, WS_EV_CLOSE);
	assert_int_equal(m.code, 1000);
	send_frame(fd, WS_OP_CLOSE, cl, 2);
	assert_true(eof_soon(fd));
	close(fd);
	ws_parser_cleanup(&p);
	assert_true(wait_freed(2));
	http_server_free(s.h);
}

static void test_server_bad_input(void **state)
{
	(void)state;
	atomic_store(&freed, 0);
	struct srv s;
	start(&s);
	struct ws_parser p;
	struct ws_message m;

	/* unmasked frame: 1002 */
	int fd = ws_open(s.port, &p);
	read_event(fd, &p, &m); /* hello */
	uint8_t f[8192];
	send_all(fd, f, ws_frame_encode(f, true, WS_OP_TEXT, "x", 1, NULL));
	read_event(fd, &p, &m);
	assert_int_equal(m.ev, WS_EV_CLOSE);
	assert_int_equal(m.code, WS_CLOSE_PROTOCOL);
	assert_true(eof_soon(fd));
	close(fd);
	ws_parser_cleanup(&p);

	/* bad UTF-8: 1007 */
	fd = ws_open(s.port, &p);
	read_event(fd, &p, &m);
	send_frame(fd, WS_OP_TEXT, "\xc0\xaf", 2);
	read_event(fd, &p, &m);
	assert_int_equal(m.ev, WS_EV_CLOSE);
	assert_int_equal(m.code, WS_CLOSE_INVALID_DATA);
	assert_true(eof_soon(fd));
	close(fd);
	ws_parser_cleanup(&p);

	/* over max_message (4096): 1009 */
	fd = ws_open(s.port, &p);
	read_event(fd, &p, &m);
	static const char big[5000];
	send_frame(fd, WS_OP_BINARY, big, sizeof(big));
	read_event(fd, &p, &m);
	assert_int_equal(m.ev, WS_EV_CLOSE);
	assert_int_equal(m.code, WS_CLOSE_TOO_BIG);
	assert_true(eof_soon(fd));
	close(fd);
	ws_parser_cleanup(&p);

	/* the peer just leaves: ctx freed all the same */
	fd = ws_open(s.port, &p);
	read_event(fd, &p, &m);
	close(fd);
	ws_parser_cleanup(&p);
	assert_true(wait_freed(4));

	/* not an upgrade: 426, ctx freed; a bad key: 400; other routes unaffected */
	const char *reqs[] = {
		"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: "
		"Upgrade\r\nSec-WebSocket-Key: nope\r\nSec-WebSocket-Version: 13\r\n\r\n",
		"GET /plain HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
	};
	const char *want[] = {"HTTP/1.1 426", "HTTP/1.1 400", "HTTP/1.1 200"};
	for (int i = 0; i < 3; i++) {
		fd = dial(s.port);
		send_all(fd, reqs[i], strlen(reqs[i]));
		char head[4096], extra[4096];
		size_t el;
		read_head(fd, head, sizeof(head), extra, &el);
		assert_non_null(strstr(head, want[i]));
		close(fd);
	}
	assert_true(wait_freed(6));

	/* a connection still open when the server stops gets 1001 */
	fd = ws_open(s.port, &p);
	read_event(fd, &p, &m);
	http_server_free(s.h);
	read_event(fd, &p, &m);
	assert_int_equal(m.ev, WS_EV_CLOSE);
	assert_int_equal(m.code, WS_CLOSE_GOING_AWAY);
	close(fd);
	ws_parser_cleanup(&p);
	assert_int_equal(atomic_load(&freed), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_key),
		cmocka_unit_test(test_header_tokens),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_masking),
		cmocka_unit_test(test_fragmentation_with_control_between),
		cmocka_unit_test(test_close_frames),
		cmocka_unit_test(test_protocol_errors),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_server_echo_ping_close),
		cmocka_unit_test(test_server_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
