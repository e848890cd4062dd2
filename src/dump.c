// SPDX-License-Identifier: MIT
/*
 * The dump engine's driver: seizes the tree (pstree.c), collects the state of each task
 * (first what needs syscalls run inside it, then /proc, ptrace and memory), writes the
 * images of doc/images.md (inventory.img and stats-dump last), and releases the tree. On
 * a failure every task is put back as it was and the partial images are removed.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_PREFIX "dump: "
#include "log.h"
#include "image.h"
#include "cgroup.h"
#include "dtask.h"
#include "files.h"
#include "inject.h"
#include "ipc.h"
#include "mm-dump.h"
#include "pages.h"
#include "pstree.h"
#include "proc-parse.h"
#include "seize.h"
#include "seccomp.h"
#include "thread.h"
#include "timens.h"
#include "net.h"
#include "timer.h"
#include "sockets.h"
#include "vma-dump.h"
#include "inventory.pb-c.h"
#include "stats.pb-c.h"

#define TASK_STATE_DEAD 2	/* CRIU's TASK_DEAD: how a zombie is recorded */

struct dump_times {
	uint64_t start, seized, mem_start, mem_end, done;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

/* Everything that needs a syscall run inside the task; it is put back as it was after. */
static int collect_injected(struct dtask *t)
{
	int ret, ret2;

	ret = inject_init(t);
	if (!ret)
		ret = inject_scratch_map(t);
	if (!ret)
		ret = mm_dump_inject(t);
	if (!ret)
		ret = task_dump_inject(t);
	if (!ret)
		ret = timer_dump_posix_inject(t);
	if (!ret)
		ret = sigact_dump_inject(t);
	if (!ret)
		ret = creds_dump_inject(t);
	if (!ret)
		ret = thread_dump_all(t);
	ret2 = inject_scratch_unmap(t);
	ret = ret ?: ret2;
	ret2 = inject_fini(t);
	return ret ?: ret2;
}

static int collect_proc(struct dtask *t)
{
	struct proc_status s;
	struct proc_stat st;
	int ret;

	ret = proc_read_stat(t->pid, &st);
	if (ret)
		return ret;
	ret = proc_read_status(t->pid, &s);
	if (ret)
		goto out_free;
	t->pstree.pid = t->pid;
	t->pstree.pgid = st.pgid;
	t->pstree.sid = st.sid;
	ret = mm_dump(t, &st);
	if (!ret)
		ret = task_dump_core(t, &st);
	if (!ret)
		ret = creds_dump(t, &s);
	if (!ret)
		ret = sigact_dump_pending(t);
	if (!ret)
		ret = files_dump_fds(t);
	if (!ret)
		ret = files_dump_fs(t, s.umask);
	if (!ret)
		ret = cgroup_dump_task(t);
out_free:
	free(s.groups);
	return ret;
}

/* A zombie has only its pstree entry and a core with its state and exit status. */
static void zombie_core(struct dtask *t)
{
	t->tc.task_state = TASK_STATE_DEAD;
	t->tc.exit_code = t->exit_code;
	t->tc.comm = t->comm;
	t->core.mtype = CORE_ENTRY__MARCH__X86_64;
	t->core.tc = &t->tc;
}

static int write_core(struct dtask *t, int dirfd)
{
	int ret;

	if (t->zombie) {
		zombie_core(t);
		return img_write_one(dirfd, IMG_CORE, &t->core.base, t->pid);
	}
	ret = thread_write_images(t, dirfd);
	if (ret)
		return ret;
	t->core.mtype = CORE_ENTRY__MARCH__X86_64;
	t->core.thread_info = t->ti;
	t->core.tc = &t->tc;
	t->core.thread_core = &t->thc;
	ret = img_write_one(dirfd, IMG_CORE, &t->core.base, t->pid);
	if (!ret)
		ret = img_write_one(dirfd, IMG_IDS, &t->ids.base, t->pid);
	if (!ret)
		ret = img_write_one(dirfd, IMG_MM, &t->mm.base, t->pid);
	return ret;
}

static int write_pstree(struct dtree *tr, int dirfd)
{
	struct img *img = img_open(dirfd, IMG_PSTREE, O_WRONLY);
	size_t i;
	int ret = 0;

	if (!img)
		return -EIO;
	for (i = 0; !ret && i < tr->n; i++) {
		PstreeEntry *pe = &tr->tasks[i]->pstree;

		if (!pe->n_threads) {	/* a zombie, or a task with no other thread */
			pe->n_threads = 1;
			pe->threads = (uint32_t *)&pe->pid;
		}
		ret = img_write_pb(img, &pe->base);
	}
	if (img_close(img) && !ret)
		ret = -EIO;
	return ret;
}

static int write_inventory(struct dtask *root, int dirfd)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	inv.img_version = IMG_VERSION_V1_1;
	inv.has_fdinfo_per_id = 1, inv.fdinfo_per_id = 1;
	inv.root_ids = &root->ids;
	inv.has_lsmtype = 1, inv.lsmtype = LSMTYPE__NO_LSM;
	inv.has_dump_uptime = 1;
	inv.dump_uptime = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	return img_write_one(dirfd, IMG_INVENTORY, &inv.base);
}

static int write_stats(struct dtree *tr, int dirfd, const struct dump_times *tm)
{
	DumpStatsEntry ds = DUMP_STATS_ENTRY__INIT;
	StatsEntry st = STATS_ENTRY__INIT;
	size_t i;

	ds.freezing_time = tm->seized - tm->start;
	ds.frozen_time = now_us() - tm->seized;
	ds.memdump_time = tm->mem_end - tm->mem_start;
	for (i = 0; i < tr->n; i++) {
		ds.memwrite_time += tr->tasks[i]->memdump_us;
		ds.pages_scanned += tr->tasks[i]->pages_scanned;
		ds.pages_written += tr->tasks[i]->nr_pages;
	}
	st.dump = &ds;
	return img_write_one(dirfd, IMG_STATS, &st.base, "dump");
}

static void remove_image(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) && errno != ENOENT)
		pr_perror("cannot remove the partial image %s", name);
}

static void remove_images(struct dtree *tr, int dirfd)
{
	static const char *const tree_names[] = { "inventory.img", "pstree.img", "files.img",
						  "stats-dump", "seccomp.img", "timens-1.img",
						  "ipcns-var-1.img",
						  "ipcns-shm-1.img", "ipcns-sem-1.img",
						  "ipcns-msg-1.img", "netdev-1.img",
						  "netns-1.img", "cgroup.img", "pipes-data.img",
						  "fifo-data.img", "file-locks.img",
						  "remap-fpath.img", "memfd.img",
						  "sk-queues.img", "tty-info.img",
						  "tty-data.img" };
	static const char *const task_names[] = { "core-%d.img", "ids-%d.img", "mm-%d.img",
						  "pagemap-%d.img", "fs-%d.img" };
	char name[64];
	size_t i, k;

	for (i = 0; i < sizeof(tree_names) / sizeof(tree_names[0]); i++)
		remove_image(dirfd, tree_names[i]);
	for (k = 0; k < tr->n; k++) {
		struct dtask *t = tr->tasks[k];

		for (i = 0; i < sizeof(task_names) / sizeof(task_names[0]); i++) {
			snprintf(name, sizeof(name), task_names[i], t->pid);
			remove_image(dirfd, name);
		}
		snprintf(name, sizeof(name), "pages-%u.img", PAGES_ID(t));
		remove_image(dirfd, name);
		snprintf(name, sizeof(name), "fdinfo-%u.img", t->ids.files_id);
		remove_image(dirfd, name);
		thread_remove_images(t, dirfd);
	}
	if (tr->n && tr->tasks[0]->fx) {
		ghost_unlink_images(tr->tasks[0], dirfd);
		memfd_unlink_images(tr->tasks[0], dirfd);
	}
}

static int collect_task(struct dtree *tr, struct dtask *t)
{
	int ret;

	ret = seccomp_dump(t, &tr->seccomp);
	if (!ret)
		ret = arch_dump_thread_info(t);
	if (!ret)
		ret = collect_injected(t);
	if (!ret)
		ret = collect_proc(t);
	if (!ret)
		ret = vma_collect(t);
	return ret;
}

/* Unix peers are resolved across the tree once every task's sockets are known. */
static int collect_sockets(struct dtree *tr)
{
	size_t i;

	if (!tr->files.sk)
		return 0;
	for (i = 0; i < tr->n; i++)
		tr->tasks[i]->sk = tr->files.sk;
	return sk_dump_finish(tr->tasks[0]);
}

/* Every task, root first; they share the tree's files (ids global, descriptions shared). */
static int collect(struct dtree *tr, const struct dump_opts *opts)
{
	size_t i;
	int ret;

	tr->files.tasks = tr->tasks;
	tr->files.n_tasks = tr->n;
	tr->files.root_pid = tr->tasks[0]->pid;
	for (i = 0; i < tr->n; i++) {
		tr->tasks[i]->fx = &tr->files;
		tr->tasks[i]->sk_flags = opts->sk_flags;
		tr->tasks[i]->ghost_limit = opts->ghost_limit;
		tr->tasks[i]->file_locks = opts->file_locks;
		tr->tasks[i]->untrusted = opts->check_owner;
		tr->tasks[i]->volatile_files = opts->volatile_files;
	}
	tr->seccomp.owner = tr->tasks[0];
	for (i = 0; i < tr->n; i++) {
		struct dtask *t = tr->tasks[i];

		if (t->zombie)
			continue;
		ret = collect_task(tr, t);
		if (ret) {
			pr_err("cannot dump task %d (%zu of %zu in the tree)", t->pid, i + 1, tr->n);
			return ret;
		}
	}
	return collect_sockets(tr);
}

static int write_task(struct dtask *t, int dirfd)
{
	int ret = 0;

	if (!t->zombie)
		ret = pages_dump(t, dirfd);
	if (!ret)
		ret = write_core(t, dirfd);
	if (!ret && !t->zombie)
		ret = files_write(t, dirfd);
	return ret;
}

static int write_images(struct dtree *tr, int dirfd, const struct dump_opts *opts,
			struct dump_times *tm)
{
	size_t i;
	int ret = 0;

	ret = net_dump_tree(tr->tasks, tr->n, dirfd, &opts->externals);
	/* connections in ferry's namespace, for a kexec: the links they need at boot */
	if (!ret && opts->host_net && !tr->tasks[0]->ids.has_net_ns_id)
		ret = hostnet_dump(tr->files.sk, dirfd);
	if (!ret)
		ret = ipc_dump_tree(tr->tasks, tr->n, dirfd);
	if (!ret)	/* before the cores: it sets their cg_set */
		ret = cgroup_dump_tree(tr->tasks, tr->n, dirfd);
	if (ret)
		return ret;
	tm->mem_start = now_us();
	for (i = 0; !ret && i < tr->n; i++)
		ret = write_task(tr->tasks[i], dirfd);
	tm->mem_end = now_us();
	if (!ret)
		ret = write_pstree(tr, dirfd);
	if (!ret)
		ret = files_write_table(tr->tasks, tr->n, dirfd);
	if (!ret)
		ret = seccomp_write(&tr->seccomp, dirfd);
	if (!ret)
		ret = timens_dump(tr->tasks[0]->pid, dirfd);
	if (!ret)
		ret = write_inventory(tr->tasks[0], dirfd);
	if (!ret)
		ret = write_stats(tr, dirfd, tm);
	return ret;
}

static void log_done(struct dtree *tr, const struct dump_opts *opts, uint64_t start)
{
	uint64_t pages = 0;
	size_t i, files = tr->files.n_files;

	for (i = 0; i < tr->n; i++)
		pages += tr->tasks[i]->nr_pages;
	pr_info("dumped %zu tasks under %d into %s: %lu pages, %zu files, %lu us", tr->n,
		opts->pid, opts->images_dir, pages, files, now_us() - start);
}

/* What every task of the tree takes from the options. */
/* One thread: its uids and gids the owner's, no capability; logged -EPERM if not. */
static int check_thread_owner(pid_t pid, pid_t tid, const struct dump_opts *o)
{
	struct proc_status s;
	int i;

	if (proc_read_status(tid, &s))
		return 0;	/* gone */
	free(s.groups);
	for (i = 0; i < 4; i++)
		if (s.uid[i] != o->owner || s.gid[i] != o->owner_gid) {
			pr_err("task %d (thread %d) runs as uid %u gid %u, not as the caller (uid %u "
			       "gid %u): not dumped", pid, tid, s.uid[i], s.gid[i], o->owner,
			       o->owner_gid);
			return -EPERM;
		}
	if (s.cap_prm || s.cap_eff) {
		pr_err("task %d (thread %d) has capabilities (%#llx): a caller that is not root "
		       "may not dump it", pid, tid, (unsigned long long)(s.cap_prm | s.cap_eff));
		return -EPERM;
	}
	return 0;
}

/* Every thread of pid, then pid is dumpable (its /proc directory is the owner's). */
static int check_task_owner(pid_t pid, const struct dump_opts *o)
{
	char path[64];
	struct dirent *de;
	struct stat st;
	int ret = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d) {
		pr_perror("no process %d", pid);
		return -errno;
	}
	while (!ret && (de = readdir(d)))
		if (de->d_name[0] != '.')
			ret = check_thread_owner(pid, atoi(de->d_name), o);
	closedir(d);
	snprintf(path, sizeof(path), "/proc/%d", pid);
	if (!ret && !stat(path, &st) && st.st_uid != o->owner) {
		pr_err("task %d is not dumpable by uid %u (it changed credentials): not dumped",
		       pid, o->owner);
		ret = -EPERM;
	}
	return ret;
}

/* Before anything is stopped: the root and every task below it now. */
static int precheck_owners(const struct dump_opts *o)
{
	size_t n = 1, cap = 1, i;
	pid_t *pids = malloc(sizeof(*pids));
	int ret = 0;

	if (!pids)
		return -ENOMEM;
	pids[0] = o->pid;
	for (i = 0; !ret && i < n; i++) {
		ret = check_task_owner(pids[i], o);
		if (!ret && proc_read_children(pids[i], pids[i], true, &pids, &n, &cap) == -ENOMEM)
			ret = -ENOMEM;
	}
	free(pids);
	return ret;
}

/* Seized, so no task can change its credentials or fork any more: check every one. */
static int check_owners(struct dtree *tr, const struct dump_opts *opts)
{
	size_t i;
	int ret = 0;

	for (i = 0; opts->check_owner && !ret && i < tr->n; i++)
		if (!tr->tasks[i]->zombie)
			ret = check_task_owner(tr->tasks[i]->pid, opts);
	return ret;
}

static void set_task_opts(struct dtree *tr, const struct dump_opts *opts)
{
	size_t i;

	for (i = 0; i < tr->n; i++) {
		tr->tasks[i]->pages_digest = opts->pages_digest;
		tr->tasks[i]->pages_digest_arg = opts->pages_digest_arg;
	}
}

int dump_tree(const struct dump_opts *opts)
{
	struct dump_times tm = { .start = now_us() };
	struct dtree tr = { 0 };
	struct freezer fz = { 0 };
	int ret;

	/* not even a stop for a tree that is not the caller's */
	if (opts->check_owner) {
		ret = precheck_owners(opts);
		if (ret)
			return ret;
	}
	if (opts->freeze_cgroup) {
		ret = freezer_freeze(&fz, opts->freeze_cgroup, opts->pid);
		if (ret)
			return ret;
	}
	ret = pstree_seize(&tr, opts->pid, opts->shell_job);
	if (!ret)
		ret = check_owners(&tr, opts);
	if (!ret)	/* ptrace holds every task now; injected code must run */
		ret = freezer_thaw(&fz);
	if (ret)
		goto out_abort;
	set_task_opts(&tr, opts);
	tm.seized = now_us();
	ret = collect(&tr, opts);
	if (!ret)
		ret = pstree_check(&tr);
	if (!ret && opts->dry_run)	/* the namespace's refusals, nothing written */
		ret = net_dump_tree(tr.tasks, tr.n, -1, &opts->externals);
	if (ret || opts->dry_run)
		goto out_abort; /* a dry run (ferry upgrade's pre-flight) resumes it here */
	ret = write_images(&tr, opts->dirfd, opts, &tm);
	if (!ret && opts->images_done)
		ret = opts->images_done(opts->images_done_arg);
	if (ret)
		goto out_remove;
	freezer_put_back(&fz);
	if (opts->tcp_hold)	/* the caller releases them once the tree is killed or resumed */
		sk_tcp_hand_over(tr.tasks[0], opts->tcp_hold);
	else if (opts->release != DUMP_KILL)
		sk_dump_fini(tr.tasks[0], false);
	ret = pstree_release(&tr, opts->release);
	if (opts->release == DUMP_KILL && !opts->tcp_hold)
		sk_dump_fini(tr.tasks[0], true);
	log_done(&tr, opts, tm.start);
	pstree_free(&tr);
	return ret;

out_remove:
	remove_images(&tr, opts->dirfd);
	if (tr.n)
		sk_dump_remove_images(tr.tasks[0], opts->dirfd);
out_abort:
	freezer_put_back(&fz);
	if (tr.n)
		sk_dump_fini(tr.tasks[0], false);
	pstree_abort(&tr);
	pstree_free(&tr);
	return ret;
}
