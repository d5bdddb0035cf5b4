package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/stellaops/stellad/internal/apitype"
)

// MaxResponseSize bounds every response body the client reads (64 MiB: a bundle
// of a large SBOM fits, a runaway answer does not).
const MaxResponseSize = 64 << 20

// maxErrorBody bounds how much of a non-JSON error body is kept in an APIError.
const maxErrorBody = 512

// ErrUnreachable is wrapped by every error of a request that got no HTTP answer:
// connection refused, DNS failure, TLS failure, timeout, a reset connection.
var ErrUnreachable = errors.New("stellad unreachable")

// ErrResponseTooLarge is wrapped when a response body exceeds MaxResponseSize.
var ErrResponseTooLarge = errors.New("response too large")

// APIError is an error answer of the daemon (any status outside 2xx).
type APIError struct {
	Status    int    // HTTP status code
	Code      string // stable error code (apitype.Code*), empty if the body was not an apitype.Error
	Message   string // the daemon's message, or the start of a non-JSON body
	RequestID string // the daemon's request id, for its logs
	URL       string // the URL requested
}

// Error names the status, the code, the message and the request id.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stellad answered %d", e.Status)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request id %s)", e.RequestID)
	}
	if e.URL != "" {
		fmt.Fprintf(&b, " [%s]", e.URL)
	}
	return b.String()
}

// Client talks to one stellad. The zero value is not usable; call New.
type Client struct {
	base *url.URL
	hc   *http.Client
}

// New returns a client of the daemon at baseURL (http or https, optionally with
// a path prefix). hc nil means a new http.Client with default settings; timeouts
// belong on hc or on the contexts passed to each call.
func New(baseURL string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("parsing server URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("server URL %q: scheme must be http or https", baseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("server URL %q has no host", baseURL)
	}
	if hc == nil {
		hc = &http.Client{}
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return &Client{base: u, hc: hc}, nil
}

// BaseURL returns the server URL the client talks to.
func (c *Client) BaseURL() string { return c.base.String() }

// Sign asks the daemon to sign a statement (POST /api/v1/signer/sign/dsse).
func (c *Client) Sign(ctx context.Context, req apitype.SignRequest) (*apitype.SignResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encoding sign request: %w", err)
	}
	var out apitype.SignResponse
	if err := c.doJSON(ctx, http.MethodPost, "/api/v1/signer/sign/dsse", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SubmitEntry submits a signed DSSE envelope (JSON, sent verbatim) for logging
// (POST /api/v1/rekor/entries).
func (c *Client) SubmitEntry(ctx context.Context, envelope []byte) (*apitype.EntryResponse, error) {
	var out apitype.EntryResponse
	if err := c.doJSON(ctx, http.MethodPost, "/api/v1/rekor/entries", nil, envelope, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetEntry fetches one entry with its proof and bundle (GET /api/v1/rekor/entries/{uuid}).
func (c *Client) GetEntry(ctx context.Context, uuid string) (*apitype.EntryResponse, error) {
	if uuid == "" {
		return nil, errors.New("getting entry: empty uuid")
	}
	var out apitype.EntryResponse
	if err := c.doJSON(ctx, http.MethodGet, "/api/v1/rekor/entries/"+url.PathEscape(uuid), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListOptions filters and pages GET /api/v1/rekor/entries. Zero values are omitted.
type ListOptions struct {
	After         *uint64 // the Next value of the previous page
	Limit         int
	PredicateType string
	Subject       string // sha256:HEX
}

// ListEntries lists entries, one page per call (GET /api/v1/rekor/entries).
func (c *Client) ListEntries(ctx context.Context, opts ListOptions) (*apitype.EntryList, error) {
	q := url.Values{}
	if opts.After != nil {
		q.Set("after", strconv.FormatUint(*opts.After, 10))
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.PredicateType != "" {
		q.Set("predicateType", opts.PredicateType)
	}
	if opts.Subject != "" {
		q.Set("subject", opts.Subject)
	}
	var out apitype.EntryList
	if err := c.doJSON(ctx, http.MethodGet, "/api/v1/rekor/entries", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// LogStatus returns the log's latest checkpoint and figures (GET /api/v1/log/status).
func (c *Client) LogStatus(ctx context.Context) (*apitype.LogStatus, error) {
	var out apitype.LogStatus
	if err := c.doJSON(ctx, http.MethodGet, "/api/v1/log/status", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ConsistencyProof returns the proof that the tree of size from is a prefix of
// the tree of size to (GET /api/v1/log/proof/consistency).
func (c *Client) ConsistencyProof(ctx context.Context, from, to uint64) (*apitype.ConsistencyProof, error) {
	q := url.Values{"from": {strconv.FormatUint(from, 10)}, "to": {strconv.FormatUint(to, 10)}}
	var out apitype.ConsistencyProof
	if err := c.doJSON(ctx, http.MethodGet, "/api/v1/log/proof/consistency", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Keys lists the daemon's keys (GET /api/v1/keys).
func (c *Client) Keys(ctx context.Context) (*apitype.KeyList, error) {
	var out apitype.KeyList
	if err := c.doJSON(ctx, http.MethodGet, "/api/v1/keys", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TrustedRoot returns the daemon's trusted_root.json verbatim (GET /api/v1/trust/root).
func (c *Client) TrustedRoot(ctx context.Context) ([]byte, error) {
	return c.jsonDocument(ctx, "/api/v1/trust/root", "trusted root")
}

// SigningConfig returns the daemon's Sigstore signing config verbatim
// (GET /api/v1/trust/signing-config).
func (c *Client) SigningConfig(ctx context.Context) ([]byte, error) {
	return c.jsonDocument(ctx, "/api/v1/trust/signing-config", "signing config")
}

func (c *Client) jsonDocument(ctx context.Context, path, what string) ([]byte, error) {
	b, err := c.do(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return nil, err
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("GET %s: the %s is not JSON", c.url(path, nil), what)
	}
	return b, nil
}

// System returns the daemon's process figures (GET /api/v1/system).
func (c *Client) System(ctx context.Context) (*apitype.SystemStatus, error) {
	var out apitype.SystemStatus
	if err := c.doJSON(ctx, http.MethodGet, "/api/v1/system", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Healthz returns nil when the daemon answers GET /healthz with 200.
func (c *Client) Healthz(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodGet, "/healthz", nil, nil)
	return err
}

// url joins the base URL and an already escaped path and query.
func (c *Client) url(path string, q url.Values) string {
	s := c.base.String() + path
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

func (c *Client) doJSON(ctx context.Context, method, path string, q url.Values, body []byte, out any) error {
	b, err := c.do(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, c.url(path, q), err)
	}
	return nil
}

// do sends one request and returns the body of a 2xx answer.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body []byte) ([]byte, error) {
	target := c.url(path, q)
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("building request %s %s: %w", method, target, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "stellactl")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %v", ErrUnreachable, method, target, unwrapURLError(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: reading the answer: %v", ErrUnreachable, method, target, err)
	}
	if len(b) > MaxResponseSize {
		return nil, fmt.Errorf("%w: %s %s: body exceeds %d bytes", ErrResponseTooLarge, method, target, MaxResponseSize)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, apiError(resp.StatusCode, b, target)
	}
	return b, nil
}

func apiError(status int, body []byte, target string) *APIError {
	e := &APIError{Status: status, URL: target}
	var ae apitype.Error
	if json.Unmarshal(body, &ae) == nil && ae.Code != "" {
		e.Code, e.Message, e.RequestID = ae.Code, ae.Message, ae.RequestID
		return e
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > maxErrorBody {
		msg = msg[:maxErrorBody] + "…"
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	e.Message = msg
	return e
}

// unwrapURLError drops *url.Error's "Get URL:" prefix: the caller names the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
