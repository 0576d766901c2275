/*
 * Kernel threads for applications: thin wrappers over kernel/sched.
 */
#include <errno.h>
#include <stdio.h>

#include "uml.h"
#include "uml/host.h"
#include "uml/machine.h"
#include "uml/sched.h"

int uml_cpu_init(void)
{
	return machine ? sched_cpu_init() : -ENODEV;
}

int uml_cpu_run(bool drain)
{
	return sched_cpu_run(drain);
}

int uml_cpu_exit(void)
{
	return sched_cpu_exit();
}

void uml_cpu_stop(void)
{
	struct sched_cpu *cpu = sched_this_cpu();

	if (cpu)
		sched_cpu_stop(cpu);
	else
		sched_process_cpus_stop();
}

int uml_cpu_stop_on_fd(int fd, void (*before)(void *arg), void *arg)
{
	return sched_stop_on_fd(fd, before, arg);
}

int uml_thread_create(uml_thread_t **t, const char *name, int (*fn)(void *), void *arg)
{
	return kthread_create((struct kthread **)t, name, SCHED_PRIO_DEFAULT, fn, arg);
}

int uml_thread_create_stack(uml_thread_t **t, const char *name, unsigned stack_kib,
			    int (*fn)(void *), void *arg)
{
	unsigned order = 2;

	if (stack_kib < 16 || stack_kib > 256)
		return -EINVAL;
	while ((PAGE_SIZE << order) < (size_t)stack_kib * 1024)
		order++;
	return kthread_create_stack((struct kthread **)t, name, SCHED_PRIO_DEFAULT, order, fn, arg);
}

uml_thread_t *uml_thread_self(void)
{
	return (uml_thread_t *)kthread_self();
}

void uml_thread_interrupt(uml_thread_t *t)
{
	kthread_interrupt((struct kthread *)t);
}

int uml_thread_join(uml_thread_t *t, int *ret)
{
	return kthread_join((struct kthread *)t, ret);
}

void uml_thread_yield(void)
{
	kthread_yield();
}

int uml_thread_sleep_ms(unsigned ms)
{
	return kthread_sleep_ns((uint64_t)ms * 1000000u);
}

int uml_thread_wait_fd(int fd, bool write, int timeout_ms)
{
	return kthread_wait_fd(fd, write ? HOST_POLLOUT : HOST_POLLIN, timeout_ms);
}

int uml_sched_stats(int cpu, struct uml_sched_stats *st)
{
	struct sched_stats k;
	int err = sched_cpu_stats(cpu, &k);

	if (err)
		return err;
	st->pid = k.pid;
	st->threads = k.threads;
	st->runnable = k.runnable;
	st->timers = k.timers;
	st->switches = k.switches;
	st->remote_wakes = k.remote_wakes;
	st->io_wakes = k.io_wakes;
	return 0;
}

size_t uml_sched_status(char *buf, size_t size)
{
	size_t n = (size_t)snprintf(
	    buf, size, "# cpu pid threads runnable timers switches remote_wakes io_wakes\n");

	for (int i = 0; i < MACHINE_MAX_CPUS; i++) {
		struct uml_sched_stats st;

		if (uml_sched_stats(i, &st))
			continue;
		n += (size_t)snprintf(
		    buf + MIN(n, size), size - MIN(n, size), "%d %u %u %u %u %llu %llu %llu\n", i,
		    st.pid, st.threads, st.runnable, st.timers, (unsigned long long)st.switches,
		    (unsigned long long)st.remote_wakes, (unsigned long long)st.io_wakes);
	}
	return n;
}
