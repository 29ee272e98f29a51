/* The CV ridge fit in single precision (see cv.inc). */
#include <math.h>
#include <string.h>

#include "voxfit/linalg.h"
#include "voxfit/ridge.h"
#include "choose.h"

#define REAL float
#define FN(x) x##_s
#define GEMM la_sgemm
#define SVD la_ssvd
#define SYRK_N la_ssyrk_n
#define SYRK_T la_ssyrk_t
#define EIG la_seig
#define SPD_INVERSE la_sspd_inverse
#define SYMM la_ssymm
#define AUTO_EIGEN 0
#include "cv.inc"
