#!/usr/bin/env bash
# Checks of the chassis monitoring pack (docs/monitoring.md):
#   1. promtool check rules: the rule files are valid;
#   2. promtool test rules: the unit tests in prometheus/tests pass, and every
#      alert has at least one test where it fires and one where it stays silent;
#   3. the end-to-end check (e2e/, its own Go module, standard library only):
#      the reference service scraped by a real Prometheus loaded with the
#      rules; every metric of docs/metrics.md it can emit and every dashboard
#      query must return data.
# Needs Go, promtool and prometheus (Debian: apt-get install -y prometheus).
# Extra arguments go to the e2e program (e.g. -keep, -metrics-path /metrics).
set -euo pipefail
cd "$(dirname "$0")"

for tool in promtool prometheus; do
  command -v "$tool" >/dev/null || { echo "check.sh: $tool not found; install it: apt-get install -y --no-install-recommends prometheus" >&2; exit 1; }
done

echo "== promtool check rules"
promtool check rules prometheus/*.yml

echo "== promtool test rules"
promtool test rules prometheus/tests/*.yml

echo "== every alert is tested firing and silent"
alerts=$(sed -n 's/^ *- alert: *\([A-Za-z0-9_]*\).*/\1/p' prometheus/*.yml | sort -u)
tested=$(awk '
  /^ *alertname: / { name = $2; next }
  name != "" && /^ *exp_alerts: *\[\] *$/ { print name " silent"; name = ""; next }
  name != "" && /^ *exp_alerts: *$/ { print name " firing"; name = ""; next }
' prometheus/tests/*.yml | sort -u)
missing=0
for a in $alerts; do
  for kind in firing silent; do
    if ! grep -qx "$a $kind" <<<"$tested"; then
      echo "alert $a has no unit test where it is $kind" >&2
      missing=1
    fi
  done
done
[ "$missing" = 0 ] || exit 1
echo "$(wc -w <<<"$alerts") alerts, each tested firing and silent"

echo "== every runbook_url points to a runbook of docs/monitoring.md"
anchors=$(sed -n 's/^### *\([A-Za-z0-9]*\) *$/\1/p' ../docs/monitoring.md | tr 'A-Z' 'a-z')
for url in $(sed -n 's/^ *runbook_url: *//p' prometheus/*.yml | sort -u); do
  case "$url" in
    */docs/monitoring.md\#*) ;;
    *) echo "runbook_url $url does not point into docs/monitoring.md" >&2; exit 1 ;;
  esac
  grep -qx "${url##*#}" <<<"$anchors" || { echo "runbook_url $url: no heading ### for it in docs/monitoring.md" >&2; exit 1; }
done

echo "== end-to-end: the reference service, a real Prometheus, the rules and the dashboard"
cd e2e
test -z "$(gofmt -l .)" || { gofmt -l .; echo "check.sh: gofmt the e2e module" >&2; exit 1; }
go vet ./...
go run . -root ../.. "$@"
