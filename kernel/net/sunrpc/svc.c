/*
 * An RPC service on a CPU: its listener threads and its lifetime.
 *
 * rpc_svc_start puts a service on the calling CPU: an acceptor thread and a
 * UDP thread, each with an exclusive watch (kwatch) on a listening socket
 * that every CPU of the machine shares, so that new work wakes one CPU and
 * not all of them. Each accepted connection gets a thread of its own
 * (svc_sock.c), if a slot can fairly be had (svc_evict.c).
 *
 * Memory is bounded per CPU: at most SVC_MAX_CONNS connections, each with a
 * SVC_STACK_ORDER stack from the machine and a record-sized input, output
 * and scratch buffer in this process. The service itself and every buffer
 * are one private mapping of the process (reserved once here, backed as
 * touched), so that the machine loses nothing when the process is killed:
 * the reaper frees the stacks with the CPU's threads.
 */
#include <errno.h>

#include "uml/gen.h"
#include "uml/host.h"
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

/* May @peer use the service? Counted and dropped when not. */
static bool peer_admitted(struct svc_serv *s, const struct sockaddr_storage *peer)
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
	int fd = host_accept(s->tcp_fd, &peer, &plen);

	if (fd >= 0) {
		/* Before anything is spent on it, and above all before any eviction. */
		if (peer_admitted(s, &peer))
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
	ssize_t len = host_recvfrom(s->udp_fd, s->udp_in, SVC_UDP_IN, &peer, &plen);
	size_t r;

	if (len == -EAGAIN)
		return -EAGAIN;
	if (len < 0)
		return 0; /* an ICMP error for an earlier reply */
	if (!peer_admitted(s, &peer))
		return 0;
	svc_req_init(&rq, &peer, plen, true, s->udp_scratch, s->stats);
	rpc_format_peer((struct sockaddr *)&peer, plen, rq.client, sizeof(rq.client));
	rq.reply_max = SVC_UDP_MAX;
	kgen_defer_begin(); /* as conn_main does */
	r = rpc_dispatch(s->svc, &rq, s->udp_in, (size_t)len, s->udp_out);
	if (r)
		host_sendto(s->udp_fd, s->udp_out, r, &peer, plen);
	kgen_defer_end();
	return 0;
}

static int acceptor_main(void *arg)
{
	struct svc_serv *s = arg;
	int err = listener_loop(s, s->tcp_fd, accept_one);

	s->acceptor = NULL;
	svc_serv_put(s);
	return err;
}

static int udp_main(void *arg)
{
	struct svc_serv *s = arg;
	int err = listener_loop(s, s->udp_fd, udp_one);

	s->udp = NULL;
	svc_serv_put(s);
	return err;
}

/* Start a listener thread for @s; it holds a reference until it ends. */
static int listener_start(struct svc_serv *s, struct kthread **t, const char *name,
			  int (*fn)(void *))
{
	int err = kthread_create_stack(t, name, SCHED_PRIO_DEFAULT, SVC_THREAD_STACK_ORDER, fn, s);

	if (!err) {
		kthread_detach(*t);
		s->refs++;
	}
	return err;
}

int rpc_svc_start(const struct rpc_service *svc, int tcp_fd, int udp_fd, struct rpc_stats *stats,
		  struct svc_serv **out)
{
	/* Scratch holds decoded structures: each buffer starts on a cache line. */
	size_t scratch = ALIGN_UP(RPC_SCRATCH_MAX, 64), udp_in = ALIGN_UP(SVC_UDP_IN, 64);
	size_t udp_out = ALIGN_UP(SVC_UDP_MAX, 64), in = ALIGN_UP(SVC_IN_CAP, 64);
	size_t per = scratch + in + ALIGN_UP(SVC_OUT_CAP, 64);
	struct svc_serv *s;
	uint8_t *m;
	int err = 0;

	size_t head = ALIGN_UP(sizeof(*s), 64);
	size_t memsize = head + scratch + udp_in + udp_out + SVC_MAX_CONNS * per;

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
	s->tcp_fd = tcp_fd;
	s->udp_fd = udp_fd;
	s->refs = 1;
	list_init(&s->lru);
	s->udp_scratch = m;
	s->udp_in = m + scratch;
	s->udp_out = s->udp_in + udp_in;
	m = s->udp_out + udp_out;
	for (unsigned i = 0; i < SVC_MAX_CONNS; i++, m += per) {
		s->conn[i].fd = -1;
		s->conn[i].scratch = m;
		s->conn[i].in.buf = m + scratch;
		s->conn[i].in.cap = SVC_IN_CAP;
		s->conn[i].out = m + scratch + in;
	}
	if (tcp_fd >= 0)
		err = listener_start(s, &s->acceptor, "rpc-accept", acceptor_main);
	if (!err && udp_fd >= 0)
		err = listener_start(s, &s->udp, "rpc-udp", udp_main);
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
	list_for_each(n, &s->lru) kthread_interrupt(svc_conn_of(n)->thread);
	svc_serv_put(s);
}

/* --- the whole service on a host thread --- */

static void loop_stop(void *arg)
{
	rpc_svc_stop(arg);
}

int rpc_svc_loop(const struct rpc_service *svc, int tcp_fd, int udp_fd, int stop_fd,
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
	err = rpc_svc_start(svc, tcp_fd, udp_fd, stats, &s);
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
