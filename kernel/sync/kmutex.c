/*
 * Sleeping locks between processes: robust, process-shared pthread mutexes.
 * glibc keeps a per-thread list of robust mutexes held, and the host kernel
 * walks it when a thread dies, so a holder killed by SIGKILL hands the mutex
 * to the next locker with EOWNERDEAD instead of leaving it held for ever.
 */
#include <errno.h>

#include "uml/host.h"
#include "uml/sync.h"

int kmutex_init_rank(kmutex_t *m, enum lock_rank rank)
{
	pthread_mutexattr_t a;
	int err;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	err = pthread_mutex_init(&m->m, &a);
	pthread_mutexattr_destroy(&a);
	atomic_store(&m->recovered, 0);
	m->rank = rank;
	return -err;
}

int kmutex_lock(kmutex_t *m)
{
	int err;

	spin_order_acquire(m, m->rank, false);
	err = pthread_mutex_lock(&m->m);
	if (err == EOWNERDEAD) {
		pthread_mutex_consistent(&m->m);
		atomic_fetch_add(&m->recovered, 1);
		host_fault_point();
		return -EOWNERDEAD;
	}
	if (!err)
		host_fault_point();
	if (err)
		spin_order_release(m, m->rank);
	return -err;
}

void kmutex_unlock(kmutex_t *m)
{
	host_fault_point();
	spin_order_release(m, m->rank);
	pthread_mutex_unlock(&m->m);
}
