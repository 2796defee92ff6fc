#!/usr/bin/env bash
# Screenshots of the built documentation as a new user sees it, with the network off.
#
#   docs/screenshots.sh [HTML_DIR] [OUT_DIR]
#
# HTML_DIR (default docs/_build/html) must already be built; this script builds
# nothing.  Each page is opened by headless Chromium at 1280 px wide, inside a network
# namespace with no network (unshare -n; where that is not allowed, Chromium's own
# proxy setting points every request at a closed port), so a formula that still
# needed a CDN would show as TeX source in the PNG.  PNGs go to OUT_DIR (default
# docs/_build/screenshots).  Needs Debian's chromium (apt-get install -y chromium).
#
# It also checks what a person would look for: on each page with formulas, the page
# as Chromium rendered it (its DOM after the scripts ran) must hold one typeset
# formula (<mjx-container>) per formula of the HTML, or the script fails.
set -euo pipefail
cd "$(dirname "$0")/.."
html="$(cd "${1:-docs/_build/html}" && pwd)"
out="${2:-docs/_build/screenshots}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
chromium="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$chromium" ] || { echo "chromium not found: apt-get install -y chromium" >&2; exit 1; }

# The pages a newcomer opens: the index, an API page, each guide, the gallery, the zoo.
pages=(index.html api/layers.html auto_examples/index.html zoo/index.html)
for guide in "$html"/guides/*.html; do pages+=("guides/$(basename "$guide")"); done

offline=(unshare -n)
if ! unshare -n true 2> /dev/null; then
  offline=()
  echo "unshare -n is not allowed here: Chromium's proxy points at a closed port instead" >&2
fi
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT

for page in "${pages[@]}"; do
  [ -f "$html/$page" ] || { echo "missing page: $html/$page (build the docs first)" >&2; exit 1; }
  name="$(echo "${page%.html}" | tr '/' '-').png"
  # --virtual-time-budget lets MathJax finish typesetting before the picture is taken.
  "${offline[@]}" "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --no-first-run --disable-background-networking --disable-component-update --disable-sync \
    --proxy-server="127.0.0.1:9" --user-data-dir="$profile" \
    --window-size=1280,2000 --virtual-time-budget=10000 \
    --screenshot="$out/$name" "file://$html/$page" > /dev/null 2>&1
  [ -s "$out/$name" ] || { echo "no screenshot of $page" >&2; exit 1; }
  formulas=$(grep -o 'class="math[ "]' "$html/$page" | wc -l || true)
  if [ "$formulas" -gt 0 ]; then
    typeset=$("${offline[@]}" "$chromium" --headless --no-sandbox --disable-gpu \
      --no-first-run --disable-background-networking --disable-component-update --disable-sync \
      --proxy-server="127.0.0.1:9" --user-data-dir="$profile" --virtual-time-budget=10000 \
      --dump-dom "file://$html/$page" 2> /dev/null | grep -o '<mjx-container' | wc -l || true)
    if [ "$typeset" -lt "$formulas" ]; then
      echo "$page: $typeset of $formulas formulas typeset offline" >&2
      exit 1
    fi
    echo "$out/$name ($typeset of $formulas formulas typeset offline)"
  else
    echo "$out/$name"
  fi
done
