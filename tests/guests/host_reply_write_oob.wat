;; A hostile command: claims a 2 GiB operation (refused with a JSON error reply),
;; then asks docket::host_reply to write that reply past the end of its memory.
(module
  (import "docket" "host_call" (func $call (param i32 i32) (result i32)))
  (import "docket" "host_reply" (func $reply (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (local $len i32)
    (local.set $len (call $call (i32.const 0) (i32.const 0x7fffffff)))
    (drop (call $reply (i32.const 65530) (local.get $len)))))
