// SPDX-License-Identifier: MIT
/*
 * Unit tests of src/image.c: entries written are read back unchanged, and every kind of
 * malformed image is rejected with an error naming the file and the offset, never a
 * crash. Errors are captured from stderr (log_init(NULL, ...) sends them there).
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "../harness.h"
#include "image.h"
#include "log.h"
#include "pstree.pb-c.h"
#include "inventory.pb-c.h"

#define PSTREE_MAGIC 0x50273030U
#define INVENTORY_MAGIC 0x58313116U

FIXTURE(img)
{
	char dir[64];
	int dirfd;
	int saved_stderr;
};

FIXTURE_SETUP(img)
{
	char path[128];
	int fd;

	strcpy(self->dir, "/tmp/ferry-image-test.XXXXXX");
	ASSERT_NONNULL(mkdtemp(self->dir));
	self->dirfd = open(self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(self->dirfd, 0);
	snprintf(path, sizeof(path), "%s/stderr.txt", self->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	self->saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
	log_init(NULL, LOG_DEBUG);
}

FIXTURE_TEARDOWN(img)
{
	char cmd[128];

	if (self->saved_stderr > 0)
		dup2(self->saved_stderr, 2);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->dir);
	if (self->dir[0] && system(cmd))
		th_note("could not remove %s", self->dir);
}

/* What image.c printed so far (static buffer, NUL-terminated). */
static const char *captured(struct th_fixture_img *self)
{
	static char buf[8192];
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/stderr.txt", self->dir);
	fd = open(path, O_RDONLY);
	n = fd < 0 ? 0 : read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
	return buf;
}

static int put_file(struct th_fixture_img *self, const char *name, const void *data, size_t len)
{
	int fd = openat(self->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int ret = 0;

	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len)
		ret = -1;
	close(fd);
	return ret;
}

/* A pstree.img image: both magics, then the bytes given. */
static int put_pstree(struct th_fixture_img *self, const void *body, size_t len)
{
	unsigned char buf[4096];
	uint32_t m[2] = { IMG_COMMON_MAGIC, PSTREE_MAGIC };

	memcpy(buf, m, 8);
	memcpy(buf + 8, body, len);
	return put_file(self, "pstree.img", buf, len + 8);
}

static void pstree_fill(PstreeEntry *e, uint32_t pid, uint32_t *threads, size_t n)
{
	pstree_entry__init(e);
	e->pid = pid;
	e->ppid = pid / 2;
	e->pgid = pid + 1;
	e->sid = pid + 2;
	e->n_threads = n;
	e->threads = threads;
}

/* ---- round trips ------------------------------------------------------------------- */

TEST_F(img, roundtrip_single_entry)
{
	uint32_t threads[] = { 100, 101, 107 };
	PstreeEntry e, *r = NULL;

	pstree_fill(&e, 100, threads, 3);
	ASSERT_EQ(img_write_one(self->dirfd, IMG_PSTREE, &e.base), 0);
	ASSERT_EQ(img_read_one(self->dirfd, IMG_PSTREE, &pstree_entry__descriptor, (void **)&r), 0);
	ASSERT_NONNULL(r);
	EXPECT_EQ(r->pid, 100U);
	EXPECT_EQ(r->ppid, 50U);
	EXPECT_EQ(r->pgid, 101U);
	EXPECT_EQ(r->sid, 102U);
	ASSERT_EQ(r->n_threads, (size_t)3);
	EXPECT_EQ(r->threads[2], 107U);
	img_free_pb(r);
	EXPECT_STREQ(captured(self), "");
}

TEST_F(img, roundtrip_many_entries_with_raw_payloads)
{
	unsigned char raw[64], back[64];
	struct img *img;
	uint32_t tid;
	int i, j;

	img = img_open(self->dirfd, IMG_PSTREE, O_WRONLY);
	ASSERT_NONNULL(img);
	for (i = 0; i < 5000; i++) {
		PstreeEntry e;

		tid = i + 1;
		pstree_fill(&e, i + 1, &tid, 1);
		ASSERT_EQ(img_write_pb(img, &e.base), 0);
		memset(raw, i & 0xff, sizeof(raw));
		ASSERT_EQ(img_write_raw(img, raw, i % 64), 0);
	}
	ASSERT_EQ(img_close(img), 0);

	img = img_open(self->dirfd, IMG_PSTREE, O_RDONLY);
	ASSERT_NONNULL(img);
	for (i = 0; i < 5000; i++) {
		PstreeEntry *r = NULL;

		ASSERT_EQ(img_read_pb(img, &pstree_entry__descriptor, (void **)&r), 1);
		ASSERT_EQ(r->pid, (uint32_t)i + 1);
		ASSERT_EQ(r->n_threads, (size_t)1);
		ASSERT_EQ(r->threads[0], (uint32_t)i + 1);
		img_free_pb(r);
		ASSERT_EQ(img_read_raw(img, back, i % 64), 0);
		for (j = 0; j < i % 64; j++)
			ASSERT_EQ(back[j], (unsigned char)(i & 0xff));
	}
	{
		void *r = NULL;

		EXPECT_EQ(img_read_pb(img, &pstree_entry__descriptor, &r), 0); /* clean EOF */
	}
	img_close(img);
	EXPECT_STREQ(captured(self), "");
}

TEST_F(img, roundtrip_entry_larger_than_buffer)
{
	static uint32_t threads[100000];
	PstreeEntry e, *r = NULL;
	size_t i;

	for (i = 0; i < 100000; i++)
		threads[i] = 1000000 + i;
	pstree_fill(&e, 7, threads, 100000);
	ASSERT_EQ(img_write_one(self->dirfd, IMG_PSTREE, &e.base), 0);
	ASSERT_EQ(img_read_one(self->dirfd, IMG_PSTREE, &pstree_entry__descriptor, (void **)&r), 0);
	ASSERT_EQ(r->n_threads, (size_t)100000);
	for (i = 0; i < 100000; i++)
		ASSERT_EQ(r->threads[i], (uint32_t)(1000000 + i));
	img_free_pb(r);
}

TEST_F(img, magics_on_disk)
{
	InventoryEntry inv, *r = NULL;
	PstreeEntry e;
	uint32_t m[2];
	int fd;

	inventory_entry__init(&inv);
	inv.img_version = IMG_VERSION_V1_1;
	inv.has_fdinfo_per_id = 1;
	inv.fdinfo_per_id = 1;
	ASSERT_EQ(img_write_one(self->dirfd, IMG_INVENTORY, &inv.base), 0);
	pstree_fill(&e, 1, NULL, 0);
	ASSERT_EQ(img_write_one(self->dirfd, IMG_PSTREE, &e.base), 0);

	fd = openat(self->dirfd, "inventory.img", O_RDONLY);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(read(fd, m, 8), 8);
	close(fd);
	EXPECT_EQ(m[0], INVENTORY_MAGIC); /* inventory has only its own magic */
	fd = openat(self->dirfd, "pstree.img", O_RDONLY);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(read(fd, m, 8), 8);
	close(fd);
	EXPECT_EQ(m[0], IMG_COMMON_MAGIC);
	EXPECT_EQ(m[1], PSTREE_MAGIC);

	ASSERT_EQ(img_read_one(self->dirfd, IMG_INVENTORY, &inventory_entry__descriptor,
			       (void **)&r), 0);
	EXPECT_EQ(r->img_version, (uint32_t)IMG_VERSION_V1_1);
	EXPECT_TRUE(r->has_fdinfo_per_id && r->fdinfo_per_id);
	img_free_pb(r);
}

TEST_F(img, roundtrip_raw_pages_without_magic)
{
	static unsigned char pages[3 * 4096], back[3 * 4096];
	struct img *img;
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(pages); i++)
		pages[i] = i * 7 + 3;
	img = img_open(self->dirfd, IMG_PAGES, O_WRONLY, 1);
	ASSERT_NONNULL(img);
	ASSERT_EQ(img_write_raw(img, pages, sizeof(pages)), 0);
	ASSERT_EQ(img_close(img), 0);
	ASSERT_EQ(fstatat(self->dirfd, "pages-1.img", &st, 0), 0);
	EXPECT_EQ(st.st_size, (off_t)sizeof(pages));

	img = img_open(self->dirfd, IMG_PAGES, O_RDONLY, 1);
	ASSERT_NONNULL(img);
	ASSERT_EQ(img_read_raw(img, back, sizeof(back)), 0);
	EXPECT_EQ(memcmp(pages, back, sizeof(back)), 0);
	/* one byte more than there is: an error naming the file and the offset */
	EXPECT_LT(img_read_raw(img, back, 1), 0);
	img_close(img);
	EXPECT_CONTAINS(captured(self), "pages-1.img");
	EXPECT_CONTAINS(captured(self), "offset 12288");
}

/* ---- malformed input ---------------------------------------------------------------- */

/* Open pstree.img and read entries until an error; returns that error (or 0/1). */
static int read_all_pstree(struct th_fixture_img *self, int *entries)
{
	struct img *img = img_open(self->dirfd, IMG_PSTREE, O_RDONLY);
	void *msg;
	int ret;

	*entries = 0;
	if (!img)
		return -errno;
	while ((ret = img_read_pb(img, &pstree_entry__descriptor, &msg)) == 1) {
		img_free_pb(msg);
		(*entries)++;
	}
	img_close(img);
	return ret;
}

TEST_F(img, rejects_wrong_magic)
{
	uint32_t m[3] = { 0xdeadbeef, PSTREE_MAGIC, 0 };

	ASSERT_EQ(put_file(self, "pstree.img", m, sizeof(m)), 0);
	errno = 0;
	EXPECT_NULL(img_open(self->dirfd, IMG_PSTREE, O_RDONLY));
	EXPECT_NE(errno, 0);
	EXPECT_CONTAINS(captured(self), "pstree.img");
	EXPECT_CONTAINS(captured(self), "offset 0");
}

TEST_F(img, rejects_wrong_second_magic)
{
	uint32_t m[3] = { IMG_COMMON_MAGIC, 0x12345678, 0 };

	ASSERT_EQ(put_file(self, "pstree.img", m, sizeof(m)), 0);
	EXPECT_NULL(img_open(self->dirfd, IMG_PSTREE, O_RDONLY));
	EXPECT_CONTAINS(captured(self), "pstree.img");
	EXPECT_CONTAINS(captured(self), "offset 4");
}

TEST_F(img, rejects_magic_of_another_image)
{
	uint32_t m[2] = { INVENTORY_MAGIC, 0 };

	ASSERT_EQ(put_file(self, "pstree.img", m, sizeof(m)), 0);
	EXPECT_NULL(img_open(self->dirfd, IMG_PSTREE, O_RDONLY));
	EXPECT_CONTAINS(captured(self), "pstree.img");
	EXPECT_CONTAINS(captured(self), "offset");
}

TEST_F(img, rejects_truncated_magic)
{
	uint32_t m = IMG_COMMON_MAGIC;

	ASSERT_EQ(put_file(self, "pstree.img", &m, 2), 0);
	EXPECT_NULL(img_open(self->dirfd, IMG_PSTREE, O_RDONLY));
	EXPECT_CONTAINS(captured(self), "pstree.img");
	EXPECT_CONTAINS(captured(self), "offset");
}

TEST_F(img, rejects_empty_file)
{
	ASSERT_EQ(put_file(self, "pstree.img", "", 0), 0);
	EXPECT_NULL(img_open(self->dirfd, IMG_PSTREE, O_RDONLY));
	EXPECT_CONTAINS(captured(self), "pstree.img");
	EXPECT_CONTAINS(captured(self), "offset");
}

TEST_F(img, rejects_truncated_size_field)
{
	unsigned char body[2] = { 5, 0 };
	int n;

	ASSERT_EQ(put_pstree(self, body, sizeof(body)), 0);
	EXPECT_LT(read_all_pstree(self, &n), 0);
	EXPECT_EQ(n, 0);
	EXPECT_CONTAINS(captured(self), "pstree.img");
	EXPECT_CONTAINS(captured(self), "offset 8");
}

TEST_F(img, rejects_truncated_entry)
{
	unsigned char body[4 + 10] = { 100, 0, 0, 0, 0x08, 0x01 };
	int n;

	ASSERT_EQ(put_pstree(self, body, sizeof(body)), 0);
	EXPECT_LT(read_all_pstree(self, &n), 0);
	EXPECT_CONTAINS(captured(self), "pstree.img");
	EXPECT_CONTAINS(captured(self), "offset");
}

TEST_F(img, reports_offset_of_the_bad_entry)
{
	/* two good entries (pid=1..4 fields: 8 bytes each + 4 size bytes), then garbage */
	unsigned char good[12] = { 8, 0, 0, 0, 0x08, 1, 0x10, 2, 0x18, 3, 0x20, 4 };
	unsigned char body[24 + 6];
	int n;

	memcpy(body, good, 12);
	memcpy(body + 12, good, 12);
	memcpy(body + 24, "\x02\x00\x00\x00\x0f\x0f", 6);
	ASSERT_EQ(put_pstree(self, body, sizeof(body)), 0);
	EXPECT_LT(read_all_pstree(self, &n), 0);
	EXPECT_EQ(n, 2);
	EXPECT_CONTAINS(captured(self), "pstree.img");
	EXPECT_CONTAINS(captured(self), "offset 32"); /* 8 bytes of magic + 2 * 12 */
}

TEST_F(img, rejects_size_above_limit)
{
	uint32_t body[2] = { IMG_MAX_ENTRY + 1, 0 };
	int n;

	ASSERT_EQ(put_pstree(self, body, sizeof(body)), 0);
	EXPECT_EQ(read_all_pstree(self, &n), -EINVAL);
	EXPECT_CONTAINS(captured(self), "pstree.img");
	EXPECT_CONTAINS(captured(self), "offset 8");
}

TEST_F(img, rejects_size_0xffffffff)
{
	uint32_t body[1] = { 0xffffffffU };
	int n;

	ASSERT_EQ(put_pstree(self, body, sizeof(body)), 0);
	EXPECT_LT(read_all_pstree(self, &n), 0);
	EXPECT_CONTAINS(captured(self), "pstree.img");
	EXPECT_CONTAINS(captured(self), "offset 8");
}

TEST_F(img, accepts_size_at_limit_but_truncated)
{
	/* exactly IMG_MAX_ENTRY is allowed by size, then rejected as truncated */
	uint32_t body[2] = { IMG_MAX_ENTRY, 0 };
	int n;

	ASSERT_EQ(put_pstree(self, body, sizeof(body)), 0);
	EXPECT_EQ(read_all_pstree(self, &n), -EIO);
	EXPECT_CONTAINS(captured(self), "pstree.img");
	EXPECT_CONTAINS(captured(self), "offset");
}

TEST_F(img, rejects_garbage_protobuf)
{
	/* field 1 with wire type 7, which does not exist */
	unsigned char body[] = { 4, 0, 0, 0, 0x0f, 0xff, 0xff, 0xff };
	int n;

	ASSERT_EQ(put_pstree(self, body, sizeof(body)), 0);
	EXPECT_EQ(read_all_pstree(self, &n), -EINVAL);
	EXPECT_CONTAINS(captured(self), "pstree.img");
	EXPECT_CONTAINS(captured(self), "offset 8");
}

TEST_F(img, rejects_missing_required_field)
{
	/* only pid = 5: ppid, pgid and sid are required */
	unsigned char body[] = { 2, 0, 0, 0, 0x08, 0x05 };
	int n;

	ASSERT_EQ(put_pstree(self, body, sizeof(body)), 0);
	EXPECT_EQ(read_all_pstree(self, &n), -EINVAL);
	EXPECT_CONTAINS(captured(self), "pstree.img");
	EXPECT_CONTAINS(captured(self), "offset 8");
}

TEST_F(img, rejects_missing_file)
{
	void *msg = NULL;

	EXPECT_EQ(img_read_one(self->dirfd, IMG_PSTREE, &pstree_entry__descriptor, &msg),
		  -ENOENT);
	EXPECT_NULL(msg);
	EXPECT_CONTAINS(captured(self), "pstree.img");
}

TEST_F(img, optional_missing_file_is_silent)
{
	errno = 0;
	EXPECT_NULL(img_open(self->dirfd, IMG_CORE, O_RDONLY | IMG_OPTIONAL, 42));
	EXPECT_EQ(errno, ENOENT);
	EXPECT_STREQ(captured(self), "");
}

TEST_F(img, rejects_second_entry_in_single_entry_image)
{
	unsigned char good[12] = { 8, 0, 0, 0, 0x08, 1, 0x10, 2, 0x18, 3, 0x20, 4 };
	unsigned char body[24];
	void *msg = NULL;

	memcpy(body, good, 12);
	memcpy(body + 12, good, 12);
	ASSERT_EQ(put_pstree(self, body, sizeof(body)), 0);
	EXPECT_LT(img_read_one(self->dirfd, IMG_PSTREE, &pstree_entry__descriptor, &msg), 0);
	EXPECT_CONTAINS(captured(self), "pstree.img");
	EXPECT_CONTAINS(captured(self), "offset");
}

TEST_F(img, rejects_single_entry_image_without_entry)
{
	void *msg = NULL;

	ASSERT_EQ(put_pstree(self, "", 0), 0);
	EXPECT_LT(img_read_one(self->dirfd, IMG_PSTREE, &pstree_entry__descriptor, &msg), 0);
	EXPECT_CONTAINS(captured(self), "pstree.img");
	EXPECT_CONTAINS(captured(self), "offset 8");
}

TEST_F(img, names_the_file_with_its_id)
{
	uint32_t m[2] = { IMG_COMMON_MAGIC, PSTREE_MAGIC }; /* a core image with pstree's magic */

	ASSERT_EQ(put_file(self, "core-4242.img", m, sizeof(m)), 0);
	EXPECT_NULL(img_open(self->dirfd, IMG_CORE, O_RDONLY, 4242));
	EXPECT_CONTAINS(captured(self), "core-4242.img");
	EXPECT_CONTAINS(captured(self), "offset 4");
}

/* Random damage to a valid image: any outcome but a crash is fine; errors say where.
 * Run under ASan+UBSan too (image_test-asan), which turns a bad access into a failure. */
TEST_F(img, survives_random_damage)
{
	unsigned char good[12] = { 8, 0, 0, 0, 0x08, 1, 0x10, 2, 0x18, 3, 0x20, 4 };
	unsigned char body[120];
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	int round, n, i, ret;

	for (round = 0; round < 2000; round++) {
		size_t len;

		for (i = 0; i < 10; i++)
			memcpy(body + 12 * i, good, 12);
		for (i = 0; i < 1 + round % 4; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			body[x % sizeof(body)] = x >> 32;
		}
		len = sizeof(body) - (round % 7 == 0 ? x % 30 : 0);
		ASSERT_EQ(put_pstree(self, body, len), 0);
		ASSERT_EQ(ftruncate(2, 0), 0);
		ret = read_all_pstree(self, &n);
		if (ret < 0) {
			ASSERT_CONTAINS(captured(self), "pstree.img");
			ASSERT_CONTAINS(captured(self), "offset");
		}
	}
}

/* The images are CRIU's format: Debian's crit must decode what image.c writes. */
TEST_F(img, crit_decodes_our_images)
{
	uint32_t threads[] = { 4321, 4322 };
	InventoryEntry inv;
	PstreeEntry e;
	char cmd[512];
	const char *json;

	if (system("command -v crit >/dev/null 2>&1"))
		SKIP("crit not installed (Debian package criu)");
	inventory_entry__init(&inv);
	inv.img_version = IMG_VERSION_V1_1;
	ASSERT_EQ(img_write_one(self->dirfd, IMG_INVENTORY, &inv.base), 0);
	pstree_fill(&e, 4321, threads, 2);
	ASSERT_EQ(img_write_one(self->dirfd, IMG_PSTREE, &e.base), 0);
	snprintf(cmd, sizeof(cmd), "crit decode -i %s/pstree.img >&2 && crit decode -i "
		 "%s/inventory.img >&2", self->dir, self->dir);
	ASSERT_EQ(system(cmd), 0);
	json = captured(self);
	EXPECT_CONTAINS(json, "PSTREE");
	EXPECT_CONTAINS(json, "\"pid\": 4321");
	EXPECT_CONTAINS(json, "4322");
	EXPECT_CONTAINS(json, "INVENTORY");
	EXPECT_CONTAINS(json, "\"img_version\": 2");
}

TEST_HARNESS_MAIN
