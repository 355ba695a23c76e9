/*
 * lock.c - a futex mutex (Drepper's "Futexes are tricky", mutex 2) and
 * futex wait/wake on 32-bit words.  Used for the scheduler lock, channel
 * locks and the poll lock; all are held for short stretches, so the lock
 * spins a little before it sleeps.
 */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rt_internal.h"

/* Both keep errno: they run inside runtime calls made by green threads,
 * whose errno must come out as it went in (EAGAIN from a futex whose
 * value changed is routine). */
void rt_futex_wait(_Atomic uint32_t *addr, uint32_t val)
{
	int saved = errno;
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
	errno = saved;
}

void rt_futex_wake(_Atomic uint32_t *addr, int n)
{
	int saved = errno;
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
	errno = saved;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

bool rt_trylock(struct rt_lock *l)
{
	uint32_t zero = 0;
	return atomic_compare_exchange_strong_explicit(&l->state, &zero, 1,
			memory_order_acquire, memory_order_relaxed);
}

void rt_lock(struct rt_lock *l)
{
	uint32_t c = 0;
	if (atomic_compare_exchange_strong_explicit(&l->state, &c, 1,
			memory_order_acquire, memory_order_relaxed))
		return;
	for (int spin = 0; spin < 100; spin++) {
		cpu_relax();
		c = 0;
		if (atomic_load_explicit(&l->state, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak_explicit(&l->state, &c, 1,
				memory_order_acquire, memory_order_relaxed))
			return;
	}
	/* Contended: mark "sleepers" (2) and sleep until we take it as 2. */
	if (atomic_exchange_explicit(&l->state, 2, memory_order_acquire) == 0)
		return;
	do
		rt_futex_wait(&l->state, 2);
	while (atomic_exchange_explicit(&l->state, 2, memory_order_acquire) != 0);
}

void rt_unlock(struct rt_lock *l)
{
	if (atomic_exchange_explicit(&l->state, 0, memory_order_release) == 2)
		rt_futex_wake(&l->state, 1);
}
