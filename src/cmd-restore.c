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
#include "memfs.h"
#include "guard.h"

enum { OPT_LEAVE_STOPPED = 1000, OPT_PIDFILE, OPT_TIMENS, OPT_STORE, OPT_CHECKPOINT, OPT_ROOT,
       OPT_EXTERNAL, OPT_MANAGE_CGROUPS, OPT_TCP_ESTABLISHED, OPT_TCP_CLOSE, OPT_EXT_UNIX_SK, OPT_GUARD,
       OPT_GUARD_INIT, OPT_GUARD_TIMEOUT, OPT_GUARD_LOG };

static const char restore_help[] =
	"Usage: ferry restore [-D DIR | --store SPEC [--checkpoint ID]] [OPTIONS]\n\n"
	"Restore the process tree saved in DIR with its original PIDs. Without -d, ferry\n"
	"waits for the restored root and exits with its exit status (128+N if it was killed\n"
	"by signal N). If the restore fails, everything created is killed and the images are\n"
	"left as they were.\n\n"
	"With --store, every tree of a checkpoint is restored: the newest one, which must be\n"
	"sealed, or the one named with --checkpoint (which may also be a failed one, for a\n"
	"retry). Its images are verified against their checksums first; the checkpoint is\n"
	"marked restoring, then restored or failed.\n\n"
	"Options:\n"
	"      --store SPEC        restore from the image store SPEC (see ferry store --help)\n"
	"      --checkpoint ID     which checkpoint of the store (default: the newest)\n"
	"      --root DIR          the tasks' \"/\" is DIR: the images' paths are resolved\n"
	"                          below it (a real root mounted in the initramfs)\n"
	"  -d, --restore-detached  return as soon as the tree runs\n"
	"      --leave-stopped     leave the restored tree stopped (SIGSTOP)\n"
	"  -j, --shell-job         the tree was a shell job on a terminal\n"
	"      --pidfile FILE      write the PID of the restored root to FILE (one line per\n"
	"                          tree with --store)\n"
	"      --timens MODE       auto (default): when the images come from another boot\n"
	"                          (a kexec), restore into a new time namespace whose\n"
	"                          CLOCK_MONOTONIC and CLOCK_BOOTTIME go on from the dumped\n"
	"                          values, so they never go backwards; on: always; off: never\n"
	"      --external veth[IFNAME]:HOSTNAME\n"
	"                          the tree's network namespace is recreated with its veth\n"
	"                          IFNAME; its host end, in ours, is named HOSTNAME (default:\n"
	"                          the name given at dump). It is created down, without\n"
	"                          addresses: the host configures it\n"
	"      --manage-cgroups MODE  soft (default): each task goes back into its dumped\n"
	"                          cgroup v2, created (empty of limits) when missing; strict:\n"
	"                          a missing cgroup fails the restore; ignore: the tree stays\n"
	"                          in ferry's cgroup\n"
	"      --switch-root-guard for a restore in a systemd initrd (the boot hook passes it):\n"
	"                          a guard process, @ferry-guard, holds the restored trees\n"
	"                          with ptrace until PID 1 has switched to the real root and\n"
	"                          drops the signals PID 1 sends them on the way (SIGTERM,\n"
	"                          SIGHUP, SIGCONT); then it stops again what was stopped and\n"
	"                          lets them go. ferry returns once the guard holds them all;\n"
	"                          the guard logs to the kernel log\n"
	"      --guard-init PID    the process whose signals the guard drops and whose change\n"
	"                          of root ends it (default 1)\n"
	"      --guard-timeout SEC no switch of root after SEC seconds: the guard lets go\n"
	"                          anyway (default 300)\n"
	"      --guard-log FILE    the guard's log instead of the kernel log\n"

	"      --tcp-established   accepted for CRIU compatibility: connections saved with\n"
	"                          dump --tcp-established are always restored\n"
	"      --tcp-close         accepted for CRIU compatibility (see dump --tcp-close)\n"
	"      --ext-unix-sk       accepted for CRIU compatibility (see dump --ext-unix-sk)\n"
	COMMON_HELP;

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

/* A later tree failed: the trees restored before it go too (their roots are ours). */
static void kill_roots(const pid_t *roots, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		kill(roots[i], SIGKILL);
		waitpid(roots[i], NULL, 0);
	}
}

static int restore_trees(struct memfs_ckpt *c, struct restore_opts *opts,
			 const struct guard_opts *guard, pid_t *roots)
{
	unsigned int n = memfs_ckpt_ntrees(c);
	char path[4200], note[96];
	int ret = 0;

	for (unsigned int t = 0; t < n; t++) {
		ret = memfs_ckpt_tree_dirfd(c, t);
		if (ret >= 0) {
			opts->dirfd = ret;
			opts->images_dir = memfs_ckpt_tree_path(c, t, path, sizeof(path));
			ret = restore_tree(opts, &roots[t]);
		}
		if (ret) {
			kill_roots(roots, t);
			snprintf(note, sizeof(note), "restore of tree %u failed (see its log)", t);
			memfs_ckpt_set_state(c, MEMFS_FAILED, note);
			pr_err("restore of tree %u of checkpoint %s failed; checkpoint marked failed, "
			       "images intact (retry: ferry restore --store SPEC --checkpoint %s)",
			       t, memfs_ckpt_id(c), memfs_ckpt_id(c));
			return ret;
		}
	}
	/* unguarded, the trees would die at the switch of root: the checkpoint is kept */
	if (guard && guard_start(roots, n, guard)) {
		kill_roots(roots, n);
		memfs_ckpt_set_state(c, MEMFS_FAILED, "the switch-root guard failed");
		pr_err("the trees of checkpoint %s are killed: without the guard they would not "
		       "outlive the switch of root; checkpoint marked failed, images intact",
		       memfs_ckpt_id(c));
		return -EIO;
	}
	return memfs_ckpt_set_state(c, MEMFS_RESTORED, NULL) ? -EIO : 0;
}

/* Restore every tree of a checkpoint; *n roots in roots[] (MEMFS_MAX_TREES). */
static int restore_from_store(struct restore_opts *opts, const struct guard_opts *guard,
			      const char *spec, const char *id, pid_t *roots, unsigned int *n)
{
	struct memfs_store *s = NULL;
	struct memfs_ckpt *c = NULL;
	int ret;

	ret = memfs_store_open(spec, &s);
	if (!ret)
		ret = memfs_ckpt_open(s, id, &c);
	if (!ret)
		ret = memfs_ckpt_set_state(c, MEMFS_RESTORING, NULL);
	if (!ret) {
		*n = memfs_ckpt_ntrees(c);
		ret = restore_trees(c, opts, guard, roots);
		if (!ret)
			pr_info("checkpoint %s restored: %u trees", memfs_ckpt_id(c), *n);
	}
	memfs_ckpt_close(c);
	memfs_store_close(s);
	return ret;
}

static int restore_dir(struct restore_opts *opts, const struct guard_opts *guard, pid_t *root)
{
	int ret = restore_tree(opts, root);

	if (!ret && guard && guard_start(root, 1, guard)) {
		kill_roots(root, 1);
		pr_err("the restored tree is killed: without the guard it would not outlive the "
		       "switch of root");
		ret = -EIO;
	}
	return ret;
}

static int parse_guard_number(int opt, const char *s, struct guard_opts *o)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > INT32_MAX)
		return -1;
	if (opt == OPT_GUARD_INIT)
		o->init = v;
	else
		o->timeout = v;
	return 0;
}

static int wait_roots(const pid_t *roots, unsigned int n)
{
	int ret = 0, st;

	for (unsigned int i = 0; i < n; i++) {
		st = wait_root(roots[i]);
		if (i == 0)
			ret = st;
	}
	return ret;
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
		{ "store", required_argument, NULL, OPT_STORE },
		{ "checkpoint", required_argument, NULL, OPT_CHECKPOINT },
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "external", required_argument, NULL, OPT_EXTERNAL },
		{ "manage-cgroups", required_argument, NULL, OPT_MANAGE_CGROUPS },
		{ "tcp-established", no_argument, NULL, OPT_TCP_ESTABLISHED },
		{ "tcp-close", no_argument, NULL, OPT_TCP_CLOSE },
		{ "ext-unix-sk", no_argument, NULL, OPT_EXT_UNIX_SK },
		{ "switch-root-guard", no_argument, NULL, OPT_GUARD },
		{ "guard-init", required_argument, NULL, OPT_GUARD_INIT },
		{ "guard-timeout", required_argument, NULL, OPT_GUARD_TIMEOUT },
		{ "guard-log", required_argument, NULL, OPT_GUARD_LOG },
		{ NULL, 0, NULL, 0 },
	};
	static pid_t roots[MEMFS_MAX_TREES];
	struct guard_opts gopts = { .init = 1, .timeout = GUARD_TIMEOUT_DEFAULT };
	struct restore_opts opts = { 0 };
	const char *store = NULL, *ckpt = NULL;
	bool guard = false, guard_set = false;
	unsigned int nroots = 1;
	bool have_dir = false;
	struct common_opts co;
	int c, ret;

	common_opts_init(&co);
	while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS "dj", longopts, NULL)) != -1) {
		have_dir |= c == 'D';
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
		case OPT_ROOT:
			opts.root = optarg;
			break;
		case OPT_EXTERNAL:
			if (net_parse_external(&opts.externals, optarg))
				return cli_usage_error("restore", "--external '%s': " NET_EXTERNAL_HINT,
						       optarg);
			break;
		case OPT_MANAGE_CGROUPS:
			if (cgroup_parse_mode(optarg, &opts.cgroups))
				return cli_usage_error("restore", "--manage-cgroups takes soft, strict "
						       "or ignore, not '%s'", optarg);
			break;
		case OPT_STORE:
			store = optarg;
			break;
		case OPT_CHECKPOINT:
			ckpt = optarg;
			break;
		case OPT_GUARD:
			guard = true;
			break;
		case OPT_GUARD_INIT:
		case OPT_GUARD_TIMEOUT:
			guard_set = true;
			if (parse_guard_number(c, optarg, &gopts))
				return cli_usage_error("restore", "--guard-%s takes a positive number, "
						       "not '%s'", c == OPT_GUARD_INIT ? "init" :
						       "timeout", optarg);
			break;
		case OPT_GUARD_LOG:
			guard_set = true;
			gopts.log = optarg;
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
	if (store && have_dir)
		return cli_usage_error("restore", "give -D DIR or --store SPEC, not both");
	if (ckpt && !store)
		return cli_usage_error("restore", "--checkpoint needs --store SPEC");
	if (guard_set && !guard)
		return cli_usage_error("restore", "--guard-init, --guard-timeout and --guard-log "
				       "go with --switch-root-guard");
	if (common_opts_apply(&co, false))
		return 1;
	opts.dirfd = co.images_dirfd;
	opts.images_dir = co.images_dir;
	if (store)
		ret = restore_from_store(&opts, guard ? &gopts : NULL, store, ckpt, roots, &nroots);
	else
		ret = restore_dir(&opts, guard ? &gopts : NULL, &roots[0]);
	if (ret) {
		pr_err("restore from %s failed; the images are unchanged", store ? store : co.images_dir);
		common_opts_release(&co);
		return 1;
	}
	pr_info("restored tree, root PID %d", roots[0]);
	if (opts.pidfile && cli_write_pidfile(opts.pidfile, roots, nroots))
		ret = 1;
	if (!opts.detach)
		ret = wait_roots(roots, nroots);
	common_opts_release(&co);
	return ret;
}
