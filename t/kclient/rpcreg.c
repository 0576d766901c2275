/*
 * rpcreg: register RPC programs with the local rpcbind on behalf of a server
 * that does not register itself, so that a client that asks rpcbind (a Linux
 * mount without options, lockd) finds it. For tests and benchmarks of
 * servers before they register on their own; as rpcbind wants, run as root
 * (it accepts SET from root over its AF_LOCAL socket).
 *
 *   rpcreg PROG VERS NETID PORT [PROG VERS NETID PORT]...
 *
 * NETID is tcp or udp (IPv4, what the Linux client asks for with rpcbind
 * v2 GETPORT). Exit 0 when all are registered, 1 (with a message) otherwise.
 */
#include <rpc/rpc.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	int i, rc = 0;

	if (argc < 5 || (argc - 1) % 4 != 0) {
		fprintf(stderr, "usage: rpcreg PROG VERS tcp|udp PORT [...]\n");
		return 2;
	}
	for (i = 1; i < argc; i += 4) {
		struct netconfig *nc = getnetconfigent(argv[i + 2]);
		char uaddr[64];
		unsigned long port = strtoul(argv[i + 3], NULL, 0);

		if (!nc) {
			fprintf(stderr, "rpcreg: unknown netid %s\n", argv[i + 2]);
			return 1;
		}
		/* The universal address of 0.0.0.0:PORT: the port as its two bytes. */
		snprintf(uaddr, sizeof(uaddr), "0.0.0.0.%lu.%lu", port >> 8, port & 255);
		if (!rpcb_set(strtoul(argv[i], NULL, 0), strtoul(argv[i + 1], NULL, 0), nc,
			      uaddr2taddr(nc, uaddr))) {
			fprintf(stderr, "rpcreg: rpcb_set %s %s %s %s failed\n", argv[i],
				argv[i + 1], argv[i + 2], argv[i + 3]);
			rc = 1;
		}
		freenetconfigent(nc);
	}
	return rc;
}
