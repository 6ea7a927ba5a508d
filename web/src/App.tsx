// The shell: sign-in, then the pages this token may see. An app-scoped token (the app portal)
// opens straight into its app and is offered nothing outside it.
import { useEffect, useMemo, useState } from "react";
import { Api, ApiError, canWrite, type Me } from "./api";
import { PortalBrand } from "./components/PortalBrand";
import { Link } from "./components/ui";
import { AlertsPage } from "./pages/AlertsPage";
import { AppPage } from "./pages/AppPage";
import { AppsPage } from "./pages/AppsPage";
import { DeadLettersPage } from "./pages/DeadLettersPage";
import { EndpointPage } from "./pages/EndpointPage";
import { EventTypesPage } from "./pages/EventTypesPage";
import { HandlerPage } from "./pages/HandlerPage";
import { HandlersPage } from "./pages/HandlersPage";
import { MessagePage } from "./pages/MessagePage";
import { MessagesPage } from "./pages/MessagesPage";
import { SignIn } from "./pages/SignIn";
import { LivePage } from "./ops/LivePage";
import { OverviewPage } from "./ops/OverviewPage";
import { SourcesPage } from "./ops/SourcesPage";
import { match, navigate, pathOf, useLocation } from "./router";
import { forgetToken, keepToken, storedToken, takeTokenFromFragment } from "./session";
import { SessionContext, type Session } from "./session-context";
import { applyTheme, nextTheme, storedTheme } from "./theme";

type SignedIn = { token: string; me: Me };

export function App() {
  const [initial] = useState(() => takeTokenFromFragment(window, sessionStorage) ?? storedToken(sessionStorage));
  const [pending, setPending] = useState<string | null>(initial);
  const [signedIn, setSignedIn] = useState<SignedIn | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!pending) return;
    let live = true;
    new Api(pending, () => {})
      .get<Me>("/auth/me")
      .then((me) => {
        if (!live) return;
        keepToken(sessionStorage, pending);
        setSignedIn({ token: pending, me });
        setError(null);
      })
      .catch((e: unknown) => {
        if (!live) return;
        forgetToken(sessionStorage);
        setError(
          e instanceof ApiError && e.status === 401
            ? "This token is not valid (unknown, revoked or expired)."
            : `Could not sign in: ${e instanceof Error ? e.message : String(e)}`,
        );
      })
      .finally(() => live && setPending(null));
    return () => {
      live = false;
    };
  }, [pending]);

  const session = useMemo<Session | null>(() => {
    if (!signedIn) return null;
    const signOut = () => {
      forgetToken(sessionStorage);
      setSignedIn(null);
    };
    return {
      api: new Api(signedIn.token, () => {
        signOut();
        setError("The session ended: the token is no longer valid.");
      }),
      me: signedIn.me,
      writable: canWrite(signedIn.me),
      signOut,
    };
  }, [signedIn]);

  if (pending) return <p className="muted centered">Signing in…</p>;
  if (!session) return <SignIn error={error} onToken={setPending} />;
  return (
    <SessionContext.Provider value={session}>
      <Shell session={session} />
    </SessionContext.Provider>
  );
}

function Shell({ session }: { session: Session }) {
  const { path } = useLocation();
  const [theme, setTheme] = useState(storedTheme);
  const scoped = session.me.role === "app" ? session.me.appId : null;
  const home = scoped ? pathOf("apps", scoped) : "/overview";
  const page = route(path, scoped);
  useEffect(() => {
    if (page === null) navigate(home);
  }, [page, home]);
  const toggle = () => {
    const t = nextTheme(theme);
    applyTheme(t);
    setTheme(t);
  };
  const links: [string, string][] = scoped
    ? [
        [home, "Endpoints"],
        [`/messages?app=${encodeURIComponent(scoped)}`, "Messages"],
        ["/event-types", "Event types"],
      ]
    : [
        ["/overview", "Overview"],
        ["/apps", "Apps"],
        ["/messages", "Messages"],
        ["/live", "Live"],
        ["/dead-letters", "Dead letters"],
        ["/event-types", "Event types"],
        ["/handlers", "Handlers"],
        ["/sources", "Sources"],
        ["/alerts", "Alerts"],
      ];
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        {scoped ? (
          <PortalBrand app={scoped} />
        ) : (
          <Link to={home} className="brand">
            rustyhook
          </Link>
        )}
        <nav aria-label="main">
          {links.map(([to, label]) => (
            <Link key={to} to={to} className={path.startsWith(to.split("?")[0] ?? to) ? "active" : ""}>
              {label}
            </Link>
          ))}
        </nav>
        <div className="who">
          <span className="badge role" title={session.me.name ?? undefined}>
            {session.me.role}
            {session.me.readOnly ? " (read-only)" : ""}
          </span>
          <button type="button" onClick={toggle} aria-label={`theme: ${theme}`} title="Light, dark or the system's">
            Theme: {theme}
          </button>
          <button type="button" onClick={session.signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </div>
  );
}

/** The page for `path`, or null when this token may not see it (then it goes home). */
function route(path: string, scoped: string | null) {
  let p: Record<string, string> | null;
  const own = (app: string | undefined) => !scoped || app === scoped;
  if (path === "/") return null;
  if ((p = match("/apps/:app/endpoints/new", path)) && own(p.app)) return <EndpointPage app={p.app!} endpoint={null} />;
  if ((p = match("/apps/:app/endpoints/:ep", path)) && own(p.app)) return <EndpointPage app={p.app!} endpoint={p.ep!} />;
  if ((p = match("/apps/:app/messages/:msg", path)) && own(p.app)) return <MessagePage app={p.app!} msg={p.msg!} />;
  if ((p = match("/apps/:app", path)) && own(p.app)) return <AppPage app={p.app!} />;
  if (match("/messages", path)) return <MessagesPage />;
  if (match("/event-types", path)) return <EventTypesPage />;
  if (scoped) return null;
  if (match("/overview", path)) return <OverviewPage />;
  if (match("/live", path)) return <LivePage />;
  if (match("/sources", path)) return <SourcesPage />;
  if (match("/apps", path)) return <AppsPage />;
  if (match("/handlers", path)) return <HandlersPage />;
  if (match("/dead-letters", path)) return <DeadLettersPage />;
  if ((p = match("/handlers/:id", path))) return <HandlerPage id={p.id!} />;
  if (match("/alerts", path)) return <AlertsPage />;
  return <NotFound />;
}

function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        No page here. <Link to="/apps">Go to apps</Link>.
      </p>
    </section>
  );
}
