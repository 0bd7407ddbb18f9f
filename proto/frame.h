/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * RPC framing on the unix stream socket: a 4-byte big-endian length, then
 * one protobuf message (netwarden.Request or netwarden.Response) of exactly
 * that many bytes. A zero length is a bad frame (every request and response
 * has a kind); a length over the reader's cap is refused as soon as the
 * header is complete, before any body byte is buffered.
 */
#ifndef NW_FRAME_H
#define NW_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#define NW_FRAME_HDR_LEN 4
#define NW_FRAME_MAX_REQUEST (64u * 1024)        /* client -> worker */
#define NW_FRAME_MAX (64u * 1024 * 1024)         /* worker -> client */

void nw_frame_put_header(uint8_t hdr[NW_FRAME_HDR_LEN], uint32_t len);
uint32_t nw_frame_get_header(const uint8_t hdr[NW_FRAME_HDR_LEN]);

/*
 * Pack msg into a new buffer holding header + body (*out, *out_len; free()
 * it). 0, -EMSGSIZE when the body would be over cap (or empty), -ENOMEM.
 */
int nw_frame_encode(const ProtobufCMessage *msg, uint32_t cap, uint8_t **out, size_t *out_len);

/*
 * Incremental reader for one frame at a time from a nonblocking socket.
 * Either ask where the next bytes go (nw_frame_reader_space: never past the
 * end of the current frame, so nothing of the next frame is read early) and
 * report them with nw_frame_reader_commit, or push bytes you already have
 * with nw_frame_reader_feed. The body is allocated once the header is
 * complete and valid, so memory is bounded by the cap.
 */
struct nw_frame_reader {
	uint32_t cap;
	uint32_t len;    /* body length, once the header is complete */
	uint32_t have;   /* bytes of the header, then of the body */
	bool in_body;
	bool ready;      /* a whole frame is in body[0..len) */
	uint8_t hdr[NW_FRAME_HDR_LEN];
	uint8_t *body;
};

void nw_frame_reader_init(struct nw_frame_reader *r, uint32_t cap);
/* Forget the current frame (complete or not) and free its body. */
void nw_frame_reader_reset(struct nw_frame_reader *r);
/* Same as reset; accepts NULL. */
void nw_frame_reader_free(struct nw_frame_reader *r);
/* Bytes read of a frame not yet complete (0 between frames). */
size_t nw_frame_reader_pending(const struct nw_frame_reader *r);

/* Where to put up to the returned number of bytes; 0 once a frame is ready. */
size_t nw_frame_reader_space(struct nw_frame_reader *r, uint8_t **dst);
/*
 * n bytes were written at the space's start. 1: a frame is ready (r->body,
 * r->len) until reset; 0: more bytes needed; -EBADMSG: zero length;
 * -EMSGSIZE: length over the cap (r->len holds it); -ENOMEM; -EINVAL: n is
 * more than the space. After an error the reader must be reset.
 */
int nw_frame_reader_commit(struct nw_frame_reader *r, size_t n);
/* Copy from buf until a frame is ready or buf is used up; *used says how much.
 * Same returns as commit. */
int nw_frame_reader_feed(struct nw_frame_reader *r, const void *buf, size_t n, size_t *used);

#endif
