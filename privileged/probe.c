/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Feature probes deciding which program set can run. Each probe asks the
 * kernel for the feature itself, never for its version.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "privileged/loader.h"

/* tp_btf needs the BTF typedef the kernel generates for the tracepoint. */
static void probe_tp_btf(struct ldr_probe *p, const struct btf *vmlinux)
{
	bool ok = vmlinux && btf__find_by_name_kind(vmlinux, "btf_trace_inet_sock_set_state",
						    BTF_KIND_TYPEDEF) > 0;

	p->ok[LDR_SET_TRACEPOINT] = ok;
	snprintf(p->why[LDR_SET_TRACEPOINT], sizeof(p->why[0]), "%s",
		 ok ? "tp_btf available" :
		 vmlinux ? "no btf_trace_inet_sock_set_state in vmlinux BTF" : "no vmlinux BTF");
}

/* fentry: load "r0 = 0; exit" as fentry on tcp_connect; the kernel decides. */
static void probe_fentry(struct ldr_probe *p, const struct btf *vmlinux)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY);
	char *why = p->why[LDR_SET_FENTRY];
	int id, fd;

	id = vmlinux ? btf__find_by_name_kind(vmlinux, "tcp_connect", BTF_KIND_FUNC) : -ENOENT;
	if (id <= 0) {
		snprintf(why, sizeof(p->why[0]), "fentry probe: no tcp_connect in vmlinux BTF");
		return;
	}
	opts.attach_btf_id = (__u32)id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "nw_probe_fentry", "GPL", insns, 2, &opts);
	if (fd < 0) {
		snprintf(why, sizeof(p->why[0]), "fentry probe load: %s", strerror(-fd));
		return;
	}
	close(fd);
	p->ok[LDR_SET_FENTRY] = true;
	snprintf(why, sizeof(p->why[0]), "fentry available");
}

/* kprobe: the kprobe PMU, or the legacy tracefs interface libbpf falls back to. */
static void probe_kprobe(struct ldr_probe *p)
{
	static const char *const paths[] = {
		"/sys/bus/event_source/devices/kprobe/type",
		"/sys/kernel/tracing/kprobe_events",
		"/sys/kernel/debug/tracing/kprobe_events",
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (!access(paths[i], F_OK)) {
			p->ok[LDR_SET_KPROBE] = true;
			snprintf(p->why[LDR_SET_KPROBE], sizeof(p->why[0]), "kprobes available (%s)", paths[i]);
			return;
		}
	}
	snprintf(p->why[LDR_SET_KPROBE], sizeof(p->why[0]), "no kprobe PMU and no kprobe_events");
}

void ldr_probe_run(struct ldr_probe *p)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();

	memset(p, 0, sizeof(*p));
	probe_tp_btf(p, vmlinux);
	probe_fentry(p, vmlinux);
	probe_kprobe(p);
	btf__free(vmlinux);
}

/*
 * auto: every set the probes found, tracepoint -> fentry -> kprobe.
 * explicit: the requested set first whatever the probes say (the kernel gives
 * the real reason if it fails), then the other available sets in auto order.
 */
size_t ldr_probe_plan(const struct ldr_probe *p, int attach, enum ldr_set order[LDR_SET_COUNT])
{
	size_t n = 0;

	if (attach >= 0 && attach < LDR_SET_COUNT)
		order[n++] = (enum ldr_set)attach;
	else if (attach != LDR_ATTACH_AUTO)
		return 0;
	for (int s = 0; s < LDR_SET_COUNT; s++)
		if (s != attach && p->ok[s])
			order[n++] = (enum ldr_set)s;
	return n;
}
