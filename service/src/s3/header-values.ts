/** The two rules for anything the gateway will later send back in a response header. */

// RFC 9110 field-value characters as Node enforces them: tab, space, visible ASCII and Latin-1 obs-text.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
// RFC 9110 token: what a header name is made of.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** True when `value` can be sent as a header value; CR, LF, NUL and characters beyond Latin-1 cannot. */
export function isHeaderValue(value: string): boolean {
  return FIELD_VALUE.test(value);
}

/** True when `name` is a valid header name (an HTTP token). */
export function isHeaderName(name: string): boolean {
  return TOKEN.test(name);
}
