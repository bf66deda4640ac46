package opensearch_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/opensearch"
)

// The answers below are OpenSearch 2.19's, as its document APIs give
// them (Get document, Index document with if_seq_no/if_primary_term, and
// _create): a found document with _seq_no and _primary_term, 404 with
// "found": false for a missing document, 404 index_not_found_exception
// for a missing index, 409 version_conflict_engine_exception for a stale
// version. e2e TestLeasePrimitivesOnTheFollower runs the same calls
// against the lab's real follower.
func docServer(t *testing.T) (*opensearch.Client, *[]string) {
	t.Helper()
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen = append(seen, r.Method+" "+r.URL.RequestURI()+" "+string(body))
		w.Header().Set("Content-Type", "application/json")
		switch r.Method + " " + r.URL.Path {
		case "GET /ha/_doc/orders":
			_, _ = io.WriteString(w, `{"_index":"ha","_id":"orders","_version":3,"_seq_no":7,"_primary_term":2,"found":true,"_source":{"holder":"dr-a","term":1}}`)
		case "GET /ha/_doc/missing":
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"_index":"ha","_id":"missing","found":false}`)
		case "GET /nope/_doc/orders":
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"error":{"root_cause":[{"type":"index_not_found_exception","reason":"no such index [nope]"}],"type":"index_not_found_exception","reason":"no such index [nope]","index":"nope"},"status":404}`)
		case "PUT /ha/_doc/orders":
			if r.URL.Query().Get("if_seq_no") != "7" || r.URL.Query().Get("if_primary_term") != "2" {
				w.WriteHeader(409)
				_, _ = io.WriteString(w, `{"error":{"type":"version_conflict_engine_exception","reason":"[orders]: version conflict, required seqNo [6], primary term [2]. current document has seqNo [7] and primary term [2]"},"status":409}`)
				return
			}
			w.WriteHeader(200)
			_, _ = io.WriteString(w, `{"_index":"ha","_id":"orders","_version":4,"result":"updated","_seq_no":8,"_primary_term":2}`)
		case "PUT /ha/_create/new":
			w.WriteHeader(201)
			_, _ = io.WriteString(w, `{"_index":"ha","_id":"new","_version":1,"result":"created","_seq_no":9,"_primary_term":2}`)
		case "PUT /ha":
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"error":{"type":"resource_already_exists_exception","reason":"index [ha/x] already exists"},"status":400}`)
		default:
			w.WriteHeader(500)
		}
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c, err := opensearch.New(config.Endpoint{Addresses: []*url.URL{u}}, opensearch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c, &seen
}

func TestGetDoc(t *testing.T) {
	c, _ := docServer(t)
	ctx := context.Background()
	d, err := c.GetDoc(ctx, "ha", "orders")
	if err != nil || !d.Found || d.SeqNo != 7 || d.PrimaryTerm != 2 || string(d.Source) != `{"holder":"dr-a","term":1}` {
		t.Fatalf("found: %+v, %v", d, err)
	}
	if d, err := c.GetDoc(ctx, "ha", "missing"); err != nil || d.Found || d.IndexMissing {
		t.Fatalf("missing document: %+v, %v", d, err)
	}
	if d, err := c.GetDoc(ctx, "nope", "orders"); err != nil || d.Found || !d.IndexMissing {
		t.Fatalf("missing index: %+v, %v", d, err)
	}
}

func TestPutDocIsConditional(t *testing.T) {
	c, seen := docServer(t)
	ctx := context.Background()
	d, err := c.PutDoc(ctx, "ha", "orders", []byte(`{"term":2}`), opensearch.Doc{Found: true, SeqNo: 7, PrimaryTerm: 2})
	if err != nil || d.SeqNo != 8 || d.PrimaryTerm != 2 {
		t.Fatalf("conditional write: %+v, %v", d, err)
	}
	if _, err := c.PutDoc(ctx, "ha", "orders", []byte(`{"term":2}`), opensearch.Doc{Found: true, SeqNo: 6, PrimaryTerm: 2}); !errors.Is(err, opensearch.ErrVersionConflict) {
		t.Fatalf("stale version: %v", err)
	}
	if d, err := c.PutDoc(ctx, "ha", "new", []byte(`{"term":1}`), opensearch.Doc{}); err != nil || d.SeqNo != 9 {
		t.Fatalf("create: %+v, %v", d, err)
	}
	if err := c.CreateIndex(ctx, "ha", []byte(`{}`)); err != nil {
		t.Fatalf("an index that exists: %v", err)
	}
	want := []string{
		"PUT /ha/_doc/orders?if_primary_term=2&if_seq_no=7 {\"term\":2}",
		"PUT /ha/_doc/orders?if_primary_term=2&if_seq_no=6 {\"term\":2}",
		"PUT /ha/_create/new {\"term\":1}",
	}
	for i, w := range want {
		if (*seen)[i] != w {
			t.Errorf("request %d = %q, want %q", i, (*seen)[i], w)
		}
	}
}

// A proxy's or ingress's 404 (no backend, a wrong route) is not
// OpenSearch saying "no such document": it is an error, so that a lease
// holder does not step down on it and a standby does not take it for a
// missing lease.
func TestGetDocProxy404IsAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(404)
		_, _ = io.WriteString(w, "<html><body>404 Not Found</body></html>")
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c, err := opensearch.New(config.Endpoint{Addresses: []*url.URL{u}}, opensearch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.GetDoc(context.Background(), "ha", "orders")
	if err == nil {
		t.Fatalf("a proxy's HTML 404 read as an answer: %+v", d)
	}
}
