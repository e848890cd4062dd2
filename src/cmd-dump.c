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
#include "memfs.h"
#include "sockets.h"

enum {
	OPT_LEAVE_STOPPED = 1000,
	OPT_TCP_ESTABLISHED,
	OPT_GHOST_LIMIT,
	OPT_FILE_LOCKS,
	OPT_TCP_CLOSE,
	OPT_EXT_UNIX_SK,
	OPT_STORE,
	OPT_EXTERNAL,
	OPT_FREEZE_CGROUP,
	OPT_HOST_LINKS,
};


static const char dump_help[] =
	"Usage: ferry dump -t PID [-D DIR | --store SPEC] [OPTIONS]\n\n"
	"Checkpoint the process tree rooted at PID into image files in DIR, or into a new\n"
	"checkpoint in an image store (see ferry store --help) whose id is printed on stdout.\n"
	"After a successful dump the tree is killed, unless -R or --leave-stopped is given.\n"
	"If the dump fails, the tree keeps running exactly as it was and no images or\n"
	"partial checkpoint are left.\n\n"
	"Options:\n"
	"  -t, --tree PID        the root of the tree to dump: it and all its descendants\n"
	"      --store SPEC      dump into a new checkpoint of store SPEC: dir:PATH or\n"
	"                        pmem:/dev/DEVICE (a dir: store is created when missing)\n"
	"  -R, --leave-running   let the tree continue after the dump\n"
	"      --leave-stopped   leave the tree stopped (SIGSTOP) after the dump\n"
	"  -j, --shell-job       the tree runs on the caller's terminal (a shell job); ptys\n"
	"                        whose master the tree holds are saved without it\n"
	"      --external veth[IFNAME]:HOSTNAME\n"
	"                        the tree is in a network namespace of its own and its veth\n"
	"                        IFNAME has its peer outside: that host end is HOSTNAME (it\n"
	"                        is recreated under that name on restore); once per veth\n"
	"      --freeze-cgroup PATH  freeze the tree's cgroup v2 directory PATH (cgroup.freeze)\n"
	"                        while it is seized, so that it cannot fork or change; PATH\n"
	"                        must contain the root's cgroup. Thawed once ptrace holds\n"
	"                        every task; a cgroup that was frozen before is frozen again\n"
	"                        at the end. Every task's cgroup v2 path is dumped in any case\n"

	"      --ghost-limit SIZE  largest unlinked-but-open file whose contents are saved\n"
	"                        (bytes, or with K, M, G; default 1M)\n"
	"      --file-locks      save and restore flock, POSIX and OFD locks (without it a\n"
	"                        tree holding locks is refused)\n"
	"      --tcp-established keep established and half-closed TCP connections (TCP\n"
	"                        repair; blocked from the freeze until restored)\n"
	"      --host-links      with --tcp-established: save the links of this host that\n"
	"                        carry the connections (addresses, routes), which the\n"
	"                        restore sets up again where they are missing, as after a\n"
	"                        kexec (ferry upgrade does this by itself)\n"
	"      --tcp-close       dump established and half-closed TCP connections as\n"
	"                        closed sockets\n"
	"      --ext-unix-sk     allow unix sockets connected to a peer outside the tree\n"
	"                        (reconnected by name on restore)\n" COMMON_HELP;

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

static int seal_checkpoint(void *ckpt)
{
	return memfs_ckpt_seal(ckpt);
}

/* The tree goes into tree-0 of a new checkpoint, sealed before the tree is released. */
static int dump_to_store(struct dump_opts *opts, const char *spec)
{
	struct memfs_store *s = NULL;
	struct memfs_tree_ref ref = { NULL, 0 };
	struct memfs_ckpt *c = NULL;
	char path[4200];
	int ret;

	ret = memfs_store_ensure(spec);
	if (!ret)
		ret = memfs_store_open(spec, &s);
	if (!ret)
		ret = memfs_ckpt_create(s, &c);
	if (ret)
		goto out;
	ret = memfs_ckpt_tree_dirfd(c, 0);
	if (ret < 0)
		goto out_abort;
	opts->dirfd = ret;
	opts->images_dir = memfs_ckpt_tree_path(c, 0, path, sizeof(path));
	opts->images_done = seal_checkpoint;
	opts->images_done_arg = c;
	ref.c = c;
	opts->pages_digest = memfs_pages_digest;
	opts->pages_digest_arg = &ref;
	ret = dump_tree(opts);
	if (ret)
		goto out_abort;
	printf("%s\n", memfs_ckpt_id(c));
	pr_info("tree %d is checkpoint %s in store %s", opts->pid, memfs_ckpt_id(c), spec);
	goto out;
out_abort:
	memfs_ckpt_abort(c);
out:
	memfs_ckpt_close(c);
	memfs_store_close(s);
	return ret < 0 ? ret : 0;
}

int cmd_dump(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "tree", required_argument, NULL, 't' },
		{ "leave-running", no_argument, NULL, 'R' },
		{ "leave-stopped", no_argument, NULL, OPT_LEAVE_STOPPED },
		{ "shell-job", no_argument, NULL, 'j' },
		{ "store", required_argument, NULL, OPT_STORE },
		{ "external", required_argument, NULL, OPT_EXTERNAL },
		{ "freeze-cgroup", required_argument, NULL, OPT_FREEZE_CGROUP },
		{ "ghost-limit", required_argument, NULL, OPT_GHOST_LIMIT },
		{ "file-locks", no_argument, NULL, OPT_FILE_LOCKS },
		{ "tcp-established", no_argument, NULL, OPT_TCP_ESTABLISHED },
		{ "tcp-close", no_argument, NULL, OPT_TCP_CLOSE },
		{ "host-links", no_argument, NULL, OPT_HOST_LINKS },
		{ "ext-unix-sk", no_argument, NULL, OPT_EXT_UNIX_SK },
		{ NULL, 0, NULL, 0 },
	};
	struct dump_opts opts = { .release = DUMP_KILL, .ghost_limit = DUMP_DEFAULT_GHOST_LIMIT };
	const char *store = NULL;
	bool have_dir = false;
	struct common_opts co;
	int c, ret;

	common_opts_init(&co);
	while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS "t:Rj", longopts, NULL)) != -1) {
		have_dir |= c == 'D';
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
		case OPT_STORE:
			store = optarg;
			break;
		case OPT_EXTERNAL:
			if (net_parse_external(&opts.externals, optarg))
				return cli_usage_error("dump", "--external '%s': " NET_EXTERNAL_HINT,
						       optarg);
			break;
		case OPT_FREEZE_CGROUP:
			opts.freeze_cgroup = optarg;
			break;
		case OPT_GHOST_LIMIT:
			if (cli_parse_size(optarg, &opts.ghost_limit))
				return cli_usage_error("dump", "bad --ghost-limit '%s'", optarg);
			break;
		case OPT_FILE_LOCKS:
			opts.file_locks = true;
			break;
		case OPT_TCP_ESTABLISHED:
			opts.sk_flags |= SK_TCP_ESTABLISHED;
			break;
		case OPT_TCP_CLOSE:
			opts.sk_flags |= SK_TCP_CLOSE;
			break;
		case OPT_HOST_LINKS:
			opts.host_net = true;
			break;
		case OPT_EXT_UNIX_SK:
			opts.sk_flags |= SK_EXT_UNIX;
			break;
		default:
			return cli_usage_error("dump", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("dump", "unexpected argument '%s'", argv[optind]);
	if (!opts.pid)
		return cli_usage_error("dump", "which tree? give its root with -t PID");
	if (store && have_dir)
		return cli_usage_error("dump", "give -D DIR or --store SPEC, not both");
	if (common_opts_apply(&co, !store))
		return 1;
	opts.dirfd = co.images_dirfd;
	opts.images_dir = co.images_dir;
	if (store)
		opts.volatile_files = DUMP_VOLATILE_WARN;
	ret = store ? dump_to_store(&opts, store) : dump_tree(&opts);
	if (ret)
		pr_err("dump of tree %d failed; the tree was left running", opts.pid);
	else
		pr_info("dump of tree %d finished", opts.pid);
	common_opts_release(&co);
	return ret ? 1 : 0;
}
