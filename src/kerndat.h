/* SPDX-License-Identifier: MIT */
/*
 * kerndat: what the running kernel can do for ferry, found by trying each interface (never by
 * reading a config file). Lifecycle: kerndat_init() zeroes the struct, kerndat_probe() runs
 * every probe (or kerndat_probe_one() a single feature), then read kd->has[] or the named
 * extras. `ferry check` prints kerndat_features[]; the engines may probe what they rely on.
 */
#ifndef FERRY_KERNDAT_H
#define FERRY_KERNDAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum kerndat_id {
	/* required */
	KD_PTRACE_SEIZE,
	KD_PTRACE_XSTATE,
	KD_PTRACE_PEEKSIGINFO,
	KD_PTRACE_SIGMASK,
	KD_PROCESS_VM_READV,
	KD_PAGEMAP,
	KD_KCMP_FILE,
	KD_CLONE3_SET_TID,
	KD_PRCTL_MM_MAP,
	KD_PRCTL_TID_ADDRESS,
	KD_VDSO_MREMAP,
	KD_RSEQ,
	KD_PTRACE_RSEQ,
	KD_PIDFD_OPEN,
	KD_PIDFD_GETFD,
	KD_MEMFD,
	/* optional */
	KD_SOFT_DIRTY,
	KD_PAGEMAP_SCAN,
	KD_UFFD,
	KD_UFFD_WP_ASYNC,
	KD_TIMENS,
	KD_TCP_REPAIR,
	KD_NETLOCK,
	KD_KEXEC_FILE,
	KD_CAP_SYS_RESOURCE,
	KD_NR
};

#define KD_WHY_LEN 128
#define KD_DETAIL_LEN 192

struct kerndat {
	bool probed[KD_NR];
	bool has[KD_NR];
	char why[KD_NR][KD_WHY_LEN];	   /* one short reason, always set once probed */
	char detail[KD_NR][KD_DETAIL_LEN]; /* what was seen, for `ferry check -v` */

	uint32_t xstate_size;	  /* bytes of NT_X86_XSTATE for a task */
	uint64_t xfeatures;	  /* XCR0, as ptrace reports it with the xstate */
	uint32_t rseq_size;	  /* size of glibc's registered rseq area, 0 if none */
	uint32_t rseq_sig;	  /* its signature */
	uint32_t prctl_mm_map_size;
	uint64_t uffd_features;	  /* UFFDIO_API features offered */
};

struct kerndat_feature {
	enum kerndat_id id;
	const char *name;	/* for --feature NAME */
	const char *what;	/* what it is needed for */
	bool required;
};

extern const struct kerndat_feature kerndat_features[KD_NR];

void kerndat_init(struct kerndat *kd);
/* Probe every feature; returns 0 if all required ones are present, -ENOTSUP otherwise. */
int kerndat_probe(struct kerndat *kd);
/* Probe one feature (and the ones probed together with it); returns 0 if present. */
int kerndat_probe_one(struct kerndat *kd, enum kerndat_id id);
const struct kerndat_feature *kerndat_find(const char *name);

#endif
