use lexigram_auth::Permission;

#[derive(Permission)]
enum Perm {
    ArticlesWrite(u64),
}

fn main() {}
