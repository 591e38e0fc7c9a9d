use lexigram_auth::Policy;

#[derive(Policy)]
enum Article {
    Draft,
    Published,
}

fn main() {}
