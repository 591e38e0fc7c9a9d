use lexigram_auth::Policy;

#[derive(Policy)]
#[policy(allow(when = resource.slug.matches("(draft")))]
#[policy(allow(id = "b", when = resource.slug.matches("(?=x)")))]
struct Article {
    slug: String,
}

fn main() {}
