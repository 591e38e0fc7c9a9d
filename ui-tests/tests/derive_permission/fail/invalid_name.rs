use lexigram_auth::Permission;

#[derive(Permission)]
enum Perm {
    #[permission("Articles.Write")]
    Write,
    ArticlesRead,
    #[permission("articles.*")]
    Everything,
}

fn main() {}
