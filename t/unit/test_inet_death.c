/*
 * Death in the network stack (kernel/net/inet): a process killed while it
 * holds sockets, buffers or one of the stack's locks leaves nothing behind
 * that the reaper or the next holder does not take back, and the stack
 * goes on working for everyone else.
 *
 * The wire is a mirror in memory shared with the children (frames to
 * 10.0.0.9 come back with the addresses swapped, as in test_tcp), and so is
 * the virtual clock, so a child's connections go on in this process once it
 * is dead: what it sent and the timers it armed are still there.
 *
 *  1-6  a child opens a UDP socket with datagrams unread, a listener, a
 *       connection each way with data unread, and holds a buffer in hand
 *       (a receive thread's frame), then is killed: uml_reap closes its
 *       four sockets (tcp_users, udp_users) and frees the buffer; once the
 *       closes have run their course (FIN, RST, TIME-WAIT) no socket, no
 *       connection and no byte of the budget is left, the check is clean,
 *       every page is back, and a new connection carries data
 *  7-9  a child dies holding tcp_lock in the middle of changing a live
 *       connection of ours and with a socket made and not yet linked: the
 *       next caller takes the lock over, that connection is reset (its user
 *       reads -ECONNRESET), the stray socket goes back, and the stack works
 * 10-11 a child dies holding inet.lock with a UDP socket made and not yet
 *       listed, and one holding an interface's lock: the next holders give
 *       the socket back and drop the neighbour cache, and both work on
 * 12-15 (debug build) the sweep: a child doing all of 1's work is killed at
 *       its first, second, ... N-th lock instant until it gets through;
 *       after each death the reaper runs and the same must hold as in 1-6
 * 16-17 the same work in a loop, the child SIGKILLed at a random instant
 *       0.2-3 ms in, 200 times (UML_INET_KILLS; `make inet-kill` runs more,
 *       each seed its own, UML_INET_KILL_SEED): after each death no socket
 *       is left, the budget never says less than the buffers and sockets
 *       hold (nothing uncharged twice), the check is clean, and the stack
 *       works. Reported, not asserted: the budget a death between a charge
 *       and its record leaves charged to nothing, and objects the allocator
 *       itself loses when a thread dies inside it (doc/design.md, "Death in
 *       the stack"). These runs found the users' lists' back links, queues
 *       freed before they were emptied, a tail a dead taker left behind, and
 *       reaped objects keeping the marks that made them strays.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mirror.h"
#include "audit.h"
#include "tap.h"
#include "uml.h"
#include "uml/host.h"
#include "uml/inet.h"
#include "uml/mm.h"
#include "../../kernel/net/inet/tcp.h"

#define RING	 1024
#define FRAME_SZ 1536

static struct netif *nif;
static struct netif_queue *q;

/* The wire and the clock, shared with every child. */
static struct shared {
	uint64_t vclock;
	unsigned head, tail, drops;
	struct {
		uint8_t b[FRAME_SZ];
		size_t len;
	} ring[RING];
} * sh;

static uint64_t vnow(void)
{
	return sh->vclock;
}

static int capture(void *arg, const void *frame, size_t len)
{
	(void)arg;
	if (sh->tail - sh->head == RING || len > FRAME_SZ) {
		sh->drops++;
		return 0;
	}
	memcpy(sh->ring[sh->tail % RING].b, frame, len);
	sh->ring[sh->tail % RING].len = len;
	sh->tail++;
	return 0;
}

/* Deliver the oldest frame, mirrored: false when the wire is empty. */
static bool deliver_one(void)
{
	uint8_t f[FRAME_SZ];
	size_t len;

	if (sh->head == sh->tail)
		return false;
	len = sh->ring[sh->head % RING].len;
	memcpy(f, sh->ring[sh->head % RING].b, len);
	sh->head++;
	mirror_in(q, f, len);
	return true;
}

/* @ms of virtual time in steps of @step, the timers run and the wire pumped at each. */
static void run_step(unsigned ms, unsigned step)
{
	for (unsigned t = 0; t < ms; t += step) {
		sh->vclock += step;
		netif_tick(nif);
		for (int guard = 0; guard < 100000 && deliver_one(); guard++)
			;
	}
}

static void run(unsigned ms)
{
	run_step(ms, 1);
}

static unsigned state_of(struct tcp_sock *s)
{
	struct tcp_conn_info ci;

	tcp_info(s, &ci);
	return ci.state;
}

/* A connected pair through the mirror: @c to @port, @s accepted from @l. */
static int pair(struct tcp_sock *l, uint16_t port, struct tcp_sock **c, struct tcp_sock **s)
{
	int err;

	if (tcp_open(c))
		return -ENOMEM;
	err = tcp_connect(*c, PEER_IP, port, 0);
	if (err != -EINPROGRESS)
		return err;
	for (int i = 0; i < 5000 && state_of(*c) == TCP_SYN_SENT; i++)
		run(1);
	run(2);
	err = tcp_connect(*c, PEER_IP, port, 0);
	if (err != -EISCONN && err != 0)
		return err;
	return tcp_accept(l, s, NULL, NULL, 0);
}

static bool exchange(struct tcp_sock *a, struct tcp_sock *b, size_t n)
{
	static uint8_t out[16384], in[16384];
	size_t got = 0;

	for (size_t i = 0; i < n && i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7);
	if (tcp_send(a, out, n, 0) != (ssize_t)n)
		return false;
	for (int i = 0; i < 2000 && got < n; i++) {
		ssize_t r;

		run(1);
		while ((r = tcp_recv(b, in + got, n - got, 0)) > 0)
			got += (size_t)r;
	}
	return got == n && !memcmp(in, out, n);
}

/* A fresh connection carries 8 KiB each way and closes: the stack works. */
static bool stack_works(uint16_t port)
{
	struct tcp_sock *l, *c, *s;
	bool good;

	int err;

	if ((err = tcp_open(&l)) || (err = tcp_bind(l, 0, port)) || (err = tcp_listen(l, 4))) {
		diag("stack_works: listener on %u: %d", port, err);
		return false;
	}
	err = pair(l, port, &c, &s);
	if (err)
		diag("stack_works: connection to %u: %d", port, err);
	good = !err && exchange(c, s, 8192) && exchange(s, c, 8192);
	if (good) {
		tcp_close(c);
		tcp_close(s);
	}
	tcp_close(l);
	run_step(70000, 100); /* TIME-WAIT */
	return good;
}

struct usage {
	uint64_t tcp, udp, pkb;
	size_t mem;
};

static struct usage usage(void)
{
	struct usage u;
	size_t max;

	u.tcp = kmem_cache_in_use(inet_stack->tcp_cache);
	u.udp = kmem_cache_in_use(inet_stack->udp_cache);
	u.pkb = kmem_cache_in_use(inet_stack->pkb_cache);
	inet_mem(&u.mem, &max);
	return u;
}

static bool usage_same(const struct usage *a, const struct usage *b, const char *what)
{
	if (a->tcp == b->tcp && a->udp == b->udp && a->pkb == b->pkb && a->mem == b->mem)
		return true;
	diag("%s: sockets %llu/%llu tcp, %llu/%llu udp, buffers %llu/%llu, budget %zu/%zu", what,
	     (unsigned long long)a->tcp, (unsigned long long)b->tcp, (unsigned long long)a->udp,
	     (unsigned long long)b->udp, (unsigned long long)a->pkb, (unsigned long long)b->pkb,
	     a->mem, b->mem);
	return false;
}

/*
 * A child's life on the stack: a UDP socket with three datagrams unread, a
 * listener, a pair with 20 KiB and 5 KiB sent and part of it read, and a
 * buffer in hand.
 */
static void child_work(void)
{
	static uint16_t round; /* ports of its own each round: a loop's TIME-WAITs differ */
	struct tcp_sock *l, *c, *s;
	struct udp_sock *u;
	uint8_t buf[20480];
	struct pkb *hand;

	memset(buf, 'x', sizeof(buf));
	round++;
	if (udp_open(&u) || udp_bind(u, 0, (uint16_t)(7000 + round % 500)))
		_exit(2);
	for (int i = 0; i < 3; i++)
		if (udp_sendto(u, buf, 100, PEER_IP, (uint16_t)(7000 + round % 500)) != 100)
			_exit(3);
	run(1);
	if (tcp_open(&l) || tcp_bind(l, 0, (uint16_t)(9000 + round % 500)) || tcp_listen(l, 4))
		_exit(4);
	if (pair(l, (uint16_t)(9000 + round % 500), &c, &s))
		_exit(5);
	if (tcp_send(c, buf, sizeof(buf), 0) <= 0 || tcp_send(s, buf, 5000, 0) != 5000)
		_exit(6);
	run(5);
	if (tcp_recv(s, buf, 1000, 0) <= 0)
		_exit(7);
	/* As a receive thread holds the frame it reads into. */
	hand = pkb_alloc(INET_PKB_CAP);
	if (!hand)
		_exit(8);
}

/* After a death: the reaper, then the closes run their course in this process. */
static void settle(void)
{
	uml_reap();
	run_step(100, 1);
	run_step(70000, 100);
}

static void test_killed(void)
{
	struct usage before = usage(), after;
	uint64_t pages = (uml_reap(), pages_used());
	uint64_t reaped = inet_mib(INET_MIB_REAPED_SOCKETS),
		 bufs = inet_mib(INET_MIB_REAPED_BUFFERS);
	int p[2], status;
	pid_t pid;
	char c;

	if (pipe(p))
		bail_out("pipe");
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		child_work();
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		bail_out("the child did not get through its work");
	close(p[0]);
	after = usage();
	ok(after.tcp == before.tcp + 3 && after.udp == before.udp + 1 && after.pkb > before.pkb,
	   "1 the child holds 3 TCP sockets, a UDP socket and buffers");
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	uml_reap();
	is_int((int)(inet_mib(INET_MIB_REAPED_SOCKETS) - reaped), 4,
	       "2 the reaper closed the dead child's 4 sockets");
	ok(inet_mib(INET_MIB_REAPED_BUFFERS) > bufs,
	   "3 and freed the buffer it held in hand (%llu buffers)",
	   (unsigned long long)(inet_mib(INET_MIB_REAPED_BUFFERS) - bufs));
	settle();
	after = usage();
	ok(usage_same(&after, &before, "after the closes"),
	   "4 once closed: no socket, connection or buffer left, the budget whole");
	ok(check_ok() && pages_used() == pages, "5 the check is clean, every page back");
	ok(stack_works(8100), "6 a new connection carries data both ways");
}

/* The child takes a lock and dies in it; @what picks which and what it leaves. */
enum hold_what { HOLD_TCP, HOLD_INET, HOLD_NETIF };

static void die_holding(enum hold_what what, struct tcp_sock *victim)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		switch (what) {
		case HOLD_TCP:
			tcp_enter(victim);
			victim->sndq_bytes += 999; /* half way through a change */
			(void)tcp_new_locked();	   /* made, not linked */
			break;
		case HOLD_INET:
			inet_lock();
			(void)kmem_cache_zalloc(inet_stack->udp_cache); /* made, not listed */
			break;
		case HOLD_NETIF:
			netif_lock(nif);
			break;
		}
		raise(SIGKILL);
		_exit(1);
	}
	waitpid(pid, &status, 0);
}

static void test_takeovers(void)
{
	struct tcp_sock *l, *c, *s;
	struct usage before;
	uint64_t takeovers = inet_mib(INET_MIB_LOCK_TAKEOVERS);
	uint8_t b[16];
	struct udp_sock *u;

	if (tcp_open(&l) || tcp_bind(l, 0, 8200) || tcp_listen(l, 4) || pair(l, 8200, &c, &s))
		bail_out("no pair for the takeover");
	before = usage();
	die_holding(HOLD_TCP, c);
	is_int((int)tcp_recv(c, b, sizeof(b), 0), -ECONNRESET,
	       "7 tcp_lock taken over: the connection the dead holder was changing is reset");
	is_int((int)kmem_cache_in_use(inet_stack->tcp_cache), (int)before.tcp,
	       "8 the socket it made and never linked is given back");
	tcp_close(c);
	tcp_close(s);
	tcp_close(l);
	run_step(70000, 100);
	ok(stack_works(8210) && inet_mib(INET_MIB_LOCK_TAKEOVERS) == takeovers + 1,
	   "9 TCP works on, one takeover counted");

	before = usage();
	die_holding(HOLD_INET, NULL);
	if (udp_open(&u) || udp_bind(u, 0, 7100))
		bail_out("udp after the takeover");
	udp_close(u);
	is_int((int)kmem_cache_in_use(inet_stack->udp_cache), (int)before.udp,
	       "10 inet.lock taken over: the UDP socket made and never listed is given back");
	if (arp_count(nif) == 0)
		run(1); /* make sure there is a neighbour to drop */
	die_holding(HOLD_NETIF, NULL);
	ok(arp_count(nif) == 0 && stack_works(8220) &&
	       inet_mib(INET_MIB_LOCK_TAKEOVERS) == takeovers + 3,
	   "11 an interface's lock taken over: its neighbours dropped, and it works on");
}

#ifdef MM_DEBUG
static void test_sweep(void)
{
	struct usage before, after;
	uint64_t pages, points = 0;
	int deaths = 0, bad_usage = 0, bad_check = 0, bad_pages = 0, broken = 0, status;
	pid_t pid;

	settle();
	before = usage();
	pages = pages_used();
	for (uint64_t n = 1; n < 20000; n++) {
		bool died;

		pid = fork();
		if (pid == 0) {
			host_fault_arm(n);
			child_work();
			_exit(0);
		}
		waitpid(pid, &status, 0);
		died = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
		if (!died && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
			diag("killed at point %llu: the child failed with %d",
			     (unsigned long long)n, status);
			broken++;
		}
		settle();
		after = usage();
		if (!usage_same(&after, &before, "after a death")) {
			diag("(killed at lock instant %llu)", (unsigned long long)n);
			bad_usage++;
			before = after;
		}
		if (!check_ok())
			bad_check++;
		if (pages_used() != pages) {
			bad_pages++;
			pages = pages_used();
		}
		if (n % 97 == 0 && !stack_works(8300)) {
			diag("the stack broke after a death at %llu", (unsigned long long)n);
			broken++;
		}
		if (!died) {
			points = n - 1;
			break;
		}
		deaths++;
	}
	diag("sweep: %llu lock instants, %d deaths; %d left something, %d unclean checks, %d "
	     "leaked pages, %d broken",
	     (unsigned long long)points, deaths, bad_usage, bad_check, bad_pages, broken);
	ok(points > 50 && (uint64_t)deaths == points,
	   "12 the child was killed at each of its %llu lock instants, then got through",
	   (unsigned long long)points);
	is_int(bad_usage, 0, "13 after every death no socket, buffer or byte of budget is left");
	ok(bad_check == 0 && bad_pages == 0, "14 after every death the check is clean, pages back");
	ok(broken == 0 && stack_works(8400), "15 and the stack works on");
}
#endif

/* The child's work in a loop, each round's sockets closed again, until it is killed. */
static _Noreturn void child_loop(void)
{
	for (;;)
		child_work();
}

/* What the handed-out objects say the budget holds (only while nobody else runs). */
struct audit {
	uint64_t bytes, buffers, lost;
};

static bool audit_pkb(void *obj, void *arg)
{
	struct audit *a = arg;
	const struct pkb *p = obj;

	/* One the allocator lost when a thread died in it is a pkb_alloc'd buffer no longer. */
	if (p->cap == INET_PKB_CAP && p->truesize == inet_stack->pkb_cache->size) {
		a->bytes += p->truesize;
		a->buffers++;
	} else {
		a->lost++;
	}
	return false;
}

static bool audit_tcp(void *obj, void *arg)
{
	struct audit *a = arg;

	if (((const struct tcp_sock *)obj)->charged == TCP_CHARGED)
		a->bytes += sizeof(struct tcp_sock);
	return false;
}

static struct audit audit(void)
{
	struct audit a = {0};

	kmem_cache_reclaim_if(inet_stack->pkb_cache, audit_pkb, &a);
	kmem_cache_reclaim_if(inet_stack->tcp_cache, audit_tcp, &a);
	return a;
}

static void test_random_kills(unsigned kills, unsigned seed)
{
	struct usage before, after;
	uint64_t pages, excess = 0, lost = 0;
	int bad_sockets = 0, below = 0, bad_check = 0, broken = 0, status;

	srand(seed);
	settle();
	before = usage();
	pages = pages_used();
	for (unsigned k = 0; k < kills; k++) {
		struct audit a;
		pid_t pid = fork();

		if (pid == 0)
			child_loop();
		usleep((useconds_t)(200 + rand() % 2800));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		settle();
		after = usage();
		a = audit();
		if (after.tcp != before.tcp || after.udp != before.udp) {
			diag("kill %u of seed %u: sockets %llu tcp, %llu udp left", k + 1, seed,
			     (unsigned long long)(after.tcp - before.tcp),
			     (unsigned long long)(after.udp - before.udp));
			bad_sockets++;
		}
		if (after.mem < a.bytes) {
			diag(
			    "kill %u of seed %u: the budget says %zu, the buffers and sockets hold "
			    "%llu: something was uncharged twice",
			    k + 1, seed, after.mem, (unsigned long long)a.bytes);
			below++;
		}
		excess = after.mem - a.bytes;
		lost = a.lost;
		if (!check_ok())
			bad_check++;
		if (k % 50 == 49 && !stack_works(8500)) {
			diag("the stack broke by kill %u of seed %u", k + 1, seed);
			broken++;
		}
	}
	diag("random kills: %u, seed %u; at the end %llu bytes of budget charged to nothing and "
	     "%llu buffers the allocator lost (deaths inside it), %lld pages more in use",
	     kills, seed, (unsigned long long)excess, (unsigned long long)lost,
	     (long long)(pages_used() - pages));
	ok(bad_sockets == 0 && below == 0 && bad_check == 0,
	   "16 after each of %u deaths at random instants no socket is left, nothing is uncharged "
	   "twice, the check is clean",
	   kills);
	ok(broken == 0 && stack_works(8600), "17 and the stack works on");
}

int main(void)
{
	struct uml_boot_params bp = {.memory = 64 << 20};
	struct netif_config cfg = {.name = "td0", .addr = OUR_IP, .prefix_len = 24};

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bail_out("mmap");
	sh->vclock = 1000000;
	if (uml_boot(&bp))
		bail_out("uml_boot failed");
	inet_clock_set(vnow);
	if (inet_init(8u << 20))
		bail_out("inet_init failed");
	memcpy(cfg.mac, our_mac, 6);
	if (netif_create(&cfg, &nif) || netif_queue_open_hook(nif, capture, NULL, &q))
		bail_out("no interface");
	/* The ARP entry for the mirror, and the first connection's memory, before measuring. */
	if (!stack_works(8000))
		bail_out("the stack does not work to begin with");
	test_killed();
	test_takeovers();
#ifdef MM_DEBUG
	test_sweep();
#else
	skip(4, "the lock-instant sweep needs the debug build (make check-debug)");
#endif
	test_random_kills(
	    getenv("UML_INET_KILLS") ? (unsigned)atoi(getenv("UML_INET_KILLS")) : 200,
	    getenv("UML_INET_KILL_SEED") ? (unsigned)atoi(getenv("UML_INET_KILL_SEED")) : 1);
	return done_testing();
}
