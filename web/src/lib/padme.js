// PADMÉ padding lengths (docs/PROTOCOL.md §3.1; crates/wbs-protocol/src/padding.rs).
// For L ≥ 2: E = ⌊log2 L⌋, S = ⌊log2 E⌋ + 1, mask = 2^(E−S) − 1,
// padded = (L + mask) & ~mask. BigInt keeps it exact past 2^31 and 2^53.

const U64_MAX = (1n << 64n) - 1n;

/**
 * @template {number|bigint} T
 * @param {T} len
 * @returns {T}
 */
export function padme(len) {
  const L = BigInt(len);
  if (L < 0n) throw new RangeError("negative length");
  let out;
  if (L < 2n) {
    out = L;
  } else {
    const e = BigInt(L.toString(2).length - 1); // ⌊log2 L⌋
    const s = BigInt(e.toString(2).length); // ⌊log2 E⌋ + 1
    const mask = (1n << (e - s)) - 1n;
    const sum = L + mask;
    // Same saturation as the Rust code's checked_add.
    out = (sum > U64_MAX ? U64_MAX : sum) & ~mask;
  }
  return /** @type {T} */ (typeof len === "bigint" ? out : Number(out));
}
