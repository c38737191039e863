;; Chatty: writes 2 MiB to stderr in 64 KiB chunks, ends with a reason line,
;; then exits 1 with nothing on stdout. Stderr is truncated, never fatal, and the
;; last line still becomes the failure message.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 2)
  (data (i32.const 64) "\ngave up after all that noise\n")
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    (local $i i32)
    (memory.fill (i32.const 1024) (i32.const 120) (i32.const 65536))
    (loop $chunks
      (call $write (i32.const 1024) (i32.const 65536))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $chunks (i32.lt_u (local.get $i) (i32.const 32))))
    (call $write (i32.const 64) (i32.const 30))
    (call $proc_exit (i32.const 1))))
