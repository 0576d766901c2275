/* The frames a hook queue sends, and the virtual clock (capture.h). */
#include <string.h>

#include "capture.h"

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
