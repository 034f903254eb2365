#!/usr/bin/env bash
# The demo: builds everything, then on this machine's loopback starts a
# pilot-registry, a pilot-beacon, two copies of the webhooks page's example
# receiver and two pilot-daemons. It shows the daemons' events arriving, an
# encrypted tunnel and a stream connection between the two nodes, a trust
# handshake, a message, a file and a pub/sub event, the webhook following a
# hot swap, and delivery stopping when the webhook is cleared. Everything runs in a temporary HOME and is cleaned up on exit;
# nothing touches ~/.pilot and nothing leaves 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

scripts/install-deps.sh
build_dir=$(scripts/build.sh)
bin="$repo/$build_dir"

work=$(mktemp -d /tmp/pilot-demo-XXXXXX)
pids=()
cleanup() {
  HOME="$work" PILOT_SOCKET="$work/pilot.sock" "$bin/pilotctl" daemon stop \
    >/dev/null 2>&1 || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

export HOME="$work"
export PILOT_SOCKET="$work/pilot.sock"

step "Start a registry on 127.0.0.1"
"$bin/pilot-registry" --listen 127.0.0.1:0 2>"$work/registry.log" &
pids+=($!)
for _ in $(seq 50); do
  grep -q registry-listening "$work/registry.log" && break
  sleep 0.1
done
registry=$(grep -o 'address=[^ ]*' "$work/registry.log" | head -1 | cut -d= -f2)
echo "registry listening on $registry"

step "Start a beacon on 127.0.0.1"
beacon="127.0.0.1:$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$bin/pilot-beacon" --listen "$beacon" 2>"$work/beacon.log" &
pids+=($!)
echo "beacon listening on $beacon"

step "Start two copies of the example receiver from the webhooks page"
port_a=$(free_port)
port_b=$(free_port)
python3 -u tests/system/run_example_receiver.py "$port_a" >"$work/receiver-a.out" 2>&1 &
pids+=($!)
python3 -u tests/system/run_example_receiver.py "$port_b" >"$work/receiver-b.out" 2>&1 &
pids+=($!)
sleep 0.5
echo "receiver A on port $port_a, receiver B on port $port_b"

step "Save the webhook for receiver A, then start the daemon, which reads it"
show "$bin/pilotctl" set-webhook "http://127.0.0.1:$port_a/events"
show "$bin/pilotctl" daemon start --registry "$registry" --beacon "$beacon" \
  --listen 127.0.0.1:0 --keepalive 1s
sleep 0.5
echo "receiver A printed:"
sed 's/^/  A| /' "$work/receiver-a.out"

step "Start a second, public node that posts to receiver A too"
"$bin/pilot-daemon" --registry "$registry" --beacon "$beacon" \
  --listen 127.0.0.1:0 --socket "$work/second.sock" \
  --identity "$work/second/identity.json" --data-dir "$work/second" --public \
  --webhook "http://127.0.0.1:$port_a/events" 2>"$work/second.log" &
pids+=($!)
for _ in $(seq 50); do
  grep -q 'the node is registered' "$work/second.log" && break
  sleep 0.1
done
second=$(grep -o 'node_id=[0-9]*' "$work/second.log" | head -1 | cut -d= -f2)
echo "the second node is node $second"

step "Open an encrypted tunnel and a stream to the second node's echo port"
show "$bin/pilotctl" connect "$second" 7 --message "hello through the tunnel"
show "$bin/pilotctl" ping "$second" --count 2
show "$bin/pilotctl" peers
sleep 0.5
echo "receiver A printed (tunnel.* from both nodes, conn.* from the second):"
sed 's/^/  A| /' "$work/receiver-a.out"

step "Ask the second node for trust; it approves the request"
first=$("$bin/pilotctl" --json info \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["node_id"])')
show "$bin/pilotctl" handshake "$second" "demo: a billing agent"
sleep 0.5
PILOT_SOCKET="$work/second.sock" show "$bin/pilotctl" pending
PILOT_SOCKET="$work/second.sock" show "$bin/pilotctl" approve "$first"
sleep 0.5
show "$bin/pilotctl" trust

step "Send the second node a message and a file, and publish to a topic"
show "$bin/pilotctl" send-message "$second" --data '{"task":"invoice"}' --type json
show "$bin/pilotctl" send-file "$second" "$repo/README.md"
show "$bin/pilotctl" publish "$second" alerts --data "disk almost full"
PILOT_SOCKET="$work/second.sock" show "$bin/pilotctl" received
sleep 0.5
echo "receiver A printed (the handshake, message and file lines of the example):"
grep -E 'Handshake|Message|File|pubsub' "$work/receiver-a.out" | sed 's/^/  A| /'

step "Hot-swap the webhook to receiver B at run time"
show "$bin/pilotctl" set-webhook "http://127.0.0.1:$port_b/v2/events"
show "$bin/pilotctl" webhook

step "Restart the registry without its store: the daemon registers again"
kill "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
"$bin/pilot-registry" --listen "$registry" 2>"$work/registry2.log" &
pids[0]=$!
for _ in $(seq 100); do
  grep -q 'node.reregistered' "$work/receiver-b.out" && break
  sleep 0.1
done
echo "receiver B printed:"
sed 's/^/  B| /' "$work/receiver-b.out"

step "Clear the webhook: the daemon stops posting (state disabled), then set it again"
show "$bin/pilotctl" clear-webhook
show "$bin/pilotctl" webhook
show "$bin/pilotctl" set-webhook "http://127.0.0.1:$port_b/v2/events"

step "Stop the daemon: node.deregistered arrives at receiver B"
show "$bin/pilotctl" daemon stop
sleep 0.3
echo "receiver A printed:"
sed 's/^/  A| /' "$work/receiver-a.out"
echo "receiver B printed:"
sed 's/^/  B| /' "$work/receiver-b.out"
