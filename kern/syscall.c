// SPDX-License-Identifier: MIT
/*
 * System calls: Linux x86-64 numbers and semantics for the subset static musl programs use,
 * and Dyad's own calls from DYAD_SYS_BASE. Arguments are untrusted: every pointer goes through
 * uaccess, every length and flag is checked, and errors come back as -errno.
 */
#include <asm/prctl.h>
#include <asm/stat.h>
#include <asm/unistd_64.h>
#include <asm-generic/ioctls.h>
#include <asm-generic/termios.h>
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <linux/stat.h>
#include <linux/mman.h>
#include <linux/time.h>
#include <linux/time_types.h>
#include <linux/utsname.h>

#include <arch/x86/asm.h>
#include <arch/x86/memlayout.h>
#include <arch/x86/trap.h>
#include <arch/x86/user.h>
#include <dyad/blk.h>
#include <dyad/console.h>
#include <dyad/errno.h>
#include <dyad/futex.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>
#include <dyad/proc.h>
#include <dyad/sched.h>
#include <dyad/string.h>
#include <dyad/time.h>
#include <dyad/uaccess.h>
#include <dyad/ustack.h>
#include <dyad/vcpu.h>
#include <dyad/mm.h>
#include <uapi/dyad/abi.h>

#define PATH_MAX_LEN 256
#define IOV_MAX_COUNT 1024
#define IO_CHUNK 512

struct user_iovec {
	u64 base;
	u64 len;
};

typedef long (*syscall_fn)(u64 a0, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5);

static struct fd *fd_get(int fd)
{
	struct proc *p = proc_current;

	if (fd < 0 || fd >= PROC_MAX_FDS || p->fds[fd].kind == FD_NONE)
		return NULL;
	return &p->fds[fd];
}

static long sys_read(u64 fd, u64 buf, u64 len, u64 a3, u64 a4, u64 a5)
{
	struct fd *f = fd_get((int)fd);
	char chunk[IO_CHUNK];

	if (!f)
		return -EBADF;
	if ((s64)len < 0)
		return -EINVAL;
	if (f->kind == FD_CONSOLE) {
		/* Blocks for the first byte (O_NONBLOCK: -EAGAIN), then takes what is waiting. */
		u64 n = 0;
		while (n < MIN(len, sizeof(chunk))) {
			int c = n || (f->flags & O_NONBLOCK) ? console_trygetc() : console_getc();
			if (c < 0)
				break;
			chunk[n++] = (char)c;
		}
		if (!n && len && (f->flags & O_NONBLOCK))
			return -EAGAIN;
		return copy_to_user(buf, chunk, n) ? -EFAULT : (long)n;
	}
	if (f->kind != FD_MODULE)
		return -EINVAL; /* VM and vCPU descriptors are not read */
	u64 size = f->mod->end - f->mod->start;
	u64 n = f->pos < size ? MIN(len, size - f->pos) : 0;
	if (copy_to_user(buf, (u8 *)pmem_va(f->mod->start) + f->pos, n))
		return -EFAULT;
	f->pos += n;
	return (long)n;
}

/* Writes @len bytes at user @buf to the console; returns bytes written or -EFAULT. */
static long console_write_user(u64 buf, u64 len)
{
	char chunk[IO_CHUNK];
	u64 done = 0;

	while (done < len) {
		u64 n = MIN(len - done, sizeof(chunk));
		if (copy_from_user(chunk, buf + done, n))
			return done ? (long)done : -EFAULT;
		console_write(chunk, n);
		done += n;
	}
	return (long)done;
}

static long sys_write(u64 fd, u64 buf, u64 len, u64 a3, u64 a4, u64 a5)
{
	struct fd *f = fd_get((int)fd);

	if (!f || f->kind != FD_CONSOLE)
		return -EBADF; /* modules are read-only */
	if ((s64)len < 0)
		return -EINVAL;
	return console_write_user(buf, len);
}

static long sys_writev(u64 fd, u64 iov, u64 cnt, u64 a3, u64 a4, u64 a5)
{
	struct fd *f = fd_get((int)fd);
	long total = 0;

	if (!f || f->kind != FD_CONSOLE)
		return -EBADF;
	if ((s64)cnt < 0 || cnt > IOV_MAX_COUNT)
		return -EINVAL;
	for (u64 i = 0; i < cnt; i++) {
		struct user_iovec v;
		if (copy_from_user(&v, iov + i * sizeof(v), sizeof(v)))
			return total ? total : -EFAULT;
		if ((s64)v.len < 0)
			return -EINVAL;
		long n = console_write_user(v.base, v.len);
		if (n < 0)
			return total ? total : n;
		total += n;
	}
	return total;
}

/* openat of a block device node (include/dyad/blk.h): the lowest free descriptor holds it. */
static long blk_open_fd(struct proc *p, const char *path, u64 flags)
{
	for (int fd = 0; fd < PROC_MAX_FDS; fd++) {
		if (p->fds[fd].kind == FD_NONE) {
			int err = blk_fd_open(path, flags, &p->fds[fd]);
			return err ? err : fd;
		}
	}
	return -EMFILE;
}

static long sys_openat(u64 dirfd, u64 upath, u64 flags, u64 mode, u64 a4, u64 a5)
{
	struct proc *p = proc_current;
	char path[PATH_MAX_LEN];
	long n = strncpy_from_user(path, upath, sizeof(path));

	if (n < 0)
		return n;
	if (n == 0)
		return -ENOENT;
	if (blk_path(path))
		return blk_open_fd(p, path, flags);
	const struct boot_module *m = bootinfo_module(kernel_boot_info(), path);
	if (!m)
		return (flags & O_CREAT) ? -EROFS : -ENOENT;
	if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))
		return -EROFS;
	/* Threads open and close at once: a slot is claimed under the process's lock. */
	spin_lock(&p->lock);
	for (int fd = 0; fd < PROC_MAX_FDS; fd++) {
		if (p->fds[fd].kind == FD_NONE) {
			p->fds[fd] = (struct fd){ .kind = FD_MODULE, .mod = m };
			spin_unlock(&p->lock);
			return fd;
		}
	}
	spin_unlock(&p->lock);
	return -EMFILE;
}

static long sys_pread64(u64 fd, u64 buf, u64 len, u64 off, u64 a4, u64 a5)
{
	struct fd *f = fd_get((int)fd);

	if (!f)
		return -EBADF;
	if (f->kind == FD_BLK)
		return blk_fd_pread(f, buf, len, (s64)off);
	if (f->kind == FD_CONSOLE)
		return -ESPIPE;
	if (f->kind != FD_MODULE || (s64)off < 0 || (s64)len < 0)
		return -EINVAL;
	u64 size = f->mod->end - f->mod->start;
	u64 n = off < size ? MIN(len, size - off) : 0;
	return copy_to_user(buf, (u8 *)pmem_va(f->mod->start) + off, n) ? -EFAULT : (long)n;
}

static long sys_pwrite64(u64 fd, u64 buf, u64 len, u64 off, u64 a4, u64 a5)
{
	struct fd *f = fd_get((int)fd);

	if (!f)
		return -EBADF;
	if (f->kind == FD_BLK)
		return blk_fd_pwrite(f, buf, len, (s64)off);
	return f->kind == FD_CONSOLE ? -ESPIPE : -EBADF;
}

/* fsync and fdatasync: a block device's write cache is flushed; nothing else is cached. */
static long sys_fsync(u64 fd, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5)
{
	struct fd *f = fd_get((int)fd);

	if (!f)
		return -EBADF;
	if (f->kind == FD_BLK)
		return blk_fd_fsync(f);
	return f->kind == FD_CONSOLE ? -EINVAL : 0;
}

static long sys_open(u64 upath, u64 flags, u64 mode, u64 a3, u64 a4, u64 a5)
{
	return sys_openat((u64)AT_FDCWD, upath, flags, mode, 0, 0);
}

static long sys_close(u64 fd, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5)
{
	struct proc *p = proc_current;
	struct fd *f, gone;

	/* Taken out under the lock, so that two threads cannot both close one descriptor. */
	spin_lock(&p->lock);
	f = fd_get((int)fd);
	if (!f) {
		spin_unlock(&p->lock);
		return -EBADF;
	}
	gone = *f;
	*f = (struct fd){ .kind = FD_NONE };
	spin_unlock(&p->lock);
	if (gone.kind == FD_VM || gone.kind == FD_VCPU)
		vcpu_fd_release(&gone);
	if (gone.kind == FD_BLK)
		blk_fd_release(&gone);
	return 0;
}

static long sys_fcntl(u64 fd, u64 cmd, u64 arg, u64 a3, u64 a4, u64 a5)
{
	struct fd *f = fd_get((int)fd);

	if (!f)
		return -EBADF;
	switch (cmd) {
	case F_GETFL:
		if (f->kind == FD_BLK)
			return f->access | f->flags;
		return (f->kind == FD_MODULE ? O_RDONLY : O_RDWR) | f->flags;
	case F_SETFL:
		f->flags = (u32)(arg & O_NONBLOCK); /* the one status flag Dyad has */
		return 0;
	case F_GETFD:
	case F_SETFD:
		return 0; /* there is no exec: close-on-exec changes nothing */
	default:
		return -EINVAL;
	}
}

static long sys_lseek(u64 fd, u64 off, u64 whence, u64 a3, u64 a4, u64 a5)
{
	struct fd *f = fd_get((int)fd);
	s64 base;

	if (!f)
		return -EBADF;
	if (f->kind != FD_MODULE && f->kind != FD_BLK)
		return -ESPIPE;
	switch (whence) {
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		base = (s64)f->pos;
		break;
	case SEEK_END:
		base = f->kind == FD_BLK ? (s64)blk_fd_size(f) : (s64)(f->mod->end - f->mod->start);
		break;
	default:
		return -EINVAL;
	}
	s64 pos;
	if (__builtin_add_overflow(base, (s64)off, &pos) || pos < 0)
		return -EINVAL;
	f->pos = (u64)pos;
	return pos;
}

static long sys_fstat(u64 fd, u64 ustat, u64 a2, u64 a3, u64 a4, u64 a5)
{
	struct fd *f = fd_get((int)fd);
	struct stat st = { 0 };

	if (!f)
		return -EBADF;
	st.st_blksize = PAGE_SIZE;
	st.st_nlink = 1;
	st.st_ino = (u64)fd + 1;
	if (f->kind == FD_CONSOLE) {
		st.st_mode = S_IFCHR | 0620;
		st.st_rdev = (4 << 8) | 64; /* ttyS0 */
	} else if (f->kind == FD_BLK) {
		st.st_mode = S_IFBLK | 0660;
		st.st_rdev = blk_fd_rdev(f);
		/* Linux says 0 here (BLKGETSIZE64 or lseek SEEK_END give the size): the size is more use. */
		st.st_size = (s64)blk_fd_size(f);
		st.st_blksize = 4096;
	} else if (f->kind != FD_MODULE) {
		st.st_mode = S_IFREG | 0600; /* VM and vCPU: anonymous kernel objects */
	} else {
		st.st_mode = S_IFREG | 0444;
		st.st_size = (s64)(f->mod->end - f->mod->start);
		st.st_blocks = (st.st_size + 511) / 512;
		st.st_ino = f->mod - kernel_boot_info()->modules + 100;
	}
	return copy_to_user(ustat, &st, sizeof(st));
}

static long sys_ioctl(u64 fd, u64 req, u64 arg, u64 a3, u64 a4, u64 a5)
{
	struct fd *f = fd_get((int)fd);

	if (!f)
		return -EBADF;
	if (f->kind == FD_CONSOLE && req == TIOCGWINSZ) {
		/* The console is a terminal: musl line-buffers stdout when this succeeds. */
		struct winsize ws = { .ws_row = 24, .ws_col = 80 };
		return copy_to_user(arg, &ws, sizeof(ws));
	}
	if (f->kind == FD_VM || f->kind == FD_VCPU)
		return vcpu_ioctl(f, req, arg);
	if (f->kind == FD_BLK)
		return blk_fd_ioctl(f, req, arg);
	return -ENOTTY;
}

/* kern/mm.c locks the regions itself (the address space's region lock): threads map at once. */
static long sys_mmap(u64 addr, u64 len, u64 prot, u64 flags, u64 fd, u64 off)
{
	struct proc *p = proc_current;

	if (len > USER_TOP)
		return -ENOMEM; /* as Linux: larger than any address space */
	if (!(flags & MAP_ANONYMOUS) && fd < PROC_MAX_FDS &&
	    (p->fds[fd].kind == FD_VCPU || p->fds[fd].kind == FD_VM))
		return vcpu_mmap(&p->fds[fd], addr, len, (u32)prot, (u32)flags, off);
	return mm_mmap(p, addr, len, (u32)prot, (u32)flags, (int)fd, off);
}

static long sys_munmap(u64 addr, u64 len, u64 a2, u64 a3, u64 a4, u64 a5)
{
	return mm_munmap(proc_current, addr, len);
}

static long sys_mprotect(u64 addr, u64 len, u64 prot, u64 a3, u64 a4, u64 a5)
{
	return mm_mprotect(proc_current, addr, len, (u32)prot);
}

static long sys_brk(u64 new_brk, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5)
{
	return (long)mm_brk(proc_current, new_brk);
}

/* exit: this thread only; the process ends with @status when it was the last. */
static long sys_exit(u64 status, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5)
{
	proc_thread_exit((int)status, false);
}

static long sys_exit_group(u64 status, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5)
{
	proc_thread_exit((int)status, true);
}

static long sys_arch_prctl(u64 code, u64 addr, u64 a2, u64 a3, u64 a4, u64 a5)
{
	struct thread *t = thread_current();

	switch (code) {
	case ARCH_SET_FS:
		if (addr >= USER_TOP)
			return -EPERM; /* a kernel or non-canonical base would #GP on load */
		t->fs_base = addr;
		user_set_fs_base(addr);
		return 0;
	case ARCH_GET_FS:
		return copy_to_user(addr, &t->fs_base, sizeof(t->fs_base));
	default:
		return -EINVAL;
	}
}

static long sys_set_tid_address(u64 ptr, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5)
{
	thread_current()->clear_child_tid = ptr;
	return thread_current()->tid;
}

static long sys_gettid(u64 a0, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5)
{
	return thread_current()->tid;
}

static long sys_getpid(u64 a0, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5)
{
	return proc_current->pid;
}

static long sys_getppid(u64 a0, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5)
{
	struct proc *parent = __atomic_load_n(&proc_current->parent, __ATOMIC_RELAXED);

	return parent ? parent->pid : 0;
}

static long sys_zero(u64 a0, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5)
{
	return 0; /* getuid and friends: everything runs as root */
}

static long sys_clock_gettime(u64 clock, u64 uts, u64 a2, u64 a3, u64 a4, u64 a5)
{
	struct __kernel_timespec ts;
	/* The wall clock from the RTC at boot; the others count from CPU reset. */
	u64 ns = clock == CLOCK_REALTIME ? time_realtime_ns() : time_ns();

	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC && clock != CLOCK_MONOTONIC_RAW &&
	    clock != CLOCK_BOOTTIME && clock != CLOCK_PROCESS_CPUTIME_ID &&
	    clock != CLOCK_THREAD_CPUTIME_ID)
		return -EINVAL;
	ts.tv_sec = (s64)(ns / 1000000000);
	ts.tv_nsec = (s64)(ns % 1000000000);
	return copy_to_user(uts, &ts, sizeof(ts));
}

static long sys_nanosleep(u64 ureq, u64 urem, u64 a2, u64 a3, u64 a4, u64 a5)
{
	struct __kernel_timespec req;

	if (copy_from_user(&req, ureq, sizeof(req)))
		return -EFAULT;
	if (req.tv_sec < 0 || req.tv_nsec < 0 || req.tv_nsec >= 1000000000)
		return -EINVAL;
	u64 end = time_ns() + (u64)req.tv_sec * 1000000000 + (u64)req.tv_nsec;
	if ((u64)req.tv_sec > 1000000000ULL)
		end = ~0ULL;
	return sched_sleep_until(end) ? 0 : -EINTR; /* killed: the thread exits on its way out */
}

static long sys_clock_nanosleep(u64 clock, u64 flags, u64 ureq, u64 urem, u64 a4, u64 a5)
{
	struct __kernel_timespec req;
	u64 now, ns, end;

	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC && clock != CLOCK_BOOTTIME)
		return -EINVAL;
	if (flags & ~(u64)TIMER_ABSTIME)
		return -EINVAL;
	if (copy_from_user(&req, ureq, sizeof(req)))
		return -EFAULT;
	if (req.tv_sec < 0 || req.tv_nsec < 0 || req.tv_nsec >= 1000000000)
		return -EINVAL;
	ns = (u64)req.tv_sec > 1000000000ULL ? ~0ULL >> 1
					      : (u64)req.tv_sec * 1000000000 + (u64)req.tv_nsec;
	now = time_ns();
	if (!(flags & TIMER_ABSTIME))
		end = now + ns;
	else if (clock == CLOCK_REALTIME)
		end = ns > time_realtime_ns() ? now + (ns - time_realtime_ns()) : now;
	else
		end = ns;
	return sched_sleep_until(end) ? 0 : -EINTR;
}

static long sys_sched_yield(u64 a0, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5)
{
	sched_yield();
	return 0;
}

/* The flags musl's pthread_create passes; CLONE_DETACHED is ignored, as Linux ignores it. */
#define CLONE_THREAD_FLAGS                                                                         \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |        \
	 CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)

/* clone(flags, stack, parent_tid, child_tid, tls): threads only, as pthread_create makes them. */
static long sys_clone(u64 flags, u64 stack, u64 parent_tid, u64 child_tid, u64 tls, u64 a5)
{
	if ((flags & ~(u64)CLONE_DETACHED) != CLONE_THREAD_FLAGS)
		return -EINVAL;
	if (tls >= USER_TOP || stack >= USER_TOP)
		return -EINVAL;
	long tid = proc_clone_thread(stack, tls, child_tid);
	if (tid < 0)
		return tid;
	u32 v = (u32)tid;
	/* Written after the child may already run, as Linux allows for a non-settid race. */
	if (copy_to_user(parent_tid, &v, sizeof(v)))
		return tid; /* the thread exists; Linux reports it the same way */
	return tid;
}

static long sys_futex(u64 uaddr, u64 op, u64 val, u64 utimeout, u64 uaddr2, u64 val3)
{
	struct proc *p = proc_current;
	u32 cmd = (u32)op & ~(u32)FUTEX_PRIVATE_FLAG;

	switch (cmd) {
	case FUTEX_WAIT: {
		u64 deadline = 0;
		if (utimeout) {
			struct __kernel_timespec ts;
			if (copy_from_user(&ts, utimeout, sizeof(ts)))
				return -EFAULT;
			if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000)
				return -EINVAL;
			u64 ns = (u64)ts.tv_sec > 1000000000ULL
					 ? ~0ULL >> 1
					 : (u64)ts.tv_sec * 1000000000 + (u64)ts.tv_nsec;
			deadline = time_ns() + ns;
			if (!deadline)
				deadline = 1;
		}
		return futex_wait(p, uaddr, (u32)val, deadline);
	}
	case FUTEX_WAKE:
		return futex_wake(p, uaddr, (u32)MIN(val, (u64)0x7fffffff));
	default:
		return -ENOSYS; /* FUTEX_CLOCK_REALTIME, requeue, bitsets, PI: not offered */
	}
}

/* A thread of the caller's process by tid (0: the caller), as the affinity calls name it. */
static struct thread *thread_by_tid(u64 tid)
{
	if ((s64)tid < 0 || tid > 0x7fffffff)
		return NULL;
	return proc_find_thread(proc_current, (int)tid);
}

static long sys_sched_getaffinity(u64 tid, u64 len, u64 umask, u64 a3, u64 a4, u64 a5)
{
	struct thread *t = thread_by_tid(tid);
	cpumask_t m;

	if (len < sizeof(m.bits) || (len & 7))
		return -EINVAL;
	if (!t)
		return -ESRCH;
	for (unsigned i = 0; i < ARRAY_SIZE(m.bits); i++)
		m.bits[i] = t->affinity.bits[i] & smp_online_mask()->bits[i];
	if (copy_to_user(umask, m.bits, sizeof(m.bits)))
		return -EFAULT;
	return sizeof(m.bits);
}

static long sys_sched_setaffinity(u64 tid, u64 len, u64 umask, u64 a3, u64 a4, u64 a5)
{
	struct thread *t = thread_by_tid(tid);
	cpumask_t m;
	bool any = false;

	if (!t)
		return -ESRCH;
	cpumask_clear(&m);
	if (copy_from_user(m.bits, umask, MIN(len, sizeof(m.bits))))
		return -EFAULT;
	for (unsigned i = 0; i < ARRAY_SIZE(m.bits); i++) {
		m.bits[i] &= smp_online_mask()->bits[i];
		any |= m.bits[i] != 0;
	}
	if (!any)
		return -EINVAL; /* no online CPU in the mask */
	sched_set_affinity(t, &m);
	return 0;
}

#define WNOHANG_FLAG 1
#define SIGSEGV_NR 11

/* wait4(pid, status, options, rusage): pid > 0 or -1; WNOHANG; rusage reads as zeros. */
static long sys_wait4(u64 pid, u64 ustatus, u64 options, u64 urusage, u64 a4, u64 a5)
{
	int status;
	bool killed;

	if (options & ~(u64)WNOHANG_FLAG)
		return -EINVAL;
	if ((s64)pid != -1 && ((s64)pid <= 0 || pid > 0x7fffffff))
		return -EINVAL; /* process groups do not exist here */
	long r = proc_wait((int)(s64)pid, &status, &killed, options & WNOHANG_FLAG);
	if (r <= 0)
		return r;
	/* As Linux encodes it: a fault ends a process as SIGSEGV would, else the exit code. */
	int ws = killed ? SIGSEGV_NR : (status & 0xff) << 8;
	if (ustatus && copy_to_user(ustatus, &ws, sizeof(ws)))
		return -EFAULT;
	if (urusage) {
		static const u8 zero[144];
		if (copy_to_user(urusage, zero, sizeof(zero)))
			return -EFAULT;
	}
	return r;
}

static void copy_field(char *dst, const char *src, size_t cap)
{
	size_t n = MIN(strlen(src), cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static long sys_uname(u64 ubuf, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5)
{
	struct new_utsname u = { 0 };

	copy_field(u.sysname, "Dyad", sizeof(u.sysname));
	copy_field(u.nodename, "dyad", sizeof(u.nodename));
	copy_field(u.release, "0.1", sizeof(u.release));
	copy_field(u.version, "Dyad page-table pair kernel", sizeof(u.version));
	copy_field(u.machine, "x86_64", sizeof(u.machine));
	return copy_to_user(ubuf, &u, sizeof(u));
}

static long sys_rt_sigprocmask(u64 how, u64 set, u64 oldset, u64 size, u64 a4, u64 a5)
{
	/* No signals are ever delivered; an empty old mask is the truth. */
	if (size != 8)
		return -EINVAL;
	u64 zero = 0;
	return oldset ? copy_to_user(oldset, &zero, sizeof(zero)) : 0;
}

/* ---- Dyad's own calls ---------------------------------------------------------------- */

/*
 * The argv of a new process, copied in from the caller: the pointers, then the strings. The
 * block is freed once the child's stack holds its copy.
 */
struct spawn_args {
	const char *argv[ARGV_MAX + 1];
	char strings[ARGV_STRINGS_MAX];
};

#define SPAWN_ARGS_ORDER 2
_Static_assert(sizeof(struct spawn_args) <= (PAGE_SIZE << SPAWN_ARGS_ORDER), "spawn_args");

/*
 * Copies a user argv into @a: at most ARGV_MAX strings of at most ARGV_ARG_MAX bytes each and
 * ARGV_STRINGS_MAX bytes in all, NULs included. Returns 0, -EFAULT, or -E2BIG.
 */
static long copy_argv(u64 uargv, struct spawn_args *a)
{
	char *pos = a->strings, *end = a->strings + sizeof(a->strings);
	unsigned n = 0;

	for (; uargv; n++) {
		u64 ptr;
		if (copy_from_user(&ptr, uargv + n * sizeof(ptr), sizeof(ptr)))
			return -EFAULT;
		if (!ptr)
			break;
		if (n == ARGV_MAX)
			return -E2BIG;
		long len = strncpy_from_user(pos, ptr, MIN((long)ARGV_ARG_MAX, end - pos));
		if (len < 0)
			return len == -ENAMETOOLONG ? -E2BIG : len;
		a->argv[n] = pos;
		pos += len + 1;
	}
	a->argv[n] = NULL;
	return 0;
}

static long sys_dyad_spawn(u64 upath, u64 uargv, u64 flags, u64 a3, u64 a4, u64 a5)
{
	static const char *const envp[] = { "PATH=/bin", NULL };
	char path[PATH_MAX_LEN];
	long err;

	if (flags & ~(u64)DYAD_SPAWN_NOWAIT)
		return -EINVAL;
	err = strncpy_from_user(path, upath, sizeof(path));
	if (err < 0)
		return err;
	paddr_t block = pmem_alloc(SPAWN_ARGS_ORDER);
	if (!block)
		return -ENOMEM;
	struct spawn_args *a = pmem_va(block);
	err = copy_argv(uargv, a);
	if (!err)
		err = proc_spawn_nowait(path, a->argv, envp); /* the child has its own copy */
	pmem_free(block, SPAWN_ARGS_ORDER);
	if (err < 0 || (flags & DYAD_SPAWN_NOWAIT))
		return err;
	int status;
	bool killed;
	long r = proc_wait((int)err, &status, &killed, false);
	return r < 0 ? r : status;
}

static long sys_dyad_stats(u64 ustats, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5)
{
	struct dyad_stats s = {
		.page_faults = proc_current->page_faults,
		.free_frames = pmem_free_frames(),
		.pairs_in_use = proc_current->pmap.nr_pairs,
	};

	return copy_to_user(ustats, &s, sizeof(s));
}

static long sys_dyad_vm_query(u64 addr, u64 uinfo, u64 a2, u64 a3, u64 a4, u64 a5)
{
	struct dyad_vm_info info = { 0 };
	struct pmap_leaf leaf;

	if (addr >= USER_TOP)
		return -EINVAL;
	if (pmap_lookup(&proc_current->pmap, addr & PAGE_MASK, &leaf) == 0) {
		info.pa = leaf.pa + (addr - leaf.va);
		info.page_size = leaf.size;
		info.prot = (leaf.flags & PMAP_NONE)
				    ? PROT_NONE
				    : PROT_READ | ((leaf.flags & PMAP_W) ? PROT_WRITE : 0) |
					      ((leaf.flags & PMAP_X) ? PROT_EXEC : 0);
		info.guest_visible = !!(leaf.flags & PMAP_VISIBLE);
		info.ad = ((leaf.flags & PMAP_ACCESSED) ? DYAD_VM_ACCESSED : 0) |
			  ((leaf.flags & PMAP_DIRTY) ? DYAD_VM_DIRTY : 0);
	}
	return copy_to_user(uinfo, &info, sizeof(info));
}

static long sys_dyad_vm_create(u64 flags, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5)
{
	return vcpu_sys_vm_create(flags);
}

static const syscall_fn linux_calls[] = {
	[__NR_read] = sys_read,
	[__NR_write] = sys_write,
	[__NR_open] = sys_open,
	[__NR_close] = sys_close,
	[__NR_fstat] = sys_fstat,
	[__NR_lseek] = sys_lseek,
	[__NR_mmap] = sys_mmap,
	[__NR_mprotect] = sys_mprotect,
	[__NR_munmap] = sys_munmap,
	[__NR_brk] = sys_brk,
	[__NR_rt_sigprocmask] = sys_rt_sigprocmask,
	[__NR_ioctl] = sys_ioctl,
	[__NR_fcntl] = sys_fcntl,
	[__NR_writev] = sys_writev,
	[__NR_nanosleep] = sys_nanosleep,
	[__NR_getpid] = sys_getpid,
	[__NR_exit] = sys_exit,
	[__NR_uname] = sys_uname,
	[__NR_getuid] = sys_zero,
	[__NR_getgid] = sys_zero,
	[__NR_geteuid] = sys_zero,
	[__NR_getegid] = sys_zero,
	[__NR_getppid] = sys_getppid,
	[__NR_arch_prctl] = sys_arch_prctl,
	[__NR_gettid] = sys_gettid,
	[__NR_set_tid_address] = sys_set_tid_address,
	[__NR_clock_gettime] = sys_clock_gettime,
	[__NR_exit_group] = sys_exit_group,
	[__NR_clone] = sys_clone,
	[__NR_futex] = sys_futex,
	[__NR_sched_yield] = sys_sched_yield,
	[__NR_clock_nanosleep] = sys_clock_nanosleep,
	[__NR_sched_getaffinity] = sys_sched_getaffinity,
	[__NR_sched_setaffinity] = sys_sched_setaffinity,
	[__NR_wait4] = sys_wait4,
	[__NR_openat] = sys_openat,
	[__NR_pread64] = sys_pread64,
	[__NR_pwrite64] = sys_pwrite64,
	[__NR_fsync] = sys_fsync,
	[__NR_fdatasync] = sys_fsync,
};

static const syscall_fn dyad_calls[] = {
	[DYAD_SYS_SPAWN - DYAD_SYS_BASE] = sys_dyad_spawn,
	[DYAD_SYS_STATS - DYAD_SYS_BASE] = sys_dyad_stats,
	[DYAD_SYS_VM_QUERY - DYAD_SYS_BASE] = sys_dyad_vm_query,
	[DYAD_SYS_VM_CREATE - DYAD_SYS_BASE] = sys_dyad_vm_create,
};

void syscall_dispatch(struct trap_frame *tf);
void syscall_dispatch(struct trap_frame *tf)
{
	u64 nr = tf->rax;
	syscall_fn fn = NULL;

	if (nr < ARRAY_SIZE(linux_calls))
		fn = linux_calls[nr];
	else if (nr >= DYAD_SYS_BASE && nr - DYAD_SYS_BASE < ARRAY_SIZE(dyad_calls))
		fn = dyad_calls[nr - DYAD_SYS_BASE];
	tf->rax = fn ? (u64)fn(tf->rdi, tf->rsi, tf->rdx, tf->r10, tf->r8, tf->r9) : (u64)-ENOSYS;
}
