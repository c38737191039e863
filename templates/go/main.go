// {{name}}: a Docket action in Go (command ABI). Build it with `bash build.sh`.
package main

import (
	"fmt"

	"{{name}}/docket"
)

func main() {
	docket.Run(func(req docket.Request) docket.Outcome {
		if req.Username == "" {
			return docket.Forbidden("sign in to Workfront first")
		}
		greeting := req.Config["greeting"] // from the manifest's [config]
		if greeting == "" {
			greeting = "Hello"
		}
		return docket.Success(fmt.Sprintf("%s, %s: document %s, version %s",
			greeting, req.Username, req.DocumentID, req.DocumentVersionID))
	})
}
