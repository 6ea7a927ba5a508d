// The signed-in session every page reads: the API client, what the token may do, sign-out.
import { createContext, useContext } from "react";
import type { Api, Me } from "./api";

export interface Session {
  api: Api;
  me: Me;
  /** Whether the token may write: read-only tokens see no write buttons. */
  writable: boolean;
  signOut(): void;
}

export const SessionContext = createContext<Session | null>(null);

/** The session; only used below the signed-in layout. */
export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside a signed-in page");
  return s;
}
