#!/usr/bin/python3
"""The straightforward numpy version of `hmi simulate` (the peer the suite is compared with).

Same experiment, written the way a numpy user would: draw the n x d data matrix, labels
y = sum_k lambda_k sigma(<w_k, x>) + sqrt(Delta) xi, M = X^T diag(T(y) - mean T) X / n,
full `eigh`, top-K by |eigenvalue|, overlaps with the teacher directions. Default model as the
CLI (he2, p = 8, gamma = 1, normalised amplitudes, positive signs, noise 0.1, T = identity).
The random numbers differ from hmi's (numpy's PCG64), the distribution is the same.

Run with Debian's interpreter and numpy: /usr/bin/python3 bench/numpy_reference.py --d 1000 --alpha 100
Prints one JSON object (timings in seconds, top eigenvalues, overlaps, the BLAS core numpy got).
"""
import argparse
import ctypes
import json
import math
import time

import numpy as np


def he2(z):
    return (z * z - 1.0) / math.sqrt(2.0)


ACTIVATIONS = {"he2": he2, "relu": lambda z: np.maximum(z, 0.0), "abs": np.abs, "tanh": np.tanh}


def openblas_core():
    """The kernel set the process's OpenBLAS uses (numpy loads it through libblas.so.3)."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d", type=int, default=500)
    ap.add_argument("--alpha", type=float, default=10.0)
    ap.add_argument("--p", type=int, default=8)
    ap.add_argument("--gamma", type=float, default=1.0)
    ap.add_argument("--noise", type=float, default=0.1)
    ap.add_argument("--activation", default="he2", choices=sorted(ACTIVATIONS))
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    t_start = time.perf_counter()
    d, p = args.d, args.p
    n = int(round(args.alpha * d))
    top = min(d, max(2 * p, p + 8))
    rng = np.random.default_rng(args.seed)
    lam = np.arange(1, p + 1, dtype=float) ** -args.gamma
    lam /= np.sqrt(np.sum(lam ** 2))
    W, _ = np.linalg.qr(rng.standard_normal((d, p)))

    t0 = time.perf_counter()
    X = rng.standard_normal((n, d))
    t_draw = time.perf_counter() - t0

    t0 = time.perf_counter()
    y = ACTIVATIONS[args.activation](X @ W) @ lam + math.sqrt(args.noise) * rng.standard_normal(n)
    t = y - y.mean()
    t_labels = time.perf_counter() - t0

    t0 = time.perf_counter()
    M = (X * t[:, None]).T @ X / n
    t_gram = time.perf_counter() - t0

    t0 = time.perf_counter()
    w, V = np.linalg.eigh(M)
    order = np.argsort(-np.abs(w))[:top]
    w, V = w[order], V[:, order]
    t_eigh = time.perf_counter() - t0

    C = V.T @ W
    print(json.dumps({
        "d": d, "n": n, "alpha": args.alpha, "seed": args.seed,
        "eigenvalues": w.tolist(),
        "overlap": (C ** 2).max(axis=0).tolist(),
        "timing_s": {"draw": t_draw, "labels": t_labels, "gram": t_gram, "eigh": t_eigh,
                     "total": time.perf_counter() - t_start},
        "numpy": np.__version__, "openblas_core": openblas_core(),
    }))


if __name__ == "__main__":
    main()
