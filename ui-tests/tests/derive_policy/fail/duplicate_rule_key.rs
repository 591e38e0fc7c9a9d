use lexigram_auth::Policy;

#[derive(Policy)]
#[policy(allow(id = "a", id = "b", when = resource.locked))]
struct Article {
    locked: bool,
}

fn main() {}
