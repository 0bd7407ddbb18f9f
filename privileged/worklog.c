/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The worker's stdout and stderr are a pipe that the loader reads: its lines
 * reach the loader's stderr capped at LINE_MAX bytes, with every byte that
 * is not printable ASCII replaced by '?', so that a taken-over worker can
 * neither fill a log file (it runs with RLIMIT_FSIZE 0) nor put terminal
 * escapes in front of the operator. The loader never interprets the text.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "privileged/loader.h"

#define LINE_MAX_BYTES 1024
#define READS_PER_WAKEUP 16 /* a chatty worker cannot hold the supervisor in this loop */

static char line[LINE_MAX_BYTES + 16];
static size_t line_len;

static void emit(bool cut)
{
	static const char mark[] = " [cut]";

	if (!line_len && !cut)
		return;
	if (cut) {
		memcpy(line + line_len, mark, sizeof(mark) - 1);
		line_len += sizeof(mark) - 1;
	}
	line[line_len++] = '\n';
	/* one write per line: never interleaved with the loader's own lines */
	(void)!write(STDERR_FILENO, line, line_len);
	line_len = 0;
}

int ldr_worklog_pump(int fd)
{
	char chunk[4096];

	for (int i = 0; i < READS_PER_WAKEUP; i++) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		if (n == 0)
			return -EPIPE;
		for (ssize_t j = 0; j < n; j++) {
			unsigned char c = (unsigned char)chunk[j];

			if (c == '\n') {
				emit(false);
				continue;
			}
			line[line_len++] = c == '\t' || (c >= 0x20 && c < 0x7f) ? (char)c : '?';
			if (line_len == LINE_MAX_BYTES)
				emit(true);
		}
	}
	return 0;
}

void ldr_worklog_flush(int fd)
{
	if (fd >= 0)
		ldr_worklog_pump(fd);
	emit(false);
}
