package server

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"
)

// Hub fans job results from one Redis subscription out to every /ws client.
type Hub struct {
	mu      sync.Mutex
	clients map[chan []byte]struct{}
	log     *slog.Logger
	metrics *Metrics
}

// NewHub returns an empty hub.
func NewHub(log *slog.Logger, m *Metrics) *Hub {
	return &Hub{clients: map[chan []byte]struct{}{}, log: log, metrics: m}
}

func (h *Hub) add() chan []byte {
	ch := make(chan []byte, 32)
	h.mu.Lock()
	h.clients[ch] = struct{}{}
	h.mu.Unlock()
	h.metrics.WSClients.Inc()
	return ch
}

func (h *Hub) remove(ch chan []byte) {
	h.mu.Lock()
	if _, ok := h.clients[ch]; ok {
		delete(h.clients, ch)
		close(ch)
		h.metrics.WSClients.Dec()
	}
	h.mu.Unlock()
}

// Broadcast sends msg to every client; a client whose buffer is full is dropped
// rather than allowed to stall everyone else.
func (h *Hub) Broadcast(msg []byte) {
	h.mu.Lock()
	var slow []chan []byte
	for ch := range h.clients {
		select {
		case ch <- msg:
		default:
			slow = append(slow, ch)
		}
	}
	h.mu.Unlock()
	for _, ch := range slow {
		h.log.Warn("dropping slow websocket client")
		h.remove(ch)
	}
}

// Relay subscribes to channel and broadcasts every message until ctx ends. go-redis
// re-subscribes by itself after a connection loss.
func (h *Hub) Relay(ctx context.Context, rdb *redis.Client, channel string) {
	sub := rdb.Subscribe(ctx, channel)
	defer sub.Close()
	msgs := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			h.Broadcast([]byte(m.Payload))
		}
	}
}

// CloseAll disconnects every client (used on shutdown: hijacked connections are not
// closed by http.Server.Shutdown).
func (h *Hub) CloseAll() {
	h.mu.Lock()
	chans := make([]chan []byte, 0, len(h.clients))
	for ch := range h.clients {
		chans = append(chans, ch)
	}
	h.mu.Unlock()
	for _, ch := range chans {
		h.remove(ch)
	}
}

func (a *API) websocket(w http.ResponseWriter, r *http.Request) {
	if !a.Features.LiveJobs {
		writeError(w, http.StatusNotFound, "live job updates are switched off (FEATURE_LIVE_JOBS=false)")
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: a.WSOrigins})
	if err != nil {
		return // Accept already wrote the HTTP error.
	}
	defer c.CloseNow()
	ch := a.Hub.add()
	defer a.Hub.remove(ch)

	// Reading is needed to process pings and the client's close frame.
	ctx := c.CloseRead(r.Context())
	if err := writeWS(ctx, c, []byte(`{"type":"hello"}`)); err != nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				c.Close(websocket.StatusGoingAway, "server shutting down")
				return
			}
			if err := writeWS(ctx, c, msg); err != nil {
				return
			}
		}
	}
}

func writeWS(ctx context.Context, c *websocket.Conn, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return c.Write(ctx, websocket.MessageText, msg)
}
