// The dashboard's build. Its output, web/dist, is committed and embedded in the binary, so the
// build must be reproducible byte for byte: hashed names come from content only, no source maps
// (they would carry absolute paths), no inline scripts (the server's CSP refuses them).
import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: {
    // `npm run dev` talks to a rustyhook on its default address.
    proxy: { "/api": "http://127.0.0.1:8071" },
  },
  test: {
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
  },
});
