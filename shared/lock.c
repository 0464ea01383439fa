/*
 * Robust, process-shared pthread mutexes. The recovery protocol
 * (EOWNERDEAD -> repair -> consistent) is the caller's: only it knows
 * what the dead owner may have left half-done.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "lock.h"
#include "log.h"

int
lock_init(struct mtd_lock *l)
{
	pthread_mutexattr_t	 a;
	int			 rc = -1;

	if (pthread_mutexattr_init(&a) != 0)
		return -1;
	if (pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0)
		goto out;
	if (pthread_mutex_init(&l->m, &a) == 0)
		rc = 0;
out:
	pthread_mutexattr_destroy(&a);
	return rc;
}

static int
lock_result(struct mtd_lock *l, int rc)
{
	switch (rc) {
	case 0:
		return LOCK_OK;
	case EOWNERDEAD:
		return LOCK_RECOVERED;
	case EBUSY:
		return -1;
	case ENOTRECOVERABLE:
		/*
		 * Someone got EOWNERDEAD and unlocked without marking the
		 * mutex consistent: a bug. Nothing can take it any more.
		 */
		log_error("shared lock %p not recoverable", (void *)l);
		abort();
	default:
		errno = rc;
		log_warn("shared lock %p", (void *)l);
		abort();
	}
}

int
lock_acquire(struct mtd_lock *l)
{
	return lock_result(l, pthread_mutex_lock(&l->m));
}

int
lock_try(struct mtd_lock *l)
{
	return lock_result(l, pthread_mutex_trylock(&l->m));
}

void
lock_consistent(struct mtd_lock *l)
{
	pthread_mutex_consistent(&l->m);
}

void
lock_release(struct mtd_lock *l)
{
	pthread_mutex_unlock(&l->m);
}
