// s3load: a small S3 load generator for Cleave's benchmarks (a tool, not
// product code). It measures, against one endpoint or several (the nodes of a
// cluster, any of which accepts any request):
//
//	put-small: PUT ops/s of small objects with N concurrent clients for D
//	put-large / get-large: MiB/s of large objects, one at a time, for a
//	  fixed count or (with -large-duration) for a fixed time
//	fill, list-page (-mode fill, -mode list): a bucket of many small objects,
//	  and the latency of one page of a listing (listing.go)
//
// and prints one JSON object per phase on standard output. With several
// endpoints, small-PUT client w talks to endpoint w mod n and large object i
// goes to (and is read back from) endpoint i mod n, so every node takes an
// even share of the load. The `warp`
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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

type result struct {
	Phase       string  `json:"phase"`
	Concurrency int     `json:"concurrency"`
	Endpoints   int     `json:"endpoints"`
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
	emitJSON(r)
}

func emitJSON(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func main() {
	endpoints := flag.String("endpoint", "127.0.0.1:9000", "host:port, or a comma-separated list of them")
	bucket := flag.String("bucket", "bench", "bucket (created if missing)")
	smallBytes := flag.Int64("small-bytes", 4096, "size of small objects")
	concurrency := flag.Int("concurrency", 32, "concurrent clients for small PUTs")
	duration := flag.Duration("duration", 10*time.Second, "how long the small-PUT phase runs")
	largeBytes := flag.Int64("large-bytes", 64<<20, "size of large objects")
	largeCount := flag.Int("large-count", 4, "large objects to PUT and GET (when -large-duration is 0)")
	largeDuration := flag.Duration("large-duration", 0,
		"if set, each large phase runs this long instead (at least one object)")
	mode := flag.String("mode", "load", "load (the phases above), fill (PUT -objects small objects "+
		"over -dirs root directories), or list (-rounds pages of -page keys from such a bucket)")
	objects := flag.Int("objects", 1000000, "fill/list: objects in the bucket")
	dirs := flag.Int("dirs", 1000, "fill/list: root directories they spread over")
	page := flag.Int("page", 1000, "list: keys per page")
	rounds := flag.Int("rounds", 200, "list: pages to time")
	flag.Parse()

	var clients []*minio.Client
	for _, ep := range strings.Split(*endpoints, ",") {
		client, err := minio.New(strings.TrimSpace(ep), &minio.Options{
			Creds:  credentials.NewStaticV4(os.Getenv("CLEAVE_ACCESS_KEY"), os.Getenv("CLEAVE_SECRET_KEY"), ""),
			Secure: false,
			Region: "us-east-1",
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "s3load:", err)
			os.Exit(2)
		}
		clients = append(clients, client)
	}
	nEndpoints := len(clients)
	pick := func(i int) *minio.Client { return clients[i%nEndpoints] }
	ctx := context.Background()
	if err := clients[0].MakeBucket(ctx, *bucket, minio.MakeBucketOptions{}); err != nil {
		if exists, e2 := clients[0].BucketExists(ctx, *bucket); e2 != nil || !exists {
			fmt.Fprintln(os.Stderr, "s3load: make bucket:", err)
			os.Exit(2)
		}
	}

	switch *mode {
	case "fill":
		fill(ctx, pick, *bucket, *objects, *dirs, *concurrency)
		return
	case "list":
		listPages(ctx, clients[0], *bucket, *objects, *dirs, *page, *rounds, 1)
		return
	case "load":
	default:
		fmt.Fprintln(os.Stderr, "s3load: unknown -mode", *mode)
		os.Exit(2)
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
			client := pick(w)
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
	emit(result{Phase: "put-small", Concurrency: *concurrency, Endpoints: nEndpoints,
		ObjectBytes: *smallBytes, Ops: ops, Errors: errs, Seconds: time.Since(start).Seconds()})

	// more(i, start) says whether a large phase goes on to object i: a fixed
	// count, or a fixed time with at least one object.
	more := func(i int, start time.Time) bool {
		if *largeDuration == 0 {
			return i < *largeCount
		}
		return i == 0 || time.Since(start) < *largeDuration
	}

	// Phase 2 and 3: large PUTs and GETs, one at a time.
	large := make([]byte, *largeBytes)
	rand.Read(large)
	start = time.Now()
	var lops, lerrs int64
	var stored []int // indexes of the large objects that were stored
	for i := 0; more(i, start); i++ {
		_, err := pick(i).PutObject(ctx, *bucket, fmt.Sprintf("large/%d", i), bytes.NewReader(large),
			*largeBytes, minio.PutObjectOptions{PartSize: 16 << 20})
		if err != nil {
			fmt.Fprintln(os.Stderr, "s3load: large put:", err)
			lerrs++
			continue
		}
		lops++
		stored = append(stored, i)
	}
	emit(result{Phase: "put-large", Concurrency: 1, Endpoints: nEndpoints, ObjectBytes: *largeBytes,
		Ops: lops, Errors: lerrs, Seconds: time.Since(start).Seconds()})

	start = time.Now()
	lops, lerrs = 0, 0
	for i := 0; len(stored) > 0 && more(i, start); i++ {
		// Read each stored object back through the endpoint it was PUT through.
		k := stored[i%len(stored)]
		obj, err := pick(k).GetObject(ctx, *bucket, fmt.Sprintf("large/%d", k), minio.GetObjectOptions{})
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
			continue
		}
		lops++
	}
	emit(result{Phase: "get-large", Concurrency: 1, Endpoints: nEndpoints, ObjectBytes: *largeBytes,
		Ops: lops, Errors: lerrs, Seconds: time.Since(start).Seconds()})
}
