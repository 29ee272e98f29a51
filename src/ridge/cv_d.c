/* The CV ridge fit in double precision (see cv.inc). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "voxfit/linalg.h"
#include "voxfit/ridge.h"
#include "choose.h"

#define REAL double
#define FN(x) x##_d
#define GEMM la_dgemm
#define SVD la_dsvd
#define SYRK_N la_dsyrk_n
#define EIG_ALL la_deig
#define SPD_INVERSE la_dspd_inverse
#define SYMM la_dsymm
#include "cv.inc"
