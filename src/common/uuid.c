/* uuid.c - UUID v4, v7 and name-derived v8. */
/* <openssl/types.h> declares a type ERR_STATE, which is also one of our
 * error codes (common/err.h, included by uuid.h via clock.h). */
#define ERR_STATE OPENSSL_ERR_STATE
#include <openssl/evp.h>
#undef ERR_STATE

#include "uuid.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

void random_bytes(void *buf, unsigned long n)
{
	unsigned char *p = buf;
	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);
		if (got < 0) {
			perror("ambient: getrandom");
			abort();
		}
		p += got;
		n -= (unsigned long)got;
	}
}

static void format(const unsigned char b[16], char *out)
{
	static const char hex[] = "0123456789abcdef";
	int j = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[j++] = '-';
		out[j++] = hex[b[i] >> 4];
		out[j++] = hex[b[i] & 15];
	}
	out[j] = '\0';
}

void uuid_v4(char out[UUID_STR_LEN + 1])
{
	unsigned char b[16];
	random_bytes(b, sizeof b);
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	format(b, out);
}

static pthread_mutex_t v7_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t v7_last_ms;
static uint16_t v7_counter;

void uuid_v7(struct clock *clk, char out[UUID_STR_LEN + 1])
{
	unsigned char b[16];
	uint64_t ms = (uint64_t)(clock_wall_us(clk) / 1000);
	uint16_t counter;

	random_bytes(b, sizeof b);
	pthread_mutex_lock(&v7_lock);
	if (ms <= v7_last_ms) {
		/* Same (or an earlier) millisecond: keep order with the counter;
		 * when it overflows, borrow the next millisecond. */
		ms = v7_last_ms;
		if (++v7_counter > 0x0fff) {
			ms++;
			v7_counter = 0;
		}
	} else {
		v7_counter = (uint16_t)((b[6] << 8 | b[7]) & 0x01ff); /* leave headroom */
	}
	v7_last_ms = ms;
	counter = v7_counter;
	pthread_mutex_unlock(&v7_lock);

	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (40 - 8 * i));
	b[6] = (unsigned char)(0x70 | (counter >> 8));
	b[7] = (unsigned char)(counter & 0xff);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	format(b, out);
}

bool uuid_valid(const char *s)
{
	if (!s || strlen(s) != UUID_STR_LEN)
		return false;
	for (int i = 0; i < UUID_STR_LEN; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
			return false;
		}
	}
	return true;
}

void uuid_from_name(const char *name, char out[UUID_STR_LEN + 1])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!EVP_Digest(name, strlen(name), d, &n, EVP_sha256(), NULL) || n < 16) {
		fputs("ambient: SHA-256 is unavailable in this OpenSSL\n", stderr);
		abort();
	}
	d[6] = (unsigned char)((d[6] & 0x0f) | 0x80);
	d[8] = (unsigned char)((d[8] & 0x3f) | 0x80);
	format(d, out);
}
