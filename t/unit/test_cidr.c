/*
 * Client address sets (kernel/net/sunrpc/addr.c): what rpc_cidr_parse takes
 * as an export's client, and which peers rpc_cidr_match lets in. An
 * allowlist is access control: the tests try the texts an attacker or a
 * careless admin would write, and peers just outside each prefix.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include "tap.h"
#include "uml/rpc.h"

static struct sockaddr_storage peer(const char *addr, unsigned port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, addr, &s4->sin_addr);
	}
	return ss;
}

/* Whether @spec parses and lets @addr in. */
static bool lets_in(const char *spec, const char *addr)
{
	struct rpc_cidr c;
	struct sockaddr_storage ss = peer(addr, 1023);

	return rpc_cidr_parse(spec, &c) == 0 && rpc_cidr_match(&c, (struct sockaddr *)&ss);
}

static void test_parse(void)
{
	static const char *const good[] = {
	    "*",   "127.0.0.1",	    "10.0.0.0/8", "0.0.0.0/0",	 "1.2.3.4/32",	    "10.0.0.0/008",
	    "::1", "2001:db8::/32", "::/0",	  "fe80::1/128", "::ffff:10.1.2.3",
	};
	static const char *const bad[] = {
	    "",		  "**",		"1.2.3",	   "1.2.3.4.5",	   "256.1.1.1",
	    " 1.2.3.4",	  "1.2.3.4 ",	"1.2.3.4/",	   "1.2.3.4/33",   "1.2.3.4/-1",
	    "1.2.3.4/+8", "1.2.3.4/ 8", "1.2.3.4/0x8",	   "1.2.3.4/0008", "1.2.3.4/8/8",
	    "::1/129",	  "[::1]",	"fe80::1%eth0",	   "/8",	   "localhost",
	    "1.2.3.4/8a", "0x7f.0.0.1", "2001:db8::/1000",
	};
	struct rpc_cidr c;
	size_t bad_taken = 0, good_refused = 0;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (rpc_cidr_parse(good[i], &c) != 0) {
			diag("    refused '%s'", good[i]);
			good_refused++;
		}
	is_int(good_refused, 0, "1 addresses, prefixes (0 to the family's width) and * parse");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (rpc_cidr_parse(bad[i], &c) != -EINVAL) {
			diag("    took '%s'", bad[i]);
			bad_taken++;
		}
	is_int(bad_taken, 0,
	       "2 -EINVAL for spaces, signs, hex, zone ids, brackets, names and wide prefixes");
	is_int(rpc_cidr_parse(NULL, &c), -EINVAL, "3 NULL is -EINVAL");
	ok(rpc_cidr_parse("10.1.2.3/16", &c) == 0 && c.family == AF_INET && c.prefix == 16,
	   "4 an IPv4 prefix keeps its family and length");
}

static void test_match(void)
{
	ok(lets_in("10.0.0.0/8", "10.255.1.2") && !lets_in("10.0.0.0/8", "11.0.0.1"),
	   "5 10.0.0.0/8 takes 10.x and not 11.0.0.1");
	ok(lets_in("192.168.1.128/25", "192.168.1.128") &&
	       !lets_in("192.168.1.128/25", "192.168.1.127"),
	   "6 a prefix not on a byte boundary: the first address in, the one below out");
	ok(lets_in("127.0.0.1", "127.0.0.1") && !lets_in("127.0.0.1", "127.0.0.2"),
	   "7 a bare address is that address only");
	ok(lets_in("127.0.0.1", "::ffff:127.0.0.1") && lets_in("10.0.0.0/8", "::ffff:10.9.9.9"),
	   "8 a v4 client of a dual-stack socket (v4-mapped) is matched as its IPv4 address");
	ok(lets_in("::ffff:127.0.0.1", "127.0.0.1") && lets_in("::ffff:10.0.0.0/104", "10.2.3.4") &&
	       !lets_in("::ffff:10.0.0.0/104", "11.0.0.1"),
	   "9 a v4-mapped client set is the IPv4 set it names");
	ok(!lets_in("::ffff:127.0.0.1", "::1") && !lets_in("::1", "127.0.0.1") &&
	       !lets_in("0.0.0.0/0", "::1") && !lets_in("::/0", "127.0.0.1"),
	   "10 families do not mix: ::/0 is every IPv6 client and no IPv4 one");
	ok(lets_in("2001:db8::/32", "2001:db8:ffff::1") && !lets_in("2001:db8::/32", "2001:db9::1"),
	   "11 IPv6 prefixes");
	ok(lets_in("*", "203.0.113.7") && lets_in("*", "2001:db8::7"), "12 * is everyone");
	{
		struct rpc_cidr c;
		struct sockaddr_storage ss;

		memset(&ss, 0, sizeof(ss));
		ss.ss_family = AF_UNIX;
		ok(rpc_cidr_parse("*", &c) == 0 && !rpc_cidr_match(&c, (struct sockaddr *)&ss),
		   "13 a peer of another family is nobody's client, not even *'s");
	}
}

static void test_client_key(void)
{
	struct sockaddr_storage a = peer("10.1.2.3", 700), b = peer("::ffff:10.1.2.3", 900);
	struct in6_addr ka, kb;

	rpc_client_key((struct sockaddr *)&a, &ka);
	rpc_client_key((struct sockaddr *)&b, &kb);
	ok(memcmp(&ka, &kb, sizeof(ka)) == 0,
	   "14 one client key for a.b.c.d and ::ffff:a.b.c.d, whatever the ports");
}

int main(void)
{
	plan(14);
	test_parse();
	test_match();
	test_client_key();
	return done_testing();
}
