/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Open -> configure -> load -> attach one program set of bpf/conn.bpf.c (plus
 * the cg_* programs every set shares). Program, link and cgroup fds stay here.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "conn.h"
#include "conn.skel.h"
#include "privileged/loader.h"

#define LDR_MAX_LINKS 64
#define CONNS_MAX_ENTRIES 65536
#define RINGBUF_BYTES LDR_RINGBUF_BYTES

struct ldr_bpf {
	struct conn_bpf *skel;
	struct bpf_link *links[LDR_MAX_LINKS];
	size_t nlinks;
};

static __u32 conns_max_entries = CONNS_MAX_ENTRIES;

static __u32 rb_wakeup_bytes = LDR_RINGBUF_WAKEUP_BYTES;

void ldr_bpf_set_rb_wakeup(uint32_t bytes)
{
	rb_wakeup_bytes = bytes;
}

void ldr_bpf_set_conns_max(uint32_t n)
{
	conns_max_entries = n ? n : CONNS_MAX_ENTRIES;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static struct bpf_map *find_map(const struct ldr_bpf *b, const char *name)
{
	return bpf_object__find_map_by_name(b->skel->obj, name);
}

/* Autoload exactly the chosen set plus cg_*; returns how many of the set. */
static int select_programs(struct ldr_bpf *b, enum ldr_set set)
{
	struct bpf_program *prog;
	int n = 0;

	bpf_object__for_each_program(prog, b->skel->obj) {
		const char *name = bpf_program__name(prog);
		bool in_set = has_prefix(name, ldr_set_prefix(set));
		int err = bpf_program__set_autoload(prog, in_set || has_prefix(name, "cg_"));

		if (err)
			return err;
		n += in_set;
	}
	return n ? n : -ENOENT;
}

static int configure_maps(struct ldr_bpf *b, bool ringbuf)
{
	struct bpf_map *conns = find_map(b, NW_MAP_CONNS);
	struct bpf_map *rb = find_map(b, NW_MAP_CLOSED_RB);
	struct bpf_map *pb = find_map(b, NW_MAP_CLOSED_PB);
	int ncpus = libbpf_num_possible_cpus();
	long page = sysconf(_SC_PAGESIZE);

	if (!conns || !rb || !pb || !find_map(b, NW_MAP_TELEMETRY))
		return -ENOENT;
	if (ncpus < 0)
		return ncpus;
	/* The unused channel is still created (programs reference it): keep it minimal. */
	return bpf_map__set_max_entries(conns, conns_max_entries) ||
	       bpf_map__set_max_entries(rb, ringbuf ? RINGBUF_BYTES : (__u32)page) ||
	       bpf_map__set_max_entries(pb, (__u32)ncpus) ? -EINVAL : 0;
}

static int attach_programs(struct ldr_bpf *b, int cgroup_fd, struct ldr_bpf_fail *f)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, b->skel->obj) {
		struct bpf_link *link;

		if (!bpf_program__autoload(prog))
			continue;
		if (b->nlinks >= LDR_MAX_LINKS) {
			f->err = -E2BIG;
			snprintf(f->what, sizeof(f->what), "more than %d programs", LDR_MAX_LINKS);
			return f->err;
		}
		if (has_prefix(bpf_program__name(prog), "cg_"))
			link = bpf_program__attach_cgroup(prog, cgroup_fd);
		else
			link = bpf_program__attach(prog);
		if (!link) {
			f->err = -errno;
			snprintf(f->what, sizeof(f->what), "%s", bpf_program__section_name(prog));
			return f->err;
		}
		b->links[b->nlinks++] = link;
	}
	return 0;
}

struct ldr_bpf *ldr_bpf_start(enum ldr_set set, bool ringbuf, int cgroup_fd, struct ldr_bpf_fail *f)
{
	struct ldr_bpf *b;
	int err;

	memset(f, 0, sizeof(*f));
	b = calloc(1, sizeof(*b));
	if (!b) {
		f->err = -ENOMEM;
		snprintf(f->what, sizeof(f->what), "open");
		return NULL;
	}
	b->skel = conn_bpf__open();
	if (!b->skel) {
		err = -errno;
		snprintf(f->what, sizeof(f->what), "open");
		goto cleanup;
	}
	err = select_programs(b, set);
	if (err < 0) {
		snprintf(f->what, sizeof(f->what), "no %s* programs in the object", ldr_set_prefix(set));
		goto cleanup;
	}
	b->skel->rodata->nw_use_ringbuf = ringbuf;
	b->skel->rodata->nw_rb_wakeup_bytes = rb_wakeup_bytes;
	err = configure_maps(b, ringbuf);
	if (err) {
		snprintf(f->what, sizeof(f->what), "configure maps");
		goto cleanup;
	}
	err = conn_bpf__load(b->skel);
	if (err) {
		snprintf(f->what, sizeof(f->what), "load");
		goto cleanup;
	}
	f->loaded = true;
	err = attach_programs(b, cgroup_fd, f);
	if (err)
		goto cleanup;
	return b;
cleanup:
	f->err = err < 0 ? err : -EINVAL;
	ldr_bpf_destroy(b);
	return NULL;
}

void ldr_bpf_destroy(struct ldr_bpf *b)
{
	if (!b)
		return;
	while (b->nlinks)
		bpf_link__destroy(b->links[--b->nlinks]);
	conn_bpf__destroy(b->skel);
	free(b);
}

int ldr_bpf_map_fd(const struct ldr_bpf *b, const char *name)
{
	const struct bpf_map *map = find_map(b, name);

	return map ? bpf_map__fd(map) : -ENOENT;
}

/* A second fd on the map that the kernel only lets read. */
int ldr_bpf_map_fd_rdonly(const struct ldr_bpf *b, const char *name)
{
	return ldr_map_fd_rdonly(ldr_bpf_map_fd(b, name));
}

/*
 * Mount point of the first cgroup2 mount in mountinfo lines:
 * "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER".
 * Mount points with escaped characters are skipped.
 */
int ldr_cgroup2_root(FILE *mountinfo, char *buf, size_t len)
{
	char line[4096];

	while (fgets(line, sizeof(line), mountinfo)) {
		char *save = NULL, *field[5], *sep = strstr(line, " - ");
		int i;

		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		*sep = '\0';
		for (i = 0; i < 5; i++)
			if (!(field[i] = strtok_r(i ? NULL : line, " ", &save)))
				break;
		if (i < 5 || strchr(field[4], '\\') || field[4][0] != '/')
			continue;
		if (strlen(field[4]) >= len)
			return -ENAMETOOLONG;
		strcpy(buf, field[4]);
		return 0;
	}
	return -ENOENT;
}
