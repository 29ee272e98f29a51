/* Internal to src/io: the check of a PnetCDF call in functions that have
 * the file's name in `path` and return a vf_status, and the one way an
 * existing classic NetCDF file is opened (src/io/nc.c). */
#ifndef VOXFIT_IO_NC_H
#define VOXFIT_IO_NC_H

#include <mpi.h>
#include <pnetcdf.h>

#include "voxfit/util.h"

#define NC(call, what)                                                     \
  do {                                                                     \
    int nc_err_ = (call);                                                  \
    if (nc_err_ != NC_NOERR)                                               \
      return vf_error(VF_E_IO, "%s: %s: %s", path, what,                   \
                      ncmpi_strerror(nc_err_));                            \
  } while (0)

/* What to do about a damaged input, results or shard file (the end of the
 * one-line message). */
#define IO_TODO_INPUT "copy it again or regenerate it"
#define IO_TODO_RESUME "rerun with --force to start afresh (or move it away)"
#define IO_TODO_RESULTS "rerun the job that wrote it or copy it again"
#define IO_TODO_SHARD "rerun the shard that wrote it (voxfit run JOB --shard I/N --force)"


/* Collective on comm (path, mode and todo agree): opens an existing
 * classic NetCDF file. Fails with VF_E_INPUT and one line ending in todo
 * when the file is truncated: rank 0 checks before the open that the file
 * holds its whole header (our own walk of it) and after it that every
 * variable's data (a record variable's: up to its last record) lies within
 * the file's size; or when ncmpi_open fails. *ncid = -1 on failure. Every
 * file voxfit reads goes through here. */
vf_status io_nc_open(MPI_Comm comm, const char *path, int mode,
                     const char *todo, int *ncid);

/* Local: the size in bytes the header of the open file ncid implies (the
 * end of its last variable's data, or of the header). */
vf_status io_nc_size_needed(const char *path, int ncid, long long *end);

/* Local: gives path (closed or open) its full size, need bytes, as disk
 * blocks (fallocate; a file system without it gets a hole). Open MPI's
 * default MPI-IO (OMPIO) reports a write that fails for a full disk on
 * stderr only, and the MPI call succeeds: a file written without its
 * blocks reserved can come out empty or short with every call
 * successful. With them reserved, a full disk is this one error
 * (VF_E_IO), before any data is written. */
vf_status io_nc_reserve(const char *path, long long need);

/* Collective on comm (the file's): reserves the size the header of the
 * open file ncid implies, out of define mode, then syncs. */
vf_status io_nc_reserve_all(MPI_Comm comm, const char *path, int ncid);

#endif
