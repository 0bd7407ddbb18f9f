/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the small command-line programs of tests/helpers/ and bench/ share:
 * a fatal error with errno, a number within bounds from an argument, a
 * monotonic clock in milliseconds. Define HELPER_NAME (the prefix of error
 * messages) before including.
 */
#ifndef NW_TEST_HELPER_CLI_H
#define NW_TEST_HELPER_CLI_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline void die(const char *what)
{
	fprintf(stderr, HELPER_NAME ": %s: %s\n", what, strerror(errno));
	exit(1);
}

/* s as a decimal number in lo..hi, or exit 1 naming the option. */
static inline long num(const char *s, long lo, long hi, const char *what)
{
	char *e;
	long v;

	errno = 0;
	v = strtol(s, &e, 10);
	if (errno || e == s || *e || v < lo || v > hi) {
		fprintf(stderr, HELPER_NAME ": %s must be %ld..%ld\n", what, lo, hi);
		exit(1);
	}
	return v;
}

static inline double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#endif
