// Command lincheck decides whether a recorded S3 history is linearizable.
//
// The history is JSON lines, one operation per line (see README.md), as
// written by tests/cluster/history.py. Each key is an independent register
// whose initial value is "" (absent); a write sets it, a read returns it and
// a cas(expect, new) sets it to new iff it currently holds expect. Checking is
// done per key (a history is linearizable iff every key's sub-history is), by
// porcupine.
//
// Operations whose outcome the client never learnt (timeout, 5xx, connection
// error) are "unknown": they may have taken effect at any instant after their
// call, or never. They get a return time of +infinity, and the model lets each
// of them either take effect or not (a set of possible states, as in etcd's
// robustness tests), so they can excuse an observation but never require one.
// model.go explains how the history is rewritten, without changing any
// verdict, so that hundreds of unknown operations do not blow up the search.
//
// Exit status: 0 linearizable, 1 not linearizable, 2 unreadable input or no
// verdict within --timeout.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

const (
	exitLinearizable    = 0
	exitNotLinearizable = 1
	exitError           = 2 // unreadable input, bad usage, or no verdict in time
)

// checkKeys checks every key on its own, so the verdict can name the keys
// that fail. ops must have been prepared. All keys share one deadline;
// timeout 0 means none.
func checkKeys(ops []porcupine.Operation, timeout time.Duration) map[string]porcupine.CheckResult {
	parts := byKey(ops)
	results := make(map[string]porcupine.CheckResult, len(parts))
	var mu sync.Mutex
	deadline := time.Now().Add(timeout)
	check := func(ops []porcupine.Operation) porcupine.CheckResult {
		if timeout == 0 {
			return porcupine.CheckOperationsTimeout(registerModel, ops, 0)
		}
		if left := time.Until(deadline); left > 0 {
			return porcupine.CheckOperationsTimeout(registerModel, ops, left)
		}
		return porcupine.Unknown
	}
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for _, part := range parts {
		part := part
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			res := check(part)
			mu.Lock()
			results[part[0].Input.(input).key] = res
			mu.Unlock()
		}()
	}
	wg.Wait()
	return results
}

// visualize re-checks the failing keys with porcupine's bookkeeping on, and
// writes its interactive HTML view of them.
func visualize(prepared []porcupine.Operation, keys []string, timeout time.Duration, path string) error {
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	var ops []porcupine.Operation
	for _, op := range prepared {
		if want[op.Input.(input).key] {
			ops = append(ops, op)
		}
	}
	model := registerModel
	model.Partition = byKey
	_, info := porcupine.CheckOperationsVerbose(model, ops, timeout)
	return porcupine.VisualizePath(model, info, path)
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lincheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	historyPath := fs.String("history", "", "JSON-lines history to check (required)")
	timeout := fs.Duration("timeout", 120*time.Second, "give up (exit 2) after this long; 0 = never")
	visualizeOut := fs.String("visualize", "", "on a violation, write porcupine's HTML visualization of the failing keys here")
	if err := fs.Parse(args); err != nil {
		return exitError
	}
	if *historyPath == "" || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "usage: lincheck --history FILE [--timeout 120s] [--visualize OUT.html]")
		return exitError
	}
	f, err := os.Open(*historyPath)
	if err != nil {
		fmt.Fprintf(stderr, "lincheck: %v\n", err)
		return exitError
	}
	h, err := parseHistory(f)
	f.Close()
	if err != nil {
		fmt.Fprintf(stderr, "lincheck: %s: %v\n", *historyPath, err)
		return exitError
	}
	if h.stats.droppedReads > 0 {
		fmt.Fprintf(stderr, "lincheck: ignored %d reads with unknown outcome\n", h.stats.droppedReads)
	}

	start := time.Now()
	ops := prepare(h.ops)
	results := checkKeys(ops, *timeout)
	var illegal, unknown []string
	for _, k := range h.keys {
		switch results[k] {
		case porcupine.Illegal:
			illegal = append(illegal, k)
		case porcupine.Unknown:
			unknown = append(unknown, k)
		}
	}
	s := h.stats
	summary := fmt.Sprintf("lincheck: %d operations (%d writes, %d reads, %d cas, %d unknown) on %d keys",
		len(h.ops), s.writes, s.reads, s.cas, s.unknown, len(h.keys))
	fmt.Fprintf(stderr, "lincheck: checked %d keys in %s\n", len(h.keys), time.Since(start).Round(time.Millisecond))
	switch {
	case len(illegal) > 0:
		noun := "key"
		if len(illegal) > 1 {
			noun = "keys"
		}
		fmt.Fprintf(stdout, "%s: NOT linearizable (%s %s)\n", summary, noun, strings.Join(illegal, ", "))
		if *visualizeOut != "" {
			if err := visualize(ops, illegal, *timeout, *visualizeOut); err != nil {
				fmt.Fprintf(stderr, "lincheck: writing visualization: %v\n", err)
			} else {
				fmt.Fprintf(stdout, "lincheck: visualization of the failing keys written to %s\n", *visualizeOut)
			}
		}
		return exitNotLinearizable
	case len(unknown) > 0:
		fmt.Fprintf(stdout, "%s: unknown, no verdict within %s (key %s)\n", summary, *timeout, strings.Join(unknown, ", "))
		return exitError
	}
	fmt.Fprintf(stdout, "%s: linearizable\n", summary)
	return exitLinearizable
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
