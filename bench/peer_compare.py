#!/usr/bin/python3
"""Side-by-side: `hmi simulate` against the straightforward numpy version (bench/numpy_reference.py).

Runs the two alternately (hmi, numpy, hmi, numpy, ...) so that load drifts hit both, each under
/usr/bin/time -v, and prints wall time and peak memory (median, min-max) and the speed-up
numpy / hmi (median and range of the per-pair ratios). Both get the same OpenBLAS kernels:
hmi selects a matching core when OpenBLAS 0.3.21 does not recognise the CPU (see
estimators/blas_kernels.cpp); numpy, unpatched, is given the same core through
OPENBLAS_CORETYPE unless --numpy-blas=default.

  /usr/bin/python3 bench/peer_compare.py --hmi build/hmi --d 1000 --alpha 100 --reps 5
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FALLBACK_CORES = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Katmai", "Coppermine",
                  "Northwood", "Banias", "unknown"}


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def matching_core():
    """The core estimators/blas_kernels.cpp selects when OpenBLAS falls back (same rule)."""
    f = cpu_flags()
    if {"avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512cd"} <= f:
        return "SkylakeX"
    if {"avx2", "fma"} <= f:
        return "Haswell"
    return None


def numpy_default_core(python):
    code = ("import numpy, ctypes; l = ctypes.CDLL('libopenblas.so.0'); "
            "l.openblas_get_corename.restype = ctypes.c_char_p; print(l.openblas_get_corename().decode())")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    r = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env)
    return r.stdout.strip() or "unknown"


def timed(cmd, env):
    """Runs cmd under /usr/bin/time -v; returns (wall seconds, peak RSS MiB, stdout)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        r = subprocess.run(["/usr/bin/time", "-v", "-o", tf.name] + cmd, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            sys.exit("failed: %s\n%s" % (" ".join(cmd), r.stderr[-2000:]))
        rep = tf.read()
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", rep)
    parts = [float(x) for x in m.group(1).split(":")]
    wall = sum(v * 60 ** i for i, v in enumerate(reversed(parts)))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", rep).group(1)) / 1024.0
    return wall, rss, r.stdout


def spread(xs):
    return "median %8.3f  min %8.3f  max %8.3f" % (statistics.median(xs), min(xs), max(xs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hmi", default="build/hmi", help="path to the hmi executable")
    ap.add_argument("--python", default="/usr/bin/python3", help="Debian's interpreter (python3-numpy)")
    ap.add_argument("--d", type=int, default=1000)
    ap.add_argument("--alpha", type=float, default=100.0)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="hmi --threads (numpy's OpenBLAS uses all cores)")
    ap.add_argument("--numpy-blas", choices=["same", "default"], default="same",
                    help="same: numpy gets hmi's OpenBLAS core; default: numpy's own (possibly generic) choice")
    ap.add_argument("--json", help="also write the raw measurements here")
    args = ap.parse_args()

    env = dict(os.environ)
    default_core = numpy_default_core(args.python)
    core = os.environ.get("OPENBLAS_CORETYPE")
    if not core and args.numpy_blas == "same" and default_core in FALLBACK_CORES and matching_core():
        core = matching_core()
    if core and args.numpy_blas == "same":
        env["OPENBLAS_CORETYPE"] = core

    hmi_cmd = [args.hmi, "simulate", "--d", str(args.d), "--alpha", str(args.alpha), "--threads", str(args.threads)]
    np_cmd = [args.python, os.path.join(HERE, "numpy_reference.py"), "--d", str(args.d), "--alpha", str(args.alpha)]
    print("hmi:   %s" % " ".join(hmi_cmd))
    print("numpy: %s" % " ".join(np_cmd))
    print("OpenBLAS core: numpy default %s; this comparison: %s; load average %s"
          % (default_core, env.get("OPENBLAS_CORETYPE", default_core) if args.numpy_blas == "same" else default_core,
             open("/proc/loadavg").read().split()[:3]))
    rows = []
    for r in range(args.reps):
        hw, hr, hout = timed(hmi_cmd, env)
        nw, nr, nout = timed(np_cmd, env if args.numpy_blas == "same" else dict(os.environ))
        h, n = json.loads(hout), json.loads(nout)
        rows.append({"hmi_wall": hw, "hmi_rss_mib": hr, "numpy_wall": nw, "numpy_rss_mib": nr,
                     "hmi_timing": h["timing_s"], "numpy_timing": n["timing_s"], "numpy_core": n["openblas_core"],
                     "hmi_overlap_1": h["overlap"][0], "numpy_overlap_1": n["overlap"][0]})
        print("rep %d: hmi %.2f s (%.0f MiB)   numpy %.2f s (%.0f MiB, core %s)   ratio %.2f"
              % (r + 1, hw, hr, nw, nr, n["openblas_core"], nw / hw))
        sys.stdout.flush()
    col = lambda k: [x[k] for x in rows]
    ratios = [x["numpy_wall"] / x["hmi_wall"] for x in rows]
    print("\nwall time [s]   hmi    %s" % spread(col("hmi_wall")))
    print("                numpy  %s" % spread(col("numpy_wall")))
    print("peak RSS [MiB]  hmi    %s" % spread(col("hmi_rss_mib")))
    print("                numpy  %s" % spread(col("numpy_rss_mib")))
    print("speed-up numpy/hmi     %s   (%d paired runs, d = %d, alpha = %g, n = %d)"
          % (spread(ratios), len(rows), args.d, args.alpha, round(args.alpha * args.d)))
    med = lambda xs: statistics.median(xs)
    print("hmi phases [s]:   labels %.2f  accumulate %.2f  eigen %.2f  (rest: teacher, theory prediction, JSON)"
          % tuple(med([x["hmi_timing"][k] for x in rows]) for k in ("labels", "accumulate", "eigen")))
    print("numpy phases [s]: draw %.2f  labels %.2f  gram %.2f  eigh %.2f"
          % tuple(med([x["numpy_timing"][k] for x in rows]) for k in ("draw", "labels", "gram", "eigh")))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "runs": rows}, f, indent=1)


if __name__ == "__main__":
    main()
