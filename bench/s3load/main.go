// s3load: a small S3 load generator for Cleave's benchmarks (a tool, not
// product code). It measures, against one endpoint:
//
//	put-small: PUT ops/s of small objects with N concurrent clients for D
//	put-large / get-large: MiB/s of large objects, one at a time
//
// and prints one JSON object per phase on standard output. The `warp`
// benchmark named in the issues is not served by this machine's Go module
// proxy; this tool measures the same quantities with minio-go.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

type result struct {
	Phase       string  `json:"phase"`
	Concurrency int     `json:"concurrency"`
	ObjectBytes int64   `json:"object_bytes"`
	Ops         int64   `json:"ops"`
	Errors      int64   `json:"errors"`
	Seconds     float64 `json:"seconds"`
	OpsPerSec   float64 `json:"ops_per_sec"`
	MiBPerSec   float64 `json:"mib_per_sec"`
}

func emit(r result) {
	r.OpsPerSec = float64(r.Ops) / r.Seconds
	r.MiBPerSec = float64(r.Ops) * float64(r.ObjectBytes) / (1 << 20) / r.Seconds
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

func main() {
	endpoint := flag.String("endpoint", "127.0.0.1:9000", "host:port")
	bucket := flag.String("bucket", "bench", "bucket (created if missing)")
	smallBytes := flag.Int64("small-bytes", 4096, "size of small objects")
	concurrency := flag.Int("concurrency", 32, "concurrent clients for small PUTs")
	duration := flag.Duration("duration", 10*time.Second, "how long the small-PUT phase runs")
	largeBytes := flag.Int64("large-bytes", 64<<20, "size of large objects")
	largeCount := flag.Int("large-count", 4, "large objects to PUT and GET")
	flag.Parse()

	client, err := minio.New(*endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(os.Getenv("CLEAVE_ACCESS_KEY"), os.Getenv("CLEAVE_SECRET_KEY"), ""),
		Secure: false,
		Region: "us-east-1",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "s3load:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	if err := client.MakeBucket(ctx, *bucket, minio.MakeBucketOptions{}); err != nil {
		if exists, e2 := client.BucketExists(ctx, *bucket); e2 != nil || !exists {
			fmt.Fprintln(os.Stderr, "s3load: make bucket:", err)
			os.Exit(2)
		}
	}

	// Phase 1: small PUTs, N clients, for a fixed time.
	small := make([]byte, *smallBytes)
	rand.Read(small)
	var ops, errs int64
	deadline := time.Now().Add(*duration)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				key := fmt.Sprintf("small/%d/%d", w, i)
				_, err := client.PutObject(ctx, *bucket, key, bytes.NewReader(small), *smallBytes,
					minio.PutObjectOptions{DisableMultipart: true})
				if err != nil {
					atomic.AddInt64(&errs, 1)
					continue
				}
				atomic.AddInt64(&ops, 1)
			}
		}(w)
	}
	wg.Wait()
	emit(result{Phase: "put-small", Concurrency: *concurrency, ObjectBytes: *smallBytes,
		Ops: ops, Errors: errs, Seconds: time.Since(start).Seconds()})

	// Phase 2 and 3: large PUTs and GETs, one at a time.
	large := make([]byte, *largeBytes)
	rand.Read(large)
	start = time.Now()
	var lerrs int64
	for i := 0; i < *largeCount; i++ {
		_, err := client.PutObject(ctx, *bucket, fmt.Sprintf("large/%d", i), bytes.NewReader(large),
			*largeBytes, minio.PutObjectOptions{PartSize: 16 << 20})
		if err != nil {
			fmt.Fprintln(os.Stderr, "s3load: large put:", err)
			lerrs++
		}
	}
	emit(result{Phase: "put-large", Concurrency: 1, ObjectBytes: *largeBytes,
		Ops: int64(*largeCount) - lerrs, Errors: lerrs, Seconds: time.Since(start).Seconds()})

	start = time.Now()
	lerrs = 0
	for i := 0; i < *largeCount; i++ {
		obj, err := client.GetObject(ctx, *bucket, fmt.Sprintf("large/%d", i), minio.GetObjectOptions{})
		if err == nil {
			var n int64
			n, err = io.Copy(io.Discard, obj)
			obj.Close()
			if err == nil && n != *largeBytes {
				err = fmt.Errorf("short read: %d bytes", n)
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "s3load: large get:", err)
			lerrs++
		}
	}
	emit(result{Phase: "get-large", Concurrency: 1, ObjectBytes: *largeBytes,
		Ops: int64(*largeCount) - lerrs, Errors: lerrs, Seconds: time.Since(start).Seconds()})
}
