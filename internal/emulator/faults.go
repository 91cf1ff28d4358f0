package emulator

import (
	mrand "math/rand/v2"
	"net/http"
	"sync"
)

// FaultKind is an error the emulator can inject in place of a response.
type FaultKind int

// The injectable faults.
const (
	// FaultNone is no fault.
	FaultNone FaultKind = iota
	// FaultThrottle answers LimitExceededException (HTTP 400), the Streams
	// throttle; the SDK retries it by default.
	FaultThrottle
	// FaultProvisionedThroughput answers
	// ProvisionedThroughputExceededException (HTTP 400).
	FaultProvisionedThroughput
	// FaultInternal answers InternalServerError (HTTP 500); the SDK
	// retries it by default.
	FaultInternal
	// FaultEmptyPage makes GetRecords return no records and a next
	// iterator at the same position, as AWS may at any time. It applies to
	// GetRecords only.
	FaultEmptyPage
)

func (k FaultKind) String() string {
	switch k {
	case FaultThrottle:
		return "LimitExceededException"
	case FaultProvisionedThroughput:
		return "ProvisionedThroughputExceededException"
	case FaultInternal:
		return "InternalServerError"
	case FaultEmptyPage:
		return "EmptyPage"
	}
	return "None"
}

// apiError is the error a fault answers with, or nil for none and for
// empty pages (which the GetRecords handler produces).
func (k FaultKind) apiError(op string) *apiError {
	switch k {
	case FaultThrottle:
		return newAPIError(http.StatusBadRequest, "LimitExceededException", "injected fault: rate of requests exceeds the allowed throughput (%s)", op)
	case FaultProvisionedThroughput:
		return newAPIError(http.StatusBadRequest, "ProvisionedThroughputExceededException", "injected fault: the level of configured provisioned throughput for the table was exceeded (%s)", op)
	case FaultInternal:
		return errInternal("injected fault: internal server error (%s)", op)
	}
	return nil
}

// AnyOperation makes a fault rule apply to every DynamoDB and Streams
// operation.
const AnyOperation = "*"

type faultRule struct {
	kind      FaultKind
	remaining int     // > 0: fire for this many more calls
	rate      float64 // otherwise: fire with this probability
}

// faults holds the injection rules and counts calls per operation.
type faults struct {
	// mu guards everything below.
	mu    sync.Mutex
	rules map[string][]*faultRule
	calls map[string]int
	rng   *mrand.Rand
}

func newFaults(seed uint64) *faults {
	return &faults{
		rules: make(map[string][]*faultRule),
		calls: make(map[string]int),
		rng:   mrand.New(mrand.NewPCG(seed, 0xfa17)),
	}
}

// take counts a call to op and returns the fault to inject, if any. Rules
// for op come before rules for [AnyOperation]; count rules before rates.
func (f *faults) take(op string) FaultKind {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	for _, key := range []string{op, AnyOperation} {
		rules := f.rules[key]
		for i, r := range rules {
			if r.kind == FaultEmptyPage && op != "GetRecords" {
				continue
			}
			if r.remaining > 0 {
				r.remaining--
				if r.remaining == 0 {
					f.rules[key] = append(rules[:i:i], rules[i+1:]...)
				}
				return r.kind
			}
		}
		for _, r := range rules {
			if r.kind == FaultEmptyPage && op != "GetRecords" {
				continue
			}
			if r.remaining == 0 && r.rate > 0 && f.rng.Float64() < r.rate {
				return r.kind
			}
		}
	}
	return FaultNone
}

// FailNext makes the next n calls of op (an operation name such as
// "GetRecords" or "PutItem", or [AnyOperation]) fail with kind.
func (s *Server) FailNext(op string, kind FaultKind, n int) {
	if n <= 0 || kind == FaultNone {
		return
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.rules[op] = append(s.faults.rules[op], &faultRule{kind: kind, remaining: n})
}

// FailRate makes each call of op fail with kind with probability rate
// (0..1), until [Server.ClearFaults]. Draws come from the seeded generator
// (see [WithSeed]).
func (s *Server) FailRate(op string, kind FaultKind, rate float64) {
	if rate <= 0 || kind == FaultNone {
		return
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.rules[op] = append(s.faults.rules[op], &faultRule{kind: kind, rate: min(rate, 1)})
}

// ClearFaults removes every fault rule.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	clear(s.faults.rules)
}

// Calls reports how many requests op has received, faulted ones included.
func (s *Server) Calls(op string) int {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return s.faults.calls[op]
}
