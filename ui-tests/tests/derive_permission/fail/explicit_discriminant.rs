use lexigram_auth::Permission;

#[derive(Permission)]
enum Perm {
    ArticlesRead,
    ArticlesWrite = 5,
}

fn main() {}
