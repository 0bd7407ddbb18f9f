// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* GetHTTPStats / GetKafkaStats answers (usm_rpc.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unprivileged/usm_rpc.h"

struct ur_http_slot {
	Netwarden__HTTPStat s;
	Netwarden__Latency lat;
	uint8_t addr[16];
	char path[USM_HTTP_PATH_MAX + 1];
};

struct ur_http_arena {
	Netwarden__GetHTTPStatsResponse r; /* first: the pointer the caller frees */
	size_t cap;
	Netwarden__HTTPStat **ptrs;
	struct ur_http_slot *slots;
};

struct ur_kafka_slot {
	Netwarden__KafkaStat s;
	Netwarden__Latency lat;
	uint8_t addr[16];
	char topic[sizeof(((struct usm_kafka_key *)0)->topic) + 1];
};

struct ur_kafka_arena {
	Netwarden__GetKafkaStatsResponse r;
	size_t cap;
	Netwarden__KafkaStat **ptrs;
	struct ur_kafka_slot *slots;
};

/* Text from traffic as a protobuf string: printable ASCII, NUL-terminated. */
static void ur_text(char *dst, const char *src, size_t len)
{
	for (size_t i = 0; i < len; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[len] = '\0';
}

static void ur_fill_latency(Netwarden__Latency *p, const struct usm_latency *l)
{
	netwarden__latency__init(p);
	p->count = l->count;
	p->relative_accuracy = l->sketch ? usm_sketch_accuracy(l->sketch) : USM_SKETCH_DEFAULT_ACCURACY;
	if (!l->count)
		return;
	usm_latency_quantile(l, 0.50, &p->p50_ns);
	usm_latency_quantile(l, 0.95, &p->p95_ns);
	usm_latency_quantile(l, 0.99, &p->p99_ns);
	if (l->sketch) {
		p->min_ns = usm_sketch_min(l->sketch);
		p->max_ns = usm_sketch_max(l->sketch);
		p->sum_ns = usm_sketch_sum(l->sketch);
	} else {
		p->min_ns = p->max_ns = p->sum_ns = l->first;
	}
}

static void ur_fill_server(ProtobufCBinaryData *addr, uint8_t *buf, Netwarden__Family *family,
			const uint8_t *server, uint8_t fam)
{
	memcpy(buf, server, 16);
	addr->data = buf;
	addr->len = fam == USM_FAMILY_INET ? 4 : 16;
	*family = fam == USM_FAMILY_INET ? NETWARDEN__FAMILY__FAMILY_INET
					 : NETWARDEN__FAMILY__FAMILY_INET6;
}

static int ur_http_one(const struct usm_http_key *k, const struct usm_latency *l, void *ctx)
{
	struct ur_http_arena *a = ctx;
	struct ur_http_slot *s;
	size_t len = k->path_len < USM_HTTP_PATH_MAX ? k->path_len : USM_HTTP_PATH_MAX;

	if (a->r.n_stats >= a->cap)
		return -ENOSPC; /* cannot happen: counted before */
	s = &a->slots[a->r.n_stats];
	netwarden__httpstat__init(&s->s);
	ur_fill_server(&s->s.server_addr, s->addr, &s->s.family, k->server_addr, k->family);
	s->s.server_port = k->server_port;
	s->s.netns = k->netns;
	s->s.method = (char *)usm_http_method_name(k->method);
	ur_text(s->path, k->path, len);
	s->s.path = s->path;
	s->s.path_truncated = k->flags & USM_HTTP_KEY_F_PATH_TRUNCATED;
	s->s.status = k->status;
	s->s.count = l->count;
	ur_fill_latency(&s->lat, l);
	s->s.latency = &s->lat;
	a->ptrs[a->r.n_stats++] = &s->s;
	return 0;
}

int usm_rpc_http(struct worker_usm *u, const char *client_id, uint64_t now_ns,
		 Netwarden__GetHTTPStatsResponse **out)
{
	bool on = worker_usm_enabled(u, USM_PROTO_HTTP);
	uint32_t nh = 0, nk = 0;
	struct ur_http_arena *a;
	int err;

	if (on) {
		worker_usm_flush(u);
		err = usm_clients_pending(worker_usm_clients(u), client_id, &nh, &nk);
		if (err)
			return err;
	}
	a = calloc(1, sizeof(*a) + nh * (sizeof(*a->ptrs) + sizeof(*a->slots)));
	if (!a)
		return -ENOMEM;
	a->slots = (struct ur_http_slot *)(a + 1);
	a->ptrs = (Netwarden__HTTPStat **)(a->slots + nh);
	a->cap = nh;
	netwarden__get_httpstats_response__init(&a->r);
	a->r.stats = nh ? a->ptrs : NULL;
	a->r.now_ns = now_ns;
	a->r.enabled = on;
	if (on)
		usm_clients_take_http(worker_usm_clients(u), client_id, now_ns, ur_http_one, a);
	*out = &a->r;
	return 0;
}

static int ur_kafka_one(const struct usm_kafka_key *k, const struct usm_kafka_stats *st, void *ctx)
{
	struct ur_kafka_arena *a = ctx;
	struct ur_kafka_slot *s;
	size_t len = k->topic_len < sizeof(k->topic) ? k->topic_len : sizeof(k->topic);

	if (a->r.n_stats >= a->cap)
		return -ENOSPC;
	s = &a->slots[a->r.n_stats];
	netwarden__kafka_stat__init(&s->s);
	ur_fill_server(&s->s.server_addr, s->addr, &s->s.family, k->server_addr, k->family);
	s->s.server_port = k->server_port;
	s->s.netns = k->netns;
	s->s.api_key = k->api_key;
	s->s.api = (char *)(k->api_key == USM_KAFKA_PRODUCE ? "produce" :
			    k->api_key == USM_KAFKA_FETCH ? "fetch" : "other");
	s->s.api_version = k->api_version;
	ur_text(s->topic, k->topic, len);
	s->s.topic = s->topic;
	s->s.topic_is_id = k->flags & USM_KAFKA_KEY_F_TOPIC_ID;
	s->s.topic_truncated = k->flags & USM_KAFKA_KEY_F_TOPIC_TRUNCATED;
	s->s.no_topic = k->flags & USM_KAFKA_KEY_F_NO_TOPIC;
	s->s.no_response = k->flags & USM_KAFKA_KEY_F_NO_RESPONSE;
	s->s.error_code = k->error_code;
	s->s.count = st->count;
	ur_fill_latency(&s->lat, &st->latency);
	s->s.latency = &s->lat;
	a->ptrs[a->r.n_stats++] = &s->s;
	return 0;
}

int usm_rpc_kafka(struct worker_usm *u, const char *client_id, uint64_t now_ns,
		  Netwarden__GetKafkaStatsResponse **out)
{
	bool on = worker_usm_enabled(u, USM_PROTO_KAFKA);
	uint32_t nh = 0, nk = 0;
	struct ur_kafka_arena *a;
	int err;

	if (on) {
		worker_usm_flush(u);
		err = usm_clients_pending(worker_usm_clients(u), client_id, &nh, &nk);
		if (err)
			return err;
	}
	a = calloc(1, sizeof(*a) + nk * (sizeof(*a->ptrs) + sizeof(*a->slots)));
	if (!a)
		return -ENOMEM;
	a->slots = (struct ur_kafka_slot *)(a + 1);
	a->ptrs = (Netwarden__KafkaStat **)(a->slots + nk);
	a->cap = nk;
	netwarden__get_kafka_stats_response__init(&a->r);
	a->r.stats = nk ? a->ptrs : NULL;
	a->r.now_ns = now_ns;
	a->r.enabled = on;
	if (on)
		usm_clients_take_kafka(worker_usm_clients(u), client_id, now_ns, ur_kafka_one, a);
	*out = &a->r;
	return 0;
}
