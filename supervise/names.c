/*
 * names.c - the name index of a struct sv_config: job, supervisor and
 * channel names to their indexes, in one open-addressing hash table.
 *
 * The loader adds each name once, when it creates the job, supervisor
 * or channel; every lookup (duplicates, needs, supervisor =, parent,
 * channels, JOB... selection, reloads) is then O(1) instead of a scan,
 * so a file of 60,000 jobs checks in well under a second.  A slot holds
 * the kind and the index only: names are compared in the config's own
 * arrays, which may move when they grow.  The table never shrinks;
 * sv_config_free() frees it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "supervise/config_internal.h"
#include "supervise/xalloc.h"

struct sv_names {
	uint32_t *slots;   /* 0 empty, else (kind << 29 | index) + 1 */
	size_t cap;        /* a power of two, at least twice used */
	size_t used;
};

#define KIND_SHIFT 29
#define INDEX_MASK ((1u << KIND_SHIFT) - 1)

static int kind_code(char kind)
{
	return kind == 'j' ? 1 : kind == 's' ? 2 : 3;
}

static const char *name_at(const struct sv_config *cfg, int code, uint32_t i)
{
	return code == 1 ? cfg->jobs[i].name : code == 2 ? cfg->sups[i].name : cfg->chans[i].name;
}

/* FNV-1a of the kind and the name. */
static uint64_t hash(int code, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)code;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

/* The slot holding name, or the empty slot where it would go. */
static size_t probe(const struct sv_config *cfg, const struct sv_names *t, int code, const char *name)
{
	size_t mask = t->cap - 1, at = (size_t)hash(code, name) & mask;
	for (;; at = (at + 1) & mask) {
		uint32_t s = t->slots[at];
		if (s == 0)
			return at;
		s--;
		if ((int)(s >> KIND_SHIFT) == code &&
		    strcmp(name_at(cfg, code, s & INDEX_MASK), name) == 0)
			return at;
	}
}

static void grow(struct sv_config *cfg, struct sv_names *t)
{
	uint32_t *old = t->slots;
	size_t oldcap = t->cap;
	t->cap = oldcap ? oldcap * 2 : 64;
	t->slots = sv_xcalloc(t->cap, sizeof *t->slots, "the name index");
	for (size_t i = 0; i < oldcap; i++) {
		if (!old[i])
			continue;
		uint32_t s = old[i] - 1;
		int code = (int)(s >> KIND_SHIFT);
		t->slots[probe(cfg, t, code, name_at(cfg, code, s & INDEX_MASK))] = old[i];
	}
	free(old);
}

int sv_names_find(const struct sv_config *cfg, char kind, const char *name)
{
	const struct sv_names *t = cfg->names;
	if (!t || !t->cap)
		return -1;
	int code = kind_code(kind);
	uint32_t s = t->slots[probe(cfg, t, code, name)];
	return s ? (int)((s - 1) & INDEX_MASK) : -1;
}

void sv_names_add(struct sv_config *cfg, char kind, int index)
{
	if (!cfg->names)
		cfg->names = sv_xcalloc(1, sizeof *cfg->names, "the name index");
	struct sv_names *t = cfg->names;
	if ((uint32_t)index > INDEX_MASK)
		sv_fatal("sv_names_add: index %d out of range", index);
	if ((t->used + 1) * 2 > t->cap)
		grow(cfg, t);
	int code = kind_code(kind);
	size_t at = probe(cfg, t, code, name_at(cfg, code, (uint32_t)index));
	if (t->slots[at])
		sv_fatal("sv_names_add: %c %s added twice", kind, name_at(cfg, code, (uint32_t)index));
	t->slots[at] = ((uint32_t)code << KIND_SHIFT | (uint32_t)index) + 1;
	t->used++;
}

void sv_names_free(struct sv_config *cfg)
{
	if (cfg->names)
		free(cfg->names->slots);
	free(cfg->names);
	cfg->names = NULL;
}
