use lexigram_auth::Permission;

#[derive(Permission)]
enum Perm {
    ArticlesWrite,
    #[permission("articles.write")]
    Write,
}

fn main() {}
