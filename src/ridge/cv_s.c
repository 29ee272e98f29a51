/* The CV ridge fit in single precision (see cv.inc). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "voxfit/linalg.h"
#include "voxfit/ridge.h"
#include "choose.h"

#define REAL float
#define FN(x) x##_s
#define GEMM la_sgemm
#define SVD la_ssvd
#define SYRK_N la_ssyrk_n
#define EIG_ALL la_deig_lean
#define SPD_INVERSE la_sspd_inverse
#define SYMM la_ssymm
#include "cv.inc"
