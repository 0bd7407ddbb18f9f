// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Length-prefixed protobuf frames (proto/frame.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"

void nw_frame_put_header(uint8_t hdr[NW_FRAME_HDR_LEN], uint32_t len)
{
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
}

uint32_t nw_frame_get_header(const uint8_t hdr[NW_FRAME_HDR_LEN])
{
	return (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
}

int nw_frame_encode(const ProtobufCMessage *msg, uint32_t cap, uint8_t **out, size_t *out_len)
{
	size_t n;
	uint8_t *buf;

	if (!msg || !out || !out_len)
		return -EINVAL;
	n = protobuf_c_message_get_packed_size(msg);
	if (n == 0 || n > cap)
		return -EMSGSIZE;
	buf = malloc(NW_FRAME_HDR_LEN + n);
	if (!buf)
		return -ENOMEM;
	nw_frame_put_header(buf, (uint32_t)n);
	if (protobuf_c_message_pack(msg, buf + NW_FRAME_HDR_LEN) != n) {
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	*out_len = NW_FRAME_HDR_LEN + n;
	return 0;
}

void nw_frame_reader_init(struct nw_frame_reader *r, uint32_t cap)
{
	memset(r, 0, sizeof(*r));
	r->cap = cap;
}

void nw_frame_reader_reset(struct nw_frame_reader *r)
{
	uint32_t cap = r->cap;

	free(r->body);
	nw_frame_reader_init(r, cap);
}

void nw_frame_reader_free(struct nw_frame_reader *r)
{
	if (r)
		nw_frame_reader_reset(r);
}

size_t nw_frame_reader_pending(const struct nw_frame_reader *r)
{
	if (r->ready)
		return 0;
	return r->in_body ? NW_FRAME_HDR_LEN + (size_t)r->have : r->have;
}

size_t nw_frame_reader_space(struct nw_frame_reader *r, uint8_t **dst)
{
	if (r->ready) {
		*dst = NULL;
		return 0;
	}
	if (!r->in_body) {
		*dst = r->hdr + r->have;
		return NW_FRAME_HDR_LEN - r->have;
	}
	*dst = r->body + r->have;
	return r->len - r->have;
}

int nw_frame_reader_commit(struct nw_frame_reader *r, size_t n)
{
	uint8_t *dst;

	if (n > nw_frame_reader_space(r, &dst))
		return -EINVAL;
	r->have += (uint32_t)n;
	if (!r->in_body) {
		if (r->have < NW_FRAME_HDR_LEN)
			return 0;
		r->len = nw_frame_get_header(r->hdr);
		if (r->len == 0)
			return -EBADMSG;
		if (r->len > r->cap)
			return -EMSGSIZE;
		r->body = malloc(r->len);
		if (!r->body)
			return -ENOMEM;
		r->in_body = true;
		r->have = 0;
		return 0;
	}
	if (r->have < r->len)
		return 0;
	r->ready = true;
	return 1;
}

int nw_frame_reader_feed(struct nw_frame_reader *r, const void *buf, size_t n, size_t *used)
{
	const uint8_t *p = buf;
	size_t done = 0;
	int ret = 0;

	while (done < n && ret == 0) {
		uint8_t *dst;
		size_t space = nw_frame_reader_space(r, &dst), take = n - done;

		if (space == 0)
			break;
		if (take > space)
			take = space;
		memcpy(dst, p + done, take);
		done += take;
		ret = nw_frame_reader_commit(r, take);
	}
	if (used)
		*used = done;
	if (ret == 0 && r->ready)
		ret = 1;
	return ret;
}
