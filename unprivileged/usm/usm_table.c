/*
 * Bounded chained hash table. Nodes are allocated one by one (a table sized
 * for the worst case would pin memory no one uses); the bucket array doubles
 * as entries grow, up to the power of two above max_entries.
 */
#include "unprivileged/usm/usm_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_MIN_BUCKETS 64u
#define TABLE_MAX_ENTRIES (1u << 24)
#define TABLE_MAX_KEY 1024

struct table_node {
	struct table_node *next;
	uint64_t hash;
	/* key_size bytes, padding to 16, then val_size bytes */
	_Alignas(16) unsigned char data[];
};

struct usm_table {
	struct table_node **buckets;
	uint32_t nbuckets; /* power of two */
	uint32_t count;
	uint32_t max_entries;
	size_t key_size;
	size_t val_off;
	size_t val_size;
	uint8_t hash_key[16];
};

/* --- SipHash-2-4 (Aumasson, Bernstein) ----------------------------------- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                   \
	do {                                                                       \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);          \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                             \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                             \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);          \
	} while (0)

static uint64_t load_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

uint64_t usm_siphash(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)len << 56, m;
	size_t i, tail = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		m = load_le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; j < tail; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* --- table ----------------------------------------------------------------- */

/*
 * Keys are fixed-size and mostly zero padding (a path or topic buffer), so the
 * hash covers them up to their last non-zero byte: for keys of one size that
 * is still one-to-one, and it is a fraction of the bytes.
 */
static uint64_t key_hash(const struct usm_table *t, const void *key)
{
	const uint8_t *k = key;
	size_t n = t->key_size;
	uint64_t w;

	while (n >= 8) {
		memcpy(&w, k + n - 8, sizeof(w));
		if (w)
			break;
		n -= 8;
	}
	while (n && !k[n - 1])
		n--;
	return usm_siphash(t->hash_key, k, n);
}

struct usm_table *usm_table_new(size_t key_size, size_t val_size, uint32_t max_entries,
				const uint8_t hash_key[16])
{
	struct usm_table *t;

	if (!key_size || key_size > TABLE_MAX_KEY || !val_size || val_size > (1u << 20) ||
	    !max_entries || max_entries > TABLE_MAX_ENTRIES) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->nbuckets = TABLE_MIN_BUCKETS;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return NULL;
	}
	t->max_entries = max_entries;
	t->key_size = key_size;
	t->val_off = (key_size + 15) & ~(size_t)15;
	t->val_size = val_size;
	memcpy(t->hash_key, hash_key, sizeof(t->hash_key));
	return t;
}

void usm_table_free(struct usm_table *t, void (*val_release)(void *val))
{
	if (!t)
		return;
	for (uint32_t b = 0; b < t->nbuckets; b++) {
		struct table_node *n = t->buckets[b], *next;

		for (; n; n = next) {
			next = n->next;
			if (val_release)
				val_release(n->data + t->val_off);
			free(n);
		}
	}
	free(t->buckets);
	free(t);
}

static struct table_node **table_find(struct usm_table *t, const void *key, uint64_t h)
{
	struct table_node **pp = &t->buckets[h & (t->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && !memcmp((*pp)->data, key, t->key_size))
			return pp;
	return pp;
}

void *usm_table_get(struct usm_table *t, const void *key)
{
	uint64_t h = key_hash(t, key);
	struct table_node *n = *table_find(t, key, h);

	return n ? n->data + t->val_off : NULL;
}

/* Doubling is best effort: a longer chain is better than a lost entry. */
static void table_grow(struct usm_table *t)
{
	uint32_t nb = t->nbuckets * 2;
	struct table_node **buckets;

	if (t->count < t->nbuckets || nb > TABLE_MAX_ENTRIES * 2u)
		return;
	buckets = calloc(nb, sizeof(*buckets));
	if (!buckets)
		return;
	for (uint32_t b = 0; b < t->nbuckets; b++) {
		struct table_node *n = t->buckets[b], *next;

		for (; n; n = next) {
			next = n->next;
			n->next = buckets[n->hash & (nb - 1)];
			buckets[n->hash & (nb - 1)] = n;
		}
	}
	free(t->buckets);
	t->buckets = buckets;
	t->nbuckets = nb;
}

void *usm_table_upsert(struct usm_table *t, const void *key, bool *created)
{
	uint64_t h = key_hash(t, key);
	struct table_node **pp = table_find(t, key, h), *n;

	if (*pp) {
		*created = false;
		return (*pp)->data + t->val_off;
	}
	if (t->count >= t->max_entries) {
		errno = ENOSPC;
		return NULL;
	}
	n = calloc(1, sizeof(*n) + t->val_off + t->val_size);
	if (!n)
		return NULL;
	n->hash = h;
	memcpy(n->data, key, t->key_size);
	n->next = t->buckets[h & (t->nbuckets - 1)];
	t->buckets[h & (t->nbuckets - 1)] = n;
	t->count++;
	table_grow(t);
	*created = true;
	return n->data + t->val_off;
}

int usm_table_del(struct usm_table *t, const void *key)
{
	uint64_t h = key_hash(t, key);
	struct table_node **pp = table_find(t, key, h), *n = *pp;

	if (!n)
		return -ENOENT;
	*pp = n->next;
	free(n);
	t->count--;
	return 0;
}

uint32_t usm_table_count(const struct usm_table *t) { return t->count; }
uint32_t usm_table_max(const struct usm_table *t) { return t->max_entries; }

int usm_table_scan(struct usm_table *t,
		   int (*cb)(const void *key, void *val, void *ctx), void *ctx)
{
	for (uint32_t b = 0; b < t->nbuckets; b++) {
		struct table_node **pp = &t->buckets[b];

		while (*pp) {
			struct table_node *n = *pp;
			int r = cb(n->data, n->data + t->val_off, ctx);

			if (r < 0)
				return r;
			if (r == USM_TABLE_DELETE) {
				*pp = n->next;
				free(n);
				t->count--;
			} else {
				pp = &n->next;
			}
		}
	}
	return 0;
}
