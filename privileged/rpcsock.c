/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The RPC listening socket: created here, used by the worker. Who may connect
 * is decided first by the file system (directory 0750 and socket 0660, both
 * group rpc_gid), then by the worker's SO_PEERCRED check.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "privileged/loader.h"

#define RPC_LISTEN_BACKLOG 128
#define RPC_DIR_MODE 0750
#define RPC_SOCK_MODE 0660

/*
 * Create the socket's directory, or take over an existing one that is ours
 * and closed to others. A directory others can enter (/run, /tmp, a home) is
 * never chmod'ed: -EPERM, the socket needs a directory of its own.
 */
static int prepare_dir(const char *path, gid_t gid)
{
	char dir[LDR_SOCK_PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;
	int fd, err = 0;

	if (!slash || slash == path || (size_t)(slash - path) >= sizeof(dir))
		return -EINVAL;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if (mkdir(dir, RPC_DIR_MODE) < 0 && errno != EEXIST)
		return -errno;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (st.st_uid != geteuid() || (st.st_mode & 0007))
		err = -EPERM;
	else if (fchown(fd, (uid_t)-1, gid) < 0 || fchmod(fd, RPC_DIR_MODE) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* A socket file nobody listens on is left over from a previous run. */
static int remove_stale(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, err;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		err = -EADDRINUSE;
	else if (errno == ECONNREFUSED)
		err = unlink(sa->sun_path) < 0 && errno != ENOENT ? -errno : 0;
	else
		err = errno == EAGAIN ? -EADDRINUSE : -errno; /* EAGAIN: a listener with a full queue */
	close(fd);
	return err;
}

/* Listening fd or -errno: -EPERM (directory shared), -EEXIST (not a socket), -EADDRINUSE. */
int ldr_rpcsock_create(const char *path, gid_t gid)
{
	struct sockaddr_un sa;
	mode_t old_umask;
	int fd, err;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	err = prepare_dir(path, gid);
	if (!err)
		err = remove_stale(&sa);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	old_umask = umask(0777 & ~RPC_SOCK_MODE); /* never more open than 0660, not even briefly */
	err = bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old_umask);
	if (err)
		goto cleanup;
	/* the directory is ours and closed to others: the path cannot be swapped */
	if (lchown(path, (uid_t)-1, gid) < 0 || chmod(path, RPC_SOCK_MODE) < 0 ||
	    listen(fd, RPC_LISTEN_BACKLOG) < 0) {
		err = -errno;
		unlink(path);
		goto cleanup;
	}
	return fd;
cleanup:
	close(fd);
	return err;
}

int ldr_rpcsock_remove(const char *path)
{
	return unlink(path) < 0 ? -errno : 0;
}
