/* SPDX-License-Identifier: MIT */
/*
 * The dump engine: seize a tree, collect its state, write the images, release it.
 * See doc/images.md for what each image holds. On any failure before the images are
 * complete, every task is resumed exactly as it was and the partial images are removed.
 */
#ifndef FERRY_DUMP_H
#define FERRY_DUMP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "net.h"

enum dump_release {
	DUMP_KILL,		/* default: the tree is killed once the images are complete */
	DUMP_LEAVE_RUNNING,	/* -R */
	DUMP_LEAVE_STOPPED,	/* --leave-stopped: detached, each task stopped with SIGSTOP */
};

#define DUMP_DEFAULT_GHOST_LIMIT (1ULL << 20)	/* --ghost-limit: CRIU's default */

/* Files on tmpfs/ramfs (gone after a reboot): how the dump reports them (reg-file.c). */
enum dump_volatile {
	DUMP_VOLATILE_LOG,	/* -D: the images are for this boot, most likely: logged */
	DUMP_VOLATILE_WARN,	/* --store: a checkpoint may be restored after a reboot */
	DUMP_VOLATILE_REFUSE,	/* upgrade: the restore runs in the next kernel */
};

struct dump_opts {
	pid_t pid;			/* -t: root of the tree */
	int dirfd;			/* the images directory, open */
	const char *images_dir;		/* its path, for messages */
	enum dump_release release;
	bool shell_job;			/* -j: the tree may sit on the caller's terminal */
	const char *freeze_cgroup;	/* --freeze-cgroup: the tree's cgroup v2 directory */
	bool dry_run;			/* seize and collect, then resume: nothing written */
	struct net_externals externals;	/* --external veth[..]:.. */
	/*
	 * Optional: called once the images are complete, before the tree is released. If it
	 * fails, the dump fails as any other would: the tree is resumed as it was. A store
	 * seals its checkpoint here, so that a tree is never killed for an unsealed one.
	 */
	int (*images_done)(void *arg);
	void *images_done_arg;
	/*
	 * Optional: the page copy hashes pages-N.img as it writes it (memfs.h's segmented
	 * XXH3, segs[memfs_nsegs(size)]) and hands the digests over here, so that a store's
	 * seal need not read the pages again. A failure fails the dump.
	 */
	int (*pages_digest)(void *arg, const char *file, uint64_t size, const uint64_t *segs);
	void *pages_digest_arg;
	unsigned int sk_flags;		/* SK_* of sockets.h */
	uint64_t ghost_limit;		/* --ghost-limit: largest unlinked file saved, bytes */
	bool file_locks;		/* --file-locks: save and restore file locks */
	enum dump_volatile volatile_files;
	bool host_net;			/* save the links of the TCP connections (upgrade) */
	/*
	 * Optional (ferry upgrade, which kills the stopped trees only once all are dumped):
	 * the TCP connections stay in repair and locked after the dump, handed over here;
	 * the caller ends them with tcp_hold_release() once it killed or resumed the tree.
	 */
	struct tcp_hold *tcp_hold;
	/*
	 * For a caller that is not root (the RPC's): every thread of the tree must have all
	 * of its uids owner, all of its gids owner_gid, no capability and be dumpable, or the
	 * dump is refused; the tasks are checked before any is stopped, and again once seized.
	 */
	bool check_owner;
	uid_t owner;
	gid_t owner_gid;
};

/* A dumped tree's TCP connections, still in repair and locked (dump_opts.tcp_hold). */
struct tcp_hold {
	pid_t pid;	/* the tree's root, which names its lock */
	struct tcp_held {
		int sk;		/* our copy of the socket */
		int reuseaddr;	/* its SO_REUSEADDR, for when it leaves repair */
	} *socks;
	size_t n;
};

/*
 * Killed: close the copies, silently in repair mode; the lock stays for the restore.
 * Else (the tree resumes): repair off, close, unlock, before the tree runs again.
 */
void tcp_hold_release(struct tcp_hold *h, bool killed);

int dump_tree(const struct dump_opts *opts);


#endif
