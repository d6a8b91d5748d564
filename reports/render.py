#!/usr/bin/python3
"""Render an `hmi reproduce` run folder into figures, CSV files and one HTML page.

Usage:  /usr/bin/python3 reports/render.py RUN [--no-svg] [--quiet]

Reads   RUN/report.json and RUN/data/F*.json   (format: reports/FIGURES.md)
Writes  RUN/figures/F*.png, RUN/figures/F*.svg, RUN/data/F*.csv, RUN/index.html

Every output is written atomically (temporary file in the same folder, then
os.replace).  On malformed input the script prints one line
`render.py: error: ...` on stderr and exits with status 2 (status 1 for any
other failure; set HMI_RENDER_DEBUG=1 to get the Python traceback).
Uses only the standard library, numpy and matplotlib (Debian packages).
"""
import base64
import csv
import html
import io
import json
import math
import os
import re
import sys
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
import matplotlib.transforms as mtransforms  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402
from matplotlib.legend_handler import HandlerTuple  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
import numpy as np  # noqa: E402

FORMAT_VERSION = 1
FIGURE_RE = re.compile(r"^F([0-9]+)\.json$")


class FormatError(Exception):
    """Malformed input: reported as one line, exit status 2."""


# ----------------------------------------------------------------------------
# small validation helpers (explicit, so messages name the offending field)
# ----------------------------------------------------------------------------

def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def req(obj, key, where):
    if not isinstance(obj, dict):
        raise FormatError(f"{where}: expected an object")
    if key not in obj:
        raise FormatError(f"{where}: missing required field '{key}'")
    return obj[key]


def as_str(v, where, allow_none=False):
    if v is None and allow_none:
        return None
    if not isinstance(v, str):
        raise FormatError(f"{where}: expected a string, got {type(v).__name__}")
    return v


def as_bool(v, where):
    if not isinstance(v, bool):
        raise FormatError(f"{where}: expected true/false, got {type(v).__name__}")
    return v


def as_num(v, where, allow_none=True):
    """Number, or null (-> NaN; JSON has no NaN).  NaN/Infinity tokens accepted."""
    if v is None and allow_none:
        return float("nan")
    if not _is_num(v):
        raise FormatError(f"{where}: expected a number, got {type(v).__name__}")
    return float(v)


def as_int(v, where):
    if not isinstance(v, int) or isinstance(v, bool):
        raise FormatError(f"{where}: expected an integer, got {type(v).__name__}")
    return v


def as_list(v, where):
    if not isinstance(v, list):
        raise FormatError(f"{where}: expected an array, got {type(v).__name__}")
    return v


def as_obj(v, where):
    if not isinstance(v, dict):
        raise FormatError(f"{where}: expected an object, got {type(v).__name__}")
    return v


def as_numarray(v, where):
    lst = as_list(v, where)
    return np.array([as_num(e, f"{where}[{i}]") for i, e in enumerate(lst)], dtype=float)


def as_enum(v, allowed, where):
    if v not in allowed:
        raise FormatError(f"{where}: {v!r} is not one of {', '.join(map(str, allowed))}")
    return v


def as_lim(v, where):
    if v is None:
        return None
    lst = as_list(v, where)
    if len(lst) != 2:
        raise FormatError(f"{where}: expected [low, high]")
    out = [None if e is None else as_num(e, f"{where}[{i}]", allow_none=False)
           for i, e in enumerate(lst)]
    return out


def load_json(path):
    try:
        with open(path, "r", encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise FormatError(f"{path}: file not found")
    except UnicodeDecodeError as e:
        raise FormatError(f"{path}: not UTF-8 ({e.reason})")
    except json.JSONDecodeError as e:
        raise FormatError(f"{path}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}")


# ----------------------------------------------------------------------------
# report.json
# ----------------------------------------------------------------------------

def parse_report(path):
    r = as_obj(load_json(path), "report.json")
    w = "report.json"
    sv = req(r, "schema_version", w)
    if not (isinstance(sv, int) and not isinstance(sv, bool)):
        raise FormatError(f"{w}.schema_version: expected an integer")
    as_str(req(r, "command", w), f"{w}.command")
    prov = as_obj(req(r, "provenance", w), f"{w}.provenance")
    for k in ("git_commit", "compiler", "build_type", "blas", "date"):
        as_str(req(prov, k, f"{w}.provenance"), f"{w}.provenance.{k}")
    vers = as_obj(req(prov, "versions", f"{w}.provenance"), f"{w}.provenance.versions")
    for k, v in vers.items():
        if not isinstance(v, (str, int, float)) or isinstance(v, bool):
            raise FormatError(f"{w}.provenance.versions.{k}: expected a string")
    as_obj(req(r, "config", w), f"{w}.config")
    claims = as_list(req(r, "claims", w), f"{w}.claims")
    for i, c in enumerate(claims):
        cw = f"{w}.claims[{i}]"
        as_obj(c, cw)
        as_str(req(c, "id", cw), f"{cw}.id")
        as_str(req(c, "title", cw), f"{cw}.title")
        as_bool(req(c, "pass", cw), f"{cw}.pass")
        as_str(req(c, "tolerance_reason", cw), f"{cw}.tolerance_reason")
        for j, s in enumerate(as_list(req(c, "seeds", cw), f"{cw}.seeds")):
            as_int(s, f"{cw}.seeds[{j}]")
        for j, p in enumerate(as_list(req(c, "points", cw), f"{cw}.points")):
            pw = f"{cw}.points[{j}]"
            as_obj(p, pw)
            x = req(p, "x", pw)
            if not (x is None or isinstance(x, str) or _is_num(x)):
                raise FormatError(f"{pw}.x: expected a number or a string")
            for k in ("measured", "expected", "tolerance"):
                as_num(req(p, k, pw), f"{pw}.{k}")
            as_bool(req(p, "pass", pw), f"{pw}.pass")
        if "notes" in c:
            as_str(c["notes"], f"{cw}.notes")
        if "figures" in c:
            for j, f in enumerate(as_list(c["figures"], f"{cw}.figures")):
                as_str(f, f"{cw}.figures[{j}]")
    for i, f in enumerate(as_list(req(r, "figures", w), f"{w}.figures")):
        as_str(f, f"{w}.figures[{i}]")
    as_num(req(r, "wall_time_s", w), f"{w}.wall_time_s")
    as_bool(req(r, "complete", w), f"{w}.complete")
    if "note" in r:
        as_str(r["note"], f"{w}.note")
    return r


# ----------------------------------------------------------------------------
# data/F*.json
# ----------------------------------------------------------------------------

SCALES = ("linear", "log", "symlog")
STYLES = ("theory", "sim", "sim_line", "reference", "marker", "hist")
LINESTYLES = {"solid": "-", "dashed": "--", "dotted": ":", "dashdot": "-."}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")
LEGENDS = ("auto", "right", "below", "panel", "none")
PALETTES = ("categorical", "sequential")


def parse_series(s, where):
    as_obj(s, where)
    out = {"style": as_enum(req(s, "style", where), STYLES, f"{where}.style")}
    out["label"] = as_str(s.get("label"), f"{where}.label", allow_none=True)
    ci = s.get("color_index")
    out["color_index"] = None if ci is None else as_int(ci, f"{where}.color_index")
    if out["color_index"] is not None and out["color_index"] < 0:
        raise FormatError(f"{where}.color_index: must be >= 0")
    col = s.get("color")
    if col is not None:
        as_str(col, f"{where}.color")
        if not mcolors.is_color_like(col):
            raise FormatError(f"{where}.color: {col!r} is not a colour")
    out["color"] = col
    mk = s.get("marker")
    if mk is not None:
        as_enum(mk, MARKERS, f"{where}.marker")
    out["marker"] = mk
    if out["style"] == "hist":
        edges = as_numarray(req(s, "bins", where), f"{where}.bins")
        counts = as_numarray(req(s, "counts", where), f"{where}.counts")
        if len(edges) != len(counts) + 1:
            raise FormatError(f"{where}: len(bins) must be len(counts)+1 "
                              f"(got {len(edges)} and {len(counts)})")
        if len(counts) == 0:
            raise FormatError(f"{where}.counts: empty histogram")
        if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
            raise FormatError(f"{where}.bins: edges must be finite and increasing")
        out["bins"], out["counts"] = edges, counts
        return out
    x = as_numarray(req(s, "x", where), f"{where}.x")
    out["x"] = x
    if "y" in s and s["y"] is not None:
        y = as_numarray(s["y"], f"{where}.y")
        if len(y) != len(x):
            raise FormatError(f"{where}: len(y)={len(y)} != len(x)={len(x)}")
        out["y"] = y
    elif out["style"] == "marker":
        out["y"] = None  # ticks along the bottom of the panel
    else:
        raise FormatError(f"{where}: missing required field 'y'")
    lo = hi = None
    if s.get("yerr") is not None:
        ye = as_list(s["yerr"], f"{where}.yerr")
        if len(ye) == 2 and all(isinstance(e, list) for e in ye):
            lo = as_numarray(ye[0], f"{where}.yerr[0]")
            hi = as_numarray(ye[1], f"{where}.yerr[1]")
        else:
            lo = hi = as_numarray(ye, f"{where}.yerr")
        if len(lo) != len(x) or len(hi) != len(x):
            raise FormatError(f"{where}: yerr must have len(x)={len(x)} entries")
        if np.any(lo[np.isfinite(lo)] < 0) or np.any(hi[np.isfinite(hi)] < 0):
            raise FormatError(f"{where}.yerr: error bars must be >= 0")
    out["yerr_lo"], out["yerr_hi"] = lo, hi
    return out


def parse_refline(v, where, key):
    as_obj(v, where)
    out = {key: as_num(req(v, key, where), f"{where}.{key}", allow_none=False),
           "label": as_str(v.get("label"), f"{where}.label", allow_none=True)}
    ci = v.get("color_index")
    out["color_index"] = None if ci is None else as_int(ci, f"{where}.color_index")
    col = v.get("color")
    if col is not None and not (isinstance(col, str) and mcolors.is_color_like(col)):
        raise FormatError(f"{where}.color: not a colour")
    out["color"] = col
    out["linestyle"] = LINESTYLES[as_enum(v.get("linestyle", "dashed"), tuple(LINESTYLES),
                                          f"{where}.linestyle")]
    return out


def parse_figure(path, expect_id):
    f = as_obj(load_json(path), os.path.basename(path))
    w = os.path.basename(path)
    fid = as_str(req(f, "id", w), f"{w}.id")
    if fid != expect_id:
        raise FormatError(f"{w}.id: {fid!r} does not match the file name ({expect_id!r})")
    fig = {"id": fid,
           "title": as_str(req(f, "title", w), f"{w}.title"),
           "caption": as_str(f.get("caption", ""), f"{w}.caption"),
           "kind": as_str(f.get("kind", "lines"), f"{w}.kind"),
           "legend": as_enum(f.get("legend", "auto"), LEGENDS, f"{w}.legend"),
           "legend_title": as_str(f.get("legend_title"), f"{w}.legend_title", allow_none=True),
           "palette": as_enum(f.get("palette", "categorical"), PALETTES, f"{w}.palette"),
           "style_key": as_bool(f.get("style_key", True), f"{w}.style_key"),
           "claims": [as_str(c, f"{w}.claims[{i}]")
                      for i, c in enumerate(as_list(f.get("claims", []), f"{w}.claims"))]}
    fig["ncols"] = as_int(f.get("ncols", 0), f"{w}.ncols")
    size = f.get("size")
    if size is not None:
        size = as_lim(size, f"{w}.size")
        if None in size or size[0] <= 0 or size[1] <= 0:
            raise FormatError(f"{w}.size: expected [width, height] in inches")
    fig["size"] = size
    fig["sharex"] = as_bool(f.get("sharex", False), f"{w}.sharex")
    fig["sharey"] = as_bool(f.get("sharey", False), f"{w}.sharey")
    defaults = {"xlabel": as_str(f.get("xlabel", ""), f"{w}.xlabel"),
                "ylabel": as_str(f.get("ylabel", ""), f"{w}.ylabel"),
                "xscale": as_enum(f.get("xscale", "linear"), SCALES, f"{w}.xscale"),
                "yscale": as_enum(f.get("yscale", "linear"), SCALES, f"{w}.yscale")}
    panels = as_list(req(f, "panels", w), f"{w}.panels")
    if not panels:
        raise FormatError(f"{w}.panels: at least one panel is required")
    fig["panels"] = []
    for i, p in enumerate(panels):
        pw = f"{w}.panels[{i}]"
        as_obj(p, pw)
        P = {"title": as_str(p.get("title", ""), f"{pw}.title"),
             "note": as_str(p.get("note"), f"{pw}.note", allow_none=True),
             "xlim": as_lim(p.get("xlim"), f"{pw}.xlim"),
             "ylim": as_lim(p.get("ylim"), f"{pw}.ylim"),
             "legend_loc": as_str(p.get("legend_loc", "best"), f"{pw}.legend_loc")}
        for k in ("xlabel", "ylabel"):
            P[k] = as_str(p.get(k, defaults[k]), f"{pw}.{k}")
        for k in ("xscale", "yscale"):
            P[k] = as_enum(p.get(k, defaults[k]), SCALES, f"{pw}.{k}")
        P["series"] = [parse_series(s, f"{pw}.series[{j}]")
                       for j, s in enumerate(as_list(p.get("series", []), f"{pw}.series"))]
        P["vlines"] = [parse_refline(v, f"{pw}.vlines[{j}]", "x")
                       for j, v in enumerate(as_list(p.get("vlines", []), f"{pw}.vlines"))]
        P["hlines"] = [parse_refline(v, f"{pw}.hlines[{j}]", "y")
                       for j, v in enumerate(as_list(p.get("hlines", []), f"{pw}.hlines"))]
        fig["panels"].append(P)
    return fig


# ----------------------------------------------------------------------------
# atomic output
# ----------------------------------------------------------------------------

def atomic_write(path, data):
    """Write bytes or str to path atomically (temp file in the same folder + os.replace)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ----------------------------------------------------------------------------
# CSV
# ----------------------------------------------------------------------------

CSV_COLUMNS = ["panel", "panel_title", "series", "label", "style",
               "x", "x_hi", "y", "yerr_lo", "yerr_hi"]


def _fmt(v):
    if v is None:
        return ""
    v = float(v)
    if not math.isfinite(v):
        return "" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def figure_csv(fig):
    buf = io.StringIO()
    wr = csv.writer(buf, lineterminator="\n")
    wr.writerow(CSV_COLUMNS)
    for pi, P in enumerate(fig["panels"]):
        for si, s in enumerate(P["series"]):
            lab = s["label"] or ""
            if s["style"] == "hist":
                for lo, hi, c in zip(s["bins"][:-1], s["bins"][1:], s["counts"]):
                    wr.writerow([pi, P["title"], si, lab, "hist", _fmt(lo), _fmt(hi), _fmt(c), "", ""])
                continue
            for k, x in enumerate(s["x"]):
                y = None if s["y"] is None else s["y"][k]
                elo = None if s["yerr_lo"] is None else s["yerr_lo"][k]
                ehi = None if s["yerr_hi"] is None else s["yerr_hi"][k]
                wr.writerow([pi, P["title"], si, lab, s["style"], _fmt(x), "", _fmt(y),
                             _fmt(elo), _fmt(ehi)])
        for v in P["vlines"]:
            wr.writerow([pi, P["title"], "", v["label"] or "", "vline", _fmt(v["x"]), "", "", "", ""])
        for h in P["hlines"]:
            wr.writerow([pi, P["title"], "", h["label"] or "", "hline", "", "", _fmt(h["y"]), "", ""])
    return buf.getvalue()


# ----------------------------------------------------------------------------
# plotting
# ----------------------------------------------------------------------------

REF_GREY = "0.45"
TAB10_NO_GREY = [c for i, c in enumerate(plt.get_cmap("tab10").colors) if i != 7]

RC = {
    "font.size": 11, "axes.titlesize": 11.5, "axes.labelsize": 11.5,
    "xtick.labelsize": 10, "ytick.labelsize": 10, "legend.fontsize": 9.5,
    "legend.title_fontsize": 10, "figure.titlesize": 13.5,
    "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.color": "0.88", "grid.linewidth": 0.7,
    "axes.axisbelow": True, "axes.edgecolor": "0.25", "axes.linewidth": 0.9,
    "xtick.color": "0.25", "ytick.color": "0.25",
    "legend.frameon": False, "savefig.dpi": 150,
    "svg.hashsalt": "hmi-render", "svg.fonttype": "path",
    "figure.facecolor": "white", "savefig.facecolor": "white",
    "mathtext.fontset": "dejavusans", "errorbar.capsize": 2.5,
}


class Palette:
    """Colours by color_index; series without one get a colour per label (so a
    theory curve and simulation points with the same label share a colour)."""

    def __init__(self, fig):
        self.kind = fig["palette"]
        self.by_label = {}
        used = set()
        for P in fig["panels"]:
            for s in P["series"]:
                if s["color_index"] is not None:
                    used.add(s["color_index"])
        nxt = 0
        for P in fig["panels"]:
            for s in P["series"]:
                if s["color_index"] is None and s["color"] is None and s["style"] != "reference":
                    key = s["label"] or f"__unlabelled_{id(s)}"
                    if key not in self.by_label:
                        while nxt in used:
                            nxt += 1
                        self.by_label[key] = nxt
                        used.add(nxt)
                    s["_auto_index"] = self.by_label[key]
        self.n = max(used) + 1 if used else 1

    def color(self, idx):
        if self.kind == "sequential":
            t = 0.0 if self.n <= 1 else idx / (self.n - 1)
            return plt.get_cmap("viridis")(0.80 * t)
        return TAB10_NO_GREY[idx % len(TAB10_NO_GREY)]

    def of_series(self, s):
        if s["color"] is not None:
            return s["color"]
        if s["color_index"] is not None:
            return self.color(s["color_index"])
        if s["style"] == "reference":
            return REF_GREY
        return self.color(s.get("_auto_index", 0))

    def index_of(self, s):
        if s["color_index"] is not None:
            return s["color_index"]
        return s.get("_auto_index", 0)


def _positive_only(arr, scale):
    if arr is None or scale != "log":
        return arr
    a = arr.copy()
    a[~(a > 0)] = np.nan
    return a


def draw_series(ax, s, pal, P):
    c = pal.of_series(s)
    st = s["style"]
    if st == "hist":
        art = ax.stairs(s["counts"], s["bins"], fill=True, facecolor=mcolors.to_rgba(c, 0.30),
                        edgecolor=c, lw=1.0)
        return art
    x = _positive_only(s["x"], P["xscale"])
    y = _positive_only(s["y"], P["yscale"]) if s["y"] is not None else None
    lo, hi = s["yerr_lo"], s["yerr_hi"]
    if lo is not None and P["yscale"] == "log" and y is not None:
        lo = np.minimum(lo, 0.9 * np.where(np.isfinite(y), y, 0.0))  # keep bars above 0 on log axes
    if st == "theory":
        (art,) = ax.plot(x, y, "-", color=c, lw=2.0, zorder=3, solid_capstyle="round")
        if lo is not None:
            ax.fill_between(x, y - lo, y + hi, color=c, alpha=0.18, lw=0, zorder=2)
        return art
    if st == "sim_line":
        (art,) = ax.plot(x, y, "-", color=c, lw=1.4, alpha=0.95, zorder=3)
        if lo is not None:
            ax.fill_between(x, y - lo, y + hi, color=c, alpha=0.18, lw=0, zorder=2)
        return art
    if st == "reference":
        (art,) = ax.plot(x, y, "--", color=c, lw=1.3, zorder=2, dashes=(5, 3))
        return art
    if st == "sim":
        mk = s["marker"] or MARKERS[pal.index_of(s) % len(MARKERS)]
        yerr = None if lo is None else np.vstack([lo, hi])
        art = ax.errorbar(x, y, yerr=yerr, fmt=mk, ms=5.5, color=c, mfc=c, mec="white",
                          mew=0.7, elinewidth=1.1, capsize=2.5, zorder=4, ls="none")
        return art
    if st == "marker":
        mk = s["marker"] or ("^" if y is None else "*")
        col = c if (s["color"] or s["color_index"] is not None or s["label"]) else "black"
        if y is None:
            trans = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
            (art,) = ax.plot(x, np.full(len(x), 0.025), ls="none", marker=mk, ms=9, color=col,
                             mec="black", mew=0.6, transform=trans, clip_on=False, zorder=6)
        else:
            (art,) = ax.plot(x, y, ls="none", marker=mk, ms=11, color=col, mec="black",
                             mew=0.6, zorder=6)
        return art
    raise AssertionError(st)


def refline_color(v, pal):
    if v["color"] is not None:
        return v["color"]
    if v["color_index"] is not None:
        return pal.color(v["color_index"])
    return "0.2"


def draw_refline(ax, v, pal, vertical):
    c = refline_color(v, pal)
    f = ax.axvline if vertical else ax.axhline
    return f(v["x"] if vertical else v["y"], color=c, ls=v["linestyle"], lw=1.4, zorder=2.5)


def _plain(v, _pos=None):
    if v <= 0:
        return ""
    if 1e-3 <= v < 1e5:
        return f"{v:g}"
    e = math.floor(math.log10(v) + 1e-9)
    m = v / 10 ** e
    return f"$10^{{{e}}}$" if abs(m - 1) < 1e-6 else f"${m:g}\\times10^{{{e}}}$"


def tidy_log_axis(axis, lims):
    """Plain-number labels on log axes (1, 10, 100 rather than 10^0 ...), and labels at
    1-2-5 when the axis spans few decades (e.g. k = 1..12)."""
    lo, hi = sorted(lims)
    if not (lo > 0 and hi > 0):
        return
    span = math.log10(hi / lo)
    if span < 2.2:
        axis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    elif span > 7:
        return  # many decades: keep matplotlib's 10^n labels
    axis.set_major_formatter(mticker.FuncFormatter(_plain))
    axis.set_minor_formatter(mticker.NullFormatter())


def handle_look(h):
    """What a legend row looks like (colour, line style, marker of each part), for the test
    that no two rows of a legend look alike."""
    parts = h if isinstance(h, tuple) else (h,)
    out = []
    for a in parts:
        if isinstance(a, ErrorbarContainer):
            a = a[0]
        if isinstance(a, Line2D):
            out.append(("line", mcolors.to_hex(a.get_color()), str(a.get_linestyle()), str(a.get_marker())))
        elif hasattr(a, "get_facecolor"):
            out.append((type(a).__name__, mcolors.to_hex(a.get_facecolor()), str(a.get_linestyle()), ""))
        else:
            out.append((type(a).__name__,))
    return tuple(out)


def legend_handles(entries, order, kinds):
    """Legend rows: data series first, reference lines (dashed grey, vlines, hlines) last."""
    first = [k for k in order if kinds.get(k) != "ref"]
    last = [k for k in order if kinds.get(k) == "ref"]
    labels = first + last
    handles = [tuple(entries[k]) if len(entries[k]) > 1 else entries[k][0] for k in labels]
    return handles, labels


# Widest figure that index.html shows at its natural size (content width ~1230 CSS px at
# 110 px per inch, see png_css_width): wider figures are shrunk by the browser, fonts and all.
MAX_WIDTH_IN = 11.2
MIN_PANEL_WIDTH_IN = 3.4


def layout(fig):
    """(ncols, nrows, (width, height) in inches).  A grid wider than the page is reflowed
    into more rows (balanced: 4 panels become 2 x 2, not 3 + 1) keeping each panel's size,
    rather than drawn wide and shrunk by the browser; a wide automatic size is narrowed to
    the page as long as panels stay at least MIN_PANEL_WIDTH_IN wide."""
    n = len(fig["panels"])
    ncols = fig["ncols"] if fig["ncols"] > 0 else min(n, 3)
    ncols = min(ncols, n)
    nrows = int(math.ceil(n / ncols))
    if fig["size"]:
        w, h = fig["size"]
        pw, ph = w / ncols, h / nrows
    elif n == 1:
        return 1, 1, (7.0, 4.6)
    else:
        pw, ph = 4.6, 3.7
    if pw * ncols > MAX_WIDTH_IN:
        if MAX_WIDTH_IN / ncols >= MIN_PANEL_WIDTH_IN:
            pw = MAX_WIDTH_IN / ncols  # narrower panels, same grid
        else:
            fit = max(1, int(MAX_WIDTH_IN // max(pw, MIN_PANEL_WIDTH_IN)))
            nrows = int(math.ceil(n / fit))
            ncols = int(math.ceil(n / nrows))
            pw = min(pw, MAX_WIDTH_IN / ncols)
    extra = 0.3 if not fig["size"] else 0.0
    return ncols, nrows, (pw * ncols, ph * nrows + extra)


def _look(color, linestyle):
    return (mcolors.to_hex(mcolors.to_rgba(color)), linestyle)


def ambiguous_reflines(fig, pal):
    """Labels of vlines/hlines that look like another refline with a different label (same
    colour and line style: e.g. three dotted 'alpha_k' lines).  A legend cannot tell them
    apart, so they are labelled on the axes instead."""
    looks = {}
    for P in fig["panels"]:
        for v in P["vlines"] + P["hlines"]:
            if v["label"]:
                looks.setdefault(_look(refline_color(v, pal), v["linestyle"]), set()).add(v["label"])
    return {lab for labs in looks.values() if len(labs) > 1 for lab in labs}


def label_refline(ax, v, pal, vertical, top=True):
    c = refline_color(v, pal)
    if vertical:
        trans = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
        # at the top, unless the panel's corner holds a note or a legend (then at the bottom)
        ax.text(v["x"], 0.985 if top else 0.02, " " + v["label"] + " ", transform=trans, rotation=90,
                va="top" if top else "bottom", ha="right",
                fontsize=9, color=c, zorder=7,
                bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.75))
    else:
        trans = mtransforms.blended_transform_factory(ax.transAxes, ax.transData)
        ax.text(0.995, v["y"], v["label"] + " ", transform=trans, va="bottom", ha="right",
                fontsize=9, color=c, zorder=7,
                bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.75))


def hist_headroom(ax, P):
    """Histograms: the autoscaled top would cut the tallest bin (and the corner note sits on
    it); show every bar whole, with room above it for the note."""
    tops = [float(np.nanmax(s["counts"])) for s in P["series"] if s["style"] == "hist" and len(s["counts"])]
    if not tops or P["ylim"]:
        return
    top = max(tops)
    if not top > 0:
        return
    if P["yscale"] == "log":
        ax.set_ylim(0.7, top * (3.0 if P["note"] else 1.6))
    else:
        ax.set_ylim(0, top * (1.3 if P["note"] else 1.08))


def neutral_if_mixed(handle, colours):
    """A legend row shared by series of different colours is drawn in neutral grey."""
    if len(colours) <= 1 or not isinstance(handle, Line2D):
        return handle
    return Line2D([], [], color=REF_GREY, ls=handle.get_linestyle(), lw=handle.get_linewidth(),
                  marker=handle.get_marker(), ms=handle.get_markersize())


def render_figure(fig):
    """Return (png_bytes, svg_bytes) for one figure spec.  fig["_legends"] receives the legend
    rows drawn (list per legend of (label, look)) for the tests."""
    with plt.rc_context(RC):
        n = len(fig["panels"])
        ncols, nrows, size = layout(fig)
        mpl_fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False,
                                     sharex=fig["sharex"], sharey=fig["sharey"],
                                     layout="constrained")
        pal = Palette(fig)
        in_place = ambiguous_reflines(fig, pal)
        colours = {}  # label -> colours of its series (a shared label across colours: grey row)
        fig["_legends"] = []
        legend_mode = fig["legend"]
        if legend_mode == "auto":
            legend_mode = "right" if ncols == 1 else "below"
        entries = {}  # label -> list of artists (figure-wide legend)
        order = []
        kinds = {}  # label -> "data" | "ref"
        label_styles = {}  # label -> set of series styles
        for i, P in enumerate(fig["panels"]):
            ax = axes[i // ncols][i % ncols]
            ax.set_xscale(P["xscale"])
            ax.set_yscale(P["yscale"])
            panel_entries = {}
            panel_order = []

            def add(label, art, kind, _pe=panel_entries, _po=panel_order):
                if not label:
                    return
                kinds.setdefault(label, kind)
                for dct, lst in ((entries, order), (_pe, _po)):
                    if label not in dct:
                        dct[label] = []
                        lst.append(label)
                    # keep one artist per style for a label (theory line + sim marker)
                    have = [type(a) for a in dct[label]]
                    if type(art) not in have and len(dct[label]) < 2:
                        dct[label].append(art)

            for s in P["series"]:
                art = draw_series(ax, s, pal, P)
                if s["label"]:
                    label_styles.setdefault(s["label"], set()).add(s["style"])
                    if s["style"] != "hist":
                        colours.setdefault(s["label"], set()).add(mcolors.to_hex(pal.of_series(s)))
                add(s["label"], art, "ref" if s["style"] == "reference" else "data")
            for v in P["vlines"]:
                art = draw_refline(ax, v, pal, True)
                if v["label"] in in_place:
                    label_refline(ax, v, pal, True, top=not P["note"] and legend_mode != "panel")
                else:
                    add(v["label"], art, "ref")
            for h in P["hlines"]:
                art = draw_refline(ax, h, pal, False)
                if h["label"] in in_place:
                    label_refline(ax, h, pal, False)
                else:
                    add(h["label"], art, "ref")
            hist_headroom(ax, P)
            ax.set_xlabel(P["xlabel"])
            ax.set_ylabel(P["ylabel"])
            if P["title"]:
                ax.set_title(P["title"], loc="left", fontweight="semibold")
            if P["xlim"]:
                ax.set_xlim(*P["xlim"])
            if P["ylim"]:
                ax.set_ylim(*P["ylim"])
            if P["xscale"] == "log":
                tidy_log_axis(ax.xaxis, ax.get_xlim())
            if P["yscale"] == "log":
                tidy_log_axis(ax.yaxis, ax.get_ylim())
            if P["note"]:
                ax.text(0.02, 0.97, P["note"], transform=ax.transAxes, va="top", ha="left",
                        fontsize=9.5, color="0.15",
                        bbox=dict(boxstyle="round,pad=0.3", fc="white", ec="0.8", alpha=0.9))
            if legend_mode == "panel" and panel_order:
                h, labs = legend_handles(panel_entries, panel_order, kinds)
                h = [neutral_if_mixed(x, colours.get(lab, ())) for x, lab in zip(h, labs)]
                fig["_legends"].append(list(zip(labs, map(handle_look, h))))
                ax.legend(h, labs, loc=P["legend_loc"], title=fig["legend_title"],
                          handler_map={tuple: HandlerTuple(ndivide=1)}, frameon=True,
                          framealpha=0.9, edgecolor="0.85", fancybox=True)
            if not P["series"]:
                ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center",
                        va="center", color="0.5")
        for j in range(n, nrows * ncols):
            axes[j // ncols][j % ncols].set_visible(False)

        if legend_mode in ("right", "below") and order:
            handles, labels = legend_handles(entries, order, kinds)
            handles = [neutral_if_mixed(x, colours.get(lab, ())) for x, lab in zip(handles, labels)]
            fig["_legends"].append(list(zip(labels, map(handle_look, handles))))
            # a label drawn both as theory and as simulation shows as line+marker: say which is which
            if fig["style_key"] and any({"theory", "sim"} <= v for v in label_styles.values()):
                sim_key = ErrorbarContainer(
                    (Line2D([], [], color="0.15", marker="o", ls="none", mec="white", ms=6),
                     (), (LineCollection([], colors="0.15", linewidths=1.1),)),
                    has_yerr=True)
                handles += [Line2D([], [], color="0.15", lw=2.0), sim_key]
                labels += ["theory (solid line)", "simulation (mean ± error)"]
            if legend_mode == "right":
                mpl_fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5),
                               title=fig["legend_title"],
                               handler_map={tuple: HandlerTuple(ndivide=1)})
            else:
                mpl_fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                               ncols=min(len(labels), 4), title=fig["legend_title"],
                               handler_map={tuple: HandlerTuple(ndivide=1)})
        mpl_fig.suptitle(f"{fig['id']}  ·  {fig['title']}", x=0.01, ha="left",
                         fontweight="semibold")
        png = io.BytesIO()
        mpl_fig.savefig(png, format="png", dpi=150, bbox_inches="tight", pad_inches=0.12,
                        metadata={"Software": None})
        svg = io.BytesIO()
        mpl_fig.savefig(svg, format="svg", bbox_inches="tight", pad_inches=0.12,
                        metadata={"Date": None, "Creator": None})
        plt.close(mpl_fig)
    return png.getvalue(), svg.getvalue()


# ----------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------

CSS = """
:root { --ok:#1a7f37; --okbg:#dafbe1; --bad:#cf222e; --badbg:#ffebe9; --mut:#57606a; }
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif;
       margin: 0 auto; max-width: 1320px; padding: 24px 28px 60px; color: #1f2328;
       line-height: 1.45; background: #fff; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
h2 { font-size: 1.3em; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1.1em; margin: 0 0 8px; }
.sub { color: var(--mut); margin: 0 0 18px; }
.summary { display: flex; gap: 14px; flex-wrap: wrap; margin: 14px 0 4px; }
.card { border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 16px; min-width: 150px; }
.card .v { font-size: 1.45em; font-weight: 600; }
.card .k { color: var(--mut); font-size: .85em; }
.banner { border-radius: 8px; padding: 10px 14px; margin: 14px 0; font-weight: 600; }
.banner.note { background: #fff8c5; color: #4d2d00; border: 1px solid #eed888; }
.banner.bad { background: var(--badbg); color: var(--bad); border: 1px solid #ffcecb; }
table { border-collapse: collapse; width: 100%; font-size: .93em; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #d8dee4; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.kv td:first-child { color: var(--mut); width: 190px; white-space: nowrap; }
code, pre { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .9em; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 12px;
      overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 12px; font-weight: 700;
         font-size: .85em; letter-spacing: .03em; }
.pass { background: var(--okbg); color: var(--ok); }
.fail { background: var(--badbg); color: var(--bad); }
tr.failrow td { background: #fff8f7; }
details { margin: 2px 0; }
details summary { cursor: pointer; color: #0969da; }
details table { margin: 6px 0 10px; font-size: .9em; }
figure { margin: 26px 0 34px; padding: 16px; border: 1px solid #d0d7de; border-radius: 10px; }
figure img { max-width: 100%; height: auto; display: block; margin: 6px auto; }
figcaption { color: #24292f; margin-top: 8px; }
figcaption .links { color: var(--mut); font-size: .88em; margin-top: 6px; }
a { color: #0969da; text-decoration: none; } a:hover { text-decoration: underline; }
.toc a { margin-right: 12px; white-space: nowrap; }
.muted { color: var(--mut); }
"""


def esc(v):
    return html.escape("" if v is None else str(v), quote=True)


def fmt_num(v):
    if v is None:
        return "—"
    if isinstance(v, str):
        return esc(v)
    if isinstance(v, bool):
        return "yes" if v else "no"
    v = float(v)
    if math.isnan(v):
        return "—"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e5 or a < 1e-3:
        return f"{v:.3e}"
    if float(v).is_integer():
        return f"{int(v)}"
    return f"{v:.4g}"


def badge(ok):
    return f'<span class="badge {"pass" if ok else "fail"}">{"PASS" if ok else "FAIL"}</span>'


def build_html(report, figs, rendered, missing):
    out = []
    prov = report["provenance"]
    claims = report["claims"]
    npass = sum(1 for c in claims if c["pass"])
    out.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
    out.append('<meta name="viewport" content="width=device-width, initial-scale=1">')
    out.append(f"<title>hmi reproduce — {esc(prov['date'])}</title>")
    out.append(f"<style>{CSS}</style></head><body>")
    out.append("<h1>hmi — reproduction report</h1>")
    out.append('<p class="sub">Hierarchical multi-index models: spectral cascade, scaling laws '
               'and plateaus (Defilippis, Krzakala, Loureiro, Maillard, arXiv:2602.05846). '
               f'Generated {esc(prov["date"])} from commit <code>{esc(prov["git_commit"])}</code>.</p>')
    if report.get("note"):
        out.append(f'<div class="banner note">{esc(report["note"])}</div>')
    if not report["complete"]:
        out.append('<div class="banner bad">This run is INCOMPLETE: some claims or figures '
                   'were not produced (see below).</div>')
    out.append('<div class="summary">')
    cls = "pass" if npass == len(claims) and claims else "fail"
    out.append(f'<div class="card"><div class="v"><span class="badge {cls}" '
               f'style="font-size:.8em">{npass} / {len(claims)}</span></div>'
               '<div class="k">claims passed</div></div>')
    out.append(f'<div class="card"><div class="v">{len(rendered)}</div>'
               '<div class="k">figures</div></div>')
    out.append(f'<div class="card"><div class="v">{fmt_wall(report["wall_time_s"])}</div>'
               '<div class="k">wall time</div></div>')
    out.append(f'<div class="card"><div class="v">{"yes" if report["complete"] else "no"}</div>'
               '<div class="k">run complete</div></div>')
    out.append("</div>")
    toc = ['<a href="#claims">Claims</a>'] + \
          [f'<a href="#{esc(f["id"])}">{esc(f["id"])}</a>' for f in figs] + \
          ['<a href="#provenance">Provenance</a>', '<a href="#rerun">How to rerun</a>']
    out.append(f'<p class="toc">{"".join(toc)}</p>')

    # claims
    fig_ids = {f["id"] for f in figs}
    fig_of_claim = {}
    for f in figs:
        for c in f["claims"]:
            fig_of_claim.setdefault(c, []).append(f["id"])
    out.append('<h2 id="claims">Claims</h2>')
    if not claims:
        out.append('<p class="muted">No claims were evaluated in this run.</p>')
    else:
        out.append("<table><tr><th>id</th><th>claim</th><th>result</th><th>points passed</th>"
                   "<th>seeds</th><th>tolerance and why</th></tr>")
        for c in claims:
            pts = c["points"]
            pp = sum(1 for p in pts if p["pass"])
            flist = list(dict.fromkeys(c.get("figures", []) + fig_of_claim.get(c["id"], [])))
            links = " ".join(f'<a href="#{esc(x)}">{esc(x)}</a>' if x in fig_ids else esc(x)
                             for x in flist)
            title = esc(c["title"]) + (f' <span class="muted">({links})</span>' if links else "")
            if c.get("notes"):
                title += f'<br><span class="muted">{esc(c["notes"])}</span>'
            detail = ""
            if pts:
                rows = "".join(
                    f'<tr{" class=failrow" if not p["pass"] else ""}><td class="num">{fmt_num(p["x"])}</td>'
                    f'<td class="num">{fmt_num(p["measured"])}</td>'
                    f'<td class="num">{fmt_num(p["expected"])}</td>'
                    f'<td class="num">{fmt_num(p["tolerance"])}</td>'
                    f'<td class="num">{fmt_num(abs_dev(p))}</td><td>{badge(p["pass"])}</td></tr>'
                    for p in pts)
                detail = ('<details><summary>show points</summary><table><tr><th>x</th>'
                          '<th>measured</th><th>expected</th><th>tolerance</th><th>|diff|</th>'
                          f'<th></th></tr>{rows}</table></details>')
            seeds = c["seeds"]
            seeds_s = (f'{len(seeds)}' + (f' <span class="muted">({esc(", ".join(map(str, seeds)))})</span>'
                                          if 0 < len(seeds) <= 6 else ""))
            out.append(f'<tr{" class=failrow" if not c["pass"] else ""}>'
                       f'<td><b>{esc(c["id"])}</b></td><td>{title}{detail}</td>'
                       f'<td>{badge(c["pass"])}</td><td class="num">{pp} / {len(pts)}</td>'
                       f'<td>{seeds_s}</td><td>{esc(c["tolerance_reason"])}</td></tr>')
        out.append("</table>")

    # figures
    out.append('<h2 id="figures">Figures</h2>')
    if not figs:
        out.append('<p class="muted">No figure data in this run.</p>')
    for f in figs:
        png = rendered[f["id"]]
        b64 = base64.b64encode(png).decode("ascii")
        cl = ""
        if f["claims"]:
            cl = " Supports " + ", ".join(f'<a href="#claims">{esc(c)}</a>' for c in f["claims"]) + "."
        w_px = png_css_width(png)
        style = f' style="width:{w_px}px"' if w_px else ""
        out.append(f'<figure id="{esc(f["id"])}">'
                   f'<img alt="{esc(f["id"])}: {esc(f["title"])}"{style} src="data:image/png;base64,{b64}">'
                   f'<figcaption><b>{esc(f["id"])} — {esc(f["title"])}.</b> {esc(f["caption"])}{cl}'
                   f'<div class="links">Files in this run: <a href="figures/{esc(f["id"])}.svg">'
                   f'figures/{esc(f["id"])}.svg</a> · <a href="data/{esc(f["id"])}.csv">'
                   f'data/{esc(f["id"])}.csv</a> · <a href="data/{esc(f["id"])}.json">'
                   f'data/{esc(f["id"])}.json</a></div></figcaption></figure>')
    if missing:
        out.append('<p class="muted">Listed in report.json but without data (not rendered): '
                   f'{esc(", ".join(missing))}.</p>')

    # provenance
    out.append('<h2 id="provenance">Provenance</h2><table class="kv">')
    for k in ("git_commit", "compiler", "build_type", "blas", "date"):
        out.append(f"<tr><td>{esc(k)}</td><td><code>{esc(prov[k])}</code></td></tr>")
    for k, v in sorted(prov["versions"].items()):
        out.append(f"<tr><td>version: {esc(k)}</td><td><code>{esc(v)}</code></td></tr>")
    for k, v in prov.items():
        if k not in ("git_commit", "compiler", "build_type", "blas", "date", "versions"):
            out.append(f"<tr><td>{esc(k)}</td><td><code>{esc(json.dumps(v) if not isinstance(v, str) else v)}</code></td></tr>")
    out.append(f"<tr><td>schema_version</td><td>{esc(report['schema_version'])}</td></tr>")
    out.append(f"<tr><td>wall time</td><td>{fmt_wall(report['wall_time_s'])}</td></tr>")
    out.append("</table>")
    out.append("<details><summary>configuration (config in report.json)</summary>"
               f"<pre>{esc(json.dumps(report['config'], indent=2, sort_keys=True))}</pre></details>")

    # rerun
    out.append('<h2 id="rerun">How to rerun</h2>')
    out.append("<p>From a checkout of the commit above, after building <code>hmi</code>:</p>")
    out.append(f"<pre>{esc(report['command'])}</pre>")
    out.append("<p>To redraw the figures and this page from the run folder without recomputing "
               "(matplotlib from Debian's <code>python3-matplotlib</code>):</p>")
    out.append("<pre>/usr/bin/python3 reports/render.py RUN_FOLDER</pre>")
    out.append('<p class="muted">Every figure\'s numbers are in <code>data/F*.json</code> '
               "(format: <code>reports/FIGURES.md</code>) and flattened in <code>data/F*.csv</code>; "
               "the claim checks are in <code>report.json</code>.</p>")
    out.append("</body></html>\n")
    return "\n".join(out)


def png_css_width(png):
    """CSS width for a 150-dpi PNG: about its physical size (110 CSS px per inch), so fonts
    look the same size in every figure; max-width:100% shrinks wide figures."""
    if len(png) < 24 or png[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    width = int.from_bytes(png[16:20], "big")
    return int(round(width * 110 / 150))


def abs_dev(p):
    m, e = p["measured"], p["expected"]
    if _is_num(m) and _is_num(e):
        return abs(float(m) - float(e))
    return None


def fmt_wall(t):
    if t is None or not _is_num(t) or math.isnan(float(t)):
        return "—"
    t = float(t)
    if t < 120:
        return f"{t:.1f} s"
    if t < 7200:
        return f"{t / 60:.1f} min"
    return f"{t / 3600:.2f} h"


# ----------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------

def natural_key(name):
    m = FIGURE_RE.match(name)
    return int(m.group(1))


def run(run_dir, svg=True, quiet=False):
    if not os.path.isdir(run_dir):
        raise FormatError(f"{run_dir}: not a directory")
    report = parse_report(os.path.join(run_dir, "report.json"))
    data_dir = os.path.join(run_dir, "data")
    names = sorted((n for n in (os.listdir(data_dir) if os.path.isdir(data_dir) else [])
                    if FIGURE_RE.match(n)), key=natural_key)
    figs = [parse_figure(os.path.join(data_dir, n), n[:-5]) for n in names]  # validate all first
    fig_dir = os.path.join(run_dir, "figures")
    os.makedirs(fig_dir, exist_ok=True)
    rendered = {}
    for f in figs:
        png, svgb = render_figure(f)
        atomic_write(os.path.join(fig_dir, f["id"] + ".png"), png)
        if svg:
            atomic_write(os.path.join(fig_dir, f["id"] + ".svg"), svgb)
        atomic_write(os.path.join(data_dir, f["id"] + ".csv"), figure_csv(f))
        rendered[f["id"]] = png
        if not quiet:
            print(f"render.py: {f['id']}: {len(png) // 1024} KiB png", file=sys.stderr)
    missing = [x for x in report["figures"] if x not in rendered]
    atomic_write(os.path.join(run_dir, "index.html"), build_html(report, figs, rendered, missing))
    if not quiet:
        print(f"render.py: wrote {os.path.join(run_dir, 'index.html')} "
              f"({len(figs)} figures)", file=sys.stderr)
    return 0


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    flags = {a for a in argv[1:] if a.startswith("--")}
    unknown = flags - {"--no-svg", "--quiet", "--help"}
    if "--help" in flags:
        print(__doc__.strip())
        return 0
    if len(args) != 1 or unknown:
        print("render.py: error: usage: render.py RUN_DIR [--no-svg] [--quiet]", file=sys.stderr)
        return 2
    try:
        return run(args[0], svg="--no-svg" not in flags, quiet="--quiet" in flags)
    except FormatError as e:
        print(f"render.py: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except Exception as e:  # one line, unless debugging
        if os.environ.get("HMI_RENDER_DEBUG"):
            raise
        msg = " ".join(f"{type(e).__name__}: {e}".split())
        print(f"render.py: error: {msg[:400]}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
