// SPDX-License-Identifier: GPL-2.0
/*
 * The unit of bench/evcost: one tp_btf program on sock_send_length that does
 * nothing but count its runs. A hook's cost is reported as a multiple of this
 * one, measured in the same run on the same machine, so the figure does not
 * depend on how fast the machine or the kernel's trampoline is that day.
 *
 * The count is every run on every CPU, other processes' sends included;
 * evcost divides it by its own iterations to show how many runs an iteration
 * saw (1 on a quiet machine).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} evcost_runs SEC(".maps");

SEC("tp_btf/sock_send_length")
int BPF_PROG(evcost_send_length, struct sock *sk, int ret, int flags)
{
	__u32 zero = 0;
	__u64 *runs = bpf_map_lookup_elem(&evcost_runs, &zero);

	if (runs)
		*runs += 1; /* per-CPU slot: no other CPU writes it */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
