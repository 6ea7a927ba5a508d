import { describe, expect, it } from "vitest";
import { forgetToken, keepToken, storedToken, takeTokenFromFragment, type AddressBar } from "./session";

class MemoryStorage implements Storage {
  private items = new Map<string, string>();
  get length() {
    return this.items.size;
  }
  clear() {
    this.items.clear();
  }
  getItem(k: string) {
    return this.items.get(k) ?? null;
  }
  key(i: number) {
    return [...this.items.keys()][i] ?? null;
  }
  removeItem(k: string) {
    this.items.delete(k);
  }
  setItem(k: string, v: string) {
    this.items.set(k, v);
  }
}

function bar(hash: string, pathname = "/", search = ""): AddressBar & { replaced: string[] } {
  const replaced: string[] = [];
  return {
    location: { hash, pathname, search },
    history: { replaceState: (_d, _u, url) => replaced.push(url ?? "") },
    replaced,
  };
}

describe("a token in the fragment", () => {
  it("is kept in the session and removed from the address bar", () => {
    const storage = new MemoryStorage();
    const b = bar("#token=rh_tok_abc", "/apps/x", "?q=1");
    expect(takeTokenFromFragment(b, storage)).toBe("rh_tok_abc");
    expect(storedToken(storage)).toBe("rh_tok_abc");
    expect(b.replaced).toEqual(["/apps/x?q=1"]);
  });

  it("leaves the address bar alone when the fragment holds no token", () => {
    const storage = new MemoryStorage();
    const b = bar("#section");
    expect(takeTokenFromFragment(b, storage)).toBeNull();
    expect(b.replaced).toEqual([]);
    expect(storedToken(storage)).toBeNull();
  });

  it("is stripped but not kept when empty", () => {
    const storage = new MemoryStorage();
    const b = bar("#token=");
    expect(takeTokenFromFragment(b, storage)).toBeNull();
    expect(b.replaced).toEqual(["/"]);
    expect(storedToken(storage)).toBeNull();
  });
});

describe("the stored token", () => {
  it("is trimmed when kept and gone when forgotten", () => {
    const storage = new MemoryStorage();
    keepToken(storage, "  rh_admin_x \n");
    expect(storedToken(storage)).toBe("rh_admin_x");
    forgetToken(storage);
    expect(storedToken(storage)).toBeNull();
  });
});
