#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only those that are missing.
set -euo pipefail
needed=()
# (package -> command that proves it is present)
declare -A probes=(
  [chromium]=chromium
  [redis-server]=redis-server
  [jq]=jq  # the runbook's pipelines (tests/docs, tests/cli)
  [prometheus]=promtool  # tests/deploy: promtool check/test rules, a real Prometheus scraping
  [prometheus-alertmanager]=prometheus-alertmanager  # tests/alerts: the alertmanager channel
)
for pkg in "${!probes[@]}"; do
  command -v "${probes[$pkg]}" >/dev/null 2>&1 || needed+=("$pkg")
done
[ ${#needed[@]} -eq 0 ] && exit 0
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
echo "installing system packages: ${needed[*]}" >&2
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${needed[@]}" >/dev/null
