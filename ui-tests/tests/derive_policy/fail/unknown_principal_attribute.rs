use lexigram_auth::Policy;

#[derive(Policy)]
#[policy(allow(action = "edit", when = principal.subjct == resource.author_id))]
struct Article {
    author_id: String,
}

fn main() {}
