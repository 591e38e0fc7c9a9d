use lexigram_auth::Policy;

#[derive(Policy)]
union Bits {
    a: u32,
    b: f32,
}

fn main() {}
