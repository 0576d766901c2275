/*
 * An RPC service on a CPU: its listener threads and its lifetime.
 *
 * rpc_svc_start puts a service on the calling CPU: an acceptor thread and a
 * UDP thread, each with an exclusive watch (kwatch) on a listening socket
 * that every CPU of the machine shares, so that new work wakes one CPU and
 * not all of them. Each accepted connection gets a thread of its own
 * (svc_sock.c), if a slot can fairly be had (svc_evict.c).
 *
 * On the machine's own stack (kernel/net/inet) the same service has an
 * acceptor and a UDP thread of its own, asleep in tcp_accept and
 * udp_recvfrom on sockets in the arena: every CPU's threads wait on the
 * same socket and the stack wakes one of them, as the exclusive watch does.
 *
 * Memory is bounded per CPU: at most SVC_MAX_CONNS connections, each with a
 * SVC_STACK_ORDER stack from the machine and a record-sized input, output
 * and scratch buffer in this process. The service itself and every buffer
 * are one private mapping of the process (reserved once here, backed as
 * touched), so that the machine loses nothing when the process is killed:
 * the reaper frees the stacks with the CPU's threads.
 */
#include <arpa/inet.h>
#include <errno.h>

#include "uml/gen.h"
#include "uml/host.h"
#include "uml/inet.h"
#include "uml/mm.h"
#include "svc_internal.h"

#define SVC_UDP_MAX	       65507 /* largest UDP payload over IPv4 */
#define SVC_UDP_IN	       65536
#define SVC_BURST	       16 /* datagrams or accepts between yields, for fairness */
#define SVC_THREAD_STACK_ORDER 4  /* acceptor and UDP thread */

void svc_serv_put(struct svc_serv *s)
{
	if (--s->refs)
		return;
	host_unmap(s, s->memsize);
}

bool svc_peer_admitted(struct svc_serv *s, const struct sockaddr_storage *peer)
{
	if (!s->svc->admit || s->svc->admit((const struct sockaddr *)peer))
		return true;
	atomic_fetch_add(&s->stats->unlisted, 1);
	return false;
}

/*
 * A listener thread's loop: wait on an exclusive, edge-triggered watch of
 * @fd and at each edge let @take have items until the socket is drained
 * (-EAGAIN). Another CPU may win some of them, which is the point. It
 * yields every SVC_BURST items so that connections get their turn, and
 * ends when interrupted or when @take says so with -EINTR.
 */
static int listener_loop(struct svc_serv *s, int fd, int (*take)(struct svc_serv *s))
{
	struct kwatch w;
	int err = kwatch_add(&w, fd, HOST_POLLIN | HOST_POLLEXCLUSIVE);

	if (err)
		return err;
	while (kwatch_wait(&w, -1) >= 0) {
		for (unsigned n = 1; !s->stopping; n++) {
			int rc = take(s);

			if (rc == -EAGAIN)
				break;
			if (rc == -EINTR)
				goto out;
			if (n % SVC_BURST == 0)
				kthread_yield();
		}
	}
out:
	kwatch_del(&w);
	return 0;
}

/* One connection off the TCP listener. */
static int accept_one(struct svc_serv *s)
{
	struct sockaddr_storage peer;
	socklen_t plen;
	int fd = host_accept(s->l.tcp_fd, &peer, &plen);

	if (fd >= 0) {
		/* Before anything is spent on it, and above all before any eviction. */
		if (svc_peer_admitted(s, &peer))
			svc_conn_start(s, fd, &peer, plen);
		else
			host_close(fd);
		return 0;
	}
	if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM)
		/* Out of descriptors: the queue stays; look again shortly. */
		return kthread_sleep_ns(100000000);
	return fd == -EAGAIN ? -EAGAIN : 0; /* else the peer left before we took it */
}

/* One datagram off the UDP socket, answered at once. */
static int udp_one(struct svc_serv *s)
{
	struct sockaddr_storage peer;
	socklen_t plen;
	struct svc_req rq;
	ssize_t len = host_recvfrom(s->l.udp_fd, s->udp_in, SVC_UDP_IN, &peer, &plen);
	size_t r;

	if (len == -EAGAIN)
		return -EAGAIN;
	if (len < 0)
		return 0; /* an ICMP error for an earlier reply */
	if (!svc_peer_admitted(s, &peer))
		return 0;
	svc_req_init(&rq, s, &peer, plen, true, s->udp_scratch);
	rpc_format_peer((struct sockaddr *)&peer, plen, rq.client, sizeof(rq.client));
	rq.reply_max = SVC_UDP_MAX;
	kgen_defer_begin(); /* as conn_main does */
	r = rpc_dispatch(s->svc, &rq, s->udp_in, (size_t)len, s->udp_out);
	if (r)
		host_sendto(s->l.udp_fd, s->udp_out, r, &peer, plen);
	kgen_defer_end();
	return 0;
}

static int acceptor_main(void *arg)
{
	struct svc_serv *s = arg;
	int err = listener_loop(s, s->l.tcp_fd, accept_one);

	s->acceptor = NULL;
	svc_serv_put(s);
	return err;
}

static int udp_main(void *arg)
{
	struct svc_serv *s = arg;
	int err = listener_loop(s, s->l.udp_fd, udp_one);

	s->udp = NULL;
	svc_serv_put(s);
	return err;
}

/*
 * An address of the machine's stack as the transports' peer: IPv4 (a
 * v4-mapped inet_addr) as AF_INET, what the host's sockets give for it,
 * IPv6 as AF_INET6, so the allowlist (rpc_cidr_match) sees each family as
 * it is.
 */
socklen_t svc_inet_sockaddr(const struct inet_addr *addr, uint16_t port,
			    struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_addr_is_v4(addr)) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(inet_addr_v4(addr));
		sin->sin_port = htons(port);
		return sizeof(*sin);
	}
	sin6->sin6_family = AF_INET6;
	memcpy(sin6->sin6_addr.s6_addr, addr->a, 16);
	sin6->sin6_port = htons(port);
	return sizeof(*sin6);
}

/*
 * Connections off one of the machine's own listeners. tcp_accept sleeps
 * until one is established and returns -EINTR once rpc_svc_stop interrupts
 * us.
 */
static int inet_acceptor_main(void *arg)
{
	struct svc_inet_port *port = arg;
	struct svc_serv *s = port->serv;

	for (unsigned n = 1; !s->stopping; n++) {
		struct sockaddr_storage peer;
		struct tcp_sock *c;
		struct inet_addr raddr;
		uint16_t rport;
		socklen_t plen;
		int rc = tcp_accept_in(port->tcp, &c, &raddr, &rport, -1);

		if (rc == -EINTR || rc == -EINVAL)
			break;
		if (rc < 0) {
			/* No memory for it: the stack keeps the queue; look again shortly. */
			if (kthread_sleep_ns(100000000))
				break;
			continue;
		}
		plen = svc_inet_sockaddr(&raddr, rport, &peer);
		if (svc_peer_admitted(s, &peer))
			svc_conn_start_inet(port, c, &peer, plen);
		else
			tcp_abort(c);
		if (n % SVC_BURST == 0)
			kthread_yield();
	}
	port->acceptor = NULL;
	svc_serv_put(s);
	return 0;
}

/* Datagrams off one of the machine's own UDP sockets, each answered at once. */
static int inet_udp_main(void *arg)
{
	struct svc_inet_port *port = arg;
	struct svc_serv *s = port->serv;

	for (unsigned n = 1; !s->stopping; n++) {
		struct sockaddr_storage peer;
		struct svc_req rq;
		struct inet_addr saddr;
		uint16_t sport;
		socklen_t plen;
		size_t r;
		ssize_t len =
		    udp_recvfrom_in(port->udp, port->udp_in, SVC_UDP_IN, &saddr, &sport, -1);

		if (len == -EINTR)
			break;
		if (len < 0)
			continue;
		plen = svc_inet_sockaddr(&saddr, sport, &peer);
		if (!svc_peer_admitted(s, &peer))
			continue;
		svc_req_init(&rq, s, &peer, plen, true, port->udp_scratch);
		rpc_format_peer((struct sockaddr *)&peer, plen, rq.client, sizeof(rq.client));
		rq.reply_max = SVC_UDP_MAX;
		kgen_defer_begin();
		r = rpc_dispatch(port->svc, &rq, port->udp_in, (size_t)len, port->udp_out);
		if (r)
			udp_sendto_in(port->udp, port->udp_out, r, &saddr, sport);
		kgen_defer_end();
		if (n % SVC_BURST == 0)
			kthread_yield();
	}
	port->udp_thread = NULL;
	svc_serv_put(s);
	return 0;
}

/* Start a listener thread for @s with @arg; it holds a reference until it ends. */
static int listener_start(struct svc_serv *s, struct kthread **t, const char *name,
			  int (*fn)(void *), void *arg)
{
	int err =
	    kthread_create_stack(t, name, SCHED_PRIO_DEFAULT, SVC_THREAD_STACK_ORDER, fn, arg);

	if (!err) {
		kthread_detach(*t);
		s->refs++;
	}
	return err;
}

int rpc_svc_start(const struct rpc_service *svc, const struct svc_listener *l,
		  struct rpc_stats *stats, struct svc_serv **out)
{
	/* Scratch holds decoded structures: each buffer starts on a cache line. */
	size_t scratch = ALIGN_UP(RPC_SCRATCH_MAX, 64), udp_in = ALIGN_UP(SVC_UDP_IN, 64);
	size_t udp_out = ALIGN_UP(SVC_UDP_MAX, 64), in = ALIGN_UP(SVC_IN_CAP, 64);
	size_t per = scratch + in + ALIGN_UP(SVC_OUT_CAP, 64);
	struct svc_serv *s;
	uint8_t *m;
	int err = 0;

	size_t head = ALIGN_UP(sizeof(*s), 64);
	/* UDP buffers for the host's socket and each of the machine's: a thread each. */
	size_t memsize =
	    head + (1 + SVC_INET_PORTS) * (scratch + udp_in + udp_out) + SVC_MAX_CONNS * per;

	if (!sched_this_cpu())
		return -EPERM;
	/*
	 * The service and its buffers are this process's alone, never the
	 * machine's: a process killed with them leaves nothing behind.
	 */
	s = host_map_private(memsize);
	if (!s)
		return -ENOMEM;
	s->memsize = memsize;
	s->mem = m = (uint8_t *)s + head;
	s->svc = svc;
	s->stats = stats;
	s->l = *l;
	s->refs = 1;
	list_init(&s->lru);
	s->udp_scratch = m;
	s->udp_in = m + scratch;
	s->udp_out = s->udp_in + udp_in;
	m = s->udp_out + udp_out;
	for (unsigned i = 0; i < SVC_INET_PORTS; i++) {
		struct svc_inet_port *port = &s->inet[i];

		port->serv = s;
		port->udp_scratch = m;
		port->udp_in = m + scratch;
		port->udp_out = port->udp_in + udp_in;
		m = port->udp_out + udp_out;
	}
	s->inet[0].svc = svc;
	s->inet[0].tcp = l->inet_tcp;
	s->inet[0].udp = l->inet_udp;
	s->inet[1].svc = &svc_rpcbind;
	s->inet[1].tcp = l->rpcb_tcp;
	s->inet[1].udp = l->rpcb_udp;
	for (unsigned i = 0; i < SVC_MAX_CONNS; i++, m += per) {
		s->conn[i].fd = -1;
		s->conn[i].tsk = NULL;
		s->conn[i].scratch = m;
		s->conn[i].in.buf = m + scratch;
		s->conn[i].in.cap = SVC_IN_CAP;
		s->conn[i].out = m + scratch + in;
	}
	if (l->tcp_fd >= 0)
		err = listener_start(s, &s->acceptor, "rpc-accept", acceptor_main, s);
	if (!err && l->udp_fd >= 0)
		err = listener_start(s, &s->udp, "rpc-udp", udp_main, s);
	for (unsigned i = 0; i < SVC_INET_PORTS && !err; i++) {
		struct svc_inet_port *port = &s->inet[i];

		if (port->tcp)
			err = listener_start(s, &port->acceptor, i ? "rpcb-iaccept" : "rpc-iaccept",
					     inet_acceptor_main, port);
		if (!err && port->udp)
			err = listener_start(s, &port->udp_thread, i ? "rpcb-iudp" : "rpc-iudp",
					     inet_udp_main, port);
	}
	*out = s;
	if (err) {
		rpc_svc_stop(s);
		*out = NULL;
	}
	return err;
}

void rpc_svc_stop(struct svc_serv *s)
{
	s->stopping = true;
	if (s->acceptor)
		kthread_interrupt(s->acceptor);
	if (s->udp)
		kthread_interrupt(s->udp);
	for (unsigned i = 0; i < SVC_INET_PORTS; i++) {
		if (s->inet[i].acceptor)
			kthread_interrupt(s->inet[i].acceptor);
		if (s->inet[i].udp_thread)
			kthread_interrupt(s->inet[i].udp_thread);
	}
	list_for_each(n, &s->lru) kthread_interrupt(svc_conn_of(n)->thread);
	svc_serv_put(s);
}

/* --- the whole service on a host thread --- */

static void loop_stop(void *arg)
{
	rpc_svc_stop(arg);
}

int rpc_svc_loop(const struct rpc_service *svc, const struct svc_listener *l, int stop_fd,
		 struct rpc_stats *stats)
{
	struct svc_serv *s;
	int err;

	if (kthread_self())
		return -EPERM; /* a kernel thread uses rpc_svc_start */
	if (sched_this_cpu())
		return -EBUSY;
	err = sched_cpu_init();
	if (err)
		return err;
	err = rpc_svc_start(svc, l, stats, &s);
	if (!err) {
		err = sched_stop_on_fd(stop_fd, loop_stop, s);
		if (err)
			rpc_svc_stop(s);
	}
	/* Runs until the stopper has stopped the service and every thread has finished. */
	if (err)
		sched_cpu_stop(sched_this_cpu());
	sched_cpu_run(true);
	sched_cpu_exit();
	return err;
}
