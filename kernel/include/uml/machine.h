/*
 * The machine: one shared arena per application instance. Its first pages hold
 * this header; the rest is managed by kernel/mm. The arena is mapped before the
 * CPUs (processes) fork, so every pointer in it is valid in all of them.
 *
 * Nothing in the arena points at code: code addresses differ between processes
 * that load the library on their own and move when httpd reloads its modules.
 */
#ifndef UML_MACHINE_H
#define UML_MACHINE_H

#include <stdint.h>
#include "compiler.h"
#include "mm.h"
#include "sync.h"

#define MACHINE_MAGIC	0x554d4c6d61636831ULL /* "UMLmach1" */
/* Bumped with every change of a structure in the arena: a graceful restart
 * into a module with another layout must boot afresh, not adopt. */
#define MACHINE_VERSION 2
#define MACHINE_MAX_CPUS 256
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

	spinlock_t roots_lock; /* guards roots[] */
	struct machine_root roots[MACHINE_MAX_ROOTS];

	spinlock_t cpu_lock; /* guards cpu[] */
	struct cpu_slot cpu[MACHINE_MAX_CPUS];

	spinlock_t sched_lock; /* guards sched[] */
	struct sched_cpu *sched[MACHINE_MAX_CPUS];
	struct kmem_cache *kthread_cache; /* created by the first CPU, under sched_lock */
};

/* The machine this process is attached to (NULL before boot/attach). */
extern struct machine *machine;

#endif
