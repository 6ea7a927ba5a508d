// Where the signed-in token lives: the browser session (sessionStorage), so it goes when the tab
// closes and never sits in a URL. An app-portal link carries it once in the fragment
// (`/#token=…`, never sent to a server); it is moved here and stripped from the address bar.

const KEY = "rustyhook.token";

/** What the page needs of `window` to take a token from the address bar. */
export interface AddressBar {
  location: { hash: string; pathname: string; search: string };
  history: { replaceState(data: unknown, unused: string, url?: string): void };
}

/** Moves a `#token=…` fragment into `storage` and removes it from the address bar. */
export function takeTokenFromFragment(bar: AddressBar, storage: Storage): string | null {
  const hash = bar.location.hash.replace(/^#/, "");
  if (!hash) return null;
  const token = new URLSearchParams(hash).get("token");
  if (token === null) return null;
  bar.history.replaceState(null, "", bar.location.pathname + bar.location.search);
  const trimmed = token.trim();
  if (!trimmed) return null;
  storage.setItem(KEY, trimmed);
  return trimmed;
}

/** The stored token, if signed in. */
export function storedToken(storage: Storage): string | null {
  return storage.getItem(KEY);
}

/** Keeps `token` for this browser session. */
export function keepToken(storage: Storage, token: string): void {
  storage.setItem(KEY, token.trim());
}

/** Forgets the token. */
export function forgetToken(storage: Storage): void {
  storage.removeItem(KEY);
}
