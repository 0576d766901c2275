/*
 * A test's side of a hook queue (netif_queue_open_hook with capture): the
 * frames the stack sends, kept in order, and the virtual clock the stack
 * reads (inet_clock_set(vnow)). The harness of test_inet, test_inet6 and
 * test_vnet, which feed frames in with netif_input and look at out[].
 */
#ifndef T_UNIT_CAPTURE_H
#define T_UNIT_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#define CAP_MAX	  512  /* frames kept; past it they are dropped */
#define CAP_FRAME 2048 /* bytes a frame, at most */

extern struct cap_frame {
	uint8_t b[CAP_FRAME];
	size_t len;
} out[CAP_MAX];
extern int nout;
extern uint64_t vclock; /* ms */

uint64_t vnow(void);
int capture(void *arg, const void *frame, size_t len);
/* Advance the clock by @ms and forget what was sent. */
void step(uint64_t ms);

struct netif;
struct netif_config;
struct netif_queue;
/* A machine of 32 MiB on the virtual clock, its stack with @buffers bytes of budget; or bail out.
 */
void capture_boot(size_t buffers);
/* Interface @cfg with MAC @mac, its hook queue capturing into out[] (*@q); or bail out. */
struct netif *capture_netif(struct netif_config *cfg, const uint8_t mac[6], struct netif_queue **q);

#endif
