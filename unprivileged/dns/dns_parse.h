/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Zero-copy DNS message parser (RFC 1035) for snooped queries and responses.
 *
 * dns_parse() validates the header, the question section and the answer
 * section, and records offsets into the caller's buffer: nothing is copied,
 * so the buffer must outlive the struct dns_msg. Names are decoded on demand
 * with dns_name_text()/dns_name_wire(); every name the message refers to was
 * validated by dns_parse(), so decoding a parsed message cannot fail.
 *
 * Hostile input rules (each violation is one enum dns_parse_err reason, so
 * callers can count malformed messages by reason):
 *  - labels are 0..63 bytes; a length byte 0x40..0xBF is not a label;
 *  - a compression pointer (top bits 11) must point strictly before the start
 *    of the run of labels it ends and not into the 12-byte header: positions
 *    strictly decrease, so a loop (self, two-cycle, longer) is impossible,
 *    and hops are bounded on top of that (DNS_MAX_PTR_HOPS);
 *  - a name is at most 255 bytes in uncompressed wire form (RFC 1035 3.1);
 *  - a count that claims more records than the message holds rejects the
 *    message (DNS_PARSE_ERR_COUNT: no partial answer list is trusted); a
 *    record cut anywhere rejects it too.
 * All four sections are validated (names, lengths, A/AAAA/CNAME rdata); only
 * the question and the A/AAAA/CNAME answers are kept. Bytes after the last
 * record are ignored (ldns ignores them too).
 *
 * A message rejected in its answer section still has a usable header and
 * question: msg->valid says which parts may be used (a caller can account a
 * response's rcode and latency without trusting its answers).
 */
#ifndef NW_DNS_PARSE_H
#define NW_DNS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_LEN 12
#define DNS_NAME_WIRE_MAX 255  /* uncompressed wire form, root label included */
#define DNS_LABEL_MAX 63
/* Worst case of the text form: every byte escaped as \DDD, plus dots and NUL. */
#define DNS_NAME_TEXT_MAX 1024
/* Real compressors chain a handful; 64 is far above and bounds the work. */
#define DNS_MAX_PTR_HOPS 64
/* A/AAAA/CNAME answers kept per message; more are validated and counted. */
#define DNS_MAX_ANSWERS 32

#define DNS_TYPE_A 1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_AAAA 28
#define DNS_CLASS_IN 1

#define DNS_RCODE_NOERROR 0
#define DNS_RCODE_FORMERR 1
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3

/* Why a message was rejected. Never renumber: these index exported counters. */
enum dns_parse_err {
	DNS_PARSE_OK = 0,
	DNS_PARSE_ERR_SHORT_HEADER = 1,    /* fewer than 12 bytes */
	DNS_PARSE_ERR_NAME_TRUNCATED = 2,  /* a name runs past the end */
	DNS_PARSE_ERR_LABEL_TYPE = 3,      /* length byte 0x40..0xBF */
	DNS_PARSE_ERR_PTR_NOT_BACKWARD = 4, /* pointer forward, to itself, or looping */
	DNS_PARSE_ERR_PTR_INTO_HEADER = 5, /* pointer target < 12 */
	DNS_PARSE_ERR_PTR_HOPS = 6,        /* more than DNS_MAX_PTR_HOPS pointers */
	DNS_PARSE_ERR_NAME_TOO_LONG = 7,   /* over 255 bytes uncompressed */
	DNS_PARSE_ERR_QUESTION_TRUNCATED = 8, /* qtype/qclass cut */
	DNS_PARSE_ERR_RR_TRUNCATED = 9,    /* type/class/ttl/rdlength cut */
	DNS_PARSE_ERR_RDATA_TRUNCATED = 10, /* rdlength runs past the end */
	DNS_PARSE_ERR_COUNT = 11,          /* a count claims records that are not there */
	DNS_PARSE_ERR_RDATA_LENGTH = 12,   /* A not 4 bytes, AAAA not 16 */
	DNS_PARSE_ERR_CNAME_RDATA = 13,    /* CNAME target does not fill rdlength exactly */
	DNS_PARSE_ERR_TCP_LENGTH = 14,     /* TCP length prefix 0, or cut */
	DNS_PARSE_ERR__MAX
};

/* Which parts of a struct dns_msg may be used (dns_msg.valid). */
#define DNS_VALID_HEADER 0x1u
#define DNS_VALID_QUESTION 0x2u /* set only when qdcount >= 1 and it parsed */
#define DNS_VALID_ANSWERS 0x4u  /* the whole message parsed (return 0) */

struct dns_ip {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t pad[3];
	uint8_t addr[16]; /* IPv4 in addr[0..3], the rest zero */
};

struct dns_rr {
	uint16_t name_off;  /* owner name in the message (maybe compressed) */
	uint16_t type;
	uint16_t rclass;
	uint16_t rdlen;
	uint32_t ttl;
	uint16_t rdata_off; /* A/AAAA: address bytes; CNAME: target name */
};

struct dns_msg {
	const uint8_t *buf; /* the caller's bytes, not owned */
	uint16_t len;
	uint16_t id;
	uint16_t flags;     /* raw header flags */
	uint8_t qr;         /* 1: response */
	uint8_t opcode;
	uint8_t rcode;      /* header rcode (4 bits) */
	uint8_t tc;         /* truncated (TC bit) */
	uint8_t valid;      /* DNS_VALID_* */
	enum dns_parse_err err;
	uint16_t qdcount, ancount, nscount, arcount;
	uint16_t qname_off; /* first question; later ones are validated only */
	uint16_t qtype, qclass;
	uint16_t n_answers;       /* kept A/AAAA/CNAME answers */
	uint16_t answers_skipped; /* answers of other types (validated, not kept) */
	uint16_t answers_dropped; /* A/AAAA/CNAME answers beyond DNS_MAX_ANSWERS */
	struct dns_rr answers[DNS_MAX_ANSWERS];
};

/*
 * Parse one DNS message (UDP payload, or one message from dns_tcp_next()).
 * 0 on success; -EBADMSG with msg->err set when malformed (msg->valid says
 * what is still usable); -EINVAL for NULL arguments.
 */
int dns_parse(const uint8_t *buf, size_t len, struct dns_msg *msg);

/*
 * DNS over TCP: iterate over the length-prefixed messages of one segment.
 * Start with *off = 0. Returns 1 and sets *msg and *msg_len for each complete
 * message, 0 at the end of the segment, -EBADMSG (*why set) when a prefix is
 * 0 or announces more bytes than the segment holds (a message continued in
 * a later segment is not reassembled).
 */
int dns_tcp_next(const uint8_t *seg, size_t len, size_t *off, const uint8_t **msg,
		 size_t *msg_len, enum dns_parse_err *why);

/*
 * Text form of the name at off: labels joined by '.', no trailing dot, the
 * root as "."; bytes other than printable ASCII escaped as \DDD, '.' and '\'
 * inside labels as "\." and "\\"; ASCII lower-cased if lower. Returns the
 * length written (NUL not counted) or -EBADMSG / -ENOSPC.
 */
int dns_name_text(const struct dns_msg *msg, uint16_t off, char *out, size_t size, bool lower);

/* Uncompressed wire form (root label included) into out[DNS_NAME_WIRE_MAX]: length or -EBADMSG. */
int dns_name_wire(const struct dns_msg *msg, uint16_t off, uint8_t *out);

/* Case-insensitive (ASCII) comparison of two names of the message. */
bool dns_name_equal(const struct dns_msg *msg, uint16_t off_a, uint16_t off_b);

/* The address of an A or AAAA answer: 0 or -EINVAL. */
int dns_rr_ip(const struct dns_msg *msg, const struct dns_rr *rr, struct dns_ip *out);

/* Short fixed name of a reason, for counter labels ("ptr_not_backward"). */
const char *dns_parse_err_str(enum dns_parse_err err);

#endif
