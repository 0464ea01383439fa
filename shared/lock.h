/*
 * Robust process-shared mutexes for structures in the shared segment.
 * A process that dies holding one leaves it "owner dead": the next
 * lock_acquire() returns LOCK_RECOVERED, the caller repairs (or resets)
 * the structure the lock guards, then calls lock_consistent(). Under a
 * lock: no syscalls, no allocation, no logging.
 */
#ifndef LOCK_H
#define LOCK_H

#include <pthread.h>

#define LOCK_OK		0
#define LOCK_RECOVERED	1

struct mtd_lock {
	pthread_mutex_t	 m;
};

/* Initialise a lock that lives in shared memory. 0 or -1. Master only. */
int	 lock_init(struct mtd_lock *);
/*
 * Take <l>. Returns LOCK_OK, or LOCK_RECOVERED when the previous owner
 * died holding it: the caller holds the lock, must repair the guarded
 * data, call lock_consistent() and log after releasing.
 */
int	 lock_acquire(struct mtd_lock *l);
/* Non-blocking: LOCK_OK, LOCK_RECOVERED, or -1 when busy. */
int	 lock_try(struct mtd_lock *l);
void	 lock_consistent(struct mtd_lock *l);
void	 lock_release(struct mtd_lock *l);

#endif /* LOCK_H */
