#!/usr/bin/env bash
# Regenerates docs/architecture/dependencies.svg: the gateway's import graph as dependency-cruiser sees it (type imports
# included), folded to one node per folder, with the enforced rules of .dependency-cruiser.mjs. Needs Graphviz `dot`.
# Usage: npm run docs:deps
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v dot >/dev/null || { echo "deps-graph: Graphviz 'dot' is missing (apt-get install graphviz)" >&2; exit 1; }
npx depcruise gateway --config .dependency-cruiser.mjs --output-type dot \
  --collapse '^gateway/(storage/sqlite|storage|http|[^/]+)(/|\.ts$)' \
  --include-only '^(gateway|devices)/' \
  | dot -Tsvg > docs/architecture/dependencies.svg
echo "deps-graph: wrote docs/architecture/dependencies.svg" >&2
