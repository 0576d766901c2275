/*
 * kernel/core: the machine, one shared arena per application instance. Its
 * first pages hold this header; the rest is managed by kernel/mm. The arena is
 * mapped before the CPUs (processes) fork, so every pointer in it is valid in
 * all of them.
 *
 * Nothing in the arena points at code: code addresses differ between processes
 * that load the library on their own and move when httpd reloads its modules.
 */
#ifndef UML_MACHINE_H
#define UML_MACHINE_H

#include <stddef.h>
#include <stdint.h>
#include "compiler.h"
#include "list.h"
#include "mm.h"
#include "sync.h"

#define MACHINE_MAGIC 0x554d4c6d61636831ULL /* "UMLmach1" */
/* Bumped with every change of a structure in the arena: a graceful restart
 * into a module with another layout must boot afresh, not adopt. */
#define MACHINE_VERSION	  23
#define MACHINE_MAX_CPUS  256
#define MACHINE_MAX_ROOTS 32

/* A CPU is a process attached to the machine. Slots are guarded by cpu_lock. */
struct cpu_slot {
	_Atomic uint32_t pid; /* 0: slot free */
	uint32_t seq;	      /* bumps at each attach, so a reused slot is told apart */
	uint64_t attached_ns;
};

struct machine_root {
	char name[32];
	void *ptr;
};

struct vfs_sb;
struct nfs_state;
struct sched_cpu;

struct machine {
	uint64_t magic;
	uint32_t version;
	uint32_t hdr_size; /* bytes before the managed pages */
	void *base;	   /* where the arena is mapped (the same in every CPU) */
	uint64_t size;
	uint64_t boot_wall_sec;
	uint8_t boot_verf[8]; /* differs at every boot: NFS write verifier */

	struct mm_zone mm;
	struct vfs_sb *vfs;
	struct nfs_state *nfs;

	spinlock_t roots_lock; /* guards roots[]; LOCK_RANK_ROOTS (sync.h) */
	struct machine_root roots[MACHINE_MAX_ROOTS];

	spinlock_t cpu_lock; /* guards cpu[]; LOCK_RANK_CPUS */
	struct cpu_slot cpu[MACHINE_MAX_CPUS];

	spinlock_t sched_lock; /* guards sched[]; LOCK_RANK_SCHED */
	struct sched_cpu *sched[MACHINE_MAX_CPUS];
	struct kmem_cache *kthread_cache; /* created by the first CPU, under sched_lock */
	_Atomic uint32_t cpu_serial;	  /* bumps at each CPU set up: unique doorbell names */
	int bcast_fd;			  /* the broadcast eventfd, as numbered in the booter */
	uint64_t bcast_id;		  /* its eventfd-id, to tell it from a reused number */

	spinlock_t waiters_lock;  /* guards host_waiters; LOCK_RANK_WAITERS */
	struct list host_waiters; /* every host thread's struct kwaiter (kernel/sched) */
};

/* The machine this process is attached to (NULL before boot/attach). */
extern struct machine *machine;

/*
 * Map an arena of @size bytes (rounded up to pages), at @address when that
 * range is free, and set up its header and page allocator; the subsystems
 * above (filesystem, NFS) are the caller's to set up. Returns 0, -EALREADY
 * (this process has a machine), -EINVAL (@size leaves no room past the
 * header) or -ENOMEM.
 */
int machine_boot(size_t size, void *address);
/*
 * Unmap the machine this process booted, for a boot that failed after
 * machine_boot: no other process may use it yet.
 */
void machine_halt(void);
/*
 * Use the machine whose arena is at @base, booted by this process before it
 * reloaded the code (the arena stays). Returns 0, or -EINVAL when @base holds
 * no machine of this MACHINE_VERSION.
 */
int machine_adopt(void *base);

/*
 * Take a CPU slot for the calling process; again in the same process, its
 * slot. A slot whose process died is taken when no slot is free. Returns
 * the CPU number, -ENODEV without a machine or -EBUSY when every slot is
 * held by a live process.
 */
int machine_attach(void);
/* Give up the calling process's slot, if it holds one. */
void machine_detach(void);
/*
 * Free the slots of processes that died without detaching. Returns how many;
 * what those processes held elsewhere (kernel threads, allocator caches) is
 * the caller's to reap.
 */
int machine_reap(void);
/* The pid in CPU slot @cpu, 0 when free or out of range. */
uint32_t machine_cpu_pid(int cpu);

/*
 * Named pointers into the arena, for a process that re-finds the machine.
 * machine_root_set returns 0 (set or replaced), -ENODEV without a machine,
 * -ENAMETOOLONG or -ENOSPC (MACHINE_MAX_ROOTS names set); machine_root_get
 * returns NULL when @name is not set.
 */
int machine_root_set(const char *name, void *ptr);
void *machine_root_get(const char *name);

#endif
