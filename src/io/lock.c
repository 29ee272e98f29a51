/* The output lock: one run at a time writes a results file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "voxfit/io.h"

struct io_lock {
  int fd;
  char path[4200];
};

/* Whether flock's failure means the file system has no locks (then the
 * run goes on unlocked, as before) rather than another holder. */
static int no_locks_here(int err) {
  return err == ENOLCK || err == ENOSYS || err == EOPNOTSUPP || err == EINVAL;
}

/* The holder's "pid host" from the lock file, for the message. */
static void holder_of(int fd, char *who, size_t n) {
  ssize_t got = pread(fd, who, n - 1, 0);
  who[got > 0 ? got : 0] = 0;
  who[strcspn(who, "\n")] = 0;
  if (!who[0]) snprintf(who, n, "unknown pid");
}

/* Takes the lock on an open lock file: 1 taken, 0 held by another run,
 * -1 no locks on this file system, 2 taken on a file the path no longer
 * names (a run ending unlinks it, and a lock on the unlinked file would
 * exclude nobody): open it again. */
static int try_take(io_lock *l) {
  struct stat a, b;
  if (flock(l->fd, LOCK_EX | LOCK_NB) != 0) return no_locks_here(errno) ? -1 : 0;
  if (fstat(l->fd, &a) != 0 || stat(l->path, &b) != 0 || a.st_ino != b.st_ino ||
      a.st_dev != b.st_dev)
    return 2;
  char host[256] = "?", line[400];
  gethostname(host, sizeof host - 1);
  int len = snprintf(line, sizeof line, "pid %ld on host %s\n", (long)getpid(), host);
  /* the holder's name only serves messages: a failed write costs nothing */
  int named = ftruncate(l->fd, 0) == 0 && pwrite(l->fd, line, (size_t)len, 0) == len;
  (void)named;
  return 1;
}

vf_status io_lock_take(const char *out, io_lock **lock) {
  io_lock *l = NULL;
  *lock = NULL;
  VF_CALL(vf_calloc(1, sizeof *l, "output lock", &l));
  if ((size_t)snprintf(l->path, sizeof l->path, "%s.lock", out) >= sizeof l->path) {
    vf_free(&l);
    return vf_error(VF_E_INPUT, "%s: path too long for its lock file", out);
  }
  for (int tries = 0; tries < 8; tries++) {
    l->fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (l->fd < 0) {
      vf_status st = vf_error(VF_E_IO, "%s: cannot create the lock file that keeps a second "
                              "run off it: %s; check the folder's permissions", l->path,
                              strerror(errno));
      vf_free(&l);
      return st;
    }
    int got = try_take(l);
    if (got == 1) { /* no run of ours has the file open: a killed one's leftovers go */
      io_mpi_side_files_remove(out);
      *lock = l;
      return VF_OK;
    }
    if (got == 0) {
      char who[300];
      holder_of(l->fd, who, sizeof who);
      close(l->fd);
      vf_free(&l);
      return vf_error(VF_E_INPUT, "%s: another voxfit run (%s) is writing it; wait for it "
                      "to end, or stop it, then rerun this command to resume", out, who);
    }
    close(l->fd);
    if (got < 0) { /* no locks here: unlocked, as on any such file system */
      unlink(l->path);
      vf_free(&l);
      return VF_OK;
    }
  }
  vf_free(&l);
  return vf_error(VF_E_IO, "%s.lock: keeps being replaced while voxfit locks it", out);
}

void io_lock_release(io_lock **lock) {
  if (!lock || !*lock) return;
  unlink((*lock)->path); /* while still held: a waiter then finds the path gone */
  close((*lock)->fd);
  vf_free(lock);
}
