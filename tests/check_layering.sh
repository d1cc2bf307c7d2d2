#!/usr/bin/env bash
# Dependencies point one way (DESIGN.md): model <- config, optimizer <- controller <- adapters,
# sim <- apps. The pure layers never include I/O libraries. Fails listing every violation.
set -u
root=${1:-$(dirname "$0")/..}
cd "$root" || exit 2
fail=0
check() {  # folder, regex of forbidden includes, reason
  local hits
  hits=$(grep -rnE "^\s*#\s*include\s*[<\"]($2)" "$1" --include='*.hpp' --include='*.cpp' --include='*.h' 2>/dev/null)
  if [ -n "$hits" ]; then
    echo "layering violation ($3):"
    echo "$hits"
    fail=1
  fi
}
io='boost/asio|boost/beast|modbus|mqtt/|MQTTAsync|MQTTClient|sqlite3|spdlog|yaml-cpp|curl'
check model "config/|optimizer/|controller/|adapters/|sim/|apps/|proto/|$io" "model depends on nothing else"
check config "optimizer/|controller/|adapters/|sim/|apps/|boost/asio|modbus|mqtt/|sqlite3" "config sees model only"
check optimizer "config/|controller/|adapters/|sim/|apps/|proto/|$io" "optimizer is pure and sees model only"
check controller "adapters/|sim/|apps/|proto/|$io" "controller core is pure"
check adapters "sim/|apps/" "adapters sit below apps"
check sim "apps/|adapters/" "sim sits below apps"
[ $fail -eq 0 ] && echo "layering: ok"
exit $fail
