/** A UTF-16 surrogate that is not half of a pair (in a `u` regex, pairs are one code point). */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Whether `text` is well-formed Unicode (String.prototype.isWellFormed, ES2024): no lone UTF-16
 * surrogate. Redis and MongoDB keep strings as UTF-8, where a lone surrogate has no form and
 * becomes U+FFFD, so two texts differing only there would be one. Shared by the event-store and
 * read-store rules.
 */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/** The part of a refusal saying why an ill-formed text is refused. */
export const NOT_WELL_FORMED =
  'must be well-formed Unicode (a lone UTF-16 surrogate has no UTF-8 form)';
