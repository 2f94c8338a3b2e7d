// Command devreload is the backend dev image's hot reloader: it polls the source tree,
// rebuilds on change and swaps the running server for the new binary.
//
//	devreload -src /src/backend -pkg ./cmd/backend -out /tmp/backend -- serve
//
// Why poll instead of inotify: the files arrive through `docker compose watch` (a tar
// copied in by the engine), bind mounts or periph's own syncer, and a 200 ms stat walk
// over a few dozen files is cheap, dependency-free and sees all of them the same way.
// The old process keeps serving while the new binary builds; a failed build is logged
// and the old process stays up. SIGTERM/SIGINT are forwarded so `docker stop` is quick.
// SIGWINCH means "a sync just landed" (periph sends it, x-periph.sync_signal): look now,
// without the poll's wait and the burst's settle, since the sync is already complete.
// SIGWINCH because every process ignores it by default: a devreload built before this
// handler existed (a stale dev image) is not killed by it, it just polls as before.
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	src := flag.String("src", ".", "module root to watch and build in")
	pkg := flag.String("pkg", "./cmd/backend", "package to build")
	out := flag.String("out", "/tmp/devreload-bin", "where to write the binary")
	every := flag.Duration("interval", 200*time.Millisecond, "poll interval")
	ldflags := flag.String("ldflags", "", "go build -ldflags for the rebuilt server")
	flag.Parse()
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil)).With("service", "devreload")

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	synced := make(chan os.Signal, 1)
	signal.Notify(synced, syscall.SIGWINCH)
	r := &reloader{src: *src, pkg: *pkg, out: *out, ldflags: *ldflags, args: flag.Args(), log: log}
	os.Exit(r.run(ctx, *every, synced))
}

type reloader struct {
	src, pkg, out string
	ldflags       string
	args          []string
	log           *slog.Logger
	child         *exec.Cmd
	exited        chan struct{}
}

func (r *reloader) run(ctx context.Context, every time.Duration, synced <-chan os.Signal) int {
	last := snapshot(r.src)
	if err := r.build(); err != nil {
		r.log.Error("initial build failed; waiting for a fix", "error", err.Error())
	} else {
		r.start()
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			r.stopChild()
			return 0
		case <-synced:
			cur := snapshot(r.src)
			if cur == last {
				continue // the poll already took this sync
			}
			last = cur
			r.reload("sync signal")
		case <-tick.C:
			cur := snapshot(r.src)
			if cur == last {
				continue
			}
			// Let a burst of synced files settle before building, unless periph says
			// that its sync is complete (the poll can see its files a few ms before
			// the signal arrives).
			after := "poll"
			select {
			case <-time.After(every):
			case <-synced:
				after = "sync signal"
			case <-ctx.Done():
				continue // the loop's own ctx.Done case stops the server
			}
			last = snapshot(r.src)
			r.reload(after)
		}
	}
}

// reload builds the source as it is now and swaps the server; a failed build keeps the
// running one. after says what noticed the change (its log line shows it).
func (r *reloader) reload(after string) {
	began := time.Now()
	if err := r.build(); err != nil {
		r.log.Error("build failed; keeping the running server", "error", err.Error())
		return
	}
	built := time.Now()
	r.stopChild()
	stopped := time.Now()
	r.start()
	r.log.Info("reloaded", "build_and_restart_ms", time.Since(began).Milliseconds(), "after", after,
		"build_ms", built.Sub(began).Milliseconds(), "stop_ms", stopped.Sub(built).Milliseconds())
}

// snapshot fingerprints every .go, go.mod and go.sum file by path, size and mtime.
func snapshot(root string) string {
	var b strings.Builder
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if n := d.Name(); p != root && (strings.HasPrefix(n, ".") || n == "bin" || n == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		n := d.Name()
		if !strings.HasSuffix(n, ".go") && n != "go.mod" && n != "go.sum" {
			return nil
		}
		if info, err := d.Info(); err == nil {
			fmt.Fprintf(&b, "%s|%d|%d\n", p, info.Size(), info.ModTime().UnixNano())
		}
		return nil
	})
	return b.String()
}

func (r *reloader) build() error {
	cmd := exec.Command("go", "build", "-ldflags="+r.ldflags, "-o", r.out+".next", r.pkg)
	cmd.Dir = r.src
	// Most of an incremental rebuild is the link, and the linker spends about a sixth of it
	// collecting garbage: a build is short-lived, so let its heap grow (the server itself
	// runs with the default GOGC).
	cmd.Env = append(os.Environ(), "GOGC=400")
	if outp, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(outp)))
	}
	return os.Rename(r.out+".next", r.out)
}

func (r *reloader) start() {
	cmd := exec.Command(r.out, r.args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		r.log.Error("start failed", "error", err.Error())
		return
	}
	r.child, r.exited = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(r.exited)
}

// stopChild sends SIGTERM and waits for a graceful exit, killing after 5 s.
func (r *reloader) stopChild() {
	if r.child == nil {
		return
	}
	_ = r.child.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(5 * time.Second):
		_ = r.child.Process.Kill()
		<-r.exited
	}
	r.child = nil
}
