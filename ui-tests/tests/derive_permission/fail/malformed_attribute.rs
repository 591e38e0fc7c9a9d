use lexigram_auth::Permission;

#[derive(Permission)]
enum Perm {
    #[permission = "articles.write"]
    Write,
}

fn main() {}
