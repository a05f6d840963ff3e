#!/usr/bin/env bash
# Rebuild data/ from the Debian (bookworm) packages it was harvested from, so anyone can check
# where every file came from. For humans: it needs network access to a Debian mirror, dpkg-deb,
# and for some steps lttoolbox (lt-paradigm), tesseract-ocr (combine_tessdata, dawg2wordlist)
# and python3 with `babel`. The kit itself never runs this (it works offline from data/).
#
#   data/rebuild.sh [OUT_DIR]     (default: ./data-rebuilt; compare with data/ afterwards)
#
# Exact rebuilds: the dictd files (copied byte for byte) and the Apertium/tesseract lists.
# The UI-string pairs (train_*/test_*.tsv) are re-extracted by pairing message ids between the
# English and the localised Firefox/Thunderbird language packs; the filters used for the shipped
# files (placeholder-only strings, Dutch leaking into fy, the held-out Thunderbird components)
# are applied as described in README.md, so row counts can differ slightly: the last step prints
# a comparison instead of claiming identity.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="$(realpath -m "${1:-data-rebuilt}")"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"/{cy/dictd,af/dictd,fy,licenses}

fetch() {  # fetch PACKAGE -> unpacked into $WORK/PACKAGE
    local pkg="$1"
    [ -d "$WORK/$pkg" ] && return
    (cd "$WORK" && apt-get download "$pkg" >/dev/null)
    dpkg-deb -x "$WORK/${pkg}"_*.deb "$WORK/$pkg"
}

echo "== FreeDict dictd (GPL-2+)"
for pair in cym-eng:cy eng-cym:cy afr-eng:af eng-afr:af; do
    name="${pair%%:*}"; dir="${pair##*:}"
    fetch "dict-freedict-$name"
    cp "$WORK/dict-freedict-$name/usr/share/dictd/freedict-$name.index" \
       "$WORK/dict-freedict-$name/usr/share/dictd/freedict-$name.dict.dz" "$OUT/$dir/dictd/"
done

echo "== Apertium afr-nld bilingual lexicon (GPL-2+)"
fetch apertium-afr-nld
bin="$(find "$WORK/apertium-afr-nld" -name 'afr-nld.autobil.bin' | head -n1)"
# lt-paradigm lists every path of the compiled bidix as `left<tags>:right<tags>`.
lt-paradigm "$bin" <<<'*' | python3 -c '
import re, sys
for line in sys.stdin:
    line = line.rstrip("\n")
    if ":" not in line:
        continue
    left, right = line.split(":", 1)
    lt, rt = re.match(r"([^<]*)(.*)", left), re.match(r"([^<]*)(.*)", right)
    if lt.group(1) and rt.group(1):
        print(f"{lt.group(1)}\t{rt.group(1)}\t{lt.group(2)}\t{rt.group(2)}")
' | awk '!seen[$0]++' > "$OUT/af/afr-nld.bidix.tsv"

echo "== Frisian word list from tesseract (Apache-2.0)"
fetch tesseract-ocr-fry
(cd "$WORK" && combine_tessdata -u "$(find tesseract-ocr-fry -name fry.traineddata | head -n1)" fry. >/dev/null \
   && dawg2wordlist fry.lstm-unicharset fry.lstm-word-dawg fry.words >/dev/null)
cp "$WORK/fry.words" "$OUT/fy/wordlist_fy_tesseract.txt"

echo "== UI-string pairs from Firefox ESR / Thunderbird language packs (MPL-2.0)"
pairs() {  # pairs APP LANG... : English + localised packs -> TSV on stdout
    local app="$1"; shift
    fetch "$app"
    local packs=()
    for lang in "$@"; do fetch "$app-l10n-$lang"; packs+=("$WORK/$app-l10n-$lang"); done
    python3 - "$WORK/$app" "${packs[@]}" <<'PY'
import re, sys, zipfile
from pathlib import Path

def messages(archive):
    """(file stem, message id) -> single-line value, from .ftl and .properties inside a zip."""
    out = {}
    with zipfile.ZipFile(archive) as z:
        for name in z.namelist():
            if not name.endswith((".ftl", ".properties")):
                continue
            stem = re.sub(r"^.*?/(?:en-US|[a-z]{2,3}(?:-[A-Z]{2})?)/", "", name)
            for line in z.read(name).decode("utf-8", "replace").splitlines():
                m = re.match(r"^([A-Za-z][\w.-]*)\s*=\s*(\S.*)$", line)
                if m and "{" not in m.group(2)[:1]:
                    out[(stem, m.group(1))] = m.group(2).strip()
    return out

def archives(root, pattern):
    return [p for p in Path(root).rglob(pattern)]

english = {}
for omni in archives(sys.argv[1], "omni.ja"):
    english.update(messages(omni))
columns = [english]
for pack in sys.argv[2:]:
    found = {}
    for xpi in archives(pack, "langpack-*.xpi"):
        found.update(messages(xpi))
    columns.append(found)
for key, en in english.items():
    row = [c.get(key) for c in columns]
    if all(row) and len(set(row)) > 1 and re.search(r"[^\W\d_]", en):
        print("\t".join(row))
PY
}
pairs firefox-esr cy > "$WORK/ff_cy.tsv"; pairs thunderbird cy > "$WORK/tb_cy.tsv"
cat "$WORK/ff_cy.tsv" "$WORK/tb_cy.tsv" | awk -F'\t' '!seen[$1]++' > "$WORK/all_cy.tsv"
head -n 500 "$WORK/tb_cy.tsv" > "$OUT/cy/test_en_cy.tsv"
grep -vxFf "$OUT/cy/test_en_cy.tsv" "$WORK/all_cy.tsv" > "$OUT/cy/train_en_cy.tsv" || true
pairs firefox-esr fy-nl nl > "$WORK/ff_fy.tsv"; pairs thunderbird fy-nl nl > "$WORK/tb_fy.tsv"
cat "$WORK/ff_fy.tsv" "$WORK/tb_fy.tsv" | awk -F'\t' 'NF==3 && $2!=$3 && !seen[$1]++' > "$WORK/all_fy.tsv"
head -n 500 "$WORK/tb_fy.tsv" | cut -f1,2 > "$OUT/fy/test_en_fy.tsv"
cut -f1 "$OUT/fy/test_en_fy.tsv" | grep -vwFf - "$WORK/all_fy.tsv" > "$OUT/fy/train_en_fy_nl.tsv" || true
pairs firefox-esr af > "$WORK/ff_af.tsv"
head -n 500 "$WORK/ff_af.tsv" > "$OUT/af/test_en_af.tsv"
tail -n +501 "$WORK/ff_af.tsv" > "$OUT/af/train_en_af.tsv"

echo "== English-Frisian glossary: CLDR names (Unicode licence) via babel"
python3 - > "$OUT/fy/glossary_en_fy.tsv" <<'PY'
from babel import Locale
en, fy = Locale("en"), Locale("fy")
for table in ("languages", "territories", "scripts", "currencies"):
    eng, fry = getattr(en, table), getattr(fy, table)
    for code, name in eng.items():
        if code in fry and fry[code] != name:
            print(f"{name}\t{fry[code]}\tcldr")
PY

cp "$HERE"/licenses/* "$OUT/licenses/"

echo "== comparison with the shipped data/"
( cd "$HERE" && find . -type f \( -name '*.tsv' -o -name '*.txt' -o -name '*.index' -o -name '*.dz' \) | sort ) |
while read -r f; do
    if [ ! -f "$OUT/$f" ]; then printf '%-36s missing from rebuild\n' "$f"; continue; fi
    if cmp -s "$HERE/$f" "$OUT/$f"; then printf '%-36s identical\n' "$f"
    else printf '%-36s differs: %s shipped vs %s rebuilt lines\n' "$f" "$(wc -l <"$HERE/$f")" "$(wc -l <"$OUT/$f")"; fi
done
