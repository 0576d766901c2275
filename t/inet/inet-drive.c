/*
 * A machine on a TAP device, for t/inet/ tests: boots, makes interface @tap
 * with @addr/@prefix (MAC 02:00:00:00:00:02 unless given), opens one TAP
 * queue read by a kernel thread of its CPU, and runs a UDP echo service on
 * @port on another kernel thread. Prints "ready MAC" once the queue is
 * open, so the test can configure the host's side; runs until its
 * standard input is closed, then prints the stack's counters (inet_status)
 * and exits 0.
 *
 *   inet-drive TAP ADDR/PREFIX PORT [MAC]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uml.h"
#include "uml/inet.h"
#include "uml/sched.h"

static struct netif_queue *q;
static struct kthread *echo_thread;

static int echo_service(void *arg)
{
	static char buf[65536];
	struct udp_sock *s;
	int err = udp_open(&s);

	if (!err)
		err = udp_bind(s, 0, (uint16_t)(long)arg);
	if (err) {
		fprintf(stderr, "inet-drive: udp echo: %s\n", strerror(-err));
		exit(1);
	}
	for (;;) {
		uint32_t from;
		uint16_t port;
		ssize_t n = udp_recvfrom(s, buf, sizeof(buf), &from, &port, -1);

		if (n == -EINTR)
			break;
		if (n >= 0)
			udp_sendto(s, buf, (size_t)n, from, port);
	}
	udp_close(s);
	return 0;
}

static void stop(void *arg)
{
	(void)arg;
	kthread_interrupt(echo_thread);
	netif_queue_close(q);
}

int main(int argc, char **argv)
{
	struct uml_boot_params bp = {.memory = 32 << 20};
	struct netif_config cfg = {.mac = {2, 0, 0, 0, 0, 2}};
	struct netif *nif;
	struct in_addr a;
	char *slash, status[8192];
	uint8_t mac[6];
	int err;

	if (argc < 4 || strlen(argv[1]) >= sizeof(cfg.name) || !(slash = strchr(argv[2], '/'))) {
		fprintf(stderr, "usage: inet-drive TAP ADDR/PREFIX PORT [MAC]\n");
		return 2;
	}
	*slash = '\0';
	if (!inet_aton(argv[2], &a))
		return 2;
	strcpy(cfg.name, argv[1]);
	cfg.addr = ntohl(a.s_addr);
	cfg.prefix_len = (unsigned)atoi(slash + 1);
	if (argc > 4 && sscanf(argv[4], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &cfg.mac[0], &cfg.mac[1],
			       &cfg.mac[2], &cfg.mac[3], &cfg.mac[4], &cfg.mac[5]) != 6)
		return 2;
	if ((err = uml_boot(&bp)) || (err = inet_init(0)) || (err = netif_create(&cfg, &nif)) ||
	    (err = sched_cpu_init()) || (err = netif_queue_open_tap(nif, &q)) ||
	    (err = netif_queue_start(q)) ||
	    (err = kthread_create(&echo_thread, "udp-echo", SCHED_PRIO_DEFAULT, echo_service,
				  (void *)(long)atoi(argv[3]))) ||
	    (err = sched_stop_on_fd(0, stop, NULL))) {
		fprintf(stderr, "inet-drive: %s\n", strerror(-err));
		return 1;
	}
	kthread_detach(echo_thread); /* it ends only when stop() interrupts it */
	netif_mac(nif, mac);
	printf("ready %02x:%02x:%02x:%02x:%02x:%02x\n", mac[0], mac[1], mac[2], mac[3], mac[4],
	       mac[5]);
	fflush(stdout);
	sched_cpu_run(true);
	inet_status(status, sizeof(status));
	fputs(status, stdout);
	return 0;
}
