// Package docket is the helper for Docket actions in Go (command ABI):
// it reads the request Docket writes on stdin and writes one response on stdout.
//
//	func main() {
//		docket.Run(func(req docket.Request) docket.Outcome {
//			if req.Username == "" {
//				return docket.Forbidden("sign in to Workfront first")
//			}
//			stage, ok := req.Params["stage"] // extra query parameter
//			if !ok {
//				return docket.Failed("add stage=… to the integration's request parameters")
//			}
//			return docket.Success("moved to " + stage + " in " + req.Config["folder"])
//		})
//	}
//
// Build: GOOS=wasip1 GOARCH=wasm go build -o action.wasm .
//
// Only the standard library is used. A request that is not the JSON Docket sends
// is answered with a "failed" response; a panic in the action is a crash (see Run).
package docket

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// Request is what Docket sends for one invocation (see guest-sdk/CONTRACT.md).
//
// UsernameVerified is true when Username was proven by the user's sign-in at
// the tenant's identity provider (OAuth2 mode); false when it is only what the
// caller sent (ApiKey mode: anyone holding the tenant's key can send any
// username), or when Docket did not say. An action that decides by user should
// require it.
type Request struct {
	Action            string            `json:"action"`            // the action name Workfront sent
	DocumentID        string            `json:"documentId"`        // the Workfront document id
	DocumentVersionID string            `json:"documentVersionId"` // the Workfront document version id
	Username          string            `json:"username"`          // "" when Workfront sent none
	UsernameVerified  bool              `json:"usernameVerified"`  // true only when proven by OAuth2 sign-in
	Params            map[string]string `json:"params"`            // other query parameters; never nil
	Config            map[string]string `json:"config"`            // the manifest's [config]; never nil
	Secrets           map[string]string `json:"secrets"`           // granted secrets; nil unless granted
	Tenant            string            `json:"tenant"`
	RequestID         string            `json:"requestId"`
}

// Outcome is an action's answer: build it with Success, Forbidden, NotFound or Failed.
type Outcome struct {
	Status  string `json:"status"`
	Kind    string `json:"kind,omitempty"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Success answers 200, with a message for the user ("" for none).
func Success(message string) Outcome { return Outcome{Status: "success", Message: message} }

// Forbidden answers 403: the user may not do this.
func Forbidden(message string) Outcome { return failure("forbidden", message) }

// NotFound answers 404: the document, or something it needs, does not exist.
func NotFound(message string) Outcome { return failure("not-found", message) }

// Failed answers 500: anything else.
func Failed(message string) Outcome { return failure("failed", message) }

func failure(kind, message string) Outcome {
	if message == "" {
		message = "action failed"
	}
	return Outcome{Status: "failure", Kind: kind, Error: message}
}

// Run reads the request from stdin, calls action and writes its outcome to stdout.
//
// A request that cannot be read or parsed is answered with Failed and action is
// not called. If action panics, Run writes the stack trace to stderr, then one
// last line "crashed: panic: <value>", and exits with code 2 (as Go does for an
// unrecovered panic) without writing a response: Docket answers 500 with that
// last line as the error.
func Run(action func(Request) Outcome) {
	req, err := ReadRequest(os.Stdin)
	if err != nil {
		Write(os.Stdout, Failed(err.Error()))
		return
	}
	outcome := guard(action, req)
	if err := Write(os.Stdout, outcome); err != nil {
		fmt.Fprintln(os.Stderr, "docket: writing the response:", err)
		os.Exit(1)
	}
}

func guard(action func(Request) Outcome, req Request) (outcome Outcome) {
	defer func() {
		if r := recover(); r != nil {
			os.Stderr.Write(debug.Stack())
			fmt.Fprintf(os.Stderr, "crashed: panic: %v\n", r)
			os.Exit(2)
		}
	}()
	return action(req)
}

// ReadRequest reads and parses one request; Run calls it for you.
func ReadRequest(r io.Reader) (Request, error) {
	var req Request
	data, err := io.ReadAll(r)
	if err != nil {
		return req, fmt.Errorf("could not read the request: %v", err)
	}
	if err := json.Unmarshal(data, &req); err != nil {
		return req, fmt.Errorf("the request is not valid Docket JSON: %v", err)
	}
	if req.DocumentID == "" || req.DocumentVersionID == "" {
		return req, fmt.Errorf("the request has no documentId or documentVersionId")
	}
	if req.Params == nil {
		req.Params = map[string]string{}
	}
	if req.Config == nil {
		req.Config = map[string]string{}
	}
	return req, nil
}

// Write writes outcome as one line of JSON; Run calls it for you.
func Write(w io.Writer, outcome Outcome) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(outcome)
}
