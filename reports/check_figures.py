#!/usr/bin/python3
"""Checks of what a reader sees, run by reports/test_render.sh (exit 0 = pass, one line per
failure on stderr):

  legends   no two rows of one legend look alike (same colours, line styles and markers
            under different labels: e.g. three dotted 'alpha_k' lines), on every figure of
            the sample run and on a figure built to have that defect;
  hist      histogram panels show their tallest bin whole (y limit above the largest count);
  width     every rendered figure fits the HTML page (render.MAX_WIDTH_IN) so it is not shrunk;
  readme    the README's figure table lists, for every figure, the claims its data declares
            in the code's registry (the {"id", "F<n>"} ... {"claims", {...}} figure specs in
            app/experiments_*.cpp), and no other figures.

Usage: check_figures.py SAMPLE_RUN_DIR REPO_ROOT
"""
import glob
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import render  # noqa: E402

fails = []


def fail(msg):
    fails.append(msg)


def check_legends(fig, name):
    for rows in fig.get("_legends", []):
        seen = {}
        for label, look in rows:
            if look in seen and seen[look] != label:
                fail(f"{name}: legend rows '{seen[look]}' and '{label}' look alike")
            seen.setdefault(look, label)


def load(path, fid):
    return render.parse_figure(path, fid)


def main(sample, root):
    data = os.path.join(sample, "data")
    names = sorted(n for n in os.listdir(data) if render.FIGURE_RE.match(n))
    for n in names:
        fig = load(os.path.join(data, n), n[:-5])
        png, _ = render.render_figure(fig)
        check_legends(fig, n)
        width_in = int.from_bytes(png[16:20], "big") / 150.0
        if width_in > render.MAX_WIDTH_IN + 1.0:  # + the legend and margins bbox_inches adds
            fail(f"{n}: {width_in:.1f} in wide, the page shows {render.MAX_WIDTH_IN} in unshrunk")

    # A figure with the F1 defect (three unlabelled-apart dotted vlines) and a clipped histogram:
    # the renderer must label the lines on the axes and keep the legend rows distinct.
    bad = {"id": "F9", "title": "t", "legend": "right", "panels": [{
        "series": [{"style": "theory", "label": "k = 1", "x": [1, 2], "y": [0, 1]}],
        "vlines": [{"x": 1.2, "label": "alpha_1", "linestyle": "dotted"},
                   {"x": 1.5, "label": "alpha_2", "linestyle": "dotted"},
                   {"x": 1.8, "label": "alpha_3", "linestyle": "dotted"}]}]}
    hist = {"id": "F9", "title": "t", "yscale": "log", "panels": [{"note": "n", "series": [
        {"style": "hist", "label": "h", "bins": [0, 1, 2, 3], "counts": [3, 40, 7]}]}]}
    tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"check_figures_{os.getpid()}.json")
    try:
        for spec, tag in ((bad, "synthetic vlines"), (hist, "synthetic histogram")):
            with open(tmp, "w") as fh:
                json.dump(spec, fh)
            fig = load(tmp, "F9")
            render.render_figure(fig)
            check_legends(fig, tag)
            if tag == "synthetic vlines":
                labels = [lab for rows in fig["_legends"] for lab, _ in rows]
                if any(lab.startswith("alpha_") for lab in labels):
                    fail(f"{tag}: look-alike reference lines still in the legend: {labels}")
            else:
                import matplotlib.pyplot as plt
                with plt.rc_context(render.RC):
                    f, ax = plt.subplots()
                    ax.set_yscale("log")
                    render.hist_headroom(ax, fig["panels"][0])
                    top = ax.get_ylim()[1]
                    plt.close(f)
                if not top > 40:
                    fail(f"{tag}: y limit {top} cuts the tallest bin (40)")
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)

    # README figure table against the registry in app/.
    registry = {}
    for src in sorted(glob.glob(os.path.join(root, "app", "experiments_*.cpp"))):
        text = open(src, encoding="utf-8").read()
        for m in re.finditer(r'\{"id",\s*"(F\d+)"\}', text):
            c = re.search(r'\{"claims",\s*\{([^}]*)\}\}', text[m.end():m.end() + 1500])
            if not c:
                fail(f"{os.path.basename(src)}: figure {m.group(1)} declares no claims near its id")
                continue
            registry[m.group(1)] = sorted(re.findall(r'"(C\d+)"', c.group(1)))
    if not registry:
        fail("no figure registry found in app/experiments_*.cpp")
    readme = {}
    for line in open(os.path.join(root, "README.md"), encoding="utf-8"):
        m = re.match(r"^\|\s*(F\d+)\s*\|.*\|\s*([^|]*)\|\s*$", line)
        if m:
            readme[m.group(1)] = sorted(re.findall(r"C\d+", m.group(2)))
    for fid in sorted(set(registry) | set(readme)):
        if fid not in readme:
            fail(f"README.md: figure table lacks {fid} (code: {', '.join(registry[fid])})")
        elif fid not in registry:
            fail(f"README.md: figure table lists {fid}, which the code does not draw")
        elif readme[fid] != registry[fid]:
            fail(f"README.md: {fid} supports {', '.join(readme[fid])} in the table, "
                 f"{', '.join(registry[fid])} in the code")

    for f in fails:
        print(f"check_figures.py: {f}", file=sys.stderr)
    return 1 if fails else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: check_figures.py SAMPLE_RUN_DIR REPO_ROOT", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
