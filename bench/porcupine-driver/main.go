// A tiny driver timing Porcupine on ducktape-effect JSONL op histories (one op per line:
// {"process","f","value","output","invoke","complete","outcome"}). Usage: driver MODEL FILE [REPEAT [TIMEOUT_SECONDS]]
// MODEL: cas-register | kv. Prints one JSON line: {"result":..., "checkMillis":[...]}.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/anishathalye/porcupine"
)

type rawOp struct {
	Process  interface{}     `json:"process"`
	F        string          `json:"f"`
	Value    json.RawMessage `json:"value"`
	Output   json.RawMessage `json:"output"`
	Invoke   int64           `json:"invoke"`
	Complete *int64          `json:"complete"`
	Outcome  string          `json:"outcome"`
}

const nilValue = -1000000

type input struct {
	op   int // 0 read, 1 write, 2 cas
	key  int
	arg1 int
	arg2 int
}

type output struct {
	value   int
	unknown bool
}

func num(r json.RawMessage) int {
	if len(r) == 0 || string(r) == "null" {
		return nilValue
	}
	var f float64
	if err := json.Unmarshal(r, &f); err != nil {
		panic(err)
	}
	return int(f)
}

func pair(r json.RawMessage) []json.RawMessage {
	var a []json.RawMessage
	if err := json.Unmarshal(r, &a); err != nil || len(a) != 2 {
		panic("expected a pair: " + string(r))
	}
	return a
}

func main() {
	modelName, path := os.Args[1], os.Args[2]
	repeat := 1
	if len(os.Args) > 3 {
		repeat, _ = strconv.Atoi(os.Args[3])
	}
	limit := 120
	if len(os.Args) > 4 {
		limit, _ = strconv.Atoi(os.Args[4])
	}
	f, err := os.Open(path)
	if err != nil {
		panic(err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	keyed := modelName == "kv"
	var ops []porcupine.Operation
	for sc.Scan() {
		var r rawOp
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			panic(err)
		}
		if r.Outcome == "fail" {
			continue // definitely did not happen: ducktape drops these too
		}
		in := input{}
		val, out := r.Value, r.Output
		if keyed {
			p := pair(val)
			in.key = num(p[0])
			val = p[1]
			if r.Outcome == "ok" && len(out) > 0 && string(out) != "null" {
				out = pair(out)[1]
			}
		}
		switch r.F {
		case "read":
			in.op = 0
			if r.Outcome == "info" {
				continue // an info read changes nothing
			}
		case "write":
			in.op = 1
			in.arg1 = num(val)
		case "cas":
			in.op = 2
			p := pair(val)
			in.arg1, in.arg2 = num(p[0]), num(p[1])
		}
		o := output{}
		ret := int64(math.MaxInt64)
		if r.Outcome == "info" {
			o.unknown = true
		} else {
			if in.op == 0 {
				o.value = num(out)
			}
			ret = *r.Complete
		}
		proc := 0
		if p, ok := r.Process.(float64); ok {
			proc = int(p)
		}
		ops = append(ops, porcupine.Operation{ClientId: proc, Input: in, Call: r.Invoke, Output: o, Return: ret})
	}
	model := porcupine.Model{
		Init: func() interface{} { return nilValue },
		Step: func(state, in, out interface{}) (bool, interface{}) {
			st := state.(int)
			i := in.(input)
			o := out.(output)
			switch i.op {
			case 0:
				return o.unknown || o.value == st, st
			case 1:
				return true, i.arg1
			default:
				if i.arg1 == st {
					return true, i.arg2
				}
				return o.unknown, st // an info cas that did not swap
			}
		},
		Equal: func(a, b interface{}) bool { return a.(int) == b.(int) },
		Hash:  func(s interface{}) uint64 { return uint64(s.(int)) * 0x9e3779b97f4a7c15 },
	}
	if keyed {
		model.Partition = func(h []porcupine.Operation) [][]porcupine.Operation {
			m := map[int][]porcupine.Operation{}
			var keys []int
			for _, op := range h {
				k := op.Input.(input).key
				if _, ok := m[k]; !ok {
					keys = append(keys, k)
				}
				m[k] = append(m[k], op)
			}
			var out [][]porcupine.Operation
			for _, k := range keys {
				out = append(out, m[k])
			}
			return out
		}
	}
	var times, cpus []float64
	var result porcupine.CheckResult
	cpu := func() float64 {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
	}
	for i := 0; i < repeat; i++ {
		c0 := cpu()
		t0 := time.Now()
		result = porcupine.CheckOperationsTimeout(model, ops, time.Duration(limit)*time.Second)
		times = append(times, float64(time.Since(t0).Microseconds())/1000)
		cpus = append(cpus, cpu()-c0)
	}
	j, _ := json.Marshal(map[string]interface{}{"result": result, "checkMillis": times, "cpuMillis": cpus, "ops": len(ops)})
	fmt.Println(string(j))
}
