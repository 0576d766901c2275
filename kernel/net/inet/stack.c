/*
 * The stack as a whole: made once per machine in the arena (a named root,
 * "inet", so every process of the machine finds it), its caches, budget
 * and counters, and the clock its timers read.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "uml/host.h"
#include "uml/machine.h"
#include "uml/mm.h"
#include "tcp.h"

#define PID_LIMIT (1u << 22) /* Linux's PID_MAX_LIMIT: a larger owner is no pid */

struct inet *inet_stack;

const char *const inet_mib_names[INET_MIB_COUNT] = {
    [INET_MIB_ETH_IN_DROPS] = "eth_in_drops",
    [INET_MIB_ETH_IN_ERRORS] = "eth_in_errors",
    [INET_MIB_ARP_IN] = "arp_in",
    [INET_MIB_ARP_IN_ERRORS] = "arp_in_errors",
    [INET_MIB_ARP_CONFLICTS] = "arp_conflicts",
    [INET_MIB_ARP_OUT_REQUESTS] = "arp_out_requests",
    [INET_MIB_ARP_OUT_REPLIES] = "arp_out_replies",
    [INET_MIB_ARP_FAILED] = "arp_failed",
    [INET_MIB_ARP_PENDING_DROPS] = "arp_pending_drops",
    [INET_MIB_ARP_EVICTIONS] = "arp_evictions",
    [INET_MIB_IP_IN] = "ip_in",
    [INET_MIB_IP_IN_HDR_ERRORS] = "ip_in_hdr_errors",
    [INET_MIB_IP_IN_ADDR_ERRORS] = "ip_in_addr_errors",
    [INET_MIB_IP_IN_UNKNOWN_PROTO] = "ip_in_unknown_proto",
    [INET_MIB_IP_IN_DELIVERS] = "ip_in_delivers",
    [INET_MIB_IP_OUT_REQUESTS] = "ip_out_requests",
    [INET_MIB_IP_OUT_NO_ROUTES] = "ip_out_no_routes",
    [INET_MIB_IP_OUT_DISCARDS] = "ip_out_discards",
    [INET_MIB_IP_REASM_REQDS] = "ip_reasm_reqds",
    [INET_MIB_IP_REASM_OKS] = "ip_reasm_oks",
    [INET_MIB_IP_REASM_FAILS] = "ip_reasm_fails",
    [INET_MIB_IP_REASM_OVERLAPS] = "ip_reasm_overlaps",
    [INET_MIB_IP_REASM_DUPLICATES] = "ip_reasm_duplicates",
    [INET_MIB_IP_REASM_TIMEOUTS] = "ip_reasm_timeouts",
    [INET_MIB_IP_FRAG_OKS] = "ip_frag_oks",
    [INET_MIB_IP_FRAG_CREATES] = "ip_frag_creates",
    [INET_MIB_ICMP_IN] = "icmp_in",
    [INET_MIB_ICMP_IN_ERRORS] = "icmp_in_errors",
    [INET_MIB_ICMP_IN_ECHOS] = "icmp_in_echos",
    [INET_MIB_ICMP_IN_FRAG_NEEDED] = "icmp_in_frag_needed",
    [INET_MIB_ICMP_OUT] = "icmp_out",
    [INET_MIB_ICMP_OUT_RATELIMITED] = "icmp_out_ratelimited",
    [INET_MIB_UDP_IN] = "udp_in",
    [INET_MIB_UDP_IN_ERRORS] = "udp_in_errors",
    [INET_MIB_UDP_NO_PORTS] = "udp_no_ports",
    [INET_MIB_UDP_RCVBUF_ERRORS] = "udp_rcvbuf_errors",
    [INET_MIB_UDP_OUT] = "udp_out",
    [INET_MIB_TCP_ACTIVE_OPENS] = "tcp_active_opens",
    [INET_MIB_TCP_PASSIVE_OPENS] = "tcp_passive_opens",
    [INET_MIB_TCP_ATTEMPT_FAILS] = "tcp_attempt_fails",
    [INET_MIB_TCP_ESTAB_RESETS] = "tcp_estab_resets",
    [INET_MIB_TCP_IN_SEGS] = "tcp_in_segs",
    [INET_MIB_TCP_OUT_SEGS] = "tcp_out_segs",
    [INET_MIB_TCP_RETRANS_SEGS] = "tcp_retrans_segs",
    [INET_MIB_TCP_IN_ERRS] = "tcp_in_errs",
    [INET_MIB_TCP_OUT_RSTS] = "tcp_out_rsts",
    [INET_MIB_TCP_COOKIES_SENT] = "tcp_cookies_sent",
    [INET_MIB_TCP_COOKIES_OK] = "tcp_cookies_ok",
    [INET_MIB_TCP_COOKIES_BAD] = "tcp_cookies_bad",
    [INET_MIB_TCP_CHALLENGE_ACKS] = "tcp_challenge_acks",
    [INET_MIB_TCP_PAWS_DROPS] = "tcp_paws_drops",
    [INET_MIB_TCP_OOO_DROPS] = "tcp_ooo_drops",
    [INET_MIB_TCP_RCVQ_DROPS] = "tcp_rcvq_drops",
    [INET_MIB_TCP_LISTEN_DROPS] = "tcp_listen_drops",
    [INET_MIB_TCP_MEM_FAILS] = "tcp_mem_fails",
    [INET_MIB_TCP_FAST_RETRANS] = "tcp_fast_retrans",
    [INET_MIB_TCP_TIMEOUTS] = "tcp_timeouts",
    [INET_MIB_TCP_TW_EVICTIONS] = "tcp_tw_evictions",
    [INET_MIB_MEM_FAILS] = "mem_fails",
    [INET_MIB_FAULT_DROPS] = "fault_drops",
    [INET_MIB_FAULT_DUPS] = "fault_dups",
    [INET_MIB_FAULT_REORDERS] = "fault_reorders",
    [INET_MIB_FAULT_CORRUPTS] = "fault_corrupts",
    [INET_MIB_FAULT_DELAYS] = "fault_delays",
    [INET_MIB_LOCK_TAKEOVERS] = "lock_takeovers",
    [INET_MIB_REAPED_SOCKETS] = "reaped_sockets",
    [INET_MIB_REAPED_BUFFERS] = "reaped_buffers",
    [INET_MIB_TCP_LOSS_PROBES] = "tcp_loss_probes",
    [INET_MIB_TCP_SPURIOUS_RTOS] = "tcp_spurious_rtos",
    [INET_MIB_TCP_SPURIOUS_FAST_RETRANS] = "tcp_spurious_fast_retrans",
    [INET_MIB_TCP_PMTU_DROPS] = "tcp_pmtu_drops",
    [INET_MIB_IP6_IN] = "ip6_in",
    [INET_MIB_IP6_IN_HDR_ERRORS] = "ip6_in_hdr_errors",
    [INET_MIB_IP6_IN_ADDR_ERRORS] = "ip6_in_addr_errors",
    [INET_MIB_IP6_IN_UNKNOWN_PROTO] = "ip6_in_unknown_proto",
    [INET_MIB_IP6_IN_DELIVERS] = "ip6_in_delivers",
    [INET_MIB_IP6_REASM_REQDS] = "ip6_reasm_reqds",
    [INET_MIB_IP6_REASM_OKS] = "ip6_reasm_oks",
    [INET_MIB_IP6_REASM_FAILS] = "ip6_reasm_fails",
    [INET_MIB_IP6_REASM_OVERLAPS] = "ip6_reasm_overlaps",
    [INET_MIB_IP6_REASM_DUPLICATES] = "ip6_reasm_duplicates",
    [INET_MIB_IP6_REASM_TIMEOUTS] = "ip6_reasm_timeouts",
    [INET_MIB_IP6_OUT_REQUESTS] = "ip6_out_requests",
    [INET_MIB_IP6_OUT_NO_ROUTES] = "ip6_out_no_routes",
    [INET_MIB_IP6_OUT_DISCARDS] = "ip6_out_discards",
    [INET_MIB_IP6_FRAG_OKS] = "ip6_frag_oks",
    [INET_MIB_IP6_FRAG_CREATES] = "ip6_frag_creates",
    [INET_MIB_IP6_FRAG_FAILS] = "ip6_frag_fails",
    [INET_MIB_ICMP6_IN] = "icmp6_in",
    [INET_MIB_ICMP6_IN_ERRORS] = "icmp6_in_errors",
    [INET_MIB_ICMP6_IN_ECHOS] = "icmp6_in_echos",
    [INET_MIB_ICMP6_IN_PKT_TOO_BIG] = "icmp6_in_pkt_too_big",
    [INET_MIB_ICMP6_OUT] = "icmp6_out",
    [INET_MIB_ND_IN_ERRORS] = "nd_in_errors",
    [INET_MIB_ND_IN_SOLICITS] = "nd_in_solicits",
    [INET_MIB_ND_IN_ADVERTS] = "nd_in_adverts",
    [INET_MIB_ND_OUT_SOLICITS] = "nd_out_solicits",
    [INET_MIB_ND_OUT_ADVERTS] = "nd_out_adverts",
    [INET_MIB_ND_DAD_FAILS] = "nd_dad_fails",
    [INET_MIB_ND_CONFLICTS] = "nd_conflicts",
    [INET_MIB_ND_FAILED] = "nd_failed",
    [INET_MIB_ND_EVICTIONS] = "nd_evictions",
    [INET_MIB_ICMP_IN_CSUM_ERRORS] = "icmp_in_csum_errors",
    [INET_MIB_UDP_IN_CSUM_ERRORS] = "udp_in_csum_errors",
    [INET_MIB_TCP_IN_CSUM_ERRORS] = "tcp_in_csum_errors",
    [INET_MIB_ICMP6_IN_CSUM_ERRORS] = "icmp6_in_csum_errors",
    [INET_MIB_TCP_TW_ENDED] = "tcp_tw_ended",
    [INET_MIB_TCP_DELAYED_ACKS] = "tcp_delayed_acks",
    [INET_MIB_TCP_SACK_RECOVERY] = "tcp_sack_recovery",
    [INET_MIB_TCP_RENO_RECOVERY] = "tcp_reno_recovery",
    [INET_MIB_TCP_SACK_REORDER] = "tcp_sack_reorder",
    [INET_MIB_TCP_LOST_RETRANSMIT] = "tcp_lost_retransmit",
    [INET_MIB_TCP_LOSS_PROBE_RECOVERY] = "tcp_loss_probe_recovery",
    [INET_MIB_TCP_DSACK_RECV] = "tcp_dsack_recv",
    [INET_MIB_TCP_OFO_QUEUE] = "tcp_ofo_queue",
    [INET_MIB_TCP_ABORT_ON_DATA] = "tcp_abort_on_data",
    [INET_MIB_TCP_ABORT_ON_CLOSE] = "tcp_abort_on_close",
    [INET_MIB_TCP_ABORT_ON_TIMEOUT] = "tcp_abort_on_timeout",
    [INET_MIB_TCP_RCV_COALESCE] = "tcp_rcv_coalesce",
};

static uint64_t (*clock_hook)(void);

void inet_clock_set(uint64_t (*now_ms)(void))
{
	clock_hook = now_ms;
}

uint64_t inet_now_ms(void)
{
	return clock_hook ? clock_hook() : host_mono_ns() / 1000000u;
}

int inet_init(size_t mem_max)
{
	struct inet *s;
	int err = -ENOMEM;

	if (!machine)
		return -ENODEV;
	s = machine_root_get("inet");
	if (s) {
		inet_stack = s;
		return 0;
	}
	s = kzalloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	spin_lock_init_rank(&s->lock, LOCK_RANK_INET);
	s->mem_max = mem_max ? mem_max : INET_MEM_DEFAULT;
	s->icmp_tokens = INET_ICMP_BURST;
	s->pkb_cache = kmem_cache_create("inet_pkb", sizeof(struct pkb) + INET_PKB_CAP, 64);
	s->neigh_cache = kmem_cache_create("inet_neigh", 128, 0);
	s->reass_cache = kmem_cache_create("inet_reass", INET_REASS_OBJ, 0);
	s->udp_cache = kmem_cache_create("inet_udp", 128, 0);
	s->tcp_cache = kmem_cache_create("inet_tcp", sizeof(struct tcp_sock), 0);
	spin_lock_init_rank(&s->tcp_lock, LOCK_RANK_INET);
	s->tcp_challenge_tokens = TCP_CHALLENGE_RATE;
	atomic_store(&s->tcp_next_ms, UINT64_MAX);
	host_random(s->tcp_secret, sizeof(s->tcp_secret));
	if (!s->pkb_cache || !s->neigh_cache || !s->reass_cache || !s->udp_cache || !s->tcp_cache)
		goto out_free;
	{
		uint16_t r;

		host_random(&r, sizeof(r));
		s->next_port = (uint16_t)(49152 + r % 16384);
		host_random(&r, sizeof(r));
		atomic_store(&s->ip_id, r);
		host_random(&r, sizeof(r));
		s->tcp_next_port = (uint16_t)(49152 + r % 16384);
	}
	err = machine_root_set("inet", s);
	if (err)
		goto out_free;
	inet_stack = s;
	return 0;

out_free:
	if (s->pkb_cache)
		kmem_cache_destroy(s->pkb_cache);
	if (s->neigh_cache)
		kmem_cache_destroy(s->neigh_cache);
	if (s->reass_cache)
		kmem_cache_destroy(s->reass_cache);
	if (s->udp_cache)
		kmem_cache_destroy(s->udp_cache);
	if (s->tcp_cache)
		kmem_cache_destroy(s->tcp_cache);
	kfree(s);
	return err;
}

void inet_lock(void)
{
	unsigned strays;

	if (likely(!spin_lock(&inet_stack->lock)))
		return;
	/* Its tables change by single links; only a socket made or freed half way is left. */
	strays = udp_repair_locked();
	inet_count(INET_MIB_LOCK_TAKEOVERS);
	host_log("inet: took inet.lock over from a dead holder: %u UDP sockets given back", strays);
}

/* --- inet_reap --- */

/* inet_reap's work: who holds something, who of them died, what they were charged. */
struct reap {
	struct inet_pids cand, dead;
	uint32_t self;
	uint64_t bytes; /* what the buffers owned_by_dead said yes to were charged */
};

static void pids_add(struct reap *r, uint32_t pid)
{
	if (pid == 0 || pid == r->self || pid >= PID_LIMIT || r->cand.n == INET_REAP_PIDS ||
	    inet_pids_has(&r->cand, pid))
		return;
	r->cand.pid[r->cand.n++] = pid;
}

static void note_pid(void *arg, uint32_t pid)
{
	pids_add(arg, pid);
}

/*
 * A frame buffer as pkb_alloc made it. An object the allocator lost when a
 * thread died in it (a free list cut by the repair) is handed out to nobody
 * and holds whatever its memory last held: it must not name a pid, nor be
 * uncharged, on the strength of that.
 */
static bool pkb_plausible(const struct pkb *p)
{
	return p->cap == INET_PKB_CAP && p->truesize == inet_stack->pkb_cache->size;
}

/* kmem_cache_reclaim_if's walk, used to list the owners of buffers held now. */
static bool note_owner(void *obj, void *arg)
{
	if (pkb_plausible(obj))
		pids_add(arg, ((const struct pkb *)obj)->owner);
	return false;
}

static bool owned_by_dead(void *obj, void *arg)
{
	struct pkb *p = obj;
	struct reap *r = arg;

	if (!inet_pids_has(&r->dead, p->owner))
		return false;
	if (pkb_plausible(p))
		r->bytes += p->truesize;
	/* Freed now: not the dead's, nor charged, should the allocator lose it again. */
	p->owner = 0;
	p->truesize = 0;
	return true;
}

int inet_reap(void)
{
	struct reap r = {.self = host_pid()};
	unsigned closed, freed, sets;

	/* A process that never used the stack may still reap those that did. */
	if (!inet_stack && (!machine || !(inet_stack = machine_root_get("inet"))))
		return 0;
	/* Who holds something: sockets' openers, and the owners of buffers handed out. */
	udp_owners(note_pid, &r);
	inet_waits_owners(note_pid, &r);
	tcp_enter(NULL);
	for (struct tcp_sock *s = inet_stack->tcp_users; s; s = s->unext)
		pids_add(&r, s->owner);
	tcp_leave();
	kmem_cache_reclaim_if(inet_stack->pkb_cache, note_owner, &r);
	/* Which of them died: asked of the host, with no lock held. */
	for (unsigned i = 0; i < r.cand.n; i++)
		if (!host_task_alive(r.cand.pid[i]))
			r.dead.pid[r.dead.n++] = r.cand.pid[i];
	if (!r.dead.n)
		return 0;
	closed = tcp_reap(&r.dead) + udp_reap(&r.dead);
	sets = inet_waits_reap(&r.dead);
	for (uint32_t i = 0; i < atomic_load((_Atomic uint32_t *)&inet_stack->nifs); i++) {
		struct netif *nif = inet_stack->ifs[i];

		netif_lock(nif);
		neigh_lists_locked(&nif->arp, pkb_adopt, &r.dead);
		neigh_lists_locked(&nif->nd, pkb_adopt, &r.dead);
		inet_reass_lists_locked(nif, pkb_adopt, &r.dead);
		inet_fault_lists_locked(nif, pkb_adopt, &r.dead);
		spin_unlock(&nif->lock);
	}
	/*
	 * Every buffer a dead process owns is now one it held in hand: a buffer
	 * changes owner only when taken off a queue, and nobody living holds one
	 * without having taken it (pkb.c).
	 */
	freed = kmem_cache_reclaim_if(inet_stack->pkb_cache, owned_by_dead, &r);
	inet_mem_uncharge((uint32_t)r.bytes);
	atomic_fetch_add(&inet_stack->mib[INET_MIB_REAPED_SOCKETS], closed);
	atomic_fetch_add(&inet_stack->mib[INET_MIB_REAPED_BUFFERS], freed);
	if (closed || freed || sets)
		host_log("inet: %u dead processes: %u sockets closed, %u buffers and %u poll "
			 "sets and blocks given back",
			 r.dead.n, closed, freed, sets);
	return (int)r.dead.n;
}

uint64_t inet_mib(enum inet_mib m)
{
	return inet_stack && m < INET_MIB_COUNT ? atomic_load(&inet_stack->mib[m]) : 0;
}

void inet_mem(size_t *used, size_t *max)
{
	*used = inet_stack ? atomic_load(&inet_stack->mem_used) : 0;
	*max = inet_stack ? inet_stack->mem_max : 0;
}

size_t inet_status(char *buf, size_t size)
{
	size_t n = 0;

#define OUT(...) n += (size_t)snprintf(buf + MIN(n, size), size - MIN(n, size), __VA_ARGS__)
	if (!inet_stack)
		return 0;
	OUT("mem_used %llu\nmem_max %llu\n", (unsigned long long)atomic_load(&inet_stack->mem_used),
	    (unsigned long long)inet_stack->mem_max);
	for (int i = 0; i < INET_MIB_COUNT; i++)
		OUT("%s %llu\n", inet_mib_names[i],
		    (unsigned long long)atomic_load(&inet_stack->mib[i]));
	for (uint32_t i = 0; i < inet_stack->nifs && i < INET_MAX_IFS; i++) {
		struct netif_stats st;
		const char *name = inet_stack->ifs[i]->name;
		int why;

		netif_stats(inet_stack->ifs[i], &st);
		OUT("%s.rx_packets %llu\n%s.rx_bytes %llu\n%s.rx_drops %llu\n%s.rx_errors %llu\n",
		    name, (unsigned long long)st.rx_packets, name, (unsigned long long)st.rx_bytes,
		    name, (unsigned long long)st.rx_drops, name, (unsigned long long)st.rx_errors);
		OUT("%s.tx_packets %llu\n%s.tx_bytes %llu\n%s.tx_drops %llu\n%s.tx_errors %llu\n",
		    name, (unsigned long long)st.tx_packets, name, (unsigned long long)st.tx_bytes,
		    name, (unsigned long long)st.tx_drops, name, (unsigned long long)st.tx_errors);
		OUT("%s.rx_gso %llu\n%s.tx_gso %llu\n%s.rx_csum_partial %llu\n", name,
		    (unsigned long long)st.rx_gso, name, (unsigned long long)st.tx_gso, name,
		    (unsigned long long)st.rx_csum_partial);
		/* "vnet_hdr+tso", or "plain" and why: 0 not asked (or not yet), else the host's
		 * errno. */
		if (netif_offload(inet_stack->ifs[i], &why))
			OUT("%s.offload vnet_hdr+tso\n", name);
		else
			OUT("%s.offload plain\n%s.offload_refused %d\n", name, name, -why);
		/*
		 * Its IPv6 addresses, and each one's DAD state in the words of Linux's `ip
		 * addr` ("preferred" for none): a value is one word, as every other's.
		 */
		for (int s = 0; inet_stack->ifs[i]->has6 && s < 1 + inet_stack->ifs[i]->has_addr6;
		     s++) {
			static const char *const state[] = {
			    [NETIF_DAD_TENTATIVE] = "tentative",
			    [NETIF_DAD_PREFERRED] = "preferred",
			    [NETIF_DAD_FAILED] = "dadfailed",
			};
			const struct netif *nif = inet_stack->ifs[i];
			const char *which = s ? "global" : "link";
			char a[INET6_ADDRSTRLEN];

			inet_ntop(AF_INET6, (s ? &nif->addr6 : &nif->ll6)->a, a, sizeof(a));
			OUT("%s.inet6_%s %s/%u\n%s.inet6_%s_state %s\n", name, which, a,
			    s ? nif->prefix6_len : 64u, name, which,
			    state[atomic_load(&nif->dad[s]) % 3]);
		}
	}
#undef OUT
	return n;
}
