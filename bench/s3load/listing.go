package main

// The listing benchmark (-mode fill, -mode list): a bucket of many small
// objects spread over root directories, and the latency of listing one page
// of 1,000 keys from a random place in it (ListObjectsV2 with StartAfter),
// which is what a paginating client pays per page however big the bucket.

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
)

// listingKey names object i of a bucket filled over `dirs` root directories.
func listingKey(i, dirs int) string {
	return fmt.Sprintf("d%05d/obj-%09d", i%dirs, i)
}

// fill PUTs objects [0, n) of 16 bytes with `concurrency` clients.
func fill(ctx context.Context, pick func(int) *minio.Client, bucket string, n, dirs, concurrency int) {
	body := []byte("cleave-listing!\n")
	var next, errs int64 = -1, 0
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			client := pick(w)
			for {
				i := int(atomic.AddInt64(&next, 1))
				if i >= n {
					return
				}
				_, err := client.PutObject(ctx, bucket, listingKey(i, dirs), bytes.NewReader(body),
					int64(len(body)), minio.PutObjectOptions{DisableMultipart: true})
				if err != nil {
					atomic.AddInt64(&errs, 1)
				}
			}
		}(w)
	}
	wg.Wait()
	emit(result{Phase: "fill", Concurrency: concurrency, ObjectBytes: int64(len(body)),
		Ops: int64(n) - errs, Errors: errs, Seconds: time.Since(start).Seconds()})
}

type listResult struct {
	Phase    string  `json:"phase"`
	Objects  int     `json:"objects"`
	PageKeys int     `json:"page_keys"`
	Rounds   int     `json:"rounds"`
	Errors   int     `json:"errors"`
	MedianMs float64 `json:"median_ms"`
	P99Ms    float64 `json:"p99_ms"`
}

// listPages lists `rounds` pages of `page` keys, each after a random key of
// the filled bucket, and reports the latency of a page.
func listPages(ctx context.Context, client *minio.Client, bucket string, n, dirs, page, rounds int, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	var lat []float64
	errs := 0
	for r := 0; r < rounds; r++ {
		after := listingKey(rng.Intn(n), dirs)
		start := time.Now()
		pageCtx, cancel := context.WithCancel(ctx)
		got := 0
		for obj := range client.ListObjects(pageCtx, bucket, minio.ListObjectsOptions{
			Recursive: true, MaxKeys: page, StartAfter: after}) {
			if obj.Err != nil {
				errs++
				break
			}
			got++
			if got == page {
				break
			}
		}
		cancel()
		lat = append(lat, float64(time.Since(start).Microseconds())/1000)
	}
	sort.Float64s(lat)
	out := listResult{Phase: "list-page", Objects: n, PageKeys: page, Rounds: rounds, Errors: errs}
	if len(lat) > 0 {
		out.MedianMs = lat[len(lat)/2]
		out.P99Ms = lat[(len(lat)*99)/100]
	}
	emitJSON(out)
	if errs > 0 {
		fmt.Fprintln(os.Stderr, "s3load: listing errors:", errs)
	}
}
