;; Answers a `forbidden` failure on stdout, then exits with code 255, as
;; AssemblyScript's WASI shim does on every abort. Exit codes 0 to 255 behave
;; alike: the JSON on stdout is the answer, so Workfront gets 403.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "{\"status\":\"failure\",\"kind\":\"forbidden\",\"error\":\"only editors may archive\"}\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 75))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $proc_exit (i32.const 255))))
