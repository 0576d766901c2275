/* The frames a hook queue sends, and the virtual clock (capture.h). */
#include <string.h>

#include "capture.h"
#include "tap.h"
#include "uml.h"
#include "uml/inet.h"

struct cap_frame out[CAP_MAX];
int nout;
uint64_t vclock = 1000000;

uint64_t vnow(void)
{
	return vclock;
}

int capture(void *arg, const void *frame, size_t len)
{
	(void)arg;
	if (nout < CAP_MAX && len <= CAP_FRAME) {
		memcpy(out[nout].b, frame, len);
		out[nout++].len = len;
	}
	return 0;
}

void step(uint64_t ms)
{
	vclock += ms;
	nout = 0;
}

void capture_boot(size_t buffers)
{
	struct uml_boot_params bp = {.memory = 32 << 20};

	if (uml_boot(&bp))
		bail_out("uml_boot failed");
	inet_clock_set(vnow);
	if (inet_init(buffers))
		bail_out("inet_init failed");
}

struct netif *capture_netif(struct netif_config *cfg, const uint8_t mac[6], struct netif_queue **q)
{
	struct netif *nif;

	memcpy(cfg->mac, mac, 6);
	if (netif_create(cfg, &nif) || netif_queue_open_hook(nif, capture, NULL, q))
		bail_out("no interface %s", cfg->name);
	return nif;
}
