#!/usr/bin/env bash
# Sets everything up and runs esfs on a demo store: builds, mounts
# ./demo/store on ./demo/es, appends, reads, watches, and leaves it mounted.
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target esfs >/dev/null
esfs=$PWD/build/src/cli/esfs
mkdir -p demo/es
mountpoint -q demo/es && "$esfs" umount demo/es
"$esfs" mount demo/store demo/es
cd demo
run() { echo "\$ $*"; eval "$@"; }
run "echo '{\"type\":\"OrderPlaced\",\"total\":42}' >> es/streams/Order-123"
run "echo '{\"type\":\"OrderPaid\",\"amount\":42}' >> es/streams/Order-123"
run "cat es/streams/Order-123"
run "getfattr -n user.esfs.version es/streams/Order-123"
run "tail -n 2 es/all"
echo "\$ head -n 1 es/watch/streams/Order-124 &   # waits for the stream's first event"
timeout 10 head -n 1 es/watch/streams/Order-124 > watch.out &
w=$!
run "echo '{\"type\":\"OrderPlaced\",\"total\":7}' >> es/streams/Order-124"
wait $w
echo "(the watcher received) $(cat watch.out)"
rm -f watch.out
cat <<EOT

esfs is serving demo/store on demo/es. Try:
  ls demo/es/streams; cat demo/es/all | jq .
  cat demo/es/watch/all          # then append from another shell
  cat demo/es/.esfs/metrics
Stop it with: $esfs umount demo/es
EOT
