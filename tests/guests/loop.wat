;; Hostile: spins forever in _start.
(module
  (memory (export "memory") 1)
  (func (export "_start") (loop $spin (br $spin))))
