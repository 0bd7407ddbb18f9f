// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Bounded open-addressing hash map (unprivileged/keymap.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unprivileged/keymap.h"

#define KEYMAP_MIN_CAP 16

struct keymap {
	size_t key_size, value_size, stride; /* stride: used byte + key + value, aligned */
	size_t cap, len, max_entries;        /* cap: power of two, load kept <= 1/2 */
	unsigned char *slots;
};

static uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	/* fmix64: FNV's low bits are weak for keys that differ in high bytes */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static inline unsigned char *slot(const struct keymap *m, size_t i)
{
	return m->slots + i * m->stride;
}

static inline void *slot_key(const struct keymap *m, unsigned char *s)
{
	(void)m;
	return s + 8;
}

static inline void *slot_val(const struct keymap *m, unsigned char *s)
{
	return s + 8 + ((m->key_size + 7) & ~(size_t)7);
}

struct keymap *keymap_new(size_t key_size, size_t value_size, size_t max_entries)
{
	struct keymap *m;

	if (!key_size || key_size > KEYMAP_KEY_MAX || !max_entries || max_entries > (1u << 28)) {
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->key_size = key_size;
	m->value_size = value_size;
	m->stride = 8 + ((key_size + 7) & ~(size_t)7) + ((value_size + 7) & ~(size_t)7);
	m->max_entries = max_entries;
	m->cap = KEYMAP_MIN_CAP;
	m->slots = calloc(m->cap, m->stride);
	if (!m->slots) {
		free(m);
		return NULL;
	}
	return m;
}

void keymap_free(struct keymap *m)
{
	if (!m)
		return;
	free(m->slots);
	free(m);
}

size_t keymap_len(const struct keymap *m)
{
	return m ? m->len : 0;
}

void keymap_clear(struct keymap *m)
{
	memset(m->slots, 0, m->cap * m->stride);
	m->len = 0;
}

/* Index of key's slot, or of the empty slot where it would go. */
static size_t find_slot(const struct keymap *m, const void *key, uint64_t h)
{
	size_t mask = m->cap - 1, i = h & mask;

	for (;;) {
		unsigned char *s = slot(m, i);
		if (!s[0] || !memcmp(slot_key(m, s), key, m->key_size))
			return i;
		i = (i + 1) & mask;
	}
}

void *keymap_get(const struct keymap *m, const void *key)
{
	unsigned char *s;

	if (!m || !key)
		return NULL;
	s = slot(m, find_slot(m, key, hash_bytes(key, m->key_size)));
	return s[0] ? slot_val(m, s) : NULL;
}

static int grow(struct keymap *m)
{
	size_t old_cap = m->cap;
	unsigned char *old = m->slots;

	m->slots = calloc(old_cap * 2, m->stride);
	if (!m->slots) {
		m->slots = old;
		return -ENOMEM;
	}
	m->cap = old_cap * 2;
	for (size_t i = 0; i < old_cap; i++) {
		unsigned char *s = old + i * m->stride;
		if (s[0]) {
			size_t j = find_slot(m, slot_key(m, s), hash_bytes(slot_key(m, s), m->key_size));
			memcpy(slot(m, j), s, m->stride);
		}
	}
	free(old);
	return 0;
}

void *keymap_put(struct keymap *m, const void *key, bool *created)
{
	uint64_t h;
	unsigned char *s;

	if (created)
		*created = false;
	if (!m || !key) {
		errno = EINVAL;
		return NULL;
	}
	h = hash_bytes(key, m->key_size);
	s = slot(m, find_slot(m, key, h));
	if (s[0])
		return slot_val(m, s);
	if (m->len >= m->max_entries) {
		errno = ENOSPC;
		return NULL;
	}
	if ((m->len + 1) * 2 > m->cap) {
		if (grow(m)) {
			errno = ENOMEM;
			return NULL;
		}
		s = slot(m, find_slot(m, key, h));
	}
	memset(s, 0, m->stride);
	s[0] = 1;
	memcpy(slot_key(m, s), key, m->key_size);
	m->len++;
	if (created)
		*created = true;
	return slot_val(m, s);
}

/* Backward-shift deletion of slot i. */
static void del_slot(struct keymap *m, size_t i)
{
	size_t mask = m->cap - 1, j = i;

	for (;;) {
		unsigned char *sj;
		size_t home;

		j = (j + 1) & mask;
		sj = slot(m, j);
		if (!sj[0])
			break;
		home = hash_bytes(slot_key(m, sj), m->key_size) & mask;
		/* move j back to i unless its home lies cyclically in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			memcpy(slot(m, i), sj, m->stride);
			i = j;
		}
	}
	memset(slot(m, i), 0, m->stride);
	m->len--;
}

int keymap_del(struct keymap *m, const void *key)
{
	size_t i;

	if (!m || !key)
		return -EINVAL;
	i = find_slot(m, key, hash_bytes(key, m->key_size));
	if (!slot(m, i)[0])
		return -ENOENT;
	del_slot(m, i);
	return 0;
}

bool keymap_iter(const struct keymap *m, size_t *pos, const void **key, void **value)
{
	if (!m)
		return false;
	while (*pos < m->cap) {
		unsigned char *s = slot(m, (*pos)++);
		if (s[0]) {
			if (key)
				*key = slot_key(m, s);
			if (value)
				*value = slot_val(m, s);
			return true;
		}
	}
	return false;
}

void keymap_iter_del(struct keymap *m, size_t *pos)
{
	if (!m || !*pos || !slot(m, *pos - 1)[0])
		return;
	(*pos)--;
	/* an entry shifted into this slot is visited next; one wrapped around
	 * from the start of the table may be visited twice */
	del_slot(m, *pos);
}
