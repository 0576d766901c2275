/*
 * The machine: mapping or re-finding its arena, its CPU slots and its named
 * roots. What lives in the arena above the allocator (the filesystem, NFS,
 * the kernel threads) is set up and reaped by the layers that own it.
 */
#include <errno.h>
#include <string.h>

#include "uml/host.h"
#include "uml/machine.h"

struct machine *machine;

/*
 * This process's CPU slot, -1 when it holds none. A forked child inherits
 * them: this_cpu_owner, the pid that took the slot, tells that they are not
 * the child's.
 */
static int this_cpu = -1;
static uint32_t this_cpu_owner;

int machine_boot(size_t size, void *address)
{
	size_t hdr = ALIGN_UP(sizeof(struct machine), PAGE_SIZE);
	struct machine *m;
	int64_t sec;
	uint32_t nsec;
	int err;

	if (machine)
		return -EALREADY;
	size = ALIGN_UP(size, PAGE_SIZE);
	if (size <= hdr)
		return -EINVAL;
	m = host_map_shared(size, address);
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
	spin_lock_init_rank(&m->roots_lock, LOCK_RANK_ROOTS);
	spin_lock_init_rank(&m->cpu_lock, LOCK_RANK_CPUS);
	spin_lock_init_rank(&m->sched_lock, LOCK_RANK_SCHED);
	spin_lock_init_rank(&m->waiters_lock, LOCK_RANK_WAITERS);
	list_init(&m->host_waiters);
	/* Without it, gens wake each CPU through its doorbell (kernel/sched/gen.c). */
	m->bcast_fd = host_bcast_open(&m->bcast_id);

	err = mm_init(&m->mm, (char *)m + hdr, size - hdr);
	if (err) {
		if (m->bcast_fd >= 0)
			host_close(m->bcast_fd);
		host_unmap(m, size);
		return err;
	}
	machine = m;
	return 0;
}

void machine_halt(void)
{
	struct machine *m = machine;

	if (!m)
		return;
	machine = NULL;
	mm_use(NULL);
	{
		uint64_t id;

		/* This process's copy, if the number is still it; the others keep theirs. */
		if (host_bcast_id(m->bcast_fd, &id) == 0 && id == m->bcast_id)
			host_close(m->bcast_fd);
	}
	host_unmap(m, m->size);
}

int machine_adopt(void *base)
{
	struct machine *m = base;

	if (!m || m->magic != MACHINE_MAGIC || m->version != MACHINE_VERSION || m->base != m)
		return -EINVAL;
	machine = m;
	mm_use(&m->mm);
	return 0;
}

int machine_attach(void)
{
	uint32_t pid = host_pid();
	int cpu = -EBUSY;

	if (!machine)
		return -ENODEV;
	if (this_cpu >= 0 && this_cpu_owner == pid)
		return this_cpu;
	spin_lock(&machine->cpu_lock);
	/*
	 * A free slot; failing that, one whose process died and was not
	 * reaped yet (its leftovers are the reaper's, whoever runs it next):
	 * a storm of deaths never locks new CPUs out.
	 */
	for (int pass = 0; pass < 2 && cpu < 0; pass++) {
		for (int i = 0; i < MACHINE_MAX_CPUS; i++) {
			struct cpu_slot *c = &machine->cpu[i];
			uint32_t owner = atomic_load(&c->pid);

			if (pass == 0 ? owner != 0 : host_task_alive(owner))
				continue;
			atomic_store(&c->pid, pid);
			c->seq++;
			c->attached_ns = host_mono_ns();
			cpu = i;
			break;
		}
	}
	spin_unlock(&machine->cpu_lock);
	if (cpu >= 0) {
		this_cpu = cpu;
		this_cpu_owner = pid;
	}
	return cpu;
}

void machine_detach(void)
{
	if (!machine || this_cpu < 0 || this_cpu_owner != host_pid())
		return;
	spin_lock(&machine->cpu_lock);
	atomic_store(&machine->cpu[this_cpu].pid, 0);
	spin_unlock(&machine->cpu_lock);
	this_cpu = -1;
}

int machine_reap(void)
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
	return n;
}

uint32_t machine_cpu_pid(int cpu)
{
	if (!machine || cpu < 0 || cpu >= MACHINE_MAX_CPUS)
		return 0;
	return atomic_load(&machine->cpu[cpu].pid);
}

int machine_root_set(const char *name, void *ptr)
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

void *machine_root_get(const char *name)
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
