// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Zero-copy DNS message parser (unprivileged/dns/dns_parse.h). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "unprivileged/dns/dns_parse.h"

#define RR_FIXED_LEN 10 /* type, class, ttl, rdlength */

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Walk the name at off inside buf[0..len). *end: the offset just past its
 * in-place bytes (after the root label or the first pointer). If wire is not
 * NULL the uncompressed form goes there and *wire_len gets its length.
 *
 * run_start is where the labels being read began (the name's start, then
 * each pointer's target). A pointer into [run_start, pos) would read the same
 * pointer again, and one past pos points forward: both are refused, so every
 * hop lands strictly lower and the walk always ends.
 */
static enum dns_parse_err name_walk(const uint8_t *buf, size_t len, size_t off, size_t *end,
				    uint8_t *wire, size_t *wire_len)
{
	size_t pos = off, run_start = off, total = 0;
	unsigned hops = 0;

	for (;;) {
		uint8_t c;

		if (pos >= len)
			return DNS_PARSE_ERR_NAME_TRUNCATED;
		c = buf[pos];
		if (c >= 0xC0) {
			size_t target;

			if (len - pos < 2)
				return DNS_PARSE_ERR_NAME_TRUNCATED;
			target = (size_t)(c & 0x3F) << 8 | buf[pos + 1];
			if (!hops)
				*end = pos + 2;
			if (target < DNS_HEADER_LEN)
				return DNS_PARSE_ERR_PTR_INTO_HEADER;
			if (target >= run_start)
				return DNS_PARSE_ERR_PTR_NOT_BACKWARD;
			if (++hops > DNS_MAX_PTR_HOPS)
				return DNS_PARSE_ERR_PTR_HOPS;
			pos = run_start = target;
			continue;
		}
		if (c > DNS_LABEL_MAX)
			return DNS_PARSE_ERR_LABEL_TYPE;
		if (total + 1 + c > DNS_NAME_WIRE_MAX)
			return DNS_PARSE_ERR_NAME_TOO_LONG;
		if (c == 0) {
			if (wire)
				wire[total] = 0;
			total++;
			if (!hops)
				*end = pos + 1;
			break;
		}
		if (c >= len - pos)
			return DNS_PARSE_ERR_NAME_TRUNCATED;
		if (wire)
			memcpy(wire + total, buf + pos, 1 + (size_t)c);
		total += 1 + (size_t)c;
		pos += 1 + (size_t)c;
	}
	if (wire_len)
		*wire_len = total;
	return DNS_PARSE_OK;
}

/* At a record's start: no byte left means the count lied, anything else is a cut. */
static inline enum dns_parse_err at_record_start(size_t pos, size_t len)
{
	return pos >= len ? DNS_PARSE_ERR_COUNT : DNS_PARSE_OK;
}

/* Validate one resource record at *pos, fill rr, advance *pos. */
static enum dns_parse_err rr_parse(const uint8_t *buf, size_t len, size_t *pos, struct dns_rr *rr)
{
	enum dns_parse_err err;
	size_t end = 0, rdata;

	err = at_record_start(*pos, len);
	if (err)
		return err;
	err = name_walk(buf, len, *pos, &end, NULL, NULL);
	if (err)
		return err;
	if (len - end < RR_FIXED_LEN)
		return DNS_PARSE_ERR_RR_TRUNCATED;
	rr->name_off = (uint16_t)*pos;
	rr->type = get16(buf + end);
	rr->rclass = get16(buf + end + 2);
	rr->ttl = get32(buf + end + 4);
	rr->rdlen = get16(buf + end + 8);
	rdata = end + RR_FIXED_LEN;
	if (rr->rdlen > len - rdata)
		return DNS_PARSE_ERR_RDATA_TRUNCATED;
	rr->rdata_off = (uint16_t)rdata;
	*pos = rdata + rr->rdlen;

	if (rr->rclass == DNS_CLASS_IN) {
		if (rr->type == DNS_TYPE_A && rr->rdlen != 4)
			return DNS_PARSE_ERR_RDATA_LENGTH;
		if (rr->type == DNS_TYPE_AAAA && rr->rdlen != 16)
			return DNS_PARSE_ERR_RDATA_LENGTH;
	}
	if (rr->type == DNS_TYPE_CNAME) {
		size_t name_end = 0;

		/* the target's in-place bytes must fill rdlength exactly */
		err = name_walk(buf, len, rdata, &name_end, NULL, NULL);
		if (err == DNS_PARSE_ERR_NAME_TRUNCATED || (!err && name_end != *pos))
			return DNS_PARSE_ERR_CNAME_RDATA;
		if (err)
			return err;
	}
	return DNS_PARSE_OK;
}

static inline bool rr_kept(const struct dns_rr *rr)
{
	if (rr->type == DNS_TYPE_CNAME)
		return true;
	return rr->rclass == DNS_CLASS_IN && (rr->type == DNS_TYPE_A || rr->type == DNS_TYPE_AAAA);
}

static int reject(struct dns_msg *m, enum dns_parse_err err)
{
	m->err = err;
	return -EBADMSG;
}

int dns_parse(const uint8_t *buf, size_t len, struct dns_msg *m)
{
	enum dns_parse_err err;
	struct dns_rr rr;
	size_t pos = DNS_HEADER_LEN;
	uint32_t i, others;

	if (!buf || !m)
		return -EINVAL;
	if (len > UINT16_MAX) /* offsets are 16-bit; no DNS message is longer */
		len = UINT16_MAX;
	m->buf = buf;
	m->len = (uint16_t)len;
	m->valid = 0;
	m->err = DNS_PARSE_OK;
	m->qname_off = 0;
	m->qtype = m->qclass = 0;
	m->n_answers = m->answers_skipped = m->answers_dropped = 0;
	if (len < DNS_HEADER_LEN) {
		m->id = m->flags = 0;
		m->qr = m->opcode = m->rcode = m->tc = 0;
		m->qdcount = m->ancount = m->nscount = m->arcount = 0;
		return reject(m, DNS_PARSE_ERR_SHORT_HEADER);
	}
	m->id = get16(buf);
	m->flags = get16(buf + 2);
	m->qr = m->flags >> 15;
	m->opcode = (m->flags >> 11) & 0xF;
	m->tc = (m->flags >> 9) & 1;
	m->rcode = m->flags & 0xF;
	m->qdcount = get16(buf + 4);
	m->ancount = get16(buf + 6);
	m->nscount = get16(buf + 8);
	m->arcount = get16(buf + 10);
	m->valid = DNS_VALID_HEADER;

	for (i = 0; i < m->qdcount; i++) {
		size_t end = 0;

		err = at_record_start(pos, len);
		if (!err)
			err = name_walk(buf, len, pos, &end, NULL, NULL);
		if (err)
			return reject(m, err);
		if (len - end < 4)
			return reject(m, DNS_PARSE_ERR_QUESTION_TRUNCATED);
		if (i == 0) {
			m->qname_off = (uint16_t)pos;
			m->qtype = get16(buf + end);
			m->qclass = get16(buf + end + 2);
		}
		pos = end + 4;
	}
	if (m->qdcount)
		m->valid |= DNS_VALID_QUESTION;

	for (i = 0; i < m->ancount; i++) {
		err = rr_parse(buf, len, &pos, &rr);
		if (err)
			return reject(m, err);
		if (!rr_kept(&rr))
			m->answers_skipped++;
		else if (m->n_answers < DNS_MAX_ANSWERS)
			m->answers[m->n_answers++] = rr;
		else
			m->answers_dropped++;
	}
	others = (uint32_t)m->nscount + m->arcount;
	for (i = 0; i < others; i++) {
		err = rr_parse(buf, len, &pos, &rr);
		if (err)
			return reject(m, err);
	}
	m->valid |= DNS_VALID_ANSWERS;
	return 0;
}

int dns_tcp_next(const uint8_t *seg, size_t len, size_t *off, const uint8_t **msg,
		 size_t *msg_len, enum dns_parse_err *why)
{
	size_t o, n;

	if (!seg || !off || !msg || !msg_len || !why)
		return -EINVAL;
	o = *off;
	if (o >= len)
		return 0;
	if (len - o < 2 || !(n = get16(seg + o)) || n > len - o - 2) {
		*off = len;
		*why = DNS_PARSE_ERR_TCP_LENGTH;
		return -EBADMSG;
	}
	*msg = seg + o + 2;
	*msg_len = n;
	*off = o + 2 + n;
	return 1;
}

int dns_name_wire(const struct dns_msg *m, uint16_t off, uint8_t *out)
{
	size_t end = 0, n = 0;

	if (!m || !out || !(m->valid & DNS_VALID_HEADER))
		return -EINVAL;
	if (name_walk(m->buf, m->len, off, &end, out, &n))
		return -EBADMSG;
	return (int)n;
}

static inline char lower_ascii(uint8_t c)
{
	return (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

int dns_name_text(const struct dns_msg *m, uint16_t off, char *out, size_t size, bool lower)
{
	uint8_t wire[DNS_NAME_WIRE_MAX];
	size_t i = 0, o = 0;
	int n;

	if (!out || !size)
		return -EINVAL;
	n = dns_name_wire(m, off, wire);
	if (n < 0)
		return n;
	if (wire[0] == 0) {
		if (size < 2)
			return -ENOSPC;
		memcpy(out, ".", 2);
		return 1;
	}
	while (wire[i]) {
		uint8_t l = wire[i++];

		if (o) {
			if (size - o < 2)
				return -ENOSPC;
			out[o++] = '.';
		}
		for (uint8_t k = 0; k < l; k++, i++) {
			uint8_t c = wire[i];

			if (size - o < 5) /* worst case \DDD plus the NUL */
				return -ENOSPC;
			if (c == '.' || c == '\\') {
				out[o++] = '\\';
				out[o++] = (char)c;
			} else if (c > 0x20 && c < 0x7f) {
				out[o++] = lower ? lower_ascii(c) : (char)c;
			} else {
				out[o++] = '\\';
				out[o++] = (char)('0' + c / 100);
				out[o++] = (char)('0' + c / 10 % 10);
				out[o++] = (char)('0' + c % 10);
			}
		}
	}
	out[o] = '\0';
	return (int)o;
}

bool dns_name_equal(const struct dns_msg *m, uint16_t off_a, uint16_t off_b)
{
	uint8_t a[DNS_NAME_WIRE_MAX], b[DNS_NAME_WIRE_MAX];
	int na, nb;

	if (off_a == off_b)
		return m && (m->valid & DNS_VALID_HEADER);
	na = dns_name_wire(m, off_a, a);
	nb = dns_name_wire(m, off_b, b);
	if (na < 0 || na != nb)
		return false;
	/* label length bytes are < 0x40, so lower-casing them changes nothing */
	for (int i = 0; i < na; i++)
		if (lower_ascii(a[i]) != lower_ascii(b[i]))
			return false;
	return true;
}

int dns_rr_ip(const struct dns_msg *m, const struct dns_rr *rr, struct dns_ip *out)
{
	if (!m || !rr || !out || rr->rclass != DNS_CLASS_IN)
		return -EINVAL;
	if (rr->type == DNS_TYPE_A && rr->rdlen == 4) {
		memset(out, 0, sizeof(*out));
		out->family = AF_INET;
		memcpy(out->addr, m->buf + rr->rdata_off, 4);
		return 0;
	}
	if (rr->type == DNS_TYPE_AAAA && rr->rdlen == 16) {
		memset(out, 0, sizeof(*out));
		out->family = AF_INET6;
		memcpy(out->addr, m->buf + rr->rdata_off, 16);
		return 0;
	}
	return -EINVAL;
}

const char *dns_parse_err_str(enum dns_parse_err err)
{
	static const char *const names[DNS_PARSE_ERR__MAX] = {
		[DNS_PARSE_OK] = "ok",
		[DNS_PARSE_ERR_SHORT_HEADER] = "short_header",
		[DNS_PARSE_ERR_NAME_TRUNCATED] = "name_truncated",
		[DNS_PARSE_ERR_LABEL_TYPE] = "label_type",
		[DNS_PARSE_ERR_PTR_NOT_BACKWARD] = "ptr_not_backward",
		[DNS_PARSE_ERR_PTR_INTO_HEADER] = "ptr_into_header",
		[DNS_PARSE_ERR_PTR_HOPS] = "ptr_hops",
		[DNS_PARSE_ERR_NAME_TOO_LONG] = "name_too_long",
		[DNS_PARSE_ERR_QUESTION_TRUNCATED] = "question_truncated",
		[DNS_PARSE_ERR_RR_TRUNCATED] = "rr_truncated",
		[DNS_PARSE_ERR_RDATA_TRUNCATED] = "rdata_truncated",
		[DNS_PARSE_ERR_COUNT] = "count",
		[DNS_PARSE_ERR_RDATA_LENGTH] = "rdata_length",
		[DNS_PARSE_ERR_CNAME_RDATA] = "cname_rdata",
		[DNS_PARSE_ERR_TCP_LENGTH] = "tcp_length",
	};

	if ((unsigned)err >= DNS_PARSE_ERR__MAX)
		return "unknown";
	return names[err];
}
