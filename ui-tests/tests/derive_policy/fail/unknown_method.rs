use lexigram_auth::Policy;

#[derive(Policy)]
#[policy(allow(when = resource.slug.ends_with("x")))]
struct Article {
    slug: String,
}

fn main() {}
