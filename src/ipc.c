// SPDX-License-Identifier: MIT
/*
 * SysV IPC, both directions. A tree in its own IPC namespace has that namespace's shared
 * memory segments (with contents), semaphore sets (with values), message queues (with their
 * messages, read in place with MSG_COPY) and limits dumped into ipcns-*-1.img by a child
 * that setns()es into it; a restore recreates the namespace (unshare(CLONE_NEWIPC) in the
 * controller, before the first task) and every object under its old id (*_next_id
 * sysctls). Attached segments are areas VMA_AREA_SYSVIPC, re-attached with shmat().
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_PREFIX "ipc: "
#include "log.h"
#include "image.h"
#include "dtask.h"
#include "ipc.h"
#include "vma.h"
#include "ipc.pb-c.h"

#define IPC_NS_ID 1
#define MSG_BUF_MAX (1U << 20)	/* largest message text read or written */

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

/* ---- sysctls -------------------------------------------------------------------------- */

static int read_sysctl(const char *name, unsigned long long *vals, int n)
{
	char path[96];
	FILE *f;
	int i, got = 0;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	for (i = 0; i < n; i++)
		got += fscanf(f, "%llu", &vals[i]) == 1;
	fclose(f);
	return got == n ? 0 : -EIO;
}

static int write_sysctl(const char *name, const char *val)
{
	char path[96];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val)) {
		pr_perror("cannot set %s to %s", path, val);
		ret = -errno;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

static int set_next_id(const char *kind, int id)
{
	char name[48], val[16];

	snprintf(name, sizeof(name), "kernel/%s_next_id", kind);
	snprintf(val, sizeof(val), "%d", id);
	return write_sysctl(name, val);
}

/* The 32-bit sysctls of ipc_var_entry, in message order after sem_ctls. */
static const struct {
	const char *name;
	size_t off;
	bool optional;
} var_u32[] = {
	{ "kernel/msgmax", offsetof(IpcVarEntry, msg_ctlmax), false },
	{ "kernel/msgmnb", offsetof(IpcVarEntry, msg_ctlmnb), false },
	{ "kernel/msgmni", offsetof(IpcVarEntry, msg_ctlmni), false },
	{ "kernel/auto_msgmni", offsetof(IpcVarEntry, auto_msgmni), true },
	{ "kernel/shmmni", offsetof(IpcVarEntry, shm_ctlmni), false },
	{ "kernel/shm_rmid_forced", offsetof(IpcVarEntry, shm_rmid_forced), false },
	{ "fs/mqueue/queues_max", offsetof(IpcVarEntry, mq_queues_max), false },
	{ "fs/mqueue/msg_max", offsetof(IpcVarEntry, mq_msg_max), false },
	{ "fs/mqueue/msgsize_max", offsetof(IpcVarEntry, mq_msgsize_max), false },
};

/* kernel/{shm,sem,msg}_next_id: -1 (not stored) unless someone set them. */
static void read_next_ids(IpcVarEntry *v)
{
	static const char *const names[] = { "kernel/msg_next_id", "kernel/sem_next_id",
					     "kernel/shm_next_id" };
	protobuf_c_boolean *has[] = { &v->has_msg_next_id, &v->has_sem_next_id,
				      &v->has_shm_next_id };
	uint32_t *val[] = { &v->msg_next_id, &v->sem_next_id, &v->shm_next_id };
	char buf[32];
	size_t i;
	FILE *f;
	int x;

	for (i = 0; i < 3; i++) {
		snprintf(buf, sizeof(buf), "/proc/sys/%s", names[i]);
		f = fopen(buf, "re");
		if (f && fscanf(f, "%d", &x) == 1 && x >= 0)
			*has[i] = 1, *val[i] = x;
		if (f)
			fclose(f);
	}
}

static int dump_var(int dirfd)
{
	IpcVarEntry v = IPC_VAR_ENTRY__INIT;
	unsigned long long sem[4], x;
	uint32_t sem_ctls[4];
	size_t i;
	int ret;

	ret = read_sysctl("kernel/sem", sem, 4);
	if (ret) {
		pr_err("cannot read /proc/sys/kernel/sem: %s", strerror(-ret));
		return ret;
	}
	for (i = 0; i < 4; i++)
		sem_ctls[i] = sem[i];
	v.n_sem_ctls = 4;
	v.sem_ctls = sem_ctls;
	for (i = 0; i < sizeof(var_u32) / sizeof(var_u32[0]); i++) {
		ret = read_sysctl(var_u32[i].name, &x, 1);
		if (ret && !var_u32[i].optional) {
			pr_err("cannot read /proc/sys/%s: %s", var_u32[i].name, strerror(-ret));
			return ret;
		}
		*(uint32_t *)((char *)&v + var_u32[i].off) = ret ? 0 : x;
	}
	ret = read_sysctl("kernel/shmmax", &x, 1);
	v.shm_ctlmax = x;
	ret = ret ?: read_sysctl("kernel/shmall", &x, 1);
	v.shm_ctlall = x;
	if (ret) {
		pr_err("cannot read /proc/sys/kernel/shmmax or shmall: %s", strerror(-ret));
		return ret;
	}
	read_next_ids(&v);
	return img_write_one(dirfd, IMG_IPC_VAR, &v.base, IPC_NS_ID);
}

static int restore_var(const IpcVarEntry *v)
{
	char val[64];
	size_t i;
	int ret;

	if (v->n_sem_ctls != 4) {
		pr_err("ipcns-var-%d.img: %zu semaphore limits, expected 4", IPC_NS_ID,
		       v->n_sem_ctls);
		return -EINVAL;
	}
	snprintf(val, sizeof(val), "%u %u %u %u", v->sem_ctls[0], v->sem_ctls[1], v->sem_ctls[2],
		 v->sem_ctls[3]);
	ret = write_sysctl("kernel/sem", val);
	for (i = 0; !ret && i < sizeof(var_u32) / sizeof(var_u32[0]); i++) {
		if (var_u32[i].optional)
			continue;
		snprintf(val, sizeof(val), "%u", *(const uint32_t *)((const char *)v + var_u32[i].off));
		ret = write_sysctl(var_u32[i].name, val);
	}
	if (!ret) {
		snprintf(val, sizeof(val), "%llu", (unsigned long long)v->shm_ctlmax);
		ret = write_sysctl("kernel/shmmax", val);
	}
	if (!ret) {
		snprintf(val, sizeof(val), "%llu", (unsigned long long)v->shm_ctlall);
		ret = write_sysctl("kernel/shmall", val);
	}
	return ret;
}

/* ---- objects: common -------------------------------------------------------------------- */

static void desc_from(IpcDescEntry *d, const struct ipc_perm *p, int id)
{
	d->key = p->__key;
	d->uid = p->uid;
	d->gid = p->gid;
	d->cuid = p->cuid;
	d->cgid = p->cgid;
	d->mode = p->mode;
	d->id = id;
}

static void perm_to(struct ipc_perm *p, const IpcDescEntry *d)
{
	p->uid = d->uid;
	p->gid = d->gid;
	p->mode = d->mode & 0777;
}

/* The id an object got must be the one it had: the tasks use ids, not keys. */
static int check_id(const char *kind, int got, const IpcDescEntry *d)
{
	if (got < 0) {
		pr_perror("cannot create SysV %s %u (key %#x)", kind, d->id, d->key);
		return -errno;
	}
	if ((unsigned int)got == d->id)
		return 0;
	pr_err("SysV %s %u was created as %d (is CONFIG_CHECKPOINT_RESTORE off?)", kind, d->id,
	       got);
	return -EINVAL;
}

static int write_padded(struct img *img, const void *data, size_t len, size_t align)
{
	static const char zero[8];
	size_t pad = (align - len % align) % align;
	int ret = img_write_raw(img, data, len);

	return ret ?: img_write_raw(img, zero, pad);
}

static int read_padded(struct img *img, void *data, size_t len, size_t align)
{
	char pad[8];
	int ret = img_read_raw(img, data, len);

	return ret ?: img_read_raw(img, pad, (align - len % align) % align);
}

/* ---- shared memory ------------------------------------------------------------------------ */

static int dump_one_shm(struct img *img, int id, const struct shmid_ds *ds)
{
	IpcShmEntry e = IPC_SHM_ENTRY__INIT;
	IpcDescEntry d = IPC_DESC_ENTRY__INIT;
	void *p;
	int ret;

	desc_from(&d, &ds->shm_perm, id);
	e.desc = &d;
	e.size = ds->shm_segsz;
	p = shmat(id, NULL, SHM_RDONLY);
	if (p == (void *)-1) {
		pr_perror("cannot attach SysV shm %d to read it", id);
		return -errno;
	}
	ret = img_write_pb(img, &e.base);
	if (!ret)
		ret = write_padded(img, p, e.size, 4);
	shmdt(p);
	return ret;
}

static int dump_shm(int dirfd, unsigned int *count)
{
	struct shm_info info;
	struct shmid_ds ds;
	struct img *img;
	int max, i, id, ret = 0;

	max = shmctl(0, SHM_INFO, (struct shmid_ds *)&info);
	if (max < 0) {
		pr_perror("cannot list SysV shm segments");
		return -errno;
	}
	img = img_open(dirfd, IMG_IPC_SHM, O_WRONLY, IPC_NS_ID);
	if (!img)
		return -errno;
	for (i = 0; !ret && i <= max; i++) {
		id = shmctl(i, SHM_STAT, &ds);
		if (id < 0)
			continue;
		if (ds.shm_perm.mode & SHM_DEST) {
			pr_err("SysV shm %d is removed but still attached: not supported yet", id);
			ret = -EOPNOTSUPP;
			break;
		}
		ret = dump_one_shm(img, id, &ds);
		*count += !ret;
	}
	if (img_close(img) && !ret)
		ret = -EIO;
	return ret;
}

static int restore_one_shm(struct img *img, const IpcShmEntry *e)
{
	struct shmid_ds ds;
	int id, ret;
	void *p;

	if (e->size == 0 || e->size > (1ULL << 40)) {
		pr_err("%s: shm %u has a bad size %llu", img->name, e->desc->id,
		       (unsigned long long)e->size);
		return -EINVAL;
	}
	ret = set_next_id("shm", e->desc->id);
	if (ret)
		return ret;
	id = shmget(e->desc->key, e->size, IPC_CREAT | IPC_EXCL | (e->desc->mode & 0777));
	ret = check_id("shm segment", id, e->desc);
	if (ret)
		return ret;
	p = shmat(id, NULL, 0);
	if (p == (void *)-1) {
		pr_perror("cannot attach SysV shm %d to fill it", id);
		return -errno;
	}
	ret = read_padded(img, p, e->size, 4);
	shmdt(p);
	if (ret)
		return ret;
	memset(&ds, 0, sizeof(ds));
	perm_to(&ds.shm_perm, e->desc);
	if (shmctl(id, IPC_SET, &ds)) {
		pr_perror("cannot set the owner and mode of SysV shm %d", id);
		return -errno;
	}
	return 0;
}

/* ---- semaphores --------------------------------------------------------------------------- */

static int dump_sem(int dirfd, unsigned int *count)
{
	struct seminfo info;
	struct semid_ds ds;
	unsigned short *vals;
	struct img *img;
	int max, i, id, ret = 0;

	max = semctl(0, 0, SEM_INFO, (union semun){ .buf = (struct semid_ds *)&info });
	if (max < 0) {
		pr_perror("cannot list SysV semaphore sets");
		return -errno;
	}
	img = img_open(dirfd, IMG_IPC_SEM, O_WRONLY, IPC_NS_ID);
	if (!img)
		return -errno;
	for (i = 0; !ret && i <= max; i++) {
		IpcSemEntry e = IPC_SEM_ENTRY__INIT;
		IpcDescEntry d = IPC_DESC_ENTRY__INIT;

		id = semctl(i, 0, SEM_STAT, (union semun){ .buf = &ds });
		if (id < 0)
			continue;
		vals = calloc(ds.sem_nsems, sizeof(*vals));
		if (!vals || semctl(id, 0, GETALL, (union semun){ .array = vals }) < 0) {
			pr_perror("cannot read the values of SysV semaphore set %d", id);
			free(vals);
			ret = -errno ?: -ENOMEM;
			break;
		}
		desc_from(&d, &ds.sem_perm, id);
		e.desc = &d;
		e.nsems = ds.sem_nsems;
		ret = img_write_pb(img, &e.base);
		if (!ret)
			ret = write_padded(img, vals, e.nsems * sizeof(*vals), 8);
		free(vals);
		*count += !ret;
	}
	if (img_close(img) && !ret)
		ret = -EIO;
	return ret;
}

static int restore_one_sem(struct img *img, const IpcSemEntry *e)
{
	struct semid_ds ds;
	unsigned short *vals;
	int id, ret;

	if (e->nsems == 0 || e->nsems > 65536) {
		pr_err("%s: semaphore set %u has a bad size %u", img->name, e->desc->id, e->nsems);
		return -EINVAL;
	}
	vals = calloc(e->nsems, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	ret = read_padded(img, vals, e->nsems * sizeof(*vals), 8);
	if (!ret)
		ret = set_next_id("sem", e->desc->id);
	if (ret)
		goto out;
	id = semget(e->desc->key, e->nsems, IPC_CREAT | IPC_EXCL | (e->desc->mode & 0777));
	ret = check_id("semaphore set", id, e->desc);
	if (ret)
		goto out;
	memset(&ds, 0, sizeof(ds));
	perm_to(&ds.sem_perm, e->desc);
	if (semctl(id, 0, SETALL, (union semun){ .array = vals }) ||
	    semctl(id, 0, IPC_SET, (union semun){ .buf = &ds })) {
		pr_perror("cannot set the values of SysV semaphore set %d", id);
		ret = -errno;
	}
out:
	free(vals);
	return ret;
}

/* ---- message queues ----------------------------------------------------------------------- */

struct msg_buf {
	long mtype;
	char mtext[MSG_BUF_MAX];
};

static int dump_one_queue(struct img *img, int id, const struct msqid_ds *ds, struct msg_buf *m)
{
	IpcMsgEntry e = IPC_MSG_ENTRY__INIT;
	IpcDescEntry d = IPC_DESC_ENTRY__INIT;
	uint8_t hdr[32];
	unsigned long i;
	ssize_t n;
	int ret;

	desc_from(&d, &ds->msg_perm, id);
	e.desc = &d;
	e.qbytes = ds->msg_qbytes;
	e.qnum = ds->msg_qnum;
	ret = img_write_pb(img, &e.base);
	for (i = 0; !ret && i < ds->msg_qnum; i++) {
		IpcMsg msg = IPC_MSG__INIT;
		uint32_t len;

		n = msgrcv(id, m, sizeof(m->mtext), i, IPC_NOWAIT | MSG_COPY);
		if (n < 0) {
			pr_perror("cannot copy message %lu of SysV queue %d", i, id);
			return -errno;
		}
		msg.mtype = m->mtype;
		msg.msize = n;
		len = ipc_msg__pack(&msg, hdr);
		ret = img_write_raw(img, &len, sizeof(len));
		if (!ret)
			ret = img_write_raw(img, hdr, len);
		if (!ret)
			ret = write_padded(img, m->mtext, n, 8);
	}
	return ret;
}

static int dump_msg(int dirfd, unsigned int *count)
{
	struct msginfo info;
	struct msqid_ds ds;
	struct msg_buf *m;
	struct img *img;
	int max, i, id, ret = 0;

	max = msgctl(0, MSG_INFO, (struct msqid_ds *)&info);
	if (max < 0) {
		pr_perror("cannot list SysV message queues");
		return -errno;
	}
	m = malloc(sizeof(*m));
	img = m ? img_open(dirfd, IMG_IPC_MSG, O_WRONLY, IPC_NS_ID) : NULL;
	if (!img) {
		free(m);
		return -ENOMEM;
	}
	for (i = 0; !ret && i <= max; i++) {
		id = msgctl(i, MSG_STAT, &ds);
		if (id < 0)
			continue;
		ret = dump_one_queue(img, id, &ds, m);
		*count += !ret;
	}
	if (img_close(img) && !ret)
		ret = -EIO;
	free(m);
	return ret;
}

static int restore_one_msg(struct img *img, int id, struct msg_buf *m)
{
	IpcMsg *msg;
	uint8_t hdr[32];
	uint32_t len;
	int ret;

	ret = img_read_raw(img, &len, sizeof(len));
	if (!ret && len > sizeof(hdr)) {
		pr_err("%s: message header of %u bytes before offset %llu", img->name, len,
		       (unsigned long long)img->off);
		return -EINVAL;
	}
	if (!ret)
		ret = img_read_raw(img, hdr, len);
	if (ret)
		return ret;
	msg = ipc_msg__unpack(NULL, len, hdr);
	if (!msg || msg->msize > sizeof(m->mtext) || (long)msg->mtype <= 0) {
		pr_err("%s: bad message before offset %llu", img->name,
		       (unsigned long long)img->off);
		ipc_msg__free_unpacked(msg, NULL);
		return -EINVAL;
	}
	m->mtype = msg->mtype;
	len = msg->msize;
	ipc_msg__free_unpacked(msg, NULL);
	ret = read_padded(img, m->mtext, len, 8);
	if (!ret && msgsnd(id, m, len, IPC_NOWAIT)) {
		pr_perror("cannot queue a message of %u bytes on SysV queue %d", len, id);
		ret = -errno;
	}
	return ret;
}

static int restore_one_queue(struct img *img, const IpcMsgEntry *e, struct msg_buf *m)
{
	struct msqid_ds ds;
	unsigned int i;
	int id, ret;

	ret = set_next_id("msg", e->desc->id);
	if (ret)
		return ret;
	id = msgget(e->desc->key, IPC_CREAT | IPC_EXCL | (e->desc->mode & 0777));
	ret = check_id("message queue", id, e->desc);
	if (ret)
		return ret;
	memset(&ds, 0, sizeof(ds));
	perm_to(&ds.msg_perm, e->desc);
	ds.msg_qbytes = e->qbytes;
	if (msgctl(id, IPC_SET, &ds)) {
		pr_perror("cannot set the owner, mode and size of SysV queue %d", id);
		return -errno;
	}
	for (i = 0; !ret && i < e->qnum; i++)
		ret = restore_one_msg(img, id, m);
	return ret;
}

/* ---- the namespace ------------------------------------------------------------------------ */

static bool own_ipc_ns(pid_t pid, int *nsfd)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/ipc", pid);
	if (stat(path, &a) || stat("/proc/self/ns/ipc", &b))
		return false;
	if (a.st_ino == b.st_ino && a.st_dev == b.st_dev)
		return false;
	if (nsfd)
		*nsfd = open(path, O_RDONLY | O_CLOEXEC);
	return true;
}

int ipc_shm_vma(pid_t pid, const struct proc_vma *v, VmaEntry *e)
{
	unsigned long ino = v->ino;

	if (strncmp(v->path, "/SYSV", 5) || !strstr(v->path, " (deleted)") ||
	    !(e->flags & MAP_SHARED))
		return 1;
	if (v->pgoff) {
		pr_err("process %d: SysV shm %lu is attached at %#lx from offset %#lx (a split "
		       "attachment): not supported yet", pid, ino, (unsigned long)v->start,
		       (unsigned long)v->pgoff);
		return -EOPNOTSUPP;
	}
	if (!own_ipc_ns(pid, NULL)) {
		pr_err("process %d has SysV shm segment %lu attached at %#lx in the host's IPC "
		       "namespace: not supported (run it in an IPC namespace of its own, e.g. "
		       "unshare --ipc, and ferry dumps the segment with it)", pid, ino,
		       (unsigned long)e->start);
		return -EOPNOTSUPP;
	}
	e->status = VMA_AREA_REGULAR | VMA_AREA_SYSVIPC;
	e->shmid = ino;	/* a segment's inode number is its id */
	return 0;
}

/* In a child inside the tree's IPC namespace: every object into the images. */
static int dump_in_ns(int nsfd, int dirfd)
{
	unsigned int shm = 0, sem = 0, msg = 0;
	int ret;

	if (setns(nsfd, CLONE_NEWIPC)) {
		pr_perror("cannot enter the tree's IPC namespace");
		return -errno;
	}
	ret = dump_var(dirfd);
	if (!ret)
		ret = dump_shm(dirfd, &shm);
	if (!ret)
		ret = dump_sem(dirfd, &sem);
	if (!ret)
		ret = dump_msg(dirfd, &msg);
	if (!ret)
		pr_info("IPC namespace: %u shm segments, %u semaphore sets, %u message queues", shm,
			sem, msg);
	return ret;
}

int ipc_dump(pid_t pid, int dirfd, TaskKobjIdsEntry *ids)
{
	int nsfd = -1, status;
	pid_t child;

	if (!own_ipc_ns(pid, &nsfd))
		return 0;
	if (nsfd < 0) {
		pr_perror("cannot open the IPC namespace of %d", pid);
		return -errno;
	}
	child = fork();
	if (child == 0)
		_exit(dump_in_ns(nsfd, dirfd) ? 1 : 0);
	close(nsfd);
	if (child < 0) {
		pr_perror("cannot fork to dump the IPC namespace");
		return -errno;
	}
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status)) {
		pr_err("dumping the IPC namespace of %d failed", pid);
		return -EIO;
	}
	ids->has_ipc_ns_id = 1;
	ids->ipc_ns_id = IPC_NS_ID;
	return 0;
}

static int same_ns(pid_t a, pid_t b)
{
	char pa[64], pb[64];
	struct stat sa, sb;

	snprintf(pa, sizeof(pa), "/proc/%d/ns/ipc", a);
	snprintf(pb, sizeof(pb), "/proc/%d/ns/ipc", b);
	if (stat(pa, &sa) || stat(pb, &sb)) {
		pr_perror("cannot compare the IPC namespaces of %d and %d", a, b);
		return -errno;
	}
	return sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

int ipc_dump_tree(struct dtask **tasks, size_t n, int dirfd)
{
	size_t i;
	int ret;

	for (i = 1; i < n; i++) {
		if (tasks[i]->zombie)
			continue;
		ret = same_ns(tasks[0]->pid, tasks[i]->pid);
		if (ret < 0)
			return ret;
		if (!ret) {
			pr_err("task %d is in another IPC namespace than the root %d: nested IPC "
			       "namespaces are not supported yet", tasks[i]->pid, tasks[0]->pid);
			return -EOPNOTSUPP;
		}
	}
	ret = ipc_dump(tasks[0]->pid, dirfd, &tasks[0]->ids);
	for (i = 1; !ret && i < n; i++) {
		tasks[i]->ids.has_ipc_ns_id = tasks[0]->ids.has_ipc_ns_id;
		tasks[i]->ids.ipc_ns_id = tasks[0]->ids.ipc_ns_id;
	}
	return ret;
}

/* Read every entry of one object image and recreate it with fn. */
static int restore_objects(int dirfd, enum img_type type, const ProtobufCMessageDescriptor *desc,
			   int (*fn)(struct img *, const void *, struct msg_buf *),
			   struct msg_buf *m)
{
	struct img *img = img_open(dirfd, type, O_RDONLY, IPC_NS_ID);
	void *e;
	int ret;

	if (!img)
		return -errno;
	while ((ret = img_read_pb(img, desc, &e)) > 0) {
		ret = fn(img, e, m);
		img_free_pb(e);
		if (ret)
			break;
	}
	img_close(img);
	return ret;
}

static int shm_fn(struct img *img, const void *e, struct msg_buf *m)
{
	return restore_one_shm(img, e);
}

static int sem_fn(struct img *img, const void *e, struct msg_buf *m)
{
	return restore_one_sem(img, e);
}

static int msg_fn(struct img *img, const void *e, struct msg_buf *m)
{
	return restore_one_queue(img, e, m);
}

int ipc_restore(int dirfd, const TaskKobjIdsEntry *ids)
{
	IpcVarEntry *var = NULL;
	struct msg_buf *m;
	int ret;

	if (!ids->has_ipc_ns_id)
		return 0;
	if (ids->ipc_ns_id != IPC_NS_ID) {
		pr_err("ids: IPC namespace id %u, expected %d", ids->ipc_ns_id, IPC_NS_ID);
		return -EINVAL;
	}
	ret = img_read_one(dirfd, IMG_IPC_VAR, &ipc_var_entry__descriptor, (void **)&var,
			   IPC_NS_ID);
	if (ret)
		return ret;
	if (unshare(CLONE_NEWIPC)) {
		pr_perror("cannot create an IPC namespace for the restored tree");
		img_free_pb(var);
		return -errno;
	}
	m = malloc(sizeof(*m));
	ret = m ? restore_var(var) : -ENOMEM;
	if (!ret)
		ret = restore_objects(dirfd, IMG_IPC_SHM, &ipc_shm_entry__descriptor, shm_fn, m);
	if (!ret)
		ret = restore_objects(dirfd, IMG_IPC_SEM, &ipc_sem_entry__descriptor, sem_fn, m);
	if (!ret)
		ret = restore_objects(dirfd, IMG_IPC_MSG, &ipc_msg_entry__descriptor, msg_fn, m);
	/* next ids set in the dumped namespace (each use resets them: unset is the default) */
	if (!ret && var->has_shm_next_id)
		ret = set_next_id("shm", var->shm_next_id);
	if (!ret && var->has_sem_next_id)
		ret = set_next_id("sem", var->sem_next_id);
	if (!ret && var->has_msg_next_id)
		ret = set_next_id("msg", var->msg_next_id);
	free(m);
	img_free_pb(var);
	return ret;
}

int ipc_premap_shm(const VmaEntry *v, void *at)
{
	int flags = SHM_REMAP | (v->prot & PROT_WRITE ? 0 : SHM_RDONLY);
	struct shmid_ds ds;
	void *p;

	if (shmctl(v->shmid, IPC_STAT, &ds) ||
	    ((ds.shm_segsz + 4095) & ~4095UL) != v->end - v->start) {
		pr_err("VMA %#lx: SysV shm %lu is missing or of another size",
		       (unsigned long)v->start, (unsigned long)v->shmid);
		return -EINVAL;
	}
	p = shmat(v->shmid, at, flags);
	if (p == (void *)-1) {
		pr_perror("cannot attach SysV shm %lu for VMA %#lx", (unsigned long)v->shmid,
			  (unsigned long)v->start);
		return -errno;
	}
	return 0;
}
