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

enum { OPT_LEAVE_STOPPED = 1000, OPT_TCP_ESTABLISHED, OPT_GHOST_LIMIT, OPT_FILE_LOCKS };

#define DEFAULT_GHOST_LIMIT (1ULL << 20)

static const char dump_help[] =
	"Usage: ferry dump -t PID [-D DIR] [OPTIONS]\n\n"
	"Checkpoint the process tree rooted at PID into image files in DIR. After a\n"
	"successful dump the tree is killed, unless -R or --leave-stopped is given. If the\n"
	"dump fails, the tree keeps running exactly as it was.\n\n"
	"Options:\n"
	"  -t, --tree PID        the root of the tree to dump\n"
	"  -R, --leave-running   let the tree continue after the dump\n"
	"      --leave-stopped   leave the tree stopped (SIGSTOP) after the dump\n"
	"  -j, --shell-job       the tree runs on the caller's terminal (a shell job); ptys\n"
	"                        whose master the tree holds are saved without it\n"
	"      --ghost-limit SIZE  largest unlinked-but-open file whose contents are saved\n"
	"                        (bytes, or with K, M, G; default 1M)\n"
	"      --file-locks      save and restore flock, POSIX and OFD locks (without it a\n"
	"                        tree holding locks is refused)\n" COMMON_HELP;

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

/* "1048576", "512K", "1M", "2G" */
static int parse_size(const char *s, uint64_t *size)
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

int cmd_dump(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "tree", required_argument, NULL, 't' },
		{ "leave-running", no_argument, NULL, 'R' },
		{ "leave-stopped", no_argument, NULL, OPT_LEAVE_STOPPED },
		{ "shell-job", no_argument, NULL, 'j' },
		{ "ghost-limit", required_argument, NULL, OPT_GHOST_LIMIT },
		{ "file-locks", no_argument, NULL, OPT_FILE_LOCKS },
		{ NULL, 0, NULL, 0 },
	};
	struct dump_opts opts = { .release = DUMP_KILL, .ghost_limit = DEFAULT_GHOST_LIMIT };
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
		case OPT_GHOST_LIMIT:
			if (parse_size(optarg, &opts.ghost_limit))
				return cli_usage_error("dump", "bad --ghost-limit '%s'", optarg);
			break;
		case OPT_FILE_LOCKS:
			opts.file_locks = true;
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
