/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Perf-buffer mode: one BPF_OUTPUT software event per possible CPU, stored in
 * the perf event array at index cpu. The worker mmaps and enables them; the
 * loader only opens them (perf_event_open needs privileges the worker lacks).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>
#include <bpf/bpf.h>
#include "privileged/loader.h"

/* fds[0..ncpus-1] on success; on failure nothing stays open or in the map. */
int ldr_perf_open(int map_fd, int *fds, size_t ncpus)
{
	struct perf_event_attr attr;
	size_t cpu;
	int err = 0;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_BPF_OUTPUT;
	attr.sample_type = PERF_SAMPLE_RAW;
	attr.sample_period = 1;
	/* wake the worker each time half the CPU's buffer has been written, not
	 * per record: it reads the buffers on its drain timer and before every
	 * query. (Perf counts bytes written since the last wakeup, not bytes
	 * waiting: unlike the ring buffer's, these wakeups grow with the rate.) */
	attr.watermark = 1;
	attr.wakeup_watermark = (__u32)(LDR_PERF_PAGES * sysconf(_SC_PAGESIZE) / LDR_PERF_WATERMARK_DIV);
	if (!ncpus || ncpus > NW_MANIFEST_MAX_FDS)
		return -EINVAL;
	for (cpu = 0; cpu < ncpus; cpu++) {
		__u32 key = (__u32)cpu;
		long fd = syscall(SYS_perf_event_open, &attr, -1, (int)cpu, -1, PERF_FLAG_FD_CLOEXEC);

		if (fd < 0) {
			err = -errno;
			break;
		}
		fds[cpu] = (int)fd;
		if (bpf_map_update_elem(map_fd, &key, &fds[cpu], BPF_ANY)) {
			err = -errno;
			close(fds[cpu]);
			fds[cpu] = -1;
			break;
		}
	}
	if (!err)
		return 0;
	while (cpu--) {
		__u32 key = (__u32)cpu;

		bpf_map_delete_elem(map_fd, &key);
		close(fds[cpu]);
		fds[cpu] = -1;
	}
	return err;
}
