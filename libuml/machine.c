/*
 * Booting, finding and attaching to a machine; CPUs; named roots: the
 * machine is kernel/core's, the filesystem and NFS on it are set up here.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "uml.h"
#include "uml/check.h"
#include "uml/host.h"
#include "uml/inet.h"
#include "uml/machine.h"
#include "uml/mm.h"
#include "uml/nfs.h"
#include "uml/nfs3.h"
#include "uml/sched.h"
#include "uml/vfs.h"

int uml_boot(const struct uml_boot_params *p)
{
	size_t size = p && p->memory ? p->memory : UML_MEMORY_DEFAULT;
	int err;

	if (size < UML_MEMORY_MIN)
		return -EINVAL;
	err = machine_boot(size, p ? p->address : NULL);
	if (err)
		return err;
	err = vfs_init();
	if (err)
		goto out_halt;
	err = nfs_init();
	if (err)
		goto out_halt;
	return 0;

out_halt:
	machine_halt();
	return err;
}

int uml_adopt(void *base)
{
	int err = machine_adopt(base);

	if (err)
		return err;
	vfs_use();
	return 0;
}

void *uml_machine_base(void)
{
	return machine;
}

int uml_attach(void)
{
	return machine_attach();
}

void uml_detach(void)
{
	machine_detach();
}

int uml_reap(void)
{
	int n;

	if (!machine)
		return 0;
	n = machine_reap();
	/* Their kernel threads and their threads' allocator caches too. */
	sched_reap();
	/* Then what they held in the network stack: sockets and buffers. */
	inet_reap();
	mm_reap();
	return n;
}

uint32_t uml_cpu_pid(int cpu)
{
	return machine_cpu_pid(cpu);
}

bool uml_task_alive(uint32_t pid)
{
	return host_task_alive(pid);
}

int uml_root_set(const char *name, void *ptr)
{
	return machine_root_set(name, ptr);
}

void *uml_root_get(const char *name)
{
	return machine_root_get(name);
}

size_t uml_check(char *buf, size_t size)
{
	struct kcheck r = {.buf = buf, .size = size};
	char head[32];
	size_t hl, body;

	if (!machine)
		return (size_t)snprintf(buf, size, "FAIL 1\nno machine\n");
	mm_check(&r);
	vfs_check(&r);
	nfs_check(&r);
	sched_check(&r);
	/* The verdict goes first: shift the body down under it. */
	hl = (size_t)(r.problems ? snprintf(head, sizeof(head), "FAIL %u\n", r.problems)
				 : snprintf(head, sizeof(head), "ok\n"));
	body = MIN(r.len, size);
	if (size > hl) {
		memmove(buf + hl, buf, MIN(body, size - hl));
		memcpy(buf, head, hl);
	} else if (size) {
		memcpy(buf, head, size);
	}
	if (hl + r.len < size)
		buf[hl + r.len] = '\0';
	else if (size)
		buf[size - 1] = '\0';
	return hl + r.len;
}
