use lexigram_auth::Permission;

#[derive(Permission)]
struct ArticlesWrite;

fn main() {}
