/*
 * A lossy, slow wire for bench/tcp/run's loss case, since this kernel has
 * no netem: an Ethernet bridge between two interfaces of one namespace
 * (AF_PACKET sockets) that holds every frame for DELAY_MS and drops an
 * IPv4 frame with a chance of LOSS per 10000, from a seeded xorshift64*
 * generator per direction, so that every run -- the machine's and Linux's
 * -- meets the same rules and the same sequence of drops. ARP is never
 * dropped (neighbour resolution is not what is measured).
 *
 *   lossy [-d DELAY_MS] [-l LOSS_PER_10000] [-s SEED] IF_A IF_B
 *
 * Runs until killed (SIGTERM); then prints one line to stderr: frames
 * forwarded, dropped and refused (a full delay queue) each way. The
 * interfaces are put in promiscuous mode; offloads should be off on every
 * interface whose frames reach it (GSO super-packets and unfinished
 * checksums cannot be forwarded as they are).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MIN_U64(a, b) ((a) < (b) ? (a) : (b))
#define FRAME_MAX     1600
#define QUEUE_LEN     16384 /* frames held per direction: 10 ms of 2 Gbit/s fits */

struct frame {
	uint64_t due_ns;
	uint16_t len;
	uint8_t b[FRAME_MAX];
};

/* One direction: frames read from @in, sent on @out after the delay. */
struct dir {
	int in, out;
	uint64_t rng;
	struct frame *q;
	unsigned head, tail;
	unsigned long long fwd, dropped, refused;
};

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t next_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static int open_if(const char *name)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	struct packet_mreq mr = {.mr_type = PACKET_MR_PROMISC};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL)), one = 1;

	if (fd < 0) {
		perror("lossy: socket");
		exit(1);
	}
	sll.sll_ifindex = (int)if_nametoindex(name);
	mr.mr_ifindex = sll.sll_ifindex;
	if (!sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) ||
	    setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr))) {
		fprintf(stderr, "lossy: %s: %s\n", name, strerror(errno));
		exit(1);
	}
	/* What we send on an interface must not come back to us as input. */
	setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	return fd;
}

/* Everything @d's input has now: dropped, or queued until its time. */
static void take(struct dir *d, uint64_t delay_ns, unsigned loss)
{
	for (;;) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		struct frame *f = &d->q[d->tail % QUEUE_LEN];
		ssize_t n = recvfrom(d->in, f->b, sizeof(f->b), 0, (struct sockaddr *)&from, &fl);

		if (n < 0)
			return;
		if (from.sll_pkttype == PACKET_OUTGOING || n < 14)
			continue;
		if (f->b[12] == 0x08 && f->b[13] == 0x00 && next_rand(&d->rng) % 10000 < loss) {
			d->dropped++;
			continue;
		}
		if (d->tail - d->head == QUEUE_LEN) {
			d->refused++;
			continue;
		}
		f->len = (uint16_t)n;
		f->due_ns = now_ns() + delay_ns;
		d->tail++;
	}
}

/* Send what is due; the time of the next one (UINT64_MAX: none). */
static uint64_t release(struct dir *d, uint64_t now)
{
	while (d->head != d->tail) {
		struct frame *f = &d->q[d->head % QUEUE_LEN];

		if (f->due_ns > now)
			return f->due_ns;
		if (send(d->out, f->b, f->len, 0) == (ssize_t)f->len)
			d->fwd++;
		else if (errno == EAGAIN || errno == ENOBUFS)
			return now + 50000; /* the device's queue is full: again in 50 us */
		d->head++;
	}
	return UINT64_MAX;
}

int main(int argc, char **argv)
{
	unsigned delay_ms = 10, loss = 100;
	uint64_t seed = 1, next, now;
	struct dir d[2];
	int c;

	while ((c = getopt(argc, argv, "d:l:s:")) != -1) {
		switch (c) {
		case 'd':
			delay_ms = (unsigned)atoi(optarg);
			break;
		case 'l':
			loss = (unsigned)atoi(optarg);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 2 || loss > 10000)
		goto usage;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	memset(d, 0, sizeof(d));
	d[0].in = d[1].out = open_if(argv[optind]);
	d[1].in = d[0].out = open_if(argv[optind + 1]);
	for (int i = 0; i < 2; i++) {
		d[i].rng = (seed + (uint64_t)i) * 0x9e3779b97f4a7c15ull | 1;
		d[i].q = calloc(QUEUE_LEN, sizeof(struct frame));
		if (!d[i].q) {
			perror("lossy: calloc");
			return 1;
		}
	}
	fprintf(stderr,
		"lossy: %s <-> %s, %u ms each way, %u/10000 IPv4 frames dropped, seed %llu\n",
		argv[optind], argv[optind + 1], delay_ms, loss, (unsigned long long)seed);
	while (!stop) {
		struct pollfd pfd[2] = {{.fd = d[0].in, .events = POLLIN},
					{.fd = d[1].in, .events = POLLIN}};
		struct timespec ts;
		uint64_t wait;

		now = now_ns();
		next = release(&d[0], now);
		next = MIN_U64(next, release(&d[1], now));
		wait = next == UINT64_MAX ? 100000000u : (next > now ? next - now : 0);
		ts.tv_sec = (time_t)(wait / 1000000000u);
		ts.tv_nsec = (long)(wait % 1000000000u);
		if (ppoll(pfd, 2, &ts, NULL) < 0 && errno != EINTR)
			break;
		take(&d[0], (uint64_t)delay_ms * 1000000u, loss);
		take(&d[1], (uint64_t)delay_ms * 1000000u, loss);
	}
	fprintf(stderr,
		"lossy: %s->%s %llu forwarded %llu dropped %llu refused; %s->%s %llu %llu %llu\n",
		argv[optind], argv[optind + 1], d[0].fwd, d[0].dropped, d[0].refused,
		argv[optind + 1], argv[optind], d[1].fwd, d[1].dropped, d[1].refused);
	return 0;

usage:
	fprintf(stderr, "usage: lossy [-d DELAY_MS] [-l LOSS_PER_10000] [-s SEED] IF_A IF_B\n");
	return 2;
}
