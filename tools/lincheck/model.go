package main

// The model: one register per key, initial value "" (absent).
//
// The plain statement of the model (model_test.go holds it, as the reference
// this file is tested against) is: write sets the register, read returns it,
// cas(expect, new) sets it iff it holds expect; an operation of unknown
// outcome has return time +infinity and may or may not take effect. That is
// exact but slow: porcupine's search tells states apart by which operations
// have been linearized, an unknown operation stays pending to the end of the
// history, and so every unknown operation called so far doubles the states
// to explore. A partition leaves hundreds of writes unknown.
//
// So prepare() rewrites the history, and this model reads it, in three ways
// that give the same verdict on every history (model_test.go checks this on
// thousands of random small histories, linearizable and not):
//
//  1. Values that no read returns and no cas expects are all stored as one
//     value, unreadValue. The model only ever compares the register with read
//     outputs and cas expectations, and each of those differs from all such
//     values, so merging them changes no step's outcome.
//
//  2. An unknown write or cas whose value is unread (a "token") can do no more
//     than put unreadValue in the register, which no read and no successful
//     cas accepts: all it can do is explain a cas that failed while the
//     register seemed to hold what that cas expected. Such an operation is
//     linearized at its call as a token kept in the state, to be spent by a
//     failed cas that needs it: that cas sees unreadValue, as if the
//     operation had landed just before it. Landing just before the failed cas
//     that needs it is never worse than landing anywhere else (between two
//     writes, unreadValue only hurts reads and successful cas), so this
//     accepts exactly the histories the plain model does. A token of an
//     unknown cas is kept with the value it expects, and is spent only when
//     the register holds that value. A token no failed cas could spend (none
//     returns after its call, or none expects the value a cas token needs) is
//     dropped altogether.
//
//  3. An unknown write or cas whose value (written by no other operation) is
//     returned by reads or expected by successful cas must take effect before
//     each of them, so its return time becomes the earliest of their return
//     times instead of +infinity.

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"

	"github.com/anishathalye/porcupine"
)

// unreadValue stands for every value that no read returns and no cas expects
// (see 1 above). No recorded value may contain a NUL byte (history.go).
const unreadValue = "\x00unread"

type keyValue struct{ key, value string }

// prepare returns ops rewritten as described at the top of this file.
func prepare(ops []porcupine.Operation) []porcupine.Operation {
	observed := map[keyValue]bool{} // returned by a read or expected by a cas
	writers := map[keyValue]int{}   // number of writes and cas of the value
	mustSee := map[keyValue]int64{} // earliest return of a read or successful cas that saw it
	hasMustSee := map[keyValue]bool{}
	lastFailed := map[string]int64{}     // latest return of a failed cas, by key
	lastFailedOn := map[keyValue]int64{} // the same, by key and expected value
	for _, op := range ops {
		in := op.Input.(input)
		switch in.kind {
		case opRead:
			kv := keyValue{in.key, op.Output.(output).value}
			observed[kv] = true
			if !hasMustSee[kv] || op.Return < mustSee[kv] {
				mustSee[kv], hasMustSee[kv] = op.Return, true
			}
		case opCas:
			kv := keyValue{in.key, in.expect}
			observed[kv] = true
			if !in.unknown && !op.Output.(output).ok {
				if t, ok := lastFailed[in.key]; !ok || op.Return > t {
					lastFailed[in.key] = op.Return
				}
				if t, ok := lastFailedOn[kv]; !ok || op.Return > t {
					lastFailedOn[kv] = op.Return
				}
			}
			if !in.unknown && op.Output.(output).ok && (!hasMustSee[kv] || op.Return < mustSee[kv]) {
				mustSee[kv], hasMustSee[kv] = op.Return, true
			}
			writers[keyValue{in.key, in.value}]++
		case opWrite:
			writers[keyValue{in.key, in.value}]++
		}
	}
	spendable := func(op porcupine.Operation, in input) bool {
		if in.kind == opWrite {
			t, ok := lastFailed[in.key]
			return ok && t >= op.Call
		}
		t, ok := lastFailedOn[keyValue{in.key, in.expect}]
		return ok && t >= op.Call
	}
	out := make([]porcupine.Operation, 0, len(ops))
	for _, op := range ops {
		in := op.Input.(input)
		if in.kind == opRead {
			out = append(out, op)
			continue
		}
		kv := keyValue{in.key, in.value}
		in.effect = in.value
		if !observed[kv] {
			in.effect = unreadValue
		}
		if in.unknown {
			switch {
			case !observed[kv]:
				if !spendable(op, in) {
					continue
				}
				in.token = true
				op.Return = op.Call
			case in.value != "" && writers[kv] == 1 && hasMustSee[kv]:
				// "" is also the initial value, so no write of it is
				// needed to see it.
				op.Return = max64(op.Call, mustSee[kv])
			}
		}
		op.Input = in
		out = append(out, op)
	}
	return out
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// regState is one possible state of a key: the register's value and the
// tokens (see 2 above) not spent yet.
type regState struct {
	value string
	free  int         // tokens of unknown writes: usable whatever the register holds
	cond  []casTokens // tokens of unknown cas, sorted by expect; never modified in place
}

type casTokens struct {
	expect string
	n      int
}

func (s regState) equal(t regState) bool {
	if s.value != t.value || s.free != t.free || len(s.cond) != len(t.cond) {
		return false
	}
	for i := range s.cond {
		if s.cond[i] != t.cond[i] {
			return false
		}
	}
	return true
}

// condCount is how many tokens of unknown cas expecting e the state holds.
func (s regState) condCount(e string) int {
	i := sort.Search(len(s.cond), func(i int) bool { return s.cond[i].expect >= e })
	if i < len(s.cond) && s.cond[i].expect == e {
		return s.cond[i].n
	}
	return 0
}

// withCond returns s.cond with delta more tokens expecting e, as a new slice.
func (s regState) withCond(e string, delta int) []casTokens {
	i := sort.Search(len(s.cond), func(i int) bool { return s.cond[i].expect >= e })
	out := make([]casTokens, 0, len(s.cond)+1)
	out = append(out, s.cond[:i]...)
	rest := s.cond[i:]
	n := delta
	if len(rest) > 0 && rest[0].expect == e {
		n += rest[0].n
		rest = rest[1:]
	}
	if n > 0 {
		out = append(out, casTokens{e, n})
	}
	return append(out, rest...)
}

// step is the model's step from one state; it returns every possible next
// state (none: the operation cannot happen here).
func step(s regState, in input, out output) []regState {
	if in.token {
		if in.kind == opWrite {
			s.free++
		} else {
			s.cond = s.withCond(in.expect, 1)
		}
		return []regState{s}
	}
	set := s
	set.value = in.effect
	switch in.kind {
	case opWrite:
		if in.unknown {
			return []regState{s, set}
		}
		return []regState{set}
	case opRead:
		if s.value == out.value {
			return []regState{s}
		}
		return nil
	case opCas:
		matches := s.value == in.expect
		switch {
		case in.unknown && matches:
			return []regState{s, set}
		case in.unknown:
			return []regState{s}
		case out.ok && matches:
			return []regState{set}
		case out.ok:
			return nil
		case !matches:
			return []regState{s}
		}
		// A failed cas on the value it expects: only an unread value landing
		// just before it explains it.
		var next []regState
		if s.free > 0 {
			next = append(next, regState{value: unreadValue, free: s.free - 1, cond: s.cond})
		}
		if s.condCount(in.expect) > 0 {
			next = append(next, regState{value: unreadValue, free: s.free, cond: s.withCond(in.expect, -1)})
		}
		return next
	}
	panic("unreachable")
}

// dominates: a can do whatever b can (same value, at least as many tokens).
func dominates(a, b regState) bool {
	if a.value != b.value || a.free < b.free || len(a.cond) < len(b.cond) {
		return false
	}
	i := 0 // both cond lists are sorted: walk them together
	for _, tb := range b.cond {
		for i < len(a.cond) && a.cond[i].expect < tb.expect {
			i++
		}
		if i == len(a.cond) || a.cond[i].expect != tb.expect || a.cond[i].n < tb.n {
			return false
		}
	}
	return true
}

// canonical sorts a set of states and drops those another one dominates, so
// that equal sets compare equal.
func canonical(states []regState) []regState {
	var out []regState
	for i, s := range states {
		keep := true
		for j, t := range states {
			if i != j && dominates(t, s) && (!dominates(s, t) || j < i) {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.value != b.value {
			return a.value < b.value
		}
		if a.free != b.free {
			return a.free < b.free
		}
		for k := 0; k < len(a.cond) && k < len(b.cond); k++ {
			if a.cond[k] != b.cond[k] {
				if a.cond[k].expect != b.cond[k].expect {
					return a.cond[k].expect < b.cond[k].expect
				}
				return a.cond[k].n < b.cond[k].n
			}
		}
		return len(a.cond) < len(b.cond)
	})
	return out
}

func quote(v string) string {
	switch v {
	case "":
		return "absent"
	case unreadValue:
		return "(a value never read)"
	}
	return strconv.Quote(v)
}

// registerModel is porcupine's view of one key. Its state is the set of
// possible regStates ([]regState, canonical), so that unknown operations can
// take effect or not.
var registerModel = porcupine.Model{
	Init: func() interface{} { return []regState{{}} },
	Step: func(state, in, out interface{}) (bool, interface{}) {
		var next []regState
		for _, s := range state.([]regState) {
			next = append(next, step(s, in.(input), out.(output))...)
		}
		next = canonical(next)
		return len(next) > 0, next
	},
	Equal: func(a, b interface{}) bool {
		x, y := a.([]regState), b.([]regState)
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if !x[i].equal(y[i]) {
				return false
			}
		}
		return true
	},
	Hash: func(state interface{}) uint64 {
		h := fnv.New64a()
		var buf [8]byte
		for _, s := range state.([]regState) {
			h.Write([]byte(s.value))
			binary.LittleEndian.PutUint64(buf[:], uint64(s.free))
			h.Write(buf[:])
			for _, c := range s.cond {
				h.Write([]byte(c.expect))
				binary.LittleEndian.PutUint64(buf[:], uint64(c.n))
				h.Write(buf[:])
			}
		}
		return h.Sum64()
	},
	DescribeOperation: describeOperation,
	DescribeState: func(state interface{}) string {
		var parts []string
		for _, s := range state.([]regState) {
			d := quote(s.value)
			if s.free > 0 {
				d += fmt.Sprintf(" +%d unknown writes of unread values", s.free)
			}
			for _, c := range s.cond {
				d += fmt.Sprintf(" +%d unknown cas of unread values expecting %s", c.n, quote(c.expect))
			}
			parts = append(parts, d)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	},
	DescribeOperationMetadata: func(m interface{}) string {
		if m == nil {
			return ""
		}
		return m.(string)
	},
}

func describeOperation(in, out interface{}) string {
	i, o := in.(input), out.(output)
	var s string
	switch i.kind {
	case opWrite:
		s = fmt.Sprintf("write(%s)", quote(i.value))
	case opRead:
		s = fmt.Sprintf("read() -> %s", quote(o.value))
	case opCas:
		s = fmt.Sprintf("cas(%s -> %s)", quote(i.expect), quote(i.value))
		if !i.unknown {
			s += map[bool]string{true: " ok", false: " failed"}[o.ok]
		}
	}
	if i.unknown {
		s += " -> ?"
	}
	if i.token {
		s += " (value never read: may land at any later time)"
	}
	return fmt.Sprintf("c%d %s", i.client, s)
}

// byKey splits a history into one sub-history per key, in key order.
func byKey(ops []porcupine.Operation) [][]porcupine.Operation {
	m := map[string][]porcupine.Operation{}
	for _, op := range ops {
		k := op.Input.(input).key
		m[k] = append(m[k], op)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][]porcupine.Operation, 0, len(keys))
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}
