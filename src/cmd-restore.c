// SPDX-License-Identifier: MIT
/*
 * `ferry restore`: parse options, run the restore engine (restore.c), then either
 * return at once (-d) or wait for the restored root and exit with its status.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "log.h"
#include "cli.h"
#include "restore.h"
#include "timens.h"

enum { OPT_LEAVE_STOPPED = 1000, OPT_PIDFILE, OPT_TIMENS, OPT_TCP_ESTABLISHED, OPT_TCP_CLOSE,
       OPT_EXT_UNIX_SK };

static const char restore_help[] =
	"Usage: ferry restore [-D DIR] [OPTIONS]\n\n"
	"Restore the process tree saved in DIR with its original PIDs. Without -d, ferry\n"
	"waits for the restored root and exits with its exit status (128+N if it was killed\n"
	"by signal N). If the restore fails, everything created is killed and the images are\n"
	"left as they were.\n\n"
	"Options:\n"
	"  -d, --restore-detached  return as soon as the tree runs\n"
	"      --leave-stopped     leave the restored tree stopped (SIGSTOP)\n"
	"  -j, --shell-job         the tree was a shell job on a terminal\n"
	"      --pidfile FILE      write the PID of the restored root to FILE\n"
	"      --timens MODE       auto (default): when the images come from another boot\n"
	"                          (a kexec), restore into a new time namespace whose\n"
	"                          CLOCK_MONOTONIC and CLOCK_BOOTTIME go on from the dumped\n"
	"                          values, so they never go backwards; on: always; off: never\n"
	"      --tcp-established   accepted for CRIU compatibility: connections saved with\n"
	"                          dump --tcp-established are always restored\n"
	"      --tcp-close         accepted for CRIU compatibility (see dump --tcp-close)\n"
	"      --ext-unix-sk       accepted for CRIU compatibility (see dump --ext-unix-sk)\n"
	COMMON_HELP;

static int write_pidfile(const char *path, pid_t pid)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		pr_perror("cannot create pidfile %s", path);
		return -1;
	}
	fprintf(f, "%d\n", pid);
	if (fclose(f)) {
		pr_perror("cannot write pidfile %s", path);
		return -1;
	}
	return 0;
}

static int wait_root(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			pr_perror("cannot wait for restored task %d", pid);
			return 1;
		}
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int cmd_restore(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "restore-detached", no_argument, NULL, 'd' },
		{ "leave-stopped", no_argument, NULL, OPT_LEAVE_STOPPED },
		{ "shell-job", no_argument, NULL, 'j' },
		{ "pidfile", required_argument, NULL, OPT_PIDFILE },
		{ "timens", required_argument, NULL, OPT_TIMENS },
		{ "tcp-established", no_argument, NULL, OPT_TCP_ESTABLISHED },
		{ "tcp-close", no_argument, NULL, OPT_TCP_CLOSE },
		{ "ext-unix-sk", no_argument, NULL, OPT_EXT_UNIX_SK },
		{ NULL, 0, NULL, 0 },
	};
	struct restore_opts opts = { 0 };
	struct common_opts co;
	pid_t root;
	int c, ret;

	common_opts_init(&co);
	while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS "dj", longopts, NULL)) != -1) {
		if (common_opt(&co, c, optarg))
			continue;
		switch (c) {
		case 'h':
			fputs(restore_help, stdout);
			return 0;
		case 'd':
			opts.detach = true;
			break;
		case OPT_LEAVE_STOPPED:
			opts.leave_stopped = true;
			break;
		case 'j':
			opts.shell_job = true;
			break;
		case OPT_PIDFILE:
			opts.pidfile = optarg;
			break;
		case OPT_TIMENS:
			if (timens_parse_mode(optarg, &opts.timens))
				return cli_usage_error("restore", "--timens takes auto, on or off, not '%s'",
						       optarg);
			break;
		case OPT_TCP_ESTABLISHED:
		case OPT_TCP_CLOSE:
		case OPT_EXT_UNIX_SK:
			break;
		default:
			return cli_usage_error("restore", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("restore", "unexpected argument '%s'", argv[optind]);
	if (common_opts_apply(&co, false))
		return 1;
	opts.dirfd = co.images_dirfd;
	opts.images_dir = co.images_dir;
	ret = restore_tree(&opts, &root);
	if (ret) {
		pr_err("restore from %s failed; the images are unchanged", co.images_dir);
		common_opts_release(&co);
		return 1;
	}
	pr_info("restored tree, root PID %d", root);
	if (opts.pidfile && write_pidfile(opts.pidfile, root))
		ret = 1;
	if (!opts.detach)
		ret = wait_root(root);
	common_opts_release(&co);
	return ret;
}
