;; A hostile command: asks docket::host_call to read its operation from far
;; outside its memory. Docket must stop the guest, not read host memory.
(module
  (import "docket" "host_call" (func $call (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $call (i32.const 65000) (i32.const 100000)))))
