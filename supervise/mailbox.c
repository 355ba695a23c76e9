/*
 * mailbox.c - see mailbox.h.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "supervise/lock.h"
#include "supervise/mailbox.h"
#include "supervise/xalloc.h"

int sv_mbox_init(struct sv_mailbox *mb)
{
	memset(mb, 0, sizeof *mb);
	pthread_mutex_init(&mb->mu, NULL);
	mb->wake = rt_chan_make(0, 1);
	return mb->wake ? 0 : -1;
}

void sv_mbox_destroy(struct sv_mailbox *mb)
{
	struct sv_msg *m;
	while ((m = sv_mbox_take(mb)))
		free(m);
	rt_chan_free(mb->wake);
	pthread_mutex_destroy(&mb->mu);
}

void sv_mbox_post(struct sv_mailbox *mb, const struct sv_msg *m)
{
	/* the copy ends with its text's string: most messages carry none,
	 * and thousands of jobs' ACK, STARTED and READY may be queued at
	 * once at the start (each free left a hole of the full size in the
	 * heap) */
	size_t len = strnlen(m->text, sizeof m->text - 1);
	struct sv_msg *copy = sv_xmalloc(offsetof(struct sv_msg, text) + len + 1, "a message");
	memcpy(copy, m, offsetof(struct sv_msg, text));
	memcpy(copy->text, m->text, len);
	copy->text[len] = '\0';
	copy->next = NULL;
	/* The token goes in under the lock too: once the owner can take the
	 * message it may end, and the mailbox be freed (a node retired by a
	 * reload), so the sender must be done with the wake channel by then.
	 * A select with a past deadline never parks. */
	struct rt_case c = { mb->wake, RT_SEND, NULL, 0 };
	sv_lock(&mb->mu);
	if (mb->tail)
		mb->tail->next = copy;
	else
		mb->head = copy;
	mb->tail = copy;
	rt_select(&c, 1, 0); /* a token already waiting is enough */
	sv_unlock(&mb->mu);
}

struct sv_msg *sv_mbox_take(struct sv_mailbox *mb)
{
	sv_lock(&mb->mu);
	struct sv_msg *m = mb->head;
	if (m) {
		mb->head = m->next;
		if (!mb->head)
			mb->tail = NULL;
	}
	sv_unlock(&mb->mu);
	return m;
}

struct sv_msg *sv_mbox_get(struct sv_mailbox *mb, int64_t deadline)
{
	for (;;) {
		struct sv_msg *m = sv_mbox_take(mb);
		if (m)
			return m;
		struct rt_case c = { mb->wake, RT_RECV, NULL, 0 };
		if (rt_select(&c, 1, deadline) < 0)
			return sv_mbox_take(mb); /* timed out: one last look */
	}
}
