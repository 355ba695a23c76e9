/*
 * fiber.h - telling ASan, TSan and valgrind about green-thread switches.
 *
 * A switch goes G -> G (park_switch: the next G comes from the local
 * queue and runs the parked G's commit first thing), G -> g0 (nothing
 * local to run, or the main G exits) or g0 -> G (execute).  The
 * destination of each is a stack the sanitizers must be told about: a G's
 * slot or the M's pthread stack (g0).  Around each one:
 *   before the swap   rt_fiber_leave_*(): ASan start_switch_fiber with the
 *                     destination stack, TSan switch_to_fiber;
 *   after the swap    rt_fiber_arrive(): ASan finish_switch_fiber, in the
 *                     context that just resumed.
 * A G that exits passes NULL as its fake-stack slot so ASan frees it.
 * Without sanitizers every call here compiles to nothing.
 */
#ifndef GRUN_RT_FIBER_H
#define GRUN_RT_FIBER_H

#include "rt_internal.h"

#ifdef RT_SANITIZE_ADDRESS
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef RT_SANITIZE_THREAD
#include <sanitizer/tsan_interface.h>
#endif

static inline void rt_fiber_init_m(struct rt_m *m)
{
#ifdef RT_SANITIZE_THREAD
	m->tsan_g0 = __tsan_get_current_fiber();
#endif
	(void)m;
}

/* TSan fibers belong to stack slots, not Gs: a G reuses the fiber of
 * the slot it lives in (fibers are expensive, and TSan caps them at
 * about 8,000); stack.c destroys them when the stacks go. */
static inline void rt_fiber_init_g(struct rt_g *g)
{
#ifdef RT_SANITIZE_THREAD
	if (!g->stack->tsan_fiber)
		g->stack->tsan_fiber = __tsan_create_fiber(0);
	g->tsan_fiber = g->stack->tsan_fiber;
#endif
	(void)g;
}

/* Called once the dead G will never run again. */
static inline void rt_fiber_fini_g(struct rt_g *g)
{
#ifdef RT_SANITIZE_THREAD
	g->tsan_fiber = NULL;
#endif
	(void)g;
}

/* Before switching away from the running context.  save: where ASan
 * keeps the fake stack of the context being left (NULL if it will never
 * run again); [lo, lo+size): the destination stack; tsan_to: the
 * destination's TSan fiber. */
static inline void rt_fiber_leave(void **save, const void *lo, size_t size, void *tsan_to)
{
#ifdef RT_SANITIZE_ADDRESS
	__sanitizer_start_switch_fiber(save, lo, size);
#endif
#ifdef RT_SANITIZE_THREAD
	__tsan_switch_to_fiber(tsan_to, 0);
#endif
	(void)save; (void)lo; (void)size; (void)tsan_to;
}

static inline void *rt_fiber_of_g(struct rt_g *g)
{
#ifdef RT_SANITIZE_THREAD
	return g->tsan_fiber;
#else
	(void)g;
	return NULL;
#endif
}

static inline void *rt_fiber_of_g0(struct rt_m *m)
{
#ifdef RT_SANITIZE_THREAD
	return m->tsan_g0;
#else
	(void)m;
	return NULL;
#endif
}

/* In the context that resumed; fake is its own saved handle. */
static inline void rt_fiber_arrive(void *fake)
{
#ifdef RT_SANITIZE_ADDRESS
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
	(void)fake;
}

#endif
