// SPDX-License-Identifier: MIT
/*
 * `ferry dump`: parse options, then hand over to the dump engine (dump.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "cli.h"
#include "dump.h"

enum { OPT_LEAVE_STOPPED = 1000, OPT_TCP_ESTABLISHED };

static const char dump_help[] =
	"Usage: ferry dump -t PID [-D DIR] [OPTIONS]\n\n"
	"Checkpoint the process tree rooted at PID into image files in DIR. After a\n"
	"successful dump the tree is killed, unless -R or --leave-stopped is given. If the\n"
	"dump fails, the tree keeps running exactly as it was.\n\n"
	"Options:\n"
	"  -t, --tree PID        the root of the tree to dump: it and all its descendants\n"
	"  -R, --leave-running   let the tree continue after the dump\n"
	"      --leave-stopped   leave the tree stopped (SIGSTOP) after the dump\n"
	"  -j, --shell-job       the tree runs on the caller's terminal (a shell job)\n" COMMON_HELP;

static int parse_pid(const char *s, pid_t *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v <= 0 || v > 4194304)
		return -1;
	*pid = v;
	return 0;
}

int cmd_dump(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "tree", required_argument, NULL, 't' },
		{ "leave-running", no_argument, NULL, 'R' },
		{ "leave-stopped", no_argument, NULL, OPT_LEAVE_STOPPED },
		{ "shell-job", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct dump_opts opts = { .release = DUMP_KILL };
	struct common_opts co;
	int c, ret;

	common_opts_init(&co);
	while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS "t:Rj", longopts, NULL)) != -1) {
		if (common_opt(&co, c, optarg))
			continue;
		switch (c) {
		case 'h':
			fputs(dump_help, stdout);
			return 0;
		case 't':
			if (parse_pid(optarg, &opts.pid))
				return cli_usage_error("dump", "bad PID '%s'", optarg);
			break;
		case 'R':
			opts.release = DUMP_LEAVE_RUNNING;
			break;
		case OPT_LEAVE_STOPPED:
			opts.release = DUMP_LEAVE_STOPPED;
			break;
		case 'j':
			opts.shell_job = true;
			break;
		default:
			return cli_usage_error("dump", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("dump", "unexpected argument '%s'", argv[optind]);
	if (!opts.pid)
		return cli_usage_error("dump", "which tree? give its root with -t PID");
	if (common_opts_apply(&co, true))
		return 1;
	opts.dirfd = co.images_dirfd;
	opts.images_dir = co.images_dir;
	ret = dump_tree(&opts);
	if (ret)
		pr_err("dump of tree %d failed; the tree was left running", opts.pid);
	else
		pr_info("dump of tree %d finished", opts.pid);
	common_opts_release(&co);
	return ret ? 1 : 0;
}
