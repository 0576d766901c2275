/*
 * kernel/net/sunrpc: a service's programs registered with the host's
 * rpcbind (RFC 1833), so that clients that know only the host find them
 * (rpcb.c).
 *
 * rpcbind takes registrations from its local socket (and, when told so,
 * from loopback), keeps one address per program, version and transport, and
 * refuses a second one: whoever registers first holds the entry until it is
 * withdrawn. We never take an entry from a live server unless told to; an
 * entry whose server no longer answers (a crash left it) is taken over.
 *
 * The calls block their caller (a host thread, at start-up and shutdown)
 * for at most a few seconds.
 */
#ifndef UML_RPCB_H
#define UML_RPCB_H

#include <stdint.h>
#include <sys/socket.h>
#include "uml/rpc.h"

#define RPCB_PROGRAM 100000

/* Procedures of RPCB versions 3 and 4 (RFC 1833 2.2); PMAP version 2's 0-5 are the same. */
enum {
	RPCBPROC_NULL,
	RPCBPROC_SET,
	RPCBPROC_UNSET,
	RPCBPROC_GETADDR, /* PMAP: GETPORT */
	RPCBPROC_DUMP,
	RPCBPROC_CALLIT, /* version 4: BCAST */
	RPCBPROC_GETTIME,
	RPCBPROC_UADDR2TADDR,
	RPCBPROC_TADDR2UADDR,
	RPCBPROC_GETVERSADDR, /* version 4 from here */
	RPCBPROC_INDIRECT,
	RPCBPROC_GETADDRLIST,
	RPCBPROC_GETSTAT,
	RPCBPROC_COUNT,
};

/* One registration per program version and transport: a service's worth. */
#define RPCB_MAX_ENTRIES 40

enum rpcb_mode {
	RPCB_AUTO,  /* take an entry only when its server no longer answers */
	RPCB_FORCE, /* take every entry, whoever holds it */
};

enum rpcb_outcome {
	RPCB_REGISTERED, /* made now */
	RPCB_KEPT,	 /* it was ours already (our address) */
	RPCB_STALE,	 /* another address that nobody answers at: replaced */
	RPCB_FORCED,	 /* another server's, replaced as told */
	RPCB_HELD,	 /* another server answers there: left to it */
	RPCB_YIELDED,	 /* the same, for a program that yields (rpc_program.rpcb_yield) */
	RPCB_REFUSED,	 /* rpcbind would not take it */
	RPCB_WITHDRAWN,	 /* unregistered */
	RPCB_NOT_OURS,	 /* at unregistering: someone else's by now, left alone */
	RPCB_ABSENT,	 /* at unregistering: not registered at all */
};

struct rpcb_entry {
	uint32_t prog, vers;
	const char *name; /* the program's (struct rpc_program) */
	bool yield;	  /* the program's rpcb_yield */
	char netid[8];	  /* "tcp", "udp", "tcp6", "udp6" */
	char uaddr[64];	  /* ours: "127.0.0.1.8.1" */
	char holder[64];  /* for RPCB_HELD and the takeovers: the address that was there */
	enum rpcb_outcome outcome;
};

struct rpcb_report {
	unsigned n;
	struct rpcb_entry e[RPCB_MAX_ENTRIES];
	char via[48]; /* how rpcbind was reached: "/run/rpcbind.sock (v4)" */
};

/*
 * Register every program of @svc for each listening socket given (-1:
 * none), at the address and port the socket is bound to. Returns 0 when
 * every entry is ours, -EBUSY when live servers hold some (left to them;
 * the others are ours), -EACCES when rpcbind refused some, -ENOENT when no
 * rpcbind runs, or -ETIMEDOUT/-EPROTO and the like when it did not answer
 * sensibly. @r says what became of each entry.
 */
int rpc_register(const struct rpc_service *svc, int tcp_fd, int udp_fd, enum rpcb_mode mode,
		 struct rpcb_report *r);
/*
 * Withdraw the entries of @svc that are still at our address; another
 * server's are left alone. Returns 0, -ENOENT (no rpcbind) or an error of
 * rpcbind's as above.
 */
int rpc_unregister(const struct rpc_service *svc, int tcp_fd, int udp_fd, struct rpcb_report *r);
/*
 * One line for a log: "nfs 3, mountd 1 3 on tcp 127.0.0.1:2049 via ...;
 * held by another server: ...". Returns @buf.
 */
const char *rpc_register_format(const struct rpcb_report *r, char *buf, size_t size);
/* @ss as a universal address (RFC 5665 5.2.3): "10.0.0.2.8.1", "fd00::2.8.1". */
void rpc_uaddr(const struct sockaddr_storage *ss, char *buf, size_t size);

#endif
