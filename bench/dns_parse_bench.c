/* Driver for bench/dns_parse.sh: parse the DNS response corpus ITER times with
 * one parser, inside bench_loop() (the only function callgrind counts).
 *
 *   dns_parse_bench MODE ITER [DIR]
 *   MODE  ours      dns_parse() only (validate, record offsets)
 *         ours_use  dns_parse() + what the worker needs: question text
 *                   (lower-cased), every answer's address or CNAME target text
 *         ldns      ldns_wire2pkt() + ldns_pkt_free()
 * Prints the number of messages per iteration and how many parsed.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "unprivileged/dns/dns_parse.h"

#define MAX_MSGS 64

static struct {
	uint8_t bytes[4096];
	size_t len;
} msgs[MAX_MSGS];
static size_t n_msgs;

static void load(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d) {
		perror(dir);
		exit(2);
	}
	while ((de = readdir(d)) && n_msgs < MAX_MSGS) {
		size_t l = strlen(de->d_name);
		char path[512];
		FILE *f;

		if (l < 6 || strcmp(de->d_name + l - 6, ".r.bin"))
			continue; /* responses only: what the worker parses most */
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		if (!f)
			continue;
		msgs[n_msgs].len = fread(msgs[n_msgs].bytes, 1, sizeof(msgs[n_msgs].bytes), f);
		fclose(f);
		n_msgs++;
	}
	closedir(d);
}

static size_t use_ours(const uint8_t *b, size_t len)
{
	static struct dns_msg m;
	char text[DNS_NAME_TEXT_MAX];
	struct dns_ip ip;
	size_t sum = 0;

	if (dns_parse(b, len, &m))
		return 0;
	if (dns_name_text(&m, m.qname_off, text, sizeof(text), true) > 0)
		sum += (uint8_t)text[0];
	for (uint16_t i = 0; i < m.n_answers; i++) {
		if (m.answers[i].type == DNS_TYPE_CNAME)
			sum += (size_t)dns_name_text(&m, m.answers[i].rdata_off, text, sizeof(text), true);
		else if (!dns_rr_ip(&m, &m.answers[i], &ip))
			sum += ip.addr[0];
	}
	return sum + 1;
}

enum mode { OURS, OURS_USE, LDNS };

__attribute__((noinline)) static size_t bench_loop(enum mode mode, long iter)
{
	static struct dns_msg m;
	size_t ok = 0;

	for (long i = 0; i < iter; i++)
		for (size_t k = 0; k < n_msgs; k++) {
			if (mode == OURS) {
				ok += !dns_parse(msgs[k].bytes, msgs[k].len, &m);
			} else if (mode == OURS_USE) {
				ok += use_ours(msgs[k].bytes, msgs[k].len) > 0;
			} else {
				ldns_pkt *p = NULL;

				ok += ldns_wire2pkt(&p, msgs[k].bytes, msgs[k].len) == LDNS_STATUS_OK;
				ldns_pkt_free(p);
			}
		}
	return ok;
}

int main(int argc, char **argv)
{
	long iter;
	size_t ok;

	if (argc < 3 || (strcmp(argv[1], "ours") && strcmp(argv[1], "ours_use") && strcmp(argv[1], "ldns"))) {
		fprintf(stderr, "usage: %s ours|ours_use|ldns ITER [DIR]\n", argv[0]);
		return 2;
	}
	iter = atol(argv[2]);
	load(argc > 3 ? argv[3] : "tests/data/dns");
	if (!n_msgs) {
		fprintf(stderr, "no *.r.bin messages found\n");
		return 2;
	}
	ok = bench_loop(!strcmp(argv[1], "ours") ? OURS : !strcmp(argv[1], "ours_use") ? OURS_USE : LDNS, iter);
	printf("messages %zu iterations %ld parsed %zu\n", n_msgs, iter, ok);
	return ok == n_msgs * (size_t)iter ? 0 : 1;
}
