// SPDX-License-Identifier: MIT
/*
 * Logging back end: a level, an optional log file, timestamps relative to start.
 * errno is preserved across log_msg() so that "%m" and callers' checks still work.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static FILE *log_file;
static bool log_kmsg;
static int log_level = LOG_WARN;
static struct timespec log_start;
static char last_error[512];

int log_init(const char *path, int level)
{
	log_level = level;
	clock_gettime(CLOCK_MONOTONIC, &log_start);
	if (!path || !strcmp(path, "-"))
		return 0;
	log_file = fopen(path, "a");
	if (!log_file) {
		fprintf(stderr, "ferry: cannot open log file %s: %m\n", path);
		return -errno;
	}
	setvbuf(log_file, NULL, _IOLBF, 0);
	return 0;
}

int log_init_fd(int fd, int level)
{
	log_level = level;
	clock_gettime(CLOCK_MONOTONIC, &log_start);
	log_file = fdopen(fd, "a");
	if (!log_file) {
		fprintf(stderr, "ferry: cannot log to fd %d: %m\n", fd);
		close(fd);
		return -errno;
	}
	setvbuf(log_file, NULL, _IOLBF, 0);
	return 0;
}

int log_init_kmsg(int level)
{
	int ret = log_init("/dev/kmsg", level);

	log_kmsg = !ret;
	return ret;
}

void log_fini(void)
{
	if (log_file)
		fclose(log_file);
	log_file = NULL;
	log_kmsg = false;
}

int log_get_level(void)
{
	return log_level;
}

const char *log_last_error(void)
{
	return last_error;
}

void log_clear_error(void)
{
	last_error[0] = '\0';
}

static void log_vprint(FILE *f, int level, const char *file, int line, const char *fmt,
		       va_list ap, int saved_errno)
{
	static const char *const tag[] = { "", "Error", "Warn", "", "" };
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	double t = (now.tv_sec - log_start.tv_sec) + (now.tv_nsec - log_start.tv_nsec) / 1e9;

	/* kernel log levels: 3 err, 4 warning, 6 info, 7 debug */
	if (log_kmsg && f == log_file)
		fprintf(f, "<%d>", level <= LOG_WARN ? level + 2 : level + 3);
	fprintf(f, "(%9.6f) %d ", t, getpid());
	if (level <= LOG_WARN)
		fprintf(f, "%s ", tag[level]);
	if (file)
		fprintf(f, "(%s:%d): ", file, line);
	errno = saved_errno;
	vfprintf(f, fmt, ap);
	fputc('\n', f);
}

void log_msg(int level, const char *file, int line, const char *fmt, ...)
{
	int saved_errno = errno;
	va_list ap;

	if (level == LOG_ERR) {
		va_start(ap, fmt);
		errno = saved_errno;
		vsnprintf(last_error, sizeof(last_error), fmt, ap);
		va_end(ap);
	}
	if (level > log_level) {
		errno = saved_errno;
		return;
	}
	if (log_file) {
		va_start(ap, fmt);
		log_vprint(log_file, level, file, line, fmt, ap, saved_errno);
		va_end(ap);
	}
	if (!log_file || level <= LOG_WARN) {
		va_start(ap, fmt);
		log_vprint(stderr, level, file, line, fmt, ap, saved_errno);
		va_end(ap);
	}
	errno = saved_errno;
}
