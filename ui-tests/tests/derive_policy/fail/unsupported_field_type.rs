use std::collections::HashMap;

use lexigram_auth::Policy;

#[derive(Policy)]
struct Article {
    labels: HashMap<String, String>,
}

fn main() {}
