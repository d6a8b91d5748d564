#!/usr/bin/python3
"""Regenerates the RENDERING FIXTURE in this folder (report.json, data/F1..F7.json).

The numbers are synthetic (Theory A formulas plus noise): they exist only to exercise
reports/render.py and reports/test_render.sh and are NOT results of hmi.
Usage (from the repository root):  /usr/bin/python3 reports/sample_run/make_fixture.py reports/sample_run
"""
import json, math, os, sys
import numpy as np
rng = np.random.default_rng(7)
OUT = sys.argv[1]
os.makedirs(OUT + "/data", exist_ok=True)
def r(v, n=4):
    if isinstance(v, (list, tuple, np.ndarray)): return [r(e, n) for e in v]
    v = float(v)
    if not math.isfinite(v): return None
    return float(f"{v:.{n}g}")
def dump(name, obj):
    with open(f"{OUT}/{name}", "w") as fh:
        json.dump(obj, fh, separators=(",", ":"), ensure_ascii=False); fh.write("\n")
FIX = "RENDERING FIXTURE — synthetic numbers, not results. "
p, Delta, mu2 = 8, 0.1, math.sqrt(2)
def lam(g, p=p):
    k = np.arange(1, p + 1); l = k ** -g; return l / np.sqrt((l ** 2).sum())
def thr(g, p=p):
    l = lam(g, p); VarT = 1 + Delta; return VarT / (mu2 * l) ** 2
# F1 cascade
th = thr(1.0)
ag = np.logspace(-0.3, 2.7, 61); asim = np.logspace(-0.2, 2.6, 13)
series = []
for k in range(p):
    q = np.clip(1 - th[k] / ag, 0, None)
    series.append({"label": f"k = {k+1}", "style": "theory", "color_index": k, "x": r(ag), "y": r(q)})
for k in range(p):
    qs = np.clip(1 - th[k] / asim, 0, None)
    qs = np.clip(qs - 0.04 * qs * (1 - qs) * 3 + rng.normal(0, 0.012, len(asim)) + 0.03 * (qs == 0), 0, 1)
    series.append({"label": f"k = {k+1}", "style": "sim", "color_index": k, "x": r(asim), "y": r(qs),
                   "yerr": r(0.01 + 0.03 * rng.random(len(asim)), 2)})
dump("data/F1.json", {"id": "F1", "title": "Cascade of phase transitions: overlaps q_k(α)",
  "caption": FIX + "Squared overlap between the k-th teacher direction and the spectral estimate vs sample ratio α = n/d (d = 500, γ = 1, he2, Δ = 0.1, 5 seeds). Direction k is learned above α_k ∝ k^(2γ).",
  "kind": "lines", "palette": "sequential", "legend_title": "direction", "claims": ["C1", "C2"],
  "xlabel": "sample ratio α = n/d", "ylabel": "squared overlap q_k", "xscale": "log", "yscale": "linear",
  "panels": [{"ylim": [-0.02, 1.02], "series": series}]})
# F2 spectra
panels = []
l1 = lam(1.0)
for a in (2.0, 20.0, 200.0):
    s = math.sqrt(1.1 / a); d = 500
    ev = 2 * s * np.cos(np.pi * rng.beta(1.5, 1.5, d))  # semicircle-ish
    theta = mu2 * l1
    outl = [t + s * s / t for t in theta if t > s]
    ev[:len(outl)] = np.array(outl) + rng.normal(0, 0.02, len(outl))
    lo, hi = min(ev.min(), -2 * s) - 0.05, max(ev.max(), 2 * s) + 0.1
    edges = np.linspace(lo, hi, 61); cnt, _ = np.histogram(ev, edges)
    panels.append({"title": f"α = {a:g}", "note": f"{len(outl)} predicted outliers",
      "series": [{"label": "eigenvalues of M", "style": "hist", "bins": r(edges), "counts": cnt.tolist(), "color_index": 0},
                 {"label": "predicted outliers ν_k", "style": "marker", "x": r(outl), "color_index": 3}],
      "vlines": [{"x": r(2 * s), "label": "predicted bulk edge 2s", "linestyle": "dashed"},
                 {"x": r(-2 * s), "linestyle": "dashed"}]})
dump("data/F2.json", {"id": "F2", "title": "Spectral structure of M", "caption": FIX + "Eigenvalue histograms of M at three α (d = 500, one seed). Dashed: predicted bulk edges ±2s; triangles: predicted outlier positions ν_k = θ_k + s²/θ_k.",
  "kind": "histograms", "claims": ["C3"], "xlabel": "eigenvalue", "ylabel": "count", "yscale": "log", "panels": panels})
# F3 thresholds
series = []
k = np.arange(1, 13)
for i, g in enumerate((0.75, 1.0, 1.5)):
    t = thr(g, 12)
    series.append({"label": f"γ = {g:g}", "style": "theory", "color_index": i, "x": k.tolist(), "y": r(t)})
    ts = t * np.exp(rng.normal(0, 0.08, len(k))) * 1.1
    series.append({"label": f"γ = {g:g}", "style": "sim", "color_index": i, "x": k[:9].tolist(), "y": r(ts[:9]), "yerr": r(0.15 * ts[:9], 2)})
    series.append({"label": "slope 2γ" if i == 0 else None, "style": "reference", "x": [3, 12], "y": r([t[2] * 0.45, t[2] * 0.45 * 4 ** (2 * g)])})
dump("data/F3.json", {"id": "F3", "title": "Thresholds α_k vs k", "caption": FIX + "Measured weak-recovery thresholds (markers, mean ± CI over 5 seeds) and Theory A thresholds α_k = Var T/θ_k² (lines); dashed grey: slope 2γ.",
  "claims": ["C1"], "xlabel": "direction index k", "ylabel": "threshold $\\alpha_k$", "xscale": "log", "yscale": "log", "panels": [{"series": series}]})
# F4 risk
series = []
ag = np.logspace(0, 3.3, 80); asim = np.logspace(0.2, 3.1, 12)
for i, g in enumerate((0.75, 1.0, 1.5)):
    l = lam(g, 40); t = 1.1 / (mu2 * l) ** 2
    def R(a):
        q = np.clip(1 - t / a, 0, 1); return (2 * l ** 2 * (1 - q ** 2)).sum() + Delta * 0 + 20 / (a * 300)
    Rt = np.array([R(a) for a in ag]); Rs = np.array([R(a) for a in asim]) * np.exp(rng.normal(0.05, 0.05, len(asim)))
    series.append({"label": f"γ = {g:g}", "style": "theory", "color_index": i, "x": r(ag), "y": r(Rt)})
    series.append({"label": f"γ = {g:g}", "style": "sim", "color_index": i, "x": r(asim), "y": r(Rs), "yerr": r(0.1 * Rs, 2)})
    e = 1 - 1 / (2 * g); a0, a1 = 30, 2000
    series.append({"label": "$\\propto\\alpha^{-(1-1/(2\\gamma))}$" if i == 0 else None, "style": "reference", "x": [a0, a1], "y": r([R(a0) * 0.6, R(a0) * 0.6 * (a1 / a0) ** -e])})
dump("data/F4.json", {"id": "F4", "title": "Prediction error R(α)", "caption": FIX + "Test error of spectral first layer + ridge readout (markers) vs Theory E (lines). Dashed grey: asymptotic slope −(1 − 1/(2γ)).",
  "claims": ["C4", "C7"], "xlabel": "sample ratio α = n/d", "ylabel": "excess test error R", "xscale": "log", "yscale": "log", "panels": [{"series": series}]})
# F5 finite size
th1 = thr(1.0); k2 = 2
ag = np.logspace(0, 1.6, 100); series = [{"label": "Theory (d → ∞)", "style": "theory", "color": "black", "x": r(ag), "y": r(np.clip(1 - th1[k2] / ag, 0, 1))}]
asim = np.logspace(0.2, 1.5, 14)
for i, d in enumerate((250, 500, 1000, 2000)):
    w = 3.0 * d ** (-1 / 3)
    z = np.log(asim / th1[k2]) / w
    qs = np.clip(1 - th1[k2] / asim, 0, 1) * 0.5 * (1 + np.tanh(2 * z)) + 0.03 * np.exp(-z * z) * (250 / d) ** 0.5
    series.append({"label": f"d = {d}", "style": "sim", "color_index": i, "x": r(asim), "y": r(qs + rng.normal(0, 0.01, len(asim))), "yerr": r(0.04 * (250 / d) ** 0.5 * np.ones(len(asim)), 2)})
dump("data/F5.json", {"id": "F5", "title": "Finite-size effects on q_3(α)", "caption": FIX + "Overlap of direction k = 3 at four dimensions; the transition sharpens as d grows (width ∝ d^(−1/3)).",
  "claims": ["C2"], "xlabel": "sample ratio α = n/d", "ylabel": "squared overlap q_3", "xscale": "log", "palette": "sequential", "legend_title": "dimension",
  "panels": [{"series": series, "vlines": [{"x": r(th1[k2]), "label": "threshold α_3 (theory)", "linestyle": "dotted"}]}]})
# F6 GD
steps = np.unique(np.logspace(0, 4, 90).astype(int))
l = lam(1.0, 4); esc_t = [300, 900, 2500, 6000]
def loss(t, shift):
    out = Delta
    for k in range(4):
        out += l[k] ** 2 * 2 * (1 - 1 / (1 + np.exp(-(np.log(t) - np.log(esc_t[k] * shift)) * 6)))
    return out / 2
ser = []
for sd, sh in enumerate((0.9, 1.0, 1.12)):
    ser.append({"label": f"seed {sd}", "style": "sim_line", "color_index": sd, "x": steps.tolist(), "y": r(loss(steps, sh) * np.exp(rng.normal(0, 0.01, len(steps))))})
hl = [{"y": r((Delta + 2 * (l[k:] ** 2).sum()) / 2), "label": "predicted plateaus" if k == 0 else None, "linestyle": "dotted", "color": "0.5"} for k in range(4)]
vl = [{"x": e, "label": "predicted escape times" if i == 0 else None, "linestyle": "dashed", "color": "0.65"} for i, e in enumerate(esc_t)]
al = []
for i, eta in enumerate((0.003, 0.01, 0.03)):
    c = 1 - np.exp(-steps * eta * 0.8)
    al.append({"label": f"η = {eta:g}", "style": "sim_line", "color_index": i + 3, "x": steps.tolist(), "y": r(np.clip(c, 0, 1))})
dump("data/F6.json", {"id": "F6", "title": "Gradient descent: plateaus and spectral limit", "caption": FIX + "Left: training loss of plain GD (width m = 4) with plateaus at the predicted levels. Right: alignment between GD first-layer subspace and the top-m eigenspace of M (mean cos² of principal angles).",
  "claims": ["C6"], "legend": "panel", "xlabel": "GD step", "xscale": "log",
  "panels": [{"title": "training loss", "ylabel": "training loss", "yscale": "log", "series": ser, "hlines": hl, "vlines": vl, "legend_loc": "lower left"},
             {"title": "GD vs spectral subspace", "ylabel": "mean cos² (principal angles)", "ylim": [0, 1.05], "series": al,
              "hlines": [{"y": 1, "label": "spectral subspace", "color": "black", "linestyle": "dashed"}], "legend_loc": "lower right"}]})
# F7 spectral vs IT
k = np.arange(1, 11); ts = thr(1.0, 10); to = Delta / (mu2 * lam(1.0, 10)) ** 2; tag = ts * 0.55
dump("data/F7.json", {"id": "F7", "title": "Spectral vs information-theoretic thresholds", "caption": FIX + "Spectral thresholds (Theory A and measured) against the oracle and agnostic information-theoretic thresholds (Theory C); right: ratio spectral/oracle stays bounded in k.",
  "claims": ["C5"], "xlabel": "direction index k", "xscale": "log", "yscale": "log", "legend": "panel",
  "panels": [{"title": "thresholds", "ylabel": "α_k", "series": [
      {"label": "spectral (Theory A)", "style": "theory", "color_index": 0, "x": k.tolist(), "y": r(ts)},
      {"label": "spectral (measured)", "style": "sim", "color_index": 0, "x": k[:7].tolist(), "y": r(ts[:7] * np.exp(rng.normal(0.05, 0.06, 7))), "yerr": r(0.12 * ts[:7], 2)},
      {"label": "IT agnostic", "style": "theory", "color_index": 1, "x": k.tolist(), "y": r(tag)},
      {"label": "IT oracle", "style": "theory", "color_index": 2, "x": k.tolist(), "y": r(to)},
      {"label": "slope 2γ", "style": "reference", "x": [1, 10], "y": r([to[0] * 0.4, to[0] * 0.4 * 100])}]},
    {"title": "ratio spectral / oracle", "ylabel": "$\\alpha_k^{\\rm spec} / \\alpha_k^{\\rm oracle}$", "yscale": "linear", "ylim": [0, None], "series": [
      {"label": "ratio (theory)", "style": "theory", "color_index": 0, "x": k.tolist(), "y": r(ts / to)},
      {"label": "ratio (measured)", "style": "sim", "color_index": 0, "x": k[:7].tolist(), "y": r(ts[:7] / to[:7] * np.exp(rng.normal(0.05, 0.06, 7))), "yerr": r(np.full(7, 1.0), 2)}],
     "hlines": [{"y": 11, "label": "Var T / Δ", "linestyle": "dashed", "color": "0.5"}]}]})
# report.json
pts = lambda xs, meas, exp, tol: [{"x": x, "measured": r(m), "expected": r(e), "tolerance": tol, "pass": bool(abs(m - e) <= tol)} for x, m, e in zip(xs, meas, exp)]
claims = [
 {"id": "C1", "title": "Cascade: thresholds α_k ∝ k^(2γ), learned in order of k", "pass": True,
  "points": pts([0.75, 1.0, 1.5], [1.47, 2.06, 2.95], [1.5, 2.0, 3.0], 0.15), "tolerance_reason": "fitted slope over k=1..6, 5 seeds; 95% CI half-width of the fit plus 2% for threshold detection bias at d=500", "seeds": [1, 2, 3, 4, 5], "figures": ["F1", "F3"]},
 {"id": "C2", "title": "Overlap curves q_k(α) match Theory B", "pass": False,
  "points": pts(["k=1, α=10", "k=2, α=10", "k=3, α=40", "k=3, α=12"], [0.91, 0.62, 0.71, 0.05], [0.92, 0.64, 0.74, 0.21], 0.05),
  "tolerance_reason": "3/sqrt(d) at d=500 (0.134 too loose; using measured seed std × 2 ≈ 0.05) plus theory quadrature error 1e-4", "seeds": [1, 2, 3, 4, 5], "notes": "Point near threshold fails: finite-size smoothing (expected, see F5)."},
 {"id": "C6", "title": "GD small-lr limit equals the spectral subspace", "pass": True,
  "points": pts([0.003, 0.01], [0.998, 0.999], [1.0, 1.0], 0.01), "tolerance_reason": "principal-angle cos² within 0.01 after 10^4 steps (power-iteration convergence rate from the eigengap)", "seeds": list(range(1, 11))}]
report = {"schema_version": 1, "note": "RENDERING FIXTURE (reports/sample_run): synthetic numbers that only exercise reports/render.py. These are not results.",
  "command": "./build/hmi reproduce --preset quick --out runs/sample --seeds 5",
  "provenance": {"git_commit": "0000000000000000000000000000000000000000", "compiler": "GCC 12.2.0", "build_type": "Release", "blas": "OpenBLAS 0.3.21 (pthreads, 8 threads)",
                 "versions": {"hmi": "0.1.0", "xtensor": "0.24.3", "eigen": "3.4.0", "spectra": "1.0.1"}, "date": "2026-01-01T00:00:00Z"},
  "config": {"preset": "quick", "d": 500, "p": 8, "gamma": [0.75, 1.0, 1.5], "activation": "he2", "Delta": 0.1, "preprocessing": "identity", "seeds": 5},
  "claims": claims, "figures": ["F1", "F2", "F3", "F4", "F5", "F6", "F7"], "wall_time_s": 412.7, "complete": True}
with open(f"{OUT}/report.json", "w") as fh:
    json.dump(report, fh, indent=1, ensure_ascii=False); fh.write("\n")
