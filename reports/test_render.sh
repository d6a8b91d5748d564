#!/usr/bin/env bash
# Smoke test for reports/render.py: renders reports/sample_run (a rendering fixture) into a
# temporary copy and checks that every expected output exists and is non-empty, that the
# HTML page is self-contained, that malformed input is rejected with a one-line message,
# that no temporary files are left behind, and (reports/check_figures.py) that legends,
# histograms and figure widths do not mislead and the README's figure table matches the
# figures' declared claims in app/.  Exit status 0 = pass.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${HMI_PYTHON:-/usr/bin/python3}"   # Debian's python3 with python3-matplotlib
RENDER="$HERE/render.py"
SAMPLE="$HERE/sample_run"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
nonempty() { [ -s "$1" ] || fail "missing or empty: ${1#"$TMP"/}"; }

# --- 1. render the sample run --------------------------------------------------------
RUN="$TMP/run"
cp -r "$SAMPLE" "$RUN"
rm -rf "$RUN/figures" "$RUN/index.html" "$RUN"/data/*.csv
if ! "$PY" "$RENDER" "$RUN" --quiet 2>"$TMP/stderr"; then
  fail "render.py failed on the sample run: $(head -c 400 "$TMP/stderr")"
fi
ids=()
for f in "$RUN"/data/F*.json; do ids+=("$(basename "$f" .json)"); done
[ "${#ids[@]}" -ge 1 ] || fail "sample run has no data/F*.json"
for id in "${ids[@]}"; do
  nonempty "$RUN/figures/$id.png"
  nonempty "$RUN/figures/$id.svg"
  nonempty "$RUN/data/$id.csv"
  if [ -s "$RUN/figures/$id.png" ]; then
    [ "$(head -c 8 "$RUN/figures/$id.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] \
      || fail "$id.png is not a PNG"
  fi
  if [ -s "$RUN/figures/$id.svg" ]; then
    grep -q "<svg" "$RUN/figures/$id.svg" || fail "$id.svg is not an SVG"
  fi
  if [ -s "$RUN/data/$id.csv" ]; then
    [ "$(head -n1 "$RUN/data/$id.csv")" = "panel,panel_title,series,label,style,x,x_hi,y,yerr_lo,yerr_hi" ] \
      || fail "$id.csv has an unexpected header"
    [ "$(wc -l <"$RUN/data/$id.csv")" -ge 2 ] || fail "$id.csv has no rows"
  fi
done
HTML="$RUN/index.html"
nonempty "$HTML"
if [ -s "$HTML" ]; then
  n_img="$(grep -o 'src="data:image/png;base64,' "$HTML" | wc -l)"
  [ "$n_img" -eq "${#ids[@]}" ] || fail "index.html embeds $n_img PNGs, expected ${#ids[@]}"
  for id in "${ids[@]}"; do grep -q "id=\"$id\"" "$HTML" || fail "index.html lacks figure $id"; done
  # self-contained: no external scripts, stylesheets or images
  if grep -Eq '<(script|link)[^>]+(src|href)=|<img[^>]+src="(http|file|/|figures/)' "$HTML"; then
    fail "index.html references external resources"
  fi
  cmd="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["command"])' "$RUN/report.json")"
  esc_cmd="$("$PY" -c 'import html,sys; print(html.escape(sys.argv[1]))' "$cmd")"
  grep -qF "$esc_cmd" "$HTML" || fail "index.html lacks the rerun command"
  for c in $("$PY" -c 'import json,sys; print(" ".join(c["id"] for c in json.load(open(sys.argv[1]))["claims"]))' "$RUN/report.json"); do
    grep -q "<b>$c</b>" "$HTML" || fail "index.html lacks claim $c"
  done
  grep -q 'class="badge pass"' "$HTML" || fail "index.html shows no PASS badge"
  grep -q 'class="badge fail"' "$HTML" || fail "index.html shows no FAIL badge (sample has a failing claim)"
fi
# no temporary files left by the atomic writes
if find "$RUN" -name '.*.tmp' | grep -q .; then fail "temporary files left behind"; fi
# the repository's fixture was not touched
if [ -e "$SAMPLE/index.html" ] || [ -e "$SAMPLE/figures" ]; then fail "render wrote into reports/sample_run"; fi

# --- 2. re-rendering is idempotent (same PNG bytes) -----------------------------------
cp "$RUN/figures/${ids[0]}.png" "$TMP/first.png"
"$PY" "$RENDER" "$RUN" --quiet --no-svg 2>/dev/null || fail "second render failed"
cmp -s "$TMP/first.png" "$RUN/figures/${ids[0]}.png" || fail "re-render changed ${ids[0]}.png"

# --- 3. incomplete run: a listed figure without data still renders ----------------------
INC="$TMP/incomplete"
cp -r "$SAMPLE" "$INC"
last="${ids[${#ids[@]}-1]}"
rm -f "$INC/data/$last.json"
"$PY" - "$INC/report.json" <<'EOF'
import json, sys
p = sys.argv[1]; r = json.load(open(p)); r["complete"] = False
json.dump(r, open(p, "w"))
EOF
if "$PY" "$RENDER" "$INC" --quiet 2>"$TMP/stderr"; then
  grep -q "INCOMPLETE" "$INC/index.html" || fail "incomplete run not flagged in index.html"
  grep -q "without data (not rendered): .*$last" "$INC/index.html" || fail "missing $last not listed"
  [ ! -e "$INC/figures/$last.png" ] || fail "$last.png rendered without data"
else
  fail "render.py failed on an incomplete run: $(head -c 400 "$TMP/stderr")"
fi

# --- 4. malformed input: non-zero exit and exactly one line on stderr ------------------
expect_reject() {  # name, python snippet editing files in $BAD (variable B)
  local name="$1" snippet="$2" BAD="$TMP/bad_$1"
  cp -r "$SAMPLE" "$BAD"
  "$PY" -c "import json, os; B='$BAD'
$snippet"
  local rc=0
  "$PY" "$RENDER" "$BAD" --quiet 2>"$TMP/err_$name" >/dev/null || rc=$?
  if [ "$rc" -eq 0 ]; then fail "malformed input accepted: $name"; return; fi
  [ "$(wc -l <"$TMP/err_$name")" -eq 1 ] || fail "$name: expected a one-line message, got: $(cat "$TMP/err_$name")"
  grep -q '^render.py: error: ' "$TMP/err_$name" || fail "$name: message lacks prefix"
  [ ! -e "$BAD/index.html" ] || fail "$name: index.html written despite the error"
}
F1="${ids[0]}"
expect_reject invalid_json "open(B+'/data/$F1.json','w').write('{\"id\": ')"
expect_reject not_object "open(B+'/data/$F1.json','w').write('[1, 2]')"
expect_reject no_panels "
p=B+'/data/$F1.json'; d=json.load(open(p)); del d['panels']; json.dump(d, open(p,'w'))"
expect_reject length_mismatch "
p=B+'/data/$F1.json'; d=json.load(open(p))
s=[s for P in d['panels'] for s in P['series'] if 'x' in s][0]; s['y']=s['y'][:-1]
json.dump(d, open(p,'w'))"
expect_reject bad_style "
p=B+'/data/$F1.json'; d=json.load(open(p)); d['panels'][0]['series'][0]['style']='pie'
json.dump(d, open(p,'w'))"
expect_reject bad_hist "
p=B+'/data/$F1.json'; d=json.load(open(p))
d['panels'][0]['series'].append({'style':'hist','bins':[0,1],'counts':[1,2]})
json.dump(d, open(p,'w'))"
expect_reject id_mismatch "
p=B+'/data/$F1.json'; d=json.load(open(p)); d['id']='F99'; json.dump(d, open(p,'w'))"
expect_reject report_missing "os.remove(B+'/report.json')"
expect_reject report_no_command "
p=B+'/report.json'; d=json.load(open(p)); del d['command']; json.dump(d, open(p,'w'))"
expect_reject report_bad_pass "
p=B+'/report.json'; d=json.load(open(p)); d['claims'][0]['pass']='yes'; json.dump(d, open(p,'w'))"
expect_reject report_no_provenance_field "
p=B+'/report.json'; d=json.load(open(p)); del d['provenance']['git_commit']; json.dump(d, open(p,'w'))"
rc=0; "$PY" "$RENDER" "$TMP/does_not_exist" 2>/dev/null || rc=$?
[ "$rc" -ne 0 ] || fail "missing run folder accepted"

# --- 5. what a reader sees, and the README's figure table against the code's registry ----
# (reports/check_figures.py: legend rows that look alike, clipped histograms, figures wider
# than the page, README figure/claim table vs the {"id", "F<n>"} ... {"claims", ...} specs)
if ! "$PY" "$HERE/check_figures.py" "$SAMPLE" "$HERE/.." 2>"$TMP/check_err"; then
  fail "check_figures.py: $(tr '\n' ';' <"$TMP/check_err" | head -c 600)"
fi

if [ "$fails" -ne 0 ]; then
  echo "test_render.sh: $fails check(s) failed" >&2
  exit 1
fi
echo "test_render.sh: OK (${#ids[@]} figures rendered: ${ids[*]})"
