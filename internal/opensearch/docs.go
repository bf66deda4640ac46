package opensearch

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/drwatch/drwatch/internal/observe"
)

// Doc is a document read or written with its version: the sequence number
// and primary term that optimistic concurrency control compares
// (if_seq_no, if_primary_term).
type Doc struct {
	// Found is false when there is no such document (or no such index:
	// IndexMissing).
	Found        bool
	IndexMissing bool
	SeqNo        int64
	PrimaryTerm  int64
	Source       json.RawMessage
}

// ErrVersionConflict is a conditional write refused because the document
// changed (or was created) since it was read: HTTP 409.
var ErrVersionConflict = errors.New("version conflict: the document changed since it was read")

// GetDoc reads one document, realtime (GET {index}/_doc/{id}): what the
// last acknowledged write left, refreshed or not.
func (c *Client) GetDoc(ctx context.Context, index, id string) (Doc, error) {
	const op = "read document"
	status, body, err := c.doAllow(ctx, op, http.MethodGet, request{path: "/" + url.PathEscape(index) + "/_doc/" + url.PathEscape(id)}, http.StatusNotFound)
	if err != nil {
		return Doc{}, err
	}
	if status == http.StatusNotFound {
		// OpenSearch's own 404s only: "found": false for a missing
		// document, index_not_found_exception for a missing index. Any
		// other 404 (a proxy's, an ingress's) is an error, not an answer.
		var nf struct {
			Found *bool `json:"found"`
		}
		if json.Unmarshal(body, &nf) == nil && nf.Found != nil && !*nf.Found {
			return Doc{}, nil
		}
		e := c.explain(classifyStatus(op, status, body))
		if e.Type == "index_not_found_exception" {
			return Doc{IndexMissing: true}, nil
		}
		return Doc{}, e
	}
	var raw struct {
		Found       *bool           `json:"found"`
		SeqNo       *int64          `json:"_seq_no"`
		PrimaryTerm *int64          `json:"_primary_term"`
		Source      json.RawMessage `json:"_source"`
	}
	if err := decode(op, body, &raw); err != nil {
		return Doc{}, err
	}
	switch {
	case raw.Found == nil:
		return Doc{}, &Error{Op: op, Class: observe.ClassMalformed, Detail: "no found field"}
	case !*raw.Found:
		return Doc{}, nil
	case raw.SeqNo == nil || raw.PrimaryTerm == nil || len(raw.Source) == 0:
		return Doc{}, &Error{Op: op, Class: observe.ClassMalformed, Detail: "a found document without _seq_no, _primary_term or _source"}
	}
	return Doc{Found: true, SeqNo: *raw.SeqNo, PrimaryTerm: *raw.PrimaryTerm, Source: raw.Source}, nil
}

// PutDoc writes a document only if it is still the version read: prev
// found, the write is conditional on its seq_no and primary term (PUT
// {index}/_doc/{id}?if_seq_no&if_primary_term); prev not found, the write
// only creates (PUT {index}/_create/{id}). Someone else's write in
// between answers 409: ErrVersionConflict. It returns the new version.
func (c *Client) PutDoc(ctx context.Context, index, id string, source []byte, prev Doc) (Doc, error) {
	const op = "write document"
	q := url.Values{}
	path := "/" + url.PathEscape(index) + "/_create/" + url.PathEscape(id)
	if prev.Found {
		path = "/" + url.PathEscape(index) + "/_doc/" + url.PathEscape(id)
		q.Set("if_seq_no", strconv.FormatInt(prev.SeqNo, 10))
		q.Set("if_primary_term", strconv.FormatInt(prev.PrimaryTerm, 10))
	}
	body, err := c.do(ctx, op, http.MethodPut, request{path: path, query: q, body: source})
	if e, ok := AsError(err); ok && e.Status == http.StatusConflict {
		return Doc{}, errors.Join(ErrVersionConflict, err)
	}
	if err != nil {
		return Doc{}, err
	}
	var raw struct {
		SeqNo       *int64 `json:"_seq_no"`
		PrimaryTerm *int64 `json:"_primary_term"`
	}
	if err := decode(op, body, &raw); err != nil {
		return Doc{}, err
	}
	if raw.SeqNo == nil || raw.PrimaryTerm == nil {
		return Doc{}, &Error{Op: op, Class: observe.ClassMalformed, Detail: "no _seq_no or _primary_term in the answer"}
	}
	return Doc{Found: true, SeqNo: *raw.SeqNo, PrimaryTerm: *raw.PrimaryTerm, Source: source}, nil
}

// CreateIndex creates an index with body (settings and mappings); one that
// exists already is no error.
func (c *Client) CreateIndex(ctx context.Context, index string, body []byte) error {
	_, err := c.do(ctx, "create index", http.MethodPut, request{path: "/" + url.PathEscape(index), body: body})
	if e, ok := AsError(err); ok && e.Type == "resource_already_exists_exception" {
		return nil
	}
	return err
}
