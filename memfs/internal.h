/* SPDX-License-Identifier: MIT */
/*
 * memfs internals shared by its files: the store and checkpoint handles, the manifest
 * in memory (manifest.c encodes it as proto/memfs.proto), the checksum walker (digest.c)
 * and the pmem backend (pmem.c). Nothing here is part of the public API (memfs.h).
 */
#ifndef FERRY_MEMFS_INTERNAL_H
#define FERRY_MEMFS_INTERNAL_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "memfs.h"

#define MEMFS_MARKER "ferry-store"
#define MEMFS_MARKER_TEXT "ferry-store 1\n"
#define MEMFS_MANIFEST "manifest"
#define MEMFS_MANIFEST_TMP "manifest.tmp"
#define MEMFS_MANIFEST_MAGIC 0x3153464dU /* "MFS1" little-endian */
#define MEMFS_MANIFEST_MAX (16U << 20)
#define MEMFS_NAME_MAX 128 /* "tree-N/file" */
#define MEMFS_MAX_IMAGES 65536

enum memfs_backend { MEMFS_DIR, MEMFS_PMEM };

struct memfs_store {
	enum memfs_backend backend;
	char spec[PATH_MAX + 8];
	char dev[PATH_MAX];	/* pmem: the block device */
	char root[PATH_MAX];	/* the store's directory (pmem: the mount point) */
	int rootfd;
	bool mounted;		/* pmem: we mounted root and unmount it on close */
	bool dax;
};

struct memfs_image_sum {
	char name[MEMFS_NAME_MAX];
	uint64_t size;
	uint64_t xxh3;
};

struct memfs_manifest {
	char id[MEMFS_ID_MAX];
	enum memfs_state state;
	char kernel[65];
	char boot_id[40];
	char hostname[65];
	char note[128];
	uint64_t created_ns, sealed_ns, updated_ns;
	unsigned int ntrees;
	unsigned int nimages;
	struct memfs_image_sum *images;
};

struct memfs_ckpt {
	struct memfs_store *s;
	int dirfd;		/* ckpt-<ID> */
	int *tree_fds;		/* [ntrees_alloc], -1 when not open */
	unsigned int ntrees_alloc;
	struct memfs_manifest m;
	struct memfs_manifest pre;	/* images: digests handed over by the dump */
	unsigned int pre_cap;
};

/* manifest.c */
int memfs_manifest_write(int ckpt_dirfd, const struct memfs_manifest *m);
/* Reads and validates; a rejection names `what` (the manifest's path) and goes to why
 * when why is set, else to the log. */
int memfs_manifest_read(int ckpt_dirfd, const char *what, char *why, size_t why_len,
			struct memfs_manifest *m);
void memfs_ckpt_info_from(const struct memfs_manifest *m, struct memfs_ckpt_info *info);
void memfs_manifest_release(struct memfs_manifest *m);
uint64_t memfs_now_ns(void);

/* digest.c */
/* pre: digests computed during the dump (or NULL) */
int memfs_digest_trees(int ckpt_dirfd, struct memfs_manifest *m, const struct memfs_manifest *pre);
int memfs_verify_trees(int ckpt_dirfd, const char *what, const struct memfs_manifest *m);
int memfs_digest_fd(int fd, uint64_t size, uint64_t *xxh3);

/* pmem.c */
int memfs_pmem_init(struct memfs_store *s, bool force);
int memfs_pmem_mount(struct memfs_store *s);
void memfs_pmem_unmount(struct memfs_store *s);

/* ckpt.c */
int memfs_ckpt_lock(int ckpt_dirfd, const char *id); /* flock, -EBUSY when taken */

/* store.c */
int memfs_spec_parse(const char *spec, struct memfs_store *s);
bool memfs_id_valid(const char *id);
int memfs_rm_tree(int dirfd, const char *name);
int memfs_store_init_dir(const char *root); /* mkdir -p, marker */

#endif
