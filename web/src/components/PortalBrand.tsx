// What heads the app portal (an app-scoped token's view): the app's logo, if it has one
// (`logoUrl`, an https:// image), and its name.
import { useState } from "react";
import { useLoad } from "../hooks";
import { pathOf } from "../router";
import { useSession } from "../session-context";
import type { AppOut } from "../types";
import { Link } from "./ui";

export function PortalBrand({ app }: { app: string }) {
  const { api } = useSession();
  const info = useLoad(`portal:${app}`, () => api.get<AppOut>(`/app/${encodeURIComponent(app)}`));
  const [broken, setBroken] = useState(false);
  const a = info.data;
  return (
    <Link to={pathOf("apps", app)} className="brand portal-brand">
      {a?.logoUrl && !broken && (
        <img src={a.logoUrl} alt="" className="portal-logo" referrerPolicy="no-referrer" onError={() => setBroken(true)} />
      )}
      <span>{a?.name ?? "…"}</span>
    </Link>
  );
}
