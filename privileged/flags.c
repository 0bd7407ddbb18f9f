/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Command line of the loader, and the argv it gives the worker. No logging:
 * errors come back as text for main to print. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <string.h>
#include "privileged/loader.h"

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

void ldr_flags_usage(FILE *f)
{
	fputs("usage: netwarden [options]\n"
	      "  --attach=auto|tracepoint|fentry|kprobe  program set (default auto)\n"
	      "  --events=ringbuf|perf      closed-connection channel (default ringbuf)\n"
	      "  --rpc-socket=PATH          default " LDR_DEFAULT_SOCKET "\n"
	      "  --rpc-group=NAME|GID       group owning the socket and its directory (default 0)\n"
	      "  --allow-uid=UID[,UID..]    RPC peers allowed besides root\n"
	      "  --allow-gid=GID[,GID..]\n"
	      "  --worker-user=NAME|UID     default nobody\n"
	      "  --worker=PATH              default: netwarden-worker next to this binary\n"
	      "  --test-hooks               enable worker test hooks\n"
	      "  -v, --verbose\n"
	      "  -h, --help\n", f);
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
	OPT_WORKER_USER, OPT_WORKER, OPT_TEST_HOOKS,
};

static const struct option options[] = {
	{ "attach", required_argument, NULL, OPT_ATTACH },
	{ "events", required_argument, NULL, OPT_EVENTS },
	{ "rpc-socket", required_argument, NULL, OPT_SOCKET },
	{ "rpc-group", required_argument, NULL, OPT_GROUP },
	{ "allow-uid", required_argument, NULL, OPT_ALLOW_UID },
	{ "allow-gid", required_argument, NULL, OPT_ALLOW_GID },
	{ "worker-user", required_argument, NULL, OPT_WORKER_USER },
	{ "worker", required_argument, NULL, OPT_WORKER },
	{ "test-hooks", no_argument, NULL, OPT_TEST_HOOKS },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

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

/* Returns 0 (cfg->help set for -h) or -EINVAL with a message in err. */
int ldr_flags_parse(struct ldr_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	int c, ret;

	memset(cfg, 0, sizeof(*cfg));
	cfg->attach = LDR_ATTACH_AUTO;
	memcpy(cfg->rpc_socket, LDR_DEFAULT_SOCKET, sizeof(LDR_DEFAULT_SOCKET));
	cfg->worker_uid = 65534;
	cfg->worker_gid = 65534;
	optind = 0; /* glibc: full re-initialisation */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hv", options, NULL)) != -1) {
		ret = 0;
		switch (c) {
		case OPT_ATTACH:
			ret = parse_attach(cfg, optarg, err, errlen);
			break;
		case OPT_EVENTS:
			if (!strcmp(optarg, "perf") || !strcmp(optarg, "ringbuf"))
				cfg->perf_events = !strcmp(optarg, "perf");
			else
				ret = fail(err, errlen, "invalid --events value '%s' (expected ringbuf or perf)", optarg);
			break;
		case OPT_SOCKET:
			ret = parse_socket_path(cfg, optarg, err, errlen);
			break;
		case OPT_GROUP:
			ret = parse_group(optarg, &cfg->rpc_gid, err, errlen);
			break;
		case OPT_ALLOW_UID:
			ret = parse_id_list("--allow-uid", optarg, cfg->allow_uids, &cfg->n_allow_uids, err, errlen);
			break;
		case OPT_ALLOW_GID:
			ret = parse_id_list("--allow-gid", optarg, cfg->allow_gids, &cfg->n_allow_gids, err, errlen);
			break;
		case OPT_WORKER_USER:
			ret = parse_user(optarg, &cfg->worker_uid, &cfg->worker_gid, err, errlen);
			break;
		case OPT_WORKER:
			if (optarg[0] != '/')
				ret = fail(err, errlen, "--worker must be an absolute path");
			cfg->worker_path = optarg;
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
		default:
			if (optopt && !strncmp(argv[optind - 1], "--", 2))
				return fail(err, errlen, "option '%s' does not take a value", argv[optind - 1]);
			if (optopt)
				return fail(err, errlen, "unknown option '-%c'", optopt);
			return fail(err, errlen, "unknown option '%s'", argv[optind - 1]);
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

/* --user=UID:GID [--allow-uid=..] [--allow-gid=..] --attach-set=NAME --event-mode=M [--test-hooks] */
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
	       (cfg->test_hooks && append(wa, &used, &argc, "--test-hooks")) ? -ENOSPC : 0;
}
