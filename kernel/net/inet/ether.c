/*
 * Ethernet II framing: a frame is for us when its destination is our MAC,
 * the broadcast address, or one of the IPv6 multicast groups an interface
 * with IPv6 must listen to (RFC 2464 7: 33:33 and the group's low 32 bits):
 * all-nodes ff02::1 and the solicited-node group of each of its addresses.
 * Everything else (other stations' unicast, other multicast, 802.3
 * lengths, VLAN tags) is dropped and counted. A frame from a multicast or
 * our own source address is a lie or a loop, and dropped too.
 */
#include <string.h>

#include "inet_internal.h"

const uint8_t ether_bcast[INET_ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

void ether_multicast6(const struct inet_addr *group, uint8_t mac[INET_ETH_ALEN])
{
	mac[0] = 0x33;
	mac[1] = 0x33;
	memcpy(mac + 2, group->a + 12, 4);
}

/* A multicast @mac that is one of @nif's IPv6 groups. */
static bool joined(const struct netif *nif, const uint8_t *mac)
{
	static const uint8_t all_nodes[INET_ETH_ALEN] = {0x33, 0x33, 0, 0, 0, 1};

	if (!nif->has6 || mac[0] != 0x33 || mac[1] != 0x33)
		return false;
	if (!memcmp(mac, all_nodes, INET_ETH_ALEN))
		return true;
	/* Solicited-node: ff02::1:ffXX:XXXX, the address's low 24 bits. */
	return mac[2] == 0xff && (!memcmp(mac + 3, nif->ll6.a + 13, 3) ||
				  (nif->has_addr6 && !memcmp(mac + 3, nif->addr6.a + 13, 3)));
}

void ether_input(struct netif *nif, struct pkb *p)
{
	const uint8_t *h = pkb_data(p);
	uint16_t type;

	if (p->len < ETH_HLEN || (h[6] & 1) || !memcmp(h + 6, nif->mac, INET_ETH_ALEN)) {
		inet_count(INET_MIB_ETH_IN_ERRORS);
		netif_count(&nif->stats.rx_errors, 1);
		goto drop;
	}
	/* bcast: a link-layer destination of many stations, broadcast or multicast. */
	p->bcast = !memcmp(h, ether_bcast, INET_ETH_ALEN) || joined(nif, h);
	if (!p->bcast && memcmp(h, nif->mac, INET_ETH_ALEN))
		goto not_ours;
	type = get16(h + 12);
	p->off += ETH_HLEN;
	p->len -= ETH_HLEN;
	switch (type) {
	case ETH_P_IPV4:
		ipv4_input(nif, p);
		return;
	case ETH_P_ARP:
		arp_input(nif, p);
		return;
	case ETH_P_IPV6:
		if (!nif->has6)
			break;
		ipv6_input(nif, p);
		return;
	}
not_ours:
	inet_count(INET_MIB_ETH_IN_DROPS);
	netif_count(&nif->stats.rx_drops, 1);
drop:
	pkb_free(p);
}

void ether_output(struct netif *nif, struct pkb *p, const uint8_t dst[INET_ETH_ALEN], uint16_t type)
{
	uint8_t *h;

	/* The shortest frame on the wire is ETH_ZLEN: pad with zeros. */
	if (p->len + ETH_HLEN < ETH_ZLEN && p->off + ETH_ZLEN - ETH_HLEN <= p->cap) {
		memset(pkb_data(p) + p->len, 0, ETH_ZLEN - ETH_HLEN - p->len);
		p->len = ETH_ZLEN - ETH_HLEN;
	}
	h = pkb_push(p, ETH_HLEN);
	if (!h) {
		netif_count(&nif->stats.tx_errors, 1);
		pkb_free(p);
		return;
	}
	memcpy(h, dst, INET_ETH_ALEN);
	memcpy(h + 6, nif->mac, INET_ETH_ALEN);
	put16(h + 12, type);
	netif_xmit(nif, p);
}
