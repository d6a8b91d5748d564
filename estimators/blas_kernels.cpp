#include "estimators/blas_kernels.hpp"

#include <cblas.h>

#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <vector>

// OpenBLAS's own dynamic-architecture entry points (exported by DYNAMIC_ARCH builds such as
// Debian's). Weak, so that a single-architecture OpenBLAS links too (they are then null).
extern "C" {
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));
void blas_thread_shutdown_(void) __attribute__((weak));  // OpenBLAS (pthreads): joins its workers
// LAPACK (Fortran interface; the project links LAPACK, not LAPACKE).
void dgeqrf_(const int* m, const int* n, double* a, const int* lda, double* tau, double* work, const int* lwork, int* info);
void dorgqr_(const int* m, const int* n, const int* k, double* a, const int* lda, const double* tau, double* work,
             const int* lwork, int* info);
}

namespace hmi::est::blas {
namespace {

// A DYNAMIC_ARCH OpenBLAS picks its kernels from the CPU model when it is loaded. 0.3.21
// (Debian 12) does not know recent Xeon models (e.g. family 6 model 0xCF) and falls back to its
// SSE3 "Prescott" kernels: DGEMM/DSYRK at ~7 GFLOP/s per core instead of ~50 (measured on the
// 2-core AVX-512 CI machine). When the user has not chosen (OPENBLAS_CORETYPE unset) and
// OpenBLAS fell back to a pre-AVX core on a CPU that has AVX-512 or AVX2+FMA, redo OpenBLAS's
// selection with the matching core, exactly as OPENBLAS_CORETYPE would have at load time. This
// runs during static initialisation, before any BLAS call; the environment is left as it was.
bool select_openblas_core() {
#if defined(__GNUC__) && defined(__x86_64__)
  if (std::getenv("OPENBLAS_CORETYPE") || !gotoblas_dynamic_init || !gotoblas_dynamic_quit) return false;
  const char* current = openblas_get_corename();
  static const char* const fallbacks[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Katmai",
                                          "Coppermine", "Northwood", "Banias", "unknown"};
  bool fallback = current == nullptr;
  for (const char* f : fallbacks) fallback = fallback || std::strcmp(current, f) == 0;
  if (!fallback) return false;
  __builtin_cpu_init();
  const char* core = nullptr;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512cd"))
    core = "SkylakeX";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    core = "Haswell";
  if (!core) return false;
  setenv("OPENBLAS_CORETYPE", core, 1);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  unsetenv("OPENBLAS_CORETYPE");
  return true;
#else
  return false;
#endif
}

[[maybe_unused]] const bool openblas_core_selected = select_openblas_core();

}  // namespace

void syrk_upper(int n, int rows, const double* A, double alpha, double* C) {
  if (rows <= 0) return;
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, n, rows, alpha, A, n, 1.0, C, n);
}

void gemm(int m, int n, int k, const double* A, const double* B, double* C) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0, A, k, B, n, 0.0, C, n);
}

void gemm_cm(bool trans_a, bool trans_b, int m, int n, int k, double alpha, const double* A, int lda, const double* B,
             int ldb, double beta, double* C, int ldc) {
  cblas_dgemm(CblasColMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, A,
              lda, B, ldb, beta, C, ldc);
}

int householder_qr(int m, int n, double* A, int lda, double* R) {
  int info = 0, lwork = -1;
  std::vector<double> tau(std::max(n, 1));
  double query = 0;
  dgeqrf_(&m, &n, A, &lda, tau.data(), &query, &lwork, &info);
  lwork = std::max(1, int(query));
  std::vector<double> work(lwork);
  dgeqrf_(&m, &n, A, &lda, tau.data(), work.data(), &lwork, &info);
  if (info != 0) return info;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) R[std::size_t(j) * n + i] = i <= j ? A[std::size_t(j) * lda + i] : 0.0;
  lwork = -1;
  dorgqr_(&m, &n, &n, A, &lda, tau.data(), &query, &lwork, &info);
  lwork = std::max(1, int(query));
  work.assign(lwork, 0.0);
  dorgqr_(&m, &n, &n, A, &lda, tau.data(), work.data(), &lwork, &info);
  return info;
}

void symv_upper(int n, const double* A, const double* x, double* y) {
  cblas_dsymv(CblasRowMajor, CblasUpper, n, 1.0, A, n, x, 1, 0.0, y, 1);
}

void set_threads(int threads) { openblas_set_num_threads(threads); }
void release_idle_threads() {
  if (blas_thread_shutdown_) blas_thread_shutdown_();
}
int get_threads() { return openblas_get_num_threads(); }
const char* config() { return openblas_get_config(); }

}  // namespace hmi::est::blas
