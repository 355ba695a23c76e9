/*
 * lock.h - the only way supervise/ takes a pthread mutex.
 *
 * Green threads may hold a mutex only for a few instructions and never
 * across a park: a parked G can resume on another OS thread (which would
 * then unlock a mutex it never locked), and another G on the same thread
 * would block the whole M on it.  sv_lock() and sv_unlock() tell the
 * runtime how many locks the running G holds (rt_lock_held()); rt_park
 * aborts with the G's name when it is not zero, as Go's scheduler throws
 * "schedule: holding locks".  So a broken rule is a crash in the tests,
 * not a rare hang in production.  supervise/HACKING.md lists every lock
 * and the order they nest in.
 */
#ifndef GRUN_SV_LOCK_H
#define GRUN_SV_LOCK_H
#include <pthread.h>
#include "rt.h"

static inline void sv_lock(pthread_mutex_t *mu)
{
	pthread_mutex_lock(mu);
	rt_lock_held(1);
}

static inline void sv_unlock(pthread_mutex_t *mu)
{
	rt_lock_held(-1);
	pthread_mutex_unlock(mu);
}
#endif
