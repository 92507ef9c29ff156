#!/bin/sh
# Makes the shipped Fast Sneakers demand model, from the repository root:
#
#   examples/fastsneakers/model/train.sh
#
# 1. gen runs the pipeline with pricing off while the simulated shop (seed
#    7, not the seed the outcome test scores) tests random prices within
#    each product's bounds, and records each product's closed 100-second
#    windows: the features and the purchases (training.jsonl).
# 2. pricestream train fits gradient-boosted trees of purchases on the view
#    rate, the trend and the price ratio, never increasing in the price
#    ratio, and writes XGBoost JSON (pricing-model.json), which the model
#    document 50-pricing-model.yaml registers.
set -eu
dir=examples/fastsneakers/model
go run ./$dir/gen -out $dir/training.jsonl -seed 7 -products 24 -views-per-second 6 -duration 24h
go run ./cmd/pricestream train --data $dir/training.jsonl --label purchases \
    --features view_rate,trend_now,price_ratio --monotone price_ratio=-1 \
    --trees 150 --depth 4 --eta 0.1 --seed 1 --out $dir/pricing-model.json
