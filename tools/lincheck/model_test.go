package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// referenceModel is the model as the task states it, with none of model.go's
// rewriting: a register per key, unknown operations pending until +infinity
// and free to take effect or not. The checker must agree with it everywhere.
var referenceModel = (&porcupine.NondeterministicModel{
	Partition: byKey,
	Init:      func() []interface{} { return []interface{}{""} },
	Step: func(state, in, out interface{}) []interface{} {
		cur, i, o := state.(string), in.(input), out.(output)
		switch i.kind {
		case opWrite:
			if i.unknown {
				return []interface{}{cur, i.value}
			}
			return []interface{}{i.value}
		case opRead:
			if o.value == cur {
				return []interface{}{cur}
			}
			return nil
		}
		matches := cur == i.expect
		switch {
		case i.unknown && matches:
			return []interface{}{cur, i.value}
		case i.unknown:
			return []interface{}{cur}
		case o.ok && matches:
			return []interface{}{i.value}
		case !o.ok && !matches:
			return []interface{}{cur}
		}
		return nil
	},
}).ToModel()

func parseOps(t *testing.T, ops []op) []porcupine.Operation {
	t.Helper()
	var b bytes.Buffer
	for _, o := range ops {
		line, _ := json.Marshal(o)
		b.Write(line)
		b.WriteByte('\n')
	}
	h, err := parseHistory(&b)
	if err != nil {
		t.Fatal(err)
	}
	return h.ops
}

func optimizedVerdict(ops []porcupine.Operation) porcupine.CheckResult {
	m := registerModel
	m.Partition = byKey
	return porcupine.CheckOperationsTimeout(m, prepare(ops), 0)
}

// randomHistory is a small history of arbitrary operations on one or two keys,
// most of them not linearizable: reads and cas expectations pick among the
// values written (and ""), and some writes repeat a value.
func randomHistory(rng *rand.Rand) []op {
	n := 1 + rng.Intn(9)
	keys := []string{"k", "j"}[:1+rng.Intn(2)]
	var written []string
	var ops []op
	for i := 0; i < n; i++ {
		key := keys[rng.Intn(len(keys))]
		call := int64(rng.Intn(30))
		ret := call + int64(rng.Intn(12))
		pick := func() string {
			if len(written) == 0 || rng.Intn(4) == 0 {
				return ""
			}
			return written[rng.Intn(len(written))]
		}
		unknown := rng.Intn(3) == 0
		value := fmt.Sprintf("v%d", i)
		if rng.Intn(5) == 0 {
			value = pick() // the recorder's values are unique; the model does not need them to be
		}
		switch rng.Intn(3) {
		case 0:
			o := write(i, key, value, call, ret)
			o.Unknown = unknown
			ops = append(ops, o)
			written = append(written, value)
		case 1:
			ops = append(ops, read(i, key, pick(), call, ret))
		case 2:
			o := cas(i, key, pick(), value, rng.Intn(2) == 0, call, ret)
			if unknown {
				o.Unknown, o.Ok = true, false
			}
			ops = append(ops, o)
			written = append(written, value)
		}
	}
	return ops
}

// casHeavyHistory is a small history of mostly cas on one key, expecting one
// of two values, many of unknown outcome, and "v0" written again and again:
// it drives the tokens of model.go (several per expected value, spent by
// failed cas) much more often than randomHistory does.
func casHeavyHistory(rng *rand.Rand) []op {
	n := 3 + rng.Intn(8)
	expects := []string{"", "v0"}
	ops := []op{write(0, "k", "v0", 0, int64(rng.Intn(10)))}
	for i := 1; i < n; i++ {
		call := int64(rng.Intn(30))
		ret := call + int64(rng.Intn(12))
		value := fmt.Sprintf("v%d", i)
		if rng.Intn(3) == 0 {
			value = "v0" // so that the register can hold an expected value again
		}
		switch rng.Intn(6) {
		case 0:
			o := write(i, "k", value, call, ret)
			o.Unknown = rng.Intn(2) == 0
			ops = append(ops, o)
		case 1:
			ops = append(ops, read(i, "k", expects[rng.Intn(2)], call, ret))
		default:
			o := cas(i, "k", expects[rng.Intn(2)], value, rng.Intn(3) == 0, call, ret)
			if rng.Intn(2) == 0 {
				o.Unknown, o.Ok = true, false
			}
			ops = append(ops, o)
		}
	}
	return ops
}

// corrupt changes one recorded outcome of a (usually linearizable) history.
func corrupt(rng *rand.Rand, ops []op) {
	var values []string
	for _, o := range ops {
		if o.Value != nil {
			values = append(values, *o.Value)
		}
	}
	i := rng.Intn(len(ops))
	o := &ops[i]
	switch {
	case o.Op == "read" && len(values) > 0:
		o.Output = str(values[rng.Intn(len(values))])
	case o.Op == "cas" && !o.Unknown:
		o.Ok = !o.Ok
	case o.Unknown:
		o.Unknown, o.Ok = false, o.Op == "write" || rng.Intn(2) == 0
	default:
		o.Unknown, o.Ok = true, false
	}
}

// The rewriting in model.go must never change a verdict: compare with the
// reference model on many small histories, linearizable and not, with many
// unknown operations and failed cas.
func TestOptimizedModelAgreesWithReference(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("LINCHECK_TEST_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (replay with LINCHECK_TEST_SEED)", seed)
	rng := rand.New(rand.NewSource(seed))
	verdicts := map[porcupine.CheckResult]int{}
	compare := func(name string, ops []op) {
		t.Helper()
		parsed := parseOps(t, ops)
		want := porcupine.CheckOperationsTimeout(referenceModel, parsed, 0)
		got := optimizedVerdict(parsed)
		verdicts[want]++
		if got != want {
			var b bytes.Buffer
			for _, o := range ops {
				line, _ := json.Marshal(o)
				b.Write(line)
				b.WriteByte('\n')
			}
			t.Fatalf("%s: checker says %s, reference says %s, on:\n%s", name, got, want, b.String())
		}
	}
	for i := 0; i < 10000; i++ {
		compare("random", randomHistory(rng))
		compare("cas-heavy", casHeavyHistory(rng))
	}
	for i := 0; i < 300; i++ {
		lossOneIn := []int{2, 4, 20}[i%3]
		ops := simulateRegister(rng.Int63(), 2+rng.Intn(3), 3+rng.Intn(4), []string{"k"}, lossOneIn, 0)
		compare("simulated", ops)
		corrupt(rng, ops)
		compare("simulated, corrupted", ops)
	}
	t.Logf("reference verdicts: %v", verdicts)
	if verdicts[porcupine.Ok] < 1000 || verdicts[porcupine.Illegal] < 1000 {
		t.Fatalf("too few of one verdict to compare: %v", verdicts)
	}
}

func TestTokenBookkeeping(t *testing.T) {
	s := regState{value: "a"}
	s.cond = s.withCond("x", 1)
	s.cond = s.withCond("", 2)
	s.cond = s.withCond("x", 1)
	if want := []casTokens{{"", 2}, {"x", 2}}; fmt.Sprint(s.cond) != fmt.Sprint(want) {
		t.Fatalf("cond %v, want %v", s.cond, want)
	}
	spent := regState{value: "a", cond: s.withCond("x", -2)}
	if spent.condCount("x") != 0 || spent.condCount("") != 2 || len(spent.cond) != 1 {
		t.Fatalf("after spending: %v", spent.cond)
	}
	if s.condCount("x") != 2 {
		t.Fatalf("withCond modified its receiver: %v", s.cond)
	}

	more := regState{value: "a", free: 2, cond: []casTokens{{"", 2}, {"x", 2}}}
	fewer := regState{value: "a", free: 1, cond: []casTokens{{"x", 1}}}
	other := regState{value: "b", free: 5, cond: more.cond}
	if !dominates(more, fewer) || dominates(fewer, more) || dominates(other, fewer) {
		t.Fatal("dominates: wrong on free tokens or values")
	}
	if dominates(regState{value: "a", free: 9, cond: []casTokens{{"x", 1}}}, regState{value: "a", cond: []casTokens{{"x", 2}}}) {
		t.Fatal("dominates: fewer cas tokens of one value cannot dominate")
	}
	if dominates(regState{value: "a", cond: []casTokens{{"y", 3}}}, regState{value: "a", cond: []casTokens{{"x", 1}}}) {
		t.Fatal("dominates: cas tokens of another value cannot dominate")
	}
	got := canonical([]regState{fewer, other, more, fewer})
	if len(got) != 2 || !got[0].equal(more) || !got[1].equal(other) {
		t.Fatalf("canonical: %v", got)
	}
	// Incomparable states are all kept.
	a := regState{value: "a", free: 1}
	b := regState{value: "a", cond: []casTokens{{"x", 1}}}
	if got := canonical([]regState{b, a}); len(got) != 2 {
		t.Fatalf("canonical dropped an incomparable state: %v", got)
	}
}
