// Command backend is the Peripheral API server.
//
//	backend [serve]      run the HTTP API on LISTEN_ADDR (default :5058)
//	backend migrate      apply MIGRATIONS_DIR/*.sql (default ../db/migrations) and exit
//	backend healthcheck  exit 0 when GET /api/health on this host answers 200 (for
//	                     HEALTHCHECK in images without curl)
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/peripheral/periph/services/backend/internal/config"
)

func main() {
	level, err := config.LogLevel(config.FromOS)
	if err != nil {
		fmt.Fprintln(os.Stderr, "backend: "+err.Error())
		os.Exit(2)
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level})).With("service", "backend")
	slog.SetDefault(log)
	cmd := "serve"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	switch cmd {
	case "serve":
		err = serve(ctx, log)
	case "migrate":
		err = migrateCmd(ctx, log)
	case "healthcheck":
		err = healthcheck()
	case "-h", "--help", "help":
		fmt.Println("usage: backend [serve|migrate|healthcheck]")
		return
	default:
		fmt.Fprintf(os.Stderr, "backend: unknown command %q (want serve, migrate or healthcheck)\n", cmd)
		os.Exit(2)
	}
	if err != nil {
		log.Error("backend "+cmd+" failed", "error", err.Error())
		if config.IsMissing(err) {
			fmt.Fprintln(os.Stderr, "backend: "+err.Error())
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func healthcheck() error {
	addr := os.Getenv("LISTEN_ADDR")
	if addr == "" {
		addr = ":5058"
	}
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	client := http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://" + addr + "/api/health")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New("health answered " + resp.Status)
	}
	return nil
}
