/*
 * Booting, finding and attaching to a machine; CPUs; named roots.
 */
#include <errno.h>
#include <string.h>

#include "uml.h"
#include "uml/host.h"
#include "uml/machine.h"
#include "uml/nfs.h"
#include "uml/sched.h"
#include "uml/vfs.h"

struct machine *machine;

/* This process's CPU number, -1 when not attached. Reset in forked children. */
static int uml_cpu = -1;
static uint32_t uml_cpu_owner;

int uml_boot(const struct uml_boot_params *p)
{
	size_t size = p && p->memory ? p->memory : UML_MEMORY_DEFAULT;
	size_t hdr = ALIGN_UP(sizeof(struct machine), PAGE_SIZE);
	struct machine *m;
	int64_t sec;
	uint32_t nsec;
	int err;

	if (machine)
		return -EALREADY;
	if (size < UML_MEMORY_MIN)
		return -EINVAL;
	size = ALIGN_UP(size, PAGE_SIZE);
	m = host_map_shared(size, p ? p->address : NULL);
	if (!m)
		return -ENOMEM;
	memset(m, 0, hdr);
	m->magic = MACHINE_MAGIC;
	m->version = MACHINE_VERSION;
	m->hdr_size = (uint32_t)hdr;
	m->base = m;
	m->size = size;
	host_wall(&sec, &nsec);
	m->boot_wall_sec = (uint64_t)sec;
	host_random(m->boot_verf, sizeof(m->boot_verf));
	spin_lock_init(&m->roots_lock);
	spin_lock_init(&m->cpu_lock);

	err = mm_init(&m->mm, (char *)m + hdr, size - hdr);
	if (err)
		goto out_unmap;
	machine = m;
	err = vfs_init();
	if (err)
		goto out_unmap;
	err = nfs_init();
	if (err)
		goto out_unmap;
	return 0;

out_unmap:
	machine = NULL;
	mm_use(NULL);
	host_unmap(m, size);
	return err;
}

int uml_adopt(void *base)
{
	struct machine *m = base;

	if (!m || m->magic != MACHINE_MAGIC || m->version != MACHINE_VERSION || m->base != m)
		return -EINVAL;
	machine = m;
	mm_use(&m->mm);
	vfs_use();
	return 0;
}

void *uml_machine_base(void)
{
	return machine;
}

int uml_attach(void)
{
	uint32_t pid = host_pid();
	int cpu = -EBUSY;

	if (!machine)
		return -ENODEV;
	if (uml_cpu >= 0 && uml_cpu_owner == pid)
		return uml_cpu;
	spin_lock(&machine->cpu_lock);
	for (int i = 0; i < MACHINE_MAX_CPUS; i++) {
		struct cpu_slot *c = &machine->cpu[i];

		if (atomic_load(&c->pid) == 0) {
			atomic_store(&c->pid, pid);
			c->seq++;
			c->attached_ns = host_mono_ns();
			cpu = i;
			break;
		}
	}
	spin_unlock(&machine->cpu_lock);
	if (cpu >= 0) {
		uml_cpu = cpu;
		uml_cpu_owner = pid;
	}
	return cpu;
}

void uml_detach(void)
{
	if (!machine || uml_cpu < 0 || uml_cpu_owner != host_pid())
		return;
	spin_lock(&machine->cpu_lock);
	atomic_store(&machine->cpu[uml_cpu].pid, 0);
	spin_unlock(&machine->cpu_lock);
	uml_cpu = -1;
}

int uml_reap(void)
{
	int n = 0;

	if (!machine)
		return 0;
	spin_lock(&machine->cpu_lock);
	for (int i = 0; i < MACHINE_MAX_CPUS; i++) {
		uint32_t pid = atomic_load(&machine->cpu[i].pid);

		if (pid && !host_task_alive(pid)) {
			atomic_store(&machine->cpu[i].pid, 0);
			n++;
		}
	}
	spin_unlock(&machine->cpu_lock);
	/* Their kernel threads and their threads' allocator caches too. */
	sched_reap();
	mm_reap();
	return n;
}

uint32_t uml_cpu_pid(int cpu)
{
	if (!machine || cpu < 0 || cpu >= MACHINE_MAX_CPUS)
		return 0;
	return atomic_load(&machine->cpu[cpu].pid);
}

int uml_root_set(const char *name, void *ptr)
{
	struct machine_root *free_slot = NULL;
	int err = -ENOSPC;

	if (!machine)
		return -ENODEV;
	if (strlen(name) >= sizeof(machine->roots[0].name))
		return -ENAMETOOLONG;
	spin_lock(&machine->roots_lock);
	for (int i = 0; i < MACHINE_MAX_ROOTS; i++) {
		struct machine_root *r = &machine->roots[i];

		if (r->name[0] && strcmp(r->name, name) == 0) {
			r->ptr = ptr;
			err = 0;
			goto out;
		}
		if (!r->name[0] && !free_slot)
			free_slot = r;
	}
	if (free_slot) {
		strcpy(free_slot->name, name);
		free_slot->ptr = ptr;
		err = 0;
	}
out:
	spin_unlock(&machine->roots_lock);
	return err;
}

void *uml_root_get(const char *name)
{
	void *ptr = NULL;

	if (!machine)
		return NULL;
	spin_lock(&machine->roots_lock);
	for (int i = 0; i < MACHINE_MAX_ROOTS; i++)
		if (strcmp(machine->roots[i].name, name) == 0) {
			ptr = machine->roots[i].ptr;
			break;
		}
	spin_unlock(&machine->roots_lock);
	return ptr;
}
