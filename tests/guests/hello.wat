;; A well-behaved command: prints a success response.
;; Writes a fixed text to fd 1.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "{\"status\":\"success\",\"message\":\"hello from wat\"}")
  (func $write
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 47))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start") (call $write)))
