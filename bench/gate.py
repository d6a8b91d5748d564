#!/usr/bin/python3
"""Performance regression gate for hmi_bench.

  check    run the gate benchmarks and compare with the committed baseline (exit 1 on regression)
  refresh  run them (3 runs pooled) and write the baseline (commit bench/baseline.json afterwards)
  compare  compare two existing runs (JSON written by `run`/`check`, or a baseline file)
  run      run only, write the measurements (--out)

Method. Every benchmark is repeated (>= 9 times, repetitions randomly interleaved across
benchmarks so that load drifts hit all of them) and each repetition's real time is
normalised by a calibration kernel measured in the same run: cost = time x DGEMM GFLOP/s,
the time expressed in "GFLOP of DGEMM on this machine". The calibration of a benchmark is the
median of its repetitions' probes (counter calib_GFLOPS: DGEMM on as many threads as the
benchmark uses, measured just before and after each timed loop), else the run's median of
BM_calib_dgemm. This removes
clock speed, core speed and background load (also load that changes during the run, as on a
shared CI runner), so the baseline carries across machines of the same kind; a different
micro-architecture (e.g. AVX2 instead of AVX-512: generation and BLAS do not scale
alike) warrants a refresh. A benchmark regresses when its median cost exceeds the baseline
median by more than --threshold (10 %) AND a one-sided Mann-Whitney U test says the current
costs are larger than the baseline's at level --alpha (0.01): both a material and a
significant slowdown are needed, so noise alone does not fail the build. Power: a 20 %
slowdown is caught reliably with 9 repetitions at the noise of a shared 2-core runner
(repetition CV 5-15 %); slowdowns just above 10 % may need --reps 15 and a quiet machine.
"""
import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CALIBRATION = "BM_calib_dgemm/n:384"
# Short set for CI (~30-60 s with 9 repetitions): small sizes, every kernel family.
GATE_SHORT = [
    CALIBRATION,
    "BM_gaussian/d:1000/threads:1",
    "BM_spectral_accumulate/d:400/alpha:5/threads:1",
    "BM_spectral_accumulate/d:400/alpha:20/threads:2",  # 4 blocks: both workers busy
    "BM_top_eigenpairs/d:1000/k:16/threads:1",
    "BM_simulate/d:400/alpha:20/threads:2",
    # Learner benchmarks (BM_gd_step, BM_readout_accumulate) go here once they exist.
]
GATE_FULL = GATE_SHORT + [
    "BM_gaussian/d:1000/threads:2",
    "BM_spectral_accumulate/d:1000/alpha:5/threads:2",
    "BM_top_eigenpairs/d:2000/k:16/threads:2",
    "BM_eigh_full/d:1000/threads:2",
    "BM_simulate/d:1000/alpha:10/threads:2",
]


def base_name(run_name):
    """Benchmark name without Google Benchmark's suffixes (/real_time, /iterations:N)."""
    return re.sub(r"/(real_time|iterations:\d+)", "", run_name)


def run_bench(bench, names, reps, min_time):
    pattern = "^(" + "|".join(re.escape(n) for n in names) + ")(/real_time)?$"
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tf:
        out = tf.name
    cmd = [bench, "--benchmark_filter=" + pattern, "--benchmark_repetitions=%d" % reps,
           "--benchmark_enable_random_interleaving=true", "--benchmark_min_time=%g" % min_time,
           "--benchmark_out=" + out, "--benchmark_out_format=json", "--benchmark_format=console"]
    print("running: " + " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    with open(out) as f:
        raw = json.load(f)
    os.unlink(out)
    return summarise(raw)


UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def summarise(raw):
    """Per benchmark: the repetitions' real times (s), calibrations and normalised costs.
    A benchmark is normalised by the median of its repetitions' probes (counter calib_GFLOPS,
    DGEMM measured just before and after each timed loop with the same number of threads),
    else by the run's median of BM_calib_dgemm."""
    reps, calib = {}, []
    for b in raw["benchmarks"]:
        if b.get("run_type") != "iteration" or b.get("error_occurred"):
            continue
        name = base_name(b["run_name"])
        if name == CALIBRATION:
            calib.append(b["GFLOP"])  # a rate counter: GFLOP per second
            continue
        reps.setdefault(name, []).append((b["real_time"] * UNIT[b["time_unit"]], b.get("calib_GFLOPS")))
    if not calib:
        sys.exit("gate: the calibration benchmark %s did not run" % CALIBRATION)
    g = statistics.median(calib)
    out = {}
    for n, rs in sorted(reps.items()):
        t = [x for x, _ in rs]
        c = [p if p else g for _, p in rs]
        # The median probe of this benchmark in this run: follows the run's machine state for
        # the benchmark's thread count without multiplying each time by a noisy probe.
        m = statistics.median(c)
        out[n] = {"real_time_s": t, "calib_gflops": c, "calibration": m, "cost": [x * m for x in t]}
    return {"context": raw.get("context", {}), "calibration_gflops": g, "calibration_samples": calib, "benchmarks": out}


def mann_whitney_greater(x, y):
    """One-sided p-value of H1: x tends to be larger than y (Mann-Whitney U).
    Exact null distribution without ties (small samples), normal approximation with the tie
    correction otherwise."""
    n1, n2 = len(x), len(y)
    u = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in x for b in y)
    pooled = sorted(x + y)
    ties = len(pooled) != len(set(pooled))
    if not ties and n1 * n2 <= 2500:
        # count[k] = number of arrangements with U = k, built by the recursion on (n1, n2)
        from functools import lru_cache

        @lru_cache(maxsize=None)
        def count(k, a, b):
            if k < 0:
                return 0
            if a == 0 or b == 0:
                return 1 if k == 0 else 0
            return count(k - b, a - 1, b) + count(k, a, b - 1)

        total = math.comb(n1 + n2, n1)
        kmin = int(math.ceil(u - 1e-9))
        return sum(count(k, n1, n2) for k in range(kmin, n1 * n2 + 1)) / total
    mu = n1 * n2 / 2.0
    counts = {}
    for v in pooled:
        counts[v] = counts.get(v, 0) + 1
    tie = sum(c ** 3 - c for c in counts.values())
    nn = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12.0 * ((nn + 1) - tie / (nn * (nn - 1))))
    if sigma == 0:
        return 1.0
    z = (u - mu - 0.5) / sigma
    return 0.5 * math.erfc(z / math.sqrt(2))


def compare(base, cur, threshold, alpha):
    """Prints the comparison table; returns the list of regressed benchmark names."""
    print("calibration (BM_calib_dgemm, 1-thread DGEMM): baseline %.1f GFLOP/s, current %.1f GFLOP/s"
          % (base["calibration_gflops"], cur["calibration_gflops"]))
    print("%-52s %10s %10s %7s %9s  %s" % ("benchmark (cost = time x calibration GFLOP/s)", "baseline", "current",
                                           "ratio", "p(slower)", "verdict"))
    failed = []
    for name in sorted(set(base["benchmarks"]) | set(cur["benchmarks"])):
        if name not in cur["benchmarks"]:
            print("%-52s missing from the current run" % name)
            failed.append(name)
            continue
        if name not in base["benchmarks"]:
            print("%-52s not in the baseline (refresh it to gate this benchmark)" % name)
            continue
        b, c = base["benchmarks"][name]["cost"], cur["benchmarks"][name]["cost"]
        ratio = statistics.median(c) / statistics.median(b)
        p_slow = mann_whitney_greater(c, b)
        p_fast = mann_whitney_greater(b, c)
        if ratio > 1 + threshold and p_slow < alpha:
            verdict = "REGRESSION"
            failed.append(name)
        elif ratio > 1 + threshold:
            verdict = "slower but not significant"
        elif ratio < 1 - threshold and p_fast < alpha:
            verdict = "faster"
        else:
            verdict = "ok"
        print("%-52s %10.3f %10.3f %7.3f %9.2g  %s" % (name, statistics.median(b), statistics.median(c), ratio, p_slow, verdict))
    return failed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["check", "refresh", "compare", "run"])
    ap.add_argument("--bench", default="build/bench/hmi_bench", help="hmi_bench executable")
    ap.add_argument("--baseline", default=os.path.join(HERE, "baseline.json"))
    ap.add_argument("--current", help="compare: a run's JSON instead of running")
    ap.add_argument("--out", help="write this run's measurements here")
    ap.add_argument("--full", action="store_true", help="the larger gate set (d = 1000; a few minutes)")
    ap.add_argument("--reps", type=int, default=9, help="repetitions per benchmark (>= 9)")
    ap.add_argument("--runs", type=int, default=3, help="refresh: runs pooled into the baseline")
    ap.add_argument("--min-time", type=float, default=0.1, help="--benchmark_min_time per repetition (seconds, no unit)")
    ap.add_argument("--threshold", type=float, default=0.10, help="relative slowdown that fails (0.10 = 10 %%)")
    ap.add_argument("--alpha", type=float, default=0.01, help="significance level of the one-sided test")
    ap.add_argument("--confirm", type=int, default=1,
                    help="check: re-measure flagged benchmarks this many times; fail only if flagged every time")
    args = ap.parse_args()
    if args.reps < 9:
        sys.exit("gate: --reps must be >= 9 (with fewer the test cannot reach significance reliably)")
    names = GATE_FULL if args.full else GATE_SHORT

    if args.action == "compare":
        with open(args.baseline) as f:
            base = json.load(f)
        with open(args.current) as f:
            cur = json.load(f)
        return 1 if compare(base, cur, args.threshold, args.alpha) else 0

    cur = run_bench(args.bench, names, args.reps, args.min_time)
    cur["gate"] = {"set": "full" if args.full else "short", "reps": args.reps, "min_time": args.min_time}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(cur, f, indent=1)
    if args.action == "run":
        return 0
    if args.action == "refresh":
        # Pool several runs: the baseline then spans the run-to-run states of the machine
        # (a single lucky or unlucky run would bias every later comparison).
        for _ in range(args.runs - 1):
            more = run_bench(args.bench, names, args.reps, args.min_time)
            for n, b in more["benchmarks"].items():
                if n in cur["benchmarks"]:
                    for k in ("real_time_s", "calib_gflops", "cost"):
                        cur["benchmarks"][n][k] += b[k]
            cur["calibration_samples"] += more["calibration_samples"]
        cur["calibration_gflops"] = statistics.median(cur["calibration_samples"])
        cur["gate"]["runs"] = args.runs
        with open(args.baseline, "w") as f:
            json.dump(cur, f, indent=1)
        print("wrote %s (%d benchmarks, calibration %.1f GFLOP/s); commit it"
              % (args.baseline, len(cur["benchmarks"]), cur["calibration_gflops"]))
        return 0
    with open(args.baseline) as f:
        base = json.load(f)
    failed = compare(base, cur, args.threshold, args.alpha)
    # Confirmation: a flagged benchmark is measured again (fresh repetitions, fresh calibration
    # probes) and fails only if it is flagged again. Load bursts that the probes miss rarely hit
    # the same benchmark twice; a real slowdown is there every time (the injected 20 % delay and
    # the SSE2 path are flagged in each confirmation too).
    for round_ in range(args.confirm):
        if not failed:
            break
        print("\nconfirming %d flagged benchmark(s) (round %d of %d): %s"
              % (len(failed), round_ + 1, args.confirm, ", ".join(failed)))
        again = run_bench(args.bench, [CALIBRATION] + [n for n in failed if n != CALIBRATION], args.reps, args.min_time)
        sub = dict(base, benchmarks={n: base["benchmarks"][n] for n in failed if n in base["benchmarks"]})
        failed = [n for n in compare(sub, again, args.threshold, args.alpha) if n in failed]
    if failed:
        print("\nGATE FAILED: %d benchmark(s) more than %.0f %% slower (p < %g): %s"
              % (len(failed), 100 * args.threshold, args.alpha, ", ".join(failed)))
        return 1
    print("\ngate passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
