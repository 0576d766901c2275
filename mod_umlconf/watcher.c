/*
 * The watcher: a kernel thread per child that puts knob changes in force
 * there.
 *
 * It sleeps on the config generation (every accepted knob write bumps it and
 * wakes every child), runs each knob's apply, and records which generation
 * this child applied and when, for /status/children. While it sleeps the
 * other threads of the child's CPU (the NFS service) run; it never polls, and
 * it ends when the child's stopper interrupts it.
 */
#include <errno.h>
#include <time.h>

#include "umlconf.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int umlconf_watcher_main(void *arg)
{
	struct umlconf_shared *sh = umlconf_sh;
	struct umlconf_child *me = arg;
	uint32_t gen;

	do {
		/* Read first: a bump during apply is applied on the next round. */
		gen = uml_gen_read(&sh->config_gen);
		umlconf_knobs_apply(sh);
		/* ns before gen: whoever sees the new gen sees its time too. */
		atomic_store(&me->applied_ns, now_ns());
		atomic_store(&me->applied_gen, gen);
	} while (uml_gen_wait(&sh->config_gen, gen, -1) != -EINTR);
	return 0;
}
