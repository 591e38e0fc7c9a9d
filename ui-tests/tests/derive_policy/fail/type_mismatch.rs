use lexigram_auth::Policy;

#[derive(Policy)]
#[policy(deny(when = resource.word_count == "many"))]
#[policy(allow(when = resource.locked == resource.title))]
struct Article {
    word_count: u32,
    locked: bool,
    title: String,
}

fn main() {}
