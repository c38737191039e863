;; Valid WebAssembly that fits neither ABI: no `_start`.
(module
  (memory (export "memory") 1)
  (func (export "main")))
