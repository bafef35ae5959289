/*
 * netguard.h - the SSRF policy: which addresses a user-supplied URL may reach.
 *
 * Tasks fetch URLs that users (and LLM agents) supply, from inside the machine
 * that runs ambient.  Without a guard, "monitor http://169.254.169.254/..." would
 * read cloud credentials and "http://127.0.0.1:5432" would probe local
 * services.  So by default only public addresses may be reached; loopback,
 * private (RFC 1918, fc00::/7), link-local, CGNAT, multicast, broadcast,
 * unspecified, "this network" (0.0.0.0/8), reserved and documentation ranges
 * and cloud metadata endpoints are refused.  An allow-list opens holes:
 *
 *   --allow-net LIST  or  AMBIENT_ALLOW_NET=LIST   (the flag wins)
 *
 * LIST is comma-separated; each entry is one of
 *   - an address or CIDR, IPv4 or IPv6: 127.0.0.1, 10.0.0.0/8, ::1/128, [fd00::]/8;
 *     host bits must be zero ("10.0.0.1/8" is refused, so a typo is not silently widened);
 *     ::ffff:a.b.c.d/n (n >= 96) is taken as the IPv4 network a.b.c.d/(n-96);
 *   - a host name: intranet.example (that exact name, whatever it resolves to),
 *     *.example.com or .example.com (any name below example.com, not example.com itself);
 *   - "*": allow every address (turns the guard off; for trusted single-user setups).
 * Blanks around entries and empty entries are ignored.
 *
 * The guard judges the address that is actually connected to (the fetcher
 * calls netguard_check from curl's open-socket hook), so names that resolve to
 * 127.0.0.1, DNS rebinding and redirects are all covered.  Addresses that embed
 * an IPv4 address are judged as that IPv4 address: IPv4-mapped ::ffff:a.b.c.d,
 * IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::a.b.c.d and 6to4 2002:AABB:CCDD::.
 * A cloud metadata address (169.254.169.254, 169.254.170.2, 100.100.100.200,
 * fd00:ec2::254) is allowed only by an entry naming exactly that address (a
 * /32 or /128), by an allowed host name, or by "*" — a broad 169.254.0.0/16
 * does not open it.
 *
 * Threads: a guard is immutable once built; netguard_check and the other
 * const functions may be called from any thread at once.
 */
#ifndef AMBIENT_ENGINE_NETGUARD_H
#define AMBIENT_ENGINE_NETGUARD_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>
#include <sys/socket.h>

#include "common/err.h"

#define NETGUARD_ENV "AMBIENT_ALLOW_NET"

enum netguard_class {
	NETGUARD_PUBLIC = 0,
	NETGUARD_LOOPBACK,     /* 127.0.0.0/8, ::1 */
	NETGUARD_PRIVATE,      /* 10/8, 172.16/12, 192.168/16, fc00::/7, fec0::/10 */
	NETGUARD_LINK_LOCAL,   /* 169.254/16, fe80::/10 */
	NETGUARD_METADATA,     /* cloud instance metadata endpoints */
	NETGUARD_CGNAT,        /* 100.64.0.0/10 shared address space */
	NETGUARD_MULTICAST,    /* 224/4, ff00::/8 */
	NETGUARD_UNSPECIFIED,  /* 0.0.0.0, :: */
	NETGUARD_THIS_NETWORK, /* 0.0.0.0/8 other than 0.0.0.0 */
	NETGUARD_BROADCAST,    /* 255.255.255.255 */
	NETGUARD_RESERVED,     /* 240/4, 192.0.0/24, documentation, benchmarking, 100::/64,
				* 2001:db8::/32, 64:ff9b:1::/48, other unassigned */
	NETGUARD__CLASS_COUNT
};

/* An address as judged: after unwrapping IPv4-mapped, NAT64, 6to4 and
 * IPv4-compatible IPv6 addresses, family is AF_INET and b[0..3] the IPv4
 * address; `via` then names the wrapping ("IPv4-mapped", "NAT64", ...). */
struct netguard_ip {
	int family;          /* AF_INET or AF_INET6; 0 for anything else */
	unsigned char b[16]; /* network byte order */
	const char *via;     /* NULL when the address was judged as given */
};

struct netguard;

/* CONSTRUCTOR.  Parse an allow-list (NULL or "" allows nothing beyond public
 * addresses).  On a bad entry returns ERR_INVALID and *out stays NULL; the
 * message names the entry and says what a good one looks like. */
int netguard_new(const char *allow_list, struct netguard **out, struct err *e);
/* DESTRUCTOR.  NULL is fine. */
void netguard_free(struct netguard *g);

/* The allow-list in normalised form ("127.0.0.1/32, ::1/128, localhost"), or
 * "(none)"; caller frees.  For logs and /health. */
char *netguard_describe(const struct netguard *g);
/* True when the list contains "*". */
bool netguard_allows_all(const struct netguard *g);

/* Classify an address (AF_INET or AF_INET6 sockaddr); `judged` (may be NULL)
 * receives the address the class applies to.  Other families are RESERVED. */
enum netguard_class netguard_classify(const struct sockaddr *sa, struct netguard_ip *judged);
/* Same for a textual address ("127.0.0.1", "::ffff:10.0.0.1", "[::1]");
 * returns -1 when the text is not an IP address. */
int netguard_classify_str(const char *ip, struct netguard_ip *judged);
/* "loopback", "private", "link-local", ... ("public" for NETGUARD_PUBLIC). */
const char *netguard_class_name(enum netguard_class c);

/* May we connect to `sa` for a URL whose host is `host`?  ERR_OK, or ERR_PERM
 * with a message like
 *   refusing to connect to 127.0.0.1 (loopback) for http://localhost:8080/:
 *   private, loopback and link-local addresses are blocked; allow them with
 *   --allow-net 127.0.0.1
 * `host` is the URL's host (may be NULL; compared with the host-name entries,
 * case-insensitively, brackets and a trailing dot ignored); `url` (may be NULL)
 * only appears in the message.  A NULL guard allows everything. */
int netguard_check(const struct netguard *g, const struct sockaddr *sa, const char *host,
		   const char *url, struct err *e);

/* The guard at connect time for one curl transfer: set
 * CURLOPT_OPENSOCKETFUNCTION to netguard_open_socket and CURLOPT_OPENSOCKETDATA
 * to a struct netguard_conn; every address curl connects to (after DNS, on
 * every hop) is judged by netguard_check.  After the transfer, `blocked`
 * without `passed` means a connect failure was the guard's doing, and `err`
 * says why. */
struct netguard_conn {
	const struct netguard *guard; /* NULL: every address passes (a trusted URL) */
	const char *host;             /* the current URL's host, for host-name entries */
	const char *url;              /* only for the message; may be NULL */
	bool blocked;                 /* an address was refused (the first: err) */
	bool passed;                  /* an address was let through */
	struct err err;
};

/* Forget the outcome of a previous attempt (guard, host and url stay). */
void netguard_conn_reset(struct netguard_conn *c);

/* curl's open-socket callback: clientp is a struct netguard_conn. */
curl_socket_t netguard_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a);

/* A pre-flight check on a URL's host before any resolution: refuses IP
 * literals in blocked ranges and the names "localhost" / "*.localhost"
 * (which never leave the machine), unless allowed.  Other names pass (their
 * addresses are judged at connect time).  For early, clear errors when a task
 * is created, and for the case of a configured proxy, where the connected
 * address is the proxy's. */
int netguard_check_host(const struct netguard *g, const char *host, const char *url, struct err *e);

/* Format an address ("127.0.0.1", "fe80::1") into out (at least 46 bytes). */
void netguard_ip_format(const struct netguard_ip *ip, char *out, size_t size);

#endif
