/* Internal to src/io: the check of a PnetCDF call in functions that have
 * the file's name in `path` and return a vf_status. */
#ifndef VOXFIT_IO_NC_H
#define VOXFIT_IO_NC_H

#include <pnetcdf.h>

#include "voxfit/util.h"

#define NC(call, what)                                                     \
  do {                                                                     \
    int nc_err_ = (call);                                                  \
    if (nc_err_ != NC_NOERR)                                               \
      return vf_error(VF_E_IO, "%s: %s: %s", path, what,                   \
                      ncmpi_strerror(nc_err_));                            \
  } while (0)

#endif
