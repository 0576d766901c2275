/* The mirrored wire of the TCP tests (mirror.h). */
#include <string.h>

#include "mirror.h"
#include "uml/inet.h"
#include "../../kernel/net/inet/inet_internal.h"

const uint8_t peer_mac[6] = {2, 0, 0, 0, 0, 9};
const uint8_t our_mac[6] = {2, 0, 0, 0, 0, 2};

void mirror_arp_reply(struct netif_queue *q, const uint8_t *req)
{
	uint8_t f[60] = {0};

	memcpy(f, our_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	put16(f + 12, ETH_P_ARP);
	put16(f + 14, 1);
	put16(f + 16, ETH_P_IPV4);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, 2);
	memcpy(f + 22, peer_mac, 6);
	put32(f + 28, PEER_IP);
	memcpy(f + 32, req + 22, 6);
	memcpy(f + 38, req + 28, 4);
	netif_input(q, f, 42);
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
