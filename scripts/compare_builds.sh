#!/bin/bash
# Runs the issue-12 workloads on two zkgrad binaries alternately (two rounds) and writes one
# JSON line per (binary, round, workload) to OUT: a before/after comparison on a noisy machine.
#
#   scripts/compare_builds.sh BEFORE_BIN AFTER_BIN [OUT]   (OUT defaults to compare.jsonl)
set -euo pipefail
before=$1 after=$2 out=${3:-compare.jsonl}
: > "$out"
run() { # label binary suite workloads pcs runs round
  local extra=()
  [ -n "$5" ] && extra=(--pcs "$5")
  "$2" bench --suite "$3" --workload "$4" --runs "$6" "${extra[@]}" --json 2>/dev/null |
    while read -r row; do echo "{\"bin\":\"$1\",\"round\":$7,\"row\":$row}" >> "$out"; done
}
for round in 1 2; do
  for side in before after; do
    bin=$before; [ "$side" = after ] && bin=$after
    run "$side" "$bin" inference seed-mlp,dense-4m "" 5 "$round"
    run "$side" "$bin" training sgd-784-256-256-10 "" 3 "$round"
    run "$side" "$bin" lora lora-4096x4096-r64 "" 3 "$round"
    run "$side" "$bin" cnn vgg16 whir 1 "$round"
  done
done
echo "wrote $(wc -l < "$out") rows to $out"
