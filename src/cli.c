// SPDX-License-Identifier: MIT
/*
 * Options common to all verbs: images/work directories, the log file and verbosity.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_PREFIX ""
#include "log.h"
#include "cli.h"

void common_opts_init(struct common_opts *co)
{
	memset(co, 0, sizeof(*co));
	co->images_dir = ".";
	co->verbosity = LOG_WARN;
	co->images_dirfd = -1;
}

int common_opt(struct common_opts *co, int c, const char *arg)
{
	switch (c) {
	case 'D':
		co->images_dir = arg;
		return 1;
	case 'W':
		co->work_dir = arg;
		return 1;
	case 'o':
		co->log_file = arg;
		return 1;
	case 'v':
		if (!arg)
			co->verbosity++;
		else if (arg[strspn(arg, "v")] == '\0')
			co->verbosity += 1 + strlen(arg);
		else
			co->verbosity = atoi(arg);
		return 1;
	}
	return 0;
}

int cli_usage_error(const char *verb, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ferry %s: ", verb);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'ferry %s --help'.\n", verb);
	return 2;
}

int common_opts_apply(struct common_opts *co, bool create_dir)
{
	char path[PATH_MAX];
	const char *log = co->log_file;

	if (create_dir && mkdir(co->images_dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "ferry: cannot create images dir %s: %m\n", co->images_dir);
		return -errno;
	}
	co->images_dirfd = open(co->images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (co->images_dirfd < 0) {
		fprintf(stderr, "ferry: cannot open images dir %s: %m\n", co->images_dir);
		return -errno;
	}
	if (!co->work_dir)
		co->work_dir = co->images_dir;
	if (log && strcmp(log, "-") && log[0] != '/') {
		snprintf(path, sizeof(path), "%s/%s", co->work_dir, log);
		log = path;
	}
	return log_init(log, co->verbosity);
}

void common_opts_release(struct common_opts *co)
{
	if (co->images_dirfd >= 0)
		close(co->images_dirfd);
	co->images_dirfd = -1;
	log_fini();
}

/* "1048576", "512K", "1M", "2G" */
int cli_parse_size(const char *s, uint64_t *size)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return -1;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	else if (*end == 'G' || *end == 'g')
		v <<= 30, end++;
	if (*end || v > (1ULL << 40))
		return -1;
	*size = v;
	return 0;
}

static char *argv_start;
static size_t argv_room;

void cli_save_argv(int argc, char **argv)
{
	char *end;
	int i;

	if (argc < 1)
		return;
	/* the strings the kernel laid out one after the other */
	end = argv[0] + strlen(argv[0]) + 1;
	for (i = 1; i < argc && argv[i] == end; i++)
		end += strlen(argv[i]) + 1;
	argv_start = argv[0];
	argv_room = end - argv[0];
}

void cli_set_title(const char *title)
{
	size_t n;

	if (!argv_room)
		return;
	n = strlen(title);
	if (n > argv_room - 1)
		n = argv_room - 1;
	memset(argv_start, 0, argv_room);
	memcpy(argv_start, title, n);
}

int cli_write_pidfile(const char *path, const pid_t *pids, unsigned int n)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		pr_perror("cannot create pidfile %s", path);
		return -1;
	}
	for (unsigned int i = 0; i < n; i++)
		fprintf(f, "%d\n", pids[i]);
	if (fclose(f)) {
		pr_perror("cannot write pidfile %s", path);
		return -1;
	}
	return 0;
}
