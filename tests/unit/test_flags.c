/* Unit tests for the loader's pure logic: privileged/flags.c (every flag, bad
 * values, limits and the config file, the worker's argv), ldr_probe_plan ordering, ldr_backoff,
 * ldr_status_str, and ldr_cgroup2_root on sample mountinfo text. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>

/* before cmocka.h: flags.c has a static fail() that cmocka's macro would hijack */
#include "privileged/flags.c"
#include "sandbox/limits.c"
#include "privileged/probe.c"
#include "privileged/bpfload.c"
#include "privileged/pktsock.c"
#include "privileged/log.c"
#include "privileged/supervise.c"
#include "privileged/spawn.c"
#include "sandbox/manifest.c"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

static struct ldr_config cfg;
static char err[256];

/* argv NULL-terminated; returns ldr_flags_parse's result, message in err. */
static int parse(char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	err[0] = '\0';
	return ldr_flags_parse(&cfg, argc, argv, err, sizeof(err));
}

#define PARSE(...) parse((char *[]){ "netwarden", __VA_ARGS__, NULL })

/* A refused flag: -EINVAL and a message that names the problem. */
static void refused(const char *arg, const char *word)
{
	char *argv[] = { "netwarden", (char *)arg, NULL };

	assert_int_equal(parse(argv), -EINVAL);
	if (!strstr(err, word))
		fail_msg("'%s': message '%s' lacks '%s'", arg, err, word);
}

static void test_defaults(void **state)
{
	char *argv[] = { "netwarden", NULL };

	assert_int_equal(parse(argv), 0);
	assert_int_equal(cfg.attach, LDR_ATTACH_AUTO);
	assert_false(cfg.perf_events);
	assert_string_equal(cfg.rpc_socket, LDR_DEFAULT_SOCKET);
	assert_int_equal(cfg.rpc_gid, 0);
	assert_int_equal(cfg.worker_uid, 65534);
	assert_int_equal(cfg.worker_gid, 65534);
	assert_null(cfg.worker_path);
	assert_int_equal(cfg.n_allow_uids, 0);
	assert_int_equal(cfg.n_allow_gids, 0);
	assert_false(cfg.test_hooks);
	assert_false(cfg.verbose);
	assert_false(cfg.help);
}

static void test_attach(void **state)
{
	static const struct { const char *arg; int want; } cases[] = {
		{ "--attach=auto", LDR_ATTACH_AUTO },
		{ "--attach=tracepoint", LDR_SET_TRACEPOINT },
		{ "--attach=fentry", LDR_SET_FENTRY },
		{ "--attach=kprobe", LDR_SET_KPROBE },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(PARSE((char *)cases[i].arg), 0);
		assert_int_equal(cfg.attach, cases[i].want);
	}
	assert_int_equal(PARSE("--attach", "kprobe"), 0); /* separate value */
	assert_int_equal(cfg.attach, LDR_SET_KPROBE);
	assert_int_equal(PARSE("--attach=kprobe", "--attach=auto"), 0); /* last wins */
	assert_int_equal(cfg.attach, LDR_ATTACH_AUTO);
	refused("--attach=bogus", "attach");
	refused("--attach=", "attach");
	refused("--attach=Tracepoint", "attach");
	refused("--attach=tracepoint ", "attach");
	refused("--attach=tp", "attach");
	refused("--attach", "needs a value");
}

static void test_events(void **state)
{
	assert_int_equal(PARSE("--events=perf"), 0);
	assert_true(cfg.perf_events);
	assert_int_equal(PARSE("--events=perf", "--events=ringbuf"), 0);
	assert_false(cfg.perf_events);
	refused("--events=bogus", "events");
	refused("--events=", "events");
	refused("--events=PERF", "events");
}

/* The ring-buffer wakeup threshold: default half the ring (the worker reads
 * it on its drain timer), 0 allowed. */
static void test_ringbuf_wakeup(void **state)
{
	assert_int_equal(PARSE("--events=ringbuf"), 0);
	assert_int_equal(cfg.rb_wakeup_bytes, LDR_RINGBUF_WAKEUP_BYTES);
	assert_int_equal(cfg.rb_wakeup_bytes, 1048576);
	assert_int_equal(PARSE("--ringbuf-wakeup-bytes=0"), 0);
	assert_int_equal(cfg.rb_wakeup_bytes, 0);
	assert_int_equal(PARSE("--ringbuf-wakeup-bytes=4096"), 0);
	assert_int_equal(cfg.rb_wakeup_bytes, 4096);
	refused("--ringbuf-wakeup-bytes=2097153", "ringbuf-wakeup-bytes");
	assert_int_equal(PARSE("--ringbuf-wakeup-bytes=2097152"), 0);
	refused("--ringbuf-wakeup-bytes=-1", "ringbuf-wakeup-bytes");
	refused("--ringbuf-wakeup-bytes=1k", "ringbuf-wakeup-bytes");
	refused("--ringbuf-wakeup-bytes=", "ringbuf-wakeup-bytes");
}

static void test_rpc_socket(void **state)
{
	char path[LDR_SOCK_PATH_MAX + 16], arg[LDR_SOCK_PATH_MAX + 32];

	assert_int_equal(PARSE("--rpc-socket=/tmp/d/x.sock"), 0);
	assert_string_equal(cfg.rpc_socket, "/tmp/d/x.sock");
	refused("--rpc-socket=relative/x.sock", "absolute");
	refused("--rpc-socket=", "absolute");
	refused("--rpc-socket=/x.sock", "directory");
	refused("--rpc-socket=/run/netwarden/", "file name");
	/* longest that fits sun_path, and one more */
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[1] = 'd';
	path[2] = '/';
	path[LDR_SOCK_PATH_MAX - 1] = '\0';
	snprintf(arg, sizeof(arg), "--rpc-socket=%s", path);
	assert_int_equal(PARSE(arg), 0);
	assert_string_equal(cfg.rpc_socket, path);
	path[LDR_SOCK_PATH_MAX - 1] = 'a';
	path[LDR_SOCK_PATH_MAX] = '\0';
	snprintf(arg, sizeof(arg), "--rpc-socket=%s", path);
	refused(arg, "shorter");
}

static void test_rpc_group(void **state)
{
	assert_int_equal(PARSE("--rpc-group=1234"), 0);
	assert_int_equal(cfg.rpc_gid, 1234);
	assert_int_equal(PARSE("--rpc-group=root"), 0);
	assert_int_equal(cfg.rpc_gid, 0);
	if (getgrnam("nogroup")) {
		assert_int_equal(PARSE("--rpc-group=nogroup"), 0);
		assert_int_equal(cfg.rpc_gid, getgrnam("nogroup")->gr_gid);
	}
	refused("--rpc-group=no-such-group-nwt", "group");
	refused("--rpc-group=", "group");
	refused("--rpc-group=4294967295", "group"); /* (gid_t)-1 is not a gid; no such name */
}

static void test_id_lists(void **state)
{
	char many[LDR_MAX_IDS * 4 + 32];
	size_t off;

	assert_int_equal(PARSE("--allow-uid=1000,1001", "--allow-uid=7", "--allow-gid=50"), 0);
	assert_int_equal(cfg.n_allow_uids, 3);
	assert_int_equal(cfg.allow_uids[0], 1000);
	assert_int_equal(cfg.allow_uids[1], 1001);
	assert_int_equal(cfg.allow_uids[2], 7);
	assert_int_equal(cfg.n_allow_gids, 1);
	assert_int_equal(cfg.allow_gids[0], 50);
	assert_int_equal(PARSE("--allow-uid=0", "--allow-gid=4294967294"), 0);
	assert_int_equal(cfg.allow_uids[0], 0);
	assert_int_equal(cfg.allow_gids[0], 4294967294u);

	refused("--allow-uid=", "--allow-uid");
	refused("--allow-uid=1,,2", "--allow-uid");
	refused("--allow-uid=1,", "--allow-uid");
	refused("--allow-uid=,1", "--allow-uid");
	refused("--allow-uid=-1", "--allow-uid");
	refused("--allow-uid=+1", "--allow-uid");
	refused("--allow-uid=1 ", "--allow-uid");
	refused("--allow-uid=alice", "--allow-uid");
	refused("--allow-uid=4294967295", "--allow-uid");  /* (uid_t)-1 */
	refused("--allow-uid=99999999999", "--allow-uid"); /* 11 digits */
	refused("--allow-gid=0x10", "--allow-gid");

	/* exactly LDR_MAX_IDS, then one more */
	off = (size_t)snprintf(many, sizeof(many), "--allow-gid=");
	for (int i = 0; i < LDR_MAX_IDS; i++)
		off += (size_t)snprintf(many + off, sizeof(many) - off, "%s%d", i ? "," : "", i);
	assert_int_equal(PARSE(many), 0);
	assert_int_equal(cfg.n_allow_gids, LDR_MAX_IDS);
	assert_int_equal(cfg.allow_gids[LDR_MAX_IDS - 1], LDR_MAX_IDS - 1);
	assert_int_equal(PARSE(many, "--allow-gid=99"), -EINVAL);
	assert_non_null(strstr(err, "too many"));
	snprintf(many + off, sizeof(many) - off, ",99");
	refused(many, "too many");
}

static void test_worker_user(void **state)
{
	assert_int_equal(PARSE("--worker-user=nobody"), 0);
	assert_int_equal(cfg.worker_uid, getpwnam("nobody")->pw_uid);
	assert_int_equal(cfg.worker_gid, getpwnam("nobody")->pw_gid);
	/* a uid without a passwd entry gets the group of the same number */
	if (!getpwuid(4000123)) {
		assert_int_equal(PARSE("--worker-user=4000123"), 0);
		assert_int_equal(cfg.worker_uid, 4000123);
		assert_int_equal(cfg.worker_gid, 4000123);
	}
	refused("--worker-user=no-such-user-nwt", "user");
	refused("--worker-user=", "user");
	refused("--worker-user=root", "root");
	refused("--worker-user=0", "root");
}

static void test_worker_and_switches(void **state)
{
	assert_int_equal(PARSE("--worker=/opt/nw/worker", "--test-hooks", "-v"), 0);
	assert_string_equal(cfg.worker_path, "/opt/nw/worker");
	assert_true(cfg.test_hooks);
	assert_true(cfg.verbose);
	assert_int_equal(PARSE("--verbose"), 0);
	assert_true(cfg.verbose);
	assert_int_equal(PARSE("-h"), 0);
	assert_true(cfg.help);
	assert_int_equal(PARSE("--help"), 0);
	assert_true(cfg.help);
	refused("--worker=relative/worker", "absolute");
	refused("--test-hooks=1", "does not take a value");
	refused("--no-such-flag", "unknown option '--no-such-flag'");
	refused("-x", "unknown option '-x'");
	refused("stray", "unexpected argument 'stray'");
	assert_int_equal(PARSE("--", "stray"), -EINVAL);
	assert_non_null(strstr(err, "unexpected argument"));
}

static void test_set_names(void **state)
{
	assert_string_equal(ldr_set_name(LDR_SET_TRACEPOINT), "tracepoint");
	assert_string_equal(ldr_set_name(LDR_SET_FENTRY), "fentry");
	assert_string_equal(ldr_set_name(LDR_SET_KPROBE), "kprobe");
	assert_string_equal(ldr_set_name(LDR_SET_COUNT), "?");
	assert_string_equal(ldr_set_name((enum ldr_set)-1), "?");
	assert_string_equal(ldr_set_prefix(LDR_SET_TRACEPOINT), "tp_");
	assert_string_equal(ldr_set_prefix(LDR_SET_FENTRY), "fe_");
	assert_string_equal(ldr_set_prefix(LDR_SET_KPROBE), "kp_");
	assert_string_equal(ldr_set_prefix(LDR_SET_COUNT), "?");
}

#define DEFAULT_LIMIT_ARGS                                                                  \
	"--client-expiry=120000ms", "--max-clients=64", "--max-tracked-connections=65536",   \
		"--max-closed-buffered=50000", "--max-client-stats=75000",                     \
		"--tcp-idle-timeout=120000ms", "--udp-idle-timeout=30000ms",                   \
		"--max-dns-stats=20000", "--max-http-stats=10000", "--max-kafka-stats=10000",  \
		"--dns-timeout=15000ms", "--max-dns-inflight=10000", "--max-dns-cache-ips=100000", \
		"--drain-interval=100ms"

static void assert_argv(char *const *got, const char *const *want)
{
	size_t i;

	for (i = 0; want[i]; i++) {
		assert_non_null(got[i]);
		assert_string_equal(got[i], want[i]);
	}
	assert_null(got[i]);
}

static void test_worker_args(void **state)
{
	struct ldr_worker_args wa;
	char many_uid[LDR_MAX_IDS * 11 + 32], many_gid[LDR_MAX_IDS * 11 + 32];
	size_t ou, og;

	assert_int_equal(PARSE("--events=ringbuf"), 0);
	assert_int_equal(ldr_worker_args_build(&wa, &cfg, LDR_SET_TRACEPOINT), 0);
	assert_argv(wa.argv, (const char *const[]){ "netwarden-worker", "--user=65534:65534",
		"--attach-set=tracepoint", "--event-mode=ringbuf", DEFAULT_LIMIT_ARGS, NULL });

	assert_int_equal(PARSE("--events=perf", "--allow-uid=1000,1001", "--allow-gid=7",
			       "--worker-user=nobody", "--test-hooks"), 0);
	assert_int_equal(ldr_worker_args_build(&wa, &cfg, LDR_SET_KPROBE), 0);
	assert_argv(wa.argv, (const char *const[]){ "netwarden-worker", "--user=65534:65534",
		"--allow-uid=1000,1001", "--allow-gid=7", "--attach-set=kprobe", "--event-mode=perf",
		"--test-hooks", DEFAULT_LIMIT_ARGS, NULL });

	/* limits reach the worker in the form it parses back */
	assert_int_equal(PARSE("--client-expiry=3s", "--max-closed-buffered=5", "--udp-idle-timeout=1h"), 0);
	assert_int_equal(ldr_worker_args_build(&wa, &cfg, LDR_SET_TRACEPOINT), 0);
	assert_argv(wa.argv, (const char *const[]){ "netwarden-worker", "--user=65534:65534",
		"--attach-set=tracepoint", "--event-mode=ringbuf", "--client-expiry=3000ms",
		"--max-clients=64", "--max-tracked-connections=65536", "--max-closed-buffered=5",
		"--max-client-stats=75000", "--tcp-idle-timeout=120000ms", "--udp-idle-timeout=3600000ms",
		"--max-dns-stats=20000", "--max-http-stats=10000", "--max-kafka-stats=10000",
		"--dns-timeout=15000ms", "--max-dns-inflight=10000", "--max-dns-cache-ips=100000",
		"--drain-interval=100ms", NULL });

	/* the largest argv there can be still fits */
	ou = (size_t)snprintf(many_uid, sizeof(many_uid), "--allow-uid=");
	og = (size_t)snprintf(many_gid, sizeof(many_gid), "--allow-gid=");
	for (int i = 0; i < LDR_MAX_IDS; i++) {
		ou += (size_t)snprintf(many_uid + ou, sizeof(many_uid) - ou, "%s4294967294", i ? "," : "");
		og += (size_t)snprintf(many_gid + og, sizeof(many_gid) - og, "%s4294967294", i ? "," : "");
	}
	assert_int_equal(PARSE(many_uid, many_gid, "--events=perf", "--test-hooks",
			       "--worker-user=4294967294"), 0);
	for (int i = 0; i < NW_LIMIT_COUNT; i++)
		cfg.limits.v[i] = nw_limit_defs[i].max; /* the longest values */
	assert_int_equal(ldr_worker_args_build(&wa, &cfg, LDR_SET_FENTRY), 0);
	assert_string_equal(wa.argv[1], "--user=4294967294:4294967294");
	assert_string_equal(wa.argv[2], many_uid);
	assert_string_equal(wa.argv[3], many_gid);
	assert_string_equal(wa.argv[4], "--attach-set=fentry");
	assert_string_equal(wa.argv[6], "--test-hooks");
	assert_string_equal(wa.argv[7], "--client-expiry=86400000ms");
	assert_string_equal(wa.argv[7 + NW_LIMIT_COUNT - 2], "--max-dns-cache-ips=4194304");
	assert_string_equal(wa.argv[7 + NW_LIMIT_COUNT - 1], "--drain-interval=1000ms");
	assert_null(wa.argv[7 + NW_LIMIT_COUNT]);
}

/* ---- limits: flags, config file ------------------------------------------------ */

static void test_limit_defaults_and_table(void **state)
{
	struct nw_limits l;
	char buf[64];

	assert_int_equal(PARSE("-v"), 0);
	assert_int_equal(cfg.limits.v[NW_LIMIT_CLIENT_EXPIRY], 120000);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_TRACKED], 65536);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_CLOSED_BUFFERED], 50000);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_CLIENT_STATS], 75000);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_CLIENTS], 64);
	assert_int_equal(cfg.limits.v[NW_LIMIT_TCP_IDLE_TIMEOUT], 120000);
	assert_int_equal(cfg.limits.v[NW_LIMIT_UDP_IDLE_TIMEOUT], 30000);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_DNS_STATS], 20000);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_HTTP_STATS], 10000);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_KAFKA_STATS], 10000);
	assert_int_equal(cfg.limits.v[NW_LIMIT_DRAIN_INTERVAL], 100);
	assert_null(cfg.config_path);
	/* every value the table allows survives format -> parse, defaults lie inside */
	nw_limits_default(&l);
	for (int i = 0; i < NW_LIMIT_COUNT; i++) {
		const struct nw_limit_def *d = &nw_limit_defs[i];
		uint64_t vals[] = { d->min, d->def, d->max }, got;

		assert_true(d->min <= d->def && d->def <= d->max);
		assert_int_equal(l.v[i], d->def);
		assert_int_equal(nw_limit_by_key(d->key), i);
		assert_int_equal(nw_limit_by_flag(d->flag), i);
		for (size_t j = 0; j < 3; j++) {
			nw_limit_format((enum nw_limit)i, vals[j], buf, sizeof(buf));
			assert_int_equal(nw_limit_parse((enum nw_limit)i, buf, &got), 0);
			assert_int_equal(got, vals[j]);
		}
		nw_limit_format((enum nw_limit)i, d->max + 1, buf, sizeof(buf));
		assert_int_equal(nw_limit_parse((enum nw_limit)i, buf, &got), -ERANGE);
	}
	assert_int_equal(nw_limit_by_key("max-clients"), -ENOENT);
	assert_int_equal(nw_limit_by_flag("max_clients"), -ENOENT);
	assert_int_equal(nw_limit_parse(NW_LIMIT_COUNT, "1", &l.v[0]), -EINVAL);
	nw_limit_human(NW_LIMIT_CLIENT_EXPIRY, 120000, buf, sizeof(buf));
	assert_string_equal(buf, "2m");
	nw_limit_human(NW_LIMIT_UDP_IDLE_TIMEOUT, 1500, buf, sizeof(buf));
	assert_string_equal(buf, "1500ms");
	nw_limit_human(NW_LIMIT_MAX_CLIENTS, 64, buf, sizeof(buf));
	assert_string_equal(buf, "64");
}

static void test_limit_flags(void **state)
{
	assert_int_equal(PARSE("--client-expiry=3s", "--max-clients=2", "--max-tracked-connections=1024",
			       "--max-closed-buffered=5", "--max-client-stats=9", "--tcp-idle-timeout=2",
			       "--udp-idle-timeout=1500ms", "--max-dns-stats=1", "--max-http-stats=2",
			       "--max-kafka-stats=3"), 0);
	assert_int_equal(cfg.limits.v[NW_LIMIT_CLIENT_EXPIRY], 3000);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_CLIENTS], 2);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_TRACKED], 1024);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_CLOSED_BUFFERED], 5);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_CLIENT_STATS], 9);
	assert_int_equal(cfg.limits.v[NW_LIMIT_TCP_IDLE_TIMEOUT], 2000); /* bare number: seconds */
	assert_int_equal(cfg.limits.v[NW_LIMIT_UDP_IDLE_TIMEOUT], 1500);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_DNS_STATS], 1);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_HTTP_STATS], 2);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_KAFKA_STATS], 3);
	assert_int_equal(PARSE("--tcp-idle-timeout=1h", "--client-expiry", "5m"), 0);
	assert_int_equal(cfg.limits.v[NW_LIMIT_TCP_IDLE_TIMEOUT], 3600000);
	assert_int_equal(cfg.limits.v[NW_LIMIT_CLIENT_EXPIRY], 300000);
	assert_int_equal(PARSE("--drain-interval=250ms"), 0);
	assert_int_equal(cfg.limits.v[NW_LIMIT_DRAIN_INTERVAL], 250);
	assert_int_equal(PARSE("--drain-interval=1"), 0);
	assert_int_equal(cfg.limits.v[NW_LIMIT_DRAIN_INTERVAL], 1000);
	assert_int_equal(PARSE("--max-clients=3", "--max-clients=4"), 0); /* last wins */
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_CLIENTS], 4);

	refused("--max-clients=0", "--max-clients value '0' (expected a count from 1 to 1024)");
	refused("--max-clients=1025", "from 1 to 1024");
	refused("--max-clients=abc", "--max-clients");
	refused("--max-clients=-1", "--max-clients");
	refused("--max-clients=+1", "--max-clients");
	refused("--max-clients=1 ", "--max-clients");
	refused("--max-clients=1k", "--max-clients");
	refused("--max-clients=", "--max-clients");
	refused("--max-closed-buffered=99999999999999999999999", "--max-closed-buffered");
	refused("--max-tracked-connections=4194305", "to 4194304");
	refused("--tcp-idle-timeout=500ms", "a duration from 1s to 24h");
	refused("--tcp-idle-timeout=25h", "--tcp-idle-timeout");
	refused("--tcp-idle-timeout=5x", "--tcp-idle-timeout");
	refused("--tcp-idle-timeout=5 s", "--tcp-idle-timeout");
	refused("--tcp-idle-timeout=s", "--tcp-idle-timeout");
	refused("--udp-idle-timeout=1.5s", "--udp-idle-timeout");
	refused("--drain-interval=9ms", "a duration from 10ms to 1s");
	refused("--drain-interval=1001ms", "--drain-interval");
	refused("--client-expiry=18446744073709551615h", "--client-expiry");
	refused("--max-dns-stats", "needs a value");
}

static char cfg_path[64];

/* A config file with this text; its path in cfg_path. */
static const char *conf(const char *text)
{
	int fd;

	snprintf(cfg_path, sizeof(cfg_path), "/tmp/nwt-conf-XXXXXX");
	fd = mkstemp(cfg_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return cfg_path;
}

/* --config=PATH with the text refused; the message has "PATH:LINE: word". */
static void conf_refused(const char *text, unsigned int line, const char *word)
{
	char arg[96], want[160];

	conf(text);
	snprintf(arg, sizeof(arg), "--config=%s", cfg_path);
	refused(arg, word);
	if (line) {
		snprintf(want, sizeof(want), "%s:%u: ", cfg_path, line);
		if (strncmp(err, want, strlen(want)))
			fail_msg("message '%s' does not start with '%s'", err, want);
	}
	unlink(cfg_path);
}

static void test_usm_flags(void **state)
{
	char arg[96];

	assert_int_equal(PARSE("--attach=auto"), 0);
	assert_true(cfg.usm_http); /* HTTP on, Kafka off: Datadog's USM defaults */
	assert_false(cfg.usm_kafka);
	assert_int_equal(cfg.usm_fragment_bytes, USM_PAYLOAD_DEFAULT);
	assert_int_equal(cfg.usm_max_flows, USM_FLOWS_DEFAULT);
	assert_int_equal(PARSE("--http=off", "--kafka=on", "--usm-fragment-bytes=512",
			       "--usm-max-flows=64"), 0);
	assert_false(cfg.usm_http);
	assert_true(cfg.usm_kafka);
	assert_int_equal(cfg.usm_fragment_bytes, 512);
	assert_int_equal(cfg.usm_max_flows, 64);
	assert_int_equal(PARSE("--usm-fragment-bytes=16", "--usm-max-flows=1048576"), 0);
	refused("--http=yes", "expected on or off");
	refused("--kafka=", "--kafka");
	refused("--usm-fragment-bytes=513", "16 to 512");
	refused("--usm-fragment-bytes=15", "usm-fragment-bytes");
	refused("--usm-fragment-bytes=2k", "usm-fragment-bytes");
	refused("--usm-max-flows=63", "64 to 1048576");
	refused("--usm-max-flows=1048577", "usm-max-flows");
	refused("--http", "needs a value");
	/* the same keys in the config file, flags over the file */
	snprintf(arg, sizeof(arg), "--config=%s",
		 conf("http = off\nkafka = on\nusm_fragment_bytes = 300\nusm_max_flows = 100\n"));
	assert_int_equal(PARSE(arg, "--usm-max-flows=200"), 0);
	assert_false(cfg.usm_http);
	assert_true(cfg.usm_kafka);
	assert_int_equal(cfg.usm_fragment_bytes, 300);
	assert_int_equal(cfg.usm_max_flows, 200);
	unlink(cfg_path);
}

static void test_config_file(void **state)
{
	char arg[96];

	conf("# netwarden limits\n"
	     "\n"
	     "client_expiry = 3s\n"
	     "  max_closed_buffered=5   # per client\n"
	     "\tmax_clients\t=\t7\n"
	     "max_tracked_connections = 4096\n"
	     "max_client_stats = 100\n"
	     "tcp_idle_timeout = 2m\r\n"
	     "udp_idle_timeout = 10\n"
	     "max_dns_stats = 11\n"
	     "max_http_stats = 12\n"
	     "max_kafka_stats = 13\n"
	     "attach = tracepoint\n"
	     "events = perf\n"
	     "rpc_socket = /tmp/nw#1/x.sock\n"
	     "allow_uid = 1000,1001\n"
	     "allow_gid = 50\n"
	     "worker = /opt/nw/netwarden-worker");  /* last line without a newline */
	snprintf(arg, sizeof(arg), "--config=%s", cfg_path);
	assert_int_equal(PARSE(arg), 0);
	assert_string_equal(cfg.config_path, cfg_path);
	assert_int_equal(cfg.limits.v[NW_LIMIT_CLIENT_EXPIRY], 3000);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_CLOSED_BUFFERED], 5);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_CLIENTS], 7);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_TRACKED], 4096);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_CLIENT_STATS], 100);
	assert_int_equal(cfg.limits.v[NW_LIMIT_TCP_IDLE_TIMEOUT], 120000);
	assert_int_equal(cfg.limits.v[NW_LIMIT_UDP_IDLE_TIMEOUT], 10000);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_DNS_STATS], 11);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_HTTP_STATS], 12);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_KAFKA_STATS], 13);
	assert_int_equal(cfg.attach, LDR_SET_TRACEPOINT);
	assert_true(cfg.perf_events);
	assert_string_equal(cfg.rpc_socket, "/tmp/nw#1/x.sock"); /* '#' without a blank before it */
	assert_int_equal(cfg.n_allow_uids, 2);
	assert_int_equal(cfg.allow_uids[1], 1001);
	assert_int_equal(cfg.n_allow_gids, 1);
	assert_string_equal(cfg.worker_path, "/opt/nw/netwarden-worker");

	/* flags override the file, wherever they stand; lists are replaced, not extended */
	assert_int_equal(PARSE("--max-closed-buffered=9", arg, "--events=ringbuf", "--allow-uid=7",
			       "--allow-uid=8", "--worker=/w"), 0);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_CLOSED_BUFFERED], 9);
	assert_int_equal(cfg.limits.v[NW_LIMIT_CLIENT_EXPIRY], 3000); /* from the file */
	assert_false(cfg.perf_events);
	assert_int_equal(cfg.n_allow_uids, 2);
	assert_int_equal(cfg.allow_uids[0], 7);
	assert_int_equal(cfg.allow_uids[1], 8);
	assert_int_equal(cfg.n_allow_gids, 1); /* not given as a flag: the file's */
	assert_string_equal(cfg.worker_path, "/w");
	/* the same through ldr_config_file on its own */
	assert_int_equal(PARSE("-v"), 0);
	assert_int_equal(ldr_config_file(&cfg, cfg_path, err, sizeof(err)), 0);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_CLIENTS], 7);
	/* -h works whatever the file says; --config twice is refused */
	assert_int_equal(PARSE(arg, "-h"), 0);
	assert_true(cfg.help);
	assert_int_equal(PARSE(arg, arg), -EINVAL);
	assert_non_null(strstr(err, "--config given twice"));
	unlink(cfg_path);

	assert_int_equal(PARSE("--config=/nonexistent/nw.conf"), -EINVAL);
	assert_non_null(strstr(err, "failed to open config file /nonexistent/nw.conf"));
	refused("--config=", "needs a file name");
	/* an empty file, and one of comments only */
	conf("");
	snprintf(arg, sizeof(arg), "--config=%s", cfg_path);
	assert_int_equal(PARSE(arg), 0);
	unlink(cfg_path);
	conf("# nothing\n   \n\t# indented comment\n");
	snprintf(arg, sizeof(arg), "--config=%s", cfg_path);
	assert_int_equal(PARSE(arg), 0);
	assert_int_equal(cfg.limits.v[NW_LIMIT_MAX_CLIENTS], 64);
	unlink(cfg_path);
}

static void test_config_file_errors(void **state)
{
	char big[LDR_CONFIG_LINE_MAX + 64];

	conf_refused("max_clients = 3\nmax_clientz = 4\n", 2, "unknown key 'max_clientz'");
	conf_refused("\n\nmax-clients = 4\n", 3, "unknown key 'max-clients'"); /* '_' only */
	conf_refused("config = /etc/other.conf\n", 1, "unknown key 'config'");
	conf_refused("test_hooks = 1\n", 1, "unknown key 'test_hooks'");
	conf_refused("verbose = yes\n", 1, "unknown key 'verbose'");
	conf_refused("# c\nmax_clients = abc\n", 2,
		     "invalid value 'abc' for max_clients (expected a count from 1 to 1024)");
	conf_refused("tcp_idle_timeout = 0\n", 1, "invalid value '0' for tcp_idle_timeout");
	conf_refused("udp_idle_timeout = 30 s\n", 1, "udp_idle_timeout");
	conf_refused("max_clients\n", 1, "expected 'key = value'");
	conf_refused("max_clients =\n", 1, "'max_clients' needs a value");
	conf_refused("max_clients = # nothing\n", 1, "needs a value");
	conf_refused("= 5\n", 1, "unknown key ''");
	conf_refused("max_clients = 3\nmax_clients = 4\n", 2, "already set on line 1");
	conf_refused("attach = bogus\n", 1, "invalid --attach value 'bogus'");
	conf_refused("\nworker = relative\n", 2, "absolute");
	conf_refused("allow_uid = 1,,2\n", 1, "--allow-uid");
	memset(big, 'x', sizeof(big) - 2);
	memcpy(big, "max_clients = ", 14);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	conf_refused(big, 1, "line longer than");
}

static void test_usage_lists_limits(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	ldr_flags_usage(f);
	fclose(f);
	assert_non_null(strstr(text, "--config=PATH"));
	for (int i = 0; i < NW_LIMIT_COUNT; i++)
		if (!strstr(text, nw_limit_defs[i].flag))
			fail_msg("--help does not mention --%s", nw_limit_defs[i].flag);
	assert_non_null(strstr(text, "(default 2m)"));
	assert_non_null(strstr(text, "(default 65536)"));
	free(text);
}

static struct ldr_probe probe_with(bool tp, bool fe, bool kp)
{
	struct ldr_probe p;

	memset(&p, 0, sizeof(p));
	p.ok[LDR_SET_TRACEPOINT] = tp;
	p.ok[LDR_SET_FENTRY] = fe;
	p.ok[LDR_SET_KPROBE] = kp;
	return p;
}

#define ASSERT_PLAN(p, attach, ...)                                                      \
	do {                                                                              \
		const enum ldr_set want_[] = { __VA_ARGS__ };                              \
		enum ldr_set got_[LDR_SET_COUNT];                                          \
		size_t n_ = ldr_probe_plan(&(p), (attach), got_);                          \
		assert_int_equal(n_, sizeof(want_) / sizeof(want_[0]));                    \
		for (size_t i_ = 0; i_ < n_; i_++)                                         \
			assert_int_equal(got_[i_], want_[i_]);                             \
	} while (0)

static void test_probe_plan(void **state)
{
	struct ldr_probe all = probe_with(true, true, true), none = probe_with(false, false, false);
	struct ldr_probe here = probe_with(true, false, false), kp = probe_with(false, false, true);
	enum ldr_set order[LDR_SET_COUNT];

	/* auto: the usable sets in tracepoint -> fentry -> kprobe order */
	ASSERT_PLAN(all, LDR_ATTACH_AUTO, LDR_SET_TRACEPOINT, LDR_SET_FENTRY, LDR_SET_KPROBE);
	ASSERT_PLAN(here, LDR_ATTACH_AUTO, LDR_SET_TRACEPOINT);
	ASSERT_PLAN(kp, LDR_ATTACH_AUTO, LDR_SET_KPROBE);
	assert_int_equal(ldr_probe_plan(&none, LDR_ATTACH_AUTO, order), 0);
	/* explicit: the requested set first whatever the probe says, then the usable others */
	ASSERT_PLAN(here, LDR_SET_KPROBE, LDR_SET_KPROBE, LDR_SET_TRACEPOINT);
	ASSERT_PLAN(here, LDR_SET_FENTRY, LDR_SET_FENTRY, LDR_SET_TRACEPOINT);
	ASSERT_PLAN(here, LDR_SET_TRACEPOINT, LDR_SET_TRACEPOINT);
	ASSERT_PLAN(all, LDR_SET_KPROBE, LDR_SET_KPROBE, LDR_SET_TRACEPOINT, LDR_SET_FENTRY);
	ASSERT_PLAN(all, LDR_SET_FENTRY, LDR_SET_FENTRY, LDR_SET_TRACEPOINT, LDR_SET_KPROBE);
	ASSERT_PLAN(none, LDR_SET_FENTRY, LDR_SET_FENTRY);
	ASSERT_PLAN(kp, LDR_SET_TRACEPOINT, LDR_SET_TRACEPOINT, LDR_SET_KPROBE);
	/* nonsense requests give an empty plan */
	assert_int_equal(ldr_probe_plan(&all, LDR_SET_COUNT, order), 0);
	assert_int_equal(ldr_probe_plan(&all, -2, order), 0);
}

/* The real probes on this kernel: every set gets a reason, whatever the verdict. */
static void test_probe_run(void **state)
{
	struct ldr_probe p;

	ldr_probe_run(&p);
	for (int s = 0; s < LDR_SET_COUNT; s++) {
		assert_true(p.why[s][0] != '\0');
		assert_non_null(memchr(p.why[s], '\0', sizeof(p.why[s])));
	}
	if (!access("/sys/kernel/btf/vmlinux", R_OK))
		assert_true(p.ok[LDR_SET_TRACEPOINT] || strstr(p.why[LDR_SET_TRACEPOINT], "btf_trace"));
}

static void test_backoff(void **state)
{
	static const unsigned int want[] = { 250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000 };
	unsigned int next = 0;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(ldr_backoff(&next, 10), want[i]);
	assert_int_equal(next, 30000);
	/* a worker that stayed up for a minute starts the sequence over */
	assert_int_equal(ldr_backoff(&next, 59999), 30000);
	assert_int_equal(ldr_backoff(&next, 60000), 250);
	assert_int_equal(next, 500);
	assert_int_equal(ldr_backoff(&next, UINT64_MAX), 250);
	/* garbage in the state is clamped, never overflows */
	next = UINT_MAX;
	assert_int_equal(ldr_backoff(&next, 0), 30000);
	assert_int_equal(next, 30000);
	next = 1;
	assert_int_equal(ldr_backoff(&next, 0), 250);
	next = 29999;
	assert_int_equal(ldr_backoff(&next, 0), 29999);
	assert_int_equal(next, 30000);
}

static void test_status_str(void **state)
{
	char buf[128], tiny[8];

	ldr_status_str(W_EXITCODE(0, 0), buf, sizeof(buf));
	assert_string_equal(buf, "exited with status 0");
	ldr_status_str(W_EXITCODE(127, 0), buf, sizeof(buf));
	assert_string_equal(buf, "exited with status 127");
	ldr_status_str(W_EXITCODE(0, SIGSYS), buf, sizeof(buf));
	assert_non_null(strstr(buf, "killed by SIGSYS"));
	assert_non_null(strstr(buf, "signal 31"));
	assert_null(strstr(buf, "core"));
	ldr_status_str(W_EXITCODE(0, SIGSEGV) | WCOREFLAG, buf, sizeof(buf));
	assert_non_null(strstr(buf, "SIGSEGV"));
	assert_non_null(strstr(buf, "core dumped"));
	ldr_status_str(W_EXITCODE(0, SIGKILL), buf, sizeof(buf));
	assert_non_null(strstr(buf, "SIGKILL (signal 9"));
	ldr_status_str(W_STOPCODE(SIGSTOP), buf, sizeof(buf));
	assert_non_null(strstr(buf, "unexpected wait status"));
	ldr_status_str(W_EXITCODE(0, SIGSYS), tiny, sizeof(tiny));
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
}

static int cg(const char *text, char *buf, size_t len)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int ret;

	assert_non_null(f);
	ret = ldr_cgroup2_root(f, buf, len);
	fclose(f);
	return ret;
}

static void test_cgroup2_root(void **state)
{
	char buf[64];

	/* unified hierarchy */
	assert_int_equal(cg("21 1 0:19 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n"
			    "26 21 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - "
			    "cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/sys/fs/cgroup");
	/* hybrid: v1 controllers are skipped, several optional fields */
	assert_int_equal(cg("30 25 0:26 / /sys/fs/cgroup ro shared:9 - tmpfs tmpfs ro,mode=755\n"
			    "32 30 0:28 / /sys/fs/cgroup/systemd rw shared:11 - cgroup cgroup rw,name=systemd\n"
			    "33 30 0:29 / /sys/fs/cgroup/cpu rw shared:12 - cgroup cgroup rw,cpu\n"
			    "31 30 0:27 / /sys/fs/cgroup/unified rw shared:10 master:3 propagate_from:2 - "
			    "cgroup2 cgroup2 rw\n", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/sys/fs/cgroup/unified");
	/* the first usable cgroup2 mount wins */
	assert_int_equal(cg("1 0 0:1 / /a rw - cgroup2 none rw\n2 0 0:2 / /b rw - cgroup2 none rw\n",
			    buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/a");
	/* escaped or relative mount points and short lines are skipped */
	assert_int_equal(cg("1 0 0:1 / /with\\040space rw - cgroup2 none rw\n"
			    "2 0 0:2 / rel rw - cgroup2 none rw\n"
			    "3 0 0:3 / - cgroup2 none rw\n"
			    "4 0 0:4 / /ok rw - cgroup2 none rw\n", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/ok");
	/* fstype must be exactly cgroup2 */
	assert_int_equal(cg("1 0 0:1 / /x rw - cgroup2fs none rw\n1 0 0:1 / /y rw - cgroup none rw\n",
			    buf, sizeof(buf)), -ENOENT);
	assert_int_equal(cg("\n", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(cg("garbage without separator cgroup2\n", buf, sizeof(buf)), -ENOENT);
	/* exactly fits, one byte short */
	assert_int_equal(cg("1 0 0:1 / /abcdefg rw - cgroup2 none rw\n", buf, 9), 0);
	assert_string_equal(buf, "/abcdefg");
	assert_int_equal(cg("1 0 0:1 / /abcdefg rw - cgroup2 none rw\n", buf, 8), -ENAMETOOLONG);
}

/* ---- DNS capture flags ----------------------------------------------------------- */

static void test_dns_flags(void **state)
{
	assert_int_equal(PARSE("--attach=auto"), 0);
	assert_false(cfg.dns_off); /* on, eBPF, port 53: the defaults */
	assert_false(cfg.dns_classic);
	assert_int_equal(cfg.n_dns_ports, 1);
	assert_int_equal(cfg.dns_ports[0], 53);
	assert_int_equal(PARSE("--dns=off", "--dns-filter=classic", "--dns-ports=5353,53,8053"), 0);
	assert_true(cfg.dns_off);
	assert_true(cfg.dns_classic);
	assert_int_equal(cfg.n_dns_ports, 3);
	assert_int_equal(cfg.dns_ports[0], 5353);
	assert_int_equal(cfg.dns_ports[2], 8053);
	assert_int_equal(PARSE("--dns=on", "--dns-filter=ebpf", "--dns-ports=1,2,3,4,5,6,7,65535"), 0);
	assert_false(cfg.dns_off);
	assert_false(cfg.dns_classic);
	assert_int_equal(cfg.n_dns_ports, 8);
	assert_int_equal(cfg.dns_ports[7], 65535);
	refused("--dns=yes", "--dns");
	refused("--dns-filter=pcap", "--dns-filter");
	refused("--dns-ports=0", "--dns-ports");
	refused("--dns-ports=65536", "--dns-ports");
	refused("--dns-ports=53,,54", "--dns-ports");
	refused("--dns-ports=53,", "--dns-ports");
	refused("--dns-ports=", "--dns-ports");
	refused("--dns-ports=53x", "--dns-ports");
	refused("--dns-ports=53,53", "twice");
	refused("--dns-ports=1,2,3,4,5,6,7,8,9", "at most 8");
	/* the config file has the same keys; a flag overrides it */
	assert_int_equal(PARSE("--config=/dev/null"), 0);
	conf("dns = off\ndns_ports = 5353, 53\ndns_filter = classic\n");
	{
		char arg[96];

		snprintf(arg, sizeof(arg), "--config=%s", cfg_path);
		assert_int_equal(PARSE(arg), -EINVAL); /* "5353, 53": no blanks inside a list */
		unlink(cfg_path);
		conf("dns = off\ndns_ports = 5353,53\ndns_filter = classic\n");
		snprintf(arg, sizeof(arg), "--config=%s", cfg_path);
		assert_int_equal(PARSE(arg, "--dns=on"), 0);
		assert_false(cfg.dns_off);
		assert_true(cfg.dns_classic);
		assert_int_equal(cfg.n_dns_ports, 2);
		assert_int_equal(cfg.dns_ports[0], 5353);
		unlink(cfg_path);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_attach),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_ringbuf_wakeup),
		cmocka_unit_test(test_rpc_socket),
		cmocka_unit_test(test_rpc_group),
		cmocka_unit_test(test_id_lists),
		cmocka_unit_test(test_worker_user),
		cmocka_unit_test(test_worker_and_switches),
		cmocka_unit_test(test_set_names),
		cmocka_unit_test(test_worker_args),
		cmocka_unit_test(test_limit_defaults_and_table),
		cmocka_unit_test(test_limit_flags),
		cmocka_unit_test(test_usm_flags),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test(test_config_file_errors),
		cmocka_unit_test(test_dns_flags),
		cmocka_unit_test(test_usage_lists_limits),
		cmocka_unit_test(test_probe_plan),
		cmocka_unit_test(test_probe_run),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_status_str),
		cmocka_unit_test(test_cgroup2_root),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
