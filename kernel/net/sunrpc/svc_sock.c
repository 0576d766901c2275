/*
 * RPC transports on host sockets, served by kernel threads: TCP with record
 * marking (RFC 5531 section 11) and UDP, both on one port.
 *
 * rpc_svc_start puts a service on the calling CPU: an acceptor thread and a
 * UDP thread, each with an exclusive watch (kwatch) on a listening socket
 * that every CPU of the machine shares, so that new work wakes one CPU and
 * not all of them. Each accepted connection gets a thread of its own that
 * reads a record, dispatches it and sends the reply in straight-line code;
 * when the socket would block it waits on the connection's own watch,
 * registered once (no system call to re-arm it per request), and a waiting
 * connection costs its stack and nothing else.
 *
 * Memory is bounded per CPU: at most SVC_MAX_CONNS connections, each with a
 * SVC_STACK_ORDER stack from the machine and a record-sized input, output
 * and scratch buffer in this process (reserved once, backed as touched).
 * Stacks are taken only while a quarter of the machine stays free, so a
 * flood of connections cannot starve the filesystem. A record larger than
 * RPC_MAX_RECORD drops its connection; a connection idle for SVC_IDLE_SEC is
 * closed.
 *
 * Who gets the slots and stacks: a host that no export lists is closed at
 * accept, before it costs a thing (the service's admit hook). A listed host
 * holds at most SVC_MAX_PER_CLIENT connections of a CPU. When the CPU has no
 * slot or no stack left, a newcomer may only take one from the host holding
 * the most connections here, and only while that host would still hold at
 * least as many as the newcomer's: its least recently active one is closed.
 * Otherwise the newcomer is refused. So a flood, listed or not, costs only
 * its own host, and a host's lone connection is never closed for another's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "uml/host.h"
#include "uml/machine.h"
#include "uml/mm.h"
#include "uml/nfs.h"
#include "uml/rpc.h"
#include "uml/sched.h"

#define SVC_MAX_CONNS 64
/*
 * Connections one client address may hold on a CPU: half of its slots. A
 * monitor opens one or two at a time and a Linux mount one per server, but
 * one host may rightly run many clients at once (nconnect up to 16, a load
 * generator, a soak with 64 libnfs contexts), and the acceptors need not
 * spread them evenly over the CPUs. The bound is what keeps one host from
 * holding a whole CPU; what keeps other hosts served is the fairness rule
 * (fair_victim), which takes room only from the biggest holder's surplus.
 * The bound is per CPU because a connection belongs to the CPU that
 * accepted it, and so do the slots and the eviction it competes for: a
 * count across CPUs would need a lock in the arena and repair after a CPU
 * killed mid-count, and would protect nothing more, since what a client can
 * take from others is what it holds on their CPU. Over all CPUs of a
 * machine, a host's connections stay bounded by SVC_MAX_PER_CLIENT times
 * the CPUs, and their stacks by the quarter of memory kept free.
 */
#define SVC_MAX_PER_CLIENT (SVC_MAX_CONNS / 2)

#define SVC_IDLE_SEC  120
#define SVC_BACKLOG   64
#define SVC_UDP_MAX   65507 /* largest UDP payload over IPv4 */
#define SVC_BURST     16    /* datagrams or accepts between yields, for fairness */
#define SVC_IN_CAP    (RPC_MAX_RECORD + 4)
#define SVC_OUT_CAP   (RPC_MAX_REPLY + 4)
#define SVC_LAST_FRAG 0x80000000u
/*
 * Dispatch itself needs about 8 KiB of stack (rpc_dispatch and MOUNT's path
 * buffers), but the application's file hooks run on it too, and a hook that
 * logs through its host does more: httpd's ap_log_error alone takes over
 * 16 KiB. So connections get the default 64 KiB; the sanitizers' red zones
 * need twice that.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SVC_STACK_ORDER (SCHED_STACK_ORDER + 1)
#else
#define SVC_STACK_ORDER SCHED_STACK_ORDER
#endif
#define SVC_THREAD_STACK_ORDER 4 /* acceptor and UDP thread */

struct svc_serv;

struct svc_conn {
	struct svc_serv *serv;
	struct kthread *thread;
	int fd;		      /* -1: slot free */
	bool evicted;	      /* interrupted to make room; no longer counts for its client */
	struct rpc_recbuf in; /* the stream read so far: SVC_IN_CAP bytes */
	uint8_t *out;	      /* the reply record being sent */
	uint8_t *scratch;     /* RPC_SCRATCH_MAX */
	uint64_t active_ns;   /* last time the peer sent something */
	struct svc_conn *lru_prev, *lru_next; /* most recently active last */
	struct kwatch watch;		      /* the socket's readiness, for its thread */
	struct sockaddr_storage peer;
	socklen_t peerlen;
	struct in6_addr client_addr; /* the peer's address as a client key (client_key) */
	char client[64];
};

/*
 * A service on one CPU, in this process's memory. Only threads of that CPU
 * touch it, and they switch only where they wait, so it needs no lock. It
 * is freed by whoever drops the last reference: the owner's (dropped by
 * rpc_svc_stop) and one per thread.
 */
struct svc_serv {
	const struct rpc_service *svc;
	struct rpc_stats *stats;
	int tcp_fd, udp_fd;
	int refs;
	bool stopping;
	struct kthread *acceptor, *udp;
	struct svc_conn *lru_head, *lru_tail;
	unsigned nconns;
	uint8_t *mem; /* the buffers below, one mapping */
	size_t memsize;
	uint8_t *udp_in, *udp_out, *udp_scratch;
	struct svc_conn conn[SVC_MAX_CONNS];
};

static void serv_put(struct svc_serv *s)
{
	if (--s->refs)
		return;
	host_unmap(s->mem, s->memsize);
	kfree(s);
}

static void svc_req_init(struct svc_req *rq, const struct sockaddr_storage *peer, socklen_t peerlen,
			 bool datagram, uint8_t *scratch, struct rpc_stats *stats)
{
	memset(rq, 0, sizeof(*rq));
	memcpy(&rq->peer, peer, sizeof(*peer));
	rq->peerlen = peerlen;
	rq->datagram = datagram;
	rq->scratch = scratch;
	rq->stats = stats;
}

/* --- connections --- */

static void lru_unlink(struct svc_serv *s, struct svc_conn *c)
{
	if (c->lru_prev)
		c->lru_prev->lru_next = c->lru_next;
	else
		s->lru_head = c->lru_next;
	if (c->lru_next)
		c->lru_next->lru_prev = c->lru_prev;
	else
		s->lru_tail = c->lru_prev;
	c->lru_prev = c->lru_next = NULL;
}

static void lru_append(struct svc_serv *s, struct svc_conn *c)
{
	c->lru_prev = s->lru_tail;
	c->lru_next = NULL;
	if (s->lru_tail)
		s->lru_tail->lru_next = c;
	else
		s->lru_head = c;
	s->lru_tail = c;
}

/* The peer sent something: the connection is the most recently active. */
static void conn_touch(struct svc_conn *c)
{
	c->active_ns = host_mono_ns();
	if (c->serv->lru_tail != c) {
		lru_unlink(c->serv, c);
		lru_append(c->serv, c);
	}
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
			ssize_t n =
			    host_recv(c->fd, c->in.buf + c->in.in_len, c->in.cap - c->in.in_len);
			int left, ev;

			if (n > 0) {
				c->in.in_len += (size_t)n;
				conn_touch(c);
				break;
			}
			if (n != -EAGAIN)
				return n ? (int)n : -ECONNRESET;
			left = idle_left_ms(c);
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
	bool watched = kwatch_add(&c->watch, c->fd, HOST_POLLIN | HOST_POLLOUT | HOST_POLLRDHUP) == 0;

	while (watched) {
		struct svc_req rq;
		uint8_t *rec = NULL;
		size_t len = 0, used = 0, n;

		if (conn_read_record(c, &rec, &len, &used))
			break;
		svc_req_init(&rq, &c->peer, c->peerlen, false, c->scratch, s->stats);
		memcpy(rq.client, c->client, sizeof(rq.client));
		rq.reply_max = SVC_OUT_CAP - 4;
		n = rpc_dispatch(s->svc, &rq, rec, len, c->out + 4);
		if (n) {
			c->out[0] = (uint8_t)((SVC_LAST_FRAG | n) >> 24);
			c->out[1] = (uint8_t)(n >> 16);
			c->out[2] = (uint8_t)(n >> 8);
			c->out[3] = (uint8_t)n;
			if (conn_send(c, c->out, n + 4))
				break;
		}
		rpc_record_consume(&c->in, used);
	}
	if (watched)
		kwatch_del(&c->watch);
	lru_unlink(s, c);
	host_close(c->fd);
	c->fd = -1;
	c->thread = NULL;
	s->nconns--;
	serv_put(s);
	return 0;
}

/*
 * A client is its address, whatever its port: IPv4 in its v4-mapped IPv6
 * form, so that a dual-stack socket's ::ffff:a.b.c.d and a.b.c.d are one.
 */
static void client_key(const struct sockaddr_storage *ss, struct in6_addr *key)
{
	memset(key, 0, sizeof(*key));
	if (ss->ss_family == AF_INET) {
		key->s6_addr[10] = key->s6_addr[11] = 0xff;
		memcpy(&key->s6_addr[12], &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		*key = ((const struct sockaddr_in6 *)ss)->sin6_addr;
	}
}

/* Connections @key holds on this CPU, not counting those already on their way out. */
static unsigned client_conns(const struct svc_serv *s, const struct in6_addr *key)
{
	unsigned n = 0;

	for (const struct svc_conn *c = s->lru_head; c; c = c->lru_next)
		n += !c->evicted && memcmp(&c->client_addr, key, sizeof(*key)) == 0;
	return n;
}

/*
 * The connection to close for a newcomer whose client holds @mine here: the
 * least recently active of the client holding the most, if it holds more
 * than mine + 1 (after the swap it still holds as many as the newcomer's
 * client). Among clients holding as many, the one idle longest gives. NULL:
 * nobody holds a surplus, and the newcomer is refused. Quadratic in the
 * CPU's connections, and only run when the CPU is full.
 */
static struct svc_conn *fair_victim(struct svc_serv *s, unsigned mine)
{
	struct svc_conn *victim = NULL;
	unsigned most = 0;

	for (struct svc_conn *c = s->lru_head; c; c = c->lru_next) {
		unsigned n;

		if (c->evicted)
			continue;
		n = client_conns(s, &c->client_addr);
		if (n > most) {
			most = n;
			victim = c;
		}
	}
	return most > mine + 1 ? victim : NULL;
}

static struct svc_conn *free_slot(struct svc_serv *s)
{
	for (unsigned i = 0; i < SVC_MAX_CONNS; i++)
		if (s->conn[i].fd < 0)
			return &s->conn[i];
	return NULL;
}

/*
 * A connection stack may be taken while a quarter of the machine's pages
 * stay free; one this CPU keeps from a finished thread costs nothing.
 */
static bool stack_affordable(void)
{
	const struct mm_zone *mm = &machine->mm;

	if (kthread_stack_cached(SVC_STACK_ORDER))
		return true;
	/* Read without the zone's lock: a hint, and the allocator has the last word. */
	return __atomic_load_n(&mm->nfree, __ATOMIC_RELAXED) >
	       mm->npages / 4 + (1u << SVC_STACK_ORDER);
}

/*
 * A slot and a stack for a new connection of a client holding @mine here.
 * When either is missing, close connections of the biggest holder while it
 * has a surplus (fair_victim), one at a time, each waited for: what it gives
 * back may be enough. Returns NULL when nobody has a surplus to give, and
 * the newcomer is to be refused: a full CPU refuses rather than churning
 * connections that were there first.
 */
static struct svc_conn *conn_make_room(struct svc_serv *s, unsigned mine)
{
	struct svc_conn *victim = NULL;

	for (int tries = 0;; tries++) {
		struct svc_conn *c = free_slot(s);

		if (c && stack_affordable())
			return c;
		if (s->stopping)
			return NULL;
		/*
		 * A CPU with no connection may always try the allocator, so
		 * that a monitor can still reach a full machine to clean up.
		 */
		if (!s->nconns)
			return c;
		/* Only this thread takes slots: a victim's is free once it has finished. */
		if (!victim || victim->fd < 0) {
			victim = fair_victim(s, mine);
			if (!victim)
				return NULL;
			victim->evicted = true;
			kthread_interrupt(victim->thread);
		}
		if (tries > 1000)
			return NULL; /* a victim stuck in a file hook: give up on it */
		/* The victim runs, sees -EINTR and closes; allow it a moment. */
		if (tries < 8)
			kthread_yield();
		else
			kthread_sleep_ns(1000000);
	}
}

/*
 * Take an accepted connection of a listed peer, or refuse it (closed at
 * once, never read) when its client holds its share of this CPU or no room
 * can fairly be made.
 */
static void conn_start(struct svc_serv *s, int fd, const struct sockaddr_storage *peer,
		       socklen_t plen)
{
	struct in6_addr key;
	struct svc_conn *c;
	unsigned mine;

	client_key(peer, &key);
	mine = client_conns(s, &key);
	if (mine >= SVC_MAX_PER_CLIENT)
		goto refuse;
	c = conn_make_room(s, mine);
	if (!c)
		goto refuse;
	c->serv = s;
	c->fd = fd;
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
		goto refuse;
	}
	/* Nobody joins it: it frees itself. It runs later and owns the slot from here on. */
	kthread_detach(c->thread);
	lru_append(s, c);
	s->nconns++;
	s->refs++;
	atomic_fetch_add(&s->stats->connections, 1);
	return;
refuse:
	atomic_fetch_add(&s->stats->refused, 1);
	host_close(fd);
}

/* May @peer use the service? Counted and dropped when not. */
static bool peer_admitted(struct svc_serv *s, const struct sockaddr_storage *peer)
{
	if (!s->svc->admit || s->svc->admit((const struct sockaddr *)peer))
		return true;
	atomic_fetch_add(&s->stats->unlisted, 1);
	return false;
}

/* --- the listeners --- */

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
			conn_start(s, fd, &peer, plen);
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
	ssize_t len = host_recvfrom(s->udp_fd, s->udp_in, 65536, &peer, &plen);
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
	r = rpc_dispatch(s->svc, &rq, s->udp_in, (size_t)len, s->udp_out);
	if (r)
		host_sendto(s->udp_fd, s->udp_out, r, &peer, plen);
	return 0;
}

static int acceptor_main(void *arg)
{
	struct svc_serv *s = arg;
	int err = listener_loop(s, s->tcp_fd, accept_one);

	s->acceptor = NULL;
	serv_put(s);
	return err;
}

static int udp_main(void *arg)
{
	struct svc_serv *s = arg;
	int err = listener_loop(s, s->udp_fd, udp_one);

	s->udp = NULL;
	serv_put(s);
	return err;
}

/* --- a service on this CPU --- */

int rpc_svc_start(const struct rpc_service *svc, int tcp_fd, int udp_fd, struct rpc_stats *stats,
		  struct svc_serv **out)
{
	/* Scratch holds decoded structures: each buffer starts on a cache line. */
	size_t scratch = ALIGN_UP(RPC_SCRATCH_MAX, 64), udp_in = ALIGN_UP(65536, 64);
	size_t udp_out = ALIGN_UP(SVC_UDP_MAX, 64), in = ALIGN_UP(SVC_IN_CAP, 64);
	size_t per = scratch + in + ALIGN_UP(SVC_OUT_CAP, 64);
	struct svc_serv *s;
	uint8_t *m;
	int err = 0;

	if (!sched_this_cpu())
		return -EPERM;
	s = kzalloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->svc = svc;
	s->stats = stats;
	s->tcp_fd = tcp_fd;
	s->udp_fd = udp_fd;
	s->refs = 1;
	s->memsize = scratch + udp_in + udp_out + SVC_MAX_CONNS * per;
	s->mem = m = host_map_private(s->memsize);
	if (!m) {
		kfree(s);
		return -ENOMEM;
	}
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
	if (tcp_fd >= 0) {
		err = kthread_create_stack(&s->acceptor, "rpc-accept", SCHED_PRIO_DEFAULT,
					   SVC_THREAD_STACK_ORDER, acceptor_main, s);
		if (!err) {
			kthread_detach(s->acceptor);
			s->refs++;
		}
	}
	if (!err && udp_fd >= 0) {
		err = kthread_create_stack(&s->udp, "rpc-udp", SCHED_PRIO_DEFAULT,
					   SVC_THREAD_STACK_ORDER, udp_main, s);
		if (!err) {
			kthread_detach(s->udp);
			s->refs++;
		}
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
	for (struct svc_conn *c = s->lru_head; c; c = c->lru_next)
		kthread_interrupt(c->thread);
	serv_put(s);
}

/* --- the whole service on a host thread --- */

struct svc_loop {
	struct svc_serv *serv;
	int stop_fd;
};

static int stopper_main(void *arg)
{
	struct svc_loop *l = arg;
	int ev;

	do
		ev = kthread_wait_fd(l->stop_fd, HOST_POLLIN, -1);
	while (ev == -ETIMEDOUT);
	rpc_svc_stop(l->serv);
	sched_cpu_stop(sched_this_cpu());
	return 0;
}

int rpc_svc_loop(const struct rpc_service *svc, int tcp_fd, int udp_fd, int stop_fd,
		 struct rpc_stats *stats)
{
	struct svc_loop l = {.stop_fd = stop_fd};
	int err;

	if (kthread_self())
		return -EPERM; /* a kernel thread uses rpc_svc_start */
	if (sched_this_cpu())
		return -EBUSY;
	err = sched_cpu_init();
	if (err)
		return err;
	err = rpc_svc_start(svc, tcp_fd, udp_fd, stats, &l.serv);
	if (!err) {
		err = kthread_create(NULL, "rpc-stop", SCHED_PRIO_DEFAULT, stopper_main, &l);
		if (err)
			rpc_svc_stop(l.serv);
	}
	/* Runs until the stopper has stopped the service and every thread has finished. */
	if (err)
		sched_cpu_stop(sched_this_cpu());
	sched_cpu_run(true);
	sched_cpu_exit();
	return err;
}

/* --- listening --- */

/* Parse "1.2.3.4", "::1" or "[::1]" into @ss with @port. */
static int svc_parse_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(host);

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return 0;
	}
	if (n >= 2 && n < sizeof(buf) && host[0] == '[' && host[n - 1] == ']') {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		host = buf;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return 0;
	}
	return -EINVAL;
}

int svc_listen(const char *host, int port, unsigned protos, struct svc_listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int err, tries;

	l->tcp_fd = l->udp_fd = -1;
	if (port < 0 || port > 65535 || !protos || (protos & ~(SVC_TCP | SVC_UDP)))
		return -EINVAL;
	err = svc_parse_addr(host, port, &ss, &len);
	if (err)
		return err;
	if (!(protos & SVC_TCP)) {
		l->udp_fd = host_listen((struct sockaddr *)&ss, len, false, 0);
		return l->udp_fd < 0 ? l->udp_fd : 0;
	}
	/* Port 0 picks a free TCP port; UDP then needs the same one, which may be taken. */
	for (tries = 0; tries < 16; tries++) {
		struct sockaddr_storage bound;
		socklen_t blen;

		l->tcp_fd = host_listen((struct sockaddr *)&ss, len, true, SVC_BACKLOG);
		if (l->tcp_fd < 0)
			return l->tcp_fd;
		if (!(protos & SVC_UDP))
			return 0;
		err = host_sockname(l->tcp_fd, &bound, &blen);
		if (err) {
			host_close(l->tcp_fd);
			return err;
		}
		l->udp_fd = host_listen((struct sockaddr *)&bound, blen, false, 0);
		if (l->udp_fd >= 0)
			return 0;
		err = l->udp_fd;
		host_close(l->tcp_fd);
		if (port != 0 || err != -EADDRINUSE)
			break;
	}
	l->tcp_fd = l->udp_fd = -1;
	return err;
}
