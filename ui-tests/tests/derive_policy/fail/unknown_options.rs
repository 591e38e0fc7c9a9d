use lexigram_auth::Policy;

#[derive(Policy)]
#[policy(permit(when = resource.locked))]
struct Article {
    #[policy(hidden)]
    locked: bool,
}

fn main() {}
