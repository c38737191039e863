;; Fails the classic way: a reason on stderr, then exit code 3.
;; Writes a fixed text to fd 2.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "something went wrong\n")
  (func $write
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 21))
    (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start") (call $write) (call $proc_exit (i32.const 3))))
