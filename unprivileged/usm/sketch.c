/*
 * DDSketch-like quantile sketch (Masson, Rim, Lee, VLDB 2019): logarithmic
 * index mapping and a dense store that collapses its lowest buckets when it
 * would exceed max_buckets.
 *
 * Bucket i holds values in (γ^(i−1), γ^i] with γ = (1+α)/(1−α); it reports
 * 2·γ^i/(γ+1), which is within α of every value in it.
 */
#include "unprivileged/usm/sketch.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct usm_sketch {
	double accuracy;
	double gamma;
	double multiplier;   /* 1 / ln(γ) */
	uint64_t count;      /* all values, zero bucket included */
	uint64_t zero_count; /* values below USM_SKETCH_MIN_VALUE */
	uint64_t collapsed;
	double sum;
	double min;
	double max;
	uint64_t *bins;      /* bins[k] counts index offset + k */
	int32_t offset;
	uint32_t len;        /* bins in use: [offset, offset + len) */
	uint32_t cap;        /* bins allocated */
	uint32_t max_bins;
};

struct usm_sketch *usm_sketch_new(double rel_accuracy, uint32_t max_buckets)
{
	struct usm_sketch *s;

	if (!(rel_accuracy >= USM_SKETCH_MIN_ACCURACY && rel_accuracy <= 0.5) || max_buckets < 8 ||
	    max_buckets > USM_SKETCH_MAX_BUCKETS) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->accuracy = rel_accuracy;
	s->gamma = (1.0 + rel_accuracy) / (1.0 - rel_accuracy);
	s->multiplier = 1.0 / log(s->gamma);
	s->max_bins = max_buckets;
	return s;
}

void usm_sketch_free(struct usm_sketch *s)
{
	if (!s)
		return;
	free(s->bins);
	free(s);
}

void usm_sketch_reset(struct usm_sketch *s)
{
	s->count = s->zero_count = s->collapsed = 0;
	s->sum = s->min = s->max = 0.0;
	s->len = 0;
	s->offset = 0;
}

static int32_t sketch_index(const struct usm_sketch *s, double v)
{
	return (int32_t)ceil(log(v) * s->multiplier);
}

static double sketch_value(const struct usm_sketch *s, int32_t index)
{
	return exp((double)index / s->multiplier) * 2.0 / (s->gamma + 1.0);
}

/*
 * Makes the store cover exactly [lo, hi] (hi − lo + 1 ≤ max_bins, hi not below
 * the current top). Counts below lo are folded into lo and counted as
 * collapsed. The only failure is ENOMEM, before anything changes.
 */
static int store_cover(struct usm_sketch *s, int64_t lo, int64_t hi)
{
	uint32_t n = (uint32_t)(hi - lo + 1);

	if (n > s->cap) {
		uint32_t cap = s->cap ? s->cap : 16;
		uint64_t *bins;

		while (cap < n)
			cap *= 2;
		if (cap > s->max_bins)
			cap = s->max_bins;
		bins = realloc(s->bins, (size_t)cap * sizeof(*bins));
		if (!bins)
			return -ENOMEM;
		s->bins = bins;
		s->cap = cap;
	}
	if (s->len == 0) {
		memset(s->bins, 0, (size_t)n * sizeof(*s->bins));
	} else if (lo <= s->offset) {
		uint32_t shift = (uint32_t)(s->offset - lo);

		memmove(s->bins + shift, s->bins, (size_t)s->len * sizeof(*s->bins));
		memset(s->bins, 0, (size_t)shift * sizeof(*s->bins));
		memset(s->bins + shift + s->len, 0,
		       (size_t)(n - shift - s->len) * sizeof(*s->bins));
	} else {
		uint64_t drop = (uint64_t)(lo - s->offset), fold = 0, keep = 0;

		for (uint64_t k = 0; k < drop && k < s->len; k++)
			fold += s->bins[k];
		if (drop < s->len) {
			keep = s->len - drop;
			memmove(s->bins, s->bins + drop, (size_t)keep * sizeof(*s->bins));
		}
		memset(s->bins + keep, 0, (size_t)(n - keep) * sizeof(*s->bins));
		s->bins[0] += fold;
		s->collapsed += fold;
	}
	s->offset = (int32_t)lo;
	s->len = n;
	return 0;
}

static int store_add(struct usm_sketch *s, int32_t idx, uint64_t n)
{
	int64_t lo, hi;
	int err;

	if (s->len == 0) {
		lo = hi = idx;
	} else {
		lo = s->offset;
		hi = (int64_t)s->offset + s->len - 1;
		if (idx < lo)
			lo = idx;
		if (idx > hi)
			hi = idx;
		if (hi - lo + 1 > s->max_bins)
			lo = hi - s->max_bins + 1;
	}
	if (s->len == 0 || lo != s->offset || hi != (int64_t)s->offset + s->len - 1) {
		err = store_cover(s, lo, hi);
		if (err)
			return err;
	}
	if (idx < s->offset) {
		s->bins[0] += n;
		s->collapsed += n;
	} else {
		s->bins[idx - s->offset] += n;
	}
	return 0;
}

static void account(struct usm_sketch *s, double v, uint64_t n)
{
	if (s->count == 0 || v < s->min)
		s->min = v;
	if (s->count == 0 || v > s->max)
		s->max = v;
	s->count += n;
	s->sum += v * (double)n;
}

int usm_sketch_add_n(struct usm_sketch *s, double value, uint64_t n)
{
	int err;

	if (isnan(value) || isinf(value) || value < 0.0)
		return -EINVAL;
	if (n == 0)
		return 0;
	if (value < USM_SKETCH_MIN_VALUE) {
		s->zero_count += n;
	} else {
		err = store_add(s, sketch_index(s, value), n);
		if (err)
			return err;
	}
	account(s, value, n);
	return 0;
}

int usm_sketch_add(struct usm_sketch *s, double value)
{
	return usm_sketch_add_n(s, value, 1);
}

int usm_sketch_merge(struct usm_sketch *dst, const struct usm_sketch *src)
{
	int64_t lo, hi;
	int err;

	if (dst->gamma != src->gamma)
		return -EINVAL;
	if (src->count == 0)
		return 0;
	if (src->len) {
		lo = src->offset;
		hi = (int64_t)src->offset + src->len - 1;
		if (dst->len) {
			if (dst->offset < lo)
				lo = dst->offset;
			if ((int64_t)dst->offset + dst->len - 1 > hi)
				hi = (int64_t)dst->offset + dst->len - 1;
		}
		if (hi - lo + 1 > dst->max_bins)
			lo = hi - dst->max_bins + 1;
		err = store_cover(dst, lo, hi);
		if (err)
			return err;
		for (uint32_t k = 0; k < src->len; k++) {
			int64_t idx = (int64_t)src->offset + k;

			if (!src->bins[k])
				continue;
			if (idx < dst->offset) {
				dst->bins[0] += src->bins[k];
				dst->collapsed += src->bins[k];
			} else {
				dst->bins[idx - dst->offset] += src->bins[k];
			}
		}
	}
	if (dst->count == 0 || src->min < dst->min)
		dst->min = src->min;
	if (dst->count == 0 || src->max > dst->max)
		dst->max = src->max;
	dst->count += src->count;
	dst->zero_count += src->zero_count;
	dst->collapsed += src->collapsed;
	dst->sum += src->sum;
	return 0;
}

int usm_sketch_quantile(const struct usm_sketch *s, double q, double *out)
{
	double rank, v;
	uint64_t cum;

	if (!(q >= 0.0 && q <= 1.0))
		return -EINVAL;
	if (s->count == 0)
		return -ENODATA;
	if (q == 0.0 || q == 1.0) { /* kept exactly: no bucket error */
		*out = q == 0.0 ? s->min : s->max;
		return 0;
	}
	rank = q * (double)(s->count - 1);
	cum = s->zero_count;
	if ((double)cum > rank) {
		*out = 0.0;
		return 0;
	}
	v = s->max;
	for (uint32_t k = 0; k < s->len; k++) {
		cum += s->bins[k];
		if ((double)cum > rank) {
			v = sketch_value(s, (int32_t)(s->offset + (int64_t)k));
			break;
		}
	}
	/* The exact quantile lies in [min, max]: clamping only moves closer. */
	if (v < s->min)
		v = s->min;
	if (v > s->max)
		v = s->max;
	*out = v;
	return 0;
}

uint64_t usm_sketch_count(const struct usm_sketch *s) { return s->count; }
double usm_sketch_sum(const struct usm_sketch *s) { return s->sum; }
double usm_sketch_min(const struct usm_sketch *s) { return s->min; }
double usm_sketch_max(const struct usm_sketch *s) { return s->max; }
double usm_sketch_accuracy(const struct usm_sketch *s) { return s->accuracy; }
uint32_t usm_sketch_buckets(const struct usm_sketch *s) { return s->len; }
uint64_t usm_sketch_collapsed(const struct usm_sketch *s) { return s->collapsed; }

/* --- first-sample-then-sketch latency ------------------------------------- */

static int latency_promote(struct usm_latency *l, double rel_accuracy, uint32_t max_buckets)
{
	struct usm_sketch *s;
	int err;

	if (l->sketch)
		return 0;
	s = usm_sketch_new(rel_accuracy, max_buckets);
	if (!s)
		return -errno;
	if (l->count) {
		err = usm_sketch_add(s, l->first);
		if (err) {
			usm_sketch_free(s);
			return err;
		}
	}
	l->sketch = s;
	return 0;
}

int usm_latency_add(struct usm_latency *l, double value, double rel_accuracy,
		    uint32_t max_buckets)
{
	int err;

	if (isnan(value) || isinf(value) || value < 0.0)
		return -EINVAL;
	if (l->count == 0 && !l->sketch) {
		l->first = value;
		l->count = 1;
		return 0;
	}
	err = latency_promote(l, rel_accuracy, max_buckets);
	if (err)
		return err;
	err = usm_sketch_add(l->sketch, value);
	if (err)
		return err;
	l->count++;
	return 0;
}

int usm_latency_quantile(const struct usm_latency *l, double q, double *out)
{
	if (!(q >= 0.0 && q <= 1.0))
		return -EINVAL;
	if (l->sketch)
		return usm_sketch_quantile(l->sketch, q, out);
	if (l->count == 0)
		return -ENODATA;
	*out = l->first;
	return 0;
}

int usm_latency_merge(struct usm_latency *dst, const struct usm_latency *src,
		      double rel_accuracy, uint32_t max_buckets)
{
	int err;

	if (src->count == 0)
		return 0;
	if (dst->count == 0 && !dst->sketch && !src->sketch) {
		dst->first = src->first;
		dst->count = 1;
		return 0;
	}
	err = latency_promote(dst, rel_accuracy, max_buckets);
	if (err)
		return err;
	err = src->sketch ? usm_sketch_merge(dst->sketch, src->sketch)
			  : usm_sketch_add(dst->sketch, src->first);
	if (err)
		return err;
	dst->count += src->count;
	return 0;
}

void usm_latency_clear(struct usm_latency *l)
{
	usm_sketch_free(l->sketch);
	memset(l, 0, sizeof(*l));
}
