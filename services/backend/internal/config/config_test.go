package config

import (
	"strings"
	"testing"
)

func env(m map[string]string) Getenv { return func(k string) string { return m[k] } }

func full() map[string]string {
	return map[string]string{
		"DB_HOST": "db", "DB_PORT": "5432", "DB_USER": "app", "DB_PASSWORD": "s3cret-pw",
		"POSTGRES_DB": "peripheral", "REDIS_HOST": "cache", "REDIS_PORT": "6379",
		"JWT_SECRET": "jwt-s3cret",
	}
}

func TestLoadReadsEveryKey(t *testing.T) {
	c, err := Load(env(full()))
	if err != nil {
		t.Fatal(err)
	}
	if c.DB.Host != "db" || c.DB.Port != 5432 || c.Redis.Addr() != "cache:6379" || c.ListenAddr != ":5058" {
		t.Fatalf("unexpected config: %+v", c)
	}
}

func TestLoadNamesEveryMissingKeyAndNoValue(t *testing.T) {
	m := full()
	delete(m, "JWT_SECRET")
	m["DB_PASSWORD"] = "  "
	delete(m, "REDIS_HOST")
	_, err := Load(env(m))
	if !IsMissing(err) {
		t.Fatalf("want MissingError, got %v", err)
	}
	msg := err.Error()
	for _, k := range []string{"DB_PASSWORD", "JWT_SECRET", "REDIS_HOST"} {
		if !strings.Contains(msg, k) {
			t.Errorf("message %q does not name %s", msg, k)
		}
	}
	for _, v := range []string{"s3cret-pw", "jwt-s3cret", "peripheral"} {
		if strings.Contains(msg, v) {
			t.Errorf("message leaks a value: %q", msg)
		}
	}
}

func TestRedisPasswordIsOptional(t *testing.T) {
	if _, err := Load(env(full())); err != nil {
		t.Fatalf("REDIS_PASSWORD should be optional: %v", err)
	}
}

func TestBadPortNamesTheKeyOnly(t *testing.T) {
	m := full()
	m["DB_PORT"] = "not-a-port"
	_, err := Load(env(m))
	if err == nil || !strings.Contains(err.Error(), "DB_PORT") || strings.Contains(err.Error(), "not-a-port") {
		t.Fatalf("want an error naming DB_PORT without its value, got %v", err)
	}
}

func TestMigrateNeedsOnlyDatabaseKeys(t *testing.T) {
	m := full()
	delete(m, "JWT_SECRET")
	delete(m, "REDIS_HOST")
	if _, err := LoadDB(env(m)); err != nil {
		t.Fatalf("LoadDB should ignore non-DB keys: %v", err)
	}
}

func TestDSNEscapesCredentials(t *testing.T) {
	d := DB{Host: "db", Port: 5432, User: "app", Password: "p@ss/word", Name: "peripheral"}
	if got := d.DSN(); !strings.Contains(got, "p%40ss%2Fword@db:5432/peripheral") {
		t.Fatalf("password not escaped: %s", got)
	}
}

func TestRedactHidesSecrets(t *testing.T) {
	got := Redact("dial failed for user:s3cret-pw@db", "s3cret-pw", "")
	if strings.Contains(got, "s3cret-pw") || !strings.Contains(got, "***") {
		t.Fatalf("not redacted: %q", got)
	}
}
