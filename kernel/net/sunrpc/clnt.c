/*
 * The ONC RPC client over TCP (RFC 5531): a connection, record marking,
 * XIDs, retransmission with backoff, reconnection, AUTH_SYS.
 *
 * A call keeps its XID through every retransmission, so a reply to any of
 * its tries answers it; a reply with any other XID (the late duplicate of
 * an earlier call, or a server's mistake) is dropped unread. XIDs start at
 * a random number and go up by one per call.
 *
 * Waiting never blocks the CPU: a kernel thread waits for the socket with
 * kthread_wait_fd, so its CPU runs the other threads; a host thread polls.
 *
 * The client and both its buffers are one private mapping of the calling
 * process (reserved once, backed as touched), like the service's (svc.c):
 * the socket is this process's, so nothing of it may be in the arena.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "uml/host.h"
#include "uml/rpc.h"
#include "uml/rpcclnt.h"
#include "uml/sched.h"

#define RPC_CLNT_MACHINE "uml"
#define RPC_LAST_FRAG	 0x80000000u
/* The call record and its mark; the reply's room also bounds the reply. */
#define RPC_CLNT_OUT (4 + RPC_MAX_RECORD)
#define RPC_CLNT_IN  (4 + RPC_MAX_RECORD)

enum { RPC_CALL = 0, RPC_REPLY = 1 };
enum { RPC_MSG_ACCEPTED = 0, RPC_MSG_DENIED = 1 };

struct rpc_clnt {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct rpc_clnt_params p;
	int fd;		   /* -1: not connected; the next try connects */
	bool connected;	   /* a connection was made once: the next is a reconnect */
	uint32_t xid;	   /* of the call begun */
	struct xdr args;   /* the call begun, after its record mark */
	size_t reply_used; /* bytes of the last reply still in @in, dropped at the next begin */
	struct rpc_recbuf in;
	struct rpc_clnt_stats st;
	size_t memsize;
	uint8_t *out; /* RPC_CLNT_OUT bytes: the call record */
};

/* An accept_stat's errno (RPC_SUCCESS: 0); a stat beyond the table is -EPROTO. */
static const int accept_errno[] = {
    [RPC_SUCCESS] = 0,
    [RPC_PROG_UNAVAIL] = -EPROTONOSUPPORT,
    [RPC_PROG_MISMATCH] = -EPROTONOSUPPORT,
    [RPC_PROC_UNAVAIL] = -EOPNOTSUPP,
    [RPC_GARBAGE_ARGS] = -EINVAL,
    [RPC_SYSTEM_ERR] = -EIO,
};

/* Wait for @events on @fd until @deadline (host_mono_ns): events, -ETIMEDOUT, -EINTR. */
static int clnt_wait(int fd, uint32_t events, uint64_t deadline)
{
	uint64_t now = host_mono_ns();
	uint64_t ms;

	if (now >= deadline)
		return -ETIMEDOUT;
	ms = (deadline - now + 999999) / 1000000;
	if (ms > INT_MAX)
		ms = INT_MAX;
	if (kthread_self())
		return kthread_wait_fd(fd, events, (int)ms);
	return host_wait_fd(fd, events, (int)ms);
}

static void clnt_disconnect(struct rpc_clnt *c)
{
	if (c->fd >= 0)
		host_close(c->fd);
	c->fd = -1;
	c->in.in_len = c->in.rec_len = 0;
	c->reply_used = 0;
}

static int clnt_connect(struct rpc_clnt *c, uint64_t deadline)
{
	int fd = host_connect((struct sockaddr *)&c->addr, c->addrlen);
	int err;

	if (fd < 0)
		return fd;
	do
		err = clnt_wait(fd, HOST_POLLOUT, deadline);
	while (err == -EINTR && !kthread_self());
	if (err >= 0)
		err = host_sock_error(fd);
	if (err < 0) {
		host_close(fd);
		return err;
	}
	if (c->connected)
		c->st.reconnects++;
	c->connected = true;
	c->fd = fd;
	return 0;
}

int rpc_clnt_create(const struct sockaddr *sa, socklen_t len, const struct rpc_clnt_params *p,
		    struct rpc_clnt **out)
{
	size_t memsize = sizeof(struct rpc_clnt) + RPC_CLNT_OUT + RPC_CLNT_IN;
	uint64_t budget_ms = 0, wait_ms = p->timeout_ms;
	struct rpc_clnt *c;
	int err;

	if (len > sizeof(c->addr) || !p->timeout_ms)
		return -EINVAL;
	c = host_map_private(memsize);
	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	memcpy(&c->addr, sa, len);
	c->addrlen = len;
	c->p = *p;
	c->fd = -1;
	c->memsize = memsize;
	c->out = (uint8_t *)(c + 1);
	c->in.buf = c->out + RPC_CLNT_OUT;
	c->in.cap = RPC_CLNT_IN;
	host_random(&c->xid, sizeof(c->xid));
	for (uint32_t i = 0; i <= p->retries && budget_ms < UINT32_MAX; i++, wait_ms *= 2)
		budget_ms += wait_ms;
	err = clnt_connect(c, host_mono_ns() + budget_ms * 1000000);
	if (err) {
		host_unmap(c, memsize);
		return err;
	}
	*out = c;
	return 0;
}

void rpc_clnt_destroy(struct rpc_clnt *c)
{
	if (!c)
		return;
	clnt_disconnect(c);
	host_unmap(c, c->memsize);
}

void rpc_clnt_get_stats(const struct rpc_clnt *c, struct rpc_clnt_stats *st)
{
	*st = c->st;
}

struct xdr *rpc_clnt_begin(struct rpc_clnt *c, uint32_t prog, uint32_t vers, uint32_t proc)
{
	struct xdr *x = &c->args;
	size_t cred_len = 4 + xdr_sizeof_opaque(sizeof(RPC_CLNT_MACHINE) - 1) + 4 + 4 + 4;

	if (c->reply_used) {
		rpc_record_consume(&c->in, c->reply_used);
		c->reply_used = 0;
	}
	c->xid++;
	xdr_init(x, c->out + 4, RPC_CLNT_OUT - 4);
	xdr_put_u32(x, c->xid);
	xdr_put_u32(x, RPC_CALL);
	xdr_put_u32(x, RPC_VERSION);
	xdr_put_u32(x, prog);
	xdr_put_u32(x, vers);
	xdr_put_u32(x, proc);
	xdr_put_u32(x, AUTH_SYS);
	xdr_put_u32(x, (uint32_t)cred_len);
	xdr_put_u32(x, 0); /* stamp */
	xdr_put_opaque(x, RPC_CLNT_MACHINE, sizeof(RPC_CLNT_MACHINE) - 1);
	xdr_put_u32(x, c->p.uid);
	xdr_put_u32(x, c->p.gid);
	xdr_put_u32(x, 0);	   /* no supplementary groups */
	xdr_put_u32(x, AUTH_NONE); /* verifier */
	xdr_put_u32(x, 0);
	return x;
}

/* Send the whole call record: 0, -ETIMEDOUT, -EINTR, or -ECONNRESET (disconnected). */
static int clnt_send(struct rpc_clnt *c, size_t len, uint64_t deadline)
{
	size_t sent = 0;

	while (sent < len) {
		ssize_t n = host_send(c->fd, c->out + sent, len - sent);
		int err;

		if (n > 0) {
			sent += (size_t)n;
			continue;
		}
		if (n != -EAGAIN) {
			clnt_disconnect(c);
			return -ECONNRESET;
		}
		err = clnt_wait(c->fd, HOST_POLLOUT, deadline);
		if (err == -ETIMEDOUT || (err == -EINTR && kthread_self())) {
			/* Half a record on the wire: only a new connection can carry another. */
			clnt_disconnect(c);
			return err;
		}
	}
	return 0;
}

/*
 * Is the record @rec/@len the reply to the call begun? 0: no, drop it;
 * 1: yes, with the call's outcome in *@answer and its results in @res;
 * -EPROTO: not even an XID and a message type could be read.
 */
static int clnt_match(struct rpc_clnt *c, uint8_t *rec, size_t len, struct xdr *res, int *answer)
{
	struct xdr x;
	uint32_t xid, mtype, stat;

	xdr_init(&x, rec, len);
	xid = xdr_get_u32(&x);
	mtype = xdr_get_u32(&x);
	if (!xdr_ok(&x))
		return -EPROTO;
	if (xid != c->xid || mtype != RPC_REPLY)
		return 0;
	*answer = -EPROTO;
	switch (xdr_get_u32(&x)) {
	case RPC_MSG_ACCEPTED:
		xdr_get_u32(&x); /* the verifier: AUTH_NONE, or one we have no use for */
		xdr_get_opaque(&x, RPC_AUTH_BODY_MAX);
		stat = xdr_get_u32(&x);
		if (!xdr_ok(&x) || stat >= sizeof(accept_errno) / sizeof(accept_errno[0]))
			break;
		*answer = accept_errno[stat];
		if (stat == RPC_SUCCESS)
			xdr_init(res, rec + x.pos, len - x.pos);
		break;
	case RPC_MSG_DENIED:
		stat = xdr_get_u32(&x);
		if (xdr_ok(&x) && stat == RPC_MISMATCH)
			*answer = -EPROTONOSUPPORT;
		else if (xdr_ok(&x) && stat == RPC_AUTH_ERROR)
			*answer = -EACCES;
		break;
	}
	return 1;
}

/*
 * One try of the call begun: connect if need be, send, and read records
 * until the reply or @deadline. Returns 0 with the outcome in *@answer, or
 * what ended the try: -ETIMEDOUT, -ECONNRESET, a connect errno, -EINTR,
 * or -EPROTO (the stream was garbage; disconnected).
 */
static int clnt_try(struct rpc_clnt *c, size_t len, uint64_t deadline, struct xdr *res, int *answer)
{
	int err;

	if (c->fd < 0) {
		err = clnt_connect(c, deadline);
		if (err)
			return err;
	}
	err = clnt_send(c, len, deadline);
	if (err)
		return err;
	for (;;) {
		uint8_t *rec;
		size_t rlen, used;
		ssize_t n;

		err = rpc_record_next(&c->in, &rec, &rlen, &used);
		if (err == 1) {
			err = clnt_match(c, rec, rlen, res, answer);
			if (err < 0)
				break;
			if (err == 1) {
				c->reply_used = used;
				return 0;
			}
			rpc_record_consume(&c->in, used);
			continue;
		}
		if (err < 0) /* a record over RPC_MAX_RECORD */
			break;
		n = host_recv(c->fd, c->in.buf + c->in.in_len, c->in.cap - c->in.in_len);
		if (n > 0) {
			c->in.in_len += (size_t)n;
			continue;
		}
		if (n != -EAGAIN) {
			clnt_disconnect(c);
			return -ECONNRESET;
		}
		err = clnt_wait(c->fd, HOST_POLLIN, deadline);
		if (err == -ETIMEDOUT || (err == -EINTR && kthread_self()))
			return err;
	}
	clnt_disconnect(c);
	return -EPROTO;
}

int rpc_clnt_call(struct rpc_clnt *c, struct xdr *res)
{
	struct xdr *x = &c->args;
	uint64_t wait_ms = c->p.timeout_ms;
	uint32_t len;
	int err = -ETIMEDOUT;

	if (!xdr_ok(x))
		return -EMSGSIZE;
	len = (uint32_t)x->pos;
	c->out[0] = (uint8_t)((len | RPC_LAST_FRAG) >> 24);
	c->out[1] = (uint8_t)(len >> 16);
	c->out[2] = (uint8_t)(len >> 8);
	c->out[3] = (uint8_t)len;
	for (uint32_t try = 0; try <= c->p.retries; try++, wait_ms = MIN(2 * wait_ms, UINT32_MAX)) {
		uint64_t deadline = host_mono_ns() + wait_ms * 1000000;
		int answer;

		if (try)
			c->st.retransmits++;
		err = clnt_try(c, 4 + len, deadline, res, &answer);
		if (err == 0) {
			c->st.calls++;
			return answer;
		}
		if (err == -EPROTO || err == -EINTR)
			return err;
		/* A refused reconnection waits out its try: the server may be restarting. */
		if (err != -ETIMEDOUT && err != -ECONNRESET && try < c->p.retries) {
			uint64_t now = host_mono_ns();

			if (now < deadline)
				kthread_sleep_ns(deadline - now);
		}
	}
	if (err == -ETIMEDOUT)
		c->st.timeouts++;
	return err;
}
