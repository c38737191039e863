;; Imports a function Docket does not provide.
(module
  (import "env" "launch_missiles" (func $launch))
  (memory (export "memory") 1)
  (func (export "_start") (call $launch)))
