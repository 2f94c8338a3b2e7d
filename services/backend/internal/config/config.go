// Package config reads the backend's settings from the environment.
//
// Errors name the keys that are wrong, never their values: the same variables carry
// DB_PASSWORD and JWT_SECRET, and error text ends up in logs.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DB holds what is needed to reach Postgres.
type DB struct {
	Host     string
	Port     int
	User     string
	Password string
	Name     string
}

// Redis holds what is needed to reach Redis.
type Redis struct {
	Host     string
	Port     int
	Password string
}

// Features are the switches the cluster's ConfigMap flips without a rebuild.
type Features struct {
	// StrategyCreate off answers POST /api/strategies with 403 (FEATURE_STRATEGY_CREATE).
	StrategyCreate bool
	// LiveJobs off closes /ws and stops relaying job results (FEATURE_LIVE_JOBS).
	LiveJobs bool
}

// Config is the full serve-time configuration.
type Config struct {
	DB         DB
	Redis      Redis
	JWTSecret  string
	ListenAddr string
	// InternalAddr serves /metrics, /livez and /internal/health (detail with error
	// text); the Ingress never routes to it. INTERNAL_ADDR=off leaves it empty (none).
	InternalAddr string
	// PoolMaxConns is the pgx pool size per process: one term of the Postgres
	// connection budget (docs/k8s.md).
	PoolMaxConns int32
	Features     Features
	// WSOrigins are the browser origins /ws accepts besides same-origin pages.
	WSOrigins []string
	// Drain is the time between SIGTERM (readiness turns 503) and Shutdown.
	Drain time.Duration
}

// DefaultPoolMaxConns is the pool size when DB_POOL_MAX_CONNS is unset. The connection
// budget test in tests/unit/k8s reads this constant.
const DefaultPoolMaxConns = 8

// DefaultDrainSeconds is how long, after SIGTERM, the server keeps serving while it
// answers readiness with 503 (SHUTDOWN_DRAIN_SECONDS), so load balancers stop sending
// before it stops accepting. The pod's terminationGracePeriodSeconds covers the preStop
// sleep, this drain and ShutdownTimeout (a unit test on the manifests checks the sum).
const DefaultDrainSeconds = 5

// ShutdownTimeout bounds how long in-flight requests may run once the drain is over.
const ShutdownTimeout = 10 * time.Second

// DefaultWSOrigins lets the Vite dev server (localhost:5173), which proxies /ws with its
// own Origin, connect when WS_ALLOWED_ORIGINS is unset (local development).
var DefaultWSOrigins = []string{"localhost:*", "127.0.0.1:*"}

// DBKeys are required by every subcommand that touches Postgres.
var DBKeys = []string{"DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "POSTGRES_DB"}

// ServeKeys are required by `backend serve`. REDIS_PASSWORD is optional (an
// unprotected dev Redis is allowed), so it is not listed.
var ServeKeys = append(append([]string{}, DBKeys...), "REDIS_HOST", "REDIS_PORT", "JWT_SECRET")

// MissingError lists required keys that are unset or empty.
type MissingError struct{ Keys []string }

func (e *MissingError) Error() string {
	return "missing required environment variables: " + strings.Join(e.Keys, ", ")
}

// Getenv is the lookup used to read variables; tests pass a map-backed one.
type Getenv func(string) string

// missing returns the keys from want that lookup reports empty, sorted.
func missing(lookup Getenv, want []string) []string {
	var out []string
	for _, k := range want {
		if strings.TrimSpace(lookup(k)) == "" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func port(lookup Getenv, key string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(lookup(key)))
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%s must be a port number between 1 and 65535", key)
	}
	return n, nil
}

// LoadDB reads only the Postgres settings (for `backend migrate`).
func LoadDB(lookup Getenv) (DB, error) {
	if m := missing(lookup, DBKeys); len(m) > 0 {
		return DB{}, &MissingError{Keys: m}
	}
	p, err := port(lookup, "DB_PORT")
	if err != nil {
		return DB{}, err
	}
	return DB{
		Host: lookup("DB_HOST"), Port: p, User: lookup("DB_USER"),
		Password: lookup("DB_PASSWORD"), Name: lookup("POSTGRES_DB"),
	}, nil
}

// Load reads the serve-time configuration, reporting every missing key at once.
func Load(lookup Getenv) (Config, error) {
	if m := missing(lookup, ServeKeys); len(m) > 0 {
		return Config{}, &MissingError{Keys: m}
	}
	db, err := LoadDB(lookup)
	if err != nil {
		return Config{}, err
	}
	rp, err := port(lookup, "REDIS_PORT")
	if err != nil {
		return Config{}, err
	}
	listen := lookup("LISTEN_ADDR")
	if listen == "" {
		listen = ":5058"
	}
	internal := strings.TrimSpace(lookup("INTERNAL_ADDR"))
	switch internal {
	case "":
		internal = ":9091"
	case "off":
		internal = ""
	}
	pool, err := intIn(lookup, "DB_POOL_MAX_CONNS", DefaultPoolMaxConns, 1, 1000)
	if err != nil {
		return Config{}, err
	}
	create, err := Bool(lookup, "FEATURE_STRATEGY_CREATE", true)
	if err != nil {
		return Config{}, err
	}
	live, err := Bool(lookup, "FEATURE_LIVE_JOBS", true)
	if err != nil {
		return Config{}, err
	}
	drain, err := intIn(lookup, "SHUTDOWN_DRAIN_SECONDS", DefaultDrainSeconds, 0, 120)
	if err != nil {
		return Config{}, err
	}
	return Config{
		DB:           db,
		Redis:        Redis{Host: lookup("REDIS_HOST"), Port: rp, Password: lookup("REDIS_PASSWORD")},
		JWTSecret:    lookup("JWT_SECRET"),
		ListenAddr:   listen,
		InternalAddr: internal,
		PoolMaxConns: int32(pool),
		Features:     Features{StrategyCreate: create, LiveJobs: live},
		WSOrigins:    wsOrigins(lookup("WS_ALLOWED_ORIGINS")),
		Drain:        time.Duration(drain) * time.Second,
	}, nil
}

func intIn(lookup Getenv, key string, def, lo, hi int) (int, error) {
	raw := strings.TrimSpace(lookup(key))
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be a whole number between %d and %d", key, lo, hi)
	}
	return n, nil
}

// Bool reads a flag written the way .env files and ConfigMaps write them; unset is def.
func Bool(lookup Getenv, key string, def bool) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(lookup(key))) {
	case "":
		return def, nil
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%s must be true or false", key)
}

// LogLevel reads LOG_LEVEL (debug, info, warn, error; unset is info).
func LogLevel(lookup Getenv) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(lookup("LOG_LEVEL"))) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, errors.New("LOG_LEVEL must be one of debug, info, warn, error")
}

// wsOrigins is WS_ALLOWED_ORIGINS split on commas, or the dev default when unset.
func wsOrigins(raw string) []string {
	var out []string
	for _, o := range strings.Split(raw, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		return append([]string{}, DefaultWSOrigins...)
	}
	return out
}

// FromOS is the process environment as a Getenv.
func FromOS(key string) string { return os.Getenv(key) }

// DSN is a libpq-style URL for pgx. Callers must not log it.
func (d DB) DSN() string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(d.User, d.Password),
		Host:     net.JoinHostPort(d.Host, strconv.Itoa(d.Port)),
		Path:     "/" + d.Name,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Addr is host:port for go-redis.
func (r Redis) Addr() string { return net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) }

// Secrets returns every secret value so error text can be scrubbed before it is shown.
func (c Config) Secrets() []string {
	return []string{c.DB.Password, c.Redis.Password, c.JWTSecret}
}

// Redact replaces every non-empty secret in s with "***". Drivers sometimes echo
// connection strings in errors; health responses and logs go through this.
func Redact(s string, secrets ...string) string {
	for _, v := range secrets {
		if len(v) >= 3 {
			s = strings.ReplaceAll(s, v, "***")
		}
	}
	return s
}

// IsMissing reports whether err is a MissingError.
func IsMissing(err error) bool {
	var m *MissingError
	return errors.As(err, &m)
}
