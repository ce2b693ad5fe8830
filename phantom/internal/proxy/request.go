package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"phantomstack.dev/phantom/internal/bodyscope"
	"phantomstack.dev/shared/token"
)

// refusal is a request the proxy answers itself.
type refusal struct {
	status    int
	msg, hint string
}

func (r *refusal) Error() string { return r.msg }

// bodyWhere names a declared body field in refusals; a secret granted to a
// route's body fields (Options.BodyGrants) resolves only there.
const bodyWhere = "a body field"

// smallBody is the largest request body with a known length that is read
// into memory before it is forwarded.
const smallBody = 64 << 10

// errBodyTooLarge ends a streamed request body that passes the limit.
var errBodyTooLarge = errors.New("request body too large")

// prepareRequest applies the route's substitution rules to r in place and
// records which secrets will go on the wire.
func (s *Server) prepareRequest(r *http.Request, st *reqState) error {
	rt := st.route
	used := map[string]bool{}
	resolve := func(where, tok string) (string, error) {
		sec := s.byToken[tok]
		switch {
		case sec == nil:
			return "", s.unknownToken(where)
		case !rt.allowed[sec.Name] && !(where == bodyWhere && rt.bodyOnly[sec.Name]):
			return "", &refusal{status: http.StatusForbidden,
				msg:  fmt.Sprintf("%s may not be sent to route %s", sec.Name, rt.Name),
				hint: fmt.Sprintf("route %s carries only %s", rt.Name, strings.Join(rt.Secrets, ", "))}
		}
		used[sec.Name] = true
		return sec.Value, nil
	}

	// (a) Credential headers. A token anywhere else is forwarded untouched.
	sawCredential := false
	for _, h := range rt.headers {
		vals := r.Header.Values(h)
		if len(vals) == 0 {
			continue
		}
		sawCredential = true
		out := make([]string, len(vals))
		for i, v := range vals {
			nv, err := replaceTokens(v, func(tok string) (string, error) { return resolve(h+" header", tok) })
			if err != nil {
				return err
			}
			out[i] = nv
		}
		r.Header[h] = out
	}

	// (b) Declared query parameters, keeping every other byte of the query.
	if len(rt.query) > 0 && r.URL.RawQuery != "" {
		q, found, err := replaceQuery(r.URL.RawQuery, rt.query, func(tok string) (string, error) { return resolve("a query parameter", tok) })
		if err != nil {
			return err
		}
		sawCredential = sawCredential || found
		r.URL.RawQuery = q
	}

	// Route-owned injection when the client sent no credential at all.
	if !sawCredential && rt.Inject != nil {
		if sec := s.byName[rt.Owner()]; sec != nil && sec.Value != "" {
			r.Header.Set(rt.Inject.Header, strings.Replace(rt.Inject.Format, "%s", sec.Value, 1))
			used[sec.Name] = true
		}
	}

	// (c) Body: declared fields of JSON and form bodies are buffered and
	// scoped; every other body streams under the same size limit.
	if err := s.prepareBody(r, st, resolve); err != nil {
		return err
	}

	for n := range used {
		st.secrets = append(st.secrets, n)
	}
	slices.Sort(st.secrets)
	return nil
}

func (s *Server) prepareBody(r *http.Request, st *reqState, resolve func(where, tok string) (string, error)) error {
	limit := s.opts.MaxBodyBytes
	tooLarge := &refusal{status: http.StatusRequestEntityTooLarge,
		msg:  fmt.Sprintf("request body larger than the proxy's limit of %d bytes", limit),
		hint: "raise [proxy] max_body_bytes in .phantom.toml if this is expected"}
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	if r.ContentLength > limit {
		return tooLarge
	}
	rt := st.route
	kind := bodyKind(r.Header.Get("Content-Type"))
	if len(rt.BodyFields) == 0 || kind == "" {
		if r.ContentLength > 0 && r.ContentLength <= smallBody {
			// An in-memory body lets the transport send headers and body
			// in one write instead of flushing the headers first: on
			// loopback the extra syscall is most of the proxy's latency.
			buf := make([]byte, r.ContentLength)
			_, err := io.ReadFull(r.Body, buf)
			r.Body.Close()
			if err != nil {
				return clientBodyError(err)
			}
			st.body = &limitedBody{rc: io.NopCloser(bytes.NewReader(buf)), limit: limit, n: int64(len(buf))}
			st.mem = buf
			r.Body = io.NopCloser(bytes.NewReader(buf))
			return nil
		}
		rc := r.Body
		if r.ContentLength < 0 {
			// Unknown length (chunked): read up to smallBody before the
			// upstream is dialled. A body that ends within it goes whole
			// from memory, and a framing error in it is the client's 400
			// with nothing sent upstream. A longer body streams on; a
			// framing error later aborts the upstream request unfinished
			// (no final chunk) and is still the client's 400 (see
			// limitedBody.clientErr).
			head, err := io.ReadAll(io.LimitReader(r.Body, smallBody+1))
			if err != nil {
				r.Body.Close()
				return clientBodyError(err)
			}
			if int64(len(head)) > limit {
				r.Body.Close()
				return tooLarge
			}
			if len(head) <= smallBody {
				r.Body.Close()
				st.body = &limitedBody{rc: io.NopCloser(bytes.NewReader(head)), limit: limit, n: int64(len(head))}
				st.mem = head
				r.Body = io.NopCloser(bytes.NewReader(head))
				r.ContentLength = int64(len(head))
				r.TransferEncoding = nil
				return nil
			}
			rc = readCloser{Reader: io.MultiReader(bytes.NewReader(head), r.Body), close: r.Body.Close}
		}
		st.body = &limitedBody{rc: rc, limit: limit}
		r.Body = st.body
		return nil
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	r.Body.Close()
	if err != nil {
		return clientBodyError(err)
	}
	if int64(len(raw)) > limit {
		return tooLarge
	}
	var firstErr error
	res := func(tok string) (string, bool) {
		v, err := resolve(bodyWhere, tok)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return "", false
		}
		return v, true
	}
	var out bodyscope.Result
	if kind == "json" {
		out, err = bodyscope.JSON(raw, rt.BodyFields, res)
	} else {
		out, err = bodyscope.Form(raw, rt.BodyFields, res)
	}
	switch {
	case firstErr != nil:
		return firstErr
	case err != nil:
		// Not valid JSON or form data: nothing can be a declared field, so
		// the body goes as it came.
		s.logf("proxy: %s body not parsed (%v); forwarded unchanged", rt.Name, err)
		out.Body = raw
	}
	st.body = &limitedBody{rc: io.NopCloser(bytes.NewReader(out.Body)), limit: limit, n: int64(len(out.Body))}
	st.mem = out.Body
	r.Body = st.body
	r.ContentLength = int64(len(out.Body))
	r.Header.Set("Content-Length", fmt.Sprint(len(out.Body)))
	return nil
}

// bodyKind is "json", "form" or "" for a Content-Type.
func bodyKind(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return "json"
	case mt == "application/x-www-form-urlencoded":
		return "form"
	}
	return ""
}

// replaceTokens replaces every phm token in s through fn.
func replaceTokens(s string, fn func(tok string) (string, error)) (string, error) {
	offs := token.FindAll([]byte(s))
	if len(offs) == 0 {
		return s, nil
	}
	var b strings.Builder
	last := 0
	for _, o := range offs {
		v, err := fn(s[o : o+token.Len])
		if err != nil {
			return "", err
		}
		b.WriteString(s[last:o])
		b.WriteString(v)
		last = o + token.Len
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

// replaceQuery substitutes tokens in the values of the named parameters of
// a raw query, leaving every other byte (order, encoding, separators) as it
// was. found reports whether any named parameter carried a token.
func replaceQuery(raw string, names map[string]bool, fn func(tok string) (string, error)) (string, bool, error) {
	parts := strings.Split(raw, "&")
	found := false
	for i, p := range parts {
		k, v, hasEq := strings.Cut(p, "=")
		if !hasEq {
			continue
		}
		key, err := url.QueryUnescape(k)
		if err != nil || !names[key] {
			continue
		}
		val, err := url.QueryUnescape(v)
		if err != nil || len(token.FindAll([]byte(val))) == 0 {
			continue
		}
		nv, err := replaceTokens(val, fn)
		if err != nil {
			return "", false, err
		}
		found = true
		parts[i] = k + "=" + url.QueryEscape(nv)
	}
	return strings.Join(parts, "&"), found, nil
}

// clientBodyError is the answer to a request body the client could not
// deliver: bad chunked framing, fewer bytes than its Content-Length, a
// connection that ended early.
func clientBodyError(err error) *refusal {
	return &refusal{status: http.StatusBadRequest,
		msg:  "could not read the request body: " + err.Error(),
		hint: "the client sent a malformed or incomplete body; it was not forwarded as a complete request"}
}

// limitedBody counts request body bytes and fails a stream that passes the
// limit, so the upstream sees an aborted request and the client a 413. It
// remembers a read error of the client's body (clientErr), so the proxy
// answers 400 rather than blaming the upstream.
type limitedBody struct {
	rc        io.ReadCloser
	limit, n  int64
	over      bool
	clientErr error
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if b.n > b.limit {
		b.over = true
		return 0, errBodyTooLarge
	}
	if err != nil && err != io.EOF && b.clientErr == nil {
		b.clientErr = err
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// unknownToken refuses a phm token the proxy did not load. The proxy holds
// the tokens of the vault as it was when the proxy started: after phantom
// rotate the env files hold new tokens this proxy has never seen, and only
// a restart loads them (docs/decisions.md, "rotate and running proxies").
func (s *Server) unknownToken(where string) *refusal {
	msg := fmt.Sprintf("the phm token in %s is not in this project's vault", where)
	hint := "it is from another project or its secret was removed; `phantom status` lists such tokens and what to do"
	if !s.opts.LoadedAt.IsZero() {
		msg = fmt.Sprintf("the phm token in %s is not in this project's vault as this proxy loaded it at %s", where, s.opts.LoadedAt.UTC().Format(time.RFC3339))
		restart := "restart this proxy"
		if s.opts.RestartHint != "" {
			restart += ": " + s.opts.RestartHint
		}
		hint = "if you ran `phantom rotate` since then, this proxy knows only the old tokens; " + restart +
			". Otherwise the token is from another project or its secret was removed; `phantom status` lists such tokens and what to do"
	}
	return &refusal{status: http.StatusForbidden, msg: msg, hint: hint}
}
