#include "estimators/blas_kernels.hpp"

#include <cblas.h>

namespace hmi::est::blas {

void syrk_upper(int n, int rows, const double* A, double alpha, double* C) {
  if (rows <= 0) return;
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, n, rows, alpha, A, n, 1.0, C, n);
}

void gemm(int m, int n, int k, const double* A, const double* B, double* C) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0, A, k, B, n, 0.0, C, n);
}

void symv_upper(int n, const double* A, const double* x, double* y) {
  cblas_dsymv(CblasRowMajor, CblasUpper, n, 1.0, A, n, x, 1, 0.0, y, 1);
}

void set_threads(int threads) { openblas_set_num_threads(threads); }
int get_threads() { return openblas_get_num_threads(); }
const char* config() { return openblas_get_config(); }

}  // namespace hmi::est::blas
