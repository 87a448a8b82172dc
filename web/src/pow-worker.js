// The proof-of-work worker: searches its share of the nonce space and reports
// progress; the page ends it (terminate) once any worker has found a nonce.
import { powHasher, powSearch } from "./lib/pow.js";

const SLICE = 1 << 15;

self.onmessage = (event) => {
  const { challenge, difficulty, start, step } = event.data;
  const hasher = powHasher(challenge);
  let next = start;
  for (;;) {
    const r = powSearch(hasher, difficulty, next, step, SLICE);
    if (r.nonce !== null) {
      self.postMessage({ found: r.nonce, tried: r.tried });
      return;
    }
    next += step * SLICE;
    self.postMessage({ tried: r.tried });
  }
};
