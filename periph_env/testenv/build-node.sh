#!/usr/bin/env bash
# Build the real node's binaries (kubelet, kube-proxy, a small CoreDNS, the pause binary)
# from the Go module proxy, once per machine.
#
# kubelet and kube-proxy come from the same kind of wrapper module as scripts/build-kube.sh
# (k8s.io/kubernetes plus every staging module replaced by its published v0.X.Y twin), so
# with that script's build cache warm they take seconds, not minutes. CoreDNS is built as a
# library with only the plugins a test cluster needs (no cloud SDKs): a fraction of the
# full binary's build time. pause is the kubelet's sandbox process, compiled from the
# kubernetes module's own build/pause/linux/pause.c with gcc -static (no registry needed).
#
# Output: $PERIPH_CACHE/kube/node-<KUBE_VERSION>-coredns<COREDNS_VERSION>/bin.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.15.0}"
CACHE="${PERIPH_CACHE:-$HOME/.cache/periph}"
OUT="$CACHE/kube/node-${KUBE_VERSION}-coredns${COREDNS_VERSION}"
BIN="$OUT/bin"
BINARIES=(kubelet kube-proxy coredns pause)

all_present() {
  for b in "${BINARIES[@]}"; do [ -x "$BIN/$b" ] || return 1; done
}
if all_present; then
  echo "node binaries: cached in $BIN"
  exit 0
fi

start=$(date +%s)
mkdir -p "$BIN"
exec 9>"$OUT/.build.lock"
flock 9
all_present && { echo "node binaries: built by a concurrent run in $BIN"; exit 0; }

export GOFLAGS="${GOFLAGS:--mod=mod}"
export GOTOOLCHAIN=local
work=$(mktemp -d "$OUT/wrapper.XXXX")
trap 'rm -rf "$work"' EXIT

minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
patch="${KUBE_VERSION##*.}"
staging_version="v0.${minor}.${patch}"

mkdir -p "$work/kube" "$work/coredns"
cd "$work/kube"
go mod init periph.local/nodebuild >/dev/null 2>&1
go mod edit -require="k8s.io/kubernetes@${KUBE_VERSION}"
kmod=$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
kdir=$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')

if [ ! -x "$BIN/pause" ]; then
  gcc -Os -static -DVERSION="${KUBE_VERSION}" -o "$BIN/pause.tmp" "$kdir/build/pause/linux/pause.c"
  mv "$BIN/pause.tmp" "$BIN/pause"
  echo "node binaries: built pause"
fi

etcd_version=$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2}' "$kmod" | head -n1)
for m in $(awk '$2=="=>" && $3 ~ /^\.\/staging/ {print $1}' "$kmod"); do
  go mod edit -replace="${m}=${m}@${staging_version}"
done
# The same module graph as scripts/build-kube.sh (etcd included), so every package the
# control plane already compiled comes from the Go build cache.
go mod edit -require="go.etcd.io/etcd/server/v3@${etcd_version}"
cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
t0=$(date +%s)
go mod tidy -e >/dev/null 2>&1 || true
echo "node binaries: resolved Kubernetes ${KUBE_VERSION} modules in $(( $(date +%s) - t0 ))s"

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ld="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld="$ld -X ${pkg}.gitVersion=${KUBE_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
  ld="$ld -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=${now}"
done
build() {  # build <output-name> <package> <ldflags>
  local t0; t0=$(date +%s)
  go build -trimpath -ldflags "$3" -o "$BIN/$1.tmp" "$2"
  mv "$BIN/$1.tmp" "$BIN/$1"
  echo "node binaries: built $1 in $(( $(date +%s) - t0 ))s"
}
for c in kubelet kube-proxy; do
  [ -x "$BIN/$c" ] || build "$c" "k8s.io/kubernetes/cmd/$c" "$ld"
done

if [ ! -x "$BIN/coredns" ]; then
  cd "$work/coredns"
  go mod init periph.local/coredns >/dev/null 2>&1
  # Only the plugins of the test cluster's Corefile, in CoreDNS's own plugin order.
  cat > main.go <<'GO'
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() {
	dnsserver.Directives = []string{
		"bind", "errors", "log", "health", "ready", "kubernetes", "cache", "loadbalance",
		"forward",
	}
	coremain.Run()
}
GO
  go mod edit -require="github.com/coredns/coredns@${COREDNS_VERSION}"
  t0=$(date +%s)
  go mod tidy >/dev/null
  echo "node binaries: resolved CoreDNS ${COREDNS_VERSION} modules in $(( $(date +%s) - t0 ))s"
  build coredns . "-s -w -X github.com/coredns/coredns/coremain.GitCommit=${COREDNS_VERSION}"
fi
echo "node binaries: ready in $BIN after $(( $(date +%s) - start ))s"
