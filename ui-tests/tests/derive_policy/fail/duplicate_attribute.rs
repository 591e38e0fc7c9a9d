use lexigram_auth::Policy;

#[derive(Policy)]
struct Article {
    status: String,
    #[policy(rename = "status")]
    state: String,
}

fn main() {}
