/* The mirrored wire of the TCP tests (mirror.h). */
#include <string.h>

#include "mirror.h"
#include "wire.h"
#include "uml/inet.h"
#include "../../kernel/net/inet/inet_internal.h"

const uint8_t peer_mac[6] = {2, 0, 0, 0, 0, 9};
const uint8_t our_mac[6] = {2, 0, 0, 0, 0, 2};

void mirror_arp_reply(struct netif_queue *q, const uint8_t *req)
{
	uint8_t f[60] = {0};

	netif_input(q, f, wire_arp(f, our_mac, 2, peer_mac, PEER_IP, req + 22, get32(req + 28)));
}

void mirror_in(struct netif_queue *q, uint8_t *f, size_t len)
{
	uint8_t a[4];

	if (get16(f + 12) == ETH_P_ARP) {
		if (get16(f + 20) == 1 && get32(f + 38) == PEER_IP)
			mirror_arp_reply(q, f);
		return;
	}
	if (get16(f + 12) != ETH_P_IPV4)
		return;
	memcpy(f, our_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	memcpy(a, f + 26, 4);
	memcpy(f + 26, f + 30, 4);
	memcpy(f + 30, a, 4);
	netif_input(q, f, len);
}
