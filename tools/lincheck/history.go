package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/anishathalye/porcupine"
)

type opKind int

const (
	opWrite opKind = iota
	opRead
	opCas
)

// record is one line of the input. Pointers mark the fields whose absence
// must be told apart from their zero value.
type record struct {
	Client   *int    `json:"client"`
	Op       string  `json:"op"`
	Key      string  `json:"key"`
	Value    *string `json:"value"`
	Expect   *string `json:"expect"`
	Output   *string `json:"output"`
	Ok       *bool   `json:"ok"`
	Unknown  bool    `json:"unknown"`
	CallNs   *int64  `json:"call_ns"`
	ReturnNs *int64  `json:"return_ns"`
}

// input and output are what porcupine hands back to the model.
type input struct {
	kind    opKind
	client  int // the recording client, for descriptions only
	key     string
	value   string // write: the value written; cas: the new value
	expect  string // cas: the value required
	unknown bool   // the outcome was never learnt

	// Set by prepare (model.go).
	effect string // what the model stores for value: value, or unreadValue
	token  bool   // an unknown write/cas of an unread value, see model.go
}

type output struct {
	value string // read: the value seen ("" = absent)
	ok    bool   // cas: it succeeded (false: precondition failed)
}

type stats struct {
	writes, reads, cas, unknown, droppedReads int
}

type history struct {
	ops   []porcupine.Operation
	keys  []string // sorted
	stats stats
}

// parseHistory reads and validates the JSON-lines history. Operations of
// unknown outcome get a return time of +infinity. Lines are sorted by call
// time; each client gets a fresh visualization lane after an unknown
// operation, since that one never ends and would overlap the client's next.
func parseHistory(r io.Reader) (*history, error) {
	var recs []record
	var lines []int
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		var rec record
		if err := dec.Decode(&rec); err != nil {
			return nil, fmt.Errorf("line %d: %v", lineNo, err)
		}
		if err := validate(&rec); err != nil {
			return nil, fmt.Errorf("line %d: %v", lineNo, err)
		}
		recs = append(recs, rec)
		lines = append(lines, lineNo)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}

	order := make([]int, len(recs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return *recs[order[a]].CallNs < *recs[order[b]].CallNs })

	h := &history{}
	lane := map[int]int{} // client -> current visualization lane
	nextLane := 0
	keys := map[string]bool{}
	for _, i := range order {
		rec := recs[i]
		if rec.Op == "read" && rec.Unknown {
			// Carries no information; the recorder should not write these.
			h.stats.droppedReads++
			continue
		}
		in := input{client: *rec.Client, key: rec.Key, unknown: rec.Unknown}
		var out output
		switch rec.Op {
		case "write":
			in.kind, in.value = opWrite, *rec.Value
			h.stats.writes++
		case "read":
			in.kind, out.value = opRead, *rec.Output
			h.stats.reads++
		case "cas":
			in.kind, in.value, in.expect = opCas, *rec.Value, *rec.Expect
			if !rec.Unknown {
				out.ok = *rec.Ok
			}
			h.stats.cas++
		}
		ret := int64(math.MaxInt64)
		if !rec.Unknown {
			ret = *rec.ReturnNs
		}
		l, seen := lane[*rec.Client]
		if !seen {
			l = nextLane
			nextLane++
			lane[*rec.Client] = l
		}
		if rec.Unknown {
			h.stats.unknown++
			lane[*rec.Client] = nextLane
			nextLane++
		}
		h.ops = append(h.ops, porcupine.Operation{
			ClientId: l, Input: in, Call: *rec.CallNs, Output: out, Return: ret,
			Metadata: fmt.Sprintf("line %d", lines[i]),
		})
		keys[rec.Key] = true
	}
	for k := range keys {
		h.keys = append(h.keys, k)
	}
	sort.Strings(h.keys)
	return h, nil
}

func validate(rec *record) error {
	need := func(present bool, field string) error {
		if !present {
			return fmt.Errorf("%s: missing %q", rec.Op, field)
		}
		return nil
	}
	if rec.Client == nil {
		return errors.New(`missing "client"`)
	}
	if *rec.Client < 0 {
		return fmt.Errorf(`negative "client" %d`, *rec.Client)
	}
	if rec.Key == "" {
		return errors.New(`missing or empty "key"`)
	}
	if rec.CallNs == nil {
		return errors.New(`missing "call_ns"`)
	}
	if *rec.CallNs == math.MaxInt64 {
		return errors.New(`"call_ns" out of range`)
	}
	if !rec.Unknown {
		if rec.ReturnNs == nil {
			return errors.New(`missing "return_ns" (required unless "unknown" is true)`)
		}
		if *rec.ReturnNs < *rec.CallNs {
			return fmt.Errorf("return_ns %d before call_ns %d", *rec.ReturnNs, *rec.CallNs)
		}
	}
	for _, v := range []*string{rec.Value, rec.Expect, rec.Output} {
		if v != nil && strings.ContainsRune(*v, 0) {
			return errors.New("values may not contain NUL bytes")
		}
	}
	switch rec.Op {
	case "write":
		if err := need(rec.Value != nil, "value"); err != nil {
			return err
		}
		if !rec.Unknown && (rec.Ok == nil || !*rec.Ok) {
			return errors.New(`write: "ok" must be true unless "unknown" (a write known to have failed has no place in the history)`)
		}
	case "read":
		if !rec.Unknown {
			if err := need(rec.Output != nil, "output"); err != nil {
				return err
			}
		}
	case "cas":
		if err := need(rec.Value != nil, "value"); err != nil {
			return err
		}
		if err := need(rec.Expect != nil, "expect"); err != nil {
			return err
		}
		if !rec.Unknown {
			if err := need(rec.Ok != nil, "ok"); err != nil {
				return err
			}
		}
	case "":
		return errors.New(`missing "op"`)
	default:
		return fmt.Errorf(`unknown "op" %q (want write, read or cas)`, rec.Op)
	}
	return nil
}
