package emulator

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// The X-Amz-Target prefixes of the two JSON services.
const (
	dynamoDBTarget = "DynamoDB_20120810."
	streamsTarget  = "DynamoDBStreams_20120810."
	maxRequestBody = 32 << 20
)

// Server is the emulator: an http.Handler serving DynamoDB, DynamoDB Streams
// and S3, plus the control methods a test uses to play AWS's part (clock,
// shards, TTL, faults). Create it with [New], listen with [Server.Start] (or
// mount it as a handler), stop with [Server.Close]. Safe for concurrent use.
type Server struct {
	cfg       config
	clock     *Clock
	faults    *faults
	s3        http.Handler
	s3backend *s3mem.Backend
	nonce     [8]byte // ties iterators to this server
	reserved  map[string]bool

	httpMu  sync.Mutex
	httpSrv *httptest.Server

	// mu guards everything below: tables, streams, exports and rng. Items
	// and encoded stream records are immutable once stored, so they may be
	// used after mu is released.
	mu          sync.Mutex
	tables      map[string]*table
	streams     []*stream
	streamByArn map[string]*stream
	exports     map[string]*export
	rng         *mrand.Rand
	eventSeq    uint64
	// iterators counts the shard iterators handed out; each carries its
	// serial number. Those below expiredBelow are expired
	// ([Server.ExpireIterators]).
	iterators    uint64
	expiredBelow uint64
	// backdate is how much earlier than its write the stream records
	// appended now are dated ([Server.BackdateRecords]).
	backdate time.Duration
	// recordScratch is where a stream record is built before it is kept.
	recordScratch []byte
}

// New returns a server that is not yet listening.
func New(opts ...Option) (*Server, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o.apply(&cfg); err != nil {
			return nil, fmt.Errorf("configuring emulator: %w", err)
		}
	}
	backend := s3mem.New()
	s := &Server{
		cfg:         cfg,
		clock:       NewClock(cfg.start),
		faults:      newFaults(cfg.seed),
		s3backend:   backend,
		s3:          gofakes3.New(backend, gofakes3.WithAutoBucket(false)).Server(),
		tables:      make(map[string]*table),
		streamByArn: make(map[string]*stream),
		exports:     make(map[string]*export),
		rng:         mrand.New(mrand.NewPCG(cfg.seed, 0x5eed)),
		reserved:    newReservedWords(),
	}
	if _, err := rand.Read(s.nonce[:]); err != nil {
		return nil, fmt.Errorf("configuring emulator: %w", err)
	}
	return s, nil
}

// Start starts listening on a local port (see [Server.URL]). It is an error
// to start a server twice.
func (s *Server) Start() error {
	s.httpMu.Lock()
	defer s.httpMu.Unlock()
	if s.httpSrv != nil {
		return errors.New("starting emulator: already started")
	}
	s.httpSrv = httptest.NewServer(s)
	return nil
}

// URL is the base URL to point every client at ("" before Start).
func (s *Server) URL() string {
	s.httpMu.Lock()
	defer s.httpMu.Unlock()
	if s.httpSrv == nil {
		return ""
	}
	return s.httpSrv.URL
}

// Close stops listening and waits for requests in flight.
func (s *Server) Close() {
	s.httpMu.Lock()
	defer s.httpMu.Unlock()
	if s.httpSrv != nil {
		s.httpSrv.Close()
	}
}

// Clock is the server's fake clock.
func (s *Server) Clock() *Clock { return s.clock }

// Region is the region the server claims to be in.
func (s *Server) Region() string { return s.cfg.region }

// ServeHTTP routes a request by its X-Amz-Target header: DynamoDB and
// DynamoDB Streams JSON calls to the emulator, anything else to S3.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	if target == "" {
		s.s3.ServeHTTP(w, r)
		return
	}
	var op string
	var handler func(op string, body []byte, fault FaultKind) ([]byte, error)
	switch {
	case strings.HasPrefix(target, dynamoDBTarget):
		op, handler = strings.TrimPrefix(target, dynamoDBTarget), s.dynamoDB
	case strings.HasPrefix(target, streamsTarget):
		op, handler = strings.TrimPrefix(target, streamsTarget), s.dynamoDBStreams
	default:
		writeError(w, errUnknownOperation(target))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		writeError(w, errValidation("reading request: %v", err))
		return
	}
	fault := s.faults.take(op)
	if ferr := fault.apiError(op); ferr != nil {
		writeError(w, ferr)
		return
	}
	out, err := handler(op, body, fault)
	if err != nil {
		writeError(w, err)
		return
	}
	writeResponse(w, http.StatusOK, out)
	if op == "GetRecords" { // its own buffer (other answers may share the server's memory)
		releaseResponse(out)
	}
}

// responses are the buffers GetRecords answers are assembled in, reused
// once written: a fresh megabyte for every page made the emulator's cost,
// which a benchmark of follow measures beside ddbsync's, mostly the kernel
// mapping new memory.
var responses sync.Pool

// maxPooledResponse bounds the buffers kept for reuse (a page is at most
// 1 MB of records).
const maxPooledResponse = 4 << 20

// responseBuffer returns an empty buffer with room for n bytes.
func responseBuffer(n int) []byte {
	if b, ok := responses.Get().(*[]byte); ok && cap(*b) >= n {
		return (*b)[:0]
	}
	return make([]byte, 0, n)
}

// releaseResponse keeps a written GetRecords answer's buffer for reuse.
func releaseResponse(b []byte) {
	if cap(b) > 0 && cap(b) <= maxPooledResponse {
		responses.Put(&b)
	}
}

func writeResponse(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	// The DynamoDB client checks this CRC32 of the body when present.
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	h.Set("X-Amzn-Requestid", "emulator")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = errInternal("%v", err)
	}
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(map[string]string{
		"__type":  errorNamespace + ae.code,
		"message": ae.message,
	})
	writeResponse(w, ae.status, bytes.TrimSpace(b.Bytes()))
}

// decodeRequest unmarshals a JSON request body into v.
func decodeRequest(body []byte, v any) error {
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errValidation("malformed request: %v", err)
	}
	return nil
}

// encodeResponse marshals a response struct.
func encodeResponse(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, errInternal("encoding response: %v", err)
	}
	return b, nil
}
