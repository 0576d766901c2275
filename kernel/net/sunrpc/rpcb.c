/*
 * Registration with the host's rpcbind (RFC 1833): RPCBPROG versions 4 and
 * 3 over its local socket, where it knows the caller's uid and takes SET and
 * UNSET from anyone it trusts; PMAP version 2 over TCP to 127.0.0.1:111 when
 * there is no local socket (a portmapper, or an rpcbind without one), which
 * registers IPv4 only and knows entries by port alone.
 *
 * Every decision starts from rpcbind's own table (DUMP), never from what we
 * believe we registered: another server may have come or gone since, and a
 * crash of ours leaves entries that only the table shows.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "uml/host.h"
#include "uml/rpcb.h"
#include "uml/rpcclnt.h"

#define RPCB_PORT     111
#define RPCB_CALL_MS  1000 /* rpcbind is local: a second is plenty, and one retry */
#define RPCB_PROBE_MS 500  /* is anyone still serving an entry we'd take? */
#define RPCB_DUMP_MAX 256  /* entries of rpcbind's table we look at */
#define RPCB_STR_MAX  256  /* longest netid, address or owner we read */

static const char *const rpcb_sockets[] = {"/run/rpcbind.sock", "/var/run/rpcbind.sock"};

/* One entry of rpcbind's table as DUMP gives it; PMAP's have only a port. */
struct rpcb_map {
	uint32_t prog, vers;
	char netid[8];
	char uaddr[64];
	bool gone; /* unset by us during this pass */
};

struct rpcb_conn {
	struct rpc_clnt *c;
	uint32_t vers; /* 4 or 3 (RPCB), 2 (PMAP) */
	unsigned nmap;
	struct rpcb_map map[RPCB_DUMP_MAX];
};

/* --- universal addresses (RFC 5665 section 5.2.3) --- */

void rpc_uaddr(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN] = "";
	unsigned port;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		port = ntohs(s4->sin_port);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		port = ntohs(s6->sin6_port);
	}
	snprintf(buf, size, "%s.%u.%u", a, port >> 8, port & 0xff);
}

/* The port of a universal address, or -1 when it has none. */
static int rpcb_uaddr_port(const char *uaddr)
{
	const char *lo = strrchr(uaddr, '.'), *hi;
	unsigned h, l;

	if (!lo || lo == uaddr)
		return -1;
	for (hi = lo - 1; hi > uaddr && *hi != '.'; hi--)
		;
	if (*hi != '.' || sscanf(hi + 1, "%u", &h) != 1 || sscanf(lo + 1, "%u", &l) != 1 ||
	    h > 255 || l > 255)
		return -1;
	return (int)(h << 8 | l);
}

/*
 * Where to knock to see whether a universal address is served: a wildcard
 * is asked at loopback, where every server bound to it answers.
 */
static int rpcb_uaddr_sockaddr(const char *uaddr, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *lo = strrchr(uaddr, '.'), *hi;
	int port = rpcb_uaddr_port(uaddr);

	if (port < 0)
		return -EINVAL;
	for (hi = lo - 1; *hi != '.'; hi--)
		;
	if ((size_t)(hi - uaddr) >= sizeof(host))
		return -EINVAL;
	memcpy(host, uaddr, (size_t)(hi - uaddr));
	host[hi - uaddr] = '\0';
	if (strcmp(host, "0.0.0.0") == 0)
		strcpy(host, "127.0.0.1");
	else if (strcmp(host, "::") == 0)
		strcpy(host, "::1");
	return rpc_addr_parse(host, port, ss, len);
}

/* --- talking to rpcbind --- */

static void rpcb_copy(char *dst, size_t size, struct xdr_bytes s)
{
	size_t n = s.len < size - 1 ? s.len : size - 1;

	memcpy(dst, s.data, n);
	dst[n] = '\0';
}

/* Read rpcbind's table into @b->map; 0 or an rpc_clnt_call error. */
static int rpcb_dump(struct rpcb_conn *b)
{
	struct xdr res;
	int err;

	rpc_clnt_begin(b->c, RPCB_PROGRAM, b->vers, RPCBPROC_DUMP);
	err = rpc_clnt_call(b->c, &res);
	if (err)
		return err;
	b->nmap = 0;
	while (xdr_get_bool(&res)) {
		struct rpcb_map m = {.prog = xdr_get_u32(&res), .vers = xdr_get_u32(&res)};

		if (b->vers == 2) {
			uint32_t prot = xdr_get_u32(&res), port = xdr_get_u32(&res);

			if ((prot != IPPROTO_TCP && prot != IPPROTO_UDP) || port > 65535)
				continue;
			strcpy(m.netid, prot == IPPROTO_TCP ? "tcp" : "udp");
			snprintf(m.uaddr, sizeof(m.uaddr), "0.0.0.0.%u.%u", port >> 8, port & 0xff);
		} else {
			rpcb_copy(m.netid, sizeof(m.netid), xdr_get_opaque(&res, RPCB_STR_MAX));
			rpcb_copy(m.uaddr, sizeof(m.uaddr), xdr_get_opaque(&res, RPCB_STR_MAX));
			xdr_get_opaque(&res, RPCB_STR_MAX); /* the owner */
		}
		if (!xdr_ok(&res))
			break;
		if (b->nmap < RPCB_DUMP_MAX)
			b->map[b->nmap++] = m;
	}
	return xdr_ok(&res) ? 0 : -EPROTO;
}

/*
 * Reach rpcbind: its local socket first (version 4, else 3), then port 111
 * on loopback (version 4, 3, then PMAP 2). The first version whose DUMP
 * works is the one spoken, and the table is read.
 */
static int rpcb_connect(struct rpcb_conn *b, char *via, size_t vialen)
{
	const struct rpc_clnt_params p = {.timeout_ms = RPCB_CALL_MS, .retries = 1};
	int err = -ENOENT;

	for (size_t i = 0; i <= ARRAY_SIZE(rpcb_sockets); i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		const char *name;

		if (i < ARRAY_SIZE(rpcb_sockets)) {
			struct sockaddr_un *un = (struct sockaddr_un *)&ss;

			memset(un, 0, sizeof(*un));
			un->sun_family = AF_UNIX;
			strcpy(un->sun_path, rpcb_sockets[i]);
			len = sizeof(*un);
			name = rpcb_sockets[i];
		} else {
			rpc_addr_parse("127.0.0.1", RPCB_PORT, &ss, &len);
			name = "127.0.0.1:111";
		}
		err = rpc_clnt_create((struct sockaddr *)&ss, len, &p, &b->c);
		if (err == -ENOENT || err == -ECONNREFUSED || err == -ENOTSOCK)
			continue;
		if (err)
			return err;
		for (b->vers = 4; b->vers >= (i < ARRAY_SIZE(rpcb_sockets) ? 3u : 2u); b->vers--) {
			err = rpcb_dump(b);
			if (err != -EPROTONOSUPPORT && err != -EOPNOTSUPP)
				break;
		}
		if (!err) {
			snprintf(via, vialen, "%s, %s %u", name,
				 b->vers == 2 ? "portmap" : "rpcbind", b->vers);
			return 0;
		}
		rpc_clnt_destroy(b->c);
		b->c = NULL;
		return err;
	}
	return -ENOENT;
}

/* SET or UNSET @e; 1 when rpcbind said yes, 0 no, or a call error. */
static int rpcb_change(struct rpcb_conn *b, uint32_t proc, const struct rpcb_entry *e)
{
	struct xdr *x = rpc_clnt_begin(b->c, RPCB_PROGRAM, b->vers, proc);
	struct xdr res;
	int err;

	xdr_put_u32(x, e->prog);
	xdr_put_u32(x, e->vers);
	if (b->vers == 2) {
		int port = rpcb_uaddr_port(e->uaddr);

		xdr_put_u32(x, e->netid[0] == 't' ? IPPROTO_TCP : IPPROTO_UDP);
		xdr_put_u32(x, port < 0 ? 0 : (uint32_t)port);
	} else {
		const char *uaddr = proc == RPCBPROC_SET ? e->uaddr : "";

		xdr_put_opaque(x, e->netid, (uint32_t)strlen(e->netid));
		xdr_put_opaque(x, uaddr, (uint32_t)strlen(uaddr));
		xdr_put_opaque(x, "", 0); /* the owner: rpcbind puts the caller's */
	}
	err = rpc_clnt_call(b->c, &res);
	if (err)
		return err;
	err = xdr_get_bool(&res);
	return xdr_ok(&res) ? err : -EPROTO;
}

/* Whether rpcbind's entry @m is at our address @e->uaddr (PMAP: our port). */
static bool rpcb_ours(const struct rpcb_conn *b, const struct rpcb_map *m,
		      const struct rpcb_entry *e)
{
	if (b->vers == 2)
		return rpcb_uaddr_port(m->uaddr) == rpcb_uaddr_port(e->uaddr);
	return strcmp(m->uaddr, e->uaddr) == 0;
}

static struct rpcb_map *rpcb_find(struct rpcb_conn *b, const struct rpcb_entry *e)
{
	for (unsigned i = 0; i < b->nmap; i++) {
		struct rpcb_map *m = &b->map[i];

		if (!m->gone && m->prog == e->prog && m->vers == e->vers &&
		    strcmp(m->netid, e->netid) == 0)
			return m;
	}
	return NULL;
}

/* Forget what an UNSET removed: PMAP's takes TCP and UDP of the version at once. */
static void rpcb_forget(struct rpcb_conn *b, const struct rpcb_entry *e)
{
	for (unsigned i = 0; i < b->nmap; i++) {
		struct rpcb_map *m = &b->map[i];

		if (m->prog == e->prog && m->vers == e->vers &&
		    (b->vers == 2 || strcmp(m->netid, e->netid) == 0))
			m->gone = true;
	}
}

/*
 * Does a server still answer at @uaddr for @e's program? A NULL call over
 * TCP: any reply, even a refusal of the version, means somebody is there. A
 * UDP entry is asked over TCP at the same address, as servers of both
 * transports share the port; one of UDP only would be taken for dead.
 */
static bool rpcb_alive(const char *uaddr, const struct rpcb_entry *e)
{
	const struct rpc_clnt_params p = {.timeout_ms = RPCB_PROBE_MS, .retries = 0};
	struct sockaddr_storage ss;
	struct rpc_clnt *c;
	struct xdr res;
	socklen_t len;
	int err;

	if (rpcb_uaddr_sockaddr(uaddr, &ss, &len) < 0)
		return false;
	if (rpc_clnt_create((struct sockaddr *)&ss, len, &p, &c) < 0)
		return false;
	rpc_clnt_begin(c, e->prog, e->vers, 0);
	err = rpc_clnt_call(c, &res);
	rpc_clnt_destroy(c);
	return err != -ETIMEDOUT && err != -ECONNRESET && err != -ECONNREFUSED && err != -EINTR;
}

/* --- what a service wants registered --- */

/*
 * The entries of @svc for one listening socket: its address family's
 * netids, and IPv4's as well for a dual-stack wildcard socket, which
 * serves both.
 */
static void rpcb_wanted_fd(const struct rpc_service *svc, int fd, bool stream,
			   struct rpcb_report *r)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char uaddr[64];
	unsigned families = 1;

	if (fd < 0 || host_sockname(fd, &ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr))
		families = 2;
	for (unsigned f = 0; f < families; f++) {
		const char *netid;

		if (f == 0) {
			rpc_uaddr(&ss, uaddr, sizeof(uaddr));
			netid = ss.ss_family == AF_INET ? (stream ? "tcp" : "udp")
							: (stream ? "tcp6" : "udp6");
		} else {
			int port = rpcb_uaddr_port(uaddr);

			snprintf(uaddr, sizeof(uaddr), "0.0.0.0.%d.%d", port >> 8, port & 0xff);
			netid = stream ? "tcp" : "udp";
		}
		for (size_t i = 0; i < svc->nprogs && r->n < RPCB_MAX_ENTRIES; i++) {
			struct rpcb_entry *e = &r->e[r->n++];

			memset(e, 0, sizeof(*e));
			e->prog = svc->progs[i]->prog;
			e->vers = svc->progs[i]->vers;
			e->name = svc->progs[i]->name;
			e->yield = svc->progs[i]->rpcb_yield;
			strcpy(e->netid, netid);
			strcpy(e->uaddr, uaddr);
		}
	}
}

static void rpcb_wanted(const struct rpc_service *svc, int tcp_fd, int udp_fd,
			struct rpcb_report *r)
{
	memset(r, 0, sizeof(*r));
	rpcb_wanted_fd(svc, tcp_fd, true, r);
	rpcb_wanted_fd(svc, udp_fd, false, r);
}

static int rpcb_start(const struct rpc_service *svc, int tcp_fd, int udp_fd, struct rpcb_report *r,
		      struct rpcb_conn **out)
{
	struct rpcb_conn *b;
	int err;

	rpcb_wanted(svc, tcp_fd, udp_fd, r);
	b = host_map_private(sizeof(*b));
	if (!b)
		return -ENOMEM;
	memset(b, 0, sizeof(*b));
	err = rpcb_connect(b, r->via, sizeof(r->via));
	if (err) {
		host_unmap(b, sizeof(*b));
		return err;
	}
	*out = b;
	return 0;
}

static void rpcb_end(struct rpcb_conn *b)
{
	rpc_clnt_destroy(b->c);
	host_unmap(b, sizeof(*b));
}

/* Replace whatever is at @e's place with ours: UNSET, then SET. */
static int rpcb_take(struct rpcb_conn *b, struct rpcb_entry *e, struct rpcb_map *m,
		     enum rpcb_outcome how)
{
	int rc;

	snprintf(e->holder, sizeof(e->holder), "%s", m->uaddr);
	rc = rpcb_change(b, RPCBPROC_UNSET, e);
	if (rc < 0)
		return rc;
	rpcb_forget(b, e);
	rc = rpcb_change(b, RPCBPROC_SET, e);
	if (rc < 0)
		return rc;
	e->outcome = rc ? how : RPCB_REFUSED;
	return 0;
}

int rpc_register(const struct rpc_service *svc, int tcp_fd, int udp_fd, enum rpcb_mode mode,
		 struct rpcb_report *r)
{
	struct rpcb_conn *b;
	int err, rc = 0;

	err = rpcb_start(svc, tcp_fd, udp_fd, r, &b);
	if (err)
		return err;
	for (unsigned i = 0; i < r->n && !err; i++) {
		struct rpcb_entry *e = &r->e[i];
		struct rpcb_map *m = rpcb_find(b, e);

		if (b->vers == 2 && strchr(e->netid, '6')) {
			e->outcome = RPCB_REFUSED; /* a portmapper knows IPv4 only */
		} else if (!m) {
			err = rpcb_change(b, RPCBPROC_SET, e);
			if (err >= 0)
				e->outcome = err ? RPCB_REGISTERED : RPCB_REFUSED;
		} else if (rpcb_ours(b, m, e)) {
			e->outcome = RPCB_KEPT;
		} else if (mode == RPCB_FORCE && !e->yield) {
			err = rpcb_take(b, e, m, RPCB_FORCED);
		} else if (!rpcb_alive(m->uaddr, e)) {
			err = rpcb_take(b, e, m, RPCB_STALE);
		} else {
			snprintf(e->holder, sizeof(e->holder), "%s", m->uaddr);
			e->outcome = e->yield ? RPCB_YIELDED : RPCB_HELD;
		}
		if (err > 0)
			err = 0;
	}
	rpcb_end(b);
	if (err < 0)
		return err;
	for (unsigned i = 0; i < r->n; i++) {
		if (r->e[i].outcome == RPCB_HELD)
			rc = -EBUSY;
		else if (r->e[i].outcome == RPCB_REFUSED && !rc)
			rc = -EACCES;
	}
	return rc;
}

int rpc_unregister(const struct rpc_service *svc, int tcp_fd, int udp_fd, struct rpcb_report *r)
{
	struct rpcb_conn *b;
	unsigned kept = 0;
	int err;

	err = rpcb_start(svc, tcp_fd, udp_fd, r, &b);
	if (err)
		return err;
	for (unsigned i = 0; i < r->n && err >= 0; i++) {
		struct rpcb_entry *e = &r->e[i];
		struct rpcb_map *m = rpcb_find(b, e);

		if (!m) {
			e->outcome = RPCB_ABSENT;
		} else if (!rpcb_ours(b, m, e)) {
			snprintf(e->holder, sizeof(e->holder), "%s", m->uaddr);
			e->outcome = RPCB_NOT_OURS;
		} else {
			err = rpcb_change(b, RPCBPROC_UNSET, e);
			if (err >= 0)
				rpcb_forget(b, e);
			e->outcome = err > 0 ? RPCB_WITHDRAWN : RPCB_REFUSED;
		}
		kept += e->outcome == RPCB_REFUSED;
	}
	rpcb_end(b);
	if (err < 0)
		return err;
	return kept ? -EACCES : 0;
}

/* --- the report --- */

static const char *const rpcb_outcome_text[] = {
    [RPCB_REGISTERED] = "registered",
    [RPCB_KEPT] = "kept (ours already)",
    [RPCB_STALE] = "taken over from a server that no longer answers",
    [RPCB_FORCED] = "taken over as told (register=force)",
    [RPCB_HELD] = "left to the live server that holds them",
    [RPCB_YIELDED] = "left to the host's own server",
    [RPCB_REFUSED] = "refused by rpcbind",
    [RPCB_WITHDRAWN] = "withdrawn",
    [RPCB_NOT_OURS] = "left alone (another server's now)",
    [RPCB_ABSENT] = "not registered",
};

const char *rpc_register_format(const struct rpcb_report *r, char *buf, size_t size)
{
	const char *at[2] = {NULL, NULL};
	size_t pos = 0;

#define RPCB_PUT(...)                                                                              \
	do {                                                                                       \
		int n_ = snprintf(buf + pos, pos < size ? size - pos : 0, __VA_ARGS__);            \
		if (n_ > 0)                                                                        \
			pos += (size_t)n_;                                                         \
	} while (0)

	if (size)
		buf[0] = '\0';
	for (unsigned o = 0; o < ARRAY_SIZE(rpcb_outcome_text); o++) {
		bool any = false;

		for (unsigned i = 0; i < r->n; i++) {
			const struct rpcb_entry *e = &r->e[i];

			if (e->outcome != o)
				continue;
			if (!any)
				RPCB_PUT("%s%s: ", pos ? "; " : "", rpcb_outcome_text[o]);
			else
				RPCB_PUT(", ");
			if (e->name)
				RPCB_PUT("%s %u/%s", e->name, e->vers, e->netid);
			else
				RPCB_PUT("%u %u/%s", e->prog, e->vers, e->netid);
			if (e->holder[0])
				RPCB_PUT(" (%s %s)",
					 o == RPCB_HELD || o == RPCB_YIELDED || o == RPCB_NOT_OURS
					     ? "at"
					     : "was at",
					 e->holder);
			any = true;
		}
	}
	/* Our addresses once: a listener has one, a dual-stack one two. */
	for (unsigned i = 0; i < r->n; i++) {
		if (!at[0] || !strcmp(at[0], r->e[i].uaddr))
			at[0] = r->e[i].uaddr;
		else if (!at[1])
			at[1] = r->e[i].uaddr;
	}
	if (at[0])
		RPCB_PUT(" for %s%s%s", at[0], at[1] ? " and " : "", at[1] ? at[1] : "");
	RPCB_PUT(" [%s]", r->via[0] ? r->via : "no rpcbind");
#undef RPCB_PUT
	if (pos >= size && size > 4)
		strcpy(buf + size - 4, "...");
	return buf;
}
