/* Unit tests for unprivileged/usm/sketch.c: quantiles within the configured
 * relative accuracy of the exact quantiles (same rank) on fixed-seed uniform,
 * lognormal and bimodal samples; merge; bounded buckets with collapsing;
 * refusal of values the sketch cannot represent. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>

#include "unprivileged/usm/sketch.c"

#define N_SAMPLES 100000

static const double quantiles[] = { 0.0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0 };

/* splitmix64: a fixed seed gives the same sample on every run and machine */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double rng_unit(void) /* (0, 1] */
{
	return ((double)(rng_next() >> 11) + 1.0) / 9007199254740992.0;
}

static double rng_normal(void)
{
	return sqrt(-2.0 * log(rng_unit())) * cos(2.0 * M_PI * rng_unit());
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double exact_quantile(const double *sorted, size_t n, double q)
{
	return sorted[(size_t)(q * (double)(n - 1))];
}

/* Every quantile of s within alpha (relative) of the exact one; returns the
 * worst relative error seen. */
static double check_quantiles(const struct usm_sketch *s, double *vals, size_t n, double alpha)
{
	double worst = 0.0;

	qsort(vals, n, sizeof(*vals), cmp_double);
	for (size_t i = 0; i < sizeof(quantiles) / sizeof(quantiles[0]); i++) {
		double got, want = exact_quantile(vals, n, quantiles[i]), err;

		assert_int_equal(usm_sketch_quantile(s, quantiles[i], &got), 0);
		err = want > 0 ? fabs(got - want) / want : fabs(got);
		if (err > alpha * (1.0 + 1e-9))
			fail_msg("q=%g: got %.9g want %.9g (rel err %.5f > %.5f)", quantiles[i],
				 got, want, err, alpha);
		if (err > worst)
			worst = err;
	}
	return worst;
}

enum dist { UNIFORM, LOGNORMAL, BIMODAL };

static double draw(enum dist d)
{
	switch (d) {
	case UNIFORM: /* 1 µs .. 100 ms, in ns */
		return 1e3 + rng_unit() * (1e8 - 1e3);
	case LOGNORMAL: /* median 2 ms, wide tail */
		return exp(log(2e6) + 1.2 * rng_normal());
	case BIMODAL: /* cache hits around 300 µs, misses around 40 ms */
		if (rng_unit() < 0.8)
			return fabs(3e5 + 3e4 * rng_normal()) + 1.0;
		return fabs(4e7 + 8e6 * rng_normal()) + 1.0;
	}
	return 0;
}

static void run_distribution(enum dist d, uint64_t seed, double alpha)
{
	/* at 0.1% a lognormal tail needs more than the default 2048 buckets */
	struct usm_sketch *s = usm_sketch_new(alpha, alpha < 0.01 ? 16384 : USM_SKETCH_DEFAULT_BUCKETS);
	double *vals = malloc(N_SAMPLES * sizeof(*vals)), sum = 0, worst;

	assert_non_null(s);
	assert_non_null(vals);
	rng_state = seed;
	for (size_t i = 0; i < N_SAMPLES; i++) {
		vals[i] = draw(d);
		sum += vals[i];
		assert_int_equal(usm_sketch_add(s, vals[i]), 0);
	}
	assert_int_equal(usm_sketch_count(s), N_SAMPLES);
	assert_true(fabs(usm_sketch_sum(s) - sum) <= 1e-9 * sum);
	assert_int_equal(usm_sketch_collapsed(s), 0);
	worst = check_quantiles(s, vals, N_SAMPLES, alpha);
	assert_true(usm_sketch_min(s) == vals[0]);
	assert_true(usm_sketch_max(s) == vals[N_SAMPLES - 1]);
	print_message("dist %d alpha %.3f: worst rel err %.5f, %u buckets\n", d, alpha, worst,
		      usm_sketch_buckets(s));
	free(vals);
	usm_sketch_free(s);
}

static void test_uniform(void **state) { run_distribution(UNIFORM, 1, 0.01); }
static void test_lognormal(void **state) { run_distribution(LOGNORMAL, 2, 0.01); }
static void test_bimodal(void **state) { run_distribution(BIMODAL, 3, 0.01); }

static void test_accuracy_configurable(void **state)
{
	run_distribution(LOGNORMAL, 4, 0.05);
	run_distribution(LOGNORMAL, 5, 0.002);
	run_distribution(BIMODAL, 6, 0.001);
}

/* p50/p95/p99 within 1% for several seeds of each distribution */
static void test_percentiles_many_seeds(void **state)
{
	for (enum dist d = UNIFORM; d <= BIMODAL; d++)
		for (uint64_t seed = 100; seed < 110; seed++)
			run_distribution(d, seed, 0.01);
}

static void test_small_counts(void **state)
{
	struct usm_sketch *s = usm_sketch_new(0.01, 2048);
	double v;

	assert_int_equal(usm_sketch_quantile(s, 0.5, &v), -ENODATA);
	assert_int_equal(usm_sketch_add(s, 1234.0), 0);
	for (double q = 0; q <= 1.0; q += 0.25) {
		assert_int_equal(usm_sketch_quantile(s, q, &v), 0);
		assert_true(v == 1234.0); /* clamped to [min, max] */
	}
	assert_int_equal(usm_sketch_add(s, 10.0), 0);
	assert_int_equal(usm_sketch_quantile(s, 0.0, &v), 0);
	assert_true(v == 10.0); /* q = 0 is the minimum, exactly */
	assert_int_equal(usm_sketch_quantile(s, 0.5, &v), 0);
	assert_true(fabs(v - 10.0) <= 0.01 * 10.0 * (1 + 1e-9));
	assert_int_equal(usm_sketch_quantile(s, 1.0, &v), 0);
	assert_true(v == 1234.0); /* q = 1 is the maximum, exactly */
	usm_sketch_free(s);
}

static void test_refusals(void **state)
{
	struct usm_sketch *s = usm_sketch_new(0.01, 64);
	double v;

	assert_null(usm_sketch_new(0.0, 64));
	assert_null(usm_sketch_new(1e-12, 64));
	assert_null(usm_sketch_new(0.6, 64));
	assert_null(usm_sketch_new(NAN, 64));
	assert_null(usm_sketch_new(0.01, 7));
	assert_null(usm_sketch_new(0.01, USM_SKETCH_MAX_BUCKETS + 1));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(usm_sketch_add(s, NAN), -EINVAL);
	assert_int_equal(usm_sketch_add(s, INFINITY), -EINVAL);
	assert_int_equal(usm_sketch_add(s, -1.0), -EINVAL);
	assert_int_equal(usm_sketch_count(s), 0);
	assert_int_equal(usm_sketch_add(s, 5.0), 0);
	assert_int_equal(usm_sketch_quantile(s, -0.1, &v), -EINVAL);
	assert_int_equal(usm_sketch_quantile(s, 1.1, &v), -EINVAL);
	assert_int_equal(usm_sketch_quantile(s, NAN, &v), -EINVAL);
	usm_sketch_free(s);
	usm_sketch_free(NULL);
}

static void test_zero_and_extremes(void **state)
{
	struct usm_sketch *s = usm_sketch_new(0.01, 4096);
	double v;

	assert_int_equal(usm_sketch_add_n(s, 0.0, 10), 0);
	assert_int_equal(usm_sketch_add(s, 1e-300), 0);  /* counts as zero */
	assert_int_equal(usm_sketch_add(s, 1e300), 0);
	assert_int_equal(usm_sketch_add(s, DBL_MAX), 0);
	assert_int_equal(usm_sketch_count(s), 13);
	assert_int_equal(usm_sketch_quantile(s, 0.5, &v), 0);
	assert_true(v == 0.0);
	assert_int_equal(usm_sketch_quantile(s, 1.0, &v), 0);
	assert_true(v == DBL_MAX);
	assert_int_equal(usm_sketch_add_n(s, 7.0, 0), 0);
	assert_int_equal(usm_sketch_count(s), 13);
	usm_sketch_free(s);
}

static void test_merge(void **state)
{
	struct usm_sketch *a = usm_sketch_new(0.01, 2048), *b = usm_sketch_new(0.01, 2048);
	struct usm_sketch *all = usm_sketch_new(0.01, 2048), *other = usm_sketch_new(0.02, 2048);
	struct usm_sketch *empty = usm_sketch_new(0.01, 2048);
	double *vals = malloc(N_SAMPLES * sizeof(*vals)), x, y;

	rng_state = 42;
	for (size_t i = 0; i < N_SAMPLES; i++) {
		vals[i] = draw(i % 2 ? LOGNORMAL : BIMODAL);
		assert_int_equal(usm_sketch_add(i < N_SAMPLES / 3 ? a : b, vals[i]), 0);
		assert_int_equal(usm_sketch_add(all, vals[i]), 0);
	}
	assert_int_equal(usm_sketch_merge(a, other), -EINVAL);
	assert_int_equal(usm_sketch_merge(a, empty), 0);
	assert_int_equal(usm_sketch_merge(a, b), 0);
	assert_int_equal(usm_sketch_count(a), N_SAMPLES);
	assert_true(usm_sketch_min(a) == usm_sketch_min(all));
	assert_true(usm_sketch_max(a) == usm_sketch_max(all));
	for (size_t i = 0; i < sizeof(quantiles) / sizeof(quantiles[0]); i++) {
		assert_int_equal(usm_sketch_quantile(a, quantiles[i], &x), 0);
		assert_int_equal(usm_sketch_quantile(all, quantiles[i], &y), 0);
		assert_true(x == y); /* same buckets, same answer */
	}
	check_quantiles(a, vals, N_SAMPLES, 0.01);
	/* merging into an empty sketch copies */
	assert_int_equal(usm_sketch_merge(empty, all), 0);
	assert_int_equal(usm_sketch_count(empty), N_SAMPLES);
	free(vals);
	usm_sketch_free(a);
	usm_sketch_free(b);
	usm_sketch_free(all);
	usm_sketch_free(other);
	usm_sketch_free(empty);
}

/* Values over 1 ns .. 1000 s need ~1380 buckets at 1%: with 128, the low end
 * collapses, the top keeps its accuracy, and memory stays bounded. */
static void test_collapse_lowest(void **state)
{
	struct usm_sketch *s = usm_sketch_new(0.01, 128), *m = usm_sketch_new(0.01, 128);
	double *vals = malloc(N_SAMPLES * sizeof(*vals)), v;
	uint64_t before;

	rng_state = 7;
	for (size_t i = 0; i < N_SAMPLES; i++) {
		vals[i] = exp(rng_unit() * log(1e12));
		assert_int_equal(usm_sketch_add(s, vals[i]), 0);
	}
	assert_true(usm_sketch_buckets(s) <= 128);
	assert_true(usm_sketch_collapsed(s) > 0);
	qsort(vals, N_SAMPLES, sizeof(*vals), cmp_double);
	for (double q = 0.95; q <= 1.0; q += 0.01) {
		double want = exact_quantile(vals, N_SAMPLES, q);

		assert_int_equal(usm_sketch_quantile(s, q, &v), 0);
		assert_true(fabs(v - want) <= 0.01 * want * (1 + 1e-9));
	}
	/* growing downwards past the bound collapses too */
	for (double x = 1e12; x > 1; x /= 1.5)
		assert_int_equal(usm_sketch_add(m, x), 0);
	assert_true(usm_sketch_buckets(m) <= 128);
	assert_true(usm_sketch_collapsed(m) > 0);
	assert_int_equal(usm_sketch_quantile(m, 1.0, &v), 0);
	assert_true(v == 1e12);
	/* and merging two wide sketches stays within the bound */
	before = usm_sketch_count(m);
	assert_int_equal(usm_sketch_merge(m, s), 0);
	assert_true(usm_sketch_buckets(m) <= 128);
	assert_int_equal(usm_sketch_count(m), before + N_SAMPLES);
	free(vals);
	usm_sketch_free(s);
	usm_sketch_free(m);
}

static void test_reset(void **state)
{
	struct usm_sketch *s = usm_sketch_new(0.01, 64);
	double v;

	assert_int_equal(usm_sketch_add(s, 100.0), 0);
	usm_sketch_reset(s);
	assert_int_equal(usm_sketch_count(s), 0);
	assert_int_equal(usm_sketch_quantile(s, 0.5, &v), -ENODATA);
	assert_int_equal(usm_sketch_add(s, 1e9), 0);
	assert_int_equal(usm_sketch_quantile(s, 0.5, &v), 0);
	assert_true(v == 1e9);
	usm_sketch_free(s);
}

static void test_latency_first_sample(void **state)
{
	struct usm_latency a = { 0 }, b = { 0 }, c = { 0 };
	double v;

	assert_int_equal(usm_latency_quantile(&a, 0.5, &v), -ENODATA);
	assert_int_equal(usm_latency_add(&a, 500.0, 0.01, 64), 0);
	assert_null(a.sketch); /* one sample: no sketch yet */
	assert_int_equal(usm_latency_quantile(&a, 0.99, &v), 0);
	assert_true(v == 500.0);
	assert_int_equal(usm_latency_add(&a, NAN, 0.01, 64), -EINVAL);
	assert_int_equal(usm_latency_add(&a, 1500.0, 0.01, 64), 0);
	assert_non_null(a.sketch);
	assert_int_equal(a.count, 2);
	assert_int_equal(usm_sketch_count(a.sketch), 2);

	/* merges: single into empty, single into single, sketch into single */
	assert_int_equal(usm_latency_add(&b, 10.0, 0.01, 64), 0);
	assert_int_equal(usm_latency_merge(&c, &b, 0.01, 64), 0);
	assert_null(c.sketch);
	assert_int_equal(c.count, 1);
	assert_int_equal(usm_latency_merge(&c, &b, 0.01, 64), 0);
	assert_non_null(c.sketch);
	assert_int_equal(c.count, 2);
	assert_int_equal(usm_latency_merge(&b, &a, 0.01, 64), 0);
	assert_int_equal(b.count, 3);
	assert_int_equal(usm_latency_quantile(&b, 1.0, &v), 0);
	assert_true(v == 1500.0);
	assert_int_equal(usm_latency_merge(&b, &(struct usm_latency){ 0 }, 0.01, 64), 0);
	assert_int_equal(b.count, 3);
	usm_latency_clear(&a);
	usm_latency_clear(&b);
	usm_latency_clear(&c);
	assert_int_equal(a.count, 0);
	assert_null(a.sketch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uniform),
		cmocka_unit_test(test_lognormal),
		cmocka_unit_test(test_bimodal),
		cmocka_unit_test(test_accuracy_configurable),
		cmocka_unit_test(test_percentiles_many_seeds),
		cmocka_unit_test(test_small_counts),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_zero_and_extremes),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_collapse_lowest),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_latency_first_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
