/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * nw_supervisor (sandbox/supervisor.h): counters only the loader knows,
 * shown by the worker. The loader writes them through a shared mapping, the
 * worker gets a read-only fd (BPF_F_RDONLY: updates fail with EPERM, and
 * its seccomp filter allows no update command anyway).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include "privileged/loader.h"

int ldr_supstats_create(uint64_t **values, int *rdonly_fd)
{
	LIBBPF_OPTS(bpf_map_create_opts, copts, .map_flags = BPF_F_MMAPABLE);
	LIBBPF_OPTS(bpf_get_fd_by_id_opts, ropts, .open_flags = BPF_F_RDONLY);
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	void *p = MAP_FAILED;
	int fd, ro = -1, err;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NW_MAP_SUPERVISOR, sizeof(__u32), sizeof(uint64_t),
			    NW_SUP_MAX, &copts);
	if (fd < 0)
		return -errno;
	p = mmap(NULL, NW_SUP_MAX * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED || bpf_obj_get_info_by_fd(fd, &info, &len))
		goto fail;
	ro = bpf_map_get_fd_by_id_opts(info.id, &ropts);
	if (ro < 0)
		goto fail;
	close(fd); /* the mapping keeps the map */
	*values = p;
	*rdonly_fd = ro;
	return 0;
fail:
	err = -errno;
	if (p != MAP_FAILED)
		munmap(p, NW_SUP_MAX * sizeof(uint64_t));
	close(fd);
	return err;
}
