/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A bounded open-addressing hash map with fixed-size keys and values
 * (linear probing, backward-shift deletion: no tombstones). Used for the
 * per-client counter snapshots and the sets the worker keeps per connection.
 */
#ifndef NW_KEYMAP_H
#define NW_KEYMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYMAP_KEY_MAX 64

struct keymap;

/* NULL + errno. max_entries is a hard limit: keymap_put fails beyond it. */
struct keymap *keymap_new(size_t key_size, size_t value_size, size_t max_entries);
void keymap_free(struct keymap *m); /* accepts NULL */

/* The value for key, or NULL. */
void *keymap_get(const struct keymap *m, const void *key);
/*
 * The value slot for key, inserting a zeroed one if absent (*created set).
 * NULL + errno (ENOSPC at max_entries, ENOMEM) on failure.
 */
void *keymap_put(struct keymap *m, const void *key, bool *created);
/* 0 if removed, -ENOENT if absent. */
int keymap_del(struct keymap *m, const void *key);
void keymap_clear(struct keymap *m);
size_t keymap_len(const struct keymap *m);

/*
 * Iterate: start with *pos = 0; returns false at the end. Deleting the
 * current entry during iteration is allowed with keymap_iter_del.
 */
bool keymap_iter(const struct keymap *m, size_t *pos, const void **key, void **value);
/* Delete the entry keymap_iter just returned; iteration continues correctly. */
void keymap_iter_del(struct keymap *m, size_t *pos);

#endif
