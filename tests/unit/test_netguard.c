/* test_netguard.c - the SSRF policy: classification tables, allow-list
 * parsing, embedded IPv4 addresses, and the refusal message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "common/err.h"
#include "engine/netguard.h"

/* A sockaddr from text, either family. */
static struct sockaddr_storage sa(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(80);
	} else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(80);
	} else {
		fail_msg("bad test address %s", ip);
	}
	return ss;
}

static const struct {
	const char *ip;
	enum netguard_class cls;
	const char *judged; /* the address the class applies to, when unwrapped */
} classes[] = {
	{"8.8.8.8", NETGUARD_PUBLIC, NULL},
	{"93.184.216.34", NETGUARD_PUBLIC, NULL},
	{"1.1.1.1", NETGUARD_PUBLIC, NULL},
	{"127.0.0.1", NETGUARD_LOOPBACK, NULL},
	{"127.255.255.254", NETGUARD_LOOPBACK, NULL},
	{"10.0.0.1", NETGUARD_PRIVATE, NULL},
	{"10.255.255.255", NETGUARD_PRIVATE, NULL},
	{"172.16.0.1", NETGUARD_PRIVATE, NULL},
	{"172.31.255.254", NETGUARD_PRIVATE, NULL},
	{"172.32.0.1", NETGUARD_PUBLIC, NULL},
	{"172.15.255.255", NETGUARD_PUBLIC, NULL},
	{"192.168.1.1", NETGUARD_PRIVATE, NULL},
	{"192.169.0.1", NETGUARD_PUBLIC, NULL},
	{"169.254.0.1", NETGUARD_LINK_LOCAL, NULL},
	{"169.254.169.254", NETGUARD_METADATA, NULL},
	{"169.254.170.2", NETGUARD_METADATA, NULL},
	{"100.100.100.200", NETGUARD_METADATA, NULL},
	{"100.64.0.1", NETGUARD_CGNAT, NULL},
	{"100.127.255.255", NETGUARD_CGNAT, NULL},
	{"100.128.0.1", NETGUARD_PUBLIC, NULL},
	{"100.63.255.255", NETGUARD_PUBLIC, NULL},
	{"0.0.0.0", NETGUARD_UNSPECIFIED, NULL},
	{"0.1.2.3", NETGUARD_THIS_NETWORK, NULL},
	{"224.0.0.1", NETGUARD_MULTICAST, NULL},
	{"239.255.255.250", NETGUARD_MULTICAST, NULL},
	{"255.255.255.255", NETGUARD_BROADCAST, NULL},
	{"240.0.0.1", NETGUARD_RESERVED, NULL},
	{"192.0.2.1", NETGUARD_RESERVED, NULL},
	{"198.51.100.7", NETGUARD_RESERVED, NULL},
	{"203.0.113.9", NETGUARD_RESERVED, NULL},
	{"198.18.0.1", NETGUARD_RESERVED, NULL},
	{"198.19.255.255", NETGUARD_RESERVED, NULL},
	{"192.0.0.8", NETGUARD_RESERVED, NULL},
	/* IPv6 */
	{"2606:4700:4700::1111", NETGUARD_PUBLIC, NULL},
	{"2001:4860:4860::8888", NETGUARD_PUBLIC, NULL},
	{"::1", NETGUARD_LOOPBACK, NULL},
	{"::", NETGUARD_UNSPECIFIED, NULL},
	{"fc00::1", NETGUARD_PRIVATE, NULL},
	{"fd12:3456:789a::1", NETGUARD_PRIVATE, NULL},
	{"fd00:ec2::254", NETGUARD_METADATA, NULL},
	{"fd00:ec2::253", NETGUARD_PRIVATE, NULL},
	{"fe80::1", NETGUARD_LINK_LOCAL, NULL},
	{"febf:ffff::1", NETGUARD_LINK_LOCAL, NULL},
	{"fec0::1", NETGUARD_PRIVATE, NULL},
	{"ff02::1", NETGUARD_MULTICAST, NULL},
	{"2001:db8::1", NETGUARD_RESERVED, NULL},
	{"100::1", NETGUARD_RESERVED, NULL},
	{"64:ff9b:1::1", NETGUARD_RESERVED, NULL},
	/* IPv6 wrappings of IPv4 are judged as the IPv4 inside */
	{"::ffff:127.0.0.1", NETGUARD_LOOPBACK, "127.0.0.1"},
	{"::ffff:7f00:1", NETGUARD_LOOPBACK, "127.0.0.1"},
	{"::ffff:10.1.2.3", NETGUARD_PRIVATE, "10.1.2.3"},
	{"::ffff:169.254.169.254", NETGUARD_METADATA, "169.254.169.254"},
	{"::ffff:8.8.8.8", NETGUARD_PUBLIC, "8.8.8.8"},
	{"::ffff:0.0.0.0", NETGUARD_UNSPECIFIED, "0.0.0.0"},
	{"64:ff9b::127.0.0.1", NETGUARD_LOOPBACK, "127.0.0.1"},
	{"64:ff9b::a9fe:a9fe", NETGUARD_METADATA, "169.254.169.254"},
	{"64:ff9b::8.8.8.8", NETGUARD_PUBLIC, "8.8.8.8"},
	{"2002:7f00:1::", NETGUARD_LOOPBACK, "127.0.0.1"},
	{"2002:c0a8:101::1", NETGUARD_PRIVATE, "192.168.1.1"},
	{"2002:808:808::1", NETGUARD_PUBLIC, "8.8.8.8"},
	{"::127.0.0.1", NETGUARD_LOOPBACK, "127.0.0.1"},
	{"::10.0.0.1", NETGUARD_PRIVATE, "10.0.0.1"},
};

static void test_classification_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
		struct sockaddr_storage ss = sa(classes[i].ip);
		struct netguard_ip j;
		enum netguard_class c = netguard_classify((struct sockaddr *)&ss, &j);
		if (c != classes[i].cls)
			fail_msg("%s: got %s, want %s", classes[i].ip, netguard_class_name(c),
				 netguard_class_name(classes[i].cls));
		char txt[64];
		netguard_ip_format(&j, txt, sizeof txt);
		if (classes[i].judged) {
			assert_int_equal(j.family, AF_INET);
			assert_non_null(j.via);
			assert_string_equal(txt, classes[i].judged);
		} else {
			assert_null(j.via);
		}
		/* the string form agrees */
		assert_int_equal(netguard_classify_str(classes[i].ip, NULL), (int)classes[i].cls);
	}
}

static void test_classify_str(void **state)
{
	(void)state;
	assert_int_equal(netguard_classify_str("[::1]", NULL), NETGUARD_LOOPBACK);
	assert_int_equal(netguard_classify_str("localhost", NULL), -1);
	assert_int_equal(netguard_classify_str("", NULL), -1);
	assert_int_equal(netguard_classify_str("1.2.3", NULL), -1);
	assert_int_equal(netguard_classify_str(NULL, NULL), -1);
	assert_string_equal(netguard_class_name(NETGUARD_LINK_LOCAL), "link-local");
	assert_string_equal(netguard_class_name(NETGUARD_PUBLIC), "public");
	assert_string_equal(netguard_class_name((enum netguard_class)99), "unknown");
}

static void test_other_families_blocked(void **state)
{
	(void)state;
	struct sockaddr su = {.sa_family = AF_UNIX};
	struct netguard *g;
	struct err e = {0};
	assert_int_equal(netguard_new(NULL, &g, &e), ERR_OK);
	assert_int_equal(netguard_classify(&su, NULL), NETGUARD_RESERVED);
	assert_int_equal(netguard_check(g, &su, "x", NULL, &e), ERR_PERM);
	netguard_free(g);
}

static int check(const char *list, const char *ip, const char *host, struct err *e)
{
	struct netguard *g;
	struct err pe = {0};
	if (netguard_new(list, &g, &pe))
		fail_msg("allow-list '%s' refused: %s", list ? list : "(null)", pe.msg);
	struct sockaddr_storage ss = sa(ip);
	int rc = netguard_check(g, (struct sockaddr *)&ss, host, "http://x.test/", e);
	netguard_free(g);
	return rc;
}

static void test_default_policy(void **state)
{
	(void)state;
	struct err e = {0};
	assert_int_equal(check(NULL, "8.8.8.8", "dns.google", &e), ERR_OK);
	assert_int_equal(check("", "2606:4700:4700::1111", NULL, &e), ERR_OK);
	const char *blocked[] = {"127.0.0.1",
				 "10.0.0.1",
				 "192.168.0.1",
				 "172.20.1.1",
				 "169.254.1.1",
				 "169.254.169.254",
				 "100.64.1.1",
				 "0.0.0.0",
				 "224.0.0.1",
				 "255.255.255.255",
				 "::1",
				 "fe80::1",
				 "fd00::1",
				 "::ffff:127.0.0.1",
				 "64:ff9b::10.0.0.1",
				 "::"};
	for (size_t i = 0; i < sizeof blocked / sizeof blocked[0]; i++) {
		err_clear(&e);
		if (check(NULL, blocked[i], "h.test", &e) != ERR_PERM)
			fail_msg("%s was allowed by the default policy", blocked[i]);
		assert_int_equal(e.code, ERR_PERM);
	}
	/* a NULL guard allows everything */
	struct sockaddr_storage ss = sa("127.0.0.1");
	assert_int_equal(netguard_check(NULL, (struct sockaddr *)&ss, "h", NULL, &e), ERR_OK);
}

static void test_message(void **state)
{
	(void)state;
	struct netguard *g;
	struct err e = {0};
	assert_int_equal(netguard_new(NULL, &g, &e), ERR_OK);
	struct sockaddr_storage ss = sa("127.0.0.1");
	assert_int_equal(netguard_check(g, (struct sockaddr *)&ss, "localhost",
					"http://localhost:8080/", &e),
			 ERR_PERM);
	assert_string_equal(e.msg, "refusing to connect to 127.0.0.1 (loopback) for "
				   "http://localhost:8080/: private, loopback and link-local "
				   "addresses are blocked; allow them with --allow-net 127.0.0.1");

	ss = sa("::ffff:10.0.0.5");
	assert_int_equal(netguard_check(g, (struct sockaddr *)&ss, "x", NULL, &e), ERR_PERM);
	assert_non_null(
		strstr(e.msg, "::ffff:10.0.0.5 (private, IPv4-mapped 10.0.0.5) for host x"));
	assert_non_null(strstr(e.msg, "--allow-net 10.0.0.5"));

	ss = sa("169.254.169.254");
	assert_int_equal(netguard_check(g, (struct sockaddr *)&ss, NULL, NULL, &e), ERR_PERM);
	assert_non_null(strstr(e.msg, "cloud metadata"));
	assert_non_null(strstr(e.msg, "for this request"));

	ss = sa("239.1.1.1");
	assert_int_equal(netguard_check(g, (struct sockaddr *)&ss, NULL, NULL, &e), ERR_PERM);
	assert_non_null(strstr(e.msg, "multicast, broadcast and reserved"));
	netguard_free(g);
}

static void test_allow_cidrs(void **state)
{
	(void)state;
	struct err e = {0};
	const char *list = "127.0.0.1, 10.0.0.0/8,::1/128 , fd00::/8";
	assert_int_equal(check(list, "127.0.0.1", NULL, &e), ERR_OK);
	assert_int_equal(check(list, "127.0.0.2", NULL, &e), ERR_PERM);
	assert_int_equal(check(list, "10.200.3.4", NULL, &e), ERR_OK);
	assert_int_equal(check(list, "11.0.0.1", NULL, &e), ERR_OK); /* public anyway */
	assert_int_equal(check(list, "192.168.0.1", NULL, &e), ERR_PERM);
	assert_int_equal(check(list, "::1", NULL, &e), ERR_OK);
	assert_int_equal(check(list, "fd12::1", NULL, &e), ERR_OK);
	assert_int_equal(check(list, "fc00::1", NULL, &e), ERR_PERM);
	assert_int_equal(check(list, "fe80::1", NULL, &e), ERR_PERM);
	/* IPv4-mapped and NAT64 forms of an allowed IPv4 address are allowed too */
	assert_int_equal(check(list, "::ffff:127.0.0.1", NULL, &e), ERR_OK);
	assert_int_equal(check(list, "::ffff:10.9.9.9", NULL, &e), ERR_OK);
	assert_int_equal(check(list, "64:ff9b::10.1.1.1", NULL, &e), ERR_OK);
	assert_int_equal(check(list, "::ffff:192.168.0.1", NULL, &e), ERR_PERM);
	/* an IPv4-mapped entry is an IPv4 entry */
	assert_int_equal(check("::ffff:192.168.0.0/112", "192.168.3.4", NULL, &e), ERR_OK);
	assert_int_equal(check("::ffff:192.168.0.0/112", "192.169.3.4", NULL, &e), ERR_OK);
	assert_int_equal(check("::ffff:192.168.0.0/112", "172.16.0.1", NULL, &e), ERR_PERM);
	assert_int_equal(check("[::1]", "::1", NULL, &e), ERR_OK);
	assert_int_equal(check("0.0.0.0/0", "10.1.1.1", NULL, &e), ERR_OK);
	assert_int_equal(check("::/0", "fe80::1", NULL, &e), ERR_OK);
}

static void test_metadata_needs_exact_entry(void **state)
{
	(void)state;
	struct err e = {0};
	assert_int_equal(check("169.254.0.0/16", "169.254.1.1", NULL, &e), ERR_OK);
	assert_int_equal(check("169.254.0.0/16", "169.254.169.254", NULL, &e), ERR_PERM);
	assert_non_null(strstr(e.msg, "exactly"));
	assert_int_equal(check("169.254.169.254", "169.254.169.254", NULL, &e), ERR_OK);
	assert_int_equal(check("169.254.169.254/32", "::ffff:169.254.169.254", NULL, &e), ERR_OK);
	assert_int_equal(check("fd00::/8", "fd00:ec2::254", NULL, &e), ERR_PERM);
	assert_int_equal(check("fd00:ec2::254", "fd00:ec2::254", NULL, &e), ERR_OK);
	assert_int_equal(check("metadata.internal", "169.254.169.254", "metadata.internal", &e),
			 ERR_OK);
	assert_int_equal(check("*", "169.254.169.254", NULL, &e), ERR_OK);
}

static void test_allow_hosts(void **state)
{
	(void)state;
	struct err e = {0};
	const char *list = "intranet.example, *.corp.example, .lab.test, LocalHost";
	assert_int_equal(check(list, "10.1.1.1", "intranet.example", &e), ERR_OK);
	assert_int_equal(check(list, "10.1.1.1", "INTRANET.example.", &e), ERR_OK);
	assert_int_equal(check(list, "10.1.1.1", "www.intranet.example", &e), ERR_PERM);
	assert_int_equal(check(list, "10.1.1.1", "a.corp.example", &e), ERR_OK);
	assert_int_equal(check(list, "10.1.1.1", "a.b.corp.example", &e), ERR_OK);
	assert_int_equal(check(list, "10.1.1.1", "corp.example", &e), ERR_PERM);
	assert_int_equal(check(list, "10.1.1.1", "evilcorp.example", &e), ERR_PERM);
	assert_int_equal(check(list, "10.1.1.1", "x.lab.test", &e), ERR_OK);
	assert_int_equal(check(list, "127.0.0.1", "localhost", &e), ERR_OK);
	assert_int_equal(check(list, "127.0.0.1", "127.0.0.1", &e), ERR_PERM);
	assert_int_equal(check(list, "127.0.0.1", NULL, &e), ERR_PERM);
}

static void test_allow_all(void **state)
{
	(void)state;
	struct netguard *g;
	struct err e = {0};
	assert_int_equal(netguard_new("*", &g, &e), ERR_OK);
	assert_true(netguard_allows_all(g));
	struct sockaddr_storage ss = sa("127.0.0.1");
	assert_int_equal(netguard_check(g, (struct sockaddr *)&ss, NULL, NULL, &e), ERR_OK);
	char *d = netguard_describe(g);
	assert_string_equal(d, "*");
	free(d);
	netguard_free(g);
}

static void test_parse_errors(void **state)
{
	(void)state;
	static const struct {
		const char *list;
		const char *needle; /* in the message */
	} bad[] = {
		{"10.0.0.1/8", "did you mean 10.0.0.0/8"},
		{"127.0.0.1/33", "from 0 to 32"},
		{"::1/129", "from 0 to 128"},
		{"10.0.0.0/", "prefix length"},
		{"10.0.0.0/abc", "prefix length"},
		{"10.0.0.0/8x", "prefix length"},
		{"300.1.1.1", "not an IP address, CIDR or host name"},
		{"1.2.3", "not an IP address, CIDR or host name"},
		{"http://intranet.example", "is a URL"},
		{"localhost:8080", "ports are not part"},
		{"bad host!", "not an IP address, CIDR or host name"},
		{"-leading.example", "not an IP address"},
		{"a..b", "not an IP address"},
		{"127.0.0.1, nope_ok, fe80::1/10x", "'fe80::1/10x'"},
		{"fe80::1/10", "did you mean fe80::/10"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct netguard *g = (struct netguard *)1;
		struct err e = {0};
		int rc = netguard_new(bad[i].list, &g, &e);
		if (rc != ERR_INVALID)
			fail_msg("'%s' was accepted", bad[i].list);
		assert_null(g);
		if (!strstr(e.msg, bad[i].needle))
			fail_msg("'%s': message '%s' lacks '%s'", bad[i].list, e.msg,
				 bad[i].needle);
	}
}

static void test_parse_and_describe(void **state)
{
	(void)state;
	struct netguard *g;
	struct err e = {0};
	assert_int_equal(netguard_new(" 127.0.0.1 ,, 10.0.0.0/8,::1,[fd00::]/8, Intranet.Example, "
				      "*.corp.example,.lab.test, ::ffff:10.0.0.0/104 ,",
				      &g, &e),
			 ERR_OK);
	char *d = netguard_describe(g);
	assert_string_equal(d, "127.0.0.1/32, 10.0.0.0/8, ::1/128, fd00::/8, 10.0.0.0/8, "
			       "intranet.example, *.corp.example, *.lab.test");
	free(d);
	assert_false(netguard_allows_all(g));
	netguard_free(g);

	assert_int_equal(netguard_new(NULL, &g, &e), ERR_OK);
	d = netguard_describe(g);
	assert_string_equal(d, "(none)");
	free(d);
	netguard_free(g);
	netguard_free(NULL);
}

static void test_check_host_preflight(void **state)
{
	(void)state;
	struct netguard *g;
	struct err e = {0};
	assert_int_equal(netguard_new(NULL, &g, &e), ERR_OK);
	assert_int_equal(netguard_check_host(g, "example.com", NULL, &e), ERR_OK);
	assert_int_equal(netguard_check_host(g, "8.8.8.8", NULL, &e), ERR_OK);
	assert_int_equal(netguard_check_host(g, "127.0.0.1", "http://127.0.0.1/", &e), ERR_PERM);
	assert_non_null(strstr(e.msg, "http://127.0.0.1/"));
	assert_int_equal(netguard_check_host(g, "[::1]", NULL, &e), ERR_PERM);
	assert_int_equal(netguard_check_host(g, "[::ffff:a9fe:a9fe]", NULL, &e), ERR_PERM);
	assert_non_null(strstr(e.msg, "cloud metadata"));
	assert_int_equal(netguard_check_host(g, "localhost", NULL, &e), ERR_PERM);
	assert_int_equal(netguard_check_host(g, "LOCALHOST.", NULL, &e), ERR_PERM);
	assert_int_equal(netguard_check_host(g, "app.localhost", NULL, &e), ERR_PERM);
	assert_int_equal(netguard_check_host(g, "notlocalhost", NULL, &e), ERR_OK);
	netguard_free(g);

	assert_int_equal(netguard_new("127.0.0.1", &g, &e), ERR_OK);
	assert_int_equal(netguard_check_host(g, "localhost", NULL, &e), ERR_OK);
	assert_int_equal(netguard_check_host(g, "127.0.0.1", NULL, &e), ERR_OK);
	assert_int_equal(netguard_check_host(g, "10.0.0.1", NULL, &e), ERR_PERM);
	netguard_free(g);

	assert_int_equal(netguard_new("::1", &g, &e), ERR_OK);
	assert_int_equal(netguard_check_host(g, "localhost", NULL, &e), ERR_OK);
	netguard_free(g);

	assert_int_equal(netguard_new("localhost", &g, &e), ERR_OK);
	assert_int_equal(netguard_check_host(g, "localhost", NULL, &e), ERR_OK);
	assert_int_equal(netguard_check_host(g, "127.0.0.1", NULL, &e), ERR_PERM);
	netguard_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classification_table),
		cmocka_unit_test(test_classify_str),
		cmocka_unit_test(test_other_families_blocked),
		cmocka_unit_test(test_default_policy),
		cmocka_unit_test(test_message),
		cmocka_unit_test(test_allow_cidrs),
		cmocka_unit_test(test_metadata_needs_exact_entry),
		cmocka_unit_test(test_allow_hosts),
		cmocka_unit_test(test_allow_all),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_and_describe),
		cmocka_unit_test(test_check_host_preflight),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
