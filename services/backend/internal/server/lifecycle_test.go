package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakeServer records what GracefulStop does to it, in order, into a shared journal.
type fakeServer struct {
	name    string
	journal *[]string
	life    *Lifecycle
}

func (f *fakeServer) SetKeepAlivesEnabled(on bool) {
	*f.journal = append(*f.journal, fmt.Sprintf("%s keep-alive=%v", f.name, on))
}

func (f *fakeServer) Shutdown(ctx context.Context) error {
	_, hasDeadline := ctx.Deadline()
	*f.journal = append(*f.journal, fmt.Sprintf("%s shutdown (draining=%v deadline=%v)",
		f.name, f.life.Draining(), hasDeadline))
	return nil
}

func quietLog() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

func TestGracefulStopFailsReadinessThenWaitsTheDrainThenShutsDown(t *testing.T) {
	life := &Lifecycle{}
	var journal []string
	public := &fakeServer{name: "public", journal: &journal, life: life}
	internal := &fakeServer{name: "internal", journal: &journal, life: life}
	wait := func(d time.Duration) {
		journal = append(journal, fmt.Sprintf("wait %s (draining=%v)", d, life.Draining()))
	}
	if err := GracefulStop(quietLog(), life, 5*time.Second, 10*time.Second, wait, public, internal); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"public keep-alive=false",
		"internal keep-alive=false",
		"wait 5s (draining=true)",
		"public shutdown (draining=true deadline=true)",
		"internal shutdown (draining=true deadline=true)",
	}
	if strings.Join(journal, "\n") != strings.Join(want, "\n") {
		t.Fatalf("order:\n%s\nwant:\n%s", strings.Join(journal, "\n"), strings.Join(want, "\n"))
	}
}

func TestAZeroDrainShutsDownWithoutWaiting(t *testing.T) {
	life := &Lifecycle{}
	var journal []string
	srv := &fakeServer{name: "public", journal: &journal, life: life}
	wait := func(time.Duration) { journal = append(journal, "wait") }
	if err := GracefulStop(quietLog(), life, 0, time.Second, wait, srv); err != nil {
		t.Fatal(err)
	}
	for _, line := range journal {
		if line == "wait" {
			t.Fatalf("waited with a zero drain: %v", journal)
		}
	}
}

func TestReadinessTurns503WhileDrainingAndRequestsAreStillServed(t *testing.T) {
	a, _, _ := newAPI(nil)
	a.Life = &Lifecycle{}
	a.ReadyChecks = []string{"postgres"}
	internal, public := a.InternalHandler(), a.Handler()

	if res, body := do(t, internal, "GET", "/readyz", ""); res.StatusCode != 200 {
		t.Fatalf("before the drain: %d %v", res.StatusCode, body)
	}
	a.Life.StartDraining()
	res, body := do(t, internal, "GET", "/readyz", "")
	if res.StatusCode != http.StatusServiceUnavailable || body["status"] != "draining" {
		t.Fatalf("while draining: %d %v", res.StatusCode, body)
	}
	// The pod leaves the Service, but whatever still reaches it is answered.
	if res, _ := do(t, public, "GET", "/api/strategies", ""); res.StatusCode != 200 {
		t.Fatalf("a request during the drain answered %d", res.StatusCode)
	}
}

func TestReadinessIgnoresARedisOutageButNotAPostgresOne(t *testing.T) {
	a, _, _ := newAPI(nil)
	a.Life = &Lifecycle{}
	a.ReadyChecks = []string{"postgres"}
	a.Checks["redis"] = func(context.Context) error { return fmt.Errorf("connection refused") }
	internal := a.InternalHandler()
	if res, body := do(t, internal, "GET", "/readyz", ""); res.StatusCode != 200 {
		t.Fatalf("redis down made the pod unready: %d %v", res.StatusCode, body)
	}
	a.Checks["postgres"] = func(context.Context) error { return fmt.Errorf("connection refused") }
	if res, body := do(t, internal, "GET", "/readyz", ""); res.StatusCode != 503 {
		t.Fatalf("postgres down left the pod ready: %d %v", res.StatusCode, body)
	}
}

func TestAStoppedServerDrainsAnInFlightRequestBeforeClosing(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		w.WriteHeader(http.StatusOK)
	}))
	ts.Start()
	defer ts.Close()
	got := make(chan int, 1)
	go func() {
		res, err := http.Get(ts.URL)
		if err != nil {
			got <- -1
			return
		}
		res.Body.Close()
		got <- res.StatusCode
	}()
	<-started
	life := &Lifecycle{}
	wait := func(time.Duration) { close(release) } // the request finishes during the drain
	if err := GracefulStop(quietLog(), life, time.Second, 10*time.Second, wait, ts.Config); err != nil {
		t.Fatal(err)
	}
	if status := <-got; status != http.StatusOK {
		t.Fatalf("in-flight request got %d", status)
	}
}
