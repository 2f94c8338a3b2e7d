#!/usr/bin/env bash
# Build a real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl) plus kwok/kwokctl from the Go module proxy, once per machine.
#
# `go install k8s.io/kubernetes/cmd/...` cannot work: k8s.io/kubernetes replaces its
# staging modules with local paths missing from the module zip. So we build from a
# throwaway wrapper module that requires k8s.io/kubernetes and replaces every staging
# module with its published v0.X.Y twin. The replace list is read from the release's own
# go.mod, so bumping KUBE_VERSION needs no edits here.
#
# Output: $PERIPH_CACHE/kube/<KUBE_VERSION>-kwok<KWOK_VERSION>/bin (default ~/.cache/periph).
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
CACHE="${PERIPH_CACHE:-$HOME/.cache/periph}"
OUT="$CACHE/kube/${KUBE_VERSION}-kwok${KWOK_VERSION}"
BIN="$OUT/bin"
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kwokctl)

all_present() {
  for b in "${BINARIES[@]}"; do [ -x "$BIN/$b" ] || return 1; done
}

if all_present; then
  echo "kube binaries: cached in $BIN"
  exit 0
fi

start=$(date +%s)
mkdir -p "$BIN"
exec 9>"$OUT/.build.lock"
flock 9
all_present && { echo "kube binaries: built by a concurrent run in $BIN"; exit 0; }

export GOFLAGS="${GOFLAGS:--mod=mod}"
export GOTOOLCHAIN=local
work=$(mktemp -d "$OUT/wrapper.XXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
patch="${KUBE_VERSION##*.}"
staging_version="v0.${minor}.${patch}"

go mod init periph.local/kubebuild >/dev/null 2>&1
go mod edit -require="k8s.io/kubernetes@${KUBE_VERSION}"
kmod=$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
etcd_version=$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2}' "$kmod" | head -n1)
for m in $(awk '$2=="=>" && $3 ~ /^\.\/staging/ {print $1}' "$kmod"); do
  go mod edit -replace="${m}=${m}@${staging_version}"
done
go mod edit -require="go.etcd.io/etcd/server/v3@${etcd_version}"
cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
echo "kube binaries: resolving modules for Kubernetes ${KUBE_VERSION} (etcd ${etcd_version})"
t0=$(date +%s)
go mod tidy -e >/dev/null 2>&1 || true
echo "kube binaries: resolved modules in $(( $(date +%s) - t0 ))s"

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ld="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld="$ld -X ${pkg}.gitVersion=${KUBE_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
  ld="$ld -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=${now}"
done

build() {  # build <output-name> <package> [ldflags]
  local t0; t0=$(date +%s)
  go build -trimpath -ldflags "$3" -o "$BIN/$1.tmp" "$2"
  mv "$BIN/$1.tmp" "$BIN/$1"
  echo "kube binaries: built $1 in $(( $(date +%s) - t0 ))s"
}
[ -x "$BIN/etcd" ] || build etcd go.etcd.io/etcd/server/v3 "-s -w"
for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  [ -x "$BIN/$c" ] || build "$c" "k8s.io/kubernetes/cmd/$c" "$ld"
done
for c in kwok kwokctl; do
  [ -x "$BIN/$c" ] || {
    t0=$(date +%s)
    GOBIN="$BIN" GOFLAGS= go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/${c}@${KWOK_VERSION}"
    echo "kube binaries: built $c in $(( $(date +%s) - t0 ))s"
  }
done
echo "kube binaries: ready in $BIN after $(( $(date +%s) - start ))s"
