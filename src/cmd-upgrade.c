// SPDX-License-Identifier: MIT
/*
 * `ferry upgrade`: parse options and run the seamless kernel upgrade (kexec/upgrade.c):
 * dump the trees into the store, load the next kernel with kexec-tools, enter it; the
 * initramfs restores the trees (initramfs/).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "cli.h"
#include "kexec.h"
#include "dump.h"
#include "memfs.h"
#include "sockets.h"

enum {
	OPT_KERNEL = 1000,
	OPT_INITRD,
	OPT_APPEND,
	OPT_STORE,
	OPT_DRY_RUN,
	OPT_EXTERNAL,
	OPT_GHOST_LIMIT,
	OPT_FILE_LOCKS,
	OPT_TCP_CLOSE,
	OPT_TCP_ESTABLISHED,
};

#define MAX_TREES 64

static const char upgrade_help[] =
	"Usage: ferry upgrade --kernel KERNEL [--initrd INITRD] [--append ARGS]\n"
	"                     [--store SPEC] [--dry-run] -t PID [-t PID...]\n\n"
	"Move the process trees rooted at each PID into a new kernel: check first that the\n"
	"store is there and large enough, that KERNEL loads (kexec -l) and that every tree\n"
	"can be dumped; then dump all trees into one checkpoint of the store, seal it, kill\n"
	"the trees and kexec into KERNEL. Its command line is this boot's, without\n"
	"BOOT_IMAGE= and an older ferry.restore=, plus ferry.restore=SPEC and ARGS; the\n"
	"initramfs (ferry's hook) restores the trees before switch_root. Any failure before\n"
	"the kill resumes every tree as it was and unloads the kernel. A file, directory or\n"
	"FIFO a tree uses on tmpfs or ramfs refuses the upgrade: the new kernel lacks it.\n\n"
	"Options:\n"
	"      --kernel FILE     the kernel to boot (e.g. /boot/vmlinuz-VERSION)\n"
	"      --initrd FILE     its initramfs, with ferry's hook in it\n"
	"      --append ARGS     more kernel command line arguments\n"
	"      --store SPEC      the store for the checkpoint, e.g. pmem:/dev/pmem0 (it must\n"
	"                        survive kexec: not on tmpfs) (default: " MEMFS_DEFAULT_SPEC ")\n"
	"  -t, --tree PID        the root of a tree to move (repeat for more trees)\n"
	"      --dry-run         everything but the kill and the kexec: the trees keep\n"
	"                        running, the checkpoint is removed, the kernel unloaded\n"
	"      --external veth[IFNAME]:HOSTNAME\n"
	"                        a tree in a network namespace of its own has veth IFNAME\n"
	"                        with its host end HOSTNAME, recreated so after the kexec\n"
	"      --ghost-limit SIZE  largest unlinked-but-open file whose contents are saved\n"
	"                        (as for dump; default 1M)\n"
	"      --file-locks      save and restore flock, POSIX and OFD locks\n"
	"      --tcp-established  move established TCP connections (TCP_REPAIR): they stay\n"
	"                        locked (nftables) from the freeze until the next kernel's\n"
	"                        initramfs has them back, so that no peer sees a reset; the\n"
	"                        host links they use (addresses, routes) are saved and set\n"
	"                        up again there before the restore (see README)\n"
	"      --tcp-close       save established TCP connections as closed sockets\n"
	"                        (without one of the two a connection refuses the upgrade)\n"
	COMMON_HELP;

static int add_tree(struct upgrade_opts *o, pid_t *trees, const char *arg)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*end || v <= 0 || v > (1 << 22))
		return cli_usage_error("upgrade", "-t needs a PID, not '%s'", arg);
	if (o->ntrees == MAX_TREES)
		return cli_usage_error("upgrade", "at most %d trees", MAX_TREES);
	trees[o->ntrees++] = (pid_t)v;
	return 0;
}

int cmd_upgrade(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{"kernel", required_argument, NULL, OPT_KERNEL},
		{"initrd", required_argument, NULL, OPT_INITRD},
		{"append", required_argument, NULL, OPT_APPEND},
		{"store", required_argument, NULL, OPT_STORE},
		{"dry-run", no_argument, NULL, OPT_DRY_RUN},
		{"external", required_argument, NULL, OPT_EXTERNAL},
		{"tree", required_argument, NULL, 't'},
		{"ghost-limit", required_argument, NULL, OPT_GHOST_LIMIT},
		{"file-locks", no_argument, NULL, OPT_FILE_LOCKS},
		{"tcp-close", no_argument, NULL, OPT_TCP_CLOSE},
		{"tcp-established", no_argument, NULL, OPT_TCP_ESTABLISHED},
		{NULL, 0, NULL, 0},
	};
	static pid_t trees[MAX_TREES];
	struct upgrade_opts o = {.trees = trees, .ghost_limit = DUMP_DEFAULT_GHOST_LIMIT};
	struct common_opts co;
	int c, ret;

	common_opts_init(&co);
	while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS "t:", longopts, NULL)) != -1) {
		if (common_opt(&co, c, optarg))
			continue;
		switch (c) {
		case 'h':
			fputs(upgrade_help, stdout);
			return 0;
		case OPT_KERNEL:
			o.kernel = optarg;
			break;
		case OPT_INITRD:
			o.initrd = optarg;
			break;
		case OPT_APPEND:
			o.append = optarg;
			break;
		case OPT_STORE:
			o.store = optarg;
			break;
		case OPT_DRY_RUN:
			o.dry_run = true;
			break;
		case OPT_EXTERNAL:
			if (net_parse_external(&o.externals, optarg))
				return cli_usage_error(
					"upgrade", "--external '%s': " NET_EXTERNAL_HINT, optarg);
			break;
		case OPT_GHOST_LIMIT:
			if (cli_parse_size(optarg, &o.ghost_limit))
				return cli_usage_error("upgrade", "bad --ghost-limit '%s'", optarg);
			break;
		case OPT_FILE_LOCKS:
			o.file_locks = true;
			break;
		case OPT_TCP_CLOSE:
			o.sk_flags |= SK_TCP_CLOSE;
			break;
		case OPT_TCP_ESTABLISHED:
			o.sk_flags |= SK_TCP_ESTABLISHED;
			break;
		case 't':
			if (add_tree(&o, trees, optarg))
				return 2;
			break;
		default:
			return cli_usage_error("upgrade", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("upgrade", "unexpected argument '%s'", argv[optind]);
	if (!o.kernel)
		return cli_usage_error("upgrade", "which kernel? give it with --kernel FILE");
	if (!o.ntrees)
		return cli_usage_error("upgrade", "which trees? give each root with -t PID");
	if ((o.sk_flags & SK_TCP_CLOSE) && (o.sk_flags & SK_TCP_ESTABLISHED))
		return cli_usage_error("upgrade", "--tcp-established and --tcp-close exclude "
				       "each other");
	if (common_opts_apply(&co, false))
		return 1;
	ret = upgrade_run(&o);
	if (ret)
		pr_err("upgrade failed: %s", strerror(-ret));
	common_opts_release(&co);
	return ret ? 1 : 0;
}
