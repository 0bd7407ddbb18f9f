/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The privileged loader's internal interfaces. Everything behind these runs as
 * root: no parsing of traced data, every fd it creates is O_CLOEXEC, and only
 * main.c and supervise.c log.
 */
#ifndef NW_PRIV_LOADER_H
#define NW_PRIV_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "sandbox/manifest.h"
#include "sandbox/limits.h"
#include "sandbox/seccomp_policy.h"
#include "sandbox/supervisor.h"

/* Program sets, in the order auto mode tries them. */
enum ldr_set {
	LDR_SET_TRACEPOINT = 0,
	LDR_SET_FENTRY,
	LDR_SET_KPROBE,
	LDR_SET_COUNT,
};

#define LDR_ATTACH_AUTO (-1)
#define LDR_MAX_IDS 32            /* --allow-uid/--allow-gid entries (RPC_MAX_ALLOW) */
#define LDR_SOCK_PATH_MAX 108     /* sizeof(sockaddr_un.sun_path) */
#define LDR_DEFAULT_SOCKET "/run/netwarden/netwarden.sock"
#define LDR_PATH_MAX 4096
#define LDR_CONFIG_MAX_BYTES (64 * 1024) /* --config file size */
#define LDR_CONFIG_LINE_MAX 1024
#define LDR_PERF_PAGES 256         /* 1 MiB per CPU with 4 KiB pages */
#define LDR_RINGBUF_BYTES (2 * 1024 * 1024) /* ~450 ms of records at 15,000 loopback conn/s */
/* The worker reads every event buffer on its drain timer (--drain-interval);
 * a buffer wakes it only when half full, against overflow under a burst. */
#define LDR_RINGBUF_WAKEUP_BYTES (LDR_RINGBUF_BYTES / 2)
#define LDR_PERF_WATERMARK_DIV 2   /* perf: wake per half a CPU's buffer written */

#define LDR_DNS_MAX_PORTS 8        /* NW_PKT_MAX_PORTS (bpf/capture.h) */
#define LDR_PKT_RING_BYTES (4 * 1024 * 1024) /* ~80 ms of records at 300,000 DNS packets/s */
/* the DNS ring wakes the worker at half full; else its drain timer reads it */
#define LDR_PKT_WAKEUP_BYTES (LDR_PKT_RING_BYTES / 2)

enum { LDR_EXIT_OK = 0, LDR_EXIT_FAIL = 1, LDR_EXIT_USAGE = 2 };

struct ldr_config {
	int attach;                   /* LDR_ATTACH_AUTO or enum ldr_set */
	bool perf_events;             /* --events=perf */
	uint32_t rb_wakeup_bytes;     /* --ringbuf-wakeup-bytes */
	char rpc_socket[LDR_SOCK_PATH_MAX];
	gid_t rpc_gid;
	uid_t worker_uid;
	gid_t worker_gid;
	const char *worker_path;      /* NULL: netwarden-worker next to the loader */
	uid_t allow_uids[LDR_MAX_IDS];
	size_t n_allow_uids;
	gid_t allow_gids[LDR_MAX_IDS];
	size_t n_allow_gids;
	bool test_hooks;
	bool verbose;
	bool help;
	struct nw_limits limits;      /* --max-*, --*-timeout, --client-expiry or the config file */
	const char *config_path;      /* --config, NULL if none */
	enum nw_seccomp_mode seccomp_mode; /* --seccomp=enforce|audit (worker and loader) */
	bool dns_off;                 /* --dns=off */
	bool dns_classic;             /* --dns-filter=classic */
	uint16_t dns_ports[LDR_DNS_MAX_PORTS]; /* --dns-ports (default 53) */
	size_t n_dns_ports;
	bool usm_http;                /* --http=on|off (default on) */
	bool usm_kafka;               /* --kafka=on|off (default off, as Datadog) */
	uint32_t usm_fragment_bytes;  /* --usm-fragment-bytes */
	uint32_t usm_max_flows;       /* --usm-max-flows */
	char worker_path_buf[LDR_PATH_MAX]; /* worker_path when it came from the config file */
};

/* log.c: "netwarden: ..." on stderr */
extern bool ldr_verbose;
void ldr_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ldr_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* flags.c */
int ldr_flags_parse(struct ldr_config *cfg, int argc, char **argv, char *err, size_t errlen);
void ldr_flags_usage(FILE *f);
/* Read a config file into cfg (key = value lines, see README). 0 or -EINVAL with
 * "PATH:LINE: problem" in err. ldr_flags_parse calls it for --config. */
int ldr_config_file(struct ldr_config *cfg, const char *path, char *err, size_t errlen);
const char *ldr_set_name(enum ldr_set set);   /* "tracepoint", "fentry", "kprobe" */
const char *ldr_set_prefix(enum ldr_set set); /* "tp_", "fe_", "kp_" */

/* Worker argv (NULL-terminated) built into strs; 0 or -ENOSPC. */
#define LDR_WORKER_ARGV_MAX (12 + NW_LIMIT_COUNT)
struct ldr_worker_args {
	char *argv[LDR_WORKER_ARGV_MAX];
	char strs[2048];
};
int ldr_worker_args_build(struct ldr_worker_args *wa, const struct ldr_config *cfg, enum ldr_set set);

/* probe.c */
struct ldr_probe {
	bool ok[LDR_SET_COUNT];
	char why[LDR_SET_COUNT][96]; /* e.g. "tp_btf available" */
};
void ldr_probe_run(struct ldr_probe *p);
/* Sets to try, in order, for `attach` (LDR_ATTACH_AUTO or a set). Returns count. */
size_t ldr_probe_plan(const struct ldr_probe *p, int attach, enum ldr_set order[LDR_SET_COUNT]);

/* bpfload.c */
struct ldr_bpf;
struct ldr_bpf_fail {
	int err;        /* -errno */
	bool loaded;    /* false: open/configure/load failed; true: attach failed */
	char what[96];  /* stage or "section/name" of the program that failed */
};
struct ldr_bpf *ldr_bpf_start(enum ldr_set set, bool ringbuf, int cgroup_fd, struct ldr_bpf_fail *fail);
void ldr_bpf_set_conns_max(uint32_t n); /* nw_conns size for later starts; 0: default 65536 */
void ldr_bpf_set_rb_wakeup(uint32_t bytes); /* ring-buffer wakeup threshold for later starts */
void ldr_bpf_destroy(struct ldr_bpf *b); /* accepts NULL; detaches everything */
int ldr_bpf_map_fd(const struct ldr_bpf *b, const char *name);    /* borrowed fd or -errno */
int ldr_bpf_map_fd_rdonly(const struct ldr_bpf *b, const char *name); /* new fd or -errno */
int ldr_cgroup2_root(FILE *mountinfo, char *buf, size_t len);

/* pktsock.c: shared by the capture paths and bpfload.c */
int ldr_packet_socket_root_netns(void); /* AF_PACKET SOCK_DGRAM fd, protocol 0, or -errno */
int ldr_packet_socket_bind_all(int fd); /* ETH_P_ALL on every interface; 0 or -errno */
int ldr_map_fd_rdonly(int map_fd);      /* new read-only fd on the same map, or -errno */

/* perf.c: one BPF_OUTPUT perf event per CPU stored in the perf event array */
int ldr_perf_open(int map_fd, int *fds, size_t ncpus);

/* rpcsock.c */
int ldr_rpcsock_create(const char *path, gid_t gid); /* listening fd or -errno */
int ldr_rpcsock_remove(const char *path);

/* spawn.c */
struct ldr_fdset {
	int rpc_listen;
	int conns;
	int telemetry_rdonly;
	int ringbuf;              /* -1 in perf mode */
	int closed_batch_rdonly;  /* perf mode only, else -1 */
	int perf[NW_MANIFEST_MAX_FDS];
	size_t nperf;
	/* DNS capture, at most one of the two; fds 0-2 are stdio in the loader,
	 * so 0 (a zeroed set) means none, as does -1 */
	int pkt_ring;             /* eBPF mode: nw_pkt_rb */
	int pkt_tel_rdonly;       /* eBPF mode: nw_pkt_tel */
	int pkt_fwd;              /* classic mode: the worker's end of the forwarding pair */
	int sup_rdonly;           /* nw_supervisor (sandbox/supervisor.h), read-only; 0 or -1: none */
	/* USM capture (usmcap.c); 0 or -1 means none (fds 0-2 are stdio here) */
	int usm_ring;             /* nw_usm_rb */
	int usm_tel_rdonly;       /* nw_usm_tel */
	uint32_t usm_protocols;   /* USM_PROTO_BIT mask: the ring's manifest argument */
};
int ldr_manifest_build(const struct ldr_fdset *s, struct nw_manifest *m, int *fds);

struct ldr_worker {
	const char *path;
	char *const *argv;
	const struct nw_manifest *manifest;
	const int *fds;
	pid_t pid;                /* 0 while not running */
	int ctl_fd;               /* loader end of the control socket, -1 if none */
	uint64_t started_ms;
	unsigned int backoff_ms;  /* next restart delay */
	/* another fd served while supervising (classic DNS capture), when pump is set */
	int pump_fd;
	void (*pump)(void *ctx);
	void *pump_ctx;
	/* defence in depth: log relay, seccomp audit, counters the worker reports */
	int log_fd;               /* read end of the workers' stdout/stderr pipe; -1: inherit ours */
	int log_wfd;              /* its write end, the worker's fds 1 and 2 */
	bool audit;               /* --seccomp=audit: take the worker's listener */
	int notify_fd;            /* the running worker's seccomp listener, -1 */
	uint64_t *sup;            /* nw_supervisor values (mmap), or NULL: sup_local */
	uint64_t sup_local[NW_SUP_MAX];
	uint64_t last_exit_ms;    /* when the last worker died (restart time) */
};
/* Also closes the previous worker's ctl/notify fds; keeps ctl_fd open for the
 * new one (its audit handoff, and its way to tell that the loader died). */
int ldr_worker_start(struct ldr_worker *w);

/* capture.c: the DNS packet socket in the root netns and its filter */
struct ldr_capture_cfg {
	uint16_t ports[LDR_DNS_MAX_PORTS];
	size_t nports;
	bool classic;             /* classic BPF filter + forwarding instead of eBPF + ring */
	uint32_t ring_bytes;      /* eBPF mode: nw_pkt_rb size (power of two, pages) */
	uint32_t wakeup_bytes;    /* eBPF mode: wake the worker when this much waits */
};
struct ldr_capture;
struct ldr_dnsfwd;
/* NULL + errno, with the failing step in what */
struct ldr_capture *ldr_capture_start(const struct ldr_capture_cfg *cfg, char *what, size_t len);
void ldr_capture_destroy(struct ldr_capture *c); /* accepts NULL */
int ldr_capture_ring_fd(const struct ldr_capture *c); /* borrowed, or -ENOENT (classic) */
int ldr_capture_tel_fd(const struct ldr_capture *c);  /* borrowed, read-only, or -ENOENT */
struct ldr_dnsfwd *ldr_capture_fwd(const struct ldr_capture *c); /* classic mode, else NULL */

/* dnsfwd.c: classic filter, and forwarding its packets unparsed to the worker */
struct sock_filter;
int ldr_dnsfwd_filter(const uint16_t *ports, size_t n, struct sock_filter *out, size_t max);
struct ldr_dnsfwd *ldr_dnsfwd_new(int pkt_fd, const uint16_t *ports, size_t nports, int *err);
void ldr_dnsfwd_free(struct ldr_dnsfwd *f);
int ldr_dnsfwd_worker_fd(const struct ldr_dnsfwd *f);
int ldr_dnsfwd_poll_fd(const struct ldr_dnsfwd *f);
int ldr_dnsfwd_pump(struct ldr_dnsfwd *f); /* packets moved */
uint64_t ldr_dnsfwd_forwarded(const struct ldr_dnsfwd *f);

/* usmcap.c: HTTP/Kafka capture on a second packet socket in the root netns */
#define LDR_USM_RING_BYTES (4 * 1024 * 1024)
#define LDR_USM_WAKEUP_BYTES (LDR_USM_RING_BYTES / 2) /* else the drain timer reads it */
struct ldr_usm_cfg {
	bool http, kafka;
	uint32_t fragment_bytes;  /* USM_PAYLOAD_MIN..USM_PAYLOAD_MAX */
	uint32_t max_flows;       /* classified-flow LRU entries */
	uint32_t ring_bytes;      /* nw_usm_rb size (power of two, pages) */
	uint32_t wakeup_bytes;    /* wake the worker when this much waits */
};
struct ldr_usm;
/* NULL + errno, with the failing step in what */
struct ldr_usm *ldr_usm_start(const struct ldr_usm_cfg *cfg, char *what, size_t len);
void ldr_usm_destroy(struct ldr_usm *u); /* accepts NULL */
int ldr_usm_ring_fd(const struct ldr_usm *u); /* borrowed */
int ldr_usm_tel_fd(const struct ldr_usm *u);  /* borrowed, read-only */
uint32_t ldr_usm_protocols(const struct ldr_usm_cfg *cfg); /* USM_PROTO_BIT mask */

/* supervise.c */
uint64_t ldr_sup_add(struct ldr_worker *w, enum nw_sup_stat i, uint64_t n); /* new value */
void ldr_sup_set(struct ldr_worker *w, enum nw_sup_stat i, uint64_t v);
int ldr_signals_block(void);                          /* signalfd or -errno */
int ldr_supervise(struct ldr_worker *w, int sigfd);   /* stop signal number or -errno */
void ldr_worker_stop(struct ldr_worker *w, int sigfd);
unsigned int ldr_backoff(unsigned int *next_ms, uint64_t uptime_ms);
void ldr_status_str(int status, char *buf, size_t len);
uint64_t ldr_now_ms(void);

/* supstats.c: the nw_supervisor array, mmapped read-write here, passed read-only */
int ldr_supstats_create(uint64_t **values, int *rdonly_fd); /* 0 or -errno */

/* worklog.c: the workers' stdout/stderr pipe, relayed line by line */
int ldr_worklog_pump(int fd);   /* 0, -EPIPE at EOF, or -errno */
void ldr_worklog_flush(int fd); /* read what is left (fd may be -1), end a partial line */

/* audit.c: --seccomp=audit */
int ldr_audit_init(void);                  /* before ldr_lockdown; 0 or -errno */
int ldr_audit_take(struct ldr_worker *w);  /* ctl_fd readable: 0, -EAGAIN, or -errno */
int ldr_audit_handle(struct ldr_worker *w); /* notify_fd readable: 0 or -errno */

/* lockdown.c: after setup, what the supervise phase needs and nothing more */
int ldr_lockdown(enum nw_seccomp_mode mode, const char **failed_step);
unsigned int ldr_lockdown_syscalls(unsigned int *filtered); /* distinct syscalls allowed */
uint64_t ldr_lockdown_caps_mask(void);     /* CapEff/CapPrm/CapBnd after it */

#endif /* NW_PRIV_LOADER_H */
