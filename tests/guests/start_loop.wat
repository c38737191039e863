;; Hostile: spins forever in the start function, which runs during instantiation.
(module
  (memory (export "memory") 1)
  (func $spin (loop $l (br $l)))
  (start $spin)
  (func (export "_start")))
