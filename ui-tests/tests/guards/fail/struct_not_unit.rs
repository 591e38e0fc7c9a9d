use lexigram_auth::require_roles;

#[require_roles("editor")]
struct Editors<T> {
    marker: T,
}

fn main() {
    let _ = Editors { marker: () }.marker;
}
