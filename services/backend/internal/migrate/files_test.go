package migrate

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadSortsByVersion(t *testing.T) {
	dir := fstest.MapFS{
		"0002_jobs.sql":       {Data: []byte("select 2;")},
		"0001_strategies.sql": {Data: []byte("select 1;")},
		"0010_later.sql":      {Data: []byte("select 10;")},
	}
	ms, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	if got := strings.Join(names, ","); got != "0001_strategies.sql,0002_jobs.sql,0010_later.sql" {
		t.Fatalf("order: %s", got)
	}
}

func TestLoadRejectsBadlyNamedFiles(t *testing.T) {
	_, err := Load(fstest.MapFS{"1_x.sql": {Data: []byte("")}})
	if err == nil || !strings.Contains(err.Error(), "1_x.sql") {
		t.Fatalf("want error naming the file, got %v", err)
	}
}

func TestLoadRejectsDuplicateVersions(t *testing.T) {
	_, err := Load(fstest.MapFS{"0001_a.sql": {}, "0001_b.sql": {}})
	if err == nil || !strings.Contains(err.Error(), "share version 1") {
		t.Fatalf("want duplicate version error, got %v", err)
	}
}

func TestPendingSkipsAppliedOnes(t *testing.T) {
	ms, _ := Load(fstest.MapFS{"0001_a.sql": {Data: []byte("a")}, "0002_b.sql": {Data: []byte("b")}})
	p, err := Pending(ms, map[int]string{1: ms[0].Checksum})
	if err != nil || len(p) != 1 || p[0].Version != 2 {
		t.Fatalf("pending = %+v, %v", p, err)
	}
}

func TestPendingRefusesEditedMigrations(t *testing.T) {
	ms, _ := Load(fstest.MapFS{"0001_a.sql": {Data: []byte("a")}})
	if _, err := Pending(ms, map[int]string{1: "other"}); err == nil {
		t.Fatal("an edited applied migration must be refused")
	}
}

func TestTheKindDeclarationIsNotPartOfTheChecksum(t *testing.T) {
	plain := "-- Trading strategies.\nCREATE TABLE t (id int);\n"
	declared := "-- periph: expand\n" + plain
	ms, err := Load(fstest.MapFS{"0001_a.sql": {Data: []byte(plain)}, "0002_b.sql": {Data: []byte(declared)}})
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].Checksum != ms[1].Checksum {
		t.Fatalf("declaring a kind changed the checksum: %s vs %s", ms[0].Checksum, ms[1].Checksum)
	}
	if ms[1].SQL != declared {
		t.Fatalf("the SQL run must be the whole file, got %q", ms[1].SQL)
	}
}

func TestADeclarationInsideTheSQLIsPartOfTheChecksum(t *testing.T) {
	plain := "CREATE TABLE t (id int);\n"
	ms, err := Load(fstest.MapFS{
		"0001_a.sql": {Data: []byte(plain)},
		"0002_b.sql": {Data: []byte(plain + "-- periph: expand\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].Checksum == ms[1].Checksum {
		t.Fatal("a line after the SQL began must count")
	}
}
