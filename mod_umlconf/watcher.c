/*
 * The watcher: a kernel thread per child that puts knob changes in force
 * there.
 *
 * It sleeps on apply_gen (bumped by the writes of knobs with an apply hook;
 * the others are read from their slots on every request and need no one to
 * wake), runs each changed knob's apply, and records which config generation
 * this child applied and when, for /status/children. While it sleeps the
 * other threads of the child's CPU (the NFS service) run; it never polls, and
 * it ends when the child's stopper interrupts it.
 */
#include <errno.h>

#include "umlconf.h"

int umlconf_watcher_main(void *arg)
{
	struct umlconf_shared *sh = umlconf_sh;
	struct umlconf_child *me = arg;
	uint32_t seen, gen;

	do {
		/*
		 * apply_gen before config_gen, config_gen before the values: a
		 * commit bumps them in the other order, so what we apply is at
		 * least generation gen, and a bump during apply wakes us again.
		 */
		seen = uml_gen_read(&sh->apply_gen);
		gen = uml_gen_read(&sh->config_gen);
		umlconf_knobs_apply(sh);
		/* ns before gen: whoever sees the new gen sees its time too. */
		atomic_store(&me->applied_ns, umlconf_now_ns());
		atomic_store(&me->applied_gen, gen);
	} while (uml_gen_wait(&sh->apply_gen, seen, -1) != -EINTR);
	return 0;
}
