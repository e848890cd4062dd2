// SPDX-License-Identifier: MIT
/*
 * `ferry upgrade`: pre-flight (store present and large enough, next kernel loaded with
 * kexec -l, every tree dumpable: a dry run that resumes it), then every tree is dumped
 * and left stopped, the checkpoint sealed, the trees killed, the store closed, sync and
 * kexec -e. Until the kill, any failure resumes every tree (SIGCONT) and unloads the kernel.
 * Progress goes to stdout as "upgrade: STAGE ..." lines with CLOCK_REALTIME stamps.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include "log.h"
#include "dump.h"
#include "memfs.h"
#include "kexec.h"

#define MIB (1024.0 * 1024.0)
#define TASK_SLACK (1ULL << 20)	  /* per task: core, fds, pagemap entries */
#define STORE_SLACK (8ULL << 20) /* per checkpoint: manifest, directories, fs blocks */

struct upgrade {
	const struct upgrade_opts *o;
	struct memfs_store *store;
	struct memfs_ckpt *ckpt;
	unsigned int stopped;	/* trees 0..stopped-1 are dumped and stopped */
	struct tcp_hold held[MEMFS_MAX_TREES];	/* their TCP connections, in repair */
	bool loaded;
	char cmdline[KEXEC_CMDLINE_MAX];
};

static void stage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void stage(const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	printf("upgrade: %ld.%03ld ", (long)ts.tv_sec, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* Call fn(pid, arg) for every task of the tree rooted at root (children, recursively). */
static int for_each_task(pid_t root, int (*fn)(pid_t, void *), void *arg)
{
	char path[320], buf[4096];
	struct dirent *de;
	FILE *f;
	DIR *d;
	int ret;

	ret = fn(root, arg);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "/proc/%d/task", root);
	d = opendir(path);
	if (!d)
		return 0; /* gone: nothing below it */
	while (!ret && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/children", root, de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (!ret && fscanf(f, "%4095s", buf) == 1)
			ret = for_each_task(atoi(buf), fn, arg);
		fclose(f);
	}
	closedir(d);
	return ret;
}

static int add_rss(pid_t pid, void *arg)
{
	uint64_t *bytes = arg, kb;
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	f = fopen(path, "re");
	if (!f) {
		pr_perror("cannot read %s", path);
		return -ESRCH;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Rss: %" SCNu64 " kB", &kb) == 1)
			*bytes += kb * 1024;
	fclose(f);
	*bytes += TASK_SLACK;
	return 0;
}

static int send_signal(pid_t pid, void *arg)
{
	if (kill(pid, *(int *)arg) && errno != ESRCH)
		pr_perror("cannot send signal %d to %d", *(int *)arg, pid);
	return 0;
}

static void signal_trees(struct upgrade *u, unsigned int n, int sig)
{
	for (unsigned int i = 0; i < n; i++)
		for_each_task(u->o->trees[i], send_signal, &sig);
}

/* A store on tmpfs or ramfs is RAM the next kernel does not get back. */
static bool store_survives_kexec(struct memfs_store *s)
{
	struct statfs st;

	if (statfs(memfs_store_root(s), &st))
		return true; /* memfs checks the store itself; do not guess */
	return st.f_type != TMPFS_MAGIC && st.f_type != RAMFS_MAGIC;
}

static int preflight_store(struct upgrade *u)
{
	const char *spec = u->o->store ? u->o->store : MEMFS_DEFAULT_SPEC;
	uint64_t need = STORE_SLACK, avail = 0;
	int ret;

	ret = memfs_store_open(spec, &u->store);
	if (ret)
		return ret; /* memfs said why */
	for (unsigned int i = 0; i < u->o->ntrees; i++) {
		ret = for_each_task(u->o->trees[i], add_rss, &need);
		if (ret) {
			pr_err("tree %d: cannot size its memory", u->o->trees[i]);
			return ret;
		}
	}
	ret = memfs_store_free_bytes(u->store, &avail);
	if (ret)
		return ret;
	if (avail < need) {
		pr_err("store %s has %.1f MiB free, the trees need about %.1f MiB: nothing was touched",
		       spec, avail / MIB, need / MIB);
		return -ENOSPC;
	}
	if (!store_survives_kexec(u->store)) {
		if (!u->o->dry_run) {
			pr_err("store %s is on tmpfs: it would not survive kexec (use a pmem: store)",
			       spec);
			return -EINVAL;
		}
		pr_warn("store %s is on tmpfs: a real upgrade would refuse it", spec);
	}
	stage("store %s: %.1f MiB free, trees need about %.1f MiB", memfs_store_spec(u->store),
	      avail / MIB, need / MIB);
	return 0;
}

static int preflight_kernel(struct upgrade *u)
{
	char cur[KEXEC_CMDLINE_MAX];
	const char *spec = memfs_store_spec(u->store);
	int ret;

	ret = kexec_cmdline_current(cur, sizeof(cur));
	if (!ret)
		ret = kexec_cmdline_build(cur, spec, u->o->append, u->cmdline, sizeof(u->cmdline));
	if (ret) {
		pr_err("cannot build the next kernel's command line: %s", strerror(-ret));
		return ret;
	}
	if (!strncmp(spec, "pmem:", 5) && !strstr(u->cmdline, "memmap="))
		pr_warn("no memmap= on the command line: %s must be a real NVDIMM or virtio-pmem",
			spec);
	ret = kexec_load(u->o->kernel, u->o->initrd, u->cmdline);
	if (ret) {
		pr_err("cannot load %s with kexec: nothing was touched", u->o->kernel);
		return ret;
	}
	u->loaded = true;
	stage("kernel %s loaded: %s", u->o->kernel, u->cmdline);
	return 0;
}

/* What the dry run and the dump share: the options given for every tree. */
static void set_dump_opts(const struct upgrade *u, struct dump_opts *d)
{
	d->externals = u->o->externals;
	d->ghost_limit = u->o->ghost_limit;
	d->file_locks = u->o->file_locks;
	d->sk_flags = u->o->sk_flags;
	/* the next kernel's initramfs has no network: the connections' links go along */
	d->host_net = true;
	/* the restore runs in the next kernel: what lives only in this boot's memory refuses */
	d->volatile_files = DUMP_VOLATILE_REFUSE;
}

static int preflight_trees(struct upgrade *u)
{
	struct dump_opts d = { .release = DUMP_LEAVE_RUNNING, .dry_run = true, .dirfd = -1 };
	int ret;

	set_dump_opts(u, &d);
	for (unsigned int i = 0; i < u->o->ntrees; i++) {
		d.pid = u->o->trees[i];
		d.images_dir = "(dry run)";
		ret = dump_tree(&d);
		if (ret) {
			pr_err("tree %d cannot be dumped: nothing was touched", d.pid);
			return ret;
		}
	}
	stage("%u tree(s) dumpable", u->o->ntrees);
	return 0;
}

static int dump_trees(struct upgrade *u)
{
	struct dump_opts d = { .release = DUMP_LEAVE_STOPPED, .pages_digest = memfs_pages_digest };
	struct memfs_tree_ref ref;
	char path[4200];
	int ret;

	set_dump_opts(u, &d);
	ret = memfs_ckpt_create(u->store, &u->ckpt);
	if (ret)
		return ret;
	stage("freeze: dumping %u tree(s) into checkpoint %s", u->o->ntrees,
	      memfs_ckpt_id(u->ckpt));
	for (unsigned int i = 0; i < u->o->ntrees; i++) {
		ret = memfs_ckpt_tree_dirfd(u->ckpt, i);
		if (ret < 0)
			return ret;
		d.pid = u->o->trees[i];
		d.dirfd = ret;
		ref = (struct memfs_tree_ref){ .c = u->ckpt, .tree = i };
		d.pages_digest_arg = &ref; /* hashed while copied: the seal does not reread them */
		d.images_dir = memfs_ckpt_tree_path(u->ckpt, i, path, sizeof(path));
		/* killed later, with the others: until then in repair and locked */
		d.tcp_hold = &u->held[i];
		ret = dump_tree(&d);
		if (ret) {
			tcp_hold_release(&u->held[i], false);	/* if it got that far */
			pr_err("dump of tree %d failed", d.pid);
			return ret;
		}
		u->stopped = i + 1;
	}
	ret = memfs_ckpt_seal(u->ckpt);
	if (ret)
		return ret;
	stage("dump done: checkpoint %s sealed", memfs_ckpt_id(u->ckpt));
	return 0;
}

/* The dumped trees' connections: out of repair and unlocked (resume), or closed (killed). */
static void release_connections(struct upgrade *u, bool killed)
{
	for (unsigned int i = 0; i < u->stopped; i++)
		tcp_hold_release(&u->held[i], killed);
}

/* Before the kill: everything back as it was. */
static void rollback(struct upgrade *u)
{
	release_connections(u, false);
	signal_trees(u, u->stopped, SIGCONT);
	if (u->ckpt) {
		memfs_ckpt_abort(u->ckpt);
		memfs_ckpt_close(u->ckpt);
		u->ckpt = NULL;
	}
	if (u->loaded && kexec_unload())
		pr_err("the next kernel stays loaded: unload it with kexec -u");
	if (u->stopped)
		pr_err("the %u dumped tree(s) were resumed", u->stopped);
}

static int finish_dry_run(struct upgrade *u)
{
	char id[MEMFS_ID_MAX];

	snprintf(id, sizeof(id), "%s", memfs_ckpt_id(u->ckpt));
	release_connections(u, false);
	signal_trees(u, u->stopped, SIGCONT);
	memfs_ckpt_close(u->ckpt);
	u->ckpt = NULL;
	if (memfs_store_rm(u->store, id))
		pr_warn("dry run: checkpoint %s is left in the store", id);
	if (kexec_unload())
		return -EIO;
	stage("dry run done: trees resumed, checkpoint %s removed, kernel unloaded", id);
	return 0;
}

int upgrade_run(const struct upgrade_opts *o)
{
	struct upgrade u = { .o = o };
	int ret;

	stage("pre-flight: %u tree(s), kernel %s", o->ntrees, o->kernel);
	ret = preflight_store(&u);
	if (!ret)
		ret = preflight_kernel(&u);
	if (!ret)
		ret = preflight_trees(&u);
	if (!ret)
		ret = dump_trees(&u);
	if (ret) {
		rollback(&u);
		goto out;
	}
	if (o->dry_run) {
		ret = finish_dry_run(&u);
		goto out;
	}
	signal_trees(&u, u.stopped, SIGKILL);
	release_connections(&u, true);	/* silently: the lock holds until the restore */
	memfs_ckpt_close(u.ckpt);
	u.ckpt = NULL;
	memfs_store_close(u.store);
	u.store = NULL;
	stage("kexec -e: the trees are in the store; see you in the next kernel");
	ret = kexec_exec();
	/* the trees are gone but sealed in the store: restore them here by hand */
	pr_err("restore the trees with: ferry restore --store %s",
	       o->store ? o->store : MEMFS_DEFAULT_SPEC);
out:
	memfs_ckpt_close(u.ckpt);
	memfs_store_close(u.store);
	return ret;
}
