/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * netwarden: the privileged loader. Parse flags, probe, load and attach one
 * program set, create the RPC socket, start the worker with its fds, and
 * supervise it. Every line here runs as root; none of it reads traced data.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "conn.h"
#include "capture.h"
#include "privileged/loader.h"

struct loader {
	struct ldr_config cfg;
	char worker_path[PATH_MAX];
	int sigfd;
	int cgroup_fd;
	struct ldr_bpf *bpf;
	struct ldr_usm *usm;         /* HTTP/Kafka; NULL with both off */
	struct ldr_capture *capture; /* DNS; NULL with --dns=off */
	enum ldr_set set;
	struct ldr_fdset fds;
	bool socket_created;
	struct nw_manifest manifest;
	int manifest_fds[NW_MANIFEST_MAX_FDS];
	struct ldr_worker_args args;
	struct ldr_worker worker;
	int log_pipe[2];         /* the workers' stdout/stderr: read end here, write end theirs */
	uint64_t *sup;           /* nw_supervisor values */
};

/* libbpf's warnings (a verifier log, a failed attach) always, its info with -v. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || (level == LIBBPF_INFO && !ldr_verbose))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* fds 0-2 open, so that nothing we open lands on them. */
static int ensure_stdio(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		int nul;

		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		nul = open("/dev/null", O_RDWR);
		if (nul != fd)
			return -EBADF;
	}
	return 0;
}

static int resolve_worker_path(struct loader *l)
{
	char *slash;
	ssize_t n;

	if (l->cfg.worker_path) {
		if (strlen(l->cfg.worker_path) >= sizeof(l->worker_path))
			return -ENAMETOOLONG;
		strcpy(l->worker_path, l->cfg.worker_path);
	} else {
		n = readlink("/proc/self/exe", l->worker_path, sizeof(l->worker_path) - 1);
		if (n < 0)
			return -errno;
		l->worker_path[n] = '\0';
		slash = strrchr(l->worker_path, '/');
		if (!slash || (size_t)(slash - l->worker_path) + sizeof("/netwarden-worker") >
				      sizeof(l->worker_path))
			return -ENAMETOOLONG;
		strcpy(slash, "/netwarden-worker");
	}
	return access(l->worker_path, X_OK) < 0 ? -errno : 0;
}

static int open_cgroup_root(char *path, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int fd, err;

	if (!f)
		return -errno;
	err = ldr_cgroup2_root(f, path, len);
	fclose(f);
	if (err)
		return err;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

struct attach_failure {
	enum ldr_set set;
	struct ldr_bpf_fail fail;
};

/*
 * One line: what failed and what it fell back to, then the set that runs and
 * why, e.g. "attach: kprobe set loaded but failed to attach (kprobe/tcp_connect:
 * Operation not supported); falling back to tracepoint set; tracepoint set
 * running (tp_btf available; --attach=kprobe)".
 */
static void log_attach(const struct loader *l, const struct ldr_probe *p,
		       const struct attach_failure *failed, size_t nfailed)
{
	char line[1024], req[32];
	size_t off = 0;

	for (size_t i = 0; i < nfailed && off < sizeof(line); i++) {
		enum ldr_set next = i + 1 < nfailed ? failed[i + 1].set : l->set;

		off += (size_t)snprintf(line + off, sizeof(line) - off,
					"%s set %s (%s: %s); falling back to %s set; ",
					ldr_set_name(failed[i].set),
					failed[i].fail.loaded ? "loaded but failed to attach" :
								"refused by the kernel",
					failed[i].fail.what, strerror(-failed[i].fail.err),
					ldr_set_name(next));
	}
	if (off >= sizeof(line))
		off = sizeof(line) - 1;
	snprintf(req, sizeof(req), "%s", l->cfg.attach == LDR_ATTACH_AUTO ? "auto" :
					 ldr_set_name((enum ldr_set)l->cfg.attach));
	snprintf(line + off, sizeof(line) - off, "%s set running (%s; --attach=%s)",
		 ldr_set_name(l->set), p->why[l->set], req);
	ldr_log("attach: %s", line);
}

/* Try the sets of the probe plan in order; the first that loads and attaches runs. */
static int start_bpf(struct loader *l)
{
	struct attach_failure failed[LDR_SET_COUNT];
	enum ldr_set plan[LDR_SET_COUNT];
	struct ldr_probe probe;
	size_t n, nfailed = 0;

	ldr_probe_run(&probe);
	for (int s = 0; s < LDR_SET_COUNT; s++)
		ldr_debug("probe: %s set %s: %s", ldr_set_name((enum ldr_set)s),
			  probe.ok[s] ? "usable" : "not usable", probe.why[s]);
	n = ldr_probe_plan(&probe, l->cfg.attach, plan);
	ldr_bpf_set_conns_max((uint32_t)l->cfg.limits.v[NW_LIMIT_MAX_TRACKED]);
	ldr_bpf_set_rb_wakeup(l->cfg.rb_wakeup_bytes);
	for (size_t i = 0; i < n; i++) {
		struct ldr_bpf_fail *f = &failed[nfailed].fail;

		l->bpf = ldr_bpf_start(plan[i], !l->cfg.perf_events, l->cgroup_fd, f);
		if (l->bpf) {
			l->set = plan[i];
			log_attach(l, &probe, failed, nfailed);
			return 0;
		}
		ldr_log("failed to %s %s set (%s): %s", f->loaded ? "attach" : "load",
			ldr_set_name(plan[i]), f->what, strerror(-f->err));
		failed[nfailed++].set = plan[i];
	}
	ldr_log("failed to start any program set (probes: tracepoint: %s; fentry: %s; kprobe: %s)",
		probe.why[LDR_SET_TRACEPOINT], probe.why[LDR_SET_FENTRY], probe.why[LDR_SET_KPROBE]);
	return -ENOENT;
}

/* The worker gets the conns map read-write (it deletes closed entries), telemetry read-only. */
static int build_fdset(struct loader *l)
{
	struct ldr_fdset *s = &l->fds;
	int ncpus, err;

	s->conns = ldr_bpf_map_fd(l->bpf, NW_MAP_CONNS);
	if (s->conns < 0) {
		ldr_log("failed to find map %s: %s", NW_MAP_CONNS, strerror(-s->conns));
		return s->conns;
	}
	s->telemetry_rdonly = ldr_bpf_map_fd_rdonly(l->bpf, NW_MAP_TELEMETRY);
	if (s->telemetry_rdonly < 0) {
		ldr_log("failed to open map %s read-only: %s", NW_MAP_TELEMETRY,
			strerror(-s->telemetry_rdonly));
		return s->telemetry_rdonly;
	}
	if (!l->cfg.perf_events) {
		s->ringbuf = ldr_bpf_map_fd(l->bpf, NW_MAP_CLOSED_RB);
		if (s->ringbuf < 0)
			ldr_log("failed to find map %s: %s", NW_MAP_CLOSED_RB, strerror(-s->ringbuf));
		return s->ringbuf < 0 ? s->ringbuf : 0;
	}
	ncpus = libbpf_num_possible_cpus();
	if (ncpus < 0 || ncpus > NW_MANIFEST_MAX_FDS - 4) {
		err = ncpus < 0 ? ncpus : -E2BIG;
		ldr_log("failed to count possible CPUs for perf buffers (at most %d): %s",
			NW_MANIFEST_MAX_FDS - 4, strerror(-err));
		return err;
	}
	err = ldr_perf_open(ldr_bpf_map_fd(l->bpf, NW_MAP_CLOSED_PB), s->perf, (size_t)ncpus);
	if (err) {
		ldr_log("failed to open perf events for %d CPUs: %s", ncpus, strerror(-err));
		return err;
	}
	s->nperf = (size_t)ncpus;
	s->closed_batch_rdonly = ldr_bpf_map_fd_rdonly(l->bpf, NW_MAP_CLOSED_BATCH);
	if (s->closed_batch_rdonly < 0) {
		ldr_log("failed to open map %s read-only: %s", NW_MAP_CLOSED_BATCH,
			strerror(-s->closed_batch_rdonly));
		return s->closed_batch_rdonly;
	}
	return 0;
}

/* DNS monitoring: the packet socket in the root netns with its filter. */
static int start_dns(struct loader *l)
{
	struct ldr_capture_cfg c = {
		.nports = l->cfg.n_dns_ports, .classic = l->cfg.dns_classic,
		.ring_bytes = LDR_PKT_RING_BYTES, .wakeup_bytes = LDR_PKT_WAKEUP_BYTES,
	};
	char what[96] = "", ports[LDR_DNS_MAX_PORTS * 6 + 1] = "";
	size_t off = 0;
	int err;

	if (l->cfg.dns_off) {
		ldr_debug("dns: monitoring off (--dns=off): no packet socket");
		return 0;
	}
	memcpy(c.ports, l->cfg.dns_ports, sizeof(c.ports));
	for (size_t i = 0; i < c.nports; i++)
		off += (size_t)snprintf(ports + off, sizeof(ports) - off, "%s%u", i ? "," : "", c.ports[i]);
	l->capture = ldr_capture_start(&c, what, sizeof(what));
	if (!l->capture) {
		err = -errno;
		ldr_log("failed to %s for DNS monitoring: %s (--dns=off runs without it)", what,
			strerror(-err));
		return err;
	}
	if (c.classic) {
		l->fds.pkt_fwd = ldr_dnsfwd_worker_fd(ldr_capture_fwd(l->capture));
	} else {
		l->fds.pkt_ring = ldr_capture_ring_fd(l->capture);
		l->fds.pkt_tel_rdonly = ldr_capture_tel_fd(l->capture);
	}
	ldr_log("dns: packet socket in the root network namespace, ports %s, %s", ports,
		c.classic ? "classic filter (packets forwarded to the worker by the loader)" :
			    "eBPF socket filter (DNS messages to the ring buffer " NW_MAP_PKT_RB ")");
	return 0;
}

static void pump_dns(void *ctx)
{
	ldr_dnsfwd_pump(ctx);
}

/*
 * What supervising needs from setup: the pipe the worker logs into (it may
 * not write to files: RLIMIT_FSIZE 0), the counters it shows for us, and in
 * audit mode the buffers for seccomp notifications.
 */
static int start_supervision(struct loader *l)
{
	int err;

	if (pipe2(l->log_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		err = -errno;
		ldr_log("failed to create the worker's log pipe: %s", strerror(-err));
		return err;
	}
	err = ldr_supstats_create(&l->sup, &l->fds.sup_rdonly);
	if (err) {
		ldr_log("failed to create map %s: %s", NW_MAP_SUPERVISOR, strerror(-err));
		return err;
	}
	if (l->cfg.seccomp_mode == NW_SECCOMP_AUDIT && (err = ldr_audit_init())) {
		ldr_log("failed to set up seccomp notifications for --seccomp=audit: %s", strerror(-err));
		return err;
	}
	return 0;
}

/* Setup is over: keep what supervising needs, then the loader's own filter. */
static int lock_down(struct loader *l)
{
	const char *step = "?";
	unsigned int n, filtered;
	int err = ldr_lockdown(l->cfg.seccomp_mode, &step);

	if (err) {
		ldr_log("failed to lock down the loader (%s): %s", step, strerror(-err));
		return err;
	}
	n = ldr_lockdown_syscalls(&filtered);
	ldr_log("supervise phase: capabilities 0x%llx (sys_admin setuid setgid setpcap kill ipc_lock), "
		"no_new_privs, seccomp allowlist of %u syscalls (%u with argument checks), "
		"default %s", (unsigned long long)ldr_lockdown_caps_mask(), n, filtered,
		l->cfg.seccomp_mode == NW_SECCOMP_AUDIT ? "log (--seccomp=audit)" : "kill");
	return 0;
}

/* HTTP/Kafka capture, only when one of them is on: both off costs nothing. */
static int start_usm(struct loader *l)
{
	struct ldr_usm_cfg c = {
		.http = l->cfg.usm_http, .kafka = l->cfg.usm_kafka,
		.fragment_bytes = l->cfg.usm_fragment_bytes, .max_flows = l->cfg.usm_max_flows,
		.ring_bytes = LDR_USM_RING_BYTES, .wakeup_bytes = LDR_USM_WAKEUP_BYTES,
	};
	char what[96] = "";

	if (!c.http && !c.kafka) {
		ldr_debug("usm: HTTP and Kafka monitoring off: no capture");
		return 0;
	}
	l->usm = ldr_usm_start(&c, what, sizeof(what));
	if (!l->usm) {
		int err = -errno;
		ldr_log("failed to %s for HTTP/Kafka monitoring: %s (--http=off --kafka=off runs "
			"without it)", what, strerror(-err));
		return err;
	}
	l->fds.usm_ring = ldr_usm_ring_fd(l->usm);
	l->fds.usm_tel_rdonly = ldr_usm_tel_fd(l->usm);
	l->fds.usm_protocols = ldr_usm_protocols(&c);
	ldr_log("usm: capturing%s%s, %u bytes per segment, %u flows", c.http ? " HTTP" : "",
		c.kafka ? " Kafka" : "", c.fragment_bytes, c.max_flows);
	return 0;
}

static int start_worker(struct loader *l)
{
	int err;

	err = ldr_worker_args_build(&l->args, &l->cfg, l->set);
	if (!err)
		err = ldr_manifest_build(&l->fds, &l->manifest, l->manifest_fds);
	if (err) {
		ldr_log("failed to build the worker's arguments and fd manifest: %s", strerror(-err));
		return err;
	}
	l->worker = (struct ldr_worker){
		.path = l->worker_path, .argv = l->args.argv, .manifest = &l->manifest,
		.fds = l->manifest_fds, .ctl_fd = -1, .notify_fd = -1,
		.log_fd = l->log_pipe[0], .log_wfd = l->log_pipe[1], .sup = l->sup,
		.audit = l->cfg.seccomp_mode == NW_SECCOMP_AUDIT,
	};
	ldr_sup_set(&l->worker, NW_SUP_SECCOMP_AUDIT, l->worker.audit);
	if (ldr_capture_fwd(l->capture)) {
		l->worker.pump = pump_dns;
		l->worker.pump_ctx = ldr_capture_fwd(l->capture);
		l->worker.pump_fd = ldr_dnsfwd_poll_fd(l->worker.pump_ctx);
	}
	err = ldr_worker_start(&l->worker);
	if (err)
		ldr_log("failed to start worker %s: %s", l->worker_path, strerror(-err));
	return err;
}

static int setup(struct loader *l)
{
	char cgroup[PATH_MAX];
	int err;

	err = resolve_worker_path(l);
	if (err) {
		ldr_log("failed to find the worker binary %s: %s", l->worker_path, strerror(-err));
		return err;
	}
	l->cgroup_fd = open_cgroup_root(cgroup, sizeof(cgroup));
	if (l->cgroup_fd < 0) {
		ldr_log("failed to open the cgroup2 root: %s", strerror(-l->cgroup_fd));
		return l->cgroup_fd;
	}
	ldr_debug("cgroup2 root: %s", cgroup);
	l->fds.rpc_listen = ldr_rpcsock_create(l->cfg.rpc_socket, l->cfg.rpc_gid);
	if (l->fds.rpc_listen < 0) {
		err = l->fds.rpc_listen;
		ldr_log("failed to create rpc socket %s: %s%s", l->cfg.rpc_socket, strerror(-err),
			err == -EPERM ? " (its directory must be root's and closed to others: "
					"give the socket a directory of its own)" :
			err == -EADDRINUSE ? " (another netwarden is listening on it)" : "");
		return err;
	}
	l->socket_created = true;
	err = start_bpf(l);
	if (!err)
		err = build_fdset(l);
	if (!err)
		err = start_usm(l);
	if (!err)
		err = start_dns(l);
	if (!err)
		err = start_supervision(l);
	if (!err)
		err = start_worker(l);
	return err;
}

static void teardown(struct loader *l)
{
	int err;

	ldr_worker_stop(&l->worker, l->sigfd);
	ldr_bpf_destroy(l->bpf);
	ldr_usm_destroy(l->usm);
	ldr_capture_destroy(l->capture);
	for (size_t i = 0; i < l->fds.nperf; i++)
		close(l->fds.perf[i]);
	if (l->fds.telemetry_rdonly >= 0)
		close(l->fds.telemetry_rdonly);
	if (l->fds.closed_batch_rdonly >= 0)
		close(l->fds.closed_batch_rdonly);
	if (l->fds.rpc_listen >= 0)
		close(l->fds.rpc_listen);
	if (l->socket_created && (err = ldr_rpcsock_remove(l->cfg.rpc_socket)))
		ldr_log("failed to remove rpc socket %s: %s", l->cfg.rpc_socket, strerror(-err));
	if (l->cgroup_fd >= 0)
		close(l->cgroup_fd);
	if (l->sigfd >= 0)
		close(l->sigfd);
	for (int i = 0; i < 2; i++)
		if (l->log_pipe[i] >= 0)
			close(l->log_pipe[i]);
	if (l->fds.sup_rdonly > 0)
		close(l->fds.sup_rdonly);
}

/* With -v: where the configuration came from and every limit. */
static void log_limits(const struct ldr_config *cfg)
{
	char line[768], v[32];
	size_t off = 0;

	for (int i = 0; i < NW_LIMIT_COUNT && off < sizeof(line); i++) {
		nw_limit_human((enum nw_limit)i, cfg->limits.v[i], v, sizeof(v));
		off += (size_t)snprintf(line + off, sizeof(line) - off, " %s=%s", nw_limit_defs[i].key, v);
	}
	ldr_debug("limits%s%s%s:%s", cfg->config_path ? " (config file " : "",
		  cfg->config_path ? cfg->config_path : "", cfg->config_path ? ")" : "", line);
}

int main(int argc, char **argv)
{
	static struct loader l;
	char err_text[256];
	int err, rc = LDR_EXIT_FAIL;

	l.sigfd = l.cgroup_fd = l.fds.rpc_listen = l.fds.conns = -1;
	l.fds.telemetry_rdonly = l.fds.ringbuf = l.fds.closed_batch_rdonly = -1;
	l.log_pipe[0] = l.log_pipe[1] = -1;
	if (ensure_stdio())
		return LDR_EXIT_FAIL;
	if (ldr_flags_parse(&l.cfg, argc, argv, err_text, sizeof(err_text))) {
		ldr_log("%s", err_text);
		ldr_log("try 'netwarden --help'");
		return LDR_EXIT_USAGE;
	}
	if (l.cfg.help) {
		ldr_flags_usage(stdout);
		return LDR_EXIT_OK;
	}
	ldr_verbose = l.cfg.verbose;
	libbpf_set_print(libbpf_print);
	log_limits(&l.cfg);
	/* before any child exists: SIGCHLD and stop requests only through the signalfd */
	l.sigfd = ldr_signals_block();
	if (l.sigfd < 0) {
		ldr_log("failed to set up signal handling: %s", strerror(-l.sigfd));
		return LDR_EXIT_FAIL;
	}
	if (setup(&l))
		goto out;
	if (lock_down(&l))
		goto out;
	ldr_log("ready: worker pid %d, rpc socket %s", (int)l.worker.pid, l.cfg.rpc_socket);
	err = ldr_supervise(&l.worker, l.sigfd);
	if (err < 0) {
		ldr_log("failed to supervise the worker: %s", strerror(-err));
		goto out;
	}
	ldr_log("%s: stopping", err == SIGINT ? "SIGINT" : "SIGTERM");
	rc = LDR_EXIT_OK;
out:
	teardown(&l);
	return rc;
}
