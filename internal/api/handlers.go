package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	flog "github.com/transparency-dev/formats/log"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/internal/attest"
	"github.com/stellaops/stellad/kit/dsse"
)

// readBody reads a JSON body of at most MaxBodyBytes.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, &apiError{status: http.StatusUnsupportedMediaType, code: apitype.CodeUnsupportedMedia,
				msg: fmt.Sprintf("Content-Type %q: want application/json", ct)}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: apitype.CodePayloadTooLarge,
				msg: fmt.Sprintf("request body is over %d bytes", mbe.Limit)}
		}
		return nil, badRequest("reading request body: " + err.Error())
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest("request body is empty")
	}
	return body, nil
}

// writeRequestBody admits a request that writes (sign or log) and reads its
// body: while stellad starts or stops, such requests get 503.
func (s *Server) writeRequestBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if !s.cfg.Ready() {
		return nil, &apiError{status: http.StatusServiceUnavailable, code: apitype.CodeUnavailable, msg: "stellad is not ready"}
	}
	return s.readBody(w, r)
}

// decodeStrict decodes one JSON object, refusing unknown fields and trailing data.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("decoding request: " + err.Error())
	}
	if dec.More() {
		return badRequest("decoding request: trailing data after the JSON object")
	}
	return nil
}

func (s *Server) handleSign(w http.ResponseWriter, r *http.Request) {
	call, ok := s.authenticate(w, r, needSign, "sign")
	if !ok {
		return
	}
	body, err := s.writeRequestBody(w, r)
	if err != nil {
		s.refused(w, r, call, "sign", err)
		return
	}
	req, keyless, err := decodeSignRequest(body)
	if err != nil {
		s.fail(w, r, s.cfg.Attest.Refuse(r.Context(), call, "sign", err))
		return
	}
	sign := s.cfg.Attest.Sign
	if keyless {
		sign = s.cfg.Attest.SignKeyless
	}
	is, err := sign(r.Context(), call, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("X-Stellad-Entry-Uuid", is.UUID)
	w.Header().Set("X-Stellad-Log-Index", strconv.FormatUint(is.Index, 10))
	if wantsBundle(r) {
		w.Header().Set("Content-Type", apitype.MediaTypeBundle)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(is.Bundle)
		return
	}
	// Written by hand: encoding/json would re-validate and compact the bundle,
	// which kit/bundle already wrote as compact JSON (a measurable cost at
	// thousands of requests a second). The shape is apitype.SignResponse.
	buf := make([]byte, 0, len(is.Bundle)+128)
	buf = append(buf, `{"uuid":"`...)
	buf = append(buf, is.UUID...) // 64 hex digits: nothing to escape
	buf = append(buf, `","logIndex":`...)
	buf = strconv.AppendUint(buf, is.Index, 10)
	buf = append(buf, `,"bundle":`...)
	buf = append(buf, is.Bundle...)
	buf = append(buf, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(buf)
}

// decodeSignRequest decodes the body of a sign request (apitype.SignRequest,
// unknown fields refused) and reports whether it asks for a keyless
// signature. The statement itself is validated by attest.
func decodeSignRequest(body []byte) (attest.SignRequest, bool, error) {
	var req apitype.SignRequest
	if err := decodeStrict(body, &req); err != nil {
		return attest.SignRequest{}, false, err
	}
	subjects := make([]dsse.ResourceDescriptor, len(req.Subjects))
	for i, sb := range req.Subjects {
		subjects[i] = dsse.ResourceDescriptor{Name: sb.Name, Digest: sb.Digest}
	}
	return attest.SignRequest{
		Statement:     req.Statement,
		Subjects:      subjects,
		PredicateType: req.PredicateType,
		Predicate:     req.Predicate,
		ScannerDigest: req.ScannerDigest,
		Tenant:        req.Tenant,
	}, req.Keyless, nil
}

func wantsBundle(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mt == apitype.MediaTypeBundle {
			return true
		}
	}
	return false
}

func (s *Server) handleSubmit(w http.ResponseWriter, r *http.Request) {
	call, ok := s.authenticate(w, r, needWrite, "submit")
	if !ok {
		return
	}
	body, err := s.writeRequestBody(w, r)
	if err != nil {
		s.refused(w, r, call, "submit", err)
		return
	}
	issued, err := s.cfg.Attest.Submit(r.Context(), call, body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	resp := apitype.EntryResponse{}
	for i, is := range issued {
		e, err := s.cfg.Attest.EntryFor(r.Context(), call, is.UUID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		er := entryResponse(e)
		if i == 0 {
			resp = er
		}
		if len(issued) > 1 {
			resp.Entries = append(resp.Entries, er)
		}
	}
	writeJSON(w, http.StatusCreated, resp)
}

func entryResponse(e *attest.Entry) apitype.EntryResponse {
	return apitype.EntryResponse{
		UUID:  e.UUID,
		Index: e.Index,
		Proof: apitype.InclusionProof{
			LogIndex:   e.Proof.Index,
			TreeSize:   e.Proof.TreeSize,
			RootHash:   e.Proof.RootHash,
			Hashes:     e.Proof.Hashes,
			Checkpoint: string(e.Proof.Checkpoint),
		},
		Bundle: e.Bundle,
	}
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	call, ok := s.authenticate(w, r, needVerify, "fetch")
	if !ok {
		return
	}
	e, err := s.cfg.Attest.Get(r.Context(), call, r.PathValue("uuid"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, entryResponse(e))
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	call, ok := s.authenticate(w, r, needVerify, "list")
	if !ok {
		return
	}
	q := r.URL.Query()
	var lq attest.ListQuery
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			s.refused(w, r, call, "list", badRequest(fmt.Sprintf("after=%q is not a log index", v)))
			return
		}
		lq.After = &n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.refused(w, r, call, "list", badRequest(fmt.Sprintf("limit=%q is not a positive number", v)))
			return
		}
		lq.Limit = n
	}
	lq.PredicateType = q.Get("predicateType")
	lq.SubjectDigest = q.Get("subject")
	lq.Tenant = q.Get("tenant")
	rows, more, err := s.cfg.Attest.List(r.Context(), call, lq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := apitype.EntryList{Entries: make([]apitype.EntrySummary, 0, len(rows))}
	for _, row := range rows {
		es := apitype.EntrySummary{
			UUID: row.UUID, Index: row.Index, EnvelopeSHA256: row.EnvelopeSHA256, PredicateType: row.PredicateType,
			Tenant: row.Tenant, KeyID: row.KeyID, CreatedAt: row.CreatedAt, Subjects: []apitype.Subject{},
		}
		for _, sb := range row.Subjects {
			n := len(es.Subjects)
			if n > 0 && es.Subjects[n-1].Name == sb.Name {
				es.Subjects[n-1].Digest[sb.Algorithm] = sb.Digest
				continue
			}
			es.Subjects = append(es.Subjects, apitype.Subject{Name: sb.Name, Digest: map[string]string{sb.Algorithm: sb.Digest}})
		}
		out.Entries = append(out.Entries, es)
	}
	if more && len(rows) > 0 {
		next := rows[len(rows)-1].Index
		out.Next = &next
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleLogStatus(w http.ResponseWriter, r *http.Request) {
	cp, err := s.cfg.Log.Checkpoint(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("%w: reading checkpoint: %v", attest.ErrUnavailable, err))
		return
	}
	text, _, _ := strings.Cut(string(cp), "\n\n")
	var c flog.Checkpoint
	if _, err := c.Unmarshal([]byte(text + "\n")); err != nil {
		s.fail(w, r, fmt.Errorf("parsing the log's checkpoint: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, apitype.LogStatus{
		Origin: c.Origin, TreeSize: c.Size, RootHash: c.Hash, Checkpoint: string(cp),
		LogKeyID: s.cfg.LogKeyID, BaseURL: s.cfg.BaseURL,
	})
}

func (s *Server) handleConsistency(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, err1 := strconv.ParseUint(q.Get("from"), 10, 64)
	to, err2 := strconv.ParseUint(q.Get("to"), 10, 64)
	if err1 != nil || err2 != nil || from > to {
		s.fail(w, r, badRequest(fmt.Sprintf("from=%q to=%q: want two tree sizes with from <= to", q.Get("from"), q.Get("to"))))
		return
	}
	hs, err := s.cfg.Log.ConsistencyProof(r.Context(), from, to)
	if err != nil {
		s.fail(w, r, err) // a size beyond the log is not_found; anything else is the server's
		return
	}
	if hs == nil {
		hs = [][]byte{}
	}
	writeJSON(w, http.StatusOK, apitype.ConsistencyProof{From: from, To: to, Hashes: hs})
}

func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, apitype.KeyList{Keys: s.cfg.Keys})
}

func (s *Server) handleTrustRoot(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.cfg.TrustedRoot)
}

func (s *Server) handleSystem(w http.ResponseWriter, r *http.Request) {
	if s.cfg.System == nil {
		s.fail(w, r, &apiError{status: http.StatusNotFound, code: apitype.CodeNotFound, msg: "system status is not enabled"})
		return
	}
	writeJSON(w, http.StatusOK, s.cfg.System())
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.Ready() {
		writeText(w, http.StatusServiceUnavailable, "not ready\n")
		return
	}
	writeText(w, http.StatusOK, "ok\n")
}
