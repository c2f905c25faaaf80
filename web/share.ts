// A shared link carries the cell's text and nothing else, in the URL's fragment
// (never sent to a server): `#cell=` and the UTF-8 text in base64url. The page
// puts it into the editor as text; nothing in it is ever markup or code.

const KEY = 'cell=';

export function encodeCell(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The cell text of a fragment (`#cell=…`), or null when it carries none or it does not decode. */
export function decodeCell(hash: string): string | null {
  const h = hash.replace(/^#/, '');
  if (!h.startsWith(KEY)) return null;
  try {
    const bin = atob(h.slice(KEY.length).replace(/-/g, '+').replace(/_/g, '/'));
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  } catch {
    return null;
  }
}

export const shareUrl = (text: string, base = location.href): string => `${base.split('#')[0]}#${KEY}${encodeCell(text)}`;
