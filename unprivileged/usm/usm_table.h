/*
 * A bounded hash table with fixed-size keys and values, for the USM trackers'
 * per-connection state and aggregation keys. Keys are compared bytewise, so
 * callers zero their padding. Buckets are chosen by SipHash-2-4 under a
 * per-table key: keys come from traced traffic, and an attacker who can pick
 * paths or topic names must not be able to pile them into one chain.
 */
#ifndef NW_USM_TABLE_H
#define NW_USM_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct usm_table;

/* A value never moves while it is in the table. NULL with errno EINVAL
 * (sizes 0, key over 1024 bytes, max_entries 0 or over 1<<24) or ENOMEM. */
struct usm_table *usm_table_new(size_t key_size, size_t val_size, uint32_t max_entries,
				const uint8_t hash_key[16]);
/* val_release, if given, is called on each value first. Accepts NULL. */
void usm_table_free(struct usm_table *t, void (*val_release)(void *val));

void *usm_table_get(struct usm_table *t, const void *key);
/* The value under key, inserted zeroed if absent (*created tells which).
 * NULL with errno ENOSPC when max_entries are in use, or ENOMEM. */
void *usm_table_upsert(struct usm_table *t, const void *key, bool *created);
/* 0, or -ENOENT. Release what the value owns before. */
int usm_table_del(struct usm_table *t, const void *key);
uint32_t usm_table_count(const struct usm_table *t);
uint32_t usm_table_max(const struct usm_table *t);

enum usm_table_verdict {
	USM_TABLE_KEEP = 0,
	USM_TABLE_DELETE = 1, /* the callback released what the value owns */
};

/* Calls cb on every entry; cb returns an enum usm_table_verdict, or a negative
 * errno that stops the scan and is returned. */
int usm_table_scan(struct usm_table *t,
		   int (*cb)(const void *key, void *val, void *ctx), void *ctx);

/* SipHash-2-4 of data under key; exported for the tests. */
uint64_t usm_siphash(const uint8_t key[16], const void *data, size_t len);

#endif /* NW_USM_TABLE_H */
