/* Helpers shared by the DNS unit tests: corpus files and a message builder. */
#ifndef NW_TEST_DNS_TESTLIB_H
#define NW_TEST_DNS_TESTLIB_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DNS_CORPUS_DIR "tests/data/dns"
#define DNS_CORPUS_MAX 64

struct dns_corpus_file {
	char name[96];
	uint8_t bytes[4096];
	size_t len;
};

/* Read the whole file into f->bytes: 0 or -1. */
static inline int dns_corpus_read(const char *path, struct dns_corpus_file *f)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, f->bytes, sizeof(f->bytes));
	close(fd);
	if (n <= 0 || (size_t)n == sizeof(f->bytes))
		return -1;
	f->len = (size_t)n;
	return 0;
}

static int dns_corpus_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dns_corpus_file *)a)->name, ((const struct dns_corpus_file *)b)->name);
}

/* Every file of the corpus whose name ends with suffix, sorted by name. */
static inline size_t dns_corpus_load(const char *suffix, struct dns_corpus_file *out, size_t max)
{
	DIR *d = opendir(DNS_CORPUS_DIR);
	struct dirent *de;
	size_t n = 0, sl = strlen(suffix);

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		size_t l = strlen(de->d_name);
		char path[512];

		if (l <= sl || strcmp(de->d_name + l - sl, suffix) || l >= sizeof(out[n].name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", DNS_CORPUS_DIR, de->d_name);
		memcpy(out[n].name, de->d_name, l + 1);
		if (!dns_corpus_read(path, &out[n]))
			n++;
	}
	closedir(d);
	qsort(out, n, sizeof(*out), dns_corpus_cmp);
	return n;
}

/* Message builder: append bytes, big-endian integers and dotted names. */
struct dns_builder {
	uint8_t b[70000];
	size_t len;
};

static inline void db_reset(struct dns_builder *w)
{
	w->len = 0;
}

static inline void db_bytes(struct dns_builder *w, const void *p, size_t n)
{
	memcpy(w->b + w->len, p, n);
	w->len += n;
}

static inline void db_u8(struct dns_builder *w, uint8_t v)
{
	w->b[w->len++] = v;
}

static inline void db_u16(struct dns_builder *w, uint16_t v)
{
	db_u8(w, (uint8_t)(v >> 8));
	db_u8(w, (uint8_t)v);
}

static inline void db_u32(struct dns_builder *w, uint32_t v)
{
	db_u16(w, (uint16_t)(v >> 16));
	db_u16(w, (uint16_t)v);
}

static inline void db_header(struct dns_builder *w, uint16_t id, uint16_t flags, uint16_t qd,
			     uint16_t an, uint16_t ns, uint16_t ar)
{
	db_u16(w, id);
	db_u16(w, flags);
	db_u16(w, qd);
	db_u16(w, an);
	db_u16(w, ns);
	db_u16(w, ar);
}

/* "www.example.com" as labels plus the root label; "" is the root. */
static inline void db_name(struct dns_builder *w, const char *dotted)
{
	while (*dotted) {
		const char *dot = strchr(dotted, '.');
		size_t l = dot ? (size_t)(dot - dotted) : strlen(dotted);

		db_u8(w, (uint8_t)l);
		db_bytes(w, dotted, l);
		dotted += l + (dot ? 1 : 0);
	}
	db_u8(w, 0);
}

static inline void db_ptr(struct dns_builder *w, uint16_t target)
{
	db_u16(w, (uint16_t)(0xC000 | target));
}

/* type, class, ttl, rdlength (the rdata follows with db_bytes) */
static inline void db_rr_fixed(struct dns_builder *w, uint16_t type, uint16_t rclass, uint32_t ttl,
			       uint16_t rdlen)
{
	db_u16(w, type);
	db_u16(w, rclass);
	db_u32(w, ttl);
	db_u16(w, rdlen);
}

/* Patch a 16-bit field at off (e.g. a count or an rdlength). */
static inline void db_put16(struct dns_builder *w, size_t off, uint16_t v)
{
	w->b[off] = (uint8_t)(v >> 8);
	w->b[off + 1] = (uint8_t)v;
}

#endif
