/*
 * Interfaces and their queues. An interface (struct netif) is the
 * machine's side of one Ethernet wire: a MAC, an IPv4 address in a
 * subnet, perhaps a gateway, an IPv6 link-local address made from the MAC
 * and perhaps a global one and a gateway, and what the wire's protocols
 * keep (ARP and ND neighbours, fragments), all in the arena. A queue (struct netif_queue)
 * is one process's door to it: a TAP queue read by a kernel thread of the
 * CPU that opened it, or, in tests, a hook that captures what is sent.
 *
 * The receive thread waits on a persistent edge-triggered watch (kwatch:
 * no system call per wait, where kthread_wait_fd re-arms a one-shot watch
 * each time), drains the queue until the host says EAGAIN, yields every
 * NETIF_BURST frames so other threads of its CPU get their turn, and runs
 * the interface's timers every NETIF_TICK_MS. It announces the address
 * (gratuitous ARP, unsolicited NA) as it starts and once more
 * NETIF_ANNOUNCE_MS later.
 *
 * Offloads: the first TAP queue opened for an interface asks the host for
 * virtio-net headers with checksum offload and TSO (unless the interface
 * was made with them off) and falls back to plain frames when refused; the
 * answer is the interface's (netif.offload), and every later queue of any
 * process opens the same way, for the host keeps one set of flags per
 * device. A queue with headers reads each frame in pieces (rx_read_vnet):
 * the header, a slab buffer -- a frame of the MTU costs what it did without
 * offloads -- and for the rest of a segment of many MSS a spare 64 KiB
 * buffer it is read into in place, then the queue's own 64 KiB.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "uml/host.h"
#include "inet_internal.h"

#define NETIF_BURST	     32
#define NETIF_TICK_MS	     100
#define NETIF_RX_STACK_ORDER 4
/* RFC 5227's ANNOUNCE_NUM and ANNOUNCE_INTERVAL: the host's side may come up after us. */
#define NETIF_ANNOUNCES	  2
#define NETIF_ANNOUNCE_MS 2000
/* A queue's room past the slab buffer: a whole datagram of 64 KiB, and a byte to see more. */
#define NETIF_SMALL (INET_PKB_CAP - INET_HEADROOM)
#define NETIF_BIG   (ETH_HLEN + IPV4_MAX_LEN + 1 - NETIF_SMALL)
/* The spare for coalesced segments: one 64 KiB kmalloc block whole (pkb.c). */
#define NETIF_BIGP (65536 - sizeof(struct pkb))

/* This process's queue for each interface: where its frames go out. */
static struct netif_queue *out_queue[INET_MAX_IFS];

/* Whether the first @bits bits of @a and @b agree. */
static bool prefix_match(const struct inet_addr *a, const struct inet_addr *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a->a, b->a, whole))
		return false;
	return !rest || ((a->a[whole] ^ b->a[whole]) & (0xff00u >> rest) & 0xff) == 0;
}

/*
 * The IPv6 part of @cfg: a global unicast address (not unspecified,
 * loopback, v4-mapped, link-local -- that one is made -- or multicast) in
 * a prefix of 1..128 bits on a link of 1280 bytes at least, and a gateway
 * that is link-local or in that prefix, only with an address to send from.
 */
static bool config6_ok(const struct netif_config *cfg, unsigned mtu)
{
	static const struct inet_addr loopback = {{[15] = 1}};
	const struct inet_addr *a = &cfg->addr6, *gw = &cfg->gateway6;

	if (ipv6_is_unspecified(a))
		return cfg->prefix6_len == 0 && ipv6_is_unspecified(gw);
	if (cfg->prefix6_len < 1 || cfg->prefix6_len > 128 || mtu < INET_MTU6_MIN ||
	    !memcmp(a, &loopback, sizeof(*a)) || inet_addr_is_v4(a) || ipv6_is_linklocal(a) ||
	    ipv6_is_multicast(a))
		return false;
	if (ipv6_is_unspecified(gw))
		return true;
	return !ipv6_is_multicast(gw) && memcmp(gw, a, sizeof(*a)) &&
	       (ipv6_is_linklocal(gw) || prefix_match(gw, a, cfg->prefix6_len));
}

bool netif_on_link6(const struct netif *nif, const struct inet_addr *a)
{
	return nif->has_addr6 && prefix_match(a, &nif->addr6, nif->prefix6_len);
}

void netif_addr6_ll(const struct netif *nif, struct inet_addr *out)
{
	*out = nif->ll6;
}

int inet_source_in(const struct inet_addr *peer, struct inet_addr *out)
{
	struct netif *nif;
	uint32_t nexthop;

	if (!inet_stack)
		return -ENETUNREACH;
	if (inet_addr_is_v4(peer)) {
		nif = netif_route(inet_addr_v4(peer), &nexthop);
		if (!nif)
			return -ENETUNREACH;
		*out = inet_addr_from_v4(nif->addr);
		return 0;
	}
	nif = ipv6_route(peer);
	if (!nif)
		return -ENETUNREACH;
	ipv6_source(nif, peer, out);
	return ipv6_is_unspecified(out) ? -ENETUNREACH : 0;
}

int netif_create(const struct netif_config *cfg, struct netif **out)
{
	struct netif *nif;
	uint32_t mask;
	unsigned mtu = cfg->mtu ? cfg->mtu : INET_MTU_MAX;
	int err = 0;

	if (!inet_stack)
		return -ENODEV;
	if (cfg->prefix_len < 1 || cfg->prefix_len > 30 || mtu < INET_MTU_MIN ||
	    mtu > INET_MTU_MAX || !cfg->name[0] ||
	    memchr(cfg->name, 0, sizeof(cfg->name)) == NULL || cfg->offload > NETIF_OFFLOAD_OFF)
		return -EINVAL;
	mask = ~0u << (32 - cfg->prefix_len);
	/* Not the subnet's own number nor its broadcast, not 0/8, 127/8, multicast or above. */
	if ((cfg->addr & ~mask) == 0 || (cfg->addr & ~mask) == ~mask || cfg->addr >> 24 == 0 ||
	    cfg->addr >> 24 == 127 || cfg->addr >> 28 >= 14)
		return -EINVAL;
	if (cfg->gateway &&
	    ((cfg->gateway & mask) != (cfg->addr & mask) || cfg->gateway == cfg->addr))
		return -EINVAL;
	if (cfg->mac[0] & 1)
		return -EINVAL; /* a multicast MAC can't be a station's */
	if (!config6_ok(cfg, mtu))
		return -EINVAL;
	nif = kzalloc(sizeof(*nif));
	if (!nif)
		return -ENOMEM;
	memcpy(nif->name, cfg->name, sizeof(nif->name));
	memcpy(nif->mac, cfg->mac, INET_ETH_ALEN);
	if (!memcmp(nif->mac, "\0\0\0\0\0\0", INET_ETH_ALEN)) {
		host_random(nif->mac, INET_ETH_ALEN);
		nif->mac[0] = (uint8_t)((nif->mac[0] & 0xfc) | 0x02); /* local, unicast */
	}
	nif->addr = cfg->addr;
	nif->mask = mask;
	nif->gateway = cfg->gateway;
	nif->mtu = mtu;
	/* RFC 8200 5: a link below 1280 bytes carries no IPv6. */
	nif->has6 = mtu >= INET_MTU6_MIN;
	/* fe80::/64 and the modified EUI-64 of the MAC: its U/L bit inverted (RFC 4291 2.5.1). */
	nif->ll6.a[0] = 0xfe;
	nif->ll6.a[1] = 0x80;
	nif->ll6.a[8] = nif->mac[0] ^ 0x02;
	nif->ll6.a[9] = nif->mac[1];
	nif->ll6.a[10] = nif->mac[2];
	nif->ll6.a[11] = 0xff;
	nif->ll6.a[12] = 0xfe;
	memcpy(nif->ll6.a + 13, nif->mac + 3, 3);
	nif->has_addr6 = !ipv6_is_unspecified(&cfg->addr6);
	nif->addr6 = cfg->addr6;
	nif->prefix6_len = (uint8_t)cfg->prefix6_len;
	nif->gateway6 = cfg->gateway6;
	nif->offload = cfg->offload == NETIF_OFFLOAD_OFF ? NETIF_VNET_OFF : NETIF_VNET_UNDECIDED;
	spin_lock_init_rank(&nif->lock, LOCK_RANK_INET);

	inet_lock();
	for (uint32_t i = 0; i < inet_stack->nifs; i++)
		if (!strcmp(inet_stack->ifs[i]->name, nif->name))
			err = -EEXIST;
	if (!err && inet_stack->nifs == INET_MAX_IFS)
		err = -ENOSPC;
	if (!err) {
		nif->index = inet_stack->nifs;
		inet_stack->ifs[inet_stack->nifs++] = nif;
	}
	spin_unlock(&inet_stack->lock);
	if (err) {
		kfree(nif);
		return err;
	}
	if (out)
		*out = nif;
	return 0;
}

void netif_lock(struct netif *nif)
{
	struct pkb_queue drop = {0};

	if (likely(!spin_lock(&nif->lock)))
		return;
	neigh_flush_locked(&nif->arp, &drop);
	neigh_flush_locked(&nif->nd, &drop);
	inet_reass_flush_locked(nif, &drop);
	inet_fault_flush_locked(nif, &drop);
	netif_count(&nif->stats.rx_drops, drop.n);
	pkb_free_list(drop.head);
	inet_count(INET_MIB_LOCK_TAKEOVERS);
	host_log("inet: took %s's lock over from a dead holder: neighbours and fragments dropped",
		 nif->name);
}

/* The table only grows, and an entry is whole before nifs counts it. */
struct netif *netif_find(const char *name)
{
	if (!inet_stack)
		return NULL;
	for (uint32_t i = 0; i < atomic_load((_Atomic uint32_t *)&inet_stack->nifs); i++)
		if (!strncmp(inet_stack->ifs[i]->name, name, sizeof(inet_stack->ifs[i]->name)))
			return inet_stack->ifs[i];
	return NULL;
}

unsigned netif_index(const struct netif *nif)
{
	uint32_t n = atomic_load((_Atomic uint32_t *)&inet_stack->nifs);

	for (uint32_t i = 0; i < n; i++)
		if (inet_stack->ifs[i] == nif)
			return i + 1;
	return 0;
}

struct netif *netif_route(uint32_t daddr, uint32_t *nexthop)
{
	uint32_t n = atomic_load((_Atomic uint32_t *)&inet_stack->nifs);

	for (uint32_t i = 0; i < n; i++) {
		struct netif *nif = inet_stack->ifs[i];

		if ((daddr & nif->mask) == (nif->addr & nif->mask) || daddr == INET_BCAST) {
			*nexthop = daddr;
			return nif;
		}
	}
	for (uint32_t i = 0; i < n; i++)
		if (inet_stack->ifs[i]->gateway) {
			*nexthop = inet_stack->ifs[i]->gateway;
			return inet_stack->ifs[i];
		}
	return NULL;
}

struct netif *netif_by_addr(uint32_t addr)
{
	uint32_t n = atomic_load((_Atomic uint32_t *)&inet_stack->nifs);

	for (uint32_t i = 0; i < n; i++)
		if (inet_stack->ifs[i]->addr == addr)
			return inet_stack->ifs[i];
	return NULL;
}

bool netif_is_local(const struct netif *nif, uint32_t addr, bool *bcast)
{
	*bcast = addr == INET_BCAST || addr == (nif->addr | ~nif->mask);
	return *bcast || addr == nif->addr;
}

void netif_stats(const struct netif *nif, struct netif_stats *st)
{
	st->rx_packets = atomic_load(&nif->stats.rx_packets);
	st->rx_bytes = atomic_load(&nif->stats.rx_bytes);
	st->rx_drops = atomic_load(&nif->stats.rx_drops);
	st->rx_errors = atomic_load(&nif->stats.rx_errors);
	st->tx_packets = atomic_load(&nif->stats.tx_packets);
	st->tx_bytes = atomic_load(&nif->stats.tx_bytes);
	st->tx_drops = atomic_load(&nif->stats.tx_drops);
	st->tx_errors = atomic_load(&nif->stats.tx_errors);
	st->rx_gso = atomic_load(&nif->stats.rx_gso);
	st->tx_gso = atomic_load(&nif->stats.tx_gso);
	st->rx_csum_partial = atomic_load(&nif->stats.rx_csum_partial);
}

bool netif_offload(const struct netif *nif, int *why)
{
	bool on = atomic_load(&nif->offload) == NETIF_VNET_ON;

	if (why)
		*why = on ? 0 : nif->offload_err;
	return on;
}

bool netif_offloads_to(const struct inet_addr *daddr)
{
	uint32_t nexthop;
	struct netif *nif =
	    inet_addr_is_v4(daddr) ? netif_route(inet_addr_v4(daddr), &nexthop) : ipv6_route(daddr);

	return nif && atomic_load(&nif->offload) == NETIF_VNET_ON;
}

void netif_mac(const struct netif *nif, uint8_t mac[INET_ETH_ALEN])
{
	memcpy(mac, nif->mac, INET_ETH_ALEN);
}

void netif_xmit(struct netif *nif, struct pkb *p)
{
	struct netif_queue *q = out_queue[nif->index];
	int err;

	/* Only an interface with offloads makes frames that need them; its queues have them. */
	assert(!q || q->vnet || (!p->csum_start && !p->gso_size));
	if (!q) {
		err = -ENETDOWN;
	} else if (q->xmit && q->vnet) {
		struct vnet_hdr h;
		uint8_t *hb;

		netif_vnet_tx(p, &h);
		hb = pkb_push(p, VNET_HLEN);
		if (hb)
			netif_vnet_put(hb, &h);
		err = hb ? q->xmit(q->arg, hb, p->len) : -ENOBUFS;
		if (!err && p->gso_size)
			netif_count(&nif->stats.tx_gso, 1);
	} else if (q->xmit) {
		err = q->xmit(q->arg, pkb_data(p), p->len);
	} else if (q->vnet) {
		uint8_t hb[VNET_HLEN];
		struct vnet_hdr h;
		struct iovec iov[2] = {{hb, VNET_HLEN}, {pkb_data(p), p->len}};
		ssize_t n;

		netif_vnet_tx(p, &h);
		netif_vnet_put(hb, &h);
		n = host_tap_writev(q->fd, iov, 2);
		err = n < 0 ? (int)n : 0;
		if (!err && p->gso_size)
			netif_count(&nif->stats.tx_gso, 1);
	} else {
		ssize_t n = host_tap_write(q->fd, pkb_data(p), p->len);

		err = n < 0 ? (int)n : 0;
	}
	if (err == 0) {
		netif_count(&nif->stats.tx_packets, 1);
		netif_count(&nif->stats.tx_bytes, p->len);
	} else if (err == -EAGAIN) {
		netif_count(&nif->stats.tx_drops, 1);
	} else {
		netif_count(&nif->stats.tx_errors, 1);
	}
	pkb_free(p);
}

static void input_one(struct netif *nif, struct pkb *p)
{
	struct pkb_queue now = {0};

	netif_count(&nif->stats.rx_packets, 1);
	netif_count(&nif->stats.rx_bytes, p->len);
	p->ifindex = (uint8_t)netif_index(nif);
	if (nif->fault.on) {
		inet_fault_input(nif, p, &now);
		while ((p = pkb_queue_take(&now)))
			ether_input(nif, p);
		return;
	}
	ether_input(nif, p);
}

void netif_input(struct netif_queue *q, const void *frame, size_t len)
{
	struct pkb *p;

	if (len > INET_PKB_CAP - INET_HEADROOM) {
		netif_count(&q->nif->stats.rx_errors, 1);
		return;
	}
	p = pkb_alloc(INET_PKB_CAP);
	if (!p) {
		netif_count(&q->nif->stats.rx_drops, 1);
		return;
	}
	p->off = INET_HEADROOM;
	p->len = (uint32_t)len;
	memcpy(pkb_data(p), frame, len);
	input_one(q->nif, p);
}

/* A frame behind virtio-net header @hb: checked, counted, and up (consumes @p). */
static void input_vnet(struct netif *nif, struct pkb *p, const uint8_t hb[VNET_HLEN])
{
	struct vnet_hdr h;
	bool gso;
	int err;

	netif_vnet_get(&h, hb);
	err = netif_vnet_rx(p, &h, &gso);
	if (!err && !gso && p->len >= NETIF_SMALL)
		err = -EPROTO; /* past the MTU, and not a segment the host coalesced */
	if (err) {
		netif_count(err == -EPROTONOSUPPORT ? &nif->stats.rx_drops : &nif->stats.rx_errors,
			    1);
		pkb_free(p);
		return;
	}
	if (gso)
		netif_count(&nif->stats.rx_gso, 1);
	if (p->csum_ok)
		netif_count(&nif->stats.rx_csum_partial, 1);
	input_one(nif, p);
}

void netif_input_vnet(struct netif_queue *q, const void *buf, size_t len)
{
	struct pkb *p;

	if (len < VNET_HLEN || len - VNET_HLEN > ETH_HLEN + IPV4_MAX_LEN) {
		netif_count(&q->nif->stats.rx_errors, 1);
		return;
	}
	p = pkb_alloc(INET_HEADROOM + len - VNET_HLEN);
	if (!p) {
		netif_count(&q->nif->stats.rx_drops, 1);
		return;
	}
	p->off = INET_HEADROOM;
	p->len = (uint32_t)(len - VNET_HLEN);
	memcpy(pkb_data(p), (const uint8_t *)buf + VNET_HLEN, p->len);
	input_vnet(q->nif, p, buf);
}

void netif_tick(struct netif *nif)
{
	uint64_t now = inet_now_ms();
	struct pkb_queue due = {0};
	struct pkb *p;

	arp_tick(nif, now);
	nd_tick(nif, now);
	inet_reass_tick(nif, now);
	tcp_tick(now);
	if (nif->fault.on || nif->fault.delayed.n) {
		inet_fault_tick(nif, now, &due);
		while ((p = pkb_queue_take(&due)))
			ether_input(nif, p);
	}
}

int netif_announce(struct netif *nif)
{
	int err = arp_announce(nif);

	nd_announce(nif);
	return err;
}

void netif_fault_set(struct netif *nif, const struct inet_fault_config *cfg)
{
	inet_fault_flush(nif);
	netif_lock(nif);
	if (cfg) {
		nif->fault.cfg = *cfg;
		/* A zero state would stay zero: xorshift needs a bit set. */
		nif->fault.rng = cfg->seed ? cfg->seed : 0x9e3779b97f4a7c15ull;
	}
	nif->fault.on = cfg != NULL;
	spin_unlock(&nif->lock);
}

static int queue_new(struct netif *nif, int fd, bool vnet, struct netif_queue **out)
{
	struct netif_queue *q = host_map_private(sizeof(*q));

	if (!q)
		return -ENOMEM;
	memset(q, 0, sizeof(*q));
	if (vnet && !(q->big = host_map_private(NETIF_BIG))) {
		host_unmap(q, sizeof(*q));
		return -ENOMEM;
	}
	q->nif = nif;
	q->fd = fd;
	q->vnet = vnet;
	out_queue[nif->index] = q;
	*out = q;
	return 0;
}

/* Settle @nif's offloads at @mode unless settled: whether they are @mode now. */
static bool offload_settle(struct netif *nif, uint32_t mode)
{
	uint32_t was = NETIF_VNET_UNDECIDED;

	return atomic_compare_exchange_strong(&nif->offload, &was, mode) || was == mode;
}

int netif_queue_open_tap(struct netif *nif, struct netif_queue **out)
{
	uint32_t mode = atomic_load(&nif->offload);
	int fd = -1, err;
	bool vnet = false;

	if (mode != NETIF_VNET_OFF) {
		fd = host_tap_open(nif->name, HOST_TAP_VNET, NULL);
		if (fd >= 0) {
			vnet = offload_settle(nif, NETIF_VNET_ON);
			if (!vnet) {
				host_close(fd); /* another process settled on plain meanwhile */
				fd = -1;
			}
		} else if (mode == NETIF_VNET_ON) {
			return fd; /* the device's other queues have offloads: this one must */
		} else {
			nif->offload_err = fd;
		}
	}
	if (!vnet) {
		fd = host_tap_open(nif->name, 0, NULL);
		if (fd < 0)
			return fd;
		if (!offload_settle(nif, NETIF_VNET_OFF)) {
			host_close(fd);
			return -EBUSY;
		}
	}
	err = queue_new(nif, fd, vnet, out);
	if (err)
		host_close(fd);
	return err;
}

static int open_hook(struct netif *nif, bool vnet,
		     int (*xmit)(void *arg, const void *frame, size_t len), void *arg,
		     struct netif_queue **out)
{
	int err;

	/* A plain hook takes no frame that leaves its checksum or its cutting to a host. */
	if (!offload_settle(nif, vnet ? NETIF_VNET_ON : NETIF_VNET_OFF))
		return -EBUSY;
	err = queue_new(nif, -1, false, out);
	if (!err)
		(*out)->vnet = vnet;

	if (!err) {
		(*out)->xmit = xmit;
		(*out)->arg = arg;
	}
	return err;
}

int netif_queue_open_hook(struct netif *nif, int (*xmit)(void *arg, const void *frame, size_t len),
			  void *arg, struct netif_queue **out)
{
	return open_hook(nif, false, xmit, arg, out);
}

int netif_queue_open_hook_vnet(struct netif *nif,
			       int (*xmit)(void *arg, const void *frame, size_t len), void *arg,
			       struct netif_queue **out)
{
	return open_hook(nif, true, xmit, arg, out);
}

/*
 * One frame of a queue with headers into @p (its slab buffer), then the
 * spare 64 KiB buffer past the slab buffer's share (q->bigp: no headroom,
 * which no coalesced TCP segment needs), then q->big: the frame's length,
 * with @p, the big spare (its head copied in from @p) or, past both or
 * without the spare, a buffer of its size in *@in (its offset set, and @p
 * left to be the spare), or a host_tap_readv error. The big spare is had
 * once the queue meets a segment of many MSS, and kept while they come: a
 * tick without one gives it back (rx_thread), so a queue between bulk
 * transfers (an idle httpd child's) holds none of the budget.
 */
static ssize_t rx_read_vnet(struct netif_queue *q, struct pkb *p, uint8_t hb[VNET_HLEN],
			    struct pkb **in)
{
	struct pkb *big = q->bigp, *b;
	size_t room = big ? big->cap - NETIF_SMALL : 0;
	struct iovec iov[4] = {{hb, VNET_HLEN},
			       {p->data + INET_HEADROOM, NETIF_SMALL},
			       {big ? big->data + NETIF_SMALL : NULL, room},
			       {q->big, NETIF_BIG}};
	ssize_t n = host_tap_readv(q->fd, iov, 4);

	*in = NULL;
	if (n < 0)
		return n;
	if (n < VNET_HLEN || n - VNET_HLEN > ETH_HLEN + IPV4_MAX_LEN)
		return -EMSGSIZE;
	n -= VNET_HLEN;
	if (n <= NETIF_SMALL) {
		p->off = INET_HEADROOM;
		*in = p;
		return n;
	}
	if ((size_t)n <= NETIF_SMALL + room) {
		memcpy(big->data, p->data + INET_HEADROOM, NETIF_SMALL);
		big->off = 0;
		*in = big;
		q->bigp = pkb_alloc(NETIF_BIGP);
		q->big_seen = true;
		return n;
	}
	b = pkb_alloc(INET_HEADROOM + (size_t)n);
	if (!b)
		return -ENOBUFS;
	memcpy(b->data + INET_HEADROOM, p->data + INET_HEADROOM, NETIF_SMALL);
	if (room)
		memcpy(b->data + INET_HEADROOM + NETIF_SMALL, big->data + NETIF_SMALL, room);
	memcpy(b->data + INET_HEADROOM + NETIF_SMALL + room, q->big,
	       (size_t)n - NETIF_SMALL - room);
	b->off = INET_HEADROOM;
	*in = b;
	/* Segments of many MSS come in runs: the next is read in place. */
	if (!big)
		q->bigp = pkb_alloc(NETIF_BIGP);
	q->big_seen = true;
	return n;
}

/* Read frames until the host has none (or the burst is spent): 1 if more may wait. */
static int rx_drain(struct netif_queue *q)
{
	for (int i = 0; i < NETIF_BURST; i++) {
		struct pkb *p = q->spare ? q->spare : pkb_alloc(INET_PKB_CAP);
		uint8_t hb[VNET_HLEN];
		struct pkb *in;
		ssize_t n;

		q->spare = NULL;
		if (!p) {
			/* No buffer: read the frame into nothing, or it blocks the queue. */
			uint8_t sink[64];

			n = host_tap_read(q->fd, sink, sizeof(sink));
			if (n == -EAGAIN)
				return 0;
			netif_count(&q->nif->stats.rx_drops, 1);
			continue;
		}
		if (q->vnet) {
			n = rx_read_vnet(q, p, hb, &in);
			if (n >= 0) {
				in->len = (uint32_t)n;
				if (in != p)
					q->spare = p;
				input_vnet(q->nif, in, hb);
				continue;
			}
			if (n == -ENOBUFS || n == -EMSGSIZE) {
				netif_count(n == -ENOBUFS ? &q->nif->stats.rx_drops
							  : &q->nif->stats.rx_errors,
					    1);
				q->spare = p;
				continue;
			}
		} else {
			n = host_tap_read(q->fd, p->data + INET_HEADROOM, p->cap - INET_HEADROOM);
		}
		if (n == -EAGAIN) {
			q->spare = p;
			return 0;
		}
		if (n < 0 || (size_t)n >= p->cap - INET_HEADROOM) {
			netif_count(&q->nif->stats.rx_errors, 1);
			q->spare = p;
			if (n == -EIO || (n < 0 && n != -EFAULT && n != -EINVAL))
				return 0; /* the device is down: wait for it */
			continue;
		}
		p->off = INET_HEADROOM;
		p->len = (uint32_t)n;
		input_one(q->nif, p);
	}
	return 1;
}

static int rx_thread(void *arg)
{
	struct netif_queue *q = arg;
	struct kwatch w;
	uint64_t next_tick = inet_now_ms() + NETIF_TICK_MS;
	uint64_t next_announce = inet_now_ms() + NETIF_ANNOUNCE_MS;
	int announces = NETIF_ANNOUNCES - 1;
	int err = kwatch_add(&w, q->fd, HOST_POLLIN);

	if (err)
		goto out;
	netif_announce(q->nif);
	while (!q->stop) {
		uint64_t now;

		if (rx_drain(q)) {
			kthread_yield();
		} else {
			/* TCP's timers (delayed ACKs: 40 ms) are finer than the tick. */
			uint64_t wake = MIN(next_tick, tcp_next_timer());

			now = inet_now_ms();
			if (kwatch_wait(&w, wake > now ? (int)MIN(wake - now, NETIF_TICK_MS) : 0) ==
			    -EINTR)
				break;
		}
		now = inet_now_ms();
		if (now >= next_tick) {
			netif_tick(q->nif);
			next_tick = now + NETIF_TICK_MS;
			if (!q->big_seen) {
				pkb_free(q->bigp);
				q->bigp = NULL;
			}
			q->big_seen = false;
		} else if (now >= tcp_next_timer()) {
			tcp_tick(now);
		}
		if (announces && now >= next_announce) {
			netif_announce(q->nif);
			announces--;
			next_announce = now + NETIF_ANNOUNCE_MS;
		}
	}
	kwatch_del(&w);
out:
	return err;
}

int netif_queue_start(struct netif_queue *q)
{
	if (q->fd < 0 || q->rx)
		return -EINVAL;
	return kthread_create_stack(&q->rx, "inet-rx", SCHED_PRIO_DEFAULT, NETIF_RX_STACK_ORDER,
				    rx_thread, q);
}

void netif_queue_close(struct netif_queue *q)
{
	if (q->rx) {
		q->stop = 1;
		kthread_interrupt(q->rx);
		kthread_join(q->rx, NULL);
	}
	if (out_queue[q->nif->index] == q)
		out_queue[q->nif->index] = NULL;
	pkb_free(q->spare);
	pkb_free(q->bigp);
	if (q->big)
		host_unmap(q->big, NETIF_BIG);
	if (q->fd >= 0)
		host_close(q->fd);
	host_unmap(q, sizeof(*q));
}
