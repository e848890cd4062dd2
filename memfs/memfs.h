/* SPDX-License-Identifier: MIT */
/*
 * memfs: the image store. A store holds checkpoints; a checkpoint holds one image
 * directory per dumped tree, written and read by the engines exactly like `-D DIR`, and
 * a manifest (id, kernel, boot id, time, state, an XXH3 checksum of every image).
 *
 * Backends (SPEC):
 *   dir:PATH          a directory; the default is MEMFS_DEFAULT_SPEC (a tmpfs on Debian)
 *   pmem:/dev/pmemN   a block device (legacy memmap=SIZE!OFFSET pmem, virtio-pmem, NVDIMM
 *                     or, for tests, a loop device) holding ext4, mounted -o dax=always
 *                     where the kernel offers it (else without DAX, logged) on a private
 *                     mount point under /run/ferry/mnt, unmounted by memfs_store_close()
 *
 * Layout inside the store root:
 *   ferry-store                 marker written by memfs_store_init() (format version)
 *   ckpt-<ID>/manifest          the manifest (doc/images.md), replaced atomically
 *   ckpt-<ID>/tree-<N>/FILE.img tree N's images
 *
 * Lifecycle of a checkpoint (the state is in its manifest):
 *
 *   dump:    memfs_ckpt_create()            state WRITING
 *              memfs_ckpt_tree_dirfd(c, 0..n-1)   -> engine writes images
 *            memfs_ckpt_seal()              syncfs, checksums every image: SEALED
 *            (or memfs_ckpt_abort()         a failed dump: the checkpoint is removed)
 *   restore: memfs_ckpt_open()              verifies (see below), no state change
 *            memfs_ckpt_set_state(RESTORING)
 *              memfs_ckpt_tree_dirfd(c, 0..ntrees-1) -> engine reads images
 *            memfs_ckpt_set_state(RESTORED or FAILED)
 *
 *   WRITING --seal--> SEALED --> RESTORING --> RESTORED
 *                                          \-> FAILED --(retry by id)--> RESTORING
 *
 * memfs_ckpt_open(s, NULL) takes the newest checkpoint, which must be SEALED (an older
 * one is never picked behind the user's back: it would restore stale state).
 * memfs_ckpt_open(s, ID) also accepts FAILED and RESTORING (a retry by hand, or after a
 * crash mid-restore) but never WRITING (never sealed) or RESTORED (its tasks already
 * run). Either way, every image's size and checksum must match the manifest and no
 * unlisted file may sit in a tree directory; a refusal logs why (file, expected vs
 * actual) and changes nothing.
 *
 * A dump of several trees (ferry upgrade): create, then per tree N set dump_opts.dirfd =
 * memfs_ckpt_tree_dirfd(c, N) and .pages_digest = memfs_pages_digest with a
 * struct memfs_tree_ref { c, N } (the pages are then hashed as they are copied), run the
 * engine; seal once after the last tree, before any tree is released (dump_opts
 * .images_done is the hook for that); abort if any tree failed.
 *
 * One ferry at a time per checkpoint: create and open hold an flock on its directory until
 * close, and memfs_store_rm() takes it too; a second one gets -EBUSY ("in use").
 *
 * Every function returns 0 or -errno and logs its failure once (src/log.h).
 * Handles are not thread-safe; a checkpoint handle must be closed before its store.
 */
#ifndef FERRY_MEMFS_H
#define FERRY_MEMFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MEMFS_DEFAULT_SPEC "dir:/run/ferry/store"
#define MEMFS_MAX_TREES 256
#define MEMFS_ID_MAX 48 /* including the NUL */

enum memfs_state {
	MEMFS_WRITING = 1,	/* being dumped into; never restored */
	MEMFS_SEALED = 2,	/* complete and checksummed: restorable */
	MEMFS_RESTORING = 3,	/* a restore started */
	MEMFS_RESTORED = 4,	/* restored; kept until `ferry store rm` */
	MEMFS_FAILED = 5,	/* a restore failed; images intact, retry with its id */
};

struct memfs_store;
struct memfs_ckpt;

/* What `ferry store ls` shows; filled from a manifest. */
struct memfs_ckpt_info {
	char id[MEMFS_ID_MAX];
	enum memfs_state state;
	unsigned int ntrees;
	unsigned int nimages;
	uint64_t bytes;			/* sum of the image sizes (0 while WRITING) */
	uint64_t created_ns;		/* CLOCK_REALTIME */
	char kernel[65];		/* uname -r of the dumping kernel */
	char boot_id[40];		/* /proc/sys/kernel/random/boot_id when dumped */
	char note[128];			/* why it FAILED, when it did */
};

/* --- stores ------------------------------------------------------------------------- */
/* SPEC NULL = MEMFS_DEFAULT_SPEC. Init makes the directory, or mkfs.ext4 on the device
 * (refusing a device that already holds a ferry store unless force). */
int memfs_store_init(const char *spec, bool force);
/* For dir: specs, init when there is no store yet (the default store lives in a tmpfs,
 * gone after a reboot); other specs are left alone. */
int memfs_store_ensure(const char *spec);
int memfs_store_open(const char *spec, struct memfs_store **out);
void memfs_store_close(struct memfs_store *s);
int memfs_store_free_bytes(struct memfs_store *s, uint64_t *bytes);
const char *memfs_store_spec(struct memfs_store *s);
const char *memfs_store_root(struct memfs_store *s); /* the directory (mount point) */
bool memfs_store_dax(struct memfs_store *s);	    /* pmem mounted with DAX */
/* Checkpoints in the store, oldest first; free *out with free(). A manifest that cannot
 * be read shows with state 0 and the reason in note. */
int memfs_store_list(struct memfs_store *s, struct memfs_ckpt_info **out, unsigned int *n);
/* Remove a checkpoint (any state) and its images. */
int memfs_store_rm(struct memfs_store *s, const char *id);

/* --- checkpoints ---------------------------------------------------------------------- */
int memfs_ckpt_create(struct memfs_store *s, struct memfs_ckpt **out);
/* The images directory of tree N (O_DIRECTORY, owned by the handle: do not close).
 * While WRITING it is created when missing (and ntrees grows to N+1). */
int memfs_ckpt_tree_dirfd(struct memfs_ckpt *c, unsigned int tree);
int memfs_ckpt_seal(struct memfs_ckpt *c);
/* Remove the partial checkpoint of a failed dump; the handle must still be closed. */
int memfs_ckpt_abort(struct memfs_ckpt *c);
int memfs_ckpt_open(struct memfs_store *s, const char *id, struct memfs_ckpt **out);
/* Check sizes and checksums again, without opening for restore (`ferry store verify`);
 * works for any state but WRITING. */
int memfs_ckpt_verify(struct memfs_store *s, const char *id);
unsigned int memfs_ckpt_ntrees(struct memfs_ckpt *c);
/* RESTORING, RESTORED or FAILED (note: why, or NULL); rewrites and fsyncs the manifest. */
int memfs_ckpt_set_state(struct memfs_ckpt *c, enum memfs_state st, const char *note);
const char *memfs_ckpt_id(struct memfs_ckpt *c);
/* Path of tree N's directory, for messages. */
const char *memfs_ckpt_tree_path(struct memfs_ckpt *c, unsigned int tree, char *buf,
				 size_t len);
void memfs_ckpt_info(struct memfs_ckpt *c, struct memfs_ckpt_info *info);
void memfs_ckpt_close(struct memfs_ckpt *c);

const char *memfs_state_name(enum memfs_state st);

/*
 * Image checksums: XXH3-64 (seed 0) of each MEMFS_SEG_SIZE segment of the file (the last
 * one shorter), then XXH3-64 of those digests as u64 in order. Segments can be hashed
 * apart, so the dump's copy threads hash the pages as they copy them, while they are in
 * cache, and hand the digests over with memfs_ckpt_put_digest(); seal hashes the rest.
 */
#define MEMFS_SEG_SIZE (2UL << 20)
static inline uint64_t memfs_nsegs(uint64_t size)
{
	return (size + MEMFS_SEG_SIZE - 1) / MEMFS_SEG_SIZE;
}
uint64_t memfs_seg_digest(const void *data, size_t len);
uint64_t memfs_digest_combine(const uint64_t *segs, uint64_t nsegs);
/* FILE of tree N was hashed while written (segs[memfs_nsegs(size)]); seal uses this
 * unless the file's size then differs. */
int memfs_ckpt_put_digest(struct memfs_ckpt *c, unsigned int tree, const char *file,
			  uint64_t size, const uint64_t *segs);
/* Ready-made dump_opts.pages_digest: arg is a struct memfs_tree_ref (checkpoint, tree). */
struct memfs_tree_ref {
	struct memfs_ckpt *c;
	unsigned int tree;
};
int memfs_pages_digest(void *tree_ref, const char *file, uint64_t size, const uint64_t *segs);

#endif
