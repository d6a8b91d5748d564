#pragma once
// Thin wrappers over raw CBLAS/OpenBLAS calls. They live in their own translation unit
// because <cblas.h> and xtensor-blas clash when included together. All matrices are
// row-major, contiguous.

namespace hmi::est::blas {

/// C (n x n, upper triangle updated) += alpha * A^T A, A is rows x n.
void syrk_upper(int n, int rows, const double* A, double alpha, double* C);
/// C (m x n) = A (m x k) * B (k x n).
void gemm(int m, int n, int k, const double* A, const double* B, double* C);
/// Column-major general product (the Krylov engine's tall n x k panels):
/// C (m x n) = alpha op(A) op(B) + beta C, op = transpose when the flag is set.
void gemm_cm(bool trans_a, bool trans_b, int m, int n, int k, double alpha, const double* A, int lda, const double* B,
             int ldb, double beta, double* C, int ldc);
/// Householder QR of a column-major m x n panel (m >= n, LAPACK dgeqrf + dorgqr): A is overwritten
/// by the orthonormal Q (m x n), R (n x n, column-major, upper triangular, ldr = n) receives the
/// factor. Returns LAPACK's info (0 = success).
int householder_qr(int m, int n, double* A, int lda, double* R);
/// y = A x for symmetric A (n x n, upper triangle referenced).
void symv_upper(int n, const double* A, const double* x, double* y);
/// Threads OpenBLAS may use (the caller's --threads).
void set_threads(int threads);
/// Stops OpenBLAS's idle worker threads (restarted by its next multi-threaded call, ~0.1 ms).
/// After a multi-threaded call they spin on sched_yield for ~0.1 s, and on 2 cores that halves
/// the speed of our own workers' single-threaded calls meanwhile (measured: two concurrent
/// 1-thread DSYRKs at d = 400 right after a 2-thread DGEMM ran at 51-57 GFLOP/s instead of
/// 89-114). No-op if the BLAS is not OpenBLAS.
void release_idle_threads();
int get_threads();
/// OpenBLAS build description (provenance).
const char* config();

}  // namespace hmi::est::blas
