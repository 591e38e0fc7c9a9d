use lexigram_auth::Policy;

#[derive(Policy)]
#[policy(allow(when = resource.status < "published"))]
struct Article {
    status: String,
}

fn main() {}
