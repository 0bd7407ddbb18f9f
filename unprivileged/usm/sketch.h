/*
 * A DDSketch-like quantile sketch for latencies: values fall into logarithmic
 * buckets of relative width 2·α/(1−α), so any quantile is returned within a
 * relative error α of the exact value of the same rank. Memory is bounded by
 * max_buckets; past it the lowest buckets are collapsed into one (high
 * quantiles keep their accuracy, and collapsed values are counted).
 *
 * Values are non-negative doubles (nanoseconds in USM); values below
 * USM_SKETCH_MIN_VALUE count as zero.
 */
#ifndef NW_USM_SKETCH_H
#define NW_USM_SKETCH_H

#include <stdbool.h>
#include <stdint.h>

#define USM_SKETCH_MIN_VALUE 1e-9
#define USM_SKETCH_MIN_ACCURACY 1e-4 /* finer would overflow 32-bit bucket indexes */
#define USM_SKETCH_DEFAULT_ACCURACY 0.01
#define USM_SKETCH_DEFAULT_BUCKETS 2048
#define USM_SKETCH_MAX_BUCKETS 65536

struct usm_sketch;

/* rel_accuracy in [USM_SKETCH_MIN_ACCURACY, 0.5], max_buckets in [8, USM_SKETCH_MAX_BUCKETS].
 * NULL with errno EINVAL or ENOMEM. */
struct usm_sketch *usm_sketch_new(double rel_accuracy, uint32_t max_buckets);
void usm_sketch_free(struct usm_sketch *s);
void usm_sketch_reset(struct usm_sketch *s);

/* -EINVAL for NaN, infinite or negative values; -ENOMEM if growing failed
 * (the value is then not counted). */
int usm_sketch_add(struct usm_sketch *s, double value);
int usm_sketch_add_n(struct usm_sketch *s, double value, uint64_t n);

/* Adds src into dst. -EINVAL if the two were made with different accuracies,
 * -ENOMEM if dst could not grow (dst is then unchanged). */
int usm_sketch_merge(struct usm_sketch *dst, const struct usm_sketch *src);

/* q in [0, 1]: the value of rank floor(q·(count−1)), within relative accuracy.
 * -EINVAL for q out of range, -ENODATA if empty. */
int usm_sketch_quantile(const struct usm_sketch *s, double q, double *out);

uint64_t usm_sketch_count(const struct usm_sketch *s);
double usm_sketch_sum(const struct usm_sketch *s);
double usm_sketch_min(const struct usm_sketch *s); /* 0 if empty */
double usm_sketch_max(const struct usm_sketch *s); /* 0 if empty */
double usm_sketch_accuracy(const struct usm_sketch *s);
uint32_t usm_sketch_buckets(const struct usm_sketch *s); /* buckets in use */
/* Values that now sit in a collapsed bucket (their accuracy is lost). */
uint64_t usm_sketch_collapsed(const struct usm_sketch *s);

/*
 * A latency distribution that costs no sketch until its second sample (most
 * aggregation keys see one request per interval), as Datadog's
 * FirstLatencySample does.
 */
struct usm_latency {
	uint64_t count;            /* samples added */
	double first;              /* the only sample while sketch is NULL */
	struct usm_sketch *sketch; /* from the second sample on */
};

/* Adds one sample; -ENOMEM if the sketch could not be made (the sample is then
 * not counted), -EINVAL for a value the sketch refuses. */
int usm_latency_add(struct usm_latency *l, double value, double rel_accuracy,
		    uint32_t max_buckets);
/* Same contract as usm_sketch_quantile. */
int usm_latency_quantile(const struct usm_latency *l, double q, double *out);
/* Adds src into dst, making dst's sketch if needed. */
int usm_latency_merge(struct usm_latency *dst, const struct usm_latency *src,
		      double rel_accuracy, uint32_t max_buckets);
void usm_latency_clear(struct usm_latency *l);

#endif /* NW_USM_SKETCH_H */
