/*
 * The machine's own rpcbind (RFC 1833): PMAP version 2 and RPCB versions 3
 * and 4 on port 111 of the machine's address, beside a service that asked
 * for it (svc_listen_inet's SVC_RPCBIND). On its own network the machine is
 * a host of its own, and no host's rpcbind speaks for it: a client that
 * knows only its address (mount.nfs, rpcinfo) asks here which port serves
 * MOUNT or NFS, as it would ask any NFS server's rpcbind.
 *
 * It answers for the one service whose listener it shares and nothing
 * else. Its table is made at each call from that listener: every program
 * of the service on each transport its sockets take, and rpcbind's own
 * versions; nothing is registered, so nothing can go stale. A caller is
 * told the addresses it can reach from where it is: those of its own
 * family, a wildcard listener's as the address the machine answers it from.
 *
 * SET and UNSET are refused (false): the table is the listener's, and a
 * host that may write to it does not exist. CALLIT (version 4's BCAST) and
 * INDIRECT are not served: forwarding a call for anyone who asks makes an
 * amplifier of the machine. Neither are the address conversions nor
 * GETSTAT, which no client needs. Callers are admitted as the service's
 * own are (its export lists), before anything is decoded.
 *
 * A table over UDP is some twenty times its question, and a datagram's
 * source is whatever its sender wrote: a forger of a listed address could
 * aim the answers at it. So a CPU sends at most RPCB_UDP_LISTS tables a
 * second over UDP; past them a list is SYSTEM_ERR, smaller than its
 * question. Over TCP the handshake proved the source, and tables flow.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "uml/host.h"
#include "uml/inet.h"
#include "uml/rpcb.h"
#include "svc_internal.h"

#define RPCB_ARG_MAX   255 /* longest netid, address or owner we take */
#define RPCB_TABLE_MAX 64  /* entries a table may have */
#define RPCB_OWNER     "uml"
#define RPCB_UDP_LISTS 50 /* tables a CPU sends over UDP in a second */

enum { NC_TPI_CLTS = 1, NC_TPI_COTS_ORD = 3 }; /* a transport's semantics (RFC 1833 2.1) */

/* One entry of the table, as a caller sees it. */
struct rpcb_ent {
	uint32_t prog, vers;
	uint32_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port;
	bool v6;
	char uaddr[INET6_ADDRSTRLEN + 8];
};

/* PMAP's mapping, or RPCB's rpcb with its strings (pointers into the call). */
struct rpcb_args {
	uint32_t prog, vers, proto, port;
	struct xdr_bytes netid, addr, owner;
};

struct rpcb_res {
	uint32_t u32;	 /* GETPORT's port, SET's and UNSET's bool, GETTIME's time */
	const char *str; /* GETADDR's universal address */
	unsigned n;	 /* DUMP and GETADDRLIST: ents[0..n) */
	const struct rpcb_ent *ents;
};

static const char *rpcb_netid(const struct rpcb_ent *e)
{
	if (e->proto == IPPROTO_TCP)
		return e->v6 ? "tcp6" : "tcp";
	return e->v6 ? "udp6" : "udp";
}

static bool rpcb_caller_v6(const struct svc_req *rq)
{
	return rq->peer.ss_family == AF_INET6;
}

/*
 * Add the programs of @svc on @sock's port to @t, if the socket takes the
 * caller's family: at its own address, or a wildcard's as the caller is
 * answered from.
 */
static unsigned rpcb_add(const struct svc_req *rq, const struct rpc_service *svc, uint32_t proto,
			 const void *sock, struct rpcb_ent *t, unsigned n)
{
	static const struct inet_addr any6;
	bool v6 = rpcb_caller_v6(rq);
	struct inet_addr bound, caller, at;
	struct sockaddr_storage ss;
	char uaddr[sizeof(t->uaddr)];
	uint16_t port;
	int err;

	if (!sock)
		return n;
	err = proto == IPPROTO_TCP ? tcp_local_in(sock, &bound, &port)
				   : udp_local_in(sock, &bound, &port);
	if (err)
		return n;
	if (v6 ? inet_addr_is_v4(&bound) : !inet_addr_is_v4(&bound) && memcmp(&bound, &any6, 16))
		return n; /* a listener of the other family only */
	at = bound;
	if (!memcmp(&bound, &any6, 16) || (inet_addr_is_v4(&bound) && !inet_addr_v4(&bound))) {
		struct in6_addr key; /* IPv4 v4-mapped, as struct inet_addr has it */

		rpc_client_key((const struct sockaddr *)&rq->peer, &key);
		memcpy(caller.a, key.s6_addr, sizeof(caller.a));
		if (inet_source_in(&caller, &at))
			return n;
	}
	svc_inet_sockaddr(&at, port, &ss);
	rpc_uaddr(&ss, uaddr, sizeof(uaddr));
	for (size_t i = 0; i < svc->nprogs && n < RPCB_TABLE_MAX; i++) {
		struct rpcb_ent *e = &t[n++];

		e->prog = svc->progs[i]->prog;
		e->vers = svc->progs[i]->vers;
		e->proto = proto;
		e->port = port;
		e->v6 = v6;
		memcpy(e->uaddr, uaddr, sizeof(uaddr));
	}
	return n;
}

/* The table as @rq's caller sees it, into rq->scratch. */
static unsigned rpcb_table(const struct svc_req *rq, const struct rpcb_ent **out)
{
	const struct svc_serv *s = rq->serv;
	struct rpcb_ent *t = (struct rpcb_ent *)rq->scratch;
	unsigned n = 0;

	_Static_assert(RPCB_TABLE_MAX * sizeof(struct rpcb_ent) <= RPC_SCRATCH_MAX,
		       "the table fits a call's scratch");
	*out = t;
	if (!s)
		return 0; /* a call not taken by a transport (a harness's): nothing listens */
	for (unsigned i = 0; i < SVC_INET_PORTS; i++) {
		const struct svc_inet_port *p = &s->inet[i];

		n = rpcb_add(rq, p->svc, IPPROTO_TCP, p->tcp, t, n);
		n = rpcb_add(rq, p->svc, IPPROTO_UDP, p->udp, t, n);
	}
	return n;
}

/*
 * The entry for @prog on @proto (and @v6), @vers if there is one, else
 * (unless @exact) any version's, as rpcbind answers GETPORT and GETADDR.
 */
static const struct rpcb_ent *rpcb_find(const struct svc_req *rq, uint32_t prog, uint32_t vers,
					uint32_t proto, bool v6, bool exact)
{
	const struct rpcb_ent *t, *any = NULL;
	unsigned n = rpcb_table(rq, &t);

	for (unsigned i = 0; i < n; i++) {
		if (t[i].prog != prog || t[i].proto != proto || t[i].v6 != v6)
			continue;
		if (t[i].vers == vers)
			return &t[i];
		if (!any)
			any = &t[i];
	}
	return exact ? NULL : any;
}

/* --- arguments --- */

static bool rpcb_dec_mapping(struct xdr *x, void *a)
{
	struct rpcb_args *args = a;

	args->prog = xdr_get_u32(x);
	args->vers = xdr_get_u32(x);
	args->proto = xdr_get_u32(x);
	args->port = xdr_get_u32(x);
	return xdr_ok(x);
}

static bool rpcb_dec_rpcb(struct xdr *x, void *a)
{
	struct rpcb_args *args = a;

	args->prog = xdr_get_u32(x);
	args->vers = xdr_get_u32(x);
	args->netid = xdr_get_opaque(x, RPCB_ARG_MAX);
	args->addr = xdr_get_opaque(x, RPCB_ARG_MAX);
	args->owner = xdr_get_opaque(x, RPCB_ARG_MAX);
	return xdr_ok(x);
}

/* --- procedures --- */

/* SET and UNSET: the table is the listener's; nobody changes it over the network. */
static int rpcb_refuse(struct svc_req *rq, const void *a, void *r)
{
	struct rpcb_res *res = r;

	(void)rq, (void)a;
	res->u32 = false;
	return 0;
}

static int pmap_getport(struct svc_req *rq, const void *a, void *r)
{
	const struct rpcb_args *args = a;
	struct rpcb_res *res = r;
	const struct rpcb_ent *e = NULL;

	if (args->proto == IPPROTO_TCP || args->proto == IPPROTO_UDP)
		e = rpcb_find(rq, args->prog, args->vers, args->proto, rpcb_caller_v6(rq), false);
	res->u32 = e ? e->port : 0;
	return 0;
}

/*
 * Whether a table may go to @rq's caller: always over TCP, over UDP within
 * this CPU's budget of the current second. A CPU is a host thread, whose
 * kernel threads switch only where they wait: per thread, no lock.
 */
static bool rpcb_list_allowed(const struct svc_req *rq)
{
	static __thread uint64_t second;
	static __thread unsigned sent;
	uint64_t now = host_mono_ns() / 1000000000u;

	if (!rq->datagram)
		return true;
	if (now != second) {
		second = now;
		sent = 0;
	}
	return sent++ < RPCB_UDP_LISTS;
}

static int rpcb_dump(struct svc_req *rq, const void *a, void *r)
{
	struct rpcb_res *res = r;

	(void)a;
	if (!rpcb_list_allowed(rq))
		return -EBUSY;
	res->n = rpcb_table(rq, &res->ents);
	return 0;
}

/* A netid's transport and family; false for one we do not know. */
static bool rpcb_parse_netid(const struct svc_req *rq, struct xdr_bytes netid, uint32_t *proto,
			     bool *v6)
{
	static const struct {
		const char *name;
		uint32_t proto;
		bool v6;
	} known[] = {{"tcp", IPPROTO_TCP, false},
		     {"udp", IPPROTO_UDP, false},
		     {"tcp6", IPPROTO_TCP, true},
		     {"udp6", IPPROTO_UDP, true}};

	if (!netid.len) { /* the transport the question came over */
		*proto = rq->datagram ? IPPROTO_UDP : IPPROTO_TCP;
		*v6 = rpcb_caller_v6(rq);
		return true;
	}
	for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
		if (strlen(known[i].name) == netid.len &&
		    !memcmp(known[i].name, netid.data, netid.len)) {
			*proto = known[i].proto;
			*v6 = known[i].v6;
			return true;
		}
	}
	return false;
}

static int rpcb_getaddr_common(struct svc_req *rq, const struct rpcb_args *args,
			       struct rpcb_res *res, bool exact)
{
	const struct rpcb_ent *e = NULL;
	uint32_t proto;
	bool v6;

	if (rpcb_parse_netid(rq, args->netid, &proto, &v6))
		e = rpcb_find(rq, args->prog, args->vers, proto, v6, exact);
	res->str = e ? e->uaddr : "";
	return 0;
}

static int rpcb_getaddr(struct svc_req *rq, const void *a, void *r)
{
	return rpcb_getaddr_common(rq, a, r, false);
}

static int rpcb_getversaddr(struct svc_req *rq, const void *a, void *r)
{
	return rpcb_getaddr_common(rq, a, r, true);
}

static int rpcb_gettime(struct svc_req *rq, const void *a, void *r)
{
	struct rpcb_res *res = r;
	int64_t sec;
	uint32_t nsec;

	(void)rq, (void)a;
	host_wall(&sec, &nsec);
	res->u32 = (uint32_t)sec;
	return 0;
}

/* Every transport's address of @prog @vers: a table's matching entries, in place. */
static int rpcb_getaddrlist(struct svc_req *rq, const void *a, void *r)
{
	const struct rpcb_args *args = a;
	struct rpcb_res *res = r;
	const struct rpcb_ent *t;
	unsigned n, kept = 0;
	struct rpcb_ent *w;

	if (!rpcb_list_allowed(rq))
		return -EBUSY;
	n = rpcb_table(rq, &t);
	w = (struct rpcb_ent *)t;
	for (unsigned i = 0; i < n; i++)
		if (t[i].prog == args->prog && t[i].vers == args->vers)
			w[kept++] = t[i];
	res->ents = t;
	res->n = kept;
	return 0;
}

/* --- results --- */

static void rpcb_enc_u32(struct xdr *x, const void *r)
{
	xdr_put_u32(x, ((const struct rpcb_res *)r)->u32);
}

static void rpcb_put_str(struct xdr *x, const char *s)
{
	xdr_put_opaque(x, s, (uint32_t)strlen(s));
}

static void rpcb_enc_str(struct xdr *x, const void *r)
{
	rpcb_put_str(x, ((const struct rpcb_res *)r)->str);
}

/* pmaplist: each mapping behind a TRUE, the list's end a FALSE. */
static void pmap_enc_dump(struct xdr *x, const void *r)
{
	const struct rpcb_res *res = r;

	for (unsigned i = 0; i < res->n; i++) {
		xdr_put_bool(x, true);
		xdr_put_u32(x, res->ents[i].prog);
		xdr_put_u32(x, res->ents[i].vers);
		xdr_put_u32(x, res->ents[i].proto);
		xdr_put_u32(x, res->ents[i].port);
	}
	xdr_put_bool(x, false);
}

static void rpcb_enc_dump(struct xdr *x, const void *r)
{
	const struct rpcb_res *res = r;

	for (unsigned i = 0; i < res->n; i++) {
		xdr_put_bool(x, true);
		xdr_put_u32(x, res->ents[i].prog);
		xdr_put_u32(x, res->ents[i].vers);
		rpcb_put_str(x, rpcb_netid(&res->ents[i]));
		rpcb_put_str(x, res->ents[i].uaddr);
		rpcb_put_str(x, RPCB_OWNER);
	}
	xdr_put_bool(x, false);
}

/* rpcb_entry_list: address, netid, semantics, protocol family and protocol. */
static void rpcb_enc_addrlist(struct xdr *x, const void *r)
{
	const struct rpcb_res *res = r;

	for (unsigned i = 0; i < res->n; i++) {
		const struct rpcb_ent *e = &res->ents[i];

		xdr_put_bool(x, true);
		rpcb_put_str(x, e->uaddr);
		rpcb_put_str(x, rpcb_netid(e));
		xdr_put_u32(x, e->proto == IPPROTO_TCP ? NC_TPI_COTS_ORD : NC_TPI_CLTS);
		rpcb_put_str(x, e->v6 ? "inet6" : "inet");
		rpcb_put_str(x, e->proto == IPPROTO_TCP ? "tcp" : "udp");
	}
	xdr_put_bool(x, false);
}

#define RPCB_PROC(num, nm, dec, fn, enc)                                                           \
	[num] = {.name = nm,                                                                       \
		 .decode = dec,                                                                    \
		 .handle = fn,                                                                     \
		 .encode = enc,                                                                    \
		 .argsize = sizeof(struct rpcb_args),                                              \
		 .ressize = sizeof(struct rpcb_res)}

/* A procedure without a name is unavailable: CALLIT above all (see the top). */
static const struct rpc_proc pmap2_procs[RPCBPROC_CALLIT + 1] = {
    [RPCBPROC_NULL] = {.name = "NULL"},
    RPCB_PROC(RPCBPROC_SET, "SET", rpcb_dec_mapping, rpcb_refuse, rpcb_enc_u32),
    RPCB_PROC(RPCBPROC_UNSET, "UNSET", rpcb_dec_mapping, rpcb_refuse, rpcb_enc_u32),
    RPCB_PROC(RPCBPROC_GETADDR, "GETPORT", rpcb_dec_mapping, pmap_getport, rpcb_enc_u32),
    RPCB_PROC(RPCBPROC_DUMP, "DUMP", NULL, rpcb_dump, pmap_enc_dump),
};

/* Version 3's procedures are version 4's first nine (to TADDR2UADDR): one table serves both. */
static const struct rpc_proc rpcb4_procs[RPCBPROC_COUNT] = {
    [RPCBPROC_NULL] = {.name = "NULL"},
    RPCB_PROC(RPCBPROC_SET, "SET", rpcb_dec_rpcb, rpcb_refuse, rpcb_enc_u32),
    RPCB_PROC(RPCBPROC_UNSET, "UNSET", rpcb_dec_rpcb, rpcb_refuse, rpcb_enc_u32),
    RPCB_PROC(RPCBPROC_GETADDR, "GETADDR", rpcb_dec_rpcb, rpcb_getaddr, rpcb_enc_str),
    RPCB_PROC(RPCBPROC_DUMP, "DUMP", NULL, rpcb_dump, rpcb_enc_dump),
    RPCB_PROC(RPCBPROC_GETTIME, "GETTIME", NULL, rpcb_gettime, rpcb_enc_u32),
    RPCB_PROC(RPCBPROC_GETVERSADDR, "GETVERSADDR", rpcb_dec_rpcb, rpcb_getversaddr, rpcb_enc_str),
    RPCB_PROC(RPCBPROC_GETADDRLIST, "GETADDRLIST", rpcb_dec_rpcb, rpcb_getaddrlist,
	      rpcb_enc_addrlist),
};

static const struct rpc_program pmap2_program = {
    .prog = RPCB_PROGRAM,
    .vers = 2,
    .name = "portmapper",
    .nprocs = ARRAY_SIZE(pmap2_procs),
    .procs = pmap2_procs,
};

static const struct rpc_program rpcb3_program = {
    .prog = RPCB_PROGRAM,
    .vers = 3,
    .name = "portmapper",
    .nprocs = RPCBPROC_TADDR2UADDR + 1,
    .procs = rpcb4_procs,
};

static const struct rpc_program rpcb4_program = {
    .prog = RPCB_PROGRAM,
    .vers = 4,
    .name = "portmapper",
    .nprocs = ARRAY_SIZE(rpcb4_procs),
    .procs = rpcb4_procs,
};

static const struct rpc_program *const rpcb_programs[] = {
    &rpcb4_program,
    &rpcb3_program,
    &pmap2_program,
};

const struct rpc_service svc_rpcbind = {
    .progs = rpcb_programs,
    .nprogs = ARRAY_SIZE(rpcb_programs),
};
