use lexigram_auth::Policy;

#[derive(Policy)]
#[policy(allow(when = resource.slug))]
struct Article {
    slug: String,
}

fn main() {}
