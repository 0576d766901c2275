/*
 * Stopping a CPU from outside: a small thread waits for an fd (an eventfd, a
 * signalfd, a pipe) to become readable and then ends the CPU's work.
 */
#include <errno.h>

#include "uml/host.h"
#include "uml/mm.h"
#include "uml/sched.h"

struct stop_on_fd {
	int fd;
	void (*before)(void *);
	void *arg;
};

static int stopper_main(void *arg)
{
	struct stop_on_fd s = *(struct stop_on_fd *)arg;
	int ev;

	kfree(arg);
	do
		ev = kthread_wait_fd(s.fd, HOST_POLLIN, -1);
	while (ev == -ETIMEDOUT);
	if (s.before)
		s.before(s.arg);
	sched_cpu_stop(sched_this_cpu());
	return 0;
}

int sched_stop_on_fd(int fd, void (*before)(void *), void *arg)
{
	struct stop_on_fd *s;
	int err;

	if (!sched_this_cpu())
		return -EPERM;
	s = kmalloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	*s = (struct stop_on_fd){.fd = fd, .before = before, .arg = arg};
	/* The smallest stack: it only waits, and @before stops things. */
	err = kthread_create_stack(NULL, "cpu-stop", SCHED_PRIO_DEFAULT, 2, stopper_main, s);
	if (err)
		kfree(s);
	return err;
}
