//! Compiled artifacts read back: from bytes, or memory-mapped from the open
//! file Docket wrote and checked by hash; and which ABI an artifact holds.

use super::{Abi, Engine, LoadError, PreparedModule, Tier};
use std::io::{Read, Seek};

impl Engine {
    /// Reads back an artifact written by [`Engine::artifact`].
    ///
    /// The caller must pass only bytes Docket itself wrote, verified against the
    /// digest recorded when they were written: wasmtime runs artifacts as native
    /// code without validating them.
    pub fn load_artifact(
        &self,
        artifact: &[u8],
        abi: Abi,
        tier: Tier,
    ) -> Result<PreparedModule, LoadError> {
        let invalid = |e: wasmtime::Error| LoadError::Invalid(format!("compiled artifact: {e:#}"));
        let (engine, tier) = self.tier(tier);
        match abi {
            Abi::Command => {
                // SAFETY: per this function's contract the bytes are an artifact this
                // engine configuration serialized, checked by hash before the call.
                #[allow(unsafe_code)]
                let module = unsafe { wasmtime::Module::deserialize(&engine.wasmtime, artifact) }
                    .map_err(invalid)?;
                self.prepare_command(engine, tier, module)
            }
            Abi::Component => {
                // SAFETY: as above.
                #[allow(unsafe_code)]
                let component = unsafe {
                    wasmtime::component::Component::deserialize(&engine.wasmtime, artifact)
                }
                .map_err(invalid)?;
                self.prepare_component(engine, tier, component)
            }
        }
    }

    /// Which ABI a compiled artifact was compiled for (a core module or a
    /// component), read from its header, so loading it needs no record of
    /// the module; `None` when it is not a wasmtime artifact at all.
    pub fn artifact_abi(artifact: &[u8]) -> Option<Abi> {
        wasmtime::Engine::detect_precompiled(artifact).map(abi_of)
    }

    /// [`Engine::artifact_abi`] of an open artifact file; reads only its
    /// headers where the file can be opened again by its handle.
    pub fn artifact_file_abi(file: &std::fs::File) -> Option<Abi> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let path = format!("/proc/self/fd/{}", file.as_raw_fd());
            if let Ok(kind) = wasmtime::Engine::detect_precompiled_file(&path) {
                return kind.map(abi_of);
            }
        }
        Self::artifact_abi(&read_all(file).ok()?)
    }

    /// Reads back an artifact written by [`Engine::artifact`] from an open
    /// file, memory-mapped rather than copied where wasmtime allows it: only
    /// the pages run are read in, and the kernel may drop them again.
    ///
    /// The caller must pass only a file Docket itself wrote and whose bytes,
    /// read through this same handle, matched the digest recorded when they
    /// were written; Docket replaces artifact files by rename and never
    /// writes one in place, so the mapped inode keeps those bytes.
    pub fn load_artifact_file(
        &self,
        file: std::fs::File,
        abi: Abi,
        tier: Tier,
    ) -> Result<PreparedModule, LoadError> {
        let invalid = |e: wasmtime::Error| LoadError::Invalid(format!("compiled artifact: {e:#}"));
        let (engine, tier) = self.tier(tier);
        match abi {
            Abi::Command => {
                // SAFETY: per this function's contract the file holds an artifact
                // this engine configuration serialized, checked by hash through
                // this handle, and it is never changed in place.
                #[allow(unsafe_code)]
                let module =
                    unsafe { wasmtime::Module::deserialize_open_file(&engine.wasmtime, file) }
                        .map_err(invalid)?;
                self.prepare_command(engine, tier, module)
            }
            Abi::Component => {
                // wasmtime maps components by path only: the handle's own
                // path under /proc opens the very inode that was checked.
                #[cfg(target_os = "linux")]
                {
                    use std::os::fd::AsRawFd;
                    let path = format!("/proc/self/fd/{}", file.as_raw_fd());
                    // SAFETY: as above; `file` stays open across the call, so
                    // the path names the checked inode.
                    #[allow(unsafe_code)]
                    let mapped = unsafe {
                        wasmtime::component::Component::deserialize_file(&engine.wasmtime, &path)
                    };
                    match mapped {
                        Ok(component) => return self.prepare_component(engine, tier, component),
                        Err(err) => tracing::debug!(
                            error = %format!("{err:#}"),
                            "component artifact not mapped; reading it instead"
                        ),
                    }
                }
                let bytes = read_all(&file)
                    .map_err(|e| LoadError::Engine(format!("reading an artifact: {e}")))?;
                self.load_artifact(&bytes, abi, tier)
            }
        }
    }
}

fn abi_of(kind: wasmtime::Precompiled) -> Abi {
    match kind {
        wasmtime::Precompiled::Module => Abi::Command,
        wasmtime::Precompiled::Component => Abi::Component,
    }
}

/// An open file's whole contents, from its start.
fn read_all(mut file: &std::fs::File) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.rewind()?;
    file.read_to_end(&mut bytes)?;
    file.rewind()?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{EngineSettings, compiler_config};

    /// A component artifact maps through the path of its open handle, even
    /// once the file has no name left (what a rename over it leaves).
    #[cfg(target_os = "linux")]
    #[test]
    #[allow(unsafe_code)]
    fn a_component_artifact_maps_through_its_open_handle() {
        use std::io::Write;
        use std::os::fd::AsRawFd;
        let config = compiler_config(&EngineSettings::default(), Tier::Optimized);
        let engine = wasmtime::Engine::new(&config).unwrap();
        let artifact = engine
            .precompile_component(&wat::parse_str("(component)").unwrap())
            .unwrap();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&artifact).unwrap();
        let path = format!("/proc/self/fd/{}", file.as_raw_fd());
        // SAFETY: the bytes were just serialized by this engine configuration.
        let component = unsafe { wasmtime::component::Component::deserialize_file(&engine, &path) };
        assert!(component.is_ok(), "{:#}", component.err().unwrap());
        assert_eq!(Engine::artifact_file_abi(&file), Some(Abi::Component));
        assert_eq!(Engine::artifact_abi(&artifact), Some(Abi::Component));
    }

    /// A command artifact loads from its open file, and its code size is known.
    #[test]
    fn a_command_artifact_loads_from_its_file() {
        use std::io::Write;
        let engine = Engine::new(EngineSettings::default()).unwrap();
        let bytes =
            wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "_start")))"#)
                .unwrap();
        let module = engine.load(&bytes).unwrap();
        let artifact = engine.artifact(&module).unwrap();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&artifact).unwrap();
        let loaded = engine
            .load_artifact_file(file, Abi::Command, Tier::Optimized)
            .unwrap();
        assert!(loaded.code_bytes() > 0);
        assert_eq!(loaded.abi(), Abi::Command);
        assert_eq!(Engine::artifact_abi(&artifact), Some(Abi::Command));
        assert_eq!(Engine::artifact_abi(b"\0asm\x01\0\0\0"), None);
    }
}
