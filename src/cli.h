/* SPDX-License-Identifier: MIT */
/*
 * Command-line plumbing shared by the verbs: the verb table entry, and the options every
 * verb understands (-D, -W, -o, -v) with CRIU's meanings.
 */
#ifndef FERRY_CLI_H
#define FERRY_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
	bool needs_root;
};

struct common_opts {
	const char *images_dir;	/* -D, default "." */
	const char *work_dir;	/* -W, default: the images dir */
	const char *log_file;	/* -o, relative to the work dir; "-" = stderr */
	int verbosity;		/* -v[N], default 2 (warnings) */
	int images_dirfd;
};

/* getopt_long entries for the common options; the verb appends its own. */
#define COMMON_LONGOPTS                                                                          \
	{ "images-dir", required_argument, NULL, 'D' },                                          \
		{ "work-dir", required_argument, NULL, 'W' },                                    \
		{ "log-file", required_argument, NULL, 'o' },                                    \
		{ "verbosity", optional_argument, NULL, 'v' },                                   \
		{ "help", no_argument, NULL, 'h' }
#define COMMON_SHORTOPTS "D:W:o:v::h"

#define COMMON_HELP                                                                              \
	"  -D, --images-dir DIR  directory of the image files (default: .)\n"                   \
	"  -W, --work-dir DIR    directory for logs and stats (default: the images dir)\n"       \
	"  -o, --log-file FILE   write the log to FILE, relative to the work dir ('-': stderr)\n" \
	"  -v[N]                 verbosity: 0 none, 1 errors, 2 warnings (default), 3 info,\n"   \
	"                        4 debug; -v alone adds one level, -vvv stacks\n"               \
	"  -h, --help            this help\n"

void common_opts_init(struct common_opts *co);
/* Handle one common option; returns 1 if handled, 0 if not a common option. */
int common_opt(struct common_opts *co, int c, const char *arg);
/* After parsing: open the images dir (creating it when create), start logging. */
int common_opts_apply(struct common_opts *co, bool create_dir);
void common_opts_release(struct common_opts *co);
/* A usage error: prints "ferry VERB: msg" and a hint, returns 2 (the exit status). */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "1048576", "512K", "1M", "2G": 0, or -1 when it is not a size (up to 1 TiB) */
int cli_parse_size(const char *s, uint64_t *size);

/* Write pids[0..n), one a line, to path; -1 (logged) when it cannot. */
int cli_write_pidfile(const char *path, const pid_t *pids, unsigned int n);

/* main: keep argv for cli_set_title */
void cli_save_argv(int argc, char **argv);
/* What /proc/self/cmdline (ps, systemd) shows from now on: title, cut to argv's room. */
void cli_set_title(const char *title);

int cmd_dump(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_store(int argc, char **argv);
int cmd_upgrade(int argc, char **argv);
int cmd_service(int argc, char **argv);
int cmd_swrk(int argc, char **argv);

#endif
