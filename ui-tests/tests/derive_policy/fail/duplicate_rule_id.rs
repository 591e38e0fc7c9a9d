use lexigram_auth::Policy;

#[derive(Policy)]
#[policy(allow(id = "owner", when = principal.subject == resource.owner))]
#[policy(deny(id = "owner", when = resource.locked))]
struct Article {
    owner: String,
    locked: bool,
}

fn main() {}
