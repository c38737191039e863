;; Writes 64 KiB to stderr: a first line `stderr begins here`, a line
;; `the middle of stderr` halfway, a last line `stderr ends here`, filler in
;; between; then exits 1 with nothing on stdout. The invocation log keeps the
;; first and the last 4 KiB, so it holds the first and last lines, not the middle.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "stderr begins here\n")
  (data (i32.const 128) "\nthe middle of stderr\n")
  (data (i32.const 192) "\nstderr ends here\n")
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8))))
  ;; 32 KiB of filler: lines of 63 dots.
  (func $filler
    (local $i i32)
    (memory.fill (i32.const 1024) (i32.const 46) (i32.const 32768))
    (loop $lines
      (i32.store8 (i32.add (i32.const 1087) (i32.mul (local.get $i) (i32.const 64))) (i32.const 10))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $lines (i32.lt_u (local.get $i) (i32.const 512))))
    (call $write (i32.const 1024) (i32.const 32768)))
  (func (export "_start")
    (call $write (i32.const 64) (i32.const 19))
    (call $filler)
    (call $write (i32.const 128) (i32.const 22))
    (call $filler)
    (call $write (i32.const 192) (i32.const 18))
    (call $proc_exit (i32.const 1))))
