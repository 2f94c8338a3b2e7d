// Package config reads the backend's settings from the environment.
//
// Errors name the keys that are wrong, never their values: the same variables carry
// DB_PASSWORD and JWT_SECRET, and error text ends up in logs.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
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

// Config is the full serve-time configuration.
type Config struct {
	DB         DB
	Redis      Redis
	JWTSecret  string
	ListenAddr string
}

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
	return Config{
		DB:         db,
		Redis:      Redis{Host: lookup("REDIS_HOST"), Port: rp, Password: lookup("REDIS_PASSWORD")},
		JWTSecret:  lookup("JWT_SECRET"),
		ListenAddr: listen,
	}, nil
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
