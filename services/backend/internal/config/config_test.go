package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"
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

func TestPoolSizeDefaultsAndIsBounded(t *testing.T) {
	c, _ := Load(env(full()))
	if c.PoolMaxConns != DefaultPoolMaxConns {
		t.Fatalf("default pool = %d", c.PoolMaxConns)
	}
	m := full()
	m["DB_POOL_MAX_CONNS"] = "12"
	if c, _ := Load(env(m)); c.PoolMaxConns != 12 {
		t.Fatalf("pool = %d, want 12", c.PoolMaxConns)
	}
	m["DB_POOL_MAX_CONNS"] = "0"
	if _, err := Load(env(m)); err == nil || !strings.Contains(err.Error(), "DB_POOL_MAX_CONNS") {
		t.Fatalf("want an error naming DB_POOL_MAX_CONNS, got %v", err)
	}
}

func TestFeatureFlagsDefaultOnAndReadBooleanWords(t *testing.T) {
	c, _ := Load(env(full()))
	if !c.Features.StrategyCreate || !c.Features.LiveJobs {
		t.Fatalf("features default off: %+v", c.Features)
	}
	m := full()
	m["FEATURE_STRATEGY_CREATE"] = "false"
	m["FEATURE_LIVE_JOBS"] = "0"
	c, err := Load(env(m))
	if err != nil || c.Features.StrategyCreate || c.Features.LiveJobs {
		t.Fatalf("flags not honoured: %+v %v", c.Features, err)
	}
	m["FEATURE_LIVE_JOBS"] = "maybe"
	if _, err := Load(env(m)); err == nil || !strings.Contains(err.Error(), "FEATURE_LIVE_JOBS") {
		t.Fatalf("want an error naming FEATURE_LIVE_JOBS, got %v", err)
	}
}

func TestLogLevelNamesAreRead(t *testing.T) {
	for raw, want := range map[string]slog.Level{"": slog.LevelInfo, "debug": slog.LevelDebug, "WARN": slog.LevelWarn, "error": slog.LevelError} {
		got, err := LogLevel(env(map[string]string{"LOG_LEVEL": raw}))
		if err != nil || got != want {
			t.Errorf("LOG_LEVEL=%q: got %v %v", raw, got, err)
		}
	}
	if _, err := LogLevel(env(map[string]string{"LOG_LEVEL": "loud"})); err == nil {
		t.Fatal("an unknown level must be an error")
	}
}

func TestWSOriginsReplaceTheDevDefaultWhenSet(t *testing.T) {
	c, _ := Load(env(full()))
	if strings.Join(c.WSOrigins, ",") != "localhost:*,127.0.0.1:*" {
		t.Fatalf("dev default = %v", c.WSOrigins)
	}
	m := full()
	m["WS_ALLOWED_ORIGINS"] = "app.peripheral.com, demo.peripheral.internal"
	c, _ = Load(env(m))
	if strings.Join(c.WSOrigins, ",") != "app.peripheral.com,demo.peripheral.internal" {
		t.Fatalf("origins = %v", c.WSOrigins)
	}
}

func TestInternalAddrDefaultsTo9091AndCanBeSwitchedOff(t *testing.T) {
	c, _ := Load(env(full()))
	if c.InternalAddr != ":9091" {
		t.Fatalf("internal addr = %q", c.InternalAddr)
	}
	m := full()
	m["INTERNAL_ADDR"] = "off"
	if c, _ := Load(env(m)); c.InternalAddr != "" {
		t.Fatalf("internal addr = %q, want none", c.InternalAddr)
	}
}

func TestDrainDefaultsToFiveSecondsAndIsBounded(t *testing.T) {
	c, _ := Load(env(full()))
	if c.Drain != DefaultDrainSeconds*time.Second {
		t.Fatalf("default drain = %s", c.Drain)
	}
	m := full()
	m["SHUTDOWN_DRAIN_SECONDS"] = "0"
	if c, err := Load(env(m)); err != nil || c.Drain != 0 {
		t.Fatalf("drain 0: %v %s", err, c.Drain)
	}
	m["SHUTDOWN_DRAIN_SECONDS"] = "soon"
	if _, err := Load(env(m)); err == nil || !strings.Contains(err.Error(), "SHUTDOWN_DRAIN_SECONDS") {
		t.Fatalf("want an error naming SHUTDOWN_DRAIN_SECONDS, got %v", err)
	}
}
