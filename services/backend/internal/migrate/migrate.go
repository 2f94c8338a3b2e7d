package migrate

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
)

// lockID is an arbitrary constant shared by every replica: pg_advisory_lock on it
// serialises concurrent `backend migrate` runs (two Jobs, or a Job and a developer).
const lockID int64 = 0x7065726970680001 // "periph" + 1

const createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	name       text        NOT NULL,
	checksum   text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

// Result says what a run did.
type Result struct {
	Applied []string
	Total   int
}

// Run applies every pending migration from dir, each in its own transaction, holding
// a session advisory lock for the whole run.
func Run(ctx context.Context, conn *pgx.Conn, dir fs.FS, log *slog.Logger) (Result, error) {
	all, err := Load(dir)
	if err != nil {
		return Result{}, err
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockID); err != nil {
		return Result{}, fmt.Errorf("taking migration lock: %w", err)
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockID) }()

	if _, err := conn.Exec(ctx, createTable); err != nil {
		return Result{}, fmt.Errorf("creating schema_migrations: %w", err)
	}
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		return Result{}, err
	}
	pending, err := Pending(all, applied)
	if err != nil {
		return Result{}, err
	}
	res := Result{Total: len(all)}
	for _, m := range pending {
		if err := apply(ctx, conn, m); err != nil {
			return res, err
		}
		log.Info("migration applied", "version", m.Version, "name", m.Name)
		res.Applied = append(res.Applied, m.Name)
	}
	return res, nil
}

func appliedVersions(ctx context.Context, conn *pgx.Conn) (map[int]string, error) {
	rows, err := conn.Query(ctx, "SELECT version, checksum FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	out := map[int]string{}
	for rows.Next() {
		var v int
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, err
		}
		out[v] = sum
	}
	return out, rows.Err()
}

func apply(ctx context.Context, conn *pgx.Conn, m Migration) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// The simple protocol runs a file holding several statements (and DO blocks).
	if _, err := tx.Conn().PgConn().Exec(ctx, m.SQL).ReadAll(); err != nil {
		return fmt.Errorf("applying %s: %w", m.Name, err)
	}
	if _, err := tx.Exec(ctx,
		"INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
		m.Version, m.Name, m.Checksum); err != nil {
		return fmt.Errorf("recording %s: %w", m.Name, err)
	}
	return tx.Commit(ctx)
}
