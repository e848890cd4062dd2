// SPDX-License-Identifier: MIT
/*
 * Unit tests of memfs/ (dir: backend): a checkpoint written, sealed and reopened keeps
 * its manifest; a flipped byte, a resized or an added image, a truncated or damaged
 * manifest, a hostile image name, an unsealed or already restored checkpoint are all
 * refused with a message naming the file (and offset or checksums), changing nothing.
 * Errors are captured from stderr (log_init(NULL, ...) sends them there).
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "../harness.h"
#include "log.h"
#include "memfs.h"
#include "internal.h"

FIXTURE(st)
{
	char dir[64];
	char spec[80];
	int saved_stderr;
	struct memfs_store *s;
};

FIXTURE_SETUP(st)
{
	char path[128];
	int fd;

	strcpy(self->dir, "/tmp/ferry-memfs-test.XXXXXX");
	ASSERT_NONNULL(mkdtemp(self->dir));
	snprintf(self->spec, sizeof(self->spec), "dir:%s/store", self->dir);
	snprintf(path, sizeof(path), "%s/stderr.txt", self->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	self->saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
	log_init(NULL, LOG_DEBUG);
	ASSERT_EQ(memfs_store_init(self->spec, false), 0);
	ASSERT_EQ(memfs_store_open(self->spec, &self->s), 0);
}

FIXTURE_TEARDOWN(st)
{
	char cmd[128];

	memfs_store_close(self->s);
	if (self->saved_stderr > 0)
		dup2(self->saved_stderr, 2);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->dir);
	if (self->dir[0] && system(cmd))
		th_note("could not remove %s", self->dir);
}

/* What memfs logged since the last call (static buffer, NUL-terminated). */
static const char *captured(struct th_fixture_st *self)
{
	static char buf[16384];
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/stderr.txt", self->dir);
	fd = open(path, O_RDWR);
	n = fd < 0 ? 0 : read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0) {
		if (ftruncate(fd, 0))
			buf[0] = 0;
		close(fd);
	}
	return buf;
}

static void put_file(int dirfd, const char *name, const void *data, size_t len)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd >= 0) {
		if (write(fd, data, len) != (ssize_t)len)
			th_note("short write of %s", name);
		close(fd);
	}
}

/* A sealed checkpoint with two trees; returns its id in id. */
static void make_ckpt(struct th_ctx *_ctx, struct th_fixture_st *self, char *id, bool seal)
{
	static char big[300000];
	struct memfs_ckpt *c;
	int fd;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + 3);
	ASSERT_EQ(memfs_ckpt_create(self->s, &c), 0);
	fd = memfs_ckpt_tree_dirfd(c, 0);
	ASSERT_GE(fd, 0);
	put_file(fd, "core-1.img", "core", 4);
	put_file(fd, "pages-1.img", big, sizeof(big));
	put_file(fd, "empty.img", "", 0);
	fd = memfs_ckpt_tree_dirfd(c, 1);
	ASSERT_GE(fd, 0);
	put_file(fd, "core-2.img", "core two", 8);
	EXPECT_LT(memfs_ckpt_tree_dirfd(c, 3), 0); /* no gaps */
	if (seal)
		ASSERT_EQ(memfs_ckpt_seal(c), 0);
	strcpy(id, memfs_ckpt_id(c));
	memfs_ckpt_close(c);
	captured(self);
}

static int ckpt_path(struct th_fixture_st *self, const char *id, const char *file, char *buf)
{
	return snprintf(buf, 512, "%s/store/ckpt-%s/%s", self->dir, id, file);
}

static void flip(struct th_fixture_st *self, const char *id, const char *file, off_t off)
{
	char path[512];
	unsigned char b;
	int fd;

	ckpt_path(self, id, file, path);
	fd = open(path, O_RDWR);
	if (fd < 0 || pread(fd, &b, 1, off) != 1)
		th_note("cannot read %s", path);
	b ^= 0x5a;
	if (fd < 0 || pwrite(fd, &b, 1, off) != 1)
		th_note("cannot write %s", path);
	if (fd >= 0)
		close(fd);
}

static int open_ckpt(struct th_fixture_st *self, const char *id)
{
	struct memfs_ckpt *c = NULL;
	int ret = memfs_ckpt_open(self->s, id, &c);

	memfs_ckpt_close(c);
	return ret;
}

TEST_F(st, sealed_checkpoint_reopens_with_its_manifest)
{
	struct memfs_ckpt_info info;
	struct memfs_ckpt *c;
	char id[MEMFS_ID_MAX];

	make_ckpt(_ctx, self, id, true);
	ASSERT_EQ(memfs_ckpt_open(self->s, NULL, &c), 0);
	EXPECT_STREQ(memfs_ckpt_id(c), id);
	EXPECT_EQ(memfs_ckpt_ntrees(c), 2);
	memfs_ckpt_info(c, &info);
	EXPECT_EQ(info.state, MEMFS_SEALED);
	EXPECT_EQ(info.nimages, 4);
	EXPECT_EQ(info.bytes, 300000 + 4 + 0 + 8);
	EXPECT_GT(info.created_ns, 0);
	EXPECT_NE(info.kernel[0], 0);
	EXPECT_EQ(strlen(info.boot_id), 36);
	EXPECT_GE(memfs_ckpt_tree_dirfd(c, 1), 0);
	EXPECT_LT(memfs_ckpt_tree_dirfd(c, 2), 0); /* read side: no new trees */
	EXPECT_EQ(memfs_ckpt_set_state(c, MEMFS_RESTORING, NULL), 0);
	EXPECT_EQ(memfs_ckpt_set_state(c, MEMFS_RESTORED, NULL), 0);
	memfs_ckpt_close(c);
	EXPECT_EQ(open_ckpt(self, id), -EALREADY);
	EXPECT_CONTAINS(captured(self), "already restored");
}

TEST_F(st, flipped_byte_is_refused_naming_file_and_checksums)
{
	char id[MEMFS_ID_MAX];
	const char *log;

	make_ckpt(_ctx, self, id, true);
	flip(self, id, "tree-0/pages-1.img", 150000);
	EXPECT_EQ(open_ckpt(self, id), -EBADMSG);
	log = captured(self);
	EXPECT_CONTAINS(log, "tree-0/pages-1.img");
	EXPECT_CONTAINS(log, "expected");
	EXPECT_CONTAINS(log, "actual");
	EXPECT_EQ(memfs_ckpt_verify(self->s, id), -EBADMSG);
	flip(self, id, "tree-0/pages-1.img", 150000);
	EXPECT_EQ(memfs_ckpt_verify(self->s, id), 0);
	EXPECT_EQ(open_ckpt(self, NULL), 0); /* still sealed: the refusal changed nothing */
}

TEST_F(st, resized_missing_or_added_image_is_refused)
{
	char id[MEMFS_ID_MAX], path[512];

	make_ckpt(_ctx, self, id, true);
	ckpt_path(self, id, "tree-1/core-2.img", path);
	ASSERT_EQ(truncate(path, 3), 0);
	EXPECT_EQ(open_ckpt(self, id), -EBADMSG);
	EXPECT_CONTAINS(captured(self), "tree-1/core-2.img has 3 bytes, the manifest says 8");
	ASSERT_EQ(unlink(path), 0);
	EXPECT_EQ(open_ckpt(self, id), -ENOENT);
	EXPECT_CONTAINS(captured(self), "tree-1/core-2.img is missing");
	put_file(AT_FDCWD, path, "core two", 8);
	EXPECT_EQ(open_ckpt(self, id), 0);
	ckpt_path(self, id, "tree-0/extra.img", path);
	put_file(AT_FDCWD, path, "x", 1);
	EXPECT_EQ(open_ckpt(self, id), -EBADMSG);
	EXPECT_CONTAINS(captured(self), "tree-0/extra.img is not in the manifest");
}

TEST_F(st, unsealed_checkpoint_is_never_restored)
{
	char id[MEMFS_ID_MAX];

	struct memfs_ckpt_info *infos;
	struct memfs_ckpt *c;
	unsigned int n;

	make_ckpt(_ctx, self, id, false);
	ASSERT_EQ(memfs_store_list(self->s, &infos, &n), 0);
	ASSERT_EQ(n, 1);
	EXPECT_EQ(infos[0].state, MEMFS_WRITING);
	EXPECT_CONTAINS(infos[0].note, "abandoned"); /* no dump holds it */
	free(infos);
	ASSERT_EQ(memfs_ckpt_create(self->s, &c), 0);
	ASSERT_EQ(memfs_store_list(self->s, &infos, &n), 0);
	ASSERT_EQ(n, 2);
	EXPECT_STREQ(infos[1].note, ""); /* being written */
	free(infos);
	memfs_ckpt_abort(c);
	memfs_ckpt_close(c);
	EXPECT_EQ(open_ckpt(self, NULL), -EINVAL);
	EXPECT_CONTAINS(captured(self), "never sealed");
	EXPECT_EQ(open_ckpt(self, id), -EINVAL);
	EXPECT_CONTAINS(captured(self), "never sealed");
	EXPECT_NE(memfs_ckpt_verify(self->s, id), 0);
}

TEST_F(st, truncated_or_damaged_manifest_is_refused_with_offset)
{
	char id[MEMFS_ID_MAX], path[512];
	const char *log;
	struct stat st;

	make_ckpt(_ctx, self, id, true);
	ckpt_path(self, id, "manifest", path);
	ASSERT_EQ(stat(path, &st), 0);
	flip(self, id, "manifest", 20);
	EXPECT_EQ(open_ckpt(self, id), -EINVAL);
	EXPECT_CONTAINS(captured(self), "manifest: checksum mismatch at offset");
	flip(self, id, "manifest", 20);
	EXPECT_EQ(open_ckpt(self, id), 0);
	flip(self, id, "manifest", 0);
	EXPECT_EQ(open_ckpt(self, id), -EINVAL);
	EXPECT_CONTAINS(captured(self), "bad magic");
	flip(self, id, "manifest", 0);
	ASSERT_EQ(truncate(path, st.st_size - 5), 0);
	EXPECT_EQ(open_ckpt(self, id), -EINVAL);
	log = captured(self);
	EXPECT_CONTAINS(log, "truncated");
	EXPECT_CONTAINS(log, "offset 4");
	ASSERT_EQ(truncate(path, 3), 0);
	EXPECT_EQ(open_ckpt(self, id), -EINVAL);
	EXPECT_CONTAINS(captured(self), "truncated at offset 3");
	ASSERT_EQ(truncate(path, 0), 0);
	EXPECT_EQ(open_ckpt(self, NULL), -EINVAL); /* the newest is unreadable: no fallback */
}

/* A manifest that checksums fine but names files outside its trees. */
TEST_F(st, hostile_image_names_are_refused)
{
	static const char *const bad[] = { "tree-0/../../../etc/passwd", "tree-5/x", "tree-0/",
					   "tree-01/core-1.img", "../x", "tree-+0/x", "tree-0" };
	struct memfs_manifest m = { 0 };
	struct memfs_image_sum im = { .size = 1 };
	char id[MEMFS_ID_MAX], path[512];
	int fd;

	make_ckpt(_ctx, self, id, true);
	ckpt_path(self, id, "", path);
	fd = open(path, O_RDONLY | O_DIRECTORY);
	ASSERT_GE(fd, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(m.id, id);
		m.state = MEMFS_SEALED;
		m.ntrees = 2;
		m.nimages = 1;
		m.images = &im;
		strcpy(im.name, bad[i]);
		ASSERT_EQ(memfs_manifest_write(fd, &m), 0);
		EXPECT_EQ(open_ckpt(self, id), -EINVAL);
		EXPECT_CONTAINS(captured(self), "bad name");
	}
	close(fd);
}

TEST_F(st, failed_checkpoint_needs_its_id_and_bad_ids_are_refused)
{
	struct memfs_ckpt *c;
	char id[MEMFS_ID_MAX];

	make_ckpt(_ctx, self, id, true);
	ASSERT_EQ(memfs_ckpt_open(self->s, NULL, &c), 0);
	EXPECT_NE(memfs_ckpt_set_state(c, MEMFS_RESTORED, NULL), 0); /* not restoring yet */
	ASSERT_EQ(memfs_ckpt_set_state(c, MEMFS_RESTORING, NULL), 0);
	ASSERT_EQ(memfs_ckpt_set_state(c, MEMFS_FAILED, "tree 1 failed"), 0);
	memfs_ckpt_close(c);
	captured(self);
	EXPECT_EQ(open_ckpt(self, NULL), -EBUSY);
	EXPECT_CONTAINS(captured(self), "--checkpoint");
	EXPECT_EQ(open_ckpt(self, id), 0);
	EXPECT_EQ(open_ckpt(self, "../store"), -EINVAL);
	EXPECT_EQ(open_ckpt(self, "a/b"), -EINVAL);
	EXPECT_EQ(open_ckpt(self, "20000101-000000-0000"), -ENOENT);
	EXPECT_EQ(memfs_store_rm(self->s, ".."), -EINVAL);
}

TEST_F(st, one_ferry_at_a_time_per_checkpoint)
{
	struct memfs_ckpt *c;
	char id[MEMFS_ID_MAX];

	make_ckpt(_ctx, self, id, true);
	ASSERT_EQ(memfs_ckpt_open(self->s, id, &c), 0);
	EXPECT_EQ(open_ckpt(self, id), -EBUSY);
	EXPECT_CONTAINS(captured(self), "in use by another ferry");
	EXPECT_EQ(memfs_store_rm(self->s, id), -EBUSY);
	EXPECT_EQ(memfs_ckpt_verify(self->s, id), 0); /* reading is fine */
	memfs_ckpt_close(c);
	EXPECT_EQ(open_ckpt(self, id), 0);
	EXPECT_EQ(memfs_store_rm(self->s, id), 0);
}

TEST_F(st, list_and_rm)
{
	struct memfs_ckpt_info *infos;
	char id1[MEMFS_ID_MAX], id2[MEMFS_ID_MAX], path[512];
	unsigned int n;

	make_ckpt(_ctx, self, id1, true);
	make_ckpt(_ctx, self, id2, false);
	ckpt_path(self, id2, "manifest", path);
	ASSERT_EQ(truncate(path, 2), 0);
	ASSERT_EQ(memfs_store_list(self->s, &infos, &n), 0);
	ASSERT_EQ(n, 2);
	EXPECT_EQ(infos[0].state, MEMFS_SEALED);
	EXPECT_EQ(infos[1].state, 0); /* unreadable: shown with why, still the newest */
	EXPECT_CONTAINS(infos[1].note, "truncated");
	free(infos);
	EXPECT_STREQ(captured(self), ""); /* ls reports, does not log errors */
	EXPECT_NE(open_ckpt(self, NULL), 0); /* the newest is damaged: no older one instead */
	EXPECT_EQ(memfs_store_rm(self->s, id2), 0);
	EXPECT_EQ(memfs_store_rm(self->s, id2), -ENOENT);
	ASSERT_EQ(memfs_store_list(self->s, &infos, &n), 0);
	EXPECT_EQ(n, 1);
	free(infos);
}

TEST_F(st, abort_removes_the_partial_checkpoint)
{
	struct memfs_ckpt_info *infos;
	struct memfs_ckpt *c;
	unsigned int n;
	int fd;

	ASSERT_EQ(memfs_ckpt_create(self->s, &c), 0);
	fd = memfs_ckpt_tree_dirfd(c, 0);
	ASSERT_GE(fd, 0);
	put_file(fd, "core-1.img", "core", 4);
	EXPECT_EQ(memfs_ckpt_abort(c), 0);
	memfs_ckpt_close(c);
	ASSERT_EQ(memfs_store_list(self->s, &infos, &n), 0);
	EXPECT_EQ(n, 0);
	free(infos);
}

TEST_F(st, bad_specs_and_missing_stores)
{
	struct memfs_store *s = NULL;
	char spec[128];

	EXPECT_EQ(memfs_store_open("tmp/x", &s), -EINVAL);
	EXPECT_CONTAINS(captured(self), "expected dir:PATH or pmem:/dev/DEVICE");
	EXPECT_EQ(memfs_store_open("pmem:dev/x", &s), -EINVAL);
	snprintf(spec, sizeof(spec), "dir:%s/none", self->dir);
	EXPECT_EQ(memfs_store_open(spec, &s), -ENOENT);
	EXPECT_CONTAINS(captured(self), "ferry store init");
	snprintf(spec, sizeof(spec), "pmem:%s/stderr.txt", self->dir);
	EXPECT_EQ(memfs_store_open(spec, &s), -ENOTBLK);
	EXPECT_EQ(memfs_store_init(spec, false), -ENOTBLK);
	EXPECT_NULL(s);
}

TEST_HARNESS_MAIN
