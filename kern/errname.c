// SPDX-License-Identifier: MIT
/* Names for the kernel's error codes, for messages. */
#include <dyad/errname.h>
#include <dyad/errno.h>
#include <dyad/types.h>

#define NAME(e) [e] = #e

static const char *const names[] = {
	NAME(EPERM),  NAME(ENOENT),  NAME(ESRCH),	 NAME(EINTR),  NAME(EIO),
	NAME(E2BIG),  NAME(ENOEXEC), NAME(EBADF),	 NAME(ECHILD), NAME(EAGAIN),
	NAME(ENOMEM), NAME(EACCES),  NAME(EFAULT),	 NAME(EBUSY),  NAME(EEXIST),
	NAME(ENODEV), NAME(ENOTDIR), NAME(EISDIR),	 NAME(EINVAL), NAME(ENFILE),
	NAME(EMFILE), NAME(ENOTTY),  NAME(EFBIG),	 NAME(ENOSPC), NAME(ESPIPE),
	NAME(EROFS),  NAME(ERANGE),  NAME(ENAMETOOLONG), NAME(ENOSYS), NAME(EOVERFLOW),
};

const char *errno_name(long err)
{
	if (err < 0)
		err = -err;
	if (err >= (long)ARRAY_SIZE(names))
		return NULL;
	return names[err];
}
