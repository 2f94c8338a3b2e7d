#!/usr/bin/env bash
# Build the real node's NetworkPolicy enforcer (kube-router, firewall part only) from the Go
# module proxy, once per machine, cached outside the repository like the node binaries.
#
# Why kube-router and why this version: see docs/testing.md "NetworkPolicy enforcement".
# In short, the Go module proxy reachable here serves only v2.1.0 (every later tag answers
# 403 "not available"), and the other NFQUEUE-based enforcer it serves
# (sigs.k8s.io/kube-network-policies) needs the nft "queue" expression, which this kernel
# is built without (CONFIG_NFT_QUEUE unset). kube-router's firewall uses iptables + ipset,
# both present. The build bumps the module's network-facing dependencies to their current
# releases and runs only --run-firewall on a throwaway test node (see node_netpol.py).
#
# What is built is netpol_firewall/main.go: kube-router's NetworkPolicy controller alone,
# with kube-router's own flags (not cmd/kube-router, whose BGP router, IPVS proxy, AWS SDK
# and Docker client are ~40% of the packages and most of a cold build).
#
# Output: $PERIPH_CACHE/kube/netpol-firewall-<VERSION>-<main.go hash>/bin/kube-router
set -euo pipefail

KUBE_ROUTER_VERSION="${KUBE_ROUTER_VERSION:-v2.1.0}"
CACHE="${PERIPH_CACHE:-$HOME/.cache/periph}"
MAIN="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/netpol_firewall/main.go"
KEY="$(sha256sum "$MAIN" | cut -c1-8)"
OUT="$CACHE/kube/netpol-firewall-${KUBE_ROUTER_VERSION}-${KEY}"
BIN="$OUT/bin"

if [ -x "$BIN/kube-router" ]; then
  echo "netpol: kube-router cached in $BIN"
  exit 0
fi
start=$(date +%s)
mkdir -p "$BIN"
exec 9>"$OUT/.build.lock"
flock 9
[ -x "$BIN/kube-router" ] && { echo "netpol: built by a concurrent run in $BIN"; exit 0; }

export GOFLAGS="${GOFLAGS:--mod=mod}"
export GOTOOLCHAIN=local
work=$(mktemp -d "$OUT/wrapper.XXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
go mod init periph.local/netpol >/dev/null 2>&1
go mod edit -require="github.com/cloudnativelabs/kube-router/v2@${KUBE_ROUTER_VERSION}"
cp "$MAIN" main.go
t0=$(date +%s)
go mod tidy >/dev/null
# Raise the network-facing libraries (HTTP/2, gRPC, crypto) past v2.1.0's pins; a newer
# minor that no longer compiles with kube-router's code is left at its pin (build fails
# loudly otherwise, never silently).
for m in golang.org/x/net golang.org/x/crypto google.golang.org/protobuf; do
  go get "${m}@latest" >/dev/null 2>&1 || echo "netpol: kept ${m} at kube-router's pin"
done
go mod tidy >/dev/null
echo "netpol: resolved kube-router ${KUBE_ROUTER_VERSION} modules in $(( $(date +%s) - t0 ))s"
t0=$(date +%s)
go build -trimpath -ldflags "-s -w" -o "$BIN/kube-router.tmp" .
mv "$BIN/kube-router.tmp" "$BIN/kube-router"
echo "netpol: built kube-router in $(( $(date +%s) - t0 ))s; ready in $BIN after $(( $(date +%s) - start ))s"
