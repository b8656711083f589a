//! Deterministic ids and names: bijective hashes, so distinct inputs never collide.

pub(super) fn pooled(pool: &[&str], k: u64, separator: char) -> String {
    let n = pool.len() as u64;
    let name = pool[(k % n) as usize];
    if k < n {
        name.to_owned()
    } else {
        format!("{name}{separator}{}", k / n)
    }
}

/// A UUID-shaped string from 64 bits; distinct inputs give distinct strings.
pub(super) fn uuid(a: u64) -> String {
    let b = mix(a);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 50 & 0x3fff),
        b & 0xffff_ffff_ffff,
    )
}

/// splitmix64's finaliser: a bijection on u64, so distinct inputs stay distinct.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A hash of `x` under `seed` and `salt`, a bijection in `x`.
pub(super) fn hash(seed: u64, salt: u64, x: u64) -> u64 {
    mix(x ^ mix(seed ^ salt))
}

/// A uniform number in [0, 1) from a hash.
pub(super) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

pub(super) fn nonzero(x: u64) -> u64 {
    x.max(1)
}
