/*
 * The mirrored wire of the TCP tests (test_tcp, test_socket,
 * test_inet_death): the machine is OUR_IP (our_mac), its peer PEER_IP
 * (peer_mac), and what the machine sends the peer comes back in with the
 * IPv4 addresses swapped, so a client connecting to the peer's port P meets
 * the machine's own listener on P; an ARP request for the peer is answered
 * as the peer would. Each test keeps its own queue of frames in flight.
 */
#ifndef T_UNIT_MIRROR_H
#define T_UNIT_MIRROR_H

#include <stddef.h>
#include <stdint.h>

#define PEER_IP 0x0a000009u
#define OUR_IP	0x0a000002u

struct netif_queue;
extern const uint8_t peer_mac[6], our_mac[6];

/* Frame @f (@len bytes) that the machine sent, back in through @q: answered (ARP) or mirrored. */
void mirror_in(struct netif_queue *q, uint8_t *f, size_t len);
/* The peer's answer to ARP request @req, in through @q. */
void mirror_arp_reply(struct netif_queue *q, const uint8_t *req);

#endif
