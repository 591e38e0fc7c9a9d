use lexigram_auth::Policy;

#[derive(Policy)]
struct Article<T> {
    owner: String,
    extra: T,
}

fn main() {}
