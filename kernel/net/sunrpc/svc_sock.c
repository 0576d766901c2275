/*
 * A TCP connection of an RPC service: record marking (RFC 5531 section 11)
 * over a non-blocking socket, served by a kernel thread of its own.
 *
 * The thread reads a record, dispatches it and sends the reply in
 * straight-line code; when the socket would block it waits on the
 * connection's own watch, registered once (no system call to re-arm it per
 * request), and a waiting connection costs its stack and nothing else. A
 * record larger than RPC_MAX_RECORD drops the connection; a connection idle
 * for SVC_IDLE_SEC is closed, and so is one interrupted by eviction
 * (svc_evict.c) or by the service stopping.
 *
 * A connection of the machine's own stack (kernel/net/inet) runs the same
 * code: its socket sleeps in tcp_recv and tcp_send itself, so the thread
 * waits there, with the idle time left as the limit, instead of on a watch.
 */
#include <errno.h>
#include <string.h>

#include "uml/gen.h"
#include "uml/host.h"
#include "uml/inet.h"
#include "svc_internal.h"

#define SVC_IDLE_SEC  120
#define SVC_LAST_FRAG 0x80000000u

/* The peer sent something: the connection is the most recently active. */
static void conn_touch(struct svc_conn *c)
{
	c->active_ns = host_mono_ns();
	list_move_tail(&c->serv->lru, &c->lru);
}

/* Milliseconds the connection may still stay idle; 0 when its time is up. */
static int idle_left_ms(const struct svc_conn *c)
{
	uint64_t idle = host_mono_ns() - c->active_ns, limit = SVC_IDLE_SEC * 1000000000ull;

	return idle >= limit ? 0 : (int)((limit - idle + 999999) / 1000000);
}

/* Send @len bytes, waiting for room as needed. 0, or a negative errno to drop. */
static int conn_send(struct svc_conn *c, const uint8_t *buf, size_t len)
{
	while (len && c->tsk) {
		/* A peer that does not read its replies counts as idle. */
		int left = idle_left_ms(c);
		ssize_t n = left ? tcp_send(c->tsk, buf, len, left) : -ETIMEDOUT;

		if (n <= 0)
			return n ? (int)n : -EPIPE;
		buf += n;
		len -= (size_t)n;
	}
	while (len) {
		ssize_t n = host_send(c->fd, buf, len);

		if (n == -EAGAIN) {
			/* A peer that does not read its replies counts as idle. */
			int left = idle_left_ms(c), ev;

			if (!left)
				return -ETIMEDOUT;
			ev = kwatch_wait(&c->watch, left);
			if (ev < 0)
				return ev;
			continue;
		}
		if (n <= 0)
			return n ? (int)n : -EPIPE;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Make the input start with one complete record (see record.c), reading as
 * much as needed. On success the record is (*rec, *len), and *used bytes of
 * the input go once it is served. A negative errno drops the connection.
 */
static int conn_read_record(struct svc_conn *c, uint8_t **rec, size_t *len, size_t *used)
{
	for (;;) {
		int rc = rpc_record_next(&c->in, rec, len, used);

		if (rc > 0)
			return 0;
		if (rc < 0) {
			atomic_fetch_add(&c->serv->stats->garbage, 1);
			return rc;
		}
		for (;;) {
			size_t room = c->in.cap - c->in.in_len;
			int left = idle_left_ms(c), ev;
			ssize_t n;

			if (c->tsk) {
				/* Sleeps in the stack: 0 is the peer's FIN, -ETIMEDOUT idleness. */
				n = left ? tcp_recv(c->tsk, c->in.buf + c->in.in_len, room, left)
					 : -ETIMEDOUT;
				if (n == -ETIMEDOUT && idle_left_ms(c))
					continue; /* the peer spoke since: our clock, not the
						     stack's */
			} else {
				n = host_recv(c->fd, c->in.buf + c->in.in_len, room);
			}
			if (n > 0) {
				c->in.in_len += (size_t)n;
				conn_touch(c);
				break;
			}
			if (n != -EAGAIN)
				return n ? (int)n : -ECONNRESET;
			if (!left)
				return -ETIMEDOUT;
			ev = kwatch_wait(&c->watch, left);
			if (ev < 0)
				return ev;
		}
	}
}

/* One record in, one reply out, until the peer leaves, errs, idles or is interrupted. */
static int conn_main(void *arg)
{
	struct svc_conn *c = arg;
	struct svc_serv *s = c->serv;
	/* Edge-triggered: every wait below follows a recv or send that would block. */
	bool watched = c->tsk || kwatch_add(&c->watch, c->fd,
					    HOST_POLLIN | HOST_POLLOUT | HOST_POLLRDHUP) == 0;

	while (watched) {
		struct svc_req rq;
		uint8_t *rec = NULL;
		size_t len = 0, used = 0, n;
		int sent = 0;

		if (conn_read_record(c, &rec, &len, &used))
			break;
		svc_req_init(&rq, s, &c->peer, c->peerlen, false, c->scratch);
		memcpy(rq.client, c->client, sizeof(rq.client));
		rq.reply_max = SVC_OUT_CAP - 4;
		/* Whoever the call wakes (a knob's watchers) runs after the reply is out. */
		kgen_defer_begin();
		n = rpc_dispatch(c->svc, &rq, rec, len, c->out + 4);
		if (n) {
			c->out[0] = (uint8_t)((SVC_LAST_FRAG | n) >> 24);
			c->out[1] = (uint8_t)(n >> 16);
			c->out[2] = (uint8_t)(n >> 8);
			c->out[3] = (uint8_t)n;
			sent = conn_send(c, c->out, n + 4);
		}
		kgen_defer_end();
		if (sent)
			break;
		rpc_record_consume(&c->in, used);
		/*
		 * A client that sends its next call as soon as it has the reply
		 * would keep this thread from ever blocking: let the CPU's other
		 * threads (a watcher this call woke) have their turn first.
		 */
		kthread_yield();
	}
	if (watched && !c->tsk)
		kwatch_del(&c->watch);
	list_del(&s->lru, &c->lru);
	if (c->tsk) {
		tcp_close(c->tsk);
		c->tsk = NULL;
	} else {
		host_close(c->fd);
	}
	c->fd = -1;
	c->thread = NULL;
	s->nconns--;
	svc_serv_put(s);
	return 0;
}

/* Serve @fd or @tsk (the other -1 or NULL); closes it when refused. */
static void conn_start(struct svc_serv *s, const struct rpc_service *svc, int fd,
		       struct tcp_sock *tsk, const struct sockaddr_storage *peer, socklen_t plen)
{
	struct in6_addr key;
	struct svc_conn *c;

	rpc_client_key((const struct sockaddr *)peer, &key);
	c = svc_conn_slot(s, &key);
	if (!c)
		goto refuse;
	c->serv = s;
	c->svc = svc;
	c->fd = fd;
	c->tsk = tsk;
	c->evicted = false;
	c->in.in_len = c->in.rec_len = 0;
	c->active_ns = host_mono_ns();
	c->peer = *peer;
	c->peerlen = plen;
	c->client_addr = key;
	rpc_format_peer((const struct sockaddr *)peer, plen, c->client, sizeof(c->client));
	if (kthread_create_stack(&c->thread, "rpc-conn", SCHED_PRIO_DEFAULT, SVC_STACK_ORDER,
				 conn_main, c)) {
		c->fd = -1;
		c->tsk = NULL;
		goto refuse;
	}
	/* Nobody joins it: it frees itself. It runs later and owns the slot from here on. */
	kthread_detach(c->thread);
	list_add_tail(&s->lru, &c->lru);
	s->nconns++;
	s->refs++;
	atomic_fetch_add(&s->stats->connections, 1);
	return;
refuse:
	atomic_fetch_add(&s->stats->refused, 1);
	if (tsk)
		tcp_abort(tsk);
	else
		host_close(fd);
}

void svc_conn_start(struct svc_serv *s, int fd, const struct sockaddr_storage *peer, socklen_t plen)
{
	conn_start(s, s->svc, fd, NULL, peer, plen);
}

void svc_conn_start_inet(struct svc_inet_port *port, struct tcp_sock *tsk,
			 const struct sockaddr_storage *peer, socklen_t plen)
{
	/* A reply is sent whole at once: its last segment must not wait for an ACK (Nagle). */
	tcp_set_nodelay(tsk, true);
	conn_start(port->serv, port->svc, -1, tsk, peer, plen);
}
