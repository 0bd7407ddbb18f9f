/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Keyed hash for the DNS tables. Their keys (addresses, names) come from
 * packets anyone on the host can send, so an unkeyed hash would let a tenant
 * pile every entry into one bucket: SipHash-1-3 with a per-table random key
 * (from getrandom) keeps bucket chains short whatever the input.
 */
#ifndef NW_DNS_HASH_H
#define NW_DNS_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

struct dns_hash_key {
	uint64_t k0, k1;
};

/*
 * The key: seed when it is not all zero, else from getrandom(). The worker's
 * seccomp policy kills on syscalls it does not list: create the tables
 * before the sandbox is applied, or pass a seed. Falls back to a fixed key
 * only if getrandom fails.
 */
static inline void dns_hash_key_init(struct dns_hash_key *key, const uint8_t seed[16])
{
	static const uint8_t zero[16];

	if (seed && memcmp(seed, zero, sizeof(zero))) {
		memcpy(key, seed, sizeof(*key));
		return;
	}
	if (getrandom(key, sizeof(*key), GRND_NONBLOCK) != (ssize_t)sizeof(*key)) {
		key->k0 = 0x736f6d6570736575ULL;
		key->k1 = 0x646f72616e646f6dULL;
	}
}

#define DNS_HASH_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define DNS_HASH_ROUND(v0, v1, v2, v3)                                                          \
	do {                                                                                    \
		v0 += v1; v1 = DNS_HASH_ROTL(v1, 13); v1 ^= v0; v0 = DNS_HASH_ROTL(v0, 32);    \
		v2 += v3; v3 = DNS_HASH_ROTL(v3, 16); v3 ^= v2;                                 \
		v0 += v3; v3 = DNS_HASH_ROTL(v3, 21); v3 ^= v0;                                 \
		v2 += v1; v1 = DNS_HASH_ROTL(v1, 17); v1 ^= v2; v2 = DNS_HASH_ROTL(v2, 32);    \
	} while (0)

/* SipHash-1-3 of data[0..len). */
static inline uint64_t dns_hash(const struct dns_hash_key *key, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t v0 = 0x736f6d6570736575ULL ^ key->k0, v1 = 0x646f72616e646f6dULL ^ key->k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ key->k0, v3 = 0x7465646279746573ULL ^ key->k1;
	uint64_t m, b = (uint64_t)len << 56;
	size_t left = len & 7;

	for (const uint8_t *end = p + (len - left); p != end; p += 8) {
		memcpy(&m, p, 8); /* little-endian hosts only matter for stability, not safety */
		v3 ^= m;
		DNS_HASH_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (size_t i = 0; i < left; i++)
		b |= (uint64_t)p[i] << (8 * i);
	v3 ^= b;
	DNS_HASH_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	DNS_HASH_ROUND(v0, v1, v2, v3);
	DNS_HASH_ROUND(v0, v1, v2, v3);
	DNS_HASH_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* Smallest power of two >= n (n <= 2^31). */
static inline size_t dns_hash_buckets(size_t n)
{
	size_t b = 16;

	while (b < n)
		b <<= 1;
	return b;
}

#endif
