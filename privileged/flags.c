/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Command line of the loader, and the argv it gives the worker. No logging:
 * errors come back as text for main to print. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <string.h>
#include "privileged/loader.h"
#include "usm.h"

static const char *const set_names[LDR_SET_COUNT] = { "tracepoint", "fentry", "kprobe" };
static const char *const set_prefixes[LDR_SET_COUNT] = { "tp_", "fe_", "kp_" };

const char *ldr_set_name(enum ldr_set set)
{
	return (unsigned int)set < LDR_SET_COUNT ? set_names[set] : "?";
}

const char *ldr_set_prefix(enum ldr_set set)
{
	return (unsigned int)set < LDR_SET_COUNT ? set_prefixes[set] : "?";
}

_Static_assert(LDR_RINGBUF_WAKEUP_BYTES == 1048576, "--help states the default");

void ldr_flags_usage(FILE *f)
{
	fputs("usage: netwarden [options]\n"
	      "  --config=PATH              read 'key = value' lines first (keys: the long options\n"
	      "                             below with '_' for '-'); flags override the file\n"
	      "  --attach=auto|tracepoint|fentry|kprobe  program set (default auto)\n"
	      "  --events=ringbuf|perf      closed-connection channel (default ringbuf)\n"
	      "  --ringbuf-wakeup-bytes=N   wake the worker when N bytes wait in the ring buffer, before\n"
	      "                             its --drain-interval timer reads it (default 1048576, half\n"
	      "                             the ring: a safety valve; 0: for every record)\n"
	      "  --dns=on|off               DNS monitoring: a packet socket in the root network\n"
	      "                             namespace with a filter for the DNS ports (default on)\n"
	      "  --dns-ports=PORT[,PORT..]  DNS ports, source or destination (default 53; at most 8)\n"
	      "  --dns-filter=ebpf|classic  ebpf (default): a socket filter copies DNS messages to\n"
	      "                             a ring buffer; classic: a classic BPF filter, and the\n"
	      "                             loader forwards the packets to the worker unparsed\n"
	      "  --http=on|off              HTTP/1.x monitoring (USM; default on)\n"
	      "  --kafka=on|off             Kafka monitoring (USM; default off: it looks up every\n"
	      "                             TCP segment's flow in the kernel)\n"
	      "  --usm-fragment-bytes=N     payload bytes copied per HTTP/Kafka segment, 16 to 512\n"
	      "                             (default 208)\n"
	      "  --usm-max-flows=N          HTTP/Kafka flows the kernel remembers (LRU; default 16384)\n"
	      "  --rpc-socket=PATH          default " LDR_DEFAULT_SOCKET "\n"
	      "  --rpc-group=NAME|GID       group owning the socket and its directory (default 0)\n"
	      "  --allow-uid=UID[,UID..]    RPC peers allowed besides root\n"
	      "  --allow-gid=GID[,GID..]\n"
	      "  --worker-user=NAME|UID     the worker's unprivileged user (default nobody; better a\n"
	      "                             dedicated one that owns nothing, see SECURITY.md)\n"
	      "  --seccomp=enforce|audit    enforce (default): a call outside the allowlists kills;\n"
	      "                             audit: it is logged with its arguments and fails EPERM\n"
	      "  --worker=PATH              default: netwarden-worker next to this binary\n"
	      "  --test-hooks               enable worker test hooks\n"
	      "  -v, --verbose\n"
	      "  -h, --help\n"
	      "limits and timeouts (durations: 1500ms, 30s, 2m, 1h; a bare number is seconds):\n", f);
	for (int i = 0; i < NW_LIMIT_COUNT; i++) {
		const struct nw_limit_def *d = &nw_limit_defs[i];
		char opt[64], def[32];

		snprintf(opt, sizeof(opt), "--%s=%s", d->flag, d->duration ? "TIME" : "N");
		nw_limit_human((enum nw_limit)i, d->def, def, sizeof(def));
		fprintf(f, "  %-30s %s (default %s)\n", opt, d->help, def);
	}
}

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Decimal id, 0..2^32-2 ((uid_t)-1 means "no id" to the kernel). */
static int parse_id(const char *s, size_t len, uint32_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v >= UINT32_MAX)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

/* Appends to ids; repeated flags accumulate. */
static int parse_id_list(const char *flag, const char *s, uint32_t *ids, size_t *n,
			 char *err, size_t errlen)
{
	const char *p = s;

	for (;;) {
		size_t len = strcspn(p, ",");
		uint32_t id;

		if (parse_id(p, len, &id))
			return fail(err, errlen, "invalid %s value '%s' (expected numbers separated by commas)",
				    flag, s);
		if (*n >= LDR_MAX_IDS)
			return fail(err, errlen, "too many %s entries (at most %d)", flag, LDR_MAX_IDS);
		ids[(*n)++] = id;
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

static int parse_group(const char *s, gid_t *gid, char *err, size_t errlen)
{
	const struct group *gr;
	uint32_t id;

	if (!parse_id(s, strlen(s), &id)) {
		*gid = id;
		return 0;
	}
	errno = 0;
	gr = *s ? getgrnam(s) : NULL;
	if (!gr)
		return fail(err, errlen, "unknown group '%s' for --rpc-group", s);
	*gid = gr->gr_gid;
	return 0;
}

/* A numeric uid without a passwd entry gets the group of the same number. */
static int parse_user(const char *s, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	const struct passwd *pw;
	uint32_t id;

	if (!parse_id(s, strlen(s), &id)) {
		pw = getpwuid(id);
		*uid = id;
		*gid = pw ? pw->pw_gid : id;
	} else {
		pw = *s ? getpwnam(s) : NULL;
		if (!pw)
			return fail(err, errlen, "unknown user '%s' for --worker-user", s);
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	}
	if (*uid == 0 || *gid == 0)
		return fail(err, errlen, "--worker-user '%s' must not be root or in group root", s);
	return 0;
}

static int parse_socket_path(struct ldr_config *cfg, const char *s, char *err, size_t errlen)
{
	size_t len = strlen(s);
	const char *slash = strrchr(s, '/');

	if (s[0] != '/' || len >= sizeof(cfg->rpc_socket))
		return fail(err, errlen, "--rpc-socket must be an absolute path shorter than %zu bytes",
			    sizeof(cfg->rpc_socket));
	if (slash == s || !slash[1])
		return fail(err, errlen, "--rpc-socket '%s' needs a directory and a file name", s);
	memcpy(cfg->rpc_socket, s, len + 1);
	return 0;
}

enum {
	OPT_ATTACH = 256, OPT_EVENTS, OPT_SOCKET, OPT_GROUP, OPT_ALLOW_UID, OPT_ALLOW_GID,
	OPT_WORKER_USER, OPT_WORKER, OPT_TEST_HOOKS, OPT_CONFIG, OPT_RB_WAKEUP,
	OPT_DNS, OPT_DNS_PORTS, OPT_DNS_FILTER,
	OPT_HTTP, OPT_KAFKA, OPT_USM_FRAGMENT, OPT_USM_MAX_FLOWS,
	OPT_SECCOMP,
	OPT_LIMIT, /* OPT_LIMIT + enum nw_limit */
};

/* every OPT_ value below OPT_LIMIT has an entry, plus -v and -h */
#define N_BASE_OPTIONS (OPT_LIMIT - OPT_ATTACH + 2)
/* the fixed options, then one per limit (filled in by options_init), then the end */
static struct option options[N_BASE_OPTIONS + NW_LIMIT_COUNT + 1] = {
	{ "attach", required_argument, NULL, OPT_ATTACH },
	{ "events", required_argument, NULL, OPT_EVENTS },
	{ "rpc-socket", required_argument, NULL, OPT_SOCKET },
	{ "rpc-group", required_argument, NULL, OPT_GROUP },
	{ "allow-uid", required_argument, NULL, OPT_ALLOW_UID },
	{ "allow-gid", required_argument, NULL, OPT_ALLOW_GID },
	{ "worker-user", required_argument, NULL, OPT_WORKER_USER },
	{ "worker", required_argument, NULL, OPT_WORKER },
	{ "test-hooks", no_argument, NULL, OPT_TEST_HOOKS },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "ringbuf-wakeup-bytes", required_argument, NULL, OPT_RB_WAKEUP },
	{ "dns", required_argument, NULL, OPT_DNS },
	{ "dns-ports", required_argument, NULL, OPT_DNS_PORTS },
	{ "dns-filter", required_argument, NULL, OPT_DNS_FILTER },
	{ "http", required_argument, NULL, OPT_HTTP },
	{ "kafka", required_argument, NULL, OPT_KAFKA },
	{ "usm-fragment-bytes", required_argument, NULL, OPT_USM_FRAGMENT },
	{ "usm-max-flows", required_argument, NULL, OPT_USM_MAX_FLOWS },
	{ "seccomp", required_argument, NULL, OPT_SECCOMP },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
};

static void options_init(void)
{
	for (int i = 0; i < NW_LIMIT_COUNT; i++)
		options[N_BASE_OPTIONS + i] = (struct option){ nw_limit_defs[i].flag, required_argument,
							      NULL, OPT_LIMIT + i };
}

static int parse_attach(struct ldr_config *cfg, const char *s, char *err, size_t errlen)
{
	if (!strcmp(s, "auto")) {
		cfg->attach = LDR_ATTACH_AUTO;
		return 0;
	}
	for (int i = 0; i < LDR_SET_COUNT; i++) {
		if (!strcmp(s, set_names[i])) {
			cfg->attach = i;
			return 0;
		}
	}
	return fail(err, errlen, "invalid --attach value '%s' (expected auto, tracepoint, fentry or kprobe)", s);
}

/*
 * Where a value comes from, for messages and for which source wins: the
 * config file is read first, then the flags; a list flag (--allow-uid)
 * replaces the file's list instead of adding to it.
 */
struct source {
	const char *file; /* NULL: the command line */
	unsigned int line;
	bool uids_from_file, gids_from_file;
};

static int parse_limit(struct ldr_config *cfg, enum nw_limit id, const char *s, const struct source *src,
		       char *err, size_t errlen)
{
	const struct nw_limit_def *d = &nw_limit_defs[id];
	char expect[96];
	int ret = nw_limit_parse(id, s, &cfg->limits.v[id]);

	if (!ret)
		return 0;
	nw_limit_expect(id, expect, sizeof(expect));
	if (src->file)
		return fail(err, errlen, "%s:%u: invalid value '%s' for %s (expected %s)", src->file,
			    src->line, s, d->key, expect);
	return fail(err, errlen, "invalid --%s value '%s' (expected %s)", d->flag, s, expect);
}

/* "53,5353": 1 to LDR_DNS_MAX_PORTS ports, each 1-65535, no duplicates. */
static int parse_dns_ports(struct ldr_config *cfg, const char *s, char *err, size_t errlen)
{
	uint16_t ports[LDR_DNS_MAX_PORTS];
	size_t n = 0;

	for (const char *p = s;;) {
		size_t len = strcspn(p, ",");
		uint32_t v;

		if (parse_id(p, len, &v) || v < 1 || v > 65535)
			return fail(err, errlen, "invalid --dns-ports value '%s' (expected ports 1-65535 "
				    "separated by commas)", s);
		for (size_t i = 0; i < n; i++)
			if (ports[i] == v)
				return fail(err, errlen, "--dns-ports lists port %u twice", v);
		if (n >= LDR_DNS_MAX_PORTS)
			return fail(err, errlen, "too many --dns-ports (at most %d)", LDR_DNS_MAX_PORTS);
		ports[n++] = (uint16_t)v;
		if (!p[len])
			break;
		p += len + 1;
	}
	memcpy(cfg->dns_ports, ports, sizeof(ports));
	cfg->n_dns_ports = n;
	return 0;
}

static int parse_on_off(const char *flag, const char *s, bool *out, char *err, size_t errlen)
{
	if (strcmp(s, "on") && strcmp(s, "off"))
		return fail(err, errlen, "invalid --%s value '%s' (expected on or off)", flag, s);
	*out = !strcmp(s, "on");
	return 0;
}

static int parse_range(const char *flag, const char *s, uint32_t min, uint32_t max, uint32_t *out,
		       char *err, size_t errlen)
{
	uint32_t v;

	if (parse_id(s, strlen(s), &v) || v < min || v > max)
		return fail(err, errlen, "invalid --%s value '%s' (expected %u to %u)", flag, s, min, max);
	*out = v;
	return 0;
}

/* One option with its value, from the command line or the config file. */
static int apply_option(struct ldr_config *cfg, int c, const char *arg, struct source *src,
			char *err, size_t errlen)
{
	bool cli = !src->file;

	switch (c) {
	case OPT_ATTACH:
		return parse_attach(cfg, arg, err, errlen);
	case OPT_EVENTS:
		if (strcmp(arg, "perf") && strcmp(arg, "ringbuf"))
			return fail(err, errlen, "invalid --events value '%s' (expected ringbuf or perf)", arg);
		cfg->perf_events = !strcmp(arg, "perf");
		return 0;
	case OPT_RB_WAKEUP: {
		uint32_t v;

		if (parse_id(arg, strlen(arg), &v) || v > LDR_RINGBUF_BYTES)
			return fail(err, errlen, "invalid --ringbuf-wakeup-bytes value '%s' (expected 0 to %d)",
				    arg, LDR_RINGBUF_BYTES);
		cfg->rb_wakeup_bytes = v;
		return 0;
	}
	case OPT_DNS:
		if (strcmp(arg, "on") && strcmp(arg, "off"))
			return fail(err, errlen, "invalid --dns value '%s' (expected on or off)", arg);
		cfg->dns_off = !strcmp(arg, "off");
		return 0;
	case OPT_DNS_PORTS:
		return parse_dns_ports(cfg, arg, err, errlen);
	case OPT_DNS_FILTER:
		if (strcmp(arg, "ebpf") && strcmp(arg, "classic"))
			return fail(err, errlen, "invalid --dns-filter value '%s' (expected ebpf or classic)", arg);
		cfg->dns_classic = !strcmp(arg, "classic");
		return 0;
	case OPT_SECCOMP:
		if (strcmp(arg, "enforce") && strcmp(arg, "audit"))
			return fail(err, errlen, "invalid --seccomp value '%s' (expected enforce or audit)", arg);
		cfg->seccomp_mode = !strcmp(arg, "audit") ? NW_SECCOMP_AUDIT : NW_SECCOMP_ENFORCE;
		return 0;
	case OPT_HTTP:
		return parse_on_off("http", arg, &cfg->usm_http, err, errlen);
	case OPT_KAFKA:
		return parse_on_off("kafka", arg, &cfg->usm_kafka, err, errlen);
	case OPT_USM_FRAGMENT:
		return parse_range("usm-fragment-bytes", arg, USM_PAYLOAD_MIN, USM_PAYLOAD_MAX,
				   &cfg->usm_fragment_bytes, err, errlen);
	case OPT_USM_MAX_FLOWS:
		return parse_range("usm-max-flows", arg, USM_FLOWS_MIN, USM_FLOWS_MAX,
				   &cfg->usm_max_flows, err, errlen);
	case OPT_SOCKET:
		return parse_socket_path(cfg, arg, err, errlen);
	case OPT_GROUP:
		return parse_group(arg, &cfg->rpc_gid, err, errlen);
	case OPT_ALLOW_UID:
		if (cli && src->uids_from_file)
			cfg->n_allow_uids = 0;
		src->uids_from_file = !cli;
		return parse_id_list("--allow-uid", arg, cfg->allow_uids, &cfg->n_allow_uids, err, errlen);
	case OPT_ALLOW_GID:
		if (cli && src->gids_from_file)
			cfg->n_allow_gids = 0;
		src->gids_from_file = !cli;
		return parse_id_list("--allow-gid", arg, cfg->allow_gids, &cfg->n_allow_gids, err, errlen);
	case OPT_WORKER_USER:
		return parse_user(arg, &cfg->worker_uid, &cfg->worker_gid, err, errlen);
	case OPT_WORKER:
		if (arg[0] != '/')
			return fail(err, errlen, "--worker must be an absolute path");
		if (strlen(arg) >= sizeof(cfg->worker_path_buf))
			return fail(err, errlen, "--worker path is longer than %zu bytes",
				    sizeof(cfg->worker_path_buf) - 1);
		if (cli) {
			cfg->worker_path = arg;
		} else {
			strcpy(cfg->worker_path_buf, arg);
			cfg->worker_path = cfg->worker_path_buf;
		}
		return 0;
	default:
		if (c >= OPT_LIMIT && c < OPT_LIMIT + NW_LIMIT_COUNT)
			return parse_limit(cfg, (enum nw_limit)(c - OPT_LIMIT), arg, src, err, errlen);
		return fail(err, errlen, "internal error: option %d", c);
	}
}

/* An option's message from the file gets "PATH:LINE: " in front. */
static int file_fail(const struct source *src, char *err, size_t errlen)
{
	char msg[256];

	if (!strncmp(err, src->file, strlen(src->file)))
		return -EINVAL; /* already has it */
	snprintf(msg, sizeof(msg), "%s", err);
	return fail(err, errlen, "%s:%u: %s", src->file, src->line, msg);
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* The option a config key names: the long option with '_' for '-'. */
static int option_for_key(const char *key)
{
	char flag[64];
	size_t n = strlen(key);

	if (n >= sizeof(flag) || strchr(key, '-'))
		return -ENOENT; /* keys are written with '_' only */
	for (size_t i = 0; i <= n; i++)
		flag[i] = key[i] == '_' ? '-' : key[i];
	for (const struct option *o = options; o->name; o++)
		if (!strcmp(o->name, flag) && o->has_arg == required_argument && o->val != OPT_CONFIG)
			return o->val;
	return -ENOENT;
}

static int config_read(struct ldr_config *cfg, struct source *src, FILE *f, char *err, size_t errlen)
{
	char line[LDR_CONFIG_LINE_MAX + 2];
	uint32_t seen[N_BASE_OPTIONS + NW_LIMIT_COUNT] = { 0 };
	size_t total = 0;

	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);
		char *key, *val, *eq, *hash;
		int opt, ret;

		src->line++;
		total += len;
		if (total > LDR_CONFIG_MAX_BYTES)
			return fail(err, errlen, "%s: larger than %d bytes", src->file, LDR_CONFIG_MAX_BYTES);
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(f))
			return fail(err, errlen, "%s:%u: line longer than %d bytes", src->file, src->line,
				    LDR_CONFIG_LINE_MAX);
		key = trim(line);
		if (!*key || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (!eq)
			return fail(err, errlen, "%s:%u: expected 'key = value', got '%s'", src->file,
				    src->line, key);
		*eq = '\0';
		val = eq + 1;
		/* a comment after the value needs a blank before the '#' */
		for (hash = val; (hash = strchr(hash, '#')) != NULL; hash++)
			if (hash > val && (hash[-1] == ' ' || hash[-1] == '\t')) {
				*hash = '\0';
				break;
			}
		key = trim(key);
		val = trim(val);
		opt = option_for_key(key);
		if (opt < 0)
			return fail(err, errlen, "%s:%u: unknown key '%s'", src->file, src->line, key);
		if (!*val)
			return fail(err, errlen, "%s:%u: '%s' needs a value", src->file, src->line, key);
		{
			size_t slot = opt >= OPT_LIMIT ? N_BASE_OPTIONS + (size_t)(opt - OPT_LIMIT) :
							  (size_t)(opt - OPT_ATTACH);
			if (seen[slot])
				return fail(err, errlen, "%s:%u: '%s' already set on line %u", src->file,
					    src->line, key, seen[slot]);
			seen[slot] = src->line;
		}
		ret = apply_option(cfg, opt, val, src, err, errlen);
		if (ret)
			return file_fail(src, err, errlen);
	}
	if (ferror(f))
		return fail(err, errlen, "failed to read config file %s: %s", src->file, strerror(errno));
	return 0;
}

static int read_config_into(struct ldr_config *cfg, struct source *src, const char *path, char *err,
			    size_t errlen)
{
	FILE *f;
	int ret;

	if (!*path)
		return fail(err, errlen, "--config needs a file name");
	f = fopen(path, "re");
	if (!f)
		return fail(err, errlen, "failed to open config file %s: %s", path, strerror(errno));
	*src = (struct source){ .file = path };
	ret = config_read(cfg, src, f, err, errlen);
	fclose(f);
	return ret;
}

int ldr_config_file(struct ldr_config *cfg, const char *path, char *err, size_t errlen)
{
	struct source src;

	options_init();
	return read_config_into(cfg, &src, path, err, errlen);
}

static void set_defaults(struct ldr_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->attach = LDR_ATTACH_AUTO;
	memcpy(cfg->rpc_socket, LDR_DEFAULT_SOCKET, sizeof(LDR_DEFAULT_SOCKET));
	cfg->worker_uid = 65534;
	cfg->worker_gid = 65534;
	nw_limits_default(&cfg->limits);
	cfg->rb_wakeup_bytes = LDR_RINGBUF_WAKEUP_BYTES;
	cfg->usm_http = true;
	cfg->usm_fragment_bytes = USM_PAYLOAD_DEFAULT;
	cfg->usm_max_flows = USM_FLOWS_DEFAULT;
	cfg->dns_ports[0] = 53;
	cfg->n_dns_ports = 1;
}

/*
 * Returns 0 (cfg->help set for -h) or -EINVAL with a message in err. Two
 * passes: the first only looks for --config and -h (a broken config file
 * does not stop --help), the second applies the flags over the file.
 */
int ldr_flags_parse(struct ldr_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	struct source src = { 0 };
	const char *config = NULL;
	bool help = false;
	int c, ret;

	set_defaults(cfg);
	options_init();
	optind = 0; /* glibc: full re-initialisation */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hv", options, NULL)) != -1) {
		if (c == 'h')
			help = true;
		else if (c == OPT_CONFIG && config)
			return fail(err, errlen, "--config given twice");
		else if (c == OPT_CONFIG)
			config = optarg;
	}
	if (config && !help) {
		ret = read_config_into(cfg, &src, config, err, errlen);
		if (ret)
			return ret;
		cfg->config_path = config;
	}
	src.file = NULL;
	optind = 0;
	while ((c = getopt_long(argc, argv, "+:hv", options, NULL)) != -1) {
		ret = 0;
		switch (c) {
		case OPT_CONFIG:
			break;
		case OPT_TEST_HOOKS:
			cfg->test_hooks = true;
			break;
		case 'v':
			cfg->verbose = true;
			break;
		case 'h':
			cfg->help = true;
			break;
		case ':':
			return fail(err, errlen, "option '%s' needs a value", argv[optind - 1]);
		case '?':
			if (optopt && !strncmp(argv[optind - 1], "--", 2))
				return fail(err, errlen, "option '%s' does not take a value", argv[optind - 1]);
			if (optopt)
				return fail(err, errlen, "unknown option '-%c'", optopt);
			return fail(err, errlen, "unknown option '%s'", argv[optind - 1]);
		default:
			ret = apply_option(cfg, c, optarg, &src, err, errlen);
			break;
		}
		if (ret)
			return ret;
	}
	if (optind < argc)
		return fail(err, errlen, "unexpected argument '%s'", argv[optind]);
	return 0;
}

static int append(struct ldr_worker_args *wa, size_t *used, size_t *argc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int append(struct ldr_worker_args *wa, size_t *used, size_t *argc, const char *fmt, ...)
{
	size_t room = sizeof(wa->strs) - *used;
	va_list ap;
	int n;

	if (*argc + 1 >= LDR_WORKER_ARGV_MAX)
		return -ENOSPC;
	va_start(ap, fmt);
	n = vsnprintf(wa->strs + *used, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return -ENOSPC;
	wa->argv[(*argc)++] = wa->strs + *used;
	wa->argv[*argc] = NULL;
	*used += (size_t)n + 1;
	return 0;
}

static int append_ids(struct ldr_worker_args *wa, size_t *used, size_t *argc, const char *flag,
		      const uint32_t *ids, size_t n)
{
	char list[LDR_MAX_IDS * 11];
	size_t off = 0;

	if (!n)
		return 0;
	for (size_t i = 0; i < n && i < LDR_MAX_IDS; i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%u", i ? "," : "", ids[i]);
	return append(wa, used, argc, "%s=%s", flag, list);
}

/* Every limit, as --FLAG=VALUE in the form nw_limit_parse reads back. */
static int append_limits(struct ldr_worker_args *wa, size_t *used, size_t *argc,
			 const struct nw_limits *l)
{
	for (int i = 0; i < NW_LIMIT_COUNT; i++) {
		char v[32];

		nw_limit_format((enum nw_limit)i, l->v[i], v, sizeof(v));
		if (append(wa, used, argc, "--%s=%s", nw_limit_defs[i].flag, v))
			return -ENOSPC;
	}
	return 0;
}

/* --user=UID:GID [--allow-uid=..] [--allow-gid=..] --attach-set=NAME --event-mode=M
 * [--test-hooks] --client-expiry=MSms --max-clients=N ... (every limit) */
int ldr_worker_args_build(struct ldr_worker_args *wa, const struct ldr_config *cfg, enum ldr_set set)
{
	size_t used = 0, argc = 0;

	memset(wa, 0, sizeof(*wa));
	return append(wa, &used, &argc, "netwarden-worker") ||
	       append(wa, &used, &argc, "--user=%u:%u", cfg->worker_uid, cfg->worker_gid) ||
	       append_ids(wa, &used, &argc, "--allow-uid", cfg->allow_uids, cfg->n_allow_uids) ||
	       append_ids(wa, &used, &argc, "--allow-gid", cfg->allow_gids, cfg->n_allow_gids) ||
	       append(wa, &used, &argc, "--attach-set=%s", ldr_set_name(set)) ||
	       append(wa, &used, &argc, "--event-mode=%s", cfg->perf_events ? "perf" : "ringbuf") ||
	       (cfg->test_hooks && append(wa, &used, &argc, "--test-hooks")) ||
	       (cfg->seccomp_mode == NW_SECCOMP_AUDIT && append(wa, &used, &argc, "--seccomp=audit")) ||
	       append_limits(wa, &used, &argc, &cfg->limits) ? -ENOSPC : 0;
}
