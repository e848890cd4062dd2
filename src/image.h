/* SPDX-License-Identifier: MIT */
/*
 * Image files in CRIU's format: a 32-bit magic (two for "images v1.1": IMG_COMMON or
 * IMG_SERVICE, then the image's own), then entries of <u32 size><protobuf message>.
 * pages-N.img is raw page data with no magic. Reading treats the file as hostile:
 * every failure names the file and the byte offset where it happened.
 *
 * Lifecycle: img_open() -> img_write_pb()/img_read_pb() ... -> img_close().
 */
#ifndef FERRY_IMAGE_H
#define FERRY_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <protobuf-c/protobuf-c.h>

/* The image kinds ferry writes; each has a file name pattern and a magic. */
enum img_type {
	IMG_INVENTORY,	/* inventory.img: InventoryEntry */
	IMG_PSTREE,	/* pstree.img: PstreeEntry per process */
	IMG_CORE,	/* core-<tid>.img: CoreEntry */
	IMG_IDS,	/* ids-<pid>.img: TaskKobjIdsEntry */
	IMG_MM,		/* mm-<pid>.img: MmEntry with the VMAs */
	IMG_PAGEMAP,	/* pagemap-<pid>.img: PagemapHead, PagemapEntry... */
	IMG_PAGES,	/* pages-<id>.img: raw pages, no magic */
	IMG_FILES,	/* files.img: FileEntry per open file description */
	IMG_FDINFO,	/* fdinfo-<files_id>.img: FdinfoEntry per fd */
	IMG_FS,		/* fs-<pid>.img: FsEntry */
	IMG_PIPES_DATA,	/* pipes-data.img: PipeDataEntry + raw bytes per pipe */
	IMG_FIFO_DATA,	/* fifo-data.img: the same for FIFOs */
	IMG_REMAP_FPATH,	/* remap-fpath.img: RemapFilePathEntry per deleted file */
	IMG_GHOST_FILE,	/* ghost-file-<id %x>.img: GhostFileEntry + contents */
	IMG_FILE_LOCKS,	/* file-locks.img: FileLockEntry per lock */
	IMG_MEMFD_INODE,	/* memfd.img: MemfdInodeEntry per memfd inode */
	IMG_SHMEM_PAGEMAP,	/* pagemap-shmem-<shmid>.img: PagemapHead, PagemapEntry... */
	IMG_TTY_INFO,	/* tty-info.img: TtyInfoEntry per side of a pty */
	IMG_TTY_DATA,	/* tty-data.img: TtyDataEntry per side with bytes queued */
	IMG_STATS,	/* stats-dump / stats-restore: StatsEntry (service magic) */
	IMG_TIMENS,	/* timens-<id>.img: TimensEntry, the tree's clocks at dump */
	IMG_IPC_VAR,	/* ipcns-var-<id>.img: IpcVarEntry */
	IMG_IPC_SHM,	/* ipcns-shm-<id>.img: IpcShmEntry + contents, per segment */
	IMG_IPC_SEM,	/* ipcns-sem-<id>.img: IpcSemEntry + values, per set */
	IMG_IPC_MSG,	/* ipcns-msg-<id>.img: IpcMsgEntry + messages, per queue */
	IMG_SECCOMP,	/* seccomp.img: SeccompEntry */
	IMG_NETDEV,	/* netdev-<id>.img: NetDeviceEntry per link of a net namespace */
	IMG_NETNS,	/* netns-<id>.img: NetnsEntry, its sysctls and routes */
	IMG_CGROUP,	/* cgroup.img: CgroupEntry, the tasks' cgroup sets */
	IMG_SK_QUEUES,	/* sk-queues.img: SkPacketEntry + raw data per queued message */
	IMG_TCP_STREAM,	/* tcp-stream-<ino hex>.img: TcpStreamEntry + queues */
	IMG_HOST_NETDEV,	/* host-netdev.img: NetDeviceEntry per host link of the connections */
	IMG_HOST_NETNS,	/* host-netns.img: NetnsEntry, the routes through those links */
	IMG_NR_TYPES,
};

#define IMG_COMMON_MAGIC 0x54564319U
#define IMG_SERVICE_MAGIC 0x55105940U
#define IMG_VERSION_V1_1 2 /* inventory img_version */

/* Largest protobuf entry accepted when reading: bounds a hostile size field. */
#define IMG_MAX_ENTRY (64U << 20)

/* flags for img_open() besides O_RDONLY / O_WRONLY */
#define IMG_OPTIONAL 0x40000000 /* a missing file is not an error: NULL, errno ENOENT */

struct img {
	int fd;
	int flags;
	enum img_type type;
	char name[96];		/* file name for messages */
	uint64_t off;		/* offset in the file of the next byte read or written */
	unsigned char *buf;	/* write buffer / read buffer */
	size_t buf_len, buf_pos;
	size_t buf_size;
};

struct img *img_open(int dirfd, enum img_type type, int flags, ...);

/*
 * From now on every image file is a new file owned by uid:gid: O_EXCL, so never an
 * existing name, link or mount point the owner put there, and fchown'ed on its fd (the
 * RPC's client that is not root). uid (uid_t)-1: the default again (root's files,
 * replacing what is there).
 */
void img_set_owner(uid_t uid, gid_t gid);
/* Create image file name in dirfd for acc (O_WRONLY, O_RDWR) as img_set_owner says. */
int img_create(int dirfd, const char *name, int acc);
int img_close(struct img *img);

/* Append one message; returns 0 or -errno (logged). */
int img_write_pb(struct img *img, const ProtobufCMessage *msg);
/* Read the next message: 1 and *msg set, 0 at a clean end of file, -errno (logged). */
int img_read_pb(struct img *img, const ProtobufCMessageDescriptor *desc, void **msg);
/* Raw payload after an entry, or pages. Reads are exact: a short file is an error. */
int img_write_raw(struct img *img, const void *data, size_t len);
int img_read_raw(struct img *img, void *data, size_t len);

/* Single-entry images: open, read exactly one message, close. */
int img_read_one(int dirfd, enum img_type type, const ProtobufCMessageDescriptor *desc,
		 void **msg, ...);
int img_write_one(int dirfd, enum img_type type, const ProtobufCMessage *msg, ...);

const char *img_type_name(enum img_type type);
void img_free_pb(void *msg);

#endif
