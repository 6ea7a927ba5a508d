// Light and dark: the system's choice (prefers-color-scheme) unless the reader picked one,
// remembered in localStorage (not a secret).

export type Theme = "light" | "dark" | "system";
const KEY = "rustyhook.theme";

export function storedTheme(): Theme {
  const t = localStorage.getItem(KEY);
  return t === "light" || t === "dark" ? t : "system";
}

/** Applies `theme` to the document and remembers it. */
export function applyTheme(theme: Theme): void {
  if (theme === "system") {
    localStorage.removeItem(KEY);
    delete document.documentElement.dataset.theme;
  } else {
    localStorage.setItem(KEY, theme);
    document.documentElement.dataset.theme = theme;
  }
}

/** The next theme of the toggle: system → light → dark → system. */
export function nextTheme(t: Theme): Theme {
  return t === "system" ? "light" : t === "light" ? "dark" : "system";
}
