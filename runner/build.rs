//! Rebuild when the embedded templates or guest SDK change (`docket new`).
fn main() {
    println!("cargo:rerun-if-changed=../templates");
    println!("cargo:rerun-if-changed=../guest-sdk");
}
