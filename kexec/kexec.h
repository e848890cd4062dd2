/* SPDX-License-Identifier: MIT */
/*
 * kexec: the next kernel's command line, loading it with kexec-tools (the `kexec` binary:
 * kexec -l / -u / -e), and the whole `ferry upgrade` journey built on the dump engine and
 * the image store (memfs). See kexec/README.md.
 */
#ifndef FERRY_KEXEC_H
#define FERRY_KEXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "net.h"

#define KEXEC_CMDLINE_MAX 4096

/*
 * The next kernel's command line: CURRENT (this boot's /proc/cmdline) without the words
 * the boot loader or an earlier upgrade put there (BOOT_IMAGE=, initrd=, ferry.restore=),
 * then "ferry.restore=SPEC" (when spec is set), then APPEND. memmap= (the pmem region)
 * and everything else is kept. -ENAMETOOLONG when it does not fit in LEN.
 */
int kexec_cmdline_build(const char *current, const char *spec, const char *append, char *out,
			size_t len);
/* This boot's command line, without the trailing newline. */
int kexec_cmdline_current(char *out, size_t len);

/* The kexec-tools binary: $FERRY_KEXEC, else kexec in PATH, /sbin or /usr/sbin. */
const char *kexec_binary(void);
/* kexec -l KERNEL [--initrd INITRD] --command-line CMDLINE; its stderr is logged. */
int kexec_load(const char *kernel, const char *initrd, const char *cmdline);
int kexec_unload(void);
/* /sys/kernel/kexec_loaded */
bool kexec_is_loaded(void);
/* sync, then kexec -e: returns only on failure. */
int kexec_exec(void);

struct upgrade_opts {
	const char *kernel;		/* --kernel */
	const char *initrd;		/* --initrd, may be NULL */
	const char *append;		/* --append, may be NULL */
	const char *store;		/* --store SPEC, NULL: the default store */
	pid_t *trees;			/* -t, at least one */
	unsigned int ntrees;
	bool dry_run;			/* everything but the kill and the kexec -e */
	struct net_externals externals;	/* --external veth[..]:.., for every tree */
	uint64_t ghost_limit;		/* --ghost-limit, as for dump */
	bool file_locks;		/* --file-locks */
	unsigned int sk_flags;		/* --tcp-close, --tcp-established: SK_* (sockets.h) */
};

/* `ferry upgrade`: pre-flight, dump every tree into one checkpoint, seal, load, kill,
 * kexec -e. Any failure before the kill resumes every tree and says why. */
int upgrade_run(const struct upgrade_opts *o);

#endif
