#!/usr/bin/env bash
# The README's main job, end to end on the bundled sample (data/sample, written by us):
#   parse a page -> build the dataset -> train the demo classifier (frozen e5 + a head; TF-IDF beside it)
#   -> classify -> summarise
#   -> train a (demo) extractive summariser on the sample and summarise with it.
# Run it from an environment where mlnews is installed (README command 1 does that).
# Outputs go to runs/demo (override with MLNEWS_DEMO_OUT); nothing needs a network or ../shared.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${MLNEWS_DEMO_OUT:-runs/demo}
MLNEWS=${MLNEWS:-mlnews}
command -v "$MLNEWS" >/dev/null 2>&1 || MLNEWS=.venv/bin/mlnews

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "1. Parse a page dump (title, lead, paragraphs, sidebar headlines with times and languages)" \
  "$MLNEWS" parse data/sample/pages/uk_01.txt -o "$OUT/uk_01.parsed.json"
head -c 600 "$OUT/uk_01.parsed.json"; echo " ..."

step "2. Build the labelled dataset (classification + summarisation, dedup, leak-free splits)" \
  "$MLNEWS" data build configs/data/sample.yaml --out "$OUT/data"

step "3. Train the demo topic classifier from its config: the packaged e5 encoder, frozen and mean-pooled, + a logistic-regression head (well under a minute)" \
  "$MLNEWS" train configs/classifier/sample_embed.yaml --out "$OUT/classifier" "data.path=$OUT/data"
head -c 400 "$OUT/classifier/metrics.json"; echo " ..."

step "3b. For contrast, the TF-IDF baseline on the same rows (seconds)" \
  "$MLNEWS" train configs/classifier/sample.yaml --out "$OUT/tfidf" "data.path=$OUT/data"

step "4. Classify page dumps (the article and each sidebar headline become rows)" \
  "$MLNEWS" classify --model "$OUT/classifier" data/sample/pages --top-k 2 -o "$OUT/pages.predictions.jsonl"
head -n 5 "$OUT/pages.predictions.jsonl"

HEADLINES=('Центробанк снизил ключевую ставку до 16%' 'Динамо Київ перемогло Шахтар у дербі' \
  'Українські розробники створили застосунок для пошуку укриттів' 'Астрономы обнаружили у далёкой звезды новую экзопланету')
step "5. Classify headlines from stdin: the e5 demo model, then TF-IDF on the same headlines" \
  bash -c "printf '%s\n' \"\$@\" | $MLNEWS classify --model $OUT/classifier - && printf '%s\n' \"\$@\" | $MLNEWS classify --model $OUT/tfidf -" _ "${HEADLINES[@]}"

step "6. Summarise an article from its body (lead by default; the sidebar is never used)" \
  "$MLNEWS" summarise data/sample/pages/ru_01.txt

step "7. The same with TextRank over razdel sentences, as JSON" \
  "$MLNEWS" summarise data/sample/pages/uk_01.txt --model textrank --max-words 40 --json

step "8. DEMO of the trained extractive summariser: e5 sentence scorer, 20 steps on the 35 sample articles (~1 min; a demo, not the real model: see docs/summariser.md)" \
  "$MLNEWS" train configs/summariser/sample_extractive.yaml --out "$OUT/summariser" "data.path=$OUT/data"

step "9. Summarise with it (whole article sentences; --json adds a score per sentence)" \
  "$MLNEWS" summarise data/sample/pages/ru_01.txt --model "$OUT/summariser" --json

printf '\nDone. Artefacts in %s: the dataset (stats.md), the model folders (README.md model card, metrics.json, confusion_matrix.png; summariser/) and predictions.\n' "$OUT"
