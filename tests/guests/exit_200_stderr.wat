;; Fails without an answer: two lines on stderr (then a blank one) and exit code
;; 200, nothing on stdout. Codes above 125 are ordinary failures like 1 to 125:
;; the message is the last non-empty stderr line.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "connecting to the archive\ncannot reach the archive: connection refused\n\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 72))
    (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $proc_exit (i32.const 200))))
