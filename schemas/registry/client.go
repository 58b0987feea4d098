package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/alertbeam/alertbeam/schemas"
)

// ErrNotFound is returned (wrapped in *APIError) when the registry has no such
// schema id or subject.
var ErrNotFound = errors.New("registry: not found")

// APIError is an error response from the registry.
type APIError struct {
	Status  int    // HTTP status
	Code    int    // Confluent error code, e.g. 40403 (schema not found)
	Message string // the registry's message
}

func (e *APIError) Error() string {
	return fmt.Sprintf("registry: HTTP %d (code %d): %s", e.Status, e.Code, e.Message)
}

// Is makes errors.Is(err, ErrNotFound) true for 404 responses.
func (e *APIError) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// Client talks to one schema registry. It is safe for concurrent use, and
// caches every schema it fetched by id: ids are immutable in the registry.
type Client struct {
	base     string
	hc       *http.Client
	user     string
	password string
	attempts int

	mu   sync.Mutex
	byID map[int]entry
}

type entry struct {
	schema avro.Schema
	raw    string
}

// Option configures a Client.
type Option func(*Client) error

// WithBasicAuth sends HTTP basic credentials (Confluent Cloud style API keys).
func WithBasicAuth(user, password string) Option {
	return func(c *Client) error {
		if user == "" {
			return errors.New("registry: basic auth needs a user name")
		}
		c.user, c.password = user, password
		return nil
	}
}

// WithHTTPClient replaces the HTTP client (timeouts, TLS).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("registry: nil HTTP client")
		}
		c.hc = hc
		return nil
	}
}

// WithAttempts sets how many times a request is tried when the registry is
// unreachable or answers 5xx (default 3, with a short backoff).
func WithAttempts(n int) Option {
	return func(c *Client) error {
		if n < 1 {
			return fmt.Errorf("registry: attempts must be at least 1, got %d", n)
		}
		c.attempts = n
		return nil
	}
}

// NewClient returns a client for the registry at baseURL (http or https).
func NewClient(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("registry: %q is not an http(s) URL", baseURL)
	}
	c := &Client{
		base:     strings.TrimRight(baseURL, "/"),
		hc:       &http.Client{Timeout: 30 * time.Second},
		attempts: 3,
		byID:     map[int]entry{},
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// URL is the registry's base URL.
func (c *Client) URL() string { return c.base }

// Schema returns the parsed schema with the given id, fetching it once.
func (c *Client) Schema(ctx context.Context, id int) (avro.Schema, error) {
	e, err := c.lookup(ctx, id)
	return e.schema, err
}

// RawSchema returns the schema text with the given id, as the registry holds it.
func (c *Client) RawSchema(ctx context.Context, id int) (string, error) {
	e, err := c.lookup(ctx, id)
	return e.raw, err
}

func (c *Client) lookup(ctx context.Context, id int) (entry, error) {
	c.mu.Lock()
	e, ok := c.byID[id]
	c.mu.Unlock()
	if ok {
		return e, nil
	}
	var resp struct {
		Schema     string `json:"schema"`
		SchemaType string `json:"schemaType"`
	}
	if err := c.do(ctx, http.MethodGet, fmt.Sprintf("/schemas/ids/%d", id), nil, &resp); err != nil {
		return entry{}, err
	}
	if resp.SchemaType != "" && resp.SchemaType != "AVRO" {
		return entry{}, fmt.Errorf("registry: schema %d is %s, not Avro", id, resp.SchemaType)
	}
	s, err := schemas.ParseWriter([]byte(resp.Schema))
	if err != nil {
		return entry{}, fmt.Errorf("registry: schema %d: %w", id, err)
	}
	e = entry{schema: s, raw: resp.Schema}
	c.mu.Lock()
	c.byID[id] = e
	c.mu.Unlock()
	return e, nil
}

// Register registers an Avro schema under subject and returns its id.
func (c *Client) Register(ctx context.Context, subject, schema string) (int, error) {
	var resp struct {
		ID int `json:"id"`
	}
	body := map[string]string{"schema": schema, "schemaType": "AVRO"}
	if err := c.do(ctx, http.MethodPost, "/subjects/"+url.PathEscape(subject)+"/versions", body, &resp); err != nil {
		return 0, err
	}
	return resp.ID, nil
}

// SubjectVersion is one version of a subject.
type SubjectVersion struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
	ID      int    `json:"id"`
	Schema  string `json:"schema"`
}

// Latest returns the newest version registered under subject.
func (c *Client) Latest(ctx context.Context, subject string) (SubjectVersion, error) {
	var sv SubjectVersion
	err := c.do(ctx, http.MethodGet, "/subjects/"+url.PathEscape(subject)+"/versions/latest", nil, &sv)
	return sv, err
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return fmt.Errorf("registry: %w", err)
		}
	}
	var lastErr error
	for attempt := 0; attempt < c.attempts; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("registry: %w (last error: %v)", ctx.Err(), lastErr)
			case <-time.After(time.Duration(attempt*attempt) * 100 * time.Millisecond):
			}
		}
		retry, err := c.once(ctx, method, path, payload, out)
		if err == nil || !retry {
			return err
		}
		lastErr = err
	}
	return lastErr
}

func (c *Client) once(ctx context.Context, method, path string, payload []byte, out any) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(payload))
	if err != nil {
		return false, fmt.Errorf("registry: %w", err)
	}
	req.Header.Set("Accept", "application/vnd.schemaregistry.v1+json, application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return true, fmt.Errorf("registry: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return true, fmt.Errorf("registry: reading response: %w", err)
	}
	if resp.StatusCode >= 300 {
		apiErr := &APIError{Status: resp.StatusCode}
		var e struct {
			Code    int    `json:"error_code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &e) == nil {
			apiErr.Code, apiErr.Message = e.Code, e.Message
		} else {
			apiErr.Message = strings.TrimSpace(string(body))
		}
		return resp.StatusCode >= 500, apiErr
	}
	if err := json.Unmarshal(body, out); err != nil {
		return false, fmt.Errorf("registry: decoding %s response: %w", path, err)
	}
	return false, nil
}
