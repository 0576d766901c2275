/*
 * The NFS client (uml/nfsclnt.h) and its RPC transport (uml/rpcclnt.h)
 * against a scripted server: a thread on 127.0.0.1 that reads call records
 * and, call by call, answers, drops, delays, splits, closes or lies as its
 * script says. Numbered as the TAP tests they print:
 *  1-12   nfsclnt_url_parse: good URLs, IPv6 brackets, bad ports, no path,
 *         unknown options, names instead of addresses
 *  13-15  a plain call and its AUTH_SYS credentials (machine "uml", uid, gid)
 *  16-17  a dropped call is retransmitted and answered
 *  18-21  a reply late past the timeout: the call takes one of the two
 *         replies, the next call its own and not the stale duplicate
 *  22     a reply with a wrong XID first is ignored
 *  23     a reply in three fragments over several TCP writes (marks split too)
 *  24-25  the server closes the connection mid-call: reconnect, resend, answer
 *  26-28  garbage and an oversized record: -EPROTO, then the client works again
 *  29-32  accept_stat and reject_stat map to errnos
 *  33-35  a server that never answers: -ETIMEDOUT after 1 + retries tries, in
 *         about the time the doubling waits add up to
 *  36-44  NFS calls against a scripted NFS server: MNT, GETATTR's codec,
 *         ACCESS masks, READ, WRITE split at FSINFO's wtmax, statuses
 *  45-53  hostile replies: huge name length, fh of 200 bytes, NUL in a name,
 *         READ longer than asked, a bad file type, a listing that never
 *         moves or never ends: -EPROTO or -EFBIG, never a crash
 *  54-55  a call from a kernel thread waits with kthread_wait_fd: another
 *         thread of its CPU keeps running meanwhile
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "uml.h"
#include "uml/host.h"
#include "uml/nfs3.h"
#include "uml/nfsclnt.h"
#include "uml/rpcclnt.h"
#include "uml/sched.h"

#define ECHO_PROG 0x20000099u

/* ---------------- the scripted server ---------------- */

enum act {
	A_REPLY,     /* answer */
	A_DROP,	     /* read the call, answer nothing */
	A_DELAY,     /* answer after ms */
	A_WRONG_XID, /* a reply with another XID first, then the answer */
	A_SPLIT,     /* the answer in three fragments, over several writes */
	A_CLOSE,     /* close the connection without answering */
	A_GARBAGE,   /* a 3-byte record */
	A_HUGE,	     /* a mark announcing 2 GiB */
	A_STAT,	     /* an accepted reply with accept_stat stat */
	A_DENIED,    /* a denied reply with reject_stat stat */
};

struct step {
	enum act act;
	int ms;
	int stat;
};

struct call {
	uint32_t xid, prog, vers, proc;
	uint32_t uid, gid;
	char machine[64];
	struct xdr args;
};

struct srv {
	int lfd, cfd;
	uint16_t port;
	pthread_t th;
	const struct step *steps;
	int nsteps;
	void (*body)(struct xdr *out, struct call *c);
	_Atomic int calls, conns;
	struct call last;
};

static bool read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static void write_all(int fd, const void *buf, size_t n)
{
	size_t put = 0;

	while (put < n) {
		ssize_t r = write(fd, (const char *)buf + put, n - put);

		if (r <= 0)
			return;
		put += (size_t)r;
	}
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* One call record, its fragments joined. */
static bool read_record(int fd, uint8_t *buf, size_t cap, size_t *len)
{
	uint8_t m[4];
	uint32_t mark;

	*len = 0;
	do {
		if (!read_full(fd, m, 4))
			return false;
		mark = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
		if (*len + (mark & 0x7fffffffu) > cap)
			return false;
		if (!read_full(fd, buf + *len, mark & 0x7fffffffu))
			return false;
		*len += mark & 0x7fffffffu;
	} while (!(mark & 0x80000000u));
	return true;
}

static bool parse_call(uint8_t *rec, size_t len, struct call *c)
{
	struct xdr x, cx;
	struct xdr_bytes cred, name;

	xdr_init(&x, rec, len);
	c->xid = xdr_get_u32(&x);
	xdr_get_u32(&x); /* CALL */
	xdr_get_u32(&x); /* 2 */
	c->prog = xdr_get_u32(&x);
	c->vers = xdr_get_u32(&x);
	c->proc = xdr_get_u32(&x);
	xdr_get_u32(&x);
	cred = xdr_get_opaque(&x, 400);
	xdr_get_u32(&x);
	xdr_get_opaque(&x, 400);
	if (!xdr_ok(&x))
		return false;
	xdr_init(&cx, (void *)cred.data, cred.len);
	xdr_get_u32(&cx);
	name = xdr_get_opaque(&cx, 63);
	memcpy(c->machine, name.data ? (const char *)name.data : "", name.len);
	c->machine[name.len] = '\0';
	c->uid = xdr_get_u32(&cx);
	c->gid = xdr_get_u32(&cx);
	xdr_init(&c->args, rec + x.pos, len - x.pos);
	return true;
}

static size_t reply_head(uint8_t *buf, uint32_t xid, int stat)
{
	struct xdr o;

	xdr_init(&o, buf + 4, 70000);
	xdr_put_u32(&o, xid);
	xdr_put_u32(&o, 1); /* REPLY */
	xdr_put_u32(&o, 0); /* ACCEPTED */
	xdr_put_u32(&o, 0);
	xdr_put_u32(&o, 0);
	xdr_put_u32(&o, (uint32_t)stat);
	return o.pos;
}

static void send_record(int fd, uint8_t *buf, size_t len)
{
	put_be32(buf, 0x80000000u | (uint32_t)len);
	write_all(fd, buf, 4 + len);
}

static void serve_call(struct srv *s, int fd, uint8_t *rec, size_t len, uint8_t *out)
{
	static const struct step answer = {A_REPLY, 0, 0};
	int i = s->calls++;
	const struct step *st = i < s->nsteps ? &s->steps[i] : &answer;
	struct call c;
	struct xdr o;
	size_t n;

	if (!parse_call(rec, len, &c))
		return;
	s->last = c;
	switch (st->act) {
	case A_DROP:
		return;
	case A_CLOSE:
		shutdown(fd, SHUT_RDWR);
		return;
	case A_GARBAGE:
		memcpy(out + 4, "\1\2\3", 3);
		send_record(fd, out, 3);
		return;
	case A_HUGE:
		put_be32(out, 0xffffffffu);
		write_all(fd, out, 4);
		return;
	case A_STAT:
		send_record(fd, out, reply_head(out, c.xid, st->stat));
		return;
	case A_DENIED:
		xdr_init(&o, out + 4, 64);
		xdr_put_u32(&o, c.xid);
		xdr_put_u32(&o, 1);
		xdr_put_u32(&o, 1); /* DENIED */
		xdr_put_u32(&o, (uint32_t)st->stat);
		xdr_put_u32(&o, st->stat == 1 ? 1 : 2); /* auth_stat, or low version */
		xdr_put_u32(&o, 2);
		send_record(fd, out, o.pos);
		return;
	default:
		break;
	}
	n = reply_head(out, c.xid, 0);
	xdr_init(&o, out + 4 + n, 70000 - n);
	s->body(&o, &c);
	n += o.pos;
	if (st->act == A_DELAY)
		usleep((useconds_t)st->ms * 1000);
	if (st->act == A_WRONG_XID) {
		uint8_t bogus[64];
		size_t bn = reply_head(bogus, c.xid + 7777, 0);

		put_be32(bogus + 4 + bn, 666);
		send_record(fd, bogus, bn + 4);
	}
	if (st->act == A_SPLIT) {
		/* Fragments of 5, 7 and the rest bytes; the first mark in two writes. */
		uint8_t m[4];
		size_t a = 5, b = 7;

		put_be32(m, (uint32_t)a);
		write_all(fd, m, 2);
		usleep(5000);
		write_all(fd, m + 2, 2);
		write_all(fd, out + 4, a);
		usleep(5000);
		put_be32(m, (uint32_t)b);
		write_all(fd, m, 4);
		write_all(fd, out + 4 + a, b);
		usleep(5000);
		put_be32(m, 0x80000000u | (uint32_t)(n - a - b));
		write_all(fd, m, 4);
		write_all(fd, out + 4 + a + b, n - a - b);
		return;
	}
	send_record(fd, out, n);
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	uint8_t *in = malloc(140000), *out = malloc(140000);
	size_t len;

	for (;;) {
		int fd = accept(s->lfd, NULL, NULL);

		if (fd < 0)
			break;
		s->cfd = fd;
		s->conns++;
		while (read_record(fd, in, 140000, &len))
			serve_call(s, fd, in, len, out);
		s->cfd = -1;
		close(fd);
	}
	free(in);
	free(out);
	return NULL;
}

static void srv_start(struct srv *s, const struct step *steps, int nsteps,
		      void (*body)(struct xdr *, struct call *))
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);

	memset(s, 0, sizeof(*s));
	s->steps = steps;
	s->nsteps = nsteps;
	s->body = body;
	s->cfd = -1;
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&sa, len) || listen(s->lfd, 8) ||
	    getsockname(s->lfd, (struct sockaddr *)&sa, &len))
		bail_out("listen: %s", strerror(errno));
	s->port = ntohs(sa.sin_port);
	pthread_create(&s->th, NULL, srv_main, s);
}

static void srv_stop(struct srv *s)
{
	shutdown(s->lfd, SHUT_RDWR);
	if (s->cfd >= 0)
		shutdown(s->cfd, SHUT_RDWR);
	pthread_join(s->th, NULL);
	close(s->lfd);
}

/* ---------------- the echo program: the transport's tests ---------------- */

static void echo_body(struct xdr *o, struct call *c)
{
	xdr_put_u32(o, xdr_get_u32(&c->args) + 1000);
}

static struct rpc_clnt *echo_clnt(struct srv *s, uint32_t timeout_ms, uint32_t retries)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons(s->port)};
	struct rpc_clnt_params p = {
	    .uid = 501, .gid = 20, .timeout_ms = timeout_ms, .retries = retries};
	struct rpc_clnt *c = NULL;
	int err = rpc_clnt_create((struct sockaddr *)&sa, sizeof(sa), &p, &c);

	if (err)
		bail_out("rpc_clnt_create: %d", err);
	return c;
}

/* Call echo with @v: its answer (v + 1000), or the negative errno. */
static long echo(struct rpc_clnt *c, uint32_t v)
{
	struct xdr *x = rpc_clnt_begin(c, ECHO_PROG, 1, 1);
	struct xdr r;
	int err;

	xdr_put_u32(x, v);
	err = rpc_clnt_call(c, &r);
	if (err)
		return err;
	v = xdr_get_u32(&r);
	return xdr_ok(&r) ? (long)v : -EPROTO;
}

static uint64_t now_ms(void)
{
	return host_mono_ns() / 1000000;
}

static void test_transport(void)
{
	struct rpc_clnt_stats st;
	struct rpc_clnt *c;
	struct srv s;
	uint64_t t0;

	srv_start(&s, NULL, 0, echo_body);
	c = echo_clnt(&s, 1000, 3);
	is_int(echo(c, 1), 1001, "13 a call is answered");
	ok(!strcmp(s.last.machine, "uml") && s.last.uid == 501 && s.last.gid == 20,
	   "14 AUTH_SYS carries machine uml, uid 501, gid 20");
	is_int(echo(c, 2), 1002, "15 a second call on the same connection");
	rpc_clnt_destroy(c);
	srv_stop(&s);

	{
		static const struct step drop[] = {{A_DROP}, {A_REPLY}};

		srv_start(&s, drop, 2, echo_body);
		c = echo_clnt(&s, 100, 3);
		is_int(echo(c, 5), 1005, "16 a dropped call is retransmitted and answered");
		rpc_clnt_get_stats(c, &st);
		is_int(st.retransmits, 1, "17 one retransmission");
		rpc_clnt_destroy(c);
		srv_stop(&s);
	}
	{
		static const struct step late[] = {{A_DELAY, 150}, {A_REPLY}, {A_REPLY}};

		srv_start(&s, late, 3, echo_body);
		c = echo_clnt(&s, 100, 3);
		is_int(echo(c, 10), 1010, "18 a reply late past the timeout answers the call");
		is_int(echo(c, 20), 1020,
		       "19 the next call gets its own answer, not the duplicate");
		is_int(s.calls, 3, "20 the server saw the call twice and the next once");
		rpc_clnt_get_stats(c, &st);
		is_int(st.retransmits, 1, "21 one retransmission");
		rpc_clnt_destroy(c);
		srv_stop(&s);
	}
	{
		static const struct step wrong[] = {{A_WRONG_XID}, {A_SPLIT}, {A_CLOSE}, {A_REPLY}};

		srv_start(&s, wrong, 4, echo_body);
		c = echo_clnt(&s, 1000, 3);
		is_int(echo(c, 30), 1030, "22 a reply with a wrong XID first is ignored");
		is_int(echo(c, 40), 1040, "23 a reply in 3 fragments over several writes");
		is_int(echo(c, 50), 1050,
		       "24 the connection closed mid-call: reconnected, answered");
		rpc_clnt_get_stats(c, &st);
		ok(st.reconnects == 1 && s.conns == 2, "25 one reconnection (%llu, %d)",
		   (unsigned long long)st.reconnects, (int)s.conns);
		rpc_clnt_destroy(c);
		srv_stop(&s);
	}
	{
		static const struct step bad[] = {{A_GARBAGE}, {A_REPLY}, {A_HUGE}, {A_REPLY}};

		srv_start(&s, bad, 4, echo_body);
		c = echo_clnt(&s, 1000, 3);
		is_int(echo(c, 1), -EPROTO, "26 a garbage record: -EPROTO");
		is_int(echo(c, 2), 1002, "27 the next call works (a new connection)");
		is_int(echo(c, 3), -EPROTO, "28 a record announcing 2 GiB: -EPROTO");
		rpc_clnt_destroy(c);
		srv_stop(&s);
	}
	{
		static const struct step stats[] = {{A_STAT, 0, RPC_PROG_UNAVAIL},
						    {A_STAT, 0, RPC_PROC_UNAVAIL},
						    {A_STAT, 0, RPC_GARBAGE_ARGS},
						    {A_DENIED, 0, RPC_AUTH_ERROR}};

		srv_start(&s, stats, 4, echo_body);
		c = echo_clnt(&s, 1000, 3);
		is_int(echo(c, 1), -EPROTONOSUPPORT, "29 PROG_UNAVAIL: -EPROTONOSUPPORT");
		is_int(echo(c, 1), -EOPNOTSUPP, "30 PROC_UNAVAIL: -EOPNOTSUPP");
		is_int(echo(c, 1), -EINVAL, "31 GARBAGE_ARGS: -EINVAL");
		is_int(echo(c, 1), -EACCES, "32 AUTH_ERROR: -EACCES");
		rpc_clnt_destroy(c);
		srv_stop(&s);
	}
	{
		static const struct step never[] = {
		    {A_DROP}, {A_DROP}, {A_DROP}, {A_DROP}, {A_DROP}};
		uint64_t took;

		srv_start(&s, never, 5, echo_body);
		c = echo_clnt(&s, 50, 3);
		t0 = now_ms();
		is_int(echo(c, 1), -ETIMEDOUT, "33 a server that never answers: -ETIMEDOUT");
		took = now_ms() - t0;
		is_int(s.calls, 4, "34 after 1 + 3 tries");
		ok(took >= 740 && took < 1500, "35 in about 50+100+200+400 ms (%llu)",
		   (unsigned long long)took);
		rpc_clnt_destroy(c);
		srv_stop(&s);
	}
}

/* ---------------- a scripted NFS server: the calls' codecs ---------------- */

enum rdp_mode { RDP_OK, RDP_HUGE_NAME, RDP_FH200, RDP_NUL, RDP_STALL, RDP_LOOP };

static enum rdp_mode rdp_mode;
static uint32_t fattr_type = 1, read_extra, writes, written;
static uint8_t wfile[10000];

static void put_fattr(struct xdr *o, uint32_t type)
{
	xdr_put_u32(o, type);
	xdr_put_u32(o, 0644);
	xdr_put_u32(o, 1);
	xdr_put_u32(o, 7);
	xdr_put_u32(o, 8);
	xdr_put_u64(o, 12345);
	xdr_put_u64(o, 16384);
	xdr_put_u64(o, 0);
	xdr_put_u64(o, 1);
	xdr_put_u64(o, 99);
	for (int i = 0; i < 3; i++) {
		xdr_put_u32(o, 1700000000u + (uint32_t)i);
		xdr_put_u32(o, 500);
	}
}

static void put_entry(struct xdr *o, const char *name, uint32_t nlen, uint64_t cookie,
		      uint32_t fhlen)
{
	uint8_t fh[256] = {1};

	xdr_put_bool(o, true);
	xdr_put_u64(o, cookie);
	xdr_put_u32(o, nlen);
	xdr_put_fixed(o, name, strlen(name));
	xdr_put_u64(o, cookie);
	xdr_put_bool(o, true);
	put_fattr(o, 1);
	xdr_put_bool(o, true);
	xdr_put_opaque(o, fh, fhlen);
}

static void nfs_body(struct xdr *o, struct call *c)
{
	static const uint8_t rootfh[8] = "rootfh00";
	struct xdr *a = &c->args;
	uint64_t off;
	uint32_t count;

	if (c->prog == MOUNT_PROGRAM) {
		if (c->proc == MOUNTPROC_MNT) {
			xdr_put_u32(o, 0);
			xdr_put_opaque(o, rootfh, sizeof(rootfh));
			xdr_put_u32(o, 1);
			xdr_put_u32(o, AUTH_SYS);
		}
		return;
	}
	xdr_get_opaque(a, 64);
	switch (c->proc) {
	case NFSPROC3_FSINFO:
		xdr_put_u32(o, 0);
		xdr_put_bool(o, false);
		for (int i = 0; i < 7; i++)
			xdr_put_u32(o, i == 3 ? 4096 : 65536); /* wtmax 4096 */
		xdr_put_u64(o, 1ull << 40);
		xdr_put_u32(o, 0);
		xdr_put_u32(o, 1);
		xdr_put_u32(o, 0x1b);
		return;
	case NFSPROC3_GETATTR:
		xdr_put_u32(o, 0);
		put_fattr(o, fattr_type);
		return;
	case NFSPROC3_LOOKUP:
		xdr_put_u32(o, NFS3ERR_STALE);
		xdr_put_bool(o, false);
		return;
	case NFSPROC3_ACCESS:
		xdr_put_u32(o, 0);
		xdr_put_bool(o, false);
		xdr_put_u32(o, 0x3f);
		return;
	case NFSPROC3_READ:
		off = xdr_get_u64(a);
		count = xdr_get_u32(a);
		if (off > sizeof(wfile))
			off = sizeof(wfile);
		count = MIN(count, (uint32_t)(sizeof(wfile) - off)) + read_extra;
		xdr_put_u32(o, 0);
		xdr_put_bool(o, false);
		xdr_put_u32(o, count);
		xdr_put_bool(o, off + count >= sizeof(wfile));
		xdr_put_opaque(o, wfile + off, count);
		return;
	case NFSPROC3_WRITE: {
		struct xdr_bytes d;

		off = xdr_get_u64(a);
		count = xdr_get_u32(a);
		xdr_get_u32(a);
		d = xdr_get_opaque(a, 70000);
		if (xdr_ok(a) && off + d.len <= sizeof(wfile))
			memcpy(wfile + off, d.data, d.len);
		writes++;
		written += d.len;
		xdr_put_u32(o, 0);
		xdr_put_bool(o, false);
		xdr_put_bool(o, false);
		xdr_put_u32(o, count);
		xdr_put_u32(o, 2);
		xdr_put_u64(o, 42);
		return;
	}
	case NFSPROC3_READDIRPLUS:
		off = xdr_get_u64(a); /* cookie */
		xdr_put_u32(o, 0);
		xdr_put_bool(o, false);
		xdr_put_u64(o, 0x1234);
		switch (rdp_mode) {
		case RDP_OK:
			if (off == 0) {
				put_entry(o, ".", 1, 1, 8);
				put_entry(o, "..", 2, 2, 8);
				put_entry(o, "a", 1, 3, 8);
			} else {
				put_entry(o, "b", 1, 4, 8);
			}
			xdr_put_bool(o, false);
			xdr_put_bool(o, off != 0);
			return;
		case RDP_HUGE_NAME:
			put_entry(o, "x", 0xffffff00u, 1, 8);
			break;
		case RDP_FH200:
			put_entry(o, "x", 1, 1, 200);
			break;
		case RDP_NUL:
			put_entry(o, "a\0b", 3, 1, 8);
			xdr_put_fixed(o, "b", 1); /* the bytes after the NUL, padded */
			break;
		case RDP_STALL:
			break;
		case RDP_LOOP:
			put_entry(o, "again", 5, 1, 8);
			break;
		}
		xdr_put_bool(o, false);
		xdr_put_bool(o, false);
		return;
	}
}

struct listing {
	int n;
	char names[8][16];
	bool fh_ok, attr_ok;
};

static int collect(void *arg, const char *name, const struct nfsclnt_fh *fh,
		   const struct nfsclnt_attr *attr)
{
	struct listing *l = arg;

	if (l->n < 8)
		snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
	l->n++;
	l->fh_ok = fh && fh->len == 8;
	l->attr_ok = attr && attr->fileid == 99;
	return 0;
}

static void test_nfs_codecs(void)
{
	struct nfsclnt_opts o = {.host = "127.0.0.1", .export = "/x", .timeout_ms = 500};
	struct nfsclnt_fh root, fh;
	struct nfsclnt_attr at;
	struct nfsclnt *c;
	struct listing l;
	struct srv s;
	uint8_t buf[10000], pat[10000];
	uint32_t granted;
	size_t got;
	bool eof;
	int err;

	srv_start(&s, NULL, 0, nfs_body);
	o.port = s.port;
	err = nfsclnt_open(&o, &c, &root);
	ok(!err && root.len == 8 && !memcmp(root.data, "rootfh00", 8), "36 MNT gives the root");
	if (err)
		bail_out("nfsclnt_open: %d", err);
	err = nfsclnt_getattr(c, &root, &at);
	ok(!err && at.type == NFSCLNT_REG && at.mode == 0644 && at.uid == 7 && at.gid == 8 &&
	       at.size == 12345 && at.fileid == 99 && at.mtime.sec == 1700000001u &&
	       at.ctime.nsec == 500,
	   "37 GETATTR decodes every field of fattr3");
	err = nfsclnt_access(c, &root, ACCESS3_READ | ACCESS3_LOOKUP, &granted);
	ok(!err && granted == (ACCESS3_READ | ACCESS3_LOOKUP),
	   "38 ACCESS: bits the server grants beyond those asked are dropped");
	is_int(nfsclnt_lookup(c, &root, "stale", &fh, NULL), -ESTALE, "39 NFS3ERR_STALE: -ESTALE");

	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i * 7 + 3);
	writes = written = 0;
	err = nfsclnt_write(c, &root, 0, pat, sizeof(pat));
	ok(!err && writes == 3 && written == sizeof(pat),
	   "40 WRITE of 10000 bytes is 3 calls at wtmax 4096 (%u)", writes);
	ok(!memcmp(wfile, pat, sizeof(pat)), "41 the server holds what was written");
	err = nfsclnt_read(c, &root, 0, buf, sizeof(buf), &got, &eof);
	ok(!err && got == sizeof(buf) && eof && !memcmp(buf, pat, sizeof(pat)),
	   "42 READ gives it back, with eof");
	memset(&l, 0, sizeof(l));
	err = nfsclnt_readdirplus(c, &root, 100, collect, &l);
	ok(!err && l.n == 2 && !strcmp(l.names[0], "a") && !strcmp(l.names[1], "b"),
	   "43 READDIRPLUS over two replies, without . and .. (%d, %d)", err, l.n);
	ok(l.fh_ok && l.attr_ok, "44 with handles and attributes");

	rdp_mode = RDP_HUGE_NAME;
	is_int(nfsclnt_readdirplus(c, &root, 100, collect, &l), -EPROTO,
	       "45 a name of 4 GiB: -EPROTO");
	rdp_mode = RDP_FH200;
	is_int(nfsclnt_readdirplus(c, &root, 100, collect, &l), -EPROTO,
	       "46 a handle of 200 bytes: -EPROTO");
	rdp_mode = RDP_NUL;
	is_int(nfsclnt_readdirplus(c, &root, 100, collect, &l), -EPROTO,
	       "47 a NUL in a name: -EPROTO");
	rdp_mode = RDP_STALL;
	is_int(nfsclnt_readdirplus(c, &root, 100, collect, &l), -EPROTO,
	       "48 no entries and no end: -EPROTO");
	rdp_mode = RDP_LOOP;
	memset(&l, 0, sizeof(l));
	is_int(nfsclnt_readdirplus(c, &root, 50, collect, &l), -EFBIG,
	       "49 a listing that never ends: -EFBIG");
	is_int(l.n, 50, "50 after max_entries entries");
	read_extra = 10;
	is_int(nfsclnt_read(c, &root, 0, buf, 100, &got, &eof), -EPROTO,
	       "51 READ gives more than asked: -EPROTO");
	read_extra = 0;
	fattr_type = 9;
	is_int(nfsclnt_getattr(c, &root, &at), -EPROTO, "52 a file type 9: -EPROTO");
	fattr_type = 1;
	is_int(nfsclnt_getattr(c, &root, &at), 0, "53 and the client goes on");
	nfsclnt_close(c);
	srv_stop(&s);
}

/* ---------------- from a kernel thread ---------------- */

static struct srv kt_srv;
static long kt_answer;
static _Atomic int kt_done, kt_ticks, kt_ticks_during;

static int kt_caller(void *arg)
{
	struct rpc_clnt *c = echo_clnt(&kt_srv, 1000, 1);
	int before = kt_ticks;

	(void)arg;
	kt_answer = echo(c, 77);
	kt_ticks_during = kt_ticks - before;
	kt_done = 1;
	rpc_clnt_destroy(c);
	return 0;
}

static int kt_ticker(void *arg)
{
	(void)arg;
	while (!kt_done) {
		kt_ticks++;
		kthread_sleep_ns(5 * 1000000);
	}
	return 0;
}

static void test_kthread(void)
{
	static const struct step slow[] = {{A_DELAY, 200}};
	struct uml_boot_params bp = {.memory = 16 << 20};

	if (uml_boot(&bp) || sched_cpu_init())
		bail_out("boot failed");
	srv_start(&kt_srv, slow, 1, echo_body);
	kthread_create(NULL, "ticker", SCHED_PRIO_DEFAULT, kt_ticker, NULL);
	kthread_create(NULL, "caller", SCHED_PRIO_DEFAULT, kt_caller, NULL);
	sched_cpu_stop(sched_this_cpu());
	sched_cpu_run(true);
	srv_stop(&kt_srv);
	is_int(kt_answer, 1077, "54 a call from a kernel thread is answered");
	ok(kt_ticks_during >= 10, "55 its CPU ran another thread meanwhile (%d ticks in 200 ms)",
	   (int)kt_ticks_during);
}

/* ---------------- URLs ---------------- */

static void test_url(void)
{
	struct nfsclnt_opts o;
	char why[128];

	ok(nfsclnt_url_parse("nfs://127.0.0.1:2050/export/a?mountport=2051&uid=5&gid=6&timeo=100"
			     "&retrans=2",
			     &o, why, sizeof(why)) == 0 &&
	       !strcmp(o.host, "127.0.0.1") && o.port == 2050 && o.mount_port == 2051 &&
	       !strcmp(o.export, "/export/a") && o.uid == 5 && o.gid == 6 && o.timeout_ms == 100 &&
	       o.retries == 2,
	   "1 a URL with every option");
	ok(nfsclnt_url_parse("nfs://10.0.0.1/", &o, why, sizeof(why)) == 0 && o.port == 0 &&
	       !strcmp(o.export, "/"),
	   "2 no port, the root path");
	ok(nfsclnt_url_parse("nfs://[::1]:2049/x", &o, why, sizeof(why)) == 0 &&
	       !strcmp(o.host, "::1") && o.port == 2049,
	   "3 an IPv6 address in brackets");
	is_int(nfsclnt_url_parse("nfs://::1/x", &o, why, sizeof(why)), -EINVAL,
	       "4 IPv6 without brackets");
	is_int(nfsclnt_url_parse("nfs://[1.2.3.4]/x", &o, why, sizeof(why)), -EINVAL,
	       "5 IPv4 in brackets");
	is_int(nfsclnt_url_parse("nfs://1.2.3.4:0/x", &o, why, sizeof(why)), -EINVAL, "6 port 0");
	is_int(nfsclnt_url_parse("nfs://1.2.3.4:65536/x", &o, why, sizeof(why)), -EINVAL,
	       "7 port 65536");
	is_int(nfsclnt_url_parse("nfs://1.2.3.4:20a9/x", &o, why, sizeof(why)), -EINVAL,
	       "8 a port that is not a number");
	is_int(nfsclnt_url_parse("nfs://1.2.3.4:2049", &o, why, sizeof(why)), -EINVAL, "9 no path");
	ok(nfsclnt_url_parse("nfs://1.2.3.4/x?color=red", &o, why, sizeof(why)) == -EINVAL &&
	       strstr(why, "unknown option: color"),
	   "10 an unknown option, named (%s)", why);
	is_int(nfsclnt_url_parse("nfs://server/x", &o, why, sizeof(why)), -EINVAL,
	       "11 a host name");
	is_int(nfsclnt_url_parse("nfs://1.2.3.4/x?uid=-1", &o, why, sizeof(why)), -EINVAL,
	       "12 a negative uid");
}

int main(void)
{
	plan(55);
	test_url();
	test_transport();
	test_nfs_codecs();
	test_kthread();
	return done_testing();
}
