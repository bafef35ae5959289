/*
 * netguard.c - the SSRF policy (see netguard.h).
 *
 * Classification is a table of ranges per family, checked in order (so the
 * metadata /32s come before 169.254/16).  Allow-list entries are CIDRs and
 * host names held in two arrays; lists are short, a linear scan is enough.
 */
#include "netguard.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"

struct cidr {
	int family; /* AF_INET or AF_INET6 */
	unsigned char b[16];
	int prefix;
};

struct netguard {
	bool allow_all;
	struct cidr *cidrs;
	size_t ncidrs;
	char **hosts; /* lower case; "*.x" for suffix entries */
	size_t nhosts;
};

/* ---- classification tables --------------------------------------------- */

struct range {
	unsigned char b[16];
	int prefix;
	enum netguard_class cls;
};

static const struct range v4_ranges[] = {
	{{0, 0, 0, 0}, 32, NETGUARD_UNSPECIFIED},
	{{0, 0, 0, 0}, 8, NETGUARD_THIS_NETWORK},
	{{10, 0, 0, 0}, 8, NETGUARD_PRIVATE},
	{{100, 100, 100, 200}, 32, NETGUARD_METADATA}, /* Alibaba Cloud */
	{{100, 64, 0, 0}, 10, NETGUARD_CGNAT},
	{{127, 0, 0, 0}, 8, NETGUARD_LOOPBACK},
	{{169, 254, 169, 254}, 32, NETGUARD_METADATA}, /* AWS, GCP, Azure, OCI, ... */
	{{169, 254, 170, 2}, 32, NETGUARD_METADATA},   /* AWS ECS task metadata */
	{{169, 254, 0, 0}, 16, NETGUARD_LINK_LOCAL},
	{{172, 16, 0, 0}, 12, NETGUARD_PRIVATE},
	{{192, 0, 0, 0}, 24, NETGUARD_RESERVED},   /* IETF protocol assignments */
	{{192, 0, 2, 0}, 24, NETGUARD_RESERVED},   /* TEST-NET-1 */
	{{192, 88, 99, 0}, 24, NETGUARD_RESERVED}, /* 6to4 relay anycast */
	{{192, 168, 0, 0}, 16, NETGUARD_PRIVATE},
	{{198, 18, 0, 0}, 15, NETGUARD_RESERVED},   /* benchmarking */
	{{198, 51, 100, 0}, 24, NETGUARD_RESERVED}, /* TEST-NET-2 */
	{{203, 0, 113, 0}, 24, NETGUARD_RESERVED},  /* TEST-NET-3 */
	{{224, 0, 0, 0}, 4, NETGUARD_MULTICAST},
	{{255, 255, 255, 255}, 32, NETGUARD_BROADCAST},
	{{240, 0, 0, 0}, 4, NETGUARD_RESERVED},
};

static const struct range v6_ranges[] = {
	{{0}, 128, NETGUARD_UNSPECIFIED},
	{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, NETGUARD_LOOPBACK},
	{{0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54},
	 128,
	 NETGUARD_METADATA},
	{{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, NETGUARD_RESERVED}, /* local-use NAT64 */
	{{0x01, 0x00}, 64, NETGUARD_RESERVED},                         /* discard-only */
	{{0x20, 0x01, 0x0d, 0xb8}, 32, NETGUARD_RESERVED},             /* documentation */
	{{0xfc}, 7, NETGUARD_PRIVATE},                                 /* unique local */
	{{0xfe, 0x80}, 10, NETGUARD_LINK_LOCAL},
	{{0xfe, 0xc0}, 10, NETGUARD_PRIVATE}, /* site-local (deprecated) */
	{{0xff}, 8, NETGUARD_MULTICAST},
	{{0}, 8, NETGUARD_RESERVED}, /* ::/8 other than the above and the embeddings */
};

static bool prefix_match(const unsigned char *a, const unsigned char *net, int prefix)
{
	int full = prefix / 8, rest = prefix % 8;
	if (memcmp(a, net, (size_t)full) != 0)
		return false;
	if (rest) {
		unsigned char mask = (unsigned char)(0xff << (8 - rest));
		if ((a[full] & mask) != (net[full] & mask))
			return false;
	}
	return true;
}

static enum netguard_class classify_table(const struct range *t, size_t n, const unsigned char *a)
{
	for (size_t i = 0; i < n; i++)
		if (prefix_match(a, t[i].b, t[i].prefix))
			return t[i].cls;
	return NETGUARD_PUBLIC;
}

static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
static const unsigned char nat64_wkp[12] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
static const unsigned char zero12[12] = {0};

/* Unwrap an IPv6 address that embeds an IPv4 one; true when it did. */
static bool unwrap_v6(struct netguard_ip *ip)
{
	unsigned char a6[16];
	const char *via = NULL;
	const unsigned char *v4 = NULL;

	memcpy(a6, ip->b, 16);

	if (memcmp(a6, v4mapped, 12) == 0) {
		via = "IPv4-mapped";
		v4 = a6 + 12;
	} else if (memcmp(a6, nat64_wkp, 12) == 0) {
		via = "NAT64";
		v4 = a6 + 12;
	} else if (a6[0] == 0x20 && a6[1] == 0x02) {
		via = "6to4";
		v4 = a6 + 2;
	} else if (memcmp(a6, zero12, 12) == 0 && !(a6[12] == 0 && a6[13] == 0 && a6[14] == 0)) {
		/* ::a.b.c.d, but not :: or ::1 (nor ::0.0.0.x at all) */
		via = "IPv4-compatible";
		v4 = a6 + 12;
	}
	if (!via)
		return false;
	memset(ip, 0, sizeof *ip);
	ip->family = AF_INET;
	memcpy(ip->b, v4, 4);
	ip->via = via;
	return true;
}

static enum netguard_class classify_ip(struct netguard_ip *ip)
{
	if (ip->family == AF_INET6)
		unwrap_v6(ip); /* an embedded IPv4 address is judged as IPv4 below */
	if (ip->family == AF_INET)
		return classify_table(v4_ranges, sizeof v4_ranges / sizeof v4_ranges[0], ip->b);
	if (ip->family == AF_INET6)
		return classify_table(v6_ranges, sizeof v6_ranges / sizeof v6_ranges[0], ip->b);
	return NETGUARD_RESERVED;
}

static void ip_from_sockaddr(const struct sockaddr *sa, struct netguard_ip *ip)
{
	memset(ip, 0, sizeof *ip);
	if (!sa)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
		ip->family = AF_INET;
		memcpy(ip->b, &s4->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
		ip->family = AF_INET6;
		memcpy(ip->b, &s6->sin6_addr, 16);
	}
}

enum netguard_class netguard_classify(const struct sockaddr *sa, struct netguard_ip *judged)
{
	struct netguard_ip ip;
	ip_from_sockaddr(sa, &ip);
	enum netguard_class c = classify_ip(&ip);
	if (judged)
		*judged = ip;
	return c;
}

/* Parse "1.2.3.4", "::1" or "[::1]" into ip (as given, not unwrapped). */
static bool parse_ip(const char *s, size_t n, struct netguard_ip *ip)
{
	char tmp[64];
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof tmp)
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	memset(ip, 0, sizeof *ip);
	if (inet_pton(AF_INET, tmp, ip->b) == 1) {
		ip->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, tmp, ip->b) == 1) {
		ip->family = AF_INET6;
		return true;
	}
	return false;
}

int netguard_classify_str(const char *s, struct netguard_ip *judged)
{
	struct netguard_ip ip;
	if (!s || !parse_ip(s, strlen(s), &ip))
		return -1;
	int c = (int)classify_ip(&ip);
	if (judged)
		*judged = ip;
	return c;
}

static const char *const class_names[NETGUARD__CLASS_COUNT] = {
	[NETGUARD_PUBLIC] = "public",
	[NETGUARD_LOOPBACK] = "loopback",
	[NETGUARD_PRIVATE] = "private",
	[NETGUARD_LINK_LOCAL] = "link-local",
	[NETGUARD_METADATA] = "cloud metadata",
	[NETGUARD_CGNAT] = "carrier-grade NAT",
	[NETGUARD_MULTICAST] = "multicast",
	[NETGUARD_UNSPECIFIED] = "unspecified",
	[NETGUARD_THIS_NETWORK] = "this-network",
	[NETGUARD_BROADCAST] = "broadcast",
	[NETGUARD_RESERVED] = "reserved",
};

const char *netguard_class_name(enum netguard_class c)
{
	if ((int)c < 0 || c >= NETGUARD__CLASS_COUNT)
		return "unknown";
	return class_names[c];
}

void netguard_ip_format(const struct netguard_ip *ip, char *out, size_t size)
{
	if (!ip || !size)
		return;
	if (!ip->family || !inet_ntop(ip->family, ip->b, out, (socklen_t)size))
		snprintf(out, size, "(unknown address)");
}

/* ---- allow-list parsing ------------------------------------------------- */

static bool valid_hostname(const char *h)
{
	size_t n = strlen(h), label = 0;
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!(isalnum(c) || c == '-' || c == '_'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* Normalise a URL host for comparison: lower case, no brackets, no trailing dot. */
static char *norm_host(const char *host)
{
	size_t n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	while (n > 0 && host[n - 1] == '.')
		n--;
	char *h = xstrndup(host, n);
	lower(h);
	return h;
}

static int parse_cidr(const char *entry, struct cidr *out, struct err *e)
{
	const char *slash = strchr(entry, '/');
	size_t alen = slash ? (size_t)(slash - entry) : strlen(entry);
	struct netguard_ip ip;

	if (!parse_ip(entry, alen, &ip))
		return err_set(e, ERR_INVALID,
			       "allow-list entry '%s' is not an IP address, CIDR or host name "
			       "(examples: 127.0.0.1, 10.0.0.0/8, ::1/128, intranet.example)",
			       entry);
	int max = ip.family == AF_INET ? 32 : 128, prefix = max;
	if (slash) {
		const char *p = slash + 1;
		char *end;
		if (!isdigit((unsigned char)*p))
			return err_set(
				e, ERR_INVALID,
				"allow-list entry '%s': the prefix length after '/' must be a "
				"number from 0 to %d",
				entry, max);
		long v = strtol(p, &end, 10);
		if (*end || v < 0 || v > max)
			return err_set(
				e, ERR_INVALID,
				"allow-list entry '%s': the prefix length after '/' must be a "
				"number from 0 to %d",
				entry, max);
		prefix = (int)v;
	}
	/* host bits must be zero */
	int bytes = max / 8;
	for (int bit = prefix; bit < max; bit++) {
		if (ip.b[bit / 8] & (0x80 >> (bit % 8))) {
			struct netguard_ip net = ip;
			for (int k = prefix; k < bytes * 8; k++)
				net.b[k / 8] &= (unsigned char)~(0x80 >> (k % 8));
			char txt[64];
			netguard_ip_format(&net, txt, sizeof txt);
			return err_set(
				e, ERR_INVALID,
				"allow-list entry '%s' has bits set after the /%d prefix; "
				"did you mean %s/%d (the whole network) or the single address "
				"without '/%d'?",
				entry, prefix, txt, prefix, prefix);
		}
	}
	/* ::ffff:a.b.c.d/n -> a.b.c.d/(n-96) */
	if (ip.family == AF_INET6 && prefix >= 96 && memcmp(ip.b, v4mapped, 12) == 0) {
		memmove(ip.b, ip.b + 12, 4);
		memset(ip.b + 4, 0, 12);
		ip.family = AF_INET;
		prefix -= 96;
	}
	out->family = ip.family;
	memcpy(out->b, ip.b, 16);
	out->prefix = prefix;
	return ERR_OK;
}

static int add_entry(struct netguard *g, char *entry, struct err *e)
{
	if (strcmp(entry, "*") == 0) {
		g->allow_all = true;
		return ERR_OK;
	}
	if (strstr(entry, "://"))
		return err_set(e, ERR_INVALID,
			       "allow-list entry '%s' is a URL; give the host name or address only "
			       "(e.g. intranet.example or 10.0.0.5)",
			       entry);
	/* An address or CIDR: digits and dots, or anything with ':' or '/'. */
	bool looks_ip = strchr(entry, '/') || entry[0] == '[' ||
			strspn(entry, "0123456789.") == strlen(entry) ||
			(strchr(entry, ':') && strchr(entry, ':') != strrchr(entry, ':'));
	if (looks_ip) {
		struct cidr c;
		int rc = parse_cidr(entry, &c, e);
		if (rc)
			return rc;
		g->cidrs = xrealloc(g->cidrs, (g->ncidrs + 1) * sizeof *g->cidrs);
		g->cidrs[g->ncidrs++] = c;
		return ERR_OK;
	}
	if (strchr(entry, ':'))
		return err_set(
			e, ERR_INVALID,
			"allow-list entry '%s': ports are not part of the allow-list; give the "
			"host or address without ':port'",
			entry);
	const char *name = entry;
	bool suffix = false;
	if (strncmp(name, "*.", 2) == 0) {
		name += 2;
		suffix = true;
	} else if (name[0] == '.') {
		name += 1;
		suffix = true;
	}
	char *h = norm_host(name);
	if (!valid_hostname(h)) {
		free(h);
		return err_set(e, ERR_INVALID,
			       "allow-list entry '%s' is not an IP address, CIDR or host name "
			       "(examples: 127.0.0.1, 10.0.0.0/8, ::1/128, intranet.example, "
			       "*.corp.example)",
			       entry);
	}
	g->hosts = xrealloc(g->hosts, (g->nhosts + 1) * sizeof *g->hosts);
	g->hosts[g->nhosts++] = suffix ? xasprintf("*.%s", h) : xstrdup(h);
	free(h);
	return ERR_OK;
}

int netguard_new(const char *list, struct netguard **out, struct err *e)
{
	struct netguard *g = xcalloc(1, sizeof *g);
	*out = NULL;
	if (list) {
		char *copy = xstrdup(list), *save = NULL;
		for (char *tok = strtok_r(copy, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			while (isspace((unsigned char)*tok))
				tok++;
			char *end = tok + strlen(tok);
			while (end > tok && isspace((unsigned char)end[-1]))
				*--end = '\0';
			if (!*tok)
				continue;
			int rc = add_entry(g, tok, e);
			if (rc) {
				free(copy);
				netguard_free(g);
				return rc;
			}
		}
		free(copy);
	}
	*out = g;
	return ERR_OK;
}

void netguard_free(struct netguard *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->nhosts; i++)
		free(g->hosts[i]);
	free(g->hosts);
	free(g->cidrs);
	free(g);
}

bool netguard_allows_all(const struct netguard *g)
{
	return g && g->allow_all;
}

char *netguard_describe(const struct netguard *g)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	if (g && g->allow_all)
		buf_puts(&b, "*");
	for (size_t i = 0; g && i < g->ncidrs; i++) {
		struct netguard_ip ip = {.family = g->cidrs[i].family};
		char txt[64];
		memcpy(ip.b, g->cidrs[i].b, 16);
		netguard_ip_format(&ip, txt, sizeof txt);
		buf_printf(&b, "%s%s/%d", b.len ? ", " : "", txt, g->cidrs[i].prefix);
	}
	for (size_t i = 0; g && i < g->nhosts; i++)
		buf_printf(&b, "%s%s", b.len ? ", " : "", g->hosts[i]);
	if (!b.len)
		buf_puts(&b, "(none)");
	return buf_steal(&b);
}

/* ---- checks ------------------------------------------------------------- */

static bool host_allowed(const struct netguard *g, const char *host)
{
	if (!host || !*host || !g->nhosts)
		return false;
	char *h = norm_host(host);
	bool ok = false;
	size_t hn = strlen(h);
	for (size_t i = 0; i < g->nhosts && !ok; i++) {
		const char *a = g->hosts[i];
		if (a[0] == '*') {
			size_t an = strlen(a + 1); /* ".example.com" */
			ok = hn > an && strcmp(h + hn - an, a + 1) == 0;
		} else {
			ok = strcmp(h, a) == 0;
		}
	}
	free(h);
	return ok;
}

/* Does a CIDR entry cover ip?  `exact` receives whether the entry names a
 * single address (for metadata endpoints). */
static bool cidr_allowed(const struct netguard *g, const struct netguard_ip *ip, bool *exact)
{
	*exact = false;
	bool any = false;
	for (size_t i = 0; i < g->ncidrs; i++) {
		const struct cidr *c = &g->cidrs[i];
		if (c->family != ip->family || !prefix_match(ip->b, c->b, c->prefix))
			continue;
		any = true;
		if (c->prefix == (c->family == AF_INET ? 32 : 128))
			*exact = true;
	}
	return any;
}

static const char *class_reason(enum netguard_class c)
{
	switch (c) {
	case NETGUARD_METADATA:
		return "cloud metadata endpoints are blocked (they hand out credentials)";
	case NETGUARD_MULTICAST:
	case NETGUARD_BROADCAST:
	case NETGUARD_RESERVED:
		return "multicast, broadcast and reserved addresses are blocked";
	default:
		return "private, loopback and link-local addresses are blocked";
	}
}

static int refuse(const struct netguard_ip *given, const struct netguard_ip *judged,
		  enum netguard_class c, const char *host, const char *url, struct err *e)
{
	char gtxt[64], jtxt[64], what[128], inner[100] = "";
	netguard_ip_format(given, gtxt, sizeof gtxt);
	netguard_ip_format(judged, jtxt, sizeof jtxt);
	if (judged->via)
		snprintf(inner, sizeof inner, ", %s %s", judged->via, jtxt);
	if (url)
		snprintf(what, sizeof what, "%s", url);
	else if (host)
		snprintf(what, sizeof what, "host %s", host);
	else
		snprintf(what, sizeof what, "this request");
	const char *exact_note = c == NETGUARD_METADATA ? " (only an entry naming exactly this "
							  "address opens a metadata endpoint)"
							: "";
	return err_set(e, ERR_PERM,
		       "refusing to connect to %s (%s%s) for %s: %s; allow them with "
		       "--allow-net %s%s",
		       gtxt, netguard_class_name(c), inner, what, class_reason(c), jtxt,
		       exact_note);
}

static int check_ip(const struct netguard *g, const struct netguard_ip *given, const char *host,
		    const char *url, struct err *e)
{
	if (!g || g->allow_all)
		return ERR_OK;
	struct netguard_ip judged = *given;
	enum netguard_class c = classify_ip(&judged);
	if (c == NETGUARD_PUBLIC)
		return ERR_OK;
	if (host_allowed(g, host))
		return ERR_OK;
	bool exact = false, exact2 = false;
	bool ok = cidr_allowed(g, &judged, &exact);
	if (judged.via) /* an IPv6 entry may also name the wrapping address */
		ok = cidr_allowed(g, given, &exact2) || ok;
	exact = exact || exact2;
	if (ok && (c != NETGUARD_METADATA || exact))
		return ERR_OK;
	return refuse(given, &judged, c, host, url, e);
}

int netguard_check(const struct netguard *g, const struct sockaddr *sa, const char *host,
		   const char *url, struct err *e)
{
	struct netguard_ip ip;
	ip_from_sockaddr(sa, &ip);
	if (!ip.family && g && !g->allow_all)
		return err_set(
			e, ERR_PERM,
			"refusing to connect for %s: only IPv4 and IPv6 addresses are allowed",
			url    ? url
			: host ? host
			       : "this request");
	return check_ip(g, &ip, host, url, e);
}

int netguard_check_host(const struct netguard *g, const char *host, const char *url, struct err *e)
{
	if (!g || g->allow_all || !host)
		return ERR_OK;
	struct netguard_ip ip;
	if (parse_ip(host, strlen(host), &ip))
		return check_ip(g, &ip, host, url, e);
	char *h = norm_host(host);
	size_t n = strlen(h);
	bool local =
		strcmp(h, "localhost") == 0 || (n > 10 && strcmp(h + n - 10, ".localhost") == 0);
	free(h);
	if (!local || host_allowed(g, host))
		return ERR_OK;
	/* such names resolve to 127.0.0.1 and/or ::1: allowed when either is */
	struct netguard_ip lo6 = {.family = AF_INET6, .b = {[15] = 1}};
	if (check_ip(g, &lo6, host, url, NULL) == ERR_OK)
		return ERR_OK;
	struct netguard_ip lo = {.family = AF_INET, .b = {127, 0, 0, 1}};
	return check_ip(g, &lo, host, url, e);
}

/* ---- curl's open-socket hook ------------------------------------------------ */

void netguard_conn_reset(struct netguard_conn *c)
{
	c->blocked = c->passed = false;
	err_clear(&c->err);
}

curl_socket_t netguard_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct netguard_conn *c = clientp;
	if (purpose == CURLSOCKTYPE_IPCXN && c->guard) {
		struct err e = {0};
		if (netguard_check(c->guard, &a->addr, c->host, c->url, &e)) {
			if (!c->blocked) {
				c->blocked = true;
				c->err = e;
			}
			log_debug("netguard: %s", e.msg);
			return CURL_SOCKET_BAD;
		}
		c->passed = true;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}
