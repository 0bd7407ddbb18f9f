/*
 * Path normalisation for HTTP aggregation keys, without regular expressions:
 * configured patterns match segment by segment, and identifiers (numbers,
 * UUIDs, long hex strings) can be folded to '*', so /users/17 and /users/42
 * share one key instead of growing the table without bound.
 */
#ifndef NW_USM_HTTP_PATH_H
#define NW_USM_HTTP_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define USM_HTTP_RULES_MAX 64
#define USM_HTTP_PATTERN_MAX 255

/*
 * pattern: '/'-separated segments; "*" matches exactly one non-empty segment,
 * a final "**" matches whatever remains (nothing included); other segments
 * match literally. A path that matches becomes replacement, or the pattern
 * itself when replacement is NULL; an empty replacement drops the request
 * (counted as filtered). The first matching rule wins.
 */
struct usm_http_rule {
	const char *pattern;
	const char *replacement;
};

struct usm_http_paths;

/* NULL with errno EINVAL (too many rules, a pattern that does not start with
 * '/', is too long, or has "**" before its end) or ENOMEM. */
struct usm_http_paths *usm_http_paths_new(const struct usm_http_rule *rules, uint32_t nrules,
					  bool fold_ids);
void usm_http_paths_free(struct usm_http_paths *p);

enum usm_http_path_result {
	USM_HTTP_PATH_KEEP = 0,
	USM_HTTP_PATH_DROP = 1,
};

/*
 * Writes the normalised form of path[0..len) to out (at most cap bytes, no
 * NUL) and its length to *out_len. *truncated is in/out: true on entry if the
 * path was already cut by the capture, and set when out was too small. Only a
 * pattern ending in "**" matches a truncated path (its end is unknown).
 */
enum usm_http_path_result usm_http_path_normalize(const struct usm_http_paths *p,
						  const char *path, size_t len, char *out,
						  size_t cap, size_t *out_len, bool *truncated);

/* Whether a segment looks like an identifier: all digits, a UUID, or 16+
 * hex characters with at least one digit. */
bool usm_http_path_is_id(const char *seg, size_t len);

#endif /* NW_USM_HTTP_PATH_H */
