/*
 * The watcher: one thread per child that puts knob changes in force there.
 *
 * It sleeps on the config generation (a futex in the arena: every accepted
 * knob write bumps it and wakes every child), runs each knob's apply, and
 * records which generation this child applied and when, for
 * /status/children. The wait has a timeout only so the thread notices that its
 * child is exiting; changes are never found by polling.
 */
#include <errno.h>

#include "umlconf.h"

_Atomic int umlconf_watcher_stop;

#define WATCHER_EXIT_CHECK_MS 200

void *umlconf_watcher_main(void *arg)
{
	struct umlconf_shared *sh = umlconf_sh;
	struct umlconf_child *me = arg;
	uint32_t gen;

	while (!atomic_load(&umlconf_watcher_stop)) {
		/* Read first: a bump during apply is applied on the next round. */
		gen = uml_gen_read(&sh->config_gen);
		umlconf_knobs_apply(sh);
		/* ns before gen: whoever sees the new gen sees its time too. */
		atomic_store(&me->applied_ns, umlconf_now_ns());
		atomic_store(&me->applied_gen, gen);
		while (!atomic_load(&umlconf_watcher_stop) &&
		       uml_gen_wait(&sh->config_gen, gen, WATCHER_EXIT_CHECK_MS) == -ETIMEDOUT)
			;
	}
	return NULL;
}
