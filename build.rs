// Re-embed migrations and static assets when they change; cargo would not
// notice a new migration folder otherwise.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=static");
    println!("cargo:rerun-if-changed=templates");
}
