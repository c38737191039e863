// go-folder: files a Workfront document into a folder path built from the
// action's config (command ABI, Go, using the helper in guest-sdk/go).
//
// Config: folder-pattern, e.g. "Contracts/{year}/{user}/{stage}", with the
// placeholders {year} (current UTC year), {user} (the username), {stage} (the
// stage query parameter) and {document} (the document id); allowed-domain
// (optional), e.g. "acme.com": only usernames ending in "@acme.com" may file.
// Params: stage (needed when the pattern uses {stage}).
// Failures: no username, or one outside allowed-domain, is forbidden; a
// placeholder with no value is not found; a missing pattern, an unknown
// placeholder or a value that is not a folder name fails. `crash=1` panics on
// purpose (a nil map write), to show how a crash is reported.
//
// build.sh copies guest-sdk/go into ./docket before building, as `docket new` does.
package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go-folder/docket"
)

func main() { docket.Run(file) }

func file(req docket.Request) docket.Outcome {
	if req.Params["crash"] == "1" {
		var filed map[string]string // never made, so writing to it panics
		filed[req.DocumentID] = "crash"
	}

	if req.Username == "" {
		return docket.Forbidden("sign in to Workfront to file documents")
	}
	if domain := strings.TrimPrefix(req.Config["allowed-domain"], "@"); domain != "" {
		if !hasSuffixFold(req.Username, "@"+domain) {
			return docket.Forbidden(fmt.Sprintf("%s may not file documents: only @%s users may", req.Username, domain))
		}
	}

	pattern := req.Config["folder-pattern"]
	if strings.TrimSpace(pattern) == "" {
		return docket.Failed("folder-pattern is not set in the action's [config]")
	}
	values := map[string]string{
		"year":     strconv.Itoa(time.Now().UTC().Year()),
		"user":     req.Username,
		"stage":    req.Params["stage"],
		"document": req.DocumentID,
	}

	var path strings.Builder
	rest := pattern
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			path.WriteString(rest)
			break
		}
		path.WriteString(rest[:open])
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return docket.Failed(fmt.Sprintf("folder-pattern %s has a { with no closing }", pattern))
		}
		name := rest[open+1 : open+end]
		value, known := values[name]
		switch {
		case !known:
			return docket.Failed(fmt.Sprintf("folder-pattern %s has an unknown placeholder {%s}; use {year}, {user}, {stage} or {document}", pattern, name))
		case value == "":
			// Only {stage} can be empty: it is the one query parameter.
			return docket.NotFound(fmt.Sprintf("no value for {%s}: add %s=… to the integration's request parameters", name, name))
		case value == "." || value == ".." || strings.Contains(value, "/"):
			return docket.Failed(fmt.Sprintf("{%s} is %s, which is not a folder name", name, value))
		}
		path.WriteString(value)
		rest = rest[open+end+1:]
	}
	return docket.Success(fmt.Sprintf("Filed document %s under %s", req.DocumentID, path.String()))
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}
