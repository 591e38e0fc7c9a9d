use lexigram_auth::Policy;

#[derive(Policy)]
#[policy(allow(action = "edit", when = principal.subject == resource.auther_id))]
struct Article {
    author_id: String,
}

fn main() {}
