// Package migrate applies services/db/migrations/*.sql in order, once each.
package migrate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
)

// Migration is one numbered SQL file.
type Migration struct {
	Version  int
	Name     string // file name, e.g. 0001_strategies.sql
	SQL      string
	Checksum string // sha256 of SQL without its kind declaration, to notice edited files
}

// declaration is a migration's `-- periph: expand|contract` line (periph reads it before a
// deploy or rollback; see docs/deploy-runbook.md "Expand and contract").
var declaration = regexp.MustCompile(`^--\s*periph:\s*\S+\s*$`)

// checksumBody is the file without the declaration line(s) of its leading comment block:
// declaring (or re-declaring) a migration's kind is not an edit of its SQL, so a database
// that applied the file before it was declared still matches its checksum.
func checksumBody(body []byte) []byte {
	out := make([]byte, 0, len(body))
	header := true
	for rest := body; len(rest) > 0; {
		line := rest
		rest = nil
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, rest = line[:i+1], line[i+1:]
		}
		trimmed := bytes.TrimSpace(line)
		if header && len(trimmed) > 0 && !bytes.HasPrefix(trimmed, []byte("--")) {
			header = false // the SQL began: a `-- periph:` below is part of it
		}
		if header && declaration.Match(trimmed) {
			continue
		}
		out = append(out, line...)
	}
	return out
}

var fileName = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

// Load reads every migration from dir, sorted by version. Files that do not look like
// NNNN_name.sql are an error rather than silently skipped: a typo would otherwise
// leave the schema behind without anyone noticing.
func Load(dir fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(dir, ".")
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	seen := map[int]string{}
	var out []Migration
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q must be named NNNN_lowercase_name.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %q and %q share version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		body, err := fs.ReadFile(dir, e.Name())
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(checksumBody(body))
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(body), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Pending returns the migrations not yet applied, or an error when an applied file's
// content changed since (its checksum no longer matches).
func Pending(all []Migration, applied map[int]string) ([]Migration, error) {
	var out []Migration
	for _, m := range all {
		sum, done := applied[m.Version]
		switch {
		case !done:
			out = append(out, m)
		case sum != m.Checksum:
			return nil, fmt.Errorf("migration %s was edited after it was applied; add a new migration instead", m.Name)
		}
	}
	return out, nil
}
