// Package queue is the backend's side of the Redis contract with the worker.
//
// Jobs go on a Redis Stream read through a consumer group (at-least-once: a job a
// worker took but never acknowledged is reclaimed by another); results come back on a
// pub/sub channel that every backend replica relays to its /ws clients.
package queue

import (
	"context"
	"strconv"

	"github.com/redis/go-redis/v9"
)

const (
	// JobStream is the Redis Stream the worker's consumer group reads.
	JobStream = "peripheral:jobs"
	// ResultChannel is where the worker publishes each finished job as JSON.
	ResultChannel = "peripheral:job-results"
	// maxStreamLen caps the stream so acknowledged entries do not pile up forever.
	maxStreamLen = 10000
)

// Enqueue adds one job to the stream and returns the entry id.
func Enqueue(ctx context.Context, rdb *redis.Client, jobID, strategyID int64) (string, error) {
	return rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: JobStream,
		MaxLen: maxStreamLen,
		Approx: true,
		Values: map[string]any{
			"job_id":      strconv.FormatInt(jobID, 10),
			"strategy_id": strconv.FormatInt(strategyID, 10),
		},
	}).Result()
}
