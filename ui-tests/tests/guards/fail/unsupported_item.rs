use lexigram_auth::{require_auth, require_roles};

#[require_roles("editor")]
#[require_auth]
#[derive(Debug)]
enum Editors {
    One,
}

fn main() {
    println!("{:?}", Editors::One);
}
