// SPDX-License-Identifier: MIT
/*
 * The dump engine's driver: checks and seizes the task, collects its state (first what
 * needs syscalls run inside it, then /proc, ptrace and memory), writes the images of
 * doc/images.md (inventory.img and stats-dump last), and releases the task. On a failure
 * the task is put back as it was and the partial images are removed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "dump: "
#include "log.h"
#include "image.h"
#include "dtask.h"
#include "files.h"
#include "inject.h"
#include "mm-dump.h"
#include "pages.h"
#include "seize.h"
#include "vma-dump.h"
#include "inventory.pb-c.h"
#include "stats.pb-c.h"

struct dump_times {
	uint64_t start, seized, mem_start, mem_end, done;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

static void dtask_init(struct dtask *t, pid_t pid)
{
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	core_entry__init(&t->core);
	task_core_entry__init(&t->tc);
	thread_core_entry__init(&t->thc);
	task_kobj_ids_entry__init(&t->ids);
	mm_entry__init(&t->mm);
	fs_entry__init(&t->fs);
	pstree_entry__init(&t->pstree);
	t->ids.vm_id = t->ids.files_id = t->ids.fs_id = t->ids.sighand_id = 1;
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
		ret = sigact_dump_inject(t);
	if (!ret)
		ret = creds_dump_inject(t);
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
	if (s.seccomp) {
		pr_err("process %d runs under seccomp (mode %d): not supported yet", t->pid,
		       s.seccomp);
		ret = -EOPNOTSUPP;
		goto out_free;
	}
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
out_free:
	free(s.groups);
	return ret;
}

static int write_core(struct dtask *t, int dirfd)
{
	int ret;

	t->pstree.n_threads = 1;
	t->pstree.threads = (uint32_t *)&t->pstree.pid;
	t->core.mtype = CORE_ENTRY__MARCH__X86_64;
	t->core.thread_info = t->ti;
	t->core.tc = &t->tc;
	t->core.thread_core = &t->thc;
	ret = img_write_one(dirfd, IMG_PSTREE, &t->pstree.base);
	if (!ret)
		ret = img_write_one(dirfd, IMG_CORE, &t->core.base, t->pid);
	if (!ret)
		ret = img_write_one(dirfd, IMG_IDS, &t->ids.base, t->pid);
	if (!ret)
		ret = img_write_one(dirfd, IMG_MM, &t->mm.base, t->pid);
	return ret;
}

static int write_inventory(struct dtask *t, int dirfd)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	inv.img_version = IMG_VERSION_V1_1;
	inv.has_fdinfo_per_id = 1, inv.fdinfo_per_id = 1;
	inv.root_ids = &t->ids;
	inv.has_lsmtype = 1, inv.lsmtype = LSMTYPE__NO_LSM;
	inv.has_dump_uptime = 1;
	inv.dump_uptime = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	return img_write_one(dirfd, IMG_INVENTORY, &inv.base);
}

static int write_stats(struct dtask *t, int dirfd, const struct dump_times *tm)
{
	DumpStatsEntry ds = DUMP_STATS_ENTRY__INIT;
	StatsEntry st = STATS_ENTRY__INIT;

	ds.freezing_time = tm->seized - tm->start;
	ds.frozen_time = now_us() - tm->seized;
	ds.memdump_time = tm->mem_end - tm->mem_start;
	ds.memwrite_time = t->memdump_us;
	ds.pages_scanned = t->pages_scanned;
	ds.pages_written = t->nr_pages;
	st.dump = &ds;
	return img_write_one(dirfd, IMG_STATS, &st.base, "dump");
}

static void remove_images(struct dtask *t, int dirfd)
{
	char names[][32] = { "inventory.img", "pstree.img", "files.img", "stats-dump",
			     "pages-1.img", "fdinfo-1.img", "core-%d.img", "ids-%d.img",
			     "mm-%d.img", "pagemap-%d.img", "fs-%d.img", "pipes-data.img",
			     "fifo-data.img", "file-locks.img", "tty-info.img",
			     "tty-data.img" };
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(name, sizeof(name), names[i], t->pid);
		if (unlinkat(dirfd, name, 0) && errno != ENOENT)
			pr_perror("cannot remove the partial image %s", name);
	}
	ghost_unlink_images(t, dirfd);
	memfd_unlink_images(t, dirfd);
}

static int collect(struct dtask *t)
{
	int ret;

	ret = arch_dump_thread_info(t);
	if (!ret)
		ret = collect_injected(t);
	if (!ret)
		ret = collect_proc(t);
	if (!ret)
		ret = vma_collect(t);
	return ret;
}

static int write_images(struct dtask *t, int dirfd, struct dump_times *tm)
{
	int ret;

	tm->mem_start = now_us();
	ret = pages_dump(t, dirfd);
	tm->mem_end = now_us();
	if (!ret)
		ret = write_core(t, dirfd);
	if (!ret)
		ret = files_write(t, dirfd);
	if (!ret)
		ret = write_inventory(t, dirfd);
	if (!ret)
		ret = write_stats(t, dirfd, tm);
	return ret;
}

int dump_tree(const struct dump_opts *opts)
{
	struct dump_times tm = { .start = now_us() };
	struct dtask t;
	int ret;

	dtask_init(&t, opts->pid);
	t.shell_job = opts->shell_job;
	t.ghost_limit = opts->ghost_limit;
	t.file_locks = opts->file_locks;
	ret = seize_check(t.pid);
	if (ret)
		return ret;
	ret = seize_task(&t);
	if (ret)
		goto out_abort;
	tm.seized = now_us();
	ret = collect(&t);
	if (ret)
		goto out_abort;
	ret = write_images(&t, opts->dirfd, &tm);
	if (ret)
		goto out_remove;
	ret = seize_release(&t, opts->release);
	pr_info("dumped %d into %s: %lu pages, %zu files, %lu us", t.pid, opts->images_dir,
		t.nr_pages, t.n_files, now_us() - tm.start);
	dtask_release(&t);
	return ret;

out_remove:
	remove_images(&t, opts->dirfd);
out_abort:
	seize_abort(&t);
	dtask_release(&t);
	return ret;
}
