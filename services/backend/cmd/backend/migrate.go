package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/jackc/pgx/v5"

	"github.com/peripheral/periph/services/backend/internal/config"
	"github.com/peripheral/periph/services/backend/internal/migrate"
)

func migrationsDir() string {
	if d := os.Getenv("MIGRATIONS_DIR"); d != "" {
		return d
	}
	return "../db/migrations"
}

func migrateCmd(ctx context.Context, log *slog.Logger) error {
	db, err := config.LoadDB(config.FromOS)
	if err != nil {
		return err
	}
	conn, err := connectWithRetry(ctx, log, func(ctx context.Context) (*pgx.Conn, error) {
		return pgx.Connect(ctx, db.DSN())
	}, db.Password)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	dir := migrationsDir()
	res, err := migrate.Run(ctx, conn, os.DirFS(dir), log)
	if err != nil {
		return err
	}
	log.Info("migrations up to date", "dir", dir, "applied", len(res.Applied), "known", res.Total)
	return nil
}
