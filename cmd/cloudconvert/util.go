package main

import (
	"context"
	"os"
	"time"
)

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

func contextWithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}
