;; Hostile: grows a table by 10,000 elements at a time, forever.
(module
  (memory (export "memory") 1)
  (table $t 0 funcref)
  (func (export "_start")
    (loop $grow
      (drop (table.grow $t (ref.null func) (i32.const 10000)))
      (br $grow))))
