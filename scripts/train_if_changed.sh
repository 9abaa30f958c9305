#!/usr/bin/env bash
# Train only when what the model is built from changed: NLU data, stories, domain, config, the
# custom NLU components and the category names they read. The fingerprint is a file hash, so
# "nothing changed" costs well under a second instead of Rasa's own 10+ s start-up.
set -eu
cd "$(dirname "$0")/.."
inputs=$(find nlu stories components -type f \( -name '*.yml' -o -name '*.py' \) | sort; echo domain.yml config.yml bot/shared/program/data/categories.yml)
hash=$(cat $inputs | sha256sum | cut -c1-16)
model="models/gzcp-$hash.tar.gz"
if [ -f "$model" ]; then
  echo "model: up to date ($model)"
else
  echo "model: training data changed, training $model (a few minutes)"
  mkdir -p models
  PYTHONPATH=. .venv-rasa/bin/rasa train --data nlu stories --domain domain.yml --config config.yml \
    --out models --fixed-model-name "gzcp-$hash" --num-threads 2
  find models -name 'gzcp-*.tar.gz' ! -name "gzcp-$hash.tar.gz" -delete
fi
ln -sf "gzcp-$hash.tar.gz" models/current.tar.gz
