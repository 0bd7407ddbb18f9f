/*
 * Segment-wise path patterns and identifier folding. All matching is linear in
 * the path and pattern lengths: no backtracking, since "**" is only allowed
 * last.
 */
#include "unprivileged/usm/http_path.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct path_rule {
	char pattern[USM_HTTP_PATTERN_MAX + 1];
	char replacement[USM_HTTP_PATTERN_MAX + 1];
	size_t pattern_len;
	size_t replacement_len;
	bool drop;
	bool tail; /* ends in "**" */
};

struct usm_http_paths {
	uint32_t nrules;
	bool fold_ids;
	struct path_rule rules[];
};

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool usm_http_path_is_id(const char *s, size_t n)
{
	size_t digits = 0, hex = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		digits += s[i] >= '0' && s[i] <= '9';
		hex += is_hex(s[i]);
	}
	if (digits == n)
		return true;
	if (n == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' && hex == 32)
		return true;
	return n >= 16 && hex == n && digits > 0;
}

/* The segment of p starting at *pos (just past a '/'), advancing *pos. */
static size_t next_segment(const char *p, size_t len, size_t *pos, const char **seg)
{
	size_t start = *pos, end = start;

	while (end < len && p[end] != '/')
		end++;
	*seg = p + start;
	*pos = end;
	return end - start;
}

struct usm_http_paths *usm_http_paths_new(const struct usm_http_rule *rules, uint32_t nrules,
					  bool fold_ids)
{
	struct usm_http_paths *p;

	if (nrules > USM_HTTP_RULES_MAX || (nrules && !rules)) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p) + (size_t)nrules * sizeof(p->rules[0]));
	if (!p)
		return NULL;
	p->fold_ids = fold_ids;
	for (uint32_t i = 0; i < nrules; i++) {
		struct path_rule *r = &p->rules[i];
		const char *pat = rules[i].pattern, *rep = rules[i].replacement;
		const char *dstar;

		if (!pat || pat[0] != '/' || strlen(pat) > USM_HTTP_PATTERN_MAX ||
		    (rep && strlen(rep) > USM_HTTP_PATTERN_MAX))
			goto invalid;
		r->pattern_len = strlen(pat);
		memcpy(r->pattern, pat, r->pattern_len);
		dstar = strstr(pat, "**");
		if (dstar) {
			/* only as the whole last segment */
			if (dstar != pat + r->pattern_len - 2 || dstar[-1] != '/')
				goto invalid;
			r->tail = true;
		}
		if (!rep)
			rep = pat;
		r->drop = rep[0] == '\0';
		r->replacement_len = strlen(rep);
		memcpy(r->replacement, rep, r->replacement_len);
	}
	p->nrules = nrules;
	return p;
invalid:
	free(p);
	errno = EINVAL;
	return NULL;
}

void usm_http_paths_free(struct usm_http_paths *p)
{
	free(p);
}

static bool rule_matches(const struct path_rule *r, const char *path, size_t len, bool truncated)
{
	size_t pp = 1, qp = 1; /* both start with '/' */
	const char *ps, *qs;
	size_t pn, qn;

	if (len == 0 || path[0] != '/' || (truncated && !r->tail))
		return false;
	for (;;) {
		qn = next_segment(r->pattern, r->pattern_len, &qp, &qs);
		if (qn == 2 && qs[0] == '*' && qs[1] == '*' && qp == r->pattern_len)
			return true;
		if (pp > len)
			return false; /* the path has fewer segments */
		pn = next_segment(path, len, &pp, &ps);
		if (qn == 1 && qs[0] == '*') {
			if (pn == 0)
				return false;
		} else if (qn != pn || memcmp(qs, ps, qn)) {
			return false;
		}
		if (qp == r->pattern_len)
			return pp == len;
		if (pp == len) /* a final "**" also matches the bare prefix */
			return r->tail && qp + 3 == r->pattern_len;
		qp++;
		pp++;
	}
}

/* Appends n bytes, flagging truncation when out is full. */
static void put(char *out, size_t cap, size_t *o, const char *s, size_t n, bool *truncated)
{
	if (n > cap - *o) {
		n = cap - *o;
		*truncated = true;
	}
	memcpy(out + *o, s, n);
	*o += n;
}

enum usm_http_path_result usm_http_path_normalize(const struct usm_http_paths *p,
						  const char *path, size_t len, char *out,
						  size_t cap, size_t *out_len, bool *truncated)
{
	size_t o = 0, pos = 0;

	*out_len = 0;
	for (uint32_t i = 0; p && i < p->nrules; i++) {
		const struct path_rule *r = &p->rules[i];

		if (!rule_matches(r, path, len, *truncated))
			continue;
		if (r->drop)
			return USM_HTTP_PATH_DROP;
		*truncated = false; /* the replacement is the whole key */
		put(out, cap, &o, r->replacement, r->replacement_len, truncated);
		*out_len = o;
		return USM_HTTP_PATH_KEEP;
	}
	if (!p || !p->fold_ids || len == 0 || path[0] != '/') {
		put(out, cap, &o, path, len, truncated);
		*out_len = o;
		return USM_HTTP_PATH_KEEP;
	}
	while (pos < len) {
		const char *seg;
		size_t n;

		put(out, cap, &o, "/", 1, truncated);
		pos++;
		n = next_segment(path, len, &pos, &seg);
		if (usm_http_path_is_id(seg, n))
			put(out, cap, &o, "*", 1, truncated);
		else
			put(out, cap, &o, seg, n, truncated);
	}
	*out_len = o;
	return USM_HTTP_PATH_KEEP;
}
