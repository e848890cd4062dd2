// SPDX-License-Identifier: MIT
/*
 * memfs checkpoints: create (WRITING), per-tree image directories, seal (checksums,
 * syncfs, SEALED), abort, open for restore (state and checksums verified first), and the
 * state changes of a restore. See the lifecycle in memfs.h.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "memfs: "
#include "log.h"
#include "internal.h"

static const char *const state_names[] = {
	[0] = "unreadable",	     [MEMFS_WRITING] = "writing",
	[MEMFS_SEALED] = "sealed",   [MEMFS_RESTORING] = "restoring",
	[MEMFS_RESTORED] = "restored", [MEMFS_FAILED] = "failed",
};

const char *memfs_state_name(enum memfs_state st)
{
	if ((unsigned int)st > MEMFS_FAILED)
		return "invalid";
	return state_names[st];
}

static void read_boot_id(char *buf, size_t len)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	buf[0] = '\0';
	if (f) {
		if (!fgets(buf, len, f))
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
}

static void fill_origin(struct memfs_manifest *m)
{
	struct utsname u;

	if (!uname(&u)) {
		snprintf(m->kernel, sizeof(m->kernel), "%s", u.release);
		snprintf(m->hostname, sizeof(m->hostname), "%s", u.nodename);
	}
	read_boot_id(m->boot_id, sizeof(m->boot_id));
	m->created_ns = memfs_now_ns();
	m->updated_ns = m->created_ns;
}

/* A new id: UTC creation time, then 16 random bits (two dumps in one second differ). */
static void make_id(const struct memfs_manifest *m, char *id)
{
	time_t t = m->created_ns / 1000000000ULL;
	uint16_t rnd = 0;
	struct tm tm;

	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint16_t)(m->created_ns ^ getpid());
	gmtime_r(&t, &tm);
	strftime(id, 32, "%Y%m%d-%H%M%S", &tm);
	snprintf(id + strlen(id), 8, "-%04x", rnd);
}

static struct memfs_ckpt *ckpt_alloc(struct memfs_store *s)
{
	struct memfs_ckpt *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->s = s;
	c->dirfd = -1;
	return c;
}

static int ckpt_mkdir(struct memfs_ckpt *c)
{
	char name[MEMFS_ID_MAX + 8];
	int tries;

	for (tries = 0; tries < 16; tries++) {
		make_id(&c->m, c->m.id);
		snprintf(name, sizeof(name), "ckpt-%s", c->m.id);
		if (!mkdirat(c->s->rootfd, name, 0700))
			break;
		if (errno != EEXIST || tries == 15) {
			pr_perror("cannot create checkpoint %s in store %s", name, c->s->spec);
			return -errno;
		}
	}
	c->dirfd = openat(c->s->rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->dirfd < 0) {
		pr_perror("cannot open checkpoint %s in store %s", name, c->s->spec);
		return -errno;
	}
	return 0;
}

/* One ferry at a time per checkpoint: its dump, its restore, its removal. */
int memfs_ckpt_lock(int dirfd, const char *id)
{
	if (!flock(dirfd, LOCK_EX | LOCK_NB))
		return 0;
	if (errno == EWOULDBLOCK) {
		pr_err("checkpoint %s is in use by another ferry (a dump or restore of it is "
		       "running)",
		       id);
		return -EBUSY;
	}
	pr_perror("cannot lock checkpoint %s", id);
	return -errno;
}

int memfs_ckpt_create(struct memfs_store *s, struct memfs_ckpt **out)
{
	struct memfs_ckpt *c = ckpt_alloc(s);
	int ret;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	fill_origin(&c->m);
	c->m.state = MEMFS_WRITING;
	ret = ckpt_mkdir(c);
	if (!ret)
		ret = memfs_ckpt_lock(c->dirfd, c->m.id);
	if (!ret)
		ret = memfs_manifest_write(c->dirfd, &c->m);
	if (ret) {
		if (c->dirfd >= 0)
			memfs_ckpt_abort(c);
		memfs_ckpt_close(c);
		return ret;
	}
	pr_info("checkpoint %s created in %s", c->m.id, s->spec);
	*out = c;
	return 0;
}

static int grow_fds(struct memfs_ckpt *c, unsigned int tree)
{
	unsigned int n = tree + 1;
	int *fds;

	if (tree < c->ntrees_alloc)
		return 0;
	fds = realloc(c->tree_fds, n * sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	for (unsigned int i = c->ntrees_alloc; i < n; i++)
		fds[i] = -1;
	c->tree_fds = fds;
	c->ntrees_alloc = n;
	return 0;
}

int memfs_ckpt_tree_dirfd(struct memfs_ckpt *c, unsigned int tree)
{
	bool writing = c->m.state == MEMFS_WRITING;
	char name[32];
	int fd;

	if (tree >= MEMFS_MAX_TREES || tree > c->m.ntrees || (!writing && tree >= c->m.ntrees)) {
		pr_err("checkpoint %s has no tree %u (it has %u)", c->m.id, tree, c->m.ntrees);
		return -ENOENT;
	}
	if (grow_fds(c, tree))
		return -ENOMEM;
	if (c->tree_fds[tree] >= 0)
		return c->tree_fds[tree];
	snprintf(name, sizeof(name), "tree-%u", tree);
	if (writing && mkdirat(c->dirfd, name, 0700) && errno != EEXIST) {
		pr_perror("cannot create %s in checkpoint %s", name, c->m.id);
		return -errno;
	}
	fd = openat(c->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("cannot open %s of checkpoint %s", name, c->m.id);
		return -errno;
	}
	if (tree == c->m.ntrees)
		c->m.ntrees++;
	c->tree_fds[tree] = fd;
	return fd;
}

static uint64_t images_bytes(const struct memfs_manifest *m)
{
	uint64_t sum = 0;

	for (unsigned int i = 0; i < m->nimages; i++)
		sum += m->images[i].size;
	return sum;
}

int memfs_ckpt_seal(struct memfs_ckpt *c)
{
	uint64_t t0, t1, bytes;
	int ret;

	if (c->m.state != MEMFS_WRITING || !c->m.ntrees) {
		pr_err("cannot seal checkpoint %s: state %s, %u trees", c->m.id,
		       memfs_state_name(c->m.state), c->m.ntrees);
		return -EINVAL;
	}
	t0 = memfs_now_ns();
	/* the images reach the device before a manifest says they are complete */
	if (syncfs(c->dirfd)) {
		pr_perror("cannot sync the images of checkpoint %s", c->m.id);
		return -errno;
	}
	ret = memfs_digest_trees(c->dirfd, &c->m, &c->pre);
	if (ret)
		return ret;
	t1 = memfs_now_ns();
	c->m.state = MEMFS_SEALED;
	c->m.sealed_ns = c->m.updated_ns = t1;
	ret = memfs_manifest_write(c->dirfd, &c->m);
	if (ret) {
		c->m.state = MEMFS_WRITING;
		return ret;
	}
	bytes = images_bytes(&c->m);
	pr_info("checkpoint %s sealed: %u trees, %u images, %llu bytes (%llu of them hashed during "
		"the copy), checksummed in %llu ms",
		c->m.id, c->m.ntrees, c->m.nimages, (unsigned long long)bytes,
		(unsigned long long)images_bytes(&c->pre), (unsigned long long)(t1 - t0) / 1000000);
	return 0;
}

int memfs_ckpt_abort(struct memfs_ckpt *c)
{
	char name[MEMFS_ID_MAX + 8];
	int ret;

	snprintf(name, sizeof(name), "ckpt-%s", c->m.id);
	ret = memfs_rm_tree(c->s->rootfd, name);
	if (ret) {
		errno = -ret;
		pr_perror("cannot remove the partial checkpoint %s from %s", name, c->s->spec);
		return ret;
	}
	c->m.state = 0;
	pr_info("partial checkpoint %s removed", c->m.id);
	return 0;
}

/* Which checkpoint to open when none is named: the newest, whatever its state. */
static int newest_id(struct memfs_store *s, char *id)
{
	struct memfs_ckpt_info *infos;
	unsigned int n;
	int ret;

	ret = memfs_store_list(s, &infos, &n);
	if (ret)
		return ret;
	if (!n) {
		pr_err("store %s holds no checkpoint", s->spec);
		free(infos);
		return -ENOENT;
	}
	strcpy(id, infos[n - 1].id);
	free(infos);
	return 0;
}

static int check_restorable(const struct memfs_manifest *m, bool named)
{
	switch (m->state) {
	case MEMFS_SEALED:
		return 0;
	case MEMFS_FAILED:
	case MEMFS_RESTORING:
		if (named)
			return 0;
		pr_err("refusing to restore checkpoint %s: its state is %s%s%s; retry it by "
		       "naming it (--checkpoint %s) or remove it (ferry store rm)",
		       m->id, memfs_state_name(m->state), m->note[0] ? ": " : "", m->note, m->id);
		return -EBUSY;
	case MEMFS_RESTORED:
		pr_err("refusing to restore checkpoint %s: it was already restored", m->id);
		return -EALREADY;
	default:
		pr_err("refusing to restore checkpoint %s: it was never sealed (state %s): the "
		       "dump did not finish",
		       m->id, memfs_state_name(m->state));
		return -EINVAL;
	}
}

static int ckpt_load(struct memfs_ckpt *c, const char *id, bool lock)
{
	char name[MEMFS_ID_MAX + 8], what[PATH_MAX + 128];
	int ret;

	if (!memfs_id_valid(id)) {
		pr_err("bad checkpoint id '%.64s'", id);
		return -EINVAL;
	}
	snprintf(name, sizeof(name), "ckpt-%s", id);
	c->dirfd = openat(c->s->rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->dirfd < 0) {
		ret = -errno;
		pr_perror("no checkpoint %s in store %s", id, c->s->spec);
		return ret;
	}
	if (lock && (ret = memfs_ckpt_lock(c->dirfd, id)))
		return ret;
	snprintf(what, sizeof(what), "%s/%s/" MEMFS_MANIFEST, c->s->root, name);
	ret = memfs_manifest_read(c->dirfd, what, NULL, 0, &c->m);
	if (!ret && strcmp(c->m.id, id)) {
		pr_err("%s: names checkpoint %s, not %s", what, c->m.id, id);
		ret = -EINVAL;
	}
	return ret;
}

static int ckpt_check(struct memfs_ckpt *c, bool named)
{
	char what[PATH_MAX + 64];
	int ret;

	ret = check_restorable(&c->m, named);
	if (ret)
		return ret;
	snprintf(what, sizeof(what), "refusing checkpoint %s (%s/ckpt-%s)", c->m.id, c->s->root,
		 c->m.id);
	return memfs_verify_trees(c->dirfd, what, &c->m);
}

int memfs_ckpt_open(struct memfs_store *s, const char *id, struct memfs_ckpt **out)
{
	struct memfs_ckpt *c = ckpt_alloc(s);
	char newest[MEMFS_ID_MAX];
	int ret;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	ret = id ? 0 : newest_id(s, newest);
	if (!ret)
		ret = ckpt_load(c, id ? id : newest, true);
	if (!ret)
		ret = ckpt_check(c, id != NULL);
	if (ret) {
		memfs_ckpt_close(c);
		return ret;
	}
	pr_info("checkpoint %s verified: %u trees, %u images, dumped on %s", c->m.id,
		c->m.ntrees, c->m.nimages, c->m.kernel);
	*out = c;
	return 0;
}

int memfs_ckpt_verify(struct memfs_store *s, const char *id)
{
	struct memfs_ckpt *c = ckpt_alloc(s);
	char what[PATH_MAX + 64];
	int ret;

	if (!c)
		return -ENOMEM;
	ret = ckpt_load(c, id, false);
	if (!ret && c->m.state == MEMFS_WRITING) {
		pr_err("checkpoint %s was never sealed (state writing): nothing to verify", id);
		ret = -EINVAL;
	}
	snprintf(what, sizeof(what), "checkpoint %s (%s/ckpt-%s)", id, s->root, id);
	if (!ret)
		ret = memfs_verify_trees(c->dirfd, what, &c->m);
	memfs_ckpt_close(c);
	return ret;
}

int memfs_ckpt_put_digest(struct memfs_ckpt *c, unsigned int tree, const char *file,
			  uint64_t size, const uint64_t *segs)
{
	struct memfs_image_sum *im, *bigger;

	if (c->m.state != MEMFS_WRITING || tree >= c->m.ntrees)
		return -EINVAL;
	if (c->pre.nimages == c->pre_cap) {
		c->pre_cap = c->pre_cap ? c->pre_cap * 2 : 8;
		bigger = realloc(c->pre.images, c->pre_cap * sizeof(*bigger));
		if (!bigger)
			return -ENOMEM;
		c->pre.images = bigger;
	}
	im = &c->pre.images[c->pre.nimages];
	if (snprintf(im->name, sizeof(im->name), "tree-%u/%s", tree, file) >= MEMFS_NAME_MAX)
		return -ENAMETOOLONG;
	im->size = size;
	im->xxh3 = memfs_digest_combine(segs, memfs_nsegs(size));
	c->pre.nimages++;
	return 0;
}

int memfs_pages_digest(void *tree_ref, const char *file, uint64_t size, const uint64_t *segs)
{
	struct memfs_tree_ref *ref = tree_ref;

	return memfs_ckpt_put_digest(ref->c, ref->tree, file, size, segs);
}

unsigned int memfs_ckpt_ntrees(struct memfs_ckpt *c)
{
	return c->m.ntrees;
}

static bool transition_ok(enum memfs_state from, enum memfs_state to)
{
	if (to == MEMFS_RESTORING)
		return from == MEMFS_SEALED || from == MEMFS_FAILED || from == MEMFS_RESTORING;
	if (to == MEMFS_RESTORED || to == MEMFS_FAILED)
		return from == MEMFS_RESTORING;
	return false;
}

int memfs_ckpt_set_state(struct memfs_ckpt *c, enum memfs_state st, const char *note)
{
	struct memfs_manifest old = c->m;
	int ret;

	if (!transition_ok(c->m.state, st)) {
		pr_err("checkpoint %s: no change from %s to %s", c->m.id,
		       memfs_state_name(c->m.state), memfs_state_name(st));
		return -EINVAL;
	}
	c->m.state = st;
	c->m.updated_ns = memfs_now_ns();
	snprintf(c->m.note, sizeof(c->m.note), "%s", note ? note : "");
	ret = memfs_manifest_write(c->dirfd, &c->m);
	if (ret) {
		old.images = c->m.images;
		c->m = old;
		return ret;
	}
	pr_info("checkpoint %s is now %s", c->m.id, memfs_state_name(st));
	return 0;
}

const char *memfs_ckpt_id(struct memfs_ckpt *c)
{
	return c->m.id;
}

const char *memfs_ckpt_tree_path(struct memfs_ckpt *c, unsigned int tree, char *buf,
				 size_t len)
{
	snprintf(buf, len, "%s/ckpt-%s/tree-%u", c->s->root, c->m.id, tree);
	return buf;
}

void memfs_ckpt_info_from(const struct memfs_manifest *m, struct memfs_ckpt_info *info)
{
	memset(info, 0, sizeof(*info));
	strcpy(info->id, m->id);
	info->state = m->state;
	info->ntrees = m->ntrees;
	info->nimages = m->nimages;
	info->bytes = images_bytes(m);
	info->created_ns = m->created_ns;
	strcpy(info->kernel, m->kernel);
	strcpy(info->boot_id, m->boot_id);
	snprintf(info->note, sizeof(info->note), "%s", m->note);
}

void memfs_ckpt_info(struct memfs_ckpt *c, struct memfs_ckpt_info *info)
{
	memfs_ckpt_info_from(&c->m, info);
}

void memfs_ckpt_close(struct memfs_ckpt *c)
{
	if (!c)
		return;
	for (unsigned int i = 0; i < c->ntrees_alloc; i++)
		if (c->tree_fds[i] >= 0)
			close(c->tree_fds[i]);
	free(c->tree_fds);
	if (c->dirfd >= 0)
		close(c->dirfd);
	memfs_manifest_release(&c->m);
	memfs_manifest_release(&c->pre);
	free(c);
}
