/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The loader's log: one line per decision, "netwarden: ..." on stderr. */
#include <stdarg.h>
#include <stdio.h>
#include "privileged/loader.h"

bool ldr_verbose;

static void vlog(const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "netwarden: %s\n", line);
}

void ldr_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void ldr_debug(const char *fmt, ...)
{
	va_list ap;

	if (!ldr_verbose)
		return;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}
